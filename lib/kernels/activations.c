/* Element-wise kernels: see activations.h. Plain loops over restrict pointers
 * that the compiler vectorises, cloned per CPU (cpu.h). */
#include "activations.h"

#include <math.h>

#include "cpu.h"

/* About 30 us of work at a few GB/s: well above the 2-5 us of a fork/join. */
#define POINTWISE_PARALLEL 32768

int64_t dcnn__pointwise_lanes(int64_t n, int32_t threads) {
  if (threads <= 1 || n < POINTWISE_PARALLEL) return 1;
  return n / (POINTWISE_PARALLEL / 2) < threads ? n / (POINTWISE_PARALLEL / 2) : threads;
}

static DCNN_CPU_CLONES void relu6_forward_clones(const float *restrict x, float *restrict y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i] < 0.0f ? 0.0f : x[i];
    y[i] = v > 6.0f ? 6.0f : v;
  }
}
void dcnn__relu6_forward(const float *restrict x, float *restrict y, int64_t n) { relu6_forward_clones(x, y, n); }

static DCNN_CPU_CLONES void relu6_backward_clones(const float *restrict y, const float *restrict dy, float *restrict dx,
                                                  int64_t n) {
  for (int64_t i = 0; i < n; ++i) dx[i] = y[i] > 0.0f && y[i] < 6.0f ? dy[i] : 0.0f;
}
void dcnn__relu6_backward(const float *restrict y, const float *restrict dy, float *restrict dx, int64_t n) {
  relu6_backward_clones(y, dy, dx, n);
}

static DCNN_CPU_CLONES void add_clones(const float *a, const float *restrict b, float *y, int64_t n, int relu) {
  if (relu)
    for (int64_t i = 0; i < n; ++i) {
      const float v = a[i] + b[i];
      y[i] = v < 0.0f ? 0.0f : v;
    }
  else
    for (int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
}
void dcnn__add(const float *a, const float *restrict b, float *y, int64_t n, int relu) { add_clones(a, b, y, n, relu); }

static DCNN_CPU_CLONES void relu_mask_clones(const float *restrict y, const float *restrict dy, float *restrict dx,
                                             int64_t n) {
  for (int64_t i = 0; i < n; ++i) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}
void dcnn__relu_mask(const float *restrict y, const float *restrict dy, float *restrict dx, int64_t n) {
  relu_mask_clones(y, dy, dx, n);
}

static DCNN_CPU_CLONES void accumulate_clones(float *restrict dst, const float *restrict src, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] += src[i];
}
void dcnn__accumulate(float *restrict dst, const float *restrict src, int64_t n) { accumulate_clones(dst, src, n); }

/* Below this many values per plane, vectorising within a plane costs more than it saves. */
#define SMALL_PLANE 32

/* Small planes: one sum per plane in order (nothing to vectorise within a plane). */
__attribute__((noinline)) static void small_plane_means(const float *restrict x, float *restrict y, int64_t planes,
                                                        int32_t plane) {
  for (int64_t q = 0; q < planes; ++q) {
    float sum = 0.0f;
    for (int32_t p = 0; p < plane; ++p) sum += x[q * plane + p];
    y[q] = sum / (float)plane;
  }
}

__attribute__((noinline)) static void small_plane_spread(const float *restrict dy, float *restrict dx, int64_t planes,
                                                         int32_t plane) {
  for (int64_t q = 0; q < planes; ++q) {
    const float share = dy[q] / (float)plane;
    for (int32_t p = 0; p < plane; ++p) dx[q * plane + p] = share;
  }
}

static DCNN_CPU_CLONES void plane_means_clones(const float *restrict x, float *restrict y, int64_t planes,
                                               int32_t plane) {
  if (plane < SMALL_PLANE) {
    small_plane_means(x, y, planes, plane);
    return;
  }
  for (int64_t q = 0; q < planes; ++q) {
    const float *restrict src = x + q * plane;
    /* 16 partial sums in a fixed order: vectorised, and the same bits on every run. */
    float acc[16] = {0};
    int32_t p = 0;
    for (; p + 16 <= plane; p += 16)
      for (int j = 0; j < 16; ++j) acc[j] += src[p + j];
    for (int j = 0; p + j < plane; ++j) acc[j] += src[p + j];
    for (int width = 8; width; width >>= 1)
      for (int j = 0; j < width; ++j) acc[j] += acc[j + width];
    y[q] = acc[0] / (float)plane;
  }
}
void dcnn__plane_means(const float *restrict x, float *restrict y, int64_t planes, int32_t plane) {
  plane_means_clones(x, y, planes, plane);
}

static DCNN_CPU_CLONES void plane_spread_clones(const float *restrict dy, float *restrict dx, int64_t planes,
                                                int32_t plane) {
  if (plane < SMALL_PLANE) {
    small_plane_spread(dy, dx, planes, plane);
    return;
  }
  for (int64_t q = 0; q < planes; ++q) {
    const float share = dy[q] / (float)plane;
    float *restrict dst = dx + q * plane;
    for (int32_t p = 0; p < plane; ++p) dst[p] = share;
  }
}
void dcnn__plane_spread(const float *restrict dy, float *restrict dx, int64_t planes, int32_t plane) {
  plane_spread_clones(dy, dx, planes, plane);
}

/* tanh and the logistic call libm per element (no vector version without
 * -ffast-math), so their forward loops are not cloned; the gradients are
 * products and vectorise. */
void dcnn__tanh_forward(const float *restrict x, float *restrict y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = tanhf(x[i]);
}

static DCNN_CPU_CLONES void tanh_backward_clones(const float *restrict y, const float *restrict dy, float *restrict dx,
                                                 int64_t n) {
  for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * (1.0f - y[i] * y[i]);
}
void dcnn__tanh_backward(const float *restrict y, const float *restrict dy, float *restrict dx, int64_t n) {
  tanh_backward_clones(y, dy, dx, n);
}

void dcnn__sigmoid_forward(const float *restrict x, float *restrict y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = 1.0f / (1.0f + expf(-x[i]));
}

static DCNN_CPU_CLONES void sigmoid_backward_clones(const float *restrict y, const float *restrict dy,
                                                    float *restrict dx, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * (y[i] * (1.0f - y[i]));
}
void dcnn__sigmoid_backward(const float *restrict y, const float *restrict dy, float *restrict dx, int64_t n) {
  sigmoid_backward_clones(y, dy, dx, n);
}
