/* digitcnn-proxy: makes the unseen-background proxy (issue #19): the digits of
 * seed 1's validation split (--split validation, the default) or of the
 * MNIST-M test set (--split test), their masks recovered and drawn over procedural textures
 * (dcnn_dataset_make_background_proxy(); docs/recipes.md), written in
 * MNIST-M's layout so every loader reads it, and evaluates saved models on it.
 *
 *   digitcnn-proxy [--data DIR] [--split validation|test] [--out DIR] [--seed N] [--no-recolour]
 *                  [--grid FILE.png] [--limit N] [--threads N] [--tta 1|5|9] [--evaluate MODEL]...
 *                  [--ensemble]
 *
 * --split validation (the default) draws the proxy from the validation split
 * the trainer and digitcnn-paper hold out (10% of the training images, random,
 * seed 1), for designing and ablating recipes; --split test from the MNIST-M
 * test set, to be touched once. OUT/mnist_m_test/NNNNNNNN.png and
 * OUT/mnist_m_test_labels.txt are the proxy (whichever split it came from);
 * dcnn_dataset_load_mnist_m(OUT, DCNN_MNIST_M_TEST) loads it. --grid
 * writes, for the first 16 digits, rows of: original, recovered mask, proxy.
 * --evaluate prints each model's accuracy on the split the proxy came from
 * (validation or test) and on the proxy, preprocessed as the model's metadata records; --ensemble also the
 * accuracy of their averaged probabilities (dcnn_evaluate_ensemble()). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../common/args.h"
#include "../common/support.h"

#define MAX_MODELS 16

static void usage(FILE *out) {
  fprintf(out,
          "usage: %s [options]\n"
          "  Writes the unseen-background proxy of MNIST-M digits and evaluates models on it\n"
          "  --data DIR         MNIST-M directory (official layout; default %s)\n"
          "  --split SPLIT      validation: the 10%% of the training images digitcnn-paper holds out\n"
          "                     (random, seed 1), for design and ablations; test: the test set, to be\n"
          "                     used once (default validation)\n"
          "  --out DIR          where to write the proxy, MNIST-M layout (default out/proxy-validation,\n"
          "                     out/proxy with --split test)\n"
          "  --seed N           texture seed (1)\n"
          "  --no-recolour      MNIST-M's |texture - digit| rule for every digit (default: half recoloured)\n"
          "  --limit N          only the first N images of the split (all)\n"
          "  --grid FILE.png    write original / recovered mask / proxy for 16 digits\n"
          "  --grid-from I      the grid's first image of the split (0)\n"
          "  --evaluate MODEL   print MODEL's accuracy on the split and on its proxy (repeatable)\n"
          "  --tta COPIES       also evaluate with test-time augmentation: 5 or 9 shifted copies (1: only plain)\n"
          "  --ensemble         also evaluate the --evaluate models together: their probabilities averaged,\n"
          "                     each model preprocessing as its metadata records (2 or more models)\n"
          "  --threads N        threads, 0 = all cores (0)\n",
          example_program_name(), example_default_data());
}

/* Rows of 16 tiles: originals, masks (gray as RGB), proxies; 2-pixel gaps. */
static void write_grid(const char *path, const dcnn_dataset *test, const dcnn_dataset *proxy, int32_t from) {
  int32_t h, w, c;
  EXAMPLE_CHECK(dcnn_dataset_image_size(test, &h, &w, &c));
  const int32_t left = dcnn_dataset_count(test) - from, n = left < 16 ? left : 16, gh = 3 * (h + 2), gw = n * (w + 2);
  uint8_t *grid = calloc((size_t)gh * gw * 3, 1), *mask = malloc((size_t)h * w);
  if (!grid || !mask) exit(1);
  for (int32_t i = 0; i < n; ++i) {
    const uint8_t *orig = dcnn_dataset_image(test, from + i), *prox = dcnn_dataset_image(proxy, from + i);
    EXAMPLE_CHECK(dcnn_mnist_m_digit_mask(orig, h, w, c, mask));
    for (int32_t y = 0; y < h; ++y)
      for (int32_t x = 0; x < w; ++x)
        for (int32_t ch = 0; ch < 3; ++ch) {
          const int64_t at = (int64_t)y * w + x, col = (int64_t)i * (w + 2) + 1 + x;
          grid[((int64_t)(1 + y) * gw + col) * 3 + ch] = orig[at * c + (c == 3 ? ch : 0)];
          grid[((int64_t)(h + 3 + y) * gw + col) * 3 + ch] = mask[at];
          grid[((int64_t)(2 * h + 5 + y) * gw + col) * 3 + ch] = prox[at * 3 + ch];
        }
  }
  EXAMPLE_CHECK(dcnn_image_write_png(path, gh, gw, 3, grid));
  free(grid);
  free(mask);
  printf("wrote %s: rows are MNIST-M images, recovered masks, proxy images\n", path);
}

static void write_proxy(const char *out, const dcnn_dataset *proxy) {
  char dir[4096], name[64];
  snprintf(dir, sizeof dir, "%s/mnist_m_test", out);
  if (example_make_dirs(dir)) {
    exit(1);
  }
  int32_t h, w, c;
  EXAMPLE_CHECK(dcnn_dataset_image_size(proxy, &h, &w, &c));
  const int32_t n = dcnn_dataset_count(proxy);
  /* The labels file goes first and comes back last: a rewrite stopped half-way
   * (Ctrl-C, a full disk) over an earlier proxy of other settings leaves a
   * directory that does not load, not a silent mix of two proxies. */
  if (remove(example_path(out, "mnist_m_test_labels.txt")) != 0 && errno != ENOENT) {
    fprintf(stderr, "%s: cannot remove %s: %s\n", example_program_name(), example_path(out, "mnist_m_test_labels.txt"),
            strerror(errno));
    exit(1);
  }
  char *labels = malloc((size_t)n * 24 + 1);
  if (!labels) exit(1);
  size_t used = 0;
  for (int32_t i = 0; i < n; ++i) {
    snprintf(name, sizeof name, "%08d.png", (int)i);
    EXAMPLE_CHECK(dcnn_image_write_png(example_path(dir, name), h, w, c, dcnn_dataset_image(proxy, i)));
    used += (size_t)sprintf(labels + used, "%s %d\n", name, (int)dcnn_dataset_label(proxy, i));
  }
  /* An earlier proxy of more images left its later ones (written in order from 0): gone before the labels
   * come back, so that the directory holds this proxy alone. */
  for (int32_t i = n;; ++i) {
    snprintf(name, sizeof name, "%08d.png", (int)i);
    if (remove(example_path(dir, name)) == 0) continue;
    if (errno == ENOENT) break;
    fprintf(stderr, "%s: cannot remove %s (an earlier proxy's image): %s\n", example_program_name(),
            example_path(dir, name), strerror(errno));
    exit(1);
  }
  if (example_write_text(example_path(out, "mnist_m_test_labels.txt"), labels)) exit(1);
  free(labels);
  printf("wrote %d proxy images to %s (MNIST-M layout: load it as the test split of %s)\n", (int)n, dir, out);
}

static double ensemble_accuracy(dcnn_model *const *models, dcnn_pipeline *const *pipelines, int32_t count,
                                const dcnn_dataset *ds, dcnn_context *ctx) {
  dcnn_metrics *m = NULL;
  EXAMPLE_CHECK(dcnn_metrics_create(ctx, 10, &m));
  EXAMPLE_CHECK(dcnn_evaluate_ensemble(models, pipelines, NULL, count, ds, 256, m, NULL));
  double a = NAN;
  EXAMPLE_CHECK(dcnn_metrics_get(m, DCNN_METRIC_ACCURACY, DCNN_AVERAGE_MACRO, &a));
  dcnn_metrics_destroy(m);
  return a;
}

/* Makes the directory FILE is to be written in (nothing for a bare name); 1, having said why, if it cannot or
 * FILE names a directory (found only when the picture was written, after the proxy). */
static int make_grid_directory(const char *file) {
  char dir[4096];
  struct stat st;
  const size_t length = strlen(file);
  const char *last = strrchr(file, '/');
  last = last ? last + 1 : file; /* "NEW/." and "NEW/sub/.." name directories before they exist */
  if (!length || !*last || !strcmp(last, ".") || !strcmp(last, "..") || (stat(file, &st) == 0 && S_ISDIR(st.st_mode)) ||
      length >= sizeof dir) {
    fprintf(stderr, "%s: --grid %s: give a file name for the picture (not a directory, at most %d bytes)\n",
            example_program_name(), file, (int)sizeof dir - 1);
    return 1;
  }
  snprintf(dir, sizeof dir, "%s", file);
  char *slash = strrchr(dir, '/');
  if (!slash || slash == dir) return 0; /* the working directory, or the root */
  *slash = '\0';
  return example_make_dirs(dir);
}

/* 1, having said why, if the picture FILE would overwrite one of the proxy's or the data's own files (the
 * images' directories, their label lists, --out's lock) or a model it evaluates. Run once FILE's directory
 * exists. */
static int grid_overwrites(const char *file, const char *out, const char *data, const char *const *models,
                           int model_count) {
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", file);
  char *slash = strrchr(dir, '/');
  const char *base = slash ? slash + 1 : file;
  if (!slash) snprintf(dir, sizeof dir, ".");
  else if (slash == dir) dir[1] = '\0'; /* the root */
  else *slash = '\0';
  static const char *const images[] = {"mnist_m_test", "mnist_m_train"};
  static const char *const listed[] = {"mnist_m_test_labels.txt", "mnist_m_train_labels.txt", ".lock"};
  const char *const roots[] = {out, data};
  int clash = 0;
  for (int r = 0; r < 2; ++r) {
    for (size_t i = 0; i < sizeof images / sizeof *images; ++i)
      clash |= example_same_file(dir, example_path(roots[r], images[i]));
    for (size_t i = 0; i < sizeof listed / sizeof *listed; ++i)
      clash |= example_same_file(file, example_path(roots[r], listed[i])) ||
               (example_same_file(dir, roots[r]) && !strcmp(base, listed[i]));
  }
  for (int k = 0; k < model_count; ++k)
    if (example_same_file(file, models[k])) {
      fprintf(stderr, "%s: --grid %s is the model %s (--evaluate); give another name\n", example_program_name(), file,
              models[k]);
      return 1;
    }
  if (clash)
    fprintf(stderr, "%s: --grid %s would overwrite the proxy's or the data's own files; give another name\n",
            example_program_name(), file);
  return clash;
}

static double accuracy(dcnn_model *model, dcnn_pipeline *p, const dcnn_dataset *ds, int32_t tta, dcnn_context *ctx) {
  dcnn_metrics *m = NULL;
  EXAMPLE_CHECK(dcnn_metrics_create(ctx, 10, &m));
  EXAMPLE_CHECK(dcnn_evaluate_tta(model, ds, p, 256, tta, 1, m, NULL));
  double a = NAN;
  EXAMPLE_CHECK(dcnn_metrics_get(m, DCNN_METRIC_ACCURACY, DCNN_AVERAGE_MACRO, &a));
  dcnn_metrics_destroy(m);
  return a;
}

int main(int argc, char **argv) {
  const char *data = example_default_data(), *out = NULL, *grid = NULL, *models[MAX_MODELS];
  static const char *const splits[] = {"validation", "test", NULL};
  int split = 0; /* index in splits */
  int recolour = 1, model_count = 0, ensemble = 0;
  int32_t threads = 0, limit = 0, tta = 1, grid_from = 0;
  int grid_from_set = 0;
  static const char *const tta_choices[] = {"1", "5", "9", NULL};
  uint64_t seed = 1;
  static const example_option options[] = {{"--data", 1},  {"--out", 1},      {"--seed", 1},    {"--no-recolour", 0},
                                           {"--limit", 1}, {"--grid", 1},     {"--evaluate", 1}, {"--threads", 1},
                                           {"--tta", 1},   {"--grid-from", 1}, {"--split", 1},
                                           {"--ensemble", 0}, {NULL, 0}};
  example_args args = example_args_start(argc, argv, options, usage);
  while (example_args_next(&args)) {
    if (example_args_option(&args, "--data")) data = args.value;
    else if (example_args_option(&args, "--out")) out = args.value;
    else if (example_args_option(&args, "--split")) split = example_args_choice(&args, splits);
    else if (example_args_option(&args, "--seed")) seed = (uint64_t)example_args_int(&args, 0, EXAMPLE_MAX_SEED);
    else if (example_args_flag(&args, "--no-recolour")) recolour = 0;
    else if (example_args_option(&args, "--limit")) limit = (int32_t)example_args_int(&args, 1, 1000000);
    else if (example_args_option(&args, "--grid")) grid = args.value;
    else if (example_args_option(&args, "--grid-from"))
      grid_from = (int32_t)example_args_int(&args, 0, 1000000), grid_from_set = 1;
    else if (example_args_option(&args, "--threads")) threads = (int32_t)example_args_int(&args, 0, 1024);
    else if (example_args_option(&args, "--tta")) tta = 1 + 4 * example_args_choice(&args, tta_choices);
    else if (example_args_flag(&args, "--ensemble")) ensemble = 1;
    else if (example_args_option(&args, "--evaluate")) {
      if (model_count == MAX_MODELS) {
        fprintf(stderr, "%s: at most %d --evaluate models\n", example_program_name(), MAX_MODELS);
        return 2;
      }
      models[model_count++] = args.value;
    } else example_args_unknown(&args);
  }
  if (grid_from_set && !grid) {
    fprintf(stderr, "%s: --grid-from is the first image of --grid's picture: give --grid FILE too\n",
            example_program_name());
    return 2;
  }
  if (grid && limit > 0 && grid_from >= limit) {
    fprintf(stderr, "%s: --grid-from %d: --limit %d keeps images 0 to %d\n", example_program_name(), (int)grid_from,
            (int)limit, (int)limit - 1);
    return 2;
  }
  if (ensemble && model_count < 2) {
    fprintf(stderr, "%s: --ensemble needs 2 or more --evaluate models\n", example_program_name());
    return 2;
  }
  dcnn_context *ctx = NULL;
  EXAMPLE_CHECK(dcnn_context_create(&ctx));
  EXAMPLE_CHECK(dcnn_context_set_threads(ctx, threads));
  if (!out) out = split == 0 ? "out/proxy-validation" : "out/proxy";
  /* The proxy is written in MNIST-M's layout: into the data directory itself it would replace the
   * test images and their labels. */
  if (example_same_file(out, data)) {
    fprintf(stderr, "%s: --out %s is the --data directory: the proxy would replace its test images; give "
            "another --out\n", example_program_name(), out);
    dcnn_context_destroy(ctx);
    return 2;
  }
  /* The models first (small; a mistyped path is reported before --out is made), then the lock (one run at a
   * time in OUT: two would mix their proxies) before any image is read, as every program with an --out. */
  dcnn_model *loaded[MAX_MODELS] = {NULL};
  dcnn_pipeline *inputs[MAX_MODELS] = {NULL};
  for (int k = 0; k < model_count; ++k) {
    EXAMPLE_CHECK(dcnn_model_load(ctx, models[k], &loaded[k]));
    inputs[k] = example_model_pipeline(ctx, loaded[k]);
  }
  const int locked = example_lock_dir(out);
  if (locked) exit(locked);
  /* `test`: the in-domain images the proxy is made from (the validation split or the test set) */
  dcnn_dataset *test = NULL, *proxy = NULL;
  if (split == 0) {
    /* The split digitcnn-paper and the trainer examples hold out with their default seed 1. */
    dcnn_dataset *all = NULL, *fit = NULL;
    EXAMPLE_CHECK(dcnn_dataset_load_mnist_m(ctx, data, DCNN_MNIST_M_TRAIN, &all));
    EXAMPLE_CHECK(dcnn_dataset_split(all, 0.1, 1, DCNN_SPLIT_RANDOM, &fit, &test));
    dcnn_dataset_destroy(fit);
    dcnn_dataset_destroy(all);
  } else {
    EXAMPLE_CHECK(dcnn_dataset_load_mnist_m(ctx, data, DCNN_MNIST_M_TEST, &test));
  }
  if (limit > 0 && limit < dcnn_dataset_count(test)) {
    int32_t *first = malloc((size_t)limit * sizeof(int32_t));
    if (!first) return 1;
    for (int32_t i = 0; i < limit; ++i) first[i] = i;
    dcnn_dataset *part = NULL;
    EXAMPLE_CHECK(dcnn_dataset_subset(test, first, limit, &part));
    free(first);
    dcnn_dataset_destroy(test);
    test = part;
  }
  /* The split's size is known once it is loaded: checked before the proxy is made or anything written */
  if (grid && grid_from >= dcnn_dataset_count(test)) {
    fprintf(stderr, "%s: --grid-from %d: there are %d %s images\n", example_program_name(), (int)grid_from,
            (int)dcnn_dataset_count(test), splits[split]);
    dcnn_dataset_destroy(test);
    dcnn_context_destroy(ctx);
    return 2;
  }
  /* The models matched to the images before the proxy is made and written: a mistyped path once cost the
   * whole proxy, written, and then failed. */
  for (int k = 0; k < model_count; ++k) {
    if (example_check_samples(inputs[k], test, loaded[k], "test")) exit(1);
    const dcnn_shape gives = dcnn_model_output_shape(loaded[k]); /* one score per class, or the metrics refuse */
    if (gives.ndim != 1 || gives.dims[0] != dcnn_dataset_classes(test)) {
      char shown[64];
      fprintf(stderr, "error: %s gives %s per image; the %s images have %d classes\n", models[k],
              dcnn_shape_format(&gives, shown, sizeof shown), splits[split], (int)dcnn_dataset_classes(test));
      exit(1);
    }
  }
  /* The grid's directory, made as --out is (it may lie inside it) before the proxy is made: a directory that
   * could not be made once failed the run after the whole proxy was written. */
  if (grid && (make_grid_directory(grid) || grid_overwrites(grid, out, data, models, model_count))) exit(1);
  const uint32_t flags = DCNN_PROXY_ALL_TEXTURES | (recolour ? DCNN_PROXY_RECOLOUR : 0);
  EXAMPLE_CHECK(dcnn_dataset_make_background_proxy(ctx, test, seed, flags, &proxy));
  write_proxy(out, proxy);
  if (grid) write_grid(grid, test, proxy, grid_from);
  for (int k = 0; k < model_count; ++k) {
    dcnn_model *model = loaded[k];
    dcnn_pipeline *p = inputs[k];
    /* plain first; with --tta also the shifted copies' figures, after each in parentheses */
    const double in_domain = accuracy(model, p, test, 1, ctx), unseen = accuracy(model, p, proxy, 1, ctx);
    char with_domain[64] = "", with_unseen[64] = "";
    if (tta > 1) {
      snprintf(with_domain, sizeof with_domain, " (%.2f%% with TTA %d copies)", 100.0 * accuracy(model, p, test, tta, ctx),
               (int)tta);
      snprintf(with_unseen, sizeof with_unseen, " (%.2f%% with TTA %d copies)",
               100.0 * accuracy(model, p, proxy, tta, ctx), (int)tta);
    }
    printf("%s: MNIST-M %s %.2f%%%s, unseen-background proxy %.2f%%%s (%d images, seed %llu%s)\n", models[k],
           splits[split], 100.0 * in_domain, with_domain, 100.0 * unseen, with_unseen, (int)dcnn_dataset_count(proxy),
           (unsigned long long)seed, recolour ? ", half recoloured" : "");
  }
  if (ensemble)
    printf("ensemble of the %d models (probabilities averaged): MNIST-M %s %.3f%%, unseen-background proxy %.3f%%\n",
           model_count, splits[split], 100.0 * ensemble_accuracy(loaded, inputs, model_count, test, ctx),
           100.0 * ensemble_accuracy(loaded, inputs, model_count, proxy, ctx));
  for (int k = 0; k < model_count; ++k) {
    dcnn_pipeline_destroy(inputs[k]);
    dcnn_model_destroy(loaded[k]);
  }
  dcnn_dataset_destroy(proxy);
  dcnn_dataset_destroy(test);
  dcnn_context_destroy(ctx);
  return 0;
}
