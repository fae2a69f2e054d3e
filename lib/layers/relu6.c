/* ReLU6: y = min(max(x, 0), 6); dy/dx = 1 inside (0, 6), read from y (the
 * same set: y is in (0, 6) exactly when x is). Vectorised kernels
 * (kernels/activations.c), split over the threads when the tensor is large. */
#include "../kernels/activations.h"
#include "elementwise.h"

static dcnn_status relu6_forward(void *self, dcnn_exec *exec, const dcnn_tensor *x, dcnn_tensor *y) {
  (void)self;
  const int64_t n = x->count, lanes = dcnn__pointwise_lanes(n, dcnn_exec_threads(exec));
  const float *src = x->data;
  float *dst = y->data;
#pragma omp parallel for num_threads((int)lanes) if (lanes > 1) schedule(static)
  for (int64_t lane = 0; lane < lanes; ++lane) {
    const int64_t first = n * lane / lanes, last = n * (lane + 1) / lanes;
    dcnn__relu6_forward(src + first, dst + first, last - first);
  }
  return DCNN_OK;
}

static dcnn_status relu6_backward(void *self, dcnn_exec *exec, const dcnn_tensor *x, const dcnn_tensor *y,
                                  const dcnn_tensor *dy, dcnn_tensor *dx) {
  (void)self;
  (void)x;
  if (!dx) return DCNN_OK;
  const int64_t n = y->count, lanes = dcnn__pointwise_lanes(n, dcnn_exec_threads(exec));
  const float *out = y->data, *g_out = dy->data;
  float *g_in = dx->data;
#pragma omp parallel for num_threads((int)lanes) if (lanes > 1) schedule(static)
  for (int64_t lane = 0; lane < lanes; ++lane) {
    const int64_t first = n * lane / lanes, last = n * (lane + 1) / lanes;
    dcnn__relu6_backward(out + first, g_out + first, g_in + first, last - first);
  }
  return DCNN_OK;
}

static const dcnn_layer_vtable relu6_vtable = {
    .abi_version = DCNN_LAYER_ABI_VERSION,
    .flags = DCNN_LAYER_SHARED_INFERENCE,
    .type_name = "relu6",
    .build = dcnn__elementwise_build,
    .forward = relu6_forward,
    .backward = relu6_backward,
    .destroy = dcnn__elementwise_destroy,
};

dcnn_status dcnn_relu6_create(dcnn_layer **out) {
  void *self;
  return dcnn__new_layer(&relu6_vtable, 1, out, &self);
}

/* The builtin table's factory (builtin_table.c): relu6 has no keys. */
dcnn_status dcnn__relu6_from_config(const char *config, void *user, dcnn_layer **out) {
  (void)user;
  const dcnn__kv kv = dcnn__kv_reader(config);
  DCNN_TRY(dcnn__kv_finish(&kv));
  return dcnn_relu6_create(out);
}
