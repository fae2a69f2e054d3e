#include <string.h>

#include "kernels.h"

/* out = ceil(in / stride), total = (out - 1) * stride + kernel - in, before = total / 2 (rounded up when lower) */
int dcnn__window_extent(int32_t in, int32_t kernel, int32_t stride, int padding, int32_t *out, int32_t *pad_before) {
  if (padding) {
    /* in int64: a stride or kernel near INT32_MAX (the API sets no bound) must not wrap */
    const int64_t o = ((int64_t)in + stride - 1) / stride;
    int64_t total = (o - 1) * stride + kernel - in;
    if (total < 0) total = 0;
    *out = (int32_t)o;            /* at most in */
    *pad_before = (int32_t)((total + (padding == 2)) / 2); /* at most kernel / 2 */
    return 1;
  }
  if (kernel > in) return 0;
  *out = (in - kernel) / stride + 1;
  *pad_before = 0;
  return 1;
}

/* after = (out - 1) * stride + kernel - in - before, at least 0 */
int dcnn__window_pads(int32_t in, int32_t kernel, int32_t stride, int padding, int32_t *out, int32_t *pad_before,
                      int32_t *pad_after) {
  if (!dcnn__window_extent(in, kernel, stride, padding, out, pad_before)) return 0;
  const int64_t after = ((int64_t)*out - 1) * stride + kernel - in - *pad_before;
  *pad_after = after > 0 ? (int32_t)after : 0;
  return 1;
}

/* One row of col: channel c, kernel offset (ki, kj), over all images. */
static void im2col_row(const dcnn_conv_geometry *g, const float *x, int32_t c, int32_t ki, int32_t kj,
                       float *row) {
  const int32_t oh_n = g->out_height, ow_n = g->out_width, s = g->stride;
  const int64_t plane = (int64_t)g->height * g->width;
  for (int32_t n = 0; n < g->batch; ++n) {
    const float *src = x + ((int64_t)n * g->channels + c) * plane;
    float *dst = row + (int64_t)n * oh_n * ow_n;
    /* Columns ow whose input column ix = ow*s - pad + kj lies inside [0, W). */
    int32_t first = 0, last = ow_n;
    while (first < ow_n && first * s - g->pad_left + kj < 0) ++first;
    while (last > first && (last - 1) * s - g->pad_left + kj >= g->width) --last;
    for (int32_t oh = 0; oh < oh_n; ++oh, dst += ow_n) {
      int32_t iy = oh * s - g->pad_top + ki;
      if (iy < 0 || iy >= g->height) {
        memset(dst, 0, (size_t)ow_n * sizeof(float));
        continue;
      }
      const float *line = src + (int64_t)iy * g->width - g->pad_left + kj;
      for (int32_t ow = 0; ow < first; ++ow) dst[ow] = 0.0f;
      if (s == 1) {
        /* Rows are short (tens of floats): a plain loop beats a memcpy call. */
        for (int32_t ow = first; ow < last; ++ow) dst[ow] = line[ow];
      } else {
        for (int32_t ow = first; ow < last; ++ow) dst[ow] = line[ow * s];
      }
      for (int32_t ow = last; ow < ow_n; ++ow) dst[ow] = 0.0f;
    }
  }
}

void dcnn__im2col(int32_t threads, const dcnn_conv_geometry *g, const float *x, float *col) {
  const int32_t k = g->kernel, rows = g->channels * k * k;
  const int64_t columns = (int64_t)g->batch * g->out_height * g->out_width;
#pragma omp parallel for num_threads(threads) if (threads > 1) schedule(static)
  for (int32_t r = 0; r < rows; ++r) {
    int32_t c = r / (k * k), ki = (r / k) % k, kj = r % k;
    im2col_row(g, x, c, ki, kj, col + (int64_t)r * columns);
  }
}

void dcnn__col2im(int32_t threads, const dcnn_conv_geometry *g, const float *col, float *dx) {
  const int32_t k = g->kernel, s = g->stride, oh_n = g->out_height, ow_n = g->out_width;
  const int64_t plane = (int64_t)g->height * g->width, opl = (int64_t)oh_n * ow_n;
  const int64_t columns = (int64_t)g->batch * opl;
  /* Each thread owns whole channels, so no two threads write the same pixel. */
#pragma omp parallel for num_threads(threads) if (threads > 1) schedule(static)
  for (int32_t c = 0; c < g->channels; ++c) {
    for (int32_t n = 0; n < g->batch; ++n) memset(dx + ((int64_t)n * g->channels + c) * plane, 0, (size_t)plane * sizeof(float));
    for (int32_t ki = 0; ki < k; ++ki) {
      for (int32_t kj = 0; kj < k; ++kj) {
        const float *row = col + ((int64_t)(c * k + ki) * k + kj) * columns;
        for (int32_t n = 0; n < g->batch; ++n) {
          float *dst = dx + ((int64_t)n * g->channels + c) * plane;
          const float *src = row + (int64_t)n * opl;
          for (int32_t oh = 0; oh < oh_n; ++oh) {
            int32_t iy = oh * s - g->pad_top + ki;
            if (iy < 0 || iy >= g->height) continue;
            float *line = dst + (int64_t)iy * g->width;
            const float *in = src + (int64_t)oh * ow_n;
            for (int32_t ow = 0; ow < ow_n; ++ow) {
              int32_t ix = ow * s - g->pad_left + kj;
              if (ix >= 0 && ix < g->width) line[ix] += in[ow];
            }
          }
        }
      }
    }
  }
}

void dcnn__nchw_to_cnp(int32_t threads, const float *x, int32_t n, int32_t c, int32_t p, float *out) {
#pragma omp parallel for num_threads(threads) if (threads > 1) schedule(static)
  for (int32_t ci = 0; ci < c; ++ci)
    for (int32_t ni = 0; ni < n; ++ni)
      memcpy(out + ((int64_t)ci * n + ni) * p, x + ((int64_t)ni * c + ci) * p, (size_t)p * sizeof(float));
}

void dcnn__cnp_to_nchw(int32_t threads, const float *m, int32_t n, int32_t c, int32_t p, float *out) {
#pragma omp parallel for num_threads(threads) if (threads > 1) schedule(static)
  for (int32_t ci = 0; ci < c; ++ci)
    for (int32_t ni = 0; ni < n; ++ni)
      memcpy(out + ((int64_t)ni * c + ci) * p, m + ((int64_t)ci * n + ni) * p, (size_t)p * sizeof(float));
}
