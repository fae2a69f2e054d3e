/* The data-parallel gradient sum of a training step (docs/distributed.md,
 * "Gradient buckets"). Every trainable gradient has a place in one flat
 * buffer, top layer first: the order in which the backward pass completes
 * them. The buffer is cut into buckets of `bucket_floats`. As the backward
 * pass finishes a layer, its gradients are copied in, and every bucket that
 * is then complete is started (the communicator's allreduce_start), so the
 * sums run while the lower layers are still being differentiated; without
 * allreduce_start it is summed at once (allreduce_sum). After the pass the
 * buckets are waited for in order and copied back. The buckets depend only on
 * the model, so every process starts the same collectives in the same order. */
#include <string.h>

#include "train_internal.h"

void dcnn__grad_sync_free(dcnn__grad_sync *s) {
  dcnn__release(s->ctx, s->flat);
  dcnn__release(s->ctx, s->order);
  dcnn__release(s->ctx, s->offset);
  dcnn__release(s->ctx, s->layer_first);
  dcnn__release(s->ctx, s->requests);
  memset(s, 0, sizeof *s);
}

/* owner[i] (params): the layer of parameter i if it is trainable and has a
 * gradient, else -1; floats[i] its gradient's size; *eligible: how many
 * have a gradient to sum. One pass over the parameters. */
static dcnn_status trainable_owners(dcnn_model *m, int32_t params, int32_t *owner, int64_t *floats, int32_t *eligible) {
  *eligible = 0;
  for (int32_t i = 0; i < params; ++i) {
    dcnn_param p = DCNN_STRUCT_INIT(dcnn_param);
    owner[i] = -1;
    DCNN_TRY(dcnn_model_param(m, i, &p, &owner[i]));
    if (!(p.flags & DCNN_PARAM_TRAINABLE) || !p.grad) {
      owner[i] = -1;
      continue;
    }
    floats[i] = dcnn_tensor_count(p.grad);
    ++*eligible;
  }
  return DCNN_OK;
}

dcnn_status dcnn__grad_sync_plan(dcnn__grad_sync *s, dcnn_context *ctx, dcnn_model *m, const dcnn_communicator *comm) {
  /* Started and blocking sums do not match each other (MPI-3), so the job
   * starts buckets only when every process's communicator can: one small
   * all-reduce per fit, the same answer everywhere. */
  double can_start = comm->allreduce_start && comm->allreduce_wait ? 1.0 : 0.0;
  DCNN_TRY(dcnn__comm_allreduce(comm, &can_start, 1, DCNN_COMM_FLOAT64));
  const int32_t size = comm->size(comm->user);
  if (can_start > 0 && can_start < size)
    dcnn__log(ctx, DCNN_LOG_WARN, "dcnn_trainer_fit: %d of %d processes' communicators start all-reduces "
              "(allreduce_start), the others do not: every process sums its gradient buckets blocking",
              (int)can_start, (int)size);
  /* Planned afresh every fit (cheap): a parameter's flags or gradient may have changed since. */
  dcnn__grad_sync_free(s);
  s->overlap = can_start == size;
  s->bucket_floats = s->overlap ? DCNN__STARTED_BUCKET_FLOATS : DCNN__BUCKET_FLOATS;
  const int32_t params = dcnn_model_param_tensor_count(m), layers = dcnn_model_layer_count(m);
  s->ctx = ctx;
  s->order = dcnn__alloc(ctx, ((size_t)params + 1) * sizeof *s->order);
  s->offset = dcnn__alloc(ctx, ((size_t)params + 1) * sizeof *s->offset);
  s->layer_first = dcnn__alloc(ctx, ((size_t)layers + 1) * sizeof *s->layer_first); /* (layers + 1) */
  if (!s->order || !s->offset || !s->layer_first) goto out_of_memory;
  int32_t *owner = dcnn__alloc(ctx, ((size_t)params + 1) * sizeof *owner); /* (params) */
  int64_t *sizes = dcnn__alloc(ctx, ((size_t)params + 1) * sizeof *sizes); /* (params) */
  if (!owner || !sizes) {
    dcnn__release(ctx, owner);
    dcnn__release(ctx, sizes);
    goto out_of_memory;
  }
  int32_t expected = 0; /* every trainable gradient must find its layer */
  const dcnn_status status = trainable_owners(m, params, owner, sizes, &expected);
  int32_t at = 0;
  int64_t floats = 0;
  for (int32_t layer = layers - 1; status == DCNN_OK && layer >= 0; --layer) { /* top layer first */
    s->layer_first[layer] = at;
    for (int32_t i = 0; i < params; ++i)
      if (owner[i] == layer) {
        s->order[at] = i;
        s->offset[at++] = floats;
        floats += sizes[i];
      }
  }
  dcnn__release(ctx, owner);
  dcnn__release(ctx, sizes);
  if (status != DCNN_OK) {
    dcnn__grad_sync_free(s);
    return status;
  }
  if (at != expected) {
    dcnn__grad_sync_free(s);
    return dcnn__fail(DCNN_ERR_INVALID_STATE, "dcnn_trainer_fit: %d of the model's %d trainable gradients belong to "
                      "no layer, so they could not be summed over the processes", (int)(expected - at), (int)expected);
  }
  s->offset[at] = floats;
  s->trainable = at;
  s->floats = floats;
  s->buckets = floats ? (int32_t)((floats + s->bucket_floats - 1) / s->bucket_floats) : 0;
  s->flat = dcnn__alloc(ctx, ((size_t)floats + 1) * sizeof(float));
  s->requests = dcnn__alloc(ctx, ((size_t)s->buckets + 1) * sizeof *s->requests);
  if (!s->flat || !s->requests) goto out_of_memory;
  return DCNN_OK;
out_of_memory:
  dcnn__grad_sync_free(s);
  return dcnn__fail(DCNN_ERR_OUT_OF_MEMORY, "dcnn_trainer_fit: out of memory for the gradient buckets");
}

void dcnn__grad_sync_begin(dcnn__grad_sync *s, dcnn_model *m, const dcnn_communicator *comm, int mute) {
  s->model = m;
  s->comm = comm;
  s->mute = mute;
  s->packed = 0;
  s->next = s->tested = 0;
  s->started = 0;
  s->seconds = 0;
}

/* Floats [first, end) of bucket b. */
static int64_t bucket_end(const dcnn__grad_sync *s, int32_t b) {
  const int64_t end = (int64_t)(b + 1) * s->bucket_floats;
  return end < s->floats ? end : s->floats;
}

/* Starts (or, without allreduce_start, sums) every bucket that is complete. */
static dcnn_status start_complete_buckets(dcnn__grad_sync *s) {
  const dcnn_communicator *c = s->comm;
  while (s->started < s->buckets && bucket_end(s, s->started) <= s->packed) {
    const int64_t first = (int64_t)s->started * s->bucket_floats, n = bucket_end(s, s->started) - first;
    if (s->overlap) {
      s->requests[s->started] = NULL;
      DCNN_TRY(dcnn__comm_start(c, s->flat + first, n, DCNN_COMM_FLOAT32, &s->requests[s->started]));
    } else {
      DCNN_TRY(dcnn__comm_allreduce(c, s->flat + first, n, DCNN_COMM_FLOAT32));
    }
    s->started++;
  }
  /* Transports that advance only inside their own calls get a turn here
   * (buckets complete in order: the first one not done is polled first). */
  for (; s->overlap && c->allreduce_test && s->tested < s->started; ++s->tested) {
    int done = 0;
    DCNN_TRY(dcnn__comm_test(c, s->requests[s->tested], &done));
    if (!done) break;
  }
  return DCNN_OK;
}

dcnn_status dcnn__grad_sync_layer_done(void *user, int32_t layer) {
  dcnn__grad_sync *s = user;
  dcnn_model *m = s->model;
  const double t0 = dcnn__now();
  const int32_t end = layer > 0 ? s->layer_first[layer - 1] : s->trainable;
  /* Buckets are complete only if the layers report top down, each once. */
  DCNN_CHECK(s->offset[s->layer_first[layer]] == s->packed, DCNN_ERR_INVALID_STATE,
             "dcnn_model_train_step: layer %d's gradients finished out of order (%lld of %lld gradient floats "
             "before it)", (int)layer, (long long)s->packed, (long long)s->offset[s->layer_first[layer]]);
  for (int32_t k = s->layer_first[layer]; k < end; ++k) {
    dcnn_param p = DCNN_STRUCT_INIT(dcnn_param);
    DCNN_TRY(dcnn_model_param(m, s->order[k], &p, NULL));
    const int64_t n = s->offset[k + 1] - s->offset[k];
    if (s->mute) memset(s->flat + s->offset[k], 0, (size_t)n * sizeof(float));
    else memcpy(s->flat + s->offset[k], dcnn_tensor_data_const(p.grad), (size_t)n * sizeof(float));
    s->packed = s->offset[k + 1];
  }
  dcnn_status status = start_complete_buckets(s);
  s->seconds += dcnn__now() - t0;
  return status;
}

dcnn_status dcnn__grad_sync_finish(dcnn__grad_sync *s, dcnn_status status) {
  const double t0 = dcnn__now();
  if (status == DCNN_OK && s->packed != s->floats)
    status = dcnn__fail(DCNN_ERR_INVALID_STATE, "dcnn_model_train_step: the backward pass completed %lld of %lld "
                        "gradient floats", (long long)s->packed, (long long)s->floats);
  /* Every started all-reduce is waited for, also after an error: its buffer
   * is the transport's until then. */
  for (; s->next < s->started; ++s->next)
    if (s->overlap) {
      dcnn__error_saved own; /* the first error outranks later ones */
      if (status != DCNN_OK) dcnn__error_save(&own);
      const dcnn_status waited = dcnn__comm_wait(s->comm, s->requests[s->next]);
      if (status == DCNN_OK) status = waited;
      else dcnn__error_restore(&own);
    }
  for (int32_t k = 0; status == DCNN_OK && k < s->trainable; ++k) {
    dcnn_param p = DCNN_STRUCT_INIT(dcnn_param);
    status = dcnn_model_param(s->model, s->order[k], &p, NULL);
    if (status == DCNN_OK)
      memcpy(dcnn_tensor_data(p.grad), s->flat + s->offset[k], (size_t)(s->offset[k + 1] - s->offset[k]) * sizeof(float));
  }
  s->seconds += dcnn__now() - t0;
  return status;
}
