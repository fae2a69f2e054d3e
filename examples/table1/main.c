/* digitcnn-table1: the paper's Table 1 from measurements. Trains the selected
 * models (default: the paper CNN, LeNet-5, ResNet-50, VGG-16, MobileNetV2) on
 * MNIST-M with the same protocol and seed, evaluates each on the test set
 * once, and prints accuracy, F1, AUC, precision, recall, specificity and
 * G-measure with parameters, training time and inference speed; writes the
 * same as JSON, CSV and Markdown.
 *
 * Resumable: each model trains in OUT/<model>/ with checkpoints every few
 * minutes (last.dcnn, with the position inside the epoch); a finished model
 * leaves OUT/<model>/model.dcnn and result.txt (its results and the options
 * that produced them). The same command again skips finished models and
 * continues the unfinished one; other options are refused (--restart starts
 * afresh). SIGINT, SIGTERM and SIGHUP save a checkpoint and exit with status 3.
 *
 *   digitcnn-table1 [--models paper,lenet5,resnet50,vgg16,mobilenetv2] [--epochs N] [--batch N]
 *                   [--threads N] [--seed N] [--rgb] [--quick] [--train-images N] [--test-images N]
 *                   [--checkpoint-every SECONDS] [--checkpoint-steps N] [--restart] [--progress MODE]
 *                   [--recipe tuned|constant] [--optimizer adam|sgd] [--lr X] [--weight-decay X]
 *                   [--label-smoothing X] [--warmup N] [--data DIR] [--out DIR]
 */
#define _XOPEN_SOURCE 700 /* realpath; also POSIX.1-2008 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/args.h"
#include "../common/cluster.h"
#include "../common/support.h"
#include "chart.h"
#include "recipe.h"
#include "state.h"

/* Exit status after SIGINT, SIGTERM or SIGHUP: a checkpoint was saved (docs/cli.md). */
#define EXIT_INTERRUPTED 3

static volatile sig_atomic_t stop_signal = 0;

/* Which of stdout and stderr were terminals at the start (isatty is not async-signal-safe). */
static int terminal_out, terminal_err;

static void on_signal(int sig) {
  stop_signal = sig;
  if (sig == SIGHUP && (terminal_out || terminal_err)) {
    /* the terminal is gone: what would go there goes nowhere from here on, not to write errors */
    const int saved_errno = errno, null = open("/dev/null", O_WRONLY);
    if (null >= 0) {
      if (terminal_out) dup2(null, STDOUT_FILENO);
      if (terminal_err) dup2(null, STDERR_FILENO);
      close(null);
    }
    errno = saved_errno;
  }
}

/* Before exiting with status 3 after SIGHUP: a write that failed before the handler ran (the
 * terminal already gone) is not this run's failure. */
static void forget_lost_output(void) {
  if (stop_signal == SIGHUP) clearerr(stdout);
}


static const char *signal_name(int sig) { return sig == SIGINT ? "SIGINT" : sig == SIGHUP ? "SIGHUP" : "SIGTERM"; }

typedef struct model_row {
  const char *key, *name;
  double claim[7]; /* the paper's Table 1 row, percent */
  int selected;
  /* measured */
  double metric[7], seconds, infer_per_second, params;
  int32_t best_epoch;
  double macs; /* forward multiply-adds per sample, for the table's ETA */
  int done;
  int listed; /* not selected, but finished in --out with this run's options: kept in the table */
} model_row;

static model_row rows[5] = {
    {"paper", "Paper CNN", {99.25, 99.25, 99.98, 99.25, 99.25, 99.90, 99.25}, 0, {0}, 0, 0, 0, 0, 0, 0, 0},
    {"lenet5", "LeNet-5", {98.50, 98.45, 99.70, 98.60, 98.40, 99.00, 98.50}, 0, {0}, 0, 0, 0, 0, 0, 0, 0},
    {"resnet50", "ResNet-50", {98.75, 98.70, 99.80, 98.80, 98.60, 99.20, 98.75}, 0, {0}, 0, 0, 0, 0, 0, 0, 0},
    {"vgg16", "VGG-16", {98.90, 98.80, 99.85, 98.85, 98.75, 99.30, 98.90}, 0, {0}, 0, 0, 0, 0, 0, 0, 0},
    {"mobilenetv2", "MobileNetV2", {99.00, 98.90, 99.90, 99.00, 98.80, 99.40, 99.00}, 0, {0}, 0, 0, 0, 0, 0, 0, 0},
};
/* A finished model's figures from its result.txt into its row. */
static void take_result(model_row *r, const table1_result *cached) {
  memcpy(r->metric, cached->metric, sizeof r->metric);
  r->params = cached->params;
  r->seconds = cached->seconds;
  r->infer_per_second = cached->infer_per_second;
  r->best_epoch = cached->best_epoch;
}

static const char *const metric_names[7] = {"accuracy", "f1", "auc", "precision", "recall", "specificity", "g_measure"};

static dcnn_model *build(dcnn_context *ctx, int which, int32_t channels, uint64_t seed) {
  dcnn_model *m = NULL;
  dcnn_zoo_options o = DCNN_ZOO_OPTIONS_INIT;
  o.height = o.width = which == 0 ? 28 : 32;
  o.channels = channels;
  o.seed = seed;
  o.batch_norm = 1; /* VGG-16 only */
  switch (which) {
    case 0: EXAMPLE_CHECK(dcnn_zoo_paper_cnn(ctx, &o, &m)); break;
    case 1: EXAMPLE_CHECK(dcnn_zoo_lenet5_relu(ctx, &o, &m)); break; /* docs/results.md: why not tanh */
    case 2: EXAMPLE_CHECK(dcnn_zoo_resnet50(ctx, &o, &m)); break;
    case 3: EXAMPLE_CHECK(dcnn_zoo_vgg16(ctx, &o, &m)); break;
    default: EXAMPLE_CHECK(dcnn_zoo_mobilenetv2(ctx, &o, &m)); break;
  }
  return m;
}

/* The paper CNN takes the paper's 28x28; the others MNIST-M's native 32x32, to
 * which images of other sizes are resized (on MNIST-M's own 32x32 the resize
 * is the identity, bit for bit). */
static dcnn_pipeline *pipeline_for(dcnn_context *ctx, int which, int rgb) {
  dcnn_pipeline *p = NULL;
  EXAMPLE_CHECK(dcnn_pipeline_create(ctx, &p));
  EXAMPLE_CHECK(dcnn_pipeline_set_paper_defaults(p));
  if (which != 0) {
    EXAMPLE_CHECK(dcnn_pipeline_set(p, DCNN_PIPE_HEIGHT, 32));
    EXAMPLE_CHECK(dcnn_pipeline_set(p, DCNN_PIPE_WIDTH, 32));
  }
  if (rgb) EXAMPLE_CHECK(dcnn_pipeline_set(p, DCNN_PIPE_GRAYSCALE, 0));
  return p;
}

/* The validation accuracy chart of the table's models (selected or listed) that have a history. */
static int write_chart(const char *dir) {
  table1_series *series = calloc(5, sizeof *series);
  if (!series) return 1;
  int n = 0;
  for (int i = 0; i < 5; ++i) {
    if (!rows[i].selected && !rows[i].listed) continue;
    char history[4200];
    snprintf(history, sizeof history, "%s/%s/history.csv", dir, rows[i].key);
    series[n].name = rows[i].name;
    if (!table1_history_read(history, &series[n]) && series[n].count > 0) ++n;
  }
  const int failed = n > 0 && table1_chart_write(example_path(dir, "table1-val-accuracy.svg"), series, n);
  for (int i = 0; i <= n && i < 5; ++i) table1_series_free(&series[i]); /* [n]: a history read but empty */
  free(series);
  return failed;
}

/* A JSON number, or null for a value JSON cannot hold (an AUC undefined on a test set of one class is NaN;
 * the CSV leaves its field empty, the Markdown table writes n/a). */
static void json_number(FILE *f, const char *format, double value) {
  if (isfinite(value)) fprintf(f, format, value);
  else fprintf(f, "null");
}

static int write_outputs(const char *dir, int32_t epochs, int32_t batch, int quick) {
  if (example_make_dirs(dir)) return 1;
  char *json = NULL, *csv = NULL, *md = NULL;
  size_t a = 0, b = 0, c = 0;
  FILE *fj = open_memstream(&json, &a), *fc = open_memstream(&csv, &b), *fm = open_memstream(&md, &c);
  fprintf(fj, "{\n  \"epochs\": %d,\n  \"batch\": %d,\n  \"quick\": %s,\n  \"models\": [", (int)epochs, (int)batch,
          quick ? "true" : "false");
  fprintf(fc, "model,accuracy,f1,auc,precision,recall,specificity,g_measure,parameters,train_seconds,infer_per_second\n");
  fprintf(fm, "| Model | Accuracy | F1-score | AUC | Precision | Recall | Specificity | G-measure | Parameters | "
              "Training | Inference |\n|---|---|---|---|---|---|---|---|---|---|---|\n");
  int first = 1;
  for (int i = 0; i < 5; ++i) {
    const model_row *r = &rows[i];
    if (!r->selected && !r->listed) continue;
    fprintf(fj, "%s\n    {\"model\": \"%s\", \"parameters\": %.0f, \"train_seconds\": %.1f, \"infer_per_second\": %.0f",
            first ? "" : ",", r->name, r->params, r->seconds, r->infer_per_second);
    for (int k = 0; k < 7; ++k) {
      fprintf(fj, ", \"%s\": ", metric_names[k]);
      json_number(fj, "%.6f", r->metric[k]);
    }
    fprintf(fj, ", \"paper_claim\": {");
    for (int k = 0; k < 7; ++k) fprintf(fj, "%s\"%s\": %.4f", k ? ", " : "", metric_names[k], r->claim[k] / 100);
    fprintf(fj, "}}");
    first = 0;
    fprintf(fc, "%s", r->name);
    for (int k = 0; k < 7; ++k) { /* an undefined metric: an empty field, as JSON's null */
      fputc(',', fc);
      if (isfinite(r->metric[k])) fprintf(fc, "%.6f", r->metric[k]);
    }
    fprintf(fc, ",%.0f,%.1f,%.0f\n", r->params, r->seconds, r->infer_per_second);
    fprintf(fm, "| %s (measured) |", r->name);
    for (int k = 0; k < 7; ++k) {
      if (isfinite(r->metric[k])) fprintf(fm, " %.2f%% |", 100 * r->metric[k]);
      else fprintf(fm, " n/a |");
    }
    fprintf(fm, " %.0f | %.0f s | %.0f img/s |\n| %s (paper's claim) |", r->params, r->seconds, r->infer_per_second, r->name);
    for (int k = 0; k < 7; ++k) fprintf(fm, " %.2f%% |", r->claim[k]);
    fprintf(fm, " | | |\n");
  }
  fprintf(fj, "\n  ]\n}\n");
  fclose(fj);
  fclose(fc);
  fclose(fm);
  int failed = example_write_text(example_path(dir, "table1.json"), json) ||
               example_write_text(example_path(dir, "table1.csv"), csv) ||
               example_write_text(example_path(dir, "table1.md"), md) || write_chart(dir);
  printf("\n%s", md);
  free(json);
  free(csv);
  free(md);
  if (!failed) printf("\nWrote %s/table1.{md,csv,json} and %s/table1-val-accuracy.svg\n", dir, dir);
  return failed;
}

static void usage(FILE *out) {
  fprintf(out,
          "usage: %s [--models paper,lenet5,resnet50,vgg16,mobilenetv2] [--epochs N] [--batch N]\n"
          "       [--threads N] [--seed N] [--rgb] [--quick] [--train-images N] [--test-images N]\n"
          "       [--checkpoint-every SECONDS] [--checkpoint-steps N] [--restart] [--progress MODE]\n"
          "       [--recipe tuned|constant] [--optimizer adam|sgd] [--lr X] [--weight-decay X]\n"
          "       [--label-smoothing X] [--warmup N] [--data DIR] [--out DIR]\n"
          "  The paper's Table 1 from measurements: trains each model with one protocol, tests it once.\n"
          "  Resumable: the same command again skips finished models and continues the unfinished one\n"
          "  from its last checkpoint; SIGINT/SIGTERM/SIGHUP save a checkpoint and exit with status 3.\n"
          "  --models LIST   comma-separated models (all five); the table also lists the others finished\n"
          "                  in --out with the same options\n"
          "  --epochs N      training epochs of each model (2; 1 with --quick)\n"
          "  --batch N       batch size, 2 or more (32)\n"
          "  --threads N     threads, 0 = all cores (0)\n"
          "  --seed N        seed of the split, initialisation and training (1)\n"
          "  --rgb           keep colour (3 channels) instead of grayscale\n"
          "  --quick         3,000 training and 1,000 test images: a check\n"
          "  --train-images N  stratified subset of N training (+ validation) images; 0 = all (0; 3000 with --quick)\n"
          "  --test-images N   stratified subset of N test images; 0 = all (0; 1000 with --quick)\n"
          "  --checkpoint-every SECONDS  checkpoint inside an epoch this often; 0 = at epoch ends only (300)\n"
          "  --checkpoint-steps N  also checkpoint every N steps of an epoch; 0 = off (0)\n"
          "  --restart       forget the selected models' results and checkpoints in --out, start afresh\n"
          "  --progress MODE bar (on a terminal; else lines), lines, or none (bar)\n"
          "  --recipe NAME   tuned: each model's optimizer and schedule (docs/results.md); constant: Adam 1e-3\n"
          "                  at a constant rate for all (tuned)\n"
          "  --optimizer adam|sgd, --lr X, --weight-decay X, --label-smoothing X, --warmup N\n"
          "                  override the recipe for every selected model (--warmup -1: constant rate,\n"
          "                  0: cosine decay, N: N epochs of warm-up, then cosine decay; per step)\n"
          "  --data DIR      MNIST-M directory (official layout; default %s)\n"
          "  --out DIR       tables, and per model its checkpoints, model and result (out/table1)\n"
          "Also status 2 for options that differ from the run recorded in --out (nothing was done), and\n"
          "3 when SIGINT/SIGTERM/SIGHUP stopped it with a checkpoint saved (run the same command to continue).\n",
          example_program_name(), example_default_data());
}

/* Forward multiply-adds per sample, read from the model's summary (0 if absent). */
static double forward_macs(dcnn_model *model, char **summary_out) {
  char *summary = NULL;
  EXAMPLE_CHECK(dcnn_model_summary(model, &summary));
  const char *at = strstr(summary, "Forward multiply-adds per sample:");
  const double macs = at ? 1e6 * strtod(at + strlen("Forward multiply-adds per sample:"), NULL) : 0;
  *summary_out = summary;
  return macs;
}

/* Progress: the bar, a line per epoch with the model's and the table's ETA,
 * and the cancel that SIGINT/SIGTERM/SIGHUP ask for. */
typedef struct table_progress {
  dcnn_progress_bar *bar;
  const model_row *row;
  int index, count;       /* this model's number among the selected, and their count */
  double later_macs;      /* multiply-adds per sample of the selected models after this one, unfinished */
  int64_t train_count;    /* training images per epoch */
  int32_t epochs;
  int quiet;
} table_progress;

static void format_duration(double seconds, char *text, size_t size) {
  if (!isfinite(seconds) || seconds < 0) snprintf(text, size, "?");
  else if (seconds < 3600) snprintf(text, size, "%dm%02ds", (int)seconds / 60, (int)seconds % 60);
  else snprintf(text, size, "%dh%02dm", (int)(seconds / 3600), (int)fmod(seconds / 60, 60));
}

static dcnn_progress_action table_progress_fn(const dcnn_progress *p, void *user) {
  table_progress *t = user;
  if (t->bar) dcnn_progress_bar_callback(p, t->bar);
  if (!t->quiet && (p->event == DCNN_PROGRESS_EPOCH_END || (p->event == DCNN_PROGRESS_STEP && p->step == p->steps))) {
    /* The later models at this model's speed per multiply-add (a rough guide: layers differ). */
    const double per_mac = p->samples > 0 && t->row->macs > 0 ? p->train_seconds / ((double)p->samples * t->row->macs) : NAN;
    const double later = per_mac * t->later_macs * (double)t->train_count * t->epochs;
    char model_eta[32], table_eta[32];
    format_duration(p->fit_eta_seconds, model_eta, sizeof model_eta);
    format_duration(p->fit_eta_seconds + later, table_eta, sizeof table_eta);
    if (p->event == DCNN_PROGRESS_EPOCH_END)
      printf("[table1] %s (model %d/%d), epoch %d/%d done: ETA %s for the model, %s for the table\n", t->row->name,
             t->index, t->count, (int)p->epoch, (int)p->epochs, model_eta, table_eta);
    fflush(stdout);
  }
  return stop_signal ? DCNN_PROGRESS_CANCEL : DCNN_PROGRESS_CONTINUE;
}

/* Removes a model's files in OUT/<key>/ (--restart). */
static void forget_model(const char *dir) {
  static const char *const files[] = {"last.dcnn", "best.dcnn", "model.dcnn", "options.txt", "result.txt", "history.csv"};
  for (size_t i = 0; i < sizeof files / sizeof files[0]; ++i) remove(example_path(dir, files[i]));
}

static int file_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

int main(int argc, char **argv) {
  /* Under mpirun: every model trains data-parallel over the job's processes;
   * rank 0 prints and writes (common/cluster.h). */
  example_cluster_start(&argc, &argv);
  const int writer = example_cluster_rank() == 0;
  const char *data = example_default_data(), *out = "out/table1", *models = "paper,lenet5,resnet50,vgg16,mobilenetv2";
  int32_t epochs = 2, batch = 32, threads = 0, train_images = -1, test_images = -1, checkpoint_steps = 0;
  double checkpoint_seconds = 300;
  int quick = 0, rgb = 0, epochs_set = 0, restart = 0, progress = 1, recipe_set = 0;
  /* overrides of every model's recipe; NAN / -2 / -1: keep the recipe's */
  double lr = NAN, weight_decay = NAN, smoothing = NAN;
  int warmup = -2, optimizer = -1;
  uint64_t seed = 1;
  static const example_option options[] = {
      {"--models", 1},       {"--epochs", 1},           {"--batch", 1},           {"--threads", 1},
      {"--seed", 1},         {"--data", 1},             {"--out", 1},             {"--quick", 0},
      {"--rgb", 0},          {"--train-images", 1},     {"--test-images", 1},     {"--checkpoint-every", 1},
      {"--checkpoint-steps", 1}, {"--restart", 0},      {"--progress", 1},        {"--recipe", 1},
      {"--optimizer", 1},    {"--lr", 1},               {"--weight-decay", 1},    {"--label-smoothing", 1},
      {"--warmup", 1},       {NULL, 0}};
  static const char *const recipe_sets[] = {"tuned", "constant", NULL}, *const optimizers[] = {"adam", "sgd", NULL};
  static const char *const progress_modes[] = {"none", "bar", "lines", NULL};
  example_args args = example_args_start(argc, argv, options, usage);
  while (example_args_next(&args)) {
    if (example_args_option(&args, "--models")) models = args.value;
    else if (example_args_option(&args, "--epochs"))
      epochs = (int32_t)example_args_int(&args, 1, 1000000), epochs_set = 1;
    else if (example_args_option(&args, "--batch")) batch = (int32_t)example_args_int(&args, 2, 65536);
    else if (example_args_option(&args, "--threads")) threads = (int32_t)example_args_int(&args, 0, 1024);
    else if (example_args_option(&args, "--seed")) seed = (uint64_t)example_args_int(&args, 0, EXAMPLE_MAX_SEED);
    else if (example_args_option(&args, "--data")) data = args.value;
    else if (example_args_option(&args, "--out")) out = args.value;
    else if (example_args_option(&args, "--train-images")) train_images = (int32_t)example_args_int(&args, 0, 100000000);
    else if (example_args_option(&args, "--test-images")) test_images = (int32_t)example_args_int(&args, 0, 100000000);
    else if (example_args_option(&args, "--checkpoint-every"))
      checkpoint_seconds = (double)example_args_int(&args, 0, 100000000);
    else if (example_args_option(&args, "--checkpoint-steps"))
      checkpoint_steps = (int32_t)example_args_int(&args, 0, 100000000);
    else if (example_args_option(&args, "--progress"))
      progress = example_parse_choice("--progress", args.value, progress_modes);
    else if (example_args_option(&args, "--recipe")) recipe_set = example_args_choice(&args, recipe_sets);
    else if (example_args_option(&args, "--optimizer")) optimizer = example_args_choice(&args, optimizers);
    else if (example_args_option(&args, "--lr")) lr = example_args_real(&args, 0, 10, EXAMPLE_ABOVE_MIN);
    else if (example_args_option(&args, "--weight-decay")) weight_decay = example_args_real(&args, 0, 1, 0);
    else if (example_args_option(&args, "--label-smoothing"))
      smoothing = example_args_real(&args, 0, 1, EXAMPLE_BELOW_MAX);
    else if (example_args_option(&args, "--warmup")) warmup = (int)example_args_int(&args, -1, 1000);
    else if (example_args_flag(&args, "--quick")) quick = 1;
    else if (example_args_flag(&args, "--rgb")) rgb = 1;
    else if (example_args_flag(&args, "--restart")) restart = 1;
    else example_args_unknown(&args);
  }
  if (quick && !epochs_set) epochs = 1;
  if (train_images < 0) train_images = quick ? 3000 : 0;
  if (test_images < 0) test_images = quick ? 1000 : 0;
  static const char *const keys[] = {"paper", "lenet5", "resnet50", "vgg16", "mobilenetv2", NULL};
  char list[256], *names[16];
  const int count = example_parse_list("--models", models, list, sizeof list, names, 16);
  for (int i = 0; i < count; ++i) rows[example_parse_choice("--models", names[i], keys)].selected = 1;

  dcnn_context *ctx = NULL;
  EXAMPLE_CHECK(dcnn_context_create(&ctx));
  example_log_warnings(ctx);
  EXAMPLE_CHECK(dcnn_context_set_threads(ctx, threads));
  /* Per model: its recipe with the overrides, and the options that change its results
   * (the data directory as an absolute path: ./data/mnist_m and data/mnist_m are one) */
  char data_dir[PATH_MAX + 1];
  if (strchr(data, '\n')) {
    fprintf(stderr, "%s: --data: a path with a line break cannot be recorded in options.txt\n", example_program_name());
    dcnn_context_destroy(ctx);
    return 2; /* not finalised: see leave() in common/args.c */
  }
  /* A directory that does not resolve (missing) is not compared: the load below says it is missing (status 1) */
  if (!realpath(data, data_dir)) data_dir[0] = '\0';
  table1_recipe recipe[5];
  static table1_options recorded[5]; /* 40 KB: off the stack */
  for (int i = 0; i < 5; ++i) {
    recipe[i] = table1_recipe_for(i, recipe_set);
    if (optimizer >= 0) recipe[i].sgd = optimizer;
    if (!isnan(lr)) recipe[i].learning_rate = lr;
    if (!isnan(weight_decay)) recipe[i].weight_decay = weight_decay;
    if (!isnan(smoothing)) recipe[i].label_smoothing = smoothing;
    if (warmup >= -1) recipe[i].warmup_epochs = warmup;
    char text[256];
    table1_recipe_text(&recipe[i], text, sizeof text);
    /* LeNet-5's layers changed after the first converged table, ResNet-50's padding of its strided windows
     * after the second: their results then are not resumed. */
    if (i == 1) snprintf(text + strlen(text), sizeof text - strlen(text), "architecture=relu_maxpool\n");
    if (i == 2) snprintf(text + strlen(text), sizeof text - strlen(text), "architecture=same_lower_strides\n");
    if (table1_options_make(&recorded[i], (int)epochs, (int)batch, (unsigned long long)seed, rgb ? 3 : 1,
                            (int)train_images, (int)test_images, (int)dcnn_context_threads(ctx), example_cluster_size(),
                            text, data_dir)) {
      fprintf(stderr, "%s: --data %s: the path is too long to record\n", example_program_name(), data);
      dcnn_context_destroy(ctx);
      return 2; /* not finalised: each rank's own path (see leave() in common/args.c) */
    }
  }

  /* Before any work: finished models' results, and options that differ from the run in --out. */
  if (example_cluster_any(example_make_dirs(out))) example_cluster_leave(1);
  /* One run at a time in OUT (rank 0 holds the lock for the job): two would write their options and
   * checkpoints over each other's. */
  const int locked = example_cluster_share(writer ? example_lock_dir(out) : 0);
  if (locked) {
    dcnn_context_destroy(ctx);
    example_cluster_finish();
    return locked;
  }
  char model_dir[5][4096];
  for (int i = 0; i < 5; ++i) {
    snprintf(model_dir[i], sizeof model_dir[i], "%s/%s", out, rows[i].key);
    if (rows[i].selected && restart && writer) forget_model(model_dir[i]); /* under mpirun: rank 0 alone */
  }
  example_cluster_barrier(); /* every rank reads the files below after rank 0 removed them */
  for (int i = 0; i < 5; ++i) {
    model_row *r = &rows[i];
    char why[9000];
    table1_result cached;
    if (!r->selected) {
      /* Finished here with these options: kept in the table, which a --models run rewrote with its own rows
       * alone. Only a result that names its data directory (0.2.0 on): an older one matches any data, which
       * a model the user named may, but not a row added unasked. Rank 0's verdict, as below; only rank 0
       * writes the table. */
      const char *result = example_path(model_dir[i], "result.txt");
      const int same = example_cluster_share(table1_options_name_data(result) &&
                                             table1_options_check(result, &recorded[i], why, sizeof why) == 0);
      if (same && !table1_result_read(result, &cached)) take_result(r, &cached), r->listed = 1;
      continue;
    }
    const char *recorded_in = file_exists(example_path(model_dir[i], "result.txt")) ? "result.txt" : "options.txt";
    /* Rank 0's verdict for the whole job, as for resuming below: ranks that see the same data
     * under other paths (another mount point) must not disagree, and a rank leaving alone would
     * strand the others in their first collective. The fit's replica check compares the data. */
    int check = table1_options_check(example_path(model_dir[i], recorded_in), &recorded[i], why, sizeof why);
    if (check == -1 && file_exists(example_path(model_dir[i], "last.dcnn"))) check = -2; /* unknown options */
    /* options.txt alone: a run stopped before its first checkpoint left nothing to continue */
    if (check == 1 && recorded_in[0] == 'o' && !file_exists(example_path(model_dir[i], "last.dcnn"))) {
      check = 0;
      if (writer) forget_model(model_dir[i]); /* a best.dcnn of its options, written before a last.dcnn, too */
    }
    check = example_cluster_share(check);
    if (check == -2) {
      if (writer)
        fprintf(stderr, "%s: %s/last.dcnn has no options.txt beside it, so the options that made it are unknown.\n"
                "  Add --restart to start %s afresh.\n", example_program_name(), model_dir[i], r->key);
      dcnn_context_destroy(ctx);
      example_cluster_finish(); /* every rank leaves here together */
      return 2;
    }
    if (check == 1) {
      if (writer)
        fprintf(stderr, "%s: %s/%s was made with other options: %s.\n  Run with the same options to continue, or "
                "add --restart to start %s afresh.\n", example_program_name(), model_dir[i], recorded_in, why, r->key);
      dcnn_context_destroy(ctx);
      example_cluster_finish(); /* every rank leaves here together */
      return 2;
    }
    /* rank 0's view decides for every rank (one that read otherwise would skip a model the others train and
     * wait in another collective); only rank 0 writes the table, so only its figures count */
    const int found = !table1_result_read(example_path(model_dir[i], "result.txt"), &cached);
    if (found) take_result(r, &cached);
    r->done = example_cluster_share(found);
  }

  terminal_out = isatty(STDOUT_FILENO);
  terminal_err = isatty(STDERR_FILENO);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  /* A closed terminal stops the run as SIGTERM does, checkpoint saved; under nohup (SIGHUP
   * ignored) it stays ignored. */
  struct sigaction hangup;
  if (sigaction(SIGHUP, NULL, &hangup) == 0 && hangup.sa_handler != SIG_IGN) sigaction(SIGHUP, &sa, NULL);

  dcnn_dataset *all = NULL, *test = NULL, *train = NULL, *validation = NULL, *rest = NULL, *part = NULL;
  EXAMPLE_CHECK(dcnn_dataset_load_mnist_m(ctx, data, DCNN_MNIST_M_TRAIN, &all));
  EXAMPLE_CHECK(dcnn_dataset_load_mnist_m(ctx, data, DCNN_MNIST_M_TEST, &test));
  if (train_images > 0 && train_images < dcnn_dataset_count(all)) { /* stratified subsets */
    EXAMPLE_CHECK(dcnn_dataset_split(all, (double)train_images / dcnn_dataset_count(all), seed, DCNN_SPLIT_STRATIFIED,
                                     &rest, &part));
    dcnn_dataset_destroy(all);
    dcnn_dataset_destroy(rest);
    all = part;
  }
  if (test_images > 0 && test_images < dcnn_dataset_count(test)) {
    EXAMPLE_CHECK(dcnn_dataset_split(test, (double)test_images / dcnn_dataset_count(test), seed, DCNN_SPLIT_STRATIFIED,
                                     &rest, &part));
    dcnn_dataset_destroy(test);
    dcnn_dataset_destroy(rest);
    test = part;
  }
  EXAMPLE_CHECK(dcnn_dataset_split(all, 0.1, seed, DCNN_SPLIT_RANDOM, &train, &validation));
  printf("Table 1 on MNIST-M: %d training, %d validation, %d test images; %d epoch(s), batch %d, "
         "augmentation, %s input, seed %llu, %d threads%s\n", (int)dcnn_dataset_count(train),
         (int)dcnn_dataset_count(validation), (int)dcnn_dataset_count(test), (int)epochs, (int)batch,
         rgb ? "RGB" : "grayscale", (unsigned long long)seed, (int)dcnn_context_threads(ctx), quick ? " [quick]" : "");
  for (int i = 0; i < 5; ++i)
    if (rows[i].listed)
      printf("%s: finished in %s with these options, listed in the table (%s/result.txt)\n", rows[i].name, out,
             model_dir[i]);

  /* Every selected model's size, for the table's ETA. */
  int selected = 0;
  for (int i = 0; i < 5; ++i) {
    if (!rows[i].selected) continue;
    ++selected;
    dcnn_model *model = build(ctx, i, rgb ? 3 : 1, seed);
    char *summary = NULL;
    rows[i].macs = forward_macs(model, &summary);
    dcnn_free(summary);
    dcnn_model_destroy(model);
  }

  int number = 0;
  for (int i = 0; i < 5; ++i) {
    model_row *r = &rows[i];
    if (!r->selected) continue;
    ++number;
    if (r->done) {
      printf("\n== %s: finished earlier (%s/result.txt): test accuracy %.2f%%\n", r->name, model_dir[i],
             100 * r->metric[0]);
      continue;
    }
    if (example_cluster_any(stop_signal)) { /* a job stops as one: this rank too, not writing a table of zeros */
      if (!stop_signal) stop_signal = SIGTERM;
      break;
    }
    if (example_cluster_any(example_make_dirs(model_dir[i]))) example_cluster_leave(1);
    const char *last = example_path(model_dir[i], "last.dcnn");
    char last_path[4200];
    snprintf(last_path, sizeof last_path, "%s", last);
    const int resuming = example_cluster_share(file_exists(last_path)); /* rank 0's view: one decision per job */
    if (example_cluster_share(writer && !resuming &&
                              example_write_text(example_path(model_dir[i], "options.txt"), recorded[i].text)))
      example_cluster_leave(1);
    dcnn_model *model = build(ctx, i, rgb ? 3 : 1, seed);
    dcnn_pipeline *pipeline = pipeline_for(ctx, i, rgb);
    r->params = (double)dcnn_model_param_count(model, DCNN_PARAM_TRAINABLE);
    char *summary = NULL;
    forward_macs(model, &summary);
    const char *macs = strstr(summary, "Forward multiply-adds");
    char described[160];
    table1_recipe_describe(&recipe[i], epochs, described, sizeof described);
    printf("\n== %s: %.0f trainable parameters; %s; %s", r->name, r->params, described, macs ? macs : "\n");
    dcnn_free(summary);
    /* gray images into --rgb, say so; one rank's data ends every rank (alone it would strand them in a collective) */
    if (example_cluster_any(example_check_samples(pipeline, train, model, "training"))) example_cluster_leave(1);
    dcnn_optimizer *optimizer_of_model = NULL;
    dcnn_schedule *schedule = NULL;
    EXAMPLE_CHECK(table1_recipe_apply(&recipe[i], ctx, epochs, &optimizer_of_model, &schedule));
    dcnn_trainer *trainer = NULL;
    EXAMPLE_CHECK(dcnn_trainer_create(ctx, model, optimizer_of_model, &trainer));
    example_cluster_attach(trainer);
    EXAMPLE_CHECK(dcnn_trainer_set_schedule(trainer, schedule));
    EXAMPLE_CHECK(dcnn_trainer_set(trainer, DCNN_TRAIN_SCHEDULE_PER_STEP, 1));
    EXAMPLE_CHECK(dcnn_trainer_set(trainer, DCNN_TRAIN_LABEL_SMOOTHING, recipe[i].label_smoothing));
    EXAMPLE_CHECK(dcnn_trainer_set(trainer, DCNN_TRAIN_EPOCHS, epochs));
    EXAMPLE_CHECK(dcnn_trainer_set(trainer, DCNN_TRAIN_BATCH_SIZE, batch));
    EXAMPLE_CHECK(dcnn_trainer_set_seed(trainer, seed));
    EXAMPLE_CHECK(dcnn_trainer_set_checkpoint_dir(trainer, model_dir[i]));
    EXAMPLE_CHECK(dcnn_trainer_set_checkpoint_every(trainer, checkpoint_steps, checkpoint_seconds));
    if (resuming) {
      example_cluster_check(dcnn_trainer_resume(trainer, last_path));
      printf("Resuming %s from %s after %d completed epoch(s)\n", r->name, last_path,
             (int)dcnn_trainer_epochs_done(trainer));
    }
    table_progress tp = {NULL, r, number, selected, 0, dcnn_dataset_count(train), epochs, progress == 0};
    for (int j = i + 1; j < 5; ++j)
      if (rows[j].selected && !rows[j].done) tp.later_macs += rows[j].macs;
    if (progress)
      EXAMPLE_CHECK(dcnn_progress_bar_create(ctx, stdout, progress == 2 ? DCNN_PROGRESS_BAR_LINES : DCNN_PROGRESS_BAR_AUTO,
                                             &tp.bar));
    EXAMPLE_CHECK(dcnn_trainer_set_progress(trainer, table_progress_fn, &tp));
    double t0 = example_now();
    dcnn_status status = dcnn_trainer_fit(trainer, train, validation, pipeline);
    /* In a job, a signal on any rank cancels every rank's fit alike. */
    if (status == DCNN_ERR_CANCELLED && !stop_signal && example_cluster_size() > 1) stop_signal = SIGTERM;
    if (status == DCNN_ERR_CANCELLED && stop_signal) {
      /* The trainer holds the position inside the epoch: the checkpoint continues at the next step. */
      example_cluster_check(dcnn_trainer_save_checkpoint(trainer, last_path));
      example_cluster_barrier(); /* rank 0 has saved before any rank leaves MPI */
      fflush(stdout);
      fprintf(stderr, "\n%s: %s: stopped by signal %d in %s after %d completed epoch(s); checkpoint saved in %s.\n"
              "  Run the same command again to continue.\n", example_program_name(),
              signal_name(stop_signal), (int)stop_signal, r->name,
              (int)dcnn_trainer_epochs_done(trainer), last_path);
      dcnn_trainer_destroy(trainer);
      dcnn_progress_bar_destroy(tp.bar);
      dcnn_optimizer_destroy(optimizer_of_model);
      dcnn_schedule_destroy(schedule);
      dcnn_pipeline_destroy(pipeline);
      dcnn_model_destroy(model);
      dcnn_dataset_destroy(train);
      dcnn_dataset_destroy(validation);
      dcnn_dataset_destroy(all);
      dcnn_dataset_destroy(test);
      dcnn_context_destroy(ctx);
      forget_lost_output();
      example_cluster_finish(); /* every rank: the others must not leave MPI while rank 0 saves */
      return EXIT_INTERRUPTED;
    }
    EXAMPLE_CHECK(status);
    /* Training time over every sitting: the epochs' recorded seconds. */
    r->seconds = 0;
    for (int32_t e = 0; e < dcnn_trainer_epochs_done(trainer); ++e) {
      dcnn_epoch_stats s = DCNN_STRUCT_INIT(dcnn_epoch_stats);
      EXAMPLE_CHECK(dcnn_trainer_history(trainer, e, &s));
      r->seconds += s.seconds;
    }
    (void)t0;
    r->best_epoch = dcnn_trainer_best_epoch(trainer);
    dcnn_status saved = dcnn_trainer_write_history(trainer, example_path(model_dir[i], "history.csv")); /* rank 0 writes */
    if (saved == DCNN_OK && writer) saved = dcnn_model_save(model, example_path(model_dir[i], "model.dcnn"));
    example_cluster_check(saved);
    dcnn_metrics *m = NULL;
    EXAMPLE_CHECK(dcnn_metrics_create(ctx, 10, &m));
    t0 = example_now();
    EXAMPLE_CHECK(dcnn_evaluate_distributed(model, test, pipeline, 256, example_cluster_comm(), m, NULL));
    r->infer_per_second = dcnn_dataset_count(test) / (example_now() - t0);
    const dcnn_metric which[7] = {DCNN_METRIC_ACCURACY, DCNN_METRIC_F1, DCNN_METRIC_ROC_AUC, DCNN_METRIC_PRECISION,
                                  DCNN_METRIC_RECALL, DCNN_METRIC_SPECIFICITY, DCNN_METRIC_G_MEASURE};
    const dcnn_average avg[7] = {DCNN_AVERAGE_MACRO, DCNN_AVERAGE_WEIGHTED, DCNN_AVERAGE_MACRO, DCNN_AVERAGE_WEIGHTED,
                                 DCNN_AVERAGE_WEIGHTED, DCNN_AVERAGE_MACRO, DCNN_AVERAGE_WEIGHTED};
    for (int k = 0; k < 7; ++k) EXAMPLE_CHECK(dcnn_metrics_get(m, which[k], avg[k], &r->metric[k]));
    table1_result result;
    memcpy(result.metric, r->metric, sizeof result.metric);
    result.params = r->params;
    result.seconds = r->seconds;
    result.infer_per_second = r->infer_per_second;
    result.best_epoch = r->best_epoch;
    if (example_cluster_share(writer &&
                              table1_result_write(example_path(model_dir[i], "result.txt"), &recorded[i], &result)))
      example_cluster_leave(1);
    if (writer) remove(last_path); /* finished: result.txt and model.dcnn replace the checkpoint */
    r->done = 1;
    printf("%s: test accuracy %.2f%% (weights of epoch %d), trained in %.0f s, inference %.0f images/s\n", r->name,
           100 * r->metric[0], (int)r->best_epoch, r->seconds, r->infer_per_second);
    dcnn_metrics_destroy(m);
    dcnn_trainer_destroy(trainer);
    dcnn_progress_bar_destroy(tp.bar);
    dcnn_optimizer_destroy(optimizer_of_model);
    dcnn_schedule_destroy(schedule);
    dcnn_pipeline_destroy(pipeline);
    dcnn_model_destroy(model);
  }
  int failed = 0;
  /* a signal during the last model's evaluation, on any rank: every rank reports it alike (decided on the shared
   * value: one arriving after the all-reduce must not send this rank alone the other way) */
  const int stopped = example_cluster_any(stop_signal);
  if (stopped && !stop_signal) stop_signal = SIGTERM;
  if (stopped) {
    fprintf(stderr, "%s: stopped by signal %d between models; finished models are kept. Run the same command again "
            "to continue.\n", example_program_name(), (int)stop_signal);
    failed = EXIT_INTERRUPTED;
    forget_lost_output();
  } else {
    failed = writer ? write_outputs(out, epochs, batch, quick) : 0;
  }
  dcnn_dataset_destroy(train);
  dcnn_dataset_destroy(validation);
  dcnn_dataset_destroy(all);
  dcnn_dataset_destroy(test);
  dcnn_context_destroy(ctx);
  example_cluster_finish();
  return failed;
}
