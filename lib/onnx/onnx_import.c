/* dcnn_model_import_onnx: decodes the file with protobuf-c (allocations
 * bounded), indexes the graph's values, then walks it from the input: a chain
 * of supported operators, where a value read by two nodes opens a residual
 * block that an Add closes. Everything read from the file is checked before use. */
#define _GNU_SOURCE /* getrandom */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "../io/bytes.h"
#include "onnx_import.h"

/* protobuf-c allocations of one decode, bounded so that a small hostile file
 * cannot make it allocate much more than a model of its size needs. */
typedef struct bounded {
  dcnn_context *ctx;
  size_t used, limit;
  int out_of_memory; /* an allocation within the budget failed: not the file's fault */
} bounded;

static void *bounded_alloc(void *data, size_t size) {
  bounded *b = data;
  if (size > b->limit - b->used) return NULL;
  void *p = dcnn__alloc(b->ctx, size ? size : 1);
  if (p) b->used += size;
  else b->out_of_memory = 1;
  return p;
}

static void bounded_free(void *data, void *p) {
  dcnn__release(((bounded *)data)->ctx, p);
}

/* The importer's own buffers, through the import's context allocator as the decoded messages are (it has no
 * realloc: a grown array is copied). `*array` of `used` elements becomes one of `capacity`; 0 when out of memory,
 * `*array` unchanged. */
static int grow_array(dcnn_context *ctx, void **array, size_t used, size_t capacity, size_t size) {
  void *bigger = dcnn__calloc(ctx, capacity, size);
  if (!bigger) return 0;
  if (used) memcpy(bigger, *array, used * size);
  dcnn__release(ctx, *array);
  *array = bigger;
  return 1;
}

const char *dcnn__onnx_node_text(const dcnn__onnx_importer *im, int32_t n, char *buf, size_t size) {
  const Onnx__NodeProto *node = im->graph->node[n];
  snprintf(buf, size, "node %d '%.64s' (%.64s)", (int)n, node->name ? node->name : "", node->op_type);
  return buf;
}

static _Thread_local uint64_t probes;

uint64_t dcnn__onnx_probes(void) { return probes; }

/* splitmix64's finalizer: every input bit reaches every output bit. */
static uint64_t mix64(uint64_t x) {
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9u;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBu;
  return x ^ (x >> 31);
}

/* The hash key of one import: from the kernel's random source, or, when it has none to give (no entropy yet,
 * no getrandom), from what differs between imports (clock, addresses, a counter), mixed. */
static void draw_hash_key(uint64_t key[2]) {
  if (getrandom(key, 2 * sizeof *key, GRND_NONBLOCK) == (ssize_t)(2 * sizeof *key)) return;
  static _Atomic uint64_t counter;
  struct timespec now = {0, 0};
  (void)timespec_get(&now, TIME_UTC);
  const uint64_t seed = (uint64_t)now.tv_sec * 1000000007u ^ (uint64_t)now.tv_nsec ^ (uint64_t)clock() << 20 ^
                        (uint64_t)(uintptr_t)key ^ (uint64_t)(uintptr_t)&counter << 7 ^
                        atomic_fetch_add(&counter, 0x9E3779B97F4A7C15u);
  key[0] = mix64(seed);
  key[1] = mix64(seed ^ key[0]);
}

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static void sip_round(uint64_t v[4]) {
  v[0] += v[1], v[1] = ROTL(v[1], 13), v[1] ^= v[0], v[0] = ROTL(v[0], 32);
  v[2] += v[3], v[3] = ROTL(v[3], 16), v[3] ^= v[2];
  v[0] += v[3], v[3] = ROTL(v[3], 21), v[3] ^= v[0];
  v[2] += v[1], v[1] = ROTL(v[1], 17), v[1] ^= v[2], v[2] = ROTL(v[2], 32);
}

/* SipHash-1-3 (the keyed hash made against flooding, as Rust's and Python's tables use) of a value name. */
static uint64_t hash(const dcnn__onnx_importer *im, const char *s) {
  const uint64_t k0 = im->hash_key[0], k1 = im->hash_key[1];
  uint64_t v[4] = {k0 ^ 0x736f6d6570736575u, k1 ^ 0x646f72616e646f6du, k0 ^ 0x6c7967656e657261u,
                   k1 ^ 0x7465646279746573u};
  const size_t n = strlen(s);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t m = 0;
    for (int k = 7; k >= 0; --k) m = m << 8 | (uint8_t)s[i + (size_t)k]; /* little-endian, whatever the host */
    v[3] ^= m, sip_round(v), v[0] ^= m;
  }
  uint64_t last = (uint64_t)n << 56;
  for (size_t k = 0; i + k < n; ++k) last |= (uint64_t)(uint8_t)s[i + k] << (8 * k);
  v[3] ^= last, sip_round(v), v[0] ^= last;
  v[2] ^= 0xff, sip_round(v), sip_round(v), sip_round(v);
  return v[0] ^ v[1] ^ v[2] ^ v[3];
}

/* The slot a name's probe sequence starts at. */
static uint32_t name_slot(const dcnn__onnx_importer *im, const char *name) {
  ++probes;
  return (uint32_t)hash(im, name) & im->table_mask;
}

uint32_t dcnn__onnx_pointer_slot(const dcnn__onnx_importer *im, const void *p) {
  ++probes;
  return (uint32_t)mix64((uint64_t)(uintptr_t)p ^ im->hash_key[0]) & im->table_mask;
}

uint32_t dcnn__onnx_next_slot(const dcnn__onnx_importer *im, uint32_t slot) {
  ++probes;
  return (slot + 1) & im->table_mask;
}

int32_t dcnn__onnx_find(const dcnn__onnx_importer *im, const char *name) {
  if (!name) return -1;
  for (uint32_t i = name_slot(im, name);; i = dcnn__onnx_next_slot(im, i)) {
    const int32_t e = im->table[i];
    if (!e) return -1;
    if (!strcmp(im->values[e - 1].name, name)) return e - 1;
  }
}

/* Adds a value; a name given twice is malformed (ONNX graphs assign each value once). */
static dcnn_status add_value(dcnn__onnx_importer *im, const char *name, int32_t producer,
                             const Onnx__TensorProto *constant) {
  DCNN_CHECK(name && name[0], DCNN_ERR_BAD_FORMAT, "ONNX import: a value without a name");
  DCNN_CHECK(dcnn__onnx_find(im, name) < 0, DCNN_ERR_BAD_FORMAT, "ONNX import: value '%.64s' is defined twice", name);
  uint32_t i = name_slot(im, name);
  while (im->table[i]) i = dcnn__onnx_next_slot(im, i);
  dcnn__onnx_value *v = &im->values[im->value_count];
  *v = (dcnn__onnx_value){name, producer, NULL, 0, constant};
  im->table[i] = ++im->value_count;
  return DCNN_OK;
}

/* A tensor's element count, checking its dimensions and that its data is all there. */
static dcnn_status check_tensor(const Onnx__TensorProto *t, const char *what) {
  DCNN_CHECK(t->n_dims <= 8, DCNN_ERR_UNSUPPORTED, "ONNX import: %s has %zu dimensions (at most 8)", what, t->n_dims);
  int64_t count = 1;
  for (size_t i = 0; i < t->n_dims; ++i) {
    DCNN_CHECK(t->dims[i] >= 0 && t->dims[i] <= DCNN__ONNX_MAX_ELEMENTS, DCNN_ERR_BAD_FORMAT,
               "ONNX import: %s has dimension %lld", what, (long long)t->dims[i]);
    count *= t->dims[i];
    DCNN_CHECK(count <= DCNN__ONNX_MAX_ELEMENTS, DCNN_ERR_UNSUPPORTED,
               "ONNX import: %s has more than 2^28 elements", what);
  }
  DCNN_CHECK(!t->has_data_location || t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__DEFAULT,
             DCNN_ERR_UNSUPPORTED, "ONNX import: %s keeps its data in an external file", what);
  const int32_t type = t->has_data_type ? t->data_type : 0;
  size_t have = 0, width = 0;
  if (type == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT) have = t->n_float_data, width = 4;
  else if (type == ONNX__TENSOR_PROTO__DATA_TYPE__INT64) have = t->n_int64_data, width = 8;
  else if (type == ONNX__TENSOR_PROTO__DATA_TYPE__BOOL) have = t->n_int32_data, width = 1; /* Dropout's training_mode */
  else return dcnn__fail(DCNN_ERR_UNSUPPORTED, "ONNX import: %s has data type %d (only float, int64 and bool are read)",
                         what, (int)type);
  const int raw = t->has_raw_data && t->raw_data.len;
  DCNN_CHECK(!raw || t->raw_data.len % width == 0, DCNN_ERR_BAD_FORMAT,
             "ONNX import: %s has %zu bytes of raw_data, not a multiple of %zu (the bytes of one value); its %lld "
             "elements need %lld", what, t->raw_data.len, width, (long long)count, (long long)count * (long long)width);
  if (raw) have = t->raw_data.len / width;
  DCNN_CHECK((int64_t)have == count, DCNN_ERR_BAD_FORMAT, "ONNX import: %s holds %zu values for %lld elements", what,
             have, (long long)count);
  return DCNN_OK;
}

/* Float values a constant stores (each counted once however many nodes read it). */
static int64_t stored_floats(const Onnx__TensorProto *t) {
  if (!t->has_data_type || t->data_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT) return 0;
  return t->has_raw_data && t->raw_data.len ? (int64_t)(t->raw_data.len / 4) : (int64_t)t->n_float_data;
}

/* The value named `name` exists (or the name is empty: an omitted optional input). */
static dcnn_status check_input(const dcnn__onnx_importer *im, int32_t n, const char *name) {
  if (!name[0] || dcnn__onnx_find(im, name) >= 0) return DCNN_OK;
  char node[160];
  /* defined, but by a later node: the file is not in topological order (said so, not "no node defines") */
  for (size_t k = (size_t)n; k < im->graph->n_node; ++k) /* from itself: a node reading its own output */
    for (size_t j = 0; j < im->graph->node[k]->n_output; ++j)
      if (!strcmp(im->graph->node[k]->output[j], name))
        return dcnn__fail(DCNN_ERR_BAD_FORMAT,
                          "ONNX import: %s reads '%.64s' before node %d defines it (ONNX's nodes must be in "
                          "topological order)", dcnn__onnx_node_text(im, n, node, sizeof node), name, (int)k);
  return dcnn__fail(DCNN_ERR_BAD_FORMAT, "ONNX import: %s reads '%.64s', which no node, initializer or graph input "
                    "defines", dcnn__onnx_node_text(im, n, node, sizeof node), name);
}

/* The value node input `i` reads as data (not a constant), or NULL. */
static dcnn__onnx_value *data_input(dcnn__onnx_importer *im, const Onnx__NodeProto *node, size_t i) {
  if (!node->input[i][0]) return NULL;
  dcnn__onnx_value *v = &im->values[dcnn__onnx_find(im, node->input[i])];
  return v->constant ? NULL : v;
}

/* Consumers, once every value is known: counted, then listed in one array. index_graph's check_input refused any
 * input not defined before its node (nor by the node itself), so the graph is acyclic; the walk still refuses a
 * node it reaches twice (one that reads a value twice, branches that meet elsewhere than in an Add). */
static dcnn_status index_consumers(dcnn__onnx_importer *im) {
  const Onnx__GraphProto *g = im->graph;
  size_t reads = 0;
  for (size_t n = 0; n < g->n_node; ++n)
    for (size_t i = 0; i < g->node[n]->n_input; ++i) {
      dcnn__onnx_value *v = data_input(im, g->node[n], i);
      if (v) ++v->consumer_count, ++reads;
    }
  im->readers = dcnn__calloc(im->ctx, reads ? reads : 1, sizeof *im->readers);
  im->waiting_fork = dcnn__calloc(im->ctx, g->n_node ? g->n_node : 1, sizeof *im->waiting_fork);
  im->waiting_branch = dcnn__calloc(im->ctx, g->n_node ? g->n_node : 1, sizeof *im->waiting_branch);
  DCNN_CHECK(im->readers && im->waiting_fork && im->waiting_branch, DCNN_ERR_OUT_OF_MEMORY,
             "ONNX import: out of memory");
  size_t at = 0;
  for (int32_t k = 0; k < im->value_count; ++k) { /* each value's stretch, still empty */
    im->values[k].consumers = im->readers + at;
    at += (size_t)im->values[k].consumer_count;
    im->values[k].consumer_count = 0;
  }
  for (size_t n = 0; n < g->n_node; ++n)
    for (size_t i = 0; i < g->node[n]->n_input; ++i) {
      dcnn__onnx_value *v = data_input(im, g->node[n], i);
      if (v) im->readers[(v->consumers - im->readers) + v->consumer_count++] = (int32_t)n;
    }
  return DCNN_OK;
}

/* Indexes the graph: values, their producers and consumers; Constant nodes become constants. */
static dcnn_status index_graph(dcnn__onnx_importer *im, int32_t *input) {
  const Onnx__GraphProto *g = im->graph;
  DCNN_CHECK(g->n_node <= DCNN__ONNX_MAX_NODES && g->n_initializer <= DCNN__ONNX_MAX_NODES &&
                 g->n_input <= DCNN__ONNX_MAX_NODES,
             DCNN_ERR_UNSUPPORTED, "ONNX import: more than %d nodes, initializers or inputs", DCNN__ONNX_MAX_NODES);
  DCNN_CHECK(g->n_sparse_initializer == 0, DCNN_ERR_UNSUPPORTED, "ONNX import: sparse initializers are not read");
  size_t values = g->n_initializer + g->n_input;
  for (size_t n = 0; n < g->n_node; ++n) values += g->node[n]->n_output;
  DCNN_CHECK(values <= DCNN__ONNX_MAX_VALUES, DCNN_ERR_UNSUPPORTED, "ONNX import: more than %d values",
             DCNN__ONNX_MAX_VALUES);
  uint32_t size = 16;
  while (size < 2 * values) size *= 2;
  im->values = dcnn__calloc(im->ctx, values ? values : 1, sizeof *im->values);
  im->table = dcnn__calloc(im->ctx, size, sizeof *im->table);
  im->floats = dcnn__calloc(im->ctx, size, sizeof *im->floats); /* constants are values: never full */
  im->visited = dcnn__calloc(im->ctx, g->n_node ? g->n_node : 1, 1);
  DCNN_CHECK(im->values && im->table && im->floats && im->visited, DCNN_ERR_OUT_OF_MEMORY, "ONNX import: out of memory");
  im->table_mask = size - 1;
  for (size_t i = 0; i < g->n_initializer; ++i) {
    const Onnx__TensorProto *t = g->initializer[i];
    char what[96];
    snprintf(what, sizeof what, "initializer '%.64s'", t->name ? t->name : "");
    DCNN_TRY(check_tensor(t, what));
    DCNN_TRY(add_value(im, t->name, -1, t));
    im->param_budget += stored_floats(t);
  }
  *input = -1;
  for (size_t i = 0; i < g->n_input; ++i) { /* IR 3 lists the initializers among the inputs too */
    const char *name = g->input[i]->name;
    if (name && dcnn__onnx_find(im, name) >= 0 && im->values[dcnn__onnx_find(im, name)].constant) continue;
    DCNN_CHECK(*input < 0, DCNN_ERR_UNSUPPORTED, "ONNX import: the graph has several inputs ('%.64s', '%.64s'); "
               "one is supported", im->values[*input].name, name ? name : "");
    DCNN_TRY(add_value(im, name, -1, NULL));
    *input = im->value_count - 1;
  }
  DCNN_CHECK(*input >= 0, DCNN_ERR_BAD_FORMAT, "ONNX import: the graph has no input");
  for (size_t n = 0; n < g->n_node; ++n) {
    const Onnx__NodeProto *node = g->node[n];
    char text[160];
    DCNN_CHECK(node->op_type && node->op_type[0], DCNN_ERR_BAD_FORMAT, "ONNX import: node %zu has no operator", n);
    DCNN_CHECK(!node->domain || !node->domain[0] || !strcmp(node->domain, "ai.onnx"), DCNN_ERR_UNSUPPORTED,
               "ONNX import: %s is from domain '%.64s'; only the default ONNX domain is supported",
               dcnn__onnx_node_text(im, (int32_t)n, text, sizeof text), node->domain);
    DCNN_CHECK(node->n_output >= 1 && node->n_output <= 16 && node->n_input <= 16, DCNN_ERR_BAD_FORMAT,
               "ONNX import: %s has %zu inputs and %zu outputs", dcnn__onnx_node_text(im, (int32_t)n, text, sizeof text),
               node->n_input, node->n_output);
    const Onnx__TensorProto *constant = NULL;
    if (!strcmp(node->op_type, "Constant")) {
      DCNN_CHECK(node->n_input == 0 && node->n_output == 1 && node->n_attribute == 1 && node->attribute[0]->name &&
                     !strcmp(node->attribute[0]->name, "value") &&
                     node->attribute[0]->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR && node->attribute[0]->t,
                 DCNN_ERR_UNSUPPORTED, "ONNX import: %s: only a Constant with one 'value' tensor is supported",
                 dcnn__onnx_node_text(im, (int32_t)n, text, sizeof text));
      constant = node->attribute[0]->t;
      DCNN_TRY(check_tensor(constant, dcnn__onnx_node_text(im, (int32_t)n, text, sizeof text)));
      im->param_budget += stored_floats(constant);
      im->visited[n] = 1;
    }
    for (size_t i = 0; i < node->n_input; ++i) DCNN_TRY(check_input(im, (int32_t)n, node->input[i]));
    /* An Identity of a constant is that constant: torch.onnx.export writes one for each further use of
     * an initializer it deduplicated (the zero means and unit variances of untrained batch norms). Its
     * values count against the budget once, where stored; a layer reading them again takes its slack. */
    if (!constant && !strcmp(node->op_type, "Identity") && node->n_input == 1 && node->n_output == 1 &&
        node->n_attribute == 0) {
      const int32_t v = dcnn__onnx_find(im, node->input[0]);
      if (v >= 0 && im->values[v].constant) {
        constant = im->values[v].constant;
        im->visited[n] = 1;
      }
    }
    for (size_t i = 0; i < node->n_output; ++i)
      if (node->output[i][0] || i == 0) DCNN_TRY(add_value(im, node->output[i], constant ? -1 : (int32_t)n, constant));
  }
  return index_consumers(im);
}

int dcnn__onnx_is_join(const dcnn__onnx_importer *im, int32_t n) {
  const Onnx__NodeProto *node = im->graph->node[n];
  if (strcmp(node->op_type, "Add") || node->n_input != 2) return 0;
  for (int i = 0; i < 2; ++i) {
    const int32_t v = dcnn__onnx_find(im, node->input[i]);
    if (v < 0 || im->values[v].constant) return 0;
  }
  return 1;
}

dcnn_status dcnn__onnx_seq_push(dcnn__onnx_importer *im, dcnn__onnx_seq *seq, dcnn_layer *layer) {
  /* Here too, not only before each node: a residual block closed at the limit was the model's refusal,
   * INVALID_ARGUMENT. */
  if (im->layers >= DCNN__MAX_LAYER_RECORDS) {
    dcnn_layer_destroy(layer);
    return dcnn__fail(DCNN_ERR_UNSUPPORTED, "ONNX import: more than %d layers", DCNN__MAX_LAYER_RECORDS);
  }
  if (seq->count == seq->capacity) {
    const int32_t cap = seq->capacity ? seq->capacity * 2 : 16;
    if (!grow_array(im->ctx, (void **)&seq->layers, (size_t)seq->count, (size_t)cap, sizeof *seq->layers)) {
      dcnn_layer_destroy(layer);
      return dcnn__fail(DCNN_ERR_OUT_OF_MEMORY, "ONNX import: out of memory");
    }
    seq->capacity = cap;
  }
  seq->layers[seq->count++] = layer;
  ++im->layers;
  return DCNN_OK;
}

static void seq_free(const dcnn__onnx_importer *im, dcnn__onnx_seq *seq) {
  for (int32_t i = 0; i < seq->count; ++i) dcnn_layer_destroy(seq->layers[i]);
  dcnn__release(im->ctx, seq->layers);
  *seq = (dcnn__onnx_seq){0};
}

dcnn_status dcnn__onnx_pend(dcnn__onnx_importer *im, dcnn_layer *layer, int32_t index, const float *values,
                            int64_t count) {
  if (im->pending_count == im->pending_capacity) {
    const int32_t cap = im->pending_capacity ? im->pending_capacity * 2 : 64;
    DCNN_CHECK(grow_array(im->ctx, (void **)&im->pending, (size_t)im->pending_count, (size_t)cap,
                          sizeof *im->pending),
               DCNN_ERR_OUT_OF_MEMORY, "ONNX import: out of memory");
    im->pending_capacity = cap;
  }
  DCNN_TRY(dcnn__onnx_budget(im, count));
  /* As a model file's loader refuses them: a NaN weight imported fine and made every prediction NaN. */
  for (int64_t i = 0; i < count; ++i)
    DCNN_CHECK(isfinite(values[i]), DCNN_ERR_BAD_FORMAT, "%s parameter %d holds a non-finite value (%g at %lld)",
               dcnn_layer_type(layer), (int)index, (double)values[i], (long long)i);
  im->pending[im->pending_count++] = (dcnn__onnx_pending){layer, index, values, count};
  im->param_budget -= count;
  return DCNN_OK;
}

dcnn_status dcnn__onnx_budget(const dcnn__onnx_importer *im, int64_t count) {
  DCNN_CHECK(count <= im->param_budget, DCNN_ERR_UNSUPPORTED,
             "the layers would hold more parameter values than the file stores (plus %lld): a weight read by "
             "several layers is not supported", (long long)DCNN__ONNX_PARAM_SLACK);
  return DCNN_OK;
}

float *dcnn__onnx_scratch(dcnn__onnx_importer *im, int64_t count) {
  if (im->owned_count == im->owned_capacity) {
    const int32_t cap = im->owned_capacity ? im->owned_capacity * 2 : 64;
    if (!grow_array(im->ctx, (void **)&im->owned, (size_t)im->owned_count, (size_t)cap, sizeof *im->owned))
      return NULL;
    im->owned_capacity = cap;
  }
  if (count > INT64_MAX / (int64_t)sizeof(float)) return NULL;
  float *p = dcnn__alloc(im->ctx, (size_t)(count > 0 ? count : 1) * sizeof *p);
  if (p) im->owned[im->owned_count++] = p;
  return p;
}

static dcnn_status walk(dcnn__onnx_importer *im, int32_t first, int32_t v, dcnn_shape *shape, dcnn__onnx_seq *seq,
                        int depth, int32_t *end, int32_t *join);

/* One branch of a fork being assembled: its layers from the fork's value to `end`, which the Add `join` reads
 * (-1: nothing reads it); `shape` is end's. */
typedef struct branch {
  dcnn__onnx_seq seq;
  int32_t end, join;
  dcnn_shape shape;
} branch;

/* A residual fork: the value `value` that several nodes read, and its branches. Blocks nested at the start of a
 * block's body or shortcut share its value (the export writes them so), so a fork has any number of readers;
 * two branches that end in one Add's two inputs become a block, whose output then continues as a branch, until
 * one block holds them all. `pairs` lists the branches (in twos) that meet in an Add and wait to be joined. */
typedef struct fork_state {
  int32_t value, serial, depth;
  branch *items;
  int32_t count, capacity, open; /* branches in items; those not yet joined */
  int32_t *pairs;
  int32_t pair_count; /* pairs hold 2 * pair_count indices */
} fork_state;

/* The Add that closes a block is read as the other nodes are: an attribute it does not know (Add has none from
 * opset 7) or a second output would be ignored. */
static dcnn_status check_join(const dcnn__onnx_importer *im, int32_t join) {
  const Onnx__NodeProto *add = im->graph->node[join];
  char text[160];
  dcnn__onnx_node_text(im, join, text, sizeof text);
  DCNN_CHECK(add->n_attribute == 0, DCNN_ERR_UNSUPPORTED, "ONNX import: %s: attribute '%.64s' is not supported", text,
             add->attribute[0]->name ? add->attribute[0]->name : "");
  DCNN_CHECK(add->n_output == 1, DCNN_ERR_BAD_FORMAT, "ONNX import: %s has %zu outputs (an Add has one)", text,
             add->n_output);
  return DCNN_OK;
}

/* Adds branch `b` (taken, also on failure) to the fork; when the branch that ends in its Add's other input is
 * there already, the two become a pair. */
static dcnn_status add_branch(dcnn__onnx_importer *im, fork_state *f, branch *b) {
  if (f->count == f->capacity) {
    const int32_t cap = f->capacity ? 2 * f->capacity : 4;
    /* the pairs: at most one index per branch */
    if (!grow_array(im->ctx, (void **)&f->items, (size_t)f->count, (size_t)cap, sizeof *f->items) ||
        !grow_array(im->ctx, (void **)&f->pairs, (size_t)f->capacity, (size_t)cap, sizeof *f->pairs)) {
      seq_free(im, &b->seq);
      return dcnn__fail(DCNN_ERR_OUT_OF_MEMORY, "ONNX import: out of memory");
    }
    f->capacity = cap;
  }
  const int32_t index = f->count++;
  f->items[index] = *b;
  ++f->open;
  const int32_t join = b->join;
  DCNN_CHECK(join >= 0, DCNN_ERR_UNSUPPORTED, "ONNX import: a branch from '%.64s' ends at '%.64s', which no Add "
             "reads: the branches of a residual block must meet in an Add", im->values[f->value].name,
             im->values[b->end].name);
  if (im->waiting_fork[join] == f->serial) {
    f->pairs[2 * f->pair_count] = im->waiting_branch[join];
    f->pairs[2 * f->pair_count + 1] = index;
    ++f->pair_count;
    im->waiting_fork[join] = 0;
  } else {
    im->waiting_fork[join] = f->serial;
    im->waiting_branch[join] = index;
  }
  return DCNN_OK;
}

/* Whether the two branches, which end in the inputs of one Add, make a residual block at the fork's depth;
 * *levels: the block's nesting, itself included. */
static dcnn_status check_pair(const dcnn__onnx_importer *im, const fork_state *f, const branch *a, const branch *b,
                              int32_t *levels) {
  const char *name = im->values[f->value].name;
  char text[160];
  DCNN_TRY(check_join(im, a->join));
  DCNN_CHECK(a->seq.count || b->seq.count, DCNN_ERR_UNSUPPORTED, "ONNX import: %s: both branches from '%.64s' "
             "hold no layer (the Add doubles its input, which no residual block here computes)",
             dcnn__onnx_node_text(im, a->join, text, sizeof text), name);
  DCNN_CHECK(dcnn_shape_equal(&a->shape, &b->shape), DCNN_ERR_SHAPE_MISMATCH,
             "ONNX import: the branches from '%.64s' end in different shapes", name);
  /* (N, C) and GlobalAveragePool's (N, C, 1, 1) look alike here; ONNX's Add
   * broadcasts them to (N, C, N, C), which no residual block computes. */
  DCNN_CHECK(dcnn__onnx_pooled_4d(&a->shape) == dcnn__onnx_pooled_4d(&b->shape), DCNN_ERR_UNSUPPORTED,
             "ONNX import: the branches from '%.64s' end in (N, C) and (N, C, 1, 1): their Add broadcasts to 4-D", name);
  *levels = 1 + (a->seq.levels > b->seq.levels ? a->seq.levels : b->seq.levels);
  DCNN_CHECK(f->depth + *levels <= DCNN__ONNX_MAX_DEPTH, DCNN_ERR_UNSUPPORTED,
             "ONNX import: residual blocks nested deeper than %d", DCNN__ONNX_MAX_DEPTH);
  return DCNN_OK;
}

/* Joins the pair of branches a and b (checked) into a residual block (their layers go into it); *out: the value
 * after it (the Add's sum, or a Relu's that alone reads it). */
static dcnn_status join_pair(dcnn__onnx_importer *im, branch *a, branch *b, dcnn_layer **block, int32_t *out) {
  const int32_t join = a->join;
  im->visited[join] = 1;
  const Onnx__NodeProto *add = im->graph->node[join];
  /* The body is the branch that ends in the Add's first input, unless it is empty (an identity shortcut). */
  branch *body = dcnn__onnx_find(im, add->input[0]) == a->end ? a : b;
  if (body->seq.count == 0) body = body == a ? b : a;
  branch *shortcut = body == a ? b : a;
  *out = dcnn__onnx_find(im, add->output[0]);
  dcnn_residual_activation act = DCNN_RESIDUAL_LINEAR;
  const dcnn__onnx_value *sum = &im->values[*out];
  const Onnx__NodeProto *after = sum->consumer_count == 1 ? im->graph->node[sum->consumers[0]] : NULL;
  if (after && !strcmp(after->op_type, "Relu") && after->n_input == 1 && after->n_output == 1 &&
      !after->n_attribute && !im->visited[sum->consumers[0]]) {
    act = DCNN_RESIDUAL_RELU;
    im->visited[sum->consumers[0]] = 1;
    *out = dcnn__onnx_find(im, after->output[0]);
  }
  const dcnn_status status = dcnn_residual_create(body->seq.layers, body->seq.count, shortcut->seq.layers,
                                                  shortcut->seq.count, act, block); /* takes the layers in all cases */
  for (int k = 0; k < 2; ++k) {
    branch *taken = k ? b : a;
    dcnn__release(im->ctx, taken->seq.layers);
    taken->seq = (dcnn__onnx_seq){0};
  }
  return status;
}

/* A branch that starts with `block` (whose `levels` and output `out` of shape `shape` are given) and goes on from
 * `out` to the next Add. */
static dcnn_status continue_branch(dcnn__onnx_importer *im, fork_state *f, dcnn_layer *block, int32_t levels,
                                   int32_t out, const dcnn_shape *shape) {
  branch b = {{0}, out, -1, *shape};
  DCNN_TRY(dcnn__onnx_seq_push(im, &b.seq, block)); /* destroys it on failure */
  b.seq.levels = levels;
  const dcnn_status status = walk(im, -1, out, &b.shape, &b.seq, f->depth + 1, &b.end, &b.join);
  if (status != DCNN_OK) {
    seq_free(im, &b.seq);
    return status;
  }
  return add_branch(im, f, &b);
}

/* Opens a branch at each reader of the fork's value: the identity when the reader is an Add (a block's join),
 * else the chain that starts there. */
static dcnn_status open_branches(dcnn__onnx_importer *im, fork_state *f, const dcnn_shape *shape) {
  const dcnn__onnx_value *val = &im->values[f->value];
  for (int32_t i = 0; i < val->consumer_count; ++i) {
    const int32_t c = val->consumers[i];
    branch b = {{0}, f->value, -1, *shape};
    if (dcnn__onnx_is_join(im, c)) {
      b.join = c;
    } else {
      const dcnn_status status = walk(im, c, f->value, &b.shape, &b.seq, f->depth + 1, &b.end, &b.join);
      if (status != DCNN_OK) {
        seq_free(im, &b.seq);
        return status;
      }
    }
    DCNN_TRY(add_branch(im, f, &b));
  }
  return DCNN_OK;
}

/* Joins pairs until one block holds every branch; it goes into `seq`, *shape and *next become its output's. */
static dcnn_status join_all(dcnn__onnx_importer *im, fork_state *f, dcnn_shape *shape, dcnn__onnx_seq *seq,
                            int32_t *next) {
  for (;;) {
    DCNN_CHECK(f->pair_count > 0, DCNN_ERR_UNSUPPORTED, "ONNX import: the readers of '%.64s' do not meet in Adds "
               "(residual blocks, nested at their start or not)", im->values[f->value].name);
    --f->pair_count;
    branch *a = &f->items[f->pairs[2 * f->pair_count]], *b = &f->items[f->pairs[2 * f->pair_count + 1]];
    int32_t levels = 0;
    DCNN_TRY(check_pair(im, f, a, b, &levels));
    const dcnn_shape out_shape = a->shape;
    dcnn_layer *block = NULL;
    int32_t out = -1;
    f->open -= 2;
    DCNN_TRY(join_pair(im, a, b, &block, &out));
    if (f->open > 0) {
      DCNN_TRY(continue_branch(im, f, block, levels, out, &out_shape));
      continue;
    }
    DCNN_TRY(dcnn__onnx_seq_push(im, seq, block));
    if (levels > seq->levels) seq->levels = levels;
    *shape = out_shape;
    *next = out;
    return DCNN_OK;
  }
}

/* A residual fork at value `v` (read by two nodes or more): its branches up to the Adds that join them, as one
 * residual layer (holding the blocks nested at its start); a Relu reading only a sum joins its block. */
static dcnn_status fork(dcnn__onnx_importer *im, int32_t v, dcnn_shape *shape, dcnn__onnx_seq *seq, int depth,
                        int32_t *next) {
  DCNN_CHECK(depth < DCNN__ONNX_MAX_DEPTH, DCNN_ERR_UNSUPPORTED, "ONNX import: residual blocks nested deeper than %d",
             DCNN__ONNX_MAX_DEPTH);
  fork_state f = {v, ++im->forks, depth, NULL, 0, 0, 0, NULL, 0};
  dcnn_status status = open_branches(im, &f, shape);
  if (status == DCNN_OK) status = join_all(im, &f, shape, seq, next);
  for (int32_t i = 0; i < f.count; ++i) seq_free(im, &f.items[i].seq); /* those not joined, after a failure */
  dcnn__release(im->ctx, f.items);
  dcnn__release(im->ctx, f.pairs);
  return status;
}

/* Converts the chain that starts at node `first` (reading `v`; -1: at the
 * readers of `v`) until a value that an Add of two computed values reads
 * (*join: that Add) or that nothing reads (*join -1); *end: that value. */
static dcnn_status walk(dcnn__onnx_importer *im, int32_t first, int32_t v, dcnn_shape *shape, dcnn__onnx_seq *seq,
                        int depth, int32_t *end, int32_t *join) {
  int32_t node = first;
  for (;;) {
    if (node < 0) {
      const dcnn__onnx_value *val = &im->values[v];
      *end = v;
      *join = -1;
      if (val->consumer_count == 0) return DCNN_OK;
      if (val->consumer_count == 1 && dcnn__onnx_is_join(im, val->consumers[0])) {
        *join = val->consumers[0];
        return DCNN_OK;
      }
      if (val->consumer_count >= 2) {
        DCNN_TRY(fork(im, v, shape, seq, depth, &v));
        continue;
      }
      node = val->consumers[0];
    }
    char text[160];
    dcnn__onnx_node_text(im, node, text, sizeof text);
    DCNN_CHECK(!im->visited[node], DCNN_ERR_UNSUPPORTED,
               "ONNX import: %s is reached twice (it reads one value twice, or branches meet outside an Add)", text);
    DCNN_CHECK(im->layers < DCNN__MAX_LAYER_RECORDS, DCNN_ERR_UNSUPPORTED, "ONNX import: more than %d layers",
               DCNN__MAX_LAYER_RECORDS);
    im->visited[node] = 1;
    const uint64_t mark = dcnn__error_mark();
    const dcnn_status status = dcnn__onnx_convert(im, node, v, shape, seq, &v);
    if (status != DCNN_OK) return dcnn__callee_error(status, mark, "ONNX import: %s", text);
    node = -1;
  }
}

/* The graph input's per-sample shape: (C, H, W), (H, W) or (F), the batch dimension free. */
static dcnn_status input_shape(const Onnx__GraphProto *g, const char *name, dcnn_shape *out) {
  const Onnx__ValueInfoProto *info = NULL;
  for (size_t i = 0; i < g->n_input; ++i)
    if (g->input[i]->name && !strcmp(g->input[i]->name, name)) info = g->input[i];
  const Onnx__TypeProto *type = info ? info->type : NULL;
  DCNN_CHECK(type && type->value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE && type->tensor_type &&
                 type->tensor_type->has_elem_type && type->tensor_type->elem_type == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT &&
                 type->tensor_type->shape,
             DCNN_ERR_UNSUPPORTED, "ONNX import: input '%.64s' is not a float tensor of known shape", name);
  const Onnx__TensorShapeProto *s = type->tensor_type->shape;
  DCNN_CHECK(s->n_dim >= 2 && s->n_dim <= 4, DCNN_ERR_UNSUPPORTED,
             "ONNX import: input '%.64s' has %zu dimensions; (N, C, H, W), (N, H, W) or (N, F) are supported", name,
             s->n_dim);
  int32_t d[4] = {0, 0, 0, 0};
  int64_t count = 1;
  for (size_t i = 1; i < s->n_dim; ++i) {
    const Onnx__TensorShapeProto__Dimension *dim = s->dim[i];
    DCNN_CHECK(dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE && dim->dim_value >= 1 &&
                   dim->dim_value <= 65536,
               DCNN_ERR_UNSUPPORTED, "ONNX import: input '%.64s' dimension %zu is not a size from 1 to 65536", name, i);
    d[i - 1] = (int32_t)dim->dim_value;
    count *= dim->dim_value;
  }
  DCNN_CHECK(count <= DCNN__ONNX_MAX_ELEMENTS, DCNN_ERR_UNSUPPORTED, "ONNX import: input '%.64s' is too large", name);
  *out = dcnn_shape_make((int32_t)s->n_dim - 1, d[0], d[1], d[2], 0);
  return DCNN_OK;
}

static dcnn_status check_versions(const Onnx__ModelProto *m, int64_t *opset) {
  DCNN_CHECK(m->graph != NULL, DCNN_ERR_BAD_FORMAT, "ONNX import: the model has no graph");
  DCNN_CHECK(m->has_ir_version && m->ir_version >= 3 && m->ir_version <= 8, DCNN_ERR_UNSUPPORTED,
             "ONNX import: IR version %lld (3 to 8 are read)", (long long)m->ir_version);
  *opset = -1;
  int defaults = 0; /* "" and "ai.onnx" name the same domain: two versions of it would be ambiguous */
  for (size_t i = 0; i < m->n_opset_import; ++i) {
    const Onnx__OperatorSetIdProto *o = m->opset_import[i];
    if (!o->domain || !o->domain[0] || !strcmp(o->domain, "ai.onnx")) {
      *opset = o->has_version ? o->version : -1;
      ++defaults;
    }
  }
  DCNN_CHECK(defaults <= 1, DCNN_ERR_BAD_FORMAT, "ONNX import: the default-domain opset is imported %d times",
             defaults);
  DCNN_CHECK(*opset >= 7 && *opset <= DCNN_ONNX_MAX_OPSET, DCNN_ERR_UNSUPPORTED,
             "ONNX import: default-domain opset %lld (7 to %d are read)", (long long)*opset, DCNN_ONNX_MAX_OPSET);
  return DCNN_OK;
}

/* A metadata_props entry to restore, and its place in the file. */
typedef struct meta_item {
  const char *key, *value;
  size_t index;
} meta_item;

static int compare_items(const void *a, const void *b) {
  const meta_item *x = a, *y = b;
  const int c = strcmp(x->key, y->key);
  return c ? c : (x->index > y->index) - (x->index < y->index);
}

/* Whether entry `e` is restored (*keep); `nul`: its key or value holds a NUL byte. */
static dcnn_status check_entry(const Onnx__StringStringEntryProto *e, int nul, int *keep) {
  *keep = 0;
  /* Keys this library cannot hold (other exporters' conventions) are left out, as values longer than an entry's. */
  if (!e->key || !e->value || !dcnn__valid_key(e->key)) return DCNN_OK;
  DCNN_CHECK(!nul, DCNN_ERR_UNSUPPORTED, "ONNX import: metadata_props entry '%.64s' holds a NUL byte, which a "
             "model's metadata cannot (its text would be cut short at it)", e->key);
  if (strlen(e->value) > 65536) return DCNN_OK;
  /* Imported, such a value would make the model one that cannot be exported again. */
  DCNN_CHECK(dcnn__onnx_utf8_valid(e->value), DCNN_ERR_BAD_FORMAT, "ONNX import: metadata_props entry '%.64s' is "
             "not UTF-8, which ONNX's strings must be", e->key);
  *keep = 1;
  return DCNN_OK;
}

/* Sets the entries of `items` (count of them) in `m`, naming the one that does not fit. */
static dcnn_status set_entries(dcnn_model *m, meta_item *items, size_t count) {
  /* In key order, the file's among equal keys (the last one stays, as in file order): each entry then goes at
   * the end of the model's sorted list, so that n entries cost O(n log n) rather than O(n^2). */
  if (count > 1) qsort(items, count, sizeof *items, compare_items);
  for (size_t i = 0; i < count; ++i) {
    const dcnn_status status = dcnn_model_set_metadata(m, items[i].key, items[i].value);
    /* More text or entries than a model holds is a limit of this library, not a wrong argument of the caller's. */
    if (status == DCNN_ERR_INVALID_ARGUMENT)
      return dcnn__wrap_error(DCNN_ERR_UNSUPPORTED, "ONNX import: metadata_props entry '%.64s'", items[i].key);
    DCNN_TRY(status);
  }
  return DCNN_OK;
}

/* The file's metadata_props, checked in file order, into `m`. */
static dcnn_status restore_metadata(const dcnn__onnx_importer *im, const Onnx__ModelProto *proto, dcnn_model *m) {
  const size_t n = proto->n_metadata_props;
  if (n == 0) return DCNN_OK;
  uint8_t *nuls = dcnn__calloc(im->ctx, n, 1);
  meta_item *items = dcnn__calloc(im->ctx, n, sizeof *items);
  dcnn_status status = nuls && items ? DCNN_OK : dcnn__fail(DCNN_ERR_OUT_OF_MEMORY, "ONNX import: out of memory");
  if (status == DCNN_OK) dcnn__proto_metadata_nuls(im->data, im->size, nuls, n);
  size_t count = 0;
  for (size_t k = 0; status == DCNN_OK && k < n; ++k) {
    int keep = 0;
    status = check_entry(proto->metadata_props[k], nuls[k], &keep);
    if (keep) items[count++] = (meta_item){proto->metadata_props[k]->key, proto->metadata_props[k]->value, k};
  }
  if (status == DCNN_OK) status = set_entries(m, items, count);
  dcnn__release(im->ctx, nuls);
  dcnn__release(im->ctx, items);
  return status;
}

/* The model: layers in a fresh model, weights copied in, metadata restored. */
static dcnn_status make_model(dcnn__onnx_importer *im, dcnn_context *ctx, const Onnx__ModelProto *proto,
                              const dcnn_shape *sample, dcnn__onnx_seq *seq, dcnn_model **out) {
  dcnn_model *m = NULL;
  dcnn_status status = dcnn_model_create(ctx, sample, &m);
  int32_t i = 0;
  for (; status == DCNN_OK && i < seq->count; ++i) status = dcnn_model_add(m, seq->layers[i]);
  /* a layer that refuses its input shape (an output past 2^31-1 elements a sample) said so without the import */
  if (status != DCNN_OK && i > 0) /* i > 0: the model was created and layer i - 1 refused */
    status = dcnn__wrap_error(status, "ONNX import: building the model's layer %d", (int)i - 1);
  for (; i < seq->count; ++i) dcnn_layer_destroy(seq->layers[i]); /* not handed over */
  seq->count = 0;
  if (status == DCNN_OK) status = dcnn_model_init(m, 0); /* seeds dropout; the weights come next */
  for (int32_t k = 0; status == DCNN_OK && k < im->pending_count; ++k) {
    const dcnn__onnx_pending *p = &im->pending[k];
    dcnn_param param = DCNN_STRUCT_INIT(dcnn_param);
    status = dcnn_layer_param(p->layer, p->index, &param);
    if (status == DCNN_OK && dcnn_tensor_count(param.value) != p->count)
      status = dcnn__fail(DCNN_ERR_SHAPE_MISMATCH, "ONNX import: %s parameter '%s' holds %lld values, the file %lld",
                          dcnn_layer_type(p->layer), param.name, (long long)dcnn_tensor_count(param.value),
                          (long long)p->count);
    if (status == DCNN_OK) memcpy(dcnn_tensor_data(param.value), p->values, (size_t)p->count * sizeof(float));
  }
  if (status == DCNN_OK) status = restore_metadata(im, proto, m);
  if (status != DCNN_OK) {
    dcnn_model_destroy(m);
    return status;
  }
  *out = m;
  return DCNN_OK;
}

static dcnn_status import_model(dcnn__onnx_importer *im, dcnn_context *ctx, const Onnx__ModelProto *proto,
                                dcnn_model **out) {
  DCNN_TRY(check_versions(proto, &im->opset));
  im->graph = proto->graph;
  int32_t input = -1;
  DCNN_TRY(index_graph(im, &input));
  dcnn_shape sample;
  DCNN_TRY(input_shape(im->graph, im->values[input].name, &sample));
  DCNN_CHECK(im->graph->n_output == 1 && im->graph->output[0]->name, DCNN_ERR_UNSUPPORTED,
             "ONNX import: the graph has %zu outputs; one is supported", im->graph->n_output);
  dcnn_shape shape = dcnn_shape_make(sample.ndim + 1, 1, sample.dims[0], sample.dims[1], sample.dims[2]);
  dcnn__onnx_seq seq = {0};
  int32_t end = -1, join = -1;
  dcnn_status status = walk(im, -1, input, &shape, &seq, 0, &end, &join);
  if (status == DCNN_OK && (join >= 0 || strcmp(im->values[end].name, im->graph->output[0]->name)))
    status = dcnn__fail(DCNN_ERR_UNSUPPORTED, "ONNX import: the chain from the input ends at '%.64s', not at the "
                        "graph output '%.64s'", im->values[end].name, im->graph->output[0]->name);
  if (status == DCNN_OK && seq.count == 0)
    status = dcnn__fail(DCNN_ERR_UNSUPPORTED, "ONNX import: the graph has no operator this library makes a layer of");
  for (size_t n = 0; status == DCNN_OK && n < im->graph->n_node; ++n)
    if (!im->visited[n]) {
      char text[160];
      status = dcnn__fail(DCNN_ERR_UNSUPPORTED, "ONNX import: %s is not on the chain from the input to the output",
                          dcnn__onnx_node_text(im, (int32_t)n, text, sizeof text));
    }
  if (status == DCNN_OK) status = make_model(im, ctx, proto, &sample, &seq, out);
  seq_free(im, &seq);
  return status;
}

dcnn_status dcnn_model_import_onnx_memory(dcnn_context *ctx, const void *data, size_t size, dcnn_model **out) {
  DCNN_CHECK(out != NULL, DCNN_ERR_INVALID_ARGUMENT, "dcnn_model_import_onnx: 'out' is NULL");
  *out = NULL;
  DCNN_CHECK(data || size == 0, DCNN_ERR_INVALID_ARGUMENT, "dcnn_model_import_onnx: 'data' is NULL");
  /* BAD_FORMAT, as the file variant's read says of a larger file: no valid ONNX file is that large */
  DCNN_CHECK(size < (size_t)INT32_MAX, DCNN_ERR_BAD_FORMAT,
             "dcnn_model_import_onnx: %zu bytes exceed ONNX's 2 GiB (protobuf's limit)", size);
  DCNN_CHECK(dcnn__proto_nesting_within(data, size, DCNN__ONNX_MAX_NESTING), DCNN_ERR_BAD_FORMAT,
             "dcnn_model_import_onnx: not a model this library reads (messages nested more than %d levels deep)",
             DCNN__ONNX_MAX_NESTING);
  /* What a model of `size` bytes needs, with room for the messages' own structs. */
  bounded budget = {ctx, 0, (size_t)64 << 20, 0};
  budget.limit += size > ((size_t)1 << 30) / 8 ? (size_t)1 << 30 : 8 * size;
  ProtobufCAllocator allocator = {bounded_alloc, bounded_free, &budget};
  Onnx__ModelProto *proto = onnx__model_proto__unpack(&allocator, size, data);
  DCNN_CHECK(proto != NULL || !budget.out_of_memory, DCNN_ERR_OUT_OF_MEMORY,
             "dcnn_model_import_onnx: out of memory decoding %zu bytes of ONNX", size);
  DCNN_CHECK(proto != NULL, DCNN_ERR_BAD_FORMAT,
             "dcnn_model_import_onnx: not a valid ONNX model (protobuf decoding failed%s)",
             budget.used >= budget.limit / 2 ? ", or it needs more memory than its size justifies" : "");
  dcnn__onnx_importer im;
  memset(&im, 0, sizeof im);
  im.data = data;
  im.size = size;
  im.param_budget = DCNN__ONNX_PARAM_SLACK;
  im.ctx = ctx;
  draw_hash_key(im.hash_key);
  const dcnn_status status = import_model(&im, ctx, proto, out);
  for (int32_t i = 0; i < im.owned_count; ++i) dcnn__release(ctx, im.owned[i]);
  void *const buffers[] = {im.owned, im.pending, im.values, im.readers, im.waiting_fork, im.waiting_branch,
                           im.table, im.floats, im.visited};
  for (size_t i = 0; i < sizeof buffers / sizeof *buffers; ++i) dcnn__release(ctx, buffers[i]);
  onnx__model_proto__free_unpacked(proto, &allocator);
  return status;
}

dcnn_status dcnn_model_import_onnx(dcnn_context *ctx, const char *path, dcnn_model **out) {
  DCNN_CHECK(out != NULL, DCNN_ERR_INVALID_ARGUMENT, "dcnn_model_import_onnx: 'out' is NULL");
  *out = NULL;
  DCNN_CHECK(path != NULL, DCNN_ERR_INVALID_ARGUMENT, "dcnn_model_import_onnx: 'path' is NULL");
  uint8_t *data = NULL;
  uint64_t size = 0;
  const char *enclosing = dcnn__file_scope_enter(path); /* every error from here is about the file */
  /* the largest size the memory variant takes: a file of INT32_MAX bytes was read whole, then refused */
  dcnn_status status = dcnn__read_file_in(ctx, path, NULL, (uint64_t)INT32_MAX - 1, &data, &size);
  if (status == DCNN_OK) {
    status = dcnn_model_import_onnx_memory(ctx, data, (size_t)size, out);
    dcnn__release(ctx, data);
  }
  dcnn__file_scope_leave(enclosing);
  return status;
}
