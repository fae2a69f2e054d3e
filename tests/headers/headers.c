/* Compiled as C99 and C11 with -Wpedantic -Werror: the public headers must pass. */
#include <digitcnn.h>
#include <stdio.h>

int main(void) {
  dcnn_shape s = dcnn_shape_make(2, 3, 4, 0, 0);
  printf("%s %lld\n", dcnn_version_string(), (long long)dcnn_shape_count(&s));
  return dcnn_version_number() == DCNN_VERSION_NUMBER ? 0 : 1;
}
