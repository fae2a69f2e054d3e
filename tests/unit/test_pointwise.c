/* The memory-bound layers' kernels (lib/kernels/batchnorm.c, pooling.c,
 * dropout.c): dropout's documented mask, batch-norm statistics on data with a
 * large mean, and bit-identical results for 1 and 2 threads and repeated runs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "digitcnn/random.h"
#include "kernels/conv_epilogue.h"
#include "kernels/pointwise.h"
#include "layers/layer_internal.h"
#include "test_support.h"

/* A built layer with its input x, output y, upstream gradient dy and input gradient dx. */
typedef struct bench_layer {
  dcnn_context *ctx;
  dcnn_layer *layer;
  dcnn_tensor *x, *y, *dy, *dx;
} bench_layer;

static bench_layer make(dcnn_layer *l, int32_t threads, dcnn_shape in, uint64_t seed) {
  bench_layer b = {test_context(threads), l, NULL, NULL, NULL, NULL};
  assert_ok(dcnn_layer_build(l, b.ctx, &in));
  if (l->vt->init_params) assert_ok(l->vt->init_params(l->self, 1));
  if (l->vt->plan) assert_ok(l->vt->plan(l->self, b.ctx, in.dims[0]));
  dcnn_shape out = dcnn__with_batch(&l->output, in.dims[0]);
  assert_ok(dcnn_tensor_create(b.ctx, &in, &b.x));
  assert_ok(dcnn_tensor_create(b.ctx, &in, &b.dx));
  assert_ok(dcnn_tensor_create(b.ctx, &out, &b.y));
  assert_ok(dcnn_tensor_create(b.ctx, &out, &b.dy));
  assert_ok(dcnn_tensor_fill_random(b.x, DCNN_DIST_NORMAL, 0.5f, 1.0f, seed, 0));
  assert_ok(dcnn_tensor_fill_random(b.dy, DCNN_DIST_NORMAL, 0.0f, 1.0f, seed, 1));
  return b;
}

/* With the context's threads (1 under DCNN_TSAN: the OpenMP runtime is not instrumented). */
static void run(bench_layer *b, uint64_t seed) {
  dcnn_exec exec = {.ctx = b->ctx, .training = 1, .threads = dcnn_context_threads(b->ctx), .seed = seed, .backward = 1};
  assert_ok(b->layer->vt->forward(b->layer->self, &exec, b->x, b->y));
  assert_ok(b->layer->vt->backward(b->layer->self, &exec, b->x, b->y, b->dy, b->dx));
}

static void release(bench_layer *b) {
  dcnn_tensor_destroy(b->x);
  dcnn_tensor_destroy(b->y);
  dcnn_tensor_destroy(b->dy);
  dcnn_tensor_destroy(b->dx);
  dcnn_layer_destroy(b->layer);
  dcnn_context_destroy(b->ctx);
}

/* Element i keeps when word i mod 4 of the Philox block (seed, 0, i / 4) has
 * its top 24 bits >= rate * 2^24; across lanes (16384 elements) and a tail
 * that is not a whole block, for 1 and 2 threads. */
static void dropout_mask_follows_documented_words(void **state) {
  (void)state;
  const dcnn_shape in = dcnn_shape_make(2, 3, 11003, 0, 0); /* 33009 elements: 3 lanes, a partial block */
  const float rate = 0.3f;
  for (int32_t threads = 1; threads <= 2; ++threads) {
    dcnn_layer *l = NULL;
    assert_ok(dcnn_dropout_create(rate, &l));
    bench_layer b = make(l, threads, in, 7);
    const uint64_t seed = 0x1234567890ABCDEFull + (uint64_t)threads;
    run(&b, seed);
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    int64_t kept = 0;
    for (int64_t i = 0; i < b.x->count; ++i) {
      const uint32_t counter[4] = {(uint32_t)(i / 4), 0, 0, 0};
      uint32_t words[4];
      dcnn_philox4x32(counter, key, words);
      const int keep = (float)(words[i % 4] >> 8) * (1.0f / 16777216.0f) >= rate;
      const float expected = keep ? b.x->data[i] * (1.0f / (1.0f - rate)) : 0.0f;
      if (b.y->data[i] != expected) fail_msg("element %lld: %g, expected %g", (long long)i, b.y->data[i], expected);
      const float grad = keep ? b.dy->data[i] * (1.0f / (1.0f - rate)) : 0.0f;
      if (b.dx->data[i] != grad) fail_msg("gradient %lld: %g, expected %g", (long long)i, b.dx->data[i], grad);
      kept += keep;
    }
    /* 0.7 of 33009 = 23106; 5 standard deviations are about 420 */
    assert_true(llabs(kept - 23106) < 420);
    release(&b);
  }
}

/* Values 10^4 + N(0, 1): a one-pass variance without the shift would lose
 * every digit (the squares are 10^8 and float keeps 7 digits). The
 * normalised output must have mean 0 and variance 1. */
static void batchnorm_statistics_with_a_large_mean(void **state) {
  (void)state;
  dcnn_layer *l = NULL;
  assert_ok(dcnn_batchnorm_create(0.0f, 1e-5f, &l)); /* momentum 0: running = batch statistics */
  bench_layer b = make(l, 2, dcnn_shape_make(4, 8, 3, 9, 9), 11);
  for (int64_t i = 0; i < b.x->count; ++i) b.x->data[i] += 1e4f;
  run(&b, 1);
  const int32_t n = 8, c_n = 3, p = 81;
  for (int32_t c = 0; c < c_n; ++c) {
    double mean = 0, var = 0, xmean = 0, xvar = 0;
    for (int32_t i = 0; i < n; ++i)
      for (int32_t j = 0; j < p; ++j) {
        mean += b.y->data[(i * c_n + c) * p + j];
        xmean += b.x->data[(i * c_n + c) * p + j];
      }
    mean /= n * p;
    xmean /= n * p;
    for (int32_t i = 0; i < n; ++i)
      for (int32_t j = 0; j < p; ++j) {
        const double d = b.y->data[(i * c_n + c) * p + j] - mean, e = b.x->data[(i * c_n + c) * p + j] - xmean;
        var += d * d;
        xvar += e * e;
      }
    var /= n * p;
    xvar /= n * p - 1;
    if (!(fabs(mean) < 1e-2 && fabs(var - 1.0) < 1e-2))
      fail_msg("channel %d: normalised mean %g, variance %g", (int)c, mean, var);
    dcnn_param rv = DCNN_STRUCT_INIT(dcnn_param);
    assert_ok(dcnn_layer_param(l, 3, &rv));
    const double running = dcnn_tensor_data(rv.value)[c];
    if (!(fabs(running / xvar - 1.0) < 1e-2)) fail_msg("channel %d: running variance %g, data %g", (int)c, running, xvar);
  }
  release(&b);
}

/* Forward output, input gradient and parameter gradients of `make_layer` on
 * `in`, run twice with 1 thread and twice with 2: all four bit-identical. */
static void same_bits(dcnn_status (*make_layer)(dcnn_layer **), dcnn_shape in) {
  bench_layer first = {0};
  for (int run_index = 0; run_index < 4; ++run_index) {
    const int32_t threads = 1 + run_index / 2;
    dcnn_layer *l = NULL;
    assert_ok(make_layer(&l));
    bench_layer b = make(l, threads, in, 5);
    run(&b, 99);
    if (run_index == 0) {
      first = b;
      continue;
    }
    assert_memory_equal(first.y->data, b.y->data, (size_t)b.y->count * sizeof(float));
    assert_memory_equal(first.dx->data, b.dx->data, (size_t)b.dx->count * sizeof(float));
    for (int32_t k = 0; k < dcnn_layer_param_tensor_count(l); ++k) {
      dcnn_param p = DCNN_STRUCT_INIT(dcnn_param), q = DCNN_STRUCT_INIT(dcnn_param);
      assert_ok(dcnn_layer_param(l, k, &p));
      assert_ok(dcnn_layer_param(first.layer, k, &q));
      assert_memory_equal(dcnn_tensor_data(q.value), dcnn_tensor_data(p.value), (size_t)p.value->count * sizeof(float));
      if (p.grad)
        assert_memory_equal(dcnn_tensor_data(q.grad), dcnn_tensor_data(p.grad), (size_t)p.grad->count * sizeof(float));
    }
    release(&b);
  }
  release(&first);
}

static dcnn_status make_bn_relu(dcnn_layer **out) { return dcnn_batchnorm_relu_create(0.9f, 1e-3f, out); }
static dcnn_status make_bn(dcnn_layer **out) { return dcnn_batchnorm_create(0.9f, 1e-3f, out); }
static dcnn_status make_pool(dcnn_layer **out) { return dcnn_maxpool2d_create(2, 2, DCNN_PADDING_VALID, out); }
static dcnn_status make_pool3(dcnn_layer **out) { return dcnn_maxpool2d_create(3, 2, DCNN_PADDING_SAME, out); }
static dcnn_status make_dropout(dcnn_layer **out) { return dcnn_dropout_create(0.5f, out); }
static dcnn_status make_relu(dcnn_layer **out) { return dcnn_relu_create(out); }

/* Sizes large enough for every layer to split its work over both threads. */
static void layers_give_the_same_bits_for_any_thread_count(void **state) {
  (void)state;
  same_bits(make_bn_relu, dcnn_shape_make(4, 6, 5, 23, 23));
  same_bits(make_bn, dcnn_shape_make(4, 6, 5, 23, 23));
  same_bits(make_bn, dcnn_shape_make(2, 300, 70, 0, 0));
  same_bits(make_pool, dcnn_shape_make(4, 6, 5, 23, 21)); /* odd sizes: the last row and column are dropped */
  same_bits(make_pool3, dcnn_shape_make(4, 3, 4, 17, 17));
  same_bits(make_dropout, dcnn_shape_make(4, 6, 5, 33, 35));
  same_bits(make_relu, dcnn_shape_make(4, 6, 5, 63, 65));
}

/* 2x2 stride-2 'same' pooling of an odd plane pads the last row and column:
 * the windows there hold only the plane's own values, never the next plane's
 * (the vectorised 2x2 kernel read one row past the plane). */
static void same_pooling_of_odd_planes_stays_in_its_plane(void **state) {
  (void)state;
  dcnn_layer *l = NULL;
  assert_ok(dcnn_maxpool2d_create(2, 2, DCNN_PADDING_SAME, &l));
  bench_layer b = make(l, 1, dcnn_shape_make(4, 1, 2, 3, 3), 3);
  for (int32_t i = 0; i < 9; ++i) {
    b.x->data[i] = -1.0f - (float)i; /* plane 0: all below plane 1 */
    b.x->data[9 + i] = 100.0f + (float)i;
  }
  for (int32_t i = 0; i < 8; ++i) b.dy->data[i] = 1.0f;
  run(&b, 1);
  /* Plane 0: windows {0,1,3,4} {2,5} {6,7} {8} -> maxima -1, -3, -7, -9. */
  const float want[4] = {-1.0f, -3.0f, -7.0f, -9.0f};
  for (int i = 0; i < 4; ++i) assert_float_equal(b.y->data[i], want[i], 0.0f);
  /* Each window's gradient goes to its arg-max, inside its plane. */
  const float want_dx[9] = {1, 0, 1, 0, 0, 0, 1, 0, 1};
  for (int i = 0; i < 9; ++i) assert_float_equal(b.dx->data[i], want_dx[i], 0.0f);
  release(&b);
}

/* max(floor, v) with a NaN v gives NaN, for the ReLU floor 0 and for -inf
 * (the plain batch norm): a NaN must reach the output check, and v > floor ?
 * v : floor gave 0 and -inf. */
static void batchnorm_kernels_keep_a_nan(void **state) {
  (void)state;
  const float floors[2] = {0.0f, -INFINITY};
  for (int f = 0; f < 2; ++f) {
    float x[19], y[19], scale[19], shift[19];
    for (int i = 0; i < 19; ++i) {
      x[i] = i == 7 ? NAN : (float)i - 9.0f;
      scale[i] = 1.0f;
      shift[i] = 0.0f;
    }
    dcnn__bn_channel_apply(x, y, 1, 19, 19, 1.0f, 0.0f, floors[f]);
    assert_true(isnan(y[7]) && y[0] == (f ? -9.0f : 0.0f) && y[18] == 9.0f);
    dcnn__bn_rows_apply(x, y, 1, 19, 19, scale, shift, floors[f]);
    assert_true(isnan(y[7]) && y[0] == (f ? -9.0f : 0.0f) && y[18] == 9.0f);
    memcpy(y, x, sizeof y);
    dcnn__plane_affine(y, 19, 0.0f, 1.0f, 0.0f, floors[f]);
    assert_true(isnan(y[7]) && y[0] == (f ? -9.0f : 0.0f) && y[18] == 9.0f);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(same_pooling_of_odd_planes_stays_in_its_plane),
      cmocka_unit_test(dropout_mask_follows_documented_words),
      cmocka_unit_test(batchnorm_statistics_with_a_large_mean),
      cmocka_unit_test(batchnorm_kernels_keep_a_nan),
      cmocka_unit_test(layers_give_the_same_bits_for_any_thread_count),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
