/* The operators the importer makes layers of (docs/onnx.md has the table):
 * each converter checks the node's attributes, constant inputs and shapes
 * before it creates a layer, and records the weights to copy in once built. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/c_locale.h"
#include "../kernels/kernels.h"
#include "digitcnn/registry.h"
#include "onnx_import.h"

typedef struct op_context {
  dcnn__onnx_importer *im;
  const Onnx__NodeProto *node;
  int32_t n;
} op_context;

/* Attribute `name` of the node, NULL if absent. */
static const Onnx__AttributeProto *attr(const op_context *c, const char *name) {
  for (size_t i = 0; i < c->node->n_attribute; ++i)
    if (c->node->attribute[i]->name && !strcmp(c->node->attribute[i]->name, name)) return c->node->attribute[i];
  return NULL;
}

/* Every attribute is one of `known` (NULL-terminated): an attribute this
 * importer does not read could change the operator's meaning. */
static dcnn_status known_attributes(const op_context *c, const char *const *known) {
  for (size_t i = 0; i < c->node->n_attribute; ++i) {
    const char *name = c->node->attribute[i]->name ? c->node->attribute[i]->name : "";
    int ok = 0;
    for (const char *const *k = known; *k && !ok; ++k) ok = !strcmp(*k, name);
    DCNN_CHECK(ok, DCNN_ERR_UNSUPPORTED, "attribute '%.64s' is not supported", name);
    /* attr() reads the first copy; a runtime keeping the last would compute another model */
    for (size_t j = 0; j < i; ++j)
      DCNN_CHECK(!c->node->attribute[j]->name || strcmp(c->node->attribute[j]->name, name), DCNN_ERR_BAD_FORMAT,
                 "attribute '%.64s' is given twice", name);
  }
  return DCNN_OK;
}

/* Attribute `name` if the node has it although the operator lost it at opset `removed` (it became an input, or
 * went): a file of a later opset that still writes it means something this importer would not read. */
static dcnn_status removed_attribute(const op_context *c, const char *name, int64_t removed) {
  DCNN_CHECK(c->im->opset < removed || !attr(c, name), DCNN_ERR_UNSUPPORTED,
             "attribute '%s' is not part of %.64s at opset %lld (removed at %lld)", name, c->node->op_type,
             (long long)c->im->opset, (long long)removed);
  return DCNN_OK;
}

static dcnn_status attr_int(const op_context *c, const char *name, int64_t fallback, int64_t *out) {
  const Onnx__AttributeProto *a = attr(c, name);
  *out = fallback;
  if (!a) return DCNN_OK;
  DCNN_CHECK(a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT && a->has_i, DCNN_ERR_BAD_FORMAT,
             "attribute '%s' is not an integer", name);
  *out = a->i;
  return DCNN_OK;
}

static dcnn_status attr_float(const op_context *c, const char *name, float fallback, float *out) {
  const Onnx__AttributeProto *a = attr(c, name);
  *out = fallback;
  if (!a) return DCNN_OK;
  DCNN_CHECK(a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT && a->has_f && isfinite(a->f),
             DCNN_ERR_BAD_FORMAT, "attribute '%s' is not a finite number", name);
  *out = a->f;
  return DCNN_OK;
}

/* An INTS attribute of exactly `count` values, or `fallback` (all `fill`) when absent. */
static dcnn_status attr_ints(const op_context *c, const char *name, size_t count, int64_t fill, int64_t *out) {
  const Onnx__AttributeProto *a = attr(c, name);
  for (size_t i = 0; i < count; ++i) out[i] = fill;
  if (!a) return DCNN_OK;
  DCNN_CHECK(a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS, DCNN_ERR_BAD_FORMAT,
             "attribute '%s' is not a list of integers", name);
  DCNN_CHECK(a->n_ints == count, DCNN_ERR_UNSUPPORTED, "attribute '%s' has %zu values, %zu are supported", name,
             a->n_ints, count);
  memcpy(out, a->ints, count * sizeof *out);
  return DCNN_OK;
}

/* The string attribute `name`, or `fallback`. */
static dcnn_status attr_string(const op_context *c, const char *name, const char *fallback, char *out, size_t size) {
  const Onnx__AttributeProto *a = attr(c, name);
  snprintf(out, size, "%s", fallback);
  if (!a) return DCNN_OK;
  DCNN_CHECK(a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING && a->has_s && a->s.len < size &&
                 (a->s.len == 0 || !memchr(a->s.data, '\0', a->s.len)), /* an empty one's data is NULL */
             DCNN_ERR_BAD_FORMAT, "attribute '%s' is not a short string (without NUL bytes)", name);
  if (a->s.len) memcpy(out, a->s.data, a->s.len);
  out[a->s.len] = '\0';
  return DCNN_OK;
}

/* Input `i` as a constant tensor (NULL if omitted and `optional`). */
static dcnn_status constant(const op_context *c, size_t i, int optional, const Onnx__TensorProto **out) {
  *out = NULL;
  if (i >= c->node->n_input || !c->node->input[i][0]) {
    DCNN_CHECK(optional, DCNN_ERR_BAD_FORMAT, "input %zu is missing", i);
    return DCNN_OK;
  }
  const int32_t v = dcnn__onnx_find(c->im, c->node->input[i]);
  DCNN_CHECK(v >= 0 && c->im->values[v].constant, DCNN_ERR_UNSUPPORTED,
             "input %zu ('%.64s') is computed; only an initializer or a Constant is supported there", i,
             c->node->input[i]);
  *out = c->im->values[v].constant;
  return DCNN_OK;
}

static int64_t elements(const Onnx__TensorProto *t) {
  int64_t n = 1;
  for (size_t i = 0; i < t->n_dims; ++i) n *= t->dims[i];
  return n; /* checked at indexing: <= 2^28 */
}

/* A float constant's values: float_data as stored, or little-endian raw_data
 * converted into importer-owned memory once, however many nodes read it. */
static dcnn_status floats(const op_context *c, const Onnx__TensorProto *t, const float **out) {
  DCNN_CHECK(t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, DCNN_ERR_UNSUPPORTED,
             "constant '%.64s' is not float", t->name ? t->name : "");
  const int64_t n = elements(t);
  if (!(t->has_raw_data && t->raw_data.len)) {
    *out = t->float_data;
    return DCNN_OK;
  }
  dcnn__onnx_importer *im = c->im;
  uint32_t slot = dcnn__onnx_pointer_slot(im, t);
  while (im->floats[slot].tensor && im->floats[slot].tensor != t) slot = dcnn__onnx_next_slot(im, slot);
  if (im->floats[slot].tensor) {
    *out = im->floats[slot].values;
    return DCNN_OK;
  }
  float *copy = dcnn__onnx_scratch(im, n);
  DCNN_CHECK(copy != NULL, DCNN_ERR_OUT_OF_MEMORY, "out of memory");
  for (int64_t i = 0; i < n; ++i) { /* little-endian whatever the host */
    const uint8_t *b = t->raw_data.data + 4 * i;
    const uint32_t u = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    memcpy(&copy[i], &u, sizeof u);
  }
  im->floats[slot] = (struct dcnn__onnx_floats){t, copy};
  *out = copy;
  return DCNN_OK;
}

/* Element i of an int64 constant (int64_data, or little-endian raw_data); the count is checked at indexing. */
static int64_t int64_at(const Onnx__TensorProto *t, int64_t i) {
  if (!(t->has_raw_data && t->raw_data.len)) return t->int64_data[i];
  uint64_t u = 0;
  for (int k = 7; k >= 0; --k) u = u << 8 | t->raw_data.data[8 * i + k];
  int64_t v;
  memcpy(&v, &u, sizeof v);
  return v;
}

/* A scalar float constant (one element, any rank). */
static dcnn_status scalar(const op_context *c, const Onnx__TensorProto *t, float *out) {
  DCNN_CHECK(elements(t) == 1, DCNN_ERR_UNSUPPORTED, "constant '%.64s' is not a scalar", t->name ? t->name : "");
  const float *v = NULL;
  DCNN_TRY(floats(c, t, &v));
  *out = v[0];
  return DCNN_OK;
}

/* Input 0 is the chain's value; any other non-empty input is a constant; outputs past the first are unread. */
static dcnn_status data_flow(const op_context *c, int32_t v, size_t max_inputs) {
  DCNN_CHECK(c->node->n_input >= 1 && c->node->n_input <= max_inputs, DCNN_ERR_UNSUPPORTED,
             "%zu inputs (1 to %zu are supported)", c->node->n_input, max_inputs);
  DCNN_CHECK(dcnn__onnx_find(c->im, c->node->input[0]) == v, DCNN_ERR_UNSUPPORTED,
             "the computed value '%.64s' must be input 0", c->im->values[v].name);
  for (size_t i = 1; i < c->node->n_input; ++i) {
    const Onnx__TensorProto *t = NULL;
    DCNN_TRY(constant(c, i, 1, &t));
  }
  for (size_t i = 1; i < c->node->n_output; ++i) {
    const int32_t o = c->node->output[i][0] ? dcnn__onnx_find(c->im, c->node->output[i]) : -1;
    DCNN_CHECK(o < 0 || c->im->values[o].consumer_count == 0, DCNN_ERR_UNSUPPORTED,
               "output %zu ('%.64s') is read: only the first output is supported", i, c->node->output[i]);
  }
  return DCNN_OK;
}

static int32_t output_of(const op_context *c) { return dcnn__onnx_find(c->im, c->node->output[0]); }

/* GlobalAveragePool's output is (N, C, 1, 1) in ONNX but (N, C) here (the layer
 * drops the two 1s). The chain's shape stays (N, C), marked by 1s in its unused
 * dims[2] and dims[3] (dcnn_shape_make leaves them 0, so any operator that makes
 * a new shape clears the mark), so that Flatten and Softmax, whose axis means
 * something else on the 4-D tensor, are read as ONNX defines them. */
int dcnn__onnx_pooled_4d(const dcnn_shape *s) { return s->ndim == 2 && s->dims[2] == 1 && s->dims[3] == 1; }

/* The node that alone reads the node's first output, if it has operator `op` and is not yet taken; else -1. */
static int32_t sole_reader(const op_context *c, const char *op) {
  const dcnn__onnx_value *v = &c->im->values[output_of(c)];
  if (v->consumer_count != 1 || c->im->visited[v->consumers[0]]) return -1;
  const Onnx__NodeProto *r = c->im->graph->node[v->consumers[0]];
  /* Only the plain form is folded: a Relu of this value alone, an Add of it and one other input. */
  const size_t inputs = strcmp(op, "Add") ? 1 : 2;
  if (strcmp(r->op_type, op) || r->n_input != inputs || r->n_output != 1 || r->n_attribute) return -1;
  return v->consumers[0];
}

/* `layer` by address: C leaves the order of argument evaluation open, so the
 * layer is read only after `created` (the call that made it) has run. */
static dcnn_status push(op_context *c, dcnn__onnx_seq *seq, dcnn_status created, dcnn_layer **layer) {
  DCNN_TRY(created);
  return dcnn__onnx_seq_push(c->im, seq, *layer);
}

/* Window geometry of Conv / MaxPool / AveragePool: square kernel, equal strides,
 * pads that are this library's 'valid', 'same' or 'same_lower' for the input size. */
typedef struct window {
  int32_t kernel, stride;
  dcnn_padding padding;
  int any_pad;
  int32_t out_h, out_w;
} window;

/* Conv and pooling take (N, C, H, W). GlobalAveragePool's (N, C, 1, 1) is one in ONNX, but its layer makes (N, C)
 * (the chain's shape says so): a window there would need that layer to keep the 1 x 1 (a 1 x 1 Conv head). */
static dcnn_status spatial_input(const dcnn_shape *in) {
  DCNN_CHECK(!dcnn__onnx_pooled_4d(in), DCNN_ERR_UNSUPPORTED,
             "reads GlobalAveragePool's (N, C, 1, 1) output, which imports as (N, C) (the global_avgpool layer drops "
             "the 1 x 1): no Conv or pooling may follow it (write a 1 x 1 Conv head as Flatten and Gemm)");
  DCNN_CHECK(in->ndim == 4, DCNN_ERR_UNSUPPORTED, "needs an (N, C, H, W) input");
  return DCNN_OK;
}

static dcnn_status read_window(const op_context *c, const dcnn_shape *in, int64_t kh, int64_t kw, window *w) {
  DCNN_TRY(spatial_input(in));
  int64_t kernel[2], strides[2], dilations[2], pads[4];
  DCNN_TRY(attr_ints(c, "kernel_shape", 2, -1, kernel));
  /* absent, it is the weights'; given, it must be a size (a -1 there is not "absent") */
  DCNN_CHECK(!attr(c, "kernel_shape") || (kernel[0] >= 1 && kernel[1] >= 1), DCNN_ERR_BAD_FORMAT,
             "kernel_shape %lld,%lld: sizes must be positive", (long long)kernel[0], (long long)kernel[1]);
  if (kernel[0] < 0) kernel[0] = kh, kernel[1] = kw;
  DCNN_CHECK(kh < 0 || (kernel[0] == kh && kernel[1] == kw), DCNN_ERR_BAD_FORMAT,
             "kernel_shape %lldx%lld differs from the weights' %lldx%lld", (long long)kernel[0], (long long)kernel[1],
             (long long)kh, (long long)kw);
  DCNN_CHECK(kernel[0] >= 1 && kernel[0] == kernel[1] && kernel[0] <= 1024, DCNN_ERR_UNSUPPORTED,
             "kernel %lldx%lld: square kernels of 1 to 1024 are supported", (long long)kernel[0], (long long)kernel[1]);
  DCNN_TRY(attr_ints(c, "strides", 2, 1, strides));
  DCNN_TRY(attr_ints(c, "dilations", 2, 1, dilations));
  DCNN_TRY(attr_ints(c, "pads", 4, 0, pads));
  for (int i = 0; i < 4; ++i) /* before any sum of them (no overflow), and no cropping */
    DCNN_CHECK(pads[i] >= 0 && pads[i] <= 2 * DCNN__WINDOW_LIMIT, DCNN_ERR_UNSUPPORTED,
               "pads %lld,%lld,%lld,%lld: pads of 0 to %d are supported", (long long)pads[0], (long long)pads[1],
               (long long)pads[2], (long long)pads[3], 2 * DCNN__WINDOW_LIMIT);
  DCNN_CHECK(strides[0] == strides[1] && strides[0] >= 1 && strides[0] <= 1024, DCNN_ERR_UNSUPPORTED,
             "strides %lld,%lld: equal strides of 1 to 1024 are supported", (long long)strides[0], (long long)strides[1]);
  DCNN_CHECK(dilations[0] == 1 && dilations[1] == 1, DCNN_ERR_UNSUPPORTED, "dilations other than 1 are not supported");
  char auto_pad[32];
  DCNN_TRY(attr_string(c, "auto_pad", "NOTSET", auto_pad, sizeof auto_pad));
  w->kernel = (int32_t)kernel[0];
  w->stride = (int32_t)strides[0];
  /* pads (top, left, bottom, right) of "same" with an odd total's extra at the end [0] or the start [1] */
  int32_t same_pads[2][4], out_same[2], out_valid[2], before = 0;
  int valid_ok = 1;
  for (int d = 0; d < 2; ++d) {
    const int32_t size = in->dims[2 + d];
    for (int lower = 0; lower < 2; ++lower)
      dcnn__window_pads(size, w->kernel, w->stride, lower ? DCNN_PADDING_SAME_LOWER : DCNN_PADDING_SAME,
                        &out_same[d], &same_pads[lower][d], &same_pads[lower][2 + d]);
    valid_ok = valid_ok && dcnn__window_extent(size, w->kernel, w->stride, 0, &out_valid[d], &before);
  }
  dcnn_padding padding = DCNN_PADDING_VALID;
  if (!strcmp(auto_pad, "SAME_UPPER")) {
    padding = DCNN_PADDING_SAME;
  } else if (!strcmp(auto_pad, "SAME_LOWER")) {
    padding = DCNN_PADDING_SAME_LOWER;
  } else if (!strcmp(auto_pad, "VALID")) {
    padding = DCNN_PADDING_VALID;
  } else {
    DCNN_CHECK(!strcmp(auto_pad, "NOTSET"), DCNN_ERR_BAD_FORMAT, "auto_pad '%.16s' is not an ONNX value", auto_pad);
    const int zero = !pads[0] && !pads[1] && !pads[2] && !pads[3];
    /* 'same' or 'same_lower' when the pads before are theirs and the output as long: rows padded after the
     * input that no window reaches change nothing (PyTorch's padding=1 for a 3x3 of stride 2 on an even size) */
    int match[2] = {1, 1};
    for (int lower = 0; lower < 2; ++lower)
      for (int d = 0; d < 2; ++d) {
        if (pads[d] != same_pads[lower][d]) {
          match[lower] = 0;
          continue;
        }
        const int64_t reach = in->dims[2 + d] + pads[d] + pads[2 + d] - w->kernel;
        match[lower] = match[lower] && reach >= 0 && reach / w->stride + 1 == out_same[d];
      }
    DCNN_CHECK(zero || match[0] || match[1], DCNN_ERR_UNSUPPORTED,
               "pads %lld,%lld,%lld,%lld are neither 0 nor 'same' (%d,%d,%d,%d, or %d,%d,%d,%d with the odd one "
               "before; more after where no window reaches) for a %dx%d input", (long long)pads[0],
               (long long)pads[1], (long long)pads[2], (long long)pads[3], (int)same_pads[0][0], (int)same_pads[0][1], (int)same_pads[0][2],
               (int)same_pads[0][3], (int)same_pads[1][0], (int)same_pads[1][1], (int)same_pads[1][2],
               (int)same_pads[1][3], (int)in->dims[2], (int)in->dims[3]);
    padding = zero ? DCNN_PADDING_VALID : match[0] ? DCNN_PADDING_SAME : DCNN_PADDING_SAME_LOWER;
  }
  const int same = padding != DCNN_PADDING_VALID;
  DCNN_CHECK(same || valid_ok, DCNN_ERR_SHAPE_MISMATCH, "a %dx%d window does not fit a %dx%d input", (int)w->kernel,
             (int)w->kernel, (int)in->dims[2], (int)in->dims[3]);
  const int32_t *used = same_pads[padding == DCNN_PADDING_SAME_LOWER];
  /* padding that falls both ways alike is "same" (as it was read before same_lower): the two compute alike */
  const int alike = used[0] == same_pads[0][0] && used[1] == same_pads[0][1];
  w->padding = padding == DCNN_PADDING_SAME_LOWER && alike ? DCNN_PADDING_SAME : padding;
  w->any_pad = same && (used[0] || used[1] || used[2] || used[3]);
  w->out_h = same ? out_same[0] : out_valid[0];
  w->out_w = same ? out_same[1] : out_valid[1];
  return DCNN_OK;
}

static dcnn_status conv(op_context *c, int32_t v, dcnn_shape *shape, dcnn__onnx_seq *seq) {
  static const char *const known[] = {"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides", NULL};
  DCNN_TRY(known_attributes(c, known));
  DCNN_TRY(data_flow(c, v, 3));
  const Onnx__TensorProto *w = NULL, *b = NULL;
  DCNN_TRY(constant(c, 1, 0, &w));
  DCNN_TRY(constant(c, 2, 1, &b));
  DCNN_TRY(spatial_input(shape));
  DCNN_CHECK(w->n_dims == 4, DCNN_ERR_UNSUPPORTED, "only 2-D convolutions are supported (weights of %zu "
             "dimensions)", w->n_dims);
  int64_t group = 1;
  DCNN_TRY(attr_int(c, "group", 1, &group));
  const int32_t channels = shape->dims[1];
  const int64_t filters = w->dims[0];
  const int depthwise = group != 1;
  DCNN_CHECK(group == 1 || (group == channels && w->dims[1] == 1 && filters == channels), DCNN_ERR_UNSUPPORTED,
             "group %lld: plain (1) and depthwise (one filter per channel) convolutions are supported", (long long)group);
  DCNN_CHECK(depthwise || w->dims[1] == channels, DCNN_ERR_SHAPE_MISMATCH,
             "weights for %lld input channels, the input has %d", (long long)w->dims[1], (int)channels);
  DCNN_CHECK(filters >= 1 && filters <= DCNN__CONFIG_SIZE_LIMIT, DCNN_ERR_UNSUPPORTED, "%lld filters", (long long)filters);
  /* ONNX's B is 1-D, M values (so ONNX Runtime): a (1, M) tensor has as many values but is refused there */
  DCNN_CHECK(!b || b->n_dims == 1, DCNN_ERR_SHAPE_MISMATCH, "a %zu-D bias (ONNX's Conv takes a 1-D one)",
             b ? b->n_dims : 0);
  DCNN_CHECK(!b || elements(b) == filters, DCNN_ERR_SHAPE_MISMATCH, "a bias of %lld values for %lld filters",
             (long long)(b ? elements(b) : 0), (long long)filters);
  window win;
  DCNN_TRY(read_window(c, shape, w->dims[2], w->dims[3], &win));
  const dcnn_bias_mode bias = b ? DCNN_WITH_BIAS : DCNN_NO_BIAS;
  dcnn_layer *l = NULL;
  DCNN_TRY(push(c, seq,
                depthwise ? dcnn_depthwise_conv2d_create(win.kernel, win.stride, win.padding, bias, &l)
                          : dcnn_conv2d_create((int32_t)filters, win.kernel, win.stride, win.padding, bias, &l),
                &l));
  const float *values = NULL;
  DCNN_TRY(floats(c, w, &values));
  DCNN_TRY(dcnn__onnx_pend(c->im, l, 0, values, elements(w)));
  if (b) {
    DCNN_TRY(floats(c, b, &values));
    DCNN_TRY(dcnn__onnx_pend(c->im, l, 1, values, elements(b)));
  }
  *shape = dcnn_shape_make(4, 1, (int32_t)filters, win.out_h, win.out_w);
  return DCNN_OK;
}

static dcnn_status pool(op_context *c, int32_t v, dcnn_shape *shape, dcnn__onnx_seq *seq, int avg) {
  static const char *const max_known[] = {"auto_pad", "ceil_mode",     "dilations", "kernel_shape",
                                          "pads",     "storage_order", "strides",   NULL};
  static const char *const avg_known[] = {"auto_pad", "ceil_mode", "count_include_pad", "kernel_shape", "pads",
                                          "strides", NULL};
  DCNN_TRY(known_attributes(c, avg ? avg_known : max_known));
  DCNN_TRY(data_flow(c, v, 1));
  int64_t ceil_mode = 0, storage = 0, include_pad = 0;
  DCNN_TRY(attr_int(c, "ceil_mode", 0, &ceil_mode));
  DCNN_TRY(attr_int(c, "storage_order", 0, &storage)); /* MaxPool's only: known_attributes refused it for the other */
  DCNN_TRY(attr_int(c, "count_include_pad", 0, &include_pad));
  DCNN_CHECK(ceil_mode == 0, DCNN_ERR_UNSUPPORTED, "ceil_mode %lld: only 0 (windows that fit) is supported",
             (long long)ceil_mode);
  DCNN_CHECK(storage == 0, DCNN_ERR_UNSUPPORTED, "storage_order %lld: only 0 is supported", (long long)storage);
  DCNN_CHECK(attr(c, "kernel_shape") != NULL, DCNN_ERR_BAD_FORMAT, "kernel_shape is missing");
  window win;
  DCNN_TRY(read_window(c, shape, -1, -1, &win));
  DCNN_CHECK(!(avg && include_pad && win.any_pad), DCNN_ERR_UNSUPPORTED,
             "count_include_pad=1 with padding is not supported (padding is not counted here)");
  dcnn_layer *l = NULL;
  DCNN_TRY(push(c, seq,
                avg ? dcnn_avgpool2d_create(win.kernel, win.stride, win.padding, &l)
                    : dcnn_maxpool2d_create(win.kernel, win.stride, win.padding, &l),
                &l));
  *shape = dcnn_shape_make(4, 1, shape->dims[1], win.out_h, win.out_w);
  return DCNN_OK;
}

/* BatchNormalization in inference form; a Relu that alone reads it joins it (batchnorm_relu). */
static dcnn_status batchnorm(op_context *c, int32_t v, dcnn_shape *shape, dcnn__onnx_seq *seq, int32_t *next) {
  static const char *const known[] = {"epsilon", "momentum", "spatial", "training_mode", NULL};
  DCNN_TRY(known_attributes(c, known));
  DCNN_TRY(data_flow(c, v, 5));
  DCNN_TRY(removed_attribute(c, "spatial", 9));
  int64_t training = 0, spatial = 1;
  DCNN_TRY(attr_int(c, "training_mode", 0, &training));
  DCNN_TRY(attr_int(c, "spatial", 1, &spatial));
  DCNN_CHECK(training == 0 && spatial == 1, DCNN_ERR_UNSUPPORTED, "training_mode and spatial must be 0 and 1");
  float epsilon = 1e-5f, momentum = 0.9f;
  DCNN_TRY(attr_float(c, "epsilon", 1e-5f, &epsilon));
  /* momentum acts in training only: any float, NaN too, is read; one outside [0, 1) becomes ONNX's default */
  const Onnx__AttributeProto *m = attr(c, "momentum");
  DCNN_CHECK(!m || (m->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT && m->has_f), DCNN_ERR_BAD_FORMAT,
             "attribute 'momentum' is not a FLOAT attribute");
  if (m) momentum = m->f;
  DCNN_CHECK(epsilon > 0.0f, DCNN_ERR_UNSUPPORTED, "epsilon %g is not positive", (double)epsilon);
  if (!(momentum >= 0.0f && momentum < 1.0f)) momentum = 0.9f;
  DCNN_CHECK(shape->ndim == 2 || shape->ndim == 4, DCNN_ERR_UNSUPPORTED, "needs (N, C) or (N, C, H, W) input");
  const Onnx__TensorProto *t[4];
  const float *values[4];
  for (int i = 0; i < 4; ++i) {
    DCNN_TRY(constant(c, (size_t)i + 1, 0, &t[i]));
    DCNN_CHECK(t[i]->n_dims == 1, DCNN_ERR_SHAPE_MISMATCH, "input %d is %zu-D (ONNX's BatchNormalization takes 1-D ones)",
               i + 1, t[i]->n_dims);
    DCNN_CHECK(elements(t[i]) == shape->dims[1], DCNN_ERR_SHAPE_MISMATCH, "input %d holds %lld values for %d channels",
               i + 1, (long long)elements(t[i]), (int)shape->dims[1]);
    DCNN_TRY(floats(c, t[i], &values[i]));
  }
  for (int64_t k = 0; k < shape->dims[1]; ++k) /* sqrt(var + epsilon) of a negative variance is NaN */
    DCNN_CHECK(values[3][k] >= 0.0f, DCNN_ERR_BAD_FORMAT, "the variance of channel %lld is negative (%g)",
               (long long)k, (double)values[3][k]);
  const int32_t relu = sole_reader(c, "Relu");
  dcnn_layer *l = NULL;
  DCNN_TRY(push(c, seq,
                relu >= 0 ? dcnn_batchnorm_relu_create(momentum, epsilon, &l)
                          : dcnn_batchnorm_create(momentum, epsilon, &l),
                &l));
  for (int i = 0; i < 4; ++i) DCNN_TRY(dcnn__onnx_pend(c->im, l, i, values[i], shape->dims[1]));
  *next = output_of(c);
  if (relu >= 0) {
    c->im->visited[relu] = 1;
    *next = dcnn__onnx_find(c->im, c->im->graph->node[relu]->output[0]);
  }
  return DCNN_OK;
}

/* `s` after `word` and one or more digits, or NULL when it does not start so. */
static const char *after_numbered(const char *s, const char *word) {
  const size_t n = strlen(word);
  if (strncmp(s, word, n) != 0 || s[n] < '0' || s[n] > '9') return NULL;
  for (s += n; *s >= '0' && *s <= '9';) ++s;
  return s;
}

/* Whether bias `b` is the zeros this library's export gives a dense layer without bias at opset 10 (Gemm's C is
 * optional from opset 11 only): all zero, in a file of opset 10 or older, and named exactly as the export names
 * it, "l<k>[.body<k>|.shortcut<k>]....zero_bias_<k>" (a layer nested in residual blocks included). Such a layer
 * comes back without a bias, as exported (with one, fine-tuning the import trained a bias the model never
 * had); the outputs are the same either way. */
static dcnn_status exported_zero_bias(const op_context *c, const Onnx__TensorProto *b, int *zero) {
  *zero = 0;
  if (c->im->opset >= 11) return DCNN_OK;
  const char *name = after_numbered(b->name ? b->name : "", "l");
  for (const char *nested = name; nested;) {
    nested = after_numbered(name, ".body");
    if (!nested) nested = after_numbered(name, ".shortcut");
    if (nested) name = nested;
  }
  name = name ? after_numbered(name, ".zero_bias_") : NULL;
  if (!name || *name) return DCNN_OK;
  const float *values = NULL;
  DCNN_TRY(floats(c, b, &values));
  const int64_t n = elements(b);
  int64_t i = 0;
  while (i < n && values[i] == 0.0f) ++i;
  *zero = i == n;
  return DCNN_OK;
}

/* Dense from a (in, units) or, transposed, (units, in) matrix and an optional bias. */
static dcnn_status dense(op_context *c, dcnn_shape *shape, dcnn__onnx_seq *seq, const Onnx__TensorProto *w,
                         int transposed, const Onnx__TensorProto *b) {
  const int pooled = dcnn__onnx_pooled_4d(shape);
  DCNN_CHECK(shape->ndim == 2 && !pooled, DCNN_ERR_UNSUPPORTED, "needs an (N, F) input%s (flatten before it)",
             pooled ? ": GlobalAveragePool's output is (N, C, 1, 1)" : "");
  DCNN_CHECK(w->n_dims == 2 && w->dims[transposed ? 1 : 0] == shape->dims[1], DCNN_ERR_SHAPE_MISMATCH,
             "weights do not fit %d input features", (int)shape->dims[1]);
  const int64_t in = shape->dims[1], units = w->dims[transposed ? 0 : 1];
  DCNN_CHECK(units >= 1 && units <= DCNN__CONFIG_SIZE_LIMIT, DCNN_ERR_UNSUPPORTED, "%lld units", (long long)units);
  DCNN_CHECK(!b || elements(b) == units || elements(b) == 1, DCNN_ERR_SHAPE_MISMATCH, "a bias of %lld values for %lld units",
             (long long)(b ? elements(b) : 0), (long long)units);
  /* The bias must broadcast to (N, units) as one row: (units), (1, units) or a scalar. A (1, 1, units)
   * bias makes ONNX's output 3-D, a (units, 1) one a (units, units) matrix or a per-sample bias. */
  for (size_t d = 0; b && d + 1 < b->n_dims; ++d)
    DCNN_CHECK(b->n_dims <= 2 && b->dims[d] == 1, DCNN_ERR_UNSUPPORTED,
               "a bias of %zu dimensions, dimension %zu of %lld, does not broadcast as one row of %lld units",
               b->n_dims, d, (long long)b->dims[d], (long long)units);
  int zero = 0;
  if (b) DCNN_TRY(exported_zero_bias(c, b, &zero));
  if (zero) b = NULL;
  dcnn_layer *l = NULL;
  DCNN_TRY(push(c, seq, dcnn_dense_create((int32_t)units, b ? DCNN_WITH_BIAS : DCNN_NO_BIAS, &l), &l));
  const float *values = NULL;
  DCNN_TRY(floats(c, w, &values));
  if (transposed) { /* (units, in) -> (in, units) */
    DCNN_TRY(dcnn__onnx_budget(c->im, in * units)); /* before the copy: pend would refuse it after */
    float *t = dcnn__onnx_scratch(c->im, in * units);
    DCNN_CHECK(t != NULL, DCNN_ERR_OUT_OF_MEMORY, "out of memory");
    for (int64_t i = 0; i < in; ++i)
      for (int64_t u = 0; u < units; ++u) t[i * units + u] = values[u * in + i];
    values = t;
  }
  DCNN_TRY(dcnn__onnx_pend(c->im, l, 0, values, in * units));
  if (b) {
    DCNN_TRY(floats(c, b, &values));
    if (elements(b) == 1 && units > 1) { /* a broadcast scalar */
      DCNN_TRY(dcnn__onnx_budget(c->im, units));
      float *t = dcnn__onnx_scratch(c->im, units);
      DCNN_CHECK(t != NULL, DCNN_ERR_OUT_OF_MEMORY, "out of memory");
      for (int64_t u = 0; u < units; ++u) t[u] = values[0];
      values = t;
    }
    DCNN_TRY(dcnn__onnx_pend(c->im, l, 1, values, units));
  }
  *shape = dcnn_shape_make(2, 1, (int32_t)units, 0, 0);
  return DCNN_OK;
}

static dcnn_status gemm(op_context *c, int32_t v, dcnn_shape *shape, dcnn__onnx_seq *seq) {
  static const char *const known[] = {"alpha", "beta", "transA", "transB", NULL};
  DCNN_TRY(known_attributes(c, known));
  DCNN_TRY(data_flow(c, v, 3));
  float alpha = 1.0f, beta = 1.0f;
  int64_t trans_a = 0, trans_b = 0;
  DCNN_TRY(attr_float(c, "alpha", 1.0f, &alpha));
  DCNN_TRY(attr_float(c, "beta", 1.0f, &beta));
  DCNN_TRY(attr_int(c, "transA", 0, &trans_a));
  DCNN_TRY(attr_int(c, "transB", 0, &trans_b));
  DCNN_CHECK(alpha == 1.0f && beta == 1.0f && trans_a == 0 && (trans_b == 0 || trans_b == 1), DCNN_ERR_UNSUPPORTED,
             "alpha and beta must be 1, transA 0, transB 0 or 1");
  const Onnx__TensorProto *w = NULL, *b = NULL;
  DCNN_TRY(constant(c, 1, 0, &w));
  DCNN_TRY(constant(c, 2, 1, &b));
  return dense(c, shape, seq, w, (int)trans_b, b);
}

/* MatMul by a constant, and the Add of a constant bias that alone reads it. */
static dcnn_status matmul(op_context *c, int32_t v, dcnn_shape *shape, dcnn__onnx_seq *seq, int32_t *next) {
  static const char *const known[] = {NULL};
  DCNN_TRY(known_attributes(c, known));
  DCNN_TRY(data_flow(c, v, 2));
  const Onnx__TensorProto *w = NULL, *b = NULL;
  DCNN_TRY(constant(c, 1, 0, &w));
  *next = output_of(c);
  const int32_t add = sole_reader(c, "Add");
  if (add >= 0) {
    const Onnx__NodeProto *node = c->im->graph->node[add];
    for (size_t i = 0; i < node->n_input && node->n_input == 2; ++i) {
      const int32_t k = dcnn__onnx_find(c->im, node->input[i]);
      if (k >= 0 && c->im->values[k].constant) b = c->im->values[k].constant;
    }
    if (b && b->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT) {
      c->im->visited[add] = 1;
      *next = dcnn__onnx_find(c->im, node->output[0]);
    } else {
      b = NULL;
    }
  }
  return dense(c, shape, seq, w, 0, b);
}

/* Clip(0, 6) is relu6 and Clip(0, +inf) relu; other bounds are not supported. */
static dcnn_status clip(op_context *c, int32_t v, dcnn_shape *shape, dcnn__onnx_seq *seq) {
  (void)shape;
  static const char *const known[] = {"min", "max", NULL};
  DCNN_TRY(known_attributes(c, known));
  DCNN_TRY(data_flow(c, v, 3));
  DCNN_TRY(removed_attribute(c, "min", 11));
  DCNN_TRY(removed_attribute(c, "max", 11));
  float lo = -INFINITY, hi = INFINITY;
  if (c->im->opset < 11) {
    /* Typed: an INT max (6) is not a FLOAT one, and was read as no bound at all (ReLU). An infinite bound is
     * no bound, as ONNX's defaults (the float limits) are not, so attr_float's finite check does not apply. */
    const char *names[2] = {"min", "max"};
    float *bounds[2] = {&lo, &hi};
    for (int k = 0; k < 2; ++k) {
      const Onnx__AttributeProto *a = attr(c, names[k]);
      if (!a) continue;
      DCNN_CHECK(a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT && a->has_f && !isnan(a->f),
                 DCNN_ERR_BAD_FORMAT, "attribute '%s' is not a number (a FLOAT attribute)", names[k]);
      *bounds[k] = a->f;
    }
  } else {
    const Onnx__TensorProto *t = NULL;
    DCNN_TRY(constant(c, 1, 1, &t));
    if (t) DCNN_TRY(scalar(c, t, &lo));
    DCNN_TRY(constant(c, 2, 1, &t));
    if (t) DCNN_TRY(scalar(c, t, &hi));
  }
  dcnn_layer *l = NULL;
  if (lo == 0.0f && hi == 6.0f) return push(c, seq, dcnn_relu6_create(&l), &l);
  if (lo == 0.0f && hi == INFINITY) return push(c, seq, dcnn_relu_create(&l), &l);
  return dcnn__fail(DCNN_ERR_UNSUPPORTED, "bounds %g, %g: only Clip(0, 6) (ReLU6) and Clip(0) (ReLU) are supported",
                    (double)lo, (double)hi);
}

static dcnn_status dropout(op_context *c, int32_t v, dcnn__onnx_seq *seq) {
  static const char *const known[] = {"ratio", "seed", NULL};
  DCNN_TRY(known_attributes(c, known));
  DCNN_TRY(data_flow(c, v, 3));
  DCNN_TRY(removed_attribute(c, "ratio", 12));
  float rate = 0.5f;
  if (c->im->opset < 12) {
    DCNN_TRY(attr_float(c, "ratio", 0.5f, &rate));
  } else {
    const Onnx__TensorProto *t = NULL;
    DCNN_TRY(constant(c, 1, 1, &t));
    if (t) DCNN_TRY(scalar(c, t, &rate));
    DCNN_TRY(constant(c, 2, 1, &t));
    if (t) { /* a bool scalar (tf2onnx writes one); its data was checked at indexing */
      DCNN_CHECK(t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__BOOL && elements(t) == 1, DCNN_ERR_UNSUPPORTED,
                 "training_mode is not a bool scalar");
      const int training = t->has_raw_data && t->raw_data.len ? t->raw_data.data[0] != 0 : t->int32_data[0] != 0;
      DCNN_CHECK(!training, DCNN_ERR_UNSUPPORTED, "training_mode is true (export the model in inference mode)");
    }
  }
  DCNN_CHECK(rate >= 0.0f && rate < 1.0f, DCNN_ERR_UNSUPPORTED, "ratio %g is outside [0, 1)", (double)rate);
  /* A ratio of 0 too, though it is the identity: it is how a dropout layer of rate 0 exports, and a residual
   * block or a model holding nothing else would otherwise come back without a layer (and fail). */
  dcnn_layer *l = NULL;
  return push(c, seq, dcnn_dropout_create(rate, &l), &l);
}

/* Reshape to (N, features): a flatten, given as a constant target (0 or -1, F or -1). */
static dcnn_status reshape(op_context *c, int32_t v, dcnn_shape *shape, dcnn__onnx_seq *seq) {
  static const char *const known[] = {"allowzero", NULL};
  DCNN_TRY(known_attributes(c, known));
  DCNN_TRY(data_flow(c, v, 2));
  int64_t allow_zero = 0;
  DCNN_TRY(attr_int(c, "allowzero", 0, &allow_zero));
  const Onnx__TensorProto *t = NULL;
  DCNN_TRY(constant(c, 1, 0, &t));
  DCNN_CHECK(t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__INT64 && elements(t) == 2, DCNN_ERR_UNSUPPORTED,
             "only a reshape to (N, features) (a constant int64 shape of 2 values) is supported");
  const int64_t target[2] = {int64_at(t, 0), int64_at(t, 1)};
  const int64_t features = dcnn_shape_count(shape);
  /* allowzero only changes what a 0 in the target means: a size of 0 rather than the input's size there. */
  DCNN_CHECK(!allow_zero || (target[0] != 0 && target[1] != 0), DCNN_ERR_UNSUPPORTED,
             "target (%lld, %lld) with allowzero=1: a 0 is then a size of 0, not the batch (use -1 or allowzero=0)",
             (long long)target[0], (long long)target[1]);
  DCNN_CHECK((target[0] == 0 || target[0] == -1) && (target[1] == -1 || target[1] == features) &&
                 !(target[0] == -1 && target[1] == -1),
             DCNN_ERR_UNSUPPORTED, "target (%lld, %lld): only (N, %lld) is supported", (long long)target[0],
             (long long)target[1], (long long)features);
  const int flat = shape->ndim == 2;
  *shape = dcnn_shape_make(2, 1, (int32_t)features, 0, 0); /* (N, C, 1, 1) after GlobalAveragePool: now (N, C) */
  if (flat) return DCNN_OK;
  dcnn_layer *l = NULL;
  return push(c, seq, dcnn_flatten_create(&l), &l);
}

/* Flatten to (N, features): axis 1, or the negative axis that is 1 at the input's rank (counted from the end). */
static dcnn_status flatten(op_context *c, int32_t v, dcnn_shape *shape, dcnn__onnx_seq *seq) {
  static const char *const known[] = {"axis", NULL};
  DCNN_TRY(known_attributes(c, known));
  DCNN_TRY(data_flow(c, v, 1));
  int64_t axis = 1;
  DCNN_TRY(attr_int(c, "axis", 1, &axis));
  const int pooled = dcnn__onnx_pooled_4d(shape);
  const int64_t rank = pooled ? 4 : shape->ndim; /* ONNX's: GlobalAveragePool's output is (N, C, 1, 1) */
  if (pooled) { /* axis 2, 3 or -1 would make (N * C, 1) */
    DCNN_CHECK(axis == 1 || axis == 1 - rank, DCNN_ERR_UNSUPPORTED,
               "axis %lld after GlobalAveragePool, whose output is (N, C, 1, 1): only axis 1 or -3 (to (N, C)) is "
               "supported", (long long)axis);
    *shape = dcnn_shape_make(2, 1, shape->dims[1], 0, 0); /* the layer's output already is (N, C) */
    return DCNN_OK;
  }
  DCNN_CHECK(axis == 1 || axis == 1 - rank, DCNN_ERR_UNSUPPORTED, "axis %lld of a %lld-D input: only axis 1 (or %lld, "
             "the same counted from the end) is supported", (long long)axis, (long long)rank, (long long)(1 - rank));
  /* Of an (N, F) input too, though it is the identity there: it is how a flatten layer of (F) samples exports, and
   * a residual block or a model holding nothing else would otherwise come back without a layer (and fail). */
  dcnn_layer *l = NULL;
  DCNN_TRY(push(c, seq, dcnn_flatten_create(&l), &l));
  *shape = dcnn_shape_make(2, 1, (int32_t)dcnn_shape_count(shape), 0, 0);
  return DCNN_OK;
}

/* Pad by nothing (torch.onnx.export writes one before an AveragePool): the identity; real padding is not supported. */
static dcnn_status pad(op_context *c, int32_t v) {
  static const char *const known[] = {"mode", "pads", "value", NULL};
  DCNN_TRY(known_attributes(c, known));
  DCNN_TRY(data_flow(c, v, 4));
  DCNN_TRY(removed_attribute(c, "pads", 11));
  DCNN_TRY(removed_attribute(c, "value", 11));
  char mode[16];
  DCNN_TRY(attr_string(c, "mode", "constant", mode, sizeof mode));
  DCNN_CHECK(!strcmp(mode, "constant"), DCNN_ERR_UNSUPPORTED, "mode '%s' (constant is supported)", mode);
  int nonzero = 0;
  if (c->im->opset < 11) {
    const Onnx__AttributeProto *a = attr(c, "pads");
    DCNN_CHECK(a && a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS, DCNN_ERR_BAD_FORMAT, "pads are missing");
    for (size_t i = 0; i < a->n_ints; ++i) nonzero |= a->ints[i] != 0;
  } else {
    const Onnx__TensorProto *t = NULL;
    DCNN_TRY(constant(c, 1, 0, &t));
    DCNN_CHECK(t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__INT64, DCNN_ERR_UNSUPPORTED, "pads must be int64");
    for (int64_t i = 0; i < elements(t); ++i) nonzero |= int64_at(t, i) != 0;
  }
  DCNN_CHECK(!nonzero, DCNN_ERR_UNSUPPORTED, "only a Pad by nothing is supported (pad inside Conv or pooling)");
  return DCNN_OK;
}

dcnn_status dcnn__onnx_convert(dcnn__onnx_importer *im, int32_t n, int32_t v, dcnn_shape *shape,
                               dcnn__onnx_seq *seq, int32_t *next) {
  op_context ctx = {im, im->graph->node[n], n};
  op_context *c = &ctx;
  const char *op = c->node->op_type;
  static const char *const none[] = {NULL};
  static const char *const axis_only[] = {"axis", NULL};
  *next = output_of(c);
  dcnn_layer *l = NULL;
  if (!strcmp(op, "Conv")) return conv(c, v, shape, seq);
  if (!strcmp(op, "MaxPool")) return pool(c, v, shape, seq, 0);
  if (!strcmp(op, "AveragePool")) return pool(c, v, shape, seq, 1);
  if (!strcmp(op, "BatchNormalization")) return batchnorm(c, v, shape, seq, next);
  if (!strcmp(op, "Gemm")) return gemm(c, v, shape, seq);
  if (!strcmp(op, "MatMul")) return matmul(c, v, shape, seq, next);
  if (!strcmp(op, "Clip")) return clip(c, v, shape, seq);
  if (!strcmp(op, "Dropout")) return dropout(c, v, seq);
  if (!strcmp(op, "Reshape")) return reshape(c, v, shape, seq);
  if (!strcmp(op, "Pad")) return pad(c, v);
  if (!strcmp(op, "Relu") || !strcmp(op, "Tanh") || !strcmp(op, "Sigmoid") || !strcmp(op, "Identity")) {
    DCNN_TRY(known_attributes(c, none));
    DCNN_TRY(data_flow(c, v, 1));
    if (op[0] == 'I') return DCNN_OK;
    return push(c, seq, op[0] == 'R' ? dcnn_relu_create(&l) : op[0] == 'T' ? dcnn_tanh_create(&l)
                                                                            : dcnn_sigmoid_create(&l), &l);
  }
  if (!strcmp(op, "LeakyRelu")) {
    static const char *const known[] = {"alpha", NULL};
    DCNN_TRY(known_attributes(c, known));
    DCNN_TRY(data_flow(c, v, 1));
    float alpha = 0.01f;
    DCNN_TRY(attr_float(c, "alpha", 0.01f, &alpha));
    char config[64], text[40];
    dcnn__format_number(text, sizeof text, 'e', 9, (double)alpha);
    snprintf(config, sizeof config, "alpha=%s", text);
    return push(c, seq, dcnn_layer_from_config("leaky_relu", config, &l), &l);
  }
  if (!strcmp(op, "GlobalAveragePool")) {
    DCNN_TRY(known_attributes(c, none));
    DCNN_TRY(data_flow(c, v, 1));
    DCNN_CHECK(shape->ndim == 4, DCNN_ERR_UNSUPPORTED, "needs an (N, C, H, W) input");
    DCNN_TRY(push(c, seq, dcnn_global_avgpool_create(&l), &l));
    *shape = dcnn_shape_make(2, 1, shape->dims[1], 0, 0);
    shape->dims[2] = shape->dims[3] = 1; /* ONNX's (N, C, 1, 1), the layer's (N, C): dcnn__onnx_pooled_4d */
    return DCNN_OK;
  }
  if (!strcmp(op, "Flatten")) return flatten(c, v, shape, seq);
  if (!strcmp(op, "Softmax")) {
    DCNN_TRY(known_attributes(c, axis_only));
    DCNN_TRY(data_flow(c, v, 1));
    int64_t axis = 1;
    DCNN_TRY(attr_int(c, "axis", im->opset < 13 ? 1 : -1, &axis));
    /* On GlobalAveragePool's (N, C, 1, 1), axis 1 is a softmax over the channels at any opset (before 13 it
     * coerces to (N, C)); -1 (opset 13's default) is one over a size-1 axis, all ones: not this layer. */
    DCNN_CHECK(!dcnn__onnx_pooled_4d(shape) || axis == 1, DCNN_ERR_UNSUPPORTED,
               "axis %lld after GlobalAveragePool, whose output is (N, C, 1, 1): only axis 1 (the channels) is "
               "supported", (long long)axis);
    DCNN_CHECK(shape->ndim == 2 && (axis == 1 || axis == -1), DCNN_ERR_UNSUPPORTED,
               "only a softmax over the features of an (N, K) input is supported");
    return push(c, seq, dcnn_softmax_create(&l), &l);
  }
  return dcnn__fail(DCNN_ERR_UNSUPPORTED, "operator '%.64s' is not supported (docs/onnx.md lists those that are)", op);
}
