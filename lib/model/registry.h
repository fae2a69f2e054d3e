/* Layer types the model file format can rebuild, by type name. */
#ifndef DCNN_REGISTRY_H
#define DCNN_REGISTRY_H

#include "../core/internal.h"
#include "digitcnn/layer.h"

/* Creates a layer of `type` from its describe() configuration ("k=v k=v").
 * Errors say which key is missing or invalid; unknown types list the known ones. */
dcnn_status dcnn__layer_from_config(const char *type, const char *config, dcnn_layer **out);

#endif
