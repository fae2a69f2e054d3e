/* Text renderings of the metrics: a summary, a Markdown table row, a
 * per-class table, JSON, and CSV for the confusion matrix and ROC curves. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/c_locale.h"
#include "../io/atomic_file.h"
#include "metrics_internal.h"

/* The six metrics reported both macro- and weighted-averaged, in report order. */
enum { PRECISION, RECALL, SPECIFICITY, F1, G_MEASURE, ROC_AUC, AVERAGED };

static const dcnn_metric averaged_metric[AVERAGED] = {DCNN_METRIC_PRECISION, DCNN_METRIC_RECALL,
                                                      DCNN_METRIC_SPECIFICITY, DCNN_METRIC_F1,
                                                      DCNN_METRIC_G_MEASURE, DCNN_METRIC_ROC_AUC};
static const char *const averaged_name[AVERAGED] = {"precision", "recall", "specificity", "f1", "g_measure", "roc_auc"};

typedef struct summary {
  double accuracy, log_loss, top3;
  double macro[AVERAGED], weighted[AVERAGED], micro[AVERAGED]; /* indexed by PRECISION ... ROC_AUC */
} summary;

static dcnn_status summarize(const dcnn_metrics *m, summary *s) {
  DCNN_TRY(dcnn_metrics_get(m, DCNN_METRIC_ACCURACY, DCNN_AVERAGE_MACRO, &s->accuracy));
  DCNN_TRY(dcnn_metrics_get(m, DCNN_METRIC_LOG_LOSS, DCNN_AVERAGE_MACRO, &s->log_loss));
  DCNN_TRY(dcnn_metrics_top_k_accuracy(m, m->classes < 3 ? m->classes : 3, &s->top3));
  for (int i = 0; i < AVERAGED; ++i) {
    DCNN_TRY(dcnn_metrics_get(m, averaged_metric[i], DCNN_AVERAGE_MACRO, &s->macro[i]));
    DCNN_TRY(dcnn_metrics_get(m, averaged_metric[i], DCNN_AVERAGE_WEIGHTED, &s->weighted[i]));
    s->micro[i] = NAN; /* computed for JSON only: the micro AUC ranks all N K scores */
  }
  return DCNN_OK;
}

/* Reports are read by programs: every number goes through dcnn__format_number ('.' whatever the locale). */
typedef char number[DCNN__NUMBER_BYTES];

static const char *num(number text, char conversion, int precision, double v) {
  dcnn__format_number(text, sizeof(number), conversion, precision, v);
  return text;
}

#define SUMMARY_DIGITS 10 /* significant digits of the summary's plain numbers */

/* An undefined value (the AUC of a class without negatives) reads "n/a" in text, as in the Markdown row. */
static const char *plain(number text, double v) {
  if (isnan(v)) return strcpy(text, "n/a");
  return num(text, 'g', SUMMARY_DIGITS, v);
}

static void json_number(FILE *f, double v) {
  number t;
  if (isfinite(v)) fputs(num(t, 'g', 17, v), f);
  else fputs("null", f);
}

static void percent_cell(FILE *f, double v) {
  number t;
  if (isfinite(v)) fprintf(f, " %6s%% |", num(t, 'f', 2, 100.0 * v));
  else fputs("    n/a |", f);
}

/* DCNN_FORMAT_SUMMARY: labelled lines; weighted precision, recall, F1 and G,
 * macro specificity and AUC (the choice of the paper's Figure 4). */
static dcnn_status render_summary(const dcnn_metrics *m, FILE *f) {
  summary s;
  number a, b, c;
  DCNN_TRY(summarize(m, &s));
  fprintf(f, "Test Accuracy: %s\n", plain(a, s.accuracy));
  fprintf(f, "Test Accuracy: %s%%\n", num(a, 'f', 2, 100.0 * s.accuracy));
  fprintf(f, "%s: %s\n", dcnn_metrics_classes(m) == 2 ? "AUC (binary, class 1)" : "AUC (one-vs-rest, macro)",
          plain(a, s.macro[ROC_AUC]));
  fprintf(f, "Precision (weighted): %s Recall (Sensitivity, weighted): %s Specificity (macro): %s\n",
          plain(a, s.weighted[PRECISION]), plain(b, s.weighted[RECALL]), plain(c, s.macro[SPECIFICITY]));
  fprintf(f, "F1-score (weighted): %s G-measure (weighted): %s\n", plain(a, s.weighted[F1]),
          plain(b, s.weighted[G_MEASURE]));
  return DCNN_OK;
}

/* DCNN_FORMAT_MARKDOWN_ROW: "| label | accuracy | F1 | AUC | precision | recall | specificity | G |" in %. */
static dcnn_status render_markdown_row(const dcnn_metrics *m, const char *label, FILE *f) {
  summary s;
  DCNN_TRY(summarize(m, &s));
  const double cells[] = {s.accuracy,         s.weighted[F1],     s.macro[ROC_AUC],    s.weighted[PRECISION],
                          s.weighted[RECALL], s.macro[SPECIFICITY], s.weighted[G_MEASURE]};
  /* the label stays one cell of one row: '|' escaped, line breaks as spaces */
  fputs("| ", f);
  for (const char *p = label ? label : "model"; *p; ++p) {
    if (*p == '|' || *p == '\\') fputc('\\', f);
    fputc(*p == '\n' || *p == '\r' ? ' ' : *p, f);
  }
  fputs(" |", f);
  for (size_t i = 0; i < sizeof cells / sizeof cells[0]; ++i) percent_cell(f, cells[i]);
  fputc('\n', f);
  return DCNN_OK;
}

/* One row of the class table: the six metrics then the support (or the count of samples). */
static void class_table_row(FILE *f, const char *label, const double metrics[AVERAGED], double support) {
  number t[AVERAGED + 1];
  for (int i = 0; i < AVERAGED; ++i) {
    if (isnan(metrics[i])) strcpy(t[i], "n/a");
    else num(t[i], 'f', 4, metrics[i]);
  }
  num(t[AVERAGED], 'f', 0, support);
  fprintf(f, "%-5s %9s %9s %11s %9s %9s %9s %8s\n", label, t[PRECISION], t[RECALL], t[SPECIFICITY], t[F1],
          t[G_MEASURE], t[ROC_AUC], t[AVERAGED]);
}

/* The six metrics and the support of class c. */
static dcnn_status class_metrics(const dcnn_metrics *m, int32_t c, double metrics[AVERAGED], double *support) {
  for (int i = 0; i < AVERAGED; ++i) DCNN_TRY(dcnn_metrics_class(m, averaged_metric[i], c, &metrics[i]));
  return dcnn_metrics_class(m, DCNN_METRIC_SUPPORT, c, support);
}

/* DCNN_FORMAT_CLASS_TABLE: a row per class, then the macro and weighted averages. */
static dcnn_status render_class_table(const dcnn_metrics *m, FILE *f) {
  summary s;
  DCNN_TRY(summarize(m, &s));
  fprintf(f, "%5s %9s %9s %11s %9s %9s %9s %8s\n", "class", "precision", "recall", "specificity", "f1", "g", "auc",
          "support");
  for (int32_t c = 0; c < m->classes; ++c) {
    double metrics[AVERAGED], support;
    DCNN_TRY(class_metrics(m, c, metrics, &support));
    char label[16];
    snprintf(label, sizeof label, "%5d", (int)c);
    class_table_row(f, label, metrics, support);
  }
  class_table_row(f, "macro", s.macro, (double)m->count);
  class_table_row(f, "wavg", s.weighted, (double)m->count);
  return DCNN_OK;
}

/* `"name": value` pairs of the six metrics, comma-separated. */
static void json_averaged(FILE *f, const double metrics[AVERAGED]) {
  for (int i = 0; i < AVERAGED; ++i) {
    fprintf(f, "%s\"%s\": ", i ? ", " : "", averaged_name[i]);
    json_number(f, metrics[i]);
  }
}

static dcnn_status json_per_class(const dcnn_metrics *m, FILE *f) {
  fputs(",\n  \"per_class\": [", f);
  for (int32_t c = 0; c < m->classes; ++c) {
    double metrics[AVERAGED], support;
    number t;
    DCNN_TRY(class_metrics(m, c, metrics, &support));
    fprintf(f, "%s\n    {\"class\": %d, ", c ? "," : "", (int)c);
    json_averaged(f, metrics);
    fprintf(f, ", \"support\": %s}", num(t, 'f', 0, support));
  }
  fputs("\n  ]", f);
  return DCNN_OK;
}

/* Row t (a true class) of the confusion matrix: the counts of each predicted class. */
static void confusion_row(const dcnn_metrics *m, int32_t t, const char *separator, FILE *f) {
  const int64_t *row = m->confusion + (int64_t)t * m->classes; /* (classes) */
  for (int32_t p = 0; p < m->classes; ++p) fprintf(f, "%s%lld", p ? separator : "", (long long)row[p]);
}

/* DCNN_FORMAT_JSON: every result as one object (undefined values null). */
static dcnn_status render_json(const dcnn_metrics *m, FILE *f) {
  summary s;
  DCNN_TRY(summarize(m, &s));
  fprintf(f, "{\n  \"samples\": %lld,\n  \"classes\": %d,\n  \"accuracy\": ", (long long)m->count, (int)m->classes);
  json_number(f, s.accuracy);
  fputs(",\n  \"top_3_accuracy\": ", f);
  json_number(f, s.top3);
  fputs(",\n  \"log_loss\": ", f);
  json_number(f, s.log_loss);
  fputs(",\n  \"macro\": {", f);
  json_averaged(f, s.macro);
  fputs("},\n  \"weighted\": {", f);
  json_averaged(f, s.weighted);
  for (int i = 0; i < AVERAGED; ++i)
    DCNN_TRY(dcnn_metrics_get(m, averaged_metric[i], DCNN_AVERAGE_MICRO, &s.micro[i]));
  fputs("},\n  \"micro\": {", f);
  json_averaged(f, s.micro);
  fputc('}', f);
  DCNN_TRY(json_per_class(m, f));
  fputs(",\n  \"confusion_matrix\": [", f);
  for (int32_t t = 0; t < m->classes; ++t) {
    fprintf(f, "%s\n    [", t ? "," : "");
    confusion_row(m, t, ", ", f);
    fputc(']', f);
  }
  fputs("\n  ]\n}\n", f);
  return DCNN_OK;
}

/* DCNN_FORMAT_CONFUSION_CSV: rows true classes, columns predicted ones. */
static dcnn_status render_confusion_csv(const dcnn_metrics *m, FILE *f) {
  fputs("true\\predicted", f);
  for (int32_t p = 0; p < m->classes; ++p) fprintf(f, ",%d", (int)p);
  fputc('\n', f);
  for (int32_t t = 0; t < m->classes; ++t) {
    fprintf(f, "%d,", (int)t);
    confusion_row(m, t, ",", f);
    fputc('\n', f);
  }
  return DCNN_OK;
}

/* Whether class c has both positive and negative samples. Decided from the
 * counts, not by a failing dcnn_metrics_roc_curve: a successful report must
 * leave the caller's error message alone. */
static int roc_defined(const dcnn_metrics *m, int32_t c) {
  int64_t positives = 0;
  for (int32_t p = 0; p < m->classes; ++p) positives += m->confusion[(int64_t)c * m->classes + p];
  return positives > 0 && positives < m->count;
}

/* DCNN_FORMAT_ROC_CSV: class,fpr,tpr rows of every class whose curve is defined. */
static dcnn_status render_roc_csv(const dcnn_metrics *m, FILE *f) {
  fputs("class,fpr,tpr\n", f);
  for (int32_t c = 0; c < m->classes; ++c) {
    if (!roc_defined(m, c)) continue;
    int64_t points = 0;
    DCNN_TRY(dcnn_metrics_roc_curve(m, c, NULL, NULL, 0, &points));
    double *fpr = dcnn__alloc(m->ctx, (size_t)points * sizeof(double)); /* (points) */
    double *tpr = dcnn__alloc(m->ctx, (size_t)points * sizeof(double)); /* (points) */
    dcnn_status status = (fpr && tpr) ? dcnn_metrics_roc_curve(m, c, fpr, tpr, points, &points)
                                      : dcnn__fail(DCNN_ERR_OUT_OF_MEMORY, "metrics: out of memory");
    number a, b;
    for (int64_t i = 0; status == DCNN_OK && i < points; ++i)
      fprintf(f, "%d,%s,%s\n", (int)c, num(a, 'g', 8, fpr[i]), num(b, 'g', 8, tpr[i]));
    dcnn__release(m->ctx, fpr);
    dcnn__release(m->ctx, tpr);
    DCNN_TRY(status);
  }
  return DCNN_OK;
}

static dcnn_status render(const dcnn_metrics *m, dcnn_metrics_format_kind kind, const char *label, FILE *f) {
  switch (kind) {
    case DCNN_FORMAT_SUMMARY: return render_summary(m, f);
    case DCNN_FORMAT_MARKDOWN_ROW: return render_markdown_row(m, label, f);
    case DCNN_FORMAT_CLASS_TABLE: return render_class_table(m, f);
    case DCNN_FORMAT_JSON: return render_json(m, f);
    case DCNN_FORMAT_CONFUSION_CSV: return render_confusion_csv(m, f);
    case DCNN_FORMAT_ROC_CSV: return render_roc_csv(m, f);
  }
  return dcnn__fail(DCNN_ERR_INVALID_ARGUMENT, "dcnn_metrics_format: unknown format %d", (int)kind);
}

dcnn_status dcnn_metrics_format(const dcnn_metrics *m, dcnn_metrics_format_kind kind, const char *label,
                                char **text) {
  DCNN_CHECK_ARG(text);
  *text = NULL;
  DCNN_CHECK_ARG(m);
  /* The argument before the state: an unknown format is a bad call even on an empty accumulator. */
  DCNN_CHECK(kind == DCNN_FORMAT_SUMMARY || kind == DCNN_FORMAT_MARKDOWN_ROW || kind == DCNN_FORMAT_CLASS_TABLE ||
                 kind == DCNN_FORMAT_JSON || kind == DCNN_FORMAT_CONFUSION_CSV || kind == DCNN_FORMAT_ROC_CSV,
             DCNN_ERR_INVALID_ARGUMENT, "dcnn_metrics_format: unknown format %d", (int)kind);
  DCNN_CHECK(m->count > 0, DCNN_ERR_INVALID_STATE, "dcnn_metrics_format: no samples added yet");
  size_t size = 0;
  FILE *f = open_memstream(text, &size);
  DCNN_CHECK(f != NULL, DCNN_ERR_OUT_OF_MEMORY, "dcnn_metrics_format: out of memory");
  dcnn_status status = render(m, kind, label, f);
  if (fclose(f) != 0 && status == DCNN_OK) status = dcnn__fail(DCNN_ERR_OUT_OF_MEMORY, "dcnn_metrics_format: out of memory");
  if (status != DCNN_OK) {
    free(*text);
    *text = NULL;
  }
  return status;
}

dcnn_status dcnn_metrics_write(const dcnn_metrics *m, dcnn_metrics_format_kind kind, const char *label,
                               const char *path) {
  DCNN_CHECK_ARG(m);
  DCNN_CHECK_ARG(path);
  char *text = NULL;
  DCNN_TRY(dcnn_metrics_format(m, kind, label, &text));
  dcnn_status status = dcnn__write_file_atomic(path, text, strlen(text));
  free(text);
  return status;
}
