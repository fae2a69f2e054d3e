// An installed libdigitcnn used from C: a tensor, then a forward pass of the
// paper's CNN, which runs the library's OpenMP code (a static link must bring
// the runtime the library was compiled for).
#include <digitcnn.h>
#include <stdio.h>

int main(void) {
  dcnn_shape input_shape = dcnn_shape_make(4, 2, 1, 28, 28);  // (N, C, H, W)
  dcnn_shape output_shape = dcnn_shape_make(2, 2, 10, 0, 0);  // (N, classes)
  dcnn_tensor *input = NULL, *output = NULL;
  dcnn_model *model = NULL;
  int failed = dcnn_tensor_create(NULL, &input_shape, &input) != DCNN_OK ||
               dcnn_tensor_create(NULL, &output_shape, &output) != DCNN_OK ||
               dcnn_tensor_fill_random(input, DCNN_DIST_UNIFORM, 0.0f, 1.0f, 7, 0) != DCNN_OK ||
               dcnn_zoo_paper_cnn(NULL, NULL, &model) != DCNN_OK ||
               dcnn_model_predict(model, input, output) != DCNN_OK;
  if (failed) fprintf(stderr, "%s\n", dcnn_last_error());
  double sum = 0.0;  // two softmax rows: 2 in all
  for (int i = 0; !failed && i < 20; i++) sum += dcnn_tensor_data(output)[i];
  if (!failed && (sum < 2.0 - 1e-4 || sum > 2.0 + 1e-4)) {
    fprintf(stderr, "the probabilities of 2 images sum to %g, not 2\n", sum);
    failed = 1;
  }
  if (!failed)
    printf("consumer linked libdigitcnn %s, tensor of %lld elements, predicted 2 images\n",
           dcnn_version_string(), (long long)dcnn_tensor_count(input));
  dcnn_model_destroy(model);
  dcnn_tensor_destroy(output);
  dcnn_tensor_destroy(input);
  return failed;
}
