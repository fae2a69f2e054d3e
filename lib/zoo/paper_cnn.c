/* The paper's CNN, as read in the project's reading notes. Each BatchNorm ->
 * ReLU pair is one fused batchnorm_relu layer (same function, less memory traffic). */
#include <math.h>

#include "zoo_internal.h"

#define PAPER_BN_EPSILON 1e-3f

typedef struct paper_config {
  float conv_dropout, dense_dropout, bn_momentum;
  int32_t classes;
  int32_t stages;                          /* the paper: 2 */
  int32_t filters[4], dense_units, blocks; /* the paper: 32, 64; 256; 2 blocks per stage */
} paper_config;

static dcnn_status conv_block(dcnn_model *m, int32_t filters, const paper_config *c) {
  dcnn_layer *l = NULL;
  DCNN_TRY(dcnn__zoo_add(m, dcnn_conv2d_create(filters, 3, 1, DCNN_PADDING_SAME, DCNN_NO_BIAS, &l), &l));
  return dcnn__zoo_add(m, dcnn_batchnorm_relu_create(c->bn_momentum, PAPER_BN_EPSILON, &l), &l);
}

static dcnn_status build(dcnn_model *m, const void *config) {
  const paper_config *c = config;
  dcnn_layer *l = NULL;
  for (int32_t stage = 0; stage < c->stages; ++stage) {
    for (int32_t block = 0; block < c->blocks; ++block) DCNN_TRY(conv_block(m, c->filters[stage], c));
    DCNN_TRY(dcnn__zoo_add(m, dcnn_maxpool2d_create(2, 2, DCNN_PADDING_VALID, &l), &l));
    DCNN_TRY(dcnn__zoo_add(m, dcnn_dropout_create(c->conv_dropout, &l), &l));
  }
  DCNN_TRY(dcnn__zoo_add(m, dcnn_flatten_create(&l), &l));
  DCNN_TRY(dcnn__zoo_add(m, dcnn_dense_create(c->dense_units, DCNN_NO_BIAS, &l), &l));
  DCNN_TRY(dcnn__zoo_add(m, dcnn_batchnorm_relu_create(c->bn_momentum, PAPER_BN_EPSILON, &l), &l));
  DCNN_TRY(dcnn__zoo_add(m, dcnn_dropout_create(c->dense_dropout, &l), &l));
  DCNN_TRY(dcnn__zoo_add(m, dcnn_dense_create(c->classes, DCNN_WITH_BIAS, &l), &l));
  return dcnn__zoo_add(m, dcnn_softmax_create(&l), &l);
}

dcnn_status dcnn_zoo_paper_cnn(dcnn_context *ctx, const dcnn_zoo_options *options, dcnn_model **out) {
  DCNN_CHECK_ARG(out);
  *out = NULL;
  dcnn_zoo_options o;
  DCNN_TRY(dcnn__zoo_options("dcnn_zoo_paper_cnn", options, &o));
  DCNN_CHECK(o.width_multiplier >= 0.25f && o.width_multiplier <= 8.0f && o.extra_blocks >= 0 && o.extra_blocks <= 6 &&
                 o.extra_stages >= 0 && o.extra_stages <= 2,
             DCNN_ERR_INVALID_ARGUMENT,
             "paper CNN: width multiplier %g (0.25..8), extra blocks %d (0..6) or extra stages %d (0..2) out of range",
             (double)o.width_multiplier, (int)o.extra_blocks, (int)o.extra_stages);
  const int32_t stages = dcnn__paper_cnn_stages(o.extra_stages), divisor = 1 << stages;
  DCNN_CHECK(o.channels >= 1 && o.classes >= 2 && o.height >= divisor && o.width >= divisor &&
                 o.height % divisor == 0 && o.width % divisor == 0,
             DCNN_ERR_INVALID_ARGUMENT,
             "paper CNN: needs >= 1 channel, >= 2 classes and a size divisible by %d for %d stages (got %dx%dx%d, %d "
             "classes)",
             (int)divisor, (int)stages, (int)o.height, (int)o.width, (int)o.channels, (int)o.classes);
  const float k = o.width_multiplier;
  paper_config config = {o.conv_dropout, o.dense_dropout, o.bn_momentum, o.classes, stages, {0, 0, 0, 0},
                         (int32_t)lrintf(256 * k), 2 + o.extra_blocks};
  for (int32_t stage = 0; stage < stages; ++stage) config.filters[stage] = (int32_t)lrintf((float)(32 << stage) * k);
  return dcnn__zoo_make(ctx, &o, build, &config, out);
}
