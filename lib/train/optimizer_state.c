/* The optimizer's checkpoint state: hyperparameters, step count and moments,
 * written and read next to the optimizer; checkpoint.c only frames it. */
#include <math.h>
#include <string.h>

#include "train_internal.h"

void dcnn__optimizer_save_state(const dcnn_optimizer *o, dcnn_bytes *b) {
  dcnn__bytes_u32(b, (uint32_t)o->kind);
  const float hyper[6] = {o->learning_rate, o->momentum, o->beta1, o->beta2, o->epsilon, o->weight_decay};
  for (int k = 0; k < 6; ++k) dcnn__bytes_f32(b, hyper[k]);
  dcnn__bytes_u32(b, (uint32_t)o->nesterov);
  dcnn__bytes_u64(b, (uint64_t)o->steps);
  dcnn__bytes_u32(b, o->model_id ? (uint32_t)o->param_count : 0);
  for (int32_t i = 0; o->model_id && i < o->param_count; ++i) {
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
}

#define NEED(bytes, what) DCNN_TRY(dcnn__reader_need(r, (bytes), (what)))

static dcnn_status read_moment(dcnn_reader *r, dcnn_context *ctx, dcnn_model *m, int32_t index, int second_moment,
                               float **out) {
  dcnn_param p = DCNN_STRUCT_INIT(dcnn_param);
  DCNN_TRY(dcnn_model_param(m, index, &p, NULL));
  NEED(8, "a moment size");
  const uint64_t count = dcnn__reader_u64(r);
  DCNN_CHECK(count == (uint64_t)p.value->count, DCNN_ERR_BAD_FORMAT,
             "%s: training state: optimizer state of parameter %d (%s) has %llu values, the parameter %lld", r->name,
             (int)index, p.name, (unsigned long long)count, (long long)p.value->count);
  *out = dcnn__calloc(ctx, (size_t)(count ? count : 1), sizeof(float));
  DCNN_CHECK(*out != NULL, DCNN_ERR_OUT_OF_MEMORY, "%s: out of memory", r->name);
  DCNN_TRY(dcnn__reader_floats(r, *out, (int64_t)count, "optimizer state"));
  if (second_moment) /* Adam's mean of squared gradients: a negative one makes its step's square root NaN */
    for (uint64_t k = 0; k < count; ++k)
      DCNN_CHECK((*out)[k] >= 0.0f, DCNN_ERR_BAD_FORMAT,
                 "%s: training state: Adam's second moment of parameter %d (%s) holds the negative value %g", r->name,
                 (int)index, p.name, (double)(*out)[k]);
  return DCNN_OK;
}

/* Reads and checks the state into `s` (moments: (param_count, 2), NULL where absent). */
static dcnn_status read_state(dcnn_reader *r, const dcnn_optimizer *o, dcnn_model *m, dcnn__optimizer_staged *s) {
  NEED(4 + 24 + 4 + 8 + 4, "the optimizer state");
  s->kind = dcnn__reader_u32(r);
  for (int k = 0; k < 6; ++k) s->hyper[k] = dcnn__reader_f32(r);
  s->nesterov = dcnn__reader_u32(r);
  s->steps = (int64_t)dcnn__reader_u64(r);
  s->param_count = (int32_t)dcnn__reader_u32(r);
  const char *names[2] = {"SGD", "Adam"};
  DCNN_CHECK(s->kind <= OPTIMIZER_ADAM, DCNN_ERR_BAD_FORMAT, "%s: training state: unknown optimizer %u", r->name,
             (unsigned)s->kind);
  DCNN_CHECK(s->kind == (uint32_t)o->kind, DCNN_ERR_INVALID_ARGUMENT,
             "%s: the checkpoint was trained with %s, this trainer's optimizer is %s", r->name, names[s->kind],
             names[o->kind]);
  for (int k = 0; k < 6; ++k)
    DCNN_CHECK(isfinite(s->hyper[k]) && s->hyper[k] >= 0, DCNN_ERR_BAD_FORMAT,
               "%s: training state: optimizer hyperparameter %d is invalid", r->name, k);
  /* The learning rate (hyper[0]) may be 0: a schedule's, at the end of its decay. The
   * rest as the creators check them (optimizer.c): a momentum of 1 or more grows the
   * velocity instead of decaying it, a beta of 1 or more turns Adam's step around or
   * makes it infinite, an epsilon of 0 divides 0 by 0. */
  if (s->kind == OPTIMIZER_SGD)
    DCNN_CHECK(s->hyper[1] < 1.0f && s->nesterov <= 1 && (!s->nesterov || s->hyper[1] > 0.0f), DCNN_ERR_BAD_FORMAT,
               "%s: training state: SGD momentum %g%s", r->name, (double)s->hyper[1],
               s->nesterov ? " (Nesterov)" : "");
  else
    DCNN_CHECK(s->hyper[2] < 1.0f && s->hyper[3] < 1.0f && s->hyper[4] > 0.0f && s->nesterov == 0,
               DCNN_ERR_BAD_FORMAT, "%s: training state: Adam beta1 %g, beta2 %g, epsilon %g", r->name,
               (double)s->hyper[2], (double)s->hyper[3], (double)s->hyper[4]);
  DCNN_CHECK(s->steps >= 0 && s->steps <= DCNN__COUNTER_LIMIT, DCNN_ERR_BAD_FORMAT,
             "%s: training state: optimizer step count %lld is outside 0..2^53", r->name, (long long)s->steps);
  DCNN_CHECK(s->param_count == 0 || s->param_count == dcnn_model_param_tensor_count(m), DCNN_ERR_BAD_FORMAT,
             "%s: training state: optimizer state for %d parameters, the model has %d", r->name, (int)s->param_count,
             (int)dcnn_model_param_tensor_count(m));
  s->moments = dcnn__calloc(o->ctx, (size_t)(2 * s->param_count + 1), sizeof *s->moments);
  DCNN_CHECK(s->moments != NULL, DCNN_ERR_OUT_OF_MEMORY, "%s: out of memory", r->name);
  for (int32_t i = 0; i < s->param_count; ++i) {
    NEED(4, "optimizer state flags");
    const uint32_t flags = dcnn__reader_u32(r);
    DCNN_CHECK(flags <= 3, DCNN_ERR_BAD_FORMAT, "%s: training state: bad optimizer flags", r->name);
    if (flags & 1) DCNN_TRY(read_moment(r, o->ctx, m, i, 0, &s->moments[2 * i]));
    if (flags & 2) DCNN_TRY(read_moment(r, o->ctx, m, i, s->kind == OPTIMIZER_ADAM, &s->moments[2 * i + 1]));
  }
  return DCNN_OK;
}

/* The optimizer's new per-parameter state, bound to `m` when the checkpoint's was. */
static dcnn_status prepare(const dcnn_optimizer *o, dcnn_model *m, dcnn__optimizer_staged *s) {
  if (!s->param_count) return DCNN_OK;
  s->fresh = *o;
  s->fresh.first = s->fresh.second = NULL;
  s->fresh.buffers = NULL;
  s->fresh.param_count = 0;
  s->fresh.model_id = 0;
  s->fresh.momentum = s->hyper[1]; /* decides whether SGD keeps a velocity */
  DCNN_TRY(dcnn__optimizer_bind(&s->fresh, m)); /* releases what it allocated on failure */
  for (int32_t i = 0; i < s->param_count; ++i)
    for (int k = 0; k < 2; ++k) {
      dcnn_tensor *target = k ? s->fresh.second[i] : s->fresh.first[i];
      const float *values = s->moments[2 * i + k];
      if (target && values) memcpy(target->data, values, (size_t)target->count * sizeof(float));
      else if (target) memset(target->data, 0, (size_t)target->count * sizeof(float));
    }
  return DCNN_OK;
}

dcnn_status dcnn__optimizer_load_state(dcnn_reader *r, const dcnn_optimizer *o, dcnn_model *m,
                                       dcnn__optimizer_staged *s) {
  memset(s, 0, sizeof *s);
  DCNN_TRY(read_state(r, o, m, s));
  return prepare(o, m, s);
}

void dcnn__optimizer_staged_free(const dcnn_optimizer *o, dcnn__optimizer_staged *s) {
  for (int32_t i = 0; s->moments && i < 2 * s->param_count; ++i) dcnn__release(o->ctx, s->moments[i]);
  dcnn__release(o->ctx, s->moments);
  s->moments = NULL;
  if (s->fresh.model_id) dcnn__optimizer_release(&s->fresh);
}

void dcnn__optimizer_commit_state(dcnn_optimizer *o, dcnn__optimizer_staged *s) {
  dcnn__optimizer_release(o);
  if (s->param_count) {
    o->first = s->fresh.first;
    o->second = s->fresh.second;
    o->buffers = s->fresh.buffers;
    o->buffer_floats = s->fresh.buffer_floats;
    o->param_count = s->fresh.param_count;
    o->model_id = s->fresh.model_id;
    s->fresh.model_id = 0;
  }
  o->learning_rate = s->hyper[0];
  o->momentum = s->hyper[1];
  o->beta1 = s->hyper[2];
  o->beta2 = s->hyper[3];
  o->epsilon = s->hyper[4];
  o->weight_decay = s->hyper[5];
  o->nesterov = (int)s->nesterov;
  o->steps = s->steps;
}
