/* Shapes and tensors: creation, views, copies, random fills, initialisers, errors. */
#include <math.h>
#include <string.h>

#include "test_support.h"

static void shape_helpers(void **state) {
  (void)state;
  dcnn_shape s = dcnn_shape_make(4, 32, 1, 28, 28);
  assert_int_equal(dcnn_shape_count(&s), 32 * 28 * 28);
  char text[48];
  assert_string_equal(dcnn_shape_format(&s, text, sizeof text), "(32, 1, 28, 28)");
  dcnn_shape bad = dcnn_shape_make(5, 1, 1, 1, 1);
  assert_int_equal(bad.ndim, 0);
  assert_int_equal(dcnn_shape_count(&bad), -1);
  dcnn_shape zero = dcnn_shape_make(2, 3, 0, 0, 0);
  assert_int_equal(dcnn_shape_count(&zero), -1);
  dcnn_shape huge = dcnn_shape_make(4, 1 << 30, 1 << 30, 2, 2);
  assert_int_equal(dcnn_shape_count(&huge), -1);
  /* 49477 * 7695460 * 48448661 = 2^64 + 4: each running product stays under the 2^40 limit
   * until the last multiply, which would wrap int64 to 4 if it were done before the check. */
  dcnn_shape wrapping = dcnn_shape_make(4, 1, 49477, 7695460, 48448661);
  assert_int_equal(dcnn_shape_count(&wrapping), -1);
  dcnn_tensor *t = NULL;
  assert_int_equal(dcnn_tensor_create(NULL, &wrapping, &t), DCNN_ERR_INVALID_ARGUMENT);
  assert_null(t);
  const dcnn_shape limit = dcnn_shape_make(2, 1 << 20, 1 << 20, 0, 0);
  assert_int_equal(dcnn_shape_count(&limit), INT64_C(1) << 40);
  assert_true(dcnn_shape_equal(&s, &s));
  assert_false(dcnn_shape_equal(&s, &zero));
  assert_false(dcnn_shape_equal(&s, NULL));
  assert_string_equal(dcnn_shape_format(NULL, text, sizeof text), "");
  /* tensor.h: 64 bytes always suffice, even for the longest (invalid) shape. */
  const dcnn_shape longest = {4, {INT32_MIN, INT32_MIN, INT32_MIN, INT32_MIN}};
  char documented[64];
  assert_string_equal(dcnn_shape_format(&longest, documented, sizeof documented),
                      "(-2147483648, -2147483648, -2147483648, -2147483648)");
  char short_buffer[8];
  assert_string_equal(dcnn_shape_format(&longest, short_buffer, sizeof short_buffer), "(-21474");
}

static void create_is_zeroed_and_aligned(void **state) {
  (void)state;
  dcnn_shape s = dcnn_shape_make(3, 2, 3, 5, 0);
  dcnn_tensor *t = NULL;
  assert_ok(dcnn_tensor_create(NULL, &s, &t));
  assert_int_equal(dcnn_tensor_count(t), 30);
  assert_true(dcnn_shape_equal(&s, &(dcnn_shape){dcnn_tensor_shape(t).ndim, {2, 3, 5, 0}}));
  const float *x = dcnn_tensor_data_const(t);
  assert_int_equal((uintptr_t)x % 64, 0);
  for (int i = 0; i < 30; ++i) assert_true(x[i] == 0.0f);
  assert_ok(dcnn_tensor_fill(t, 2.5f));
  for (int i = 0; i < 30; ++i) assert_true(x[i] == 2.5f);
  dcnn_tensor_destroy(t);
  dcnn_tensor_destroy(NULL);
  assert_null(dcnn_tensor_data(NULL));
  assert_int_equal(dcnn_tensor_count(NULL), 0);
}

static void create_rejects_bad_arguments(void **state) {
  (void)state;
  dcnn_shape bad = dcnn_shape_make(2, 4, -1, 0, 0);
  dcnn_tensor *t = (dcnn_tensor *)&bad; /* must be reset to NULL */
  assert_status(dcnn_tensor_create(NULL, &bad, &t), DCNN_ERR_INVALID_ARGUMENT);
  assert_null(t);
  assert_error_mentions("(4, -1)");
  assert_status(dcnn_tensor_create(NULL, NULL, &t), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_tensor_create(NULL, &bad, NULL), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_tensor_fill(NULL, 1.0f), DCNN_ERR_INVALID_ARGUMENT);
}

static void allocation_failure_leaves_nothing(void **state) {
  (void)state;
  dcnn_context *ctx = test_context(1);
  dcnn_shape s = dcnn_shape_make(2, 16, 16, 0, 0);
  for (int64_t allow = 0; allow < 2; ++allow) {
    failing_allocator fa = {allow, 0};
    dcnn_allocator hooks = failing_allocator_hooks(&fa);
    assert_ok(dcnn_context_set_allocator(ctx, &hooks));
    dcnn_tensor *t = NULL;
    assert_status(dcnn_tensor_create(ctx, &s, &t), DCNN_ERR_OUT_OF_MEMORY);
    assert_null(t);
    assert_int_equal(dcnn_context_live_allocations(ctx), 0);
  }
  dcnn_context_destroy(ctx);
}

static void wrap_and_view_share_memory(void **state) {
  (void)state;
  float buffer[12];
  for (int i = 0; i < 12; ++i) buffer[i] = (float)i;
  dcnn_shape s = dcnn_shape_make(2, 3, 4, 0, 0);
  dcnn_tensor *w = NULL, *v = NULL;
  assert_ok(dcnn_tensor_wrap(NULL, &s, buffer, &w));
  assert_ptr_equal(dcnn_tensor_data(w), buffer);
  dcnn_shape flat = dcnn_shape_make(1, 12, 0, 0, 0);
  assert_ok(dcnn_tensor_view(w, &flat, &v));
  assert_ptr_equal(dcnn_tensor_data(v), buffer);
  dcnn_tensor_data(v)[5] = 42.0f;
  assert_true(buffer[5] == 42.0f);
  dcnn_shape wrong = dcnn_shape_make(1, 13, 0, 0, 0);
  dcnn_tensor *x = NULL;
  assert_status(dcnn_tensor_view(w, &wrong, &x), DCNN_ERR_SHAPE_MISMATCH);
  assert_null(x);
  assert_error_mentions("(13)");
  assert_status(dcnn_tensor_wrap(NULL, &s, NULL, &x), DCNN_ERR_INVALID_ARGUMENT);
  dcnn_tensor_destroy(v);
  dcnn_tensor_destroy(w); /* must not free the stack buffer */
}

static void copy_and_reshape(void **state) {
  (void)state;
  dcnn_shape a = dcnn_shape_make(2, 2, 3, 0, 0), b = dcnn_shape_make(2, 3, 2, 0, 0);
  dcnn_tensor *x = NULL, *y = NULL;
  assert_ok(dcnn_tensor_create(NULL, &a, &x));
  assert_ok(dcnn_tensor_create(NULL, &a, &y));
  assert_ok(dcnn_tensor_fill_random(x, DCNN_DIST_UNIFORM, -1.0f, 1.0f, 3, 0));
  assert_ok(dcnn_tensor_copy(y, x));
  assert_memory_equal(dcnn_tensor_data(y), dcnn_tensor_data(x), 6 * sizeof(float));
  const float *before = dcnn_tensor_data(y);
  assert_ok(dcnn_tensor_reshape(y, &b));
  assert_ptr_equal(dcnn_tensor_data(y), before);
  assert_true(dcnn_shape_equal(&b, &(dcnn_shape){2, {3, 2, 0, 0}}));
  assert_status(dcnn_tensor_copy(y, x), DCNN_ERR_SHAPE_MISMATCH);
  assert_error_mentions("(3, 2)");
  dcnn_shape seven = dcnn_shape_make(1, 7, 0, 0, 0);
  assert_status(dcnn_tensor_reshape(y, &seven), DCNN_ERR_SHAPE_MISMATCH);
  dcnn_tensor_destroy(x);
  dcnn_tensor_destroy(y);
}

static void random_fill_is_reproducible(void **state) {
  (void)state;
  dcnn_shape s = dcnn_shape_make(1, 1000, 0, 0, 0);
  dcnn_tensor *a = NULL, *b = NULL;
  assert_ok(dcnn_tensor_create(NULL, &s, &a));
  assert_ok(dcnn_tensor_create(NULL, &s, &b));
  assert_ok(dcnn_tensor_fill_random(a, DCNN_DIST_NORMAL, 1.0f, 2.0f, 99, 4));
  assert_ok(dcnn_tensor_fill_random(b, DCNN_DIST_NORMAL, 1.0f, 2.0f, 99, 4));
  assert_memory_equal(dcnn_tensor_data(a), dcnn_tensor_data(b), 1000 * sizeof(float));
  /* Element i is the number at index i: independent of how the fill is split. */
  assert_true(dcnn_tensor_data(a)[123] == 1.0f + 2.0f * dcnn_random_normal(99, 4, 123));
  assert_ok(dcnn_tensor_fill_random(b, DCNN_DIST_NORMAL, 1.0f, 2.0f, 99, 5));
  assert_memory_not_equal(dcnn_tensor_data(a), dcnn_tensor_data(b), 1000 * sizeof(float));
  assert_status(dcnn_tensor_fill_random(a, DCNN_DIST_UNIFORM, 1.0f, 1.0f, 1, 1), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_tensor_fill_random(a, DCNN_DIST_NORMAL, 0.0f, -1.0f, 1, 1), DCNN_ERR_INVALID_ARGUMENT);
  /* draws reach about 6.7 sigma: a sigma of 1e38 would give infinities, 4e37 stays finite */
  assert_status(dcnn_tensor_fill_random(a, DCNN_DIST_NORMAL, 0.0f, 1e38f, 1, 1), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_tensor_fill_random(a, DCNN_DIST_NORMAL, 3e38f, 1e37f, 1, 1), DCNN_ERR_INVALID_ARGUMENT);
  assert_ok(dcnn_tensor_fill_random(a, DCNN_DIST_NORMAL, 0.0f, 4e37f, 1, 1));
  for (int64_t i = 0; i < 1000; ++i) assert_true(isfinite(dcnn_tensor_data(a)[i]));
  assert_status(dcnn_tensor_fill_random(a, (dcnn_distribution)7, 0.0f, 1.0f, 1, 1), DCNN_ERR_INVALID_ARGUMENT);
  dcnn_tensor_destroy(a);
  dcnn_tensor_destroy(b);
}

static void initializers_respect_their_limits(void **state) {
  (void)state;
  dcnn_shape s = dcnn_shape_make(4, 64, 32, 3, 3);
  dcnn_tensor *w = NULL;
  assert_ok(dcnn_tensor_create(NULL, &s, &w));
  const int64_t fan_in = 32 * 9, fan_out = 64 * 9, n = dcnn_tensor_count(w);
  const float *x = dcnn_tensor_data_const(w);
  assert_ok(dcnn_tensor_init(w, DCNN_INIT_GLOROT_UNIFORM, fan_in, fan_out, 1, 0));
  double limit = sqrt(6.0 / (double)(fan_in + fan_out)), maxabs = 0, sum2 = 0;
  for (int64_t i = 0; i < n; ++i) {
    maxabs = fmax(maxabs, fabs(x[i]));
    sum2 += (double)x[i] * x[i];
  }
  assert_true(maxabs <= limit);
  assert_true(maxabs > 0.95 * limit);
  assert_true(fabs(sum2 / (double)n - limit * limit / 3.0) < 0.05 * limit * limit / 3.0);
  assert_ok(dcnn_tensor_init(w, DCNN_INIT_HE_NORMAL, fan_in, fan_out, 1, 0));
  sum2 = 0;
  for (int64_t i = 0; i < n; ++i) sum2 += (double)x[i] * x[i];
  assert_true(fabs(sum2 / (double)n - 2.0 / (double)fan_in) < 0.05 * 2.0 / (double)fan_in);
  assert_ok(dcnn_tensor_init(w, DCNN_INIT_ONES, 1, 1, 0, 0));
  assert_true(x[0] == 1.0f && x[n - 1] == 1.0f);
  assert_status(dcnn_tensor_init(w, DCNN_INIT_GLOROT_UNIFORM, 0, 5, 0, 0), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("fan_in");
  assert_status(dcnn_tensor_init(w, (dcnn_initializer)42, 1, 1, 0, 0), DCNN_ERR_INVALID_ARGUMENT);
  dcnn_tensor_destroy(w);
}

/* Fans up to INT64_MAX: fan_in + fan_out would overflow int64, the limits
 * are tiny but the values finite. */
static void initializers_take_the_largest_fans(void **state) {
  (void)state;
  dcnn_shape s = dcnn_shape_make(1, 16, 0, 0, 0);
  dcnn_tensor *w = NULL;
  assert_ok(dcnn_tensor_create(NULL, &s, &w));
  for (int init = DCNN_INIT_GLOROT_UNIFORM; init <= DCNN_INIT_HE_NORMAL; ++init) {
    assert_ok(dcnn_tensor_init(w, (dcnn_initializer)init, INT64_MAX, 1, 1, 0));
    assert_ok(dcnn_tensor_init(w, (dcnn_initializer)init, INT64_MAX, INT64_MAX, 1, 0));
    for (int64_t i = 0; i < dcnn_tensor_count(w); ++i)
      assert_true(isfinite(dcnn_tensor_data(w)[i]) && fabsf(dcnn_tensor_data(w)[i]) < 1e-8f);
  }
  dcnn_tensor_destroy(w);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(shape_helpers),
      cmocka_unit_test(create_is_zeroed_and_aligned),
      cmocka_unit_test(create_rejects_bad_arguments),
      cmocka_unit_test(allocation_failure_leaves_nothing),
      cmocka_unit_test(wrap_and_view_share_memory),
      cmocka_unit_test(copy_and_reshape),
      cmocka_unit_test(random_fill_is_reproducible),
      cmocka_unit_test(initializers_respect_their_limits),
      cmocka_unit_test(initializers_take_the_largest_fans),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
