/**
 * @file random.h
 * @brief Counter-based random numbers (Philox4x32-10).
 *
 * Every number is a pure function of (seed, stream, index): there is no hidden
 * state, so results do not depend on the order of calls or on the number of
 * threads. Use one stream per purpose (a tensor, a layer, an epoch) and the
 * index for the position within it.
 *
 * Thread-safety: all functions are pure and safe from any thread.
 */
/** @addtogroup core
 * @{ */
#ifndef DIGITCNN_RANDOM_H
#define DIGITCNN_RANDOM_H

#include <stdint.h>

#include "export.h"

DCNN_BEGIN_DECLS

/**
 * @brief One Philox4x32-10 block: four 32-bit words for a 128-bit counter and
 *        a 64-bit key.
 * @param counter Four counter words (read).
 * @param key Two key words (read).
 * @param[out] out Four output words.
 */
DCNN_API void dcnn_philox4x32(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4]);

/**
 * @brief 32 random bits at (seed, stream, index).
 * @param seed The seed.
 * @param stream The stream under that seed.
 * @param index The position within the stream.
 * @return The bits.
 */
DCNN_API uint32_t dcnn_random_bits(uint64_t seed, uint64_t stream, uint64_t index);

/**
 * @brief Uniform float in [0, 1) at (seed, stream, index), with 24 random bits.
 * @param seed The seed.
 * @param stream The stream under that seed.
 * @param index The position within the stream.
 * @return A number in [0, 1).
 */
DCNN_API float dcnn_random_uniform(uint64_t seed, uint64_t stream, uint64_t index);

/**
 * @brief Standard normal float at (seed, stream, index) (Box-Muller).
 * @param seed The seed.
 * @param stream The stream under that seed.
 * @param index The position within the stream.
 * @return A finite number drawn from N(0, 1).
 */
DCNN_API float dcnn_random_normal(uint64_t seed, uint64_t stream, uint64_t index);

/**
 * @brief Derives a new seed from a seed and a label, for nested streams
 *        (e.g. trainer seed -> epoch seed -> per-sample seed).
 * @param seed The parent seed.
 * @param label What the child seed is for (an epoch, a sample, a trial).
 * @return The derived seed.
 */
DCNN_API uint64_t dcnn_random_derive(uint64_t seed, uint64_t label);

DCNN_END_DECLS

#endif /* DIGITCNN_RANDOM_H */
/** @} */
