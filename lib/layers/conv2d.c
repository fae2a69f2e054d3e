/* Conv2D: y = W * x (+ b) via batched im2col and one SGEMM per batch.
 * Shapes: x (N, C, H, W), W (F, C, k, k), y (N, F, OH, OW).
 * Workspace: col (C*k*k, N*OH*OW) and ymat (F, N*OH*OW). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/kernels.h"
#include "layer_internal.h"

typedef struct conv2d {
  int32_t filters, kernel, stride;
  dcnn_padding padding;
  int use_bias;
  dcnn_conv_geometry geometry; /* batch set per call */
  dcnn_tensor *weight, *weight_grad, *bias, *bias_grad;
} conv2d;

static dcnn_status conv2d_build(void *self, dcnn_context *ctx, const dcnn_shape *in, dcnn_shape *out) {
  conv2d *l = self;
  char text[64];
  DCNN_CHECK(in->ndim == 4, DCNN_ERR_SHAPE_MISMATCH, "conv2d: expects (N, C, H, W) input, got %s",
             dcnn_shape_format(in, text, sizeof text));
  dcnn_conv_geometry *g = &l->geometry;
  g->channels = in->dims[1];
  g->height = in->dims[2];
  g->width = in->dims[3];
  g->kernel = l->kernel;
  g->stride = l->stride;
  int same = l->padding == DCNN_PADDING_SAME;
  DCNN_CHECK(dcnn__window_extent(g->height, l->kernel, l->stride, same, &g->out_height, &g->pad_top) &&
                 dcnn__window_extent(g->width, l->kernel, l->stride, same, &g->out_width, &g->pad_left),
             DCNN_ERR_SHAPE_MISMATCH, "conv2d: a %dx%d kernel with 'valid' padding does not fit input %s",
             (int)l->kernel, (int)l->kernel, dcnn_shape_format(in, text, sizeof text));
  const char *name = "conv2d";
  DCNN_TRY(dcnn__param_tensor(ctx, &l->weight, name, "kernel", 4, l->filters, g->channels, l->kernel, l->kernel));
  DCNN_TRY(dcnn__param_tensor(ctx, &l->weight_grad, name, "kernel", 4, l->filters, g->channels, l->kernel, l->kernel));
  if (l->use_bias) {
    DCNN_TRY(dcnn__param_tensor(ctx, &l->bias, name, "bias", 1, l->filters, 0, 0, 0));
    DCNN_TRY(dcnn__param_tensor(ctx, &l->bias_grad, name, "bias", 1, l->filters, 0, 0, 0));
  }
  *out = dcnn_shape_make(4, 1, l->filters, g->out_height, g->out_width);
  return DCNN_OK;
}

static int64_t conv2d_workspace(const void *self, int32_t max_batch) {
  const conv2d *l = self;
  const dcnn_conv_geometry *g = &l->geometry;
  int64_t columns = (int64_t)max_batch * g->out_height * g->out_width;
  int64_t rows = (int64_t)g->channels * g->kernel * g->kernel;
  return (rows + l->filters) * columns * (int64_t)sizeof(float);
}

static dcnn_status conv2d_forward(void *self, dcnn_exec *exec, const dcnn_tensor *x, dcnn_tensor *y) {
  conv2d *l = self;
  dcnn_conv_geometry g = l->geometry;
  g.batch = x->shape.dims[0];
  const int32_t threads = dcnn_exec_threads(exec);
  const int32_t rows = g.channels * g.kernel * g.kernel, plane = g.out_height * g.out_width;
  const int32_t columns = g.batch * plane;
  float *col = dcnn_exec_workspace(exec, NULL);
  float *ymat = col + (int64_t)rows * columns;
  dcnn__im2col(threads, &g, x->data, col);
  /* ymat (F, N*P) = W (F, K) col (K, N*P) */
  dcnn__sgemm(threads, 0, 0, l->filters, columns, rows, 1.0f, l->weight->data, rows, col, columns, 0.0f, ymat,
              columns);
  dcnn__cnp_to_nchw(threads, ymat, g.batch, l->filters, plane, y->data);
  if (l->use_bias) {
    const float *b = l->bias->data;
#pragma omp parallel for num_threads(threads) if (threads > 1) schedule(static)
    for (int32_t n = 0; n < g.batch; ++n)
      for (int32_t f = 0; f < l->filters; ++f) {
        float *dst = y->data + ((int64_t)n * l->filters + f) * plane;
        for (int32_t p = 0; p < plane; ++p) dst[p] += b[f];
      }
  }
  return DCNN_OK;
}

static dcnn_status conv2d_backward(void *self, dcnn_exec *exec, const dcnn_tensor *x, const dcnn_tensor *y,
                                   const dcnn_tensor *dy, dcnn_tensor *dx) {
  (void)y;
  conv2d *l = self;
  dcnn_conv_geometry g = l->geometry;
  g.batch = x->shape.dims[0];
  const int32_t threads = dcnn_exec_threads(exec);
  const int32_t rows = g.channels * g.kernel * g.kernel, plane = g.out_height * g.out_width;
  const int32_t columns = g.batch * plane;
  float *col = dcnn_exec_workspace(exec, NULL);
  float *dymat = col + (int64_t)rows * columns;
  dcnn__nchw_to_cnp(threads, dy->data, g.batch, l->filters, plane, dymat);
  dcnn__im2col(threads, &g, x->data, col);
  /* dW (F, K) = dymat (F, N*P) col^T */
  dcnn__sgemm(threads, 0, 1, l->filters, rows, columns, 1.0f, dymat, columns, col, columns, 0.0f,
              l->weight_grad->data, rows);
  if (l->use_bias) {
    float *db = l->bias_grad->data;
#pragma omp parallel for num_threads(threads) if (threads > 1) schedule(static)
    for (int32_t f = 0; f < l->filters; ++f) {
      const float *row = dymat + (int64_t)f * columns;
      float sum = 0.0f;
      for (int32_t i = 0; i < columns; ++i) sum += row[i];
      db[f] = sum;
    }
  }
  if (dx) {
    /* dcol (K, N*P) = W^T dymat, reusing the col buffer; then scatter back to pixels. */
    dcnn__sgemm(threads, 1, 0, rows, columns, l->filters, 1.0f, l->weight->data, rows, dymat, columns, 0.0f, col,
                columns);
    dcnn__col2im(threads, &g, col, dx->data);
  }
  return DCNN_OK;
}

static int32_t conv2d_param_count(const void *self) { return ((const conv2d *)self)->use_bias ? 2 : 1; }

static dcnn_status conv2d_param(void *self, int32_t index, dcnn_param *out) {
  conv2d *l = self;
  if (index == 0)
    *out = (dcnn_param){"kernel", l->weight, l->weight_grad, DCNN_PARAM_TRAINABLE};
  else
    *out = (dcnn_param){"bias", l->bias, l->bias_grad, DCNN_PARAM_TRAINABLE | DCNN_PARAM_NO_DECAY};
  return DCNN_OK;
}

static dcnn_status conv2d_init(void *self, uint64_t seed) {
  conv2d *l = self;
  int64_t area = (int64_t)l->kernel * l->kernel;
  DCNN_TRY(dcnn_tensor_init(l->weight, DCNN_INIT_GLOROT_UNIFORM, l->geometry.channels * area, l->filters * area,
                            seed, 0));
  if (l->use_bias) DCNN_TRY(dcnn_tensor_fill(l->bias, 0.0f));
  return DCNN_OK;
}

static dcnn_status conv2d_describe(const void *self, char *buf, int32_t size) {
  const conv2d *l = self;
  snprintf(buf, (size_t)size, "filters=%d kernel=%d stride=%d padding=%s bias=%d", (int)l->filters,
           (int)l->kernel, (int)l->stride, l->padding == DCNN_PADDING_SAME ? "same" : "valid", l->use_bias);
  return DCNN_OK;
}

static int64_t conv2d_flops(const void *self) {
  const conv2d *l = self;
  const dcnn_conv_geometry *g = &l->geometry;
  return (int64_t)l->filters * g->out_height * g->out_width * g->channels * g->kernel * g->kernel;
}

static void conv2d_destroy(void *self) {
  conv2d *l = self;
  dcnn_tensor_destroy(l->weight);
  dcnn_tensor_destroy(l->weight_grad);
  dcnn_tensor_destroy(l->bias);
  dcnn_tensor_destroy(l->bias_grad);
  free(l);
}

static const dcnn_layer_vtable conv2d_vtable = {
    .abi_version = DCNN_LAYER_ABI_VERSION,
    .type_name = "conv2d",
    .build = conv2d_build,
    .workspace_size = conv2d_workspace,
    .forward = conv2d_forward,
    .backward = conv2d_backward,
    .param_count = conv2d_param_count,
    .param = conv2d_param,
    .init_params = conv2d_init,
    .describe = conv2d_describe,
    .flops = conv2d_flops,
    .destroy = conv2d_destroy,
};

dcnn_status dcnn_conv2d_create(int32_t filters, int32_t kernel, int32_t stride, dcnn_padding padding, int use_bias,
                               dcnn_layer **out) {
  DCNN_CHECK_ARG(out);
  *out = NULL;
  DCNN_CHECK(filters >= 1 && kernel >= 1 && stride >= 1, DCNN_ERR_INVALID_ARGUMENT,
             "conv2d: filters (%d), kernel (%d) and stride (%d) must be at least 1", (int)filters, (int)kernel,
             (int)stride);
  DCNN_CHECK(padding == DCNN_PADDING_SAME || padding == DCNN_PADDING_VALID, DCNN_ERR_INVALID_ARGUMENT,
             "conv2d: unknown padding %d", (int)padding);
  conv2d *l;
  DCNN_TRY(dcnn__new_layer(&conv2d_vtable, sizeof *l, out, (void **)&l));
  l->filters = filters;
  l->kernel = kernel;
  l->stride = stride;
  l->padding = padding;
  l->use_bias = use_bias != 0;
  return DCNN_OK;
}
