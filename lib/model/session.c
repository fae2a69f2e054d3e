/* Inference sessions: the per-call state of inference (activations, workspace)
 * moved out of the model, so one model serves many threads. The model's
 * layers are only read here; forward runs with backward_follows == 0, which
 * obliges every layer to leave itself untouched (layer_interface.h). */
#include <string.h>

#include "model_internal.h"
#include "../layers/conv_bn.h"

struct dcnn_session {
  const dcnn_model *model;
  dcnn_context *ctx;
  int32_t max_batch, threads;
  int counted;
  uint64_t generation;
  dcnn_tensor *buffers[2]; /* (max_batch, largest layer output) each; layer i writes buffers[i % 2] */
  void *workspace;         /* largest workspace_size over the layers at max_batch */
  int64_t workspace_size;
  /* Per-layer memory kept between calls (dcnn_exec.cache): layer i's is
   * caches + cache_offset[i], cache_size[i] bytes (0: none). */
  unsigned char *caches;
  int64_t *cache_offset, *cache_size; /* (layer_count) */
};

/* Bytes of per-layer caches a session keeps at most (transformed filters:
 * the paper CNN needs 1.3 MiB; VGG-16 would need about 180 MiB, so its last layers go without). */
#ifndef DCNN_SESSION_CACHE_BYTES
#define DCNN_SESSION_CACHE_BYTES ((int64_t)64 << 20)
#endif
#define CACHE_ALIGN 64

/* Lays out the layers' caches in layer order while they fit the budget, and allocates them zeroed. */
static dcnn_status plan_caches(dcnn_session *s) {
  const dcnn_model *m = s->model;
  s->cache_offset = dcnn__calloc(s->ctx, (size_t)m->layer_count, sizeof *s->cache_offset);
  s->cache_size = dcnn__calloc(s->ctx, (size_t)m->layer_count, sizeof *s->cache_size);
  DCNN_CHECK(s->cache_offset && s->cache_size, DCNN_ERR_OUT_OF_MEMORY, "dcnn_session_create: out of memory");
  int64_t total = 0;
  for (int32_t i = 0; i < m->layer_count; ++i) {
    const dcnn_layer *l = m->layers[i];
    const int64_t bytes = l->inference_cache_size ? l->inference_cache_size(l->self) : 0;
    const int64_t rounded = (bytes + CACHE_ALIGN - 1) / CACHE_ALIGN * CACHE_ALIGN;
    if (bytes <= 0 || rounded > DCNN_SESSION_CACHE_BYTES - total) continue;
    s->cache_offset[i] = total;
    s->cache_size[i] = bytes;
    total += rounded;
  }
  if (total == 0) return DCNN_OK;
  s->caches = dcnn__alloc(s->ctx, (size_t)total);
  DCNN_CHECK(s->caches != NULL, DCNN_ERR_OUT_OF_MEMORY, "dcnn_session_create: out of memory for %lld bytes of caches",
             (long long)total);
  memset(s->caches, 0, (size_t)total);
  return DCNN_OK;
}

void dcnn_session_destroy(dcnn_session *s) {
  if (!s) return;
  if (s->counted) atomic_fetch_sub(&((dcnn_model *)s->model)->live_sessions, 1);
  dcnn_tensor_destroy(s->buffers[0]);
  dcnn_tensor_destroy(s->buffers[1]);
  dcnn__release(s->ctx, s->workspace);
  dcnn__release(s->ctx, s->caches);
  dcnn__release(s->ctx, s->cache_offset);
  dcnn__release(s->ctx, s->cache_size);
  dcnn__release(s->ctx, s);
}

dcnn_status dcnn__session_create(const dcnn_model *m, int32_t max_batch, int32_t threads, int counted,
                                 dcnn_session **out) {
  DCNN_CHECK_ARG_IN("dcnn_session_create", out);
  *out = NULL;
  DCNN_CHECK(m != NULL, DCNN_ERR_INVALID_ARGUMENT, "dcnn_session_create: argument 'model' is NULL");
  DCNN_CHECK(m->layer_count > 0, DCNN_ERR_INVALID_STATE, "dcnn_session_create: the model has no layers");
  DCNN_CHECK(max_batch >= 1, DCNN_ERR_INVALID_ARGUMENT, "dcnn_session_create: max_batch %d must be at least 1",
             (int)max_batch);
  /* Layer workspaces are sized for the context's thread count, so a session
   * cannot use more threads than that. */
  const int32_t available = dcnn_context_threads(m->ctx);
  DCNN_CHECK(threads >= 0 && threads <= available, DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_session_create: threads %d must be 0 (the context's) or 1 to the context's %d", (int)threads,
             (int)available);
  if (threads == 0) threads = available;
  /* Sessions share the layers between threads and never plan them: every
   * layer must have promised that its inference forward allows it. */
  for (int32_t i = 0; i < m->layer_count; ++i) {
    const dcnn_layer *l = m->layers[i], *unshared = dcnn__layer_unshared(l);
    if (!unshared) continue;
    if (unshared == l)
      return dcnn__fail(DCNN_ERR_UNSUPPORTED,
                        "dcnn_session_create: layer %d (%s) does not declare DCNN_LAYER_SHARED_INFERENCE (vtable ABI "
                        "version %u), so it cannot be shared by sessions; use dcnn_model_predict()",
                        (int)i, l->vt->type_name, (unsigned)l->vt->abi_version);
    return dcnn__fail(DCNN_ERR_UNSUPPORTED,
                      "dcnn_session_create: layer %d (%s) contains a '%s' layer that does not declare "
                      "DCNN_LAYER_SHARED_INFERENCE, so it cannot be shared by sessions; use dcnn_model_predict()",
                      (int)i, l->vt->type_name, unshared->vt->type_name);
  }
  int64_t largest = 1, workspace = 0;
  for (int32_t i = 0; i < m->layer_count; ++i) {
    const dcnn_layer *l = m->layers[i];
    int64_t count = dcnn_shape_count(&l->output), ws = dcnn__layer_workspace(l, max_batch, threads, 1);
    if (count > largest) largest = count;
    if (ws > workspace) workspace = ws;
  }
  DCNN_CHECK(largest <= INT32_MAX, DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_session_create: a layer output of %lld values is too large", (long long)largest);
  dcnn_session *s = dcnn__calloc(m->ctx, 1, sizeof *s);
  DCNN_CHECK(s != NULL, DCNN_ERR_OUT_OF_MEMORY, "dcnn_session_create: out of memory");
  s->model = m;
  s->ctx = m->ctx;
  s->max_batch = max_batch;
  s->threads = threads;
  s->generation = m->generation;
  dcnn_status status =
      dcnn__plan_pair(s->ctx, "dcnn_session_create", max_batch, largest, workspace, s->buffers, &s->workspace);
  if (status != DCNN_OK) {
    dcnn_session_destroy(s);
    return dcnn__wrap_error(status, "dcnn_session_create");
  }
  s->workspace_size = workspace;
  status = plan_caches(s);
  if (status != DCNN_OK) {
    dcnn_session_destroy(s);
    return status;
  }
  if (counted) {
    s->counted = 1;
    atomic_fetch_add(&((dcnn_model *)m)->live_sessions, 1);
  }
  *out = s;
  return DCNN_OK;
}

dcnn_status dcnn_session_create(const dcnn_model *model, int32_t max_batch, int32_t threads, dcnn_session **out) {
  return dcnn__session_create(model, max_batch, threads, 1, out);
}

int32_t dcnn_session_max_batch(const dcnn_session *s) { return s ? s->max_batch : 0; }
int32_t dcnn__session_threads(const dcnn_session *s) { return s->threads; }
uint64_t dcnn__session_generation(const dcnn_session *s) { return s->generation; }

dcnn_status dcnn__session_run(dcnn_session *s, const char *fn, const dcnn_tensor *input, dcnn_tensor *output) {
  DCNN_CHECK(s != NULL, DCNN_ERR_INVALID_ARGUMENT, "%s: argument 'session' is NULL", fn);
  DCNN_CHECK(input != NULL, DCNN_ERR_INVALID_ARGUMENT, "%s: argument 'input' is NULL", fn);
  DCNN_CHECK(output != NULL, DCNN_ERR_INVALID_ARGUMENT, "%s: argument 'output' is NULL", fn);
  const dcnn_model *m = s->model;
  DCNN_CHECK(s->generation == m->generation, DCNN_ERR_INVALID_STATE,
             "%s: layers were added to the model after the session was created; create a new session", fn);
  char a[64], b[64];
  dcnn_shape expected = dcnn__with_batch(&m->input_shape, input->shape.dims[0]);
  DCNN_CHECK(dcnn_shape_equal(&input->shape, &expected), DCNN_ERR_SHAPE_MISMATCH,
             "%s: input is %s, the model takes (N, %s", fn, dcnn_shape_format(&input->shape, a, sizeof a),
             dcnn_shape_format(&m->sample_shape, b, sizeof b) + 1);
  const int32_t batch = input->shape.dims[0];
  DCNN_CHECK(batch <= s->max_batch, DCNN_ERR_INVALID_ARGUMENT,
             "%s: batch %d exceeds the session's max_batch %d; create the session for larger batches", fn, (int)batch,
             (int)s->max_batch);
  DCNN_TRY(dcnn__check_finite_input(fn, input));
  const dcnn_layer *top = m->layers[m->layer_count - 1];
  expected = dcnn__with_batch(&top->output, batch);
  DCNN_CHECK(dcnn_shape_equal(&output->shape, &expected), DCNN_ERR_SHAPE_MISMATCH, "%s: output is %s, expected %s",
             fn, dcnn_shape_format(&output->shape, a, sizeof a), dcnn_shape_format(&expected, b, sizeof b));
  dcnn_exec exec = {.ctx = dcnn__context(s->ctx), .threads = s->threads, .workspace = s->workspace,
                    .workspace_size = s->workspace_size, .backward = 0};
  const uint64_t step_seed = dcnn_random_derive(m->seed, (uint64_t)m->steps);
  const dcnn_tensor *x = input;
  /* Only the model's own session (dcnn_model_predict) records: user sessions run in other threads. */
  dcnn_profile *profile = s->counted ? NULL : m->profile;
  int slot = 0; /* the buffer the next layer writes */
  for (int32_t i = 0; i < m->layer_count; ++i) {
    dcnn_layer *l = m->layers[i];
    dcnn_tensor *y = s->buffers[slot];
    dcnn_shape shape = dcnn__with_batch(&l->output, batch);
    DCNN_TRY(dcnn__tensor_set_shape(y, &shape));
    exec.seed = dcnn__layer_seed(step_seed, i);
    /* A conv2d writes its batch norm's output, which is then skipped (conv_bn.h):
     * the profile counts both in the conv's row. */
    exec.fold = i + 1 < m->layer_count && dcnn__conv_bn_folds(l, m->layers[i + 1]);
    exec.cache = s->cache_size[i] > 0 ? s->caches + s->cache_offset[i] : NULL;
    exec.cache_size = s->cache_size[i];
    exec.cache_owner = l->self;
    const uint64_t mark = dcnn__error_mark();
    dcnn_status status = profile ? dcnn__profile_forward(profile, DCNN_PROFILE_INFERENCE, i, l, &exec, x, y)
                                 : l->vt->forward(l->self, &exec, x, y);
    if (status != DCNN_OK) return dcnn__callee_error(status, mark, "layer %d (%s) forward", (int)i, l->vt->type_name);
    x = y;
    slot ^= 1;
    i += exec.fold;
  }
  memcpy(output->data, x->data, (size_t)x->count * sizeof(float));
  return dcnn__check_finite_output(fn, output);
}

dcnn_status dcnn_session_predict(dcnn_session *s, const dcnn_tensor *input, dcnn_tensor *output) {
  return dcnn__session_run(s, "dcnn_session_predict", input, output);
}
