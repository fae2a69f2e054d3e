/* SGD with momentum (PyTorch form) and Adam (Keras form, decoupled weight decay). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/pointwise.h"
#include "train_internal.h"

/* Floats per lane of the update: large enough that a lane outweighs its
 * scheduling, small enough that a few lanes feed both cores. */
#define UPDATE_CHUNK 32768
/* New values proven to stay below this (a margin of 30 under FLT_MAX that
 * float rounding cannot cross) are finite. */
#define SAFE_MAGNITUDE 1e37

typedef struct dcnn__update_chunk {
  int32_t param;
  int64_t begin, count;
  float grad_max, weight_max; /* pre-pass: max |g|, max |w| (+inf: not finite) */
  float bounds[2];            /* write pass: the kernel's bounds of the new state */
  int64_t bad;                /* check pass: values that would not be finite */
} dcnn__update_chunk;

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

dcnn_status dcnn_optimizer_create_sgd(dcnn_context *ctx, float learning_rate, float momentum,
                                      dcnn_momentum_kind kind, float weight_decay, dcnn_optimizer **out) {
  DCNN_CHECK_ARG(out);
  *out = NULL;
  DCNN_CHECK(momentum >= 0.0f && momentum < 1.0f, DCNN_ERR_INVALID_ARGUMENT,
             "sgd: momentum %g is outside [0, 1)", (double)momentum);
  DCNN_CHECK(kind == DCNN_MOMENTUM_CLASSIC || kind == DCNN_MOMENTUM_NESTEROV, DCNN_ERR_INVALID_ARGUMENT,
             "sgd: unknown momentum kind %d", (int)kind);
  const int nesterov = kind == DCNN_MOMENTUM_NESTEROV;
  DCNN_CHECK(!nesterov || momentum > 0.0f, DCNN_ERR_INVALID_ARGUMENT, "sgd: Nesterov momentum needs momentum > 0");
  DCNN_TRY(new_optimizer(ctx, OPTIMIZER_SGD, learning_rate, weight_decay, out));
  (*out)->momentum = momentum;
  (*out)->nesterov = nesterov;
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
  dcnn__release(o->ctx, o->chunks);
  dcnn__release(o->ctx, o->bounds);
  o->chunks = NULL;
  o->chunk_count = 0;
  o->bounds = NULL;
  o->bounded = 0;
  o->params = NULL;
  o->param_layers = NULL;
  o->generation = 0;
  o->first = o->second = NULL;
  o->buffers = NULL;
  o->buffer_floats = 0;
  o->param_count = 0;
  o->model_id = 0;
  o->steps = 0;
}

void dcnn_optimizer_destroy(dcnn_optimizer *o) {
  if (!o) return;
  dcnn__optimizer_release(o);
  dcnn__release(o->ctx, o);
}

dcnn_status dcnn_optimizer_reset(dcnn_optimizer *o) {
  DCNN_CHECK_ARG_AS(o, "optimizer");
  dcnn__optimizer_release(o);
  return DCNN_OK;
}

dcnn_status dcnn_optimizer_set_learning_rate(dcnn_optimizer *o, float learning_rate) {
  DCNN_CHECK_ARG_AS(o, "optimizer");
  DCNN_CHECK(learning_rate > 0.0f && isfinite(learning_rate), DCNN_ERR_INVALID_ARGUMENT,
             "optimizer: learning rate %g must be positive", (double)learning_rate);
  o->learning_rate = learning_rate;
  return DCNN_OK;
}

/* A schedule may decay to 0 (a cosine to its documented minimum of 0, a step
 * decay that underflows): a step at that rate moves no weight, where refusing
 * the rate would end the fit. */
dcnn_status dcnn__optimizer_set_scheduled_rate(dcnn_optimizer *o, float learning_rate) {
  DCNN_CHECK(learning_rate >= 0.0f && isfinite(learning_rate), DCNN_ERR_INVALID_ARGUMENT,
             "optimizer: the schedule's learning rate %g is negative or not finite", (double)learning_rate);
  o->learning_rate = learning_rate;
  return DCNN_OK;
}

float dcnn_optimizer_learning_rate(const dcnn_optimizer *o) { return o ? o->learning_rate : 0.0f; }

dcnn_status dcnn__optimizer_bind(dcnn_optimizer *o, dcnn_model *m) {
  /* Before anything can fail: `o` may be a copy of a bound optimizer
   * (checkpoint resume), whose parameter list is not its own. */
  o->params = NULL; /* filled by the first step (refresh_params) */
  o->param_layers = NULL;
  o->chunks = NULL;
  o->chunk_count = 0;
  o->bounds = NULL;
  o->bounded = 0;
  o->generation = 0;
  const int32_t n = dcnn_model_param_tensor_count(m);
  const int64_t buffer_floats = dcnn_model_param_count(m, DCNN_PARAM_BUFFER);
  o->first = dcnn__calloc(o->ctx, (size_t)(n ? n : 1), sizeof *o->first);
  o->second = dcnn__calloc(o->ctx, (size_t)(n ? n : 1), sizeof *o->second);
  o->buffers = dcnn__calloc(o->ctx, (size_t)(buffer_floats ? buffer_floats : 1), sizeof *o->buffers);
  o->buffer_floats = buffer_floats;
  o->param_count = n;
  o->model_id = m->id;
  dcnn_status status = (o->first && o->second && o->buffers) ? DCNN_OK
                                                             : dcnn__fail(DCNN_ERR_OUT_OF_MEMORY, "optimizer: out of memory");
  for (int32_t i = 0; status == DCNN_OK && i < n; ++i) {
    dcnn_param p = DCNN_STRUCT_INIT(dcnn_param);
    status = dcnn_model_param(m, i, &p, NULL);
    if (status != DCNN_OK || !(p.flags & DCNN_PARAM_TRAINABLE)) continue;
    dcnn_shape shape = dcnn_tensor_shape(p.value);
    if (o->kind == OPTIMIZER_ADAM || o->momentum > 0.0f) status = dcnn_tensor_create(o->ctx, &shape, &o->first[i]);
    if (status == DCNN_OK && o->kind == OPTIMIZER_ADAM) status = dcnn_tensor_create(o->ctx, &shape, &o->second[i]);
  }
  if (status != DCNN_OK) dcnn__optimizer_release(o);
  return status;
}

/* Cuts the trainable parameters into lanes of at most UPDATE_CHUNK floats
 * and forgets the bounds (the parameters may be other tensors now). */
static dcnn_status build_chunks(dcnn_optimizer *o) {
  int64_t count = 0;
  for (int32_t i = 0; i < o->param_count; ++i) {
    const dcnn_param *p = &o->params[i];
    if ((p->flags & DCNN_PARAM_TRAINABLE) && p->grad) count += (p->value->count + UPDATE_CHUNK - 1) / UPDATE_CHUNK;
  }
  DCNN_CHECK(count < INT32_MAX, DCNN_ERR_OUT_OF_MEMORY, "optimizer: %lld lanes are too many", (long long)count);
  dcnn__update_chunk *chunks = dcnn__calloc(o->ctx, (size_t)(count ? count : 1), sizeof *chunks);
  float(*bounds)[2] = dcnn__calloc(o->ctx, (size_t)(o->param_count ? o->param_count : 1), sizeof *bounds);
  if (!chunks || !bounds) {
    dcnn__release(o->ctx, chunks);
    dcnn__release(o->ctx, bounds);
    return dcnn__fail(DCNN_ERR_OUT_OF_MEMORY, "optimizer: out of memory");
  }
  int32_t at = 0;
  for (int32_t i = 0; i < o->param_count; ++i) {
    const dcnn_param *p = &o->params[i];
    if (!(p->flags & DCNN_PARAM_TRAINABLE) || !p->grad) continue;
    for (int64_t begin = 0; begin < p->value->count; begin += UPDATE_CHUNK) {
      const int64_t rest = p->value->count - begin;
      chunks[at++] = (dcnn__update_chunk){.param = i, .begin = begin, .count = rest < UPDATE_CHUNK ? rest : UPDATE_CHUNK};
    }
  }
  dcnn__release(o->ctx, o->chunks);
  dcnn__release(o->ctx, o->bounds);
  o->chunks = chunks;
  o->chunk_count = at;
  o->bounds = bounds;
  o->bounded = 0;
  return DCNN_OK;
}

/* Makes o->params current: the fast path is two comparisons; after the
 * model's layers changed (or on the first step after binding) it recounts
 * the parameters through the layers and refuses a model whose parameters
 * are no longer those the optimizer's state was made for. */
static dcnn_status refresh_params(dcnn_optimizer *o, dcnn_model *m) {
  DCNN_CHECK(o->model_id == m->id, DCNN_ERR_INVALID_STATE,
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
    o->params[i].struct_size = sizeof o->params[i];
    dcnn_status status = dcnn_model_param(m, i, &o->params[i], &o->param_layers[i]);
    if (status == DCNN_OK && o->first[i] && o->first[i]->count != o->params[i].value->count)
      status = dcnn__fail(DCNN_ERR_INVALID_STATE, "optimizer: parameter %d of the model changed size since the "
                          "first step", (int)i);
    if (status != DCNN_OK) {
      o->generation = m->generation - 1; /* not current: the next step looks again */
      return status;
    }
  }
  DCNN_TRY(build_chunks(o));
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

int dcnn__optimizer_is_bound(const dcnn_optimizer *o) { return o->model_id != 0; }

dcnn_status dcnn__optimizer_save_buffers(dcnn_optimizer *o, dcnn_model *m) {
  if (!o->model_id) DCNN_TRY(dcnn__optimizer_bind(o, m));
  DCNN_TRY(refresh_params(o, m));
  copy_buffers(o, 1);
  return DCNN_OK;
}

void dcnn__optimizer_restore_buffers(dcnn_optimizer *o, dcnn_model *m) {
  dcnn__error_saved saved; /* nothing to report from here: the caller's message stays */
  dcnn__error_save(&saved);
  if (!o->buffers) return;
  if (refresh_params(o, m) == DCNN_OK) copy_buffers(o, 0);
  else dcnn__error_restore(&saved);
}

/* Non-finite values are refused before anything is written. The proof is
 * usually cheap: with the largest |gradient| and |weight| of each parameter
 * (a read-only pre-pass over those two arrays) and the largest moments the
 * last update left (kept in o->bounds: the moments are the optimizer's own,
 * nothing else writes them), a bound on every new value follows in a few
 * double operations; when each stays below SAFE_MAGNITUDE, one pass writes
 * the update. When a bound is not met (or unknown: the first step, after a
 * change of layers or a resume), a read-only check pass computes every new
 * value and counts those that are not finite, and only then the write pass
 * runs. Either way the weights and moments need no copy to stay bit-identical
 * to the last good step (only the buffers, which the forward pass before the
 * update changes, are copied, by dcnn_model_train_step). The values written
 * are the same on both paths. */

static dcnn_sgd_params sgd_params(const dcnn_optimizer *o, float decay) {
  return (dcnn_sgd_params){o->learning_rate, o->momentum, decay, o->nesterov};
}

static dcnn_adam_params adam_params(const dcnn_optimizer *o, float decay) {
  const double t = (double)(o->steps + 1);
  return (dcnn_adam_params){(float)(o->learning_rate * sqrt(1.0 - pow(o->beta2, t)) / (1.0 - pow(o->beta1, t))),
                            o->beta1, o->beta2, o->epsilon, 1.0f - o->learning_rate * decay};
}

static float param_decay(const dcnn_optimizer *o, const dcnn_param *p) {
  return (p->flags & DCNN_PARAM_NO_DECAY) ? 0.0f : o->weight_decay;
}

enum { PASS_PROBE, PASS_CHECK, PASS_WRITE };

/* One pass over every lane; results land in the lane's own record. Static
 * round-robin, not dynamic: LLVM's OpenMP runtime allocates (formats trace
 * strings) when it sets up a dynamic loop, and the step must not allocate. */
static void run_pass(dcnn_optimizer *o, int pass, int32_t threads) {
  const int64_t floats = o->chunk_count > 1 ? (int64_t)o->chunk_count * UPDATE_CHUNK : 0;
#pragma omp parallel for num_threads(threads) if (threads > 1 && floats > 65536) schedule(static, 1)
  for (int32_t k = 0; k < o->chunk_count; ++k) {
    dcnn__update_chunk *c = &o->chunks[k];
    const dcnn_param *p = &o->params[c->param];
    float *w = p->value->data + c->begin;
    const float *g = p->grad->data + c->begin;
    float *first = o->first[c->param] ? o->first[c->param]->data + c->begin : NULL;
    float *second = o->second[c->param] ? o->second[c->param]->data + c->begin : NULL;
    const float decay = param_decay(o, p);
    if (pass == PASS_PROBE) {
      c->grad_max = dcnn__max_abs(g, c->count);
      c->weight_max = dcnn__max_abs(w, c->count);
    } else if (o->kind == OPTIMIZER_SGD) {
      const dcnn_sgd_params sp = sgd_params(o, decay);
      if (pass == PASS_CHECK) {
        c->bad = dcnn__sgd_check(&sp, w, g, first, c->count);
      } else {
        c->bounds[0] = dcnn__sgd_write(&sp, w, g, first, c->count);
        c->bounds[1] = 0.0f;
      }
    } else {
      const dcnn_adam_params ap = adam_params(o, decay);
      if (pass == PASS_CHECK) c->bad = dcnn__adam_check(&ap, w, g, first, second, c->count);
      else dcnn__adam_write(&ap, w, g, first, second, c->count, c->bounds);
    }
  }
}

/* Whether every new value of parameter `i` is proven finite from the largest
 * |g| and |w| (G, W) and the moments' bounds: each intermediate of the
 * kernel's formula is bounded in magnitude by one of the terms below. */
static int provably_finite(const dcnn_optimizer *o, int32_t i, double G, double W) {
  const double decay = param_decay(o, &o->params[i]), m1 = o->bounds[i][0], m2 = o->bounds[i][1];
  double worst;
  if (o->kind == OPTIMIZER_SGD) {
    const double mu = o->momentum, lr = o->learning_rate;
    const double d = G + decay * W, v = o->first[i] ? mu * m1 + d : d;
    const double step = o->first[i] && o->nesterov ? d + mu * v : v;
    worst = fmax(fmax(d, v), W + lr * step);
  } else {
    const dcnn_adam_params ap = adam_params(o, (float)decay);
    const double first = ap.beta1 * m1 + (1.0 - ap.beta1) * G, second = ap.beta2 * m2 + (1.0 - ap.beta2) * G * G;
    /* |m1' / (sqrt(m2') + eps)| <= |m1'| / eps, as m2' >= 0; the kernel forms
     * lr_t m1' before dividing, so that product is bounded too (eps > 1). */
    const double scaled = fabs((double)ap.lr_t) * first;
    const double next = W * fabs((double)ap.shrink) + scaled / ap.epsilon;
    worst = fmax(fmax(first, second), fmax(fmax(G * G, scaled), next));
  }
  return worst < SAFE_MAGNITUDE; /* false for NaN and infinities */
}

/* The pre-pass: 1 when every parameter's new values are proven finite. */
static int update_is_safe(dcnn_optimizer *o, int32_t threads) {
  if (!o->bounded) return 0;
  run_pass(o, PASS_PROBE, threads);
  for (int32_t k = 0; k < o->chunk_count;) {
    const int32_t i = o->chunks[k].param;
    float G = 0.0f, W = 0.0f;
    for (; k < o->chunk_count && o->chunks[k].param == i; ++k) {
      G = fmaxf(G, o->chunks[k].grad_max);
      W = fmaxf(W, o->chunks[k].weight_max);
    }
    if (!provably_finite(o, i, G, W)) return 0;
  }
  return 1;
}

/* What a refused step leaves: dcnn_optimizer_step cannot undo the forward
 * pass the caller ran before it. */
static const char *kept_state(int buffers_saved) {
  return buffers_saved ? "the weights and running statistics are unchanged"
                       : "the weights and optimizer state are unchanged (running statistics updated by your forward "
                         "pass are not restored)";
}

/* Running statistics come from the forward pass just run: refused when not finite. */
static dcnn_status check_buffers(const dcnn_optimizer *o, const dcnn_model *m, int buffers_saved) {
  for (int32_t i = 0; i < o->param_count; ++i) {
    const dcnn_param *p = &o->params[i];
    if (!(p->flags & DCNN_PARAM_BUFFER)) continue;
    int64_t bad = 0;
    for (int64_t k = 0; k < p->value->count; ++k) bad += !isfinite(p->value->data[k]);
    DCNN_CHECK(bad == 0, DCNN_ERR_NUMERIC,
               "optimizer: step %lld made %lld values of buffer %d ('%s' of layer %d, %s) infinite or NaN: the "
               "step was refused and %s; training is diverging, try a smaller learning rate",
               (long long)o->steps + 1, (long long)bad, (int)i, p->name ? p->name : "?", (int)o->param_layers[i],
               dcnn_layer_type(m->layers[o->param_layers[i]]), kept_state(buffers_saved));
  }
  return DCNN_OK;
}

/* The check pass: refuses naming the first parameter with non-finite results. */
static dcnn_status check_update(dcnn_optimizer *o, const dcnn_model *m, int32_t threads, int buffers_saved) {
  run_pass(o, PASS_CHECK, threads);
  for (int32_t k = 0; k < o->chunk_count;) {
    const int32_t i = o->chunks[k].param;
    int64_t bad = 0;
    for (; k < o->chunk_count && o->chunks[k].param == i; ++k) bad += o->chunks[k].bad;
    const dcnn_param *p = &o->params[i];
    const int32_t layer = o->param_layers[i];
    DCNN_CHECK(bad == 0, DCNN_ERR_NUMERIC,
               "optimizer: step %lld would make %lld values of parameter %d ('%s' of layer %d, %s) infinite or NaN "
               "(learning rate %g): the step was refused and %s; training is diverging, try a smaller learning rate",
               (long long)o->steps + 1, (long long)bad, (int)i, p->name ? p->name : "?", (int)layer,
               dcnn_layer_type(m->layers[layer]), (double)o->learning_rate, kept_state(buffers_saved));
  }
  return DCNN_OK;
}

/* The write pass, keeping the new moments' bounds for the next step. */
static void write_update(dcnn_optimizer *o, int32_t threads) {
  run_pass(o, PASS_WRITE, threads);
  for (int32_t i = 0; i < o->param_count; ++i) o->bounds[i][0] = o->bounds[i][1] = 0.0f;
  for (int32_t k = 0; k < o->chunk_count; ++k) {
    float *b = o->bounds[o->chunks[k].param];
    b[0] = fmaxf(b[0], o->chunks[k].bounds[0]);
    b[1] = fmaxf(b[1], o->chunks[k].bounds[1]);
  }
  o->bounded = 1;
}

/* Binds and updates only: the buffers were changed by the caller's own
 * forward pass, before this call, so there is nothing to save or restore. */
dcnn_status dcnn_optimizer_step(dcnn_optimizer *o, dcnn_model *m) {
  DCNN_CHECK_ARG_AS(o, "optimizer");
  DCNN_CHECK_ARG_AS(m, "model");
  if (!o->model_id) DCNN_TRY(dcnn__optimizer_bind(o, m));
  return dcnn__optimizer_update(o, m, 0);
}

dcnn_status dcnn__optimizer_update(dcnn_optimizer *o, dcnn_model *m, int buffers_saved) {
  DCNN_TRY(refresh_params(o, m));
  const int32_t threads = dcnn_context_threads(m->ctx);
  dcnn_status status = check_buffers(o, m, buffers_saved);
  if (status == DCNN_OK && !update_is_safe(o, threads)) status = check_update(o, m, threads, buffers_saved);
  if (status != DCNN_OK) {
    if (buffers_saved) copy_buffers(o, 0);
    return status;
  }
  write_update(o, threads);
  o->steps++;
  return DCNN_OK;
}
