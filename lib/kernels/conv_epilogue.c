/* Output passes of a convolution followed by a batch norm (conv_epilogue.h). */
#include "conv_epilogue.h"

#include "cpu.h"

/* The affine pass must round like the batch norm's own (kernels/batchnorm.c):
 * no contraction into FMA (GCC does not contract in ISO C mode). */
#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

/* Two reads of one plane, the second from cache: the deviations are taken
 * about the plane's own mean, so a large mean does not cancel them. */
DCNN_CPU_CLONES
static void plane_moments_clones(float *restrict y, int64_t p, float bias, int add_bias, double *mean, double *m2) {
  float s = 0.0f;
  if (add_bias) {
#pragma omp simd reduction(+ : s)
    for (int64_t j = 0; j < p; ++j) {
      y[j] += bias;
      s += y[j];
    }
  } else {
#pragma omp simd reduction(+ : s)
    for (int64_t j = 0; j < p; ++j) s += y[j];
  }
  const float mu = s / (float)p;
  float sq = 0.0f;
#pragma omp simd reduction(+ : sq)
  for (int64_t j = 0; j < p; ++j) {
    const float d = y[j] - mu;
    sq += d * d;
  }
  /* sum((y - mean)^2) = sum((y - mu)^2) - p (mean - mu)^2 with mean = mu + sum(y - mu) / p */
  *mean = (double)s / (double)p;
  const double shift = *mean - (double)mu;
  const double corrected = (double)sq - (double)p * shift * shift;
  *m2 = corrected > 0.0 ? corrected : 0.0;
}

void dcnn__plane_moments(float *y, int64_t p, float bias, int add_bias, double *mean, double *m2) {
  plane_moments_clones(y, p, bias, add_bias, mean, m2);
}

DCNN_CPU_CLONES
static void plane_affine_clones(float *restrict y, int64_t p, float bias, float scale, float shift, float floor) {
#pragma omp simd
  for (int64_t j = 0; j < p; ++j) {
    const float v = (y[j] + bias) * scale + shift;
    y[j] = v < floor ? floor : v; /* a NaN passes, to the output check */
  }
}

void dcnn__plane_affine(float *y, int64_t p, float bias, float scale, float shift, float floor) {
  plane_affine_clones(y, p, bias, scale, shift, floor);
}
