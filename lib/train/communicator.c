/* The trainer's communicator (data-parallel training, docs/distributed.md):
 * the trainer knows only the table of collectives; libdigitcnn_mpi fills one
 * over MPI. */
#include <string.h>

#include "../core/struct_size.h"
#include "train_internal.h"

int32_t dcnn__trainer_rank(const dcnn_trainer *t) { return t->comm.struct_size ? t->comm.rank(t->comm.user) : 0; }

int32_t dcnn__trainer_size(const dcnn_trainer *t) { return t->comm.struct_size ? t->comm.size(t->comm.user) : 1; }

void dcnn__trainer_drop_communicator(dcnn_trainer *t) {
  if (t->comm.struct_size && t->comm.release) t->comm.release(t->comm.user);
  memset(&t->comm, 0, sizeof t->comm);
  dcnn__grad_sync_free(&t->sync);
}

dcnn_status dcnn_trainer_set_communicator(dcnn_trainer *t, const dcnn_communicator *comm) {
  static const char fn[] = "dcnn_trainer_set_communicator";
  DCNN_CHECK_ARG(t);
  if (!comm) {
    dcnn__trainer_drop_communicator(t);
    return DCNN_OK;
  }
  dcnn_communicator copy;
  memset(&copy, 0, sizeof copy);
  DCNN_TRY(dcnn__struct_read(fn, "dcnn_communicator", &copy, sizeof copy, comm, DCNN__COMMUNICATOR_SIZE_0_2));
  DCNN_CHECK(copy.rank && copy.size && copy.allreduce_sum && copy.broadcast && copy.barrier, DCNN_ERR_INVALID_ARGUMENT,
             "%s: rank, size, allreduce_sum, broadcast and barrier must all be set", fn);
  DCNN_CHECK((copy.allreduce_start == NULL) == (copy.allreduce_wait == NULL), DCNN_ERR_INVALID_ARGUMENT,
             "%s: allreduce_start and allreduce_wait must be set together (or neither)", fn);
  const int32_t size = copy.size(copy.user), rank = copy.rank(copy.user);
  DCNN_CHECK(size >= 1 && rank >= 0 && rank < size, DCNN_ERR_INVALID_ARGUMENT, "%s: rank %d of %d processes", fn,
             (int)rank, (int)size);
  /* The same user again is kept, never released: its new release (if it
   * differs) takes over, the old one is not called (user is still in use). */
  if (t->comm.user != copy.user) dcnn__trainer_drop_communicator(t);
  t->comm = copy;
  return DCNN_OK;
}

void dcnn__trainer_abort(dcnn_trainer *t, dcnn_status status) {
  if (status == DCNN_OK || t->agreed || dcnn__trainer_size(t) <= 1) return;
  const char *message = dcnn_last_error();
  dcnn__log(t->ctx, DCNN_LOG_ERROR, "rank %d of %d: %s; ending the job", (int)dcnn__trainer_rank(t),
            (int)dcnn__trainer_size(t), message);
  if (t->comm.abort) t->comm.abort(t->comm.user, message);
}

dcnn_status dcnn__trainer_defer_cancel(dcnn_trainer *t, dcnn_status status) {
  if (status != DCNN_ERR_CANCELLED || dcnn__trainer_size(t) <= 1) return status;
  dcnn__log(t->ctx, DCNN_LOG_INFO, "rank %d: %s; the other processes stop with this one at the next step or the "
            "epoch's end", (int)dcnn__trainer_rank(t), dcnn_last_error());
  t->cancel_pending = 1;
  return DCNN_OK;
}

dcnn_status dcnn__trainer_agree_epoch_end(dcnn_trainer *t, int32_t epoch, int *stop) {
  const int32_t size = dcnn__trainer_size(t);
  if (size <= 1) return DCNN_OK;
  double flags[2] = {*stop ? 1.0 : 0.0, t->cancel_pending ? 1.0 : 0.0}; /* (stop, cancel) summed over the processes */
  DCNN_TRY(t->comm.allreduce_sum(t->comm.user, flags, 2, DCNN_COMM_FLOAT64));
  *stop = flags[0] > 0;
  if (flags[1] > 0) {
    t->agreed = 1;
    return dcnn__fail(DCNN_ERR_CANCELLED, "dcnn_trainer_fit: cancelled by the progress callback of %d of %d "
                      "processes at the end of epoch %d; every process stops here, the model holds the weights and "
                      "the history the %d completed epoch(s)", (int)flags[1], (int)size, (int)epoch, (int)epoch);
  }
  return DCNN_OK;
}

dcnn_status dcnn__trainer_check_job(dcnn_trainer *t, const dcnn_dataset *train) {
  const int32_t size = dcnn__trainer_size(t);
  if (size <= 1) return DCNN_OK;
  const int64_t batch = (int64_t)t->options[DCNN_TRAIN_BATCH_SIZE];
  (void)train; /* any size: a last batch smaller than the job is not sliced (trainer.c) */
  DCNN_CHECK(batch >= size, DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_trainer_fit: the batch size %lld is smaller than the job's %d processes: each process needs at least "
             "one sample of every global batch", (long long)batch, (int)size);
  DCNN_CHECK(!dcnn__trainer_has_hook(t) || t->hook.transform_slice, DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_trainer_fit: the batch hook has no transform_slice, so it cannot run in a job of %d processes: it "
             "would see only this process's slice of each batch without knowing where the slice sits, and the result "
             "would depend on the process count; give the hook a transform_slice or train with one process",
             (int)size);
  return DCNN_OK;
}
