/* Evaluation of a model over a whole dataset, in inference mode. */
#include <math.h>
#include <string.h>

#include "../core/struct_size.h"
#include "../data/data_internal.h"
#include "train_internal.h"

dcnn_status dcnn_evaluate(dcnn_model *model, const dcnn_dataset *ds, dcnn_pipeline *pipeline, int32_t batch_size,
                          dcnn_metrics *metrics, double *loss) {
  return dcnn_evaluate_transformed(model, ds, pipeline, batch_size, NULL, NULL, metrics, loss);
}

dcnn_status dcnn__evaluate_batches(const char *fn, dcnn_model *model, const dcnn_dataset *ds,
                                   dcnn_pipeline *pipeline, int32_t batch_size, dcnn__score_fn score, void *user,
                                   dcnn_metrics *metrics, double *loss) {
  const void *const args[4] = {model, ds, pipeline, metrics};
  static const char *const names[4] = {"model", "ds", "pipeline", "metrics"};
  for (int i = 0; i < 4; ++i)
    DCNN_CHECK(args[i] != NULL, DCNN_ERR_INVALID_ARGUMENT, "%s: argument '%s' is NULL", fn, names[i]);
  DCNN_CHECK(batch_size >= 1, DCNN_ERR_INVALID_ARGUMENT, "%s: batch size %d must be at least 1", fn, (int)batch_size);
  const dcnn_shape out = dcnn_model_output_shape(model);
  DCNN_CHECK(out.ndim == 1 && out.dims[0] == dcnn_metrics_classes(metrics), DCNN_ERR_SHAPE_MISMATCH,
             "%s: the model gives %d outputs per sample, the metrics expect %d classes", fn,
             out.ndim == 1 ? (int)out.dims[0] : -1, (int)dcnn_metrics_classes(metrics));
  /* Fewer classes fit (a subset of the digits); more would fail part-way, at the first label past the model's. */
  DCNN_CHECK(dcnn_dataset_classes(ds) <= out.dims[0], DCNN_ERR_SHAPE_MISMATCH,
             "%s: the dataset has %d classes, the model gives %d outputs per sample", fn,
             (int)dcnn_dataset_classes(ds), (int)out.dims[0]);
  /* Here, not at the first forward: the message names the called function, and a score function
   * (test-time shifts) sizes its scratch from the model's input. */
  const dcnn_shape input = dcnn_model_input_shape(model);
  dcnn_shape sample;
  DCNN_TRY(dcnn_pipeline_sample_shape(pipeline, ds, &sample));
  char a[64], b[64];
  DCNN_CHECK(input.ndim == 0 || dcnn_shape_equal(&sample, &input), DCNN_ERR_SHAPE_MISMATCH,
             "%s: the pipeline makes samples %s, the model takes %s", fn, dcnn_shape_format(&sample, a, sizeof a),
             dcnn_shape_format(&input, b, sizeof b));
  dcnn_context *ctx = dcnn_model_context(model);
  dcnn_batcher *batches = NULL;
  DCNN_TRY(dcnn_batcher_create(ctx, ds, pipeline, batch_size, 0, 0, &batches));
  /* No batch holds more than the dataset: a larger batch size must not cost its memory. */
  const int32_t rows = batch_size < dcnn_dataset_count(ds) ? batch_size : dcnn_dataset_count(ds);
  dcnn_shape scores_shape = dcnn_shape_make(2, rows, out.dims[0], 0, 0);
  dcnn_tensor *scores = NULL; /* (N, K) */
  double loss_sum = 0;
  int64_t seen = 0;
  dcnn_status status = dcnn__tensor_create_capacity(ctx, &scores_shape, 0, &scores);
  while (status == DCNN_OK) {
    dcnn_tensor *x = NULL;
    const int32_t *labels = NULL;
    int32_t n = 0;
    status = dcnn_batcher_next(batches, &x, &labels, &n);
    if (status != DCNN_OK || n == 0) break;
    status = dcnn__tensor_set_batch(scores, n);
    if (status == DCNN_OK) status = score(model, x, labels, seen, scores, user);
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

typedef struct transformed {
  dcnn_batch_transform transform; /* or NULL */
  void *user;
} transformed;

static dcnn_status score_transformed(dcnn_model *model, dcnn_tensor *x, const int32_t *labels, int64_t seen,
                                     dcnn_tensor *scores, void *user) {
  const transformed *t = user;
  const uint64_t mark = dcnn__error_mark(); /* user code: its failure gets a message of its own */
  if (t->transform) DCNN_TRY(dcnn__callee_error(t->transform(model, x, labels, seen, t->user), mark, "transform"));
  return dcnn__model_predict_probabilities(model, x, scores);
}

dcnn_status dcnn_evaluate_transformed(dcnn_model *model, const dcnn_dataset *ds, dcnn_pipeline *pipeline,
                                      int32_t batch_size, dcnn_batch_transform transform, void *user,
                                      dcnn_metrics *metrics, double *loss) {
  transformed t = {transform, user};
  return dcnn__evaluate_batches("dcnn_evaluate", model, ds, pipeline, batch_size, score_transformed, &t, metrics,
                                loss);
}

/* Adds `n` rows of (K + 1) values (K scores, then the label as a float) to
 * the metrics and the loss sum, in row order as dcnn_evaluate does. */
static dcnn_status add_rows(dcnn_metrics *metrics, const float *rows, int32_t n, int32_t k, float *scores,
                            int32_t *labels, double *loss_sum) {
  for (int32_t i = 0; i < n; ++i) {
    memcpy(scores + (int64_t)i * k, rows + (int64_t)i * (k + 1), (size_t)k * sizeof(float));
    const float label = rows[(int64_t)i * (k + 1) + k]; /* as the communicator gathered it: checked before the cast */
    DCNN_CHECK(label >= 0 && label < (float)k && label == floorf(label), DCNN_ERR_INVALID_STATE,
               "dcnn_evaluate_distributed: the communicator gathered label %g for row %d (classes 0..%d)",
               (double)label, (int)i, (int)k - 1);
    labels[i] = (int32_t)label;
  }
  DCNN_TRY(dcnn_metrics_add(metrics, scores, labels, n));
  for (int32_t i = 0; i < n; ++i) {
    double p = scores[(int64_t)i * k + labels[i]];
    *loss_sum -= log(p > 1e-15 ? p : 1e-15);
  }
  return DCNN_OK;
}

/* Whether the job evaluates one set alike: its count, classes, image size and labels, the metrics' classes and
 * the batch size, hashed and compared (dcnn__hash_parts) in the all-reduce that carries the failure flag. Else
 * each process would split its own set into windows: rows another process never sent would count as label 0. */
static dcnn_status agree_on_set(const dcnn_communicator *comm, const char *fn, dcnn_status status,
                                const dcnn_dataset *ds, int32_t batch_size, int32_t classes) {
  uint32_t h = DCNN__FNV_START;
  if (status == DCNN_OK) status = dcnn__hash_set(&h, ds);
  h = dcnn__fnv1a_i64(dcnn__fnv1a_i64(h, classes), batch_size);
  double sums[1 + DCNN__HASH_PARTS] = {status != DCNN_OK ? 1.0 : 0.0}; /* failures, then the hash's parts */
  if (status == DCNN_OK) dcnn__hash_parts(h, sums + 1);
  dcnn__error_saved own; /* this process's error outranks the collective's */
  if (status != DCNN_OK) dcnn__error_save(&own);
  const dcnn_status sent = dcnn__comm_allreduce(comm, sums, 1 + DCNN__HASH_PARTS, DCNN_COMM_FLOAT64);
  if (status != DCNN_OK) {
    dcnn__error_restore(&own);
    return status;
  }
  if (sent != DCNN_OK) return sent;
  const int32_t size = comm->size(comm->user);
  if (!(sums[0] == 0))
    return dcnn__fail(DCNN_ERR_INVALID_STATE, "%s: %g of %d processes failed (their own errors say why)", fn, sums[0],
                      (int)size);
  if (!dcnn__hash_parts_agree(sums + 1, size))
    return dcnn__fail(DCNN_ERR_INVALID_ARGUMENT, "%s: the job's %d processes differ in the data set (count, classes, "
                      "image size or labels) or the batch size; each must evaluate the same set alike", fn, (int)size);
  return DCNN_OK;
}

dcnn_status dcnn_evaluate_distributed(dcnn_model *model, const dcnn_dataset *ds, dcnn_pipeline *pipeline,
                                      int32_t batch_size, const dcnn_communicator *job, dcnn_metrics *metrics,
                                      double *loss) {
  static const char fn[] = "dcnn_evaluate_distributed";
  dcnn_communicator copy; /* the rules of set_communicator: struct_size, the functions used here set */
  memset(&copy, 0, sizeof copy);
  if (job) {
    DCNN_TRY(dcnn__struct_read(fn, "dcnn_communicator", &copy, sizeof copy, job, DCNN__COMMUNICATOR_SIZE_0_2));
    DCNN_CHECK(copy.rank && copy.size && copy.allreduce_sum, DCNN_ERR_INVALID_ARGUMENT,
               "%s: the communicator's rank, size and allreduce_sum must be set", fn);
  }
  const dcnn_communicator *comm = job ? &copy : NULL;
  const int32_t size = comm ? comm->size(comm->user) : 1, rank = comm ? comm->rank(comm->user) : 0;
  DCNN_CHECK(size >= 1 && rank >= 0 && rank < size, DCNN_ERR_INVALID_ARGUMENT, "%s: rank %d of %d processes", fn,
             (int)rank, (int)size);
  if (size <= 1) return dcnn_evaluate(model, ds, pipeline, batch_size, metrics, loss);
  /* Checks and set-up can fail on one process alone: the job agrees on them
   * before the first window, and on every window (its last element). */
  dcnn_status status = DCNN_OK;
  if (!model || !ds || !pipeline || !metrics)
    status = dcnn__fail(DCNN_ERR_INVALID_ARGUMENT, "%s: model, ds, pipeline and metrics must not be NULL", fn);
  else if (batch_size < 1)
    status = dcnn__fail(DCNN_ERR_INVALID_ARGUMENT, "%s: batch size %d must be at least 1", fn, (int)batch_size);
  const dcnn_shape out = model ? dcnn_model_output_shape(model) : dcnn_shape_make(0, 0, 0, 0, 0);
  const int32_t k = metrics ? dcnn_metrics_classes(metrics) : 0;
  if (status == DCNN_OK && !(out.ndim == 1 && out.dims[0] == k))
    status = dcnn__fail(DCNN_ERR_SHAPE_MISMATCH, "%s: the model gives %d outputs per sample, the metrics expect %d "
                        "classes", fn, out.ndim == 1 ? (int)out.dims[0] : -1, (int)k);
  dcnn_context *ctx = model ? dcnn_model_context(model) : NULL;
  dcnn_batcher *batches = NULL;
  float *window = NULL, *scores = NULL;
  int32_t *labels = NULL;
  dcnn_tensor *mine = NULL;
  /* A batch's rows in the window: no batch holds more than the dataset, and a
   * larger batch size must not cost its memory (on every process). */
  const int32_t count = ds ? dcnn_dataset_count(ds) : 0;
  int32_t rows = batch_size < count ? batch_size : count;
  if (rows < 1) rows = 1; /* arguments refused above: keeps the sizes below meaningful */
  const int64_t window_rows = (int64_t)size * rows, flag = window_rows * (k + 1);
  if (status == DCNN_OK) status = dcnn_batcher_create(ctx, ds, pipeline, batch_size, 0, 0, &batches);
  if (status == DCNN_OK) {
    window = dcnn__alloc(ctx, (size_t)(flag + 1) * sizeof(float));                /* (size*rows, K+1), flag */
    scores = dcnn__alloc(ctx, (size_t)rows * (size_t)k * sizeof(float));          /* (rows, K) */
    labels = dcnn__alloc(ctx, (size_t)rows * sizeof(int32_t));                   /* (rows) */
    if (!window || !scores || !labels) status = dcnn__fail(DCNN_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
  }
  dcnn_shape scores_shape = dcnn_shape_make(2, rows, k, 0, 0);
  if (status == DCNN_OK) status = dcnn__tensor_create_capacity(ctx, &scores_shape, 0, &mine);
  status = agree_on_set(comm, fn, status, ds, batch_size, k);
  /* A window is `size` consecutive batches, batch r evaluated by rank r; the
   * window's rows are summed over the ranks (each row is non-zero on one
   * rank only, so the sum is exact) and every rank adds all of them in
   * dataset order: the metrics and loss are those of dcnn_evaluate. */
  const int32_t total = status == DCNN_OK ? dcnn_batcher_batches_per_epoch(batches) : 0;
  double loss_sum = 0;
  int64_t seen = 0;
  for (int32_t first = 0; status == DCNN_OK && first < total; first += size) {
    memset(window, 0, (size_t)(flag + 1) * sizeof(float));
    const int32_t index = first + rank;
    dcnn_status mine_status = DCNN_OK;
    if (index < total) {
      dcnn_tensor *x = NULL;
      const int32_t *y = NULL;
      int32_t n = 0;
      mine_status = dcnn__batcher_skip(batches, index);
      if (mine_status == DCNN_OK) mine_status = dcnn_batcher_next(batches, &x, &y, &n);
      if (mine_status == DCNN_OK && n > 0) mine_status = dcnn__tensor_set_batch(mine, n);
      if (mine_status == DCNN_OK && n > 0) mine_status = dcnn__model_predict_probabilities(model, x, mine);
      for (int32_t i = 0; mine_status == DCNN_OK && i < n; ++i) {
        float *row = window + ((int64_t)rank * rows + i) * (k + 1);
        memcpy(row, dcnn_tensor_data_const(mine) + (int64_t)i * k, (size_t)k * sizeof(float));
        row[k] = (float)y[i]; /* exact: labels are below 2^24 */
      }
    }
    /* every rank reaches the all-reduce, whatever happened to its batch; the
     * flag element counts the ranks that failed, and then all stop here */
    window[flag] = mine_status != DCNN_OK ? 1.0f : 0.0f;
    dcnn__error_saved own; /* this process's error outranks the collective's */
    if (mine_status != DCNN_OK) dcnn__error_save(&own);
    status = dcnn__comm_allreduce(comm, window, flag + 1, DCNN_COMM_FLOAT32);
    if (mine_status != DCNN_OK) {
      dcnn__error_restore(&own);
      status = mine_status;
    }
    else if (status == DCNN_OK && !(window[flag] == 0)) /* a garbled sum (NaN, 1e10) is a failure, never cast */
      status = dcnn__fail(DCNN_ERR_INVALID_STATE, "%s: %g of %d processes failed (their own errors say why)", fn,
                          (double)window[flag], (int)size);
    for (int32_t r = 0; status == DCNN_OK && r < size && first + r < total; ++r) {
      const int64_t begin = (int64_t)(first + r) * batch_size, left = dcnn_dataset_count(ds) - begin;
      const int32_t n = left < batch_size ? (int32_t)left : batch_size;
      status = add_rows(metrics, window + (int64_t)r * rows * (k + 1), n, k, scores, labels, &loss_sum);
      seen += n;
    }
  }
  dcnn_tensor_destroy(mine);
  dcnn__release(ctx, window);
  dcnn__release(ctx, scores);
  dcnn__release(ctx, labels);
  dcnn_batcher_destroy(batches);
  DCNN_TRY(status);
  if (loss) *loss = seen ? loss_sum / (double)seen : NAN;
  return DCNN_OK;
}
