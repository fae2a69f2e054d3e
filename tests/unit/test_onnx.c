/* ONNX export and import (docs/onnx.md): every zoo model and every built-in
 * layer survives export -> import with identical predictions and metadata;
 * user layers export through their vtable slot or fail by name; unsupported
 * operators are named; truncated and corrupted files fail without crashing.
 * (tests/onnx/check_onnx.py checks the files with other software.) */
#include <stdlib.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "test_support.h"

/* A (n, sample) tensor of uniform [0, 1) values. */
static dcnn_tensor *random_input(const dcnn_model *m, int32_t n, uint64_t seed) {
  const dcnn_shape s = dcnn_model_input_shape(m);
  dcnn_shape x = dcnn_shape_make(s.ndim + 1, n, s.dims[0], s.dims[1], s.dims[2]);
  dcnn_tensor *t = NULL;
  assert_ok(dcnn_tensor_create(NULL, &x, &t));
  assert_ok(dcnn_tensor_fill_random(t, DCNN_DIST_UNIFORM, 0.0f, 1.0f, seed, 0));
  return t;
}

static dcnn_tensor *predict(dcnn_model *m, const dcnn_tensor *x) {
  const dcnn_shape s = dcnn_model_output_shape(m);
  dcnn_shape ys = dcnn_shape_make(s.ndim + 1, dcnn_tensor_shape(x).dims[0], s.dims[0], s.dims[1], s.dims[2]);
  dcnn_tensor *y = NULL;
  assert_ok(dcnn_tensor_create(NULL, &ys, &y));
  assert_ok(dcnn_model_predict(m, x, y));
  return y;
}

/* Export to memory, import, and compare predictions bit for bit; returns the import. */
static dcnn_model *round_trip_at(dcnn_model *m, const char *name, int32_t opset) {
  void *data = NULL;
  size_t size = 0;
  dcnn_onnx_export_options o;
  dcnn_onnx_export_options_init(&o);
  o.opset = opset;
  assert_ok(dcnn_model_export_onnx_memory(m, &o, &data, &size));
  dcnn_model *back = NULL;
  assert_ok(dcnn_model_import_onnx_memory(NULL, data, size, &back));
  dcnn_free(data);
  /* Opset 10's Gemm needs a bias: a dense layer without one comes back with zeros. */
  if (opset >= 11)
    assert_int_equal(dcnn_model_param_count(back, DCNN_PARAM_TRAINABLE | DCNN_PARAM_BUFFER),
                     dcnn_model_param_count(m, DCNN_PARAM_TRAINABLE | DCNN_PARAM_BUFFER));
  dcnn_tensor *x = random_input(m, 3, 11);
  dcnn_tensor *a = predict(m, x), *b = predict(back, x);
  const float *pa = dcnn_tensor_data_const(a), *pb = dcnn_tensor_data_const(b);
  float worst = 0;
  for (int64_t i = 0; i < dcnn_tensor_count(a); ++i) worst = fabsf(pa[i] - pb[i]) > worst ? fabsf(pa[i] - pb[i]) : worst;
  print_message("%s (opset %d): %d layers -> %d, max |difference| %g\n", name, (int)opset, (int)dcnn_model_layer_count(m),
                (int)dcnn_model_layer_count(back), (double)worst);
  assert_memory_equal(pa, pb, (size_t)dcnn_tensor_count(a) * sizeof(float));
  dcnn_tensor_destroy(x);
  dcnn_tensor_destroy(a);
  dcnn_tensor_destroy(b);
  return back;
}

static dcnn_model *round_trip(dcnn_model *m, const char *name) { return round_trip_at(m, name, 13); }

/* Two Adam steps, so that weights and batch-norm statistics are not their initial values. */
static void train_briefly(dcnn_model *m) {
  dcnn_optimizer *adam = NULL;
  assert_ok(dcnn_optimizer_create_adam(NULL, 1e-3f, 0.9f, 0.999f, 1e-7f, 0.0f, &adam));
  dcnn_tensor *x = random_input(m, 4, 3);
  const int32_t labels[4] = {0, 1, 2, 3};
  float loss = 0;
  for (int step = 0; step < 2; ++step) assert_ok(dcnn_model_train_step(m, adam, x, labels, &loss, NULL));
  dcnn_tensor_destroy(x);
  dcnn_optimizer_destroy(adam);
}

static void zoo_models_round_trip(void **state) {
  (void)state;
  static const char *const names[] = {"paper", "lenet5", "resnet50", "mobilenetv2", "vgg16_bn"};
  for (int which = 0; which < 5; ++which) {
    dcnn_zoo_options o = *test_zoo(32, 32, 1, 10, 1);
    o.dense_units = 32;
    o.batch_norm = 1;
    dcnn_model *m = NULL;
    switch (which) {
      case 0: assert_ok(dcnn_zoo_paper_cnn(NULL, &o, &m)); break;
      case 1: assert_ok(dcnn_zoo_lenet5(NULL, &o, &m)); break;
      case 2: assert_ok(dcnn_zoo_resnet50(NULL, &o, &m)); break;
      case 3: assert_ok(dcnn_zoo_mobilenetv2(NULL, &o, &m)); break;
      default: assert_ok(dcnn_zoo_vgg16(NULL, &o, &m)); break;
    }
    train_briefly(m);
    assert_ok(dcnn_model_set_metadata(m, "classes", "zero,one,two,three,four,five,six,seven,eight,nine"));
    dcnn_model *back = round_trip(m, names[which]);
    assert_string_equal(dcnn_model_metadata(back, "classes"), "zero,one,two,three,four,five,six,seven,eight,nine");
    dcnn_model_destroy(back);
    dcnn_model_destroy(m);
  }
}

static void add(dcnn_model *m, dcnn_status created, dcnn_layer **l) {
  assert_ok(created);
  assert_ok(dcnn_model_add(m, *l));
}

/* Every built-in layer type, with 'same' and 'valid' windows, strides and both residual forms. */
static void every_layer_round_trips(void **state) {
  (void)state;
  dcnn_shape sample = dcnn_shape_make(3, 3, 13, 11, 0);
  dcnn_model *m = NULL;
  dcnn_layer *l = NULL;
  assert_ok(dcnn_model_create(NULL, &sample, &m));
  add(m, dcnn_conv2d_create(8, 3, 2, DCNN_PADDING_SAME, DCNN_WITH_BIAS, &l), &l);
  add(m, dcnn_batchnorm_create(0.9f, 1e-3f, &l), &l);
  add(m, dcnn_layer_from_config("leaky_relu", "alpha=0.1", &l), &l);
  add(m, dcnn_depthwise_conv2d_create(3, 1, DCNN_PADDING_SAME, DCNN_WITH_BIAS, &l), &l);
  add(m, dcnn_relu6_create(&l), &l);
  dcnn_layer *body[3], *shortcut[1];
  assert_ok(dcnn_conv2d_create(8, 3, 1, DCNN_PADDING_SAME, DCNN_NO_BIAS, &body[0]));
  assert_ok(dcnn_batchnorm_relu_create(0.9f, 1e-3f, &body[1]));
  assert_ok(dcnn_conv2d_create(8, 1, 1, DCNN_PADDING_VALID, DCNN_WITH_BIAS, &body[2]));
  add(m, dcnn_residual_create(body, 3, NULL, 0, DCNN_RESIDUAL_RELU, &l), &l);
  assert_ok(dcnn_conv2d_create(12, 3, 1, DCNN_PADDING_SAME, DCNN_NO_BIAS, &body[0]));
  assert_ok(dcnn_conv2d_create(12, 1, 1, DCNN_PADDING_VALID, DCNN_NO_BIAS, &shortcut[0]));
  add(m, dcnn_residual_create(body, 1, shortcut, 1, DCNN_RESIDUAL_LINEAR, &l), &l);
  add(m, dcnn_tanh_create(&l), &l);
  add(m, dcnn_maxpool2d_create(3, 2, DCNN_PADDING_SAME, &l), &l);
  add(m, dcnn_avgpool2d_create(2, 1, DCNN_PADDING_SAME, &l), &l);
  add(m, dcnn_sigmoid_create(&l), &l);
  add(m, dcnn_conv2d_create(6, 2, 1, DCNN_PADDING_VALID, DCNN_WITH_BIAS, &l), &l);
  add(m, dcnn_relu_create(&l), &l);
  add(m, dcnn_dropout_create(0.3f, &l), &l);
  add(m, dcnn_flatten_create(&l), &l);
  add(m, dcnn_dense_create(16, DCNN_NO_BIAS, &l), &l);
  add(m, dcnn_batchnorm_relu_create(0.9f, 1e-3f, &l), &l);
  add(m, dcnn_dense_create(5, DCNN_WITH_BIAS, &l), &l);
  add(m, dcnn_softmax_create(&l), &l);
  assert_ok(dcnn_model_init(m, 7));
  train_briefly(m);
  /* Opsets 10 (Clip and Dropout with attributes, Gemm with a zero bias) to 17. */
  for (int32_t opset = 10; opset <= 17; ++opset) dcnn_model_destroy(round_trip_at(m, "every layer", opset));
  dcnn_model *back = round_trip(m, "every layer");
  train_briefly(back); /* an import trains like any model */
  dcnn_model_destroy(back);
  dcnn_model_destroy(m);
  /* Global average pooling, and an avgpool over 'valid' windows. */
  assert_ok(dcnn_model_create(NULL, &sample, &m));
  add(m, dcnn_avgpool2d_create(2, 2, DCNN_PADDING_VALID, &l), &l);
  add(m, dcnn_conv2d_create(4, 3, 1, DCNN_PADDING_SAME, DCNN_WITH_BIAS, &l), &l);
  add(m, dcnn_global_avgpool_create(&l), &l);
  add(m, dcnn_dense_create(4, DCNN_WITH_BIAS, &l), &l);
  add(m, dcnn_softmax_create(&l), &l);
  assert_ok(dcnn_model_init(m, 8));
  back = round_trip(m, "global pooling");
  dcnn_model_destroy(back);
  dcnn_model_destroy(m);
}

/* A user layer y = 2x, exported as Mul by a constant through the vtable slot. */
static dcnn_status twice_build(void *self, dcnn_context *ctx, const dcnn_shape *in, dcnn_shape *out) {
  (void)self, (void)ctx;
  *out = *in;
  return DCNN_OK;
}
static dcnn_status twice_forward(void *self, dcnn_exec *exec, const dcnn_tensor *x, dcnn_tensor *y) {
  (void)self, (void)exec;
  for (int64_t i = 0; i < dcnn_tensor_count(x); ++i) dcnn_tensor_data(y)[i] = 2 * dcnn_tensor_data_const(x)[i];
  return DCNN_OK;
}
static void twice_destroy(void *self) { (void)self; }
static dcnn_status twice_export(const void *self, dcnn_onnx_graph *g, const char *input, const char *output) {
  (void)self;
  static float two = 2.0f;
  dcnn_shape s = dcnn_shape_make(1, 1, 0, 0, 0);
  dcnn_tensor *t = NULL;
  const char *inputs[2] = {input, NULL};
  dcnn_status st = dcnn_tensor_wrap(NULL, &s, &two, &t);
  if (st == DCNN_OK) st = dcnn_onnx_graph_initializer(g, "two", t, &inputs[1]);
  dcnn_tensor_destroy(t); /* the wrapped value is static: it outlives the export */
  if (st == DCNN_OK) st = dcnn_onnx_graph_node(g, "Mul", inputs, 2, &output, 1, NULL);
  return st;
}

static void user_layers(void **state) {
  (void)state;
  static const dcnn_layer_vtable with_slot = {.abi_version = DCNN_LAYER_ABI_VERSION, .type_name = "test.twice",
                                              .build = twice_build, .forward = twice_forward,
                                              .destroy = twice_destroy, .export_onnx = twice_export};
  static const dcnn_layer_vtable without = {.abi_version = 2, .type_name = "test.twice_v2", .build = twice_build,
                                            .forward = twice_forward, .destroy = twice_destroy};
  dcnn_shape sample = dcnn_shape_make(1, 6, 0, 0, 0);
  for (int slot = 0; slot < 2; ++slot) {
    dcnn_model *m = NULL;
    dcnn_layer *l = NULL;
    assert_ok(dcnn_model_create(NULL, &sample, &m));
    add(m, dcnn_dense_create(4, DCNN_WITH_BIAS, &l), &l);
    add(m, dcnn_layer_create(slot ? &with_slot : &without, m, &l), &l);
    assert_ok(dcnn_model_init(m, 1));
    void *data = NULL;
    size_t size = 0;
    if (!slot) {
      assert_status(dcnn_model_export_onnx_memory(m, NULL, &data, &size), DCNN_ERR_UNSUPPORTED);
      assert_error_mentions("layer 1 (test.twice_v2)");
      assert_null(data);
    } else {
      assert_ok(dcnn_model_export_onnx_memory(m, NULL, &data, &size));
      dcnn_model *back = NULL;
      /* Mul is not an operator the importer makes a layer of: the node and operator are named. */
      assert_status(dcnn_model_import_onnx_memory(NULL, data, size, &back), DCNN_ERR_UNSUPPORTED);
      assert_error_mentions("(Mul)");
      assert_error_mentions("operator 'Mul' is not supported");
      assert_null(back);
      dcnn_free(data);
    }
    dcnn_model_destroy(m);
  }
}

/* Options are checked; the file form writes what the memory form does. */
static void options_and_files(void **state) {
  (void)state;
  dcnn_model *m = NULL;
  assert_ok(dcnn_zoo_lenet5(NULL, test_zoo(32, 32, 1, 10, 1), &m));
  dcnn_onnx_export_options o;
  dcnn_onnx_export_options_init(&o);
  assert_int_equal(o.opset, 13);
  o.opset = 18;
  void *data = NULL;
  size_t size = 0;
  assert_status(dcnn_model_export_onnx_memory(m, &o, &data, &size), DCNN_ERR_INVALID_ARGUMENT);
  o.opset = 9;
  assert_status(dcnn_model_export_onnx_memory(m, &o, &data, &size), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("opset 9 is outside 10..17");
  o.opset = 17;
  o.input_name = "images";
  o.output_name = "probabilities";
  char path[] = "/tmp/test_onnx_XXXXXX";
  const int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  assert_ok(dcnn_model_export_onnx(m, path, &o));
  dcnn_model *back = NULL;
  assert_ok(dcnn_model_import_onnx(NULL, path, &back));
  dcnn_model_destroy(back);
  unlink(path);
  assert_status(dcnn_model_import_onnx(NULL, path, &back), DCNN_ERR_IO);
  assert_int_equal(dcnn_onnx_available(), 1);
  dcnn_model_destroy(m);
}

/* Every prefix of a valid file, and files with bytes changed, fail cleanly or import a working model. */
static void hostile_files(void **state) {
  (void)state;
  dcnn_model *m = NULL;
  assert_ok(dcnn_zoo_paper_cnn(NULL, test_zoo(8, 8, 1, 3, 1), &m));
  void *data = NULL;
  size_t size = 0;
  assert_ok(dcnn_model_export_onnx_memory(m, NULL, &data, &size));
  dcnn_model_destroy(m);
  uint8_t *copy = malloc(size);
  assert_non_null(copy);
  int32_t imported = 0;
  for (size_t n = 0; n < size; n += 1 + n / 64) {
    dcnn_model *back = NULL;
    assert_int_not_equal(dcnn_model_import_onnx_memory(NULL, data, n, &back), DCNN_OK);
    assert_null(back);
  }
  uint64_t state_rng = 12345;
  for (int trial = 0; trial < 2000; ++trial) {
    memcpy(copy, data, size);
    for (int k = 0; k < 1 + trial % 4; ++k) {
      state_rng = state_rng * 6364136223846793005u + 1442695040888963407u;
      copy[(state_rng >> 33) % size] ^= (uint8_t)(1u << ((state_rng >> 20) & 7));
    }
    dcnn_model *back = NULL;
    if (dcnn_model_import_onnx_memory(NULL, copy, size, &back) == DCNN_OK) {
      ++imported; /* a flipped weight bit: still a model */
      dcnn_model_destroy(back);
    } else {
      assert_null(back);
    }
  }
  print_message("corrupted files that still imported: %d of 2000\n", (int)imported);
  dcnn_model *back = NULL;
  assert_status(dcnn_model_import_onnx_memory(NULL, "\x08\x07", 2, &back), DCNN_ERR_BAD_FORMAT);
  free(copy);
  dcnn_free(data);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(every_layer_round_trips), cmocka_unit_test(user_layers),
      cmocka_unit_test(options_and_files),       cmocka_unit_test(hostile_files),
      cmocka_unit_test(zoo_models_round_trip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
