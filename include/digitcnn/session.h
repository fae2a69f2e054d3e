/**
 * @file session.h
 * @brief Inference sessions: one loaded model, many threads.
 *
 * A session holds everything one inference call changes (two activation
 * buffers and a workspace), planned once for a largest batch, so the model
 * itself is only read. It also keeps the filters of its Winograd convolutions
 * transformed (up to 64 MiB per session, the first such layers first): each
 * call compares the weights with the copy they were transformed from and
 * transforms them again only if they changed, so predictions always use the
 * current weights. Load or build a model once, then give each thread its
 * own session:
 *
 * @code{.c}
 * dcnn_session *s = NULL;
 * dcnn_status st = dcnn_session_create(model, 64, 1, &s);  // in each thread
 * while (st == DCNN_OK && more_work()) st = dcnn_session_predict(s, input, output);
 * dcnn_session_destroy(s);
 * @endcode
 *
 * Rules (see docs/api-conventions.md):
 * - While any session of a model exists, the model is read-only: training
 *   steps, dcnn_trainer_fit(), dcnn_trainer_resume(), dcnn_model_init() and
 *   dcnn_model_add() on it fail with #DCNN_ERR_INVALID_STATE. Other changes
 *   (loading weights into it, optimizer steps, destroying it) while sessions
 *   exist are the caller's error and are not detected.
 * - A session is used by one thread at a time; different sessions of one
 *   model may predict at the same time from different threads.
 * - Results are bit-identical to dcnn_model_predict() on the same input
 *   (which runs through a session the model owns) for the same thread count.
 * - A session keeps the thread count it was created with;
 *   dcnn_context_set_threads() afterwards does not affect it.
 * - Every layer of the model must declare #DCNN_LAYER_SHARED_INFERENCE
 *   (layer_interface.h); all built-in layers do. Custom layers of vtable ABI version 1
 *   do not: such models are refused and predict with dcnn_model_predict().
 * - Destroy every session before its model: dcnn_model_destroy() with live
 *   sessions logs an error (#DCNN_LOG_ERROR through the context's callback)
 *   and leaves them dangling: using or destroying them then is undefined.
 *
 * Thread-safety: creating and destroying sessions of one model from several
 * threads at once is allowed.
 */
/** @addtogroup models
 * @{ */
#ifndef DIGITCNN_SESSION_H
#define DIGITCNN_SESSION_H

#include <stdint.h>

#include "export.h"
#include "model.h"
#include "status.h"
#include "tensor.h"

DCNN_BEGIN_DECLS

/** @brief Opaque inference session handle. */
typedef struct dcnn_session dcnn_session;

/**
 * @brief Creates an inference session on a model for batches of up to
 *        @p max_batch samples.
 *
 * All memory the session needs is allocated here, through the model's
 * context; dcnn_session_predict() never allocates. A session does not grow:
 * create it with the largest batch you will predict.
 * @param model The model, with at least one layer; borrowed, must outlive the
 *        session and stay unchanged while it exists (see the file's rules).
 * @param max_batch Largest batch, at least 1.
 * @param threads Threads each prediction computes with: 1 (recommended when
 *        many threads predict at once: each caller is already a worker), up to
 *        the model context's dcnn_context_threads(), or 0 for that count
 *        (read now; fixed for the session's life).
 * @param[out] out The session; NULL on failure. Free with dcnn_session_destroy().
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT (NULL argument, @p max_batch
 *         below 1, @p threads outside 0..context threads),
 *         #DCNN_ERR_INVALID_STATE (the model has no layers),
 *         #DCNN_ERR_UNSUPPORTED (a layer, named by index and type, does not
 *         declare #DCNN_LAYER_SHARED_INFERENCE), #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_session_create(const dcnn_model *model, int32_t max_batch, int32_t threads,
                                         dcnn_session **out);

/**
 * @brief Runs the session's model in inference mode on a batch.
 *
 * Reads the model's parameters and writes only the session and @p output.
 * Does not allocate.
 * @param session The session (used by one thread at a time).
 * @param input (N, sample shape...) tensor with 1 <= N <= the session's max_batch.
 * @param output (N, output shape...) tensor, written.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT (NULL argument, N above
 *         max_batch), #DCNN_ERR_SHAPE_MISMATCH (input or output shape),
 *         #DCNN_ERR_INVALID_STATE in three cases only: layers were added to
 *         the model after the session was created (dcnn_model_add() refuses
 *         while sessions live, so this guards against misuse); a
 *         convolution's algorithm was changed after the session was created
 *         (dcnn_conv2d_set_algorithm(), dcnn_model_set_conv_algorithm(): the
 *         session sized its workspace for the algorithm of its creation, see
 *         builtin_layers.h); or a custom layer reports it (for instance a
 *         workspace smaller than it needs because its `workspace_size` answer
 *         changed after the session was created);
 *         #DCNN_ERR_NUMERIC (an input element is NaN or infinite, named;
 *         or an output element is, from finite inputs: an activation
 *         overflowed), or another error from a layer.
 */
DCNN_API dcnn_status dcnn_session_predict(dcnn_session *session, const dcnn_tensor *input, dcnn_tensor *output);

/**
 * @brief Largest batch the session was created for.
 * @param session The session.
 * @return The batch, or 0 if @p session is NULL.
 */
DCNN_API int32_t dcnn_session_max_batch(const dcnn_session *session);

/**
 * @brief Destroys a session and frees its memory. NULL is allowed.
 *
 * Must be called before the model is destroyed.
 * @param session The session.
 */
DCNN_API void dcnn_session_destroy(dcnn_session *session);

DCNN_END_DECLS

#endif /* DIGITCNN_SESSION_H */
/** @} */
