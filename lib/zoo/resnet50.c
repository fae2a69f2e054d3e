/* ResNet-50 (He et al. 2016), v1.5 (stride on the 3x3 conv, as torchvision):
 * stem conv 7x7/2 (64) - BN - ReLU - max-pool 3x3/2, bottleneck stages
 * [3, 4, 6, 3] of widths 64, 128, 256, 512 (expansion 4), global average
 * pool, dense classes. Convs have no bias; each is followed by batch norm.
 * The standard configuration (224x224x3, 1000 classes) has 25,557,032
 * trainable parameters. Strided windows pad as torchvision (kernel / 2 on
 * each side; DCNN_PADDING_SAME_LOWER): window i of the strided 3x3 is
 * centred on pixel 2i, where the 1x1 projection of the shortcut samples,
 * so the two branches add features of one place. Keras' "same" puts the
 * odd padding row after: the 3x3 would centre on 2i + 1, a pixel off the
 * shortcut (the zoo's ResNet-50 until 2026-12-06). */
#include "zoo_internal.h"

typedef struct resnet_config {
  int32_t classes;
} resnet_config;

#define RESNET_BN_MOMENTUM 0.99f
#define RESNET_BN_EPSILON 1e-3f

/* conv 1x1 (w) - BN - ReLU - conv 3x3/stride (w) - BN - ReLU - conv 1x1 (4w) - BN, plus the shortcut. */
static dcnn_status bottleneck(dcnn_model *m, int32_t width, int32_t stride, int project) {
  dcnn_layer *body[7] = {0}, *shortcut[2] = {0}, *block = NULL;
  dcnn_status s = dcnn_conv2d_create(width, 1, 1, DCNN_PADDING_SAME, DCNN_NO_BIAS, &body[0]);
  if (s == DCNN_OK) s = dcnn_batchnorm_relu_create(RESNET_BN_MOMENTUM, RESNET_BN_EPSILON, &body[1]);
  if (s == DCNN_OK) s = dcnn_conv2d_create(width, 3, stride, DCNN_PADDING_SAME_LOWER, DCNN_NO_BIAS, &body[2]);
  if (s == DCNN_OK) s = dcnn_batchnorm_relu_create(RESNET_BN_MOMENTUM, RESNET_BN_EPSILON, &body[3]);
  if (s == DCNN_OK) s = dcnn_conv2d_create(4 * width, 1, 1, DCNN_PADDING_SAME, DCNN_NO_BIAS, &body[4]);
  if (s == DCNN_OK) s = dcnn_batchnorm_create(RESNET_BN_MOMENTUM, RESNET_BN_EPSILON, &body[5]);
  if (s == DCNN_OK && project)
    s = dcnn_conv2d_create(4 * width, 1, stride, DCNN_PADDING_SAME, DCNN_NO_BIAS, &shortcut[0]);
  if (s == DCNN_OK && project) s = dcnn_batchnorm_create(RESNET_BN_MOMENTUM, RESNET_BN_EPSILON, &shortcut[1]);
  if (s != DCNN_OK) {
    for (int i = 0; i < 7; ++i) dcnn_layer_destroy(body[i]);
    for (int i = 0; i < 2; ++i) dcnn_layer_destroy(shortcut[i]);
    return s;
  }
  DCNN_TRY(dcnn_residual_create(body, 6, project ? shortcut : NULL, project ? 2 : 0, DCNN_RESIDUAL_RELU, &block));
  return dcnn_model_add(m, block);
}

static dcnn_status build(dcnn_model *m, const void *config) {
  const resnet_config *c = config;
  dcnn_layer *l = NULL;
  DCNN_TRY(dcnn__zoo_add(m, dcnn_conv2d_create(64, 7, 2, DCNN_PADDING_SAME_LOWER, DCNN_NO_BIAS, &l), &l));
  DCNN_TRY(dcnn__zoo_add(m, dcnn_batchnorm_relu_create(RESNET_BN_MOMENTUM, RESNET_BN_EPSILON, &l), &l));
  DCNN_TRY(dcnn__zoo_add(m, dcnn_maxpool2d_create(3, 2, DCNN_PADDING_SAME_LOWER, &l), &l));
  static const int32_t blocks[4] = {3, 4, 6, 3}, widths[4] = {64, 128, 256, 512};
  for (int s = 0; s < 4; ++s)
    for (int b = 0; b < blocks[s]; ++b) DCNN_TRY(bottleneck(m, widths[s], b == 0 && s > 0 ? 2 : 1, b == 0));
  DCNN_TRY(dcnn__zoo_add(m, dcnn_global_avgpool_create(&l), &l));
  DCNN_TRY(dcnn__zoo_add(m, dcnn_dense_create(c->classes, DCNN_WITH_BIAS, &l), &l));
  return dcnn__zoo_add(m, dcnn_softmax_create(&l), &l);
}

dcnn_status dcnn_zoo_resnet50(dcnn_context *ctx, const dcnn_zoo_options *options, dcnn_model **out) {
  DCNN_CHECK_ARG(out);
  *out = NULL;
  dcnn_zoo_options o;
  DCNN_TRY(dcnn__zoo_options("dcnn_zoo_resnet50", options, &o));
  DCNN_CHECK(o.channels >= 1 && o.classes >= 2 && o.height >= 32 && o.width >= 32, DCNN_ERR_INVALID_ARGUMENT,
             "ResNet-50: needs >= 1 channel, >= 2 classes and at least 32x32 inputs (got %dx%dx%d)", (int)o.height,
             (int)o.width, (int)o.channels);
  const resnet_config config = {o.classes};
  return dcnn__zoo_make(ctx, &o, build, &config, out);
}
