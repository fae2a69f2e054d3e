/* The model's part of a checkpoint: its seed and step counter (they derive
 * dropout's streams), and taking over a checkpoint's weights and metadata.
 * Checkpoint code (lib/train/checkpoint.c) frames the sections and calls
 * these; it does not read the model's fields. */
#ifndef DCNN_MODEL_STATE_H
#define DCNN_MODEL_STATE_H

#include "../io/bytes.h"
#include "model_internal.h"

typedef struct dcnn__model_counters {
  uint64_t seed;
  int64_t steps;
} dcnn__model_counters;

/* Appends u64 seed, u64 step count. */
void dcnn__model_save_state(const dcnn_model *m, dcnn_bytes *b);
/* Reads and checks what dcnn__model_save_state wrote; the model is not touched. */
dcnn_status dcnn__model_load_state(dcnn_reader *r, dcnn__model_counters *out);
/* Sets the counters read by dcnn__model_load_state; cannot fail. */
void dcnn__model_commit_state(dcnn_model *m, const dcnn__model_counters *c);

/* Resuming with a checkpoint's model `saved` (same architecture and context as
 * `m`): first gives `saved` every metadata entry of `m` it lacks (only `saved`
 * changes, so a failure leaves `m` as it was) ... */
dcnn_status dcnn__model_prepare_adopt(dcnn_model *saved, const dcnn_model *m);
/* ... then, unable to fail, swaps the metadata and copies every parameter
 * and buffer of `saved` into `m`. */
void dcnn__model_adopt(dcnn_model *m, dcnn_model *saved);

#endif
