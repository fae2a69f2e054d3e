/* The tile transforms of Winograd F(m x m, 3 x 3), m = 2 or 4 (a = m + 2 input
 * tile side, P = a * a positions), each over a block of tiles or channels
 * DCNN_WINO_LANES at a time. Internal to winograd.c.
 *
 * Points 0, 1, -1 (m = 2) and 0, 1, -1, 2, -2 and infinity (m = 4):
 *   Y = A^T [ (G g G^T) (.) (B^T d B) ] A      (forward, one tile)
 *   dg = G^T [ sum over tiles (B^T d B) (.) (A dy A^T) ] G   (its transpose in g) */
#ifndef DCNN_KERNELS_WINOGRAD_TRANSFORM_H
#define DCNN_KERNELS_WINOGRAD_TRANSFORM_H

#include <stdint.h>

#include "winograd.h"

/* Tiles (or channels) transformed together: one AVX-512 or two AVX2 vectors. */
#define DCNN_WINO_LANES 16

/* Tiling of one convolution: tiles of m x m outputs over (out_h, out_w); the
 * input patch of tile (ti, tj) starts at row ti*m - pad_top, column tj*m - pad_left
 * of the (in_h, in_w) input and is zero outside it. Tile t of the batch is
 * (n, ti, tj) = (t / (tiles_h*tiles_w), row, column), row-major. */
typedef struct dcnn_wino_tiling {
  int32_t m, a;
  int32_t in_h, in_w, out_h, out_w, pad_top, pad_left;
  int32_t tiles_h, tiles_w;
} dcnn_wino_tiling;

/* Lanes (threads) that get work in one call of dcnn__winograd_* with these
 * arguments: the blocks' lanes, or the lanes sharing a single block. For tests. */
int32_t dcnn__winograd_busy_lanes(int32_t tile, const dcnn_conv_geometry *g, int32_t filters, dcnn_winograd_pass pass,
                                  int32_t threads);

/* Forces the patch gathers of dcnn__wino_input and dcnn__wino_gradient to
 * instruction set `isa` (0 portable, 1 AVX2, 2 AVX-512; 2 also enables the
 * whole-tile-row paths of F(4x4) on planes 16 or 32 wide, in those two and in
 * dcnn__wino_output: the same bits), for tests; a negative
 * or unsupported value selects the best the CPU supports (the default). Not
 * thread-safe against running transforms. Returns the set now in use. */
int dcnn__wino_force_isa(int isa);

/* v (P, channels, ld) columns [0, count), channels [k0, k1) = B^T d B of the
 * input patches of tiles [first, first + count) of x (N, channels, in_h, in_w);
 * columns up to count rounded up to DCNN_WINO_LANES are zero (ld must reach
 * that far). */
void dcnn__wino_input(const dcnn_wino_tiling *t, int32_t channels, int32_t k0, int32_t k1, const float *x,
                      int64_t first, int32_t count, float *v, int32_t ld);

/* y (N, rows, out_h, out_w) channels [r0, r1) of tiles [first, first + count)
 * = A^T M A of m (P, rows, ld), edge tiles clipped to the output. */
void dcnn__wino_output(const dcnn_wino_tiling *t, int32_t rows, int32_t r0, int32_t r1, const float *m, int32_t ld,
                       int64_t first, int32_t count, float *y);

/* q (P, rows, ld) = A dy A^T of the m x m tiles [first, first + count) of
 * dy (N, rows, out_h, out_w) (zero beyond the output); padding columns zero as in input. */
void dcnn__wino_gradient(const dcnn_wino_tiling *t, int32_t rows, const float *dy, int64_t first, int32_t count,
                         float *q, int32_t ld);

/* u (P, rows, cols) rows [r0, r1) = G g G^T, g the 3x3 filter at w + r*row_stride +
 * c*col_stride, read rotated 180 degrees when `rotate`. */
void dcnn__wino_filter(int32_t m, int32_t rows, int32_t cols, const float *w, int64_t row_stride, int64_t col_stride,
                       int rotate, int32_t r0, int32_t r1, float *u);

/* dw (rows, cols, 3, 3) rows [r0, r1) = G^T S G, S = sum over parts i = 0, 1, ...
 * (in that order) of s + i * part_stride, each (P, rows, cols). */
void dcnn__wino_filter_gradient(int32_t m, int32_t rows, int32_t cols, const float *s, int32_t parts,
                                int64_t part_stride, int32_t r0, int32_t r1, float *dw);

#endif
