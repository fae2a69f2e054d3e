/* Model files in memory, shared by dcnn_model_save/load and the trainer's
 * checkpoints (which add a STAT section of training state). */
#ifndef DCNN_MODEL_IO_H
#define DCNN_MODEL_IO_H

#include "../io/bytes.h"
#include "model_internal.h"

/* Encodes `m` into `file`; `level` 0 stores sections, 1-9 compresses them
 * with zlib; `state` (or NULL) becomes the STAT section. */
dcnn_status dcnn__model_encode(const dcnn_model *m, int level, const dcnn_bytes *state, dcnn_bytes *file);

/* A decoded STAT section (training state), in memory from `ctx`'s allocator. */
typedef struct dcnn_model_state {
  dcnn_context *ctx;
  uint8_t *data;
  uint64_t size;
} dcnn_model_state;

/* Releases the state's bytes (an empty state too) and empties it. */
void dcnn__model_state_free(dcnn_model_state *state);

/* Validates and decodes a whole file; `name` prefixes errors. On success
 * `*out` is the model and, if `state` is not NULL, it receives the decoded
 * STAT section (empty if the file has none), to free with
 * dcnn__model_state_free; on failure `*state` is empty. */
dcnn_status dcnn__model_decode(dcnn_context *ctx, const char *name, const uint8_t *data, uint64_t size,
                               dcnn_model **out, dcnn_model_state *state);

#endif
