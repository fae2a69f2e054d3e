/* Per-channel loops of batch normalisation (see pointwise.h). The layer
 * (lib/layers/batchnorm.c) gives each channel to one lane. */
#include <string.h>

#include "cpu.h"
#include "pointwise.h"

/* Forward and backward must compute x * scale + shift identically, so that
 * backward's recomputed ReLU mask is the forward's: no contraction into FMA
 * (GCC does not contract in ISO C mode). */
#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

/* sum(x - shift), sum((x - shift)^2): one read; the shift (a value of the
 * channel) keeps the squares from cancelling when the mean is large. */
DCNN_CPU_CLONES
static void bn_channel_moments_clones(const float *x, int32_t n, int64_t stride, int32_t p, float shift, double *sum,
                                      double *sum_sq) {
  double total = 0, total_sq = 0;
  for (int32_t i = 0; i < n; ++i) {
    const float *restrict src = x + i * stride; /* (p) */
    float s = 0.0f, sq = 0.0f;
#pragma omp simd reduction(+ : s, sq)
    for (int32_t j = 0; j < p; ++j) {
      const float d = src[j] - shift;
      s += d;
      sq += d * d;
    }
    total += s;
    total_sq += sq;
  }
  *sum = total;
  *sum_sq = total_sq;
}

void dcnn__bn_channel_moments(const float *x, int32_t n, int64_t stride, int32_t p, float shift, double *sum,
                              double *sum_sq) {
  bn_channel_moments_clones(x, n, stride, p, shift, sum, sum_sq);
}

/* y = max(floor, x * scale + shift) */
DCNN_CPU_CLONES
static void bn_channel_apply_clones(const float *x, float *y, int32_t n, int64_t stride, int32_t p, float scale,
                                    float shift, float floor) {
  for (int32_t i = 0; i < n; ++i) {
    const float *restrict src = x + i * stride; /* (p) */
    float *restrict dst = y + i * stride;       /* (p) */
#pragma omp simd
    for (int32_t j = 0; j < p; ++j) {
      const float v = src[j] * scale + shift;
      dst[j] = v < floor ? floor : v; /* a NaN passes, to the output check */
    }
  }
}

void dcnn__bn_channel_apply(const float *x, float *y, int32_t n, int64_t stride, int32_t p, float scale, float shift,
                            float floor) {
  bn_channel_apply_clones(x, y, n, stride, p, scale, shift, floor);
}

/* sum(g), sum(g (x - mean)) with g = dy (x * scale + shift > floor); centred, so that a mean large against
 * the spread does not cancel the second sum's digits (sum(g x) - mean sum(g) did) */
DCNN_CPU_CLONES
static void bn_channel_grad_sums_clones(const float *x, const float *dy, int32_t n, int64_t stride, int32_t p,
                                        float scale, float shift, float floor, float mean, double *sum_g,
                                        double *sum_gx) {
  double total_g = 0, total_gx = 0;
  for (int32_t i = 0; i < n; ++i) {
    const float *restrict xs = x + i * stride;  /* (p) */
    const float *restrict gs = dy + i * stride; /* (p) */
    float pg = 0.0f, pgx = 0.0f;
#pragma omp simd reduction(+ : pg, pgx)
    for (int32_t j = 0; j < p; ++j) {
      const float v = xs[j] * scale + shift;
      const float gv = gs[j]; /* loaded unconditionally so the select vectorises */
      const float g = v > floor ? gv : 0.0f;
      pg += g;
      pgx += g * (xs[j] - mean);
    }
    total_g += pg;
    total_gx += pgx;
  }
  *sum_g = total_g;
  *sum_gx = total_gx;
}

void dcnn__bn_channel_grad_sums(const float *x, const float *dy, int32_t n, int64_t stride, int32_t p, float scale,
                                float shift, float floor, float mean, double *sum_g, double *sum_gx) {
  bn_channel_grad_sums_clones(x, dy, n, stride, p, scale, shift, floor, mean, sum_g, sum_gx);
}

/* dx = k (g - a - (x - mean) b) */
DCNN_CPU_CLONES
static void bn_channel_backward_clones(const float *x, const float *dy, float *dx, int32_t n, int64_t stride, int32_t p,
                                       float scale, float shift, float floor, float k, float a, float mean, float b) {
  for (int32_t i = 0; i < n; ++i) {
    const float *restrict xs = x + i * stride;  /* (p) */
    const float *restrict gs = dy + i * stride; /* (p) */
    float *restrict out = dx + i * stride;      /* (p) */
#pragma omp simd
    for (int32_t j = 0; j < p; ++j) {
      const float v = xs[j] * scale + shift;
      const float gv = gs[j];
      const float g = v > floor ? gv : 0.0f;
      out[j] = k * (g - a - (xs[j] - mean) * b);
    }
  }
}

void dcnn__bn_channel_backward(const float *x, const float *dy, float *dx, int32_t n, int64_t stride, int32_t p,
                               float scale, float shift, float floor, float k, float a, float mean, float b) {
  bn_channel_backward_clones(x, dy, dx, n, stride, p, scale, shift, floor, k, a, mean, b);
}

/* ---- (N, F) input: a lane is a block of `count` features (columns), the
 * loops run along rows so that they vectorise over features. ---- */

/* sum[c] = sum_i (x[i][c] - shift[c]), sum_sq[c] = sum_i (x[i][c] - shift[c])^2, in row order */
DCNN_CPU_CLONES
static void bn_rows_moments_clones(const float *x, int32_t n, int64_t stride, int32_t count, const float *shift,
                                   double *sum, double *sum_sq) {
  const float *restrict sh = shift;                /* (count) */
  double *restrict s = sum, *restrict sq = sum_sq; /* (count) each */
  for (int32_t c = 0; c < count; ++c) s[c] = sq[c] = 0.0;
  for (int32_t i = 0; i < n; ++i) {
    const float *restrict row = x + i * stride; /* (count) */
#pragma omp simd
    for (int32_t c = 0; c < count; ++c) {
      const double d = (double)(row[c] - sh[c]);
      s[c] += d;
      sq[c] += d * d;
    }
  }
}

void dcnn__bn_rows_moments(const float *x, int32_t n, int64_t stride, int32_t count, const float *shift, double *sum,
                           double *sum_sq) {
  bn_rows_moments_clones(x, n, stride, count, shift, sum, sum_sq);
}

/* y[i][c] = max(floor, x[i][c] * scale[c] + shift[c]) */
DCNN_CPU_CLONES
static void bn_rows_apply_clones(const float *x, float *y, int32_t n, int64_t stride, int32_t count, const float *scale,
                                 const float *shift, float floor) {
  const float *restrict a = scale, *restrict b = shift; /* (count) each */
  for (int32_t i = 0; i < n; ++i) {
    const float *restrict src = x + i * stride; /* (count) */
    float *restrict dst = y + i * stride;       /* (count) */
#pragma omp simd
    for (int32_t c = 0; c < count; ++c) {
      const float v = src[c] * a[c] + b[c];
      dst[c] = v < floor ? floor : v;
    }
  }
}

void dcnn__bn_rows_apply(const float *x, float *y, int32_t n, int64_t stride, int32_t count, const float *scale,
                         const float *shift, float floor) {
  bn_rows_apply_clones(x, y, n, stride, count, scale, shift, floor);
}

/* sum_g[c] = sum_i g, sum_gx[c] = sum_i g (x - mean[c]), g = dy (x * scale + shift > floor), in row order */
DCNN_CPU_CLONES
static void bn_rows_grad_sums_clones(const float *x, const float *dy, int32_t n, int64_t stride, int32_t count,
                                     const float *scale, const float *shift, float floor, const float *mean,
                                     double *sum_g, double *sum_gx) {
  const float *restrict a = scale, *restrict b = shift, *restrict mu = mean; /* (count) each */
  double *restrict sg = sum_g, *restrict sgx = sum_gx;  /* (count) each */
  for (int32_t c = 0; c < count; ++c) sg[c] = sgx[c] = 0.0;
  for (int32_t i = 0; i < n; ++i) {
    const float *restrict xs = x + i * stride, *restrict gs = dy + i * stride; /* (count) each */
#pragma omp simd
    for (int32_t c = 0; c < count; ++c) {
      const float v = xs[c] * a[c] + b[c];
      uint32_t bits; /* g = v > floor ? dy : +0, as a bit mask: GCC does not if-convert the select here */
      memcpy(&bits, &gs[c], sizeof bits);
      bits &= (uint32_t) - (int32_t)(v > floor);
      float g;
      memcpy(&g, &bits, sizeof g);
      sg[c] += (double)g;
      sgx[c] += (double)(g * (xs[c] - mu[c]));
    }
  }
}

void dcnn__bn_rows_grad_sums(const float *x, const float *dy, int32_t n, int64_t stride, int32_t count,
                             const float *scale, const float *shift, float floor, const float *mean, double *sum_g,
                             double *sum_gx) {
  bn_rows_grad_sums_clones(x, dy, n, stride, count, scale, shift, floor, mean, sum_g, sum_gx);
}

/* dx[i][c] = k[c] (g - mean_g[c] - (x - mean[c]) b[c]), g masked as above */
DCNN_CPU_CLONES
static void bn_rows_backward_clones(const float *x, const float *dy, float *dx, int32_t n, int64_t stride,
                                    int32_t count, const float *scale, const float *shift, float floor, const float *k,
                                    const float *mean_g, const float *mean, const float *b) {
  const float *restrict sa = scale, *restrict sb = shift, *restrict kk = k, *restrict mg = mean_g,
                        *restrict mu = mean, *restrict bb = b; /* (count) each */
  for (int32_t i = 0; i < n; ++i) {
    const float *restrict xs = x + i * stride, *restrict gs = dy + i * stride; /* (count) each */
    float *restrict out = dx + i * stride;                                     /* (count) */
#pragma omp simd
    for (int32_t c = 0; c < count; ++c) {
      const float v = xs[c] * sa[c] + sb[c];
      const float gv = gs[c];
      const float g = v > floor ? gv : 0.0f;
      out[c] = kk[c] * (g - mg[c] - (xs[c] - mu[c]) * bb[c]);
    }
  }
}

void dcnn__bn_rows_backward(const float *x, const float *dy, float *dx, int32_t n, int64_t stride, int32_t count,
                            const float *scale, const float *shift, float floor, const float *k, const float *mean_g,
                            const float *mean, const float *b) {
  bn_rows_backward_clones(x, dy, dx, n, stride, count, scale, shift, floor, k, mean_g, mean, b);
}
