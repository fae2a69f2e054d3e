/**
 * @file layer_interface.h
 * @brief The layer interface: vtable-dispatched modules, built-in or your own.
 *
 * A layer is a pair of a vtable (::dcnn_layer_vtable, static, shared by all
 * layers of one type) and a `self` pointer to the layer's own state. The
 * library wraps the pair in an opaque ::dcnn_layer handle.
 *
 * Life cycle, driven by the model (see docs/layers.md):
 * 1. `build` once, with the input shape of one sample as a batch of 1
 *    (for instance (1, 32, 28, 28)): check it, create parameters with the
 *    context's allocator, report the output shape for a batch of 1.
 * 2. `init_params` with a seed, whenever the model is (re)initialised.
 * 3. `plan` whenever the model's largest batch grows: allocate whatever the
 *    layer keeps between forward and backward for that many samples.
 *    `workspace_size` says how much shared scratch forward/backward need;
 *    the model provides one workspace, the maximum over its layers, through
 *    dcnn_exec_workspace(). After planning, forward and backward must not
 *    allocate.
 * 4. `forward` and `backward` on batches of at most the planned size. Tensors
 *    are NCHW; their first dimension is the batch.
 *
 * Gradients: `backward` *writes* (does not accumulate) parameter gradients
 * and, when `grad_input` is not NULL, the gradient with respect to the input.
 *
 * Shared inference (sessions, see session.h): a layer type that sets
 * #DCNN_LAYER_SHARED_INFERENCE in its vtable's `flags` (ABI version 2)
 * promises that when dcnn_exec_backward_follows() is 0 its `forward` does not
 * modify `self` in any way (no saved arg-max, mask, statistics or scratch kept
 * in the layer): it reads its parameters, writes only @p output and the
 * workspace of dcnn_exec_workspace(), and does not depend on `plan` having
 * been called (sessions do not plan layers; size what it needs through
 * `workspace_size`). Several threads may then run that forward on the same
 * layer at once. When backward_follows is 1 (training steps, input gradients)
 * forward may keep in `self` what backward needs. A model with any layer
 * without the flag (every version-1 vtable) cannot have sessions
 * (dcnn_session_create() fails with #DCNN_ERR_UNSUPPORTED naming the layer);
 * its dcnn_model_predict() plans the layers and runs them as in training,
 * with backward_follows 1.
 *
 * Workspace and threads: `workspace_size` may depend on the context's thread
 * count at the time it is called; forward and backward may be given fewer
 * threads (dcnn_exec_threads()) than that, never more. A layer whose scratch
 * depends on the thread count should check the size dcnn_exec_workspace()
 * reports and fail with #DCNN_ERR_INVALID_STATE rather than overrun it.
 *
 * Thread-safety: apart from the shared inference above, a layer is used by
 * one thread at a time; inside forward/backward it may use up to
 * dcnn_exec_threads() threads.
 */
/** @addtogroup layers
 * @{ */
#ifndef DIGITCNN_LAYER_INTERFACE_H
#define DIGITCNN_LAYER_INTERFACE_H

#include <stddef.h>
#include <stdint.h>

#include "context.h"
#include "export.h"
#include "status.h"
#include "tensor.h"

DCNN_BEGIN_DECLS

/**
 * ABI version of ::dcnn_layer_vtable; a vtable should set `abi_version` to it.
 *
 * Version 2 added the trailing `flags` field, version 3 the trailing
 * `export_onnx` slot. Vtables of versions 1 and 2 (which end before them) are
 * still accepted; they are treated as having no flags and no ONNX export.
 */
#define DCNN_LAYER_ABI_VERSION 3

/** @brief Bits of ::dcnn_layer_vtable `flags` (ABI version 2 and later). */
typedef enum dcnn_layer_flag {
  /** A forward with dcnn_exec_backward_follows() == 0 modifies neither `self`
   *  nor anything but its output and the exec workspace, and needs no `plan`:
   *  several threads may run it on one layer at once (inference sessions). */
  DCNN_LAYER_SHARED_INFERENCE = 1,
  /** Training normalises with statistics of the batch (batch norm), which one
   *  sample may not give: the trainer skips a last batch of a single sample
   *  (dcnn_trainer_fit, #DCNN_TRAIN_BATCH_SIZE) when a layer declares this. */
  DCNN_LAYER_BATCH_STATISTICS = 2
} dcnn_layer_flag;

/** @brief Opaque layer handle. */
typedef struct dcnn_layer dcnn_layer;

/** @brief Opaque per-call execution state handed to forward/backward. */
typedef struct dcnn_exec dcnn_exec;

/** @brief Opaque ONNX graph under construction, handed to a layer's
 *  `export_onnx` slot (functions in onnx.h). */
typedef struct dcnn_onnx_graph dcnn_onnx_graph;

/** @brief Flags describing a parameter (bits of ::dcnn_param `flags`). */
typedef enum dcnn_param_flag {
  DCNN_PARAM_TRAINABLE = 1, /**< Updated by optimizers; has a gradient. */
  DCNN_PARAM_BUFFER = 2,    /**< State saved with the model but not trained (running mean). */
  DCNN_PARAM_NO_DECAY = 4   /**< Excluded from weight decay (biases, batch-norm scales). */
} dcnn_param_flag;

/**
 * @brief One parameter of a layer, as enumerated for optimizers and files.
 *
 * All pointers are borrowed from the layer and live as long as it does.
 * A struct that grows (docs/api-conventions.md): fields are only appended.
 * Callers of dcnn_layer_param() and dcnn_model_param() set `struct_size`
 * (DCNN_STRUCT_INIT(dcnn_param)); a layer's `param` slot receives a struct
 * whose `struct_size` the library has set and whose fields are zeroed, and
 * fills the fields it knows.
 */
typedef struct dcnn_param {
  size_t struct_size; /**< sizeof(dcnn_param) as the caller was compiled; set by the caller. */
  const char *name;   /**< Stable name within the layer ("kernel", "bias", "gamma"). */
  dcnn_tensor *value; /**< The values. */
  dcnn_tensor *grad;  /**< Gradient of the same shape; NULL for buffers. */
  uint32_t flags;     /**< Bitwise or of ::dcnn_param_flag. */
} dcnn_param;

/**
 * @brief The functions that make a layer type. Optional slots may be NULL.
 *
 * `self` is the layer's state, as given to dcnn_layer_create(). A slot that
 * returns an error sets its message with dcnn_error_set() (else the library
 * writes a generic one naming the layer and slot). The vtable is borrowed,
 * not copied: it is versioned by `abi_version`, not `struct_size`.
 */
typedef struct dcnn_layer_vtable {
  /** #DCNN_LAYER_ABI_VERSION, or 1 for a vtable without `flags`. */
  uint32_t abi_version;
  /** Unique, stable type name ("conv2d"); used in summaries, errors and model files. */
  const char *type_name;
  /** Required. Checks @p input (a batch of 1), creates parameters through @p ctx,
   *  writes the output shape for a batch of 1. Called once. */
  dcnn_status (*build)(void *self, dcnn_context *ctx, const dcnn_shape *input, dcnn_shape *output);
  /** Optional. Prepares for batches of up to @p max_batch samples. */
  dcnn_status (*plan)(void *self, dcnn_context *ctx, int32_t max_batch);
  /** Optional. Bytes of shared scratch forward/backward need at @p max_batch
   *  with up to the context's current thread count. */
  int64_t (*workspace_size)(const void *self, int32_t max_batch);
  /** Required. Computes @p output from @p input; both shapes are set by the
   *  caller and stay as they are (dcnn_tensor_reshape() refuses @p output). */
  dcnn_status (*forward)(void *self, dcnn_exec *exec, const dcnn_tensor *input, dcnn_tensor *output);
  /** Optional (NULL: the layer cannot be trained through). Writes parameter
   *  gradients and, when @p grad_input is not NULL, the input gradient, in
   *  the shape it has (that of @p input; dcnn_tensor_reshape() refuses it,
   *  except for the first layer's, which may be the caller's own tensor). */
  dcnn_status (*backward)(void *self, dcnn_exec *exec, const dcnn_tensor *input, const dcnn_tensor *output,
                          const dcnn_tensor *grad_output, dcnn_tensor *grad_input);
  /** Optional (NULL: no parameters). Number of parameters after build. */
  int32_t (*param_count)(const void *self);
  /** Optional with param_count. Describes parameter @p index: @p out has its
   *  `struct_size` set and its other fields zeroed; set the fields (assigning a
   *  whole struct must keep `struct_size`). `name` and `value` must be set,
   *  and `grad`, when set, must have `value`'s shape: dcnn_layer_param()
   *  refuses otherwise (#DCNN_ERR_INVALID_STATE). */
  dcnn_status (*param)(void *self, int32_t index, dcnn_param *out);
  /** Optional. (Re)initialises the parameters reproducibly from @p seed. */
  dcnn_status (*init_params)(void *self, uint64_t seed);
  /** Optional. Writes the configuration as "key=value" pairs separated by
   *  spaces ("filters=32 kernel=3 stride=1 padding=same bias=0"), NUL-ended,
   *  within @p size bytes. Model files hold at most 1,023 bytes of it:
   *  dcnn_model_save() refuses a layer that fills the buffer it passes
   *  (#DCNN_ERR_UNSUPPORTED), as the text may have been cut short. */
  dcnn_status (*describe)(const void *self, char *buf, int32_t size);
  /** Optional. Multiply-adds of one sample's forward pass (for summaries). */
  int64_t (*flops)(const void *self);
  /** Required. Frees @p self and everything it owns. */
  void (*destroy)(void *self);
  /** Bitwise or of ::dcnn_layer_flag (ABI version 2; read only when
   *  `abi_version` >= 2, so version-1 vtables, which end before it, still work). */
  uint32_t flags;
  /** Optional (ABI version 3; read only when `abi_version` >= 3). Writes the
   *  layer as ONNX nodes into @p graph (onnx.h: dcnn_onnx_graph_node(),
   *  dcnn_onnx_graph_initializer(), dcnn_onnx_graph_value()) computing the
   *  value named @p output from the value named @p input (NCHW, batch first).
   *  It writes @p output once and otherwise only names from
   *  dcnn_onnx_graph_value(), each defined before it is read: a graph that
   *  breaks this fails the export with #DCNN_ERR_INVALID_STATE, naming the
   *  node. NULL: dcnn_model_export_onnx() fails with #DCNN_ERR_UNSUPPORTED
   *  naming the layer. Called on a built layer, from the exporting thread
   *  only. */
  dcnn_status (*export_onnx)(const void *self, dcnn_onnx_graph *graph, const char *input, const char *output);
} dcnn_layer_vtable;

/**
 * @brief Wraps a vtable and a state into a layer handle.
 * @param vtable The type's functions; borrowed, must outlive the layer
 *        (normally a static constant).
 * @param self The layer's state. Ownership passes to the layer in all cases:
 *        on failure `vtable->destroy(self)` has been called.
 * @param[out] out Receives the layer; NULL on failure.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT (missing required slot; a
 *         `type_name` of a built-in type, such as "relu", which a saved model
 *         would load back as the built-in layer),
 *         #DCNN_ERR_UNSUPPORTED (`abi_version` other than 1, 2 or 3),
 *         #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_layer_create(const dcnn_layer_vtable *vtable, void *self, dcnn_layer **out);

/**
 * @brief Destroys a layer that was not handed to a model. NULL is allowed.
 * @param layer The layer. One that belongs to a model or a residual block is
 *        left alone: its owner destroys it.
 */
DCNN_API void dcnn_layer_destroy(dcnn_layer *layer);

/**
 * @brief The layer's type name.
 * @param layer The layer (not NULL).
 * @return Borrowed from the vtable.
 */
DCNN_API const char *dcnn_layer_type(const dcnn_layer *layer);

/** Bytes that hold every settings text a model file keeps (at most 1,023
 *  characters and the NUL, and one byte that dcnn_layer_describe() needs to
 *  see that the text ended). */
#define DCNN_LAYER_SETTINGS_BYTES 1025

/**
 * @brief The layer's settings as its `describe` slot writes them, the text a
 *        model file keeps ("filters=32 kernel=3 stride=1 padding=same bias=0";
 *        "" for a layer type without the slot). With dcnn_layer_type() it
 *        is what dcnn_layer_from_config() takes to make the layer again,
 *        except for composite layers (a residual block), which list their
 *        parts ("relu=1 body=conv2d,batchnorm_relu,conv2d shortcut=identity")
 *        and are made with their own constructor (their file record holds
 *        the parts).
 * @param layer The layer (not NULL).
 * @param[out] buf Receives the NUL-terminated text; "" on failure.
 * @param size Bytes at @p buf, at least 1. A text that fills @p buf (size - 1
 *        characters) is refused, as it may have been cut short:
 *        #DCNN_LAYER_SETTINGS_BYTES bytes hold every text a model file keeps.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT (NULL, @p size below 1, or
 *         a text that fills @p buf), or the error of a custom layer's
 *         `describe` (one that fails without a message gets one naming it).
 * Thread-safety: as any read of the layer.
 */
DCNN_API dcnn_status dcnn_layer_describe(const dcnn_layer *layer, char *buf, int32_t size);

/**
 * @brief The layer's state pointer, as given to dcnn_layer_create().
 * @param layer The layer (not NULL).
 * @return Borrowed; owned by the layer.
 */
DCNN_API void *dcnn_layer_self(dcnn_layer *layer);

/**
 * @brief Builds a layer for inputs of @p input's per-sample shape.
 *
 * Models call this when a layer is added; call it yourself only to use a layer
 * on its own (for instance with dcnn_layer_check_gradients()).
 * @param layer The layer; a layer is built once.
 * @param ctx Context for its allocations, or NULL for the default. Must
 *        outlive the layer.
 * @param input The input shape; its first dimension (the batch) is ignored.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT (NULL, an invalid shape),
 *         #DCNN_ERR_INVALID_STATE (already built; a build that reported an
 *         invalid output shape; or an earlier build failed and left memory
 *         allocated through the library on the calling thread (a build that
 *         allocates on threads of its own is not seen): it may have left half its state, so
 *         it is not run again, and the layer can only be destroyed),
 *         #DCNN_ERR_SHAPE_MISMATCH or another error from the layer.
 */
DCNN_API dcnn_status dcnn_layer_build(dcnn_layer *layer, dcnn_context *ctx, const dcnn_shape *input);

/**
 * @brief Output shape of a built layer for a batch of 1.
 * @param layer The layer (not NULL).
 * @return The shape; ndim 0 if the layer is not built.
 */
DCNN_API dcnn_shape dcnn_layer_output_shape(const dcnn_layer *layer);

/**
 * @brief Number of parameter tensors of a built layer (named as
 *        dcnn_model_param_tensor_count(); dcnn_layer_param_count() of 0.1 and
 *        early 0.2, renamed because dcnn_model_param_count() counts scalars).
 * @param layer The layer (not NULL).
 * @return The count (0 for layers without parameters).
 */
DCNN_API int32_t dcnn_layer_param_tensor_count(const dcnn_layer *layer);

/**
 * @brief Describes parameter @p index of a built layer.
 * @param layer The layer.
 * @param index 0 .. dcnn_layer_param_tensor_count() - 1.
 * @param[in,out] out Its `struct_size` set by the caller (DCNN_STRUCT_INIT);
 *        receives the description (borrowed pointers), as many fields as
 *        `struct_size` holds.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT (also for a `struct_size`
 *         below the 0.2 layout), or the layer's error.
 */
DCNN_API dcnn_status dcnn_layer_param(dcnn_layer *layer, int32_t index, dcnn_param *out);

/**
 * @brief Whether forward/backward run in training mode (batch statistics,
 *        dropout) rather than inference mode.
 * @param exec The execution state (not NULL).
 * @return 1 in training mode, 0 in inference mode.
 */
DCNN_API int dcnn_exec_training(const dcnn_exec *exec);

/**
 * @brief Whether a backward pass follows this forward pass.
 *
 * 1 in training mode and when input gradients are computed (the forward may
 * keep state in the layer for backward), and in dcnn_model_predict() on a
 * model with a layer without #DCNN_LAYER_SHARED_INFERENCE; 0 when the forward
 * serves inference only (sessions, dcnn_model_predict()): the forward of a
 * layer with that flag must then leave the layer unmodified, since other
 * threads may run it at the same time.
 * @param exec The execution state (not NULL).
 * @return 1 or 0.
 */
DCNN_API int dcnn_exec_backward_follows(const dcnn_exec *exec);

/**
 * @brief Threads the layer may use for this call.
 * @param exec The execution state (not NULL).
 * @return At least 1.
 */
DCNN_API int32_t dcnn_exec_threads(const dcnn_exec *exec);

/**
 * @brief The shared scratch memory for this call (64-byte aligned).
 * @param exec The execution state (not NULL).
 * @param[out] size Receives its size in bytes (at least what the layer's
 *        `workspace_size` asked for at the batch and thread count this call
 *        runs with); may be NULL.
 * @return Borrowed; contents are undefined on entry and may be overwritten by
 *         other layers between calls.
 */
DCNN_API void *dcnn_exec_workspace(dcnn_exec *exec, int64_t *size);

/**
 * @brief Seed for this layer and this training step, for random layers
 *        (dropout). Derived from the model's seed, the step number and the
 *        layer's position, so runs are reproducible.
 * @param exec The execution state (not NULL).
 * @return The seed.
 */
DCNN_API uint64_t dcnn_exec_seed(const dcnn_exec *exec);

/**
 * @brief Context of the call (for logging).
 * @param exec The execution state (not NULL).
 * @return Borrowed context; never NULL.
 */
DCNN_API dcnn_context *dcnn_exec_context(dcnn_exec *exec);

/**
 * @brief Checks a layer's backward pass against central finite differences.
 *
 * Builds the layer for @p input if it is not built, draws a random input and
 * a random projection r, and compares the analytic gradients of
 * L = sum(r * forward(x)) with respect to the input and every trainable
 * parameter with (L(v + h) - L(v - h)) / 2h, in training mode with a fixed seed.
 * Meant for tests of custom layers.
 * @param layer The layer.
 * @param ctx Context, or NULL.
 * @param input Input shape including the batch (e.g. (3, 2, 7, 7)).
 * @param seed Seed for the random input, projection and parameters.
 * @param[out] max_error Largest relative error |a - n| / max(1, |a| + |n|)
 *        (scaled by the gradient's magnitude) over all checked entries;
 *        HUGE_VAL when an output, loss or gradient is NaN or infinite, or
 *        when most probes straddle a kink (a broken layer).
 * @return #DCNN_OK (whatever the error); #DCNN_ERR_INVALID_ARGUMENT (NULL
 *         arguments); #DCNN_ERR_SHAPE_MISMATCH (@p input does not fit the
 *         layer as built); #DCNN_ERR_UNSUPPORTED (a layer without a backward
 *         pass); #DCNN_ERR_INVALID_STATE (a layer a model or residual block
 *         holds: the check draws new parameters and runs training passes);
 *         #DCNN_ERR_OUT_OF_MEMORY; or an error from the layer. A layer
 *         built already keeps its own context; @p ctx is for one built here.
 */
DCNN_API dcnn_status dcnn_layer_check_gradients(dcnn_layer *layer, dcnn_context *ctx, const dcnn_shape *input,
                                                uint64_t seed, double *max_error);

DCNN_END_DECLS

#endif /* DIGITCNN_LAYER_INTERFACE_H */
/** @} */
