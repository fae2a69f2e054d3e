/* Residual block: y = act(body(x) + shortcut(x)), where body and shortcut are
 * chains of layers (an empty shortcut is the identity) and act is ReLU or
 * nothing. The block is itself a layer, so non-sequential networks (ResNet,
 * MobileNetV2) use the same interface as everything else. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/activations.h"
#include "digitcnn/random.h"
#include "conv_bn.h"
#include "layer_internal.h"
#include "residual_profile.h"

typedef struct chain {
  dcnn_layer **layers;
  int32_t count;
  dcnn_tensor **outputs; /* (count) planned per batch */
  double *seconds;       /* (2, count): forward, backward time of each layer while timed */
  double *flops;         /* (2, count): their FLOP estimates, as the profile counts them */
} chain;

typedef struct param_ref {
  int32_t chain, layer, index;
  char name[64];
} param_ref;

typedef struct residual {
  chain parts[2]; /* body, shortcut */
  int relu;
  dcnn_context *ctx;
  dcnn_shape input, output; /* batch of 1 */
  int64_t largest;          /* values of the largest sub-layer output, batch of 1 */
  int32_t planned_batch;
  dcnn_tensor *sum_grad, *grad[2], *shortcut_dx;
  param_ref *params;
  int32_t param_total;
  /* Timing of the parts of training passes (residual_profile.h). */
  int timed;
  int64_t timed_calls[2]; /* forward, backward */
  double sum_seconds[2];  /* the block's own work: the sum and its activation, their gradients */
} residual;

/* "body" or "shortcut": how messages and parameter names call parts[part]. */
static const char *part_name(int part) { return part ? "shortcut" : "body"; }

/* Records one call of layer i of chain c in pass (0 forward, 1 backward) from t0 on. */
static void record(const residual *r, chain *c, int pass, int32_t i, int32_t batch, double t0) {
  if (!r->timed) return;
  const dcnn_layer *l = c->layers[i];
  c->seconds[pass * c->count + i] += dcnn__now() - t0;
  c->flops[pass * c->count + i] += 2.0 * (l->vt->flops ? (double)l->vt->flops(l->self) : 0) * batch * (pass ? 2.0 : 1.0);
}

/* Splits n elements over the threads; see kernels/activations.h. */
static int64_t lanes_for(int64_t n, dcnn_exec *exec) { return dcnn__pointwise_lanes(n, dcnn_exec_threads(exec)); }

static void chain_free(chain *c) {
  for (int32_t i = 0; i < c->count; ++i) {
    dcnn__layer_destroy_owned(c->layers[i]);
    if (c->outputs) dcnn_tensor_destroy(c->outputs[i]);
  }
  dcnn__release(NULL, c->layers);
  dcnn__release(NULL, c->outputs);
  dcnn__release(NULL, c->seconds);
  dcnn__release(NULL, c->flops);
}

static void release_plan(residual *r) {
  for (int p = 0; p < 2; ++p)
    for (int32_t i = 0; r->parts[p].outputs && i < r->parts[p].count; ++i) {
      dcnn_tensor_destroy(r->parts[p].outputs[i]);
      r->parts[p].outputs[i] = NULL;
    }
  dcnn_tensor_destroy(r->sum_grad);
  dcnn_tensor_destroy(r->grad[0]);
  dcnn_tensor_destroy(r->grad[1]);
  dcnn_tensor_destroy(r->shortcut_dx);
  r->sum_grad = r->grad[0] = r->grad[1] = r->shortcut_dx = NULL;
  r->planned_batch = 0;
}

static dcnn_status residual_build(void *self, dcnn_context *ctx, const dcnn_shape *in, dcnn_shape *out) {
  residual *r = self;
  r->ctx = ctx;
  r->input = *in;
  dcnn_shape ends[2];
  for (int p = 0; p < 2; ++p) {
    dcnn_shape shape = *in;
    for (int32_t i = 0; i < r->parts[p].count; ++i) {
      dcnn_layer *l = r->parts[p].layers[i];
      dcnn_status status = dcnn_layer_build(l, ctx, &shape);
      if (status != DCNN_OK)
        return dcnn__wrap_error(status, "residual %s layer %d (%s)", part_name(p), (int)i, l->vt->type_name);
      /* Layers index one sample in int32: the model checks the block's ends, this every inner layer. */
      char a[64];
      DCNN_CHECK(dcnn_shape_count(&l->output) <= INT32_MAX, DCNN_ERR_SHAPE_MISMATCH,
                 "residual %s layer %d (%s): output %s has more than 2^31-1 elements per sample", part_name(p), (int)i,
                 l->vt->type_name, dcnn_shape_format(&l->output, a, sizeof a));
      shape = l->output;
    }
    ends[p] = shape;
    dcnn__conv_bn_link_chain(r->parts[p].layers, r->parts[p].count);
  }
  char a[64], b[64];
  DCNN_CHECK(dcnn_shape_equal(&ends[0], &ends[1]), DCNN_ERR_SHAPE_MISMATCH,
             "residual: the body gives %s, the shortcut %s; they must match to be summed",
             dcnn_shape_format(&ends[0], a, sizeof a), dcnn_shape_format(&ends[1], b, sizeof b));
  r->output = ends[0];
  r->largest = 1;
  for (int p = 0; p < 2; ++p)
    for (int32_t i = 0; i < r->parts[p].count; ++i)
      if (dcnn_shape_count(&r->parts[p].layers[i]->output) > r->largest)
        r->largest = dcnn_shape_count(&r->parts[p].layers[i]->output);
  /* Parameters: the body's, then the shortcut's, named "body.<i>.<name>". */
  int32_t total = 0;
  for (int p = 0; p < 2; ++p)
    for (int32_t i = 0; i < r->parts[p].count; ++i) total += dcnn_layer_param_tensor_count(r->parts[p].layers[i]);
  r->params = dcnn__calloc(NULL, (size_t)(total ? total : 1), sizeof *r->params);
  DCNN_CHECK(r->params != NULL, DCNN_ERR_OUT_OF_MEMORY, "residual: out of memory");
  int32_t k = 0;
  for (int p = 0; p < 2; ++p)
    for (int32_t i = 0; i < r->parts[p].count; ++i)
      for (int32_t j = 0; j < dcnn_layer_param_tensor_count(r->parts[p].layers[i]); ++j) {
        dcnn_param param = DCNN_STRUCT_INIT(dcnn_param);
        DCNN_TRY(dcnn_layer_param(r->parts[p].layers[i], j, &param));
        r->params[k] = (param_ref){p, i, j, ""};
        snprintf(r->params[k].name, sizeof r->params[k].name, "%s.%d.%s", part_name(p), (int)i, param.name);
        k++;
      }
  r->param_total = total;
  *out = r->output;
  return DCNN_OK;
}

/* Inference (no backward) keeps nothing in the block: the chains' outputs
 * ping-pong between two (batch, largest) buffers at the start of the
 * workspace; the sub-layers get the rest. Training keeps its outputs in the
 * planned tensors, so it needs only the sub-layers' workspace. */
static int64_t round64(int64_t bytes) { return (bytes + 63) / 64 * 64; }

static int64_t infer_buffer(const residual *r, int32_t batch) {
  return round64((int64_t)batch * r->largest * (int64_t)sizeof(float));
}

static int64_t residual_sized_workspace(const void *self, int32_t max_batch, int32_t threads, int inference) {
  const residual *r = self;
  int64_t sub = 0;
  for (int p = 0; p < 2; ++p)
    for (int32_t i = 0; i < r->parts[p].count; ++i) {
      int64_t w = dcnn__layer_workspace(r->parts[p].layers[i], max_batch, threads, inference);
      if (w > sub) sub = w;
    }
  return inference ? 2 * infer_buffer(r, max_batch) + sub : sub;
}

/* The vtable's answer must serve either use. */
static int64_t residual_workspace(const void *self, int32_t max_batch) {
  return residual_sized_workspace(self, max_batch, dcnn_context_threads(((const residual *)self)->ctx), 1);
}

static dcnn_status residual_plan(void *self, dcnn_context *ctx, int32_t max_batch) {
  residual *r = self;
  if (max_batch <= r->planned_batch) return DCNN_OK;
  release_plan(r);
  int64_t largest = dcnn_shape_count(&r->input);
  dcnn_status status = DCNN_OK;
  for (int p = 0; p < 2 && status == DCNN_OK; ++p) {
    chain *c = &r->parts[p];
    for (int32_t i = 0; i < c->count && status == DCNN_OK; ++i) {
      dcnn_shape s = dcnn__with_batch(&c->layers[i]->output, max_batch);
      status = dcnn_tensor_create(ctx, &s, &c->outputs[i]);
      if (status == DCNN_OK) c->outputs[i]->shape_locked = 1;
      if (status == DCNN_OK) status = dcnn__layer_plan(c->layers[i], max_batch);
      if (dcnn_shape_count(&c->layers[i]->output) > largest) largest = dcnn_shape_count(&c->layers[i]->output);
    }
  }
  dcnn_shape flat = dcnn_shape_make(2, max_batch, (int32_t)largest, 0, 0);
  dcnn_shape out = dcnn__with_batch(&r->output, max_batch), in = dcnn__with_batch(&r->input, max_batch);
  if (status == DCNN_OK) status = dcnn__tensor_create_capacity(ctx, &flat, 0, &r->grad[0]);
  if (status == DCNN_OK) status = dcnn__tensor_create_capacity(ctx, &flat, 0, &r->grad[1]);
  if (status == DCNN_OK) status = dcnn__tensor_create_capacity(ctx, &out, 0, &r->sum_grad);
  if (status == DCNN_OK) status = dcnn__tensor_create_capacity(ctx, &in, 0, &r->shortcut_dx);
  if (status == DCNN_OK)
    r->grad[0]->shape_locked = r->grad[1]->shape_locked = r->sum_grad->shape_locked = r->shortcut_dx->shape_locked = 1;
  if (status != DCNN_OK) {
    release_plan(r);
    return status;
  }
  r->planned_batch = max_batch;
  return DCNN_OK;
}

/* A sub-layer's execution state: the block's, with its own random stream. */
static dcnn_exec sub_exec(const dcnn_exec *exec, int part, int32_t index) {
  dcnn_exec e = *exec;
  e.seed = dcnn_random_derive(exec->seed, (uint64_t)(part * 4096 + index));
  return e;
}

static dcnn_status chain_forward(const residual *r, chain *c, int part, dcnn_exec *exec, const dcnn_tensor *x,
                                 const dcnn_tensor **end) {
  const int32_t batch = x->shape.dims[0];
  const dcnn_tensor *in = x;
  for (int32_t i = 0; i < c->count; ++i) {
    DCNN_TRY(dcnn__tensor_set_batch(c->outputs[i], batch));
    dcnn_exec e = sub_exec(exec, part, i);
    const double t0 = r->timed ? dcnn__now() : 0;
    const uint64_t mark = dcnn__error_mark();
    dcnn_status status = c->layers[i]->vt->forward(c->layers[i]->self, &e, in, c->outputs[i]);
    record(r, c, 0, i, batch, t0);
    if (status != DCNN_OK)
      return dcnn__callee_error(status, mark, "residual %s layer %d (%s)", part_name(part), (int)i,
                                c->layers[i]->vt->type_name);
    in = c->outputs[i];
  }
  *end = in;
  return DCNN_OK;
}

/* y = act(body + shortcut) in one pass (body may be y itself). */
static void sum_into(const residual *r, dcnn_exec *exec, const float *body, const float *shortcut, float *y,
                     int64_t n) {
  const int64_t lanes = lanes_for(n, exec);
  const int relu = r->relu;
#pragma omp parallel for num_threads((int)lanes) if (lanes > 1) schedule(static)
  for (int64_t lane = 0; lane < lanes; ++lane) {
    const int64_t first = n * lane / lanes, last = n * (lane + 1) / lanes;
    dcnn__add(body + first, shortcut + first, y + first, last - first, relu);
  }
}

/* dst += src, split over the threads. */
static void accumulate(dcnn_exec *exec, float *dst, const float *src, int64_t n) {
  const int64_t lanes = lanes_for(n, exec);
#pragma omp parallel for num_threads((int)lanes) if (lanes > 1) schedule(static)
  for (int64_t lane = 0; lane < lanes; ++lane) {
    const int64_t first = n * lane / lanes, last = n * (lane + 1) / lanes;
    dcnn__accumulate(dst + first, src + first, last - first);
  }
}

/* Inference forward touching only `y` and the workspace: the body's last layer
 * writes `y` directly, everything else goes through two workspace buffers. */
static dcnn_status residual_infer(const residual *r, dcnn_exec *exec, const dcnn_tensor *x, dcnn_tensor *y) {
  const int32_t batch = x->shape.dims[0];
  /* Only the buffers are sized here (from the batch, not the thread count);
   * each sub-layer checks that the rest suffices for the exec's threads. */
  const int64_t buffer = infer_buffer(r, batch);
  int64_t size = 0;
  char *base = dcnn_exec_workspace(exec, &size);
  DCNN_CHECK(base != NULL && size >= 2 * buffer, DCNN_ERR_INVALID_STATE,
             "residual: the workspace has %lld bytes, batch %d needs at least %lld", (long long)size, (int)batch,
             (long long)(2 * buffer));
  dcnn_tensor buffers[2]; /* views: (batch, ...) shaped per sub-layer */
  for (int b = 0; b < 2; ++b)
    buffers[b] = (dcnn_tensor){exec->ctx, y->shape, 0, buffer / (int64_t)sizeof(float),
                               (float *)(void *)(base + b * buffer), 0, 1};
  dcnn_exec sub = *exec;
  sub.workspace = size > 2 * buffer ? base + 2 * buffer : NULL;
  sub.workspace_size = size - 2 * buffer;
  for (int p = 0; p < 2; ++p) {
    const chain *c = &r->parts[p];
    const dcnn_tensor *in = x;
    int slot = 0; /* the buffer the next layer writes */
    for (int32_t i = 0; i < c->count; ++i) {
      dcnn_layer *l = c->layers[i];
      /* A conv2d writes its batch norm's output, which is then skipped (conv_bn.h). */
      const int fold = i + 1 < c->count && dcnn__conv_bn_folds(l, c->layers[i + 1]);
      dcnn_tensor *out = p == 0 && i + fold == c->count - 1 ? y : &buffers[slot];
      dcnn_shape shape = dcnn__with_batch(&l->output, batch);
      DCNN_TRY(dcnn__tensor_set_shape(out, &shape));
      dcnn_exec e = sub_exec(&sub, p, i);
      const uint64_t mark = dcnn__error_mark();
      e.fold = fold;
      dcnn_status status = l->vt->forward(l->self, &e, in, out);
      if (status != DCNN_OK)
        return dcnn__callee_error(status, mark, "residual %s layer %d (%s)", part_name(p), (int)i,
                                  l->vt->type_name);
      in = out;
      slot ^= 1;
      i += fold;
    }
    if (p == 1) sum_into(r, exec, y->data, in->data, y->data, y->count); /* an empty shortcut leaves in == x */
  }
  return DCNN_OK;
}

static dcnn_status residual_forward(void *self, dcnn_exec *exec, const dcnn_tensor *x, dcnn_tensor *y) {
  residual *r = self;
  if (!dcnn_exec_backward_follows(exec)) return residual_infer(r, exec, x, y);
  DCNN_CHECK(x->shape.dims[0] <= r->planned_batch, DCNN_ERR_INVALID_STATE, "residual: batch %d exceeds the planned %d",
             (int)x->shape.dims[0], (int)r->planned_batch);
  const dcnn_tensor *body = NULL, *shortcut = NULL;
  DCNN_TRY(chain_forward(r, &r->parts[0], 0, exec, x, &body));
  DCNN_TRY(chain_forward(r, &r->parts[1], 1, exec, x, &shortcut));
  const double t0 = r->timed ? dcnn__now() : 0;
  sum_into(r, exec, body->data, shortcut->data, y->data, y->count);
  if (r->timed) {
    r->sum_seconds[0] += dcnn__now() - t0;
    r->timed_calls[0]++;
  }
  return DCNN_OK;
}

/* Backward through a chain from `grad_out` (the gradient of its end) to `dx` (may be NULL). */
static dcnn_status chain_backward(residual *r, chain *c, int part, dcnn_exec *exec, const dcnn_tensor *x,
                                  const dcnn_tensor *grad_out, dcnn_tensor *dx) {
  const dcnn_tensor *dy = grad_out;
  for (int32_t i = c->count - 1; i >= 0; --i) {
    dcnn_layer *l = c->layers[i];
    const dcnn_tensor *in = i ? c->outputs[i - 1] : x;
    dcnn_tensor *target = dx;
    if (i > 0) {
      target = r->grad[i % 2];
      DCNN_TRY(dcnn__tensor_set_shape(target, &in->shape));
    }
    DCNN_CHECK(l->vt->backward != NULL, DCNN_ERR_UNSUPPORTED, "residual %s layer %d (%s) has no backward pass",
               part_name(part), (int)i, l->vt->type_name);
    dcnn_exec e = sub_exec(exec, part, i);
    const double t0 = r->timed ? dcnn__now() : 0;
    const uint64_t mark = dcnn__error_mark();
    dcnn_status status = l->vt->backward(l->self, &e, in, c->outputs[i], dy, target);
    record(r, c, 1, i, in->shape.dims[0], t0);
    if (status != DCNN_OK)
      return dcnn__callee_error(status, mark, "residual %s layer %d (%s)", part_name(part), (int)i,
                                l->vt->type_name);
    dy = target;
  }
  return DCNN_OK;
}

static dcnn_status residual_backward(void *self, dcnn_exec *exec, const dcnn_tensor *x, const dcnn_tensor *y,
                                     const dcnn_tensor *dy, dcnn_tensor *dx) {
  residual *r = self;
  double t0 = r->timed ? dcnn__now() : 0, own = 0;
  /* Without an activation the sum passes its gradient through unchanged. */
  const dcnn_tensor *sum_grad = dy;
  if (r->relu) {
    DCNN_TRY(dcnn__tensor_set_shape(r->sum_grad, &y->shape));
    const int64_t n = y->count, lanes = lanes_for(n, exec);
    const float *out = y->data, *g_out = dy->data;
    float *g_sum = r->sum_grad->data;
#pragma omp parallel for num_threads((int)lanes) if (lanes > 1) schedule(static)
    for (int64_t lane = 0; lane < lanes; ++lane) {
      const int64_t first = n * lane / lanes, last = n * (lane + 1) / lanes;
      dcnn__relu_mask(out + first, g_out + first, g_sum + first, last - first);
    }
    sum_grad = r->sum_grad;
  }
  if (r->timed) own += dcnn__now() - t0;
  DCNN_TRY(chain_backward(r, &r->parts[0], 0, exec, x, sum_grad, dx));
  dcnn_tensor *short_dx = NULL;
  if (r->parts[1].count > 0) {
    if (dx) {
      short_dx = r->shortcut_dx;
      DCNN_TRY(dcnn__tensor_set_shape(short_dx, &x->shape));
    }
    DCNN_TRY(chain_backward(r, &r->parts[1], 1, exec, x, sum_grad, short_dx));
  }
  t0 = r->timed ? dcnn__now() : 0;
  /* The identity shortcut's gradient is the sum's. */
  if (dx) accumulate(exec, dx->data, short_dx ? short_dx->data : sum_grad->data, dx->count);
  if (r->timed) {
    r->sum_seconds[1] += own + dcnn__now() - t0;
    r->timed_calls[1]++;
  }
  return DCNN_OK;
}

static int32_t residual_param_count(const void *self) { return ((const residual *)self)->param_total; }

static dcnn_status residual_param(void *self, int32_t index, dcnn_param *out) {
  residual *r = self;
  const param_ref *ref = &r->params[index];
  DCNN_TRY(dcnn_layer_param(r->parts[ref->chain].layers[ref->layer], ref->index, out));
  out->name = ref->name;
  return DCNN_OK;
}

static dcnn_status residual_init(void *self, uint64_t seed) {
  residual *r = self;
  for (int p = 0; p < 2; ++p)
    for (int32_t i = 0; i < r->parts[p].count; ++i) {
      dcnn_layer *l = r->parts[p].layers[i];
      if (l->vt->init_params) DCNN_TRY(l->vt->init_params(l->self, dcnn_random_derive(seed, (uint64_t)(p * 4096 + i))));
    }
  return DCNN_OK;
}

static dcnn_status residual_describe(const void *self, char *buf, int32_t size) {
  const residual *r = self;
  int used = snprintf(buf, (size_t)size, "relu=%d body=", r->relu);
  for (int p = 0; p < 2; ++p) {
    if (p && used < size) used += snprintf(buf + used, (size_t)(size - used), " shortcut=");
    for (int32_t i = 0; i < r->parts[p].count && used < size; ++i)
      used += snprintf(buf + used, (size_t)(size - used), "%s%s", i ? "," : "", r->parts[p].layers[i]->vt->type_name);
    if (r->parts[p].count == 0 && used < size) used += snprintf(buf + used, (size_t)(size - used), "identity");
  }
  return DCNN_OK;
}

static int64_t residual_flops(const void *self) {
  const residual *r = self;
  int64_t total = dcnn_shape_count(&r->output);
  for (int p = 0; p < 2; ++p)
    for (int32_t i = 0; i < r->parts[p].count; ++i) {
      const dcnn_layer *l = r->parts[p].layers[i];
      if (l->vt->flops) total += l->vt->flops(l->self);
    }
  return total;
}

static void residual_destroy(void *self) {
  residual *r = self;
  release_plan(r);
  chain_free(&r->parts[0]);
  chain_free(&r->parts[1]);
  dcnn__release(NULL, r->params);
  dcnn__release(NULL, r);
}

static const dcnn_layer_vtable residual_vtable = {
    .abi_version = DCNN_LAYER_ABI_VERSION,
    /* Only if every sub-layer has it too: see dcnn__layer_unshared. */
    .flags = DCNN_LAYER_SHARED_INFERENCE,
    .type_name = "residual",
    .build = residual_build,
    .plan = residual_plan,
    .workspace_size = residual_workspace,
    .forward = residual_forward,
    .backward = residual_backward,
    .param_count = residual_param_count,
    .param = residual_param,
    .init_params = residual_init,
    .describe = residual_describe,
    .flops = residual_flops,
    .destroy = residual_destroy,
};

/* Sub-layer k of the body then the shortcut, one list. */
static dcnn_layer *sub_layer(dcnn_layer *const *body, int32_t body_count, dcnn_layer *const *shortcut, int32_t k) {
  return k < body_count ? body[k] : shortcut[k - body_count];
}

/* Whether sub-layer k appeared earlier in the list: a layer given twice would
 * be built, run and destroyed twice (a double free). */
static int given_before(dcnn_layer *const *body, int32_t body_count, dcnn_layer *const *shortcut, int32_t k) {
  dcnn_layer *l = sub_layer(body, body_count, shortcut, k);
  for (int32_t j = 0; j < k; ++j)
    if (sub_layer(body, body_count, shortcut, j) == l) return 1;
  return 0;
}

/* Whether `target` is one of the layers `block` holds, at any depth of nested residual blocks. */
static int holds(const dcnn_layer *block, const dcnn_layer *target) {
  dcnn_layer *const *parts[2];
  int32_t counts[2];
  int relu;
  if (!dcnn__residual_parts(block, parts, counts, &relu)) return 0;
  for (int p = 0; p < 2; ++p)
    for (int32_t i = 0; i < counts[p]; ++i)
      if (parts[p][i] == target || holds(parts[p][i], target)) return 1;
  return 0;
}

/* 1 + the index of another given layer (a residual block) that already holds
 * given layer k, or 0: that block owns it, so it was given twice. */
static int32_t held_by_another(dcnn_layer *const *body, int32_t body_count, dcnn_layer *const *shortcut, int32_t total,
                               int32_t k) {
  const dcnn_layer *l = sub_layer(body, body_count, shortcut, k);
  for (int32_t j = 0; j < total; ++j)
    if (j != k && holds(sub_layer(body, body_count, shortcut, j), l)) return j + 1;
  return 0;
}

dcnn_status dcnn_residual_create(dcnn_layer *const *body, int32_t body_count, dcnn_layer *const *shortcut,
                                 int32_t shortcut_count, dcnn_residual_activation activation, dcnn_layer **out) {
  dcnn_status status = DCNN_OK;
  if (!out) status = dcnn__fail(DCNN_ERR_INVALID_ARGUMENT, "residual: argument 'out' is NULL");
  else *out = NULL;
  if (status == DCNN_OK && (body_count < 1 || !body || shortcut_count < 0 || (shortcut_count > 0 && !shortcut)))
    status = dcnn__fail(DCNN_ERR_INVALID_ARGUMENT, "residual: needs at least one body layer (got %d) and a valid shortcut",
                        (int)body_count);
  for (int32_t i = 0; status == DCNN_OK && i < body_count; ++i)
    if (!body[i]) status = dcnn__fail(DCNN_ERR_INVALID_ARGUMENT, "residual: body layer %d is NULL", (int)i);
  for (int32_t i = 0; status == DCNN_OK && i < shortcut_count; ++i)
    if (!shortcut[i]) status = dcnn__fail(DCNN_ERR_INVALID_ARGUMENT, "residual: shortcut layer %d is NULL", (int)i);
  const int lists_valid = body_count >= 1 && body && shortcut_count >= 0 && (shortcut_count == 0 || shortcut) &&
                          (int64_t)body_count + shortcut_count <= INT32_MAX;
  if (status == DCNN_OK && !lists_valid)
    status = dcnn__fail(DCNN_ERR_INVALID_ARGUMENT, "residual: %d body and %d shortcut layers are too many",
                        (int)body_count, (int)shortcut_count);
  const int32_t total = lists_valid ? body_count + shortcut_count : 0;
  for (int32_t k = 0; status == DCNN_OK && k < total; ++k) {
    const dcnn_layer *l = sub_layer(body, body_count, shortcut, k);
    const int32_t holder = held_by_another(body, body_count, shortcut, total, k);
    if (given_before(body, body_count, shortcut, k))
      status = dcnn__fail(DCNN_ERR_INVALID_ARGUMENT, "residual: %s layer %d was given twice", part_name(k >= body_count),
                          (int)(k < body_count ? k : k - body_count));
    else if (holder)
      status = dcnn__fail(DCNN_ERR_INVALID_ARGUMENT, "residual: %s layer %d was given twice: the residual block given "
                          "as %s layer %d already holds it", part_name(k >= body_count),
                          (int)(k < body_count ? k : k - body_count), part_name(holder - 1 >= body_count),
                          (int)(holder - 1 < body_count ? holder - 1 : holder - 1 - body_count));
    else if (l->owned)
      status = dcnn__fail(DCNN_ERR_INVALID_ARGUMENT, "residual: %s layer %d (%s) already belongs to a model or another "
                          "residual block; a layer has one owner", part_name(k >= body_count),
                          (int)(k < body_count ? k : k - body_count), l->vt->type_name);
    else if (l->built)
      status = dcnn__fail(DCNN_ERR_INVALID_ARGUMENT, "residual: %s layer %d (%s) is already built; the block builds its "
                          "layers for its own input", part_name(k >= body_count),
                          (int)(k < body_count ? k : k - body_count), l->vt->type_name);
  }
  if (status == DCNN_OK && activation != DCNN_RESIDUAL_LINEAR && activation != DCNN_RESIDUAL_RELU)
    status = dcnn__fail(DCNN_ERR_INVALID_ARGUMENT, "residual: unknown activation %d", (int)activation);
  /* Like every layer's state, from the default context: a layer exists before
   * it joins a model (and its context). */
  residual *r = status == DCNN_OK ? dcnn__calloc(NULL, 1, sizeof *r) : NULL;
  if (status == DCNN_OK && r) {
    r->parts[0].layers = dcnn__calloc(NULL, (size_t)body_count, sizeof(dcnn_layer *));
    r->parts[0].outputs = dcnn__calloc(NULL, (size_t)body_count, sizeof(dcnn_tensor *));
    r->parts[1].layers = dcnn__calloc(NULL, (size_t)(shortcut_count ? shortcut_count : 1), sizeof(dcnn_layer *));
    r->parts[1].outputs = dcnn__calloc(NULL, (size_t)(shortcut_count ? shortcut_count : 1), sizeof(dcnn_tensor *));
    for (int p = 0; p < 2; ++p) {
      const size_t count = (size_t)(p ? (shortcut_count ? shortcut_count : 1) : body_count);
      r->parts[p].seconds = dcnn__calloc(NULL, 2 * count, sizeof(double));
      r->parts[p].flops = dcnn__calloc(NULL, 2 * count, sizeof(double));
    }
  }
  if (status == DCNN_OK && (!r || !r->parts[0].layers || !r->parts[0].outputs || !r->parts[1].layers ||
                            !r->parts[1].outputs || !r->parts[0].seconds || !r->parts[0].flops ||
                            !r->parts[1].seconds || !r->parts[1].flops))
    status = dcnn__fail(DCNN_ERR_OUT_OF_MEMORY, "residual: out of memory");
  if (status != DCNN_OK) {
    /* Ownership of the sub-layers passed to us in every case: each destroyed
     * once, even when it was given twice; one another owner holds is left. */
    /* What can be walked: each list whose array and count are usable, as
     * far as both fit one int32 count. */
    const int32_t walk_body = body && body_count > 0 ? body_count : 0;
    const int32_t walk_shortcut =
        shortcut && shortcut_count > 0 && (int64_t)walk_body + shortcut_count <= INT32_MAX ? shortcut_count : 0;
    const int32_t walk = walk_body + walk_shortcut;
    /* A layer another owner holds (a given block, a model) goes with that
     * owner: decided for every layer before any is destroyed, since deciding
     * reads the layers, a block's among them. */
    uint8_t small[64], *mine = walk <= 64 ? small : dcnn__calloc(NULL, (size_t)walk, 1); /* (walk) */
    for (int32_t k = 0; mine && k < walk; ++k) {
      const dcnn_layer *l = sub_layer(body, walk_body, shortcut, k);
      mine[k] = (uint8_t)(l && !l->owned && !given_before(body, walk_body, shortcut, k));
    } /* without memory to decide first, nothing is destroyed: a leak, not a layer freed twice */
    for (int32_t k = 0; mine && k < walk; ++k)
      if (mine[k]) dcnn_layer_destroy(sub_layer(body, walk_body, shortcut, k));
    if (mine != small) dcnn__release(NULL, mine);
    if (r) {
      dcnn__release(NULL, r->parts[0].layers);
      dcnn__release(NULL, r->parts[0].outputs);
      dcnn__release(NULL, r->parts[1].layers);
      dcnn__release(NULL, r->parts[1].outputs);
      for (int p = 0; p < 2; ++p) {
        dcnn__release(NULL, r->parts[p].seconds);
        dcnn__release(NULL, r->parts[p].flops);
      }
      dcnn__release(NULL, r);
    }
    return status;
  }
  memcpy(r->parts[0].layers, body, (size_t)body_count * sizeof(dcnn_layer *));
  r->parts[0].count = body_count;
  if (shortcut_count) memcpy(r->parts[1].layers, shortcut, (size_t)shortcut_count * sizeof(dcnn_layer *));
  r->parts[1].count = shortcut_count;
  r->relu = activation == DCNN_RESIDUAL_RELU;
  DCNN_TRY(dcnn__layer_create_builtin(&residual_vtable, r, out)); /* on failure it destroys r, and the layers with it */
  (*out)->sized_workspace = residual_sized_workspace;
  for (int32_t k = 0; k < total; ++k) sub_layer(body, body_count, shortcut, k)->owned = 1;
  return DCNN_OK;
}

int dcnn__residual_parts(const dcnn_layer *layer, dcnn_layer *const *parts[2], int32_t counts[2], int *relu) {
  if (!layer || layer->vt != &residual_vtable) return 0;
  const residual *r = layer->self;
  for (int p = 0; p < 2; ++p) {
    parts[p] = r->parts[p].layers;
    counts[p] = r->parts[p].count;
  }
  *relu = r->relu;
  return 1;
}

void dcnn__residual_timing(dcnn_layer *layer, int on) {
  if (layer && layer->vt == &residual_vtable) ((residual *)layer->self)->timed = on != 0;
}

void dcnn__residual_timing_reset(dcnn_layer *layer) {
  if (!layer || layer->vt != &residual_vtable) return;
  residual *r = layer->self;
  for (int p = 0; p < 2; ++p) {
    const int32_t count = p && !r->parts[p].count ? 1 : r->parts[p].count;
    memset(r->parts[p].seconds, 0, 2 * (size_t)count * sizeof(double));
    memset(r->parts[p].flops, 0, 2 * (size_t)count * sizeof(double));
  }
  r->timed_calls[0] = r->timed_calls[1] = 0;
  r->sum_seconds[0] = r->sum_seconds[1] = 0;
}

int32_t dcnn__residual_timed_parts(const dcnn_layer *layer, int pass, dcnn__residual_part *parts, int32_t capacity,
                                   int64_t *calls) {
  if (!layer || layer->vt != &residual_vtable || pass < 0 || pass > 1) return 0;
  const residual *r = layer->self;
  *calls = r->timed_calls[pass];
  int32_t k = 0;
  for (int p = 0; p < 2; ++p)
    for (int32_t i = 0; i < r->parts[p].count; ++i, ++k)
      if (k < capacity)
        parts[k] = (dcnn__residual_part){p, i, r->parts[p].layers[i]->vt->type_name,
                                         r->parts[p].seconds[pass * r->parts[p].count + i],
                                         r->parts[p].flops[pass * r->parts[p].count + i], r->parts[p].layers[i]};
  if (k < capacity) parts[k] = (dcnn__residual_part){2, 0, r->relu ? "add+relu" : "add", r->sum_seconds[pass], 0, NULL};
  return k + 1;
}

/* The builtin table's factory (builtin_table.c): a block is not made from its
 * configuration alone; a model file's record of it holds its layers
 * (model/architecture.c reads them and calls dcnn_residual_create). */
dcnn_status dcnn__residual_from_config(const char *config, void *user, dcnn_layer **out) {
  (void)config;
  (void)user;
  *out = NULL;
  return dcnn__fail(DCNN_ERR_UNSUPPORTED, "a composite layer; its file record holds its sub-layers");
}
