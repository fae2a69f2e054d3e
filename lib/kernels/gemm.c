#include <cblas.h>
#include <string.h>

#include "kernels.h"
#include "small_gemm.h"
#include "../core/internal.h"

/* Below this many columns (or rows) per thread, splitting costs more than it saves. */
#define DCNN_GEMM_MIN_SLICE 64
#define DCNN_GEMM_ALIGN 16

static int32_t slice_start(int32_t total, int32_t parts, int32_t index) {
  int64_t start = (int64_t)total * index / parts;
  start -= start % DCNN_GEMM_ALIGN;
  return index == 0 ? 0 : (int32_t)start;
}

/* C[0, lo:hi] = alpha op(A)(1, K) op(B)[:, lo:hi] + beta C[0, lo:hi] as a
 * matrix-vector product: a one-row GEMM (a dense layer at batch 1) would
 * otherwise pack all of B on every call. */
static void one_row(int trans_a, int trans_b, int32_t lo, int32_t hi, int32_t k, float alpha, const float *a,
                    int32_t lda, const float *b, int32_t ldb, float beta, float *c) {
  const int32_t inc_a = trans_a ? lda : 1; /* op(A)'s K values: a row, or a column of A^T */
  /* GEMM's beta = 0 ignores C; a GEMV may scale C by beta instead (0 x NaN = NaN). */
  if (beta == 0.0f) memset(c + lo, 0, (size_t)(hi - lo) * sizeof(float));
  if (trans_b) /* B (N, K): C^T = B[lo:hi, :] a */
    cblas_sgemv(CblasRowMajor, CblasNoTrans, hi - lo, k, alpha, b + (int64_t)lo * ldb, ldb, a, inc_a, beta, c + lo, 1);
  else /* B (K, N): C^T = B[:, lo:hi]^T a */
    cblas_sgemv(CblasRowMajor, CblasTrans, k, hi - lo, alpha, b + lo, ldb, a, inc_a, beta, c + lo, 1);
}

/* OpenBLAS 0.3.21 running its AVX-512 kernels (SkylakeX and Cooperlake; AMD
 * Zen 4 is taken for Cooperlake) sends row-major C = A B products with
 * m n k <= 100^3 to its "small matrix" kernel, which mallocs a packing buffer
 * on every call (measured on Zen 4: 575 of 2,744 shapes, none with a
 * transpose). The library's steady-state training step allocates nothing
 * (tests/unit/test_no_malloc.c), so those products are computed here, on
 * every CPU alike, and never reach cblas_sgemm. */
#define DCNN_GEMM_SMALL_NN_MNK 1000000

static int small_nn(int trans_a, int trans_b, int32_t m, int32_t n, int32_t k) {
  return !trans_a && !trans_b && (int64_t)m * n * k <= DCNN_GEMM_SMALL_NN_MNK;
}

/* C (m, n) = alpha A (m, k) B (k, n) + beta C, each c[i, j] accumulated over p = 0, 1, ..., k - 1
 * in that order; beta 0 ignores C (as GEMM: 0 x NaN is not NaN). */
static void sgemm_small_nn(int32_t m, int32_t n, int32_t k, float alpha, const float *a, int32_t lda, const float *b,
                           int32_t ldb, float beta, float *c, int32_t ldc) {
  if (alpha == 1.0f && beta == 0.0f && n % 16 == 0) { /* the vector kernel (a folded first convolution) */
    dcnn__sgemm_small(m, n, k, a, lda, b, ldb, c, ldc);
    return;
  }
  for (int32_t i = 0; i < m; ++i) {
    float *restrict row = c + (int64_t)i * ldc; /* (n) */
    if (beta == 0.0f) memset(row, 0, (size_t)n * sizeof(float));
    else if (beta != 1.0f)
      for (int32_t j = 0; j < n; ++j) row[j] *= beta;
    for (int32_t p = 0; p < k; ++p) {
      const float scale = alpha * a[(int64_t)i * lda + p];
      const float *restrict from = b + (int64_t)p * ldb; /* (n) */
      for (int32_t j = 0; j < n; ++j) row[j] += scale * from[j];
    }
  }
}

dcnn_status dcnn__sgemm(int32_t threads, int trans_a, int trans_b, int32_t m, int32_t n, int32_t k, float alpha,
                        const float *a, int32_t lda, const float *b, int32_t ldb, float beta, float *c, int32_t ldc) {
  dcnn__blas_single_threaded();
  if (m == 1 && n > 0 && k > 0) {
    int32_t parts = threads;
    if (parts > n / DCNN_GEMM_MIN_SLICE) parts = n / DCNN_GEMM_MIN_SLICE;
    if (parts <= 1) {
      if (!dcnn__blas_enter()) return dcnn__blas_unavailable();
      one_row(trans_a, trans_b, 0, n, k, alpha, a, lda, b, ldb, beta, c);
      dcnn__blas_leave();
      return DCNN_OK;
    }
    int32_t refused = 0;
#pragma omp parallel for num_threads(parts) schedule(static, 1) reduction(+ : refused)
    for (int32_t part = 0; part < parts; ++part) {
      int32_t lo = slice_start(n, parts, part), hi = part + 1 == parts ? n : slice_start(n, parts, part + 1);
      if (hi <= lo) continue;
      if (!dcnn__blas_enter()) {
        refused++;
        continue;
      }
      one_row(trans_a, trans_b, lo, hi, k, alpha, a, lda, b, ldb, beta, c);
      dcnn__blas_leave();
    }
    return refused ? dcnn__blas_unavailable() : DCNN_OK;
  }
  const enum CBLAS_TRANSPOSE ta = trans_a ? CblasTrans : CblasNoTrans;
  const enum CBLAS_TRANSPOSE tb = trans_b ? CblasTrans : CblasNoTrans;
  const int split_columns = n >= m;
  const int32_t extent = split_columns ? n : m;
  int32_t parts = threads;
  if (parts > extent / DCNN_GEMM_MIN_SLICE) parts = extent / DCNN_GEMM_MIN_SLICE;
  if (parts <= 1) {
    if (small_nn(trans_a, trans_b, m, n, k)) {
      sgemm_small_nn(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
      return DCNN_OK;
    }
    if (!dcnn__blas_enter()) return dcnn__blas_unavailable();
    cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    dcnn__blas_leave();
    return DCNN_OK;
  }
  int32_t refused = 0; /* slices OpenBLAS could not give a buffer: skipped, reported below */
#pragma omp parallel for num_threads(parts) schedule(static, 1) reduction(+ : refused)
  for (int32_t part = 0; part < parts; ++part) {
    int32_t lo = slice_start(extent, parts, part);
    int32_t hi = part + 1 == parts ? extent : slice_start(extent, parts, part + 1);
    if (hi <= lo) continue;
    const int32_t slice_m = split_columns ? m : hi - lo, slice_n = split_columns ? hi - lo : n;
    if (small_nn(trans_a, trans_b, slice_m, slice_n, k)) {
      if (split_columns) sgemm_small_nn(m, hi - lo, k, alpha, a, lda, b + lo, ldb, beta, c + lo, ldc);
      else sgemm_small_nn(hi - lo, n, k, alpha, a + (int64_t)lo * lda, lda, b, ldb, beta, c + (int64_t)lo * ldc, ldc);
      continue;
    }
    if (!dcnn__blas_enter()) {
      refused++;
      continue;
    }
    if (split_columns) {
      /* C[:, lo:hi] = A * B[:, lo:hi]; B's columns are its rows when transposed. */
      const float *b_slice = trans_b ? b + (int64_t)lo * ldb : b + lo;
      cblas_sgemm(CblasRowMajor, ta, tb, m, hi - lo, k, alpha, a, lda, b_slice, ldb, beta, c + lo, ldc);
    } else {
      const float *a_slice = trans_a ? a + lo : a + (int64_t)lo * lda;
      cblas_sgemm(CblasRowMajor, ta, tb, hi - lo, n, k, alpha, a_slice, lda, b, ldb, beta,
                  c + (int64_t)lo * ldc, ldc);
    }
    dcnn__blas_leave();
  }
  return refused ? dcnn__blas_unavailable() : DCNN_OK;
}
