/* LeNet-5 (LeCun et al. 1998), its usual modern reading: conv 5x5 (6) - tanh -
 * avg-pool 2 - conv 5x5 (16) - tanh - avg-pool 2 - dense 120 - tanh - dense 84 -
 * tanh - dense classes - softmax. 61,706 parameters for 1x32x32 and 10 classes. */
#include "zoo_internal.h"

typedef struct lenet_config {
  int32_t classes;
} lenet_config;

static dcnn_status build(dcnn_model *m, const void *config) {
  const lenet_config *c = config;
  dcnn_layer *l = NULL;
  DCNN_TRY(dcnn__zoo_add(m, dcnn_conv2d_create(6, 5, 1, DCNN_PADDING_VALID, 1, &l), &l));
  DCNN_TRY(dcnn__zoo_add(m, dcnn_tanh_create(&l), &l));
  DCNN_TRY(dcnn__zoo_add(m, dcnn_avgpool2d_create(2, 2, DCNN_PADDING_VALID, &l), &l));
  DCNN_TRY(dcnn__zoo_add(m, dcnn_conv2d_create(16, 5, 1, DCNN_PADDING_VALID, 1, &l), &l));
  DCNN_TRY(dcnn__zoo_add(m, dcnn_tanh_create(&l), &l));
  DCNN_TRY(dcnn__zoo_add(m, dcnn_avgpool2d_create(2, 2, DCNN_PADDING_VALID, &l), &l));
  DCNN_TRY(dcnn__zoo_add(m, dcnn_flatten_create(&l), &l));
  DCNN_TRY(dcnn__zoo_add(m, dcnn_dense_create(120, 1, &l), &l));
  DCNN_TRY(dcnn__zoo_add(m, dcnn_tanh_create(&l), &l));
  DCNN_TRY(dcnn__zoo_add(m, dcnn_dense_create(84, 1, &l), &l));
  DCNN_TRY(dcnn__zoo_add(m, dcnn_tanh_create(&l), &l));
  DCNN_TRY(dcnn__zoo_add(m, dcnn_dense_create(c->classes, 1, &l), &l));
  return dcnn__zoo_add(m, dcnn_softmax_create(&l), &l);
}

dcnn_status dcnn_zoo_lenet5(dcnn_context *ctx, int32_t channels, int32_t height, int32_t width, int32_t classes,
                            uint64_t seed, dcnn_model **out) {
  DCNN_CHECK_ARG(out);
  *out = NULL;
  DCNN_CHECK(channels >= 1 && classes >= 2 && height >= 16 && width >= 16, DCNN_ERR_INVALID_ARGUMENT,
             "LeNet-5: needs >= 1 channel, >= 2 classes and at least 16x16 inputs (got %dx%dx%d, %d classes)",
             (int)channels, (int)height, (int)width, (int)classes);
  const lenet_config config = {classes};
  return dcnn__zoo_make(ctx, channels, height, width, seed, build, &config, out);
}
