/* The vectorised element-wise kernels (kernels/activations.c) against plain
 * loops, the layers using them across thread counts, and the profile rows of
 * a residual block's parts (residual_profile.h). */
#include <math.h>
#include <string.h>

#include "kernels/activations.h"
#include "layers/layer_internal.h"
#include "test_support.h"

/* Lengths around the vector widths and the threading threshold. */
static const int64_t lengths[] = {1, 7, 15, 16, 17, 33, 63, 100, 32767, 65537};
#define LONGEST 65537

static float values[LONGEST], other[LONGEST], got[LONGEST], got2[LONGEST];

static void fill(void) {
  /* Every branch: negatives, 0, inside (0, 6), 6 exactly, above 6. */
  static const float specials[] = {-2.5f, 0.0f, 0.5f, 6.0f, 7.25f, -0.0f, 5.999f, 6.001f};
  for (int64_t i = 0; i < LONGEST; ++i) {
    values[i] = i % 3 == 0 ? specials[i % 8] : (float)((i * 37) % 101) / 8.0f - 4.0f;
    other[i] = (float)((i * 53) % 97) / 16.0f - 3.0f;
  }
}

static void relu6_and_add_match_plain_loops(void **state) {
  (void)state;
  fill();
  for (size_t k = 0; k < sizeof lengths / sizeof lengths[0]; ++k) {
    const int64_t n = lengths[k];
    dcnn__relu6_forward(values, got, n);
    for (int64_t i = 0; i < n; ++i) {
      const float want = values[i] < 0.0f ? 0.0f : values[i] > 6.0f ? 6.0f : values[i];
      if (got[i] != want) fail_msg("relu6(%g) = %g at %lld of %lld", (double)values[i], (double)got[i], (long long)i, (long long)n);
    }
    dcnn__relu6_backward(got, other, got2, n);
    for (int64_t i = 0; i < n; ++i) {
      const float want = values[i] > 0.0f && values[i] < 6.0f ? other[i] : 0.0f;
      if (got2[i] != want) fail_msg("relu6' at x = %g: %g, want %g", (double)values[i], (double)got2[i], (double)want);
    }
    for (int relu = 0; relu < 2; ++relu) {
      dcnn__add(values, other, got, n, relu);
      memcpy(got2, values, (size_t)n * sizeof(float));
      dcnn__add(got2, other, got2, n, relu); /* in place, as the inference path does */
      for (int64_t i = 0; i < n; ++i) {
        const float v = values[i] + other[i], want = relu && v < 0.0f ? 0.0f : v;
        assert_true(got[i] == want && got2[i] == want);
      }
    }
    dcnn__relu_mask(values, other, got, n);
    memcpy(got2, values, (size_t)n * sizeof(float));
    dcnn__accumulate(got2, other, n);
    for (int64_t i = 0; i < n; ++i) {
      assert_true(got[i] == (values[i] > 0.0f ? other[i] : 0.0f));
      assert_true(got2[i] == values[i] + other[i]);
    }
  }
}

static void plane_means_and_spread(void **state) {
  (void)state;
  fill();
  static const int32_t planes[] = {1, 4, 31, 32, 49, 100, 257};
  for (size_t k = 0; k < sizeof planes / sizeof planes[0]; ++k) {
    const int32_t plane = planes[k];
    const int64_t count = 200 < LONGEST / plane ? 200 : LONGEST / plane;
    dcnn__plane_means(values, got, count, plane);
    for (int64_t q = 0; q < count; ++q) {
      double sum = 0;
      for (int32_t p = 0; p < plane; ++p) sum += values[q * plane + p];
      if (fabs(got[q] - sum / plane) > 1e-5 * (1 + fabs(sum / plane)))
        fail_msg("plane %d, mean %lld: %g, want %g", (int)plane, (long long)q, (double)got[q], sum / plane);
    }
    dcnn__plane_spread(other, got2, count, plane);
    for (int64_t i = 0; i < count * plane; ++i) assert_true(got2[i] == other[i / plane] / (float)plane);
  }
}

/* relu6, global_avgpool and a residual block give the same bits with 1 and 2 threads, large enough to split. */
static void same_bits_on_one_and_two_threads(void **state) {
  (void)state;
  dcnn_context *ctx = test_context(2);
  for (int kind = 0; kind < 3; ++kind) {
    dcnn_layer *l = NULL;
    dcnn_shape in = dcnn_shape_make(4, 4, 16, 24, 24); /* 36864 values: above the threading threshold */
    if (kind == 0) assert_ok(dcnn_relu6_create(&l));
    if (kind == 1) assert_ok(dcnn_global_avgpool_create(&l));
    if (kind == 2) {
      dcnn_layer *body[2] = {0};
      assert_ok(dcnn_batchnorm_create(0.9f, 1e-3f, &body[0]));
      assert_ok(dcnn_relu6_create(&body[1]));
      assert_ok(dcnn_residual_create(body, 2, NULL, 0, DCNN_RESIDUAL_RELU, &l));
    }
    assert_ok(dcnn_layer_build(l, ctx, &in));
    assert_ok(dcnn__layer_plan(l, in.dims[0]));
    if (l->vt->init_params) assert_ok(l->vt->init_params(l->self, 3));
    dcnn_shape out = dcnn__with_batch(&l->output, in.dims[0]);
    dcnn_tensor *x, *y, *dy, *dx, *y1, *dx1;
    assert_ok(dcnn_tensor_create(ctx, &in, &x));
    assert_ok(dcnn_tensor_create(ctx, &in, &dx));
    assert_ok(dcnn_tensor_create(ctx, &in, &dx1));
    assert_ok(dcnn_tensor_create(ctx, &out, &y));
    assert_ok(dcnn_tensor_create(ctx, &out, &y1));
    assert_ok(dcnn_tensor_create(ctx, &out, &dy));
    assert_ok(dcnn_tensor_fill_random(x, DCNN_DIST_NORMAL, 2.0f, 4.0f, 7, 0));
    assert_ok(dcnn_tensor_fill_random(dy, DCNN_DIST_NORMAL, 0.0f, 1.0f, 8, 0));
    for (int32_t threads = 1; threads <= 2; ++threads) {
      dcnn_exec e = {.ctx = ctx, .training = 1, .threads = threads, .seed = 9, .backward = 1};
      e.workspace_size = dcnn__layer_workspace(l, in.dims[0], threads, 0);
      e.workspace = e.workspace_size ? dcnn__alloc(ctx, (size_t)e.workspace_size) : NULL;
      assert_ok(l->vt->forward(l->self, &e, x, threads == 1 ? y1 : y));
      assert_ok(l->vt->backward(l->self, &e, x, threads == 1 ? y1 : y, dy, threads == 1 ? dx1 : dx));
      dcnn__release(ctx, e.workspace);
    }
    assert_memory_equal(y->data, y1->data, (size_t)y->count * sizeof(float));
    assert_memory_equal(dx->data, dx1->data, (size_t)dx->count * sizeof(float));
    dcnn_tensor_destroy(x);
    dcnn_tensor_destroy(dx);
    dcnn_tensor_destroy(dx1);
    dcnn_tensor_destroy(y);
    dcnn_tensor_destroy(y1);
    dcnn_tensor_destroy(dy);
    dcnn_layer_destroy(l);
  }
  assert_int_equal(dcnn_context_live_allocations(ctx), 0);
  dcnn_context_destroy(ctx);
}

/* A profiled training step shows a residual block's sub-layers and its sum under the block's row. */
static void profile_shows_residual_parts(void **state) {
  (void)state;
  dcnn_context *ctx = test_context(1);
  const dcnn_shape sample = dcnn_shape_make(3, 2, 6, 6, 0);
  dcnn_model *m = NULL;
  assert_ok(dcnn_model_create(ctx, &sample, &m));
  dcnn_layer *l = NULL, *body[2] = {0}, *shortcut[1] = {0};
  assert_ok(dcnn_conv2d_create(3, 3, 1, DCNN_PADDING_SAME, DCNN_NO_BIAS, &body[0]));
  assert_ok(dcnn_batchnorm_create(0.9f, 1e-3f, &body[1]));
  assert_ok(dcnn_conv2d_create(3, 1, 1, DCNN_PADDING_SAME, DCNN_NO_BIAS, &shortcut[0]));
  assert_ok(dcnn_residual_create(body, 2, shortcut, 1, DCNN_RESIDUAL_RELU, &l));
  assert_ok(dcnn_model_add(m, l));
  assert_ok(dcnn_global_avgpool_create(&l));
  assert_ok(dcnn_model_add(m, l));
  assert_ok(dcnn_dense_create(4, DCNN_WITH_BIAS, &l));
  assert_ok(dcnn_model_add(m, l));
  assert_ok(dcnn_softmax_create(&l));
  assert_ok(dcnn_model_add(m, l));
  dcnn_optimizer *opt = NULL;
  assert_ok(dcnn_optimizer_create_adam(ctx, 1e-3f, 0.9f, 0.999f, 1e-7f, 0.0f, &opt));
  dcnn_shape s = dcnn_shape_make(4, 3, 2, 6, 6);
  dcnn_tensor *x = NULL;
  assert_ok(dcnn_tensor_create(ctx, &s, &x));
  assert_ok(dcnn_tensor_fill_random(x, DCNN_DIST_UNIFORM, 0.0f, 1.0f, 1, 0));
  const int32_t labels[3] = {0, 1, 3};
  dcnn_profile *p = NULL;
  assert_ok(dcnn_profile_create(m, &p));
  assert_ok(dcnn_model_set_profile(m, p));
  for (int i = 0; i < 2; ++i) assert_ok(dcnn_model_train_step(m, opt, x, labels, NULL, NULL));
  assert_ok(dcnn_model_set_profile(m, NULL));
  char *text = NULL;
  assert_ok(dcnn_profile_format(p, 0.0, &text));
  static const char *const rows[] = {" 0.b0  conv2d           forward          2", " 0.b1  batchnorm        forward          2",
                                     " 0.s0  conv2d           forward          2", " 0.sum add+relu         forward          2",
                                     " 0.b0  conv2d           backward         2", " 0.sum add+relu         backward         2"};
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; ++i)
    if (!strstr(text, rows[i])) fail_msg("no row \"%s\" in\n%s", rows[i], text);
  dcnn_free(text);
  /* Attached again, the parts go on adding up with the rows. */
  assert_ok(dcnn_model_set_profile(m, p));
  assert_ok(dcnn_model_train_step(m, opt, x, labels, NULL, NULL));
  assert_ok(dcnn_model_set_profile(m, NULL));
  assert_ok(dcnn_profile_format(p, 0.0, &text));
  if (!strstr(text, "0      residual         forward          3") || !strstr(text, " 0.b0  conv2d           forward          3"))
    fail_msg("attached again:\n%s", text);
  dcnn_free(text);
  /* A reset empties the parts with the rows. */
  dcnn_profile_reset(p);
  assert_ok(dcnn_model_set_profile(m, p));
  assert_ok(dcnn_model_train_step(m, opt, x, labels, NULL, NULL));
  assert_ok(dcnn_profile_format(p, 0.0, &text));
  if (!strstr(text, " 0.b0  conv2d           forward          1")) fail_msg("after a reset:\n%s", text);
  dcnn_free(text);
  assert_ok(dcnn_model_set_profile(m, NULL));
  dcnn_profile_destroy(p);
  dcnn_tensor_destroy(x);
  dcnn_optimizer_destroy(opt);
  dcnn_model_destroy(m);
  dcnn_context_destroy(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(relu6_and_add_match_plain_loops),
      cmocka_unit_test(plane_means_and_spread),
      cmocka_unit_test(same_bits_on_one_and_two_threads),
      cmocka_unit_test(profile_shows_residual_parts),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
