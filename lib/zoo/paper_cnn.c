/* The paper's CNN, as read in the project's reading notes. Each BatchNorm ->
 * ReLU pair is one fused batchnorm_relu layer (same function, less memory traffic). */
#include "../core/internal.h"
#include "digitcnn/layers.h"
#include "digitcnn/zoo.h"

#define PAPER_BN_EPSILON 1e-3f

typedef struct paper_config {
  float conv_dropout, dense_dropout, bn_momentum;
} paper_config;

/* Adds the layer a constructor just made, or passes its failure on. The layer
 * is read through a pointer because argument evaluation order is unspecified. */
static dcnn_status add(dcnn_model *m, dcnn_status made, dcnn_layer **layer) {
  if (made != DCNN_OK) return made;
  return dcnn_model_add(m, *layer);
}

static dcnn_status conv_block(dcnn_model *m, int32_t filters, const paper_config *c) {
  dcnn_layer *l = NULL;
  DCNN_TRY(add(m, dcnn_conv2d_create(filters, 3, 1, DCNN_PADDING_SAME, 0, &l), &l));
  return add(m, dcnn_batchnorm_relu_create(c->bn_momentum, PAPER_BN_EPSILON, &l), &l);
}

static dcnn_status build(dcnn_model *m, int32_t classes, const paper_config *c) {
  dcnn_layer *l = NULL;
  for (int stage = 0; stage < 2; ++stage) {
    int32_t filters = stage ? 64 : 32;
    DCNN_TRY(conv_block(m, filters, c));
    DCNN_TRY(conv_block(m, filters, c));
    DCNN_TRY(add(m, dcnn_maxpool2d_create(2, 2, DCNN_PADDING_VALID, &l), &l));
    DCNN_TRY(add(m, dcnn_dropout_create(c->conv_dropout, &l), &l));
  }
  DCNN_TRY(add(m, dcnn_flatten_create(&l), &l));
  DCNN_TRY(add(m, dcnn_dense_create(256, 0, &l), &l));
  DCNN_TRY(add(m, dcnn_batchnorm_relu_create(c->bn_momentum, PAPER_BN_EPSILON, &l), &l));
  DCNN_TRY(add(m, dcnn_dropout_create(c->dense_dropout, &l), &l));
  DCNN_TRY(add(m, dcnn_dense_create(classes, 1, &l), &l));
  return add(m, dcnn_softmax_create(&l), &l);
}

dcnn_status dcnn_zoo_paper_cnn(dcnn_context *ctx, int32_t channels, int32_t height, int32_t width, int32_t classes,
                               uint64_t seed, dcnn_model **out) {
  return dcnn_zoo_paper_cnn_custom(ctx, channels, height, width, classes, 0.25f, 0.5f, 0.99f, seed, out);
}

dcnn_status dcnn_zoo_paper_cnn_custom(dcnn_context *ctx, int32_t channels, int32_t height, int32_t width,
                                      int32_t classes, float conv_dropout, float dense_dropout, float bn_momentum,
                                      uint64_t seed, dcnn_model **out) {
  DCNN_CHECK_ARG(out);
  *out = NULL;
  DCNN_CHECK(channels >= 1 && classes >= 2 && height >= 4 && width >= 4 && height % 4 == 0 && width % 4 == 0,
             DCNN_ERR_INVALID_ARGUMENT,
             "paper CNN: needs >= 1 channel, >= 2 classes and a size divisible by 4 (got %dx%dx%d, %d classes)",
             (int)channels, (int)height, (int)width, (int)classes);
  dcnn_shape input = dcnn_shape_make(3, channels, height, width, 0);
  dcnn_model *m = NULL;
  DCNN_TRY(dcnn_model_create(ctx, &input, &m));
  const paper_config config = {conv_dropout, dense_dropout, bn_momentum};
  dcnn_status status = build(m, classes, &config);
  if (status == DCNN_OK) status = dcnn_model_init(m, seed);
  if (status != DCNN_OK) {
    dcnn_model_destroy(m);
    return status;
  }
  *out = m;
  return DCNN_OK;
}
