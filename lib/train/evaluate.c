/* Evaluation of a model over a whole dataset, in inference mode. */
#include <math.h>

#include "train_internal.h"

dcnn_status dcnn_evaluate(dcnn_model *model, const dcnn_dataset *ds, dcnn_pipeline *pipeline, int32_t batch_size,
                          dcnn_metrics *metrics, double *loss) {
  return dcnn_evaluate_transformed(model, ds, pipeline, batch_size, NULL, NULL, metrics, loss);
}

dcnn_status dcnn_evaluate_transformed(dcnn_model *model, const dcnn_dataset *ds, dcnn_pipeline *pipeline,
                                      int32_t batch_size, dcnn_batch_transform transform, void *user,
                                      dcnn_metrics *metrics, double *loss) {
  DCNN_CHECK_ARG(model);
  DCNN_CHECK_ARG(ds);
  DCNN_CHECK_ARG(pipeline);
  DCNN_CHECK_ARG(metrics);
  DCNN_CHECK(batch_size >= 1, DCNN_ERR_INVALID_ARGUMENT, "dcnn_evaluate: batch size %d must be at least 1",
             (int)batch_size);
  const dcnn_shape out = dcnn_model_output_shape(model);
  DCNN_CHECK(out.ndim == 1 && out.dims[0] == dcnn_metrics_classes(metrics), DCNN_ERR_SHAPE_MISMATCH,
             "dcnn_evaluate: the model gives %d outputs per sample, the metrics expect %d classes",
             out.ndim == 1 ? (int)out.dims[0] : -1, (int)dcnn_metrics_classes(metrics));
  dcnn_context *ctx = dcnn_model_context(model);
  dcnn_batcher *batches = NULL;
  DCNN_TRY(dcnn_batcher_create(ctx, ds, pipeline, batch_size, 0, 0, &batches));
  dcnn_shape scores_shape = dcnn_shape_make(2, batch_size, out.dims[0], 0, 0);
  dcnn_tensor *scores = NULL;
  double loss_sum = 0;
  int64_t seen = 0;
  dcnn_status status = dcnn__tensor_create_capacity(ctx, &scores_shape, 0, &scores);
  while (status == DCNN_OK) {
    dcnn_tensor *x = NULL;
    const int32_t *labels = NULL;
    int32_t n = 0;
    status = dcnn_batcher_next(batches, &x, &labels, &n);
    if (status != DCNN_OK || n == 0) break;
    if (transform) status = transform(model, x, labels, seen, user);
    if (status == DCNN_OK) status = dcnn__tensor_set_batch(scores, n);
    if (status == DCNN_OK) status = dcnn_model_predict(model, x, scores);
    if (status == DCNN_OK) status = dcnn_metrics_add_tensor(metrics, scores, labels);
    for (int32_t i = 0; status == DCNN_OK && i < n; ++i) {
      double p = dcnn_tensor_data_const(scores)[(int64_t)i * out.dims[0] + labels[i]];
      loss_sum -= log(p > 1e-15 ? p : 1e-15);
    }
    seen += n;
  }
  dcnn_tensor_destroy(scores);
  dcnn_batcher_destroy(batches);
  DCNN_TRY(status);
  if (loss) *loss = seen ? loss_sum / (double)seen : NAN;
  return DCNN_OK;
}
