/* Dropout's mask and its application (see pointwise.h): Philox4x32-10 gives
 * four 32-bit words per block, one per element, and the loop over blocks is
 * written so that the compiler evaluates several blocks per vector. */
#include <string.h>

#include "cpu.h"
#include "pointwise.h"
#include "../core/philox.h"

#define DROPOUT_BLOCKS 64 /* blocks per batch of mask words: 1 KiB on the stack */

/* v where cond (0 or 1), else +0: a bit mask, so that the loop stays free of branches */
static inline float keep_if(float v, int cond) {
  uint32_t bits;
  memcpy(&bits, &v, sizeof bits);
  bits &= (uint32_t)-cond;
  memcpy(&v, &bits, sizeof v);
  return v;
}

/* words[4 b + k] = word k of Philox4x32-10 at counter (first + b, 0), key seed */
DCNN_CPU_CLONES
static void philox_words(uint64_t seed, uint64_t first, int32_t blocks, uint32_t *restrict words) {
  const uint32_t key0 = (uint32_t)seed, key1 = (uint32_t)(seed >> 32);
#pragma omp simd
  for (int32_t b = 0; b < blocks; ++b) {
    const uint64_t index = first + (uint64_t)b;
    uint32_t c0 = (uint32_t)index, c1 = (uint32_t)(index >> 32), c2 = 0, c3 = 0;
    dcnn__philox_rounds(&c0, &c1, &c2, &c3, key0, key1);
    words[4 * b] = c0;
    words[4 * b + 1] = c1;
    words[4 * b + 2] = c2;
    words[4 * b + 3] = c3;
  }
}

/* keep = (word >> 8) >= threshold; y = keep ? x scale : 0 */
DCNN_CPU_CLONES
static void apply_mask(const uint32_t *restrict words, int64_t n, uint32_t threshold, float scale,
                       const float *restrict x, float *restrict y, uint8_t *restrict mask) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    const int keep = (words[i] >> 8) >= threshold;
    mask[i] = (uint8_t)keep;
    y[i] = keep_if(x[i] * scale, keep);
  }
}

/* Element e's word is word e mod 4 of block e / 4, wherever `begin` falls:
 * a stretch that starts inside a block skips that block's first words (a
 * data-parallel rank's slice of a batch starts at any sample). */
void dcnn__dropout_forward(uint64_t seed, int64_t begin, int64_t n, uint32_t threshold, float scale, const float *x,
                           float *y, uint8_t *mask) {
  uint32_t words[4 * DROPOUT_BLOCKS];
  const int64_t chunk = 4 * (DROPOUT_BLOCKS - 1); /* leaves a block for the skipped words */
  for (int64_t done = 0; done < n; done += chunk) {
    const int64_t count = n - done < chunk ? n - done : chunk, first = begin + done, skip = first % 4;
    philox_words(seed, (uint64_t)first / 4, (int32_t)((skip + count + 3) / 4), words);
    apply_mask(words + skip, count, threshold, scale, x + done, y + done, mask + done);
  }
}

/* dx = mask scale dy */
DCNN_CPU_CLONES
static void dropout_backward_clones(const uint8_t *mask, float scale, const float *dy, float *dx, int64_t n) {
  const uint8_t *restrict m = mask; /* (n) */
  const float *restrict g = dy;     /* (n) */
  float *restrict out = dx;         /* (n) */
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) out[i] = keep_if(g[i] * scale, m[i] != 0);
}

void dcnn__dropout_backward(const uint8_t *mask, float scale, const float *dy, float *dx, int64_t n) {
  dropout_backward_clones(mask, scale, dy, dx, n);
}
