#define _POSIX_C_SOURCE 200809L
#include "report.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../common/cluster.h"
#include "../common/support.h"

void report_history_totals(const dcnn_trainer *trainer, int32_t *epochs, double *seconds) {
  *epochs = dcnn_trainer_epochs_done(trainer);
  *seconds = 0;
  for (int32_t i = 0; i < *epochs; ++i) {
    dcnn_epoch_stats e = DCNN_STRUCT_INIT(dcnn_epoch_stats);
    EXAMPLE_CHECK(dcnn_trainer_history(trainer, i, &e));
    *seconds += e.seconds;
  }
}

/* The paper's claims (Figure 4 and Table 1), printed beside our measurements, never in their place. */
static const double claim_accuracy = 0.9925, claim_auc = 0.9998334289023887, claim_precision = 0.992515398442679,
                    claim_recall = 0.9925, claim_specificity = 0.9989795918367347, claim_f1 = 0.992497148627433,
                    claim_g = 0.9925076991616141;

/* Under mpirun the batches are dealt out over the ranks (batch b to rank b mod size), each the batch
 * one process would predict, so every score is bit for bit what one process computes; one sum
 * all-reduce of the zero-filled score table then gives every rank all of them (x + 0 is exact). */
dcnn_status evaluate_test(dcnn_model *model, const dcnn_dataset *test, dcnn_pipeline *pipeline, int32_t tta,
                          int32_t tta_pixels, dcnn_metrics *metrics, test_predictions *out) {
  return evaluate_test_ensemble(&model, &pipeline, 1, test, tta, tta_pixels, metrics, out);
}

dcnn_status evaluate_test_ensemble(dcnn_model *const *models, dcnn_pipeline *const *pipelines, int32_t members,
                                   const dcnn_dataset *test, int32_t tta, int32_t tta_pixels, dcnn_metrics *metrics,
                                   test_predictions *out) {
  enum { batch = 250, classes = 10 };
  const int32_t n = dcnn_dataset_count(test), rank = example_cluster_rank(), ranks = example_cluster_size();
  const dcnn_communicator *comm = example_cluster_comm();
  out->count = n;
  out->predicted = malloc((size_t)n * sizeof(int32_t) + 1);
  float *scores = calloc((size_t)n * classes + 1, sizeof(float)); /* (n, classes) */
  int32_t *labels = malloc((size_t)n * sizeof(int32_t) + 1);      /* (n) */
  dcnn_status status = !out->predicted || !scores || !labels ? DCNN_ERR_OUT_OF_MEMORY : DCNN_OK;
  /* the members' mean, as dcnn_evaluate_ensemble: scores += y_m / members (one member: y itself, exactly) */
  const float share = 1.0f / (float)members;
  for (int32_t first = 0, b = 0; first < n && status == DCNN_OK; first += batch, ++b) {
    if (b % ranks != rank) continue;
    const int32_t count = first + batch > n ? n - first : batch;
    int32_t indices[batch];
    for (int32_t i = 0; i < count; ++i) indices[i] = first + i;
    for (int32_t m = 0; m < members && status == DCNN_OK; ++m) {
      dcnn_shape sample;
      dcnn_tensor *x = NULL, *y = NULL; /* (count, C, H, W) as member m's pipeline makes them, (count, classes) */
      status = dcnn_pipeline_sample_shape(pipelines[m], test, &sample);
      dcnn_shape xs = dcnn_shape_make(4, count, sample.dims[0], sample.dims[1], sample.dims[2]);
      dcnn_shape ys = dcnn_shape_make(2, count, classes, 0, 0);
      if (status == DCNN_OK) status = dcnn_tensor_create(dcnn_model_context(models[m]), &xs, &x);
      if (status == DCNN_OK) status = dcnn_tensor_create(dcnn_model_context(models[m]), &ys, &y);
      if (status == DCNN_OK)
        status = dcnn_pipeline_batch(pipelines[m], test, indices, count, DCNN_AUGMENT_OFF, 0, 0, x, labels + first);
      if (status == DCNN_OK)
        status = tta > 1 ? dcnn_model_predict_tta(models[m], x, tta, tta_pixels, y) : dcnn_model_predict(models[m], x, y);
      for (int64_t i = 0; status == DCNN_OK && i < (int64_t)count * classes; ++i)
        scores[(int64_t)first * classes + i] += share * dcnn_tensor_data_const(y)[i];
      dcnn_tensor_destroy(x);
      dcnn_tensor_destroy(y);
    }
  }
  /* One rank's failure must not leave the others waiting in the all-reduce. */
  if (comm && example_cluster_any(status != DCNN_OK) && status == DCNN_OK)
    status = dcnn_error_set(DCNN_ERR_INVALID_STATE, "another process failed evaluating the test set (its error is "
                            "on its standard error)");
  if (comm && status == DCNN_OK) status = comm->allreduce_sum(comm->user, scores, (int64_t)n * classes, DCNN_COMM_FLOAT32);
  for (int32_t i = 0; status == DCNN_OK && i < n; ++i) {
    labels[i] = dcnn_dataset_label(test, i);
    const float *p = scores + (int64_t)i * classes;
    int32_t best = 0;
    for (int32_t k = 1; k < classes; ++k)
      if (p[k] > p[best]) best = k;
    out->predicted[i] = best;
  }
  /* In the batches of one process, so the accumulated sums round alike. */
  for (int32_t first = 0; first < n && status == DCNN_OK; first += batch)
    status = dcnn_metrics_add(metrics, scores + (int64_t)first * classes, labels + first,
                              first + batch > n ? n - first : batch);
  free(scores);
  free(labels);
  return status;
}

static double metric(const dcnn_metrics *m, dcnn_metric which, dcnn_average avg) {
  double v = NAN;
  dcnn_metrics_get(m, which, avg, &v);
  return v;
}

void print_results(const paper_run *run, const dcnn_metrics *m, const dcnn_trainer *trainer) {
  (void)trainer;
  char *block = NULL, *row = NULL, *classes = NULL;
  EXAMPLE_CHECK(dcnn_metrics_format(m, DCNN_FORMAT_SUMMARY, NULL, &block));
  EXAMPLE_CHECK(dcnn_metrics_format(m, DCNN_FORMAT_MARKDOWN_ROW,
                                    run->members > 0 ? "Paper CNN family, ensemble (ours)"
                                    : run->rgb      ? "Paper CNN (ours, RGB)"
                                                    : "Paper CNN (ours)",
                                    &row));
  EXAMPLE_CHECK(dcnn_metrics_format(m, DCNN_FORMAT_CLASS_TABLE, NULL, &classes));
  if (run->members > 0) {
    printf("\nTraining: %d models, %d epochs in %.1f s (%s); test set evaluated once, their probabilities "
           "averaged, in %.1f s.\n", (int)run->members, (int)run->epochs, run->train_seconds, run->members_note,
           run->test_seconds);
  } else {
    printf("\nTraining: %d epochs in %.1f s (%.1f s per epoch)%s; test set evaluated once in %.1f s.\n",
           (int)run->epochs_trained, run->train_seconds, run->train_seconds / (run->epochs_trained > 0 ? run->epochs_trained : 1),
           run->best_epoch ? "" : ", last epoch's weights", run->test_seconds);
    if (run->best_epoch) printf("Weights of epoch %d (best validation accuracy) are evaluated.\n", (int)run->best_epoch);
  }
  printf("\nMeasured on the MNIST-M test set (%lld images):\n%s", (long long)dcnn_metrics_count(m), block);
  printf("\nThe paper's claims (Figure 4; most likely measured on MNIST, see docs/results.md):\n"
         "Test Accuracy: %.2f%%\nAUC: %.16g\nPrecision: %.15g Recall (Sensitivity): %.4g Specificity: %.16g\n"
         "F1-score: %.15g G-measure: %.16g\n",
         100 * claim_accuracy, claim_auc, claim_precision, claim_recall, claim_specificity, claim_f1, claim_g);
  printf("\nTable 1 (percent):\n| Model | Accuracy | F1-score | AUC | Precision | Recall | Specificity | G-measure |\n"
         "|---|---|---|---|---|---|---|---|\n%s", row);
  printf("| Proposed model (paper's claim) | %6.2f%% | %6.2f%% | %6.2f%% | %6.2f%% | %6.2f%% | %6.2f%% | %6.2f%% |\n",
         100 * claim_accuracy, 100 * claim_f1, 100 * claim_auc, 100 * claim_precision, 100 * claim_recall, 99.90,
         100 * claim_g);
  printf("\nGap to the paper's claimed accuracy: %+.2f points.\n", 100.0 * (run->test_accuracy - claim_accuracy));
  printf("\nPer class:\n%s", classes);
  dcnn_free(block);
  dcnn_free(row);
  dcnn_free(classes);
}

/* The grid of misclassified digits holds at most this many bytes: test images
 * of any size (a 4096 x 4096 set is valid) must not cost the report gigabytes. */
#define GRID_MAX_BYTES ((int64_t)64 << 20)
#define PNG_MAX_SIDE 65535 /* dcnn_image_write_png's limit */

/* Up to 64 misclassified test digits: a PNG grid of the original colour images, and one PNG each; images
 * too large for a PNG or the grid are left out of them (said in the page), never failing the report. */
static int write_misclassified(const char *dir, const dcnn_dataset *test, const test_predictions *pred, FILE *html) {
  int32_t h = 0, w = 0, c = 0, shown = 0, wrong = 0;
  dcnn_dataset_image_size(test, &h, &w, &c);
  int32_t picks[64];
  for (int32_t i = 0; i < pred->count; ++i) {
    if (pred->predicted[i] == dcnn_dataset_label(test, i)) continue;
    if (shown < 64) picks[shown++] = i;
    wrong++;
  }
  fprintf(html, "<h2>Misclassified test digits</h2>\n<p>%d of %d test images are misclassified; the first %d "
                "(original colour images) with their true and predicted class:</p>\n<div class=\"tiles\">\n",
          (int)wrong, (int)pred->count, (int)shown);
  if (shown == 0) return 0;
  if (h > PNG_MAX_SIDE || w > PNG_MAX_SIDE) {
    fprintf(html, "</div>\n<p>(The images, %d x %d, are larger than a PNG file this report writes: not shown.)</p>\n",
            (int)w, (int)h);
    return 0;
  }
  /* 8 tiles a row, fewer when wide images would pass a PNG's side; no grid past GRID_MAX_BYTES. */
  const int32_t fit = (int32_t)(PNG_MAX_SIDE / ((int64_t)w + 2)), cols = fit < 8 ? (fit < 1 ? 1 : fit) : 8;
  const int32_t rows = (shown + cols - 1) / cols;
  const int64_t gw = (int64_t)cols * (w + 2), gh = (int64_t)rows * (h + 2), grid_bytes = gw * gh * c;
  const int grid_fits = gw <= PNG_MAX_SIDE && gh <= PNG_MAX_SIDE && grid_bytes <= GRID_MAX_BYTES;
  uint8_t *grid = grid_fits ? calloc((size_t)grid_bytes, 1) : NULL; /* (gh, gw, c) */
  if (example_make_dirs(example_path(dir, "misclassified"))) {
    free(grid);
    return 1;
  }
  for (int32_t s = 0; s < shown; ++s) {
    const uint8_t *img = dcnn_dataset_image(test, picks[s]);
    for (int32_t y = 0; grid && y < h; ++y)
      memcpy(grid + ((int64_t)((s / cols) * (h + 2) + 1 + y) * gw + (int64_t)(s % cols) * (w + 2) + 1) * c,
             img + (int64_t)y * w * c, (size_t)w * c);
    char name[64];
    snprintf(name, sizeof name, "misclassified/%02d.png", (int)s);
    EXAMPLE_CHECK(dcnn_image_write_png(example_path(dir, name), h, w, c, img));
    fprintf(html, "<figure><img src=\"%s\" alt=\"test image ", name);
    example_html_escape(html, dcnn_dataset_source(test, picks[s])); /* a path under --data */
    fprintf(html, "\"><figcaption>true %d &rarr; %d</figcaption></figure>\n", (int)dcnn_dataset_label(test, picks[s]),
            (int)pred->predicted[picks[s]]);
  }
  fprintf(html, "</div>\n");
  if (grid)
    EXAMPLE_CHECK(dcnn_image_write_png(example_path(dir, "misclassified.png"), (int32_t)gh, (int32_t)gw, c, grid));
  else
    fprintf(html, "<p>(misclassified.png, the grid of these images, is left out: %s.)</p>\n",
            grid_fits ? "no memory for it" : "the images make it too large");
  free(grid);
  return 0;
}

report_epoch *report_history(const dcnn_trainer *trainer, int32_t *count) {
  const int32_t n = dcnn_trainer_epochs_done(trainer);
  report_epoch *h = calloc((size_t)(n ? n : 1), sizeof *h);
  *count = h ? n : 0;
  for (int32_t i = 0; h && i < n; ++i) {
    dcnn_epoch_stats s = DCNN_STRUCT_INIT(dcnn_epoch_stats);
    EXAMPLE_CHECK(dcnn_trainer_history(trainer, i, &s));
    h[i] = (report_epoch){s.epoch, s.loss, s.accuracy, s.val_loss, s.val_accuracy};
  }
  return h;
}

int32_t report_best_epoch(const paper_run *run, const report_epoch *history, int32_t count) {
  if (run->best_epoch) return run->best_epoch;
  if (run->validation_count == 0) return 0; /* this run validated nothing (a resumed run's earlier epochs may have) */
  int32_t best = 0; /* as the trainer ranks epochs: the first highest validation accuracy */
  double value = -INFINITY;
  for (int32_t i = 0; i < count; ++i)
    if (history[i].val_accuracy > value) value = history[i].val_accuracy, best = history[i].epoch;
  return best;
}

static const report_epoch *epoch_of(const report_epoch *history, int32_t count, int32_t epoch) {
  for (int32_t i = 0; i < count; ++i)
    if (history[i].epoch == epoch) return &history[i];
  return NULL;
}

char *report_curve_svg(const report_epoch *history, int32_t count, int32_t best_epoch, int accuracy) {
  const int32_t n = count;
  double *x = malloc(sizeof(double) * (size_t)(n ? n : 1) * 3), *train = x + n, *val = x + 2 * n;
  if (!x) return NULL;
  for (int32_t i = 0; i < n; ++i) {
    x[i] = history[i].epoch;
    train[i] = accuracy ? history[i].accuracy : history[i].loss;
    val[i] = accuracy ? history[i].val_accuracy : history[i].val_loss;
  }
  chart_series series[2] = {{"training", x, train, n, chart_color(0), 0}, {"validation", x, val, n, chart_color(1), 1}};
  int32_t series_count = 1; /* without validation data (--val-fraction 0) its curve and legend entry are left out */
  for (int32_t i = 0; i < n; ++i)
    if (!isnan(val[i])) series_count = 2;
  char label[96] = "";
  const report_epoch *best = epoch_of(history, count, best_epoch);
  if (best) snprintf(label, sizeof label, "best: epoch %d (val. acc. %.2f%%)", (int)best_epoch, 100 * best->val_accuracy);
  const chart_options options = {1, n > 1 ? n : 2, accuracy ? NAN : 0, accuracy ? 1.0 : NAN, 0, 0,
                                 best ? (double)best_epoch : NAN, label,
                                 best ? (accuracy ? best->val_accuracy : best->val_loss) : NAN};
  char *svg = svg_chart(accuracy ? "Accuracy per epoch" : "Loss per epoch", "epoch", accuracy ? "accuracy" : "cross-entropy",
                        series, series_count, &options);
  free(x);
  return svg;
}

char *report_roc_svg(const dcnn_metrics *m) {
  chart_series roc[10];
  double *buffers[20] = {0};
  char names[10][32];
  int32_t curves = 0, out_of_memory = 0;
  int64_t confusion[100], most_negatives = 1; /* (10, 10) */
  if (dcnn_metrics_confusion(m, confusion, 100) != DCNN_OK) return NULL;
  for (int32_t k = 0; k < 10; ++k) {
    int64_t positives = 0;
    for (int32_t p = 0; p < 10; ++p) positives += confusion[k * 10 + p];
    const int64_t negatives = dcnn_metrics_count(m) - positives;
    if (negatives > most_negatives) most_negatives = negatives;
    int64_t points = 0;
    if (dcnn_metrics_roc_curve(m, k, NULL, NULL, 0, &points) != DCNN_OK) continue;
    double *fpr = malloc(sizeof(double) * (size_t)points), *tpr = malloc(sizeof(double) * (size_t)points), auc = NAN;
    buffers[2 * curves] = fpr;
    buffers[2 * curves + 1] = tpr;
    if ((out_of_memory = !fpr || !tpr)) break;
    EXAMPLE_CHECK(dcnn_metrics_roc_curve(m, k, fpr, tpr, points, &points));
    dcnn_metrics_class(m, DCNN_METRIC_ROC_AUC, k, &auc);
    snprintf(names[curves], sizeof names[curves], "digit %d (AUC %.4f)", (int)k, auc);
    roc[curves] = (chart_series){names[curves], fpr, tpr, (int32_t)points, chart_color(k), 0};
    curves++;
  }
  /* At high accuracy every curve runs up the left edge of a linear axis: the
   * false positive rate is shown by decades, down to the decade holding the
   * smallest rate a class can have (one false positive among its negatives). */
  double x_min = pow(10, floor(log10(1.0 / (double)most_negatives)));
  if (x_min < 1e-6) x_min = 1e-6;
  const chart_options options = {x_min, 1, 0, 1, 1, 1, NAN, NULL, NAN};
  char *svg = out_of_memory ? NULL
                            : svg_chart("ROC curves, one class against the rest", "false positive rate (logarithmic)",
                                        "true positive rate", roc, curves, &options);
  for (int i = 0; i < 20; ++i) free(buffers[i]);
  return svg;
}

static int write_svg(const char *dir, const char *name, char *svg) {
  const int failed = !svg || example_write_text(example_path(dir, name), svg);
  free(svg);
  return failed;
}

static int write_charts(const char *dir, const report_epoch *history, int32_t count, int32_t best_epoch,
                        const dcnn_metrics *m) {
  int failed = 0;
  if (count > 0) { /* an ensemble has no curves of its own: each member's history is in members/ */
    failed |= write_svg(dir, "loss.svg", report_curve_svg(history, count, best_epoch, 0));
    failed |= write_svg(dir, "accuracy.svg", report_curve_svg(history, count, best_epoch, 1));
  }
  int64_t confusion[100]; /* (10, 10) */
  EXAMPLE_CHECK(dcnn_metrics_confusion(m, confusion, 100));
  failed |= write_svg(dir, "confusion.svg", svg_confusion_matrix("Confusion matrix, MNIST-M test set", confusion, 10));
  failed |= write_svg(dir, "roc.svg", report_roc_svg(m));
  return failed;
}

/* ---- a report is replaced whole or not at all ----
 * Every file is first written into a staging directory inside the report
 * directory, OUT/.report-partial-XXXXXX. Only when all of them (the model
 * included) are written are they published: each previous file is moved
 * aside into the staging directory's .previous/ and the new one renamed into
 * OUT, index.html last. Renames within one file system need no space, so a
 * full disk or a file size limit fails before anything in OUT changes, and
 * a rename that fails while publishing puts every file already replaced
 * back. What this cannot cover: the process killed (or the machine stopping)
 * during those few renames leaves a mix of old and new files.
 *
 * While it writes, a run holds an exclusive flock on the staging
 * directory's .lock file (as the library does on its temporary files); a
 * staging directory whose lock can be taken belongs to a run that died, and
 * the next report removes it. The staging directory is removed on any
 * failure, including the exit() of EXAMPLE_CHECK (atexit). */

#define STAGING_PREFIX ".report-partial-"
#define STAGING_LOCK ".lock"
#define STAGING_PREVIOUS ".previous"
/* A staging directory without its lock file is a run between mkdtemp and
 * creating the lock, or one killed right there: stale once this old. */
#define STAGING_RACE_SECONDS 60
#define STAGING_UNLOCKED_SECONDS 600

static char staging[4096];
static int staging_lock = -1;
static int fail_rename_after = -1;

void report_fail_publish_after(int renames) { fail_rename_after = renames; }

/* rename(2), failing on request (report_fail_publish_after). */
static int publish_rename(const char *from, const char *to) {
  if (fail_rename_after == 0) {
    errno = EIO;
    return -1;
  }
  if (fail_rename_after > 0) fail_rename_after--;
  return rename(from, to);
}

/* Removes a directory with its files and subdirectories (no symlinks followed). */
static void remove_tree(const char *dir) {
  DIR *d = opendir(dir);
  if (d) {
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
      if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
      char path[4096];
      if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path) continue;
      struct stat st;
      if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) remove_tree(path);
      else unlink(path);
    }
    closedir(d);
  }
  rmdir(dir);
}

static void abandon_staging(void) {
  if (staging[0]) remove_tree(staging);
  staging[0] = '\0';
  if (staging_lock >= 0) close(staging_lock); /* after the removal: nobody else removes it meanwhile */
  staging_lock = -1;
}

static int join(char *buf, size_t size, const char *dir, const char *name) {
  if (snprintf(buf, size, "%s/%s", dir, name) < (int)size) return 0;
  fprintf(stderr, "error: path too long: %s/%s\n", dir, name);
  return 1;
}

/* Staging directories of runs that no longer run: their lock is free. */
static void remove_stale_staging(const char *out) {
  DIR *d = opendir(out);
  if (!d) return;
  const size_t prefix = strlen(STAGING_PREFIX);
  for (struct dirent *e; (e = readdir(d)) != NULL;) {
    char dir[4096], lock[4096];
    if (strncmp(e->d_name, STAGING_PREFIX, prefix) != 0 || join(dir, sizeof dir, out, e->d_name) ||
        join(lock, sizeof lock, dir, STAGING_LOCK) || (staging[0] && !strcmp(dir, staging)))
      continue;
    struct stat st;
    if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) continue;
    const int fd = open(lock, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
      if (errno == ENOENT && time(NULL) - st.st_mtime > STAGING_UNLOCKED_SECONDS) remove_tree(dir);
      continue;
    }
    /* Unlocked and not just made: a run that has created its lock file but
     * not yet locked it is seconds old. */
    if (time(NULL) - st.st_mtime > STAGING_RACE_SECONDS && flock(fd, LOCK_EX | LOCK_NB) == 0)
      remove_tree(dir); /* held while removing */
    close(fd);
  }
  closedir(d);
}

/* Creates the staging directory under `out` and takes its lock. */
static int create_staging(const char *out) {
  char lock[4096];
  if (join(staging, sizeof staging, out, STAGING_PREFIX "XXXXXX")) {
    staging[0] = '\0';
    return 1;
  }
  if (!mkdtemp(staging)) {
    fprintf(stderr, "error: cannot create a staging directory in %s: %s\n", out, strerror(errno));
    staging[0] = '\0';
    return 1;
  }
  if (join(lock, sizeof lock, staging, STAGING_LOCK) ||
      (staging_lock = open(lock, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0 ||
      flock(staging_lock, LOCK_EX | LOCK_NB) != 0) {
    fprintf(stderr, "error: cannot lock %s: %s\n", lock, strerror(errno));
    abandon_staging();
    return 1;
  }
  return 0;
}

#define PUBLISH_MAX 64

/* Every file a report may publish: one a new report lacks (an ensemble's has
 * no model.dcnn or training curves) is moved aside with the rest, so that a
 * report replaces its predecessor whole. */
static const char *const report_files[] = {"accuracy.svg", "confusion.csv", "confusion.svg",     "history.csv",
                                           "loss.svg",     "metrics.json",  "misclassified.png", "model.dcnn",
                                           "roc.csv",      "roc.svg"};

/* Moves every staged entry into `out`, index.html last, each previous one
 * aside first, and aside too every earlier report file the new report lacks;
 * on a failure moves everything back (see above). */
static int publish_staging(const char *out) {
  char names[PUBLISH_MAX][256], previous[4096];
  int staged[PUBLISH_MAX] = {0}; /* 0: an earlier report's file, only moved aside */
  int count = 0, failed = join(previous, sizeof previous, staging, STAGING_PREVIOUS);
  if (!failed && mkdir(previous, 0755) != 0) {
    fprintf(stderr, "error: cannot create %s: %s\n", previous, strerror(errno));
    failed = 1;
  }
  DIR *d = failed ? NULL : opendir(staging);
  if (!failed && !d) failed = 1;
  for (struct dirent *e; d && !failed && (e = readdir(d)) != NULL;) {
    const char *name = e->d_name;
    if (!strcmp(name, ".") || !strcmp(name, "..") || !strcmp(name, STAGING_LOCK) || !strcmp(name, STAGING_PREVIOUS) ||
        !strcmp(name, "index.html"))
      continue;
    if (count == PUBLISH_MAX - 1 || strlen(name) >= sizeof names[0]) failed = 1;
    else staged[count] = 1, snprintf(names[count++], sizeof names[0], "%s", name);
  }
  if (d) closedir(d);
  const int staged_count = count;
  for (size_t f = 0; !failed && f < sizeof report_files / sizeof report_files[0]; ++f) {
    int present = 0;
    for (int i = 0; i < staged_count && !present; ++i) present = strcmp(names[i], report_files[f]) == 0;
    if (present) continue;
    if (count == PUBLISH_MAX - 1) failed = 1;
    else snprintf(names[count++], sizeof names[0], "%s", report_files[f]);
  }
  staged[count] = 1;
  snprintf(names[count++], sizeof names[0], "index.html");
  int done = 0, had[PUBLISH_MAX] = {0};
  for (; !failed && done < count; ++done) {
    char from[4096], to[4096], aside[4096];
    if (join(from, sizeof from, staging, names[done]) || join(to, sizeof to, out, names[done]) ||
        join(aside, sizeof aside, previous, names[done])) {
      failed = 1;
      break;
    }
    had[done] = publish_rename(to, aside) == 0;
    if (!had[done] && errno != ENOENT) {
      fprintf(stderr, "error: cannot move %s aside: %s\n", to, strerror(errno));
      failed = 1;
      break;
    }
    if (!staged[done]) continue; /* an earlier report's file this one lacks: aside is all */
    if (publish_rename(from, to) != 0) {
      fprintf(stderr, "error: cannot move %s to %s: %s\n", from, to, strerror(errno));
      if (had[done]) rename(aside, to);
      failed = 1;
      break;
    }
  }
  if (failed) /* put back what was replaced, newest first */
    for (int i = done - 1; i >= 0; --i) {
      char from[4096], to[4096], aside[4096];
      if (join(from, sizeof from, staging, names[i]) || join(to, sizeof to, out, names[i]) ||
          join(aside, sizeof aside, previous, names[i]))
        continue;
      if (staged[i]) rename(to, from);
      if (had[i]) rename(aside, to);
    }
  abandon_staging();
  if (failed) fprintf(stderr, "error: the report was not published; %s is as it was\n", out);
  return failed;
}

static int write_report_files(const char *dir, const paper_run *run, dcnn_model *model, const dcnn_trainer *trainer,
                              const dcnn_metrics *m, const dcnn_dataset *test, const test_predictions *pred,
                              const char *summary);

int write_report(const paper_run *run, dcnn_model *model, const dcnn_trainer *trainer, const dcnn_metrics *m,
                 const dcnn_dataset *test, const test_predictions *pred, const char *summary) {
  if (example_make_dirs(run->out)) {
    return 1;
  }
  remove_stale_staging(run->out);
  static int registered;
  if (!registered) registered = atexit(abandon_staging) == 0;
  if (create_staging(run->out)) return 1;
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", staging);
  if (write_report_files(dir, run, model, trainer, m, test, pred, summary)) {
    abandon_staging();
    fprintf(stderr, "error: the report was not written; %s is as it was\n", run->out);
    return 1;
  }
  if (publish_staging(run->out)) return 1;
  printf("\nReport: %s/index.html (charts, confusion matrix, ROC curves, misclassified digits, JSON, CSV, %s)\n",
         run->out, run->members > 0 ? "the members' models in members/" : "model.dcnn");
  return 0;
}

static int write_report_files(const char *dir, const paper_run *run, dcnn_model *model, const dcnn_trainer *trainer,
                              const dcnn_metrics *m, const dcnn_dataset *test, const test_predictions *pred,
                              const char *summary) {
  if (run->members > 0) /* an ensemble: its members' models and histories are in OUT/members/ */
    return write_report_pages(dir, run, NULL, 0, m, test, pred, summary);
  EXAMPLE_CHECK(dcnn_trainer_write_history(trainer, example_path(dir, "history.csv")));
  EXAMPLE_CHECK(dcnn_model_save(model, example_path(dir, "model.dcnn")));
  int32_t epochs = 0;
  report_epoch *history = report_history(trainer, &epochs);
  if (!history) return 1;
  const int failed = write_report_pages(dir, run, history, epochs, m, test, pred, summary);
  free(history);
  return failed;
}

/* `text` inside <pre>, escaped. */
static void pre(FILE *f, const char *text) {
  fputs("<pre>", f);
  example_html_escape(f, text);
  fputs("</pre>\n", f);
}

int write_report_pages(const char *dir, const paper_run *run, const report_epoch *history, int32_t epochs,
                       const dcnn_metrics *m, const dcnn_dataset *test, const test_predictions *pred,
                       const char *summary) {
  EXAMPLE_CHECK(dcnn_metrics_write(m, DCNN_FORMAT_JSON, NULL, example_path(dir, "metrics.json")));
  EXAMPLE_CHECK(dcnn_metrics_write(m, DCNN_FORMAT_CONFUSION_CSV, NULL, example_path(dir, "confusion.csv")));
  EXAMPLE_CHECK(dcnn_metrics_write(m, DCNN_FORMAT_ROC_CSV, NULL, example_path(dir, "roc.csv")));
  const int32_t best_epoch = report_best_epoch(run, history, epochs);
  if (write_charts(dir, history, epochs, best_epoch, m)) return 1;

  char *html = NULL, *block = NULL, *classes = NULL;
  size_t size = 0;
  FILE *f = open_memstream(&html, &size);
  if (!f) return 1;
  EXAMPLE_CHECK(dcnn_metrics_format(m, DCNN_FORMAT_SUMMARY, NULL, &block));
  EXAMPLE_CHECK(dcnn_metrics_format(m, DCNN_FORMAT_CLASS_TABLE, NULL, &classes));
  time_t when = time(NULL);
  char date[64], host[256] = "";
  strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&when));
  gethostname(host, sizeof host - 1);
  fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>libdigitcnn: the paper CNN on "
             "MNIST-M</title>\n<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
             "th:first-child,td:first-child{text-align:left}pre{background:#f6f6f6;padding:8px;overflow-x:auto}"
             ".tiles{display:flex;flex-wrap:wrap;gap:6px}figure{margin:0;text-align:center;font-size:12px}"
             "figure img{width:64px;height:64px;image-rendering:pixelated}.charts img{max-width:540px}"
             ".note{color:#555;font-size:14px}</style></head><body>\n");
  if (run->members > 0) {
    fprintf(f, "<h1>An ensemble of the paper CNN family on MNIST-M</h1>\n<p>libdigitcnn %s, %s, %d thread%s. %d "
               "models, each trained by its own recipe on the same split with seed %llu%s, their probabilities "
               "averaged. Training took %.1f s in all (",
            dcnn_version_string(), date, (int)run->threads, run->threads == 1 ? "" : "s", (int)run->members,
            (unsigned long long)run->seed, run->quick ? " (quick mode: a subset)" : "", run->train_seconds);
    example_html_escape(f, run->members_note);
    fprintf(f, "); the test set was evaluated once. Each member's model, history and settings are in "
               "<code>members/</code>.</p>\n");
  } else {
    fprintf(f, "<h1>The paper CNN on MNIST-M</h1>\n<p>libdigitcnn %s, %s, %d thread%s. %s input, augmentation %s, "
               "%d epochs trained, batch %d, %s %g, ",
            dcnn_version_string(), date, (int)run->threads, run->threads == 1 ? "" : "s", run->rgb ? "RGB" : "Grayscale",
            run->augment ? "on" : "off", (int)run->epochs_trained, (int)run->batch, run->optimizer ? run->optimizer : "Adam", run->lr);
    example_html_escape(f, run->schedule);
    fprintf(f, " learning rate, seed %llu%s. Training took %.1f s (%.1f s per epoch); the test set was evaluated once, "
               "with the weights of %s.</p>\n",
            (unsigned long long)run->seed, run->quick ? " (quick mode: a subset)" : "", run->train_seconds,
            run->train_seconds / (epochs > 0 ? epochs : 1), run->best_epoch ? "the best validation epoch" : "the last epoch");
  }
  if (run->settings) {
    fprintf(f, "<p>Recipe <code>");
    example_html_escape(f, run->recipe);
    fprintf(f, "</code>: <code>");
    example_html_escape(f, run->settings);
    fprintf(f, "</code>%s</p>\n", run->tta > 1 ? " (test predictions averaged over shifted copies)" : "");
  }
  if (run->validation_count > 0)
    fprintf(f, "<p>Data: %d training and %d validation images (%.0f%% of the training set held out), %d test images, "
               "from <code>",
            (int)run->train_count, (int)run->validation_count, 100 * run->val_fraction, (int)dcnn_dataset_count(test));
  else
    fprintf(f, "<p>Data: %d training images (all of them: no validation split), %d test images, from <code>",
            (int)run->train_count, (int)dcnn_dataset_count(test));
  example_html_escape(f, run->data);
  fprintf(f, "</code>%s.</p>\n", run->quick ? " (quick mode: stratified subsets)" : "");
  const double ours[7] = {metric(m, DCNN_METRIC_ACCURACY, DCNN_AVERAGE_MACRO), metric(m, DCNN_METRIC_F1, DCNN_AVERAGE_WEIGHTED),
                          metric(m, DCNN_METRIC_ROC_AUC, DCNN_AVERAGE_MACRO), metric(m, DCNN_METRIC_PRECISION, DCNN_AVERAGE_WEIGHTED),
                          metric(m, DCNN_METRIC_RECALL, DCNN_AVERAGE_WEIGHTED), metric(m, DCNN_METRIC_SPECIFICITY, DCNN_AVERAGE_MACRO),
                          metric(m, DCNN_METRIC_G_MEASURE, DCNN_AVERAGE_WEIGHTED)};
  const double claims[7] = {claim_accuracy, claim_f1, claim_auc, claim_precision, claim_recall, 0.9990, claim_g};
  fprintf(f, "<h2>Table 1, measured</h2>\n<table><tr><th>Model</th><th>Accuracy</th><th>F1-score</th><th>AUC</th>"
             "<th>Precision</th><th>Recall</th><th>Specificity</th><th>G-measure</th></tr>\n<tr><td>Paper CNN "
             "(measured here, MNIST-M test set)</td>");
  for (int i = 0; i < 7; ++i) { /* an undefined AUC (a class absent from the test set) reads as on the console */
    if (isnan(ours[i])) fprintf(f, "<td>n/a</td>");
    else fprintf(f, "<td>%.2f%%</td>", 100 * ours[i]);
  }
  fprintf(f, "</tr>\n<tr><td>Proposed model (the paper's claim)</td>");
  for (int i = 0; i < 7; ++i) fprintf(f, "<td>%.2f%%</td>", 100 * claims[i]);
  fprintf(f, "</tr></table>\n<p>Precision, recall, F1 and G-measure are support-weighted, specificity and AUC "
             "macro-averaged (see docs/metrics.md). The paper's figures are most likely MNIST figures "
             "(docs/results.md explains why).</p>\n<h2>Metric block (paper's Figure 4 format)</h2>\n");
  pre(f, block);
  if (epochs > 0) {
    fprintf(f, "<h2>Training curves</h2>\n");
    const report_epoch *best = epoch_of(history, epochs, best_epoch);
    if (best)
      fprintf(f, "<p>Best epoch: <b>%d</b> of %d (validation accuracy %.2f%%, validation loss %.4f), marked on both "
                 "charts; the test set was evaluated with %s.</p>\n",
              (int)best_epoch, (int)epochs, 100 * best->val_accuracy, best->val_loss,
              run->best_epoch ? "its weights" : "the last epoch's weights (--no-keep-best)");
    fprintf(f, "<div class=\"charts\"><img src=\"loss.svg\" alt=\"loss per epoch\"> "
               "<img src=\"accuracy.svg\" alt=\"accuracy per epoch\"></div>\n<p><a href=\"history.csv\">history.csv</a></p>\n");
  }
  fprintf(f, "<h2>Confusion matrix and ROC curves</h2>\n<div class=\"charts\"><img src=\"confusion.svg\" "
             "alt=\"confusion matrix\"> <img src=\"roc.svg\" alt=\"ROC curves\"></div>\n<p class=\"note\">Confusion "
             "matrix: rows are true classes; a cell's shade is its share of the row (blue on the diagonal, red for "
             "errors, full red from a quarter of the row up). ROC curves: the false positive rate on a logarithmic "
             "axis, where a rate of 0 sits on the left edge; the dashed grey curve is chance (y = x).</p>\n"
             "<p><a href=\"confusion.csv\">confusion.csv</a> &middot; <a href=\"roc.csv\">roc.csv</a> (every point) "
             "&middot; <a href=\"metrics.json\">metrics.json</a>%s</p>\n<h2>Per class</h2>\n",
          epochs > 0 ? " &middot; <a href=\"model.dcnn\">model.dcnn</a> (the trained model, dcnn_model_load)" : "");
  pre(f, classes);
  int failed = write_misclassified(dir, test, pred, f);
  fprintf(f, "<h2>%s</h2>\n", run->members > 0 ? "Models" : "Model");
  pre(f, summary);
  fprintf(f, "<h2>Command</h2>\n<pre>");
  for (int i = 0; i < run->argc; ++i) {
    if (i) fputc(' ', f);
    example_html_escape(f, run->argv[i]);
  }
  fprintf(f, "</pre>\n<p>Machine: ");
  example_html_escape(f, host);
  fprintf(f, ", %ld online cores.</p>\n</body></html>\n", sysconf(_SC_NPROCESSORS_ONLN));
  failed |= fclose(f) != 0;
  failed |= example_write_text(example_path(dir, "index.html"), html);
  free(html);
  dcnn_free(block);
  dcnn_free(classes);
  return failed;
}
