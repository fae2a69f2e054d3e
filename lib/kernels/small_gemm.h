/* Small single-threaded GEMM without packing (see small_gemm.c). */
#ifndef DCNN_KERNELS_SMALL_GEMM_H
#define DCNN_KERNELS_SMALL_GEMM_H

#include <stdint.h>

/* Row-major c (m, n) = a (m, k) b (k, n), overwriting c; n a multiple of 16.
 * Every c value is the sum over p = 0, 1, ..., k - 1 of a[i, p] b[p, j] in
 * that order (with the fused multiply-add where the CPU has one). */
void dcnn__sgemm_small(int32_t m, int32_t n, int32_t k, const float *a, int32_t lda, const float *b, int32_t ldb,
                       float *c, int32_t ldc);

#endif
