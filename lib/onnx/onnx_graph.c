/* The graph an export builds, and the functions user layers build it with
 * (onnx.h): names, initializers, nodes with attributes parsed from text. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/c_locale.h"
#include "onnx_internal.h"

struct dcnn__arena_block {
  dcnn__arena_block *next;
  max_align_t align[]; /* the bytes handed out */
};

void *dcnn__arena_alloc(dcnn__arena *a, size_t size) {
  if (size > SIZE_MAX / 2) return NULL;
  dcnn__arena_block *b = dcnn__calloc(a->ctx, 1, sizeof *b + size);
  if (!b) return NULL;
  b->next = a->head;
  a->head = b;
  return b->align;
}

char *dcnn__arena_strdup(dcnn__arena *a, const char *s) {
  const size_t n = strlen(s) + 1;
  char *c = dcnn__arena_alloc(a, n);
  if (c) memcpy(c, s, n);
  return c;
}

void dcnn__arena_free(dcnn__arena *a) {
  while (a->head) {
    dcnn__arena_block *next = a->head->next;
    dcnn__release(a->ctx, a->head);
    a->head = next;
  }
}

int64_t dcnn__onnx_ir_version(int64_t opset) { return opset <= 10 ? 5 : opset == 11 ? 6 : opset <= 14 ? 7 : 8; }

/* Grows `*items` (of `*capacity` pointers) to hold one more. */
static int grow(dcnn__arena *a, void ***items, size_t count, size_t *capacity) {
  if (count < *capacity) return 1;
  const size_t cap = *capacity ? *capacity * 2 : 16;
  void **bigger = dcnn__arena_alloc(a, cap * sizeof *bigger);
  if (!bigger) return 0;
  if (count) memcpy(bigger, *items, count * sizeof *bigger);
  *items = bigger; /* the old array stays in the arena until the export ends */
  *capacity = cap;
  return 1;
}

/* The bytes of `s`'s first 40 or fewer that end on a character's boundary (`s` is UTF-8): a generated name
 * holding a cut character was not UTF-8, which protobuf's strings must be. */
static int name_part(const char *s) {
  size_t n = strnlen(s, 40);
  while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) --n; /* s[n] continues the character before it */
  return (int)n;
}

dcnn_status dcnn__onnx_name(dcnn_onnx_graph *g, const char *hint, const char **name) {
  *name = NULL;
  if (!hint || !hint[0]) hint = "value";
  DCNN_CHECK(dcnn__onnx_utf8_valid(hint), DCNN_ERR_INVALID_ARGUMENT,
             "ONNX export: a name's hint is not UTF-8 text (ONNX's names are strings)");
  char text[160];
  snprintf(text, sizeof text, "%s.%.*s_%lld", g->prefix, name_part(hint), hint, (long long)g->names++);
  *name = dcnn__arena_strdup(&g->arena, text);
  DCNN_CHECK(*name != NULL, DCNN_ERR_OUT_OF_MEMORY, "ONNX export: out of memory");
  return DCNN_OK;
}

dcnn_status dcnn_onnx_graph_value(dcnn_onnx_graph *graph, const char *hint, const char **name) {
  if (name) *name = NULL;
  DCNN_CHECK(graph && name, DCNN_ERR_INVALID_ARGUMENT, "dcnn_onnx_graph_value: %s is NULL", graph ? "'name'" : "'graph'");
  return dcnn__onnx_name(graph, hint, name);
}

/* Names a new initializer and appends its tensor proto (dims copied, data
 * left to the caller); *name and *out are NULL on failure. */
static dcnn_status new_initializer(dcnn_onnx_graph *g, const char *hint, int32_t ndim, const int64_t *dims,
                                   int32_t data_type, const char **name, Onnx__TensorProto **out) {
  *out = NULL;
  DCNN_TRY(dcnn__onnx_name(g, hint, name));
  Onnx__TensorProto *t = dcnn__arena_alloc(&g->arena, sizeof *t);
  int64_t *d = dcnn__arena_alloc(&g->arena, (size_t)(ndim > 0 ? ndim : 1) * sizeof *d); /* (ndim) */
  if (!(t && d && grow(&g->arena, (void ***)&g->initializers, g->initializer_count, &g->initializer_capacity))) {
    *name = NULL; /* NULL on failure: no initializer has that name */
    return dcnn__fail(DCNN_ERR_OUT_OF_MEMORY, "ONNX export: out of memory");
  }
  onnx__tensor_proto__init(t);
  for (int32_t i = 0; i < ndim; ++i) d[i] = dims[i];
  t->name = (char *)*name;
  t->n_dims = (size_t)ndim;
  t->dims = d;
  t->has_data_type = 1;
  t->data_type = data_type;
  g->initializers[g->initializer_count++] = t;
  *out = t;
  return DCNN_OK;
}

dcnn_status dcnn__onnx_floats(dcnn_onnx_graph *g, const char *hint, const float *values, int32_t ndim,
                              const int64_t *dims, const char **name) {
  Onnx__TensorProto *t = NULL;
  DCNN_TRY(new_initializer(g, hint, ndim, dims, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, name, &t));
  int64_t count = 1;
  for (int32_t i = 0; i < ndim; ++i) count *= dims[i];
  /* float_data is a packed repeated float: protobuf-c writes it little-endian from the borrowed values. */
  t->n_float_data = (size_t)count;
  t->float_data = (float *)values;
  return DCNN_OK;
}

dcnn_status dcnn_onnx_graph_initializer(dcnn_onnx_graph *graph, const char *hint, const dcnn_tensor *tensor,
                                        const char **name) {
  if (name) *name = NULL;
  DCNN_CHECK(graph && tensor && name, DCNN_ERR_INVALID_ARGUMENT, "dcnn_onnx_graph_initializer: an argument is NULL");
  const dcnn_shape s = dcnn_tensor_shape(tensor);
  int64_t dims[DCNN_MAX_DIMS];
  for (int32_t i = 0; i < s.ndim; ++i) dims[i] = s.dims[i];
  return dcnn__onnx_floats(graph, hint ? hint : "weight", dcnn_tensor_data_const(tensor), s.ndim, dims, name);
}

int32_t dcnn_onnx_graph_opset(const dcnn_onnx_graph *graph) { return graph ? (int32_t)graph->opset : 0; }

dcnn_status dcnn_onnx_graph_initializer_int64(dcnn_onnx_graph *graph, const char *hint, const int64_t *values,
                                              int32_t ndim, const int64_t *dims, const char **name) {
  if (name) *name = NULL; /* NULL on failure, as without ONNX support */
  DCNN_CHECK(graph && values && name && (dims || ndim == 0), DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_onnx_graph_initializer_int64: an argument is NULL");
  DCNN_CHECK(ndim >= 0 && ndim <= 8, DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_onnx_graph_initializer_int64: %d dimensions (0 to 8)", (int)ndim);
  int64_t count = 1;
  for (int32_t i = 0; i < ndim; ++i) {
    DCNN_CHECK(dims[i] >= 0 && dims[i] <= (INT64_C(1) << 28) && count * dims[i] <= (INT64_C(1) << 28),
               DCNN_ERR_INVALID_ARGUMENT, "dcnn_onnx_graph_initializer_int64: dimension %d is %lld", (int)i,
               (long long)dims[i]);
    count *= dims[i];
  }
  /* Copied: a layer's natural code passes a local array (a Reshape's target), gone when its slot returns */
  int64_t *copy = dcnn__arena_alloc(&graph->arena, (size_t)(count ? count : 1) * sizeof *copy);
  DCNN_CHECK(copy != NULL, DCNN_ERR_OUT_OF_MEMORY, "dcnn_onnx_graph_initializer_int64: out of memory");
  memcpy(copy, values, (size_t)count * sizeof *copy);
  Onnx__TensorProto *t = NULL;
  DCNN_TRY(new_initializer(graph, hint ? hint : "ints", ndim, dims, ONNX__TENSOR_PROTO__DATA_TYPE__INT64, name, &t));
  t->n_int64_data = (size_t)count; /* packed repeated int64 */
  t->int64_data = copy;
  return DCNN_OK;
}

/* Parses one "name=value" attribute (text[0..n)) into `a`. */
static dcnn_status parse_attribute(dcnn_onnx_graph *g, const char *op, const char *text, size_t n,
                                   Onnx__AttributeProto *a) {
  char buf[512];
  DCNN_CHECK(n < sizeof buf, DCNN_ERR_INVALID_ARGUMENT, "ONNX export: attribute of %s longer than 511 bytes", op);
  memcpy(buf, text, n);
  buf[n] = '\0';
  char *eq = strchr(buf, '=');
  DCNN_CHECK(eq && eq != buf && eq[1], DCNN_ERR_INVALID_ARGUMENT,
             "ONNX export: attribute '%s' of %s is not name=value", buf, op);
  *eq = '\0';
  const char *value = eq + 1;
  onnx__attribute_proto__init(a);
  a->name = dcnn__arena_strdup(&g->arena, buf);
  DCNN_CHECK(a->name != NULL, DCNN_ERR_OUT_OF_MEMORY, "ONNX export: out of memory");
  a->has_type = 1;
  const size_t len = strlen(value);
  if (value[0] == '\'') {
    DCNN_CHECK(len >= 2 && value[len - 1] == '\'', DCNN_ERR_INVALID_ARGUMENT,
               "ONNX export: attribute %s of %s: unterminated string", buf, op);
    a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING;
    a->has_s = 1;
    a->s.len = len - 2;
    a->s.data = dcnn__arena_alloc(&g->arena, len);
    DCNN_CHECK(a->s.data != NULL, DCNN_ERR_OUT_OF_MEMORY, "ONNX export: out of memory");
    memcpy(a->s.data, value + 1, len - 2);
    return DCNN_OK;
  }
  const int list = strchr(value, ',') != NULL;
  const int real = strpbrk(value, ".eEn") != NULL; /* '.', an exponent, inf or nan */
  size_t count = 0;
  for (const char *p = value; *p;) { /* items: what lies between commas, a trailing empty one excepted */
    const char *comma = strchr(p, ',');
    ++count;
    if (!comma) break;
    p = comma + 1;
  }
  int64_t *ints = dcnn__arena_alloc(&g->arena, count * sizeof *ints);
  float *floats = dcnn__arena_alloc(&g->arena, count * sizeof *floats);
  DCNN_CHECK(ints && floats, DCNN_ERR_OUT_OF_MEMORY, "ONNX export: out of memory");
  size_t got = 0;
  for (const char *p = value; *p && got < count; ++got) {
    char *end = NULL;
    errno = 0;
    /* a finite double beyond float's range (1e300) would convert to float undefined (C11 6.3.1.5): refused */
    const double number = real ? dcnn__parse_double(p, &end) : 0;
    const int fits = !real || !isfinite(number) || fabs(number) < 0x1.ffffffp127;
    if (real && fits) floats[got] = (float)number;
    else if (!real) ints[got] = strtoll(p, &end, 10);
    DCNN_CHECK(end != p && errno == 0 && (*end == ',' || *end == '\0'), DCNN_ERR_INVALID_ARGUMENT,
               "ONNX export: attribute %s of %s: '%s' is not a %s list", buf, op, value, real ? "number" : "whole number");
    DCNN_CHECK(fits, DCNN_ERR_INVALID_ARGUMENT, "ONNX export: attribute %s of %s: %g in '%s' is beyond a float's range",
               buf, op, number, value);
    p = *end ? end + 1 : end;
  }
  if (list) {
    a->type = real ? ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS : ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
    if (real) a->n_floats = got, a->floats = floats;
    else a->n_ints = got, a->ints = ints;
  } else if (real) {
    a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
    a->has_f = 1;
    a->f = floats[0];
  } else {
    a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
    a->has_i = 1;
    a->i = ints[0];
  }
  return DCNN_OK;
}

/* Copies `count` names into the arena. */
static char **names_copy(dcnn_onnx_graph *g, const char *const *names, int32_t count) {
  char **c = dcnn__arena_alloc(&g->arena, (size_t)(count > 0 ? count : 1) * sizeof *c);
  for (int32_t i = 0; c && i < count; ++i)
    if (!names[i] || !(c[i] = dcnn__arena_strdup(&g->arena, names[i]))) return NULL;
  return c;
}

dcnn_status dcnn_onnx_graph_node(dcnn_onnx_graph *graph, const char *op_type, const char *const *inputs,
                                 int32_t input_count, const char *const *outputs, int32_t output_count,
                                 const char *attributes) {
  DCNN_CHECK(graph && op_type && op_type[0] && (inputs || input_count == 0) && outputs, DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_onnx_graph_node: a required argument is NULL or empty");
  DCNN_CHECK(dcnn__onnx_utf8_valid(op_type), DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_onnx_graph_node: the operator's name is not UTF-8 text");
  DCNN_CHECK(input_count >= 0 && input_count <= 16 && output_count >= 1 && output_count <= 16,
             DCNN_ERR_INVALID_ARGUMENT, "dcnn_onnx_graph_node: %s takes 0 to 16 inputs and 1 to 16 outputs, got %d and %d",
             op_type, (int)input_count, (int)output_count);
  for (int32_t i = 0; i < input_count + output_count; ++i)
    DCNN_CHECK((i < input_count ? inputs[i] : outputs[i - input_count]) != NULL, DCNN_ERR_INVALID_ARGUMENT,
               "dcnn_onnx_graph_node: %s %s %d is NULL", op_type, i < input_count ? "input" : "output",
               (int)(i < input_count ? i : i - input_count));
  dcnn_onnx_graph *g = graph;
  Onnx__NodeProto *node = dcnn__arena_alloc(&g->arena, sizeof *node);
  DCNN_CHECK(node && grow(&g->arena, (void ***)&g->nodes, g->node_count, &g->node_capacity), DCNN_ERR_OUT_OF_MEMORY,
             "ONNX export: out of memory");
  onnx__node_proto__init(node);
  node->op_type = dcnn__arena_strdup(&g->arena, op_type);
  node->input = names_copy(g, inputs, input_count);
  node->output = names_copy(g, outputs, output_count);
  DCNN_CHECK(node->op_type && node->input && node->output, DCNN_ERR_OUT_OF_MEMORY, "ONNX export: out of memory");
  node->n_input = (size_t)input_count;
  node->n_output = (size_t)output_count;
  char text[160];
  snprintf(text, sizeof text, "%s.%.*s_%lld", g->prefix, name_part(op_type), op_type, (long long)g->node_count);
  node->name = dcnn__arena_strdup(&g->arena, text);
  DCNN_CHECK(node->name != NULL, DCNN_ERR_OUT_OF_MEMORY, "ONNX export: out of memory");
  size_t count = 0;
  for (const char *p = attributes ? attributes : ""; *p;) {
    p += strspn(p, " ");
    if (*p) ++count;
    p += strcspn(p, " ");
  }
  if (count) {
    node->attribute = dcnn__arena_alloc(&g->arena, count * sizeof *node->attribute);
    DCNN_CHECK(node->attribute != NULL, DCNN_ERR_OUT_OF_MEMORY, "ONNX export: out of memory");
    for (const char *p = attributes; *p;) {
      p += strspn(p, " ");
      const size_t n = strcspn(p, " ");
      if (!n) break;
      Onnx__AttributeProto *a = dcnn__arena_alloc(&g->arena, sizeof *a);
      DCNN_CHECK(a != NULL, DCNN_ERR_OUT_OF_MEMORY, "ONNX export: out of memory");
      DCNN_TRY(parse_attribute(g, op_type, p, n, a));
      /* readers differ on which copy of a repeated attribute counts (this importer refuses the file) */
      for (size_t i = 0; i < node->n_attribute; ++i)
        DCNN_CHECK(strcmp(node->attribute[i]->name, a->name), DCNN_ERR_INVALID_ARGUMENT,
                   "ONNX export: attribute '%s' of %s is given twice", a->name, op_type);
      node->attribute[node->n_attribute++] = a;
      p += n;
    }
  }
  g->nodes[g->node_count++] = node;
  return DCNN_OK;
}

dcnn_status dcnn__onnx_unary(dcnn_onnx_graph *g, const char *op, const char *input, const char *output,
                             const char *attributes) {
  return dcnn_onnx_graph_node(g, op, &input, 1, &output, 1, attributes);
}
