/* Per-channel loops of batch normalisation (see pointwise.h). The layer
 * (lib/layers/batchnorm.c) gives each channel to one lane. */
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
void dcnn__bn_channel_moments(const float *x, int32_t n, int64_t stride, int32_t p, float shift, double *sum,
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

/* y = max(floor, x * scale + shift) */
DCNN_CPU_CLONES
void dcnn__bn_channel_apply(const float *x, float *y, int32_t n, int64_t stride, int32_t p, float scale, float shift,
                            float floor) {
  for (int32_t i = 0; i < n; ++i) {
    const float *restrict src = x + i * stride; /* (p) */
    float *restrict dst = y + i * stride;       /* (p) */
#pragma omp simd
    for (int32_t j = 0; j < p; ++j) {
      const float v = src[j] * scale + shift;
      dst[j] = v > floor ? v : floor;
    }
  }
}

/* sum(g), sum(g x) with g = dy (x * scale + shift > floor) */
DCNN_CPU_CLONES
void dcnn__bn_channel_grad_sums(const float *x, const float *dy, int32_t n, int64_t stride, int32_t p, float scale,
                                float shift, float floor, double *sum_g, double *sum_gx) {
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
      pgx += g * xs[j];
    }
    total_g += pg;
    total_gx += pgx;
  }
  *sum_g = total_g;
  *sum_gx = total_gx;
}

/* dx = k (g - a - (x - mean) b) */
DCNN_CPU_CLONES
void dcnn__bn_channel_backward(const float *x, const float *dy, float *dx, int32_t n, int64_t stride, int32_t p,
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
