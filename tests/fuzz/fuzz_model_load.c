/* libFuzzer harness: a model file (and any checkpoint state in it) from
 * arbitrary bytes. Whatever loads is also run forward once and, if it carries
 * training state, restored into a trainer. */
#include <stdint.h>
#include <stdlib.h>

#include <digitcnn.h>

#include "model/model_io.h"
#include "train/train_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void run_forward(dcnn_model *m) {
  const dcnn_shape in = dcnn_model_input_shape(m), out = dcnn_model_output_shape(m);
  if (dcnn_shape_count(&in) > 4096 || dcnn_model_param_count(m, DCNN_PARAM_TRAINABLE) > (1 << 20)) return;
  dcnn_shape xs = in, ys = out;
  xs.ndim = in.ndim + 1;
  ys.ndim = out.ndim + 1;
  for (int32_t d = in.ndim; d > 0; --d) xs.dims[d] = in.dims[d - 1];
  for (int32_t d = out.ndim; d > 0; --d) ys.dims[d] = out.dims[d - 1];
  xs.dims[0] = ys.dims[0] = 2;
  dcnn_tensor *x = NULL, *y = NULL;
  if (dcnn_tensor_create(NULL, &xs, &x) == DCNN_OK && dcnn_tensor_create(NULL, &ys, &y) == DCNN_OK) {
    dcnn_tensor_fill_random(x, DCNN_DIST_UNIFORM, 0.0f, 1.0f, 1, 0);
    dcnn_model_predict(m, x, y);
  }
  dcnn_tensor_destroy(x);
  dcnn_tensor_destroy(y);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  dcnn_model *m = NULL;
  dcnn_model_state decoded = {NULL, NULL, 0};
  if (dcnn__model_decode(NULL, "fuzz", data, size, &m, &decoded) != DCNN_OK) return 0;
  const dcnn_bytes state = {decoded.data, (size_t)decoded.size, (size_t)decoded.size, 0};
  if (state.size) {
    dcnn_optimizer *adam = NULL, *sgd = NULL;
    dcnn_trainer *t = NULL;
    if (dcnn_optimizer_create_adam(NULL, 1e-3f, 0.9f, 0.999f, 1e-7f, 0.0f, &adam) == DCNN_OK &&
        dcnn_trainer_create(NULL, m, adam, &t) == DCNN_OK)
      dcnn__trainer_read_state(t, "fuzz", &state);
    dcnn_trainer_destroy(t);
    t = NULL;
    if (dcnn_optimizer_create_sgd(NULL, 0.1f, 0.9f, DCNN_MOMENTUM_CLASSIC, 0.0f, &sgd) == DCNN_OK &&
        dcnn_trainer_create(NULL, m, sgd, &t) == DCNN_OK)
      dcnn__trainer_read_state(t, "fuzz", &state);
    dcnn_trainer_destroy(t);
    dcnn_optimizer_destroy(adam);
    dcnn_optimizer_destroy(sgd);
  }
  run_forward(m);
  dcnn__model_state_free(&decoded);
  dcnn_model_destroy(m);
  return 0;
}
