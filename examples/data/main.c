/* digitcnn-data: loads MNIST-M, prints its size, class counts and load time,
 * and optionally writes a grid of preprocessed (and augmented) training digits.
 *
 *   digitcnn-data [--data DIR] [--threads N] [--grid FILE.png] [--no-augment] [--rgb] [--seed N]
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/args.h"
#include "../common/support.h"

/* Tiles n (C, 28, 28) samples into a grid image of `cols` columns (gray or RGB). */
static int write_grid(const char *path, const dcnn_tensor *x, int32_t cols) {
  dcnn_shape s = dcnn_tensor_shape(x);
  const int32_t n = s.dims[0], c = s.dims[1], h = s.dims[2], w = s.dims[3], rows = (n + cols - 1) / cols;
  const int32_t gh = rows * (h + 2), gw = cols * (w + 2);
  uint8_t *grid = calloc((size_t)gh * gw * c, 1);
  if (!grid) return 1;
  const float *d = dcnn_tensor_data_const(x);
  for (int32_t i = 0; i < n; ++i)
    for (int32_t ch = 0; ch < c; ++ch)
      for (int32_t y = 0; y < h; ++y)
        for (int32_t xx = 0; xx < w; ++xx) {
          float v = d[(((int64_t)i * c + ch) * h + y) * w + xx];
          v = v < 0 ? 0 : v > 1 ? 1 : v;
          int32_t gy = (i / cols) * (h + 2) + 1 + y, gx = (i % cols) * (w + 2) + 1 + xx;
          grid[((int64_t)gy * gw + gx) * c + ch] = (uint8_t)(v * 255.0f + 0.5f);
        }
  dcnn_status status = dcnn_image_write_png(path, gh, gw, c, grid);
  free(grid);
  if (status != DCNN_OK) fprintf(stderr, "digitcnn-data: %s\n", dcnn_last_error());
  return status != DCNN_OK;
}

static void usage(FILE *out) {
  fprintf(out,
          "usage: %s [--data DIR] [--threads N] [--grid FILE.png] [--no-augment] [--rgb] [--seed N]\n"
          "  MNIST-M load time and class counts; --grid draws augmented digits\n"
          "  --data DIR       MNIST-M directory (official layout; default %s)\n"
          "  --threads N      threads, 0 = all cores (0)\n"
          "  --grid FILE.png  write a grid of augmented training digits\n"
          "  --no-augment     draw the grid without augmentation\n"
          "  --rgb            keep colour (3 channels)\n"
          "  --seed N         seed of the augmentation (1)\n",
          example_program_name(), example_default_data());
}

int main(int argc, char **argv) {
  const char *data = example_default_data(), *grid = NULL;
  int augment = 1, rgb = 0;
  int32_t threads = 0;
  uint64_t seed = 1;
  static const example_option options[] = {{"--data", 1}, {"--threads", 1}, {"--grid", 1}, {"--seed", 1},
                                           {"--no-augment", 0}, {"--rgb", 0}, {NULL, 0}};
  example_args args = example_args_start(argc, argv, options, usage);
  while (example_args_next(&args)) {
    if (example_args_option(&args, "--data")) data = args.value;
    else if (example_args_option(&args, "--threads")) threads = (int32_t)example_args_int(&args, 0, 1024);
    else if (example_args_option(&args, "--grid")) grid = args.value;
    else if (example_args_option(&args, "--seed")) seed = (uint64_t)example_args_int(&args, 0, EXAMPLE_MAX_SEED);
    else if (example_args_flag(&args, "--no-augment")) augment = 0;
    else if (example_args_flag(&args, "--rgb")) rgb = 1;
    else example_args_unknown(&args);
  }
  dcnn_context *ctx = NULL;
  EXAMPLE_CHECK(dcnn_context_create(&ctx));
  EXAMPLE_CHECK(dcnn_context_set_threads(ctx, threads));
  dcnn_dataset *splits[2] = {NULL, NULL};
  for (int train = 1; train >= 0; --train) {
    double t0 = example_now();
    EXAMPLE_CHECK(dcnn_dataset_load_mnist_m(ctx, data, train ? DCNN_MNIST_M_TRAIN : DCNN_MNIST_M_TEST, &splits[train]));
    int64_t counts[10];
    EXAMPLE_CHECK(dcnn_dataset_class_counts(splits[train], counts, 10));
    printf("MNIST-M %-5s %6d images, loaded in %.2f s with %d threads; per class:", train ? "train" : "test",
           (int)dcnn_dataset_count(splits[train]), example_now() - t0, (int)dcnn_context_threads(ctx));
    for (int k = 0; k < 10; ++k) printf(" %lld", (long long)counts[k]);
    printf("\n");
  }
  if (grid) {
    dcnn_pipeline *p = NULL;
    EXAMPLE_CHECK(dcnn_pipeline_create(ctx, &p));
    EXAMPLE_CHECK(dcnn_pipeline_set_paper_defaults(p));
    if (rgb) EXAMPLE_CHECK(dcnn_pipeline_set(p, DCNN_PIPE_GRAYSCALE, 0));
    dcnn_shape sample;
    EXAMPLE_CHECK(dcnn_pipeline_sample_shape(p, splits[1], &sample));
    dcnn_shape s = dcnn_shape_make(4, 64, sample.dims[0], sample.dims[1], sample.dims[2]);
    dcnn_tensor *x = NULL;
    EXAMPLE_CHECK(dcnn_tensor_create(ctx, &s, &x));
    /* With augmentation each row is one digit and each column another epoch's
     * draw of its warp; without, 64 different digits. */
    const int32_t available = dcnn_dataset_count(splits[1]); /* a small data set repeats its digits */
    for (int col = 0; col < 8; ++col) {
      int32_t rows[8];
      for (int r = 0; r < 8; ++r) rows[r] = (augment ? r : r * 8 + col) % available;
      dcnn_shape one = dcnn_shape_make(4, 8, sample.dims[0], sample.dims[1], sample.dims[2]);
      dcnn_tensor *part = NULL;
      EXAMPLE_CHECK(dcnn_tensor_create(ctx, &one, &part));
      EXAMPLE_CHECK(dcnn_pipeline_batch(p, splits[1], rows, 8, augment ? DCNN_AUGMENT_ON : DCNN_AUGMENT_OFF, seed,
                                        col, part, NULL));
      for (int r = 0; r < 8; ++r)
        memcpy(dcnn_tensor_data(x) + (int64_t)(r * 8 + col) * dcnn_shape_count(&sample),
               dcnn_tensor_data(part) + (int64_t)r * dcnn_shape_count(&sample),
               (size_t)dcnn_shape_count(&sample) * sizeof(float));
      dcnn_tensor_destroy(part);
    }
    if (write_grid(grid, x, 8)) return 1;
    printf("wrote %s: %s training digits, 8 per row (%s)\n", grid, rgb ? "RGB" : "grayscale",
           augment ? "one digit per row, eight augmented draws" : "no augmentation");
    dcnn_tensor_destroy(x);
    dcnn_pipeline_destroy(p);
  }
  dcnn_dataset_destroy(splits[0]);
  dcnn_dataset_destroy(splits[1]);
  dcnn_context_destroy(ctx);
  return 0;
}
