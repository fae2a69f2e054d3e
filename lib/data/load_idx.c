/* IDX files (MNIST family), raw or gzip'd: zlib's gzread reads both. Every
 * header field is checked before anything is allocated from it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "data_internal.h"

#define IDX_UBYTE 0x08
#define IDX_MAX_SIDE 4096

typedef struct idx_file {
  const char *path;
  gzFile gz;
  int64_t offset; /* bytes of decompressed content consumed */
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

/* Opens an IDX file and reads its header: the magic (0, 0, type, ndims) and the dimensions. */
static dcnn_status idx_open(idx_file *f, const char *path, int32_t want_dims, uint32_t dims[3]) {
  f->path = path;
  f->offset = 0;
  f->gz = gzopen(path, "rb");
  DCNN_CHECK(f->gz != NULL, DCNN_ERR_IO, "%s: cannot open: %s", path, errno ? strerror(errno) : "out of memory");
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

/* Reads `bytes` announced by a header into a new buffer that grows with what
 * the file actually holds, so a header announcing terabytes costs nothing
 * before the data runs out. */
static dcnn_status idx_read_all(idx_file *f, int64_t bytes, const char *what, uint8_t **out) {
  *out = NULL;
  uint8_t *buf = NULL;
  int64_t have = 0, capacity = 0;
  dcnn_status status = DCNN_OK;
  while (status == DCNN_OK && have < bytes) {
    if (have == capacity) {
      int64_t grown = capacity ? 2 * capacity : (INT64_C(1) << 20);
      if (grown > bytes) grown = bytes;
      uint8_t *bigger = realloc(buf, (size_t)grown);
      if (!bigger) {
        status = dcnn__fail(DCNN_ERR_OUT_OF_MEMORY, "%s: out of memory for %s", f->path, what);
        break;
      }
      buf = bigger;
      capacity = grown;
    }
    status = idx_read(f, buf + have, capacity - have, what);
    if (status == DCNN_OK) have = capacity;
  }
  if (status != DCNN_OK) {
    free(buf);
    return status;
  }
  *out = buf;
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

dcnn_status dcnn_dataset_load_idx(dcnn_context *ctx, const char *images_path, const char *labels_path,
                                  int32_t classes, dcnn_dataset **out) {
  DCNN_CHECK_ARG(out);
  *out = NULL;
  DCNN_CHECK_ARG(images_path);
  DCNN_CHECK_ARG(labels_path);
  DCNN_CHECK(classes >= 1 && classes <= 256, DCNN_ERR_INVALID_ARGUMENT, "dcnn_dataset_load_idx: classes %d outside 1..256",
             (int)classes);
  idx_file images = {images_path, NULL, 0}, labels = {labels_path, NULL, 0};
  uint32_t idims[3] = {0, 0, 0}, ldims[3] = {0, 0, 0};
  dcnn_image_store *store = NULL;
  uint8_t *raw_labels = NULL;
  dcnn_status status = idx_open(&images, images_path, 3, idims);
  if (status == DCNN_OK) status = idx_open(&labels, labels_path, 1, ldims);
  if (status == DCNN_OK && idims[0] != ldims[0])
    status = dcnn__fail(DCNN_ERR_BAD_FORMAT, "%s has %u images but %s has %u labels", images_path,
                        (unsigned)idims[0], labels_path, (unsigned)ldims[0]);
  uint8_t *pixels = NULL;
  if (status == DCNN_OK)
    status = idx_read_all(&images, (int64_t)idims[0] * idims[1] * idims[2], "the pixels", &pixels);
  if (status == DCNN_OK) status = idx_expect_end(&images);
  if (status == DCNN_OK) status = idx_read_all(&labels, ldims[0], "the labels", &raw_labels);
  if (status == DCNN_OK) status = idx_expect_end(&labels);
  if (status == DCNN_OK)
    status = dcnn__store_create(ctx, (int32_t)idims[0], (int32_t)idims[1], (int32_t)idims[2], 1, classes, &store);
  if (status == DCNN_OK) memcpy(store->pixels, pixels, (size_t)idims[0] * idims[1] * idims[2]);
  free(pixels);
  for (uint32_t i = 0; status == DCNN_OK && i < ldims[0]; ++i) {
    if (raw_labels[i] >= classes)
      status = dcnn__fail(DCNN_ERR_BAD_FORMAT, "%s: label %u of sample %u (byte %u) is outside 0..%d", labels_path,
                          raw_labels[i], (unsigned)i, (unsigned)(8 + i), (int)classes - 1);
    else
      store->labels[i] = raw_labels[i];
  }
  if (images.gz) gzclose(images.gz);
  if (labels.gz) gzclose(labels.gz);
  free(raw_labels);
  if (status != DCNN_OK) {
    dcnn__store_release(store);
    return status;
  }
  return dcnn__dataset_from_store(store, out);
}
