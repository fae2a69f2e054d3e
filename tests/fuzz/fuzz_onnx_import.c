/* libFuzzer harness: an ONNX model from arbitrary bytes (dcnn_model_import_onnx_memory).
 * Whatever imports is also run forward once and exported again. */
#include <stdint.h>
#include <stdlib.h>

#include <digitcnn.h>

#include "fuzz_forward.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  dcnn_model *m = NULL;
  if (dcnn_model_import_onnx_memory(NULL, data, size, &m) != DCNN_OK) return 0;
  fuzz_forward(m);
  void *bytes = NULL;
  size_t n = 0;
  if (dcnn_model_export_onnx_memory(m, NULL, &bytes, &n) == DCNN_OK) dcnn_free(bytes);
  dcnn_model_destroy(m);
  return 0;
}
