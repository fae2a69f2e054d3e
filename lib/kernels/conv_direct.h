/* Direct convolution for layers with few input channels (the 1- or 3-channel
 * first layers), where im2col + GEMM has a tiny inner dimension (C*k*k).
 * One image per call, single-threaded: the caller splits images (or filter
 * ranges) over its lanes. Works on a zero-padded copy of the image, so the
 * inner loops run over whole output rows without bounds checks.
 * Shapes: x (C, H, W), xp (C, PH, PW) the padded copy, w (F, C, k, k),
 * y (F, OH, OW), with PH = (OH-1)*stride + k and PW = (OW-1)*stride + k. */
#ifndef DCNN_KERNELS_CONV_DIRECT_H
#define DCNN_KERNELS_CONV_DIRECT_H

#include <stdint.h>

#include "kernels.h"

/* Floats of one padded image, C * PH * PW. */
int64_t dcnn__conv_direct_padded_floats(const dcnn_conv_geometry *g);

/* xp (C, PH, PW) = x (C, H, W) placed at (pad_top, pad_left), zero elsewhere. */
void dcnn__conv_direct_pad(const dcnn_conv_geometry *g, const float *x, float *xp);

/* y[f] (OH, OW) = b[f] + sum_{c,i,j} w[f,c,i,j] xp[c, oh*s+i, ow*s+j] for f in [f0, f1); b may be NULL. */
void dcnn__conv_direct_forward(const dcnn_conv_geometry *g, int32_t f0, int32_t f1, const float *w, const float *b,
                               const float *xp, float *y);

/* dw (F, C, k, k) += sum_{oh,ow} dy[f, oh, ow] xp[c, oh*s+i, ow*s+j]: one image's weight gradient, accumulated. */
void dcnn__conv_direct_backward_weights(const dcnn_conv_geometry *g, int32_t filters, const float *xp, const float *dy,
                                        float *dw);

/* dx (C, H, W) = the cropped dxp (C, PH, PW), dxp = sum_f,i,j w[f,c,i,j] dy[f, oh, ow] at (oh*s+i, ow*s+j):
 * one image's input gradient, overwritten; dxp is scratch of dcnn__conv_direct_padded_floats floats. */
void dcnn__conv_direct_backward_data(const dcnn_conv_geometry *g, int32_t filters, const float *w, const float *dy,
                                     float *dxp, float *dx);

#endif
