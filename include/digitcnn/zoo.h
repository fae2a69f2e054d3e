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

DCNN_END_DECLS

#endif /* DIGITCNN_ZOO_H */
