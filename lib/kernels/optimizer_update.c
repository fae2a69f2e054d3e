/* The optimizers' element loops (see pointwise.h); lib/train/optimizer.c
 * splits the parameters into chunks and runs one call per chunk. */
#include <math.h>
#include <string.h>

#include "cpu.h"
#include "pointwise.h"

/* The bits of |v|: as unsigned integers they order like the magnitudes, and
 * those of infinities and NaNs are >= NON_FINITE. Integer maxima vectorise
 * with every compiler (a float maximum must respect NaN and does not). */
#define NON_FINITE 0x7F800000u
static inline uint32_t abs_bits(float v) {
  uint32_t bits;
  memcpy(&bits, &v, sizeof bits);
  return bits & 0x7FFFFFFFu;
}

static inline float from_bits(uint32_t bits) {
  float v;
  memcpy(&v, &bits, sizeof v);
  return v;
}

static inline uint32_t max_bits(uint32_t a, uint32_t b) { return a > b ? a : b; }

/* max |x|, or +inf when some x is infinite or NaN */
DCNN_CPU_CLONES
static float max_abs_clones(const float *x, int64_t n) {
  const float *restrict v = x; /* (n) */
  uint32_t best = 0;
#pragma omp simd reduction(max : best)
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t a = abs_bits(v[i]);
    best = a > best ? a : best;
  }
  return best >= NON_FINITE ? INFINITY : from_bits(best);
}

float dcnn__max_abs(const float *x, int64_t n) {
  return max_abs_clones(x, n);
}

/* d = g + decay w; v' = mu v + d; w' = w - lr (nesterov ? d + mu v' : v') */
DCNN_CPU_CLONES
static float sgd_write_clones(const dcnn_sgd_params *p, float *w, const float *g, float *v, int64_t n) {
  const float lr = p->lr, mu = p->momentum, decay = p->decay;
  float *restrict ws = w;       /* (n) */
  const float *restrict gs = g; /* (n) */
  float *restrict vs = v;       /* (n) or NULL */
  uint32_t best = 0; /* abs_bits of the largest |v'| */
  if (!vs) {
#pragma omp simd reduction(max : best)
    for (int64_t i = 0; i < n; ++i) {
      const float grad = gs[i] + decay * ws[i];
      ws[i] = ws[i] - lr * grad;
      const uint32_t a = abs_bits(grad);
      best = a > best ? a : best;
    }
  } else if (p->nesterov) {
#pragma omp simd reduction(max : best)
    for (int64_t i = 0; i < n; ++i) {
      const float grad = gs[i] + decay * ws[i];
      const float velocity = mu * vs[i] + grad;
      vs[i] = velocity;
      ws[i] = ws[i] - lr * (grad + mu * velocity);
      const uint32_t a = abs_bits(velocity);
      best = a > best ? a : best;
    }
  } else {
#pragma omp simd reduction(max : best)
    for (int64_t i = 0; i < n; ++i) {
      const float grad = gs[i] + decay * ws[i];
      const float velocity = mu * vs[i] + grad;
      vs[i] = velocity;
      ws[i] = ws[i] - lr * velocity;
      const uint32_t a = abs_bits(velocity);
      best = a > best ? a : best;
    }
  }
  return from_bits(best);
}

float dcnn__sgd_write(const dcnn_sgd_params *p, float *w, const float *g, float *v, int64_t n) {
  return sgd_write_clones(p, w, g, v, n);
}

/* count of non-finite w' or v' */
DCNN_CPU_CLONES
static int64_t sgd_check_clones(const dcnn_sgd_params *p, const float *w, const float *g, const float *v, int64_t n) {
  const float lr = p->lr, mu = p->momentum, decay = p->decay;
  const int nesterov = p->nesterov;
  const float *restrict ws = w, *restrict gs = g, *restrict vs = v; /* (n) each; v may be NULL */
  int64_t bad = 0;
#pragma omp simd reduction(+ : bad)
  for (int64_t i = 0; i < n; ++i) {
    const float grad = gs[i] + decay * ws[i];
    const float velocity = vs ? mu * vs[i] + grad : grad;
    const float next = ws[i] - lr * (vs && nesterov ? grad + mu * velocity : velocity);
    bad += max_bits(abs_bits(next), abs_bits(velocity)) >= NON_FINITE;
  }
  return bad;
}

int64_t dcnn__sgd_check(const dcnn_sgd_params *p, const float *w, const float *g, const float *v, int64_t n) {
  return sgd_check_clones(p, w, g, v, n);
}

/* m1' = b1 m1 + (1 - b1) g; m2' = b2 m2 + (1 - b2) g g; w' = w shrink - lr_t m1' / (sqrt(m2') + eps) */
DCNN_CPU_CLONES
static void adam_write_clones(const dcnn_adam_params *p, float *w, const float *g, float *m1, float *m2, int64_t n,
                              float bounds[2]) {
  const float lr_t = p->lr_t, b1 = p->beta1, b2 = p->beta2, eps = p->epsilon, shrink = p->shrink;
  float *restrict ws = w, *restrict f = m1, *restrict s = m2; /* (n) each */
  const float *restrict gs = g;                                /* (n) */
  uint32_t best_first = 0, best_second = 0; /* abs_bits of the largest |m1'|, m2' */
#pragma omp simd reduction(max : best_first, best_second)
  for (int64_t i = 0; i < n; ++i) {
    const float first = b1 * f[i] + (1.0f - b1) * gs[i];
    const float second = b2 * s[i] + (1.0f - b2) * gs[i] * gs[i];
    ws[i] = ws[i] * shrink - lr_t * first / (sqrtf(second) + eps);
    f[i] = first;
    s[i] = second;
    const uint32_t a = abs_bits(first), b = abs_bits(second); /* m2' >= 0 or -0 */
    best_first = a > best_first ? a : best_first;
    best_second = b > best_second ? b : best_second;
  }
  bounds[0] = from_bits(best_first);
  bounds[1] = from_bits(best_second);
}

void dcnn__adam_write(const dcnn_adam_params *p, float *w, const float *g, float *m1, float *m2, int64_t n,
                      float bounds[2]) {
  adam_write_clones(p, w, g, m1, m2, n, bounds);
}

/* count of non-finite w', m1' or m2' */
DCNN_CPU_CLONES
static int64_t adam_check_clones(const dcnn_adam_params *p, const float *w, const float *g, const float *m1,
                                 const float *m2, int64_t n) {
  const float lr_t = p->lr_t, b1 = p->beta1, b2 = p->beta2, eps = p->epsilon, shrink = p->shrink;
  const float *restrict ws = w, *restrict gs = g, *restrict f = m1, *restrict s = m2; /* (n) each */
  int64_t bad = 0;
#pragma omp simd reduction(+ : bad)
  for (int64_t i = 0; i < n; ++i) {
    const float first = b1 * f[i] + (1.0f - b1) * gs[i];
    const float second = b2 * s[i] + (1.0f - b2) * gs[i] * gs[i];
    const float next = ws[i] * shrink - lr_t * first / (sqrtf(second) + eps);
    bad += max_bits(abs_bits(next), max_bits(abs_bits(first), abs_bits(second))) >= NON_FINITE;
  }
  return bad;
}

int64_t dcnn__adam_check(const dcnn_adam_params *p, const float *w, const float *g, const float *m1, const float *m2,
                         int64_t n) {
  return adam_check_clones(p, w, g, m1, m2, n);
}
