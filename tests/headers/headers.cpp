// Compiled as C++17 with -Wpedantic -Werror: the public headers must pass.
#include <digitcnn.h>

#include <cstdio>

int main() {
  dcnn_shape s = dcnn_shape_make(2, 3, 4, 0, 0);
  std::printf("%s %lld\n", dcnn_version_string(), static_cast<long long>(dcnn_shape_count(&s)));
  const dcnn_zoo_options zoo = DCNN_ZOO_OPTIONS_INIT; // initialiser macros must be valid C++ too
  return dcnn_version_number() == DCNN_VERSION_NUMBER && zoo.struct_size == sizeof zoo ? 0 : 1;
}
