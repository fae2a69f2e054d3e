/* Checkpoints: a model file plus a STAT section holding everything training
 * needs to continue exactly as if it had never stopped. This file only frames
 * the section: a version, then the parts each object writes and reads itself
 * (model_state.c: the model's seed and step counter, for dropout's streams;
 * trainer_state.c: options, history, early stopping and best weights;
 * optimizer_state.c: moments and step count; schedule.c: the schedule's
 * state; the batch hook's state last, e.g. adversarial training's settings).
 * Shuffling and augmentation are functions of (seed, epoch), so they need no
 * state of their own. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../io/atomic_file.h"
#include "../model/architecture.h"
#include "../model/model_io.h"
#include "../model/model_state.h"
#include "train_internal.h"

/* Version 2 appends the batch hook's state (adversarial training's settings
 * when it was on); version 3 ends the trainer's part with its uint64_t seed
 * (before, option 2 held it as a double); version 4 follows it with the
 * position inside an unfinished epoch (mid-epoch checkpoints); version 5
 * with the weight average (#DCNN_TRAIN_EMA_DECAY) and 14 trainer options;
 * version 6 with the epoch the fit in progress ends at (the epochs done
 * before it plus DCNN_TRAIN_EPOCHS) and the batch size of the position's steps. Versions 1 to 3 still read (as checkpoints at an
 * epoch's end). */
#define STATE_VERSION 6u

dcnn_status dcnn__trainer_write_state(const dcnn_trainer *t, dcnn_bytes *b) {
  dcnn__bytes_u32(b, STATE_VERSION);
  dcnn__model_save_state(t->model, b);
  dcnn__trainer_save_own_state(t, b);
  dcnn__optimizer_save_state(t->optimizer, b);
  dcnn__schedule_save_state(t->schedule, b);
  return dcnn__trainer_save_hook_state(t, b);
}

/* ---- reading: every part is parsed, checked and prepared before anything changes ---- */

typedef struct staged {
  dcnn__model_counters model;
  dcnn__trainer_staged trainer;
  dcnn__optimizer_staged optimizer;
  dcnn_schedule schedule;
  dcnn__hook_staged hook;
} staged;

static dcnn_status read_state(dcnn_reader *r, dcnn_trainer *t, staged *s) {
  DCNN_TRY(dcnn__reader_need(r, 4, "the training state header"));
  const uint32_t version = dcnn__reader_u32(r);
  DCNN_CHECK(version >= 1 && version <= STATE_VERSION, DCNN_ERR_UNSUPPORTED,
             "%s: training state version %u (this library reads 1 to %u)", r->name, (unsigned)version,
             (unsigned)STATE_VERSION);
  DCNN_TRY(dcnn__model_load_state(r, &s->model));
  DCNN_TRY(dcnn__trainer_load_own_state(r, version, t, &s->trainer));
  DCNN_TRY(dcnn__optimizer_load_state(r, t->optimizer, t->model, &s->optimizer));
  DCNN_TRY(dcnn__schedule_load_state(r, t->schedule, &s->schedule));
  DCNN_TRY(dcnn__trainer_load_hook_state(version >= 2 ? r : NULL, t, &s->hook));
  DCNN_CHECK(r->at == r->size, DCNN_ERR_BAD_FORMAT, "%s: training state: %llu unexpected bytes at its end", r->name,
             (unsigned long long)(r->size - r->at));
  return DCNN_OK;
}

/* Parses, checks and prepares everything, then commits: on any error the
 * trainer, its optimizer and schedule, and the model are unchanged. With
 * `saved` (a checkpoint's model, same architecture and context as the
 * trainer's), its metadata and weights are committed too. */
static dcnn_status read_and_apply(dcnn_trainer *t, const char *name, const dcnn_bytes *state, dcnn_model *saved) {
  dcnn_reader r = {name, state->data, state->size, 0};
  staged s;
  memset(&s, 0, sizeof s);
  dcnn_status status = read_state(&r, t, &s);
  if (status == DCNN_OK && saved) status = dcnn__model_prepare_adopt(saved, t->model);
  /* The hook's own check comes last: when it accepts, it has taken its state. */
  if (status == DCNN_OK) status = dcnn__trainer_apply_hook_state(t, &s.hook);
  if (status == DCNN_OK) {
    dcnn__optimizer_commit_state(t->optimizer, &s.optimizer);
    dcnn__model_commit_state(t->model, &s.model);
    dcnn__trainer_commit_own_state(t, &s.trainer);
    dcnn__schedule_commit_state(t->schedule, &s.schedule);
    if (saved) dcnn__model_adopt(t->model, saved);
  }
  dcnn__optimizer_staged_free(t->optimizer, &s.optimizer);
  dcnn__trainer_staged_free(t, &s.trainer);
  return status;
}

dcnn_status dcnn__trainer_read_state(dcnn_trainer *t, const char *name, const dcnn_bytes *state) {
  return read_and_apply(t, name, state, NULL);
}

/* ---- public API ---- */

dcnn_status dcnn_trainer_save_checkpoint(const dcnn_trainer *t, const char *path) {
  DCNN_CHECK_ARG(t);
  DCNN_CHECK_ARG(path);
  if (dcnn__trainer_rank(t) != 0) return DCNN_OK; /* data-parallel: rank 0 writes, replicas are identical */
  dcnn_bytes state = {.ctx = t->model->ctx}, file = {.ctx = t->model->ctx};
  dcnn_status status = dcnn__trainer_write_state(t, &state);
  if (status == DCNN_OK) status = dcnn__model_encode(t->model, 0, &state, &file);
  if (status == DCNN_OK) status = dcnn__write_file_atomic(path, file.data, file.size);
  dcnn__bytes_free(&state);
  dcnn__bytes_free(&file);
  return status;
}

/* Whether two models have the same architecture text. */
static dcnn_status same_architecture(const char *path, const dcnn_model *a, const dcnn_model *b) {
  dcnn_bytes x = {.ctx = a->ctx}, y = {.ctx = b->ctx};
  dcnn_status status = dcnn__architecture_write(a, &x, NULL);
  if (status == DCNN_OK) status = dcnn__architecture_write(b, &y, NULL);
  if (status == DCNN_OK && (x.failed || y.failed)) status = dcnn__fail(DCNN_ERR_OUT_OF_MEMORY, "out of memory");
  if (status == DCNN_OK && (x.size != y.size || memcmp(x.data, y.data, x.size) != 0))
    status = dcnn__fail(DCNN_ERR_SHAPE_MISMATCH, "%s: the checkpoint's architecture differs from the trainer's model",
                        path);
  dcnn__bytes_free(&x);
  dcnn__bytes_free(&y);
  return status;
}

static dcnn_status resume_from(dcnn_trainer *t, const char *path) {
  uint8_t *data = NULL;
  uint64_t size = 0;
  dcnn_context *ctx = t->model->ctx;
  DCNN_TRY(dcnn__read_file_in(ctx, path, NULL, DCNN_READ_FILE_MAX_BYTES, &data, &size));
  char shown_buf[DCNN__SHOWN_PATH_MAX];
  const char *shown = dcnn__shown_path(path, shown_buf); /* the file's name in messages */
  dcnn_model *saved = NULL;
  dcnn_model_state state = {NULL, NULL, 0};
  /* In the model's context, like the model whose metadata it will swap with. */
  dcnn_status status = dcnn__model_decode(ctx, shown, data, size, &saved, &state);
  dcnn__release(ctx, data);
  if (status == DCNN_OK && state.size == 0)
    status = dcnn__fail(DCNN_ERR_BAD_FORMAT, "%s: a model file without training state, not a checkpoint", shown);
  if (status == DCNN_OK) status = same_architecture(shown, saved, t->model);
  const dcnn_bytes view = {state.data, (size_t)state.size, (size_t)state.size, 0, NULL}; /* read only */
  if (status == DCNN_OK) status = read_and_apply(t, shown, &view, saved);
  dcnn__model_state_free(&state);
  dcnn_model_destroy(saved);
  return status;
}

dcnn_status dcnn_trainer_resume(dcnn_trainer *t, const char *path) {
  DCNN_CHECK_ARG(t);
  DCNN_CHECK_ARG(path);
  /* it rewrites the weights, which sessions may be reading on other threads */
  DCNN_TRY(dcnn__model_check_no_sessions(t->model, "dcnn_trainer_resume"));
  const char *enclosing = dcnn__file_scope_enter(path); /* every error from here is about the file */
  const dcnn_status status = resume_from(t, path);
  dcnn__file_scope_leave(enclosing);
  return status;
}

dcnn_status dcnn_trainer_set_checkpoint_every(dcnn_trainer *t, int32_t steps, double seconds) {
  DCNN_CHECK_ARG(t);
  DCNN_CHECK(steps >= 0 && isfinite(seconds) && seconds >= 0, DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_trainer_set_checkpoint_every: steps (%d) and seconds (%g) must be >= 0", (int)steps, seconds);
  t->checkpoint_steps = steps;
  t->checkpoint_seconds = seconds;
  return DCNN_OK;
}

dcnn_status dcnn_trainer_set_checkpoint_dir(dcnn_trainer *t, const char *directory) {
  DCNN_CHECK_ARG(t);
  if (!directory || !*directory) {
    t->checkpoint_dir[0] = '\0';
    return DCNN_OK;
  }
  DCNN_CHECK(strlen(directory) + 16 < sizeof t->checkpoint_dir, DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_trainer_set_checkpoint_dir: path too long");
  snprintf(t->checkpoint_dir, sizeof t->checkpoint_dir, "%s", directory);
  return DCNN_OK;
}
