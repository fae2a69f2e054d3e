/* Model outputs as class probabilities: evaluation's losses and metrics take
 * probabilities, and a model may end in raw scores (the training loss applies
 * its own softmax). */
#include <math.h>
#include <string.h>

#include "../layers/layer_internal.h"
#include "model_internal.h"

static int ends_in_softmax(const dcnn_model *m) {
  return m->layer_count > 0 && dcnn__layer_is_softmax(m->layers[m->layer_count - 1]);
}

/* probs_k = exp(s_k - max s) / sum_j exp(s_j - max s), or a copy of the outputs when they are probabilities. */
void dcnn__model_probabilities(const dcnn_model *m, const float *scores, int32_t classes, float *probs) {
  if (ends_in_softmax(m)) {
    if (probs != scores) memcpy(probs, scores, (size_t)classes * sizeof(float));
    return;
  }
  float top = scores[0];
  for (int32_t k = 1; k < classes; ++k) top = scores[k] > top ? scores[k] : top;
  double sum = 0;
  for (int32_t k = 0; k < classes; ++k) sum += (probs[k] = expf(scores[k] - top));
  for (int32_t k = 0; k < classes; ++k) probs[k] = (float)(probs[k] / sum);
}

dcnn_status dcnn__model_predict_probabilities(dcnn_model *m, const dcnn_tensor *input, dcnn_tensor *output) {
  DCNN_TRY(dcnn_model_predict(m, input, output));
  if (ends_in_softmax(m) || output->shape.ndim != 2) return DCNN_OK;
  const int32_t rows = output->shape.dims[0], classes = output->shape.dims[1];
  for (int32_t i = 0; i < rows; ++i) { /* output (N, K) */
    float *row = output->data + (int64_t)i * classes;
    dcnn__model_probabilities(m, row, classes, row);
  }
  return DCNN_OK;
}
