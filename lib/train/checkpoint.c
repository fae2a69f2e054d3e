/* Checkpoints: a model file plus a STAT section holding everything training
 * needs to continue exactly as if it had never stopped — the model's seed and
 * step counter (dropout streams), the trainer's options, history, early
 * stopping and best-weights state, the optimizer's moments and step count,
 * and the schedule's state. Shuffling and augmentation are functions of
 * (seed, epoch), so they need no state of their own. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../io/atomic_file.h"
#include "../model/architecture.h"
#include "../model/model_io.h"
#include "train_internal.h"

/* Version 2 appends the adversarial-training settings; version 1 (no such
 * settings: adversarial training off) still reads. */
#define STATE_VERSION 2u
#define HISTORY_LIMIT 1000000

void dcnn__trainer_write_state(const dcnn_trainer *t, dcnn_bytes *b) {
  dcnn__bytes_u32(b, STATE_VERSION);
  dcnn__bytes_u64(b, t->model->seed);
  dcnn__bytes_u64(b, (uint64_t)t->model->steps);
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
  dcnn__bytes_f64(b, t->best_value);
  dcnn__bytes_u32(b, (uint32_t)t->best_epoch);
  dcnn__bytes_u32(b, (uint32_t)t->restored_epoch);
  dcnn__bytes_u32(b, (uint32_t)t->since_best);
  dcnn__bytes_u64(b, t->best ? (uint64_t)t->best_floats : 0);
  if (t->best) dcnn__bytes_floats(b, t->best, t->best_floats);
  /* optimizer */
  const dcnn_optimizer *o = t->optimizer;
  dcnn__bytes_u32(b, (uint32_t)o->kind);
  const float hyper[6] = {o->learning_rate, o->momentum, o->beta1, o->beta2, o->epsilon, o->weight_decay};
  for (int k = 0; k < 6; ++k) dcnn__bytes_f32(b, hyper[k]);
  dcnn__bytes_u32(b, (uint32_t)o->nesterov);
  dcnn__bytes_u64(b, (uint64_t)o->steps);
  dcnn__bytes_u32(b, o->model ? (uint32_t)o->param_count : 0);
  for (int32_t i = 0; o->model && i < o->param_count; ++i) {
    dcnn__bytes_u32(b, (o->first[i] ? 1u : 0u) | (o->second[i] ? 2u : 0u));
    if (o->first[i]) {
      dcnn__bytes_u64(b, (uint64_t)o->first[i]->count);
      dcnn__bytes_floats(b, o->first[i]->data, o->first[i]->count);
    }
    if (o->second[i]) {
      dcnn__bytes_u64(b, (uint64_t)o->second[i]->count);
      dcnn__bytes_floats(b, o->second[i]->data, o->second[i]->count);
    }
  }
  /* schedule */
  const dcnn_schedule *s = t->schedule;
  dcnn__bytes_u32(b, s ? 1u + (uint32_t)s->kind : 0u);
  if (s) {
    const float values[5] = {s->base, s->minimum, s->factor, s->current, s->best};
    for (int k = 0; k < 5; ++k) dcnn__bytes_f32(b, values[k]);
    dcnn__bytes_u32(b, (uint32_t)s->period);
    dcnn__bytes_u32(b, (uint32_t)s->maximize);
    dcnn__bytes_u32(b, (uint32_t)s->since_best);
    dcnn__bytes_u32(b, (uint32_t)s->seen);
  }
  /* adversarial training */
  dcnn__bytes_u32(b, t->adversarial_ratio > 0 ? 1u : 0u);
  if (t->adversarial_ratio > 0) {
    dcnn__bytes_u32(b, (uint32_t)t->attack.kind);
    dcnn__bytes_f32(b, t->attack.epsilon);
    dcnn__bytes_f32(b, t->attack.step);
    dcnn__bytes_u32(b, (uint32_t)t->attack.iterations);
    dcnn__bytes_u32(b, (uint32_t)t->attack.random_start);
    dcnn__bytes_u64(b, t->attack.seed);
    dcnn__bytes_f64(b, t->adversarial_ratio);
  }
}

/* ---- reading: everything is parsed and checked into `staged` before the trainer changes ---- */

typedef struct staged {
  uint64_t model_seed;
  int64_t model_steps;
  double options[TRAIN_OPTIONS];
  int32_t epochs_done;
  dcnn_epoch_stats *history;
  double best_value;
  int32_t best_epoch, restored_epoch, since_best;
  int64_t best_floats;
  float *best;
  uint32_t optimizer_kind, nesterov;
  float hyper[6];
  int64_t optimizer_steps;
  int32_t param_count;
  float **moments; /* (param_count, 2), NULL where absent */
  uint32_t schedule_kind;
  float schedule_values[5];
  uint32_t schedule_ints[4];
  dcnn_attack attack;
  double adversarial_ratio;
} staged;

static void staged_free(dcnn_context *ctx, staged *s) {
  dcnn__release(ctx, s->history);
  dcnn__release(ctx, s->best);
  for (int32_t i = 0; s->moments && i < 2 * s->param_count; ++i) dcnn__release(ctx, s->moments[i]);
  dcnn__release(ctx, s->moments);
}

#define NEED(bytes, what) DCNN_TRY(dcnn__reader_need(r, (bytes), (what)))

static dcnn_status read_moment(dcnn_reader *r, dcnn_context *ctx, dcnn_model *m, int32_t index, float **out) {
  dcnn_param p = DCNN_STRUCT_INIT(dcnn_param);
  DCNN_TRY(dcnn_model_param(m, index, &p, NULL));
  NEED(8, "a moment size");
  const uint64_t count = dcnn__reader_u64(r);
  DCNN_CHECK(count == (uint64_t)p.value->count, DCNN_ERR_BAD_FORMAT,
             "%s: training state: optimizer state of parameter %d (%s) has %llu values, the parameter %lld", r->name,
             (int)index, p.name, (unsigned long long)count, (long long)p.value->count);
  *out = dcnn__calloc(ctx, (size_t)(count ? count : 1), sizeof(float));
  DCNN_CHECK(*out != NULL, DCNN_ERR_OUT_OF_MEMORY, "%s: out of memory", r->name);
  return dcnn__reader_floats(r, *out, (int64_t)count, "optimizer state");
}

static dcnn_status read_adversarial(dcnn_reader *r, staged *s) {
  NEED(4, "the adversarial-training flag");
  const uint32_t on = dcnn__reader_u32(r);
  DCNN_CHECK(on <= 1, DCNN_ERR_BAD_FORMAT, "%s: training state: bad adversarial-training flag", r->name);
  if (!on) return DCNN_OK;
  NEED(4 + 4 + 4 + 4 + 4 + 8 + 8, "the adversarial-training settings");
  s->attack.kind = (dcnn_attack_kind)dcnn__reader_u32(r);
  s->attack.epsilon = dcnn__reader_f32(r);
  s->attack.step = dcnn__reader_f32(r);
  s->attack.iterations = (int32_t)dcnn__reader_u32(r);
  s->attack.random_start = (int32_t)dcnn__reader_u32(r);
  s->attack.seed = dcnn__reader_u64(r);
  s->adversarial_ratio = dcnn__reader_f64(r);
  DCNN_CHECK(s->adversarial_ratio > 0 && s->adversarial_ratio <= 1, DCNN_ERR_BAD_FORMAT,
             "%s: training state: adversarial ratio %g outside (0, 1]", r->name, s->adversarial_ratio);
  dcnn_status status = dcnn__attack_validate(r->name, &s->attack);
  if (status != DCNN_OK) return dcnn__wrap_error(DCNN_ERR_BAD_FORMAT, "training state");
  return DCNN_OK;
}

static dcnn_status read_state(dcnn_reader *r, dcnn_trainer *t, staged *s) {
  NEED(4 + 16 + 4, "the training state header");
  const uint32_t version = dcnn__reader_u32(r);
  DCNN_CHECK(version >= 1 && version <= STATE_VERSION, DCNN_ERR_UNSUPPORTED,
             "%s: training state version %u (this library reads 1 to %u)", r->name, (unsigned)version,
             (unsigned)STATE_VERSION);
  s->model_seed = dcnn__reader_u64(r);
  s->model_steps = (int64_t)dcnn__reader_u64(r);
  DCNN_CHECK(s->model_steps >= 0, DCNN_ERR_BAD_FORMAT, "%s: training state: negative step count", r->name);
  DCNN_CHECK(dcnn__reader_u32(r) == TRAIN_OPTIONS, DCNN_ERR_BAD_FORMAT, "%s: training state: wrong option count",
             r->name);
  NEED(8 * TRAIN_OPTIONS + 4, "trainer options");
  for (int i = 0; i < TRAIN_OPTIONS; ++i) s->options[i] = dcnn__reader_f64(r);
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
    DCNN_CHECK(h->epoch == e + 1 && h->epochs >= h->epoch && h->epochs <= HISTORY_LIMIT && h->steps >= 0,
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
  const uint64_t best_floats = dcnn__reader_u64(r);
  const int64_t model_floats = dcnn_model_param_count(t->model, DCNN_PARAM_TRAINABLE | DCNN_PARAM_BUFFER);
  DCNN_CHECK(best_floats == 0 || best_floats == (uint64_t)model_floats, DCNN_ERR_BAD_FORMAT,
             "%s: training state: best weights of %llu values for a model of %lld", r->name,
             (unsigned long long)best_floats, (long long)model_floats);
  if (best_floats) {
    s->best_floats = (int64_t)best_floats;
    s->best = dcnn__calloc(t->ctx, (size_t)best_floats, sizeof(float));
    DCNN_CHECK(s->best != NULL, DCNN_ERR_OUT_OF_MEMORY, "%s: out of memory", r->name);
    DCNN_TRY(dcnn__reader_floats(r, s->best, s->best_floats, "best weights"));
  }
  NEED(4 + 24 + 4 + 8 + 4, "the optimizer state");
  s->optimizer_kind = dcnn__reader_u32(r);
  for (int k = 0; k < 6; ++k) s->hyper[k] = dcnn__reader_f32(r);
  s->nesterov = dcnn__reader_u32(r);
  s->optimizer_steps = (int64_t)dcnn__reader_u64(r);
  s->param_count = (int32_t)dcnn__reader_u32(r);
  const char *names[2] = {"SGD", "Adam"};
  DCNN_CHECK(s->optimizer_kind <= OPTIMIZER_ADAM, DCNN_ERR_BAD_FORMAT, "%s: training state: unknown optimizer %u",
             r->name, (unsigned)s->optimizer_kind);
  DCNN_CHECK(s->optimizer_kind == (uint32_t)t->optimizer->kind, DCNN_ERR_INVALID_ARGUMENT,
             "%s: the checkpoint was trained with %s, this trainer's optimizer is %s", r->name,
             names[s->optimizer_kind], names[t->optimizer->kind]);
  for (int k = 0; k < 6; ++k)
    DCNN_CHECK(isfinite(s->hyper[k]) && s->hyper[k] >= 0, DCNN_ERR_BAD_FORMAT,
               "%s: training state: optimizer hyperparameter %d is invalid", r->name, k);
  DCNN_CHECK(s->hyper[0] > 0 && s->optimizer_steps >= 0 && s->nesterov <= 1, DCNN_ERR_BAD_FORMAT,
             "%s: training state: optimizer state is invalid", r->name);
  DCNN_CHECK(s->param_count == 0 || s->param_count == dcnn_model_param_tensor_count(t->model), DCNN_ERR_BAD_FORMAT,
             "%s: training state: optimizer state for %d parameters, the model has %d", r->name, (int)s->param_count,
             (int)dcnn_model_param_tensor_count(t->model));
  s->moments = dcnn__calloc(t->ctx, (size_t)(2 * s->param_count + 1), sizeof *s->moments);
  DCNN_CHECK(s->moments != NULL, DCNN_ERR_OUT_OF_MEMORY, "%s: out of memory", r->name);
  for (int32_t i = 0; i < s->param_count; ++i) {
    NEED(4, "optimizer state flags");
    const uint32_t flags = dcnn__reader_u32(r);
    DCNN_CHECK(flags <= 3, DCNN_ERR_BAD_FORMAT, "%s: training state: bad optimizer flags", r->name);
    if (flags & 1) DCNN_TRY(read_moment(r, t->ctx, t->model, i, &s->moments[2 * i]));
    if (flags & 2) DCNN_TRY(read_moment(r, t->ctx, t->model, i, &s->moments[2 * i + 1]));
  }
  NEED(4, "the schedule state");
  s->schedule_kind = dcnn__reader_u32(r);
  DCNN_CHECK(s->schedule_kind <= 3, DCNN_ERR_BAD_FORMAT, "%s: training state: unknown schedule", r->name);
  DCNN_CHECK((s->schedule_kind == 0) == (t->schedule == NULL) &&
                 (!t->schedule || s->schedule_kind == 1u + (uint32_t)t->schedule->kind),
             DCNN_ERR_INVALID_ARGUMENT, "%s: the checkpoint's learning-rate schedule differs from this trainer's",
             r->name);
  if (s->schedule_kind) {
    NEED(20 + 16, "the schedule state");
    for (int k = 0; k < 5; ++k) s->schedule_values[k] = dcnn__reader_f32(r);
    for (int k = 0; k < 4; ++k) s->schedule_ints[k] = dcnn__reader_u32(r);
  }
  if (version >= 2) DCNN_TRY(read_adversarial(r, s));
  DCNN_CHECK(r->at == r->size, DCNN_ERR_BAD_FORMAT, "%s: training state: %llu unexpected bytes at its end", r->name,
             (unsigned long long)(r->size - r->at));
  return DCNN_OK;
}

/* ---- committing: everything that can fail happens before the trainer changes ---- */

/* What the commit needs, allocated beforehand. */
typedef struct prepared {
  dcnn_epoch_stats *history;
  float *best;
  dcnn_optimizer fresh; /* the optimizer's new per-parameter state (bound when the checkpoint's was) */
} prepared;

static void prepared_free(dcnn_trainer *t, prepared *p) {
  dcnn__release(t->ctx, p->history);
  dcnn__release(t->ctx, p->best);
  if (p->fresh.model) dcnn__optimizer_release(&p->fresh);
}

static dcnn_status prepare_state(dcnn_trainer *t, const staged *s, prepared *p) {
  memset(p, 0, sizeof *p);
  p->history = dcnn__calloc(t->ctx, (size_t)(s->epochs_done ? s->epochs_done : 1), sizeof *p->history);
  p->best = s->best ? dcnn__alloc(t->ctx, (size_t)s->best_floats * sizeof(float)) : NULL;
  if (!p->history || (s->best && !p->best)) return dcnn__fail(DCNN_ERR_OUT_OF_MEMORY, "dcnn_trainer_resume: out of memory");
  if (s->param_count) {
    p->fresh = *t->optimizer;
    p->fresh.first = p->fresh.second = NULL;
    p->fresh.buffers = NULL;
    p->fresh.param_count = 0;
    p->fresh.model = NULL;
    p->fresh.momentum = s->hyper[1]; /* decides whether SGD keeps a velocity */
    DCNN_TRY(dcnn__optimizer_bind(&p->fresh, t->model)); /* releases what it allocated on failure */
    for (int32_t i = 0; i < s->param_count; ++i)
      for (int k = 0; k < 2; ++k) {
        dcnn_tensor *target = k ? p->fresh.second[i] : p->fresh.first[i];
        const float *values = s->moments[2 * i + k];
        if (target && values) memcpy(target->data, values, (size_t)target->count * sizeof(float));
        else if (target) memset(target->data, 0, (size_t)target->count * sizeof(float));
      }
  }
  return DCNN_OK;
}

/* Commits a fully checked and prepared state; cannot fail. Takes the
 * prepared allocations (`p` is left empty). */
static void commit_state(dcnn_trainer *t, const staged *s, prepared *p) {
  dcnn_optimizer *o = t->optimizer;
  dcnn__optimizer_release(o);
  if (s->param_count) {
    o->first = p->fresh.first;
    o->second = p->fresh.second;
    o->buffers = p->fresh.buffers;
    o->buffer_floats = p->fresh.buffer_floats;
    o->param_count = p->fresh.param_count;
    o->model = p->fresh.model;
    p->fresh.model = NULL;
  }
  o->learning_rate = s->hyper[0];
  o->momentum = s->hyper[1];
  o->beta1 = s->hyper[2];
  o->beta2 = s->hyper[3];
  o->epsilon = s->hyper[4];
  o->weight_decay = s->hyper[5];
  o->nesterov = (int)s->nesterov;
  o->steps = s->optimizer_steps;
  t->model->seed = s->model_seed;
  t->model->steps = s->model_steps;
  memcpy(p->history, s->history, (size_t)s->epochs_done * sizeof *p->history);
  dcnn__release(t->ctx, t->history);
  t->history = p->history;
  p->history = NULL;
  t->history_capacity = s->epochs_done ? s->epochs_done : 1;
  t->epochs_done = s->epochs_done;
  dcnn__release(t->ctx, t->best);
  t->best = p->best;
  p->best = NULL;
  t->best_floats = s->best ? s->best_floats : 0;
  if (t->best) memcpy(t->best, s->best, (size_t)s->best_floats * sizeof(float));
  t->best_value = s->best_value;
  t->best_epoch = s->best_epoch;
  t->restored_epoch = s->restored_epoch;
  t->since_best = s->since_best;
  const double progress = t->options[DCNN_TRAIN_PROGRESS];
  memcpy(t->options, s->options, sizeof t->options);
  t->options[DCNN_TRAIN_PROGRESS] = progress;
  /* Continue the interrupted run: as many epochs as it had left. */
  const int32_t planned = s->epochs_done ? s->history[s->epochs_done - 1].epochs : (int32_t)s->options[DCNN_TRAIN_EPOCHS];
  t->options[DCNN_TRAIN_EPOCHS] = planned > s->epochs_done ? planned - s->epochs_done : 1;
  t->attack = s->attack;
  t->adversarial_ratio = s->adversarial_ratio;
  if (t->schedule) {
    dcnn_schedule *sc = t->schedule;
    sc->base = s->schedule_values[0];
    sc->minimum = s->schedule_values[1];
    sc->factor = s->schedule_values[2];
    sc->current = s->schedule_values[3];
    sc->best = s->schedule_values[4];
    sc->period = (int32_t)s->schedule_ints[0];
    sc->maximize = (int)s->schedule_ints[1];
    sc->since_best = (int32_t)s->schedule_ints[2];
    sc->seen = (int)s->schedule_ints[3];
  }
}

/* Gives `saved` every metadata entry of `model` that it lacks, so that
 * swapping the two models' metadata afterwards equals setting each of
 * saved's entries on `model`; only `saved` changes, so a failure here
 * leaves `model` as it was. */
static dcnn_status merge_metadata(dcnn_model *saved, const dcnn_model *model) {
  for (int32_t i = 0; i < model->metadata_count; ++i)
    if (!dcnn_model_metadata(saved, model->metadata[i].key))
      DCNN_TRY(dcnn_model_set_metadata(saved, model->metadata[i].key, model->metadata[i].value));
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
  prepared p;
  memset(&p, 0, sizeof p);
  dcnn_status status = read_state(&r, t, &s);
  if (status == DCNN_OK) status = prepare_state(t, &s, &p);
  if (status == DCNN_OK && saved) status = merge_metadata(saved, t->model);
  if (status == DCNN_OK) {
    commit_state(t, &s, &p);
    if (saved) {
      dcnn_meta_entry *entries = t->model->metadata;
      const int32_t count = t->model->metadata_count;
      t->model->metadata = saved->metadata;
      t->model->metadata_count = saved->metadata_count;
      saved->metadata = entries;
      saved->metadata_count = count;
      for (int32_t i = 0; i < saved->param_total; ++i) {
        dcnn_param from = DCNN_STRUCT_INIT(dcnn_param), to = DCNN_STRUCT_INIT(dcnn_param);
        if (dcnn_model_param(saved, i, &from, NULL) == DCNN_OK && dcnn_model_param(t->model, i, &to, NULL) == DCNN_OK)
          memcpy(to.value->data, from.value->data, (size_t)from.value->count * sizeof(float));
      }
    }
  }
  prepared_free(t, &p);
  staged_free(t->ctx, &s);
  return status;
}

dcnn_status dcnn__trainer_read_state(dcnn_trainer *t, const char *name, const dcnn_bytes *state) {
  return read_and_apply(t, name, state, NULL);
}

/* ---- public API ---- */

dcnn_status dcnn_trainer_save_checkpoint(const dcnn_trainer *t, const char *path) {
  DCNN_CHECK_ARG(t);
  DCNN_CHECK_ARG(path);
  dcnn_bytes state = {0}, file = {0};
  dcnn__trainer_write_state(t, &state);
  dcnn_status status = dcnn__model_encode(t->model, 0, &state, &file);
  if (status == DCNN_OK) status = dcnn__write_file_atomic(path, file.data, file.size);
  dcnn__bytes_free(&state);
  dcnn__bytes_free(&file);
  return status;
}

/* Whether two models have the same architecture text. */
static dcnn_status same_architecture(const char *path, const dcnn_model *a, const dcnn_model *b) {
  dcnn_bytes x = {0}, y = {0};
  dcnn_status status = dcnn__architecture_write(a, &x);
  if (status == DCNN_OK) status = dcnn__architecture_write(b, &y);
  if (status == DCNN_OK && (x.failed || y.failed)) status = dcnn__fail(DCNN_ERR_OUT_OF_MEMORY, "out of memory");
  if (status == DCNN_OK && (x.size != y.size || memcmp(x.data, y.data, x.size) != 0))
    status = dcnn__fail(DCNN_ERR_SHAPE_MISMATCH, "%s: the checkpoint's architecture differs from the trainer's model",
                        path);
  dcnn__bytes_free(&x);
  dcnn__bytes_free(&y);
  return status;
}

dcnn_status dcnn_trainer_resume(dcnn_trainer *t, const char *path) {
  DCNN_CHECK_ARG(t);
  DCNN_CHECK_ARG(path);
  uint8_t *data = NULL;
  uint64_t size = 0;
  DCNN_TRY(dcnn__read_file(path, &data, &size));
  dcnn_model *saved = NULL;
  dcnn_model_state state = {NULL, NULL, 0};
  /* In the model's context, like the model whose metadata it will swap with. */
  dcnn_status status = dcnn__model_decode(t->model->ctx, path, data, size, &saved, &state);
  free(data);
  if (status == DCNN_OK && state.size == 0)
    status = dcnn__fail(DCNN_ERR_BAD_FORMAT, "%s: a model file without training state, not a checkpoint", path);
  if (status == DCNN_OK) status = same_architecture(path, saved, t->model);
  const dcnn_bytes view = {state.data, (size_t)state.size, (size_t)state.size, 0}; /* read only */
  if (status == DCNN_OK) status = read_and_apply(t, path, &view, saved);
  dcnn__model_state_free(&state);
  dcnn_model_destroy(saved);
  return status;
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
