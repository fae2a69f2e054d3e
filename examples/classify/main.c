/* digitcnn-classify: loads a saved model and classifies PNG files of any size
 * and colour type, preprocessed as the model's metadata records, printing the
 * top classes with their probabilities.
 *
 *   digitcnn-classify [--top K] [--verbose] [--] MODEL [IMAGE.png ...]
 *
 * Without image arguments, file names are read from standard input, one per
 * line. --verbose prints the model's metadata and, per image, the latency of
 * decoding and of the prediction (preprocessing and forward pass in one call,
 * dcnn_model_predict_image(); the top classes come from dcnn_top_k()). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/args.h"
#include "../common/support.h"

#define MAX_CLASSES 1024

typedef struct classifier {
  dcnn_model *model;
  int32_t classes, top;
  char *names[MAX_CLASSES];
  char *names_text;
  int verbose;
} classifier;

static void usage(FILE *out) {
  fprintf(out, "usage: digitcnn-classify [--top K] [--verbose] [--] MODEL [IMAGE.png ...]\n"
               "  Classifies PNG images (any size, gray/RGB/palette, 8 or 16 bits) with a model saved by\n"
               "  dcnn_model_save (e.g. out/paper/model.dcnn). Without IMAGE arguments, reads file names\n"
               "  from standard input, one per line.\n"
               "  --top K     classes to print per image, 1 to 1024 (default 3)\n"
               "  --verbose   print the model's metadata and per-image latency\n");
}

/* Class names from the "classes" metadata ("0,1,...,9"), else the class indices. */
static void load_class_names(classifier *c) {
  const char *text = dcnn_model_metadata(c->model, "classes");
  int32_t n = 0;
  if (text && (c->names_text = strdup(text))) {
    for (char *save = NULL, *name = strtok_r(c->names_text, ",", &save); name && n < MAX_CLASSES;
         name = strtok_r(NULL, ",", &save))
      c->names[n++] = name;
  }
  if (n != c->classes) { /* missing or inconsistent: fall back to indices */
    if (text) fprintf(stderr, "warning: the model's class names do not match its %d outputs; using indices\n",
                      (int)c->classes);
    static char indices[MAX_CLASSES][12];
    for (int32_t k = 0; k < c->classes; ++k) {
      snprintf(indices[k], sizeof indices[k], "%d", (int)k);
      c->names[k] = indices[k];
    }
  }
}

static void setup(classifier *c, const char *path) {
  EXAMPLE_CHECK(dcnn_model_load(NULL, path, &c->model));
  const dcnn_shape in = dcnn_model_input_shape(c->model), out = dcnn_model_output_shape(c->model);
  if (in.ndim != 3 || (in.dims[0] != 1 && in.dims[0] != 3) || out.ndim != 1 || out.dims[0] > MAX_CLASSES) {
    char a[64], b[64];
    fprintf(stderr, "error: %s takes %s and gives %s; this program classifies images (1 or 3 channels)\n", path,
            dcnn_shape_format(&in, a, sizeof a), dcnn_shape_format(&out, b, sizeof b));
    exit(1);
  }
  c->classes = out.dims[0];
  if (c->top > c->classes) c->top = c->classes;
  load_class_names(c);
  if (!dcnn_model_metadata(c->model, "preprocessing"))
    fprintf(stderr, "warning: %s records no preprocessing; resizing to %dx%d and scaling to [0, 1]%s\n", path,
            (int)in.dims[1], (int)in.dims[2], in.dims[0] == 1 ? ", grayscale" : "");

  if (c->verbose) {
    printf("model: %s (%d layers, %lld parameters)\n", path, (int)dcnn_model_layer_count(c->model),
           (long long)dcnn_model_param_count(c->model, DCNN_PARAM_TRAINABLE));
    for (int32_t i = 0; i < dcnn_model_metadata_count(c->model); ++i) {
      const char *key = NULL, *value = NULL;
      EXAMPLE_CHECK(dcnn_model_metadata_entry(c->model, i, &key, &value));
      printf("  %s: %s\n", key, value);
    }
  }
}

/* Classifies one file; returns 0 on success. */
static int classify(classifier *c, const char *file) {
  const double t0 = example_now();
  uint8_t *pixels = NULL;
  int32_t height = 0, width = 0;
  /* Decoded to RGB as MNIST-M is stored; the prediction converts to what the model takes. */
  dcnn_status status = dcnn_image_read_png(file, 3, &pixels, &height, &width);
  const double t1 = example_now();
  float p[MAX_CLASSES], top_p[MAX_CLASSES];
  int32_t top[MAX_CLASSES];
  if (status == DCNN_OK) status = dcnn_model_predict_image(c->model, pixels, height, width, 3, 0, p, MAX_CLASSES);
  const double t2 = example_now();
  if (status == DCNN_OK) status = dcnn_top_k(p, c->classes, c->top, top, top_p);
  dcnn_free(pixels);
  if (status != DCNN_OK) {
    fprintf(stderr, "%s: error: %s\n", file, dcnn_last_error());
    return 1;
  }
  printf("%s:", file);
  for (int32_t rank = 0; rank < c->top; ++rank)
    printf("%s %s (%.4f)", rank ? "," : "", c->names[top[rank]], (double)top_p[rank]);
  if (c->verbose)
    printf("  [%dx%d; decode %.2f ms, preprocess and forward %.2f ms]", (int)width, (int)height, 1e3 * (t1 - t0),
           1e3 * (t2 - t1));
  printf("\n");
  return 0;
}

int main(int argc, char **argv) {
  classifier c;
  memset(&c, 0, sizeof c);
  c.top = 3;
  example_args args = example_args_start(argc, argv);
  while (args.next < argc && argv[args.next][0] == '-' && argv[args.next][1] && example_args_next(&args)) {
    if (example_args_flag(&args, "--")) break; /* a model file whose name starts with '-' follows */
    if (example_args_flag(&args, "--verbose")) c.verbose = 1;
    else if (example_args_option(&args, "--top")) c.top = (int32_t)example_args_int(&args, 1, MAX_CLASSES);
    else if (example_args_help(&args)) {
      usage(stdout);
      return 0;
    } else {
      example_args_unknown(&args);
    }
  }
  const int first = args.next;
  if (first >= argc) {
    usage(stderr);
    return 2;
  }
  setup(&c, argv[first]);
  int failures = 0, done = 0;
  if (first + 1 < argc) {
    for (int i = first + 1; i < argc; ++i, ++done) failures += classify(&c, argv[i]);
  } else {
    char line[4096];
    while (fgets(line, sizeof line, stdin)) {
      line[strcspn(line, "\r\n")] = '\0';
      if (!line[0]) continue;
      failures += classify(&c, line);
      ++done;
    }
  }
  if (c.verbose) fprintf(stderr, "%d images, %d failed\n", done, failures);
  free(c.names_text);
  dcnn_model_destroy(c.model);
  return failures ? 1 : 0;
}
