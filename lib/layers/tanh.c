/* tanh: y = tanh(x); dy/dx = 1 - y^2. */
#include <math.h>

#include "elementwise.h"

static float tanh_f(float x) { return tanhf(x); }
static float tanh_d(float y, float x) {
  (void)x;
  return 1.0f - y * y;
}

static const dcnn_elementwise_ops tanh_ops = {tanh_f, tanh_d};

static dcnn_status tanh_forward(void *self, dcnn_exec *exec, const dcnn_tensor *x, dcnn_tensor *y) {
  (void)self;
  return dcnn__elementwise_forward(&tanh_ops, exec, x, y);
}

static dcnn_status tanh_backward(void *self, dcnn_exec *exec, const dcnn_tensor *x, const dcnn_tensor *y,
                                  const dcnn_tensor *dy, dcnn_tensor *dx) {
  (void)self;
  return dcnn__elementwise_backward(&tanh_ops, exec, x, y, dy, dx);
}

static const dcnn_layer_vtable tanh_vtable = {
    .abi_version = DCNN_LAYER_ABI_VERSION,
    .flags = DCNN_LAYER_SHARED_INFERENCE,
    .type_name = "tanh",
    .build = dcnn__elementwise_build,
    .forward = tanh_forward,
    .backward = tanh_backward,
    .destroy = dcnn__elementwise_destroy,
};

dcnn_status dcnn_tanh_create(dcnn_layer **out) {
  void *self;
  return dcnn__new_layer(&tanh_vtable, 1, out, &self);
}

/* The builtin table's factory (builtin_table.c): tanh has no keys. */
dcnn_status dcnn__tanh_from_config(const char *config, void *user, dcnn_layer **out) {
  (void)user;
  const dcnn__kv kv = dcnn__kv_reader(config);
  DCNN_TRY(dcnn__kv_finish(&kv));
  return dcnn_tanh_create(out);
}
