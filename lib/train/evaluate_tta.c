/* Test-time augmentation with shifts (issue #19): the softmax outputs of a
 * few shifted copies of every sample, averaged,
 *   p(x) = mean_s model(shift_s(x)),  s in {(0,0), (+-d,0), (0,+-d)[, (+-d,+-d)]}. */
#include <math.h>
#include <string.h>

#include "train_internal.h"

static const int8_t offsets[9][2] = {{0, 0}, {1, 0}, {-1, 0}, {0, 1}, {0, -1}, {1, 1}, {1, -1}, {-1, 1}, {-1, -1}};

/* dst (N, C, H, W) <- src shifted by (dy, dx): dst(y, x) = src(clamp(y + dy), clamp(x + dx)). */
static void shift_batch(const dcnn_tensor *src, dcnn_tensor *dst, int32_t dy, int32_t dx) {
  const int32_t planes = src->shape.dims[0] * src->shape.dims[1], h = src->shape.dims[2], w = src->shape.dims[3];
  for (int32_t p = 0; p < planes; ++p) {
    const float *from = src->data + (int64_t)p * h * w;
    float *to = dst->data + (int64_t)p * h * w;
    for (int32_t y = 0; y < h; ++y) {
      const int32_t sy = y + dy < 0 ? 0 : y + dy >= h ? h - 1 : y + dy;
      for (int32_t x = 0; x < w; ++x) {
        const int32_t sx = x + dx < 0 ? 0 : x + dx >= w ? w - 1 : x + dx;
        to[(int64_t)y * w + x] = from[(int64_t)sy * w + sx];
      }
    }
  }
}

static dcnn_status check_copies(const char *fn, int32_t copies, int32_t pixels) {
  DCNN_CHECK(copies == 1 || copies == 5 || copies == 9, DCNN_ERR_INVALID_ARGUMENT, "%s: %d copies (1, 5 or 9)", fn,
             (int)copies);
  DCNN_CHECK(pixels >= 1 && pixels <= 8, DCNN_ERR_INVALID_ARGUMENT, "%s: shift of %d pixels (1..8)", fn, (int)pixels);
  return DCNN_OK;
}

/* output (N, K) <- mean over the copies of model(shift(input)); `shifted` is (N, C, H, W) scratch, `scores` (N, K). */
static dcnn_status predict_copies(dcnn_model *model, const dcnn_tensor *input, int32_t copies, int32_t pixels,
                                  dcnn_tensor *shifted, dcnn_tensor *scores, dcnn_tensor *output) {
  const int64_t values = dcnn_shape_count(&output->shape);
  memset(output->data, 0, (size_t)values * sizeof(float));
  for (int32_t c = 0; c < copies; ++c) {
    shift_batch(input, shifted, offsets[c][0] * pixels, offsets[c][1] * pixels);
    DCNN_TRY(dcnn__model_predict_probabilities(model, shifted, scores));
    for (int64_t i = 0; i < values; ++i) output->data[i] += scores->data[i] / (float)copies;
  }
  return DCNN_OK;
}

dcnn_status dcnn_model_predict_tta(dcnn_model *model, const dcnn_tensor *input, int32_t copies, int32_t pixels,
                                   dcnn_tensor *output) {
  static const char fn[] = "dcnn_model_predict_tta";
  DCNN_CHECK_ARG(model);
  DCNN_CHECK_ARG(input);
  DCNN_CHECK_ARG(output);
  DCNN_TRY(check_copies(fn, copies, pixels));
  DCNN_CHECK(input->shape.ndim == 4, DCNN_ERR_SHAPE_MISMATCH, "%s: shifts need (N, C, H, W) inputs", fn);
  /* before the output is cleared: a wrong argument leaves the caller's tensor as it was */
  const dcnn_shape sample = dcnn_model_output_shape(model);
  dcnn_shape expected = sample;
  expected.ndim = sample.ndim + 1;
  expected.dims[0] = input->shape.dims[0];
  for (int32_t d = 0; d < sample.ndim && d + 1 < DCNN_MAX_DIMS; ++d) expected.dims[d + 1] = sample.dims[d];
  char a[64], b[64];
  DCNN_CHECK(sample.ndim < DCNN_MAX_DIMS && dcnn_shape_equal(&output->shape, &expected), DCNN_ERR_SHAPE_MISMATCH,
             "%s: output is %s, expected %s", fn, dcnn_shape_format(&output->shape, a, sizeof a),
             dcnn_shape_format(&expected, b, sizeof b));
  dcnn_context *ctx = dcnn_model_context(model);
  dcnn_tensor *shifted = NULL, *scores = NULL; /* (N, C, H, W), like output */
  dcnn_status status = dcnn_tensor_create(ctx, &input->shape, &shifted);
  if (status == DCNN_OK) status = dcnn_tensor_create(ctx, &output->shape, &scores);
  if (status == DCNN_OK) status = predict_copies(model, input, copies, pixels, shifted, scores, output);
  dcnn_tensor_destroy(shifted);
  dcnn_tensor_destroy(scores);
  return status;
}

typedef struct tta_batch {
  int32_t copies, pixels;
  dcnn_tensor *copy_scores, *shifted; /* (N, K), (N, C, H, W) with the batch's capacity */
} tta_batch;

static dcnn_status score_copies(dcnn_model *model, dcnn_tensor *x, const int32_t *labels, int64_t seen,
                                dcnn_tensor *scores, void *user) {
  (void)labels;
  (void)seen;
  tta_batch *t = user;
  const int32_t n = x->shape.dims[0];
  DCNN_TRY(dcnn__tensor_set_batch(t->copy_scores, n));
  DCNN_TRY(dcnn__tensor_set_batch(t->shifted, n));
  return predict_copies(model, x, t->copies, t->pixels, t->shifted, t->copy_scores, scores);
}

dcnn_status dcnn_evaluate_tta(dcnn_model *model, const dcnn_dataset *ds, dcnn_pipeline *pipeline, int32_t batch_size,
                              int32_t copies, int32_t pixels, dcnn_metrics *metrics, double *loss) {
  static const char fn[] = "dcnn_evaluate_tta";
  DCNN_CHECK_ARG(model);
  DCNN_CHECK_ARG(ds);
  DCNN_CHECK_ARG(pipeline);
  DCNN_CHECK_ARG(metrics);
  DCNN_TRY(check_copies(fn, copies, pixels));
  DCNN_CHECK(batch_size >= 1, DCNN_ERR_INVALID_ARGUMENT, "%s: batch size %d must be at least 1", fn, (int)batch_size);
  const dcnn_shape out = dcnn_model_output_shape(model), in = dcnn_model_input_shape(model);
  DCNN_CHECK(in.ndim == 3, DCNN_ERR_SHAPE_MISMATCH, "%s: shifts need (C, H, W) inputs", fn);
  DCNN_CHECK(out.ndim == 1, DCNN_ERR_SHAPE_MISMATCH, "%s: the model's output is not one score per class", fn);
  dcnn_context *ctx = dcnn_model_context(model);
  /* No batch holds more than the dataset: a larger batch size must not cost its memory. */
  const int32_t rows = batch_size < dcnn_dataset_count(ds) ? batch_size : dcnn_dataset_count(ds);
  dcnn_shape scores_shape = dcnn_shape_make(2, rows, out.dims[0], 0, 0);
  dcnn_shape input_shape = dcnn_shape_make(4, rows, in.dims[0], in.dims[1], in.dims[2]);
  tta_batch t = {copies, pixels, NULL, NULL};
  dcnn_status status = dcnn__tensor_create_capacity(ctx, &scores_shape, 0, &t.copy_scores);
  if (status == DCNN_OK) status = dcnn__tensor_create_capacity(ctx, &input_shape, 0, &t.shifted);
  if (status == DCNN_OK)
    status = dcnn__evaluate_batches(fn, model, ds, pipeline, batch_size, score_copies, &t, metrics, loss);
  dcnn_tensor_destroy(t.shifted);
  dcnn_tensor_destroy(t.copy_scores);
  return status;
}
