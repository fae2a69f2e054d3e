/* The metric accumulator: confusion counts, log loss and stored scores. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "metrics_internal.h"

/* scikit-learn's log_loss clips at the machine epsilon of its input (eps="auto"
 * since 1.2, the only rule since 1.5); scores reach it as float64 */
#define LOG_LOSS_EPS DBL_EPSILON

dcnn_status dcnn_metrics_create(dcnn_context *ctx, int32_t classes, dcnn_metrics **out) {
  DCNN_CHECK_ARG(out);
  *out = NULL;
  DCNN_CHECK(classes >= 2 && classes <= 100000, DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_metrics_create: %d classes (2 to 100000)", (int)classes);
  dcnn_metrics *m = dcnn__calloc(ctx, 1, sizeof *m);
  DCNN_CHECK(m != NULL, DCNN_ERR_OUT_OF_MEMORY, "dcnn_metrics_create: out of memory");
  m->ctx = ctx;
  m->classes = classes;
  /* (classes, classes) counts; calloc's own overflow check covers classes^2 (a 32-bit size_t wraps at 65536) */
  m->confusion = dcnn__calloc(ctx, (size_t)classes, (size_t)classes * sizeof(int64_t));
  if (!m->confusion) {
    dcnn__release(ctx, m);
    return dcnn__fail(DCNN_ERR_OUT_OF_MEMORY, "dcnn_metrics_create: out of memory");
  }
  *out = m;
  return DCNN_OK;
}

void dcnn_metrics_destroy(dcnn_metrics *m) {
  if (!m) return;
  dcnn__release(m->ctx, m->scores);
  dcnn__release(m->ctx, m->labels);
  dcnn__release(m->ctx, m->confusion);
  dcnn__release(m->ctx, m->auc_cache);
  dcnn__release(m->ctx, m);
}

dcnn_status dcnn_metrics_reset(dcnn_metrics *m) {
  DCNN_CHECK_ARG(m);
  m->count = 0;
  m->log_loss_sum = 0;
  m->auc_valid = m->micro_auc_valid = 0;
  memset(m->confusion, 0, (size_t)m->classes * m->classes * sizeof(int64_t));
  return DCNN_OK;
}

int64_t dcnn_metrics_count(const dcnn_metrics *m) { return m ? m->count : 0; }
int32_t dcnn_metrics_classes(const dcnn_metrics *m) { return m ? m->classes : 0; }

static dcnn_status reserve(dcnn_metrics *m, int64_t needed) {
  if (needed <= m->capacity) return DCNN_OK;
  int64_t capacity = m->capacity ? m->capacity : 1024;
  while (capacity < needed) capacity *= 2;
  /* (capacity, classes) scores: refused where size_t cannot hold their bytes (32-bit builds) */
  DCNN_CHECK((uint64_t)capacity * (uint64_t)m->classes <= (uint64_t)SIZE_MAX / sizeof(float), DCNN_ERR_OUT_OF_MEMORY,
             "metrics: %lld samples of %d scores do not fit in memory", (long long)capacity, (int)m->classes);
  float *scores = dcnn__alloc(m->ctx, (size_t)(capacity * m->classes) * sizeof(float));
  int32_t *labels = dcnn__alloc(m->ctx, (size_t)capacity * sizeof(int32_t));
  if (!scores || !labels) {
    dcnn__release(m->ctx, scores);
    dcnn__release(m->ctx, labels);
    return dcnn__fail(DCNN_ERR_OUT_OF_MEMORY, "metrics: out of memory for %lld samples", (long long)capacity);
  }
  if (m->count) {
    memcpy(scores, m->scores, (size_t)(m->count * m->classes) * sizeof(float));
    memcpy(labels, m->labels, (size_t)m->count * sizeof(int32_t));
  }
  dcnn__release(m->ctx, m->scores);
  dcnn__release(m->ctx, m->labels);
  m->scores = scores;
  m->labels = labels;
  m->capacity = capacity;
  return DCNN_OK;
}

static int32_t argmax(const float *row, int32_t k) {
  int32_t best = 0;
  for (int32_t j = 1; j < k; ++j)
    if (row[j] > row[best]) best = j;
  return best;
}

/* -log of the label's probability after clipping and renormalising the row (scikit-learn 1.2, float64). */
static double sample_log_loss(const float *row, int32_t k, int32_t label) {
  double total = 0, mine = 0;
  for (int32_t j = 0; j < k; ++j) {
    double p = fmin(fmax((double)row[j], LOG_LOSS_EPS), 1.0 - LOG_LOSS_EPS);
    total += p;
    if (j == label) mine = p;
  }
  return -log(mine / total);
}

dcnn_status dcnn_metrics_add(dcnn_metrics *m, const float *scores, const int32_t *labels, int32_t count) {
  DCNN_CHECK_ARG(m);
  DCNN_CHECK_ARG(scores);
  DCNN_CHECK_ARG(labels);
  DCNN_CHECK(count >= 1, DCNN_ERR_INVALID_ARGUMENT, "dcnn_metrics_add: count %d must be at least 1", (int)count);
  const int32_t k = m->classes;
  for (int32_t i = 0; i < count; ++i) {
    DCNN_CHECK(labels[i] >= 0 && labels[i] < k, DCNN_ERR_INVALID_ARGUMENT,
               "dcnn_metrics_add: label %d of sample %d is outside 0..%d", (int)labels[i], (int)i, (int)k - 1);
    for (int32_t j = 0; j < k; ++j)
      DCNN_CHECK(isfinite(scores[(int64_t)i * k + j]), DCNN_ERR_NUMERIC,
                 "dcnn_metrics_add: score %d of sample %d is %g", (int)j, (int)i, (double)scores[(int64_t)i * k + j]);
  }
  DCNN_TRY(reserve(m, m->count + count));
  memcpy(m->scores + m->count * k, scores, (size_t)count * k * sizeof(float));
  memcpy(m->labels + m->count, labels, (size_t)count * sizeof(int32_t));
  for (int32_t i = 0; i < count; ++i) {
    const float *row = scores + (int64_t)i * k;
    m->confusion[(int64_t)labels[i] * k + argmax(row, k)]++;
    m->log_loss_sum += sample_log_loss(row, k, labels[i]);
  }
  m->count += count;
  m->auc_valid = m->micro_auc_valid = 0;
  return DCNN_OK;
}

dcnn_status dcnn_metrics_add_tensor(dcnn_metrics *m, const dcnn_tensor *scores, const int32_t *labels) {
  DCNN_CHECK_ARG(m);
  DCNN_CHECK_ARG(scores);
  char text[64];
  DCNN_CHECK(scores->shape.ndim == 2 && scores->shape.dims[1] == m->classes, DCNN_ERR_SHAPE_MISMATCH,
             "dcnn_metrics_add_tensor: scores are %s, expected (N, %d)", dcnn_shape_format(&scores->shape, text, sizeof text),
             (int)m->classes);
  return dcnn_metrics_add(m, scores->data, labels, scores->shape.dims[0]);
}

dcnn_status dcnn_metrics_merge(dcnn_metrics *into, const dcnn_metrics *from) {
  DCNN_CHECK_ARG(into);
  DCNN_CHECK_ARG(from);
  DCNN_CHECK(into->classes == from->classes, DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_metrics_merge: %d classes into %d", (int)from->classes, (int)into->classes);
  if (from->count == 0) return DCNN_OK;
  DCNN_CHECK(into != from, DCNN_ERR_INVALID_ARGUMENT, "dcnn_metrics_merge: cannot merge an accumulator into itself");
  DCNN_TRY(reserve(into, into->count + from->count));
  const int32_t k = into->classes;
  memcpy(into->scores + into->count * k, from->scores, (size_t)(from->count * k) * sizeof(float));
  memcpy(into->labels + into->count, from->labels, (size_t)from->count * sizeof(int32_t));
  for (int64_t i = 0; i < (int64_t)k * k; ++i) into->confusion[i] += from->confusion[i];
  /* Summed per sample in insertion order, as add does, so a merged accumulator equals one fed everything;
   * only the new samples are added (re-summing all made a sequence of merges quadratic). */
  for (int64_t i = into->count; i < into->count + from->count; ++i)
    into->log_loss_sum += sample_log_loss(into->scores + i * k, k, into->labels[i]);
  into->count += from->count;
  into->auc_valid = into->micro_auc_valid = 0;
  return DCNN_OK;
}

dcnn_status dcnn_metrics_confusion(const dcnn_metrics *m, int64_t *matrix, int64_t capacity) {
  DCNN_CHECK_ARG(m);
  DCNN_CHECK_ARG(matrix);
  const int64_t needed = (int64_t)m->classes * m->classes;
  DCNN_CHECK(capacity >= needed, DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_metrics_confusion: capacity %lld is too small: %d classes need %lld counts", (long long)capacity,
             (int)m->classes, (long long)needed);
  memcpy(matrix, m->confusion, (size_t)needed * sizeof(int64_t));
  return DCNN_OK;
}

typedef struct class_counts {
  int64_t tp, fp, fn, tn;
} class_counts;

static class_counts counts_of(const dcnn_metrics *m, int32_t c) {
  const int32_t k = m->classes;
  class_counts r = {m->confusion[(int64_t)c * k + c], 0, 0, 0};
  for (int32_t j = 0; j < k; ++j) {
    if (j == c) continue;
    r.fn += m->confusion[(int64_t)c * k + j];
    r.fp += m->confusion[(int64_t)j * k + c];
  }
  r.tn = m->count - r.tp - r.fp - r.fn;
  return r;
}

static double ratio(int64_t num, int64_t den) { return den ? (double)num / (double)den : 0.0; }

/* Count-based per-class metrics; AUC is computed separately. */
static double class_value(const dcnn_metrics *m, dcnn_metric metric, int32_t c) {
  class_counts r = counts_of(m, c);
  switch (metric) {
    case DCNN_METRIC_PRECISION: return ratio(r.tp, r.tp + r.fp);
    case DCNN_METRIC_RECALL: return ratio(r.tp, r.tp + r.fn);
    case DCNN_METRIC_SPECIFICITY: return ratio(r.tn, r.tn + r.fp);
    case DCNN_METRIC_F1: return ratio(2 * r.tp, 2 * r.tp + r.fp + r.fn);
    case DCNN_METRIC_G_MEASURE: return sqrt(ratio(r.tp, r.tp + r.fp) * ratio(r.tp, r.tp + r.fn));
    case DCNN_METRIC_SUPPORT: return (double)(r.tp + r.fn);
    default: return NAN;
  }
}

static int per_class_metric(dcnn_metric metric) {
  return metric == DCNN_METRIC_PRECISION || metric == DCNN_METRIC_RECALL || metric == DCNN_METRIC_SPECIFICITY ||
         metric == DCNN_METRIC_F1 || metric == DCNN_METRIC_G_MEASURE || metric == DCNN_METRIC_ROC_AUC ||
         metric == DCNN_METRIC_SUPPORT;
}

dcnn_status dcnn_metrics_class(const dcnn_metrics *m, dcnn_metric metric, int32_t cls, double *value) {
  DCNN_CHECK_ARG(m);
  DCNN_CHECK_ARG(value);
  DCNN_CHECK(per_class_metric(metric), DCNN_ERR_INVALID_ARGUMENT, "dcnn_metrics_class: metric %d is not per class",
             (int)metric);
  DCNN_CHECK(cls >= 0 && cls < m->classes, DCNN_ERR_INVALID_ARGUMENT, "dcnn_metrics_class: class %d outside 0..%d",
             (int)cls, (int)m->classes - 1);
  DCNN_CHECK(m->count > 0, DCNN_ERR_INVALID_STATE, "dcnn_metrics_class: no samples added yet");
  if (metric == DCNN_METRIC_ROC_AUC) return dcnn__metrics_auc(m, cls, value);
  *value = class_value(m, metric, cls);
  return DCNN_OK;
}

/* Whether class c occurs among the labels or the predictions (scikit-learn's default label set). */
static int class_present(const dcnn_metrics *m, int32_t c) {
  class_counts r = counts_of(m, c);
  return r.tp + r.fn + r.fp > 0;
}

/* The counts of the present classes pooled, then the per-class formula: micro averaging. */
static double micro_value(const dcnn_metrics *m, dcnn_metric metric) {
  int64_t tp = 0, fp = 0, fn = 0, tn = 0;
  for (int32_t c = 0; c < m->classes; ++c) {
    if (!class_present(m, c)) continue;
    const class_counts r = counts_of(m, c);
    tp += r.tp, fp += r.fp, fn += r.fn, tn += r.tn;
  }
  switch (metric) {
    case DCNN_METRIC_PRECISION: return ratio(tp, tp + fp);
    case DCNN_METRIC_RECALL: return ratio(tp, tp + fn);
    case DCNN_METRIC_SPECIFICITY: return ratio(tn, tn + fp);
    case DCNN_METRIC_F1: return ratio(2 * tp, 2 * tp + fp + fn);
    default: return NAN;
  }
}

static dcnn_status average_of(const dcnn_metrics *m, dcnn_metric metric, dcnn_average average, double *value) {
  /* Two classes are scikit-learn's binary case: roc_auc_score(y, scores[:, 1]), the positive class's AUC,
   * for every average (the two one-vs-rest AUCs agree only when each row's scores sum to 1). */
  if (metric == DCNN_METRIC_ROC_AUC && m->classes == 2) return dcnn__metrics_auc(m, 1, value);
  if (average == DCNN_AVERAGE_MICRO) {
    if (metric == DCNN_METRIC_ROC_AUC) return dcnn__metrics_micro_auc(m, value);
    *value = micro_value(m, metric);
    return DCNN_OK;
  }
  double sum = 0, weights = 0;
  for (int32_t c = 0; c < m->classes; ++c) {
    double v, w;
    if (metric == DCNN_METRIC_ROC_AUC) {
      DCNN_TRY(dcnn__metrics_auc(m, c, &v));
      if (isnan(v)) continue;
    } else {
      if (!class_present(m, c)) continue;
      v = class_value(m, metric, c);
    }
    w = average == DCNN_AVERAGE_WEIGHTED ? class_value(m, DCNN_METRIC_SUPPORT, c) : 1.0;
    sum += w * v;
    weights += w;
  }
  *value = weights > 0 ? sum / weights : (metric == DCNN_METRIC_ROC_AUC ? NAN : 0.0);
  return DCNN_OK;
}

/* Arguments are checked before the state: a bad call is reported as one whatever the accumulator holds. */
static int known_metric(dcnn_metric metric) {
  return per_class_metric(metric) || metric == DCNN_METRIC_ACCURACY || metric == DCNN_METRIC_LOG_LOSS;
}

dcnn_status dcnn_metrics_get(const dcnn_metrics *m, dcnn_metric metric, dcnn_average average, double *value) {
  DCNN_CHECK_ARG(m);
  DCNN_CHECK_ARG(value);
  DCNN_CHECK(known_metric(metric), DCNN_ERR_INVALID_ARGUMENT, "dcnn_metrics_get: unknown metric %d", (int)metric);
  DCNN_CHECK(average == DCNN_AVERAGE_MACRO || average == DCNN_AVERAGE_WEIGHTED || average == DCNN_AVERAGE_MICRO,
             DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_metrics_get: unknown average %d", (int)average);
  DCNN_CHECK(m->count > 0, DCNN_ERR_INVALID_STATE, "dcnn_metrics_get: no samples added yet");
  switch (metric) {
    case DCNN_METRIC_ACCURACY: {
      int64_t hits = 0;
      for (int32_t c = 0; c < m->classes; ++c) hits += m->confusion[(int64_t)c * m->classes + c];
      *value = (double)hits / (double)m->count;
      return DCNN_OK;
    }
    case DCNN_METRIC_LOG_LOSS: *value = m->log_loss_sum / (double)m->count; return DCNN_OK;
    case DCNN_METRIC_G_MEASURE: {
      double p, r;
      DCNN_TRY(average_of(m, DCNN_METRIC_PRECISION, average, &p));
      DCNN_TRY(average_of(m, DCNN_METRIC_RECALL, average, &r));
      *value = sqrt(p * r);
      return DCNN_OK;
    }
    case DCNN_METRIC_SUPPORT: *value = (double)m->count; return DCNN_OK;
    case DCNN_METRIC_PRECISION:
    case DCNN_METRIC_RECALL:
    case DCNN_METRIC_SPECIFICITY:
    case DCNN_METRIC_F1:
    case DCNN_METRIC_ROC_AUC: return average_of(m, metric, average, value);
  }
  return dcnn__fail(DCNN_ERR_INVALID_ARGUMENT, "dcnn_metrics_get: unknown metric %d", (int)metric);
}

dcnn_status dcnn_metrics_top_k_accuracy(const dcnn_metrics *m, int32_t k, double *value) {
  DCNN_CHECK_ARG(m);
  DCNN_CHECK_ARG(value);
  DCNN_CHECK(k >= 1 && k <= m->classes, DCNN_ERR_INVALID_ARGUMENT, "dcnn_metrics_top_k_accuracy: k %d outside 1..%d",
             (int)k, (int)m->classes);
  DCNN_CHECK(m->count > 0, DCNN_ERR_INVALID_STATE, "dcnn_metrics_top_k_accuracy: no samples added yet");
  int64_t hits = 0;
  for (int64_t i = 0; i < m->count; ++i) {
    const float *row = m->scores + i * m->classes;
    const int32_t label = m->labels[i];
    int32_t above = 0; /* classes ranked before the label; among equal scores the higher index first, as
                          scikit-learn's top_k_accuracy_score ranks them (a stable ascending sort, reversed) */
    for (int32_t j = 0; j < m->classes; ++j)
      above += row[j] > row[label] || (row[j] == row[label] && j > label);
    hits += above < k;
  }
  *value = (double)hits / (double)m->count;
  return DCNN_OK;
}
