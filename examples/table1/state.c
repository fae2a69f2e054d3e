/* The per-model files of a resumable digitcnn-table1 run (state.h). */
#define _POSIX_C_SOURCE 200809L
#include "state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/support.h"

static const char *const metric_keys[7] = {"accuracy", "f1", "auc", "precision", "recall", "specificity", "g_measure"};

int table1_options_make(table1_options *o, int epochs, int batch, unsigned long long seed, int channels,
                        int train_images, int test_images, int threads, int processes, const char *recipe,
                        const char *data) {
  const int n = snprintf(o->text, sizeof o->text,
                         "epochs=%d\nbatch=%d\nseed=%llu\nchannels=%d\ntrain_images=%d\ntest_images=%d\nthreads=%d\n"
                         "processes=%d\n%sdata=%s\n",
                         epochs, batch, seed, channels, train_images, test_images, threads, processes, recipe, data);
  return n < 0 || (size_t)n >= sizeof o->text;
}

/* The command-line option behind each recorded key. */
static const char *option_for(const char *key) {
  static const char *const map[][2] = {{"epochs", "--epochs"},        {"batch", "--batch"},
                                       {"seed", "--seed"},            {"channels", "--rgb"},
                                       {"train_images", "--train-images or --quick"},
                                       {"test_images", "--test-images or --quick"},
                                       {"threads", "--threads: results depend on the thread count"},
                                       {"processes", "mpirun's process count: results depend on it"},
                                       {"optimizer", "--optimizer or --recipe"},
                                       {"learning_rate", "--lr or --recipe"},
                                       {"weight_decay", "--weight-decay or --recipe"},
                                       {"label_smoothing", "--label-smoothing or --recipe"},
                                       {"warmup_epochs", "--warmup or --recipe"},
                                       {"architecture", "the model changed (LeNet-5: ReLU and max pooling; "
                                                        "ResNet-50: padding as torchvision): --restart"},
                                       {"data", "--data"}};
  for (size_t i = 0; i < sizeof map / sizeof map[0]; ++i)
    if (!strcmp(map[i][0], key)) return map[i][1];
  return "?";
}

/* The value of `key` in "key=value\n" lines, copied into `value`; 0 if found. */
static int find_value(const char *text, const char *key, char *value, size_t size) {
  const size_t n = strlen(key);
  for (const char *line = text; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
    if (strncmp(line, key, n) || line[n] != '=') continue;
    const char *v = line + n + 1, *end = strchr(v, '\n');
    const size_t len = end ? (size_t)(end - v) : strlen(v);
    snprintf(value, size, "%.*s", (int)(len < size ? len : size - 1), v);
    return 0;
  }
  return 1;
}

static char *read_text(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *text = calloc(1, 65536);
  size_t n = text ? fread(text, 1, 65535, f) : 0;
  (void)n;
  fclose(f);
  return text;
}

int table1_options_check(const char *path, const table1_options *o, char *why, size_t size) {
  char *text = read_text(path);
  if (!text) return -1;
  int differs = 0;
  why[0] = '\0';
  for (const char *line = o->text; *line && !differs; line = strchr(line, '\n') + 1) {
    char key[64], want[4200], have[4200];
    const char *eq = strchr(line, '=');
    if (!eq) break; /* every line of a table1_options_make text has one */
    snprintf(key, sizeof key, "%.*s", (int)(eq - line), line);
    find_value(o->text, key, want, sizeof want);
    if (!strcmp(key, "data") && !want[0]) continue; /* not resolved now: the load reports it */
    if (find_value(text, key, have, sizeof have)) {
      if (!strcmp(key, "data")) continue; /* recorded since 0.2.0: an older file names no data directory */
      /* recorded since 0.2.0 too: the runs before it were taken as one process's */
      snprintf(have, sizeof have, "%s", !strcmp(key, "processes") ? "1" : "(missing)");
    }
    if (strcmp(want, have)) {
      snprintf(why, size, "%s: %s there, %s now (%s)", key, have, want, option_for(key));
      differs = 1;
    }
  }
  free(text);
  return differs;
}

int table1_options_name_data(const char *path) {
  char *text = read_text(path), value[8];
  const int named = text && !find_value(text, "data", value, sizeof value);
  free(text);
  return named;
}

int table1_result_write(const char *path, const table1_options *o, const table1_result *r) {
  char text[sizeof o->text + 1024];
  int n = snprintf(text, sizeof text, "%s", o->text);
  for (int k = 0; k < 7; ++k) n += snprintf(text + n, sizeof text - (size_t)n, "%s=%.17g\n", metric_keys[k], r->metric[k]);
  snprintf(text + n, sizeof text - (size_t)n, "parameters=%.17g\ntrain_seconds=%.17g\ninfer_per_second=%.17g\nbest_epoch=%d\n",
           r->params, r->seconds, r->infer_per_second, r->best_epoch);
  return example_write_text(path, text);
}

static int number(const char *text, const char *key, double *out) {
  char value[128];
  if (find_value(text, key, value, sizeof value)) return 1;
  char *end = NULL;
  *out = strtod(value, &end);
  return end == value;
}

int table1_result_read(const char *path, table1_result *r) {
  char *text = read_text(path);
  if (!text) return 1;
  double best = 0;
  int failed = number(text, "parameters", &r->params) || number(text, "train_seconds", &r->seconds) ||
               number(text, "infer_per_second", &r->infer_per_second) || number(text, "best_epoch", &best);
  for (int k = 0; k < 7 && !failed; ++k) failed = number(text, metric_keys[k], &r->metric[k]);
  r->best_epoch = (int)best;
  free(text);
  return failed;
}
