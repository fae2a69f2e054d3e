/* Direct convolution kernels for few input channels (see conv_direct.h).
 * The hot loops run over a whole output row with unit stride (stride-1
 * layers) so that the compiler vectorises them; DCNN_CPU_CLONES picks the
 * AVX-512, AVX2+FMA or portable version at run time. */
#include "conv_direct.h"

#include <string.h>

#include "cpu.h"

static int32_t padded_height(const dcnn_conv_geometry *g) { return (g->out_height - 1) * g->stride + g->kernel; }
static int32_t padded_width(const dcnn_conv_geometry *g) { return (g->out_width - 1) * g->stride + g->kernel; }

int64_t dcnn__conv_direct_padded_floats(const dcnn_conv_geometry *g) {
  return (int64_t)g->channels * padded_height(g) * padded_width(g);
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

/* row (n) += v * src (n, stride s): one tap over one output row. */
DCNN_CPU_CLONES
static void axpy_row(int32_t n, int32_t s, float v, const float *restrict src, float *restrict row) {
  if (s == 1)
    for (int32_t i = 0; i < n; ++i) row[i] += v * src[i];
  else
    for (int32_t i = 0; i < n; ++i) row[i] += v * src[(int64_t)i * s];
}

/* dst (n, stride s) += v * row (n): the transpose of axpy_row. */
DCNN_CPU_CLONES
static void scatter_row(int32_t n, int32_t s, float v, const float *restrict row, float *restrict dst) {
  if (s == 1)
    for (int32_t i = 0; i < n; ++i) dst[i] += v * row[i];
  else
    for (int32_t i = 0; i < n; ++i) dst[(int64_t)i * s] += v * row[i];
}

/* sum_i a (n) * b (n, stride s), with 16 partial sums added in a fixed order at the end. */
DCNN_CPU_CLONES
static float dot_row(int32_t n, int32_t s, const float *restrict a, const float *restrict b) {
  float acc[16] = {0};
  int32_t i = 0;
  if (s == 1)
    for (; i + 16 <= n; i += 16)
      for (int32_t j = 0; j < 16; ++j) acc[j] += a[i + j] * b[i + j];
  for (; i < n; ++i) acc[i & 15] += a[i] * b[(int64_t)i * s];
  float sum = 0;
  for (int32_t j = 0; j < 16; ++j) sum += acc[j];
  return sum;
}

void dcnn__conv_direct_forward(const dcnn_conv_geometry *g, int32_t f0, int32_t f1, const float *w, const float *b,
                               const float *xp, float *y) {
  const int32_t k = g->kernel, s = g->stride, ph = padded_height(g), pw = padded_width(g);
  const int32_t oh_n = g->out_height, ow_n = g->out_width;
  const int64_t plane = (int64_t)oh_n * ow_n;
  for (int32_t f = f0; f < f1; ++f) {
    float *out = y + f * plane; /* (OH, OW) */
    const float init = b ? b[f] : 0.0f;
    for (int64_t p = 0; p < plane; ++p) out[p] = init;
    for (int32_t c = 0; c < g->channels; ++c) {
      const float *wc = w + ((int64_t)f * g->channels + c) * k * k; /* (k, k) */
      const float *xc = xp + (int64_t)c * ph * pw;                   /* (PH, PW) */
      for (int32_t oh = 0; oh < oh_n; ++oh)
        for (int32_t i = 0; i < k; ++i)
          for (int32_t j = 0; j < k; ++j)
            axpy_row(ow_n, s, wc[i * k + j], xc + ((int64_t)oh * s + i) * pw + j, out + (int64_t)oh * ow_n);
    }
  }
}

void dcnn__conv_direct_backward_weights(const dcnn_conv_geometry *g, int32_t filters, const float *xp, const float *dy,
                                        float *dw) {
  const int32_t k = g->kernel, s = g->stride, ph = padded_height(g), pw = padded_width(g);
  const int32_t oh_n = g->out_height, ow_n = g->out_width;
  for (int32_t f = 0; f < filters; ++f)
    for (int32_t c = 0; c < g->channels; ++c) {
      float *dwc = dw + ((int64_t)f * g->channels + c) * k * k;               /* (k, k) */
      const float *xc = xp + (int64_t)c * ph * pw, *grad = dy + (int64_t)f * oh_n * ow_n; /* (PH, PW), (OH, OW) */
      for (int32_t i = 0; i < k; ++i)
        for (int32_t j = 0; j < k; ++j) {
          float sum = 0;
          for (int32_t oh = 0; oh < oh_n; ++oh)
            sum += dot_row(ow_n, s, grad + (int64_t)oh * ow_n, xc + ((int64_t)oh * s + i) * pw + j);
          dwc[i * k + j] += sum;
        }
    }
}

void dcnn__conv_direct_backward_data(const dcnn_conv_geometry *g, int32_t filters, const float *w, const float *dy,
                                     float *dxp, float *dx) {
  const int32_t k = g->kernel, s = g->stride, ph = padded_height(g), pw = padded_width(g);
  const int32_t oh_n = g->out_height, ow_n = g->out_width;
  memset(dxp, 0, (size_t)dcnn__conv_direct_padded_floats(g) * sizeof(float));
  for (int32_t c = 0; c < g->channels; ++c) {
    float *dc = dxp + (int64_t)c * ph * pw; /* (PH, PW) */
    for (int32_t f = 0; f < filters; ++f) {
      const float *wc = w + ((int64_t)f * g->channels + c) * k * k, *grad = dy + (int64_t)f * oh_n * ow_n;
      for (int32_t oh = 0; oh < oh_n; ++oh)
        for (int32_t i = 0; i < k; ++i)
          for (int32_t j = 0; j < k; ++j)
            scatter_row(ow_n, s, wc[i * k + j], grad + (int64_t)oh * ow_n, dc + ((int64_t)oh * s + i) * pw + j);
    }
  }
  /* Crop: padding rows and columns receive gradient but are not pixels. Rows
   * or columns of x no window reads ('valid' remainders) get 0. */
  memset(dx, 0, (size_t)g->channels * g->height * g->width * sizeof(float));
  const int32_t rows = g->height < ph - g->pad_top ? g->height : ph - g->pad_top;
  const int32_t cols = g->width < pw - g->pad_left ? g->width : pw - g->pad_left;
  for (int32_t c = 0; c < g->channels; ++c)
    for (int32_t i = 0; i < rows; ++i)
      memcpy(dx + ((int64_t)c * g->height + i) * g->width, dxp + ((int64_t)c * ph + i + g->pad_top) * pw + g->pad_left,
             (size_t)cols * sizeof(float));
}
