/* IDX files (MNIST family), raw or gzip'd (zlib's gzread reads both).
 *
 * Every header field, and the size it announces, is checked against the file
 * before anything is allocated or inflated: a raw file must be exactly as long
 * as its header says; a gzip'd one must be one gzip member whose trailer
 * (ISIZE, the uncompressed size mod 2^32) agrees with the header and whose
 * compressed size can hold that much (deflate expands at most 1032:1). The
 * data is then inflated once, straight into the dataset (labels first, they
 * are small), so a crafted header costs nothing and genuine data one copy. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "../io/bytes.h"
#include "data_internal.h"

#define IDX_UBYTE 0x08
#define IDX_MAX_SIDE 4096
#define DEFLATE_MAX_RATIO 1032

typedef struct idx_file {
  const char *path;
  gzFile gz;
  int64_t offset;    /* bytes of decompressed content consumed */
  int64_t file_size; /* bytes on disk */
  int compressed;
  uint32_t trailer_size; /* gzip ISIZE (compressed files) */
} idx_file;

static dcnn_status idx_read(idx_file *f, void *buf, int64_t bytes, const char *what) {
  uint8_t *dst = buf;
  while (bytes > 0) {
    unsigned chunk = bytes > (1 << 30) ? (1u << 30) : (unsigned)bytes;
    int got = gzread(f->gz, dst, chunk);
    if (got < 0) {
      int code = 0;
      const char *message = gzerror(f->gz, &code);
      return dcnn__fail(DCNN_ERR_BAD_FORMAT, "%s: corrupt data at byte %lld while reading %s (%s)", f->path,
                        (long long)f->offset, what, message);
    }
    if (got == 0) {
      int code = 0;
      const char *message = gzerror(f->gz, &code);
      return dcnn__fail(DCNN_ERR_BAD_FORMAT, "%s: truncated at byte %lld while reading %s%s%s", f->path,
                        (long long)f->offset, what, code != Z_OK ? ": " : "", code != Z_OK ? message : "");
    }
    dst += got;
    bytes -= got;
    f->offset += got;
  }
  return DCNN_OK;
}

static uint32_t big_endian(const uint8_t b[4]) {
  return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* Opens a regular file without blocking (dcnn__open_regular: a FIFO is
 * refused, not waited on; the data is streamed, never read whole) and notes its size and, when gzip'd, the size its trailer records. */
static dcnn_status idx_open_file(idx_file *f, const char *path) {
  f->path = path;
  f->offset = 0;
  f->gz = NULL;
  int fd = -1;
  uint64_t file_size = 0;
  DCNN_TRY(dcnn__open_regular(path, path, &fd, &file_size));
  dcnn_status status = DCNN_OK;
  uint8_t magic[2] = {0, 0}, trailer[4] = {0, 0, 0, 0};
  f->file_size = (int64_t)file_size;
  f->compressed = f->file_size >= 2 && pread(fd, magic, 2, 0) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
  if (f->compressed && (f->file_size < 18 || pread(fd, trailer, 4, (off_t)(f->file_size - 4)) != 4))
    status = dcnn__fail(DCNN_ERR_BAD_FORMAT, "%s: truncated gzip file (%lld bytes)", path, (long long)f->file_size);
  f->trailer_size =
      (uint32_t)trailer[0] | (uint32_t)trailer[1] << 8 | (uint32_t)trailer[2] << 16 | (uint32_t)trailer[3] << 24;
  if (status == DCNN_OK) {
    f->gz = gzdopen(fd, "rb");
    if (!f->gz) status = dcnn__fail(DCNN_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    else fd = -1; /* gzclose closes it */
  }
  if (fd >= 0) close(fd);
  return status;
}

/* Opens an IDX file and reads its header: the magic (0, 0, type, ndims) and the dimensions. */
static dcnn_status idx_open(idx_file *f, const char *path, int32_t want_dims, uint32_t dims[3]) {
  DCNN_TRY(idx_open_file(f, path));
  uint8_t magic[4];
  DCNN_TRY(idx_read(f, magic, 4, "the magic number"));
  DCNN_CHECK(magic[0] == 0 && magic[1] == 0, DCNN_ERR_BAD_FORMAT,
             "%s: not an IDX file (magic %02x %02x %02x %02x at byte 0)", path, magic[0], magic[1], magic[2], magic[3]);
  DCNN_CHECK(magic[2] == IDX_UBYTE, DCNN_ERR_UNSUPPORTED,
             "%s: IDX element type 0x%02x at byte 2 is not unsigned byte (0x08)", path, magic[2]);
  DCNN_CHECK(magic[3] == want_dims, DCNN_ERR_BAD_FORMAT, "%s: %d dimensions at byte 3, expected %d", path,
             magic[3], (int)want_dims);
  for (int32_t d = 0; d < want_dims; ++d) {
    uint8_t raw[4];
    DCNN_TRY(idx_read(f, raw, 4, "the dimensions"));
    dims[d] = big_endian(raw);
    DCNN_CHECK(dims[d] >= 1 && (d == 0 ? dims[d] <= INT32_MAX : dims[d] <= IDX_MAX_SIDE), DCNN_ERR_BAD_FORMAT,
               "%s: dimension %d is %u (byte %d): out of range", path, (int)d, (unsigned)dims[d], 4 + 4 * (int)d);
  }
  return DCNN_OK;
}

/* The header announces `data` bytes after itself: the file must be able to
 * hold exactly that, before one byte of it is inflated or allocated for. */
static dcnn_status idx_check_size(const idx_file *f, int64_t data) {
  const int64_t total = f->offset + data;
  if (!f->compressed) {
    DCNN_CHECK(f->file_size >= total, DCNN_ERR_BAD_FORMAT,
               "%s: truncated: the file has %lld bytes, its header announces %lld", f->path, (long long)f->file_size,
               (long long)total);
    DCNN_CHECK(f->file_size == total, DCNN_ERR_BAD_FORMAT,
               "%s: unexpected data after byte %lld (the header announced %lld bytes)", f->path, (long long)total,
               (long long)total);
    return DCNN_OK;
  }
  DCNN_CHECK(total / DEFLATE_MAX_RATIO <= f->file_size, DCNN_ERR_BAD_FORMAT,
             "%s: the header announces %lld bytes, more than %lld compressed bytes can hold", f->path,
             (long long)total, (long long)f->file_size);
  DCNN_CHECK(f->trailer_size == (uint32_t)total, DCNN_ERR_BAD_FORMAT,
             "%s: the gzip trailer records %lu bytes (mod 2^32), the header announces %lld (truncated, or not one "
             "gzip member)",
             f->path, (unsigned long)f->trailer_size, (long long)total);
  return DCNN_OK;
}

/* After the data, nothing may follow. */
static dcnn_status idx_expect_end(idx_file *f) {
  uint8_t extra;
  int got = gzread(f->gz, &extra, 1);
  DCNN_CHECK(got == 0, DCNN_ERR_BAD_FORMAT, "%s: unexpected data after byte %lld (the header announced %lld bytes)",
             f->path, (long long)f->offset, (long long)f->offset);
  int code = 0;
  const char *message = gzerror(f->gz, &code);
  DCNN_CHECK(code == Z_OK || code == Z_BUF_ERROR, DCNN_ERR_BAD_FORMAT, "%s: corrupt compressed data after byte %lld (%s)",
             f->path, (long long)f->offset, message);
  return DCNN_OK;
}

/* Reads the labels into the store: the bytes land in the first quarter of the
 * int32 label array and are widened in place from the end, so no second
 * buffer is needed. */
static dcnn_status idx_read_labels(idx_file *f, dcnn_image_store *store, int32_t classes) {
  const int32_t n = store->count;
  uint8_t *bytes = (uint8_t *)store->labels;
  DCNN_TRY(idx_read(f, bytes, n, "the labels"));
  DCNN_TRY(idx_expect_end(f));
  for (int32_t i = 0; i < n; ++i)
    DCNN_CHECK(bytes[i] < classes, DCNN_ERR_BAD_FORMAT, "%s: label %u of sample %u (byte %u) is outside 0..%d",
               f->path, bytes[i], (unsigned)i, (unsigned)(8 + i), (int)classes - 1);
  for (int32_t i = n - 1; i >= 0; --i) store->labels[i] = bytes[i]; /* writes bytes 4i.., reads byte i <= 4i */
  return DCNN_OK;
}

dcnn_status dcnn_dataset_load_idx(dcnn_context *ctx, const char *images_path, const char *labels_path,
                                  int32_t classes, dcnn_dataset **out) {
  DCNN_CHECK_ARG(out);
  *out = NULL;
  DCNN_CHECK_ARG(images_path);
  DCNN_CHECK_ARG(labels_path);
  DCNN_CHECK(classes >= 1 && classes <= 256, DCNN_ERR_INVALID_ARGUMENT, "dcnn_dataset_load_idx: classes %d outside 1..256",
             (int)classes);
  idx_file images = {images_path, NULL, 0, 0, 0, 0}, labels = {labels_path, NULL, 0, 0, 0, 0};
  uint32_t idims[3] = {0, 0, 0}, ldims[3] = {0, 0, 0};
  dcnn_image_store *store = NULL;
  dcnn_status status = idx_open(&images, images_path, 3, idims);
  if (status == DCNN_OK) status = idx_open(&labels, labels_path, 1, ldims);
  if (status == DCNN_OK && idims[0] != ldims[0])
    status = dcnn__fail(DCNN_ERR_BAD_FORMAT, "%s has %u images but %s has %u labels", images_path,
                        (unsigned)idims[0], labels_path, (unsigned)ldims[0]);
  if (status == DCNN_OK) status = idx_check_size(&labels, ldims[0]);
  if (status == DCNN_OK) status = idx_check_size(&images, (int64_t)idims[0] * idims[1] * idims[2]);
  if (status == DCNN_OK) {
    status = dcnn__store_create(ctx, (int32_t)idims[0], (int32_t)idims[1], (int32_t)idims[2], 1, classes, &store);
    /* The sizes are the file's: beyond the dataset limits is its format error, not the caller's argument. */
    if (status != DCNN_OK && status != DCNN_ERR_OUT_OF_MEMORY)
      status = dcnn__wrap_error(DCNN_ERR_BAD_FORMAT, "%s", images_path);
  }
  if (status == DCNN_OK) status = idx_read_labels(&labels, store, classes);
  if (status == DCNN_OK)
    status = idx_read(&images, store->pixels, (int64_t)idims[0] * idims[1] * idims[2], "the pixels");
  if (status == DCNN_OK) status = idx_expect_end(&images);
  if (images.gz) gzclose(images.gz);
  if (labels.gz) gzclose(labels.gz);
  if (status != DCNN_OK) {
    dcnn__store_release(store);
    return status;
  }
  return dcnn__dataset_from_store(store, out);
}
