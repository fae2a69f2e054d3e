/* Timing helpers of the MPI benchmarks (allreduce_bench.c, step_bench.c). */
#ifndef DCNN_TESTS_MPI_BENCH_TIMING_H
#define DCNN_TESTS_MPI_BENCH_TIMING_H

#include <time.h>

/* Monotonic seconds. */
static inline double bench_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* qsort order of doubles, ascending (for medians). */
static inline int bench_compare_doubles(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

#endif
