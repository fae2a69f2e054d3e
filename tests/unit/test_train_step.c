/* The model's forward and backward passes as the training step's building
 * blocks (optimizer.h's step is forward, loss, backward, update: the same bits by
 * hand), and the trainer's batch hook: called on every batch with the step
 * count, owning its user data, keeping its state in checkpoints; and an
 * optimizer's binding to one model. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_support.h"

/* conv, batch norm + ReLU, dropout, dense, softmax: every kind of state a step touches. */
static dcnn_model *small_model(uint64_t seed) {
  dcnn_shape in = dcnn_shape_make(3, 1, 6, 6, 0);
  dcnn_model *m = NULL;
  assert_ok(dcnn_model_create(NULL, &in, &m));
  dcnn_layer *l = NULL;
  assert_ok(dcnn_conv2d_create(3, 3, 1, DCNN_PADDING_SAME, 1, &l));
  assert_ok(dcnn_model_add(m, l));
  assert_ok(dcnn_batchnorm_relu_create(0.9f, 1e-3f, &l));
  assert_ok(dcnn_model_add(m, l));
  assert_ok(dcnn_dropout_create(0.3f, &l));
  assert_ok(dcnn_model_add(m, l));
  assert_ok(dcnn_flatten_create(&l));
  assert_ok(dcnn_model_add(m, l));
  assert_ok(dcnn_dense_create(3, 1, &l));
  assert_ok(dcnn_model_add(m, l));
  assert_ok(dcnn_softmax_create(&l));
  assert_ok(dcnn_model_add(m, l));
  assert_ok(dcnn_model_init(m, seed));
  return m;
}

static dcnn_tensor *batch_of(int32_t n, int32_t *labels) {
  dcnn_shape s = dcnn_shape_make(4, n, 1, 6, 6);
  dcnn_tensor *x = NULL;
  assert_ok(dcnn_tensor_create(NULL, &s, &x));
  for (int64_t i = 0; i < dcnn_tensor_count(x); ++i) dcnn_tensor_data(x)[i] = dcnn_random_uniform(3, 0, (uint64_t)i);
  for (int32_t i = 0; i < n; ++i) labels[i] = i % 3;
  return x;
}

static void assert_same_params(dcnn_model *a, dcnn_model *b) {
  assert_int_equal(dcnn_model_param_tensor_count(a), dcnn_model_param_tensor_count(b));
  for (int32_t i = 0; i < dcnn_model_param_tensor_count(a); ++i) {
    dcnn_param p = DCNN_STRUCT_INIT(dcnn_param), q = DCNN_STRUCT_INIT(dcnn_param);
    assert_ok(dcnn_model_param(a, i, &p, NULL));
    assert_ok(dcnn_model_param(b, i, &q, NULL));
    assert_memory_equal(dcnn_tensor_data(p.value), dcnn_tensor_data(q.value),
                        (size_t)dcnn_tensor_count(p.value) * sizeof(float));
  }
}

static void forward_loss_backward_update_by_hand_equal_the_training_step(void **state) {
  (void)state;
  int32_t labels[5];
  dcnn_tensor *x = batch_of(5, labels);
  dcnn_model *stepped = small_model(9), *by_hand = small_model(9);
  dcnn_optimizer *o1 = NULL, *o2 = NULL;
  assert_ok(dcnn_optimizer_create_sgd(NULL, 0.1f, 0.9f, DCNN_MOMENTUM_CLASSIC, 1e-4f, &o1));
  assert_ok(dcnn_optimizer_create_sgd(NULL, 0.1f, 0.9f, DCNN_MOMENTUM_CLASSIC, 1e-4f, &o2));

  /* Nothing to follow yet. */
  assert_status(dcnn_model_backward(by_hand, x, NULL), DCNN_ERR_INVALID_STATE);
  assert_error_mentions("no forward pass");

  float loss = 0, by_hand_loss = 0;
  int32_t correct = 0;
  assert_ok(dcnn_model_train_step(stepped, o1, x, labels, &loss, &correct));

  const dcnn_tensor *scores = NULL;
  dcnn_tensor *grad = NULL;
  assert_ok(dcnn_model_forward(by_hand, x, DCNN_PASS_TRAINING, &scores, &grad));
  /* The scores are the final softmax's input: (N, classes). */
  assert_int_equal(dcnn_tensor_shape(scores).ndim, 2);
  assert_int_equal(dcnn_tensor_shape(scores).dims[1], 3);
  assert_ok(dcnn_softmax_cross_entropy(scores, labels, NULL, grad, &by_hand_loss));
  assert_ok(dcnn_model_backward(by_hand, x, NULL));
  assert_ok(dcnn_optimizer_step(o2, by_hand));
  assert_true(loss == by_hand_loss);
  assert_same_params(stepped, by_hand);
  /* The step count is the training step's business (dropout streams follow it). */
  assert_int_equal(dcnn_model_step_count(stepped), 1);
  assert_int_equal(dcnn_model_step_count(by_hand), 0);

  /* Input gradients through the public passes equal dcnn_model_input_gradient's. */
  dcnn_tensor *g1 = NULL, *g2 = NULL;
  dcnn_shape xs = dcnn_tensor_shape(x);
  assert_ok(dcnn_tensor_create(NULL, &xs, &g1));
  assert_ok(dcnn_tensor_create(NULL, &xs, &g2));
  assert_ok(dcnn_model_input_gradient(stepped, x, labels, g1, &loss));
  assert_ok(dcnn_model_forward(stepped, x, DCNN_PASS_INFERENCE, &scores, &grad));
  assert_ok(dcnn_softmax_cross_entropy(scores, labels, NULL, grad, &by_hand_loss));
  assert_ok(dcnn_model_backward(stepped, x, g2));
  assert_true(loss == by_hand_loss);
  assert_memory_equal(dcnn_tensor_data(g1), dcnn_tensor_data(g2), (size_t)dcnn_tensor_count(g1) * sizeof(float));

  /* A second backward pass would start from grad_scores as the first left it (overwritten on the way down: it
   * returned other gradients, with DCNN_OK); so would one after a training step or an input gradient. */
  assert_status(dcnn_model_backward(stepped, x, g2), DCNN_ERR_INVALID_STATE);
  assert_error_mentions("once before each backward pass");
  assert_ok(dcnn_model_train_step(stepped, o1, x, labels, &loss, &correct));
  assert_status(dcnn_model_backward(stepped, x, g2), DCNN_ERR_INVALID_STATE);
  assert_ok(dcnn_model_input_gradient(stepped, x, labels, g1, &loss));
  assert_status(dcnn_model_backward(stepped, x, g2), DCNN_ERR_INVALID_STATE);

  /* Another input than the forward pass's (the pass stays pending), a re-plan (which drops what
   * backward would read) or an unknown mode are refused. */
  assert_ok(dcnn_model_forward(stepped, x, DCNN_PASS_INFERENCE, &scores, &grad));
  assert_ok(dcnn_softmax_cross_entropy(scores, labels, NULL, grad, &by_hand_loss));
  int32_t fewer_labels[4];
  dcnn_tensor *fewer = batch_of(4, fewer_labels);
  assert_status(dcnn_model_backward(stepped, fewer, NULL), DCNN_ERR_SHAPE_MISMATCH);
  dcnn_tensor_destroy(fewer);
  assert_ok(dcnn_model_reserve(stepped, 64));
  assert_status(dcnn_model_backward(stepped, x, g2), DCNN_ERR_INVALID_STATE);
  assert_status(dcnn_model_forward(stepped, x, (dcnn_pass_mode)7, NULL, NULL), DCNN_ERR_INVALID_ARGUMENT);
  dcnn_tensor_destroy(g1);
  dcnn_tensor_destroy(g2);
  dcnn_optimizer_destroy(o1);
  dcnn_optimizer_destroy(o2);
  dcnn_model_destroy(stepped);
  dcnn_model_destroy(by_hand);
  dcnn_tensor_destroy(x);
}

/* A user's hook: inverts the batch's first pixel row, records the indices it
 * sees, and keeps a counter as its checkpoint state. */
typedef struct recorder {
  int64_t indices[64];
  int32_t calls;
  uint32_t counter;
  int released;
} recorder;

static dcnn_status record(dcnn_model *model, dcnn_tensor *batch, const int32_t *labels, int64_t index, void *user) {
  (void)labels;
  recorder *r = user;
  assert_non_null(model);
  if (r->calls < 64) r->indices[r->calls] = index;
  r->calls++;
  r->counter++;
  for (int32_t i = 0; i < 6; ++i) dcnn_tensor_data(batch)[i] = 1.0f - dcnn_tensor_data(batch)[i];
  return DCNN_OK;
}

static void release_recorder(void *user) { ((recorder *)user)->released++; }

static dcnn_status save_counter(void *user, uint8_t *out, size_t capacity, size_t *size) {
  assert_true(capacity >= 4);
  memcpy(out, &((recorder *)user)->counter, 4);
  *size = 4;
  return DCNN_OK;
}

static dcnn_status load_counter(void *user, const uint8_t *data, size_t size) {
  if (size != 4) return DCNN_ERR_BAD_FORMAT;
  memcpy(&((recorder *)user)->counter, data, 4);
  return DCNN_OK;
}

static dcnn_dataset *stripes(int32_t n) {
  uint8_t px[64 * 36];
  int32_t labels[64];
  for (int32_t i = 0; i < n; ++i) {
    labels[i] = i % 3;
    for (int p = 0; p < 36; ++p) px[i * 36 + p] = (uint8_t)((p / 6) % 3 == labels[i] ? 220 : 30);
  }
  dcnn_dataset *ds = NULL;
  assert_ok(dcnn_dataset_create(NULL, n, 6, 6, 1, px, labels, 3, &ds));
  return ds;
}

/* What the batch-hook tests share: 40 striped images, a small model, Adam and
 * a trainer of `epochs` epochs in batches of 16 (3 steps an epoch). */
typedef struct hook_fixture {
  dcnn_dataset *train;
  dcnn_pipeline *p;
  dcnn_model *m;
  dcnn_optimizer *o;
  dcnn_trainer *t;
} hook_fixture;

static hook_fixture hook_fixture_start(int32_t epochs) {
  hook_fixture f = {0};
  f.train = stripes(40);
  assert_ok(dcnn_pipeline_create(NULL, &f.p));
  f.m = small_model(3);
  assert_ok(dcnn_optimizer_create_adam(NULL, 0.01f, 0.9f, 0.999f, 1e-7f, 0.0f, &f.o));
  assert_ok(dcnn_trainer_create(NULL, f.m, f.o, &f.t));
  assert_ok(dcnn_trainer_set(f.t, DCNN_TRAIN_EPOCHS, epochs));
  assert_ok(dcnn_trainer_set(f.t, DCNN_TRAIN_BATCH_SIZE, 16));
  return f;
}

static void hook_fixture_end(hook_fixture *f) {
  dcnn_trainer_destroy(f->t);
  dcnn_optimizer_destroy(f->o);
  dcnn_model_destroy(f->m);
  dcnn_pipeline_destroy(f->p);
  dcnn_dataset_destroy(f->train);
}

static void a_batch_hook_sees_every_step_and_keeps_its_state(void **state) {
  (void)state;
  hook_fixture f = hook_fixture_start(2);
  dcnn_dataset *train = f.train;
  dcnn_pipeline *p = f.p;
  dcnn_trainer *t = f.t;

  recorder first = {0}, second = {0};
  dcnn_batch_hook hook = {sizeof hook, record, &first, release_recorder, save_counter, load_counter, NULL};
  dcnn_batch_hook bad = hook;
  bad.struct_size = 8;
  assert_status(dcnn_trainer_set_batch_hook(t, &bad), DCNN_ERR_INVALID_ARGUMENT);
  bad = hook;
  bad.load_state = NULL;
  assert_status(dcnn_trainer_set_batch_hook(t, &bad), DCNN_ERR_INVALID_ARGUMENT);
  assert_int_equal(first.released, 0);
  assert_ok(dcnn_trainer_set_batch_hook(t, &hook));
  assert_ok(dcnn_trainer_fit(t, train, NULL, p));
  /* 40 samples in batches of 16: 3 steps an epoch; the index is the step count. */
  assert_int_equal(first.calls, 6);
  for (int32_t i = 0; i < 6; ++i) assert_int_equal(first.indices[i], i);

  char path[256];
  snprintf(path, sizeof path, "%s/dcnn-hook-%d.dcnn", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
  assert_ok(dcnn_trainer_save_checkpoint(t, path));
  /* Another hook replaces the first, which is released; resuming hands it the saved counter. */
  hook.user = &second;
  assert_ok(dcnn_trainer_set_batch_hook(t, &hook));
  assert_int_equal(first.released, 1);
  assert_ok(dcnn_trainer_resume(t, path));
  assert_int_equal(second.counter, 6);
  assert_int_equal(second.calls, 0);
  /* Without a stateful hook the checkpoint is refused; a stateless one cannot take it either. */
  assert_ok(dcnn_trainer_set_batch_hook(t, NULL));
  assert_int_equal(second.released, 1);
  assert_status(dcnn_trainer_resume(t, path), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("batch hook");
  dcnn_batch_hook stateless = {sizeof stateless, record, &second, NULL, NULL, NULL, NULL};
  assert_ok(dcnn_trainer_set_batch_hook(t, &stateless));
  assert_status(dcnn_trainer_resume(t, path), DCNN_ERR_INVALID_ARGUMENT);
  assert_ok(dcnn_trainer_set_batch_hook(t, NULL));
  assert_int_equal(second.released, 1); /* no release function: nothing called */

  /* A checkpoint without hook state is refused by a trainer whose hook keeps state. */
  assert_ok(dcnn_trainer_save_checkpoint(t, path));
  hook.user = &first;
  assert_ok(dcnn_trainer_set_batch_hook(t, &hook));
  assert_status(dcnn_trainer_resume(t, path), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("without the batch hook");
  dcnn_trainer_destroy(t); /* releases the hook */
  f.t = NULL;
  assert_int_equal(first.released, 2);
  remove(path);
  hook_fixture_end(&f);
}

static dcnn_status silent_transform(dcnn_model *model, dcnn_tensor *batch, const int32_t *labels, int64_t index,
                                   void *user) {
  (void)model, (void)batch, (void)labels, (void)index, (void)user;
  return DCNN_ERR_INVALID_STATE; /* and no message */
}

static dcnn_status silent_save(void *user, uint8_t *out, size_t capacity, size_t *size) {
  (void)user, (void)out, (void)capacity, (void)size;
  return DCNN_ERR_IO;
}

static void stale_error(void) {
  dcnn_model *none = NULL;
  assert_int_not_equal(dcnn_model_load(NULL, "/nonexistent/earlier.dcnn", &none), DCNN_OK);
  assert_error_mentions("earlier.dcnn");
}

/* status.h: user code that fails without a message gets one naming it, never
 * the text of an earlier error (the batch hook's calls, evaluation's transform). */
static void silent_callbacks_get_a_message_naming_them(void **state) {
  (void)state;
  hook_fixture f = hook_fixture_start(1);
  dcnn_dataset *train = f.train;
  dcnn_pipeline *p = f.p;
  dcnn_model *m = f.m;
  dcnn_trainer *t = f.t;

  dcnn_batch_hook hook = {sizeof hook, silent_transform, NULL, NULL, NULL, NULL, NULL};
  assert_ok(dcnn_trainer_set_batch_hook(t, &hook));
  stale_error();
  assert_status(dcnn_trainer_fit(t, train, NULL, p), DCNN_ERR_INVALID_STATE);
  assert_error_mentions("batch hook: transform: failed with");
  assert_null(strstr(dcnn_last_error(), "earlier.dcnn"));

  recorder r = {0};
  dcnn_batch_hook saving = {sizeof saving, record, &r, NULL, silent_save, load_counter, NULL};
  assert_ok(dcnn_trainer_set_batch_hook(t, &saving));
  char path[256];
  snprintf(path, sizeof path, "%s/dcnn-silent-%d.dcnn", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
  stale_error();
  assert_status(dcnn_trainer_save_checkpoint(t, path), DCNN_ERR_IO);
  assert_error_mentions("batch hook: save_state: failed with");
  assert_null(strstr(dcnn_last_error(), "earlier.dcnn"));
  assert_int_not_equal(access(path, F_OK), 0);

  dcnn_metrics *metrics = NULL;
  assert_ok(dcnn_metrics_create(NULL, 3, &metrics));
  stale_error();
  assert_status(dcnn_evaluate_transformed(m, train, p, 16, silent_transform, NULL, metrics, NULL),
                DCNN_ERR_INVALID_STATE);
  assert_error_mentions("transform: failed with");
  assert_null(strstr(dcnn_last_error(), "earlier.dcnn"));
  dcnn_metrics_destroy(metrics);
  hook_fixture_end(&f);
}

/* dense + softmax through `ctx`, the model struct its first allocation. */
static dcnn_model *tiny_model(dcnn_context *ctx) {
  dcnn_shape in = dcnn_shape_make(1, 4, 0, 0, 0);
  dcnn_model *m = NULL;
  assert_ok(dcnn_model_create(ctx, &in, &m));
  dcnn_layer *l = NULL;
  assert_ok(dcnn_dense_create(3, DCNN_WITH_BIAS, &l));
  assert_ok(dcnn_model_add(m, l));
  assert_ok(dcnn_softmax_create(&l));
  assert_ok(dcnn_model_add(m, l));
  assert_ok(dcnn_model_init(m, 1));
  return m;
}

/* A model built where a destroyed one was (a pool allocator recycles its
 * block), with the same layers, is still another model: the optimizer bound
 * to the first must refuse it, not update the first's freed parameters. */
static void an_optimizer_refuses_a_new_model_at_a_destroyed_ones_address(void **state) {
  (void)state;
  recycling_allocator pool = {0};
  dcnn_context *ctx = test_context(1);
  const dcnn_allocator hooks = recycling_allocator_hooks(&pool);
  assert_ok(dcnn_context_set_allocator(ctx, &hooks));
  dcnn_shape xs = dcnn_shape_make(2, 2, 4, 0, 0);
  dcnn_tensor *x = NULL;
  assert_ok(dcnn_tensor_create(NULL, &xs, &x));
  assert_ok(dcnn_tensor_fill(x, 0.5f));
  const int32_t labels[2] = {0, 2};
  dcnn_optimizer *o = NULL;
  assert_ok(dcnn_optimizer_create_sgd(NULL, 0.1f, 0.9f, DCNN_MOMENTUM_CLASSIC, 0, &o));

  dcnn_model *first = tiny_model(ctx);
  assert_ok(dcnn_model_train_step(first, o, x, labels, NULL, NULL));
  const void *where = first;
  dcnn_model_destroy(first);
  dcnn_model *second = tiny_model(ctx);
  assert_ptr_equal(second, where); /* the case under test */
  dcnn_param p = DCNN_STRUCT_INIT(dcnn_param);
  assert_ok(dcnn_model_param(second, 0, &p, NULL));
  const float before = dcnn_tensor_data(p.value)[0];
  assert_status(dcnn_model_train_step(second, o, x, labels, NULL, NULL), DCNN_ERR_INVALID_STATE);
  assert_error_mentions("bound to another model");
  assert_status(dcnn_optimizer_step(o, second), DCNN_ERR_INVALID_STATE);
  assert_true(dcnn_tensor_data(p.value)[0] == before);
  /* Reset, the optimizer takes the new model as any other. */
  assert_ok(dcnn_optimizer_reset(o));
  assert_ok(dcnn_model_train_step(second, o, x, labels, NULL, NULL));
  assert_true(dcnn_tensor_data(p.value)[0] != before);

  dcnn_model_destroy(second);
  dcnn_optimizer_destroy(o);
  dcnn_tensor_destroy(x);
  dcnn_context_destroy(ctx);
  recycling_allocator_drain(&pool);
}

/* A step refused for its arguments (no labels, a wrong input shape, a label
 * out of range, a NaN input) does not bind a fresh optimizer to the model:
 * it still takes another model, with no reset. */
static void a_refused_first_step_leaves_the_optimizer_unbound(void **state) {
  (void)state;
  int32_t labels[4];
  dcnn_tensor *x = batch_of(4, labels);
  const dcnn_shape wrong = dcnn_shape_make(4, 4, 1, 5, 5);
  dcnn_tensor *bad_shape = NULL;
  assert_ok(dcnn_tensor_create(NULL, &wrong, &bad_shape));
  dcnn_tensor *nan_input = batch_of(4, labels);
  dcnn_tensor_data(nan_input)[7] = NAN;
  const int32_t out_of_range[4] = {0, 1, 3, 2};
  dcnn_optimizer *o = NULL;
  assert_ok(dcnn_optimizer_create_adam(NULL, 1e-3f, 0.9f, 0.999f, 1e-7f, 0.0f, &o));
  dcnn_model *first = small_model(1), *second = small_model(2);
  assert_status(dcnn_model_train_step(first, o, x, NULL, NULL, NULL), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_model_train_step(first, o, bad_shape, labels, NULL, NULL), DCNN_ERR_SHAPE_MISMATCH);
  assert_int_not_equal(dcnn_model_train_step(first, o, x, out_of_range, NULL, NULL), DCNN_OK);
  assert_int_not_equal(dcnn_model_train_step(first, o, nan_input, labels, NULL, NULL), DCNN_OK);
  float loss = 0;
  assert_ok(dcnn_model_train_step(second, o, x, labels, &loss, NULL)); /* not "bound to another model" */
  assert_true(isfinite(loss) && loss > 0);
  /* Bound now: a refused step keeps the binding, and the next good step continues. */
  assert_status(dcnn_model_train_step(second, o, x, NULL, NULL, NULL), DCNN_ERR_INVALID_ARGUMENT);
  assert_ok(dcnn_model_train_step(second, o, x, labels, NULL, NULL));
  assert_status(dcnn_model_train_step(first, o, x, labels, NULL, NULL), DCNN_ERR_INVALID_STATE);
  dcnn_model_destroy(first);
  dcnn_model_destroy(second);
  dcnn_optimizer_destroy(o);
  dcnn_tensor_destroy(x);
  dcnn_tensor_destroy(bad_shape);
  dcnn_tensor_destroy(nan_input);
}

/* A NaN logit in a later row is refused before any row's probabilities or
 * gradient is written: the caller's buffers are as they were. */
static void a_bad_logit_leaves_the_outputs_unwritten(void **state) {
  (void)state;
  const dcnn_shape s = dcnn_shape_make(2, 3, 4, 0, 0);
  dcnn_tensor *logits = NULL, *probs = NULL, *grad = NULL;
  assert_ok(dcnn_tensor_create(NULL, &s, &logits));
  assert_ok(dcnn_tensor_create(NULL, &s, &probs));
  assert_ok(dcnn_tensor_create(NULL, &s, &grad));
  assert_ok(dcnn_tensor_fill(logits, 0.5f));
  dcnn_tensor_data(logits)[2 * 4 + 1] = NAN; /* row 2 */
  const int32_t labels[3] = {0, 1, 2};
  float targets[12];
  for (int i = 0; i < 12; ++i) targets[i] = 0.25f;
  for (int soft = 0; soft < 2; ++soft) {
    assert_ok(dcnn_tensor_fill(probs, 7.0f));
    assert_ok(dcnn_tensor_fill(grad, 7.0f));
    float loss = -1;
    const dcnn_status status = soft ? dcnn_softmax_cross_entropy_soft(logits, targets, probs, grad, &loss)
                                    : dcnn_softmax_cross_entropy(logits, labels, probs, grad, &loss);
    assert_int_equal(status, DCNN_ERR_NUMERIC);
    assert_error_mentions("logit 1 of sample 2 is nan");
    for (int i = 0; i < 12; ++i) {
      assert_true(dcnn_tensor_data(probs)[i] == 7.0f);
      assert_true(dcnn_tensor_data(grad)[i] == 7.0f);
    }
    assert_true(loss == -1);
  }
  dcnn_tensor_destroy(logits);
  dcnn_tensor_destroy(probs);
  dcnn_tensor_destroy(grad);
}

/* Finite logits far apart (3e38 and -3e38) give a loss beyond float's range:
 * refused (not an infinite loss with DCNN_OK), outputs unwritten; the input
 * gradient of a model with such weights is refused likewise. */
static void a_loss_beyond_float_is_refused(void **state) {
  (void)state;
  const dcnn_shape s = dcnn_shape_make(2, 1, 2, 0, 0);
  dcnn_tensor *logits = NULL, *probs = NULL;
  assert_ok(dcnn_tensor_create(NULL, &s, &logits));
  assert_ok(dcnn_tensor_create(NULL, &s, &probs));
  dcnn_tensor_data(logits)[0] = 3e38f;
  dcnn_tensor_data(logits)[1] = -3e38f;
  const int32_t label = 1;
  const float target[2] = {0.0f, 1.0f};
  for (int kind = 0; kind < 3; ++kind) {
    assert_ok(dcnn_tensor_fill(probs, 7.0f));
    float loss = -1;
    const dcnn_status status = kind == 0   ? dcnn_softmax_cross_entropy(logits, &label, probs, NULL, &loss)
                               : kind == 1 ? dcnn_softmax_cross_entropy_smoothed(logits, &label, 0.1f, probs, NULL, &loss)
                                           : dcnn_softmax_cross_entropy_soft(logits, target, probs, NULL, &loss);
    assert_int_equal(status, DCNN_ERR_NUMERIC);
    assert_error_mentions("beyond float's range");
    assert_true(loss == -1 && dcnn_tensor_data(probs)[0] == 7.0f && dcnn_tensor_data(probs)[1] == 7.0f);
  }
  /* logits (1, 2) = x w with w = (3e38, -3e38): the same loss through a model */
  const dcnn_shape in = dcnn_shape_make(1, 1, 0, 0, 0);
  dcnn_model *m = NULL;
  dcnn_layer *l = NULL;
  assert_ok(dcnn_model_create(NULL, &in, &m));
  assert_ok(dcnn_dense_create(2, DCNN_NO_BIAS, &l));
  assert_ok(dcnn_model_add(m, l));
  dcnn_param p = DCNN_STRUCT_INIT(dcnn_param);
  assert_ok(dcnn_model_param(m, 0, &p, NULL));
  dcnn_tensor_data(p.value)[0] = 3e38f;
  dcnn_tensor_data(p.value)[1] = -3e38f;
  const dcnn_shape xs = dcnn_shape_make(2, 1, 1, 0, 0); /* one sample: the mean is that sample's loss */
  dcnn_tensor *x = NULL, *g = NULL;
  assert_ok(dcnn_tensor_create(NULL, &xs, &x));
  assert_ok(dcnn_tensor_create(NULL, &xs, &g));
  assert_ok(dcnn_tensor_fill(x, 1.0f));
  float loss = -1;
  assert_int_equal(dcnn_model_input_gradient(m, x, &label, g, &loss), DCNN_ERR_NUMERIC);
  assert_error_mentions("beyond float's range");
  /* A finite loss whose input gradient overflows: logits 1e-38 w = (3, -3), so
   * dL/dx = w . (softmax - onehot(1)) = 3e38 * 0.9975 * 2 = 6e38. */
  dcnn_tensor_data(x)[0] = 1e-38f;
  dcnn_tensor_data(p.value)[0] = 3e38f;
  dcnn_tensor_data(p.value)[1] = -3e38f;
  assert_int_equal(dcnn_model_input_gradient(m, x, &label, g, &loss), DCNN_ERR_NUMERIC);
  assert_error_mentions("of the input gradient is");
  dcnn_tensor_data(p.value)[0] = 2.0f;
  dcnn_tensor_data(p.value)[1] = -2.0f;
  assert_ok(dcnn_model_input_gradient(m, x, &label, g, &loss));
  assert_true(isfinite(loss) && isfinite(dcnn_tensor_data(g)[0]));
  dcnn_tensor_destroy(x);
  dcnn_tensor_destroy(g);
  dcnn_model_destroy(m);
  dcnn_tensor_destroy(logits);
  dcnn_tensor_destroy(probs);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(forward_loss_backward_update_by_hand_equal_the_training_step),
      cmocka_unit_test(a_batch_hook_sees_every_step_and_keeps_its_state),
      cmocka_unit_test(silent_callbacks_get_a_message_naming_them),
      cmocka_unit_test(an_optimizer_refuses_a_new_model_at_a_destroyed_ones_address),
      cmocka_unit_test(a_bad_logit_leaves_the_outputs_unwritten),
      cmocka_unit_test(a_loss_beyond_float_is_refused),
      cmocka_unit_test(a_refused_first_step_leaves_the_optimizer_unbound),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
