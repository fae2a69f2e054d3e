#include <digitcnn.h>
#include <stdio.h>

int main(void) {
  dcnn_shape shape = dcnn_shape_make(2, 4, 4, 0, 0);
  dcnn_tensor *t = NULL;
  if (dcnn_tensor_create(NULL, &shape, &t) != DCNN_OK) {
    fprintf(stderr, "%s\n", dcnn_last_error());
    return 1;
  }
  printf("consumer linked libdigitcnn %s, tensor of %lld elements\n", dcnn_version_string(),
         (long long)dcnn_tensor_count(t));
  dcnn_tensor_destroy(t);
  return 0;
}
