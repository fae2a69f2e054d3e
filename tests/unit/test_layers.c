/* Every built-in layer's backward pass against central finite differences,
 * for several shapes (odd sizes, stride 2, 'valid' padding), plus forward
 * values on hand-computed cases and argument errors. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "digitcnn/registry.h"
#include "layers/layer_internal.h"
#include "test_support.h"

#define GRAD_TOLERANCE 2e-2

static void check(dcnn_layer *layer, dcnn_shape input, uint64_t seed) {
  dcnn_context *ctx = test_context(2);
  double error = -1;
  assert_ok(dcnn_layer_check_gradients(layer, ctx, &input, seed, &error));
  char text[48];
  if (!(error >= 0 && error < GRAD_TOLERANCE))
    fail_msg("%s on %s: max relative gradient error %g", dcnn_layer_type(layer),
             dcnn_shape_format(&input, text, sizeof text), error);
  dcnn_layer_destroy(layer);
  assert_int_equal(dcnn_context_live_allocations(ctx), 0);
  dcnn_context_destroy(ctx);
}

static void conv2d_gradients(void **state) {
  (void)state;
  const struct {
    int32_t filters, kernel, stride;
    dcnn_padding padding;
    int bias;
    dcnn_shape input;
  } cases[] = {
      {4, 3, 1, DCNN_PADDING_SAME, 0, {4, {2, 3, 6, 6}}},
      {3, 3, 1, DCNN_PADDING_SAME, 1, {4, {3, 2, 7, 5}}},
      {2, 3, 2, DCNN_PADDING_SAME, 1, {4, {2, 2, 7, 7}}},
      {5, 3, 2, DCNN_PADDING_VALID, 0, {4, {2, 1, 9, 8}}},
      {3, 5, 1, DCNN_PADDING_VALID, 1, {4, {1, 2, 8, 8}}},
      {4, 1, 1, DCNN_PADDING_SAME, 1, {4, {3, 3, 4, 4}}},
      {2, 2, 2, DCNN_PADDING_SAME, 0, {4, {2, 2, 5, 5}}},
      /* >= 256 output pixels: one GEMM per image, straight into NCHW */
      {3, 3, 1, DCNN_PADDING_SAME, 1, {4, {2, 2, 16, 17}}},
      {2, 3, 1, DCNN_PADDING_VALID, 0, {4, {3, 1, 20, 19}}},
      /* the odd padding row and column before */
      {3, 3, 2, DCNN_PADDING_SAME_LOWER, 1, {4, {2, 2, 8, 6}}},
      {2, 2, 1, DCNN_PADDING_SAME_LOWER, 0, {4, {2, 2, 5, 4}}},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
    dcnn_layer *l = NULL;
    assert_ok(dcnn_conv2d_create(cases[i].filters, cases[i].kernel, cases[i].stride, cases[i].padding,
                                 cases[i].bias ? DCNN_WITH_BIAS : DCNN_NO_BIAS, &l));
    check(l, cases[i].input, 100 + i);
  }
}

static void batchnorm_gradients(void **state) {
  (void)state;
  dcnn_shape shapes[] = {{4, {4, 3, 5, 5}}, {4, {3, 2, 3, 7}}, {2, {6, 5, 0, 0}}, {2, {5, 1, 0, 0}}};
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; ++i) {
    dcnn_layer *l = NULL;
    assert_ok(dcnn_batchnorm_create(0.9f, 1e-3f, &l));
    check(l, shapes[i], 200 + i);
    assert_ok(dcnn_batchnorm_relu_create(0.9f, 1e-3f, &l));
    check(l, shapes[i], 210 + i);
  }
}

/* Batch norm's gradients where a channel's mean is large against its spread (x = 1000 + U(-1, 1)):
 * sum(g x) - mean sum(g) lost about 5e-4 of gamma's gradient here. The reference is float64 but
 * centred on the batch mean rounded to float32, as the layer's is (that rounding alone moves the
 * gradient by up to 2e-4 of its size at this ratio, whichever way it is summed), for planes and for
 * (N, F) rows. */
static void batchnorm_gradients_with_a_large_mean(void **state) {
  (void)state;
  const dcnn_shape shapes[2] = {{4, {8, 2, 16, 16}}, {2, {512, 4, 0, 0}}};
  for (int kind = 0; kind < 2; ++kind) {
    const dcnn_shape xs = shapes[kind];
    const dcnn_shape sample = kind == 0 ? dcnn_shape_make(3, 2, 16, 16, 0) : dcnn_shape_make(1, 4, 0, 0, 0);
    dcnn_model *m = NULL;
    assert_ok(dcnn_model_create(NULL, &sample, &m));
    dcnn_layer *bn = NULL;
    assert_ok(dcnn_batchnorm_create(0.9f, 1e-3f, &bn));
    assert_ok(dcnn_model_add(m, bn));
    assert_ok(dcnn_model_init(m, 1));
    dcnn_tensor *x = NULL;
    assert_ok(dcnn_tensor_create(NULL, &xs, &x));
    assert_ok(dcnn_tensor_fill_random(x, DCNN_DIST_UNIFORM, 999.0f, 1001.0f, 7, 0));
    const dcnn_tensor *scores = NULL;
    dcnn_tensor *grad = NULL;
    assert_ok(dcnn_model_forward(m, x, DCNN_PASS_TRAINING, &scores, &grad));
    assert_ok(dcnn_tensor_fill_random(grad, DCNN_DIST_NORMAL, 0.0f, 1.0f, 8, 0));
    assert_ok(dcnn_model_backward(m, x, NULL));
    dcnn_param gamma = DCNN_STRUCT_INIT(dcnn_param);
    assert_ok(dcnn_layer_param(bn, 0, &gamma));
    assert_string_equal(gamma.name, "gamma");
    const int32_t n = xs.dims[0], c_n = xs.dims[1], p = kind == 0 ? xs.dims[2] * xs.dims[3] : 1;
    const float *xv = dcnn_tensor_data_const(x), *g = dcnn_tensor_data_const(grad);
    double worst = 0, largest = 0;
    for (int32_t c = 0; c < c_n; ++c) {
      double mean = 0, var = 0, dgamma = 0;
      for (int32_t i = 0; i < n; ++i)
        for (int32_t j = 0; j < p; ++j) mean += xv[((int64_t)i * c_n + c) * p + j];
      mean /= (double)n * p;
      for (int32_t i = 0; i < n; ++i)
        for (int32_t j = 0; j < p; ++j) var += pow(xv[((int64_t)i * c_n + c) * p + j] - mean, 2);
      var /= (double)n * p;
      const double centre = (float)mean;
      for (int32_t i = 0; i < n; ++i)
        for (int32_t j = 0; j < p; ++j) {
          const int64_t at = ((int64_t)i * c_n + c) * p + j;
          dgamma += g[at] * (xv[at] - centre) / sqrt(var + 1e-3);
        }
      const double error = fabs(dcnn_tensor_data_const(gamma.grad)[c] - dgamma);
      if (error > worst) worst = error;
      if (fabs(dgamma) > largest) largest = fabs(dgamma);
    }
    if (!(worst <= 1e-5 * largest)) fail_msg("%s: gamma's gradient off by %.2e of its largest", kind ? "rows" : "planes",
                                             worst / largest);
    dcnn_tensor_destroy(x);
    dcnn_model_destroy(m);
  }
}

static void pointwise_gradients(void **state) {
  (void)state;
  dcnn_layer *l = NULL;
  assert_ok(dcnn_relu_create(&l));
  check(l, (dcnn_shape){4, {2, 3, 5, 5}}, 301);
  assert_ok(dcnn_dropout_create(0.4f, &l));
  check(l, (dcnn_shape){4, {2, 3, 5, 5}}, 302);
  assert_ok(dcnn_flatten_create(&l));
  check(l, (dcnn_shape){4, {2, 3, 3, 5}}, 303);
  assert_ok(dcnn_softmax_create(&l));
  check(l, (dcnn_shape){2, {4, 7, 0, 0}}, 304);
}

static void maxpool_gradients(void **state) {
  (void)state;
  const struct {
    int32_t pool, stride;
    dcnn_padding padding;
    dcnn_shape input;
  } cases[] = {
      {2, 2, DCNN_PADDING_VALID, {4, {2, 3, 6, 6}}},
      {2, 2, DCNN_PADDING_VALID, {4, {2, 2, 7, 5}}},
      {3, 2, DCNN_PADDING_SAME, {4, {2, 2, 7, 7}}},
      {2, 1, DCNN_PADDING_SAME, {4, {1, 2, 5, 4}}},
      {3, 2, DCNN_PADDING_SAME_LOWER, {4, {2, 2, 8, 6}}},
      {2, 2, DCNN_PADDING_SAME_LOWER, {4, {1, 2, 5, 5}}}, /* odd planes: not the 2x2 kernel */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
    dcnn_layer *l = NULL;
    assert_ok(dcnn_maxpool2d_create(cases[i].pool, cases[i].stride, cases[i].padding, &l));
    check(l, cases[i].input, 400 + i);
  }
}

/* The general loop's maximum starts from the window's first pixel: from
 * -FLT_MAX, a window of -inf and -FLT_MAX gave -inf, the gradient to it. */
static void maxpool_takes_the_window_maximum_at_the_float_extremes(void **state) {
  (void)state;
  dcnn_context *ctx = test_context(1);
  dcnn_layer *l = NULL;
  assert_ok(dcnn_maxpool2d_create(3, 1, DCNN_PADDING_SAME, &l)); /* not the 2 x 2 kernel */
  const dcnn_shape in = dcnn_shape_make(4, 1, 1, 1, 2);
  assert_ok(dcnn_layer_build(l, ctx, &in));
  assert_ok(dcnn__layer_plan(l, 1));
  dcnn_tensor *x = NULL, *y = NULL, *dy = NULL, *dx = NULL;
  assert_ok(dcnn_tensor_create(ctx, &in, &x));
  assert_ok(dcnn_tensor_create(ctx, &in, &y)); /* same padding, stride 1: (1, 1, 1, 2) */
  assert_ok(dcnn_tensor_create(ctx, &in, &dy));
  assert_ok(dcnn_tensor_create(ctx, &in, &dx));
  dcnn_tensor_data(x)[0] = -INFINITY;
  dcnn_tensor_data(x)[1] = -FLT_MAX;
  assert_ok(dcnn_tensor_fill(dy, 1.0f));
  dcnn_exec e = {.ctx = ctx, .training = 1, .threads = 1, .backward = 1};
  assert_ok(l->vt->forward(l->self, &e, x, y));
  assert_true(dcnn_tensor_data(y)[0] == -FLT_MAX && dcnn_tensor_data(y)[1] == -FLT_MAX);
  assert_ok(l->vt->backward(l->self, &e, x, y, dy, dx));
  assert_true(dcnn_tensor_data(dx)[0] == 0.0f && dcnn_tensor_data(dx)[1] == 2.0f); /* both windows' maximum */
  dcnn_tensor_destroy(x);
  dcnn_tensor_destroy(y);
  dcnn_tensor_destroy(dy);
  dcnn_tensor_destroy(dx);
  dcnn_layer_destroy(l);
  dcnn_context_destroy(ctx);
}

static void dense_gradients(void **state) {
  (void)state;
  dcnn_layer *l = NULL;
  assert_ok(dcnn_dense_create(7, DCNN_WITH_BIAS, &l));
  check(l, (dcnn_shape){2, {5, 11, 0, 0}}, 501);
  assert_ok(dcnn_dense_create(3, DCNN_NO_BIAS, &l));
  check(l, (dcnn_shape){2, {1, 4, 0, 0}}, 502);
}


static void depthwise_gradients(void **state) {
  (void)state;
  const struct {
    int32_t kernel, stride;
    dcnn_padding padding;
    int bias;
    dcnn_shape input;
  } cases[] = {
      {3, 1, DCNN_PADDING_SAME, 0, {4, {2, 3, 6, 6}}},
      {3, 2, DCNN_PADDING_SAME, 1, {4, {2, 4, 7, 7}}},
      {3, 2, DCNN_PADDING_VALID, 1, {4, {1, 2, 9, 8}}},
      {5, 1, DCNN_PADDING_VALID, 0, {4, {2, 2, 7, 6}}},
      {3, 2, DCNN_PADDING_SAME_LOWER, 1, {4, {2, 3, 8, 6}}},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
    dcnn_layer *l = NULL;
    assert_ok(dcnn_depthwise_conv2d_create(cases[i].kernel, cases[i].stride, cases[i].padding,
                                           cases[i].bias ? DCNN_WITH_BIAS : DCNN_NO_BIAS, &l));
    check(l, cases[i].input, 600 + i);
  }
}

static void pooling_and_activation_gradients(void **state) {
  (void)state;
  dcnn_layer *l = NULL;
  assert_ok(dcnn_avgpool2d_create(2, 2, DCNN_PADDING_VALID, &l));
  check(l, (dcnn_shape){4, {2, 3, 7, 6}}, 701);
  assert_ok(dcnn_avgpool2d_create(3, 2, DCNN_PADDING_SAME, &l));
  check(l, (dcnn_shape){4, {2, 2, 7, 7}}, 702);
  assert_ok(dcnn_avgpool2d_create(3, 2, DCNN_PADDING_SAME_LOWER, &l));
  check(l, (dcnn_shape){4, {2, 2, 8, 6}}, 705);
  assert_ok(dcnn_global_avgpool_create(&l));
  check(l, (dcnn_shape){4, {3, 4, 3, 5}}, 703);
  assert_ok(dcnn_relu6_create(&l));
  check(l, (dcnn_shape){2, {4, 9, 0, 0}}, 704);
  assert_ok(dcnn_tanh_create(&l));
  check(l, (dcnn_shape){4, {2, 3, 4, 4}}, 705);
  assert_ok(dcnn_sigmoid_create(&l));
  check(l, (dcnn_shape){2, {3, 7, 0, 0}}, 706);
}

/* leaky_relu, made by name as model files make it: forward values, gradients
 * on both sides of 0 (odd sizes, two alphas), and a model file round trip that
 * keeps alpha and the outputs. */
static void leaky_relu_values_gradients_and_files(void **state) {
  (void)state;
  dcnn_layer *l = NULL;
  assert_ok(dcnn_layer_from_config("leaky_relu", "alpha=0.25", &l));
  assert_string_equal(dcnn_layer_type(l), "leaky_relu");
  dcnn_shape in = dcnn_shape_make(1, 5, 0, 0, 0); /* one sample */
  dcnn_model *m = NULL;
  assert_ok(dcnn_model_create(NULL, &in, &m));
  assert_ok(dcnn_model_add(m, l));
  dcnn_tensor *x = NULL, *y = NULL;
  dcnn_shape xs = dcnn_shape_make(2, 1, 5, 0, 0);
  assert_ok(dcnn_tensor_create(NULL, &xs, &x));
  assert_ok(dcnn_tensor_create(NULL, &xs, &y));
  const float values[5] = {-4.0f, -0.5f, 0.0f, 0.5f, 3.0f}, expected[5] = {-1.0f, -0.125f, 0.0f, 0.5f, 3.0f};
  memcpy(dcnn_tensor_data(x), values, sizeof values);
  assert_ok(dcnn_model_predict(m, x, y));
  assert_memory_equal(dcnn_tensor_data(y), expected, sizeof expected);
  /* Saved and loaded: the same type, alpha and outputs. */
  char path[256];
  snprintf(path, sizeof path, "%s/dcnn-leaky-%d.dcnn", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
  assert_ok(dcnn_model_save(m, path));
  dcnn_model *loaded = NULL;
  assert_ok(dcnn_model_load(NULL, path, &loaded));
  remove(path);
  const dcnn_layer *back = dcnn_model_layer(loaded, 0);
  assert_string_equal(dcnn_layer_type(back), "leaky_relu");
  char config[64] = "";
  assert_ok(back->vt->describe(back->self, config, sizeof config));
  assert_string_equal(config, "alpha=0.25");
  memset(dcnn_tensor_data(y), 0, sizeof expected);
  assert_ok(dcnn_model_predict(loaded, x, y));
  assert_memory_equal(dcnn_tensor_data(y), expected, sizeof expected);
  dcnn_model_destroy(loaded);
  dcnn_model_destroy(m);
  dcnn_tensor_destroy(x);
  dcnn_tensor_destroy(y);
  /* Gradients, with a slope below and above 1 under 0. */
  assert_ok(dcnn_layer_from_config("leaky_relu", "alpha=0.01", &l));
  check(l, (dcnn_shape){4, {2, 3, 5, 7}}, 707);
  assert_ok(dcnn_layer_from_config("leaky_relu", "alpha=1.5", &l));
  check(l, (dcnn_shape){2, {3, 11, 0, 0}}, 708);
  assert_status(dcnn_layer_from_config("leaky_relu", "", &l), DCNN_ERR_BAD_FORMAT);
  assert_error_mentions("leaky_relu: missing 'alpha'");
  assert_status(dcnn_layer_from_config("leaky_relu", "alpha=nan", &l), DCNN_ERR_BAD_FORMAT);
  assert_status(dcnn_layer_from_config("leaky_relu", "alpha=0.1 slope=2", &l), DCNN_ERR_BAD_FORMAT);
  assert_error_mentions("leaky_relu: unknown key 'slope' (known: alpha)");
}

/* ResNet-style blocks: identity shortcut with ReLU after the sum, and a strided
 * projection shortcut; MobileNetV2-style: no activation after the sum. */
static void residual_gradients(void **state) {
  (void)state;
  dcnn_layer *body[3], *shortcut[2], *block = NULL;
  assert_ok(dcnn_conv2d_create(3, 3, 1, DCNN_PADDING_SAME, DCNN_NO_BIAS, &body[0]));
  assert_ok(dcnn_batchnorm_relu_create(0.9f, 1e-3f, &body[1]));
  assert_ok(dcnn_conv2d_create(3, 3, 1, DCNN_PADDING_SAME, DCNN_WITH_BIAS, &body[2]));
  assert_ok(dcnn_residual_create(body, 3, NULL, 0, DCNN_RESIDUAL_RELU, &block));
  assert_string_equal(dcnn_layer_type(block), "residual");
  check(block, (dcnn_shape){4, {2, 3, 5, 5}}, 801);

  assert_ok(dcnn_conv2d_create(4, 3, 2, DCNN_PADDING_SAME, DCNN_NO_BIAS, &body[0]));
  assert_ok(dcnn_batchnorm_create(0.9f, 1e-3f, &body[1]));
  assert_ok(dcnn_conv2d_create(4, 1, 2, DCNN_PADDING_SAME, DCNN_NO_BIAS, &shortcut[0]));
  assert_ok(dcnn_batchnorm_create(0.9f, 1e-3f, &shortcut[1]));
  assert_ok(dcnn_residual_create(body, 2, shortcut, 2, DCNN_RESIDUAL_RELU, &block));
  check(block, (dcnn_shape){4, {2, 2, 7, 7}}, 802);

  assert_ok(dcnn_depthwise_conv2d_create(3, 1, DCNN_PADDING_SAME, DCNN_NO_BIAS, &body[0]));
  assert_ok(dcnn_relu6_create(&body[1]));
  assert_ok(dcnn_conv2d_create(2, 1, 1, DCNN_PADDING_SAME, DCNN_WITH_BIAS, &body[2]));
  assert_ok(dcnn_residual_create(body, 3, NULL, 0, DCNN_RESIDUAL_LINEAR, &block));
  check(block, (dcnn_shape){4, {3, 2, 4, 4}}, 803);

  /* Parameters are enumerated with composed names. */
  assert_ok(dcnn_conv2d_create(2, 3, 1, DCNN_PADDING_SAME, DCNN_WITH_BIAS, &body[0]));
  assert_ok(dcnn_residual_create(body, 1, NULL, 0, DCNN_RESIDUAL_RELU, &block));
  dcnn_shape in = dcnn_shape_make(4, 1, 2, 4, 4);
  assert_ok(dcnn_layer_build(block, NULL, &in));
  assert_int_equal(dcnn_layer_param_tensor_count(block), 2);
  dcnn_param p = DCNN_STRUCT_INIT(dcnn_param);
  assert_ok(dcnn_layer_param(block, 1, &p));
  assert_string_equal(p.name, "body.0.bias");
  dcnn_layer_destroy(block);

  /* Mismatched branches are refused when the block is built. */
  assert_ok(dcnn_conv2d_create(5, 3, 1, DCNN_PADDING_SAME, DCNN_NO_BIAS, &body[0]));
  assert_ok(dcnn_residual_create(body, 1, NULL, 0, DCNN_RESIDUAL_RELU, &block));
  assert_status(dcnn_layer_build(block, NULL, &in), DCNN_ERR_SHAPE_MISMATCH);
  assert_error_mentions("must match to be summed");
  dcnn_layer_destroy(block);
  assert_status(dcnn_residual_create(NULL, 0, NULL, 0, DCNN_RESIDUAL_RELU, &block), DCNN_ERR_INVALID_ARGUMENT);
  assert_null(block);
}

static void constructors_reject_bad_arguments(void **state) {
  (void)state;
  dcnn_layer *l = (dcnn_layer *)state;
  assert_status(dcnn_conv2d_create(0, 3, 1, DCNN_PADDING_SAME, DCNN_NO_BIAS, &l), DCNN_ERR_INVALID_ARGUMENT);
  assert_null(l);
  assert_error_mentions("filters (0)");
  assert_status(dcnn_conv2d_create(4, 3, 1, (dcnn_padding)9, DCNN_NO_BIAS, &l), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_batchnorm_create(1.0f, 1e-3f, &l), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_batchnorm_create(0.9f, 0.0f, &l), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_dropout_create(1.0f, &l), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_dropout_create(-0.1f, &l), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_dense_create(0, DCNN_WITH_BIAS, &l), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_maxpool2d_create(0, 2, DCNN_PADDING_VALID, &l), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_relu_create(NULL), DCNN_ERR_INVALID_ARGUMENT);
  /* what a model file holds, so that every model that trains also saves and loads (a 1x1500
   * stride used to train, then fail at dcnn_model_save) */
  assert_status(dcnn_conv2d_create(4, 1, 1025, DCNN_PADDING_VALID, DCNN_NO_BIAS, &l), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("at most 1024 (what a model file holds)");
  assert_status(dcnn_conv2d_create(65537, 3, 1, DCNN_PADDING_SAME, DCNN_NO_BIAS, &l), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_depthwise_conv2d_create(1025, 1, DCNN_PADDING_SAME, DCNN_NO_BIAS, &l), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_maxpool2d_create(2, 1025, DCNN_PADDING_VALID, &l), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_avgpool2d_create(1025, 1, DCNN_PADDING_VALID, &l), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_dense_create(65537, DCNN_WITH_BIAS, &l), DCNN_ERR_INVALID_ARGUMENT);
  assert_null(l);
  assert_ok(dcnn_conv2d_create(65536, 1024, 1024, DCNN_PADDING_VALID, DCNN_NO_BIAS, &l)); /* the limits themselves */
  dcnn_layer_destroy(l);
  assert_ok(dcnn_maxpool2d_create(1024, 1024, DCNN_PADDING_VALID, &l));
  dcnn_layer_destroy(l);
}

static void build_rejects_misfit_inputs(void **state) {
  (void)state;
  dcnn_layer *l = NULL;
  assert_ok(dcnn_conv2d_create(4, 5, 1, DCNN_PADDING_VALID, DCNN_NO_BIAS, &l));
  dcnn_shape small = dcnn_shape_make(4, 1, 1, 3, 3);
  assert_status(dcnn_layer_build(l, NULL, &small), DCNN_ERR_SHAPE_MISMATCH);
  assert_error_mentions("does not fit");
  dcnn_layer_destroy(l);
  assert_ok(dcnn_dense_create(4, DCNN_WITH_BIAS, &l));
  assert_status(dcnn_layer_build(l, NULL, &small), DCNN_ERR_SHAPE_MISMATCH);
  assert_error_mentions("flatten");
  dcnn_layer_destroy(l);
  assert_ok(dcnn_relu_create(&l));
  assert_ok(dcnn_layer_build(l, NULL, &small));
  assert_status(dcnn_layer_build(l, NULL, &small), DCNN_ERR_INVALID_STATE);
  dcnn_layer_destroy(l);
}

/* Extreme window parameters (the API bounds neither stride nor kernel): SAME
 * padding's extent is computed without wrapping int, a depthwise kernel whose
 * weights exceed 2^31-1 is refused as conv2d's is, and a residual block's inner
 * layers are held to the model's 2^31-1 elements a sample. */
static void extreme_windows_build_or_are_refused(void **state) {
  (void)state;
  dcnn_layer *l = NULL;
  const dcnn_shape image = dcnn_shape_make(4, 1, 2, 28, 28);
  /* strides and windows past a model file's 1024 are refused when made (constructors_reject_bad_arguments) */
  assert_ok(dcnn_maxpool2d_create(2, 1024, DCNN_PADDING_SAME, &l));
  assert_ok(dcnn_layer_build(l, NULL, &image)); /* was "invalid output shape (1, 2, 0, 0)" */
  dcnn_shape out = dcnn_layer_output_shape(l);
  assert_int_equal(out.dims[2], 1);
  assert_int_equal(out.dims[3], 1);
  dcnn_layer_destroy(l);
  assert_ok(dcnn_conv2d_create(3, 3, 1024, DCNN_PADDING_SAME, DCNN_NO_BIAS, &l));
  assert_ok(dcnn_layer_build(l, NULL, &image));
  out = dcnn_layer_output_shape(l);
  assert_int_equal(out.dims[2], 1);
  assert_int_equal(out.dims[3], 1);
  dcnn_layer_destroy(l);

  assert_ok(dcnn_depthwise_conv2d_create(1024, 1, DCNN_PADDING_SAME, DCNN_NO_BIAS, &l));
  const dcnn_shape channels = dcnn_shape_make(4, 1, 2048, 1, 1); /* 2048 * 1024^2 = 2^31 > 2^31-1 */
  assert_status(dcnn_layer_build(l, NULL, &channels), DCNN_ERR_SHAPE_MISMATCH);
  assert_error_mentions("exceed 2^31-1 weights");
  dcnn_layer_destroy(l);

  dcnn_layer *body[2], *block = NULL;
  assert_ok(dcnn_conv2d_create(65536, 1, 1, DCNN_PADDING_SAME, DCNN_NO_BIAS, &body[0])); /* 2^32 values a sample */
  assert_ok(dcnn_conv2d_create(1, 1, 1, DCNN_PADDING_SAME, DCNN_NO_BIAS, &body[1]));
  assert_ok(dcnn_residual_create(body, 2, NULL, 0, DCNN_RESIDUAL_LINEAR, &block));
  const dcnn_shape large = dcnn_shape_make(4, 1, 1, 256, 256);
  assert_status(dcnn_layer_build(block, NULL, &large), DCNN_ERR_SHAPE_MISMATCH);
  assert_error_mentions("residual body layer 0 (conv2d): output (1, 65536, 256, 256) has more than 2^31-1");
  dcnn_layer_destroy(block);
}

/* A user-defined layer: y = 2x, written against the public vtable only. */
static dcnn_status twice_build(void *self, dcnn_context *ctx, const dcnn_shape *in, dcnn_shape *out) {
  (void)self;
  (void)ctx;
  *out = *in;
  return DCNN_OK;
}
static dcnn_status twice_forward(void *self, dcnn_exec *exec, const dcnn_tensor *x, dcnn_tensor *y) {
  (void)self;
  (void)exec;
  for (int64_t i = 0; i < dcnn_tensor_count(x); ++i) dcnn_tensor_data(y)[i] = 2.0f * dcnn_tensor_data_const(x)[i];
  return DCNN_OK;
}
static dcnn_status twice_backward(void *self, dcnn_exec *exec, const dcnn_tensor *x, const dcnn_tensor *y,
                                  const dcnn_tensor *dy, dcnn_tensor *dx) {
  (void)self;
  (void)exec;
  (void)x;
  (void)y;
  if (dx)
    for (int64_t i = 0; i < dcnn_tensor_count(dy); ++i) dcnn_tensor_data(dx)[i] = 2.0f * dcnn_tensor_data_const(dy)[i];
  return DCNN_OK;
}
static int destroyed;
static void twice_destroy(void *self) {
  (void)self;
  destroyed++;
}

/* A user layer whose build allocates a table, then fails for odd widths (and
 * refuses widths over 100 before allocating anything). */
typedef struct partial {
  dcnn_tensor *table;
} partial;
static dcnn_status partial_build(void *self, dcnn_context *ctx, const dcnn_shape *in, dcnn_shape *out) {
  partial *p = self;
  if (in->dims[1] > 100) return dcnn_error_set(DCNN_ERR_SHAPE_MISMATCH, "partial: width %d over 100", (int)in->dims[1]);
  const dcnn_shape table = dcnn_shape_make(1, 16, 0, 0, 0);
  const dcnn_status made = dcnn_tensor_create(ctx, &table, &p->table);
  if (made != DCNN_OK) return made;
  if (in->dims[1] % 2) return dcnn_error_set(DCNN_ERR_SHAPE_MISMATCH, "partial: odd width %d", (int)in->dims[1]);
  *out = *in;
  return DCNN_OK;
}
static void partial_destroy(void *self) { dcnn_tensor_destroy(((partial *)self)->table); }

/* A build that failed after allocating is not run again (it would overwrite,
 * and leak, what the first left); one that failed before may be retried. */
static void a_build_that_failed_part_way_is_not_run_again(void **state) {
  (void)state;
  static const dcnn_layer_vtable vt = {.abi_version = DCNN_LAYER_ABI_VERSION, .type_name = "partial",
                                       .build = partial_build, .forward = twice_forward,
                                       .backward = twice_backward, .destroy = partial_destroy};
  dcnn_context *ctx = test_context(1);
  partial self = {NULL};
  dcnn_layer *l = NULL;
  assert_ok(dcnn_layer_create(&vt, &self, &l));
  const dcnn_shape wide = dcnn_shape_make(2, 1, 200, 0, 0), odd = dcnn_shape_make(2, 1, 3, 0, 0),
                   even = dcnn_shape_make(2, 1, 4, 0, 0);
  assert_status(dcnn_layer_build(l, ctx, &wide), DCNN_ERR_SHAPE_MISMATCH); /* nothing allocated: may retry */
  assert_status(dcnn_layer_build(l, ctx, &odd), DCNN_ERR_SHAPE_MISMATCH);
  assert_int_equal(dcnn_context_live_allocations(ctx), 2); /* the table: handle and data */
  assert_status(dcnn_layer_build(l, ctx, &even), DCNN_ERR_INVALID_STATE);
  assert_error_mentions("failed part-way");
  assert_int_equal(dcnn_context_live_allocations(ctx), 2);
  dcnn_layer_destroy(l);
  assert_int_equal(dcnn_context_live_allocations(ctx), 0);
  /* a build whose first allocation failed left nothing: it may run again */
  failing_allocator none = {0, 0};
  dcnn_allocator refusing = failing_allocator_hooks(&none);
  assert_ok(dcnn_context_set_allocator(ctx, &refusing));
  self.table = NULL;
  assert_ok(dcnn_layer_create(&vt, &self, &l));
  assert_status(dcnn_layer_build(l, ctx, &even), DCNN_ERR_OUT_OF_MEMORY);
  assert_ok(dcnn_context_set_allocator(ctx, NULL));
  assert_ok(dcnn_layer_build(l, ctx, &even));
  dcnn_layer_destroy(l);
  assert_int_equal(dcnn_context_live_allocations(ctx), 0);
  dcnn_context_destroy(ctx);
}

static void custom_layers_plug_in(void **state) {
  (void)state;
  static const dcnn_layer_vtable vt = {.abi_version = DCNN_LAYER_ABI_VERSION, .type_name = "twice",
                                       .build = twice_build, .forward = twice_forward,
                                       .backward = twice_backward, .destroy = twice_destroy};
  static int self_token;
  dcnn_layer *l = NULL;
  destroyed = 0;
  assert_ok(dcnn_layer_create(&vt, &self_token, &l));
  assert_string_equal(dcnn_layer_type(l), "twice");
  assert_ptr_equal(dcnn_layer_self(l), &self_token);
  check(l, (dcnn_shape){2, {3, 4, 0, 0}}, 7);
  assert_int_equal(destroyed, 1);

  /* A vtable from a future ABI is refused, and ownership of self still passes. */
  dcnn_layer_vtable future = vt;
  future.abi_version = DCNN_LAYER_ABI_VERSION + 1;
  assert_status(dcnn_layer_create(&future, &self_token, &l), DCNN_ERR_UNSUPPORTED);
  assert_null(l);
  assert_int_equal(destroyed, 2);
  assert_error_mentions("twice");
  dcnn_layer_vtable incomplete = vt;
  incomplete.forward = NULL;
  assert_status(dcnn_layer_create(&incomplete, &self_token, &l), DCNN_ERR_INVALID_ARGUMENT);
  assert_int_equal(destroyed, 3);
}

/* conv2d is given a workspace sized for 1 thread but asked to run with 2
 * (lanes appear at this batch): it refuses instead of writing past the end. */
static void conv2d_refuses_a_small_workspace(void **state) {
  (void)state;
  dcnn_context *ctx = test_context(2);
  dcnn_layer *l = NULL;
  dcnn_shape in = dcnn_shape_make(4, 8, 16, 32, 32);
  assert_ok(dcnn_conv2d_create(16, 3, 1, DCNN_PADDING_SAME, DCNN_WITH_BIAS, &l));
  assert_ok(dcnn_conv2d_set_algorithm(l, DCNN_CONV_IM2COL_GEMM)); /* the algorithm with per-thread lanes */
  assert_ok(dcnn_layer_build(l, ctx, &in));
  assert_ok(l->vt->init_params(l->self, 1));
  const int64_t small = dcnn__layer_workspace(l, 8, 1, 1), enough = dcnn__layer_workspace(l, 8, 2, 1);
  assert_true(enough > small);
  dcnn_tensor *x = NULL, *y = NULL, *dy = NULL;
  dcnn_shape out = dcnn__with_batch(&l->output, 8);
  assert_ok(dcnn_tensor_create(ctx, &in, &x));
  assert_ok(dcnn_tensor_create(ctx, &out, &y));
  assert_ok(dcnn_tensor_create(ctx, &out, &dy));
  assert_ok(dcnn_tensor_fill_random(x, DCNN_DIST_NORMAL, 0.0f, 1.0f, 3, 0));
  assert_ok(dcnn_tensor_fill_random(dy, DCNN_DIST_NORMAL, 0.0f, 1.0f, 4, 0));
  void *workspace = dcnn__alloc(ctx, (size_t)enough);
  assert_non_null(workspace);
  dcnn_exec exec = {.ctx = ctx, .threads = 2, .workspace = workspace, .workspace_size = small, .backward = 1};
  assert_status(l->vt->forward(l->self, &exec, x, y), DCNN_ERR_INVALID_STATE);
  assert_error_mentions("batch 8 with 2 threads needs");
  assert_status(l->vt->backward(l->self, &exec, x, y, dy, NULL), DCNN_ERR_INVALID_STATE);
  exec.workspace_size = enough;
  assert_ok(l->vt->forward(l->self, &exec, x, y));
  assert_ok(l->vt->backward(l->self, &exec, x, y, dy, NULL));
  dcnn__release(ctx, workspace);
  dcnn_tensor_destroy(x);
  dcnn_tensor_destroy(y);
  dcnn_tensor_destroy(dy);
  dcnn_layer_destroy(l);
  dcnn_context_destroy(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(conv2d_gradients),
      cmocka_unit_test(conv2d_refuses_a_small_workspace),
      cmocka_unit_test(batchnorm_gradients),
      cmocka_unit_test(batchnorm_gradients_with_a_large_mean),
      cmocka_unit_test(pointwise_gradients),
      cmocka_unit_test(maxpool_gradients),
      cmocka_unit_test(maxpool_takes_the_window_maximum_at_the_float_extremes),
      cmocka_unit_test(dense_gradients),
      cmocka_unit_test(depthwise_gradients),
      cmocka_unit_test(pooling_and_activation_gradients),
      cmocka_unit_test(residual_gradients),
      cmocka_unit_test(leaky_relu_values_gradients_and_files),
      cmocka_unit_test(constructors_reject_bad_arguments),
      cmocka_unit_test(build_rejects_misfit_inputs),
      cmocka_unit_test(extreme_windows_build_or_are_refused),
      cmocka_unit_test(custom_layers_plug_in),
      cmocka_unit_test(a_build_that_failed_part_way_is_not_run_again),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
