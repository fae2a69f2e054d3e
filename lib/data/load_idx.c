/* IDX files (MNIST family), raw or gzip'd.
 *
 * Every header field, and the size it announces, is checked against the file
 * before anything is allocated or inflated: a raw file must be exactly as long
 * as its header says; a gzip'd one must be one gzip member whose trailer
 * (ISIZE, the uncompressed size mod 2^32) agrees with the header and whose
 * compressed size can hold that much (deflate expands at most 1032:1). Those
 * checks are cheap but can be forged (a file padded to the size, a trailer
 * written to match), so a gzip'd file is then inflated once into a small
 * scratch buffer, proving the data is there, CRC and all, before the dataset
 * is allocated for it; then again, straight into the dataset (labels first,
 * they are small). A crafted header costs a pass over its file, genuine data
 * one copy and a second inflate.
 *
 * Gzip'd files are inflated here (zlib's inflate, gzip wrapper only), not with
 * gzread: gzread reads on across concatenated members and skips bytes after
 * the last, so a file of several members, or with bytes after its member, was
 * read as the concatenation. Here the member must end exactly where the file
 * does. */
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
#define IDX_INPUT_BYTES (1 << 16) /* compressed bytes read at a time */

typedef struct idx_file {
  const char *path; /* for messages: the caller's path, shortened when long (dcnn__shown_path) */
  char shown[DCNN__SHOWN_PATH_MAX];
  int fd;
  int64_t offset;    /* bytes of content consumed (decompressed, for gzip'd files) */
  int64_t file_size; /* bytes on disk */
  int compressed;
  uint32_t trailer_size; /* gzip ISIZE (compressed files) */
  /* gzip'd files: */
  z_stream z;
  int z_ready;        /* inflateInit2 succeeded: inflateEnd is due */
  int z_ended;        /* the member ended (Z_STREAM_END: its CRC and size checked) */
  int64_t file_read;  /* bytes of the file read so far */
  uint8_t *input;     /* IDX_INPUT_BYTES from the context's allocator */
} idx_file;

/* Reads up to `n` bytes of the file at its current position, retrying on
 * EINTR; 0 at the end. */
static dcnn_status idx_read_file(idx_file *f, uint8_t *dst, size_t n, size_t *got) {
  for (;;) {
    const ssize_t r = read(f->fd, dst, n);
    if (r < 0 && errno == EINTR) continue;
    DCNN_CHECK(r >= 0, DCNN_ERR_IO, "%s: read failed: %s", f->path, strerror(errno));
    *got = (size_t)r;
    f->file_read += r;
    return DCNN_OK;
  }
}

/* A gzip member ended where the file goes on: several members, or bytes
 * after the member. */
static dcnn_status idx_after_member(const idx_file *f) {
  return dcnn__fail(DCNN_ERR_BAD_FORMAT,
                    "%s: data after the gzip member that ends at byte %lld of %lld (several gzip members, or bytes "
                    "after the member): decompress and recompress the file",
                    f->path, (long long)(f->file_read - f->z.avail_in), (long long)f->file_size);
}

/* Whether compressed input remains after the member's end: in the buffer, or
 * in the file. */
static dcnn_status idx_input_left(idx_file *f, int *left) {
  *left = f->z.avail_in > 0;
  if (!*left) {
    size_t got = 0;
    DCNN_TRY(idx_read_file(f, f->input, 1, &got));
    f->z.next_in = f->input;
    f->z.avail_in = (uInt)got;
    *left = got > 0;
  }
  return DCNN_OK;
}

/* Inflates up to `n` bytes of the member into `dst`; *got 0 only at the
 * member's end. */
static dcnn_status idx_inflate(idx_file *f, uint8_t *dst, size_t n, size_t *got, const char *what) {
  *got = 0;
  if (f->z_ended) return DCNN_OK;
  f->z.next_out = dst;
  f->z.avail_out = (uInt)n;
  while (f->z.avail_out == n) {
    if (f->z.avail_in == 0) {
      size_t read_now = 0;
      DCNN_TRY(idx_read_file(f, f->input, IDX_INPUT_BYTES, &read_now));
      DCNN_CHECK(read_now > 0, DCNN_ERR_BAD_FORMAT,
                 "%s: truncated at byte %lld while reading %s: the file ends inside the gzip member", f->path,
                 (long long)f->offset, what);
      f->z.next_in = f->input;
      f->z.avail_in = (uInt)read_now;
    }
    const int ret = inflate(&f->z, Z_NO_FLUSH);
    if (ret == Z_STREAM_END) {
      f->z_ended = 1;
      break;
    }
    DCNN_CHECK(ret == Z_OK || ret == Z_BUF_ERROR, DCNN_ERR_BAD_FORMAT,
               "%s: corrupt data at byte %lld while reading %s (%s)", f->path,
               (long long)(f->offset + (int64_t)(n - f->z.avail_out)), what,
               f->z.msg ? f->z.msg : "inflate failed");
  }
  *got = n - f->z.avail_out;
  return DCNN_OK;
}

static dcnn_status idx_read(idx_file *f, void *buf, int64_t bytes, const char *what) {
  uint8_t *dst = buf;
  while (bytes > 0) {
    const size_t chunk = bytes > (1 << 30) ? ((size_t)1 << 30) : (size_t)bytes;
    size_t got = 0;
    if (f->compressed) DCNN_TRY(idx_inflate(f, dst, chunk, &got, what));
    else DCNN_TRY(idx_read_file(f, dst, chunk, &got));
    if (got == 0) {
      /* A member that ended with the file left is the multi-member case, not truncation. */
      int left = 0;
      if (f->compressed) DCNN_TRY(idx_input_left(f, &left));
      if (left) return idx_after_member(f);
      return dcnn__fail(DCNN_ERR_BAD_FORMAT, "%s: truncated at byte %lld while reading %s", f->path,
                        (long long)f->offset, what);
    }
    dst += got;
    bytes -= (int64_t)got;
    f->offset += (int64_t)got;
  }
  return DCNN_OK;
}

static uint32_t big_endian(const uint8_t b[4]) {
  return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* Opens a regular file without blocking (dcnn__open_regular: a FIFO is
 * refused, not waited on; the data is streamed, never read whole) and notes
 * its size and, when gzip'd, the size its trailer records. */
static dcnn_status idx_open_file(dcnn_context *ctx, idx_file *f, const char *path) {
  memset(f, 0, sizeof *f);
  f->path = dcnn__shown_path(path, f->shown);
  f->fd = -1;
  uint64_t file_size = 0;
  DCNN_TRY(dcnn__open_regular(path, path, &f->fd, &file_size));
  uint8_t magic[2] = {0, 0}, trailer[4] = {0, 0, 0, 0};
  f->file_size = (int64_t)file_size;
  f->compressed = f->file_size >= 2 && pread(f->fd, magic, 2, 0) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
  if (!f->compressed) return DCNN_OK;
  DCNN_CHECK(f->file_size >= 18 && pread(f->fd, trailer, 4, (off_t)(f->file_size - 4)) == 4, DCNN_ERR_BAD_FORMAT,
             "%s: truncated gzip file (%lld bytes)", f->path, (long long)f->file_size);
  f->trailer_size =
      (uint32_t)trailer[0] | (uint32_t)trailer[1] << 8 | (uint32_t)trailer[2] << 16 | (uint32_t)trailer[3] << 24;
  f->input = dcnn__alloc(ctx, IDX_INPUT_BYTES);
  DCNN_CHECK(f->input != NULL, DCNN_ERR_OUT_OF_MEMORY, "%s: out of memory", f->path);
  /* windowBits 15 + 16: one gzip member (header, deflate data, CRC-32 and size checked) */
  const int ret = inflateInit2(&f->z, 15 + 16);
  DCNN_CHECK(ret == Z_OK, ret == Z_MEM_ERROR ? DCNN_ERR_OUT_OF_MEMORY : DCNN_ERR_BAD_FORMAT,
             "%s: cannot start inflating (%s)", f->path, f->z.msg ? f->z.msg : "zlib error");
  f->z_ready = 1;
  return DCNN_OK;
}

static void idx_close(dcnn_context *ctx, idx_file *f) {
  if (f->z_ready) inflateEnd(&f->z);
  dcnn__release(ctx, f->input);
  if (f->fd >= 0) close(f->fd);
  f->z_ready = 0;
  f->input = NULL;
  f->fd = -1;
}

/* Opens an IDX file and reads its header: the magic (0, 0, type, ndims) and the dimensions. */
static dcnn_status idx_open(dcnn_context *ctx, idx_file *f, const char *path, int32_t want_dims, uint32_t dims[3]) {
  DCNN_TRY(idx_open_file(ctx, f, path));
  uint8_t magic[4];
  DCNN_TRY(idx_read(f, magic, 4, "the magic number"));
  DCNN_CHECK(magic[0] == 0 && magic[1] == 0, DCNN_ERR_BAD_FORMAT,
             "%s: not an IDX file (magic %02x %02x %02x %02x at byte 0)", f->path, magic[0], magic[1], magic[2], magic[3]);
  DCNN_CHECK(magic[2] == IDX_UBYTE, DCNN_ERR_UNSUPPORTED,
             "%s: IDX element type 0x%02x at byte 2 is not unsigned byte (0x08)", f->path, magic[2]);
  DCNN_CHECK(magic[3] == want_dims, DCNN_ERR_BAD_FORMAT, "%s: %d dimensions at byte 3, expected %d", f->path,
             magic[3], (int)want_dims);
  for (int32_t d = 0; d < want_dims; ++d) {
    uint8_t raw[4];
    DCNN_TRY(idx_read(f, raw, 4, "the dimensions"));
    dims[d] = big_endian(raw);
    DCNN_CHECK(dims[d] >= 1 && (d == 0 ? dims[d] <= INT32_MAX : dims[d] <= IDX_MAX_SIDE), DCNN_ERR_BAD_FORMAT,
               "%s: dimension %d is %u (byte %d): out of range", f->path, (int)d, (unsigned)dims[d], 4 + 4 * (int)d);
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

static dcnn_status idx_expect_end(idx_file *f);

/* A gzip'd file's announced `data` bytes inflated into a scratch buffer and
 * dropped, the member's end checked, then the file opened again at its data:
 * nothing is allocated for what the header announces until the file has
 * really given it. Raw files' sizes were checked exactly already. */
static dcnn_status idx_prove(dcnn_context *ctx, idx_file *f, const char *path, int32_t want_dims,
                             const uint32_t dims[3], int64_t data) {
  if (!f->compressed) return DCNN_OK;
  uint8_t *scratch = dcnn__alloc(ctx, IDX_INPUT_BYTES); /* (IDX_INPUT_BYTES) bytes, overwritten each round */
  DCNN_CHECK(scratch != NULL, DCNN_ERR_OUT_OF_MEMORY, "%s: out of memory", f->path);
  const char *what = want_dims == 1 ? "the labels" : "the pixels";
  dcnn_status status = DCNN_OK;
  for (int64_t left = data; status == DCNN_OK && left > 0; left -= IDX_INPUT_BYTES)
    status = idx_read(f, scratch, left < IDX_INPUT_BYTES ? left : IDX_INPUT_BYTES, what);
  dcnn__release(ctx, scratch);
  if (status == DCNN_OK) status = idx_expect_end(f);
  idx_close(ctx, f);
  uint32_t again[3] = {0, 0, 0};
  if (status == DCNN_OK) status = idx_open(ctx, f, path, want_dims, again);
  if (status == DCNN_OK && memcmp(again, dims, (size_t)want_dims * sizeof *dims) != 0)
    status = dcnn__fail(DCNN_ERR_BAD_FORMAT, "%s: the header changed while the file was read", f->path);
  return status;
}

/* After the data, nothing may follow: no more content, and for a gzip'd file
 * the member's end (its CRC and size checked) exactly at the end of the file. */
static dcnn_status idx_expect_end(idx_file *f) {
  uint8_t extra;
  size_t got = 0;
  if (f->compressed) DCNN_TRY(idx_inflate(f, &extra, 1, &got, "the gzip trailer"));
  else DCNN_TRY(idx_read_file(f, &extra, 1, &got));
  DCNN_CHECK(got == 0, DCNN_ERR_BAD_FORMAT, "%s: unexpected data after byte %lld (the header announced %lld bytes)",
             f->path, (long long)f->offset, (long long)f->offset);
  int left = 0;
  if (f->compressed) DCNN_TRY(idx_input_left(f, &left));
  return left ? idx_after_member(f) : DCNN_OK;
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
               f->path, bytes[i], (unsigned)i, (unsigned)(8u + (unsigned)i), (int)classes - 1);
  for (int32_t i = n - 1; i >= 0; --i) store->labels[i] = bytes[i]; /* writes bytes 4i.., reads byte i <= 4i */
  return DCNN_OK;
}

dcnn_status dcnn_dataset_load_idx(dcnn_context *ctx, const char *images_path, const char *labels_path,
                                  int32_t classes, dcnn_dataset **out) {
  DCNN_CHECK_ARG(out);
  *out = NULL;
  DCNN_CHECK_ARG(images_path);
  DCNN_CHECK_ARG(labels_path);
  /* Byte labels reach 255, but a caller may count more classes (the rest stay empty), as dcnn_dataset_create allows. */
  DCNN_CHECK(classes >= 1, DCNN_ERR_INVALID_ARGUMENT, "dcnn_dataset_load_idx: classes %d must be at least 1",
             (int)classes);
  idx_file images, labels;
  memset(&images, 0, sizeof images);
  memset(&labels, 0, sizeof labels);
  images.fd = labels.fd = -1;
  uint32_t idims[3] = {0, 0, 0}, ldims[3] = {0, 0, 0};
  dcnn_image_store *store = NULL;
  /* Each step's errors are about the file it reads (dcnn_last_error_path). */
  const char *enclosing = dcnn__file_scope_enter(images_path);
  dcnn_status status = idx_open(ctx, &images, images_path, 3, idims);
  if (status == DCNN_OK) {
    (void)dcnn__file_scope_enter(labels_path);
    status = idx_open(ctx, &labels, labels_path, 1, ldims);
  }
  if (status == DCNN_OK && idims[0] != ldims[0])
    status = dcnn__fail(DCNN_ERR_BAD_FORMAT, "%s has %u images but %s has %u labels", images.path,
                        (unsigned)idims[0], labels.path, (unsigned)ldims[0]);
  if (status == DCNN_OK) status = idx_check_size(&labels, ldims[0]);
  (void)dcnn__file_scope_enter(images_path);
  if (status == DCNN_OK) status = idx_check_size(&images, (int64_t)idims[0] * idims[1] * idims[2]);
  /* Before proving the data there: a gzip'd file can announce far beyond the limits in a few megabytes, and
   * proving it would inflate all of it first. */
  if (status == DCNN_OK &&
      dcnn__store_check((int32_t)idims[0], (int32_t)idims[1], (int32_t)idims[2], 1, classes) != DCNN_OK)
    status = dcnn__wrap_error(DCNN_ERR_BAD_FORMAT, "%s", images.path);
  if (status == DCNN_OK) {
    (void)dcnn__file_scope_enter(labels_path);
    status = idx_prove(ctx, &labels, labels_path, 1, ldims, ldims[0]);
    (void)dcnn__file_scope_enter(images_path);
  }
  if (status == DCNN_OK) status = idx_prove(ctx, &images, images_path, 3, idims, (int64_t)idims[0] * idims[1] * idims[2]);
  if (status == DCNN_OK) {
    status = dcnn__store_create(ctx, (int32_t)idims[0], (int32_t)idims[1], (int32_t)idims[2], 1, classes, &store);
    /* The sizes are the file's: beyond the dataset limits is its format error, not the caller's argument. */
    if (status != DCNN_OK && status != DCNN_ERR_OUT_OF_MEMORY)
      status = dcnn__wrap_error(DCNN_ERR_BAD_FORMAT, "%s", images.path);
  }
  if (status == DCNN_OK) {
    (void)dcnn__file_scope_enter(labels_path);
    status = idx_read_labels(&labels, store, classes);
    (void)dcnn__file_scope_enter(images_path);
  }
  if (status == DCNN_OK)
    status = idx_read(&images, store->pixels, (int64_t)idims[0] * idims[1] * idims[2], "the pixels");
  if (status == DCNN_OK) status = idx_expect_end(&images);
  dcnn__file_scope_leave(enclosing);
  idx_close(ctx, &images);
  idx_close(ctx, &labels);
  if (status != DCNN_OK) {
    dcnn__store_release(store);
    return status;
  }
  return dcnn__dataset_from_store(store, out);
}
