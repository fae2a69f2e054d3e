/* Private side of the layer interface, shared by the layers, the model and the gradient checker. */
#ifndef DCNN_LAYER_INTERNAL_H
#define DCNN_LAYER_INTERNAL_H

#include "../core/internal.h"
#include "../core/keyvalue.h"
#include "digitcnn/layer_interface.h"
#include "digitcnn/builtin_layers.h"
#include "digitcnn/communicator.h"

struct dcnn_exec {
  dcnn_context *ctx;
  int training;
  int32_t threads;
  void *workspace;
  int64_t workspace_size;
  uint64_t seed;
  /* 1 when backward runs after this forward (training steps, input
   * gradients): forward may then keep state in its layer. 0 in sessions. */
  int backward;
  /* Set by an inference runner for one conv2d forward: write the output of
   * the batch norm linked after it and skip that layer (conv_bn.h). */
  int fold;
  /* Data-parallel training (digitcnn/communicator.h): the job's
   * communicator (NULL: one process) and the global index of this batch's
   * first sample within the global batch. Batch norm synchronises its
   * statistics over `comm`; dropout draws its mask at global positions. */
  const struct dcnn_communicator *comm;
  int64_t sample_offset;
  /* 1: this process's sums count as zeros in every all-reduce (its step is
   * process 0's; dcnn__shard::mute). */
  int mute;
  /* Profiling a backward pass (profile.h): NULL, or where layers that compute
   * the weight gradient apart from the data gradient (conv2d, dense) add the
   * wall seconds of the weight part. */
  struct dcnn__split_timer *split;
  /* Set by an inference session for one layer's forward: memory of
   * `cache_size` bytes (64-byte aligned, zeroed when the session was made)
   * that the session keeps for `cache_owner` alone between calls, for data
   * derived from the weights only (a conv's transformed filters). Its user
   * must check that what it finds still matches the weights: they may change
   * between calls. NULL elsewhere. */
  void *cache;
  int64_t cache_size;
  const void *cache_owner; /* the layer's self */
};

/* The weight-gradient share of one profiled backward call. */
typedef struct dcnn__split_timer {
  double weight_seconds; /* wall seconds of weight-gradient work */
  int reported;          /* 1 once a layer has added to it */
} dcnn__split_timer;

/* A clock read for dcnn__exec_add_weight_seconds; 0 (and no clock read) when
 * the backward pass is not profiled. */
double dcnn__exec_clock(const dcnn_exec *exec);
/* Adds `seconds` of weight-gradient work to the profiled backward call (no-op otherwise). */
void dcnn__exec_add_weight_seconds(const dcnn_exec *exec, double seconds);

/* 1 when `exec` is a training pass of a job of more than one process. */
int dcnn__exec_distributed(const dcnn_exec *exec);
/* Sums `count` doubles over the job's processes (dcnn__exec_distributed only);
 * a muted process contributes zeros and receives the sum like the others. */
dcnn_status dcnn__exec_allreduce(const dcnn_exec *exec, double *data, int64_t count);
/* The global index of the batch's first sample (0 outside data-parallel training). */
int64_t dcnn__exec_sample_offset(const dcnn_exec *exec);

struct dcnn_layer {
  const dcnn_layer_vtable *vt;
  void *self;
  dcnn_context *ctx;
  dcnn_shape input;  /* batch of 1 */
  dcnn_shape output; /* batch of 1 */
  int built;
  /* A model or a residual block holds the layer: only that owner destroys it
   * (dcnn__layer_destroy_owned), and no second owner may take it. */
  int owned;
  /* A build failed after allocating through the library: running it again
   * would overwrite (leak) what it left, so it is refused; destroy frees it. */
  int build_failed;
  /* Bytes the build allocated through the library (parameters, a user
   * layer's tables; a residual block's sub-layers included): a model file's
   * load budget must cover them, so a save checks them against it. */
  int64_t build_bytes;
  /* Built-in layers whose scratch depends on the thread count or the use
   * (conv2d, residual) set this: bytes of workspace at `max_batch` for
   * `threads` threads, for inference only (no backward follows) or for
   * training. NULL: the vtable's workspace_size. */
  int64_t (*sized_workspace)(const void *self, int32_t max_batch, int32_t threads, int inference);
  /* Built-in layers with several algorithms (conv2d) set this: the static
   * name of the one they run (dcnn_layer_algorithm). NULL: one algorithm. */
  const char *(*algorithm)(const void *self);
  /* Built-in layers that can reuse work between inference calls (conv2d)
   * set this: bytes of dcnn_exec.cache they use (0: none for the algorithm
   * they run now). NULL: none. */
  int64_t (*inference_cache_size)(const void *self);
};

/* Calls the layer's plan slot (if any). */
dcnn_status dcnn__layer_plan(dcnn_layer *layer, int32_t max_batch);
/* Workspace bytes the layer needs at max_batch with up to `threads` threads,
 * for inference only (sessions) or with backward following (0 without the
 * slot). Layers without sized_workspace answer for the context's threads,
 * which callers never exceed. */
int64_t dcnn__layer_workspace(const dcnn_layer *layer, int32_t max_batch, int32_t threads, int inference);
/* NULL if `layer` (and, for a residual block, every layer inside it) declares
 * DCNN_LAYER_SHARED_INFERENCE; else the first layer that does not. */
const dcnn_layer *dcnn__layer_unshared(const dcnn_layer *layer);
/* Whether `layer` (or a layer inside a residual block) declares DCNN_LAYER_BATCH_STATISTICS. */
int dcnn__layer_batch_statistics(const dcnn_layer *layer);
/* The algorithms a layer runs, for the summary and the profile table: its
 * dcnn_layer_algorithm name, or for a residual block its layers' names
 * joined by '+', then '|' and the shortcut's ("" if none); truncated to `size`. */
#define DCNN__ALGORITHMS_TEXT 160
void dcnn__layer_algorithms(const dcnn_layer *layer, char *buf, size_t size);
/* Fixes the algorithm of every conv2d in the chain, residual blocks' included,
 * as planning does: for dcnn_model_predict, whose session sized its workspace
 * for them without planning the layers. */
void dcnn__conv2d_fix_algorithms(dcnn_layer *const *layers, int32_t count);
/* Shape with the batch replaced. */
dcnn_shape dcnn__with_batch(const dcnn_shape *s, int32_t batch);

/* Destroys a layer its owner (a model, a residual block) holds; the public
 * dcnn_layer_destroy refuses owned layers. */
void dcnn__layer_destroy_owned(dcnn_layer *layer);

/* Whether the layer is the built-in softmax (fused with the loss in training). */
int dcnn__layer_is_softmax(const dcnn_layer *layer);

/* If `layer` is a residual block: its body (parts[0]) and shortcut (parts[1])
 * chains, borrowed, and whether a ReLU follows the sum; returns 1. Else 0. */
int dcnn__residual_parts(const dcnn_layer *layer, dcnn_layer *const *parts[2], int32_t counts[2], int *relu);

/* Shared helpers for the built-in layers. */
struct dcnn_conv_geometry;
/* Fills the geometry of a k x k window op with `stride` and `padding` over a
 * (N, C, H, W) input, or fails naming `layer` when the input is not 4-D or the
 * window does not fit. */
dcnn_status dcnn__window_geometry(const char *layer, const dcnn_shape *in, int32_t kernel, int32_t stride,
                                  dcnn_padding padding, struct dcnn_conv_geometry *g);
/* Largest filters/units a configuration may ask for: bounds what a crafted
 * model file can make loading allocate. */
#define DCNN__CONFIG_SIZE_LIMIT (1 << 16)
/* Largest kernel, pool or stride: the same bound for a layer built by hand and
 * one read from a file, so that every model that trains also saves and loads. */
#define DCNN__WINDOW_LIMIT 1024
/* Reads "padding=valid|same|same_lower" (the form describe slots write). */
dcnn_status dcnn__kv_padding(dcnn__kv *kv, dcnn_padding *out);
/* A pooling layer's whole configuration ("pool=P stride=S padding=valid|same|same_lower"),
 * shared by max- and average pooling's from_config. */
dcnn_status dcnn__read_pool_config(const char *config, int32_t *pool, int32_t *stride, dcnn_padding *padding);
/* The name describe slots write for `padding`. */
const char *dcnn__padding_name(dcnn_padding padding);
/* Whether `padding` is a dcnn_padding value. */
int dcnn__padding_known(dcnn_padding padding);
dcnn_status dcnn__new_layer(const dcnn_layer_vtable *vt, size_t self_size, dcnn_layer **out, void **self);
/* dcnn_layer_create for this library's own vtables, which may carry a built-in type's name. */
dcnn_status dcnn__layer_create_builtin(const dcnn_layer_vtable *vt, void *self, dcnn_layer **out);
dcnn_status dcnn__param_tensor(dcnn_context *ctx, dcnn_tensor **t, const char *layer, const char *name, int32_t ndim,
                               int32_t d0, int32_t d1, int32_t d2, int32_t d3);

#endif
