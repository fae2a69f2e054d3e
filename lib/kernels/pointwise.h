/* Memory-bound kernels of the training step outside the convolutions: batch
 * normalisation, pooling, dropout and the optimizer update. Plain functions,
 * single-threaded: the layer or the optimizer splits the work into lanes
 * (images, channels or chunks) and calls them once per lane, so every result
 * is computed by one call in a fixed order whatever the thread count.
 * Each is a plain function calling a static DCNN_CPU_CLONES set in its file:
 * clang 14 emits an external clone set only under its ".ifunc" name, which
 * callers in other files cannot link to. */
#ifndef DCNN_KERNELS_POINTWISE_H
#define DCNN_KERNELS_POINTWISE_H

#include <stdint.h>

/* ---- batch normalisation (batchnorm.c); one channel of n planes of p values,
 * planes `stride` floats apart ---- */

/* sum(x - shift) and sum((x - shift)^2) over the channel, each plane summed in
 * float and added into double in plane order. x: n planes of (p). */
void dcnn__bn_channel_moments(const float *x, int32_t n, int64_t stride, int32_t p, float shift, double *sum,
                              double *sum_sq);

/* y = max(floor, x * scale + shift) (floor -inf: no ReLU; a NaN stays NaN). x, y: n planes of (p). */
void dcnn__bn_channel_apply(const float *x, float *y, int32_t n, int64_t stride, int32_t p, float scale, float shift,
                            float floor);

/* With g = dy where x * scale + shift > floor (the forward's ReLU mask, same
 * arithmetic), else 0: sum(g) and sum(g * (x - mean)). x, dy: n planes of (p). */
void dcnn__bn_channel_grad_sums(const float *x, const float *dy, int32_t n, int64_t stride, int32_t p, float scale,
                                float shift, float floor, float mean, double *sum_g, double *sum_gx);

/* dx = k * (g - a - (x - mean) * b), g masked as above. x, dy, dx: n planes of (p). */
void dcnn__bn_channel_backward(const float *x, const float *dy, float *dx, int32_t n, int64_t stride, int32_t p,
                               float scale, float shift, float floor, float k, float a, float mean, float b);

/* The same four loops for (N, F) input, over a block of `count` features:
 * rows `stride` floats apart, per-feature arrays of (count). */
void dcnn__bn_rows_moments(const float *x, int32_t n, int64_t stride, int32_t count, const float *shift, double *sum,
                           double *sum_sq);
void dcnn__bn_rows_apply(const float *x, float *y, int32_t n, int64_t stride, int32_t count, const float *scale,
                         const float *shift, float floor);
void dcnn__bn_rows_grad_sums(const float *x, const float *dy, int32_t n, int64_t stride, int32_t count,
                             const float *scale, const float *shift, float floor, const float *mean, double *sum_g,
                             double *sum_gx);
void dcnn__bn_rows_backward(const float *x, const float *dy, float *dx, int32_t n, int64_t stride, int32_t count,
                            const float *scale, const float *shift, float floor, const float *k, const float *mean_g,
                            const float *mean, const float *b);

/* ---- max pooling 2x2 stride 2 without padding (pooling.c) ---- */

/* y[oh][ow] = max of the 2x2 window, arg = its position 0..3 (row-major,
 * first maximum on ties); arg may be NULL. x: (h, w) with h >= 2 oh, w >= 2 ow;
 * y, arg: (oh, ow). */
void dcnn__maxpool2x2_plane(const float *x, int32_t w, int32_t oh, int32_t ow, float *y, uint8_t *arg);

/* dx = dy routed to the window position `arg`, 0 elsewhere (rows/columns past
 * 2 oh, 2 ow set to 0). dy, arg: (oh, ow); dx: (h, w). */
void dcnn__maxpool2x2_plane_backward(const float *dy, const uint8_t *arg, int32_t h, int32_t w, int32_t oh,
                                     int32_t ow, float *dx);

/* ---- dropout (dropout.c) ---- */

/* Elements [begin, begin + n) (any begin): keep_i = Philox4x32-10
 * word (i mod 4) of block i / 4 at (seed, stream 0), top 24 bits >= threshold;
 * mask = keep, y = keep ? x * scale : 0. x, y, mask: (n). */
void dcnn__dropout_forward(uint64_t seed, int64_t begin, int64_t n, uint32_t threshold, float scale, const float *x,
                           float *y, uint8_t *mask);

/* dx = mask * scale * dy. dy, dx, mask: (n). */
void dcnn__dropout_backward(const uint8_t *mask, float scale, const float *dy, float *dx, int64_t n);

/* ---- optimizer updates (optimizer_update.c) ---- */

/* max |x| over x (n), or +infinity when some x is not finite. */
float dcnn__max_abs(const float *x, int64_t n);

typedef struct dcnn_sgd_params {
  float lr, momentum, decay;
  int nesterov;
} dcnn_sgd_params;

typedef struct dcnn_adam_params {
  float lr_t, beta1, beta2, epsilon, shrink;
} dcnn_adam_params;

/* SGD: d = g + decay w; v' = momentum v + d (v NULL: v' = d);
 * w' = w - lr (nesterov ? d + momentum v' : v'). Writes w, v; returns max |v'|.
 * w, g, v: (n). */
float dcnn__sgd_write(const dcnn_sgd_params *p, float *w, const float *g, float *v, int64_t n);
/* The same update, read-only: how many w' or v' would not be finite. */
int64_t dcnn__sgd_check(const dcnn_sgd_params *p, const float *w, const float *g, const float *v, int64_t n);

/* Adam: m1' = b1 m1 + (1 - b1) g; m2' = b2 m2 + (1 - b2) g g;
 * w' = w shrink - lr_t m1' / (sqrt(m2') + eps). Writes w, m1, m2;
 * bounds = {max |m1'|, max m2'}. w, g, m1, m2: (n). */
void dcnn__adam_write(const dcnn_adam_params *p, float *w, const float *g, float *m1, float *m2, int64_t n,
                      float bounds[2]);
/* The same update, read-only: how many w', m1' or m2' would not be finite. */
int64_t dcnn__adam_check(const dcnn_adam_params *p, const float *w, const float *g, const float *m1, const float *m2,
                         int64_t n);

#endif
