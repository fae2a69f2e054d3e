/* MaxPool2D on (N, C, H, W): y = max over each window; dx routes dy to the
 * arg-max recorded in the forward pass (first maximum on ties). Padding never wins. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/kernels.h"
#include "../kernels/pointwise.h"
#include "layer_internal.h"

typedef struct maxpool2d {
  int32_t pool, stride;
  dcnn_padding padding;
  dcnn_conv_geometry geometry;
  dcnn_context *ctx;
  /* (max_batch, C, OH, OW) indices within the input plane; for 2x2 windows
   * (is_2x2) one byte each, the position within the window */
  int32_t *argmax;
  int32_t planned_batch;
} maxpool2d;

/* 2x2 windows, stride 2, no padding on either side: the vectorised kernel of
 * lib/kernels/pooling.c. 'same' on an odd size pads one row or column at the
 * end, which that kernel would read past the plane: the general loop takes it. */
static int is_2x2(const dcnn_conv_geometry *g) {
  return g->kernel == 2 && g->stride == 2 && g->pad_top == 0 && g->pad_left == 0 &&
         2 * (int64_t)g->out_height <= g->height && 2 * (int64_t)g->out_width <= g->width;
}

static dcnn_status maxpool2d_build(void *self, dcnn_context *ctx, const dcnn_shape *in, dcnn_shape *out) {
  maxpool2d *l = self;
  DCNN_TRY(dcnn__window_geometry("maxpool2d", in, l->pool, l->stride, l->padding, &l->geometry));
  const dcnn_conv_geometry *g = &l->geometry;
  l->ctx = ctx;
  *out = dcnn_shape_make(4, 1, g->channels, g->out_height, g->out_width);
  return DCNN_OK;
}

static dcnn_status maxpool2d_plan(void *self, dcnn_context *ctx, int32_t max_batch) {
  maxpool2d *l = self;
  if (max_batch <= l->planned_batch) return DCNN_OK;
  const dcnn_conv_geometry *g = &l->geometry;
  size_t count = (size_t)max_batch * g->channels * g->out_height * g->out_width;
  int32_t *argmax = dcnn__alloc(ctx, count * sizeof(int32_t));
  DCNN_CHECK(argmax != NULL, DCNN_ERR_OUT_OF_MEMORY, "maxpool2d: out of memory for %zu indices", count);
  dcnn__release(ctx, l->argmax);
  l->argmax = argmax;
  l->planned_batch = max_batch;
  return DCNN_OK;
}

static dcnn_status maxpool2d_forward(void *self, dcnn_exec *exec, const dcnn_tensor *x, dcnn_tensor *y) {
  maxpool2d *l = self;
  const dcnn_conv_geometry *g = &l->geometry;
  /* N * C planes in int64: a batch may hold 2^31 of them or more */
  const int64_t planes = (int64_t)x->shape.dims[0] * g->channels;
  const int32_t threads = dcnn_exec_threads(exec);
  /* The arg-max is kept for backward only; shared inference must not write the layer. */
  const int keep = dcnn_exec_backward_follows(exec);
  DCNN_CHECK(!keep || x->shape.dims[0] <= l->planned_batch, DCNN_ERR_INVALID_STATE,
             "maxpool2d: batch %d exceeds the planned %d", (int)x->shape.dims[0], (int)l->planned_batch);
  const int64_t in_plane = (int64_t)g->height * g->width, out_plane = (int64_t)g->out_height * g->out_width;
  const int fast = is_2x2(g);
#pragma omp parallel for num_threads(threads) if (threads > 1 && planes > 1) schedule(static)
  for (int64_t q = 0; q < planes; ++q) {
    const float *src = x->data + q * in_plane;
    float *dst = y->data + q * out_plane;
    if (fast) {
      uint8_t *arg = keep ? (uint8_t *)l->argmax + q * out_plane : NULL;
      dcnn__maxpool2x2_plane(src, g->width, g->out_height, g->out_width, dst, arg);
      continue;
    }
    int32_t *arg = keep ? l->argmax + q * out_plane : NULL;
    for (int32_t oh = 0; oh < g->out_height; ++oh) {
      int32_t y0 = oh * g->stride - g->pad_top, y1 = y0 + g->kernel;
      if (y0 < 0) y0 = 0;
      if (y1 > g->height) y1 = g->height;
      for (int32_t ow = 0; ow < g->out_width; ++ow) {
        int32_t x0 = ow * g->stride - g->pad_left, x1 = x0 + g->kernel;
        if (x0 < 0) x0 = 0;
        if (x1 > g->width) x1 = g->width;
        /* from the window's first pixel, not -FLT_MAX: a window of -inf and -FLT_MAX gives -FLT_MAX */
        int32_t best_at = y0 * g->width + x0;
        float best = src[best_at];
        for (int32_t iy = y0; iy < y1; ++iy)
          for (int32_t ix = x0; ix < x1; ++ix) {
            float v = src[iy * g->width + ix];
            if (v > best || (v != v && best == best)) { /* the first NaN wins: pooling must not hide one */
              best = v;
              best_at = iy * g->width + ix;
            }
          }
        dst[oh * g->out_width + ow] = src[best_at];
        if (arg) arg[oh * g->out_width + ow] = best_at;
      }
    }
  }
  return DCNN_OK;
}

static dcnn_status maxpool2d_backward(void *self, dcnn_exec *exec, const dcnn_tensor *x, const dcnn_tensor *y,
                                      const dcnn_tensor *dy, dcnn_tensor *dx) {
  (void)y;
  if (!dx) return DCNN_OK;
  maxpool2d *l = self;
  const dcnn_conv_geometry *g = &l->geometry;
  /* N * C planes in int64: a batch may hold 2^31 of them or more */
  const int64_t planes = (int64_t)x->shape.dims[0] * g->channels;
  const int32_t threads = dcnn_exec_threads(exec);
  const int64_t in_plane = (int64_t)g->height * g->width, out_plane = (int64_t)g->out_height * g->out_width;
  const int fast = is_2x2(g);
#pragma omp parallel for num_threads(threads) if (threads > 1 && planes > 1) schedule(static)
  for (int64_t q = 0; q < planes; ++q) {
    float *dst = dx->data + q * in_plane;
    const float *src = dy->data + q * out_plane;
    if (fast) {
      const uint8_t *arg = (const uint8_t *)l->argmax + q * out_plane;
      dcnn__maxpool2x2_plane_backward(src, arg, g->height, g->width, g->out_height, g->out_width, dst);
      continue;
    }
    const int32_t *arg = l->argmax + q * out_plane;
    memset(dst, 0, (size_t)in_plane * sizeof(float));
    for (int64_t o = 0; o < out_plane; ++o) dst[arg[o]] += src[o];
  }
  return DCNN_OK;
}

static dcnn_status maxpool2d_describe(const void *self, char *buf, int32_t size) {
  const maxpool2d *l = self;
  snprintf(buf, (size_t)size, "pool=%d stride=%d padding=%s", (int)l->pool, (int)l->stride,
           dcnn__padding_name(l->padding));
  return DCNN_OK;
}

static void maxpool2d_destroy(void *self) {
  maxpool2d *l = self;
  dcnn__release(l->ctx, l->argmax);
  dcnn__release(NULL, l); /* dcnn__new_layer */
}

static const dcnn_layer_vtable maxpool2d_vtable = {
    .abi_version = DCNN_LAYER_ABI_VERSION,
    .flags = DCNN_LAYER_SHARED_INFERENCE,
    .type_name = "maxpool2d",
    .build = maxpool2d_build,
    .plan = maxpool2d_plan,
    .forward = maxpool2d_forward,
    .backward = maxpool2d_backward,
    .describe = maxpool2d_describe,
    .destroy = maxpool2d_destroy,
};

dcnn_status dcnn_maxpool2d_create(int32_t pool, int32_t stride, dcnn_padding padding, dcnn_layer **out) {
  DCNN_CHECK_ARG(out);
  *out = NULL;
  DCNN_CHECK(pool >= 1 && stride >= 1 && pool <= DCNN__WINDOW_LIMIT && stride <= DCNN__WINDOW_LIMIT,
             DCNN_ERR_INVALID_ARGUMENT, "maxpool2d: pool (%d) and stride (%d) must be 1..%d", (int)pool, (int)stride,
             DCNN__WINDOW_LIMIT);
  DCNN_CHECK(dcnn__padding_known(padding), DCNN_ERR_INVALID_ARGUMENT,
             "maxpool2d: unknown padding %d (DCNN_PADDING_VALID, _SAME or _SAME_LOWER)", (int)padding);
  maxpool2d *l;
  DCNN_TRY(dcnn__new_layer(&maxpool2d_vtable, sizeof *l, out, (void **)&l));
  l->pool = pool;
  l->stride = stride;
  l->padding = padding;
  return DCNN_OK;
}

/* The builtin table's factory (builtin_table.c): the keys maxpool2d_describe writes. */
dcnn_status dcnn__maxpool2d_from_config(const char *config, void *user, dcnn_layer **out) {
  (void)user;
  int32_t pool = 0, stride = 0;
  dcnn_padding padding = DCNN_PADDING_VALID;
  DCNN_TRY(dcnn__read_pool_config(config, &pool, &stride, &padding));
  return dcnn_maxpool2d_create(pool, stride, padding, out);
}
