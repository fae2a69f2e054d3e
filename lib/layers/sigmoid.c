/* sigmoid: y = 1 / (1 + e^-x); dy/dx = y (1 - y) (kernels/activations.c). */
#include "../kernels/activations.h"
#include "elementwise.h"

static void sigmoid_range_forward(const float *x, float *y, int64_t n, float param) {
  (void)param;
  dcnn__sigmoid_forward(x, y, n);
}

static void sigmoid_range_backward(const float *x, const float *y, const float *dy, float *dx, int64_t n, float param) {
  (void)x;
  (void)param;
  dcnn__sigmoid_backward(y, dy, dx, n);
}

static const dcnn__elementwise_kernels sigmoid_kernels = {sigmoid_range_forward, sigmoid_range_backward};

static dcnn_status sigmoid_forward(void *self, dcnn_exec *exec, const dcnn_tensor *x, dcnn_tensor *y) {
  (void)self;
  return dcnn__elementwise_forward(&sigmoid_kernels, 0.0f, exec, x, y);
}

static dcnn_status sigmoid_backward(void *self, dcnn_exec *exec, const dcnn_tensor *x, const dcnn_tensor *y,
                                    const dcnn_tensor *dy, dcnn_tensor *dx) {
  (void)self;
  return dcnn__elementwise_backward(&sigmoid_kernels, 0.0f, exec, x, y, dy, dx);
}

static const dcnn_layer_vtable sigmoid_vtable = {
    .abi_version = DCNN_LAYER_ABI_VERSION,
    .flags = DCNN_LAYER_SHARED_INFERENCE,
    .type_name = "sigmoid",
    .build = dcnn__elementwise_build,
    .forward = sigmoid_forward,
    .backward = sigmoid_backward,
    .destroy = dcnn__elementwise_destroy,
};

dcnn_status dcnn_sigmoid_create(dcnn_layer **out) {
  void *self;
  return dcnn__new_layer(&sigmoid_vtable, 1, out, &self);
}

/* The builtin table's factory (builtin_table.c): sigmoid has no keys. */
dcnn_status dcnn__sigmoid_from_config(const char *config, void *user, dcnn_layer **out) {
  (void)user;
  const dcnn__kv kv = dcnn__kv_reader(config);
  DCNN_TRY(dcnn__kv_finish(&kv));
  return dcnn_sigmoid_create(out);
}
