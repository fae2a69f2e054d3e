#include "elementwise.h"

#include <stdlib.h>

dcnn_status dcnn__elementwise_build(void *self, dcnn_context *ctx, const dcnn_shape *in, dcnn_shape *out) {
  (void)self;
  (void)ctx;
  *out = *in;
  return DCNN_OK;
}

dcnn_status dcnn__elementwise_forward(const dcnn_elementwise_ops *ops, dcnn_exec *exec, const dcnn_tensor *x,
                                      dcnn_tensor *y) {
  const int64_t n = x->count;
  const int32_t threads = dcnn_exec_threads(exec);
#pragma omp parallel for num_threads(threads) if (threads > 1 && n > 65536) schedule(static)
  for (int64_t i = 0; i < n; ++i) y->data[i] = ops->forward(x->data[i]);
  return DCNN_OK;
}

dcnn_status dcnn__elementwise_backward(const dcnn_elementwise_ops *ops, dcnn_exec *exec, const dcnn_tensor *x,
                                       const dcnn_tensor *y, const dcnn_tensor *dy, dcnn_tensor *dx) {
  if (!dx) return DCNN_OK;
  const int64_t n = y->count;
  const int32_t threads = dcnn_exec_threads(exec);
#pragma omp parallel for num_threads(threads) if (threads > 1 && n > 65536) schedule(static)
  for (int64_t i = 0; i < n; ++i) dx->data[i] = dy->data[i] * ops->derivative_from_output(y->data[i], x->data[i]);
  return DCNN_OK;
}

void dcnn__elementwise_destroy(void *self) { dcnn__release(NULL, self); }
