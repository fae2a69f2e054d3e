/**
 * @file communicator.h
 * @brief A communicator between the processes of a data-parallel job: the
 *        collectives (sum all-reduce, broadcast, barrier) a trainer needs, as
 *        a table of functions. The core library has no MPI dependency;
 *        libdigitcnn_mpi (digitcnn/mpi.h) fills one over MPI, and a test or
 *        another transport can fill its own.
 *
 * Every process (a "rank", 0 .. size-1) of a job calls the same collectives
 * in the same order with the same counts. Design: docs/distributed.md.
 *
 * Ownership: the trainer copies the table; @c release (if any) is called on
 * @c user when the trainer drops it. Each trainer given the table releases
 * its own copy: to share one @c user between trainers, count the holders in
 * @c release or give only one of them a @c release. Thread-safety: the functions are called
 * from the thread that runs dcnn_trainer_fit() (or the distributed
 * evaluation), one call at a time.
 */
/** @addtogroup training
 * @{ */
#ifndef DIGITCNN_COMMUNICATOR_H
#define DIGITCNN_COMMUNICATOR_H

#include <stddef.h>
#include <stdint.h>

#include "export.h"
#include "status.h"

DCNN_BEGIN_DECLS

/** @brief Element types of dcnn_communicator::allreduce_sum. */
typedef enum dcnn_comm_type {
  DCNN_COMM_FLOAT32 = 0, /**< float */
  DCNN_COMM_FLOAT64 = 1  /**< double */
} dcnn_comm_type;

/**
 * @brief The collectives of a job of @c size processes. Zero-initialise it
 *        and set @c struct_size to `sizeof(dcnn_communicator)`: fields are
 *        only ever appended.
 *
 * Every rank must give every rank the same result bits of an all-reduce
 * (replicas stay identical only then); MPI_Allreduce of Open MPI does.
 */
typedef struct dcnn_communicator {
  size_t struct_size; /**< sizeof(dcnn_communicator) of the caller's header. */
  void *user;         /**< Passed to every function here. */
  /** This process's rank, 0 .. size - 1 (not NULL). */
  int32_t (*rank)(void *user);
  /** The number of processes, >= 1 (not NULL). */
  int32_t (*size)(void *user);
  /** Replaces @p data (@p count elements of @p type) on every rank by the
   *  element-wise sum over the ranks (not NULL). */
  dcnn_status (*allreduce_sum)(void *user, void *data, int64_t count, dcnn_comm_type type);
  /** Copies @p bytes bytes of @p data from rank @p root to every rank (not NULL). */
  dcnn_status (*broadcast)(void *user, void *data, int64_t bytes, int32_t root);
  /** Returns when every rank has called it (not NULL). */
  dcnn_status (*barrier)(void *user);
  /** Optional: ends the whole job after an error on this rank (the other
   *  ranks would otherwise wait in their next collective for ever);
   *  @p message says why (dcnn_last_error() of the failing call). It should
   *  not return; if it does, the caller returns its error. */
  void (*abort)(void *user, const char *message);
  /** Optional: frees @c user when the trainer drops the communicator. */
  void (*release)(void *user);
  /** Optional, set together with @c allreduce_wait: starts the sum of
   *  @c allreduce_sum on @p data and returns without waiting for it, giving
   *  a handle in @p *request. @p data must not be read or written until
   *  allreduce_wait() of that request returns. Started all-reduces are
   *  collectives like the others: every rank starts them in the same order,
   *  interleaved alike with its other collectives. The trainer then starts
   *  each gradient bucket as soon as the backward pass has computed it, so
   *  the sums overlap the rest of the backward pass (docs/distributed.md),
   *  provided every rank's communicator has it (the trainer agrees on that
   *  once per fit). A start that returns an error leaves no request to
   *  wait for. NULL: the trainer calls @c allreduce_sum for each bucket
   *  instead. */
  dcnn_status (*allreduce_start)(void *user, void *data, int64_t count, dcnn_comm_type type, void **request);
  /** Optional: lets a started all-reduce progress (transports that
   *  advance only inside their own calls, as MPI usually does without a
   *  progress thread); sets @p *done to 1 once it is complete, 0 otherwise.
   *  The request must still be given to allreduce_wait(). Called between
   *  the layers of the backward pass; ignored without allreduce_start. */
  dcnn_status (*allreduce_test)(void *user, void *request, int *done);
  /** Optional, set together with @c allreduce_start: waits until the
   *  started all-reduce is complete and releases @p request (also when it
   *  returns an error). */
  dcnn_status (*allreduce_wait)(void *user, void *request);
} dcnn_communicator;

DCNN_END_DECLS

#endif /* DIGITCNN_COMMUNICATOR_H */
/** @} */
