/* Results of the paper example: terminal output and the report directory. */
#ifndef DCNN_PAPER_REPORT_H
#define DCNN_PAPER_REPORT_H

#include <stdint.h>

#include <digitcnn.h>

typedef struct paper_run {
  const char *data, *out, *schedule;
  int32_t epochs, batch, threads, augment, rgb, keep_best, patience, quick, progress, best_epoch;
  double lr, bn_momentum, val_fraction;
  uint64_t seed;
  double load_seconds, train_seconds, test_seconds, test_accuracy;
  int argc;
  char **argv;
} paper_run;

typedef struct test_predictions {
  int32_t count;
  int32_t *predicted; /* (count) */
} test_predictions;

/* Predicts every test image (inference mode), feeding `metrics` and keeping the predicted classes. */
dcnn_status evaluate_test(dcnn_model *model, const dcnn_dataset *test, dcnn_pipeline *pipeline, dcnn_metrics *metrics,
                          test_predictions *out);

/* The paper's Figure 4 block and Table 1 row, ours beside the paper's claims. */
void print_results(const paper_run *run, const dcnn_metrics *metrics, const dcnn_trainer *trainer);

/* index.html, charts (SVG), misclassified digits (PNG), metrics.json, history.csv, confusion.csv, roc.csv. */
int write_report(const paper_run *run, dcnn_model *model, const dcnn_trainer *trainer, const dcnn_metrics *metrics,
                 const dcnn_dataset *test, const test_predictions *predictions, const char *summary);

/* Tests only: the next `renames` renames of publishing succeed and the one
 * after fails (-1, the default: none fails). */
void report_fail_publish_after(int renames);

#endif
