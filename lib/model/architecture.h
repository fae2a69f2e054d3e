/* The architecture record of model files: text, one line per layer,
 * residual blocks followed by their sub-layers (docs/model-format.md). */
#ifndef DCNN_ARCHITECTURE_H
#define DCNN_ARCHITECTURE_H

#include "../io/bytes.h"
#include "model_internal.h"

/* Appends the model's architecture text to `out`; `factory_bytes` (NULL: not wanted) receives what the
 * layers' factories allocate when the loader makes them from that text. */
dcnn_status dcnn__architecture_write(const dcnn_model *m, dcnn_bytes *out, int64_t *factory_bytes);

/* Builds a model from architecture text (`text` is modified); errors are
 * DCNN_ERR_BAD_FORMAT naming `name` and the line, DCNN_ERR_NOT_FOUND for an
 * unknown layer type, DCNN_ERR_OUT_OF_MEMORY. */
dcnn_status dcnn__architecture_build(dcnn_context *ctx, const char *name, char *text, dcnn_model **out);

#endif
