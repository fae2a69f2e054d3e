/* PNG input with libpng: any colour type and bit depth, to 8-bit gray or RGB. */
#ifndef DCNN_PNG_READ_H
#define DCNN_PNG_READ_H

#include <stdint.h>

#include "../core/internal.h"

/* Largest image accepted, in pixels: a crafted header cannot make us allocate more. */
#define DCNN_PNG_MAX_PIXELS (INT64_C(1) << 26)

/* Largest PNG file dcnn_image_read_png reads. */
#define DCNN_PNG_MAX_FILE_BYTES (UINT64_C(1) << 30)

/* Reads the header of the PNG in `data`, which it rewrites (the chunks that
 * decide the pixels are moved to the front, so no copy is needed); if `pixels` is not NULL also decodes
 * it as 8-bit gray (channels 1) or RGB (channels 3) into `pixels` (samples as
 * encoded, 16 bits rounded to 8, alpha composed onto black as round(v * a /
 * 255); docs/data-formats.md), which must hold expect_h x expect_w x channels bytes
 * (the image must have that size). `name` prefixes errors. Every allocation,
 * libpng's and zlib's included, goes through `ctx`'s allocator (NULL: the
 * default one). */
dcnn_status dcnn__png_decode(dcnn_context *ctx, const char *name, void *data, size_t size, int32_t channels, uint8_t *pixels,
                             int32_t expect_h, int32_t expect_w, int32_t *height, int32_t *width, int *has_color);

#endif
