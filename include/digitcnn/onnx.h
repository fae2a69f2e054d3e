/**
 * @file onnx.h
 * @brief ONNX export and import (optional component, see docs/onnx.md).
 *
 * A model exports to an ONNX file (IR version 7, opset 13 by default; opsets
 * 10 to 17 with IR versions 5 to 8) that ONNX Runtime, OpenCV's DNN module and other runtimes
 * read; an ONNX file whose operators the library has layers for (the paper
 * CNN exported by `torch.onnx.export`, every model this library exports)
 * imports as a model that predicts, trains and saves like any other.
 * Encoding and decoding go through protobuf-c with code generated from
 * onnx.proto at build time. In a build without it (CMake option `DCNN_ONNX`
 * off or protobuf-c missing) every function here fails with
 * #DCNN_ERR_UNSUPPORTED; dcnn_onnx_available() tells which build this is.
 *
 * Layout: tensors are NCHW with the batch first, as ONNX's; the batch
 * dimension is symbolic ("N") in the exported graph. The model's metadata
 * (preprocessing, class names...) travels in the ONNX `metadata_props`.
 *
 * User-defined layers export themselves through the vtable's `export_onnx`
 * slot (layer_interface.h), with the dcnn_onnx_graph_* functions below.
 */
/** @addtogroup models
 * @{ */
#ifndef DIGITCNN_ONNX_H
#define DIGITCNN_ONNX_H

#include <stddef.h>
#include <stdint.h>

#include "context.h"
#include "export.h"
#include "layer_interface.h"
#include "model.h"
#include "status.h"
#include "tensor.h"

DCNN_BEGIN_DECLS

/** Opset dcnn_model_export_onnx() writes unless told otherwise. */
#define DCNN_ONNX_DEFAULT_OPSET 13
/** Lowest opset the exporter writes: 10 writes Clip's bounds and Dropout's
 *  ratio as attributes, the form OpenCV 4.6's DNN module reads. */
#define DCNN_ONNX_MIN_OPSET 10
/** Highest opset the exporter writes and the importer reads. */
#define DCNN_ONNX_MAX_OPSET 17

/**
 * @brief Options of dcnn_model_export_onnx(); a struct that grows (fields are
 *        only appended): initialise it with #DCNN_ONNX_EXPORT_OPTIONS_INIT
 *        (or dcnn_onnx_export_options_init() after setting @c struct_size).
 */
typedef struct dcnn_onnx_export_options {
  size_t struct_size;      /**< sizeof(dcnn_onnx_export_options); set by #DCNN_ONNX_EXPORT_OPTIONS_INIT, kept by
                                 dcnn_onnx_export_options_init(). */
  int32_t opset;           /**< Default-domain opset, 10 to 17 (default 13). */
  const char *input_name;  /**< Name of the graph's input (default "input"); borrowed. Not of the generated
                                 form ('l', digits, '.': "l0.out_0"), which an inner value may have. */
  const char *output_name; /**< Name of the graph's output (default "output"); borrowed; as input_name. */
} dcnn_onnx_export_options;

/** @brief Initialiser of a ::dcnn_onnx_export_options with the defaults (opset 13, "input", "output"). */
#define DCNN_ONNX_EXPORT_OPTIONS_INIT {sizeof(dcnn_onnx_export_options), DCNN_ONNX_DEFAULT_OPSET, "input", "output"}

/**
 * @brief Sets the fields of @p options that its @c struct_size holds to the
 *        defaults, as #DCNN_ONNX_EXPORT_OPTIONS_INIT does (for bindings that
 *        cannot use the macro).
 *
 * Set @c struct_size first (`DCNN_STRUCT_INIT(dcnn_onnx_export_options)`, or a
 * binding's own size): only those bytes are written, so a program built
 * against an older header keeps working with a later library; fields of a
 * newer header that this library does not know are set to zero.
 * @param[in,out] options The options, @c struct_size set.
 * @return #DCNN_OK, or #DCNN_ERR_INVALID_ARGUMENT (NULL, or a @c struct_size
 *         below the first layout: not set) with nothing written.
 * Thread-safe.
 */
DCNN_API dcnn_status dcnn_onnx_export_options_init(dcnn_onnx_export_options *options) DCNN_WARN_UNUSED_RESULT;

/**
 * @brief Whether this build has the ONNX component.
 * @return 1 if it has, 0 if the dcnn_*onnx* functions fail with #DCNN_ERR_UNSUPPORTED.
 */
DCNN_API int dcnn_onnx_available(void);

/**
 * @brief Exports @p model to an ONNX file (written atomically: the file is
 *        complete or not there).
 *
 * Every built-in layer exports (docs/onnx.md has the operator of each);
 * a user-defined layer exports through its vtable's `export_onnx` slot.
 * The model is read, not changed. Thread-safety: like any read of the model,
 * not while another thread changes it.
 * @param model The model (not NULL), with at least one layer.
 * @param path The file to write.
 * @param options NULL for the defaults.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT (NULL arguments, an opset out
 *         of range, or an input / output name empty, equal, not UTF-8 or of
 *         the generated form), #DCNN_ERR_INVALID_STATE (a model without layers,
 *         a layer whose window does not fit its input, or a user layer whose
 *         `export_onnx` slot returned #DCNN_OK without a node writing its
 *         output, naming the layer; a value defined twice, or read before
 *         a node defines it or never, which only a user layer's slot can
 *         cause, naming the node),
 *         #DCNN_ERR_UNSUPPORTED (a layer that cannot export, named with its
 *         index; a metadata value that is not UTF-8, named, as ONNX's strings
 *         must be; or a build without ONNX), #DCNN_ERR_IO, #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_model_export_onnx(const dcnn_model *model, const char *path,
                                            const dcnn_onnx_export_options *options);

/**
 * @brief Exports @p model to ONNX bytes in memory.
 * @param model The model (not NULL).
 * @param options NULL for the defaults.
 * @param[out] data Receives the bytes, which the caller frees with dcnn_free(); NULL on failure.
 * @param[out] size Receives their count.
 * @return As dcnn_model_export_onnx(), without #DCNN_ERR_IO.
 */
DCNN_API dcnn_status dcnn_model_export_onnx_memory(const dcnn_model *model, const dcnn_onnx_export_options *options,
                                                   void **data, size_t *size);

/**
 * @brief Imports an ONNX file as a model.
 *
 * The graph must be a chain of supported operators (docs/onnx.md), with
 * residual forks joined by Add, one float input (N, C, H, W), (N, H, W) or (N, F) and
 * one output. Hostile files fail cleanly: sizes, shapes, names and every
 * attribute are checked before use.
 * @param ctx Context of the new model, or NULL for the default.
 * @param path The file.
 * @param[out] out The model (the caller destroys it); NULL on failure.
 * @return #DCNN_OK, #DCNN_ERR_IO, #DCNN_ERR_BAD_FORMAT (not valid ONNX, or
 *         an inconsistent graph, or an attribute of the wrong type),
 *         #DCNN_ERR_UNSUPPORTED (an operator, attribute or version this
 *         library does not import, naming the node and operator; more
 *         metadata entries or text than a model holds, naming the entry:
 *         entries whose key a model cannot hold or whose value is over
 *         65,536 bytes are left out, not refused),
 *         #DCNN_ERR_SHAPE_MISMATCH (a weight, or the two branches of a
 *         residual fork, of shapes that do not fit; a layer's output of more
 *         than 2^31-1 elements a sample), #DCNN_ERR_INVALID_ARGUMENT
 *         (a layer's constructor refused the graph's values),
 *         #DCNN_ERR_OUT_OF_MEMORY. A residual fork with no layer on either
 *         branch is #DCNN_ERR_UNSUPPORTED.
 */
DCNN_API dcnn_status dcnn_model_import_onnx(dcnn_context *ctx, const char *path, dcnn_model **out);

/**
 * @brief Imports ONNX bytes as a model (as dcnn_model_import_onnx()).
 * @param ctx Context of the new model, or NULL for the default.
 * @param data The bytes (borrowed).
 * @param size Their count.
 * @param[out] out The model; NULL on failure.
 * @return As dcnn_model_import_onnx(), without #DCNN_ERR_IO.
 */
DCNN_API dcnn_status dcnn_model_import_onnx_memory(dcnn_context *ctx, const void *data, size_t size,
                                                   dcnn_model **out);

/**
 * @brief A new value name in @p graph, unique, made from @p hint
 *        (for a layer's intermediate results).
 * @param graph The graph handed to `export_onnx`.
 * @param hint A short word ("scaled"); NULL for "value". UTF-8 text
 *        (#DCNN_ERR_INVALID_ARGUMENT otherwise), of which the name takes
 *        at most 40 bytes, whole characters; so do the initializers' hints.
 * @param[out] name Receives the name, owned by the graph (valid during the export); NULL on failure.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT, #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_onnx_graph_value(dcnn_onnx_graph *graph, const char *hint, const char **name);

/**
 * @brief Adds a float tensor (a weight) to @p graph as an initializer.
 * @param graph The graph handed to `export_onnx`.
 * @param hint A short word for its name ("kernel"); NULL for "weight".
 * @param tensor The values and their shape; borrowed: they must stay unchanged
 *        until the export returns.
 * @param[out] name Receives the initializer's unique name, owned by the graph; NULL on failure.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT, #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_onnx_graph_initializer(dcnn_onnx_graph *graph, const char *hint, const dcnn_tensor *tensor,
                                                 const char **name);

/**
 * @brief The default-domain opset @p graph is written at (10 to 17), for a
 *        layer whose operators changed form between opsets (Clip, Dropout,
 *        Pad, Reshape, Softmax...).
 * @param graph The graph handed to `export_onnx`; read only (the call is as
 *        thread-safe as reading the graph).
 * @return The opset, or 0 when @p graph is NULL or the library was built
 *         without ONNX support.
 */
DCNN_API int32_t dcnn_onnx_graph_opset(const dcnn_onnx_graph *graph);

/**
 * @brief Adds an int64 tensor to @p graph as an initializer (a Reshape's
 *        shape, a Pad's pads, axes...).
 * @param graph The graph handed to `export_onnx`.
 * @param hint A short word for its name ("shape"); NULL for "ints".
 * @param values `count` values, where count is the product of @p dims (1 for
 *        a scalar); copied (a local array of the layer's slot will do).
 * @param ndim 0 (a scalar) to 8.
 * @param dims The shape, @p ndim sizes of 0 to 2^28 whose product is at most
 *        2^28 (NULL when @p ndim is 0).
 * @param[out] name Receives the initializer's unique name, owned by the
 *        graph; NULL on failure.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT, #DCNN_ERR_OUT_OF_MEMORY,
 *         #DCNN_ERR_UNSUPPORTED (a build without ONNX support).
 */
DCNN_API dcnn_status dcnn_onnx_graph_initializer_int64(dcnn_onnx_graph *graph, const char *hint,
                                                       const int64_t *values, int32_t ndim, const int64_t *dims,
                                                       const char **name);

/**
 * @brief Adds a node of the default ONNX domain to @p graph.
 * @param graph The graph handed to `export_onnx`.
 * @param op_type The operator ("Mul", "Conv"...), UTF-8 text.
 * @param inputs Value names (an empty string for an omitted optional input).
 * @param input_count 0 to 16.
 * @param outputs Value names (from the slot's `output` or dcnn_onnx_graph_value()).
 * @param output_count 1 to 16.
 * @param attributes NULL or space-separated `name=value` pairs: an integer
 *        (`axis=1`), a number with a '.' or an exponent (`alpha=0.5`;
 *        finite ones within float's range, which the attribute holds), a
 *        comma-separated list of either (`pads=1,1,1,1`; a trailing comma
 *        makes a one-element list: `axes=0,`), or a string in single quotes
 *        without spaces (`mode='constant'`).
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT (a NULL argument or name, an
 *         operator that is not UTF-8, a malformed attribute or one given twice, named),
 *         #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_onnx_graph_node(dcnn_onnx_graph *graph, const char *op_type, const char *const *inputs,
                                          int32_t input_count, const char *const *outputs, int32_t output_count,
                                          const char *attributes);

DCNN_END_DECLS

#endif /* DIGITCNN_ONNX_H */
/** @} */
