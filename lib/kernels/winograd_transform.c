/* Winograd tile transforms (see winograd_transform.h), DCNN_WINO_LANES tiles or
 * channels at a time so that every arithmetic line below is one vector operation.
 * The matrices (checked against direct correlation in exact arithmetic, and by
 * tests/unit/test_winograd.c):
 *   m = 2: B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1], G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1],
 *          A^T = [1 1 1 0; 0 1 -1 -1]
 *   m = 4: B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1],
 *          G = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1],
 *          A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1] */
#include "winograd_transform.h"

#include <stdatomic.h>
#include <string.h>

#include "cpu.h"

#define DCNN_WINO_X86 DCNN_X86_INTRINSICS
#if DCNN_WINO_X86
#include <immintrin.h>
#endif

#define L DCNN_WINO_LANES
#define MAX_A 6

/* One-dimensional transforms of L lanes: o[i*os + v] = sum_k T[i][k] d[k*s + v]. */
#define LANES(...)              \
  for (int v = 0; v < L; ++v) { \
    __VA_ARGS__                 \
  }
#define D(k) d[(k) * s + v]
#define O(i) o[(i) * os + v]

static inline void bt4(const float *restrict d, int64_t s, float *restrict o, int64_t os) { /* B^T, m = 2 */
  LANES(O(0) = D(0) - D(2); O(1) = D(1) + D(2); O(2) = D(2) - D(1); O(3) = D(1) - D(3);)
}
static inline void bt6(const float *restrict d, int64_t s, float *restrict o, int64_t os) { /* B^T, m = 4 */
  LANES(const float d1 = D(1), d2 = D(2), d3 = D(3), d4 = D(4); O(0) = 4.0f * D(0) - 5.0f * d2 + d4;
        O(1) = d3 + d4 - 4.0f * (d1 + d2); O(2) = 4.0f * (d1 - d2) + d4 - d3;
        O(3) = 2.0f * (d3 - d1) + d4 - d2; O(4) = 2.0f * (d1 - d3) + d4 - d2; O(5) = 4.0f * d1 - 5.0f * d3 + D(5);)
}
static inline void at4(const float *restrict d, int64_t s, float *restrict o, int64_t os) { /* A^T, m = 2 */
  LANES(O(0) = D(0) + D(1) + D(2); O(1) = D(1) - D(2) - D(3);)
}
static inline void at6(const float *restrict d, int64_t s, float *restrict o, int64_t os) { /* A^T, m = 4 */
  LANES(const float p1 = D(1) + D(2), m1 = D(1) - D(2), p2 = D(3) + D(4), m2 = D(3) - D(4);
        O(0) = D(0) + p1 + p2; O(1) = m1 + 2.0f * m2; O(2) = p1 + 4.0f * p2; O(3) = m1 + 8.0f * m2 + D(5);)
}
static inline void a4(const float *restrict d, int64_t s, float *restrict o, int64_t os) { /* A, m = 2 */
  LANES(O(0) = D(0); O(1) = D(0) + D(1); O(2) = D(0) - D(1); O(3) = -D(1);)
}
static inline void a6(const float *restrict d, int64_t s, float *restrict o, int64_t os) { /* A, m = 4 */
  LANES(const float pe = D(0) + D(2), po = D(1) + D(3), qe = D(0) + 4.0f * D(2), qo = 2.0f * D(1) + 8.0f * D(3);
        O(0) = D(0); O(1) = pe + po; O(2) = pe - po; O(3) = qe + qo; O(4) = qe - qo; O(5) = D(3);)
}
static inline void g4(const float *restrict d, int64_t s, float *restrict o, int64_t os) { /* G, m = 2 */
  LANES(const float e = 0.5f * (D(0) + D(2)), h = 0.5f * D(1); O(0) = D(0); O(1) = e + h; O(2) = e - h;
        O(3) = D(2);)
}
static inline void g6(const float *restrict d, int64_t s, float *restrict o, int64_t os) { /* G, m = 4 */
  LANES(const float e1 = -(D(0) + D(2)) * (1.0f / 6.0f), h1 = D(1) * (1.0f / 6.0f);
        const float e2 = D(0) * (1.0f / 24.0f) + D(2) * (1.0f / 6.0f), h2 = D(1) * (1.0f / 12.0f);
        O(0) = 0.25f * D(0); O(1) = e1 - h1; O(2) = e1 + h1; O(3) = e2 + h2; O(4) = e2 - h2; O(5) = D(2);)
}
static inline void gt4(const float *restrict d, int64_t s, float *restrict o, int64_t os) { /* G^T, m = 2 */
  LANES(const float p = 0.5f * (D(1) + D(2)); O(0) = D(0) + p; O(1) = 0.5f * (D(1) - D(2)); O(2) = p + D(3);)
}
static inline void gt6(const float *restrict d, int64_t s, float *restrict o, int64_t os) { /* G^T, m = 4 */
  LANES(const float p1 = D(1) + D(2), m1 = D(2) - D(1), p2 = D(3) + D(4), m2 = D(3) - D(4);
        O(0) = 0.25f * D(0) - p1 * (1.0f / 6.0f) + p2 * (1.0f / 24.0f);
        O(1) = m1 * (1.0f / 6.0f) + m2 * (1.0f / 12.0f);
        O(2) = (p2 - p1) * (1.0f / 6.0f) + D(5);)
}

/* out (n_out, n_out) = T in T^T for in (n_in, n_in) via tmp (n_out, n_in, L),
 * position p of in (out) being L floats at in + p * in_stride (out + p * out_stride). */
#define TRANSFORM_2D_STRIDED(op, in, in_stride, n_in, n_out, tmp, out, out_stride)                            \
  do {                                                                                                         \
    for (int j_ = 0; j_ < (n_in); ++j_)                                                                        \
      op((in) + j_ * (int64_t)(in_stride), (n_in) * (int64_t)(in_stride), (tmp) + j_ * L, (n_in) * L);         \
    for (int i_ = 0; i_ < (n_out); ++i_)                                                                       \
      op((tmp) + i_ * (n_in) * L, L, (out) + i_ * (n_out) * (int64_t)(out_stride), (int64_t)(out_stride));     \
  } while (0)
#define TRANSFORM_2D(op, in, n_in, n_out, tmp, out) TRANSFORM_2D_STRIDED(op, in, L, n_in, n_out, tmp, out, L)

/* Where the tiles of one chunk lie: image, top-left corner of the patch, and
 * whether the patch (side `side`) lies wholly inside a (height, width) plane.
 * For the vector gathers: offset[v] (floats) of lane v's patch corner from
 * lane 0's plane, and bit masks of the lanes whose patch row i (column j) is
 * inside the plane, restricted to the valid lanes; vector_ok when every
 * offset the patches reach fits in 32 bits. */
typedef struct chunk {
  int32_t valid;
  int32_t image[L], row[L], col[L];
  unsigned char inside[L];
  int32_t offset[L];
  uint32_t row_mask[MAX_A]; /* bit v: lane v's patch row i is inside */
  uint32_t lane_cols[L];    /* bit j: lane v's patch column j is inside */
  int vector_ok;
} chunk;

static void locate(const dcnn_wino_tiling *t, int64_t first, int32_t valid, int32_t pad_top, int32_t pad_left,
                   int32_t side, int32_t channels, int32_t height, int32_t width, chunk *ch) {
  const int64_t per_image = (int64_t)t->tiles_h * t->tiles_w, plane = (int64_t)height * width;
  ch->valid = valid;
  for (int32_t v = 0; v < valid; ++v) {
    const int64_t index = first + v, r = index % per_image;
    ch->image[v] = (int32_t)(index / per_image);
    ch->row[v] = (int32_t)(r / t->tiles_w) * t->m - pad_top;
    ch->col[v] = (int32_t)(r % t->tiles_w) * t->m - pad_left;
    ch->inside[v] = ch->row[v] >= 0 && ch->col[v] >= 0 && ch->row[v] + side <= height && ch->col[v] + side <= width;
  }
  /* Lane 0's plane to the end of the last lane's image: what the offsets span. */
  const int64_t span = ((int64_t)ch->image[valid - 1] - ch->image[0] + 1) * channels * plane;
  ch->vector_ok = span < INT32_MAX - 2 * (int64_t)MAX_A * (width + 1);
  for (int32_t i = 0; i < side; ++i) ch->row_mask[i] = 0;
  for (int32_t v = 0; v < L; ++v) {
    ch->offset[v] = 0;
    ch->lane_cols[v] = 0;
    if (v >= valid || !ch->vector_ok) continue;
    ch->offset[v] = (int32_t)(((int64_t)ch->image[v] - ch->image[0]) * channels * plane +
                              (int64_t)ch->row[v] * width + ch->col[v]);
    for (int32_t i = 0; i < side; ++i) {
      if (ch->row[v] + i >= 0 && ch->row[v] + i < height) ch->row_mask[i] |= 1u << v;
      if (ch->col[v] + i >= 0 && ch->col[v] + i < width) ch->lane_cols[v] |= 1u << i;
    }
  }
}

/* Which patch gather runs (a DCNN_ISA_ level); tests force each. */
static dcnn_isa_choice gather_isa = -1;

static int current_isa(void) { return dcnn__isa_level(&gather_isa); }

int dcnn__wino_force_isa(int isa) { return dcnn__isa_force(&gather_isa, isa); }

#if DCNN_WINO_X86
/* d (side, side, L) = the patches of the chunk from base (lane 0's plane):
 * each lane's patch rows are loaded as vectors (masked to the columns inside
 * the plane; rows outside it and lanes past valid are zero) and eight lanes
 * at a time are transposed into the lane-per-tile layout. */
__attribute__((target("avx512f"))) static void gather_avx512(const chunk *ch, const float *base, int32_t width,
                                                             int32_t side, float *d) {
  /* Column j of 16 lanes from s (lanes 0-3 and 8-11, columns j and j + 4 per
   * 128-bit lane) and t (lanes 4-7 and 12-15). */
  const __m512i low = _mm512_setr_epi32(0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27);
  const __m512i high = _mm512_setr_epi32(4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31);
  for (int32_t i = 0; i < side; ++i) {
    __m512 r[8], t[8], s[8];
    for (int32_t v = 0; v < 8; ++v) { /* lane v in the low half, lane v + 8 in the high half */
      const __mmask16 lo = (__mmask16)(ch->row_mask[i] >> v & 1 ? ch->lane_cols[v] : 0);
      const __mmask16 hi = (__mmask16)(ch->row_mask[i] >> (v + 8) & 1 ? ch->lane_cols[v + 8] << 8 : 0);
      r[v] = _mm512_maskz_loadu_ps(lo, base + ch->offset[v] + (int64_t)i * width);
      r[v] = _mm512_mask_loadu_ps(r[v], hi, base + ch->offset[v + 8] + (int64_t)i * width - 8);
    }
    for (int32_t v = 0; v < 8; v += 2) {
      t[v] = _mm512_unpacklo_ps(r[v], r[v + 1]);
      t[v + 1] = _mm512_unpackhi_ps(r[v], r[v + 1]);
    }
    for (int32_t v = 0; v < 8; v += 4) {
      s[v] = _mm512_shuffle_ps(t[v], t[v + 2], 0x44);
      s[v + 1] = _mm512_shuffle_ps(t[v], t[v + 2], 0xEE);
      s[v + 2] = _mm512_shuffle_ps(t[v + 1], t[v + 3], 0x44);
      s[v + 3] = _mm512_shuffle_ps(t[v + 1], t[v + 3], 0xEE);
    }
    for (int32_t j = 0; j < side; ++j)
      _mm512_storeu_ps(d + (i * side + j) * L,
                       _mm512_permutex2var_ps(s[j & 3], j < 4 ? low : high, s[4 + (j & 3)]));
  }
}

__attribute__((target("avx2"))) static void gather_avx2(const chunk *ch, const float *base, int32_t width,
                                                        int32_t side, float *d) {
  const __m256i bits = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
  for (int32_t h = 0; h < L; h += 8)
    for (int32_t i = 0; i < side; ++i) {
      __m256 r[8], t[8], s[8];
      for (int32_t v = 0; v < 8; ++v) {
        const uint32_t cols = ch->row_mask[i] >> (h + v) & 1 ? ch->lane_cols[h + v] : 0;
        const __m256i mask = _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32((int)cols), bits), bits);
        r[v] = _mm256_maskload_ps(base + ch->offset[h + v] + (int64_t)i * width, mask);
      }
      for (int32_t v = 0; v < 8; v += 2) {
        t[v] = _mm256_unpacklo_ps(r[v], r[v + 1]);
        t[v + 1] = _mm256_unpackhi_ps(r[v], r[v + 1]);
      }
      for (int32_t v = 0; v < 8; v += 4) {
        s[v] = _mm256_shuffle_ps(t[v], t[v + 2], 0x44);
        s[v + 1] = _mm256_shuffle_ps(t[v], t[v + 2], 0xEE);
        s[v + 2] = _mm256_shuffle_ps(t[v + 1], t[v + 3], 0x44);
        s[v + 3] = _mm256_shuffle_ps(t[v + 1], t[v + 3], 0xEE);
      }
      for (int32_t j = 0; j < side; ++j) /* (the immediate must be a literal without optimisation) */
        _mm256_storeu_ps(d + (i * side + j) * L + h, j < 4 ? _mm256_permute2f128_ps(s[j], s[4 + j], 0x20)
                                                         : _mm256_permute2f128_ps(s[j - 4], s[j], 0x31));
    }
}
#endif

/* Whole tile rows (AVX-512, F(4x4) only). When a plane is 16 or 32 wide and
 * tiled exactly by 4-wide tiles, a chunk of 16 tiles is 4 or 2 whole tile
 * rows of one image, and the two passes of a tile transform can share work:
 *   input (B^T d B, 6 x 6 patches starting one row and column left of the
 *   tiles: the 'same' 3x3): the first (vertical) pass runs on whole image
 *   rows, T (6, width) = B^T rows (6, width), shared by the row's tiles;
 *   gradient (A dy A^T, the 4 x 4 tiles of dy themselves): T (6, width) =
 *   A rows (4, width).
 * The second pass needs, for lane (tile) l and k = 0..5 (0..3),
 * T[i][4 (l mod 8) + k - shift] (shift 1 for the input, 0 for the gradient;
 * zero outside the plane): two permutes of two rows' T each. The arithmetic
 * is bt6's (a6's), pass for pass, on the same values: the same bits as the
 * patch gathers. */
#if DCNN_WINO_X86
static int rows_apply(const dcnn_wino_tiling *t, int32_t width, int64_t first, int32_t count) {
  return t->a == 6 && (width == 16 || width == 32) && t->tiles_w * 4 == width && first % L == 0 && count % L == 0 &&
         ((int64_t)t->tiles_h * t->tiles_w) % L == 0;
}

/* bt6 and a6 on vectors, operation for operation as above (so the same bits). */
#define VMUL(c, a) _mm512_mul_ps(_mm512_set1_ps(c), (a))
__attribute__((target("avx512f"))) static inline void bt6_vectors(const __m512 *d, __m512 *o) {
  const __m512 d1 = d[1], d2 = d[2], d3 = d[3], d4 = d[4];
  o[0] = _mm512_add_ps(_mm512_sub_ps(VMUL(4.0f, d[0]), VMUL(5.0f, d2)), d4);
  o[1] = _mm512_sub_ps(_mm512_add_ps(d3, d4), VMUL(4.0f, _mm512_add_ps(d1, d2)));
  o[2] = _mm512_sub_ps(_mm512_add_ps(VMUL(4.0f, _mm512_sub_ps(d1, d2)), d4), d3);
  o[3] = _mm512_sub_ps(_mm512_add_ps(VMUL(2.0f, _mm512_sub_ps(d3, d1)), d4), d2);
  o[4] = _mm512_sub_ps(_mm512_add_ps(VMUL(2.0f, _mm512_sub_ps(d1, d3)), d4), d2);
  o[5] = _mm512_add_ps(_mm512_sub_ps(VMUL(4.0f, d1), VMUL(5.0f, d3)), d[5]);
}
__attribute__((target("avx512f"))) static inline void a6_vectors(const __m512 *d, __m512 *o) {
  const __m512 pe = _mm512_add_ps(d[0], d[2]), po = _mm512_add_ps(d[1], d[3]);
  const __m512 qe = _mm512_add_ps(d[0], VMUL(4.0f, d[2])), qo = _mm512_add_ps(VMUL(2.0f, d[1]), VMUL(8.0f, d[3]));
  o[0] = d[0];
  o[1] = _mm512_add_ps(pe, po);
  o[2] = _mm512_sub_ps(pe, po);
  o[3] = _mm512_add_ps(qe, qo);
  o[4] = _mm512_sub_ps(qe, qo);
  o[5] = d[3];
}

/* v (36, channels, ld) columns [0, count), channels [k0, k1) of the chunk's tiles; x (N, channels, height,
 * width); gradient = 0: B^T d B of the input patches (pad_top rows above), 1: A dy A^T of the tiles. */
__attribute__((target("avx512f"))) static void rows_avx512(const dcnn_wino_tiling *t, int gradient, int32_t height,
                                                           int32_t width, int32_t pad_top, int32_t channels,
                                                           int32_t k0, int32_t k1, const float *x, int64_t first,
                                                           int32_t count, float *v, int32_t ld) {
  const int32_t tiles_w = t->tiles_w, groups = L / tiles_w, side = gradient ? 4 : 6, shift = gradient ? 0 : 1;
  const int64_t per_image = (int64_t)t->tiles_h * tiles_w, plane = (int64_t)height * width;
  float rows[6 * 32];          /* (side, width): a tile row's patch rows, zero outside the plane */
  float tr[4][6 * 32];         /* (groups, 6, width): T of each tile row of the chunk */
  __m512i index[6];
  __mmask16 keep[6];
  for (int k = 0; k < side; ++k) {
    int32_t lanes[L];
    keep[k] = 0xFFFF;
    for (int l = 0; l < L; ++l) {
      lanes[l] = 4 * (l % 8) + k - shift; /* column of T within the two rows' 32 values */
      const int j = l % tiles_w;
      if (!gradient && ((k == 0 && j == 0) || (k == 5 && j == tiles_w - 1)))
        keep[k] &= (__mmask16) ~(1u << l); /* column -1 or width: outside */
      if (lanes[l] < 0) lanes[l] = 0;
    }
    index[k] = _mm512_loadu_si512(lanes);
  }
  for (int32_t c0 = 0; c0 < count; c0 += L) {
    const int64_t tile = first + c0, image = tile / per_image;
    const int32_t tile_row = (int32_t)(tile % per_image / tiles_w);
    for (int32_t k = k0; k < k1; ++k) {
      const float *src = x + (image * channels + k) * plane;
      for (int32_t g = 0; g < groups; ++g) {
        const int32_t row0 = (tile_row + g) * 4 - pad_top;
        const float *patch = rows;
        if (row0 >= 0 && row0 + side <= height) {
          patch = src + (int64_t)row0 * width;
        } else { /* rows outside the plane are zero */
          for (int32_t i = 0; i < side; ++i) {
            if (row0 + i >= 0 && row0 + i < height)
              memcpy(rows + i * width, src + (int64_t)(row0 + i) * width, (size_t)width * sizeof(float));
            else
              memset(rows + i * width, 0, (size_t)width * sizeof(float));
          }
        }
        for (int32_t half = 0; half < width; half += L) {
          __m512 d[6], o[6];
          for (int32_t i = 0; i < side; ++i) d[i] = _mm512_loadu_ps(patch + i * width + half);
          if (gradient)
            a6_vectors(d, o);
          else
            bt6_vectors(d, o);
          for (int32_t i = 0; i < 6; ++i) _mm512_storeu_ps(tr[g] + i * width + half, o[i]);
        }
      }
      for (int32_t i = 0; i < 6; ++i) {
        /* Lanes 0-7 from the tables a0:a1, lanes 8-15 from b0:b1 (two rows of 16 or halves of one of 32). */
        const float *a0 = width == 32 ? tr[0] + i * 32 : tr[0] + i * 16, *a1 = width == 32 ? a0 + 16 : tr[1] + i * 16;
        const float *b0 = width == 32 ? tr[1] + i * 32 : tr[2] + i * 16, *b1 = width == 32 ? b0 + 16 : tr[3] + i * 16;
        const __m512 ta0 = _mm512_loadu_ps(a0), ta1 = _mm512_loadu_ps(a1);
        const __m512 tb0 = _mm512_loadu_ps(b0), tb1 = _mm512_loadu_ps(b1);
        __m512 e[6], o[6];
        for (int kk = 0; kk < side; ++kk) {
          const __m512 low = _mm512_maskz_permutex2var_ps((__mmask16)(keep[kk] & 0x00FF), ta0, index[kk], ta1);
          const __m512 high = _mm512_maskz_permutex2var_ps((__mmask16)(keep[kk] & 0xFF00), tb0, index[kk], tb1);
          e[kk] = _mm512_mask_blend_ps((__mmask16)0xFF00, low, high);
        }
        if (gradient)
          a6_vectors(e, o);
        else
          bt6_vectors(e, o);
        for (int32_t jj = 0; jj < 6; ++jj) _mm512_storeu_ps(v + ((int64_t)(i * 6 + jj) * channels + k) * ld + c0, o[jj]);
      }
    }
  }
}
#endif

#if DCNN_WINO_X86
/* y (N, rows, out_h, out_w) channels [r0, r1) of the chunk's tiles = A^T M A of
 * m (36, rows, ld), on the whole tile rows of rows_apply (the output side
 * 16 or 32): the two passes as output_clones does them, then each image row
 * of the tile rows assembled from the four columns' lanes by permutes and
 * stored whole instead of float by float. */
__attribute__((target("avx512f"))) static void output_rows_avx512(const dcnn_wino_tiling *t, int32_t rows, int32_t r0,
                                                                  int32_t r1, const float *m, int32_t ld,
                                                                  int64_t first, int32_t count, float *y) {
  const int32_t width = t->out_w, tiles_w = t->tiles_w, groups = L / tiles_w;
  const int64_t per_image = (int64_t)t->tiles_h * tiles_w, plane = (int64_t)t->out_h * width;
  float tmp[MAX_A * MAX_A * L], out[MAX_A * MAX_A * L]; /* out (4, 4, L): row i, column jj of each lane's tile */
  __m512i index[4][2];                                  /* [group][half]: lane of column c's tile, + 16 for odd jj */
  for (int32_t g = 0; g < groups; ++g)
    for (int32_t h = 0; h < width / L; ++h) {
      int32_t lanes[L];
      for (int c = 0; c < L; ++c) lanes[c] = (c % 4 & 1) * 16 + g * tiles_w + 4 * h + c / 4;
      index[g][h] = _mm512_loadu_si512(lanes);
    }
  for (int32_t c0 = 0; c0 < count; c0 += L) {
    const int64_t tile = first + c0, image = tile / per_image;
    const int32_t tile_row = (int32_t)(tile % per_image / tiles_w);
    for (int32_t f = r0; f < r1; ++f) {
      const float *src = m + (int64_t)f * ld + c0; /* position p at src + p * rows * ld */
      TRANSFORM_2D_STRIDED(at6, src, (int64_t)rows * ld, 6, 4, tmp, out, L);
      float *dst = y + (image * rows + f) * plane;
      for (int32_t i = 0; i < 4; ++i) {
        const __m512 o0 = _mm512_loadu_ps(out + (i * 4) * L), o1 = _mm512_loadu_ps(out + (i * 4 + 1) * L);
        const __m512 o2 = _mm512_loadu_ps(out + (i * 4 + 2) * L), o3 = _mm512_loadu_ps(out + (i * 4 + 3) * L);
        for (int32_t g = 0; g < groups; ++g) {
          const int32_t row = (tile_row + g) * 4 + i;
          if (row >= t->out_h) continue; /* the bottom tiles' rows past the plane */
          for (int32_t h = 0; h < width / L; ++h) {
            const __m512 even = _mm512_permutex2var_ps(o0, index[g][h], o1); /* columns jj = 0, 1 */
            const __m512 odd = _mm512_permutex2var_ps(o2, index[g][h], o3);  /* columns jj = 2, 3 */
            _mm512_storeu_ps(dst + (int64_t)row * width + h * L, _mm512_mask_blend_ps((__mmask16)0xCCCC, even, odd));
          }
        }
      }
    }
  }
}
#endif

#if defined(__GNUC__) || defined(__clang__)
#define ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define ALWAYS_INLINE inline
#endif

/* d (side, side, L) = the side x side patches of one channel of the chunk, zero
 * outside the (height, width) plane and in the lanes past ch->valid. Called
 * with a constant side, so that the copies unroll. */
static ALWAYS_INLINE void gather(const chunk *ch, const float *x, int32_t channels, int32_t channel, int32_t height,
                                 int32_t width, const int32_t side, float *d) {
  const int64_t plane = (int64_t)height * width;
  for (int32_t v = ch->valid; v < L; ++v)
    for (int32_t i = 0; i < side * side; ++i) d[i * L + v] = 0.0f;
  for (int32_t v = 0; v < ch->valid; ++v) {
    const float *src = x + ((int64_t)ch->image[v] * channels + channel) * plane;
    const int32_t r0 = ch->row[v], c0 = ch->col[v];
    if (ch->inside[v]) {
      const float *p = src + (int64_t)r0 * width + c0;
      for (int32_t i = 0; i < side; ++i, p += width)
        for (int32_t j = 0; j < side; ++j) d[(i * side + j) * L + v] = p[j];
      continue;
    }
    /* The part of the patch inside the plane: rows [i0, i1), columns [j0, j1). */
    const int32_t i0 = r0 < 0 ? -r0 : 0, i1 = height - r0 < side ? height - r0 : side;
    const int32_t j0 = c0 < 0 ? -c0 : 0, j1 = width - c0 < side ? width - c0 : side;
    for (int32_t i = 0; i < side * side; ++i) d[i * L + v] = 0.0f;
    for (int32_t i = i0; i < i1; ++i) {
      const float *p = src + (int64_t)(r0 + i) * width + c0;
      for (int32_t j = j0; j < j1; ++j) d[(i * side + j) * L + v] = p[j];
    }
  }
}

/* d (side, side, L) = the patches of channel `channel` of the chunk, by the
 * gather of the resolved instruction set (the same values whichever runs). */
static ALWAYS_INLINE void gather_patches(const chunk *ch, int isa, const float *x, int32_t channels, int32_t channel,
                                         int32_t height, int32_t width, const int32_t side, float *d) {
#if DCNN_WINO_X86
  if (isa > DCNN_ISA_PORTABLE && ch->vector_ok) {
    const float *base = x + ((int64_t)ch->image[0] * channels + channel) * height * width;
    if (isa == DCNN_ISA_AVX512)
      gather_avx512(ch, base, width, side, d);
    else
      gather_avx2(ch, base, width, side, d);
    return;
  }
#else
  (void)isa;
#endif
  gather(ch, x, channels, channel, height, width, side, d);
}

/* y tiles (side x side, clipped to the plane) of one row of the chunk = out (side, side, L). */
static ALWAYS_INLINE void place(const chunk *ch, const float *out, int32_t height, int32_t width, const int32_t side,
                                float *plane_of_row0, int64_t image_stride) {
  for (int32_t v = 0; v < ch->valid; ++v) {
    const int32_t r0 = ch->row[v], c0 = ch->col[v];
    float *dst = plane_of_row0 + ch->image[v] * image_stride + (int64_t)r0 * width + c0;
    if (r0 + side <= height && c0 + side <= width) {
      for (int32_t i = 0; i < side; ++i, dst += width)
        for (int32_t j = 0; j < side; ++j) dst[j] = out[(i * side + j) * L + v];
      continue;
    }
    const int32_t nr = height - r0 < side ? height - r0 : side, nc = width - c0 < side ? width - c0 : side;
    for (int32_t i = 0; i < nr; ++i, dst += width)
      for (int32_t j = 0; j < nc; ++j) dst[j] = out[(i * side + j) * L + v];
  }
}

/* dst[p * p_stride + v] = src[p * L + v] for P positions, one vector each. */
static inline void scatter_positions(const float *src, int32_t positions, float *dst, int64_t p_stride) {
  for (int32_t p = 0; p < positions; ++p) memcpy(dst + p * p_stride, src + p * L, L * sizeof(float));
}

DCNN_CPU_CLONES
static void input_clones(const dcnn_wino_tiling *t, int32_t channels, int32_t k0, int32_t k1, const float *x,
                         int64_t first, int32_t count, float *v, int32_t ld) {
  const int32_t a = t->a;
  float d[MAX_A * MAX_A * L], tmp[MAX_A * MAX_A * L], out[MAX_A * MAX_A * L];
  const int isa = current_isa();
  chunk ch;
  for (int32_t c0 = 0; c0 < count; c0 += L) {
    locate(t, first + c0, count - c0 < L ? count - c0 : L, t->pad_top, t->pad_left, a, channels, t->in_h, t->in_w,
           &ch);
    for (int32_t k = k0; k < k1; ++k) {
      if (a == 6) {
        gather_patches(&ch, isa, x, channels, k, t->in_h, t->in_w, 6, d);
        TRANSFORM_2D(bt6, d, 6, 6, tmp, out);
      } else {
        gather_patches(&ch, isa, x, channels, k, t->in_h, t->in_w, 4, d);
        TRANSFORM_2D(bt4, d, 4, 4, tmp, out);
      }
      scatter_positions(out, a * a, v + (int64_t)k * ld + c0, (int64_t)channels * ld);
    }
  }
}

DCNN_CPU_CLONES
static void gradient_clones(const dcnn_wino_tiling *t, int32_t rows, const float *dy, int64_t first, int32_t count,
                            float *q, int32_t ld) {
  const int32_t a = t->a, m = t->m;
  float d[MAX_A * MAX_A * L], tmp[MAX_A * MAX_A * L], out[MAX_A * MAX_A * L];
  const int isa = current_isa();
  chunk ch;
  for (int32_t c0 = 0; c0 < count; c0 += L) {
    locate(t, first + c0, count - c0 < L ? count - c0 : L, 0, 0, m, rows, t->out_h, t->out_w, &ch);
    for (int32_t f = 0; f < rows; ++f) {
      if (a == 6) {
        gather_patches(&ch, isa, dy, rows, f, t->out_h, t->out_w, 4, d);
        TRANSFORM_2D(a6, d, 4, 6, tmp, out);
      } else {
        gather_patches(&ch, isa, dy, rows, f, t->out_h, t->out_w, 2, d);
        TRANSFORM_2D(a4, d, 2, 4, tmp, out);
      }
      scatter_positions(out, a * a, q + (int64_t)f * ld + c0, (int64_t)rows * ld);
    }
  }
}

DCNN_CPU_CLONES
static void output_clones(const dcnn_wino_tiling *t, int32_t rows, int32_t r0, int32_t r1, const float *m, int32_t ld,
                          int64_t first, int32_t count, float *y) {
  const int32_t a = t->a;
  const int64_t plane = (int64_t)t->out_h * t->out_w;
  float tmp[MAX_A * MAX_A * L], out[MAX_A * MAX_A * L];
  chunk ch;
  for (int32_t c0 = 0; c0 < count; c0 += L) {
    locate(t, first + c0, count - c0 < L ? count - c0 : L, 0, 0, t->m, rows, t->out_h, t->out_w, &ch);
    for (int32_t f = r0; f < r1; ++f) {
      const float *src = m + (int64_t)f * ld + c0; /* position p at src + p * rows * ld */
      float *plane_of_row = y + (int64_t)f * plane;
      if (a == 6) {
        TRANSFORM_2D_STRIDED(at6, src, (int64_t)rows * ld, 6, 4, tmp, out, L);
        place(&ch, out, t->out_h, t->out_w, 4, plane_of_row, rows * plane);
      } else {
        TRANSFORM_2D_STRIDED(at4, src, (int64_t)rows * ld, 4, 2, tmp, out, L);
        place(&ch, out, t->out_h, t->out_w, 2, plane_of_row, rows * plane);
      }
    }
  }
}

DCNN_CPU_CLONES
static void filter_clones(int32_t m, int32_t rows, int32_t cols, const float *w, int64_t row_stride, int64_t col_stride,
                          int rotate, int32_t r0, int32_t r1, float *u) {
  const int32_t a = m + 2, positions = a * a;
  float g[9 * L], tmp[MAX_A * 3 * L], out[MAX_A * MAX_A * L];
  for (int32_t r = r0; r < r1; ++r) {
    for (int32_t c0 = 0; c0 < cols; c0 += L) {
      const int32_t valid = cols - c0 < L ? cols - c0 : L;
      for (int32_t v = 0; v < L; ++v) {
        if (v >= valid) {
          for (int32_t k = 0; k < 9; ++k) g[k * L + v] = 0.0f;
          continue;
        }
        const float *src = w + r * row_stride + (int64_t)(c0 + v) * col_stride;
        for (int32_t k = 0; k < 9; ++k) g[k * L + v] = src[rotate ? 8 - k : k];
      }
      if (a == 6)
        TRANSFORM_2D(g6, g, 3, 6, tmp, out);
      else
        TRANSFORM_2D(g4, g, 3, 4, tmp, out);
      for (int32_t p = 0; p < positions; ++p)
        memcpy(u + ((int64_t)p * rows + r) * cols + c0, out + p * L, (size_t)valid * sizeof(float));
    }
  }
}

DCNN_CPU_CLONES
static void filter_gradient_clones(int32_t m, int32_t rows, int32_t cols, const float *s, int32_t parts,
                                   int64_t part_stride, int32_t r0, int32_t r1, float *dw) {
  const int32_t a = m + 2, positions = a * a;
  float d[MAX_A * MAX_A * L], tmp[3 * MAX_A * L], out[9 * L];
  for (int32_t r = r0; r < r1; ++r) {
    for (int32_t c0 = 0; c0 < cols; c0 += L) {
      const int32_t valid = cols - c0 < L ? cols - c0 : L;
      for (int32_t p = 0; p < positions; ++p) {
        const float *src = s + ((int64_t)p * rows + r) * cols + c0;
        for (int32_t v = 0; v < L; ++v) d[p * L + v] = v < valid ? src[v] : 0.0f;
        for (int32_t i = 1; i < parts; ++i)
          for (int32_t v = 0; v < valid; ++v) d[p * L + v] += src[i * part_stride + v];
      }
      if (a == 6)
        TRANSFORM_2D(gt6, d, 6, 3, tmp, out);
      else
        TRANSFORM_2D(gt4, d, 4, 3, tmp, out);
      for (int32_t v = 0; v < valid; ++v)
        for (int32_t k = 0; k < 9; ++k) dw[((int64_t)r * cols + c0 + v) * 9 + k] = out[k * L + v];
    }
  }
}

/* The entry points: clang (14) gives an external multiversioned function a
 * different symbol name than other translation units call, so the clones are
 * static and called from here. */
void dcnn__wino_input(const dcnn_wino_tiling *t, int32_t channels, int32_t k0, int32_t k1, const float *x,
                      int64_t first, int32_t count, float *v, int32_t ld) {
#if DCNN_WINO_X86
  if (current_isa() == DCNN_ISA_AVX512 && t->pad_left == 1 && rows_apply(t, t->in_w, first, count)) {
    rows_avx512(t, 0, t->in_h, t->in_w, t->pad_top, channels, k0, k1, x, first, count, v, ld);
    return;
  }
#endif
  input_clones(t, channels, k0, k1, x, first, count, v, ld);
}

void dcnn__wino_gradient(const dcnn_wino_tiling *t, int32_t rows, const float *dy, int64_t first, int32_t count,
                         float *q, int32_t ld) {
#if DCNN_WINO_X86
  if (current_isa() == DCNN_ISA_AVX512 && rows_apply(t, t->out_w, first, count)) {
    rows_avx512(t, 1, t->out_h, t->out_w, 0, rows, 0, rows, dy, first, count, q, ld);
    return;
  }
#endif
  gradient_clones(t, rows, dy, first, count, q, ld);
}

void dcnn__wino_output(const dcnn_wino_tiling *t, int32_t rows, int32_t r0, int32_t r1, const float *m, int32_t ld,
                       int64_t first, int32_t count, float *y) {
#if DCNN_WINO_X86
  if (current_isa() == DCNN_ISA_AVX512 && rows_apply(t, t->out_w, first, count)) {
    output_rows_avx512(t, rows, r0, r1, m, ld, first, count, y);
    return;
  }
#endif
  output_clones(t, rows, r0, r1, m, ld, first, count, y);
}

void dcnn__wino_filter(int32_t m, int32_t rows, int32_t cols, const float *w, int64_t row_stride, int64_t col_stride,
                       int rotate, int32_t r0, int32_t r1, float *u) {
  filter_clones(m, rows, cols, w, row_stride, col_stride, rotate, r0, r1, u);
}

void dcnn__wino_filter_gradient(int32_t m, int32_t rows, int32_t cols, const float *s, int32_t parts,
                                int64_t part_stride, int32_t r0, int32_t r1, float *dw) {
  filter_gradient_clones(m, rows, cols, s, parts, part_stride, r0, r1, dw);
}
