/* AvgPool2D on (N, C, H, W): y = mean of each window over the pixels inside the
 * image ('same' padding is not counted, as in Keras); dx spreads dy / count. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/kernels.h"
#include "layer_internal.h"

typedef struct avgpool2d {
  int32_t pool, stride;
  dcnn_padding padding;
  dcnn_conv_geometry geometry;
} avgpool2d;

static dcnn_status avgpool2d_build(void *self, dcnn_context *ctx, const dcnn_shape *in, dcnn_shape *out) {
  (void)ctx;
  avgpool2d *l = self;
  DCNN_TRY(dcnn__window_geometry("avgpool2d", in, l->pool, l->stride, l->padding, &l->geometry));
  const dcnn_conv_geometry *g = &l->geometry;
  *out = dcnn_shape_make(4, 1, g->channels, g->out_height, g->out_width);
  return DCNN_OK;
}

/* The window of output (oh, ow), clipped to the image. */
static void window(const dcnn_conv_geometry *g, int32_t oh, int32_t ow, int32_t *y0, int32_t *y1, int32_t *x0,
                   int32_t *x1) {
  *y0 = oh * g->stride - g->pad_top;
  *x0 = ow * g->stride - g->pad_left;
  *y1 = *y0 + g->kernel < g->height ? *y0 + g->kernel : g->height;
  *x1 = *x0 + g->kernel < g->width ? *x0 + g->kernel : g->width;
  if (*y0 < 0) *y0 = 0;
  if (*x0 < 0) *x0 = 0;
}

static dcnn_status avgpool2d_forward(void *self, dcnn_exec *exec, const dcnn_tensor *x, dcnn_tensor *y) {
  const dcnn_conv_geometry *g = &((avgpool2d *)self)->geometry;
  /* N * C planes in int64: a batch may hold 2^31 of them or more */
  const int64_t planes = (int64_t)x->shape.dims[0] * g->channels;
  const int32_t threads = dcnn_exec_threads(exec);
  const int64_t in_plane = (int64_t)g->height * g->width, out_plane = (int64_t)g->out_height * g->out_width;
#pragma omp parallel for num_threads(threads) if (threads > 1) schedule(static)
  for (int64_t q = 0; q < planes; ++q)
    for (int32_t oh = 0; oh < g->out_height; ++oh)
      for (int32_t ow = 0; ow < g->out_width; ++ow) {
        int32_t y0, y1, x0, x1;
        window(g, oh, ow, &y0, &y1, &x0, &x1);
        const float *src = x->data + q * in_plane;
        float sum = 0.0f;
        for (int32_t iy = y0; iy < y1; ++iy)
          for (int32_t ix = x0; ix < x1; ++ix) sum += src[iy * g->width + ix];
        y->data[q * out_plane + oh * g->out_width + ow] = sum / (float)((y1 - y0) * (x1 - x0));
      }
  return DCNN_OK;
}

static dcnn_status avgpool2d_backward(void *self, dcnn_exec *exec, const dcnn_tensor *x, const dcnn_tensor *y,
                                      const dcnn_tensor *dy, dcnn_tensor *dx) {
  (void)y;
  if (!dx) return DCNN_OK;
  const dcnn_conv_geometry *g = &((avgpool2d *)self)->geometry;
  /* N * C planes in int64: a batch may hold 2^31 of them or more */
  const int64_t planes = (int64_t)x->shape.dims[0] * g->channels;
  const int32_t threads = dcnn_exec_threads(exec);
  const int64_t in_plane = (int64_t)g->height * g->width, out_plane = (int64_t)g->out_height * g->out_width;
#pragma omp parallel for num_threads(threads) if (threads > 1) schedule(static)
  for (int64_t q = 0; q < planes; ++q) {
    float *dst = dx->data + q * in_plane;
    memset(dst, 0, (size_t)in_plane * sizeof(float));
    for (int32_t oh = 0; oh < g->out_height; ++oh)
      for (int32_t ow = 0; ow < g->out_width; ++ow) {
        int32_t y0, y1, x0, x1;
        window(g, oh, ow, &y0, &y1, &x0, &x1);
        const float share = dy->data[q * out_plane + oh * g->out_width + ow] / (float)((y1 - y0) * (x1 - x0));
        for (int32_t iy = y0; iy < y1; ++iy)
          for (int32_t ix = x0; ix < x1; ++ix) dst[iy * g->width + ix] += share;
      }
  }
  return DCNN_OK;
}

static dcnn_status avgpool2d_describe(const void *self, char *buf, int32_t size) {
  const avgpool2d *l = self;
  snprintf(buf, (size_t)size, "pool=%d stride=%d padding=%s", (int)l->pool, (int)l->stride,
           dcnn__padding_name(l->padding));
  return DCNN_OK;
}

static void avgpool2d_destroy(void *self) { dcnn__release(NULL, self); }

static const dcnn_layer_vtable avgpool2d_vtable = {
    .abi_version = DCNN_LAYER_ABI_VERSION,
    .flags = DCNN_LAYER_SHARED_INFERENCE,
    .type_name = "avgpool2d",
    .build = avgpool2d_build,
    .forward = avgpool2d_forward,
    .backward = avgpool2d_backward,
    .describe = avgpool2d_describe,
    .destroy = avgpool2d_destroy,
};

dcnn_status dcnn_avgpool2d_create(int32_t pool, int32_t stride, dcnn_padding padding, dcnn_layer **out) {
  DCNN_CHECK_ARG(out);
  *out = NULL;
  DCNN_CHECK(pool >= 1 && stride >= 1 && pool <= DCNN__WINDOW_LIMIT && stride <= DCNN__WINDOW_LIMIT,
             DCNN_ERR_INVALID_ARGUMENT, "avgpool2d: pool (%d) and stride (%d) must be 1..%d", (int)pool, (int)stride,
             DCNN__WINDOW_LIMIT);
  DCNN_CHECK(dcnn__padding_known(padding), DCNN_ERR_INVALID_ARGUMENT,
             "avgpool2d: unknown padding %d (DCNN_PADDING_VALID, _SAME or _SAME_LOWER)", (int)padding);
  avgpool2d *l;
  DCNN_TRY(dcnn__new_layer(&avgpool2d_vtable, sizeof *l, out, (void **)&l));
  l->pool = pool;
  l->stride = stride;
  l->padding = padding;
  return DCNN_OK;
}

/* The builtin table's factory (builtin_table.c): the keys avgpool2d_describe writes. */
dcnn_status dcnn__avgpool2d_from_config(const char *config, void *user, dcnn_layer **out) {
  (void)user;
  int32_t pool = 0, stride = 0;
  dcnn_padding padding = DCNN_PADDING_VALID;
  DCNN_TRY(dcnn__read_pool_config(config, &pool, &stride, &padding));
  return dcnn_avgpool2d_create(pool, stride, padding, out);
}
