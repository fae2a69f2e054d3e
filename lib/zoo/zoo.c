#include "zoo_internal.h"

dcnn_status dcnn__zoo_make(dcnn_context *ctx, int32_t channels, int32_t height, int32_t width, uint64_t seed,
                           dcnn_status (*build)(dcnn_model *m, const void *config), const void *config,
                           dcnn_model **out) {
  dcnn_shape input = dcnn_shape_make(3, channels, height, width, 0);
  dcnn_model *m = NULL;
  DCNN_TRY(dcnn_model_create(ctx, &input, &m));
  dcnn_status status = build(m, config);
  if (status == DCNN_OK) status = dcnn_model_init(m, seed);
  if (status != DCNN_OK) {
    dcnn_model_destroy(m);
    return status;
  }
  *out = m;
  return DCNN_OK;
}
