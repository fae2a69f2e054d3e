/* Compiled as C99 and C11 with -Wpedantic -Werror: the public headers must pass. */
#include <digitcnn.h>
#include <stdio.h>

int main(void) {
  dcnn_shape s = dcnn_shape_make(2, 3, 4, 0, 0);
  printf("%s %lld\n", dcnn_version_string(), (long long)dcnn_shape_count(&s));
  const dcnn_zoo_options zoo = DCNN_ZOO_OPTIONS_INIT; /* initialiser macros must be valid C99 too */
  return dcnn_version_number() == DCNN_VERSION_NUMBER && zoo.struct_size == sizeof zoo ? 0 : 1;
}
