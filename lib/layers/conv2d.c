/* Conv2D: y = W * x (+ b) via im2col and SGEMM over cache-sized groups of images.
 * Shapes: x (N, C, H, W), W (F, C, k, k), y (N, F, OH, OW).
 * Workspace per thread lane: col (C*k*k, n*OH*OW), mat (F, n*OH*OW), dW and db partial sums. */
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
  dcnn_context *ctx;
  dcnn_tensor *weight, *weight_grad, *bias, *bias_grad;
} conv2d;

static dcnn_status conv2d_build(void *self, dcnn_context *ctx, const dcnn_shape *in, dcnn_shape *out) {
  conv2d *l = self;
  DCNN_TRY(dcnn__window_geometry("conv2d", in, l->kernel, l->stride, l->padding, &l->geometry));
  const dcnn_conv_geometry *g = &l->geometry;
  /* The im2col rows and output planes are indexed with int32: refuse shapes that would overflow it. */
  DCNN_CHECK((int64_t)g->channels * l->kernel * l->kernel <= INT32_MAX &&
                 (int64_t)g->out_height * g->out_width <= INT32_MAX,
             DCNN_ERR_SHAPE_MISMATCH, "conv2d: %d channels with a %dx%d kernel exceed 2^31-1 values per window",
             (int)g->channels, (int)l->kernel, (int)l->kernel);
  l->ctx = ctx;
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

/* Images are processed in groups small enough that a group's im2col matrix
 * stays in a core's L2 cache; with at least as many groups as threads, each
 * thread takes whole groups with private scratch (no barriers inside a layer),
 * otherwise the groups run one after another with the GEMMs split over threads. */
#define CONV_GROUP_BYTES (2 << 20)
/* From this many output pixels per image on, one GEMM per image is efficient
 * and writes NCHW directly; below it, a group's images share one GEMM and the
 * result is reordered. */
#define DIRECT_PLANE 256

static int32_t group_size(const conv2d *l, int32_t batch) {
  const dcnn_conv_geometry *g = &l->geometry;
  int64_t per_image = (int64_t)g->channels * g->kernel * g->kernel * g->out_height * g->out_width * 4;
  int64_t images = CONV_GROUP_BYTES / (per_image ? per_image : 1);
  if (images < 1) images = 1;
  return images > batch ? batch : (int32_t)images;
}

static int64_t round_floats(int64_t n) { return (n + 15) / 16 * 16; }

typedef struct conv_scratch {
  int32_t group, groups, lanes; /* images per group, number of groups, private scratch lanes */
  int64_t lane_floats;
  float *col, *mat, *dw, *db; /* lane 0; lane i is lane_floats further */
} conv_scratch;

static conv_scratch plan_scratch(const conv2d *l, int32_t batch, int32_t threads, float *base) {
  const dcnn_conv_geometry *g = &l->geometry;
  conv_scratch s;
  s.group = group_size(l, batch);
  s.groups = (batch + s.group - 1) / s.group;
  s.lanes = s.groups >= threads ? threads : 1;
  const int64_t columns = (int64_t)s.group * g->out_height * g->out_width;
  const int64_t rows = (int64_t)g->channels * g->kernel * g->kernel;
  const int64_t col = round_floats(rows * columns), mat = round_floats((int64_t)l->filters * columns);
  const int64_t dw = round_floats((int64_t)l->filters * rows), db = round_floats(l->filters);
  s.lane_floats = col + mat + dw + db;
  s.col = base;
  s.mat = base ? base + col : NULL;
  s.dw = base ? base + col + mat : NULL;
  s.db = base ? base + col + mat + dw : NULL;
  return s;
}

/* Bytes of scratch for batches up to max_batch with `threads` lanes at most. */
static int64_t conv2d_sized_workspace(const void *self, int32_t max_batch, int32_t threads, int inference) {
  (void)inference;
  const conv2d *l = self;
  int64_t most = 0;
  /* The lane count depends on the batch, so size for the worst batch up to max_batch. */
  for (int32_t b = 1; b <= max_batch; b = b < max_batch && 2 * b > max_batch ? max_batch : 2 * b) {
    conv_scratch s = plan_scratch(l, b, threads, NULL);
    if (s.lanes * s.lane_floats > most) most = s.lanes * s.lane_floats;
    if (b == max_batch) break;
  }
  conv_scratch s = plan_scratch(l, max_batch, threads, NULL);
  if (s.lanes * s.lane_floats > most) most = s.lanes * s.lane_floats;
  return most * (int64_t)sizeof(float);
}

static int64_t conv2d_workspace(const void *self, int32_t max_batch) {
  return conv2d_sized_workspace(self, max_batch, dcnn_context_threads(((const conv2d *)self)->ctx), 0);
}

/* The scratch for this call, or DCNN_ERR_INVALID_STATE when the workspace was
 * sized for fewer threads or a smaller batch than the call runs with. */
static dcnn_status take_scratch(const conv2d *l, dcnn_exec *exec, const char *pass, int32_t batch, int32_t threads,
                                conv_scratch *s) {
  int64_t size = 0;
  float *base = dcnn_exec_workspace(exec, &size);
  *s = plan_scratch(l, batch, threads, base);
  const int64_t needed = s->lanes * s->lane_floats * (int64_t)sizeof(float);
  DCNN_CHECK(base != NULL && size >= needed, DCNN_ERR_INVALID_STATE,
             "conv2d %s: the workspace has %lld bytes, batch %d with %d threads needs %lld", pass, (long long)size,
             (int)batch, (int)threads, (long long)needed);
  return DCNN_OK;
}

/* Forward for images [first, first + count) with scratch `col`/`mat`; fails
 * only when OpenBLAS has no buffer for this thread (see dcnn__sgemm). */
static dcnn_status forward_group(const conv2d *l, int32_t threads, const float *x, float *y, int32_t first, int32_t count,
                          float *col, float *mat) {
  dcnn_conv_geometry g = l->geometry;
  g.batch = count;
  const int32_t rows = g.channels * g.kernel * g.kernel, plane = g.out_height * g.out_width;
  const int32_t columns = count * plane;
  dcnn__im2col(threads, &g, x + (int64_t)first * g.channels * g.height * g.width, col);
  float *out = y + (int64_t)first * l->filters * plane;
  if (plane >= DIRECT_PLANE) {
    /* y_n (F, P) = W (F, K) col[:, n*P : (n+1)*P]: straight into NCHW. */
    for (int32_t n = 0; n < count; ++n)
      DCNN_TRY(dcnn__sgemm(threads, 0, 0, l->filters, plane, rows, 1.0f, l->weight->data, rows,
                           col + (int64_t)n * plane, columns, 0.0f, out + (int64_t)n * l->filters * plane, plane));
  } else {
    /* mat (F, n*P) = W (F, K) col (K, n*P), then reordered to NCHW. */
    DCNN_TRY(dcnn__sgemm(threads, 0, 0, l->filters, columns, rows, 1.0f, l->weight->data, rows, col, columns, 0.0f,
                         mat, columns));
    dcnn__cnp_to_nchw(threads, mat, count, l->filters, plane, out);
  }
  if (l->use_bias)
    for (int32_t n = 0; n < count; ++n)
      for (int32_t f = 0; f < l->filters; ++f) {
        float *dst = out + ((int64_t)n * l->filters + f) * plane;
        const float b = l->bias->data[f];
        for (int32_t p = 0; p < plane; ++p) dst[p] += b;
      }
  return DCNN_OK;
}

static dcnn_status conv2d_forward(void *self, dcnn_exec *exec, const dcnn_tensor *x, dcnn_tensor *y) {
  conv2d *l = self;
  const int32_t batch = x->shape.dims[0], threads = dcnn_exec_threads(exec);
  conv_scratch s;
  DCNN_TRY(take_scratch(l, exec, "forward", batch, threads, &s));
  if (s.lanes > 1) {
    int32_t refused = 0; /* groups OpenBLAS had no buffer for (reported below, on the calling thread) */
    /* Lanes are loop iterations, not team members: a smaller team (thread
     * limit, dynamic adjustment, a caller's parallel region) runs several
     * lanes one after another with the same groups and scratch each. */
#pragma omp parallel for num_threads(s.lanes) schedule(static, 1) reduction(+ : refused)
    for (int32_t lane = 0; lane < s.lanes; ++lane) {
      float *col = s.col + lane * s.lane_floats, *mat = s.mat + lane * s.lane_floats;
      for (int32_t gi = lane; gi < s.groups; gi += s.lanes) {
        int32_t first = gi * s.group, count = first + s.group > batch ? batch - first : s.group;
        refused += forward_group(l, 1, x->data, y->data, first, count, col, mat) != DCNN_OK;
      }
    }
    if (refused) return dcnn__blas_unavailable();
  } else {
    for (int32_t first = 0; first < batch; first += s.group)
      DCNN_TRY(forward_group(l, threads, x->data, y->data, first, first + s.group > batch ? batch - first : s.group,
                             s.col, s.mat));
  }
  return DCNN_OK;
}

/* Backward for images [first, first + count): accumulates dW and db into the
 * lane's partial sums (beta = 1) and writes dx for these images. */
static dcnn_status backward_group(const conv2d *l, int32_t threads, const float *x, const float *dy, float *dx,
                           int32_t first, int32_t count, float *col, float *mat, float *dw, float *db) {
  dcnn_conv_geometry g = l->geometry;
  g.batch = count;
  const int32_t rows = g.channels * g.kernel * g.kernel, plane = g.out_height * g.out_width;
  const int32_t columns = count * plane;
  const int64_t in_image = (int64_t)g.channels * g.height * g.width;
  const float *grad = dy + (int64_t)first * l->filters * plane;
  const int direct = plane >= DIRECT_PLANE;
  dcnn__im2col(threads, &g, x + first * in_image, col);
  if (direct) {
    /* dW (F, K) += dy_n (F, P) col_n^T, reading dy in place. */
    for (int32_t n = 0; n < count; ++n)
      DCNN_TRY(dcnn__sgemm(threads, 0, 1, l->filters, rows, plane, 1.0f, grad + (int64_t)n * l->filters * plane,
                           plane, col + (int64_t)n * plane, columns, 1.0f, dw, rows));
  } else {
    dcnn__nchw_to_cnp(threads, grad, count, l->filters, plane, mat);
    /* dW (F, K) += mat (F, n*P) col^T */
    DCNN_TRY(dcnn__sgemm(threads, 0, 1, l->filters, rows, columns, 1.0f, mat, columns, col, columns, 1.0f, dw, rows));
  }
  if (l->use_bias)
    for (int32_t n = 0; n < count; ++n)
      for (int32_t f = 0; f < l->filters; ++f) {
        const float *row = direct ? grad + ((int64_t)n * l->filters + f) * plane
                                  : mat + (int64_t)f * columns + (int64_t)n * plane;
        float sum = 0.0f;
        for (int32_t i = 0; i < plane; ++i) sum += row[i];
        db[f] += sum;
      }
  if (dx) {
    /* dcol (K, n*P) = W^T dy, into the col buffer; then scatter back to pixels. */
    if (direct) {
      for (int32_t n = 0; n < count; ++n)
        DCNN_TRY(dcnn__sgemm(threads, 1, 0, rows, plane, l->filters, 1.0f, l->weight->data, rows,
                             grad + (int64_t)n * l->filters * plane, plane, 0.0f, col + (int64_t)n * plane, columns));
    } else {
      DCNN_TRY(dcnn__sgemm(threads, 1, 0, rows, columns, l->filters, 1.0f, l->weight->data, rows, mat, columns, 0.0f,
                           col, columns));
    }
    dcnn__col2im(threads, &g, col, dx + first * in_image);
  }
  return DCNN_OK;
}

static dcnn_status conv2d_backward(void *self, dcnn_exec *exec, const dcnn_tensor *x, const dcnn_tensor *y,
                                   const dcnn_tensor *dy, dcnn_tensor *dx) {
  (void)y;
  conv2d *l = self;
  const int32_t batch = x->shape.dims[0], threads = dcnn_exec_threads(exec);
  const int64_t weights = l->weight_grad->count;
  conv_scratch s;
  DCNN_TRY(take_scratch(l, exec, "backward", batch, threads, &s));
  float *dx_data = dx ? dx->data : NULL;
  for (int32_t lane = 0; lane < s.lanes; ++lane) {
    memset(s.dw + lane * s.lane_floats, 0, (size_t)weights * sizeof(float));
    memset(s.db + lane * s.lane_floats, 0, (size_t)l->filters * sizeof(float));
  }
  if (s.lanes > 1) {
    /* As in forward: which groups a lane sums into its dW and db depends on the
     * lane count only, whatever team the runtime grants. */
    int32_t refused = 0; /* as in forward */
#pragma omp parallel for num_threads(s.lanes) schedule(static, 1) reduction(+ : refused)
    for (int32_t lane = 0; lane < s.lanes; ++lane) {
      float *base = s.col + lane * s.lane_floats;
      for (int32_t gi = lane; gi < s.groups; gi += s.lanes) {
        int32_t first = gi * s.group, count = first + s.group > batch ? batch - first : s.group;
        refused += backward_group(l, 1, x->data, dy->data, dx_data, first, count, base, base + (s.mat - s.col),
                                  base + (s.dw - s.col), base + (s.db - s.col)) != DCNN_OK;
      }
    }
    if (refused) return dcnn__blas_unavailable();
  } else {
    for (int32_t first = 0; first < batch; first += s.group)
      DCNN_TRY(backward_group(l, threads, x->data, dy->data, dx_data, first,
                              first + s.group > batch ? batch - first : s.group, s.col, s.mat, s.dw, s.db));
  }
  /* Partial sums are added in lane order, so the result depends only on the thread count. */
  float *dw = l->weight_grad->data;
  memcpy(dw, s.dw, (size_t)weights * sizeof(float));
  for (int32_t lane = 1; lane < s.lanes; ++lane) {
    const float *part = s.dw + lane * s.lane_floats;
    for (int64_t i = 0; i < weights; ++i) dw[i] += part[i];
  }
  if (l->use_bias) {
    float *db = l->bias_grad->data;
    memcpy(db, s.db, (size_t)l->filters * sizeof(float));
    for (int32_t lane = 1; lane < s.lanes; ++lane)
      for (int32_t f = 0; f < l->filters; ++f) db[f] += s.db[lane * s.lane_floats + f];
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
  dcnn__release(NULL, l); /* dcnn__new_layer */
}

static const dcnn_layer_vtable conv2d_vtable = {
    .abi_version = DCNN_LAYER_ABI_VERSION,
    .flags = DCNN_LAYER_SHARED_INFERENCE,
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
  (*out)->sized_workspace = conv2d_sized_workspace;
  l->filters = filters;
  l->kernel = kernel;
  l->stride = stride;
  l->padding = padding;
  l->use_bias = use_bias != 0;
  return DCNN_OK;
}
