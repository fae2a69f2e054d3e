#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/kernels.h"
#include "../core/struct_size.h"
#include "builtin_table.h"
#include "layer_internal.h"

/* `builtin`: the vtable is one of this library's, which alone may carry a built-in type's name. */
static dcnn_status create_layer(const dcnn_layer_vtable *vt, void *self, int builtin, dcnn_layer **out) {
  if (out) *out = NULL;
  dcnn_status status = DCNN_OK;
  if (!vt || !out) {
    status = dcnn__fail(DCNN_ERR_INVALID_ARGUMENT, "dcnn_layer_create: %s is NULL", vt ? "'out'" : "'vtable'");
  } else if (vt->abi_version < 1 || vt->abi_version > DCNN_LAYER_ABI_VERSION) {
    /* Version 1 vtables end before `flags`: still accepted, never read past. */
    status = dcnn__fail(DCNN_ERR_UNSUPPORTED, "dcnn_layer_create: layer type '%s' has vtable ABI version %u, "
                        "this library supports 1 to %u", vt->type_name ? vt->type_name : "?",
                        (unsigned)vt->abi_version, (unsigned)DCNN_LAYER_ABI_VERSION);
  } else if (!vt->type_name || !vt->type_name[0] || !vt->build || !vt->forward || !vt->destroy) {
    status = dcnn__fail(DCNN_ERR_INVALID_ARGUMENT,
                        "dcnn_layer_create: vtable of '%s' lacks a required slot (type_name, build, forward, destroy)",
                        vt->type_name ? vt->type_name : "?");
  } else if ((vt->param_count == NULL) != (vt->param == NULL)) {
    status = dcnn__fail(DCNN_ERR_INVALID_ARGUMENT,
                        "dcnn_layer_create: '%s' must provide both param_count and param, or neither", vt->type_name);
  } else if (!builtin && dcnn__builtin_layer_find(vt->type_name)) {
    /* Saved under that name, the layer would load back as the built-in type, computing something else. */
    status = dcnn__fail(DCNN_ERR_INVALID_ARGUMENT, "dcnn_layer_create: '%.64s' is the name of a built-in layer type",
                        vt->type_name);
  }
  dcnn_layer *layer = NULL;
  if (status == DCNN_OK) {
    layer = dcnn__calloc(NULL, 1, sizeof *layer);
    if (!layer) status = dcnn__fail(DCNN_ERR_OUT_OF_MEMORY, "dcnn_layer_create: out of memory");
  }
  if (status != DCNN_OK) {
    if (vt && vt->destroy && self) vt->destroy(self);
    return status;
  }
  layer->vt = vt;
  layer->self = self;
  *out = layer;
  return DCNN_OK;
}

dcnn_status dcnn_layer_create(const dcnn_layer_vtable *vt, void *self, dcnn_layer **out) {
  return create_layer(vt, self, 0, out);
}

dcnn_status dcnn__layer_create_builtin(const dcnn_layer_vtable *vt, void *self, dcnn_layer **out) {
  return create_layer(vt, self, 1, out);
}

void dcnn__layer_destroy_owned(dcnn_layer *layer) {
  if (!layer) return;
  layer->vt->destroy(layer->self);
  dcnn__release(NULL, layer);
}

void dcnn_layer_destroy(dcnn_layer *layer) {
  if (!layer) return;
  /* Freeing an owned layer would leave its owner a dangling pointer. */
  if (!layer->owned) dcnn__layer_destroy_owned(layer);
}

const char *dcnn_layer_type(const dcnn_layer *layer) { return layer ? layer->vt->type_name : "(null)"; }

void *dcnn_layer_self(dcnn_layer *layer) { return layer ? layer->self : NULL; }

dcnn_status dcnn_layer_describe(const dcnn_layer *layer, char *buf, int32_t size) {
  DCNN_CHECK_ARG(buf);
  DCNN_CHECK(size >= 1, DCNN_ERR_INVALID_ARGUMENT, "dcnn_layer_describe: size %d (at least 1)", (int)size);
  buf[0] = '\0';
  DCNN_CHECK_ARG(layer);
  if (!layer->vt->describe) return DCNN_OK;
  const uint64_t mark = dcnn__error_mark(); /* a custom describe() may fail without a message of its own */
  const dcnn_status status = layer->vt->describe(layer->self, buf, size);
  buf[size - 1] = '\0';
  if (status != DCNN_OK) {
    buf[0] = '\0';
    return dcnn__callee_error(status, mark, "dcnn_layer_describe: layer type '%s': describe()", layer->vt->type_name);
  }
  if (strlen(buf) >= (size_t)size - 1) {
    buf[0] = '\0';
    return dcnn__fail(DCNN_ERR_INVALID_ARGUMENT,
                      "dcnn_layer_describe: layer type '%s': its settings fill the %d bytes given and may have been "
                      "cut short (give more than %d; DCNN_LAYER_SETTINGS_BYTES, %d, holds what a model file keeps)",
                      layer->vt->type_name, (int)size, (int)size, DCNN_LAYER_SETTINGS_BYTES);
  }
  return DCNN_OK;
}

dcnn_shape dcnn__with_batch(const dcnn_shape *s, int32_t batch) {
  dcnn_shape r = *s;
  r.dims[0] = batch;
  return r;
}

dcnn_status dcnn_layer_build(dcnn_layer *layer, dcnn_context *ctx, const dcnn_shape *input) {
  DCNN_CHECK_ARG(layer);
  DCNN_CHECK_ARG(input);
  DCNN_CHECK(!layer->built, DCNN_ERR_INVALID_STATE, "%s: layer is already built", layer->vt->type_name);
  DCNN_CHECK(!layer->build_failed, DCNN_ERR_INVALID_STATE,
             "%s: an earlier build of this layer failed part-way; destroy it and create a new one",
             layer->vt->type_name);
  DCNN_CHECK(dcnn__shape_valid(input), DCNN_ERR_INVALID_ARGUMENT, "%s: invalid input shape", layer->vt->type_name);
  dcnn_shape in = dcnn__with_batch(input, 1), out = dcnn_shape_make(0, 0, 0, 0, 0);
  const uint64_t mark = dcnn__error_mark();
  const int64_t requested = dcnn__alloc_bytes_requested(), held = dcnn__allocations_held();
  dcnn_status status = layer->vt->build(layer->self, ctx, &in, &out);
  layer->build_bytes = dcnn__alloc_bytes_requested() - requested;
  const int valid_output = status == DCNN_OK && dcnn__shape_valid(&out) && out.dims[0] == 1;
  /* a failed build that left nothing allocated through the library may run again */
  if (!valid_output && dcnn__allocations_held() != held) layer->build_failed = 1;
  if (status != DCNN_OK && dcnn__error_mark() == mark)
    return dcnn__callee_error(status, mark, "%s build", layer->vt->type_name);
  if (status != DCNN_OK) return status;
  char text[64];
  DCNN_CHECK(valid_output, DCNN_ERR_INVALID_STATE, "%s: build reported an invalid output shape %s for a batch of 1",
             layer->vt->type_name, dcnn_shape_format(&out, text, sizeof text));
  /* Counts are summed over a model's layers and sized into allocations: a negative one would wrap them. */
  const int32_t params = layer->vt->param_count ? layer->vt->param_count(layer->self) : 0;
  if (params < 0) {
    layer->build_failed = 1;
    return dcnn__fail(DCNN_ERR_INVALID_STATE, "%s: param_count returned %d after build", layer->vt->type_name,
                      (int)params);
  }
  layer->ctx = ctx;
  layer->input = in;
  layer->output = out;
  layer->built = 1;
  return DCNN_OK;
}

dcnn_shape dcnn_layer_output_shape(const dcnn_layer *layer) {
  if (!layer || !layer->built) return dcnn_shape_make(0, 0, 0, 0, 0);
  return layer->output;
}

int32_t dcnn_layer_param_tensor_count(const dcnn_layer *layer) {
  if (!layer || !layer->built || !layer->vt->param_count) return 0;
  return layer->vt->param_count(layer->self);
}

dcnn_status dcnn_layer_param(dcnn_layer *layer, int32_t index, dcnn_param *out) {
  DCNN_CHECK_ARG(layer);
  DCNN_CHECK_ARG(out);
  int32_t n = dcnn_layer_param_tensor_count(layer);
  DCNN_CHECK(index >= 0 && index < n, DCNN_ERR_INVALID_ARGUMENT, "%s: parameter index %d outside 0..%d",
             layer->vt->type_name, (int)index, (int)n - 1);
  DCNN_TRY(dcnn__struct_size_check("dcnn_layer_param", "dcnn_param", out->struct_size, DCNN__PARAM_SIZE_0_2));
  /* The slot fills a whole struct of this library's layout (a layer may
   * assign one); the caller gets the part its layout has. */
  dcnn_param full = DCNN_STRUCT_INIT(dcnn_param);
  const uint64_t mark = dcnn__error_mark();
  dcnn_status status = layer->vt->param(layer->self, index, &full);
  if (status != DCNN_OK && dcnn__error_mark() == mark)
    return dcnn__callee_error(status, mark, "%s param %d", layer->vt->type_name, (int)index);
  DCNN_TRY(status);
  /* What a slot returns is user code's: every caller (optimizer, saving, summary) trusts these. */
  DCNN_CHECK(full.value != NULL, DCNN_ERR_INVALID_STATE, "%s param %d: the layer gave no value tensor",
             layer->vt->type_name, (int)index);
  /* model files, optimizer states and messages print and match it */
  DCNN_CHECK(full.name != NULL, DCNN_ERR_INVALID_STATE, "%s param %d: the layer gave no name", layer->vt->type_name,
             (int)index);
  char a[64], b[64];
  DCNN_CHECK(!full.grad || dcnn_shape_equal(&full.grad->shape, &full.value->shape), DCNN_ERR_INVALID_STATE,
             "%s param %d: gradient shape %s differs from the value's %s", layer->vt->type_name, (int)index,
             dcnn_shape_format(&full.grad->shape, a, sizeof a), dcnn_shape_format(&full.value->shape, b, sizeof b));
  full.struct_size = sizeof full;
  return dcnn__struct_fill("dcnn_layer_param", "dcnn_param", out, &full, sizeof full, DCNN__PARAM_SIZE_0_2);
}

dcnn_status dcnn__layer_plan(dcnn_layer *layer, int32_t max_batch) {
  if (!layer->vt->plan) return DCNN_OK;
  const uint64_t mark = dcnn__error_mark();
  dcnn_status status = layer->vt->plan(layer->self, layer->ctx, max_batch);
  if (status != DCNN_OK && dcnn__error_mark() == mark)
    return dcnn__callee_error(status, mark, "%s plan", layer->vt->type_name);
  return status;
}

int64_t dcnn__layer_workspace(const dcnn_layer *layer, int32_t max_batch, int32_t threads, int inference) {
  if (layer->sized_workspace) return layer->sized_workspace(layer->self, max_batch, threads, inference);
  return layer->vt->workspace_size ? layer->vt->workspace_size(layer->self, max_batch) : 0;
}

dcnn_status dcnn_layer_algorithm(const dcnn_layer *layer, const char **name) {
  if (name) *name = "";
  DCNN_CHECK_ARG(layer);
  DCNN_CHECK_ARG(name);
  if (layer->algorithm) *name = layer->algorithm(layer->self);
  return DCNN_OK;
}

/* Appends the chain's non-empty algorithm names to buf (used bytes at *at), joined by '+'. */
static void append_chain(dcnn_layer *const *layers, int32_t count, char *buf, size_t size, size_t *at) {
  int first = 1;
  for (int32_t i = 0; i < count; ++i) {
    const char *name = "";
    dcnn_layer_algorithm(layers[i], &name);
    if (!name[0]) continue;
    int n = snprintf(buf + *at, size - *at, "%s%s", first ? "" : "+", name);
    if (n < 0 || (size_t)n >= size - *at) {
      *at = size - 1;
      return;
    }
    *at += (size_t)n;
    first = 0;
  }
}

void dcnn__layer_algorithms(const dcnn_layer *layer, char *buf, size_t size) {
  if (!size) return;
  buf[0] = '\0';
  dcnn_layer *const *parts[2];
  int32_t counts[2];
  int relu = 0;
  if (!dcnn__residual_parts(layer, parts, counts, &relu)) {
    const char *name = "";
    dcnn_layer_algorithm(layer, &name);
    snprintf(buf, size, "%s", name);
    return;
  }
  size_t at = 0;
  append_chain(parts[0], counts[0], buf, size, &at);
  const size_t body = at;
  if (at + 1 < size) {
    buf[at++] = '|';
    buf[at] = '\0';
  }
  append_chain(parts[1], counts[1], buf, size, &at);
  if (at == body + 1) buf[body] = '\0'; /* no convolution in the shortcut */
}

int dcnn__layer_batch_statistics(const dcnn_layer *layer) {
  /* `flags` exists only from ABI version 2 on: a version-1 vtable is shorter. */
  if (layer->vt->abi_version >= 2 && (layer->vt->flags & DCNN_LAYER_BATCH_STATISTICS)) return 1;
  dcnn_layer *const *parts[2];
  int32_t counts[2];
  int relu = 0;
  if (dcnn__residual_parts(layer, parts, counts, &relu))
    for (int p = 0; p < 2; ++p)
      for (int32_t i = 0; i < counts[p]; ++i)
        if (dcnn__layer_batch_statistics(parts[p][i])) return 1;
  return 0;
}

const dcnn_layer *dcnn__layer_unshared(const dcnn_layer *layer) {
  /* `flags` exists only from ABI version 2 on: a version-1 vtable is shorter. */
  if (layer->vt->abi_version < 2 || !(layer->vt->flags & DCNN_LAYER_SHARED_INFERENCE)) return layer;
  dcnn_layer *const *parts[2];
  int32_t counts[2];
  int relu = 0;
  if (dcnn__residual_parts(layer, parts, counts, &relu))
    for (int p = 0; p < 2; ++p)
      for (int32_t i = 0; i < counts[p]; ++i) {
        const dcnn_layer *inner = dcnn__layer_unshared(parts[p][i]);
        if (inner) return inner;
      }
  return NULL;
}


int dcnn_exec_training(const dcnn_exec *exec) { return exec ? exec->training : 0; }
int dcnn_exec_backward_follows(const dcnn_exec *exec) { return exec ? exec->training || exec->backward : 0; }
int32_t dcnn_exec_threads(const dcnn_exec *exec) {
  return dcnn__team_threads(exec && exec->threads > 0 ? exec->threads : 1);
}
void *dcnn_exec_workspace(dcnn_exec *exec, int64_t *size) {
  if (size) *size = exec ? exec->workspace_size : 0;
  return exec ? exec->workspace : NULL;
}
uint64_t dcnn_exec_seed(const dcnn_exec *exec) { return exec ? exec->seed : 0; }
dcnn_context *dcnn_exec_context(dcnn_exec *exec) { return dcnn__context(exec ? exec->ctx : NULL); }

double dcnn__exec_clock(const dcnn_exec *exec) {
  return exec && exec->split ? dcnn__now() : 0;
}

void dcnn__exec_add_weight_seconds(const dcnn_exec *exec, double seconds) {
  if (!exec || !exec->split) return;
  exec->split->weight_seconds += seconds;
  exec->split->reported = 1;
}

int dcnn__exec_distributed(const dcnn_exec *exec) {
  return exec && exec->training && exec->comm && exec->comm->size(exec->comm->user) > 1;
}

dcnn_status dcnn__exec_allreduce(const dcnn_exec *exec, double *data, int64_t count) {
  DCNN_CHECK(dcnn__exec_distributed(exec), DCNN_ERR_INVALID_STATE, "all-reduce outside a data-parallel training step");
  const uint64_t mark = dcnn__error_mark();
  if (exec->mute) memset(data, 0, (size_t)count * sizeof *data);
  const dcnn_status status = exec->comm->allreduce_sum(exec->comm->user, data, count, DCNN_COMM_FLOAT64);
  if (status != DCNN_OK) return dcnn__callee_error(status, mark, "all-reduce of %lld values", (long long)count);
  return DCNN_OK;
}

int64_t dcnn__exec_sample_offset(const dcnn_exec *exec) { return exec && exec->comm ? exec->sample_offset : 0; }

dcnn_status dcnn__new_layer(const dcnn_layer_vtable *vt, size_t self_size, dcnn_layer **out, void **self) {
  DCNN_CHECK_ARG(out);
  *out = NULL;
  /* Layers are created before they join a model, so their handles and the
   * built-in layers' state come from the default context (counted, subject
   * to the loaders' budgets and to dcnn__fail_allocations_after); built-in
   * destroy slots release `self` the same way. Tensors come from the
   * model's context when the layer is built. */
  *self = dcnn__calloc(NULL, 1, self_size);
  DCNN_CHECK(*self != NULL, DCNN_ERR_OUT_OF_MEMORY, "%s: out of memory", vt->type_name);
  return dcnn__layer_create_builtin(vt, *self, out);
}

dcnn_status dcnn__param_tensor(dcnn_context *ctx, dcnn_tensor **t, const char *layer, const char *name, int32_t ndim,
                               int32_t d0, int32_t d1, int32_t d2, int32_t d3) {
  dcnn_shape shape = dcnn_shape_make(ndim, d0, d1, d2, d3);
  dcnn_status status = dcnn_tensor_create(ctx, &shape, t);
  if (status != DCNN_OK) return dcnn__wrap_error(status, "%s: parameter '%s'", layer, name);
  return DCNN_OK;
}

dcnn_status dcnn__window_geometry(const char *layer, const dcnn_shape *in, int32_t kernel, int32_t stride,
                                  dcnn_padding padding, dcnn_conv_geometry *g) {
  char text[64];
  DCNN_CHECK(in->ndim == 4, DCNN_ERR_SHAPE_MISMATCH, "%s: expects (N, C, H, W) input, got %s", layer,
             dcnn_shape_format(in, text, sizeof text));
  g->channels = in->dims[1];
  g->height = in->dims[2];
  g->width = in->dims[3];
  g->kernel = kernel;
  g->stride = stride;
  DCNN_CHECK(dcnn__window_extent(g->height, kernel, stride, (int)padding, &g->out_height, &g->pad_top) &&
                 dcnn__window_extent(g->width, kernel, stride, (int)padding, &g->out_width, &g->pad_left),
             DCNN_ERR_SHAPE_MISMATCH, "%s: a %dx%d window with 'valid' padding does not fit input %s", layer,
             (int)kernel, (int)kernel, dcnn_shape_format(in, text, sizeof text));
  return DCNN_OK;
}

static const char *const padding_names[] = {"valid", "same", "same_lower"}; /* indexed by dcnn_padding */
enum { PADDINGS = sizeof padding_names / sizeof padding_names[0] };

int dcnn__padding_known(dcnn_padding padding) { return (int)padding >= 0 && (int)padding < PADDINGS; }

const char *dcnn__padding_name(dcnn_padding padding) {
  return dcnn__padding_known(padding) ? padding_names[padding] : "?";
}

dcnn_status dcnn__kv_padding(dcnn__kv *kv, dcnn_padding *out) {
  int32_t index = 0;
  DCNN_TRY(dcnn__kv_choice(kv, "padding", padding_names, PADDINGS, &index));
  *out = (dcnn_padding)index;
  return DCNN_OK;
}

dcnn_status dcnn__read_pool_config(const char *config, int32_t *pool, int32_t *stride, dcnn_padding *padding) {
  dcnn__kv kv = dcnn__kv_reader(config);
  DCNN_TRY(dcnn__kv_int(&kv, "pool", 1, DCNN__WINDOW_LIMIT, pool));
  DCNN_TRY(dcnn__kv_int(&kv, "stride", 1, DCNN__WINDOW_LIMIT, stride));
  DCNN_TRY(dcnn__kv_padding(&kv, padding));
  return dcnn__kv_finish(&kv);
}
