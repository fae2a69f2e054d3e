/* Models: building and its errors, summary, forward values, training to 100%
 * on a fixed set, determinism, no allocation in the steady-state step, input
 * gradients, bad input. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "test_support.h"

static dcnn_model *tiny_cnn(dcnn_context *ctx, uint64_t seed) {
  dcnn_shape input = dcnn_shape_make(3, 1, 8, 8, 0);
  dcnn_model *m = NULL;
  assert_ok(dcnn_model_create(ctx, &input, &m));
  dcnn_layer *l = NULL;
  assert_ok(dcnn_conv2d_create(8, 3, 1, DCNN_PADDING_SAME, DCNN_NO_BIAS, &l));
  assert_ok(dcnn_model_add(m, l));
  assert_ok(dcnn_batchnorm_create(0.9f, 1e-3f, &l));
  assert_ok(dcnn_model_add(m, l));
  assert_ok(dcnn_relu_create(&l));
  assert_ok(dcnn_model_add(m, l));
  assert_ok(dcnn_maxpool2d_create(2, 2, DCNN_PADDING_VALID, &l));
  assert_ok(dcnn_model_add(m, l));
  assert_ok(dcnn_dropout_create(0.1f, &l));
  assert_ok(dcnn_model_add(m, l));
  test_add_classifier(m, 4);
  assert_ok(dcnn_model_init(m, seed));
  return m;
}

/* 64 fixed random images; the label is the quadrant with the brightest blob. */
static void fixed_samples(dcnn_tensor **x, int32_t *labels) {
  dcnn_shape s = dcnn_shape_make(4, 64, 1, 8, 8);
  assert_ok(dcnn_tensor_create(NULL, &s, x));
  assert_ok(dcnn_tensor_fill_random(*x, DCNN_DIST_UNIFORM, 0.0f, 0.5f, 5, 0));
  float *d = dcnn_tensor_data(*x);
  for (int n = 0; n < 64; ++n) {
    labels[n] = (int32_t)(dcnn_random_bits(5, 1, (uint64_t)n) % 4);
    int r0 = labels[n] / 2 * 4, c0 = labels[n] % 2 * 4;
    for (int r = r0; r < r0 + 4; ++r)
      for (int c = c0; c < c0 + 4; ++c) d[n * 64 + r * 8 + c] += 0.5f;
  }
}

static void paper_cnn_summary_and_counts(void **state) {
  (void)state;
  dcnn_model *m = NULL;
  assert_ok(dcnn_zoo_paper_cnn(NULL, test_zoo(28, 28, 1, 10, 1), &m));
  assert_int_equal(dcnn_model_layer_count(m), 18);
  assert_int_equal(dcnn_model_param_count(m, DCNN_PARAM_TRAINABLE), 871082);
  assert_int_equal(dcnn_model_param_count(m, DCNN_PARAM_BUFFER), 896);
  dcnn_shape out = dcnn_model_output_shape(m);
  assert_int_equal(out.ndim, 1);
  assert_int_equal(out.dims[0], 10);
  char *text = NULL;
  assert_ok(dcnn_model_summary(m, &text));
  assert_non_null(strstr(text, "Total params: 871,978"));
  assert_non_null(strstr(text, "Trainable params: 871,082"));
  assert_non_null(strstr(text, "(None, 32, 28, 28)"));
  assert_non_null(strstr(text, "(None, 3136)"));
  assert_non_null(strstr(text, "7,225,344")); /* conv 32->32 at 28x28 */
  dcnn_free(text);
  dcnn_model_destroy(m);
  dcnn_model_destroy(NULL);
}

static void misfit_layers_are_named(void **state) {
  (void)state;
  dcnn_shape input = dcnn_shape_make(3, 1, 28, 28, 0);
  dcnn_model *m = NULL;
  assert_ok(dcnn_model_create(NULL, &input, &m));
  dcnn_layer *l = NULL;
  assert_ok(dcnn_relu_create(&l));
  assert_ok(dcnn_model_add(m, l));
  assert_ok(dcnn_dense_create(10, DCNN_WITH_BIAS, &l));
  assert_status(dcnn_model_add(m, l), DCNN_ERR_SHAPE_MISMATCH); /* the layer is freed */
  assert_error_mentions("layer 1 (dense)");
  assert_error_mentions("(1, 1, 28, 28)");
  assert_int_equal(dcnn_model_layer_count(m), 1);
  assert_status(dcnn_model_add(m, NULL), DCNN_ERR_INVALID_ARGUMENT);
  dcnn_shape bad = dcnn_shape_make(4, 1, 1, 1, 1);
  dcnn_model *m2 = NULL;
  assert_status(dcnn_model_create(NULL, &bad, &m2), DCNN_ERR_INVALID_ARGUMENT);
  assert_null(m2);
  dcnn_model_destroy(m);
}

/* One 3x3 'same' convolution with kernel 1..9 and bias 0.5 on the image 1..9. */
static void conv_forward_matches_hand_computation(void **state) {
  (void)state;
  dcnn_shape input = dcnn_shape_make(3, 1, 3, 3, 0);
  dcnn_model *m = NULL;
  assert_ok(dcnn_model_create(NULL, &input, &m));
  dcnn_layer *l = NULL;
  assert_ok(dcnn_conv2d_create(1, 3, 1, DCNN_PADDING_SAME, DCNN_WITH_BIAS, &l));
  assert_ok(dcnn_model_add(m, l));
  dcnn_param kernel = DCNN_STRUCT_INIT(dcnn_param), bias = DCNN_STRUCT_INIT(dcnn_param);
  assert_ok(dcnn_model_param(m, 0, &kernel, NULL));
  assert_ok(dcnn_model_param(m, 1, &bias, NULL));
  for (int i = 0; i < 9; ++i) dcnn_tensor_data(kernel.value)[i] = (float)(i + 1);
  dcnn_tensor_data(bias.value)[0] = 0.5f;
  dcnn_shape s = dcnn_shape_make(4, 1, 1, 3, 3);
  dcnn_tensor *x = NULL, *y = NULL;
  assert_ok(dcnn_tensor_create(NULL, &s, &x));
  assert_ok(dcnn_tensor_create(NULL, &s, &y));
  for (int i = 0; i < 9; ++i) dcnn_tensor_data(x)[i] = (float)(i + 1);
  assert_ok(dcnn_model_predict(m, x, y));
  const float *out = dcnn_tensor_data(y);
  /* centre: sum i*i = 285; top-left: k5*x1 + k6*x2 + k8*x4 + k9*x5 = 5+12+32+45 = 94 */
  assert_true(out[4] == 285.5f);
  assert_true(out[0] == 94.5f);
  /* bottom-right: k1*x5 + k2*x6 + k4*x8 + k5*x9 = 5 + 12 + 32 + 45 = 94 */
  assert_true(out[8] == 94.5f);
  dcnn_tensor_destroy(x);
  dcnn_tensor_destroy(y);
  dcnn_model_destroy(m);
}

static void tiny_cnn_overfits_64_samples(void **state) {
  (void)state;
  dcnn_context *ctx = test_context(2);
  dcnn_model *m = tiny_cnn(ctx, 3);
  dcnn_optimizer *adam = NULL;
  assert_ok(dcnn_optimizer_create_adam(ctx, 1e-2f, 0.9f, 0.999f, 1e-7f, 0.0f, &adam));
  dcnn_tensor *x = NULL;
  int32_t labels[64];
  fixed_samples(&x, labels);
  float first_loss = 0, loss = 0;
  int32_t correct = 0;
  int step = 0;
  for (; step < 300; ++step) {
    assert_ok(dcnn_model_train_step(m, adam, x, labels, &loss, &correct));
    if (step == 0) first_loss = loss;
    if (correct == 64 && step > 20) break;
  }
  print_message("tiny CNN: loss %.4f -> %.4f, 64/64 correct after %d steps\n", first_loss, loss, step + 1);
  assert_int_equal(correct, 64);
  assert_true(loss < first_loss / 4);
  /* Inference mode agrees. */
  dcnn_shape ys = dcnn_shape_make(2, 64, 4, 0, 0);
  dcnn_tensor *y = NULL;
  assert_ok(dcnn_tensor_create(ctx, &ys, &y));
  assert_ok(dcnn_model_predict(m, x, y));
  int hits = 0;
  for (int n = 0; n < 64; ++n) {
    const float *p = dcnn_tensor_data(y) + n * 4;
    int best = 0;
    for (int k = 1; k < 4; ++k)
      if (p[k] > p[best]) best = k;
    hits += best == labels[n];
  }
  assert_true(hits >= 62);
  dcnn_tensor_destroy(x);
  dcnn_tensor_destroy(y);
  dcnn_optimizer_destroy(adam);
  dcnn_model_destroy(m);
  assert_int_equal(dcnn_context_live_allocations(ctx), 0);
  dcnn_context_destroy(ctx);
}

/* Trains a fresh tiny CNN for `steps` and copies all its parameters out. */
static float *train_and_dump(int32_t threads, int steps, int64_t *count) {
  dcnn_context *ctx = test_context(threads);
  dcnn_model *m = tiny_cnn(ctx, 11);
  dcnn_optimizer *sgd = NULL;
  assert_ok(dcnn_optimizer_create_sgd(ctx, 0.05f, 0.9f, DCNN_MOMENTUM_NESTEROV, 1e-4f, &sgd));
  dcnn_tensor *x = NULL;
  int32_t labels[64];
  fixed_samples(&x, labels);
  for (int i = 0; i < steps; ++i) assert_ok(dcnn_model_train_step(m, sgd, x, labels, NULL, NULL));
  *count = dcnn_model_param_count(m, DCNN_PARAM_TRAINABLE | DCNN_PARAM_BUFFER);
  float *dump = malloc((size_t)*count * sizeof(float)), *at = dump;
  for (int32_t i = 0; i < dcnn_model_param_tensor_count(m); ++i) {
    dcnn_param p = DCNN_STRUCT_INIT(dcnn_param);
    assert_ok(dcnn_model_param(m, i, &p, NULL));
    memcpy(at, dcnn_tensor_data(p.value), (size_t)dcnn_tensor_count(p.value) * sizeof(float));
    at += dcnn_tensor_count(p.value);
  }
  dcnn_tensor_destroy(x);
  dcnn_optimizer_destroy(sgd);
  dcnn_model_destroy(m);
  dcnn_context_destroy(ctx);
  return dump;
}

static void training_is_bit_reproducible(void **state) {
  (void)state;
  int64_t n1 = 0, n2 = 0;
  float *a = train_and_dump(2, 8, &n1), *b = train_and_dump(2, 8, &n2);
  assert_int_equal(n1, n2);
  assert_memory_equal(a, b, (size_t)n1 * sizeof(float));
  float *c = train_and_dump(1, 8, &n2);
  int64_t same = 0;
  for (int64_t i = 0; i < n1; ++i) same += a[i] == c[i];
  print_message("1 thread vs 2 threads: %lld of %lld parameters bit-identical\n", (long long)same, (long long)n1);
  free(a);
  free(b);
  free(c);
}

static void steady_state_step_does_not_allocate(void **state) {
  (void)state;
  dcnn_context *ctx = test_context(2);
  paper_setup p;
  paper_setup_create(ctx, 16, &p);
  int64_t before = dcnn_context_allocation_count(ctx);
  float loss = 0;
  for (int i = 0; i < 10; ++i) assert_ok(dcnn_model_train_step(p.model, p.adam, p.x, p.labels, &loss, NULL));
  assert_int_equal(dcnn_context_allocation_count(ctx), before);
  /* A smaller batch reuses the plan too. */
  dcnn_shape half = dcnn_shape_make(4, 8, 1, 28, 28);
  dcnn_tensor *x8 = NULL;
  assert_ok(dcnn_tensor_wrap(ctx, &half, dcnn_tensor_data(p.x), &x8));
  int64_t before_small = dcnn_context_allocation_count(ctx);
  assert_ok(dcnn_model_train_step(p.model, p.adam, x8, p.labels, NULL, NULL));
  assert_int_equal(dcnn_context_allocation_count(ctx), before_small);
  assert_true(isfinite(loss));
  dcnn_tensor_destroy(x8);
  paper_setup_destroy(&p);
  assert_int_equal(dcnn_context_live_allocations(ctx), 0);
  dcnn_context_destroy(ctx);
}

static void bad_batches_are_refused_without_harm(void **state) {
  (void)state;
  dcnn_model *m = tiny_cnn(NULL, 2);
  dcnn_optimizer *sgd = NULL;
  assert_ok(dcnn_optimizer_create_sgd(NULL, 0.1f, 0.0f, DCNN_MOMENTUM_CLASSIC, 0.0f, &sgd));
  dcnn_tensor *x = NULL;
  int32_t labels[64];
  fixed_samples(&x, labels);
  dcnn_param kernel = DCNN_STRUCT_INIT(dcnn_param);
  assert_ok(dcnn_model_param(m, 0, &kernel, NULL));
  float before = dcnn_tensor_data(kernel.value)[0];

  labels[17] = 4;
  assert_status(dcnn_model_train_step(m, sgd, x, labels, NULL, NULL), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("label 4 of sample 17");
  labels[17] = 0;
  dcnn_tensor_data(x)[100] = NAN;
  assert_status(dcnn_model_train_step(m, sgd, x, labels, NULL, NULL), DCNN_ERR_NUMERIC);
  assert_error_mentions("element 100");
  assert_true(dcnn_tensor_data(kernel.value)[0] == before);
  dcnn_tensor_data(x)[100] = 0.0f;

  dcnn_shape wrong = dcnn_shape_make(4, 64, 2, 4, 8);
  dcnn_tensor *xw = NULL;
  assert_ok(dcnn_tensor_view(x, &wrong, &xw));
  assert_status(dcnn_model_train_step(m, sgd, xw, labels, NULL, NULL), DCNN_ERR_SHAPE_MISMATCH);
  assert_error_mentions("(64, 2, 4, 8)");
  assert_status(dcnn_model_train_step(m, sgd, x, NULL, NULL, NULL), DCNN_ERR_INVALID_ARGUMENT);
  dcnn_shape ys = dcnn_shape_make(2, 64, 5, 0, 0);
  dcnn_tensor *y = NULL;
  assert_ok(dcnn_tensor_create(NULL, &ys, &y));
  assert_status(dcnn_model_predict(m, x, y), DCNN_ERR_SHAPE_MISMATCH);
  assert_true(dcnn_tensor_data(kernel.value)[0] == before);
  dcnn_tensor_destroy(y);
  dcnn_tensor_destroy(xw);
  dcnn_tensor_destroy(x);
  dcnn_optimizer_destroy(sgd);
  dcnn_model_destroy(m);
}

/* d(loss)/d(input) from the model against central differences of the loss. */
static void input_gradient_matches_finite_differences(void **state) {
  (void)state;
  dcnn_context *ctx = test_context(1);
  dcnn_model *m = tiny_cnn(ctx, 9);
  dcnn_optimizer *sgd = NULL;
  assert_ok(dcnn_optimizer_create_sgd(ctx, 0.1f, 0.0f, DCNN_MOMENTUM_CLASSIC, 0.0f, &sgd));
  dcnn_tensor *x = NULL;
  int32_t labels[64];
  fixed_samples(&x, labels);
  for (int i = 0; i < 3; ++i) assert_ok(dcnn_model_train_step(m, sgd, x, labels, NULL, NULL));
  dcnn_shape s4 = dcnn_shape_make(4, 4, 1, 8, 8);
  dcnn_tensor *x4 = NULL, *g4 = NULL;
  assert_ok(dcnn_tensor_wrap(ctx, &s4, dcnn_tensor_data(x), &x4));
  assert_ok(dcnn_tensor_create(ctx, &s4, &g4));
  float loss = 0;
  assert_ok(dcnn_model_input_gradient(m, x4, labels, g4, &loss));
  double worst = 0;
  int checked = 0;
  for (int j = 0; j < 60; ++j) {
    int i = (int)(dcnn_random_bits(1, 1, (uint64_t)j) % 256);
    float *v = dcnn_tensor_data(x4) + i, saved = *v, plus = 0, minus = 0;
    const float h = 1e-3f;
    *v = saved + h;
    assert_ok(dcnn_model_input_gradient(m, x4, labels, NULL == g4 ? NULL : g4, &plus));
    *v = saved - h;
    assert_ok(dcnn_model_input_gradient(m, x4, labels, g4, &minus));
    *v = saved;
    assert_ok(dcnn_model_input_gradient(m, x4, labels, g4, &loss));
    /* Skip probes that straddle a ReLU or max-pool kink (one-sided slopes disagree). */
    double right = ((double)plus - loss) / h, left = ((double)loss - minus) / h;
    if (fabs(right - left) > 0.1 * fmax(fmax(fabs(right), fabs(left)), 1e-3)) continue;
    checked++;
    double numeric = ((double)plus - minus) / (2 * h), analytic = dcnn_tensor_data(g4)[i];
    double err = fabs(numeric - analytic) / fmax(1e-2, fabs(numeric) + fabs(analytic));
    if (err > worst) worst = err;
  }
  print_message("input gradient: worst relative error %.2e over %d smooth probes\n", worst, checked);
  assert_true(checked >= 20);
  assert_true(worst < 0.05);
  assert_status(dcnn_model_input_gradient(m, x4, labels, x, NULL), DCNN_ERR_SHAPE_MISMATCH);
  dcnn_tensor_destroy(x4);
  dcnn_tensor_destroy(g4);
  dcnn_tensor_destroy(x);
  dcnn_optimizer_destroy(sgd);
  dcnn_model_destroy(m);
  dcnn_context_destroy(ctx);
}

static void out_of_memory_while_planning_is_clean(void **state) {
  (void)state;
  dcnn_context *ctx = test_context(1);
  dcnn_model *m = tiny_cnn(ctx, 1);
  int64_t live = dcnn_context_live_allocations(ctx);
  dcnn_shape s = dcnn_shape_make(4, 8, 1, 8, 8), ys = dcnn_shape_make(2, 8, 4, 0, 0);
  dcnn_tensor *x = NULL, *y = NULL;
  assert_ok(dcnn_tensor_create(NULL, &s, &x));
  assert_ok(dcnn_tensor_create(NULL, &ys, &y));
  dcnn_model_destroy(m);
  assert_int_equal(dcnn_context_live_allocations(ctx), 0);
  (void)live;
  /* Fail the k-th allocation of building and planning, for every k until it succeeds. */
  int succeeded = 0;
  for (int64_t allow = 0; allow < 400 && !succeeded; ++allow) {
    failing_allocator fa = {allow, 0};
    dcnn_allocator hooks = failing_allocator_hooks(&fa);
    assert_ok(dcnn_context_set_allocator(ctx, &hooks));
    dcnn_model *mm = NULL;
    dcnn_shape input = dcnn_shape_make(3, 1, 8, 8, 0);
    dcnn_status st = dcnn_model_create(ctx, &input, &mm);
    dcnn_layer *l = NULL;
    if (st == DCNN_OK) st = dcnn_conv2d_create(4, 3, 1, DCNN_PADDING_SAME, DCNN_WITH_BIAS, &l);
    if (st == DCNN_OK) st = dcnn_model_add(mm, l);
    if (st == DCNN_OK) st = dcnn_maxpool2d_create(2, 2, DCNN_PADDING_VALID, &l);
    if (st == DCNN_OK) st = dcnn_model_add(mm, l);
    if (st == DCNN_OK) st = dcnn_flatten_create(&l);
    if (st == DCNN_OK) st = dcnn_model_add(mm, l);
    if (st == DCNN_OK) st = dcnn_dense_create(4, DCNN_WITH_BIAS, &l);
    if (st == DCNN_OK) st = dcnn_model_add(mm, l);
    if (st == DCNN_OK) st = dcnn_model_predict(mm, x, y);
    if (st != DCNN_OK) assert_int_equal(st, DCNN_ERR_OUT_OF_MEMORY);
    succeeded = st == DCNN_OK;
    dcnn_model_destroy(mm);
    assert_int_equal(dcnn_context_live_allocations(ctx), 0);
  }
  assert_true(succeeded);
  assert_ok(dcnn_context_set_allocator(ctx, NULL));
  dcnn_tensor_destroy(x);
  dcnn_tensor_destroy(y);
  dcnn_context_destroy(ctx);
}

enum { CLASSES = 10 };

/* `layer` is read after `made` is evaluated (the argument order is unspecified). */
static void add(dcnn_model *m, dcnn_status made, dcnn_layer **layer) {
  assert_ok(made);
  assert_ok(dcnn_model_add(m, *layer));
}

/* A conv layer big enough that a batch of 8 splits into lanes (about three
 * images per cache-sized group): its scratch grows with the thread count. */
enum { WIDE_CHANNELS = 16, WIDE_SIDE = 32, WIDE_BATCH = 8 };

static dcnn_model *wide_model(dcnn_context *ctx, int residual) {
  dcnn_shape in = dcnn_shape_make(3, WIDE_CHANNELS, WIDE_SIDE, WIDE_SIDE, 0);
  dcnn_model *m = NULL;
  dcnn_layer *l = NULL;
  assert_ok(dcnn_model_create(ctx, &in, &m));
  if (residual) {
    dcnn_layer *body[2];
    assert_ok(dcnn_conv2d_create(WIDE_CHANNELS, 3, 1, DCNN_PADDING_SAME, DCNN_WITH_BIAS, &body[0]));
    assert_ok(dcnn_relu_create(&body[1]));
    add(m, dcnn_residual_create(body, 2, NULL, 0, DCNN_RESIDUAL_RELU, &l), &l);
  } else {
    add(m, dcnn_conv2d_create(WIDE_CHANNELS, 3, 1, DCNN_PADDING_SAME, DCNN_WITH_BIAS, &l), &l);
  }
  add(m, dcnn_global_avgpool_create(&l), &l);
  add(m, dcnn_dense_create(CLASSES, DCNN_WITH_BIAS, &l), &l);
  add(m, dcnn_softmax_create(&l), &l);
  assert_ok(dcnn_model_init(m, 11));
  return m;
}

static dcnn_tensor *wide_input(dcnn_context *ctx) {
  dcnn_tensor *x = NULL;
  dcnn_shape shape = dcnn_shape_make(4, WIDE_BATCH, WIDE_CHANNELS, WIDE_SIDE, WIDE_SIDE);
  assert_ok(dcnn_tensor_create(ctx, &shape, &x));
  assert_ok(dcnn_tensor_fill_random(x, DCNN_DIST_NORMAL, 0.0f, 1.0f, 21, 0));
  return x;
}

/* Planned at 1 thread, then the context gets 2: the model re-plans, so the
 * step and the prediction equal those of a model that had 2 threads from the
 * start (before the fix conv2d wrote past the 1-thread workspace: ASan). */
static void threads_raised_after_planning(void **state) {
  (void)state;
  dcnn_context *raised = test_context(1), *two = test_context(2);
  dcnn_model *a = wide_model(raised, 0), *b = wide_model(two, 0);
  dcnn_tensor *x = wide_input(raised), *ya = NULL, *yb = NULL;
  dcnn_shape ys = dcnn_shape_make(2, WIDE_BATCH, CLASSES, 0, 0);
  assert_ok(dcnn_tensor_create(raised, &ys, &ya));
  assert_ok(dcnn_tensor_create(raised, &ys, &yb));
  int32_t labels[WIDE_BATCH];
  for (int i = 0; i < WIDE_BATCH; ++i) labels[i] = i % CLASSES;
  dcnn_optimizer *oa = NULL, *ob = NULL;
  assert_ok(dcnn_optimizer_create_sgd(raised, 0.05f, 0.0f, DCNN_MOMENTUM_CLASSIC, 0.0f, &oa));
  assert_ok(dcnn_optimizer_create_sgd(two, 0.05f, 0.0f, DCNN_MOMENTUM_CLASSIC, 0.0f, &ob));
  assert_ok(dcnn_model_reserve(a, WIDE_BATCH));
  assert_ok(dcnn_model_predict(a, x, ya));
  assert_ok(dcnn_context_set_threads(raised, 2));
  float la = 0, lb = 0;
  assert_ok(dcnn_model_train_step(a, oa, x, labels, &la, NULL));
  assert_ok(dcnn_model_train_step(b, ob, x, labels, &lb, NULL));
  assert_memory_equal(&la, &lb, sizeof la);
  assert_ok(dcnn_model_predict(a, x, ya));
  assert_ok(dcnn_model_predict(b, x, yb));
  assert_memory_equal(dcnn_tensor_data(ya), dcnn_tensor_data(yb), (size_t)dcnn_tensor_count(ya) * sizeof(float));
  for (int32_t i = 0; i < dcnn_model_param_tensor_count(a); ++i) {
    dcnn_param pa = DCNN_STRUCT_INIT(dcnn_param), pb = DCNN_STRUCT_INIT(dcnn_param);
    assert_ok(dcnn_model_param(a, i, &pa, NULL));
    assert_ok(dcnn_model_param(b, i, &pb, NULL));
    assert_memory_equal(dcnn_tensor_data(pa.value), dcnn_tensor_data(pb.value),
                        (size_t)dcnn_tensor_count(pa.value) * sizeof(float));
  }
  dcnn_optimizer_destroy(oa);
  dcnn_optimizer_destroy(ob);
  dcnn_tensor_destroy(x);
  dcnn_tensor_destroy(ya);
  dcnn_tensor_destroy(yb);
  dcnn_model_destroy(a);
  dcnn_model_destroy(b);
  dcnn_context_destroy(raised);
  dcnn_context_destroy(two);
}

/* A session keeps the thread count it was created with: raising the
 * context's afterwards changes nothing for it, residual blocks included
 * (before the fix their inference sized the layout from the context's count
 * and failed with DCNN_ERR_INVALID_STATE). */
static void session_survives_thread_change(void **state) {
  (void)state;
  for (int residual = 0; residual < 2; ++residual) {
    dcnn_context *ctx = test_context(1);
    dcnn_model *m = wide_model(ctx, residual);
    dcnn_tensor *x = wide_input(ctx), *before = NULL, *after = NULL;
    dcnn_shape ys = dcnn_shape_make(2, WIDE_BATCH, CLASSES, 0, 0);
    assert_ok(dcnn_tensor_create(ctx, &ys, &before));
    assert_ok(dcnn_tensor_create(ctx, &ys, &after));
    dcnn_session *s = NULL;
    assert_ok(dcnn_session_create(m, WIDE_BATCH, 0, &s));
    assert_ok(dcnn_session_predict(s, x, before));
    assert_ok(dcnn_context_set_threads(ctx, 2));
    assert_ok(dcnn_session_predict(s, x, after));
    assert_memory_equal(dcnn_tensor_data(before), dcnn_tensor_data(after),
                        (size_t)dcnn_tensor_count(after) * sizeof(float));
    dcnn_session_destroy(s);
    assert_ok(dcnn_model_predict(m, x, after)); /* the model's own session, at 2 threads */
    assert_ok(dcnn_session_create(m, WIDE_BATCH, 2, &s));
    assert_ok(dcnn_session_predict(s, x, before));
    assert_memory_equal(dcnn_tensor_data(before), dcnn_tensor_data(after),
                        (size_t)dcnn_tensor_count(after) * sizeof(float));
    dcnn_session_destroy(s);
    dcnn_tensor_destroy(x);
    dcnn_tensor_destroy(before);
    dcnn_tensor_destroy(after);
    dcnn_model_destroy(m);
    dcnn_context_destroy(ctx);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(paper_cnn_summary_and_counts),
      cmocka_unit_test(misfit_layers_are_named),
      cmocka_unit_test(conv_forward_matches_hand_computation),
      cmocka_unit_test(tiny_cnn_overfits_64_samples),
      cmocka_unit_test(training_is_bit_reproducible),
      cmocka_unit_test(steady_state_step_does_not_allocate),
      cmocka_unit_test(bad_batches_are_refused_without_harm),
      cmocka_unit_test(input_gradient_matches_finite_differences),
      cmocka_unit_test(out_of_memory_while_planning_is_clean),
      cmocka_unit_test(threads_raised_after_planning),
      cmocka_unit_test(session_survives_thread_change),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
