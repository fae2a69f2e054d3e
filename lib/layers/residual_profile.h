/* Timing of the parts of residual blocks, for the profiler (model/profile.c):
 * a block is one layer of the model, so without this its sub-layers and its
 * own work (the sum, its activation and their gradients) would be one row.
 * Only the training passes (forward followed by backward) are timed; sessions
 * and predictions are not. Costs two clock reads per sub-layer call while on,
 * nothing but a branch while off. Not thread-safe: follows the model's rule. */
#ifndef DCNN_RESIDUAL_PROFILE_H
#define DCNN_RESIDUAL_PROFILE_H

#include "layer_internal.h"

/* One timed part of a block. */
typedef struct dcnn__residual_part {
  int chain;             /* 0 body, 1 shortcut, 2 the block's own sum (+ ReLU) */
  int32_t index;         /* in its chain */
  const char *type_name; /* borrowed from the layer, or static */
  double seconds, flops; /* accumulated since timing was turned on */
  const dcnn_layer *layer; /* the sub-layer (borrowed), NULL for the sum */
} dcnn__residual_part;

/* Turns timing of a residual block's parts on or off (keeping the sums);
 * no-op for any other layer. */
void dcnn__residual_timing(dcnn_layer *layer, int on);
/* Zeroes the sums (a profile's creation and reset). They live in the block:
 * two profiles of one model attached in turn share them. */
void dcnn__residual_timing_reset(dcnn_layer *layer);

/* Fills up to `capacity` parts of pass 0 (forward) or 1 (backward), body then
 * shortcut then the sum, and the block's timed calls of that pass; returns the
 * number of parts (0 if `layer` is not a residual block). */
int32_t dcnn__residual_timed_parts(const dcnn_layer *layer, int pass, dcnn__residual_part *parts, int32_t capacity,
                                   int64_t *calls);

#endif
