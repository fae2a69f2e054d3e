/* ReLU: y = max(x, 0); dx = dy * (y > 0). Any shape. */
#include <stdlib.h>

#include "layer_internal.h"

static dcnn_status relu_build(void *self, dcnn_context *ctx, const dcnn_shape *in, dcnn_shape *out) {
  (void)self;
  (void)ctx;
  *out = *in;
  return DCNN_OK;
}

static dcnn_status relu_forward(void *self, dcnn_exec *exec, const dcnn_tensor *x, dcnn_tensor *y) {
  (void)self;
  const int64_t n = x->count;
  const float *src = x->data;
  float *dst = y->data;
  const int32_t threads = dcnn_exec_threads(exec);
#pragma omp parallel for num_threads(threads) if (threads > 1 && n > 65536) schedule(static)
  for (int64_t i = 0; i < n; ++i) dst[i] = src[i] < 0.0f ? 0.0f : src[i]; /* a NaN passes, to the output check */
  return DCNN_OK;
}

static dcnn_status relu_backward(void *self, dcnn_exec *exec, const dcnn_tensor *x, const dcnn_tensor *y,
                                 const dcnn_tensor *dy, dcnn_tensor *dx) {
  (void)self;
  (void)x;
  if (!dx) return DCNN_OK;
  const int64_t n = y->count;
  const float *out = y->data, *g = dy->data;
  float *dst = dx->data;
  const int32_t threads = dcnn_exec_threads(exec);
#pragma omp parallel for num_threads(threads) if (threads > 1 && n > 65536) schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    float gv = g[i]; /* loaded unconditionally so the select vectorises */
    dst[i] = out[i] > 0.0f ? gv : 0.0f;
  }
  return DCNN_OK;
}

static void relu_destroy(void *self) { dcnn__release(NULL, self); }

static const dcnn_layer_vtable relu_vtable = {
    .abi_version = DCNN_LAYER_ABI_VERSION,
    .flags = DCNN_LAYER_SHARED_INFERENCE,
    .type_name = "relu",
    .build = relu_build,
    .forward = relu_forward,
    .backward = relu_backward,
    .destroy = relu_destroy,
};

dcnn_status dcnn_relu_create(dcnn_layer **out) {
  void *self;
  return dcnn__new_layer(&relu_vtable, 1, out, &self);
}

/* The builtin table's factory (builtin_table.c): relu has no keys. */
dcnn_status dcnn__relu_from_config(const char *config, void *user, dcnn_layer **out) {
  (void)user;
  const dcnn__kv kv = dcnn__kv_reader(config);
  DCNN_TRY(dcnn__kv_finish(&kv));
  return dcnn_relu_create(out);
}
