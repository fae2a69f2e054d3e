/* The training loop: epochs, validation, history, progress, early stopping,
 * best weights, learning-rate schedules. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/c_locale.h"
#include "../core/struct_size.h"
#include "../data/data_internal.h"
#include "../io/atomic_file.h"
#include "digitcnn/model_file.h"
#include "digitcnn/random.h"
#include "progress_report.h"
#include "train_internal.h"

#define VALIDATION_BATCH 256


static const double option_defaults[TRAIN_OPTIONS] = {10, 32, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0}; /* 2 and 7: retired */

dcnn_status dcnn_trainer_create(dcnn_context *ctx, dcnn_model *model, dcnn_optimizer *optimizer, dcnn_trainer **out) {
  DCNN_CHECK_ARG(out);
  *out = NULL;
  DCNN_CHECK_ARG(model);
  DCNN_CHECK_ARG(optimizer);
  dcnn_trainer *t = dcnn__calloc(ctx, 1, sizeof *t);
  DCNN_CHECK(t != NULL, DCNN_ERR_OUT_OF_MEMORY, "dcnn_trainer_create: out of memory");
  t->ctx = ctx;
  t->model = model;
  t->optimizer = optimizer;
  t->seed = 1;
  memcpy(t->options, option_defaults, sizeof t->options);
  *out = t;
  return DCNN_OK;
}

void dcnn_trainer_destroy(dcnn_trainer *t) {
  if (!t) return;
  dcnn__trainer_drop_hook(t);
  dcnn__trainer_drop_communicator(t);
  dcnn__trainer_mix_free(t);
  dcnn__trainer_ema_free(t);
  dcnn__release(t->ctx, t->history);
  dcnn__release(t->ctx, t->best);
  dcnn__release(t->ctx, t);
}

dcnn_status dcnn__trainer_option_check(int option, double value, dcnn_status code, const char *who) {
  if (option == DCNN_TRAIN_LABEL_SMOOTHING || option == DCNN_TRAIN_EMA_DECAY)
    /* both are used as floats: 1 - 2^-26 rounds to 1, which the loss refuses and which freezes the average */
    DCNN_CHECK(value >= 0 && value < 1 && (float)value < 1.0f, code, "%s: %s %.17g is outside [0, 1) as a float", who,
               option == DCNN_TRAIN_EMA_DECAY ? "weight-average decay" : "label smoothing", value);
  else if (option == DCNN_TRAIN_MIXUP || option == DCNN_TRAIN_CUTMIX)
    DCNN_CHECK(value >= 0 && value <= 10, code, "%s: %s alpha %g is outside 0..10", who,
               option == DCNN_TRAIN_MIXUP ? "mixup" : "cutmix", value);
  else
    DCNN_CHECK(isfinite(value) && value == floor(value) && value >= 0 && value <= 1e15, code,
               "%s: option %d takes a whole number >= 0, got %g", who, option, value);
  switch (option) {
    case DCNN_TRAIN_EPOCHS:
    case DCNN_TRAIN_BATCH_SIZE:
      DCNN_CHECK(value >= 1 && value <= 1e7, code, "%s: option %d: %g is outside 1..1e7", who, option, value);
      break;
    case DCNN_TRAIN_AUGMENT:
    case DCNN_TRAIN_MONITOR_LOSS:
    case DCNN_TRAIN_KEEP_BEST:
    case DCNN_TRAIN_SCHEDULE_PER_STEP:
      DCNN_CHECK(value <= 1, code, "%s: option %d takes 0 or 1", who, option);
      break;
    default: break;
  }
  return DCNN_OK;
}

dcnn_status dcnn_trainer_set(dcnn_trainer *t, dcnn_trainer_option option, double value) {
  DCNN_CHECK_ARG(t);
  DCNN_CHECK((int)option >= 0 && (int)option < TRAIN_OPTIONS, DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_trainer_set: unknown option %d", (int)option);
  DCNN_CHECK((int)option != 2, DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_trainer_set: option 2 (the seed) is set with dcnn_trainer_set_seed()");
  DCNN_TRY(dcnn__trainer_option_check((int)option, value, DCNN_ERR_INVALID_ARGUMENT, "dcnn_trainer_set"));
  DCNN_CHECK((int)option != DCNN__TRAIN_RETIRED_OPTION, DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_trainer_set: option 7 (the progress mode of 0.1) is gone: install a progress callback "
             "(dcnn_trainer_set_progress; progress_bar.h has a ready-made bar)");
  t->options[option] = value;
  if (option == DCNN_TRAIN_EPOCHS) t->resumed_finished = 0;
  return DCNN_OK;
}

dcnn_status dcnn_trainer_get(const dcnn_trainer *t, dcnn_trainer_option option, double *value) {
  if (value) *value = NAN;
  DCNN_CHECK_ARG(t);
  DCNN_CHECK_ARG(value);
  DCNN_CHECK((int)option >= 0 && (int)option < TRAIN_OPTIONS, DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_trainer_get: unknown option %d", (int)option);
  DCNN_CHECK((int)option != 2, DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_trainer_get: option 2 (the seed) is read with dcnn_trainer_seed()");
  DCNN_CHECK((int)option != DCNN__TRAIN_RETIRED_OPTION, DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_trainer_get: option 7 (the progress mode of 0.1) is gone");
  *value = t->options[option];
  return DCNN_OK;
}

dcnn_status dcnn_trainer_set_schedule(dcnn_trainer *t, dcnn_schedule *schedule) {
  DCNN_CHECK_ARG(t);
  t->schedule = schedule;
  return DCNN_OK;
}

dcnn_status dcnn_trainer_set_progress(dcnn_trainer *t, dcnn_progress_fn fn, void *user) {
  DCNN_CHECK_ARG(t);
  t->progress = fn;
  t->progress_user = user;
  return DCNN_OK;
}

dcnn_status dcnn_trainer_set_callback(dcnn_trainer *t, dcnn_epoch_fn fn, void *user) {
  DCNN_CHECK_ARG(t);
  t->callback = fn;
  t->user = user;
  return DCNN_OK;
}

int32_t dcnn_trainer_epochs_done(const dcnn_trainer *t) { return t ? t->epochs_done : 0; }

int32_t dcnn_trainer_best_epoch(const dcnn_trainer *t) { return t ? t->restored_epoch : 0; }

dcnn_status dcnn_trainer_history(const dcnn_trainer *t, int32_t index, dcnn_epoch_stats *stats) {
  DCNN_CHECK_ARG(t);
  DCNN_CHECK_ARG(stats);
  DCNN_CHECK(index >= 0 && index < t->epochs_done, DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_trainer_history: epoch index %d outside 0..%d", (int)index, (int)t->epochs_done - 1);
  dcnn_epoch_stats full = t->history[index];
  full.struct_size = sizeof full;
  return dcnn__struct_fill("dcnn_trainer_history", "dcnn_epoch_stats", stats, &full, sizeof full,
                           DCNN__EPOCH_STATS_SIZE_0_2);
}

dcnn_status dcnn_trainer_write_history(const dcnn_trainer *t, const char *path) {
  DCNN_CHECK_ARG(t);
  DCNN_CHECK_ARG(path);
  if (dcnn__trainer_rank(t) != 0) return DCNN_OK; /* data-parallel: rank 0 writes (every rank has the history) */
  dcnn_atomic_file file;
  DCNN_TRY(dcnn__atomic_open(&file, path));
  fprintf(file.stream, "epoch,seconds,learning_rate,loss,accuracy,val_loss,val_accuracy\n");
  for (int32_t i = 0; i < t->epochs_done; ++i) {
    const dcnn_epoch_stats *s = &t->history[i];
    char n[6][DCNN__NUMBER_BYTES]; /* CSV numbers with '.' whatever the locale */
    dcnn__format_number(n[0], sizeof n[0], 'f', 3, s->seconds);
    dcnn__format_number(n[1], sizeof n[1], 'g', 8, s->learning_rate);
    dcnn__format_number(n[2], sizeof n[2], 'f', 6, s->loss);
    dcnn__format_number(n[3], sizeof n[3], 'f', 6, s->accuracy);
    dcnn__format_number(n[4], sizeof n[4], 'f', 6, s->val_loss);
    dcnn__format_number(n[5], sizeof n[5], 'f', 6, s->val_accuracy);
    fprintf(file.stream, "%d,%s,%s,%s,%s,%s,%s\n", (int)s->epoch, n[0], n[1], n[2], n[3], n[4], n[5]);
  }
  return dcnn__atomic_commit(&file);
}

/* Copies between the model's parameters and buffers and `buffer` ((floats)
 * values): COPY_SAVE into the buffer, COPY_RESTORE out of it, COPY_EXCHANGE
 * both ways; nothing when the model has another count now (layers added since
 * the buffer was filled). Returns whether it copied. */
enum { COPY_RESTORE = 0, COPY_SAVE = 1, COPY_EXCHANGE = 2 };
static int copy_params(dcnn_model *m, float *buffer, int64_t floats, int mode) {
  if (!buffer || floats != dcnn_model_param_count(m, DCNN_PARAM_TRAINABLE | DCNN_PARAM_BUFFER)) return 0;
  dcnn__error_saved saved; /* a custom layer's failing param slot is skipped, keeping the caller's message */
  dcnn__error_save(&saved);
  for (int32_t i = 0; i < dcnn_model_param_tensor_count(m); ++i) {
    dcnn_param p = DCNN_STRUCT_INIT(dcnn_param);
    if (dcnn_model_param(m, i, &p, NULL) != DCNN_OK) {
      dcnn__error_restore(&saved);
      continue;
    }
    /* the buffers hold TRAINABLE | BUFFER tensors only (dcnn_model_param_count) */
    if (!(p.flags & (DCNN_PARAM_TRAINABLE | DCNN_PARAM_BUFFER))) continue;
    const size_t bytes = (size_t)dcnn_tensor_count(p.value) * sizeof(float);
    float *values = dcnn_tensor_data(p.value);
    if (mode == COPY_SAVE) memcpy(buffer, values, bytes);
    else if (mode == COPY_RESTORE) memcpy(values, buffer, bytes);
    else
      for (int64_t k = 0; k < dcnn_tensor_count(p.value); ++k) {
        const float v = values[k];
        values[k] = buffer[k];
        buffer[k] = v;
      }
    buffer += dcnn_tensor_count(p.value);
  }
  return 1;
}

/* ---- what the model file records about training ---- */

#define CLASS_NAMES_MAX 65536 /* dcnn_model_set_metadata's longest value */

static dcnn_status record_preprocessing(dcnn_trainer *t, const dcnn_dataset *ds, const dcnn_pipeline *pipeline) {
  char text[512];
  DCNN_TRY(dcnn_pipeline_describe(pipeline, text, sizeof text));
  DCNN_TRY(dcnn_model_set_metadata(t->model, "preprocessing", text));
  if (dcnn_model_metadata(t->model, "classes")) return DCNN_OK;
  /* Digit datasets: class k is the digit k unless the user named them. The
   * whole list or none: a cut one would name too few classes. It fits a
   * metadata value (64 KiB) up to about 12,000 classes; beyond, readers fall
   * back to the indices, which is what the list would have said. */
  const int32_t classes = dcnn_dataset_classes(ds);
  const size_t capacity = (size_t)classes * 12 + 1; /* "k," with k < 2^31: at most 11 bytes each */
  char *names = dcnn__alloc(t->ctx, capacity);
  DCNN_CHECK(names != NULL, DCNN_ERR_OUT_OF_MEMORY, "dcnn_trainer_fit: out of memory for the class names");
  size_t n = 0;
  for (int32_t k = 0; k < classes; ++k)
    n += (size_t)snprintf(names + n, capacity - n, "%s%d", k ? "," : "", (int)k);
  const dcnn_status status = n <= CLASS_NAMES_MAX ? dcnn_model_set_metadata(t->model, "classes", names) : DCNN_OK;
  dcnn__release(t->ctx, names);
  return status;
}

/* A deterministic summary (no wall times, so that reruns give identical files). */
static dcnn_status record_training(dcnn_trainer *t) {
  if (t->epochs_done == 0) return DCNN_OK;
  const dcnn_epoch_stats *last = &t->history[t->epochs_done - 1];
  char text[3 * DCNN__NUMBER_BYTES + 128], n[3][DCNN__NUMBER_BYTES]; /* model files never depend on the locale */
  dcnn__format_number(n[0], sizeof n[0], 'f', 6, t->best_epoch ? t->best_value : NAN);
  dcnn__format_number(n[1], sizeof n[1], 'f', 6, last->loss);
  dcnn__format_number(n[2], sizeof n[2], 'f', 6, last->accuracy);
  snprintf(text, sizeof text, "epochs=%d best_epoch=%d best_val_%s=%s loss=%s accuracy=%s steps=%lld",
           (int)t->epochs_done, (int)t->best_epoch, t->options[DCNN_TRAIN_MONITOR_LOSS] != 0 ? "loss" : "accuracy",
           n[0], n[1], n[2], (long long)t->model->steps);
  return dcnn_model_set_metadata(t->model, "training", text);
}

/* Puts back the metadata record_preprocessing replaced (NULL: it was absent),
 * keeping the caller's error message; best effort (out of memory for the old
 * value leaves the new one). */
static void restore_metadata(dcnn_trainer *t, const char *preprocessing, int had_classes) {
  dcnn__error_saved saved;
  dcnn__error_save(&saved);
  (void)dcnn_model_set_metadata(t->model, "preprocessing", preprocessing);
  if (!had_classes) (void)dcnn_model_set_metadata(t->model, "classes", NULL);
  dcnn__error_restore(&saved);
}

/* best.dcnn (a plain model) when the epoch is the best so far, then last.dcnn
 * (resumable) after every epoch. In this order: a process killed between the
 * two resumes from the previous last.dcnn and writes both again, while the
 * other order could leave a checkpoint past a best epoch whose file was never
 * written. */
static dcnn_status write_checkpoints(dcnn_trainer *t, int32_t epoch) {
  if (!t->checkpoint_dir[0] || dcnn__trainer_rank(t) != 0) return DCNN_OK; /* data-parallel: rank 0 writes */
  char path[sizeof t->checkpoint_dir + 16];
  DCNN_TRY(record_training(t));
  snprintf(path, sizeof path, "%s/best.dcnn", t->checkpoint_dir);
  if (t->best_epoch == epoch || t->best_epoch == 0) {
    dcnn__trainer_ema_swap(t); /* best.dcnn holds the averaged weights (a no-op without them) */
    const dcnn_status status = dcnn_model_save(t->model, path);
    dcnn__trainer_ema_swap(t);
    DCNN_TRY(status);
    t->best_file_due = 0;
  } else if (t->best_file_due && copy_params(t->model, t->best, t->best_floats, COPY_EXCHANGE)) {
    /* An earlier epoch's best.dcnn failed to write (full disk): again, from its copy (averaged if
     * any). Best effort: that epoch's failure was reported, and this one's resumable last.dcnn
     * must not depend on it (a path that stays unwritable would stop every later checkpoint). */
    dcnn__error_saved saved;
    dcnn__error_save(&saved);
    if (dcnn_model_save(t->model, path) == DCNN_OK) t->best_file_due = 0;
    else dcnn__log(t->ctx, DCNN_LOG_WARN, "trainer: best.dcnn of epoch %d still not written: %s", (int)t->best_epoch,
                   dcnn_last_error());
    dcnn__error_restore(&saved);
    copy_params(t->model, t->best, t->best_floats, COPY_EXCHANGE);
  } else if (t->best_file_due) {
    /* No copy to write it from (DCNN_TRAIN_KEEP_BEST 0 keeps none): said once, not retried. */
    dcnn__log(t->ctx, DCNN_LOG_WARN,
              "trainer: best.dcnn of epoch %d was not written and no copy of its weights was kept "
              "(DCNN_TRAIN_KEEP_BEST was 0): best.dcnn holds an earlier epoch's, or nothing",
              (int)t->best_epoch);
    t->best_file_due = 0;
  }
  snprintf(path, sizeof path, "%s/last.dcnn", t->checkpoint_dir);
  return dcnn_trainer_save_checkpoint(t, path);
}

/* last.dcnn inside an epoch (the position says where), when one is due. */
static dcnn_status checkpoint_inside_epoch(dcnn_trainer *t, int32_t step, int32_t planned) {
  if (!t->checkpoint_dir[0] || step >= planned) return DCNN_OK; /* the epoch's end writes its own */
  if (dcnn__trainer_rank(t) != 0) return DCNN_OK;               /* data-parallel: rank 0 writes */
  const int by_steps = t->checkpoint_steps > 0 && step % t->checkpoint_steps == 0;
  const int by_time = t->checkpoint_seconds > 0 && dcnn__now() - t->saved_at >= t->checkpoint_seconds;
  if (!by_steps && !by_time) return DCNN_OK;
  char path[sizeof t->checkpoint_dir + 16];
  snprintf(path, sizeof path, "%s/last.dcnn", t->checkpoint_dir);
  DCNN_TRY(dcnn_trainer_save_checkpoint(t, path));
  t->saved_at = dcnn__now();
  return DCNN_OK;
}

/* ---- the loop ---- */

/* `which`: "training" or "validation", the set the messages name. */
static dcnn_status check_shapes(const dcnn_trainer *t, const dcnn_dataset *ds, dcnn_pipeline *pipeline,
                                const char *which) {
  dcnn_shape sample, input = dcnn_model_input_shape(t->model), out = dcnn_model_output_shape(t->model);
  DCNN_TRY(dcnn_pipeline_sample_shape(pipeline, ds, &sample));
  char a[64], b[64];
  DCNN_CHECK(dcnn_shape_equal(&sample, &input), DCNN_ERR_SHAPE_MISMATCH,
             "dcnn_trainer_fit: the pipeline makes samples %s of the %s set, the model takes %s",
             dcnn_shape_format(&sample, a, sizeof a), which, dcnn_shape_format(&input, b, sizeof b));
  DCNN_CHECK(out.ndim == 1 && out.dims[0] == dcnn_dataset_classes(ds), DCNN_ERR_SHAPE_MISMATCH,
             "dcnn_trainer_fit: the model has %s outputs, the %s set %d classes (a dataset's class count is "
             "fixed when it is made: give it where its labels may miss the top classes)",
             dcnn_shape_format(&out, a, sizeof a), which, (int)dcnn_dataset_classes(ds));
  return DCNN_OK;
}

static dcnn_status grow_history(dcnn_trainer *t) {
  if (t->epochs_done < t->history_capacity) return DCNN_OK;
  int32_t capacity = t->history_capacity ? 2 * t->history_capacity : 16;
  dcnn_epoch_stats *h = dcnn__calloc(t->ctx, (size_t)capacity, sizeof *h);
  DCNN_CHECK(h != NULL, DCNN_ERR_OUT_OF_MEMORY, "trainer: out of memory");
  if (t->history) memcpy(h, t->history, (size_t)t->epochs_done * sizeof *h);
  dcnn__release(t->ctx, t->history);
  t->history = h;
  t->history_capacity = capacity;
  return DCNN_OK;
}

/* Steps an epoch will have: every batch, or DCNN_TRAIN_MAX_STEPS of them.
 * The limit (up to 1e15) is compared as a double: only one below the batch
 * count, which fits int32, is converted. */
static int32_t planned_steps(const dcnn_trainer *t, const dcnn_batcher *batches) {
  const int32_t steps = dcnn_batcher_batches_per_epoch(batches);
  const double max_steps = t->options[DCNN_TRAIN_MAX_STEPS];
  return max_steps > 0 && max_steps < steps ? (int32_t)max_steps : steps;
}

/* Whether the rate moves every step (#DCNN_TRAIN_SCHEDULE_PER_STEP): only
 * the continuous schedules do; step and plateau keep their epoch's rate. */
static int per_step_schedule(const dcnn_trainer *t) {
  return t->options[DCNN_TRAIN_SCHEDULE_PER_STEP] != 0 && t->schedule &&
         (t->schedule->kind == SCHEDULE_COSINE || t->schedule->kind == SCHEDULE_WARMUP_COSINE);
}

/* Runs one epoch of training steps; fills loss, accuracy and steps of `s`. */
static dcnn_status train_epoch(dcnn_trainer *t, dcnn_batcher *batches, dcnn_epoch_stats *s, dcnn__progress_run *run,
                               double start) {
  const int32_t planned = planned_steps(t, batches);
  dcnn__trainer_position *at = &t->position;
  const int32_t batch = (int32_t)t->options[DCNN_TRAIN_BATCH_SIZE];
  if (at->epoch != s->epoch) {
    memset(at, 0, sizeof *at);
    at->epoch = s->epoch;
    at->batch = batch;
  } else { /* continue an interrupted epoch at its next step */
    /* another batch size would skip or repeat samples of the epoch's order */
    DCNN_CHECK(at->batch == batch, DCNN_ERR_INVALID_STATE,
               "epoch %d: its first %d steps were taken with batch size %d, not %d: set DCNN_TRAIN_BATCH_SIZE back "
               "to finish the epoch", (int)s->epoch, (int)at->steps, (int)at->batch, (int)batch);
    DCNN_CHECK(at->steps <= planned, DCNN_ERR_INVALID_STATE,
               "epoch %d: %d steps were done, the epoch now has %d (step limit changed?)", (int)s->epoch,
               (int)at->steps, (int)planned);
    DCNN_TRY(dcnn__batcher_skip(batches, at->steps));
  }
  const double earlier = at->seconds;
  s->seconds = earlier;
  s->steps = at->steps;
  const int32_t size = dcnn__trainer_size(t), rank = dcnn__trainer_rank(t);
  dcnn__shard shard = {.comm = &t->comm, .sync = &t->sync};
  const int per_step = per_step_schedule(t);
  if (per_step) s->learning_rate = dcnn_schedule_rate_at(t->schedule, s->epoch - 1 + 0.5 / planned);
  for (int32_t step = at->steps; step < planned; ++step) {
    if (per_step)
      DCNN_TRY(dcnn__optimizer_set_scheduled_rate(
          t->optimizer, dcnn_schedule_rate_at(t->schedule, s->epoch - 1 + (step + 0.5) / planned)));
    dcnn_tensor *x = NULL;
    const int32_t *labels = NULL;
    int32_t n = 0, correct = 0;
    dcnn_profile *profile = dcnn__model_profile(t->model);
    const double waited = profile ? dcnn__now() : 0;
    if (size > 1) { /* this process's slice of the global batch; n counts the global batch */
      DCNN_TRY(dcnn__batcher_next_shard(batches, rank, size, &x, &labels, &shard.local, &n, &shard.offset));
      shard.global = n;
    } else {
      DCNN_TRY(dcnn_batcher_next(batches, &x, &labels, &n));
    }
    if (profile) dcnn__profile_phase(profile, DCNN_PROFILE_DATA, dcnn__now() - waited, n > 0);
    if (n == 0) break;
    /* A global batch smaller than the job is not sliced (the batcher gives
     * every process all of it): every process computes the step, process 0's
     * counts and the others add zeros (shard.mute), so every process makes
     * process 0's step bit for bit, whatever its own thread count. */
    const int sliced = size > 1 && n >= size;
    shard.mute = size > 1 && !sliced && rank != 0;
    float loss = 0;
    shard.cancel = t->cancel_pending; /* rides on the step's loss all-reduce */
    dcnn_status status = dcnn__trainer_has_hook(t) ? dcnn__trainer_run_hook(t, x, labels, shard.offset, n) : DCNN_OK;
    const float smoothing = (float)t->options[DCNN_TRAIN_LABEL_SMOOTHING];
    const float *targets = NULL;
    const int32_t *counted = labels;
    if (status == DCNN_OK && dcnn__trainer_mixing(t))
      status = dcnn__trainer_mix_batch(t, x, labels, dcnn_model_output_shape(t->model).dims[0], s->epoch, step,
                                       sliced ? &shard : NULL, &targets, &counted);
    shard.decided = 0;
    if (status == DCNN_OK) status = dcnn__trainer_ema_reserve(t);
    if (status == DCNN_OK)
      status = dcnn__model_train_step(t->model, t->optimizer, x, counted, smoothing, targets, size > 1 ? &shard : NULL,
                                      &loss, &correct);
    /* Decided on all-reduced numbers, every process returns it here; any
     * earlier failure (a hook's, a local non-finite logit) is this process's
     * alone and ends the job through the communicator's abort. */
    if (size > 1 && shard.decided && (status == DCNN_ERR_NUMERIC || status == DCNN_ERR_CANCELLED)) t->agreed = 1;
    if (status == DCNN_ERR_CANCELLED)
      return dcnn__wrap_error(status, "epoch %d, before step %d: every process stops here; the model holds the "
                              "weights of the last completed step", (int)s->epoch, (int)step + 1);
    if (status == DCNN_OK) status = dcnn__trainer_ema_update(t);
    if (status == DCNN_ERR_NUMERIC)
      return dcnn__wrap_error(status, "epoch %d, step %d: training diverged (try a smaller learning rate); the model "
                              "keeps the weights of the last good step and the checkpoints written before it are "
                              "unchanged", (int)s->epoch, (int)step + 1);
    if (status != DCNN_OK) return dcnn__wrap_error(status, "epoch %d, step %d", (int)s->epoch, (int)step + 1);
    at->loss_sum += (double)loss * n;
    at->hits += correct;
    at->seen += n;
    at->steps = step + 1;
    at->seconds = earlier + (dcnn__now() - start);
    s->steps = step + 1;
    DCNN_TRY(checkpoint_inside_epoch(t, step + 1, planned));
    DCNN_TRY(dcnn__trainer_defer_cancel(
        t, dcnn__progress_step(run, step + 1, planned, at->seen, at->loss_sum, at->hits, at->seconds)));
  }
  s->loss = at->seen ? at->loss_sum / (double)at->seen : NAN;
  s->accuracy = at->seen ? (double)at->hits / (double)at->seen : NAN;
  return DCNN_OK;
}

/* Whether `value` improves on the best so far, and the bookkeeping that follows. */
static dcnn_status track_best(dcnn_trainer *t, const dcnn_epoch_stats *s) {
  const int by_loss = t->options[DCNN_TRAIN_MONITOR_LOSS] != 0;
  const double value = by_loss ? s->val_loss : s->val_accuracy;
  if (isnan(value)) return DCNN_OK;
  const int improved = t->best_epoch == 0 || (by_loss ? value < t->best_value : value > t->best_value);
  if (!improved) {
    t->since_best++;
    return DCNN_OK;
  }
  const int64_t floats = dcnn_model_param_count(t->model, DCNN_PARAM_TRAINABLE | DCNN_PARAM_BUFFER);
  if (t->options[DCNN_TRAIN_KEEP_BEST] != 0 && (!t->best || t->best_floats != floats)) {
    /* before any bookkeeping: out of memory leaves the earlier best epoch and its copy as they were */
    float *copy = dcnn__alloc(t->ctx, (size_t)(floats ? floats : 1) * sizeof(float));
    DCNN_CHECK(copy != NULL, DCNN_ERR_OUT_OF_MEMORY, "trainer: out of memory for the best weights");
    dcnn__release(t->ctx, t->best);
    t->best = copy;
    t->best_floats = floats;
  }
  t->best_value = value;
  t->best_epoch = s->epoch;
  t->best_params = floats;
  t->best_by_loss = by_loss;
  t->since_best = 0;
  t->best_file_due = 1;
  if (t->options[DCNN_TRAIN_KEEP_BEST] == 0 && t->best) { /* an earlier fit's copy is not this epoch's */
    dcnn__release(t->ctx, t->best);
    t->best = NULL;
    t->best_floats = 0;
  }
  if (t->options[DCNN_TRAIN_KEEP_BEST] != 0) {
    dcnn__trainer_ema_swap(t); /* the best weights are the averaged ones, if any */
    copy_params(t->model, t->best, t->best_floats, COPY_SAVE);
    dcnn__trainer_ema_swap(t);
  }
  return DCNN_OK;
}

/* Settings that cannot act in this fit: said through the log sink, not
 * refused (the same trainer may fit with validation data next time). */
static void warn_about_options(const dcnn_trainer *t, const dcnn_dataset *validation) {
  if (validation) return;
  if (t->options[DCNN_TRAIN_PATIENCE] > 0)
    dcnn__log(t->ctx, DCNN_LOG_WARN, "dcnn_trainer_fit: patience %.0f is set but there is no validation data: early "
              "stopping is off", t->options[DCNN_TRAIN_PATIENCE]);
  if (t->schedule && t->schedule->kind == SCHEDULE_PLATEAU)
    dcnn__log(t->ctx, DCNN_LOG_WARN, "dcnn_trainer_fit: a plateau schedule observes the validation metric, and there "
              "is no validation data: the learning rate will not change");
}

/* Layers added since an earlier fit (or the monitored value switched between
 * loss and accuracy): the best epoch (its value, its weights) and the weight
 * average belong to another network or measure. They are dropped, and best
 * tracking starts again, rather than compared with or copied into this one. */
int dcnn__trainer_tracking_current(const dcnn_trainer *t) {
  return t->best_params == dcnn_model_param_count(t->model, DCNN_PARAM_TRAINABLE | DCNN_PARAM_BUFFER) &&
         t->best_by_loss == (t->options[DCNN_TRAIN_MONITOR_LOSS] != 0);
}

/* Best-epoch tracking starts again: no best value, epoch or copy. */
static void forget_best(dcnn_trainer *t) {
  dcnn__release(t->ctx, t->best);
  t->best = NULL;
  t->best_floats = 0;
  t->best_value = 0;
  t->best_epoch = t->restored_epoch = t->since_best = 0;
  t->best_file_due = 0;
}

static void drop_stale_copies(dcnn_trainer *t) {
  const int64_t floats = dcnn_model_param_count(t->model, DCNN_PARAM_TRAINABLE | DCNN_PARAM_BUFFER);
  if ((t->best_epoch > 0 && !dcnn__trainer_tracking_current(t)) || (t->best && t->best_floats != floats))
    forget_best(t);
  if (t->ema.values && t->ema.floats != floats) {
    dcnn__release(t->ctx, t->ema.values);
    t->ema.values = NULL;
    t->ema.floats = 0;
    t->ema.updates = 0;
    t->ema.after_step = 0;
  }
}

/* `directory` is one, or the reason why not. */
static dcnn_status check_directory(const char *directory) {
  struct stat st;
  /* The path first, as in every I/O message. */
  DCNN_CHECK(stat(directory, &st) == 0, DCNN_ERR_IO, "%s: the checkpoint directory of dcnn_trainer_fit: %s",
             directory, strerror(errno));
  DCNN_CHECK(S_ISDIR(st.st_mode), DCNN_ERR_IO, "%s: the checkpoint directory of dcnn_trainer_fit: %s", directory,
             strerror(ENOTDIR));
  /* A read-only one too: its first save failed only after an epoch of training. */
  DCNN_CHECK(faccessat(AT_FDCWD, directory, W_OK | X_OK, AT_EACCESS) == 0, DCNN_ERR_IO, /* as the saves will run */
             "%s: the checkpoint directory of dcnn_trainer_fit cannot take files: %s", directory, strerror(errno));
  return DCNN_OK;
}

/* The checkpoint directory, where this process writes one: missing or
 * read-only, it would fail the first save, after an epoch of training. */
static dcnn_status check_checkpoint_dir(const dcnn_trainer *t) {
  if (!t->checkpoint_dir[0] || dcnn__trainer_rank(t) != 0) return DCNN_OK;
  const char *enclosing = dcnn__file_scope_enter(t->checkpoint_dir);
  const dcnn_status status = check_directory(t->checkpoint_dir);
  dcnn__file_scope_leave(enclosing);
  return status;
}

dcnn_status dcnn_trainer_fit(dcnn_trainer *t, const dcnn_dataset *train, const dcnn_dataset *validation,
                             dcnn_pipeline *pipeline) {
  DCNN_CHECK_ARG(t);
  t->cancel_pending = t->agreed = 0;
  if (!train || !pipeline) { /* in a job, through the abort as well: the other processes would wait */
    const dcnn_status missing = dcnn__fail(DCNN_ERR_INVALID_ARGUMENT, "dcnn_trainer_fit: argument '%s' is NULL",
                                           train ? "pipeline" : "train");
    dcnn__trainer_abort(t, missing);
    return missing;
  }
  /* Every exit below goes through the end (in a job, an error one process
   * has alone must abort the job: the others would wait for it). Even a fit
   * with no epoch left writes the weights (the average, the best epoch's),
   * which sessions may be reading on other threads. */
  dcnn_status status = dcnn__model_check_no_sessions(t->model, "dcnn_trainer_fit");
  if (status == DCNN_OK) status = check_shapes(t, train, pipeline, "training");
  if (status == DCNN_OK && validation) status = check_shapes(t, validation, pipeline, "validation");
  if (status == DCNN_OK) status = dcnn__trainer_check_job(t, train);
  /* Before the job's all-reduce, so that every process returns it (it would fail the first batch). */
  if (status == DCNN_OK && t->options[DCNN_TRAIN_AUGMENT] != 0)
    status = dcnn__pipeline_check_augmentation(pipeline, "dcnn_trainer_fit");
  /* In a job, rank 0's finding goes to every process with the replicas' check below, so that each
   * returns it (DCNN_ERR_IO) instead of the job being aborted. */
  int checkpoint_dir_unusable = 0;
  if (status == DCNN_OK) {
    const dcnn_status dir = check_checkpoint_dir(t);
    if (dcnn__trainer_size(t) > 1) checkpoint_dir_unusable = dir != DCNN_OK;
    else status = dir;
  }
  /* Resumed at the end of its last planned epoch: no epoch left to train. */
  const int32_t epochs = t->resumed_finished ? 0 : (int32_t)t->options[DCNN_TRAIN_EPOCHS], first = t->epochs_done;
  t->saved_at = dcnn__now();
  /* With batch norm a last batch of a single sample is skipped (the epoch's shuffle decides which
   * sample is left out): one sample may give one value per channel, which cannot be normalised. */
  const int32_t batch = (int32_t)t->options[DCNN_TRAIN_BATCH_SIZE], count = dcnn_dataset_count(train);
  int batch_statistics = 0;
  for (int32_t i = 0; i < dcnn_model_layer_count(t->model) && !batch_statistics; ++i)
    batch_statistics = dcnn__layer_batch_statistics(dcnn_model_layer(t->model, i));
  const int lone_last = batch_statistics && batch > 1 && count > batch && count % batch == 1;
  const uint32_t flags = DCNN_BATCH_SHUFFLE | (t->options[DCNN_TRAIN_AUGMENT] != 0 ? DCNN_BATCH_AUGMENT : 0) |
                         (lone_last ? DCNN_BATCH_DROP_LAST : 0);
  dcnn_batcher *batches = NULL;
  dcnn_metrics *metrics = NULL;
  /* A schedule may take the rate to 0; a later fit without one would train at 0 without a word.
   * Refused before anything changes (the model's metadata below). */
  if (status == DCNN_OK && epochs > 0 && !t->schedule && !(dcnn_optimizer_learning_rate(t->optimizer) > 0))
    status = dcnn__fail(DCNN_ERR_INVALID_STATE,
                        "dcnn_trainer_fit: the optimizer's learning rate is 0 (an earlier fit's schedule ended "
                        "there) and no schedule is set: set a rate (dcnn_optimizer_set_learning_rate) or a schedule");
  /* A plateau schedule observes the monitored metric (DCNN_TRAIN_MONITOR_LOSS): one made for the other
   * direction cut the rate every time the model improved. */
  if (status == DCNN_OK && t->schedule && t->schedule->kind == SCHEDULE_PLATEAU && validation &&
      t->schedule->maximize == (t->options[DCNN_TRAIN_MONITOR_LOSS] != 0))
    status = dcnn__fail(DCNN_ERR_INVALID_ARGUMENT,
                        "dcnn_trainer_fit: the plateau schedule %s its metric, but the trainer monitors validation %s "
                        "(DCNN_TRAIN_MONITOR_LOSS %s): set a schedule made with DCNN_GOAL_%s (after a resume, "
                        "which restores the checkpoint's), or monitor the %s",
                        t->schedule->maximize ? "maximises" : "minimises",
                        t->options[DCNN_TRAIN_MONITOR_LOSS] != 0 ? "loss" : "accuracy",
                        t->options[DCNN_TRAIN_MONITOR_LOSS] != 0 ? "1" : "0",
                        t->options[DCNN_TRAIN_MONITOR_LOSS] != 0 ? "MINIMIZE" : "MAXIMIZE",
                        t->options[DCNN_TRAIN_MONITOR_LOSS] != 0 ? "accuracy (0)" : "loss (1)");
  /* The metadata describes the weights: a fit that ends before its first step
   * leaves the weights, so it puts back what described them (restore_metadata). */
  const int64_t steps_before = dcnn_model_step_count(t->model);
  const char *described = dcnn_model_metadata(t->model, "preprocessing");
  char *old_preprocessing = NULL; /* copy of `described`, or NULL when absent */
  const int had_classes = dcnn_model_metadata(t->model, "classes") != NULL;
  if (status == DCNN_OK && described) {
    old_preprocessing = dcnn__alloc(t->ctx, strlen(described) + 1);
    if (old_preprocessing) memcpy(old_preprocessing, described, strlen(described) + 1);
    else status = dcnn__fail(DCNN_ERR_OUT_OF_MEMORY, "dcnn_trainer_fit: out of memory");
  }
  const int recorded = status == DCNN_OK;
  if (status == DCNN_OK) status = record_preprocessing(t, train, pipeline);
  /* In a job every process reaches this all-reduce, having refused the fit or not, so that a refusal
   * every process makes alike (or one process alone) is returned by each rather than aborting the job. */
  if (dcnn__trainer_size(t) > 1)
    status = dcnn__trainer_check_replicas(t, train, validation, status, checkpoint_dir_unusable);
  if (status == DCNN_OK && dcnn__trainer_size(t) > 1)
    status = dcnn__grad_sync_plan(&t->sync, t->ctx, t->model, &t->comm);
  if (status == DCNN_OK)
    status = dcnn_batcher_create(t->ctx, train, pipeline, batch, flags, t->seed, &batches);
  /* only validation reads it (dcnn_metrics_create takes 2 classes or more: a 1-class model trains) */
  if (status == DCNN_OK && validation) status = dcnn_metrics_create(t->ctx, dcnn_dataset_classes(train), &metrics);
  /* Last, once nothing can refuse the fit: a refused fit keeps the best epoch, its weights and the average. */
  if (status == DCNN_OK) drop_stale_copies(t);
  dcnn__progress_run run;
  dcnn__progress_start(&run, t->progress, t->progress_user, first + epochs);
  if (status == DCNN_OK && !t->resumed_finished) t->fit_planned = first + epochs;
  if (status == DCNN_OK) warn_about_options(t, validation);
  int stop = 0, early_stopped = 0;
  for (int32_t e = first; status == DCNN_OK && !stop && e < first + epochs; ++e) {
    dcnn_epoch_stats s = {sizeof s, e + 1, first + epochs, 0, 0, 0, NAN, NAN, NAN, NAN};
    s.learning_rate = t->schedule ? dcnn_schedule_rate(t->schedule, e) : dcnn_optimizer_learning_rate(t->optimizer);
    status = dcnn__optimizer_set_scheduled_rate(t->optimizer, (float)s.learning_rate);
    if (status == DCNN_OK) status = dcnn_batcher_start_epoch(batches, e);
    /* Per step, the epoch begins at its first step's rate (the one its history records), not the epoch's. */
    const int32_t steps_planned = status == DCNN_OK ? planned_steps(t, batches) : 0;
    const double first_rate = per_step_schedule(t) && steps_planned > 0
                                  ? dcnn_schedule_rate_at(t->schedule, e + 0.5 / steps_planned)
                                  : s.learning_rate;
    const dcnn__trainer_position *at = &t->position;
    const dcnn__progress_before before =
        at->epoch == s.epoch ? (dcnn__progress_before){at->steps, at->seen, at->hits, at->loss_sum, at->seconds}
                             : (dcnn__progress_before){0, 0, 0, 0, 0};
    if (status == DCNN_OK)
      status = dcnn__trainer_defer_cancel(t, dcnn__progress_epoch_begin(&run, s.epoch, steps_planned, first_rate, before));
    const double start = dcnn__now();
    if (status == DCNN_OK) status = train_epoch(t, batches, &s, &run, start);
    /* the epoch's training time, an interrupted epoch's earlier part (s.seconds, set by train_epoch) included,
     * as the steps report it */
    const double train_seconds = s.seconds + (dcnn__now() - start);
    if (status == DCNN_OK && validation) {
      dcnn__trainer_ema_swap(t); /* validation sees the weight average, if any */
      status = dcnn_metrics_reset(metrics);
      if (status == DCNN_OK)
        status = dcnn_evaluate_distributed(t->model, validation, pipeline, VALIDATION_BATCH,
                                           t->comm.struct_size ? &t->comm : NULL, metrics, &s.val_loss);
      if (status == DCNN_OK) status = dcnn_metrics_get(metrics, DCNN_METRIC_ACCURACY, DCNN_AVERAGE_MACRO, &s.val_accuracy);
      dcnn__trainer_ema_swap(t);
    }
    s.seconds += dcnn__now() - start;
    if (status != DCNN_OK) break;
    status = grow_history(t);
    if (status != DCNN_OK) break;
    t->history[t->epochs_done++] = s;
    memset(&t->position, 0, sizeof t->position);
    /* An epoch trained without validation moved the weights past every
     * earlier best: a later fit's best epoch is measured from here on, and
     * an earlier copy is never restored over this training. */
    if (validation) status = track_best(t, &s);
    else forget_best(t);
    if (status == DCNN_OK && t->schedule && validation)
      status = dcnn_schedule_observe(t->schedule, (float)(t->options[DCNN_TRAIN_MONITOR_LOSS] != 0 ? s.val_loss : s.val_accuracy));
    if (status == DCNN_OK) status = write_checkpoints(t, s.epoch);
    t->saved_at = dcnn__now();
    if (status == DCNN_OK) status = dcnn__trainer_defer_cancel(t, dcnn__progress_epoch_end(&run, &s, train_seconds));
    if (status != DCNN_OK) break;
    /* Compared as a double (up to 1e15): once reached, it fits since_best's int32. */
    const double patience = t->options[DCNN_TRAIN_PATIENCE];
    if (patience > 0 && t->since_best >= patience) {
      dcnn__log(t->ctx, DCNN_LOG_INFO, "dcnn_trainer_fit: early stopping after epoch %d: no improvement for %d epochs",
                (int)s.epoch, (int)patience);
      early_stopped = (int)patience;
      stop = 1;
    }
    if (t->callback && t->callback(&s, t->user)) stop = 1;
    status = dcnn__trainer_agree_epoch_end(t, s.epoch, &stop); /* a job stops (or cancels) as one */
  }
  int32_t restored = 0;
  if (status == DCNN_OK) dcnn__trainer_ema_apply(t); /* the model ends with the averaged weights */
  /* A fit without validation data keeps its last weights: an earlier fit's
   * best epoch would undo all of this one's training. A fit with no epoch
   * left (resumed at the end of a run) finishes that run: it restores. */
  const int keep_best = t->options[DCNN_TRAIN_KEEP_BEST] != 0 && (validation || epochs == 0);
  if (status == DCNN_OK && keep_best && t->best_epoch > 0 && t->best_epoch != t->epochs_done) {
    /* drop_stale_copies made the copy this network's: it is always copied back here */
    const int copied = copy_params(t->model, t->best, t->best_floats, COPY_RESTORE);
    t->restored_epoch = restored = copied ? t->best_epoch : 0;
    if (copied)
      dcnn__log(t->ctx, DCNN_LOG_INFO, "dcnn_trainer_fit: restored the weights of epoch %d (best validation %s %.4f)",
                (int)t->best_epoch, t->options[DCNN_TRAIN_MONITOR_LOSS] != 0 ? "loss" : "accuracy", t->best_value);
  } else if (status == DCNN_OK) {
    /* The last epoch was the best: the model already holds its weights. */
    t->restored_epoch = keep_best ? t->best_epoch : 0;
  }
  if (status == DCNN_OK) status = record_training(t);
  /* Only a fit that ran clears it: one refused before its first epoch (a
   * wrong validation set) leaves the next fit still finishing the run. */
  if (status == DCNN_OK) t->resumed_finished = 0;
  if (recorded && status != DCNN_OK && dcnn_model_step_count(t->model) == steps_before)
    restore_metadata(t, old_preprocessing, had_classes);
  dcnn__release(t->ctx, old_preprocessing);
  if (status == DCNN_ERR_CANCELLED) dcnn__log(t->ctx, DCNN_LOG_INFO, "%s", dcnn_last_error());
  const int started = batches != NULL; /* a fit refused before its first epoch reports nothing */
  dcnn_metrics_destroy(metrics);
  dcnn_batcher_destroy(batches);
  if (started)
    dcnn__progress_finish(&run, status, early_stopped, restored, t->best_value, t->options[DCNN_TRAIN_MONITOR_LOSS] != 0);
  dcnn__trainer_abort(t, status); /* data-parallel: the other processes must not wait for this one */
  return status;
}
