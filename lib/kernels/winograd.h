/* Winograd convolution F(m x m, 3 x 3) for 3x3 stride-1 convolutions, m = 2 or 4.
 *
 * Shapes (NCHW, as everywhere in lib/kernels): x (N, C, H, W), w (F, C, 3, 3),
 * y (N, F, OH, OW), with g->kernel == 3, g->stride == 1 and any padding in g.
 * Each function needs a caller-provided workspace of
 * dcnn__winograd_workspace_floats(...) floats (64-byte aligned is best) and may
 * use `threads` threads; every output element is computed by one thread in a
 * fixed order, so results depend only on `threads`, not on the team the
 * OpenMP runtime grants. They fail only with OpenBLAS's out-of-memory (see
 * dcnn__sgemm). */
#ifndef DCNN_KERNELS_WINOGRAD_H
#define DCNN_KERNELS_WINOGRAD_H

#include <stdint.h>

#include "kernels.h"

typedef enum dcnn_winograd_pass {
  DCNN_WINOGRAD_FORWARD = 0,         /* y = conv(x, w) */
  DCNN_WINOGRAD_BACKWARD_DATA = 1,   /* dx = conv^T(dy, w) */
  DCNN_WINOGRAD_BACKWARD_WEIGHTS = 2 /* dw = corr(x, dy) */
} dcnn_winograd_pass;

/* 1 if F(tile x tile, 3x3) applies to this geometry (kernel 3, stride 1, tile 2 or 4). */
int dcnn__winograd_applies(int32_t tile, const dcnn_conv_geometry *g);

/* Floats of workspace one call of `pass` needs for this geometry (g->batch images) and `threads`. */
int64_t dcnn__winograd_workspace_floats(int32_t tile, const dcnn_conv_geometry *g, int32_t filters,
                                        dcnn_winograd_pass pass, int32_t threads);

/* y (N, F, OH, OW) = sum_c x (N, C, H, W) * w (F, C, 3, 3): overwrites y. */
dcnn_status dcnn__winograd_forward(int32_t threads, int32_t tile, const dcnn_conv_geometry *g, int32_t filters,
                                   const float *w, const float *x, float *y, float *workspace);

/* Floats of the forward pass's transformed filters U (P, F, C), P = (tile + 2)^2. */
int64_t dcnn__winograd_filter_floats(int32_t tile, const dcnn_conv_geometry *g, int32_t filters);
/* u (P, F, C) = G w[f, c] G^T: the filters as dcnn__winograd_forward transforms them on every call. */
void dcnn__winograd_forward_filters(int32_t threads, int32_t tile, const dcnn_conv_geometry *g, int32_t filters,
                                    const float *w, float *u);
/* dcnn__winograd_forward with the filters already transformed (u from
 * dcnn__winograd_forward_filters): the same bits, without the transform, for
 * callers that keep u while the weights do not change (inference sessions). */
dcnn_status dcnn__winograd_forward_transformed(int32_t threads, int32_t tile, const dcnn_conv_geometry *g,
                                               int32_t filters, const float *u, const float *x, float *y,
                                               float *workspace);
/* dx (N, C, H, W) = gradient of the forward with respect to x for dy (N, F, OH, OW): overwrites dx. */
dcnn_status dcnn__winograd_backward_data(int32_t threads, int32_t tile, const dcnn_conv_geometry *g, int32_t filters,
                                         const float *w, const float *dy, float *dx, float *workspace);

/* dw (F, C, 3, 3) = gradient with respect to w, summed over the batch: overwrites dw. */
dcnn_status dcnn__winograd_backward_weights(int32_t threads, int32_t tile, const dcnn_conv_geometry *g,
                                            int32_t filters, const float *x, const float *dy, float *dw,
                                            float *workspace);

#endif
