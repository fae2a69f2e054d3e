/* Pure numeric kernels: no handles, no allocation, no errors (except GEMM's
 * out-of-memory, see dcnn__sgemm). Each takes the
 * number of threads it may use; work is split so that every output element is
 * computed by exactly one thread in a fixed order, so results do not depend on
 * the thread count. */
#ifndef DCNN_KERNELS_H
#define DCNN_KERNELS_H

#include <stdint.h>

#include "digitcnn/status.h"

/* Row-major C(M, N) = alpha * op(A)(M, K) * op(B)(K, N) + beta * C, with the
 * columns (or rows, whichever is longer) split over `threads`, each slice a
 * single-threaded OpenBLAS call. DCNN_ERR_OUT_OF_MEMORY (C then undefined)
 * when OpenBLAS could not have a buffer for a calling thread; the one place
 * that keeps OpenBLAS single-threaded and bounded (lib/core/blas.c). */
dcnn_status dcnn__sgemm(int32_t threads, int trans_a, int trans_b, int32_t m, int32_t n, int32_t k, float alpha,
                        const float *a, int32_t lda, const float *b, int32_t ldb, float beta, float *c, int32_t ldc);

/* Geometry of a 2-D window operation on NCHW data. */
typedef struct dcnn_conv_geometry { /* also declared in layers/layer_internal.h */
  int32_t batch, channels, height, width; /* input (N, C, H, W) */
  int32_t kernel, stride, pad_top, pad_left;
  int32_t out_height, out_width;
} dcnn_conv_geometry;

/* Output extent and leading padding of one spatial dimension; `padding` is a
 * dcnn_padding: 0 valid, 1 same with an odd padding's extra row/column at the
 * end (Keras), 2 same with it at the start (PyTorch's kernel / 2 for odd
 * kernels). Returns 0 if the window does not fit ('valid' with kernel > input). */
int dcnn__window_extent(int32_t in, int32_t kernel, int32_t stride, int padding, int32_t *out, int32_t *pad_before);
/* As dcnn__window_extent, with the padding after the input too: total - before (what ONNX's pads hold). */
int dcnn__window_pads(int32_t in, int32_t kernel, int32_t stride, int padding, int32_t *out, int32_t *pad_before,
                      int32_t *pad_after);

/* col (C*k*k, N*OH*OW): row (c, ki, kj), column (n, oh, ow); zero outside x.
 * x: (N, C, H, W). */
void dcnn__im2col(int32_t threads, const dcnn_conv_geometry *g, const float *x, float *col);

/* dx (N, C, H, W) = sum of col entries over the windows that read each pixel
 * (overwrites dx). */
void dcnn__col2im(int32_t threads, const dcnn_conv_geometry *g, const float *col, float *dx);

/* (N, C, P) -> (C, N*P) and back: between NCHW tensors and GEMM matrices. */
void dcnn__nchw_to_cnp(int32_t threads, const float *x, int32_t n, int32_t c, int32_t p, float *out);
void dcnn__cnp_to_nchw(int32_t threads, const float *m, int32_t n, int32_t c, int32_t p, float *out);

#endif
