#include "elementwise.h"

#include "../kernels/activations.h"

dcnn_status dcnn__elementwise_build(void *self, dcnn_context *ctx, const dcnn_shape *in, dcnn_shape *out) {
  (void)self;
  (void)ctx;
  *out = *in;
  return DCNN_OK;
}

dcnn_status dcnn__elementwise_forward(const dcnn__elementwise_kernels *kernels, float param, dcnn_exec *exec,
                                      const dcnn_tensor *x, dcnn_tensor *y) {
  const int64_t n = x->count, lanes = dcnn__pointwise_lanes(n, dcnn_exec_threads(exec));
  const float *src = x->data; /* (n) */
  float *dst = y->data;       /* (n) */
#pragma omp parallel for num_threads((int)lanes) if (lanes > 1) schedule(static)
  for (int64_t lane = 0; lane < lanes; ++lane) {
    const int64_t first = n * lane / lanes, last = n * (lane + 1) / lanes;
    kernels->forward(src + first, dst + first, last - first, param);
  }
  return DCNN_OK;
}

dcnn_status dcnn__elementwise_backward(const dcnn__elementwise_kernels *kernels, float param, dcnn_exec *exec,
                                       const dcnn_tensor *x, const dcnn_tensor *y, const dcnn_tensor *dy,
                                       dcnn_tensor *dx) {
  if (!dx) return DCNN_OK;
  const int64_t n = y->count, lanes = dcnn__pointwise_lanes(n, dcnn_exec_threads(exec));
  const float *in = x->data, *out = y->data, *g_out = dy->data; /* (n) each */
  float *g_in = dx->data;                                         /* (n) */
#pragma omp parallel for num_threads((int)lanes) if (lanes > 1) schedule(static)
  for (int64_t lane = 0; lane < lanes; ++lane) {
    const int64_t first = n * lane / lanes, last = n * (lane + 1) / lanes;
    kernels->backward(in + first, out + first, g_out + first, g_in + first, last - first, param);
  }
  return DCNN_OK;
}

void dcnn__elementwise_destroy(void *self) { dcnn__release(NULL, self); }
