/* The one table of built-in layer types. Each layer file defines
 * dcnn__<type>_from_config (a dcnn_layer_factory reading the keys its
 * describe slot writes); adding a built-in layer is its file plus one line
 * below. */
#include "builtin_table.h"

#include <string.h>

#define BUILTIN_LAYERS(X) \
  X(conv2d)               \
  X(depthwise_conv2d)     \
  X(batchnorm)            \
  X(batchnorm_relu)       \
  X(maxpool2d)            \
  X(avgpool2d)            \
  X(dropout)              \
  X(dense)                \
  X(relu)                 \
  X(relu6)                \
  X(leaky_relu)           \
  X(tanh)                 \
  X(sigmoid)              \
  X(flatten)              \
  X(softmax)              \
  X(global_avgpool)       \
  X(residual)

#define DECLARE(type) dcnn_status dcnn__##type##_from_config(const char *config, void *user, dcnn_layer **out);
#define ENTRY(type) {#type, dcnn__##type##_from_config},

BUILTIN_LAYERS(DECLARE)

static const dcnn__builtin_layer table[] = {BUILTIN_LAYERS(ENTRY)};

#define TABLE_SIZE ((int32_t)(sizeof table / sizeof table[0]))

const dcnn__builtin_layer *dcnn__builtin_layer_find(const char *name) {
  for (int32_t i = 0; name && i < TABLE_SIZE; ++i)
    if (!strcmp(table[i].name, name)) return &table[i];
  return NULL;
}

const dcnn__builtin_layer *dcnn__builtin_layer_at(int32_t i) { return i >= 0 && i < TABLE_SIZE ? &table[i] : NULL; }

int32_t dcnn__builtin_layer_count(void) { return TABLE_SIZE; }
