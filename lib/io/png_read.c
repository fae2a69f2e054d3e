#include "png_read.h"

#include "bytes.h"

#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

#include "digitcnn/data.h"

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

/* Chunks that decide the pixels; every other ancillary chunk (text, time,
 * EXIF, ...) is dropped before libpng sees it, so none can cost memory.
 * The gamma and colour-space chunks (gAMA, sRGB, cHRM, iCCP) are dropped too:
 * samples are taken as they are encoded, as PIL, OpenCV and torchvision take
 * them (training data read there and here is the same), and a 16-bit copy of
 * an 8-bit image reads as that image, gamma chunks or not. */
static int wanted_chunk(const uint8_t type[4]) {
  static const char keep[][5] = {"IHDR", "PLTE", "IDAT", "IEND", "tRNS"};
  if (!(type[0] & 0x20)) return 1; /* critical: libpng refuses the unknown ones */
  for (size_t i = 0; i < sizeof keep / sizeof keep[0]; ++i)
    if (!memcmp(type, keep[i], 4)) return 1;
  return 0;
}

/* Walks the chunk structure of the PNG in `data` and moves the wanted chunks
 * to the front of `data` itself, up to IEND (chunks only ever move towards
 * the start, so no second buffer is needed). libpng allocates what a chunk
 * header announces before it finds that the data is missing (a 44-byte file
 * announcing a 2 GB text chunk took 2 GB); here every chunk must lie inside
 * the file first, so the cost is bounded by its size. */
static dcnn_status png_filter_chunks(const char *name, uint8_t *data, size_t size, size_t *kept_size) {
  static const uint8_t signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  DCNN_CHECK(size >= 8 && !memcmp(data, signature, 8), DCNN_ERR_BAD_FORMAT, "%s: not a readable PNG (no PNG signature)", name);
  size_t at = 8, out = 8;
  for (;;) {
    DCNN_CHECK(size - at >= 8, DCNN_ERR_BAD_FORMAT, "%s: not a readable PNG (truncated at byte %zu, no IEND chunk)",
               name, at);
    const uint32_t length = be32(data + at);
    uint8_t type[4];
    memcpy(type, data + at + 4, 4);
    DCNN_CHECK(length <= 0x7fffffffu && size - at - 8 >= 4 && length <= size - at - 12, DCNN_ERR_BAD_FORMAT,
               "%s: not a readable PNG (chunk \"%.4s\" at byte %zu announces %lu bytes, the file has %zu left)", name,
               (const char *)type, at, (unsigned long)length, size - at - 8);
    const size_t whole = (size_t)length + 12;
    if (wanted_chunk(type)) {
      if (out != at) memmove(data + out, data + at, whole);
      out += whole;
    }
    at += whole;
    if (!memcmp(type, "IEND", 4)) break;
  }
  *kept_size = out;
  return DCNN_OK;
}

/* A PNG read with libpng's low-level API from the filtered buffer. libpng
 * reports errors by longjmp, so every call into it runs in png_guarded. The
 * simplified API is not used: it takes 16-bit samples as linear light,
 * composes alpha in linear light, and (libpng 1.6.39) scrambles Adam7 16-bit
 * images it reduces to 8 bits. */
typedef struct png_decoder {
  dcnn_context *ctx; /* whose allocator libpng, zlib and the row buffer use */
  int out_of_memory; /* an allocation for libpng failed: its error is not the file's fault */
  png_structp png;
  png_infop info;
  const uint8_t *data; /* the filtered file */
  size_t size, at;
  char message[160]; /* libpng's error */
  uint32_t width, height;
  int32_t channels; /* of the output: 1 or 3 */
  uint8_t *row;     /* one row as libpng delivers it: width x at most 8 bytes */
  uint8_t *pixels;  /* the output: height x width x channels */
} png_decoder;

static void on_png_error(png_structp png, png_const_charp message) {
  png_decoder *d = png_get_error_ptr(png);
  snprintf(d->message, sizeof d->message, "%s", message);
  png_longjmp(png, 1);
}

/* A warning (a bad ancillary chunk) loses nothing we use, and the library never prints. */
static void on_png_warning(png_structp png, png_const_charp message) {
  (void)png;
  (void)message;
}

/* libpng's and zlib's memory (png_create_read_struct_2) comes from the
 * context's allocator, as every other allocation of a load does, so a caller's
 * hooks count it and an out-of-memory sweep reaches it. */
static png_voidp on_png_malloc(png_structp png, png_alloc_size_t size) {
  png_decoder *d = png_get_mem_ptr(png);
  void *p = dcnn__alloc(d->ctx, (size_t)size);
  if (!p) d->out_of_memory = 1;
  return p;
}

static void on_png_free(png_structp png, png_voidp ptr) {
  png_decoder *d = png_get_mem_ptr(png);
  dcnn__release(d->ctx, ptr);
}

static void on_png_read(png_structp png, png_bytep out, size_t n) {
  png_decoder *d = png_get_io_ptr(png);
  if (n > d->size - d->at) png_error(png, "truncated file");
  memcpy(out, d->data + d->at, n);
  d->at += n;
}

/* Runs `step` with libpng's errors caught: 0 when libpng failed (d->message
 * says why). No local of this frame changes after setjmp, so none is lost by
 * the longjmp. */
static int png_guarded(png_decoder *d, void (*step)(png_decoder *)) {
  if (setjmp(png_jmpbuf(d->png))) return 0;
  step(d);
  return 1;
}

static void read_header(png_decoder *d) {
  png_read_info(d->png, d->info);
  d->width = png_get_image_width(d->png, d->info);
  d->height = png_get_image_height(d->png, d->info);
}

/* One pixel of `have` samples of `bits` bits (gray, gray + alpha, RGB,
 * RGBA; 16-bit ones big-endian) as `want` 8-bit channels. Alpha is composed
 * onto black on the encoded values at full precision: 255 v a / max^2,
 * rounded (max = 2^bits - 1, so round(v a / 255) for 8 bits, round(v / 257)
 * for an opaque 16-bit sample; max^2 / 255 is odd, so there are no ties), and
 * a 16-bit copy v * 257 of an 8-bit image gives its bytes exactly. The
 * divisors are constants so that the divisions compile to multiplications.
 * Gray from colour is BT.601 luma of the composed values, rounded, the
 * formula of the pipeline's grayscale. */
static void put_pixel(const uint8_t *in, int have, int bits, int32_t want, uint8_t *out) {
  uint32_t s[4] = {0, 0, 0, 0};
  for (int c = 0; c < have; ++c) s[c] = bits == 16 ? (uint32_t)in[2 * c] << 8 | in[2 * c + 1] : in[c];
  const int has_alpha = have == 2 || have == 4;
  uint32_t v[3];
  for (int c = 0; c < 3; ++c) {
    const uint32_t x = s[have >= 3 ? c : 0];
    if (bits == 8) v[c] = has_alpha ? (x * s[have - 1] + 127) / 255 : x;
    else v[c] = (uint32_t)(((uint64_t)x * (has_alpha ? s[have - 1] : 65535) + 8421247) / 16842495); /* 65535 x 257 */
  }
  if (want == 3) {
    for (int c = 0; c < 3; ++c) out[c] = (uint8_t)v[c];
  } else {
    out[0] = (uint8_t)(have >= 3 ? (299 * v[0] + 587 * v[1] + 114 * v[2] + 500) / 1000 : v[0]);
  }
}

/* Decodes the pixels, libpng only unpacking them to samples of 8 or 16 bits.
 * An Adam7 image arrives pass by pass (no png_set_interlace_handling) and
 * each pass row is put in place here, so one row buffer is needed, never a
 * second image. */
static void read_pixels(png_decoder *d) {
  png_structp png = d->png;
  png_set_expand(png); /* palette to RGB, tRNS to an alpha channel, gray of 1, 2 or 4 bits to 8 */
  png_read_update_info(png, d->info);
  const int have = png_get_channels(png, d->info), bits = png_get_bit_depth(png, d->info);
  if ((bits != 8 && bits != 16) || have < 1 || have > 4 || png_get_rowbytes(png, d->info) > (size_t)d->width * 8)
    png_error(png, "unexpected samples after unpacking");
  const size_t in_step = (size_t)have * (size_t)(bits / 8);
  const int adam7 = png_get_interlace_type(png, d->info) == PNG_INTERLACE_ADAM7;
  const int32_t channels = d->channels;
  for (int pass = 0; pass < (adam7 ? 7 : 1); ++pass) {
    uint32_t x0 = 0, dx = 1, y0 = 0, dy = 1, columns = d->width;
    if (adam7) {
      columns = PNG_PASS_COLS(d->width, pass);
      if (columns == 0 || PNG_PASS_ROWS(d->height, pass) == 0) continue; /* libpng skips empty passes too */
      x0 = PNG_PASS_START_COL(pass);
      dx = PNG_PASS_COL_OFFSET(pass);
      y0 = PNG_PASS_START_ROW(pass);
      dy = PNG_PASS_ROW_OFFSET(pass);
    }
    for (uint32_t y = y0; y < d->height; y += dy) {
      png_read_row(png, d->row, NULL);
      uint8_t *out = d->pixels + ((size_t)y * d->width + x0) * (size_t)channels;
      for (uint32_t i = 0; i < columns; ++i, out += (size_t)dx * (size_t)channels)
        put_pixel(d->row + i * in_step, have, bits, channels, out);
    }
  }
}

static void png_end(png_decoder *d) { png_destroy_read_struct(&d->png, &d->info, NULL); }

/* libpng's error as the library's: out of memory when an allocation for it
 * failed (libpng then says "Out of Memory" or a zlib error), else the file's. */
static dcnn_status failed(const char *name, const png_decoder *d, const char *what) {
  if (d->out_of_memory) return dcnn__fail(DCNN_ERR_OUT_OF_MEMORY, "%s: out of memory", name);
  return dcnn__fail(DCNN_ERR_BAD_FORMAT, "%s: %s (%s)", name, what, d->message);
}

/* A PNG whose header has been read: filter, then libpng's header. On success
 * the caller ends it with png_finish or png_end. */
static dcnn_status png_begin(dcnn_context *ctx, const char *name, uint8_t *data, size_t size, png_decoder *d) {
  memset(d, 0, sizeof *d);
  d->ctx = ctx;
  size_t kept_size = 0;
  DCNN_TRY(png_filter_chunks(name, data, size, &kept_size));
  d->data = data;
  d->size = kept_size;
  d->png = png_create_read_struct_2(PNG_LIBPNG_VER_STRING, d, on_png_error, on_png_warning, d, on_png_malloc,
                                    on_png_free);
  if (d->png) d->info = png_create_info_struct(d->png);
  if (!d->info) {
    png_end(d);
    return dcnn__fail(DCNN_ERR_OUT_OF_MEMORY, "%s: out of memory", name);
  }
  png_set_read_fn(d->png, d, on_png_read);
  if (!png_guarded(d, read_header)) {
    png_end(d);
    return failed(name, d, "not a readable PNG");
  }
  if ((int64_t)d->width * d->height > DCNN_PNG_MAX_PIXELS) {
    png_end(d);
    return dcnn__fail(DCNN_ERR_BAD_FORMAT, "%s: %ux%u pixels is larger than this library accepts", name,
                      (unsigned)d->width, (unsigned)d->height);
  }
  return DCNN_OK;
}

static int png_has_color(const png_decoder *d) {
  return (png_get_color_type(d->png, d->info) & PNG_COLOR_MASK_COLOR) != 0; /* a palette counts as colour */
}

/* Decodes the begun image into `pixels` (height x width x channels bytes) and ends it. */
static dcnn_status png_finish(const char *name, png_decoder *d, int32_t channels, uint8_t *pixels) {
  dcnn_status status = DCNN_OK;
  d->row = dcnn__alloc(d->ctx, (size_t)d->width * 8); /* at most 4 samples of 16 bits per pixel */
  d->channels = channels;
  d->pixels = pixels;
  if (!d->row) status = dcnn__fail(DCNN_ERR_OUT_OF_MEMORY, "%s: out of memory", name);
  else if (!png_guarded(d, read_pixels))
    status = failed(name, d, "corrupt PNG");
  dcnn__release(d->ctx, d->row);
  png_end(d);
  return status;
}

dcnn_status dcnn__png_decode(dcnn_context *ctx, const char *name, void *data, size_t size, int32_t channels, uint8_t *pixels,
                             int32_t expect_h, int32_t expect_w, int32_t *height, int32_t *width, int *has_color) {
  png_decoder d;
  DCNN_TRY(png_begin(ctx, name, data, size, &d));
  if (height) *height = (int32_t)d.height;
  if (width) *width = (int32_t)d.width;
  if (has_color) *has_color = png_has_color(&d);
  if (!pixels) {
    png_end(&d);
    return DCNN_OK;
  }
  if ((int32_t)d.height != expect_h || (int32_t)d.width != expect_w) {
    png_end(&d);
    return dcnn__fail(DCNN_ERR_BAD_FORMAT, "%s: image is %ux%u, the dataset's images are %dx%d", name,
                      (unsigned)d.width, (unsigned)d.height, (int)expect_w, (int)expect_h);
  }
  return png_finish(name, &d, channels, pixels);
}

/* Decodes the PNG in `data` (which it rewrites: see png_filter_chunks) once. */
static dcnn_status decode_owned(uint8_t *data, size_t size, int32_t channels, uint8_t **pixels, int32_t *height,
                                int32_t *width, int32_t *channels_out) {
  png_decoder d;
  DCNN_TRY(png_begin(NULL, "PNG", data, size, &d));
  if (channels == 0) channels = png_has_color(&d) ? 3 : 1;
  /* height x width x channels, returned to the caller (dcnn_free) */
  uint8_t *buf = malloc((size_t)d.height * (size_t)d.width * (size_t)channels);
  if (!buf) {
    png_end(&d);
    return dcnn__fail(DCNN_ERR_OUT_OF_MEMORY, "dcnn_image_decode_png: out of memory");
  }
  *height = (int32_t)d.height;
  *width = (int32_t)d.width;
  dcnn_status status = png_finish("PNG", &d, channels, buf);
  if (status != DCNN_OK) {
    free(buf);
    *height = *width = 0;
    return status;
  }
  *pixels = buf;
  if (channels_out) *channels_out = channels;
  return DCNN_OK;
}

dcnn_status dcnn_image_decode_png(const void *data, size_t size, int32_t channels, uint8_t **pixels, int32_t *height,
                                  int32_t *width, int32_t *channels_out) {
  if (channels_out) *channels_out = 0;
  DCNN_CHECK_ARG(pixels);
  *pixels = NULL;
  DCNN_CHECK_ARG(data);
  DCNN_CHECK_ARG(height);
  DCNN_CHECK_ARG(width);
  DCNN_CHECK(channels == 0 || channels == 1 || channels == 3, DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_image_decode_png: channels %d (0 for as stored, 1 or 3)", (int)channels);
  /* The caller's bytes are const: filter a copy (through the allocator, so
   * out-of-memory sweeps reach it). */
  uint8_t *copy = dcnn__alloc(NULL, size ? size : 1);
  DCNN_CHECK(copy != NULL, DCNN_ERR_OUT_OF_MEMORY, "dcnn_image_decode_png: out of memory");
  if (size) memcpy(copy, data, size);
  dcnn_status status = decode_owned(copy, size, channels, pixels, height, width, channels_out);
  dcnn__release(NULL, copy);
  return status;
}

dcnn_status dcnn_image_read_png(const char *path, int32_t channels, uint8_t **pixels, int32_t *height,
                                int32_t *width, int32_t *channels_out) {
  if (channels_out) *channels_out = 0;
  DCNN_CHECK_ARG(pixels);
  *pixels = NULL;
  DCNN_CHECK_ARG(path);
  DCNN_CHECK_ARG(height);
  DCNN_CHECK_ARG(width);
  DCNN_CHECK(channels == 0 || channels == 1 || channels == 3, DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_image_read_png: channels %d (0 for as stored, 1 or 3)", (int)channels);
  uint8_t *data = NULL;
  uint64_t length = 0;
  const char *enclosing = dcnn__file_scope_enter(path); /* every error from here is about the file */
  dcnn_status status = dcnn__read_file_in(NULL, path, path, DCNN_PNG_MAX_FILE_BYTES, &data, &length); /* names it */
  if (status == DCNN_OK) {
    status = decode_owned(data, (size_t)length, channels, pixels, height, width, channels_out);
    dcnn__release(NULL, data);
    char shown[DCNN__SHOWN_PATH_MAX];
    if (status != DCNN_OK) status = dcnn__wrap_error(status, "%s", dcnn__shown_path(path, shown));
  }
  dcnn__file_scope_leave(enclosing);
  return status;
}
