/* conv2d's algorithms (dcnn_conv_algorithm): each one forced against finite
 * differences on odd sizes, against im2col_gemm, deterministic for a thread
 * count whatever team OpenMP grants; the AUTO rule, forcing errors, and the
 * algorithm's name in dcnn_layer_algorithm, the summary and the profile. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "layers/layer_internal.h"
#include "test_support.h"

#define GRAD_TOLERANCE 2e-2
#define AGREE_TOLERANCE 1e-4 /* relative to the largest magnitude of the tensor compared */

typedef struct geometry_case {
  int32_t filters, kernel, stride;
  dcnn_padding padding;
  dcnn_shape input;
} geometry_case;

static const char *const names[] = {"auto", "im2col_gemm", "gemm_1x1", "winograd_2x2", "winograd_4x4", "direct",
                                     "unrolled_gemm"};

/* Odd sizes: N=3, C=3, F=5, 7x5 planes; 1x1 with stride 1 and 2; large
 * planes (>= 256 pixels) take the per-image GEMM paths; tiny planes (1x1,
 * 2x2, 1x3, 3x2, smaller than the kernel: unrolled_gemm's case) with kernels
 * 3 and 5, stride 1 and 2, same and valid; 16x16 and 8x32 planes (F(4x4)'s
 * whole-row transforms on AVX-512 CPUs). The last, wide ones (too many
 * weights for finite differences) split unrolled_gemm into several blocks,
 * run by parallel lanes. */
#define WIDE_CHANNELS 64
static const geometry_case cases[] = {
    {5, 3, 1, DCNN_PADDING_SAME, {4, {3, 3, 7, 5}}},
    {5, 3, 1, DCNN_PADDING_VALID, {4, {3, 3, 7, 5}}},
    {5, 1, 1, DCNN_PADDING_SAME, {4, {3, 3, 7, 5}}},
    {5, 1, 2, DCNN_PADDING_SAME, {4, {3, 3, 7, 5}}},
    {5, 1, 2, DCNN_PADDING_VALID, {4, {3, 3, 8, 5}}},
    {4, 1, 1, DCNN_PADDING_VALID, {4, {2, 3, 17, 16}}},
    {3, 3, 1, DCNN_PADDING_SAME, {4, {2, 2, 17, 16}}},
    {4, 3, 2, DCNN_PADDING_SAME, {4, {3, 3, 7, 5}}},
    {3, 5, 1, DCNN_PADDING_VALID, {4, {2, 2, 9, 8}}},
    {6, 3, 1, DCNN_PADDING_SAME, {4, {3, 9, 6, 6}}},
    {5, 3, 1, DCNN_PADDING_SAME, {4, {3, 3, 1, 1}}},
    {5, 3, 1, DCNN_PADDING_SAME, {4, {3, 3, 2, 2}}},
    {5, 3, 2, DCNN_PADDING_SAME, {4, {3, 3, 2, 2}}},
    {5, 5, 1, DCNN_PADDING_SAME, {4, {3, 3, 1, 3}}},
    {5, 5, 2, DCNN_PADDING_SAME, {4, {3, 3, 3, 2}}},
    {5, 3, 1, DCNN_PADDING_SAME, {4, {3, 3, 3, 2}}},
    {5, 3, 2, DCNN_PADDING_SAME, {4, {3, 3, 1, 3}}},
    {5, 3, 1, DCNN_PADDING_VALID, {4, {3, 3, 3, 4}}},
    {5, 3, 2, DCNN_PADDING_VALID, {4, {3, 3, 3, 5}}},
    {3, 3, 1, DCNN_PADDING_SAME, {4, {1, 2, 16, 16}}}, /* planes 16 and 32 wide: F(4x4)'s whole-row transforms */
    {2, 3, 1, DCNN_PADDING_SAME, {4, {1, 2, 8, 32}}},
    /* the odd padding row before: strided 3x3 and 7x7 (ResNet-50's), an even kernel, a 16x17 output plane */
    {3, 3, 2, DCNN_PADDING_SAME_LOWER, {4, {2, 2, 8, 6}}},
    {2, 7, 2, DCNN_PADDING_SAME_LOWER, {4, {1, 2, 16, 15}}},
    {3, 2, 1, DCNN_PADDING_SAME_LOWER, {4, {2, 3, 5, 4}}},
    {2, 3, 2, DCNN_PADDING_SAME_LOWER, {4, {1, 2, 32, 34}}},
    {192, 3, 1, DCNN_PADDING_SAME, {4, {3, 192, 2, 2}}},
    {160, 3, 2, DCNN_PADDING_SAME, {4, {3, 200, 3, 3}}},
};

static dcnn_layer *make(const geometry_case *c, int bias, dcnn_conv_algorithm a) {
  dcnn_layer *l = NULL;
  assert_ok(dcnn_conv2d_create(c->filters, c->kernel, c->stride, c->padding, bias ? DCNN_WITH_BIAS : DCNN_NO_BIAS, &l));
  assert_ok(dcnn_conv2d_set_algorithm(l, a));
  return l;
}

static int applies(const geometry_case *c, dcnn_conv_algorithm a) {
  if (c->input.dims[1] >= WIDE_CHANNELS) return a == DCNN_CONV_IM2COL_GEMM || a == DCNN_CONV_UNROLLED_GEMM;
  switch (a) {
    case DCNN_CONV_GEMM_1X1: return c->kernel == 1;
    case DCNN_CONV_WINOGRAD_2X2:
    case DCNN_CONV_WINOGRAD_4X4: return c->kernel == 3 && c->stride == 1;
    default: return 1;
  }
}

static void every_algorithm_matches_finite_differences(void **state) {
  (void)state;
  dcnn_context *ctx = test_context(2);
  int checked[7] = {0};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i)
    for (int a = DCNN_CONV_IM2COL_GEMM; a <= DCNN_CONV_UNROLLED_GEMM; ++a) {
      if (!applies(&cases[i], (dcnn_conv_algorithm)a) || cases[i].input.dims[1] >= WIDE_CHANNELS) continue;
      dcnn_layer *l = make(&cases[i], (int)(i % 2 == 0), (dcnn_conv_algorithm)a);
      double error = -1;
      assert_ok(dcnn_layer_check_gradients(l, ctx, &cases[i].input, 7 + i, &error));
      const char *name = NULL;
      assert_ok(dcnn_layer_algorithm(l, &name));
      assert_string_equal(name, names[a]);
      if (!(error >= 0 && error < GRAD_TOLERANCE))
        fail_msg("%s on case %d: max relative gradient error %g", names[a], (int)i, error);
      checked[a]++;
      dcnn_layer_destroy(l);
    }
  for (int a = DCNN_CONV_IM2COL_GEMM; a <= DCNN_CONV_UNROLLED_GEMM; ++a) assert_true(checked[a] >= 3);
  assert_int_equal(dcnn_context_live_allocations(ctx), 0);
  dcnn_context_destroy(ctx);
}

/* One layer's forward and backward on fixed data: y, dx, dW, db concatenated. */
typedef struct run_result {
  float *values;
  int64_t count;
} run_result;

static void run_layer(dcnn_context *ctx, const geometry_case *c, dcnn_conv_algorithm a, int32_t threads,
                      int nested, run_result *out) {
  dcnn_layer *l = make(c, 1, a);
  assert_ok(dcnn_layer_build(l, ctx, &c->input));
  const int32_t batch = c->input.dims[0];
  assert_ok(dcnn__layer_plan(l, batch));
  assert_ok(l->vt->init_params(l->self, 11));
  dcnn_param bias = DCNN_STRUCT_INIT(dcnn_param);
  assert_ok(dcnn_layer_param(l, 1, &bias));
  assert_ok(dcnn_tensor_fill_random(bias.value, DCNN_DIST_NORMAL, 0.0f, 1.0f, 12, 0));
  dcnn_shape ys = dcnn__with_batch(&l->output, batch);
  dcnn_tensor *x = NULL, *y = NULL, *dy = NULL, *dx = NULL;
  assert_ok(dcnn_tensor_create(ctx, &c->input, &x));
  assert_ok(dcnn_tensor_create(ctx, &c->input, &dx));
  assert_ok(dcnn_tensor_create(ctx, &ys, &y));
  assert_ok(dcnn_tensor_create(ctx, &ys, &dy));
  assert_ok(dcnn_tensor_fill_random(x, DCNN_DIST_NORMAL, 0.0f, 1.0f, 13, 0));
  assert_ok(dcnn_tensor_fill_random(dy, DCNN_DIST_NORMAL, 0.0f, 1.0f, 14, 0));
  dcnn_exec e = {.ctx = ctx, .training = 1, .threads = threads, .seed = 1, .backward = 1};
  e.workspace_size = dcnn__layer_workspace(l, batch, threads, 0);
  e.workspace = e.workspace_size ? malloc((size_t)e.workspace_size) : NULL;
  dcnn_param w = DCNN_STRUCT_INIT(dcnn_param);
  assert_ok(dcnn_layer_param(l, 0, &w));
  dcnn_status st[2] = {DCNN_OK, DCNN_OK};
  if (nested) {
    /* The layer's regions nest in ours: the runtime grants them one thread. */
#pragma omp parallel num_threads(2)
#pragma omp single
    {
      st[0] = l->vt->forward(l->self, &e, x, y);
      st[1] = l->vt->backward(l->self, &e, x, y, dy, dx);
    }
  } else {
    st[0] = l->vt->forward(l->self, &e, x, y);
    st[1] = l->vt->backward(l->self, &e, x, y, dy, dx);
  }
  assert_ok(st[0]);
  assert_ok(st[1]);
  const float *parts[4] = {y->data, dx->data, w.grad->data, bias.grad->data};
  const int64_t counts[4] = {y->count, dx->count, w.grad->count, bias.grad->count};
  out->count = counts[0] + counts[1] + counts[2] + counts[3];
  out->values = malloc((size_t)out->count * sizeof(float));
  for (int64_t p = 0, at = 0; p < 4; at += counts[p], ++p) memcpy(out->values + at, parts[p], (size_t)counts[p] * 4);
  free(e.workspace);
  dcnn_tensor_destroy(x);
  dcnn_tensor_destroy(y);
  dcnn_tensor_destroy(dy);
  dcnn_tensor_destroy(dx);
  dcnn_layer_destroy(l);
}

static void every_algorithm_agrees_with_im2col(void **state) {
  (void)state;
  dcnn_context *ctx = test_context(2);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
    run_result ref;
    run_layer(ctx, &cases[i], DCNN_CONV_IM2COL_GEMM, 2, 0, &ref);
    double scale = 0;
    for (int64_t k = 0; k < ref.count; ++k) scale = fmax(scale, fabs(ref.values[k]));
    for (int a = DCNN_CONV_GEMM_1X1; a <= DCNN_CONV_UNROLLED_GEMM; ++a) {
      if (!applies(&cases[i], (dcnn_conv_algorithm)a)) continue;
      run_result r;
      run_layer(ctx, &cases[i], (dcnn_conv_algorithm)a, 2, 0, &r);
      assert_int_equal(r.count, ref.count);
      double worst = 0;
      for (int64_t k = 0; k < r.count; ++k) worst = fmax(worst, fabs((double)r.values[k] - ref.values[k]));
      if (worst > AGREE_TOLERANCE * scale)
        fail_msg("%s on case %d differs from im2col_gemm by %g (scale %g)", names[a], (int)i, worst, scale);
      free(r.values);
    }
    free(ref.values);
  }
  dcnn_context_destroy(ctx);
}

/* Same thread count, same bits: twice, and with the team cut to one thread;
 * one thread against two agrees within rounding. */
static void deterministic_for_a_thread_count(void **state) {
  (void)state;
  dcnn_context *ctx = test_context(2);
  const int saved = omp_get_max_active_levels();
  omp_set_max_active_levels(1);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i)
    for (int a = DCNN_CONV_IM2COL_GEMM; a <= DCNN_CONV_UNROLLED_GEMM; ++a) {
      if (!applies(&cases[i], (dcnn_conv_algorithm)a)) continue;
      run_result two, again, cut, one;
      run_layer(ctx, &cases[i], (dcnn_conv_algorithm)a, 2, 0, &two);
      run_layer(ctx, &cases[i], (dcnn_conv_algorithm)a, 2, 0, &again);
      run_layer(ctx, &cases[i], (dcnn_conv_algorithm)a, 2, 1, &cut);
      run_layer(ctx, &cases[i], (dcnn_conv_algorithm)a, 1, 0, &one);
      if (memcmp(two.values, again.values, (size_t)two.count * 4) || memcmp(two.values, cut.values, (size_t)two.count * 4))
        fail_msg("%s on case %d: two threads gave different bits", names[a], (int)i);
      for (int64_t k = 0; k < one.count; ++k)
        assert_true(fabs((double)one.values[k] - two.values[k]) <= 1e-4 * (1.0 + fabs(two.values[k])));
      free(two.values);
      free(again.values);
      free(cut.values);
      free(one.values);
    }
  omp_set_max_active_levels(saved);
  dcnn_context_destroy(ctx);
}

static const char *auto_choice(int32_t filters, int32_t kernel, int32_t stride, int32_t channels, int32_t side) {
  dcnn_layer *l = NULL;
  assert_ok(dcnn_conv2d_create(filters, kernel, stride, DCNN_PADDING_SAME, DCNN_NO_BIAS, &l));
  dcnn_shape in = dcnn_shape_make(4, 1, channels, side, side);
  assert_ok(dcnn_layer_build(l, NULL, &in));
  const char *name = NULL;
  assert_ok(dcnn_layer_algorithm(l, &name));
  dcnn_layer_destroy(l);
  return name;
}

/* The rule documented in builtin_layers.h and docs/performance.md. */
static void auto_follows_the_documented_rule(void **state) {
  (void)state;
  assert_string_equal(auto_choice(64, 1, 1, 256, 8), "gemm_1x1");
  assert_string_equal(auto_choice(64, 1, 2, 256, 8), "gemm_1x1");
  assert_string_equal(auto_choice(8, 1, 1, 3, 8), "gemm_1x1");          /* 1x1 before few channels */
  assert_string_equal(auto_choice(6, 5, 1, 1, 32), "direct");           /* LeNet-5's first layer */
  assert_string_equal(auto_choice(8, 3, 1, 4, 32), "direct");
  assert_string_equal(auto_choice(9, 3, 1, 1, 32), "im2col_gemm");      /* more than 8 filters */
  assert_string_equal(auto_choice(32, 3, 1, 1, 28), "im2col_gemm");     /* the paper CNN's first layer */
  assert_string_equal(auto_choice(8, 3, 1, 5, 32), "im2col_gemm");      /* more than 4 channels */
  assert_string_equal(auto_choice(8, 3, 2, 1, 32), "im2col_gemm");      /* stride 2 */
  assert_string_equal(auto_choice(32, 3, 1, 32, 28), "winograd_4x4");
  assert_string_equal(auto_choice(32, 3, 1, 32, 8), "winograd_4x4");
  assert_string_equal(auto_choice(512, 3, 1, 512, 4), "winograd_2x2");  /* small planes */
  /* Planes with fewer pixels than the kernel has taps: one GEMM with the unrolled kernel. */
  assert_string_equal(auto_choice(512, 3, 1, 512, 2), "unrolled_gemm");  /* VGG-16's stage 5 at 32x32 */
  assert_string_equal(auto_choice(512, 3, 1, 512, 1), "unrolled_gemm");  /* ResNet-50's stage 4: the centre tap */
  assert_string_equal(auto_choice(256, 3, 2, 256, 2), "unrolled_gemm");  /* 2x2 -> 1x1 */
  assert_string_equal(auto_choice(256, 3, 1, 256, 2), "unrolled_gemm");  /* ResNet-50's stage 3 */
  assert_string_equal(auto_choice(16, 5, 1, 6, 4), "unrolled_gemm");     /* 16 pixels < 25 taps */
  assert_string_equal(auto_choice(8, 3, 1, 4, 2), "unrolled_gemm");      /* before direct */
  assert_string_equal(auto_choice(1024, 3, 1, 1024, 2), "unrolled_gemm"); /* Wu of 2^24 floats: the bound */
  assert_string_equal(auto_choice(2048, 3, 1, 1024, 2), "winograd_2x2");  /* past it */
  assert_string_equal(auto_choice(64, 1, 1, 256, 1), "gemm_1x1");        /* a 1x1 kernel stays gemm_1x1 */
  assert_string_equal(auto_choice(512, 3, 1, 512, 3), "winograd_2x2");   /* 9 pixels, 9 taps */
  assert_string_equal(auto_choice(32, 3, 1, 6, 28), "im2col_gemm");     /* 5 to 7 channels */
  assert_string_equal(auto_choice(64, 3, 2, 64, 16), "im2col_gemm");    /* stride 2 */
  assert_string_equal(auto_choice(16, 5, 1, 6, 14), "im2col_gemm");     /* LeNet-5's second layer */
  assert_string_equal(auto_choice(64, 7, 2, 3, 32), "im2col_gemm");     /* ResNet-50's stem */
}

static void forcing_errors_are_clear(void **state) {
  (void)state;
  dcnn_layer *l = NULL, *relu = NULL;
  assert_ok(dcnn_conv2d_create(4, 5, 1, DCNN_PADDING_SAME, DCNN_NO_BIAS, &l));
  const char *name = NULL;
  assert_ok(dcnn_layer_algorithm(l, &name));
  assert_string_equal(name, "auto");
  dcnn_shape in = dcnn_shape_make(4, 1, 8, 9, 9);
  assert_ok(dcnn_layer_build(l, NULL, &in));
  assert_status(dcnn_conv2d_set_algorithm(l, DCNN_CONV_WINOGRAD_4X4), DCNN_ERR_UNSUPPORTED);
  assert_error_mentions("'winograd_4x4' does not apply");
  assert_error_mentions("3x3 kernel with stride 1");
  assert_status(dcnn_conv2d_set_algorithm(l, DCNN_CONV_GEMM_1X1), DCNN_ERR_UNSUPPORTED);
  assert_error_mentions("1x1 kernel");
  assert_status(dcnn_conv2d_set_algorithm(l, (dcnn_conv_algorithm)9), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_conv2d_set_algorithm(l, (dcnn_conv_algorithm)7), DCNN_ERR_INVALID_ARGUMENT);
  assert_ok(dcnn_layer_algorithm(l, &name));
  assert_string_equal(name, "im2col_gemm"); /* unchanged by the refusals */
  assert_ok(dcnn_conv2d_set_algorithm(l, DCNN_CONV_DIRECT));
  assert_ok(dcnn_layer_algorithm(l, &name));
  assert_string_equal(name, "direct");
  assert_ok(dcnn__layer_plan(l, 4));
  assert_status(dcnn_conv2d_set_algorithm(l, DCNN_CONV_IM2COL_GEMM), DCNN_ERR_INVALID_STATE);
  assert_error_mentions("already planned");
  dcnn_layer_destroy(l);

  /* unrolled_gemm applies to every geometry whose unrolled kernel stays below 1 GiB. */
  assert_ok(dcnn_conv2d_create(64, 3, 1, DCNN_PADDING_SAME, DCNN_NO_BIAS, &l));
  dcnn_shape big = dcnn_shape_make(4, 1, 64, 64, 64);
  assert_ok(dcnn_layer_build(l, NULL, &big));
  assert_status(dcnn_conv2d_set_algorithm(l, DCNN_CONV_UNROLLED_GEMM), DCNN_ERR_UNSUPPORTED);
  assert_error_mentions("'unrolled_gemm' does not apply");
  assert_error_mentions("2^28 floats");
  dcnn_layer_destroy(l);

  assert_ok(dcnn_relu_create(&relu));
  assert_status(dcnn_conv2d_set_algorithm(relu, DCNN_CONV_DIRECT), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("not a conv2d");
  assert_ok(dcnn_layer_algorithm(relu, &name));
  assert_string_equal(name, "");
  dcnn_layer_destroy(relu);
  assert_status(dcnn_layer_algorithm(NULL, &name), DCNN_ERR_INVALID_ARGUMENT);

  /* Forced before build: checked when the model builds the layer. */
  dcnn_shape sample = dcnn_shape_make(3, 4, 9, 9, 0);
  dcnn_model *m = NULL;
  assert_ok(dcnn_model_create(NULL, &sample, &m));
  assert_ok(dcnn_conv2d_create(4, 3, 2, DCNN_PADDING_SAME, DCNN_NO_BIAS, &l));
  assert_ok(dcnn_conv2d_set_algorithm(l, DCNN_CONV_WINOGRAD_2X2));
  assert_ok(dcnn_layer_algorithm(l, &name));
  assert_string_equal(name, "winograd_2x2");
  assert_status(dcnn_model_add(m, l), DCNN_ERR_UNSUPPORTED);
  assert_error_mentions("forced algorithm 'winograd_2x2' does not apply");
  dcnn_model_destroy(m);
}

/* A prediction fixes the algorithm as a training step does (builtin_layers.h):
 * its workspace was planned for it, so a change afterwards is refused, for a
 * residual block's convolutions too, and predictions go on as before. */
static void a_prediction_fixes_the_algorithm(void **state) {
  (void)state;
  dcnn_shape sample = dcnn_shape_make(3, 4, 8, 8, 0);
  dcnn_model *m = NULL;
  assert_ok(dcnn_model_create(NULL, &sample, &m));
  dcnn_layer *conv = NULL, *body = NULL, *block = NULL, *flat = NULL;
  assert_ok(dcnn_conv2d_create(4, 3, 1, DCNN_PADDING_SAME, DCNN_WITH_BIAS, &conv));
  assert_ok(dcnn_model_add(m, conv));
  assert_ok(dcnn_conv2d_create(4, 3, 1, DCNN_PADDING_SAME, DCNN_NO_BIAS, &body));
  assert_ok(dcnn_residual_create(&body, 1, NULL, 0, DCNN_RESIDUAL_RELU, &block));
  assert_ok(dcnn_model_add(m, block));
  assert_ok(dcnn_flatten_create(&flat));
  assert_ok(dcnn_model_add(m, flat));
  assert_ok(dcnn_model_init(m, 3));
  const char *name = NULL;
  assert_ok(dcnn_layer_algorithm(conv, &name));
  assert_string_equal(name, "direct"); /* 4 channels, 4 filters: im2col_gemm would be a change */

  dcnn_shape xs = dcnn_shape_make(4, 2, 4, 8, 8), ys = dcnn_shape_make(2, 2, 4 * 8 * 8, 0, 0);
  dcnn_tensor *x = NULL, *y = NULL;
  assert_ok(dcnn_tensor_create(NULL, &xs, &x));
  assert_ok(dcnn_tensor_create(NULL, &ys, &y));
  assert_ok(dcnn_tensor_fill_random(x, DCNN_DIST_UNIFORM, 0.0f, 1.0f, 5, 0));
  assert_ok(dcnn_model_predict(m, x, y));
  float before[4 * 8 * 8 * 2];
  memcpy(before, dcnn_tensor_data(y), sizeof before);

  assert_status(dcnn_conv2d_set_algorithm(conv, DCNN_CONV_IM2COL_GEMM), DCNN_ERR_INVALID_STATE);
  assert_error_mentions("already planned");
  assert_status(dcnn_conv2d_set_algorithm(body, DCNN_CONV_IM2COL_GEMM), DCNN_ERR_INVALID_STATE);
  int32_t applied = -1;
  assert_status(dcnn_model_set_conv_algorithm(m, DCNN_CONV_IM2COL_GEMM, &applied), DCNN_ERR_INVALID_STATE);
  assert_error_mentions("dcnn_model_set_conv_algorithm: layer 0");
  assert_int_equal(applied, 0);
  /* what the layers already run is no change: AUTO (what they chose) and their own algorithm are accepted */
  assert_ok(dcnn_model_set_conv_algorithm(m, DCNN_CONV_AUTO, &applied));
  assert_int_equal(applied, 2);
  assert_ok(dcnn_conv2d_set_algorithm(conv, DCNN_CONV_DIRECT));
  assert_ok(dcnn_layer_algorithm(conv, &name));
  assert_string_equal(name, "direct");
  assert_ok(dcnn_model_predict(m, x, y));
  assert_memory_equal(dcnn_tensor_data(y), before, sizeof before);
  dcnn_tensor_destroy(x);
  dcnn_tensor_destroy(y);
  dcnn_model_destroy(m);
}

/* The summary and the profile name each conv2d's algorithm, residual blocks' included. */
static void algorithm_is_reported(void **state) {
  (void)state;
  dcnn_model *m = NULL;
  assert_ok(dcnn_zoo_paper_cnn(NULL, test_zoo(28, 28, 1, 10, 1), &m));
  int32_t applied = -1;
  assert_ok(dcnn_model_set_conv_algorithm(m, DCNN_CONV_WINOGRAD_2X2, &applied));
  assert_true(applied >= 1);
  char *text = NULL;
  assert_ok(dcnn_model_summary(m, &text));
  assert_non_null(strstr(text, "Algorithm"));
  assert_non_null(strstr(text, "winograd_2x2"));
  assert_null(strstr(text, "winograd_4x4"));
  dcnn_free(text);
  dcnn_profile *p = NULL;
  assert_ok(dcnn_profile_create(m, &p));
  dcnn_profile_entry e = DCNN_STRUCT_INIT(dcnn_profile_entry);
  assert_ok(dcnn_profile_entry_get(p, 0, &e)); /* layer 0, the 1-channel conv2d */
  assert_string_equal(e.type_name, "conv2d");
  assert_string_equal(e.algorithm, "winograd_2x2");
  assert_ok(dcnn_profile_entry_get(p, dcnn_profile_count(p) - 1, &e)); /* the last phase, allreduce */
  assert_string_equal(e.algorithm, "");
  dcnn_profile_destroy(p);
  dcnn_model_destroy(m);

  assert_ok(dcnn_zoo_resnet50(NULL, test_zoo(32, 32, 3, 10, 1), &m));
  assert_ok(dcnn_model_summary(m, &text));
  assert_non_null(strstr(text, "gemm_1x1+winograd_4x4+gemm_1x1|gemm_1x1")); /* a projecting bottleneck */
  assert_non_null(strstr(text, "gemm_1x1+unrolled_gemm+gemm_1x1"));         /* stages 3 and 4: 2x2, 1x1 planes */
  dcnn_free(text);
  assert_ok(dcnn_model_set_conv_algorithm(m, DCNN_CONV_IM2COL_GEMM, &applied));
  assert_int_equal(applied, 53); /* the stem and 16 blocks of 3, 4 with a projection */
  assert_ok(dcnn_model_summary(m, &text));
  assert_null(strstr(text, "gemm_1x1+"));
  dcnn_free(text);
  dcnn_model_destroy(m);
}

/* y (N, F, OH, OW) of a plain loop: out = ceil(in / s), total = (out - 1) s + k - in, ceil(total / 2) padding
 * rows and columns before; x (N, C, H, W), w (F, C, k, k), b (F). */
static void same_lower_reference(const geometry_case *c, const float *x, const float *w, const float *b, float *y,
                                 int32_t *oh_n, int32_t *ow_n) {
  const int32_t n_n = c->input.dims[0], c_n = c->input.dims[1], h = c->input.dims[2], wd = c->input.dims[3];
  const int32_t k = c->kernel, s = c->stride, oh = (h + s - 1) / s, ow = (wd + s - 1) / s;
  const int32_t th = (oh - 1) * s + k - h, tw = (ow - 1) * s + k - wd;
  const int32_t top = th > 0 ? (th + 1) / 2 : 0, left = tw > 0 ? (tw + 1) / 2 : 0;
  *oh_n = oh;
  *ow_n = ow;
  for (int32_t n = 0; n < n_n; ++n)
    for (int32_t f = 0; f < c->filters; ++f)
      for (int32_t i = 0; i < oh; ++i)
        for (int32_t j = 0; j < ow; ++j) {
          double sum = b[f];
          for (int32_t ch = 0; ch < c_n; ++ch)
            for (int32_t a = 0; a < k; ++a)
              for (int32_t e = 0; e < k; ++e) {
                const int32_t r = i * s - top + a, q = j * s - left + e;
                if (r >= 0 && r < h && q >= 0 && q < wd)
                  sum += (double)w[((f * c_n + ch) * k + a) * k + e] * x[((n * c_n + ch) * h + r) * wd + q];
              }
          y[((n * c->filters + f) * oh + i) * ow + j] = (float)sum;
        }
}

/* One conv2d (algorithm a) in a model, weights from `w` (or the model's own when NULL) and bias 0.25 per filter;
 * y (N, F, OH, OW) of x. */
static void predict_one_conv(const geometry_case *c, dcnn_conv_algorithm a, const float *x, const float *w, float *y,
                             float *weights_used) {
  const dcnn_shape sample = dcnn_shape_make(3, c->input.dims[1], c->input.dims[2], c->input.dims[3], 0);
  dcnn_model *m = NULL;
  assert_ok(dcnn_model_create(NULL, &sample, &m));
  assert_ok(dcnn_model_add(m, make(c, 1, a)));
  assert_ok(dcnn_model_init(m, 31));
  dcnn_param p = DCNN_STRUCT_INIT(dcnn_param);
  assert_ok(dcnn_model_param(m, 0, &p, NULL));
  float *wv = dcnn_tensor_data(p.value);
  const int64_t wn = dcnn_tensor_count(p.value);
  if (w) memcpy(wv, w, (size_t)wn * sizeof(float));
  if (weights_used) memcpy(weights_used, wv, (size_t)wn * sizeof(float));
  assert_ok(dcnn_model_param(m, 1, &p, NULL));
  for (int64_t f = 0; f < dcnn_tensor_count(p.value); ++f) dcnn_tensor_data(p.value)[f] = 0.25f;
  dcnn_tensor *in = NULL, *out = NULL;
  const dcnn_shape ys = dcnn_shape_make(4, c->input.dims[0], dcnn_model_output_shape(m).dims[0],
                                        dcnn_model_output_shape(m).dims[1], dcnn_model_output_shape(m).dims[2]);
  assert_ok(dcnn_tensor_create(NULL, &c->input, &in));
  assert_ok(dcnn_tensor_create(NULL, &ys, &out));
  memcpy(dcnn_tensor_data(in), x, (size_t)dcnn_shape_count(&c->input) * sizeof(float));
  assert_ok(dcnn_model_predict(m, in, out));
  memcpy(y, dcnn_tensor_data(out), (size_t)dcnn_shape_count(&ys) * sizeof(float));
  dcnn_tensor_destroy(in);
  dcnn_tensor_destroy(out);
  dcnn_model_destroy(m);
}

/* DCNN_PADDING_SAME_LOWER on every algorithm against a loop written from its definition (not the library's
 * window arithmetic); and what it is for: with stride 2 on an even plane, a 3x3 window's centre tap reads pixel
 * 2i, where a 1x1 convolution of stride 2 reads (ResNet-50's two branches), while "same" reads 2i + 1. */
static void same_lower_pads_before(void **state) {
  (void)state;
  static const geometry_case lower[] = {
      {3, 3, 2, DCNN_PADDING_SAME_LOWER, {4, {2, 2, 8, 6}}},   {2, 7, 2, DCNN_PADDING_SAME_LOWER, {4, {1, 2, 16, 15}}},
      {3, 2, 1, DCNN_PADDING_SAME_LOWER, {4, {2, 3, 5, 4}}},   {2, 3, 2, DCNN_PADDING_SAME_LOWER, {4, {1, 2, 32, 34}}},
      {4, 3, 1, DCNN_PADDING_SAME_LOWER, {4, {2, 3, 7, 5}}},   {3, 1, 2, DCNN_PADDING_SAME_LOWER, {4, {2, 3, 8, 7}}},
      {2, 4, 3, DCNN_PADDING_SAME_LOWER, {4, {1, 2, 10, 11}}},
  };
  enum { MAX_X = 2 * 3 * 34 * 34, MAX_W = 4 * 3 * 7 * 7, MAX_Y = 2 * 4 * 17 * 17 };
  float *x = malloc(MAX_X * sizeof(float)), *w = malloc(MAX_W * sizeof(float)); /* (N, C, H, W), (F, C, k, k) */
  float *y = malloc(MAX_Y * sizeof(float)), *ref = malloc(MAX_Y * sizeof(float)); /* (N, F, OH, OW) */
  assert_non_null(x);
  assert_non_null(w);
  assert_non_null(y);
  assert_non_null(ref);
  for (size_t i = 0; i < sizeof lower / sizeof lower[0]; ++i) {
    const geometry_case *c = &lower[i];
    assert_true(dcnn_shape_count(&c->input) <= MAX_X);
    uint32_t s = 17u + (uint32_t)i;
    for (int64_t k = 0; k < dcnn_shape_count(&c->input); ++k) {
      s = s * 1664525u + 1013904223u;
      x[k] = (float)(s >> 8) / 16777216.0f - 0.5f;
    }
    int checked = 0;
    for (int a = DCNN_CONV_IM2COL_GEMM; a <= DCNN_CONV_UNROLLED_GEMM; ++a) {
      if (!applies(c, (dcnn_conv_algorithm)a)) continue;
      predict_one_conv(c, (dcnn_conv_algorithm)a, x, NULL, y, w);
      float bias[4] = {0.25f, 0.25f, 0.25f, 0.25f};
      int32_t oh = 0, ow = 0;
      same_lower_reference(c, x, w, bias, ref, &oh, &ow);
      const int64_t count = (int64_t)c->input.dims[0] * c->filters * oh * ow;
      assert_true(count <= MAX_Y);
      double worst = 0;
      for (int64_t k = 0; k < count; ++k) worst = fmax(worst, fabs((double)y[k] - ref[k]));
      if (worst > 1e-5) fail_msg("case %zu, %s: |y - plain loop| = %g", i, names[a], worst);
      ++checked;
    }
    assert_true(checked >= 2);
  }
  /* The centre tap of a 3x3 of stride 2 on an 8x8 ramp x = 10 r + c (bias 0.25) against a 1x1's: one grid. */
  const geometry_case tap3 = {1, 3, 2, DCNN_PADDING_SAME_LOWER, {4, {1, 1, 8, 8}}};
  const geometry_case tap1 = {1, 1, 2, DCNN_PADDING_SAME_LOWER, {4, {1, 1, 8, 8}}};
  const geometry_case keras = {1, 3, 2, DCNN_PADDING_SAME, {4, {1, 1, 8, 8}}};
  for (int32_t r = 0; r < 8; ++r)
    for (int32_t q = 0; q < 8; ++q) x[r * 8 + q] = (float)(10 * r + q);
  const float centre[9] = {0, 0, 0, 0, 1, 0, 0, 0, 0}, one[1] = {1};
  float one_by_one[16];
  predict_one_conv(&tap1, DCNN_CONV_GEMM_1X1, x, one, one_by_one, NULL);
  for (int a = DCNN_CONV_IM2COL_GEMM; a <= DCNN_CONV_UNROLLED_GEMM; ++a) {
    if (!applies(&tap3, (dcnn_conv_algorithm)a)) continue;
    predict_one_conv(&tap3, (dcnn_conv_algorithm)a, x, centre, y, NULL);
    for (int32_t k = 0; k < 16; ++k) {
      assert_float_equal(one_by_one[k], (float)(20 * (k / 4) + 2 * (k % 4)) + 0.25f, 0);
      assert_float_equal(y[k], one_by_one[k], 0);
    }
    predict_one_conv(&keras, (dcnn_conv_algorithm)a, x, centre, y, NULL);
    for (int32_t k = 0; k < 16; ++k) assert_float_equal(y[k], one_by_one[k] + 11.0f, 0); /* (2i + 1, 2j + 1) */
  }
  free(x);
  free(w);
  free(y);
  free(ref);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(every_algorithm_matches_finite_differences),
      cmocka_unit_test(every_algorithm_agrees_with_im2col),
      cmocka_unit_test(deterministic_for_a_thread_count),
      cmocka_unit_test(auto_follows_the_documented_rule),
      cmocka_unit_test(forcing_errors_are_clear),
      cmocka_unit_test(a_prediction_fixes_the_algorithm),
      cmocka_unit_test(algorithm_is_reported),
      cmocka_unit_test(same_lower_pads_before),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
