/* Little-endian byte buffers: a growing writer and a bounds-checked reader.
 * Every binary format of the library (model files, checkpoints) goes through
 * these, so the byte order is decided in one place. */
#ifndef DCNN_BYTES_H
#define DCNN_BYTES_H

#include <stddef.h>
#include <stdint.h>

#include "../core/internal.h"

/* A writer that remembers a failed allocation instead of reporting each one. Its buffer comes from `ctx`'s
 * allocator (NULL: the default context's), as every allocation of the library does. */
typedef struct dcnn_bytes {
  uint8_t *data;
  size_t size, capacity;
  int failed;
  dcnn_context *ctx;
} dcnn_bytes;

void dcnn__bytes_put(dcnn_bytes *b, const void *bytes, size_t n);
/* Room for `capacity` bytes in all, allocated at once (a writer that knows its size grows no more). */
void dcnn__bytes_reserve(dcnn_bytes *b, size_t capacity);
void dcnn__bytes_u32(dcnn_bytes *b, uint32_t v);
void dcnn__bytes_u64(dcnn_bytes *b, uint64_t v);
void dcnn__bytes_f32(dcnn_bytes *b, float v);
void dcnn__bytes_f64(dcnn_bytes *b, double v);
void dcnn__bytes_floats(dcnn_bytes *b, const float *v, int64_t n);
void dcnn__bytes_free(dcnn_bytes *b);

/* A reader over `size` bytes; `name` (a file name) prefixes its errors. */
typedef struct dcnn_reader {
  const char *name;
  const uint8_t *data;
  uint64_t size, at;
} dcnn_reader;

/* DCNN_ERR_BAD_FORMAT naming the offset unless `bytes` more bytes remain. */
dcnn_status dcnn__reader_need(const dcnn_reader *r, uint64_t bytes, const char *what);
/* These read without checking: call dcnn__reader_need first. */
uint32_t dcnn__reader_u32(dcnn_reader *r);
uint64_t dcnn__reader_u64(dcnn_reader *r);
float dcnn__reader_f32(dcnn_reader *r);
double dcnn__reader_f64(dcnn_reader *r);
/* Checked reads of `n` finite floats into `out`. */
dcnn_status dcnn__reader_floats(dcnn_reader *r, float *out, int64_t n, const char *what);

/* Opens `path` for reading without blocking and only if it is a regular file
 * (a FIFO, socket or device is refused before anything is read, so nothing
 * waits on a writer; a directory says so); *fd_out is then an O_CLOEXEC
 * descriptor the caller closes, *size the file's size. `shown` names the file
 * in messages. Every reader of the library's input files starts here. */
dcnn_status dcnn__open_regular(const char *path, const char *shown, int *fd_out, uint64_t *size);

/* Reads the whole regular file `path` (dcnn__open_regular's checks, at most
 * `max_bytes`, reads retried on EINTR) into a buffer from `ctx`'s allocator,
 * NUL-terminated after its `*size` bytes; release it with dcnn__release(ctx).
 * `shown` (or `path` when NULL) names the file in messages. */
dcnn_status dcnn__read_file_in(dcnn_context *ctx, const char *path, const char *shown, uint64_t max_bytes,
                               uint8_t **data, uint64_t *size);

/* Model files and checkpoints: at most 4 GiB. */
#define DCNN_READ_FILE_MAX_BYTES (UINT64_C(1) << 32)

#endif
