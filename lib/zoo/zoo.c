#include <string.h>

#include "zoo_internal.h"

void dcnn_zoo_options_init(dcnn_zoo_options *options) {
  if (!options) return;
  const dcnn_zoo_options defaults = DCNN_ZOO_OPTIONS_INIT;
  *options = defaults;
}

/* Fields are only appended: a caller's smaller struct_size (an older header) gets
 * the defaults for the fields it does not know; a larger one (a newer header) has
 * fields this library does not know, which are ignored. */
dcnn_status dcnn__zoo_options(const char *who, const dcnn_zoo_options *given, dcnn_zoo_options *out) {
  dcnn_zoo_options_init(out);
  if (!given) return DCNN_OK;
  const size_t first = sizeof given->struct_size + sizeof(int32_t) * 4 + sizeof(uint64_t);
  DCNN_CHECK(given->struct_size >= first, DCNN_ERR_INVALID_ARGUMENT,
             "%s: options.struct_size is %zu: initialise the options with DCNN_ZOO_OPTIONS_INIT or "
             "dcnn_zoo_options_init()", who, given->struct_size);
  const size_t known = given->struct_size < sizeof *out ? given->struct_size : sizeof *out;
  memcpy(out, given, known);
  out->struct_size = sizeof *out;
  return DCNN_OK;
}

dcnn_status dcnn__zoo_make(dcnn_context *ctx, const dcnn_zoo_options *o,
                           dcnn_status (*build)(dcnn_model *m, const void *config), const void *config,
                           dcnn_model **out) {
  dcnn_shape input = dcnn_shape_make(3, o->channels, o->height, o->width, 0);
  dcnn_model *m = NULL;
  DCNN_TRY(dcnn_model_create(ctx, &input, &m));
  dcnn_status status = build(m, config);
  if (status == DCNN_OK) status = dcnn_model_init(m, o->seed);
  if (status != DCNN_OK) {
    dcnn_model_destroy(m);
    return status;
  }
  *out = m;
  return DCNN_OK;
}
