/* The preprocessing/augmentation pipeline. Preprocessed images are cached per
 * image store (all views of a dataset share it): preprocessing MNIST-M's
 * 59,001 images once costs less than one training epoch spends copying them. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../core/c_locale.h"
#include "../core/keyvalue.h"
#include "data_internal.h"
#include "digitcnn/random.h"

#define PIPE_OPTIONS 25
#define PIPE_CACHE_SLOTS 4
#define SWAP_STREAM 0x5A4Bu /* background swap draws: 0 whether, 1 the partner; 2, 3, 4 its transform */
#define ELASTIC_STREAM 0xE1A5u /* digit warp: 0 whether; the field on ELASTIC_STREAM + 1 */

typedef struct pipe_cache {
  uint64_t store_id; /* 0: empty */
  int32_t count;
  int64_t sample;    /* floats per sample */
  float *data;
} pipe_cache;

struct dcnn_pipeline {
  dcnn_context *ctx;
  double options[PIPE_OPTIONS];
  int32_t norm_channels;
  float mean[3], std[3];
  pipe_cache cache[PIPE_CACHE_SLOTS];
  int32_t next_slot;
  dcnn_swap_bank swap; /* digit masks and backgrounds of the last store trained with the swap or digit warp */
  float *scratch; /* per thread: resize scratch + one unaugmented sample */
  int64_t scratch_floats;
  int32_t scratch_threads;
};

static const double option_defaults[PIPE_OPTIONS] = {0, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 34, 4, 0, 16, 0};

dcnn_status dcnn_pipeline_create(dcnn_context *ctx, dcnn_pipeline **out) {
  DCNN_CHECK_ARG(out);
  *out = NULL;
  dcnn_pipeline *p = dcnn__calloc(ctx, 1, sizeof *p);
  DCNN_CHECK(p != NULL, DCNN_ERR_OUT_OF_MEMORY, "dcnn_pipeline_create: out of memory");
  p->ctx = ctx;
  memcpy(p->options, option_defaults, sizeof p->options);
  *out = p;
  return DCNN_OK;
}

static void clear_cache(dcnn_pipeline *p) {
  for (int i = 0; i < PIPE_CACHE_SLOTS; ++i) {
    dcnn__release(p->ctx, p->cache[i].data);
    p->cache[i] = (pipe_cache){0, 0, 0, NULL};
  }
}

void dcnn_pipeline_destroy(dcnn_pipeline *p) {
  if (!p) return;
  clear_cache(p);
  dcnn__swap_bank_free(p->ctx, &p->swap);
  dcnn__release(p->ctx, p->scratch);
  dcnn__release(p->ctx, p);
}

dcnn_status dcnn_pipeline_set(dcnn_pipeline *p, dcnn_pipeline_option option, double value) {
  DCNN_CHECK_ARG(p);
  DCNN_CHECK((int)option >= 0 && (int)option < PIPE_OPTIONS, DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_pipeline_set: unknown option %d", (int)option);
  DCNN_CHECK(isfinite(value), DCNN_ERR_INVALID_ARGUMENT, "dcnn_pipeline_set: option %d: value is not finite",
             (int)option);
  switch (option) {
    case DCNN_PIPE_HEIGHT:
    case DCNN_PIPE_WIDTH:
      DCNN_CHECK(value >= 0 && value <= 4096 && value == floor(value), DCNN_ERR_INVALID_ARGUMENT,
                 "dcnn_pipeline_set: output size %g must be a whole number in 0..4096", value);
      break;
    case DCNN_PIPE_GRAYSCALE:
    case DCNN_PIPE_FILL_EDGE:
    case DCNN_PIPE_CACHE:
    case DCNN_PIPE_GRAY_TO_RGB:
      DCNN_CHECK(value == 0 || value == 1, DCNN_ERR_INVALID_ARGUMENT, "dcnn_pipeline_set: option %d takes 0 or 1",
                 (int)option);
      break;
    case DCNN_PIPE_ROTATION:
      DCNN_CHECK(value >= 0 && value <= 180, DCNN_ERR_INVALID_ARGUMENT,
                 "dcnn_pipeline_set: rotation %g is outside 0..180 degrees", value);
      break;
    case DCNN_PIPE_TRANSLATION:
      DCNN_CHECK(value >= 0 && value <= 1, DCNN_ERR_INVALID_ARGUMENT,
                 "dcnn_pipeline_set: translation %g is outside 0..1", value);
      break;
    case DCNN_PIPE_ZOOM_MIN:
    case DCNN_PIPE_ZOOM_MAX:
      DCNN_CHECK(value > 0.1 && value <= 10, DCNN_ERR_INVALID_ARGUMENT,
                 "dcnn_pipeline_set: zoom %g is outside (0.1, 10]", value);
      break;
    case DCNN_PIPE_CHANNEL_SHUFFLE:
    case DCNN_PIPE_RANDOM_GRAY:
    case DCNN_PIPE_INVERT:
    case DCNN_PIPE_JITTER_PROB:
    case DCNN_PIPE_BACKGROUND_SWAP:
    case DCNN_PIPE_BACKGROUND_TRANSFORM:
    case DCNN_PIPE_DIGIT_ELASTIC:
    case DCNN_PIPE_CUTOUT:
      DCNN_CHECK(value >= 0 && value <= 1, DCNN_ERR_INVALID_ARGUMENT,
                 "dcnn_pipeline_set: option %d is a probability; %g is outside 0..1", (int)option, value);
      break;
    case DCNN_PIPE_BRIGHTNESS:
    case DCNN_PIPE_CONTRAST:
    case DCNN_PIPE_SATURATION:
      DCNN_CHECK(value >= 0 && value <= 1, DCNN_ERR_INVALID_ARGUMENT,
                 "dcnn_pipeline_set: jitter strength %g (option %d) is outside 0..1", value, (int)option);
      break;
    case DCNN_PIPE_SHIFT:
      DCNN_CHECK(value >= 0 && value <= 64 && value == floor(value), DCNN_ERR_INVALID_ARGUMENT,
                 "dcnn_pipeline_set: shift %g must be a whole number of pixels in 0..64", value);
      break;
    case DCNN_PIPE_ELASTIC_ALPHA:
      DCNN_CHECK(value >= 0 && value <= 100, DCNN_ERR_INVALID_ARGUMENT,
                 "dcnn_pipeline_set: elastic alpha %g is outside 0..100 pixels", value);
      break;
    case DCNN_PIPE_ELASTIC_SIGMA:
      DCNN_CHECK(value >= 0.5 && value <= 16, DCNN_ERR_INVALID_ARGUMENT,
                 "dcnn_pipeline_set: elastic sigma %g is outside 0.5..16 pixels", value);
      break;
    case DCNN_PIPE_CUTOUT_SIZE:
      DCNN_CHECK(value >= 1 && value <= 4096 && value == floor(value), DCNN_ERR_INVALID_ARGUMENT,
                 "dcnn_pipeline_set: cutout size %g must be a whole number of pixels in 1..4096", value);
      break;
  }
  if (option <= DCNN_PIPE_GRAYSCALE || option == DCNN_PIPE_CACHE || option == DCNN_PIPE_GRAY_TO_RGB) clear_cache(p);
  p->options[option] = value;
  return DCNN_OK;
}

double dcnn_pipeline_get(const dcnn_pipeline *p, dcnn_pipeline_option option) {
  if (!p || (int)option < 0 || (int)option >= PIPE_OPTIONS) return NAN;
  return p->options[option];
}

dcnn_status dcnn_pipeline_set_paper_defaults(dcnn_pipeline *p) {
  DCNN_CHECK_ARG(p);
  const struct {
    dcnn_pipeline_option option;
    double value;
  } paper[] = {{DCNN_PIPE_HEIGHT, 28},      {DCNN_PIPE_WIDTH, 28},       {DCNN_PIPE_GRAYSCALE, 1},
               {DCNN_PIPE_ROTATION, 10},    {DCNN_PIPE_TRANSLATION, 0.1}, {DCNN_PIPE_ZOOM_MIN, 0.9},
               {DCNN_PIPE_ZOOM_MAX, 1.1},   {DCNN_PIPE_FILL_EDGE, 1}};
  for (size_t i = 0; i < sizeof paper / sizeof paper[0]; ++i) DCNN_TRY(dcnn_pipeline_set(p, paper[i].option, paper[i].value));
  return DCNN_OK;
}

/* Standardised values stay finite (at most about 1e13): a subnormal std made
 * 1 / std infinite, a mean near FLT_MAX overflowed the first layer. */
#define STD_MIN 1e-7f /* below dcnn_pipeline_fit_standardization's floor of 1e-6 */
#define STD_MAX 1e6f
#define MEAN_LIMIT 1e6f

dcnn_status dcnn_pipeline_set_standardization(dcnn_pipeline *p, int32_t channels, const float *mean,
                                              const float *std) {
  DCNN_CHECK_ARG(p);
  DCNN_CHECK(channels >= 0 && channels <= 3 && channels != 2, DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_pipeline_set_standardization: %d channels (0, 1 or 3)", (int)channels);
  DCNN_CHECK(channels == 0 || (mean && std), DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_pipeline_set_standardization: mean and std are required");
  for (int32_t c = 0; c < channels; ++c)
    DCNN_CHECK(std[c] > 0 && isfinite(std[c]) && isfinite(mean[c]), DCNN_ERR_INVALID_ARGUMENT,
               "dcnn_pipeline_set_standardization: channel %d: std %g must be positive and mean finite", (int)c,
               (double)std[c]);
  for (int32_t c = 0; c < channels; ++c)
    DCNN_CHECK(std[c] >= STD_MIN && std[c] <= STD_MAX && fabsf(mean[c]) <= MEAN_LIMIT, DCNN_ERR_INVALID_ARGUMENT,
               "dcnn_pipeline_set_standardization: channel %d: std %g is outside [1e-7, 1e6] or mean %g outside "
               "[-1e6, 1e6]",
               (int)c, (double)std[c], (double)mean[c]);
  for (int32_t c = 0; c < channels; ++c) {
    p->mean[c] = mean[c];
    p->std[c] = std[c];
  }
  p->norm_channels = channels;
  clear_cache(p);
  return DCNN_OK;
}

/* Whether the store's gray images are given 3 channels (DCNN_PIPE_GRAY_TO_RGB). */
static int widens(const dcnn_pipeline *p, const dcnn_image_store *s) {
  return s->channels == 1 && p->options[DCNN_PIPE_GRAY_TO_RGB] != 0 && p->options[DCNN_PIPE_GRAYSCALE] == 0;
}

dcnn_status dcnn_pipeline_sample_shape(const dcnn_pipeline *p, const dcnn_dataset *ds, dcnn_shape *sample) {
  DCNN_CHECK_ARG(p);
  DCNN_CHECK_ARG(ds);
  DCNN_CHECK_ARG(sample);
  const dcnn_image_store *s = ds->store;
  const int32_t c = p->options[DCNN_PIPE_GRAYSCALE] != 0 ? 1 : widens(p, s) ? 3 : s->channels;
  int32_t h = p->options[DCNN_PIPE_HEIGHT] > 0 ? (int32_t)p->options[DCNN_PIPE_HEIGHT] : s->height;
  int32_t w = p->options[DCNN_PIPE_WIDTH] > 0 ? (int32_t)p->options[DCNN_PIPE_WIDTH] : s->width;
  DCNN_CHECK(p->norm_channels == 0 || p->norm_channels == c, DCNN_ERR_SHAPE_MISMATCH,
             "pipeline: standardisation is set for %d channels, the output has %d", (int)p->norm_channels, (int)c);
  *sample = dcnn_shape_make(3, c, h, w, 0);
  return DCNN_OK;
}

/* Scratch for each thread: resize rows (H * OW) + colour planes (3 * OH * OW)
 * + one raw image (H, W, C) bytes for the background swap + the digit warp's
 * field (3 H W floats) and warped mask (H, W) bytes + two samples for the
 * colour augmentation + one unaugmented sample (last). */
static int64_t raw_offset(const dcnn_image_store *s, const dcnn_shape *out) {
  return (int64_t)s->height * out->dims[2] + 3 * (int64_t)out->dims[1] * out->dims[2];
}

static int64_t elastic_offset(const dcnn_image_store *s, const dcnn_shape *out) {
  return raw_offset(s, out) + ((int64_t)s->height * s->width * s->channels + 3) / 4;
}

static int64_t warped_mask_offset(const dcnn_image_store *s, const dcnn_shape *out) {
  return elastic_offset(s, out) + dcnn__elastic_scratch(s->height, s->width);
}

/* Room for the raw image only when digits are redrawn (`redraw`), and for the
 * digit warp's field and mask only when it is on (`bend`: 13 bytes per stored
 * pixel): without them the scratch does not grow with the stored image, which
 * may be large (dcnn_model_predict_image's one image of up to 2^26 pixels). */
static dcnn_status ensure_scratch(dcnn_pipeline *p, const dcnn_image_store *s, const dcnn_shape *out, int32_t threads,
                                  int redraw, int bend) {
  const int64_t sample = dcnn_shape_count(out);
  const int64_t floats = (bend     ? warped_mask_offset(s, out) + ((int64_t)s->height * s->width + 3) / 4
                          : redraw ? elastic_offset(s, out)
                                   : raw_offset(s, out)) +
                         3 * sample + 16;
  if (floats <= p->scratch_floats && threads <= p->scratch_threads) return DCNN_OK;
  /* It only grows, in both directions: calls that alternate one large lane with
   * several small ones would otherwise free and allocate it on every call. */
  const int64_t lane = floats > p->scratch_floats ? floats : p->scratch_floats;
  const int32_t lanes = threads > p->scratch_threads ? threads : p->scratch_threads;
  float *scratch = dcnn__alloc(p->ctx, (size_t)(lane * lanes) * sizeof(float)); /* (lanes, lane) */
  DCNN_CHECK(scratch != NULL, DCNN_ERR_OUT_OF_MEMORY, "pipeline: out of memory for scratch");
  dcnn__release(p->ctx, p->scratch);
  p->scratch = scratch;
  p->scratch_floats = lane;
  p->scratch_threads = lanes;
  return DCNN_OK;
}

/* x <- (x - mean) / std per channel of a (C, plane) image. */
static void standardize(const dcnn_pipeline *p, float *img, int64_t plane) {
  for (int32_t c = 0; c < p->norm_channels; ++c) {
    const float mean = p->mean[c], inv = 1.0f / p->std[c];
    for (int64_t i = 0; i < plane; ++i) img[c * plane + i] = (img[c * plane + i] - mean) * inv;
  }
}

/* Back to [0, 1] (the colour augmentation's space): x <- x std + mean per channel of a (C, plane) image. */
static void unstandardize(const dcnn_pipeline *p, float *img, int64_t plane) {
  for (int32_t c = 0; c < p->norm_channels; ++c) {
    const float mean = p->mean[c], std = p->std[c];
    for (int64_t i = 0; i < plane; ++i) img[c * plane + i] = img[c * plane + i] * std + mean;
  }
}

/* Resizes, scales and standardises one (H, W, C) stored image into `dst` (C', OH, OW): C' is 1 for grayscale
 * output, 3 for a gray image widened to RGB (its plane copied), else C. */
static void prepare_image(const dcnn_pipeline *p, const dcnn_image_store *s, const uint8_t *image,
                          const dcnn_resize_axis *rows, const dcnn_resize_axis *cols, float *scratch, float *dst) {
  const int64_t plane = (int64_t)rows->out * cols->out;
  dcnn__preprocess_image(image, s->channels, rows, cols, p->options[DCNN_PIPE_GRAYSCALE] != 0, scratch, dst);
  if (widens(p, s)) {
    memcpy(dst + plane, dst, (size_t)plane * sizeof *dst);
    memcpy(dst + 2 * plane, dst, (size_t)plane * sizeof *dst);
  }
  standardize(p, dst, plane);
}

/* Preprocesses store image `index` into `dst` (C, OH, OW) using thread scratch `scratch`. */
static void preprocess_one(const dcnn_pipeline *p, const dcnn_image_store *s, const dcnn_resize_axis *rows,
                           const dcnn_resize_axis *cols, int32_t index, float *scratch, float *dst) {
  prepare_image(p, s, s->pixels + (int64_t)index * s->height * s->width * s->channels, rows, cols, scratch, dst);
}

static pipe_cache *find_cache(dcnn_pipeline *p, uint64_t id) {
  for (int i = 0; i < PIPE_CACHE_SLOTS; ++i)
    if (p->cache[i].store_id == id) return &p->cache[i];
  return NULL;
}

/* Lanes (scratch slots) for `items` samples on `threads` threads: no more than there are samples, so that a
 * batch of 2 does not hold a large image's scratch once per core. */
static int32_t lanes_for(int32_t threads, int64_t items) {
  return threads > 1 && items > 1 ? (items < threads ? (int32_t)items : threads) : 1;
}

/* Fills a cache slot with every image of the store, preprocessed. */
static dcnn_status fill_cache(dcnn_pipeline *p, const dcnn_image_store *s, const dcnn_resize_axis *rows,
                              const dcnn_resize_axis *cols, const dcnn_shape *out, int32_t threads, pipe_cache **slot) {
  const int64_t sample = dcnn_shape_count(out);
  float *data = dcnn__alloc(p->ctx, (size_t)(sample * s->count) * sizeof(float));
  DCNN_CHECK(data != NULL, DCNN_ERR_OUT_OF_MEMORY, "pipeline: out of memory caching %d preprocessed images",
             (int)s->count);
  pipe_cache *c = &p->cache[p->next_slot];
  p->next_slot = (p->next_slot + 1) % PIPE_CACHE_SLOTS;
  dcnn__release(p->ctx, c->data);
  *c = (pipe_cache){s->id, s->count, sample, data};
  /* Scratch belongs to a lane (a loop index), not to a team member, as in
   * conv2d: correct whatever team the runtime grants (docs/layers.md). */
  const int32_t lanes = lanes_for(threads, s->count);
#pragma omp parallel for num_threads(lanes) if (lanes > 1) schedule(static, 1)
  for (int32_t lane = 0; lane < lanes; ++lane)
    for (int64_t i = lane; i < s->count; i += lanes) /* int64: i + lanes may pass INT32_MAX */
      preprocess_one(p, s, rows, cols, (int32_t)i, p->scratch + lane * p->scratch_floats, data + i * sample);
  *slot = c;
  return DCNN_OK;
}

dcnn_status dcnn_pipeline_batch(dcnn_pipeline *p, const dcnn_dataset *ds, const int32_t *indices, int32_t count,
                                dcnn_augmentation augmentation, uint64_t seed, int64_t epoch, dcnn_tensor *out,
                                int32_t *labels) {
  DCNN_CHECK_ARG(p);
  DCNN_CHECK(augmentation == DCNN_AUGMENT_OFF || augmentation == DCNN_AUGMENT_ON, DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_pipeline_batch: unknown augmentation %d", (int)augmentation);
  const int augment = augmentation == DCNN_AUGMENT_ON;
  DCNN_CHECK_ARG(ds);
  DCNN_CHECK_ARG(indices);
  DCNN_CHECK_ARG(out);
  dcnn_shape sample;
  DCNN_TRY(dcnn_pipeline_sample_shape(p, ds, &sample));
  dcnn_shape expected = dcnn_shape_make(4, count, sample.dims[0], sample.dims[1], sample.dims[2]);
  char a[64], b[64];
  DCNN_CHECK(count >= 1 && dcnn_shape_equal(&out->shape, &expected), DCNN_ERR_SHAPE_MISMATCH,
             "dcnn_pipeline_batch: output is %s, expected %s", dcnn_shape_format(&out->shape, a, sizeof a),
             dcnn_shape_format(&expected, b, sizeof b));
  for (int32_t i = 0; i < count; ++i)
    DCNN_CHECK(indices[i] >= 0 && indices[i] < ds->count, DCNN_ERR_INVALID_ARGUMENT,
               "dcnn_pipeline_batch: index %d (entry %d) is outside 0..%d", (int)indices[i], (int)i,
               (int)ds->count - 1);
  if (augment) DCNN_TRY(dcnn__pipeline_check_augmentation(p, "dcnn_pipeline_batch"));
  const dcnn_image_store *s = ds->store;
  const int32_t threads = dcnn_context_threads(p->ctx);
  const float swap = augment ? (float)p->options[DCNN_PIPE_BACKGROUND_SWAP] : 0.0f;
  const float transform = (float)p->options[DCNN_PIPE_BACKGROUND_TRANSFORM];
  const float elastic = augment ? (float)p->options[DCNN_PIPE_DIGIT_ELASTIC] : 0.0f;
  const float elastic_alpha = (float)p->options[DCNN_PIPE_ELASTIC_ALPHA];
  const float elastic_sigma = (float)p->options[DCNN_PIPE_ELASTIC_SIGMA];
  const int redraw = swap > 0 || elastic > 0; /* digits are redrawn from the swap bank */
  pipe_cache *cache = p->options[DCNN_PIPE_CACHE] != 0 ? find_cache(p, s->id) : NULL;
  /* Scratch for the lanes that run: one for a single sample that is not cached
   * (a large image is not copied once per thread for nothing). */
  const int filling = p->options[DCNN_PIPE_CACHE] != 0 && !cache;
  const int32_t batch_lanes = lanes_for(threads, count), fill_lanes = filling ? lanes_for(threads, s->count) : 1;
  const int32_t lanes_used = batch_lanes > fill_lanes ? batch_lanes : fill_lanes;
  DCNN_TRY(ensure_scratch(p, s, &sample, lanes_used, redraw, elastic > 0));
  dcnn_resize_axis rows = {0, 0, 0, NULL, NULL}, cols = {0, 0, 0, NULL, NULL};
  dcnn_status status = DCNN_OK;
  if (!cache || redraw) {
    status = dcnn__resize_axis_plan(p->ctx, s->height, sample.dims[1], &rows);
    if (status == DCNN_OK) status = dcnn__resize_axis_plan(p->ctx, s->width, sample.dims[2], &cols);
    if (status == DCNN_OK && !cache && p->options[DCNN_PIPE_CACHE] != 0)
      status = fill_cache(p, s, &rows, &cols, &sample, threads, &cache);
  }
  if (status == DCNN_OK && redraw && p->swap.store_id != s->id)
    status = dcnn__swap_bank_build(p->ctx, s, threads, &p->swap);
  if (status == DCNN_OK) {
    const int64_t n = dcnn_shape_count(&sample);
    const dcnn_affine aug = {(float)p->options[DCNN_PIPE_ROTATION], (float)p->options[DCNN_PIPE_TRANSLATION],
                             (float)p->options[DCNN_PIPE_ZOOM_MIN], (float)p->options[DCNN_PIPE_ZOOM_MAX],
                             p->options[DCNN_PIPE_FILL_EDGE] != 0};
    const dcnn_color_aug colour = {(float)p->options[DCNN_PIPE_CHANNEL_SHUFFLE], (float)p->options[DCNN_PIPE_RANDOM_GRAY],
                                   (float)p->options[DCNN_PIPE_INVERT], (float)p->options[DCNN_PIPE_BRIGHTNESS],
                                   (float)p->options[DCNN_PIPE_CONTRAST], (float)p->options[DCNN_PIPE_SATURATION],
                                   (float)p->options[DCNN_PIPE_JITTER_PROB], (int32_t)p->options[DCNN_PIPE_SHIFT],
                                   p->options[DCNN_PIPE_FILL_EDGE] != 0, (float)p->options[DCNN_PIPE_CUTOUT],
                                   (int32_t)p->options[DCNN_PIPE_CUTOUT_SIZE]};
    /* Without colour options the affine warp alone runs, bit-identical to before they existed. */
    const int colour_on = dcnn__color_active(&colour);
    const int64_t plane = (int64_t)sample.dims[1] * sample.dims[2];
    const uint64_t epoch_seed = dcnn_random_derive(seed, (uint64_t)epoch);
    /* Scratch per lane (loop index), not per team member: see fill_cache. */
    const int32_t lanes = batch_lanes;
#pragma omp parallel for num_threads(lanes) if (lanes > 1) schedule(static, 1)
    for (int32_t lane = 0; lane < lanes; ++lane) {
      float *scratch = p->scratch + lane * p->scratch_floats;
      for (int64_t i = lane; i < count; i += lanes) { /* int64, as in fill_cache */
        const int32_t index = dcnn__store_index(ds, indices[i]);
        float *dst = out->data + i * n;
        const float *src = cache ? cache->data + index * n : NULL;
        /* By the stored image, so that views of one store augment an image alike; a view that repeats
         * an image (oversampling) draws each copy by its position too. */
        const uint64_t image_seed = dcnn_random_derive(epoch_seed, (uint64_t)index);
        const uint64_t sample_seed = ds->repeats ? dcnn_random_derive(image_seed, (uint64_t)indices[i]) : image_seed;
        const int swapped = swap > 0 && dcnn_random_uniform(sample_seed, SWAP_STREAM, 0) < swap;
        const int warped = elastic > 0 && dcnn_random_uniform(sample_seed, ELASTIC_STREAM, 0) < elastic;
        if (swapped || warped) {
          /* this digit, warped or not, over the background of a random image of the same
           * dataset (view) if swapped, else over its own */
          int32_t background = index;
          dcnn_swap_transform turn = {0, 0};
          if (swapped) {
            int32_t partner = (int32_t)(dcnn_random_uniform(sample_seed, SWAP_STREAM, 1) * (float)ds->count);
            if (partner >= ds->count) partner = ds->count - 1;
            background = dcnn__store_index(ds, partner);
            if (dcnn_random_uniform(sample_seed, SWAP_STREAM, 2) < transform) {
              turn.symmetry = (int32_t)(dcnn_random_bits(sample_seed, SWAP_STREAM, 3) & 7u);
              turn.inverted_channels = (uint32_t)(dcnn_random_bits(sample_seed, SWAP_STREAM, 4) & 7u);
            }
          }
          uint8_t *raw = (uint8_t *)(scratch + raw_offset(s, &sample)); /* (H, W, C) */
          const uint8_t *mask = p->swap.masks + (int64_t)index * s->height * s->width; /* (H, W) */
          if (warped) {
            uint8_t *bent = (uint8_t *)(scratch + warped_mask_offset(s, &sample)); /* (H, W) */
            dcnn__elastic_warp_mask(mask, s->height, s->width, elastic_alpha, elastic_sigma, sample_seed,
                                    ELASTIC_STREAM + 1, scratch + elastic_offset(s, &sample), bent);
            mask = bent;
          }
          dcnn__swap_compose(&p->swap, mask, background, turn, raw);
          float *plain = scratch + (p->scratch_floats - n);
          prepare_image(p, s, raw, &rows, &cols, scratch, plain);
          src = plain;
        }
        if (!src) {
          float *plain = augment ? scratch + (p->scratch_floats - n) : dst;
          preprocess_one(p, s, &rows, &cols, index, scratch, plain);
          src = plain;
        }
        if (augment && colour_on) {
          /* (C, H, W) work and spare buffers, before the unaugmented sample at the end of the scratch */
          float *work = scratch + (p->scratch_floats - 2 * n), *spare = scratch + (p->scratch_floats - 3 * n);
          dcnn__augment_image(&aug, sample_seed, src, sample.dims[0], sample.dims[1], sample.dims[2], work);
          unstandardize(p, work, plane);
          dcnn__color_augment(&colour, sample_seed, work, sample.dims[0], sample.dims[1], sample.dims[2], spare);
          memcpy(dst, work, (size_t)n * sizeof(float));
          standardize(p, dst, plane);
        } else if (augment)
          dcnn__augment_image(&aug, sample_seed, src, sample.dims[0],
                              sample.dims[1], sample.dims[2], dst);
        else if (src != dst)
          memcpy(dst, src, (size_t)n * sizeof(float));
        if (labels) labels[i] = s->labels[index];
      }
    }
  }
  dcnn__resize_axis_free(p->ctx, &rows);
  dcnn__resize_axis_free(p->ctx, &cols);
  return status;
}

/* The preprocessing (not the augmentation, which inference never applies) as
 * "key=value" pairs, the form model files record. */
dcnn_status dcnn_pipeline_describe(const dcnn_pipeline *p, char *buf, int32_t size) {
  DCNN_CHECK_ARG(p);
  DCNN_CHECK_ARG(buf);
  DCNN_CHECK(size >= 256, DCNN_ERR_INVALID_ARGUMENT, "dcnn_pipeline_describe: buffer of %d bytes (256 needed)",
             (int)size);
  /* A text dcnn_pipeline_configure() refuses must not reach a model file. */
  DCNN_CHECK(!(p->options[DCNN_PIPE_GRAYSCALE] != 0 && p->norm_channels == 3), DCNN_ERR_SHAPE_MISMATCH,
             "dcnn_pipeline_describe: standardisation is set for 3 channels, grayscale output has 1");
  int n = snprintf(buf, (size_t)size, "height=%d width=%d grayscale=%d standardize=%d",
                   (int)p->options[DCNN_PIPE_HEIGHT], (int)p->options[DCNN_PIPE_WIDTH],
                   (int)p->options[DCNN_PIPE_GRAYSCALE], (int)p->norm_channels);
  for (int32_t c = 0; c < p->norm_channels && n < size; ++c) {
    char mean[32], std[32]; /* C-locale numbers: this text goes into model files */
    dcnn__format_double(mean, sizeof mean, 9, (double)p->mean[c]);
    dcnn__format_double(std, sizeof std, 9, (double)p->std[c]);
    n += snprintf(buf + n, (size_t)(size - n), " mean%d=%s std%d=%s", (int)c, mean, (int)c, std);
  }
  return DCNN_OK;
}

dcnn_status dcnn__pipeline_check_augmentation(const dcnn_pipeline *p, const char *fn) {
  /* The bounds are set one at a time, so each setter allows the other's value: the pair is checked here. */
  DCNN_CHECK(p->options[DCNN_PIPE_ZOOM_MIN] <= p->options[DCNN_PIPE_ZOOM_MAX], DCNN_ERR_INVALID_ARGUMENT,
             "%s: zoom range %g to %g: DCNN_PIPE_ZOOM_MIN is above DCNN_PIPE_ZOOM_MAX", fn,
             p->options[DCNN_PIPE_ZOOM_MIN], p->options[DCNN_PIPE_ZOOM_MAX]);
  return DCNN_OK;
}

static dcnn_status read_description(dcnn_context *ctx, const char *description, int32_t *height, int32_t *width, int32_t *gray,
                                    int32_t *channels, float mean[3], float std[3]) {
  static const char *const mean_keys[3] = {"mean0", "mean1", "mean2"}, *const std_keys[3] = {"std0", "std1", "std2"};
  dcnn__kv kv = dcnn__kv_reader(description);
  kv.ctx = ctx;
  DCNN_TRY(dcnn__kv_int(&kv, "height", 0, 4096, height));
  DCNN_TRY(dcnn__kv_int(&kv, "width", 0, 4096, width));
  DCNN_TRY(dcnn__kv_int(&kv, "grayscale", 0, 1, gray));
  DCNN_TRY(dcnn__kv_int(&kv, "standardize", 0, 3, channels));
  /* Values dcnn_pipeline_set_standardization would refuse are refused here,
   * as a malformed text naming the key, not as a bad argument of a call the
   * caller never made. */
  DCNN_CHECK(*channels != 2, DCNN_ERR_BAD_FORMAT, "'standardize=2' is not 0, 1 or 3");
  DCNN_CHECK(!(*gray && *channels == 3), DCNN_ERR_BAD_FORMAT,
             "'grayscale=1' gives 1 channel, which 'standardize=3' (3 channels' statistics) cannot describe");
  for (int32_t c = 0; c < *channels; ++c) {
    DCNN_TRY(dcnn__kv_float(&kv, mean_keys[c], &mean[c]));
    DCNN_TRY(dcnn__kv_float(&kv, std_keys[c], &std[c]));
    DCNN_CHECK(std[c] > 0, DCNN_ERR_BAD_FORMAT, "'%s=%g' is not positive", std_keys[c], (double)std[c]);
    DCNN_CHECK(std[c] >= STD_MIN && std[c] <= STD_MAX, DCNN_ERR_BAD_FORMAT, "'%s=%g' is outside [1e-7, 1e6]",
               std_keys[c], (double)std[c]);
    DCNN_CHECK(fabsf(mean[c]) <= MEAN_LIMIT, DCNN_ERR_BAD_FORMAT, "'%s=%g' is outside [-1e6, 1e6]", mean_keys[c],
               (double)mean[c]);
  }
  return dcnn__kv_finish(&kv);
}

dcnn_status dcnn_pipeline_configure(dcnn_pipeline *p, const char *description) {
  DCNN_CHECK_ARG(p);
  DCNN_CHECK_ARG(description);
  int32_t height = 0, width = 0, gray = 0, channels = 0;
  float mean[3] = {0, 0, 0}, std[3] = {1, 1, 1};
  const dcnn_status status = read_description(p->ctx, description, &height, &width, &gray, &channels, mean, std);
  if (status != DCNN_OK) return dcnn__wrap_error(status, "dcnn_pipeline_configure");
  DCNN_TRY(dcnn_pipeline_set_standardization(p, channels, mean, std));
  DCNN_TRY(dcnn_pipeline_set(p, DCNN_PIPE_HEIGHT, height));
  DCNN_TRY(dcnn_pipeline_set(p, DCNN_PIPE_WIDTH, width));
  return dcnn_pipeline_set(p, DCNN_PIPE_GRAYSCALE, gray);
}

dcnn_context *dcnn__pipeline_context(const dcnn_pipeline *p) { return p->ctx; }

int32_t dcnn__pipeline_standardized_channels(const dcnn_pipeline *p) { return p->norm_channels; }

/* Mean and standard deviation per output channel over every pixel of every
 * sample (population variance, accumulated in double in sample order, so the
 * result does not depend on the thread count), then set as the standardisation. */
dcnn_status dcnn_pipeline_fit_standardization(dcnn_pipeline *p, const dcnn_dataset *ds, float *mean, float *std) {
  DCNN_CHECK_ARG(p);
  DCNN_CHECK_ARG(ds);
  DCNN_CHECK(ds->count > 0, DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_pipeline_fit_standardization: the dataset is empty (no pixels to measure a mean and deviation on)");
  const int32_t saved_channels = p->norm_channels;
  const double saved_cache = p->options[DCNN_PIPE_CACHE];
  p->norm_channels = 0;               /* measure the unstandardised values */
  /* One pass: caching would hold a copy of the whole set. Written directly,
   * not through dcnn_pipeline_set() (which empties the cache): with caching
   * off nothing is read from or added to the cache, and both fields are
   * restored below, so the entries it holds stay as they were (setting the
   * new standardisation at the end empties it through the public setter). */
  p->options[DCNN_PIPE_CACHE] = 0;
  dcnn_shape sample;
  dcnn_status status = dcnn_pipeline_sample_shape(p, ds, &sample);
  const int32_t channels = status == DCNN_OK ? sample.dims[0] : 0;
  const int64_t plane = status == DCNN_OK ? (int64_t)sample.dims[1] * sample.dims[2] : 0;
  /* Up to 256 samples a pass, at most 64 MB of them (one sample at least): only sums are kept. */
  const int64_t fit = (int64_t)(64u << 20) / ((int64_t)(channels ? channels : 1) * (plane ? plane : 1) * 4);
  const int64_t most = fit < 1 ? 1 : fit > 256 ? 256 : fit;
  const int32_t chunk = ds->count < most ? ds->count : (int32_t)most;
  if (status == DCNN_OK && channels > 3)
    status = dcnn__fail(DCNN_ERR_UNSUPPORTED, "dcnn_pipeline_fit_standardization: %d channels (1 or 3 expected)",
                        (int)channels);
  /* (chunk, channels, h, w), allocated once; the last chunk uses its first `count` samples */
  dcnn_tensor *batch = NULL;
  int32_t *indices = NULL;
  if (status == DCNN_OK) {
    dcnn_shape full = dcnn_shape_make(4, chunk, sample.dims[0], sample.dims[1], sample.dims[2]);
    status = dcnn_tensor_create(p->ctx, &full, &batch);
  }
  if (status == DCNN_OK) {
    indices = dcnn__alloc(p->ctx, (size_t)chunk * sizeof(int32_t));
    if (!indices) status = dcnn__fail(DCNN_ERR_OUT_OF_MEMORY, "dcnn_pipeline_fit_standardization: out of memory");
  }
  /* Sums of v - first and its squares, `first` being the channel's first value: a constant channel sums
   * to exactly 0 (unshifted, squares / total - mean^2 left ~1e-10 over millions of pixels: a std of 1e-5
   * where std 1 is promised). */
  double sum[3] = {0, 0, 0}, squares[3] = {0, 0, 0}, first[3] = {0, 0, 0};
  for (int32_t start = 0; status == DCNN_OK && start < ds->count; start += chunk) {
    const int32_t count = ds->count - start < chunk ? ds->count - start : chunk;
    dcnn_shape shape = dcnn_shape_make(4, count, sample.dims[0], sample.dims[1], sample.dims[2]);
    status = dcnn__tensor_set_shape(batch, &shape);
    if (status != DCNN_OK) break;
    for (int32_t i = 0; i < count; ++i) indices[i] = start + i;
    status = dcnn_pipeline_batch(p, ds, indices, count, DCNN_AUGMENT_OFF, 0, 0, batch, NULL);
    const float *x = batch->data; /* (count, channels, plane) */
    for (int32_t i = 0; status == DCNN_OK && i < count; ++i)
      for (int32_t c = 0; c < channels; ++c) {
        const float *v = x + ((int64_t)i * channels + c) * plane;
        if (start == 0 && i == 0) first[c] = v[0];
        for (int64_t k = 0; k < plane; ++k) {
          const double d = (double)v[k] - first[c];
          sum[c] += d;
          squares[c] += d * d;
        }
      }
  }
  dcnn_tensor_destroy(batch);
  dcnn__release(p->ctx, indices);
  p->options[DCNN_PIPE_CACHE] = saved_cache;
  p->norm_channels = saved_channels;
  if (status != DCNN_OK) return dcnn__wrap_error(status, "dcnn_pipeline_fit_standardization");
  float m[3] = {0, 0, 0}, s[3] = {1, 1, 1};
  const double total = (double)ds->count * (double)plane;
  for (int32_t c = 0; c < channels; ++c) {
    const double shift = sum[c] / total, var = squares[c] / total - shift * shift;
    m[c] = (float)(first[c] + shift);
    /* a constant channel keeps std 1 rather than dividing by ~0 */
    s[c] = var > 1e-12 ? (float)sqrt(var) : 1.0f;
  }
  DCNN_TRY(dcnn_pipeline_set_standardization(p, channels, m, s));
  for (int32_t c = 0; c < channels; ++c) {
    if (mean) mean[c] = m[c];
    if (std) std[c] = s[c];
  }
  return DCNN_OK;
}
