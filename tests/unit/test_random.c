/* Counter-based random numbers: known answers, ranges, moments, independence. */
#include <math.h>

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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(philox_known_answers),
      cmocka_unit_test(uniform_is_in_range_with_right_mean),
      cmocka_unit_test(normal_has_unit_moments),
      cmocka_unit_test(streams_and_seeds_differ_and_repeat),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
