/* Inference sessions: one model shared read-only by many threads gives the
 * sequential results bit for bit; session misuse gives clear errors; predict
 * does not allocate. Library threads are 1 throughout, so no OpenMP region is
 * entered (the ThreadSanitizer build runs this file). */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_support.h"

enum { THREADS = 8, PREDICTIONS = 1000, INPUTS = 16, MAX_BATCH = 4, SIDE = 12, CLASSES = 10 };

/* `layer` is read after `made` is evaluated (the argument order is unspecified). */
static void add(dcnn_model *m, dcnn_status made, dcnn_layer **layer) {
  assert_ok(made);
  assert_ok(dcnn_model_add(m, *layer));
}

/* conv + batch norm + relu + max pool + dropout + dense + softmax. */
static dcnn_model *plain_model(dcnn_context *ctx) {
  dcnn_shape in = dcnn_shape_make(3, 2, SIDE, SIDE, 0);
  dcnn_model *m = NULL;
  dcnn_layer *l = NULL;
  assert_ok(dcnn_model_create(ctx, &in, &m));
  add(m, dcnn_conv2d_create(6, 3, 1, DCNN_PADDING_SAME, DCNN_WITH_BIAS, &l), &l);
  add(m, dcnn_batchnorm_create(0.9f, 1e-5f, &l), &l);
  add(m, dcnn_relu_create(&l), &l);
  add(m, dcnn_maxpool2d_create(2, 2, DCNN_PADDING_VALID, &l), &l);
  add(m, dcnn_dropout_create(0.5f, &l), &l);
  add(m, dcnn_flatten_create(&l), &l);
  add(m, dcnn_dense_create(CLASSES, DCNN_WITH_BIAS, &l), &l);
  add(m, dcnn_softmax_create(&l), &l);
  return m;
}

/* conv, a residual block with a projection shortcut, one with the identity,
 * then max pool, global average pool, dense, softmax. */
static dcnn_model *residual_model(dcnn_context *ctx) {
  dcnn_shape in = dcnn_shape_make(3, 2, SIDE, SIDE, 0);
  dcnn_model *m = NULL;
  dcnn_layer *l = NULL, *body[4], *shortcut[2];
  assert_ok(dcnn_model_create(ctx, &in, &m));
  add(m, dcnn_conv2d_create(4, 3, 1, DCNN_PADDING_SAME, DCNN_NO_BIAS, &l), &l);
  assert_ok(dcnn_conv2d_create(8, 3, 1, DCNN_PADDING_SAME, DCNN_NO_BIAS, &body[0]));
  assert_ok(dcnn_batchnorm_create(0.9f, 1e-5f, &body[1]));
  assert_ok(dcnn_relu_create(&body[2]));
  assert_ok(dcnn_conv2d_create(8, 3, 1, DCNN_PADDING_SAME, DCNN_NO_BIAS, &body[3]));
  assert_ok(dcnn_conv2d_create(8, 1, 1, DCNN_PADDING_SAME, DCNN_NO_BIAS, &shortcut[0]));
  assert_ok(dcnn_batchnorm_create(0.9f, 1e-5f, &shortcut[1]));
  add(m, dcnn_residual_create(body, 4, shortcut, 2, DCNN_RESIDUAL_RELU, &l), &l);
  assert_ok(dcnn_depthwise_conv2d_create(3, 1, DCNN_PADDING_SAME, DCNN_WITH_BIAS, &body[0]));
  assert_ok(dcnn_maxpool2d_create(3, 1, DCNN_PADDING_SAME, &body[1]));
  add(m, dcnn_residual_create(body, 2, NULL, 0, DCNN_RESIDUAL_LINEAR, &l), &l);
  add(m, dcnn_maxpool2d_create(2, 2, DCNN_PADDING_VALID, &l), &l);
  add(m, dcnn_global_avgpool_create(&l), &l);
  add(m, dcnn_dense_create(CLASSES, DCNN_WITH_BIAS, &l), &l);
  add(m, dcnn_softmax_create(&l), &l);
  return m;
}

typedef struct fixture {
  dcnn_context *ctx;
  dcnn_model *model;
  dcnn_tensor *inputs[INPUTS];   /* (1 + i % MAX_BATCH, 2, SIDE, SIDE) */
  dcnn_tensor *expected[INPUTS]; /* sequential results */
} fixture;

/* Two training steps move the batch-norm statistics and weights away from
 * their initial values, so inference exercises real state. */
static void train_a_little(dcnn_context *ctx, dcnn_model *m) {
  dcnn_optimizer *sgd = NULL;
  dcnn_tensor *x = NULL;
  dcnn_shape shape = dcnn_shape_make(4, 8, 2, SIDE, SIDE);
  int32_t labels[8];
  for (int i = 0; i < 8; ++i) labels[i] = i % CLASSES;
  assert_ok(dcnn_tensor_create(ctx, &shape, &x));
  assert_ok(dcnn_tensor_fill_random(x, DCNN_DIST_NORMAL, 0.5f, 1.0f, 7, 0));
  assert_ok(dcnn_optimizer_create_sgd(ctx, 0.05f, 0.9f, DCNN_MOMENTUM_CLASSIC, 0.0f, &sgd));
  for (int s = 0; s < 2; ++s) assert_ok(dcnn_model_train_step(m, sgd, x, labels, NULL, NULL));
  dcnn_optimizer_destroy(sgd);
  dcnn_tensor_destroy(x);
}

static void fixture_create(fixture *f, int residual) {
  f->ctx = test_context(1);
  f->model = residual ? residual_model(f->ctx) : plain_model(f->ctx);
  assert_ok(dcnn_model_init(f->model, 42));
  train_a_little(f->ctx, f->model);
  dcnn_session *s = NULL;
  assert_ok(dcnn_session_create(f->model, MAX_BATCH, 1, &s));
  for (int i = 0; i < INPUTS; ++i) {
    dcnn_shape in = dcnn_shape_make(4, 1 + i % MAX_BATCH, 2, SIDE, SIDE);
    dcnn_shape out = dcnn_shape_make(2, 1 + i % MAX_BATCH, CLASSES, 0, 0);
    assert_ok(dcnn_tensor_create(f->ctx, &in, &f->inputs[i]));
    assert_ok(dcnn_tensor_fill_random(f->inputs[i], DCNN_DIST_NORMAL, 0.0f, 1.0f, 100 + (uint64_t)i, 0));
    assert_ok(dcnn_tensor_create(f->ctx, &out, &f->expected[i]));
    assert_ok(dcnn_session_predict(s, f->inputs[i], f->expected[i]));
  }
  dcnn_session_destroy(s);
}

static void fixture_destroy(fixture *f) {
  for (int i = 0; i < INPUTS; ++i) {
    dcnn_tensor_destroy(f->inputs[i]);
    dcnn_tensor_destroy(f->expected[i]);
  }
  dcnn_model_destroy(f->model);
  dcnn_context_destroy(f->ctx);
}

typedef struct worker {
  fixture *f;
  int index;
  int failures; /* status errors plus outputs that differ in any bit */
  int64_t allocations;
} worker;

static void *predict_many(void *arg) {
  worker *w = arg;
  fixture *f = w->f;
  dcnn_session *s = NULL;
  dcnn_tensor *out[MAX_BATCH] = {NULL};
  if (dcnn_session_create(f->model, MAX_BATCH, 1, &s) != DCNN_OK) {
    w->failures = PREDICTIONS;
    return NULL;
  }
  for (int b = 0; b < MAX_BATCH; ++b) {
    dcnn_shape shape = dcnn_shape_make(2, b + 1, CLASSES, 0, 0);
    if (dcnn_tensor_create(f->ctx, &shape, &out[b]) != DCNN_OK) w->failures++;
  }
  const int64_t before = dcnn_context_allocation_count(f->ctx);
  for (int j = 0; j < PREDICTIONS && w->failures == 0; ++j) {
    const int i = (w->index * 7 + j) % INPUTS;
    dcnn_tensor *y = out[i % MAX_BATCH];
    if (dcnn_session_predict(s, f->inputs[i], y) != DCNN_OK ||
        memcmp(dcnn_tensor_data(y), dcnn_tensor_data(f->expected[i]),
               (size_t)dcnn_tensor_count(y) * sizeof(float)) != 0)
      w->failures++;
  }
  /* Other threads allocate meanwhile (their sessions), so this only bounds ours. */
  w->allocations = dcnn_context_allocation_count(f->ctx) - before;
  for (int b = 0; b < MAX_BATCH; ++b) dcnn_tensor_destroy(out[b]);
  dcnn_session_destroy(s);
  return NULL;
}

static void threads_match_sequential(int residual) {
  fixture f;
  fixture_create(&f, residual);
  pthread_t threads[THREADS];
  worker workers[THREADS];
  for (int t = 0; t < THREADS; ++t) {
    workers[t] = (worker){&f, t, 0, 0};
    assert_int_equal(pthread_create(&threads[t], NULL, predict_many, &workers[t]), 0);
  }
  int failures = 0;
  for (int t = 0; t < THREADS; ++t) {
    assert_int_equal(pthread_join(threads[t], NULL), 0);
    failures += workers[t].failures;
  }
  assert_int_equal(failures, 0);
  fixture_destroy(&f);
}

static void test_threads_plain_model(void **state) {
  (void)state;
  threads_match_sequential(0);
}

static void test_threads_residual_model(void **state) {
  (void)state;
  threads_match_sequential(1);
}

/* dcnn_model_predict runs the same forward as a session: identical bits. */
static void test_model_predict_matches_session(void **state) {
  (void)state;
  for (int residual = 0; residual < 2; ++residual) {
    fixture f;
    fixture_create(&f, residual);
    for (int i = INPUTS - 1; i >= 0; --i) {
      dcnn_tensor *y = NULL;
      dcnn_shape shape = dcnn_tensor_shape(f.expected[i]);
      assert_ok(dcnn_tensor_create(f.ctx, &shape, &y));
      assert_ok(dcnn_model_predict(f.model, f.inputs[i], y));
      assert_memory_equal(dcnn_tensor_data(y), dcnn_tensor_data(f.expected[i]),
                          (size_t)dcnn_tensor_count(y) * sizeof(float));
      dcnn_tensor_destroy(y);
    }
    fixture_destroy(&f);
  }
}

/* A conv that runs Winograd (8 channels, 12x12), flatten, dense, softmax. */
static dcnn_model *winograd_model(dcnn_context *ctx) {
  dcnn_shape in = dcnn_shape_make(3, 8, SIDE, SIDE, 0);
  dcnn_model *m = NULL;
  dcnn_layer *l = NULL;
  assert_ok(dcnn_model_create(ctx, &in, &m));
  add(m, dcnn_conv2d_create(8, 3, 1, DCNN_PADDING_SAME, DCNN_WITH_BIAS, &l), &l);
  add(m, dcnn_flatten_create(&l), &l);
  add(m, dcnn_dense_create(CLASSES, DCNN_WITH_BIAS, &l), &l);
  add(m, dcnn_softmax_create(&l), &l);
  assert_ok(dcnn_model_init(m, 3));
  return m;
}

/* Sessions keep a Winograd conv's transformed filters between calls: a
 * prediction after the weights change must be the one a new session gives. */
static void test_session_cache_follows_weights(void **state) {
  (void)state;
  dcnn_context *ctx = test_context(1);
  dcnn_model *m = winograd_model(ctx);
  const char *algorithm = NULL;
  assert_ok(dcnn_layer_algorithm(dcnn_model_layer(m, 0), &algorithm));
  assert_string_equal(algorithm, "winograd_4x4");
  dcnn_shape xs = dcnn_shape_make(4, 1, 8, SIDE, SIDE), ys = dcnn_shape_make(2, 1, CLASSES, 0, 0);
  dcnn_tensor *x = NULL, *before = NULL, *after = NULL, *fresh = NULL, *predicted = NULL;
  assert_ok(dcnn_tensor_create(ctx, &xs, &x));
  assert_ok(dcnn_tensor_fill_random(x, DCNN_DIST_UNIFORM, 0.0f, 1.0f, 7, 0));
  assert_ok(dcnn_tensor_create(ctx, &ys, &before));
  assert_ok(dcnn_tensor_create(ctx, &ys, &after));
  assert_ok(dcnn_tensor_create(ctx, &ys, &fresh));
  assert_ok(dcnn_tensor_create(ctx, &ys, &predicted));
  dcnn_session *s = NULL;
  assert_ok(dcnn_session_create(m, 1, 1, &s));
  assert_ok(dcnn_session_predict(s, x, before));
  assert_ok(dcnn_model_predict(m, x, predicted));
  assert_memory_equal(dcnn_tensor_data(before), dcnn_tensor_data(predicted), CLASSES * sizeof(float));
  /* Change one weight of the conv's kernel (parameter 0) through its data pointer. */
  dcnn_param p = DCNN_STRUCT_INIT(dcnn_param);
  assert_ok(dcnn_model_param(m, 0, &p, NULL));
  assert_string_equal(p.name, "kernel");
  dcnn_tensor_data(p.value)[5] += 0.75f;
  assert_ok(dcnn_session_predict(s, x, after));
  dcnn_session *s2 = NULL;
  assert_ok(dcnn_session_create(m, 1, 1, &s2));
  assert_ok(dcnn_session_predict(s2, x, fresh));
  assert_memory_equal(dcnn_tensor_data(after), dcnn_tensor_data(fresh), CLASSES * sizeof(float));
  assert_memory_not_equal(dcnn_tensor_data(after), dcnn_tensor_data(before), CLASSES * sizeof(float));
  assert_ok(dcnn_model_predict(m, x, predicted));
  assert_memory_equal(dcnn_tensor_data(predicted), dcnn_tensor_data(fresh), CLASSES * sizeof(float));
  /* Back to the old weight: the old prediction again. */
  dcnn_tensor_data(p.value)[5] -= 0.75f;
  assert_ok(dcnn_session_predict(s, x, after));
  dcnn_session_destroy(s2);
  s2 = NULL;
  assert_ok(dcnn_session_create(m, 1, 1, &s2));
  assert_ok(dcnn_session_predict(s2, x, fresh));
  assert_memory_equal(dcnn_tensor_data(after), dcnn_tensor_data(fresh), CLASSES * sizeof(float));
  dcnn_session_destroy(s2);
  dcnn_session_destroy(s);
  dcnn_tensor_destroy(x);
  dcnn_tensor_destroy(before);
  dcnn_tensor_destroy(after);
  dcnn_tensor_destroy(fresh);
  dcnn_tensor_destroy(predicted);
  dcnn_model_destroy(m);
  dcnn_context_destroy(ctx);
}

static void test_predict_does_not_allocate(void **state) {
  (void)state;
  fixture f;
  fixture_create(&f, 1);
  dcnn_session *s = NULL;
  dcnn_tensor *y = NULL;
  dcnn_shape shape = dcnn_shape_make(2, MAX_BATCH, CLASSES, 0, 0);
  assert_ok(dcnn_session_create(f.model, MAX_BATCH, 1, &s));
  assert_ok(dcnn_tensor_create(f.ctx, &shape, &y));
  const int32_t big = MAX_BATCH - 1; /* inputs[i] has batch 1 + i % MAX_BATCH */
  int64_t before = dcnn_context_allocation_count(f.ctx);
  for (int j = 0; j < 50; ++j) assert_ok(dcnn_session_predict(s, f.inputs[big], y));
  assert_int_equal(dcnn_context_allocation_count(f.ctx), before);
  /* The model's own session: after the first call at a batch, no allocation. */
  assert_ok(dcnn_model_predict(f.model, f.inputs[big], y));
  before = dcnn_context_allocation_count(f.ctx);
  for (int j = 0; j < 50; ++j) assert_ok(dcnn_model_predict(f.model, f.inputs[big], y));
  assert_int_equal(dcnn_context_allocation_count(f.ctx), before);
  dcnn_tensor_destroy(y);
  dcnn_session_destroy(s);
  fixture_destroy(&f);
}

static void test_session_errors(void **state) {
  (void)state;
  fixture f;
  fixture_create(&f, 0);
  dcnn_session *s = NULL;
  assert_status(dcnn_session_create(NULL, 4, 1, &s), DCNN_ERR_INVALID_ARGUMENT);
  assert_null(s);
  assert_status(dcnn_session_create(f.model, 4, 1, NULL), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_session_create(f.model, 0, 1, &s), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("max_batch 0");
  assert_status(dcnn_session_create(f.model, 4, 2, &s), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("threads 2");
  assert_status(dcnn_session_create(f.model, 4, -1, &s), DCNN_ERR_INVALID_ARGUMENT);
  dcnn_model *empty = NULL;
  dcnn_shape sample = dcnn_shape_make(1, 3, 0, 0, 0);
  assert_ok(dcnn_model_create(f.ctx, &sample, &empty));
  assert_status(dcnn_session_create(empty, 4, 1, &s), DCNN_ERR_INVALID_STATE);
  assert_error_mentions("no layers");
  dcnn_model_destroy(empty);

  assert_ok(dcnn_session_create(f.model, 2, 0, &s));
  assert_int_equal(dcnn_session_max_batch(s), 2);
  dcnn_tensor *y1 = NULL, *y4 = NULL, *wrong = NULL, *bad_out = NULL;
  dcnn_shape s1 = dcnn_shape_make(2, 1, CLASSES, 0, 0), s4 = dcnn_shape_make(2, 4, CLASSES, 0, 0);
  dcnn_shape sw = dcnn_shape_make(4, 1, 3, SIDE, SIDE), so = dcnn_shape_make(2, 1, CLASSES + 1, 0, 0);
  assert_ok(dcnn_tensor_create(f.ctx, &s1, &y1));
  assert_ok(dcnn_tensor_create(f.ctx, &s4, &y4));
  assert_ok(dcnn_tensor_create(f.ctx, &sw, &wrong));
  assert_ok(dcnn_tensor_create(f.ctx, &so, &bad_out));
  assert_status(dcnn_session_predict(NULL, f.inputs[0], y1), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("'session' is NULL");
  assert_status(dcnn_session_predict(s, NULL, y1), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_session_predict(s, f.inputs[0], NULL), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_session_predict(s, wrong, y1), DCNN_ERR_SHAPE_MISMATCH);
  assert_error_mentions("input is (1, 3, 12, 12)");
  assert_status(dcnn_session_predict(s, f.inputs[0], bad_out), DCNN_ERR_SHAPE_MISMATCH);
  assert_error_mentions("output is (1, 11)");
  assert_status(dcnn_session_predict(s, f.inputs[3], y4), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("batch 4 exceeds the session's max_batch 2");
  assert_ok(dcnn_session_predict(s, f.inputs[0], y1));
  /* Non-finite input is refused, not turned into plausible scores (max-pooling drops NaN). */
  float *pixels = dcnn_tensor_data(f.inputs[0]);
  const float kept = pixels[5];
  pixels[5] = NAN;
  assert_status(dcnn_session_predict(s, f.inputs[0], y1), DCNN_ERR_NUMERIC);
  assert_error_mentions("input element 5 is nan");
  pixels[5] = INFINITY;
  assert_status(dcnn_model_predict(f.model, f.inputs[0], y1), DCNN_ERR_NUMERIC);
  assert_error_mentions("input element 5 is inf");
  pixels[5] = kept;

  /* The model is read-only while a session lives. */
  dcnn_layer *l = NULL;
  assert_ok(dcnn_relu_create(&l));
  assert_status(dcnn_model_add(f.model, l), DCNN_ERR_INVALID_STATE);
  assert_error_mentions("1 inference session(s) use this model");
  assert_status(dcnn_model_init(f.model, 1), DCNN_ERR_INVALID_STATE);
  dcnn_optimizer *sgd = NULL;
  int32_t labels[MAX_BATCH] = {0, 1, 2, 3};
  assert_ok(dcnn_optimizer_create_sgd(f.ctx, 0.1f, 0.0f, DCNN_MOMENTUM_CLASSIC, 0.0f, &sgd));
  assert_status(dcnn_model_train_step(f.model, sgd, f.inputs[0], labels, NULL, NULL), DCNN_ERR_INVALID_STATE);
  /* a resume rewrites the weights: refused before the file is even read */
  dcnn_trainer *trainer = NULL;
  assert_ok(dcnn_trainer_create(f.ctx, f.model, sgd, &trainer));
  assert_status(dcnn_trainer_resume(trainer, "/nonexistent/last.dcnn"), DCNN_ERR_INVALID_STATE);
  assert_error_mentions("dcnn_trainer_resume");
  dcnn_session_destroy(s);
  assert_status(dcnn_trainer_resume(trainer, "/nonexistent/last.dcnn"), DCNN_ERR_IO);
  dcnn_trainer_destroy(trainer);
  assert_ok(dcnn_model_train_step(f.model, sgd, f.inputs[3], labels, NULL, NULL));
  dcnn_optimizer_destroy(sgd);

  /* Sessions come and go: the model is writable again when the last one ends. */
  dcnn_session *other = NULL;
  assert_ok(dcnn_session_create(f.model, 1, 1, &s));
  assert_ok(dcnn_session_create(f.model, 1, 1, &other));
  dcnn_session_destroy(other);
  assert_status(dcnn_model_init(f.model, 1), DCNN_ERR_INVALID_STATE);
  dcnn_session_destroy(s);
  assert_ok(dcnn_model_init(f.model, 1));
  dcnn_session_destroy(NULL);
  dcnn_tensor_destroy(y1);
  dcnn_tensor_destroy(y4);
  dcnn_tensor_destroy(wrong);
  dcnn_tensor_destroy(bad_out);
  fixture_destroy(&f);
}

/* After layers are added, the model's own session is stale; a wrong input is
 * still named as a shape mismatch (it was "layers were added ... create a new
 * session", about a session the caller cannot see). */
static void test_predict_after_add_names_a_wrong_input(void **state) {
  (void)state;
  fixture f;
  fixture_create(&f, 0);
  dcnn_tensor *out = NULL, *wrong = NULL;
  const dcnn_shape out_shape = dcnn_shape_make(2, 1, CLASSES, 0, 0), wrong_shape = dcnn_shape_make(4, 1, 3, SIDE, SIDE);
  assert_ok(dcnn_tensor_create(f.ctx, &out_shape, &out));
  assert_ok(dcnn_tensor_create(f.ctx, &wrong_shape, &wrong));
  assert_ok(dcnn_model_predict(f.model, f.inputs[0], out));
  dcnn_layer *l = NULL;
  assert_ok(dcnn_relu_create(&l));
  assert_ok(dcnn_model_add(f.model, l));
  assert_status(dcnn_model_predict(f.model, wrong, out), DCNN_ERR_SHAPE_MISMATCH);
  assert_ok(dcnn_model_predict(f.model, f.inputs[0], out));
  dcnn_tensor_destroy(wrong);
  dcnn_tensor_destroy(out);
  fixture_destroy(&f);
}

/* A session for INT32_MAX images is refused as too large, promptly: the conv
 * layers' workspace planning once visited every batch up to max_batch (2^31
 * closed-form sizes per layer and pass, minutes of work before the refusal).
 * Under CTest's timeout a return to that loop fails this test. */
static void test_session_create_huge_batch_is_refused(void **state) {
  (void)state;
  fixture f;
  fixture_create(&f, 1);
  dcnn_session *s = NULL;
  const dcnn_status status = dcnn_session_create(f.model, INT32_MAX, 1, &s);
  assert_true(status == DCNN_ERR_OUT_OF_MEMORY || status == DCNN_ERR_INVALID_ARGUMENT);
  assert_null(s);
  assert_ok(dcnn_model_init(f.model, 5)); /* no session left counted */
  fixture_destroy(&f);
}

/* Every allocation of dcnn_session_create failing in turn: a clean error, nothing
 * left allocated, and the model not left counting a session that does not exist. */
static void test_session_create_out_of_memory(void **state) {
  (void)state;
  failing_allocator fail = {-1, 0};
  dcnn_allocator hooks = failing_allocator_hooks(&fail);
  dcnn_context *ctx = test_context(1);
  assert_ok(dcnn_context_set_allocator(ctx, &hooks));
  dcnn_model *m = residual_model(ctx);
  const int64_t live = dcnn_context_live_allocations(ctx);
  int failures = 0;
  for (int64_t k = 0;; ++k) {
    dcnn_session *s = NULL;
    fail.calls = 0;
    fail.allow = k;
    dcnn_status status = dcnn_session_create(m, 3, 1, &s);
    fail.allow = -1;
    if (status == DCNN_OK) {
      dcnn_session_destroy(s);
      break;
    }
    assert_int_equal(status, DCNN_ERR_OUT_OF_MEMORY);
    assert_null(s);
    assert_int_equal(dcnn_context_live_allocations(ctx), live);
    assert_ok(dcnn_model_init(m, 5)); /* no session counted */
    failures++;
  }
  assert_true(failures >= 4); /* the handle, two buffers (handle and data each), the workspace */
  assert_int_equal(dcnn_context_live_allocations(ctx), live);
  dcnn_model_destroy(m);
  dcnn_context_destroy(ctx);
}

/* A layer of the first layer ABI (no `flags`): y = 2x computed through a
 * buffer allocated in `plan`, and a call counter kept in the layer. Before
 * sessions such layers worked in dcnn_model_predict; they must still. */
typedef struct v1_twice {
  dcnn_context *ctx;
  float *scratch; /* (planned batch x sample) values, allocated by plan */
  int64_t sample, planned, calls;
} v1_twice;

static dcnn_status v1_build(void *self, dcnn_context *ctx, const dcnn_shape *in, dcnn_shape *out) {
  v1_twice *l = self;
  l->ctx = ctx;
  l->sample = dcnn_shape_count(in);
  *out = *in;
  return DCNN_OK;
}
static dcnn_status v1_plan(void *self, dcnn_context *ctx, int32_t max_batch) {
  v1_twice *l = self;
  (void)ctx;
  if (max_batch <= l->planned) return DCNN_OK;
  free(l->scratch);
  l->scratch = malloc((size_t)(max_batch * l->sample) * sizeof(float));
  l->planned = l->scratch ? max_batch : 0;
  return l->scratch ? DCNN_OK : DCNN_ERR_OUT_OF_MEMORY;
}
static dcnn_status v1_forward(void *self, dcnn_exec *exec, const dcnn_tensor *x, dcnn_tensor *y) {
  v1_twice *l = self;
  (void)exec;
  const int64_t n = dcnn_tensor_count(x);
  l->calls++;
  for (int64_t i = 0; i < n; ++i) l->scratch[i] = 2.0f * dcnn_tensor_data_const(x)[i]; /* NULL unless planned */
  memcpy(dcnn_tensor_data(y), l->scratch, (size_t)n * sizeof(float));
  return DCNN_OK;
}
static void v1_destroy(void *self) {
  v1_twice *l = self;
  free(l->scratch);
  free(l);
}
/* The same computation, stateless, declaring shared inference. */
static dcnn_status v2_forward(void *self, dcnn_exec *exec, const dcnn_tensor *x, dcnn_tensor *y) {
  (void)self;
  (void)exec;
  for (int64_t i = 0; i < dcnn_tensor_count(x); ++i) dcnn_tensor_data(y)[i] = 2.0f * dcnn_tensor_data_const(x)[i];
  return DCNN_OK;
}

static dcnn_layer *twice_layer(int version) {
  /* `flags` is set on the version-1 vtable too: the library must not read it. */
  static const dcnn_layer_vtable v1 = {.abi_version = 1, .type_name = "test.v1_twice", .build = v1_build,
                                       .plan = v1_plan, .forward = v1_forward, .destroy = v1_destroy,
                                       .flags = DCNN_LAYER_SHARED_INFERENCE};
  static const dcnn_layer_vtable v2 = {.abi_version = DCNN_LAYER_ABI_VERSION, .type_name = "test.v2_twice",
                                       .build = v1_build, .forward = v2_forward, .destroy = v1_destroy,
                                       .flags = DCNN_LAYER_SHARED_INFERENCE};
  v1_twice *self = calloc(1, sizeof *self);
  assert_non_null(self);
  dcnn_layer *l = NULL;
  assert_ok(dcnn_layer_create(version == 1 ? &v1 : &v2, self, &l));
  return l;
}

/* dense, the doubling layer (alone or inside a residual block), softmax. */
static dcnn_model *twice_model(dcnn_context *ctx, int version, int in_residual) {
  dcnn_shape in = dcnn_shape_make(1, 6, 0, 0, 0);
  dcnn_model *m = NULL;
  dcnn_layer *l = NULL;
  assert_ok(dcnn_model_create(ctx, &in, &m));
  add(m, dcnn_dense_create(CLASSES, DCNN_WITH_BIAS, &l), &l);
  if (in_residual) {
    dcnn_layer *body[2] = {twice_layer(version), NULL};
    assert_ok(dcnn_relu_create(&body[1]));
    add(m, dcnn_residual_create(body, 2, NULL, 0, DCNN_RESIDUAL_LINEAR, &l), &l);
  } else {
    assert_ok(dcnn_model_add(m, twice_layer(version)));
  }
  add(m, dcnn_softmax_create(&l), &l);
  assert_ok(dcnn_model_init(m, 3));
  return m;
}

static void test_version1_layer_keeps_working(void **state) {
  (void)state;
  dcnn_context *ctx = test_context(1);
  dcnn_tensor *x = NULL, *y = NULL, *want = NULL;
  dcnn_shape xs = dcnn_shape_make(2, 5, 6, 0, 0), ys = dcnn_shape_make(2, 5, CLASSES, 0, 0);
  assert_ok(dcnn_tensor_create(ctx, &xs, &x));
  assert_ok(dcnn_tensor_create(ctx, &ys, &y));
  assert_ok(dcnn_tensor_create(ctx, &ys, &want));
  assert_ok(dcnn_tensor_fill_random(x, DCNN_DIST_NORMAL, 0.0f, 1.0f, 9, 0));
  for (int in_residual = 0; in_residual < 2; ++in_residual) {
    dcnn_model *old = twice_model(ctx, 1, in_residual), *shared = twice_model(ctx, 2, in_residual);
    dcnn_session *s = NULL;
    /* The flagged version predicts through a session; the old one falls back
     * to the planned path (plan called) with the same results. */
    assert_ok(dcnn_session_create(shared, 5, 1, &s));
    assert_ok(dcnn_session_predict(s, x, want));
    dcnn_session_destroy(s);
    assert_ok(dcnn_model_predict(old, x, y));
    assert_memory_equal(dcnn_tensor_data(y), dcnn_tensor_data(want), (size_t)dcnn_tensor_count(y) * sizeof(float));
    assert_ok(dcnn_model_predict(shared, x, y));
    assert_memory_equal(dcnn_tensor_data(y), dcnn_tensor_data(want), (size_t)dcnn_tensor_count(y) * sizeof(float));
    /* Sessions refuse the old layer, naming it. */
    assert_status(dcnn_session_create(old, 5, 1, &s), DCNN_ERR_UNSUPPORTED);
    assert_null(s);
    assert_error_mentions(in_residual ? "layer 1 (residual) contains a 'test.v1_twice' layer" : "layer 1 (test.v1_twice)");
    assert_error_mentions("DCNN_LAYER_SHARED_INFERENCE");
    dcnn_model_destroy(old);
    dcnn_model_destroy(shared);
  }
  /* ABI versions other than 1 and 2 are refused. */
  static const dcnn_layer_vtable v0 = {.abi_version = 0, .type_name = "test.v0", .build = v1_build,
                                       .forward = v2_forward, .destroy = v1_destroy};
  dcnn_layer *l = NULL;
  assert_status(dcnn_layer_create(&v0, calloc(1, sizeof(v1_twice)), &l), DCNN_ERR_UNSUPPORTED);
  assert_error_mentions("supports 1 to 3");
  dcnn_tensor_destroy(x);
  dcnn_tensor_destroy(y);
  dcnn_tensor_destroy(want);
  dcnn_context_destroy(ctx);
}

typedef struct log_capture {
  int errors;
  char last[256];
} log_capture;

static void capture_log(dcnn_log_level level, const char *message, void *user) {
  log_capture *c = user;
  if (level != DCNN_LOG_ERROR) return;
  c->errors++;
  snprintf(c->last, sizeof c->last, "%s", message);
}

/* Kept reachable (for the leak checker) and never touched again: its model is gone. */
static dcnn_session *abandoned;

/* Destroying a model under a live session is a caller's error that
 * dcnn_model_destroy cannot refuse: it is reported through the log. */
static void test_destroy_with_live_session_is_logged(void **state) {
  (void)state;
  dcnn_context *ctx = test_context(1);
  log_capture log = {0, ""};
  assert_ok(dcnn_context_set_log(ctx, capture_log, DCNN_LOG_DEBUG, &log));
  dcnn_model *m = twice_model(ctx, 2, 0);
  dcnn_session *s = NULL;
  assert_ok(dcnn_session_create(m, 1, 1, &s));
  dcnn_session_destroy(s);
  dcnn_model_destroy(twice_model(ctx, 2, 0)); /* no session: nothing logged */
  assert_int_equal(log.errors, 0);
  assert_ok(dcnn_session_create(m, 1, 1, &abandoned));
  dcnn_model_destroy(m);
  assert_int_equal(log.errors, 1);
  assert_non_null(strstr(log.last, "1 inference session(s) still use this model"));
  dcnn_context_destroy(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_threads_plain_model),         cmocka_unit_test(test_threads_residual_model),
      cmocka_unit_test(test_model_predict_matches_session), cmocka_unit_test(test_predict_does_not_allocate),
      cmocka_unit_test(test_session_cache_follows_weights),
      cmocka_unit_test(test_session_errors),              cmocka_unit_test(test_session_create_out_of_memory),
      cmocka_unit_test(test_session_create_huge_batch_is_refused),
      cmocka_unit_test(test_predict_after_add_names_a_wrong_input),
      cmocka_unit_test(test_version1_layer_keeps_working),
      cmocka_unit_test(test_destroy_with_live_session_is_logged),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
