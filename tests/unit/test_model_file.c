/* Model files: bit-identical round trips, every byte flipped, every
 * truncation, hand-made bad files, unsupported layers, atomic replacement. */
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

/* A well-formed file with the given architecture text and no parameters. */
static void write_crafted(const char *p, uint32_t version, const char *arch) {
  unsigned char buf[2048];
  size_t n = 0, len = strlen(arch);
  memcpy(buf, "DCNNMODL", 8);
  n = 8;
#define U32(v) do { uint32_t v_ = (v); for (int k = 0; k < 4; ++k) buf[n++] = (unsigned char)(v_ >> (8 * k)); } while (0)
  U32(version);
  U32(2);
  U32(0x48435241u);
  U32((uint32_t)crc32(0L, (const Bytef *)arch, (uInt)len));
  U32((uint32_t)len);
  U32(0);
  memcpy(buf + n, arch, len);
  n += len;
  const unsigned char zero[4] = {0, 0, 0, 0};
  U32(0x4D524150u);
  U32((uint32_t)crc32(0L, zero, 4));
  U32(4);
  U32(0);
  U32(0);
#undef U32
  write_all(p, buf, (long)n);
}

static void crafted_files_get_clear_errors(void **state) {
  (void)state;
  dcnn_model *m = NULL;
  write_crafted(other, 1, "input 1 4\nlayer relu \n");
  assert_ok(dcnn_model_load(NULL, other, &m)); /* a valid minimal file */
  dcnn_model_destroy(m);
  write_crafted(other, 2, "input 1 4\nlayer relu \n");
  assert_status(dcnn_model_load(NULL, other, &m), DCNN_ERR_UNSUPPORTED);
  assert_error_mentions("format version 2 is newer");
  write_crafted(other, 1, "input 1 4\nlayer wavelet k=3\n");
  assert_status(dcnn_model_load(NULL, other, &m), DCNN_ERR_NOT_FOUND);
  assert_error_mentions("unknown layer type 'wavelet' (known: conv2d");
  write_crafted(other, 1, "input 3 1 8 8\nlayer conv2d filters=4 kernel=3 stride=1 padding=diagonal bias=0\n");
  assert_status(dcnn_model_load(NULL, other, &m), DCNN_ERR_BAD_FORMAT);
  assert_error_mentions("architecture line 2");
  write_crafted(other, 1, "input 3 1 8 8\nlayer dense units=4 bias=1\n");
  assert_status(dcnn_model_load(NULL, other, &m), DCNN_ERR_BAD_FORMAT);
  assert_error_mentions("flatten");
  write_crafted(other, 1, "input 1 4\nlayer dense units=99999999 bias=1\n");
  assert_status(dcnn_model_load(NULL, other, &m), DCNN_ERR_BAD_FORMAT);
  write_crafted(other, 1, "input 1 4\nlayer dense units=3 bias=1\n"); /* needs 2 tensors, the file has 0 */
  assert_status(dcnn_model_load(NULL, other, &m), DCNN_ERR_BAD_FORMAT);
  assert_error_mentions("0 parameter tensors, the architecture has 2");
  write_crafted(other, 1, "input 9 4\nlayer relu \n");
  assert_status(dcnn_model_load(NULL, other, &m), DCNN_ERR_BAD_FORMAT);
  write_crafted(other, 1, "");
  assert_status(dcnn_model_load(NULL, other, &m), DCNN_ERR_BAD_FORMAT);
  assert_status(dcnn_model_load(NULL, "/nonexistent/model.dcnn", &m), DCNN_ERR_IO);
  write_all(other, (const unsigned char *)"not a model at all", 18);
  assert_status(dcnn_model_load(NULL, other, &m), DCNN_ERR_BAD_FORMAT);
  assert_error_mentions("wrong magic");
  assert_null(m);
}

static void failed_saves_keep_the_previous_file(void **state) {
  (void)state;
  dcnn_model *m = small_model();
  assert_ok(dcnn_model_save(m, path));
  /* A residual block cannot be saved yet: the save fails and the old file stays valid. */
  dcnn_shape in = dcnn_shape_make(3, 2, 4, 4, 0);
  dcnn_model *r = NULL;
  assert_ok(dcnn_model_create(NULL, &in, &r));
  dcnn_layer *body = NULL, *block = NULL;
  assert_ok(dcnn_conv2d_create(2, 3, 1, DCNN_PADDING_SAME, 1, &body));
  assert_ok(dcnn_residual_create(&body, 1, NULL, 0, 1, &block));
  assert_ok(dcnn_model_add(r, block));
  assert_status(dcnn_model_save(r, path), DCNN_ERR_UNSUPPORTED);
  assert_error_mentions("residual");
  dcnn_model *loaded = NULL;
  assert_ok(dcnn_model_load(NULL, path, &loaded));
  dcnn_model_destroy(loaded);
  assert_status(dcnn_model_save(m, "/nonexistent-dir/m.dcnn"), DCNN_ERR_IO);
  dcnn_model_destroy(r);
  dcnn_model_destroy(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(round_trip_is_bit_identical),
      cmocka_unit_test(every_flipped_byte_and_truncation_is_refused),
      cmocka_unit_test(crafted_files_get_clear_errors),
      cmocka_unit_test(failed_saves_keep_the_previous_file),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
