/* digitcnn-classify: loads a saved model and classifies PNG files of any size
 * and colour type, preprocessed as the model's metadata records, printing the
 * top classes with their probabilities.
 *
 *   digitcnn-classify [--top K] [--json] [--verbose] [--] MODEL [IMAGE.png ...]
 *
 * Without image arguments, file names are read from standard input, one per
 * line. --verbose prints the model's metadata and, per image, the latency of
 * decoding and of the prediction (preprocessing and forward pass in one call,
 * dcnn_model_predict_image(); the top classes come from dcnn_top_k()).
 * --json prints one JSON object per image and line, for scripts (docs/cli.md). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
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
  int verbose, json;
} classifier;

static void usage(FILE *out) {
  fprintf(out, "usage: digitcnn-classify [--top K] [--json] [--verbose] [--] MODEL [IMAGE.png ...]\n"
               "  Classifies PNG images (any size, gray/RGB/palette, 8 or 16 bits) with a model saved by\n"
               "  dcnn_model_save (e.g. out/paper/model.dcnn). Without IMAGE arguments, reads file names\n"
               "  from standard input, one per line.\n"
               "  --top K     classes to print per image, 1 to 1024 (default 3)\n"
               "  --json      one JSON object per image and line: {\"file\": ..., \"top\": [{\"class\": ...,\n"
               "              \"index\": ..., \"probability\": ...}, ...]}, or {\"file\": ..., \"error\": ...}\n"
               "  --verbose   print the model's metadata (to stderr with --json) and per-image latency\n"
               "  A failed image is reported and the others are classified; the status is then 1.\n");
}

/* Length of the well-formed UTF-8 sequence at `s`, 0 if it is not one (overlong, surrogate, > U+10FFFF). */
static int utf8_length(const unsigned char *s) {
  const unsigned char b = s[0];
  const int n = b >= 0xC2 && b <= 0xDF ? 2 : b >= 0xE0 && b <= 0xEF ? 3 : b >= 0xF0 && b <= 0xF4 ? 4 : 0;
  for (int i = 1; i < n; ++i)
    if ((s[i] & 0xC0) != 0x80) return 0;
  if ((b == 0xE0 && s[1] < 0xA0) || (b == 0xED && s[1] >= 0xA0) || (b == 0xF0 && s[1] < 0x90) ||
      (b == 0xF4 && s[1] >= 0x90))
    return 0;
  return n;
}

/* `text` as a JSON string. File names are bytes: a byte that is not part of
 * valid UTF-8 becomes U+FFFD, so the output stays valid JSON whatever the name. */
static void json_string(const char *text) {
  putchar('"');
  for (const unsigned char *s = (const unsigned char *)text; *s;) {
    if (*s == '"' || *s == '\\') printf("\\%c", *s++);
    else if (*s < 0x20) printf("\\u%04x", *s++);
    else if (*s < 0x80) putchar(*s++);
    else {
      const int n = utf8_length(s);
      if (n) fwrite(s, 1, (size_t)n, stdout);
      else fputs("\\ufffd", stdout);
      s += n ? n : 1;
    }
  }
  putchar('"');
}

/* A probability as JSON. Predictions refuse non-finite scores (DCNN_ERR_NUMERIC, an "error" entry),
 * so null, which JSON has instead of NaN, is only a guard. */
static void json_number(double value) {
  if (isfinite(value)) printf("%.6g", value);
  else fputs("null", stdout);
}

/* One image's result: `best` holds the c->top class indices by decreasing probability `p`;
 * ms = {decode, preprocessing and forward pass}. */
static void print_result(const classifier *c, const char *file, const int32_t *best, const float *p, int32_t width,
                         int32_t height, const double *ms) {
  if (c->json) {
    fputs("{\"file\": ", stdout);
    json_string(file);
    fputs(", \"top\": [", stdout);
    for (int32_t rank = 0; rank < c->top; ++rank) {
      fputs(rank ? ", {\"class\": " : "{\"class\": ", stdout);
      json_string(c->names[best[rank]]);
      printf(", \"index\": %d, \"probability\": ", (int)best[rank]);
      json_number((double)p[best[rank]]);
      putchar('}');
    }
    putchar(']');
    if (c->verbose)
      printf(", \"width\": %d, \"height\": %d, \"decode_ms\": %.3f, \"predict_ms\": %.3f", (int)width, (int)height,
             ms[0], ms[1]);
    puts("}");
    return;
  }
  printf("%s:", file);
  for (int32_t rank = 0; rank < c->top; ++rank)
    printf("%s %s (%.4f)", rank ? "," : "", c->names[best[rank]], (double)p[best[rank]]);
  if (c->verbose)
    printf("  [%dx%d; decode %.2f ms, preprocess and forward %.2f ms]", (int)width, (int)height, ms[0], ms[1]);
  printf("\n");
}

/* A file that could not be classified: on stderr, or as a JSON entry of its own on stdout. */
static void print_error(const classifier *c, const char *file, const char *message) {
  if (!c->json) {
    fprintf(stderr, "%s: error: %s\n", file, message);
    return;
  }
  fputs("{\"file\": ", stdout);
  json_string(file);
  fputs(", \"error\": ", stdout);
  json_string(message);
  puts("}");
}

/* Class names from the "classes" metadata ("0,1,...,9"), else the class indices. */
static void load_class_names(classifier *c) {
  const char *text = dcnn_model_metadata(c->model, "classes");
  int32_t n = 0;
  if (text && (c->names_text = strdup(text))) {
    /* every field, empty ones included ("a,,b" is three names): strtok would merge them and shift the
     * names after an empty one onto the wrong classes */
    for (char *name = c->names_text; name && n <= MAX_CLASSES;) {
      char *comma = strchr(name, ',');
      if (comma) *comma = '\0';
      if (n < MAX_CLASSES) c->names[n] = name;
      ++n;
      name = comma ? comma + 1 : NULL;
    }
  }
  if (n != c->classes && text) /* missing or inconsistent: every class by its index */
    fprintf(stderr, "warning: the model's class names do not match its %d outputs; using indices\n", (int)c->classes);
  static char indices[MAX_CLASSES][12];
  for (int32_t k = 0; k < c->classes; ++k) /* and a class whose name is empty by its own */
    if (n != c->classes || !c->names[k][0]) {
      snprintf(indices[k], sizeof indices[k], "%d", (int)k);
      c->names[k] = indices[k];
    }
}

static void setup(classifier *c, const char *path) {
  EXAMPLE_CHECK(dcnn_model_load(NULL, path, &c->model));
  const dcnn_shape in = dcnn_model_input_shape(c->model), out = dcnn_model_output_shape(c->model);
  if (in.ndim != 3 || (in.dims[0] != 1 && in.dims[0] != 3) || out.ndim != 1 || out.dims[0] > MAX_CLASSES) {
    char a[64], b[64];
    fprintf(stderr, "error: %s takes %s and gives %s; this program classifies images (1 or 3 channels) into at "
            "most %d classes\n", path, dcnn_shape_format(&in, a, sizeof a), dcnn_shape_format(&out, b, sizeof b),
            MAX_CLASSES);
    exit(1);
  }
  c->classes = out.dims[0];
  if (c->top > c->classes) c->top = c->classes;
  load_class_names(c);
  if (!dcnn_model_metadata(c->model, "preprocessing"))
    fprintf(stderr, "warning: %s records no preprocessing; resizing to %dx%d and scaling to [0, 1]%s\n", path,
            (int)in.dims[1], (int)in.dims[2], in.dims[0] == 1 ? ", grayscale" : "");

  if (c->verbose) {
    FILE *info = c->json ? stderr : stdout; /* stdout holds JSON lines only */
    fprintf(info, "model: %s (%d layers, %lld parameters)\n", path, (int)dcnn_model_layer_count(c->model),
            (long long)dcnn_model_param_count(c->model, DCNN_PARAM_TRAINABLE));
    for (int32_t i = 0; i < dcnn_model_metadata_count(c->model); ++i) {
      const char *key = NULL, *value = NULL;
      EXAMPLE_CHECK(dcnn_model_metadata_entry(c->model, i, &key, &value));
      fprintf(info, "  %s: %s\n", key, value);
    }
  }
}

/* Classifies one file; returns 0 on success. */
static int classify(classifier *c, const char *file) {
  const double t0 = example_now();
  uint8_t *pixels = NULL;
  int32_t height = 0, width = 0;
  /* Decoded to RGB as MNIST-M is stored; the prediction converts to what the model takes. */
  dcnn_status status = dcnn_image_read_png(file, 3, &pixels, &height, &width, NULL);
  const double t1 = example_now();
  float p[MAX_CLASSES], top_p[MAX_CLASSES];
  int32_t top[MAX_CLASSES];
  if (status == DCNN_OK) status = dcnn_model_predict_image(c->model, pixels, height, width, 3, 0, p, MAX_CLASSES);
  const double t2 = example_now();
  if (status == DCNN_OK) status = dcnn_top_k(p, c->classes, c->top, top, top_p);
  dcnn_free(pixels);
  if (status != DCNN_OK) {
    print_error(c, file, dcnn_last_error());
    return 1;
  }
  const double ms[2] = {1e3 * (t1 - t0), 1e3 * (t2 - t1)};
  print_result(c, file, top, p, width, height, ms);
  return 0;
}

int main(int argc, char **argv) {
  classifier c;
  memset(&c, 0, sizeof c);
  c.top = 3;
  static const example_option options[] = {{"--top", 1}, {"--verbose", 0}, {"--json", 0}, {NULL, 0}};
  example_args args = example_args_start(argc, argv, options, usage);
  /* Options may follow the model and the images: all are read before any work. */
  const char *model = NULL, **images = calloc((size_t)argc, sizeof *images);
  int image_count = 0;
  if (!images) return 1;
  while (example_args_next(&args)) {
    if (example_args_flag(&args, "--verbose")) c.verbose = 1;
    else if (example_args_flag(&args, "--json")) c.json = 1;
    else if (example_args_option(&args, "--top")) c.top = (int32_t)example_args_int(&args, 1, MAX_CLASSES);
    else if (example_args_positional(&args) && !model) model = args.positional;
    else if (example_args_positional(&args)) images[image_count++] = args.positional;
    else example_args_unknown(&args);
  }
  if (!model) {
    fprintf(stderr, "digitcnn-classify: the MODEL argument is missing\n");
    usage(stderr);
    free(images); /* main's frame ends: under LeakSanitizer a leak here would turn status 2 into 1 */
    return 2;
  }
  setup(&c, model);
  int failures = 0, done = 0;
  /* Each answer is flushed: a program reading them one by one through a pipe
   * gets each as it is made, and output lost to a full disk or a closed pipe
   * stops the work at once (the exit check reports it) instead of after the
   * last image. */
  if (image_count) {
    for (int i = 0; i < image_count && example_stdout_written(); ++i, ++done) failures += classify(&c, images[i]);
  } else {
    char *line = NULL; /* any length: a path is not cut in two */
    size_t capacity = 0;
    while (example_stdout_written() && getline(&line, &capacity, stdin) != -1) {
      line[strcspn(line, "\r\n")] = '\0';
      if (!line[0]) continue;
      failures += classify(&c, line);
      ++done;
    }
    if (ferror(stdin) || example_stdin_was_closed()) { /* a list that could not be read is no empty list */
      fprintf(stderr, "error: cannot read the image list from the standard input: %s\n",
              example_stdin_was_closed() ? "it is closed" : strerror(errno));
      ++failures;
    }
    free(line);
  }
  if (c.verbose) fprintf(stderr, "%d images, %d failed\n", done, failures);
  free(images);
  free(c.names_text);
  dcnn_model_destroy(c.model);
  return failures ? 1 : 0;
}
