/* Private declarations shared by the library's sources; never installed. */
#ifndef DCNN_CORE_INTERNAL_H
#define DCNN_CORE_INTERNAL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "digitcnn/context.h"
#include "digitcnn/status.h"
#include "digitcnn/tensor.h"

#if defined(__GNUC__) || defined(__clang__)
#define DCNN_PRINTF(fmt_index, args_index) __attribute__((format(printf, fmt_index, args_index)))
#else
#define DCNN_PRINTF(fmt_index, args_index)
#endif

/* Records a message for the calling thread and returns `status`, so that an
 * error is built right next to the check that found it. */
dcnn_status dcnn__fail(dcnn_status status, const char *fmt, ...) DCNN_PRINTF(2, 3);

/* Prefixes the calling thread's current message with "<prefix>: " and returns
 * `status`; used to add context (layer name, file) to an error from below. */
dcnn_status dcnn__wrap_error(dcnn_status status, const char *fmt, ...) DCNN_PRINTF(2, 3);

/* Error messages of user code (layers, factories, callbacks). Take a mark
 * before calling it; if it fails, dcnn__callee_error prefixes its message with
 * the formatted "<where>" ("layer 2 (mylayer) forward"), or, when it wrote
 * none since the mark, replaces the stale text with a generic message naming
 * <where>. Returns `status` (DCNN_OK passes through untouched). */
uint64_t dcnn__error_mark(void);
dcnn_status dcnn__callee_error(dcnn_status status, uint64_t mark, const char *fmt, ...) DCNN_PRINTF(3, 4);

/* `threads`, noting that the library may start an OpenMP team of that many, so
 * that a child forked afterwards runs its regions with one thread (GNU
 * libgomp's pool does not survive fork; fork_guard.c). Every count a parallel
 * region takes passes through here (dcnn_context_threads, dcnn_exec_threads). */
int32_t dcnn__team_threads(int32_t threads);

#define DCNN__ERROR_CAPACITY 1024

/* Paths in messages hold at most this many bytes (with the NUL), so that a
 * long path leaves room in a message for the line number and the reason. */
#define DCNN__SHOWN_PATH_MAX 240
/* `path` for a message: itself when shorter than DCNN__SHOWN_PATH_MAX, else
 * its start and end around "..." (never cutting a UTF-8 character) in `buf`. */
const char *dcnn__shown_path(const char *path, char buf[DCNN__SHOWN_PATH_MAX]);

/* dcnn_last_error_path keeps paths of fewer bytes than this (Linux's PATH_MAX:
 * no system call takes a longer one). */
#define DCNN__ERROR_PATH_CAPACITY 4096
/* Every message written between these two, on this thread, is about `path`
 * (dcnn_last_error_path() returns it); scopes nest, the innermost wins. Enter
 * returns the enclosing scope's path, which leave takes back. `path` must
 * outlive the scope. */
const char *dcnn__file_scope_enter(const char *path);
void dcnn__file_scope_leave(const char *enclosing);

/* Largest step or update count a checkpoint may hold: exact as a double (Adam's
 * bias correction takes it as one) and far from int64 overflow when counted on. */
#define DCNN__COUNTER_LIMIT (INT64_C(1) << 53)

/* The calling thread's message, its path and its write count, kept across a
 * call whose failure a success path tolerates (a count skipping a parameter a
 * custom layer cannot describe): status.h promises that successful calls leave
 * the message unchanged, and that no caller's mark sees a message it did not
 * cause. */
typedef struct dcnn__error_saved {
  char text[DCNN__ERROR_CAPACITY];
  char path[DCNN__ERROR_PATH_CAPACITY];
  uint64_t written;
} dcnn__error_saved;
void dcnn__error_save(dcnn__error_saved *saved);
void dcnn__error_restore(const dcnn__error_saved *saved);

#define DCNN_CHECK(cond, status, ...)               \
  do {                                              \
    if (!(cond)) return dcnn__fail((status), __VA_ARGS__); \
  } while (0)

#define DCNN_CHECK_ARG(ptr) DCNN_CHECK_ARG_IN(__func__, ptr)
/* The argument as the header names it, where the definition's parameter is shorter ("model" for m). */
#define DCNN_CHECK_ARG_AS(ptr, name) \
  DCNN_CHECK((ptr) != NULL, DCNN_ERR_INVALID_ARGUMENT, "%s: argument '%s' is NULL", __func__, name)
/* In a helper behind a public function: the message names the function the caller called. */
#define DCNN_CHECK_ARG_IN(fn, ptr) \
  DCNN_CHECK((ptr) != NULL, DCNN_ERR_INVALID_ARGUMENT, "%s: argument '%s' is NULL", fn, #ptr)

#define DCNN_TRY(expr)                      \
  do {                                      \
    dcnn_status dcnn_try_status_ = (expr);  \
    if (dcnn_try_status_ != DCNN_OK) return dcnn_try_status_; \
  } while (0)

struct dcnn_context {
  int32_t threads;
  dcnn_allocator allocator;
  atomic_llong live_allocations;
  atomic_llong allocation_count;
  dcnn_log_fn log;
  dcnn_log_level log_level;
  void *log_user;
};

/* The context to use: `ctx` itself, or the immutable default one for NULL. */
dcnn_context *dcnn__context(dcnn_context *ctx);

/* Seconds on CLOCK_MONOTONIC: the one wall clock of the library's timings. */
double dcnn__now(void);

/* A draw in [0, bound) at (seed, stream, index), bound >= 1. Bounds up to
 * 2^20 take the 32 bits dcnn_random_bits() gives there modulo the bound (a
 * bias below 1 part in 4096, and the shuffles every seed has always given);
 * larger ones take 64 bits, so a shuffle of 10^9 samples is not skewed
 * 1.25 : 1 toward its low indices. */
uint32_t dcnn__random_below(uint64_t seed, uint64_t stream, uint64_t index, uint32_t bound);

/* 64-byte aligned allocation through the context's allocator, counted. */
void *dcnn__alloc(dcnn_context *ctx, size_t size);
void *dcnn__calloc(dcnn_context *ctx, size_t count, size_t size);
void dcnn__release(dcnn_context *ctx, void *ptr);
/* Bounds the bytes dcnn__alloc may hand out on the calling thread from now on
 * (-1: unbounded) and returns the previous setting. Loaders use it so that a
 * crafted file cannot make the library attempt allocations its own size does
 * not justify. */
int64_t dcnn__set_alloc_budget(int64_t bytes);
/* How many allocations the budget has refused on the calling thread so far:
 * tells a refusal by the budget (a file claiming too much) from a genuine
 * out-of-memory. */
int64_t dcnn__alloc_budget_refusals(void);
/* Bytes dcnn__alloc has been asked for on the calling thread so far (counted
 * as the budget counts them, whatever the context): the difference across a
 * call is what that call charges to a budget. */
int64_t dcnn__alloc_bytes_requested(void);
/* Allocations the calling thread made through dcnn__alloc minus those it
 * released: the difference across a call is what the call left allocated. */
int64_t dcnn__allocations_held(void);

/* Test hook for out-of-memory sweeps: on the calling thread, the next `count`
 * dcnn__alloc calls (whatever their context) succeed and every later one
 * fails, until the hook is set again; -1 (the default) turns it off. Returns
 * how many allocations are still allowed (-1: off). Never used by the library. */
int64_t dcnn__fail_allocations_after(int64_t count);

void dcnn__log(dcnn_context *ctx, dcnn_log_level level, const char *fmt, ...) DCNN_PRINTF(3, 4);

/* Makes OpenBLAS compute on the calling thread only (before every GEMM; free
 * with a serial OpenBLAS); the library parallelises GEMMs itself so that a
 * context bounds all threads and results do not depend on OpenBLAS's count. */
void dcnn__blas_single_threaded(void);

/* Brackets every cblas_sgemm call. dcnn__blas_enter returns 1 when OpenBLAS
 * can have a buffer for one more concurrent call (checked against the address
 * space when the number of calls in progress reaches a new peak; OpenBLAS
 * itself would retry forever), and the caller must then dcnn__blas_leave after
 * the call; 0 otherwise, setting no error (it runs on worker threads): the
 * caller then reports dcnn__blas_unavailable(). */
int dcnn__blas_enter(void);
void dcnn__blas_leave(void);
/* #DCNN_ERR_OUT_OF_MEMORY with the message for a refused GEMM thread. */
dcnn_status dcnn__blas_unavailable(void);

/* Tensor internals shared with layers and the model. */
struct dcnn_tensor {
  dcnn_context *ctx;
  dcnn_shape shape;
  int64_t count;
  int64_t capacity; /* elements available at `data` */
  float *data;
  int owns_data;
  /* Set on the buffers the library hands to layers to write: their shapes are the library's to set
   * (the next layer trusts them), so dcnn_tensor_reshape refuses them. */
  int shape_locked;
};

/* Creates a tensor able to hold `capacity` elements; its shape may later be
 * changed to any shape of at most that many elements without reallocation. */
dcnn_status dcnn__tensor_create_capacity(dcnn_context *ctx, const dcnn_shape *shape, int64_t capacity,
                                         dcnn_tensor **out);
/* Changes the outermost extent (the batch) within the tensor's capacity. */
dcnn_status dcnn__tensor_set_batch(dcnn_tensor *t, int32_t batch);
/* Sets any shape within the tensor's capacity. */
dcnn_status dcnn__tensor_set_shape(dcnn_tensor *t, const dcnn_shape *shape);
int dcnn__shape_valid(const dcnn_shape *shape);

#endif
