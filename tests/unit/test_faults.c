/* Training numerics and operator faults: diverging training never commits
 * non-finite weights or overwrites good files, writes survive file-size
 * limits and full disks without leftovers, and every allocation failure
 * (load, resume, first step, datasets) is clean. */
#define _XOPEN_SOURCE 700 /* mknod, beside the tests' _POSIX_C_SOURCE */
#include "test_support.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bounded_run.h"
#include "io/atomic_file.h"
#include "train/train_internal.h"

/* A new, empty scratch directory (never an earlier run's leftover, whose entries would be counted). */
static const char *scratch(const char *name) {
  static char dir[512];
  snprintf(dir, sizeof dir, "%s/dcnn-faults-%s-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", name);
  if (!mkdtemp(dir)) fprintf(stderr, "mkdtemp %s: %s\n", dir, strerror(errno));
  return dir;
}

static void remove_dir(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  char path[1024];
  while ((e = readdir(d)) != NULL) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    unlink(path);
  }
  closedir(d);
  rmdir(dir);
}

/* Entries of `dir` other than . and .. */
static int entries(const char *dir) {
  DIR *d = opendir(dir);
  assert_non_null(d);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
  closedir(d);
  return n;
}

static void *read_all(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  *size = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  void *data = malloc(*size ? *size : 1);
  assert_int_equal(fread(data, 1, *size, f), *size);
  fclose(f);
  return data;
}

/* With batch norm, huge convolution weights still give a finite loss. */
static dcnn_model *small_cnn(dcnn_context *ctx, int batchnorm) {
  dcnn_shape in = dcnn_shape_make(3, 1, 6, 6, 0);
  dcnn_model *m = NULL;
  assert_ok(dcnn_model_create(ctx, &in, &m));
  dcnn_layer *l = NULL;
  assert_ok(dcnn_conv2d_create(4, 3, 1, DCNN_PADDING_SAME, DCNN_WITH_BIAS, &l));
  assert_ok(dcnn_model_add(m, l));
  if (batchnorm) assert_ok(dcnn_batchnorm_relu_create(0.9f, 1e-3f, &l));
  else assert_ok(dcnn_relu_create(&l));
  assert_ok(dcnn_model_add(m, l));
  test_add_classifier(m, 2);
  assert_ok(dcnn_model_init(m, 3));
  return m;
}

/* All parameters and buffers, concatenated (caller frees). */
static float *weights(dcnn_model *m, size_t *count) {
  size_t n = 0;
  for (int32_t i = 0; i < dcnn_model_param_tensor_count(m); ++i) {
    dcnn_param p = DCNN_STRUCT_INIT(dcnn_param);
    assert_ok(dcnn_model_param(m, i, &p, NULL));
    n += (size_t)dcnn_tensor_count(p.value);
  }
  float *all = malloc(n * sizeof *all), *at = all;
  for (int32_t i = 0; i < dcnn_model_param_tensor_count(m); ++i) {
    dcnn_param p = DCNN_STRUCT_INIT(dcnn_param);
    assert_ok(dcnn_model_param(m, i, &p, NULL));
    memcpy(at, dcnn_tensor_data(p.value), (size_t)dcnn_tensor_count(p.value) * sizeof *at);
    at += dcnn_tensor_count(p.value);
  }
  *count = n;
  return all;
}

static void assert_all_finite(const float *w, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (!isfinite(w[i])) fail_msg("weight %zu is %g", i, (double)w[i]);
}

/* ---- 1. training numerics ---- */

/* A huge learning rate: some step must fail with DCNN_ERR_NUMERIC, and the
 * weights must then be exactly those before that step, all finite. */
static void huge_learning_rate_is_refused_with_weights_kept(void **state) {
  (void)state;
  for (int kind = 0; kind < 4; ++kind) {
    dcnn_model *m = small_cnn(NULL, kind >= 2);
    dcnn_optimizer *o = NULL;
    if (kind % 2 == 0) assert_ok(dcnn_optimizer_create_sgd(NULL, 1e30f, 0.9f, DCNN_MOMENTUM_CLASSIC, 0.0f, &o));
    else assert_ok(dcnn_optimizer_create_adam(NULL, 1e30f, 0.9f, 0.999f, 1e-7f, 0.0f, &o));
    dcnn_shape s = dcnn_shape_make(4, 8, 1, 6, 6);
    dcnn_tensor *x = NULL;
    assert_ok(dcnn_tensor_create(NULL, &s, &x));
    assert_ok(dcnn_tensor_fill_random(x, DCNN_DIST_UNIFORM, 0.0f, 1.0f, 1, 0));
    int32_t labels[8] = {0, 1, 0, 1, 0, 1, 0, 1};
    dcnn_status st = DCNN_OK;
    int steps = 0;
    size_t n = 0, n2 = 0;
    float *before = NULL;
    while (st == DCNN_OK && steps < 50) {
      free(before);
      before = weights(m, &n);
      float loss = 0;
      st = dcnn_model_train_step(m, o, x, labels, &loss, NULL);
      steps += st == DCNN_OK;
      if (st == DCNN_OK) { /* a step that succeeds leaves finite weights and a sane loss */
        float *now = weights(m, &n2);
        assert_all_finite(now, n2);
        free(now);
        assert_true(loss <= DCNN_LOSS_DIVERGED);
      }
    }
    assert_int_equal(st, DCNN_ERR_NUMERIC);
    float *after = weights(m, &n2);
    assert_int_equal(n, n2);
    assert_all_finite(after, n2);
    assert_memory_equal(before, after, n * sizeof(float));
    free(before);
    free(after);
    dcnn_tensor_destroy(x);
    dcnn_optimizer_destroy(o);
    dcnn_model_destroy(m);
  }
}

/* A small CNN, its optimizer and one (4, 1, 6, 6) batch with labels 0 1 0 1:
 * what the optimizer tests step with. */
typedef struct step_fixture {
  dcnn_model *model;
  dcnn_optimizer *optimizer;
  dcnn_tensor *x;
  int32_t labels[4];
} step_fixture;

static step_fixture step_fixture_make(int batchnorm, int adam) {
  step_fixture f = {small_cnn(NULL, batchnorm), NULL, NULL, {0, 1, 0, 1}};
  if (adam) assert_ok(dcnn_optimizer_create_adam(NULL, 1e-3f, 0.9f, 0.999f, 1e-7f, 0.0f, &f.optimizer));
  else assert_ok(dcnn_optimizer_create_sgd(NULL, 1e-2f, 0.9f, DCNN_MOMENTUM_CLASSIC, 0.0f, &f.optimizer));
  dcnn_shape s = dcnn_shape_make(4, 4, 1, 6, 6);
  assert_ok(dcnn_tensor_create(NULL, &s, &f.x));
  assert_ok(dcnn_tensor_fill_random(f.x, DCNN_DIST_UNIFORM, 0.0f, 1.0f, 1, 0));
  return f;
}

static void step_fixture_free(step_fixture *f) {
  dcnn_tensor_destroy(f->x);
  dcnn_optimizer_destroy(f->optimizer);
  dcnn_model_destroy(f->model);
}

/* dcnn_optimizer_step alone cannot undo the caller's forward pass: a step
 * refused for non-finite running statistics says the weights and optimizer
 * state are unchanged and that the statistics are not restored (it used to
 * claim "the weights are unchanged" after a pretend restore). */
static void optimizer_step_refusal_says_what_is_kept(void **state) {
  (void)state;
  step_fixture f = step_fixture_make(1, 0);
  dcnn_model *m = f.model;
  dcnn_optimizer *o = f.optimizer;
  dcnn_tensor *x = f.x;
  int32_t *labels = f.labels;
  assert_ok(dcnn_model_train_step(m, o, x, labels, NULL, NULL));
  dcnn_param buffer = DCNN_STRUCT_INIT(dcnn_param);
  for (int32_t i = 0; i < dcnn_model_param_tensor_count(m) && !buffer.value; ++i) {
    dcnn_param p = DCNN_STRUCT_INIT(dcnn_param);
    assert_ok(dcnn_model_param(m, i, &p, NULL));
    if (p.flags & DCNN_PARAM_BUFFER) buffer = p;
  }
  assert_non_null(buffer.value);
  dcnn_tensor_data(buffer.value)[0] = NAN; /* as a diverging forward pass of the caller's would */
  size_t n = 0, n2 = 0;
  float *before = weights(m, &n);
  assert_status(dcnn_optimizer_step(o, m), DCNN_ERR_NUMERIC);
  assert_error_mentions("not restored");
  float *after = weights(m, &n2);
  assert_memory_equal(before, after, n * sizeof(float)); /* NaN included: bit-identical */
  assert_true(isnan(dcnn_tensor_data(buffer.value)[0]));
  /* Through dcnn_model_train_step the same refusal restores the statistics. */
  dcnn_tensor_fill(x, NAN);
  assert_status(dcnn_model_train_step(m, o, x, labels, NULL, NULL), DCNN_ERR_NUMERIC);
  free(after);
  after = weights(m, &n2);
  assert_memory_equal(before, after, n * sizeof(float));
  free(before);
  free(after);
  step_fixture_free(&f);
}

/* The optimizer keeps the model's parameter list between steps; adding a
 * layer without parameters keeps it valid, one with parameters is refused. */
static void optimizer_follows_layer_changes(void **state) {
  (void)state;
  step_fixture f = step_fixture_make(1, 1);
  dcnn_model *m = f.model;
  dcnn_optimizer *o = f.optimizer;
  dcnn_tensor *x = f.x;
  int32_t *labels = f.labels;
  assert_ok(dcnn_model_train_step(m, o, x, labels, NULL, NULL));
  assert_ok(dcnn_model_train_step(m, o, x, labels, NULL, NULL));
  dcnn_layer *l = NULL;
  assert_ok(dcnn_relu_create(&l));
  assert_ok(dcnn_model_add(m, l));
  assert_ok(dcnn_model_train_step(m, o, x, labels, NULL, NULL));
  assert_ok(dcnn_optimizer_step(o, m));
  assert_ok(dcnn_dense_create(2, DCNN_WITH_BIAS, &l));
  assert_ok(dcnn_model_add(m, l));
  assert_status(dcnn_optimizer_step(o, m), DCNN_ERR_INVALID_STATE);
  assert_status(dcnn_model_train_step(m, o, x, labels, NULL, NULL), DCNN_ERR_INVALID_STATE);
  step_fixture_free(&f);
}

/* The moments of every trainable parameter, concatenated (caller frees). */
static float *moments(const dcnn_optimizer *o, size_t *count) {
  size_t n = 0;
  for (int32_t i = 0; i < o->param_count; ++i)
    for (int k = 0; k < 2; ++k) {
      const dcnn_tensor *t = k ? o->second[i] : o->first[i];
      if (t) n += (size_t)t->count;
    }
  float *all = malloc((n ? n : 1) * sizeof *all), *at = all;
  for (int32_t i = 0; i < o->param_count; ++i)
    for (int k = 0; k < 2; ++k) {
      const dcnn_tensor *t = k ? o->second[i] : o->first[i];
      if (!t) continue;
      memcpy(at, t->data, (size_t)t->count * sizeof *at);
      at += t->count;
    }
  *count = n;
  return all;
}

/* After good steps the optimizer proves updates finite from bounds (a pre-pass
 * over gradients and weights only); a finite gradient whose square overflows
 * (Adam) or whose step overflows (SGD at a huge learning rate) must fail that
 * proof and be refused by the full check, with weights and moments untouched. */
static void fast_path_refuses_overflowing_updates(void **state) {
  (void)state;
  for (int adam = 0; adam <= 1; ++adam) {
    step_fixture f = step_fixture_make(1, adam);
    dcnn_model *m = f.model;
    dcnn_optimizer *o = f.optimizer;
    for (int i = 0; i < 3; ++i) assert_ok(dcnn_model_train_step(m, o, f.x, f.labels, NULL, NULL));
    assert_true(o->bounded); /* the next step may take the fast path */
    if (!adam) assert_ok(dcnn_optimizer_set_learning_rate(o, 1e30f));
    size_t n = 0, n2 = 0, k = 0, k2 = 0;
    float *before = weights(m, &n), *moments_before = moments(o, &k);
    dcnn_param p = DCNN_STRUCT_INIT(dcnn_param);
    assert_ok(dcnn_model_param(m, 0, &p, NULL));
    dcnn_tensor_data(p.grad)[1] = adam ? 1e30f : 1e9f; /* finite, but (1 - beta2) g g or lr g overflows */
    assert_status(dcnn_optimizer_step(o, m), DCNN_ERR_NUMERIC);
    assert_error_mentions(p.name);
    float *after = weights(m, &n2), *moments_after = moments(o, &k2);
    assert_memory_equal(before, after, n * sizeof(float));
    assert_memory_equal(moments_before, moments_after, k * sizeof(float));
    free(before);
    free(after);
    free(moments_before);
    free(moments_after);
    step_fixture_free(&f);
  }
}

/* Adam with a large epsilon: lr_t m1' overflows before the division by
 * (sqrt(m2') + eps) brings it back into range, so the bound must cover that
 * product, not only the quotient (the fast path wrote an infinite weight). */
static void fast_path_bounds_adams_product_before_the_division(void **state) {
  (void)state;
  step_fixture f = step_fixture_make(1, 1);
  dcnn_optimizer_destroy(f.optimizer);
  assert_ok(dcnn_optimizer_create_adam(NULL, 1e-3f, 0.9f, 0.999f, 1e3f, 0.0f, &f.optimizer));
  dcnn_model *m = f.model;
  dcnn_optimizer *o = f.optimizer;
  for (int i = 0; i < 3; ++i) assert_ok(dcnn_model_train_step(m, o, f.x, f.labels, NULL, NULL));
  assert_true(o->bounded);
  assert_ok(dcnn_optimizer_set_learning_rate(o, 1e30f));
  size_t n = 0, n2 = 0;
  float *before = weights(m, &n);
  dcnn_param p = DCNN_STRUCT_INIT(dcnn_param);
  assert_ok(dcnn_model_param(m, 0, &p, NULL));
  dcnn_tensor_data(p.grad)[1] = 1e11f; /* lr_t m1' ~ 1e39: infinite in float */
  assert_status(dcnn_optimizer_step(o, m), DCNN_ERR_NUMERIC);
  float *after = weights(m, &n2);
  assert_memory_equal(before, after, n * sizeof(float));
  free(before);
  free(after);
  step_fixture_free(&f);
}

/* The fast path (bounds, then one pass) and the full check (two passes) write
 * the same bits: one optimizer forgets its bounds before every step. */
static void fast_path_writes_what_the_check_path_writes(void **state) {
  (void)state;
  for (int adam = 0; adam <= 1; ++adam) {
    step_fixture a = step_fixture_make(1, adam), b = step_fixture_make(1, adam);
    for (int i = 0; i < 4; ++i) {
      b.optimizer->bounded = 0;
      assert_ok(dcnn_model_train_step(a.model, a.optimizer, a.x, a.labels, NULL, NULL));
      assert_ok(dcnn_model_train_step(b.model, b.optimizer, b.x, b.labels, NULL, NULL));
    }
    assert_true(a.optimizer->bounded);
    size_t n = 0, n2 = 0;
    float *wa = weights(a.model, &n), *wb = weights(b.model, &n2);
    assert_int_equal(n, n2);
    assert_memory_equal(wa, wb, n * sizeof(float));
    free(wa);
    free(wb);
    wa = moments(a.optimizer, &n);
    wb = moments(b.optimizer, &n2);
    assert_memory_equal(wa, wb, n * sizeof(float));
    free(wa);
    free(wb);
    step_fixture_free(&a);
    step_fixture_free(&b);
  }
}

/* A non-finite gradient: the optimizer refuses the whole step, names the
 * parameter and writes nothing (not even to parameters before it). */
static void non_finite_gradient_leaves_weights_untouched(void **state) {
  (void)state;
  step_fixture f = step_fixture_make(0, 1);
  dcnn_model *m = f.model;
  dcnn_optimizer *o = f.optimizer;
  dcnn_tensor *x = f.x;
  int32_t *labels = f.labels;
  assert_ok(dcnn_model_train_step(m, o, x, labels, NULL, NULL));
  size_t n = 0, n2 = 0;
  float *before = weights(m, &n);
  const int32_t last = dcnn_model_param_tensor_count(m) - 1;
  dcnn_param p = DCNN_STRUCT_INIT(dcnn_param);
  assert_ok(dcnn_model_param(m, last, &p, NULL));
  dcnn_tensor_data(p.grad)[0] = INFINITY;
  assert_status(dcnn_optimizer_step(o, m), DCNN_ERR_NUMERIC);
  assert_error_mentions(p.name);
  float *after = weights(m, &n2);
  assert_memory_equal(before, after, n * sizeof(float));
  /* The optimizer still works (its state was not touched either). */
  dcnn_tensor_data(p.grad)[0] = 0.0f;
  assert_ok(dcnn_optimizer_step(o, m));
  free(after);
  after = weights(m, &n2);
  assert_all_finite(after, n2);
  free(before);
  free(after);
  step_fixture_free(&f);
}

/* A small CNN's trainer with checkpoints in a scratch directory: SGD 0.01
 * (momentum 0.9), 1 epoch of batches of 8, no augmentation. */
typedef struct checkpointed_fit {
  const char *dir;
  char last[600], best[600]; /* dir/last.dcnn, dir/best.dcnn */
  dcnn_dataset *train, *val;
  dcnn_pipeline *pipe;
  dcnn_model *m;
  dcnn_optimizer *o;
  dcnn_trainer *t;
} checkpointed_fit;

static void checkpointed_fit_create(checkpointed_fit *f, const char *name, int32_t train, int32_t val) {
  f->dir = scratch(name);
  snprintf(f->last, sizeof f->last, "%s/last.dcnn", f->dir);
  snprintf(f->best, sizeof f->best, "%s/best.dcnn", f->dir);
  f->train = test_halves(train);
  f->val = test_halves(val);
  f->pipe = NULL;
  assert_ok(dcnn_pipeline_create(NULL, &f->pipe));
  f->m = small_cnn(NULL, 0);
  f->o = NULL;
  assert_ok(dcnn_optimizer_create_sgd(NULL, 0.01f, 0.9f, DCNN_MOMENTUM_CLASSIC, 0.0f, &f->o));
  f->t = NULL;
  assert_ok(dcnn_trainer_create(NULL, f->m, f->o, &f->t));
  assert_ok(dcnn_trainer_set(f->t, DCNN_TRAIN_EPOCHS, 1));
  assert_ok(dcnn_trainer_set(f->t, DCNN_TRAIN_BATCH_SIZE, 8));
  assert_ok(dcnn_trainer_set(f->t, DCNN_TRAIN_AUGMENT, 0));
  assert_ok(dcnn_trainer_set_checkpoint_dir(f->t, f->dir));
}

static void checkpointed_fit_destroy(checkpointed_fit *f) {
  dcnn_trainer_destroy(f->t);
  dcnn_optimizer_destroy(f->o);
  dcnn_model_destroy(f->m);
  dcnn_pipeline_destroy(f->pipe);
  dcnn_dataset_destroy(f->train);
  dcnn_dataset_destroy(f->val);
  remove_dir(f->dir);
}

/* Cancels at epoch `cancel_at_epoch`, step 3. */
static int cancel_at_epoch;
static dcnn_progress_action cancel_in_epoch(const dcnn_progress *p, void *user) {
  (void)user;
  return p->event == DCNN_PROGRESS_STEP && p->epoch == cancel_at_epoch && p->step == 3 ? DCNN_PROGRESS_CANCEL
                                                                                         : DCNN_PROGRESS_CONTINUE;
}

/* A second fit (2 epochs after 1) stopped inside its first epoch: its
 * mid-epoch checkpoint resumes with that fit's 2 epochs left, not the first
 * fit's plan (state version 6 records it); and a fit "until early stopping"
 * (DCNN_TRAIN_EPOCHS 1e7) after others writes checkpoints that resume. */
static void a_later_fit_resumes_with_its_own_plan(void **state) {
  (void)state;
  checkpointed_fit f;
  checkpointed_fit_create(&f, "plan", 64, 16);
  assert_ok(dcnn_trainer_set_checkpoint_every(f.t, 2, 0));
  assert_ok(dcnn_trainer_fit(f.t, f.train, f.val, f.pipe)); /* epoch 1 */
  assert_ok(dcnn_trainer_set(f.t, DCNN_TRAIN_EPOCHS, 2));
  cancel_at_epoch = 2;
  assert_ok(dcnn_trainer_set_progress(f.t, cancel_in_epoch, NULL));
  assert_status(dcnn_trainer_fit(f.t, f.train, f.val, f.pipe), DCNN_ERR_CANCELLED);
  assert_int_equal(dcnn_trainer_epochs_done(f.t), 1);

  dcnn_model *m = small_cnn(NULL, 0);
  dcnn_optimizer *o = NULL;
  dcnn_trainer *t = NULL;
  assert_ok(dcnn_optimizer_create_sgd(NULL, 0.01f, 0.9f, DCNN_MOMENTUM_CLASSIC, 0.0f, &o));
  assert_ok(dcnn_trainer_create(NULL, m, o, &t));
  assert_ok(dcnn_trainer_resume(t, f.last));
  double left = 0;
  assert_ok(dcnn_trainer_get(t, DCNN_TRAIN_EPOCHS, &left));
  assert_true(left == 2.0); /* epochs 2 and 3; it was 1 (the first fit's plan) */
  assert_ok(dcnn_trainer_fit(t, f.train, f.val, f.pipe));
  assert_int_equal(dcnn_trainer_epochs_done(t), 3);

  /* "until early stopping" after 3 epochs done: epoch 4's history entry plans 3 + 1e7, past the old reader's 1e7 */
  assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_EPOCHS, 1e7));
  assert_ok(dcnn_trainer_set_checkpoint_dir(t, f.dir));
  assert_ok(dcnn_trainer_set_checkpoint_every(t, 2, 0));
  cancel_at_epoch = 5;
  assert_ok(dcnn_trainer_set_progress(t, cancel_in_epoch, NULL));
  assert_status(dcnn_trainer_fit(t, f.train, f.val, f.pipe), DCNN_ERR_CANCELLED);
  assert_int_equal(dcnn_trainer_epochs_done(t), 4);
  assert_ok(dcnn_trainer_resume(f.t, f.last));
  assert_ok(dcnn_trainer_get(f.t, DCNN_TRAIN_EPOCHS, &left));
  assert_true(left == 1e7 - 1); /* epochs 5 to 3 + 1e7 */
  dcnn_trainer_destroy(t);
  dcnn_optimizer_destroy(o);
  dcnn_model_destroy(m);
  checkpointed_fit_destroy(&f);
}

/* An epoch stopped after 3 steps of batch 8 does not finish with batch 16
 * (it would skip 24 samples of the epoch's order), in process or resumed. */
static void an_interrupted_epoch_keeps_its_batch_size(void **state) {
  (void)state;
  checkpointed_fit f;
  checkpointed_fit_create(&f, "batch", 64, 16);
  assert_ok(dcnn_trainer_set_checkpoint_every(f.t, 1, 0));
  cancel_at_epoch = 1;
  assert_ok(dcnn_trainer_set_progress(f.t, cancel_in_epoch, NULL));
  assert_status(dcnn_trainer_fit(f.t, f.train, f.val, f.pipe), DCNN_ERR_CANCELLED);
  assert_ok(dcnn_trainer_set_progress(f.t, NULL, NULL));
  assert_ok(dcnn_trainer_set(f.t, DCNN_TRAIN_BATCH_SIZE, 16));
  assert_status(dcnn_trainer_fit(f.t, f.train, f.val, f.pipe), DCNN_ERR_INVALID_STATE);
  assert_error_mentions("epoch 1: its first 3 steps were taken with batch size 8, not 16");
  assert_int_equal(dcnn_model_step_count(f.m), 3);
  assert_ok(dcnn_trainer_save_checkpoint(f.t, f.last)); /* saved with batch 16 set: the position keeps 8 */
  assert_ok(dcnn_trainer_resume(f.t, f.last));
  assert_status(dcnn_trainer_fit(f.t, f.train, f.val, f.pipe), DCNN_ERR_INVALID_STATE);
  assert_error_mentions("batch size 8, not 16");
  assert_ok(dcnn_trainer_set(f.t, DCNN_TRAIN_BATCH_SIZE, 8));
  assert_ok(dcnn_trainer_fit(f.t, f.train, f.val, f.pipe));
  assert_int_equal(dcnn_model_step_count(f.m), 8);
  checkpointed_fit_destroy(&f);
}

/* fit with checkpoints, then the same trainer with a huge learning rate:
 * fit fails with DCNN_ERR_NUMERIC naming the epoch and step, best.dcnn and
 * last.dcnn stay byte-identical and loadable, the model's weights finite. */
static void diverging_fit_keeps_checkpoints(void **state) {
  (void)state;
  checkpointed_fit f;
  checkpointed_fit_create(&f, "diverge", 64, 16);
  const char *dir = f.dir, *last = f.last, *best = f.best;
  dcnn_trainer *t = f.t;
  dcnn_model *m = f.m;
  assert_ok(dcnn_trainer_fit(t, f.train, f.val, f.pipe));
  size_t last_size = 0, best_size = 0, size = 0;
  void *last_bytes = read_all(last, &last_size), *best_bytes = read_all(best, &best_size);

  assert_ok(dcnn_optimizer_set_learning_rate(f.o, 1e30f));
  assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_EPOCHS, 5));
  assert_status(dcnn_trainer_fit(t, f.train, f.val, f.pipe), DCNN_ERR_NUMERIC);
  assert_error_mentions("epoch 2, step");
  assert_error_mentions("smaller learning rate");
  size_t n = 0;
  float *w = weights(m, &n);
  assert_all_finite(w, n);
  free(w);
  void *now = read_all(last, &size);
  assert_int_equal(size, last_size);
  assert_memory_equal(now, last_bytes, size);
  free(now);
  now = read_all(best, &size);
  assert_int_equal(size, best_size);
  assert_memory_equal(now, best_bytes, size);
  free(now);
  dcnn_model *loaded = NULL;
  assert_ok(dcnn_model_load(NULL, best, &loaded));
  dcnn_model_destroy(loaded);
  assert_int_equal(entries(dir), 2); /* no temporary file left */

  /* And a model that does hold a non-finite weight is never written. */
  dcnn_param p = DCNN_STRUCT_INIT(dcnn_param);
  assert_ok(dcnn_model_param(m, 0, &p, NULL));
  dcnn_tensor_data(p.value)[1] = NAN;
  assert_status(dcnn_model_save(m, best), DCNN_ERR_NUMERIC);
  assert_status(dcnn_trainer_save_checkpoint(t, last), DCNN_ERR_NUMERIC);
  now = read_all(best, &size);
  assert_memory_equal(now, best_bytes, best_size);
  free(now);
  assert_int_equal(entries(dir), 2);

  free(last_bytes);
  free(best_bytes);
  checkpointed_fit_destroy(&f);
}


/* best.dcnn is written before last.dcnn: when best.dcnn cannot be written
 * (here a directory stands in its place), the epoch's checkpoint is not
 * written either, so a resumed run repeats the epoch end and writes both. The
 * other order left a checkpoint past a best epoch whose file never existed
 * (found by killing digitcnn-table1 between the two writes). */
static void best_model_is_written_before_the_checkpoint(void **state) {
  (void)state;
  checkpointed_fit f;
  checkpointed_fit_create(&f, "best-first", 32, 8);
  const char *dir = f.dir, *last = f.last, *best = f.best;
  assert_int_equal(mkdir(best, 0755), 0);
  assert_true(dcnn_trainer_fit(f.t, f.train, f.val, f.pipe) != DCNN_OK);
  assert_error_mentions("best.dcnn");
  struct stat st;
  assert_int_equal(stat(last, &st), -1); /* no checkpoint past the unwritten best epoch */
  assert_int_equal(entries(dir), 1);     /* only the blocking directory: no temporary file left */
  rmdir(best);

  assert_ok(dcnn_trainer_fit(f.t, f.train, f.val, f.pipe)); /* the way clear: both files are written */
  assert_int_equal(stat(best, &st), 0);
  assert_int_equal(stat(last, &st), 0);
  checkpointed_fit_destroy(&f);
}


/* A best.dcnn that failed to write is written at a later epoch end from the
 * best epoch's copy, even when that epoch is not a new best (it never was
 * before: the run went on with best.dcnn missing); while it still cannot be
 * written, the later epochs' last.dcnn is written all the same. */
static void a_failed_best_file_is_written_at_the_next_epoch(void **state) {
  (void)state;
  checkpointed_fit f;
  checkpointed_fit_create(&f, "best-retry", 32, 8);
  assert_int_equal(mkdir(f.best, 0755), 0);
  assert_true(dcnn_trainer_fit(f.t, f.train, f.val, f.pipe) != DCNN_OK);
  /* a learning rate too small to move a weight: the later epochs equal epoch 1, so none is a new best */
  assert_ok(dcnn_optimizer_set_learning_rate(f.o, 1e-30f));
  assert_ok(dcnn_trainer_fit(f.t, f.train, f.val, f.pipe)); /* best.dcnn still blocked: a warning, not an error */
  struct stat st;
  assert_int_equal(stat(f.last, &st), 0);
  rmdir(f.best);
  assert_ok(dcnn_trainer_fit(f.t, f.train, f.val, f.pipe));
  assert_int_equal(dcnn_trainer_best_epoch(f.t), 1); /* the later epochs are no better */
  dcnn_model *best = NULL;
  assert_ok(dcnn_model_load(NULL, f.best, &best));
  size_t n = 0, k = 0;
  float *saved = weights(best, &n), *now = weights(f.m, &k);
  assert_int_equal(n, k);
  assert_memory_equal(saved, now, n * sizeof(float));
  free(saved);
  free(now);
  dcnn_model_destroy(best);
  checkpointed_fit_destroy(&f);
}

static void keep_warnings(dcnn_log_level level, const char *message, void *user) {
  if (level == DCNN_LOG_WARN) snprintf(user, 512, "%s", message);
}

/* Without a best epoch's copy (DCNN_TRAIN_KEEP_BEST 0) a best.dcnn that
 * failed to write cannot be written later: the next epoch end says so once. */
static void a_failed_best_file_without_a_copy_is_reported(void **state) {
  (void)state;
  checkpointed_fit f;
  checkpointed_fit_create(&f, "best-nocopy", 32, 8);
  dcnn_context *ctx = NULL;
  char warning[512] = "";
  assert_ok(dcnn_context_create(&ctx));
  assert_ok(dcnn_context_set_log(ctx, keep_warnings, DCNN_LOG_WARN, warning));
  dcnn_trainer *t = NULL;
  assert_ok(dcnn_trainer_create(ctx, f.m, f.o, &t));
  assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_BATCH_SIZE, 8));
  assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_AUGMENT, 0));
  assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_KEEP_BEST, 0));
  assert_ok(dcnn_trainer_set_checkpoint_dir(t, f.dir));
  assert_int_equal(mkdir(f.best, 0755), 0);
  assert_true(dcnn_trainer_fit(t, f.train, f.val, f.pipe) != DCNN_OK);
  assert_string_equal(warning, "");
  rmdir(f.best);
  assert_ok(dcnn_optimizer_set_learning_rate(f.o, 1e-30f)); /* no later epoch is a new best */
  assert_ok(dcnn_trainer_fit(t, f.train, f.val, f.pipe));
  assert_non_null(strstr(warning, "best.dcnn of epoch 1 was not written and no copy of its weights was kept"));
  warning[0] = '\0';
  assert_ok(dcnn_trainer_fit(t, f.train, f.val, f.pipe));
  assert_string_equal(warning, ""); /* once */
  dcnn_trainer_destroy(t);
  dcnn_context_destroy(ctx);
  checkpointed_fit_destroy(&f);
}

/* Out of memory for the best epoch's copy leaves no best epoch behind it: the
 * fit that continues would otherwise keep a best epoch whose weights it never
 * held, and end with neither those nor its own best (best epoch 0). */
static void out_of_memory_for_the_best_copy_records_no_best_epoch(void **state) {
  (void)state;
  int seen = 0;
  for (int64_t k = 0; k < 2000 && !seen; ++k) {
    checkpointed_fit f;
    checkpointed_fit_create(&f, "best-oom", 32, 8);
    assert_ok(dcnn_trainer_set_checkpoint_dir(f.t, NULL));
    dcnn__fail_allocations_after(k);
    const dcnn_status s = dcnn_trainer_fit(f.t, f.train, f.val, f.pipe);
    dcnn__fail_allocations_after(-1);
    if (s == DCNN_ERR_OUT_OF_MEMORY && strstr(dcnn_last_error(), "best weights")) {
      seen = 1;
      assert_int_equal(dcnn_trainer_epochs_done(f.t), 1);
      assert_ok(dcnn_optimizer_set_learning_rate(f.o, 1e-30f)); /* no later epoch beats epoch 1 */
      assert_ok(dcnn_trainer_set(f.t, DCNN_TRAIN_EPOCHS, 2));
      assert_ok(dcnn_trainer_fit(f.t, f.train, f.val, f.pipe));
      assert_true(dcnn_trainer_best_epoch(f.t) > 1); /* an epoch whose weights it kept: not 1, nor none (0) */
    }
    assert_true(s == DCNN_OK || s == DCNN_ERR_OUT_OF_MEMORY);
    const int done = s == DCNN_OK;
    checkpointed_fit_destroy(&f);
    if (done) break;
  }
  assert_true(seen);
}

/* ---- 2. operator faults: file size limits, stale temporary files ---- */

/* Returns the child's exit code, or 128 + the signal that ended it. */
static int child_result(pid_t pid) {
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Child bodies for dcnn_test_run_limited: 0 when all went as expected, else
 * a line in `message`. */
static int fail_with(char *message, size_t capacity, const char *what) {
  snprintf(message, capacity, "%s: %s", what, dcnn_last_error());
  return 1;
}

/* Through dcnn__write_file_atomic (one buffer) and the public model save. */
static int save_past_the_limit(void *arg, char *message, size_t capacity) {
  const char *path = arg;
  size_t size = 1u << 20;
  char *big = calloc(size, 1);
  if (dcnn__write_file_atomic(path, big, size) != DCNN_ERR_IO) return fail_with(message, capacity, "buffer save");
  if (!strstr(dcnn_last_error(), "file size limit")) return fail_with(message, capacity, "buffer save message");
  /* A model: through the public API as well. */
  dcnn_model *paper = NULL;
  if (dcnn_zoo_paper_cnn(NULL, test_zoo(28, 28, 1, 10, 1), &paper) != DCNN_OK)
    return fail_with(message, capacity, "zoo");
  if (dcnn_model_save(paper, path) != DCNN_ERR_IO) return fail_with(message, capacity, "model save");
  sigset_t mask;
  pthread_sigmask(SIG_BLOCK, NULL, &mask);
  if (sigismember(&mask, SIGXFSZ)) return fail_with(message, capacity, "SIGXFSZ still blocked");
  free(big);
  dcnn_model_destroy(paper);
  return 0;
}

/* Through the stream (fprintf, as the CSV and report writers do): the error
 * is the one the failing write saw, not a generic I/O error. */
static int print_past_the_limit(void *arg, char *message, size_t capacity) {
  const char *path = arg;
  dcnn_atomic_file file;
  if (dcnn__atomic_open(&file, path) != DCNN_OK) return fail_with(message, capacity, "open");
  for (int i = 0; i < 20000; ++i) fprintf(file.stream, "%d,0.123456,0.654321,0.5\n", i);
  if (dcnn__atomic_commit(&file) != DCNN_ERR_IO) return fail_with(message, capacity, "stream save succeeded");
  if (!strstr(dcnn_last_error(), "file size limit")) return fail_with(message, capacity, "stream save message");
  return 0;
}

static void assert_limited_run(dcnn_test_bounded_fn fn, void *arg, int64_t file_bytes) {
  const dcnn_test_limits limits = {10, 0, file_bytes};
  dcnn_test_bounded run;
  if (!dcnn_test_run_limited(fn, arg, &limits, &run)) fail_msg("%s", run.message);
}

/* In a child limited to 100 KB files (ulimit -f): a larger save is an error
 * naming the limit, the previous file is unchanged, no temporary file is
 * left, and the process lives on (today SIGXFSZ kills it). */
static void file_size_limit_is_an_error(void **state) {
  (void)state;
  const char *dir = scratch("fsize");
  char path[600];
  snprintf(path, sizeof path, "%s/model.dcnn", dir);
  dcnn_model *m = small_cnn(NULL, 0);
  assert_ok(dcnn_model_save(m, path));
  size_t old_size = 0;
  void *old = read_all(path, &old_size);
  assert_limited_run(save_past_the_limit, path, 100000);
  assert_limited_run(print_past_the_limit, path, 100000);
  size_t size = 0;
  void *now = read_all(path, &size);
  assert_int_equal(size, old_size);
  assert_memory_equal(now, old, size);
  assert_int_equal(entries(dir), 1);
  free(old);
  free(now);
  dcnn_model_destroy(m);
  remove_dir(dir);
}

/* A SIGXFSZ sent to the process while a save has it blocked is delivered
 * afterwards, not swallowed with the one a failed write raises. */
static volatile sig_atomic_t xfsz_delivered;
static void count_xfsz(int sig) {
  (void)sig;
  xfsz_delivered++;
}
static void send_xfsz_to_process(const char *temp, size_t written, size_t total) {
  (void)temp;
  (void)total;
  if (written == (size_t)1 << 16) kill(getpid(), SIGXFSZ);
}
static int save_while_signalled(void *arg, char *message, size_t capacity) {
  signal(SIGXFSZ, count_xfsz);
  dcnn__atomic_write_hook = send_xfsz_to_process;
  static char data[1 << 18];
  const dcnn_status status = dcnn__write_file_atomic(arg, data, sizeof data);
  dcnn__atomic_write_hook = NULL;
  if (status != DCNN_OK) return fail_with(message, capacity, "save");
  if (xfsz_delivered != 1) {
    snprintf(message, capacity, "the process's SIGXFSZ was delivered %d times, expected once", (int)xfsz_delivered);
    return 1;
  }
  return 0;
}

static void process_xfsz_is_not_swallowed(void **state) {
  (void)state;
  const char *dir = scratch("xfsz");
  char path[600];
  snprintf(path, sizeof path, "%s/data.bin", dir);
  assert_limited_run(save_while_signalled, path, 0);
  remove_dir(dir);
}

/* Temporary files are close-on-exec: a child exec'd during a save would
 * otherwise hold the temporary file and its lock. */
static void temporary_file_is_close_on_exec(void **state) {
  (void)state;
  const char *dir = scratch("cloexec");
  char path[600];
  snprintf(path, sizeof path, "%s/out.txt", dir);
  dcnn_atomic_file file;
  assert_ok(dcnn__atomic_open(&file, path));
  int flags = -1; /* of the descriptor open on the temporary file */
  DIR *fds = opendir("/proc/self/fd");
  assert_non_null(fds);
  for (struct dirent *e; (e = readdir(fds)) != NULL;) {
    char link[300], target[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%s", e->d_name);
    const ssize_t n = readlink(link, target, sizeof target - 1);
    if (n <= 0) continue;
    target[n] = '\0';
    if (strstr(target, ".dcnn-partial-")) flags = fcntl(atoi(e->d_name), F_GETFD);
  }
  closedir(fds);
  dcnn__atomic_abort(&file);
  assert_true(flags >= 0);
  assert_true(flags & FD_CLOEXEC);
  assert_int_equal(entries(dir), 0);
  remove_dir(dir);
}

static void write_atomically(const char *path) {
  dcnn_atomic_file file;
  assert_ok(dcnn__atomic_open(&file, path));
  fputs("x\n", file.stream);
  assert_ok(dcnn__atomic_commit(&file));
}

static mode_t mode_of(const char *path) {
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  return st.st_mode & 0777;
}

static mode_t umask_before_test;
static int keep_umask(void **state) {
  (void)state;
  umask_before_test = umask(022);
  return 0;
}
static int restore_umask(void **state) { /* also after a failed assertion */
  (void)state;
  umask(umask_before_test);
  return 0;
}

static mode_t temp_mode_at_creation;
static void record_temp_mode(const char *temp_path) { temp_mode_at_creation = mode_of(temp_path); }

/* A new output gets 0666 less the umask, as open() gives; a replaced one keeps
 * its mode (a private 0600 model stayed private until 0.2.0 made it 0644). */
static void outputs_keep_the_replaced_mode_or_follow_the_umask(void **state) {
  (void)state;
  const char *dir = scratch("modes");
  char path[600];
  snprintf(path, sizeof path, "%s/out.txt", dir);
  umask(077);
  write_atomically(path);
  assert_int_equal(mode_of(path), 0600);
  umask(022); /* replaced under another umask: the file's own mode */
  write_atomically(path);
  assert_int_equal(mode_of(path), 0600);
  assert_int_equal(unlink(path), 0);
  write_atomically(path);
  assert_int_equal(mode_of(path), 0644);
  assert_int_equal(chmod(path, 0640), 0);
  write_atomically(path);
  assert_int_equal(mode_of(path), 0640);
  /* The temporary file is never wider than the file it replaces, even for a moment (made 0666 less the
   * umask and narrowed afterwards, a private model's new contents could be opened by others between). */
  assert_int_equal(chmod(path, 0600), 0);
  umask(0);
  temp_mode_at_creation = 0;
  dcnn__atomic_create_hook = record_temp_mode;
  write_atomically(path);
  dcnn__atomic_create_hook = NULL;
  umask(022);
  assert_int_equal(temp_mode_at_creation, 0600);
  assert_int_equal(mode_of(path), 0600);
  assert_int_equal(unlink(path), 0);
  remove_dir(dir);
}

static int is_link(const char *path) {
  struct stat st;
  return lstat(path, &st) == 0 && S_ISLNK(st.st_mode);
}

static void assert_file_text(const char *path, const char *text) {
  size_t size = 0;
  char *got = read_all(path, &size);
  assert_non_null(got);
  assert_int_equal(size, strlen(text));
  assert_memory_equal(got, text, size);
  free(got);
}

/* A save through a symbolic link replaces the link's target, as a plain open
 * would write it, and leaves the link; a FIFO, a device or a directory is
 * refused, not replaced by a regular file (the rename would do that). */
static void saves_write_through_links_and_refuse_special_files(void **state) {
  (void)state;
  const char *dir = scratch("links");
  char run[600], target[700], link[600], dangling[600], created[700], chain[600], loop_a[600], loop_b[600],
      fifo[600], sub[600];
  snprintf(run, sizeof run, "%s/run", dir);
  assert_int_equal(mkdir(run, 0755), 0);
  snprintf(target, sizeof target, "%s/model.txt", run);
  snprintf(link, sizeof link, "%s/latest", dir);
  assert_int_equal(symlink("run/model.txt", link), 0); /* relative to the link's directory */
  write_atomically(link);
  assert_true(is_link(link));
  assert_file_text(target, "x\n");
  snprintf(chain, sizeof chain, "%s/chain", dir);
  assert_int_equal(symlink(link, chain), 0); /* absolute, to a link */
  assert_int_equal(unlink(target), 0);
  write_atomically(chain);
  assert_true(is_link(chain) && is_link(link));
  assert_file_text(target, "x\n");
  snprintf(dangling, sizeof dangling, "%s/dangling", dir);
  snprintf(created, sizeof created, "%s/new.txt", run);
  assert_int_equal(symlink("run/new.txt", dangling), 0);
  write_atomically(dangling);
  assert_true(is_link(dangling));
  assert_file_text(created, "x\n");
  dcnn_atomic_file file;
  snprintf(loop_a, sizeof loop_a, "%s/loop-a", dir);
  snprintf(loop_b, sizeof loop_b, "%s/loop-b", dir);
  assert_int_equal(symlink("loop-b", loop_a), 0);
  assert_int_equal(symlink("loop-a", loop_b), 0);
  assert_status(dcnn__atomic_open(&file, loop_a), DCNN_ERR_IO);
  assert_error_mentions("cannot follow its symbolic link");
  snprintf(fifo, sizeof fifo, "%s/fifo", dir);
  assert_int_equal(mkfifo(fifo, 0644), 0);
  assert_status(dcnn__atomic_open(&file, fifo), DCNN_ERR_IO);
  assert_error_mentions("is not a regular file (a FIFO)");
  struct stat st;
  assert_int_equal(lstat(fifo, &st), 0);
  assert_true(S_ISFIFO(st.st_mode));
  /* A device node of the scratch directory's own (root only), never /dev's: a regression would replace it. */
  char device[600];
  snprintf(device, sizeof device, "%s/null", dir);
  const int have_device = mknod(device, S_IFCHR | 0666, makedev(1, 3)) == 0;
  if (have_device) {
    assert_status(dcnn__atomic_open(&file, device), DCNN_ERR_IO);
    assert_error_mentions("(a device)");
    assert_int_equal(lstat(device, &st), 0);
    assert_true(S_ISCHR(st.st_mode));
  }
  snprintf(sub, sizeof sub, "%s/sub", dir);
  assert_int_equal(mkdir(sub, 0755), 0);
  assert_status(dcnn__atomic_open(&file, sub), DCNN_ERR_IO);
  assert_error_mentions("is a directory, not a file"); /* the binding's IsADirectoryError */
  assert_int_equal(entries(run), 2); /* no temporary file left anywhere */
  assert_int_equal(entries(dir), 8 + have_device); /* run, sub, the fifo and five links */
  assert_int_equal(rmdir(sub), 0);
  if (have_device) assert_int_equal(unlink(device), 0);
  assert_int_equal(unlink(target), 0);
  assert_int_equal(unlink(created), 0);
  assert_int_equal(rmdir(run), 0);
  remove_dir(dir);
}

/* Messages about long paths keep the file's name and the reason: the path is
 * shortened around "..." (a message holds 1,024 bytes), in saves and loads. */
static void long_paths_keep_the_name_and_the_reason(void **state) {
  (void)state;
  const char *dir = scratch("long");
  char deep[1200], path[1300], part[101];
  memset(part, 'd', 100);
  part[100] = '\0';
  snprintf(deep, sizeof deep, "%s", dir);
  for (int depth = 0; depth < 6; ++depth) { /* 600 bytes of directories */
    const size_t at = strlen(deep);
    snprintf(deep + at, sizeof deep - at, "/%s", part);
    assert_true(mkdir(deep, 0755) == 0);
  }
  dcnn_model *m = small_cnn(NULL, 0);
  snprintf(path, sizeof path, "%s/missing/model.dcnn", deep);
  assert_status(dcnn_model_save(m, path), DCNN_ERR_IO);
  assert_error_mentions("ddd...ddd");
  assert_error_mentions("missing/model.dcnn: cannot create a temporary file beside it: No such file or directory");
  assert_true(strlen(dcnn_last_error()) < 400);
  assert_string_equal(dcnn_last_error_path(), path); /* whole, where the message shortens it */
  dcnn_model *loaded = NULL;
  assert_status(dcnn_model_load(NULL, path, &loaded), DCNN_ERR_IO);
  assert_error_mentions("missing/model.dcnn: cannot open: No such file or directory");
  assert_true(strlen(dcnn_last_error()) < 300);
  assert_string_equal(dcnn_last_error_path(), path);
  snprintf(path, sizeof path, "%s/bad.dcnn", deep);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  fputs("not a model file, only some words\n", f);
  fclose(f);
  assert_status(dcnn_model_load(NULL, path, &loaded), DCNN_ERR_BAD_FORMAT);
  assert_error_mentions("ddd...ddd");
  assert_error_mentions("ddd/bad.dcnn: not a libdigitcnn model file");
  assert_true(strlen(dcnn_last_error()) < 300);
  assert_string_equal(dcnn_last_error_path(), path);
  assert_null(loaded);
  snprintf(path, sizeof path, "%s/fifo", deep);
  assert_int_equal(mkfifo(path, 0644), 0);
  assert_status(dcnn_model_save(m, path), DCNN_ERR_IO);
  assert_error_mentions("ddd/fifo: is not a regular file (a FIFO)");
  assert_status(dcnn_model_load(NULL, path, &loaded), DCNN_ERR_IO);
  assert_error_mentions("ddd/fifo: is not a regular file (a FIFO)");
  dcnn_model_destroy(m);
  remove_dir(deep); /* bad.dcnn, the FIFO and the deepest directory */
  for (int depth = 0; depth < 5; ++depth) {
    *strrchr(deep, '/') = '\0';
    assert_int_equal(rmdir(deep), 0);
  }
  remove_dir(dir);
}

/* dcnn_last_error_path: the file each error is about, as the caller named it;
 * "" after an error about no file, after dcnn_clear_error, and never the
 * path of an earlier error. */
static void errors_name_their_file_whole(void **state) {
  (void)state;
  const char *dir = scratch("paths");
  char images[600], list[600], path[700], link[700];
  snprintf(images, sizeof images, "%s", dir);
  snprintf(list, sizeof list, "%s/list.txt", dir);
  /* 300 good images and a missing one near the end: decoded on 2 threads, the error comes from a worker */
  dcnn_context *ctx = NULL;
  assert_ok(dcnn_context_create(&ctx));
  assert_ok(dcnn_context_set_threads(ctx, 2));
  const uint8_t pixels[4 * 4] = {0, 255, 0, 255};
  FILE *f = fopen(list, "w");
  assert_non_null(f);
  for (int i = 0; i < 300; ++i) {
    snprintf(path, sizeof path, "%s/%03d.png", dir, i);
    assert_ok(dcnn_image_write_png(path, 4, 4, 1, pixels));
    fprintf(f, "%03d.png %d\n", i, i % 10);
  }
  fprintf(f, "gone.png 1\n");
  fclose(f);
  dcnn_dataset *ds = NULL;
  assert_status(dcnn_dataset_load_image_list(ctx, list, images, 10, &ds), DCNN_ERR_IO);
  snprintf(path, sizeof path, "%s/gone.png", images);
  assert_string_equal(dcnn_last_error_path(), path);
  assert_status(dcnn_dataset_load_image_list(ctx, list, "/nonexistent-images", 10, &ds), DCNN_ERR_IO);
  assert_string_equal(dcnn_last_error_path(), "/nonexistent-images");
  f = fopen(list, "w");
  assert_non_null(f);
  fputs("000.png eleven\n", f);
  fclose(f);
  assert_status(dcnn_dataset_load_image_list(ctx, list, images, 10, &ds), DCNN_ERR_BAD_FORMAT);
  assert_string_equal(dcnn_last_error_path(), list);

  /* an error about no file forgets the last one's path; so does dcnn_clear_error */
  assert_status(dcnn_dataset_load_image_list(ctx, list, images, 0, &ds), DCNN_ERR_INVALID_ARGUMENT);
  assert_string_equal(dcnn_last_error_path(), "");
  assert_status(dcnn_image_read_png(list, 0, (uint8_t **)&ds, &(int32_t){0}, &(int32_t){0}, NULL),
                DCNN_ERR_BAD_FORMAT);
  assert_string_equal(dcnn_last_error_path(), list);
  dcnn_clear_error();
  assert_string_equal(dcnn_last_error(), "");
  assert_string_equal(dcnn_last_error_path(), "");

  /* IDX: the file at fault, images or labels */
  char idx_images[700], idx_labels[700];
  snprintf(idx_images, sizeof idx_images, "%s/images.idx", dir);
  snprintf(idx_labels, sizeof idx_labels, "%s/labels.idx", dir);
  const uint8_t image_file[16 + 4] = {0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3, 4};
  const uint8_t label_file[8 + 1] = {0, 0, 8, 1, 0, 0, 0, 1, 12}; /* label 12 of 10 classes */
  f = fopen(idx_images, "wb");
  assert_non_null(f);
  fwrite(image_file, 1, sizeof image_file, f);
  fclose(f);
  f = fopen(idx_labels, "wb");
  assert_non_null(f);
  fwrite(label_file, 1, sizeof label_file, f);
  fclose(f);
  assert_status(dcnn_dataset_load_idx(ctx, idx_images, idx_labels, 10, &ds), DCNN_ERR_BAD_FORMAT);
  assert_error_mentions("label 12");
  assert_string_equal(dcnn_last_error_path(), idx_labels);
  assert_status(dcnn_dataset_load_idx(ctx, list, idx_labels, 10, &ds), DCNN_ERR_BAD_FORMAT);
  assert_string_equal(dcnn_last_error_path(), list); /* the images file */
  assert_status(dcnn_dataset_load_idx(ctx, idx_images, list, 10, &ds), DCNN_ERR_BAD_FORMAT);
  assert_error_mentions("not an IDX file");
  assert_string_equal(dcnn_last_error_path(), list);

  /* a save through a symbolic link names the link, as given */
  dcnn_model *m = small_cnn(NULL, 0);
  snprintf(link, sizeof link, "%s/link.dcnn", dir);
  snprintf(path, sizeof path, "%s/no-dir/target.dcnn", dir);
  assert_int_equal(symlink(path, link), 0);
  assert_status(dcnn_model_save(m, link), DCNN_ERR_IO);
  assert_string_equal(dcnn_last_error_path(), link);
  /* a failed save of what cannot be a file at all, then a success: the path stays the error's */
  assert_status(dcnn_model_save(m, dir), DCNN_ERR_IO);
  assert_string_equal(dcnn_last_error_path(), dir);
  snprintf(path, sizeof path, "%s/good.dcnn", dir);
  assert_ok(dcnn_model_save(m, path));
  assert_string_equal(dcnn_last_error_path(), dir);
  dcnn_model_destroy(m);
  unlink(link);
  unlink(idx_images);
  unlink(idx_labels);
  dcnn_context_destroy(ctx);
  remove_dir(dir);
}

/* A checkpoint directory that does not exist (or is a file) fails the fit
 * before its first step, not at the first save after an epoch of training. */
static void a_missing_checkpoint_directory_fails_before_training(void **state) {
  (void)state;
  checkpointed_fit f;
  checkpointed_fit_create(&f, "no-dir", 32, 16);
  char missing[700];
  snprintf(missing, sizeof missing, "%s/not-made", f.dir);
  assert_ok(dcnn_trainer_set_checkpoint_dir(f.t, missing));
  assert_status(dcnn_trainer_fit(f.t, f.train, f.val, f.pipe), DCNN_ERR_IO);
  assert_error_mentions("not-made: the checkpoint directory of dcnn_trainer_fit: No such file or directory");
  assert_string_equal(dcnn_last_error_path(), missing);
  assert_int_equal(dcnn_trainer_epochs_done(f.t), 0);
  assert_int_equal(dcnn_model_step_count(f.m), 0);
  write_atomically(f.last); /* a file where the directory should be */
  assert_ok(dcnn_trainer_set_checkpoint_dir(f.t, f.last));
  assert_status(dcnn_trainer_fit(f.t, f.train, f.val, f.pipe), DCNN_ERR_IO);
  assert_error_mentions("Not a directory");
  assert_ok(dcnn_trainer_set_checkpoint_dir(f.t, f.dir));
  assert_ok(dcnn_trainer_fit(f.t, f.train, f.val, f.pipe));
  assert_int_equal(dcnn_trainer_epochs_done(f.t), 1);
  checkpointed_fit_destroy(&f);
}

/* A checkpoint directory this process cannot write (a reviewer's case: it trained a whole epoch, then failed
 * its first save) fails the fit before its first step too: a read-only tmpfs mounted there when running as
 * root (CI), else the directory without write permission. */
static void an_unwritable_checkpoint_directory_fails_before_training(void **state) {
  (void)state;
  checkpointed_fit f;
  checkpointed_fit_create(&f, "read-only", 32, 16);
  char locked[700];
  snprintf(locked, sizeof locked, "%s/locked", f.dir);
  assert_int_equal(mkdir(locked, 0755), 0);
  const int root = geteuid() == 0;
  if (root ? mount("tmpfs", locked, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, "size=64k") != 0
           : chmod(locked, 0555) != 0) {
    fprintf(stderr, "note: cannot make %s read-only (%s): the test skips\n", locked, strerror(errno));
    rmdir(locked);
    checkpointed_fit_destroy(&f);
    skip();
  }
  assert_ok(dcnn_trainer_set_checkpoint_dir(f.t, locked));
  const dcnn_status status = dcnn_trainer_fit(f.t, f.train, f.val, f.pipe);
  char message[1024];
  snprintf(message, sizeof message, "%s", dcnn_last_error());
  assert_int_equal(root ? umount(locked) : chmod(locked, 0755), 0);
  assert_int_equal(rmdir(locked), 0);
  assert_int_equal(status, DCNN_ERR_IO);
  assert_non_null(strstr(message, "locked: the checkpoint directory of dcnn_trainer_fit cannot take files: "));
  assert_non_null(strstr(message, root ? "Read-only file system" : "Permission denied"));
  assert_int_equal(dcnn_trainer_epochs_done(f.t), 0);
  assert_int_equal(dcnn_model_step_count(f.m), 0);
  checkpointed_fit_destroy(&f);
}

static void kill_after_first_chunk(const char *temp, size_t written, size_t total) {
  (void)temp;
  (void)written;
  (void)total;
  raise(SIGKILL);
}

/* Saves a larger model to path in a child killed after the first chunk, as a
 * crash would: "<path>.dcnn-partial-XXXXXX" stays behind. */
static void kill_a_save_midway(const char *path) {
  fflush(NULL);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    dcnn__atomic_write_hook = kill_after_first_chunk;
    dcnn_model *paper = NULL;
    if (dcnn_zoo_paper_cnn(NULL, test_zoo(28, 28, 1, 10, 1), &paper) != DCNN_OK) _exit(1);
    (void)dcnn_model_save(paper, path);
    _exit(2);
  }
  assert_int_equal(child_result(pid), 128 + SIGKILL);
}

static void set_age(const char *path, int seconds) {
  struct timespec times[2];
  clock_gettime(CLOCK_REALTIME, &times[0]);
  times[0].tv_sec -= seconds;
  times[1] = times[0];
  assert_int_equal(utimensat(AT_FDCWD, path, times, 0), 0);
}

/* A save killed midway leaves "<path>.dcnn-partial-XXXXXX"; the next save of the
 * same path removes it once it is stale (no writer holds its lock). Live
 * writers' files, fresh files and other names are kept. */
static void stale_temporary_files_are_removed_by_the_next_save(void **state) {
  (void)state;
  const char *dir = scratch("stale");
  char path[600], other[700], fresh[700], live[700], unrelated[700], lookalike[700];
  snprintf(path, sizeof path, "%s/last.dcnn", dir);
  dcnn_model *m = small_cnn(NULL, 0);
  assert_ok(dcnn_model_save(m, path));
  for (int k = 0; k < 3; ++k) kill_a_save_midway(path);
  assert_int_equal(entries(dir), 4); /* the model and three partial files */
  DIR *d = opendir(dir);
  for (struct dirent *e; (e = readdir(d)) != NULL;) {
    if (e->d_name[0] == '.' || !strcmp(e->d_name, "last.dcnn")) continue;
    char full[900];
    snprintf(full, sizeof full, "%s/%s", dir, e->d_name);
    set_age(full, 60);
  }
  closedir(d);
  /* Same pattern but fresh, or locked by a live writer; and a user's file. */
  snprintf(fresh, sizeof fresh, "%s.dcnn-partial-Fresh1", path);
  snprintf(live, sizeof live, "%s.dcnn-partial-Live12", path);
  snprintf(unrelated, sizeof unrelated, "%s.backup", path);
  snprintf(other, sizeof other, "%s/best.dcnn.dcnn-partial-Other1", dir);
  /* a user's name of the form the library once used for its own ("<path>.partial-" and six letters) */
  snprintf(lookalike, sizeof lookalike, "%s.partial-backup", path);
  const char *keep[5] = {fresh, live, unrelated, other, lookalike};
  for (int k = 0; k < 5; ++k) {
    FILE *f = fopen(keep[k], "w");
    assert_non_null(f);
    fclose(f);
    if (k) set_age(keep[k], 60);
  }
  int lock_fd = open(live, O_RDONLY);
  assert_true(lock_fd >= 0);
  assert_int_equal(flock(lock_fd, LOCK_EX), 0);

  assert_ok(dcnn_model_save(m, path));
  assert_int_equal(entries(dir), 6); /* last.dcnn and the five kept */
  for (int k = 0; k < 5; ++k) assert_int_equal(access(keep[k], F_OK), 0);
  close(lock_fd);
  dcnn_model *loaded = NULL;
  assert_ok(dcnn_model_load(NULL, path, &loaded));
  dcnn_model_destroy(loaded);
  dcnn_model_destroy(m);
  remove_dir(dir);
}

/* Names up to the file system's limit (255 bytes) save, although
 * "<name>.dcnn-partial-XXXXXX" would pass it: the temporary name is cut (at a
 * UTF-8 character's boundary), and a killed save's cut temporary file is
 * still found and removed by the next save. */
static void saves_to_names_at_the_length_limit(void **state) {
  (void)state;
  const char *dir = scratch("longnames");
  dcnn_model *m = small_cnn(NULL, 0);
  for (int k = 0; k < 3; ++k) {
    char name[256], path[1024];
    const int length = k == 0 ? 240 : 255;
    /* k 2: "a" and 127 "é"s, so that the cut at 240 bytes falls inside an "é" */
    for (int i = 0; i < length; ++i) name[i] = k < 2 || i == 0 ? 'm' : i % 2 ? (char)0xC3 : (char)0xA9;
    name[length] = '\0';
    snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_ok(dcnn_model_save(m, path));
    if (k == 1) { /* a save killed midway, made stale: the next save removes its cut temporary file */
      kill_a_save_midway(path);
      assert_int_equal(entries(dir), 3);
      DIR *d = opendir(dir);
      for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (!strstr(e->d_name, ".dcnn-partial-")) continue;
        assert_int_equal(strlen(e->d_name), 255);
        char full[1024];
        snprintf(full, sizeof full, "%s/%s", dir, e->d_name);
        set_age(full, 60);
      }
      closedir(d);
      assert_ok(dcnn_model_save(m, path));
      assert_int_equal(entries(dir), 2);
    }
    dcnn_model *loaded = NULL;
    assert_ok(dcnn_model_load(NULL, path, &loaded));
    dcnn_model_destroy(loaded);
  }
  assert_int_equal(entries(dir), 3);
  /* A name past the limit is refused before anything is written (once only its rename failed). */
  char name[300], path[1024];
  memset(name, 'n', 256);
  name[256] = '\0';
  snprintf(path, sizeof path, "%s/%s", dir, name);
  assert_status(dcnn_model_save(m, path), DCNN_ERR_IO);
  assert_error_mentions("File name too long");
  assert_null(strstr(dcnn_last_error(), "write failed")); /* not after writing the whole file */
  assert_int_equal(entries(dir), 3);
  dcnn_model_destroy(m);
  remove_dir(dir);
}

/* ---- 3. allocation failure everywhere ---- */

/* Runs `op` with every allocation after the first n failing, for n = 0, 1,
 * ... until it succeeds: each failure must be DCNN_ERR_OUT_OF_MEMORY, leave
 * no allocation behind (in `ctx` and the default context) and pass `check`. */
typedef dcnn_status (*operation)(void *user);
static int sweep(const char *what, dcnn_context *ctx, operation op, void (*check)(void *user), void *user) {
  for (int64_t n = 0; n < 100000; ++n) {
    const int64_t live = dcnn_context_live_allocations(ctx), live_default = dcnn_context_live_allocations(NULL);
    dcnn__fail_allocations_after(n);
    const dcnn_status st = op(user);
    dcnn__fail_allocations_after(-1);
    if (st == DCNN_OK) return (int)n;
    if (st != DCNN_ERR_OUT_OF_MEMORY)
      fail_msg("%s with allocation %lld failing: %s: %s", what, (long long)n, dcnn_status_str(st), dcnn_last_error());
    if (dcnn_context_live_allocations(ctx) != live || dcnn_context_live_allocations(NULL) != live_default)
      fail_msg("%s with allocation %lld failing leaks: %lld then %lld live (default context %lld then %lld)", what,
               (long long)n, (long long)live, (long long)dcnn_context_live_allocations(ctx), (long long)live_default,
               (long long)dcnn_context_live_allocations(NULL));
    if (check) check(user);
  }
  fail_msg("%s never succeeded", what);
  return -1;
}

typedef struct load_job {
  dcnn_context *ctx;
  const char *path, *labels;
  dcnn_model *model;
  dcnn_dataset *data;
} load_job;

static dcnn_status load_model(void *user) {
  load_job *j = user;
  return dcnn_model_load(j->ctx, j->path, &j->model);
}

static void no_model(void *user) { assert_null(((load_job *)user)->model); }

static void model_load_survives_every_allocation_failure(void **state) {
  (void)state;
  const char *dir = scratch("oom-load");
  char path[600];
  snprintf(path, sizeof path, "%s/model.dcnn", dir);
  dcnn_context *ctx = test_context(1);
  dcnn_model *m = small_cnn(ctx, 1);
  assert_ok(dcnn_model_set_metadata(m, "note", "kept"));
  assert_ok(dcnn_model_save(m, path));
  dcnn_model_destroy(m);
  load_job j = {ctx, path, NULL, NULL, NULL};
  const int64_t layer_allocations = dcnn_context_allocation_count(NULL);
  const int needed = sweep("model load", ctx, load_model, no_model, &j);
  /* Layers (created before they join a model) come from the default context,
   * which the sweep reaches: at least a handle and a state per layer. */
  assert_true(dcnn_context_allocation_count(NULL) - layer_allocations >= 2 * (int64_t)dcnn_model_layer_count(j.model));
  assert_true(needed > 10); /* layers, tensors and metadata were all reached */
  assert_string_equal(dcnn_model_metadata(j.model, "note"), "kept");
  dcnn_model_destroy(j.model);
  assert_int_equal(dcnn_context_live_allocations(ctx), 0);
  dcnn_context_destroy(ctx);
  remove_dir(dir);
}

/* A model with a residual block (two ReLUs and a dense shortcut), built by
 * hand: every failure frees what was made, each layer once. */
static dcnn_status build_residual_model(void *user) {
  dcnn_model **out = user;
  *out = NULL;
  dcnn_layer *body[2] = {NULL, NULL}, *shortcut = NULL, *block = NULL;
  dcnn_status s = dcnn_relu_create(&body[0]);
  if (s == DCNN_OK) s = dcnn_relu_create(&body[1]);
  if (s == DCNN_OK) s = dcnn_dense_create(4, DCNN_WITH_BIAS, &shortcut);
  if (s != DCNN_OK) {
    dcnn_layer_destroy(body[0]);
    dcnn_layer_destroy(body[1]);
    return s;
  }
  DCNN_TRY(dcnn_residual_create(body, 2, &shortcut, 1, DCNN_RESIDUAL_RELU, &block)); /* it owns them now */
  const dcnn_shape in = dcnn_shape_make(1, 4, 0, 0, 0);
  dcnn_model *m = NULL;
  s = dcnn_model_create(NULL, &in, &m);
  if (s != DCNN_OK) {
    dcnn_layer_destroy(block);
    return s;
  }
  s = dcnn_model_add(m, block); /* the model owns it now, also on failure */
  if (s != DCNN_OK) {
    dcnn_model_destroy(m);
    return s;
  }
  *out = m;
  return DCNN_OK;
}

static void no_built_model(void *user) { assert_null(*(dcnn_model **)user); }

/* Residual blocks under allocation failure, made by hand and loaded from a
 * file: a failed dcnn_layer_create once freed the block twice. */
static void residual_blocks_survive_every_allocation_failure(void **state) {
  (void)state;
  dcnn_model *m = NULL;
  sweep("residual model", NULL, build_residual_model, no_built_model, &m);
  assert_int_equal(dcnn_model_layer_count(m), 1);
  const char *dir = scratch("oom-residual");
  char path[600];
  snprintf(path, sizeof path, "%s/model.dcnn", dir);
  assert_ok(dcnn_model_save(m, path));
  dcnn_model_destroy(m);
  dcnn_context *ctx = test_context(1);
  load_job j = {ctx, path, NULL, NULL, NULL};
  sweep("residual model load", ctx, load_model, no_model, &j);
  assert_int_equal(dcnn_model_layer_count(j.model), 1);
  dcnn_model_destroy(j.model);
  assert_int_equal(dcnn_context_live_allocations(ctx), 0);
  dcnn_context_destroy(ctx);
  remove_dir(dir);
}

static dcnn_status load_idx(void *user) {
  load_job *j = user;
  return dcnn_dataset_load_idx(j->ctx, j->path, j->labels, 10, &j->data);
}

static void no_dataset(void *user) { assert_null(((load_job *)user)->data); }

static void write_bytes(const char *path, const uint8_t *data, size_t size) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, size, f), size);
  fclose(f);
}

static void dataset_load_survives_every_allocation_failure(void **state) {
  (void)state;
  const char *dir = scratch("oom-data");
  char images[600], labels[600];
  snprintf(images, sizeof images, "%s/images.idx", dir);
  snprintf(labels, sizeof labels, "%s/labels.idx", dir);
  static uint8_t image_file[16 + 12 * 28 * 28];
  uint8_t label_file[8 + 12] = {0, 0, 8, 1, 0, 0, 0, 12};
  const uint8_t header[16] = {0, 0, 8, 3, 0, 0, 0, 12, 0, 0, 0, 28, 0, 0, 0, 28};
  memcpy(image_file, header, sizeof header);
  for (size_t i = 16; i < sizeof image_file; ++i) image_file[i] = (uint8_t)(i * 7);
  for (int i = 0; i < 12; ++i) label_file[8 + i] = (uint8_t)(i % 10);
  write_bytes(images, image_file, sizeof image_file);
  write_bytes(labels, label_file, sizeof label_file);
  dcnn_context *ctx = test_context(1);
  load_job j = {ctx, images, labels, NULL, NULL};
  sweep("IDX dataset load", ctx, load_idx, no_dataset, &j);
  assert_int_equal(dcnn_dataset_count(j.data), 12);
  dcnn_dataset_destroy(j.data);
  assert_int_equal(dcnn_context_live_allocations(ctx), 0);
  dcnn_context_destroy(ctx);
  remove_dir(dir);
}

typedef struct step_job {
  dcnn_context *ctx;
  dcnn_model *model;
  dcnn_optimizer *optimizer;
  dcnn_tensor *x;
  float *initial;
  size_t count;
} step_job;

static dcnn_status first_step(void *user) {
  step_job *j = user;
  const int32_t labels[4] = {0, 1, 1, 0};
  return dcnn_model_train_step(j->model, j->optimizer, j->x, labels, NULL, NULL);
}

/* After a failed first step: the weights are as initialised; then a fresh
 * model and optimizer for the next attempt (their own allocations are
 * released, so the sweep's leak check covers only the step). */
static void weights_unchanged_then_renew(void *user) {
  step_job *j = user;
  size_t n = 0;
  float *now = weights(j->model, &n);
  assert_int_equal(n, j->count);
  assert_memory_equal(now, j->initial, n * sizeof(float));
  free(now);
}

static void first_training_step_survives_every_allocation_failure(void **state) {
  (void)state;
  dcnn_context *ctx = test_context(1);
  step_job j = {ctx, NULL, NULL, NULL, NULL, 0};
  dcnn_shape s = dcnn_shape_make(4, 4, 1, 6, 6);
  assert_ok(dcnn_tensor_create(ctx, &s, &j.x));
  assert_ok(dcnn_tensor_fill_random(j.x, DCNN_DIST_UNIFORM, 0.0f, 1.0f, 1, 0));
  /* One model for the whole sweep: a failed step may keep what it planned
   * (that is the model's memory, not a leak), so each attempt is compared
   * with the counts just before it, as the sweep does. */
  j.model = small_cnn(ctx, 1);
  assert_ok(dcnn_optimizer_create_adam(ctx, 1e-3f, 0.9f, 0.999f, 1e-7f, 0.0f, &j.optimizer));
  j.initial = weights(j.model, &j.count);
  const int64_t before_ctx = dcnn_context_allocation_count(ctx);
  int needed = 0;
  for (int64_t n = 0; n < 100000; ++n) {
    dcnn__fail_allocations_after(n);
    const dcnn_status st = first_step(&j);
    dcnn__fail_allocations_after(-1);
    if (st == DCNN_OK) {
      needed = (int)n;
      break;
    }
    if (st != DCNN_ERR_OUT_OF_MEMORY) fail_msg("first step, allocation %lld failing: %s", (long long)n, dcnn_last_error());
    weights_unchanged_then_renew(&j);
  }
  assert_true(needed > 0 && dcnn_context_allocation_count(ctx) > before_ctx);
  size_t n = 0;
  float *now = weights(j.model, &n);
  assert_memory_not_equal(now, j.initial, n * sizeof(float)); /* the step that succeeded did update */
  free(now);
  free(j.initial);
  dcnn_optimizer_destroy(j.optimizer);
  dcnn_model_destroy(j.model);
  dcnn_tensor_destroy(j.x);
  assert_int_equal(dcnn_context_live_allocations(ctx), 0);
  dcnn_context_destroy(ctx);
}

/* One trainer for a_failed_step_is_never_applied: the weight average on. */
static dcnn_trainer *averaging_trainer(dcnn_context *ctx, dcnn_model **m, dcnn_optimizer **o) {
  *m = small_cnn(ctx, 0);
  *o = NULL;
  assert_ok(dcnn_optimizer_create_adam(ctx, 1e-2f, 0.9f, 0.999f, 1e-7f, 0.0f, o));
  dcnn_trainer *t = NULL;
  assert_ok(dcnn_trainer_create(ctx, *m, *o, &t));
  assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_EPOCHS, 1));
  assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_BATCH_SIZE, 8));
  assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_AUGMENT, 0));
  assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_EMA_DECAY, 0.9));
  return t;
}

/* A fit with the weight average, each allocation in turn failing: the step
 * that fails is never applied, so fitting again ends where a fit without
 * the failure does (the average's buffer was taken after the step was
 * committed: one step ran twice). */
static void a_failed_step_is_never_applied(void **state) {
  (void)state;
  dcnn_context *ctx = test_context(1);
  dcnn_dataset *train = test_halves(32);
  dcnn_pipeline *pipe = NULL;
  assert_ok(dcnn_pipeline_create(NULL, &pipe));
  dcnn_model *m = NULL;
  dcnn_optimizer *o = NULL;
  dcnn_trainer *t = averaging_trainer(ctx, &m, &o);
  assert_ok(dcnn_trainer_fit(t, train, NULL, pipe));
  const int64_t steps = dcnn_model_step_count(m);
  size_t count = 0;
  float *reference = weights(m, &count);
  dcnn_trainer_destroy(t);
  dcnn_optimizer_destroy(o);
  dcnn_model_destroy(m);
  int failures = 0;
  for (int64_t n = 0; n < 100000; ++n) {
    t = averaging_trainer(ctx, &m, &o);
    dcnn__fail_allocations_after(n);
    const dcnn_status st = dcnn_trainer_fit(t, train, NULL, pipe);
    dcnn__fail_allocations_after(-1);
    if (st != DCNN_OK) {
      if (st != DCNN_ERR_OUT_OF_MEMORY) fail_msg("allocation %lld failing: %s", (long long)n, dcnn_last_error());
      ++failures;
      char failed[1024];
      snprintf(failed, sizeof failed, "%s", dcnn_last_error());
      /* continues where the failure left it; one after the epoch (recording the metadata) is done */
      if (dcnn_trainer_epochs_done(t) == 0) assert_ok(dcnn_trainer_fit(t, train, NULL, pipe));
      if (dcnn_model_step_count(m) != steps)
        fail_msg("allocation %lld failing (%s): %lld steps, not %lld", (long long)n, failed,
                 (long long)dcnn_model_step_count(m), (long long)steps);
      assert_int_equal(dcnn_model_step_count(m), steps);
      float *now = weights(m, &count);
      assert_memory_equal(now, reference, count * sizeof(float));
      free(now);
    }
    dcnn_trainer_destroy(t);
    dcnn_optimizer_destroy(o);
    dcnn_model_destroy(m);
    if (st == DCNN_OK) break;
  }
  assert_true(failures > 0);
  free(reference);
  dcnn_pipeline_destroy(pipe);
  dcnn_dataset_destroy(train);
  dcnn_context_destroy(ctx);
}

/* Everything of a trainer that a resume changes, copied. */
typedef struct trainer_state {
  float *weights;
  size_t count;
  float *moments;
  size_t moment_count;
  int32_t epochs_done, best_epoch;
  int64_t model_steps, optimizer_steps;
  uint64_t model_seed;
  double options[TRAIN_OPTIONS];
  dcnn_epoch_stats history[8];
  char training[512];
  int32_t metadata_count;
  float learning_rate;
} trainer_state;

static void capture(dcnn_trainer *t, trainer_state *s) {
  memset(s, 0, sizeof *s);
  s->weights = weights(t->model, &s->count);
  const dcnn_optimizer *o = t->optimizer;
  size_t total = 0;
  for (int32_t i = 0; o->model_id && i < o->param_count; ++i)
    total += (size_t)(o->first[i] ? o->first[i]->count : 0) + (size_t)(o->second[i] ? o->second[i]->count : 0);
  s->moments = malloc((total ? total : 1) * sizeof(float));
  float *at = s->moments;
  for (int32_t i = 0; o->model_id && i < o->param_count; ++i)
    for (int k = 0; k < 2; ++k) {
      const dcnn_tensor *m = k ? o->second[i] : o->first[i];
      if (!m) continue;
      memcpy(at, m->data, (size_t)m->count * sizeof(float));
      at += m->count;
    }
  s->moment_count = total;
  s->epochs_done = t->epochs_done;
  s->best_epoch = t->best_epoch;
  s->model_steps = t->model->steps;
  s->model_seed = t->model->seed;
  s->optimizer_steps = o->steps;
  s->learning_rate = o->learning_rate;
  memcpy(s->options, t->options, sizeof s->options);
  for (int32_t e = 0; e < t->epochs_done && e < 8; ++e) s->history[e] = t->history[e];
  const char *training = dcnn_model_metadata(t->model, "training");
  snprintf(s->training, sizeof s->training, "%s", training ? training : "");
  s->metadata_count = dcnn_model_metadata_count(t->model);
}

static void assert_same_state(const trainer_state *a, const trainer_state *b) {
  assert_int_equal(a->count, b->count);
  assert_memory_equal(a->weights, b->weights, a->count * sizeof(float));
  assert_int_equal(a->moment_count, b->moment_count);
  assert_memory_equal(a->moments, b->moments, a->moment_count * sizeof(float));
  assert_int_equal(a->epochs_done, b->epochs_done);
  assert_int_equal(a->best_epoch, b->best_epoch);
  assert_int_equal(a->model_steps, b->model_steps);
  assert_int_equal(a->model_seed, b->model_seed);
  assert_int_equal(a->optimizer_steps, b->optimizer_steps);
  assert_true(a->learning_rate == b->learning_rate);
  assert_memory_equal(a->options, b->options, sizeof a->options);
  assert_memory_equal(a->history, b->history, sizeof a->history);
  assert_string_equal(a->training, b->training);
  assert_int_equal(a->metadata_count, b->metadata_count);
}

static void release_state(trainer_state *s) {
  free(s->weights);
  free(s->moments);
}

typedef struct resume_job {
  dcnn_trainer *trainer;
  const char *path;
  trainer_state before;
} resume_job;

static dcnn_status resume(void *user) {
  resume_job *j = user;
  return dcnn_trainer_resume(j->trainer, j->path);
}

static void trainer_unchanged(void *user) {
  resume_job *j = user;
  trainer_state now;
  capture(j->trainer, &now);
  assert_same_state(&j->before, &now);
  release_state(&now);
}

/* A trainer with a history: `epochs` epochs of SGD with momentum from `seed`. */
static dcnn_trainer *trained(dcnn_context *ctx, uint64_t seed, int32_t epochs, const char *checkpoints,
                             const dcnn_dataset *data, dcnn_pipeline *pipe) {
  dcnn_model *m = small_cnn(ctx, 1);
  assert_ok(dcnn_model_init(m, seed));
  dcnn_optimizer *o = NULL;
  assert_ok(dcnn_optimizer_create_sgd(ctx, 0.01f, 0.9f, DCNN_MOMENTUM_CLASSIC, 0.0f, &o));
  dcnn_trainer *t = NULL;
  assert_ok(dcnn_trainer_create(ctx, m, o, &t));
  assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_EPOCHS, epochs));
  assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_BATCH_SIZE, 8));
  assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_AUGMENT, 0));
  assert_ok(dcnn_trainer_set_seed(t, seed));
  if (checkpoints) assert_ok(dcnn_trainer_set_checkpoint_dir(t, checkpoints));
  assert_ok(dcnn_trainer_fit(t, data, data, pipe));
  return t;
}

static void destroy_trained(dcnn_trainer *t) {
  dcnn_model *m = t->model;
  dcnn_optimizer *o = t->optimizer;
  dcnn_trainer_destroy(t);
  dcnn_optimizer_destroy(o);
  dcnn_model_destroy(m);
}

/* A resume that fails — a truncated or corrupt checkpoint, or any allocation
 * failing — leaves the trainer, its optimizer and the model exactly as they
 * were, and leaks nothing. */
static void a_failed_resume_leaves_the_trainer_untouched(void **state) {
  (void)state;
  const char *dir = scratch("resume");
  char last[600], broken[600];
  snprintf(last, sizeof last, "%s/last.dcnn", dir);
  snprintf(broken, sizeof broken, "%s/broken.dcnn", dir);
  dcnn_context *ctx = test_context(1);
  dcnn_dataset *data = test_halves(32);
  dcnn_pipeline *pipe = NULL;
  assert_ok(dcnn_pipeline_create(ctx, &pipe));
  dcnn_trainer *source = trained(ctx, 1, 2, dir, data, pipe);
  resume_job j = {trained(ctx, 9, 1, NULL, data, pipe), last, {0}};
  assert_ok(dcnn_model_set_metadata(j.trainer->model, "only_here", "x"));
  capture(j.trainer, &j.before);

  size_t size = 0;
  uint8_t *bytes = read_all(last, &size);
  for (size_t cut = 0; cut < size; cut += size / 7 + 1) {
    write_bytes(broken, bytes, cut);
    j.path = broken;
    assert_true(resume(&j) != DCNN_OK);
    trainer_unchanged(&j);
  }
  bytes[size - 40] ^= 0x55; /* corrupt (its section's CRC catches it) */
  write_bytes(broken, bytes, size);
  assert_true(resume(&j) != DCNN_OK);
  trainer_unchanged(&j);
  free(bytes);

  j.path = last;
  const int needed = sweep("checkpoint resume", ctx, resume, trainer_unchanged, &j);
  assert_true(needed > 5);
  /* The successful resume did take the checkpoint, and kept the trainer's own metadata. */
  assert_int_equal(dcnn_trainer_epochs_done(j.trainer), 2);
  assert_string_equal(dcnn_model_metadata(j.trainer->model, "only_here"), "x");
  trainer_state resumed, original;
  capture(j.trainer, &resumed);
  capture(source, &original); /* its optimizer as saved (its weights may be the best epoch's since) */
  assert_memory_equal(resumed.moments, original.moments, resumed.moment_count * sizeof(float));
  dcnn_model *saved = NULL;
  assert_ok(dcnn_model_load(ctx, last, &saved));
  size_t count = 0;
  float *expected = weights(saved, &count);
  assert_int_equal(count, resumed.count);
  assert_memory_equal(resumed.weights, expected, count * sizeof(float));
  free(expected);
  dcnn_model_destroy(saved);
  release_state(&resumed);
  release_state(&original);

  release_state(&j.before);
  destroy_trained(j.trainer);
  destroy_trained(source);
  dcnn_pipeline_destroy(pipe);
  dcnn_dataset_destroy(data);
  assert_int_equal(dcnn_context_live_allocations(ctx), 0);
  dcnn_context_destroy(ctx);
  remove_dir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(huge_learning_rate_is_refused_with_weights_kept),
      cmocka_unit_test(non_finite_gradient_leaves_weights_untouched),
      cmocka_unit_test(optimizer_step_refusal_says_what_is_kept),
      cmocka_unit_test(optimizer_follows_layer_changes),
      cmocka_unit_test(fast_path_refuses_overflowing_updates),
      cmocka_unit_test(fast_path_bounds_adams_product_before_the_division),
      cmocka_unit_test(fast_path_writes_what_the_check_path_writes),
      cmocka_unit_test(diverging_fit_keeps_checkpoints),
      cmocka_unit_test(best_model_is_written_before_the_checkpoint),
      cmocka_unit_test(a_failed_best_file_is_written_at_the_next_epoch),
      cmocka_unit_test(out_of_memory_for_the_best_copy_records_no_best_epoch),
      cmocka_unit_test(file_size_limit_is_an_error),
      cmocka_unit_test(process_xfsz_is_not_swallowed),
      cmocka_unit_test(temporary_file_is_close_on_exec),
      cmocka_unit_test_setup_teardown(outputs_keep_the_replaced_mode_or_follow_the_umask, keep_umask, restore_umask),
      cmocka_unit_test(saves_write_through_links_and_refuse_special_files),
      cmocka_unit_test(long_paths_keep_the_name_and_the_reason),
      cmocka_unit_test(errors_name_their_file_whole),
      cmocka_unit_test(a_later_fit_resumes_with_its_own_plan),
      cmocka_unit_test(an_interrupted_epoch_keeps_its_batch_size),
      cmocka_unit_test(a_failed_step_is_never_applied),
      cmocka_unit_test(a_failed_best_file_without_a_copy_is_reported),
      cmocka_unit_test(a_missing_checkpoint_directory_fails_before_training),
      cmocka_unit_test(an_unwritable_checkpoint_directory_fails_before_training),
      cmocka_unit_test(stale_temporary_files_are_removed_by_the_next_save),
      cmocka_unit_test(saves_to_names_at_the_length_limit),
      cmocka_unit_test(model_load_survives_every_allocation_failure),
      cmocka_unit_test(residual_blocks_survive_every_allocation_failure),
      cmocka_unit_test(dataset_load_survives_every_allocation_failure),
      cmocka_unit_test(first_training_step_survives_every_allocation_failure),
      cmocka_unit_test(a_failed_resume_leaves_the_trainer_untouched),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
