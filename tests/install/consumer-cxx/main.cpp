// The public headers used from C++: a tensor owned by a unique_ptr.
#include <digitcnn.h>

#include <iostream>
#include <memory>

namespace {
struct tensor_deleter {
  void operator()(dcnn_tensor *t) const { dcnn_tensor_destroy(t); }
};
}  // namespace

int main() {
  dcnn_shape shape = dcnn_shape_make(2, 4, 4, 0, 0);
  dcnn_tensor *raw = nullptr;
  if (dcnn_tensor_create(nullptr, &shape, &raw) != DCNN_OK) {
    std::cerr << dcnn_last_error() << '\n';
    return 1;
  }
  std::unique_ptr<dcnn_tensor, tensor_deleter> tensor(raw);
  std::cout << "C++ consumer linked libdigitcnn " << dcnn_version_string() << ", tensor of "
            << dcnn_tensor_count(tensor.get()) << " elements\n";
  return 0;
}
