/* Private side of datasets and pipelines. */
#ifndef DCNN_DATA_INTERNAL_H
#define DCNN_DATA_INTERNAL_H

#include <stdatomic.h>

#include "../core/internal.h"
#include "digitcnn/data.h"

/* The images and labels behind a dataset and all its views (reference-counted). */
typedef struct dcnn_image_store {
  atomic_int refs;
  dcnn_context *ctx;
  uint64_t id; /* unique per store, so caches never confuse a new store with a freed one */
  int32_t count, height, width, channels, classes;
  uint8_t *pixels; /* (count, height, width, channels) */
  int32_t *labels; /* (count) */
  char *source_text;       /* NUL-separated file names, or NULL */
  int64_t *source_offsets; /* (count) offsets into source_text, or NULL */
} dcnn_image_store;

struct dcnn_dataset {
  dcnn_context *ctx;
  dcnn_image_store *store;
  int32_t count;
  int32_t *indices; /* (count) store indices; NULL for all samples in order */
  int repeats;      /* an index appears more than once: augmentation draws also by position (pipeline.c) */
};

static inline int32_t dcnn__store_index(const dcnn_dataset *ds, int32_t i) { return ds->indices ? ds->indices[i] : i; }

/* Bytes of one image a dataset may hold. */
#define DCNN__STORE_IMAGE_BYTES (INT64_C(1) << 26)
/* Whether a store of these sizes is within the dataset limits: channels 1 or
 * 3, DCNN__STORE_IMAGE_BYTES per image, 2^36 bytes in all (DCNN_ERR_INVALID_ARGUMENT). */
dcnn_status dcnn__store_check(int32_t count, int32_t height, int32_t width, int32_t channels, int32_t classes);
/* A new store with room for `count` images (pixels and labels uninitialised),
 * within the dataset limits (dcnn__store_check). */
dcnn_status dcnn__store_create(dcnn_context *ctx, int32_t count, int32_t height, int32_t width, int32_t channels,
                               int32_t classes, dcnn_image_store **out);
/* The same without the size checks, for a caller that has checked the sizes
 * against its own documented limits (dcnn_model_predict_image's one image). */
dcnn_status dcnn__store_create_unchecked(dcnn_context *ctx, int32_t count, int32_t height, int32_t width,
                                         int32_t channels, int32_t classes, dcnn_image_store **out);
void dcnn__store_release(dcnn_image_store *store);
/* Wraps a store (taking over the caller's reference) into a dataset of all its samples. */
dcnn_status dcnn__dataset_from_store(dcnn_image_store *store, dcnn_dataset **out);

/* Skips the first `batches` batches of the current epoch without making them
 * (batcher.c): the next batch is the one that would follow them. */
dcnn_status dcnn__batcher_skip(dcnn_batcher *b, int32_t batches);
/* dcnn_batcher_next for process `rank` of `size` in data-parallel training:
 * the batch is the same global batch (`*global` samples) for every process,
 * of which this one gets positions [*offset, *offset + *count), the
 * rank-th of `size` near-equal slices; the batcher moves past the whole
 * global batch. *global is 0 at the end of the epoch. A global batch with
 * fewer samples than processes is not sliced: every process gets all of it
 * (*count == *global, *offset 0). */
dcnn_status dcnn__batcher_next_shard(dcnn_batcher *b, int32_t rank, int32_t size, dcnn_tensor **images,
                                     const int32_t **labels, int32_t *count, int32_t *global, int64_t *offset);

/* An MNIST-M image (h, w, channels) split into its digit mask (h, w) and
 * background (h, w, channels), both 0..255 (background_proxy.c); `scratch`
 * holds dcnn__mnist_m_separate_scratch(h, w) floats. */
int64_t dcnn__mnist_m_separate_scratch(int32_t h, int32_t w);
void dcnn__mnist_m_separate(const uint8_t *image, int32_t h, int32_t w, int32_t channels, float *scratch,
                            uint8_t *mask, uint8_t *background);

/* Background swap (background_swap.c): every image of a store separated once
 * into digit mask and background, so that a digit can be drawn over another
 * image's background with MNIST-M's own rule. */
typedef struct dcnn_swap_bank {
  uint64_t store_id; /* 0: empty */
  int32_t count, height, width, channels;
  uint8_t *masks;       /* (count, height, width) */
  uint8_t *backgrounds; /* (count, height, width, channels) */
} dcnn_swap_bank;
dcnn_status dcnn__swap_bank_build(dcnn_context *ctx, const dcnn_image_store *s, int32_t threads, dcnn_swap_bank *bank);
void dcnn__swap_bank_free(dcnn_context *ctx, dcnn_swap_bank *bank);
/* How a swapped-in background is turned: symmetry bits 1 mirror rows, 2 mirror
 * columns, 4 transpose (square images only); inverted_channels bit k: 255 - b_k. */
typedef struct dcnn_swap_transform {
  int32_t symmetry;
  uint32_t inverted_channels;
} dcnn_swap_transform;

/* out (h, w, c) = |backgrounds[background] turned by `turn` - mask| per channel; `mask` (h, w) is
 * a digit of the bank (bank->masks + digit * h * w) or one made from it (dcnn__elastic_warp_mask). */
void dcnn__swap_compose(const dcnn_swap_bank *bank, const uint8_t *mask, int32_t background, dcnn_swap_transform turn,
                        uint8_t *out);

/* Elastic deformation of a digit mask (elastic.c): out (h, w) = mask (h, w) resampled at
 * (y, x) + alpha * (G_sigma * U)(y, x), U uniform in [-1, 1]^2 per pixel drawn from
 * (seed, stream); `scratch` holds dcnn__elastic_scratch(h, w) floats; alpha in 0..100 and
 * sigma in 0.5..16 pixels (dcnn_pipeline_set checks them). */
#define DCNN__ELASTIC_MAX_RADIUS 48
int64_t dcnn__elastic_scratch(int32_t h, int32_t w);
void dcnn__elastic_warp_mask(const uint8_t *mask, int32_t h, int32_t w, float alpha, float sigma, uint64_t seed,
                             uint64_t stream, float *scratch, uint8_t *out);

/* Preprocessing kernels (preprocess.c). A resize plan maps one axis. */
typedef struct dcnn_resize_axis {
  int32_t in, out, taps;
  int32_t *first;  /* (out) first input index of each output */
  float *weights;  /* (out, taps) normalised weights */
} dcnn_resize_axis;

dcnn_status dcnn__resize_axis_plan(dcnn_context *ctx, int32_t in, int32_t out, dcnn_resize_axis *axis);
void dcnn__resize_axis_free(dcnn_context *ctx, dcnn_resize_axis *axis);
/* One image (H, W, C) uint8 -> (C', OH, OW) floats in [0, 1]: resize, then optional gray.
 * `scratch` holds at least H * OW floats. */
void dcnn__preprocess_image(const uint8_t *image, int32_t channels, const dcnn_resize_axis *rows,
                            const dcnn_resize_axis *cols, int gray, float *scratch, float *out);

/* Affine augmentation (augment.c): warps (C, H, W) `src` into `dst`. */
typedef struct dcnn_affine {
  float rotation_deg, translation, zoom_min, zoom_max;
  int fill_edge;
} dcnn_affine;
void dcnn__augment_image(const dcnn_affine *aug, uint64_t seed, const float *src, int32_t channels, int32_t height,
                         int32_t width, float *dst);

/* Colour and shift augmentation (color_augment.c) of a (C, H, W) image in
 * [0, 1], in place, in this order: channel permutation, grayscale, brightness,
 * contrast, saturation, inversion, whole-pixel shift, cutout. Probabilities in
 * [0, 1]; jitter strengths: factors uniform in [1 - s, 1 + s]; shift and
 * cutout size in pixels.
 * `scratch` holds C * H * W floats. */
typedef struct dcnn_color_aug {
  float shuffle, gray, invert;             /* probabilities */
  float brightness, contrast, saturation;  /* jitter strengths */
  float jitter_prob;                       /* probability of the jitter */
  int32_t shift;                           /* largest shift, pixels */
  int fill_edge;
  float cutout;                            /* probability of an erased square */
  int32_t cutout_size;                     /* its side, pixels */
} dcnn_color_aug;
int dcnn__color_active(const dcnn_color_aug *a);
void dcnn__color_augment(const dcnn_color_aug *a, uint64_t seed, float *img, int32_t channels, int32_t height,
                         int32_t width, float *scratch);

/* One affine warp: output pixel p samples the input at
 * centre + R(angle) (p - centre) / zoom + shift (bilinear; outside the image
 * zero, or the nearest edge pixel with fill_edge). */
typedef struct dcnn_warp {
  float angle; /* radians */
  float zoom, shift_x, shift_y;
  int fill_edge;
} dcnn_warp;
void dcnn__warp_image(const dcnn_warp *warp, const float *src, int32_t channels, int32_t height, int32_t width,
                      float *dst);

/* The context a pipeline allocates from (for a scratch pipeline beside it). */
dcnn_context *dcnn__pipeline_context(const dcnn_pipeline *p);

/* Channels the pipeline's standardisation is set for: 0 (none), 1 or 3. */
int32_t dcnn__pipeline_standardized_channels(const dcnn_pipeline *p);
/* The augmentation settings no single option's range rules out (a zoom minimum above the maximum). */
dcnn_status dcnn__pipeline_check_augmentation(const dcnn_pipeline *p, const char *fn);

#endif
