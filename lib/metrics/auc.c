/* One-vs-rest ROC AUC as the exact Mann-Whitney rank statistic (tied scores
 * get their average rank, i.e. count half), and ROC curve points. */
#include <math.h>
#include <stdlib.h>

#include "metrics_internal.h"

typedef struct scored {
  float score;
  uint8_t positive;
} scored;

static int by_score(const void *a, const void *b) {
  float x = ((const scored *)a)->score, y = ((const scored *)b)->score;
  return (x > y) - (x < y);
}

/* The class's scores with their positive flags, sorted ascending. */
static dcnn_status sorted_scores(const dcnn_metrics *m, int32_t cls, scored **out, int64_t *positives) {
  scored *s = dcnn__alloc(m->ctx, (size_t)m->count * sizeof *s);
  DCNN_CHECK(s != NULL, DCNN_ERR_OUT_OF_MEMORY, "metrics: out of memory for AUC");
  int64_t p = 0;
  for (int64_t i = 0; i < m->count; ++i) {
    s[i].score = m->scores[i * m->classes + cls];
    s[i].positive = m->labels[i] == cls;
    p += s[i].positive;
  }
  qsort(s, (size_t)m->count, sizeof *s, by_score);
  *out = s;
  *positives = p;
  return DCNN_OK;
}

/* AUC = (R - P (P + 1) / 2) / (P N'), R the positives' rank sum over the n
 * sorted pairs (ties sharing the mean of their 1-based ranks), P positives
 * and N' = n - P negatives; NaN when either is 0. */
static double rank_auc(const scored *s, int64_t n, int64_t positives) {
  const int64_t negatives = n - positives;
  if (positives == 0 || negatives == 0) return NAN;
  double rank_sum = 0;
  for (int64_t i = 0; i < n;) {
    int64_t j = i;
    int64_t tied_positives = 0;
    while (j < n && s[j].score == s[i].score) tied_positives += s[j++].positive;
    rank_sum += (double)tied_positives * 0.5 * (double)(i + 1 + j);
    i = j;
  }
  return (rank_sum - 0.5 * (double)positives * (double)(positives + 1)) / ((double)positives * (double)negatives);
}

static dcnn_status compute_auc(const dcnn_metrics *m, int32_t cls, double *auc) {
  scored *s = NULL;
  int64_t positives = 0;
  DCNN_TRY(sorted_scores(m, cls, &s, &positives));
  *auc = rank_auc(s, m->count, positives);
  dcnn__release(m->ctx, s);
  return DCNN_OK;
}

dcnn_status dcnn__metrics_micro_auc(const dcnn_metrics *m, double *auc) {
  dcnn_metrics *cache = (dcnn_metrics *)m; /* the cache is not part of the observable state */
  if (!cache->micro_auc_valid) {
    const int64_t n = m->count * m->classes;
    DCNN_CHECK((uint64_t)n <= SIZE_MAX / sizeof(scored), DCNN_ERR_OUT_OF_MEMORY,
               "metrics: %lld score pairs for the micro AUC do not fit in memory", (long long)n);
    scored *s = dcnn__alloc(m->ctx, (size_t)n * sizeof *s); /* (count * classes) pairs, sorted below */
    DCNN_CHECK(s != NULL, DCNN_ERR_OUT_OF_MEMORY, "metrics: out of memory for the micro AUC");
    for (int64_t i = 0; i < n; ++i) {
      s[i].score = m->scores[i];
      s[i].positive = m->labels[i / m->classes] == (int32_t)(i % m->classes);
    }
    qsort(s, (size_t)n, sizeof *s, by_score);
    cache->micro_auc = rank_auc(s, n, m->count); /* one positive a sample */
    dcnn__release(m->ctx, s);
    cache->micro_auc_valid = 1;
  }
  *auc = m->micro_auc;
  return DCNN_OK;
}

dcnn_status dcnn__metrics_auc(const dcnn_metrics *m, int32_t cls, double *auc) {
  dcnn_metrics *cache = (dcnn_metrics *)m; /* the cache is not part of the observable state */
  if (!cache->auc_cache) {
    cache->auc_cache = dcnn__alloc(m->ctx, (size_t)m->classes * sizeof(double));
    DCNN_CHECK(cache->auc_cache != NULL, DCNN_ERR_OUT_OF_MEMORY, "metrics: out of memory for AUC");
  }
  if (!cache->auc_valid) {
    for (int32_t c = 0; c < m->classes; ++c) DCNN_TRY(compute_auc(m, c, &cache->auc_cache[c]));
    cache->auc_valid = 1;
  }
  *auc = cache->auc_cache[cls];
  return DCNN_OK;
}

dcnn_status dcnn_metrics_roc_curve(const dcnn_metrics *m, int32_t cls, double *fpr, double *tpr, int64_t capacity,
                                   int64_t *points) {
  DCNN_CHECK_ARG(m);
  DCNN_CHECK_ARG(points);
  DCNN_CHECK(cls >= 0 && cls < m->classes, DCNN_ERR_INVALID_ARGUMENT, "dcnn_metrics_roc_curve: class %d outside 0..%d",
             (int)cls, (int)m->classes - 1);
  DCNN_CHECK(m->count > 0, DCNN_ERR_INVALID_STATE, "dcnn_metrics_roc_curve: no samples added yet");
  scored *s = NULL;
  int64_t positives = 0;
  DCNN_TRY(sorted_scores(m, cls, &s, &positives));
  const int64_t n = m->count, negatives = n - positives;
  if (positives == 0 || negatives == 0) {
    dcnn__release(m->ctx, s);
    return dcnn__fail(DCNN_ERR_INVALID_STATE, "dcnn_metrics_roc_curve: class %d has no %s samples", (int)cls,
                      positives ? "negative" : "positive");
  }
  /* Thresholds from the highest score down: one point per distinct score, after (0, 0). Counted first,
   * so that arrays too small are left untouched. */
  int64_t count = 2; /* (0, 0) and the highest score's point */
  for (int64_t i = n - 1; i > 0; --i) count += s[i - 1].score != s[i].score;
  *points = count;
  if (!fpr && !tpr) {
    dcnn__release(m->ctx, s);
    return DCNN_OK;
  }
  if (capacity < count) {
    dcnn__release(m->ctx, s);
    return dcnn__fail(DCNN_ERR_INVALID_ARGUMENT, "dcnn_metrics_roc_curve: %lld points do not fit in %lld entries",
                      (long long)count, (long long)capacity);
  }
  int64_t point = 1, tp = 0, fp = 0;
  for (int64_t i = n - 1; i >= 0; ++point) {
    int64_t j = i;
    while (j >= 0 && s[j].score == s[i].score) {
      tp += s[j].positive;
      fp += !s[j].positive;
      --j;
    }
    if (fpr) fpr[point] = (double)fp / (double)negatives; /* each array written when given: either may be NULL */
    if (tpr) tpr[point] = (double)tp / (double)positives;
    i = j;
  }
  if (fpr) fpr[0] = 0.0;
  if (tpr) tpr[0] = 0.0;
  dcnn__release(m->ctx, s);
  return DCNN_OK;
}
