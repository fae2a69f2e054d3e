/* The trainer's own checkpoint state (options, history, early stopping and
 * best weights) and its batch hook's, written and read next to the trainer;
 * checkpoint.c only frames them. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "train_internal.h"

#define HISTORY_LIMIT 10000000 /* dcnn_trainer_set's limit on epochs */

void dcnn__trainer_save_own_state(const dcnn_trainer *t, dcnn_bytes *b) {
  dcnn__bytes_u32(b, TRAIN_OPTIONS);
  for (int i = 0; i < TRAIN_OPTIONS; ++i) dcnn__bytes_f64(b, t->options[i]);
  dcnn__bytes_u32(b, (uint32_t)t->epochs_done);
  for (int32_t e = 0; e < t->epochs_done; ++e) {
    const dcnn_epoch_stats *s = &t->history[e];
    dcnn__bytes_u32(b, (uint32_t)s->epoch);
    dcnn__bytes_u32(b, (uint32_t)s->epochs);
    dcnn__bytes_u32(b, (uint32_t)s->steps);
    const double values[6] = {s->seconds, s->learning_rate, s->loss, s->accuracy, s->val_loss, s->val_accuracy};
    for (int k = 0; k < 6; ++k) dcnn__bytes_f64(b, values[k]);
  }
  /* best tracking and copies kept for another parameter count (layers added
   * since) are not this model's: written as none, as the next fit would drop them */
  const int64_t floats = dcnn_model_param_count(t->model, DCNN_PARAM_TRAINABLE | DCNN_PARAM_BUFFER);
  const int tracking = t->best_epoch > 0 && dcnn__trainer_tracking_current(t);
  /* An average the model has stepped past without (a fit with it off) is stale: written as none (ema.c). */
  const int64_t steps = dcnn_model_step_count(t->model);
  const int fresh = t->ema.after_step == 0 || t->ema.after_step == steps;
  const int best = tracking && t->best && t->best_floats == floats,
            average = t->ema.values && t->ema.floats == floats && fresh;
  dcnn__bytes_f64(b, tracking ? t->best_value : 0.0);
  dcnn__bytes_u32(b, tracking ? (uint32_t)t->best_epoch : 0);
  dcnn__bytes_u32(b, tracking ? (uint32_t)t->restored_epoch : 0);
  dcnn__bytes_u32(b, tracking ? (uint32_t)t->since_best : 0);
  dcnn__bytes_u64(b, best ? (uint64_t)t->best_floats : 0);
  if (best) dcnn__bytes_floats(b, t->best, t->best_floats);
  dcnn__bytes_u64(b, t->seed);
  const dcnn__trainer_position *p = &t->position; /* version 4 */
  dcnn__bytes_u32(b, (uint32_t)p->epoch);
  dcnn__bytes_u32(b, (uint32_t)p->steps);
  dcnn__bytes_f64(b, p->loss_sum);
  dcnn__bytes_u64(b, (uint64_t)p->seen);
  dcnn__bytes_u64(b, (uint64_t)p->hits);
  dcnn__bytes_f64(b, p->seconds);
  /* version 5: the weight average (0 floats: none yet) */
  dcnn__bytes_u64(b, average ? (uint64_t)t->ema.updates : 0);
  dcnn__bytes_u64(b, average ? (uint64_t)t->ema.floats : 0);
  if (average) dcnn__bytes_floats(b, t->ema.values, t->ema.floats);
  dcnn__bytes_u32(b, (uint32_t)t->fit_planned); /* version 6, then the batch size of the position's steps */
  dcnn__bytes_u32(b, p->epoch ? (uint32_t)p->batch : 0);
}

#define NEED(bytes, what) DCNN_TRY(dcnn__reader_need(r, (bytes), (what)))

/* A copy of the model's weights and buffers (best weights, weight average):
 * its count, 0 for none or the model's, then the floats into a fresh *values. */
static dcnn_status read_weight_copy(const dcnn_trainer *t, dcnn_reader *r, const char *what, float **values,
                                    int64_t *count) {
  const uint64_t floats = dcnn__reader_u64(r);
  const int64_t model_floats = dcnn_model_param_count(t->model, DCNN_PARAM_TRAINABLE | DCNN_PARAM_BUFFER);
  DCNN_CHECK(floats == 0 || floats == (uint64_t)model_floats, DCNN_ERR_BAD_FORMAT,
             "%s: training state: %s of %llu values for a model of %lld", r->name, what, (unsigned long long)floats,
             (long long)model_floats);
  if (!floats) return DCNN_OK;
  *count = (int64_t)floats;
  *values = dcnn__calloc(t->ctx, (size_t)floats, sizeof(float));
  DCNN_CHECK(*values != NULL, DCNN_ERR_OUT_OF_MEMORY, "%s: out of memory", r->name);
  return dcnn__reader_floats(r, *values, *count, what);
}

dcnn_status dcnn__trainer_load_own_state(dcnn_reader *r, uint32_t version, const dcnn_trainer *t,
                                         dcnn__trainer_staged *s) {
  memset(s, 0, sizeof *s);
  NEED(4, "the trainer options");
  const uint32_t count = dcnn__reader_u32(r); /* newer options absent from older checkpoints stay 0 (off) */
  DCNN_CHECK(count == TRAIN_OPTIONS || count == TRAIN_OPTIONS_BEFORE_MIXING || count == TRAIN_OPTIONS_BEFORE_PER_STEP ||
                 count == TRAIN_OPTIONS_BEFORE_SMOOTHING,
             DCNN_ERR_BAD_FORMAT,
             "%s: training state: wrong option count", r->name);
  NEED(8 * (uint64_t)count + 4, "trainer options");
  for (uint32_t i = 0; i < count; ++i) s->options[i] = dcnn__reader_f64(r);
  /* Each option as dcnn_trainer_set checks it: a NaN batch size or epoch count
   * would be cast to an integer (undefined), a fraction of a step planned as 0.
   * Options absent from older checkpoints are 0, which every rule allows. Option
   * 2 held the seed before version 3 (checked below); 7 is retired and unused. */
  char who[4096 + 32]; /* the checkpoint's name (a path) and ": training state" */
  snprintf(who, sizeof who, "%s: training state", r->name);
  for (int i = 0; i < TRAIN_OPTIONS; ++i)
    if (i != 2 && i != DCNN__TRAIN_RETIRED_OPTION)
      DCNN_TRY(dcnn__trainer_option_check(i, s->options[i], DCNN_ERR_BAD_FORMAT, who));
  s->options[DCNN__TRAIN_RETIRED_OPTION] = 0;
  s->epochs_done = (int32_t)dcnn__reader_u32(r);
  DCNN_CHECK(s->epochs_done >= 0 && s->epochs_done <= HISTORY_LIMIT, DCNN_ERR_BAD_FORMAT,
             "%s: training state: %d epochs", r->name, (int)s->epochs_done);
  NEED((uint64_t)s->epochs_done * 60, "the history");
  s->history = dcnn__calloc(t->ctx, (size_t)(s->epochs_done ? s->epochs_done : 1), sizeof *s->history);
  DCNN_CHECK(s->history != NULL, DCNN_ERR_OUT_OF_MEMORY, "%s: out of memory", r->name);
  for (int32_t e = 0; e < s->epochs_done; ++e) {
    dcnn_epoch_stats *h = &s->history[e];
    h->epoch = (int32_t)dcnn__reader_u32(r);
    h->epochs = (int32_t)dcnn__reader_u32(r);
    h->steps = (int32_t)dcnn__reader_u32(r);
    h->seconds = dcnn__reader_f64(r);
    h->learning_rate = dcnn__reader_f64(r);
    h->loss = dcnn__reader_f64(r);
    h->accuracy = dcnn__reader_f64(r);
    h->val_loss = dcnn__reader_f64(r);
    h->val_accuracy = dcnn__reader_f64(r);
    /* the figures are only shown and recorded, but none may be infinite, nor the time negative */
    /* a fit plans at most HISTORY_LIMIT epochs past those done before it */
    DCNN_CHECK(h->epoch == e + 1 && h->epochs >= h->epoch && h->epochs - h->epoch < HISTORY_LIMIT && h->steps >= 0 &&
                   h->seconds >= 0 && isfinite(h->seconds) && !isinf(h->learning_rate) && !isinf(h->loss) &&
                   !isinf(h->accuracy) && !isinf(h->val_loss) && !isinf(h->val_accuracy),
               DCNN_ERR_BAD_FORMAT, "%s: training state: history entry %d is inconsistent", r->name, (int)e);
  }
  NEED(8 + 12 + 8, "the best-epoch state");
  s->best_value = dcnn__reader_f64(r);
  s->best_epoch = (int32_t)dcnn__reader_u32(r);
  s->restored_epoch = (int32_t)dcnn__reader_u32(r);
  s->since_best = (int32_t)dcnn__reader_u32(r);
  DCNN_CHECK(s->best_epoch >= 0 && s->best_epoch <= s->epochs_done && s->restored_epoch >= 0 &&
                 s->restored_epoch <= s->epochs_done && s->since_best >= 0 && s->since_best <= s->epochs_done,
             DCNN_ERR_BAD_FORMAT, "%s: training state: best epoch out of range", r->name);
  /* a NaN best would never be improved on: later epochs could not replace its weights */
  DCNN_CHECK(s->best_epoch == 0 || !isnan(s->best_value), DCNN_ERR_BAD_FORMAT,
             "%s: training state: the best epoch's value is not a number", r->name);
  DCNN_TRY(read_weight_copy(t, r, "best weights", &s->best, &s->best_floats));
  if (version >= 3) {
    NEED(8, "the seed");
    s->seed = dcnn__reader_u64(r);
  } else { /* before version 3 option 2 held the seed as a double */
    const double old = s->options[2];
    DCNN_CHECK(old >= 0 && old <= 1e15 && old == floor(old), DCNN_ERR_BAD_FORMAT, "%s: training state: seed %g",
               r->name, old);
    s->seed = (uint64_t)old;
  }
  s->options[2] = 0;
  if (version >= 4) {
    NEED(8 + 32, "the position inside the epoch");
    dcnn__trainer_position *p = &s->position;
    p->epoch = (int32_t)dcnn__reader_u32(r);
    p->steps = (int32_t)dcnn__reader_u32(r);
    p->loss_sum = dcnn__reader_f64(r);
    p->seen = (int64_t)dcnn__reader_u64(r);
    p->hits = (int64_t)dcnn__reader_u64(r);
    p->seconds = dcnn__reader_f64(r);
    /* At most a batch (dcnn_trainer_set: 1e7 samples) per step taken, so the
     * sums counted on cannot overflow; the loss sum and the time are sums of
     * non-negative figures. */
    DCNN_CHECK((p->epoch == 0 || p->epoch == s->epochs_done + 1) && p->steps >= 0 && p->seen >= 0 && p->hits >= 0 &&
                   p->hits <= p->seen && (p->epoch != 0 || p->steps == 0) &&
                   (double)p->seen <= (double)p->steps * 1e7 && p->loss_sum >= 0 && isfinite(p->loss_sum) &&
                   p->seconds >= 0 && isfinite(p->seconds),
               DCNN_ERR_BAD_FORMAT, "%s: training state: the position inside epoch %d is inconsistent", r->name,
               (int)p->epoch);
  }
  if (version >= 5) {
    NEED(16, "the weight average");
    s->ema_updates = (int64_t)dcnn__reader_u64(r);
    DCNN_CHECK(s->ema_updates >= 0 && s->ema_updates <= DCNN__COUNTER_LIMIT, DCNN_ERR_BAD_FORMAT, "%s: training state: %lld weight-average updates", r->name,
               (long long)s->ema_updates);
    DCNN_TRY(read_weight_copy(t, r, "the weight average", &s->ema, &s->ema_floats));
  }
  s->fit_planned = 0;
  s->position.batch = (int32_t)s->options[DCNN_TRAIN_BATCH_SIZE]; /* before version 6: the options' */
  if (version >= 6) {
    NEED(8, "the epochs planned");
    const uint32_t planned = dcnn__reader_u32(r);
    /* 0 before any fit; else at least the epochs done and the one in progress, and at most a fit's limit past them */
    const int64_t least = s->position.epoch ? s->position.epoch : s->epochs_done;
    DCNN_CHECK(planned == 0 || ((int64_t)planned >= least && (int64_t)planned - s->epochs_done <= HISTORY_LIMIT),
               DCNN_ERR_BAD_FORMAT, "%s: training state: %u epochs planned after %d done", r->name,
               (unsigned)planned, (int)s->epochs_done);
    s->fit_planned = (int32_t)planned;
    const uint32_t batch = dcnn__reader_u32(r); /* 0 without a position */
    DCNN_CHECK(s->position.epoch ? batch >= 1 && batch <= 10000000 : batch == 0, DCNN_ERR_BAD_FORMAT,
               "%s: training state: batch size %u for the position inside epoch %d", r->name, (unsigned)batch,
               (int)s->position.epoch);
    if (s->position.epoch) s->position.batch = (int32_t)batch;
  }
  return DCNN_OK;
}

void dcnn__trainer_staged_free(const dcnn_trainer *t, dcnn__trainer_staged *s) {
  dcnn__release(t->ctx, s->history);
  dcnn__release(t->ctx, s->best);
  dcnn__release(t->ctx, s->ema);
  s->history = NULL;
  s->best = NULL;
  s->ema = NULL;
}

void dcnn__trainer_commit_own_state(dcnn_trainer *t, dcnn__trainer_staged *s) {
  dcnn__release(t->ctx, t->history);
  t->history = s->history;
  s->history = NULL;
  t->history_capacity = s->epochs_done ? s->epochs_done : 1;
  t->epochs_done = s->epochs_done;
  dcnn__release(t->ctx, t->best);
  t->best = s->best;
  s->best = NULL;
  t->best_floats = t->best ? s->best_floats : 0;
  t->best_value = s->best_value;
  t->best_epoch = s->best_epoch;
  t->restored_epoch = s->restored_epoch;
  t->since_best = s->since_best;
  /* resumed onto the checkpoint's architecture (checked) and options: its
   * tracking is this model's and monitor's (files of this build write none
   * that is not; earlier builds' files may hold a stale one, CHANGELOG) */
  t->best_params = dcnn_model_param_count(t->model, DCNN_PARAM_TRAINABLE | DCNN_PARAM_BUFFER);
  t->best_by_loss = s->options[DCNN_TRAIN_MONITOR_LOSS] != 0;
  memcpy(t->options, s->options, sizeof t->options);
  t->seed = s->seed;
  /* Continue the interrupted run: as many epochs as it had left (files before
   * version 6: from the history, which a checkpoint in a fit's first epoch misreads). */
  const int32_t planned = s->fit_planned                 ? s->fit_planned
                          : s->epochs_done               ? t->history[s->epochs_done - 1].epochs
                                                         : (int32_t)s->options[DCNN_TRAIN_EPOCHS];
  t->fit_planned = s->fit_planned;
  t->options[DCNN_TRAIN_EPOCHS] = planned > s->epochs_done ? planned - s->epochs_done : 1;
  t->position = s->position;
  dcnn__release(t->ctx, t->ema.values);
  t->ema.values = s->ema;
  t->ema.floats = s->ema ? s->ema_floats : 0;
  t->ema.updates = s->ema ? s->ema_updates : 0;
  /* The checkpoint's average goes with its weights, whose step count the model now has (restored first). */
  t->ema.after_step = dcnn_model_step_count(t->model);
  s->ema = NULL;
  /* Stopped after its last epoch's checkpoint, or after one where patience
   * ran out (the run stopped early there, or would have after the write):
   * the next fit only finishes (restores the best weights) instead of
   * training on. */
  const double patience = s->options[DCNN_TRAIN_PATIENCE];
  const int stopped_early = patience > 0 && s->since_best >= patience;
  t->resumed_finished = s->epochs_done > 0 && (planned <= s->epochs_done || stopped_early) && s->position.epoch == 0;
}

/* ---- the batch hook's state: u32 0, or u32 1 and the hook's bytes to the section's end ---- */

dcnn_status dcnn__trainer_save_hook_state(const dcnn_trainer *t, dcnn_bytes *b) {
  if (!t->hook.save_state) {
    dcnn__bytes_u32(b, 0);
    return DCNN_OK;
  }
  uint8_t state[DCNN_BATCH_HOOK_STATE_MAX];
  size_t size = 0;
  const uint64_t mark = dcnn__error_mark(); /* user code: its failure gets a message of its own */
  DCNN_TRY(dcnn__callee_error(t->hook.save_state(t->hook.user, state, sizeof state, &size), mark,
                              "batch hook: save_state"));
  DCNN_CHECK(size <= sizeof state, DCNN_ERR_INVALID_STATE, "batch hook: save_state reported %zu bytes, room for %zu",
             size, sizeof state);
  dcnn__bytes_u32(b, 1);
  dcnn__bytes_put(b, state, size);
  return DCNN_OK;
}

dcnn_status dcnn__trainer_load_hook_state(dcnn_reader *r, const dcnn_trainer *t, dcnn__hook_staged *s) {
  memset(s, 0, sizeof *s);
  if (r) {
    NEED(4, "the batch hook's state flag");
    const uint32_t on = dcnn__reader_u32(r);
    DCNN_CHECK(on <= 1, DCNN_ERR_BAD_FORMAT, "%s: training state: bad batch-hook flag", r->name);
    s->present = (int)on;
    if (on) {
      s->data = r->data + r->at;
      s->size = (size_t)(r->size - r->at);
      /* save_state never writes more; a hook's load_state may rely on it as on the capacity it saved with */
      DCNN_CHECK(s->size <= DCNN_BATCH_HOOK_STATE_MAX, DCNN_ERR_BAD_FORMAT,
                 "%s: training state: the batch hook's state holds %zu bytes, at most %d", r->name, s->size,
                 DCNN_BATCH_HOOK_STATE_MAX);
      r->at = r->size;
    }
  }
  const char *name = r ? r->name : "checkpoint";
  DCNN_CHECK(!s->present || t->hook.load_state, DCNN_ERR_INVALID_ARGUMENT,
             "%s: the checkpoint was trained with a batch hook that keeps state (adversarial training): set the "
             "same on this trainer (dcnn_trainer_set_adversarial) before resuming", name);
  DCNN_CHECK(s->present || !t->hook.load_state, DCNN_ERR_INVALID_ARGUMENT,
             "%s: the checkpoint was trained without the batch hook this trainer has (adversarial training?): remove "
             "it (dcnn_trainer_set_batch_hook(t, NULL)) before resuming", name);
  return DCNN_OK;
}

dcnn_status dcnn__trainer_apply_hook_state(dcnn_trainer *t, const dcnn__hook_staged *s) {
  if (!s->present) return DCNN_OK;
  const uint64_t mark = dcnn__error_mark(); /* user code: its failure gets a message of its own */
  return dcnn__callee_error(t->hook.load_state(t->hook.user, s->data, s->size), mark, "batch hook: load_state");
}
