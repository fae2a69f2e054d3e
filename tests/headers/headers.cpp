// Compiled as C++17 with -Wpedantic -Werror: the public headers must pass.
#include <digitcnn.h>

#include <cstdio>

int main() {
  dcnn_shape s = dcnn_shape_make(2, 3, 4, 0, 0);
  std::printf("%s %lld\n", dcnn_version_string(), static_cast<long long>(dcnn_shape_count(&s)));
  const dcnn_zoo_options zoo = DCNN_ZOO_OPTIONS_INIT; // initialiser macros must be valid C++ too
  // ... and DCNN_STRUCT_INIT, without -Wextra's missing-initialiser warning (a review), zeroing the rest
  const dcnn_attack attack = DCNN_STRUCT_INIT(dcnn_attack);
  dcnn_param param = DCNN_STRUCT_INIT(dcnn_param);
  const dcnn_onnx_export_options onnx = DCNN_STRUCT_INIT(dcnn_onnx_export_options);
  const bool zeroed = attack.epsilon == 0 && param.value == nullptr && onnx.opset == 0;
  constexpr dcnn_attack constant = DCNN_STRUCT_INIT(dcnn_attack); // a constant expression, as the brace form
  static_assert(constant.struct_size == sizeof(dcnn_attack), "DCNN_STRUCT_INIT in a constant expression");
  return dcnn_version_number() == DCNN_VERSION_NUMBER && zoo.struct_size == sizeof zoo &&
                 attack.struct_size == sizeof attack && param.struct_size == sizeof param &&
                 onnx.struct_size == sizeof onnx && zeroed
             ? 0
             : 1;
}
