/* Private side of the ONNX component (lib/onnx/): the graph an export builds
 * (protobuf-c messages in an arena), shared by the builder, the exporters of
 * the built-in layers and the importer's checks. Built only with DCNN_HAVE_ONNX. */
#ifndef DCNN_ONNX_INTERNAL_H
#define DCNN_ONNX_INTERNAL_H

#include "../model/model_internal.h"
#include "digitcnn/onnx.h"
#include "onnx.pb-c.h"

/* Memory the export's messages live in: freed at once when the export ends. */
typedef struct dcnn__arena_block dcnn__arena_block;
typedef struct dcnn__arena {
  dcnn__arena_block *head;
  dcnn_context *ctx; /* whose allocator the blocks come from (NULL: the default context's) */
} dcnn__arena;
/* Zeroed bytes that live until dcnn__arena_free; NULL when out of memory. */
void *dcnn__arena_alloc(dcnn__arena *a, size_t size);
char *dcnn__arena_strdup(dcnn__arena *a, const char *s);
void dcnn__arena_free(dcnn__arena *a);

/* Node and initializer lists grow by doubling; `prefix` names the layer being
 * exported ("l3", "l5.body1") so that value names say where they come from. */
struct dcnn_onnx_graph {
  dcnn__arena arena;
  Onnx__NodeProto **nodes;
  size_t node_count, node_capacity;
  Onnx__TensorProto **initializers;
  size_t initializer_count, initializer_capacity;
  int64_t names; /* values named so far: the suffix that keeps names unique */
  int64_t opset; /* default-domain opset being written: some operators changed form */
  const char *input_name; /* the graph's (the caller's options) */
  char prefix[96];
};

/* A fresh name "<prefix>.<hint>_<n>". */
dcnn_status dcnn__onnx_name(dcnn_onnx_graph *g, const char *hint, const char **name);
/* An initializer from `count` floats (borrowed) of shape dims[0..ndim). */
dcnn_status dcnn__onnx_floats(dcnn_onnx_graph *g, const char *hint, const float *values, int32_t ndim,
                              const int64_t *dims, const char **name);
/* dcnn_onnx_graph_node for one input and one output. */
dcnn_status dcnn__onnx_unary(dcnn_onnx_graph *g, const char *op, const char *input, const char *output,
                             const char *attributes);

/* Exports built layer `layer` (built-in or with an export_onnx slot) computing `output` from `input`. */
dcnn_status dcnn__onnx_export_layer(dcnn_onnx_graph *g, const dcnn_layer *layer, const char *input,
                                    const char *output);

/* Whether `s` is well-formed UTF-8 (no overlong forms, surrogates or code points past U+10FFFF): protobuf's
 * string fields must be, and readers (the Python onnx package, onnxruntime) refuse or mangle the others. The
 * export refuses to write other text, the import to read it (onnx_export.c). */
int dcnn__onnx_utf8_valid(const char *s);

/* IR version that goes with an opset (10: 5, 11: 6, 12 to 14: 7, 15 to 17: 8). */
int64_t dcnn__onnx_ir_version(int64_t opset);

#endif
