/* Conv2D: y = W * x (+ b) by one of several algorithms chosen per layer
 * (dcnn_conv_algorithm): im2col + SGEMM over cache-sized groups of images,
 * SGEMM straight on the activations for 1x1 kernels, Winograd for 3x3
 * stride 1 (lib/kernels/winograd.h), direct loops for few input channels,
 * one GEMM with an unrolled weight on planes smaller than the kernel
 * (lib/kernels/conv_unrolled.h).
 * Shapes: x (N, C, H, W), W (F, C, k, k), y (N, F, OH, OW).
 * Workspace: see plan_groups, plan_direct and pass_floats. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/conv_direct.h"
#include "../kernels/conv_epilogue.h"
#include "../kernels/conv_unrolled.h"
#include "../kernels/kernels.h"
#include "../kernels/winograd.h"
#include "conv_bn.h"
#include "layer_internal.h"
#include "weight_bias.h"

typedef struct conv2d {
  int32_t filters, kernel, stride;
  dcnn_padding padding;
  int use_bias;
  dcnn_conv_algorithm requested; /* DCNN_CONV_AUTO or the forced one */
  dcnn_conv_algorithm algorithm; /* what runs: resolved at build and by dcnn_conv2d_set_algorithm */
  int planned;                   /* a model planned the workspace for `algorithm`: it is fixed now */
  dcnn_conv_geometry geometry;   /* batch set per call */
  dcnn_context *ctx;
  dcnn_tensor *weight, *weight_grad, *bias, *bias_grad;
  /* A linked batch norm (conv_bn.h) and the plane moments the training
   * forward gathers for it: (moments_capacity, F, 2) mean and sum of squared
   * deviations, valid for the output `moments_of` of `moments_batch` images. */
  const dcnn_layer *follower;
  int fuse_always; /* linked for tests: the output pass runs whatever the geometry (fuses) */
  double *moments;
  int32_t moments_capacity, moments_batch;
  const float *moments_of;
} conv2d;

/* The kernel and bias as weight_bias.c sees them. */
static dcnn__weight_bias conv2d_tensors(conv2d *l) {
  return (dcnn__weight_bias){&l->weight, &l->weight_grad, &l->bias, &l->bias_grad, l->use_bias};
}

/* What the conv's output pass does besides the bias (conv_bn.h). */
typedef enum { EPILOGUE_NONE, EPILOGUE_MOMENTS, EPILOGUE_FOLD } epilogue_mode;

static const char *const algorithm_names[] = {"auto", "im2col_gemm", "gemm_1x1", "winograd_2x2", "winograd_4x4",
                                              "direct", "unrolled_gemm"};

#define UNROLLED_LIMIT_FLOATS (1 << 28) /* forced: beyond it, building Wu and one filter's block are unreasonable */

/* NULL when `a` applies to the layer's geometry, else why not. */
static const char *inapplicable(const conv2d *l, dcnn_conv_algorithm a) {
  switch (a) {
    case DCNN_CONV_GEMM_1X1: return l->kernel == 1 ? NULL : "it needs a 1x1 kernel";
    case DCNN_CONV_WINOGRAD_2X2: return dcnn__winograd_applies(2, &l->geometry) ? NULL : "it needs a 3x3 kernel with stride 1";
    case DCNN_CONV_WINOGRAD_4X4: return dcnn__winograd_applies(4, &l->geometry) ? NULL : "it needs a 3x3 kernel with stride 1";
    case DCNN_CONV_UNROLLED_GEMM: /* the bound also keeps its GEMMs' int32 dimensions (C*H*W, F*OH*OW) safe */
      return dcnn__conv_unrolled_floats(&l->geometry, l->filters) <= UNROLLED_LIMIT_FLOATS
                 ? NULL
                 : "its unrolled kernel (F*OH*OW x C*H*W) would exceed 2^28 floats";
    default: return NULL;
  }
}

/* The rule of DCNN_CONV_AUTO (builtin_layers.h, docs/performance.md), on the geometry
 * only, so that a model and its sessions (which never plan) always agree. */
#define WINOGRAD_MIN_CHANNELS 8 /* below it the transforms cost more than the GEMMs save */
#define WINOGRAD_4X4_MIN_SIDE 8 /* a 4x4 tile on a smaller plane is mostly padding */
#define DIRECT_MAX_CHANNELS 4   /* im2col + GEMM's inner dimension C*k*k is then short, */
#define DIRECT_MAX_FILTERS 8    /* and its rows F few: below both, direct loops win (docs/performance.md) */
#define UNROLLED_MAX_FLOATS (1 << 24) /* Wu's floats, rebuilt in every pass: VGG-16's 512-channel 2x2 layers have 4M */
static dcnn_conv_algorithm auto_algorithm(const conv2d *l) {
  const dcnn_conv_geometry *g = &l->geometry;
  if (l->kernel == 1) return DCNN_CONV_GEMM_1X1;
  /* A plane smaller than the kernel: Wu's inner dimension C*H*W is shorter than im2col's C*k*k. */
  if ((int64_t)g->height * g->width < (int64_t)l->kernel * l->kernel &&
      dcnn__conv_unrolled_floats(g, l->filters) <= UNROLLED_MAX_FLOATS && !inapplicable(l, DCNN_CONV_UNROLLED_GEMM))
    return DCNN_CONV_UNROLLED_GEMM;
  if (g->channels <= DIRECT_MAX_CHANNELS && l->filters <= DIRECT_MAX_FILTERS && l->stride == 1) return DCNN_CONV_DIRECT;
  /* On a 1x1 output plane only the centre tap meets pixels: not worth a transform. */
  if (g->channels >= WINOGRAD_MIN_CHANNELS && dcnn__winograd_applies(4, g) && g->out_height * g->out_width > 1)
    return g->out_height >= WINOGRAD_4X4_MIN_SIDE && g->out_width >= WINOGRAD_4X4_MIN_SIDE ? DCNN_CONV_WINOGRAD_4X4
                                                                                          : DCNN_CONV_WINOGRAD_2X2;
  return DCNN_CONV_IM2COL_GEMM;
}

static dcnn_status conv2d_build(void *self, dcnn_context *ctx, const dcnn_shape *in, dcnn_shape *out) {
  conv2d *l = self;
  DCNN_TRY(dcnn__window_geometry("conv2d", in, l->kernel, l->stride, l->padding, &l->geometry));
  const dcnn_conv_geometry *g = &l->geometry;
  /* The im2col rows and output planes are indexed with int32: refuse shapes that would overflow it. */
  DCNN_CHECK((int64_t)g->channels * l->kernel * l->kernel <= INT32_MAX &&
                 (int64_t)g->out_height * g->out_width <= INT32_MAX,
             DCNN_ERR_SHAPE_MISMATCH, "conv2d: %d channels with a %dx%d kernel exceed 2^31-1 values per window",
             (int)g->channels, (int)l->kernel, (int)l->kernel);
  const char *why = inapplicable(l, l->requested);
  DCNN_CHECK(why == NULL, DCNN_ERR_UNSUPPORTED, "conv2d: the forced algorithm '%s' does not apply to a %dx%d kernel "
             "with stride %d: %s", algorithm_names[l->requested], (int)l->kernel, (int)l->kernel, (int)l->stride, why);
  l->algorithm = l->requested == DCNN_CONV_AUTO ? auto_algorithm(l) : l->requested;
  l->ctx = ctx;
  const int32_t kernel_dims[4] = {l->filters, g->channels, l->kernel, l->kernel};
  DCNN_TRY(dcnn__weight_bias_build(conv2d_tensors(l), ctx, "conv2d", l->filters, 4, kernel_dims));
  *out = dcnn_shape_make(4, 1, l->filters, g->out_height, g->out_width);
  return DCNN_OK;
}

/* The model plans its workspace with sized_workspace for `algorithm`: from
 * now on a different algorithm could need more than it got. A conv fusing
 * with a linked batch norm gets its plane moments for max_batch here. */
static int fuses(const conv2d *l);
static dcnn_status conv2d_plan(void *self, dcnn_context *ctx, int32_t max_batch) {
  conv2d *l = self;
  l->planned = 1;
  if (fuses(l) && max_batch > l->moments_capacity) {
    (void)ctx; /* the build's, like the weights */
    dcnn__release(l->ctx, l->moments);
    l->moments_of = NULL;
    l->moments_capacity = 0;
    l->moments = dcnn__alloc(l->ctx, (size_t)max_batch * (size_t)l->filters * 2 * sizeof(double));
    DCNN_CHECK(l->moments != NULL, DCNN_ERR_OUT_OF_MEMORY, "conv2d: out of memory for the batch norm's moments");
    l->moments_capacity = max_batch;
  }
  return DCNN_OK;
}

/* Images are processed in groups small enough that a group's im2col matrix
 * stays in a core's L2 cache; with at least as many groups as threads, each
 * thread takes whole groups with private scratch (no barriers inside a layer),
 * otherwise the groups run one after another with the GEMMs split over threads. */
#define CONV_GROUP_BYTES (2 << 20)
/* From this many output pixels per image on, one GEMM per image is efficient
 * and writes NCHW directly; below it, a group's images share one GEMM and the
 * result is reordered (for 1x1 layers: the small planes at the end of
 * ResNet-50 and MobileNetV2, where per-image GEMMs would be tiny). */
#define DIRECT_PLANE 256

/* The images of the group starting at `first`: min(group, batch - first), with no
 * first + group that overflows int for batches near INT32_MAX. */
static int32_t images_from(int32_t batch, int32_t first, int32_t group) {
  return batch - first < group ? batch - first : group;
}

/* plan_groups' images per group at most (group_size's cap: a group's im2col
 * matrix within CONV_GROUP_BYTES). */
static int64_t group_cap(const conv2d *l) {
  const dcnn_conv_geometry *g = &l->geometry;
  const int64_t per_image = (int64_t)g->channels * g->kernel * g->kernel * g->out_height * g->out_width * 4;
  const int64_t images = CONV_GROUP_BYTES / (per_image ? per_image : 1);
  return images < 1 ? 1 : images;
}

static int32_t group_size(const conv2d *l, int32_t batch, int32_t threads) {
  const int64_t images = group_cap(l);
  if (images >= batch) return batch;
  /* Several groups run in lanes, one lane per thread: as many groups per lane
   * and as equal as possible (32 images in groups of 28 would leave one
   * thread 28 images and the other 4). */
  int64_t groups = (batch + images - 1) / images;
  if (threads > 1 && groups % threads) groups += threads - groups % threads;
  return (int32_t)((batch + groups - 1) / groups);
}

static int64_t round_floats(int64_t n) { return (n + 15) / 16 * 16; }

/* gemm_1x1 on a stride-1 layer with large planes: the GEMMs read x and write
 * dx in place, no im2col matrix at all. */
static int straight_1x1(const conv2d *l) {
  const dcnn_conv_geometry *g = &l->geometry;
  return l->algorithm == DCNN_CONV_GEMM_1X1 && l->stride == 1 && (int64_t)g->out_height * g->out_width >= DIRECT_PLANE;
}

typedef struct conv_scratch {
  int32_t group, groups, lanes; /* images per group, number of groups, private scratch lanes */
  int64_t lane_floats;
  float *col, *mat, *dw;  /* lane 0; lane i is lane_floats further */
  float *packed;               /* direct: the weights packed for its kernel, shared by the lanes */
} conv_scratch;

/* im2col_gemm and gemm_1x1 (and direct's backward): per lane col (C*k*k, n*P), mat (F, n*P), dw (F, C*k*k). */
static conv_scratch plan_groups(const conv2d *l, int32_t batch, int32_t threads, float *base) {
  const dcnn_conv_geometry *g = &l->geometry;
  conv_scratch s;
  s.group = group_size(l, batch, threads);
  s.groups = (int32_t)(((int64_t)batch + s.group - 1) / s.group); /* batch may be INT32_MAX */
  s.lanes = s.groups >= threads ? threads : 1;
  const int64_t columns = (int64_t)s.group * g->out_height * g->out_width;
  const int64_t rows = (int64_t)g->channels * g->kernel * g->kernel;
  const int straight = straight_1x1(l);
  const int64_t col = straight ? 0 : round_floats(rows * columns);
  const int64_t mat = straight ? 0 : round_floats((int64_t)l->filters * columns);
  const int64_t dw = round_floats((int64_t)l->filters * rows);
  s.lane_floats = col + mat + dw;
  s.col = base;
  s.mat = base ? base + col : NULL;
  s.dw = base ? base + col + mat : NULL;
  s.packed = NULL;
  return s;
}

/* direct forward: the packed weights wp, then per lane xp (C, PH, PW). Its
 * backward runs by im2col + GEMM (plan_groups). */
static conv_scratch plan_direct(const conv2d *l, int32_t batch, int32_t threads, float *base) {
  conv_scratch s;
  s.group = 1;
  s.groups = batch;
  s.lanes = batch < threads ? batch : threads;
  const int64_t wp = round_floats(dcnn__conv_direct_packed_floats(&l->geometry, l->filters));
  s.lane_floats = round_floats(dcnn__conv_direct_padded_floats(&l->geometry));
  s.packed = base;
  s.col = base ? base + wp : NULL;
  s.mat = s.dw = NULL;
  return s;
}

/* Whether the output pass with the linked batch norm runs (conv_bn.h): only
 * where it saves memory traffic, i.e. where the conv finishes its output one
 * image at a time while the image is in cache (per-image GEMMs on planes of
 * DIRECT_PLANE pixels or more, direct) and planes are large enough for the
 * per-plane work to beat the batch norm's own loops. Winograd and
 * unrolled_gemm write the whole batch at once: the output pass would read it
 * back from memory, as the batch norm does. Measured in docs/performance.md. */
static int fuses(const conv2d *l) {
  if (!l->follower) return 0;
  if (l->fuse_always) return 1;
  const int64_t plane = (int64_t)l->geometry.out_height * l->geometry.out_width;
  return plane >= DIRECT_PLANE && (l->algorithm == DCNN_CONV_IM2COL_GEMM || l->algorithm == DCNN_CONV_GEMM_1X1 ||
                                   l->algorithm == DCNN_CONV_DIRECT);
}

static int32_t winograd_tile(const conv2d *l) { return l->algorithm == DCNN_CONV_WINOGRAD_2X2 ? 2 : 4; }

/* The inference session's cache of a Winograd conv (dcnn_exec.cache): the
 * header, then a copy of the weights (F, C, 3, 3) the filters were
 * transformed from, then U (P, F, C). At batch 1 the transform cost a quarter
 * of the paper CNN's inference; the copy makes reuse safe however the weights
 * change between calls (an optimizer step, a loaded file, a user's write). */
typedef struct filter_cache {
  int32_t tile;    /* 2 or 4 once filled; 0: empty */
  int32_t filters; /* F and C when filled */
  int32_t channels;
  int32_t unused;
} filter_cache;

static int is_winograd(const conv2d *l) {
  return l->algorithm == DCNN_CONV_WINOGRAD_2X2 || l->algorithm == DCNN_CONV_WINOGRAD_4X4;
}

static int64_t conv2d_inference_cache_size(const void *self) {
  const conv2d *l = self;
  if (!l->weight || !is_winograd(l)) return 0;
  const int64_t floats = l->weight->count + dcnn__winograd_filter_floats(winograd_tile(l), &l->geometry, l->filters);
  return (int64_t)sizeof(filter_cache) + floats * (int64_t)sizeof(float);
}

/* The transformed filters in the session's cache, transformed again only when
 * the weights differ from the copy; NULL without a cache that fits (then the
 * kernel transforms them in its workspace as in training). */
static const float *cached_filters(const conv2d *l, const dcnn_exec *exec, int32_t threads,
                                   const dcnn_conv_geometry *g) {
  if (!exec->cache || exec->cache_owner != l || dcnn_exec_training(exec) || dcnn_exec_backward_follows(exec))
    return NULL;
  if (exec->cache_size < conv2d_inference_cache_size(l)) return NULL; /* made for another algorithm */
  filter_cache *head = exec->cache;
  float *copy = (float *)(head + 1); /* (F, C, 3, 3) */
  const int64_t weights = l->weight->count;
  float *u = copy + weights; /* (P, F, C) */
  const int32_t tile = winograd_tile(l);
  const size_t bytes = (size_t)weights * sizeof(float);
  if (head->tile == tile && head->filters == l->filters && head->channels == g->channels &&
      memcmp(copy, l->weight->data, bytes) == 0)
    return u;
  head->tile = 0; /* empty until both parts are written */
  dcnn__winograd_forward_filters(threads, tile, g, l->filters, l->weight->data, u);
  memcpy(copy, l->weight->data, bytes);
  head->tile = tile;
  head->filters = l->filters;
  head->channels = g->channels;
  return u;
}

/* Floats of scratch one pass needs for `batch` images with `threads` threads. */
static int64_t pass_floats(const conv2d *l, int32_t batch, int32_t threads, int backward) {
  switch (l->algorithm) {
    case DCNN_CONV_UNROLLED_GEMM: {
      dcnn_conv_geometry g = l->geometry;
      g.batch = batch;
      return round_floats(dcnn__conv_unrolled_scratch_floats(&g, l->filters, threads, backward));
    }
    case DCNN_CONV_WINOGRAD_2X2:
    case DCNN_CONV_WINOGRAD_4X4: {
      dcnn_conv_geometry g = l->geometry;
      g.batch = batch;
      const int32_t tile = winograd_tile(l);
      int64_t most = dcnn__winograd_workspace_floats(tile, &g, l->filters, DCNN_WINOGRAD_FORWARD, threads);
      for (int p = DCNN_WINOGRAD_BACKWARD_DATA; backward && p <= DCNN_WINOGRAD_BACKWARD_WEIGHTS; ++p) {
        const int64_t n = dcnn__winograd_workspace_floats(tile, &g, l->filters, (dcnn_winograd_pass)p, threads);
        if (n > most) most = n;
      }
      return round_floats(most);
    }
    default: {
      if (l->algorithm == DCNN_CONV_DIRECT && !backward) { /* direct's backward is im2col + GEMM's */
        conv_scratch s = plan_direct(l, batch, threads, NULL);
        return round_floats(dcnn__conv_direct_packed_floats(&l->geometry, l->filters)) + s.lanes * s.lane_floats;
      }
      conv_scratch s = plan_groups(l, batch, threads, NULL);
      return s.lanes * s.lane_floats;
    }
  }
}

/* Batches up to this one are each sized exactly (conv2d_sized_workspace). */
#define EVERY_BATCH_UP_TO 4096

/* Bytes of scratch for batches up to max_batch with `threads` lanes at most.
 * The lanes and the images per group depend on the batch, and not
 * monotonically (226 images in 4 groups of 57 need more than 256 in 5 of 52;
 * powers of two alone missed such batches). plan_groups' need is largest at
 * batch min(cap, max_batch) among batches up to the cap `images` (one lane,
 * the group is the batch) and at min(images x threads, max_batch) beyond it
 * (`threads` lanes; a group of ceil(batch / threads) images up to images x
 * threads, never more than `images` past it). The other plans never need
 * less for a larger batch (Winograd's reserves bounds that grow with it,
 * direct's lanes grow up to the threads, unrolled_gemm's ignores it):
 * max_batch covers them. Every batch up to EVERY_BATCH_UP_TO is sized too,
 * a check of that reasoning where it is cheap; the rest is a few closed-form
 * sizes, whatever max_batch and threads are. */
static int64_t conv2d_sized_workspace(const void *self, int32_t max_batch, int32_t threads, int inference) {
  const conv2d *l = self;
  if (max_batch < 1) return 0;
  const int64_t images = group_cap(l), lanes = threads > 1 ? threads : 1;
  const int64_t special[3] = {images < max_batch ? images : max_batch,
                              images * lanes < max_batch ? images * lanes : max_batch, max_batch};
  const int32_t every = max_batch < EVERY_BATCH_UP_TO ? max_batch : EVERY_BATCH_UP_TO;
  int64_t most = 0;
  for (int32_t k = 0; k < every + 3; ++k) {
    const int32_t b = k < every ? k + 1 : (int32_t)special[k - every];
    int64_t n = pass_floats(l, b, threads, 0);
    if (n > most) most = n;
    if (!inference && (n = pass_floats(l, b, threads, 1)) > most) most = n;
  }
  return most * (int64_t)sizeof(float);
}

static int64_t conv2d_workspace(const void *self, int32_t max_batch) {
  return conv2d_sized_workspace(self, max_batch, dcnn_context_threads(((const conv2d *)self)->ctx), 0);
}

/* The workspace of this call, or DCNN_ERR_INVALID_STATE when it was sized for
 * fewer threads, a smaller batch or another algorithm than the call runs with. */
static dcnn_status take_workspace(const conv2d *l, dcnn_exec *exec, const char *pass, int32_t batch, int32_t threads,
                                  int backward, float **base) {
  int64_t size = 0;
  *base = dcnn_exec_workspace(exec, &size);
  const int64_t needed = pass_floats(l, batch, threads, backward) * (int64_t)sizeof(float);
  DCNN_CHECK(needed == 0 || (*base != NULL && size >= needed), DCNN_ERR_INVALID_STATE,
             "conv2d %s (%s): the workspace has %lld bytes, batch %d with %d threads needs %lld", pass,
             algorithm_names[l->algorithm], (long long)size, (int)batch, (int)threads, (long long)needed);
  return DCNN_OK;
}

/* y (N, F, P) += b (F), each (image, filter) row by one thread. */
static void add_bias(const conv2d *l, int32_t threads, int32_t batch, float *y) {
  const int64_t plane = (int64_t)l->geometry.out_height * l->geometry.out_width, rows = (int64_t)batch * l->filters;
  const float *b = l->bias->data;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && rows * plane >= (1 << 16))
  for (int64_t r = 0; r < rows; ++r) {
    float *dst = y + r * plane;
    const float v = b[r % l->filters];
    for (int64_t p = 0; p < plane; ++p) dst[p] += v;
  }
}

/* The output pass over images [first, first + count) of y (N, F, P) when a
 * batch norm is linked: the bias, then the plane moments (training) or the
 * batch norm's inference affine and ReLU (fold); each plane by one lane. */
static void finish_images(const conv2d *l, epilogue_mode mode, int32_t threads, float *y, int32_t first, int32_t count,
                          int with_bias) {
  const int64_t plane = (int64_t)l->geometry.out_height * l->geometry.out_width, rows = (int64_t)count * l->filters;
  const int64_t at = (int64_t)first * l->filters; /* first plane */
  const float *b = with_bias && l->use_bias ? l->bias->data : NULL;
  double *moments = l->moments;
  const dcnn_layer *bn = l->follower;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && rows * plane >= (1 << 16))
  for (int64_t r = 0; r < rows; ++r) {
    const int32_t f = (int32_t)(r % l->filters);
    float *dst = y + (at + r) * plane; /* (P) */
    const float bias = b ? b[f] : 0.0f;
    if (mode == EPILOGUE_MOMENTS) {
      dcnn__plane_moments(dst, plane, bias, b != NULL, &moments[2 * (at + r)], &moments[2 * (at + r) + 1]);
    } else {
      float scale, shift, floor;
      dcnn__batchnorm_eval_affine(bn, f, &scale, &shift, &floor);
      dcnn__plane_affine(dst, plane, bias, scale, shift, floor);
    }
  }
}

/* db (F) = sum over images and pixels of dy (N, F, P), each filter by one thread in image order. */
static void bias_gradient(const conv2d *l, int32_t threads, int32_t batch, const float *dy) {
  const int64_t plane = (int64_t)l->geometry.out_height * l->geometry.out_width;
  float *db = l->bias_grad->data;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && (int64_t)batch * l->filters * plane >= (1 << 16))
  for (int32_t f = 0; f < l->filters; ++f) {
    float sum = 0.0f;
    for (int32_t n = 0; n < batch; ++n) {
      const float *row = dy + ((int64_t)n * l->filters + f) * plane;
      for (int64_t p = 0; p < plane; ++p) sum += row[p];
    }
    db[f] = sum;
  }
}

/* The GEMMs' right-hand side for images [first, first + count): (C*k*k, n*P)
 * in col. gemm_1x1 needs no im2col: stride 1 is a reordering, stride 2 picks
 * every other pixel (im2col with a 1x1 window). */
static void gather(const conv2d *l, int32_t threads, const dcnn_conv_geometry *g, const float *x, float *col) {
  if (l->algorithm == DCNN_CONV_GEMM_1X1 && l->stride == 1)
    dcnn__nchw_to_cnp(threads, x, g->batch, g->channels, g->height * g->width, col);
  else
    dcnn__im2col(threads, g, x, col);
}

/* Forward for images [first, first + count) with scratch `col`/`mat`; fails
 * only when OpenBLAS has no buffer for this thread (see dcnn__sgemm). */
static dcnn_status forward_group(const conv2d *l, epilogue_mode mode, int32_t threads, const float *x, float *y,
                                 int32_t first, int32_t count, float *col, float *mat) {
  dcnn_conv_geometry g = l->geometry;
  g.batch = count;
  const int32_t rows = g.channels * g.kernel * g.kernel, plane = g.out_height * g.out_width;
  const int32_t columns = count * plane;
  const float *in = x + (int64_t)first * g.channels * g.height * g.width;
  float *out = y + (int64_t)first * l->filters * plane;
  if (straight_1x1(l)) {
    /* y_n (F, P) = W (F, C) x_n (C, P), straight on the activations. */
    for (int32_t n = 0; n < count; ++n) {
      DCNN_TRY(dcnn__sgemm(threads, 0, 0, l->filters, plane, rows, 1.0f, l->weight->data, rows,
                           in + (int64_t)n * rows * plane, plane, 0.0f, out + (int64_t)n * l->filters * plane, plane));
      if (mode != EPILOGUE_NONE) finish_images(l, mode, threads, y, first + n, 1, 1); /* while the image is in cache */
    }
    return DCNN_OK;
  }
  gather(l, threads, &g, in, col);
  if (plane >= DIRECT_PLANE) {
    /* y_n (F, P) = W (F, K) col[:, n*P : (n+1)*P]: straight into NCHW. */
    for (int32_t n = 0; n < count; ++n) {
      DCNN_TRY(dcnn__sgemm(threads, 0, 0, l->filters, plane, rows, 1.0f, l->weight->data, rows,
                           col + (int64_t)n * plane, columns, 0.0f, out + (int64_t)n * l->filters * plane, plane));
      if (mode != EPILOGUE_NONE) finish_images(l, mode, threads, y, first + n, 1, 1);
    }
  } else {
    /* mat (F, n*P) = W (F, K) col (K, n*P), then reordered to NCHW. */
    DCNN_TRY(dcnn__sgemm(threads, 0, 0, l->filters, columns, rows, 1.0f, l->weight->data, rows, col, columns, 0.0f,
                         mat, columns));
    dcnn__cnp_to_nchw(threads, mat, count, l->filters, plane, out);
    if (mode != EPILOGUE_NONE) finish_images(l, mode, threads, y, first, count, 1);
  }
  return DCNN_OK;
}

static dcnn_status forward_groups(const conv2d *l, epilogue_mode mode, int32_t batch, int32_t threads, float *base,
                                  const float *x, float *y) {
  conv_scratch s = plan_groups(l, batch, threads, base);
  if (s.lanes > 1) {
    int32_t refused = 0; /* groups OpenBLAS had no buffer for (reported below, on the calling thread) */
    /* Lanes are loop iterations, not team members: a smaller team (thread
     * limit, dynamic adjustment, a caller's parallel region) runs several
     * lanes one after another with the same groups and scratch each. */
#pragma omp parallel for num_threads(s.lanes) schedule(static, 1) reduction(+ : refused)
    for (int32_t lane = 0; lane < s.lanes; ++lane) {
      float *col = s.col + lane * s.lane_floats, *mat = s.mat + lane * s.lane_floats;
      for (int64_t gi = lane; gi < s.groups; gi += s.lanes) {
        const int32_t first = (int32_t)(gi * s.group), count = images_from(batch, first, s.group);
        refused += forward_group(l, mode, 1, x, y, first, count, col, mat) != DCNN_OK;
      }
    }
    if (refused) return dcnn__blas_unavailable();
  } else {
    for (int32_t first = 0, count; first < batch; first += count) {
      count = images_from(batch, first, s.group);
      DCNN_TRY(forward_group(l, mode, threads, x, y, first, count, s.col, s.mat));
    }
  }
  return DCNN_OK;
}

/* direct: images split over lanes, each padded into the lane's xp. */
static void forward_direct(const conv2d *l, epilogue_mode mode, int32_t batch, int32_t threads, float *base,
                           const float *x, float *y) {
  const dcnn_conv_geometry *g = &l->geometry;
  conv_scratch s = plan_direct(l, batch, threads, base);
  const int64_t in = (int64_t)g->channels * g->height * g->width, out = (int64_t)l->filters * g->out_height * g->out_width;
  const float *bias = l->use_bias ? l->bias->data : NULL;
  dcnn__conv_direct_pack(g, l->filters, l->weight->data, s.packed);
#pragma omp parallel for num_threads(s.lanes) schedule(static, 1) if (s.lanes > 1)
  for (int32_t lane = 0; lane < s.lanes; ++lane) {
    float *xp = s.col + lane * s.lane_floats;
    for (int64_t n = lane; n < batch; n += s.lanes) { /* int64: n + lanes passes INT32_MAX for the largest batches */
      dcnn__conv_direct_pad(g, x + n * in, xp);
      dcnn__conv_direct_forward(g, 0, l->filters, s.packed, bias, xp, y + n * out);
      if (mode != EPILOGUE_NONE) finish_images(l, mode, 1, y, (int32_t)n, 1, 0); /* the kernel added the bias */
    }
  }
}

static dcnn_status conv2d_forward(void *self, dcnn_exec *exec, const dcnn_tensor *x, dcnn_tensor *y) {
  conv2d *l = self;
  const int32_t batch = x->shape.dims[0], threads = dcnn_exec_threads(exec);
  float *base = NULL;
  DCNN_TRY(take_workspace(l, exec, "forward", batch, threads, 0, &base));
  /* With a linked batch norm: its moments (training, when planned for this
   * batch) or, when the runner skips it (exec.fold), its inference output. */
  if (dcnn_exec_backward_follows(exec)) l->moments_of = NULL; /* sessions' forwards leave the layer untouched */
  epilogue_mode mode = EPILOGUE_NONE;
  if (fuses(l) && dcnn_exec_training(exec) && batch <= l->moments_capacity) mode = EPILOGUE_MOMENTS;
  else if (fuses(l) && !dcnn_exec_training(exec) && exec->fold) mode = EPILOGUE_FOLD;
  DCNN_CHECK(!exec->fold || mode == EPILOGUE_FOLD, DCNN_ERR_INVALID_STATE,
             "conv2d: asked to fold a batch norm it is not linked to, or in training");
  switch (l->algorithm) {
    case DCNN_CONV_WINOGRAD_2X2:
    case DCNN_CONV_WINOGRAD_4X4: {
      dcnn_conv_geometry g = l->geometry;
      g.batch = batch;
      const float *u = cached_filters(l, exec, threads, &g);
      if (u)
        DCNN_TRY(dcnn__winograd_forward_transformed(threads, winograd_tile(l), &g, l->filters, u, x->data, y->data,
                                                    base));
      else
        DCNN_TRY(dcnn__winograd_forward(threads, winograd_tile(l), &g, l->filters, l->weight->data, x->data,
                                        y->data, base));
      break;
    }
    case DCNN_CONV_DIRECT: forward_direct(l, mode, batch, threads, base, x->data, y->data); break; /* bias included */
    case DCNN_CONV_UNROLLED_GEMM: {
      dcnn_conv_geometry g = l->geometry;
      g.batch = batch;
      DCNN_TRY(dcnn__conv_unrolled_forward(threads, &g, l->filters, l->weight->data, x->data, y->data, base));
      break;
    }
    default: DCNN_TRY(forward_groups(l, mode, batch, threads, base, x->data, y->data)); break;
  }
  /* Winograd and unrolled run the whole batch at once; the others finished their images already. */
  const int whole_batch = l->algorithm == DCNN_CONV_WINOGRAD_2X2 || l->algorithm == DCNN_CONV_WINOGRAD_4X4 ||
                          l->algorithm == DCNN_CONV_UNROLLED_GEMM;
  if (mode != EPILOGUE_NONE && whole_batch) finish_images(l, mode, threads, y->data, 0, batch, 1);
  else if (mode == EPILOGUE_NONE && l->use_bias && l->algorithm != DCNN_CONV_DIRECT) add_bias(l, threads, batch, y->data);
  if (mode == EPILOGUE_MOMENTS) {
    l->moments_of = y->data;
    l->moments_batch = batch;
  }
  return DCNN_OK;
}

/* The clock for the profile's split of a backward pass (0 when `spent` is NULL). */
static double split_clock(const double *spent) { return spent ? dcnn__now() : 0; }

/* Backward for images [first, first + count): accumulates dW into the lane's
 * partial sums (beta = 1) and writes dx for these images. Profiled (`spent`
 * not NULL): adds this thread's seconds of data-gradient work to spent[0] and
 * of weight-gradient work (with the im2col and reshaping it shares) to spent[1]. */
static dcnn_status backward_group(const conv2d *l, int32_t threads, const float *x, const float *dy, float *dx,
                           int32_t first, int32_t count, float *col, float *mat, float *dw, double *spent) {
  dcnn_conv_geometry g = l->geometry;
  g.batch = count;
  const int32_t rows = g.channels * g.kernel * g.kernel, plane = g.out_height * g.out_width;
  const int32_t columns = count * plane;
  const int64_t in_image = (int64_t)g.channels * g.height * g.width;
  const float *grad = dy + (int64_t)first * l->filters * plane;
  if (straight_1x1(l)) {
    for (int32_t n = 0; n < count; ++n) {
      const float *dy_n = grad + (int64_t)n * l->filters * plane; /* (F, P) */
      const double t0 = split_clock(spent);
      /* dW (F, C) += dy_n (F, P) x_n^T, x_n (C, P) */
      DCNN_TRY(dcnn__sgemm(threads, 0, 1, l->filters, rows, plane, 1.0f, dy_n, plane,
                           x + (first + n) * in_image, plane, 1.0f, dw, rows));
      const double t1 = split_clock(spent);
      /* dx_n (C, P) = W^T (C, F) dy_n */
      if (dx)
        DCNN_TRY(dcnn__sgemm(threads, 1, 0, rows, plane, l->filters, 1.0f, l->weight->data, rows, dy_n, plane, 0.0f,
                             dx + (first + n) * in_image, plane));
      if (spent) {
        spent[1] += t1 - t0;
        spent[0] += split_clock(spent) - t1;
      }
    }
    return DCNN_OK;
  }
  const double t0 = split_clock(spent);
  const int direct = plane >= DIRECT_PLANE;
  gather(l, threads, &g, x + first * in_image, col);
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
  const double t1 = split_clock(spent);
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
    if (l->algorithm == DCNN_CONV_GEMM_1X1 && l->stride == 1) /* a 1x1 window reads each pixel once */
      dcnn__cnp_to_nchw(threads, col, count, g.channels, plane, dx + first * in_image);
    else
      dcnn__col2im(threads, &g, col, dx + first * in_image);
  }
  if (spent) {
    spent[1] += t1 - t0;
    spent[0] += split_clock(spent) - t1;
  }
  return DCNN_OK;
}

/* `spent` as in backward_group: summed over the lanes' threads (profiling only). */
static dcnn_status backward_groups(const conv2d *l, int32_t batch, int32_t threads, const conv_scratch *sp,
                                   const float *x, const float *dy, float *dx, double *spent) {
  const conv_scratch s = *sp;
  if (s.lanes > 1) {
    /* As in forward: which groups a lane sums into its dW depends on the lane
     * count only, whatever team the runtime grants. */
    int32_t refused = 0; /* as in forward */
    double data_seconds = 0, weight_seconds = 0;
#pragma omp parallel for num_threads(s.lanes) schedule(static, 1) reduction(+ : refused, data_seconds, weight_seconds)
    for (int32_t lane = 0; lane < s.lanes; ++lane) {
      const int64_t at = lane * s.lane_floats;
      double mine[2] = {0, 0};
      for (int64_t gi = lane; gi < s.groups; gi += s.lanes) {
        const int32_t first = (int32_t)(gi * s.group), count = images_from(batch, first, s.group);
        refused += backward_group(l, 1, x, dy, dx, first, count, s.col + at, s.mat + at, s.dw + at,
                                  spent ? mine : NULL) != DCNN_OK;
      }
      data_seconds += mine[0];
      weight_seconds += mine[1];
    }
    if (refused) return dcnn__blas_unavailable();
    if (spent) {
      spent[0] += data_seconds;
      spent[1] += weight_seconds;
    }
  } else {
    for (int32_t first = 0, count; first < batch; first += count) {
      count = images_from(batch, first, s.group);
      DCNN_TRY(backward_group(l, threads, x, dy, dx, first, count, s.col, s.mat, s.dw, spent));
    }
  }
  return DCNN_OK;
}

static dcnn_status conv2d_backward(void *self, dcnn_exec *exec, const dcnn_tensor *x, const dcnn_tensor *y,
                                   const dcnn_tensor *dy, dcnn_tensor *dx) {
  (void)y;
  conv2d *l = self;
  const int32_t batch = x->shape.dims[0], threads = dcnn_exec_threads(exec);
  const int64_t weights = l->weight_grad->count;
  float *base = NULL, *dx_data = dx ? dx->data : NULL;
  DCNN_TRY(take_workspace(l, exec, "backward", batch, threads, 1, &base));
  /* Profiled: the weight gradient's wall seconds go to the profile's split. */
  const double t0 = dcnn__exec_clock(exec);
  if (l->algorithm == DCNN_CONV_WINOGRAD_2X2 || l->algorithm == DCNN_CONV_WINOGRAD_4X4) {
    dcnn_conv_geometry g = l->geometry;
    g.batch = batch;
    DCNN_TRY(dcnn__winograd_backward_weights(threads, winograd_tile(l), &g, l->filters, x->data, dy->data,
                                             l->weight_grad->data, base));
    if (l->use_bias) bias_gradient(l, threads, batch, dy->data);
    dcnn__exec_add_weight_seconds(exec, dcnn__exec_clock(exec) - t0);
    if (dx_data)
      DCNN_TRY(dcnn__winograd_backward_data(threads, winograd_tile(l), &g, l->filters, l->weight->data, dy->data,
                                            dx_data, base));
    return DCNN_OK;
  }
  if (l->algorithm == DCNN_CONV_UNROLLED_GEMM) {
    dcnn_conv_geometry g = l->geometry;
    g.batch = batch;
    DCNN_TRY(dcnn__conv_unrolled_backward_weights(threads, &g, l->filters, x->data, dy->data, l->weight_grad->data,
                                                  base));
    if (l->use_bias) bias_gradient(l, threads, batch, dy->data);
    dcnn__exec_add_weight_seconds(exec, dcnn__exec_clock(exec) - t0);
    if (dx_data)
      DCNN_TRY(dcnn__conv_unrolled_backward_data(threads, &g, l->filters, l->weight->data, dy->data, dx_data, base));
    return DCNN_OK;
  }
  /* im2col_gemm, gemm_1x1 and direct (whose backward is im2col + GEMM's). */
  conv_scratch s = plan_groups(l, batch, threads, base);
  for (int32_t lane = 0; lane < s.lanes; ++lane) memset(s.dw + lane * s.lane_floats, 0, (size_t)weights * sizeof(float));
  double spent[2] = {0, 0}; /* profiled: threads' seconds of data and weight work, interleaved per image group */
  DCNN_TRY(backward_groups(l, batch, threads, &s, x->data, dy->data, dx_data, exec && exec->split ? spent : NULL));
  const double t1 = dcnn__exec_clock(exec);
  /* Partial sums are added in lane order, so the result depends only on the thread count. */
  float *dw = l->weight_grad->data;
  memcpy(dw, s.dw, (size_t)weights * sizeof(float));
  for (int32_t lane = 1; lane < s.lanes; ++lane) {
    const float *part = s.dw + lane * s.lane_floats;
    for (int64_t i = 0; i < weights; ++i) dw[i] += part[i];
  }
  if (l->use_bias) bias_gradient(l, threads, batch, dy->data);
  /* The groups' wall time is shared out as their threads' time was. */
  const double both = spent[0] + spent[1], weight_share = both > 0 ? spent[1] / both : 1;
  dcnn__exec_add_weight_seconds(exec, (t1 - t0) * weight_share + (dcnn__exec_clock(exec) - t1));
  return DCNN_OK;
}

static int32_t conv2d_param_count(const void *self) { return ((const conv2d *)self)->use_bias ? 2 : 1; }

static dcnn_status conv2d_param(void *self, int32_t index, dcnn_param *out) {
  return dcnn__weight_bias_param(conv2d_tensors(self), index, out);
}

static dcnn_status conv2d_init(void *self, uint64_t seed) {
  conv2d *l = self;
  int64_t area = (int64_t)l->kernel * l->kernel;
  return dcnn__weight_bias_init(conv2d_tensors(l), l->geometry.channels * area, l->filters * area, seed);
}

static dcnn_status conv2d_describe(const void *self, char *buf, int32_t size) {
  const conv2d *l = self;
  snprintf(buf, (size_t)size, "filters=%d kernel=%d stride=%d padding=%s bias=%d", (int)l->filters,
           (int)l->kernel, (int)l->stride, dcnn__padding_name(l->padding), l->use_bias);
  return DCNN_OK;
}

static int64_t conv2d_flops(const void *self) {
  const conv2d *l = self;
  const dcnn_conv_geometry *g = &l->geometry;
  return (int64_t)l->filters * g->out_height * g->out_width * g->channels * g->kernel * g->kernel;
}

static void conv2d_destroy(void *self) {
  conv2d *l = self;
  dcnn__release(l->ctx, l->moments);
  dcnn__weight_bias_destroy(conv2d_tensors(l));
  dcnn__release(NULL, l); /* dcnn__new_layer */
}

static const char *conv2d_algorithm(const void *self) {
  const conv2d *l = self;
  return algorithm_names[l->weight ? l->algorithm : l->requested]; /* built: resolved */
}

static const dcnn_layer_vtable conv2d_vtable = {
    .abi_version = DCNN_LAYER_ABI_VERSION,
    .flags = DCNN_LAYER_SHARED_INFERENCE,
    .type_name = "conv2d",
    .build = conv2d_build,
    .workspace_size = conv2d_workspace,
    .plan = conv2d_plan,
    .forward = conv2d_forward,
    .backward = conv2d_backward,
    .param_count = conv2d_param_count,
    .param = conv2d_param,
    .init_params = conv2d_init,
    .describe = conv2d_describe,
    .flops = conv2d_flops,
    .destroy = conv2d_destroy,
};

dcnn_status dcnn_conv2d_create(int32_t filters, int32_t kernel, int32_t stride, dcnn_padding padding,
                               dcnn_bias_mode bias, dcnn_layer **out) {
  DCNN_CHECK_ARG(out);
  *out = NULL;
  DCNN_CHECK(filters >= 1 && kernel >= 1 && stride >= 1, DCNN_ERR_INVALID_ARGUMENT,
             "conv2d: filters (%d), kernel (%d) and stride (%d) must be at least 1", (int)filters, (int)kernel,
             (int)stride);
  DCNN_CHECK(filters <= DCNN__CONFIG_SIZE_LIMIT && kernel <= DCNN__WINDOW_LIMIT && stride <= DCNN__WINDOW_LIMIT,
             DCNN_ERR_INVALID_ARGUMENT, "conv2d: filters (%d) must be at most %d, kernel (%d) and stride (%d) at most "
             "%d (what a model file holds)", (int)filters, DCNN__CONFIG_SIZE_LIMIT, (int)kernel, (int)stride,
             DCNN__WINDOW_LIMIT);
  DCNN_CHECK(dcnn__padding_known(padding), DCNN_ERR_INVALID_ARGUMENT,
             "conv2d: unknown padding %d (DCNN_PADDING_VALID, _SAME or _SAME_LOWER)", (int)padding);
  DCNN_CHECK(bias == DCNN_NO_BIAS || bias == DCNN_WITH_BIAS, DCNN_ERR_INVALID_ARGUMENT,
             "conv2d: unknown bias mode %d (DCNN_NO_BIAS or DCNN_WITH_BIAS)", (int)bias);
  conv2d *l;
  DCNN_TRY(dcnn__new_layer(&conv2d_vtable, sizeof *l, out, (void **)&l));
  (*out)->sized_workspace = conv2d_sized_workspace;
  (*out)->algorithm = conv2d_algorithm;
  (*out)->inference_cache_size = conv2d_inference_cache_size;
  l->filters = filters;
  l->kernel = kernel;
  l->stride = stride;
  l->padding = padding;
  l->use_bias = bias == DCNN_WITH_BIAS;
  return DCNN_OK;
}

dcnn_status dcnn_conv2d_set_algorithm(dcnn_layer *layer, dcnn_conv_algorithm algorithm) {
  DCNN_CHECK_ARG(layer);
  DCNN_CHECK(layer->vt == &conv2d_vtable, DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_conv2d_set_algorithm: the layer is a '%s', not a conv2d", layer->vt->type_name);
  DCNN_CHECK((int)algorithm >= DCNN_CONV_AUTO && (int)algorithm <= DCNN_CONV_UNROLLED_GEMM, DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_conv2d_set_algorithm: unknown algorithm %d", (int)algorithm);
  conv2d *l = layer->self;
  /* a planned layer may be "set" to what it runs: nothing changes (dcnn_model_set_conv_algorithm's AUTO) */
  if (l->planned && layer->built && !inapplicable(l, algorithm) &&
      (algorithm == DCNN_CONV_AUTO ? auto_algorithm(l) : algorithm) == l->algorithm)
    return DCNN_OK;
  DCNN_CHECK(!l->planned, DCNN_ERR_INVALID_STATE,
             "dcnn_conv2d_set_algorithm: the model already planned this layer's workspace for '%s'; choose the "
             "algorithm before the first step, prediction or dcnn_model_reserve",
             algorithm_names[l->algorithm]);
  if (layer->built) {
    const char *why = inapplicable(l, algorithm);
    DCNN_CHECK(why == NULL, DCNN_ERR_UNSUPPORTED,
               "dcnn_conv2d_set_algorithm: '%s' does not apply to this conv2d (%dx%d kernel, stride %d, %d input "
               "channels): %s", algorithm_names[algorithm], (int)l->kernel, (int)l->kernel, (int)l->stride,
               (int)l->geometry.channels, why);
    l->algorithm = algorithm == DCNN_CONV_AUTO ? auto_algorithm(l) : algorithm;
  }
  l->requested = algorithm;
  return DCNN_OK;
}

/* Forces `algorithm` on the conv2d layers of a chain, residual blocks included, where it applies. */
static dcnn_status force_chain(dcnn_layer *const *layers, int32_t count, dcnn_conv_algorithm algorithm,
                               int32_t *applied) {
  for (int32_t i = 0; i < count; ++i) {
    dcnn_layer *const *parts[2];
    int32_t counts[2];
    int relu = 0;
    if (dcnn__residual_parts(layers[i], parts, counts, &relu)) {
      for (int p = 0; p < 2; ++p) DCNN_TRY(force_chain(parts[p], counts[p], algorithm, applied));
    } else if (layers[i]->vt == &conv2d_vtable && layers[i]->built &&
               !inapplicable(layers[i]->self, algorithm)) {
      DCNN_TRY(dcnn_conv2d_set_algorithm(layers[i], algorithm));
      ++*applied;
    }
  }
  return DCNN_OK;
}

void dcnn__conv2d_fix_algorithms(dcnn_layer *const *layers, int32_t count) {
  for (int32_t i = 0; i < count; ++i) {
    dcnn_layer *const *parts[2];
    int32_t counts[2];
    int relu = 0;
    if (dcnn__residual_parts(layers[i], parts, counts, &relu)) {
      for (int p = 0; p < 2; ++p) dcnn__conv2d_fix_algorithms(parts[p], counts[p]);
    } else if (layers[i]->vt == &conv2d_vtable) {
      ((conv2d *)layers[i]->self)->planned = 1;
    }
  }
}

dcnn_status dcnn_model_set_conv_algorithm(dcnn_model *model, dcnn_conv_algorithm algorithm, int32_t *applied) {
  if (applied) *applied = 0;
  DCNN_CHECK_ARG(model);
  DCNN_CHECK((int)algorithm >= DCNN_CONV_AUTO && (int)algorithm <= DCNN_CONV_UNROLLED_GEMM, DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_model_set_conv_algorithm: unknown algorithm %d", (int)algorithm);
  int32_t count = 0;
  for (int32_t i = 0; i < dcnn_model_layer_count(model); ++i) {
    dcnn_layer *layer = dcnn_model_layer(model, i);
    const dcnn_status status = force_chain(&layer, 1, algorithm, &count);
    if (status != DCNN_OK) return dcnn__wrap_error(status, "dcnn_model_set_conv_algorithm: layer %d", (int)i);
  }
  if (applied) *applied = count;
  return DCNN_OK;
}

/* The builtin table's factory (builtin_table.c): the keys conv2d_describe writes. */
dcnn_status dcnn__conv2d_from_config(const char *config, void *user, dcnn_layer **out) {
  (void)user;
  dcnn__kv kv = dcnn__kv_reader(config);
  int32_t filters = 0, kernel = 0, stride = 0, bias = 0;
  dcnn_padding padding = DCNN_PADDING_VALID;
  DCNN_TRY(dcnn__kv_int(&kv, "filters", 1, DCNN__CONFIG_SIZE_LIMIT, &filters));
  DCNN_TRY(dcnn__kv_int(&kv, "kernel", 1, DCNN__WINDOW_LIMIT, &kernel));
  DCNN_TRY(dcnn__kv_int(&kv, "stride", 1, DCNN__WINDOW_LIMIT, &stride));
  DCNN_TRY(dcnn__kv_padding(&kv, &padding));
  DCNN_TRY(dcnn__kv_int(&kv, "bias", 0, 1, &bias));
  DCNN_TRY(dcnn__kv_finish(&kv));
  return dcnn_conv2d_create(filters, kernel, stride, padding, bias ? DCNN_WITH_BIAS : DCNN_NO_BIAS, out);
}

int dcnn__layer_is_conv2d(const dcnn_layer *layer) { return layer && layer->vt == &conv2d_vtable; }

void dcnn__conv2d_set_follower(dcnn_layer *conv, const dcnn_layer *bn, int always) {
  if (!dcnn__layer_is_conv2d(conv)) return;
  conv2d *l = conv->self;
  l->follower = bn;
  l->fuse_always = always != 0;
}

int dcnn__conv_bn_folds(const dcnn_layer *a, const dcnn_layer *b) {
  return dcnn__layer_is_conv2d(a) && b && ((const conv2d *)a->self)->follower == b && fuses(a->self);
}

const double *dcnn__conv2d_take_moments(const dcnn_layer *conv, const float *y, int32_t batch) {
  if (!dcnn__layer_is_conv2d(conv)) return NULL;
  conv2d *l = conv->self;
  if (!l->moments_of || l->moments_of != y || l->moments_batch != batch) return NULL;
  l->moments_of = NULL;
  return l->moments;
}
