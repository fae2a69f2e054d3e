/* A build without the ONNX component (DCNN_ONNX=OFF, or protobuf-c missing):
 * every ONNX function exists (the ABI is the same) and fails with
 * DCNN_ERR_UNSUPPORTED saying why; outputs are cleared. */
#include <string.h>

#include "test_support.h"

static void every_function_is_unsupported(void **state) {
  (void)state;
  assert_int_equal(dcnn_onnx_available(), 0);
  dcnn_onnx_export_options o = DCNN_ONNX_EXPORT_OPTIONS_INIT;
  assert_int_equal(o.opset, DCNN_ONNX_DEFAULT_OPSET);
  dcnn_model *m = NULL;
  assert_ok(dcnn_zoo_lenet5(NULL, test_zoo(32, 32, 1, 10, 1), &m));
  void *data = (void *)&o;
  size_t size = 7;
  assert_status(dcnn_model_export_onnx_memory(m, NULL, &data, &size), DCNN_ERR_UNSUPPORTED);
  assert_error_mentions("built without ONNX support");
  assert_null(data);
  assert_int_equal(size, 0);
  assert_status(dcnn_model_export_onnx(m, "/nonexistent/never-written.onnx", &o), DCNN_ERR_UNSUPPORTED);
  dcnn_model *back = m;
  assert_status(dcnn_model_import_onnx(NULL, "/nonexistent/x.onnx", &back), DCNN_ERR_UNSUPPORTED);
  assert_null(back);
  back = m;
  assert_status(dcnn_model_import_onnx_memory(NULL, "\x08\x07", 2, &back), DCNN_ERR_UNSUPPORTED);
  assert_null(back);
  const char *name = "x";
  static const int64_t values[1] = {1}, dims[1] = {1};
  assert_status(dcnn_onnx_graph_initializer_int64(NULL, NULL, values, 1, dims, &name), DCNN_ERR_UNSUPPORTED);
  assert_null(name);
  assert_status(dcnn_onnx_graph_value(NULL, NULL, &name), DCNN_ERR_UNSUPPORTED);
  assert_status(dcnn_onnx_graph_initializer(NULL, NULL, NULL, &name), DCNN_ERR_UNSUPPORTED);
  assert_status(dcnn_onnx_graph_node(NULL, "Relu", NULL, 0, NULL, 0, NULL), DCNN_ERR_UNSUPPORTED);
  assert_int_equal(dcnn_onnx_graph_opset(NULL), 0);
  dcnn_model_destroy(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(every_function_is_unsupported)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
