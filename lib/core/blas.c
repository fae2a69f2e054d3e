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

/* Whether this thread has called GEMM through the library, and how many
 * distinct threads have. */
static _Thread_local int blas_thread_seen;
static atomic_int blas_threads;

/* When a buffer cannot be had, OpenBLAS retries forever (under RLIMIT_AS a
 * program spins in cblas_sgemm instead of failing). It needs one buffer per
 * thread calling it at the same time, whatever thread count each caller
 * configured (N sessions predicting with threads = 1 are N callers), and
 * keeps them. So when a thread calls GEMM for the first time, the count of
 * distinct calling threads grows and address space for that many buffers
 * must be free: a reservation that is never touched, released at once. This
 * is conservative (it ignores the buffers already mapped, and threads that
 * never overlap), but it is the bound that holds whichever of the seen
 * threads later call at once. Later calls on a seen thread cost one
 * thread-local read. */
int dcnn__blas_thread_ready(void) {
  if (blas_thread_seen) return 1;
  int ready = 0;
  pthread_mutex_lock(&blas_lock);
  const int threads = atomic_load_explicit(&blas_threads, memory_order_relaxed) + 1;
  const size_t bytes = (size_t)threads * (BLAS_BUFFER_BYTES + THREAD_ARENA_BYTES);
  void *probe = mmap(NULL, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (probe != MAP_FAILED) {
    munmap(probe, bytes);
    atomic_store_explicit(&blas_threads, threads, memory_order_relaxed);
    blas_thread_seen = ready = 1;
  }
  pthread_mutex_unlock(&blas_lock);
  return ready;
}

dcnn_status dcnn__blas_unavailable(void) {
  const int threads = atomic_load_explicit(&blas_threads, memory_order_relaxed) + 1;
  const size_t bytes = (size_t)threads * (BLAS_BUFFER_BYTES + THREAD_ARENA_BYTES);
  return dcnn__fail(DCNN_ERR_OUT_OF_MEMORY,
                    "out of memory: OpenBLAS's GEMM buffers for %d calling threads need %lld MiB of address space, "
                    "and the process has no room for them (address-space limit?)",
                    threads, (long long)(bytes >> 20));
}
