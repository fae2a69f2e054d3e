/* The paper example's report. It is written whole or not at all: a save that
 * fails midway (here a file size limit in a child process, as a full disk
 * would) leaves the previous report byte for byte, with no staging left.
 * Its pages, built from synthetic results of a full-size test set without
 * training, escape what the command line gave and keep the ROC chart small. */
#include "test_support.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <sys/file.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bounded_run.h"
#include "report.h"
#include "../common/support.h"

/* Every file under `dir` as "name:size:hash\n" lines, sorted by readdir order per directory. */
static void fingerprint(const char *dir, const char *prefix, char *out, size_t size) {
  DIR *d = opendir(dir);
  assert_non_null(d);
  char names[256][256];
  int n = 0;
  for (struct dirent *e; (e = readdir(d)) != NULL && n < 256;)
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) snprintf(names[n++], sizeof names[0], "%s", e->d_name);
  closedir(d);
  qsort(names, (size_t)n, sizeof names[0], (int (*)(const void *, const void *))strcmp);
  for (int i = 0; i < n; ++i) {
    char path[1024];
    assert_true(snprintf(path, sizeof path, "%s/%s", dir, names[i]) < (int)sizeof path);
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    char line[1200];
    if (S_ISDIR(st.st_mode)) {
      assert_true(snprintf(line, sizeof line, "%s%s/\n", prefix, names[i]) < (int)sizeof line);
      strncat(out, line, size - strlen(out) - 1);
      char sub[512];
      assert_true(snprintf(sub, sizeof sub, "%s%s/", prefix, names[i]) < (int)sizeof sub);
      fingerprint(path, sub, out, size);
      continue;
    }
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    uint64_t hash = 1469598103934665603ull;
    for (int c; (c = fgetc(f)) != EOF;) hash = (hash ^ (uint64_t)c) * 1099511628211ull;
    fclose(f);
    assert_true(snprintf(line, sizeof line, "%s%s:%lld:%016llx\n", prefix, names[i], (long long)st.st_size,
                         (unsigned long long)hash) < (int)sizeof line);
    strncat(out, line, size - strlen(out) - 1);
  }
}

/* One thread everywhere: the child of fork() must not need an OpenMP team
 * that the parent started (libgomp does not survive fork). */
typedef struct fixture {
  dcnn_context *ctx;
  dcnn_dataset *data;
  dcnn_pipeline *pipe;
} fixture;

/* Trains a paper CNN one step from `seed` and writes its report into `out`;
 * returns write_report's result. */
static int report(const fixture *fx, const char *out, uint64_t seed) {
  dcnn_model *model = NULL;
  assert_ok(dcnn_zoo_paper_cnn(fx->ctx, test_zoo(28, 28, 1, 10, seed), &model));
  dcnn_optimizer *adam = NULL;
  assert_ok(dcnn_optimizer_create_adam(fx->ctx, 1e-3f, 0.9f, 0.999f, 1e-7f, 0.0f, &adam));
  dcnn_trainer *trainer = NULL;
  assert_ok(dcnn_trainer_create(fx->ctx, model, adam, &trainer));
  assert_ok(dcnn_trainer_set(trainer, DCNN_TRAIN_EPOCHS, 1));
  assert_ok(dcnn_trainer_set(trainer, DCNN_TRAIN_BATCH_SIZE, 10));
  assert_ok(dcnn_trainer_set(trainer, DCNN_TRAIN_MAX_STEPS, 1));
  assert_ok(dcnn_trainer_set(trainer, DCNN_TRAIN_AUGMENT, 0));
  assert_ok(dcnn_trainer_fit(trainer, fx->data, fx->data, fx->pipe));
  dcnn_metrics *metrics = NULL;
  assert_ok(dcnn_metrics_create(fx->ctx, 10, &metrics));
  test_predictions predictions;
  assert_ok(evaluate_test(model, fx->data, fx->pipe, 1, 1, metrics, &predictions));
  char *argv[1] = {(char *)"test"};
  paper_run run = {0};
  run.data = "data";
  run.out = out;
  run.schedule = "constant";
  run.epochs = 1;
  run.batch = 10;
  run.threads = 1;
  run.lr = 1e-3;
  run.seed = seed;
  run.train_seconds = 1;
  run.argc = 1;
  run.argv = argv;
  const int result = write_report(&run, model, trainer, metrics, fx->data, &predictions, "summary");
  free(predictions.predicted);
  dcnn_metrics_destroy(metrics);
  dcnn_trainer_destroy(trainer);
  dcnn_optimizer_destroy(adam);
  dcnn_model_destroy(model);
  return result;
}

/* The second report, run in a child under a file size limit: 1 when it
 * fails, as when the example's EXAMPLE_CHECK exits with 1 on the failed
 * model save (so the child's exit code is the verdict either way). */
typedef struct report_run {
  const fixture *fx;
  const char *out;
} report_run;

static int report_in_child(void *arg, char *message, size_t capacity) {
  const report_run *r = arg;
  const int result = report(r->fx, r->out, 2);
  snprintf(message, capacity, "write_report returned %d", result);
  return result == 0 ? 0 : 1;
}

static void a_failed_report_leaves_the_previous_one(void **state) {
  (void)state;
  fixture fx;
  enum { N = 40 };
  static uint8_t px[N * 28 * 28 * 3];
  int32_t labels[N];
  for (int i = 0; i < N; ++i) labels[i] = i % 10;
  for (size_t i = 0; i < sizeof px; ++i) px[i] = (uint8_t)(dcnn_random_uniform(9, 0, i) * 255);
  fx.ctx = test_context(1);
  assert_ok(dcnn_dataset_create(fx.ctx, N, 28, 28, 3, px, labels, 10, &fx.data));
  assert_ok(dcnn_pipeline_create(fx.ctx, &fx.pipe));
  assert_ok(dcnn_pipeline_set_paper_defaults(fx.pipe));

  char out[512];
  snprintf(out, sizeof out, "%s/dcnn-report-%d", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
  assert_int_equal(report(&fx, out, 1), 0);
  static char before[1 << 16], after[1 << 16];
  before[0] = after[0] = '\0';
  fingerprint(out, "", before, sizeof before);
  assert_non_null(strstr(before, "model.dcnn:"));
  assert_non_null(strstr(before, "index.html:"));
  assert_null(strstr(before, "partial"));
  struct stat st;
  char model_path[600];
  snprintf(model_path, sizeof model_path, "%s/model.dcnn", out);
  assert_int_equal(stat(model_path, &st), 0);

  /* Another run whose model does not fit under the file size limit (the
   * smaller files before it do): the report fails and nothing changes. */
  report_run second = {&fx, out};
  const dcnn_test_limits limits = {60, 0, (int64_t)st.st_size / 2};
  dcnn_test_bounded run;
  assert_int_equal(dcnn_test_run_limited(report_in_child, &second, &limits, &run), 0);
  if (!run.finished || run.code != 1) fail_msg("expected the report to fail with exit code 1: %s", run.message);
  fingerprint(out, "", after, sizeof after);
  assert_string_equal(after, before);

  /* A rename that fails while publishing, at every point (after 0, 1, ...
   * renames): the files already replaced are put back. */
  int entries = 0; /* top-level files and directories: two renames each (aside, then in) */
  for (const char *line = before; *line; line = strchr(line, '\n') + 1) {
    const char *slash = strchr(line, '/'), *end = strchr(line, '\n');
    entries += !slash || slash > end || slash + 1 == end;
  }
  const int points[] = {0, 1, entries - 1, 2 * entries - 1}; /* first, second, midway, index.html */
  for (size_t i = 0; i < sizeof points / sizeof points[0]; ++i) {
    report_fail_publish_after(points[i]);
    const int result = report(&fx, out, 3);
    report_fail_publish_after(-1);
    after[0] = '\0';
    fingerprint(out, "", after, sizeof after);
    assert_int_equal(result, 1);
    if (strcmp(after, before) != 0) fail_msg("a publish failing after %d renames left a mixed report", points[i]);
  }
  char command[700];
  snprintf(command, sizeof command, "rm -rf '%s'", out);
  assert_int_equal(system(command), 0);
  assert_int_equal(report(&fx, out, 1), 0);

  /* Staging directories: one of a dead run (its lock free; named after a
   * live pid, which the old pid check took as alive) is removed, one whose
   * lock is held (a report being written now) is kept. */
  char dead[700], live[700], path[800];
  snprintf(dead, sizeof dead, "%s/.report-partial-1", out);
  snprintf(live, sizeof live, "%s/.report-partial-live", out);
  assert_int_equal(mkdir(dead, 0755), 0);
  assert_int_equal(mkdir(live, 0755), 0);
  snprintf(path, sizeof path, "%s/.lock", dead);
  int fd = open(path, O_RDWR | O_CREAT, 0644);
  assert_true(fd >= 0);
  close(fd);
  snprintf(path, sizeof path, "%s/model.dcnn", dead);
  fd = open(path, O_RDWR | O_CREAT, 0644);
  assert_true(fd >= 0);
  close(fd);
  /* The dead run ended an hour ago; a run that has just created its lock
   * file and not yet locked it (seconds old) must be left alone. */
  const struct timespec hour_ago[2] = {{time(NULL) - 3600, 0}, {time(NULL) - 3600, 0}};
  assert_int_equal(utimensat(AT_FDCWD, dead, hour_ago, 0), 0);
  char fresh[700];
  snprintf(fresh, sizeof fresh, "%s/.report-partial-fresh", out);
  assert_int_equal(mkdir(fresh, 0755), 0);
  snprintf(path, sizeof path, "%s/.lock", fresh);
  fd = open(path, O_RDWR | O_CREAT, 0644);
  assert_true(fd >= 0);
  close(fd);
  snprintf(path, sizeof path, "%s/.lock", live);
  const int held = open(path, O_RDWR | O_CREAT, 0644);
  assert_true(held >= 0);
  assert_int_equal(flock(held, LOCK_EX | LOCK_NB), 0);
  assert_int_equal(report(&fx, out, 1), 0);
  struct stat gone;
  assert_int_equal(stat(dead, &gone), -1);
  assert_int_equal(stat(live, &gone), 0);
  assert_int_equal(stat(fresh, &gone), 0);
  snprintf(path, sizeof path, "%s/.lock", fresh);
  assert_int_equal(unlink(path), 0);
  assert_int_equal(rmdir(fresh), 0);
  close(held);
  before[0] = '\0';
  fingerprint(out, "", before, sizeof before);

  /* Without the limit the new report replaces the old one whole. */
  assert_int_equal(report(&fx, out, 2), 0);
  after[0] = '\0';
  fingerprint(out, "", after, sizeof after);
  assert_string_not_equal(after, before);
  assert_null(strstr(after, "partial-1"));
  assert_null(strstr(after, ".previous"));

  assert_int_equal(system(command), 0);
  dcnn_pipeline_destroy(fx.pipe);
  dcnn_dataset_destroy(fx.data);
  dcnn_context_destroy(fx.ctx);
}

/* ---- the pages from synthetic results, no training ---- */

enum { FULL_TEST_SET = 9001 }; /* MNIST-M's test set */

/* Scores of a classifier on `n` samples (label i % 10): softmax of uniform
 * noise with the true class's logit raised by `boost` (2.5: right 91% of the
 * time; 0: chance), so nearly every score is distinct and every ROC curve
 * has about n points. */
static dcnn_metrics *synthetic_metrics(dcnn_context *ctx, int32_t n, int32_t *predicted, float boost) {
  dcnn_metrics *m = NULL;
  assert_ok(dcnn_metrics_create(ctx, 10, &m));
  for (int32_t i = 0; i < n; ++i) {
    float p[10], sum = 0;
    const int32_t label = i % 10;
    for (int k = 0; k < 10; ++k) {
      p[k] = expf(3.0f * dcnn_random_uniform(7, (uint64_t)k, (uint64_t)i) + (k == label ? boost : 0.0f));
      sum += p[k];
    }
    int32_t best = 0;
    for (int k = 0; k < 10; ++k) {
      p[k] /= sum;
      if (p[k] > p[best]) best = k;
    }
    predicted[i] = best;
    assert_ok(dcnn_metrics_add(m, p, &label, 1));
  }
  return m;
}

static char *read_all(const char *path, long *size) {
  FILE *f = fopen(path, "rb");
  if (!f) fail_msg("cannot open %s", path);
  fseek(f, 0, SEEK_END);
  *size = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *text = malloc((size_t)*size + 1);
  assert_non_null(text);
  assert_int_equal(fread(text, 1, (size_t)*size, f), (size_t)*size);
  text[*size] = '\0';
  fclose(f);
  return text;
}

/* The ROC chart of a full-size test set at high accuracy: a logarithmic
 * false positive axis with the chance line, and polylines thinned to what
 * the eye can see (ten curves of ~9,000 points each were 981 KB before). */
static void the_roc_chart_of_a_full_test_set_is_small_and_logarithmic(void **state) {
  (void)state;
  dcnn_context *ctx = test_context(1);
  static int32_t predicted[FULL_TEST_SET];
  dcnn_metrics *m = synthetic_metrics(ctx, FULL_TEST_SET, predicted, 2.5f);
  int64_t points = 0;
  assert_ok(dcnn_metrics_roc_curve(m, 3, NULL, NULL, 0, &points));
  assert_true(points > FULL_TEST_SET * 9 / 10); /* the worst case: (nearly) one point per image */
  char *svg = report_roc_svg(m);
  assert_non_null(svg);
  const size_t bytes = strlen(svg);
  print_message("roc.svg: %zu bytes for curves of %lld points\n", bytes, (long long)points);
  if (bytes >= 150 * 1024) fail_msg("roc.svg is %zu bytes, more than 150 KB", bytes);
  assert_non_null(strstr(svg, "logarithmic"));
  assert_non_null(strstr(svg, "chance (y = x)"));
  assert_non_null(strstr(svg, ">0.0001</text>")); /* decades down to one false positive in ~8,100 negatives */
  assert_non_null(strstr(svg, "digit 9 (AUC"));
  /* Every curve still starts at (0, 0), on the left edge, and ends at (1, 1), the top right corner (470, 40 px). */
  int curves = 0;
  for (const char *line = strstr(svg, "<polyline"); line; line = strstr(line + 1, "<polyline")) {
    const char *end = strstr(line, "\"/>");
    assert_non_null(end);
    if (!strstr(line, "stroke-width=\"2\"") || strstr(line, "stroke-dasharray")) continue; /* the chance line */
    curves++;
    const char *first = strstr(line, "points=\"") + 8, *last = end;
    while (last > first && last[-1] != ' ') --last;
    if (strncmp(first, "70.0,", 5) != 0) fail_msg("curve %d starts at %.20s", curves, first);
    if (strncmp(last, "470.0,40.0", 10) != 0) fail_msg("curve %d ends at %.20s", curves, last);
  }
  assert_int_equal(curves, 10);
  free(svg);
  dcnn_metrics_destroy(m);

  /* An untrained model's curves (at chance) have the most corners. */
  m = synthetic_metrics(ctx, FULL_TEST_SET, predicted, 0.0f);
  svg = report_roc_svg(m);
  assert_non_null(svg);
  print_message("roc.svg at chance: %zu bytes\n", strlen(svg));
  if (strlen(svg) >= 150 * 1024) fail_msg("roc.svg at chance is %zu bytes, more than 150 KB", strlen(svg));
  free(svg);
  dcnn_metrics_destroy(m);
  dcnn_context_destroy(ctx);
}

/* Paths, options and names from the command line reach the page escaped;
 * the page names the data sizes and the best epoch, which the curves mark,
 * and the confusion matrix has its colour bar. */
static void the_pages_escape_what_the_command_line_gave(void **state) {
  (void)state;
  dcnn_context *ctx = test_context(1);
  static int32_t predicted[FULL_TEST_SET], labels[FULL_TEST_SET];
  static uint8_t px[FULL_TEST_SET * 4 * 4 * 3];
  dcnn_metrics *m = synthetic_metrics(ctx, FULL_TEST_SET, predicted, 2.5f);
  for (int32_t i = 0; i < FULL_TEST_SET; ++i) labels[i] = i % 10;
  for (size_t i = 0; i < sizeof px; ++i) px[i] = (uint8_t)(i * 37);
  dcnn_dataset *test = NULL;
  assert_ok(dcnn_dataset_create(ctx, FULL_TEST_SET, 4, 4, 3, px, labels, 10, &test));
  const test_predictions pred = {FULL_TEST_SET, predicted};
  const report_epoch history[3] = {{1, 0.9, 0.70, 0.6, 0.80}, {2, 0.5, 0.85, 0.4, 0.90}, {3, 0.4, 0.88, 0.45, 0.85}};
  char *argv[] = {(char *)"digitcnn-paper", (char *)"--data", (char *)"/d/<data&dir>",
                  (char *)"--out", (char *)"<script>alert(\"x\")</script>", (char *)"--seed", (char *)"'1'"};
  paper_run run = {0};
  run.data = "/d/<data&dir>";
  run.out = argv[4];
  run.schedule = "constant";
  run.epochs = 3;
  run.batch = 32;
  run.threads = 1;
  run.lr = 1e-3;
  run.val_fraction = 0.1;
  run.train_count = 54000;
  run.validation_count = 6000;
  run.argc = (int)(sizeof argv / sizeof argv[0]);
  run.argv = argv;
  char dir[512];
  snprintf(dir, sizeof dir, "%s/dcnn-pages-%d", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
  assert_int_equal(mkdir(dir, 0755), 0);
  assert_int_equal(write_report_pages(dir, &run, history, 3, m, test, &pred, "<layer name=\"a&b\">"), 0);

  char path[700];
  long size = 0;
  snprintf(path, sizeof path, "%s/index.html", dir);
  char *html = read_all(path, &size);
  assert_null(strstr(html, "<script"));
  assert_null(strstr(html, "<data"));
  assert_null(strstr(html, "<layer"));
  assert_null(strstr(html, "'1'"));
  assert_non_null(strstr(html, "--out &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; --seed &#39;1&#39;"));
  assert_non_null(strstr(html, "<code>/d/&lt;data&amp;dir&gt;</code>"));
  assert_non_null(strstr(html, "&lt;layer name=&quot;a&amp;b&quot;&gt;"));
  assert_non_null(strstr(html, "54000 training and 6000 validation images"));
  assert_non_null(strstr(html, "9001 test images"));
  assert_non_null(strstr(html, "Best epoch: <b>2</b> of 3 (validation accuracy 90.00%"));
  assert_non_null(strstr(html, "the last epoch's weights"));
  free(html);
  const char *charts[2] = {"loss.svg", "accuracy.svg"};
  for (int i = 0; i < 2; ++i) {
    snprintf(path, sizeof path, "%s/%s", dir, charts[i]);
    char *svg = read_all(path, &size);
    assert_non_null(strstr(svg, "best: epoch 2 (val. acc. 90.00%)"));
    free(svg);
  }
  snprintf(path, sizeof path, "%s/confusion.svg", dir);
  char *svg = read_all(path, &size);
  assert_non_null(strstr(svg, "linearGradient"));
  assert_non_null(strstr(svg, "&#8805;25%"));
  free(svg);
  snprintf(path, sizeof path, "%s/roc.svg", dir);
  free(read_all(path, &size));
  if (size >= 150 * 1024) fail_msg("roc.svg is %ld bytes", size);

  char command[700];
  snprintf(command, sizeof command, "rm -rf '%s'", dir);
  assert_int_equal(system(command), 0);
  dcnn_dataset_destroy(test);
  dcnn_metrics_destroy(m);
  dcnn_context_destroy(ctx);
}

/* An ensemble's test predictions are the members' mean (each through its own
 * pipeline); one member is evaluate_test() bit for bit; its report has the
 * metrics and pages but no model, history or curves of its own. */
static void an_ensemble_is_evaluated_and_reported_without_a_model(void **state) {
  (void)state;
  enum { N = 30 };
  static uint8_t px[N * 32 * 32 * 3];
  int32_t labels[N];
  for (int i = 0; i < N; ++i) labels[i] = i % 10;
  for (size_t i = 0; i < sizeof px; ++i) px[i] = (uint8_t)(dcnn_random_uniform(4, 0, i) * 255);
  dcnn_context *ctx = test_context(1);
  dcnn_dataset *data = NULL;
  assert_ok(dcnn_dataset_create(ctx, N, 32, 32, 3, px, labels, 10, &data));
  dcnn_pipeline *gray28 = NULL, *rgb32 = NULL;
  assert_ok(dcnn_pipeline_create(ctx, &gray28));
  assert_ok(dcnn_pipeline_set_paper_defaults(gray28));
  assert_ok(dcnn_pipeline_create(ctx, &rgb32));
  dcnn_model *a = NULL, *b = NULL;
  assert_ok(dcnn_zoo_paper_cnn(ctx, test_zoo(28, 28, 1, 10, 5), &a));
  assert_ok(dcnn_zoo_paper_cnn(ctx, test_zoo(32, 32, 3, 10, 6), &b));
  dcnn_model *models[2] = {a, b};
  dcnn_pipeline *pipelines[2] = {gray28, rgb32};
  dcnn_metrics *one = NULL, *two = NULL, *library = NULL;
  assert_ok(dcnn_metrics_create(ctx, 10, &one));
  assert_ok(dcnn_metrics_create(ctx, 10, &two));
  assert_ok(dcnn_metrics_create(ctx, 10, &library));
  test_predictions p1, p1e, p2;
  assert_ok(evaluate_test(a, data, gray28, 1, 1, one, &p1));
  dcnn_metrics_reset(one);
  assert_ok(evaluate_test_ensemble(models, pipelines, 1, data, 1, 1, one, &p1e));
  assert_memory_equal(p1.predicted, p1e.predicted, N * sizeof(int32_t));
  assert_ok(evaluate_test_ensemble(models, pipelines, 2, data, 1, 1, two, &p2));
  /* the mean by hand: each member's outputs on the whole set */
  int32_t idx[N], seen[N];
  for (int i = 0; i < N; ++i) idx[i] = i;
  dcnn_shape xa = dcnn_shape_make(4, N, 1, 28, 28), xb = dcnn_shape_make(4, N, 3, 32, 32), ys = dcnn_shape_make(2, N, 10, 0, 0);
  dcnn_tensor *ta = NULL, *tb = NULL, *ya = NULL, *yb = NULL;
  assert_ok(dcnn_tensor_create(ctx, &xa, &ta));
  assert_ok(dcnn_tensor_create(ctx, &xb, &tb));
  assert_ok(dcnn_tensor_create(ctx, &ys, &ya));
  assert_ok(dcnn_tensor_create(ctx, &ys, &yb));
  assert_ok(dcnn_pipeline_batch(gray28, data, idx, N, DCNN_AUGMENT_OFF, 0, 0, ta, seen));
  assert_ok(dcnn_pipeline_batch(rgb32, data, idx, N, DCNN_AUGMENT_OFF, 0, 0, tb, seen));
  assert_ok(dcnn_model_predict(a, ta, ya));
  assert_ok(dcnn_model_predict(b, tb, yb));
  int differs = 0;
  for (int i = 0; i < N; ++i) {
    int best = 0, best_a = 0;
    for (int k = 1; k < 10; ++k) {
      const float *ra = dcnn_tensor_data(ya) + i * 10, *rb = dcnn_tensor_data(yb) + i * 10;
      if (0.5f * ra[k] + 0.5f * rb[k] > 0.5f * ra[best] + 0.5f * rb[best]) best = k;
      if (ra[k] > ra[best_a]) best_a = k;
    }
    assert_int_equal(p2.predicted[i], best);
    differs += best != best_a;
  }
  assert_true(differs > 0); /* the mean is not member 0 alone, so the check above could fail */
  assert_ok(dcnn_evaluate_ensemble(models, pipelines, NULL, 2, data, N, library, NULL)); /* the same batches */
  double from_report = 0, from_library = 0;
  assert_ok(dcnn_metrics_get(two, DCNN_METRIC_ROC_AUC, DCNN_AVERAGE_MACRO, &from_report));
  assert_ok(dcnn_metrics_get(library, DCNN_METRIC_ROC_AUC, DCNN_AVERAGE_MACRO, &from_library));
  assert_float_equal(from_report, from_library, 1e-12);
  /* the report */
  char out[512];
  snprintf(out, sizeof out, "%s/dcnn-ensemble-report-%d", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
  char *argv[1] = {(char *)"test"};
  paper_run run = {0};
  run.data = "data";
  run.out = out;
  run.recipe = "best-and-rgb-cosine";
  run.settings = "best + rgb-cosine";
  run.members = 2;
  run.members_note = "best: 1 epochs in 1.0 s, weights of epoch 1; rgb-cosine: 1 epochs in 1.0 s, weights of epoch 1";
  run.threads = 1;
  run.seed = 1;
  run.train_seconds = 2;
  run.argc = 1;
  run.argv = argv;
  assert_int_equal(write_report(&run, NULL, NULL, two, data, &p2, "Member 1\nMember 2"), 0);
  static char files[1 << 16];
  files[0] = '\0';
  fingerprint(out, "", files, sizeof files);
  assert_non_null(strstr(files, "index.html:"));
  assert_non_null(strstr(files, "metrics.json:"));
  assert_non_null(strstr(files, "roc.svg:"));
  assert_null(strstr(files, "model.dcnn:"));
  assert_null(strstr(files, "history.csv:"));
  assert_null(strstr(files, "loss.svg:"));
  char path[600];
  long size = 0;
  snprintf(path, sizeof path, "%s/index.html", out);
  char *page = read_all(path, &size);
  assert_non_null(strstr(page, "An ensemble of the paper CNN family"));
  assert_non_null(strstr(page, "Member 2")); /* the whole page: the summary is near its end */
  assert_non_null(strstr(page, "rgb-cosine: 1 epochs in 1.0 s"));
  assert_null(strstr(page, "Training curves"));
  free(page);
  char command[700];
  snprintf(command, sizeof command, "rm -rf '%s'", out);
  assert_int_equal(system(command), 0);
  free(p1.predicted);
  free(p1e.predicted);
  free(p2.predicted);
  dcnn_tensor_destroy(ta);
  dcnn_tensor_destroy(tb);
  dcnn_tensor_destroy(ya);
  dcnn_tensor_destroy(yb);
  dcnn_metrics_destroy(one);
  dcnn_metrics_destroy(two);
  dcnn_metrics_destroy(library);
  dcnn_model_destroy(a);
  dcnn_model_destroy(b);
  dcnn_pipeline_destroy(gray28);
  dcnn_pipeline_destroy(rgb32);
  dcnn_dataset_destroy(data);
  dcnn_context_destroy(ctx);
}

/* --out naming a file once passed as a created directory, and the run failed later without a word. */
static void make_dirs_refuses_a_file_in_the_way(void **state) {
  (void)state;
  char base[512], path[600];
  snprintf(base, sizeof base, "%s/dcnn-dirs-%d", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
  snprintf(path, sizeof path, "%s/a/b", base);
  assert_int_equal(example_make_dirs(path), 0);
  assert_int_equal(example_make_dirs(path), 0); /* already there: fine */
  snprintf(path, sizeof path, "%s/a/file", base);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fclose(f);
  errno = 0;
  assert_int_equal(example_make_dirs(path), 1);
  assert_int_equal(errno, ENOTDIR);
  snprintf(path, sizeof path, "%s/a/file/below", base);
  assert_int_equal(example_make_dirs(path), 1);
  static char long_path[5000]; /* longer than the helper's buffer: refused, never cut */
  memset(long_path, 'x', sizeof long_path - 1);
  long_path[0] = '/';
  assert_int_equal(example_make_dirs(long_path), 1);
  char command[700];
  snprintf(command, sizeof command, "rm -rf '%s'", base);
  assert_int_equal(system(command), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(make_dirs_refuses_a_file_in_the_way),
      cmocka_unit_test(a_failed_report_leaves_the_previous_one),
      cmocka_unit_test(the_roc_chart_of_a_full_test_set_is_small_and_logarithmic),
      cmocka_unit_test(the_pages_escape_what_the_command_line_gave),
      cmocka_unit_test(an_ensemble_is_evaluated_and_reported_without_a_model),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
