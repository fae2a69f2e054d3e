/* digitcnn-table1: the paper's Table 1 from measurements. Trains the selected
 * models (default: the paper CNN, LeNet-5, ResNet-50, VGG-16, MobileNetV2) on
 * MNIST-M with the same protocol and seed, evaluates each on the test set
 * once, and prints accuracy, F1, AUC, precision, recall, specificity and
 * G-measure with parameters, training time and inference speed; writes the
 * same as JSON, CSV and Markdown.
 *
 *   digitcnn-table1 [--models paper,lenet5,resnet50,vgg16,mobilenetv2] [--epochs N] [--batch N]
 *                   [--threads N] [--seed N] [--rgb] [--quick] [--data DIR] [--out DIR]
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/args.h"
#include "../common/support.h"

typedef struct model_row {
  const char *key, *name;
  double claim[7]; /* the paper's Table 1 row, percent */
  int selected;
  /* measured */
  double metric[7], seconds, infer_per_second, params;
  int32_t best_epoch;
} model_row;

static model_row rows[5] = {
    {"paper", "Paper CNN", {99.25, 99.25, 99.98, 99.25, 99.25, 99.90, 99.25}, 0, {0}, 0, 0, 0, 0},
    {"lenet5", "LeNet-5", {98.50, 98.45, 99.70, 98.60, 98.40, 99.00, 98.50}, 0, {0}, 0, 0, 0, 0},
    {"resnet50", "ResNet-50", {98.75, 98.70, 99.80, 98.80, 98.60, 99.20, 98.75}, 0, {0}, 0, 0, 0, 0},
    {"vgg16", "VGG-16", {98.90, 98.80, 99.85, 98.85, 98.75, 99.30, 98.90}, 0, {0}, 0, 0, 0, 0},
    {"mobilenetv2", "MobileNetV2", {99.00, 98.90, 99.90, 99.00, 98.80, 99.40, 99.00}, 0, {0}, 0, 0, 0, 0},
};
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
    case 1: EXAMPLE_CHECK(dcnn_zoo_lenet5(ctx, &o, &m)); break;
    case 2: EXAMPLE_CHECK(dcnn_zoo_resnet50(ctx, &o, &m)); break;
    case 3: EXAMPLE_CHECK(dcnn_zoo_vgg16(ctx, &o, &m)); break;
    default: EXAMPLE_CHECK(dcnn_zoo_mobilenetv2(ctx, &o, &m)); break;
  }
  return m;
}

/* The paper CNN takes the paper's 28x28; the others MNIST-M's native 32x32. */
static dcnn_pipeline *pipeline_for(dcnn_context *ctx, int which, int rgb) {
  dcnn_pipeline *p = NULL;
  EXAMPLE_CHECK(dcnn_pipeline_create(ctx, &p));
  EXAMPLE_CHECK(dcnn_pipeline_set_paper_defaults(p));
  if (which != 0) {
    EXAMPLE_CHECK(dcnn_pipeline_set(p, DCNN_PIPE_HEIGHT, 0));
    EXAMPLE_CHECK(dcnn_pipeline_set(p, DCNN_PIPE_WIDTH, 0));
  }
  if (rgb) EXAMPLE_CHECK(dcnn_pipeline_set(p, DCNN_PIPE_GRAYSCALE, 0));
  return p;
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
    if (!r->selected) continue;
    fprintf(fj, "%s\n    {\"model\": \"%s\", \"parameters\": %.0f, \"train_seconds\": %.1f, \"infer_per_second\": %.0f",
            first ? "" : ",", r->name, r->params, r->seconds, r->infer_per_second);
    for (int k = 0; k < 7; ++k) fprintf(fj, ", \"%s\": %.6f", metric_names[k], r->metric[k]);
    fprintf(fj, ", \"paper_claim\": {");
    for (int k = 0; k < 7; ++k) fprintf(fj, "%s\"%s\": %.4f", k ? ", " : "", metric_names[k], r->claim[k] / 100);
    fprintf(fj, "}}");
    first = 0;
    fprintf(fc, "%s", r->name);
    for (int k = 0; k < 7; ++k) fprintf(fc, ",%.6f", r->metric[k]);
    fprintf(fc, ",%.0f,%.1f,%.0f\n", r->params, r->seconds, r->infer_per_second);
    fprintf(fm, "| %s (measured) |", r->name);
    for (int k = 0; k < 7; ++k) fprintf(fm, " %.2f%% |", 100 * r->metric[k]);
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
               example_write_text(example_path(dir, "table1.md"), md);
  printf("\n%s", md);
  free(json);
  free(csv);
  free(md);
  if (!failed) printf("\nWrote %s/table1.{md,csv,json}\n", dir);
  return failed;
}

static void usage(FILE *out) {
  fprintf(out,
          "usage: %s [--models paper,lenet5,resnet50,vgg16,mobilenetv2] [--epochs N] [--batch N]\n"
          "       [--threads N] [--seed N] [--rgb] [--quick] [--data DIR] [--out DIR]\n"
          "  The paper's Table 1 from measurements: trains each model with one protocol, tests it once\n"
          "  --models LIST   comma-separated models (all five)\n"
          "  --epochs N      training epochs of each model (2; 1 with --quick)\n"
          "  --batch N       batch size, 2 or more (32)\n"
          "  --threads N     threads, 0 = all cores (0)\n"
          "  --seed N        seed of the split, initialisation and training (1)\n"
          "  --rgb           keep colour (3 channels) instead of grayscale\n"
          "  --quick         3,000 training and 1,000 test images: a check\n"
          "  --data DIR      MNIST-M directory (official layout; default %s)\n"
          "  --out DIR       where the JSON, CSV and Markdown tables go (out/table1)\n",
          example_program_name(), DCNN_DEFAULT_DATA);
}

int main(int argc, char **argv) {
  const char *data = DCNN_DEFAULT_DATA, *out = "out/table1", *models = "paper,lenet5,resnet50,vgg16,mobilenetv2";
  int32_t epochs = 2, batch = 32, threads = 0;
  int quick = 0, rgb = 0, epochs_set = 0;
  uint64_t seed = 1;
  static const example_option options[] = {
      {"--models", 1}, {"--epochs", 1}, {"--batch", 1}, {"--threads", 1}, {"--seed", 1}, {"--data", 1},
      {"--out", 1},    {"--quick", 0},  {"--rgb", 0},   {NULL, 0}};
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
    else if (example_args_flag(&args, "--quick")) quick = 1;
    else if (example_args_flag(&args, "--rgb")) rgb = 1;
    else example_args_unknown(&args);
  }
  if (quick && !epochs_set) epochs = 1;
  static const char *const keys[] = {"paper", "lenet5", "resnet50", "vgg16", "mobilenetv2", NULL};
  char list[256], *names[16];
  const int count = example_parse_list("--models", models, list, sizeof list, names, 16);
  for (int i = 0; i < count; ++i) rows[example_parse_choice("--models", names[i], keys)].selected = 1;

  dcnn_context *ctx = NULL;
  EXAMPLE_CHECK(dcnn_context_create(&ctx));
  example_log_warnings(ctx);
  EXAMPLE_CHECK(dcnn_context_set_threads(ctx, threads));
  dcnn_dataset *all = NULL, *test = NULL, *train = NULL, *validation = NULL, *rest = NULL, *part = NULL;
  EXAMPLE_CHECK(dcnn_dataset_load_mnist_m(ctx, data, DCNN_MNIST_M_TRAIN, &all));
  EXAMPLE_CHECK(dcnn_dataset_load_mnist_m(ctx, data, DCNN_MNIST_M_TEST, &test));
  if (quick) { /* stratified subsets: 3,000 training and 1,000 test images */
    EXAMPLE_CHECK(dcnn_dataset_split(all, 3000.0 / dcnn_dataset_count(all), seed, DCNN_SPLIT_STRATIFIED, &rest, &part));
    dcnn_dataset_destroy(all);
    dcnn_dataset_destroy(rest);
    all = part;
    EXAMPLE_CHECK(dcnn_dataset_split(test, 1000.0 / dcnn_dataset_count(test), seed, DCNN_SPLIT_STRATIFIED, &rest,
                                     &part));
    dcnn_dataset_destroy(test);
    dcnn_dataset_destroy(rest);
    test = part;
  }
  EXAMPLE_CHECK(dcnn_dataset_split(all, 0.1, seed, DCNN_SPLIT_RANDOM, &train, &validation));
  printf("Table 1 on MNIST-M: %d training, %d validation, %d test images; %d epoch(s), batch %d, Adam 1e-3, "
         "augmentation, %s input, seed %llu, %d threads%s\n", (int)dcnn_dataset_count(train),
         (int)dcnn_dataset_count(validation), (int)dcnn_dataset_count(test), (int)epochs, (int)batch,
         rgb ? "RGB" : "grayscale", (unsigned long long)seed, (int)dcnn_context_threads(ctx), quick ? " [quick]" : "");

  for (int i = 0; i < 5; ++i) {
    model_row *r = &rows[i];
    if (!r->selected) continue;
    dcnn_model *model = build(ctx, i, rgb ? 3 : 1, seed);
    dcnn_pipeline *pipeline = pipeline_for(ctx, i, rgb);
    r->params = (double)dcnn_model_param_count(model, DCNN_PARAM_TRAINABLE);
    char *summary = NULL;
    EXAMPLE_CHECK(dcnn_model_summary(model, &summary));
    const char *macs = strstr(summary, "Forward multiply-adds");
    printf("\n== %s: %.0f trainable parameters; %s", r->name, r->params, macs ? macs : "\n");
    dcnn_free(summary);
    dcnn_optimizer *adam = NULL;
    EXAMPLE_CHECK(dcnn_optimizer_create_adam(ctx, 1e-3f, 0.9f, 0.999f, 1e-7f, 0.0f, &adam));
    dcnn_trainer *trainer = NULL;
    EXAMPLE_CHECK(dcnn_trainer_create(ctx, model, adam, &trainer));
    EXAMPLE_CHECK(dcnn_trainer_set(trainer, DCNN_TRAIN_EPOCHS, epochs));
    EXAMPLE_CHECK(dcnn_trainer_set(trainer, DCNN_TRAIN_BATCH_SIZE, batch));
    EXAMPLE_CHECK(dcnn_trainer_set_seed(trainer, seed));
    dcnn_progress_bar *bar = example_progress_bar(ctx, trainer, 1);
    double t0 = example_now();
    EXAMPLE_CHECK(dcnn_trainer_fit(trainer, train, validation, pipeline));
    r->seconds = example_now() - t0;
    r->best_epoch = dcnn_trainer_best_epoch(trainer);
    dcnn_metrics *m = NULL;
    EXAMPLE_CHECK(dcnn_metrics_create(ctx, 10, &m));
    t0 = example_now();
    EXAMPLE_CHECK(dcnn_evaluate(model, test, pipeline, 256, m, NULL));
    r->infer_per_second = dcnn_dataset_count(test) / (example_now() - t0);
    const dcnn_metric which[7] = {DCNN_METRIC_ACCURACY, DCNN_METRIC_F1, DCNN_METRIC_ROC_AUC, DCNN_METRIC_PRECISION,
                                  DCNN_METRIC_RECALL, DCNN_METRIC_SPECIFICITY, DCNN_METRIC_G_MEASURE};
    const dcnn_average avg[7] = {DCNN_AVERAGE_MACRO, DCNN_AVERAGE_WEIGHTED, DCNN_AVERAGE_MACRO, DCNN_AVERAGE_WEIGHTED,
                                 DCNN_AVERAGE_WEIGHTED, DCNN_AVERAGE_MACRO, DCNN_AVERAGE_WEIGHTED};
    for (int k = 0; k < 7; ++k) EXAMPLE_CHECK(dcnn_metrics_get(m, which[k], avg[k], &r->metric[k]));
    printf("%s: test accuracy %.2f%% (weights of epoch %d), trained in %.0f s, inference %.0f images/s\n", r->name,
           100 * r->metric[0], (int)r->best_epoch, r->seconds, r->infer_per_second);
    dcnn_metrics_destroy(m);
    dcnn_trainer_destroy(trainer);
    dcnn_progress_bar_destroy(bar);
    dcnn_optimizer_destroy(adam);
    dcnn_pipeline_destroy(pipeline);
    dcnn_model_destroy(model);
  }
  int failed = write_outputs(out, epochs, batch, quick);
  dcnn_dataset_destroy(train);
  dcnn_dataset_destroy(validation);
  dcnn_dataset_destroy(all);
  dcnn_dataset_destroy(test);
  dcnn_context_destroy(ctx);
  return failed;
}
