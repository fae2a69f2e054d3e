/* Paper preprocessing (§2.1): resize with antialiased bilinear filtering (the
 * triangle filter widened by the scale when shrinking, as PIL and PyTorch's
 * antialias=True do), BT.601 luma, pixels scaled to [0, 1]. */
#include <math.h>
#include <string.h>

#include "data_internal.h"

static float triangle(float x) {
  x = fabsf(x);
  return x < 1.0f ? 1.0f - x : 0.0f;
}

dcnn_status dcnn__resize_axis_plan(dcnn_context *ctx, int32_t in, int32_t out, dcnn_resize_axis *axis) {
  memset(axis, 0, sizeof *axis);
  const double scale = (double)in / out, support = scale >= 1.0 ? scale : 1.0, inv = scale >= 1.0 ? 1.0 / scale : 1.0;
  const int32_t taps = (int32_t)ceil(2.0 * support) + 1;
  axis->in = in;
  axis->out = out;
  axis->taps = taps;
  axis->first = dcnn__alloc(ctx, (size_t)out * sizeof(int32_t));
  axis->weights = dcnn__calloc(ctx, (size_t)out * taps, sizeof(float));
  if (!axis->first || !axis->weights) {
    dcnn__resize_axis_free(ctx, axis);
    return dcnn__fail(DCNN_ERR_OUT_OF_MEMORY, "resize: out of memory");
  }
  for (int32_t i = 0; i < out; ++i) {
    const double center = scale * (i + 0.5);
    int32_t lo = (int32_t)(center - support + 0.5), hi = (int32_t)(center + support + 0.5);
    if (lo < 0) lo = 0;
    if (hi > in) hi = in;
    if (hi - lo > taps) hi = lo + taps;
    float *w = axis->weights + (int64_t)i * taps, total = 0.0f;
    for (int32_t j = lo; j < hi; ++j) total += w[j - lo] = triangle((float)((j - center + 0.5) * inv));
    for (int32_t j = 0; j < hi - lo && total > 0.0f; ++j) w[j] /= total;
    axis->first[i] = lo;
  }
  return DCNN_OK;
}

void dcnn__resize_axis_free(dcnn_context *ctx, dcnn_resize_axis *axis) {
  dcnn__release(ctx, axis->first);
  dcnn__release(ctx, axis->weights);
  axis->first = NULL;
  axis->weights = NULL;
}

/* Output taps never read past the input: `first + taps` may exceed it only with zero weights. */
static int32_t taps_at(const dcnn_resize_axis *a, int32_t i) {
  int32_t n = a->in - a->first[i];
  return n < a->taps ? n : a->taps;
}

void dcnn__preprocess_image(const uint8_t *image, int32_t channels, const dcnn_resize_axis *rows,
                            const dcnn_resize_axis *cols, int gray, float *scratch, float *out) {
  const int32_t h = rows->in, w = cols->in, oh = rows->out, ow = cols->out;
  const int64_t plane = (int64_t)oh * ow;
  float *planes = gray && channels == 3 ? scratch + (int64_t)h * ow : out;
  for (int32_t c = 0; c < channels; ++c) {
    /* Horizontal pass: (h, w) bytes -> (h, ow) floats. */
    for (int32_t y = 0; y < h; ++y) {
      const uint8_t *src = image + (int64_t)y * w * channels + c;
      float *dst = scratch + (int64_t)y * ow;
      for (int32_t x = 0; x < ow; ++x) {
        const float *wt = cols->weights + (int64_t)x * cols->taps;
        const int32_t first = cols->first[x], n = taps_at(cols, x);
        float sum = 0.0f;
        for (int32_t t = 0; t < n; ++t) sum += wt[t] * (float)src[(int64_t)(first + t) * channels];
        dst[x] = sum * (1.0f / 255.0f);
      }
    }
    /* Vertical pass: (h, ow) -> (oh, ow). */
    float *target = planes + c * plane;
    for (int32_t y = 0; y < oh; ++y) {
      const float *wt = rows->weights + (int64_t)y * rows->taps;
      const int32_t first = rows->first[y], n = taps_at(rows, y);
      float *dst = target + (int64_t)y * ow;
      for (int32_t x = 0; x < ow; ++x) dst[x] = 0.0f;
      for (int32_t t = 0; t < n; ++t) {
        const float *src = scratch + (int64_t)(first + t) * ow, k = wt[t];
        for (int32_t x = 0; x < ow; ++x) dst[x] += k * src[x];
      }
    }
  }
  if (gray && channels == 3) {
    /* ITU-R BT.601 luma. */
    for (int64_t i = 0; i < plane; ++i)
      out[i] = 0.299f * planes[i] + 0.587f * planes[plane + i] + 0.114f * planes[2 * plane + i];
  }
}
