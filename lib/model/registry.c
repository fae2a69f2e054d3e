/* Layer types by name: the built-in ones, rebuilt from the configuration
 * strings their describe() slot writes, and those users register. */
#include "../core/c_locale.h"
#include "../core/internal.h"
#include "digitcnn/registry.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digitcnn/layers.h"
#include "model_internal.h"

/* ---- configuration strings ---- */

/* Finds `key` in "k=v k=v" and copies its value. */
static int config_value(const char *config, const char *key, char *value, size_t size) {
  const size_t n = strlen(key);
  for (const char *p = config; p && *p;) {
    while (*p == ' ') ++p;
    const char *end = strchr(p, ' ');
    const size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len > n && !strncmp(p, key, n) && p[n] == '=') {
      const size_t v = len - n - 1;
      if (v + 1 > size) return 0;
      memcpy(value, p + n + 1, v);
      value[v] = '\0';
      return 1;
    }
    p = end;
  }
  return 0;
}

dcnn_status dcnn_config_int(const char *config, const char *key, int32_t lo, int32_t hi, int32_t *out) {
  DCNN_CHECK_ARG(key);
  DCNN_CHECK_ARG(out);
  char value[64], *end = NULL;
  DCNN_CHECK(config_value(config, key, value, sizeof value), DCNN_ERR_BAD_FORMAT, "missing '%s' in \"%.80s\"", key,
             config ? config : "");
  errno = 0;
  long v = strtol(value, &end, 10);
  DCNN_CHECK(!errno && end != value && !*end && v >= lo && v <= hi, DCNN_ERR_BAD_FORMAT,
             "'%s=%s' is not a whole number in %d..%d", key, value, (int)lo, (int)hi);
  *out = (int32_t)v;
  return DCNN_OK;
}

dcnn_status dcnn_config_float(const char *config, const char *key, float *out) {
  DCNN_CHECK_ARG(key);
  DCNN_CHECK_ARG(out);
  char value[64], *end = NULL;
  DCNN_CHECK(config_value(config, key, value, sizeof value), DCNN_ERR_BAD_FORMAT, "missing '%s' in \"%.80s\"", key,
             config ? config : "");
  errno = 0;
  double v = dcnn__parse_double(value, &end);
  DCNN_CHECK(!errno && end != value && !*end && isfinite(v) && fabs(v) <= 3.4e38, DCNN_ERR_BAD_FORMAT,
             "'%s=%s' is not a finite number", key, value);
  *out = (float)v;
  return DCNN_OK;
}

static dcnn_status config_padding(const char *config, dcnn_padding *out) {
  char value[16];
  DCNN_CHECK(config_value(config, "padding", value, sizeof value) && (!strcmp(value, "same") || !strcmp(value, "valid")),
             DCNN_ERR_BAD_FORMAT, "'padding' must be same or valid in \"%.80s\"", config);
  *out = !strcmp(value, "same") ? DCNN_PADDING_SAME : DCNN_PADDING_VALID;
  return DCNN_OK;
}

/* ---- built-in types ---- */

#define SIZE_LIMIT (1 << 16) /* filters or units per layer: bounds what a crafted file can make us allocate */

static const char *const builtin_types[] = {"conv2d", "depthwise_conv2d", "batchnorm", "batchnorm_relu", "maxpool2d",
                                            "avgpool2d", "dropout", "dense", "relu", "relu6", "tanh", "sigmoid",
                                            "flatten", "softmax", "global_avgpool", "residual"};
#define BUILTIN_COUNT ((int)(sizeof builtin_types / sizeof builtin_types[0]))

static int is_builtin(const char *type) {
  for (int i = 0; i < BUILTIN_COUNT; ++i)
    if (!strcmp(type, builtin_types[i])) return 1;
  return 0;
}

static dcnn_status builtin_from_config(const char *type, const char *config, dcnn_layer **out) {
  int32_t a = 0, b = 0, c = 0, bias = 0;
  float x = 0, y = 0;
  dcnn_padding padding = DCNN_PADDING_VALID;
  if (!strcmp(type, "conv2d")) {
    DCNN_TRY(dcnn_config_int(config, "filters", 1, SIZE_LIMIT, &a));
    DCNN_TRY(dcnn_config_int(config, "kernel", 1, 1024, &b));
    DCNN_TRY(dcnn_config_int(config, "stride", 1, 1024, &c));
    DCNN_TRY(config_padding(config, &padding));
    DCNN_TRY(dcnn_config_int(config, "bias", 0, 1, &bias));
    return dcnn_conv2d_create(a, b, c, padding, bias, out);
  }
  if (!strcmp(type, "depthwise_conv2d")) {
    DCNN_TRY(dcnn_config_int(config, "kernel", 1, 1024, &b));
    DCNN_TRY(dcnn_config_int(config, "stride", 1, 1024, &c));
    DCNN_TRY(config_padding(config, &padding));
    DCNN_TRY(dcnn_config_int(config, "bias", 0, 1, &bias));
    return dcnn_depthwise_conv2d_create(b, c, padding, bias, out);
  }
  if (!strcmp(type, "batchnorm") || !strcmp(type, "batchnorm_relu")) {
    DCNN_TRY(dcnn_config_float(config, "momentum", &x));
    DCNN_TRY(dcnn_config_float(config, "epsilon", &y));
    return type[9] ? dcnn_batchnorm_relu_create(x, y, out) : dcnn_batchnorm_create(x, y, out);
  }
  if (!strcmp(type, "maxpool2d") || !strcmp(type, "avgpool2d")) {
    DCNN_TRY(dcnn_config_int(config, "pool", 1, 1024, &a));
    DCNN_TRY(dcnn_config_int(config, "stride", 1, 1024, &b));
    DCNN_TRY(config_padding(config, &padding));
    return type[0] == 'm' ? dcnn_maxpool2d_create(a, b, padding, out) : dcnn_avgpool2d_create(a, b, padding, out);
  }
  if (!strcmp(type, "dropout")) {
    DCNN_TRY(dcnn_config_float(config, "rate", &x));
    return dcnn_dropout_create(x, out);
  }
  if (!strcmp(type, "dense")) {
    DCNN_TRY(dcnn_config_int(config, "units", 1, SIZE_LIMIT, &a));
    DCNN_TRY(dcnn_config_int(config, "bias", 0, 1, &bias));
    return dcnn_dense_create(a, bias, out);
  }
  if (!strcmp(type, "relu")) return dcnn_relu_create(out);
  if (!strcmp(type, "relu6")) return dcnn_relu6_create(out);
  if (!strcmp(type, "tanh")) return dcnn_tanh_create(out);
  if (!strcmp(type, "sigmoid")) return dcnn_sigmoid_create(out);
  if (!strcmp(type, "flatten")) return dcnn_flatten_create(out);
  if (!strcmp(type, "softmax")) return dcnn_softmax_create(out);
  if (!strcmp(type, "global_avgpool")) return dcnn_global_avgpool_create(out);
  return dcnn__fail(DCNN_ERR_UNSUPPORTED, "%s: a composite layer; its file record holds its sub-layers", type);
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
  DCNN_CHECK(!is_builtin(type_name), DCNN_ERR_INVALID_ARGUMENT, "dcnn_layer_register: '%s' is a built-in type",
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
  DCNN_CHECK(!is_builtin(type_name), DCNN_ERR_INVALID_ARGUMENT, "dcnn_layer_unregister: '%.64s' is a built-in type",
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
  for (int i = 0; i < BUILTIN_COUNT && used < size; ++i)
    used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? ", " : "", builtin_types[i]);
  for (int32_t i = 0; i < entry_count && used < size; ++i)
    used += (size_t)snprintf(buf + used, size - used, ", %s", entries[i].name);
}

dcnn_status dcnn_layer_from_config(const char *type_name, const char *config, dcnn_layer **out) {
  DCNN_CHECK_ARG(out);
  *out = NULL;
  DCNN_CHECK_ARG(type_name);
  if (!config) config = "";
  if (is_builtin(type_name)) {
    dcnn_status status = builtin_from_config(type_name, config, out);
    return status == DCNN_OK ? DCNN_OK : dcnn__wrap_error(status, "%s", type_name);
  }
  pthread_mutex_lock(&lock);
  const int32_t i = find_entry(type_name);
  const entry found = i >= 0 ? entries[i] : (entry){"", NULL, NULL};
  char known[1024] = "";
  if (i < 0) known_types(known, sizeof known);
  pthread_mutex_unlock(&lock);
  DCNN_CHECK(i >= 0, DCNN_ERR_NOT_FOUND, "unknown layer type '%.64s' (known: %s; register others with dcnn_layer_register)",
             type_name, known);
  const uint64_t mark = dcnn__error_mark();
  dcnn_status status = found.factory(config, found.user, out);
  if (status != DCNN_OK) {
    if (*out) dcnn_layer_destroy(*out);
    *out = NULL;
    if (dcnn__error_mark() == mark) return dcnn__callee_error(status, mark, "%s factory", type_name);
    return dcnn__wrap_error(status, "%s", type_name);
  }
  if (!*out) return dcnn__fail(DCNN_ERR_INVALID_STATE, "%s: the registered factory returned no layer", type_name);
  if (strcmp(dcnn_layer_type(*out), type_name) != 0) {
    char made[64];
    snprintf(made, sizeof made, "%s", dcnn_layer_type(*out));
    dcnn_layer_destroy(*out);
    *out = NULL;
    return dcnn__fail(DCNN_ERR_INVALID_STATE, "%s: the registered factory made a '%s' layer", type_name, made);
  }
  return DCNN_OK;
}
