/* The vectorised depthwise convolution (kernels/depthwise.c) against the
 * naive loops it replaced (kept here as the reference), against finite
 * differences on odd sizes, and for bit-identical results across thread
 * counts 1 and 2 and repeated runs. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "digitcnn/random.h"
#include "kernels/kernels.h"
#include "layers/depthwise_conv2d.h"
#include "layers/layer_internal.h"
#include "test_support.h"

typedef struct dw_case {
  int32_t kernel, stride;
  dcnn_padding padding;
  int bias;
  int32_t n, c, h, w;
} dw_case;

static const dw_case cases[] = {
    {3, 1, DCNN_PADDING_SAME, 0, 3, 5, 7, 5},  {3, 2, DCNN_PADDING_SAME, 1, 3, 5, 7, 5},
    {3, 1, DCNN_PADDING_VALID, 1, 3, 5, 7, 5}, {3, 2, DCNN_PADDING_VALID, 0, 3, 5, 7, 5},
    {3, 2, DCNN_PADDING_SAME, 0, 2, 3, 8, 8},  {5, 2, DCNN_PADDING_SAME, 1, 2, 3, 9, 6},
    {2, 3, DCNN_PADDING_VALID, 1, 2, 3, 8, 7}, {3, 1, DCNN_PADDING_SAME, 0, 2, 4, 1, 1},
    {3, 1, DCNN_PADDING_SAME, 1, 2, 4, 2, 3},  {1, 1, DCNN_PADDING_VALID, 1, 2, 3, 3, 4},
    {3, 1, DCNN_PADDING_SAME, 0, 2, 3, 16, 16}, {3, 2, DCNN_PADDING_SAME, 1, 5, 131, 3, 2},
    {3, 2, DCNN_PADDING_SAME_LOWER, 1, 2, 3, 8, 6}, {2, 1, DCNN_PADDING_SAME_LOWER, 0, 2, 3, 5, 4},
};

/* Each test runs every case on both paths, forced. */
static const dcnn__dw_path paths[] = {DCNN__DW_PLANES, DCNN__DW_CHANNELS_LAST};
#define PATHS (sizeof paths / sizeof paths[0])

/* The old implementation: direct loops with bounds tests. */
typedef struct geometry {
  int32_t k, s, pt, pl, h, w, oh, ow;
} geometry;

static geometry geometry_of(const dw_case *t) {
  geometry g = {t->kernel, t->stride, 0, 0, t->h, t->w, 0, 0};
  assert_true(dcnn__window_extent(t->h, t->kernel, t->stride, (int)t->padding, &g.oh, &g.pt));
  assert_true(dcnn__window_extent(t->w, t->kernel, t->stride, (int)t->padding, &g.ow, &g.pl));
  return g;
}

static void reference_forward(const geometry *g, int32_t planes, int32_t c_n, const float *x, const float *wt,
                              const float *bias, float *y) {
  for (int32_t q = 0; q < planes; ++q) {
    const int32_t c = q % c_n;
    const float *src = x + (int64_t)q * g->h * g->w, *w = wt + c * g->k * g->k;
    for (int32_t oh = 0; oh < g->oh; ++oh)
      for (int32_t ow = 0; ow < g->ow; ++ow) {
        float sum = bias ? bias[c] : 0.0f;
        for (int32_t ki = 0; ki < g->k; ++ki)
          for (int32_t kj = 0; kj < g->k; ++kj) {
            int32_t iy = oh * g->s - g->pt + ki, ix = ow * g->s - g->pl + kj;
            if (iy >= 0 && iy < g->h && ix >= 0 && ix < g->w) sum += w[ki * g->k + kj] * src[iy * g->w + ix];
          }
        y[(int64_t)q * g->oh * g->ow + oh * g->ow + ow] = sum;
      }
  }
}

static void reference_backward(const geometry *g, int32_t n, int32_t c_n, const float *x, const float *wt,
                               const float *dy, float *dx, float *dw, float *db) {
  const int64_t in_plane = (int64_t)g->h * g->w, out_plane = (int64_t)g->oh * g->ow;
  memset(dx, 0, (size_t)(n * c_n * in_plane) * sizeof(float));
  memset(dw, 0, (size_t)(c_n * g->k * g->k) * sizeof(float));
  memset(db, 0, (size_t)c_n * sizeof(float));
  for (int32_t i = 0; i < n; ++i)
    for (int32_t c = 0; c < c_n; ++c) {
      const int64_t q = (int64_t)i * c_n + c;
      for (int32_t oh = 0; oh < g->oh; ++oh)
        for (int32_t ow = 0; ow < g->ow; ++ow) {
          const float go = dy[q * out_plane + oh * g->ow + ow];
          db[c] += go;
          for (int32_t ki = 0; ki < g->k; ++ki)
            for (int32_t kj = 0; kj < g->k; ++kj) {
              int32_t iy = oh * g->s - g->pt + ki, ix = ow * g->s - g->pl + kj;
              if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w) continue;
              dw[c * g->k * g->k + ki * g->k + kj] += go * x[q * in_plane + iy * g->w + ix];
              dx[q * in_plane + iy * g->w + ix] += go * wt[c * g->k * g->k + ki * g->k + kj];
            }
        }
    }
}

/* One forward and backward of a built layer with `threads` threads. */
typedef struct run {
  dcnn_tensor *x, *y, *dy, *dx;
} run;

static void run_layer(dcnn_layer *l, dcnn_context *ctx, int32_t threads, run *r) {
  const int32_t batch = r->x->shape.dims[0];
  dcnn_exec exec = {.ctx = ctx, .training = 1, .threads = threads, .seed = 5, .backward = 1};
  exec.workspace_size = dcnn__layer_workspace(l, batch, threads, 0);
  exec.workspace = dcnn__alloc(ctx, (size_t)exec.workspace_size);
  assert_non_null(exec.workspace);
  memset(exec.workspace, 0xff, (size_t)exec.workspace_size); /* NaN garbage: the kernels must not read it */
  assert_ok(l->vt->forward(l->self, &exec, r->x, r->y));
  assert_ok(l->vt->backward(l->self, &exec, r->x, r->y, r->dy, r->dx));
  dcnn__release(ctx, exec.workspace);
  /* The inference sizing serves a forward alone. */
  exec.workspace_size = dcnn__layer_workspace(l, batch, threads, 1);
  exec.workspace = dcnn__alloc(ctx, (size_t)exec.workspace_size);
  exec.backward = 0;
  assert_ok(l->vt->forward(l->self, &exec, r->x, r->y));
  dcnn__release(ctx, exec.workspace);
}

static dcnn_layer *make_layer(dcnn_context *ctx, const dw_case *t, dcnn__dw_path path, run *r) {
  dcnn_layer *l = NULL;
  assert_ok(dcnn_depthwise_conv2d_create(t->kernel, t->stride, t->padding, t->bias ? DCNN_WITH_BIAS : DCNN_NO_BIAS,
                                         &l));
  assert_ok(dcnn__depthwise_force_path(l, path));
  dcnn_shape in = dcnn_shape_make(4, t->n, t->c, t->h, t->w);
  assert_ok(dcnn_layer_build(l, ctx, &in));
  assert_ok(dcnn__layer_plan(l, t->n));
  assert_ok(l->vt->init_params(l->self, 17));
  dcnn_param p = DCNN_STRUCT_INIT(dcnn_param);
  if (t->bias) {
    assert_ok(dcnn_layer_param(l, 1, &p));
    assert_ok(dcnn_tensor_fill_random(p.value, DCNN_DIST_NORMAL, 0.0f, 1.0f, 18, 0));
  }
  dcnn_shape out = dcnn__with_batch(&l->output, t->n);
  assert_ok(dcnn_tensor_create(ctx, &in, &r->x));
  assert_ok(dcnn_tensor_create(ctx, &in, &r->dx));
  assert_ok(dcnn_tensor_create(ctx, &out, &r->y));
  assert_ok(dcnn_tensor_create(ctx, &out, &r->dy));
  assert_ok(dcnn_tensor_fill_random(r->x, DCNN_DIST_NORMAL, 0.0f, 1.0f, 19, 0));
  assert_ok(dcnn_tensor_fill_random(r->dy, DCNN_DIST_NORMAL, 0.0f, 1.0f, 20, 0));
  return l;
}

static void free_run(run *r) {
  dcnn_tensor_destroy(r->x);
  dcnn_tensor_destroy(r->y);
  dcnn_tensor_destroy(r->dy);
  dcnn_tensor_destroy(r->dx);
}

/* Within `tol` relative: 1e-5 for sums of at most k*k terms, more for the
 * weight gradients' sums over whole planes, which the paths add in other orders. */
static void assert_close(const float *got, const float *want, int64_t count, const char *what, size_t which, float tol) {
  for (int64_t i = 0; i < count; ++i)
    if (!(fabsf(got[i] - want[i]) <= tol * (1.0f + fabsf(want[i]))))
      fail_msg("case %zu (path %d) %s[%lld]: %.9g, the reference gives %.9g", which % 100, (int)(which / 100), what,
               (long long)i, (double)got[i], (double)want[i]);
}

static void matches_reference(void **state) {
  (void)state;
  dcnn_context *ctx = test_context(2);
  for (size_t k = 0; k < PATHS * (sizeof cases / sizeof cases[0]); ++k) {
    const size_t i = k % (sizeof cases / sizeof cases[0]);
    const dw_case *t = &cases[i];
    const size_t which = 100 * paths[k / (sizeof cases / sizeof cases[0])] + i;
    run r;
    dcnn_layer *l = make_layer(ctx, t, paths[k / (sizeof cases / sizeof cases[0])], &r);
    run_layer(l, ctx, 2, &r);
    const geometry g = geometry_of(t);
    dcnn_param wp = DCNN_STRUCT_INIT(dcnn_param), bp = DCNN_STRUCT_INIT(dcnn_param);
    assert_ok(dcnn_layer_param(l, 0, &wp));
    if (t->bias) assert_ok(dcnn_layer_param(l, 1, &bp));
    static float y[4096], dx[4096], dw[2048], db[256];
    assert_true(r.y->count <= 4096 && r.x->count <= 4096 && wp.value->count <= 2048 && t->c <= 256);
    reference_forward(&g, t->n * t->c, t->c, r.x->data, wp.value->data, t->bias ? bp.value->data : NULL, y);
    assert_close(r.y->data, y, r.y->count, "y", which, 1e-5f);
    reference_backward(&g, t->n, t->c, r.x->data, wp.value->data, r.dy->data, dx, dw, db);
    assert_close(r.dx->data, dx, r.dx->count, "dx", which, 1e-5f);
    assert_close(wp.grad->data, dw, wp.grad->count, "dw", which, 1e-4f);
    if (t->bias) assert_close(bp.grad->data, db, t->c, "db", which, 1e-4f);
    free_run(&r);
    dcnn_layer_destroy(l);
  }
  assert_int_equal(dcnn_context_live_allocations(ctx), 0);
  dcnn_context_destroy(ctx);
}

static void finite_differences(void **state) {
  (void)state;
  for (size_t k = 0; k < PATHS * (sizeof cases / sizeof cases[0]); ++k) {
    const size_t i = k % (sizeof cases / sizeof cases[0]);
    const dw_case *t = &cases[i];
    if (t->h * t->w > 100) continue; /* the large case is for speed paths only */
    dcnn_context *ctx = test_context(2);
    dcnn_layer *l = NULL;
    assert_ok(dcnn_depthwise_conv2d_create(t->kernel, t->stride, t->padding, t->bias ? DCNN_WITH_BIAS : DCNN_NO_BIAS,
                                           &l));
    assert_ok(dcnn__depthwise_force_path(l, paths[k / (sizeof cases / sizeof cases[0])]));
    dcnn_shape in = dcnn_shape_make(4, t->n, t->c, t->h, t->w);
    double error = -1;
    assert_ok(dcnn_layer_check_gradients(l, ctx, &in, 900 + i, &error));
    if (!(error >= 0 && error < 2e-2))
      fail_msg("case %zu (path %d): max relative gradient error %g", i, (int)paths[k / (sizeof cases / sizeof cases[0])],
               error);
    dcnn_layer_destroy(l);
    assert_int_equal(dcnn_context_live_allocations(ctx), 0);
    dcnn_context_destroy(ctx);
  }
}

/* Thread counts 1 and 2, twice each: the same bits in y, dx and the gradients. */
static void deterministic(void **state) {
  (void)state;
  dcnn_context *ctx = test_context(2);
  for (size_t k = 0; k < PATHS * (sizeof cases / sizeof cases[0]); ++k) {
    const dw_case *t = &cases[k % (sizeof cases / sizeof cases[0])];
    run r;
    dcnn_layer *l = make_layer(ctx, t, paths[k / (sizeof cases / sizeof cases[0])], &r);
    dcnn_param wp = DCNN_STRUCT_INIT(dcnn_param);
    assert_ok(dcnn_layer_param(l, 0, &wp));
    static float y0[4096], dx0[4096], dw0[2048];
    for (int rep = 0; rep < 4; ++rep) {
      run_layer(l, ctx, 1 + (rep & 1), &r);
      if (rep == 0) {
        memcpy(y0, r.y->data, (size_t)r.y->count * sizeof(float));
        memcpy(dx0, r.dx->data, (size_t)r.dx->count * sizeof(float));
        memcpy(dw0, wp.grad->data, (size_t)wp.grad->count * sizeof(float));
        continue;
      }
      assert_memory_equal(y0, r.y->data, (size_t)r.y->count * sizeof(float));
      assert_memory_equal(dx0, r.dx->data, (size_t)r.dx->count * sizeof(float));
      assert_memory_equal(dw0, wp.grad->data, (size_t)wp.grad->count * sizeof(float));
    }
    free_run(&r);
    dcnn_layer_destroy(l);
  }
  dcnn_context_destroy(ctx);
}

/* More lanes than cores: the channels-last forward splits N*blocks units while
 * its backward splits blocks*min(N, 4), so the training workspace must hold
 * the larger forward (it held only the backward's before). */
static void many_threads_fit_the_training_workspace(void **state) {
  (void)state;
  dcnn_context *ctx = test_context(2);
  const dw_case t = {3, 1, DCNN_PADDING_SAME, 0, 32, 32, 8, 8};
  run r;
  dcnn_layer *l = make_layer(ctx, &t, DCNN__DW_CHANNELS_LAST, &r);
  for (int32_t threads = 1; threads <= 8; ++threads) run_layer(l, ctx, threads, &r);
  free_run(&r);
  dcnn_layer_destroy(l);
  dcnn_context_destroy(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(many_threads_fit_the_training_workspace),
      cmocka_unit_test(matches_reference),
      cmocka_unit_test(finite_differences),
      cmocka_unit_test(deterministic),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
