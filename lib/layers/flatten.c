/* Flatten: (N, C, H, W) -> (N, C*H*W); the data is copied unchanged. */
#include <stdlib.h>
#include <string.h>

#include "layer_internal.h"

static dcnn_status flatten_build(void *self, dcnn_context *ctx, const dcnn_shape *in, dcnn_shape *out) {
  (void)self;
  (void)ctx;
  const int64_t count = dcnn_shape_count(in);
  char text[64];
  DCNN_CHECK(count > 0 && count <= INT32_MAX, DCNN_ERR_SHAPE_MISMATCH,
             "flatten: input %s has more than 2^31-1 values per sample", dcnn_shape_format(in, text, sizeof text));
  *out = dcnn_shape_make(2, 1, (int32_t)count, 0, 0);
  return DCNN_OK;
}

static dcnn_status flatten_forward(void *self, dcnn_exec *exec, const dcnn_tensor *x, dcnn_tensor *y) {
  (void)self;
  (void)exec;
  memcpy(y->data, x->data, (size_t)x->count * sizeof(float));
  return DCNN_OK;
}

static dcnn_status flatten_backward(void *self, dcnn_exec *exec, const dcnn_tensor *x, const dcnn_tensor *y,
                                    const dcnn_tensor *dy, dcnn_tensor *dx) {
  (void)self;
  (void)exec;
  (void)x;
  (void)y;
  if (dx) memcpy(dx->data, dy->data, (size_t)dy->count * sizeof(float));
  return DCNN_OK;
}

static void flatten_destroy(void *self) { dcnn__release(NULL, self); }

static const dcnn_layer_vtable flatten_vtable = {
    .abi_version = DCNN_LAYER_ABI_VERSION,
    .flags = DCNN_LAYER_SHARED_INFERENCE,
    .type_name = "flatten",
    .build = flatten_build,
    .forward = flatten_forward,
    .backward = flatten_backward,
    .destroy = flatten_destroy,
};

dcnn_status dcnn_flatten_create(dcnn_layer **out) {
  void *self;
  return dcnn__new_layer(&flatten_vtable, 1, out, &self);
}

/* The builtin table's factory (builtin_table.c): flatten has no keys. */
dcnn_status dcnn__flatten_from_config(const char *config, void *user, dcnn_layer **out) {
  (void)user;
  const dcnn__kv kv = dcnn__kv_reader(config);
  DCNN_TRY(dcnn__kv_finish(&kv));
  return dcnn_flatten_create(out);
}
