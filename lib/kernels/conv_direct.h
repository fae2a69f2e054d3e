/* Direct convolution forward for layers with few input channels and few
 * filters (LeNet-5's first layer), where im2col + GEMM has a tiny inner
 * dimension (C*k*k) and few rows (F). Only the forward pass: measured against
 * im2col + GEMM, whose backward GEMMs have the batch's pixels as inner
 * dimension, direct backward loops lost 3-10x, so conv2d runs the direct
 * algorithm's backward by im2col + GEMM.
 * One image per call, single-threaded: the caller splits images over its
 * lanes. Works on a zero-padded copy of the image, so the inner loops run
 * over whole output rows without bounds checks.
 * Shapes: x (C, H, W), xp (C, PH, PW) the padded copy, w (F, C, k, k),
 * y (F, OH, OW), with PH = (OH-1)*stride + k and PW = (OW-1)*stride + k
 * (stride 1: OW rounded up to DCNN_DIRECT_BLOCK). */
#ifndef DCNN_KERNELS_CONV_DIRECT_H
#define DCNN_KERNELS_CONV_DIRECT_H

#include <stdint.h>

#include "kernels.h"

#define DCNN_DIRECT_BLOCK 16  /* output pixels of a row computed together (stride 1) */
#define DCNN_DIRECT_FILTERS 4 /* filters computed together */

/* Floats of one padded image, C * PH * PW (PW rounded up for stride 1). */
int64_t dcnn__conv_direct_padded_floats(const dcnn_conv_geometry *g);

/* xp (C, PH, PW) = x (C, H, W) placed at (pad_top, pad_left), zero elsewhere. */
void dcnn__conv_direct_pad(const dcnn_conv_geometry *g, const float *x, float *xp);

/* Floats of the packed weights, ceil(F / FILTERS) * FILTERS * C * k * k. */
int64_t dcnn__conv_direct_packed_floats(const dcnn_conv_geometry *g, int32_t filters);

/* wp (ceil(F/FILTERS), C*k*k, FILTERS) = w (F, C, k, k) regrouped by blocks of filters, zero past F. */
void dcnn__conv_direct_pack(const dcnn_conv_geometry *g, int32_t filters, const float *w, float *wp);

/* y[f] (OH, OW) = b[f] + sum_{c,i,j} w[f,c,i,j] xp[c, oh*s+i, ow*s+j] for f in [f0, f1); wp packed
 * by dcnn__conv_direct_pack; b may be NULL. */
void dcnn__conv_direct_forward(const dcnn_conv_geometry *g, int32_t f0, int32_t f1, const float *wp, const float *b,
                               const float *xp, float *y);

#endif
