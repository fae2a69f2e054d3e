/* Paper augmentation (§2.3): one random affine warp per sample (rotation,
 * translation, zoom), and the warp itself (also used by the robustness
 * suite's rotations and translations), with bilinear sampling as PyTorch's affine_grid +
 * grid_sample (align_corners=False) do it: output pixel centres are mapped
 * back into the input around the image centre. */
#include <math.h>

#include "data_internal.h"
#include "digitcnn/random.h"

static float uniform_in(uint64_t seed, uint64_t index, float lo, float hi) {
  return lo + (hi - lo) * dcnn_random_uniform(seed, 0xA06u, index);
}

void dcnn__augment_image(const dcnn_affine *aug, uint64_t seed, const float *src, int32_t channels, int32_t height,
                         int32_t width, float *dst) {
  const dcnn_warp warp = {
      .angle = uniform_in(seed, 0, -aug->rotation_deg, aug->rotation_deg) * (float)(3.14159265358979 / 180.0),
      .zoom = uniform_in(seed, 1, aug->zoom_min, aug->zoom_max),
      .shift_x = uniform_in(seed, 2, -aug->translation, aug->translation) * (float)width,
      .shift_y = uniform_in(seed, 3, -aug->translation, aug->translation) * (float)height,
      .fill_edge = aug->fill_edge,
  };
  dcnn__warp_image(&warp, src, channels, height, width, dst);
}

void dcnn__warp_image(const dcnn_warp *warp, const float *src, int32_t channels, int32_t height, int32_t width,
                      float *dst) {
  const float angle = warp->angle, zoom = warp->zoom, tx = warp->shift_x, ty = warp->shift_y;
  const float s = 1.0f / zoom, ca = cosf(angle) * s, sa = sinf(angle) * s;
  const float cx = 0.5f * (float)(width - 1), cy = 0.5f * (float)(height - 1);
  const int64_t plane = (int64_t)height * width;
  for (int32_t y = 0; y < height; ++y) {
    const float v = (float)y - cy;
    for (int32_t x = 0; x < width; ++x) {
      const float u = (float)x - cx;
      /* input position = centre + s R(angle) (u, v) + shift */
      float sx = cx + ca * u - sa * v + tx, sy = cy + sa * u + ca * v + ty;
      if (warp->fill_edge) {
        sx = sx < 0.0f ? 0.0f : sx > (float)(width - 1) ? (float)(width - 1) : sx;
        sy = sy < 0.0f ? 0.0f : sy > (float)(height - 1) ? (float)(height - 1) : sy;
      }
      const float fx = floorf(sx), fy = floorf(sy), ax = sx - fx, ay = sy - fy;
      const int32_t x0 = (int32_t)fx, y0 = (int32_t)fy;
      const float w00 = (1 - ax) * (1 - ay), w01 = ax * (1 - ay), w10 = (1 - ax) * ay, w11 = ax * ay;
      const int in00 = x0 >= 0 && x0 < width && y0 >= 0 && y0 < height;
      const int in01 = x0 + 1 >= 0 && x0 + 1 < width && y0 >= 0 && y0 < height;
      const int in10 = x0 >= 0 && x0 < width && y0 + 1 >= 0 && y0 + 1 < height;
      const int in11 = x0 + 1 >= 0 && x0 + 1 < width && y0 + 1 >= 0 && y0 + 1 < height;
      for (int32_t c = 0; c < channels; ++c) {
        const float *p = src + c * plane;
        float value = 0.0f;
        if (in00) value += w00 * p[(int64_t)y0 * width + x0];
        if (in01) value += w01 * p[(int64_t)y0 * width + x0 + 1];
        if (in10) value += w10 * p[(int64_t)(y0 + 1) * width + x0];
        if (in11) value += w11 * p[(int64_t)(y0 + 1) * width + x0 + 1];
        dst[c * plane + (int64_t)y * width + x] = value;
      }
    }
  }
}
