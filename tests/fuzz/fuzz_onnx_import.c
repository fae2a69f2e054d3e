/* libFuzzer harness: an ONNX model from arbitrary bytes (dcnn_model_import_onnx_memory).
 * Whatever imports is also run forward once, exported again, and that export imported: a model the library
 * imported must export (out of memory aside) and its export must import, or the round trip docs/onnx.md
 * promises is broken (a failed re-export was ignored before). */
#include <stdint.h>
#include <stdio.h>
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
  const dcnn_status exported = dcnn_model_export_onnx_memory(m, NULL, &bytes, &n);
  if (exported != DCNN_OK && exported != DCNN_ERR_OUT_OF_MEMORY) {
    fprintf(stderr, "an imported model does not export: %s\n", dcnn_last_error());
    abort();
  }
  if (exported == DCNN_OK) {
    dcnn_model *again = NULL;
    const dcnn_status imported = dcnn_model_import_onnx_memory(NULL, bytes, n, &again);
    if (imported != DCNN_OK && imported != DCNN_ERR_OUT_OF_MEMORY) {
      fprintf(stderr, "an imported model's export does not import: %s\n", dcnn_last_error());
      abort();
    }
    dcnn_model_destroy(again);
    dcnn_free(bytes);
  }
  dcnn_model_destroy(m);
  return 0;
}
