/* Text renderings of the metrics: the paper's Figure 4 block, a Table 1 row,
 * a per-class table, JSON, and CSV for the confusion matrix and ROC curves. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/c_locale.h"
#include "../io/atomic_file.h"
#include "metrics_internal.h"

typedef struct summary {
  double accuracy, log_loss, top3;
  double avg[2][6]; /* [macro|weighted][precision, recall, specificity, f1, g, auc] */
} summary;

static const dcnn_metric averaged[6] = {DCNN_METRIC_PRECISION, DCNN_METRIC_RECALL, DCNN_METRIC_SPECIFICITY,
                                        DCNN_METRIC_F1, DCNN_METRIC_G_MEASURE, DCNN_METRIC_ROC_AUC};
static const char *const averaged_names[6] = {"precision", "recall", "specificity", "f1", "g_measure", "roc_auc"};

static dcnn_status summarize(const dcnn_metrics *m, summary *s) {
  DCNN_TRY(dcnn_metrics_get(m, DCNN_METRIC_ACCURACY, DCNN_AVERAGE_MACRO, &s->accuracy));
  DCNN_TRY(dcnn_metrics_get(m, DCNN_METRIC_LOG_LOSS, DCNN_AVERAGE_MACRO, &s->log_loss));
  DCNN_TRY(dcnn_metrics_top_k_accuracy(m, m->classes < 3 ? m->classes : 3, &s->top3));
  for (int a = 0; a < 2; ++a)
    for (int i = 0; i < 6; ++i) DCNN_TRY(dcnn_metrics_get(m, averaged[i], (dcnn_average)a, &s->avg[a][i]));
  return DCNN_OK;
}

/* Reports are read by programs: every number goes through dcnn__format_number ('.' whatever the locale). */
typedef char number[DCNN__NUMBER_BYTES];

static const char *num(number text, char conversion, int precision, double v) {
  dcnn__format_number(text, sizeof(number), conversion, precision, v);
  return text;
}

static void json_number(FILE *f, double v) {
  number t;
  if (isfinite(v)) fputs(num(t, 'g', 17, v), f);
  else fputs("null", f);
}

static void percent(FILE *f, double v) {
  number t;
  if (isfinite(v)) fprintf(f, " %6s%% |", num(t, 'f', 2, 100.0 * v));
  else fputs("    n/a |", f);
}

static dcnn_status render(const dcnn_metrics *m, dcnn_metrics_format_kind kind, const char *label, FILE *f) {
  const int32_t k = m->classes;
  summary s;
  number nums[7];
  switch (kind) {
    case DCNN_FORMAT_PAPER_BLOCK:
      DCNN_TRY(summarize(m, &s));
      fprintf(f, "Test Accuracy: %s\n", num(nums[0], 'g', 10, s.accuracy));
      fprintf(f, "Test Accuracy: %s%%\n", num(nums[0], 'f', 2, 100.0 * s.accuracy));
      fprintf(f, "AUC (one-vs-rest, macro): %s\n", num(nums[0], 'g', 10, s.avg[0][5]));
      fprintf(f, "Precision (weighted): %s Recall (Sensitivity, weighted): %s Specificity (macro): %s\n",
              num(nums[0], 'g', 10, s.avg[1][0]), num(nums[1], 'g', 10, s.avg[1][1]), num(nums[2], 'g', 10, s.avg[0][2]));
      fprintf(f, "F1-score (weighted): %s G-measure (weighted): %s\n", num(nums[0], 'g', 10, s.avg[1][3]),
              num(nums[1], 'g', 10, s.avg[1][4]));
      return DCNN_OK;
    case DCNN_FORMAT_TABLE1_ROW:
      DCNN_TRY(summarize(m, &s));
      fprintf(f, "| %s |", label ? label : "model");
      percent(f, s.accuracy);
      percent(f, s.avg[1][3]);
      percent(f, s.avg[0][5]);
      percent(f, s.avg[1][0]);
      percent(f, s.avg[1][1]);
      percent(f, s.avg[0][2]);
      percent(f, s.avg[1][4]);
      fputc('\n', f);
      return DCNN_OK;
    case DCNN_FORMAT_CLASS_TABLE:
      DCNN_TRY(summarize(m, &s));
      fprintf(f, "%5s %9s %9s %11s %9s %9s %9s %8s\n", "class", "precision", "recall", "specificity", "f1", "g",
              "auc", "support");
      for (int32_t c = 0; c < k; ++c) {
        double v[7];
        const dcnn_metric order[7] = {DCNN_METRIC_PRECISION, DCNN_METRIC_RECALL, DCNN_METRIC_SPECIFICITY,
                                      DCNN_METRIC_F1, DCNN_METRIC_G_MEASURE, DCNN_METRIC_ROC_AUC,
                                      DCNN_METRIC_SUPPORT};
        for (int i = 0; i < 7; ++i) DCNN_TRY(dcnn_metrics_class(m, order[i], c, &v[i]));
        for (int i = 0; i < 7; ++i) num(nums[i], 'f', i < 6 ? 4 : 0, v[i]);
        fprintf(f, "%5d %9s %9s %11s %9s %9s %9s %8s\n", (int)c, nums[0], nums[1], nums[2], nums[3], nums[4],
                nums[5], nums[6]);
      }
      for (int a = 0; a < 2; ++a) {
        for (int i = 0; i < 6; ++i) num(nums[i], 'f', 4, s.avg[a][i]);
        fprintf(f, "%-5s %9s %9s %11s %9s %9s %9s %8lld\n", a ? "wavg" : "macro", nums[0], nums[1], nums[2], nums[3],
                nums[4], nums[5], (long long)m->count);
      }
      return DCNN_OK;
    case DCNN_FORMAT_JSON:
      DCNN_TRY(summarize(m, &s));
      fprintf(f, "{\n  \"samples\": %lld,\n  \"classes\": %d,\n  \"accuracy\": ", (long long)m->count, (int)k);
      json_number(f, s.accuracy);
      fputs(",\n  \"top_3_accuracy\": ", f);
      json_number(f, s.top3);
      fputs(",\n  \"log_loss\": ", f);
      json_number(f, s.log_loss);
      for (int a = 0; a < 2; ++a) {
        fprintf(f, ",\n  \"%s\": {", a ? "weighted" : "macro");
        for (int i = 0; i < 6; ++i) {
          fprintf(f, "%s\"%s\": ", i ? ", " : "", averaged_names[i]);
          json_number(f, s.avg[a][i]);
        }
        fputc('}', f);
      }
      fputs(",\n  \"per_class\": [", f);
      for (int32_t c = 0; c < k; ++c) {
        fprintf(f, "%s\n    {\"class\": %d", c ? "," : "", (int)c);
        for (int i = 0; i < 6; ++i) {
          double v;
          DCNN_TRY(dcnn_metrics_class(m, averaged[i], c, &v));
          fprintf(f, ", \"%s\": ", averaged_names[i]);
          json_number(f, v);
        }
        double support;
        DCNN_TRY(dcnn_metrics_class(m, DCNN_METRIC_SUPPORT, c, &support));
        fprintf(f, ", \"support\": %s}", num(nums[0], 'f', 0, support));
      }
      fputs("\n  ],\n  \"confusion_matrix\": [", f);
      for (int32_t t = 0; t < k; ++t) {
        fprintf(f, "%s\n    [", t ? "," : "");
        for (int32_t p = 0; p < k; ++p) fprintf(f, "%s%lld", p ? ", " : "", (long long)m->confusion[(int64_t)t * k + p]);
        fputc(']', f);
      }
      fputs("\n  ]\n}\n", f);
      return DCNN_OK;
    case DCNN_FORMAT_CONFUSION_CSV:
      fputs("true\\predicted", f);
      for (int32_t p = 0; p < k; ++p) fprintf(f, ",%d", (int)p);
      fputc('\n', f);
      for (int32_t t = 0; t < k; ++t) {
        fprintf(f, "%d", (int)t);
        for (int32_t p = 0; p < k; ++p) fprintf(f, ",%lld", (long long)m->confusion[(int64_t)t * k + p]);
        fputc('\n', f);
      }
      return DCNN_OK;
    case DCNN_FORMAT_ROC_CSV: {
      fputs("class,fpr,tpr\n", f);
      for (int32_t c = 0; c < k; ++c) {
        int64_t points = 0;
        if (dcnn_metrics_roc_curve(m, c, NULL, NULL, 0, &points) != DCNN_OK) continue; /* undefined for this class */
        double *fpr = malloc((size_t)points * sizeof(double)), *tpr = malloc((size_t)points * sizeof(double));
        dcnn_status status = (fpr && tpr) ? dcnn_metrics_roc_curve(m, c, fpr, tpr, points, &points)
                                          : dcnn__fail(DCNN_ERR_OUT_OF_MEMORY, "metrics: out of memory");
        for (int64_t i = 0; status == DCNN_OK && i < points; ++i)
          fprintf(f, "%d,%s,%s\n", (int)c, num(nums[0], 'g', 8, fpr[i]), num(nums[1], 'g', 8, tpr[i]));
        free(fpr);
        free(tpr);
        DCNN_TRY(status);
      }
      return DCNN_OK;
    }
  }
  return dcnn__fail(DCNN_ERR_INVALID_ARGUMENT, "dcnn_metrics_format: unknown format %d", (int)kind);
}

dcnn_status dcnn_metrics_format(const dcnn_metrics *m, dcnn_metrics_format_kind kind, const char *label,
                                char **text) {
  DCNN_CHECK_ARG(text);
  *text = NULL;
  DCNN_CHECK_ARG(m);
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
  DCNN_CHECK_ARG(path);
  char *text = NULL;
  DCNN_TRY(dcnn_metrics_format(m, kind, label, &text));
  dcnn_status status = dcnn__write_file_atomic(path, text, strlen(text));
  free(text);
  return status;
}
