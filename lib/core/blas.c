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
static atomic_int blas_reserved_threads;

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

/* When a buffer cannot be had, OpenBLAS retries forever (under RLIMIT_AS a
 * program spins in cblas_sgemm instead of failing). So before the first GEMMs
 * on `threads` threads, check that address space for that many buffers is
 * free: a reservation that is never touched, released at once. Afterwards
 * OpenBLAS reuses its buffers, so each thread count is checked once. */
dcnn_status dcnn__blas_reserve(int32_t threads) {
  if (atomic_load_explicit(&blas_reserved_threads, memory_order_acquire) >= threads) return DCNN_OK;
  dcnn_status status = DCNN_OK;
  pthread_mutex_lock(&blas_lock);
  if (atomic_load_explicit(&blas_reserved_threads, memory_order_relaxed) < threads) {
    const size_t bytes = (size_t)threads * (BLAS_BUFFER_BYTES + THREAD_ARENA_BYTES);
    void *probe = mmap(NULL, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (probe == MAP_FAILED) {
      status = dcnn__fail(DCNN_ERR_OUT_OF_MEMORY,
                          "out of memory: OpenBLAS's GEMM buffers on %d threads need %lld MiB of address space, and "
                          "the process has no room for them (address-space limit?)",
                          (int)threads, (long long)(bytes >> 20));
    } else {
      munmap(probe, bytes);
      atomic_store_explicit(&blas_reserved_threads, threads, memory_order_release);
    }
  }
  pthread_mutex_unlock(&blas_lock);
  return status;
}
