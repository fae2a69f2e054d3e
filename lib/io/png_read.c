#include "png_read.h"

#include "bytes.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

#include "digitcnn/data.h"

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

/* Chunks that decide the pixels; every other ancillary chunk (text, time,
 * EXIF, ...) is dropped before libpng sees it, so none can cost memory. */
static int wanted_chunk(const uint8_t type[4]) {
  static const char keep[][5] = {"IHDR", "PLTE", "IDAT", "IEND", "tRNS", "gAMA", "cHRM", "sRGB", "sBIT", "iCCP"};
  if (!(type[0] & 0x20)) return 1; /* critical: libpng refuses the unknown ones */
  for (size_t i = 0; i < sizeof keep / sizeof keep[0]; ++i)
    if (!memcmp(type, keep[i], 4)) return 1;
  return 0;
}

/* Walks the chunk structure of the PNG in `data` and copies the wanted chunks
 * into `kept` (which holds `size` bytes), up to IEND. libpng's simplified API
 * allocates what a chunk header announces before it finds that the data is
 * missing (a 44-byte file announcing a 2 GB text chunk took 2 GB); here every
 * chunk must lie inside the file first, so the cost is bounded by its size. */
static dcnn_status png_filter_chunks(const char *name, const uint8_t *data, size_t size, uint8_t *kept,
                                     size_t *kept_size) {
  static const uint8_t signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  DCNN_CHECK(size >= 8 && !memcmp(data, signature, 8), DCNN_ERR_BAD_FORMAT, "%s: not a readable PNG (no PNG signature)", name);
  memcpy(kept, data, 8);
  size_t at = 8, out = 8;
  for (;;) {
    DCNN_CHECK(size - at >= 8, DCNN_ERR_BAD_FORMAT, "%s: not a readable PNG (truncated at byte %zu, no IEND chunk)",
               name, at);
    const uint32_t length = be32(data + at);
    const uint8_t *type = data + at + 4;
    DCNN_CHECK(length <= 0x7fffffffu && size - at - 8 >= 4 && length <= size - at - 12, DCNN_ERR_BAD_FORMAT,
               "%s: not a readable PNG (chunk \"%.4s\" at byte %zu announces %lu bytes, the file has %zu left)", name,
               (const char *)type, at, (unsigned long)length, size - at - 8);
    const size_t whole = (size_t)length + 12;
    if (wanted_chunk(type)) {
      memcpy(kept + out, data + at, whole);
      out += whole;
    }
    at += whole;
    if (!memcmp(type, "IEND", 4)) break;
  }
  *kept_size = out;
  return DCNN_OK;
}

dcnn_status dcnn__png_decode(const char *name, const void *data, size_t size, int32_t channels, uint8_t *pixels,
                             int32_t expect_h, int32_t expect_w, int32_t *height, int32_t *width, int *has_color) {
  uint8_t *kept = malloc(size ? size : 1);
  DCNN_CHECK(kept != NULL, DCNN_ERR_OUT_OF_MEMORY, "%s: out of memory", name);
  size_t kept_size = 0;
  dcnn_status status = png_filter_chunks(name, data, size, kept, &kept_size);
  png_image image;
  memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  if (status == DCNN_OK && !png_image_begin_read_from_memory(&image, kept, kept_size))
    status = dcnn__fail(DCNN_ERR_BAD_FORMAT, "%s: not a readable PNG (%s)", name, image.message);
  if (status != DCNN_OK) {
    png_image_free(&image);
    free(kept);
    return status;
  }
  if ((int64_t)image.width * image.height > DCNN_PNG_MAX_PIXELS)
    status = dcnn__fail(DCNN_ERR_BAD_FORMAT, "%s: %ux%u pixels is larger than this library accepts", name,
                        (unsigned)image.width, (unsigned)image.height);
  if (status == DCNN_OK) {
    if (height) *height = (int32_t)image.height;
    if (width) *width = (int32_t)image.width;
    if (has_color) *has_color = (image.format & PNG_FORMAT_FLAG_COLOR) != 0;
  }
  if (status == DCNN_OK && pixels && ((int32_t)image.height != expect_h || (int32_t)image.width != expect_w))
    status = dcnn__fail(DCNN_ERR_BAD_FORMAT, "%s: image is %ux%u, the dataset's images are %dx%d", name,
                        (unsigned)image.width, (unsigned)image.height, (int)expect_w, (int)expect_h);
  if (status == DCNN_OK && pixels && (image.format & PNG_FORMAT_FLAG_LINEAR)) {
    /* 16-bit samples: libpng's simplified API would treat them as linear light
     * and gamma-encode them to 8 bits; like most tools we keep the encoding and
     * only drop precision, so a 16-bit copy of an 8-bit image reads the same. */
    const size_t count = (size_t)image.width * image.height * (size_t)channels;
    uint16_t *wide = malloc(count * sizeof *wide);
    image.format = channels == 3 ? PNG_FORMAT_LINEAR_RGB : PNG_FORMAT_LINEAR_Y;
    if (!wide) status = dcnn__fail(DCNN_ERR_OUT_OF_MEMORY, "%s: out of memory", name);
    else if (!png_image_finish_read(&image, NULL, wide, 0, NULL))
      status = dcnn__fail(DCNN_ERR_BAD_FORMAT, "%s: corrupt PNG (%s)", name, image.message);
    for (size_t i = 0; status == DCNN_OK && i < count; ++i) pixels[i] = (uint8_t)(((uint32_t)wide[i] * 255u + 32767u) / 65535u);
    free(wide);
  } else if (status == DCNN_OK && pixels) {
    image.format = channels == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
    png_color black = {0, 0, 0};
    if (!png_image_finish_read(&image, &black, pixels, 0, NULL))
      status = dcnn__fail(DCNN_ERR_BAD_FORMAT, "%s: corrupt PNG (%s)", name, image.message);
  }
  png_image_free(&image);
  free(kept);
  return status;
}

dcnn_status dcnn_image_decode_png(const void *data, size_t size, int32_t channels, uint8_t **pixels, int32_t *height,
                                  int32_t *width) {
  DCNN_CHECK_ARG(pixels);
  *pixels = NULL;
  DCNN_CHECK_ARG(data);
  DCNN_CHECK_ARG(height);
  DCNN_CHECK_ARG(width);
  DCNN_CHECK(channels == 0 || channels == 1 || channels == 3, DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_image_decode_png: channels %d (0 for as stored, 1 or 3)", (int)channels);
  int color = 0;
  DCNN_TRY(dcnn__png_decode("PNG", data, size, 0, NULL, 0, 0, height, width, &color));
  if (channels == 0) channels = color ? 3 : 1;
  uint8_t *buf = malloc((size_t)*height * (size_t)*width * (size_t)channels);
  DCNN_CHECK(buf != NULL, DCNN_ERR_OUT_OF_MEMORY, "dcnn_image_decode_png: out of memory");
  dcnn_status status = dcnn__png_decode("PNG", data, size, channels, buf, *height, *width, NULL, NULL, NULL);
  if (status != DCNN_OK) {
    free(buf);
    return status;
  }
  *pixels = buf;
  return DCNN_OK;
}

dcnn_status dcnn_image_read_png(const char *path, int32_t channels, uint8_t **pixels, int32_t *height,
                                int32_t *width) {
  DCNN_CHECK_ARG(pixels);
  *pixels = NULL;
  DCNN_CHECK_ARG(path);
  uint8_t *data = NULL;
  uint64_t length = 0;
  DCNN_TRY(dcnn__read_file(path, &data, &length)); /* its errors name the file */
  dcnn_status status = dcnn_image_decode_png(data, (size_t)length, channels, pixels, height, width);
  free(data);
  return status == DCNN_OK ? DCNN_OK : dcnn__wrap_error(status, "%s", path);
}
