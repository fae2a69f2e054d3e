/* Global average pooling: (N, C, H, W) -> (N, C), y = mean over H x W; dx = dy / (H W).
 * Vectorised kernels (kernels/activations.c), split over planes when large. */
#include <stdlib.h>

#include "../kernels/activations.h"
#include "layer_internal.h"

typedef struct global_avgpool {
  int32_t channels, plane;
} global_avgpool;

static dcnn_status gap_build(void *self, dcnn_context *ctx, const dcnn_shape *in, dcnn_shape *out) {
  (void)ctx;
  global_avgpool *l = self;
  char text[64];
  DCNN_CHECK(in->ndim == 4, DCNN_ERR_SHAPE_MISMATCH, "global_avgpool: expects (N, C, H, W) input, got %s",
             dcnn_shape_format(in, text, sizeof text));
  const int64_t plane = (int64_t)in->dims[2] * in->dims[3]; /* int64: a crafted shape must not overflow */
  DCNN_CHECK(plane <= INT32_MAX, DCNN_ERR_SHAPE_MISMATCH, "global_avgpool: input %s has planes of more than 2^31-1 values",
             dcnn_shape_format(in, text, sizeof text));
  l->channels = in->dims[1];
  l->plane = (int32_t)plane;
  *out = dcnn_shape_make(2, 1, l->channels, 0, 0);
  return DCNN_OK;
}

/* Planes per lane so that a lane has enough values to pay for its thread. */
static int64_t plane_lanes(int64_t planes, int32_t plane, int32_t threads) {
  const int64_t lanes = dcnn__pointwise_lanes(planes * plane, threads);
  return lanes < planes ? lanes : planes;
}

static dcnn_status gap_forward(void *self, dcnn_exec *exec, const dcnn_tensor *x, dcnn_tensor *y) {
  const global_avgpool *l = self;
  const int64_t planes = (int64_t)x->shape.dims[0] * l->channels;
  const int64_t lanes = plane_lanes(planes, l->plane, dcnn_exec_threads(exec));
  const float *src = x->data; /* (N*C, H*W) */
  float *dst = y->data;       /* (N*C) */
#pragma omp parallel for num_threads((int)lanes) if (lanes > 1) schedule(static)
  for (int64_t lane = 0; lane < lanes; ++lane) {
    const int64_t first = planes * lane / lanes, last = planes * (lane + 1) / lanes;
    dcnn__plane_means(src + first * l->plane, dst + first, last - first, l->plane);
  }
  return DCNN_OK;
}

static dcnn_status gap_backward(void *self, dcnn_exec *exec, const dcnn_tensor *x, const dcnn_tensor *y,
                                const dcnn_tensor *dy, dcnn_tensor *dx) {
  (void)y;
  if (!dx) return DCNN_OK;
  const global_avgpool *l = self;
  const int64_t planes = (int64_t)x->shape.dims[0] * l->channels;
  const int64_t lanes = plane_lanes(planes, l->plane, dcnn_exec_threads(exec));
  const float *g_out = dy->data; /* (N*C) */
  float *g_in = dx->data;        /* (N*C, H*W) */
#pragma omp parallel for num_threads((int)lanes) if (lanes > 1) schedule(static)
  for (int64_t lane = 0; lane < lanes; ++lane) {
    const int64_t first = planes * lane / lanes, last = planes * (lane + 1) / lanes;
    dcnn__plane_spread(g_out + first, g_in + first * l->plane, last - first, l->plane);
  }
  return DCNN_OK;
}

static void gap_destroy(void *self) { dcnn__release(NULL, self); }

static const dcnn_layer_vtable gap_vtable = {
    .abi_version = DCNN_LAYER_ABI_VERSION,
    .flags = DCNN_LAYER_SHARED_INFERENCE,
    .type_name = "global_avgpool",
    .build = gap_build,
    .forward = gap_forward,
    .backward = gap_backward,
    .destroy = gap_destroy,
};

dcnn_status dcnn_global_avgpool_create(dcnn_layer **out) {
  global_avgpool *l;
  return dcnn__new_layer(&gap_vtable, sizeof *l, out, (void **)&l);
}

/* The builtin table's factory (builtin_table.c): global_avgpool has no keys. */
dcnn_status dcnn__global_avgpool_from_config(const char *config, void *user, dcnn_layer **out) {
  (void)user;
  const dcnn__kv kv = dcnn__kv_reader(config);
  DCNN_TRY(dcnn__kv_finish(&kv));
  return dcnn_global_avgpool_create(out);
}
