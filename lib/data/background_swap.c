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
             "pipeline: background swap needs images of 1 or 3 channels and 3..4096 pixels a side (got %d x %d x %d)",
             (int)s->height, (int)s->width, (int)s->channels);
  dcnn__swap_bank_free(ctx, bank);
  const int64_t plane = (int64_t)s->height * s->width;
  const int64_t scratch_floats = dcnn__mnist_m_separate_scratch(s->height, s->width);
  const int32_t lanes = threads > 1 && s->count > 1 ? threads : 1;
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
    for (int32_t i = lane; i < s->count; i += lanes)
      dcnn__mnist_m_separate(s->pixels + i * plane * s->channels, s->height, s->width, s->channels,
                             scratch + lane * scratch_floats, masks + i * plane, backgrounds + i * plane * s->channels);
  dcnn__release(ctx, scratch);
  *bank = (dcnn_swap_bank){s->id, s->count, s->height, s->width, s->channels, masks, backgrounds};
  return DCNN_OK;
}

void dcnn__swap_compose(const dcnn_swap_bank *bank, int32_t digit, int32_t background, uint8_t *out) {
  const int64_t plane = (int64_t)bank->height * bank->width;
  const int32_t c = bank->channels;
  const uint8_t *m = bank->masks + digit * plane, *b = bank->backgrounds + background * plane * c;
  for (int64_t i = 0; i < plane; ++i)
    for (int32_t k = 0; k < c; ++k) {
      const int v = (int)b[i * c + k] - (int)m[i];
      out[i * c + k] = (uint8_t)(v < 0 ? -v : v);
    }
}
