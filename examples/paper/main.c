/* digitcnn-paper: the paper's pipeline on MNIST-M, end to end.
 *
 * Loads MNIST-M, preprocesses as the paper (28x28, grayscale, [0, 1]), holds
 * out 10% of the training set for validation, builds the paper CNN, trains it
 * (Adam 1e-3, batch 32, 10 epochs, augmentation), evaluates on the test set
 * once, prints the paper's metric block and Table 1 row beside the paper's
 * claims, and writes a report (HTML page, SVG charts, PNG grid, JSON, CSV). */
#define _XOPEN_SOURCE 700 /* realpath; also POSIX.1-2008 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "../common/args.h"
#include "../common/support.h"
#include "../common/cluster.h"
#include "report.h"

static void usage(FILE *out) {
  fprintf(out,
         "usage: %s [options]\n"
         "  --data DIR            MNIST-M directory (official layout; default %s)\n"
         "  --out DIR             report directory (default out/paper; out/paper-quick with --quick)\n"
         "  --epochs N            training epochs (10)\n"
         "  --batch N             batch size, 2 or more (32)\n"
         "  --lr X                Adam learning rate, in [1e-9, 10] (0.001)\n"
         "  --seed N              seed of the split, initialisation, shuffling, augmentation, dropout (1)\n"
         "  --threads N           threads, 0 = all cores (0)\n"
         "  --no-augment          train without the paper's augmentation\n"
         "  --rgb                 keep colour (3 channels) instead of the paper's grayscale\n"
         "  --schedule NAME       constant | cosine | step | plateau (constant)\n"
         "  --bn-momentum X       batch-norm momentum in [0, 0.999999], Keras convention (0.99)\n"
         "  --val-fraction X      share of the training set held out for validation, in [0, 1) (0.1);\n"
         "                        0 trains on every training image and keeps the last epoch's weights\n"
         "                        (no validation: not with --validation-only, --patience or\n"
         "                        --schedule plateau)\n"
         "  --no-keep-best        keep the last epoch's weights instead of the best validation epoch's\n"
         "  --patience N          early stopping after N epochs without improvement, 0 = off (0)\n"
         "  --no-checkpoints      do not write OUT/checkpoints/last.dcnn (every epoch) and best.dcnn\n"
         "  --resume FILE         continue an interrupted run from its checkpoint (same options:\n"
         "                        checked against the identity.txt beside FILE, else status 2)\n"
         "  --quick               6,000 training and 2,000 test images, 2 epochs: a check in a few minutes\n"
         "  --progress MODE       bar | lines | none (bar on a terminal, lines otherwise)\n"
         "  --recipe NAME         a named configuration (docs/recipes.md): paper | rgb-cosine | best; the\n"
         "                        options above that it also sets (--epochs, --batch, --lr, --rgb,\n"
         "                        --no-augment, --bn-momentum, --schedule constant|cosine) override it\n"
         "                        when given. An ensemble (best-and-rgb-cosine) trains each member\n"
         "                        recipe into OUT/members/NAME/ (rerun to continue) and averages their\n"
         "                        probabilities; it takes none of those options, nor --set or --resume\n"
         "  --set \"KEY=V ...\"     recipe settings on top of --recipe (default recipe: paper), e.g.\n"
         "                        --set \"mixup=0.2 ema=0.999\"; repeatable, a key's last value wins\n"
         "  --print-settings      print the recipe settings this command would train with (as the\n"
         "                        report and OUT/checkpoints/identity.txt record them; empty without\n"
         "                        --recipe or --set; an ensemble: one line per member) and exit\n"
         "  --validation-only     design runs: never load the test set; evaluate the kept weights on the\n"
         "                        validation split (with the recipe's test-time augmentation) and write\n"
         "                        OUT/validation.txt, OUT/model.dcnn and OUT/history.csv, no report\n",
         example_program_name(), example_default_data());
}

/* The test set, once: the paper's metric block and Table 1 row, and the report (rank 0). 0 on success. */
/* What a run's weights depend on, recorded in OUT/checkpoints/identity.txt
 * when it starts, so that --resume continues the run it names and not
 * another: the recipe and its full settings (or the options without one),
 * the data, subset and split, the seed, the thread count and, under mpirun
 * with more than one process, their number (one process writes no line, as
 * before it was recorded). */
static int run_identity(const paper_run *run, int schedule_kind, int data_as_typed, char *text, size_t size) {
  /* The data directory resolved (the same data under another relative path or from another working
   * directory is the same run; other data under the same relative name is not); as typed when it
   * does not resolve, and for identity files written before it was resolved. */
  char data[4096];
  if (data_as_typed || !realpath(run->data, data)) snprintf(data, sizeof data, "%s", run->data);
  const int n = snprintf(text, size,
                         "recipe=%s\nsettings=%s\ndata=%s\nquick=%d\nval_fraction=%.17g\nseed=%llu\nthreads=%d\n"
                         "epochs=%d\nbatch=%d\naugment=%d\nrgb=%d\nlr=%.17g\nbn_momentum=%.17g\nschedule=%d\n"
                         "keep_best=%d\npatience=%d\n",
                         run->settings ? run->recipe : "", run->settings ? run->settings : "", data,
                         (int)run->quick, run->val_fraction, (unsigned long long)run->seed, (int)run->threads,
                         (int)run->epochs, (int)run->batch, (int)run->augment, (int)run->rgb, run->lr, run->bn_momentum,
                         run->settings ? 0 : schedule_kind, (int)run->keep_best, (int)run->patience);
  if (n < 0 || (size_t)n >= size) return 1; /* too long to record: refuse rather than compare a cut text */
  const int m = example_cluster_size() > 1 ? snprintf(text + n, size - (size_t)n, "processes=%d\n", example_cluster_size()) : 0;
  return m < 0 || (size_t)m >= size - (size_t)n;
}

/* The first line where two identities differ, into `line` (for the message). */
static void first_difference(const char *a, const char *b, char *line, size_t size, char *other, size_t other_size) {
  while (*a && *b) {
    const size_t la = strcspn(a, "\n"), lb = strcspn(b, "\n");
    if (la != lb || strncmp(a, b, la) != 0) break;
    a += la + (a[la] != '\0');
    b += lb + (b[lb] != '\0');
  }
  snprintf(line, size, "%.*s", (int)strcspn(a, "\n"), a);
  snprintf(other, other_size, "%.*s", (int)strcspn(b, "\n"), b);
}

/* --resume FILE continues only the run recorded beside FILE (identity.txt):
 * 0 to go on, 2 for a mismatch (nothing done). A checkpoint without one
 * (written before 0.2.0's identity files) is taken with a note. */
static int check_resume_identity(const char *resume, const char *identity, const char *identity_as_typed) {
  char dir[4096], path[4200], recorded[16384], real[4096];
  /* beside the file itself: a symlink's target is what is continued (and what prepare_checkpoints finds) */
  snprintf(dir, sizeof dir, "%s", realpath(resume, real) ? real : resume);
  char *slash = strrchr(dir, '/');
  if (slash) *slash = '\0';
  else snprintf(dir, sizeof dir, ".");
  snprintf(path, sizeof path, "%s/identity.txt", dir);
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "%s: note: no %s beside the checkpoint: its options are not checked\n", example_program_name(),
            path);
    return 0;
  }
  const size_t got = fread(recorded, 1, sizeof recorded - 1, f);
  fclose(f);
  recorded[got] = '\0';
  if (strcmp(recorded, identity) == 0 || strcmp(recorded, identity_as_typed) == 0) return 0;
  char was[1024], now[1024];
  first_difference(recorded, identity, was, sizeof was, now, sizeof now);
  /* one side ended first: a processes= line only the other has (one process writes none) */
  if (!was[0]) snprintf(was, sizeof was, "(no processes= line: one process)");
  if (!now[0]) snprintf(now, sizeof now, "(no processes= line: one process)");
  fprintf(stderr,
          "%s: --resume %s: that run was trained with '%s', this command gives '%s' (%s); give the same options "
          "to continue it, or start afresh without --resume\n",
          example_program_name(), resume, was, now, path);
  return 2;
}

/* A fresh run (no --resume) into a checkpoint directory that holds an
 * earlier run's checkpoints: they are moved to DIR/previous/ with their
 * identity, where --resume still continues them, so that identity.txt always
 * describes the checkpoints beside it (a new identity beside an old
 * last.dcnn let --resume continue the wrong run). 0, or 1 after a message. */
static int set_aside_earlier_run(const char *dir, int swap) {
  static const char *const files[] = {"last.dcnn", "best.dcnn", "identity.txt"};
  if (access(example_path(dir, "last.dcnn"), F_OK) != 0 && access(example_path(dir, "best.dcnn"), F_OK) != 0)
    return 0;
  char previous[4096];
  snprintf(previous, sizeof previous, "%s", example_path(dir, "previous"));
  if (example_make_dirs(previous)) return 1;
  for (int i = 0; i < 3; ++i) {
    char from[4200], to[4200], aside[4300];
    snprintf(from, sizeof from, "%s/%s", dir, files[i]);
    snprintf(to, sizeof to, "%s/%s", previous, files[i]);
    snprintf(aside, sizeof aside, "%s.swap", to);
    /* swap: the run in previous/ is the one continued, so the two runs trade places; else an older run's
     * file there gives way */
    if (swap ? rename(from, aside) != 0 && errno != ENOENT : unlink(to) != 0 && errno != ENOENT) {
      fprintf(stderr, "%s: cannot %s %s: %s\n", example_program_name(), swap ? "move" : "remove", swap ? from : to,
              strerror(errno));
      return 1;
    }
    if (swap ? rename(to, from) != 0 && errno != ENOENT : rename(from, to) != 0 && errno != ENOENT) {
      fprintf(stderr, "%s: cannot move %s to %s: %s\n", example_program_name(), swap ? to : from, swap ? from : to,
              strerror(errno));
      return 1;
    }
    if (swap && rename(aside, to) != 0 && errno != ENOENT) {
      fprintf(stderr, "%s: cannot move %s to %s: %s\n", example_program_name(), aside, to, strerror(errno));
      return 1;
    }
  }
  fprintf(stderr, "%s: note: %s held %s run's checkpoints; they are in %s now (continue that run with "
          "--resume %s/last.dcnn)\n", example_program_name(), dir, swap ? "another" : "an earlier", previous,
          previous);
  return 0;
}

/* --set's values so far and `more`, joined: each --set adds its keys (a later key wins, as within one). */
static const char *add_settings(const char *so_far, const char *more) {
  static char joined[2][16384]; /* so_far may be the last result: write the other buffer */
  static int last;
  char *into = joined[last = !last];
  const int n = snprintf(into, sizeof joined[0], "%s%s%s", so_far ? so_far : "", so_far ? " " : "", more);
  if (n < 0 || (size_t)n >= sizeof joined[0]) {
    fprintf(stderr, "%s: --set: the settings are longer than %zu bytes\n", example_program_name(),
            sizeof joined[0] - 1);
    exit(EXAMPLE_EXIT_USAGE);
  }
  return into;
}

/* Whether `file` lies in `dir`: its real directory (through symlinks) is `dir`, or it is one of `dir`'s
 * checkpoints (a hard link). */
static int in_directory(const char *file, const char *dir) {
  char real[4096];
  if (realpath(file, real)) {
    char *slash = strrchr(real, '/');
    if (slash && slash != real) *slash = '\0';
    if (slash && example_same_file(real, dir)) return 1;
  }
  return example_same_file(file, example_path(dir, "last.dcnn")) ||
         example_same_file(file, example_path(dir, "best.dcnn"));
}

/* What is refused before any data is read: --validation-only into a test
 * report's directory and a test run into a validation run's, a --resume file
 * that cannot be read, and --resume of a run with another identity (status
 * 2). 0 to go on. */
static int refuse_before_training(const paper_run *run, int schedule_kind, int ensemble, int validation_only,
                                  int checkpoints, const char *resume) {
  if (ensemble) return ensemble_refuse_before_training(run);
  /* --validation-only writes model.dcnn and history.csv straight into OUT: never beside a test report's */
  if (validation_only && example_cluster_rank() == 0) {
    FILE *report = fopen(example_path(run->out, "index.html"), "r");
    if (report) {
      fclose(report);
      fprintf(stderr, "%s: %s holds a test-set report (index.html), whose model.dcnn --validation-only would "
              "replace; give --out another directory\n", example_program_name(), run->out);
      return 2;
    }
  }
  /* ... nor a test run over a validation run's model.dcnn, leaving its validation.txt to describe another model */
  if (!validation_only && example_cluster_rank() == 0) {
    FILE *figures = fopen(example_path(run->out, "validation.txt"), "r");
    FILE *report = figures ? fopen(example_path(run->out, "index.html"), "r") : NULL;
    if (figures) fclose(figures);
    if (report) fclose(report);
    if (figures && !report) {
      fprintf(stderr, "%s: %s holds a --validation-only run (validation.txt), whose model.dcnn a test run would "
              "replace; give --out another directory\n", example_program_name(), run->out);
      return 2;
    }
  }
  if (!resume && !checkpoints) return 0;
  char identity[16384], as_typed[16384];
  if (run_identity(run, schedule_kind, 0, identity, sizeof identity) ||
      run_identity(run, schedule_kind, 1, as_typed, sizeof as_typed)) {
    fprintf(stderr, "%s: the options are too long to record for --resume\n", example_program_name());
    return 2;
  }
  if (resume) {
    FILE *f = fopen(resume, "rb"); /* before the note about its identity, and before any data is read */
    struct stat st;
    const int regular = f && fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode);
    const int error = f ? EISDIR : errno;
    if (f) fclose(f);
    if (!regular) {
      fprintf(stderr, "%s: --resume %s: %s\n", example_program_name(), resume,
              f ? "not a regular file (a checkpoint, e.g. OUT/checkpoints/last.dcnn)" : strerror(error));
      return 2;
    }
    if (check_resume_identity(resume, identity, as_typed)) return 2;
  }
  /* This run's identity from its start, where that moves nothing: a run stopped before its first checkpoint
   * is then still recorded. Else prepare_checkpoints writes it, once the data has passed its checks. */
  char dir[4096]; /* a copy: example_path's buffers are reused */
  snprintf(dir, sizeof dir, "%s", example_path(run->out, "checkpoints"));
  if (checkpoints && example_cluster_rank() == 0 && !resume &&
      access(example_path(dir, "last.dcnn"), F_OK) != 0 && access(example_path(dir, "best.dcnn"), F_OK) != 0 &&
      (example_make_dirs(dir) || example_write_text(example_path(dir, "identity.txt"), identity)))
    return 1;
  return 0;
}

/* Once the data and samples have passed their checks: OUT/checkpoints
 * records this run's identity, an earlier run's checkpoints there moved
 * aside first (unless this run continues them: --resume of a file in that
 * directory). Rank 0's work; 0, or 1 after a message. */
static int prepare_checkpoints(const paper_run *run, int schedule_kind, const char *resume) {
  char identity[16384];
  if (run_identity(run, schedule_kind, 0, identity, sizeof identity)) return 1; /* refused before: cannot happen */
  char dir[4096]; /* a copy: example_path's buffers are reused */
  snprintf(dir, sizeof dir, "%s", example_path(run->out, "checkpoints"));
  if (example_make_dirs(dir)) return 1;
  /* --resume of another directory's file: what this one holds belongs to another run; when the file is
   * previous/'s, the runs trade places (the continued one's files come back beside its identity) */
  char previous[4096];
  snprintf(previous, sizeof previous, "%s", example_path(dir, "previous"));
  if (resume && in_directory(resume, dir)) return example_write_text(example_path(dir, "identity.txt"), identity);
  if (set_aside_earlier_run(dir, resume && in_directory(resume, previous))) return 1;
  return example_write_text(example_path(dir, "identity.txt"), identity);
}

static int report_test(paper_run *run, dcnn_context *ctx, dcnn_model *model, dcnn_trainer *trainer,
                       const dcnn_dataset *test, dcnn_pipeline *pipeline, const char *summary) {
  const double t0 = example_now();
  dcnn_metrics *metrics = NULL;
  EXAMPLE_CHECK(dcnn_metrics_create(ctx, 10, &metrics));
  test_predictions predictions;
  EXAMPLE_CHECK(evaluate_test(model, test, pipeline, run->tta, run->tta_pixels, metrics, &predictions));
  run->test_seconds = example_now() - t0;
  EXAMPLE_CHECK(dcnn_metrics_get(metrics, DCNN_METRIC_ACCURACY, DCNN_AVERAGE_MACRO, &run->test_accuracy));
  print_results(run, metrics, trainer);
  const int failed =
      example_cluster_rank() == 0 && write_report(run, model, trainer, metrics, test, &predictions, summary);
  free(predictions.predicted);
  dcnn_metrics_destroy(metrics);
  return failed;
}

/* Leaves main with `status` after reading the command line: under mpirun a rank finalises MPI for a
 * success (--print-settings; the launcher reports a rank that exits 0 without it as failed), not for a
 * refusal (the launcher ends the job on a non-zero status, where a rank that finalised would leave ranks
 * given other arguments waiting for ever). */
static int leave_job(int status) {
  if (status == 0) example_cluster_finish();
  return status;
}

int main(int argc, char **argv) {
  /* A program may choose for itself what the library may not: past a file
   * size limit (ulimit -f) every write of this program, the report's own
   * included, fails with EFBIG and is reported, instead of SIGXFSZ ending it. */
  signal(SIGXFSZ, SIG_IGN);
  /* Under mpirun: one replica per process, rank 0 prints and writes (common/cluster.h). */
  example_cluster_start(&argc, &argv);
  paper_run run = {
      .data = example_default_data(), .out = "out/paper", .epochs = 10, .batch = 32, .lr = 1e-3, .seed = 1,
      .threads = 0, .augment = 1, .rgb = 0, .schedule = "constant", .optimizer = "Adam", .bn_momentum = 0.99, .val_fraction = 0.1,
      .keep_best = 1, .patience = 0, .quick = 0, .progress = 1, .tta = 1, .tta_pixels = 1,
  };
  /* which of the options a recipe also sets were given (the last value of each wins) */
  int epochs_set = 0, batch_set = 0, lr_set = 0, rgb_set = 0, no_augment_set = 0, bn_set = 0, schedule_set = 0;
  int checkpoints = 1, validation_only = 0, print_settings = 0;
  const char *resume = NULL, *recipe = NULL, *extra = NULL;
  /* command-line options a recipe also sets, as recipe words appended after it: at most one
   * word per option (each under 48 characters), so 512 bytes always hold them */
  char overrides[512] = "";
  static const char *const schedules[] = {"constant", "cosine", "step", "plateau", NULL};
  static const char *const progress_modes[] = {"none", "bar", "lines", NULL}; /* example_progress_bar modes 0, 1, 2 */
  int schedule_kind = 0, out_set = 0;
  static const example_option options[] = {
      {"--data", 1},        {"--out", 1},          {"--epochs", 1},       {"--batch", 1},          {"--lr", 1},
      {"--seed", 1},        {"--threads", 1},      {"--no-augment", 0},   {"--rgb", 0},            {"--schedule", 1},
      {"--bn-momentum", 1}, {"--val-fraction", 1}, {"--no-keep-best", 0}, {"--patience", 1},       {"--quick", 0},
      {"--no-checkpoints", 0}, {"--resume", 1},    {"--progress", 1},     {"--recipe", 1},         {"--set", 1},
      {"--validation-only", 0}, {"--print-settings", 0}, {NULL, 0}};
  static const char *const recipe_schedules[] = {"constant", "cosine", NULL}; /* step, plateau: no recipe key */
  example_args args = example_args_start(argc, argv, options, usage);
  while (example_args_next(&args)) {
    if (example_args_option(&args, "--data")) run.data = args.value;
    else if (example_args_option(&args, "--out")) run.out = args.value, out_set = 1;
    else if (example_args_option(&args, "--epochs"))
      run.epochs = (int32_t)example_args_int(&args, 1, 1000000), epochs_set = 1;
    else if (example_args_option(&args, "--batch"))
      run.batch = (int32_t)example_args_int(&args, 2, 65536), batch_set = 1;
    else if (example_args_option(&args, "--lr")) /* the recipe key's range: with --recipe it becomes lr= */
      run.lr = example_args_real(&args, 1e-9, 10, 0), lr_set = 1;
    else if (example_args_option(&args, "--seed")) run.seed = (uint64_t)example_args_int(&args, 0, EXAMPLE_MAX_SEED);
    else if (example_args_option(&args, "--threads")) run.threads = (int32_t)example_args_int(&args, 0, 1024);
    else if (example_args_flag(&args, "--no-augment")) run.augment = 0, no_augment_set = 1;
    else if (example_args_flag(&args, "--rgb")) run.rgb = 1, rgb_set = 1;
    else if (example_args_option(&args, "--schedule"))
      schedule_kind = example_args_choice(&args, schedules), schedule_set = 1;
    else if (example_args_option(&args, "--bn-momentum"))
      run.bn_momentum = example_args_real(&args, 0, 0.999999, 0), bn_set = 1; /* bn_momentum='s range */
    else if (example_args_option(&args, "--val-fraction"))
      run.val_fraction = example_args_real(&args, 0, 1, EXAMPLE_BELOW_MAX);
    else if (example_args_flag(&args, "--no-keep-best")) run.keep_best = 0;
    else if (example_args_option(&args, "--patience")) run.patience = (int32_t)example_args_int(&args, 0, 1000000);
    else if (example_args_flag(&args, "--quick")) run.quick = 1;
    else if (example_args_flag(&args, "--no-checkpoints")) checkpoints = 0;
    else if (example_args_option(&args, "--resume")) resume = args.value;
    else if (example_args_option(&args, "--progress")) run.progress = example_args_choice(&args, progress_modes);
    else if (example_args_option(&args, "--recipe")) recipe = args.value;
    else if (example_args_option(&args, "--set")) extra = add_settings(extra, args.value);
    else if (example_args_flag(&args, "--validation-only")) validation_only = 1;
    else if (example_args_flag(&args, "--print-settings")) print_settings = 1;
    else example_args_unknown(&args);
  }
  const int ensemble = recipe && dcnn_recipe_ensemble_member(recipe, 0) != NULL;
  if (ensemble && (extra || resume || epochs_set || batch_set || lr_set || rgb_set || no_augment_set || bn_set ||
                   schedule_set)) {
    fprintf(stderr, "%s: --recipe %s is an ensemble: each member trains with its own recipe, so --set, --resume, "
            "--epochs, --batch, --lr, --rgb, --no-augment, --bn-momentum and --schedule cannot be given (rerun the "
            "same command to continue an interrupted run)\n", example_program_name(), recipe);
    return leave_job(2);
  }
  if (run.val_fraction == 0 && (validation_only || run.patience > 0 || schedule_kind == 3)) {
    fprintf(stderr, "%s: --val-fraction 0 holds no validation split out, which %s needs\n", example_program_name(),
            validation_only ? "--validation-only" : run.patience > 0 ? "--patience" : "--schedule plateau");
    return leave_job(2);
  }
  if (run.val_fraction == 0) run.keep_best = 0; /* no validation epoch to rank: the last one's weights */
  char *settings = NULL; /* NULL: the paper's protocol through the options above, as before recipes */
  if (ensemble) {
    run.recipe = recipe;
  } else if (recipe || extra) {
    const char *base = dcnn_recipe_settings(recipe ? recipe : "paper");
    if (!base) {
      fprintf(stderr, "%s: --recipe: unknown recipe \"%s\" (", example_program_name(), recipe);
      for (int32_t i = 0; i < dcnn_recipe_count(); ++i) fprintf(stderr, "%s%s", i ? ", " : "", dcnn_recipe_name(i));
      for (int32_t i = 0; i < dcnn_recipe_ensemble_count(); ++i)
        fprintf(stderr, ", %s (an ensemble)", dcnn_recipe_ensemble_name(i));
      fprintf(stderr, ")\n");
      return leave_job(2);
    }
    if (schedule_kind > 1) {
      fprintf(stderr, "%s: --schedule %s cannot be combined with --recipe/--set (constant or cosine)\n",
              example_program_name(), schedules[schedule_kind]);
      return leave_job(2);
    }
    /* Only the options given on the command line override the recipe, each once with its last value. */
    char number[64];
    size_t used = 0;
#define PAPER_OVERRIDE(...)                                                                  \
  do {                                                                                       \
    if (used < sizeof overrides) {                                                           \
      const int n_ = snprintf(overrides + used, sizeof overrides - used, __VA_ARGS__);       \
      used = n_ < 0 ? sizeof overrides : used + (size_t)n_;                                  \
    }                                                                                        \
  } while (0)
    if (epochs_set) PAPER_OVERRIDE(" epochs=%d", (int)run.epochs);
    else if (run.quick) PAPER_OVERRIDE(" epochs=2");
    if (batch_set) PAPER_OVERRIDE(" batch=%d", (int)run.batch);
    if (lr_set) {
      snprintf(number, sizeof number, "%.17g", run.lr);
      PAPER_OVERRIDE(" lr=%s", number);
    }
    if (rgb_set) PAPER_OVERRIDE(" rgb=1");
    if (no_augment_set) PAPER_OVERRIDE(" augment=0");
    if (bn_set) {
      snprintf(number, sizeof number, "%.17g", run.bn_momentum);
      PAPER_OVERRIDE(" bn_momentum=%s", number);
    }
    if (schedule_set) PAPER_OVERRIDE(" schedule=%s", recipe_schedules[schedule_kind]);
#undef PAPER_OVERRIDE
    if (used >= sizeof overrides) { /* cannot happen with one word per option; refuse rather than truncate */
      fprintf(stderr, "%s: the options overriding the recipe are too long\n", example_program_name());
      return leave_job(2);
    }
    const size_t length = strlen(base) + strlen(overrides) + (extra ? strlen(extra) : 0) + 4;
    settings = malloc(length);
    if (!settings) return leave_job(1);
    snprintf(settings, length, "%s%s %s", base, overrides, extra ? extra : "");
    if (dcnn_recipe_check(settings) != DCNN_OK) {
      fprintf(stderr, "%s: --set: %s\n", example_program_name(), dcnn_last_error());
      free(settings);
      return leave_job(2);
    }
    /* what the report prints, from the recipe */
    double v = 0;
    static const char *const schedule_names[] = {"constant", "cosine", "warmup-cosine"};
    EXAMPLE_CHECK(dcnn_recipe_value(settings, "epochs", &v));
    run.epochs = (int32_t)v;
    EXAMPLE_CHECK(dcnn_recipe_value(settings, "batch", &v));
    run.batch = (int32_t)v;
    EXAMPLE_CHECK(dcnn_recipe_value(settings, "lr", &run.lr));
    EXAMPLE_CHECK(dcnn_recipe_value(settings, "rgb", &v));
    run.rgb = v != 0;
    EXAMPLE_CHECK(dcnn_recipe_value(settings, "augment", &v));
    run.augment = v != 0;
    EXAMPLE_CHECK(dcnn_recipe_value(settings, "bn_momentum", &run.bn_momentum));
    EXAMPLE_CHECK(dcnn_recipe_value(settings, "schedule", &v));
    run.schedule = schedule_names[(int)v];
    EXAMPLE_CHECK(dcnn_recipe_value(settings, "optimizer", &v));
    run.optimizer = v == 1 ? "SGD (Nesterov)" : "Adam";
    EXAMPLE_CHECK(dcnn_recipe_value(settings, "tta", &v));
    run.tta = (int32_t)v;
    EXAMPLE_CHECK(dcnn_recipe_value(settings, "tta_pixels", &v));
    run.tta_pixels = (int32_t)v;
    run.recipe = recipe ? recipe : "paper";
    run.settings = settings;
  }
  if (print_settings) { /* what a run of this command trains (scripts/recipe-test.sh compares finished runs) */
    if (ensemble)
      for (int32_t i = 0; dcnn_recipe_ensemble_member(recipe, i); ++i)
        printf("%s: %s%s\n", dcnn_recipe_ensemble_member(recipe, i),
               dcnn_recipe_settings(dcnn_recipe_ensemble_member(recipe, i)),
               run.quick ? " epochs=2" : ""); /* as run_ensemble trains them */
    else
      printf("%s\n", settings ? settings : "");
    free(settings);
    return leave_job(0);
  }
  if (run.quick && !epochs_set && !settings) run.epochs = 2;
  if (run.quick && !out_set) run.out = "out/paper-quick"; /* a check never replaces the main job's report */
  if (!settings) run.schedule = schedules[schedule_kind];
  run.argv = argv;
  run.argc = argc;

  dcnn_context *ctx = NULL;
  EXAMPLE_CHECK(dcnn_context_create(&ctx));
  example_log_warnings(ctx);
  EXAMPLE_CHECK(dcnn_context_set_threads(ctx, run.threads));
  run.threads = dcnn_context_threads(ctx);
  /* One run at a time in OUT (rank 0 holds the lock for the job): two would mix their checkpoints
   * and reports. Before the banner, so that a refused run prints nothing on stdout. */
  int refused = example_cluster_share(example_cluster_rank() == 0 ? example_lock_dir(run.out) : 0);
  /* Rank 0's verdict for the whole job: a rank that reaches the data by another path would
   * otherwise refuse alone and strand the others in their first collective. Before the banner too. */
  if (!refused)
    refused = example_cluster_share(
        refuse_before_training(&run, schedule_kind, ensemble, validation_only, checkpoints, resume));
  if (!refused) {
    if (ensemble)
      printf("libdigitcnn %s: an ensemble of the paper CNN family on MNIST-M (%d threads)\n", dcnn_version_string(),
             (int)run.threads);
    else
      printf("libdigitcnn %s: the paper CNN on MNIST-M (%s input, augmentation %s, %d threads)\n", dcnn_version_string(),
             run.rgb ? "RGB" : "grayscale", run.augment ? "on" : "off", (int)run.threads);
    if (settings) printf("recipe %s: %s\n", run.recipe, settings);
    if (ensemble) {
      printf("recipe %s: an ensemble of", run.recipe);
      for (int32_t i = 0; dcnn_recipe_ensemble_member(recipe, i); ++i)
        printf("%s %s", i ? " +" : "", dcnn_recipe_ensemble_member(recipe, i));
      printf(", their probabilities averaged\n");
    }
  }
  if (refused) {
    dcnn_context_destroy(ctx);
    free(settings);
    example_cluster_finish();
    return refused;
  }

  double t0 = example_now();
  dcnn_dataset *train_all = NULL, *test = NULL;
  EXAMPLE_CHECK(dcnn_dataset_load_mnist_m(ctx, run.data, DCNN_MNIST_M_TRAIN, &train_all));
  if (!validation_only) EXAMPLE_CHECK(dcnn_dataset_load_mnist_m(ctx, run.data, DCNN_MNIST_M_TEST, &test));
  run.load_seconds = example_now() - t0;
  if (run.quick) {
    train_all = example_stratified_subset(train_all, 6000, run.seed);
    if (test) test = example_stratified_subset(test, 2000, run.seed + 1);
  }
  dcnn_dataset *train = NULL, *validation = NULL;
  if (run.val_fraction > 0) {
    EXAMPLE_CHECK(dcnn_dataset_split(train_all, run.val_fraction, run.seed, DCNN_SPLIT_RANDOM, &train, &validation));
  } else { /* --val-fraction 0: train on every image, in the stored order (the trainer shuffles) */
    const int32_t n = dcnn_dataset_count(train_all);
    int32_t *every = malloc(sizeof(int32_t) * (size_t)(n > 0 ? n : 1)); /* (n,) indices 0 .. n-1 */
    if (!every) {
      fprintf(stderr, "error: out of memory\n");
      return 1;
    }
    for (int32_t i = 0; i < n; ++i) every[i] = i;
    const dcnn_status s = dcnn_dataset_subset(train_all, every, n, &train);
    free(every);
    EXAMPLE_CHECK(s);
  }
  run.train_count = dcnn_dataset_count(train);
  run.validation_count = dcnn_dataset_count(validation);
  printf("data: %d training, %d validation, %d test images (loaded in %.1f s)%s\n", (int)dcnn_dataset_count(train),
         (int)dcnn_dataset_count(validation), test ? (int)dcnn_dataset_count(test) : 0, run.load_seconds,
         run.quick ? " [quick mode: a stratified subset]" : "");
  if (!validation) printf("no validation split (--val-fraction 0): the last epoch's weights are kept\n");

  if (ensemble) {
    const int rc = run_ensemble(&run, ctx, train, validation, test, validation_only, checkpoints);
    dcnn_dataset_destroy(train);
    dcnn_dataset_destroy(validation);
    dcnn_dataset_destroy(train_all);
    dcnn_dataset_destroy(test);
    dcnn_context_destroy(ctx);
    example_cluster_finish();
    return rc;
  }
  dcnn_pipeline *pipeline = NULL;
  EXAMPLE_CHECK(dcnn_pipeline_create(ctx, &pipeline));
  if (settings) {
    EXAMPLE_CHECK(dcnn_recipe_configure_pipeline(settings, pipeline, train)); /* standardisation: the training split only */
  } else {
    EXAMPLE_CHECK(dcnn_pipeline_set_paper_defaults(pipeline));
    if (run.rgb) EXAMPLE_CHECK(dcnn_pipeline_set(pipeline, DCNN_PIPE_GRAYSCALE, 0));
  }

  dcnn_model *model = NULL;
  dcnn_zoo_options arch = DCNN_ZOO_OPTIONS_INIT; /* the paper's: 28 x 28, 10 classes, dropout 0.25 and 0.5 */
  arch.channels = run.rgb ? 3 : 1;
  arch.bn_momentum = (float)run.bn_momentum;
  if (settings) EXAMPLE_CHECK(dcnn_recipe_configure_zoo(settings, &arch));
  arch.seed = run.seed;
  EXAMPLE_CHECK(dcnn_zoo_paper_cnn(ctx, &arch, &model));
  /* Before training: a test split of gray PNGs under a colour model would fail only after it */
  if (example_cluster_any(example_check_samples(pipeline, train, model, "training") ||
                          example_check_samples(pipeline, test, model, "test"))) { /* one rank's data: every rank leaves */
    dcnn_model_destroy(model);
    dcnn_pipeline_destroy(pipeline);
    dcnn_dataset_destroy(train);
    dcnn_dataset_destroy(validation);
    dcnn_dataset_destroy(train_all);
    dcnn_dataset_destroy(test);
    dcnn_context_destroy(ctx);
    free(settings);
    example_cluster_finish();
    return 1;
  }
  char *summary = NULL;
  EXAMPLE_CHECK(dcnn_model_summary(model, &summary));
  printf("\n%s\n", summary);

  dcnn_optimizer *optimizer = NULL;
  dcnn_schedule *schedule = NULL;
  if (settings) {
    EXAMPLE_CHECK(dcnn_recipe_create_optimizer(ctx, settings, &optimizer));
    EXAMPLE_CHECK(dcnn_recipe_create_schedule(settings, &schedule));
    schedule_kind = 0;
  } else {
    EXAMPLE_CHECK(dcnn_optimizer_create_adam(ctx, (float)run.lr, 0.9f, 0.999f, 1e-7f, 0.0f, &optimizer));
  }
  if (schedule_kind == 1) EXAMPLE_CHECK(dcnn_schedule_create_cosine((float)run.lr, run.epochs, 0.0f, &schedule));
  if (schedule_kind == 2) EXAMPLE_CHECK(dcnn_schedule_create_step((float)run.lr, run.epochs > 3 ? run.epochs / 3 : 1, 0.3f, &schedule));
  if (schedule_kind == 3) EXAMPLE_CHECK(dcnn_schedule_create_plateau((float)run.lr, 0.3f, 1, 1e-6f,
                                                                     DCNN_GOAL_MAXIMIZE, &schedule));
  dcnn_trainer *trainer = NULL;
  EXAMPLE_CHECK(dcnn_trainer_create(ctx, model, optimizer, &trainer));
  example_cluster_attach(trainer);
  EXAMPLE_CHECK(dcnn_trainer_set(trainer, DCNN_TRAIN_EPOCHS, run.epochs));
  EXAMPLE_CHECK(dcnn_trainer_set(trainer, DCNN_TRAIN_BATCH_SIZE, run.batch));
  EXAMPLE_CHECK(dcnn_trainer_set_seed(trainer, run.seed));
  EXAMPLE_CHECK(dcnn_trainer_set(trainer, DCNN_TRAIN_AUGMENT, run.augment));
  if (settings) EXAMPLE_CHECK(dcnn_recipe_configure_trainer(settings, trainer));
  EXAMPLE_CHECK(dcnn_trainer_set(trainer, DCNN_TRAIN_KEEP_BEST, run.keep_best));
  EXAMPLE_CHECK(dcnn_trainer_set(trainer, DCNN_TRAIN_PATIENCE, run.patience));
  dcnn_progress_bar *bar = example_progress_bar(ctx, trainer, run.progress);
  EXAMPLE_CHECK(dcnn_trainer_set_schedule(trainer, schedule));
  if (resume) { /* read before prepare_checkpoints may move its file (it may be OUT/checkpoints/previous/'s) */
    EXAMPLE_CHECK(dcnn_trainer_resume(trainer, resume));
    printf("resumed from %s after epoch %d\n", resume, (int)dcnn_trainer_epochs_done(trainer));
  }
  if (checkpoints) {
    /* every rank has read the checkpoint before rank 0 may move it (prepare_checkpoints) */
    if (resume) example_cluster_barrier();
    if (example_cluster_share(example_cluster_rank() == 0 ? prepare_checkpoints(&run, schedule_kind, resume) : 0)) {
      example_cluster_finish(); /* rank 0's shared verdict: every rank leaves here together */
      return 1;
    }
    EXAMPLE_CHECK(dcnn_trainer_set_checkpoint_dir(trainer, example_path(run.out, "checkpoints")));
  }
  EXAMPLE_CHECK(dcnn_trainer_fit(trainer, train, validation, pipeline));
  report_history_totals(trainer, &run.epochs_trained, &run.train_seconds); /* the whole run, not this sitting */
  run.best_epoch = dcnn_trainer_best_epoch(trainer);

  const int rc = validation_only ? report_validation(&run, model, trainer, validation, pipeline)
                                 : report_test(&run, ctx, model, trainer, test, pipeline, summary);
  dcnn_free(summary);
  dcnn_trainer_destroy(trainer);
  dcnn_progress_bar_destroy(bar);
  dcnn_schedule_destroy(schedule);
  dcnn_optimizer_destroy(optimizer);
  dcnn_model_destroy(model);
  dcnn_pipeline_destroy(pipeline);
  dcnn_dataset_destroy(train);
  dcnn_dataset_destroy(validation);
  dcnn_dataset_destroy(train_all);
  dcnn_dataset_destroy(test);
  dcnn_context_destroy(ctx);
  free(settings);
  example_cluster_finish();
  return rc;
}
