#define _POSIX_C_SOURCE 200809L
#include "bytes.h"
#include "file_kind.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void dcnn__bytes_reserve(dcnn_bytes *b, size_t capacity) {
  if (b->failed || capacity <= b->capacity) return;
  uint8_t *grown = dcnn__alloc(b->ctx, capacity); /* no realloc in the allocator hooks: copied */
  if (!grown) {
    b->failed = 1;
    return;
  }
  if (b->size) memcpy(grown, b->data, b->size);
  dcnn__release(b->ctx, b->data);
  b->data = grown;
  b->capacity = capacity;
}

void dcnn__bytes_put(dcnn_bytes *b, const void *bytes, size_t n) {
  if (b->failed || n == 0) return;
  if (n > SIZE_MAX / 2 - b->size) {
    b->failed = 1;
    return;
  }
  if (b->size + n > b->capacity) {
    size_t capacity = b->capacity ? b->capacity : 4096;
    while (capacity < b->size + n) capacity *= 2;
    dcnn__bytes_reserve(b, capacity);
    if (b->failed) return;
  }
  memcpy(b->data + b->size, bytes, n);
  b->size += n;
}

void dcnn__bytes_u32(dcnn_bytes *b, uint32_t v) {
  const uint8_t bytes[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
  dcnn__bytes_put(b, bytes, 4);
}

void dcnn__bytes_u64(dcnn_bytes *b, uint64_t v) {
  dcnn__bytes_u32(b, (uint32_t)v);
  dcnn__bytes_u32(b, (uint32_t)(v >> 32));
}

void dcnn__bytes_f32(dcnn_bytes *b, float f) {
  uint32_t v;
  memcpy(&v, &f, 4);
  dcnn__bytes_u32(b, v);
}

void dcnn__bytes_f64(dcnn_bytes *b, double f) {
  uint64_t v;
  memcpy(&v, &f, 8);
  dcnn__bytes_u64(b, v);
}

void dcnn__bytes_floats(dcnn_bytes *b, const float *v, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dcnn__bytes_f32(b, v[i]);
}

void dcnn__bytes_free(dcnn_bytes *b) {
  dcnn__release(b->ctx, b->data);
  *b = (dcnn_bytes){.ctx = b->ctx};
}

dcnn_status dcnn__reader_need(const dcnn_reader *r, uint64_t bytes, const char *what) {
  DCNN_CHECK(bytes <= r->size && r->at <= r->size - bytes, DCNN_ERR_BAD_FORMAT,
             "%s: truncated at byte %llu while reading %s (%llu bytes)", r->name, (unsigned long long)r->at, what,
             (unsigned long long)bytes);
  return DCNN_OK;
}

uint32_t dcnn__reader_u32(dcnn_reader *r) {
  const uint8_t *p = r->data + r->at;
  r->at += 4;
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint64_t dcnn__reader_u64(dcnn_reader *r) {
  const uint64_t lo = dcnn__reader_u32(r);
  return lo | (uint64_t)dcnn__reader_u32(r) << 32;
}

float dcnn__reader_f32(dcnn_reader *r) {
  const uint32_t bits = dcnn__reader_u32(r);
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

double dcnn__reader_f64(dcnn_reader *r) {
  const uint64_t bits = dcnn__reader_u64(r);
  double f;
  memcpy(&f, &bits, 8);
  return f;
}

dcnn_status dcnn__reader_floats(dcnn_reader *r, float *out, int64_t n, const char *what) {
  DCNN_CHECK(n >= 0 && (uint64_t)n <= UINT64_MAX / 4, DCNN_ERR_BAD_FORMAT, "%s: %s: absurd count %lld", r->name, what,
             (long long)n);
  DCNN_TRY(dcnn__reader_need(r, 4 * (uint64_t)n, what));
  for (int64_t k = 0; k < n; ++k) {
    const float v = dcnn__reader_f32(r);
    DCNN_CHECK(isfinite(v), DCNN_ERR_BAD_FORMAT, "%s: byte %llu: %s: value %lld is not finite", r->name,
               (unsigned long long)(r->at - 4), what, (long long)k);
    out[k] = v;
  }
  return DCNN_OK;
}

dcnn_status dcnn__open_regular(const char *path, const char *shown, int *fd_out, uint64_t *size) {
  *fd_out = -1;
  char shown_buf[DCNN__SHOWN_PATH_MAX];
  shown = dcnn__shown_path(shown, shown_buf);
  /* O_NONBLOCK: opening a FIFO without a writer would wait forever; fstat
   * then refuses it before anything is read. O_CLOEXEC: a child exec'd by
   * another thread meanwhile does not inherit it. */
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  DCNN_CHECK(fd >= 0, DCNN_ERR_IO, "%s: cannot open: %s", shown, strerror(errno));
  struct stat st;
  dcnn_status status = DCNN_OK;
  if (fstat(fd, &st) != 0)
    status = dcnn__fail(DCNN_ERR_IO, "%s: cannot determine its size: %s", shown, strerror(errno));
  else if (dcnn__not_regular_reason(st.st_mode))
    status = dcnn__fail(DCNN_ERR_IO, "%s: %s", shown, dcnn__not_regular_reason(st.st_mode));
  if (status != DCNN_OK) {
    close(fd);
    return status;
  }
  *fd_out = fd;
  *size = (uint64_t)st.st_size;
  return DCNN_OK;
}

dcnn_status dcnn__read_file_in(dcnn_context *ctx, const char *path, const char *shown, uint64_t max_bytes,
                               uint8_t **data, uint64_t *size) {
  *data = NULL;
  *size = 0;
  char shown_buf[DCNN__SHOWN_PATH_MAX];
  shown = dcnn__shown_path(shown ? shown : path, shown_buf);
  int fd = -1;
  uint64_t length = 0;
  DCNN_TRY(dcnn__open_regular(path, shown, &fd, &length));
  dcnn_status status = DCNN_OK;
  if (length > max_bytes || length >= SIZE_MAX)
    status = dcnn__fail(DCNN_ERR_BAD_FORMAT, "%s: %llu bytes is larger than the limit of %llu bytes", shown,
                        (unsigned long long)length, (unsigned long long)max_bytes);
  /* Buffer: length bytes of the file, then one NUL for text parsers. */
  uint8_t *buf = NULL;
  if (status == DCNN_OK) {
    buf = dcnn__alloc(ctx, (size_t)length + 1);
    if (!buf) status = dcnn__fail(DCNN_ERR_OUT_OF_MEMORY, "%s: out of memory (%llu bytes)", shown,
                                  (unsigned long long)length);
  }
  for (uint64_t have = 0; status == DCNN_OK && have < length;) {
    const size_t want = length - have > ((size_t)1 << 30) ? ((size_t)1 << 30) : (size_t)(length - have);
    const ssize_t got = read(fd, buf + have, want);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) status = dcnn__fail(DCNN_ERR_IO, "%s: read failed: %s", shown, strerror(errno));
    else if (got == 0) status = dcnn__fail(DCNN_ERR_IO, "%s: shrank while being read", shown);
    else have += (uint64_t)got;
  }
  close(fd);
  if (status != DCNN_OK) {
    dcnn__release(ctx, buf);
    return status;
  }
  buf[length] = 0;
  *data = buf;
  *size = length;
  return DCNN_OK;
}

