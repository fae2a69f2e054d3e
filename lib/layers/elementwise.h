/* A small base for element-wise activation layers (relu6, tanh, sigmoid):
 * shape-preserving, no parameters; forward y = f(x), backward dx = dy * f'(from y). */
#ifndef DCNN_ELEMENTWISE_H
#define DCNN_ELEMENTWISE_H

#include "layer_internal.h"

typedef struct dcnn_elementwise_ops {
  float (*forward)(float x);
  float (*derivative_from_output)(float y, float x);
} dcnn_elementwise_ops;

dcnn_status dcnn__elementwise_build(void *self, dcnn_context *ctx, const dcnn_shape *in, dcnn_shape *out);
dcnn_status dcnn__elementwise_forward(const dcnn_elementwise_ops *ops, dcnn_exec *exec, const dcnn_tensor *x,
                                      dcnn_tensor *y);
dcnn_status dcnn__elementwise_backward(const dcnn_elementwise_ops *ops, dcnn_exec *exec, const dcnn_tensor *x,
                                       const dcnn_tensor *y, const dcnn_tensor *dy, dcnn_tensor *dx);
void dcnn__elementwise_destroy(void *self);

#endif
