/* The short path to a prediction: raw pixels -> the model's recorded
 * preprocessing -> class probabilities. It runs the same calls a caller of
 * the long path makes (a one-image dataset, a pipeline configured from the
 * "preprocessing" metadata, dcnn_model_predict), so both give the same bits
 * by construction rather than by a second implementation kept in step. */
#include <math.h>
#include <string.h>

#include "../data/data_internal.h"
#include "digitcnn/predict.h"
#include "model_internal.h"

#define SIDE_MAX 32768
#define PIXELS_MAX (INT64_C(1) << 26)

/* Input (C, H, W) with C 1 or 3 and output (K): what this call can feed and read. */
static dcnn_status check_model(const dcnn_model *model, int32_t capacity, dcnn_shape *in, int32_t *classes) {
  *in = dcnn_model_input_shape(model);
  const dcnn_shape out = dcnn_model_output_shape(model);
  char a[64], b[64];
  DCNN_CHECK(in->ndim == 3 && (in->dims[0] == 1 || in->dims[0] == 3) && out.ndim == 1, DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_model_predict_image: the model takes %s and gives %s; it must take (1 or 3, H, W) images and "
             "give (K) class scores",
             dcnn_shape_format(in, a, sizeof a), dcnn_shape_format(&out, b, sizeof b));
  DCNN_CHECK(capacity >= out.dims[0], DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_model_predict_image: room for %d probabilities, the model has %d classes", (int)capacity,
             (int)out.dims[0]);
  *classes = out.dims[0];
  return DCNN_OK;
}

/* Packs the caller's rows into (H, W, C') bytes: C' = 3 when the image has colour (alpha dropped) or the
 * model takes RGB (gray copied to each channel), else 1. Shape of `out`: height * width * packed. */
static void pack(const uint8_t *pixels, int32_t height, int32_t width, int32_t channels, size_t stride,
                 int32_t packed, uint8_t *out) {
  for (int32_t y = 0; y < height; ++y) {
    const uint8_t *row = pixels + (size_t)y * stride;
    uint8_t *dst = out + (size_t)y * (size_t)width * (size_t)packed;
    for (int32_t x = 0; x < width; ++x)
      for (int32_t c = 0; c < packed; ++c) dst[x * packed + c] = row[x * channels + (channels == 1 ? 0 : c)];
  }
}

dcnn_status dcnn_model_predict_image(dcnn_model *model, const uint8_t *pixels, int32_t height, int32_t width,
                                     int32_t channels, size_t row_stride, float *probs, int32_t capacity) {
  DCNN_CHECK_ARG(model);
  DCNN_CHECK_ARG(pixels);
  DCNN_CHECK_ARG(probs);
  DCNN_CHECK(height >= 1 && width >= 1 && height <= SIDE_MAX && width <= SIDE_MAX &&
                 (int64_t)height * width <= PIXELS_MAX,
             DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_model_predict_image: a %dx%d image (sides 1 to %d, at most 2^26 pixels)", (int)width, (int)height,
             SIDE_MAX);
  DCNN_CHECK(channels == 1 || channels == 3 || channels == 4, DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_model_predict_image: %d channels (1 gray, 3 RGB or 4 RGBA)", (int)channels);
  const size_t packed_row = (size_t)width * (size_t)channels, stride = row_stride ? row_stride : packed_row;
  DCNN_CHECK(stride >= packed_row, DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_model_predict_image: row stride %zu is less than width x channels (%zu)", row_stride, packed_row);
  dcnn_shape in;
  int32_t classes = 0;
  DCNN_TRY(check_model(model, capacity, &in, &classes));

  /* A one-image dataset (what dcnn_dataset_create() makes), filled in place.
   * Its size is bounded by the pixel limit checked above, not by a dataset's
   * 2^26 bytes per image, which an RGB copy of a 2^26-pixel image exceeds. */
  dcnn_context *ctx = model->ctx;
  const int32_t packed = channels == 1 && in.dims[0] == 1 ? 1 : 3;
  dcnn_image_store *store = NULL;
  if (dcnn__store_create_unchecked(ctx, 1, height, width, packed, 1, &store) != DCNN_OK)
    return dcnn__fail(DCNN_ERR_OUT_OF_MEMORY,
                      "dcnn_model_predict_image: out of memory for a %dx%dx%d copy of the image", (int)width,
                      (int)height, (int)packed);
  pack(pixels, height, width, channels, stride, packed, store->pixels);
  store->labels[0] = 0;
  dcnn_dataset *ds = NULL;
  dcnn_status status = dcnn__dataset_from_store(store, &ds);

  const int32_t index = 0;
  dcnn_pipeline *pipeline = NULL;
  dcnn_tensor *x = NULL, *y = NULL;
  const dcnn_shape xs = dcnn_shape_make(4, 1, in.dims[0], in.dims[1], in.dims[2]);
  const dcnn_shape ys = dcnn_shape_make(2, 1, classes, 0, 0);
  if (status == DCNN_OK) status = dcnn_pipeline_create(ctx, &pipeline);
  if (status == DCNN_OK) status = dcnn__pipeline_configure_for_model(pipeline, model, "dcnn_model_predict_image");
  if (status == DCNN_OK) status = dcnn_pipeline_set(pipeline, DCNN_PIPE_CACHE, 0); /* one image, seen once */
  if (status == DCNN_OK) status = dcnn_tensor_create(ctx, &xs, &x);
  if (status == DCNN_OK) status = dcnn_tensor_create(ctx, &ys, &y);
  if (status == DCNN_OK) status = dcnn_pipeline_batch(pipeline, ds, &index, 1, DCNN_AUGMENT_OFF, 0, 0, x, NULL);
  if (status == DCNN_OK) status = dcnn_model_predict(model, x, y);
  if (status == DCNN_OK) dcnn__model_probabilities(model, dcnn_tensor_data_const(y), classes, probs);
  dcnn_tensor_destroy(y);
  dcnn_tensor_destroy(x);
  dcnn_pipeline_destroy(pipeline);
  dcnn_dataset_destroy(ds);
  return status;
}

/* a ranks before b: larger first, NaN last, ties by index. */
static int ranks_before(float a, int32_t ia, float b, int32_t ib) {
  if (isnan(a) || isnan(b)) return isnan(b) && (!isnan(a) || ia < ib);
  return a > b || (a == b && ia < ib);
}

dcnn_status dcnn_top_k(const float *values, int32_t n, int32_t k, int32_t *indices, float *top_values) {
  DCNN_CHECK_ARG(values);
  DCNN_CHECK_ARG(indices);
  DCNN_CHECK(n >= 1 && k >= 1 && k <= n, DCNN_ERR_INVALID_ARGUMENT, "dcnn_top_k: k = %d of n = %d (1 <= k <= n)",
             (int)k, (int)n);
  /* Insertion into a sorted list of k: O(n k), and k is a handful of classes. */
  int32_t kept = 0;
  for (int32_t i = 0; i < n; ++i) {
    if (kept == k && !ranks_before(values[i], i, values[indices[k - 1]], indices[k - 1])) continue;
    int32_t at = kept < k ? kept++ : k - 1;
    while (at > 0 && ranks_before(values[i], i, values[indices[at - 1]], indices[at - 1])) {
      indices[at] = indices[at - 1];
      --at;
    }
    indices[at] = i;
  }
  if (top_values)
    for (int32_t j = 0; j < k; ++j) top_values[j] = values[indices[j]];
  return DCNN_OK;
}
