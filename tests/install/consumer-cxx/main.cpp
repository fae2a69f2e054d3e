// The public headers used from C++: tensors and a model owned by unique_ptrs,
// and a forward pass of the paper's CNN, which runs the library's OpenMP code.
#include <digitcnn.h>

#include <iostream>
#include <memory>
#include <numeric>

namespace {
struct tensor_deleter {
  void operator()(dcnn_tensor *t) const { dcnn_tensor_destroy(t); }
};
struct model_deleter {
  void operator()(dcnn_model *m) const { dcnn_model_destroy(m); }
};
using tensor_ptr = std::unique_ptr<dcnn_tensor, tensor_deleter>;

tensor_ptr make_tensor(const dcnn_shape &shape) {
  dcnn_tensor *raw = nullptr;
  if (dcnn_tensor_create(nullptr, &shape, &raw) != DCNN_OK) return nullptr;
  return tensor_ptr(raw);
}
}  // namespace

int main() {
  tensor_ptr input = make_tensor(dcnn_shape_make(4, 2, 1, 28, 28));  // (N, C, H, W)
  tensor_ptr output = make_tensor(dcnn_shape_make(2, 2, 10, 0, 0));  // (N, classes)
  dcnn_model *raw_model = nullptr;
  bool ok = input && output &&
            dcnn_tensor_fill_random(input.get(), DCNN_DIST_UNIFORM, 0.0f, 1.0f, 7, 0) == DCNN_OK &&
            dcnn_zoo_paper_cnn(nullptr, nullptr, &raw_model) == DCNN_OK;
  std::unique_ptr<dcnn_model, model_deleter> model(raw_model);
  ok = ok && dcnn_model_predict(model.get(), input.get(), output.get()) == DCNN_OK;
  if (!ok) {
    std::cerr << dcnn_last_error() << '\n';
    return 1;
  }
  const float *p = dcnn_tensor_data(output.get());
  double sum = std::accumulate(p, p + 20, 0.0);  // two softmax rows: 2 in all
  if (sum < 2.0 - 1e-4 || sum > 2.0 + 1e-4) {
    std::cerr << "the probabilities of 2 images sum to " << sum << ", not 2\n";
    return 1;
  }
  std::cout << "C++ consumer linked libdigitcnn " << dcnn_version_string() << ", tensor of "
            << dcnn_tensor_count(input.get()) << " elements, predicted 2 images\n";
  return 0;
}
