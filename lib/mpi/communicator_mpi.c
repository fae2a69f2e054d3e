/* libdigitcnn_mpi: the communicator of digitcnn/communicator.h over MPI's
 * MPI_COMM_WORLD. Errors return (MPI_ERRORS_RETURN) and become dcnn_status
 * with MPI's message; a dead process is reported by the launcher (Open MPI's
 * mpirun ends the job when one of its processes dies), see docs/distributed.md. */
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
  int ready = 0, finished = 0;
  dcnn_status status = check(MPI_Finalized(&finished), "MPI_Finalized");
  if (status != DCNN_OK) return status;
  /* MPI cannot start again once finalised; any call but a few is undefined then */
  if (finished) return dcnn_error_set(DCNN_ERR_INVALID_STATE, "dcnn_mpi_init: MPI was already finalised in this process");
  status = check(MPI_Initialized(&ready), "MPI_Initialized");
  if (status != DCNN_OK) return status;
  if (!ready) {
    int provided = MPI_THREAD_SINGLE;
    status = check(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    if (status != DCNN_OK) return status;
    initialised_here = 1;
    /* The library's OpenMP threads never call MPI, but the main thread calls
     * it while they exist: FUNNELED is the level that allows that. (A program
     * that initialised MPI itself chose its level.) */
    if (provided < MPI_THREAD_FUNNELED) {
      (void)dcnn_mpi_finalize();
      return dcnn_error_set(DCNN_ERR_UNSUPPORTED, "dcnn_mpi_init: this MPI provides thread level %d, below "
                            "MPI_THREAD_FUNNELED (%d), which training with OpenMP threads needs", provided,
                            (int)MPI_THREAD_FUNNELED);
    }
  }
  return check(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
}

static void free_started(void);

dcnn_status dcnn_mpi_finalize(void) {
  free_started();
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

/* An all-reduce's arguments: count elements of a known type at data (NULL
 * only for none); its MPI type and element size. */
static dcnn_status sum_arguments(const char *what, const void *data, int64_t count, dcnn_comm_type type,
                                 MPI_Datatype *datatype, size_t *element) {
  if (count < 0 || (!data && count))
    return dcnn_error_set(DCNN_ERR_INVALID_ARGUMENT, "%s of %lld elements at %p", what, (long long)count, data);
  if (type != DCNN_COMM_FLOAT32 && type != DCNN_COMM_FLOAT64)
    return dcnn_error_set(DCNN_ERR_INVALID_ARGUMENT, "%s: element type %d is neither DCNN_COMM_FLOAT32 nor "
                          "DCNN_COMM_FLOAT64", what, (int)type);
  *datatype = type == DCNN_COMM_FLOAT64 ? MPI_DOUBLE : MPI_FLOAT;
  *element = type == DCNN_COMM_FLOAT64 ? sizeof(double) : sizeof(float);
  return DCNN_OK;
}

static dcnn_status world_allreduce(void *user, void *data, int64_t count, dcnn_comm_type type) {
  (void)user;
  MPI_Datatype datatype;
  size_t element = 0;
  const dcnn_status checked = sum_arguments("MPI all-reduce", data, count, type, &datatype, &element);
  if (checked != DCNN_OK) return checked;
  for (int64_t done = 0; done < count; done += PIECE) {
    const int n = (int)(count - done < PIECE ? count - done : PIECE);
    dcnn_status status = check(MPI_Allreduce(MPI_IN_PLACE, (char *)data + (size_t)done * element, n, datatype, MPI_SUM,
                                             MPI_COMM_WORLD), "MPI_Allreduce");
    if (status != DCNN_OK) return status;
  }
  return DCNN_OK;
}

/* A started all-reduce: one MPI request per piece of at most PIECE
 * elements. Finished ones are kept for reuse, so a training step in the
 * steady state allocates nothing (the trainer has a few in flight). */
typedef struct started {
  struct started *next_free;
  int capacity, pieces;
  MPI_Request requests[]; /* (capacity) */
} started;

static started *free_requests; /* the thread that trains is the only caller */

static void free_started(void) {
  while (free_requests) {
    started *r = free_requests;
    free_requests = r->next_free;
    free(r);
  }
}

static dcnn_status world_allreduce_start(void *user, void *data, int64_t count, dcnn_comm_type type, void **request) {
  (void)user;
  if (!request) return dcnn_error_set(DCNN_ERR_INVALID_ARGUMENT, "MPI all-reduce start: argument 'request' is NULL");
  *request = NULL;
  MPI_Datatype datatype;
  size_t element = 0;
  const dcnn_status checked = sum_arguments("MPI all-reduce start", data, count, type, &datatype, &element);
  if (checked != DCNN_OK) return checked;
  const int pieces = (int)((count + PIECE - 1) / PIECE);
  started *r = free_requests;
  if (r && r->capacity >= pieces) {
    free_requests = r->next_free;
  } else {
    const int capacity = pieces > 1 ? pieces : 1;
    r = malloc(sizeof *r + (size_t)capacity * sizeof(MPI_Request));
    if (!r) return dcnn_error_set(DCNN_ERR_OUT_OF_MEMORY, "MPI all-reduce start: out of memory");
    r->capacity = capacity;
  }
  r->pieces = 0;
  for (int64_t done = 0; done < count; done += PIECE) {
    const int n = (int)(count - done < PIECE ? count - done : PIECE);
    dcnn_status status = check(MPI_Iallreduce(MPI_IN_PLACE, (char *)data + (size_t)done * element, n, datatype,
                                              MPI_SUM, MPI_COMM_WORLD, &r->requests[r->pieces]), "MPI_Iallreduce");
    if (status != DCNN_OK) {
      MPI_Waitall(r->pieces, r->requests, MPI_STATUSES_IGNORE); /* the pieces already started */
      r->next_free = free_requests;
      free_requests = r;
      return status;
    }
    r->pieces++;
  }
  *request = r;
  return DCNN_OK;
}

static dcnn_status world_allreduce_test(void *user, void *request, int *done) {
  (void)user;
  started *r = request;
  if (!r || !done) return dcnn_error_set(DCNN_ERR_INVALID_ARGUMENT, "MPI all-reduce test: no request");
  *done = 0;
  return check(MPI_Testall(r->pieces, r->requests, done, MPI_STATUSES_IGNORE), "MPI_Testall");
}

static dcnn_status world_allreduce_wait(void *user, void *request) {
  (void)user;
  started *r = request;
  if (!r) return dcnn_error_set(DCNN_ERR_INVALID_ARGUMENT, "MPI all-reduce wait: no request");
  dcnn_status status = check(MPI_Waitall(r->pieces, r->requests, MPI_STATUSES_IGNORE), "MPI_Waitall");
  r->next_free = free_requests;
  free_requests = r;
  return status;
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

/* The job ends here and mpirun reports only that it was aborted: the reason goes to standard error first,
 * the one place left to say it (a log sink is optional and the default context has none). This library
 * is the MPI binding, not libdigitcnn, which never prints. */
static void world_abort(void *user, const char *message) {
  (void)user;
  int rank = -1, size = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  fprintf(stderr, "libdigitcnn_mpi: process %d of %d ends the job: %s\n", rank, size,
          message && message[0] ? message : "(no message)");
  fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, 1);
}

/* A larger struct_size is an unset one (the library's DCNN__STRUCT_SIZE_MAX). */
#define COMMUNICATOR_SIZE_MAX 4096

/* Bytes of dcnn_communicator through `field`: the layout that ended there. */
#define COMMUNICATOR_SIZE_THROUGH(field) (offsetof(dcnn_communicator, field) + sizeof(((dcnn_communicator *)0)->field))

/* The world's communicator; with `overlapped`, also allreduce_start, _test and
 * _wait. Only the caller's struct_size bytes are written (a program built
 * against an older header has a shorter struct); bytes past this library's
 * layout, fields of a newer header, are zeroed (unset optional functions). */
static dcnn_status world(const char *fn, dcnn_communicator *out, int overlapped) {
  if (!out) return dcnn_error_set(DCNN_ERR_INVALID_ARGUMENT, "%s: argument 'out' is NULL", fn);
  const size_t given = out->struct_size;
  const size_t needed =
      overlapped ? COMMUNICATOR_SIZE_THROUGH(allreduce_wait) : COMMUNICATOR_SIZE_THROUGH(release);
  if (given < needed || given > COMMUNICATOR_SIZE_MAX)
    return dcnn_error_set(DCNN_ERR_INVALID_ARGUMENT, "%s: dcnn_communicator struct_size is %zu, %zu to %d expected: "
                          "it looks unset (initialise it with DCNN_STRUCT_INIT(dcnn_communicator))", fn, given, needed,
                          COMMUNICATOR_SIZE_MAX);
  int ready = 0, finished = 0; /* both may be asked at any time, even after MPI_Finalize */
  if (MPI_Initialized(&ready) != MPI_SUCCESS || MPI_Finalized(&finished) != MPI_SUCCESS) ready = 0;
  if (!ready) return dcnn_error_set(DCNN_ERR_INVALID_STATE, "%s: MPI is not initialised (dcnn_mpi_init)", fn);
  if (finished)
    return dcnn_error_set(DCNN_ERR_INVALID_STATE, "%s: MPI was finalised (dcnn_mpi_finalize): no communication is "
                          "possible any more in this process", fn);
  const dcnn_communicator full = {.struct_size = sizeof full,
                                  .user = NULL,
                                  .rank = world_rank,
                                  .size = world_size,
                                  .allreduce_sum = world_allreduce,
                                  .broadcast = world_broadcast,
                                  .barrier = world_barrier,
                                  .abort = world_abort,
                                  .release = NULL,
                                  .allreduce_start = overlapped ? world_allreduce_start : NULL,
                                  .allreduce_test = overlapped ? world_allreduce_test : NULL,
                                  .allreduce_wait = overlapped ? world_allreduce_wait : NULL};
  const size_t head = sizeof full.struct_size, known = given < sizeof full ? given : sizeof full;
  memcpy((char *)out + head, (const char *)&full + head, known - head);
  if (given > sizeof full) memset((char *)out + sizeof full, 0, given - sizeof full);
  return DCNN_OK;
}

dcnn_status dcnn_mpi_world(dcnn_communicator *out) { return world("dcnn_mpi_world", out, 0); }

dcnn_status dcnn_mpi_world_overlapped(dcnn_communicator *out) { return world("dcnn_mpi_world_overlapped", out, 1); }

int dcnn_mpi_launched(void) {
  static const char *const names[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; ++i)
    if (getenv(names[i])) return 1;
  return 0;
}
