/* Small single-threaded GEMM without packing (see small_gemm.c). */
#ifndef DCNN_KERNELS_SMALL_GEMM_H
#define DCNN_KERNELS_SMALL_GEMM_H

#include <stdint.h>

/* Row-major c (m, n) = a (m, k) b (k, n), overwriting c; n a multiple of 16.
 * Every c value is the sum over p = 0, 1, ..., k - 1 of a[i, p] b[p, j] in
 * that order (with the fused multiply-add where the CPU has one). */
void dcnn__sgemm_small(int32_t m, int32_t n, int32_t k, const float *a, int32_t lda, const float *b, int32_t ldb,
                       float *c, int32_t ldc);

/* 1 when dcnn__sgemm_small runs its AVX-512 kernel on this CPU: then it beats
 * OpenBLAS on Winograd's position products of any width, not only small ones. */
int dcnn__sgemm_small_is_wide(void);

/* Forces the AVX2-or-portable kernel (0) or the AVX-512 one (1), for tests; a
 * negative or unsupported value selects what the CPU supports (the default).
 * Not thread-safe against running products. Returns the choice now in use. */
int dcnn__sgemm_small_force_wide(int wide);

/* Row-major c (m, n) = a (m, k) b (n, k)^T, or c += that product when
 * `accumulate` (the product summed over p = 0, 1, ..., k - 1 first), through
 * scratch (k, n) = b^T. Runs only with the AVX-512 kernel and n and k
 * multiples of 16: returns 1 when it ran, 0 (nothing written) otherwise. */
int dcnn__sgemm_small_nt(int32_t m, int32_t n, int32_t k, const float *a, int32_t lda, const float *b, int32_t ldb,
                         int accumulate, float *c, int32_t ldc, float *scratch);

#endif
