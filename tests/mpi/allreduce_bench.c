/* The all-reduce cost behind docs/distributed.md's performance table: under
 * `mpirun -np P`, sums a gradient-sized float buffer over the ranks through
 * the library's MPI communicator, in the trainer's 16 MiB buckets, and prints
 * rank 0's median time of REPEATS rounds.
 *   mpirun -np 2 --oversubscribe --allow-run-as-root mpi_allreduce_bench [FLOATS] [REPEATS] [BUCKET_FLOATS]
 * FLOATS defaults to the paper CNN's 871,082 parameters (3.5 MB), BUCKET_FLOATS
 * to the trainer's. */
#include <stdio.h>
#include <stdlib.h>

#include "bench_timing.h"
#include "digitcnn/mpi.h"

#define BUCKET_FLOATS (1 << 22) /* 16 MiB, as the trainer's blocking buckets (DCNN__BUCKET_FLOATS) */

int main(int argc, char **argv) {
  if (dcnn_mpi_init(&argc, &argv) != DCNN_OK) return fprintf(stderr, "%s\n", dcnn_last_error()), 1;
  const long floats = argc > 1 ? atol(argv[1]) : 871082, repeats = argc > 2 ? atol(argv[2]) : 50,
             bucket = argc > 3 ? atol(argv[3]) : BUCKET_FLOATS;
  dcnn_communicator comm = DCNN_STRUCT_INIT(dcnn_communicator);
  float *data = floats > 0 && repeats > 0 ? calloc((size_t)floats, sizeof *data) : NULL; /* (floats) */
  double *times = data ? calloc((size_t)repeats, sizeof *times) : NULL;                  /* (repeats) */
  if (!times || bucket < 1 || dcnn_mpi_world(&comm) != DCNN_OK) {
    fprintf(stderr, "mpi_allreduce_bench: bad arguments, out of memory or no MPI\n");
    dcnn_mpi_finalize();
    return 1;
  }
  for (long r = -3; r < repeats; ++r) { /* three rounds to warm up */
    comm.barrier(comm.user);
    const double t0 = bench_now();
    for (long at = 0; at < floats; at += bucket) {
      const long n = floats - at < bucket ? floats - at : bucket;
      if (comm.allreduce_sum(comm.user, data + at, n, DCNN_COMM_FLOAT32) != DCNN_OK) {
        fprintf(stderr, "mpi_allreduce_bench: %s\n", dcnn_last_error());
        return 1;
      }
    }
    if (r >= 0) times[r] = bench_now() - t0;
  }
  qsort(times, (size_t)repeats, sizeof *times, bench_compare_doubles);
  if (comm.rank(comm.user) == 0)
    printf("all-reduce of %ld floats (%.2f MB) over %d ranks in buckets of %ld floats: median %.3f ms, min %.3f ms "
           "(%ld rounds)\n", floats, floats * 4e-6, (int)comm.size(comm.user), bucket, 1e3 * times[repeats / 2],
           1e3 * times[0], repeats);
  free(times);
  free(data);
  dcnn_mpi_finalize();
  return 0;
}
