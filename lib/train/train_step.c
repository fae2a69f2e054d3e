/* The training step and the input gradient: the model's forward and backward
 * passes around the softmax cross-entropy loss, and for the step the
 * optimizer's update. The model knows nothing of losses or optimizers. */
#include <math.h>
#include <string.h>

#include "train_internal.h"

/* Forward in the given mode, then the loss and its gradient with respect to
 * the scores (the input of a final softmax, fused), written where the model's
 * backward pass starts. */
static dcnn_status forward_and_loss(dcnn_model *m, const char *fn, int training, const dcnn_tensor *input,
                                    const int32_t *labels, float smoothing, const float *targets, float grad_scale,
                                    float *loss, int32_t *correct) {
  DCNN_CHECK(labels != NULL, DCNN_ERR_INVALID_ARGUMENT, "%s: argument 'labels' is NULL", fn);
  const dcnn_tensor *logits = NULL;
  dcnn_tensor *grad = NULL;
  DCNN_TRY(dcnn__model_forward(m, fn, input, training, &logits, &grad));
  DCNN_CHECK(logits->shape.ndim == 2, DCNN_ERR_SHAPE_MISMATCH,
             "%s: the loss needs (N, classes) scores; layer %d (%s) gives %d dimensions", fn, (int)m->pass_top,
             m->layers[m->pass_top]->vt->type_name, (int)logits->shape.ndim);
  dcnn_profile *profile = dcnn__model_profile(m);
  float value = 0;
  const double t0 = profile ? dcnn__now() : 0;
  dcnn_status status = targets ? dcnn_softmax_cross_entropy_soft(logits, targets, NULL, grad, &value)
                               : dcnn_softmax_cross_entropy_smoothed(logits, labels, smoothing, NULL, grad, &value);
  if (status != DCNN_OK) return dcnn__wrap_error(status, "%s", fn);
  if (grad_scale != 1.0f) /* a process's part of the global batch's mean loss */
    for (int64_t i = 0; i < grad->count; ++i) grad->data[i] *= grad_scale;
  if (correct) {
    const int32_t batch = logits->shape.dims[0], k = logits->shape.dims[1];
    int32_t hits = 0;
    for (int32_t i = 0; i < batch; ++i) {
      const float *z = logits->data + (int64_t)i * k; /* (k) scores of sample i */
      int32_t best = 0;
      for (int32_t j = 1; j < k; ++j)
        if (z[j] > z[best]) best = j;
      hits += best == labels[i];
    }
    *correct = hits;
  }
  if (profile) dcnn__profile_phase(profile, DCNN_PROFILE_LOSS, dcnn__now() - t0, 1);
  if (loss) *loss = value;
  return DCNN_OK;
}

dcnn_status dcnn_model_train_step(dcnn_model *m, dcnn_optimizer *optimizer, const dcnn_tensor *input,
                                  const int32_t *labels, float *loss, int32_t *correct) {
  return dcnn__model_train_step(m, optimizer, input, labels, 0.0f, NULL, NULL, loss, correct);
}

/* Undoes what a refused step changed: the batch-norm buffers, and the binding
 * of an optimizer that was fresh before it. Returns `status`. */
static dcnn_status refuse_step(dcnn_optimizer *o, dcnn_model *m, int was_bound, dcnn_status status) {
  dcnn__optimizer_restore_buffers(o, m);
  if (!was_bound) dcnn__optimizer_release(o);
  return status;
}

dcnn_status dcnn__model_train_step(dcnn_model *m, dcnn_optimizer *optimizer, const dcnn_tensor *input,
                                   const int32_t *labels, float label_smoothing, const float *targets,
                                   dcnn__shard *shard, float *loss, int32_t *correct) {
  static const char fn[] = "dcnn_model_train_step";
  DCNN_CHECK(m != NULL, DCNN_ERR_INVALID_ARGUMENT, "%s: argument 'model' is NULL", fn);
  DCNN_CHECK_ARG_IN(fn, optimizer);
  DCNN_CHECK_ARG_IN(fn, input);
  DCNN_TRY(dcnn__model_check_no_sessions(m, fn));
  dcnn_profile *profile = dcnn__model_profile(m);
  float value = 0;
  /* A refused step (non-finite or diverged loss, non-finite update) leaves
   * the weights and buffers of the last good step: the forward pass changes
   * the buffers, so the optimizer copies them first (the weights need no
   * copy: the update checks every new value before writing any). */
  /* A fresh optimizer binds to the model here; a step refused before its
   * update leaves it unbound again, so that a bad first call (no labels, a
   * wrong shape) does not tie it to a model it never stepped. */
  const int was_bound = dcnn__optimizer_is_bound(optimizer);
  const double t0 = profile ? dcnn__now() : 0;
  DCNN_TRY(dcnn__optimizer_save_buffers(optimizer, m));
  const double saved = profile ? dcnn__now() - t0 : 0;
  const float grad_scale = shard ? (float)shard->local / (float)shard->global : 1.0f;
  int32_t hits = 0;
  if (shard) shard->decided = 0;
  dcnn__model_set_shard(m, shard ? shard->comm : NULL, shard ? shard->offset : 0, shard ? shard->mute : 0);
  dcnn_status status = forward_and_loss(m, fn, 1, input, labels, label_smoothing, targets, grad_scale, &value, &hits);
  if (status == DCNN_OK && shard) { /* the global batch's loss and hits, so that every process decides alike */
    const int counts = !shard->mute;
    double sums[3] = {counts ? (double)value * shard->local : 0.0, counts ? (double)hits : 0.0,
                      shard->cancel ? 1.0 : 0.0};
    const double t1 = profile ? dcnn__now() : 0;
    status = dcnn__comm_allreduce(shard->comm, sums, 3, DCNN_COMM_FLOAT64);
    if (profile) dcnn__profile_phase(profile, DCNN_PROFILE_COMM, dcnn__now() - t1, 0);
    shard->decided = status == DCNN_OK; /* from here on, every process decides on the same numbers */
    value = (float)(sums[0] / shard->global);
    hits = (int32_t)sums[1];
    if (status == DCNN_OK && sums[2] > 0) /* every process sees the same sum: all refuse this step */
      status = dcnn__fail(DCNN_ERR_CANCELLED, "dcnn_trainer_fit: cancelled by the progress callback of %d of %d "
                          "processes", (int)sums[2], (int)shard->comm->size(shard->comm->user));
  }
  if (status == DCNN_OK && loss) *loss = value;
  if (status == DCNN_OK && correct) *correct = hits;
  if (status == DCNN_OK && !(isfinite(value) && value <= DCNN_LOSS_DIVERGED))
    status = dcnn__fail(DCNN_ERR_NUMERIC, "dcnn_model_train_step: the loss is %g (above %g): training has diverged, "
                        "the weights were left as they were; try a smaller learning rate", (double)value,
                        DCNN_LOSS_DIVERGED);
  if (status != DCNN_OK) {
    dcnn__model_set_shard(m, NULL, 0, 0);
    return refuse_step(optimizer, m, was_bound, status);
  }
  /* A backward pass can fail (out of memory for OpenBLAS's buffers): the
   * forward pass already changed the running statistics. */
  if (shard) { /* each layer's gradients are summed over the processes as soon as the pass has them */
    dcnn__grad_sync_begin(shard->sync, m, shard->comm, shard->mute);
    dcnn__model_set_backward_listener(m, dcnn__grad_sync_layer_done, shard->sync);
  }
  status = dcnn__model_backward(m, fn, input, NULL);
  if (shard) {
    dcnn__model_set_backward_listener(m, NULL, NULL);
    status = dcnn__grad_sync_finish(shard->sync, status);
    if (profile) dcnn__profile_phase(profile, DCNN_PROFILE_COMM, shard->sync->seconds, 1);
  }
  dcnn__model_set_shard(m, NULL, 0, 0);
  if (status != DCNN_OK) {
    /* this process's own failure (a user layer's NUMERIC too), however many agreed on the loss: the job ends */
    if (shard) shard->decided = 0;
    return refuse_step(optimizer, m, was_bound, status);
  }
  const double t1 = profile ? dcnn__now() : 0;
  status = dcnn__optimizer_update(optimizer, m, 1);
  if (status != DCNN_OK) return refuse_step(optimizer, m, was_bound, status);
  if (profile) dcnn__profile_phase(profile, DCNN_PROFILE_UPDATE, saved + dcnn__now() - t1, 1);
  dcnn__model_step_done(m);
  return DCNN_OK;
}

dcnn_status dcnn_model_input_gradient(dcnn_model *m, const dcnn_tensor *input, const int32_t *labels,
                                      dcnn_tensor *grad_input, float *loss) {
  static const char fn[] = "dcnn_model_input_gradient";
  DCNN_CHECK_ARG_AS(m, "model");
  DCNN_CHECK_ARG(input);
  DCNN_CHECK_ARG(grad_input);
  char a[64], b[64];
  DCNN_CHECK(dcnn_shape_equal(&input->shape, &grad_input->shape), DCNN_ERR_SHAPE_MISMATCH,
             "%s: grad_input is %s, input is %s", fn, dcnn_shape_format(&grad_input->shape, a, sizeof a),
             dcnn_shape_format(&input->shape, b, sizeof b));
  DCNN_TRY(forward_and_loss(m, fn, 0, input, labels, 0.0f, NULL, 1.0f, loss, NULL));
  DCNN_TRY(dcnn__model_backward(m, fn, input, grad_input));
  /* As a training step refuses a non-finite gradient: an attack would step by its sign. */
  const float *g = grad_input->data;
  const int64_t count = dcnn_tensor_count(grad_input);
  for (int64_t i = 0; i < count; ++i)
    DCNN_CHECK(isfinite(g[i]), DCNN_ERR_NUMERIC,
               "%s: element %lld of the input gradient is %g: the weights are too large for float", fn, (long long)i,
               (double)g[i]);
  return DCNN_OK;
}
