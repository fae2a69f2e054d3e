/* The built-in layer types by name (builtin_table.c). The registry looks a
 * type up here first, then among the registered ones, and calls the factory
 * it finds the same way in both cases. */
#ifndef DCNN_LAYERS_BUILTIN_TABLE_H
#define DCNN_LAYERS_BUILTIN_TABLE_H

#include <stdint.h>

#include "digitcnn/registry.h"

typedef struct dcnn__builtin_layer {
  const char *name;                /* the vtable's type_name */
  dcnn_layer_factory from_config;  /* the layer file's dcnn__<name>_from_config */
} dcnn__builtin_layer;

/* The entry named `name`, or NULL. */
const dcnn__builtin_layer *dcnn__builtin_layer_find(const char *name);
/* Entry `i` in 0..dcnn__builtin_layer_count()-1, in table order (for listings). */
const dcnn__builtin_layer *dcnn__builtin_layer_at(int32_t i);
int32_t dcnn__builtin_layer_count(void);

#endif
