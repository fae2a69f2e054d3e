/* Winograd F(m x m, 3 x 3) convolution passes (see winograd.h).
 *
 * The batch's tiles are cut into blocks whose transformed data stay in a
 * core's cache; each thread lane takes whole blocks (lane, lane + lanes, ...)
 * with private scratch:
 *   V (P, K, block) = B^T d B of the block's input patches   (K input channels)
 *   M (P, R, block) = U[p] (R, K) V[p] (K, block), one SGEMM per position p
 *   y = A^T M A, written straight into NCHW (edge tiles clipped)
 * with U (P, R, K) = G w G^T transformed once per call. Backward-data is the
 * same with dy as input, the filters rotated 180 degrees with F and C swapped,
 * and padding 2 - pad (a full correlation). Backward-weights sums per lane
 *   S (P, F, C) += Q[p] (F, block) V[p]^T (block, C),  Q = A dy A^T,
 * then adds the lanes in lane order and transforms dw = G^T S G. */
#include "winograd.h"

#include <string.h>

#include "small_gemm.h"
#include "winograd_transform.h"
#include "../core/internal.h"

/* Bytes of transformed data (V and M) per block: about a core's L2 cache. */
#ifndef DCNN_WINO_BLOCK_BYTES
#define DCNN_WINO_BLOCK_BYTES (1 << 20)
#endif
/* Fewer tiles per block make each SGEMM reread its U[p] from memory for too little work. */
#ifndef DCNN_WINO_MIN_BLOCK
#define DCNN_WINO_MIN_BLOCK 64
#endif
/* A single block is shared by the threads only above this many multiply-adds
 * in its SGEMMs (about 20 us on one core; three barriers cost a few). */
#define DCNN_WINO_MIN_SPLIT (1 << 20)
/* Position products with at most this many tile columns use dcnn__sgemm_small:
 * below it OpenBLAS spends more on packing and clearing than on the product.
 * With its AVX-512 kernel (dcnn__sgemm_small_is_wide) it takes every width. */
#define DCNN_WINO_SMALL_COLUMNS 64
/* Filter transforms smaller than this many outputs stay on one thread. */
#define DCNN_WINO_PARALLEL_FILTER (1 << 15)

typedef struct wino_plan {
  dcnn_wino_tiling t;
  int32_t in_channels, out_channels, positions; /* K, R, P */
  int64_t tiles;                                /* N * tiles_h * tiles_w */
  int32_t block, blocks, lanes;                 /* tiles per block (a multiple of DCNN_WINO_LANES) */
  int32_t reserved_lanes;                       /* lanes the workspace holds (>= lanes) */
  int32_t split; /* > 1: one block shared by this many lanes (correlate_split), else 0 */
  int64_t u_floats;                             /* U (P, R, K), shared; 0 for backward-weights */
  int64_t v_floats, m_floats, s_floats;         /* per lane: V, M (or Q), S (backward-weights only) */
  int64_t t_floats; /* per lane, backward-weights: one position's V transposed (block, C), for dcnn__sgemm_small_nt */
  int64_t lane_floats;
} wino_plan;

static int64_t round16(int64_t n) { return (n + 15) / 16 * 16; }
static int64_t round_lanes(int64_t n) { return (n + DCNN_WINO_LANES - 1) / DCNN_WINO_LANES * DCNN_WINO_LANES; }

int dcnn__winograd_applies(int32_t tile, const dcnn_conv_geometry *g) {
  return (tile == 2 || tile == 4) && g->kernel == 3 && g->stride == 1 && g->out_height > 0 && g->out_width > 0 &&
         g->height > 0 && g->width > 0 && g->channels > 0;
}

static wino_plan make_plan(int32_t tile, const dcnn_conv_geometry *g, int32_t filters, dcnn_winograd_pass pass,
                           int32_t threads) {
  wino_plan p;
  memset(&p, 0, sizeof p);
  dcnn_wino_tiling *t = &p.t;
  t->m = tile;
  t->a = tile + 2;
  if (pass == DCNN_WINOGRAD_BACKWARD_DATA) {
    /* dx = full correlation of dy with the rotated filters. */
    t->in_h = g->out_height, t->in_w = g->out_width, t->out_h = g->height, t->out_w = g->width;
    t->pad_top = 2 - g->pad_top, t->pad_left = 2 - g->pad_left;
    p.in_channels = filters, p.out_channels = g->channels;
  } else {
    t->in_h = g->height, t->in_w = g->width, t->out_h = g->out_height, t->out_w = g->out_width;
    t->pad_top = g->pad_top, t->pad_left = g->pad_left;
    p.in_channels = g->channels, p.out_channels = filters;
  }
  t->tiles_h = (t->out_h + tile - 1) / tile;
  t->tiles_w = (t->out_w + tile - 1) / tile;
  p.positions = t->a * t->a;
  p.tiles = (int64_t)(g->batch > 0 ? g->batch : 0) * t->tiles_h * t->tiles_w;
  if (threads < 1) threads = 1;
  int64_t reserved_block = 0;
  if (p.tiles > 0) {
    const int64_t per_tile = (int64_t)sizeof(float) * p.positions * (p.in_channels + p.out_channels);
    int64_t most = DCNN_WINO_BLOCK_BYTES / per_tile / DCNN_WINO_LANES * DCNN_WINO_LANES;
    if (most < DCNN_WINO_MIN_BLOCK) most = DCNN_WINO_MIN_BLOCK;
    int64_t blocks = (p.tiles + most - 1) / most;
    /* A multiple of the lane count (when there are enough tiles), so lanes get equal shares. */
    const int64_t chunks = (p.tiles + DCNN_WINO_LANES - 1) / DCNN_WINO_LANES;
    blocks = (blocks + threads - 1) / threads * threads;
    if (blocks > chunks) blocks = chunks;
    p.block = (int32_t)round_lanes((p.tiles + blocks - 1) / blocks);
    p.blocks = (int32_t)((p.tiles + p.block - 1) / p.block);
    p.lanes = p.blocks < threads ? p.blocks : threads;
    /* One block and several threads (batch 1 at 16x16: 16 tiles): the lanes
     * share the block's transforms and SGEMMs instead of one lane doing all. */
    if (p.blocks == 1 && threads > 1 && pass != DCNN_WINOGRAD_BACKWARD_WEIGHTS &&
        (int64_t)p.positions * p.in_channels * p.out_channels * p.block >= DCNN_WINO_MIN_SPLIT)
      p.split = threads < p.positions ? threads : p.positions;
    /* Scratch is reserved for bounds that never decrease with the batch, so a
     * workspace sized for the largest batch serves every smaller one:
     * block <= min(most, tiles / threads rounded up) and lanes <= min(threads, chunks). */
    const int64_t per_thread = round_lanes((p.tiles + threads - 1) / threads);
    reserved_block = per_thread < most ? per_thread : most;
    p.reserved_lanes = (int32_t)(chunks < threads ? chunks : threads);
  }
  const int64_t kernels = (int64_t)p.positions * p.in_channels * p.out_channels;
  p.v_floats = round16((int64_t)p.positions * p.in_channels * reserved_block);
  p.m_floats = round16((int64_t)p.positions * p.out_channels * reserved_block);
  if (pass == DCNN_WINOGRAD_BACKWARD_WEIGHTS) {
    p.s_floats = round16(kernels);
    p.t_floats = round16((int64_t)reserved_block * p.in_channels);
  } else {
    p.u_floats = round16(kernels);
  }
  p.lane_floats = p.v_floats + p.m_floats + p.s_floats + p.t_floats;
  return p;
}

int64_t dcnn__winograd_workspace_floats(int32_t tile, const dcnn_conv_geometry *g, int32_t filters,
                                        dcnn_winograd_pass pass, int32_t threads) {
  const wino_plan p = make_plan(tile, g, filters, pass, threads);
  return p.u_floats + p.reserved_lanes * p.lane_floats;
}

int32_t dcnn__winograd_busy_lanes(int32_t tile, const dcnn_conv_geometry *g, int32_t filters, dcnn_winograd_pass pass,
                                  int32_t threads) {
  const wino_plan p = make_plan(tile, g, filters, pass, threads);
  return p.split > 1 ? p.split : p.lanes;
}

/* u (P, R, K) = G w G^T for every (r, k); w (F, C, 3, 3), rotated and with F and C
 * swapped for backward-data. */
static void transform_filters(int32_t threads, const wino_plan *p, const float *w, int rotate, float *u) {
  const int32_t rows = p->out_channels, cols = p->in_channels;
  const int64_t row_stride = rotate ? 9 : (int64_t)cols * 9, col_stride = rotate ? (int64_t)rows * 9 : 9;
  const int parallel = threads > 1 && (int64_t)rows * cols * p->positions >= DCNN_WINO_PARALLEL_FILTER;
#pragma omp parallel for num_threads(threads) if (parallel) schedule(static)
  for (int32_t r = 0; r < rows; ++r) dcnn__wino_filter(p->t.m, rows, cols, w, row_stride, col_stride, rotate, r, r + 1, u);
}

/* m (R, columns) = u (R, K) v (K, columns) of one position (leading dimension `block` for v and m). */
static dcnn_status position_product(int32_t rows, int32_t columns, int32_t cols, const float *u, const float *v,
                                    int32_t block, float *m) {
  if (columns <= DCNN_WINO_SMALL_COLUMNS || dcnn__sgemm_small_is_wide()) {
    dcnn__sgemm_small(rows, columns, cols, u, cols, v, block, m, block);
    return DCNN_OK;
  }
  return dcnn__sgemm(1, 0, 0, rows, columns, cols, 1.0f, u, cols, v, block, 0.0f, m, block);
}

/* [lane * n / lanes, (lane + 1) * n / lanes): lane's share of n items. */
static int32_t share(int32_t n, int32_t lane, int32_t lanes) { return (int32_t)((int64_t)n * lane / lanes); }

/* correlate() for a single block (one chunk of tiles, e.g. batch 1 at 16x16)
 * and p->split lanes: the input transform split by channels, the SGEMMs by
 * positions and the output transform by output channels, in lane 0's scratch.
 * Each value is computed as with one lane, so the result is the same. */
static dcnn_status correlate_split(const wino_plan *p, const float *x, float *y, const float *u, float *scratch) {
  const int32_t rows = p->out_channels, cols = p->in_channels, block = p->block, lanes = p->split;
  const int32_t count = (int32_t)p->tiles, columns = (int32_t)round_lanes(count);
  float *v = scratch;           /* (P, K, block) */
  float *m = v + p->v_floats;   /* (P, R, block) */
  int32_t refused = 0; /* positions OpenBLAS had no buffer for */
#pragma omp parallel num_threads(lanes)
  {
#pragma omp for schedule(static, 1)
    for (int32_t lane = 0; lane < lanes; ++lane)
      dcnn__wino_input(&p->t, cols, share(cols, lane, lanes), share(cols, lane + 1, lanes), x, 0, count, v, block);
#pragma omp for schedule(static, 1)
    for (int32_t lane = 0; lane < lanes; ++lane)
      for (int32_t q = share(p->positions, lane, lanes); q < share(p->positions, lane + 1, lanes); ++q)
        if (position_product(rows, columns, cols, u + (int64_t)q * rows * cols, v + (int64_t)q * cols * block, block,
                             m + (int64_t)q * rows * block) != DCNN_OK) {
#pragma omp atomic update
          refused++;
        }
    int32_t failed; /* after the loop's barrier: every lane's SGEMMs are done */
#pragma omp atomic read
    failed = refused;
    if (!failed) {
#pragma omp for schedule(static, 1)
      for (int32_t lane = 0; lane < lanes; ++lane)
        dcnn__wino_output(&p->t, rows, share(rows, lane, lanes), share(rows, lane + 1, lanes), m, block, 0, count,
                          y);
    }
  }
  return refused ? dcnn__blas_unavailable() : DCNN_OK;
}

/* y (N, R, out_h, out_w) = Winograd correlation of x (N, K, in_h, in_w) with the
 * transformed filters u (P, R, K); lane scratch after u. */
static dcnn_status correlate(const wino_plan *p, const float *x, float *y, const float *u, float *lanes_base) {
  const int32_t rows = p->out_channels, cols = p->in_channels, block = p->block;
  int32_t refused = 0; /* blocks OpenBLAS had no buffer for (reported below, on the calling thread) */
  if (p->split > 1) return correlate_split(p, x, y, u, lanes_base);
  /* Lanes are loop iterations, not team members: the blocks of a lane and their
   * order do not depend on the team the runtime grants. */
#pragma omp parallel for num_threads(p->lanes) if (p->lanes > 1) schedule(static, 1) reduction(+ : refused)
  for (int32_t lane = 0; lane < p->lanes; ++lane) {
    float *v = lanes_base + lane * p->lane_floats; /* (P, K, block) */
    float *m = v + p->v_floats;                    /* (P, R, block) */
    for (int32_t b = lane; b < p->blocks; b += p->lanes) {
      const int64_t first = (int64_t)b * block;
      const int32_t count = first + block > p->tiles ? (int32_t)(p->tiles - first) : block;
      const int32_t columns = (int32_t)round_lanes(count);
      dcnn__wino_input(&p->t, cols, 0, cols, x, first, count, v, block);
      int failed = 0;
      for (int32_t q = 0; q < p->positions && !failed; ++q)
        failed = position_product(rows, columns, cols, u + (int64_t)q * rows * cols, v + (int64_t)q * cols * block,
                                  block, m + (int64_t)q * rows * block) != DCNN_OK;
      if (failed) {
        refused++;
        continue;
      }
      dcnn__wino_output(&p->t, rows, 0, rows, m, block, first, count, y);
    }
  }
  return refused ? dcnn__blas_unavailable() : DCNN_OK;
}

dcnn_status dcnn__winograd_forward(int32_t threads, int32_t tile, const dcnn_conv_geometry *g, int32_t filters,
                                   const float *w, const float *x, float *y, float *workspace) {
  const wino_plan p = make_plan(tile, g, filters, DCNN_WINOGRAD_FORWARD, threads);
  if (p.tiles == 0) return DCNN_OK;
  transform_filters(threads, &p, w, 0, workspace);
  return correlate(&p, x, y, workspace, workspace + p.u_floats);
}

int64_t dcnn__winograd_filter_floats(int32_t tile, const dcnn_conv_geometry *g, int32_t filters) {
  return (int64_t)(tile + 2) * (tile + 2) * filters * g->channels;
}

void dcnn__winograd_forward_filters(int32_t threads, int32_t tile, const dcnn_conv_geometry *g, int32_t filters,
                                    const float *w, float *u) {
  const wino_plan p = make_plan(tile, g, filters, DCNN_WINOGRAD_FORWARD, threads);
  transform_filters(threads, &p, w, 0, u);
}

dcnn_status dcnn__winograd_forward_transformed(int32_t threads, int32_t tile, const dcnn_conv_geometry *g,
                                               int32_t filters, const float *u, const float *x, float *y,
                                               float *workspace) {
  const wino_plan p = make_plan(tile, g, filters, DCNN_WINOGRAD_FORWARD, threads);
  if (p.tiles == 0) return DCNN_OK;
  /* The same lane scratch as dcnn__winograd_forward's, after the unused room for U. */
  return correlate(&p, x, y, u, workspace + p.u_floats);
}

dcnn_status dcnn__winograd_backward_data(int32_t threads, int32_t tile, const dcnn_conv_geometry *g, int32_t filters,
                                         const float *w, const float *dy, float *dx, float *workspace) {
  const wino_plan p = make_plan(tile, g, filters, DCNN_WINOGRAD_BACKWARD_DATA, threads);
  if (p.tiles == 0) return DCNN_OK;
  transform_filters(threads, &p, w, 1, workspace);
  return correlate(&p, dy, dx, workspace, workspace + p.u_floats);
}

dcnn_status dcnn__winograd_backward_weights(int32_t threads, int32_t tile, const dcnn_conv_geometry *g,
                                            int32_t filters, const float *x, const float *dy, float *dw,
                                            float *workspace) {
  const wino_plan p = make_plan(tile, g, filters, DCNN_WINOGRAD_BACKWARD_WEIGHTS, threads);
  const int32_t rows = filters, cols = g->channels, block = p.block;
  if (p.tiles == 0) {
    memset(dw, 0, (size_t)rows * cols * 9 * sizeof(float));
    return DCNN_OK;
  }
  int32_t refused = 0; /* as in correlate */
#pragma omp parallel for num_threads(p.lanes) if (p.lanes > 1) schedule(static, 1) reduction(+ : refused)
  for (int32_t lane = 0; lane < p.lanes; ++lane) {
    float *v = workspace + lane * p.lane_floats; /* (P, C, block) */
    float *q = v + p.v_floats;                   /* (P, F, block) */
    float *s = q + p.m_floats;                   /* (P, F, C), this lane's sum over its blocks */
    for (int32_t b = lane; b < p.blocks; b += p.lanes) {
      const int64_t first = (int64_t)b * block;
      const int32_t count = first + block > p.tiles ? (int32_t)(p.tiles - first) : block;
      const int32_t columns = (int32_t)round_lanes(count);
      dcnn__wino_input(&p.t, cols, 0, cols, x, first, count, v, block);
      dcnn__wino_gradient(&p.t, rows, dy, first, count, q, block);
      int failed = 0;
      for (int32_t k = 0; k < p.positions && !failed; ++k) {
        /* s[k] (F, C) (+)= q[k] (F, columns) v[k] (C, columns)^T */
        if (dcnn__sgemm_small_nt(rows, cols, columns, q + (int64_t)k * rows * block, block,
                                 v + (int64_t)k * cols * block, block, b != lane, s + (int64_t)k * rows * cols, cols,
                                 s + p.s_floats))
          continue;
        failed = dcnn__sgemm(1, 0, 1, rows, cols, columns, 1.0f, q + (int64_t)k * rows * block, block,
                             v + (int64_t)k * cols * block, block, b == lane ? 0.0f : 1.0f,
                             s + (int64_t)k * rows * cols, cols) != DCNN_OK;
      }
      refused += failed;
    }
  }
  if (refused) return dcnn__blas_unavailable();
  const float *s0 = workspace + p.v_floats + p.m_floats;
  const int parallel = threads > 1 && (int64_t)rows * cols * p.positions * p.lanes >= DCNN_WINO_PARALLEL_FILTER;
#pragma omp parallel for num_threads(threads) if (parallel) schedule(static)
  for (int32_t r = 0; r < rows; ++r) dcnn__wino_filter_gradient(tile, rows, cols, s0, p.lanes, p.lane_floats, r, r + 1, dw);
  return DCNN_OK;
}
