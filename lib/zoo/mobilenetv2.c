/* MobileNetV2 (Sandler et al. 2018), width multiplier 1.0: conv 3x3/2 (32) -
 * BN - ReLU6, inverted residual blocks (t, c, n, s) = (1,16,1,1) (6,24,2,2)
 * (6,32,3,2) (6,64,4,2) (6,96,3,1) (6,160,3,2) (6,320,1,1), conv 1x1 (1280) -
 * BN - ReLU6, global average pool, dropout 0.2, dense classes. Each block:
 * [conv 1x1 expand - BN - ReLU6] - depthwise 3x3/s - BN - ReLU6 - conv 1x1
 * project - BN, with an identity shortcut when s = 1 and the width stays.
 * The standard configuration (224x224x3, 1000 classes) has 3,504,872
 * trainable parameters. */
#include "zoo_internal.h"

typedef struct mobilenet_config {
  int32_t classes;
} mobilenet_config;

#define MB_MOMENTUM 0.99f
#define MB_EPSILON 1e-3f

static dcnn_status inverted_residual(dcnn_model *m, int32_t in, int32_t out, int32_t expand, int32_t stride) {
  dcnn_layer *body[8] = {0};
  int32_t n = 0;
  dcnn_status s = DCNN_OK;
  if (expand != 1) {
    s = dcnn_conv2d_create(in * expand, 1, 1, DCNN_PADDING_SAME, DCNN_NO_BIAS, &body[n++]);
    if (s == DCNN_OK) s = dcnn_batchnorm_create(MB_MOMENTUM, MB_EPSILON, &body[n++]);
    if (s == DCNN_OK) s = dcnn_relu6_create(&body[n++]);
  }
  if (s == DCNN_OK) s = dcnn_depthwise_conv2d_create(3, stride, DCNN_PADDING_SAME, DCNN_NO_BIAS, &body[n++]);
  if (s == DCNN_OK) s = dcnn_batchnorm_create(MB_MOMENTUM, MB_EPSILON, &body[n++]);
  if (s == DCNN_OK) s = dcnn_relu6_create(&body[n++]);
  if (s == DCNN_OK) s = dcnn_conv2d_create(out, 1, 1, DCNN_PADDING_SAME, DCNN_NO_BIAS, &body[n++]);
  if (s == DCNN_OK) s = dcnn_batchnorm_create(MB_MOMENTUM, MB_EPSILON, &body[n++]);
  if (s != DCNN_OK) {
    for (int i = 0; i < 8; ++i) dcnn_layer_destroy(body[i]);
    return s;
  }
  if (stride == 1 && in == out) {
    dcnn_layer *block = NULL;
    DCNN_TRY(dcnn_residual_create(body, n, NULL, 0, DCNN_RESIDUAL_LINEAR, &block));
    return dcnn_model_add(m, block);
  }
  /* No shortcut: the block's layers go into the model directly. */
  for (int32_t i = 0; i < n; ++i) {
    s = dcnn_model_add(m, body[i]);
    if (s != DCNN_OK) {
      for (int32_t j = i + 1; j < n; ++j) dcnn_layer_destroy(body[j]);
      return s;
    }
  }
  return DCNN_OK;
}

static dcnn_status build(dcnn_model *m, const void *config) {
  const mobilenet_config *c = config;
  dcnn_layer *l = NULL;
  DCNN_TRY(dcnn__zoo_add(m, dcnn_conv2d_create(32, 3, 2, DCNN_PADDING_SAME, DCNN_NO_BIAS, &l), &l));
  DCNN_TRY(dcnn__zoo_add(m, dcnn_batchnorm_create(MB_MOMENTUM, MB_EPSILON, &l), &l));
  DCNN_TRY(dcnn__zoo_add(m, dcnn_relu6_create(&l), &l));
  static const int32_t settings[7][4] = {{1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2}, {6, 64, 4, 2},
                                         {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
  int32_t channels = 32;
  for (int i = 0; i < 7; ++i)
    for (int32_t b = 0; b < settings[i][2]; ++b) {
      DCNN_TRY(inverted_residual(m, channels, settings[i][1], settings[i][0], b == 0 ? settings[i][3] : 1));
      channels = settings[i][1];
    }
  DCNN_TRY(dcnn__zoo_add(m, dcnn_conv2d_create(1280, 1, 1, DCNN_PADDING_SAME, DCNN_NO_BIAS, &l), &l));
  DCNN_TRY(dcnn__zoo_add(m, dcnn_batchnorm_create(MB_MOMENTUM, MB_EPSILON, &l), &l));
  DCNN_TRY(dcnn__zoo_add(m, dcnn_relu6_create(&l), &l));
  DCNN_TRY(dcnn__zoo_add(m, dcnn_global_avgpool_create(&l), &l));
  DCNN_TRY(dcnn__zoo_add(m, dcnn_dropout_create(0.2f, &l), &l));
  DCNN_TRY(dcnn__zoo_add(m, dcnn_dense_create(c->classes, DCNN_WITH_BIAS, &l), &l));
  return dcnn__zoo_add(m, dcnn_softmax_create(&l), &l);
}

dcnn_status dcnn_zoo_mobilenetv2(dcnn_context *ctx, const dcnn_zoo_options *options, dcnn_model **out) {
  DCNN_CHECK_ARG(out);
  *out = NULL;
  dcnn_zoo_options o;
  DCNN_TRY(dcnn__zoo_options("dcnn_zoo_mobilenetv2", options, &o));
  DCNN_CHECK(o.channels >= 1 && o.classes >= 2 && o.height >= 32 && o.width >= 32, DCNN_ERR_INVALID_ARGUMENT,
             "MobileNetV2: needs >= 1 channel, >= 2 classes and at least 32x32 inputs (got %dx%dx%d)", (int)o.height,
             (int)o.width, (int)o.channels);
  const mobilenet_config config = {o.classes};
  return dcnn__zoo_make(ctx, &o, build, &config, out);
}
