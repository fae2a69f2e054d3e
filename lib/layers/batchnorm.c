/* BatchNorm over channels of (N, C, H, W) or features of (N, F):
 *   y = gamma * (x - mean) / sqrt(var + eps) + beta
 * Training: batch statistics (biased variance for normalising, unbiased for the
 * running estimate); inference: running statistics. The "batchnorm_relu" type
 * fuses a following ReLU. Each channel is one lane, reduced in a fixed order
 * (lib/kernels/batchnorm.c), so results do not depend on the thread count. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/c_locale.h"
#include "../kernels/pointwise.h"
#include "conv_bn.h"
#include "layer_internal.h"

typedef struct batchnorm {
  float momentum, epsilon;
  int relu; /* fused ReLU: y = max(0, bn(x)); saves a pass over memory each way */
  int32_t channels, spatial; /* C and H*W (1 for 2-D input) */
  dcnn_tensor *gamma, *beta, *gamma_grad, *beta_grad, *running_mean, *running_var;
  dcnn_tensor *batch_mean, *batch_invstd; /* (C): statistics of the last training forward */
  const dcnn_layer *producer; /* the conv2d gathering this layer's moments (conv_bn.h), or NULL */
  double synced_count;        /* values per channel over all processes in the last synchronised forward */
  /* Synchronised statistics' scratch, allocated at build so that a step
   * allocates nothing: (4C + 1) doubles, see synced_forward / synced_backward. */
  double *sync;
  dcnn_context *ctx; /* of `sync` */
} batchnorm;

static dcnn_status batchnorm_build(void *self, dcnn_context *ctx, const dcnn_shape *in, dcnn_shape *out) {
  batchnorm *l = self;
  char text[64];
  DCNN_CHECK(in->ndim == 4 || in->ndim == 2, DCNN_ERR_SHAPE_MISMATCH,
             "batchnorm: expects (N, C, H, W) or (N, F) input, got %s", dcnn_shape_format(in, text, sizeof text));
  const int64_t spatial = in->ndim == 4 ? (int64_t)in->dims[2] * in->dims[3] : 1; /* int64: no overflow on crafted shapes */
  DCNN_CHECK(spatial <= INT32_MAX, DCNN_ERR_SHAPE_MISMATCH, "batchnorm: input %s has planes of more than 2^31-1 values",
             dcnn_shape_format(in, text, sizeof text));
  l->channels = in->dims[1];
  l->spatial = (int32_t)spatial;
  const char *name = "batchnorm";
  dcnn_tensor **tensors[] = {&l->gamma, &l->beta, &l->gamma_grad, &l->beta_grad, &l->running_mean,
                             &l->running_var, &l->batch_mean, &l->batch_invstd};
  for (size_t i = 0; i < sizeof tensors / sizeof tensors[0]; ++i)
    DCNN_TRY(dcnn__param_tensor(ctx, tensors[i], name, "statistics", 1, l->channels, 0, 0, 0));
  dcnn__release(l->ctx, l->sync);
  l->ctx = ctx;
  l->sync = dcnn__calloc(ctx, 4 * (size_t)l->channels + 1, sizeof(double));
  DCNN_CHECK(l->sync != NULL, DCNN_ERR_OUT_OF_MEMORY, "batchnorm: out of memory");
  *out = *in;
  return DCNN_OK;
}

/* Features per lane for (N, F) input: their per-feature sums live on the stack. */
#define FEATURE_BLOCK 64

/* The scale and shift of channel c: y = x * scale + shift (then the ReLU). */
static void channel_affine(const batchnorm *l, int32_t c, float mean, float invstd, float *scale, float *shift) {
  *scale = l->gamma->data[c] * invstd;
  *shift = l->beta->data[c] - mean * *scale;
}

/* Channel c's mean and 1/std: in training from its moments about `origin`
 * over m values (also updating the running statistics), else the running ones. */
static void set_statistics(batchnorm *l, int32_t c, double m, double mean_d, double sq, float *mean, float *invstd);
static void channel_statistics(batchnorm *l, int training, int32_t c, double m, float origin, double sum, double sum_sq,
                               float *mean, float *invstd) {
  if (!training) {
    *mean = l->running_mean->data[c];
    *invstd = 1.0f / sqrtf(l->running_var->data[c] + l->epsilon);
    return;
  }
  const double offset = sum / m;
  const double sq = fmax(sum_sq - sum * offset, 0.0); /* sum of squared deviations */
  set_statistics(l, c, m, (double)origin + offset, sq, mean, invstd);
}

/* Channel c's training statistics from the conv's plane moments (n planes of
 * p values: mean, sum of squared deviations), combined in image order. */
static void combined_statistics(batchnorm *l, int32_t c, int32_t n, int32_t p, const double *planes, float *mean,
                                float *invstd) {
  const int64_t stride = 2 * (int64_t)l->channels; /* planes: (n, C, 2) */
  double sum = 0;
  for (int32_t i = 0; i < n; ++i) sum += planes[i * stride + 2 * c];
  const double mu = sum / n;
  double sq = 0; /* within the planes, then between them */
  for (int32_t i = 0; i < n; ++i) {
    const double d = planes[i * stride + 2 * c] - mu;
    sq += planes[i * stride + 2 * c + 1] + (double)p * d * d;
  }
  set_statistics(l, c, (double)n * p, mu, sq, mean, invstd);
}

/* Keeps channel c's batch mean and 1/std (from the sum of squared deviations
 * `sq` over m values) and updates the running statistics. */
static void set_statistics(batchnorm *l, int32_t c, double m, double mean_d, double sq, float *mean, float *invstd) {
  *mean = (float)mean_d;
  *invstd = (float)(1.0 / sqrt(sq / m + (double)l->epsilon));
  l->batch_mean->data[c] = *mean;
  l->batch_invstd->data[c] = *invstd;
  float *rmean = l->running_mean->data, *rvar = l->running_var->data;
  rmean[c] = l->momentum * rmean[c] + (1.0f - l->momentum) * *mean;
  rvar[c] = l->momentum * rvar[c] + (1.0f - l->momentum) * (float)(sq / (m - 1));
}

/* Mean of one plane x (p), summed in double: the shift of a channel's moments. */
static float first_plane_mean(const float *x, int32_t p) {
  double sum = 0;
  for (int32_t i = 0; i < p; ++i) sum += x[i];
  return (float)(sum / p);
}

/* Mean and 1/std kept by the forward pass (training) or the running ones. */
static void saved_statistics(const batchnorm *l, int training, int32_t c, float *mean, float *invstd) {
  *mean = training ? l->batch_mean->data[c] : l->running_mean->data[c];
  *invstd = training ? l->batch_invstd->data[c] : 1.0f / sqrtf(l->running_var->data[c] + l->epsilon);
}

/* ---- Synchronised batch norm (data-parallel training, docs/distributed.md):
 * the statistics are those of the global batch, summed over the processes,
 * so that a job of any size normalises as one process with the whole batch
 * would. Channel c's values start at x + c p (p = H*W, or 1 for (N, F)
 * input, whose channels are the columns) with rows `stride` apart. ---- */

static dcnn_status synced_forward(batchnorm *l, dcnn_exec *exec, const dcnn_tensor *x, dcnn_tensor *y) {
  const int32_t n = x->shape.dims[0], c_n = l->channels, p_n = l->spatial, threads = dcnn_exec_threads(exec);
  const int64_t stride = (int64_t)c_n * p_n;
  const float floor = l->relu ? 0.0f : -INFINITY;
  if (l->producer) (void)dcnn__conv2d_take_moments(l->producer, x->data, n); /* local moments: not used here */
  /* acc: (C + 1) sums and the count, then (C) shifted sums and (C) shifted squares, (C) shifts */
  double *acc = l->sync;
  double *sum = acc, *shifted = acc + c_n + 1, *squares = shifted + c_n, *origin = squares + c_n;
  /* Pass 1: the global mean; pass 2: moments about it (their digits do not cancel). */
#pragma omp parallel for num_threads(threads) if (threads > 1 && (int64_t)n * p_n * c_n > 16384) schedule(static)
  for (int32_t c = 0; c < c_n; ++c) {
    double unused;
    dcnn__bn_channel_moments(x->data + (int64_t)c * p_n, n, stride, p_n, 0.0f, &sum[c], &unused);
  }
  sum[c_n] = (double)n * p_n; /* the count rides along in the first all-reduce */
  dcnn_status status = dcnn__exec_allreduce(exec, sum, c_n + 1);
  const double m = sum[c_n];
  if (status == DCNN_OK && !(m > 1))
    status = dcnn__fail(DCNN_ERR_SHAPE_MISMATCH, "batchnorm: training needs more than one value per channel "
                        "(global batch of %g values)", m);
  if (status == DCNN_OK) {
#pragma omp parallel for num_threads(threads) if (threads > 1 && (int64_t)n * p_n * c_n > 16384) schedule(static)
    for (int32_t c = 0; c < c_n; ++c) {
      origin[c] = (double)(float)(sum[c] / m);
      dcnn__bn_channel_moments(x->data + (int64_t)c * p_n, n, stride, p_n, (float)origin[c], &shifted[c],
                               &squares[c]);
    }
    status = dcnn__exec_allreduce(exec, shifted, 2 * (int64_t)c_n);
  }
  if (status == DCNN_OK) {
    l->synced_count = m;
#pragma omp parallel for num_threads(threads) if (threads > 1 && (int64_t)n * p_n * c_n > 16384) schedule(static)
    for (int32_t c = 0; c < c_n; ++c) {
      float mean, invstd, scale, shift;
      channel_statistics(l, 1, c, m, (float)origin[c], shifted[c], squares[c], &mean, &invstd);
      channel_affine(l, c, mean, invstd, &scale, &shift);
      dcnn__bn_channel_apply(x->data + (int64_t)c * p_n, y->data + (int64_t)c * p_n, n, stride, p_n, scale, shift,
                             floor);
    }
  }
  return status;
}

static dcnn_status synced_backward(batchnorm *l, dcnn_exec *exec, const dcnn_tensor *x, const dcnn_tensor *dy,
                                   dcnn_tensor *dx) {
  const int32_t n = x->shape.dims[0], c_n = l->channels, p_n = l->spatial, threads = dcnn_exec_threads(exec);
  const int64_t stride = (int64_t)c_n * p_n;
  const float floor = l->relu ? 0.0f : -INFINITY;
  double *sums = l->sync; /* (C, 2): sum(g), sum(g (x - mean)); the forward's sums are no longer needed */
#pragma omp parallel for num_threads(threads) if (threads > 1 && (int64_t)n * p_n * c_n > 16384) schedule(static)
  for (int32_t c = 0; c < c_n; ++c) {
    float mean, invstd, scale, shift;
    saved_statistics(l, 1, c, &mean, &invstd);
    channel_affine(l, c, mean, invstd, &scale, &shift);
    dcnn__bn_channel_grad_sums(x->data + (int64_t)c * p_n, dy->data + (int64_t)c * p_n, n, stride, p_n, scale, shift,
                               floor, mean, &sums[2 * c], &sums[2 * c + 1]);
    /* gamma's and beta's gradients: this process's part (the trainer sums them with the others) */
    l->gamma_grad->data[c] = (float)((double)invstd * sums[2 * c + 1]);
    l->beta_grad->data[c] = (float)sums[2 * c];
  }
  dcnn_status status = dcnn__exec_allreduce(exec, sums, 2 * (int64_t)c_n);
  if (status == DCNN_OK && dx) {
    const double m = l->synced_count;
#pragma omp parallel for num_threads(threads) if (threads > 1 && (int64_t)n * p_n * c_n > 16384) schedule(static)
    for (int32_t c = 0; c < c_n; ++c) {
      float mean, invstd, scale, shift;
      saved_statistics(l, 1, c, &mean, &invstd);
      channel_affine(l, c, mean, invstd, &scale, &shift);
      const double sum_g = sums[2 * c], sum_g_xhat = (double)invstd * sums[2 * c + 1];
      /* dx = gamma invstd (g - mean(g) - xhat mean(g xhat)), the means global */
      const float k = l->gamma->data[c] * invstd, a = (float)(sum_g / m), b = (float)((double)invstd * sum_g_xhat / m);
      dcnn__bn_channel_backward(x->data + (int64_t)c * p_n, dy->data + (int64_t)c * p_n, dx->data + (int64_t)c * p_n,
                                n, stride, p_n, scale, shift, floor, k, a, mean, b);
    }
  }
  return status;
}

static dcnn_status batchnorm_forward(void *self, dcnn_exec *exec, const dcnn_tensor *x, dcnn_tensor *y) {
  batchnorm *l = self;
  if (dcnn__exec_distributed(exec)) return synced_forward(l, exec, x, y);
  const int32_t n = x->shape.dims[0], c_n = l->channels, p_n = l->spatial, threads = dcnn_exec_threads(exec);
  const int training = dcnn_exec_training(exec);
  const int64_t m = (int64_t)n * p_n, stride = (int64_t)c_n * p_n;
  DCNN_CHECK(!training || m > 1, DCNN_ERR_SHAPE_MISMATCH,
             "batchnorm: training needs more than one value per channel (batch %d)", (int)n);
  const float floor = l->relu ? 0.0f : -INFINITY;
  if (p_n == 1) {
    const int32_t blocks = (c_n + FEATURE_BLOCK - 1) / FEATURE_BLOCK;
#pragma omp parallel for num_threads(threads) if (threads > 1 && m * c_n > 16384) schedule(static)
    for (int32_t k = 0; k < blocks; ++k) {
      const int32_t c0 = k * FEATURE_BLOCK, count = c_n - c0 < FEATURE_BLOCK ? c_n - c0 : FEATURE_BLOCK;
      float origin[FEATURE_BLOCK], scale[FEATURE_BLOCK], shift[FEATURE_BLOCK];
      double sum[FEATURE_BLOCK], sum_sq[FEATURE_BLOCK];
      memcpy(origin, x->data + c0, (size_t)count * sizeof(float)); /* the first row */
      if (training) {
        dcnn__bn_rows_moments(x->data + c0, n, stride, count, origin, sum, sum_sq);
      } else { /* unused in inference */
        memset(sum, 0, sizeof sum);
        memset(sum_sq, 0, sizeof sum_sq);
      }
      for (int32_t j = 0; j < count; ++j) {
        float mean, invstd;
        channel_statistics(l, training, c0 + j, (double)m, origin[j], sum[j], sum_sq[j], &mean, &invstd);
        channel_affine(l, c0 + j, mean, invstd, &scale[j], &shift[j]);
      }
      dcnn__bn_rows_apply(x->data + c0, y->data + c0, n, stride, count, scale, shift, floor);
    }
    return DCNN_OK;
  }
  /* The conv before this layer may have gathered the moments already (conv_bn.h). */
  const double *planes = training && l->producer ? dcnn__conv2d_take_moments(l->producer, x->data, n) : NULL;
#pragma omp parallel for num_threads(threads) if (threads > 1 && m * c_n > 16384) schedule(static)
  for (int32_t c = 0; c < c_n; ++c) {
    const float *src = x->data + (int64_t)c * p_n;
    float mean, invstd, scale, shift;
    if (planes) {
      combined_statistics(l, c, n, p_n, planes, &mean, &invstd);
    } else {
      /* One read for both moments, shifted by the mean of the channel's first
       * plane so that a large mean does not cancel the variance's digits (a
       * single value could be an outlier far from the mean, whose squared
       * offset would then swamp the float sums). */
      double sum = 0, sum_sq = 0;
      const float origin = training ? first_plane_mean(src, p_n) : 0.0f;
      if (training) dcnn__bn_channel_moments(src, n, stride, p_n, origin, &sum, &sum_sq);
      channel_statistics(l, training, c, (double)m, origin, sum, sum_sq, &mean, &invstd);
    }
    channel_affine(l, c, mean, invstd, &scale, &shift);
    dcnn__bn_channel_apply(src, y->data + (int64_t)c * p_n, n, stride, p_n, scale, shift, floor);
  }
  return DCNN_OK;
}

/* Channel c's gradients from sum(g) and sum(g (x - mean)): writes gamma's and
 * beta's and returns the coefficients of dx = k (g - a - (x - mean) b). */
static void channel_gradients(batchnorm *l, int training, int32_t c, double m, float invstd, double sum_g,
                              double sum_gxc, float *k, float *a, float *b) {
  const double sum_g_xhat = (double)invstd * sum_gxc; /* sum(g * xhat) */
  l->gamma_grad->data[c] = (float)sum_g_xhat;
  l->beta_grad->data[c] = (float)sum_g;
  /* training: dx = gamma invstd (g - mean(g) - xhat mean(g xhat)); inference: dx = gamma invstd g */
  *k = l->gamma->data[c] * invstd;
  *a = training ? (float)(sum_g / m) : 0.0f;
  *b = training ? (float)((double)invstd * sum_g_xhat / m) : 0.0f;
}

/* Backward reads x and dy twice (the reductions, then dx) and never y: the
 * fused ReLU's mask is recomputed from x with the forward's arithmetic. */
static dcnn_status batchnorm_backward(void *self, dcnn_exec *exec, const dcnn_tensor *x, const dcnn_tensor *y,
                                      const dcnn_tensor *dy, dcnn_tensor *dx) {
  (void)y;
  batchnorm *l = self;
  if (dcnn__exec_distributed(exec)) return synced_backward(l, exec, x, dy, dx);
  const int32_t n = x->shape.dims[0], c_n = l->channels, p_n = l->spatial, threads = dcnn_exec_threads(exec);
  const int training = dcnn_exec_training(exec);
  const double m = (double)n * p_n;
  const int64_t stride = (int64_t)c_n * p_n;
  const float floor = l->relu ? 0.0f : -INFINITY;
  if (p_n == 1) {
    const int32_t blocks = (c_n + FEATURE_BLOCK - 1) / FEATURE_BLOCK;
#pragma omp parallel for num_threads(threads) if (threads > 1 && m * c_n > 16384) schedule(static)
    for (int32_t q = 0; q < blocks; ++q) {
      const int32_t c0 = q * FEATURE_BLOCK, count = c_n - c0 < FEATURE_BLOCK ? c_n - c0 : FEATURE_BLOCK;
      float mean[FEATURE_BLOCK], invstd[FEATURE_BLOCK], scale[FEATURE_BLOCK], shift[FEATURE_BLOCK], k[FEATURE_BLOCK],
          a[FEATURE_BLOCK], b[FEATURE_BLOCK];
      double sum_g[FEATURE_BLOCK], sum_gx[FEATURE_BLOCK];
      for (int32_t j = 0; j < count; ++j) {
        saved_statistics(l, training, c0 + j, &mean[j], &invstd[j]);
        channel_affine(l, c0 + j, mean[j], invstd[j], &scale[j], &shift[j]);
      }
      dcnn__bn_rows_grad_sums(x->data + c0, dy->data + c0, n, stride, count, scale, shift, floor, mean, sum_g,
                              sum_gx);
      for (int32_t j = 0; j < count; ++j)
        channel_gradients(l, training, c0 + j, m, invstd[j], sum_g[j], sum_gx[j], &k[j], &a[j], &b[j]);
      if (dx)
        dcnn__bn_rows_backward(x->data + c0, dy->data + c0, dx->data + c0, n, stride, count, scale, shift, floor, k,
                               a, mean, b);
    }
    return DCNN_OK;
  }
#pragma omp parallel for num_threads(threads) if (threads > 1 && m * c_n > 16384) schedule(static)
  for (int32_t c = 0; c < c_n; ++c) {
    float mean, invstd, scale, shift, k, a, b;
    saved_statistics(l, training, c, &mean, &invstd);
    channel_affine(l, c, mean, invstd, &scale, &shift);
    const float *xs = x->data + (int64_t)c * p_n, *gs = dy->data + (int64_t)c * p_n;
    double sum_g, sum_gx;
    dcnn__bn_channel_grad_sums(xs, gs, n, stride, p_n, scale, shift, floor, mean, &sum_g, &sum_gx);
    channel_gradients(l, training, c, m, invstd, sum_g, sum_gx, &k, &a, &b);
    if (dx)
      dcnn__bn_channel_backward(xs, gs, dx->data + (int64_t)c * p_n, n, stride, p_n, scale, shift, floor, k, a, mean,
                                b);
  }
  return DCNN_OK;
}

static int32_t batchnorm_param_count(const void *self) {
  (void)self;
  return 4;
}

static dcnn_status batchnorm_param(void *self, int32_t index, dcnn_param *out) {
  batchnorm *l = self;
  const uint32_t trainable = DCNN_PARAM_TRAINABLE | DCNN_PARAM_NO_DECAY;
  switch (index) {
    case 0: *out = (dcnn_param){sizeof *out, "gamma", l->gamma, l->gamma_grad, trainable}; break;
    case 1: *out = (dcnn_param){sizeof *out, "beta", l->beta, l->beta_grad, trainable}; break;
    case 2: *out = (dcnn_param){sizeof *out, "running_mean", l->running_mean, NULL, DCNN_PARAM_BUFFER}; break;
    default: *out = (dcnn_param){sizeof *out, "running_var", l->running_var, NULL, DCNN_PARAM_BUFFER}; break;
  }
  return DCNN_OK;
}

static dcnn_status batchnorm_init(void *self, uint64_t seed) {
  (void)seed;
  batchnorm *l = self;
  DCNN_TRY(dcnn_tensor_fill(l->gamma, 1.0f));
  DCNN_TRY(dcnn_tensor_fill(l->beta, 0.0f));
  DCNN_TRY(dcnn_tensor_fill(l->running_mean, 0.0f));
  return dcnn_tensor_fill(l->running_var, 1.0f);
}

static dcnn_status batchnorm_describe(const void *self, char *buf, int32_t size) {
  const batchnorm *l = self;
  char momentum[32], epsilon[32];
  dcnn__format_double(momentum, sizeof momentum, 9, (double)l->momentum);
  dcnn__format_double(epsilon, sizeof epsilon, 9, (double)l->epsilon);
  snprintf(buf, (size_t)size, "momentum=%s epsilon=%s", momentum, epsilon);
  return DCNN_OK;
}

static int64_t batchnorm_flops(const void *self) {
  const batchnorm *l = self;
  return (int64_t)l->channels * l->spatial;
}

static void batchnorm_destroy(void *self) {
  batchnorm *l = self;
  dcnn_tensor *tensors[] = {l->gamma, l->beta, l->gamma_grad, l->beta_grad, l->running_mean,
                            l->running_var, l->batch_mean, l->batch_invstd};
  for (size_t i = 0; i < sizeof tensors / sizeof tensors[0]; ++i) dcnn_tensor_destroy(tensors[i]);
  dcnn__release(l->ctx, l->sync);
  dcnn__release(NULL, l); /* dcnn__new_layer */
}

static const dcnn_layer_vtable batchnorm_relu_vtable = {
    .abi_version = DCNN_LAYER_ABI_VERSION,
    .flags = DCNN_LAYER_SHARED_INFERENCE | DCNN_LAYER_BATCH_STATISTICS,
    .type_name = "batchnorm_relu",
    .build = batchnorm_build,
    .forward = batchnorm_forward,
    .backward = batchnorm_backward,
    .param_count = batchnorm_param_count,
    .param = batchnorm_param,
    .init_params = batchnorm_init,
    .describe = batchnorm_describe,
    .flops = batchnorm_flops,
    .destroy = batchnorm_destroy,
};

static const dcnn_layer_vtable batchnorm_vtable = {
    .abi_version = DCNN_LAYER_ABI_VERSION,
    .flags = DCNN_LAYER_SHARED_INFERENCE | DCNN_LAYER_BATCH_STATISTICS,
    .type_name = "batchnorm",
    .build = batchnorm_build,
    .forward = batchnorm_forward,
    .backward = batchnorm_backward,
    .param_count = batchnorm_param_count,
    .param = batchnorm_param,
    .init_params = batchnorm_init,
    .describe = batchnorm_describe,
    .flops = batchnorm_flops,
    .destroy = batchnorm_destroy,
};

static dcnn_status create(const dcnn_layer_vtable *vt, float momentum, float epsilon, dcnn_layer **out) {
  DCNN_CHECK_ARG(out);
  *out = NULL;
  DCNN_CHECK(momentum >= 0.0f && momentum < 1.0f, DCNN_ERR_INVALID_ARGUMENT,
             "batchnorm: momentum %g is outside [0, 1)", (double)momentum);
  DCNN_CHECK(epsilon > 0.0f && isfinite(epsilon), DCNN_ERR_INVALID_ARGUMENT,
             "batchnorm: epsilon %g must be positive", (double)epsilon);
  batchnorm *l;
  DCNN_TRY(dcnn__new_layer(vt, sizeof *l, out, (void **)&l));
  l->momentum = momentum;
  l->epsilon = epsilon;
  l->relu = vt == &batchnorm_relu_vtable;
  return DCNN_OK;
}

dcnn_status dcnn_batchnorm_create(float momentum, float epsilon, dcnn_layer **out) {
  return create(&batchnorm_vtable, momentum, epsilon, out);
}

dcnn_status dcnn_batchnorm_relu_create(float momentum, float epsilon, dcnn_layer **out) {
  return create(&batchnorm_relu_vtable, momentum, epsilon, out);
}

/* The keys batchnorm_describe writes, for both types' factories. */
static dcnn_status read_config(const char *config, float *momentum, float *epsilon) {
  dcnn__kv kv = dcnn__kv_reader(config);
  DCNN_TRY(dcnn__kv_float(&kv, "momentum", momentum));
  DCNN_TRY(dcnn__kv_float(&kv, "epsilon", epsilon));
  /* Values create() refuses are a malformed configuration (BAD_FORMAT naming the key), not a bad argument. */
  DCNN_CHECK(*momentum >= 0.0f && *momentum < 1.0f, DCNN_ERR_BAD_FORMAT, "'momentum=%g' is outside [0, 1)",
             (double)*momentum);
  DCNN_CHECK(*epsilon > 0.0f, DCNN_ERR_BAD_FORMAT, "'epsilon=%g' is not positive", (double)*epsilon);
  return dcnn__kv_finish(&kv);
}

/* The builtin table's factories (builtin_table.c). */
dcnn_status dcnn__batchnorm_from_config(const char *config, void *user, dcnn_layer **out) {
  (void)user;
  float momentum = 0, epsilon = 0;
  DCNN_TRY(read_config(config, &momentum, &epsilon));
  return dcnn_batchnorm_create(momentum, epsilon, out);
}

dcnn_status dcnn__batchnorm_relu_from_config(const char *config, void *user, dcnn_layer **out) {
  (void)user;
  float momentum = 0, epsilon = 0;
  DCNN_TRY(read_config(config, &momentum, &epsilon));
  return dcnn_batchnorm_relu_create(momentum, epsilon, out);
}

int dcnn__layer_is_batchnorm(const dcnn_layer *layer) {
  return layer && (layer->vt == &batchnorm_vtable || layer->vt == &batchnorm_relu_vtable);
}

const dcnn_tensor *dcnn__batchnorm_variance(const dcnn_layer *layer) {
  return dcnn__layer_is_batchnorm(layer) ? ((const batchnorm *)layer->self)->running_var : NULL;
}

void dcnn__batchnorm_set_producer(dcnn_layer *bn, const dcnn_layer *conv) {
  if (dcnn__layer_is_batchnorm(bn)) ((batchnorm *)bn->self)->producer = conv;
}

void dcnn__batchnorm_eval_affine(const dcnn_layer *bn, int32_t c, float *scale, float *shift, float *floor) {
  const batchnorm *l = bn->self;
  float mean, invstd;
  saved_statistics(l, 0, c, &mean, &invstd);
  channel_affine(l, c, mean, invstd, scale, shift);
  *floor = l->relu ? 0.0f : -INFINITY;
}
