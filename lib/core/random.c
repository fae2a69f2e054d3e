#include <math.h>

#include "digitcnn/random.h"

#include "internal.h"
#include "philox.h"

void dcnn_philox4x32(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4]) {
  uint32_t c0 = counter[0], c1 = counter[1], c2 = counter[2], c3 = counter[3];
  dcnn__philox_rounds(&c0, &c1, &c2, &c3, key[0], key[1]);
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

static void block_at(uint64_t seed, uint64_t stream, uint64_t index, uint32_t out[4]) {
  const uint32_t counter[4] = {(uint32_t)index, (uint32_t)(index >> 32), (uint32_t)stream,
                               (uint32_t)(stream >> 32)};
  const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
  dcnn_philox4x32(counter, key, out);
}

uint32_t dcnn_random_bits(uint64_t seed, uint64_t stream, uint64_t index) {
  uint32_t out[4];
  block_at(seed, stream, index, out);
  return out[0];
}

uint32_t dcnn__random_below(uint64_t seed, uint64_t stream, uint64_t index, uint32_t bound) {
  uint32_t out[4];
  block_at(seed, stream, index, out);
  if (bound <= (1u << 20)) return out[0] % bound;
  return (uint32_t)((((uint64_t)out[1] << 32) | out[0]) % bound);
}

float dcnn_random_uniform(uint64_t seed, uint64_t stream, uint64_t index) {
  return (float)(dcnn_random_bits(seed, stream, index) >> 8) * (1.0f / 16777216.0f);
}

float dcnn_random_normal(uint64_t seed, uint64_t stream, uint64_t index) {
  uint32_t out[4];
  block_at(seed, stream, index, out);
  /* u1 in (0, 1] so that log(u1) is finite. */
  double u1 = ((double)(out[0] >> 8) + 1.0) * (1.0 / 16777216.0);
  double u2 = (double)(out[1] >> 8) * (1.0 / 16777216.0);
  return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

uint64_t dcnn_random_derive(uint64_t seed, uint64_t label) {
  uint32_t out[4];
  block_at(seed, 0xD3C0FFEEull, label, out);
  return ((uint64_t)out[1] << 32) | out[2];
}
