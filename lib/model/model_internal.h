/* Private model state, shared by the model's sources and the optimizers. */
#ifndef DCNN_MODEL_INTERNAL_H
#define DCNN_MODEL_INTERNAL_H

#include "../layers/layer_internal.h"
#include "digitcnn/model.h"

typedef struct dcnn_param_ref {
  int32_t layer, index;
} dcnn_param_ref;

typedef struct dcnn_meta_entry {
  char key[64];
  char *value;
} dcnn_meta_entry;

struct dcnn_model {
  dcnn_context *ctx;
  dcnn_shape sample_shape; /* without the batch */
  dcnn_shape input_shape;  /* with a batch of 1 */
  dcnn_layer **layers;
  int32_t layer_count, layer_capacity;
  dcnn_param_ref *params;
  int32_t param_total;
  /* Planned memory: activations[i] is layer i's output; gradients ping-pong. */
  int32_t planned_batch;
  dcnn_tensor **activations;
  dcnn_tensor *gradients[2];
  void *workspace;
  int64_t workspace_size;
  uint64_t seed;
  int64_t steps;
  dcnn_meta_entry *metadata; /* sorted by key */
  int32_t metadata_count;
};

/* At most this many metadata entries per model (and per file): bounds what a crafted file can cost. */
#define DCNN__METADATA_MAX_ENTRIES 65536

/* Loading: appends an entry without keeping the order (O(1) amortised) ... */
dcnn_status dcnn__model_append_metadata(dcnn_model *m, const char *key, const char *value);
/* ... then sorts once; returns a repeated key (the model must then be discarded) or NULL. */
const char *dcnn__model_sort_metadata(dcnn_model *m);
/* Frees the metadata entries (model destruction). */
void dcnn__model_free_metadata(dcnn_model *m);
/* Whether `key` is a valid metadata key (also layer type names). */
int dcnn__valid_key(const char *key);

#endif
