/**
 * @file context.h
 * @brief Execution context: thread count, memory allocator and log sink.
 *
 * A context is the one place where the library's parallelism is set. Every
 * object that allocates or computes (tensors, models, optimizers, ...) is
 * created with a context, or with NULL for the built-in default context
 * (all CPU cores the process may run on, the C allocator, no logging).
 * Layers are the exception: they are created without a context, so a layer's
 * own record and the parsing of its configuration (dcnn_layer_from_config,
 * and so the layers a model file's loader makes) use the default context's
 * allocator; what a layer allocates once added to a model (its parameters,
 * its buffers) comes from the model's context.
 *
 * OpenBLAS is driven single-threaded from the library's own worker threads, so
 * that the context's thread count bounds all parallelism, BLAS included. As
 * OpenBLAS's thread setting is process-wide, the library sets it to 1 when a
 * context first runs a BLAS call; see docs/api-conventions.md.
 *
 * Ownership: a context must outlive every object created with it.
 * Thread-safety: a context may be shared by objects used from several threads,
 * but its setters must not be called while such objects are in use.
 */
/** @addtogroup core
 * @{ */
#ifndef DIGITCNN_CONTEXT_H
#define DIGITCNN_CONTEXT_H

#include <stddef.h>
#include <stdint.h>

#include "export.h"
#include "status.h"

DCNN_BEGIN_DECLS

/** @brief Opaque execution context. */
typedef struct dcnn_context dcnn_context;

/**
 * @brief Memory allocation hooks (copied by the setter).
 *
 * `alloc` must return memory aligned to at least `alignment` bytes (a power of
 * two, at most 4096) or NULL on failure; `release` frees it and accepts NULL.
 * A struct that grows (docs/api-conventions.md): start from
 * `dcnn_allocator a = DCNN_STRUCT_INIT(dcnn_allocator);`, then set the hooks.
 */
typedef struct dcnn_allocator {
  size_t struct_size;                                        /**< sizeof(dcnn_allocator); set by the caller. */
  void *(*alloc)(size_t size, size_t alignment, void *user); /**< Allocate. */
  void (*release)(void *ptr, void *user);                    /**< Free; NULL allowed. */
  void *user;                                                /**< Passed to both hooks. */
} dcnn_allocator;

/** @brief Severity of a log message. */
typedef enum dcnn_log_level {
  DCNN_LOG_ERROR = 0, /**< Something failed. */
  DCNN_LOG_WARN = 1,  /**< Something is suspicious but work goes on. */
  DCNN_LOG_INFO = 2,  /**< Progress and configuration notes. */
  DCNN_LOG_DEBUG = 3  /**< Details for developers. */
} dcnn_log_level;

/**
 * @brief Log sink: where the library's diagnostics go (it never prints
 *        them itself). The message is valid only during the call.
 *
 * Called synchronously on the thread that made the library call, never from
 * inside the library's parallel regions; when a context is shared by several
 * threads the sink may be called from them at once, so it must then be
 * thread-safe. It must not call back into the object that logs.
 */
typedef void (*dcnn_log_fn)(dcnn_log_level level, const char *message, void *user);

/**
 * @brief Creates a context with the defaults (all cores, C allocator, no log).
 * @param[out] out Receives the new context; set to NULL on failure.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT if @p out is NULL,
 *         #DCNN_ERR_OUT_OF_MEMORY.
 * @par Ownership: the caller owns the context; free it with dcnn_context_destroy().
 */
DCNN_API dcnn_status dcnn_context_create(dcnn_context **out);

/**
 * @brief Destroys a context. NULL is allowed and does nothing, and so is the
 *        library's default context (which dcnn_model_context() returns for a
 *        model made with NULL): it is never freed.
 * @param ctx The context; every object created with it must be destroyed first.
 */
DCNN_API void dcnn_context_destroy(dcnn_context *ctx);

/**
 * @brief Sets the number of threads used for all computation with @p ctx.
 * @param ctx The context (not NULL, and not the library's default context,
 *        which dcnn_model_context() returns for objects made with NULL: it
 *        cannot be changed, and this returns #DCNN_ERR_INVALID_ARGUMENT).
 * @param threads 1 to 1024, or 0 for the number of CPU cores this process
 *        may run on (its affinity mask, as `nproc` counts it when
 *        `OMP_NUM_THREADS` and `OMP_THREAD_LIMIT` are unset: the library
 *        reads neither; online cores where the mask cannot be read), which
 *        is also what a new context starts with.
 * @return #DCNN_OK or #DCNN_ERR_INVALID_ARGUMENT.
 * @par Thread-safety: not while objects using @p ctx are running.
 */
DCNN_API dcnn_status dcnn_context_set_threads(dcnn_context *ctx, int32_t threads);

/**
 * @brief Number of threads a context computes with.
 * @param ctx A context, or NULL for the default context.
 * @return The thread count (at least 1).
 */
DCNN_API int32_t dcnn_context_threads(const dcnn_context *ctx);

/**
 * @brief Replaces the allocator of a context (for instance to count or fail allocations).
 *
 * Only allowed while no memory allocated through @p ctx is alive. The hooks
 * are called from the library's worker threads too (image-list loads decode
 * files in parallel; libpng and zlib allocate through them), so they must be
 * thread-safe.
 * @param ctx The context (not NULL, not the library's default context).
 * @param allocator The hooks, copied; NULL restores the C allocator.
 * @return #DCNN_OK or #DCNN_ERR_INVALID_ARGUMENT (the default context, a missing hook, or a
 *         `struct_size` below the 0.2 layout), #DCNN_ERR_UNSUPPORTED (a larger
 *         layout that sets fields this library does not know),
 *         #DCNN_ERR_INVALID_STATE (allocations through @p ctx still alive).
 */
DCNN_API dcnn_status dcnn_context_set_allocator(dcnn_context *ctx, const dcnn_allocator *allocator);

/**
 * @brief Number of allocations made through @p ctx that are still alive.
 * @param ctx A context, or NULL for the default context.
 * @return The count (useful in tests and leak checks).
 */
DCNN_API int64_t dcnn_context_live_allocations(const dcnn_context *ctx);

/**
 * @brief Total number of allocations ever made through @p ctx.
 *
 * Lets a caller check that a steady-state call allocates nothing.
 * @param ctx A context, or NULL for the default context.
 * @return The count since the context was created.
 */
DCNN_API int64_t dcnn_context_allocation_count(const dcnn_context *ctx);

/**
 * @brief Installs a log sink; the library logs nothing unless one is set.
 * @param ctx The context (not NULL, not the library's default context:
 *        #DCNN_ERR_INVALID_ARGUMENT).
 * @param fn The sink, or NULL to silence logging.
 * @param max_level Messages above this level are dropped.
 * @param user Passed to @p fn; not owned.
 * @return #DCNN_OK or #DCNN_ERR_INVALID_ARGUMENT.
 */
DCNN_API dcnn_status dcnn_context_set_log(dcnn_context *ctx, dcnn_log_fn fn, dcnn_log_level max_level,
                                          void *user);

/**
 * @brief Frees a buffer that a `dcnn_` function returned for the caller to free
 *        (for example a summary string). NULL is allowed.
 * @param ptr The buffer.
 */
DCNN_API void dcnn_free(void *ptr);

DCNN_END_DECLS

#endif /* DIGITCNN_CONTEXT_H */
/** @} */
