/* Internal control of the depthwise convolution's algorithm, for tests and
 * measurements. */
#ifndef DCNN_DEPTHWISE_CONV2D_H
#define DCNN_DEPTHWISE_CONV2D_H

#include "layer_internal.h"

typedef enum dcnn__dw_path {
  DCNN__DW_AUTO = 0,          /* phase planes for stride 1 on planes of more than 128 values, else channels-last */
  DCNN__DW_PLANES = 1,        /* kernels/depthwise.c: dcnn__dw_forward / dcnn__dw_backward */
  DCNN__DW_CHANNELS_LAST = 2, /* kernels/depthwise.c: dcnn__dw_block_forward / dcnn__dw_block_backward */
} dcnn__dw_path;

/* Forces `layer` (a depthwise_conv2d) to one path; call before the workspace
 * is sized (before the layer joins a planned model or a gradient check).
 * DCNN_ERR_INVALID_ARGUMENT for another layer type or an unknown path. */
dcnn_status dcnn__depthwise_force_path(dcnn_layer *layer, dcnn__dw_path path);

#endif
