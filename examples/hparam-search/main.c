/* digitcnn-hparam-search: grid or random search (paper §2.3) over learning
 * rate, batch size and dropout (plus, in random mode, batch-norm momentum and
 * augmentation strength) on the validation split with a short budget per
 * trial; prints a ranked table, then retrains the best configuration fully
 * and evaluates it on the test set once. Trials are reproducible from --seed.
 *
 *   digitcnn-hparam-search [--mode grid|random] [--trials N] [--trial-epochs N] [--subset N]
 *                          [--final-epochs N] [--seed N] [--threads N] [--data DIR] [--rgb] [--quick]
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/args.h"
#include "../common/cluster.h"
#include "../common/support.h"

typedef struct trial {
  double lr, dropout, bn_momentum, augment_scale;
  int32_t batch;
  double val_accuracy, val_loss, seconds;
  int32_t best_epoch;
  int32_t index; /* in the search's order: breaks ties in the ranking */
} trial;

typedef struct search {
  const char *data;
  int random_mode, rgb, quick;
  int32_t trials, trial_epochs, subset, final_epochs, threads;
  uint64_t seed;
} search;

static dcnn_pipeline *make_pipeline(dcnn_context *ctx, int rgb, double augment_scale) {
  dcnn_pipeline *p = NULL;
  EXAMPLE_CHECK(dcnn_pipeline_create(ctx, &p));
  EXAMPLE_CHECK(dcnn_pipeline_set_paper_defaults(p));
  if (rgb) EXAMPLE_CHECK(dcnn_pipeline_set(p, DCNN_PIPE_GRAYSCALE, 0));
  /* Augmentation strength: the paper's ranges scaled by augment_scale. */
  EXAMPLE_CHECK(dcnn_pipeline_set(p, DCNN_PIPE_ROTATION, 10.0 * augment_scale));
  EXAMPLE_CHECK(dcnn_pipeline_set(p, DCNN_PIPE_TRANSLATION, 0.1 * augment_scale));
  EXAMPLE_CHECK(dcnn_pipeline_set(p, DCNN_PIPE_ZOOM_MIN, 1.0 - 0.1 * augment_scale));
  EXAMPLE_CHECK(dcnn_pipeline_set(p, DCNN_PIPE_ZOOM_MAX, 1.0 + 0.1 * augment_scale));
  return p;
}

/* Trains one configuration; returns the best validation accuracy reached. */
static void run_trial(dcnn_context *ctx, const search *s, trial *t, const dcnn_dataset *train,
                      const dcnn_dataset *validation, int32_t epochs, dcnn_model **keep) {
  dcnn_pipeline *pipeline = make_pipeline(ctx, s->rgb, t->augment_scale);
  dcnn_model *model = NULL;
  dcnn_zoo_options arch = DCNN_ZOO_OPTIONS_INIT;
  arch.channels = s->rgb ? 3 : 1;
  arch.conv_dropout = (float)(t->dropout / 2);
  arch.dense_dropout = (float)t->dropout;
  arch.bn_momentum = (float)t->bn_momentum;
  arch.seed = s->seed;
  EXAMPLE_CHECK(dcnn_zoo_paper_cnn(ctx, &arch, &model));
  dcnn_optimizer *adam = NULL;
  EXAMPLE_CHECK(dcnn_optimizer_create_adam(ctx, (float)t->lr, 0.9f, 0.999f, 1e-7f, 0.0f, &adam));
  dcnn_schedule *cosine = NULL;
  EXAMPLE_CHECK(dcnn_schedule_create_cosine((float)t->lr, epochs, 0.0f, &cosine));
  dcnn_trainer *trainer = NULL;
  EXAMPLE_CHECK(dcnn_trainer_create(ctx, model, adam, &trainer));
  if (keep) example_cluster_attach(trainer); /* the final retraining runs data-parallel over the whole job */
  EXAMPLE_CHECK(dcnn_trainer_set(trainer, DCNN_TRAIN_EPOCHS, epochs));
  EXAMPLE_CHECK(dcnn_trainer_set(trainer, DCNN_TRAIN_BATCH_SIZE, t->batch));
  EXAMPLE_CHECK(dcnn_trainer_set_seed(trainer, s->seed));
  EXAMPLE_CHECK(dcnn_trainer_set(trainer, DCNN_TRAIN_AUGMENT, t->augment_scale > 0));
  dcnn_progress_bar *bar = example_progress_bar(ctx, trainer, keep ? 1 : 0);
  EXAMPLE_CHECK(dcnn_trainer_set_schedule(trainer, cosine));
  double t0 = example_now();
  const dcnn_status fitted = dcnn_trainer_fit(trainer, train, validation, pipeline);
  t->seconds = example_now() - t0;
  if (fitted == DCNN_ERR_NUMERIC && !keep) { /* a trial that diverged (a large lr) ranks last; the search goes on */
    t->val_accuracy = t->val_loss = NAN;
    t->best_epoch = 0;
  } else {
    EXAMPLE_CHECK(fitted);
    t->best_epoch = dcnn_trainer_best_epoch(trainer);
    dcnn_epoch_stats best = DCNN_STRUCT_INIT(dcnn_epoch_stats);
    EXAMPLE_CHECK(dcnn_trainer_history(trainer, t->best_epoch ? t->best_epoch - 1 : epochs - 1, &best));
    t->val_accuracy = best.val_accuracy;
    t->val_loss = best.val_loss;
  }
  dcnn_trainer_destroy(trainer);
  dcnn_progress_bar_destroy(bar);
  dcnn_schedule_destroy(cosine);
  dcnn_optimizer_destroy(adam);
  dcnn_pipeline_destroy(pipeline);
  if (keep) *keep = model;
  else dcnn_model_destroy(model);
}

/* Under mpirun each rank ran the trials i with i mod size == rank: the
 * results are summed over the ranks (zeros elsewhere) so that every rank has
 * the whole table. */
static void gather_trials(trial *trials, int32_t count) {
  const dcnn_communicator *comm = example_cluster_comm();
  if (!comm) return;
  const int rank = example_cluster_rank(), size = example_cluster_size();
  double *values = calloc((size_t)count * 4, sizeof *values); /* (count, 4) */
  if (!values) {
    fprintf(stderr, "error: out of memory\n");
    exit(1);
  }
  for (int32_t i = 0; i < count; ++i)
    if (i % size == rank) {
      values[4 * i] = trials[i].val_accuracy;
      values[4 * i + 1] = trials[i].val_loss;
      values[4 * i + 2] = trials[i].seconds;
      values[4 * i + 3] = trials[i].best_epoch;
    }
  EXAMPLE_CHECK(comm->allreduce_sum(comm->user, values, 4 * (int64_t)count, DCNN_COMM_FLOAT64));
  for (int32_t i = 0; i < count; ++i) {
    trials[i].val_accuracy = values[4 * i];
    trials[i].val_loss = values[4 * i + 1];
    trials[i].seconds = values[4 * i + 2];
    trials[i].best_epoch = (int32_t)values[4 * i + 3];
  }
  free(values);
}

/* Best first, diverged trials (NaN) last, ties in the search's order: one order whatever qsort does, so
 * that equal accuracies retrain the same configuration everywhere. */
static int by_accuracy(const void *a, const void *b) {
  const trial *x = a, *y = b;
  const int x_nan = isnan(x->val_accuracy), y_nan = isnan(y->val_accuracy);
  if (x_nan != y_nan) return x_nan - y_nan;
  if (!x_nan && x->val_accuracy != y->val_accuracy) return x->val_accuracy < y->val_accuracy ? 1 : -1;
  return (x->index > y->index) - (x->index < y->index);
}

static void print_trial(int rank, const trial *t) {
  if (isnan(t->val_accuracy)) {
    printf("%4d  %8.1e %6d %8.2f %8.2f %8.2f   diverged %17.1f\n", rank, t->lr, (int)t->batch, t->dropout,
           t->bn_momentum, t->augment_scale, t->seconds);
    return;
  }
  printf("%4d  %8.1e %6d %8.2f %8.2f %8.2f   %7.2f%% %8.4f %8.1f\n", rank, t->lr, (int)t->batch, t->dropout,
         t->bn_momentum, t->augment_scale, 100 * t->val_accuracy, t->val_loss, t->seconds);
}

static void usage(FILE *out) {
  fprintf(out,
          "usage: %s [--mode grid|random] [--trials N] [--trial-epochs N] [--subset N] [--final-epochs N]\n"
          "       [--seed N] [--threads N] [--data DIR] [--rgb] [--quick]\n"
          "  Searches learning rate, batch size and dropout on the validation split, then retrains the best\n"
          "  --mode NAME         grid (8 points) | random (also BN momentum and augmentation strength) (grid)\n"
          "  --trials N          trials, at most 8 in grid mode (8)\n"
          "  --trial-epochs N    epochs of each trial (2)\n"
          "  --subset N          training images of each trial, 100 or more (12000)\n"
          "  --final-epochs N    epochs of the best configuration's full retraining (10)\n"
          "  --seed N            seed of the split, the trials and the training (1)\n"
          "  --threads N         threads, 0 = all cores (0)\n"
          "  --data DIR          MNIST-M directory (official layout; default %s)\n"
          "  --rgb               keep colour (3 channels) instead of grayscale\n"
          "  --quick             at most 4 trials of 1 epoch on 3,000 images, 1 final epoch: a check\n"
          "                      (options given explicitly win)\n",
          example_program_name(), example_default_data());
}

int main(int argc, char **argv) {
  /* Under mpirun the trials are spread over the ranks, rank 0 prints (common/cluster.h). */
  example_cluster_start(&argc, &argv);
  search s = {example_default_data(), 0, 0, 0, 8, 2, 12000, 10, 0, 1};
  static const char *const modes[] = {"grid", "random", NULL};
  static const example_option options[] = {
      {"--mode", 1}, {"--trials", 1}, {"--trial-epochs", 1}, {"--subset", 1}, {"--final-epochs", 1}, {"--seed", 1},
      {"--threads", 1}, {"--data", 1}, {"--rgb", 0}, {"--quick", 0}, {NULL, 0}};
  example_args args = example_args_start(argc, argv, options, usage);
  int trials_set = 0, trial_epochs_set = 0, subset_set = 0, final_epochs_set = 0; /* beat --quick, as elsewhere */
  while (example_args_next(&args)) {
    if (example_args_option(&args, "--mode")) s.random_mode = example_args_choice(&args, modes);
    else if (example_args_option(&args, "--trials"))
      s.trials = (int32_t)example_args_int(&args, 1, 10000), trials_set = 1;
    else if (example_args_option(&args, "--trial-epochs"))
      s.trial_epochs = (int32_t)example_args_int(&args, 1, 1000000), trial_epochs_set = 1;
    else if (example_args_option(&args, "--subset"))
      s.subset = (int32_t)example_args_int(&args, 100, INT32_MAX), subset_set = 1;
    else if (example_args_option(&args, "--final-epochs"))
      s.final_epochs = (int32_t)example_args_int(&args, 1, 1000000), final_epochs_set = 1;
    else if (example_args_option(&args, "--seed")) s.seed = (uint64_t)example_args_int(&args, 0, EXAMPLE_MAX_SEED);
    else if (example_args_option(&args, "--threads")) s.threads = (int32_t)example_args_int(&args, 0, 1024);
    else if (example_args_option(&args, "--data")) s.data = args.value;
    else if (example_args_flag(&args, "--rgb")) s.rgb = 1;
    else if (example_args_flag(&args, "--quick")) s.quick = 1;
    else example_args_unknown(&args);
  }
  if (!s.random_mode && s.trials > 8) { /* the grid has 8 points: more would silently be fewer */
    fprintf(stderr, "%s: --trials %d: the grid has 8 points (--mode random takes more)\n", example_program_name(),
            (int)s.trials);
    return EXAMPLE_EXIT_USAGE; /* not finalised: see leave() in common/args.c */
  }
  if (s.quick) { /* its sizes for what was not given */
    if (!trials_set) s.trials = s.trials > 4 ? 4 : s.trials;
    if (!trial_epochs_set) s.trial_epochs = 1;
    if (!subset_set) s.subset = 3000;
    if (!final_epochs_set) s.final_epochs = 1;
  }
  dcnn_context *ctx = NULL;
  EXAMPLE_CHECK(dcnn_context_create(&ctx));
  example_log_warnings(ctx);
  EXAMPLE_CHECK(dcnn_context_set_threads(ctx, s.threads));
  dcnn_dataset *all = NULL, *test = NULL, *train = NULL, *validation = NULL, *rest = NULL, *subset = NULL;
  EXAMPLE_CHECK(dcnn_dataset_load_mnist_m(ctx, s.data, DCNN_MNIST_M_TRAIN, &all));
  EXAMPLE_CHECK(dcnn_dataset_load_mnist_m(ctx, s.data, DCNN_MNIST_M_TEST, &test));
  EXAMPLE_CHECK(dcnn_dataset_split(all, 0.1, s.seed, DCNN_SPLIT_RANDOM, &train, &validation));
  { /* Before any trial: a test split of gray PNGs under a colour model would fail only at the end */
    dcnn_pipeline *pipeline = make_pipeline(ctx, s.rgb, 1.0);
    dcnn_model *model = NULL;
    dcnn_zoo_options arch = DCNN_ZOO_OPTIONS_INIT;
    arch.channels = s.rgb ? 3 : 1;
    EXAMPLE_CHECK(dcnn_zoo_paper_cnn(ctx, &arch, &model));
    const int refused = example_cluster_any(example_check_samples(pipeline, all, model, "training") ||
                                            example_check_samples(pipeline, test, model, "test"));
    dcnn_model_destroy(model);
    dcnn_pipeline_destroy(pipeline);
    if (refused) {
      dcnn_dataset_destroy(train);
      dcnn_dataset_destroy(validation);
      dcnn_dataset_destroy(all);
      dcnn_dataset_destroy(test);
      dcnn_context_destroy(ctx);
      example_cluster_finish();
      return 1;
    }
  }
  const double share = (double)s.subset / dcnn_dataset_count(train);
  if (share < 1) EXAMPLE_CHECK(dcnn_dataset_split(train, share, s.seed, DCNN_SPLIT_STRATIFIED, &rest, &subset));

  /* The grid: learning rate x batch size x dropout. Random: drawn from (seed, trial). */
  const double grid_lr[2] = {1e-3, 3e-3}, grid_dropout[2] = {0.25, 0.5};
  const int32_t grid_batch[2] = {32, 128}, batches[3] = {32, 64, 128};
  /* The 8 points in an order where the first 2 differ in every setting and each setting takes both values
   * among the first 4: with the learning rate changing fastest, a search of 4 trials (--quick) never varied
   * the dropout, one of 2 never the batch. Bits: learning rate, batch, dropout. */
  static const unsigned grid_order[8] = {0, 7, 6, 1, 4, 3, 2, 5};
  trial *trials = calloc((size_t)(s.random_mode ? s.trials : 8), sizeof *trials);
  int32_t count = s.random_mode ? s.trials : (s.trials < 8 ? s.trials : 8);
  for (int32_t i = 0; i < count; ++i) {
    trial *t = &trials[i];
    t->index = i;
    if (s.random_mode) {
      const uint64_t r = dcnn_random_derive(s.seed, 0x7A1u + (uint64_t)i);
      t->lr = pow(10.0, -4.0 + 2.0 * dcnn_random_uniform(r, 0, 0));
      t->batch = batches[dcnn_random_bits(r, 0, 1) % 3];
      t->dropout = 0.1 + 0.5 * dcnn_random_uniform(r, 0, 2);
      t->bn_momentum = dcnn_random_uniform(r, 0, 3) < 0.5 ? 0.9 : 0.99;
      t->augment_scale = (double)(dcnn_random_bits(r, 0, 4) % 3) / 2.0;
    } else {
      const unsigned point = grid_order[i];
      t->lr = grid_lr[point & 1];
      t->batch = grid_batch[(point >> 1) & 1];
      t->dropout = grid_dropout[(point >> 2) & 1];
      t->bn_momentum = 0.99;
      t->augment_scale = 1.0;
    }
  }
  printf("%s search: %d trials of %d epoch(s) on %d training images, validated on %d\n",
         s.random_mode ? "random" : "grid", (int)count, (int)s.trial_epochs,
         (int)dcnn_dataset_count(subset ? subset : train), (int)dcnn_dataset_count(validation));
  printf("%4s  %8s %6s %8s %8s %8s   %8s %8s %8s\n", "#", "lr", "batch", "dropout", "bn_mom", "augment", "val_acc",
         "val_loss", "seconds");
  const int rank = example_cluster_rank(), size = example_cluster_size();
  if (size > 1) printf("(trial i runs on rank i mod %d; the table follows when all have finished)\n", size);
  for (int32_t i = 0; i < count; ++i) {
    if (i % size != rank) continue;
    run_trial(ctx, &s, &trials[i], subset ? subset : train, validation, s.trial_epochs, NULL);
    if (size == 1) print_trial(i + 1, &trials[i]);
    fflush(stdout);
  }
  gather_trials(trials, count);
  for (int32_t i = 0; size > 1 && i < count; ++i) print_trial(i + 1, &trials[i]);
  qsort(trials, (size_t)count, sizeof *trials, by_accuracy);
  printf("\nRanked by validation accuracy:\n");
  for (int32_t i = 0; i < count; ++i) print_trial(i + 1, &trials[i]);

  trial best = trials[0];
  if (isnan(best.val_accuracy)) {
    fprintf(stderr, "%s: every trial diverged: try smaller learning rates\n", example_program_name());
    example_cluster_finish();
    return 1;
  }
  printf("\nRetraining the best configuration (lr %.1e, batch %d, dropout %.2f, bn momentum %.2f, augmentation x%.1f) "
         "for %d epoch(s) on %d training images:\n", best.lr, (int)best.batch, best.dropout, best.bn_momentum,
         best.augment_scale, (int)s.final_epochs, (int)dcnn_dataset_count(s.quick && subset ? subset : train));
  dcnn_model *model = NULL;
  run_trial(ctx, &s, &best, s.quick && subset ? subset : train, validation, s.final_epochs, &model);
  dcnn_pipeline *pipeline = make_pipeline(ctx, s.rgb, 0);
  dcnn_metrics *metrics = NULL;
  EXAMPLE_CHECK(dcnn_metrics_create(ctx, 10, &metrics));
  EXAMPLE_CHECK(dcnn_evaluate_distributed(model, test, pipeline, 256, example_cluster_comm(), metrics, NULL));
  char *block = NULL;
  EXAMPLE_CHECK(dcnn_metrics_format(metrics, DCNN_FORMAT_SUMMARY, NULL, &block));
  printf("\nTest set (evaluated once, %lld images):\n%s", (long long)dcnn_metrics_count(metrics), block);
  dcnn_free(block);
  dcnn_metrics_destroy(metrics);
  dcnn_pipeline_destroy(pipeline);
  dcnn_model_destroy(model);
  free(trials);
  dcnn_dataset_destroy(subset);
  dcnn_dataset_destroy(rest);
  dcnn_dataset_destroy(train);
  dcnn_dataset_destroy(validation);
  dcnn_dataset_destroy(test);
  dcnn_dataset_destroy(all);
  dcnn_context_destroy(ctx);
  example_cluster_finish();
  return 0;
}
