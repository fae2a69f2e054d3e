/* SGD with momentum (PyTorch form) and Adam (Keras form, decoupled weight decay). */
#include <math.h>
#include <stdlib.h>

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
  o->first = o->second = NULL;
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
  const int32_t n = dcnn_model_param_tensor_count(m);
  o->first = dcnn__calloc(o->ctx, (size_t)(n ? n : 1), sizeof *o->first);
  o->second = dcnn__calloc(o->ctx, (size_t)(n ? n : 1), sizeof *o->second);
  o->param_count = n;
  o->model = m;
  dcnn_status status = (o->first && o->second) ? DCNN_OK : dcnn__fail(DCNN_ERR_OUT_OF_MEMORY, "optimizer: out of memory");
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

static void sgd_update(const dcnn_optimizer *o, float *w, const float *g, float *v, int64_t n, float decay,
                       int32_t threads) {
  const float lr = o->learning_rate, mu = o->momentum;
#pragma omp parallel for num_threads(threads) if (threads > 1 && n > 65536) schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    float grad = g[i] + decay * w[i];
    if (!v) {
      w[i] -= lr * grad;
      continue;
    }
    v[i] = mu * v[i] + grad;
    w[i] -= lr * (o->nesterov ? grad + mu * v[i] : v[i]);
  }
}

static void adam_update(const dcnn_optimizer *o, float *w, const float *g, float *m1, float *m2, int64_t n,
                        float decay, int32_t threads) {
  const double t = (double)o->steps;
  const float lr_t = (float)(o->learning_rate * sqrt(1.0 - pow(o->beta2, t)) / (1.0 - pow(o->beta1, t)));
  const float b1 = o->beta1, b2 = o->beta2, eps = o->epsilon, shrink = 1.0f - o->learning_rate * decay;
#pragma omp parallel for num_threads(threads) if (threads > 1 && n > 65536) schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    m1[i] = b1 * m1[i] + (1.0f - b1) * g[i];
    m2[i] = b2 * m2[i] + (1.0f - b2) * g[i] * g[i];
    w[i] = w[i] * shrink - lr_t * m1[i] / (sqrtf(m2[i]) + eps);
  }
}

dcnn_status dcnn_optimizer_step(dcnn_optimizer *o, dcnn_model *m) {
  DCNN_CHECK_ARG(o);
  DCNN_CHECK_ARG(m);
  if (!o->model) DCNN_TRY(dcnn__optimizer_bind(o, m));
  DCNN_CHECK(o->model == m, DCNN_ERR_INVALID_STATE,
             "optimizer: bound to another model (call dcnn_optimizer_reset to reuse it)");
  DCNN_CHECK(o->param_count == dcnn_model_param_tensor_count(m), DCNN_ERR_INVALID_STATE,
             "optimizer: the model's parameters changed since the first step (%d then, %d now)",
             (int)o->param_count, (int)dcnn_model_param_tensor_count(m));
  o->steps++;
  const int32_t threads = dcnn_context_threads(m->ctx);
  for (int32_t i = 0; i < o->param_count; ++i) {
    dcnn_param p;
    DCNN_TRY(dcnn_model_param(m, i, &p, NULL));
    if (!(p.flags & DCNN_PARAM_TRAINABLE) || !p.grad) continue;
    const float decay = (p.flags & DCNN_PARAM_NO_DECAY) ? 0.0f : o->weight_decay;
    float *first = o->first[i] ? o->first[i]->data : NULL;
    if (o->kind == OPTIMIZER_SGD)
      sgd_update(o, p.value->data, p.grad->data, first, p.value->count, decay, threads);
    else
      adam_update(o, p.value->data, p.grad->data, first, o->second[i]->data, p.value->count, decay, threads);
  }
  return DCNN_OK;
}
