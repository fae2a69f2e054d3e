/* The trainer's side of progress reporting: fills dcnn_progress reports
 * (throughput, estimates) and sends them to the caller's callback. Kept out
 * of trainer.c so that the training loop only says when to report. */
#ifndef DCNN_TRAIN_PROGRESS_REPORT_H
#define DCNN_TRAIN_PROGRESS_REPORT_H

#include "digitcnn/progress.h"
#include "digitcnn/trainer.h"

/* One fit call's reporting state (on the stack of dcnn_trainer_fit; nothing
 * is allocated). `report` holds the latest values, so that FIT_END can say
 * where training stood. */
typedef struct dcnn__progress_run {
  dcnn_progress_fn fn; /* NULL: nothing is reported, nothing is computed */
  void *user;
  dcnn_progress report;
  double last_epoch_seconds; /* duration of the last epoch completed in this fit, 0 before */
} dcnn__progress_run;

/* Starts a fit that ends at epoch `epochs`. */
void dcnn__progress_start(dcnn__progress_run *run, dcnn_progress_fn fn, void *user, int32_t epochs);

/* Each returns DCNN_OK, or DCNN_ERR_CANCELLED with the thread's message set
 * when the callback asked to stop. */
/* What an epoch continued (after a cancel, or resumed mid-epoch) did before this call: steps, samples, correct
 * predictions, the sum of loss x batch size, seconds; all 0 for a new epoch. */
typedef struct dcnn__progress_before {
  int32_t steps;
  int64_t samples, hits;
  double loss_sum, seconds;
} dcnn__progress_before;

dcnn_status dcnn__progress_epoch_begin(dcnn__progress_run *run, int32_t epoch, int32_t steps, double learning_rate,
                                       dcnn__progress_before before);
/* After step `step` (1-based) of `steps`; sums over the epoch so far; `elapsed`: seconds since the epoch began. */
dcnn_status dcnn__progress_step(dcnn__progress_run *run, int32_t step, int32_t steps, int64_t samples, double loss_sum,
                                int64_t hits, double elapsed);
/* After the epoch's validation; `stats` as the history records it. */
dcnn_status dcnn__progress_epoch_end(dcnn__progress_run *run, const dcnn_epoch_stats *stats, double train_seconds);
/* As fit returns `status`; the callback's answer is ignored. */
void dcnn__progress_finish(dcnn__progress_run *run, dcnn_status status, int32_t early_stopped, int32_t restored_epoch,
                           double best_value, int monitor_loss);

#endif
