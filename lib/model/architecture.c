/* Architecture text: "input <ndim> <dims>", then "layer <type> <config>" per
 * layer. A residual block's line says how many layers its body and shortcut
 * have ("layer residual relu=1 body=3 shortcut=1"); they follow it, indented.
 * Nesting is bounded so that a crafted file cannot exhaust the stack. */
#include "architecture.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/keyvalue.h"
#include "digitcnn/registry.h"

/* The loader's limits (docs/model-format.md, "Limits"); the writer checks them too, so that a save never writes
 * a file the loader refuses. */
#define MAX_DEPTH DCNN__MAX_RESIDUAL_DEPTH
#define MAX_CHAIN 4096
#define MAX_INPUT_DIM 65536
#define CONFIG_BYTES 1024
/* Longest configuration a load reads: room beyond what any writer wrote (hand-edited files). */
#define CONFIG_READ_LIMIT (4 * CONFIG_BYTES)
_Static_assert(DCNN_LAYER_SETTINGS_BYTES == CONFIG_BYTES + 1,
               "DCNN_LAYER_SETTINGS_BYTES holds the longest settings text a file keeps, and one byte more");

int32_t dcnn__layer_records(const dcnn_layer *layer, int32_t cap) {
  dcnn_layer *const *parts[2];
  int32_t counts[2], records = 1;
  int relu = 0;
  if (!dcnn__residual_parts(layer, parts, counts, &relu)) return records;
  /* Each level of nesting is a record: stopping past `cap` also bounds the recursion. */
  for (int p = 0; p < 2; ++p)
    for (int32_t i = 0; i < counts[p] && records <= cap; ++i) records += dcnn__layer_records(parts[p][i], cap - records);
  return records;
}

/* What a save writes must load: the configuration is read back as the loader
 * will (a constructor may take sizes its reader refuses, units=65537 say).
 * A type not registered here is the loading program's to register: left to it. */
static dcnn_status check_loads(const char *type, const char *config, int64_t *factory_bytes) {
  dcnn__error_saved saved;
  dcnn__error_save(&saved);
  dcnn_layer *probe = NULL;
  /* what the factory allocates counts against the load's budget as builds do (a user layer's tables made at
   * creation): measured here, where the loader's own factory call is repeated */
  const int64_t before = dcnn__alloc_bytes_requested();
  const dcnn_status status = dcnn_layer_from_config(type, config, &probe);
  *factory_bytes += dcnn__alloc_bytes_requested() - before;
  dcnn_layer_destroy(probe);
  if (status == DCNN_OK || status == DCNN_ERR_NOT_FOUND) {
    dcnn__error_restore(&saved);
    return DCNN_OK;
  }
  if (status == DCNN_ERR_OUT_OF_MEMORY) return status;
  return dcnn__wrap_error(DCNN_ERR_UNSUPPORTED, "layer type '%s' with \"%s\" cannot be saved: the loader would refuse it",
                          type, config);
}

static dcnn_status write_layer(const dcnn_layer *l, int depth, dcnn_bytes *out, int64_t *factory_bytes) {
  /* one byte more than a saved configuration may hold: a describe() that fills
   * it may have been cut short, which the loader would misread */
  char config[CONFIG_BYTES + 1] = "", line[CONFIG_BYTES + 128];
  dcnn_layer *const *parts[2];
  int32_t counts[2];
  int relu = 0;
  const int residual = dcnn__residual_parts(l, parts, counts, &relu);
  /* `depth` is the number of blocks around `l`: a block at depth MAX_DEPTH - 1 is the MAX_DEPTH-th level. */
  DCNN_CHECK(!residual || depth < MAX_DEPTH, DCNN_ERR_UNSUPPORTED,
             "residual blocks nested deeper than %d cannot be saved", MAX_DEPTH);
  DCNN_CHECK(!residual || (counts[0] <= MAX_CHAIN && counts[1] <= MAX_CHAIN), DCNN_ERR_UNSUPPORTED,
             "a residual block of more than %d body or shortcut layers cannot be saved", MAX_CHAIN);
  if (residual) snprintf(config, sizeof config, "relu=%d body=%d shortcut=%d", relu, (int)counts[0], (int)counts[1]);
  else if (l->vt->describe) {
    const uint64_t mark = dcnn__error_mark(); /* a custom describe() may fail without a message of its own */
    const dcnn_status status = l->vt->describe(l->self, config, (int32_t)sizeof config);
    if (status != DCNN_OK) { /* the message names what the callback returned, the save returns its own status */
      (void)dcnn__callee_error(status, mark, "layer type '%s': describe()", l->vt->type_name);
      return status == DCNN_ERR_OUT_OF_MEMORY ? status : DCNN_ERR_UNSUPPORTED;
    }
  }
  config[sizeof config - 1] = '\0';
  DCNN_CHECK(strlen(config) < CONFIG_BYTES, DCNN_ERR_UNSUPPORTED,
             "layer type '%s': its configuration is longer than %d bytes and cannot be saved", l->vt->type_name,
             CONFIG_BYTES - 1);
  DCNN_CHECK(!strchr(config, '\n') && !strchr(config, '\r'), DCNN_ERR_UNSUPPORTED,
             "layer type '%s': its describe() output contains a line break", l->vt->type_name);
  DCNN_CHECK(dcnn__valid_key(l->vt->type_name), DCNN_ERR_UNSUPPORTED,
             "layer type name '%.64s' cannot be saved (1-63 of a-z A-Z 0-9 _ . -)", l->vt->type_name);
  if (!residual) DCNN_TRY(check_loads(l->vt->type_name, config, factory_bytes));
  snprintf(line, sizeof line, "%*slayer %s%s%s\n", 2 * depth, "", l->vt->type_name, *config ? " " : "", config);
  dcnn__bytes_put(out, line, strlen(line));
  for (int p = 0; residual && p < 2; ++p)
    for (int32_t i = 0; i < counts[p]; ++i) DCNN_TRY(write_layer(parts[p][i], depth + 1, out, factory_bytes));
  return DCNN_OK;
}

dcnn_status dcnn__architecture_write(const dcnn_model *m, dcnn_bytes *out, int64_t *factory_bytes) {
  int64_t ignored = 0;
  if (!factory_bytes) factory_bytes = &ignored;
  *factory_bytes = 0;
  for (int32_t i = 0; i < m->sample_shape.ndim; ++i)
    DCNN_CHECK(m->sample_shape.dims[i] <= MAX_INPUT_DIM, DCNN_ERR_UNSUPPORTED,
               "dcnn_model_save: input dimension %d is %d, more than the %d a model file holds", (int)i,
               (int)m->sample_shape.dims[i], MAX_INPUT_DIM);
  int64_t records = 0;
  for (int32_t i = 0; i < m->layer_count && records <= DCNN__MAX_LAYER_RECORDS; ++i)
    records += dcnn__layer_records(m->layers[i], DCNN__MAX_LAYER_RECORDS);
  DCNN_CHECK(records <= DCNN__MAX_LAYER_RECORDS, DCNN_ERR_UNSUPPORTED,
             "dcnn_model_save: more than %d layer records (nested layers counted), the limit of a model file",
             DCNN__MAX_LAYER_RECORDS);
  char line[128];
  int n = snprintf(line, sizeof line, "input %d", (int)m->sample_shape.ndim);
  for (int32_t i = 0; i < m->sample_shape.ndim; ++i)
    n += snprintf(line + n, sizeof line - (size_t)n, " %d", (int)m->sample_shape.dims[i]);
  snprintf(line + n, sizeof line - (size_t)n, "\n");
  dcnn__bytes_put(out, line, strlen(line));
  for (int32_t i = 0; i < m->layer_count; ++i) {
    dcnn_status status = write_layer(m->layers[i], 0, out, factory_bytes);
    if (status != DCNN_OK) return dcnn__wrap_error(status, "dcnn_model_save: layer %d", (int)i);
  }
  return DCNN_OK;
}

/* ---- parsing ---- */

typedef struct cursor {
  dcnn_context *ctx;
  const char *name;
  char *next; /* start of the next unread line, or NULL at the end */
  int32_t line_no;
  int32_t layers; /* layer records read so far */
} cursor;

/* The next line, NUL-terminated, with its leading spaces skipped and counted in `indent`; NULL at the end. */
static dcnn_status next_line(cursor *c, char **line, int32_t *indent) {
  *line = NULL;
  *indent = 0;
  if (!c->next || !*c->next) return DCNN_OK;
  char *end = strchr(c->next, '\n');
  DCNN_CHECK(end != NULL, DCNN_ERR_BAD_FORMAT, "%s: architecture line %d is not terminated", c->name,
             (int)c->line_no + 1);
  *end = '\0';
  c->line_no++;
  /* "\r\n" endings (a file passed through a text-mode tool) read as a type "relu\r" the registry lacks */
  DCNN_CHECK(!memchr(c->next, '\r', (size_t)(end - c->next)), DCNN_ERR_BAD_FORMAT,
             "%s: architecture line %d holds a carriage return (lines end with \\n alone)", c->name, (int)c->line_no);
  char *p = c->next;
  while (*p == ' ') ++p;
  *indent = (int32_t)(p - c->next);
  c->next = end + 1;
  *line = p;
  return DCNN_OK;
}

static dcnn_status bad_line(const cursor *c, const char *what) {
  return dcnn__fail(DCNN_ERR_BAD_FORMAT, "%s: architecture line %d: %s", c->name, (int)c->line_no, what);
}

/* Parses one layer record (and, for a residual block, the records of its sub-layers). */
static dcnn_status parse_layer(cursor *c, int depth, dcnn_layer **out) {
  *out = NULL;
  char *line = NULL;
  int32_t indent = 0;
  DCNN_TRY(next_line(c, &line, &indent));
  if (!line) return dcnn__fail(DCNN_ERR_BAD_FORMAT, "%s: the architecture ends inside a residual block", c->name);
  if (strncmp(line, "layer ", 6) != 0 || !line[6]) return bad_line(c, "expected \"layer <type> <config>\"");
  /* The block's counts decide which layers are in it; an indentation that says otherwise (a layer indented
   * as a block's but past its count) would load as another model than the text shows. */
  if (indent != 2 * depth) {
    char what[128];
    snprintf(what, sizeof what, "indented by %d spaces; a layer %s is indented by %d", (int)indent,
             depth ? "inside residual blocks" : "outside residual blocks", (int)(2 * depth));
    return bad_line(c, what);
  }
  if (++c->layers > DCNN__MAX_LAYER_RECORDS) {
    char what[96];
    snprintf(what, sizeof what, "more than %d layers (the limit of a model file)", DCNN__MAX_LAYER_RECORDS);
    return bad_line(c, what);
  }
  char *type = line + 6, *config = strchr(type, ' ');
  if (config) *config++ = '\0';
  else config = "";
  /* The writer's configurations fit CONFIG_BYTES; a far longer one is crafted,
   * and every reader of it would pay for its length once per key it asks. */
  const size_t config_length = strlen(config);
  if (config_length > CONFIG_READ_LIMIT) {
    char what[128];
    snprintf(what, sizeof what, "a layer configuration of %zu bytes (at most %d are read; files hold at most %d)",
             config_length, CONFIG_READ_LIMIT, CONFIG_BYTES - 1);
    return bad_line(c, what);
  }
  const int32_t line_no = c->line_no;
  if (strcmp(type, "residual") != 0) {
    dcnn_status status = dcnn_layer_from_config(type, config, out);
    if (status == DCNN_OK) return DCNN_OK;
    return dcnn__wrap_error(status == DCNN_ERR_OUT_OF_MEMORY || status == DCNN_ERR_NOT_FOUND ? status
                                                                                              : DCNN_ERR_BAD_FORMAT,
                            "%s: architecture line %d", c->name, (int)line_no);
  }
  /* The same count as the writer's: `depth` blocks around this one, so it is level depth + 1. */
  if (depth >= MAX_DEPTH) {
    char what[80];
    snprintf(what, sizeof what, "residual blocks nested too deeply (more than %d levels)", MAX_DEPTH);
    return bad_line(c, what);
  }
  int32_t relu = 0, counts[2] = {0, 0};
  dcnn__kv kv = dcnn__kv_reader(config);
  kv.ctx = c->ctx;
  dcnn_status status = dcnn__kv_int(&kv, "relu", 0, 1, &relu);
  if (status == DCNN_OK) status = dcnn__kv_int(&kv, "body", 1, MAX_CHAIN, &counts[0]);
  if (status == DCNN_OK) status = dcnn__kv_int(&kv, "shortcut", 0, MAX_CHAIN, &counts[1]);
  if (status == DCNN_OK) status = dcnn__kv_finish(&kv);
  if (status != DCNN_OK) return dcnn__wrap_error(DCNN_ERR_BAD_FORMAT, "%s: architecture line %d: residual", c->name,
                                                 (int)line_no);
  dcnn_layer **layers = dcnn__calloc(c->ctx, (size_t)(counts[0] + counts[1]), sizeof *layers);
  DCNN_CHECK(layers != NULL, DCNN_ERR_OUT_OF_MEMORY, "%s: out of memory", c->name);
  int32_t made = 0;
  for (; status == DCNN_OK && made < counts[0] + counts[1]; ++made) {
    status = parse_layer(c, depth + 1, &layers[made]);
    if (status != DCNN_OK) break;
  }
  if (status == DCNN_OK) {
    status = dcnn_residual_create(layers, counts[0], layers + counts[0], counts[1],
                                  relu ? DCNN_RESIDUAL_RELU : DCNN_RESIDUAL_LINEAR, out);
    if (status != DCNN_OK) status = dcnn__wrap_error(status, "%s: architecture line %d", c->name, (int)line_no);
  } else {
    for (int32_t i = 0; i < made; ++i) dcnn_layer_destroy(layers[i]);
  }
  dcnn__release(c->ctx, layers);
  return status;
}

static dcnn_status parse_input(cursor *c, dcnn_context *ctx, dcnn_model **m) {
  char *line = NULL;
  int32_t indent = 0;
  DCNN_TRY(next_line(c, &line, &indent));
  long values[4] = {0, 0, 0, 0};
  int count = 0, ok = line && indent == 0 && strncmp(line, "input ", 6) == 0;
  char *p = ok ? line + 6 : NULL, *end = NULL;
  while (ok && *p && count < 5) {
    errno = 0;
    long v = strtol(p, &end, 10);
    if (end == p || errno || v < 1 || v > MAX_INPUT_DIM || (*end && *end != ' ') || count == 4) ok = 0;
    else values[count++] = v;
    p = *end ? end + 1 : end;
  }
  if (!ok || count < 2 || values[0] > 3 || count != values[0] + 1)
    return dcnn__fail(DCNN_ERR_BAD_FORMAT, "%s: architecture line 1: expected \"input <ndim> <dims>\"", c->name);
  /* A sample of more than 2^31-1 values is refused by dcnn_model_add, with the first layer's line. */
  dcnn_shape s = dcnn_shape_make((int32_t)values[0], (int32_t)values[1], (int32_t)values[2], (int32_t)values[3], 0);
  dcnn_status status = dcnn_model_create(ctx, &s, m);
  if (status == DCNN_OK) return DCNN_OK;
  return dcnn__wrap_error(status == DCNN_ERR_OUT_OF_MEMORY ? status : DCNN_ERR_BAD_FORMAT, "%s: architecture line 1",
                          c->name);
}

dcnn_status dcnn__architecture_build(dcnn_context *ctx, const char *name, char *text, dcnn_model **out) {
  *out = NULL;
  cursor c = {ctx, name, text, 0, 0};
  dcnn_model *m = NULL;
  dcnn_status status = parse_input(&c, ctx, &m);
  while (status == DCNN_OK && c.next && *c.next) {
    dcnn_layer *layer = NULL;
    status = parse_layer(&c, 0, &layer);
    const int32_t line_no = c.line_no;
    if (status == DCNN_OK) {
      status = dcnn_model_add(m, layer);
      if (status != DCNN_OK)
        status = dcnn__wrap_error(status == DCNN_ERR_OUT_OF_MEMORY ? status : DCNN_ERR_BAD_FORMAT,
                                  "%s: architecture line %d", name, (int)line_no);
    }
  }
  if (status == DCNN_OK && m->layer_count == 0)
    status = dcnn__fail(DCNN_ERR_BAD_FORMAT, "%s: the architecture has no layers", name);
  if (status != DCNN_OK) {
    dcnn_model_destroy(m);
    return status;
  }
  *out = m;
  return DCNN_OK;
}
