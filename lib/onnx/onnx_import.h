/* The importer's state, shared by the graph walk (onnx_import.c) and the
 * operator converters (onnx_ops.c). */
#ifndef DCNN_ONNX_IMPORT_H
#define DCNN_ONNX_IMPORT_H

#include "onnx_internal.h"

/* Limits on what a file may ask for (docs/onnx.md, "Limits"). */
#define DCNN__ONNX_MAX_NODES 65536
#define DCNN__ONNX_MAX_VALUES (4 * 65536)
#define DCNN__ONNX_MAX_ELEMENTS (INT64_C(1) << 28) /* of one tensor */
#define DCNN__ONNX_MAX_DEPTH DCNN__MAX_RESIDUAL_DEPTH /* residual nesting: a model file's, so imports save */
/* Parameter values the imported layers may hold beyond the float values the
 * file stores (broadcast biases, small tensors shared by two layers): with it a
 * file cannot make the model much larger than itself (one weight read by many
 * layers would otherwise be copied into each). */
#define DCNN__ONNX_PARAM_SLACK (INT64_C(1) << 16)
/* Levels of nested messages a file may have (protobuf's own default limit):
 * the decoder recurses once per level. */
#define DCNN__ONNX_MAX_NESTING 100

/* 1 when no chain of length-delimited fields that read as messages nests
 * deeper than `limit` (at most DCNN__ONNX_MAX_NESTING) below the top message of
 * data[0, size), or when the data is not a message at all; 0 otherwise
 * (proto_depth.c). */
int dcnn__proto_nesting_within(const uint8_t *data, size_t size, int limit);

/* Sets flags[k] to 1 for each ModelProto.metadata_props entry k (< count) of
 * data[0, size) whose key or value holds a NUL byte (proto_depth.c):
 * protobuf-c hands strings over NUL-terminated, without their length, so the
 * bytes after a NUL would be lost without a word. */
void dcnn__proto_metadata_nuls(const uint8_t *data, size_t size, uint8_t *flags, size_t count);

/* A named value of the graph: the graph input, an initializer, a Constant's
 * output or a node's output. */
typedef struct dcnn__onnx_value {
  const char *name;
  int32_t producer;        /* node index; -1 for the graph input and constants */
  /* The nodes that read it as data (not as a constant), in node order; a node that reads it twice is listed
   * twice. Nested residual blocks that start at one value all read it: a fork has any number of readers. */
  const int32_t *consumers;
  int32_t consumer_count;
  const Onnx__TensorProto *constant; /* initializer or Constant value; NULL for computed values */
} dcnn__onnx_value;

/* A parameter to copy into a layer once the model is built. */
typedef struct dcnn__onnx_pending {
  dcnn_layer *layer;
  int32_t index;
  const float *values;
  int64_t count;
} dcnn__onnx_pending;

/* Layers in order (a chain, before it goes into a model or a residual block). */
typedef struct dcnn__onnx_seq {
  dcnn_layer **layers;
  int32_t count, capacity;
  int32_t levels; /* residual blocks nested in its deepest layer (0: none), against DCNN__ONNX_MAX_DEPTH */
} dcnn__onnx_seq;

typedef struct dcnn__onnx_importer {
  const uint8_t *data; /* the file's bytes, for what protobuf-c does not say (dcnn__proto_metadata_nuls) */
  size_t size;
  const Onnx__GraphProto *graph;
  int64_t opset;
  dcnn__onnx_value *values;
  int32_t value_count;
  int32_t *readers; /* every value's consumers, one after another */
  int32_t *table; /* open addressing: value index + 1, 0 empty */
  uint32_t table_mask;
  /* Keys of the table's hash, drawn for each import: names in a file cannot be chosen to collide (unkeyed, 32,768
   * crafted names made one probe sequence of them all; a 450 KB file took 5.8 s). Slots depend on them, results
   * and messages do not. */
  uint64_t hash_key[2];
  /* Per node, for the fork being assembled (fork() in onnx_import.c): which fork (its serial) and which of its branches
   * waits at the node, an Add, for the branch that ends in its other input. */
  int32_t *waiting_fork, *waiting_branch;
  int32_t forks; /* serials handed out */
  /* Float constants read so far, by address (open addressing, table_mask + 1 slots): each
   * raw_data is converted once however many nodes read it. */
  struct dcnn__onnx_floats {
    const Onnx__TensorProto *tensor;
    const float *values;
  } *floats;
  uint8_t *visited; /* per node */
  dcnn__onnx_pending *pending;
  int32_t pending_count, pending_capacity;
  dcnn_context *ctx; /* the import's: every buffer here comes from its allocator */
  void **owned; /* converted float arrays, freed at the end */
  int32_t owned_count, owned_capacity;
  int32_t layers; /* created so far, nested ones included */
  int64_t param_budget; /* parameter values the layers may still take: the file's floats + slack */
} dcnn__onnx_importer;

/* Slots the importer's hash tables have probed on the calling thread, all imports so far: a test's hook for
 * the cost of lookups (each probe also compares a name). */
uint64_t dcnn__onnx_probes(void);
/* The slot of the address `p` in a table of table_mask + 1 slots (the float constants'), keyed as the names' are;
 * the slot after `slot`. Both count as probes. */
uint32_t dcnn__onnx_pointer_slot(const dcnn__onnx_importer *im, const void *p);
uint32_t dcnn__onnx_next_slot(const dcnn__onnx_importer *im, uint32_t slot);
/* Index of the value named `name`, -1 if none. */
int32_t dcnn__onnx_find(const dcnn__onnx_importer *im, const char *name);
/* Appends `layer` to `seq` (destroying it on failure). */
dcnn_status dcnn__onnx_seq_push(dcnn__onnx_importer *im, dcnn__onnx_seq *seq, dcnn_layer *layer);
/* Records values to copy into parameter `index` of `layer` once built; fails
 * when the layers would hold more values than the file justifies (param_budget). */
dcnn_status dcnn__onnx_pend(dcnn__onnx_importer *im, dcnn_layer *layer, int32_t index, const float *values,
                            int64_t count);
/* Whether `count` more parameter values fit the budget (fails naming the limit if not). */
dcnn_status dcnn__onnx_budget(const dcnn__onnx_importer *im, int64_t count);
/* A buffer of `count` floats owned by the importer. */
float *dcnn__onnx_scratch(dcnn__onnx_importer *im, int64_t count);
/* Whether node `n` is an Add of two computed values (the join of a residual fork). */
int dcnn__onnx_is_join(const dcnn__onnx_importer *im, int32_t n);
/* Whether the chain's (N, C) shape is ONNX's (N, C, 1, 1) after a GlobalAveragePool (onnx_ops.c). */
int dcnn__onnx_pooled_4d(const dcnn_shape *s);

/* Converts node `n`, whose input 0 is value `v` (the chain's current value of
 * per-sample shape `*shape`, batch 1), into layers appended to `seq`; may take
 * the node after it too (BatchNormalization + Relu, MatMul + Add). Sets `*next`
 * to the value the chain continues from and updates `*shape`. */
dcnn_status dcnn__onnx_convert(dcnn__onnx_importer *im, int32_t n, int32_t v, dcnn_shape *shape,
                               dcnn__onnx_seq *seq, int32_t *next);

/* "node 3 'conv1' (Conv)" for messages. */
const char *dcnn__onnx_node_text(const dcnn__onnx_importer *im, int32_t n, char *buf, size_t size);

#endif
