/* Depthwise Conv2D: each input channel convolved with its own k x k filter.
 * Shapes: x (N, C, H, W), W (C, 1, k, k), y (N, C, OH, OW). Direct vectorised
 * kernels (kernels/depthwise.c): a depthwise filter is too small for a GEMM to
 * pay. Work is split over the (image, channel) planes; dW is summed per
 * channel from per-plane partials in image order, so the bits do not depend
 * on the thread count. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/depthwise.h"
#include "layer_internal.h"

typedef struct depthwise {
  dcnn_context *ctx;
  int32_t kernel, stride;
  dcnn_padding padding;
  int use_bias;
  dcnn_conv_geometry geometry;
  dcnn_tensor *weight, *weight_grad, *bias, *bias_grad;
} depthwise;

static dcnn_status dw_build(void *self, dcnn_context *ctx, const dcnn_shape *in, dcnn_shape *out) {
  depthwise *l = self;
  l->ctx = ctx;
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

/* Planes are split into `lanes` contiguous ranges, one per `parallel for`
 * iteration with its own scratch; a plane's result does not depend on its lane. */
static int64_t lane_count(int64_t planes, int32_t threads) { return planes < threads ? planes : threads; }

/* Below this many multiply-adds a fork/join costs more than it saves. */
#define DW_PARALLEL_WORK 32768

/* Workspace: the per-plane weight-gradient partials (N*C, k*k [+ 1 for the
 * bias]) when backward follows, then `lanes` scratch areas. */
static int64_t dw_partial_floats(const depthwise *l, int32_t batch) {
  const int64_t planes = (int64_t)batch * l->geometry.channels;
  return planes * ((int64_t)l->kernel * l->kernel + (l->use_bias ? 1 : 0));
}

static int64_t dw_sized_workspace(const void *self, int32_t max_batch, int32_t threads, int inference) {
  const depthwise *l = self;
  const int64_t planes = (int64_t)max_batch * l->geometry.channels;
  const int64_t lanes = lane_count(planes, threads < 1 ? 1 : threads);
  int64_t floats = lanes * dcnn__dw_lane_floats(&l->geometry, !inference);
  if (!inference) floats += dw_partial_floats(l, max_batch);
  return floats * (int64_t)sizeof(float);
}

static int64_t dw_workspace(const void *self, int32_t max_batch) {
  return dw_sized_workspace(self, max_batch, dcnn_context_threads(((const depthwise *)self)->ctx), 0);
}

static dcnn_status take_scratch(const depthwise *l, dcnn_exec *exec, const char *pass, int64_t floats, float **base) {
  int64_t size = 0;
  *base = dcnn_exec_workspace(exec, &size);
  DCNN_CHECK(*base != NULL && size >= floats * (int64_t)sizeof(float), DCNN_ERR_INVALID_STATE,
             "depthwise_conv2d %s: the workspace has %lld bytes, %lld needed (%d channels, %dx%d)", pass,
             (long long)size, (long long)(floats * (int64_t)sizeof(float)), (int)l->geometry.channels,
             (int)l->geometry.height, (int)l->geometry.width);
  return DCNN_OK;
}

static dcnn_status dw_forward(void *self, dcnn_exec *exec, const dcnn_tensor *x, dcnn_tensor *y) {
  const depthwise *l = self;
  const dcnn_conv_geometry *g = &l->geometry;
  const int32_t threads = dcnn_exec_threads(exec);
  const int64_t planes = (int64_t)x->shape.dims[0] * g->channels, lanes = lane_count(planes, threads);
  const int64_t lane_floats = dcnn__dw_lane_floats(g, 0);
  const int64_t work = planes * g->out_height * g->out_width * g->kernel * g->kernel;
  float *scratch; /* (lanes, lane_floats) */
  DCNN_TRY(take_scratch(l, exec, "forward", lanes * lane_floats, &scratch));
  const float *bias = l->use_bias ? l->bias->data : NULL;
#pragma omp parallel for num_threads(threads) if (threads > 1 && work > DW_PARALLEL_WORK) schedule(static)
  for (int64_t lane = 0; lane < lanes; ++lane) {
    const int64_t first = planes * lane / lanes, last = planes * (lane + 1) / lanes;
    dcnn__dw_forward(g, x->data, l->weight->data, bias, y->data, first, last - first, scratch + lane * lane_floats);
  }
  return DCNN_OK;
}

static dcnn_status dw_backward(void *self, dcnn_exec *exec, const dcnn_tensor *x, const dcnn_tensor *y,
                               const dcnn_tensor *dy, dcnn_tensor *dx) {
  (void)y;
  depthwise *l = self;
  const dcnn_conv_geometry *g = &l->geometry;
  const int32_t c_n = g->channels, taps = g->kernel * g->kernel, n = x->shape.dims[0], threads = dcnn_exec_threads(exec);
  const int64_t planes = (int64_t)n * c_n, lanes = lane_count(planes, threads);
  const int64_t lane_floats = dcnn__dw_lane_floats(g, 1), partials = dw_partial_floats(l, n);
  const int64_t work = 2 * planes * g->out_height * g->out_width * taps;
  float *base;
  DCNN_TRY(take_scratch(l, exec, "backward", partials + lanes * lane_floats, &base));
  float *dw_part = base;                                      /* (N*C, k*k) */
  float *db_part = l->use_bias ? base + planes * taps : NULL; /* (N*C) */
  float *scratch = base + partials;                           /* (lanes, lane_floats) */
  float *g_in = dx ? dx->data : NULL;
#pragma omp parallel num_threads(threads) if (threads > 1 && work > DW_PARALLEL_WORK)
  {
#pragma omp for schedule(static)
    for (int64_t lane = 0; lane < lanes; ++lane) {
      const int64_t first = planes * lane / lanes, last = planes * (lane + 1) / lanes;
      dcnn__dw_backward(g, x->data, l->weight->data, dy->data, g_in, dw_part, db_part, first, last - first,
                        scratch + lane * lane_floats);
    }
    /* Each channel's gradient: its planes' partials added in image order. */
#pragma omp for schedule(static)
    for (int32_t c = 0; c < c_n; ++c) {
      float *dw = l->weight_grad->data + (int64_t)c * taps;
      for (int32_t t = 0; t < taps; ++t) dw[t] = dw_part[(int64_t)c * taps + t];
      for (int32_t i = 1; i < n; ++i) {
        const float *part = dw_part + ((int64_t)i * c_n + c) * taps;
        for (int32_t t = 0; t < taps; ++t) dw[t] += part[t];
      }
      if (db_part) {
        float db = db_part[c];
        for (int32_t i = 1; i < n; ++i) db += db_part[(int64_t)i * c_n + c];
        l->bias_grad->data[c] = db;
      }
    }
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
    .workspace_size = dw_workspace,
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
  (*out)->sized_workspace = dw_sized_workspace;
  return DCNN_OK;
}
