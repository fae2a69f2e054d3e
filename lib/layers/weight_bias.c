#include "weight_bias.h"

dcnn_status dcnn__weight_bias_build(dcnn__weight_bias wb, dcnn_context *ctx, const char *layer, int32_t outputs,
                                    int32_t ndim, const int32_t d[4]) {
  DCNN_TRY(dcnn__param_tensor(ctx, wb.weight, layer, "kernel", ndim, d[0], d[1], d[2], d[3]));
  DCNN_TRY(dcnn__param_tensor(ctx, wb.weight_grad, layer, "kernel", ndim, d[0], d[1], d[2], d[3]));
  if (wb.use_bias) {
    DCNN_TRY(dcnn__param_tensor(ctx, wb.bias, layer, "bias", 1, outputs, 0, 0, 0));
    DCNN_TRY(dcnn__param_tensor(ctx, wb.bias_grad, layer, "bias", 1, outputs, 0, 0, 0));
  }
  return DCNN_OK;
}

dcnn_status dcnn__weight_bias_param(dcnn__weight_bias wb, int32_t index, dcnn_param *out) {
  if (index == 0)
    *out = (dcnn_param){sizeof *out, "kernel", *wb.weight, *wb.weight_grad, DCNN_PARAM_TRAINABLE};
  else
    *out = (dcnn_param){sizeof *out, "bias", *wb.bias, *wb.bias_grad, DCNN_PARAM_TRAINABLE | DCNN_PARAM_NO_DECAY};
  return DCNN_OK;
}

dcnn_status dcnn__weight_bias_init(dcnn__weight_bias wb, int64_t fan_in, int64_t fan_out, uint64_t seed) {
  DCNN_TRY(dcnn_tensor_init(*wb.weight, DCNN_INIT_GLOROT_UNIFORM, fan_in, fan_out, seed, 0));
  if (wb.use_bias) DCNN_TRY(dcnn_tensor_fill(*wb.bias, 0.0f));
  return DCNN_OK;
}

void dcnn__weight_bias_destroy(dcnn__weight_bias wb) {
  dcnn_tensor_destroy(*wb.weight);
  dcnn_tensor_destroy(*wb.weight_grad);
  dcnn_tensor_destroy(*wb.bias);
  dcnn_tensor_destroy(*wb.bias_grad);
}
