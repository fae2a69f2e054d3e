/* Vectorised element-wise kernels of the activation, pooling and residual
 * layers (kernels/activations.c). Each works on one contiguous range; callers
 * split a tensor into dcnn__pointwise_lanes ranges, one per `parallel for`
 * iteration. Every element is computed the same way whatever the split, so
 * results do not depend on the thread count. */
#ifndef DCNN_KERNELS_ACTIVATIONS_H
#define DCNN_KERNELS_ACTIVATIONS_H

#include <stdint.h>

/* Ranges to split n elements into for `threads` threads: 1 below the size
 * where a fork/join (a few microseconds) costs more than the split saves. */
int64_t dcnn__pointwise_lanes(int64_t n, int32_t threads);

/* y[i] = min(max(x[i], 0), 6); x, y: (n). */
void dcnn__relu6_forward(const float *x, float *y, int64_t n);
/* dx[i] = dy[i] if 0 < y[i] < 6 else 0 (y the forward's output); y, dy, dx: (n). */
void dcnn__relu6_backward(const float *y, const float *dy, float *dx, int64_t n);
/* y[i] = a[i] + b[i], then max(., 0) if relu; a, b, y: (n); a may be y. */
void dcnn__add(const float *a, const float *b, float *y, int64_t n, int relu);
/* dx[i] = dy[i] if y[i] > 0 else 0 (ReLU's gradient from its output); y, dy, dx: (n). */
void dcnn__relu_mask(const float *y, const float *dy, float *dx, int64_t n);
/* dst[i] += src[i]; dst, src: (n). */
void dcnn__accumulate(float *dst, const float *src, int64_t n);
/* y[q] = mean of x[q] (plane) for q < planes; x: (planes, plane), y: (planes). */
void dcnn__plane_means(const float *x, float *y, int64_t planes, int32_t plane);
/* dx[q][p] = dy[q] / plane; dy: (planes), dx: (planes, plane). */
void dcnn__plane_spread(const float *dy, float *dx, int64_t planes, int32_t plane);

/* y[i] = tanh(x[i]); x, y: (n). */
void dcnn__tanh_forward(const float *x, float *y, int64_t n);
/* dx[i] = dy[i] * (1 - y[i]^2) (y the forward's output); y, dy, dx: (n). */
void dcnn__tanh_backward(const float *y, const float *dy, float *dx, int64_t n);
/* y[i] = 1 / (1 + e^-x[i]); x, y: (n). */
void dcnn__sigmoid_forward(const float *x, float *y, int64_t n);
/* dx[i] = dy[i] * y[i] (1 - y[i]) (y the forward's output); y, dy, dx: (n). */
void dcnn__sigmoid_backward(const float *y, const float *dy, float *dx, int64_t n);

#endif
