/* The output pass a convolution runs on its planes when a batch norm follows
 * it (lib/layers/conv_bn.h): the training forward gathers each plane's
 * moments while the plane is still in cache, so the batch norm's forward does
 * not re-read the tensor for them; inference applies the batch norm's scale
 * and shift (and its ReLU) in place, so the batch norm's own pass disappears.
 * One plane per call, single-threaded: the caller splits planes over lanes,
 * so each plane's result comes from one call whatever the thread count. */
#ifndef DCNN_KERNELS_CONV_EPILOGUE_H
#define DCNN_KERNELS_CONV_EPILOGUE_H

#include <stdint.h>

/* y += bias (if add_bias); mean = sum(y) / p; m2 = sum((y - mean)^2), each
 * sum in float within the plane, returned in double. y: (p). */
void dcnn__plane_moments(float *y, int64_t p, float bias, int add_bias, double *mean, double *m2);

/* y = max(floor, (y + bias) * scale + shift), the batch norm's arithmetic on
 * the biased output (no contraction into FMA), floor -inf: no ReLU; a NaN
 * stays NaN. y: (p). */
void dcnn__plane_affine(float *y, int64_t p, float bias, float scale, float shift, float floor);

#endif
