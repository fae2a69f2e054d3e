/* Direct depthwise convolution kernels (each channel with its own k x k
 * filter), for any kernel, stride and padding.
 *
 * Each (image, channel) plane is first split into stride x stride phase
 * planes: phase (a, b) holds the zero-padded input at rows s*i + a and
 * columns s*j + b, (ph, pw) values each. Tap (ki, kj) of the window then reads
 * phase (ki % s, kj % s) shifted by (ki / s, kj / s): a stride-1 shift, so
 * every tap is one long contiguous multiply-add over the flattened plane
 * (row pitch pw; the pw - OW columns past each output row are computed and
 * dropped), which the compiler vectorises whatever the plane's width. The
 * planes of MobileNetV2 on digit images are 1x1 to 16x16, too narrow to
 * vectorise row by row.
 *
 * Planes are numbered q = n * C + c; a call processes planes [first, first +
 * count) with `scratch` (dcnn__dw_lane_floats floats) of its own, so callers
 * split planes over threads as they like: every output element is computed by
 * one call in a fixed order, independent of the split. */
#ifndef DCNN_KERNELS_DEPTHWISE_H
#define DCNN_KERNELS_DEPTHWISE_H

#include <stdint.h>

#include "kernels.h"

/* Floats of scratch one call needs for geometry g (batch ignored); `backward`
 * adds the input-gradient phases. */
int64_t dcnn__dw_lane_floats(const dcnn_conv_geometry *g, int backward);

/* y[q] (OH, OW) = bias[c] + sum_{ki,kj} w[c] (k, k)[ki][kj] * x[q] (H, W)[oh*s + ki - pt][ow*s + kj - pl]
 * (zero outside x); x: (N, C, H, W), w: (C, k, k), bias: (C) or NULL, y: (N, C, OH, OW). */
void dcnn__dw_forward(const dcnn_conv_geometry *g, const float *x, const float *w, const float *bias, float *y,
                      int64_t first, int64_t count, float *scratch);

/* For each plane q = (n, c): dw_part[q] (k, k)[ki][kj] = sum_{oh,ow} dy[q][oh][ow] * x[q][oh*s+ki-pt][ow*s+kj-pl],
 * db_part[q] = sum dy[q] (if db_part), and, if dx, dx[q] (H, W) = sum over the windows reading each pixel of
 * w[c][ki][kj] * dy[q][oh][ow] (overwritten). dy: (N, C, OH, OW); dw_part: (N*C, k*k); db_part: (N*C). */
void dcnn__dw_backward(const dcnn_conv_geometry *g, const float *x, const float *w, const float *dy, float *dx,
                       float *dw_part, float *db_part, int64_t first, int64_t count, float *scratch);

/* The channels-last path, for small planes (few values per plane, many
 * channels): a block of up to DCNN_DW_BLOCK channels of one image is
 * transposed to (position, channel), every tap becomes a multiply-add over the
 * block's channels (long contiguous vectors whatever the plane's size), and
 * the result is transposed back. wt: the weights transposed, (k*k, C)
 * (dcnn__dw_transpose_weights). Same results and shapes as dcnn__dw_forward /
 * dcnn__dw_backward up to rounding, except the weight-gradient partials.
 *
 * Forward units are u = n * blocks + b (blocks = ceil(C / DCNN_DW_BLOCK)).
 * Backward units are u = b * G + grp: channel block b over image group grp
 * (G = dcnn__dw_groups(N) groups of consecutive images, a number fixed by the
 * batch alone), whose images are summed in order into dw_part[grp] (k*k, C)
 * and db_part[grp] (C); the caller adds the G partials in group order. A call
 * processes units [first, first + count) with its own scratch
 * (dcnn__dw_block_lane_floats floats). */
#define DCNN_DW_BLOCK 128
#define DCNN_DW_GROUPS 4
int32_t dcnn__dw_groups(int32_t batch);
int64_t dcnn__dw_block_units(const dcnn_conv_geometry *g, int32_t batch);
int64_t dcnn__dw_block_lane_floats(const dcnn_conv_geometry *g, int backward);
/* wt (k*k, C) = w (C, k*k) transposed. */
void dcnn__dw_transpose_weights(const dcnn_conv_geometry *g, const float *w, float *wt);
void dcnn__dw_block_forward(const dcnn_conv_geometry *g, const float *x, const float *wt, const float *bias, float *y,
                            int64_t first, int64_t count, float *scratch);
void dcnn__dw_block_backward(const dcnn_conv_geometry *g, int32_t batch, const float *x, const float *wt,
                             const float *dy, float *dx, float *dw_part, float *db_part, int64_t first, int64_t count,
                             float *scratch);

#endif
