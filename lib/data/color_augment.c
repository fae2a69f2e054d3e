/* Colour and shift augmentation (issue #19): breaks the tie between a digit's
 * colour and its background's, which MNIST-M's photographs otherwise let a
 * model learn. Works on (C, H, W) images in [0, 1] (before standardisation);
 * every random number comes from the sample's seed on its own stream, so the
 * result depends on (seed, epoch, sample index) only, as the affine warp. */
#include <math.h>
#include <string.h>

#include "data_internal.h"
#include "digitcnn/random.h"

/* Stream of the colour numbers (the affine warp uses 0xA06). Index k of the stream is one draw. */
#define COLOR_STREAM 0xC010Eu

enum { DRAW_SHUFFLE, DRAW_PERMUTATION, DRAW_GRAY, DRAW_BRIGHTNESS, DRAW_CONTRAST, DRAW_SATURATION, DRAW_INVERT,
       DRAW_SHIFT_X, DRAW_SHIFT_Y, DRAW_JITTER, DRAW_CUTOUT, DRAW_CUTOUT_X, DRAW_CUTOUT_Y };

static float draw(uint64_t seed, int k) { return dcnn_random_uniform(seed, COLOR_STREAM, (uint64_t)k); }

static float clamp01(float v) { return v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v; }

int dcnn__color_active(const dcnn_color_aug *a) {
  return a->shuffle > 0 || a->gray > 0 || a->brightness > 0 || a->contrast > 0 || a->saturation > 0 ||
         a->invert > 0 || a->shift > 0 || a->cutout > 0;
}

/* BT.601 luma of pixel i of a 3-plane image. */
static float luma(const float *img, int64_t plane, int64_t i) {
  return 0.299f * img[i] + 0.587f * img[plane + i] + 0.114f * img[2 * plane + i];
}

void dcnn__color_augment(const dcnn_color_aug *a, uint64_t seed, float *img, int32_t channels, int32_t height,
                         int32_t width, float *scratch) {
  const int64_t plane = (int64_t)height * width, n = plane * channels;
  /* Channel permutation: one of the 6 orders of (R, G, B), uniformly. */
  if (channels == 3 && a->shuffle > 0 && draw(seed, DRAW_SHUFFLE) < a->shuffle) {
    static const int orders[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
    int k = (int)(draw(seed, DRAW_PERMUTATION) * 6.0f);
    if (k > 5) k = 5;
    memcpy(scratch, img, (size_t)n * sizeof(float));
    for (int c = 0; c < 3; ++c) memcpy(img + c * plane, scratch + orders[k][c] * plane, (size_t)plane * sizeof(float));
  }
  /* Random grayscale, kept as 3 equal channels. */
  if (channels == 3 && a->gray > 0 && draw(seed, DRAW_GRAY) < a->gray)
    for (int64_t i = 0; i < plane; ++i) img[i] = img[plane + i] = img[2 * plane + i] = luma(img, plane, i);
  /* The jitter (brightness, contrast, saturation) applies with probability jitter_prob. */
  const int jitter = a->jitter_prob >= 1.0f || (a->jitter_prob > 0 && draw(seed, DRAW_JITTER) < a->jitter_prob);
  /* Brightness: x * f, f uniform in [1 - b, 1 + b] (torchvision's ColorJitter). */
  if (jitter && a->brightness > 0) {
    const float f = 1.0f + a->brightness * (2.0f * draw(seed, DRAW_BRIGHTNESS) - 1.0f);
    for (int64_t i = 0; i < n; ++i) img[i] = clamp01(img[i] * f);
  }
  /* Contrast: mean + (x - mean) f around the image's mean luma. */
  if (jitter && a->contrast > 0) {
    const float f = 1.0f + a->contrast * (2.0f * draw(seed, DRAW_CONTRAST) - 1.0f);
    double sum = 0;
    for (int64_t i = 0; i < plane; ++i) sum += channels == 3 ? luma(img, plane, i) : img[i];
    const float mean = (float)(sum / (double)plane);
    for (int64_t i = 0; i < n; ++i) img[i] = clamp01(mean + (img[i] - mean) * f);
  }
  /* Saturation: luma + (x - luma) f per pixel. */
  if (jitter && channels == 3 && a->saturation > 0) {
    const float f = 1.0f + a->saturation * (2.0f * draw(seed, DRAW_SATURATION) - 1.0f);
    for (int64_t i = 0; i < plane; ++i) {
      const float y = luma(img, plane, i);
      for (int c = 0; c < 3; ++c) img[c * plane + i] = clamp01(y + (img[c * plane + i] - y) * f);
    }
  }
  /* Inversion: 1 - x (MNIST-M's digits are their background inverted: this swaps the roles). */
  if (a->invert > 0 && draw(seed, DRAW_INVERT) < a->invert)
    for (int64_t i = 0; i < n; ++i) img[i] = 1.0f - img[i];
  /* Random crop with padding: a whole-pixel shift (dx, dy) uniform in [-shift, shift];
   * pixels from outside repeat the edge (fill_edge) or are 0. */
  if (a->shift > 0) {
    const int32_t range = 2 * a->shift + 1;
    int32_t dx = (int32_t)(draw(seed, DRAW_SHIFT_X) * (float)range), dy = (int32_t)(draw(seed, DRAW_SHIFT_Y) * (float)range);
    dx = (dx >= range ? range - 1 : dx) - a->shift;
    dy = (dy >= range ? range - 1 : dy) - a->shift;
    if (dx != 0 || dy != 0) {
      memcpy(scratch, img, (size_t)n * sizeof(float));
      for (int32_t c = 0; c < channels; ++c)
        for (int32_t y = 0; y < height; ++y)
          for (int32_t x = 0; x < width; ++x) {
            int32_t sy = y + dy, sx = x + dx;
            float v = 0.0f;
            if (a->fill_edge) {
              sy = sy < 0 ? 0 : sy >= height ? height - 1 : sy;
              sx = sx < 0 ? 0 : sx >= width ? width - 1 : sx;
              v = scratch[c * plane + (int64_t)sy * width + sx];
            } else if (sy >= 0 && sy < height && sx >= 0 && sx < width) {
              v = scratch[c * plane + (int64_t)sy * width + sx];
            }
            img[c * plane + (int64_t)y * width + x] = v;
          }
    }
  }
  /* Cutout: a square of side s centred on a random pixel (cut off at the borders)
   * takes each channel's mean over the image: a flat patch, as if part of the
   * digit had vanished into its background. */
  if (a->cutout > 0 && a->cutout_size > 0 && draw(seed, DRAW_CUTOUT) < a->cutout) {
    int32_t cx = (int32_t)(draw(seed, DRAW_CUTOUT_X) * (float)width), cy = (int32_t)(draw(seed, DRAW_CUTOUT_Y) * (float)height);
    cx = cx >= width ? width - 1 : cx;
    cy = cy >= height ? height - 1 : cy;
    const int32_t x0 = cx - a->cutout_size / 2, y0 = cy - a->cutout_size / 2;
    const int32_t xa = x0 < 0 ? 0 : x0, ya = y0 < 0 ? 0 : y0;
    const int32_t xb = x0 + a->cutout_size > width ? width : x0 + a->cutout_size;
    const int32_t yb = y0 + a->cutout_size > height ? height : y0 + a->cutout_size;
    for (int32_t ch = 0; ch < channels; ++ch) {
      float *p = img + ch * plane; /* (H, W) plane of channel ch */
      double sum = 0;
      for (int64_t i = 0; i < plane; ++i) sum += p[i];
      const float mean = (float)(sum / (double)plane);
      for (int32_t y = ya; y < yb; ++y)
        for (int32_t x = xa; x < xb; ++x) p[(int64_t)y * width + x] = mean;
    }
  }
}
