/* VGG-16 (Simonyan & Zisserman 2014): 13 conv 3x3 layers in 5 stages
 * (64, 128, 256, 512, 512; max-pool after each), then dense - dense - classes.
 * The standard configuration (224x224x3, dense 4096, 1000 classes, no batch
 * norm) has 138,357,544 parameters; for 32x32 inputs dense 512 is the usual
 * adaptation. With batch norm each conv is followed by batchnorm_relu. */
#include "zoo_internal.h"

typedef struct vgg_config {
  int32_t classes, dense_units;
  int batch_norm;
} vgg_config;

static dcnn_status build(dcnn_model *m, const void *config) {
  const vgg_config *c = config;
  static const int32_t stages[5][2] = {{64, 2}, {128, 2}, {256, 3}, {512, 3}, {512, 3}};
  dcnn_layer *l = NULL;
  for (int s = 0; s < 5; ++s) {
    for (int i = 0; i < stages[s][1]; ++i) {
      const dcnn_bias_mode bias = c->batch_norm ? DCNN_NO_BIAS : DCNN_WITH_BIAS; /* BN's shift is the bias */
      DCNN_TRY(dcnn__zoo_add(m, dcnn_conv2d_create(stages[s][0], 3, 1, DCNN_PADDING_SAME, bias, &l), &l));
      if (c->batch_norm) DCNN_TRY(dcnn__zoo_add(m, dcnn_batchnorm_relu_create(0.99f, 1e-3f, &l), &l));
      else DCNN_TRY(dcnn__zoo_add(m, dcnn_relu_create(&l), &l));
    }
    DCNN_TRY(dcnn__zoo_add(m, dcnn_maxpool2d_create(2, 2, DCNN_PADDING_VALID, &l), &l));
  }
  DCNN_TRY(dcnn__zoo_add(m, dcnn_flatten_create(&l), &l));
  for (int i = 0; i < 2; ++i) {
    DCNN_TRY(dcnn__zoo_add(m, dcnn_dense_create(c->dense_units, DCNN_WITH_BIAS, &l), &l));
    DCNN_TRY(dcnn__zoo_add(m, dcnn_relu_create(&l), &l));
    DCNN_TRY(dcnn__zoo_add(m, dcnn_dropout_create(0.5f, &l), &l));
  }
  DCNN_TRY(dcnn__zoo_add(m, dcnn_dense_create(c->classes, DCNN_WITH_BIAS, &l), &l));
  return dcnn__zoo_add(m, dcnn_softmax_create(&l), &l);
}

dcnn_status dcnn_zoo_vgg16(dcnn_context *ctx, const dcnn_zoo_options *options, dcnn_model **out) {
  DCNN_CHECK_ARG(out);
  *out = NULL;
  dcnn_zoo_options o;
  DCNN_TRY(dcnn__zoo_options("dcnn_zoo_vgg16", options, &o));
  DCNN_CHECK(o.channels >= 1 && o.classes >= 2 && o.dense_units >= 1 && o.height >= 32 && o.width >= 32 &&
                 (o.batch_norm == 0 || o.batch_norm == 1), DCNN_ERR_INVALID_ARGUMENT,
             "VGG-16: needs >= 1 channel, >= 2 classes, >= 1 dense unit, batch_norm 0 or 1 and at least 32x32 inputs "
             "(got %dx%dx%d, %d classes, %d dense units, batch_norm %d)", (int)o.height, (int)o.width,
             (int)o.channels, (int)o.classes, (int)o.dense_units, (int)o.batch_norm);
  const vgg_config config = {o.classes, o.dense_units, o.batch_norm != 0};
  return dcnn__zoo_make(ctx, &o, build, &config, out);
}
