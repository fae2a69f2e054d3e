/**
 * @file builtin_layers.h
 * @brief Constructors of the built-in layers.
 *
 * Each constructor returns a new, unbuilt layer owned by the caller until it
 * is handed to a model with dcnn_model_add() (which takes ownership).
 * Shapes are NCHW; "per sample" shapes leave out the batch.
 *
 * Thread-safety: constructors are safe from any thread.
 */
/** @addtogroup layers
 * @{ */
#ifndef DIGITCNN_BUILTIN_LAYERS_H
#define DIGITCNN_BUILTIN_LAYERS_H

#include <stdint.h>

#include "export.h"
#include "layer_interface.h"
#include "model.h"
#include "status.h"

DCNN_BEGIN_DECLS

/** @brief Padding of convolutions and pools. Numbers are stable (ABI, model files store the names). */
typedef enum dcnn_padding {
  DCNN_PADDING_VALID = 0, /**< No padding: output = floor((in - kernel) / stride) + 1 ("valid"). */
  /** Zero padding so that output = ceil(in / stride), total = (output - 1) * stride + kernel - in
   * rows (and columns); total / 2 go before, an odd one out after, as Keras and TensorFlow ("same",
   * ONNX SAME_UPPER). */
  DCNN_PADDING_SAME = 1,
  /** As #DCNN_PADDING_SAME, the odd one out before ("same_lower", ONNX SAME_LOWER). For odd kernels
   * this is PyTorch's padding = kernel / 2 on each side: with stride 2 on an even input window i is
   * centred on pixel 2i, as a 1x1 convolution of stride 2 samples, where #DCNN_PADDING_SAME centres it
   * on 2i + 1. */
  DCNN_PADDING_SAME_LOWER = 2
} dcnn_padding;

/** @brief Whether a convolution or dense layer adds a learned bias. Numbers are stable (ABI). */
typedef enum dcnn_bias_mode {
  DCNN_NO_BIAS = 0,  /**< No bias (usual before batch normalisation). */
  DCNN_WITH_BIAS = 1 /**< A bias per output channel or feature, initialised to zero. */
} dcnn_bias_mode;

/** @brief What a residual block applies after the sum. Numbers are stable (ABI). */
typedef enum dcnn_residual_activation {
  DCNN_RESIDUAL_LINEAR = 0, /**< Nothing: y = body(x) + shortcut(x) (MobileNetV2). */
  DCNN_RESIDUAL_RELU = 1    /**< A ReLU: y = max(body(x) + shortcut(x), 0) (ResNet). */
} dcnn_residual_activation;

/**
 * @brief 2-D convolution, weights (filters, in_channels, kernel, kernel).
 *
 * The algorithm (im2col + SGEMM, SGEMM on the activations for 1x1 kernels,
 * Winograd for 3x3 stride 1, direct loops for few input channels) is chosen
 * per layer by a rule, or forced with dcnn_conv2d_set_algorithm().
 * Glorot-uniform kernel, zero bias.
 * @param filters Output channels, 1..65536.
 * @param kernel Square kernel size, 1..1024 (what a model file holds).
 * @param stride Stride, 1..1024.
 * @param padding #DCNN_PADDING_SAME, #DCNN_PADDING_SAME_LOWER or #DCNN_PADDING_VALID.
 * @param bias #DCNN_WITH_BIAS for a per-filter bias, #DCNN_NO_BIAS for none.
 * @param[out] out The layer.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT (also an unknown @p bias), #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_conv2d_create(int32_t filters, int32_t kernel, int32_t stride, dcnn_padding padding,
                                        dcnn_bias_mode bias, dcnn_layer **out);

/**
 * @brief How a conv2d layer computes its passes (see docs/performance.md,
 *        "Convolution algorithms"). Numbers are stable (ABI).
 */
typedef enum dcnn_conv_algorithm {
  DCNN_CONV_AUTO = 0,          /**< Chosen by the documented rule (dcnn_conv2d_set_algorithm()). */
  DCNN_CONV_IM2COL_GEMM = 1,   /**< im2col + SGEMM: every geometry. Name "im2col_gemm". */
  DCNN_CONV_GEMM_1X1 = 2,      /**< SGEMM straight on the activations: 1x1 kernels (any stride). "gemm_1x1". */
  DCNN_CONV_WINOGRAD_2X2 = 3,  /**< Winograd F(2x2, 3x3): 3x3 kernels with stride 1. "winograd_2x2". */
  DCNN_CONV_WINOGRAD_4X4 = 4,  /**< Winograd F(4x4, 3x3): 3x3 kernels with stride 1. "winograd_4x4". */
  DCNN_CONV_DIRECT = 5,        /**< Direct loops over a padded image (forward; backward as
                                    im2col_gemm): every geometry, fast for few input channels
                                    and filters. "direct". */
  DCNN_CONV_UNROLLED_GEMM = 6  /**< One SGEMM per pass over whole images with the kernel unrolled
                                    into a (F*OH*OW, C*H*W) matrix built per call: every
                                    geometry, fast on planes smaller than the kernel (only the
                                    taps that meet pixels are computed). "unrolled_gemm". */
} dcnn_conv_algorithm;

/**
 * @brief Forces the algorithm of a conv2d layer, or returns it to the rule (#DCNN_CONV_AUTO).
 *
 * The rule for #DCNN_CONV_AUTO depends only on the layer's geometry, so a
 * model and the sessions made from it always agree: 1x1 kernels use
 * #DCNN_CONV_GEMM_1X1; then layers whose input plane has fewer pixels than
 * the kernel has taps (H*W < k*k: the 2x2 and 1x1 planes at the end of VGG-16
 * and ResNet-50 at 32x32 input) use #DCNN_CONV_UNROLLED_GEMM when the unrolled
 * kernel has at most 2^24 floats (F*OH*OW*C*H*W, rebuilt in every pass); 3x3
 * stride-1 kernels with 8 input channels or more use Winograd, F(4x4, 3x3) when both output sides are at least 8 and F(2x2, 3x3)
 * on smaller planes larger than 1x1 (a 4x4 tile would be mostly padding);
 * stride-1 layers with at most 4 input channels and at most 8 filters use
 * #DCNN_CONV_DIRECT (checked after those two, before Winograd); everything else
 * #DCNN_CONV_IM2COL_GEMM.
 * The algorithm is fixed when the model plans its workspace (its first step,
 * prediction or dcnn_model_reserve()) and reported by
 * dcnn_layer_algorithm(), the summary and the profile. Algorithms differ in
 * rounding only (Winograd's error is documented in docs/performance.md).
 * Sessions (dcnn_session_create()) size their workspace for the algorithm of
 * the moment too: choose it before creating them (a change that needs more
 * workspace makes their predictions fail with #DCNN_ERR_INVALID_STATE).
 *
 * Call it on an unbuilt layer (the choice is then checked when it is built:
 * dcnn_model_add() fails with #DCNN_ERR_UNSUPPORTED if it does not apply) or
 * on a built layer before its model plans a workspace. The setting is not
 * saved in model files.
 *
 * @param layer     A layer made by dcnn_conv2d_create() (borrowed).
 * @param algorithm One of ::dcnn_conv_algorithm.
 * @return #DCNN_OK; #DCNN_ERR_INVALID_ARGUMENT for a NULL layer, a layer that
 *         is not a conv2d, or an unknown value; #DCNN_ERR_UNSUPPORTED when the
 *         algorithm does not apply to the built layer's geometry (the message
 *         says why); #DCNN_ERR_INVALID_STATE when a model already planned the
 *         layer's workspace for another algorithm (setting the one it runs,
 *         or #DCNN_CONV_AUTO where that is what it chose, is #DCNN_OK). The
 *         layer is unchanged on error.
 * @par Thread-safety
 *   Like any change to a layer: not while the layer (its model or a session
 *   made from it) runs in another thread.
 */
DCNN_API dcnn_status dcnn_conv2d_set_algorithm(dcnn_layer *layer, dcnn_conv_algorithm algorithm);

/**
 * @brief Forces @p algorithm on every conv2d layer of @p model where it
 *        applies, residual blocks included (#DCNN_CONV_AUTO applies to all);
 *        the others keep theirs. For measurements (`digitcnn-bench --conv-algorithm`).
 * @param model     The model (borrowed).
 * @param algorithm One of ::dcnn_conv_algorithm.
 * @param[out] applied Optional (NULL allowed): receives the number of layers changed; 0 on error.
 * @return #DCNN_OK; #DCNN_ERR_INVALID_ARGUMENT for a NULL model or an unknown
 *         value; #DCNN_ERR_INVALID_STATE when the model already planned its
 *         workspace and a layer would change (layers before the refused one
 *         are changed; a planned model where the algorithm applies to no
 *         layer returns #DCNN_OK with @p applied 0).
 * @par Thread-safety
 *   As dcnn_conv2d_set_algorithm(): the model must not run meanwhile.
 */
DCNN_API dcnn_status dcnn_model_set_conv_algorithm(dcnn_model *model, dcnn_conv_algorithm algorithm,
                                                   int32_t *applied);

/**
 * @brief The name of the algorithm a layer runs ("im2col_gemm", "gemm_1x1",
 *        "winograd_2x2", "winograd_4x4", "direct", "unrolled_gemm"), or "" for a layer with one
 *        algorithm (every layer but conv2d, and composite layers such as
 *        residual blocks, whose summary row lists their convolutions').
 *
 * For a conv2d layer that is not built yet: the forced algorithm's name, or
 * "auto" when none is forced.
 * @param layer The layer (borrowed).
 * @param[out] name Receives a static string (never freed); "" on error.
 * @return #DCNN_OK; #DCNN_ERR_INVALID_ARGUMENT for NULL arguments.
 * @par Thread-safety
 *   Safe from any thread while no thread changes the layer.
 */
DCNN_API dcnn_status dcnn_layer_algorithm(const dcnn_layer *layer, const char **name);

/**
 * @brief Batch normalisation over channels (4-D input) or features (2-D input).
 *
 * Training mode normalises with the batch statistics and updates the running
 * ones: running = momentum * running + (1 - momentum) * batch (Keras
 * convention; the running variance takes the unbiased batch variance).
 * Inference mode uses the running statistics.
 * @param momentum In [0, 1); Keras' default 0.99.
 * @param epsilon > 0; Keras' default 1e-3.
 * @param[out] out The layer.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT, #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_batchnorm_create(float momentum, float epsilon, dcnn_layer **out);

/**
 * @brief Batch normalisation followed by a ReLU, fused: the same result as
 *        dcnn_batchnorm_create() then dcnn_relu_create(), with one pass over
 *        memory instead of two in each direction. Type name "batchnorm_relu".
 * @param momentum As for dcnn_batchnorm_create().
 * @param epsilon As for dcnn_batchnorm_create().
 * @param[out] out The layer.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT, #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_batchnorm_relu_create(float momentum, float epsilon, dcnn_layer **out);

/**
 * @brief Rectified linear unit, max(x, 0).
 * @param[out] out The layer.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT, #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_relu_create(dcnn_layer **out);

/**
 * @brief 2-D max pooling.
 * @param pool Square window, 1..1024 (what a model file holds).
 * @param stride Stride, 1..1024 (usually equal to @p pool).
 * @param padding #DCNN_PADDING_VALID, #DCNN_PADDING_SAME or #DCNN_PADDING_SAME_LOWER (padding never wins the max).
 * @param[out] out The layer.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT, #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_maxpool2d_create(int32_t pool, int32_t stride, dcnn_padding padding, dcnn_layer **out);

/**
 * @brief Inverted dropout: in training, zeroes each input with probability
 *        @p rate and scales the rest by 1 / (1 - rate); identity in inference.
 *        The mask is drawn from dcnn_exec_seed(), so runs are reproducible.
 * @param rate In [0, 1).
 * @param[out] out The layer.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT, #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_dropout_create(float rate, dcnn_layer **out);

/**
 * @brief Flattens (N, C, H, W) to (N, C * H * W).
 * @param[out] out The layer.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT, #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_flatten_create(dcnn_layer **out);

/**
 * @brief Fully connected layer on (N, in) inputs: y = x W + b, W (in, units).
 *        Glorot-uniform kernel, zero bias.
 * @param units Output features, 1..65536 (what a model file holds).
 * @param bias #DCNN_WITH_BIAS or #DCNN_NO_BIAS.
 * @param[out] out The layer.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT (also an unknown @p bias), #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_dense_create(int32_t units, dcnn_bias_mode bias, dcnn_layer **out);

/**
 * @brief Softmax over the features of (N, K) inputs.
 *
 * When it is a model's last layer, training fuses it with the cross-entropy
 * loss (gradient p - y from the logits), which is exact and stable.
 * @param[out] out The layer.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT, #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_softmax_create(dcnn_layer **out);

/**
 * @brief ReLU6: min(max(x, 0), 6) (MobileNetV2).
 * @param[out] out The layer.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT, #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_relu6_create(dcnn_layer **out);

/**
 * @brief Hyperbolic tangent (classic LeNet-5).
 * @param[out] out The layer.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT, #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_tanh_create(dcnn_layer **out);

/**
 * @brief Logistic sigmoid, 1 / (1 + e^-x).
 * @param[out] out The layer.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT, #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_sigmoid_create(dcnn_layer **out);

/**
 * @brief 2-D average pooling; with 'same' padding only pixels inside the
 *        image are averaged (Keras).
 * @param pool Square window, 1..1024 (what a model file holds).
 * @param stride Stride, 1..1024.
 * @param padding #DCNN_PADDING_VALID, #DCNN_PADDING_SAME or #DCNN_PADDING_SAME_LOWER.
 * @param[out] out The layer.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT, #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_avgpool2d_create(int32_t pool, int32_t stride, dcnn_padding padding, dcnn_layer **out);

/**
 * @brief Global average pooling: (N, C, H, W) to (N, C).
 * @param[out] out The layer.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT, #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_global_avgpool_create(dcnn_layer **out);

/**
 * @brief Depthwise 2-D convolution (one k x k filter per channel, channel
 *        multiplier 1), weights (C, 1, k, k).
 * @param kernel Square kernel size, 1..1024 (what a model file holds).
 * @param stride Stride, 1..1024.
 * @param padding #DCNN_PADDING_SAME, #DCNN_PADDING_SAME_LOWER or #DCNN_PADDING_VALID.
 * @param bias #DCNN_WITH_BIAS for a per-channel bias, #DCNN_NO_BIAS for none.
 * @param[out] out The layer.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT (also an unknown @p bias), #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_depthwise_conv2d_create(int32_t kernel, int32_t stride, dcnn_padding padding,
                                                  dcnn_bias_mode bias, dcnn_layer **out);

/**
 * @brief Residual block: y = act(body(x) + shortcut(x)).
 *
 * The block is a layer holding two chains of layers; the chains' outputs must
 * have the same shape. Its parameters are the body's then the shortcut's,
 * named "body.<i>.<name>" and "shortcut.<i>.<name>".
 * @param body @p body_count layers applied in order, >= 1.
 * @param body_count Number of body layers.
 * @param shortcut @p shortcut_count layers; none (0, NULL allowed) is the identity.
 * @param shortcut_count Number of shortcut layers.
 * @param activation #DCNN_RESIDUAL_RELU (ResNet) or #DCNN_RESIDUAL_LINEAR (MobileNetV2).
 * @param[out] out The block. Ownership of every body and shortcut layer passes
 *        to the block in all cases (on failure they are destroyed, each once),
 *        except for layers that already belong to a model or another block:
 *        those are refused and left to their owner.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT (also for a layer given twice
 *         in the two chains, or beside a nested residual block given here
 *         that already holds it, one that belongs to a model or another
 *         block, or one already built: the block builds its layers for its
 *         own input), #DCNN_ERR_OUT_OF_MEMORY. A layer inside a block is that
 *         block's: it must not be given again.
 */
DCNN_API dcnn_status dcnn_residual_create(dcnn_layer *const *body, int32_t body_count, dcnn_layer *const *shortcut,
                                          int32_t shortcut_count, dcnn_residual_activation activation,
                                          dcnn_layer **out);

DCNN_END_DECLS

#endif /* DIGITCNN_BUILTIN_LAYERS_H */
/** @} */
