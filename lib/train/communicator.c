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
  dcnn__release(t->ctx, t->bucket);
  t->bucket = NULL;
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
  const int32_t size = copy.size(copy.user), rank = copy.rank(copy.user);
  DCNN_CHECK(size >= 1 && rank >= 0 && rank < size, DCNN_ERR_INVALID_ARGUMENT, "%s: rank %d of %d processes", fn,
             (int)rank, (int)size);
  if (t->comm.user != copy.user || t->comm.release != copy.release) dcnn__trainer_drop_communicator(t);
  t->comm = copy;
  return DCNN_OK;
}

void dcnn__trainer_abort(dcnn_trainer *t, dcnn_status status) {
  if (status == DCNN_OK || dcnn__trainer_size(t) <= 1) return;
  const char *message = dcnn_last_error();
  dcnn__log(t->ctx, DCNN_LOG_ERROR, "rank %d of %d: %s; ending the job", (int)dcnn__trainer_rank(t),
            (int)dcnn__trainer_size(t), message);
  if (t->comm.abort) t->comm.abort(t->comm.user, message);
}
