/* The kernel and optional bias of conv2d, depthwise_conv2d and dense, with
 * their gradients: creation, enumeration as parameters, initialisation and
 * release in one place. The layers keep the four tensors in their own fields
 * (their kernels read those); these helpers reach them through a view of
 * pointers the layer makes on the spot. */
#ifndef DCNN_LAYERS_WEIGHT_BIAS_H
#define DCNN_LAYERS_WEIGHT_BIAS_H

#include "layer_internal.h"

typedef struct dcnn__weight_bias {
  dcnn_tensor **weight, **weight_grad; /* the kernel's shape */
  dcnn_tensor **bias, **bias_grad;     /* (outputs); left NULL without a bias */
  int use_bias;
} dcnn__weight_bias;

/* Creates the kernel (ndim <= 4, dims d) and, with use_bias, the bias of
 * `outputs` values, each with its gradient; errors name `layer` and the tensor. */
dcnn_status dcnn__weight_bias_build(dcnn__weight_bias wb, dcnn_context *ctx, const char *layer, int32_t outputs,
                                    int32_t ndim, const int32_t d[4]);
/* Parameter 0 "kernel" (trainable), 1 "bias" (trainable, no weight decay): the layer's param slot. */
dcnn_status dcnn__weight_bias_param(dcnn__weight_bias wb, int32_t index, dcnn_param *out);
/* Glorot-uniform kernel for fan_in and fan_out, zero bias: the layer's init_params. */
dcnn_status dcnn__weight_bias_init(dcnn__weight_bias wb, int64_t fan_in, int64_t fan_out, uint64_t seed);
/* Destroys the tensors (the layer's destroy). */
void dcnn__weight_bias_destroy(dcnn__weight_bias wb);

#endif
