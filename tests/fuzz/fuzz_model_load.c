/* libFuzzer harness: a model file (and any checkpoint state in it) from
 * arbitrary bytes. Whatever loads is also run forward once and, if it carries
 * training state, restored into a trainer. */
#include <stdint.h>
#include <stdlib.h>

#include <digitcnn.h>

#include "fuzz_forward.h"

#include "model/model_io.h"
#include "train/train_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  dcnn_model *m = NULL;
  dcnn_model_state decoded = {NULL, NULL, 0};
  if (dcnn__model_decode(NULL, "fuzz", data, size, &m, &decoded) != DCNN_OK) return 0;
  const dcnn_bytes state = {decoded.data, (size_t)decoded.size, (size_t)decoded.size, 0, NULL};
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
  fuzz_forward(m);
  dcnn__model_state_free(&decoded);
  dcnn_model_destroy(m);
  return 0;
}
