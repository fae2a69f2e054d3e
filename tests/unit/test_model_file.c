/* Model files: bit-identical round trips (residual blocks, user layers,
 * metadata, compression), every byte flipped, every truncation, hand-made bad
 * files, version-1 golden file, atomic replacement, a save killed midway. */
#include <float.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <zlib.h>

#include "test_support.h"

#include "bounded_run.h"

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
  assert_ok(dcnn_conv2d_create(4, 3, 1, DCNN_PADDING_SAME, DCNN_WITH_BIAS, &l));
  assert_ok(dcnn_model_add(m, l));
  assert_ok(dcnn_batchnorm_relu_create(0.9f, 1e-3f, &l));
  assert_ok(dcnn_model_add(m, l));
  assert_ok(dcnn_maxpool2d_create(2, 2, DCNN_PADDING_VALID, &l));
  assert_ok(dcnn_model_add(m, l));
  assert_ok(dcnn_dropout_create(0.3f, &l));
  assert_ok(dcnn_model_add(m, l));
  test_add_classifier(m, 3);
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
    if (which) assert_ok(dcnn_zoo_paper_cnn(NULL, test_zoo(28, 28, 1, 10, 2), &m));
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
  assert_error_mentions("needs more memory than the file allows (3 x its 4-byte parameter section");
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
  for (int i = 0; i < 20; ++i)
    snprintf(deep + strlen(deep), sizeof deep - strlen(deep), "%*slayer residual relu=0 body=1 shortcut=0\n", 2 * i, "");
  snprintf(deep + strlen(deep), sizeof deep - strlen(deep), "%*slayer relu\n", 40, "");
  write_crafted(other, 2, deep);
  assert_status(dcnn_model_load(NULL, other, &m), DCNN_ERR_BAD_FORMAT);
  assert_error_mentions("nested too deeply");
  /* The counts decide a block's layers; an indentation that disagrees loaded as another model than the text
   * shows (the indented sigmoid below left the block in silence), and a "\r\n" line read as type "relu\r". */
  static const struct {
    const char *architecture, *message;
  } misread[] = {
      {"input 1 4\nlayer residual relu=0 body=1 shortcut=0\n  layer relu\n  layer sigmoid\nlayer softmax\n",
       "architecture line 4: indented by 2 spaces; a layer outside residual blocks is indented by 0"},
      {"input 1 4\nlayer residual relu=0 body=1 shortcut=0\nlayer relu\nlayer softmax\n",
       "architecture line 3: indented by 0 spaces; a layer inside residual blocks is indented by 2"},
      {"input 1 4\nlayer relu\r\nlayer softmax\n", "architecture line 2 holds a carriage return"},
  };
  for (size_t i = 0; i < sizeof misread / sizeof *misread; ++i) {
    write_crafted(other, 2, misread[i].architecture);
    assert_status(dcnn_model_load(NULL, other, &m), DCNN_ERR_BAD_FORMAT);
    assert_error_mentions(misread[i].message);
  }
  write_crafted(other, 2, "input 1 4\nlayer residual relu=0 body=1 shortcut=0\n  layer relu\nlayer softmax\n");
  assert_ok(dcnn_model_load(NULL, other, &m));
  dcnn_model_destroy(m);
  m = NULL;
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
  *out = (dcnn_param){sizeof *out, "a", l->a, l->grad, DCNN_PARAM_TRAINABLE};
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

/* A user layer whose buffer is called running_var and may hold anything. */
static dcnn_status stat_param(void *self, int32_t index, dcnn_param *out) {
  (void)index;
  *out = (dcnn_param){sizeof *out, "running_var", ((scalar_scale *)self)->a, NULL, DCNN_PARAM_BUFFER};
  return DCNN_OK;
}

static const dcnn_layer_vtable stat_vtable = {
    .abi_version = DCNN_LAYER_ABI_VERSION, .type_name = "test.stat", .build = scalar_build,
    .forward = scalar_forward, .param_count = scalar_param_count, .param = stat_param,
    .describe = scalar_describe, .destroy = scalar_destroy};

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

/* A user layer whose configuration is "note=" and `wordy_length` zeros. */
static int wordy_length;
static dcnn_status wordy_describe(const void *self, char *buf, int32_t size) {
  (void)self;
  snprintf(buf, (size_t)size, "note=%0*d", wordy_length, 0); /* cut short, as snprintf does, when too long */
  return DCNN_OK;
}

/* A configuration the file cannot hold whole was saved cut short, and read
 * back wrong or refused; it is refused at saving instead. */
static void a_configuration_too_long_to_save_is_refused(void **state) {
  (void)state;
  dcnn_layer_vtable wordy = scalar_vtable;
  wordy.describe = wordy_describe;
  for (int length = 1018; length <= 1019; ++length) { /* 5 + 1018 = 1,023 bytes: the most a file holds */
    dcnn_model *m = small_model();
    scalar_scale *self = calloc(1, sizeof *self);
    assert_non_null(self);
    dcnn_layer *l = NULL;
    assert_ok(dcnn_layer_create(&wordy, self, &l));
    assert_ok(dcnn_model_add(m, l));
    wordy_length = length;
    char settings[DCNN_LAYER_SETTINGS_BYTES];
    if (length == 1018) {
      assert_ok(dcnn_model_save(m, path));
      /* the longest text a file keeps fits DCNN_LAYER_SETTINGS_BYTES whole */
      assert_ok(dcnn_layer_describe(l, settings, (int32_t)sizeof settings));
      assert_int_equal(strlen(settings), 1023);
    } else {
      assert_status(dcnn_model_save(m, path), DCNN_ERR_UNSUPPORTED);
      assert_error_mentions("longer than 1023 bytes");
    }
    dcnn_model_destroy(m);
  }
}

#include "layers/builtin_table.h"
#include "layers/layer_internal.h"

/* A configuration each built-in type's describe slot writes ("" for none). */
static const char *sample_config(const char *type) {
  static const char *const samples[][2] = {
      {"conv2d", "filters=4 kernel=3 stride=2 padding=same bias=1"},
      {"depthwise_conv2d", "kernel=3 stride=1 padding=valid bias=0"},
      {"batchnorm", "momentum=0.899999976 epsilon=0.00100000005"},
      {"batchnorm_relu", "momentum=0.99000001 epsilon=0.00100000005"},
      {"maxpool2d", "pool=2 stride=2 padding=valid"},
      {"avgpool2d", "pool=3 stride=1 padding=same"},
      {"dropout", "rate=0.300000012"},
      {"dense", "units=7 bias=0"},
      {"leaky_relu", "alpha=0.100000001"},
  };
  for (size_t i = 0; i < sizeof samples / sizeof samples[0]; ++i)
    if (!strcmp(samples[i][0], type)) return samples[i][1];
  return "";
}

/* Every built-in type comes from the one table through dcnn_layer_from_config,
 * as registered types do, and its own from_config reads back what its describe
 * wrote; a key it does not know, a bad value or a stray word is refused with a
 * message naming the type and the key. */
static void builtin_layers_read_their_own_configuration(void **state) {
  (void)state;
  assert_true(dcnn__builtin_layer_count() >= 16);
  for (int32_t i = 0; i < dcnn__builtin_layer_count(); ++i) {
    const char *type = dcnn__builtin_layer_at(i)->name, *config = sample_config(type);
    dcnn_layer *l = NULL;
    if (!strcmp(type, "residual")) {
      assert_status(dcnn_layer_from_config(type, "relu=1 body=1 shortcut=0", &l), DCNN_ERR_UNSUPPORTED);
      assert_error_mentions("residual: a composite layer");
      continue;
    }
    assert_ok(dcnn_layer_from_config(type, config, &l));
    assert_string_equal(dcnn_layer_type(l), type);
    char written[256] = "";
    if (l->vt->describe) assert_ok(l->vt->describe(l->self, written, sizeof written));
    assert_string_equal(written, config);
    dcnn_layer_destroy(l);
    /* One key too many: the type and the key are named, with the keys it knows. */
    char extra[320];
    snprintf(extra, sizeof extra, "%s%sdilation=2", config, *config ? " " : "");
    assert_status(dcnn_layer_from_config(type, extra, &l), DCNN_ERR_BAD_FORMAT);
    assert_null(l);
    char expected[128];
    snprintf(expected, sizeof expected, "%s: unknown key 'dilation' (known: ", type);
    assert_error_mentions(expected);
    assert_status(dcnn_layer_register(type, scalar_factory, NULL), DCNN_ERR_INVALID_ARGUMENT);
  }
  dcnn_layer *l = NULL;
  assert_status(dcnn_layer_from_config("conv2d", "filters=4 kernel=3 stride=1 padding=full bias=1", &l),
                DCNN_ERR_BAD_FORMAT);
  assert_error_mentions("conv2d: 'padding=full' is not valid or same");
  assert_status(dcnn_layer_from_config("dense", "units=0 bias=1", &l), DCNN_ERR_BAD_FORMAT);
  assert_error_mentions("dense: 'units=0' is not a whole number in 1..65536");
  assert_status(dcnn_layer_from_config("dense", "units=3", &l), DCNN_ERR_BAD_FORMAT);
  assert_error_mentions("dense: missing 'bias'");
  assert_status(dcnn_layer_from_config("relu", "inplace", &l), DCNN_ERR_BAD_FORMAT);
  assert_error_mentions("relu: 'inplace' is not key=value");
  assert_status(dcnn_layer_from_config("relu", "alpha=0.1", &l), DCNN_ERR_BAD_FORMAT);
  assert_error_mentions("relu: unknown key 'alpha' (known: none)");
  assert_status(dcnn_layer_from_config("dense", "units=3 bias=1 units=4", &l), DCNN_ERR_BAD_FORMAT);
  assert_error_mentions("dense: key 'units' given twice");
  assert_null(l);
  /* A value the layer's create call refuses is a malformed configuration
   * naming the key, and every message names the type once. */
  assert_status(dcnn_layer_from_config("dropout", "rate=1", &l), DCNN_ERR_BAD_FORMAT);
  assert_string_equal(dcnn_last_error(), "dropout: 'rate=1' is outside [0, 1)");
  assert_status(dcnn_layer_from_config("batchnorm", "momentum=1 epsilon=0.001", &l), DCNN_ERR_BAD_FORMAT);
  assert_string_equal(dcnn_last_error(), "batchnorm: 'momentum=1' is outside [0, 1)");
  assert_status(dcnn_layer_from_config("batchnorm_relu", "momentum=0.9 epsilon=0", &l), DCNN_ERR_BAD_FORMAT);
  assert_string_equal(dcnn_last_error(), "batchnorm_relu: 'epsilon=0' is not positive");
  dcnn__fail_allocations_after(0);
  assert_status(dcnn_layer_from_config("dropout", "rate=0.5", &l), DCNN_ERR_OUT_OF_MEMORY);
  dcnn__fail_allocations_after(-1);
  assert_string_equal(dcnn_last_error(), "dropout: out of memory");
  assert_null(l);
  /* A user factory's dcnn_config_int / dcnn_config_float follow the same rules. */
  int32_t whole = -1;
  float number = -1;
  assert_status(dcnn_config_int("a=1 a=2", "a", 0, 10, &whole), DCNN_ERR_BAD_FORMAT);
  assert_string_equal(dcnn_last_error(), "key 'a' given twice");
  assert_status(dcnn_config_int("a=1 =5", "a", 0, 10, &whole), DCNN_ERR_BAD_FORMAT);
  assert_string_equal(dcnn_last_error(), "'=5' is not key=value");
  assert_status(dcnn_config_float("b=1 x", "b", &number), DCNN_ERR_BAD_FORMAT);
  assert_string_equal(dcnn_last_error(), "'x' is not key=value");
  assert_status(dcnn_config_int("=5", "", 0, 10, &whole), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("dcnn_config_int: key '' is not a word");
  assert_status(dcnn_config_float("a=1", "a=1", &number), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_config_float("a=1", "a\tb", &number), DCNN_ERR_INVALID_ARGUMENT); /* the reader splits at tabs */
  assert_error_mentions("white space");
  assert_int_equal(whole, -1);
  assert_ok(dcnn_config_int("b=2 a=1 c=3", "a", 0, 10, &whole));
  assert_int_equal(whole, 1);
  /* The data pipeline's recorded preprocessing goes through the same reader. */
  dcnn_pipeline *p = NULL;
  assert_ok(dcnn_pipeline_create(NULL, &p));
  assert_ok(dcnn_pipeline_configure(p, "height=28 width=28 grayscale=1 standardize=1 mean0=0.5 std0=0.25"));
  assert_status(dcnn_pipeline_configure(p, "height=28 width=28 grayscale=1 standardize=0 mean0=0.5"),
                DCNN_ERR_BAD_FORMAT);
  assert_error_mentions("dcnn_pipeline_configure: unknown key 'mean0' (known: height, width, grayscale, standardize)");
  /* Values dcnn_pipeline_set_standardization refuses are malformed text too. */
  assert_status(dcnn_pipeline_configure(p, "height=28 width=28 grayscale=0 standardize=2 mean0=0 std0=1 mean1=0 std1=1"),
                DCNN_ERR_BAD_FORMAT);
  assert_string_equal(dcnn_last_error(), "dcnn_pipeline_configure: 'standardize=2' is not 0, 1 or 3");
  assert_status(dcnn_pipeline_configure(p, "height=28 width=28 grayscale=1 standardize=1 mean0=0 std0=-1"),
                DCNN_ERR_BAD_FORMAT);
  assert_string_equal(dcnn_last_error(), "dcnn_pipeline_configure: 'std0=-1' is not positive");
  assert_status(dcnn_pipeline_configure(p, "height=28 width=28 grayscale=0 standardize=3 mean0=0 std0=1 mean1=0 "
                                           "std1=1 mean2=0 std2=0"),
                DCNN_ERR_BAD_FORMAT);
  assert_string_equal(dcnn_last_error(), "dcnn_pipeline_configure: 'std2=0' is not positive");
  /* Values that would standardise to infinities: a subnormal std, a mean near FLT_MAX. */
  assert_status(dcnn_pipeline_configure(p, "height=28 width=28 grayscale=1 standardize=1 mean0=0.5 std0=1e-30"),
                DCNN_ERR_BAD_FORMAT);
  assert_string_equal(dcnn_last_error(), "dcnn_pipeline_configure: 'std0=1e-30' is outside [1e-7, 1e6]");
  assert_status(dcnn_pipeline_configure(p, "height=28 width=28 grayscale=1 standardize=1 mean0=3e38 std0=1"),
                DCNN_ERR_BAD_FORMAT);
  assert_string_equal(dcnn_last_error(), "dcnn_pipeline_configure: 'mean0=3e+38' is outside [-1e6, 1e6]");
  const float tiny_std = 1e-40f, huge_mean = 3e38f, one = 1.0f, half = 0.5f;
  assert_status(dcnn_pipeline_set_standardization(p, 1, &half, &tiny_std), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_pipeline_set_standardization(p, 1, &huge_mean, &one), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("outside [1e-7, 1e6]");
  assert_ok(dcnn_pipeline_set_standardization(p, 1, &half, &one));
  dcnn_pipeline_destroy(p);
}

/* A model with residual blocks, one nested in another, identity and projection shortcuts. */
static dcnn_model *residual_model(void) {
  dcnn_shape in = dcnn_shape_make(3, 2, 8, 8, 0);
  dcnn_model *m = NULL;
  assert_ok(dcnn_model_create(NULL, &in, &m));
  dcnn_layer *body[3], *shortcut[2], *inner_body[2], *l = NULL;
  assert_ok(dcnn_conv2d_create(2, 3, 1, DCNN_PADDING_SAME, DCNN_NO_BIAS, &inner_body[0]));
  assert_ok(dcnn_batchnorm_create(0.9f, 1e-3f, &inner_body[1]));
  /* nested, identity shortcut */
  assert_ok(dcnn_residual_create(inner_body, 2, NULL, 0, DCNN_RESIDUAL_LINEAR, &body[0]));
  assert_ok(dcnn_conv2d_create(4, 3, 2, DCNN_PADDING_SAME, DCNN_NO_BIAS, &body[1]));
  assert_ok(dcnn_batchnorm_relu_create(0.9f, 1e-3f, &body[2]));
  assert_ok(dcnn_conv2d_create(4, 1, 2, DCNN_PADDING_SAME, DCNN_NO_BIAS, &shortcut[0]));
  assert_ok(dcnn_batchnorm_create(0.9f, 1e-3f, &shortcut[1]));
  assert_ok(dcnn_residual_create(body, 3, shortcut, 2, DCNN_RESIDUAL_RELU, &l));
  assert_ok(dcnn_model_add(m, l));
  assert_ok(dcnn_global_avgpool_create(&l));
  assert_ok(dcnn_model_add(m, l));
  assert_ok(dcnn_dense_create(3, DCNN_WITH_BIAS, &l));
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
  assert_ok(dcnn_zoo_paper_cnn(NULL, test_zoo(28, 28, 1, 10, 2), &m));
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

#include "core/c_locale.h"
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
  snprintf(base, sizeof base, "%s.dcnn-partial-", slash + 1); /* dcnn__atomic_open's temporary name */
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
    if (dcnn_model_create(NULL, &in, &big) || dcnn_dense_create(512, DCNN_WITH_BIAS, &l) ||
        dcnn_model_add(big, l))
      _exit(2);
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

/* ---- hostile files: cost bounded by size (issue #15, section 2) ---- */

/* A growing byte buffer for crafting files. */
typedef struct craft {
  uint8_t *data;
  size_t size, capacity;
} craft;

static void craft_put(craft *c, const void *bytes, size_t n) {
  if (c->size + n > c->capacity) {
    c->capacity = (c->size + n) * 2;
    c->data = realloc(c->data, c->capacity);
    assert_non_null(c->data);
  }
  memcpy(c->data + c->size, bytes, n);
  c->size += n;
}

static void craft_u32(craft *c, uint32_t v) {
  const uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
  craft_put(c, b, 4);
}

static void craft_u64(craft *c, uint64_t v) {
  craft_u32(c, (uint32_t)v);
  craft_u32(c, (uint32_t)(v >> 32));
}

static void craft_text(craft *c, const char *text) { craft_put(c, text, strlen(text)); }

#define TAG_ARCH 0x48435241u
#define TAG_META 0x4154454Du
#define TAG_PARM 0x4D524150u

/* A version-2 section: `payload` stored, or zlib-compressed when `zlib`. */
static void craft_section(craft *file, uint32_t tag, const void *payload, size_t size, int zlib) {
  uLongf stored = compressBound((uLong)size);
  uint8_t *packed = malloc(stored + 1);
  assert_non_null(packed);
  if (zlib) assert_int_equal(compress2(packed, &stored, payload, (uLong)size, 9), Z_OK);
  else {
    memcpy(packed, payload, size);
    stored = size;
  }
  craft_u32(file, tag);
  craft_u32(file, zlib ? 1 : 0);
  craft_u32(file, (uint32_t)crc32(0L, packed, (uInt)stored));
  craft_u32(file, 0);
  craft_u64(file, stored);
  craft_u64(file, size);
  craft_put(file, packed, stored);
  free(packed);
}

/* A zlib section of `zeros` zero bytes, compressed in a stream (never held whole). */
static void craft_zero_bomb(craft *file, uint32_t tag, uint64_t zeros) {
  static const uint8_t block[1 << 16];
  craft packed = {0};
  z_stream z;
  memset(&z, 0, sizeof z);
  assert_int_equal(deflateInit(&z, 9), Z_OK);
  uint8_t out[1 << 14];
  for (uint64_t left = zeros;;) {
    const uInt n = left < sizeof block ? (uInt)left : (uInt)sizeof block;
    z.next_in = (Bytef *)block;
    z.avail_in = n;
    left -= n;
    const int flush = left ? Z_NO_FLUSH : Z_FINISH;
    int r;
    do {
      z.next_out = out;
      z.avail_out = sizeof out;
      r = deflate(&z, flush);
      craft_put(&packed, out, sizeof out - z.avail_out);
    } while (z.avail_out == 0);
    if (r == Z_STREAM_END) break;
  }
  deflateEnd(&z);
  craft_u32(file, tag);
  craft_u32(file, 1);
  craft_u32(file, (uint32_t)crc32(0L, packed.data, (uInt)packed.size));
  craft_u32(file, 0);
  craft_u64(file, packed.size);
  craft_u64(file, zeros);
  craft_put(file, packed.data, packed.size);
  free(packed.data);
}

static void craft_header(craft *file, uint32_t sections) {
  craft_text(file, "DCNNMODL");
  craft_u32(file, 2);
  craft_u32(file, sections);
}

/* A PARM section with no tensors. */
static void craft_no_parameters(craft *file) {
  const uint8_t zero[4] = {0, 0, 0, 0};
  craft_section(file, TAG_PARM, zero, 4, 0);
}

/* A file with an architecture (compressed or not), optional metadata, and no parameters. */
static craft craft_model(const char *arch, int arch_zlib, const char *meta, int meta_zlib) {
  craft file = {0};
  craft_header(&file, meta ? 3 : 2);
  craft_section(&file, TAG_ARCH, arch, strlen(arch), arch_zlib);
  if (meta) craft_section(&file, TAG_META, meta, strlen(meta), meta_zlib);
  craft_no_parameters(&file);
  return file;
}

/* A batch norm of 3 features whose running variance holds `var` in feature 1
 * (gamma 1, beta 0, mean 0), as a crafted file. */
static craft craft_batchnorm(float var) {
  craft parm = {0};
  craft_u32(&parm, 4); /* gamma, beta, running_mean, running_var: (3) each */
  const float values[4] = {1.0f, 0.0f, 0.0f, 1.0f};
  for (int t = 0; t < 4; ++t) {
    craft_u32(&parm, 1);
    craft_u32(&parm, 3);
    for (int c = 0; c < 3; ++c) {
      const float v = t == 3 && c == 1 ? var : values[t];
      uint32_t bits;
      memcpy(&bits, &v, 4);
      craft_u32(&parm, bits);
    }
  }
  craft file = {0};
  const char *arch = "input 1 3\nlayer batchnorm momentum=0.99 epsilon=0.001\n";
  craft_header(&file, 2);
  craft_section(&file, TAG_ARCH, arch, strlen(arch), 0);
  craft_section(&file, TAG_PARM, parm.data, parm.size, 0);
  free(parm.data);
  return file;
}

/* Sets element `at` of each parameter tensor named `name` (or, with name NULL,
 * of tensor `index`) to value; returns how many tensors it changed. */
static int set_param_value(dcnn_model *m, const char *name, int32_t index, int64_t at, float value) {
  int changed = 0;
  for (int32_t i = 0; i < dcnn_model_param_tensor_count(m); ++i) {
    dcnn_param p = DCNN_STRUCT_INIT(dcnn_param);
    assert_ok(dcnn_model_param(m, i, &p, NULL));
    if (name ? strcmp(p.name, name) != 0 : i != index) continue;
    dcnn_tensor_data(p.value)[at] = value;
    ++changed;
  }
  return changed;
}

/* A negative running variance (a mean of squares) makes sqrt(var + eps) NaN
 * at inference: a crafted file with one loaded, and predictions then failed
 * with a message blaming the input's scale, or through a ReLU came out
 * silently wrong. The loader refuses it and the saver never writes it. */
static void a_negative_batchnorm_variance_is_refused(void **state) {
  (void)state;
  for (int bad = 0; bad < 2; ++bad) {
    craft file = craft_batchnorm(bad ? -1.0f : 0.0f);
    write_all(other, file.data, (long)file.size);
    free(file.data);
    dcnn_model *m = NULL;
    if (!bad) {
      assert_ok(dcnn_model_load(NULL, other, &m)); /* a variance of 0 is a constant feature: fine */
      dcnn_param p = DCNN_STRUCT_INIT(dcnn_param);
      int32_t layer = -1;
      assert_ok(dcnn_model_param(m, 3, &p, &layer));
      assert_string_equal(p.name, "running_var");
      dcnn_tensor_data(p.value)[2] = -0.5f;
      assert_status(dcnn_model_save(m, path), DCNN_ERR_NUMERIC);
      assert_error_mentions("negative variance");
      dcnn_model_destroy(m);
      continue;
    }
    assert_status(dcnn_model_load(NULL, other, &m), DCNN_ERR_BAD_FORMAT);
    assert_error_mentions("value 1 is -1, a negative variance");
    assert_null(m);
  }
  /* A batch norm inside a residual block: its buffer is "body.0.running_var" */
  dcnn_shape in = dcnn_shape_make(3, 2, 3, 3, 0);
  dcnn_model *m = NULL;
  dcnn_layer *body[2] = {0}, *block = NULL;
  assert_ok(dcnn_model_create(NULL, &in, &m));
  assert_ok(dcnn_batchnorm_create(0.9f, 1e-3f, &body[0]));
  assert_ok(dcnn_relu_create(&body[1]));
  assert_ok(dcnn_residual_create(body, 2, NULL, 0, DCNN_RESIDUAL_RELU, &block));
  assert_ok(dcnn_model_add(m, block));
  assert_ok(dcnn_model_init(m, 1));
  assert_int_equal(set_param_value(m, "body.0.running_var", -1, 1, -2.0f), 1);
  assert_status(dcnn_model_save(m, path), DCNN_ERR_NUMERIC);
  assert_error_mentions("'body.0.running_var' of layer 0");
  dcnn_model_destroy(m);
  /* Nested five residual shortcuts deep, the name is cut ("...shortcut.0.running_") and the check still
   * finds the variance; a user layer's buffer named running_var in a block ("shortcut.0.running_var") is
   * the user's own. */
  for (int user = 0; user < 2; ++user) {
    assert_ok(dcnn_model_create(NULL, &in, &m));
    dcnn_layer *inner = NULL;
    if (user) {
      scalar_scale *stat = calloc(1, sizeof *stat);
      assert_non_null(stat);
      assert_ok(dcnn_layer_create(&stat_vtable, stat, &inner));
    } else {
      assert_ok(dcnn_batchnorm_create(0.9f, 1e-3f, &inner));
    }
    for (int depth = 0; depth < (user ? 1 : 5); ++depth) { /* the user's: "shortcut.0.running_var" */
      dcnn_layer *identity = NULL, *nested = NULL;
      assert_ok(dcnn_relu_create(&identity));
      assert_ok(dcnn_residual_create(&identity, 1, &inner, 1, DCNN_RESIDUAL_LINEAR, &nested));
      inner = nested;
    }
    assert_ok(dcnn_model_add(m, inner));
    assert_ok(dcnn_model_init(m, 1));
    /* the user's one buffer; BN's gamma, beta, mean, variance */
    assert_int_equal(set_param_value(m, NULL, user ? 0 : 3, 0, -1.0f), 1);
    if (user) {
      assert_ok(dcnn_model_save(m, path));
    } else {
      assert_status(dcnn_model_save(m, path), DCNN_ERR_NUMERIC);
      assert_error_mentions("a negative variance");
    }
    dcnn_model_destroy(m);
  }
}

/* "input 1 4" and `count` relu layers: 100,000 of them took over two minutes to load. */
static craft many_relus(int32_t count) {
  craft text = {0};
  craft_text(&text, "input 1 4\n");
  for (int32_t i = 0; i < count; ++i) craft_text(&text, "layer relu\n");
  craft_put(&text, "", 1);
  craft file = craft_model((const char *)text.data, 1, NULL, 0);
  free(text.data);
  return file;
}

/* "input 1 4" and one dense layer whose configuration holds `count` more
 * distinct keys: 1,000,000 of them (9 MB) would have taken hours to check for
 * duplicates, each pair against every earlier one. */
static craft long_layer_config(int32_t count) {
  craft text = {0};
  craft_text(&text, "input 1 4\nlayer dense units=3 bias=1");
  char pair[32];
  for (int32_t i = 0; i < count; ++i) {
    snprintf(pair, sizeof pair, " k%d=1", (int)i);
    craft_text(&text, pair);
  }
  craft_text(&text, "\n");
  craft_put(&text, "", 1);
  craft file = craft_model((const char *)text.data, 1, NULL, 0);
  free(text.data);
  return file;
}

/* `count` distinct metadata keys, in descending order (the worst case for sorted insertion). */
static craft many_metadata_keys(int32_t count) {
  craft meta = {0};
  char line[32];
  for (int32_t i = count - 1; i >= 0; --i) {
    snprintf(line, sizeof line, "k%07d=\n", (int)i);
    craft_text(&meta, line);
  }
  craft_put(&meta, "", 1);
  craft file = craft_model("input 1 4\nlayer relu\n", 0, (const char *)meta.data, 1);
  free(meta.data);
  return file;
}

/* A few KB that decompress to megabytes of dense layers, each allocating its
 * weights during the build: this inflated the load-time allocation budget to
 * gigabytes before the parameter count could refuse the file. */
static craft budget_inflater(void) {
  craft text = {0};
  craft_text(&text, "input 1 65536\n");
  while (text.size < (3u << 20)) craft_text(&text, "layer dense units=1024 bias=0\n");
  craft_put(&text, "", 1);
  craft file = craft_model((const char *)text.data, 1, NULL, 0);
  free(text.data);
  return file;
}

/* A parameter section of zlib-compressed zeros claiming 16 MiB from 16 KB: a decompression bomb. */
static craft zip_bomb(void) {
  craft file = {0};
  craft_header(&file, 2);
  const char *arch = "input 1 4\nlayer relu\n";
  craft_section(&file, TAG_ARCH, arch, strlen(arch), 0);
  craft_zero_bomb(&file, TAG_PARM, UINT64_C(16) << 20);
  return file;
}

/* Saving, loading and checkpoints allocate through the model's context (a review: the file's bytes were
 * built with realloc and read with malloc, which allocator hooks never saw): a model of 4 MB of weights saved,
 * loaded and checkpointed in a counting context peaks above the file's size there, and leaves nothing. */
static void files_go_through_the_context_allocator(void **state) {
  (void)state;
  counting_allocator count = {0, 0, INT64_C(256) << 20, 0};
  dcnn_context *ctx = counted_context(&count);
  dcnn_model *m = counted_dense_model(ctx), *back = NULL;
  const int64_t weights = 1024 * 1025 * (int64_t)sizeof(float);
  int64_t before = count.live;
  count.peak = count.live;
  assert_ok(dcnn_model_save(m, test_dir_path("counted.dcnn")));
  assert_true(count.peak - before >= weights); /* the file's bytes, built in the context */
  assert_int_equal(count.live, before);
  count.peak = count.live;
  assert_ok(dcnn_model_load(ctx, test_dir_path("counted.dcnn"), &back));
  assert_true(count.peak - before >= 2 * weights); /* the file read, and the model built from it */
  dcnn_model_destroy(back);
  assert_int_equal(count.live, before);
  dcnn_optimizer *sgd = NULL;
  dcnn_trainer *t = NULL;
  assert_ok(dcnn_optimizer_create_sgd(ctx, 0.1f, 0.9f, DCNN_MOMENTUM_CLASSIC, 0.0f, &sgd));
  assert_ok(dcnn_trainer_create(ctx, m, sgd, &t));
  before = count.live;
  count.peak = count.live;
  assert_ok(dcnn_trainer_save_checkpoint(t, test_dir_path("counted-checkpoint.dcnn")));
  assert_true(count.peak - before >= weights);
  assert_int_equal(count.live, before);
  count.peak = count.live;
  assert_ok(dcnn_trainer_resume(t, test_dir_path("counted-checkpoint.dcnn")));
  assert_true(count.peak - before >= weights);
  assert_false(count.refused);
  dcnn_trainer_destroy(t);
  dcnn_optimizer_destroy(sgd);
  dcnn_model_destroy(m);
  assert_int_equal(dcnn_context_live_allocations(ctx), 0);
  dcnn_context_destroy(ctx);
}

typedef struct hostile_case {
  const char *name;
  craft file;
  dcnn_status expected;
  const char *message;  /* a fragment of the expected error, or NULL */
  int64_t max_peak;     /* bytes through the context's allocator */
} hostile_case;

/* The child's side of load_bounded: 0 when the load went as expected. */
static int load_expecting(void *arg, char *message, size_t capacity) {
  const hostile_case *h = arg;
  counting_allocator count = {0, 0, INT64_C(256) << 20, 0};
  dcnn_context *ctx = NULL;
  if (dcnn_context_create(&ctx) != DCNN_OK) return 11;
  const dcnn_allocator hooks = counting_allocator_hooks(&count);
  if (dcnn_context_set_allocator(ctx, &hooks) != DCNN_OK) return 12;
  dcnn_model *m = NULL;
  const dcnn_status status = dcnn_model_load_memory(ctx, h->file.data, h->file.size, &m);
  int code = 0;
  if (status != h->expected) code = 1;
  else if (h->message && !strstr(dcnn_last_error(), h->message)) code = 2;
  else if (count.refused || count.peak > h->max_peak) code = 3;
  if (code)
    snprintf(message, capacity, "%s: %s (status %s, peak %lld bytes%s): %s", h->name,
             code == 1 ? "wrong status" : code == 2 ? "wrong message" : "too much memory", dcnn_status_str(status),
             (long long)count.peak, count.refused ? ", cap reached" : "", dcnn_last_error());
  dcnn_model_destroy(m);
  if (!code && dcnn_context_live_allocations(ctx) != 0) {
    code = 4;
    snprintf(message, capacity, "%s: leak", h->name);
  }
  dcnn_context_destroy(ctx);
  return code;
}

/* Loads the case in a forked child (bounded_run.h) with 1 GiB of address
 * space beyond what it has (no address limit under sanitizers, whose shadow
 * memory needs more) and 10 s; the child's allocations through the context
 * are counted against the case's own bound. */
static void load_bounded(const hostile_case *h) {
  dcnn_test_bounded run;
  const int ok = dcnn_test_run_bounded(load_expecting, (void *)h, 10, INT64_C(1) << 30, &run);
  printf("%s: %zu bytes, %.2f s\n", h->name, h->file.size, run.seconds);
  if (!ok) fail_msg("%s: %s", h->name, run.message);
}

/* DCNN_WRITE_MODEL_REGRESSIONS=<dir> also writes the crafted files there
 * (how tests/fuzz/regressions/model_load/ was made). */
static void maybe_write_regression(const hostile_case *h) {
  const char *dir = getenv("DCNN_WRITE_MODEL_REGRESSIONS");
  if (!dir) return;
  char file[512];
  snprintf(file, sizeof file, "%s/%s.dcnn", dir, h->name);
  write_all(file, h->file.data, (long)h->file.size);
}

static void hostile_files_cost_bounded_time_and_memory(void **state) {
  (void)state;
  const char *gap = "input 3 1 65536 65536\nlayer global_avgpool\n";
  const char *bn = "input 3 1 65536 65536\nlayer batchnorm momentum=0.99 epsilon=0.001\n";
  hostile_case cases[] = {
      {"relu-100k-layers", many_relus(100000), DCNN_ERR_BAD_FORMAT, "more than 16384 layers", INT64_C(16) << 20},
      {"relu-16k-layers-load", many_relus(16000), DCNN_OK, NULL, INT64_C(16) << 20},
      {"metadata-200k-keys", many_metadata_keys(200000), DCNN_ERR_BAD_FORMAT, "at most 65536 metadata entries",
       INT64_C(32) << 20},
      {"metadata-60k-keys-descending", many_metadata_keys(60000), DCNN_OK, NULL, INT64_C(32) << 20},
      {"metadata-20k-keys-descending", many_metadata_keys(20000), DCNN_OK, NULL, INT64_C(16) << 20},
      {"budget-inflater", budget_inflater(), DCNN_ERR_BAD_FORMAT, "needs more memory than the file allows", INT64_C(16) << 20},
      {"zip-bomb-parameters", zip_bomb(), DCNN_ERR_BAD_FORMAT, "more than the limit of 64 times", INT64_C(1) << 20},
      {"dense-config-1m-keys", long_layer_config(1000000), DCNN_ERR_BAD_FORMAT, "a layer configuration of",
       INT64_C(64) << 20},
      {"dense-config-400-keys", long_layer_config(400), DCNN_ERR_BAD_FORMAT, "unknown key 'k0'", INT64_C(1) << 20},
      {"overflow-global-avgpool", craft_model(gap, 0, NULL, 0), DCNN_ERR_BAD_FORMAT, "more than 2^31-1",
       INT64_C(1) << 20},
      {"overflow-batchnorm", craft_model(bn, 0, NULL, 0), DCNN_ERR_BAD_FORMAT, "more than 2^31-1", INT64_C(1) << 20},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
    maybe_write_regression(&cases[i]);
    load_bounded(&cases[i]);
    free(cases[i].file.data);
  }
}

/* dcnn_config_int on a configuration of many pairs (a user factory's input
 * is not bounded by a file's limits): the duplicate check sorts beyond a few
 * dozen pairs instead of comparing each pair with every earlier one, and
 * reports the same first error in text order as the direct check. */
typedef struct long_config {
  char *text;
  size_t used, capacity;
} long_config;

static void long_config_add(long_config *c, const char *word) {
  const size_t n = strlen(word);
  if (c->used + n + 2 > c->capacity) {
    c->capacity = 2 * (c->used + n + 2);
    c->text = realloc(c->text, c->capacity);
    if (!c->text) abort();
  }
  if (c->used) c->text[c->used++] = ' ';
  memcpy(c->text + c->used, word, n + 1);
  c->used += n;
}

/* "k0=1 ... k<count-1>=1" with `extra` words inserted before pair `at[i]`. */
static char *many_pairs(int32_t count, const char *const *extra, const int32_t *at, int32_t extras) {
  long_config c = {0};
  char pair[32];
  for (int32_t i = 0; i <= count; ++i) {
    for (int32_t e = 0; e < extras; ++e)
      if (at[e] == i) long_config_add(&c, extra[e]);
    if (i == count) break;
    snprintf(pair, sizeof pair, "k%d=%d", (int)i, (int)(i % 7));
    long_config_add(&c, pair);
  }
  return c.text;
}

static int many_pairs_read_like_few(void *arg, char *message, size_t capacity) {
  (void)arg;
  const int32_t n = 300000;
  int32_t v = -1;
  char *text = many_pairs(n, NULL, NULL, 0);
  if (dcnn_config_int(text, "k299999", 0, 10, &v) != DCNN_OK || v != 299999 % 7) return 1;
  free(text);
  /* k5 again near the end, k9 again earlier: the earliest repetition is named */
  const char *dups[] = {"k9=0", "k5=2"};
  const int32_t dups_at[] = {200000, 250000};
  text = many_pairs(n, dups, dups_at, 2);
  if (dcnn_config_int(text, "k1", 0, 10, &v) != DCNN_ERR_BAD_FORMAT ||
      strcmp(dcnn_last_error(), "key 'k9' given twice") != 0) {
    snprintf(message, capacity, "repeated keys: %s", dcnn_last_error());
    return 2;
  }
  free(text);
  /* a malformed word before the repetition is the first error; after it, the repetition is */
  const char *bad_first[] = {"oops", "k5=2"};
  const int32_t bad_first_at[] = {100000, 250000};
  text = many_pairs(n, bad_first, bad_first_at, 2);
  if (dcnn_config_float(text, "k1", &(float){0}) != DCNN_ERR_BAD_FORMAT ||
      strcmp(dcnn_last_error(), "'oops' is not key=value") != 0) {
    snprintf(message, capacity, "malformed first: %s", dcnn_last_error());
    return 3;
  }
  free(text);
  const int32_t bad_later_at[] = {250000, 100000};
  text = many_pairs(n, bad_first, bad_later_at, 2);
  if (dcnn_config_float(text, "k1", &(float){0}) != DCNN_ERR_BAD_FORMAT ||
      strcmp(dcnn_last_error(), "key 'k5' given twice") != 0) {
    snprintf(message, capacity, "repetition first: %s", dcnn_last_error());
    return 4;
  }
  free(text);
  return 0;
}

static void config_readers_check_many_pairs_in_bounded_time(void **state) {
  (void)state;
  dcnn_test_bounded run;
  const int ok = dcnn_test_run_bounded(many_pairs_read_like_few, NULL, 30, INT64_C(1) << 30, &run);
  printf("300,000 pairs, 4 texts: %.2f s\n", run.seconds);
  if (!ok) fail_msg("%s", run.message);
  /* few pairs: the direct check gives the same answers */
  int32_t v = -1;
  assert_status(dcnn_config_int("a=1 b=2 oops b=3", "a", 0, 10, &v), DCNN_ERR_BAD_FORMAT);
  assert_string_equal(dcnn_last_error(), "'oops' is not key=value");
  assert_status(dcnn_config_int("a=1 b=2 b=3 oops", "a", 0, 10, &v), DCNN_ERR_BAD_FORMAT);
  assert_string_equal(dcnn_last_error(), "key 'b' given twice");
}

/* Shape arithmetic on int32 dimensions used to overflow (undefined behaviour) for crafted shapes. */
static void layer_builds_refuse_overflowing_shapes(void **state) {
  (void)state;
  const dcnn_shape huge = dcnn_shape_make(4, 1, 2, 65536, 65536);
  dcnn_layer *l = NULL;
  assert_ok(dcnn_global_avgpool_create(&l));
  assert_status(dcnn_layer_build(l, NULL, &huge), DCNN_ERR_SHAPE_MISMATCH);
  assert_error_mentions("2^31-1");
  dcnn_layer_destroy(l);
  assert_ok(dcnn_batchnorm_create(0.9f, 1e-3f, &l));
  assert_status(dcnn_layer_build(l, NULL, &huge), DCNN_ERR_SHAPE_MISMATCH);
  assert_error_mentions("2^31-1");
  dcnn_layer_destroy(l);
  assert_ok(dcnn_flatten_create(&l));
  assert_status(dcnn_layer_build(l, NULL, &huge), DCNN_ERR_SHAPE_MISMATCH);
  assert_error_mentions("2^31-1");
  dcnn_layer_destroy(l);
}

/* Every allocation of a load goes through the context: failing each in turn
 * gives DCNN_ERR_OUT_OF_MEMORY (not a misleading format error) and no leak. */
static void every_failed_allocation_of_a_load_is_reported(void **state) {
  (void)state;
  dcnn_model *m = small_model();
  assert_ok(dcnn_model_set_metadata(m, "classes", "a,b,c"));
  assert_ok(dcnn_model_set_metadata(m, "note", "x"));
  for (int level = 0; level <= 6; level += 6) {
    assert_ok(dcnn_model_save_compressed(m, path, level));
    long size = 0;
    unsigned char *bytes = read_all(path, &size);
    int64_t failures = 0;
    for (int64_t allow = 0;; ++allow) {
      failing_allocator fa = {allow, 0};
      const dcnn_allocator hooks = failing_allocator_hooks(&fa);
      dcnn_context *ctx = NULL;
      assert_ok(dcnn_context_create(&ctx));
      assert_ok(dcnn_context_set_allocator(ctx, &hooks));
      dcnn_model *loaded = NULL;
      const dcnn_status status = dcnn_model_load_memory(ctx, bytes, (size_t)size, &loaded);
      if (status != DCNN_OK) {
        if (status != DCNN_ERR_OUT_OF_MEMORY)
          fail_msg("level %d, allocation %lld failing: %s, expected out of memory: %s", level, (long long)allow,
                   dcnn_status_str(status), dcnn_last_error());
        assert_null(loaded);
        ++failures;
      }
      dcnn_model_destroy(loaded);
      assert_int_equal(dcnn_context_live_allocations(ctx), 0);
      dcnn_context_destroy(ctx);
      if (status == DCNN_OK) break;
    }
    printf("zlib level %d: %lld allocations of a load failed in turn, each reported as out of memory\n", level,
           (long long)failures);
    assert_true(failures > 10);
    free(bytes);
  }
  dcnn_model_destroy(m);
}

/* ---- locale independence (issue #15, section 1) ---- */

/* Switches LC_ALL to de_DE.UTF-8 (decimal comma), generating it with localedef
 * into a private directory (LOCPATH) if the system lacks it; 0 if impossible. */
static int use_german_locale(void) {
  if (setlocale(LC_ALL, "de_DE.UTF-8")) return 1;
  const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
  char dir[256], command[768];
  snprintf(dir, sizeof dir, "%s/dcnn-locales-%d", tmp, (int)getpid());
  snprintf(command, sizeof command, "mkdir -p '%s' && localedef -i de_DE -f UTF-8 '%s/de_DE.utf8' >/dev/null 2>&1",
           dir, dir);
  if (system(command) != 0) return 0;
  setenv("LOCPATH", dir, 1);
  return setlocale(LC_ALL, "de_DE.UTF-8") != NULL;
}

static void cleanup_german_locale(void) {
  const char *dir = getenv("LOCPATH");
  if (!dir || !strstr(dir, "dcnn-locales-")) return;
  char command[512];
  snprintf(command, sizeof command, "rm -rf '%s'", dir);
  if (system(command) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

static int contains(const unsigned char *data, long size, const char *needle) {
  const size_t n = strlen(needle);
  for (long i = 0; i + (long)n <= size; ++i)
    if (!memcmp(data + i, needle, n)) return 1;
  return 0;
}

/* Saves under one locale, loads under the other, both ways; the text in the file uses '.'. */
static void files_do_not_depend_on_the_locale(void **state) {
  (void)state;
  if (!use_german_locale()) {
    cleanup_german_locale();
    skip(); /* localedef and the de_DE sources (Debian package "locales") are missing */
  }
  char buf[64];
  snprintf(buf, sizeof buf, "%.2f", 0.5);
  assert_string_equal(buf, "0,50"); /* the locale really uses a decimal comma */
  float v = 0;
  assert_ok(dcnn_config_float("momentum=0.99 epsilon=0.001", "momentum", &v));
  assert_true(v == 0.99f);
  /* The one mechanism behind every number in files and reports (trainer CSV and metadata, metrics, layers). */
  char number[DCNN__NUMBER_BYTES];
  assert_int_equal(dcnn__format_number(number, sizeof number, 'f', 6, 0.25), 8);
  assert_string_equal(number, "0.250000");
  dcnn__format_number(number, sizeof number, 'e', 2, -1500.0);
  assert_string_equal(number, "-1.50e+03");
  dcnn__format_number(number, sizeof number, 'g', 9, 0.1f);
  assert_string_equal(number, "0.100000001");
  char *end = NULL;
  assert_true(dcnn__parse_double("1.5e3 rest", &end) == 1500.0);
  assert_string_equal(end, " rest");
  assert_true(dcnn__parse_double("2,5", &end) == 2.0); /* ',' is no decimal separator in files */
  assert_string_equal(end, ",5");
  /* As in the C locale (strtod): leading white space is skipped, and nothing read leaves `end` at the text. */
  const char *const texts[3] = {"\t0.5", " x", "\v1e3"};
  for (int k = 0; k < 3; ++k)
    for (int c = 0; c < 2; ++c) {
      setlocale(LC_NUMERIC, c ? "C" : "de_DE.UTF-8");
      const double got = dcnn__parse_double(texts[k], &end);
      assert_true(got == (k == 0 ? 0.5 : k == 1 ? 0.0 : 1000.0));
      assert_ptr_equal(end, k == 1 ? texts[k] : texts[k] + strlen(texts[k]));
    }
  setlocale(LC_ALL, "de_DE.UTF-8");
  /* Configurations: the same answer in either locale; a value is what follows '=', whole. */
  assert_status(dcnn_config_float("a=\t0.5", "a", &v), DCNN_ERR_BAD_FORMAT);
  assert_error_mentions("starting with white space");
  int32_t whole = 0;
  assert_status(dcnn_config_int("a=\t7", "a", 0, 9, &whole), DCNN_ERR_BAD_FORMAT);
  /* Any float: FLT_MAX as the library prints it (9 digits, above FLT_MAX), and 1e-320 (0 as a float). */
  assert_ok(dcnn_config_float("a=3.40282347e+38", "a", &v));
  assert_true(v == FLT_MAX);
  assert_ok(dcnn_config_float("a=-1e-320", "a", &v));
  assert_true(v == 0.0f);
  assert_status(dcnn_config_float("a=3.4028236e38", "a", &v), DCNN_ERR_BAD_FORMAT); /* rounds to inf */
  assert_status(dcnn_config_float("a=nan", "a", &v), DCNN_ERR_BAD_FORMAT);
  char long_value[200] = "a=";
  memset(long_value + 2, '1', 100);
  assert_status(dcnn_config_int(long_value, "a", 0, 9, &whole), DCNN_ERR_BAD_FORMAT);
  assert_error_mentions("'a' has a value of 64 bytes or more"); /* not "missing 'a'" */
  /* A batch norm of epsilon FLT_MAX saves and loads; the summary's numbers use '.', as its settings do. */
  {
    dcnn_shape in = dcnn_shape_make(1, 3, 0, 0, 0);
    dcnn_model *m = NULL;
    dcnn_layer *l = NULL;
    assert_ok(dcnn_model_create(NULL, &in, &m));
    assert_ok(dcnn_batchnorm_create(0.5f, FLT_MAX, &l));
    assert_ok(dcnn_model_add(m, l));
    assert_ok(dcnn_model_init(m, 1));
    assert_ok(dcnn_model_save(m, path));
    dcnn_model *loaded = NULL;
    assert_ok(dcnn_model_load(NULL, path, &loaded));
    char *summary = NULL;
    assert_ok(dcnn_model_summary(loaded, &summary));
    assert_non_null(strstr(summary, "(0.00 MB as float32)"));
    assert_non_null(strstr(summary, "multiply-adds per sample: 0.00 M"));
    dcnn_free(summary);
    dcnn_model_destroy(loaded);
    dcnn_model_destroy(m);
  }
  for (int direction = 0; direction < 2; ++direction) {
    setlocale(LC_ALL, direction == 0 ? "de_DE.UTF-8" : "C");
    dcnn_model *m = small_model();
    assert_ok(dcnn_model_save(m, path));
    long size = 0;
    unsigned char *bytes = read_all(path, &size);
    assert_true(contains(bytes, size, "momentum=0.899999976 epsilon=0.00100000005"));
    assert_true(contains(bytes, size, "rate=0.300000012"));
    setlocale(LC_ALL, direction == 0 ? "C" : "de_DE.UTF-8");
    dcnn_model *loaded = NULL;
    assert_ok(dcnn_model_load(NULL, path, &loaded));
    assert_int_equal(dcnn_model_layer_count(loaded), dcnn_model_layer_count(m));
    assert_ok(dcnn_model_save(loaded, other)); /* saved again under the other locale: the same bytes */
    long again_size = 0;
    unsigned char *again = read_all(other, &again_size);
    assert_int_equal(again_size, size);
    assert_memory_equal(again, bytes, (size_t)size);
    free(again);
    free(bytes);
    dcnn_model_destroy(loaded);
    dcnn_model_destroy(m);
  }
  /* Reports read by programs too: JSON and ROC CSV numbers with '.', never ','. */
  setlocale(LC_ALL, "de_DE.UTF-8");
  dcnn_metrics *metrics = NULL;
  assert_ok(dcnn_metrics_create(NULL, 3, &metrics));
  const float scores[12] = {0.7f, 0.2f, 0.1f, 0.2f, 0.5f, 0.3f, 0.1f, 0.3f, 0.6f, 0.4f, 0.35f, 0.25f};
  const int32_t labels[4] = {0, 1, 2, 1};
  assert_ok(dcnn_metrics_add(metrics, scores, labels, 4));
  for (int kind = DCNN_FORMAT_JSON; kind <= DCNN_FORMAT_ROC_CSV; kind += 2) {
    char *text = NULL;
    assert_ok(dcnn_metrics_format(metrics, (dcnn_metrics_format_kind)kind, "de", &text));
    assert_non_null(strstr(text, "0."));
    if (kind == DCNN_FORMAT_JSON) /* JSON separates with ", ": a digit on both sides of a comma is a decimal comma */
      for (const char *c = strchr(text, ','); c; c = strchr(c + 1, ','))
        assert_false(c > text && c[-1] >= '0' && c[-1] <= '9' && c[1] >= '0' && c[1] <= '9');
    else
      for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        int commas = 0;
        for (const char *c = line; *c && *c != '\n'; ++c) commas += *c == ',';
        assert_int_equal(commas, 2); /* class,fpr,tpr: a decimal comma would add fields */
      }
    dcnn_free(text);
  }
  dcnn_metrics_destroy(metrics);
  setlocale(LC_ALL, "C");
  cleanup_german_locale();
}

/* ---- saves never write what the loader refuses (limits at save time and at their source) ---- */

#include "model/model_io.h"

/* A model of 2,099,200 parameters, all zero: they compress ~1000:1, beyond the loader's 64:1 + 4 MiB. */
static dcnn_model *zero_model(void) {
  dcnn_shape in = dcnn_shape_make(1, 1024, 0, 0, 0);
  dcnn_model *m = NULL;
  assert_ok(dcnn_model_create(NULL, &in, &m));
  dcnn_layer *l = NULL;
  assert_ok(dcnn_dense_create(2048, DCNN_WITH_BIAS, &l));
  assert_ok(dcnn_model_add(m, l));
  assert_ok(dcnn_model_init(m, 1));
  for (int32_t i = 0; i < dcnn_model_param_tensor_count(m); ++i) {
    dcnn_param p = DCNN_STRUCT_INIT(dcnn_param);
    assert_ok(dcnn_model_param(m, i, &p, NULL));
    memset(dcnn_tensor_data(p.value), 0, (size_t)dcnn_tensor_count(p.value) * sizeof(float));
  }
  return m;
}

static void compressed_saves_of_zeros_load(void **state) {
  (void)state;
  dcnn_model *m = zero_model();
  for (int level = 1; level <= 9; level += 8) {
    assert_ok(dcnn_model_save_compressed(m, path, level));
    dcnn_model *loaded = NULL;
    assert_ok(dcnn_model_load(NULL, path, &loaded));
    assert_int_equal(dcnn_model_param_count(loaded, DCNN_PARAM_TRAINABLE), 1024 * 2048 + 2048);
    dcnn_model_destroy(loaded);
  }
  /* A checkpoint whose training state is zeros (Adam moments before the first step), compressed. */
  dcnn_bytes moments = {0}, file = {0};
  const size_t zeros = (size_t)8 << 20;
  uint8_t *block = calloc(1, zeros);
  assert_non_null(block);
  dcnn__bytes_put(&moments, block, zeros);
  free(block);
  assert_false(moments.failed);
  dcnn_model *small = small_model();
  assert_ok(dcnn__model_encode(small, 9, &moments, &file));
  dcnn_model_destroy(small);
  dcnn_context *ctx = NULL;
  assert_ok(dcnn_context_create(&ctx));
  dcnn_model *loaded = NULL;
  dcnn_model_state decoded = {NULL, NULL, 0};
  assert_ok(dcnn__model_decode(ctx, "checkpoint", file.data, file.size, &loaded, &decoded));
  assert_int_equal(decoded.size, zeros);
  assert_memory_equal(decoded.data, moments.data, zeros);
  /* The training state comes from the context's allocator too, and stays with the caller. */
  dcnn_model_destroy(loaded);
  assert_true(dcnn_context_live_allocations(ctx) > 0);
  dcnn__model_state_free(&decoded);
  assert_int_equal(dcnn_context_live_allocations(ctx), 0);
  dcnn_context_destroy(ctx);
  dcnn__bytes_free(&moments);
  dcnn__bytes_free(&file);
  dcnn_model_destroy(m);
}

static void metadata_beyond_a_file_is_refused_when_set(void **state) {
  (void)state;
  dcnn_model *m = small_model();
  /* Line breaks are escaped in the file: 64 Ki of them take 128 KiB of its 16 MiB of metadata text. */
  char *value = malloc(65537);
  assert_non_null(value);
  memset(value, '\n', 65536);
  value[65536] = '\0';
  int32_t set = 0;
  dcnn_status status = DCNN_OK;
  for (; set < 200 && status == DCNN_OK; ++set) {
    char key[32];
    snprintf(key, sizeof key, "notes%d", (int)set);
    status = dcnn_model_set_metadata(m, key, value);
  }
  assert_int_equal(status, DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("16 MiB");
  assert_int_equal(dcnn_model_metadata_count(m), set - 1);
  assert_true(set - 1 >= 126 && set - 1 < 128);
  /* Replacing an entry counts its new size only. */
  assert_ok(dcnn_model_set_metadata(m, "notes0", "short"));
  assert_ok(dcnn_model_set_metadata(m, "notes0", value));
  /* What could be set, saves and loads. */
  assert_ok(dcnn_model_save_compressed(m, path, 6));
  dcnn_model *loaded = NULL;
  assert_ok(dcnn_model_load(NULL, path, &loaded));
  assert_int_equal(dcnn_model_metadata_count(loaded), dcnn_model_metadata_count(m) + 1); /* + library_version */
  assert_string_equal(dcnn_model_metadata(loaded, "notes0"), value);
  dcnn_model_destroy(loaded);
  free(value);
  dcnn_model_destroy(m);
}

/* Every save adds a library_version entry: a model may hold one entry fewer
 * than a file, so that what could be set always loads again. */
static void metadata_entries_leave_room_for_the_version(void **state) {
  (void)state;
  dcnn_model *m = small_model();
  char key[32];
  int32_t set = 0;
  dcnn_status status = DCNN_OK;
  for (; set < 70000 && status == DCNN_OK; ++set) {
    snprintf(key, sizeof key, "k%05d", (int)set);
    status = dcnn_model_set_metadata(m, key, "1");
  }
  assert_int_equal(status, DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("besides library_version");
  assert_int_equal(dcnn_model_metadata_count(m), 65535);
  assert_ok(dcnn_model_set_metadata(m, "library_version", "0.0.1")); /* replaced by the save */
  assert_ok(dcnn_model_save(m, path));
  dcnn_model *loaded = NULL;
  assert_ok(dcnn_model_load(NULL, path, &loaded));
  assert_int_equal(dcnn_model_metadata_count(loaded), 65536);
  dcnn_model_destroy(loaded);
  dcnn_model_destroy(m);
}

static void layers_beyond_a_file_are_refused_when_added(void **state) {
  (void)state;
  dcnn_shape in = dcnn_shape_make(1, 4, 0, 0, 0);
  dcnn_model *m = NULL;
  assert_ok(dcnn_model_create(NULL, &in, &m));
  dcnn_layer *l = NULL;
  for (int32_t i = 0; i < 16382; ++i) {
    assert_ok(dcnn_relu_create(&l));
    assert_ok(dcnn_model_add(m, l));
  }
  /* A residual block is 1 record plus its layers': 3 here, one too many. */
  dcnn_layer *body[2] = {NULL, NULL};
  assert_ok(dcnn_relu_create(&body[0]));
  assert_ok(dcnn_relu_create(&body[1]));
  dcnn_layer *block = NULL;
  assert_ok(dcnn_residual_create(body, 2, NULL, 0, DCNN_RESIDUAL_LINEAR, &block));
  assert_int_equal(dcnn_model_add(m, block), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("16384 layer records");
  assert_int_equal(dcnn_model_layer_count(m), 16382);
  for (int i = 0; i < 2; ++i) {
    assert_ok(dcnn_relu_create(&l));
    assert_ok(dcnn_model_add(m, l));
  }
  assert_ok(dcnn_relu_create(&l));
  assert_int_equal(dcnn_model_add(m, l), DCNN_ERR_INVALID_ARGUMENT);
  /* Exactly the limit saves and loads. */
  assert_ok(dcnn_model_save(m, path));
  dcnn_model *loaded = NULL;
  assert_ok(dcnn_model_load(NULL, path, &loaded));
  assert_int_equal(dcnn_model_layer_count(loaded), 16384);
  dcnn_model_destroy(loaded);
  dcnn_model_destroy(m);
}

/* `levels` residual blocks each holding the next, a relu innermost; with `spaced`, each body starts with a relu
 * (the ONNX importer needs each fork at its own value). */
static dcnn_model *nested_model(int levels, int spaced) {
  dcnn_layer *inner = NULL;
  assert_ok(dcnn_relu_create(&inner));
  for (int k = 0; k < levels; ++k) {
    dcnn_layer *body[2] = {NULL, inner}, *block = NULL;
    if (spaced) assert_ok(dcnn_relu_create(&body[0]));
    assert_ok(dcnn_residual_create(spaced ? body : body + 1, spaced ? 2 : 1, NULL, 0, DCNN_RESIDUAL_LINEAR, &block));
    inner = block;
  }
  dcnn_shape in = dcnn_shape_make(1, 4, 0, 0, 0);
  dcnn_model *m = NULL;
  assert_ok(dcnn_model_create(NULL, &in, &m));
  assert_ok(dcnn_model_add(m, inner));
  return m;
}

/* docs/model-format.md allows 8 levels of residual nesting: 8 save and load (the writer once stopped at 7), 9 are
 * refused by the save and, crafted, by the load. */
static void residual_nesting_of_the_documented_depth_round_trips(void **state) {
  (void)state;
  dcnn_model *m = nested_model(8, 0), *loaded = NULL;
  assert_ok(dcnn_model_save(m, path));
  assert_ok(dcnn_model_load(NULL, path, &loaded));
  assert_int_equal(dcnn_model_layer_count(loaded), 1);
  dcnn_model_destroy(loaded);
  dcnn_model_destroy(m);
  m = nested_model(9, 0);
  assert_status(dcnn_model_save(m, other), DCNN_ERR_UNSUPPORTED);
  assert_error_mentions("nested deeper than 8");
  dcnn_model_destroy(m);
  for (int levels = 8; levels <= 9; ++levels) {
    char text[1024] = "input 1 4\n";
    for (int k = 0; k < levels; ++k)
      snprintf(text + strlen(text), sizeof text - strlen(text), "%*slayer residual relu=0 body=1 shortcut=0\n",
               2 * k, "");
    snprintf(text + strlen(text), sizeof text - strlen(text), "%*slayer relu\n", 2 * levels, "");
    write_crafted(other, 2, text);
    if (levels == 8) {
      assert_ok(dcnn_model_load(NULL, other, &loaded));
      dcnn_model_destroy(loaded);
    } else {
      assert_status(dcnn_model_load(NULL, other, &loaded), DCNN_ERR_BAD_FORMAT);
      assert_error_mentions("nested too deeply (more than 8 levels)");
    }
  }
  /* The ONNX importer allows the same nesting (it allowed 32): what it imports can be saved. */
  if (!dcnn_onnx_available()) return;
  for (int levels = 8; levels <= 9; ++levels) {
    m = nested_model(levels, 1);
    void *onnx = NULL;
    size_t size = 0;
    assert_ok(dcnn_model_export_onnx_memory(m, NULL, &onnx, &size));
    dcnn_model_destroy(m);
    m = NULL;
    const dcnn_status status = dcnn_model_import_onnx_memory(NULL, onnx, size, &m);
    dcnn_free(onnx);
    if (levels == 8) {
      assert_int_equal(status, DCNN_OK);
      assert_ok(dcnn_model_save(m, other));
      dcnn_model_destroy(m);
    } else {
      assert_int_equal(status, DCNN_ERR_UNSUPPORTED);
      assert_error_mentions("nested deeper than 8");
    }
  }
}

/* A section header with a chosen encoding, reserved field and sizes around `payload` (CRC-32 correct). */
static void craft_raw_section(craft *file, uint32_t tag, uint32_t encoding, uint32_t reserved, const void *payload,
                              uint64_t stored, uint64_t decoded) {
  craft_u32(file, tag);
  craft_u32(file, encoding);
  craft_u32(file, (uint32_t)crc32(0L, payload, (uInt)stored));
  craft_u32(file, reserved);
  craft_u64(file, stored);
  craft_u64(file, decoded);
  craft_put(file, payload, (size_t)stored);
}

/* A compressed section must inflate to exactly its decoded size, 0 included; a nonzero reserved field is named as
 * such, not as an encoding. An empty zlib stream claiming 0 bytes stays valid. */
static void empty_and_reserved_section_headers_are_checked(void **state) {
  (void)state;
  static const char arch[] = "input 1 4\nlayer relu\n";
  static const uint8_t garbage[16] = {0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  uint8_t empty[16];
  uLongf empty_size = sizeof empty;
  assert_int_equal(compress2(empty, &empty_size, (const Bytef *)"", 0, 9), Z_OK);
  const uint8_t zero[4] = {0, 0, 0, 0};
  for (int c = 0; c < 3; ++c) {
    craft file = {0};
    craft_header(&file, 3);
    craft_raw_section(&file, TAG_ARCH, 0, c == 2 ? 1 : 0, arch, strlen(arch), strlen(arch));
    if (c == 0) craft_raw_section(&file, TAG_META, 1, 0, garbage, sizeof garbage, 0);
    else craft_raw_section(&file, TAG_META, 1, 0, empty, empty_size, 0);
    craft_raw_section(&file, TAG_PARM, 0, 0, zero, 4, 4);
    dcnn_model *m = NULL;
    const dcnn_status status = dcnn_model_load_memory(NULL, file.data, file.size, &m);
    free(file.data);
    if (c == 1) {
      assert_int_equal(status, DCNN_OK);
      dcnn_model_destroy(m);
      continue;
    }
    assert_int_equal(status, DCNN_ERR_BAD_FORMAT);
    assert_null(m);
    if (c == 0) assert_error_mentions("the metadata section (byte");
    if (c == 0) assert_error_mentions("does not decompress to 0 bytes");
    if (c == 2) assert_error_mentions("the architecture section header's reserved field is 1");
  }
}

/* A user layer whose build allocates a table of `table_floats` floats through ctx, as docs/layers.md asks: state
 * that is not a parameter and so is not in the file. */
typedef struct table_layer {
  dcnn_tensor *table;
} table_layer;

static int32_t table_floats;
static int table_in_factory; /* the table made when the layer is created, not when it is built */

static dcnn_status table_build(void *self, dcnn_context *ctx, const dcnn_shape *in, dcnn_shape *out) {
  *out = *in;
  if (((table_layer *)self)->table) return DCNN_OK;
  const dcnn_shape shape = dcnn_shape_make(1, table_floats, 0, 0, 0);
  return dcnn_tensor_create(ctx, &shape, &((table_layer *)self)->table);
}

static dcnn_status table_forward(void *self, dcnn_exec *exec, const dcnn_tensor *x, dcnn_tensor *y) {
  (void)self;
  (void)exec;
  return dcnn_tensor_copy(y, x);
}

static void table_destroy(void *self) {
  dcnn_tensor_destroy(((table_layer *)self)->table);
  free(self);
}

static const dcnn_layer_vtable table_vtable = {.abi_version = DCNN_LAYER_ABI_VERSION, .type_name = "test.table",
                                               .build = table_build, .forward = table_forward,
                                               .destroy = table_destroy};

static dcnn_status table_factory(const char *config, void *user, dcnn_layer **out) {
  (void)config;
  (void)user;
  table_layer *l = calloc(1, sizeof *l);
  if (!l) return DCNN_ERR_OUT_OF_MEMORY;
  const dcnn_shape shape = dcnn_shape_make(1, table_floats, 0, 0, 0);
  if (table_in_factory && dcnn_tensor_create(NULL, &shape, &l->table) != DCNN_OK) return free(l), DCNN_ERR_OUT_OF_MEMORY;
  return dcnn_layer_create(&table_vtable, l, out);
}

static dcnn_model *table_model(int32_t floats) {
  table_floats = floats;
  dcnn_shape in = dcnn_shape_make(1, 4, 0, 0, 0);
  dcnn_model *m = NULL;
  assert_ok(dcnn_model_create(NULL, &in, &m));
  dcnn_layer *l = NULL;
  assert_ok(table_factory("", NULL, &l));
  assert_ok(dcnn_model_add(m, l));
  return m;
}

/* A layer's build may allocate state besides its parameters: 4 MiB of it (refused by the load's budget before)
 * saves and loads; more than the 64 MiB a file allows is refused by the save, which writes nothing, rather than
 * by the load. */
static void layers_state_beyond_parameters_saves_only_if_it_loads(void **state) {
  (void)state;
  assert_ok(dcnn_layer_register("test.table", table_factory, NULL));
  dcnn_model *m = table_model(1 << 20), *loaded = NULL;
  assert_ok(dcnn_model_save(m, path));
  dcnn_model_destroy(m);
  assert_ok(dcnn_model_load(NULL, path, &loaded));
  dcnn_model_destroy(loaded);
  remove(other);
  m = table_model(17 << 20); /* 68 MiB */
  assert_status(dcnn_model_save(m, other), DCNN_ERR_UNSUPPORTED);
  assert_error_mentions("the layers' factories and builds allocate");
  assert_error_mentions("plus 64 MiB of other state");
  dcnn_model_destroy(m);
  FILE *f = fopen(other, "rb");
  assert_null(f);
  /* ... and as much made by the layer's factory: the load's budget covers the factories too, so the save
   * refuses it as well (it wrote a file that no load could read) */
  table_in_factory = 1;
  m = table_model(17 << 20);
  assert_status(dcnn_model_save(m, other), DCNN_ERR_UNSUPPORTED);
  const char *in_factories = strstr(dcnn_last_error(), "bytes (");
  assert_non_null(in_factories);
  assert_true(strtoll(in_factories + 7, NULL, 10) >= (INT64_C(17) << 22)); /* the table, and the layer's handle */
  assert_error_mentions("of them in factories)");
  dcnn_model_destroy(m);
  f = fopen(other, "rb");
  assert_null(f);
  table_in_factory = 0;
  assert_ok(dcnn_layer_unregister("test.table"));
}

/* ---- numbers without a locale object ---- */

#include <dlfcn.h>
#include <errno.h>

/* When set, newlocale fails as it does out of memory: text numbers must not depend on a locale object. */
static int refuse_newlocale = 0;

locale_t newlocale(int mask, const char *name, locale_t base) {
  if (refuse_newlocale) {
    errno = ENOMEM;
    return (locale_t)0;
  }
  locale_t (*real)(int, const char *, locale_t) = NULL;
  *(void **)&real = dlsym(RTLD_NEXT, "newlocale");
  return real ? real(mask, name, base) : (locale_t)0;
}

/* Runs files_do_not_depend_on_the_locale in a fresh process in which newlocale always fails. */
/* A describe() that fails without a message of its own. */
static dcnn_status failing_describe(const void *self, char *buf, int32_t size) {
  (void)self;
  snprintf(buf, (size_t)size, "half=");
  return DCNN_ERR_INVALID_STATE;
}

/* One value a sample: the output shape "(1)". */
static dcnn_status total_build(void *self, dcnn_context *ctx, const dcnn_shape *in, dcnn_shape *out) {
  (void)self;
  (void)ctx;
  (void)in;
  *out = dcnn_shape_make(1, 1, 0, 0, 0);
  return DCNN_OK;
}

/* Constructors took sizes their readers refuse (units=65537, stride=1025),
 * and a file of 65,536 metadata entries gained library_version: each save
 * wrote a file the loader refused, over the last good one. Now the
 * constructors refuse those sizes and the save refuses the metadata. A
 * custom describe() failing gave a stale message; the summary read past "(1)". */
static void saves_only_what_loads_and_summaries_any_layer(void **state) {
  (void)state;
  dcnn_model *good = small_model();
  assert_ok(dcnn_model_save(good, path)); /* the last good file */
  dcnn_model_destroy(good);
  dcnn_layer *refused = NULL;
  assert_status(dcnn_conv2d_create(2, 1, 1025, DCNN_PADDING_VALID, DCNN_NO_BIAS, &refused), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_dense_create(65537, DCNN_NO_BIAS, &refused), DCNN_ERR_INVALID_ARGUMENT);
  assert_null(refused);
  dcnn_model *kept = NULL;
  assert_ok(dcnn_model_load(NULL, path, &kept)); /* still the good one */
  dcnn_model_destroy(kept);

  craft many = many_metadata_keys(65536);
  dcnn_model *loaded = NULL;
  assert_ok(dcnn_model_load_memory(NULL, many.data, many.size, &loaded));
  free(many.data);
  assert_status(dcnn_model_save(loaded, path), DCNN_ERR_UNSUPPORTED);
  assert_error_mentions("65537 metadata entries with library_version");
  dcnn_model_destroy(loaded);

  dcnn_layer_vtable silent = scalar_vtable, total = scalar_vtable;
  silent.describe = failing_describe;
  total.build = total_build;
  total.param_count = NULL;
  total.param = NULL;
  total.describe = NULL;
  for (int k = 0; k < 2; ++k) {
    dcnn_model *m = small_model();
    scalar_scale *self = calloc(1, sizeof *self);
    assert_non_null(self);
    dcnn_layer *l = NULL;
    assert_ok(dcnn_layer_create(k == 0 ? &silent : &total, self, &l));
    assert_ok(dcnn_model_add(m, l));
    char settings[64] = "stale";
    if (k == 0) {
      dcnn_error_set(DCNN_ERR_IO, "stale text");
      assert_status(dcnn_layer_describe(l, settings, sizeof settings), DCNN_ERR_INVALID_STATE); /* the slot's own */
      assert_error_mentions("test.scalar_scale': describe()");
      assert_null(strstr(dcnn_last_error(), "stale text"));
    } else {
      assert_ok(dcnn_layer_describe(l, settings, sizeof settings)); /* no describe slot */
    }
    assert_string_equal(settings, "");
    char *text = NULL;
    dcnn_clear_error();
    assert_ok(dcnn_model_summary(m, &text));
    assert_string_equal(dcnn_last_error(), ""); /* a success leaves the message alone */
    if (k == 1) assert_non_null(strstr(text, "(None)"));
    dcnn_free(text);
    if (k == 0) {
      dcnn_error_set(DCNN_ERR_IO, "stale text");
      assert_status(dcnn_model_save(m, path), DCNN_ERR_UNSUPPORTED);
      assert_null(strstr(dcnn_last_error(), "stale text"));
      assert_error_mentions("describe()");
      assert_error_mentions("failed with 'invalid state' without setting a message"); /* what it returned */
    }
    dcnn_model_destroy(m);
  }
}

/* dcnn_layer_describe gives the text a model file keeps, which
 * dcnn_layer_from_config turns back into the same layer; a buffer the text
 * fills is refused rather than cut short silently. */
static void layers_describe_their_settings(void **state) {
  (void)state;
  dcnn_layer *conv = NULL, *again = NULL, *custom = NULL;
  assert_ok(dcnn_conv2d_create(7, 3, 2, DCNN_PADDING_SAME, DCNN_NO_BIAS, &conv));
  char text[1024], copy[1024];
  assert_ok(dcnn_layer_describe(conv, text, sizeof text));
  assert_non_null(strstr(text, "filters=7"));
  assert_non_null(strstr(text, "stride=2"));
  assert_ok(dcnn_layer_from_config(dcnn_layer_type(conv), text, &again));
  assert_ok(dcnn_layer_describe(again, copy, sizeof copy));
  assert_string_equal(copy, text);
  const int32_t exact = (int32_t)strlen(text) + 1;
  assert_ok(dcnn_layer_describe(conv, copy, exact + 1));
  assert_status(dcnn_layer_describe(conv, copy, exact), DCNN_ERR_INVALID_ARGUMENT); /* fills it */
  assert_error_mentions("cut short");
  assert_string_equal(copy, "");
  assert_status(dcnn_layer_describe(conv, copy, 0), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_layer_describe(conv, NULL, 8), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_layer_describe(NULL, copy, 8), DCNN_ERR_INVALID_ARGUMENT);
  assert_string_equal(copy, "");
  assert_ok(scalar_create(0.25f, &custom));
  assert_ok(dcnn_layer_describe(custom, text, sizeof text));
  assert_string_equal(text, "initial=0.25");
  dcnn_layer_destroy(custom);
  dcnn_layer_destroy(again);
  dcnn_layer_destroy(conv);
}

static void files_do_not_depend_on_a_locale_object(void **state) {
  (void)state;
  fflush(NULL);
  const pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    setenv("DCNN_TEST_REFUSE_NEWLOCALE", "1", 1);
    char *const argv[] = {"test_model_file", NULL};
    execv("/proc/self/exe", argv);
    _exit(127);
  }
  int wstatus = 0;
  assert_int_equal(waitpid(pid, &wstatus, 0), pid);
  assert_true(WIFEXITED(wstatus));
  assert_int_equal(WEXITSTATUS(wstatus), 0);
}

int main(void) {
  if (getenv("DCNN_TEST_REFUSE_NEWLOCALE")) {
    refuse_newlocale = 1;
    const struct CMUnitTest without_newlocale[] = {cmocka_unit_test(files_do_not_depend_on_the_locale)};
    return cmocka_run_group_tests(without_newlocale, setup, teardown);
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(round_trip_is_bit_identical),
      cmocka_unit_test(layers_describe_their_settings),
      cmocka_unit_test(every_flipped_byte_and_truncation_is_refused),
      cmocka_unit_test(crafted_files_get_clear_errors),
      cmocka_unit_test(a_negative_batchnorm_variance_is_refused),
      cmocka_unit_test(a_configuration_too_long_to_save_is_refused),
      cmocka_unit_test(user_layers_load_once_registered),
      cmocka_unit_test(builtin_layers_read_their_own_configuration),
      cmocka_unit_test(residual_blocks_and_compression_round_trip),
      cmocka_unit_test(metadata_round_trips),
      cmocka_unit_test(rich_files_refuse_every_corruption),
      cmocka_unit_test(version_1_golden_file_loads),
      cmocka_unit_test(failed_saves_keep_the_previous_file),
      cmocka_unit_test(a_save_killed_midway_leaves_the_previous_file),
      cmocka_unit_test(hostile_files_cost_bounded_time_and_memory),
      cmocka_unit_test(files_go_through_the_context_allocator),
      cmocka_unit_test(layer_builds_refuse_overflowing_shapes),
      cmocka_unit_test(config_readers_check_many_pairs_in_bounded_time),
      cmocka_unit_test(every_failed_allocation_of_a_load_is_reported),
      cmocka_unit_test(files_do_not_depend_on_the_locale),
      cmocka_unit_test(compressed_saves_of_zeros_load),
      cmocka_unit_test(metadata_beyond_a_file_is_refused_when_set),
      cmocka_unit_test(metadata_entries_leave_room_for_the_version),
      cmocka_unit_test(layers_beyond_a_file_are_refused_when_added),
      cmocka_unit_test(residual_nesting_of_the_documented_depth_round_trips),
      cmocka_unit_test(empty_and_reserved_section_headers_are_checked),
      cmocka_unit_test(layers_state_beyond_parameters_saves_only_if_it_loads),
      cmocka_unit_test(files_do_not_depend_on_a_locale_object),
      cmocka_unit_test(saves_only_what_loads_and_summaries_any_layer),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
