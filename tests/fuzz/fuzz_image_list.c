/* libFuzzer harness: an image list ("name label" lines) and the PNG files it
 * names. Input: the list text up to the first NUL byte, then one PNG's bytes,
 * written as a.png and b.png. At most 8 list lines, so that the images a list
 * can announce stay within the fuzzer's memory limit. Also decodes the PNG
 * on its own. */
#include <stdint.h>
#include <string.h>

#include <digitcnn.h>

#include "fuzz_files.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const uint8_t *nul = memchr(data, 0, size);
  if (!nul) return 0;
  const size_t list_size = (size_t)(nul - data);
  size_t lines = 0;
  for (size_t i = 0; i < list_size; ++i) lines += data[i] == '\n';
  if (lines > 8) return 0;
  const uint8_t *png = nul + 1;
  const size_t png_size = size - list_size - 1;
  uint8_t *pixels = NULL;
  int32_t h = 0, w = 0;
  if (dcnn_image_decode_png(png, png_size, 0, &pixels, &h, &w, NULL) == DCNN_OK) dcnn_free(pixels);
  fuzz_write("a.png", png, png_size);
  fuzz_write("b.png", png, png_size);
  const char *list = fuzz_write("list.txt", data, list_size);
  dcnn_dataset *ds = NULL;
  if (dcnn_dataset_load_image_list(NULL, list, fuzz_dir(), 10, &ds) == DCNN_OK)
    (void)dcnn_dataset_image(ds, dcnn_dataset_count(ds) - 1);
  dcnn_dataset_destroy(ds);
  return 0;
}
