/* Direct convolution forward for few input channels (see conv_direct.h).
 * Stride 1: blocks of 4 filters x 16 pixels of a row accumulate in vector
 * registers over all taps; other strides: one tap over a row at a time.
 * DCNN_CPU_CLONES picks the AVX-512, AVX2+FMA or portable version at run time. */
#include "conv_direct.h"

#include <string.h>

#include "cpu.h"

static int32_t padded_height(const dcnn_conv_geometry *g) { return (g->out_height - 1) * g->stride + g->kernel; }
/* Stride 1 rounds the rows up to whole blocks, so that a block never reads past its row. */
static int32_t padded_width(const dcnn_conv_geometry *g) {
  return g->stride == 1 ? (g->out_width + DCNN_DIRECT_BLOCK - 1) / DCNN_DIRECT_BLOCK * DCNN_DIRECT_BLOCK + g->kernel - 1
                        : (g->out_width - 1) * g->stride + g->kernel;
}

int64_t dcnn__conv_direct_padded_floats(const dcnn_conv_geometry *g) {
  return (int64_t)g->channels * padded_height(g) * padded_width(g);
}

int64_t dcnn__conv_direct_packed_floats(const dcnn_conv_geometry *g, int32_t filters) {
  return (int64_t)(filters + DCNN_DIRECT_FILTERS - 1) / DCNN_DIRECT_FILTERS * DCNN_DIRECT_FILTERS * g->channels *
         g->kernel * g->kernel;
}

void dcnn__conv_direct_pack(const dcnn_conv_geometry *g, int32_t filters, const float *w, float *wp) {
  const int64_t taps = (int64_t)g->channels * g->kernel * g->kernel;
  for (int32_t f0 = 0; f0 < filters; f0 += DCNN_DIRECT_FILTERS)
    for (int64_t t = 0; t < taps; ++t)
      for (int32_t i = 0; i < DCNN_DIRECT_FILTERS; ++i)
        wp[f0 * taps + t * DCNN_DIRECT_FILTERS + i] = f0 + i < filters ? w[(f0 + i) * taps + t] : 0.0f;
}

void dcnn__conv_direct_pad(const dcnn_conv_geometry *g, const float *x, float *xp) {
  const int32_t ph = padded_height(g), pw = padded_width(g);
  memset(xp, 0, (size_t)dcnn__conv_direct_padded_floats(g) * sizeof(float));
  /* 'valid' layers whose windows do not reach the last rows/columns read less than x. */
  const int32_t rows = g->height < ph - g->pad_top ? g->height : ph - g->pad_top;
  const int32_t cols = g->width < pw - g->pad_left ? g->width : pw - g->pad_left;
  for (int32_t c = 0; c < g->channels; ++c)
    for (int32_t i = 0; i < rows; ++i)
      memcpy(xp + ((int64_t)c * ph + i + g->pad_top) * pw + g->pad_left, x + ((int64_t)c * g->height + i) * g->width,
             (size_t)cols * sizeof(float));
}

/* out (FILTERS, BLOCK) = sum_{c,i,j} wp[(c,i,j), f] * src[c, i, j + t]: one block of a stride-1
 * output row for a block of filters, accumulated in registers. src (C, PH, PW) at the block's
 * first window; wp (C*k*k, FILTERS). */
DCNN_CPU_CLONES
static void block_stride1(int32_t channels, int32_t k, int64_t ph, int64_t pw, const float *restrict wp,
                          const float *restrict src, float *restrict out) {
  float acc[DCNN_DIRECT_FILTERS][DCNN_DIRECT_BLOCK] = {{0}};
  for (int32_t c = 0; c < channels; ++c)
    for (int32_t i = 0; i < k; ++i) {
      const float *row = src + (c * ph + i) * pw;
      for (int32_t j = 0; j < k; ++j, wp += DCNN_DIRECT_FILTERS)
        for (int32_t f = 0; f < DCNN_DIRECT_FILTERS; ++f) {
          const float v = wp[f];
#pragma omp simd
          for (int32_t t = 0; t < DCNN_DIRECT_BLOCK; ++t) acc[f][t] += v * row[j + t];
        }
    }
  memcpy(out, acc, sizeof acc);
}

/* row (n) += v * src (n, stride s): one tap over one output row. */
DCNN_CPU_CLONES
static void axpy_row(int32_t n, int32_t s, float v, const float *restrict src, float *restrict row) {
  for (int32_t i = 0; i < n; ++i) row[i] += v * src[(int64_t)i * s];
}

void dcnn__conv_direct_forward(const dcnn_conv_geometry *g, int32_t f0, int32_t f1, const float *wp, const float *b,
                               const float *xp, float *y) {
  const int32_t k = g->kernel, s = g->stride, ph = padded_height(g), pw = padded_width(g);
  const int32_t oh_n = g->out_height, ow_n = g->out_width;
  const int64_t plane = (int64_t)oh_n * ow_n, taps = (int64_t)g->channels * k * k;
  for (int32_t fb = f0 / DCNN_DIRECT_FILTERS * DCNN_DIRECT_FILTERS; fb < f1; fb += DCNN_DIRECT_FILTERS) {
    const float *w = wp + fb * taps; /* (C*k*k, FILTERS) */
    const int32_t lo = fb > f0 ? fb : f0, hi = fb + DCNN_DIRECT_FILTERS < f1 ? fb + DCNN_DIRECT_FILTERS : f1;
    if (s == 1) {
      float block[DCNN_DIRECT_FILTERS][DCNN_DIRECT_BLOCK]; /* (FILTERS, BLOCK) */
      for (int32_t oh = 0; oh < oh_n; ++oh)
        for (int32_t ow = 0; ow < ow_n; ow += DCNN_DIRECT_BLOCK) {
          block_stride1(g->channels, k, ph, pw, w, xp + (int64_t)oh * pw + ow, &block[0][0]);
          const int32_t n = ow_n - ow < DCNN_DIRECT_BLOCK ? ow_n - ow : DCNN_DIRECT_BLOCK;
          for (int32_t f = lo; f < hi; ++f) {
            float *dst = y + f * plane + (int64_t)oh * ow_n + ow;
            const float bias = b ? b[f] : 0.0f;
            for (int32_t t = 0; t < n; ++t) dst[t] = block[f - fb][t] + bias;
          }
        }
      continue;
    }
    for (int32_t f = lo; f < hi; ++f) { /* strided: one filter and tap at a time */
      float *out = y + f * plane;       /* (OH, OW) */
      const float init = b ? b[f] : 0.0f;
      for (int64_t p = 0; p < plane; ++p) out[p] = init;
      for (int32_t c = 0; c < g->channels; ++c) {
        const float *xc = xp + (int64_t)c * ph * pw; /* (PH, PW) */
        for (int32_t oh = 0; oh < oh_n; ++oh)
          for (int32_t i = 0; i < k; ++i)
            for (int32_t j = 0; j < k; ++j)
              axpy_row(ow_n, s, w[(((int64_t)c * k + i) * k + j) * DCNN_DIRECT_FILTERS + (f - fb)],
                       xc + ((int64_t)oh * s + i) * pw + j, out + (int64_t)oh * ow_n);
      }
    }
  }
}
