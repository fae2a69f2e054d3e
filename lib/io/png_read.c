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
 * EXIF, ...) is dropped before libpng sees it, so none can cost memory.
 * iCCP is dropped too: libpng inflates the profile, yet the simplified API
 * never applies a profile to the pixels (it converts with the gamma of
 * gAMA/sRGB, or assumes sRGB); a profile that libpng recognises as sRGB
 * only sets that same gamma (it matters only against a contradicting gAMA,
 * a broken file). */
static int wanted_chunk(const uint8_t type[4]) {
  static const char keep[][5] = {"IHDR", "PLTE", "IDAT", "IEND", "tRNS", "gAMA", "cHRM", "sRGB", "sBIT"};
  if (!(type[0] & 0x20)) return 1; /* critical: libpng refuses the unknown ones */
  for (size_t i = 0; i < sizeof keep / sizeof keep[0]; ++i)
    if (!memcmp(type, keep[i], 4)) return 1;
  return 0;
}

/* Walks the chunk structure of the PNG in `data` and moves the wanted chunks
 * to the front of `data` itself, up to IEND (chunks only ever move towards
 * the start, so no second buffer is needed). libpng's simplified API
 * allocates what a chunk header announces before it finds that the data is
 * missing (a 44-byte file announcing a 2 GB text chunk took 2 GB); here every
 * chunk must lie inside the file first, so the cost is bounded by its size. */
static dcnn_status png_filter_chunks(const char *name, uint8_t *data, size_t size, size_t *kept_size) {
  static const uint8_t signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  DCNN_CHECK(size >= 8 && !memcmp(data, signature, 8), DCNN_ERR_BAD_FORMAT, "%s: not a readable PNG (no PNG signature)", name);
  size_t at = 8, out = 8;
  for (;;) {
    DCNN_CHECK(size - at >= 8, DCNN_ERR_BAD_FORMAT, "%s: not a readable PNG (truncated at byte %zu, no IEND chunk)",
               name, at);
    const uint32_t length = be32(data + at);
    uint8_t type[4];
    memcpy(type, data + at + 4, 4);
    DCNN_CHECK(length <= 0x7fffffffu && size - at - 8 >= 4 && length <= size - at - 12, DCNN_ERR_BAD_FORMAT,
               "%s: not a readable PNG (chunk \"%.4s\" at byte %zu announces %lu bytes, the file has %zu left)", name,
               (const char *)type, at, (unsigned long)length, size - at - 8);
    const size_t whole = (size_t)length + 12;
    if (wanted_chunk(type)) {
      if (out != at) memmove(data + out, data + at, whole);
      out += whole;
    }
    at += whole;
    if (!memcmp(type, "IEND", 4)) break;
  }
  *kept_size = out;
  return DCNN_OK;
}

/* A PNG whose header has been read: filter, then libpng's header. */
static dcnn_status png_begin(const char *name, uint8_t *data, size_t size, png_image *image) {
  memset(image, 0, sizeof *image);
  image->version = PNG_IMAGE_VERSION;
  size_t kept_size = 0;
  DCNN_TRY(png_filter_chunks(name, data, size, &kept_size));
  if (!png_image_begin_read_from_memory(image, data, kept_size)) {
    dcnn_status status = dcnn__fail(DCNN_ERR_BAD_FORMAT, "%s: not a readable PNG (%s)", name, image->message);
    png_image_free(image);
    return status;
  }
  if ((int64_t)image->width * image->height > DCNN_PNG_MAX_PIXELS) {
    dcnn_status status = dcnn__fail(DCNN_ERR_BAD_FORMAT, "%s: %ux%u pixels is larger than this library accepts", name,
                                    (unsigned)image->width, (unsigned)image->height);
    png_image_free(image);
    return status;
  }
  return DCNN_OK;
}

/* Decodes the begun image into `pixels` (height x width x channels bytes). */
static dcnn_status png_finish(const char *name, png_image *image, int32_t channels, uint8_t *pixels) {
  dcnn_status status = DCNN_OK;
  if (image->format & PNG_FORMAT_FLAG_LINEAR) {
    /* 16-bit samples: libpng's simplified API would treat them as linear light
     * and gamma-encode them to 8 bits; like most tools we keep the encoding and
     * only drop precision, so a 16-bit copy of an 8-bit image reads the same. */
    const size_t count = (size_t)image->width * image->height * (size_t)channels;
    uint16_t *wide = dcnn__alloc(NULL, count * sizeof *wide); /* height x width x channels */
    image->format = channels == 3 ? PNG_FORMAT_LINEAR_RGB : PNG_FORMAT_LINEAR_Y;
    if (!wide) status = dcnn__fail(DCNN_ERR_OUT_OF_MEMORY, "%s: out of memory", name);
    else if (!png_image_finish_read(image, NULL, wide, 0, NULL))
      status = dcnn__fail(DCNN_ERR_BAD_FORMAT, "%s: corrupt PNG (%s)", name, image->message);
    for (size_t i = 0; status == DCNN_OK && i < count; ++i) pixels[i] = (uint8_t)(((uint32_t)wide[i] * 255u + 32767u) / 65535u);
    dcnn__release(NULL, wide);
  } else {
    image->format = channels == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
    png_color black = {0, 0, 0};
    if (!png_image_finish_read(image, &black, pixels, 0, NULL))
      status = dcnn__fail(DCNN_ERR_BAD_FORMAT, "%s: corrupt PNG (%s)", name, image->message);
  }
  png_image_free(image);
  return status;
}

dcnn_status dcnn__png_decode(const char *name, void *data, size_t size, int32_t channels, uint8_t *pixels,
                             int32_t expect_h, int32_t expect_w, int32_t *height, int32_t *width, int *has_color) {
  png_image image;
  DCNN_TRY(png_begin(name, data, size, &image));
  if (height) *height = (int32_t)image.height;
  if (width) *width = (int32_t)image.width;
  if (has_color) *has_color = (image.format & PNG_FORMAT_FLAG_COLOR) != 0;
  if (!pixels) {
    png_image_free(&image);
    return DCNN_OK;
  }
  if ((int32_t)image.height != expect_h || (int32_t)image.width != expect_w) {
    png_image_free(&image);
    return dcnn__fail(DCNN_ERR_BAD_FORMAT, "%s: image is %ux%u, the dataset's images are %dx%d", name,
                      (unsigned)image.width, (unsigned)image.height, (int)expect_w, (int)expect_h);
  }
  return png_finish(name, &image, channels, pixels);
}

/* Decodes the PNG in `data` (which it rewrites: see png_filter_chunks) once. */
static dcnn_status decode_owned(uint8_t *data, size_t size, int32_t channels, uint8_t **pixels, int32_t *height,
                                int32_t *width) {
  png_image image;
  DCNN_TRY(png_begin("PNG", data, size, &image));
  if (channels == 0) channels = (image.format & PNG_FORMAT_FLAG_COLOR) ? 3 : 1;
  /* height x width x channels, returned to the caller (dcnn_free) */
  uint8_t *buf = malloc((size_t)image.height * (size_t)image.width * (size_t)channels);
  if (!buf) {
    png_image_free(&image);
    return dcnn__fail(DCNN_ERR_OUT_OF_MEMORY, "dcnn_image_decode_png: out of memory");
  }
  *height = (int32_t)image.height;
  *width = (int32_t)image.width;
  dcnn_status status = png_finish("PNG", &image, channels, buf);
  if (status != DCNN_OK) {
    free(buf);
    *height = *width = 0;
    return status;
  }
  *pixels = buf;
  return DCNN_OK;
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
  /* The caller's bytes are const: filter a copy (through the allocator, so
   * out-of-memory sweeps reach it). */
  uint8_t *copy = dcnn__alloc(NULL, size ? size : 1);
  DCNN_CHECK(copy != NULL, DCNN_ERR_OUT_OF_MEMORY, "dcnn_image_decode_png: out of memory");
  if (size) memcpy(copy, data, size);
  dcnn_status status = decode_owned(copy, size, channels, pixels, height, width);
  dcnn__release(NULL, copy);
  return status;
}

dcnn_status dcnn_image_read_png(const char *path, int32_t channels, uint8_t **pixels, int32_t *height,
                                int32_t *width) {
  DCNN_CHECK_ARG(pixels);
  *pixels = NULL;
  DCNN_CHECK_ARG(path);
  DCNN_CHECK_ARG(height);
  DCNN_CHECK_ARG(width);
  DCNN_CHECK(channels == 0 || channels == 1 || channels == 3, DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_image_read_png: channels %d (0 for as stored, 1 or 3)", (int)channels);
  uint8_t *data = NULL;
  uint64_t length = 0;
  DCNN_TRY(dcnn__read_file_in(NULL, path, path, DCNN_PNG_MAX_FILE_BYTES, &data, &length)); /* its errors name the file */
  dcnn_status status = decode_owned(data, (size_t)length, channels, pixels, height, width);
  dcnn__release(NULL, data);
  return status == DCNN_OK ? DCNN_OK : dcnn__wrap_error(status, "%s", path);
}
