/* Exponential moving average of the weights (issue #19), kept by the trainer:
 * after every step, v <- d v + (1 - d) w for every parameter and buffer
 * (batch-norm running statistics too, as timm's ModelEmaV2 does), with
 * d = min(decay, (1 + u) / (10 + u)) after u earlier updates, so that a short
 * run is not dominated by the initial weights. Validation, the best weights
 * and best.dcnn use the averaged weights; checkpoints keep both. */
#include <string.h>

#include "train_internal.h"

int dcnn__trainer_ema_on(const dcnn_trainer *t) { return t->options[DCNN_TRAIN_EMA_DECAY] > 0; }

static int64_t averaged_floats(const dcnn_trainer *t) {
  return dcnn_model_param_count(t->model, DCNN_PARAM_TRAINABLE | DCNN_PARAM_BUFFER);
}

/* Calls fn(model values, ema values, count) for every parameter and buffer
 * tensor in order; floats is the model's averaged_floats(), counted once by
 * the caller (a count walks every parameter slot). */
static void for_each_tensor(dcnn_trainer *t, int64_t floats, void (*fn)(float *w, float *v, int64_t n, float d),
                            float d) {
  /* an average kept for another parameter count (layers added since) is never walked */
  if (!t->ema.values || t->ema.floats != floats) return;
  float *v = t->ema.values;
  dcnn__error_saved saved; /* a custom layer's failing param slot is skipped, keeping the caller's message */
  dcnn__error_save(&saved);
  for (int32_t i = 0; i < dcnn_model_param_tensor_count(t->model); ++i) {
    dcnn_param p = DCNN_STRUCT_INIT(dcnn_param);
    if (dcnn_model_param(t->model, i, &p, NULL) != DCNN_OK) {
      dcnn__error_restore(&saved);
      continue;
    }
    /* the buffers hold TRAINABLE | BUFFER tensors only (dcnn_model_param_count) */
    if (!(p.flags & (DCNN_PARAM_TRAINABLE | DCNN_PARAM_BUFFER))) continue;
    const int64_t n = dcnn_tensor_count(p.value);
    fn(dcnn_tensor_data(p.value), v, n, d);
    v += n;
  }
}

static void blend(float *w, float *v, int64_t n, float d) {
  const float keep = d, take = 1.0f - d;
  for (int64_t i = 0; i < n; ++i) v[i] = keep * v[i] + take * w[i];
}

static void exchange(float *w, float *v, int64_t n, float d) {
  (void)d;
  for (int64_t i = 0; i < n; ++i) {
    const float x = w[i];
    w[i] = v[i];
    v[i] = x;
  }
}

static void put(float *w, float *v, int64_t n, float d) {
  (void)d;
  memcpy(w, v, (size_t)n * sizeof(float));
}

static void take(float *w, float *v, int64_t n, float d) {
  (void)d;
  memcpy(v, w, (size_t)n * sizeof(float));
}

dcnn_status dcnn__trainer_ema_reserve(dcnn_trainer *t) {
  if (!dcnn__trainer_ema_on(t)) return DCNN_OK;
  const int64_t floats = averaged_floats(t);
  if ((t->ema.values && t->ema.floats == floats) || (t->ema.pending && t->ema.pending_floats == floats)) return DCNN_OK;
  dcnn__release(t->ctx, t->ema.pending);
  t->ema.pending = dcnn__alloc(t->ctx, (size_t)(floats ? floats : 1) * sizeof(float));
  t->ema.pending_floats = t->ema.pending ? floats : 0;
  DCNN_CHECK(t->ema.pending != NULL, DCNN_ERR_OUT_OF_MEMORY, "trainer: out of memory for the weight average");
  return DCNN_OK;
}

dcnn_status dcnn__trainer_ema_update(dcnn_trainer *t) {
  if (!dcnn__trainer_ema_on(t)) return DCNN_OK;
  const int64_t floats = averaged_floats(t), step = dcnn_model_step_count(t->model);
  /* Steps taken without the average (a fit with it off, train steps of the caller's) make it stale: blending
   * it in would pull the weights back towards where it was left. */
  const int stale = t->ema.values && t->ema.after_step > 0 && t->ema.after_step != step - 1;
  if (!t->ema.values || t->ema.floats != floats) { /* first step (or the model changed): start at the weights */
    DCNN_TRY(dcnn__trainer_ema_reserve(t)); /* a no-op in a fit, which reserved it before the step */
    dcnn__release(t->ctx, t->ema.values);
    t->ema.values = t->ema.pending;
    t->ema.floats = floats;
    t->ema.updates = 0;
    t->ema.pending = NULL;
    t->ema.pending_floats = 0;
    for_each_tensor(t, floats, take, 0);
  } else if (stale) {
    t->ema.updates = 0;
    for_each_tensor(t, floats, take, 0);
  }
  const double decay = t->options[DCNN_TRAIN_EMA_DECAY], warm = (1.0 + (double)t->ema.updates) / (10.0 + (double)t->ema.updates);
  for_each_tensor(t, floats, blend, (float)(decay < warm ? decay : warm));
  t->ema.updates++;
  t->ema.after_step = step;
  return DCNN_OK;
}

void dcnn__trainer_ema_swap(dcnn_trainer *t) {
  if (dcnn__trainer_ema_on(t) && t->ema.values) for_each_tensor(t, averaged_floats(t), exchange, 0);
}

void dcnn__trainer_ema_apply(dcnn_trainer *t) {
  if (dcnn__trainer_ema_on(t) && t->ema.values) for_each_tensor(t, averaged_floats(t), put, 0);
}

void dcnn__trainer_ema_free(dcnn_trainer *t) {
  dcnn__release(t->ctx, t->ema.values);
  dcnn__release(t->ctx, t->ema.pending);
  memset(&t->ema, 0, sizeof t->ema);
}
