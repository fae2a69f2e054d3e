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

#include <string.h>

#include "cpu.h"

#define L DCNN_WINO_LANES
#define MAX_A 6

/* One-dimensional transforms of L lanes: o[i*os + v] = sum_k T[i][k] d[k*s + v]. */
#define LANES(...)              \
  for (int v = 0; v < L; ++v) { \
    __VA_ARGS__                 \
  }
#define D(k) d[(k) * s + v]
#define O(i) o[(i) * os + v]

static inline void bt4(const float *restrict d, int s, float *restrict o, int os) { /* B^T, m = 2 */
  LANES(O(0) = D(0) - D(2); O(1) = D(1) + D(2); O(2) = D(2) - D(1); O(3) = D(1) - D(3);)
}
static inline void bt6(const float *restrict d, int s, float *restrict o, int os) { /* B^T, m = 4 */
  LANES(const float d1 = D(1), d2 = D(2), d3 = D(3), d4 = D(4); O(0) = 4.0f * D(0) - 5.0f * d2 + d4;
        O(1) = d3 + d4 - 4.0f * (d1 + d2); O(2) = 4.0f * (d1 - d2) + d4 - d3;
        O(3) = 2.0f * (d3 - d1) + d4 - d2; O(4) = 2.0f * (d1 - d3) + d4 - d2; O(5) = 4.0f * d1 - 5.0f * d3 + D(5);)
}
static inline void at4(const float *restrict d, int s, float *restrict o, int os) { /* A^T, m = 2 */
  LANES(O(0) = D(0) + D(1) + D(2); O(1) = D(1) - D(2) - D(3);)
}
static inline void at6(const float *restrict d, int s, float *restrict o, int os) { /* A^T, m = 4 */
  LANES(const float p1 = D(1) + D(2), m1 = D(1) - D(2), p2 = D(3) + D(4), m2 = D(3) - D(4);
        O(0) = D(0) + p1 + p2; O(1) = m1 + 2.0f * m2; O(2) = p1 + 4.0f * p2; O(3) = m1 + 8.0f * m2 + D(5);)
}
static inline void a4(const float *restrict d, int s, float *restrict o, int os) { /* A, m = 2 */
  LANES(O(0) = D(0); O(1) = D(0) + D(1); O(2) = D(0) - D(1); O(3) = -D(1);)
}
static inline void a6(const float *restrict d, int s, float *restrict o, int os) { /* A, m = 4 */
  LANES(const float pe = D(0) + D(2), po = D(1) + D(3), qe = D(0) + 4.0f * D(2), qo = 2.0f * D(1) + 8.0f * D(3);
        O(0) = D(0); O(1) = pe + po; O(2) = pe - po; O(3) = qe + qo; O(4) = qe - qo; O(5) = D(3);)
}
static inline void g4(const float *restrict d, int s, float *restrict o, int os) { /* G, m = 2 */
  LANES(const float e = 0.5f * (D(0) + D(2)), h = 0.5f * D(1); O(0) = D(0); O(1) = e + h; O(2) = e - h;
        O(3) = D(2);)
}
static inline void g6(const float *restrict d, int s, float *restrict o, int os) { /* G, m = 4 */
  LANES(const float e1 = -(D(0) + D(2)) * (1.0f / 6.0f), h1 = D(1) * (1.0f / 6.0f);
        const float e2 = D(0) * (1.0f / 24.0f) + D(2) * (1.0f / 6.0f), h2 = D(1) * (1.0f / 12.0f);
        O(0) = 0.25f * D(0); O(1) = e1 - h1; O(2) = e1 + h1; O(3) = e2 + h2; O(4) = e2 - h2; O(5) = D(2);)
}
static inline void gt4(const float *restrict d, int s, float *restrict o, int os) { /* G^T, m = 2 */
  LANES(const float p = 0.5f * (D(1) + D(2)); O(0) = D(0) + p; O(1) = 0.5f * (D(1) - D(2)); O(2) = p + D(3);)
}
static inline void gt6(const float *restrict d, int s, float *restrict o, int os) { /* G^T, m = 4 */
  LANES(const float p1 = D(1) + D(2), m1 = D(2) - D(1), p2 = D(3) + D(4), m2 = D(3) - D(4);
        O(0) = 0.25f * D(0) - p1 * (1.0f / 6.0f) + p2 * (1.0f / 24.0f);
        O(1) = m1 * (1.0f / 6.0f) + m2 * (1.0f / 12.0f);
        O(2) = (p2 - p1) * (1.0f / 6.0f) + D(5);)
}

/* out (n_out, n_out, L) = T in T^T for in (n_in, n_in, L), via tmp (n_out, n_in, L). */
#define TRANSFORM_2D(op, in, n_in, n_out, tmp, out)                                  \
  do {                                                                               \
    for (int j_ = 0; j_ < (n_in); ++j_) op((in) + j_ * L, (n_in) * L, (tmp) + j_ * L, (n_in) * L); \
    for (int i_ = 0; i_ < (n_out); ++i_) op((tmp) + i_ * (n_in) * L, L, (out) + i_ * (n_out) * L, L); \
  } while (0)

/* Where the tiles of one chunk lie: image, top-left corner of the patch, and
 * whether the patch (side `side`) lies wholly inside a (height, width) plane. */
typedef struct chunk {
  int32_t valid;
  int32_t image[L], row[L], col[L];
  unsigned char inside[L];
} chunk;

static void locate(const dcnn_wino_tiling *t, int64_t first, int32_t valid, int32_t pad_top, int32_t pad_left,
                   int32_t side, int32_t height, int32_t width, chunk *ch) {
  const int64_t per_image = (int64_t)t->tiles_h * t->tiles_w;
  ch->valid = valid;
  for (int32_t v = 0; v < valid; ++v) {
    const int64_t index = first + v, r = index % per_image;
    ch->image[v] = (int32_t)(index / per_image);
    ch->row[v] = (int32_t)(r / t->tiles_w) * t->m - pad_top;
    ch->col[v] = (int32_t)(r % t->tiles_w) * t->m - pad_left;
    ch->inside[v] = ch->row[v] >= 0 && ch->col[v] >= 0 && ch->row[v] + side <= height && ch->col[v] + side <= width;
  }
}

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
void dcnn__wino_input(const dcnn_wino_tiling *t, int32_t channels, const float *x, int64_t first, int32_t count,
                      float *v, int32_t ld) {
  const int32_t a = t->a, positions = a * a;
  float d[MAX_A * MAX_A * L], tmp[MAX_A * MAX_A * L], out[MAX_A * MAX_A * L];
  chunk ch;
  for (int32_t c0 = 0; c0 < count; c0 += L) {
    locate(t, first + c0, count - c0 < L ? count - c0 : L, t->pad_top, t->pad_left, a, t->in_h, t->in_w, &ch);
    for (int32_t k = 0; k < channels; ++k) {
      if (a == 6) {
        gather(&ch, x, channels, k, t->in_h, t->in_w, 6, d);
        TRANSFORM_2D(bt6, d, 6, 6, tmp, out);
      } else {
        gather(&ch, x, channels, k, t->in_h, t->in_w, 4, d);
        TRANSFORM_2D(bt4, d, 4, 4, tmp, out);
      }
      scatter_positions(out, positions, v + (int64_t)k * ld + c0, (int64_t)channels * ld);
    }
  }
}

DCNN_CPU_CLONES
void dcnn__wino_gradient(const dcnn_wino_tiling *t, int32_t rows, const float *dy, int64_t first, int32_t count,
                         float *q, int32_t ld) {
  const int32_t a = t->a, m = t->m, positions = a * a;
  float d[MAX_A * MAX_A * L], tmp[MAX_A * MAX_A * L], out[MAX_A * MAX_A * L];
  chunk ch;
  for (int32_t c0 = 0; c0 < count; c0 += L) {
    locate(t, first + c0, count - c0 < L ? count - c0 : L, 0, 0, m, t->out_h, t->out_w, &ch);
    for (int32_t f = 0; f < rows; ++f) {
      if (a == 6) {
        gather(&ch, dy, rows, f, t->out_h, t->out_w, 4, d);
        TRANSFORM_2D(a6, d, 4, 6, tmp, out);
      } else {
        gather(&ch, dy, rows, f, t->out_h, t->out_w, 2, d);
        TRANSFORM_2D(a4, d, 2, 4, tmp, out);
      }
      scatter_positions(out, positions, q + (int64_t)f * ld + c0, (int64_t)rows * ld);
    }
  }
}

DCNN_CPU_CLONES
void dcnn__wino_output(const dcnn_wino_tiling *t, int32_t rows, const float *m, int32_t ld, int64_t first,
                       int32_t count, float *y) {
  const int32_t a = t->a, positions = a * a;
  const int64_t plane = (int64_t)t->out_h * t->out_w;
  float d[MAX_A * MAX_A * L], tmp[MAX_A * MAX_A * L], out[MAX_A * MAX_A * L];
  chunk ch;
  for (int32_t c0 = 0; c0 < count; c0 += L) {
    locate(t, first + c0, count - c0 < L ? count - c0 : L, 0, 0, t->m, t->out_h, t->out_w, &ch);
    for (int32_t f = 0; f < rows; ++f) {
      const float *src = m + (int64_t)f * ld + c0;
      for (int32_t p = 0; p < positions; ++p)
        memcpy(d + p * L, src + (int64_t)p * rows * ld, L * sizeof(float));
      float *plane_of_row = y + (int64_t)f * plane;
      if (a == 6) {
        TRANSFORM_2D(at6, d, 6, 4, tmp, out);
        place(&ch, out, t->out_h, t->out_w, 4, plane_of_row, rows * plane);
      } else {
        TRANSFORM_2D(at4, d, 4, 2, tmp, out);
        place(&ch, out, t->out_h, t->out_w, 2, plane_of_row, rows * plane);
      }
    }
  }
}

DCNN_CPU_CLONES
void dcnn__wino_filter(int32_t m, int32_t rows, int32_t cols, const float *w, int64_t row_stride, int64_t col_stride,
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
void dcnn__wino_filter_gradient(int32_t m, int32_t rows, int32_t cols, const float *s, int32_t parts,
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
