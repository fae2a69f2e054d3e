/* Training numerics and operator faults: diverging training never commits
 * non-finite weights or overwrites good files, writes survive file-size
 * limits and full disks without leftovers, and every allocation failure
 * (load, resume, first step, datasets) is clean. */
#include "test_support.h"

#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "io/atomic_file.h"

/* A scratch directory for this test process. */
static const char *scratch(const char *name) {
  static char dir[512];
  snprintf(dir, sizeof dir, "%s/dcnn-faults-%d-%s", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid(), name);
  mkdir(dir, 0755);
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

/* A tiny dataset of 6x6 gray images: class = which half is bright. */
static dcnn_dataset *halves(int32_t n) {
  uint8_t px[200 * 36];
  int32_t labels[200];
  for (int32_t i = 0; i < n; ++i) {
    labels[i] = i % 2;
    for (int p = 0; p < 36; ++p)
      px[i * 36 + p] = (uint8_t)(40 * dcnn_random_uniform(1, 0, (uint64_t)(i * 36 + p)) + ((p % 6 < 3) == labels[i] ? 200 : 0));
  }
  dcnn_dataset *ds = NULL;
  assert_ok(dcnn_dataset_create(NULL, n, 6, 6, 1, px, labels, 2, &ds));
  return ds;
}

/* With batch norm, huge convolution weights still give a finite loss. */
static dcnn_model *small_cnn(dcnn_context *ctx, int batchnorm) {
  dcnn_shape in = dcnn_shape_make(3, 1, 6, 6, 0);
  dcnn_model *m = NULL;
  assert_ok(dcnn_model_create(ctx, &in, &m));
  dcnn_layer *l = NULL;
  assert_ok(dcnn_conv2d_create(4, 3, 1, DCNN_PADDING_SAME, 1, &l));
  assert_ok(dcnn_model_add(m, l));
  if (batchnorm) assert_ok(dcnn_batchnorm_relu_create(0.9f, 1e-3f, &l));
  else assert_ok(dcnn_relu_create(&l));
  assert_ok(dcnn_model_add(m, l));
  assert_ok(dcnn_flatten_create(&l));
  assert_ok(dcnn_model_add(m, l));
  assert_ok(dcnn_dense_create(2, 1, &l));
  assert_ok(dcnn_model_add(m, l));
  assert_ok(dcnn_softmax_create(&l));
  assert_ok(dcnn_model_add(m, l));
  assert_ok(dcnn_model_init(m, 3));
  return m;
}

/* All parameters and buffers, concatenated (caller frees). */
static float *weights(dcnn_model *m, size_t *count) {
  size_t n = 0;
  for (int32_t i = 0; i < dcnn_model_param_tensor_count(m); ++i) {
    dcnn_param p;
    assert_ok(dcnn_model_param(m, i, &p, NULL));
    n += (size_t)dcnn_tensor_count(p.value);
  }
  float *all = malloc(n * sizeof *all), *at = all;
  for (int32_t i = 0; i < dcnn_model_param_tensor_count(m); ++i) {
    dcnn_param p;
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
    if (kind % 2 == 0) assert_ok(dcnn_optimizer_create_sgd(NULL, 1e30f, 0.9f, 0, 0.0f, &o));
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

/* A non-finite gradient: the optimizer refuses the whole step, names the
 * parameter and writes nothing (not even to parameters before it). */
static void non_finite_gradient_leaves_weights_untouched(void **state) {
  (void)state;
  dcnn_model *m = small_cnn(NULL, 0);
  dcnn_optimizer *o = NULL;
  assert_ok(dcnn_optimizer_create_adam(NULL, 1e-3f, 0.9f, 0.999f, 1e-7f, 0.0f, &o));
  dcnn_shape s = dcnn_shape_make(4, 4, 1, 6, 6);
  dcnn_tensor *x = NULL;
  assert_ok(dcnn_tensor_create(NULL, &s, &x));
  assert_ok(dcnn_tensor_fill_random(x, DCNN_DIST_UNIFORM, 0.0f, 1.0f, 1, 0));
  int32_t labels[4] = {0, 1, 0, 1};
  assert_ok(dcnn_model_train_step(m, o, x, labels, NULL, NULL));
  size_t n = 0, n2 = 0;
  float *before = weights(m, &n);
  const int32_t last = dcnn_model_param_tensor_count(m) - 1;
  dcnn_param p;
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
  dcnn_tensor_destroy(x);
  dcnn_optimizer_destroy(o);
  dcnn_model_destroy(m);
}

/* fit with checkpoints, then the same trainer with a huge learning rate:
 * fit fails with DCNN_ERR_NUMERIC naming the epoch and step, best.dcnn and
 * last.dcnn stay byte-identical and loadable, the model's weights finite. */
static void diverging_fit_keeps_checkpoints(void **state) {
  (void)state;
  const char *dir = scratch("diverge");
  char last[600], best[600];
  snprintf(last, sizeof last, "%s/last.dcnn", dir);
  snprintf(best, sizeof best, "%s/best.dcnn", dir);
  dcnn_dataset *train = halves(64), *val = halves(16);
  dcnn_pipeline *pipe = NULL;
  assert_ok(dcnn_pipeline_create(NULL, &pipe));
  dcnn_model *m = small_cnn(NULL, 0);
  dcnn_optimizer *o = NULL;
  assert_ok(dcnn_optimizer_create_sgd(NULL, 0.01f, 0.9f, 0, 0.0f, &o));
  dcnn_trainer *t = NULL;
  assert_ok(dcnn_trainer_create(NULL, m, o, &t));
  assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_EPOCHS, 1));
  assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_BATCH_SIZE, 8));
  assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_AUGMENT, 0));
  assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_PROGRESS, 0));
  assert_ok(dcnn_trainer_set_checkpoint_dir(t, dir));
  assert_ok(dcnn_trainer_fit(t, train, val, pipe));
  size_t last_size = 0, best_size = 0, size = 0;
  void *last_bytes = read_all(last, &last_size), *best_bytes = read_all(best, &best_size);

  assert_ok(dcnn_optimizer_set_learning_rate(o, 1e30f));
  assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_EPOCHS, 5));
  assert_status(dcnn_trainer_fit(t, train, val, pipe), DCNN_ERR_NUMERIC);
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
  dcnn_param p;
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
  dcnn_trainer_destroy(t);
  dcnn_optimizer_destroy(o);
  dcnn_model_destroy(m);
  dcnn_pipeline_destroy(pipe);
  dcnn_dataset_destroy(train);
  dcnn_dataset_destroy(val);
  remove_dir(dir);
}


/* ---- 2. operator faults: file size limits, stale temporary files ---- */

/* Returns the child's exit code, or 128 + the signal that ended it. */
static int child_result(pid_t pid) {
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
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
  fflush(NULL);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    struct rlimit limit = {100000, 100000};
    if (setrlimit(RLIMIT_FSIZE, &limit) != 0) _exit(10);
    size_t size = 1u << 20;
    char *big = calloc(size, 1);
    if (dcnn__write_file_atomic(path, big, size) != DCNN_ERR_IO) _exit(11);
    if (!strstr(dcnn_last_error(), "file size limit")) _exit(12);
    /* A model: through the public API as well. */
    dcnn_model *paper = NULL;
    if (dcnn_zoo_paper_cnn(NULL, 1, 28, 28, 10, 1, &paper) != DCNN_OK) _exit(13);
    if (dcnn_model_save(paper, path) != DCNN_ERR_IO) _exit(14);
    sigset_t mask;
    pthread_sigmask(SIG_BLOCK, NULL, &mask);
    if (sigismember(&mask, SIGXFSZ)) _exit(15); /* the thread's mask is back as it was */
    free(big);
    dcnn_model_destroy(paper);
    _exit(0);
  }
  assert_int_equal(child_result(pid), 0);
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

static void kill_after_first_chunk(const char *temp, size_t written, size_t total) {
  (void)temp;
  (void)written;
  (void)total;
  raise(SIGKILL);
}

static void set_age(const char *path, int seconds) {
  struct timespec times[2];
  clock_gettime(CLOCK_REALTIME, &times[0]);
  times[0].tv_sec -= seconds;
  times[1] = times[0];
  assert_int_equal(utimensat(AT_FDCWD, path, times, 0), 0);
}

/* A save killed midway leaves "<path>.partial-XXXXXX"; the next save of the
 * same path removes it once it is stale (no writer holds its lock). Live
 * writers' files, fresh files and other names are kept. */
static void stale_temporary_files_are_removed_by_the_next_save(void **state) {
  (void)state;
  const char *dir = scratch("stale");
  char path[600], other[700], fresh[700], live[700], unrelated[700];
  snprintf(path, sizeof path, "%s/last.dcnn", dir);
  dcnn_model *m = small_cnn(NULL, 0);
  assert_ok(dcnn_model_save(m, path));
  for (int k = 0; k < 3; ++k) {
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
      dcnn__atomic_write_hook = kill_after_first_chunk;
      dcnn_model *paper = NULL;
      if (dcnn_zoo_paper_cnn(NULL, 1, 28, 28, 10, 1, &paper) != DCNN_OK) _exit(1);
      (void)dcnn_model_save(paper, path);
      _exit(2);
    }
    assert_int_equal(child_result(pid), 128 + SIGKILL);
  }
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
  snprintf(fresh, sizeof fresh, "%s.partial-Fresh1", path);
  snprintf(live, sizeof live, "%s.partial-Live12", path);
  snprintf(unrelated, sizeof unrelated, "%s.backup", path);
  snprintf(other, sizeof other, "%s/best.dcnn.partial-Other1", dir);
  const char *keep[4] = {fresh, live, unrelated, other};
  for (int k = 0; k < 4; ++k) {
    FILE *f = fopen(keep[k], "w");
    assert_non_null(f);
    fclose(f);
    if (k) set_age(keep[k], 60);
  }
  int lock_fd = open(live, O_RDONLY);
  assert_true(lock_fd >= 0);
  assert_int_equal(flock(lock_fd, LOCK_EX), 0);

  assert_ok(dcnn_model_save(m, path));
  assert_int_equal(entries(dir), 5); /* last.dcnn and the four kept */
  for (int k = 0; k < 4; ++k) assert_int_equal(access(keep[k], F_OK), 0);
  close(lock_fd);
  dcnn_model *loaded = NULL;
  assert_ok(dcnn_model_load(NULL, path, &loaded));
  dcnn_model_destroy(loaded);
  dcnn_model_destroy(m);
  remove_dir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(huge_learning_rate_is_refused_with_weights_kept),
      cmocka_unit_test(non_finite_gradient_leaves_weights_untouched),
      cmocka_unit_test(diverging_fit_keeps_checkpoints),
      cmocka_unit_test(file_size_limit_is_an_error),
      cmocka_unit_test(stale_temporary_files_are_removed_by_the_next_save),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
