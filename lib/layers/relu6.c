/* ReLU6: y = min(max(x, 0), 6); dy/dx = 1 inside (0, 6), read from y (the
 * same set: y is in (0, 6) exactly when x is). Vectorised kernels
 * (kernels/activations.c), split over the threads when the tensor is large. */
#include "../kernels/activations.h"
#include "elementwise.h"

static void relu6_range_forward(const float *x, float *y, int64_t n, float param) {
  (void)param;
  dcnn__relu6_forward(x, y, n);
}

static void relu6_range_backward(const float *x, const float *y, const float *dy, float *dx, int64_t n, float param) {
  (void)x;
  (void)param;
  dcnn__relu6_backward(y, dy, dx, n);
}

static const dcnn__elementwise_kernels relu6_kernels = {relu6_range_forward, relu6_range_backward};

static dcnn_status relu6_forward(void *self, dcnn_exec *exec, const dcnn_tensor *x, dcnn_tensor *y) {
  (void)self;
  return dcnn__elementwise_forward(&relu6_kernels, 0.0f, exec, x, y);
}

static dcnn_status relu6_backward(void *self, dcnn_exec *exec, const dcnn_tensor *x, const dcnn_tensor *y,
                                  const dcnn_tensor *dy, dcnn_tensor *dx) {
  (void)self;
  return dcnn__elementwise_backward(&relu6_kernels, 0.0f, exec, x, y, dy, dx);
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
