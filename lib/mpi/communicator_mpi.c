/* libdigitcnn_mpi: the communicator of digitcnn/communicator.h over MPI's
 * MPI_COMM_WORLD. Errors return (MPI_ERRORS_RETURN) and become dcnn_status
 * with MPI's message; a dead process is reported by the launcher (Open MPI's
 * mpirun ends the job when one of its processes dies), see docs/distributed.md. */
#include <limits.h>
#include <stdlib.h>

#include <mpi.h>

#include "digitcnn/mpi.h"

static int initialised_here; /* dcnn_mpi_init called MPI_Init_thread */

/* DCNN_OK, or DCNN_ERR_IO with MPI's message for `code` after `what`. */
static dcnn_status check(int code, const char *what) {
  if (code == MPI_SUCCESS) return DCNN_OK;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) length = 0;
  text[length < MPI_MAX_ERROR_STRING ? length : MPI_MAX_ERROR_STRING - 1] = '\0';
  return dcnn_error_set(DCNN_ERR_IO, "MPI: %s failed: %s", what, length ? text : "(no message)");
}

dcnn_status dcnn_mpi_init(int *argc, char ***argv) {
  int ready = 0;
  dcnn_status status = check(MPI_Initialized(&ready), "MPI_Initialized");
  if (status != DCNN_OK) return status;
  if (!ready) {
    int provided = 0;
    status = check(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    if (status != DCNN_OK) return status;
    initialised_here = 1;
  }
  return check(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
}

dcnn_status dcnn_mpi_finalize(void) {
  if (!initialised_here) return DCNN_OK;
  initialised_here = 0;
  return check(MPI_Finalize(), "MPI_Finalize");
}

static int32_t world_rank(void *user) {
  (void)user;
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return (int32_t)rank;
}

static int32_t world_size(void *user) {
  (void)user;
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  return (int32_t)size;
}

#define PIECE (1 << 30) /* elements per MPI call: counts are ints */

static dcnn_status world_allreduce(void *user, void *data, int64_t count, dcnn_comm_type type) {
  (void)user;
  if (count < 0 || !data) return dcnn_error_set(DCNN_ERR_INVALID_ARGUMENT, "MPI all-reduce of %lld elements at %p",
                                                (long long)count, data);
  const MPI_Datatype datatype = type == DCNN_COMM_FLOAT64 ? MPI_DOUBLE : MPI_FLOAT;
  const size_t element = type == DCNN_COMM_FLOAT64 ? sizeof(double) : sizeof(float);
  for (int64_t done = 0; done < count; done += PIECE) {
    const int n = (int)(count - done < PIECE ? count - done : PIECE);
    dcnn_status status = check(MPI_Allreduce(MPI_IN_PLACE, (char *)data + (size_t)done * element, n, datatype, MPI_SUM,
                                             MPI_COMM_WORLD), "MPI_Allreduce");
    if (status != DCNN_OK) return status;
  }
  return DCNN_OK;
}

static dcnn_status world_broadcast(void *user, void *data, int64_t bytes, int32_t root) {
  (void)user;
  if (bytes < 0 || (!data && bytes)) return dcnn_error_set(DCNN_ERR_INVALID_ARGUMENT, "MPI broadcast of %lld bytes",
                                                           (long long)bytes);
  for (int64_t done = 0; done < bytes; done += PIECE) {
    const int n = (int)(bytes - done < PIECE ? bytes - done : PIECE);
    dcnn_status status = check(MPI_Bcast((char *)data + done, n, MPI_BYTE, root, MPI_COMM_WORLD), "MPI_Bcast");
    if (status != DCNN_OK) return status;
  }
  return DCNN_OK;
}

static dcnn_status world_barrier(void *user) {
  (void)user;
  return check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
}

/* The message went to the trainer's log sink; mpirun reports the abort. */
static void world_abort(void *user, const char *message) {
  (void)user;
  (void)message;
  MPI_Abort(MPI_COMM_WORLD, 1);
}

dcnn_status dcnn_mpi_world(dcnn_communicator *out) {
  if (!out) return dcnn_error_set(DCNN_ERR_INVALID_ARGUMENT, "dcnn_mpi_world: argument 'out' is NULL");
  int ready = 0;
  MPI_Initialized(&ready);
  if (!ready) return dcnn_error_set(DCNN_ERR_INVALID_STATE, "dcnn_mpi_world: MPI is not initialised (dcnn_mpi_init)");
  *out = (dcnn_communicator){.struct_size = sizeof *out,
                             .user = NULL,
                             .rank = world_rank,
                             .size = world_size,
                             .allreduce_sum = world_allreduce,
                             .broadcast = world_broadcast,
                             .barrier = world_barrier,
                             .abort = world_abort,
                             .release = NULL};
  return DCNN_OK;
}

int dcnn_mpi_launched(void) {
  static const char *const names[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; ++i)
    if (getenv(names[i])) return 1;
  return 0;
}
