/* Loss, optimizers and schedules against values computed by hand, the
 * trainer's options and history, evaluation, and checkpoints that resume to
 * the same result as a run that never stopped. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_support.h"
#include "model/model_state.h"
#include "train/train_internal.h"

static void softmax_cross_entropy_values(void **state) {
  (void)state;
  dcnn_shape s = dcnn_shape_make(2, 2, 3, 0, 0);
  dcnn_tensor *z = NULL, *p = NULL, *g = NULL;
  assert_ok(dcnn_tensor_create(NULL, &s, &z));
  assert_ok(dcnn_tensor_create(NULL, &s, &p));
  assert_ok(dcnn_tensor_create(NULL, &s, &g));
  const float logits[6] = {1.0f, 2.0f, 3.0f, 1000.0f, 0.0f, -1000.0f}; /* the second row would overflow exp() */
  memcpy(dcnn_tensor_data(z), logits, sizeof logits);
  const int32_t labels[2] = {2, 1};
  float loss = 0;
  assert_ok(dcnn_softmax_cross_entropy(z, labels, p, g, &loss));
  /* row 0: logsumexp(1,2,3) - 3 = log(e^-2 + e^-1 + 1); row 1: 1000 - 0 */
  const double row0 = log(exp(-2.0) + exp(-1.0) + 1.0), expected = (row0 + 1000.0) / 2.0;
  assert_float_equal(loss, expected, 1e-3);
  const double p2 = 1.0 / (exp(-2.0) + exp(-1.0) + 1.0);
  assert_float_equal(dcnn_tensor_data(p)[2], p2, 1e-6);
  assert_float_equal(dcnn_tensor_data(g)[2], (p2 - 1.0) / 2.0, 1e-6); /* (p - y) / N */
  assert_float_equal(dcnn_tensor_data(g)[3], 0.5f, 1e-6);
  assert_float_equal(dcnn_tensor_data(g)[4], -0.5f, 1e-6);
  int32_t bad[2] = {2, 3};
  assert_status(dcnn_softmax_cross_entropy(z, bad, NULL, NULL, &loss), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("label 3 of sample 1");
  dcnn_tensor_data(z)[1] = NAN;
  assert_status(dcnn_softmax_cross_entropy(z, labels, NULL, NULL, &loss), DCNN_ERR_NUMERIC);
  dcnn_tensor_destroy(z);
  dcnn_tensor_destroy(p);
  dcnn_tensor_destroy(g);
}

/* A model with one dense layer (2 inputs -> 2 units, no bias) whose gradient is
 * fixed by a single sample, so optimizer steps can be computed by hand. */
static dcnn_model *one_dense(dcnn_tensor **x, int32_t *label) {
  dcnn_shape in = dcnn_shape_make(1, 2, 0, 0, 0);
  dcnn_model *m = NULL;
  assert_ok(dcnn_model_create(NULL, &in, &m));
  dcnn_layer *l = NULL;
  assert_ok(dcnn_dense_create(2, DCNN_NO_BIAS, &l));
  assert_ok(dcnn_model_add(m, l));
  dcnn_param w = DCNN_STRUCT_INIT(dcnn_param);
  assert_ok(dcnn_model_param(m, 0, &w, NULL));
  const float init[4] = {0.5f, -0.25f, 0.125f, 1.0f};
  memcpy(dcnn_tensor_data(w.value), init, sizeof init);
  dcnn_shape xs = dcnn_shape_make(2, 1, 2, 0, 0);
  assert_ok(dcnn_tensor_create(NULL, &xs, x));
  dcnn_tensor_data(*x)[0] = 1.0f;
  dcnn_tensor_data(*x)[1] = 2.0f;
  *label = 0;
  return m;
}

/* Gradient of CE for the single sample: dW = x^T (p - y). */
static void expected_gradient(const float w[4], double grad[4]) {
  const double x0 = 1.0, x1 = 2.0;
  const double z0 = x0 * w[0] + x1 * w[2], z1 = x0 * w[1] + x1 * w[3];
  const double p0 = 1.0 / (1.0 + exp(z1 - z0)), p1 = 1.0 - p0;
  const double d0 = p0 - 1.0, d1 = p1;
  grad[0] = x0 * d0;
  grad[1] = x0 * d1;
  grad[2] = x1 * d0;
  grad[3] = x1 * d1;
}

/* Soft targets: the formula by hand, finite differences, one-hot rows equal
 * the plain loss, rows that are no distribution refused. */
static void soft_cross_entropy_matches_direct_and_finite_differences(void **state) {
  (void)state;
  enum { N = 3, K = 4 };
  float z[N * K] = {0.5f, -1.0f, 2.0f, 0.1f, -0.3f, 0.7f, 0.2f, -2.0f, 1.5f, 1.4f, -0.6f, 0.0f};
  float t[N * K] = {0.1f, 0.0f, 0.6f, 0.3f, 0.25f, 0.25f, 0.25f, 0.25f, 0.0f, 0.7f, 0.3f, 0.0f};
  dcnn_shape shape = dcnn_shape_make(2, N, K, 0, 0);
  dcnn_tensor *logits = NULL, *grad = NULL, *plain_grad = NULL;
  assert_ok(dcnn_tensor_wrap(NULL, &shape, z, &logits));
  assert_ok(dcnn_tensor_create(NULL, &shape, &grad));
  assert_ok(dcnn_tensor_create(NULL, &shape, &plain_grad));
  float loss = 0;
  assert_ok(dcnn_softmax_cross_entropy_soft(logits, t, NULL, grad, &loss));
  double expected = 0;
  for (int n = 0; n < N; ++n) {
    double sum = 0;
    for (int j = 0; j < K; ++j) sum += exp(z[n * K + j]);
    for (int j = 0; j < K; ++j) {
      const double p = exp(z[n * K + j]) / sum;
      expected -= t[n * K + j] * log(p) / N;
      assert_float_equal(dcnn_tensor_data(grad)[n * K + j], (p - t[n * K + j]) / N, 1e-6);
    }
  }
  assert_float_equal(loss, expected, 1e-6);
  for (int i = 0; i < N * K; ++i) {
    const float keep = z[i], h = 1e-2f;
    float up = 0, down = 0;
    z[i] = keep + h;
    assert_ok(dcnn_softmax_cross_entropy_soft(logits, t, NULL, NULL, &up));
    z[i] = keep - h;
    assert_ok(dcnn_softmax_cross_entropy_soft(logits, t, NULL, NULL, &down));
    z[i] = keep;
    assert_float_equal(dcnn_tensor_data(grad)[i], ((double)up - down) / (2 * h), 2e-4);
  }
  const int32_t y[N] = {2, 0, 1};
  float onehot[N * K] = {0}, plain = 0, soft = 0;
  for (int n = 0; n < N; ++n) onehot[n * K + y[n]] = 1.0f;
  assert_ok(dcnn_softmax_cross_entropy(logits, y, NULL, plain_grad, &plain));
  assert_ok(dcnn_softmax_cross_entropy_soft(logits, onehot, NULL, grad, &soft));
  assert_float_equal(plain, soft, 1e-6);
  for (int i = 0; i < N * K; ++i) assert_float_equal(dcnn_tensor_data(plain_grad)[i], dcnn_tensor_data(grad)[i], 1e-7);
  t[5] = 0.5f; /* row 1 sums to 1.25 */
  assert_status(dcnn_softmax_cross_entropy_soft(logits, t, NULL, grad, &loss), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("sample 1");
  t[5] = 0.25f;
  t[0] = -0.1f, t[1] = 0.1f;
  assert_status(dcnn_softmax_cross_entropy_soft(logits, t, NULL, grad, &loss), DCNN_ERR_INVALID_ARGUMENT);
  dcnn_tensor_destroy(plain_grad);
  dcnn_tensor_destroy(grad);
  dcnn_tensor_destroy(logits);
}

static void sgd_momentum_and_nesterov_steps(void **state) {
  (void)state;
  for (int nesterov = 0; nesterov < 2; ++nesterov) {
    dcnn_tensor *x = NULL;
    int32_t label;
    dcnn_model *m = one_dense(&x, &label);
    dcnn_optimizer *sgd = NULL;
    assert_ok(dcnn_optimizer_create_sgd(NULL, 0.1f, 0.9f, nesterov ? DCNN_MOMENTUM_NESTEROV : DCNN_MOMENTUM_CLASSIC,
                                        0.01f, &sgd));
    dcnn_param w = DCNN_STRUCT_INIT(dcnn_param);
    assert_ok(dcnn_model_param(m, 0, &w, NULL));
    double ref[4], v[4] = {0, 0, 0, 0};
    for (int i = 0; i < 4; ++i) ref[i] = dcnn_tensor_data(w.value)[i];
    for (int step = 0; step < 3; ++step) {
      float now[4];
      for (int i = 0; i < 4; ++i) now[i] = (float)ref[i];
      double g[4];
      expected_gradient(now, g);
      for (int i = 0; i < 4; ++i) {
        double grad = g[i] + 0.01 * ref[i]; /* L2 weight decay */
        v[i] = 0.9 * v[i] + grad;
        ref[i] -= 0.1 * (nesterov ? grad + 0.9 * v[i] : v[i]);
      }
      assert_ok(dcnn_model_train_step(m, sgd, x, &label, NULL, NULL));
    }
    for (int i = 0; i < 4; ++i) assert_float_equal(dcnn_tensor_data(w.value)[i], ref[i], 1e-5);
    dcnn_optimizer_destroy(sgd);
    dcnn_tensor_destroy(x);
    dcnn_model_destroy(m);
  }
}

/* Smoothed cross-entropy of 3 samples, 4 classes: the loss against
 * -sum_j t_j log softmax_j computed directly, the gradient against (p - t) / N
 * and central finite differences of the loss, e = 0 bit-identical to the
 * unsmoothed function, e outside [0, 1) refused. */
static void smoothed_cross_entropy_matches_direct_and_finite_differences(void **state) {
  (void)state;
  enum { N = 3, K = 4 };
  float z[N * K] = {0.5f, -1.0f, 2.0f, 0.1f, -0.3f, 0.7f, 0.2f, -2.0f, 1.5f, 1.4f, -0.6f, 0.0f};
  const int32_t y[N] = {2, 0, 1};
  const double e = 0.2;
  dcnn_shape shape = dcnn_shape_make(2, N, K, 0, 0);
  dcnn_tensor *logits = NULL, *grad = NULL, *plain_grad = NULL;
  assert_ok(dcnn_tensor_wrap(NULL, &shape, z, &logits));
  assert_ok(dcnn_tensor_create(NULL, &shape, &grad));
  assert_ok(dcnn_tensor_create(NULL, &shape, &plain_grad));
  float loss = 0;
  assert_ok(dcnn_softmax_cross_entropy_smoothed(logits, y, (float)e, NULL, grad, &loss));
  double expected = 0;
  for (int n = 0; n < N; ++n) {
    double sum = 0;
    for (int j = 0; j < K; ++j) sum += exp(z[n * K + j]);
    for (int j = 0; j < K; ++j) {
      const double p = exp(z[n * K + j]) / sum, t = (1 - e) * (j == y[n]) + e / K;
      expected -= t * log(p) / N;
      assert_float_equal(dcnn_tensor_data(grad)[n * K + j], (p - t) / N, 1e-6);
    }
  }
  assert_float_equal(loss, expected, 1e-6);
  for (int i = 0; i < N * K; ++i) {
    const float keep = z[i], h = 1e-2f;
    float up = 0, down = 0;
    z[i] = keep + h;
    assert_ok(dcnn_softmax_cross_entropy_smoothed(logits, y, (float)e, NULL, NULL, &up));
    z[i] = keep - h;
    assert_ok(dcnn_softmax_cross_entropy_smoothed(logits, y, (float)e, NULL, NULL, &down));
    z[i] = keep;
    assert_float_equal(dcnn_tensor_data(grad)[i], ((double)up - down) / (2 * h), 2e-4);
  }
  float plain = 0, zero = 0;
  assert_ok(dcnn_softmax_cross_entropy(logits, y, NULL, plain_grad, &plain));
  assert_ok(dcnn_softmax_cross_entropy_smoothed(logits, y, 0.0f, NULL, grad, &zero));
  assert_memory_equal(&plain, &zero, sizeof plain);
  assert_memory_equal(dcnn_tensor_data(plain_grad), dcnn_tensor_data(grad), sizeof(float) * N * K);
  assert_true(loss > plain); /* the targets' entropy is added */
  assert_status(dcnn_softmax_cross_entropy_smoothed(logits, y, 1.0f, NULL, grad, &loss), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_softmax_cross_entropy_smoothed(logits, y, -0.1f, NULL, grad, &loss), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_softmax_cross_entropy_smoothed(logits, y, NAN, NULL, grad, &loss), DCNN_ERR_INVALID_ARGUMENT);
  dcnn_tensor_destroy(plain_grad);
  dcnn_tensor_destroy(grad);
  dcnn_tensor_destroy(logits);
}

static void adam_steps_follow_keras(void **state) {
  (void)state;
  dcnn_tensor *x = NULL;
  int32_t label;
  dcnn_model *m = one_dense(&x, &label);
  dcnn_optimizer *adam = NULL;
  assert_ok(dcnn_optimizer_create_adam(NULL, 0.01f, 0.9f, 0.999f, 1e-7f, 0.1f, &adam));
  dcnn_param w = DCNN_STRUCT_INIT(dcnn_param);
  assert_ok(dcnn_model_param(m, 0, &w, NULL));
  double ref[4], m1[4] = {0}, m2[4] = {0};
  for (int i = 0; i < 4; ++i) ref[i] = dcnn_tensor_data(w.value)[i];
  for (int t = 1; t <= 4; ++t) {
    float now[4];
    for (int i = 0; i < 4; ++i) now[i] = (float)ref[i];
    double g[4];
    expected_gradient(now, g);
    const double lr_t = 0.01 * sqrt(1 - pow(0.999, t)) / (1 - pow(0.9, t));
    for (int i = 0; i < 4; ++i) {
      m1[i] = 0.9 * m1[i] + 0.1 * g[i];
      m2[i] = 0.999 * m2[i] + 0.001 * g[i] * g[i];
      ref[i] = ref[i] * (1 - 0.01 * 0.1) - lr_t * m1[i] / (sqrt(m2[i]) + 1e-7); /* decoupled decay */
    }
    assert_ok(dcnn_model_train_step(m, adam, x, &label, NULL, NULL));
  }
  for (int i = 0; i < 4; ++i) assert_float_equal(dcnn_tensor_data(w.value)[i], ref[i], 1e-5);
  assert_float_equal(dcnn_optimizer_learning_rate(adam), 0.01f, 0);
  assert_ok(dcnn_optimizer_set_learning_rate(adam, 0.5f));
  assert_float_equal(dcnn_optimizer_learning_rate(adam), 0.5f, 0);
  assert_status(dcnn_optimizer_set_learning_rate(adam, -1.0f), DCNN_ERR_INVALID_ARGUMENT);
  /* An optimizer bound to one model refuses another until reset. */
  dcnn_tensor *x2 = NULL;
  int32_t l2;
  dcnn_model *other = one_dense(&x2, &l2);
  assert_status(dcnn_model_train_step(other, adam, x2, &l2, NULL, NULL), DCNN_ERR_INVALID_STATE);
  assert_error_mentions("bound to another model");
  assert_ok(dcnn_optimizer_reset(adam));
  assert_ok(dcnn_model_train_step(other, adam, x2, &l2, NULL, NULL));
  dcnn_model_destroy(other);
  dcnn_tensor_destroy(x2);
  dcnn_optimizer_destroy(adam);
  dcnn_tensor_destroy(x);
  dcnn_model_destroy(m);
  dcnn_optimizer *o = NULL;
  assert_status(dcnn_optimizer_create_adam(NULL, 0.0f, 0.9f, 0.999f, 1e-7f, 0, &o), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_optimizer_create_adam(NULL, 1e-3f, 1.0f, 0.999f, 1e-7f, 0, &o), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_optimizer_create_sgd(NULL, 1e-3f, 0.0f, DCNN_MOMENTUM_NESTEROV, 0, &o), DCNN_ERR_INVALID_ARGUMENT);
  assert_null(o);
}

/* AdamW, one step by hand: with a zero input the weights' gradient is zero, so
 * only the decoupled decay moves them, w (1 - lr wd) (L2 decay would feed wd w
 * into the moments and move them by about lr); the bias (DCNN_PARAM_NO_DECAY)
 * takes the plain Adam step and no decay. */
static void adamw_decay_is_decoupled_and_skips_no_decay(void **state) {
  (void)state;
  dcnn_shape in = dcnn_shape_make(1, 2, 0, 0, 0);
  dcnn_model *m = NULL;
  assert_ok(dcnn_model_create(NULL, &in, &m));
  dcnn_layer *l = NULL;
  assert_ok(dcnn_dense_create(2, DCNN_WITH_BIAS, &l));
  assert_ok(dcnn_model_add(m, l));
  dcnn_param w = DCNN_STRUCT_INIT(dcnn_param), b = DCNN_STRUCT_INIT(dcnn_param);
  assert_ok(dcnn_model_param(m, 0, &w, NULL));
  assert_ok(dcnn_model_param(m, 1, &b, NULL));
  assert_false(w.flags & DCNN_PARAM_NO_DECAY);
  assert_true(b.flags & DCNN_PARAM_NO_DECAY);
  const float w0[4] = {0.5f, -0.25f, 0.125f, 1.0f}, b0[2] = {0.3f, -0.2f};
  memcpy(dcnn_tensor_data(w.value), w0, sizeof w0);
  memcpy(dcnn_tensor_data(b.value), b0, sizeof b0);
  dcnn_shape xs = dcnn_shape_make(2, 1, 2, 0, 0);
  dcnn_tensor *x = NULL;
  assert_ok(dcnn_tensor_create(NULL, &xs, &x));
  memset(dcnn_tensor_data(x), 0, 2 * sizeof(float));
  const int32_t label = 0;
  const double lr = 0.01, wd = 0.1, eps = 1e-7;
  dcnn_optimizer *adamw = NULL;
  assert_ok(dcnn_optimizer_create_adam(NULL, (float)lr, 0.9f, 0.999f, (float)eps, (float)wd, &adamw));
  assert_ok(dcnn_model_train_step(m, adamw, x, &label, NULL, NULL));
  for (int i = 0; i < 4; ++i) assert_float_equal(dcnn_tensor_data(w.value)[i], w0[i] * (1 - lr * wd), 1e-6);
  /* logits = b; g = softmax(b) - onehot(0); Adam's first step */
  const double p0 = 1 / (1 + exp((double)b0[1] - b0[0]));
  const double g[2] = {p0 - 1, 1 - p0};
  const double lr_t = lr * sqrt(1 - 0.999) / (1 - 0.9);
  for (int i = 0; i < 2; ++i) {
    const double m1 = 0.1 * g[i], m2 = 0.001 * g[i] * g[i];
    assert_float_equal(dcnn_tensor_data(b.value)[i], b0[i] - lr_t * m1 / (sqrt(m2) + eps), 1e-6);
  }
  dcnn_optimizer_destroy(adamw);
  dcnn_tensor_destroy(x);
  dcnn_model_destroy(m);
}

static void schedules_give_their_formulas(void **state) {
  (void)state;
  dcnn_schedule *s = NULL;
  assert_ok(dcnn_schedule_create_step(0.1f, 3, 0.5f, &s));
  assert_float_equal(dcnn_schedule_rate(s, 0), 0.1f, 1e-7);
  assert_float_equal(dcnn_schedule_rate(s, 2), 0.1f, 1e-7);
  assert_float_equal(dcnn_schedule_rate(s, 3), 0.05f, 1e-7);
  assert_float_equal(dcnn_schedule_rate(s, 7), 0.025f, 1e-7);
  dcnn_schedule_destroy(s);
  assert_ok(dcnn_schedule_create_cosine(1.0f, 10, 0.1f, &s));
  assert_float_equal(dcnn_schedule_rate(s, 0), 1.0f, 1e-6);
  assert_float_equal(dcnn_schedule_rate(s, 5), 0.55f, 1e-6);
  assert_float_equal(dcnn_schedule_rate(s, 10), 0.1f, 1e-6);
  assert_float_equal(dcnn_schedule_rate(s, 20), 0.1f, 1e-6);
  dcnn_schedule_destroy(s);
  assert_ok(dcnn_schedule_create_plateau(1.0f, 0.5f, 1, 0.2f, DCNN_GOAL_MAXIMIZE, &s));
  const float accuracy[7] = {0.5f, 0.6f, 0.6f, 0.59f, 0.7f, 0.7f, 0.7f};
  const float expected[7] = {1.0f, 1.0f, 1.0f, 0.5f, 0.5f, 0.5f, 0.25f};
  for (int e = 0; e < 7; ++e) {
    assert_ok(dcnn_schedule_observe(s, accuracy[e]));
    assert_float_equal(dcnn_schedule_rate(s, e), expected[e], 1e-7);
  }
  assert_ok(dcnn_schedule_observe(s, 0.1f));
  assert_ok(dcnn_schedule_observe(s, 0.1f));
  assert_ok(dcnn_schedule_observe(s, 0.1f));
  assert_float_equal(dcnn_schedule_rate(s, 0), 0.2f, 1e-7); /* floored at the minimum */
  assert_status(dcnn_schedule_observe(s, NAN), DCNN_ERR_INVALID_ARGUMENT);
  dcnn_schedule_destroy(s);
  assert_status(dcnn_schedule_create_step(0.1f, 0, 0.5f, &s), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_schedule_create_cosine(0.1f, 5, 0.2f, &s), DCNN_ERR_INVALID_ARGUMENT);
  /* a NaN rate is named as the rate, not as a minimum outside [0, nan] */
  assert_status(dcnn_schedule_create_cosine(NAN, 5, 0.0f, &s), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("learning rate nan must be positive");
  assert_status(dcnn_schedule_create_warmup_cosine(NAN, 1, 5, 0.0f, &s), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("learning rate nan must be positive");
  assert_status(dcnn_schedule_create_plateau(0.1f, 1.0f, 1, 0, DCNN_GOAL_MAXIMIZE, &s), DCNN_ERR_INVALID_ARGUMENT);
  assert_null(s);
}

/* A plateau schedule only lowers the rate: its minimum must be finite and at
 * most the initial rate (a floor above it raised the rate at the first
 * reduction), one equal to it keeps the rate, and a floor above the rate in
 * a schedule's state (a checkpoint of an earlier version) is not applied. */
static void plateau_minimum_never_raises_the_rate(void **state) {
  (void)state;
  const float refused[] = {1.0f, 0.1000001f, INFINITY, NAN, -1e-3f};
  for (size_t k = 0; k < sizeof refused / sizeof refused[0]; ++k) {
    dcnn_schedule *s = (dcnn_schedule *)&s;
    assert_status(dcnn_schedule_create_plateau(0.1f, 0.5f, 0, refused[k], DCNN_GOAL_MINIMIZE, &s),
                  DCNN_ERR_INVALID_ARGUMENT);
    assert_error_mentions("plateau schedule: minimum");
    assert_null(s);
  }
  dcnn_schedule *s = NULL;
  assert_ok(dcnn_schedule_create_plateau(0.1f, 0.5f, 0, 0.1f, DCNN_GOAL_MINIMIZE, &s));
  for (int e = 0; e < 3; ++e) assert_ok(dcnn_schedule_observe(s, 1.0f + (float)e));
  assert_true(dcnn_schedule_rate(s, 3) == 0.1f);
  dcnn_schedule_destroy(s);
  assert_ok(dcnn_schedule_create_plateau(0.1f, 0.5f, 0, 0.0f, DCNN_GOAL_MINIMIZE, &s));
  s->minimum = 1.0f;
  for (int e = 0; e < 3; ++e) assert_ok(dcnn_schedule_observe(s, 1.0f + (float)e));
  assert_true(dcnn_schedule_rate(s, 3) <= 0.1f);
  dcnn_schedule_destroy(s);
}

/* Warm-up then cosine: lr 1, 2 warm-up epochs of 6, floor 0.1. The rates by
 * hand; the state survives a checkpoint's bytes into a schedule created with
 * other numbers, and a cosine schedule refuses it. */
static void warmup_cosine_ramps_then_decays(void **state) {
  (void)state;
  dcnn_schedule *s = NULL;
  assert_ok(dcnn_schedule_create_warmup_cosine(1.0f, 2, 6, 0.1f, &s));
  const double pi = 3.141592653589793;
  const double expected[8] = {0.5, 1.0, 1.0, 0.1 + 0.45 * (1 + cos(pi / 4)), 0.55, 0.1 + 0.45 * (1 + cos(3 * pi / 4)),
                              0.1, 0.1};
  for (int e = 0; e < 8; ++e) assert_float_equal(dcnn_schedule_rate(s, e), expected[e], 1e-6);
  assert_float_equal(dcnn_schedule_rate(s, 100), 0.1f, 1e-6);

  dcnn_bytes b = {0};
  dcnn__schedule_save_state(s, &b);
  assert_false(b.failed);
  dcnn_schedule *other = NULL, *cosine = NULL, staged;
  assert_ok(dcnn_schedule_create_warmup_cosine(0.3f, 1, 3, 0.0f, &other));
  dcnn_reader r = {"state", b.data, b.size, 0};
  assert_ok(dcnn__schedule_load_state(&r, other, &staged));
  assert_int_equal(r.at, r.size); /* every byte written is read */
  dcnn__schedule_commit_state(other, &staged);
  for (int e = 0; e < 8; ++e) assert_float_equal(dcnn_schedule_rate(other, e), expected[e], 1e-6);
  assert_ok(dcnn_schedule_create_cosine(1.0f, 6, 0.1f, &cosine));
  r.at = 0;
  assert_status(dcnn__schedule_load_state(&r, cosine, &staged), DCNN_ERR_INVALID_ARGUMENT);
  r = (dcnn_reader){"state", b.data, b.size - 4, 0}; /* the warm-up length cut off */
  assert_status(dcnn__schedule_load_state(&r, other, &staged), DCNN_ERR_BAD_FORMAT);
  dcnn__bytes_free(&b);
  dcnn_schedule_destroy(cosine);
  dcnn_schedule_destroy(other);
  dcnn_schedule_destroy(s);

  assert_status(dcnn_schedule_create_warmup_cosine(1.0f, 0, 6, 0.1f, &s), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_schedule_create_warmup_cosine(1.0f, 6, 6, 0.1f, &s), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_schedule_create_warmup_cosine(1.0f, 2, 6, 2.0f, &s), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_schedule_create_warmup_cosine(0.0f, 2, 6, 0.0f, &s), DCNN_ERR_INVALID_ARGUMENT);
  assert_null(s);
}

static int epochs_seen;
static int stop_after_two(const dcnn_epoch_stats *s, void *user) {
  (void)user;
  epochs_seen++;
  return s->epoch >= 2 ? DCNN_EPOCH_STOP : DCNN_EPOCH_CONTINUE;
}

/* #DCNN_TRAIN_LABEL_SMOOTHING reaches the training step (one step at the same
 * initial weights: the epoch's loss is the smoothed loss of the first batch,
 * unlike the unsmoothed run's), fractions are accepted only for it, and the
 * trainer's checkpoint state carries it; a state of 9 options (before it)
 * still reads, with smoothing off. */
static dcnn_trainer *smoothing_trainer(dcnn_model **m, dcnn_optimizer **o, double smoothing) {
  dcnn_shape in = dcnn_shape_make(3, 1, 6, 6, 0);
  assert_ok(dcnn_model_create(NULL, &in, m));
  dcnn_layer *l = NULL;
  assert_ok(dcnn_flatten_create(&l));
  assert_ok(dcnn_model_add(*m, l));
  assert_ok(dcnn_dense_create(2, DCNN_WITH_BIAS, &l));
  assert_ok(dcnn_model_add(*m, l));
  assert_ok(dcnn_softmax_create(&l));
  assert_ok(dcnn_model_add(*m, l));
  assert_ok(dcnn_model_init(*m, 5));
  assert_ok(dcnn_optimizer_create_sgd(NULL, 0.05f, 0.0f, DCNN_MOMENTUM_CLASSIC, 0, o));
  dcnn_trainer *t = NULL;
  assert_ok(dcnn_trainer_create(NULL, *m, *o, &t));
  assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_EPOCHS, 1));
  assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_BATCH_SIZE, 16));
  assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_AUGMENT, 0));
  assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_MAX_STEPS, 1));
  assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_LABEL_SMOOTHING, smoothing));
  return t;
}

static void trainer_label_smoothing_option(void **state) {
  (void)state;
  dcnn_dataset *train = test_halves(32);
  dcnn_pipeline *p = NULL;
  assert_ok(dcnn_pipeline_create(NULL, &p));
  dcnn_model *m[2];
  dcnn_optimizer *o[2];
  dcnn_trainer *t[2];
  double first_loss[2];
  for (int k = 0; k < 2; ++k) {
    t[k] = smoothing_trainer(&m[k], &o[k], k ? 0.3 : 0.0);
    assert_ok(dcnn_trainer_fit(t[k], train, NULL, p));
    dcnn_epoch_stats s = DCNN_STRUCT_INIT(dcnn_epoch_stats);
    assert_ok(dcnn_trainer_history(t[k], 0, &s));
    first_loss[k] = s.loss;
  }
  /* the same first batch at the same initial weights: only the targets differ */
  assert_true(fabs(first_loss[1] - first_loss[0]) > 1e-3);
  assert_status(dcnn_trainer_set(t[0], DCNN_TRAIN_LABEL_SMOOTHING, 1.0), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_trainer_set(t[0], DCNN_TRAIN_LABEL_SMOOTHING, -0.5), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_trainer_set(t[0], DCNN_TRAIN_LABEL_SMOOTHING, NAN), DCNN_ERR_INVALID_ARGUMENT);
  /* below 1 as a double, 1 as the float the loss takes */
  assert_status(dcnn_trainer_set(t[0], DCNN_TRAIN_LABEL_SMOOTHING, 1.0 - ldexp(1.0, -26)), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_trainer_set(t[0], DCNN_TRAIN_EMA_DECAY, 1.0 - ldexp(1.0, -26)), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("as a float");
  assert_ok(dcnn_trainer_set(t[0], DCNN_TRAIN_EMA_DECAY, 1.0 - ldexp(1.0, -23)));
  assert_ok(dcnn_trainer_set(t[0], DCNN_TRAIN_EMA_DECAY, 0));
  assert_status(dcnn_trainer_set(t[0], DCNN_TRAIN_PATIENCE, 0.5), DCNN_ERR_INVALID_ARGUMENT);

  dcnn_bytes b = {0};
  dcnn__trainer_save_own_state(t[1], &b);
  assert_false(b.failed);
  dcnn__trainer_staged staged;
  dcnn_reader r = {"state", b.data, b.size, 0};
  assert_ok(dcnn__trainer_load_own_state(&r, 6, t[0], &staged));
  assert_float_equal(staged.options[DCNN_TRAIN_LABEL_SMOOTHING], 0.3, 0);
  dcnn__trainer_staged_free(t[0], &staged);
  /* the same state as checkpoints before options 11 to 13 (mixup, cutmix, the
   * weight average), 10 and 9 wrote it: the options they lack read as 0 (off) */
  const uint8_t counts[3] = {11, 10, 9};
  uint32_t have = TRAIN_OPTIONS;
  for (int k = 0; k < 3; ++k) {
    const uint8_t count = counts[k], le[4] = {count, 0, 0, 0}; /* little-endian u32 */
    memcpy(b.data, le, 4);
    memmove(b.data + 4 + count * 8, b.data + 4 + have * 8, b.size - (4 + have * 8));
    b.size -= (have - count) * 8;
    have = count;
    r = (dcnn_reader){"state", b.data, b.size, 0};
    assert_ok(dcnn__trainer_load_own_state(&r, 6, t[0], &staged));
    assert_int_equal(r.at, r.size);
    assert_float_equal(staged.options[DCNN_TRAIN_LABEL_SMOOTHING], count > 9 ? 0.3 : 0.0, 0);
    assert_float_equal(staged.options[DCNN_TRAIN_SCHEDULE_PER_STEP], 0.0, 0);
    assert_float_equal(staged.options[DCNN_TRAIN_EMA_DECAY], 0.0, 0);
    assert_float_equal(staged.options[DCNN_TRAIN_BATCH_SIZE], 16.0, 0);
    dcnn__trainer_staged_free(t[0], &staged);
  }
  const uint8_t eight[4] = {8, 0, 0, 0}; /* never written by any version */
  memcpy(b.data, eight, 4);
  r = (dcnn_reader){"state", b.data, b.size, 0};
  assert_status(dcnn__trainer_load_own_state(&r, 6, t[0], &staged), DCNN_ERR_BAD_FORMAT);
  dcnn__bytes_free(&b);
  for (int k = 0; k < 2; ++k) {
    dcnn_trainer_destroy(t[k]);
    dcnn_optimizer_destroy(o[k]);
    dcnn_model_destroy(m[k]);
  }
  dcnn_pipeline_destroy(p);
  dcnn_dataset_destroy(train);
}

/* Mixup with a tiny alpha barely mixes: Beta(a, a) puts its mass at 0 and 1. Both gamma draws underflowed
 * below alpha 0.005 and lambda fell back to 0.5, the most mixing, for most batches. */
static void mixup_with_a_tiny_alpha_barely_mixes(void **state) {
  (void)state;
  dcnn_model *m = NULL;
  dcnn_optimizer *o = NULL;
  dcnn_trainer *t = smoothing_trainer(&m, &o, 0.0);
  enum { N = 4 };
  dcnn_shape shape = dcnn_shape_make(4, N, 1, 6, 6);
  dcnn_tensor *x = NULL;
  assert_ok(dcnn_tensor_create(NULL, &shape, &x));
  const double alphas[2] = {1e-3, 1e-4};
  for (int k = 0; k < 2; ++k) {
    assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_MIXUP, alphas[k]));
    int mixed = 0;
    for (int step = 0; step < 200; ++step) {
      int32_t labels[N] = {0, 1, 2, 3};
      const float *targets = NULL;
      const int32_t *dominant = NULL;
      assert_ok(dcnn__trainer_mix_batch(t, x, labels, 10, 1, step, NULL, &targets, &dominant));
      float top = 0;
      for (int j = 0; j < 10; ++j) top = targets[j] > top ? targets[j] : top;
      mixed += top < 0.99f; /* Beta(1e-3, 1e-3) gives lambda in (0.01, 0.99) with probability about 0.009 */
    }
    if (mixed > 10) fail_msg("alpha %g: %d of 200 batches mixed by more than 1%%", alphas[k], mixed);
  }
  /* Where both draws' logarithms are -inf the draw is even, never NaN. */
  assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_MIXUP, 1e-310));
  int32_t labels[N] = {0, 1, 2, 3};
  const float *targets = NULL;
  const int32_t *dominant = NULL;
  assert_ok(dcnn__trainer_mix_batch(t, x, labels, 10, 1, 0, NULL, &targets, &dominant));
  for (int j = 0; j < N * 10; ++j) assert_true(isfinite(targets[j]));
  dcnn_tensor_destroy(x);
  dcnn_trainer_destroy(t);
  dcnn_optimizer_destroy(o);
  dcnn_model_destroy(m);
}

/* Mixup and cutmix of a batch whose sample i is the constant i with label i
 * (10 classes): a mixed pixel is sum_j t_ij j (mixup everywhere, cutmix on
 * average over the image); targets are distributions with the smoothing's
 * floor; the same (seed, epoch, step) mixes the same way. */
static void mixup_and_cutmix_mix_images_and_targets_alike(void **state) {
  (void)state;
  dcnn_model *m = NULL;
  dcnn_optimizer *o = NULL;
  dcnn_trainer *t = smoothing_trainer(&m, &o, 0.1);
  enum { N = 10, C = 2, H = 6, W = 5 };
  dcnn_shape shape = dcnn_shape_make(4, N, C, H, W);
  dcnn_tensor *x = NULL;
  assert_ok(dcnn_tensor_create(NULL, &shape, &x));
  int32_t labels[N];
  for (int kind = 0; kind < 2; ++kind) {
    assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_MIXUP, kind ? 0.0 : 0.4));
    assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_CUTMIX, kind ? 1.0 : 0.0));
    float first[N * C * H * W], first_targets[N * 10];
    int mixed = 0;
    for (int step = 0; step < 4; ++step)
      for (int again = 0; again < 2; ++again) {
        for (int i = 0; i < N; ++i) {
          labels[i] = i;
          for (int k = 0; k < C * H * W; ++k) dcnn_tensor_data(x)[i * C * H * W + k] = (float)i;
        }
        const float *targets = NULL;
        const int32_t *dominant = NULL;
        assert_ok(dcnn__trainer_mix_batch(t, x, labels, 10, 3, step, NULL, &targets, &dominant));
        if (again) {
          assert_memory_equal(first, dcnn_tensor_data(x), sizeof first);
          assert_memory_equal(first_targets, targets, sizeof first_targets);
          continue;
        }
        memcpy(first, dcnn_tensor_data(x), sizeof first);
        memcpy(first_targets, targets, sizeof first_targets);
        for (int i = 0; i < N; ++i) {
          double sum = 0, mean_label = 0, best = 0;
          for (int j = 0; j < 10; ++j) {
            const double v = targets[i * 10 + j];
            assert_true(v >= 0.01 - 1e-6 && v <= 1.0);
            sum += v;
            mean_label += (v - 0.01) / 0.9 * j; /* without the smoothing's floor e / K = 0.01 */
            if (v > best) best = v;
          }
          assert_float_equal(sum, 1.0, 1e-5);
          assert_float_equal(targets[i * 10 + dominant[i]], best, 1e-6);
          double pixels = 0;
          for (int k = 0; k < C * H * W; ++k) pixels += dcnn_tensor_data(x)[i * C * H * W + k];
          assert_float_equal(pixels / (C * H * W), mean_label, 1e-4);
          mixed += fabs(pixels / (C * H * W) - i) > 1e-3;
        }
      }
    assert_true(mixed > 0);
  }
  /* cutmix needs (N, C, H, W): flat (N, F) input is refused with a message, mixup takes it */
  dcnn_shape flat_shape = dcnn_shape_make(2, N, C * H * W, 0, 0);
  dcnn_tensor *flat = NULL;
  assert_ok(dcnn_tensor_create(NULL, &flat_shape, &flat));
  const float *flat_targets = NULL;
  const int32_t *flat_dominant = NULL;
  assert_status(dcnn__trainer_mix_batch(t, flat, labels, 10, 0, 0, NULL, &flat_targets, &flat_dominant),
                DCNN_ERR_INVALID_ARGUMENT);
  assert_non_null(strstr(dcnn_last_error(), "DCNN_TRAIN_CUTMIX"));
  assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_CUTMIX, 0));
  assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_MIXUP, 0.4));
  assert_ok(dcnn__trainer_mix_batch(t, flat, labels, 10, 0, 0, NULL, &flat_targets, &flat_dominant));
  dcnn_tensor_destroy(flat);
  assert_status(dcnn_trainer_set(t, DCNN_TRAIN_MIXUP, -1), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_trainer_set(t, DCNN_TRAIN_CUTMIX, 11), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_trainer_set(t, DCNN_TRAIN_EMA_DECAY, 1), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_trainer_set(t, (dcnn_trainer_option)14, 1), DCNN_ERR_INVALID_ARGUMENT);
  dcnn_tensor_destroy(x);
  dcnn_trainer_destroy(t);
  dcnn_optimizer_destroy(o);
  dcnn_model_destroy(m);
}

/* The weight average by hand: after the first update it is the weights, then
 * v <- d' v + (1 - d') w with d' = min(d, (1 + u) / (10 + u)); swap exchanges
 * it with the model's weights and swapping again restores them. */
static void weight_average_follows_its_formula(void **state) {
  (void)state;
  dcnn_model *m = NULL;
  dcnn_optimizer *o = NULL;
  dcnn_trainer *t = smoothing_trainer(&m, &o, 0.0);
  assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_EMA_DECAY, 0.5));
  dcnn_param w = DCNN_STRUCT_INIT(dcnn_param);
  assert_ok(dcnn_model_param(m, 0, &w, NULL));
  float *wd = dcnn_tensor_data(w.value);
  const float w0 = wd[0];
  assert_ok(dcnn__trainer_ema_update(t)); /* u = 0: d' = min(0.5, 0.1) */
  assert_float_equal(t->ema.values[0], w0, 0);
  wd[0] = w0 + 1.0f;
  assert_ok(dcnn__trainer_ema_update(t)); /* u = 1: d' = min(0.5, 2/11) */
  const double d1 = 2.0 / 11.0, v1 = d1 * w0 + (1 - d1) * (w0 + 1.0);
  assert_float_equal(t->ema.values[0], v1, 1e-6);
  for (int u = 2; u < 30; ++u) assert_ok(dcnn__trainer_ema_update(t));
  wd[0] = w0 + 3.0f;
  const double before = t->ema.values[0];
  assert_ok(dcnn__trainer_ema_update(t)); /* u = 30: d' = 0.5 */
  assert_float_equal(t->ema.values[0], 0.5 * before + 0.5 * (w0 + 3.0), 1e-6);
  const float raw = wd[0], averaged = t->ema.values[0];
  dcnn__trainer_ema_swap(t);
  assert_float_equal(wd[0], averaged, 0);
  dcnn__trainer_ema_swap(t);
  assert_float_equal(wd[0], raw, 0);
  dcnn_trainer_destroy(t);
  dcnn_optimizer_destroy(o);
  dcnn_model_destroy(m);
}

/* The weight average covers batch-norm running statistics (buffers) with the
 * same formula, at their place among the TRAINABLE | BUFFER tensors. */
static void weight_average_covers_batch_norm_statistics(void **state) {
  (void)state;
  dcnn_shape in = dcnn_shape_make(3, 2, 3, 3, 0);
  dcnn_model *m = NULL;
  dcnn_layer *l = NULL;
  assert_ok(dcnn_model_create(NULL, &in, &m));
  assert_ok(dcnn_batchnorm_create(0.9f, 1e-3f, &l));
  assert_ok(dcnn_model_add(m, l));
  test_add_classifier(m, 2);
  assert_ok(dcnn_model_init(m, 1));
  dcnn_optimizer *o = NULL;
  assert_ok(dcnn_optimizer_create_sgd(NULL, 0.1f, 0.0f, DCNN_MOMENTUM_CLASSIC, 0.0f, &o));
  dcnn_trainer *t = NULL;
  assert_ok(dcnn_trainer_create(NULL, m, o, &t));
  assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_EMA_DECAY, 0.5));
  /* the first buffer (running mean or variance) and its offset in the average */
  float *buffer = NULL;
  int64_t offset = 0, buffers = 0;
  for (int32_t i = 0; i < dcnn_model_param_tensor_count(m); ++i) {
    dcnn_param p = DCNN_STRUCT_INIT(dcnn_param);
    assert_ok(dcnn_model_param(m, i, &p, NULL));
    if (!(p.flags & (DCNN_PARAM_TRAINABLE | DCNN_PARAM_BUFFER))) continue;
    if (p.flags & DCNN_PARAM_BUFFER) {
      buffers++;
      if (!buffer) buffer = dcnn_tensor_data(p.value);
    }
    if (!buffer) offset += dcnn_tensor_count(p.value);
  }
  assert_true(buffers >= 2); /* running mean and variance */
  assert_non_null(buffer);
  const float b0 = buffer[1];
  assert_ok(dcnn__trainer_ema_update(t)); /* u = 0: the weights themselves */
  assert_float_equal(t->ema.values[offset + 1], b0, 0);
  buffer[1] = b0 + 2.0f;
  assert_ok(dcnn__trainer_ema_update(t)); /* u = 1: d' = 2/11 */
  const double d1 = 2.0 / 11.0;
  assert_float_equal(t->ema.values[offset + 1], d1 * b0 + (1 - d1) * (b0 + 2.0), 1e-6);
  const float averaged = t->ema.values[offset + 1];
  dcnn__trainer_ema_swap(t); /* validation sees the averaged statistics */
  assert_float_equal(buffer[1], averaged, 0);
  dcnn__trainer_ema_swap(t);
  assert_float_equal(buffer[1], b0 + 2.0f, 0);
  dcnn_trainer_destroy(t);
  dcnn_optimizer_destroy(o);
  dcnn_model_destroy(m);
}

/* A training set of k batches and one sample: batch norm after a dense layer
 * (one value per channel), alone or inside a residual block, cannot train on
 * the lone last sample, so the trainer skips that batch (k steps an epoch)
 * instead of failing; without batch norm, or with a remainder of two, the
 * last batch is kept. */
static void a_lone_last_sample_is_skipped_with_batch_norm(void **state) {
  (void)state;
  for (int bn = 0; bn < 3; ++bn) /* none, plain, inside a residual block */
    for (int32_t extra = 1; extra <= 2; ++extra) {
      dcnn_dataset *train = test_halves(3 * 16 + extra);
      dcnn_pipeline *p = NULL;
      assert_ok(dcnn_pipeline_create(NULL, &p));
      dcnn_shape in = dcnn_shape_make(3, 1, 6, 6, 0);
      dcnn_model *m = NULL;
      dcnn_layer *l = NULL;
      assert_ok(dcnn_model_create(NULL, &in, &m));
      assert_ok(dcnn_flatten_create(&l));
      assert_ok(dcnn_model_add(m, l));
      assert_ok(dcnn_dense_create(8, DCNN_WITH_BIAS, &l));
      assert_ok(dcnn_model_add(m, l));
      if (bn == 1) {
        assert_ok(dcnn_batchnorm_create(0.9f, 1e-3f, &l));
        assert_ok(dcnn_model_add(m, l));
      }
      if (bn == 2) {
        dcnn_layer *body[1] = {NULL};
        assert_ok(dcnn_batchnorm_create(0.9f, 1e-3f, &body[0]));
        assert_ok(dcnn_residual_create(body, 1, NULL, 0, DCNN_RESIDUAL_RELU, &l));
        assert_ok(dcnn_model_add(m, l));
      }
      test_add_classifier(m, 2);
      assert_ok(dcnn_model_init(m, 3));
      dcnn_optimizer *o = NULL;
      assert_ok(dcnn_optimizer_create_sgd(NULL, 0.05f, 0.0f, DCNN_MOMENTUM_CLASSIC, 0.0f, &o));
      dcnn_trainer *t = NULL;
      assert_ok(dcnn_trainer_create(NULL, m, o, &t));
      assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_EPOCHS, 2));
      assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_BATCH_SIZE, 16));
      assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_AUGMENT, 0));
      assert_ok(dcnn_trainer_fit(t, train, NULL, p));
      for (int32_t e = 0; e < 2; ++e) {
        dcnn_epoch_stats s = DCNN_STRUCT_INIT(dcnn_epoch_stats);
        assert_ok(dcnn_trainer_history(t, e, &s));
        assert_int_equal(s.steps, bn && extra == 1 ? 3 : 4);
        assert_true(isfinite(s.loss));
      }
      dcnn_trainer_destroy(t);
      dcnn_optimizer_destroy(o);
      dcnn_model_destroy(m);
      dcnn_pipeline_destroy(p);
      dcnn_dataset_destroy(train);
    }
}

/* Test-time augmentation: one copy is dcnn_evaluate(); five copies give the
 * loss of the outputs averaged over shifts computed here by hand. */
static void tta_averages_shifted_copies(void **state) {
  (void)state;
  dcnn_model *m = NULL;
  dcnn_optimizer *o = NULL;
  dcnn_trainer *t = smoothing_trainer(&m, &o, 0.0);
  dcnn_dataset *ds = test_halves(32);
  dcnn_pipeline *p = NULL;
  assert_ok(dcnn_pipeline_create(NULL, &p));
  assert_ok(dcnn_trainer_fit(t, ds, NULL, p));
  dcnn_metrics *metrics = NULL;
  assert_ok(dcnn_metrics_create(NULL, 2, &metrics));
  double plain = 0, one = 0, five = 0, a = 0, b = 0;
  assert_ok(dcnn_evaluate(m, ds, p, 7, metrics, &plain));
  assert_ok(dcnn_metrics_get(metrics, DCNN_METRIC_ACCURACY, DCNN_AVERAGE_MACRO, &a));
  assert_ok(dcnn_metrics_reset(metrics));
  assert_ok(dcnn_evaluate_tta(m, ds, p, 7, 1, 1, metrics, &one));
  assert_ok(dcnn_metrics_get(metrics, DCNN_METRIC_ACCURACY, DCNN_AVERAGE_MACRO, &b));
  assert_float_equal(plain, one, 1e-9);
  assert_float_equal(a, b, 0);
  assert_ok(dcnn_metrics_reset(metrics));
  assert_ok(dcnn_evaluate_tta(m, ds, p, 7, 5, 1, metrics, &five));
  /* by hand: the whole set in one batch, shifted with edge repetition */
  dcnn_shape xs = dcnn_shape_make(4, 32, 1, 6, 6), ys = dcnn_shape_make(2, 32, 2, 0, 0);
  dcnn_tensor *x = NULL, *shifted = NULL, *y = NULL;
  assert_ok(dcnn_tensor_create(NULL, &xs, &x));
  assert_ok(dcnn_tensor_create(NULL, &xs, &shifted));
  assert_ok(dcnn_tensor_create(NULL, &ys, &y));
  int32_t idx[32], labels[32];
  for (int i = 0; i < 32; ++i) idx[i] = i;
  assert_ok(dcnn_pipeline_batch(p, ds, idx, 32, DCNN_AUGMENT_OFF, 0, 0, x, labels));
  const int shifts[5][2] = {{0, 0}, {1, 0}, {-1, 0}, {0, 1}, {0, -1}};
  double mean[32][2] = {{0}};
  for (int c = 0; c < 5; ++c) {
    for (int i = 0; i < 32; ++i)
      for (int yy = 0; yy < 6; ++yy)
        for (int xx = 0; xx < 6; ++xx) {
          int sy = yy + shifts[c][0], sx = xx + shifts[c][1];
          sy = sy < 0 ? 0 : sy > 5 ? 5 : sy;
          sx = sx < 0 ? 0 : sx > 5 ? 5 : sx;
          dcnn_tensor_data(shifted)[i * 36 + yy * 6 + xx] = dcnn_tensor_data(x)[i * 36 + sy * 6 + sx];
        }
    assert_ok(dcnn_model_predict(m, shifted, y));
    for (int i = 0; i < 32; ++i)
      for (int j = 0; j < 2; ++j) mean[i][j] += dcnn_tensor_data(y)[i * 2 + j] / 5.0;
  }
  assert_ok(dcnn_model_predict_tta(m, x, 5, 1, y));
  for (int i = 0; i < 32; ++i)
    for (int j = 0; j < 2; ++j) assert_float_equal(dcnn_tensor_data(y)[i * 2 + j], mean[i][j], 1e-6);
  double expected = 0;
  for (int i = 0; i < 32; ++i) expected -= log(mean[i][labels[i]]) / 32;
  assert_float_equal(five, expected, 1e-5);
  assert_true(fabs(five - plain) > 1e-6);
  assert_status(dcnn_evaluate_tta(m, ds, p, 7, 4, 1, metrics, NULL), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_evaluate_tta(m, ds, p, 7, 5, 0, metrics, NULL), DCNN_ERR_INVALID_ARGUMENT);
  { /* an output of the wrong shape is refused as this call's, and left as it was */
    const dcnn_shape wrong_shape = dcnn_shape_make(2, 32, 3, 0, 0);
    dcnn_tensor *wrong = NULL;
    assert_ok(dcnn_tensor_create(NULL, &wrong_shape, &wrong));
    dcnn_tensor_data(wrong)[0] = 7.0f;
    assert_status(dcnn_model_predict_tta(m, x, 5, 1, wrong), DCNN_ERR_SHAPE_MISMATCH);
    assert_error_mentions("dcnn_model_predict_tta: output is (32, 3), expected (32, 2)");
    assert_true(dcnn_tensor_data(wrong)[0] == 7.0f);
    dcnn_tensor_destroy(wrong);
  }
  dcnn_tensor_destroy(x);
  dcnn_tensor_destroy(shifted);
  dcnn_tensor_destroy(y);
  dcnn_metrics_destroy(metrics);
  dcnn_pipeline_destroy(p);
  dcnn_dataset_destroy(ds);
  dcnn_trainer_destroy(t);
  dcnn_optimizer_destroy(o);
  dcnn_model_destroy(m);
}

/* A dense softmax classifier of (1, side, side) inputs into `classes`, its weights from `seed`. */
static dcnn_model *dense_classifier(int32_t side, int32_t classes, uint64_t seed) {
  dcnn_shape in = dcnn_shape_make(3, 1, side, side, 0);
  dcnn_model *m = NULL;
  assert_ok(dcnn_model_create(NULL, &in, &m));
  test_add_classifier(m, classes);
  assert_ok(dcnn_model_init(m, seed));
  return m;
}

static dcnn_status pass_batch(dcnn_model *m, dcnn_tensor *x, const int32_t *labels, int64_t step, void *user) {
  (void)m, (void)x, (void)labels, (void)step, (void)user;
  return DCNN_OK;
}
static dcnn_status fill_state(void *user, uint8_t *out, size_t capacity, size_t *size) {
  (void)user;
  memset(out, 7, capacity);
  *size = capacity;
  return DCNN_OK;
}
static dcnn_status count_state(void *user, const uint8_t *data, size_t size) {
  (void)data;
  *(size_t *)user = size;
  return DCNN_OK;
}

/* A hook saves at most DCNN_BATCH_HOOK_STATE_MAX bytes, and its load_state
 * may rely on that: a checkpoint whose hook state is longer is malformed
 * (it was handed all of it, 64 KB in the reviewer's file). */
static void hook_state_longer_than_any_save_is_refused(void **state) {
  (void)state;
  dcnn_model *m = dense_classifier(4, 3, 1);
  dcnn_optimizer *o = NULL;
  dcnn_trainer *t = NULL;
  assert_ok(dcnn_optimizer_create_sgd(NULL, 0.1f, 0.0f, DCNN_MOMENTUM_CLASSIC, 0.0f, &o));
  assert_ok(dcnn_trainer_create(NULL, m, o, &t));
  size_t given = 0;
  dcnn_batch_hook hook = {sizeof hook, pass_batch, &given, NULL, fill_state, count_state, NULL};
  assert_ok(dcnn_trainer_set_batch_hook(t, &hook));
  for (size_t extra = 0; extra < 2; ++extra) {
    dcnn_bytes b = {0};
    dcnn__bytes_u32(&b, 1); /* the hook's state follows */
    for (size_t i = 0; i < DCNN_BATCH_HOOK_STATE_MAX + extra; ++i) dcnn__bytes_put(&b, (const uint8_t *)"x", 1);
    assert_false(b.failed);
    dcnn_reader r = {"state", b.data, b.size, 0};
    dcnn__hook_staged staged;
    if (!extra) {
      assert_ok(dcnn__trainer_load_hook_state(&r, t, &staged));
      assert_ok(dcnn__trainer_apply_hook_state(t, &staged));
      assert_int_equal(given, DCNN_BATCH_HOOK_STATE_MAX);
    } else {
      assert_status(dcnn__trainer_load_hook_state(&r, t, &staged), DCNN_ERR_BAD_FORMAT);
      assert_error_mentions("4097 bytes");
    }
    dcnn__bytes_free(&b);
  }
  dcnn_trainer_destroy(t);
  dcnn_optimizer_destroy(o);
  dcnn_model_destroy(m);
}

/* A dataset with more classes than the model's outputs is refused before any
 * batch (it used to fail part-way, at the first label past the model's, or
 * pass when no such label came); fewer classes (a subset of the digits) fit. */
static void evaluate_checks_the_dataset_classes_first(void **state) {
  (void)state;
  dcnn_model *m = dense_classifier(6, 4, 1);
  uint8_t pixels[4 * 36] = {0};
  const int32_t labels[4] = {0, 1, 2, 0};
  dcnn_dataset *wide = NULL, *narrow = NULL;
  assert_ok(dcnn_dataset_create(NULL, 4, 6, 6, 1, pixels, labels, 5, &wide));
  assert_ok(dcnn_dataset_create(NULL, 4, 6, 6, 1, pixels, labels, 3, &narrow));
  dcnn_pipeline *p = NULL;
  assert_ok(dcnn_pipeline_create(NULL, &p));
  dcnn_metrics *metrics = NULL;
  assert_ok(dcnn_metrics_create(NULL, 4, &metrics));
  assert_status(dcnn_evaluate(m, wide, p, 2, metrics, NULL), DCNN_ERR_SHAPE_MISMATCH);
  assert_error_mentions("dcnn_evaluate: the dataset has 5 classes, the model gives 4 outputs per sample");
  assert_int_equal(dcnn_metrics_count(metrics), 0);
  assert_status(dcnn_evaluate_tta(m, wide, p, 2, 5, 1, metrics, NULL), DCNN_ERR_SHAPE_MISMATCH);
  assert_int_equal(dcnn_metrics_count(metrics), 0);
  assert_ok(dcnn_evaluate(m, narrow, p, 2, metrics, NULL));
  assert_int_equal(dcnn_metrics_count(metrics), 4);
  dcnn_metrics_destroy(metrics);
  dcnn_pipeline_destroy(p);
  dcnn_dataset_destroy(wide);
  dcnn_dataset_destroy(narrow);
  dcnn_model_destroy(m);
}

/* Samples of another size or colour than the model takes are refused before
 * any batch, naming the called function: test-time shifts sized their scratch
 * from the model and copied the batch's larger samples past its end. */
static void evaluate_checks_the_sample_shape_first(void **state) {
  (void)state;
  dcnn_model *m = dense_classifier(4, 2, 1); /* (1, 4, 4) */
  dcnn_dataset *ds = test_halves(9);        /* (1, 6, 6) */
  dcnn_pipeline *p = NULL;
  assert_ok(dcnn_pipeline_create(NULL, &p));
  dcnn_metrics *metrics = NULL;
  assert_ok(dcnn_metrics_create(NULL, 2, &metrics));
  assert_status(dcnn_evaluate_tta(m, ds, p, 4, 5, 1, metrics, NULL), DCNN_ERR_SHAPE_MISMATCH);
  assert_error_mentions("dcnn_evaluate_tta: the pipeline makes samples (1, 6, 6), the model takes (1, 4, 4)");
  assert_status(dcnn_evaluate(m, ds, p, 4, metrics, NULL), DCNN_ERR_SHAPE_MISMATCH);
  assert_error_mentions("dcnn_evaluate: the pipeline makes samples (1, 6, 6)");
  assert_int_equal(dcnn_metrics_count(metrics), 0);
  assert_ok(dcnn_pipeline_set(p, DCNN_PIPE_HEIGHT, 4));
  assert_ok(dcnn_pipeline_set(p, DCNN_PIPE_WIDTH, 4));
  assert_ok(dcnn_evaluate_tta(m, ds, p, 4, 5, 1, metrics, NULL));
  assert_int_equal(dcnn_metrics_count(metrics), 9);
  dcnn_model *rgb = NULL; /* (3, 4, 4): the pipeline's one channel is refused too */
  const dcnn_shape in = dcnn_shape_make(3, 3, 4, 4, 0);
  assert_ok(dcnn_model_create(NULL, &in, &rgb));
  test_add_classifier(rgb, 2);
  assert_ok(dcnn_model_init(rgb, 2));
  assert_status(dcnn_evaluate_tta(rgb, ds, p, 4, 9, 1, metrics, NULL), DCNN_ERR_SHAPE_MISMATCH);
  assert_error_mentions("the model takes (3, 4, 4)");
  dcnn_model_destroy(rgb);
  dcnn_metrics_destroy(metrics);
  dcnn_pipeline_destroy(p);
  dcnn_dataset_destroy(ds);
  dcnn_model_destroy(m);
}

/* A model of raw scores (no final softmax) is evaluated on their softmax, as
 * its twin with a softmax layer is: the same loss, metrics and TTA loss. The
 * scores used to be taken as probabilities (the loss -log(max(s, 1e-15))). */
static void evaluate_takes_the_softmax_of_raw_scores(void **state) {
  (void)state;
  const dcnn_shape in = dcnn_shape_make(3, 1, 6, 6, 0);
  dcnn_model *scores = NULL, *probs = dense_classifier(6, 2, 3);
  assert_ok(dcnn_model_create(NULL, &in, &scores));
  dcnn_layer *l = NULL;
  assert_ok(dcnn_flatten_create(&l));
  assert_ok(dcnn_model_add(scores, l));
  assert_ok(dcnn_dense_create(2, DCNN_WITH_BIAS, &l));
  assert_ok(dcnn_model_add(scores, l));
  assert_ok(dcnn_model_init(scores, 3)); /* the same weights as probs' dense layer */
  dcnn_dataset *ds = test_halves(11);
  dcnn_pipeline *p = NULL;
  assert_ok(dcnn_pipeline_create(NULL, &p));
  dcnn_metrics *a = NULL, *b = NULL;
  assert_ok(dcnn_metrics_create(NULL, 2, &a));
  assert_ok(dcnn_metrics_create(NULL, 2, &b));
  double loss_scores = 0, loss_probs = 0, auc_scores = 0, auc_probs = 0;
  assert_ok(dcnn_evaluate(scores, ds, p, 4, a, &loss_scores));
  assert_ok(dcnn_evaluate(probs, ds, p, 4, b, &loss_probs));
  assert_float_equal(loss_scores, loss_probs, 1e-6);
  assert_true(loss_probs > 0.05 && loss_probs < 5); /* a finite cross-entropy, not -log(1e-15) = 34.5 */
  assert_ok(dcnn_metrics_get(a, DCNN_METRIC_ROC_AUC, DCNN_AVERAGE_MACRO, &auc_scores));
  assert_ok(dcnn_metrics_get(b, DCNN_METRIC_ROC_AUC, DCNN_AVERAGE_MACRO, &auc_probs));
  assert_float_equal(auc_scores, auc_probs, 1e-9);
  assert_ok(dcnn_metrics_reset(a));
  assert_ok(dcnn_metrics_reset(b));
  assert_ok(dcnn_evaluate_tta(scores, ds, p, 4, 5, 1, a, &loss_scores));
  assert_ok(dcnn_evaluate_tta(probs, ds, p, 4, 5, 1, b, &loss_probs));
  assert_float_equal(loss_scores, loss_probs, 1e-6);
  dcnn_metrics_destroy(a);
  dcnn_metrics_destroy(b);
  dcnn_pipeline_destroy(p);
  dcnn_dataset_destroy(ds);
  dcnn_model_destroy(scores);
  dcnn_model_destroy(probs);
}

/* Ensembles: members with their own input sizes, weighted 3 : 1, give the
 * loss and accuracy of the mean computed here by hand (batches of 7, so the
 * last one is partial); one member of any weight is dcnn_evaluate(); bad
 * members and weights are refused. */
static void ensemble_averages_members_through_their_pipelines(void **state) {
  (void)state;
  enum { N = 32 };
  dcnn_dataset *ds = test_halves(N); /* (1, 6, 6) images, 2 classes */
  dcnn_model *big = dense_classifier(6, 2, 5), *small = dense_classifier(4, 2, 11), *three = dense_classifier(6, 3, 5);
  dcnn_pipeline *p6 = NULL, *p4 = NULL;
  assert_ok(dcnn_pipeline_create(NULL, &p6));
  assert_ok(dcnn_pipeline_create(NULL, &p4));
  assert_ok(dcnn_pipeline_set(p4, DCNN_PIPE_HEIGHT, 4));
  assert_ok(dcnn_pipeline_set(p4, DCNN_PIPE_WIDTH, 4));
  /* by hand: the whole set in one batch through each pipeline */
  dcnn_shape x6s = dcnn_shape_make(4, N, 1, 6, 6), x4s = dcnn_shape_make(4, N, 1, 4, 4), ys = dcnn_shape_make(2, N, 2, 0, 0);
  dcnn_tensor *x6 = NULL, *x4 = NULL, *y6 = NULL, *y4 = NULL;
  assert_ok(dcnn_tensor_create(NULL, &x6s, &x6));
  assert_ok(dcnn_tensor_create(NULL, &x4s, &x4));
  assert_ok(dcnn_tensor_create(NULL, &ys, &y6));
  assert_ok(dcnn_tensor_create(NULL, &ys, &y4));
  int32_t idx[N], labels[N];
  for (int i = 0; i < N; ++i) idx[i] = i;
  assert_ok(dcnn_pipeline_batch(p6, ds, idx, N, DCNN_AUGMENT_OFF, 0, 0, x6, labels));
  assert_ok(dcnn_pipeline_batch(p4, ds, idx, N, DCNN_AUGMENT_OFF, 0, 0, x4, labels));
  assert_ok(dcnn_model_predict(big, x6, y6));
  assert_ok(dcnn_model_predict(small, x4, y4));
  double expected_loss = 0, mean_correct = 0, small_correct = 0, big_correct = 0;
  for (int i = 0; i < N; ++i) {
    const float *a = dcnn_tensor_data(y6) + 2 * i, *b = dcnn_tensor_data(y4) + 2 * i;
    const double m0 = 0.75 * a[0] + 0.25 * b[0], m1 = 0.75 * a[1] + 0.25 * b[1];
    expected_loss -= log(labels[i] ? m1 : m0) / N;
    mean_correct += (m1 > m0) == (labels[i] == 1);
    big_correct += (a[1] > a[0]) == (labels[i] == 1);
    small_correct += (b[1] > b[0]) == (labels[i] == 1);
  }
  dcnn_metrics *metrics = NULL;
  assert_ok(dcnn_metrics_create(NULL, 2, &metrics));
  dcnn_model *members[2] = {big, small};
  dcnn_pipeline *pipelines[2] = {p6, p4};
  const float weights[2] = {3.0f, 1.0f};
  double loss = 0, accuracy = 0, alone = 0;
  assert_ok(dcnn_evaluate_ensemble(members, pipelines, weights, 2, ds, 7, metrics, &loss));
  assert_ok(dcnn_metrics_get(metrics, DCNN_METRIC_ACCURACY, DCNN_AVERAGE_MACRO, &accuracy));
  assert_float_equal(loss, expected_loss, 1e-5);
  assert_float_equal(accuracy, mean_correct / N, 1e-12);
  assert_int_equal(dcnn_metrics_count(metrics), N);
  /* the mean is neither member alone (else this test could not fail) */
  assert_ok(dcnn_metrics_reset(metrics));
  assert_ok(dcnn_evaluate(big, ds, p6, 7, metrics, &alone));
  assert_true(fabs(alone - loss) > 1e-4);
  assert_ok(dcnn_metrics_get(metrics, DCNN_METRIC_ACCURACY, DCNN_AVERAGE_MACRO, &accuracy));
  assert_float_equal(accuracy, big_correct / N, 1e-12);
  /* one member, any weight: dcnn_evaluate() */
  const float five = 5.0f;
  double one = 0;
  assert_ok(dcnn_metrics_reset(metrics));
  assert_ok(dcnn_evaluate_ensemble(&small, &p4, &five, 1, ds, 7, metrics, &one));
  assert_ok(dcnn_metrics_get(metrics, DCNN_METRIC_ACCURACY, DCNN_AVERAGE_MACRO, &accuracy));
  assert_float_equal(accuracy, small_correct / N, 1e-12);
  assert_ok(dcnn_metrics_reset(metrics));
  assert_ok(dcnn_evaluate(small, ds, p4, 7, metrics, &alone));
  assert_float_equal(one, alone, 1e-9);
  /* refusals, before anything is added to the metrics */
  assert_ok(dcnn_metrics_reset(metrics));
  const float negative[2] = {1.0f, -1.0f}, zero[2] = {0.0f, 0.0f}, nan_weight[2] = {1.0f, NAN};
  assert_status(dcnn_evaluate_ensemble(members, pipelines, negative, 2, ds, 7, metrics, NULL), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_evaluate_ensemble(members, pipelines, zero, 2, ds, 7, metrics, NULL), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_evaluate_ensemble(members, pipelines, nan_weight, 2, ds, 7, metrics, NULL), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_evaluate_ensemble(members, pipelines, NULL, 0, ds, 7, metrics, NULL), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_evaluate_ensemble(members, pipelines, NULL, DCNN_ENSEMBLE_MAX_MEMBERS + 1, ds, 7, metrics, NULL),
                DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_evaluate_ensemble(members, pipelines, NULL, 2, ds, 0, metrics, NULL), DCNN_ERR_INVALID_ARGUMENT);
  dcnn_model *with_null[2] = {big, NULL};
  assert_status(dcnn_evaluate_ensemble(with_null, pipelines, NULL, 2, ds, 7, metrics, NULL), DCNN_ERR_INVALID_ARGUMENT);
  dcnn_model *mismatched[2] = {big, three};
  dcnn_pipeline *sixes[2] = {p6, p6};
  assert_status(dcnn_evaluate_ensemble(mismatched, sixes, NULL, 2, ds, 7, metrics, NULL), DCNN_ERR_SHAPE_MISMATCH);
  assert_non_null(strstr(dcnn_last_error(), "member 1 gives 3 outputs"));
  /* a member fed the wrong input size: the model's own error, nothing added */
  assert_int_not_equal(dcnn_evaluate_ensemble(members, sixes, NULL, 2, ds, 7, metrics, NULL), DCNN_OK);
  assert_int_equal(dcnn_metrics_count(metrics), 0);
  dcnn_metrics_destroy(metrics);
  dcnn_tensor_destroy(x6);
  dcnn_tensor_destroy(x4);
  dcnn_tensor_destroy(y6);
  dcnn_tensor_destroy(y4);
  dcnn_pipeline_destroy(p6);
  dcnn_pipeline_destroy(p4);
  dcnn_model_destroy(big);
  dcnn_model_destroy(small);
  dcnn_model_destroy(three);
  dcnn_dataset_destroy(ds);
}

/* dcnn_schedule_rate_at(): the formulas at positions inside epochs, agreement
 * with the per-epoch rates at epoch boundaries, and positions <= 0 or NaN
 * taken as the first step. */
static void schedule_rate_at_positions(void **state) {
  (void)state;
  const double pi = 3.141592653589793;
  dcnn_schedule *warm = NULL, *cosine = NULL, *step = NULL, *plateau = NULL;
  assert_ok(dcnn_schedule_create_warmup_cosine(1.0f, 2, 6, 0.1f, &warm));
  assert_ok(dcnn_schedule_create_cosine(1.0f, 4, 0.0f, &cosine));
  assert_ok(dcnn_schedule_create_step(1.0f, 2, 0.5f, &step));
  assert_ok(dcnn_schedule_create_plateau(0.7f, 0.5f, 1, 0.0f, DCNN_GOAL_MAXIMIZE, &plateau));
  assert_float_equal(dcnn_schedule_rate_at(warm, 0.25), 0.125, 1e-6); /* lr p / W */
  assert_float_equal(dcnn_schedule_rate_at(warm, 1.5), 0.75, 1e-6);
  assert_float_equal(dcnn_schedule_rate_at(warm, 2.0), 1.0, 1e-6); /* the peak at the end of warm-up */
  assert_float_equal(dcnn_schedule_rate_at(warm, 3.0), 0.1 + 0.45 * (1 + cos(pi / 4)), 1e-6);
  assert_float_equal(dcnn_schedule_rate_at(warm, 4.5), 0.1 + 0.45 * (1 + cos(pi * 2.5 / 4)), 1e-6);
  assert_float_equal(dcnn_schedule_rate_at(warm, 60.0), 0.1, 1e-6);
  assert_true(dcnn_schedule_rate_at(warm, 0.0) > 0.0f); /* never a wasted step at rate 0 */
  assert_true(dcnn_schedule_rate_at(warm, NAN) > 0.0f);
  for (int e = 2; e < 8; ++e) assert_float_equal(dcnn_schedule_rate_at(warm, e), dcnn_schedule_rate(warm, e), 1e-6);
  for (int e = 0; e < 6; ++e) assert_float_equal(dcnn_schedule_rate_at(cosine, e), dcnn_schedule_rate(cosine, e), 1e-6);
  assert_float_equal(dcnn_schedule_rate_at(cosine, 1.0 / 3), 0.5 * (1 + cos(pi / 12)), 1e-6);
  /* step schedules: a position inside epoch e, or at its end, is epoch e's rate */
  for (int e = 0; e < 6; ++e) {
    assert_float_equal(dcnn_schedule_rate_at(step, e + 0.5), dcnn_schedule_rate(step, e), 0);
    assert_float_equal(dcnn_schedule_rate_at(step, e + 1.0), dcnn_schedule_rate(step, e), 0);
  }
  assert_float_equal(dcnn_schedule_rate_at(plateau, 3.3), 0.7, 1e-7);
  assert_float_equal(dcnn_schedule_rate_at(NULL, 1.0), 0.0, 0);
  dcnn_schedule_destroy(warm);
  dcnn_schedule_destroy(cosine);
  dcnn_schedule_destroy(step);
  dcnn_schedule_destroy(plateau);
}

/* #DCNN_TRAIN_SCHEDULE_PER_STEP: with warm-up the rate moves every step, so
 * the optimizer ends at the rate of the last step's position (not of the last
 * epoch's start) and the weights differ from a per-epoch run's; only 0 and 1
 * are accepted. */
static void trainer_schedule_per_step_option(void **state) {
  (void)state;
  dcnn_dataset *train = test_halves(64);
  dcnn_pipeline *p = NULL;
  assert_ok(dcnn_pipeline_create(NULL, &p));
  dcnn_model *m[2];
  dcnn_optimizer *o[2];
  dcnn_trainer *t[2];
  dcnn_schedule *s[2];
  for (int k = 0; k < 2; ++k) {
    t[k] = smoothing_trainer(&m[k], &o[k], 0.0);
    assert_ok(dcnn_trainer_set(t[k], DCNN_TRAIN_MAX_STEPS, 0));
    assert_ok(dcnn_trainer_set(t[k], DCNN_TRAIN_EPOCHS, 3));
    assert_ok(dcnn_schedule_create_warmup_cosine(0.05f, 2, 4, 0.0f, &s[k]));
    assert_ok(dcnn_trainer_set_schedule(t[k], s[k]));
    assert_ok(dcnn_trainer_set(t[k], DCNN_TRAIN_SCHEDULE_PER_STEP, k));
    assert_ok(dcnn_trainer_fit(t[k], train, NULL, p));
  }
  /* 64 images, batch 16: 4 steps per epoch; the last step's middle is at 2 + 3.5 / 4 */
  assert_float_equal(dcnn_optimizer_learning_rate(o[0]), dcnn_schedule_rate(s[0], 2), 1e-7);
  assert_float_equal(dcnn_optimizer_learning_rate(o[1]), dcnn_schedule_rate_at(s[1], 2.875), 1e-7);
  dcnn_epoch_stats first = DCNN_STRUCT_INIT(dcnn_epoch_stats);
  assert_ok(dcnn_trainer_history(t[1], 0, &first));
  assert_float_equal(first.learning_rate, dcnn_schedule_rate_at(s[1], 0.125), 1e-7); /* the epoch's first step */
  float w[2];
  for (int k = 0; k < 2; ++k) {
    dcnn_param kernel = DCNN_STRUCT_INIT(dcnn_param);
    assert_ok(dcnn_model_param(m[k], 0, &kernel, NULL));
    w[k] = dcnn_tensor_data(kernel.value)[0];
  }
  assert_true(w[0] != w[1]);
  assert_status(dcnn_trainer_set(t[0], DCNN_TRAIN_SCHEDULE_PER_STEP, 2), DCNN_ERR_INVALID_ARGUMENT);
  for (int k = 0; k < 2; ++k) {
    dcnn_trainer_destroy(t[k]);
    dcnn_schedule_destroy(s[k]);
    dcnn_optimizer_destroy(o[k]);
    dcnn_model_destroy(m[k]);
  }
  dcnn_pipeline_destroy(p);
  dcnn_dataset_destroy(train);
}

/* The floats of every parameter of `m`, in order, into `out` (capacity `n`). */
static int64_t copy_weights(dcnn_model *m, float *out, int64_t n) {
  int64_t at = 0;
  for (int32_t i = 0; i < dcnn_model_param_tensor_count(m); ++i) {
    dcnn_param p = DCNN_STRUCT_INIT(dcnn_param);
    assert_ok(dcnn_model_param(m, i, &p, NULL));
    assert_true(at + dcnn_tensor_count(p.value) <= n);
    memcpy(out + at, dcnn_tensor_data(p.value), (size_t)dcnn_tensor_count(p.value) * sizeof(float));
    at += dcnn_tensor_count(p.value);
  }
  return at;
}

/* A schedule may reach a rate of 0 (a cosine to its documented minimum of 0,
 * past its epochs, per epoch or per step; a step decay that underflows): the
 * trainer takes it, SGD and Adam then leave the weights as they are, and a
 * checkpoint written at that rate resumes. A rate the caller sets must still
 * be positive (optimizer.h). */
static void a_scheduled_rate_of_zero_leaves_the_weights(void **state) {
  (void)state;
  dcnn_dataset *train = test_halves(32);
  dcnn_pipeline *p = NULL;
  assert_ok(dcnn_pipeline_create(NULL, &p));
  char path[256];
  snprintf(path, sizeof path, "%s/dcnn-rate0-%d.dcnn", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
  for (int k = 0; k < 5; ++k) { /* bit 0: Adam, bit 1: per step; 4: a step decay to 0 */
    dcnn_shape in = dcnn_shape_make(3, 1, 6, 6, 0);
    dcnn_model *m = NULL;
    assert_ok(dcnn_model_create(NULL, &in, &m));
    test_add_classifier(m, 2);
    assert_ok(dcnn_model_init(m, 5));
    dcnn_optimizer *o = NULL;
    if (k & 1) assert_ok(dcnn_optimizer_create_adam(NULL, 0.01f, 0.9f, 0.999f, 1e-7f, 1e-4f, &o));
    else assert_ok(dcnn_optimizer_create_sgd(NULL, 0.1f, 0.9f, DCNN_MOMENTUM_CLASSIC, 1e-4f, &o));
    dcnn_schedule *s = NULL;
    if (k == 4) assert_ok(dcnn_schedule_create_step(0.1f, 1, 1e-30f, &s)); /* 0.1, 1e-31, then 0 */
    else assert_ok(dcnn_schedule_create_cosine(0.1f, 2, 0.0f, &s));
    dcnn_trainer *t = NULL;
    assert_ok(dcnn_trainer_create(NULL, m, o, &t));
    assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_EPOCHS, 2));
    assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_BATCH_SIZE, 16));
    assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_AUGMENT, 0));
    assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_SCHEDULE_PER_STEP, (k & 2) ? 1 : 0));
    assert_ok(dcnn_trainer_set_schedule(t, s));
    assert_ok(dcnn_trainer_fit(t, train, NULL, p));
    float before[128], after[128];
    const int64_t n = copy_weights(m, before, 128);
    assert_ok(dcnn_trainer_fit(t, train, NULL, p)); /* epochs 3 and 4: rate 0 */
    assert_int_equal(dcnn_trainer_epochs_done(t), 4);
    for (int32_t e = 2; e < 4; ++e) {
      dcnn_epoch_stats stats = DCNN_STRUCT_INIT(dcnn_epoch_stats);
      assert_ok(dcnn_trainer_history(t, e, &stats));
      assert_true(stats.learning_rate == 0);
      assert_int_equal(stats.steps, 2);
    }
    assert_true(dcnn_optimizer_learning_rate(o) == 0);
    assert_int_equal(copy_weights(m, after, 128), n);
    assert_memory_equal(before, after, (size_t)n * sizeof(float));
    assert_ok(dcnn_trainer_save_checkpoint(t, path));
    assert_ok(dcnn_trainer_resume(t, path));
    assert_status(dcnn_optimizer_set_learning_rate(o, 0.0f), DCNN_ERR_INVALID_ARGUMENT);
    assert_error_mentions("must be positive");
    /* Without the schedule, the 0 it left would train nothing: refused, then trained at a rate set. */
    assert_ok(dcnn_trainer_set_schedule(t, NULL));
    assert_ok(dcnn_trainer_fit(t, train, NULL, p)); /* resumed after its last epoch: nothing to train */
    assert_status(dcnn_trainer_fit(t, train, NULL, p), DCNN_ERR_INVALID_STATE);
    assert_error_mentions("learning rate is 0");
    assert_ok(dcnn_optimizer_set_learning_rate(o, 0.01f));
    assert_ok(dcnn_trainer_fit(t, train, NULL, p));
    assert_int_equal(copy_weights(m, after, 128), n);
    assert_true(memcmp(before, after, (size_t)n * sizeof(float)) != 0);
    remove(path);
    dcnn_trainer_destroy(t);
    dcnn_schedule_destroy(s);
    dcnn_optimizer_destroy(o);
    dcnn_model_destroy(m);
  }
  dcnn_pipeline_destroy(p);
  dcnn_dataset_destroy(train);
}

static void trainer_runs_epochs_with_history(void **state) {
  (void)state;
  dcnn_dataset *train = test_halves(120), *val = test_halves(40);
  dcnn_pipeline *p = NULL;
  assert_ok(dcnn_pipeline_create(NULL, &p));
  dcnn_shape in = dcnn_shape_make(3, 1, 6, 6, 0);
  dcnn_model *m = NULL;
  assert_ok(dcnn_model_create(NULL, &in, &m));
  test_add_classifier(m, 2);
  dcnn_optimizer *sgd = NULL;
  assert_ok(dcnn_optimizer_create_sgd(NULL, 0.05f, 0.9f, DCNN_MOMENTUM_CLASSIC, 0, &sgd));
  dcnn_schedule *cosine = NULL;
  assert_ok(dcnn_schedule_create_cosine(0.05f, 4, 0.0f, &cosine));
  dcnn_trainer *t = NULL;
  assert_ok(dcnn_trainer_create(NULL, m, sgd, &t));
  assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_EPOCHS, 4));
  assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_BATCH_SIZE, 16));
  assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_AUGMENT, 0));
  assert_ok(dcnn_trainer_set_schedule(t, cosine));
  assert_status(dcnn_trainer_set(t, DCNN_TRAIN_EPOCHS, 0), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_trainer_set(t, DCNN_TRAIN_BATCH_SIZE, 2.5), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_trainer_set(t, (dcnn_trainer_option)42, 1), DCNN_ERR_INVALID_ARGUMENT);
  assert_ok(dcnn_trainer_fit(t, train, val, p));
  assert_int_equal(dcnn_trainer_epochs_done(t), 4);
  dcnn_epoch_stats s0 = DCNN_STRUCT_INIT(dcnn_epoch_stats), s3 = DCNN_STRUCT_INIT(dcnn_epoch_stats);
  assert_ok(dcnn_trainer_history(t, 0, &s0));
  assert_ok(dcnn_trainer_history(t, 3, &s3));
  assert_int_equal(s0.steps, 8); /* 120 / 16, last partial batch kept */
  assert_float_equal(s0.learning_rate, 0.05, 1e-7);
  assert_float_equal(s3.learning_rate, 0.05 * 0.5 * (1 + cos(3.14159265358979 * 3 / 4)), 1e-6);
  assert_true(s3.loss < s0.loss);
  assert_true(s3.val_accuracy >= 0.95);
  assert_true(dcnn_trainer_best_epoch(t) >= 1);
  assert_status(dcnn_trainer_history(t, 4, &s0), DCNN_ERR_INVALID_ARGUMENT);
  /* Continuing: the callback stops after epoch 2 of the next call... */
  epochs_seen = 0;
  assert_ok(dcnn_trainer_set_schedule(t, NULL));
  assert_ok(dcnn_trainer_set_callback(t, stop_after_two, NULL));
  assert_ok(dcnn_trainer_fit(t, train, NULL, p));
  assert_int_equal(epochs_seen, 1); /* epochs 5..8 planned, epoch 5 >= 2 stops at once */
  assert_int_equal(dcnn_trainer_epochs_done(t), 5);
  assert_ok(dcnn_trainer_history(t, 4, &s0));
  assert_true(isnan(s0.val_accuracy));
  /* Evaluation through dcnn_evaluate agrees with the history's last validation. */
  dcnn_metrics *metrics = NULL;
  assert_ok(dcnn_metrics_create(NULL, 2, &metrics));
  double loss = 0;
  assert_ok(dcnn_evaluate(m, val, p, 7, metrics, &loss));
  assert_int_equal(dcnn_metrics_count(metrics), 40);
  double accuracy = 0;
  assert_ok(dcnn_metrics_get(metrics, DCNN_METRIC_ACCURACY, DCNN_AVERAGE_MACRO, &accuracy));
  assert_true(accuracy >= 0.9);
  assert_true(loss > 0 && isfinite(loss));
  /* Shapes that do not fit are refused with a message. */
  dcnn_pipeline *big = NULL;
  assert_ok(dcnn_pipeline_create(NULL, &big));
  assert_ok(dcnn_pipeline_set(big, DCNN_PIPE_HEIGHT, 8));
  assert_status(dcnn_trainer_fit(t, train, val, big), DCNN_ERR_SHAPE_MISMATCH);
  assert_error_mentions("the model takes (1, 6, 6)");
  dcnn_pipeline_destroy(big);
  dcnn_metrics_destroy(metrics);
  dcnn_trainer_destroy(t);
  dcnn_schedule_destroy(cosine);
  dcnn_optimizer_destroy(sgd);
  dcnn_model_destroy(m);
  dcnn_pipeline_destroy(p);
  dcnn_dataset_destroy(train);
  dcnn_dataset_destroy(val);
}

/* Appends each message to the (1024-byte) text in `user`. */
static void collect_log(dcnn_log_level level, const char *message, void *user) {
  (void)level;
  char *text = user;
  const size_t used = strlen(text);
  snprintf(text + used, 1024 - used, "%s\n", message);
}

/* Step limits and patience take whole numbers up to 1e15, far beyond int32:
 * a step limit above the epoch's batches lets them all run, a patience above
 * the fit's epochs never stops it, and the warning about a patience without
 * validation data gives the number set. */
static void step_limit_and_patience_beyond_int32(void **state) {
  (void)state;
  dcnn_dataset *train = test_halves(64), *val = test_halves(16);
  dcnn_pipeline *p = NULL;
  assert_ok(dcnn_pipeline_create(NULL, &p));
  const double limits[] = {2147483648.0, 1e10, 1e15};
  for (size_t k = 0; k < sizeof limits / sizeof limits[0]; ++k) {
    char log[1024] = "", expected[64];
    dcnn_context *ctx = test_context(1);
    assert_ok(dcnn_context_set_log(ctx, collect_log, DCNN_LOG_WARN, log));
    dcnn_shape in = dcnn_shape_make(3, 1, 6, 6, 0);
    dcnn_model *m = NULL;
    assert_ok(dcnn_model_create(NULL, &in, &m));
    test_add_classifier(m, 2);
    assert_ok(dcnn_model_init(m, 5));
    dcnn_optimizer *o = NULL;
    assert_ok(dcnn_optimizer_create_sgd(NULL, 0.05f, 0.0f, DCNN_MOMENTUM_CLASSIC, 0, &o));
    dcnn_trainer *t = NULL;
    assert_ok(dcnn_trainer_create(ctx, m, o, &t));
    assert_ptr_equal(dcnn_trainer_context(t), ctx); /* its own context, not the default */
    assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_EPOCHS, 2));
    assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_BATCH_SIZE, 16));
    assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_AUGMENT, 0));
    assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_MAX_STEPS, limits[k]));
    assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_PATIENCE, limits[k]));
    assert_ok(dcnn_trainer_fit(t, train, NULL, p));
    snprintf(expected, sizeof expected, "patience %.0f is set", limits[k]);
    if (!strstr(log, expected)) fail_msg("the log \"%s\" does not mention \"%s\"", log, expected);
    /* With validation data: a few epochs at 100% stop improving, and go on. */
    assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_EPOCHS, 4));
    assert_ok(dcnn_trainer_fit(t, train, val, p));
    assert_int_equal(dcnn_trainer_epochs_done(t), 6);
    for (int32_t e = 0; e < 6; ++e) {
      dcnn_epoch_stats s = DCNN_STRUCT_INIT(dcnn_epoch_stats);
      assert_ok(dcnn_trainer_history(t, e, &s));
      assert_int_equal(s.steps, 4); /* 64 / 16: every batch */
      assert_true(isfinite(s.loss));
    }
    dcnn_trainer_destroy(t);
    dcnn_optimizer_destroy(o);
    dcnn_model_destroy(m);
    dcnn_context_destroy(ctx);
  }
  dcnn_pipeline_destroy(p);
  dcnn_dataset_destroy(train);
  dcnn_dataset_destroy(val);
}

/* Everything one training run needs, built the same way every time. */
typedef struct run {
  dcnn_model *model;
  dcnn_optimizer *adam;
  dcnn_schedule *plateau;
  dcnn_trainer *trainer;
} run;

/* `adversarial`: PGD examples (random start) in half of every batch. */
static void run_create(run *r, uint64_t init_seed, int adversarial) {
  dcnn_shape in = dcnn_shape_make(3, 1, 6, 6, 0);
  assert_ok(dcnn_model_create(NULL, &in, &r->model));
  dcnn_layer *l = NULL;
  assert_ok(dcnn_conv2d_create(4, 3, 1, DCNN_PADDING_SAME, DCNN_NO_BIAS, &l));
  assert_ok(dcnn_model_add(r->model, l));
  assert_ok(dcnn_batchnorm_relu_create(0.9f, 1e-3f, &l));
  assert_ok(dcnn_model_add(r->model, l));
  assert_ok(dcnn_dropout_create(0.3f, &l));
  assert_ok(dcnn_model_add(r->model, l));
  assert_ok(dcnn_flatten_create(&l));
  assert_ok(dcnn_model_add(r->model, l));
  assert_ok(dcnn_dense_create(2, DCNN_WITH_BIAS, &l));
  assert_ok(dcnn_model_add(r->model, l));
  assert_ok(dcnn_softmax_create(&l));
  assert_ok(dcnn_model_add(r->model, l));
  assert_ok(dcnn_model_init(r->model, init_seed));
  assert_ok(dcnn_optimizer_create_adam(NULL, 0.02f, 0.9f, 0.999f, 1e-7f, 0.0f, &r->adam));
  assert_ok(dcnn_schedule_create_plateau(0.02f, 0.5f, 0, 1e-4f, DCNN_GOAL_MAXIMIZE, &r->plateau));
  assert_ok(dcnn_trainer_create(NULL, r->model, r->adam, &r->trainer));
  assert_ok(dcnn_trainer_set_schedule(r->trainer, r->plateau));
  assert_ok(dcnn_trainer_set(r->trainer, DCNN_TRAIN_EPOCHS, 6));
  assert_ok(dcnn_trainer_set(r->trainer, DCNN_TRAIN_BATCH_SIZE, 16));
  assert_ok(dcnn_trainer_set_seed(r->trainer, 77));
  if (adversarial) {
    dcnn_attack pgd = test_pgd(0.1f);
    pgd.iterations = 3;
    assert_ok(dcnn_trainer_set_adversarial(r->trainer, &pgd, 0.5));
  }
}

static void run_destroy(run *r) {
  dcnn_trainer_destroy(r->trainer);
  dcnn_schedule_destroy(r->plateau);
  dcnn_optimizer_destroy(r->adam);
  dcnn_model_destroy(r->model);
}

static int stop_at_three(const dcnn_epoch_stats *s, void *user) {
  (void)user;
  return s->epoch == 3;
}

/* A plateau schedule made for the other direction than the monitored metric is refused before any step:
 * minimising accuracy cut the rate every time the model improved. */
static void a_plateau_for_the_other_metric_is_refused(void **state) {
  (void)state;
  dcnn_dataset *train = test_halves(40), *val = test_halves(20);
  dcnn_pipeline *p = NULL;
  assert_ok(dcnn_pipeline_create(NULL, &p));
  run r;
  run_create(&r, 5, 0);
  dcnn_schedule *minimising = NULL;
  assert_ok(dcnn_schedule_create_plateau(0.02f, 0.5f, 0, 1e-4f, DCNN_GOAL_MINIMIZE, &minimising));
  assert_ok(dcnn_trainer_set_schedule(r.trainer, minimising));
  assert_ok(dcnn_trainer_set(r.trainer, DCNN_TRAIN_EPOCHS, 1));
  assert_status(dcnn_trainer_fit(r.trainer, train, val, p), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("the plateau schedule minimises its metric, but the trainer monitors validation accuracy");
  assert_int_equal(dcnn_model_step_count(r.model), 0);
  assert_ok(dcnn_trainer_set(r.trainer, DCNN_TRAIN_MONITOR_LOSS, 1)); /* now they agree */
  assert_ok(dcnn_trainer_fit(r.trainer, train, val, p));
  /* A fit refused changes nothing: it dropped the best epoch (tracked by loss) before refusing, and
   * monitoring the loss again found none. */
  const int32_t best = dcnn_trainer_best_epoch(r.trainer);
  assert_int_equal(best, 1);
  assert_ok(dcnn_trainer_set(r.trainer, DCNN_TRAIN_MONITOR_LOSS, 0));
  assert_status(dcnn_trainer_fit(r.trainer, train, val, p), DCNN_ERR_INVALID_ARGUMENT);
  assert_ok(dcnn_trainer_set(r.trainer, DCNN_TRAIN_MONITOR_LOSS, 1));
  assert_int_equal(dcnn_trainer_best_epoch(r.trainer), best);
  assert_ok(dcnn_trainer_set(r.trainer, DCNN_TRAIN_MONITOR_LOSS, 0));
  assert_ok(dcnn_trainer_fit(r.trainer, train, NULL, p)); /* nothing observed without validation */
  assert_ok(dcnn_trainer_set_schedule(r.trainer, NULL));
  dcnn_schedule_destroy(minimising);
  run_destroy(&r);
  dcnn_pipeline_destroy(p);
  dcnn_dataset_destroy(train);
  dcnn_dataset_destroy(val);
}

/* A fit without validation made a metrics object it never read, which takes 2 classes or more: a model of
 * one class could not be trained at all (validation, which measures accuracy, still needs 2). */
static void a_one_class_model_trains_without_validation(void **state) {
  (void)state;
  uint8_t px[8 * 4];
  int32_t labels[8] = {0};
  for (int i = 0; i < 8 * 4; ++i) px[i] = (uint8_t)(i * 37);
  dcnn_dataset *ds = NULL;
  assert_ok(dcnn_dataset_create(NULL, 8, 2, 2, 1, px, labels, 1, &ds));
  const dcnn_shape sample = dcnn_shape_make(3, 1, 2, 2, 0);
  dcnn_model *m = NULL;
  assert_ok(dcnn_model_create(NULL, &sample, &m));
  test_add_classifier(m, 1);
  assert_ok(dcnn_model_init(m, 1));
  dcnn_optimizer *sgd = NULL;
  assert_ok(dcnn_optimizer_create_sgd(NULL, 0.1f, 0.0f, DCNN_MOMENTUM_CLASSIC, 0.0f, &sgd));
  dcnn_trainer *t = NULL;
  assert_ok(dcnn_trainer_create(NULL, m, sgd, &t));
  assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_EPOCHS, 1));
  assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_BATCH_SIZE, 4));
  dcnn_pipeline *p = NULL;
  assert_ok(dcnn_pipeline_create(NULL, &p));
  assert_ok(dcnn_trainer_fit(t, ds, NULL, p));
  assert_int_equal(dcnn_trainer_epochs_done(t), 1);
  assert_int_equal(dcnn_model_step_count(m), 2);
  dcnn_pipeline_destroy(p);
  dcnn_trainer_destroy(t);
  dcnn_optimizer_destroy(sgd);
  dcnn_model_destroy(m);
  dcnn_dataset_destroy(ds);
}

/* The first parameter tensor's distance from `to` (as many floats). */
static double distance_from(dcnn_model *m, const float *to, int64_t n) {
  dcnn_param p = DCNN_STRUCT_INIT(dcnn_param);
  assert_ok(dcnn_model_param(m, 0, &p, NULL));
  assert_int_equal(dcnn_tensor_count(p.value), n);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += pow(dcnn_tensor_data_const(p.value)[i] - to[i], 2);
  return sqrt(sum);
}

/* A weight average left by an earlier fit is not blended into a later one after the model trained without
 * it: fit A (average on), fit B (off), then one step of fit C (on) ends near B, not pulled back to A; also
 * when A's checkpoint was resumed before B. */
static void a_stale_weight_average_starts_again(void **state) {
  (void)state;
  for (int resumed = 0; resumed < 2; ++resumed) {
  dcnn_dataset *train = test_halves(100);
  dcnn_pipeline *p = NULL;
  assert_ok(dcnn_pipeline_create(NULL, &p));
  run r;
  run_create(&r, 5, 0);
  char path[256];
  snprintf(path, sizeof path, "%s/dcnn-ema-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  const int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  float after[2][64];
  dcnn_param first = DCNN_STRUCT_INIT(dcnn_param);
  assert_ok(dcnn_model_param(r.model, 0, &first, NULL));
  const int64_t n = dcnn_tensor_count(first.value);
  assert_true(n <= 64);
  const double decay[2] = {0.9, 0.0};
  for (int fit = 0; fit < 2; ++fit) {
    assert_ok(dcnn_trainer_set(r.trainer, DCNN_TRAIN_EMA_DECAY, decay[fit]));
    assert_ok(dcnn_trainer_set(r.trainer, DCNN_TRAIN_EPOCHS, 3));
    assert_ok(dcnn_trainer_fit(r.trainer, train, NULL, p));
    assert_ok(dcnn_model_param(r.model, 0, &first, NULL));
    memcpy(after[fit], dcnn_tensor_data_const(first.value), (size_t)n * sizeof(float));
    if (fit == 0 && resumed) {
      assert_ok(dcnn_trainer_save_checkpoint(r.trainer, path));
      assert_ok(dcnn_trainer_resume(r.trainer, path));
    }
  }
  assert_ok(dcnn_trainer_set(r.trainer, DCNN_TRAIN_EMA_DECAY, 0.999));
  assert_ok(dcnn_trainer_set(r.trainer, DCNN_TRAIN_EPOCHS, 1));
  assert_ok(dcnn_trainer_set(r.trainer, DCNN_TRAIN_MAX_STEPS, 1));
  assert_ok(dcnn_trainer_fit(r.trainer, train, NULL, p));
  const double from_a = distance_from(r.model, after[0], n), from_b = distance_from(r.model, after[1], n);
  print_message("%s: after one averaged step %.4g from fit A's weights, %.4g from fit B's\n",
                resumed ? "resumed" : "in one trainer", from_a, from_b);
  assert_true(from_b < 0.25 * from_a);
  unlink(path);
  run_destroy(&r);
  dcnn_pipeline_destroy(p);
  dcnn_dataset_destroy(train);
  }
}

static void resuming_a_checkpoint_matches_an_uninterrupted_run(void **state) {
  (void)state;
  dcnn_dataset *train = test_halves(100), *val = test_halves(30);
  dcnn_pipeline *p = NULL;
  assert_ok(dcnn_pipeline_create(NULL, &p));
  assert_ok(dcnn_pipeline_set(p, DCNN_PIPE_ROTATION, 15)); /* augmentation, dropout, batch norm, plateau: all state */
  char dir[256], last[300], best[300];
  snprintf(dir, sizeof dir, "%s/dcnn-ckpt-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  assert_non_null(mkdtemp(dir)); /* never an earlier run's leftover */
  snprintf(last, sizeof last, "%s/last.dcnn", dir);
  snprintf(best, sizeof best, "%s/best.dcnn", dir);

  run whole, first, second;
  run_create(&whole, 5, 1);
  assert_ok(dcnn_trainer_fit(whole.trainer, train, val, p));
  assert_int_equal(dcnn_trainer_epochs_done(whole.trainer), 6);

  run_create(&first, 5, 1);
  assert_ok(dcnn_trainer_set_checkpoint_dir(first.trainer, dir));
  assert_ok(dcnn_trainer_set_callback(first.trainer, stop_at_three, NULL));
  assert_ok(dcnn_trainer_fit(first.trainer, train, val, p)); /* "interrupted" after epoch 3 */
  assert_int_equal(dcnn_trainer_epochs_done(first.trainer), 3);

  /* A fresh process would start from other weights: the checkpoint must
   * replace all of it. Adversarial training is the trainer's batch hook: a
   * trainer without it cannot take the checkpoint's settings (refused,
   * nothing changed); with other settings, they are replaced. */
  run_create(&second, 999, 0);
  assert_status(dcnn_trainer_resume(second.trainer, last), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("dcnn_trainer_set_adversarial");
  assert_int_equal(dcnn_trainer_epochs_done(second.trainer), 0);
  dcnn_attack fgsm = DCNN_STRUCT_INIT(dcnn_attack);
  assert_ok(dcnn_attack_fgsm(0.3f, &fgsm));
  fgsm.seed = 4;
  assert_ok(dcnn_trainer_set_adversarial(second.trainer, &fgsm, 1.0));
  assert_ok(dcnn_trainer_resume(second.trainer, last));
  assert_int_equal(dcnn_trainer_epochs_done(second.trainer), 3);
  assert_ok(dcnn_trainer_fit(second.trainer, train, val, p));
  assert_int_equal(dcnn_trainer_epochs_done(second.trainer), 6);

  for (int32_t e = 0; e < 6; ++e) {
    dcnn_epoch_stats a = DCNN_STRUCT_INIT(dcnn_epoch_stats), b = DCNN_STRUCT_INIT(dcnn_epoch_stats);
    assert_ok(dcnn_trainer_history(whole.trainer, e, &a));
    assert_ok(dcnn_trainer_history(second.trainer, e, &b));
    assert_true(a.loss == b.loss && a.accuracy == b.accuracy && a.val_loss == b.val_loss &&
                a.val_accuracy == b.val_accuracy && a.learning_rate == b.learning_rate && a.epochs == b.epochs);
  }
  assert_int_equal(dcnn_trainer_best_epoch(second.trainer), dcnn_trainer_best_epoch(whole.trainer));
  assert_int_equal(dcnn_model_param_tensor_count(second.model), dcnn_model_param_tensor_count(whole.model));
  for (int32_t i = 0; i < dcnn_model_param_tensor_count(whole.model); ++i) {
    dcnn_param a = DCNN_STRUCT_INIT(dcnn_param), b = DCNN_STRUCT_INIT(dcnn_param);
    assert_ok(dcnn_model_param(whole.model, i, &a, NULL));
    assert_ok(dcnn_model_param(second.model, i, &b, NULL));
    assert_memory_equal(dcnn_tensor_data(a.value), dcnn_tensor_data(b.value),
                        (size_t)dcnn_tensor_count(a.value) * sizeof(float));
  }
  assert_int_equal(dcnn_model_step_count(second.model), dcnn_model_step_count(whole.model));
  assert_string_equal(dcnn_model_metadata(second.model, "training"), dcnn_model_metadata(whole.model, "training"));
  assert_string_equal(dcnn_model_metadata(whole.model, "preprocessing"), "height=0 width=0 grayscale=0 standardize=0");
  assert_string_equal(dcnn_model_metadata(whole.model, "classes"), "0,1");

  /* best.dcnn is an ordinary model file; it is not a checkpoint. */
  dcnn_model *loaded = NULL;
  assert_ok(dcnn_model_load(NULL, best, &loaded));
  dcnn_model_destroy(loaded);
  assert_status(dcnn_trainer_resume(second.trainer, best), DCNN_ERR_BAD_FORMAT);
  assert_error_mentions("not a checkpoint");
  /* Another architecture, another optimizer kind: refused, nothing changed. */
  run other;
  run_create(&other, 5, 0);
  dcnn_shape in = dcnn_shape_make(3, 1, 6, 6, 0);
  dcnn_model *small = NULL;
  dcnn_layer *l = NULL;
  assert_ok(dcnn_model_create(NULL, &in, &small));
  assert_ok(dcnn_flatten_create(&l));
  assert_ok(dcnn_model_add(small, l));
  dcnn_trainer *wrong = NULL;
  assert_ok(dcnn_trainer_create(NULL, small, other.adam, &wrong));
  assert_status(dcnn_trainer_resume(wrong, last), DCNN_ERR_SHAPE_MISMATCH);
  dcnn_trainer_destroy(wrong);
  dcnn_optimizer *sgd = NULL;
  assert_ok(dcnn_optimizer_create_sgd(NULL, 0.1f, 0.0f, DCNN_MOMENTUM_CLASSIC, 0.0f, &sgd));
  assert_ok(dcnn_trainer_create(NULL, other.model, sgd, &wrong));
  assert_ok(dcnn_trainer_set_schedule(wrong, other.plateau));
  assert_status(dcnn_trainer_resume(wrong, last), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("trained with Adam, this trainer's optimizer is SGD");
  assert_int_equal(dcnn_trainer_epochs_done(wrong), 0);
  dcnn_trainer_destroy(wrong);
  dcnn_optimizer_destroy(sgd);
  dcnn_model_destroy(small);
  run_destroy(&other);

  run_destroy(&whole);
  run_destroy(&first);
  run_destroy(&second);
  remove(last);
  remove(best);
  rmdir(dir);
  dcnn_pipeline_destroy(p);
  dcnn_dataset_destroy(train);
  dcnn_dataset_destroy(val);
}

/* Cancels (the progress callback) in epoch `epoch` after step `step`. */
typedef struct cancel_at {
  int32_t epoch, step;
} cancel_at;

static dcnn_progress_action cancel_when(const dcnn_progress *p, void *user) {
  const cancel_at *c = user;
  return p->event == DCNN_PROGRESS_STEP && p->epoch == c->epoch && p->step == c->step ? DCNN_PROGRESS_CANCEL
                                                                                       : DCNN_PROGRESS_CONTINUE;
}

/* Same history (wall-clock seconds aside), weights, step count and summary. */
static void assert_same_training(const run *a, const run *b) {
  assert_int_equal(dcnn_trainer_epochs_done(a->trainer), dcnn_trainer_epochs_done(b->trainer));
  for (int32_t e = 0; e < dcnn_trainer_epochs_done(a->trainer); ++e) {
    dcnn_epoch_stats x = DCNN_STRUCT_INIT(dcnn_epoch_stats), y = DCNN_STRUCT_INIT(dcnn_epoch_stats);
    assert_ok(dcnn_trainer_history(a->trainer, e, &x));
    assert_ok(dcnn_trainer_history(b->trainer, e, &y));
    assert_true(x.loss == y.loss && x.accuracy == y.accuracy && x.val_loss == y.val_loss &&
                x.val_accuracy == y.val_accuracy && x.learning_rate == y.learning_rate && x.epochs == y.epochs &&
                x.steps == y.steps);
  }
  assert_int_equal(dcnn_trainer_best_epoch(a->trainer), dcnn_trainer_best_epoch(b->trainer));
  for (int32_t i = 0; i < dcnn_model_param_tensor_count(a->model); ++i) {
    dcnn_param x = DCNN_STRUCT_INIT(dcnn_param), y = DCNN_STRUCT_INIT(dcnn_param);
    assert_ok(dcnn_model_param(a->model, i, &x, NULL));
    assert_ok(dcnn_model_param(b->model, i, &y, NULL));
    assert_memory_equal(dcnn_tensor_data(x.value), dcnn_tensor_data(y.value),
                        (size_t)dcnn_tensor_count(x.value) * sizeof(float));
  }
  assert_int_equal(dcnn_model_step_count(a->model), dcnn_model_step_count(b->model));
  assert_string_equal(dcnn_model_metadata(a->model, "training"), dcnn_model_metadata(b->model, "training"));
}

/* A checkpoint inside an epoch (every 3 steps of 7) records the position:
 * cancelled at step 5 of epoch 2, resumed from the checkpoint of step 3 into
 * a fresh trainer, the run finishes bit-identical to one that never stopped;
 * so does the cancelled trainer itself when fit again (it continues at step
 * 6). A checkpoint of the last epoch's end resumes to no further epoch. */
static void resuming_inside_an_epoch_matches_an_uninterrupted_run(void **state) {
  (void)state;
  dcnn_dataset *train = test_halves(100), *val = test_halves(30);
  dcnn_pipeline *p = NULL;
  assert_ok(dcnn_pipeline_create(NULL, &p));
  assert_ok(dcnn_pipeline_set(p, DCNN_PIPE_ROTATION, 15));
  char dir[256], last[300], best[300];
  snprintf(dir, sizeof dir, "%s/dcnn-mid-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  assert_non_null(mkdtemp(dir)); /* never an earlier run's leftover */
  snprintf(last, sizeof last, "%s/last.dcnn", dir);
  snprintf(best, sizeof best, "%s/best.dcnn", dir);

  run whole, first, second, third;
  run_create(&whole, 5, 1);
  assert_ok(dcnn_trainer_fit(whole.trainer, train, val, p));

  run_create(&first, 5, 1);
  assert_ok(dcnn_trainer_set_checkpoint_dir(first.trainer, dir));
  assert_status(dcnn_trainer_set_checkpoint_every(first.trainer, -1, 0), DCNN_ERR_INVALID_ARGUMENT);
  assert_ok(dcnn_trainer_set_checkpoint_every(first.trainer, 3, 0));
  cancel_at c = {2, 5};
  assert_ok(dcnn_trainer_set_progress(first.trainer, cancel_when, &c));
  assert_status(dcnn_trainer_fit(first.trainer, train, val, p), DCNN_ERR_CANCELLED);
  assert_int_equal(dcnn_trainer_epochs_done(first.trainer), 1);

  run_create(&second, 999, 1);
  assert_ok(dcnn_trainer_resume(second.trainer, last)); /* epoch 2 after step 3 */
  assert_int_equal(dcnn_trainer_epochs_done(second.trainer), 1);
  assert_ok(dcnn_trainer_fit(second.trainer, train, val, p));
  assert_same_training(&whole, &second);

  c.epoch = 0; /* the cancelled trainer goes on in memory: epoch 2 from step 6 */
  assert_ok(dcnn_trainer_set(first.trainer, DCNN_TRAIN_EPOCHS, 5));
  assert_ok(dcnn_trainer_fit(first.trainer, train, val, p));
  assert_same_training(&whole, &first);

  /* last.dcnn now holds the end of epoch 6, the last planned: resuming it
   * trains nothing more and only restores the best weights, as the end of
   * the uninterrupted fit did. */
  run_create(&third, 999, 1);
  assert_ok(dcnn_trainer_resume(third.trainer, last));
  assert_ok(dcnn_trainer_fit(third.trainer, train, val, p));
  assert_same_training(&whole, &third);

  run_destroy(&whole);
  run_destroy(&first);
  run_destroy(&second);
  run_destroy(&third);
  remove(last);
  remove(best);
  rmdir(dir);
  dcnn_pipeline_destroy(p);
  dcnn_dataset_destroy(train);
  dcnn_dataset_destroy(val);
}

/* The recipe's trainer options (mixup and cutmix, label smoothing, the weight
 * average): a run cancelled inside an epoch and resumed from its checkpoint
 * ends bit-identical to one that never stopped; the average changes the
 * result; best.dcnn holds averaged weights that validate as recorded. */
static void recipe_options_resume_bit_identically(void **state) {
  (void)state;
  dcnn_dataset *train = test_halves(100), *val = test_halves(30);
  dcnn_pipeline *p = NULL;
  assert_ok(dcnn_pipeline_create(NULL, &p));
  assert_ok(dcnn_pipeline_set(p, DCNN_PIPE_SHIFT, 1));
  assert_ok(dcnn_pipeline_set(p, DCNN_PIPE_INVERT, 0.2));
  char dir[256], last[300], best[300];
  snprintf(dir, sizeof dir, "%s/dcnn-recipe-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  assert_non_null(mkdtemp(dir)); /* never an earlier run's leftover */
  snprintf(last, sizeof last, "%s/last.dcnn", dir);
  snprintf(best, sizeof best, "%s/best.dcnn", dir);
  run whole, first, second, plain;
  run *runs[4] = {&whole, &first, &second, &plain};
  for (int k = 0; k < 4; ++k) {
    run_create(runs[k], k == 2 ? 999 : 5, 0);
    assert_ok(dcnn_trainer_set(runs[k]->trainer, DCNN_TRAIN_MIXUP, 0.4));
    assert_ok(dcnn_trainer_set(runs[k]->trainer, DCNN_TRAIN_CUTMIX, 1.0));
    assert_ok(dcnn_trainer_set(runs[k]->trainer, DCNN_TRAIN_LABEL_SMOOTHING, 0.1));
    assert_ok(dcnn_trainer_set(runs[k]->trainer, DCNN_TRAIN_EMA_DECAY, k == 3 ? 0.0 : 0.9));
  }
  assert_ok(dcnn_trainer_fit(whole.trainer, train, val, p));
  assert_ok(dcnn_trainer_fit(plain.trainer, train, val, p));
  dcnn_param a = DCNN_STRUCT_INIT(dcnn_param), b = DCNN_STRUCT_INIT(dcnn_param);
  assert_ok(dcnn_model_param(whole.model, 0, &a, NULL));
  assert_ok(dcnn_model_param(plain.model, 0, &b, NULL));
  assert_memory_not_equal(dcnn_tensor_data(a.value), dcnn_tensor_data(b.value), sizeof(float) * 4);

  assert_ok(dcnn_trainer_set_checkpoint_dir(first.trainer, dir));
  assert_ok(dcnn_trainer_set_checkpoint_every(first.trainer, 3, 0));
  cancel_at c = {2, 5};
  assert_ok(dcnn_trainer_set_progress(first.trainer, cancel_when, &c));
  assert_status(dcnn_trainer_fit(first.trainer, train, val, p), DCNN_ERR_CANCELLED);
  assert_ok(dcnn_trainer_resume(second.trainer, last)); /* epoch 2 after step 3 */
  assert_ok(dcnn_trainer_fit(second.trainer, train, val, p));
  assert_same_training(&whole, &second);

  /* best.dcnn (epoch 1 at the latest) holds averaged weights: they validate as the history says */
  dcnn_model *saved = NULL;
  assert_ok(dcnn_model_load(NULL, best, &saved));
  dcnn_metrics *metrics = NULL;
  assert_ok(dcnn_metrics_create(NULL, 2, &metrics));
  double val_loss = 0, accuracy = 0;
  assert_ok(dcnn_evaluate(saved, val, p, 256, metrics, &val_loss));
  assert_ok(dcnn_metrics_get(metrics, DCNN_METRIC_ACCURACY, DCNN_AVERAGE_MACRO, &accuracy));
  dcnn_epoch_stats s = DCNN_STRUCT_INIT(dcnn_epoch_stats);
  assert_ok(dcnn_trainer_history(first.trainer, 0, &s));
  assert_float_equal(accuracy, s.val_accuracy, 1e-12);
  assert_float_equal(val_loss, s.val_loss, 1e-9);
  dcnn_metrics_destroy(metrics);
  dcnn_model_destroy(saved);
  for (int k = 0; k < 4; ++k) run_destroy(runs[k]);
  remove(last);
  remove(best);
  rmdir(dir);
  dcnn_pipeline_destroy(p);
  dcnn_dataset_destroy(train);
  dcnn_dataset_destroy(val);
}

/* A checkpoint's schedule state replaces the trainer's: each field is checked
 * as its creator checks it (a step period of 0 divided by zero in
 * dcnn_schedule_rate), and a plateau's state must be reachable. The state
 * written by a schedule reads back; each corrupted copy is refused. */
typedef struct schedule_patch {
  int offset; /* of the field in the state: kind, base, minimum, factor, current, best, period, maximize, since_best, seen */
  int is_float;
  double value;
} schedule_patch;

static void assert_schedule_state_refused(const dcnn_schedule *s, const schedule_patch *patches, size_t count) {
  dcnn_bytes saved = {0};
  dcnn__schedule_save_state(s, &saved);
  assert_false(saved.failed);
  dcnn_schedule staged;
  dcnn_reader r = {"ckpt", saved.data, saved.size, 0};
  assert_ok(dcnn__schedule_load_state(&r, s, &staged));
  assert_int_equal(r.at, saved.size);
  for (size_t i = 0; i < count; ++i) {
    uint8_t copy[64];
    assert_true(saved.size <= sizeof copy);
    memcpy(copy, saved.data, saved.size);
    dcnn_bytes one = {0}; /* the field in the writer's encoding */
    if (patches[i].is_float) dcnn__bytes_f32(&one, (float)patches[i].value);
    else dcnn__bytes_u32(&one, (uint32_t)(int32_t)patches[i].value);
    memcpy(copy + patches[i].offset, one.data, 4);
    dcnn__bytes_free(&one);
    dcnn_reader bad = {"ckpt", copy, saved.size, 0};
    if (dcnn__schedule_load_state(&bad, s, &staged) != DCNN_ERR_BAD_FORMAT) fail_msg("patch %zu was accepted", i);
    assert_error_mentions("ckpt: training state");
  }
  dcnn__bytes_free(&saved);
}

static void checkpoint_schedule_state_is_checked(void **state) {
  (void)state;
  dcnn_schedule *s = NULL;
  assert_ok(dcnn_schedule_create_step(0.1f, 2, 0.5f, &s));
  const schedule_patch step[] = {{4, 1, 0.0}, {4, 1, NAN}, {4, 1, -1.0}, {12, 1, 0.0}, {12, 1, 2.0}, {24, 0, 0}, {24, 0, -3}};
  assert_schedule_state_refused(s, step, sizeof step / sizeof step[0]);
  dcnn_schedule_destroy(s);
  assert_ok(dcnn_schedule_create_cosine(0.1f, 10, 0.0f, &s));
  const schedule_patch cosine[] = {{4, 1, INFINITY}, {8, 1, -0.5}, {8, 1, 0.2}, {24, 0, 0}};
  assert_schedule_state_refused(s, cosine, sizeof cosine / sizeof cosine[0]);
  dcnn_schedule_destroy(s);
  assert_ok(dcnn_schedule_create_warmup_cosine(0.1f, 2, 10, 0.0f, &s));
  const schedule_patch warm[] = {{8, 1, 1.0}, {40, 0, 0}, {40, 0, 10}};
  assert_schedule_state_refused(s, warm, sizeof warm / sizeof warm[0]);
  dcnn_schedule_destroy(s);
  assert_ok(dcnn_schedule_create_plateau(0.1f, 0.5f, 2, 0.01f, DCNN_GOAL_MAXIMIZE, &s));
  assert_ok(dcnn_schedule_observe(s, 0.9f));
  assert_ok(dcnn_schedule_observe(s, 0.8f)); /* one epoch since the best */
  const schedule_patch plateau[] = {{12, 1, 1.0}, {12, 1, 0.0}, {16, 1, 0.001}, {16, 1, NAN}, {20, 1, NAN},
                                    {24, 0, -1},   {28, 0, 2},   {32, 0, 3},     {32, 0, -1},  {36, 0, 7}};
  assert_schedule_state_refused(s, plateau, sizeof plateau / sizeof plateau[0]);
  /* A floor above the initial rate, and a rate raised to it, came from builds before 2026-12-04: such a
   * state continues with both clamped to the initial rate. */
  {
    dcnn_bytes saved = {0};
    dcnn__schedule_save_state(s, &saved);
    dcnn_bytes field = {0};
    dcnn__bytes_f32(&field, 0.2f);
    memcpy(saved.data + 8, field.data, 4);  /* minimum */
    memcpy(saved.data + 16, field.data, 4); /* current */
    dcnn__bytes_free(&field);
    dcnn_schedule staged;
    dcnn_reader r = {"ckpt", saved.data, saved.size, 0};
    assert_ok(dcnn__schedule_load_state(&r, s, &staged));
    assert_true(staged.minimum == 0.1f && staged.current == 0.1f);
    dcnn__bytes_free(&saved);
  }
  dcnn_schedule_destroy(s);
}

/* ---- a user layer whose param slot fails mid-fit: the fit skips it (weight
 * average, best-weight copies) and, succeeding, keeps the caller's message ---- */

static int flaky_fails; /* the slot fails while set */

typedef struct flaky {
  dcnn_tensor *count; /* (1): a buffer, saved with the model, never trained */
} flaky;

static dcnn_status flaky_build(void *self, dcnn_context *ctx, const dcnn_shape *in, dcnn_shape *out) {
  flaky *f = self;
  const dcnn_shape one = dcnn_shape_make(1, 1, 0, 0, 0);
  DCNN_TRY(dcnn_tensor_create(ctx, &one, &f->count));
  *out = *in;
  return DCNN_OK;
}
static dcnn_status flaky_forward(void *self, dcnn_exec *exec, const dcnn_tensor *x, dcnn_tensor *y) {
  (void)self;
  (void)exec;
  memcpy(dcnn_tensor_data(y), dcnn_tensor_data_const(x), (size_t)dcnn_tensor_count(x) * sizeof(float));
  return DCNN_OK;
}
static dcnn_status flaky_backward(void *self, dcnn_exec *exec, const dcnn_tensor *x, const dcnn_tensor *y,
                                  const dcnn_tensor *dy, dcnn_tensor *dx) {
  (void)self;
  (void)exec;
  (void)x;
  (void)y;
  if (dx) memcpy(dcnn_tensor_data(dx), dcnn_tensor_data_const(dy), (size_t)dcnn_tensor_count(dy) * sizeof(float));
  return DCNN_OK;
}
static int32_t flaky_param_count(const void *self) {
  (void)self;
  return 1;
}
static dcnn_status flaky_param(void *self, int32_t index, dcnn_param *out) {
  flaky *f = self;
  if (flaky_fails || index != 0) return dcnn_error_set(DCNN_ERR_INVALID_STATE, "flaky: the slot failed");
  out->name = "count";
  out->value = f->count;
  out->flags = DCNN_PARAM_BUFFER;
  return DCNN_OK;
}
static void flaky_destroy(void *self) {
  flaky *f = self;
  dcnn_tensor_destroy(f->count);
  free(f);
}

/* From the end of epoch 1 on, the slot fails. */
static int flaky_from_epoch_one(const dcnn_epoch_stats *stats, void *user) {
  (void)user;
  if (stats->epoch == 1) flaky_fails = 1;
  return 0;
}

static void a_fit_skipping_a_failing_param_slot_keeps_the_callers_message(void **state) {
  (void)state;
  static const dcnn_layer_vtable vt = {.abi_version = DCNN_LAYER_ABI_VERSION, .type_name = "flaky",
                                       .build = flaky_build, .forward = flaky_forward, .backward = flaky_backward,
                                       .param_count = flaky_param_count, .param = flaky_param,
                                       .destroy = flaky_destroy};
  dcnn_dataset *data = test_halves(32);
  dcnn_pipeline *p = NULL;
  assert_ok(dcnn_pipeline_create(NULL, &p));
  for (int keep_best = 0; keep_best < 2; ++keep_best) {
    dcnn_shape in = dcnn_shape_make(3, 1, 6, 6, 0);
    dcnn_model *m = NULL;
    assert_ok(dcnn_model_create(NULL, &in, &m));
    dcnn_layer *l = NULL;
    assert_ok(dcnn_flatten_create(&l));
    assert_ok(dcnn_model_add(m, l));
    flaky *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_ok(dcnn_layer_create(&vt, f, &l));
    assert_ok(dcnn_model_add(m, l));
    assert_ok(dcnn_dense_create(2, DCNN_WITH_BIAS, &l));
    assert_ok(dcnn_model_add(m, l));
    assert_ok(dcnn_softmax_create(&l));
    assert_ok(dcnn_model_add(m, l));
    assert_ok(dcnn_model_init(m, 5));
    dcnn_optimizer *o = NULL;
    assert_ok(dcnn_optimizer_create_adam(NULL, 0.05f, 0.9f, 0.999f, 1e-7f, 0.0f, &o));
    dcnn_trainer *t = NULL;
    assert_ok(dcnn_trainer_create(NULL, m, o, &t));
    assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_EPOCHS, 3));
    assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_BATCH_SIZE, 8));
    assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_AUGMENT, 0));
    assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_EMA_DECAY, 0.5));
    assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_KEEP_BEST, keep_best));
    assert_ok(dcnn_trainer_set_callback(t, flaky_from_epoch_one, NULL));
    flaky_fails = 0;
    dcnn_error_set(DCNN_ERR_IO, "the caller's message");
    /* epochs 2 and 3: every step's weight average, the validation swaps, the
     * best-weight copies and the final average skip the failing slot */
    const dcnn_status status = dcnn_trainer_fit(t, data, data, p);
    flaky_fails = 0;
    if (status != DCNN_OK) fail_msg("keep_best %d: %s", keep_best, dcnn_last_error());
    assert_string_equal(dcnn_last_error(), "the caller's message");
    assert_int_equal(dcnn_trainer_epochs_done(t), 3);
    dcnn_trainer_destroy(t);
    dcnn_optimizer_destroy(o);
    dcnn_model_destroy(m);
  }
  dcnn_pipeline_destroy(p);
  dcnn_dataset_destroy(data);
}

/* A two-class classifier on 3 x 6 x 6 inputs and its Adam trainer, fitted for
 * 2 epochs with validation (weight average 0.5, keep_best as given). */
typedef struct fitted {
  dcnn_model *model;
  dcnn_optimizer *optimizer;
  dcnn_trainer *trainer;
} fitted;

static fitted fit_two_epochs(const dcnn_dataset *train, const dcnn_dataset *val, dcnn_pipeline *p, int keep_best) {
  fitted f = {NULL, NULL, NULL};
  const dcnn_shape in = dcnn_shape_make(3, 1, 6, 6, 0);
  assert_ok(dcnn_model_create(NULL, &in, &f.model));
  test_add_classifier(f.model, 2);
  assert_ok(dcnn_model_init(f.model, 3));
  assert_ok(dcnn_optimizer_create_adam(NULL, 0.05f, 0.9f, 0.999f, 1e-7f, 0.0f, &f.optimizer));
  assert_ok(dcnn_trainer_create(NULL, f.model, f.optimizer, &f.trainer));
  assert_ok(dcnn_trainer_set(f.trainer, DCNN_TRAIN_EPOCHS, 2));
  assert_ok(dcnn_trainer_set(f.trainer, DCNN_TRAIN_BATCH_SIZE, 16));
  assert_ok(dcnn_trainer_set(f.trainer, DCNN_TRAIN_AUGMENT, 0));
  assert_ok(dcnn_trainer_set(f.trainer, DCNN_TRAIN_EMA_DECAY, 0.5));
  assert_ok(dcnn_trainer_set(f.trainer, DCNN_TRAIN_KEEP_BEST, keep_best));
  assert_ok(dcnn_trainer_fit(f.trainer, train, val, p));
  assert_true(f.trainer->best_epoch >= 1);
  return f;
}

/* A second head on top: the output stays (2), the parameter count grows, and
 * the optimizer (whose moments were the old network's) starts again. */
static void add_second_head(fitted *f) {
  const int64_t before = dcnn_model_param_count(f->model, DCNN_PARAM_TRAINABLE | DCNN_PARAM_BUFFER);
  dcnn_layer *l = NULL;
  assert_ok(dcnn_dense_create(2, DCNN_WITH_BIAS, &l));
  assert_ok(dcnn_model_add(f->model, l));
  assert_ok(dcnn_softmax_create(&l));
  assert_ok(dcnn_model_add(f->model, l));
  assert_true(dcnn_model_param_count(f->model, DCNN_PARAM_TRAINABLE | DCNN_PARAM_BUFFER) > before);
  assert_ok(dcnn_optimizer_reset(f->optimizer));
}

static void fitted_destroy(fitted *f) {
  dcnn_trainer_destroy(f->trainer);
  dcnn_optimizer_destroy(f->optimizer);
  dcnn_model_destroy(f->model);
}

/* The trainer's checkpoint written to `path` and resumed at once. */
static void save_and_resume(dcnn_trainer *t, const char *path) {
  assert_ok(dcnn_trainer_save_checkpoint(t, path));
  assert_ok(dcnn_trainer_resume(t, path));
  remove(path);
}

/* Layers added between two fits (or the monitor switched): the best epoch, its
 * value and copy and the weight average kept for the old network were copied
 * into the grown model past their end, or compared with the new one. They are
 * dropped, and best tracking starts again with the next epoch. */
static void a_fit_after_layers_were_added_drops_the_old_copies(void **state) {
  (void)state;
  dcnn_dataset *train = test_halves(64), *val = test_halves(32);
  dcnn_pipeline *p = NULL;
  assert_ok(dcnn_pipeline_create(NULL, &p));
  char path[256];
  snprintf(path, sizeof path, "%s/dcnn-grown-%d.dcnn", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
  for (int keep_best = 1; keep_best >= 0; --keep_best) { /* without keep_best: no copy, the tracking alone */
    for (int checkpoint_between = 0; checkpoint_between < 2; ++checkpoint_between) {
      fitted f = fit_two_epochs(train, val, p, keep_best);
      add_second_head(&f);
      if (checkpoint_between) { /* before any fit: none of the old tracking or copies in it, so it resumes */
        save_and_resume(f.trainer, path);
        assert_int_equal(f.trainer->best_epoch, 0);
      }
      assert_ok(dcnn_trainer_set(f.trainer, DCNN_TRAIN_EPOCHS, 1));
      assert_ok(dcnn_trainer_fit(f.trainer, train, val, p)); /* the fit itself drops them without a checkpoint */
      assert_int_equal(dcnn_trainer_epochs_done(f.trainer), 3);
      assert_int_equal(f.trainer->best_epoch, 3); /* the only epoch of this network */
      save_and_resume(f.trainer, path);             /* a checkpoint of the grown model resumes */
      fitted_destroy(&f);
    }
  }
  /* the monitor switched between fits: a loss is not compared with an accuracy */
  fitted f = fit_two_epochs(train, val, p, 1); /* by accuracy */
  assert_ok(dcnn_trainer_set(f.trainer, DCNN_TRAIN_MONITOR_LOSS, 1));
  save_and_resume(f.trainer, path); /* no best epoch in it: its value was an accuracy */
  assert_int_equal(f.trainer->best_epoch, 0);
  assert_ok(dcnn_trainer_set(f.trainer, DCNN_TRAIN_EPOCHS, 1));
  assert_ok(dcnn_trainer_fit(f.trainer, train, val, p));
  assert_int_equal(f.trainer->best_epoch, 3); /* the first epoch measured by loss */
  dcnn_epoch_stats last = DCNN_STRUCT_INIT(dcnn_epoch_stats);
  assert_ok(dcnn_trainer_history(f.trainer, 2, &last));
  assert_true(f.trainer->best_value == last.val_loss); /* a loss, not the accuracy */
  fitted_destroy(&f);
  dcnn_pipeline_destroy(p);
  dcnn_dataset_destroy(train);
  dcnn_dataset_destroy(val);
}

/* A run stopped early by patience, resumed from its last checkpoint, is
 * finished: the next fit trains no epoch (it trained on from the epoch after,
 * unlike the run that was not interrupted). A fit refused before its first
 * epoch (a validation set of the wrong shape) leaves it so: it once cleared
 * the mark, and the fit after trained one more epoch. */
static void a_run_stopped_early_resumes_finished(void **state) {
  (void)state;
  dcnn_dataset *train = test_halves(64), *val = test_halves(16), *wrong = NULL;
  uint8_t px[7 * 7] = {0};
  const int32_t label = 0;
  assert_ok(dcnn_dataset_create(NULL, 1, 7, 7, 1, px, &label, 2, &wrong));
  dcnn_pipeline *p = NULL;
  assert_ok(dcnn_pipeline_create(NULL, &p));
  char path[256];
  snprintf(path, sizeof path, "%s/dcnn-early-%d.dcnn", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
  const dcnn_shape in = dcnn_shape_make(3, 1, 6, 6, 0);
  dcnn_model *m = NULL;
  assert_ok(dcnn_model_create(NULL, &in, &m));
  test_add_classifier(m, 2);
  assert_ok(dcnn_model_init(m, 5));
  dcnn_optimizer *o = NULL;
  assert_ok(dcnn_optimizer_create_sgd(NULL, 0.05f, 0.0f, DCNN_MOMENTUM_CLASSIC, 0, &o));
  dcnn_trainer *t = NULL;
  assert_ok(dcnn_trainer_create(NULL, m, o, &t));
  assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_EPOCHS, 20));
  assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_BATCH_SIZE, 16));
  assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_AUGMENT, 0));
  assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_PATIENCE, 1));
  assert_ok(dcnn_trainer_fit(t, train, val, p));
  const int32_t done = dcnn_trainer_epochs_done(t);
  assert_true(done < 20); /* stopped early: 100% on the validation halves cannot improve */
  save_and_resume(t, path);
  assert_status(dcnn_trainer_fit(t, train, wrong, p), DCNN_ERR_SHAPE_MISMATCH);
  assert_ok(dcnn_trainer_fit(t, train, val, p));
  assert_int_equal(dcnn_trainer_epochs_done(t), done);
  assert_ok(dcnn_trainer_fit(t, train, val, p)); /* after the finishing fit, fits train again */
  assert_true(dcnn_trainer_epochs_done(t) > done);
  dcnn_trainer_destroy(t);
  dcnn_optimizer_destroy(o);
  dcnn_model_destroy(m);
  dcnn_pipeline_destroy(p);
  dcnn_dataset_destroy(wrong);
  dcnn_dataset_destroy(train);
  dcnn_dataset_destroy(val);
}

/* A fit without validation data keeps the weights it trained: keep_best once
 * restored an earlier fit's best epoch at its end, undoing all its epochs
 * (or a later validated fit's end did, when none of its epochs beat it). */
static void a_fit_without_validation_keeps_its_weights(void **state) {
  (void)state;
  dcnn_dataset *train = test_halves(64), *val = test_halves(32);
  dcnn_pipeline *p = NULL;
  assert_ok(dcnn_pipeline_create(NULL, &p));
  fitted f = fit_two_epochs(train, val, p, 1);
  assert_ok(dcnn_trainer_set(f.trainer, DCNN_TRAIN_EMA_DECAY, 0));
  float trained[256], best[256];
  /* what the restore would give: the weights of the best epoch (1 or 2) */
  assert_true(f.trainer->best_epoch >= 1 && f.trainer->best_epoch <= 2 && f.trainer->best != NULL);
  const int64_t n = dcnn_model_param_count(f.model, DCNN_PARAM_TRAINABLE | DCNN_PARAM_BUFFER);
  assert_true(n <= 256);
  memcpy(best, f.trainer->best, (size_t)n * sizeof(float));
  assert_ok(dcnn_trainer_set(f.trainer, DCNN_TRAIN_EPOCHS, 3));
  assert_ok(dcnn_trainer_fit(f.trainer, train, NULL, p));
  assert_int_equal(dcnn_trainer_epochs_done(f.trainer), 5);
  assert_int_equal(dcnn_trainer_best_epoch(f.trainer), 0);
  assert_int_equal(copy_weights(f.model, trained, 256), n);
  assert_true(memcmp(trained, best, (size_t)n * sizeof(float)) != 0);
  /* ...and ends the earlier tracking: a later fit with validation ranks its own epochs
   * only, and never copies the first fit's weights back over the second's training */
  assert_null(f.trainer->best);
  assert_int_equal(f.trainer->best_epoch, 0);
  assert_ok(dcnn_trainer_set(f.trainer, DCNN_TRAIN_EPOCHS, 2));
  assert_ok(dcnn_trainer_fit(f.trainer, train, val, p));
  assert_true(dcnn_trainer_best_epoch(f.trainer) >= 6);
  fitted_destroy(&f);
  dcnn_pipeline_destroy(p);
  dcnn_dataset_destroy(train);
  dcnn_dataset_destroy(val);
}

/* Even a fit with no epoch left (resumed at the end of its run) writes the
 * weights (the best epoch's, the average): refused while a session may read
 * them on another thread, as every training step is. */
static void a_finishing_fit_is_refused_under_a_live_session(void **state) {
  (void)state;
  dcnn_dataset *train = test_halves(64), *val = test_halves(32);
  dcnn_pipeline *p = NULL;
  assert_ok(dcnn_pipeline_create(NULL, &p));
  char path[256];
  snprintf(path, sizeof path, "%s/dcnn-finish-%d.dcnn", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
  fitted f = fit_two_epochs(train, val, p, 1);
  save_and_resume(f.trainer, path);
  dcnn_session *s = NULL;
  assert_ok(dcnn_session_create(f.model, 4, 1, &s));
  assert_status(dcnn_trainer_fit(f.trainer, train, val, p), DCNN_ERR_INVALID_STATE);
  assert_error_mentions("session");
  dcnn_session_destroy(s);
  assert_ok(dcnn_trainer_fit(f.trainer, train, val, p));
  assert_int_equal(dcnn_trainer_epochs_done(f.trainer), 2);
  fitted_destroy(&f);
  dcnn_pipeline_destroy(p);
  dcnn_dataset_destroy(train);
  dcnn_dataset_destroy(val);
}

/* The "classes" metadata names every class or is not written: it was cut at
 * about 500 bytes (150 of 200 classes) without a word. */
static void class_names_are_whole_or_absent(void **state) {
  (void)state;
  const int32_t counts[] = {200, 20000};
  for (int k = 0; k < 2; ++k) {
    const int32_t classes = counts[k], n = 64;
    uint8_t px[64 * 4] = {0};
    int32_t labels[64];
    for (int32_t i = 0; i < n; ++i) labels[i] = (i * 37) % classes;
    dcnn_dataset *train = NULL;
    assert_ok(dcnn_dataset_create(NULL, n, 2, 2, 1, px, labels, classes, &train));
    dcnn_pipeline *p = NULL;
    assert_ok(dcnn_pipeline_create(NULL, &p));
    const dcnn_shape in = dcnn_shape_make(3, 1, 2, 2, 0);
    dcnn_model *m = NULL;
    assert_ok(dcnn_model_create(NULL, &in, &m));
    test_add_classifier(m, classes);
    assert_ok(dcnn_model_init(m, 5));
    dcnn_optimizer *o = NULL;
    assert_ok(dcnn_optimizer_create_sgd(NULL, 0.01f, 0.0f, DCNN_MOMENTUM_CLASSIC, 0, &o));
    dcnn_trainer *t = NULL;
    assert_ok(dcnn_trainer_create(NULL, m, o, &t));
    assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_EPOCHS, 1));
    assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_BATCH_SIZE, 32));
    assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_MAX_STEPS, 1));
    assert_ok(dcnn_trainer_fit(t, train, NULL, p));
    const char *names = dcnn_model_metadata(m, "classes");
    if (classes == 200) {
      assert_non_null(names);
      int commas = 0;
      for (const char *c = names; *c; ++c) commas += *c == ',';
      assert_int_equal(commas, 199);
      assert_string_equal(names + strlen(names) - 4, ",199");
    } else {
      assert_null(names); /* 108,890 bytes: more than a metadata value holds */
    }
    dcnn_trainer_destroy(t);
    dcnn_optimizer_destroy(o);
    dcnn_model_destroy(m);
    dcnn_pipeline_destroy(p);
    dcnn_dataset_destroy(train);
  }
}

/* ---- the rest of a checkpoint's state: each field a setter or creator would
 * refuse is refused when read back (a crafted file's NaN batch size was cast to
 * an integer, a beta of 1.5 turned Adam's step around, a count of 2^63-1
 * overflowed on the next step) ---- */

typedef struct state_patch {
  size_t offset;
  int width; /* 4: u32, 8: u64, -4: f32, -8: f64 */
  double value;
} state_patch;

/* `saved` with one field rewritten in the writer's encoding, into `out` (a fresh buffer). */
static void patched_copy(const dcnn_bytes *saved, const state_patch *p, dcnn_bytes *out) {
  dcnn_bytes field = {0};
  if (p->width == 4) dcnn__bytes_u32(&field, (uint32_t)(int64_t)p->value);
  else if (p->width == 8) dcnn__bytes_u64(&field, (uint64_t)p->value);
  else if (p->width == -4) dcnn__bytes_f32(&field, (float)p->value);
  else dcnn__bytes_f64(&field, p->value);
  assert_true(p->offset + field.size <= saved->size);
  dcnn__bytes_put(out, saved->data, saved->size);
  memcpy(out->data + p->offset, field.data, field.size);
  dcnn__bytes_free(&field);
}

/* A trainer's own state with one epoch of history whose best value is `best`. */
static void state_with_one_epoch(const dcnn_bytes *fresh, double best, dcnn_bytes *out) {
  dcnn__bytes_put(out, fresh->data, 116); /* the option count and 14 options */
  dcnn__bytes_u32(out, 1);                /* epochs done */
  dcnn__bytes_u32(out, 1);
  dcnn__bytes_u32(out, 2);
  dcnn__bytes_u32(out, 3);
  const double figures[6] = {0.5, 0.05, 0.7, 0.5, 0.6, 0.5};
  for (int k = 0; k < 6; ++k) dcnn__bytes_f64(out, figures[k]);
  dcnn__bytes_f64(out, best);
  dcnn__bytes_u32(out, 1); /* best epoch */
  dcnn__bytes_u32(out, 1); /* restored */
  dcnn__bytes_u32(out, 0); /* since the best */
  dcnn__bytes_put(out, fresh->data + 140, fresh->size - 140);
}

static void checkpoint_trainer_and_optimizer_states_are_checked(void **state) {
  (void)state;
  dcnn_model *m = NULL;
  dcnn_optimizer *sgd = NULL;
  dcnn_trainer *t = smoothing_trainer(&m, &sgd, 0);
  dcnn_bytes fresh = {0};
  dcnn__trainer_save_own_state(t, &fresh);
  assert_int_equal(fresh.size, 220); /* the layout the offsets below assume */
  dcnn__trainer_staged staged;
  {
    dcnn_reader r = {"ckpt", fresh.data, fresh.size, 0};
    assert_ok(dcnn__trainer_load_own_state(&r, 6, t, &staged));
    dcnn__trainer_staged_free(t, &staged);
  }
  const state_patch trainer_patches[] = {
      {4 + 8 * DCNN_TRAIN_BATCH_SIZE, -8, NAN}, {4 + 8 * DCNN_TRAIN_BATCH_SIZE, -8, 0.5},
      {4 + 8 * DCNN_TRAIN_EPOCHS, -8, 1e10},    {4 + 8 * DCNN_TRAIN_MAX_STEPS, -8, 0.5},
      {4 + 8 * DCNN_TRAIN_AUGMENT, -8, NAN},    {4 + 8 * DCNN_TRAIN_KEEP_BEST, -8, 2},
      {4 + 8 * DCNN_TRAIN_PATIENCE, -8, -1},    {4 + 8 * DCNN_TRAIN_MIXUP, -8, 11},
      {156, 4, 1}, /* inside epoch 1 with 0 steps but 1 sample seen: */
      {196, 8, 9.3e18}, /* weight-average updates near 2^63 */
      {212, 4, 2e7},    /* 2e7 epochs planned: a fit plans at most 1e7 */
  };
  for (size_t i = 0; i < sizeof trainer_patches / sizeof trainer_patches[0]; ++i) {
    dcnn_bytes bad = {0};
    patched_copy(&fresh, &trainer_patches[i], &bad);
    if (trainer_patches[i].offset == 156) { /* seen = 1 at 0 steps (with a valid batch size: only that is wrong) */
      dcnn_bytes seen = {0};
      dcnn__bytes_u64(&seen, 1);
      dcnn__bytes_u32(&seen, 16);
      memcpy(bad.data + 172, seen.data, 8);
      memcpy(bad.data + 216, seen.data + 8, 4);
      dcnn__bytes_free(&seen);
    }
    dcnn_reader r = {"ckpt", bad.data, bad.size, 0};
    if (dcnn__trainer_load_own_state(&r, 6, t, &staged) != DCNN_ERR_BAD_FORMAT)
      fail_msg("trainer patch %zu was accepted", i);
    dcnn__trainer_staged_free(t, &staged);
    assert_error_mentions("ckpt: training state");
    dcnn__bytes_free(&bad);
  }
  /* the position: 2 steps of at most 1e7 samples, a non-negative loss sum and time, a batch size of 1 to 1e7 */
  const state_patch position[] = {{172, 8, 3e7}, {164, -8, -1}, {188, -8, NAN}, {216, 4, 0}, {216, 4, 2e7}};
  for (size_t i = 0; i < sizeof position / sizeof position[0]; ++i) {
    dcnn_bytes base = {0}, bad = {0};
    patched_copy(&fresh, &(state_patch){156, 4, 1}, &base); /* inside epoch 1 */
    dcnn_bytes steps = {0};
    dcnn__bytes_u32(&steps, 2);
    dcnn__bytes_u32(&steps, 16); /* the batch size of those steps */
    memcpy(base.data + 160, steps.data, 4);
    memcpy(base.data + 216, steps.data + 4, 4);
    dcnn__bytes_free(&steps);
    {
      dcnn_reader r = {"ckpt", base.data, base.size, 0};
      assert_ok(dcnn__trainer_load_own_state(&r, 6, t, &staged));
      dcnn__trainer_staged_free(t, &staged);
    }
    patched_copy(&base, &position[i], &bad);
    dcnn_reader r = {"ckpt", bad.data, bad.size, 0};
    if (dcnn__trainer_load_own_state(&r, 6, t, &staged) != DCNN_ERR_BAD_FORMAT) fail_msg("position patch %zu was accepted", i);
    dcnn__trainer_staged_free(t, &staged);
    dcnn__bytes_free(&base);
    dcnn__bytes_free(&bad);
  }
  /* a best epoch whose value is NaN would never be improved on */
  for (int nan_best = 0; nan_best < 2; ++nan_best) {
    dcnn_bytes one = {0};
    state_with_one_epoch(&fresh, nan_best ? NAN : 0.5, &one);
    dcnn_reader r = {"ckpt", one.data, one.size, 0};
    assert_int_equal(dcnn__trainer_load_own_state(&r, 6, t, &staged), nan_best ? DCNN_ERR_BAD_FORMAT : DCNN_OK);
    dcnn__trainer_staged_free(t, &staged);
    dcnn__bytes_free(&one);
  }
  dcnn__bytes_free(&fresh);

  /* optimizers: kind u32, 6 x f32 (rate, momentum, beta1, beta2, epsilon, decay), nesterov u32, steps u64 */
  dcnn_optimizer *adam = NULL;
  assert_ok(dcnn_optimizer_create_adam(NULL, 0.01f, 0.9f, 0.999f, 1e-7f, 0.0f, &adam));
  assert_ok(dcnn__optimizer_bind(adam, m));
  struct {
    dcnn_optimizer *o;
    state_patch patch;
  } optimizer_patches[] = {
      {sgd, {8, -4, 1.0}}, {sgd, {28, 4, 1}}, /* Nesterov with momentum 0 */
      {adam, {12, -4, 1.5}}, {adam, {16, -4, 1.0}}, {adam, {20, -4, 0.0}}, {adam, {28, 4, 1}},
      {adam, {32, 8, 9.3e18}},
  };
  for (size_t i = 0; i < sizeof optimizer_patches / sizeof optimizer_patches[0]; ++i) {
    dcnn_bytes saved = {0}, bad = {0};
    dcnn__optimizer_save_state(optimizer_patches[i].o, &saved);
    dcnn__optimizer_staged s;
    {
      dcnn_reader r = {"ckpt", saved.data, saved.size, 0};
      assert_ok(dcnn__optimizer_load_state(&r, optimizer_patches[i].o, m, &s));
      dcnn__optimizer_staged_free(optimizer_patches[i].o, &s);
    }
    patched_copy(&saved, &optimizer_patches[i].patch, &bad);
    dcnn_reader r = {"ckpt", bad.data, bad.size, 0};
    if (dcnn__optimizer_load_state(&r, optimizer_patches[i].o, m, &s) != DCNN_ERR_BAD_FORMAT)
      fail_msg("optimizer patch %zu was accepted", i);
    dcnn__optimizer_staged_free(optimizer_patches[i].o, &s);
    assert_error_mentions("ckpt: training state");
    dcnn__bytes_free(&saved);
    dcnn__bytes_free(&bad);
  }
  /* Adam's second moments are means of squares: a negative one is refused. The
   * first parameter's state follows the 44-byte header: flags, then each moment's count and values. */
  {
    dcnn_bytes saved = {0}, bad = {0};
    dcnn__optimizer_save_state(adam, &saved);
    dcnn_param p = DCNN_STRUCT_INIT(dcnn_param);
    assert_ok(dcnn_model_param(m, 0, &p, NULL));
    const size_t second = 44 + 4 + 8 + 4 * (size_t)p.value->count + 8;
    patched_copy(&saved, &(state_patch){second, -4, -1.0}, &bad);
    dcnn__optimizer_staged s;
    dcnn_reader r = {"ckpt", bad.data, bad.size, 0};
    assert_int_equal(dcnn__optimizer_load_state(&r, adam, m, &s), DCNN_ERR_BAD_FORMAT);
    dcnn__optimizer_staged_free(adam, &s);
    assert_error_mentions("second moment");
    dcnn__bytes_free(&bad);
    patched_copy(&saved, &(state_patch){second, -4, 0.25}, &bad); /* a positive one reads */
    dcnn_reader good = {"ckpt", bad.data, bad.size, 0};
    assert_ok(dcnn__optimizer_load_state(&good, adam, m, &s));
    dcnn__optimizer_staged_free(adam, &s);
    dcnn__bytes_free(&saved);
    dcnn__bytes_free(&bad);
  }
  /* the model's step counter */
  {
    dcnn_bytes saved = {0}, bad = {0};
    dcnn__model_save_state(m, &saved);
    patched_copy(&saved, &(state_patch){8, 8, 9.3e18}, &bad);
    dcnn__model_counters c;
    dcnn_reader r = {"ckpt", bad.data, bad.size, 0};
    assert_int_equal(dcnn__model_load_state(&r, &c), DCNN_ERR_BAD_FORMAT);
    dcnn__bytes_free(&saved);
    dcnn__bytes_free(&bad);
  }
  dcnn_optimizer_destroy(adam);
  dcnn_trainer_destroy(t);
  dcnn_optimizer_destroy(sgd);
  dcnn_model_destroy(m);
}

static dcnn_progress_action cancel_at_once(const dcnn_progress *p, void *user) {
  (void)p, (void)user;
  return DCNN_PROGRESS_CANCEL;
}

/* The metadata describes the weights: a fit cancelled before its first step
 * leaves both as they were (it rewrote "preprocessing" and added "classes"). */
static void a_fit_stopped_before_its_first_step_keeps_the_metadata(void **state) {
  (void)state;
  dcnn_shape s = dcnn_shape_make(3, 1, 8, 8, 0);
  dcnn_model *m = NULL;
  dcnn_layer *l = NULL;
  assert_ok(dcnn_model_create(NULL, &s, &m));
  assert_ok(dcnn_flatten_create(&l));
  assert_ok(dcnn_model_add(m, l));
  assert_ok(dcnn_dense_create(10, DCNN_WITH_BIAS, &l));
  assert_ok(dcnn_model_add(m, l));
  assert_ok(dcnn_softmax_create(&l));
  assert_ok(dcnn_model_add(m, l));
  uint8_t px[20 * 64];
  int32_t labels[20];
  for (int i = 0; i < 20 * 64; ++i) px[i] = (uint8_t)(i * 31);
  for (int i = 0; i < 20; ++i) labels[i] = i % 10;
  dcnn_dataset *ds = NULL;
  assert_ok(dcnn_dataset_create(NULL, 20, 8, 8, 1, px, labels, 10, &ds));
  dcnn_pipeline *standardised = NULL, *plain = NULL;
  assert_ok(dcnn_pipeline_create(NULL, &standardised));
  assert_ok(dcnn_pipeline_fit_standardization(standardised, ds, NULL, NULL));
  assert_ok(dcnn_pipeline_create(NULL, &plain));
  dcnn_optimizer *o = NULL;
  assert_ok(dcnn_optimizer_create_sgd(NULL, 0.1f, 0, DCNN_MOMENTUM_CLASSIC, 0, &o));
  dcnn_trainer *t = NULL;
  assert_ok(dcnn_trainer_create(NULL, m, o, &t));
  assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_EPOCHS, 1));

  assert_ok(dcnn_trainer_set_progress(t, cancel_at_once, NULL)); /* a model never trained */
  assert_status(dcnn_trainer_fit(t, ds, NULL, standardised), DCNN_ERR_CANCELLED);
  assert_null(dcnn_model_metadata(m, "preprocessing"));
  assert_null(dcnn_model_metadata(m, "classes"));

  assert_ok(dcnn_trainer_set_progress(t, NULL, NULL));
  assert_ok(dcnn_trainer_fit(t, ds, NULL, standardised));
  char before[600];
  snprintf(before, sizeof before, "%s", dcnn_model_metadata(m, "preprocessing"));
  assert_non_null(strstr(before, "standardize=1"));
  assert_non_null(dcnn_model_metadata(m, "classes"));
  assert_ok(dcnn_trainer_set_progress(t, cancel_at_once, NULL));
  assert_status(dcnn_trainer_fit(t, ds, NULL, plain), DCNN_ERR_CANCELLED);
  assert_string_equal(dcnn_model_metadata(m, "preprocessing"), before);
  assert_error_mentions("cancel"); /* the fit's own message, kept */
  assert_non_null(dcnn_model_metadata(m, "classes"));

  dcnn_trainer_destroy(t);
  dcnn_optimizer_destroy(o);
  dcnn_pipeline_destroy(plain);
  dcnn_pipeline_destroy(standardised);
  dcnn_dataset_destroy(ds);
  dcnn_model_destroy(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(softmax_cross_entropy_values),
      cmocka_unit_test(smoothed_cross_entropy_matches_direct_and_finite_differences),
      cmocka_unit_test(soft_cross_entropy_matches_direct_and_finite_differences),
      cmocka_unit_test(sgd_momentum_and_nesterov_steps),
      cmocka_unit_test(adam_steps_follow_keras),
      cmocka_unit_test(adamw_decay_is_decoupled_and_skips_no_decay),
      cmocka_unit_test(schedules_give_their_formulas),
      cmocka_unit_test(plateau_minimum_never_raises_the_rate),
      cmocka_unit_test(warmup_cosine_ramps_then_decays),
      cmocka_unit_test(hook_state_longer_than_any_save_is_refused),
      cmocka_unit_test(trainer_runs_epochs_with_history),
      cmocka_unit_test(trainer_label_smoothing_option),
      cmocka_unit_test(mixup_and_cutmix_mix_images_and_targets_alike),
      cmocka_unit_test(mixup_with_a_tiny_alpha_barely_mixes),
      cmocka_unit_test(weight_average_follows_its_formula),
      cmocka_unit_test(weight_average_covers_batch_norm_statistics),
      cmocka_unit_test(a_lone_last_sample_is_skipped_with_batch_norm),
      cmocka_unit_test(tta_averages_shifted_copies),
      cmocka_unit_test(evaluate_checks_the_dataset_classes_first),
      cmocka_unit_test(evaluate_checks_the_sample_shape_first),
      cmocka_unit_test(evaluate_takes_the_softmax_of_raw_scores),
      cmocka_unit_test(ensemble_averages_members_through_their_pipelines),
      cmocka_unit_test(schedule_rate_at_positions),
      cmocka_unit_test(trainer_schedule_per_step_option),
      cmocka_unit_test(step_limit_and_patience_beyond_int32),
      cmocka_unit_test(a_scheduled_rate_of_zero_leaves_the_weights),
      cmocka_unit_test(resuming_a_checkpoint_matches_an_uninterrupted_run),
      cmocka_unit_test(resuming_inside_an_epoch_matches_an_uninterrupted_run),
      cmocka_unit_test(recipe_options_resume_bit_identically),
      cmocka_unit_test(checkpoint_schedule_state_is_checked),
      cmocka_unit_test(checkpoint_trainer_and_optimizer_states_are_checked),
      cmocka_unit_test(a_fit_skipping_a_failing_param_slot_keeps_the_callers_message),
      cmocka_unit_test(a_fit_after_layers_were_added_drops_the_old_copies),
      cmocka_unit_test(a_run_stopped_early_resumes_finished),
      cmocka_unit_test(a_fit_without_validation_keeps_its_weights),
      cmocka_unit_test(a_finishing_fit_is_refused_under_a_live_session),
      cmocka_unit_test(class_names_are_whole_or_absent),
      cmocka_unit_test(a_fit_stopped_before_its_first_step_keeps_the_metadata),
      cmocka_unit_test(a_plateau_for_the_other_metric_is_refused),
      cmocka_unit_test(a_one_class_model_trains_without_validation),
      cmocka_unit_test(a_stale_weight_average_starts_again),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
