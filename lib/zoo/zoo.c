#include <string.h>

#include "../core/struct_size.h"
#include "zoo_internal.h"

dcnn_status dcnn_zoo_options_init(dcnn_zoo_options *options) {
  const dcnn_zoo_options defaults = DCNN_ZOO_OPTIONS_INIT;
  return dcnn__struct_init("dcnn_zoo_options_init", "dcnn_zoo_options", options, &defaults, sizeof defaults,
                           DCNN__ZOO_OPTIONS_SIZE_0_2);
}

/* The rules of every struct that grows (struct_size.h): a size below 0.2's
 * layout is refused, fields a newer header set that this library does not
 * know are refused (DCNN_ERR_UNSUPPORTED), never ignored. */
dcnn_status dcnn__zoo_options(const char *who, const dcnn_zoo_options *given, dcnn_zoo_options *out) {
  const dcnn_zoo_options defaults = DCNN_ZOO_OPTIONS_INIT;
  *out = defaults;
  if (!given) return DCNN_OK;
  const dcnn_status status =
      dcnn__struct_read(who, "dcnn_zoo_options", out, sizeof *out, given, DCNN__ZOO_OPTIONS_SIZE_0_2);
  if (status != DCNN_OK)
    return dcnn__wrap_error(status, "initialise the options with DCNN_ZOO_OPTIONS_INIT");
  /* 0.2's struct was sizeof 56 on LP64: 52 bytes of fields and 4 of tail
   * padding, where width_multiplier now sits. A 0.2 caller's struct_size
   * (56) covers that offset, but the bytes are its padding (garbage), so the
   * fields appended after 0.2 are read only from a layout that has all of
   * them; otherwise they keep their defaults. */
  if (given->struct_size < DCNN__SIZE_THROUGH(dcnn_zoo_options, extra_blocks)) {
    out->width_multiplier = defaults.width_multiplier;
    out->extra_blocks = defaults.extra_blocks;
  }
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
