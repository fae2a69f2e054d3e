/* PNG decoding (dcnn_image_decode_png): every colour type and bit depth gives
 * the samples as stored, reduced to 8 bits, alpha composed onto black as
 * round(v * a / 255) on those values; a 16-bit copy (v * 257) of an 8-bit
 * image reads as the 8-bit one, whatever its gamma chunks and interlacing.
 * The PNGs are written here with libpng, so nothing binary is committed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>
#include <zlib.h>

#include "test_support.h"

/* A PNG in memory. */
typedef struct png_bytes {
  uint8_t *data;
  size_t size, capacity;
} png_bytes;

static void put_bytes(png_bytes *b, const void *data, size_t n) {
  if (b->size + n > b->capacity) {
    b->capacity = 2 * (b->size + n);
    b->data = realloc(b->data, b->capacity);
    assert_non_null(b->data);
  }
  memcpy(b->data + b->size, data, n);
  b->size += n;
}

static void on_write(png_structp png, png_bytep data, size_t n) { put_bytes(png_get_io_ptr(png), data, n); }
static void on_flush(png_structp png) { (void)png; }

/* What to write: samples are height x width x channels values at bit_depth
 * (palette indices for a palette image). */
typedef struct png_spec {
  int width, height, color_type, bit_depth, interlace;
  const uint16_t *samples;
  const png_color *palette; /* palette images */
  int palette_size;
  const uint8_t *palette_alpha; /* tRNS of a palette image, or NULL */
  int palette_alpha_size;
  const png_color_16 *key; /* tRNS colour key of a gray or RGB image, or NULL */
} png_spec;

static int channels_of(int color_type) {
  switch (color_type) {
    case PNG_COLOR_TYPE_GRAY_ALPHA: return 2;
    case PNG_COLOR_TYPE_RGB: return 3;
    case PNG_COLOR_TYPE_RGB_ALPHA: return 4;
    default: return 1; /* gray, palette */
  }
}

static png_bytes encode(const png_spec *s) {
  png_bytes out = {NULL, 0, 0};
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png_create_info_struct(png);
  assert_non_null(info);
  const int channels = channels_of(s->color_type), wide = s->bit_depth == 16;
  uint8_t *rows = calloc((size_t)s->height * s->width * channels, wide ? 2 : 1);
  png_bytep *row_pointers = calloc((size_t)s->height, sizeof *row_pointers);
  assert_non_null(rows);
  assert_non_null(row_pointers);
  for (int y = 0; y < s->height; ++y) {
    row_pointers[y] = rows + (size_t)y * s->width * channels * (wide ? 2 : 1);
    for (int i = 0; i < s->width * channels; ++i) {
      const uint16_t v = s->samples[y * s->width * channels + i];
      if (wide) {
        row_pointers[y][2 * i] = (uint8_t)(v >> 8);
        row_pointers[y][2 * i + 1] = (uint8_t)(v & 0xff);
      } else {
        row_pointers[y][i] = (uint8_t)v;
      }
    }
  }
  if (setjmp(png_jmpbuf(png))) fail_msg("libpng could not write the test image");
  png_set_write_fn(png, &out, on_write, on_flush);
  png_set_IHDR(png, info, (png_uint_32)s->width, (png_uint_32)s->height, s->bit_depth, s->color_type, s->interlace,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (s->palette) png_set_PLTE(png, info, s->palette, s->palette_size);
  if (s->palette_alpha) png_set_tRNS(png, info, s->palette_alpha, s->palette_alpha_size, NULL);
  if (s->key) png_set_tRNS(png, info, NULL, 0, s->key);
  png_write_info(png, info);
  if (s->bit_depth < 8) png_set_packing(png); /* one sample per byte in our rows */
  png_set_interlace_handling(png);
  png_write_image(png, row_pointers);
  png_write_end(png, info);
  png_destroy_write_struct(&png, &info);
  free(rows);
  free(row_pointers);
  return out;
}

static void put_u32(png_bytes *b, uint32_t v) {
  const uint8_t be[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
  put_bytes(b, be, 4);
}

/* `png` with a chunk inserted right after IHDR (8 + 25 bytes), where gAMA,
 * sRGB, cHRM and iCCP belong. */
static void insert_chunk(png_bytes *png, const char *type, const uint8_t *data, uint32_t size) {
  png_bytes out = {NULL, 0, 0};
  put_bytes(&out, png->data, 33);
  put_u32(&out, size);
  const size_t at = out.size;
  put_bytes(&out, type, 4);
  if (size) put_bytes(&out, data, size);
  put_u32(&out, (uint32_t)crc32(0, out.data + at, 4 + size));
  put_bytes(&out, png->data + 33, png->size - 33);
  free(png->data);
  *png = out;
}

/* The gamma and colour-space chunks a file may carry; none changes a pixel. */
enum { NO_CHUNK, GAMMA_SRGB, GAMMA_LINEAR, SRGB, GAMMA_AND_CHRM, ICC_PROFILE, CHUNK_SETS };
static const char *const chunk_set_names[] = {"none", "gAMA 0.45455", "gAMA 1.0", "sRGB", "gAMA + cHRM", "iCCP"};

static void add_chunks(png_bytes *png, int set) {
  const uint8_t gamma_srgb[4] = {0, 0, 0xb1, 0x8f}, gamma_linear[4] = {0, 1, 0x86, 0xa0}, intent[1] = {0};
  /* cHRM of sRGB: white point and the three primaries, x and y times 100000 */
  const uint32_t chrm[8] = {31270, 32900, 64000, 33000, 30000, 60000, 15000, 6000};
  uint8_t chrm_bytes[32];
  for (int i = 0; i < 8; ++i)
    for (int k = 0; k < 4; ++k) chrm_bytes[4 * i + k] = (uint8_t)(chrm[i] >> (24 - 8 * k));
  switch (set) {
    case GAMMA_SRGB: insert_chunk(png, "gAMA", gamma_srgb, 4); break;
    case GAMMA_LINEAR: insert_chunk(png, "gAMA", gamma_linear, 4); break;
    case SRGB: insert_chunk(png, "sRGB", intent, 1); break;
    case GAMMA_AND_CHRM:
      insert_chunk(png, "cHRM", chrm_bytes, 32);
      insert_chunk(png, "gAMA", gamma_linear, 4);
      break;
    case ICC_PROFILE: {
      /* name, NUL, compression method 0, a zlib stream (a made-up profile) */
      uint8_t chunk[200] = "profile";
      uLongf packed = sizeof chunk - 9;
      const uint8_t profile[64] = {0, 0, 0, 64, 'l', 'c', 'm', 's', 2, 0x10};
      assert_int_equal(compress(chunk + 9, &packed, profile, sizeof profile), Z_OK);
      insert_chunk(png, "iCCP", chunk, (uint32_t)(9 + packed));
      break;
    }
    default: break;
  }
}

/* The documented result for one pixel of `have` 8-bit samples (gray, gray +
 * alpha, RGB, RGBA) as `want` channels: alpha composed onto black as
 * round(v * a / 255), gray from colour as round(0.299 R + 0.587 G + 0.114 B). */
static void expected_pixel(const uint8_t *in, int have, int want, uint8_t *out) {
  const unsigned a = have == 2 || have == 4 ? in[have - 1] : 255;
  unsigned v[3];
  for (int c = 0; c < 3; ++c) v[c] = (in[have >= 3 ? c : 0] * a + 127) / 255;
  if (want == 1) out[0] = (uint8_t)(have >= 3 ? (299 * v[0] + 587 * v[1] + 114 * v[2] + 500) / 1000 : v[0]);
  else
    for (int c = 0; c < 3; ++c) out[c] = (uint8_t)v[c];
}

/* Decodes `png` as `channels`; the channels reported must be what was asked
 * (with 0, what the file stores: `stored`). */
static uint8_t *decode_reporting(const png_bytes *png, int32_t channels, int32_t stored, int32_t *h, int32_t *w) {
  uint8_t *pixels = NULL;
  int32_t reported = -7;
  assert_ok(dcnn_image_decode_png(png->data, png->size, channels, &pixels, h, w, &reported));
  assert_int_equal(reported, channels ? channels : stored);
  return pixels;
}


/* Decodes `png` as 0, 1 and 3 channels and compares with expected_pixel of
 * the 8-bit samples `in` (`have` per pixel); `what` names the case. */
static void assert_decodes_to(const png_bytes *png, const uint8_t *in, int have, int height, int width,
                              const char *what) {
  for (int32_t channels = 0; channels <= 3; channels += channels == 0 ? 1 : 2) {
    int32_t h = 0, w = 0;
    const int want = channels ? channels : have >= 3 ? 3 : 1;
    uint8_t *got = decode_reporting(png, channels, want, &h, &w);
    assert_int_equal(h, height);
    assert_int_equal(w, width);
    for (int i = 0; i < height * width; ++i) {
      uint8_t e[3];
      expected_pixel(in + i * have, have, want, e);
      for (int c = 0; c < want; ++c)
        if (got[i * want + c] != e[c])
          fail_msg("%s, channels %d: pixel %d channel %d is %d, expected %d", what, (int)channels, i, c,
                   got[i * want + c], e[c]);
    }
    dcnn_free(got);
  }
}

/* 8-bit samples with every alpha of interest and colours that show a
 * wrong gamma (mid-range values move most). */
static void fill_samples(uint8_t *s, int pixels, int have, unsigned seed) {
  static const uint8_t alphas[] = {0, 1, 64, 127, 128, 200, 254, 255};
  for (int i = 0; i < pixels; ++i)
    for (int c = 0; c < have; ++c) {
      seed = seed * 1103515245u + 12345u;
      const int is_alpha = (have == 2 || have == 4) && c == have - 1;
      s[i * have + c] = is_alpha ? alphas[(i + (int)(seed >> 16)) % 8] : (uint8_t)(seed >> 16);
    }
}

static void sixteen_bit_copies_read_as_their_eight_bit_originals(void **state) {
  (void)state;
  const int types[] = {PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA};
  const int sizes[][2] = {{7, 9}, {1, 1}, {2, 3}, {9, 1}, {1, 6}}; /* height, width: Adam7 passes empty and not */
  for (size_t t = 0; t < sizeof types / sizeof types[0]; ++t)
    for (size_t z = 0; z < sizeof sizes / sizeof sizes[0]; ++z)
      for (int interlace = 0; interlace <= 1; ++interlace)
        for (int set = 0; set < CHUNK_SETS; ++set) {
          const int h = sizes[z][0], w = sizes[z][1], have = channels_of(types[t]);
          uint8_t narrow[7 * 9 * 4];
          uint16_t samples8[7 * 9 * 4], samples16[7 * 9 * 4];
          fill_samples(narrow, h * w, have, (unsigned)(t * 100 + z));
          for (int i = 0; i < h * w * have; ++i) {
            samples8[i] = narrow[i];
            samples16[i] = (uint16_t)(narrow[i] * 257);
          }
          png_spec spec = {w, h, types[t], 8, interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, samples8,
                           NULL, 0, NULL, 0, NULL};
          png_bytes png8 = encode(&spec);
          spec.bit_depth = 16;
          spec.samples = samples16;
          png_bytes png16 = encode(&spec);
          add_chunks(&png8, set);
          add_chunks(&png16, set);
          char what[128];
          snprintf(what, sizeof what, "colour type %d, %dx%d, %s, chunks: %s", types[t], w, h,
                   interlace ? "Adam7" : "not interlaced", chunk_set_names[set]);
          char what16[160];
          snprintf(what16, sizeof what16, "16-bit, %s", what);
          assert_decodes_to(&png8, narrow, have, h, w, what);
          assert_decodes_to(&png16, narrow, have, h, w, what16);
          free(png8.data);
          free(png16.data);
        }
}

/* The reviewer's case: colour 200 under alpha 0, 64, 128, 255 reads
 * 0 50 100 200 at both bit depths, as gray + alpha and as RGBA. */
static void alpha_is_composed_on_the_encoded_values(void **state) {
  (void)state;
  const uint8_t alphas[4] = {0, 64, 128, 255}, expect[4] = {0, 50, 100, 200};
  for (int depth = 8; depth <= 16; depth += 8)
    for (int color = 0; color <= 1; ++color) {
      const int have = color ? 4 : 2, scale = depth == 16 ? 257 : 1;
      uint16_t samples[4 * 4];
      for (int i = 0; i < 4; ++i)
        for (int c = 0; c < have; ++c) samples[i * have + c] = (uint16_t)((c == have - 1 ? alphas[i] : 200) * scale);
      const png_spec spec = {4, 1, color ? PNG_COLOR_TYPE_RGB_ALPHA : PNG_COLOR_TYPE_GRAY_ALPHA, depth, 0, samples,
                             NULL, 0, NULL, 0, NULL};
      png_bytes png = encode(&spec);
      int32_t h, w;
      uint8_t *got = decode_reporting(&png, 0, color ? 3 : 1, &h, &w);
      for (int i = 0; i < 4; ++i)
        for (int c = 0; c < (color ? 3 : 1); ++c) assert_int_equal(got[i * (color ? 3 : 1) + c], expect[i]);
      dcnn_free(got);
      free(png.data);
    }
}

/* Palette + tRNS at every palette bit depth, and tRNS colour keys on gray
 * (every bit depth) and RGB (8 and 16 bits): the same formula, a keyed
 * pixel is black. */
static void transparency_chunks_compose_like_alpha(void **state) {
  (void)state;
  const png_color palette[4] = {{200, 100, 50}, {10, 250, 128}, {255, 255, 255}, {77, 0, 199}};
  const uint8_t palette_alpha[3] = {128, 0, 64}; /* entry 3 opaque */
  for (int depth = 1; depth <= 8; depth *= 2)
    for (int interlace = 0; interlace <= 1; ++interlace) {
      const int entries = depth == 1 ? 2 : 4;
      uint16_t index[5 * 3];
      uint8_t rgba[5 * 3 * 4];
      for (int i = 0; i < 15; ++i) {
        index[i] = (uint16_t)((i * 7 + 1) % entries);
        rgba[4 * i] = palette[index[i]].red;
        rgba[4 * i + 1] = palette[index[i]].green;
        rgba[4 * i + 2] = palette[index[i]].blue;
        rgba[4 * i + 3] = index[i] < 3 ? palette_alpha[index[i]] : 255;
      }
      const png_spec spec = {3, 5, PNG_COLOR_TYPE_PALETTE, depth, interlace, index, palette, entries,
                             palette_alpha, entries < 3 ? entries : 3, NULL};
      png_bytes png = encode(&spec);
      char what[64];
      snprintf(what, sizeof what, "palette of %d bits + tRNS, interlace %d", depth, interlace);
      assert_decodes_to(&png, rgba, 4, 5, 3, what);
      free(png.data);
    }
  for (int depth = 1; depth <= 16; depth *= 2) {
    const unsigned top = (1u << depth) - 1, key_value = top / 3;
    uint16_t gray[4 * 4];
    uint8_t ga[4 * 4 * 2];
    for (int i = 0; i < 16; ++i) {
      gray[i] = (uint16_t)((unsigned)i * 2654435761u % (top + 1));
      if (i % 5 == 0) gray[i] = (uint16_t)key_value;
      ga[2 * i] = (uint8_t)((gray[i] * 255u + top / 2) / top);
      ga[2 * i + 1] = gray[i] == key_value ? 0 : 255;
    }
    png_color_16 key = {0, 0, 0, 0, (png_uint_16)key_value};
    const png_spec spec = {4, 4, PNG_COLOR_TYPE_GRAY, depth, 0, gray, NULL, 0, NULL, 0, &key};
    png_bytes png = encode(&spec);
    char what[64];
    snprintf(what, sizeof what, "gray of %d bits + tRNS key", depth);
    assert_decodes_to(&png, ga, 2, 4, 4, what);
    free(png.data);
  }
  for (int depth = 8; depth <= 16; depth += 8) {
    const unsigned scale = depth == 16 ? 257 : 1;
    uint16_t rgb[3 * 3 * 3];
    uint8_t rgba[3 * 3 * 4];
    for (int i = 0; i < 9; ++i) {
      const uint8_t v[3] = {(uint8_t)(i * 29), (uint8_t)(200 - i * 3), (uint8_t)(i % 2 ? 10 : 99)};
      for (int c = 0; c < 3; ++c) {
        rgb[3 * i + c] = (uint16_t)(v[c] * scale);
        rgba[4 * i + c] = v[c];
      }
      rgba[4 * i + 3] = i == 4 ? 0 : 255;
    }
    /* the key matches pixel 4 only, and a pixel differing from it in one channel stays */
    png_color_16 key = {0, (png_uint_16)rgb[12], (png_uint_16)rgb[13], (png_uint_16)rgb[14], 0};
    const png_spec spec = {3, 3, PNG_COLOR_TYPE_RGB, depth, 0, rgb, NULL, 0, NULL, 0, &key};
    png_bytes png = encode(&spec);
    char what[64];
    snprintf(what, sizeof what, "RGB of %d bits + tRNS key", depth);
    assert_decodes_to(&png, rgba, 4, 3, 3, what);
    free(png.data);
  }
}

/* 16-bit samples that are not copies of 8-bit ones round to nearest: v / 257. */
static void sixteen_bit_samples_round_to_nearest(void **state) {
  (void)state;
  const uint16_t gray[8] = {0, 128, 129, 257, 385, 386, 65406, 65407};
  const uint8_t expect[8] = {0, 0, 1, 1, 1, 2, 254, 255};
  const png_spec spec = {8, 1, PNG_COLOR_TYPE_GRAY, 16, 0, gray, NULL, 0, NULL, 0, NULL};
  png_bytes png = encode(&spec);
  add_chunks(&png, SRGB);
  int32_t h, w;
  uint8_t *got = decode_reporting(&png, 0, 1, &h, &w);
  assert_memory_equal(got, expect, 8);
  dcnn_free(got);
  free(png.data);
}

/* dcnn_image_read_png reports the channels of a file read as stored, and
 * both functions report 0 channels when they fail. */
static void the_channels_read_are_reported(void **state) {
  (void)state;
  assert_int_equal(test_dir_create("png-channels"), 0);
  const uint8_t rgb[2 * 3 * 3] = {10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140, 150, 160, 170, 180};
  const char *colour = test_dir_path("colour.png");
  assert_ok(dcnn_image_write_png(colour, 2, 3, 3, rgb));
  const char *gray = test_dir_path("gray.png");
  assert_ok(dcnn_image_write_png(gray, 3, 2, 1, rgb));
  uint8_t *pixels = NULL;
  int32_t h = 0, w = 0, channels = -7;
  assert_ok(dcnn_image_read_png(colour, 0, &pixels, &h, &w, &channels));
  assert_true(h == 2 && w == 3 && channels == 3);
  assert_memory_equal(pixels, rgb, sizeof rgb);
  dcnn_free(pixels);
  assert_ok(dcnn_image_read_png(gray, 0, &pixels, &h, &w, &channels));
  assert_true(h == 3 && w == 2 && channels == 1);
  dcnn_free(pixels);
  assert_ok(dcnn_image_read_png(gray, 3, &pixels, &h, &w, &channels));
  assert_int_equal(channels, 3);
  dcnn_free(pixels);
  assert_ok(dcnn_image_read_png(gray, 0, &pixels, &h, &w, NULL)); /* the count is optional */
  dcnn_free(pixels);
  channels = -7;
  assert_status(dcnn_image_read_png(test_dir_path("missing.png"), 0, &pixels, &h, &w, &channels), DCNN_ERR_IO);
  assert_int_equal(channels, 0);
  channels = -7;
  assert_status(dcnn_image_decode_png(rgb, sizeof rgb, 0, &pixels, &h, &w, &channels), DCNN_ERR_BAD_FORMAT);
  assert_int_equal(channels, 0);
  assert_null(pixels);
  assert_int_equal(test_dir_remove(), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(the_channels_read_are_reported),
      cmocka_unit_test(sixteen_bit_copies_read_as_their_eight_bit_originals),
      cmocka_unit_test(alpha_is_composed_on_the_encoded_values),
      cmocka_unit_test(transparency_chunks_compose_like_alpha),
      cmocka_unit_test(sixteen_bit_samples_round_to_nearest),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
