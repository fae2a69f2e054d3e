/* Direct depthwise convolution through phase planes: see depthwise.h. */
#include "depthwise.h"

#include <string.h>

#include "cpu.h"

/* The layout of one plane's scratch for geometry g. */
typedef struct dw_layout {
  int32_t s, k, ph, pw; /* stride, kernel, phase plane rows and row pitch */
  int64_t phase;        /* floats per phase plane: ph * pw */
  int64_t flat;         /* floats computed per tap: (OH - 1) * pw + OW */
} dw_layout;

static dw_layout layout_of(const dcnn_conv_geometry *g) {
  dw_layout d;
  d.s = g->stride;
  d.k = g->kernel;
  const int32_t reach = (g->kernel - 1) / g->stride; /* largest shift within a phase */
  d.ph = g->out_height + reach;
  d.pw = g->out_width + reach;
  d.phase = (int64_t)d.ph * d.pw;
  d.flat = (int64_t)(g->out_height - 1) * d.pw + g->out_width;
  return d;
}

int64_t dcnn__dw_lane_floats(const dcnn_conv_geometry *g, int backward) {
  const dw_layout d = layout_of(g);
  const int64_t phases = (int64_t)d.s * d.s * d.phase, rows = (int64_t)g->out_height * d.pw;
  return phases + rows + (backward ? phases : 0);
}

/* Smallest j >= 0 with s * j + a >= lo. */
static int32_t first_index(int32_t lo, int32_t a, int32_t s) { return lo - a <= 0 ? 0 : (lo - a + s - 1) / s; }

/* phases (s*s, ph, pw): phase (a, b) [i][j] = x (H, W) [s*i + a - pt][s*j + b - pl], zero outside x. */
static inline void fill_phases(const dcnn_conv_geometry *g, const dw_layout *d, const float *restrict x,
                               float *restrict phases) {
  for (int32_t a = 0; a < d->s; ++a)
    for (int32_t b = 0; b < d->s; ++b) {
      float *restrict dst = phases + (int64_t)(a * d->s + b) * d->phase;
      int32_t j0 = first_index(g->pad_left, b, d->s), j1 = first_index(g->width + g->pad_left, b, d->s);
      if (j0 > d->pw) j0 = d->pw;
      if (j1 > d->pw) j1 = d->pw;
      if (j1 < j0) j1 = j0;
      for (int32_t i = 0; i < d->ph; ++i, dst += d->pw) {
        const int32_t row = d->s * i + a - g->pad_top;
        if (row < 0 || row >= g->height || a >= d->k || b >= d->k) {
          memset(dst, 0, (size_t)d->pw * sizeof(float));
          continue;
        }
        const float *restrict src = x + (int64_t)row * g->width;
        const int32_t shift = b - g->pad_left;
        for (int32_t j = 0; j < j0; ++j) dst[j] = 0.0f;
        for (int32_t j = j0; j < j1; ++j) dst[j] = src[d->s * j + shift];
        for (int32_t j = j1; j < d->pw; ++j) dst[j] = 0.0f;
      }
    }
}

/* Where tap t = ki * k + kj reads in the phases: phase (ki % s, kj % s) shifted by (ki / s, kj / s). */
static inline int64_t tap_offset(const dw_layout *d, int32_t t) {
  const int32_t ki = t / d->k, kj = t % d->k;
  return (int64_t)((ki % d->s) * d->s + kj % d->s) * d->phase + (int64_t)(ki / d->s) * d->pw + kj / d->s;
}

/* o[i] += w * v[i] */
static inline void axpy(float *restrict o, float w, const float *restrict v, int64_t n) {
  for (int64_t i = 0; i < n; ++i) o[i] += w * v[i];
}

/* sum_i a[i] * b[i] (b NULL: sum_i a[i]) with 16 partial sums in a fixed order, so that it vectorises. */
static inline float dot(const float *restrict a, const float *restrict b, int64_t n) {
  float acc[16] = {0};
  int64_t i = 0;
  if (b) {
    for (; i + 16 <= n; i += 16)
      for (int j = 0; j < 16; ++j) acc[j] += a[i + j] * b[i + j];
    for (int j = 0; i + j < n; ++j) acc[j] += a[i + j] * b[i + j];
  } else {
    for (; i + 16 <= n; i += 16)
      for (int j = 0; j < 16; ++j) acc[j] += a[i + j];
    for (int j = 0; i + j < n; ++j) acc[j] += a[i + j];
  }
  for (int width = 8; width; width >>= 1)
    for (int j = 0; j < width; ++j) acc[j] += acc[j + width];
  return acc[0];
}

static DCNN_CPU_CLONES void dw_forward_clones(const dcnn_conv_geometry *g, const float *x, const float *w,
                                              const float *bias, float *y, int64_t first, int64_t count,
                                              float *scratch) {
  const dw_layout d = layout_of(g);
  const int32_t taps = d.k * d.k, oh_n = g->out_height, ow_n = g->out_width;
  const int64_t in_plane = (int64_t)g->height * g->width, out_plane = (int64_t)oh_n * ow_n;
  float *phases = scratch;                                    /* (s*s, ph, pw) */
  float *restrict o = scratch + (int64_t)d.s * d.s * d.phase; /* (OH, pw) */
  for (int64_t q = first; q < first + count; ++q) {
    const int32_t c = (int32_t)(q % g->channels);
    const float *wc = w + (int64_t)c * taps;
    const float b = bias ? bias[c] : 0.0f;
    fill_phases(g, &d, x + q * in_plane, phases);
    const float *restrict v = phases + tap_offset(&d, 0);
    for (int64_t i = 0; i < d.flat; ++i) o[i] = b + wc[0] * v[i];
    for (int32_t t = 1; t < taps; ++t) axpy(o, wc[t], phases + tap_offset(&d, t), d.flat);
    float *dst = y + q * out_plane;
    for (int32_t r = 0; r < oh_n; ++r)
      memcpy(dst + (int64_t)r * ow_n, o + (int64_t)r * d.pw, (size_t)ow_n * sizeof(float));
  }
}
void dcnn__dw_forward(const dcnn_conv_geometry *g, const float *x, const float *w, const float *bias, float *y,
                      int64_t first, int64_t count, float *scratch) {
  dw_forward_clones(g, x, w, bias, y, first, count, scratch);
}

static DCNN_CPU_CLONES void dw_backward_clones(const dcnn_conv_geometry *g, const float *x, const float *w,
                                               const float *dy, float *dx, float *dw_part, float *db_part,
                                               int64_t first, int64_t count, float *scratch) {
  const dw_layout d = layout_of(g);
  const int32_t taps = d.k * d.k, oh_n = g->out_height, ow_n = g->out_width, s = d.s;
  const int64_t in_plane = (int64_t)g->height * g->width, out_plane = (int64_t)oh_n * ow_n;
  const int64_t all_phases = (int64_t)s * s * d.phase;
  float *phases = scratch;                                      /* (s*s, ph, pw): x */
  float *restrict f = scratch + all_phases;                     /* (OH, pw): dy, zero past each row's OW */
  float *dphases = scratch + all_phases + (int64_t)oh_n * d.pw; /* (s*s, ph, pw): d(phases) */
  for (int64_t q = first; q < first + count; ++q) {
    const int32_t c = (int32_t)(q % g->channels);
    const float *wc = w + (int64_t)c * taps, *g_out = dy + q * out_plane;
    fill_phases(g, &d, x + q * in_plane, phases);
    for (int32_t r = 0; r < oh_n; ++r) {
      memcpy(f + (int64_t)r * d.pw, g_out + (int64_t)r * ow_n, (size_t)ow_n * sizeof(float));
      for (int32_t j = ow_n; j < d.pw; ++j) f[(int64_t)r * d.pw + j] = 0.0f;
    }
    if (db_part) db_part[q] = dot(g_out, NULL, out_plane);
    float *dwq = dw_part + q * taps;
    for (int32_t t = 0; t < taps; ++t) dwq[t] = dot(f, phases + tap_offset(&d, t), d.flat);
    if (!dx) continue;
    memset(dphases, 0, (size_t)all_phases * sizeof(float));
    for (int32_t t = 0; t < taps; ++t) axpy(dphases + tap_offset(&d, t), wc[t], f, d.flat);
    /* dx (H, W)[row][col] = dphases[(row+pt) % s][(col+pl) % s][(row+pt) / s][(col+pl) / s]; pixels no window reads get
     * 0. */
    float *dst = dx + q * in_plane;
    for (int32_t row = 0; row < g->height; ++row, dst += g->width) {
      const int32_t rr = row + g->pad_top, a = rr % s, i = rr / s;
      if (i >= d.ph) {
        memset(dst, 0, (size_t)g->width * sizeof(float));
        continue;
      }
      const float *src = dphases + (int64_t)a * s * d.phase + (int64_t)i * d.pw;
      if (s == 1) {
        int32_t n = d.pw - g->pad_left < g->width ? d.pw - g->pad_left : g->width;
        if (n < 0) n = 0;
        memcpy(dst, src + g->pad_left, (size_t)n * sizeof(float));
        for (int32_t col = n; col < g->width; ++col) dst[col] = 0.0f;
      } else {
        for (int32_t col = 0; col < g->width; ++col) {
          const int32_t cc = col + g->pad_left, j = cc / s;
          dst[col] = j < d.pw ? src[(int64_t)(cc % s) * d.phase + j] : 0.0f;
        }
      }
    }
  }
}
void dcnn__dw_backward(const dcnn_conv_geometry *g, const float *x, const float *w, const float *dy, float *dx,
                       float *dw_part, float *db_part, int64_t first, int64_t count, float *scratch) {
  dw_backward_clones(g, x, w, dy, dx, dw_part, db_part, first, count, scratch);
}

/* ---- The channels-last path (small planes). ---- */

int64_t dcnn__dw_block_units(const dcnn_conv_geometry *g, int32_t batch) {
  return (int64_t)batch * ((g->channels + DCNN_DW_BLOCK - 1) / DCNN_DW_BLOCK);
}

int64_t dcnn__dw_block_lane_floats(const dcnn_conv_geometry *g, int backward) {
  const int64_t in_plane = (int64_t)g->height * g->width, out_plane = (int64_t)g->out_height * g->out_width;
  const int64_t taps = (int64_t)g->kernel * g->kernel;
  /* forward: xt, yt; backward: xt, dyt, dxt, dwt, dbt */
  return DCNN_DW_BLOCK * (backward ? 2 * in_plane + out_plane + taps + 1 : in_plane + out_plane);
}

void dcnn__dw_transpose_weights(const dcnn_conv_geometry *g, const float *w, float *wt) {
  const int32_t taps = g->kernel * g->kernel;
  for (int32_t c = 0; c < g->channels; ++c)
    for (int32_t t = 0; t < taps; ++t) wt[(int64_t)t * g->channels + c] = w[(int64_t)c * taps + t];
}

/* dst (plane, cb) = src planes (cb, plane) transposed; src planes are consecutive. */
static inline void to_channels_last(const float *restrict src, float *restrict dst, int64_t plane, int32_t cb) {
  for (int32_t j = 0; j < cb; ++j)
    for (int64_t i = 0; i < plane; ++i) dst[i * cb + j] = src[(int64_t)j * plane + i];
}

static inline void from_channels_last(const float *restrict src, float *restrict dst, int64_t plane, int32_t cb) {
  for (int32_t j = 0; j < cb; ++j)
    for (int64_t i = 0; i < plane; ++i) dst[(int64_t)j * plane + i] = src[i * cb + j];
}

/* o[j] += a[j] * b[j] */
static inline void fma_rows(float *restrict o, const float *restrict a, const float *restrict b, int32_t n) {
  for (int32_t j = 0; j < n; ++j) o[j] += a[j] * b[j];
}

static DCNN_CPU_CLONES void dw_block_forward_clones(const dcnn_conv_geometry *g, const float *x, const float *wt,
                                                    const float *bias, float *y, int64_t first, int64_t count,
                                                    float *scratch) {
  const int32_t c_n = g->channels, k = g->kernel, blocks = (c_n + DCNN_DW_BLOCK - 1) / DCNN_DW_BLOCK;
  const int64_t in_plane = (int64_t)g->height * g->width, out_plane = (int64_t)g->out_height * g->out_width;
  float *xt = scratch;                            /* (H*W, cb) */
  float *yt = scratch + in_plane * DCNN_DW_BLOCK; /* (OH*OW, cb) */
  for (int64_t u = first; u < first + count; ++u) {
    const int64_t n = u / blocks;
    const int32_t c0 = (int32_t)(u % blocks) * DCNN_DW_BLOCK;
    const int32_t cb = c_n - c0 < DCNN_DW_BLOCK ? c_n - c0 : DCNN_DW_BLOCK;
    const int64_t q0 = n * c_n + c0;
    to_channels_last(x + q0 * in_plane, xt, in_plane, cb);
    for (int32_t oh = 0; oh < g->out_height; ++oh)
      for (int32_t ow = 0; ow < g->out_width; ++ow) {
        float *restrict o = yt + ((int64_t)oh * g->out_width + ow) * cb;
        for (int32_t j = 0; j < cb; ++j) o[j] = bias ? bias[c0 + j] : 0.0f;
        for (int32_t ki = 0; ki < k; ++ki) {
          const int32_t iy = oh * g->stride - g->pad_top + ki;
          if (iy < 0 || iy >= g->height) continue;
          for (int32_t kj = 0; kj < k; ++kj) {
            const int32_t ix = ow * g->stride - g->pad_left + kj;
            if (ix < 0 || ix >= g->width) continue;
            fma_rows(o, wt + (int64_t)(ki * k + kj) * c_n + c0, xt + ((int64_t)iy * g->width + ix) * cb, cb);
          }
        }
      }
    from_channels_last(yt, y + q0 * out_plane, out_plane, cb);
  }
}
void dcnn__dw_block_forward(const dcnn_conv_geometry *g, const float *x, const float *wt, const float *bias, float *y,
                            int64_t first, int64_t count, float *scratch) {
  dw_block_forward_clones(g, x, wt, bias, y, first, count, scratch);
}

int32_t dcnn__dw_groups(int32_t batch) { return batch < DCNN_DW_GROUPS ? batch : DCNN_DW_GROUPS; }

static DCNN_CPU_CLONES void dw_block_backward_clones(const dcnn_conv_geometry *g, int32_t batch, const float *x,
                                                     const float *wt, const float *dy, float *dx, float *dw_part,
                                                     float *db_part, int64_t first, int64_t count, float *scratch) {
  const int32_t c_n = g->channels, k = g->kernel, taps = k * k, groups = dcnn__dw_groups(batch);
  const int64_t in_plane = (int64_t)g->height * g->width, out_plane = (int64_t)g->out_height * g->out_width;
  float *xt = scratch;                              /* (H*W, cb) */
  float *dxt = xt + in_plane * DCNN_DW_BLOCK;       /* (H*W, cb) */
  float *dyt = dxt + in_plane * DCNN_DW_BLOCK;      /* (OH*OW, cb) */
  float *dwt = dyt + out_plane * DCNN_DW_BLOCK;     /* (k*k, cb) */
  float *dbt = dwt + (int64_t)taps * DCNN_DW_BLOCK; /* (cb) */
  for (int64_t u = first; u < first + count; ++u) {
    const int32_t grp = (int32_t)(u % groups), c0 = (int32_t)(u / groups) * DCNN_DW_BLOCK;
    const int32_t cb = c_n - c0 < DCNN_DW_BLOCK ? c_n - c0 : DCNN_DW_BLOCK;
    memset(dwt, 0, (size_t)taps * (size_t)cb * sizeof(float));
    memset(dbt, 0, (size_t)cb * sizeof(float));
    /* The group's images in order: the gradient sums do not depend on the thread count. */
    for (int64_t n = (int64_t)batch * grp / groups; n < (int64_t)batch * (grp + 1) / groups; ++n) {
      const int64_t q0 = n * c_n + c0;
      to_channels_last(x + q0 * in_plane, xt, in_plane, cb);
      to_channels_last(dy + q0 * out_plane, dyt, out_plane, cb);
      if (dx) memset(dxt, 0, (size_t)(in_plane * cb) * sizeof(float));
      for (int32_t oh = 0; oh < g->out_height; ++oh)
        for (int32_t ow = 0; ow < g->out_width; ++ow) {
          const float *restrict go = dyt + ((int64_t)oh * g->out_width + ow) * cb;
          for (int32_t j = 0; j < cb; ++j) dbt[j] += go[j];
          for (int32_t ki = 0; ki < k; ++ki) {
            const int32_t iy = oh * g->stride - g->pad_top + ki;
            if (iy < 0 || iy >= g->height) continue;
            for (int32_t kj = 0; kj < k; ++kj) {
              const int32_t ix = ow * g->stride - g->pad_left + kj;
              if (ix < 0 || ix >= g->width) continue;
              const int64_t at = ((int64_t)iy * g->width + ix) * cb;
              fma_rows(dwt + (int64_t)(ki * k + kj) * cb, go, xt + at, cb);
              if (dx) fma_rows(dxt + at, wt + (int64_t)(ki * k + kj) * c_n + c0, go, cb);
            }
          }
        }
      if (dx) from_channels_last(dxt, dx + q0 * in_plane, in_plane, cb);
    }
    for (int32_t t = 0; t < taps; ++t)
      memcpy(dw_part + ((int64_t)grp * taps + t) * c_n + c0, dwt + (int64_t)t * cb, (size_t)cb * sizeof(float));
    if (db_part) memcpy(db_part + (int64_t)grp * c_n + c0, dbt, (size_t)cb * sizeof(float));
  }
}
void dcnn__dw_block_backward(const dcnn_conv_geometry *g, int32_t batch, const float *x, const float *wt,
                             const float *dy, float *dx, float *dw_part, float *db_part, int64_t first, int64_t count,
                             float *scratch) {
  dw_block_backward_clones(g, batch, x, wt, dy, dx, dw_part, db_part, first, count, scratch);
}
