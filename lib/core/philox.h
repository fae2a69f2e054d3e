/* Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3",
 * SC'11): the one definition of its rounds, shared by dcnn_philox4x32
 * (core/random.c) and dropout's vectorised mask (kernels/dropout.c). Inline,
 * on four scalars, so that a loop over blocks stays vectorisable. */
#ifndef DCNN_CORE_PHILOX_H
#define DCNN_CORE_PHILOX_H

#include <stdint.h>

#define DCNN_PHILOX_M0 0xD2511F53u
#define DCNN_PHILOX_M1 0xCD9E8D57u
#define DCNN_PHILOX_W0 0x9E3779B9u
#define DCNN_PHILOX_W1 0xBB67AE85u

/* (c0, c1, c2, c3) = Philox4x32-10 of that counter under key (k0, k1), in place. */
static inline void dcnn__philox_rounds(uint32_t *c0, uint32_t *c1, uint32_t *c2, uint32_t *c3, uint32_t k0,
                                       uint32_t k1) {
  uint32_t a = *c0, b = *c1, c = *c2, d = *c3;
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = (uint64_t)DCNN_PHILOX_M0 * a, p1 = (uint64_t)DCNN_PHILOX_M1 * c;
    const uint32_t n0 = (uint32_t)(p1 >> 32) ^ b ^ k0, n2 = (uint32_t)(p0 >> 32) ^ d ^ k1;
    b = (uint32_t)p1;
    d = (uint32_t)p0;
    a = n0;
    c = n2;
    k0 += DCNN_PHILOX_W0;
    k1 += DCNN_PHILOX_W1;
  }
  *c0 = a, *c1 = b, *c2 = c, *c3 = d;
}

#endif
