/* The perturbation suite: common corruptions of preprocessed [0, 1] image
 * batches at documented severities. Each sample's randomness is a
 * counter-based stream of (seed, dataset index), so a dataset perturbed in
 * batches of any size gives the same images. */
#include <math.h>
#include <string.h>

#include "../core/internal.h"
#include "../data/data_internal.h"
#include "digitcnn/random.h"
#include "robustness_internal.h"

#define LEVELS 5
#define PI 3.14159265358979

typedef struct kind_info {
  const char *name, *unit;
  float levels[LEVELS];
  float maximum; /* largest accepted severity (0: no limit but finite) */
} kind_info;

static const kind_info kinds[DCNN_PERTURB_COUNT] = {
    [DCNN_PERTURB_GAUSSIAN_NOISE] = {"gaussian_noise", "sigma", {0.05f, 0.1f, 0.2f, 0.3f, 0.5f}, 0},
    [DCNN_PERTURB_GAUSSIAN_BLUR] = {"gaussian_blur", "sigma (pixels)", {0.5f, 1.0f, 1.5f, 2.0f, 3.0f}, 64},
    [DCNN_PERTURB_CONTRAST] = {"contrast", "1 - factor", {0.3f, 0.5f, 0.7f, 0.8f, 0.9f}, 1},
    [DCNN_PERTURB_BRIGHTNESS] = {"brightness", "+- shift", {0.1f, 0.2f, 0.3f, 0.4f, 0.5f}, 1},
    [DCNN_PERTURB_ROTATION] = {"rotation", "+- degrees", {10, 20, 30, 45, 60}, 360},
    [DCNN_PERTURB_TRANSLATION] = {"translation", "pixels", {1, 2, 3, 4, 6}, 0},
    [DCNN_PERTURB_OCCLUSION] = {"occlusion", "square side (pixels)", {4, 8, 12, 16, 20}, 0},
    [DCNN_PERTURB_SALT_PEPPER] = {"salt_pepper", "fraction of pixels", {0.02f, 0.05f, 0.1f, 0.2f, 0.3f}, 1},
};

int32_t dcnn_perturbation_count(void) { return DCNN_PERTURB_COUNT; }

const char *dcnn_perturbation_name(dcnn_perturbation kind) {
  return (int)kind >= 0 && kind < DCNN_PERTURB_COUNT ? kinds[kind].name : "unknown";
}

const char *dcnn_perturbation_unit(dcnn_perturbation kind) {
  return (int)kind >= 0 && kind < DCNN_PERTURB_COUNT ? kinds[kind].unit : "";
}

int32_t dcnn_perturbation_levels(dcnn_perturbation kind, const float **levels) {
  if (levels) *levels = NULL;
  if ((int)kind < 0 || kind >= DCNN_PERTURB_COUNT) return 0;
  if (levels) *levels = kinds[kind].levels;
  return LEVELS;
}

/* Bilinear resampling can land a rounding error outside [0, 1]; such values
 * are accepted, and a perturbation's output is clipped as a whole. */
#define RANGE_SLACK 1e-4f

dcnn_status dcnn__check_unit_range(const char *fn, const dcnn_tensor *t) {
  for (int64_t i = 0; i < t->count; ++i) {
    const float v = t->data[i];
    DCNN_CHECK(v >= -RANGE_SLACK && v <= 1.0f + RANGE_SLACK, DCNN_ERR_INVALID_ARGUMENT,
               "%s: input element %lld is %g; robustness functions take pixel values in [0, 1] (a pipeline "
               "without standardisation)",
               fn, (long long)i, (double)v);
  }
  return DCNN_OK;
}

static float clamp01(float v) { return v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v; }

/* ---- one sample, (C, H, W) at x ---- */

typedef struct sample {
  float *x;
  int32_t channels, height, width;
  uint64_t key; /* derived from (seed, kind, dataset index): the sample's own random numbers */
} sample;

/* Uniform in [0, 1); `purpose` keeps the draws of different uses apart. */
static float draw(const sample *s, uint32_t purpose, uint64_t index) {
  return dcnn_random_uniform(s->key, purpose, index);
}

static void gaussian_noise(const sample *s, float sigma) {
  const int64_t n = (int64_t)s->channels * s->height * s->width;
  for (int64_t i = 0; i < n; ++i)
    s->x[i] = clamp01(s->x[i] + sigma * dcnn_random_normal(s->key, 1, (uint64_t)i));
}

/* One row or column (`n` values `stride` apart) convolved with `kernel`, edges replicated. */
static void blur_line(const float *in, int64_t stride, int32_t n, const float *kernel, int32_t radius, float *out) {
  for (int32_t i = 0; i < n; ++i) {
    float acc = 0;
    for (int32_t k = -radius; k <= radius; ++k) {
      const int32_t j = i + k < 0 ? 0 : i + k >= n ? n - 1 : i + k;
      acc += kernel[k + radius] * in[j * stride];
    }
    out[i * stride] = acc;
  }
}

/* Separable Gaussian blur with replicated edges; `scratch` holds one plane. */
static void gaussian_blur(const sample *s, float sigma, float *scratch) {
  /* A sigma whose square is 0 in float (below about 4e-23) is the identity; the
   * centre tap would be exp(0 / 0), NaN. */
  if (!(sigma * sigma > 0.0f)) return;
  int32_t radius = (int32_t)ceilf(3.0f * sigma);
  if (radius < 1) radius = 1;
  float kernel[2 * 193 + 1]; /* sigma <= 64 */
  double total = 0;
  for (int32_t k = -radius; k <= radius; ++k) total += kernel[k + radius] = expf(-0.5f * (float)(k * k) / (sigma * sigma));
  for (int32_t k = 0; k <= 2 * radius; ++k) kernel[k] = (float)(kernel[k] / total);
  const int32_t h = s->height, w = s->width;
  for (int32_t c = 0; c < s->channels; ++c) {
    float *plane = s->x + (int64_t)c * h * w;
    for (int32_t y = 0; y < h; ++y) blur_line(plane + (int64_t)y * w, 1, w, kernel, radius, scratch + (int64_t)y * w);
    for (int32_t x = 0; x < w; ++x) blur_line(scratch + x, w, h, kernel, radius, plane + x);
    for (int64_t i = 0; i < (int64_t)h * w; ++i) plane[i] = clamp01(plane[i]);
  }
}

static void contrast(const sample *s, float severity) {
  const int64_t n = (int64_t)s->channels * s->height * s->width;
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += s->x[i];
  const float mean = (float)(sum / (double)n), factor = 1.0f - severity;
  for (int64_t i = 0; i < n; ++i) s->x[i] = clamp01(mean + factor * (s->x[i] - mean));
}

static void brightness(const sample *s, float shift) {
  const float delta = draw(s, 2, 0) < 0.5f ? -shift : shift;
  const int64_t n = (int64_t)s->channels * s->height * s->width;
  for (int64_t i = 0; i < n; ++i) s->x[i] = clamp01(s->x[i] + delta);
}

static void warp(const sample *s, const dcnn_warp *w, float *scratch) {
  const int64_t n = (int64_t)s->channels * s->height * s->width;
  memcpy(scratch, s->x, (size_t)n * sizeof(float));
  dcnn__warp_image(w, scratch, s->channels, s->height, s->width, s->x);
  for (int64_t i = 0; i < n; ++i) s->x[i] = clamp01(s->x[i]);
}

static void rotation(const sample *s, float degrees, float *scratch) {
  const float sign = draw(s, 3, 0) < 0.5f ? -1.0f : 1.0f;
  const dcnn_warp w = {.angle = sign * degrees * (float)(PI / 180.0), .zoom = 1.0f, .fill_edge = 1};
  warp(s, &w, scratch);
}

static void translation(const sample *s, float pixels, float *scratch) {
  const float direction = draw(s, 4, 0) * (float)(2.0 * PI);
  const dcnn_warp w = {.zoom = 1.0f, .shift_x = pixels * cosf(direction), .shift_y = pixels * sinf(direction),
                       .fill_edge = 1};
  warp(s, &w, scratch);
}

static void occlusion(const sample *s, float severity) {
  const int32_t side = (int32_t)lroundf(severity);
  if (side <= 0) return;
  const int32_t top = (int32_t)(draw(s, 5, 0) * (float)(s->height - side + 1));
  const int32_t left = (int32_t)(draw(s, 5, 1) * (float)(s->width - side + 1));
  const float gray = draw(s, 5, 2);
  for (int32_t c = 0; c < s->channels; ++c)
    for (int32_t y = top; y < top + side && y < s->height; ++y)
      for (int32_t x = left; x < left + side && x < s->width; ++x)
        s->x[((int64_t)c * s->height + y) * s->width + x] = gray;
}

static void salt_pepper(const sample *s, float fraction) {
  const int64_t plane = (int64_t)s->height * s->width;
  for (int64_t p = 0; p < plane; ++p) {
    if (draw(s, 6, 2 * (uint64_t)p) >= fraction) continue;
    const float value = draw(s, 6, 2 * (uint64_t)p + 1) < 0.5f ? 0.0f : 1.0f;
    for (int32_t c = 0; c < s->channels; ++c) s->x[c * plane + p] = value;
  }
}

dcnn_status dcnn_perturb(dcnn_tensor *batch, dcnn_perturbation kind, float severity, uint64_t seed,
                         int64_t first_index) {
  static const char fn[] = "dcnn_perturb";
  DCNN_CHECK_ARG(batch);
  DCNN_CHECK((int)kind >= 0 && kind < DCNN_PERTURB_COUNT, DCNN_ERR_INVALID_ARGUMENT, "%s: unknown perturbation %d",
             fn, (int)kind);
  const kind_info *info = &kinds[kind];
  /* an infinite severity of a kind without a maximum was "outside 0..inf" */
  DCNN_CHECK(isfinite(severity) && severity >= 0, DCNN_ERR_INVALID_ARGUMENT,
             "%s: %s severity %g: a finite number >= 0 is needed", fn, info->name, (double)severity);
  DCNN_CHECK(info->maximum == 0 || severity <= info->maximum, DCNN_ERR_INVALID_ARGUMENT,
             "%s: %s severity %g is outside 0..%g", fn, info->name, (double)severity, (double)info->maximum);
  DCNN_CHECK(first_index >= 0, DCNN_ERR_INVALID_ARGUMENT, "%s: first_index %lld is negative", fn,
             (long long)first_index);
  char text[64];
  DCNN_CHECK(batch->shape.ndim == 4, DCNN_ERR_SHAPE_MISMATCH, "%s: the batch is %s, expected (N, C, H, W)", fn,
             dcnn_shape_format(&batch->shape, text, sizeof text));
  const int32_t n = batch->shape.dims[0], channels = batch->shape.dims[1], height = batch->shape.dims[2],
                width = batch->shape.dims[3];
  /* the side is lroundf(severity), halves away from zero: 8.4 is an 8-pixel square, 8.5 a 9-pixel one */
  DCNN_CHECK(kind != DCNN_PERTURB_OCCLUSION || (double)severity < (double)(height < width ? height : width) + 0.5,
             DCNN_ERR_INVALID_ARGUMENT, "%s: an occlusion square of side %g (rounded to whole pixels) does not fit a "
             "%dx%d image", fn, (double)severity, (int)height, (int)width);
  DCNN_TRY(dcnn__check_unit_range(fn, batch));
  if (severity == 0 || n == 0) return DCNN_OK;
  const int64_t per_sample = (int64_t)channels * height * width;
  float *scratch = NULL;
  if (kind == DCNN_PERTURB_GAUSSIAN_BLUR || kind == DCNN_PERTURB_ROTATION || kind == DCNN_PERTURB_TRANSLATION) {
    scratch = dcnn__alloc(batch->ctx, (size_t)per_sample * sizeof(float)); /* the batch's allocator, as its pixels */
    DCNN_CHECK(scratch != NULL, DCNN_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
  }
  const uint64_t kind_seed = dcnn_random_derive(seed, 0x9E2B0000u + (uint64_t)kind);
  for (int32_t i = 0; i < n; ++i) {
    const sample s = {batch->data + i * per_sample, channels, height, width,
                      /* in uint64: from first_index = INT64_MAX the indices wrap, defined */
                      dcnn_random_derive(kind_seed, (uint64_t)first_index + (uint64_t)i)};
    switch (kind) {
      case DCNN_PERTURB_GAUSSIAN_NOISE: gaussian_noise(&s, severity); break;
      case DCNN_PERTURB_GAUSSIAN_BLUR: gaussian_blur(&s, severity, scratch); break;
      case DCNN_PERTURB_CONTRAST: contrast(&s, severity); break;
      case DCNN_PERTURB_BRIGHTNESS: brightness(&s, severity); break;
      case DCNN_PERTURB_ROTATION: rotation(&s, severity, scratch); break;
      case DCNN_PERTURB_TRANSLATION: translation(&s, severity, scratch); break;
      case DCNN_PERTURB_OCCLUSION: occlusion(&s, severity); break;
      case DCNN_PERTURB_SALT_PEPPER: salt_pepper(&s, severity); break;
      default: break;
    }
  }
  dcnn__release(batch->ctx, scratch);
  /* pixels a kind leaves alone (outside an occlusion square, say) may hold an input's rounding slack */
  for (int64_t i = 0; i < batch->count; ++i) batch->data[i] = clamp01(batch->data[i]);
  return DCNN_OK;
}
