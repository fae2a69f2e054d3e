/* A GEMM for the small products of Winograd's positions at small batches
 * (batch 1: a 64 x 16 x 64 product per position), where OpenBLAS spends more
 * on packing A and B and on clearing C (beta = 0) than on the products. No
 * packing: C is built in registers, 6 rows x 16 columns at a time, from rows
 * of A broadcast and rows of B loaded. Each C value is summed over k in
 * order 0, 1, ..., k - 1, whatever the size, so the result does not depend on
 * how a caller splits the work. */
#include <stdatomic.h>
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

#if DCNN_X86_INTRINSICS
#define DCNN_SMALL_GEMM_AVX512 1
#include <immintrin.h>

/* The AVX-512 product: C built in 8 rows x 32 columns (16 accumulators, two
 * rows of B loaded and 8 values of A broadcast per p), then 8 x 16 for a
 * 16-column tail, and single rows past the last 8. Same order of sums as above,
 * every multiply-add fused. OpenBLAS 0.3.21 (Debian 12) does not know AMD's
 * Zen 4 and 5 and runs its AVX2 kernels there, at half the machine's rate;
 * this kernel needs no packing either (the operands of Winograd's position
 * products fit the L1 cache). */
#define Z_FMA2(r)                                                                                              \
  {                                                                                                            \
    const __m512 av = _mm512_set1_ps(ar[(int64_t)(r) * lda]);                                                  \
    l##r = _mm512_fmadd_ps(av, b0, l##r);                                                                      \
    h##r = _mm512_fmadd_ps(av, b1, h##r);                                                                      \
  }
#define Z_FMA1(r) l##r = _mm512_fmadd_ps(_mm512_set1_ps(ar[(int64_t)(r) * lda]), b0, l##r);
#define Z_OUT(p, v) _mm512_storeu_ps((p), accumulate ? _mm512_add_ps(_mm512_loadu_ps(p), (v)) : (v))
#define Z_STORE2(r)                                                                                            \
  Z_OUT(c + (int64_t)(i + (r)) * ldc + j, l##r);                                                               \
  Z_OUT(c + (int64_t)(i + (r)) * ldc + j + 16, h##r);
#define Z_STORE1(r) Z_OUT(c + (int64_t)(i + (r)) * ldc + j, l##r);

/* c (m, n) = [c +] a (m, k) b (k, n); with `accumulate` the product is summed first, then added to c. */
__attribute__((target("avx512f"))) static void small_gemm_avx512(int32_t m, int32_t n, int32_t k, const float *a,
                                                                 int32_t lda, const float *b, int32_t ldb,
                                                                 int accumulate, float *c, int32_t ldc) {
  int32_t j = 0;
  for (; j + 32 <= n; j += 32) {
    int32_t i = 0;
    for (; i + 8 <= m; i += 8) {
      __m512 l0 = _mm512_setzero_ps(), h0 = l0, l1 = l0, h1 = l0, l2 = l0, h2 = l0, l3 = l0, h3 = l0, l4 = l0,
             h4 = l0, l5 = l0, h5 = l0, l6 = l0, h6 = l0, l7 = l0, h7 = l0;
      for (int32_t p = 0; p < k; ++p) {
        const __m512 b0 = _mm512_loadu_ps(b + (int64_t)p * ldb + j), b1 = _mm512_loadu_ps(b + (int64_t)p * ldb + j + 16);
        const float *ar = a + (int64_t)i * lda + p;
        Z_FMA2(0) Z_FMA2(1) Z_FMA2(2) Z_FMA2(3) Z_FMA2(4) Z_FMA2(5) Z_FMA2(6) Z_FMA2(7)
      }
      Z_STORE2(0) Z_STORE2(1) Z_STORE2(2) Z_STORE2(3) Z_STORE2(4) Z_STORE2(5) Z_STORE2(6) Z_STORE2(7)
    }
    for (; i < m; ++i) {
      __m512 l0 = _mm512_setzero_ps(), h0 = l0;
      for (int32_t p = 0; p < k; ++p) {
        const __m512 b0 = _mm512_loadu_ps(b + (int64_t)p * ldb + j), b1 = _mm512_loadu_ps(b + (int64_t)p * ldb + j + 16);
        const float *ar = a + (int64_t)i * lda + p;
        Z_FMA2(0)
      }
      Z_STORE2(0)
    }
  }
  for (; j < n; j += 16) {
    int32_t i = 0;
    for (; i + 8 <= m; i += 8) {
      __m512 l0 = _mm512_setzero_ps(), l1 = l0, l2 = l0, l3 = l0, l4 = l0, l5 = l0, l6 = l0, l7 = l0;
      for (int32_t p = 0; p < k; ++p) {
        const __m512 b0 = _mm512_loadu_ps(b + (int64_t)p * ldb + j);
        const float *ar = a + (int64_t)i * lda + p;
        Z_FMA1(0) Z_FMA1(1) Z_FMA1(2) Z_FMA1(3) Z_FMA1(4) Z_FMA1(5) Z_FMA1(6) Z_FMA1(7)
      }
      Z_STORE1(0) Z_STORE1(1) Z_STORE1(2) Z_STORE1(3) Z_STORE1(4) Z_STORE1(5) Z_STORE1(6) Z_STORE1(7)
    }
    for (; i < m; ++i) {
      __m512 l0 = _mm512_setzero_ps();
      for (int32_t p = 0; p < k; ++p) {
        const __m512 b0 = _mm512_loadu_ps(b + (int64_t)p * ldb + j);
        const float *ar = a + (int64_t)i * lda + p;
        Z_FMA1(0)
      }
      Z_STORE1(0)
    }
  }
}

/* dst (16, 16) = src (16, 16)^T: out[j][i] = in[i][j], rows lds and ldd floats apart.
 * Pairs of rows interleaved, then groups of four, then 128-bit lanes (a 4 x 4 transpose of lanes). */
__attribute__((target("avx512f"))) static void transpose16(const float *src, int64_t lds, float *dst, int64_t ldd) {
  __m512 r[16], t[16];
  for (int i = 0; i < 16; ++i) r[i] = _mm512_loadu_ps(src + i * lds);
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  /* r[4g + c], 128-bit lane L: rows 4g .. 4g + 3 of column 4L + c. */
  for (int g = 0; g < 16; g += 4) {
    r[g] = _mm512_shuffle_ps(t[g], t[g + 2], 0x44);
    r[g + 1] = _mm512_shuffle_ps(t[g], t[g + 2], 0xEE);
    r[g + 2] = _mm512_shuffle_ps(t[g + 1], t[g + 3], 0x44);
    r[g + 3] = _mm512_shuffle_ps(t[g + 1], t[g + 3], 0xEE);
  }
  for (int c = 0; c < 4; ++c) {
    const __m512 v0 = _mm512_shuffle_f32x4(r[c], r[4 + c], 0x44), v1 = _mm512_shuffle_f32x4(r[c], r[4 + c], 0xEE);
    const __m512 v2 = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0x44), v3 = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0xEE);
    _mm512_storeu_ps(dst + c * ldd, _mm512_shuffle_f32x4(v0, v2, 0x88));
    _mm512_storeu_ps(dst + (4 + c) * ldd, _mm512_shuffle_f32x4(v0, v2, 0xDD));
    _mm512_storeu_ps(dst + (8 + c) * ldd, _mm512_shuffle_f32x4(v1, v3, 0x88));
    _mm512_storeu_ps(dst + (12 + c) * ldd, _mm512_shuffle_f32x4(v1, v3, 0xDD));
  }
}

__attribute__((target("avx512f"))) static void small_gemm_nt_avx512(int32_t m, int32_t n, int32_t k, const float *a,
                                                                    int32_t lda, const float *b, int32_t ldb,
                                                                    int accumulate, float *c, int32_t ldc,
                                                                    float *scratch) {
  for (int32_t i = 0; i < n; i += 16) /* scratch (k, n) = b^T */
    for (int32_t p = 0; p < k; p += 16) transpose16(b + (int64_t)i * ldb + p, ldb, scratch + (int64_t)p * n + i, n);
  small_gemm_avx512(m, n, k, a, lda, scratch, n, accumulate, c, ldc);
}
#endif

/* DCNN_ISA_AVX512: the AVX-512 product runs (any lower level: the portable one). */
static dcnn_isa_choice product_isa = -1;

int dcnn__sgemm_small_is_wide(void) { return dcnn__isa_level(&product_isa) == DCNN_ISA_AVX512; }

int dcnn__sgemm_small_force_wide(int w) {
  return dcnn__isa_force(&product_isa, w < 0 ? -1 : w ? DCNN_ISA_AVX512 : DCNN_ISA_PORTABLE) == DCNN_ISA_AVX512;
}

void dcnn__sgemm_small(int32_t m, int32_t n, int32_t k, const float *a, int32_t lda, const float *b, int32_t ldb,
                       float *c, int32_t ldc) {
#ifdef DCNN_SMALL_GEMM_AVX512
  if (dcnn__sgemm_small_is_wide()) {
    small_gemm_avx512(m, n, k, a, lda, b, ldb, 0, c, ldc);
    return;
  }
#endif
  small_gemm(m, n, k, a, lda, b, ldb, c, ldc);
}

int dcnn__sgemm_small_nt(int32_t m, int32_t n, int32_t k, const float *a, int32_t lda, const float *b, int32_t ldb,
                         int accumulate, float *c, int32_t ldc, float *scratch) {
#ifdef DCNN_SMALL_GEMM_AVX512
  if (dcnn__sgemm_small_is_wide() && n % 16 == 0 && k % 16 == 0) {
    small_gemm_nt_avx512(m, n, k, a, lda, b, ldb, accumulate, c, ldc, scratch);
    return 1;
  }
#else
  (void)m, (void)n, (void)k, (void)a, (void)lda, (void)b, (void)ldb, (void)accumulate, (void)c, (void)ldc, (void)scratch;
#endif
  return 0;
}
