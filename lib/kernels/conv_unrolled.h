/* Convolution as one matrix product over whole planes, for tiny planes (the
 * last stages of VGG-16 and ResNet-50 at 32x32 input: 2x2 and 1x1 planes),
 * where im2col and Winograd spend most of their work on padding. The
 * unrolled weight Wu maps a whole input image to a whole output image:
 *   Wu[(f, o), (c, i)] = w[f, c, tap] when input pixel i lies under tap `tap`
 *   of output pixel o's window, else 0,
 * so forward is Y = X Wu^T with NCHW images as rows (no reordering), and the
 * GEMM's inner dimension C*H*W counts only pixels that exist (smaller than
 * im2col's C*k*k per output pixel when H*W < k*k). Exact for every kernel
 * size, stride and padding.
 *
 * Wu is never whole in memory: it is built (or its gradient gathered) in
 * blocks of whole filters (forward, backward-weights) or whole channels
 * (backward-data) of about DCNN_UNROLLED_BLOCK_FLOATS, each used by its GEMM
 * while it is still in cache. Blocks go to lanes (parallel-for iterations,
 * one private block buffer each, fixed assignment), each GEMM single-threaded;
 * with fewer blocks than threads, the blocks run in turn with the GEMM split
 * over the threads. Every output element is written by one GEMM, so results
 * depend on the thread count only through that split.
 *
 * Shapes: x (N, C, H, W) = (N, C*IP), y (N, F, OH, OW) = (N, F*OP), w (F, C, k, k),
 * Wu and dWu (F*OP, C*IP), with IP = H*W, OP = OH*OW and N = g->batch;
 * scratch: dcnn__conv_unrolled_scratch_floats floats. */
#ifndef DCNN_KERNELS_CONV_UNROLLED_H
#define DCNN_KERNELS_CONV_UNROLLED_H

#include <stdint.h>

#include "kernels.h"

#define DCNN_UNROLLED_BLOCK_FLOATS (1 << 17) /* 512 KiB: a block and its GEMM's panels fit a core's L2 */

/* Floats of the whole Wu: F * OP * C * IP (the measure of the AUTO rule). */
int64_t dcnn__conv_unrolled_floats(const dcnn_conv_geometry *g, int32_t filters);

/* Floats of scratch for the forward (backward = 0) or all three passes with `threads` threads. */
int64_t dcnn__conv_unrolled_scratch_floats(const dcnn_conv_geometry *g, int32_t filters, int32_t threads,
                                           int backward);

/* y (N, F*OP) = x (N, C*IP) Wu^T. */
dcnn_status dcnn__conv_unrolled_forward(int32_t threads, const dcnn_conv_geometry *g, int32_t filters,
                                        const float *w, const float *x, float *y, float *scratch);

/* dx (N, C*IP) = dy (N, F*OP) Wu. */
dcnn_status dcnn__conv_unrolled_backward_data(int32_t threads, const dcnn_conv_geometry *g, int32_t filters,
                                              const float *w, const float *dy, float *dx, float *scratch);

/* dWu (F*OP, C*IP) = dy^T (F*OP, N) x (N, C*IP); dw (F, C, k, k) = for each tap, the sum of the
 * dWu entries that map to it, over output pixels in ascending order (overwrites dw). */
dcnn_status dcnn__conv_unrolled_backward_weights(int32_t threads, const dcnn_conv_geometry *g, int32_t filters,
                                                 const float *x, const float *dy, float *dw, float *scratch);

#endif
