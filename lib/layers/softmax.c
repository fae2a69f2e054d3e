/* Softmax over the features of (N, K): y = exp(x - max) / sum(exp(x - max));
 * dx = y * (dy - sum(dy * y)). */
#include <math.h>
#include <stdlib.h>

#include "layer_internal.h"

static dcnn_status softmax_build(void *self, dcnn_context *ctx, const dcnn_shape *in, dcnn_shape *out) {
  (void)self;
  (void)ctx;
  char text[64];
  DCNN_CHECK(in->ndim == 2, DCNN_ERR_SHAPE_MISMATCH, "softmax: expects (N, K) input, got %s",
             dcnn_shape_format(in, text, sizeof text));
  *out = *in;
  return DCNN_OK;
}

static dcnn_status softmax_forward(void *self, dcnn_exec *exec, const dcnn_tensor *x, dcnn_tensor *y) {
  (void)self;
  (void)exec;
  const int32_t n = x->shape.dims[0], k = x->shape.dims[1];
  for (int32_t i = 0; i < n; ++i) {
    const float *z = x->data + (int64_t)i * k;
    float *p = y->data + (int64_t)i * k;
    float max = z[0];
    for (int32_t j = 1; j < k; ++j) max = z[j] > max ? z[j] : max;
    double sum = 0;
    for (int32_t j = 0; j < k; ++j) sum += (p[j] = expf(z[j] - max));
    const float inv = (float)(1.0 / sum);
    for (int32_t j = 0; j < k; ++j) p[j] *= inv;
  }
  return DCNN_OK;
}

static dcnn_status softmax_backward(void *self, dcnn_exec *exec, const dcnn_tensor *x, const dcnn_tensor *y,
                                    const dcnn_tensor *dy, dcnn_tensor *dx) {
  (void)self;
  (void)exec;
  (void)x;
  if (!dx) return DCNN_OK;
  const int32_t n = y->shape.dims[0], k = y->shape.dims[1];
  for (int32_t i = 0; i < n; ++i) {
    const float *p = y->data + (int64_t)i * k, *g = dy->data + (int64_t)i * k;
    float *d = dx->data + (int64_t)i * k;
    double dot = 0;
    for (int32_t j = 0; j < k; ++j) dot += (double)g[j] * p[j];
    for (int32_t j = 0; j < k; ++j) d[j] = p[j] * (g[j] - (float)dot);
  }
  return DCNN_OK;
}

static void softmax_destroy(void *self) { dcnn__release(NULL, self); }

static const dcnn_layer_vtable softmax_vtable = {
    .abi_version = DCNN_LAYER_ABI_VERSION,
    .flags = DCNN_LAYER_SHARED_INFERENCE,
    .type_name = "softmax",
    .build = softmax_build,
    .forward = softmax_forward,
    .backward = softmax_backward,
    .destroy = softmax_destroy,
};

dcnn_status dcnn_softmax_create(dcnn_layer **out) {
  void *self;
  return dcnn__new_layer(&softmax_vtable, 1, out, &self);
}

int dcnn__layer_is_softmax(const dcnn_layer *layer) { return layer && layer->vt == &softmax_vtable; }

/* The builtin table's factory (builtin_table.c): softmax has no keys. */
dcnn_status dcnn__softmax_from_config(const char *config, void *user, dcnn_layer **out) {
  (void)user;
  const dcnn__kv kv = dcnn__kv_reader(config);
  DCNN_TRY(dcnn__kv_finish(&kv));
  return dcnn_softmax_create(out);
}
