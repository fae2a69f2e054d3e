/* digitcnn-robustness: how the paper CNN holds up under perturbations and
 * adversarial attacks, and what augmentation and adversarial training change.
 *
 * Trains three paper CNNs with one protocol and seed — without augmentation,
 * with the paper's augmentation, and with augmentation plus adversarial
 * training (FGSM examples in half of every batch) — or loads saved models
 * (--model FILE, repeatable). Each is evaluated on the MNIST-M test set: clean,
 * under every perturbation of the library's suite at its five standard
 * severities, under FGSM at six epsilons and under PGD (10 iterations) at the
 * same epsilons on a stratified subset. Prints a table; writes
 * OUT/robustness.{md,csv}, accuracy-versus-severity charts (OUT/curves-*.svg,
 * OUT/index.html) and OUT/samples.png (a digit under each perturbation).
 *
 *   digitcnn-robustness [--epochs N] [--quick] [--model FILE]... [--data DIR] [--out DIR]
 *                       [--adv-epsilon X] [--adv-ratio X] [--adv-pgd] [--pgd-images N]
 *                       [--seed N] [--threads N] [--progress bar|lines|none]
 */
#define _XOPEN_SOURCE 700 /* realpath; also POSIX.1-2008 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/args.h"
#include "robustness_example.h"

static void usage(FILE *out) {
  fprintf(out,
         "usage: %s [options]\n"
         "  --data DIR           MNIST-M directory (official layout; default %s)\n"
         "  --out DIR            report directory (default out/robustness)\n"
         "  --epochs N           training epochs of each model (5)\n"
         "  --model FILE         evaluate this saved model instead of training three (repeatable)\n"
         "  --adv-epsilon X      adversarial training: L-infinity radius of its examples (0.03)\n"
         "  --adv-ratio X        adversarial training: share of every batch replaced (0.5)\n"
         "  --adv-pgd            adversarial training with PGD (7 iterations) instead of FGSM\n"
         "  --pgd-images N       test images the PGD evaluation uses, a stratified subset (2000)\n"
         "  --seed N             seed of the split, initialisation, shuffling, perturbations (1)\n"
         "  --threads N          threads, 0 = all cores (0)\n"
         "  --quick              6,000 training and 500 test images, 1 epoch, PGD on 100: a check\n"
         "  --progress MODE      bar | lines | none (bar on a terminal, lines otherwise)\n",
         example_program_name(), example_default_data());
}

static const char *file_stem(const char *path, char *buf, size_t size) {
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  snprintf(buf, size, "%s", base);
  char *dot = strrchr(buf, '.');
  if (dot && dot != buf) *dot = '\0';
  return buf;
}

/* Trains one paper CNN with the run's protocol; `variant` 0 plain, 1 augmented, 2 adversarial. */
static void train_variant(robustness_run *run, dcnn_context *ctx, int variant, const dcnn_dataset *train,
                          const dcnn_dataset *validation, evaluated_model *out) {
  static const char *names[3] = {"plain", "augmented", "adversarial"};
  snprintf(out->name, sizeof out->name, "%s", names[variant]);
  if (variant == 0) snprintf(out->label, sizeof out->label, "no augmentation");
  if (variant == 1) snprintf(out->label, sizeof out->label, "paper augmentation");
  if (variant == 2)
    snprintf(out->label, sizeof out->label, "augmentation + %s adversarial training (epsilon %g, %g%% of each batch)",
             run->adv_pgd ? "PGD-7" : "FGSM", run->adv_epsilon, 100 * run->adv_ratio);
  EXAMPLE_CHECK(dcnn_pipeline_create(ctx, &out->pipeline));
  EXAMPLE_CHECK(dcnn_pipeline_set_paper_defaults(out->pipeline));
  dcnn_zoo_options arch = DCNN_ZOO_OPTIONS_INIT; /* the paper's CNN on 28 x 28 gray digits */
  arch.seed = run->seed;
  EXAMPLE_CHECK(dcnn_zoo_paper_cnn(ctx, &arch, &out->model));
  dcnn_optimizer *adam = NULL;
  dcnn_trainer *trainer = NULL;
  EXAMPLE_CHECK(dcnn_optimizer_create_adam(ctx, 1e-3f, 0.9f, 0.999f, 1e-7f, 0.0f, &adam));
  EXAMPLE_CHECK(dcnn_trainer_create(ctx, out->model, adam, &trainer));
  EXAMPLE_CHECK(dcnn_trainer_set(trainer, DCNN_TRAIN_EPOCHS, run->epochs));
  EXAMPLE_CHECK(dcnn_trainer_set(trainer, DCNN_TRAIN_BATCH_SIZE, 32));
  EXAMPLE_CHECK(dcnn_trainer_set_seed(trainer, run->seed));
  EXAMPLE_CHECK(dcnn_trainer_set(trainer, DCNN_TRAIN_AUGMENT, variant != 0));
  dcnn_progress_bar *bar = example_progress_bar(ctx, trainer, run->progress);
  if (variant == 2) {
    dcnn_attack attack = DCNN_STRUCT_INIT(dcnn_attack);
    EXAMPLE_CHECK(run->adv_pgd ? dcnn_attack_pgd((float)run->adv_epsilon, &attack)
                               : dcnn_attack_fgsm((float)run->adv_epsilon, &attack));
    if (run->adv_pgd) {
      attack.iterations = 7;
      attack.step = (float)(2.5 * run->adv_epsilon / attack.iterations);
    }
    attack.seed = run->seed;
    EXAMPLE_CHECK(dcnn_trainer_set_adversarial(trainer, &attack, run->adv_ratio));
  }
  printf("\n== training '%s' (%s), %d epochs\n", out->name, out->label, (int)run->epochs);
  fflush(stdout);
  const double t0 = example_now();
  EXAMPLE_CHECK(dcnn_trainer_fit(trainer, train, validation, out->pipeline));
  out->train_seconds = example_now() - t0;
  out->trained = 1;
  printf("trained in %.1f s\n", out->train_seconds);
  dcnn_trainer_destroy(trainer);
  dcnn_progress_bar_destroy(bar);
  dcnn_optimizer_destroy(adam);
  char file[96];
  snprintf(file, sizeof file, "models/%s.dcnn", out->name);
  EXAMPLE_CHECK(dcnn_model_set_metadata(out->model, "robustness_training", out->label));
  EXAMPLE_CHECK(dcnn_model_save(out->model, example_path(run->out, file)));
}

/* A report name from `text`: the CSV's commas, the Markdown table's bars and
 * line breaks become '_'. */
static void set_name(evaluated_model *m, const char *text) {
  snprintf(m->name, sizeof m->name, "%.63s", text);
  for (char *c = m->name; *c; ++c)
    if (*c == ',' || *c == '|' || *c == '\n' || *c == '\r' || *c == '"') *c = '_';
}

static int name_taken(const robustness_run *run, int32_t upto, const char *name) {
  for (int32_t j = 0; j < upto; ++j)
    if (!strcmp(run->models[j].name, name)) return 1;
  return 0;
}

/* Models named by their files' stems, made unique: digitcnn-paper and
 * digitcnn-table1 both save model.dcnn, and two columns, CSV rows and chart
 * series called "model" could not be told apart. A repeated stem takes its
 * directory's name ("runA-model"), then a number. */
static void name_loaded_models(robustness_run *run, const char *const *paths) {
  int repeated[MAX_MODELS] = {0}; /* decided on the stems, before any is renamed */
  for (int32_t i = 0; i < run->model_count; ++i)
    for (int32_t j = 0; j < run->model_count; ++j) repeated[i] |= j != i && !strcmp(run->models[j].name, run->models[i].name);
  for (int32_t i = 0; i < run->model_count; ++i) {
    if (!repeated[i]) continue;
    char dir[4096], stem[64], text[64];
    snprintf(dir, sizeof dir, "%s", paths[i]);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    else snprintf(dir, sizeof dir, ".");
    const char *parent = strrchr(dir, '/');
    parent = parent ? parent + 1 : dir;
    /* The directory as typed ("latest" for latest/model.dcnn, a link kept as named), unless it names no
     * directory: "m.dcnn" and "rb/../m.dcnn" were ".-m" and "..-m"; those are resolved. */
    char resolved_dir[4096] = "";
    if (!strcmp(parent, ".") || !strcmp(parent, "..") || !*parent) {
      char *resolved = realpath(*dir ? dir : "/", NULL);
      const char *last = resolved ? strrchr(resolved, '/') : NULL;
      if (last && last[1]) snprintf(resolved_dir, sizeof resolved_dir, "%s", last + 1);
      free(resolved);
      if (*resolved_dir) parent = resolved_dir;
      else parent = "root"; /* /m.dcnn was "-m" */
    }
    snprintf(text, sizeof text, "%.28s-%.28s", parent, file_stem(paths[i], stem, sizeof stem));
    for (int k = 2; name_taken(run, i, text) && k < 100; ++k) snprintf(text, sizeof text, "%.28s-%.28s-%d", parent, stem, k);
    set_name(&run->models[i], text);
  }
  /* A stem that was not repeated may equal another's new name ("runA-model.dcnn"), and
   * cleaning can make two names one ("a,b" and "a_b"): a number makes every name unique. */
  for (int32_t i = 1; i < run->model_count; ++i)
    if (name_taken(run, i, run->models[i].name)) {
      char base[64], text[64];
      snprintf(base, sizeof base, "%.56s", run->models[i].name);
      for (int k = 2; k < 100; ++k) {
        snprintf(text, sizeof text, "%.56s-%d", base, k);
        if (!name_taken(run, i, text)) break;
      }
      set_name(&run->models[i], text);
    }
}

static void load_model(dcnn_context *ctx, const char *path, evaluated_model *out) {
  char stem[64];
  set_name(out, file_stem(path, stem, sizeof stem));
  EXAMPLE_CHECK(dcnn_model_load(ctx, path, &out->model));
  const char *how = dcnn_model_metadata(out->model, "robustness_training");
  snprintf(out->label, sizeof out->label, "%s", how ? how : path);
  out->pipeline = example_model_pipeline(ctx, out->model);
}

void robustness_pgd(const robustness_run *run, float epsilon, dcnn_attack *attack) {
  EXAMPLE_CHECK(dcnn_attack_pgd(epsilon, attack));
  attack->iterations = run->pgd_iterations;
  attack->step = 2.5f * epsilon / (float)attack->iterations;
  attack->seed = run->seed;
}

/* Perturbations and attacks work on pixels in [0, 1]: the library refuses a model whose recorded
 * preprocessing standardises, and an attack refuses a model it cannot differentiate. Asked on one image
 * through a perturbation and an attack before any evaluation, not found after the first model's clean
 * figures (or after whole earlier models). 1, having said why, if refused. */
static int refuses_evaluation(dcnn_context *ctx, const evaluated_model *e, const dcnn_dataset *test,
                              const char *path) {
  const int32_t first = 0;
  dcnn_dataset *one = NULL;
  dcnn_metrics *m = NULL;
  EXAMPLE_CHECK(dcnn_dataset_subset(test, &first, 1, &one));
  EXAMPLE_CHECK(dcnn_metrics_create(ctx, 10, &m));
  dcnn_attack fgsm = DCNN_STRUCT_INIT(dcnn_attack);
  EXAMPLE_CHECK(dcnn_attack_fgsm(0.01f, &fgsm));
  dcnn_status s =
      dcnn_evaluate_perturbed(e->model, one, e->pipeline, 1, DCNN_PERTURB_GAUSSIAN_NOISE, 0.0f, 1, m, NULL);
  if (s == DCNN_OK) s = dcnn_evaluate_attacked(e->model, one, e->pipeline, 1, &fgsm, m, NULL);
  if (s != DCNN_OK) fprintf(stderr, "%s: --model %s: %s\n", example_program_name(), path, dcnn_last_error());
  dcnn_metrics_destroy(m);
  dcnn_dataset_destroy(one);
  return s != DCNN_OK;
}

static double accuracy_of(dcnn_metrics *m) {
  double a = NAN;
  EXAMPLE_CHECK(dcnn_metrics_get(m, DCNN_METRIC_ACCURACY, DCNN_AVERAGE_MACRO, &a));
  EXAMPLE_CHECK(dcnn_metrics_reset(m));
  return a;
}

static void evaluate_model(const robustness_run *run, dcnn_context *ctx, evaluated_model *e, const dcnn_dataset *test,
                           const dcnn_dataset *pgd_test) {
  dcnn_metrics *m = NULL;
  EXAMPLE_CHECK(dcnn_metrics_create(ctx, 10, &m));
  const double t0 = example_now();
  printf("\n== evaluating '%s' on %d test images\n", e->name, (int)dcnn_dataset_count(test));
  EXAMPLE_CHECK(dcnn_evaluate(e->model, test, e->pipeline, 256, m, NULL));
  e->clean = accuracy_of(m);
  printf("clean: %.2f%%\n", 100 * e->clean);
  for (int k = 0; k < DCNN_PERTURB_COUNT; ++k) {
    const float *levels = NULL;
    dcnn_perturbation_levels((dcnn_perturbation)k, &levels);
    e->perturbed[k][0] = e->clean;
    printf("%-15s", dcnn_perturbation_name((dcnn_perturbation)k));
    for (int l = 0; l < 5; ++l) {
      EXAMPLE_CHECK(dcnn_evaluate_perturbed(e->model, test, e->pipeline, 256, (dcnn_perturbation)k, levels[l],
                                            run->seed, m, NULL));
      e->perturbed[k][l + 1] = accuracy_of(m);
      printf("  %g: %5.2f%%", (double)levels[l], 100 * e->perturbed[k][l + 1]);
      fflush(stdout);
    }
    printf("\n");
  }
  printf("%-15s", "FGSM");
  for (int l = 0; l < ATTACK_LEVELS; ++l) {
    dcnn_attack a = DCNN_STRUCT_INIT(dcnn_attack);
    EXAMPLE_CHECK(dcnn_attack_fgsm(run->epsilons[l], &a));
    EXAMPLE_CHECK(dcnn_evaluate_attacked(e->model, test, e->pipeline, 256, &a, m, NULL));
    e->fgsm[l] = accuracy_of(m);
    printf("  %g: %5.2f%%", (double)run->epsilons[l], 100 * e->fgsm[l]);
    fflush(stdout);
  }
  EXAMPLE_CHECK(dcnn_evaluate(e->model, pgd_test, e->pipeline, 256, m, NULL)); /* PGD's epsilon 0 */
  e->pgd_clean = accuracy_of(m);
  printf("\n%-15s", "PGD");
  for (int l = 0; l < ATTACK_LEVELS; ++l) {
    dcnn_attack a = DCNN_STRUCT_INIT(dcnn_attack);
    robustness_pgd(run, run->epsilons[l], &a);
    EXAMPLE_CHECK(dcnn_evaluate_attacked(e->model, pgd_test, e->pipeline, 256, &a, m, NULL));
    e->pgd[l] = accuracy_of(m);
    printf("  %g: %5.2f%%", (double)run->epsilons[l], 100 * e->pgd[l]);
    fflush(stdout);
  }
  e->eval_seconds = example_now() - t0;
  printf("\n(evaluated in %.1f s)\n", e->eval_seconds);
  dcnn_metrics_destroy(m);
}

static char *joined_arguments(int argc, char **argv) {
  size_t size = 1;
  for (int i = 0; i < argc; ++i) size += strlen(argv[i]) + 1;
  char *line = calloc(size, 1);
  if (!line) return NULL;
  for (int i = 0; i < argc; ++i) {
    if (i) strcat(line, " ");
    strcat(line, argv[i]);
  }
  return line;
}

int main(int argc, char **argv) {
  robustness_run run = {.data = example_default_data(), .out = "out/robustness", .epochs = 5, .seed = 1,
                        .adv_epsilon = 0.03, .adv_ratio = 0.5, .pgd_images = 2000, .pgd_iterations = 10,
                        .progress = 1, .epsilons = {0.005f, 0.01f, 0.02f, 0.03f, 0.05f, 0.1f}};
  const char *model_files[MAX_MODELS];
  int32_t model_files_count = 0, epochs_set = 0, pgd_set = 0;
  const char *training_option = NULL; /* one that only training reads: refused with --model */
  static const char *const progress_modes[] = {"none", "bar", "lines", NULL}; /* example_progress_bar modes 0, 1, 2 */
  static const example_option options[] = {
      {"--data", 1},        {"--out", 1},      {"--epochs", 1}, {"--seed", 1},  {"--threads", 1},
      {"--adv-epsilon", 1}, {"--adv-ratio", 1}, {"--adv-pgd", 0}, {"--pgd-images", 1}, {"--quick", 0},
      {"--model", 1},       {"--progress", 1}, {NULL, 0}};
  example_args args = example_args_start(argc, argv, options, usage);
  while (example_args_next(&args)) {
    if (example_args_option(&args, "--data")) run.data = args.value;
    else if (example_args_option(&args, "--out")) run.out = args.value;
    else if (example_args_option(&args, "--epochs"))
      run.epochs = (int32_t)example_args_int(&args, 1, 1000000), epochs_set = 1, training_option = "--epochs";
    else if (example_args_option(&args, "--seed")) run.seed = (uint64_t)example_args_int(&args, 0, EXAMPLE_MAX_SEED);
    else if (example_args_option(&args, "--threads")) run.threads = (int32_t)example_args_int(&args, 0, 1024);
    else if (example_args_option(&args, "--adv-epsilon"))
      run.adv_epsilon = example_args_real(&args, 0, 1, EXAMPLE_ABOVE_MIN), training_option = "--adv-epsilon";
    else if (example_args_option(&args, "--adv-ratio"))
      run.adv_ratio = example_args_real(&args, 0, 1, EXAMPLE_ABOVE_MIN), training_option = "--adv-ratio";
    else if (example_args_flag(&args, "--adv-pgd")) run.adv_pgd = 1, training_option = "--adv-pgd";
    else if (example_args_option(&args, "--pgd-images"))
      run.pgd_images = (int32_t)example_args_int(&args, 1, INT32_MAX), pgd_set = 1;
    else if (example_args_flag(&args, "--quick")) run.quick = 1;
    else if (example_args_option(&args, "--model")) {
      if (model_files_count == MAX_MODELS) example_args_fail("--model", "may be given at most %d times", MAX_MODELS);
      model_files[model_files_count++] = args.value;
    } else if (example_args_option(&args, "--progress")) {
      run.progress = example_args_choice(&args, progress_modes);
    } else {
      example_args_unknown(&args);
    }
  }
  if (model_files_count && training_option) {
    fprintf(stderr, "%s: %s sets how the three models train, and --model evaluates saved ones instead; give "
            "one or the other\n", example_program_name(), training_option);
    return EXAMPLE_EXIT_USAGE;
  }
  if (run.quick && !epochs_set) run.epochs = 1;
  if (run.quick && !pgd_set) run.pgd_images = 100;
  const int locked = example_lock_dir(run.out); /* one run at a time in OUT: two would mix their reports */
  if (locked) return locked;
  /* only the models trained here are saved: --model leaves no empty OUT/models behind */
  if (!model_files_count && example_make_dirs(example_path(run.out, "models"))) return 1;
  run.argv_line = joined_arguments(argc, argv);
  if (!run.argv_line) {
    fprintf(stderr, "%s: out of memory\n", example_program_name());
    return 1;
  }

  dcnn_context *ctx = NULL;
  EXAMPLE_CHECK(dcnn_context_create(&ctx));
  example_log_warnings(ctx);
  EXAMPLE_CHECK(dcnn_context_set_threads(ctx, run.threads));
  printf("libdigitcnn %s: robustness of the paper CNN on MNIST-M (%d threads)\n", dcnn_version_string(),
         (int)dcnn_context_threads(ctx));
  const double t0 = example_now();
  dcnn_dataset *test = NULL;
  EXAMPLE_CHECK(dcnn_dataset_load_mnist_m(ctx, run.data, DCNN_MNIST_M_TEST, &test));
  if (run.quick) test = example_stratified_subset(test, 500, run.seed + 1);
  run.test_images = dcnn_dataset_count(test);
  if (run.pgd_images > run.test_images) run.pgd_images = run.test_images;
  /* PGD costs its iterations in backward passes: a stratified subset of the test set. */
  dcnn_dataset *pgd_test = NULL;
  if (run.pgd_images < run.test_images) {
    dcnn_dataset *rest = NULL;
    EXAMPLE_CHECK(dcnn_dataset_split(test, (double)run.pgd_images / run.test_images, run.seed + 2,
                                     DCNN_SPLIT_STRATIFIED, &rest, &pgd_test));
    dcnn_dataset_destroy(rest);
  } else {
    int32_t *all = malloc((size_t)run.test_images * sizeof *all);
    if (!all) return 1;
    for (int32_t i = 0; i < run.test_images; ++i) all[i] = i;
    EXAMPLE_CHECK(dcnn_dataset_subset(test, all, run.test_images, &pgd_test));
    free(all);
  }
  run.pgd_images = dcnn_dataset_count(pgd_test); /* the split's size, rounded down */

  if (model_files_count == 0) {
    dcnn_dataset *train_all = NULL, *train = NULL, *validation = NULL;
    EXAMPLE_CHECK(dcnn_dataset_load_mnist_m(ctx, run.data, DCNN_MNIST_M_TRAIN, &train_all));
    if (run.quick) train_all = example_stratified_subset(train_all, 6000, run.seed);
    EXAMPLE_CHECK(dcnn_dataset_split(train_all, 0.1, run.seed, DCNN_SPLIT_RANDOM, &train, &validation));
    printf("data: %d training, %d validation, %d test images (PGD: %d) loaded in %.1f s%s\n",
           (int)dcnn_dataset_count(train), (int)dcnn_dataset_count(validation), (int)run.test_images,
           (int)dcnn_dataset_count(pgd_test), example_now() - t0, run.quick ? " [quick mode: a stratified subset]" : "");
    for (int v = 0; v < 3; ++v) train_variant(&run, ctx, v, train, validation, &run.models[run.model_count++]);
    dcnn_dataset_destroy(train);
    dcnn_dataset_destroy(validation);
    dcnn_dataset_destroy(train_all);
  } else {
    for (int32_t i = 0; i < model_files_count; ++i) {
      load_model(ctx, model_files[i], &run.models[run.model_count++]);
      if (example_check_samples(run.models[i].pipeline, test, run.models[i].model, "test") ||
          refuses_evaluation(ctx, &run.models[i], test, model_files[i]))
        return 1;
    }
    name_loaded_models(&run, model_files);
  }
  for (int32_t i = 0; i < run.model_count; ++i) evaluate_model(&run, ctx, &run.models[i], test, pgd_test);
  /* The samples only beside a report that was written: a failed report leaves no new picture beside
   * an earlier run's pages, and no message saying where a report is. */
  int failed = write_report(&run);
  if (!failed) failed = write_samples(&run, run.models[0].model, run.models[0].pipeline, test); /* "against the first model" */
  if (!failed) printf("\ntotal %.1f s; report in %s/index.html\n", example_now() - t0, run.out);
  else fprintf(stderr, "%s: the report in %s is incomplete (see the messages above)\n", example_program_name(), run.out);
  for (int32_t i = 0; i < run.model_count; ++i) {
    dcnn_model_destroy(run.models[i].model);
    dcnn_pipeline_destroy(run.models[i].pipeline);
  }
  dcnn_dataset_destroy(pgd_test);
  dcnn_dataset_destroy(test);
  dcnn_context_destroy(ctx);
  free((void *)run.argv_line);
  return failed;
}
