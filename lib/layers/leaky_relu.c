/* Leaky ReLU: y = x if x > 0 else alpha * x; dx = dy if x > 0 else alpha * dy
 * (from the input, so any alpha works). Any shape. Keras' LeakyReLU, ONNX's
 * LeakyRelu. Made by name: dcnn_layer_from_config("leaky_relu", "alpha=0.01"). */
#include <math.h>
#include <stdio.h>

#include "../core/c_locale.h"
#include "../kernels/cpu.h"
#include "elementwise.h"

typedef struct leaky_relu {
  float alpha;
} leaky_relu;

/* y[i] = x[i] > 0 ? x[i] : alpha x[i]; x, y: (n). */
static DCNN_CPU_CLONES void leaky_forward_range(const float *restrict x, float *restrict y, int64_t n, float alpha) {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] > 0.0f ? x[i] : alpha * x[i];
}

/* dx[i] = x[i] > 0 ? dy[i] : alpha dy[i]; x, dy, dx: (n). */
static DCNN_CPU_CLONES void leaky_backward_range(const float *restrict x, const float *restrict y,
                                                 const float *restrict dy, float *restrict dx, int64_t n,
                                                 float alpha) {
  (void)y;
  for (int64_t i = 0; i < n; ++i) dx[i] = x[i] > 0.0f ? dy[i] : alpha * dy[i];
}

static const dcnn__elementwise_kernels leaky_kernels = {leaky_forward_range, leaky_backward_range};

static dcnn_status leaky_relu_forward(void *self, dcnn_exec *exec, const dcnn_tensor *x, dcnn_tensor *y) {
  return dcnn__elementwise_forward(&leaky_kernels, ((const leaky_relu *)self)->alpha, exec, x, y);
}

static dcnn_status leaky_relu_backward(void *self, dcnn_exec *exec, const dcnn_tensor *x, const dcnn_tensor *y,
                                       const dcnn_tensor *dy, dcnn_tensor *dx) {
  return dcnn__elementwise_backward(&leaky_kernels, ((const leaky_relu *)self)->alpha, exec, x, y, dy, dx);
}

static dcnn_status leaky_relu_describe(const void *self, char *buf, int32_t size) {
  char alpha[DCNN__NUMBER_BYTES]; /* 9 digits: a float round-trips */
  dcnn__format_double(alpha, sizeof alpha, 9, (double)((const leaky_relu *)self)->alpha);
  snprintf(buf, (size_t)size, "alpha=%s", alpha);
  return DCNN_OK;
}

static const dcnn_layer_vtable leaky_relu_vtable = {
    .abi_version = DCNN_LAYER_ABI_VERSION,
    .flags = DCNN_LAYER_SHARED_INFERENCE,
    .type_name = "leaky_relu",
    .build = dcnn__elementwise_build,
    .forward = leaky_relu_forward,
    .backward = leaky_relu_backward,
    .describe = leaky_relu_describe,
    .destroy = dcnn__elementwise_destroy,
};

/* The builtin table's factory (builtin_table.c): "alpha=<finite number>". */
dcnn_status dcnn__leaky_relu_from_config(const char *config, void *user, dcnn_layer **out) {
  (void)user;
  *out = NULL;
  dcnn__kv kv = dcnn__kv_reader(config);
  float alpha = 0;
  DCNN_TRY(dcnn__kv_float(&kv, "alpha", &alpha));
  DCNN_TRY(dcnn__kv_finish(&kv));
  leaky_relu *l;
  DCNN_TRY(dcnn__new_layer(&leaky_relu_vtable, sizeof *l, out, (void **)&l));
  l->alpha = alpha;
  return DCNN_OK;
}
