/* Dense: y = x W + b. Shapes: x (N, I), W (I, U), b (U), y (N, U).
 * dW = x^T dy, db = sum_n dy, dx = dy W^T. */
#include <stdio.h>
#include <stdlib.h>

#include "../kernels/kernels.h"
#include "layer_internal.h"
#include "weight_bias.h"

typedef struct dense {
  int32_t inputs, units;
  int use_bias;
  dcnn_tensor *weight, *weight_grad, *bias, *bias_grad;
} dense;

/* The kernel and bias as weight_bias.c sees them. */
static dcnn__weight_bias dense_tensors(dense *l) {
  return (dcnn__weight_bias){&l->weight, &l->weight_grad, &l->bias, &l->bias_grad, l->use_bias};
}

static dcnn_status dense_build(void *self, dcnn_context *ctx, const dcnn_shape *in, dcnn_shape *out) {
  dense *l = self;
  char text[64];
  DCNN_CHECK(in->ndim == 2, DCNN_ERR_SHAPE_MISMATCH,
             "dense: expects (N, features) input, got %s (add a flatten layer before it)",
             dcnn_shape_format(in, text, sizeof text));
  l->inputs = in->dims[1];
  const int32_t kernel_dims[4] = {l->inputs, l->units, 0, 0};
  DCNN_TRY(dcnn__weight_bias_build(dense_tensors(l), ctx, "dense", l->units, 2, kernel_dims));
  *out = dcnn_shape_make(2, 1, l->units, 0, 0);
  return DCNN_OK;
}

static dcnn_status dense_forward(void *self, dcnn_exec *exec, const dcnn_tensor *x, dcnn_tensor *y) {
  dense *l = self;
  const int32_t n = x->shape.dims[0], threads = dcnn_exec_threads(exec);
  DCNN_TRY(dcnn__sgemm(threads, 0, 0, n, l->units, l->inputs, 1.0f, x->data, l->inputs, l->weight->data, l->units,
                       0.0f, y->data, l->units));
  if (l->use_bias)
    for (int32_t i = 0; i < n; ++i)
      for (int32_t u = 0; u < l->units; ++u) y->data[(int64_t)i * l->units + u] += l->bias->data[u];
  return DCNN_OK;
}

static dcnn_status dense_backward(void *self, dcnn_exec *exec, const dcnn_tensor *x, const dcnn_tensor *y,
                                  const dcnn_tensor *dy, dcnn_tensor *dx) {
  (void)y;
  dense *l = self;
  const int32_t n = x->shape.dims[0], threads = dcnn_exec_threads(exec);
  const double t0 = dcnn__exec_clock(exec); /* profiled: the weight part's seconds go to the split */
  DCNN_TRY(dcnn__sgemm(threads, 1, 0, l->inputs, l->units, n, 1.0f, x->data, l->inputs, dy->data, l->units, 0.0f,
                       l->weight_grad->data, l->units));
  if (l->use_bias) {
    float *db = l->bias_grad->data;
    for (int32_t u = 0; u < l->units; ++u) db[u] = 0.0f;
    for (int32_t i = 0; i < n; ++i)
      for (int32_t u = 0; u < l->units; ++u) db[u] += dy->data[(int64_t)i * l->units + u];
  }
  dcnn__exec_add_weight_seconds(exec, dcnn__exec_clock(exec) - t0);
  if (dx)
    DCNN_TRY(dcnn__sgemm(threads, 0, 1, n, l->inputs, l->units, 1.0f, dy->data, l->units, l->weight->data, l->units,
                         0.0f, dx->data, l->inputs));
  return DCNN_OK;
}

static int32_t dense_param_count(const void *self) { return ((const dense *)self)->use_bias ? 2 : 1; }

static dcnn_status dense_param(void *self, int32_t index, dcnn_param *out) {
  return dcnn__weight_bias_param(dense_tensors(self), index, out);
}

static dcnn_status dense_init(void *self, uint64_t seed) {
  dense *l = self;
  return dcnn__weight_bias_init(dense_tensors(l), l->inputs, l->units, seed);
}

static dcnn_status dense_describe(const void *self, char *buf, int32_t size) {
  const dense *l = self;
  snprintf(buf, (size_t)size, "units=%d bias=%d", (int)l->units, l->use_bias);
  return DCNN_OK;
}

static int64_t dense_flops(const void *self) {
  const dense *l = self;
  return (int64_t)l->inputs * l->units;
}

static void dense_destroy(void *self) {
  dense *l = self;
  dcnn__weight_bias_destroy(dense_tensors(l));
  dcnn__release(NULL, l); /* dcnn__new_layer */
}

static const dcnn_layer_vtable dense_vtable = {
    .abi_version = DCNN_LAYER_ABI_VERSION,
    .flags = DCNN_LAYER_SHARED_INFERENCE,
    .type_name = "dense",
    .build = dense_build,
    .forward = dense_forward,
    .backward = dense_backward,
    .param_count = dense_param_count,
    .param = dense_param,
    .init_params = dense_init,
    .describe = dense_describe,
    .flops = dense_flops,
    .destroy = dense_destroy,
};

dcnn_status dcnn_dense_create(int32_t units, dcnn_bias_mode bias, dcnn_layer **out) {
  DCNN_CHECK_ARG(out);
  *out = NULL;
  DCNN_CHECK(units >= 1 && units <= DCNN__CONFIG_SIZE_LIMIT, DCNN_ERR_INVALID_ARGUMENT,
             "dense: units (%d) must be 1..%d (what a model file holds)", (int)units, DCNN__CONFIG_SIZE_LIMIT);
  DCNN_CHECK(bias == DCNN_NO_BIAS || bias == DCNN_WITH_BIAS, DCNN_ERR_INVALID_ARGUMENT,
             "dense: unknown bias mode %d (DCNN_NO_BIAS or DCNN_WITH_BIAS)", (int)bias);
  dense *l;
  DCNN_TRY(dcnn__new_layer(&dense_vtable, sizeof *l, out, (void **)&l));
  l->units = units;
  l->use_bias = bias == DCNN_WITH_BIAS;
  return DCNN_OK;
}

/* The builtin table's factory (builtin_table.c): the keys dense_describe writes. */
dcnn_status dcnn__dense_from_config(const char *config, void *user, dcnn_layer **out) {
  (void)user;
  dcnn__kv kv = dcnn__kv_reader(config);
  int32_t units = 0, bias = 0;
  DCNN_TRY(dcnn__kv_int(&kv, "units", 1, DCNN__CONFIG_SIZE_LIMIT, &units));
  DCNN_TRY(dcnn__kv_int(&kv, "bias", 0, 1, &bias));
  DCNN_TRY(dcnn__kv_finish(&kv));
  return dcnn_dense_create(units, bias ? DCNN_WITH_BIAS : DCNN_NO_BIAS, out);
}
