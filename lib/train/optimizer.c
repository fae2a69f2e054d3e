/* SGD with momentum (PyTorch form) and Adam (Keras form, decoupled weight decay). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train_internal.h"


static dcnn_status new_optimizer(dcnn_context *ctx, optimizer_kind kind, float lr, float weight_decay,
                                 dcnn_optimizer **out) {
  DCNN_CHECK_ARG(out);
  *out = NULL;
  DCNN_CHECK(lr > 0.0f && isfinite(lr), DCNN_ERR_INVALID_ARGUMENT, "optimizer: learning rate %g must be positive",
             (double)lr);
  DCNN_CHECK(weight_decay >= 0.0f && isfinite(weight_decay), DCNN_ERR_INVALID_ARGUMENT,
             "optimizer: weight decay %g must be >= 0", (double)weight_decay);
  dcnn_optimizer *o = dcnn__calloc(ctx, 1, sizeof *o);
  DCNN_CHECK(o != NULL, DCNN_ERR_OUT_OF_MEMORY, "optimizer: out of memory");
  o->ctx = ctx;
  o->kind = kind;
  o->learning_rate = lr;
  o->weight_decay = weight_decay;
  *out = o;
  return DCNN_OK;
}

dcnn_status dcnn_optimizer_create_sgd(dcnn_context *ctx, float learning_rate, float momentum, int nesterov,
                                      float weight_decay, dcnn_optimizer **out) {
  DCNN_CHECK_ARG(out);
  *out = NULL;
  DCNN_CHECK(momentum >= 0.0f && momentum < 1.0f, DCNN_ERR_INVALID_ARGUMENT,
             "sgd: momentum %g is outside [0, 1)", (double)momentum);
  DCNN_CHECK(!nesterov || momentum > 0.0f, DCNN_ERR_INVALID_ARGUMENT, "sgd: Nesterov momentum needs momentum > 0");
  DCNN_TRY(new_optimizer(ctx, OPTIMIZER_SGD, learning_rate, weight_decay, out));
  (*out)->momentum = momentum;
  (*out)->nesterov = nesterov != 0;
  return DCNN_OK;
}

dcnn_status dcnn_optimizer_create_adam(dcnn_context *ctx, float learning_rate, float beta1, float beta2,
                                       float epsilon, float weight_decay, dcnn_optimizer **out) {
  DCNN_CHECK_ARG(out);
  *out = NULL;
  DCNN_CHECK(beta1 >= 0.0f && beta1 < 1.0f && beta2 >= 0.0f && beta2 < 1.0f, DCNN_ERR_INVALID_ARGUMENT,
             "adam: beta1 (%g) and beta2 (%g) must be in [0, 1)", (double)beta1, (double)beta2);
  DCNN_CHECK(epsilon > 0.0f && isfinite(epsilon), DCNN_ERR_INVALID_ARGUMENT, "adam: epsilon %g must be positive",
             (double)epsilon);
  DCNN_TRY(new_optimizer(ctx, OPTIMIZER_ADAM, learning_rate, weight_decay, out));
  (*out)->beta1 = beta1;
  (*out)->beta2 = beta2;
  (*out)->epsilon = epsilon;
  return DCNN_OK;
}

void dcnn__optimizer_release(dcnn_optimizer *o) {
  for (int32_t i = 0; i < o->param_count; ++i) {
    if (o->first) dcnn_tensor_destroy(o->first[i]);
    if (o->second) dcnn_tensor_destroy(o->second[i]);
  }
  dcnn__release(o->ctx, o->first);
  dcnn__release(o->ctx, o->second);
  dcnn__release(o->ctx, o->buffers);
  dcnn__release(o->ctx, o->params);
  dcnn__release(o->ctx, o->param_layers);
  o->params = NULL;
  o->param_layers = NULL;
  o->generation = 0;
  o->first = o->second = NULL;
  o->buffers = NULL;
  o->buffer_floats = 0;
  o->param_count = 0;
  o->model = NULL;
  o->steps = 0;
}

void dcnn_optimizer_destroy(dcnn_optimizer *o) {
  if (!o) return;
  dcnn__optimizer_release(o);
  dcnn__release(o->ctx, o);
}

dcnn_status dcnn_optimizer_reset(dcnn_optimizer *o) {
  DCNN_CHECK_ARG(o);
  dcnn__optimizer_release(o);
  return DCNN_OK;
}

dcnn_status dcnn_optimizer_set_learning_rate(dcnn_optimizer *o, float learning_rate) {
  DCNN_CHECK_ARG(o);
  DCNN_CHECK(learning_rate > 0.0f && isfinite(learning_rate), DCNN_ERR_INVALID_ARGUMENT,
             "optimizer: learning rate %g must be positive", (double)learning_rate);
  o->learning_rate = learning_rate;
  return DCNN_OK;
}

float dcnn_optimizer_learning_rate(const dcnn_optimizer *o) { return o ? o->learning_rate : 0.0f; }

dcnn_status dcnn__optimizer_bind(dcnn_optimizer *o, dcnn_model *m) {
  /* Before anything can fail: `o` may be a copy of a bound optimizer
   * (checkpoint resume), whose parameter list is not its own. */
  o->params = NULL; /* filled by the first step (refresh_params) */
  o->param_layers = NULL;
  o->generation = 0;
  const int32_t n = dcnn_model_param_tensor_count(m);
  const int64_t buffer_floats = dcnn_model_param_count(m, DCNN_PARAM_BUFFER);
  o->first = dcnn__calloc(o->ctx, (size_t)(n ? n : 1), sizeof *o->first);
  o->second = dcnn__calloc(o->ctx, (size_t)(n ? n : 1), sizeof *o->second);
  o->buffers = dcnn__calloc(o->ctx, (size_t)(buffer_floats ? buffer_floats : 1), sizeof *o->buffers);
  o->buffer_floats = buffer_floats;
  o->param_count = n;
  o->model = m;
  dcnn_status status = (o->first && o->second && o->buffers) ? DCNN_OK
                                                             : dcnn__fail(DCNN_ERR_OUT_OF_MEMORY, "optimizer: out of memory");
  for (int32_t i = 0; status == DCNN_OK && i < n; ++i) {
    dcnn_param p;
    status = dcnn_model_param(m, i, &p, NULL);
    if (status != DCNN_OK || !(p.flags & DCNN_PARAM_TRAINABLE)) continue;
    dcnn_shape shape = dcnn_tensor_shape(p.value);
    if (o->kind == OPTIMIZER_ADAM || o->momentum > 0.0f) status = dcnn_tensor_create(o->ctx, &shape, &o->first[i]);
    if (status == DCNN_OK && o->kind == OPTIMIZER_ADAM) status = dcnn_tensor_create(o->ctx, &shape, &o->second[i]);
  }
  if (status != DCNN_OK) dcnn__optimizer_release(o);
  return status;
}

/* Makes o->params current: the fast path is two comparisons; after the
 * model's layers changed (or on the first step after binding) it recounts
 * the parameters through the layers and refuses a model whose parameters
 * are no longer those the optimizer's state was made for. */
static dcnn_status refresh_params(dcnn_optimizer *o, dcnn_model *m) {
  DCNN_CHECK(o->model == m, DCNN_ERR_INVALID_STATE,
             "optimizer: bound to another model (call dcnn_optimizer_reset to reuse it)");
  if (o->params && o->generation == m->generation) return DCNN_OK;
  DCNN_CHECK(o->param_count == dcnn_model_param_tensor_count(m) &&
                 o->buffer_floats == dcnn_model_param_count(m, DCNN_PARAM_BUFFER),
             DCNN_ERR_INVALID_STATE, "optimizer: the model's parameters changed since the first step (%d then, %d now)",
             (int)o->param_count, (int)dcnn_model_param_tensor_count(m));
  if (!o->params) {
    const size_t n = (size_t)(o->param_count ? o->param_count : 1);
    dcnn_param *params = dcnn__calloc(o->ctx, n, sizeof *params);
    int32_t *layers = dcnn__calloc(o->ctx, n, sizeof *layers);
    if (!params || !layers) {
      dcnn__release(o->ctx, params);
      dcnn__release(o->ctx, layers);
      return dcnn__fail(DCNN_ERR_OUT_OF_MEMORY, "optimizer: out of memory");
    }
    o->params = params;
    o->param_layers = layers;
  }
  for (int32_t i = 0; i < o->param_count; ++i) {
    dcnn_status status = dcnn_model_param(m, i, &o->params[i], &o->param_layers[i]);
    if (status == DCNN_OK && o->first[i] && o->first[i]->count != o->params[i].value->count)
      status = dcnn__fail(DCNN_ERR_INVALID_STATE, "optimizer: parameter %d of the model changed size since the "
                          "first step", (int)i);
    if (status != DCNN_OK) {
      o->generation = m->generation - 1; /* not current: the next step looks again */
      return status;
    }
  }
  o->generation = m->generation;
  return DCNN_OK;
}

/* Copies the model's buffers into (save) or out of (!save) the optimizer's copy. */
static void copy_buffers(dcnn_optimizer *o, int save) {
  float *at = o->buffers;
  for (int32_t i = 0; i < o->param_count; ++i) {
    const dcnn_param *p = &o->params[i];
    if (!(p->flags & DCNN_PARAM_BUFFER)) continue;
    const size_t bytes = (size_t)p->value->count * sizeof(float);
    if (save) memcpy(at, p->value->data, bytes);
    else memcpy(p->value->data, at, bytes);
    at += p->value->count;
  }
}

dcnn_status dcnn__optimizer_save_buffers(dcnn_optimizer *o, dcnn_model *m) {
  if (!o->model) DCNN_TRY(dcnn__optimizer_bind(o, m));
  DCNN_TRY(refresh_params(o, m));
  copy_buffers(o, 1);
  return DCNN_OK;
}

void dcnn__optimizer_restore_buffers(dcnn_optimizer *o, dcnn_model *m) {
  if (o->buffers && refresh_params(o, m) == DCNN_OK) copy_buffers(o, 0);
}

/* Non-finite values are refused before anything is written: a first,
 * read-only pass computes every new value (weights and optimizer state) and
 * checks it is finite, a second pass writes the same values. So the weights
 * and moments need no copy to stay bit-identical to the last good step
 * (only the buffers, which the forward pass before the update changes, are
 * copied, by dcnn_model_train_step); the extra pass reads the
 * parameters, gradients and moments once more, which is small beside the
 * forward and backward passes (it is O(parameters), they are
 * O(parameters x batch x positions)). `commit` selects the pass; the
 * check pass returns how many values would not be finite (0 when writing). */
static int64_t sgd_update(const dcnn_optimizer *o, float *w, const float *g, float *v, int64_t n, float decay,
                          int32_t threads, int commit) {
  const float lr = o->learning_rate, mu = o->momentum;
  int64_t bad = 0;
#pragma omp parallel for num_threads(threads) if (threads > 1 && n > 65536) schedule(static) reduction(+ : bad)
  for (int64_t i = 0; i < n; ++i) {
    const float grad = g[i] + decay * w[i];
    const float velocity = v ? mu * v[i] + grad : grad;
    const float next = w[i] - lr * (v && o->nesterov ? grad + mu * velocity : velocity);
    if (commit) {
      if (v) v[i] = velocity;
      w[i] = next;
    } else {
      bad += !isfinite(next) || !isfinite(velocity);
    }
  }
  return bad;
}

static int64_t adam_update(const dcnn_optimizer *o, int64_t step, float *w, const float *g, float *m1, float *m2,
                           int64_t n, float decay, int32_t threads, int commit) {
  const double t = (double)step;
  const float lr_t = (float)(o->learning_rate * sqrt(1.0 - pow(o->beta2, t)) / (1.0 - pow(o->beta1, t)));
  const float b1 = o->beta1, b2 = o->beta2, eps = o->epsilon, shrink = 1.0f - o->learning_rate * decay;
  int64_t bad = 0;
#pragma omp parallel for num_threads(threads) if (threads > 1 && n > 65536) schedule(static) reduction(+ : bad)
  for (int64_t i = 0; i < n; ++i) {
    const float first = b1 * m1[i] + (1.0f - b1) * g[i];
    const float second = b2 * m2[i] + (1.0f - b2) * g[i] * g[i];
    const float next = w[i] * shrink - lr_t * first / (sqrtf(second) + eps);
    if (commit) {
      m1[i] = first;
      m2[i] = second;
      w[i] = next;
    } else {
      bad += !isfinite(next) || !isfinite(first) || !isfinite(second);
    }
  }
  return bad;
}

/* Runs one pass of the update over every trainable parameter (see above);
 * in the check pass, stops at the first parameter with non-finite results. */
static dcnn_status update_pass(dcnn_optimizer *o, dcnn_model *m, int commit, int buffers_saved) {
  const int32_t threads = dcnn_context_threads(m->ctx);
  /* What a refused step leaves: dcnn_optimizer_step cannot undo the forward
   * pass the caller ran before it. */
  const char *kept = buffers_saved ? "the weights and running statistics are unchanged"
                                   : "the weights and optimizer state are unchanged (running statistics updated by "
                                     "your forward pass are not restored)";
  for (int32_t i = 0; i < o->param_count; ++i) {
    const dcnn_param *p = &o->params[i];
    const int32_t layer = o->param_layers[i];
    if (!commit && (p->flags & DCNN_PARAM_BUFFER)) {
      /* Running statistics come from the forward pass just run. */
      int64_t bad = 0;
      for (int64_t k = 0; k < p->value->count; ++k) bad += !isfinite(p->value->data[k]);
      DCNN_CHECK(bad == 0, DCNN_ERR_NUMERIC,
                 "optimizer: step %lld made %lld values of buffer %d ('%s' of layer %d, %s) infinite or NaN: the "
                 "step was refused and %s; training is diverging, try a smaller learning rate",
                 (long long)o->steps + 1, (long long)bad, (int)i, p->name ? p->name : "?", (int)layer,
                 dcnn_layer_type(m->layers[layer]), kept);
    }
    if (!(p->flags & DCNN_PARAM_TRAINABLE) || !p->grad) continue;
    const float decay = (p->flags & DCNN_PARAM_NO_DECAY) ? 0.0f : o->weight_decay;
    float *first = o->first[i] ? o->first[i]->data : NULL;
    const int64_t bad =
        o->kind == OPTIMIZER_SGD
            ? sgd_update(o, p->value->data, p->grad->data, first, p->value->count, decay, threads, commit)
            : adam_update(o, o->steps + 1, p->value->data, p->grad->data, first, o->second[i]->data,
                          p->value->count, decay, threads, commit);
    DCNN_CHECK(bad == 0, DCNN_ERR_NUMERIC,
               "optimizer: step %lld would make %lld values of parameter %d ('%s' of layer %d, %s) infinite or NaN "
               "(learning rate %g): the step was refused and %s; training is diverging, try a smaller learning rate",
               (long long)o->steps + 1, (long long)bad, (int)i, p->name ? p->name : "?", (int)layer,
               dcnn_layer_type(m->layers[layer]), (double)o->learning_rate, kept);
  }
  return DCNN_OK;
}

/* Binds and updates only: the buffers were changed by the caller's own
 * forward pass, before this call, so there is nothing to save or restore. */
dcnn_status dcnn_optimizer_step(dcnn_optimizer *o, dcnn_model *m) {
  DCNN_CHECK_ARG(o);
  DCNN_CHECK_ARG(m);
  if (!o->model) DCNN_TRY(dcnn__optimizer_bind(o, m));
  return dcnn__optimizer_update(o, m, 0);
}

dcnn_status dcnn__optimizer_update(dcnn_optimizer *o, dcnn_model *m, int buffers_saved) {
  DCNN_TRY(refresh_params(o, m));
  dcnn_status status = update_pass(o, m, 0, buffers_saved);
  if (status != DCNN_OK) {
    if (buffers_saved) copy_buffers(o, 0);
    return status;
  }
  DCNN_TRY(update_pass(o, m, 1, buffers_saved));
  o->steps++;
  return DCNN_OK;
}
