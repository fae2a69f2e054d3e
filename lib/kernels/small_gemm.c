/* A GEMM for the small products of Winograd's positions at small batches
 * (batch 1: a 64 x 16 x 64 product per position), where OpenBLAS spends more
 * on packing A and B and on clearing C (beta = 0) than on the products. No
 * packing: C is built in registers, 6 rows x 16 columns at a time, from rows
 * of A broadcast and rows of B loaded. Each C value is summed over k in
 * order 0, 1, ..., k - 1, whatever the size, so the result does not depend on
 * how a caller splits the work. */
#include <string.h>

#include "cpu.h"
#include "small_gemm.h"

typedef float v8 __attribute__((vector_size(32)));

/* Macros, not functions: a function taking or returning a 32-byte vector
 * would have a different ABI in the portable clone (GCC's -Wpsabi). */
#define LOAD8(dst, p) memcpy(&(dst), (p), sizeof(v8))
#define STORE8(p, v) memcpy((p), &(v), sizeof(v8))
#define SPLAT(s) ((v8){(s), (s), (s), (s), (s), (s), (s), (s)})

/* Accumulators are named variables, not arrays: at -O2 GCC keeps arrays of
 * vectors in memory, which made the kernel four times slower. */
#define ROW_FMA(r)                                                                                             \
  {                                                                                                            \
    const float as = ar[(int64_t)(r) * lda];                                                                   \
    const v8 av = SPLAT(as);                                                                                   \
    lo##r += av * b0;                                                                                          \
    hi##r += av * b1;                                                                                          \
  }
#define ROW_STORE(r)                                                                                           \
  STORE8(c + (int64_t)(i + (r)) * ldc + j, lo##r);                                                             \
  STORE8(c + (int64_t)(i + (r)) * ldc + j + 8, hi##r);

/* The blocks must be inlined into each clone of small_gemm: called, they
 * would run as the portable version (GCC's inliner does not always agree). */
#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* c[i:i+6, j:j+16] = a[i:i+6, :] b[:, j:j+16]. */
ALWAYS_INLINE void block6(int32_t i, int32_t j, int32_t k, const float *a, int32_t lda, const float *b, int32_t ldb,
                          float *c, int32_t ldc) {
  v8 lo0 = SPLAT(0.0f), hi0 = lo0, lo1 = lo0, hi1 = lo0, lo2 = lo0, hi2 = lo0, lo3 = lo0, hi3 = lo0, lo4 = lo0,
     hi4 = lo0, lo5 = lo0, hi5 = lo0;
  for (int32_t p = 0; p < k; ++p) {
    v8 b0, b1;
    LOAD8(b0, b + (int64_t)p * ldb + j);
    LOAD8(b1, b + (int64_t)p * ldb + j + 8);
    const float *ar = a + (int64_t)i * lda + p;
    ROW_FMA(0) ROW_FMA(1) ROW_FMA(2) ROW_FMA(3) ROW_FMA(4) ROW_FMA(5)
  }
  ROW_STORE(0) ROW_STORE(1) ROW_STORE(2) ROW_STORE(3) ROW_STORE(4) ROW_STORE(5)
}

/* c[i, j:j+16] = a[i, :] b[:, j:j+16]: the rows after the last whole block of 6. */
ALWAYS_INLINE void block1(int32_t i, int32_t j, int32_t k, const float *a, int32_t lda, const float *b, int32_t ldb,
                          float *c, int32_t ldc) {
  v8 lo0 = SPLAT(0.0f), hi0 = lo0;
  for (int32_t p = 0; p < k; ++p) {
    v8 b0, b1;
    LOAD8(b0, b + (int64_t)p * ldb + j);
    LOAD8(b1, b + (int64_t)p * ldb + j + 8);
    const float *ar = a + (int64_t)i * lda + p;
    ROW_FMA(0)
  }
  ROW_STORE(0)
}

static void DCNN_CPU_CLONES small_gemm(int32_t m, int32_t n, int32_t k, const float *a, int32_t lda, const float *b,
                                       int32_t ldb, float *c, int32_t ldc) {
  for (int32_t j = 0; j < n; j += 16) {
    int32_t i = 0;
    for (; i + 6 <= m; i += 6) block6(i, j, k, a, lda, b, ldb, c, ldc);
    for (; i < m; ++i) block1(i, j, k, a, lda, b, ldb, c, ldc);
  }
}

void dcnn__sgemm_small(int32_t m, int32_t n, int32_t k, const float *a, int32_t lda, const float *b, int32_t ldb,
                       float *c, int32_t ldc) {
  small_gemm(m, n, k, a, lda, b, ldb, c, ldc);
}
