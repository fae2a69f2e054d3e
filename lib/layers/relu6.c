/* ReLU6: y = min(max(x, 0), 6); dy/dx = 1 inside (0, 6). */
#include <math.h>

#include "elementwise.h"

static float relu6_f(float x) { return x < 0.0f ? 0.0f : x > 6.0f ? 6.0f : x; }
static float relu6_d(float y, float x) {
  (void)y;
  return (x > 0.0f && x < 6.0f) ? 1.0f : 0.0f;
}

static const dcnn_elementwise_ops relu6_ops = {relu6_f, relu6_d};

static dcnn_status relu6_forward(void *self, dcnn_exec *exec, const dcnn_tensor *x, dcnn_tensor *y) {
  (void)self;
  return dcnn__elementwise_forward(&relu6_ops, exec, x, y);
}

static dcnn_status relu6_backward(void *self, dcnn_exec *exec, const dcnn_tensor *x, const dcnn_tensor *y,
                                  const dcnn_tensor *dy, dcnn_tensor *dx) {
  (void)self;
  return dcnn__elementwise_backward(&relu6_ops, exec, x, y, dy, dx);
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
