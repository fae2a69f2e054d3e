/* PNG output with libpng's simplified API, written atomically. */
#include <stdint.h>
#include <string.h>

#include <png.h>

#include "atomic_file.h"
#include "digitcnn/data.h"

/* Encodes into the atomic file; errors name `shown`. */
static dcnn_status write_png(const char *path, const char *shown, int32_t height, int32_t width, int32_t channels,
                             const uint8_t *pixels) {
  DCNN_CHECK(height >= 1 && width >= 1 && height <= 65535 && width <= 65535, DCNN_ERR_INVALID_ARGUMENT,
             "%s: image size %dx%d is outside 1..65535", shown, (int)width, (int)height);
  DCNN_CHECK(channels == 1 || channels == 3 || channels == 4, DCNN_ERR_INVALID_ARGUMENT,
             "%s: %d channels (1, 3 or 4)", shown, (int)channels);
  /* libpng's simplified writer refuses a memory image above 2^32 - 1 bytes ("memory image too large") */
  const uint64_t bytes = (uint64_t)height * (uint64_t)width * (uint64_t)channels;
  DCNN_CHECK(bytes <= UINT32_MAX, DCNN_ERR_INVALID_ARGUMENT,
             "%s: a %dx%dx%d image holds %llu bytes; PNG output takes at most 4294967295", shown, (int)width,
             (int)height, (int)channels, (unsigned long long)bytes);
  dcnn_atomic_file file;
  DCNN_TRY(dcnn__atomic_open(&file, path));
  png_image image;
  memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  image.width = (png_uint_32)width;
  image.height = (png_uint_32)height;
  image.format = channels == 1 ? PNG_FORMAT_GRAY : channels == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_RGBA;
  int ok = png_image_write_to_stdio(&image, file.stream, 0, pixels, 0, NULL);
  char message[64];
  snprintf(message, sizeof message, "%s", image.message);
  png_image_free(&image);
  if (!ok) {
    dcnn__atomic_abort(&file);
    return dcnn__fail(DCNN_ERR_IO, "%s: PNG encoding failed: %s", shown, message);
  }
  return dcnn__atomic_commit(&file);
}

dcnn_status dcnn_image_write_png(const char *path, int32_t height, int32_t width, int32_t channels,
                                 const uint8_t *pixels) {
  DCNN_CHECK_ARG(path);
  DCNN_CHECK_ARG(pixels);
  char shown[DCNN__SHOWN_PATH_MAX];
  const char *enclosing = dcnn__file_scope_enter(path); /* every error here is about the file */
  const dcnn_status status = write_png(path, dcnn__shown_path(path, shown), height, width, channels, pixels);
  dcnn__file_scope_leave(enclosing);
  return status;
}
