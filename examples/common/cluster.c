/* See cluster.h. Built with DCNN_EXAMPLES_MPI when libdigitcnn_mpi exists. */
#include "cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "support.h"

#ifdef DCNN_EXAMPLES_MPI
#include <digitcnn/mpi.h>

static dcnn_communicator world = DCNN_STRUCT_INIT(dcnn_communicator);
static int joined;

int example_cluster_start(int *argc, char ***argv) {
  example_guard_standard_fds(); /* before MPI opens its sockets */
  if (!dcnn_mpi_launched()) return 0;
  EXAMPLE_CHECK(dcnn_mpi_init(argc, argv));
  EXAMPLE_CHECK(dcnn_mpi_world(&world));
  joined = 1;
  /* DCNN_MPI_OVERLAP=1 on rank 0 (mpirun passes the environment only to its
   * own machine's processes unless -x names it): gradient buckets started
   * during the backward pass (slower on the machines measured,
   * docs/distributed.md "Overlap"). */
  const char *overlap = getenv("DCNN_MPI_OVERLAP");
  if (example_cluster_share(overlap && strcmp(overlap, "1") == 0)) EXAMPLE_CHECK(dcnn_mpi_world_overlapped(&world));
  if (world.size(world.user) > 1 && world.rank(world.user) != 0 && !freopen("/dev/null", "w", stdout)) {
    fprintf(stderr, "error: rank %d cannot silence its output\n", (int)world.rank(world.user));
    exit(1);
  }
  return example_cluster_rank();
}

int example_cluster_rank(void) { return joined ? (int)world.rank(world.user) : 0; }
int example_cluster_size(void) { return joined ? (int)world.size(world.user) : 1; }
const dcnn_communicator *example_cluster_comm(void) { return joined && example_cluster_size() > 1 ? &world : NULL; }

void example_cluster_attach(dcnn_trainer *trainer) {
  if (example_cluster_comm()) EXAMPLE_CHECK(dcnn_trainer_set_communicator(trainer, &world));
}

int example_cluster_share(int value) {
  if (example_cluster_comm()) EXAMPLE_CHECK(world.broadcast(world.user, &value, (int64_t)sizeof value, 0));
  return value;
}

int example_cluster_any(int flag) {
  if (!example_cluster_comm()) return flag;
  double count = flag ? 1 : 0;
  EXAMPLE_CHECK(world.allreduce_sum(world.user, &count, 1, DCNN_COMM_FLOAT64));
  return count > 0;
}

void example_cluster_barrier(void) {
  if (example_cluster_comm()) EXAMPLE_CHECK(world.barrier(world.user));
}

void example_cluster_finish(void) {
  if (joined) EXAMPLE_CHECK(dcnn_mpi_finalize());
  joined = 0;
}
#endif

_Noreturn void example_cluster_leave(int status) {
  example_cluster_finish();
  exit(status);
}

void example_cluster_check(dcnn_status status) {
  if (status != DCNN_OK) fprintf(stderr, "error: %s: %s\n", dcnn_status_str(status), dcnn_last_error());
  if (example_cluster_any(status != DCNN_OK)) example_cluster_leave(1);
}

#ifndef DCNN_EXAMPLES_MPI
int example_cluster_start(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  example_guard_standard_fds();
  if (getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE"))
    fprintf(stderr, "warning: started by an MPI launcher, but this build has no libdigitcnn_mpi (configure with "
                    "-DDCNN_MPI=ON): every process runs the whole job on its own\n");
  return 0;
}
int example_cluster_rank(void) { return 0; }
int example_cluster_size(void) { return 1; }
const dcnn_communicator *example_cluster_comm(void) { return NULL; }
void example_cluster_attach(dcnn_trainer *trainer) { (void)trainer; }
int example_cluster_share(int value) { return value; }
int example_cluster_any(int flag) { return flag; }
void example_cluster_barrier(void) {}
void example_cluster_finish(void) {}
#endif
