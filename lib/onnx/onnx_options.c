/* What the ONNX API gives in every build, with or without the ONNX component:
 * the export options' defaults. */
#include "../core/struct_size.h"
#include "digitcnn/onnx.h"

dcnn_status dcnn_onnx_export_options_init(dcnn_onnx_export_options *options) {
  const dcnn_onnx_export_options defaults = DCNN_ONNX_EXPORT_OPTIONS_INIT;
  return dcnn__struct_init("dcnn_onnx_export_options_init", "dcnn_onnx_export_options", options, &defaults,
                           sizeof defaults, DCNN__ONNX_EXPORT_OPTIONS_SIZE_0_2);
}
