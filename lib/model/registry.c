/* Layer types by name: the built-in ones (layers/builtin_table.c) and those
 * users register, both a name and a factory that rebuilds a layer from the
 * configuration its describe() slot wrote; loading takes one path for both. */
#include "../core/internal.h"
#include "../core/keyvalue.h"
#include "../layers/builtin_table.h"
#include "digitcnn/registry.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digitcnn/builtin_layers.h"
#include "model_internal.h"

/* ---- configuration strings: the library's key=value reader (core/keyvalue.c) ---- */

/* The built-in readers refuse a malformed word or a key given twice; a user
 * factory reading its keys one call at a time gets the same. (Keys it does
 * not read cannot be told from keys it reads in another call: not checked.) */
static dcnn_status config_reader(const char *fn, const char *config, const char *key, dcnn__kv *kv) {
  DCNN_CHECK(key[0] != '\0' && !strpbrk(key, "= \t\n\r\v\f"), DCNN_ERR_INVALID_ARGUMENT,
             "%s: key '%.64s' is not a word without '=' or white space", fn, key);
  *kv = dcnn__kv_reader(config);
  return dcnn__kv_check_pairs(kv);
}

dcnn_status dcnn_config_int(const char *config, const char *key, int32_t lo, int32_t hi, int32_t *out) {
  DCNN_CHECK_ARG(key);
  DCNN_CHECK_ARG(out);
  dcnn__kv kv;
  DCNN_TRY(config_reader("dcnn_config_int", config, key, &kv));
  return dcnn__kv_int(&kv, key, lo, hi, out);
}

dcnn_status dcnn_config_float(const char *config, const char *key, float *out) {
  DCNN_CHECK_ARG(key);
  DCNN_CHECK_ARG(out);
  dcnn__kv kv;
  DCNN_TRY(config_reader("dcnn_config_float", config, key, &kv));
  return dcnn__kv_float(&kv, key, out);
}

/* ---- user types ---- */

typedef struct entry {
  char name[64];
  dcnn_layer_factory factory;
  void *user;
} entry;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static entry *entries;
static int32_t entry_count, entry_capacity;

static int32_t find_entry(const char *name) {
  for (int32_t i = 0; i < entry_count; ++i)
    if (!strcmp(entries[i].name, name)) return i;
  return -1;
}

static int valid_name(const char *name) { return dcnn__valid_key(name); }
dcnn_status dcnn_layer_register(const char *type_name, dcnn_layer_factory factory, void *user) {
  DCNN_CHECK_ARG(type_name);
  DCNN_CHECK_ARG(factory);
  DCNN_CHECK(valid_name(type_name), DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_layer_register: '%.64s' is not a valid type name (1-63 of a-z A-Z 0-9 _ . -)", type_name);
  DCNN_CHECK(!dcnn__builtin_layer_find(type_name), DCNN_ERR_INVALID_ARGUMENT, "dcnn_layer_register: '%s' is a built-in type",
             type_name);
  dcnn_status status = DCNN_OK;
  pthread_mutex_lock(&lock);
  if (find_entry(type_name) >= 0) {
    status = dcnn__fail(DCNN_ERR_INVALID_ARGUMENT, "dcnn_layer_register: '%s' is already registered", type_name);
  } else if (entry_count == entry_capacity) {
    const int32_t capacity = entry_capacity ? 2 * entry_capacity : 8;
    entry *grown = realloc(entries, (size_t)capacity * sizeof *grown);
    if (!grown) status = dcnn__fail(DCNN_ERR_OUT_OF_MEMORY, "dcnn_layer_register: out of memory");
    else {
      entries = grown;
      entry_capacity = capacity;
    }
  }
  if (status == DCNN_OK) {
    entry *e = &entries[entry_count++];
    snprintf(e->name, sizeof e->name, "%s", type_name);
    e->factory = factory;
    e->user = user;
  }
  pthread_mutex_unlock(&lock);
  return status;
}

dcnn_status dcnn_layer_unregister(const char *type_name) {
  DCNN_CHECK_ARG(type_name);
  DCNN_CHECK(!dcnn__builtin_layer_find(type_name), DCNN_ERR_INVALID_ARGUMENT, "dcnn_layer_unregister: '%.64s' is a built-in type",
             type_name);
  pthread_mutex_lock(&lock);
  const int32_t i = find_entry(type_name);
  if (i >= 0) {
    entries[i] = entries[--entry_count];
    if (entry_count == 0) {
      free(entries);
      entries = NULL;
      entry_capacity = 0;
    }
  }
  pthread_mutex_unlock(&lock);
  DCNN_CHECK(i >= 0, DCNN_ERR_NOT_FOUND, "dcnn_layer_unregister: '%.64s' is not registered", type_name);
  return DCNN_OK;
}

/* "conv2d, ..., residual" plus the registered names, for error messages. */
static void known_types(char *buf, size_t size) {
  size_t used = 0;
  for (int32_t i = 0; i < dcnn__builtin_layer_count() && used < size; ++i)
    used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? ", " : "", dcnn__builtin_layer_at(i)->name);
  for (int32_t i = 0; i < entry_count && used < size; ++i)
    used += (size_t)snprintf(buf + used, size - used, ", %s", entries[i].name);
}

dcnn_status dcnn_layer_from_config(const char *type_name, const char *config, dcnn_layer **out) {
  DCNN_CHECK_ARG(out);
  *out = NULL;
  DCNN_CHECK_ARG(type_name);
  if (!config) config = "";
  const dcnn__builtin_layer *builtin = dcnn__builtin_layer_find(type_name);
  entry found = {"", builtin ? builtin->from_config : NULL, NULL};
  char known[1024] = "";
  if (!builtin) {
    pthread_mutex_lock(&lock);
    const int32_t i = find_entry(type_name);
    if (i >= 0) found = entries[i];
    else known_types(known, sizeof known);
    pthread_mutex_unlock(&lock);
  }
  DCNN_CHECK(found.factory != NULL, DCNN_ERR_NOT_FOUND,
             "unknown layer type '%.64s' (known: %s; register others with dcnn_layer_register)", type_name, known);
  const uint64_t mark = dcnn__error_mark();
  dcnn_status status = found.factory(config, found.user, out);
  if (status != DCNN_OK) {
    if (*out) dcnn_layer_destroy(*out);
    *out = NULL;
    if (dcnn__error_mark() == mark) return dcnn__callee_error(status, mark, "%s factory", type_name);
    /* Named once: a create call's message may already start with the type ("dropout: out of memory"). */
    const size_t n = strlen(type_name);
    if (!strncmp(dcnn_last_error(), type_name, n) && dcnn_last_error()[n] == ':') return status;
    return dcnn__wrap_error(status, "%s", type_name);
  }
  if (!*out) return dcnn__fail(DCNN_ERR_INVALID_STATE, "%s: the factory returned no layer", type_name);
  if (strcmp(dcnn_layer_type(*out), type_name) != 0) {
    char made[64];
    snprintf(made, sizeof made, "%s", dcnn_layer_type(*out));
    dcnn_layer_destroy(*out);
    *out = NULL;
    return dcnn__fail(DCNN_ERR_INVALID_STATE, "%s: the factory made a '%s' layer", type_name, made);
  }
  return DCNN_OK;
}
