/**
 * @file mpi.h
 * @brief libdigitcnn_mpi: a ::dcnn_communicator over MPI, for data-parallel
 *        training, sharded evaluation and hyperparameter search across
 *        processes started by `mpirun` (docs/distributed.md).
 *
 * A separate library (CMake target `digitcnn::mpi`, pkg-config
 * `digitcnn-mpi`, built when the project is configured with DCNN_MPI): the
 * core library has no MPI dependency. This header does not include `mpi.h`.
 *
 * Thread-safety: MPI is initialised with MPI_THREAD_FUNNELED: call these
 * functions and the communicator's from the thread that called
 * dcnn_mpi_init() (the library's OpenMP threads never call MPI).
 */
/** @addtogroup training
 * @{ */
#ifndef DIGITCNN_MPI_H
#define DIGITCNN_MPI_H

#include "communicator.h"
#include "export.h"
#include "status.h"

DCNN_BEGIN_DECLS

/**
 * @brief Initialises MPI (MPI_Init_thread, MPI_THREAD_FUNNELED) unless the
 *        program already did, and makes MPI_COMM_WORLD return errors instead
 *        of aborting (MPI_ERRORS_RETURN) so that they come back as
 *        ::dcnn_status with MPI's message.
 * @param argc The program's argc (may be NULL, as MPI allows).
 * @param argv The program's argv (may be NULL).
 * @return #DCNN_OK, #DCNN_ERR_IO (MPI failed to start; dcnn_last_error()
 *         says why), #DCNN_ERR_UNSUPPORTED (this MPI cannot provide
 *         MPI_THREAD_FUNNELED; MPI is finalised again) or
 *         #DCNN_ERR_INVALID_STATE (MPI was already finalised: it cannot start
 *         twice in one process).
 */
DCNN_API dcnn_status dcnn_mpi_init(int *argc, char ***argv);

/**
 * @brief Finalises MPI if dcnn_mpi_init() initialised it (a program that
 *        initialised MPI itself finalises it itself). Every process must call it.
 * @return #DCNN_OK or #DCNN_ERR_IO.
 */
DCNN_API dcnn_status dcnn_mpi_finalize(void);

/**
 * @brief Fills @p out with the collectives of MPI_COMM_WORLD, for
 *        dcnn_trainer_set_communicator() and dcnn_evaluate_distributed():
 *        sums with MPI_Allreduce (in pieces of at most 2^30 elements),
 *        broadcast, barrier, and an @c abort that writes its message to
 *        standard error ("libdigitcnn_mpi: process R of N ends the job:
 *        ...", the one output of the MPI binding; libdigitcnn itself never
 *        prints) and calls MPI_Abort (ending every process of the job,
 *        mpirun then reports it). @c user is NULL;
 *        nothing needs releasing.
 *
 * Set @p out's @c struct_size first
 * (`dcnn_communicator world = DCNN_STRUCT_INIT(dcnn_communicator);`): only
 * those bytes are written, so a program built against an older header keeps
 * working with a later library; fields of a newer header that this library
 * does not know are set to zero (unset optional functions).
 * @param[in,out] out The communicator, @c struct_size set (and kept).
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT (NULL, or a @c struct_size
 *         below the first layout: not set), #DCNN_ERR_INVALID_STATE
 *         (MPI not initialised: call dcnn_mpi_init() first; or already
 *         finalised, after which MPI allows no communication).
 */
DCNN_API dcnn_status dcnn_mpi_world(dcnn_communicator *out) DCNN_WARN_UNUSED_RESULT;

/**
 * @brief dcnn_mpi_world() plus started sums: @c allreduce_start
 *        (MPI_Iallreduce), @c allreduce_test (MPI_Testall, called between
 *        the backward pass's layers so that MPI progresses) and
 *        @c allreduce_wait (MPI_Waitall). A trainer given it starts each
 *        gradient bucket as soon as the backward pass has computed it.
 *
 * Not the default, because it is slower where measured: on one 2-core
 * machine (shared memory, or TCP over loopback) a ResNet-50 step took 8 to
 * 13% longer than with dcnn_mpi_world(), as MPI's non-blocking all-reduce
 * does its work inside the polls on the training thread and the cores have
 * no idle time to hide it in (docs/distributed.md, "Overlap"). Try it where
 * the network, not the CPU, carries the sums. Every process of the job must
 * use it: the trainer starts buckets only if all communicators can (it
 * agrees on that once per fit). The sums are the same numbers either way;
 * with 2 processes the weights are the same bits, with more MPI may add in
 * another order (float rounding).
 * @param[in,out] out The communicator, @c struct_size set as for
 *        dcnn_mpi_world(), and large enough to hold @c allreduce_wait.
 * @return As dcnn_mpi_world() (#DCNN_ERR_INVALID_ARGUMENT also for a
 *         @c struct_size from before the started sums).
 * Thread-safety: its functions are called from one thread (the trainer's);
 * finished requests are pooled for reuse and freed by dcnn_mpi_finalize().
 */
DCNN_API dcnn_status dcnn_mpi_world_overlapped(dcnn_communicator *out) DCNN_WARN_UNUSED_RESULT;

/**
 * @brief Whether this process was started by an MPI launcher (mpirun,
 *        mpiexec, srun with PMI): its environment names a rank. Lets a
 *        program initialise MPI only when it runs as a job.
 * @return 1 or 0.
 */
DCNN_API int dcnn_mpi_launched(void);

DCNN_END_DECLS

#endif /* DIGITCNN_MPI_H */
/** @} */
