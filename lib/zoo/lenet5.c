/* LeNet-5 (LeCun et al. 1998), its usual modern reading: conv 5x5 (6) - tanh -
 * avg-pool 2 - conv 5x5 (16) - tanh - avg-pool 2 - dense 120 - tanh - dense 84 -
 * tanh - dense classes - softmax. 61,706 parameters for 1x32x32 and 10 classes.
 * The ReLU variant has the same shapes and parameters with ReLU for tanh and
 * max for average pooling, as most of today's "LeNet-5" baselines do. */
#include "zoo_internal.h"

typedef struct lenet_config {
  int32_t classes;
  int relu; /* 1: ReLU and max pooling; 0: tanh and average pooling (1998) */
} lenet_config;

static dcnn_status activation(dcnn_model *m, const lenet_config *c) {
  dcnn_layer *l = NULL;
  return dcnn__zoo_add(m, c->relu ? dcnn_relu_create(&l) : dcnn_tanh_create(&l), &l);
}

static dcnn_status pooling(dcnn_model *m, const lenet_config *c) {
  dcnn_layer *l = NULL;
  return dcnn__zoo_add(m,
                       c->relu ? dcnn_maxpool2d_create(2, 2, DCNN_PADDING_VALID, &l)
                               : dcnn_avgpool2d_create(2, 2, DCNN_PADDING_VALID, &l),
                       &l);
}

static dcnn_status build(dcnn_model *m, const void *config) {
  const lenet_config *c = config;
  dcnn_layer *l = NULL;
  DCNN_TRY(dcnn__zoo_add(m, dcnn_conv2d_create(6, 5, 1, DCNN_PADDING_VALID, DCNN_WITH_BIAS, &l), &l));
  DCNN_TRY(activation(m, c));
  DCNN_TRY(pooling(m, c));
  DCNN_TRY(dcnn__zoo_add(m, dcnn_conv2d_create(16, 5, 1, DCNN_PADDING_VALID, DCNN_WITH_BIAS, &l), &l));
  DCNN_TRY(activation(m, c));
  DCNN_TRY(pooling(m, c));
  DCNN_TRY(dcnn__zoo_add(m, dcnn_flatten_create(&l), &l));
  DCNN_TRY(dcnn__zoo_add(m, dcnn_dense_create(120, DCNN_WITH_BIAS, &l), &l));
  DCNN_TRY(activation(m, c));
  DCNN_TRY(dcnn__zoo_add(m, dcnn_dense_create(84, DCNN_WITH_BIAS, &l), &l));
  DCNN_TRY(activation(m, c));
  DCNN_TRY(dcnn__zoo_add(m, dcnn_dense_create(c->classes, DCNN_WITH_BIAS, &l), &l));
  return dcnn__zoo_add(m, dcnn_softmax_create(&l), &l);
}

static dcnn_status make(const char *who, dcnn_context *ctx, const dcnn_zoo_options *options, int relu,
                        dcnn_model **out) {
  DCNN_CHECK_ARG(out);
  *out = NULL;
  dcnn_zoo_options o;
  DCNN_TRY(dcnn__zoo_options(who, options, &o));
  DCNN_CHECK(o.channels >= 1 && o.classes >= 2 && o.height >= 16 && o.width >= 16, DCNN_ERR_INVALID_ARGUMENT,
             "%s: LeNet-5 needs >= 1 channel, >= 2 classes and at least 16x16 inputs (got %dx%dx%d, %d classes)", who,
             (int)o.height, (int)o.width, (int)o.channels, (int)o.classes);
  const lenet_config config = {o.classes, relu};
  return dcnn__zoo_make(ctx, &o, build, &config, out);
}

dcnn_status dcnn_zoo_lenet5(dcnn_context *ctx, const dcnn_zoo_options *options, dcnn_model **out) {
  return make("dcnn_zoo_lenet5", ctx, options, 0, out);
}

dcnn_status dcnn_zoo_lenet5_relu(dcnn_context *ctx, const dcnn_zoo_options *options, dcnn_model **out) {
  return make("dcnn_zoo_lenet5_relu", ctx, options, 1, out);
}
