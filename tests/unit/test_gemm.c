/* dcnn__sgemm (lib/kernels/gemm.c) against a double-precision product, with
 * the one-row case (a dense layer at batch 1), which runs as a matrix-vector
 * product, in every transposition, thread count and beta; C starts as NaN
 * where beta = 0 must ignore it. Also dcnn__sgemm_small (small_gemm.c), the
 * unpacked product of Winograd's positions, with each of its kernels (AVX2 or
 * portable, and AVX-512 where the CPU has it), and dcnn__sgemm_small_nt, the
 * transposed product of backward-weights. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu.h"
#include "kernels/kernels.h"
#include "kernels/small_gemm.h"
#include "test_support.h"

static float value(uint32_t *state) {
  *state = *state * 1664525u + 1013904223u;
  return (float)(*state >> 8) / (float)(1u << 24) * 2.0f - 1.0f;
}

/* C (m, n) = alpha op(A) op(B) + beta C0 in double, checked against dcnn__sgemm. */
static void check(int32_t threads, int ta, int tb, int32_t m, int32_t n, int32_t k, float alpha, float beta) {
  const int32_t lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 2, ldc = n + 1;
  const int64_t a_n = (int64_t)(ta ? k : m) * lda, b_n = (int64_t)(tb ? n : k) * ldb, c_n = (int64_t)m * ldc;
  float *a = malloc((size_t)a_n * sizeof *a), *b = malloc((size_t)b_n * sizeof *b);
  float *c = malloc((size_t)c_n * sizeof *c), *c0 = malloc((size_t)c_n * sizeof *c0);
  assert_non_null(a), assert_non_null(b), assert_non_null(c), assert_non_null(c0);
  uint32_t state = (uint32_t)(m * 131 + n * 17 + k);
  for (int64_t i = 0; i < a_n; ++i) a[i] = value(&state);
  for (int64_t i = 0; i < b_n; ++i) b[i] = value(&state);
  for (int64_t i = 0; i < c_n; ++i) c0[i] = beta == 0.0f ? NAN : value(&state);
  memcpy(c, c0, (size_t)c_n * sizeof *c);
  assert_ok(dcnn__sgemm(threads, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc));
  for (int32_t i = 0; i < m; ++i)
    for (int32_t j = 0; j < n; ++j) {
      double want = 0, scale = 0;
      for (int32_t p = 0; p < k; ++p) {
        const double x = ta ? a[(int64_t)p * lda + i] : a[(int64_t)i * lda + p];
        const double y = tb ? b[(int64_t)j * ldb + p] : b[(int64_t)p * ldb + j];
        want += x * y;
        scale += fabs(x * y);
      }
      want *= alpha;
      if (beta != 0.0f) want += (double)beta * c0[(int64_t)i * ldc + j];
      const double got = c[(int64_t)i * ldc + j];
      if (!(fabs(got - want) <= 1e-5 * (fabs(alpha) * scale + 1.0)))
        fail_msg("threads %d trans %d%d m %d n %d k %d beta %g: C[%d][%d] = %g, want %g", (int)threads, ta, tb, (int)m,
                 (int)n, (int)k, (double)beta, (int)i, (int)j, got, want);
    }
  free(a), free(b), free(c), free(c0);
}

/* dcnn__sgemm_small against a double-precision product, with each kernel the
 * CPU has: every row count (the 6- and 8-row blocks and each remainder),
 * several k and column counts (the 32-column blocks and a 16-column tail),
 * leading dimensions wider than the matrices; C starts as NaN (it is
 * overwritten), and its columns past n are left alone. */
static void small_products_match_the_reference(void **state) {
  (void)state;
  const int32_t ns[] = {16, 32, 48, 80}, ks[] = {1, 9, 64};
  for (int wide = 0; wide <= 1; ++wide) {
    if (dcnn__sgemm_small_force_wide(wide) != wide) continue; /* no AVX-512 here */
    for (int32_t m = 1; m <= 18; ++m)
      for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ++ni)
        for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ++ki) {
          const int32_t n = ns[ni], k = ks[ki], lda = k + 3, ldb = n + 16, ldc = n + 16;
          float *a = malloc((size_t)m * lda * sizeof *a), *b = malloc((size_t)k * ldb * sizeof *b);
          float *c = malloc((size_t)m * ldc * sizeof *c);
          assert_non_null(a), assert_non_null(b), assert_non_null(c);
          uint32_t st = (uint32_t)(m * 7 + n * 3 + k);
          for (int64_t i = 0; i < (int64_t)m * lda; ++i) a[i] = value(&st);
          for (int64_t i = 0; i < (int64_t)k * ldb; ++i) b[i] = value(&st);
          for (int64_t i = 0; i < (int64_t)m * ldc; ++i) c[i] = NAN;
          dcnn__sgemm_small(m, n, k, a, lda, b, ldb, c, ldc);
          for (int32_t i = 0; i < m; ++i) {
            for (int32_t j = 0; j < n; ++j) {
              double want = 0, scale = 0;
              for (int32_t q = 0; q < k; ++q) {
                want += (double)a[(int64_t)i * lda + q] * b[(int64_t)q * ldb + j];
                scale += fabs((double)a[(int64_t)i * lda + q] * b[(int64_t)q * ldb + j]);
              }
              const double got = c[(int64_t)i * ldc + j];
              if (!(fabs(got - want) <= 1e-5 * (scale + 1.0)))
                fail_msg("small (wide %d) m %d n %d k %d: C[%d][%d] = %g, want %g", wide, (int)m, (int)n, (int)k,
                         (int)i, (int)j, got, want);
            }
            for (int32_t j = n; j < ldc; ++j) assert_true(isnan(c[(int64_t)i * ldc + j]));
          }
          free(a), free(b), free(c);
        }
  }
  dcnn__sgemm_small_force_wide(-1);
}

/* dcnn__sgemm_small_nt: c (m, n) = [c +] a (m, k) b (n, k)^T against a
 * double-precision product, both with and without accumulation; it refuses
 * (returns 0, writes nothing) without the AVX-512 kernel or when n or k is not
 * a multiple of 16. */
static void transposed_products_match_the_reference(void **state) {
  (void)state;
  const int32_t ms[] = {1, 8, 13, 32}, ns[] = {16, 48, 64}, ks[] = {16, 112};
  for (int wide = 0; wide <= 1; ++wide) {
    if (dcnn__sgemm_small_force_wide(wide) != wide) continue;
    for (size_t mi = 0; mi < sizeof ms / sizeof ms[0]; ++mi)
      for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ++ni)
        for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ++ki)
          for (int accumulate = 0; accumulate <= 1; ++accumulate) {
            const int32_t m = ms[mi], n = ns[ni], k = ks[ki], lda = k + 5, ldb = k + 16, ldc = n + 3;
            float *a = malloc((size_t)m * lda * sizeof *a), *b = malloc((size_t)n * ldb * sizeof *b);
            float *c = malloc((size_t)m * ldc * sizeof *c), *c0 = malloc((size_t)m * ldc * sizeof *c0);
            float *scratch = malloc((size_t)k * n * sizeof *scratch);
            assert_non_null(a), assert_non_null(b), assert_non_null(c), assert_non_null(c0), assert_non_null(scratch);
            uint32_t st = (uint32_t)(m * 5 + n * 11 + k + accumulate);
            for (int64_t i = 0; i < (int64_t)m * lda; ++i) a[i] = value(&st);
            for (int64_t i = 0; i < (int64_t)n * ldb; ++i) b[i] = value(&st);
            for (int64_t i = 0; i < (int64_t)m * ldc; ++i) c0[i] = c[i] = value(&st);
            const int ran = dcnn__sgemm_small_nt(m, n, k, a, lda, b, ldb, accumulate, c, ldc, scratch);
            assert_int_equal(ran, wide);
            if (!ran) {
              assert_memory_equal(c, c0, (size_t)m * ldc * sizeof *c);
            } else {
              for (int32_t i = 0; i < m; ++i) {
                for (int32_t j = 0; j < n; ++j) {
                  double want = accumulate ? c0[(int64_t)i * ldc + j] : 0.0, scale = fabs(want);
                  for (int32_t q = 0; q < k; ++q) {
                    const double term = (double)a[(int64_t)i * lda + q] * b[(int64_t)j * ldb + q];
                    want += term, scale += fabs(term);
                  }
                  const double got = c[(int64_t)i * ldc + j];
                  if (!(fabs(got - want) <= 1e-5 * (scale + 1.0)))
                    fail_msg("nt m %d n %d k %d accumulate %d: C[%d][%d] = %g, want %g", (int)m, (int)n, (int)k,
                             accumulate, (int)i, (int)j, got, want);
                }
                for (int32_t j = n; j < ldc; ++j) assert_true(c[(int64_t)i * ldc + j] == c0[(int64_t)i * ldc + j]);
              }
            }
            free(a), free(b), free(c), free(c0), free(scratch);
          }
    /* Not multiples of 16: refused, nothing written. */
    float a[24] = {0}, b[24] = {0}, c[4] = {1, 2, 3, 4}, scratch[24];
    assert_int_equal(dcnn__sgemm_small_nt(1, 1, 8, a, 8, b, 8, 0, c, 1, scratch), 0);
    assert_true(c[0] == 1.0f);
  }
  dcnn__sgemm_small_force_wide(-1);
}

/* The run-time clones must reach the CPU's fused multiply-add: with clang 14
 * the x86-64-v3 clone was dropped and every product ran the portable version.
 * 1 x (-1) + (1 + 2^-12)^2 is 2^-11 + 2^-24 when fused, 2^-11 when the product
 * is rounded first. */
static void small_products_use_the_cpus_fused_multiply_add(void **state) {
  (void)state;
#if defined(DCNN_HAVE_CPU_CLONES) && defined(__x86_64__)
  if (!__builtin_cpu_supports("fma")) skip();
  const float near_one = 1.0f + 0x1p-12f;
  float a[2] = {1.0f, near_one}, b[2 * 16], c[16];
  for (int j = 0; j < 16; ++j) b[j] = -1.0f, b[16 + j] = near_one;
  for (int wide = 0; wide <= 1; ++wide) {
    if (dcnn__sgemm_small_force_wide(wide) != wide) continue;
    dcnn__sgemm_small(1, 16, 2, a, 2, b, 16, c, 16);
    for (int j = 0; j < 16; ++j)
      if (c[j] != 0x1p-11f + 0x1p-24f)
        fail_msg("wide %d, column %d: %a, want the fused %a (%a is the unfused sum)", wide, j, (double)c[j],
                 0x1p-11 + 0x1p-24, 0x1p-11);
  }
  dcnn__sgemm_small_force_wide(-1);
#else
  skip();
#endif
}

static void one_row_products_match_the_reference(void **state) {
  (void)state;
  const int32_t ns[] = {1, 63, 200, 257}, ks[] = {1, 7, 300};
  const float betas[] = {0.0f, 0.5f, 1.0f};
  for (int32_t threads = 1; threads <= 3; ++threads)
    for (int t = 0; t < 4; ++t)
      for (size_t i = 0; i < 4; ++i)
        for (size_t j = 0; j < 3; ++j)
          for (size_t q = 0; q < 3; ++q) check(threads, t & 1, t >> 1, 1, ns[i], ks[j], 2.0f, betas[q]);
}

/* The general path too, so that both sides of the one-row branch are covered. */
static void general_products_match_the_reference(void **state) {
  (void)state;
  for (int32_t threads = 1; threads <= 2; ++threads)
    for (int t = 0; t < 4; ++t) {
      check(threads, t & 1, t >> 1, 2, 200, 33, 1.0f, 0.0f);
      check(threads, t & 1, t >> 1, 150, 7, 20, -1.5f, 1.0f);
    }
}

/* A B products of at most 100^3 multiply-adds run in the library (not
 * OpenBLAS, whose small-matrix kernel allocates on AVX-512 cores): at,
 * above and below that size, whole or in 2 or 3 slices of rows or columns,
 * with alpha and beta, and through the vector kernel, against the reference. */
static void small_plain_products_around_the_openblas_threshold(void **state) {
  (void)state;
  const int32_t shapes[][3] = {{100, 100, 100}, {101, 100, 100}, {100, 101, 100}, {64, 300, 40}, {300, 64, 40},
                               {2, 129, 1}, {129, 2, 3}};
  const float betas[] = {0.0f, 0.5f, 1.0f};
  for (int32_t threads = 1; threads <= 3; ++threads)
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; ++s)
      for (size_t q = 0; q < 3; ++q) check(threads, 0, 0, shapes[s][0], shapes[s][1], shapes[s][2], -0.75f, betas[q]);
  /* alpha 1, beta 0 and whole 16-column blocks take the vector kernel (a folded first convolution) */
  for (int32_t threads = 1; threads <= 3; ++threads) {
    check(threads, 0, 0, 32, 1024, 27, 1.0f, 0.0f);
    check(threads, 0, 0, 64, 48, 100, 1.0f, 0.0f);
    check(threads, 0, 0, 7, 200, 9, 1.0f, 0.0f); /* a 200-column slice of 2 threads is not whole blocks */
  }
}

/* The reshapes between NCHW tensors and GEMM matrices, (N, C, P) <-> (C, N, P),
 * for planes of 1x1 to 8x8 and odd sizes, at 1 and 2 threads: exact
 * transpositions, and one undoes the other. */
static void plane_reshapes_are_exact_transpositions(void **state) {
  (void)state;
  static const int32_t planes[] = {1, 4, 15, 16, 31, 32, 49, 64};
  static const int32_t channels[] = {1, 7, 16, 33};
  for (size_t pi = 0; pi < sizeof planes / sizeof planes[0]; ++pi)
    for (size_t ci = 0; ci < sizeof channels / sizeof channels[0]; ++ci)
      for (int32_t threads = 1; threads <= 2; ++threads) {
        const int32_t n = 3, c = channels[ci], p = planes[pi];
        const size_t count = (size_t)n * c * p;
        float *x = malloc(count * sizeof *x), *m = malloc(count * sizeof *m), *back = malloc(count * sizeof *back);
        assert_true(x && m && back);
        for (size_t i = 0; i < count; ++i) x[i] = (float)i;
        dcnn__nchw_to_cnp(threads, x, n, c, p, m);
        for (int32_t a = 0; a < n; ++a)
          for (int32_t b = 0; b < c; ++b)
            for (int32_t k = 0; k < p; ++k)
              assert_true(m[((size_t)b * n + a) * p + k] == x[((size_t)a * c + b) * p + k]);
        dcnn__cnp_to_nchw(threads, m, n, c, p, back);
        assert_memory_equal(back, x, count * sizeof *x);
        free(x);
        free(m);
        free(back);
      }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(one_row_products_match_the_reference),
      cmocka_unit_test(small_products_match_the_reference),
      cmocka_unit_test(transposed_products_match_the_reference),
      cmocka_unit_test(small_products_use_the_cpus_fused_multiply_add),
      cmocka_unit_test(general_products_match_the_reference),
      cmocka_unit_test(small_plain_products_around_the_openblas_threshold),
      cmocka_unit_test(plane_reshapes_are_exact_transpositions),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
