/* Ensembles (issue #19): the weighted mean of several models' softmax outputs,
 * each model fed by its own pipeline (members may differ in input size and
 * colour),
 *   p(x) = sum_m w_m model_m(pipeline_m(x)) / sum_m w_m. */
#include <math.h>
#include <string.h>

#include "train_internal.h"

typedef struct ensemble {
  int32_t count;
  dcnn_model *const *models;
  const double *weights;  /* count normalised weights, summing to 1 */
  dcnn_batcher **batches; /* count batchers; member 0's is driven by dcnn__evaluate_batches, so [0] is NULL */
  dcnn_tensor *member;    /* (N, K): one member's outputs */
} ensemble;

/* scores (N, K) <- sum_m w_m model_m(x_m), x_0 = x and x_m member m's own preprocessing of the same samples. */
static dcnn_status score_members(dcnn_model *model, dcnn_tensor *x, const int32_t *labels, int64_t seen,
                                 dcnn_tensor *scores, void *user) {
  (void)model;
  ensemble *e = user;
  const int32_t n = x->shape.dims[0];
  const int64_t values = dcnn_shape_count(&scores->shape);
  DCNN_TRY(dcnn__tensor_set_batch(e->member, n));
  memset(scores->data, 0, (size_t)values * sizeof(float));
  for (int32_t m = 0; m < e->count; ++m) {
    dcnn_tensor *input = x;
    if (m > 0) {
      const int32_t *member_labels = NULL;
      int32_t member_n = 0;
      DCNN_TRY(dcnn_batcher_next(e->batches[m], &input, &member_labels, &member_n));
      /* Same dataset, same order, same batch size: only a pipeline that drops or
       * reorders samples could break this, and the metrics would then be wrong. */
      DCNN_CHECK(member_n == n && memcmp(member_labels, labels, (size_t)n * sizeof *labels) == 0,
                 DCNN_ERR_INVALID_STATE,
                 "dcnn_evaluate_ensemble: member %d's pipeline gave other samples than member 0's at sample %lld",
                 (int)m, (long long)seen);
    }
    DCNN_TRY(dcnn__model_predict_probabilities(e->models[m], input, e->member));
    const float w = (float)e->weights[m];
    for (int64_t i = 0; i < values; ++i) scores->data[i] += w * e->member->data[i];
  }
  return DCNN_OK;
}

/* Checks the members and writes the normalised weights to `normalised` (count values). */
static dcnn_status check_members(const char *fn, dcnn_model *const *models, dcnn_pipeline *const *pipelines,
                                 const float *weights, int32_t count, double *normalised) {
  DCNN_CHECK(count >= 1 && count <= DCNN_ENSEMBLE_MAX_MEMBERS, DCNN_ERR_INVALID_ARGUMENT,
             "%s: %d members (1..%d)", fn, (int)count, DCNN_ENSEMBLE_MAX_MEMBERS);
  double sum = 0;
  for (int32_t m = 0; m < count; ++m) {
    DCNN_CHECK(models[m] && pipelines[m], DCNN_ERR_INVALID_ARGUMENT, "%s: member %d's model or pipeline is NULL", fn,
               (int)m);
    const dcnn_shape out = dcnn_model_output_shape(models[m]), first = dcnn_model_output_shape(models[0]);
    DCNN_CHECK(out.ndim == 1 && out.ndim == first.ndim && out.dims[0] == first.dims[0], DCNN_ERR_SHAPE_MISMATCH,
               "%s: member %d gives %d outputs per sample, member 0 gives %d", fn, (int)m,
               out.ndim == 1 ? (int)out.dims[0] : -1, first.ndim == 1 ? (int)first.dims[0] : -1);
    const double w = weights ? (double)weights[m] : 1.0;
    DCNN_CHECK(isfinite(w) && w >= 0, DCNN_ERR_INVALID_ARGUMENT, "%s: member %d's weight %g (finite, >= 0)", fn,
               (int)m, w);
    normalised[m] = w;
    sum += w;
  }
  DCNN_CHECK(sum > 0, DCNN_ERR_INVALID_ARGUMENT, "%s: the weights sum to 0", fn);
  for (int32_t m = 0; m < count; ++m) normalised[m] /= sum;
  return DCNN_OK;
}

dcnn_status dcnn_evaluate_ensemble(dcnn_model *const *models, dcnn_pipeline *const *pipelines, const float *weights,
                                   int32_t count, const dcnn_dataset *ds, int32_t batch_size, dcnn_metrics *metrics,
                                   double *loss) {
  static const char fn[] = "dcnn_evaluate_ensemble";
  DCNN_CHECK_ARG(models);
  DCNN_CHECK_ARG(pipelines);
  DCNN_CHECK_ARG(ds);
  DCNN_CHECK_ARG(metrics);
  DCNN_CHECK(batch_size >= 1, DCNN_ERR_INVALID_ARGUMENT, "%s: batch size %d must be at least 1", fn, (int)batch_size);
  double normalised[DCNN_ENSEMBLE_MAX_MEMBERS];
  DCNN_TRY(check_members(fn, models, pipelines, weights, count, normalised));
  dcnn_batcher *batches[DCNN_ENSEMBLE_MAX_MEMBERS] = {NULL};
  const dcnn_shape out = dcnn_model_output_shape(models[0]);
  /* No batch holds more than the dataset: a larger batch size must not cost its memory. */
  const int32_t rows = batch_size < dcnn_dataset_count(ds) ? batch_size : dcnn_dataset_count(ds);
  const dcnn_shape member_shape = dcnn_shape_make(2, rows, out.dims[0], 0, 0);
  ensemble e = {count, models, normalised, batches, NULL};
  dcnn_status status = dcnn__tensor_create_capacity(dcnn_model_context(models[0]), &member_shape, 0, &e.member);
  for (int32_t m = 1; status == DCNN_OK && m < count; ++m)
    status = dcnn_batcher_create(dcnn_model_context(models[m]), ds, pipelines[m], batch_size, 0, 0, &batches[m]);
  if (status == DCNN_OK)
    status = dcnn__evaluate_batches(fn, models[0], ds, pipelines[0], batch_size, score_members, &e, metrics, loss);
  for (int32_t m = 1; m < count; ++m) dcnn_batcher_destroy(batches[m]);
  dcnn_tensor_destroy(e.member);
  return status;
}
