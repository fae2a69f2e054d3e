/* The ONNX functions of a build without the ONNX component (CMake found no
 * protobuf-c, protoc-c or onnx.proto, or DCNN_ONNX=OFF): they exist, so the
 * ABI is the same in every build, and say why they cannot work
 * (dcnn_onnx_export_options_init: onnx_options.c, built either way). */
#include "../core/internal.h"
#include "digitcnn/onnx.h"

#define DISABLED(fn)                                                                                                \
  dcnn__fail(DCNN_ERR_UNSUPPORTED, "%s: this libdigitcnn was built without ONNX support (needs protobuf-c, "      \
             "protoc-c and onnx.proto at build time: libprotobuf-c-dev protobuf-c-compiler python3-onnx)", fn)

int dcnn_onnx_available(void) { return 0; }

dcnn_status dcnn_model_export_onnx(const dcnn_model *model, const char *path,
                                   const dcnn_onnx_export_options *options) {
  (void)model, (void)path, (void)options;
  return DISABLED("dcnn_model_export_onnx");
}

dcnn_status dcnn_model_export_onnx_memory(const dcnn_model *model, const dcnn_onnx_export_options *options,
                                          void **data, size_t *size) {
  (void)model, (void)options;
  if (data) *data = NULL;
  if (size) *size = 0;
  return DISABLED("dcnn_model_export_onnx_memory");
}

dcnn_status dcnn_model_import_onnx(dcnn_context *ctx, const char *path, dcnn_model **out) {
  (void)ctx, (void)path;
  if (out) *out = NULL;
  return DISABLED("dcnn_model_import_onnx");
}

dcnn_status dcnn_model_import_onnx_memory(dcnn_context *ctx, const void *data, size_t size, dcnn_model **out) {
  (void)ctx, (void)data, (void)size;
  if (out) *out = NULL;
  return DISABLED("dcnn_model_import_onnx_memory");
}

dcnn_status dcnn_onnx_graph_value(dcnn_onnx_graph *graph, const char *hint, const char **name) {
  (void)graph, (void)hint;
  if (name) *name = NULL;
  return DISABLED("dcnn_onnx_graph_value");
}

dcnn_status dcnn_onnx_graph_initializer(dcnn_onnx_graph *graph, const char *hint, const dcnn_tensor *tensor,
                                        const char **name) {
  (void)graph, (void)hint, (void)tensor;
  if (name) *name = NULL;
  return DISABLED("dcnn_onnx_graph_initializer");
}

dcnn_status dcnn_onnx_graph_node(dcnn_onnx_graph *graph, const char *op_type, const char *const *inputs,
                                 int32_t input_count, const char *const *outputs, int32_t output_count,
                                 const char *attributes) {
  (void)graph, (void)op_type, (void)inputs, (void)input_count, (void)outputs, (void)output_count, (void)attributes;
  return DISABLED("dcnn_onnx_graph_node");
}

int32_t dcnn_onnx_graph_opset(const dcnn_onnx_graph *graph) {
  (void)graph;
  return 0;
}

dcnn_status dcnn_onnx_graph_initializer_int64(dcnn_onnx_graph *graph, const char *hint, const int64_t *values,
                                              int32_t ndim, const int64_t *dims, const char **name) {
  (void)graph, (void)hint, (void)values, (void)ndim, (void)dims;
  if (name) *name = NULL;
  return DISABLED("dcnn_onnx_graph_initializer_int64");
}
