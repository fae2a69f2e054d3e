/**
 * @file zoo.h
 * @brief Ready-made architectures.
 *
 * Ownership: the caller owns the returned model (dcnn_model_destroy()).
 * Thread-safety: safe from any thread.
 */
#ifndef DIGITCNN_ZOO_H
#define DIGITCNN_ZOO_H

#include <stdint.h>

#include "context.h"
#include "export.h"
#include "model.h"
#include "status.h"

DCNN_BEGIN_DECLS

/**
 * @brief The paper's CNN (docs/paper.md, the project's reading of the paper):
 *        2 x [conv3x3-BN-ReLU] 32, max-pool, dropout 0.25, 2 x [conv3x3-BN-ReLU]
 *        64, max-pool, dropout 0.25, flatten, dense 256 (no bias)-BN-ReLU,
 *        dropout 0.5, dense, softmax. Batch norm: momentum 0.99, epsilon 1e-3.
 *        Each BN-ReLU pair is one fused "batchnorm_relu" layer (18 layers).
 * @param ctx Context, or NULL.
 * @param channels Input channels (1 for the paper's grayscale, 3 for RGB).
 * @param height Input height (28 in the paper); divisible by 4.
 * @param width Input width (28 in the paper); divisible by 4.
 * @param classes Output classes (10).
 * @param seed Initialisation seed.
 * @param[out] out The model.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT, #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_zoo_paper_cnn(dcnn_context *ctx, int32_t channels, int32_t height, int32_t width,
                                        int32_t classes, uint64_t seed, dcnn_model **out);

/**
 * @brief The paper's CNN with its regularisation as parameters (for
 *        hyperparameter searches); dcnn_zoo_paper_cnn() is this with 0.25,
 *        0.5 and 0.99.
 * @param ctx Context, or NULL.
 * @param channels Input channels.
 * @param height Input height; divisible by 4.
 * @param width Input width; divisible by 4.
 * @param classes Output classes.
 * @param conv_dropout Dropout rate after each pooling stage, in [0, 1).
 * @param dense_dropout Dropout rate after the dense block, in [0, 1).
 * @param bn_momentum Batch-norm momentum (Keras convention), in [0, 1).
 * @param seed Initialisation seed.
 * @param[out] out The model.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT, #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_zoo_paper_cnn_custom(dcnn_context *ctx, int32_t channels, int32_t height, int32_t width,
                                               int32_t classes, float conv_dropout, float dense_dropout,
                                               float bn_momentum, uint64_t seed, dcnn_model **out);

/**
 * @brief LeNet-5 (LeCun et al. 1998): conv 5x5 (6) - tanh - avg-pool - conv 5x5
 *        (16) - tanh - avg-pool - dense 120 - tanh - dense 84 - tanh - dense -
 *        softmax. 61,706 parameters for 1x32x32 inputs and 10 classes.
 * @param ctx Context, or NULL.
 * @param channels Input channels.
 * @param height Input height (32 in the original), >= 16.
 * @param width Input width, >= 16.
 * @param classes Output classes.
 * @param seed Initialisation seed.
 * @param[out] out The model.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT, #DCNN_ERR_SHAPE_MISMATCH, #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_zoo_lenet5(dcnn_context *ctx, int32_t channels, int32_t height, int32_t width,
                                     int32_t classes, uint64_t seed, dcnn_model **out);

/**
 * @brief VGG-16 (Simonyan & Zisserman 2014): 13 conv 3x3 layers in 5 stages,
 *        then two dense layers with dropout 0.5 and the classifier. The
 *        standard configuration (224x224x3, dense 4096, 1000 classes, no batch
 *        norm) has 138,357,544 parameters; dense 512 is the usual choice for 32x32.
 * @param ctx Context, or NULL.
 * @param channels Input channels.
 * @param height Input height, >= 32.
 * @param width Input width, >= 32.
 * @param classes Output classes.
 * @param dense_units Width of the two hidden dense layers (4096 or 512).
 * @param batch_norm Non-zero to follow every conv with batch norm (convs then have no bias).
 * @param seed Initialisation seed.
 * @param[out] out The model.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT, #DCNN_ERR_SHAPE_MISMATCH, #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_zoo_vgg16(dcnn_context *ctx, int32_t channels, int32_t height, int32_t width,
                                    int32_t classes, int32_t dense_units, int batch_norm, uint64_t seed,
                                    dcnn_model **out);

/**
 * @brief ResNet-50 (He et al. 2016, v1.5): standard stem, bottleneck stages
 *        [3, 4, 6, 3] built from residual blocks, global average pool, dense.
 *        25,557,032 trainable parameters at 224x224x3 with 1000 classes.
 * @param ctx Context, or NULL.
 * @param channels Input channels.
 * @param height Input height, >= 32.
 * @param width Input width, >= 32.
 * @param classes Output classes.
 * @param seed Initialisation seed.
 * @param[out] out The model.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT, #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_zoo_resnet50(dcnn_context *ctx, int32_t channels, int32_t height, int32_t width,
                                       int32_t classes, uint64_t seed, dcnn_model **out);

/**
 * @brief MobileNetV2 (Sandler et al. 2018), width 1.0: inverted residual
 *        blocks with depthwise convolutions and ReLU6. 3,504,872 trainable
 *        parameters at 224x224x3 with 1000 classes.
 * @param ctx Context, or NULL.
 * @param channels Input channels.
 * @param height Input height, >= 32.
 * @param width Input width, >= 32.
 * @param classes Output classes.
 * @param seed Initialisation seed.
 * @param[out] out The model.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT, #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_zoo_mobilenetv2(dcnn_context *ctx, int32_t channels, int32_t height, int32_t width,
                                          int32_t classes, uint64_t seed, dcnn_model **out);

DCNN_END_DECLS

#endif /* DIGITCNN_ZOO_H */
