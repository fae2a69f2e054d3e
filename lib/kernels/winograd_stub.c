/* STUB (dropped at merge): naive direct loops behind the Winograd interface,
 * so that conv2d's planner can be built and tested before lib/kernels/winograd.c.
 * Shapes as in winograd.h; needs no workspace. */
#include <string.h>

#include "winograd.h"

int dcnn__winograd_applies(int32_t tile, const dcnn_conv_geometry *g) {
  return (tile == 2 || tile == 4) && g->kernel == 3 && g->stride == 1;
}

int64_t dcnn__winograd_workspace_floats(int32_t tile, const dcnn_conv_geometry *g, int32_t filters,
                                        dcnn_winograd_pass pass, int32_t threads) {
  (void)tile, (void)g, (void)filters, (void)pass, (void)threads;
  return 0;
}

/* The input pixel (row, col) of output (oh, ow) and tap (ki, kj), or -1 outside. */
static int64_t tap(const dcnn_conv_geometry *g, int32_t oh, int32_t ow, int32_t ki, int32_t kj) {
  const int32_t ih = oh + ki - g->pad_top, iw = ow + kj - g->pad_left;
  return ih < 0 || ih >= g->height || iw < 0 || iw >= g->width ? -1 : (int64_t)ih * g->width + iw;
}

dcnn_status dcnn__winograd_forward(int32_t threads, int32_t tile, const dcnn_conv_geometry *g, int32_t filters,
                                   const float *w, const float *x, float *y, float *workspace) {
  (void)threads, (void)tile, (void)workspace;
  const int64_t in = (int64_t)g->height * g->width, out = (int64_t)g->out_height * g->out_width;
  for (int32_t n = 0; n < g->batch; ++n)
    for (int32_t f = 0; f < filters; ++f)
      for (int32_t oh = 0; oh < g->out_height; ++oh)
        for (int32_t ow = 0; ow < g->out_width; ++ow) {
          float sum = 0;
          for (int32_t c = 0; c < g->channels; ++c)
            for (int32_t ki = 0; ki < 3; ++ki)
              for (int32_t kj = 0; kj < 3; ++kj) {
                const int64_t i = tap(g, oh, ow, ki, kj);
                if (i >= 0) sum += w[((f * g->channels + c) * 3 + ki) * 3 + kj] * x[(n * g->channels + c) * in + i];
              }
          y[(n * filters + f) * out + (int64_t)oh * g->out_width + ow] = sum;
        }
  return DCNN_OK;
}

dcnn_status dcnn__winograd_backward_data(int32_t threads, int32_t tile, const dcnn_conv_geometry *g, int32_t filters,
                                         const float *w, const float *dy, float *dx, float *workspace) {
  (void)threads, (void)tile, (void)workspace;
  const int64_t in = (int64_t)g->height * g->width, out = (int64_t)g->out_height * g->out_width;
  memset(dx, 0, (size_t)(g->batch * g->channels * in) * sizeof(float));
  for (int32_t n = 0; n < g->batch; ++n)
    for (int32_t f = 0; f < filters; ++f)
      for (int32_t oh = 0; oh < g->out_height; ++oh)
        for (int32_t ow = 0; ow < g->out_width; ++ow) {
          const float d = dy[(n * filters + f) * out + (int64_t)oh * g->out_width + ow];
          for (int32_t c = 0; c < g->channels; ++c)
            for (int32_t ki = 0; ki < 3; ++ki)
              for (int32_t kj = 0; kj < 3; ++kj) {
                const int64_t i = tap(g, oh, ow, ki, kj);
                if (i >= 0) dx[(n * g->channels + c) * in + i] += w[((f * g->channels + c) * 3 + ki) * 3 + kj] * d;
              }
        }
  return DCNN_OK;
}

dcnn_status dcnn__winograd_backward_weights(int32_t threads, int32_t tile, const dcnn_conv_geometry *g,
                                            int32_t filters, const float *x, const float *dy, float *dw,
                                            float *workspace) {
  (void)threads, (void)tile, (void)workspace;
  const int64_t in = (int64_t)g->height * g->width, out = (int64_t)g->out_height * g->out_width;
  memset(dw, 0, (size_t)(filters * g->channels * 9) * sizeof(float));
  for (int32_t n = 0; n < g->batch; ++n)
    for (int32_t f = 0; f < filters; ++f)
      for (int32_t oh = 0; oh < g->out_height; ++oh)
        for (int32_t ow = 0; ow < g->out_width; ++ow) {
          const float d = dy[(n * filters + f) * out + (int64_t)oh * g->out_width + ow];
          for (int32_t c = 0; c < g->channels; ++c)
            for (int32_t ki = 0; ki < 3; ++ki)
              for (int32_t kj = 0; kj < 3; ++kj) {
                const int64_t i = tap(g, oh, ow, ki, kj);
                if (i >= 0) dw[((f * g->channels + c) * 3 + ki) * 3 + kj] += x[(n * g->channels + c) * in + i] * d;
              }
        }
  return DCNN_OK;
}
