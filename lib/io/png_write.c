/* PNG output with libpng's simplified API, written atomically: a temporary
 * file in the destination's directory, flushed and fsync'd, then renamed. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <png.h>

#include "../core/internal.h"
#include "digitcnn/data.h"

dcnn_status dcnn_image_write_png(const char *path, int32_t height, int32_t width, int32_t channels,
                                 const uint8_t *pixels) {
  DCNN_CHECK_ARG(path);
  DCNN_CHECK_ARG(pixels);
  DCNN_CHECK(height >= 1 && width >= 1 && height <= 65535 && width <= 65535, DCNN_ERR_INVALID_ARGUMENT,
             "%s: image size %dx%d is outside 1..65535", path, (int)width, (int)height);
  DCNN_CHECK(channels == 1 || channels == 3 || channels == 4, DCNN_ERR_INVALID_ARGUMENT,
             "%s: %d channels (1, 3 or 4)", path, (int)channels);
  char temp[PATH_MAX];
  DCNN_CHECK(snprintf(temp, sizeof temp, "%s.XXXXXX", path) < (int)sizeof temp, DCNN_ERR_INVALID_ARGUMENT,
             "%s: path too long", path);
  int fd = mkstemp(temp);
  DCNN_CHECK(fd >= 0, DCNN_ERR_IO, "%s: cannot create a temporary file: %s", path, strerror(errno));
  fchmod(fd, 0644); /* mkstemp creates 0600; the image is a normal output file */
  FILE *f = fdopen(fd, "wb");
  if (!f) {
    close(fd);
    unlink(temp);
    return dcnn__fail(DCNN_ERR_IO, "%s: fdopen failed: %s", path, strerror(errno));
  }
  png_image image;
  memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  image.width = (png_uint_32)width;
  image.height = (png_uint_32)height;
  image.format = channels == 1 ? PNG_FORMAT_GRAY : channels == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_RGBA;
  int ok = png_image_write_to_stdio(&image, f, 0, pixels, 0, NULL);
  char message[64];
  snprintf(message, sizeof message, "%s", image.message);
  png_image_free(&image);
  ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
  ok = (fclose(f) == 0) && ok;
  if (!ok || rename(temp, path) != 0) {
    int err = errno;
    unlink(temp);
    return dcnn__fail(DCNN_ERR_IO, "%s: write failed: %s", path, message[0] ? message : strerror(err));
  }
  return DCNN_OK;
}
