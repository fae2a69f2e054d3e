/* A small base for element-wise layers (relu6, tanh, sigmoid, ...):
 * shape-preserving, no parameters. A layer gives the loops of its two passes
 * over one contiguous range (kernels/activations.c, or plain loops over
 * restrict pointers in its own file); the base splits a tensor into
 * dcnn__pointwise_lanes ranges, one per `parallel for` iteration, so every
 * element is computed the same way whatever the thread count. */
#ifndef DCNN_ELEMENTWISE_H
#define DCNN_ELEMENTWISE_H

#include "layer_internal.h"

typedef struct dcnn__elementwise_kernels {
  /* y = f(x) on one range; `param` is the layer's constant (leaky_relu's
   * alpha; ignored by layers without one). x, y: (n). */
  void (*forward)(const float *x, float *y, int64_t n, float param);
  /* dx = dy * f'(x), from the input x or the forward's output y, on one
   * range. x, y, dy, dx: (n). */
  void (*backward)(const float *x, const float *y, const float *dy, float *dx, int64_t n, float param);
} dcnn__elementwise_kernels;

dcnn_status dcnn__elementwise_build(void *self, dcnn_context *ctx, const dcnn_shape *in, dcnn_shape *out);
/* Runs kernels->forward over x into y (same shape). */
dcnn_status dcnn__elementwise_forward(const dcnn__elementwise_kernels *kernels, float param, dcnn_exec *exec,
                                      const dcnn_tensor *x, dcnn_tensor *y);
/* Runs kernels->backward; nothing when dx is NULL. */
dcnn_status dcnn__elementwise_backward(const dcnn__elementwise_kernels *kernels, float param, dcnn_exec *exec,
                                       const dcnn_tensor *x, const dcnn_tensor *y, const dcnn_tensor *dy,
                                       dcnn_tensor *dx);
void dcnn__elementwise_destroy(void *self);

#endif
