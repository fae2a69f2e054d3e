/* Smallest program against libdigitcnn: version, a random tensor, an error. */
#include <stdio.h>

#include <digitcnn.h>

#include "../common/args.h"

static void usage(FILE *out) {
  fprintf(out, "usage: %s\n  prints the library's version, a random tensor and an error message\n",
          example_program_name());
}

int main(int argc, char **argv) {
  static const example_option options[] = {{NULL, 0}}; /* --help and --version only */
  example_args args = example_args_start(argc, argv, options, usage);
  while (example_args_next(&args)) example_args_unknown(&args);
  printf("libdigitcnn %s\n", dcnn_version_string());
  dcnn_shape shape = dcnn_shape_make(4, 2, 1, 3, 3);
  dcnn_tensor *t = NULL;
  if (dcnn_tensor_create(NULL, &shape, &t) != DCNN_OK) {
    fprintf(stderr, "error: %s\n", dcnn_last_error());
    return 1;
  }
  dcnn_tensor_init(t, DCNN_INIT_GLOROT_UNIFORM, 9, 9, 42, 0);
  const float *x = dcnn_tensor_data_const(t);
  printf("first values of a Glorot-uniform (2, 1, 3, 3) tensor, seed 42: %.4f %.4f %.4f\n", x[0], x[1], x[2]);
  dcnn_shape bad = dcnn_shape_make(2, 5, 5, 0, 0);
  if (dcnn_tensor_reshape(t, &bad) != DCNN_OK) printf("reshape to (5, 5) refused: %s\n", dcnn_last_error());
  dcnn_tensor_destroy(t);
  return 0;
}
