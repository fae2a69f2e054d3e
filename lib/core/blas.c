/* The two process-wide facts about OpenBLAS the library relies on: it computes
 * on the calling thread only, and it has address space for its buffers. */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS, MAP_NORESERVE */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>

#include <cblas.h>

#include "internal.h"

/* OpenBLAS 0.3.21 on x86-64 takes one buffer of 128 MiB + 4 KiB for each
 * thread calling it at the same time and keeps it for the life of the
 * process (measured: malloc(134221824) in blas_memory_alloc); glibc gives a
 * thread's first malloc an arena that reserves 64 MiB more. */
#define BLAS_BUFFER_BYTES (((size_t)128 << 20) + 4096)
#define THREAD_ARENA_BYTES ((size_t)64 << 20)

static pthread_mutex_t blas_lock = PTHREAD_MUTEX_INITIALIZER;

/* A threaded OpenBLAS is set back to one thread before every GEMM, not only
 * the first: the program may have called openblas_set_num_threads since,
 * which would change results (another split of the sums) and add OpenBLAS's
 * threads to the context's. The check is a plain read; the lock keeps
 * concurrent GEMM slices from resetting it all at once. A serial OpenBLAS
 * (openblas_get_parallel() == 0) has nothing to set. */
void dcnn__blas_single_threaded(void) {
  if (openblas_get_parallel() == 0 || openblas_get_num_threads() == 1) return;
  pthread_mutex_lock(&blas_lock);
  if (openblas_get_num_threads() != 1) openblas_set_num_threads(1);
  pthread_mutex_unlock(&blas_lock);
}

/* GEMM calls in progress through the library, and the most of them that
 * address space has been checked for. */
static atomic_int blas_calling;
static atomic_int blas_checked;
/* The count the last refused call checked for, for the message (written after
 * the parallel region a worker was refused in; the count of calls in progress
 * by then may differ: other calls come and go). */
static atomic_int blas_refused_at;

/* When a buffer cannot be had, OpenBLAS retries forever (under RLIMIT_AS a
 * program spins in cblas_sgemm instead of failing). It takes a buffer from a
 * table for each call in progress and keeps the table's buffers for later
 * calls (measured: threads calling one after another share one buffer; calls
 * at the same time take one each), so what it needs is one buffer per
 * concurrent call, whatever thread or thread count each caller has (N
 * sessions predicting with threads = 1 on N threads are N calls). When the
 * number of calls in progress reaches a new peak, address space for that many
 * buffers and thread arenas must be free: a reservation never touched,
 * released at once. It is conservative (the buffers OpenBLAS already holds are
 * counted again), which also covers a concurrent first call whose buffer is
 * not mapped yet. Thread churn does not raise the peak; below it, entering
 * costs one atomic increment. */
int dcnn__blas_enter(void) {
  const int calling = atomic_fetch_add_explicit(&blas_calling, 1, memory_order_acq_rel) + 1;
  if (calling <= atomic_load_explicit(&blas_checked, memory_order_acquire)) return 1;
  int ready = 1;
  pthread_mutex_lock(&blas_lock);
  if (calling > atomic_load_explicit(&blas_checked, memory_order_relaxed)) {
    const size_t bytes = (size_t)calling * (BLAS_BUFFER_BYTES + THREAD_ARENA_BYTES);
    void *probe = mmap(NULL, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (probe == MAP_FAILED) {
      ready = 0;
    } else {
      munmap(probe, bytes);
      atomic_store_explicit(&blas_checked, calling, memory_order_release);
    }
  }
  pthread_mutex_unlock(&blas_lock);
  if (!ready) {
    atomic_store_explicit(&blas_refused_at, calling, memory_order_relaxed);
    atomic_fetch_sub_explicit(&blas_calling, 1, memory_order_acq_rel);
  }
  return ready;
}

void dcnn__blas_leave(void) { atomic_fetch_sub_explicit(&blas_calling, 1, memory_order_acq_rel); }

dcnn_status dcnn__blas_unavailable(void) {
  const int refused_at = atomic_load_explicit(&blas_refused_at, memory_order_relaxed);
  const int calling = refused_at > 0 ? refused_at : 1;
  const size_t bytes = (size_t)calling * (BLAS_BUFFER_BYTES + THREAD_ARENA_BYTES);
  return dcnn__fail(DCNN_ERR_OUT_OF_MEMORY,
                    "out of memory: OpenBLAS's GEMM buffers for %d concurrent calls need %lld MiB of address space, "
                    "and the process has no room for them (address-space limit?)",
                    calling, (long long)(bytes >> 20));
}
