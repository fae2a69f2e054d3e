/* Private state of the metric accumulator. */
#ifndef DCNN_METRICS_INTERNAL_H
#define DCNN_METRICS_INTERNAL_H

#include "../core/internal.h"
#include "digitcnn/metrics.h"

struct dcnn_metrics {
  dcnn_context *ctx;
  int32_t classes;
  int64_t count, capacity;
  float *scores;     /* (capacity, classes) */
  int32_t *labels;   /* (capacity) */
  int64_t *confusion; /* (classes, classes): [true][predicted] */
  double log_loss_sum;
  /* Per-class AUCs, computed once per state of the samples (AUC sorts every
   * class's scores); accumulators are used by one thread at a time. */
  double *auc_cache;
  int auc_valid;
  double micro_auc; /* valid with micro_auc_valid, cleared with auc_valid */
  int micro_auc_valid;
};

/* One-vs-rest AUC of class `cls` (NaN without positives or negatives). */
dcnn_status dcnn__metrics_auc(const dcnn_metrics *m, int32_t cls, double *auc);
/* The AUC of all (count x classes) pairs of a score and whether it is the sample's class. */
dcnn_status dcnn__metrics_micro_auc(const dcnn_metrics *m, double *auc);

#endif
