/* Depthwise Conv2D: each input channel convolved with its own k x k filter.
 * Shapes: x (N, C, H, W), W (C, 1, k, k), y (N, C, OH, OW). Direct loops: a
 * depthwise filter is too small for a GEMM to pay. dW sums over the batch per
 * channel (each channel reduced by one thread, in image order). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/kernels.h"
#include "layer_internal.h"

typedef struct depthwise {
  int32_t kernel, stride;
  dcnn_padding padding;
  int use_bias;
  dcnn_conv_geometry geometry;
  dcnn_tensor *weight, *weight_grad, *bias, *bias_grad;
} depthwise;

static dcnn_status dw_build(void *self, dcnn_context *ctx, const dcnn_shape *in, dcnn_shape *out) {
  depthwise *l = self;
  DCNN_TRY(dcnn__window_geometry("depthwise_conv2d", in, l->kernel, l->stride, l->padding, &l->geometry));
  const dcnn_conv_geometry *g = &l->geometry;
  const char *name = "depthwise_conv2d";
  DCNN_TRY(dcnn__param_tensor(ctx, &l->weight, name, "kernel", 4, g->channels, 1, l->kernel, l->kernel));
  DCNN_TRY(dcnn__param_tensor(ctx, &l->weight_grad, name, "kernel", 4, g->channels, 1, l->kernel, l->kernel));
  if (l->use_bias) {
    DCNN_TRY(dcnn__param_tensor(ctx, &l->bias, name, "bias", 1, g->channels, 0, 0, 0));
    DCNN_TRY(dcnn__param_tensor(ctx, &l->bias_grad, name, "bias", 1, g->channels, 0, 0, 0));
  }
  *out = dcnn_shape_make(4, 1, g->channels, g->out_height, g->out_width);
  return DCNN_OK;
}

static dcnn_status dw_forward(void *self, dcnn_exec *exec, const dcnn_tensor *x, dcnn_tensor *y) {
  const depthwise *l = self;
  const dcnn_conv_geometry *g = &l->geometry;
  const int32_t c_n = g->channels, k = g->kernel, planes = x->shape.dims[0] * c_n, threads = dcnn_exec_threads(exec);
  const int64_t in_plane = (int64_t)g->height * g->width, out_plane = (int64_t)g->out_height * g->out_width;
#pragma omp parallel for num_threads(threads) if (threads > 1) schedule(static)
  for (int32_t q = 0; q < planes; ++q) {
    const int32_t c = q % c_n;
    const float *src = x->data + q * in_plane, *w = l->weight->data + (int64_t)c * k * k;
    float *dst = y->data + q * out_plane;
    const float b = l->use_bias ? l->bias->data[c] : 0.0f;
    for (int32_t oh = 0; oh < g->out_height; ++oh)
      for (int32_t ow = 0; ow < g->out_width; ++ow) {
        float sum = b;
        for (int32_t ki = 0; ki < k; ++ki) {
          const int32_t iy = oh * g->stride - g->pad_top + ki;
          if (iy < 0 || iy >= g->height) continue;
          for (int32_t kj = 0; kj < k; ++kj) {
            const int32_t ix = ow * g->stride - g->pad_left + kj;
            if (ix >= 0 && ix < g->width) sum += w[ki * k + kj] * src[iy * g->width + ix];
          }
        }
        dst[oh * g->out_width + ow] = sum;
      }
  }
  return DCNN_OK;
}

static dcnn_status dw_backward(void *self, dcnn_exec *exec, const dcnn_tensor *x, const dcnn_tensor *y,
                               const dcnn_tensor *dy, dcnn_tensor *dx) {
  (void)y;
  depthwise *l = self;
  const dcnn_conv_geometry *g = &l->geometry;
  const int32_t c_n = g->channels, k = g->kernel, n = x->shape.dims[0], threads = dcnn_exec_threads(exec);
  const int64_t in_plane = (int64_t)g->height * g->width, out_plane = (int64_t)g->out_height * g->out_width;
  /* One thread per channel: its weight gradient and its input-gradient planes. */
#pragma omp parallel for num_threads(threads) if (threads > 1) schedule(static)
  for (int32_t c = 0; c < c_n; ++c) {
    const float *w = l->weight->data + (int64_t)c * k * k;
    float *dw = l->weight_grad->data + (int64_t)c * k * k, db = 0.0f;
    for (int32_t i = 0; i < k * k; ++i) dw[i] = 0.0f;
    for (int32_t i = 0; i < n; ++i) {
      const int64_t q = (int64_t)i * c_n + c;
      const float *src = x->data + q * in_plane, *g_out = dy->data + q * out_plane;
      float *g_in = dx ? dx->data + q * in_plane : NULL;
      if (g_in) memset(g_in, 0, (size_t)in_plane * sizeof(float));
      for (int32_t oh = 0; oh < g->out_height; ++oh)
        for (int32_t ow = 0; ow < g->out_width; ++ow) {
          const float go = g_out[oh * g->out_width + ow];
          db += go;
          for (int32_t ki = 0; ki < k; ++ki) {
            const int32_t iy = oh * g->stride - g->pad_top + ki;
            if (iy < 0 || iy >= g->height) continue;
            for (int32_t kj = 0; kj < k; ++kj) {
              const int32_t ix = ow * g->stride - g->pad_left + kj;
              if (ix < 0 || ix >= g->width) continue;
              dw[ki * k + kj] += go * src[iy * g->width + ix];
              if (g_in) g_in[iy * g->width + ix] += go * w[ki * k + kj];
            }
          }
        }
    }
    if (l->use_bias) l->bias_grad->data[c] = db;
  }
  return DCNN_OK;
}

static int32_t dw_param_count(const void *self) { return ((const depthwise *)self)->use_bias ? 2 : 1; }

static dcnn_status dw_param(void *self, int32_t index, dcnn_param *out) {
  depthwise *l = self;
  if (index == 0)
    *out = (dcnn_param){"kernel", l->weight, l->weight_grad, DCNN_PARAM_TRAINABLE};
  else
    *out = (dcnn_param){"bias", l->bias, l->bias_grad, DCNN_PARAM_TRAINABLE | DCNN_PARAM_NO_DECAY};
  return DCNN_OK;
}

static dcnn_status dw_init(void *self, uint64_t seed) {
  depthwise *l = self;
  const int64_t area = (int64_t)l->kernel * l->kernel;
  DCNN_TRY(dcnn_tensor_init(l->weight, DCNN_INIT_GLOROT_UNIFORM, area, area, seed, 0));
  if (l->use_bias) DCNN_TRY(dcnn_tensor_fill(l->bias, 0.0f));
  return DCNN_OK;
}

static dcnn_status dw_describe(const void *self, char *buf, int32_t size) {
  const depthwise *l = self;
  snprintf(buf, (size_t)size, "kernel=%d stride=%d padding=%s bias=%d", (int)l->kernel, (int)l->stride,
           l->padding == DCNN_PADDING_SAME ? "same" : "valid", l->use_bias);
  return DCNN_OK;
}

static int64_t dw_flops(const void *self) {
  const depthwise *l = self;
  const dcnn_conv_geometry *g = &l->geometry;
  return (int64_t)g->channels * g->out_height * g->out_width * g->kernel * g->kernel;
}

static void dw_destroy(void *self) {
  depthwise *l = self;
  dcnn_tensor_destroy(l->weight);
  dcnn_tensor_destroy(l->weight_grad);
  dcnn_tensor_destroy(l->bias);
  dcnn_tensor_destroy(l->bias_grad);
  dcnn__release(NULL, l); /* dcnn__new_layer */
}

static const dcnn_layer_vtable dw_vtable = {
    .abi_version = DCNN_LAYER_ABI_VERSION,
    .flags = DCNN_LAYER_SHARED_INFERENCE,
    .type_name = "depthwise_conv2d",
    .build = dw_build,
    .forward = dw_forward,
    .backward = dw_backward,
    .param_count = dw_param_count,
    .param = dw_param,
    .init_params = dw_init,
    .describe = dw_describe,
    .flops = dw_flops,
    .destroy = dw_destroy,
};

dcnn_status dcnn_depthwise_conv2d_create(int32_t kernel, int32_t stride, dcnn_padding padding, int use_bias,
                                         dcnn_layer **out) {
  DCNN_CHECK_ARG(out);
  *out = NULL;
  DCNN_CHECK(kernel >= 1 && stride >= 1, DCNN_ERR_INVALID_ARGUMENT,
             "depthwise_conv2d: kernel (%d) and stride (%d) must be at least 1", (int)kernel, (int)stride);
  DCNN_CHECK(padding == DCNN_PADDING_SAME || padding == DCNN_PADDING_VALID, DCNN_ERR_INVALID_ARGUMENT,
             "depthwise_conv2d: unknown padding %d", (int)padding);
  depthwise *l;
  DCNN_TRY(dcnn__new_layer(&dw_vtable, sizeof *l, out, (void **)&l));
  l->kernel = kernel;
  l->stride = stride;
  l->padding = padding;
  l->use_bias = use_bias != 0;
  return DCNN_OK;
}
