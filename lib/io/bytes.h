/* Little-endian byte buffers: a growing writer and a bounds-checked reader.
 * Every binary format of the library (model files, checkpoints) goes through
 * these, so the byte order is decided in one place. */
#ifndef DCNN_BYTES_H
#define DCNN_BYTES_H

#include <stddef.h>
#include <stdint.h>

#include "../core/internal.h"

/* A writer that remembers a failed allocation instead of reporting each one. */
typedef struct dcnn_bytes {
  uint8_t *data;
  size_t size, capacity;
  int failed;
} dcnn_bytes;

void dcnn__bytes_put(dcnn_bytes *b, const void *bytes, size_t n);
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

/* Reads a whole file (at most 4 GiB) into a malloc'd buffer with one spare byte. */
dcnn_status dcnn__read_file(const char *path, uint8_t **data, uint64_t *size);

#endif
