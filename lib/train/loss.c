/* Softmax cross-entropy, fused and stable, with optional label smoothing e:
 *   t = (1 - e) onehot(y) + e / K,
 *   loss = mean_n(logsumexp(z_n) - sum_j t_j z_nj),  dL/dz = (softmax(z) - t) / N. */
#include <math.h>

#include "../core/internal.h"
#include "digitcnn/optimizer.h"

dcnn_status dcnn_softmax_cross_entropy(const dcnn_tensor *logits, const int32_t *labels, dcnn_tensor *probs,
                                       dcnn_tensor *grad, float *loss) {
  DCNN_CHECK_ARG(logits); /* named here: the messages below name the smoothed form */
  DCNN_CHECK_ARG(labels);
  DCNN_CHECK_ARG(loss);
  return dcnn_softmax_cross_entropy_smoothed(logits, labels, 0.0f, probs, grad, loss);
}

/* Checks (N, K) logits with N, K >= 1 (the loss is a mean over N rows) and
 * optional outputs of the same shape. */
static dcnn_status check_shapes(const dcnn_tensor *logits, const dcnn_tensor *probs, const dcnn_tensor *grad,
                                int32_t *n, int32_t *k) {
  char a[64], b[64];
  DCNN_CHECK(logits->shape.ndim == 2 && logits->shape.dims[0] > 0 && logits->shape.dims[1] > 0,
             DCNN_ERR_SHAPE_MISMATCH, "softmax cross-entropy: logits must be (N, K) with N, K >= 1, got %s",
             dcnn_shape_format(&logits->shape, a, sizeof a));
  const dcnn_tensor *outs[2] = {probs, grad};
  for (int i = 0; i < 2; ++i)
    DCNN_CHECK(!outs[i] || dcnn_shape_equal(&outs[i]->shape, &logits->shape), DCNN_ERR_SHAPE_MISMATCH,
               "softmax cross-entropy: %s is %s, logits are %s", i ? "grad" : "probs",
               dcnn_shape_format(&outs[i]->shape, a, sizeof a), dcnn_shape_format(&logits->shape, b, sizeof b));
  *n = logits->shape.dims[0];
  *k = logits->shape.dims[1];
  return DCNN_OK;
}

/* The largest of row i's k logits z; a non-finite one is refused. */
static dcnn_status row_max(const float *z, int32_t k, int32_t i, float *max) {
  *max = z[0];
  for (int32_t j = 0; j < k; ++j) {
    DCNN_CHECK(isfinite(z[j]), DCNN_ERR_NUMERIC, "softmax cross-entropy: logit %d of sample %d is %g", (int)j, (int)i,
               (double)z[j]);
    if (z[j] > *max) *max = z[j];
  }
  return DCNN_OK;
}

/* Every row's logits are checked before any row is written: a NaN in a later
 * row leaves probs and grad as they were. */
static dcnn_status check_rows(const dcnn_tensor *logits, int32_t n, int32_t k) {
  for (int32_t i = 0; i < n; ++i) {
    float max = 0;
    DCNN_TRY(row_max(logits->data + (int64_t)i * k, k, i, &max));
  }
  return DCNN_OK;
}

/* log sum_j exp(z_j - max) of a row. */
static double row_log_sum(const float *z, int32_t k, float max) {
  double sum = 0;
  for (int32_t j = 0; j < k; ++j) sum += exp((double)z[j] - max);
  return log(sum);
}

/* The mean loss total / n as a float; finite logits far apart (1e38 and
 * -1e38) give a loss beyond float's range, refused before any output is
 * written. */
static dcnn_status store_loss(double total, int32_t n, float *loss) {
  const float value = (float)(total / n);
  DCNN_CHECK(isfinite(value), DCNN_ERR_NUMERIC,
             "softmax cross-entropy: the loss %g is beyond float's range (finite logits, but too far apart)",
             total / n);
  *loss = value;
  return DCNN_OK;
}

/* Row i's outputs: p_j = exp(z_j - max - log_sum), grad_j = (p_j - t_j) / n,
 * with t the soft row or else (1 - e) onehot(label) + e / k. */
static void write_row(const float *z, int32_t k, int32_t i, int32_t n, float max, double log_sum, const float *soft,
                      int32_t label, double e, dcnn_tensor *probs, dcnn_tensor *grad) {
  const double spread = e / k, hit = 1.0 - e;
  for (int32_t j = 0; j < k; ++j) {
    const double p = exp((double)z[j] - max - log_sum);
    const double target = soft ? (double)soft[j] : e > 0 ? (j == label) * hit + spread : (double)(j == label);
    if (probs) probs->data[(int64_t)i * k + j] = (float)p;
    if (grad) grad->data[(int64_t)i * k + j] = (float)((p - target) / n);
  }
}

dcnn_status dcnn_softmax_cross_entropy_smoothed(const dcnn_tensor *logits, const int32_t *labels,
                                                float label_smoothing, dcnn_tensor *probs, dcnn_tensor *grad,
                                                float *loss) {
  DCNN_CHECK_ARG(logits);
  DCNN_CHECK_ARG(labels);
  DCNN_CHECK_ARG(loss);
  int32_t n = 0, k = 0;
  DCNN_TRY(check_shapes(logits, probs, grad, &n, &k));
  for (int32_t i = 0; i < n; ++i)
    DCNN_CHECK(labels[i] >= 0 && labels[i] < k, DCNN_ERR_INVALID_ARGUMENT,
               "softmax cross-entropy: label %d of sample %d is outside 0..%d", (int)labels[i], (int)i, (int)k - 1);
  DCNN_CHECK(label_smoothing >= 0.0f && label_smoothing < 1.0f, DCNN_ERR_INVALID_ARGUMENT,
             "softmax cross-entropy: label smoothing %g is outside [0, 1)", (double)label_smoothing);
  DCNN_TRY(check_rows(logits, n, k));
  /* target weights: `hit` on the label, `spread` on every class (the label too) */
  const double e = label_smoothing, spread = e / k, hit = 1.0 - e;
  double total = 0;
  for (int32_t i = 0; i < n; ++i) {
    const float *z = logits->data + (int64_t)i * k; /* (k) logits of sample i */
    float max = 0;
    DCNN_TRY(row_max(z, k, i, &max));
    double fit = (double)z[labels[i]] - max; /* sum_j t_j (z_j - max); e = 0 keeps the unsmoothed bits */
    if (e > 0) {
      double all = 0;
      for (int32_t j = 0; j < k; ++j) all += (double)z[j] - max;
      fit = hit * fit + spread * all;
    }
    total += row_log_sum(z, k, max) - fit;
  }
  DCNN_TRY(store_loss(total, n, loss));
  for (int32_t i = 0; i < n; ++i) {
    const float *z = logits->data + (int64_t)i * k; /* (k) logits of sample i */
    float max = 0;
    (void)row_max(z, k, i, &max);
    write_row(z, k, i, n, max, row_log_sum(z, k, max), NULL, labels[i], e, probs, grad);
  }
  return DCNN_OK;
}

/* Soft targets t (each row a distribution): the same formula with t given. */
dcnn_status dcnn_softmax_cross_entropy_soft(const dcnn_tensor *logits, const float *targets, dcnn_tensor *probs,
                                            dcnn_tensor *grad, float *loss) {
  DCNN_CHECK_ARG(logits);
  DCNN_CHECK_ARG(targets);
  DCNN_CHECK_ARG(loss);
  int32_t n = 0, k = 0;
  DCNN_TRY(check_shapes(logits, probs, grad, &n, &k));
  for (int32_t i = 0; i < n; ++i) {
    const float *t = targets + (int64_t)i * k; /* (k) target row of sample i */
    double total = 0;
    int ok = 1;
    for (int32_t j = 0; j < k; ++j) {
      ok &= isfinite(t[j]) && t[j] >= 0.0f;
      total += t[j];
    }
    DCNN_CHECK(ok && fabs(total - 1.0) <= 1e-4, DCNN_ERR_INVALID_ARGUMENT,
               "softmax cross-entropy: the targets of sample %d are no distribution (sum %g)", (int)i, total);
  }
  DCNN_TRY(check_rows(logits, n, k));
  double total = 0;
  for (int32_t i = 0; i < n; ++i) {
    const float *z = logits->data + (int64_t)i * k, *t = targets + (int64_t)i * k; /* (k) each */
    float max = 0;
    DCNN_TRY(row_max(z, k, i, &max));
    double fit = 0;
    for (int32_t j = 0; j < k; ++j) fit += (double)t[j] * ((double)z[j] - max);
    total += row_log_sum(z, k, max) - fit;
  }
  DCNN_TRY(store_loss(total, n, loss));
  for (int32_t i = 0; i < n; ++i) {
    const float *z = logits->data + (int64_t)i * k, *t = targets + (int64_t)i * k; /* (k) each */
    float max = 0;
    (void)row_max(z, k, i, &max);
    write_row(z, k, i, n, max, row_log_sum(z, k, max), t, 0, 0.0, probs, grad);
  }
  return DCNN_OK;
}
