/**
 * @file model.h
 * @brief Sequential models: build, summarise, predict, run forward and backward.
 *
 * A model is a chain of layers. Shapes are inferred as layers are added, so a
 * misfit is reported by dcnn_model_add() naming the layer, not at run time.
 * Training memory (activations, gradients, one shared workspace) is planned
 * for the largest batch seen or reserved and the context's thread count;
 * later training steps and input gradients with batches up to that size at
 * the same thread count do not allocate. dcnn_model_predict() uses its own
 * inference session, allocated at its first call and again when the batch
 * exceeds the largest it has seen, layers are added or the thread count
 * changes; between those it does not allocate either.
 *
 * Ownership: the model owns its layers. Thread-safety: one thread at a time
 * per model (dcnn_model_predict() included: it uses buffers the model owns);
 * internally the model's context's thread count is used. To predict from many
 * threads with one model, give each thread its own inference session
 * (session.h); the model is then shared read-only and must not change while
 * sessions exist.
 */
/** @addtogroup models
 * @{ */
#ifndef DIGITCNN_MODEL_H
#define DIGITCNN_MODEL_H

#include <stdint.h>

#include "context.h"
#include "export.h"
#include "layer_interface.h"
#include "status.h"
#include "tensor.h"

DCNN_BEGIN_DECLS

/** @brief Opaque model handle. */
typedef struct dcnn_model dcnn_model;

/**
 * @brief Creates an empty model for inputs of one sample's shape.
 * @param ctx Context for allocations and threads, or NULL for the default;
 *        must outlive the model.
 * @param sample_shape Shape of one sample without the batch: (C, H, W) for
 *        images, (F) for feature vectors.
 * @param[out] out The model; NULL on failure.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT, #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_model_create(dcnn_context *ctx, const dcnn_shape *sample_shape, dcnn_model **out);

/**
 * @brief Destroys a model and all its layers. NULL is allowed.
 *
 * Destroy the model's sessions (session.h) first: if any are alive, an error
 * is logged through the context's log callback (#DCNN_LOG_ERROR) and the
 * model is destroyed anyway; the sessions must then never be used or
 * destroyed (their model is gone).
 * @param model The model.
 */
DCNN_API void dcnn_model_destroy(dcnn_model *model);

/**
 * @brief Appends a layer and builds it for the current output shape.
 * A small network by hand; each layer is built as it is added, so a layer
 * that does not fit its input fails here, named:
 * @code{.c}
 * dcnn_shape sample = dcnn_shape_make(3, 1, 28, 28, 0); // (C, H, W) of one image
 * dcnn_model *net = NULL;
 * dcnn_layer *layer = NULL;
 * dcnn_status s = dcnn_model_create(NULL, &sample, &net);
 * if (s == DCNN_OK) s = dcnn_conv2d_create(16, 3, 1, DCNN_PADDING_SAME, DCNN_WITH_BIAS, &layer);
 * if (s == DCNN_OK) s = dcnn_model_add(net, layer); // the model owns the layer now
 * if (s == DCNN_OK) s = dcnn_relu_create(&layer);
 * if (s == DCNN_OK) s = dcnn_model_add(net, layer);
 * if (s == DCNN_OK) s = dcnn_flatten_create(&layer);
 * if (s == DCNN_OK) s = dcnn_model_add(net, layer);
 * if (s == DCNN_OK) s = dcnn_dense_create(10, DCNN_WITH_BIAS, &layer);
 * if (s == DCNN_OK) s = dcnn_model_add(net, layer);
 * if (s == DCNN_OK) s = dcnn_softmax_create(&layer);
 * if (s == DCNN_OK) s = dcnn_model_add(net, layer);
 * if (s != DCNN_OK) fprintf(stderr, "%s\n", dcnn_last_error());
 * dcnn_model_destroy(net);
 * @endcode
 * @param model The model.
 * @param layer The layer. Ownership passes to the model in all cases (on
 *        failure the layer is destroyed), except for a layer that already
 *        belongs to a model or a residual block: that one is refused and left
 *        to its owner.
 * @return #DCNN_OK; #DCNN_ERR_SHAPE_MISMATCH with a message naming the layer
 *         ("layer 3 (dense): ...") when the input does not fit;
 *         #DCNN_ERR_INVALID_ARGUMENT when the model would have more than the
 *         16,384 layer records a model file holds (a residual block counts 1
 *         plus its layers' records; docs/model-format.md, "Limits"), a layer
 *         that already has an owner, or a NULL argument; #DCNN_ERR_INVALID_STATE (inference sessions of the
 *         model are alive); #DCNN_ERR_OUT_OF_MEMORY; other errors from the
 *         layer.
 */
DCNN_API dcnn_status dcnn_model_add(dcnn_model *model, dcnn_layer *layer);

/**
 * @brief Number of layers.
 * @param model The model (not NULL).
 * @return The count.
 */
DCNN_API int32_t dcnn_model_layer_count(const dcnn_model *model);

/**
 * @brief Layer @p index, borrowed from the model.
 * @param model The model.
 * @param index 0 .. count - 1.
 * @return The layer, or NULL if @p index is out of range.
 */
DCNN_API dcnn_layer *dcnn_model_layer(dcnn_model *model, int32_t index);

/**
 * @brief Output shape of one sample (without the batch).
 * @param model The model (not NULL).
 * @return The input shape for a model without layers.
 */
DCNN_API dcnn_shape dcnn_model_output_shape(const dcnn_model *model);

/**
 * @brief Input shape of one sample (without the batch).
 * @param model The model (not NULL).
 * @return The shape given to dcnn_model_create().
 */
DCNN_API dcnn_shape dcnn_model_input_shape(const dcnn_model *model);

/**
 * @brief Number of parameter values (scalars) whose flags include any of @p flags.
 * @param model The model (not NULL).
 * @param flags #DCNN_PARAM_TRAINABLE, #DCNN_PARAM_BUFFER, or both.
 * @return The count.
 */
DCNN_API int64_t dcnn_model_param_count(const dcnn_model *model, uint32_t flags);

/**
 * @brief Number of parameter tensors of all layers, in layer order.
 * @param model The model (not NULL).
 * @return The count.
 */
DCNN_API int32_t dcnn_model_param_tensor_count(const dcnn_model *model);

/**
 * @brief Parameter tensor @p index over all layers, in layer order (the order
 *        optimizers and model files use).
 * @param model The model.
 * @param index 0 .. dcnn_model_param_tensor_count() - 1.
 * @param[in,out] out Its `struct_size` set by the caller (DCNN_STRUCT_INIT);
 *        receives the description (borrowed pointers) as for dcnn_layer_param().
 * @param[out] layer_index Receives the owning layer's index; may be NULL.
 * @return #DCNN_OK or #DCNN_ERR_INVALID_ARGUMENT (also for a `struct_size`
 *         below the 0.2 layout).
 */
DCNN_API dcnn_status dcnn_model_param(dcnn_model *model, int32_t index, dcnn_param *out, int32_t *layer_index);

/**
 * @brief (Re)initialises all parameters from @p seed and sets the seed of the
 *        model's random layers; also resets the step counter.
 * @param model The model.
 * @param seed The seed; the same seed gives the same weights.
 * @return #DCNN_OK; #DCNN_ERR_INVALID_ARGUMENT (NULL); #DCNN_ERR_INVALID_STATE
 *         (inference sessions of the model are alive); or an error from a
 *         layer, after which the layers before it are re-initialised and the
 *         others not: call it again once the layer is fixed.
 */
DCNN_API dcnn_status dcnn_model_init(dcnn_model *model, uint64_t seed);

/**
 * @brief Plans training memory (activations, gradients, workspace; layers'
 *        `plan`) for batches of up to @p max_batch samples at the context's
 *        current thread count now, rather than at the first step that needs it.
 *
 * Planning again happens when a larger batch comes or the context's thread
 * count changes (that re-plan keeps the largest batch). This does not size
 * the inference session dcnn_model_predict() uses (it allocates at its
 * first call), except for models with a layer without
 * #DCNN_LAYER_SHARED_INFERENCE, which predict through this plan.
 * @param model The model.
 * @param max_batch >= 1.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT, #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_model_reserve(dcnn_model *model, int32_t max_batch);

/**
 * @brief A Keras-like table: layer, output shape, parameters, multiply-adds;
 *        then the totals.
 * @param model The model.
 * @param[out] text A NUL-terminated string the caller frees with dcnn_free().
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT, #DCNN_ERR_OUT_OF_MEMORY, or
 *         the error of a custom layer's `param` slot.
 */
DCNN_API dcnn_status dcnn_model_summary(const dcnn_model *model, char **text);

/**
 * @brief Runs the model in inference mode.
 *
 * Runs through an inference session the model owns (allocated at the first
 * call, re-planned when the batch grows, layers are added or the context's
 * thread count changes), so results equal dcnn_session_predict()'s bit for
 * bit at the same thread count. A model with a layer that does not declare
 * #DCNN_LAYER_SHARED_INFERENCE (a custom layer of vtable ABI version 1)
 * predicts instead through its training plan (dcnn_model_reserve(), the
 * layers' `plan` called), as before sessions existed. Either way it changes
 * the model: not for several threads at once; use sessions for that.
 * @param model The model.
 * @param input (N, sample shape...) tensor.
 * @param output (N, output shape...) tensor, written.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT (NULL), #DCNN_ERR_INVALID_STATE
 *         (a model without layers), #DCNN_ERR_SHAPE_MISMATCH, #DCNN_ERR_NUMERIC (a NaN or
 *         infinite input element, named; or, from finite inputs, a NaN or
 *         infinite output element: an activation overflowed, the output is
 *         then not meaningful), #DCNN_ERR_OUT_OF_MEMORY (first
 *         call, a new largest batch, added layers or a new thread count), or
 *         an error from a layer.
 */
DCNN_API dcnn_status dcnn_model_predict(dcnn_model *model, const dcnn_tensor *input, dcnn_tensor *output);

/** @brief Mode of dcnn_model_forward(). */
typedef enum dcnn_pass_mode {
  DCNN_PASS_INFERENCE = 0, /**< Batch-norm running statistics, no dropout; nothing in the model changes. */
  DCNN_PASS_TRAINING = 1   /**< Batch statistics (running statistics updated), dropout drawn from the step count. */
} dcnn_pass_mode;

/**
 * @brief Runs the layers forward on @p input and keeps what
 *        dcnn_model_backward() needs: the building block of a training step
 *        (optimizer.h's dcnn_model_train_step() is forward, loss, backward and
 *        an optimizer update).
 *
 * The scores are the output of the last layer, or, when the last layer is a
 * softmax, of the layer before it (its input): losses fuse the softmax
 * (dcnn_softmax_cross_entropy() gives the gradient p - y from the scores).
 * Plans memory as dcnn_model_reserve() does; with batches up to the planned
 * size at the same thread count it does not allocate. Dropout draws from the
 * model's seed and step count (dcnn_model_step_count()).
 * @param model The model.
 * @param input (N, sample shape...) tensor; borrowed, and must stay unchanged
 *        until dcnn_model_backward() (layers read it again).
 * @param mode #DCNN_PASS_TRAINING or #DCNN_PASS_INFERENCE.
 * @param[out] scores The scores, (N, ...) (borrowed: valid until the next
 *        forward pass or call that runs the model, such as
 *        dcnn_model_predict(), which may plan the model's memory again, or
 *        dcnn_model_reserve() or dcnn_model_add()); may be NULL.
 * @param[out] grad_scores A tensor of the scores' shape for their gradient,
 *        which the caller fills before dcnn_model_backward() (borrowed, as
 *        @p scores; its shape is the model's: dcnn_tensor_reshape() refuses
 *        it, dcnn_tensor_view() gives another shape over its data); may be
 *        NULL.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT (NULL input, unknown mode),
 *         #DCNN_ERR_INVALID_STATE (no layers, or only a softmax; or, in
 *         training mode, inference sessions of the model are alive),
 *         #DCNN_ERR_SHAPE_MISMATCH, #DCNN_ERR_NUMERIC (a NaN or infinite
 *         input element, named), #DCNN_ERR_OUT_OF_MEMORY, or an error from
 *         a layer (named).
 * Thread-safety: one thread at a time per model.
 */
DCNN_API dcnn_status dcnn_model_forward(dcnn_model *model, const dcnn_tensor *input, dcnn_pass_mode mode,
                                        const dcnn_tensor **scores, dcnn_tensor **grad_scores);

/**
 * @brief Runs the layers backward from the gradient the caller wrote into
 *        dcnn_model_forward()'s @p grad_scores: every layer's parameter
 *        gradients (dcnn_model_param(), `grad`) are overwritten, and the
 *        gradient with respect to the input is written to @p grad_input.
 *
 * Weights are not changed (an optimizer does that: optimizer.h). Does not
 * allocate. One backward pass per forward pass: it overwrites @p grad_scores
 * on its way down, so a second one (or one after dcnn_model_train_step() or
 * dcnn_model_input_gradient(), which run their own) is
 * #DCNN_ERR_INVALID_STATE until the next dcnn_model_forward().
 * @param model The model, after a successful dcnn_model_forward().
 * @param input The tensor given to that forward pass, unchanged.
 * @param grad_input A tensor of @p input's shape, written; or NULL when only
 *        the parameter gradients are needed.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_STATE (no forward pass to follow, or
 *         its backward pass already run), #DCNN_ERR_SHAPE_MISMATCH (the pass
 *         stays pending), #DCNN_ERR_UNSUPPORTED (a layer without a
 *         backward pass, named) or an error from a layer (named).
 * Thread-safety: one thread at a time per model; the gradients it writes
 * belong to the model (read them with dcnn_model_param()).
 */
DCNN_API dcnn_status dcnn_model_backward(dcnn_model *model, const dcnn_tensor *input, dcnn_tensor *grad_input);

/**
 * @brief Number of training steps taken since the last dcnn_model_init()
 *        (dcnn_model_train_step() counts them; see optimizer.h).
 * @param model The model (not NULL).
 * @return The count.
 */
DCNN_API int64_t dcnn_model_step_count(const dcnn_model *model);

/**
 * @brief Context of the model.
 * @param model The model (not NULL).
 * @return Borrowed; never NULL. For a model made with a NULL context, the
 *         library's default context, shared by every such object:
 *         dcnn_context_set_threads(), _set_log() and _set_allocator() refuse
 *         it and dcnn_context_destroy() ignores it.
 */
DCNN_API dcnn_context *dcnn_model_context(dcnn_model *model);

/**
 * @brief Sets a metadata entry saved with the model (see docs/model-format.md
 *        for the keys the library writes: "preprocessing", "classes",
 *        "training", "library_version").
 * @param model The model.
 * @param key 1 to 63 of a-z A-Z 0-9 _ . - (copied).
 * @param value Text of at most 65,536 bytes (copied); NULL removes the entry.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT (bad key, value too long, a
 *         new key beyond 65,535 entries besides "library_version": a model
 *         file holds 65,536 and every save adds that one, or
 *         metadata text beyond what a model file holds: 16 MiB less 256
 *         bytes of "key=value" lines, backslashes and line breaks counting
 *         twice; the entry is then unchanged), #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_model_set_metadata(dcnn_model *model, const char *key, const char *value);

/**
 * @brief A metadata entry's value.
 * @param model The model (not NULL).
 * @param key The key.
 * @return Borrowed until the entry changes or the model is destroyed; NULL if absent.
 */
DCNN_API const char *dcnn_model_metadata(const dcnn_model *model, const char *key);

/**
 * @brief Number of metadata entries.
 * @param model The model (not NULL).
 * @return The count.
 */
DCNN_API int32_t dcnn_model_metadata_count(const dcnn_model *model);

/**
 * @brief Metadata entry @p index, in key order.
 * @param model The model.
 * @param index 0 .. count - 1.
 * @param[out] key Borrowed key (may be NULL).
 * @param[out] value Borrowed value (may be NULL).
 * @return #DCNN_OK or #DCNN_ERR_INVALID_ARGUMENT.
 */
DCNN_API dcnn_status dcnn_model_metadata_entry(const dcnn_model *model, int32_t index, const char **key,
                                               const char **value);

DCNN_END_DECLS

#endif /* DIGITCNN_MODEL_H */
/** @} */
