/* Mixup (Zhang et al. 2018) and cutmix (Yun et al. 2019) of a training batch
 * (issue #19): sample i is blended with (mixup) or gets a box pasted from
 * (cutmix) its partner (i + k) mod N (i its position in the global batch
 * of N, also in a job of several processes), and its target becomes
 *   t_i = lam s(y_i) + (1 - lam) s(y_partner),  s(y) = (1 - e) onehot(y) + e / K,
 * lam ~ Beta(alpha, alpha) (cutmix: then the box's true share). The numbers
 * come from (seed, epoch, step): a resumed epoch mixes as the uninterrupted one. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "digitcnn/random.h"
#include "train_internal.h"

#define MIX_LABEL 0x4D495855ull /* "MIXU": keeps these numbers apart from shuffling's and augmentation's */

typedef struct mix_draws {
  uint64_t seed, next;
} mix_draws;

static double draw_uniform(mix_draws *d) { return dcnn_random_uniform(d->seed, 1, d->next++); }
static double draw_normal(mix_draws *d) { return dcnn_random_normal(d->seed, 2, d->next++); }

/* Gamma(a, 1) by Marsaglia and Tsang (a < 1: Gamma(a + 1) U^(1/a)); bounded tries, then the mean. Also its
 * logarithm (*log_value), which stays finite where U^(1/a) underflows (alpha below about 0.01). */
static double draw_gamma(mix_draws *d, double a, double *log_value) {
  if (a < 1.0) {
    const double u = draw_uniform(d);
    double log_g = 0;
    const double g = draw_gamma(d, a + 1.0, &log_g);
    *log_value = log_g + log(u > 1e-300 ? u : 1e-300) / a;
    return g * pow(u > 1e-12 ? u : 1e-12, 1.0 / a);
  }
  const double dd = a - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * dd);
  for (int attempt = 0; attempt < 64; ++attempt) {
    const double x = draw_normal(d), v0 = 1.0 + c * x;
    if (v0 <= 0) continue;
    const double v = v0 * v0 * v0, u = draw_uniform(d);
    if (u < 1.0 - 0.0331 * x * x * x * x || log(u > 1e-300 ? u : 1e-300) < 0.5 * x * x + dd * (1.0 - v + log(v))) {
      *log_value = log(dd * v);
      return dd * v;
    }
  }
  *log_value = log(a);
  return a;
}

/* Beta(a, a) = X / (X + Y): from the logarithms when either draw is not a normal number (small alpha; the
 * ratio of underflowed draws was 0 / 0, taken as 0.5, the most mixing where almost none is meant). */
static double draw_beta(mix_draws *d, double a) {
  double log_x = 0, log_y = 0;
  const double x = draw_gamma(d, a, &log_x), y = draw_gamma(d, a, &log_y);
  if (x >= DBL_MIN && y >= DBL_MIN) return x / (x + y);
  const double gap = log_y - log_x; /* NaN when both are -inf (alpha below about 1e-307): an even draw */
  return gap == gap ? 1.0 / (1.0 + exp(gap)) : 0.5;
}

int dcnn__trainer_mixing(const dcnn_trainer *t) {
  return t->options[DCNN_TRAIN_MIXUP] > 0 || t->options[DCNN_TRAIN_CUTMIX] > 0;
}

static dcnn_status grow(dcnn_trainer *t, void **buffer, int64_t *capacity, int64_t bytes) {
  if (bytes <= *capacity) return DCNN_OK;
  void *fresh = dcnn__alloc(t->ctx, (size_t)bytes);
  DCNN_CHECK(fresh != NULL, DCNN_ERR_OUT_OF_MEMORY, "trainer: out of memory for mixing a batch");
  dcnn__release(t->ctx, *buffer);
  *buffer = fresh;
  *capacity = bytes;
  return DCNN_OK;
}

/* The global batch (global, sample) pixels, then its (global) labels as
 * floats (exact below 2^24), into `all`: each process writes its slice into
 * zeros and one all-reduce sums them (x + 0 is exact). */
static dcnn_status gather_batch(const dcnn__shard *shard, const dcnn_tensor *x, const int32_t *labels, int64_t sample,
                                float *all) {
  const int64_t global = shard->global, local = x->shape.dims[0];
  memset(all, 0, (size_t)(global * (sample + 1)) * sizeof(float));
  memcpy(all + shard->offset * sample, x->data, (size_t)(local * sample) * sizeof(float));
  for (int64_t i = 0; i < local; ++i) all[global * sample + shard->offset + i] = (float)labels[i];
  return dcnn__comm_allreduce(shard->comm, all, global * (sample + 1), DCNN_COMM_FLOAT32);
}

dcnn_status dcnn__trainer_mix_batch(dcnn_trainer *t, dcnn_tensor *x, const int32_t *labels, int32_t classes,
                                    int32_t epoch, int32_t step, const dcnn__shard *shard, const float **targets,
                                    const int32_t **dominant) {
  /* cutmix pastes a (H, W) box of every channel: it needs (N, C, H, W) input */
  DCNN_CHECK(t->options[DCNN_TRAIN_CUTMIX] <= 0 || x->shape.ndim == 4, DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_trainer_fit: DCNN_TRAIN_CUTMIX needs image input of shape (N, C, H, W); this model's input has "
             "%d dimensions per sample (use DCNN_TRAIN_MIXUP)",
             (int)x->shape.ndim - 1);
  /* Sample i of this batch is sample offset + i of the global batch of n;
   * its partner is global sample (offset + i + shift) mod n. */
  const int32_t local = x->shape.dims[0], n = shard ? shard->global : local;
  const int64_t offset = shard ? shard->offset : 0;
  const int64_t sample = dcnn_shape_count(&x->shape) / local; /* floats per (C, H, W) sample */
  DCNN_TRY(grow(t, (void **)&t->mix.pixels, &t->mix.pixel_bytes, (int64_t)sizeof(float) * (sample + 1) * n));
  DCNN_TRY(grow(t, (void **)&t->mix.targets, &t->mix.target_bytes, (int64_t)sizeof(float) * classes * local));
  DCNN_TRY(grow(t, (void **)&t->mix.labels, &t->mix.label_bytes, (int64_t)sizeof(int32_t) * local));
  mix_draws d = {dcnn_random_derive(dcnn_random_derive(t->seed ^ MIX_LABEL, (uint64_t)epoch), (uint64_t)step), 0};
  const double mixup = t->options[DCNN_TRAIN_MIXUP], cutmix = t->options[DCNN_TRAIN_CUTMIX];
  const int use_cutmix = cutmix > 0 && (mixup <= 0 || draw_uniform(&d) < 0.5);
  double lam = n > 1 ? draw_beta(&d, use_cutmix ? cutmix : mixup) : 1.0;
  const int32_t shift = n > 1 ? 1 + (int32_t)(draw_uniform(&d) * (n - 1)) % (n - 1) : 0;
  float *original = t->mix.pixels; /* (n, sample) the global batch before mixing, then (n) its labels if sliced */
  if (shard)
    DCNN_TRY(gather_batch(shard, x, labels, sample, original));
  else
    memcpy(original, x->data, (size_t)(sample * n) * sizeof(float));
  const float *global_labels = shard ? original + (int64_t)n * sample : NULL; /* (n) */
  /* gathered by the caller's communicator: a label it garbled must not reach an int cast or a row index */
  for (int32_t i = 0; global_labels && i < n; ++i)
    DCNN_CHECK(global_labels[i] >= 0 && global_labels[i] < (float)classes && global_labels[i] == floorf(global_labels[i]),
               DCNN_ERR_INVALID_STATE, "mixup: the communicator gathered label %g for sample %d (classes 0..%d)",
               (double)global_labels[i], (int)i, (int)classes - 1);
  if (n > 1 && use_cutmix) {
    /* a box of share (1 - lam), centre uniform, clipped: lam becomes the share left */
    const int32_t c = x->shape.dims[1], h = x->shape.dims[2], w = x->shape.dims[3];
    const double r = sqrt(1.0 - lam);
    const int32_t bh = (int32_t)(h * r), bw = (int32_t)(w * r);
    const int32_t cy = (int32_t)(draw_uniform(&d) * h), cx = (int32_t)(draw_uniform(&d) * w);
    const int32_t y0 = cy - bh / 2 < 0 ? 0 : cy - bh / 2, y1 = cy + bh / 2 > h ? h : cy + bh / 2;
    const int32_t x0 = cx - bw / 2 < 0 ? 0 : cx - bw / 2, x1 = cx + bw / 2 > w ? w : cx + bw / 2;
    for (int32_t i = 0; i < local; ++i) {
      const float *from = original + ((offset + i + shift) % n) * sample;
      float *to = x->data + (int64_t)i * sample;
      for (int32_t ch = 0; ch < c; ++ch)
        for (int32_t y = y0; y < y1; ++y)
          memcpy(to + ((int64_t)ch * h + y) * w + x0, from + ((int64_t)ch * h + y) * w + x0,
                 (size_t)(x1 - x0) * sizeof(float));
    }
    lam = 1.0 - (double)(y1 - y0) * (x1 - x0) / ((double)h * w);
  } else if (n > 1) {
    const float a = (float)lam, b = (float)(1.0 - lam);
    for (int32_t i = 0; i < local; ++i) {
      const float *other = original + ((offset + i + shift) % n) * sample;
      float *to = x->data + (int64_t)i * sample;
      for (int64_t k = 0; k < sample; ++k) to[k] = a * to[k] + b * other[k];
    }
  }
  const double e = t->options[DCNN_TRAIN_LABEL_SMOOTHING], spread = e / classes;
  for (int32_t i = 0; i < local; ++i) {
    const int64_t partner = (offset + i + shift) % n;
    const int32_t other = n <= 1 ? labels[i] : global_labels ? (int32_t)global_labels[partner] : labels[partner];
    float *row = t->mix.targets + (int64_t)i * classes; /* (classes) target of sample i */
    for (int32_t j = 0; j < classes; ++j)
      row[j] = (float)(spread + (1.0 - e) * (lam * (j == labels[i]) + (1.0 - lam) * (j == other)));
    t->mix.labels[i] = lam >= 0.5 ? labels[i] : other;
  }
  *targets = t->mix.targets;
  *dominant = t->mix.labels;
  return DCNN_OK;
}

void dcnn__trainer_mix_free(dcnn_trainer *t) {
  dcnn__release(t->ctx, t->mix.pixels);
  dcnn__release(t->ctx, t->mix.targets);
  dcnn__release(t->ctx, t->mix.labels);
  memset(&t->mix, 0, sizeof t->mix);
}
