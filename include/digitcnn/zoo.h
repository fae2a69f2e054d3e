/**
 * @file zoo.h
 * @brief Ready-made architectures.
 *
 * Every builder takes one ::dcnn_zoo_options: the input size, the classes,
 * the seed and the few architecture settings there are, by name. Fields a
 * builder has no use for are ignored.
 *
 * Ownership: the caller owns the returned model (dcnn_model_destroy()); the
 * options are borrowed for the call.
 * Thread-safety: safe from any thread.
 */
/** @addtogroup models
 * @{ */
#ifndef DIGITCNN_ZOO_H
#define DIGITCNN_ZOO_H

#include <stddef.h>
#include <stdint.h>

#include "context.h"
#include "export.h"
#include "model.h"
#include "status.h"

DCNN_BEGIN_DECLS

/**
 * @brief Settings of the zoo's builders. Make one with #DCNN_ZOO_OPTIONS_INIT
 *        (or dcnn_zoo_options_init() after setting @c struct_size; never
 *        zero it: @c struct_size must be set), then change the fields you
 *        need. Fields are only ever
 *        appended; @c struct_size tells the library which ones the caller
 *        knows, so a program built against this header keeps working with a
 *        later library.
 */
typedef struct dcnn_zoo_options {
  size_t struct_size;  /**< sizeof(dcnn_zoo_options) of the caller's header; set by #DCNN_ZOO_OPTIONS_INIT, kept by dcnn_zoo_options_init(). */
  int32_t height;      /**< Input height (default 28, the paper's). */
  int32_t width;       /**< Input width (default 28). */
  int32_t channels;    /**< Input channels: 1 gray, 3 RGB (default 1). */
  int32_t classes;     /**< Output classes (default 10). */
  uint64_t seed;       /**< Initialisation seed (default 1). */
  float conv_dropout;  /**< Paper CNN: dropout after each pooling stage, in [0, 1) (default 0.25). */
  float dense_dropout; /**< Paper CNN: dropout after the dense block, in [0, 1) (default 0.5). */
  float bn_momentum;   /**< Paper CNN: batch-norm momentum (Keras convention), in [0, 1) (default 0.99). */
  int32_t dense_units; /**< VGG-16: width of the two hidden dense layers (default 512; 4096 in the original). */
  int32_t batch_norm;  /**< VGG-16: 1 follows every conv with batch norm (convs then
                            have no bias), 0 does not (default 0). */
  float width_multiplier; /**< Paper CNN: filters (32, 64, and the extra stages' 128, 256) and
                               dense units (256) times this, rounded, in [0.25, 8] (default 1). */
  int32_t extra_blocks;   /**< Paper CNN: conv-BN-ReLU blocks per stage beyond the paper's 2,
                               0..6 (default 0). */
  int32_t reserved;       /**< Unused and never read. Where uint64_t is 8-aligned (LP64, 32-bit
                               ARM) it is the tail padding of the layout before @c extra_stages,
                               whose programs pass garbage here. */
  int32_t extra_stages;   /**< Paper CNN: pooled stages beyond the paper's 2, 0..2 (default 0);
                               each doubles the previous stage's filters (128, then 256, times
                               @c width_multiplier) and halves the size, so height and width
                               must be divisible by 2 to the power of the number of stages. */
} dcnn_zoo_options;

/** @brief Initialiser of a ::dcnn_zoo_options with every default (the paper's CNN on 28 x 28 gray digits). */
#define DCNN_ZOO_OPTIONS_INIT {sizeof(dcnn_zoo_options), 28, 28, 1, 10, 1, 0.25f, 0.5f, 0.99f, 512, 0, 1.0f, 0, 0, 0}

/**
 * @brief Sets the fields of @p options that its @c struct_size holds to their
 *        defaults, as #DCNN_ZOO_OPTIONS_INIT does (for bindings that cannot
 *        use the macro).
 *
 * Set @c struct_size first, to the size of the struct as the caller knows it
 * (`dcnn_zoo_options o = DCNN_STRUCT_INIT(dcnn_zoo_options);`, or a binding's
 * own size): the library writes only those bytes, so a program built against
 * an older header keeps working with a later library. Fields of a newer
 * header that this library does not know are set to zero, the one value its
 * builders accept for them. @c struct_size is kept.
 * @code{.c}
 * dcnn_zoo_options arch = DCNN_STRUCT_INIT(dcnn_zoo_options);
 * if (dcnn_zoo_options_init(&arch) != DCNN_OK) fprintf(stderr, "%s\n", dcnn_last_error());
 * @endcode
 * @param[in,out] options The options, @c struct_size set.
 * @return #DCNN_OK, or #DCNN_ERR_INVALID_ARGUMENT (NULL, or a @c struct_size
 *         below the first layout: not set) with nothing written.
 * Thread-safe.
 */
DCNN_API dcnn_status dcnn_zoo_options_init(dcnn_zoo_options *options) DCNN_WARN_UNUSED_RESULT;

/**
 * @brief The paper's CNN (the project's reading of the paper; measured in docs/results.md):
 *        2 x [conv3x3-BN-ReLU] 32, max-pool, dropout, 2 x [conv3x3-BN-ReLU]
 *        64, max-pool, dropout, flatten, dense 256 (no bias)-BN-ReLU,
 *        dropout, dense, softmax. Batch norm epsilon 1e-3. With the defaults
 *        (dropout 0.25 and 0.5, momentum 0.99) it is the paper's model; the
 *        regularisation fields serve hyperparameter searches. Each BN-ReLU
 *        pair is one fused "batchnorm_relu" layer (18 layers). A wider or
 *        deeper member of the family: @c width_multiplier scales the filters
 *        and dense units, @c extra_blocks adds conv-BN-ReLU blocks per stage,
 *        @c extra_stages adds pooled stages of 128 and 256 filters.
 * @code{.c}
 * dcnn_zoo_options arch = DCNN_ZOO_OPTIONS_INIT; // 28x28 gray, 10 classes, seed 1
 * arch.channels = 3;                             // RGB input instead
 * dcnn_model *paper = NULL;
 * if (dcnn_zoo_paper_cnn(NULL, &arch, &paper) != DCNN_OK) fprintf(stderr, "%s\n", dcnn_last_error());
 * dcnn_model_destroy(paper);
 * @endcode
 * @param ctx Context, or NULL.
 * @param options height and width divisible by 4 (8 with one extra stage,
 *        16 with two), channels, classes, seed, conv_dropout, dense_dropout,
 *        bn_momentum, width_multiplier, extra_blocks, extra_stages; NULL for
 *        the defaults.
 * @param[out] out The model.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT (a field out of range, named;
 *         @c struct_size not set), #DCNN_ERR_UNSUPPORTED (a larger
 *         @c struct_size, from a newer header, that sets fields this library
 *         does not know; this holds for every zoo builder),
 *         #DCNN_ERR_SHAPE_MISMATCH (an input of more than 2^31-1 values per
 *         sample), #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_zoo_paper_cnn(dcnn_context *ctx, const dcnn_zoo_options *options, dcnn_model **out);

/**
 * @brief LeNet-5 (LeCun et al. 1998): conv 5x5 (6) - tanh - avg-pool - conv 5x5
 *        (16) - tanh - avg-pool - dense 120 - tanh - dense 84 - tanh - dense -
 *        softmax. 61,706 parameters for 32x32x1 inputs and 10 classes.
 * @param ctx Context, or NULL.
 * @param options height and width >= 16 (32 in the original), channels,
 *        classes, seed; NULL for the defaults.
 * @param[out] out The model.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT, #DCNN_ERR_SHAPE_MISMATCH, #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_zoo_lenet5(dcnn_context *ctx, const dcnn_zoo_options *options, dcnn_model **out);

/**
 * @brief LeNet-5 as most of today's baselines build it: the layers and
 *        parameters of dcnn_zoo_lenet5() with ReLU for tanh and max for
 *        average pooling (conv 5x5 (6) - ReLU - max-pool - conv 5x5 (16) - ReLU -
 *        max-pool - dense 120 - ReLU - dense 84 - ReLU - dense - softmax).
 *        digitcnn-table1 trains this one (docs/results.md says why).
 * @param ctx Context, or NULL.
 * @param options As for dcnn_zoo_lenet5().
 * @param[out] out The model.
 * @return As dcnn_zoo_lenet5().
 */
DCNN_API dcnn_status dcnn_zoo_lenet5_relu(dcnn_context *ctx, const dcnn_zoo_options *options, dcnn_model **out);

/**
 * @brief VGG-16 (Simonyan & Zisserman 2014): 13 conv 3x3 layers in 5 stages,
 *        then two dense layers with dropout 0.5 and the classifier. The
 *        standard configuration (224x224x3, dense 4096, 1000 classes, no batch
 *        norm) has 138,357,544 parameters; dense 512 is the usual choice for 32x32.
 * @param ctx Context, or NULL.
 * @param options height and width >= 32, channels, classes, seed,
 *        dense_units, batch_norm; NULL for the defaults (which are too small:
 *        set height and width).
 * @param[out] out The model.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT, #DCNN_ERR_SHAPE_MISMATCH, #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_zoo_vgg16(dcnn_context *ctx, const dcnn_zoo_options *options, dcnn_model **out);

/**
 * @brief ResNet-50 (He et al. 2016, v1.5): standard stem, bottleneck stages
 *        [3, 4, 6, 3] built from residual blocks, global average pool, dense.
 *        25,557,032 trainable parameters at 224x224x3 with 1000 classes.
 *
 * Its strided windows (stem convolution and max-pool, each stage's first 3x3) pad as torchvision
 * does (#DCNN_PADDING_SAME_LOWER), so that a downsampling block's two branches sample one grid.
 * The zoo's earlier ResNet-50 padded them as Keras' "same" (the 3x3 a pixel off its shortcut);
 * files saved from it load and compute as they did.
 * @param ctx Context, or NULL.
 * @param options height and width >= 32, channels, classes, seed.
 * @param[out] out The model.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT, #DCNN_ERR_SHAPE_MISMATCH (an input so large that a
 *         layer's output would exceed the library's size limits), #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_zoo_resnet50(dcnn_context *ctx, const dcnn_zoo_options *options, dcnn_model **out);

/**
 * @brief MobileNetV2 (Sandler et al. 2018), width 1.0: inverted residual
 *        blocks with depthwise convolutions and ReLU6. 3,504,872 trainable
 *        parameters at 224x224x3 with 1000 classes.
 * @param ctx Context, or NULL.
 * @param options height and width >= 32, channels, classes, seed.
 * @param[out] out The model.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT, #DCNN_ERR_SHAPE_MISMATCH (an input so large that a
 *         layer's output would exceed the library's size limits), #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_zoo_mobilenetv2(dcnn_context *ctx, const dcnn_zoo_options *options, dcnn_model **out);

DCNN_END_DECLS

#endif /* DIGITCNN_ZOO_H */
/** @} */
