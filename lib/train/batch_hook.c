/* The trainer's batch hook: one transform of every training batch, with the
 * user data's lifetime and checkpoint state it may bring. Adversarial
 * training (lib/robustness) plugs in here; the trainer knows only the hook. */
#include <string.h>

#include "../core/struct_size.h"
#include "train_internal.h"

dcnn_context *dcnn_trainer_context(const dcnn_trainer *t) { return t ? dcnn__context(t->ctx) : NULL; }

int dcnn__trainer_has_hook(const dcnn_trainer *t) { return t->hook.transform || t->hook.transform_slice; }

void dcnn__trainer_drop_hook(dcnn_trainer *t) {
  if (dcnn__trainer_has_hook(t) && t->hook.release) t->hook.release(t->hook.user);
  memset(&t->hook, 0, sizeof t->hook);
}

dcnn_status dcnn_trainer_set_batch_hook(dcnn_trainer *t, const dcnn_batch_hook *hook) {
  static const char fn[] = "dcnn_trainer_set_batch_hook";
  DCNN_CHECK_ARG(t);
  if (!hook) {
    dcnn__trainer_drop_hook(t);
    return DCNN_OK;
  }
  /* The rules of every struct that grows (struct_size.h): below 0.2's layout
   * refused, a newer header's fields that are set but unknown here refused. */
  dcnn_batch_hook copy;
  memset(&copy, 0, sizeof copy);
  DCNN_TRY(dcnn__struct_read(fn, "dcnn_batch_hook", &copy, sizeof copy, hook, DCNN__BATCH_HOOK_SIZE_0_2));
  DCNN_CHECK(copy.transform != NULL || copy.transform_slice != NULL, DCNN_ERR_INVALID_ARGUMENT,
             "%s: the hook's transform and transform_slice are both NULL", fn);
  DCNN_CHECK((copy.save_state == NULL) == (copy.load_state == NULL), DCNN_ERR_INVALID_ARGUMENT,
             "%s: a hook with checkpoint state needs both save_state and load_state", fn);
  /* The same user again is kept, never released (see set_communicator). */
  if (t->hook.user != copy.user) dcnn__trainer_drop_hook(t);
  t->hook = copy;
  return DCNN_OK;
}

dcnn_status dcnn__trainer_run_hook(dcnn_trainer *t, dcnn_tensor *batch, const int32_t *labels, int64_t offset,
                                   int32_t global) {
  const dcnn_shape shape = batch->shape;
  const int64_t step = dcnn_model_step_count(t->model);
  const uint64_t mark = dcnn__error_mark(); /* user code: its failure gets a message of its own */
  if (t->hook.transform_slice) {
    const dcnn_batch_slice slice = {sizeof slice, step, (int32_t)offset, global};
    DCNN_TRY(dcnn__callee_error(t->hook.transform_slice(t->model, batch, labels, &slice, t->hook.user), mark,
                                "batch hook: transform_slice"));
  } else {
    DCNN_TRY(dcnn__callee_error(t->hook.transform(t->model, batch, labels, step, t->hook.user), mark,
                                "batch hook: transform"));
  }
  char a[64], b[64];
  DCNN_CHECK(dcnn_shape_equal(&shape, &batch->shape), DCNN_ERR_INVALID_STATE,
             "batch hook: the transform changed the batch's shape from %s to %s", dcnn_shape_format(&shape, a, sizeof a),
             dcnn_shape_format(&batch->shape, b, sizeof b));
  return DCNN_OK;
}
