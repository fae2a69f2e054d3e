/* Elastic deformation of a digit mask (DCNN_PIPE_DIGIT_ELASTIC, issue #19),
 * after Simard, Steinkraus and Platt (2003), "Best practices for convolutional
 * neural networks applied to visual document analysis":
 *   d_a = alpha * (G_sigma * U_a),  U_a uniform in [-1, 1] per pixel, a in {x, y},
 *   out(y, x) = mask(y + d_y(y, x), x + d_x(y, x)), bilinear, 0 outside the image,
 * G_sigma a Gaussian of standard deviation sigma pixels normalised to sum 1,
 * applied separably with zeros beyond the image. Only the digit moves: the
 * pipeline draws the warped mask over a background with MNIST-M's rule, so
 * the photograph keeps its texture (warping the whole image would smear it). */
#include <math.h>

#include "data_internal.h"
#include "digitcnn/random.h"

int64_t dcnn__elastic_scratch(int32_t h, int32_t w) { return 3 * (int64_t)h * w; }

/* plane (h, w) <- G_sigma * plane along rows then columns; `tmp` holds (h, w). */
static void gaussian_blur(float *plane, int32_t h, int32_t w, const float *kernel, int32_t radius, float *tmp) {
  for (int32_t y = 0; y < h; ++y)
    for (int32_t x = 0; x < w; ++x) {
      float sum = 0.0f;
      for (int32_t k = -radius; k <= radius; ++k)
        if (x + k >= 0 && x + k < w) sum += kernel[k + radius] * plane[(int64_t)y * w + x + k];
      tmp[(int64_t)y * w + x] = sum;
    }
  for (int32_t y = 0; y < h; ++y)
    for (int32_t x = 0; x < w; ++x) {
      float sum = 0.0f;
      for (int32_t k = -radius; k <= radius; ++k)
        if (y + k >= 0 && y + k < h) sum += kernel[k + radius] * tmp[(int64_t)(y + k) * w + x];
      plane[(int64_t)y * w + x] = sum;
    }
}

void dcnn__elastic_warp_mask(const uint8_t *mask, int32_t h, int32_t w, float alpha, float sigma, uint64_t seed,
                             uint64_t stream, float *scratch, uint8_t *out) {
  const int64_t plane = (int64_t)h * w;
  float *dx = scratch, *dy = scratch + plane, *tmp = scratch + 2 * plane; /* (h, w) each */
  /* radius 3 sigma, at most DCNN__ELASTIC_MAX_RADIUS (sigma is at most 16) */
  int32_t radius = (int32_t)ceilf(3.0f * sigma);
  if (radius > DCNN__ELASTIC_MAX_RADIUS) radius = DCNN__ELASTIC_MAX_RADIUS;
  if (radius < 1) radius = 1;
  float kernel[2 * DCNN__ELASTIC_MAX_RADIUS + 1]; /* (2 radius + 1) */
  float total = 0.0f;
  for (int32_t k = -radius; k <= radius; ++k)
    total += kernel[k + radius] = expf(-0.5f * (float)(k * k) / (sigma * sigma));
  for (int32_t k = 0; k <= 2 * radius; ++k) kernel[k] /= total;
  for (int64_t i = 0; i < plane; ++i) {
    dx[i] = 2.0f * dcnn_random_uniform(seed, stream, (uint64_t)(2 * i)) - 1.0f;
    dy[i] = 2.0f * dcnn_random_uniform(seed, stream, (uint64_t)(2 * i + 1)) - 1.0f;
  }
  gaussian_blur(dx, h, w, kernel, radius, tmp);
  gaussian_blur(dy, h, w, kernel, radius, tmp);
  for (int32_t y = 0; y < h; ++y)
    for (int32_t x = 0; x < w; ++x) {
      const int64_t at = (int64_t)y * w + x;
      /* beyond a pixel outside the image every tap is 0: clamping keeps the int conversion defined */
      float sx = (float)x + alpha * dx[at], sy = (float)y + alpha * dy[at];
      sx = sx < -2.0f ? -2.0f : sx > (float)w + 1.0f ? (float)w + 1.0f : sx;
      sy = sy < -2.0f ? -2.0f : sy > (float)h + 1.0f ? (float)h + 1.0f : sy;
      const float fx = floorf(sx), fy = floorf(sy), ax = sx - fx, ay = sy - fy;
      const int32_t x0 = (int32_t)fx, y0 = (int32_t)fy;
      float value = 0.0f;
      for (int32_t j = 0; j < 2; ++j)
        for (int32_t i = 0; i < 2; ++i) {
          const int32_t px = x0 + i, py = y0 + j;
          if (px < 0 || px >= w || py < 0 || py >= h) continue;
          value += (i ? ax : 1.0f - ax) * (j ? ay : 1.0f - ay) * (float)mask[(int64_t)py * w + px];
        }
      out[at] = (uint8_t)lrintf(value > 255.0f ? 255.0f : value);
    }
}
