/* Results depend on the configured thread count only: a 2-thread context gives
 * bit-identical predictions and trained weights whatever team the OpenMP
 * runtime grants (a thread limit, dynamic adjustment, no active levels, a
 * caller's own parallel region) and whatever OpenBLAS's thread count is set
 * to after the first use.
 *
 * The environment variables OMP_THREAD_LIMIT and OMP_DYNAMIC are read once
 * when the runtime starts, so those cases re-execute this binary with
 * `--run` and the variable set; the child writes its raw results to a pipe. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cblas.h>
#include <omp.h>

#include "test_support.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANITIZED 1
#endif
#endif

#define THREADS 2
#define PREDICT_BATCH 16 /* the second conv layer has 8 image groups of 2: two lanes */
#define TRAIN_BATCH 16
#define TRAIN_STEPS 2
#define CLASSES 10

/* Outputs of one run: predictions of the fresh model, then every parameter
 * after the training steps, then predictions of the trained model. */
typedef struct run_result {
  float *values;
  int64_t count;
} run_result;

static int64_t expected_count;

#define RUN_TRY(call)               \
  do {                              \
    if ((call) != DCNN_OK) goto out; \
  } while (0)

/* Builds everything from scratch so that concurrent runs share nothing. */
static int run_once(run_result *r) {
  int ok = 0;
  dcnn_context *ctx = NULL;
  dcnn_model *model = NULL;
  dcnn_optimizer *opt = NULL;
  dcnn_tensor *x = NULL, *y = NULL, *tx = NULL;
  int32_t labels[TRAIN_BATCH];
  r->values = NULL;
  r->count = 0;
  RUN_TRY(dcnn_context_create(&ctx));
  RUN_TRY(dcnn_context_set_threads(ctx, THREADS));
  RUN_TRY(dcnn_zoo_paper_cnn(ctx, test_zoo(28, 28, 1, CLASSES, 7), &model));
  RUN_TRY(dcnn_optimizer_create_sgd(ctx, 0.05f, 0.9f, DCNN_MOMENTUM_CLASSIC, 0.0f, &opt));
  dcnn_shape xs = dcnn_shape_make(4, PREDICT_BATCH, 1, 28, 28), ys = dcnn_shape_make(2, PREDICT_BATCH, CLASSES, 0, 0);
  dcnn_shape ts = dcnn_shape_make(4, TRAIN_BATCH, 1, 28, 28);
  RUN_TRY(dcnn_tensor_create(ctx, &xs, &x));
  RUN_TRY(dcnn_tensor_create(ctx, &ys, &y));
  RUN_TRY(dcnn_tensor_create(ctx, &ts, &tx));
  RUN_TRY(dcnn_tensor_fill_random(x, DCNN_DIST_UNIFORM, 0.0f, 1.0f, 11, 0));
  RUN_TRY(dcnn_tensor_fill_random(tx, DCNN_DIST_UNIFORM, 0.0f, 1.0f, 12, 0));
  for (int32_t i = 0; i < TRAIN_BATCH; ++i) labels[i] = (i * 7) % CLASSES;
  const int64_t params = dcnn_model_param_count(model, DCNN_PARAM_TRAINABLE | DCNN_PARAM_BUFFER);
  const int64_t outputs = (int64_t)PREDICT_BATCH * CLASSES;
  r->values = malloc((size_t)(2 * outputs + params) * sizeof(float));
  if (!r->values) goto out;
  RUN_TRY(dcnn_model_predict(model, x, y));
  memcpy(r->values, dcnn_tensor_data_const(y), (size_t)outputs * sizeof(float));
  for (int step = 0; step < TRAIN_STEPS; ++step)
    RUN_TRY(dcnn_model_train_step(model, opt, tx, labels, NULL, NULL));
  int64_t at = outputs;
  for (int32_t i = 0; i < dcnn_model_param_tensor_count(model); ++i) {
    dcnn_param p = DCNN_STRUCT_INIT(dcnn_param);
    RUN_TRY(dcnn_model_param(model, i, &p, NULL));
    const int64_t n = dcnn_tensor_count(p.value);
    if (at + n > outputs + params) goto out;
    memcpy(r->values + at, dcnn_tensor_data_const(p.value), (size_t)n * sizeof(float));
    at += n;
  }
  if (at != outputs + params) goto out;
  RUN_TRY(dcnn_model_predict(model, x, y));
  memcpy(r->values + at, dcnn_tensor_data_const(y), (size_t)outputs * sizeof(float));
  r->count = at + outputs;
  ok = 1;
out:
  if (!ok) {
    free(r->values);
    r->values = NULL;
    r->count = 0;
  }
  dcnn_tensor_destroy(tx);
  dcnn_tensor_destroy(y);
  dcnn_tensor_destroy(x);
  dcnn_optimizer_destroy(opt);
  dcnn_model_destroy(model);
  dcnn_context_destroy(ctx);
  return ok;
}

static run_result reference;

static void assert_same(const run_result *got, const char *what) {
  assert_non_null(got->values);
  assert_int_equal(got->count, reference.count);
  if (memcmp(got->values, reference.values, (size_t)got->count * sizeof(float)) != 0) {
    int64_t differ = 0, first = -1;
    for (int64_t i = 0; i < got->count; ++i)
      if (memcmp(&got->values[i], &reference.values[i], sizeof(float)) != 0) {
        if (first < 0) first = i;
        ++differ;
      }
    fail_msg("%s: %lld of %lld values differ from the normal run (first at %lld: %.9g, expected %.9g)", what,
             (long long)differ, (long long)got->count, (long long)first, (double)got->values[first],
             (double)reference.values[first]);
  }
}

static int setup(void **state) {
  (void)state;
  if (!run_once(&reference)) return -1;
  expected_count = reference.count;
  return 0;
}

static int teardown(void **state) {
  (void)state;
  free(reference.values);
  return 0;
}

/* Runs this binary with `--run` and `assignment` (NAME=value) added to the
 * environment, and reads its results. */
static run_result run_child(const char *assignment) {
  extern char **environ;
  size_t n = 0;
  while (environ[n]) ++n;
  char **env = calloc(n + 2, sizeof *env);
  assert_non_null(env);
  memcpy(env, environ, n * sizeof *env);
  env[n] = (char *)assignment;
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    char *args[] = {(char *)"test_threads", (char *)"--run", NULL};
    execve("/proc/self/exe", args, env);
    _exit(127);
  }
  free(env);
  close(fds[1]);
  run_result r = {malloc((size_t)expected_count * sizeof(float)), 0};
  assert_non_null(r.values);
  size_t want = (size_t)expected_count * sizeof(float), have = 0;
  char *bytes = (char *)r.values;
  for (;;) {
    ssize_t got = read(fds[0], bytes + have, want - have);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    have += (size_t)got;
    if (have == want) break;
  }
  close(fds[0]);
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) fail_msg("child with %s failed (status %d)", assignment, status);
  assert_int_equal(have, want);
  r.count = expected_count;
  return r;
}

static void check_child(const char *assignment) {
  run_result r = run_child(assignment);
  assert_same(&r, assignment);
  free(r.values);
}

static void test_thread_limit_one(void **state) {
  (void)state;
  check_child("OMP_THREAD_LIMIT=1");
}

static void test_dynamic_teams(void **state) {
  (void)state;
  check_child("OMP_DYNAMIC=true");
}

/* No active parallel level: every region the library opens gets one thread. */
static void test_no_active_levels(void **state) {
  (void)state;
  const int before = omp_get_max_active_levels();
  omp_set_max_active_levels(0);
  run_result r;
  const int ok = run_once(&r);
  omp_set_max_active_levels(before);
  assert_true(ok);
  assert_same(&r, "max active levels 0");
  free(r.values);
}

/* A child forked after 2-thread work (the reference run) computes again:
 * GNU libgomp's pool does not survive fork, and the child hung in its first
 * region; it now runs with one thread and gives the same bits. A hang is
 * ended by alarm() and fails the test. */
static void test_forked_child_computes(void **state) {
  (void)state;
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  fflush(NULL);
  const pid_t child = fork();
  assert_true(child >= 0);
  if (child == 0) {
    close(fds[0]);
    alarm(60);
    run_result r;
    if (!run_once(&r)) _exit(3);
    const size_t bytes = (size_t)r.count * sizeof(float);
    _exit(write(fds[1], &r.count, sizeof r.count) == (ssize_t)sizeof r.count &&
                  write(fds[1], r.values, bytes) == (ssize_t)bytes
              ? 0
              : 4);
  }
  close(fds[1]);
  run_result got = {malloc((size_t)reference.count * sizeof(float)), 0};
  assert_non_null(got.values);
  FILE *in = fdopen(fds[0], "rb");
  assert_non_null(in);
  assert_int_equal(fread(&got.count, sizeof got.count, 1, in), 1);
  assert_int_equal(got.count, reference.count);
  assert_int_equal(fread(got.values, sizeof(float), (size_t)got.count, in), (size_t)got.count);
  fclose(in);
  int status = 0;
  assert_int_equal(waitpid(child, &status, 0), child);
  assert_true(WIFEXITED(status)); /* killed by SIGALRM: the child hung */
  assert_int_equal(WEXITSTATUS(status), 0);
  assert_same(&got, "a forked child");
  free(got.values);
}

/* Two models, each trained from one thread of the caller's own parallel
 * region (the library's regions are nested in it), equal one trained alone. */
static void test_caller_parallel_region(void **state) {
  (void)state;
  run_result r[2] = {{NULL, 0}, {NULL, 0}};
  int ok[2] = {0, 0}, ran[2] = {0, 0};
#pragma omp parallel num_threads(2)
  {
    const int me = omp_get_thread_num();
    if (me < 2) {
      ran[me] = 1;
      ok[me] = run_once(&r[me]);
    }
  }
  for (int i = 0; i < 2; ++i) {
    /* A team of one (a thread limit in the environment) runs only the first. */
    if (!ran[i]) continue;
    assert_true(ok[i]);
    assert_same(&r[i], i == 0 ? "thread 0 of the caller's region" : "thread 1 of the caller's region");
    free(r[i].values);
  }
}

/* Under an address-space limit, running out ends in an out-of-memory error,
 * not in OpenBLAS retrying its buffer allocation forever. OpenBLAS's own
 * thread pool is off in the child (OPENBLAS_NUM_THREADS=1, the documented
 * setting for limited address space): its threads take their buffers when
 * the library loads, before any limit the program sets. */
/* Runs this binary with `mode` under OPENBLAS_NUM_THREADS=1 and expects a
 * clean out-of-memory exit (3) within 30 s. */
/* `may_run`: exit 0 (everything ran) is accepted too, for runs whose calls may
 * happen not to overlap; a hang or a crash never is. */
static void expect_clean_out_of_memory(const char *mode, int may_run) {
#ifdef SANITIZED
  (void)mode;
  (void)may_run;
  skip(); /* the sanitizers' shadow memory needs terabytes of address space */
#else
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0) dup2(devnull, STDOUT_FILENO);
    setenv("OPENBLAS_NUM_THREADS", "1", 1);
    char *args[] = {(char *)"test_threads", (char *)mode, NULL};
    execv("/proc/self/exe", args);
    _exit(127);
  }
  int status = 0;
  pid_t done = 0;
  for (int waited_ms = 0; waited_ms < 30000 && done == 0; waited_ms += 20) {
    done = waitpid(pid, &status, WNOHANG);
    if (done == 0) nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
  }
  if (done == 0) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    fail_msg("%s: the run under an address-space limit still hangs after 30 s", mode);
  }
  assert_int_equal(done, pid);
  if (!WIFEXITED(status) || (WEXITSTATUS(status) != 3 && !(may_run && WEXITSTATUS(status) == 0)))
    fail_msg("%s: expected a clean out-of-memory exit (3), got status %d", mode, status);
#endif
}

static void test_address_space_limit(void **state) {
  (void)state;
  expect_clean_out_of_memory("--run-limited", 0);
}

/* Two sessions with threads = 1 each on their own thread: OpenBLAS needs a
 * buffer per calling thread, not per configured thread, so a check sized by
 * the session's thread count (1) let the second caller spin in OpenBLAS (or
 * ran it only when the two did not overlap). */
static void test_address_space_limit_sessions(void **state) {
  (void)state;
  expect_clean_out_of_memory("--run-sessions-limited", 1);
}

/* docs/api-conventions.md: OpenBLAS's own thread count does not change results. */
static void test_openblas_threads_after_first_use(void **state) {
  (void)state;
  const char *expect = getenv("DCNN_EXPECT_OPENBLAS_PARALLEL");
  if (expect) assert_int_equal(openblas_get_parallel(), atoi(expect));
  dcnn_context *ctx = test_context(THREADS);
  dcnn_model *model = NULL;
  dcnn_tensor *x = NULL, *y = NULL;
  assert_ok(dcnn_zoo_paper_cnn(ctx, test_zoo(28, 28, 1, CLASSES, 7), &model));
  dcnn_shape xs = dcnn_shape_make(4, PREDICT_BATCH, 1, 28, 28), ys = dcnn_shape_make(2, PREDICT_BATCH, CLASSES, 0, 0);
  assert_ok(dcnn_tensor_create(ctx, &xs, &x));
  assert_ok(dcnn_tensor_create(ctx, &ys, &y));
  assert_ok(dcnn_tensor_fill_random(x, DCNN_DIST_UNIFORM, 0.0f, 1.0f, 11, 0));
  assert_ok(dcnn_model_predict(model, x, y));
  assert_memory_equal(dcnn_tensor_data_const(y), reference.values, sizeof(float) * PREDICT_BATCH * CLASSES);
  openblas_set_num_threads(2);
  assert_ok(dcnn_model_predict(model, x, y));
  const float *got = dcnn_tensor_data_const(y);
  int differ = 0;
  for (int i = 0; i < PREDICT_BATCH * CLASSES; ++i) differ += memcmp(&got[i], &reference.values[i], sizeof(float)) != 0;
  openblas_set_num_threads(1);
  dcnn_tensor_destroy(y);
  dcnn_tensor_destroy(x);
  dcnn_model_destroy(model);
  dcnn_context_destroy(ctx);
  if (differ) fail_msg("after openblas_set_num_threads(2), %d of %d outputs changed", differ, PREDICT_BATCH * CLASSES);
}

/* The process's current address-space size in bytes (VmSize), or -1. */
static long long address_space_bytes(void) {
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256];
  long long kib = -1;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "VmSize: %lld kB", &kib) == 1) break;
  fclose(f);
  return kib < 0 ? -1 : kib * 1024;
}

/* Child of test_address_space_limit: 160 MiB of address space beyond what the
 * process has now is room for the model but not for OpenBLAS's two 128-MiB
 * GEMM buffers. Exit 3: a clean out-of-memory error; 0: it ran; 1: other. */
static int run_limited(void) {
  const long long now = address_space_bytes();
  if (now < 0) return 1;
  struct rlimit limit = {(rlim_t)(now + (160LL << 20)), (rlim_t)(now + (160LL << 20))};
  if (setrlimit(RLIMIT_AS, &limit) != 0) return 1;
  run_result r;
  if (run_once(&r)) {
    free(r.values);
    return 0;
  }
  fprintf(stderr, "%s\n", dcnn_last_error());
  return strstr(dcnn_last_error(), "out of memory") ? 3 : 1;
}

typedef struct session_job {
  const dcnn_model *model;
  const dcnn_tensor *x;
  pthread_barrier_t *start;
  dcnn_status status;
  int out_of_memory;
} session_job;

/* Predicts a few times through its own session (threads = 1), starting with the others. */
static void *session_job_run(void *arg) {
  session_job *job = arg;
  dcnn_session *session = NULL;
  dcnn_tensor *y = NULL;
  dcnn_shape ys = dcnn_shape_make(2, PREDICT_BATCH, CLASSES, 0, 0);
  job->status = dcnn_session_create(job->model, PREDICT_BATCH, 1, &session);
  if (job->status == DCNN_OK) job->status = dcnn_tensor_create(NULL, &ys, &y);
  pthread_barrier_wait(job->start);
  for (int i = 0; i < 3 && job->status == DCNN_OK; ++i) job->status = dcnn_session_predict(session, job->x, y);
  job->out_of_memory = job->status == DCNN_ERR_OUT_OF_MEMORY && strstr(dcnn_last_error(), "out of memory");
  dcnn_tensor_destroy(y);
  dcnn_session_destroy(session);
  return NULL;
}

/* Child of test_address_space_limit_sessions: 360 MiB of address space beyond
 * what the process has now is room for one OpenBLAS buffer and arena
 * (192 MiB) but not for two. Exit 3: every thread ran or failed with a clean
 * out-of-memory error, and at least one failed (their GEMMs overlapped); 0:
 * all ran (they did not); 1: other. Before the check counted concurrent
 * callers, two sessions with threads 1 spun forever in cblas_sgemm here. */
static int run_sessions_limited(void) {
  dcnn_context *ctx = NULL;
  dcnn_model *model = NULL;
  dcnn_tensor *x = NULL;
  dcnn_shape xs = dcnn_shape_make(4, PREDICT_BATCH, 1, 28, 28);
  if (dcnn_context_create(&ctx) != DCNN_OK || dcnn_context_set_threads(ctx, 1) != DCNN_OK ||
      dcnn_zoo_paper_cnn(ctx, test_zoo(28, 28, 1, CLASSES, 7), &model) != DCNN_OK ||
      dcnn_tensor_create(ctx, &xs, &x) != DCNN_OK ||
      dcnn_tensor_fill_random(x, DCNN_DIST_UNIFORM, 0.0f, 1.0f, 11, 0) != DCNN_OK)
    return 1;
  const long long now = address_space_bytes();
  if (now < 0) return 1;
  struct rlimit limit = {(rlim_t)(now + (360LL << 20)), (rlim_t)(now + (360LL << 20))};
  if (setrlimit(RLIMIT_AS, &limit) != 0) return 1;
  enum { JOBS = 2 };
  pthread_barrier_t start;
  pthread_barrier_init(&start, NULL, JOBS);
  session_job jobs[JOBS];
  pthread_t threads[JOBS];
  for (int i = 0; i < JOBS; ++i) {
    jobs[i] = (session_job){model, x, &start, DCNN_OK, 0};
    if (pthread_create(&threads[i], NULL, session_job_run, &jobs[i]) != 0) return 1;
  }
  int ran = 0, refused = 0;
  for (int i = 0; i < JOBS; ++i) {
    pthread_join(threads[i], NULL);
    ran += jobs[i].status == DCNN_OK;
    refused += jobs[i].out_of_memory;
  }
  pthread_barrier_destroy(&start);
  dcnn_tensor_destroy(x);
  dcnn_model_destroy(model);
  dcnn_context_destroy(ctx);
  fprintf(stderr, "%d ran, %d out of memory\n", ran, refused);
  if (ran + refused != JOBS) return 1;
  return refused ? 3 : 0;
}

int main(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "--run-limited") == 0) return run_limited();
  if (argc == 2 && strcmp(argv[1], "--run-sessions-limited") == 0) return run_sessions_limited();
  if (argc == 2 && strcmp(argv[1], "--run") == 0) {
    run_result r;
    if (!run_once(&r)) {
      fprintf(stderr, "run failed: %s\n", dcnn_last_error());
      return 1;
    }
    const size_t bytes = (size_t)r.count * sizeof(float);
    const int written = fwrite(r.values, 1, bytes, stdout) == bytes && fflush(stdout) == 0;
    free(r.values);
    return written ? 0 : 1;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_thread_limit_one),
      cmocka_unit_test(test_dynamic_teams),
      cmocka_unit_test(test_no_active_levels),
      cmocka_unit_test(test_caller_parallel_region),
      cmocka_unit_test(test_forked_child_computes),
      cmocka_unit_test(test_openblas_threads_after_first_use),
      cmocka_unit_test(test_address_space_limit),
      cmocka_unit_test(test_address_space_limit_sessions),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
