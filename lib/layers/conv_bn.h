/* A conv2d followed directly by a batchnorm (or batchnorm_relu) stays two
 * layers for the user, but the model and the residual block link the pair
 * when they chain it (dcnn__conv_bn_link), and the conv then runs part of the
 * batch norm in its own output pass:
 * Where it pays (conv2d.c, `fuses`):
 * - training forward: the conv gathers every (image, channel) plane's mean
 *   and sum of squared deviations while the plane is in cache; the batch
 *   norm's forward combines them in image order (deterministic for any thread
 *   count) instead of re-reading its input. It checks that the moments
 *   describe the very tensor and batch it gets, and otherwise computes them
 *   itself, so running the layers any other way stays correct.
 * - inference: when the runner asks for it (dcnn_exec.fold), the conv writes
 *   the batch norm's output (running statistics, and ReLU for batchnorm_relu)
 *   and the runner skips the batch norm. Its time then shows in the conv's
 *   row of a profile.
 * Backward is untouched: each layer runs its own. */
#ifndef DCNN_LAYERS_CONV_BN_H
#define DCNN_LAYERS_CONV_BN_H

#include "layer_internal.h"

/* Links `a` and `b` if `a` is a conv2d and `b` a batchnorm(_relu) over its
 * output planes, both built; else does nothing. Returns whether it linked.
 * Both must stay in the same chain for their lifetime. The conv's output pass
 * then runs where it pays (conv2d.c, `fuses`: large planes finished one image
 * at a time), or with `always` (tests) for every geometry and algorithm. */
int dcnn__conv_bn_link(dcnn_layer *a, dcnn_layer *b, int always);

/* 1 when `a` is a conv2d linked to `b` and fusing with it (for the algorithm
 * it runs now): in inference the runner may set exec.fold for `a`'s forward
 * and then skip `b`. */
int dcnn__conv_bn_folds(const dcnn_layer *a, const dcnn_layer *b);

/* Links the consecutive pairs of a chain (a residual block's body or shortcut). */
void dcnn__conv_bn_link_chain(dcnn_layer *const *layers, int32_t count);

/* batchnorm.c: the inference scale and shift of channel c and the ReLU floor
 * (-inf without), exactly as the batch norm's own inference forward uses them. */
void dcnn__batchnorm_eval_affine(const dcnn_layer *bn, int32_t c, float *scale, float *shift, float *floor);
/* batchnorm.c: records the conv feeding `bn` (NULL to unlink). */
void dcnn__batchnorm_set_producer(dcnn_layer *bn, const dcnn_layer *conv);
/* batchnorm.c: 1 for the built-in batchnorm and batchnorm_relu. */
int dcnn__layer_is_batchnorm(const dcnn_layer *layer);
/* batchnorm.c: a built-in batch norm's running variance (C), or NULL for any other layer. */
const dcnn_tensor *dcnn__batchnorm_variance(const dcnn_layer *layer);

/* conv2d.c: 1 for the built-in conv2d. */
int dcnn__layer_is_conv2d(const dcnn_layer *layer);
/* conv2d.c: records the batch norm that follows `conv` (see dcnn__conv_bn_link). */
void dcnn__conv2d_set_follower(dcnn_layer *conv, const dcnn_layer *bn, int always);
/* conv2d.c: the plane moments (batch, F, 2: mean, sum of squared deviations)
 * of the conv's last training forward if it wrote `y` with `batch` images,
 * else NULL. They are consumed: a second call returns NULL. */
const double *dcnn__conv2d_take_moments(const dcnn_layer *conv, const float *y, int32_t batch);

#endif
