/* Convolution by the unrolled weight (conv_unrolled.h): blocks of Wu built
 * from w, blocks of dWu gathered back to dw, and the GEMMs between them. */
#include "conv_unrolled.h"

#include <string.h>

#include "../core/internal.h"

int64_t dcnn__conv_unrolled_floats(const dcnn_conv_geometry *g, int32_t filters) {
  return (int64_t)filters * g->out_height * g->out_width * g->channels * g->height * g->width;
}

static int64_t round_floats(int64_t n) { return (n + 15) / 16 * 16; }

/* One pass's blocking: `per` filters (or channels) per block, `count` blocks of `floats` each. */
typedef struct blocking {
  int32_t per, count, lanes;
  int64_t floats;
} blocking;

/* Blocks of whole filters (rows of Wu) or, by_channel, of whole channels (columns). */
static blocking plan(const dcnn_conv_geometry *g, int32_t filters, int32_t threads, int by_channel) {
  const int64_t op = (int64_t)g->out_height * g->out_width, ip = (int64_t)g->height * g->width;
  const int64_t unit = by_channel ? filters * op * ip : op * g->channels * ip; /* floats of one filter or channel */
  const int32_t total = by_channel ? g->channels : filters;
  int64_t per = DCNN_UNROLLED_BLOCK_FLOATS / (unit ? unit : 1);
  if (per < 1) per = 1;
  if (per > total) per = total;
  blocking b = {(int32_t)per, (int32_t)((total + per - 1) / per), 1, round_floats(per * unit)};
  b.lanes = b.count >= threads ? threads : 1;
  return b;
}

int64_t dcnn__conv_unrolled_scratch_floats(const dcnn_conv_geometry *g, int32_t filters, int32_t threads,
                                           int backward) {
  const blocking rows = plan(g, filters, threads, 0);
  int64_t most = rows.lanes * rows.floats;
  if (backward) {
    const blocking columns = plan(g, filters, threads, 1);
    if (columns.lanes * columns.floats > most) most = columns.lanes * columns.floats;
  }
  return most;
}

/* The input rows [*lo, *hi) under a window starting at `start` (may be negative), k taps long. */
static void window_span(int32_t start, int32_t k, int32_t extent, int32_t *lo, int32_t *hi) {
  *lo = start < 0 ? 0 : start;
  *hi = start + k > extent ? extent : start + k;
}

/* Planes up to this many pixels take the per-window tap map (taps[i]: the
 * tap over pixel i, or -1), channel by channel; larger ones the strided copies. */
#define MAP_PIXELS 16

/* taps (IP) for the window at (top, left): which tap lies over each pixel, -1 for none. */
static void window_taps(const dcnn_conv_geometry *g, int32_t top, int32_t left, int32_t *taps) {
  const int32_t k = g->kernel;
  for (int32_t ih = 0; ih < g->height; ++ih)
    for (int32_t iw = 0; iw < g->width; ++iw) {
      const int32_t ki = ih - top, kj = iw - left;
      taps[ih * g->width + iw] = ki >= 0 && ki < k && kj >= 0 && kj < k ? ki * k + kj : -1;
    }
}

/* dst (nc, IP) = wf (nc, k*k) picked by taps; inlined with IP a constant, so the pixel loop unrolls. */
static inline __attribute__((always_inline)) void fill_rows(float *restrict dst, const float *restrict wf,
                                                            const int32_t *taps, int32_t nc, int64_t area,
                                                            int32_t ip) {
  for (int32_t c = 0; c < nc; ++c)
    for (int32_t i = 0; i < ip; ++i) dst[c * ip + i] = taps[i] >= 0 ? wf[c * area + taps[i]] : 0.0f;
}

/* out (C, k*k) += src (C, IP) at the pixels' taps (distinct within one window). */
static inline __attribute__((always_inline)) void add_rows(float *restrict out, const float *restrict src,
                                                           const int32_t *taps, int32_t nc, int64_t area,
                                                           int32_t ip) {
  for (int32_t c = 0; c < nc; ++c)
    for (int32_t i = 0; i < ip; ++i)
      if (taps[i] >= 0) out[c * area + taps[i]] += src[c * ip + i];
}

/* wb (nf*OP, nc*IP) = the block of Wu for filters [f0, f0+nf) and channels [c0, c0+nc). */
static void build_block(const dcnn_conv_geometry *g, const float *w, int32_t f0, int32_t nf, int32_t c0, int32_t nc,
                        float *restrict wb) {
  const int32_t k = g->kernel, s = g->stride, W = g->width, OW = g->out_width;
  const int32_t op = g->out_height * g->out_width, ip = g->height * g->width;
  const int64_t row = (int64_t)nc * ip, area = (int64_t)k * k;
  for (int32_t f = 0; f < nf; ++f) {
    const float *restrict wf = w + ((int64_t)(f0 + f) * g->channels + c0) * area; /* (nc, k, k) */
    for (int32_t o = 0; o < op; ++o) {
      const int32_t top = (o / OW) * s - g->pad_top, left = (o % OW) * s - g->pad_left;
      float *restrict dst = wb + ((int64_t)f * op + o) * row; /* (nc, IP) */
      if (ip <= MAP_PIXELS) {
        int32_t taps[MAP_PIXELS];
        window_taps(g, top, left, taps);
        switch (ip) { /* the planes of VGG-16 and ResNet-50 at 32x32 input, unrolled */
          case 1: fill_rows(dst, wf, taps, nc, area, 1); break;
          case 4: fill_rows(dst, wf, taps, nc, area, 4); break;
          default: fill_rows(dst, wf, taps, nc, area, ip); break;
        }
        continue;
      }
      /* Larger planes: zero, then one strided copy of nc floats per (pixel, tap) pair of the window. */
      int32_t h0, h1, w0, w1;
      window_span(top, k, g->height, &h0, &h1);
      window_span(left, k, W, &w0, &w1);
      memset(dst, 0, (size_t)row * sizeof(float));
      for (int32_t ih = h0; ih < h1; ++ih)
        for (int32_t iw = w0; iw < w1; ++iw) {
          const int64_t i = (int64_t)ih * W + iw, t = (int64_t)(ih - top) * k + (iw - left);
          for (int32_t c = 0; c < nc; ++c) dst[c * (int64_t)ip + i] = wf[c * area + t];
        }
    }
  }
}

/* dw[f0, f0+nf) (nf, C, k, k) = dWu's block (nf*OP, C*IP) summed per tap, output pixels in ascending order. */
static void gather_block(const dcnn_conv_geometry *g, const float *dwb, int32_t f0, int32_t nf, float *dw) {
  const int32_t k = g->kernel, s = g->stride, W = g->width, C = g->channels, OW = g->out_width;
  const int32_t op = g->out_height * g->out_width, ip = g->height * g->width;
  const int64_t row = (int64_t)C * ip, area = (int64_t)k * k;
  for (int32_t f = 0; f < nf; ++f) {
    float *restrict out = dw + (int64_t)(f0 + f) * C * area; /* (C, k, k) */
    memset(out, 0, (size_t)(C * area) * sizeof(float));
    for (int32_t o = 0; o < op; ++o) {
      const int32_t top = (o / OW) * s - g->pad_top, left = (o % OW) * s - g->pad_left;
      const float *restrict src = dwb + ((int64_t)f * op + o) * row; /* (C, IP) */
      if (ip <= MAP_PIXELS) {
        int32_t taps[MAP_PIXELS];
        window_taps(g, top, left, taps);
        switch (ip) {
          case 1: add_rows(out, src, taps, C, area, 1); break;
          case 4: add_rows(out, src, taps, C, area, 4); break;
          default: add_rows(out, src, taps, C, area, ip); break;
        }
        continue;
      }
      int32_t h0, h1, w0, w1;
      window_span(top, k, g->height, &h0, &h1);
      window_span(left, k, W, &w0, &w1);
      for (int32_t ih = h0; ih < h1; ++ih)
        for (int32_t iw = w0; iw < w1; ++iw) {
          const int64_t i = (int64_t)ih * W + iw, t = (int64_t)(ih - top) * k + (iw - left);
          for (int32_t c = 0; c < C; ++c) out[c * area + t] += src[c * (int64_t)ip + i];
        }
    }
  }
}

typedef enum pass { FORWARD, BACKWARD_DATA, BACKWARD_WEIGHTS } pass;

typedef struct job {
  const dcnn_conv_geometry *g;
  int32_t filters;
  const float *w, *a, *b; /* forward: x; backward-data: dy; backward-weights: x, dy */
  float *out;             /* y, dx or dw */
} job;

/* One block of a pass, its GEMM split over `threads`; fails only when OpenBLAS has no buffer. */
static dcnn_status run_block(const job *j, pass p, const blocking *bl, int32_t block, int32_t threads, float *buf) {
  const dcnn_conv_geometry *g = j->g;
  const int32_t n = g->batch, op = g->out_height * g->out_width, ip = g->height * g->width;
  const int32_t in = g->channels * ip, out = j->filters * op;
  const int32_t first = block * bl->per;
  const int32_t total = p == BACKWARD_DATA ? g->channels : j->filters;
  const int32_t count = first + bl->per > total ? total - first : bl->per;
  switch (p) {
    case FORWARD: /* y[:, first*OP ...] (N, count*OP) = x (N, C*IP) wb^T, wb (count*OP, C*IP) */
      build_block(g, j->w, first, count, 0, g->channels, buf);
      return dcnn__sgemm(threads, 0, 1, n, count * op, in, 1.0f, j->a, in, buf, in, 0.0f, j->out + (int64_t)first * op,
                         out);
    case BACKWARD_DATA: /* dx[:, first*IP ...] (N, count*IP) = dy (N, F*OP) wb, wb (F*OP, count*IP) */
      build_block(g, j->w, 0, j->filters, first, count, buf);
      return dcnn__sgemm(threads, 0, 0, n, count * ip, out, 1.0f, j->a, out, buf, count * ip, 0.0f,
                         j->out + (int64_t)first * ip, in);
    default: { /* dwb (count*OP, C*IP) = dy[:, first*OP ...]^T x, then gathered into dw */
      DCNN_TRY(dcnn__sgemm(threads, 1, 0, count * op, in, n, 1.0f, j->b + (int64_t)first * op, out, j->a, in, 0.0f,
                           buf, in));
      gather_block(g, buf, first, count, j->out);
      return DCNN_OK;
    }
  }
}

static dcnn_status run_pass(int32_t threads, const job *j, pass p, float *scratch) {
  const blocking bl = plan(j->g, j->filters, threads, p == BACKWARD_DATA);
  if (bl.lanes > 1) {
    int32_t refused = 0; /* blocks OpenBLAS had no buffer for (reported below, on the calling thread) */
    /* Lanes are loop iterations, not team members: a smaller team runs several lanes in turn. */
#pragma omp parallel for num_threads(bl.lanes) schedule(static, 1) reduction(+ : refused)
    for (int32_t lane = 0; lane < bl.lanes; ++lane)
      for (int32_t block = lane; block < bl.count; block += bl.lanes)
        refused += run_block(j, p, &bl, block, 1, scratch + lane * bl.floats) != DCNN_OK;
    return refused ? dcnn__blas_unavailable() : DCNN_OK;
  }
  for (int32_t block = 0; block < bl.count; ++block) DCNN_TRY(run_block(j, p, &bl, block, threads, scratch));
  return DCNN_OK;
}

dcnn_status dcnn__conv_unrolled_forward(int32_t threads, const dcnn_conv_geometry *g, int32_t filters,
                                        const float *w, const float *x, float *y, float *scratch) {
  const job j = {g, filters, w, x, NULL, y};
  return run_pass(threads, &j, FORWARD, scratch);
}

dcnn_status dcnn__conv_unrolled_backward_data(int32_t threads, const dcnn_conv_geometry *g, int32_t filters,
                                              const float *w, const float *dy, float *dx, float *scratch) {
  const job j = {g, filters, w, dy, NULL, dx};
  return run_pass(threads, &j, BACKWARD_DATA, scratch);
}

dcnn_status dcnn__conv_unrolled_backward_weights(int32_t threads, const dcnn_conv_geometry *g, int32_t filters,
                                                 const float *x, const float *dy, float *dw, float *scratch) {
  const job j = {g, filters, NULL, x, dy, dw};
  return run_pass(threads, &j, BACKWARD_WEIGHTS, scratch);
}
