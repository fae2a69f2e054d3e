/* A conv2d linked to the batch norm after it (lib/layers/conv_bn.h): the
 * training forward's plane moments against double sums, the linked pair
 * against the same two layers unlinked (training and inference, every
 * algorithm, odd sizes, with and without bias and ReLU, a large mean),
 * finite differences through fused conv-BN-ReLU chains in a residual block,
 * and a model's inference with folding against its layers run one by one. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "digitcnn/profile.h"
#include "layers/conv_bn.h"
#include "layers/layer_internal.h"
#include "model/model_internal.h"
#include "test_support.h"

#define AGREE 1e-5      /* relative to 1 + |value| */
#define GRAD_TOLERANCE 5e-2 /* batch norms in float: the unfused chains measure up to 2.5e-2 too */

typedef struct pair_case {
  int32_t filters, kernel, stride;
  dcnn_shape input;
} pair_case;

/* Odd sizes; planes of >= 256 pixels take the per-image GEMM paths, tiny
 * ones the grouped and unrolled ones. */
static const pair_case cases[] = {
    {5, 3, 1, {4, {3, 3, 7, 5}}},   {5, 1, 1, {4, {3, 3, 7, 5}}},  {5, 1, 2, {4, {3, 3, 7, 5}}},
    {4, 1, 1, {4, {2, 3, 17, 16}}}, {3, 3, 1, {4, {2, 2, 17, 16}}}, {4, 3, 2, {4, {3, 3, 7, 5}}},
    {6, 3, 1, {4, {3, 9, 9, 9}}},   {5, 3, 1, {4, {3, 3, 2, 2}}},  {5, 5, 1, {4, {3, 3, 1, 3}}},
};

static const char *const names[] = {"auto", "im2col_gemm", "gemm_1x1", "winograd_2x2", "winograd_4x4", "direct",
                                     "unrolled_gemm"};

static int applies(const pair_case *c, dcnn_conv_algorithm a) {
  switch (a) {
    case DCNN_CONV_GEMM_1X1: return c->kernel == 1;
    case DCNN_CONV_WINOGRAD_2X2:
    case DCNN_CONV_WINOGRAD_4X4: return c->kernel == 3 && c->stride == 1;
    default: return 1;
  }
}

static void fill(dcnn_layer *l, int32_t index, dcnn_distribution dist, float a, float b, uint64_t seed) {
  dcnn_param p = DCNN_STRUCT_INIT(dcnn_param);
  assert_ok(dcnn_layer_param(l, index, &p));
  assert_ok(dcnn_tensor_fill_random(p.value, dist, a, b, seed, 0));
}

/* A conv2d (forced algorithm, bias or not) and a batch norm (ReLU or not) on
 * c->input, with random weights, bias (offset by `mean`), gamma, beta and
 * running statistics; linked or not, planned for the batch. */
static void make_pair(dcnn_context *ctx, const pair_case *c, dcnn_conv_algorithm a, int bias, int relu, float mean,
                      int link, dcnn_layer **conv, dcnn_layer **bn) {
  assert_ok(dcnn_conv2d_create(c->filters, c->kernel, c->stride, DCNN_PADDING_SAME, bias, conv));
  assert_ok(dcnn_conv2d_set_algorithm(*conv, a));
  assert_ok(relu ? dcnn_batchnorm_relu_create(0.9f, 1e-3f, bn) : dcnn_batchnorm_create(0.9f, 1e-3f, bn));
  assert_ok(dcnn_layer_build(*conv, ctx, &c->input));
  dcnn_shape mid = dcnn__with_batch(&(*conv)->output, c->input.dims[0]);
  assert_ok(dcnn_layer_build(*bn, ctx, &mid));
  assert_ok((*conv)->vt->init_params((*conv)->self, 21));
  assert_ok((*bn)->vt->init_params((*bn)->self, 22));
  if (bias) fill(*conv, 1, DCNN_DIST_NORMAL, mean, 1.0f, 23);
  fill(*bn, 0, DCNN_DIST_UNIFORM, 0.5f, 1.5f, 24); /* gamma */
  fill(*bn, 1, DCNN_DIST_NORMAL, 0.0f, 0.5f, 25);  /* beta */
  fill(*bn, 2, DCNN_DIST_NORMAL, mean, 1.0f, 26);  /* running mean */
  fill(*bn, 3, DCNN_DIST_UNIFORM, 0.5f, 2.0f, 27); /* running variance */
  if (link) assert_true(dcnn__conv_bn_link(*conv, *bn, 1)); /* every geometry, not only where it pays */
  assert_int_equal(dcnn__conv_bn_folds(*conv, *bn), link);
  assert_ok(dcnn__layer_plan(*conv, c->input.dims[0]));
  assert_ok(dcnn__layer_plan(*bn, c->input.dims[0]));
}

typedef struct pair_run {
  float *out; /* the batch norm's output, then (training) its running mean and variance */
  int64_t count;
} pair_run;

/* Forward through the pair (training: batch statistics; else inference, the
 * linked pair folded into the conv's forward). */
static void run_pair(dcnn_context *ctx, const pair_case *c, dcnn_conv_algorithm a, int bias, int relu, float mean,
                     int link, int training, pair_run *r) {
  dcnn_layer *conv = NULL, *bn = NULL;
  make_pair(ctx, c, a, bias, relu, mean, link, &conv, &bn);
  const int32_t batch = c->input.dims[0], threads = 2;
  dcnn_shape ys = dcnn__with_batch(&conv->output, batch);
  dcnn_tensor *x = NULL, *y = NULL, *z = NULL;
  assert_ok(dcnn_tensor_create(ctx, &c->input, &x));
  assert_ok(dcnn_tensor_create(ctx, &ys, &y));
  assert_ok(dcnn_tensor_create(ctx, &ys, &z));
  assert_ok(dcnn_tensor_fill_random(x, DCNN_DIST_NORMAL, 0.0f, 1.0f, 28, 0));
  dcnn_exec e = {.ctx = ctx, .training = training, .threads = threads, .seed = 1, .backward = training};
  e.workspace_size = dcnn__layer_workspace(conv, batch, threads, !training);
  e.workspace = e.workspace_size ? malloc((size_t)e.workspace_size) : NULL;
  if (!training && link) {
    e.fold = 1;
    assert_true(dcnn__conv_bn_folds(conv, bn));
    assert_ok(conv->vt->forward(conv->self, &e, x, z));
  } else {
    assert_ok(conv->vt->forward(conv->self, &e, x, y));
    assert_ok(bn->vt->forward(bn->self, &e, y, z));
    /* The batch norm took the conv's moments: none are left for another call. */
    if (training && link) assert_null(dcnn__conv2d_take_moments(conv, y->data, batch));
  }
  const int32_t channels = c->filters;
  r->count = z->count + (training ? 2 * channels : 0);
  r->out = malloc((size_t)r->count * sizeof(float));
  memcpy(r->out, z->data, (size_t)z->count * sizeof(float));
  for (int32_t k = 0; training && k < 2; ++k) {
    dcnn_param p = DCNN_STRUCT_INIT(dcnn_param);
    assert_ok(dcnn_layer_param(bn, 2 + k, &p));
    memcpy(r->out + z->count + k * channels, p.value->data, (size_t)channels * sizeof(float));
  }
  free(e.workspace);
  dcnn_tensor_destroy(x);
  dcnn_tensor_destroy(y);
  dcnn_tensor_destroy(z);
  dcnn_layer_destroy(conv);
  dcnn_layer_destroy(bn);
}

static void compare_pairs(int training) {
  dcnn_context *ctx = test_context(2);
  int compared = 0;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i)
    for (int a = DCNN_CONV_IM2COL_GEMM; a <= DCNN_CONV_UNROLLED_GEMM; ++a)
      for (int variant = 0; variant < 4; ++variant) {
        if (!applies(&cases[i], (dcnn_conv_algorithm)a)) continue;
        const int bias = variant & 1, relu = variant >> 1;
        const float mean = variant == 1 ? 30.0f : 0.0f; /* a large mean must not cancel the variance */
        pair_run fused, plain;
        run_pair(ctx, &cases[i], (dcnn_conv_algorithm)a, bias, relu, mean, 1, training, &fused);
        run_pair(ctx, &cases[i], (dcnn_conv_algorithm)a, bias, relu, mean, 0, training, &plain);
        assert_int_equal(fused.count, plain.count);
        /* With a large mean, (x - mean) loses the digits of x's rounding: the tolerance follows. */
        const double tolerance = AGREE * (1.0 + mean);
        for (int64_t k = 0; k < fused.count; ++k)
          if (!(fabs((double)fused.out[k] - plain.out[k]) <= tolerance * (1.0 + fabs(plain.out[k]))))
            fail_msg("%s, case %d, bias %d, relu %d: value %lld is %.9g fused, %.9g unfused", names[a], (int)i, bias,
                     relu, (long long)k, (double)fused.out[k], (double)plain.out[k]);
        free(fused.out);
        free(plain.out);
        compared++;
      }
  assert_true(compared > 50);
  dcnn_context_destroy(ctx);
}

static void training_forward_matches_separate_layers(void **state) {
  (void)state;
  compare_pairs(1);
}

static void inference_folding_matches_separate_layers(void **state) {
  (void)state;
  compare_pairs(0);
}

/* Each plane's mean and sum of squared deviations, as the conv hands them to
 * the batch norm, against double sums over its output. */
static void conv_gathers_plane_moments(void **state) {
  (void)state;
  dcnn_context *ctx = test_context(2);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i)
    for (int a = DCNN_CONV_IM2COL_GEMM; a <= DCNN_CONV_UNROLLED_GEMM; ++a) {
      if (!applies(&cases[i], (dcnn_conv_algorithm)a)) continue;
      dcnn_layer *conv = NULL, *bn = NULL;
      make_pair(ctx, &cases[i], (dcnn_conv_algorithm)a, 1, 0, 10.0f, 1, &conv, &bn);
      const int32_t batch = cases[i].input.dims[0];
      dcnn_shape ys = dcnn__with_batch(&conv->output, batch);
      dcnn_tensor *x = NULL, *y = NULL;
      assert_ok(dcnn_tensor_create(ctx, &cases[i].input, &x));
      assert_ok(dcnn_tensor_create(ctx, &ys, &y));
      assert_ok(dcnn_tensor_fill_random(x, DCNN_DIST_NORMAL, 0.0f, 1.0f, 29, 0));
      dcnn_exec e = {.ctx = ctx, .training = 1, .threads = 2, .seed = 1, .backward = 1};
      e.workspace_size = dcnn__layer_workspace(conv, batch, 2, 0);
      e.workspace = malloc((size_t)e.workspace_size + 1);
      assert_ok(conv->vt->forward(conv->self, &e, x, y));
      assert_null(dcnn__conv2d_take_moments(conv, x->data, batch)); /* another tensor */
      assert_null(dcnn__conv2d_take_moments(conv, y->data, batch - 1)); /* another batch */
      const double *m = dcnn__conv2d_take_moments(conv, y->data, batch);
      assert_non_null(m);
      const int64_t p = (int64_t)ys.dims[2] * ys.dims[3];
      for (int64_t q = 0; q < (int64_t)batch * cases[i].filters; ++q) {
        double sum = 0, sq = 0;
        for (int64_t j = 0; j < p; ++j) sum += y->data[q * p + j];
        const double mu = sum / (double)p;
        for (int64_t j = 0; j < p; ++j) sq += (y->data[q * p + j] - mu) * (y->data[q * p + j] - mu);
        if (!(fabs(m[2 * q] - mu) <= 1e-5 * (1.0 + fabs(mu)) && fabs(m[2 * q + 1] - sq) <= 1e-4 * (1.0 + sq)))
          fail_msg("%s, case %d, plane %lld: mean %.9g sq %.9g, expected %.9g %.9g", names[a], (int)i, (long long)q,
                   m[2 * q], m[2 * q + 1], mu, sq);
      }
      assert_null(dcnn__conv2d_take_moments(conv, y->data, batch)); /* consumed */
      free(e.workspace);
      dcnn_tensor_destroy(x);
      dcnn_tensor_destroy(y);
      dcnn_layer_destroy(conv);
      dcnn_layer_destroy(bn);
    }
  dcnn_context_destroy(ctx);
}

/* Body conv -> batchnorm_relu -> conv (bias), shortcut (if `project`) conv
 * 1x1 -> batchnorm, ReLU after the sum: linked pairs, the first conv forced
 * to `a`. (Longer chains of batch norms leave gradients too small for finite
 * differences in float.) */
static dcnn_layer *fused_block(dcnn_conv_algorithm a, int32_t filters, int32_t stride, int project) {
  dcnn_layer *body[3], *shortcut[2], *block = NULL;
  assert_ok(dcnn_conv2d_create(filters, a == DCNN_CONV_GEMM_1X1 ? 1 : 3, stride, DCNN_PADDING_SAME, 0, &body[0]));
  assert_ok(dcnn_conv2d_set_algorithm(body[0], a));
  assert_ok(dcnn_batchnorm_relu_create(0.9f, 1e-3f, &body[1]));
  assert_ok(dcnn_conv2d_create(filters, 3, 1, DCNN_PADDING_SAME, 1, &body[2]));
  if (project) {
    assert_ok(dcnn_conv2d_create(filters, 1, stride, DCNN_PADDING_SAME, 0, &shortcut[0]));
    assert_ok(dcnn_batchnorm_create(0.9f, 1e-3f, &shortcut[1]));
  }
  assert_ok(dcnn_residual_create(body, 3, shortcut, project ? 2 : 0, 1, &block));
  return block;
}

static void gradients_through_fused_chains(void **state) {
  (void)state;
  dcnn_context *ctx = test_context(2);
  /* Identity shortcut on (2, 3, 5, 5) and odd (1, 3, 7, 5); projection with stride 1 and 2 on (2, 2, 9, 7). */
  const struct {
    dcnn_shape input;
    int32_t filters, stride;
    int project;
  } blocks[] = {{{4, {2, 3, 5, 5}}, 3, 1, 0}, {{4, {1, 3, 7, 5}}, 3, 1, 0}, {{4, {2, 2, 9, 7}}, 3, 1, 1},
                {{4, {2, 2, 9, 7}}, 3, 2, 1}};
  int checked = 0;
  for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; ++i)
    for (int a = DCNN_CONV_IM2COL_GEMM; a <= DCNN_CONV_UNROLLED_GEMM; ++a) {
      if (blocks[i].stride == 2 && (a == DCNN_CONV_WINOGRAD_2X2 || a == DCNN_CONV_WINOGRAD_4X4)) continue;
      dcnn_layer *block = fused_block((dcnn_conv_algorithm)a, blocks[i].filters, blocks[i].stride, blocks[i].project);
      assert_ok(dcnn_layer_build(block, ctx, &blocks[i].input));
      dcnn_layer *const *parts[2];
      int32_t counts[2];
      int relu;
      assert_true(dcnn__residual_parts(block, parts, counts, &relu));
      for (int p = 0; p < 2; ++p)
        for (int32_t k = 0; k + 1 < counts[p]; ++k) dcnn__conv_bn_link(parts[p][k], parts[p][k + 1], 1);
      double error = -1;
      assert_ok(dcnn_layer_check_gradients(block, ctx, &blocks[i].input, 31 + (uint64_t)a, &error));
      if (!(error >= 0 && error < GRAD_TOLERANCE))
        fail_msg("%s, block %d: max relative gradient error %g", names[a], (int)i, error);
      assert_true(dcnn__conv_bn_folds(parts[0][0], parts[0][1]));
      if (blocks[i].project) assert_true(dcnn__conv_bn_folds(parts[1][0], parts[1][1]));
      dcnn_layer_destroy(block);
      checked++;
    }
  assert_true(checked >= 20);
  dcnn_context_destroy(ctx);
}

/* conv -> batchnorm_relu -> fused block -> conv -> batchnorm -> flatten -> dense. */
static dcnn_model *fused_model(dcnn_context *ctx) {
  dcnn_shape sample = dcnn_shape_make(3, 3, 9, 7, 0);
  dcnn_model *m = NULL;
  assert_ok(dcnn_model_create(ctx, &sample, &m));
  dcnn_layer *l = NULL;
  assert_ok(dcnn_conv2d_create(6, 3, 1, DCNN_PADDING_SAME, 1, &l));
  assert_ok(dcnn_model_add(m, l));
  assert_ok(dcnn_batchnorm_relu_create(0.9f, 1e-3f, &l));
  assert_ok(dcnn_model_add(m, l));
  assert_ok(dcnn_model_add(m, fused_block(DCNN_CONV_AUTO, 6, 1, 1)));
  assert_ok(dcnn_conv2d_create(4, 1, 2, DCNN_PADDING_SAME, 0, &l));
  assert_ok(dcnn_model_add(m, l));
  assert_ok(dcnn_batchnorm_create(0.9f, 1e-3f, &l));
  assert_ok(dcnn_model_add(m, l));
  assert_ok(dcnn_flatten_create(&l));
  assert_ok(dcnn_model_add(m, l));
  assert_ok(dcnn_dense_create(5, 1, &l));
  assert_ok(dcnn_model_add(m, l));
  /* Every pair fused, not only where it pays (the algorithms are forced below). */
  assert_true(dcnn__conv_bn_link(m->layers[0], m->layers[1], 1));
  assert_true(dcnn__conv_bn_link(m->layers[3], m->layers[4], 1));
  dcnn_layer *const *parts[2];
  int32_t counts[2];
  int relu;
  assert_true(dcnn__residual_parts(m->layers[2], parts, counts, &relu));
  assert_true(dcnn__conv_bn_link(parts[0][0], parts[0][1], 1) && dcnn__conv_bn_link(parts[1][0], parts[1][1], 1));
  assert_ok(dcnn_model_init(m, 41));
  /* Running statistics and affine parameters away from their initial 0, 1. */
  for (int32_t k = 0; k < dcnn_model_param_tensor_count(m); ++k) {
    dcnn_param p = DCNN_STRUCT_INIT(dcnn_param);
    assert_ok(dcnn_model_param(m, k, &p, NULL));
    const int var = strstr(p.name, "running_var") != NULL, gamma = strstr(p.name, "gamma") != NULL;
    if (var || gamma) assert_ok(dcnn_tensor_fill_random(p.value, DCNN_DIST_UNIFORM, 0.5f, 2.0f, 42 + (uint64_t)k, 0));
    else if (strstr(p.name, "running_mean") || strstr(p.name, "beta") || strstr(p.name, "bias"))
      assert_ok(dcnn_tensor_fill_random(p.value, DCNN_DIST_NORMAL, 0.0f, 0.5f, 42 + (uint64_t)k, 0));
  }
  return m;
}

static void model_inference_folds(void **state) {
  (void)state;
  dcnn_context *ctx = test_context(2);
  for (int a = DCNN_CONV_AUTO; a <= DCNN_CONV_UNROLLED_GEMM; ++a) {
    dcnn_model *m = fused_model(ctx);
    int32_t applied = 0;
    assert_ok(dcnn_model_set_conv_algorithm(m, (dcnn_conv_algorithm)a, &applied));
    assert_true(dcnn__conv_bn_folds(m->layers[0], m->layers[1]));
    assert_true(dcnn__conv_bn_folds(m->layers[3], m->layers[4]));
    const int32_t batch = 3;
    dcnn_shape in = dcnn_shape_make(4, batch, 3, 9, 7), out = dcnn_shape_make(2, batch, 5, 0, 0);
    dcnn_tensor *x = NULL, *y = NULL;
    assert_ok(dcnn_tensor_create(ctx, &in, &x));
    assert_ok(dcnn_tensor_create(ctx, &out, &y));
    assert_ok(dcnn_tensor_fill_random(x, DCNN_DIST_NORMAL, 0.0f, 1.0f, 43, 0));
    dcnn_profile *profile = NULL;
    if (a == DCNN_CONV_AUTO) {
      assert_ok(dcnn_profile_create(m, &profile));
      assert_ok(dcnn_model_set_profile(m, profile));
    }
    assert_ok(dcnn_model_predict(m, x, y)); /* a session: folded */
    if (profile) {
      /* The profile says where the batch norms' time went. */
      char *text = NULL;
      assert_ok(dcnn_profile_format(profile, 0.0, &text));
      assert_non_null(strstr(text, "+1 folded"));
      assert_non_null(strstr(text, "folded into 0"));
      assert_non_null(strstr(text, "folded into 3"));
      dcnn_free(text);
      assert_ok(dcnn_model_set_profile(m, NULL));
      dcnn_profile_destroy(profile);
    }
    /* The layers one by one, unfolded (backward_follows: the block runs its chains as in training). */
    assert_ok(dcnn_model_reserve(m, batch));
    dcnn_exec e = {.ctx = ctx, .training = 0, .threads = m->planned_threads, .seed = 1, .backward = 1,
                   .workspace = m->workspace, .workspace_size = m->workspace_size};
    const dcnn_tensor *cur = x;
    for (int32_t i = 0; i < m->layer_count; ++i) {
      assert_ok(dcnn__tensor_set_batch(m->activations[i], batch));
      assert_ok(m->layers[i]->vt->forward(m->layers[i]->self, &e, cur, m->activations[i]));
      cur = m->activations[i];
    }
    for (int64_t k = 0; k < y->count; ++k)
      if (!(fabs((double)y->data[k] - cur->data[k]) <= AGREE * (1.0 + fabs(cur->data[k]))))
        fail_msg("%s: output %lld is %.9g folded, %.9g unfolded", names[a], (long long)k, (double)y->data[k],
                 (double)cur->data[k]);
    dcnn_tensor_destroy(x);
    dcnn_tensor_destroy(y);
    dcnn_model_destroy(m);
  }
  assert_int_equal(dcnn_context_live_allocations(ctx), 0);
  dcnn_context_destroy(ctx);
}

/* Linked by a model, a pair fuses where the conv finishes large planes one
 * image at a time (per-image GEMMs, direct), not on small planes nor with the
 * whole-batch algorithms (conv2d.c, `fuses`). */
static void fuses_where_it_pays(void **state) {
  (void)state;
  dcnn_context *ctx = test_context(2);
  const struct {
    int32_t filters, kernel, side;
    dcnn_conv_algorithm algorithm;
    int fuses;
  } layers[] = {{8, 1, 16, DCNN_CONV_AUTO, 1},        {8, 3, 16, DCNN_CONV_IM2COL_GEMM, 1},
               {8, 3, 16, DCNN_CONV_DIRECT, 1},      {8, 1, 8, DCNN_CONV_AUTO, 0},
               {8, 3, 16, DCNN_CONV_AUTO, 0} /* winograd */, {8, 3, 16, DCNN_CONV_UNROLLED_GEMM, 0}};
  for (size_t i = 0; i < sizeof layers / sizeof layers[0]; ++i) {
    dcnn_shape sample = dcnn_shape_make(3, 8, layers[i].side, layers[i].side, 0);
    dcnn_model *m = NULL;
    assert_ok(dcnn_model_create(ctx, &sample, &m));
    dcnn_layer *l = NULL;
    assert_ok(dcnn_conv2d_create(layers[i].filters, layers[i].kernel, 1, DCNN_PADDING_SAME, 0, &l));
    assert_ok(dcnn_conv2d_set_algorithm(l, layers[i].algorithm));
    assert_ok(dcnn_model_add(m, l));
    assert_ok(dcnn_batchnorm_relu_create(0.9f, 1e-3f, &l));
    assert_ok(dcnn_model_add(m, l));
    if (dcnn__conv_bn_folds(m->layers[0], m->layers[1]) != layers[i].fuses) fail_msg("case %d", (int)i);
    dcnn_model_destroy(m);
  }
  dcnn_context_destroy(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(conv_gathers_plane_moments),
      cmocka_unit_test(training_forward_matches_separate_layers),
      cmocka_unit_test(inference_folding_matches_separate_layers),
      cmocka_unit_test(gradients_through_fused_chains),
      cmocka_unit_test(model_inference_folds),
      cmocka_unit_test(fuses_where_it_pays),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
