/* Progress reports of dcnn_trainer_fit: what a step or an epoch measured,
 * throughput and time estimates, and the callback's answer. */
#include <math.h>
#include <string.h>

#include "../core/internal.h"
#include "progress_report.h"

void dcnn__progress_start(dcnn__progress_run *run, dcnn_progress_fn fn, void *user, int32_t epochs) {
  memset(run, 0, sizeof *run);
  run->fn = fn;
  run->user = user;
  dcnn_progress *p = &run->report;
  p->struct_size = sizeof *p;
  p->epochs = epochs;
  p->loss = p->accuracy = p->learning_rate = p->val_loss = p->val_accuracy = NAN;
  p->samples_per_second = p->eta_seconds = p->fit_eta_seconds = p->best_value = NAN;
  p->status = DCNN_OK;
}

/* Time the epochs after the current one should take: the last completed
 * epoch's duration (validation included) when there is one, else this
 * epoch's estimated training time. */
static double later_epochs_seconds(const dcnn__progress_run *run, double this_epoch) {
  const int32_t left = run->report.epochs - run->report.epoch;
  if (left <= 0) return 0;
  return (double)left * (run->last_epoch_seconds > 0 ? run->last_epoch_seconds : this_epoch);
}

static dcnn_status send(dcnn__progress_run *run, dcnn_progress_event event) {
  dcnn_progress *p = &run->report;
  p->event = event;
  if (run->fn(p, run->user) == DCNN_PROGRESS_CONTINUE) return DCNN_OK;
  return dcnn__fail(DCNN_ERR_CANCELLED,
                    "dcnn_trainer_fit: cancelled by the progress callback in epoch %d after step %d of %d; the model "
                    "holds the weights of the last completed step, the history the %d completed epoch(s)",
                    (int)p->epoch, (int)p->step, (int)p->steps,
                    (int)(event == DCNN_PROGRESS_EPOCH_END ? p->epoch : p->epoch - 1));
}

dcnn_status dcnn__progress_epoch_begin(dcnn__progress_run *run, int32_t epoch, int32_t steps, double learning_rate,
                                       dcnn__progress_before before) {
  if (!run->fn) return DCNN_OK;
  dcnn_progress *p = &run->report;
  p->epoch = epoch;
  /* An epoch continued (after a cancel, or resumed mid-epoch) begins where it stopped: the steps report the
   * epoch's totals, and only what this call adds counts towards total_samples. */
  p->step = before.steps;
  p->steps = steps;
  p->samples = before.samples;
  p->learning_rate = learning_rate;
  p->loss = before.samples ? before.loss_sum / (double)before.samples : NAN;
  p->accuracy = before.samples ? (double)before.hits / (double)before.samples : NAN;
  p->val_loss = p->val_accuracy = NAN;
  p->seconds = p->train_seconds = before.seconds;
  p->samples_per_second = before.seconds > 0 ? (double)before.samples / before.seconds : NAN;
  if (before.steps > 0) { /* the steps done before are timed: estimated as dcnn__progress_step does */
    const double per_step = before.seconds / before.steps;
    p->eta_seconds = per_step * (steps - before.steps);
    p->fit_eta_seconds = p->eta_seconds + later_epochs_seconds(run, per_step * steps);
  } else {
    p->eta_seconds = NAN;
    p->fit_eta_seconds = run->last_epoch_seconds > 0 ? later_epochs_seconds(run, 0) + run->last_epoch_seconds : NAN;
  }
  return send(run, DCNN_PROGRESS_EPOCH_BEGIN);
}

dcnn_status dcnn__progress_step(dcnn__progress_run *run, int32_t step, int32_t steps, int64_t samples, double loss_sum,
                                int64_t hits, double elapsed) {
  if (!run->fn) return DCNN_OK;
  dcnn_progress *p = &run->report;
  p->total_samples += samples - p->samples;
  p->step = step;
  p->steps = steps;
  p->samples = samples;
  p->loss = samples ? loss_sum / (double)samples : NAN;
  p->accuracy = samples ? (double)hits / (double)samples : NAN;
  p->seconds = p->train_seconds = elapsed;
  p->samples_per_second = elapsed > 0 ? (double)samples / elapsed : NAN;
  const double per_step = step > 0 ? elapsed / step : NAN;
  p->eta_seconds = per_step * (steps - step);
  p->fit_eta_seconds = p->eta_seconds + later_epochs_seconds(run, per_step * steps);
  return send(run, DCNN_PROGRESS_STEP);
}

dcnn_status dcnn__progress_epoch_end(dcnn__progress_run *run, const dcnn_epoch_stats *stats, double train_seconds) {
  run->last_epoch_seconds = stats->seconds;
  if (!run->fn) return DCNN_OK;
  dcnn_progress *p = &run->report;
  p->epoch = stats->epoch;
  p->step = p->steps = stats->steps;
  p->loss = stats->loss;
  p->accuracy = stats->accuracy;
  p->learning_rate = stats->learning_rate;
  p->val_loss = stats->val_loss;
  p->val_accuracy = stats->val_accuracy;
  p->seconds = stats->seconds;
  p->train_seconds = train_seconds;
  p->samples_per_second = train_seconds > 0 ? (double)p->samples / train_seconds : NAN;
  p->eta_seconds = 0;
  p->fit_eta_seconds = later_epochs_seconds(run, stats->seconds);
  return send(run, DCNN_PROGRESS_EPOCH_END);
}

void dcnn__progress_finish(dcnn__progress_run *run, dcnn_status status, int32_t early_stopped, int32_t restored_epoch,
                           double best_value, int monitor_loss) {
  if (!run->fn) return;
  dcnn_progress *p = &run->report;
  p->early_stopped = early_stopped;
  p->restored_epoch = restored_epoch;
  p->best_value = restored_epoch ? best_value : NAN;
  p->monitor_loss = monitor_loss;
  p->status = status;
  p->eta_seconds = p->fit_eta_seconds = 0;
  p->event = DCNN_PROGRESS_FIT_END;
  (void)run->fn(p, run->user);
}
