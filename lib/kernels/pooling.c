/* 2x2 stride-2 max pooling of one plane (see pointwise.h): the common case of
 * lib/layers/maxpool2d.c, with the arg-max kept as one byte per output. */
#include <string.h>

#include "cpu.h"
#include "pointwise.h"

/* Whether the window's maximum is b rather than a: b > a, except that the first NaN wins. */
static inline int takes_second(float a, float b) { return a != a ? 0 : b != b ? 1 : b > a; }

/* One row of outputs with NaN windows handled (see below): the rare path, scalar. */
static void maxpool2x2_row_with_nan(const float *r0, const float *r1, int32_t ow, float *dst, uint8_t *at) {
  for (int32_t c = 0; c < ow; ++c) {
    const float a = r0[2 * c], b = r0[2 * c + 1], cc = r1[2 * c], d = r1[2 * c + 1];
    const int right_top = takes_second(a, b), right_bottom = takes_second(cc, d);
    const float top = right_top ? b : a, bottom = right_bottom ? d : cc;
    const int lower = takes_second(top, bottom);
    dst[c] = lower ? bottom : top;
    if (at) at[c] = (uint8_t)(lower * (2 + right_bottom) + (1 - lower) * right_top);
  }
}

/* y = max(a, b, c, d) of each window [a b; c d]; arg = 0..3, first maximum wins; a NaN wins over any number
 * (the first NaN), as in PyTorch: one made inside a network must reach the output check, not vanish. The
 * vector loops compare as before and only note whether a row met a NaN (NaN-aware selects stop GCC from
 * vectorising them, 13x slower); such a row is done again by the scalar path. */
DCNN_CPU_CLONES
static void maxpool2x2_plane_clones(const float *x, int32_t w, int32_t oh, int32_t ow, float *y, uint8_t *arg) {
  for (int32_t r = 0; r < oh; ++r) {
    const float *restrict r0 = x + (int64_t)2 * r * w; /* (2 ow) */
    const float *restrict r1 = r0 + w;                 /* (2 ow) */
    float *restrict dst = y + (int64_t)r * ow;         /* (ow) */
    int nan = 0;
    if (arg) {
      uint8_t *restrict at = arg + (int64_t)r * ow; /* (ow) */
#pragma omp simd reduction(| : nan)
      for (int32_t c = 0; c < ow; ++c) {
        const float a = r0[2 * c], b = r0[2 * c + 1], cc = r1[2 * c], d = r1[2 * c + 1];
        const int right_top = b > a, right_bottom = d > cc;
        const float top = right_top ? b : a, bottom = right_bottom ? d : cc;
        const int lower = bottom > top;
        dst[c] = lower ? bottom : top;
        at[c] = (uint8_t)(lower * (2 + right_bottom) + (1 - lower) * right_top); /* arithmetic: no branch */
        nan |= (a != a) | (b != b) | (cc != cc) | (d != d);
      }
      if (nan) maxpool2x2_row_with_nan(r0, r1, ow, dst, at);
    } else {
#pragma omp simd reduction(| : nan)
      for (int32_t c = 0; c < ow; ++c) {
        const float a = r0[2 * c], b = r0[2 * c + 1], cc = r1[2 * c], d = r1[2 * c + 1];
        const float top = b > a ? b : a, bottom = d > cc ? d : cc;
        dst[c] = bottom > top ? bottom : top;
        nan |= (a != a) | (b != b) | (cc != cc) | (d != d);
      }
      if (nan) maxpool2x2_row_with_nan(r0, r1, ow, dst, NULL);
    }
  }
}

void dcnn__maxpool2x2_plane(const float *x, int32_t w, int32_t oh, int32_t ow, float *y, uint8_t *arg) {
  maxpool2x2_plane_clones(x, w, oh, ow, y, arg);
}

/* dx = 0, then dx[2r + (arg >> 1)][2c + (arg & 1)] = dy[r][c]: clearing the
 * plane and one scattered store per output beat four blended stores (the
 * clearing writes whole lines at once). */
void dcnn__maxpool2x2_plane_backward(const float *dy, const uint8_t *arg, int32_t h, int32_t w, int32_t oh,
                                     int32_t ow, float *dx) {
  memset(dx, 0, (size_t)h * (size_t)w * sizeof(float));
  for (int32_t r = 0; r < oh; ++r) {
    const float *restrict g = dy + (int64_t)r * ow;     /* (ow) */
    const uint8_t *restrict at = arg + (int64_t)r * ow; /* (ow) */
    float *restrict d0 = dx + (int64_t)2 * r * w;       /* (2, w): the window rows */
    for (int32_t c = 0; c < ow; ++c) d0[(at[c] >> 1) * w + 2 * c + (at[c] & 1)] = g[c];
  }
}
