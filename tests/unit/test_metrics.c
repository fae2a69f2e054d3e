/* Metrics against scikit-learn reference values (metrics_reference.h, made by
 * tests/reference/make_metrics_reference.py), merging, errors and output. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "test_support.h"
#include "metrics_reference.h"

#define TOLERANCE 1e-12

static void near(const char *what, const char *name, double got, double want) {
  if (isnan(want) ? !isnan(got) : !(fabs(got - want) <= TOLERANCE * fmax(1.0, fabs(want))))
    fail_msg("%s, case %s: got %.17g, scikit-learn says %.17g", what, name, got, want);
}

static dcnn_metrics *fed(const metrics_case *c, int32_t first, int32_t count) {
  dcnn_metrics *m = NULL;
  assert_ok(dcnn_metrics_create(NULL, c->classes, &m));
  if (count > 0) assert_ok(dcnn_metrics_add(m, c->scores + (int64_t)first * c->classes, c->labels + first, count));
  return m;
}

static void check_case(const metrics_case *c, const dcnn_metrics *m) {
  const dcnn_metric order[6] = {DCNN_METRIC_PRECISION, DCNN_METRIC_RECALL, DCNN_METRIC_SPECIFICITY,
                                DCNN_METRIC_F1, DCNN_METRIC_G_MEASURE, DCNN_METRIC_ROC_AUC};
  const char *names[6] = {"precision", "recall", "specificity", "f1", "g-measure", "auc"};
  double v;
  assert_int_equal(dcnn_metrics_count(m), c->count);
  assert_ok(dcnn_metrics_get(m, DCNN_METRIC_ACCURACY, DCNN_AVERAGE_MACRO, &v));
  near("accuracy", c->name, v, c->accuracy);
  assert_ok(dcnn_metrics_get(m, DCNN_METRIC_LOG_LOSS, DCNN_AVERAGE_MACRO, &v));
  if (fabs(v - c->log_loss) > 1e-9 * fmax(1.0, c->log_loss)) fail_msg("log loss, case %s: %.17g vs %.17g", c->name, v, c->log_loss);
  assert_ok(dcnn_metrics_top_k_accuracy(m, 2, &v));
  near("top-2 accuracy", c->name, v, c->top2);
  for (int i = 0; i < 6; ++i) {
    char what[64];
    assert_ok(dcnn_metrics_get(m, order[i], DCNN_AVERAGE_MACRO, &v));
    snprintf(what, sizeof what, "macro %s", names[i]);
    near(what, c->name, v, c->macro[i]);
    assert_ok(dcnn_metrics_get(m, order[i], DCNN_AVERAGE_WEIGHTED, &v));
    snprintf(what, sizeof what, "weighted %s", names[i]);
    near(what, c->name, v, c->weighted[i]);
    assert_ok(dcnn_metrics_get(m, order[i], DCNN_AVERAGE_MICRO, &v));
    snprintf(what, sizeof what, "micro %s", names[i]);
    near(what, c->name, v, c->micro[i]);
  }
  for (int32_t k = 0; k < c->classes; ++k) {
    assert_ok(dcnn_metrics_class(m, DCNN_METRIC_PRECISION, k, &v));
    near("class precision", c->name, v, c->class_precision[k]);
    assert_ok(dcnn_metrics_class(m, DCNN_METRIC_RECALL, k, &v));
    near("class recall", c->name, v, c->class_recall[k]);
    assert_ok(dcnn_metrics_class(m, DCNN_METRIC_F1, k, &v));
    near("class f1", c->name, v, c->class_f1[k]);
    assert_ok(dcnn_metrics_class(m, DCNN_METRIC_ROC_AUC, k, &v));
    near("class auc", c->name, v, c->class_auc[k]);
  }
  int64_t confusion[26];
  const int64_t needed = (int64_t)c->classes * c->classes;
  assert_true(needed < 26);
  confusion[needed] = -7;
  assert_ok(dcnn_metrics_confusion(m, confusion, needed));
  assert_memory_equal(confusion, c->confusion, (size_t)needed * sizeof(int64_t));
  assert_int_equal(confusion[needed], -7); /* nothing past classes * classes */
  confusion[0] = -7;
  assert_status(dcnn_metrics_confusion(m, confusion, needed - 1), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("capacity");
  assert_int_equal(confusion[0], -7); /* too small: nothing is written */
}

static void matches_scikit_learn(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof metrics_cases / sizeof metrics_cases[0]; ++i) {
    const metrics_case *c = &metrics_cases[i];
    dcnn_metrics *m = fed(c, 0, c->count);
    check_case(c, m);
    dcnn_metrics_destroy(m);
  }
}

/* A probability of 0 for the label: clipped as scikit-learn 1.2 clips float64
 * scores, log_loss([1, 1], [[1, 0, 0], [.2, .5, .3]], labels=[0, 1, 2]) =
 * 18.36840029228913 (it was 17.616 with the 1e-15 of scikit-learn 1.1). */
static void log_loss_clips_as_scikit_learn(void **state) {
  (void)state;
  dcnn_metrics *m = NULL;
  assert_ok(dcnn_metrics_create(NULL, 3, &m));
  const float scores[6] = {1.0f, 0.0f, 0.0f, 0.2f, 0.5f, 0.3f};
  const int32_t labels[2] = {1, 1};
  assert_ok(dcnn_metrics_add(m, scores, labels, 2));
  double v = 0;
  assert_ok(dcnn_metrics_get(m, DCNN_METRIC_LOG_LOSS, DCNN_AVERAGE_MACRO, &v));
  if (fabs(v - 18.36840029228913) > 1e-9) fail_msg("log loss %.17g, scikit-learn 18.36840029228913", v);
  dcnn_metrics_destroy(m);
}

static void merging_equals_one_accumulator(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof metrics_cases / sizeof metrics_cases[0]; ++i) {
    const metrics_case *c = &metrics_cases[i];
    const int32_t cut = c->count / 3;
    dcnn_metrics *whole = fed(c, 0, c->count), *a = fed(c, 0, cut), *b = fed(c, cut, c->count - cut);
    double early = 0; /* cached before the merge: the merge must not keep it */
    assert_ok(dcnn_metrics_get(a, DCNN_METRIC_ROC_AUC, DCNN_AVERAGE_MICRO, &early));
    assert_ok(dcnn_metrics_get(a, DCNN_METRIC_ROC_AUC, DCNN_AVERAGE_MACRO, &early));
    assert_ok(dcnn_metrics_merge(a, b));
    char *x = NULL, *y = NULL;
    assert_ok(dcnn_metrics_format(whole, DCNN_FORMAT_JSON, NULL, &x));
    assert_ok(dcnn_metrics_format(a, DCNN_FORMAT_JSON, NULL, &y));
    assert_string_equal(x, y); /* every result, to the last digit */
    dcnn_free(x);
    dcnn_free(y);
    check_case(c, a);
    /* Batches added one sample at a time give the same results too. */
    dcnn_metrics *single = fed(c, 0, 0);
    for (int32_t s = 0; s < c->count; ++s) {
      assert_ok(dcnn_metrics_add(single, c->scores + (int64_t)s * c->classes, c->labels + s, 1));
      if (s == c->count / 2) assert_ok(dcnn_metrics_get(single, DCNN_METRIC_ROC_AUC, DCNN_AVERAGE_MICRO, &early));
    }
    check_case(c, single);
    dcnn_metrics_destroy(single);
    dcnn_metrics_destroy(whole);
    dcnn_metrics_destroy(a);
    dcnn_metrics_destroy(b);
  }
}

/* Two cases the generated references do not reach, with scikit-learn's
 * values worked out by hand from its source (1.2):
 * - top_k_accuracy_score sorts each row with a stable ascending argsort and
 *   reverses it, so among equal scores the higher class ranks first: with
 *   scores (0.8, 0.1, 0.1) the top 2 are classes 0 and 2;
 * - with two classes, roc_auc_score(y, scores[:, 1]): on raw logits the two
 *   one-vs-rest AUCs differ, and the averages are class 1's. */
static void top_k_ties_and_binary_auc_follow_scikit_learn(void **state) {
  (void)state;
  dcnn_metrics *m = NULL;
  assert_ok(dcnn_metrics_create(NULL, 3, &m));
  const float tied[4 * 3] = {0.8f, 0.1f, 0.1f, 0.8f, 0.1f, 0.1f, 0.8f, 0.1f, 0.1f, 0.8f, 0.1f, 0.1f};
  const int32_t tied_labels[4] = {0, 1, 2, 2};
  assert_ok(dcnn_metrics_add(m, tied, tied_labels, 4));
  double v = -1;
  assert_ok(dcnn_metrics_top_k_accuracy(m, 2, &v));
  assert_true(v == 0.75); /* classes 0 and 2 are the top 2: labels 0, 2, 2 hit, label 1 misses */
  assert_ok(dcnn_metrics_top_k_accuracy(m, 1, &v));
  assert_true(v == 0.25); /* class 0 alone: only the label 0 hits */
  dcnn_metrics_destroy(m);

  assert_ok(dcnn_metrics_create(NULL, 2, &m));
  const float logits[5 * 2] = {2, 1, 0, 3, 1, 1.5f, -1, 0, 0.2f, 0.1f};
  const int32_t labels[5] = {0, 1, 1, 0, 0};
  assert_ok(dcnn_metrics_add(m, logits, labels, 5));
  double class0 = -1, class1 = -1, macro = -1, weighted = -1;
  assert_ok(dcnn_metrics_class(m, DCNN_METRIC_ROC_AUC, 0, &class0));
  assert_ok(dcnn_metrics_class(m, DCNN_METRIC_ROC_AUC, 1, &class1));
  assert_ok(dcnn_metrics_get(m, DCNN_METRIC_ROC_AUC, DCNN_AVERAGE_MACRO, &macro));
  assert_ok(dcnn_metrics_get(m, DCNN_METRIC_ROC_AUC, DCNN_AVERAGE_WEIGHTED, &weighted));
  assert_true(class1 == 1.0); /* positives score 3 and 1.5, negatives 1, 0, 0.1 */
  assert_true(class0 != class1);
  assert_true(macro == 1.0 && weighted == 1.0);
  dcnn_metrics_destroy(m);
}

static void bad_input_is_refused_and_adds_nothing(void **state) {
  (void)state;
  dcnn_metrics *m = NULL;
  assert_status(dcnn_metrics_create(NULL, 1, &m), DCNN_ERR_INVALID_ARGUMENT);
  assert_null(m);
  assert_ok(dcnn_metrics_create(NULL, 3, &m));
  double v;
  assert_status(dcnn_metrics_get(m, DCNN_METRIC_ACCURACY, DCNN_AVERAGE_MACRO, &v), DCNN_ERR_INVALID_STATE);
  assert_error_mentions("no samples");
  char *text = NULL;
  assert_status(dcnn_metrics_format(m, DCNN_FORMAT_JSON, NULL, &text), DCNN_ERR_INVALID_STATE);
  /* A bad argument is reported as such before the empty state. */
  assert_status(dcnn_metrics_get(m, (dcnn_metric)77, DCNN_AVERAGE_MACRO, &v), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("dcnn_metrics_get: unknown metric 77");
  assert_status(dcnn_metrics_get(m, DCNN_METRIC_F1, (dcnn_average)5, &v), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_metrics_format(m, (dcnn_metrics_format_kind)9, NULL, &text), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("dcnn_metrics_format: unknown format 9");
  assert_status(dcnn_metrics_write(m, (dcnn_metrics_format_kind)-1, NULL, "/nonexistent/x.json"),
                DCNN_ERR_INVALID_ARGUMENT);
  float scores[6] = {0.2f, 0.5f, 0.3f, 0.1f, NAN, 0.2f};
  int32_t labels[2] = {1, 2};
  assert_status(dcnn_metrics_add(m, scores, labels, 2), DCNN_ERR_NUMERIC);
  assert_error_mentions("score 1 of sample 1");
  scores[4] = INFINITY;
  assert_status(dcnn_metrics_add(m, scores, labels, 2), DCNN_ERR_NUMERIC);
  scores[4] = 0.7f;
  labels[1] = 3;
  assert_status(dcnn_metrics_add(m, scores, labels, 2), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("label 3 of sample 1 is outside 0..2");
  assert_int_equal(dcnn_metrics_count(m), 0);
  assert_status(dcnn_metrics_add(m, scores, labels, 0), DCNN_ERR_INVALID_ARGUMENT);
  labels[1] = 2;
  assert_ok(dcnn_metrics_add(m, scores, labels, 2));
  dcnn_shape wrong = dcnn_shape_make(2, 2, 4, 0, 0);
  dcnn_tensor *t = NULL;
  assert_ok(dcnn_tensor_create(NULL, &wrong, &t));
  assert_status(dcnn_metrics_add_tensor(m, t, labels), DCNN_ERR_SHAPE_MISMATCH);
  dcnn_tensor_destroy(t);
  dcnn_metrics *four = NULL;
  assert_ok(dcnn_metrics_create(NULL, 4, &four));
  assert_status(dcnn_metrics_merge(m, four), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_metrics_top_k_accuracy(m, 4, &v), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_metrics_class(m, DCNN_METRIC_ACCURACY, 0, &v), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_metrics_class(m, DCNN_METRIC_RECALL, 3, &v), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_metrics_get(m, (dcnn_metric)77, DCNN_AVERAGE_MACRO, &v), DCNN_ERR_INVALID_ARGUMENT);
  int64_t points = 0;
  assert_status(dcnn_metrics_roc_curve(m, 0, NULL, NULL, 0, &points), DCNN_ERR_INVALID_STATE);
  assert_error_mentions("no positive samples");
  assert_ok(dcnn_metrics_reset(m));
  assert_int_equal(dcnn_metrics_count(m), 0);
  dcnn_metrics_destroy(four);
  dcnn_metrics_destroy(m);
}

static void roc_curve_integrates_to_auc(void **state) {
  (void)state;
  const metrics_case *c = &metrics_cases[1];
  dcnn_metrics *m = fed(c, 0, c->count);
  for (int32_t k = 0; k < c->classes; ++k) {
    int64_t points = 0;
    assert_ok(dcnn_metrics_roc_curve(m, k, NULL, NULL, 0, &points));
    double *fpr = malloc((size_t)points * sizeof(double)), *tpr = malloc((size_t)points * sizeof(double));
    for (int64_t i = 0; i < points; ++i) fpr[i] = tpr[i] = -1;
    const int64_t counted = points;
    assert_status(dcnn_metrics_roc_curve(m, k, fpr, tpr, points - 1, &points), DCNN_ERR_INVALID_ARGUMENT);
    assert_int_equal(points, counted);
    for (int64_t i = 0; i < points; ++i) assert_true(fpr[i] == -1 && tpr[i] == -1); /* too small: left as they were */
    assert_ok(dcnn_metrics_roc_curve(m, k, fpr, tpr, points, &points));
    assert_true(fpr[0] == 0.0 && tpr[0] == 0.0 && fpr[points - 1] == 1.0 && tpr[points - 1] == 1.0);
    double area = 0;
    for (int64_t i = 1; i < points; ++i) {
      assert_true(fpr[i] >= fpr[i - 1] && tpr[i] >= tpr[i - 1]);
      area += (fpr[i] - fpr[i - 1]) * 0.5 * (tpr[i] + tpr[i - 1]);
    }
    near("trapezoid area", c->name, area, c->class_auc[k]);
    /* one array alone is written as with both (it was left untouched) */
    double *alone = malloc((size_t)points * sizeof(double));
    for (int side = 0; side < 2; ++side) {
      for (int64_t i = 0; i < points; ++i) alone[i] = -1;
      assert_ok(dcnn_metrics_roc_curve(m, k, side ? NULL : alone, side ? alone : NULL, points, &points));
      assert_memory_equal(alone, side ? tpr : fpr, (size_t)points * sizeof(double));
    }
    assert_status(dcnn_metrics_roc_curve(m, k, NULL, alone, points - 1, &points), DCNN_ERR_INVALID_ARGUMENT);
    free(alone);
    free(fpr);
    free(tpr);
  }
  dcnn_metrics_destroy(m);
}

static void reports_render_the_summary_and_markdown_row(void **state) {
  (void)state;
  const metrics_case *c = &metrics_cases[0];
  dcnn_metrics *m = fed(c, 0, c->count);
  char *text = NULL, expected[128];
  assert_ok(dcnn_metrics_format(m, DCNN_FORMAT_SUMMARY, NULL, &text));
  snprintf(expected, sizeof expected, "Test Accuracy: %.2f%%", 100.0 * c->accuracy);
  assert_non_null(strstr(text, expected));
  assert_non_null(strstr(text, "Recall (Sensitivity, weighted)"));
  dcnn_free(text);
  assert_ok(dcnn_metrics_format(m, DCNN_FORMAT_MARKDOWN_ROW, "Paper CNN", &text));
  snprintf(expected, sizeof expected, "| Paper CNN | %6.2f%% | %6.2f%% |", 100.0 * c->accuracy, 100.0 * c->weighted[3]);
  assert_non_null(strstr(text, expected));
  dcnn_free(text);
  assert_ok(dcnn_metrics_format(m, DCNN_FORMAT_MARKDOWN_ROW, "a|b\nc\\", &text)); /* one cell still */
  assert_true(strncmp(text, "| a\\|b c\\\\ | ", 13) == 0);
  dcnn_free(text);
  assert_ok(dcnn_metrics_format(m, DCNN_FORMAT_CONFUSION_CSV, NULL, &text));
  assert_true(strncmp(text, "true\\predicted,0,1,2,3\n0,", 25) == 0);
  dcnn_free(text);
  assert_ok(dcnn_metrics_format(m, DCNN_FORMAT_ROC_CSV, NULL, &text));
  assert_true(strncmp(text, "class,fpr,tpr\n0,0,0\n", 20) == 0);
  dcnn_free(text);
  assert_ok(dcnn_metrics_format(m, DCNN_FORMAT_CLASS_TABLE, NULL, &text));
  assert_non_null(strstr(text, "specificity"));
  dcnn_free(text);
  /* The absent class's undefined AUC is null in JSON. */
  dcnn_metrics *absent = fed(&metrics_cases[3], 0, metrics_cases[3].count);
  assert_ok(dcnn_metrics_format(absent, DCNN_FORMAT_JSON, NULL, &text));
  assert_non_null(strstr(text, "{\"class\": 1, \"precision\": 0, \"recall\": 0, \"specificity\": "));
  assert_non_null(strstr(text, "\"roc_auc\": null, \"support\": 0}"));
  double micro_f1 = NAN, accuracy = NAN;
  assert_ok(dcnn_metrics_get(absent, DCNN_METRIC_F1, DCNN_AVERAGE_MICRO, &micro_f1));
  assert_ok(dcnn_metrics_get(absent, DCNN_METRIC_ACCURACY, DCNN_AVERAGE_MACRO, &accuracy));
  assert_float_equal(micro_f1, accuracy, 1e-12); /* micro F1 is the accuracy: the JSON's micro block holds it */
  char micro[128];
  snprintf(micro, sizeof micro, "\"micro\": {\"precision\": %.17g, ", micro_f1);
  assert_non_null(strstr(text, micro));
  dcnn_free(text);
  /* ... and "n/a" in the text renderings, as in the Markdown row (it read "nan") */
  assert_ok(dcnn_metrics_format(absent, DCNN_FORMAT_CLASS_TABLE, NULL, &text));
  assert_non_null(strstr(text, "n/a"));
  assert_null(strstr(text, "nan"));
  dcnn_free(text);
  char path[256];
  snprintf(path, sizeof path, "%s/dcnn-metrics-%d.json", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
  assert_ok(dcnn_metrics_write(m, DCNN_FORMAT_JSON, NULL, path));
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  char head[16] = {0};
  assert_true(fread(head, 1, 12, f) == 12);
  fclose(f);
  assert_string_equal(head, "{\n  \"samples");
  remove(path);
  assert_status(dcnn_metrics_write(m, DCNN_FORMAT_JSON, NULL, "/nonexistent-dir/m.json"), DCNN_ERR_IO);
  dcnn_metrics_destroy(absent);
  dcnn_metrics_destroy(m);
}

/* 10,000 samples x 10 classes of noisy but informative scores are added and
 * rendered as JSON, and their macro AUC lies between chance and perfect. The
 * time is printed for docs/metrics.md ("Cost"), not asserted: the machine is
 * shared. */
/* status.h: successful calls leave the message unchanged, including reports
 * that skip classes whose curve or AUC is undefined. */
static void successful_reports_leave_the_error_message_alone(void **state) {
  (void)state;
  const dcnn_metrics_format_kind kinds[] = {DCNN_FORMAT_SUMMARY, DCNN_FORMAT_MARKDOWN_ROW, DCNN_FORMAT_CLASS_TABLE,
                                            DCNN_FORMAT_JSON, DCNN_FORMAT_CONFUSION_CSV, DCNN_FORMAT_ROC_CSV};
  dcnn_metrics *absent = fed(&metrics_cases[3], 0, metrics_cases[3].count); /* class 1 never occurs */
  /* Every sample of class 0: class 0 has no negatives, class 1 no positives. */
  dcnn_metrics *one_class = NULL;
  assert_ok(dcnn_metrics_create(NULL, 2, &one_class));
  const float scores[4] = {0.9f, 0.1f, 0.4f, 0.6f};
  const int32_t labels[2] = {0, 0};
  assert_ok(dcnn_metrics_add(one_class, scores, labels, 2));
  char path[256];
  snprintf(path, sizeof path, "%s/dcnn-metrics-quiet-%d.csv", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
           (int)getpid());
  const dcnn_metrics *accumulators[2] = {absent, one_class};
  for (int a = 0; a < 2; ++a) {
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; ++k) {
      char *text = NULL;
      dcnn_error_set(DCNN_ERR_IO, "the caller's earlier error");
      assert_ok(dcnn_metrics_format(accumulators[a], kinds[k], NULL, &text));
      assert_string_equal(dcnn_last_error(), "the caller's earlier error");
      dcnn_free(text);
      assert_ok(dcnn_metrics_write(accumulators[a], kinds[k], NULL, path));
      assert_string_equal(dcnn_last_error(), "the caller's earlier error");
    }
  }
  char *text = NULL;
  assert_ok(dcnn_metrics_format(one_class, DCNN_FORMAT_ROC_CSV, NULL, &text));
  assert_string_equal(text, "class,fpr,tpr\n"); /* neither curve is defined */
  dcnn_free(text);
  unlink(path);
  dcnn_clear_error();
  dcnn_metrics_destroy(one_class);
  dcnn_metrics_destroy(absent);
}

static void ten_thousand_samples_render_with_an_auc_above_chance(void **state) {
  (void)state;
  const int32_t n = 10000, k = 10;
  float *scores = malloc((size_t)n * k * sizeof(float));
  int32_t *labels = malloc((size_t)n * sizeof(int32_t));
  for (int32_t i = 0; i < n; ++i) {
    labels[i] = (int32_t)(dcnn_random_bits(1, 0, (uint64_t)i) % 10);
    for (int32_t j = 0; j < k; ++j) scores[i * k + j] = dcnn_random_uniform(1, 1, (uint64_t)(i * k + j)) + 0.5f * (j == labels[i]);
  }
  dcnn_metrics *m = NULL;
  assert_ok(dcnn_metrics_create(NULL, k, &m));
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  assert_ok(dcnn_metrics_add(m, scores, labels, n));
  char *text = NULL;
  assert_ok(dcnn_metrics_format(m, DCNN_FORMAT_JSON, NULL, &text));
  clock_gettime(CLOCK_MONOTONIC, &t1);
  assert_non_null(strstr(text, "\"samples\": 10000,"));
  print_message("10,000 x 10 scores: added and every metric (incl. the 10 AUCs) rendered as JSON in %.1f ms\n",
                1e3 * ((double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec)));
  double auc;
  assert_ok(dcnn_metrics_get(m, DCNN_METRIC_ROC_AUC, DCNN_AVERAGE_MACRO, &auc));
  assert_true(auc > 0.7 && auc < 1.0);
  dcnn_free(text);
  dcnn_metrics_destroy(m);
  free(scores);
  free(labels);
}

/* The (classes, classes) confusion counts of 65,537 classes take 34 GB: on a
 * 64-bit system an allocation that may succeed (not tried here); with a
 * 32-bit size_t their byte count wrapped to 1 MB, and adding a sample wrote
 * past it. It must be refused there as out of memory. */
static void a_confusion_matrix_beyond_size_t_is_refused(void **state) {
  (void)state;
  if (sizeof(size_t) > 4) skip();
  dcnn_metrics *m = NULL;
  assert_status(dcnn_metrics_create(NULL, 65537, &m), DCNN_ERR_OUT_OF_MEMORY);
  assert_null(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(matches_scikit_learn),
      cmocka_unit_test(merging_equals_one_accumulator),
      cmocka_unit_test(log_loss_clips_as_scikit_learn),
      cmocka_unit_test(top_k_ties_and_binary_auc_follow_scikit_learn),
      cmocka_unit_test(bad_input_is_refused_and_adds_nothing),
      cmocka_unit_test(roc_curve_integrates_to_auc),
      cmocka_unit_test(reports_render_the_summary_and_markdown_row),
      cmocka_unit_test(successful_reports_leave_the_error_message_alone),
      cmocka_unit_test(ten_thousand_samples_render_with_an_auc_above_chance),
      cmocka_unit_test(a_confusion_matrix_beyond_size_t_is_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
