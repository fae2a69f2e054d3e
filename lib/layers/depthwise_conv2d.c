/* Depthwise Conv2D: each input channel convolved with its own k x k filter.
 * Shapes: x (N, C, H, W), W (C, 1, k, k), y (N, C, OH, OW). Direct vectorised
 * kernels (kernels/depthwise.c): a depthwise filter is too small for a GEMM to
 * pay. Two paths, chosen by the geometry (channels_last) or forced
 * (depthwise_conv2d.h): phase planes, split over the (image, channel) planes,
 * for large stride-1 planes; channels-last blocks, split over (image, channel
 * block), for the rest. dW is summed from per-image (per image group)
 * partials in a fixed order, so the bits do not depend on the thread count. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/depthwise.h"
#include "depthwise_conv2d.h"
#include "layer_internal.h"
#include "weight_bias.h"

typedef struct depthwise {
  dcnn_context *ctx;
  dcnn__dw_path path;
  int32_t kernel, stride;
  dcnn_padding padding;
  int use_bias;
  dcnn_conv_geometry geometry;
  dcnn_tensor *weight, *weight_grad, *bias, *bias_grad;
} depthwise;

/* The kernel and bias as weight_bias.c sees them. */
static dcnn__weight_bias dw_tensors(depthwise *l) {
  return (dcnn__weight_bias){&l->weight, &l->weight_grad, &l->bias, &l->bias_grad, l->use_bias};
}

static dcnn_status dw_build(void *self, dcnn_context *ctx, const dcnn_shape *in, dcnn_shape *out) {
  depthwise *l = self;
  l->ctx = ctx;
  DCNN_TRY(dcnn__window_geometry("depthwise_conv2d", in, l->kernel, l->stride, l->padding, &l->geometry));
  const dcnn_conv_geometry *g = &l->geometry;
  /* The kernels index taps (k*k) and the weights (C*k*k) in int32, as conv2d's windows. */
  DCNN_CHECK((int64_t)g->channels * l->kernel * l->kernel <= INT32_MAX, DCNN_ERR_SHAPE_MISMATCH,
             "depthwise_conv2d: %d channels with a %dx%d kernel exceed 2^31-1 weights", (int)g->channels,
             (int)l->kernel, (int)l->kernel);
  const int32_t kernel_dims[4] = {g->channels, 1, l->kernel, l->kernel};
  DCNN_TRY(dcnn__weight_bias_build(dw_tensors(l), ctx, "depthwise_conv2d", g->channels, 4, kernel_dims));
  *out = dcnn_shape_make(4, 1, g->channels, g->out_height, g->out_width);
  return DCNN_OK;
}

static const dcnn_layer_vtable dw_vtable;

/* Work is split into `lanes` contiguous ranges of units (planes, or channel
 * blocks of one image for the channels-last path), one per `parallel for`
 * iteration with its own scratch; a unit's result does not depend on its lane. */
static int64_t lane_count(int64_t units, int32_t threads) { return units < threads ? units : threads; }

/* Below this many multiply-adds a fork/join costs more than it saves. */
#define DW_PARALLEL_WORK 32768
/* The phase planes only for stride-1 planes larger than this; the
 * channels-last path everywhere else. Measured on MobileNetV2's layers (batch
 * 32, one thread, AVX-512): channels-last is 1.7-30x faster on planes of 1 to
 * 64 values and on stride 2, the two are even on 16x16 stride 1 (docs/performance.md). */
#define DW_LARGE_PLANE 128

static int channels_last(const depthwise *l) {
  if (l->path != DCNN__DW_AUTO) return l->path == DCNN__DW_CHANNELS_LAST;
  return l->geometry.stride != 1 || (int64_t)l->geometry.height * l->geometry.width <= DW_LARGE_PLANE;
}

static int64_t units_of(const depthwise *l, int32_t batch, int backward) {
  if (!channels_last(l)) return (int64_t)batch * l->geometry.channels;
  if (!backward) return dcnn__dw_block_units(&l->geometry, batch);
  return dcnn__dw_block_units(&l->geometry, 1) * dcnn__dw_groups(batch);
}

/* Images whose weight-gradient partials are kept apart: every image (phase
 * planes) or each image group (channels-last). */
static int64_t partial_images(const depthwise *l, int32_t batch) {
  return channels_last(l) ? dcnn__dw_groups(batch) : batch;
}

static int64_t lane_floats(const depthwise *l, int backward) {
  return channels_last(l) ? dcnn__dw_block_lane_floats(&l->geometry, backward)
                          : dcnn__dw_lane_floats(&l->geometry, backward);
}

/* Workspace: the weights transposed (k*k, C) for the channels-last path;
 * when backward follows, the weight-gradient partials of P = partial_images
 * (phase planes: (N*C, k*k), channels-last: (P, k*k, C)) and (P*C) for the
 * bias; then `lanes` scratch areas. */
static int64_t fixed_floats(const depthwise *l, int32_t batch, int backward) {
  const int64_t taps = (int64_t)l->kernel * l->kernel, c_n = l->geometry.channels;
  const int64_t partials = partial_images(l, batch) * c_n * (taps + (l->use_bias ? 1 : 0));
  return (channels_last(l) ? taps * c_n : 0) + (backward ? partials : 0);
}

/* Floats one pass (forward, or backward when `backward`) takes at max_batch. */
static int64_t pass_floats(const depthwise *l, int32_t max_batch, int32_t threads, int backward) {
  const int64_t lanes = lane_count(units_of(l, max_batch, backward), threads < 1 ? 1 : threads);
  return fixed_floats(l, max_batch, backward) + lanes * lane_floats(l, backward);
}

/* Training runs both passes on one workspace: the larger of the two, since
 * the forward can have more lanes than the backward (channels-last: N*blocks
 * units against blocks*min(N, 4)). */
static int64_t dw_sized_workspace(const void *self, int32_t max_batch, int32_t threads, int inference) {
  const depthwise *l = self;
  int64_t floats = pass_floats(l, max_batch, threads, 0);
  if (!inference) {
    const int64_t backward = pass_floats(l, max_batch, threads, 1);
    if (backward > floats) floats = backward;
  }
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
  const int32_t threads = dcnn_exec_threads(exec), batch = x->shape.dims[0];
  const int cl = channels_last(l);
  const int64_t units = units_of(l, batch, 0), lanes = lane_count(units, threads), each = lane_floats(l, 0);
  const int64_t work = (int64_t)batch * g->channels * g->out_height * g->out_width * g->kernel * g->kernel;
  float *base;
  DCNN_TRY(take_scratch(l, exec, "forward", fixed_floats(l, batch, 0) + lanes * each, &base));
  float *wt = base;                                   /* (k*k, C), channels-last only */
  float *scratch = base + fixed_floats(l, batch, 0); /* (lanes, each) */
  if (cl) dcnn__dw_transpose_weights(g, l->weight->data, wt);
  const float *bias = l->use_bias ? l->bias->data : NULL;
#pragma omp parallel for num_threads(threads) if (threads > 1 && work > DW_PARALLEL_WORK) schedule(static)
  for (int64_t lane = 0; lane < lanes; ++lane) {
    const int64_t first = units * lane / lanes, last = units * (lane + 1) / lanes;
    if (cl) dcnn__dw_block_forward(g, x->data, wt, bias, y->data, first, last - first, scratch + lane * each);
    else dcnn__dw_forward(g, x->data, l->weight->data, bias, y->data, first, last - first, scratch + lane * each);
  }
  return DCNN_OK;
}

static dcnn_status dw_backward(void *self, dcnn_exec *exec, const dcnn_tensor *x, const dcnn_tensor *y,
                               const dcnn_tensor *dy, dcnn_tensor *dx) {
  (void)y;
  depthwise *l = self;
  const dcnn_conv_geometry *g = &l->geometry;
  const int32_t c_n = g->channels, taps = g->kernel * g->kernel, n = x->shape.dims[0], threads = dcnn_exec_threads(exec);
  const int cl = channels_last(l);
  const int64_t planes = (int64_t)n * c_n, units = units_of(l, n, 1), lanes = lane_count(units, threads);
  const int64_t parts = partial_images(l, n);
  const int64_t each = lane_floats(l, 1), fixed = fixed_floats(l, n, 1);
  const int64_t work = 2 * planes * g->out_height * g->out_width * taps;
  float *base;
  DCNN_TRY(take_scratch(l, exec, "backward", fixed + lanes * each, &base));
  float *wt = base;                                          /* (k*k, C), channels-last only */
  float *dw_part = base + (cl ? (int64_t)taps * c_n : 0);    /* (N*C, k*k) */
  float *db_part = l->use_bias ? dw_part + parts * c_n * taps : NULL; /* (P*C) */
  float *scratch = base + fixed;                             /* (lanes, each) */
  float *g_in = dx ? dx->data : NULL;
  if (cl) dcnn__dw_transpose_weights(g, l->weight->data, wt);
#pragma omp parallel num_threads(threads) if (threads > 1 && work > DW_PARALLEL_WORK)
  {
#pragma omp for schedule(static)
    for (int64_t lane = 0; lane < lanes; ++lane) {
      const int64_t first = units * lane / lanes, last = units * (lane + 1) / lanes;
      if (cl)
        dcnn__dw_block_backward(g, n, x->data, wt, dy->data, g_in, dw_part, db_part, first, last - first,
                                scratch + lane * each);
      else
        dcnn__dw_backward(g, x->data, l->weight->data, dy->data, g_in, dw_part, db_part, first, last - first,
                          scratch + lane * each);
    }
    /* Each channel's gradient: its partials added in image (group) order. */
#pragma omp for schedule(static)
    for (int32_t c = 0; c < c_n; ++c) {
      float *dw = l->weight_grad->data + (int64_t)c * taps;
      for (int32_t t = 0; t < taps; ++t) {
        /* phase planes: (N*C, k*k); channels-last: (P, k*k, C) */
        const int64_t at = cl ? (int64_t)t * c_n + c : (int64_t)c * taps + t, step = (int64_t)c_n * taps;
        float sum = dw_part[at];
        for (int64_t i = 1; i < parts; ++i) sum += dw_part[i * step + at];
        dw[t] = sum;
      }
      if (db_part) {
        float db = db_part[c];
        for (int64_t i = 1; i < parts; ++i) db += db_part[i * c_n + c];
        l->bias_grad->data[c] = db;
      }
    }
  }
  return DCNN_OK;
}

dcnn_status dcnn__depthwise_force_path(dcnn_layer *layer, dcnn__dw_path path) {
  DCNN_CHECK(layer && layer->vt == &dw_vtable, DCNN_ERR_INVALID_ARGUMENT, "depthwise path: not a depthwise_conv2d layer");
  DCNN_CHECK(path >= DCNN__DW_AUTO && path <= DCNN__DW_CHANNELS_LAST, DCNN_ERR_INVALID_ARGUMENT,
             "depthwise path: unknown path %d", (int)path);
  ((depthwise *)layer->self)->path = path;
  return DCNN_OK;
}

static int32_t dw_param_count(const void *self) { return ((const depthwise *)self)->use_bias ? 2 : 1; }

static dcnn_status dw_param(void *self, int32_t index, dcnn_param *out) {
  return dcnn__weight_bias_param(dw_tensors(self), index, out);
}

static dcnn_status dw_init(void *self, uint64_t seed) {
  depthwise *l = self;
  const int64_t area = (int64_t)l->kernel * l->kernel;
  return dcnn__weight_bias_init(dw_tensors(l), area, area, seed);
}

static dcnn_status dw_describe(const void *self, char *buf, int32_t size) {
  const depthwise *l = self;
  snprintf(buf, (size_t)size, "kernel=%d stride=%d padding=%s bias=%d", (int)l->kernel, (int)l->stride,
           dcnn__padding_name(l->padding), l->use_bias);
  return DCNN_OK;
}

static int64_t dw_flops(const void *self) {
  const depthwise *l = self;
  const dcnn_conv_geometry *g = &l->geometry;
  return (int64_t)g->channels * g->out_height * g->out_width * g->kernel * g->kernel;
}

static void dw_destroy(void *self) {
  depthwise *l = self;
  dcnn__weight_bias_destroy(dw_tensors(l));
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

dcnn_status dcnn_depthwise_conv2d_create(int32_t kernel, int32_t stride, dcnn_padding padding, dcnn_bias_mode bias,
                                         dcnn_layer **out) {
  DCNN_CHECK_ARG(out);
  *out = NULL;
  DCNN_CHECK(kernel >= 1 && stride >= 1 && kernel <= DCNN__WINDOW_LIMIT && stride <= DCNN__WINDOW_LIMIT,
             DCNN_ERR_INVALID_ARGUMENT, "depthwise_conv2d: kernel (%d) and stride (%d) must be 1..%d", (int)kernel,
             (int)stride, DCNN__WINDOW_LIMIT);
  DCNN_CHECK(dcnn__padding_known(padding), DCNN_ERR_INVALID_ARGUMENT,
             "depthwise_conv2d: unknown padding %d (DCNN_PADDING_VALID, _SAME or _SAME_LOWER)", (int)padding);
  DCNN_CHECK(bias == DCNN_NO_BIAS || bias == DCNN_WITH_BIAS, DCNN_ERR_INVALID_ARGUMENT,
             "depthwise_conv2d: unknown bias mode %d (DCNN_NO_BIAS or DCNN_WITH_BIAS)", (int)bias);
  depthwise *l;
  DCNN_TRY(dcnn__new_layer(&dw_vtable, sizeof *l, out, (void **)&l));
  l->kernel = kernel;
  l->stride = stride;
  l->padding = padding;
  l->use_bias = bias == DCNN_WITH_BIAS;
  (*out)->sized_workspace = dw_sized_workspace;
  return DCNN_OK;
}

/* The builtin table's factory (builtin_table.c): the keys dw_describe writes. */
dcnn_status dcnn__depthwise_conv2d_from_config(const char *config, void *user, dcnn_layer **out) {
  (void)user;
  dcnn__kv kv = dcnn__kv_reader(config);
  int32_t kernel = 0, stride = 0, bias = 0;
  dcnn_padding padding = DCNN_PADDING_VALID;
  DCNN_TRY(dcnn__kv_int(&kv, "kernel", 1, DCNN__WINDOW_LIMIT, &kernel));
  DCNN_TRY(dcnn__kv_int(&kv, "stride", 1, DCNN__WINDOW_LIMIT, &stride));
  DCNN_TRY(dcnn__kv_padding(&kv, &padding));
  DCNN_TRY(dcnn__kv_int(&kv, "bias", 0, 1, &bias));
  DCNN_TRY(dcnn__kv_finish(&kv));
  return dcnn_depthwise_conv2d_create(kernel, stride, padding, bias ? DCNN_WITH_BIAS : DCNN_NO_BIAS, out);
}
