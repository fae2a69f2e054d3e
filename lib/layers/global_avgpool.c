/* Global average pooling: (N, C, H, W) -> (N, C), y = mean over H x W; dx = dy / (H W). */
#include <stdlib.h>

#include "layer_internal.h"

typedef struct global_avgpool {
  int32_t channels, plane;
} global_avgpool;

static dcnn_status gap_build(void *self, dcnn_context *ctx, const dcnn_shape *in, dcnn_shape *out) {
  (void)ctx;
  global_avgpool *l = self;
  char text[64];
  DCNN_CHECK(in->ndim == 4, DCNN_ERR_SHAPE_MISMATCH, "global_avgpool: expects (N, C, H, W) input, got %s",
             dcnn_shape_format(in, text, sizeof text));
  const int64_t plane = (int64_t)in->dims[2] * in->dims[3]; /* int64: a crafted shape must not overflow */
  DCNN_CHECK(plane <= INT32_MAX, DCNN_ERR_SHAPE_MISMATCH, "global_avgpool: input %s has planes of more than 2^31-1 values",
             dcnn_shape_format(in, text, sizeof text));
  l->channels = in->dims[1];
  l->plane = (int32_t)plane;
  *out = dcnn_shape_make(2, 1, l->channels, 0, 0);
  return DCNN_OK;
}

static dcnn_status gap_forward(void *self, dcnn_exec *exec, const dcnn_tensor *x, dcnn_tensor *y) {
  (void)exec;
  const global_avgpool *l = self;
  const int64_t planes = (int64_t)x->shape.dims[0] * l->channels;
  for (int64_t q = 0; q < planes; ++q) {
    const float *src = x->data + (int64_t)q * l->plane;
    float sum = 0.0f;
    for (int32_t p = 0; p < l->plane; ++p) sum += src[p];
    y->data[q] = sum / (float)l->plane;
  }
  return DCNN_OK;
}

static dcnn_status gap_backward(void *self, dcnn_exec *exec, const dcnn_tensor *x, const dcnn_tensor *y,
                                const dcnn_tensor *dy, dcnn_tensor *dx) {
  (void)exec;
  (void)y;
  if (!dx) return DCNN_OK;
  const global_avgpool *l = self;
  const int64_t planes = (int64_t)x->shape.dims[0] * l->channels;
  for (int64_t q = 0; q < planes; ++q) {
    const float share = dy->data[q] / (float)l->plane;
    float *dst = dx->data + (int64_t)q * l->plane;
    for (int32_t p = 0; p < l->plane; ++p) dst[p] = share;
  }
  return DCNN_OK;
}

static void gap_destroy(void *self) { dcnn__release(NULL, self); }

static const dcnn_layer_vtable gap_vtable = {
    .abi_version = DCNN_LAYER_ABI_VERSION,
    .flags = DCNN_LAYER_SHARED_INFERENCE,
    .type_name = "global_avgpool",
    .build = gap_build,
    .forward = gap_forward,
    .backward = gap_backward,
    .destroy = gap_destroy,
};

dcnn_status dcnn_global_avgpool_create(dcnn_layer **out) {
  global_avgpool *l;
  return dcnn__new_layer(&gap_vtable, sizeof *l, out, (void **)&l);
}
