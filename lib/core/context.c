#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#endif
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "internal.h"
#include "struct_size.h"

#define DCNN_ALIGNMENT 64
#define DCNN_MAX_THREADS 1024

static void *system_alloc(size_t size, size_t alignment, void *user) {
  (void)user;
  void *ptr = NULL;
  if (posix_memalign(&ptr, alignment, size ? size : alignment) != 0) return NULL;
  return ptr;
}

static void system_release(void *ptr, void *user) {
  (void)user;
  free(ptr);
}

/* The cores this process may run on: its affinity mask (taskset, a container's cpuset), which
 * on a big host can be far fewer than the online cores; threads beyond it would only take
 * turns on the same cores. Linux keeps a mask per thread, so the count must not be the calling
 * thread's alone: OMP_PROC_BIND or OMP_PLACES pin the initial thread to one core (the OpenMP
 * runtime's count is then the mask it found at start), and a thread the caller pinned may be
 * the first to use the default context (the main thread's mask, as nproc counts, is then the
 * process's). The larger of the two; the online cores where neither can be read. */
static int32_t allowed_cores(void) {
#ifdef DCNN_TSAN
  return 1; /* ThreadSanitizer build: no OpenMP team unless a thread count is set (CMake DCNN_TSAN) */
#else
  long n = -1;
#ifdef _OPENMP
  n = omp_get_num_procs();
#endif
#if defined(__linux__) && defined(CPU_COUNT)
  cpu_set_t allowed;
  if (sched_getaffinity(getpid(), sizeof allowed, &allowed) == 0 && CPU_COUNT(&allowed) > n) n = CPU_COUNT(&allowed);
#endif
  if (n < 1) n = sysconf(_SC_NPROCESSORS_ONLN);
  if (n < 1) return 1;
  if (n > DCNN_MAX_THREADS) return DCNN_MAX_THREADS;
  return (int32_t)n;
#endif
}

static dcnn_context default_context = {
    .threads = 0, /* resolved on first use */
    .allocator = {sizeof(dcnn_allocator), system_alloc, system_release, NULL},
    .log = NULL,
    .log_level = DCNN_LOG_ERROR,
    .log_user = NULL,
};

static pthread_once_t default_context_once = PTHREAD_ONCE_INIT;

static void default_context_init(void) { default_context.threads = allowed_cores(); }

dcnn_context *dcnn__context(dcnn_context *ctx) {
  if (ctx) return ctx;
  pthread_once(&default_context_once, default_context_init);
  return &default_context;
}

dcnn_status dcnn_context_create(dcnn_context **out) {
  DCNN_CHECK_ARG(out);
  *out = NULL;
  dcnn_context *ctx = calloc(1, sizeof *ctx);
  DCNN_CHECK(ctx != NULL, DCNN_ERR_OUT_OF_MEMORY, "dcnn_context_create: out of memory");
  ctx->threads = allowed_cores();
  ctx->allocator = (dcnn_allocator){sizeof(dcnn_allocator), system_alloc, system_release, NULL};
  atomic_init(&ctx->live_allocations, 0);
  atomic_init(&ctx->allocation_count, 0);
  ctx->log_level = DCNN_LOG_ERROR;
  *out = ctx;
  return DCNN_OK;
}

/* dcnn_model_context() and dcnn_exec_context() hand out the shared default
 * context of objects made with NULL: it is never freed, and changing it would
 * change every such object in the process while others may be computing. */
#define REFUSE_DEFAULT(ctx, function)                                                                           \
  DCNN_CHECK((ctx) != &default_context, DCNN_ERR_INVALID_ARGUMENT,                                            \
             function ": the library's default context (of objects made with a NULL context) cannot be changed; " \
             "create one with dcnn_context_create")

void dcnn_context_destroy(dcnn_context *ctx) {
  if (ctx != &default_context) free(ctx);
}

dcnn_status dcnn_context_set_threads(dcnn_context *ctx, int32_t threads) {
  DCNN_CHECK_ARG(ctx);
  REFUSE_DEFAULT(ctx, "dcnn_context_set_threads");
  DCNN_CHECK(threads >= 0 && threads <= DCNN_MAX_THREADS, DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_context_set_threads: %d threads is outside 0..%d", (int)threads, DCNN_MAX_THREADS);
  ctx->threads = threads == 0 ? allowed_cores() : threads;
  return DCNN_OK;
}

int32_t dcnn_context_threads(const dcnn_context *ctx) {
  return dcnn__team_threads(dcnn__context((dcnn_context *)ctx)->threads);
}

dcnn_status dcnn_context_set_allocator(dcnn_context *ctx, const dcnn_allocator *allocator) {
  DCNN_CHECK_ARG(ctx);
  REFUSE_DEFAULT(ctx, "dcnn_context_set_allocator");
  DCNN_CHECK(atomic_load(&ctx->live_allocations) == 0, DCNN_ERR_INVALID_STATE,
             "dcnn_context_set_allocator: %lld allocations made through this context are still alive",
             (long long)atomic_load(&ctx->live_allocations));
  if (!allocator) {
    ctx->allocator = (dcnn_allocator){sizeof(dcnn_allocator), system_alloc, system_release, NULL};
    return DCNN_OK;
  }
  dcnn_allocator hooks = DCNN_STRUCT_INIT(dcnn_allocator);
  DCNN_TRY(dcnn__struct_read("dcnn_context_set_allocator", "dcnn_allocator", &hooks, sizeof hooks, allocator,
                             DCNN__ALLOCATOR_SIZE_0_2));
  DCNN_CHECK(hooks.alloc && hooks.release, DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_context_set_allocator: both the alloc and the release hook are required");
  ctx->allocator = hooks;
  return DCNN_OK;
}

int64_t dcnn_context_live_allocations(const dcnn_context *ctx) {
  return atomic_load(&dcnn__context((dcnn_context *)ctx)->live_allocations);
}

int64_t dcnn_context_allocation_count(const dcnn_context *ctx) {
  return atomic_load(&dcnn__context((dcnn_context *)ctx)->allocation_count);
}

dcnn_status dcnn_context_set_log(dcnn_context *ctx, dcnn_log_fn fn, dcnn_log_level max_level, void *user) {
  DCNN_CHECK_ARG(ctx);
  REFUSE_DEFAULT(ctx, "dcnn_context_set_log");
  DCNN_CHECK(max_level >= DCNN_LOG_ERROR && max_level <= DCNN_LOG_DEBUG, DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_context_set_log: unknown log level %d", (int)max_level);
  ctx->log = fn;
  ctx->log_level = max_level;
  ctx->log_user = user;
  return DCNN_OK;
}

static _Thread_local int64_t alloc_budget = -1;
static _Thread_local int64_t budget_refusals; /* allocations refused by the budget, not by the allocator */
static _Thread_local int64_t bytes_requested;  /* what the budget would be charged, budget or not */

static _Thread_local int64_t held_here; /* allocations this thread made minus those it released */

int64_t dcnn__alloc_budget_refusals(void) { return budget_refusals; }
int64_t dcnn__alloc_bytes_requested(void) { return bytes_requested; }
int64_t dcnn__allocations_held(void) { return held_here; }

int64_t dcnn__set_alloc_budget(int64_t bytes) {
  const int64_t before = alloc_budget;
  alloc_budget = bytes;
  return before;
}

static _Thread_local int64_t allocations_allowed = -1;

int64_t dcnn__fail_allocations_after(int64_t count) {
  const int64_t before = allocations_allowed;
  allocations_allowed = count < 0 ? -1 : count;
  return before;
}

void *dcnn__alloc(dcnn_context *ctx, size_t size) {
  if (allocations_allowed >= 0) {
    if (allocations_allowed == 0) return NULL;
    allocations_allowed--;
  }
  if (alloc_budget >= 0) {
    if ((uint64_t)size > (uint64_t)alloc_budget) {
      budget_refusals++;
      return NULL;
    }
    alloc_budget -= (int64_t)size;
  }
  bytes_requested += (int64_t)size;
  ctx = dcnn__context(ctx);
  void *ptr = ctx->allocator.alloc(size, DCNN_ALIGNMENT, ctx->allocator.user);
  if (ptr) {
    atomic_fetch_add(&ctx->live_allocations, 1);
    atomic_fetch_add(&ctx->allocation_count, 1);
    held_here++;
  }
  return ptr;
}

void *dcnn__calloc(dcnn_context *ctx, size_t count, size_t size) {
  if (size != 0 && count > SIZE_MAX / size) return NULL;
  void *ptr = dcnn__alloc(ctx, count * size);
  if (ptr) memset(ptr, 0, count * size);
  return ptr;
}

void dcnn__release(dcnn_context *ctx, void *ptr) {
  if (!ptr) return;
  ctx = dcnn__context(ctx);
  atomic_fetch_sub(&ctx->live_allocations, 1);
  held_here--;
  ctx->allocator.release(ptr, ctx->allocator.user);
}

void dcnn__log(dcnn_context *ctx, dcnn_log_level level, const char *fmt, ...) {
  ctx = dcnn__context(ctx);
  if (!ctx->log || level > ctx->log_level) return;
  char message[1024];
  va_list args;
  va_start(args, fmt);
  vsnprintf(message, sizeof message, fmt, args);
  va_end(args);
  ctx->log(level, message, ctx->log_user);
}

void dcnn_free(void *ptr) { free(ptr); }
