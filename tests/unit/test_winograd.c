/* Winograd F(2x2,3x3) and F(4x4,3x3) kernels against a direct convolution in
 * double precision, for the three passes, on odd sizes, 'same' and 'valid' and
 * uneven padding, with 1 and 2 threads; results repeat bit for bit and do not
 * depend on the team the OpenMP runtime grants. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "kernels/small_gemm.h"
#include "kernels/winograd.h"
#include "kernels/winograd_transform.h"
#include "test_support.h"

/* Canary floats after the workspace: the kernels must stay inside the size they ask for. */
#define CANARY 64
#define CANARY_VALUE -12345.5f

typedef struct conv_case {
  int32_t n, c, f, h, w, pad_top, pad_left, out_h, out_w;
} conv_case;

static dcnn_conv_geometry geometry(const conv_case *k) {
  dcnn_conv_geometry g = {k->n, k->c, k->h, k->w, 3, 1, k->pad_top, k->pad_left, k->out_h, k->out_w};
  return g;
}

static float *random_floats(int64_t count, uint32_t seed) {
  float *p = malloc((size_t)count * sizeof(float));
  assert_non_null(p);
  uint32_t s = seed * 2654435761u + 1u;
  for (int64_t i = 0; i < count; ++i) {
    s = s * 1664525u + 1013904223u;
    p[i] = (float)((s >> 8) * (1.0 / 16777216.0) * 2.0 - 1.0);
  }
  return p;
}

/* Input pixel (iy, ix) read by output (oh, ow) at tap (ki, kj), or -1 outside the input. */
static int64_t input_index(const dcnn_conv_geometry *g, int32_t n, int32_t c, int32_t oh, int32_t ow, int32_t ki,
                           int32_t kj) {
  const int32_t iy = oh - g->pad_top + ki, ix = ow - g->pad_left + kj;
  if (iy < 0 || iy >= g->height || ix < 0 || ix >= g->width) return -1;
  return (((int64_t)n * g->channels + c) * g->height + iy) * g->width + ix;
}

/* Direct convolution in double: out = forward y, backward-data dx or backward-weights dw. */
static double *reference(dcnn_winograd_pass pass, const dcnn_conv_geometry *g, int32_t f_n, const float *w,
                         const float *x, const float *dy) {
  const int64_t sizes[3] = {(int64_t)g->batch * f_n * g->out_height * g->out_width,
                            (int64_t)g->batch * g->channels * g->height * g->width, (int64_t)f_n * g->channels * 9};
  double *out = calloc((size_t)sizes[pass], sizeof(double));
  assert_non_null(out);
  for (int32_t n = 0; n < g->batch; ++n)
    for (int32_t f = 0; f < f_n; ++f)
      for (int32_t oh = 0; oh < g->out_height; ++oh)
        for (int32_t ow = 0; ow < g->out_width; ++ow) {
          const int64_t o = (((int64_t)n * f_n + f) * g->out_height + oh) * g->out_width + ow;
          for (int32_t c = 0; c < g->channels; ++c)
            for (int32_t k = 0; k < 9; ++k) {
              const int64_t i = input_index(g, n, c, oh, ow, k / 3, k % 3);
              if (i < 0) continue;
              const int64_t wi = ((int64_t)f * g->channels + c) * 9 + k;
              if (pass == DCNN_WINOGRAD_FORWARD) out[o] += (double)w[wi] * x[i];
              else if (pass == DCNN_WINOGRAD_BACKWARD_DATA) out[i] += (double)w[wi] * dy[o];
              else out[wi] += (double)dy[o] * x[i];
            }
        }
  return out;
}

/* Runs one pass with an exactly sized workspace followed by canaries; returns the output (malloc'd). */
static float *run(dcnn_winograd_pass pass, int32_t tile, int32_t threads, const dcnn_conv_geometry *g, int32_t f_n,
                  const float *w, const float *x, const float *dy, int64_t *count) {
  const int64_t sizes[3] = {(int64_t)g->batch * f_n * g->out_height * g->out_width,
                            (int64_t)g->batch * g->channels * g->height * g->width, (int64_t)f_n * g->channels * 9};
  *count = sizes[pass];
  const int64_t need = dcnn__winograd_workspace_floats(tile, g, f_n, pass, threads);
  assert_true(need >= 0);
  float *ws = aligned_alloc(64, (size_t)((need + CANARY + 15) / 16 * 16) * sizeof(float));
  float *out = malloc((size_t)(*count > 0 ? *count : 1) * sizeof(float));
  assert_non_null(ws);
  assert_non_null(out);
  for (int64_t i = 0; i < need + CANARY; ++i) ws[i] = CANARY_VALUE;
  for (int64_t i = 0; i < *count; ++i) out[i] = NAN; /* every output must be written */
  if (pass == DCNN_WINOGRAD_FORWARD) assert_ok(dcnn__winograd_forward(threads, tile, g, f_n, w, x, out, ws));
  else if (pass == DCNN_WINOGRAD_BACKWARD_DATA)
    assert_ok(dcnn__winograd_backward_data(threads, tile, g, f_n, w, dy, out, ws));
  else assert_ok(dcnn__winograd_backward_weights(threads, tile, g, f_n, x, dy, out, ws));
  for (int64_t i = need; i < need + CANARY; ++i) assert_true(ws[i] == CANARY_VALUE);
  free(ws);
  return out;
}

/* max |got - ref| <= tol * max |ref| (and every value finite). */
static void assert_close(const float *got, const double *ref, int64_t count, double tol, const char *what) {
  double err = 0.0, scale = 0.0;
  for (int64_t i = 0; i < count; ++i) {
    if (!isfinite(got[i])) fail_msg("%s: element %lld is %f", what, (long long)i, (double)got[i]);
    const double e = fabs(got[i] - ref[i]);
    if (e > err) err = e;
    if (fabs(ref[i]) > scale) scale = fabs(ref[i]);
  }
  if (err > tol * scale) fail_msg("%s: max error %.3g, max |reference| %.3g", what, err, scale);
}

static void check_case(const conv_case *k, const int32_t *threads_list, int thread_counts) {
  const dcnn_conv_geometry g = geometry(k);
  assert_true(dcnn__winograd_applies(2, &g) && dcnn__winograd_applies(4, &g));
  float *w = random_floats((int64_t)k->f * k->c * 9, 1);
  float *x = random_floats((int64_t)k->n * k->c * k->h * k->w, 2);
  float *dy = random_floats((int64_t)k->n * k->f * k->out_h * k->out_w, 3);
  for (int pass = 0; pass < 3; ++pass) {
    double *ref = reference((dcnn_winograd_pass)pass, &g, k->f, w, x, dy);
    for (int32_t tile = 2; tile <= 4; tile += 2)
      for (int t = 0; t < thread_counts; ++t) {
        int64_t count = 0;
        float *got = run((dcnn_winograd_pass)pass, tile, threads_list[t], &g, k->f, w, x, dy, &count);
        char what[160];
        snprintf(what, sizeof what, "pass %d tile %d threads %d (N %d C %d F %d %dx%d pad %d,%d out %dx%d)", pass,
                 (int)tile, (int)threads_list[t], (int)k->n, (int)k->c, (int)k->f, (int)k->h, (int)k->w,
                 (int)k->pad_top, (int)k->pad_left, (int)k->out_h, (int)k->out_w);
        /* F(4x4) multiplies by up to 8 x 5 in its transforms: a looser bound. */
        assert_close(got, ref, count, tile == 2 ? 2e-6 : 2e-5, what);
        free(got);
      }
    free(ref);
  }
  free(w);
  free(x);
  free(dy);
}

static const int32_t one_and_two[] = {1, 2};

static void test_same_padding(void **state) {
  (void)state;
  const conv_case cases[] = {
      {3, 3, 5, 7, 5, 1, 1, 7, 5}, {2, 4, 3, 1, 1, 1, 1, 1, 1}, {1, 2, 3, 2, 9, 1, 1, 2, 9},
      {2, 17, 18, 6, 6, 1, 1, 6, 6}, {1, 1, 1, 4, 8, 1, 1, 4, 8},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) check_case(&cases[i], one_and_two, 2);
}

static void test_valid_padding(void **state) {
  (void)state;
  const conv_case cases[] = {
      {3, 3, 5, 7, 5, 0, 0, 5, 3}, {2, 2, 3, 3, 3, 0, 0, 1, 1}, {1, 3, 2, 3, 9, 0, 0, 1, 7},
      {2, 5, 4, 10, 11, 0, 0, 8, 9},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) check_case(&cases[i], one_and_two, 2);
}

/* Padding other than Keras' 'same' and 'valid': uneven, large, and the output
 * not reaching the bottom of the input. */
static void test_other_padding(void **state) {
  (void)state;
  const conv_case cases[] = {
      {2, 3, 4, 5, 7, 2, 0, 7, 5}, /* pad 2 on top and bottom, none left or right */
      {1, 2, 3, 6, 5, 1, 0, 5, 4}, /* pad 1 on top only: the last row and column are cut */
      {2, 3, 2, 4, 4, 3, 2, 8, 6}, /* more padding than the kernel reaches: zero rows */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) check_case(&cases[i], one_and_two, 2);
}

/* Paper CNN's 16x16 layer at a small batch: several blocks per lane, so the
 * backward-weights sums cross blocks and lanes. */
static void test_many_blocks(void **state) {
  (void)state;
  const conv_case k = {32, 32, 24, 16, 16, 1, 1, 16, 16};
  const int32_t two[] = {2};
  check_case(&k, two, 1);
}

/* Both kernels of the position products (dcnn__sgemm_small_force_wide: the
 * AVX2 or portable one with OpenBLAS for wide blocks, and the AVX-512 one for
 * every block where the CPU has it) give the reference's accuracy, including
 * backward-weights' transposed products where the channels are a multiple of
 * 16 (the AVX-512 path) and where they are not (OpenBLAS). */
static void test_product_kernels(void **state) {
  (void)state;
  const conv_case cases[] = {
      {32, 32, 24, 16, 16, 1, 1, 16, 16}, /* several blocks per lane */
      {4, 16, 16, 9, 9, 1, 1, 9, 9},      /* channels and filters multiples of 16 */
      {3, 17, 18, 6, 6, 1, 1, 6, 6},      /* neither */
      {2, 48, 40, 12, 12, 1, 1, 12, 12},  /* 48 channels, 40 filters */
  };
  const int32_t two[] = {2};
  for (int wide = 0; wide <= 1; ++wide) {
    if (dcnn__sgemm_small_force_wide(wide) != wide) continue; /* no AVX-512 here */
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) check_case(&cases[i], i == 0 ? two : one_and_two, i == 0 ? 1 : 2);
  }
  dcnn__sgemm_small_force_wide(-1);
}

/* Repeated runs are bit-identical, and so are runs inside a caller's parallel
 * region (a team of one for the kernel's own regions). */
static void test_deterministic(void **state) {
  (void)state;
  const conv_case k = {7, 9, 11, 13, 15, 1, 1, 13, 15};
  const dcnn_conv_geometry g = geometry(&k);
  float *w = random_floats((int64_t)k.f * k.c * 9, 4);
  float *x = random_floats((int64_t)k.n * k.c * k.h * k.w, 5);
  float *dy = random_floats((int64_t)k.n * k.f * k.out_h * k.out_w, 6);
  const int saved_levels = omp_get_max_active_levels();
  for (int pass = 0; pass < 3; ++pass)
    for (int32_t tile = 2; tile <= 4; tile += 2)
      for (int32_t threads = 1; threads <= 2; ++threads) {
        int64_t count = 0, again = 0, nested = 0;
        float *first = run((dcnn_winograd_pass)pass, tile, threads, &g, k.f, w, x, dy, &count);
        float *second = run((dcnn_winograd_pass)pass, tile, threads, &g, k.f, w, x, dy, &again);
        float *inner = NULL;
        omp_set_max_active_levels(1);
#pragma omp parallel num_threads(2)
        {
#pragma omp single
          inner = run((dcnn_winograd_pass)pass, tile, threads, &g, k.f, w, x, dy, &nested);
        }
        omp_set_max_active_levels(saved_levels);
        assert_int_equal(count, again);
        assert_int_equal(count, nested);
        assert_memory_equal(first, second, (size_t)count * sizeof(float));
        assert_memory_equal(first, inner, (size_t)count * sizeof(float));
        free(first);
        free(second);
        free(inner);
      }
  free(w);
  free(x);
  free(dy);
}

/* A workspace sized for the largest batch serves every smaller one: the need
 * never decreases with the batch (whatever the tile, pass and thread count). */
static void test_workspace_monotonic(void **state) {
  (void)state;
  const conv_case shapes[] = {{1, 32, 32, 32, 32, 1, 1, 32, 32}, {1, 64, 64, 16, 16, 1, 1, 16, 16},
                              {1, 512, 512, 2, 2, 1, 1, 2, 2}, {1, 3, 5, 7, 5, 0, 0, 5, 3}};
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; ++i)
    for (int32_t tile = 2; tile <= 4; tile += 2)
      for (int pass = 0; pass < 3; ++pass)
        for (int32_t threads = 1; threads <= 4; ++threads) {
          dcnn_conv_geometry g = geometry(&shapes[i]);
          int64_t previous = 0;
          for (int32_t batch = 1; batch <= 300; ++batch) {
            g.batch = batch;
            const int64_t need = dcnn__winograd_workspace_floats(tile, &g, shapes[i].f, (dcnn_winograd_pass)pass, threads);
            if (need < previous)
              fail_msg("shape %d tile %d pass %d threads %d: batch %d needs %lld floats, batch %d needed %lld", (int)i,
                       (int)tile, pass, (int)threads, (int)batch, (long long)need, (int)batch - 1, (long long)previous);
            previous = need;
          }
        }
}

/* Every patch gather the machine supports (portable, AVX2, AVX-512: forced in
 * turn) gives the reference's accuracy and the portable version's bits, on
 * sizes where every tile is an edge tile (5x5, 6x6, 1xN, Nx1), some are
 * interior (9x9, 13x11), chunks of 16 tiles span several images, padding
 * puts whole patch rows outside the plane, and planes 16 or 32 wide take the
 * AVX-512 whole-row path of F(4x4)'s input transform. */
static void test_gather_versions(void **state) {
  (void)state;
  const conv_case cases[] = {
      {3, 5, 6, 5, 5, 1, 1, 5, 5},    {2, 4, 3, 6, 6, 1, 1, 6, 6},     {2, 3, 5, 9, 9, 1, 1, 9, 9},
      {5, 2, 3, 1, 13, 1, 1, 1, 13},  {3, 3, 2, 17, 1, 1, 1, 17, 1},   {2, 6, 4, 13, 11, 0, 0, 11, 9},
      {2, 3, 4, 7, 9, 3, 2, 11, 11},  {9, 17, 5, 9, 7, 1, 1, 9, 7},
      /* whole tile rows (input_rows_avx512): 16 and 32 wide, 4-wide tiles, one column of padding */
      {3, 3, 4, 16, 16, 1, 1, 16, 16}, {2, 2, 3, 32, 32, 1, 1, 32, 32}, {2, 3, 2, 14, 16, 2, 1, 16, 16},
      {1, 2, 2, 30, 32, 0, 1, 28, 32},
  };
  const int32_t one_and_two_threads[] = {1, 2};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
    const conv_case *k = &cases[i];
    const dcnn_conv_geometry g = geometry(k);
    float *w = random_floats((int64_t)k->f * k->c * 9, 7);
    float *x = random_floats((int64_t)k->n * k->c * k->h * k->w, 8);
    float *dy = random_floats((int64_t)k->n * k->f * k->out_h * k->out_w, 9);
    for (int pass = 0; pass < 3; ++pass)
      for (int32_t tile = 2; tile <= 4; tile += 2)
        for (int32_t threads = 1; threads <= 2; ++threads) {
          assert_int_equal(dcnn__wino_force_isa(0), 0);
          int64_t count = 0, again = 0;
          float *portable = run((dcnn_winograd_pass)pass, tile, threads, &g, k->f, w, x, dy, &count);
          for (int isa = 1; isa <= 2; ++isa) {
            if (dcnn__wino_force_isa(isa) != isa) continue; /* not on this CPU */
            float *got = run((dcnn_winograd_pass)pass, tile, threads, &g, k->f, w, x, dy, &again);
            assert_int_equal(count, again);
            if (memcmp(portable, got, (size_t)count * sizeof(float)) != 0)
              fail_msg("case %d pass %d tile %d threads %d: gather %d differs from the portable one", (int)i, pass,
                       (int)tile, (int)threads, isa);
            free(got);
          }
          free(portable);
        }
    for (int isa = 0; isa <= 2; ++isa)
      if (dcnn__wino_force_isa(isa) == isa) check_case(k, one_and_two_threads, 2);
    free(w);
    free(x);
    free(dy);
  }
  dcnn__wino_force_isa(-1);
}

/* One block of tiles (batch 1 with at most 16 tiles) is shared by both
 * threads when its SGEMMs are big enough (channels split for the transforms,
 * positions for the SGEMMs), with the same accuracy and the same bits as one
 * thread; backward-weights and small layers keep one lane. */
static void test_single_block_split(void **state) {
  (void)state;
  const conv_case k = {1, 64, 72, 7, 7, 1, 1, 7, 7}; /* 4 tiles of 4x4, 16 of 2x2 */
  const dcnn_conv_geometry g = geometry(&k);
  const conv_case paper = {1, 64, 64, 16, 16, 1, 1, 16, 16}, small = {1, 8, 8, 16, 16, 1, 1, 16, 16};
  const dcnn_conv_geometry gp = geometry(&paper), gs = geometry(&small);
  for (int32_t tile = 2; tile <= 4; tile += 2) {
    assert_int_equal(dcnn__winograd_busy_lanes(tile, &g, k.f, DCNN_WINOGRAD_FORWARD, 2), 2);
    assert_int_equal(dcnn__winograd_busy_lanes(tile, &g, k.f, DCNN_WINOGRAD_BACKWARD_DATA, 2), 2);
    assert_int_equal(dcnn__winograd_busy_lanes(tile, &g, k.f, DCNN_WINOGRAD_BACKWARD_WEIGHTS, 2), 1);
  }
  assert_int_equal(dcnn__winograd_busy_lanes(4, &gs, small.f, DCNN_WINOGRAD_FORWARD, 2), 1); /* 16 tiles, too small */
  assert_int_equal(dcnn__winograd_busy_lanes(4, &gp, paper.f, DCNN_WINOGRAD_FORWARD, 2), 2);
  assert_int_equal(dcnn__winograd_busy_lanes(4, &gp, paper.f, DCNN_WINOGRAD_FORWARD, 3), 3);
  const int32_t counts[] = {1, 2, 3};
  check_case(&k, counts, 3);
  float *w = random_floats((int64_t)k.f * k.c * 9, 10);
  float *x = random_floats((int64_t)k.n * k.c * k.h * k.w, 11);
  float *dy = random_floats((int64_t)k.n * k.f * k.out_h * k.out_w, 12);
  for (int pass = 0; pass < 2; ++pass)
    for (int32_t tile = 2; tile <= 4; tile += 2) {
      int64_t count = 0, again = 0;
      float *one = run((dcnn_winograd_pass)pass, tile, 1, &g, k.f, w, x, dy, &count);
      float *two = run((dcnn_winograd_pass)pass, tile, 2, &g, k.f, w, x, dy, &again);
      assert_int_equal(count, again);
      assert_memory_equal(one, two, (size_t)count * sizeof(float));
      free(one);
      free(two);
    }
  free(w);
  free(x);
  free(dy);
}

/* Forward from filters transformed once (what an inference session keeps)
 * gives forward's bits, for both tiles, 1 and 2 threads, one block and many. */
static void test_forward_transformed(void **state) {
  (void)state;
  const conv_case cases[] = {{1, 64, 72, 7, 7, 1, 1, 7, 7}, {5, 9, 11, 13, 15, 1, 1, 13, 15}};
  for (int c = 0; c < 2; ++c) {
    const conv_case *k = &cases[c];
    const dcnn_conv_geometry g = geometry(k);
    float *w = random_floats((int64_t)k->f * k->c * 9, 20 + (uint32_t)c);
    float *x = random_floats((int64_t)k->n * k->c * k->h * k->w, 30 + (uint32_t)c);
    const int64_t out = (int64_t)k->n * k->f * k->out_h * k->out_w;
    for (int32_t tile = 2; tile <= 4; tile += 2)
      for (int32_t threads = 1; threads <= 2; ++threads) {
        const int64_t ws = dcnn__winograd_workspace_floats(tile, &g, k->f, DCNN_WINOGRAD_FORWARD, threads);
        const int64_t uf = dcnn__winograd_filter_floats(tile, &g, k->f);
        assert_int_equal(uf, (int64_t)(tile + 2) * (tile + 2) * k->f * k->c);
        float *work = calloc((size_t)ws, sizeof(float)), *u = calloc((size_t)uf, sizeof(float));
        float *y = calloc((size_t)out, sizeof(float)), *y2 = calloc((size_t)out, sizeof(float));
        assert_non_null(work);
        assert_non_null(u);
        assert_non_null(y);
        assert_non_null(y2);
        assert_int_equal(dcnn__winograd_forward(threads, tile, &g, k->f, w, x, y, work), DCNN_OK);
        dcnn__winograd_forward_filters(threads, tile, &g, k->f, w, u);
        memset(work, 0xff, (size_t)ws * sizeof(float)); /* NaNs: nothing may be read from before */
        assert_int_equal(dcnn__winograd_forward_transformed(threads, tile, &g, k->f, u, x, y2, work), DCNN_OK);
        assert_memory_equal(y, y2, (size_t)out * sizeof(float));
        free(work);
        free(u);
        free(y);
        free(y2);
      }
    free(w);
    free(x);
  }
}

static void test_applies(void **state) {
  (void)state;
  dcnn_conv_geometry g = {1, 3, 8, 8, 3, 1, 1, 1, 8, 8};
  assert_true(dcnn__winograd_applies(2, &g));
  assert_true(dcnn__winograd_applies(4, &g));
  assert_false(dcnn__winograd_applies(3, &g));
  g.stride = 2;
  assert_false(dcnn__winograd_applies(4, &g));
  g.stride = 1;
  g.kernel = 5;
  assert_false(dcnn__winograd_applies(2, &g));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_applies),        cmocka_unit_test(test_same_padding),
      cmocka_unit_test(test_valid_padding),  cmocka_unit_test(test_other_padding),
      cmocka_unit_test(test_many_blocks),    cmocka_unit_test(test_product_kernels),
      cmocka_unit_test(test_deterministic),
      cmocka_unit_test(test_workspace_monotonic), cmocka_unit_test(test_gather_versions),
      cmocka_unit_test(test_single_block_split), cmocka_unit_test(test_forward_transformed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
