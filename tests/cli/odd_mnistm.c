/* Writes a small data set in MNIST-M's layout whose images are not MNIST-M's:
 *   odd_mnistm DIR HEIGHT WIDTH TRAIN_CHANNELS TEST_CHANNELS
 * TRAIN/TEST_CHANNELS 1 (gray PNGs) or 3 (RGB); 40 training and 20 test images
 * of 10 classes, each class a bright square at its own place over noise, so
 * that a few epochs learn something. */
#include <stdio.h>
#include <stdlib.h>

#include <digitcnn.h>

static int write_split(const char *dir, const char *split, int count, int height, int width, int channels,
                       unsigned *state) {
  char path[4096];
  snprintf(path, sizeof path, "%s/mnist_m_%s_labels.txt", dir, split);
  FILE *labels = fopen(path, "w");
  if (!labels) return 1;
  uint8_t *pixels = malloc((size_t)height * width * channels); /* (H, W, C) */
  if (!pixels) return 1;
  for (int i = 0; i < count; ++i) {
    const int label = i % 10, top = (label / 5) * height / 2, left = (label % 5) * width / 5;
    for (int y = 0; y < height; ++y)
      for (int x = 0; x < width; ++x)
        for (int c = 0; c < channels; ++c) {
          *state = *state * 1664525u + 1013904223u;
          const int inside = y >= top && y < top + height / 2 && x >= left && x < left + width / 5;
          pixels[((size_t)y * width + x) * channels + c] = (uint8_t)(inside ? 230 : (*state >> 24) % 96);
        }
    snprintf(path, sizeof path, "%s/mnist_m_%s/%08d.png", dir, split, i);
    if (dcnn_image_write_png(path, height, width, channels, pixels) != DCNN_OK) {
      fprintf(stderr, "%s\n", dcnn_last_error());
      return 1;
    }
    fprintf(labels, "%08d.png %d\n", i, label);
  }
  free(pixels);
  return fclose(labels) != 0;
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: %s DIR HEIGHT WIDTH TRAIN_CHANNELS TEST_CHANNELS\n", argv[0]);
    return 2;
  }
  unsigned state = 12345u;
  return write_split(argv[1], "train", 40, atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), &state) ||
         write_split(argv[1], "test", 20, atoi(argv[2]), atoi(argv[3]), atoi(argv[5]), &state);
}
