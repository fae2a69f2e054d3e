#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "digitcnn/random.h"
#include "model_internal.h"
#include "../layers/conv_bn.h"

static atomic_uint_fast64_t next_model_id = 1;

dcnn_status dcnn_model_create(dcnn_context *ctx, const dcnn_shape *sample_shape, dcnn_model **out) {
  DCNN_CHECK_ARG(out);
  *out = NULL;
  DCNN_CHECK_ARG(sample_shape);
  char text[64];
  DCNN_CHECK(dcnn__shape_valid(sample_shape) && sample_shape->ndim <= DCNN_MAX_DIMS - 1, DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_model_create: sample shape %s must have 1 to 3 dimensions of at least 1 (no batch)",
             dcnn_shape_format(sample_shape, text, sizeof text));
  dcnn_model *m = dcnn__calloc(ctx, 1, sizeof *m);
  DCNN_CHECK(m != NULL, DCNN_ERR_OUT_OF_MEMORY, "dcnn_model_create: out of memory");
  m->ctx = ctx;
  m->id = atomic_fetch_add(&next_model_id, 1);
  m->sample_shape = *sample_shape;
  m->input_shape.ndim = sample_shape->ndim + 1;
  m->input_shape.dims[0] = 1;
  for (int32_t i = 0; i < sample_shape->ndim; ++i) m->input_shape.dims[i + 1] = sample_shape->dims[i];
  *out = m;
  return DCNN_OK;
}

static void release_plan(dcnn_model *m) {
  if (m->activations)
    for (int32_t i = 0; i < m->layer_count; ++i) dcnn_tensor_destroy(m->activations[i]);
  dcnn__release(m->ctx, m->activations);
  m->activations = NULL;
  dcnn_tensor_destroy(m->gradients[0]);
  dcnn_tensor_destroy(m->gradients[1]);
  m->gradients[0] = m->gradients[1] = NULL;
  dcnn__release(m->ctx, m->workspace);
  m->workspace = NULL;
  m->workspace_size = 0;
  m->planned_batch = 0;
  m->planned_threads = 0;
  m->pass_ready = 0; /* the activations a backward pass would read are gone */
}

void dcnn_model_destroy(dcnn_model *m) {
  if (!m) return;
  /* A caller's error that cannot be refused (destroy returns nothing): say so
   * before the sessions' model pointer dangles. */
  const int live = atomic_load(&m->live_sessions);
  if (live > 0)
    dcnn__log(m->ctx, DCNN_LOG_ERROR,
              "dcnn_model_destroy: %d inference session(s) still use this model; using or destroying them now is "
              "undefined: destroy sessions before their model", live);
  dcnn_session_destroy(m->predict_session);
  release_plan(m);
  for (int32_t i = 0; i < m->layer_count; ++i) dcnn__layer_destroy_owned(m->layers[i]);
  dcnn__release(m->ctx, m->layers);
  dcnn__release(m->ctx, m->params);
  dcnn__model_free_metadata(m);
  dcnn__release(m->ctx, m);
}

/* Smallest power of two >= n (n >= 1): the params array's capacity follows its
 * size, so appending a layer costs amortised O(its parameters), not O(layers). */
static int32_t param_capacity(int32_t n) {
  int32_t c = 16;
  while (c < n && c <= INT32_MAX / 2) c *= 2;
  return c < n ? n : c;
}

/* Appends the parameter references of the last layer to the index. */
static dcnn_status refresh_param_index(dcnn_model *m) {
  const int32_t last = m->layer_count - 1, added = dcnn_layer_param_tensor_count(m->layers[last]);
  DCNN_CHECK(added <= INT32_MAX - m->param_total, DCNN_ERR_INVALID_ARGUMENT, "dcnn_model_add: too many parameters");
  const int32_t total = m->param_total + added;
  if (!m->params || param_capacity(total) > param_capacity(m->param_total)) {
    dcnn_param_ref *refs = dcnn__calloc(m->ctx, (size_t)param_capacity(total), sizeof *refs);
    DCNN_CHECK(refs != NULL, DCNN_ERR_OUT_OF_MEMORY, "dcnn_model_add: out of memory");
    if (m->params) memcpy(refs, m->params, (size_t)m->param_total * sizeof *refs);
    dcnn__release(m->ctx, m->params);
    m->params = refs;
  }
  for (int32_t j = 0; j < added; ++j) m->params[m->param_total + j] = (dcnn_param_ref){last, j};
  m->param_total = total;
  return DCNN_OK;
}

/* Changes to the model that sessions would see half done are refused while they live. */
dcnn_status dcnn__model_check_no_sessions(const dcnn_model *m, const char *fn) {
  const int live = atomic_load(&((dcnn_model *)m)->live_sessions);
  DCNN_CHECK(live == 0, DCNN_ERR_INVALID_STATE,
             "%s: %d inference session(s) use this model; destroy them before changing it", fn, live);
  return DCNN_OK;
}

dcnn_status dcnn_model_add(dcnn_model *m, dcnn_layer *layer) {
  /* Its owner destroys it: refused, and left to that owner. */
  if (layer && layer->owned)
    return dcnn__fail(DCNN_ERR_INVALID_ARGUMENT,
                      "dcnn_model_add: the layer (%s) already belongs to a model or a residual block; a layer has one "
                      "owner", layer->vt->type_name);
  if (!m || !layer) {
    dcnn_layer_destroy(layer);
    return dcnn__fail(DCNN_ERR_INVALID_ARGUMENT, "dcnn_model_add: %s is NULL", m ? "'layer'" : "'model'");
  }
  const int32_t index = m->layer_count;
  dcnn_status status = dcnn__model_check_no_sessions(m, "dcnn_model_add");
  /* What a model file can hold (docs/model-format.md, "Limits"): refused here, not after training, at the save. */
  const int32_t records = dcnn__layer_records(layer, DCNN__MAX_LAYER_RECORDS - m->layer_records);
  if (status == DCNN_OK && records > DCNN__MAX_LAYER_RECORDS - m->layer_records)
    status = dcnn__fail(DCNN_ERR_INVALID_ARGUMENT,
                        "dcnn_model_add: layer %d (%s) would take the model past %d layer records (nested layers "
                        "counted), the limit of a model file",
                        (int)index, layer->vt->type_name, DCNN__MAX_LAYER_RECORDS);
  if (status != DCNN_OK) {
    dcnn_layer_destroy(layer);
    return status;
  }
  if (m->layer_count == m->layer_capacity) {
    int32_t capacity = m->layer_capacity ? 2 * m->layer_capacity : 16;
    dcnn_layer **grown = dcnn__calloc(m->ctx, (size_t)capacity, sizeof *grown);
    if (!grown) {
      dcnn_layer_destroy(layer);
      return dcnn__fail(DCNN_ERR_OUT_OF_MEMORY, "dcnn_model_add: out of memory");
    }
    if (m->layers) memcpy(grown, m->layers, (size_t)m->layer_count * sizeof *grown);
    dcnn__release(m->ctx, m->layers);
    m->layers = grown;
    m->layer_capacity = capacity;
  }
  const dcnn_shape input = index ? m->layers[index - 1]->output : m->input_shape;
  /* Layers index one sample with int32 arithmetic: larger samples are refused here, before any layer builds. */
  if (dcnn_shape_count(&input) > INT32_MAX) {
    char a[64];
    status = dcnn__fail(DCNN_ERR_SHAPE_MISMATCH, "layer %d (%s): input %s has more than 2^31-1 elements per sample",
                        (int)index, layer->vt->type_name, dcnn_shape_format(&input, a, sizeof a));
  } else if (layer->built) {
    char a[64], b[64];
    status = dcnn_shape_equal(&layer->input, &input)
                 ? DCNN_OK
                 : dcnn__fail(DCNN_ERR_SHAPE_MISMATCH, "layer %d (%s): built for input %s, model gives %s",
                              (int)index, layer->vt->type_name, dcnn_shape_format(&layer->input, a, sizeof a),
                              dcnn_shape_format(&input, b, sizeof b));
  } else {
    status = dcnn_layer_build(layer, m->ctx, &input);
    if (status != DCNN_OK) status = dcnn__wrap_error(status, "layer %d (%s)", (int)index, layer->vt->type_name);
  }
  if (status == DCNN_OK && dcnn_shape_count(&layer->output) > INT32_MAX) {
    char a[64];
    status = dcnn__fail(DCNN_ERR_SHAPE_MISMATCH, "layer %d (%s): output %s has more than 2^31-1 elements per sample",
                        (int)index, layer->vt->type_name, dcnn_shape_format(&layer->output, a, sizeof a));
  }
  if (status == DCNN_OK && layer->vt->init_params) {
    const uint64_t mark = dcnn__error_mark();
    status = layer->vt->init_params(layer->self, dcnn__layer_seed(m->seed, index));
    status = dcnn__callee_error(status, mark, "layer %d (%s) init_params", (int)index, layer->vt->type_name);
  }
  if (status != DCNN_OK) {
    dcnn_layer_destroy(layer);
    return status;
  }
  release_plan(m); /* the activations list changes with the layers */
  m->generation++;
  m->layers[m->layer_count++] = layer;
  status = refresh_param_index(m);
  if (status != DCNN_OK) {
    m->layer_count--;
    dcnn_layer_destroy(layer);
  } else {
    layer->owned = 1;
    m->layer_records += records;
    if (index) dcnn__conv_bn_link(m->layers[index - 1], layer, 0); /* a conv2d then batch norm: one output pass */
  }
  return status;
}

int32_t dcnn_model_layer_count(const dcnn_model *m) { return m ? m->layer_count : 0; }

dcnn_layer *dcnn_model_layer(dcnn_model *m, int32_t index) {
  if (!m || index < 0 || index >= m->layer_count) return NULL;
  return m->layers[index];
}

static dcnn_shape drop_batch(const dcnn_shape *s) {
  dcnn_shape r = {s->ndim - 1, {0, 0, 0, 0}};
  for (int32_t i = 1; i < s->ndim; ++i) r.dims[i - 1] = s->dims[i];
  return r;
}

dcnn_shape dcnn_model_output_shape(const dcnn_model *m) {
  if (!m) return dcnn_shape_make(0, 0, 0, 0, 0);
  return m->layer_count ? drop_batch(&m->layers[m->layer_count - 1]->output) : m->sample_shape;
}

dcnn_shape dcnn_model_input_shape(const dcnn_model *m) { return m ? m->sample_shape : dcnn_shape_make(0, 0, 0, 0, 0); }

int32_t dcnn_model_param_tensor_count(const dcnn_model *m) { return m ? m->param_total : 0; }

dcnn_status dcnn_model_param(dcnn_model *m, int32_t index, dcnn_param *out, int32_t *layer_index) {
  DCNN_CHECK_ARG_AS(m, "model");
  DCNN_CHECK_ARG(out);
  DCNN_CHECK(index >= 0 && index < m->param_total, DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_model_param: index %d outside 0..%d", (int)index, (int)m->param_total - 1);
  dcnn_param_ref ref = m->params[index];
  if (layer_index) *layer_index = ref.layer;
  return dcnn_layer_param(m->layers[ref.layer], ref.index, out);
}

int64_t dcnn_model_param_count(const dcnn_model *m, uint32_t flags) {
  if (!m) return 0;
  int64_t total = 0;
  /* A count cannot report a custom layer's failing param slot; it skips that
   * parameter and keeps the caller's message. */
  dcnn__error_saved saved;
  dcnn__error_save(&saved);
  for (int32_t i = 0; i < m->param_total; ++i) {
    dcnn_param p = DCNN_STRUCT_INIT(dcnn_param);
    if (dcnn_layer_param(m->layers[m->params[i].layer], m->params[i].index, &p) != DCNN_OK)
      dcnn__error_restore(&saved);
    else if (p.flags & flags)
      total += dcnn_tensor_count(p.value);
  }
  return total;
}

dcnn_status dcnn_model_init(dcnn_model *m, uint64_t seed) {
  DCNN_CHECK_ARG_AS(m, "model");
  DCNN_TRY(dcnn__model_check_no_sessions(m, "dcnn_model_init"));
  m->seed = seed;
  m->steps = 0;
  for (int32_t i = 0; i < m->layer_count; ++i) {
    dcnn_layer *l = m->layers[i];
    if (!l->vt->init_params) continue;
    const uint64_t mark = dcnn__error_mark();
    dcnn_status status = l->vt->init_params(l->self, dcnn__layer_seed(seed, i));
    if (status != DCNN_OK) return dcnn__callee_error(status, mark, "layer %d (%s) init_params", (int)i, l->vt->type_name);
  }
  return DCNN_OK;
}

dcnn_status dcnn__plan_pair(dcnn_context *ctx, const char *fn, int32_t max_batch, int64_t largest, int64_t workspace,
                            dcnn_tensor *pair[2], void **workspace_out) {
  dcnn_status status = DCNN_OK;
  for (int32_t g = 0; status == DCNN_OK && g < 2; ++g) {
    dcnn_shape flat = dcnn_shape_make(2, max_batch, (int32_t)largest, 0, 0);
    status = dcnn__tensor_create_capacity(ctx, &flat, 0, &pair[g]);
    if (status == DCNN_OK) pair[g]->shape_locked = 1;
  }
  if (status == DCNN_OK && workspace > 0) {
    *workspace_out = dcnn__alloc(ctx, (size_t)workspace);
    if (!*workspace_out)
      status = dcnn__fail(DCNN_ERR_OUT_OF_MEMORY, "%s: out of memory for a %lld-byte workspace", fn,
                          (long long)workspace);
  }
  return status;
}

dcnn_status dcnn_model_reserve(dcnn_model *m, int32_t max_batch) {
  DCNN_CHECK_ARG_AS(m, "model");
  DCNN_CHECK(max_batch >= 1, DCNN_ERR_INVALID_ARGUMENT, "dcnn_model_reserve: batch %d must be at least 1",
             (int)max_batch);
  /* Workspaces that depend on the thread count (conv2d's lanes) are sized
   * for the count planned with: a change re-plans, keeping the batch. */
  const int32_t threads = dcnn_context_threads(m->ctx);
  if (max_batch <= m->planned_batch && m->activations && threads == m->planned_threads) return DCNN_OK;
  if (m->activations && m->planned_batch > max_batch) max_batch = m->planned_batch;
  release_plan(m);
  dcnn_status status = DCNN_OK;
  int64_t largest = dcnn_shape_count(&m->input_shape), workspace = 0;
  m->activations = dcnn__calloc(m->ctx, (size_t)(m->layer_count ? m->layer_count : 1), sizeof *m->activations);
  if (!m->activations) status = dcnn__fail(DCNN_ERR_OUT_OF_MEMORY, "dcnn_model_reserve: out of memory");
  for (int32_t i = 0; status == DCNN_OK && i < m->layer_count; ++i) {
    dcnn_layer *l = m->layers[i];
    dcnn_shape shape = dcnn__with_batch(&l->output, max_batch);
    status = dcnn_tensor_create(m->ctx, &shape, &m->activations[i]);
    if (status == DCNN_OK) m->activations[i]->shape_locked = 1;
    if (status == DCNN_OK) status = dcnn__layer_plan(l, max_batch);
    if (status != DCNN_OK) status = dcnn__wrap_error(status, "layer %d (%s)", (int)i, l->vt->type_name);
    int64_t count = dcnn_shape_count(&l->output), ws = dcnn__layer_workspace(l, max_batch, threads, 0);
    if (count > largest) largest = count;
    if (ws > workspace) workspace = ws;
  }
  if (status == DCNN_OK)
    status = dcnn__plan_pair(m->ctx, "dcnn_model_reserve", max_batch, largest, workspace, m->gradients, &m->workspace);
  if (status != DCNN_OK) {
    release_plan(m);
    return status;
  }
  m->workspace_size = workspace;
  m->planned_batch = max_batch;
  m->planned_threads = threads;
  return DCNN_OK;
}

dcnn_status dcnn__model_check_batch(const dcnn_model *m, const char *fn, const dcnn_tensor *input) {
  DCNN_CHECK(m->layer_count > 0, DCNN_ERR_INVALID_STATE, "%s: the model has no layers", fn);
  dcnn_shape expected = dcnn__with_batch(&m->input_shape, input->shape.dims[0]);
  char a[64], b[64];
  DCNN_CHECK(dcnn_shape_equal(&input->shape, &expected), DCNN_ERR_SHAPE_MISMATCH,
             "%s: input is %s, the model takes (N, %s", fn, dcnn_shape_format(&input->shape, a, sizeof a),
             dcnn_shape_format(&m->sample_shape, b, sizeof b) + 1);
  return DCNN_OK;
}

/* Checks `input` against the model's sample shape and plans for its batch. */
static dcnn_status prepare_batch(dcnn_model *m, const char *fn, const dcnn_tensor *input, int32_t *batch) {
  DCNN_TRY(dcnn__model_check_batch(m, fn, input));
  *batch = input->shape.dims[0];
  return dcnn_model_reserve(m, *batch);
}

/* Execution state of a forward that backward follows (training, input
 * gradients, predictions of models with unshared layers), with the thread
 * count the workspace was planned for. */
static dcnn_exec make_exec(dcnn_model *m, int training) {
  dcnn_exec e = {.ctx = dcnn__context(m->ctx), .training = training, .threads = m->planned_threads,
                 .workspace = m->workspace, .workspace_size = m->workspace_size, .backward = 1,
                 .comm = m->comm, .sample_offset = m->sample_offset, .mute = m->mute};
  return e;
}

void dcnn__model_set_backward_listener(dcnn_model *m, dcnn_status (*done)(void *user, int32_t layer), void *user) {
  m->backward_done = done;
  m->backward_user = done ? user : NULL;
}

void dcnn__model_set_shard(dcnn_model *m, const struct dcnn_communicator *comm, int64_t sample_offset, int mute) {
  m->comm = comm;
  m->sample_offset = comm ? sample_offset : 0;
  m->mute = comm ? mute : 0;
}

/* Runs the layers forward on `input`; their outputs land in activations. */
static dcnn_status run_forward(dcnn_model *m, dcnn_exec *exec, const dcnn_tensor *input, int32_t batch,
                               dcnn_profile_pass pass) {
  const dcnn_tensor *x = input;
  const uint64_t step_seed = dcnn_random_derive(m->seed, (uint64_t)m->steps);
  for (int32_t i = 0; i < m->layer_count; ++i) {
    dcnn_layer *l = m->layers[i];
    dcnn_tensor *y = m->activations[i];
    DCNN_TRY(dcnn__tensor_set_batch(y, batch));
    exec->seed = dcnn__layer_seed(step_seed, i);
    const uint64_t mark = dcnn__error_mark();
    dcnn_status status = m->profile ? dcnn__profile_forward(m->profile, (int32_t)pass, i, l, exec, x, y)
                                    : l->vt->forward(l->self, exec, x, y);
    if (status != DCNN_OK) return dcnn__callee_error(status, mark, "layer %d (%s) forward", (int)i, l->vt->type_name);
    x = y;
  }
  return DCNN_OK;
}

/* Backward from the gradient of layer `last`'s output (in gradients[last % 2])
 * down to layer 0; the input gradient goes to `grad_input` if not NULL. */
static dcnn_status run_backward(dcnn_model *m, dcnn_exec *exec, const dcnn_tensor *input, int32_t last,
                                dcnn_tensor *grad_input) {
  const uint64_t step_seed = dcnn_random_derive(m->seed, (uint64_t)m->steps);
  for (int32_t i = last; i >= 0; --i) {
    dcnn_layer *l = m->layers[i];
    const dcnn_tensor *x = i ? m->activations[i - 1] : input;
    dcnn_tensor *dy = m->gradients[i % 2], *dx = NULL;
    if (i > 0) {
      dx = m->gradients[(i + 1) % 2];
      DCNN_TRY(dcnn__tensor_set_shape(dx, &x->shape));
    } else {
      dx = grad_input;
    }
    DCNN_CHECK(l->vt->backward != NULL, DCNN_ERR_UNSUPPORTED, "layer %d (%s) has no backward pass", (int)i,
               l->vt->type_name);
    exec->seed = dcnn__layer_seed(step_seed, i);
    const uint64_t mark = dcnn__error_mark();
    dcnn_status status = m->profile ? dcnn__profile_backward(m->profile, i, l, exec, x, m->activations[i], dy, dx)
                                    : l->vt->backward(l->self, exec, x, m->activations[i], dy, dx);
    if (status != DCNN_OK) return dcnn__callee_error(status, mark, "layer %d (%s) backward", (int)i, l->vt->type_name);
    if (m->backward_done) DCNN_TRY(m->backward_done(m->backward_user, i));
  }
  return DCNN_OK;
}

dcnn_status dcnn__check_finite_input(const char *fn, const dcnn_tensor *t) {
  for (int64_t i = 0; i < t->count; ++i)
    DCNN_CHECK(isfinite(t->data[i]), DCNN_ERR_NUMERIC, "%s: input element %lld is %g", fn, (long long)i,
               (double)t->data[i]);
  return DCNN_OK;
}

dcnn_status dcnn__check_finite_output(const char *fn, const dcnn_tensor *t) {
  for (int64_t i = 0; i < t->count; ++i)
    DCNN_CHECK(isfinite(t->data[i]), DCNN_ERR_NUMERIC,
               "%s: output element %lld is %g although the input is finite (an activation overflowed: check the "
               "input's scale and the weights)",
               fn, (long long)i, (double)t->data[i]);
  return DCNN_OK;
}

dcnn_status dcnn__model_forward(dcnn_model *m, const char *fn, const dcnn_tensor *input, int training,
                                const dcnn_tensor **scores, dcnn_tensor **grad_scores) {
  int32_t batch = 0;
  m->pass_ready = 0;
  DCNN_TRY(prepare_batch(m, fn, input, &batch));
  DCNN_TRY(dcnn__check_finite_input(fn, input));
  m->pass_exec = make_exec(m, training);
  DCNN_TRY(run_forward(m, &m->pass_exec, input, batch, DCNN_PROFILE_FORWARD));
  /* The scores a loss fused with a final softmax takes: that softmax's input. */
  int32_t top = m->layer_count - 1;
  if (dcnn__layer_is_softmax(m->layers[top])) top--;
  DCNN_CHECK(top >= 0, DCNN_ERR_INVALID_STATE, "%s: the model is only a softmax", fn);
  dcnn_tensor *grad = m->gradients[top % 2];
  DCNN_TRY(dcnn__tensor_set_shape(grad, &m->activations[top]->shape));
  m->pass_top = top;
  m->pass_ready = 1;
  if (scores) *scores = m->activations[top];
  if (grad_scores) *grad_scores = grad;
  return DCNN_OK;
}

dcnn_status dcnn__model_backward(dcnn_model *m, const char *fn, const dcnn_tensor *input, dcnn_tensor *grad_input) {
  DCNN_CHECK(m->pass_ready, DCNN_ERR_INVALID_STATE,
             "%s: no forward pass to follow (call dcnn_model_forward first, once before each backward pass)", fn);
  char a[64], b[64];
  const dcnn_shape forwarded = dcnn__with_batch(&m->input_shape, m->activations[0]->shape.dims[0]);
  DCNN_CHECK(dcnn_shape_equal(&input->shape, &forwarded), DCNN_ERR_SHAPE_MISMATCH,
             "%s: input is %s, the forward pass had %s", fn, dcnn_shape_format(&input->shape, a, sizeof a),
             dcnn_shape_format(&forwarded, b, sizeof b));
  DCNN_CHECK(!grad_input || dcnn_shape_equal(&input->shape, &grad_input->shape), DCNN_ERR_SHAPE_MISMATCH,
             "%s: grad_input is %s, input is %s", fn, dcnn_shape_format(&grad_input->shape, a, sizeof a),
             dcnn_shape_format(&input->shape, b, sizeof b));
  /* One backward per forward: the gradient buffers alternate between layers, and the caller's grad_scores is one
   * of them, overwritten on the way down; a second pass would start from that and return wrong gradients. */
  m->pass_ready = 0;
  return run_backward(m, &m->pass_exec, input, m->pass_top, grad_input);
}

void dcnn__model_step_done(dcnn_model *m) { m->steps++; }

dcnn_status dcnn_model_forward(dcnn_model *m, const dcnn_tensor *input, dcnn_pass_mode mode,
                               const dcnn_tensor **scores, dcnn_tensor **grad_scores) {
  DCNN_CHECK_ARG_AS(m, "model");
  DCNN_CHECK_ARG(input);
  DCNN_CHECK(mode == DCNN_PASS_INFERENCE || mode == DCNN_PASS_TRAINING, DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_model_forward: unknown mode %d", (int)mode);
  /* Training mode changes the running statistics that sessions read. */
  if (mode == DCNN_PASS_TRAINING) DCNN_TRY(dcnn__model_check_no_sessions(m, "dcnn_model_forward"));
  return dcnn__model_forward(m, "dcnn_model_forward", input, mode == DCNN_PASS_TRAINING, scores, grad_scores);
}

dcnn_status dcnn_model_backward(dcnn_model *m, const dcnn_tensor *input, dcnn_tensor *grad_input) {
  DCNN_CHECK_ARG_AS(m, "model");
  DCNN_CHECK_ARG(input);
  return dcnn__model_backward(m, "dcnn_model_backward", input, grad_input);
}

/* Inference of a model with a layer that does not declare shared inference
 * (a version-1 vtable): as before sessions existed, through the model's
 * planned activations, with `plan` called and backward_follows 1. */
static dcnn_status predict_planned(dcnn_model *m, const dcnn_tensor *input, dcnn_tensor *output) {
  const char *fn = "dcnn_model_predict";
  int32_t batch = 0;
  DCNN_TRY(prepare_batch(m, fn, input, &batch));
  const dcnn_layer *top = m->layers[m->layer_count - 1];
  const dcnn_shape expected = dcnn__with_batch(&top->output, batch);
  char a[64], b[64];
  DCNN_CHECK(dcnn_shape_equal(&output->shape, &expected), DCNN_ERR_SHAPE_MISMATCH, "%s: output is %s, expected %s",
             fn, dcnn_shape_format(&output->shape, a, sizeof a), dcnn_shape_format(&expected, b, sizeof b));
  DCNN_TRY(dcnn__check_finite_input(fn, input));
  dcnn_exec exec = make_exec(m, 0);
  m->pass_ready = 0; /* the activations change under a pending backward pass */
  DCNN_TRY(run_forward(m, &exec, input, batch, DCNN_PROFILE_INFERENCE));
  memcpy(output->data, m->activations[m->layer_count - 1]->data, (size_t)output->count * sizeof(float));
  return dcnn__check_finite_output(fn, output);
}

/* Replaces the model's own inference session. Its workspace is sized for the
 * convolutions' algorithms as they are now, which fixes them, as a plan does
 * (builtin_layers.h): a change afterwards would outgrow it. */
static dcnn_status new_predict_session(dcnn_model *m, int32_t max_batch, int32_t threads) {
  dcnn_session_destroy(m->predict_session);
  m->predict_session = NULL;
  DCNN_TRY(dcnn__session_create(m, max_batch, threads, 0, &m->predict_session));
  dcnn__conv2d_fix_algorithms(m->layers, m->layer_count);
  return DCNN_OK;
}

/* One forward implementation for inference: the model predicts through a
 * session of its own, re-planned when the batch grows, layers are added or the
 * context's thread count changes. */
dcnn_status dcnn_model_predict(dcnn_model *m, const dcnn_tensor *input, dcnn_tensor *output) {
  DCNN_CHECK_ARG_AS(m, "model");
  DCNN_CHECK_ARG(input);
  DCNN_CHECK_ARG(output);
  DCNN_CHECK(m->layer_count > 0, DCNN_ERR_INVALID_STATE, "dcnn_model_predict: the model has no layers");
  for (int32_t i = 0; i < m->layer_count; ++i)
    if (dcnn__layer_unshared(m->layers[i])) return predict_planned(m, input, output);
  const int32_t batch = input->shape.ndim > 0 ? input->shape.dims[0] : 0, threads = dcnn_context_threads(m->ctx);
  dcnn_session *s = m->predict_session;
  const dcnn_shape fits = dcnn__with_batch(&m->input_shape, batch);
  const int input_fits = batch >= 1 && dcnn_shape_equal(&input->shape, &fits);
  /* a stale session (layers added, threads changed) is replaced whatever the
   * input, so that a wrong input is named as such, not as the stale session */
  const int stale = s && (dcnn__session_threads(s) != threads || dcnn__session_generation(s) != m->generation);
  if (stale || (input_fits && (!s || batch > dcnn_session_max_batch(s)))) {
    int32_t max_batch = s ? dcnn_session_max_batch(s) : 1;
    if (input_fits && batch > max_batch) max_batch = batch;
    DCNN_TRY(new_predict_session(m, max_batch, threads));
  }
  if (!m->predict_session) DCNN_TRY(new_predict_session(m, 1, threads));
  return dcnn__session_run(m->predict_session, "dcnn_model_predict", input, output);
}

int64_t dcnn_model_step_count(const dcnn_model *m) { return m ? m->steps : 0; }

dcnn_context *dcnn_model_context(dcnn_model *m) { return dcnn__context(m ? m->ctx : NULL); }
