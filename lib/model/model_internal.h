/* Private model state, shared by the model's sources and the optimizers. */
#ifndef DCNN_MODEL_INTERNAL_H
#define DCNN_MODEL_INTERNAL_H

#include <stdatomic.h>

#include "../layers/layer_internal.h"
#include "digitcnn/data.h"
#include "digitcnn/model.h"
#include "digitcnn/profile.h"
#include "digitcnn/random.h"
#include "digitcnn/session.h"

typedef struct dcnn_param_ref {
  int32_t layer, index;
} dcnn_param_ref;

typedef struct dcnn_meta_entry {
  char key[64];
  char *value;
  int64_t line_bytes; /* of its "key=value\n" line in a model file, escapes included */
} dcnn_meta_entry;

struct dcnn_model {
  dcnn_context *ctx;
  /* Unique in the process and never reused, unlike the address (a pool
   * allocator may build the next model where a destroyed one was): what
   * optimizers and profiles remember as the model they belong to. */
  uint64_t id;
  dcnn_shape sample_shape; /* without the batch */
  dcnn_shape input_shape;  /* with a batch of 1 */
  dcnn_layer **layers;
  int32_t layer_count, layer_capacity;
  int32_t layer_records; /* the layers' records in a model file, nested ones counted */
  dcnn_param_ref *params;
  int32_t param_total;
  /* Planned memory: activations[i] is layer i's output; gradients ping-pong. */
  int32_t planned_batch, planned_threads; /* the workspace is sized for planned_threads */
  dcnn_tensor **activations;
  dcnn_tensor *gradients[2];
  void *workspace;
  int64_t workspace_size;
  uint64_t seed;
  int64_t steps;
  dcnn_meta_entry *metadata; /* sorted by key */
  int32_t metadata_count;
  /* Inference: dcnn_model_predict runs through this session (NULL until the
   * first call); user sessions are counted, and the layer list's generation
   * lets a session see that layers were added after it was planned. */
  dcnn_session *predict_session;
  atomic_int live_sessions;
  uint64_t generation;
  dcnn_profile *profile; /* borrowed; NULL: nothing is timed */
  /* What dcnn_model_forward leaves for dcnn_model_backward: the execution
   * state (mode, workspace) and the layer whose output the scores are. */
  dcnn_exec pass_exec;
  int32_t pass_top;
  int pass_ready;
  /* Set by a data-parallel training step for its passes, NULL otherwise
   * (dcnn__model_set_shard): copied into the execution state. */
  const struct dcnn_communicator *comm;
  int64_t sample_offset;
  int mute;
  /* Called after each layer's backward pass, top layer first (NULL: none):
   * that layer's parameter gradients are final then, so a data-parallel step
   * can start summing them (lib/train/gradient_sync.c). */
  dcnn_status (*backward_done)(void *user, int32_t layer);
  void *backward_user;
};

/* The communicator, global sample offset and mute flag (dcnn_exec::mute) of
 * the next passes (NULL, 0, 0: a single-process pass); a data-parallel
 * training step sets and clears them. */
void dcnn__model_set_shard(dcnn_model *m, const struct dcnn_communicator *comm, int64_t sample_offset, int mute);

/* Installs (or with NULL removes) the listener of every layer's completed
 * backward pass (dcnn_model::backward_done). */
void dcnn__model_set_backward_listener(dcnn_model *m, dcnn_status (*done)(void *user, int32_t layer), void *user);

/* Forward and backward of dcnn_model_forward/backward, naming `fn` in their
 * messages; `training` as dcnn_pass_mode. No session check (callers do it). */
dcnn_status dcnn__model_forward(dcnn_model *m, const char *fn, const dcnn_tensor *input, int training,
                                const dcnn_tensor **scores, dcnn_tensor **grad_scores);
dcnn_status dcnn__model_backward(dcnn_model *m, const char *fn, const dcnn_tensor *input, dcnn_tensor *grad_input);
/* Class probabilities of a batch: dcnn_model_predict's (N, K) outputs when the
 * model ends in a softmax layer, else their row-wise softmax (a model of raw
 * scores), so that losses and metrics see probabilities either way. */
dcnn_status dcnn__model_predict_probabilities(dcnn_model *m, const dcnn_tensor *input, dcnn_tensor *output);
/* dcnn_pipeline_configure_for_model with messages starting "caller: ". */
dcnn_status dcnn__pipeline_configure_for_model(dcnn_pipeline *p, const dcnn_model *model, const char *caller);
/* probs (K) <- scores (K) when the model ends in softmax, else softmax(scores); probs may be scores. */
void dcnn__model_probabilities(const dcnn_model *m, const float *scores, int32_t classes, float *probs);
/* Counts a training step (dropout streams follow the count). */
void dcnn__model_step_done(dcnn_model *m);
/* DCNN_ERR_INVALID_STATE while counted sessions use the model (they would see a half-done change). */
dcnn_status dcnn__model_check_no_sessions(const dcnn_model *m, const char *fn);
/* That the model has layers and `input` is a batch of its samples (INVALID_STATE, SHAPE_MISMATCH): what a
 * forward pass checks first, for callers that may return before one (an attack of epsilon 0). */
dcnn_status dcnn__model_check_batch(const dcnn_model *m, const char *fn, const dcnn_tensor *input);

/* Seed of layer `index` from a step's seed (dropout and other random layers). */
static inline uint64_t dcnn__layer_seed(uint64_t seed, int32_t index) {
  return dcnn_random_derive(seed, 0x1000u + (uint64_t)index);
}

/* Creates a session; `counted` sessions make the model read-only while they
 * live (the model's own predict session is not counted). */
dcnn_status dcnn__session_create(const dcnn_model *m, int32_t max_batch, int32_t threads, int counted,
                                 dcnn_session **out);
/* Threads and generation a session was planned for. */
int32_t dcnn__session_threads(const dcnn_session *s);
uint64_t dcnn__session_generation(const dcnn_session *s);
/* The memory a forward pass runs in: two (max_batch, largest) tensors that
 * layers write in turn, and `workspace` bytes of scratch (none for 0). On
 * failure the caller releases whatever was made (NULL where nothing was). */
dcnn_status dcnn__plan_pair(dcnn_context *ctx, const char *fn, int32_t max_batch, int64_t largest, int64_t workspace,
                            dcnn_tensor *pair[2], void **workspace_out);
/* DCNN_ERR_NUMERIC naming the first NaN or infinity of `t` (an input batch):
 * max-pooling and ReLU would otherwise turn such input into plausible scores. */
dcnn_status dcnn__check_finite_input(const char *fn, const dcnn_tensor *t);
/* DCNN_ERR_NUMERIC naming the first non-finite output element: finite inputs
 * whose activations overflowed (huge input values or weights). */
dcnn_status dcnn__check_finite_output(const char *fn, const dcnn_tensor *t);
/* dcnn_session_predict, naming `fn` in its messages. */
dcnn_status dcnn__session_run(dcnn_session *s, const char *fn, const dcnn_tensor *input, dcnn_tensor *output);

/* Profiling (profile.c). Layer entries per layer: forward, backward, inference. */
#define DCNN__PROFILE_LAYER_PASSES 3
/* Run layer `i`'s forward (pass FORWARD or INFERENCE) or backward, timing it into `p` (not NULL). */
dcnn_status dcnn__profile_forward(dcnn_profile *p, int32_t pass, int32_t i, dcnn_layer *l, dcnn_exec *exec,
                                  const dcnn_tensor *x, dcnn_tensor *y);
dcnn_status dcnn__profile_backward(dcnn_profile *p, int32_t i, dcnn_layer *l, dcnn_exec *exec, const dcnn_tensor *x,
                                   const dcnn_tensor *y, const dcnn_tensor *dy, dcnn_tensor *dx);
/* Adds `seconds` to a non-layer phase (LOSS, UPDATE, DATA), and a call when `call`; `p` may be NULL. */
void dcnn__profile_phase(dcnn_profile *p, dcnn_profile_pass phase, double seconds, int call);
dcnn_profile *dcnn__model_profile(const dcnn_model *m);

/* Limits of a model file (docs/model-format.md, "Limits"), refused by the loader and at their source. */
/* At most this many metadata entries per model (and per file): bounds what a crafted file can cost. */
#define DCNN__METADATA_MAX_ENTRIES 65536
/* Decoded bytes of a file's architecture or metadata text. */
#define DCNN__MAX_TEXT_BYTES (INT64_C(1) << 24)
/* Of the metadata text, what dcnn_model_set_metadata may fill: the rest is kept for the library_version line every
 * save writes. */
#define DCNN__METADATA_MAX_TEXT (DCNN__MAX_TEXT_BYTES - 256)
/* Layer records in one architecture text, nested ones included (dcnn_model_add refuses more). */
#define DCNN__MAX_LAYER_RECORDS 16384
/* Residual blocks nested in one another, counted as the blocks around the innermost layer (1: a block whose body
 * holds no block). Model files bound it so that a crafted file cannot exhaust the loader's stack; the ONNX importer
 * uses the same value so that every model it imports can be saved. */
#define DCNN__MAX_RESIDUAL_DEPTH 8

/* Records `layer` takes in a model file's architecture: 1, plus those of a residual block's sub-layers; counting
 * stops past `cap`. */
int32_t dcnn__layer_records(const dcnn_layer *layer, int32_t cap);

/* Loading: appends an entry without keeping the order (O(1) amortised) ... */
dcnn_status dcnn__model_append_metadata(dcnn_model *m, const char *key, const char *value);
/* ... then sorts once; returns a repeated key (the model must then be discarded) or NULL. */
const char *dcnn__model_sort_metadata(dcnn_model *m);
/* Frees the metadata entries (model destruction). */
void dcnn__model_free_metadata(dcnn_model *m);
/* Whether `key` is a valid metadata key (also layer type names). */
int dcnn__valid_key(const char *key);

#endif
