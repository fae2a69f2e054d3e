/* GNU libgomp keeps its thread pool's bookkeeping across fork() but not the
 * pool's threads: in a child forked after the parent ran a parallel region
 * with more than one thread, the first region waits for threads that do not
 * exist, and the process hangs (Python's multiprocessing forks by default).
 * Results never depend on the team the runtime grants, so such a child runs
 * every OpenMP region with one thread (max-active-levels 0): the same results,
 * slower. LLVM's libomp re-creates its pool after fork by itself. */
#include <pthread.h>
#include <stdatomic.h>

#include "internal.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#if defined(_OPENMP) && !defined(KMP_VERSION_MAJOR) /* libgomp: libomp's omp.h defines KMP_VERSION_MAJOR */
static atomic_int teams_may_have_started;
static pthread_once_t handler_once = PTHREAD_ONCE_INIT;

static void in_forked_child(void) {
  if (atomic_load_explicit(&teams_may_have_started, memory_order_relaxed)) omp_set_max_active_levels(0);
}

static void register_handler(void) { (void)pthread_atfork(NULL, NULL, in_forked_child); }

int32_t dcnn__team_threads(int32_t threads) {
  if (threads > 1 && !atomic_load_explicit(&teams_may_have_started, memory_order_relaxed)) {
    pthread_once(&handler_once, register_handler); /* before the first team can start */
    atomic_store_explicit(&teams_may_have_started, 1, memory_order_relaxed);
  }
  return threads;
}
#else
int32_t dcnn__team_threads(int32_t threads) { return threads; }
#endif
