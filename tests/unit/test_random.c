/* Counter-based random numbers: known answers, ranges, moments, independence. */
#include <float.h>
#include <math.h>

#include "core/internal.h"
#include "test_support.h"

static void philox_known_answers(void **state) {
  (void)state;
  /* Known-answer vectors of the Random123 distribution (kat_vectors). */
  const uint32_t zero_ctr[4] = {0, 0, 0, 0}, zero_key[2] = {0, 0};
  uint32_t out[4];
  dcnn_philox4x32(zero_ctr, zero_key, out);
  assert_int_equal(out[0], 0x6627e8d5u);
  assert_int_equal(out[1], 0xe169c58du);
  assert_int_equal(out[2], 0xbc57ac4cu);
  assert_int_equal(out[3], 0x9b00dbd8u);
  const uint32_t ones_ctr[4] = {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu};
  const uint32_t ones_key[2] = {0xffffffffu, 0xffffffffu};
  dcnn_philox4x32(ones_ctr, ones_key, out);
  assert_int_equal(out[0], 0x408f276du);
  assert_int_equal(out[1], 0x41c83b0eu);
  assert_int_equal(out[2], 0xa20bc7c6u);
  assert_int_equal(out[3], 0x6d5451fdu);
}

static void uniform_is_in_range_with_right_mean(void **state) {
  (void)state;
  const int n = 200000;
  double sum = 0, sum2 = 0;
  for (int i = 0; i < n; ++i) {
    float u = dcnn_random_uniform(7, 3, (uint64_t)i);
    assert_true(u >= 0.0f && u < 1.0f);
    sum += u;
    sum2 += (double)u * u;
  }
  double mean = sum / n, var = sum2 / n - mean * mean;
  assert_true(fabs(mean - 0.5) < 0.005);
  assert_true(fabs(var - 1.0 / 12.0) < 0.002);
}

static void normal_has_unit_moments(void **state) {
  (void)state;
  const int n = 200000;
  double sum = 0, sum2 = 0;
  for (int i = 0; i < n; ++i) {
    double z = dcnn_random_normal(11, 0, (uint64_t)i);
    assert_true(isfinite(z));
    sum += z;
    sum2 += z * z;
  }
  double mean = sum / n, var = sum2 / n - mean * mean;
  assert_true(fabs(mean) < 0.01);
  assert_true(fabs(var - 1.0) < 0.02);
}

static void streams_and_seeds_differ_and_repeat(void **state) {
  (void)state;
  assert_int_equal(dcnn_random_bits(1, 2, 3), dcnn_random_bits(1, 2, 3));
  assert_int_not_equal(dcnn_random_bits(1, 2, 3), dcnn_random_bits(1, 3, 3));
  assert_int_not_equal(dcnn_random_bits(1, 2, 3), dcnn_random_bits(2, 2, 3));
  assert_int_not_equal(dcnn_random_bits(1, 2, 3), dcnn_random_bits(1, 2, 4));
  assert_true(dcnn_random_derive(5, 1) != dcnn_random_derive(5, 2));
  assert_true(dcnn_random_derive(5, 1) == dcnn_random_derive(5, 1));
}

/* dcnn_tensor_fill_random's uniform draws stay in [a, b) at the edges of
 * float: bounds one float apart, bounds whose difference overflows. Inside
 * the usual ranges they keep the bits of a + (b - a) u in float, which every
 * model initialised so far was drawn with. */
static void uniform_fill_stays_in_its_bounds(void **state) {
  (void)state;
  const int64_t n = 20000;
  dcnn_shape s = dcnn_shape_make(1, (int32_t)n, 0, 0, 0);
  dcnn_tensor *t = NULL;
  assert_ok(dcnn_tensor_create(NULL, &s, &t));
  const float *v = dcnn_tensor_data(t);
  const float bounds[][2] = {{1.0f, nextafterf(1.0f, 2.0f)},  {-3e38f, 3e38f},          {-FLT_MAX, FLT_MAX},
                             {0.0f, FLT_MIN},                  {-0.1f, 0.1f},            {1e30f, 1.0000001e30f},
                             {-1.0f, nextafterf(-1.0f, 0.0f)}, {nextafterf(3e38f, 0.0f), 3e38f}};
  for (size_t k = 0; k < sizeof bounds / sizeof bounds[0]; ++k) {
    const float a = bounds[k][0], b = bounds[k][1];
    assert_ok(dcnn_tensor_fill_random(t, DCNN_DIST_UNIFORM, a, b, 1, 1));
    float low = b, high = a;
    for (int64_t i = 0; i < n; ++i) {
      if (!(v[i] >= a && v[i] < b))
        fail_msg("uniform [%.9g, %.9g): value %lld is %.9g", (double)a, (double)b, (long long)i, (double)v[i]);
      low = fminf(low, v[i]);
      high = fmaxf(high, v[i]);
    }
    /* Wide ranges are covered, not collapsed onto one end. */
    if (k == 1 || k == 2) assert_true(low < 0.9f * a && high > 0.9f * b);
  }
  assert_ok(dcnn_tensor_fill_random(t, DCNN_DIST_UNIFORM, -0.1f, 0.1f, 3, 5));
  for (int64_t i = 0; i < n; ++i) {
    const float u = dcnn_random_uniform(3, 5, (uint64_t)i), b_minus_a = 0.1f - -0.1f, scaled = b_minus_a * u;
    assert_true(v[i] == -0.1f + scaled);
  }
  dcnn_tensor_destroy(t);
}

/* Shuffles draw j in [0, i] with dcnn__random_below: small bounds keep the
 * orders every seed has given; a bound of 3 * 2^30 is not skewed toward its
 * first third, as 32 bits modulo it would be (half the draws there). */
static void draws_below_a_bound(void **state) {
  (void)state;
  for (uint32_t bound = 1; bound <= (1u << 20); bound = bound * 3 + 1)
    for (uint64_t i = 0; i < 64; ++i)
      assert_int_equal(dcnn__random_below(7, 2, i, bound), dcnn_random_bits(7, 2, i) % bound);
  const uint32_t bound = 3u << 30;
  const int n = 300000;
  int low = 0;
  for (int i = 0; i < n; ++i) {
    const uint32_t v = dcnn__random_below(11, 0, (uint64_t)i, bound);
    assert_true(v < bound);
    low += v < (1u << 30);
  }
  const double share = (double)low / n; /* 1/3 expected; binomial sd 0.00086 */
  if (fabs(share - 1.0 / 3.0) > 0.005) fail_msg("share of draws in the first third: %.4f, expected 0.3333", share);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(philox_known_answers),
      cmocka_unit_test(draws_below_a_bound),
      cmocka_unit_test(uniform_is_in_range_with_right_mean),
      cmocka_unit_test(normal_has_unit_moments),
      cmocka_unit_test(streams_and_seeds_differ_and_repeat),
      cmocka_unit_test(uniform_fill_stays_in_its_bounds),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
