/* Background swap augmentation (DCNN_PIPE_BACKGROUND_SWAP, issue #19): a
 * training digit redrawn over the background of another training image,
 *   out_c = |background_c - digit|,
 * the rule MNIST-M was made with. Digit and background come from
 * dcnn__mnist_m_separate, once per image store; the pairs are drawn by the
 * pipeline from (seed, epoch, image), so they do not depend on threads. */
#include <string.h>

#include "data_internal.h"

void dcnn__swap_bank_free(dcnn_context *ctx, dcnn_swap_bank *bank) {
  dcnn__release(ctx, bank->masks);
  dcnn__release(ctx, bank->backgrounds);
  memset(bank, 0, sizeof *bank);
}

dcnn_status dcnn__swap_bank_build(dcnn_context *ctx, const dcnn_image_store *s, int32_t threads, dcnn_swap_bank *bank) {
  DCNN_CHECK((s->channels == 1 || s->channels == 3) && s->height >= 3 && s->width >= 3 && s->height <= 4096 &&
                 s->width <= 4096,
             DCNN_ERR_INVALID_ARGUMENT,
             "pipeline: separating digits for the background swap or digit warp needs images of 1 or 3 channels and 3..4096 pixels a side (got %d x %d x %d)",
             (int)s->height, (int)s->width, (int)s->channels);
  dcnn__swap_bank_free(ctx, bank);
  const int64_t plane = (int64_t)s->height * s->width;
  const int64_t scratch_floats = dcnn__mnist_m_separate_scratch(s->height, s->width);
  /* no more lanes (scratch copies) than images */
  const int32_t lanes = threads > 1 && s->count > 1 ? (s->count < threads ? s->count : threads) : 1;
  uint8_t *masks = dcnn__alloc(ctx, (size_t)(plane * s->count));
  uint8_t *backgrounds = dcnn__alloc(ctx, (size_t)(plane * s->channels * s->count));
  float *scratch = dcnn__alloc(ctx, (size_t)(scratch_floats * lanes) * sizeof(float)); /* (lanes, scratch_floats) */
  if (!masks || !backgrounds || !scratch) {
    dcnn__release(ctx, masks);
    dcnn__release(ctx, backgrounds);
    dcnn__release(ctx, scratch);
    return dcnn__fail(DCNN_ERR_OUT_OF_MEMORY, "pipeline: out of memory separating %d images for the background swap",
                      (int)s->count);
  }
#pragma omp parallel for num_threads(lanes) if (lanes > 1) schedule(static, 1)
  for (int32_t lane = 0; lane < lanes; ++lane)
    for (int64_t i = lane; i < s->count; i += lanes) /* int64: i + lanes may pass INT32_MAX */
      dcnn__mnist_m_separate(s->pixels + i * plane * s->channels, s->height, s->width, s->channels,
                             scratch + lane * scratch_floats, masks + i * plane, backgrounds + i * plane * s->channels);
  dcnn__release(ctx, scratch);
  *bank = (dcnn_swap_bank){s->id, s->count, s->height, s->width, s->channels, masks, backgrounds};
  return DCNN_OK;
}

/* out (H, W, C)_c = |b'_c - digit|, b' the partner's background turned by `turn`:
 * pixel (y, x) reads b at the symmetry's image of (y, x), channel k inverted if bit k is set. */
void dcnn__swap_compose(const dcnn_swap_bank *bank, const uint8_t *mask, int32_t background, dcnn_swap_transform turn,
                        uint8_t *out) {
  const int32_t h = bank->height, w = bank->width, c = bank->channels;
  const int64_t plane = (int64_t)h * w;
  const uint8_t *m = mask, *b = bank->backgrounds + background * plane * c;
  const int transpose = (turn.symmetry & 4) && h == w;
  for (int32_t y = 0; y < h; ++y)
    for (int32_t x = 0; x < w; ++x) {
      int32_t sy = transpose ? x : y, sx = transpose ? y : x;
      if (turn.symmetry & 1) sy = h - 1 - sy;
      if (turn.symmetry & 2) sx = w - 1 - sx;
      const uint8_t *from = b + ((int64_t)sy * w + sx) * c;
      const int64_t at = (int64_t)y * w + x;
      for (int32_t k = 0; k < c; ++k) {
        const int v = (int)((turn.inverted_channels >> k) & 1u ? 255 - from[k] : from[k]) - (int)m[at];
        out[at * c + k] = (uint8_t)(v < 0 ? -v : v);
      }
    }
}
