/* Model files: bit-identical round trips (residual blocks, user layers,
 * metadata, compression), every byte flipped, every truncation, hand-made bad
 * files, version-1 golden file, atomic replacement, a save killed midway. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "test_support.h"

static char path[256], other[256];

static int setup(void **state) {
  (void)state;
  const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
  snprintf(path, sizeof path, "%s/dcnn-model-%d.dcnn", tmp, (int)getpid());
  snprintf(other, sizeof other, "%s/dcnn-model-%d-b.dcnn", tmp, (int)getpid());
  return 0;
}

static int teardown(void **state) {
  (void)state;
  remove(path);
  remove(other);
  return 0;
}

static dcnn_model *small_model(void) {
  dcnn_shape in = dcnn_shape_make(3, 1, 8, 8, 0);
  dcnn_model *m = NULL;
  assert_ok(dcnn_model_create(NULL, &in, &m));
  dcnn_layer *l = NULL;
  assert_ok(dcnn_conv2d_create(4, 3, 1, DCNN_PADDING_SAME, 1, &l));
  assert_ok(dcnn_model_add(m, l));
  assert_ok(dcnn_batchnorm_relu_create(0.9f, 1e-3f, &l));
  assert_ok(dcnn_model_add(m, l));
  assert_ok(dcnn_maxpool2d_create(2, 2, DCNN_PADDING_VALID, &l));
  assert_ok(dcnn_model_add(m, l));
  assert_ok(dcnn_dropout_create(0.3f, &l));
  assert_ok(dcnn_model_add(m, l));
  assert_ok(dcnn_flatten_create(&l));
  assert_ok(dcnn_model_add(m, l));
  assert_ok(dcnn_dense_create(3, 1, &l));
  assert_ok(dcnn_model_add(m, l));
  assert_ok(dcnn_softmax_create(&l));
  assert_ok(dcnn_model_add(m, l));
  assert_ok(dcnn_model_init(m, 5));
  return m;
}

/* Trains a few steps so that weights and batch-norm statistics are not the initial ones. */
static void train_a_little(dcnn_model *m, int32_t channels, int32_t side) {
  dcnn_optimizer *adam = NULL;
  assert_ok(dcnn_optimizer_create_adam(NULL, 1e-2f, 0.9f, 0.999f, 1e-7f, 0.0f, &adam));
  dcnn_shape s = dcnn_shape_make(4, 8, channels, side, side);
  dcnn_tensor *x = NULL;
  assert_ok(dcnn_tensor_create(NULL, &s, &x));
  assert_ok(dcnn_tensor_fill_random(x, DCNN_DIST_UNIFORM, 0.0f, 1.0f, 3, 0));
  const int32_t labels[8] = {0, 1, 2, 0, 1, 2, 0, 1};
  for (int i = 0; i < 3; ++i) assert_ok(dcnn_model_train_step(m, adam, x, labels, NULL, NULL));
  dcnn_tensor_destroy(x);
  dcnn_optimizer_destroy(adam);
}

static float *predictions(dcnn_model *m, int32_t channels, int32_t side, int32_t classes) {
  dcnn_shape s = dcnn_shape_make(4, 16, channels, side, side), ys = dcnn_shape_make(2, 16, classes, 0, 0);
  dcnn_tensor *x = NULL, *y = NULL;
  assert_ok(dcnn_tensor_create(NULL, &s, &x));
  assert_ok(dcnn_tensor_create(NULL, &ys, &y));
  assert_ok(dcnn_tensor_fill_random(x, DCNN_DIST_UNIFORM, 0.0f, 1.0f, 9, 0));
  assert_ok(dcnn_model_predict(m, x, y));
  float *copy = malloc((size_t)(16 * classes) * sizeof(float));
  memcpy(copy, dcnn_tensor_data(y), (size_t)(16 * classes) * sizeof(float));
  dcnn_tensor_destroy(x);
  dcnn_tensor_destroy(y);
  return copy;
}

static void round_trip_is_bit_identical(void **state) {
  (void)state;
  for (int which = 0; which < 2; ++which) {
    dcnn_model *m = NULL;
    const int32_t channels = 1, side = which ? 28 : 8, classes = which ? 10 : 3;
    if (which) assert_ok(dcnn_zoo_paper_cnn(NULL, 1, 28, 28, 10, 2, &m));
    else m = small_model();
    train_a_little(m, channels, side);
    assert_ok(dcnn_model_save(m, path));
    dcnn_model *loaded = NULL;
    assert_ok(dcnn_model_load(NULL, path, &loaded));
    assert_int_equal(dcnn_model_layer_count(loaded), dcnn_model_layer_count(m));
    assert_int_equal(dcnn_model_param_count(loaded, DCNN_PARAM_TRAINABLE | DCNN_PARAM_BUFFER),
                     dcnn_model_param_count(m, DCNN_PARAM_TRAINABLE | DCNN_PARAM_BUFFER));
    float *a = predictions(m, channels, side, classes), *b = predictions(loaded, channels, side, classes);
    assert_memory_equal(a, b, (size_t)(16 * classes) * sizeof(float));
    char *s1 = NULL, *s2 = NULL;
    assert_ok(dcnn_model_summary(m, &s1));
    assert_ok(dcnn_model_summary(loaded, &s2));
    assert_string_equal(s1, s2);
    dcnn_free(s1);
    dcnn_free(s2);
    free(a);
    free(b);
    dcnn_model_destroy(loaded);
    dcnn_model_destroy(m);
  }
}

static unsigned char *read_all(const char *p, long *size) {
  FILE *f = fopen(p, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  *size = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *data = malloc((size_t)*size);
  assert_int_equal(fread(data, 1, (size_t)*size, f), (size_t)*size);
  fclose(f);
  return data;
}

static void write_all(const char *p, const unsigned char *data, long size) {
  FILE *f = fopen(p, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, (size_t)size, f), (size_t)size);
  fclose(f);
}

static void every_flipped_byte_and_truncation_is_refused(void **state) {
  (void)state;
  dcnn_model *m = small_model();
  assert_ok(dcnn_model_save(m, path));
  dcnn_model_destroy(m);
  long size = 0;
  unsigned char *good = read_all(path, &size);
  unsigned char *bad = malloc((size_t)size);
  for (long i = 0; i < size; ++i) {
    memcpy(bad, good, (size_t)size);
    bad[i] ^= 0x5A;
    write_all(other, bad, size);
    dcnn_model *loaded = (dcnn_model *)bad;
    dcnn_status status = dcnn_model_load(NULL, other, &loaded);
    if (status == DCNN_OK) fail_msg("flipping byte %ld of %ld was not detected", i, size);
    assert_null(loaded);
  }
  for (long n = 0; n < size; ++n) {
    write_all(other, good, n);
    dcnn_model *loaded = NULL;
    assert_true(dcnn_model_load(NULL, other, &loaded) != DCNN_OK);
    assert_null(loaded);
  }
  print_message("%ld single-byte corruptions and %ld truncations of a %ld-byte model file: all refused\n", size, size,
                size);
  free(good);
  free(bad);
}

/* A well-formed version-2 file with the given architecture text, no
 * metadata and no parameters. */
static void write_crafted(const char *p, uint32_t version, const char *arch) {
  unsigned char buf[2048];
  size_t n = 0, len = strlen(arch);
  memcpy(buf, "DCNNMODL", 8);
  n = 8;
#define U32(v) do { uint32_t v_ = (v); for (int k = 0; k < 4; ++k) buf[n++] = (unsigned char)(v_ >> (8 * k)); } while (0)
  U32(version);
  U32(2);
  U32(0x48435241u); /* ARCH, stored */
  U32(0);
  U32((uint32_t)crc32(0L, (const Bytef *)arch, (uInt)len));
  U32(0);
  U32((uint32_t)len);
  U32(0);
  U32((uint32_t)len);
  U32(0);
  memcpy(buf + n, arch, len);
  n += len;
  const unsigned char zero[4] = {0, 0, 0, 0};
  U32(0x4D524150u); /* PARM: 0 tensors */
  U32(0);
  U32((uint32_t)crc32(0L, zero, 4));
  U32(0);
  U32(4);
  U32(0);
  U32(4);
  U32(0);
  U32(0);
#undef U32
  write_all(p, buf, (long)n);
}

static void crafted_files_get_clear_errors(void **state) {
  (void)state;
  dcnn_model *m = NULL;
  write_crafted(other, 2, "input 1 4\nlayer relu\n");
  assert_ok(dcnn_model_load(NULL, other, &m)); /* a valid minimal file */
  dcnn_model_destroy(m);
  write_crafted(other, 3, "input 1 4\nlayer relu\n");
  assert_status(dcnn_model_load(NULL, other, &m), DCNN_ERR_UNSUPPORTED);
  assert_error_mentions("format version 3 is newer");
  write_crafted(other, 2, "input 1 4\nlayer wavelet k=3\n");
  assert_status(dcnn_model_load(NULL, other, &m), DCNN_ERR_NOT_FOUND);
  assert_error_mentions("unknown layer type 'wavelet' (known: conv2d");
  write_crafted(other, 2, "input 3 1 8 8\nlayer conv2d filters=4 kernel=3 stride=1 padding=diagonal bias=0\n");
  assert_status(dcnn_model_load(NULL, other, &m), DCNN_ERR_BAD_FORMAT);
  assert_error_mentions("architecture line 2");
  write_crafted(other, 2, "input 3 1 8 8\nlayer dense units=4 bias=1\n");
  assert_status(dcnn_model_load(NULL, other, &m), DCNN_ERR_BAD_FORMAT);
  assert_error_mentions("flatten");
  write_crafted(other, 2, "input 1 4\nlayer dense units=99999999 bias=1\n");
  assert_status(dcnn_model_load(NULL, other, &m), DCNN_ERR_BAD_FORMAT);
  /* Within every per-layer limit but 17 GB of weights: refused before allocating them. */
  write_crafted(other, 2, "input 3 3 256 256\nlayer flatten\nlayer dense units=65536 bias=1\n");
  assert_status(dcnn_model_load(NULL, other, &m), DCNN_ERR_BAD_FORMAT);
  assert_error_mentions("needs more parameters than the 4-byte parameter section holds");
  write_crafted(other, 2, "input 1 4\nlayer dense units=3 bias=1\n"); /* needs 2 tensors, the file has 0 */
  assert_status(dcnn_model_load(NULL, other, &m), DCNN_ERR_BAD_FORMAT);
  assert_error_mentions("0 parameter tensors, the architecture has 2");
  write_crafted(other, 2, "input 9 4\nlayer relu\n");
  assert_status(dcnn_model_load(NULL, other, &m), DCNN_ERR_BAD_FORMAT);
  write_crafted(other, 2, "");
  assert_status(dcnn_model_load(NULL, other, &m), DCNN_ERR_BAD_FORMAT);
  /* Residual records: sub-layer counts that run past the end, and nesting without end. */
  write_crafted(other, 2, "input 1 4\nlayer residual relu=1 body=2 shortcut=0\n  layer relu\n");
  assert_status(dcnn_model_load(NULL, other, &m), DCNN_ERR_BAD_FORMAT);
  assert_error_mentions("ends inside a residual block");
  char deep[1024] = "input 1 4\n";
  for (int i = 0; i < 20; ++i) strcat(deep, "layer residual relu=0 body=1 shortcut=0\n");
  strcat(deep, "layer relu\n");
  write_crafted(other, 2, deep);
  assert_status(dcnn_model_load(NULL, other, &m), DCNN_ERR_BAD_FORMAT);
  assert_error_mentions("nested too deeply");
  write_crafted(other, 2, "input 1 4\nlayer residual relu=1 body=1 shortcut=1\n  layer relu\n  layer flatten\n");
  assert_ok(dcnn_model_load(NULL, other, &m));
  dcnn_model_destroy(m);
  assert_status(dcnn_model_load(NULL, "/nonexistent/model.dcnn", &m), DCNN_ERR_IO);
  write_all(other, (const unsigned char *)"not a model at all", 18);
  assert_status(dcnn_model_load(NULL, other, &m), DCNN_ERR_BAD_FORMAT);
  assert_error_mentions("wrong magic");
  assert_null(m);
}

/* ---- a user-defined layer: y = a * x with one learnable scalar ---- */

typedef struct scalar_scale {
  float initial;
  dcnn_tensor *a, *grad;
} scalar_scale;

static dcnn_status scalar_build(void *self, dcnn_context *ctx, const dcnn_shape *in, dcnn_shape *out) {
  scalar_scale *l = self;
  dcnn_shape s = dcnn_shape_make(1, 1, 0, 0, 0);
  dcnn_status status = dcnn_tensor_create(ctx, &s, &l->a);
  if (status == DCNN_OK) status = dcnn_tensor_create(ctx, &s, &l->grad);
  if (status == DCNN_OK) dcnn_tensor_data(l->a)[0] = l->initial;
  *out = *in;
  return status;
}

static dcnn_status scalar_forward(void *self, dcnn_exec *exec, const dcnn_tensor *x, dcnn_tensor *y) {
  (void)exec;
  scalar_scale *l = self;
  const float a = dcnn_tensor_data(l->a)[0];
  for (int64_t i = 0; i < dcnn_tensor_count(x); ++i) dcnn_tensor_data(y)[i] = a * dcnn_tensor_data_const(x)[i];
  return DCNN_OK;
}

static int32_t scalar_param_count(const void *self) {
  (void)self;
  return 1;
}

static dcnn_status scalar_param(void *self, int32_t index, dcnn_param *out) {
  (void)index;
  scalar_scale *l = self;
  *out = (dcnn_param){"a", l->a, l->grad, DCNN_PARAM_TRAINABLE};
  return DCNN_OK;
}

static dcnn_status scalar_describe(const void *self, char *buf, int32_t size) {
  snprintf(buf, (size_t)size, "initial=%.9g", (double)((const scalar_scale *)self)->initial);
  return DCNN_OK;
}

static void scalar_destroy(void *self) {
  scalar_scale *l = self;
  dcnn_tensor_destroy(l->a);
  dcnn_tensor_destroy(l->grad);
  free(l);
}

static const dcnn_layer_vtable scalar_vtable = {
    .abi_version = DCNN_LAYER_ABI_VERSION, .type_name = "test.scalar_scale", .build = scalar_build,
    .forward = scalar_forward, .param_count = scalar_param_count, .param = scalar_param,
    .describe = scalar_describe, .destroy = scalar_destroy};

static dcnn_status scalar_create(float initial, dcnn_layer **out) {
  scalar_scale *l = calloc(1, sizeof *l);
  if (!l) return DCNN_ERR_OUT_OF_MEMORY;
  l->initial = initial;
  return dcnn_layer_create(&scalar_vtable, l, out);
}

static int factory_calls;

static dcnn_status scalar_factory(const char *config, void *user, dcnn_layer **out) {
  (void)user;
  factory_calls++;
  float initial = 0;
  dcnn_status status = dcnn_config_float(config, "initial", &initial);
  return status == DCNN_OK ? scalar_create(initial, out) : status;
}

static void user_layers_load_once_registered(void **state) {
  (void)state;
  dcnn_model *m = small_model();
  dcnn_layer *l = NULL;
  assert_ok(scalar_create(0.75f, &l));
  assert_ok(dcnn_model_add(m, l));
  dcnn_tensor_data(((scalar_scale *)dcnn_layer_self(l))->a)[0] = 1.5f; /* trained value, not the initial one */
  assert_ok(dcnn_model_save(m, path));
  dcnn_model *loaded = NULL;
  assert_status(dcnn_model_load(NULL, path, &loaded), DCNN_ERR_NOT_FOUND);
  assert_error_mentions("unknown layer type 'test.scalar_scale'");
  assert_error_mentions("dcnn_layer_register");
  assert_status(dcnn_layer_register("conv2d", scalar_factory, NULL), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_layer_register("bad name", scalar_factory, NULL), DCNN_ERR_INVALID_ARGUMENT);
  assert_ok(dcnn_layer_register("test.scalar_scale", scalar_factory, NULL));
  assert_status(dcnn_layer_register("test.scalar_scale", scalar_factory, NULL), DCNN_ERR_INVALID_ARGUMENT);
  factory_calls = 0;
  assert_ok(dcnn_model_load(NULL, path, &loaded));
  assert_int_equal(factory_calls, 1);
  float *a = predictions(m, 1, 8, 3), *b = predictions(loaded, 1, 8, 3);
  assert_memory_equal(a, b, 16 * 3 * sizeof(float));
  dcnn_layer *last = dcnn_model_layer(loaded, dcnn_model_layer_count(loaded) - 1);
  assert_string_equal(dcnn_layer_type(last), "test.scalar_scale");
  assert_true(dcnn_tensor_data(((scalar_scale *)dcnn_layer_self(last))->a)[0] == 1.5f);
  dcnn_model_destroy(loaded);
  /* Bad configurations are the factory's to report, through the library's helpers. */
  assert_status(dcnn_layer_from_config("test.scalar_scale", "initial=abc", &l), DCNN_ERR_BAD_FORMAT);
  assert_error_mentions("test.scalar_scale: 'initial=abc' is not a finite number");
  assert_null(l);
  assert_ok(dcnn_layer_unregister("test.scalar_scale"));
  assert_status(dcnn_layer_unregister("test.scalar_scale"), DCNN_ERR_NOT_FOUND);
  assert_status(dcnn_model_load(NULL, path, &loaded), DCNN_ERR_NOT_FOUND);
  free(a);
  free(b);
  dcnn_model_destroy(m);
}

/* A model with residual blocks, one nested in another, identity and projection shortcuts. */
static dcnn_model *residual_model(void) {
  dcnn_shape in = dcnn_shape_make(3, 2, 8, 8, 0);
  dcnn_model *m = NULL;
  assert_ok(dcnn_model_create(NULL, &in, &m));
  dcnn_layer *body[3], *shortcut[2], *inner_body[2], *l = NULL;
  assert_ok(dcnn_conv2d_create(2, 3, 1, DCNN_PADDING_SAME, 0, &inner_body[0]));
  assert_ok(dcnn_batchnorm_create(0.9f, 1e-3f, &inner_body[1]));
  assert_ok(dcnn_residual_create(inner_body, 2, NULL, 0, 0, &body[0])); /* nested, identity shortcut */
  assert_ok(dcnn_conv2d_create(4, 3, 2, DCNN_PADDING_SAME, 0, &body[1]));
  assert_ok(dcnn_batchnorm_relu_create(0.9f, 1e-3f, &body[2]));
  assert_ok(dcnn_conv2d_create(4, 1, 2, DCNN_PADDING_SAME, 0, &shortcut[0]));
  assert_ok(dcnn_batchnorm_create(0.9f, 1e-3f, &shortcut[1]));
  assert_ok(dcnn_residual_create(body, 3, shortcut, 2, 1, &l));
  assert_ok(dcnn_model_add(m, l));
  assert_ok(dcnn_global_avgpool_create(&l));
  assert_ok(dcnn_model_add(m, l));
  assert_ok(dcnn_dense_create(3, 1, &l));
  assert_ok(dcnn_model_add(m, l));
  assert_ok(dcnn_softmax_create(&l));
  assert_ok(dcnn_model_add(m, l));
  assert_ok(dcnn_model_init(m, 11));
  return m;
}

static void residual_blocks_and_compression_round_trip(void **state) {
  (void)state;
  for (int level = 0; level <= 9; level += 9) {
    dcnn_model *m = residual_model();
    train_a_little(m, 2, 8);
    assert_ok(dcnn_model_save_compressed(m, path, level));
    dcnn_model *loaded = NULL;
    assert_ok(dcnn_model_load(NULL, path, &loaded));
    float *a = predictions(m, 2, 8, 3), *b = predictions(loaded, 2, 8, 3);
    assert_memory_equal(a, b, 16 * 3 * sizeof(float));
    assert_int_equal(dcnn_model_param_tensor_count(loaded), dcnn_model_param_tensor_count(m));
    free(a);
    free(b);
    dcnn_model_destroy(loaded);
    dcnn_model_destroy(m);
  }
  /* The paper CNN compressed: smaller, still identical (zlib finds little in trained floats, more in zeros). */
  dcnn_model *m = NULL;
  assert_ok(dcnn_zoo_paper_cnn(NULL, 1, 28, 28, 10, 2, &m));
  assert_ok(dcnn_model_save(m, path));
  assert_ok(dcnn_model_save_compressed(m, other, 9));
  long plain = 0, packed = 0;
  free(read_all(path, &plain));
  free(read_all(other, &packed));
  print_message("paper CNN: %ld bytes stored, %ld bytes with zlib level 9\n", plain, packed);
  assert_true(packed < plain);
  dcnn_model *loaded = NULL;
  assert_ok(dcnn_model_load(NULL, other, &loaded));
  float *a = predictions(m, 1, 28, 10), *b = predictions(loaded, 1, 28, 10);
  assert_memory_equal(a, b, 16 * 10 * sizeof(float));
  free(a);
  free(b);
  assert_status(dcnn_model_save_compressed(m, path, 10), DCNN_ERR_INVALID_ARGUMENT);
  dcnn_model_destroy(loaded);
  dcnn_model_destroy(m);
}

static void metadata_round_trips(void **state) {
  (void)state;
  dcnn_model *m = small_model();
  assert_ok(dcnn_model_set_metadata(m, "classes", "zero,one,two"));
  assert_ok(dcnn_model_set_metadata(m, "note", "line one\nline two \\ backslash = equals"));
  assert_ok(dcnn_model_set_metadata(m, "empty", ""));
  assert_ok(dcnn_model_set_metadata(m, "gone", "x"));
  assert_ok(dcnn_model_set_metadata(m, "gone", NULL));
  assert_status(dcnn_model_set_metadata(m, "no spaces", "x"), DCNN_ERR_INVALID_ARGUMENT);
  assert_int_equal(dcnn_model_metadata_count(m), 3);
  assert_ok(dcnn_model_save_compressed(m, path, 6));
  dcnn_model *loaded = NULL;
  assert_ok(dcnn_model_load(NULL, path, &loaded));
  assert_string_equal(dcnn_model_metadata(loaded, "classes"), "zero,one,two");
  assert_string_equal(dcnn_model_metadata(loaded, "note"), "line one\nline two \\ backslash = equals");
  assert_string_equal(dcnn_model_metadata(loaded, "empty"), "");
  assert_null(dcnn_model_metadata(loaded, "gone"));
  assert_string_equal(dcnn_model_metadata(loaded, "library_version"), dcnn_version_string());
  const char *key = NULL, *value = NULL;
  assert_ok(dcnn_model_metadata_entry(loaded, 0, &key, &value));
  assert_string_equal(key, "classes"); /* sorted by key */
  assert_status(dcnn_model_metadata_entry(loaded, 4, &key, &value), DCNN_ERR_INVALID_ARGUMENT);
  dcnn_model_destroy(loaded);
  dcnn_model_destroy(m);
}

/* Every byte flipped and every truncation, in files that use all of the format:
 * residual records, metadata, compression. */
static void rich_files_refuse_every_corruption(void **state) {
  (void)state;
  for (int level = 0; level <= 1; ++level) {
    dcnn_model *m = residual_model();
    assert_ok(dcnn_model_set_metadata(m, "classes", "a,b,c"));
    assert_ok(dcnn_model_save_compressed(m, path, level));
    dcnn_model_destroy(m);
    long size = 0;
    unsigned char *good = read_all(path, &size), *bad = malloc((size_t)size);
    long refused = 0;
    for (long i = 0; i < size; ++i) {
      memcpy(bad, good, (size_t)size);
      bad[i] ^= 0xA5;
      dcnn_model *loaded = NULL;
      if (dcnn_model_load_memory(NULL, bad, (size_t)size, &loaded) == DCNN_OK)
        fail_msg("flipping byte %ld of %ld (level %d) was not detected", i, size, level);
      assert_null(loaded);
      refused++;
    }
    for (long n = 0; n < size; ++n) {
      dcnn_model *loaded = NULL;
      assert_true(dcnn_model_load_memory(NULL, good, (size_t)n, &loaded) != DCNN_OK);
      assert_null(loaded);
    }
    dcnn_model *loaded = NULL;
    assert_ok(dcnn_model_load_memory(NULL, good, (size_t)size, &loaded));
    dcnn_model_destroy(loaded);
    print_message("residual model, zlib level %d: %ld corruptions and %ld truncations of %ld bytes refused\n", level,
                  refused, size, size);
    free(good);
    free(bad);
  }
}

/* Format version 1 files (written by libdigitcnn 0.1.0, kept in tests/golden) still load and predict the same. */
static void version_1_golden_file_loads(void **state) {
  (void)state;
  char file[1024], expected[1024];
  const char *root = getenv("DCNN_SOURCE_DIR") ? getenv("DCNN_SOURCE_DIR") : ".";
  snprintf(file, sizeof file, "%s/tests/golden/model-v1.dcnn", root);
  snprintf(expected, sizeof expected, "%s/tests/golden/model-v1.expected", root);
  dcnn_model *m = NULL;
  assert_ok(dcnn_model_load(NULL, file, &m));
  dcnn_shape s = dcnn_shape_make(4, 4, 1, 8, 8), ys = dcnn_shape_make(2, 4, 3, 0, 0);
  dcnn_tensor *x = NULL, *y = NULL;
  assert_ok(dcnn_tensor_create(NULL, &s, &x));
  assert_ok(dcnn_tensor_create(NULL, &ys, &y));
  assert_ok(dcnn_tensor_fill_random(x, DCNN_DIST_UNIFORM, 0.0f, 1.0f, 9, 0));
  assert_ok(dcnn_model_predict(m, x, y));
  FILE *f = fopen(expected, "r");
  assert_non_null(f);
  char line[256];
  int k = 0;
  while (fgets(line, sizeof line, f)) {
    if (line[0] == '#') continue;
    assert_true(k < 12);
    const double want = strtod(line, NULL), got = dcnn_tensor_data(y)[k++];
    if (!(got > want - 1e-6 && got < want + 1e-6)) fail_msg("prediction %d: %.9g, the golden file says %.9g", k - 1, got, want);
  }
  fclose(f);
  assert_int_equal(k, 12);
  /* Saving it again writes the current version, which loads to the same predictions. */
  assert_ok(dcnn_model_save(m, path));
  dcnn_model *again = NULL;
  assert_ok(dcnn_model_load(NULL, path, &again));
  float *a = predictions(m, 1, 8, 3), *b = predictions(again, 1, 8, 3);
  assert_memory_equal(a, b, 16 * 3 * sizeof(float));
  free(a);
  free(b);
  dcnn_model_destroy(again);
  dcnn_tensor_destroy(x);
  dcnn_tensor_destroy(y);
  dcnn_model_destroy(m);
}

static void failed_saves_keep_the_previous_file(void **state) {
  (void)state;
  dcnn_model *m = small_model();
  assert_ok(dcnn_model_save(m, path));
  /* A layer type whose name cannot be written: the save fails and the old file stays valid. */
  static const dcnn_layer_vtable spaced = {.abi_version = DCNN_LAYER_ABI_VERSION, .type_name = "my layer",
                                           .build = scalar_build, .forward = scalar_forward,
                                           .destroy = scalar_destroy};
  dcnn_shape in = dcnn_shape_make(1, 4, 0, 0, 0);
  dcnn_model *r = NULL;
  assert_ok(dcnn_model_create(NULL, &in, &r));
  dcnn_layer *l = NULL;
  assert_ok(dcnn_layer_create(&spaced, calloc(1, sizeof(scalar_scale)), &l));
  assert_ok(dcnn_model_add(r, l));
  assert_status(dcnn_model_save(r, path), DCNN_ERR_UNSUPPORTED);
  assert_error_mentions("my layer");
  dcnn_model *loaded = NULL;
  assert_ok(dcnn_model_load(NULL, path, &loaded));
  dcnn_model_destroy(loaded);
  assert_status(dcnn_model_save(m, "/nonexistent-dir/m.dcnn"), DCNN_ERR_IO);
  dcnn_model_destroy(r);
  dcnn_model_destroy(m);
}

/* ---- killed in the middle of a save ---- */

#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>

#include "io/atomic_file.h"

static void kill_self_after_first_chunk(const char *temp, size_t written, size_t total) {
  (void)temp;
  if (written < total) raise(SIGKILL);
}

/* Removes the temporary files a killed save leaves beside `p` ("<p>.XXXXXX"). */
static int remove_leftovers(const char *p) {
  char dir[256], base[256];
  snprintf(dir, sizeof dir, "%s", p);
  char *slash = strrchr(dir, '/');
  snprintf(base, sizeof base, "%s.partial-", slash + 1); /* dcnn__atomic_open's temporary name */
  *slash = '\0';
  DIR *d = opendir(dir);
  assert_non_null(d);
  int removed = 0;
  for (struct dirent *e; (e = readdir(d));) {
    if (strncmp(e->d_name, base, strlen(base)) != 0 || strlen(e->d_name) != strlen(base) + 6) continue;
    char full[600];
    snprintf(full, sizeof full, "%s/%s", dir, e->d_name);
    removed += remove(full) == 0;
  }
  closedir(d);
  return removed;
}

static void a_save_killed_midway_leaves_the_previous_file(void **state) {
  (void)state;
  dcnn_model *old = small_model();
  assert_ok(dcnn_model_save(old, path));
  float *before = predictions(old, 1, 8, 3);
  fflush(NULL);
  pid_t child = fork();
  assert_true(child >= 0);
  if (child == 0) {
    /* A model of about 1 MB, saved in 64 KiB chunks: killed after the first. */
    dcnn_shape in = dcnn_shape_make(1, 512, 0, 0, 0);
    dcnn_model *big = NULL;
    dcnn_layer *l = NULL;
    if (dcnn_model_create(NULL, &in, &big) || dcnn_dense_create(512, 1, &l) || dcnn_model_add(big, l)) _exit(2);
    dcnn__atomic_write_hook = kill_self_after_first_chunk;
    dcnn_model_save(big, path);
    _exit(3); /* not reached: the hook kills us */
  }
  int wstatus = 0;
  assert_int_equal(waitpid(child, &wstatus, 0), child);
  assert_true(WIFSIGNALED(wstatus));
  assert_int_equal(WTERMSIG(wstatus), SIGKILL);
  assert_int_equal(remove_leftovers(path), 1); /* the partial temporary file existed, beside the destination */
  dcnn_model *loaded = NULL;
  assert_ok(dcnn_model_load(NULL, path, &loaded));
  float *after = predictions(loaded, 1, 8, 3);
  assert_memory_equal(before, after, 16 * 3 * sizeof(float));
  free(before);
  free(after);
  dcnn_model_destroy(loaded);
  dcnn_model_destroy(old);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(round_trip_is_bit_identical),
      cmocka_unit_test(every_flipped_byte_and_truncation_is_refused),
      cmocka_unit_test(crafted_files_get_clear_errors),
      cmocka_unit_test(user_layers_load_once_registered),
      cmocka_unit_test(residual_blocks_and_compression_round_trip),
      cmocka_unit_test(metadata_round_trips),
      cmocka_unit_test(rich_files_refuse_every_corruption),
      cmocka_unit_test(version_1_golden_file_loads),
      cmocka_unit_test(failed_saves_keep_the_previous_file),
      cmocka_unit_test(a_save_killed_midway_leaves_the_previous_file),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
