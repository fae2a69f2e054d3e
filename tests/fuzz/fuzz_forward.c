/* One forward pass of a model a harness loaded (fuzz_forward.h). */
#include "fuzz_forward.h"

/* lib/core/internal.h (the harnesses link the static library) */
int64_t dcnn__set_alloc_budget(int64_t bytes);

void fuzz_forward(dcnn_model *m) {
  const dcnn_shape in = dcnn_model_input_shape(m), out = dcnn_model_output_shape(m);
  if (dcnn_shape_count(&in) > 4096 || dcnn_model_param_count(m, DCNN_PARAM_TRAINABLE) > (1 << 20)) return;
  /* a small input can still fan out (a 1x1 conv of 65,536 filters): every layer's output bounded too, as
   * docs/onnx.md asks of a caller with untrusted files */
  for (int32_t i = 0; i < dcnn_model_layer_count(m); ++i) {
    const dcnn_shape s = dcnn_layer_output_shape(dcnn_model_layer(m, i));
    if (dcnn_shape_count(&s) > (1 << 18)) return;
  }
  dcnn_shape xs = in, ys = out; /* (2, input shape...), (2, output shape...) */
  xs.ndim = in.ndim + 1;
  ys.ndim = out.ndim + 1;
  for (int32_t d = in.ndim; d > 0; --d) xs.dims[d] = in.dims[d - 1];
  for (int32_t d = out.ndim; d > 0; --d) ys.dims[d] = out.dims[d - 1];
  xs.dims[0] = ys.dims[0] = 2;
  dcnn_tensor *x = NULL, *y = NULL;
  if (dcnn_tensor_create(NULL, &xs, &x) == DCNN_OK && dcnn_tensor_create(NULL, &ys, &y) == DCNN_OK) {
    dcnn_tensor_fill_random(x, DCNN_DIST_UNIFORM, 0.0f, 1.0f, 1, 0);
    /* a residual block's own layers are not among the outputs checked above (a 1x1 conv of 65,536 filters
     * inside one asked 4 GB): the prediction's allocations bounded too, as docs/onnx.md advises */
    const int64_t before = dcnn__set_alloc_budget((int64_t)256 << 20);
    dcnn_model_predict(m, x, y);
    dcnn__set_alloc_budget(before);
  }
  dcnn_tensor_destroy(x);
  dcnn_tensor_destroy(y);
}
