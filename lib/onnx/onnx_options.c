/* What the ONNX API gives in every build, with or without the ONNX component:
 * the export options' defaults. */
#include <string.h>

#include "digitcnn/onnx.h"

void dcnn_onnx_export_options_init(dcnn_onnx_export_options *options) {
  if (!options) return;
  memset(options, 0, sizeof *options);
  options->struct_size = sizeof *options;
  options->opset = DCNN_ONNX_DEFAULT_OPSET;
  options->input_name = "input";
  options->output_name = "output";
}
