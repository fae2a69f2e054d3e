/* The unseen-background proxy (issue #19 item 2; docs/recipes.md): MNIST-M
 * test digits over backgrounds that are in no MNIST-M image.
 *
 * MNIST-M was made per channel as out = |background - digit| with the MNIST
 * digit `digit` in 0..255: where the digit is solid its pixels are the
 * background inverted. Given an estimate b of the background, the digit value
 * m of a pixel is the one that explains the three channels best,
 *   m = argmin_m sum_c (|b_c - m| - out_c)^2,
 * and the background is re-estimated from the pixels judged background
 * (m small) in a window around each pixel; three rounds, starting from the
 * median of the image's border (MNIST digits keep off the border). The
 * recovered mask is then composited over a procedural texture t with
 * MNIST-M's own rule |t - m| or, recoloured, as t (1 - m/255) + colour m/255.
 * Every random number comes from (seed, image index): the result does not
 * depend on the thread count. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data_internal.h"
#include "digitcnn/random.h"

#define MASK_ROUNDS 3
#define BACKGROUND_LEVEL 48.0f /* mask values below this count as background when re-estimating it */
#define PROXY_STREAM 0xB6A0u

static int compare_floats(const void *a, const void *b) {
  const float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

/* Median of each channel over the border ring of a (3, h, w) image; `tmp` holds 2 (h + w) floats. */
static void border_median(const float *o, int32_t h, int32_t w, float *tmp, float out[3]) {
  const int64_t plane = (int64_t)h * w;
  for (int c = 0; c < 3; ++c) {
    int32_t n = 0;
    for (int32_t y = 0; y < h; ++y)
      for (int32_t x = 0; x < w; ++x)
        if (y == 0 || x == 0 || y == h - 1 || x == w - 1) tmp[n++] = o[c * plane + (int64_t)y * w + x];
    qsort(tmp, (size_t)n, sizeof(float), compare_floats);
    out[c] = tmp[n / 2];
  }
}

/* The m in 0..255 that fits out = |b - m| best on 3 channels: a coarse scan, then a fine one. */
static float fit_digit(const float b[3], const float o[3]) {
  float best = 0, best_err = INFINITY;
  for (int step = 16, lo = 0, hi = 256; step >= 1; step /= 4) {
    for (int m = lo; m <= hi && m <= 255; m += step) {
      float err = 0;
      for (int c = 0; c < 3; ++c) {
        const float d = fabsf(b[c] - (float)m) - o[c];
        err += d * d;
      }
      if (err < best_err) best_err = err, best = (float)m;
    }
    lo = (int)best - step < 0 ? 0 : (int)best - step;
    hi = (int)best + step;
  }
  return best;
}

/* Scratch floats digit_mask needs for an h x w image: 9 planes, the medians'
 * 2 (h + w) + 8, and 4 summed-area tables of (h + 1) (w + 1) uint32. */
static int64_t mask_scratch(int32_t h, int32_t w) {
  return 9 * (int64_t)h * w + 2 * ((int64_t)h + w) + 8 + 4 * ((int64_t)h + 1) * (w + 1);
}

/* Clears specks: 4-connected components of mask >= 64 smaller than both 16
 * pixels and an eighth of the largest (texture detail that looked inverted;
 * MNIST digits are one or a few large strokes). `label` and `stack` hold h w
 * int32 each. */
static void clear_specks(float *mask, int32_t h, int32_t w, int32_t *label, int32_t *stack) {
  const int64_t plane = (int64_t)h * w;
  int32_t components = 0, largest = 0;
  for (int64_t i = 0; i < plane; ++i) label[i] = -1;
  /* first pass: label components and find the largest size */
  for (int pass = 0; pass < 2; ++pass) {
    if (pass == 1)
      for (int64_t i = 0; i < plane; ++i) label[i] = -1;
    components = 0;
    for (int64_t start = 0; start < plane; ++start) {
      if (mask[start] < 64.0f || label[start] >= 0) continue;
      /* breadth-first: stack[0, size) ends up holding the component's pixels (each pushed once) */
      int32_t head = 0, size = 0;
      stack[size++] = (int32_t)start;
      label[start] = components;
      while (head < size) {
        const int32_t i = stack[head++], y = i / w, x = i % w;
        const int32_t next[4] = {y > 0 ? i - w : -1, y < h - 1 ? i + w : -1, x > 0 ? i - 1 : -1, x < w - 1 ? i + 1 : -1};
        for (int k = 0; k < 4; ++k)
          if (next[k] >= 0 && mask[next[k]] >= 64.0f && label[next[k]] < 0) {
            label[next[k]] = components;
            stack[size++] = next[k];
          }
      }
      if (pass == 0 && size > largest) largest = size;
      if (pass == 1 && size < 16 && size * 8 < largest) /* clear this component: its recorded pixels */
        for (int32_t j = 0; j < size; ++j) mask[stack[j]] = 0.0f;
      ++components;
    }
  }
}

/* Recovers the digit mask (h, w) in 0..255 of an MNIST-M image (h, w, channels) uint8. */
static void digit_mask(const uint8_t *image, int32_t h, int32_t w, int32_t channels, float *scratch, float *mask) {
  const int64_t plane = (int64_t)h * w;
  /* (3, h, w) image, (3, h, w) background, (h, w) weights, 2 (h, w) int32 for clear_specks, 2 (h + w) for medians */
  float *o = scratch, *bg = o + 3 * plane, *weight = bg + 3 * plane, *tmp = weight + 3 * plane;
  int32_t *label = (int32_t *)(weight + plane), *stack = label + plane;
  /* summed-area tables (4, h + 1, w + 1): background count and the 3 channel sums of the
   * pixels above and left; uint32 holds them exactly (4096^2 x 255 < 2^32) */
  uint32_t *table = (uint32_t *)(tmp + 2 * ((int64_t)h + w) + 8);
  const int64_t stride = (int64_t)w + 1, area = ((int64_t)h + 1) * stride;
  for (int64_t i = 0; i < plane; ++i)
    for (int c = 0; c < 3; ++c) o[c * plane + i] = image[i * channels + (channels == 3 ? c : 0)];
  float global[3];
  border_median(o, h, w, tmp, global);
  for (int c = 0; c < 3; ++c)
    for (int64_t i = 0; i < plane; ++i) bg[c * plane + i] = global[c];
  const int32_t radius = (h < w ? h : w) / 8 > 2 ? (h < w ? h : w) / 8 : 2;
  for (int round = 0; round < MASK_ROUNDS; ++round) {
    for (int64_t i = 0; i < plane; ++i) {
      const float b[3] = {bg[i], bg[plane + i], bg[2 * plane + i]}, v[3] = {o[i], o[plane + i], o[2 * plane + i]};
      mask[i] = fit_digit(b, v);
    }
    /* MNIST digits sit in a centred box (20 of 28 pixels): nothing within h/10 of the border is digit */
    const int32_t margin_y = h / 10, margin_x = w / 10;
    for (int32_t y = 0; y < h; ++y)
      for (int32_t x = 0; x < w; ++x)
        if (y < margin_y || y >= h - margin_y || x < margin_x || x >= w - margin_x) mask[(int64_t)y * w + x] = 0.0f;
    clear_specks(mask, h, w, label, stack);
    for (int64_t i = 0; i < plane; ++i) weight[i] = mask[i] < BACKGROUND_LEVEL ? 1.0f : 0.0f;
    if (round == MASK_ROUNDS - 1) break;
    /* background: mean of the background pixels in a window, widened where there are none;
     * window sums from the summed-area tables, O(1) per pixel and window */
    for (int t = 0; t < 4; ++t) {
      uint32_t *s = table + t * area;
      for (int64_t x = 0; x <= w; ++x) s[x] = 0;
      for (int32_t y = 0; y < h; ++y) {
        uint32_t row = 0;
        s[(y + 1) * stride] = 0;
        for (int32_t x = 0; x < w; ++x) {
          const int64_t j = (int64_t)y * w + x;
          row += weight[j] == 0 ? 0u : t == 0 ? 1u : (uint32_t)o[(t - 1) * plane + j];
          s[(y + 1) * stride + x + 1] = s[(int64_t)y * stride + x + 1] + row;
        }
      }
    }
    for (int32_t y = 0; y < h; ++y)
      for (int32_t x = 0; x < w; ++x) {
        for (int32_t r = radius; r <= 4 * radius; r *= 2) {
          /* window rows [y0, y1), columns [x0, x1) */
          const int64_t y0 = y - r < 0 ? 0 : y - r, y1 = y + r + 1 > h ? h : y + r + 1;
          const int64_t x0 = x - r < 0 ? 0 : x - r, x1 = x + r + 1 > w ? w : x + r + 1;
          double sum[3], total = 0;
          for (int t = 0; t < 4; ++t) {
            const uint32_t *s = table + t * area;
            /* modulo 2^32, exact since the window's sum fits */
            const uint32_t v = s[y1 * stride + x1] - s[y0 * stride + x1] - s[y1 * stride + x0] + s[y0 * stride + x0];
            if (t == 0) total = v;
            else sum[t - 1] = v;
          }
          if (total >= 3 || r * 2 > 4 * radius) {
            for (int c = 0; c < 3; ++c)
              bg[c * plane + (int64_t)y * w + x] = total > 0 ? (float)(sum[c] / total) : global[c];
            break;
          }
        }
      }
  }
}

int64_t dcnn__mnist_m_separate_scratch(int32_t h, int32_t w) { return mask_scratch(h, w) + (int64_t)h * w; }

/* Where the digit value is m and the image shows x = |b - m|, the background
 * b is x + m or m - x: the one in 0..255 nearer the window estimate. */
void dcnn__mnist_m_separate(const uint8_t *image, int32_t h, int32_t w, int32_t channels, float *scratch,
                            uint8_t *mask, uint8_t *background) {
  const int64_t plane = (int64_t)h * w;
  float *m = scratch + mask_scratch(h, w);
  digit_mask(image, h, w, channels, scratch, m);
  const float *estimate = scratch + 3 * plane; /* (3, h, w): digit_mask's last background estimate */
  for (int64_t i = 0; i < plane; ++i) {
    const float digit = m[i];
    mask[i] = (uint8_t)lrintf(digit);
    for (int32_t c = 0; c < channels; ++c) {
      const float x = (float)image[i * channels + c], near = estimate[(channels == 3 ? c : 0) * plane + i];
      const float above = x + digit, below = digit - x;
      float b = near;
      if (above <= 255.0f && (below < 0.0f || fabsf(above - near) <= fabsf(below - near))) b = above;
      else if (below >= 0.0f) b = below;
      background[i * channels + c] = (uint8_t)lrintf(b < 0.0f ? 0.0f : b > 255.0f ? 255.0f : b);
    }
  }
}

dcnn_status dcnn_mnist_m_digit_mask(const uint8_t *image, int32_t height, int32_t width, int32_t channels,
                                    uint8_t *mask) {
  DCNN_CHECK_ARG(image);
  DCNN_CHECK_ARG(mask);
  DCNN_CHECK(height >= 3 && width >= 3 && height <= 4096 && width <= 4096 && (channels == 1 || channels == 3),
             DCNN_ERR_INVALID_ARGUMENT, "dcnn_mnist_m_digit_mask: %d x %d x %d image (3..4096 pixels a side, 1 or 3 "
             "channels)", (int)height, (int)width, (int)channels);
  const int64_t plane = (int64_t)height * width;
  float *scratch = dcnn__alloc(NULL, (size_t)(mask_scratch(height, width) + plane) * sizeof(float));
  DCNN_CHECK(scratch != NULL, DCNN_ERR_OUT_OF_MEMORY, "dcnn_mnist_m_digit_mask: out of memory");
  float *m = scratch + mask_scratch(height, width);
  digit_mask(image, height, width, channels, scratch, m);
  for (int64_t i = 0; i < plane; ++i) mask[i] = (uint8_t)lrintf(m[i]);
  dcnn__release(NULL, scratch);
  return DCNN_OK;
}

/* ---- procedural textures ---- */

typedef struct draws {
  uint64_t seed;
  uint64_t next;
} draws;

static float uniform(draws *d) { return dcnn_random_uniform(d->seed, PROXY_STREAM, d->next++); }

static float smooth(float t) { return t * t * (3.0f - 2.0f * t); }

/* Value noise: random values on a (g + 1)^2 lattice, interpolated smoothly; `lattice` holds (g + 1)^2 floats. */
static float value_noise(const float *lattice, int32_t g, float u, float v) {
  const float fx = u * (float)g, fy = v * (float)g;
  int32_t x0 = (int32_t)fx, y0 = (int32_t)fy;
  if (x0 >= g) x0 = g - 1;
  if (y0 >= g) y0 = g - 1;
  const float ax = smooth(fx - (float)x0), ay = smooth(fy - (float)y0);
  const float *row0 = lattice + (int64_t)y0 * (g + 1), *row1 = row0 + (g + 1);
  return (1 - ay) * ((1 - ax) * row0[x0] + ax * row0[x0 + 1]) + ay * ((1 - ax) * row1[x0] + ax * row1[x0 + 1]);
}

/* Fills `t` (3, h, w) in 0..255 with texture `kind` (a dcnn_proxy_flag bit number) blending two random colours. */
static void make_texture(int kind, draws *d, int32_t h, int32_t w, float *t) {
  const int64_t plane = (int64_t)h * w;
  float a[3], b[3];
  for (int c = 0; c < 3; ++c) a[c] = 255.0f * uniform(d);
  for (int c = 0; c < 3; ++c) b[c] = 255.0f * uniform(d);
  const float angle = 6.2831853f * uniform(d), ca = cosf(angle), sa = sinf(angle);
  const float period = 3.0f + 9.0f * uniform(d), phase = 6.2831853f * uniform(d);
  float lattice[2][9 * 9];
  const int32_t g0 = 2 + (int32_t)(3.0f * uniform(d)), g1 = 8;
  for (int k = 0; k < 81; ++k) lattice[0][k] = uniform(d), lattice[1][k] = uniform(d);
  const float centre_x = (float)w * uniform(d), centre_y = (float)h * uniform(d);
  float waves[3][3]; /* plasma: frequency x, frequency y, phase */
  for (int k = 0; k < 3; ++k)
    for (int j = 0; j < 3; ++j) waves[k][j] = (j < 2 ? 0.6f : 6.2831853f) * uniform(d);
  for (int32_t y = 0; y < h; ++y)
    for (int32_t x = 0; x < w; ++x) {
      const float u = (float)x / (float)(w > 1 ? w - 1 : 1), v = (float)y / (float)(h > 1 ? h - 1 : 1);
      const float along = (float)x * ca + (float)y * sa;
      float s = 0, noise = 0;
      switch (kind) {
        case 0: /* value noise, two octaves */
          s = 0.7f * value_noise(lattice[0], g0, u, v) + 0.3f * value_noise(lattice[1], g1, u, v);
          break;
        case 1: /* stripes */
          s = 0.5f + 0.5f * sinf(6.2831853f * along / period + phase);
          break;
        case 2: /* linear gradient */
          s = 0.5f + (u - 0.5f) * ca + (v - 0.5f) * sa;
          break;
        case 3: /* plasma: sum of sines and a ring */
          for (int k = 0; k < 3; ++k) s += sinf(waves[k][0] * (float)x + waves[k][1] * (float)y + waves[k][2]);
          s += sinf(hypotf((float)x - centre_x, (float)y - centre_y) * 0.4f + phase);
          s = 0.5f + s / 8.0f;
          break;
        case 4: { /* rotated checker */
          const float across = -(float)x * sa + (float)y * ca;
          s = (float)(((int32_t)floorf(along / (period * 0.7f)) + (int32_t)floorf(across / (period * 0.7f))) & 1);
          break;
        }
        default: /* flat colour with grain */
          s = 0.0f;
          noise = 24.0f * (value_noise(lattice[1], g1, u, v) - 0.5f);
          break;
      }
      s = s < 0 ? 0 : s > 1 ? 1 : s;
      for (int c = 0; c < 3; ++c) {
        float value = a[c] * (1 - s) + b[c] * s + noise;
        t[c * plane + (int64_t)y * w + x] = value < 0 ? 0 : value > 255 ? 255 : value;
      }
    }
}

/* Writes the proxy image (h, w, 3) uint8 for mask `m` over texture `t`. */
static void composite(const float *m, const float *t, int recolour, draws *d, int32_t h, int32_t w, uint8_t *out) {
  const int64_t plane = (int64_t)h * w;
  float colour[3] = {0, 0, 0};
  if (recolour) {
    /* a colour whose luma differs from the texture's mean luma by at least 96 (else its inverse) */
    double mean = 0;
    for (int64_t i = 0; i < plane; ++i) mean += 0.299 * t[i] + 0.587 * t[plane + i] + 0.114 * t[2 * plane + i];
    mean /= (double)plane;
    int found = 0;
    for (int attempt = 0; attempt < 8; ++attempt) {
      float c3[3] = {255.0f * uniform(d), 255.0f * uniform(d), 255.0f * uniform(d)};
      const double luma = 0.299 * c3[0] + 0.587 * c3[1] + 0.114 * c3[2];
      if (!found && fabs(luma - mean) >= 96.0) memcpy(colour, c3, sizeof colour), found = 1;
    }
    if (!found) colour[0] = colour[1] = colour[2] = mean < 128 ? 255.0f : 0.0f;
  }
  for (int64_t i = 0; i < plane; ++i)
    for (int c = 0; c < 3; ++c) {
      const float tc = t[c * plane + i];
      const float v = recolour ? tc + (colour[c] - tc) * (m[i] / 255.0f) : fabsf(tc - m[i]);
      out[i * 3 + c] = (uint8_t)lrintf(v < 0 ? 0 : v > 255 ? 255 : v);
    }
}

dcnn_status dcnn_dataset_make_background_proxy(dcnn_context *ctx, const dcnn_dataset *digits, uint64_t seed,
                                               uint32_t flags, dcnn_dataset **out) {
  DCNN_CHECK_ARG(out);
  *out = NULL; /* before any other check: the caller may destroy *out on failure */
  DCNN_CHECK_ARG(digits);
  const uint32_t kinds = flags & DCNN_PROXY_ALL_TEXTURES;
  DCNN_CHECK(kinds != 0 && (flags & ~(uint32_t)(DCNN_PROXY_ALL_TEXTURES | DCNN_PROXY_RECOLOUR)) == 0,
             DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_dataset_make_background_proxy: flags 0x%x (at least one texture bit, no unknown bits)",
             (unsigned)flags);
  const dcnn_image_store *s = digits->store;
  /* The digit masks' limits: their uint32 window sums hold 4096^2 pixels' worth */
  DCNN_CHECK(s->height >= 3 && s->width >= 3 && s->height <= 4096 && s->width <= 4096, DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_dataset_make_background_proxy: %d x %d images (3..4096 pixels a side)", (int)s->height,
             (int)s->width);
  int enabled[6], n_enabled = 0;
  for (int k = 0; k < 6; ++k)
    if (kinds & (1u << k)) enabled[n_enabled++] = k;
  dcnn_image_store *store = NULL;
  DCNN_TRY(dcnn__store_create(ctx, digits->count, s->height, s->width, 3, s->classes, &store));
  const int64_t plane = (int64_t)s->height * s->width, per = mask_scratch(s->height, s->width) + 4 * plane;
  const int32_t threads = dcnn_context_threads(ctx), lanes = threads > 1 && digits->count > 1 ? threads : 1;
  float *scratch = dcnn__alloc(ctx, (size_t)(per * lanes) * sizeof(float));
  if (!scratch) {
    dcnn__store_release(store);
    return dcnn__fail(DCNN_ERR_OUT_OF_MEMORY, "dcnn_dataset_make_background_proxy: out of memory");
  }
  /* Scratch per lane (loop index), not per team member, as in the pipeline. */
#pragma omp parallel for num_threads(lanes) if (lanes > 1) schedule(static, 1)
  for (int32_t lane = 0; lane < lanes; ++lane) {
    float *mine = scratch + lane * per, *mask = mine + mask_scratch(s->height, s->width), *texture = mask + plane;
    for (int64_t i = lane; i < digits->count; i += lanes) { /* int64: i + lanes may pass INT32_MAX */
      const int32_t index = dcnn__store_index(digits, (int32_t)i);
      const uint8_t *image = s->pixels + (int64_t)index * plane * s->channels;
      digit_mask(image, s->height, s->width, s->channels, mine, mask);
      draws d = {dcnn_random_derive(seed, (uint64_t)i), 0};
      int k = (int)(uniform(&d) * (float)n_enabled);
      k = k >= n_enabled ? n_enabled - 1 : k;
      const int recolour = (flags & DCNN_PROXY_RECOLOUR) && uniform(&d) < 0.5f;
      make_texture(enabled[k], &d, s->height, s->width, texture);
      composite(mask, texture, recolour, &d, s->height, s->width, store->pixels + (int64_t)i * plane * 3);
      store->labels[i] = s->labels[index];
    }
  }
  dcnn__release(ctx, scratch);
  return dcnn__dataset_from_store(store, out);
}
