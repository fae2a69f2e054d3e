/* Linking a conv2d to the batch norm that follows it (conv_bn.h). */
#include "conv_bn.h"

int dcnn__conv_bn_link(dcnn_layer *a, dcnn_layer *b, int always) {
  if (!a || !b || !a->built || !b->built || !dcnn__layer_is_conv2d(a) || !dcnn__layer_is_batchnorm(b)) return 0;
  /* The batch norm normalises the conv's filters over its output planes. */
  if (a->output.ndim != 4 || !dcnn_shape_equal(&a->output, &b->input)) return 0;
  dcnn__conv2d_set_follower(a, b, always);
  dcnn__batchnorm_set_producer(b, a);
  return 1;
}

void dcnn__conv_bn_link_chain(dcnn_layer *const *layers, int32_t count) {
  for (int32_t i = 0; i + 1 < count; ++i) dcnn__conv_bn_link(layers[i], layers[i + 1], 0);
}
