/* dcnn_model_export_onnx: every built-in layer as ONNX nodes (docs/onnx.md has
 * the table), user layers through their export_onnx slot, then the model
 * around them (opset, shapes with a symbolic batch, metadata_props) encoded by
 * protobuf-c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/c_locale.h"
#include "../core/struct_size.h"
#include "../io/atomic_file.h"
#include "../kernels/kernels.h"
#include "digitcnn/version.h"
#include "onnx_internal.h"

/* The layer's describe text (its configuration as "key=value" pairs). */
static dcnn_status describe(const dcnn_layer *l, char *buf, int32_t size) {
  buf[0] = '\0';
  if (l->vt->describe) DCNN_TRY(l->vt->describe(l->self, buf, size));
  return DCNN_OK;
}

/* Parameter `index` of a built-in layer. */
static dcnn_status param(const dcnn_layer *l, int32_t index, dcnn_param *p) {
  *p = (dcnn_param)DCNN_STRUCT_INIT(dcnn_param);
  return dcnn_layer_param((dcnn_layer *)l, index, p);
}

/* Parameter `index` as an initializer of its own shape. */
static dcnn_status param_initializer(dcnn_onnx_graph *g, const dcnn_layer *l, int32_t index, const char **name) {
  dcnn_param p;
  DCNN_TRY(param(l, index, &p));
  return dcnn_onnx_graph_initializer(g, p.name, p.value, name);
}

/* kernel=, stride=, padding= of a window layer, and the pads ONNX wants:
 * "same" puts total / 2 before and the rest after, "same_lower" the rest before (dcnn__window_extent). */
static dcnn_status window_attributes(const dcnn_layer *l, const char *key, char *attrs, size_t size) {
  char config[256];
  DCNN_TRY(describe(l, config, sizeof config));
  dcnn__kv kv = dcnn__kv_reader(config);
  int32_t kernel = 0, stride = 0;
  dcnn_padding padding = DCNN_PADDING_VALID;
  DCNN_TRY(dcnn__kv_int(&kv, key, 1, 1024, &kernel));
  DCNN_TRY(dcnn__kv_int(&kv, "stride", 1, 1024, &stride));
  DCNN_TRY(dcnn__kv_padding(&kv, &padding));
  int32_t pads[4] = {0, 0, 0, 0}; /* top, left, bottom, right */
  for (int d = 0; d < 2; ++d) {
    const int32_t in = l->input.dims[2 + d];
    int32_t out = 0;
    if (!dcnn__window_pads(in, kernel, stride, (int)padding, &out, &pads[d], &pads[2 + d]))
      return dcnn__fail(DCNN_ERR_INVALID_STATE, "ONNX export: %s window does not fit", l->vt->type_name);
  }
  snprintf(attrs, size, "kernel_shape=%d,%d strides=%d,%d pads=%d,%d,%d,%d", (int)kernel, (int)kernel, (int)stride,
           (int)stride, (int)pads[0], (int)pads[1], (int)pads[2], (int)pads[3]);
  return DCNN_OK;
}

static dcnn_status export_conv(dcnn_onnx_graph *g, const dcnn_layer *l, const char *in, const char *out,
                               int depthwise) {
  char attrs[200], group[32] = "";
  DCNN_TRY(window_attributes(l, "kernel", attrs, sizeof attrs));
  if (depthwise) snprintf(group, sizeof group, " group=%d", (int)l->input.dims[1]);
  strncat(attrs, group, sizeof attrs - strlen(attrs) - 1);
  const char *inputs[3] = {in, NULL, NULL};
  const int32_t n = dcnn_layer_param_tensor_count(l);
  for (int32_t i = 0; i < n && i < 2; ++i) DCNN_TRY(param_initializer(g, l, i, &inputs[1 + i]));
  return dcnn_onnx_graph_node(g, "Conv", inputs, 1 + (n < 2 ? n : 2), &out, 1, attrs);
}

static dcnn_status export_pool(dcnn_onnx_graph *g, const dcnn_layer *l, const char *in, const char *out, int avg) {
  char attrs[200];
  DCNN_TRY(window_attributes(l, "pool", attrs, sizeof attrs));
  /* Average pooling divides by the pixels inside the image, as count_include_pad=0 does. */
  if (avg) strncat(attrs, " count_include_pad=0", sizeof attrs - strlen(attrs) - 1);
  return dcnn__onnx_unary(g, avg ? "AveragePool" : "MaxPool", in, out, attrs);
}

/* BatchNormalization in inference form (running statistics), then a Relu for batchnorm_relu. */
static dcnn_status export_batchnorm(dcnn_onnx_graph *g, const dcnn_layer *l, const char *in, const char *out,
                                    int relu) {
  char config[128], attrs[128], eps[40], mom[40];
  DCNN_TRY(describe(l, config, sizeof config));
  dcnn__kv kv = dcnn__kv_reader(config);
  float momentum = 0.0f, epsilon = 0.0f;
  DCNN_TRY(dcnn__kv_float(&kv, "momentum", &momentum));
  DCNN_TRY(dcnn__kv_float(&kv, "epsilon", &epsilon));
  dcnn__format_number(eps, sizeof eps, 'e', 9, (double)epsilon);
  dcnn__format_number(mom, sizeof mom, 'e', 9, (double)momentum);
  snprintf(attrs, sizeof attrs, "epsilon=%s momentum=%s", eps, mom);
  const char *inputs[5] = {in};
  for (int32_t i = 0; i < 4; ++i) DCNN_TRY(param_initializer(g, l, i, &inputs[1 + i]));
  const char *bn_out = out;
  if (relu) DCNN_TRY(dcnn__onnx_name(g, "normalized", &bn_out));
  DCNN_TRY(dcnn_onnx_graph_node(g, "BatchNormalization", inputs, 5, &bn_out, 1, attrs));
  return relu ? dcnn__onnx_unary(g, "Relu", bn_out, out, NULL) : DCNN_OK;
}

/* Dense: Gemm(x (N, in), W^T (units, in), b (units)) with transB=1, the form
 * torch.onnx.export writes and every runtime reads (OpenCV 4.6 reads no other). */
static dcnn_status export_dense(dcnn_onnx_graph *g, const dcnn_layer *l, const char *in, const char *out) {
  const char *inputs[3] = {in, NULL, NULL};
  const int32_t n = dcnn_layer_param_tensor_count(l);
  dcnn_param kernel;
  DCNN_TRY(param(l, 0, &kernel));
  const dcnn_shape s = dcnn_tensor_shape(kernel.value); /* (in, units) */
  const int64_t rows = s.dims[0], units = s.dims[1];
  float *t = dcnn__arena_alloc(&g->arena, (size_t)(rows * units) * sizeof *t); /* (units, in) */
  DCNN_CHECK(t != NULL, DCNN_ERR_OUT_OF_MEMORY, "ONNX export: out of memory");
  const float *w = dcnn_tensor_data_const(kernel.value);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t u = 0; u < units; ++u) t[u * rows + i] = w[i * units + u];
  const int64_t dims[2] = {units, rows};
  DCNN_TRY(dcnn__onnx_floats(g, "kernel", t, 2, dims, &inputs[1]));
  if (n > 1) {
    DCNN_TRY(param_initializer(g, l, 1, &inputs[2]));
  } else if (g->opset < 11) { /* C is optional from opset 11 only: zeros */
    float *zeros = dcnn__arena_alloc(&g->arena, (size_t)units * sizeof *zeros);
    DCNN_CHECK(zeros != NULL, DCNN_ERR_OUT_OF_MEMORY, "ONNX export: out of memory");
    DCNN_TRY(dcnn__onnx_floats(g, "zero_bias", zeros, 1, &units, &inputs[2]));
  }
  return dcnn_onnx_graph_node(g, "Gemm", inputs, inputs[2] ? 3 : 2, &out, 1, "alpha=1.0 beta=1.0 transB=1");
}

/* A scalar float initializer (Clip's bounds, Dropout's ratio): the value lives in the arena. */
static dcnn_status scalar(dcnn_onnx_graph *g, const char *hint, float v, const char **name) {
  float *value = dcnn__arena_alloc(&g->arena, sizeof *value);
  DCNN_CHECK(value != NULL, DCNN_ERR_OUT_OF_MEMORY, "ONNX export: out of memory");
  *value = v;
  return dcnn__onnx_floats(g, hint, value, 0, NULL, name);
}

static dcnn_status export_dropout(dcnn_onnx_graph *g, const dcnn_layer *l, const char *in, const char *out) {
  char config[64];
  DCNN_TRY(describe(l, config, sizeof config));
  dcnn__kv kv = dcnn__kv_reader(config);
  float rate = 0.0f;
  DCNN_TRY(dcnn__kv_float(&kv, "rate", &rate));
  /* Inference: the identity; the ratio stays for a runtime that trains (and for import):
   * an input from opset 12, an attribute before. */
  if (g->opset < 12) {
    char attrs[64], text[40];
    dcnn__format_number(text, sizeof text, 'e', 9, (double)rate);
    snprintf(attrs, sizeof attrs, "ratio=%s", text);
    return dcnn__onnx_unary(g, "Dropout", in, out, attrs);
  }
  const char *inputs[2] = {in, NULL};
  DCNN_TRY(scalar(g, "ratio", rate, &inputs[1]));
  return dcnn_onnx_graph_node(g, "Dropout", inputs, 2, &out, 1, NULL);
}

/* Clip(x, 0, 6): bounds as inputs from opset 11, as attributes before (what OpenCV 4.6 reads). */
static dcnn_status export_relu6(dcnn_onnx_graph *g, const char *in, const char *out) {
  if (g->opset < 11) return dcnn__onnx_unary(g, "Clip", in, out, "min=0.0 max=6.0");
  const char *inputs[3] = {in, NULL, NULL};
  DCNN_TRY(scalar(g, "zero", 0.0f, &inputs[1]));
  DCNN_TRY(scalar(g, "six", 6.0f, &inputs[2]));
  return dcnn_onnx_graph_node(g, "Clip", inputs, 3, &out, 1, NULL);
}

static dcnn_status export_leaky_relu(dcnn_onnx_graph *g, const dcnn_layer *l, const char *in, const char *out) {
  char config[64], attrs[64], alpha_text[40];
  DCNN_TRY(describe(l, config, sizeof config));
  dcnn__kv kv = dcnn__kv_reader(config);
  float alpha = 0.0f;
  DCNN_TRY(dcnn__kv_float(&kv, "alpha", &alpha));
  dcnn__format_number(alpha_text, sizeof alpha_text, 'e', 9, (double)alpha);
  snprintf(attrs, sizeof attrs, "alpha=%s", alpha_text);
  return dcnn__onnx_unary(g, "LeakyRelu", in, out, attrs);
}

/* The layers of one residual chain, in turn from `in`; the last writes `out`. */
static dcnn_status export_chain(dcnn_onnx_graph *g, dcnn_layer *const *layers, int32_t count, const char *in,
                                const char *out, const char *part) {
  char saved[sizeof g->prefix];
  memcpy(saved, g->prefix, sizeof saved);
  const char *x = in;
  dcnn_status status = DCNN_OK;
  for (int32_t i = 0; i < count && status == DCNN_OK; ++i) {
    snprintf(g->prefix, sizeof g->prefix, "%.60s.%s%d", saved, part, (int)i);
    const char *y = out;
    if (i + 1 < count) status = dcnn__onnx_name(g, "out", &y);
    if (status == DCNN_OK) status = dcnn__onnx_export_layer(g, layers[i], x, y);
    x = y;
  }
  memcpy(g->prefix, saved, sizeof saved);
  return status;
}

/* Residual block: Add(body(x), shortcut(x)) (the shortcut may be x itself), then Relu for ResNet's blocks. */
static dcnn_status export_residual(dcnn_onnx_graph *g, const dcnn_layer *l, const char *in, const char *out) {
  dcnn_layer *const *parts[2];
  int32_t counts[2];
  int relu = 0;
  dcnn__residual_parts(l, parts, counts, &relu);
  const char *branch[2] = {in, in};
  for (int p = 0; p < 2; ++p)
    if (counts[p] > 0) {
      DCNN_TRY(dcnn__onnx_name(g, p ? "shortcut" : "body", &branch[p]));
      DCNN_TRY(export_chain(g, parts[p], counts[p], in, branch[p], p ? "shortcut" : "body"));
    }
  const char *sum = out;
  if (relu) DCNN_TRY(dcnn__onnx_name(g, "sum", &sum));
  DCNN_TRY(dcnn_onnx_graph_node(g, "Add", branch, 2, &sum, 1, NULL));
  return relu ? dcnn__onnx_unary(g, "Relu", sum, out, NULL) : DCNN_OK;
}

dcnn_status dcnn__onnx_export_layer(dcnn_onnx_graph *g, const dcnn_layer *l, const char *in, const char *out) {
  const char *t = l->vt->type_name;
  if (l->vt->abi_version >= 3 && l->vt->export_onnx) {
    const uint64_t mark = dcnn__error_mark();
    const size_t first = g->node_count;
    const dcnn_status status = l->vt->export_onnx(l->self, g, in, out);
    if (status != DCNN_OK) return dcnn__callee_error(status, mark, "%s export_onnx", t);
    /* A slot that returned without writing `out` gave a file every reader refuses (a value read, never made);
     * names written twice or read before they are written are found once the graph is whole (check_values) */
    for (size_t i = first; i < g->node_count; ++i)
      for (size_t j = 0; j < g->nodes[i]->n_output; ++j)
        if (!strcmp(g->nodes[i]->output[j], out)) return DCNN_OK;
    return dcnn__fail(DCNN_ERR_INVALID_STATE, "%s: layer type '%s': its export_onnx returned without a node that "
                      "writes its output '%s'", g->prefix, t, out);
  }
  if (!strcmp(t, "conv2d")) return export_conv(g, l, in, out, 0);
  if (!strcmp(t, "depthwise_conv2d")) return export_conv(g, l, in, out, 1);
  if (!strcmp(t, "batchnorm")) return export_batchnorm(g, l, in, out, 0);
  if (!strcmp(t, "batchnorm_relu")) return export_batchnorm(g, l, in, out, 1);
  if (!strcmp(t, "maxpool2d")) return export_pool(g, l, in, out, 0);
  if (!strcmp(t, "avgpool2d")) return export_pool(g, l, in, out, 1);
  if (!strcmp(t, "dropout")) return export_dropout(g, l, in, out);
  if (!strcmp(t, "dense")) return export_dense(g, l, in, out);
  if (!strcmp(t, "relu")) return dcnn__onnx_unary(g, "Relu", in, out, NULL);
  if (!strcmp(t, "relu6")) return export_relu6(g, in, out);
  if (!strcmp(t, "leaky_relu")) return export_leaky_relu(g, l, in, out);
  if (!strcmp(t, "tanh")) return dcnn__onnx_unary(g, "Tanh", in, out, NULL);
  if (!strcmp(t, "sigmoid")) return dcnn__onnx_unary(g, "Sigmoid", in, out, NULL);
  if (!strcmp(t, "flatten")) return dcnn__onnx_unary(g, "Flatten", in, out, "axis=1");
  if (!strcmp(t, "softmax")) return dcnn__onnx_unary(g, "Softmax", in, out, "axis=1");
  if (!strcmp(t, "global_avgpool")) { /* (N, C, H, W) -> (N, C, 1, 1) -> (N, C) */
    const char *pooled = NULL;
    DCNN_TRY(dcnn__onnx_name(g, "pooled", &pooled));
    DCNN_TRY(dcnn__onnx_unary(g, "GlobalAveragePool", in, pooled, NULL));
    return dcnn__onnx_unary(g, "Flatten", pooled, out, "axis=1");
  }
  dcnn_layer *const *parts[2];
  int32_t counts[2];
  int relu = 0;
  if (dcnn__residual_parts(l, parts, counts, &relu)) return export_residual(g, l, in, out);
  return dcnn__fail(DCNN_ERR_UNSUPPORTED,
                    "%s: layer type '%s' cannot be exported to ONNX (its vtable has no export_onnx slot)", g->prefix, t);
}

/* A (batch, dims of `s` past the first) float tensor type with a symbolic batch "N". */
static Onnx__ValueInfoProto *value_info(dcnn__arena *a, const char *name, const dcnn_shape *s) {
  Onnx__ValueInfoProto *v = dcnn__arena_alloc(a, sizeof *v);
  Onnx__TypeProto *type = dcnn__arena_alloc(a, sizeof *type);
  Onnx__TypeProto__Tensor *tensor = dcnn__arena_alloc(a, sizeof *tensor);
  Onnx__TensorShapeProto *shape = dcnn__arena_alloc(a, sizeof *shape);
  Onnx__TensorShapeProto__Dimension **dims = dcnn__arena_alloc(a, DCNN_MAX_DIMS * sizeof *dims);
  if (!v || !type || !tensor || !shape || !dims) return NULL;
  onnx__value_info_proto__init(v);
  onnx__type_proto__init(type);
  onnx__type_proto__tensor__init(tensor);
  onnx__tensor_shape_proto__init(shape);
  for (int32_t i = 0; i < s->ndim; ++i) {
    if (!(dims[i] = dcnn__arena_alloc(a, sizeof *dims[i]))) return NULL;
    onnx__tensor_shape_proto__dimension__init(dims[i]);
    if (i == 0) {
      dims[i]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
      dims[i]->dim_param = "N";
    } else {
      dims[i]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
      dims[i]->dim_value = s->dims[i];
    }
  }
  shape->n_dim = (size_t)s->ndim;
  shape->dim = dims;
  tensor->has_elem_type = 1;
  tensor->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
  tensor->shape = shape;
  type->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
  type->tensor_type = tensor;
  v->type = type;
  v->name = (char *)name;
  return v;
}

int dcnn_onnx_available(void) { return 1; }

int dcnn__onnx_utf8_valid(const char *s) {
  const unsigned char *p = (const unsigned char *)s;
  while (*p) {
    const unsigned c = *p;
    const int extra = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : -1;
    if (extra < 0) return 0;
    uint32_t code = extra ? c & (0x3Fu >> extra) : c;
    for (int i = 1; i <= extra; ++i) {
      if ((p[i] & 0xC0) != 0x80) return 0;
      code = code << 6 | (p[i] & 0x3Fu);
    }
    static const uint32_t smallest[4] = {0, 0x80, 0x800, 0x10000};
    if (code < smallest[extra] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return 0;
    p += extra + 1;
  }
  return 1;
}

/* A value name and what defines it: node index, or DEFINED_BY_INPUT / DEFINED_BY_INITIALIZER. */
typedef struct defined_value {
  const char *name;
  int64_t by;
} defined_value;
enum { DEFINED_BY_INPUT = -2, DEFINED_BY_INITIALIZER = -1 };

static int by_name_only(const void *a, const void *b) {
  return strcmp(((const defined_value *)a)->name, ((const defined_value *)b)->name);
}

static int by_name(const void *a, const void *b) {
  const defined_value *x = a, *y = b;
  const int c = by_name_only(a, b);
  return c ? c : (x->by > y->by) - (x->by < y->by); /* ties in graph order: the first definition first */
}

/* The layer that wrote a node: its name starts "l<layer>", then ".body<i>" or ".shortcut<i>" for each residual
 * block it is nested in (export_chain); NULL if the name says no layer of `m`. */
static const dcnn_layer *node_layer(const dcnn_model *m, const char *name, long *index) {
  char *at = NULL;
  *index = name[0] == 'l' ? strtol(name + 1, &at, 10) : -1;
  if (*index < 0 || *index >= m->layer_count || at == name + 1) return NULL;
  const dcnn_layer *l = m->layers[*index];
  dcnn_layer *const *parts[2];
  int32_t counts[2];
  int relu = 0;
  while (dcnn__residual_parts(l, parts, counts, &relu)) {
    const int part = !strncmp(at, ".body", 5) ? 0 : !strncmp(at, ".shortcut", 9) ? 1 : -1;
    if (part < 0) break;
    const char *digits = at + (part ? 9 : 5);
    const long k = strtol(digits, &at, 10);
    if (at == digits || k < 0 || k >= counts[part]) break;
    l = parts[part][k];
  }
  return l;
}

/* "node 'l3.Relu_7' (Relu, layer 3: my.layer)", "the graph's input" or "an initializer"; a layer nested in a
 * residual block is named by its own type, its place by the node's name ('l3.body1.Relu_7') */
static const char *definer_text(const dcnn_model *m, const dcnn_onnx_graph *g, int64_t by, char *text, size_t size) {
  if (by == DEFINED_BY_INPUT) return "the graph's input";
  if (by == DEFINED_BY_INITIALIZER) return "an initializer";
  const Onnx__NodeProto *node = g->nodes[by];
  long index = -1;
  const dcnn_layer *layer = node_layer(m, node->name, &index);
  snprintf(text, size, "node '%.64s' (%.32s, layer %ld: %.40s)", node->name, node->op_type, index,
           layer ? layer->vt->type_name : "?");
  return text;
}

/* Every value defined once and read only after it is defined. The built-in exporters keep this; a user layer's
 * export_onnx slot naming values itself may not, and every reader refuses such a file. Sorted: n log n. */
static dcnn_status check_values(const dcnn_model *m, dcnn_onnx_graph *g) {
  size_t count = 1 + g->initializer_count;
  for (size_t i = 0; i < g->node_count; ++i) count += g->nodes[i]->n_output;
  defined_value *values = dcnn__arena_alloc(&g->arena, count * sizeof *values); /* (count) */
  DCNN_CHECK(values != NULL, DCNN_ERR_OUT_OF_MEMORY, "dcnn_model_export_onnx: out of memory");
  size_t n = 0;
  values[n++] = (defined_value){g->input_name, DEFINED_BY_INPUT};
  for (size_t k = 0; k < g->initializer_count; ++k)
    values[n++] = (defined_value){g->initializers[k]->name, DEFINED_BY_INITIALIZER};
  for (size_t i = 0; i < g->node_count; ++i)
    for (size_t j = 0; j < g->nodes[i]->n_output; ++j)
      if (g->nodes[i]->output[j][0]) values[n++] = (defined_value){g->nodes[i]->output[j], (int64_t)i};
  qsort(values, n, sizeof *values, by_name);
  char first[192], second[192];
  for (size_t k = 1; k < n; ++k)
    if (!strcmp(values[k - 1].name, values[k].name)) {
      const int one_node = values[k - 1].by == values[k].by; /* two outputs of one node */
      return dcnn__fail(DCNN_ERR_INVALID_STATE, "dcnn_model_export_onnx: '%.64s' is defined twice, %s%s%s%s (a user "
                        "layer's export_onnx slot names only its output and values from dcnn_onnx_graph_value)",
                        values[k].name, one_node ? "as two outputs of " : "by ",
                        definer_text(m, g, values[k - 1].by, first, sizeof first), one_node ? "" : " and by ",
                        one_node ? "" : definer_text(m, g, values[k].by, second, sizeof second));
    }
  for (size_t i = 0; i < g->node_count; ++i)
    for (size_t j = 0; j < g->nodes[i]->n_input; ++j) {
      const defined_value key = {g->nodes[i]->input[j], 0};
      if (!key.name[0]) continue; /* an omitted optional input */
      const defined_value *found = bsearch(&key, values, n, sizeof *values, by_name_only);
      if (!found)
        return dcnn__fail(DCNN_ERR_INVALID_STATE, "dcnn_model_export_onnx: %s reads '%.64s', which nothing defines",
                          definer_text(m, g, (int64_t)i, first, sizeof first), key.name);
      if (found->by == (int64_t)i)
        return dcnn__fail(DCNN_ERR_INVALID_STATE, "dcnn_model_export_onnx: %s reads its own output '%.64s'",
                          definer_text(m, g, (int64_t)i, first, sizeof first), key.name);
      if (found->by > (int64_t)i)
        return dcnn__fail(DCNN_ERR_INVALID_STATE, "dcnn_model_export_onnx: %s reads '%.64s' before %s defines it",
                          definer_text(m, g, (int64_t)i, first, sizeof first), key.name,
                          definer_text(m, g, found->by, second, sizeof second));
    }
  return DCNN_OK;
}

/* Builds the whole ModelProto into `g`'s arena. */
static dcnn_status build_model(const dcnn_model *m, const dcnn_onnx_export_options *o, dcnn_onnx_graph *g,
                               Onnx__ModelProto **out) {
  dcnn__arena *a = &g->arena;
  const char *x = o->input_name;
  for (int32_t i = 0; i < m->layer_count; ++i) {
    snprintf(g->prefix, sizeof g->prefix, "l%d", (int)i);
    const char *y = o->output_name;
    if (i + 1 < m->layer_count) DCNN_TRY(dcnn__onnx_name(g, "out", &y));
    const dcnn_status status = dcnn__onnx_export_layer(g, m->layers[i], x, y);
    if (status != DCNN_OK)
      return dcnn__wrap_error(status, "dcnn_model_export_onnx: layer %d (%s)", (int)i, m->layers[i]->vt->type_name);
    x = y;
  }
  DCNN_TRY(check_values(m, g));
  Onnx__ModelProto *model = dcnn__arena_alloc(a, sizeof *model);
  Onnx__GraphProto *graph = dcnn__arena_alloc(a, sizeof *graph);
  Onnx__OperatorSetIdProto *opset = dcnn__arena_alloc(a, sizeof *opset);
  Onnx__OperatorSetIdProto **opsets = dcnn__arena_alloc(a, sizeof *opsets);
  Onnx__ValueInfoProto **inputs = dcnn__arena_alloc(a, sizeof *inputs);
  Onnx__ValueInfoProto **outputs = dcnn__arena_alloc(a, sizeof *outputs);
  Onnx__StringStringEntryProto **props =
      dcnn__arena_alloc(a, (size_t)(m->metadata_count > 0 ? m->metadata_count : 1) * sizeof *props);
  DCNN_CHECK(model && graph && opset && opsets && inputs && outputs && props, DCNN_ERR_OUT_OF_MEMORY,
             "dcnn_model_export_onnx: out of memory");
  const dcnn_shape out_shape = m->layers[m->layer_count - 1]->output;
  inputs[0] = value_info(a, o->input_name, &m->input_shape);
  outputs[0] = value_info(a, o->output_name, &out_shape);
  DCNN_CHECK(inputs[0] && outputs[0], DCNN_ERR_OUT_OF_MEMORY, "dcnn_model_export_onnx: out of memory");
  onnx__graph_proto__init(graph);
  graph->name = "libdigitcnn";
  graph->n_node = g->node_count;
  graph->node = g->nodes;
  graph->n_initializer = g->initializer_count;
  graph->initializer = g->initializers;
  graph->n_input = 1;
  graph->input = inputs;
  graph->n_output = 1;
  graph->output = outputs;
  onnx__operator_set_id_proto__init(opset);
  opset->domain = "";
  opset->has_version = 1;
  opset->version = o->opset;
  opsets[0] = opset;
  onnx__model_proto__init(model);
  model->has_ir_version = 1;
  model->ir_version = dcnn__onnx_ir_version(o->opset);
  model->n_opset_import = 1;
  model->opset_import = opsets;
  model->producer_name = "libdigitcnn";
  model->producer_version = (char *)dcnn_version_string();
  model->graph = graph;
  for (int32_t i = 0; i < m->metadata_count; ++i) {
    DCNN_CHECK(dcnn__onnx_utf8_valid(m->metadata[i].value), DCNN_ERR_UNSUPPORTED,
               "dcnn_model_export_onnx: metadata '%s' is not UTF-8, which ONNX's strings must be", m->metadata[i].key);
    Onnx__StringStringEntryProto *e = dcnn__arena_alloc(a, sizeof *e);
    DCNN_CHECK(e != NULL, DCNN_ERR_OUT_OF_MEMORY, "dcnn_model_export_onnx: out of memory");
    onnx__string_string_entry_proto__init(e);
    e->key = (char *)m->metadata[i].key;
    e->value = m->metadata[i].value;
    props[i] = e;
  }
  model->n_metadata_props = (size_t)m->metadata_count;
  model->metadata_props = props;
  *out = model;
  return DCNN_OK;
}

/* Whether `name` has the form of the names the export generates ("l3.out_4", "l5.body1.Conv_9": 'l', digits,
 * '.'): a graph input or output named so could be written twice, which ONNX forbids (each value is defined once). */
static int generated_form(const char *name) {
  if (name[0] != 'l' || name[1] < '0' || name[1] > '9') return 0;
  const char *p = name + 1;
  while (*p >= '0' && *p <= '9') ++p;
  return *p == '.';
}

dcnn_status dcnn_model_export_onnx_memory(const dcnn_model *model, const dcnn_onnx_export_options *options,
                                          void **data, size_t *size) {
  if (data) *data = NULL; /* NULL on failure, whichever argument is missing */
  if (size) *size = 0;
  DCNN_CHECK(model && data && size, DCNN_ERR_INVALID_ARGUMENT, "dcnn_model_export_onnx: an argument is NULL");
  dcnn_onnx_export_options o = DCNN_ONNX_EXPORT_OPTIONS_INIT;
  if (options) {
    /* The struct-size convention (lib/core/struct_size.h): fields a caller's older layout lacks keep the defaults. */
    DCNN_TRY(dcnn__struct_read("dcnn_model_export_onnx", "dcnn_onnx_export_options", &o, sizeof o, options,
                               DCNN__ONNX_EXPORT_OPTIONS_SIZE_0_2));
    if (!o.input_name) o.input_name = "input";
    if (!o.output_name) o.output_name = "output";
  }
  DCNN_CHECK(o.opset >= DCNN_ONNX_MIN_OPSET && o.opset <= DCNN_ONNX_MAX_OPSET, DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_model_export_onnx: opset %d is outside %d..%d", (int)o.opset, DCNN_ONNX_MIN_OPSET,
             DCNN_ONNX_MAX_OPSET);
  DCNN_CHECK(o.input_name[0] && o.output_name[0] && strcmp(o.input_name, o.output_name), DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_model_export_onnx: the input and output names must be non-empty and differ");
  for (int k = 0; k < 2; ++k) {
    const char *name = k ? o.output_name : o.input_name;
    DCNN_CHECK(dcnn__onnx_utf8_valid(name), DCNN_ERR_INVALID_ARGUMENT, "dcnn_model_export_onnx: the %s name is not UTF-8",
               k ? "output" : "input");
    DCNN_CHECK(!generated_form(name), DCNN_ERR_INVALID_ARGUMENT,
               "dcnn_model_export_onnx: %s name '%.64s' has the form of the names the export generates "
               "('l<digits>.' first), which it could also give to an inner value", k ? "output" : "input", name);
  }
  DCNN_CHECK(model->layer_count > 0, DCNN_ERR_INVALID_STATE, "dcnn_model_export_onnx: the model has no layers");
  dcnn_onnx_graph g;
  memset(&g, 0, sizeof g);
  g.opset = o.opset;
  g.input_name = o.input_name;
  g.arena.ctx = model->ctx;
  Onnx__ModelProto *proto = NULL;
  dcnn_status status = build_model(model, &o, &g, &proto);
  if (status == DCNN_OK) {
    const size_t n = protobuf_c_message_get_packed_size(&proto->base);
    /* Protocol buffers cannot be read beyond 2 GiB. */
    if (n >= (size_t)INT32_MAX) {
      status = dcnn__fail(DCNN_ERR_UNSUPPORTED, "dcnn_model_export_onnx: %zu bytes exceed ONNX's 2 GiB", n);
    } else if (!(*data = malloc(n ? n : 1))) {
      status = dcnn__fail(DCNN_ERR_OUT_OF_MEMORY, "dcnn_model_export_onnx: out of memory for %zu bytes", n);
    } else {
      *size = protobuf_c_message_pack(&proto->base, *data);
    }
  }
  dcnn__arena_free(&g.arena);
  return status;
}

dcnn_status dcnn_model_export_onnx(const dcnn_model *model, const char *path,
                                   const dcnn_onnx_export_options *options) {
  DCNN_CHECK(path != NULL, DCNN_ERR_INVALID_ARGUMENT, "dcnn_model_export_onnx: 'path' is NULL");
  void *data = NULL;
  size_t size = 0;
  DCNN_TRY(dcnn_model_export_onnx_memory(model, options, &data, &size));
  const dcnn_status status = dcnn__write_file_atomic(path, data, size);
  free(data);
  return status;
}
