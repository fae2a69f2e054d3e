/* tanh: y = tanh(x); dy/dx = 1 - y^2 (kernels/activations.c). */
#include "../kernels/activations.h"
#include "elementwise.h"

static void tanh_range_forward(const float *x, float *y, int64_t n, float param) {
  (void)param;
  dcnn__tanh_forward(x, y, n);
}

static void tanh_range_backward(const float *x, const float *y, const float *dy, float *dx, int64_t n, float param) {
  (void)x;
  (void)param;
  dcnn__tanh_backward(y, dy, dx, n);
}

static const dcnn__elementwise_kernels tanh_kernels = {tanh_range_forward, tanh_range_backward};

static dcnn_status tanh_forward(void *self, dcnn_exec *exec, const dcnn_tensor *x, dcnn_tensor *y) {
  (void)self;
  return dcnn__elementwise_forward(&tanh_kernels, 0.0f, exec, x, y);
}

static dcnn_status tanh_backward(void *self, dcnn_exec *exec, const dcnn_tensor *x, const dcnn_tensor *y,
                                 const dcnn_tensor *dy, dcnn_tensor *dx) {
  (void)self;
  return dcnn__elementwise_backward(&tanh_kernels, 0.0f, exec, x, y, dy, dx);
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
