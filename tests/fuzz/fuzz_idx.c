/* libFuzzer harness: an IDX image file and an IDX label file, raw or gzip'd.
 * Input: u16 little-endian length L, L bytes of images, the rest labels. */
#include <stdint.h>

#include <digitcnn.h>

#include "fuzz_files.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  size_t split = (size_t)data[0] | (size_t)data[1] << 8;
  if (split > size - 2) split = size - 2;
  const char *images = fuzz_write("images.idx", data + 2, split);
  const char *labels = fuzz_write("labels.idx", data + 2 + split, size - 2 - split);
  dcnn_dataset *ds = NULL;
  if (dcnn_dataset_load_idx(NULL, images, labels, 10, &ds) == DCNN_OK) {
    /* What loaded must be usable: read every label and the last image. */
    int64_t counts[10];
    dcnn_dataset_class_counts(ds, counts, 10);
    (void)dcnn_dataset_image(ds, dcnn_dataset_count(ds) - 1);
  }
  dcnn_dataset_destroy(ds);
  return 0;
}
