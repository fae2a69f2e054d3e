/* The program the MPI tests (tests/mpi/run.sh, label mpi) start under
 * `mpirun -np P`: the paper CNN (dropout, batch norm, augmentation on)
 * trained with a global batch on a small synthetic subset.
 *   mpi_train train DIR EPOCHS [STOP_AFTER]  trains from scratch; rank 0
 *       writes DIR/steps.txt (the global batch's loss at every step),
 *       DIR/model.dcnn and DIR/ckpt/last.dcnn (a checkpoint after every
 *       epoch and every STEPS_PER_CHECKPOINT steps); STOP_AFTER > 0 stops
 *       (cleanly, on every rank) after that many epochs. Every rank writes
 *       DIR/size.RANK (the job's size as it saw it) and DIR/model.RANK.dcnn
 *       (its replica: run.sh checks they are identical). With
 *       MPI_TRAIN_CANCEL_AT=K the progress callback of rank 1 (only) cancels
 *       after global step K: every rank must return DCNN_ERR_CANCELLED at
 *       the same step; rank 0 then saves DIR/ckpt/last.dcnn (as table1's
 *       SIGTERM does) and every rank exits with status 3.
 *   mpi_train resume DIR EPOCHS   resumes from DIR/ckpt/last.dcnn, then as train.
 *   mpi_train forever DIR         trains with a checkpoint every step and
 *       writes DIR/pid.RANK: the killed-rank test kills one.
 *   mpi_train compare A B TOL     (one process) max |difference| of the
 *       step losses and of every weight of A/model.dcnn and B/model.dcnn;
 *       fails above TOL (0: the files' weights must be bit-identical).
 *   mpi_train check FILE          (one process) loads a checkpoint.
 *   mpi_train layer-error         a small model with a user layer whose
 *       backward pass fails on rank 1 alone (DCNN_ERR_NUMERIC, at its third
 *       call): this rank's error, not a decision of the job, so the job
 *       must end through the communicator's abort instead of rank 1
 *       returning while rank 0 waits in the gradient all-reduce.
 * Environment (for comparisons by hand; the tests use the defaults):
 * MPI_TRAIN_OPTIMIZER=adam (default SGD with momentum 0.9), MPI_TRAIN_LR
 * (0.001), MPI_TRAIN_THREADS (1), MPI_TRAIN_MAX_STEPS (all), MPI_TRAIN_NO_DROPOUT,
 * MPI_TRAIN_NO_AUGMENT, MPI_TRAIN_VERBOSE (compare names the largest differences),
 * MPI_TRAIN_MIXUP / MPI_TRAIN_CUTMIX (alpha; off), MPI_TRAIN_ADVERSARIAL (PGD,
 * 2 iterations from a random start, on 3/4 of each global batch),
 * MPI_TRAIN_COUNT (training samples, 96), MPI_TRAIN_THREADS_RANK1 (rank 1's threads),
 * MPI_TRAIN_OVERLAP (dcnn_mpi_world_overlapped: the gradient buckets are
 * started during the backward pass instead of summed by blocking all-reduces),
 * MPI_TRAIN_RANK1_SEED (rank 1's weights initialised with this seed: every
 * rank's fit refuses the unlike replicas, and each exits with status 4),
 * MPI_TRAIN_RANK1_STEP (rank 1's optimizer takes a step, its weights put
 * back: refused likewise), MPI_TRAIN_PLATEAU (a reduce-on-plateau schedule,
 * factor 0.5, patience 0), MPI_TRAIN_SECOND_FIT (a second
 * dcnn_trainer_fit() of EPOCHS more after the first). */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "digitcnn/builtin_layers.h"
#include "digitcnn/model_file.h"
#include "digitcnn/mpi.h"
#include "digitcnn/robustness.h"
#include "digitcnn/trainer.h"
#include "digitcnn/zoo.h"

#define COUNT 96   /* training samples: 6 global batches of 16 */
#define BATCH 16   /* global batch size */
#define SIZE 28    /* image height and width */
#define STEPS_PER_CHECKPOINT 2

static int fail(const char *what) {
  fprintf(stderr, "mpi_train: %s: %s\n", what, dcnn_last_error());
  return 1;
}

/* Synthetic digits: a class-dependent bright bar on noise (deterministic). */
static dcnn_status make_data(dcnn_context *ctx, int32_t count, uint32_t seed, dcnn_dataset **out) {
  uint8_t *pixels = malloc((size_t)count * SIZE * SIZE * 3); /* (count, 28, 28, 3) */
  int32_t *labels = malloc((size_t)count * sizeof(int32_t)); /* (count) */
  if (!pixels || !labels) {
    free(pixels);
    free(labels);
    return dcnn_error_set(DCNN_ERR_OUT_OF_MEMORY, "out of memory");
  }
  uint32_t state = seed;
  for (int32_t i = 0; i < count; ++i) {
    labels[i] = i % 10;
    for (int32_t y = 0; y < SIZE; ++y)
      for (int32_t x = 0; x < SIZE; ++x)
        for (int32_t c = 0; c < 3; ++c) {
          state = state * 1664525u + 1013904223u;
          const int bar = y >= 2 * labels[i] + 3 && y < 2 * labels[i] + 6;
          pixels[(((size_t)i * SIZE + y) * SIZE + x) * 3 + c] = (uint8_t)((state >> 26) + (bar ? 180 : 20));
        }
  }
  dcnn_status s = dcnn_dataset_create(ctx, count, SIZE, SIZE, 3, pixels, labels, 10, out);
  free(pixels);
  free(labels);
  return s;
}

typedef struct steps_file {
  FILE *out; /* rank 0 only */
  int rank, cancel_at; /* cancel_at: rank 1 cancels after this step of epoch 1 (0: never) */
} steps_file;

/* The running mean loss after step k times the samples seen, minus the same
 * after step k - 1, is step k's loss times its batch: written per step. */
static double last_sum; /* the epoch's running loss sum and samples after the last step */
static int64_t last_samples;
static int continuing; /* resumed inside an epoch: its first EPOCH_BEGIN keeps the sums of DIR/progress.txt */
static dcnn_progress_action on_progress(const dcnn_progress *p, void *user) {
  steps_file *f = user;
  if (p->event == DCNN_PROGRESS_EPOCH_BEGIN && !continuing) last_sum = 0, last_samples = 0;
  if (p->event == DCNN_PROGRESS_EPOCH_BEGIN) continuing = 0;
  const int cancel = p->event == DCNN_PROGRESS_STEP && f->rank == 1 && p->epoch == 1 && p->step == f->cancel_at;
  if (p->event != DCNN_PROGRESS_STEP || !f->out) return cancel ? DCNN_PROGRESS_CANCEL : DCNN_PROGRESS_CONTINUE;
  const double sum = p->loss * (double)p->samples;
  fprintf(f->out, "%d %d %.9g\n", (int)p->epoch, (int)p->step,
          (sum - last_sum) / (double)(p->samples - last_samples));
  fflush(f->out);
  last_sum = sum;
  last_samples = p->samples;
  return DCNN_PROGRESS_CONTINUE;
}

static int stop_after; /* epochs; 0: never */
static int on_epoch(const dcnn_epoch_stats *stats, void *user) {
  (void)user;
  return stop_after > 0 && stats->epoch >= stop_after;
}

/* dcnn_mpi_world writes only the bytes of the caller's struct_size: an older,
 * shorter layout keeps what follows it, a newer, longer one gets zeros past
 * this library's fields; a size from before the started sums is refused by
 * the overlapped world, and no size at all by both. 1 if so. */
static int world_honours_struct_size(void) {
  union {
    dcnn_communicator c;
    unsigned char bytes[sizeof(dcnn_communicator) + 16];
  } u;
  const size_t older = offsetof(dcnn_communicator, release) + sizeof u.c.release;
  memset(&u, 0xAB, sizeof u);
  u.c.struct_size = older;
  if (dcnn_mpi_world(&u.c) != DCNN_OK || u.c.struct_size != older || !u.c.allreduce_sum || u.c.release) return 0;
  for (size_t i = older; i < sizeof u; ++i)
    if (u.bytes[i] != 0xAB) return 0;
  if (dcnn_mpi_world_overlapped(&u.c) != DCNN_ERR_INVALID_ARGUMENT || !strstr(dcnn_last_error(), "struct_size"))
    return 0;
  memset(&u, 0xAB, sizeof u);
  u.c.struct_size = sizeof u;
  if (dcnn_mpi_world_overlapped(&u.c) != DCNN_OK || u.c.struct_size != sizeof u || !u.c.allreduce_wait) return 0;
  for (size_t i = sizeof u.c; i < sizeof u; ++i)
    if (u.bytes[i] != 0) return 0;
  u.c.struct_size = 0;
  return dcnn_mpi_world(&u.c) == DCNN_ERR_INVALID_ARGUMENT && dcnn_mpi_world_overlapped(&u.c) == DCNN_ERR_INVALID_ARGUMENT;
}

/* The world's sums take an empty sum at NULL, as its broadcast does, and
 * refuse an unknown element type (once summed as floats and reported OK).
 * Every rank makes the same calls, so the collectives match. 1 if so. */
static int world_checks_sum_arguments(const dcnn_communicator *w) {
  if (w->allreduce_sum(w->user, NULL, 0, DCNN_COMM_FLOAT32) != DCNN_OK) return 0;
  if (w->broadcast(w->user, NULL, 0, 0) != DCNN_OK) return 0;
  float x = 1.0f;
  if (w->allreduce_sum(w->user, &x, 1, (dcnn_comm_type)7) != DCNN_ERR_INVALID_ARGUMENT ||
      !strstr(dcnn_last_error(), "element type 7"))
    return 0;
  if (!w->allreduce_start) return 1;
  void *request = NULL;
  if (w->allreduce_start(w->user, &x, 1, (dcnn_comm_type)7, &request) != DCNN_ERR_INVALID_ARGUMENT || request)
    return 0;
  if (w->allreduce_start(w->user, NULL, 0, DCNN_COMM_FLOAT64, &request) != DCNN_OK) return 0;
  return w->allreduce_wait(w->user, request) == DCNN_OK;
}

/* One training step whose weights are then put back: the model is as before, the optimizer has a step count
 * and moments another replica lacks (MPI_TRAIN_RANK1_STEP). */
static dcnn_status step_and_put_back(dcnn_context *ctx, dcnn_model *model, dcnn_optimizer *opt, dcnn_pipeline *pipe,
                                     const dcnn_dataset *train) {
  const int64_t floats = dcnn_model_param_count(model, DCNN_PARAM_TRAINABLE | DCNN_PARAM_BUFFER);
  float *saved = malloc((size_t)floats * sizeof *saved); /* (floats): every parameter, in order */
  if (!saved) return dcnn_error_set(DCNN_ERR_OUT_OF_MEMORY, "out of memory");
  const int32_t tensors = dcnn_model_param_tensor_count(model);
  for (int pass = 0; pass < 2; ++pass) {
    int64_t at = 0;
    for (int32_t i = 0; i < tensors; ++i) {
      dcnn_param p = DCNN_STRUCT_INIT(dcnn_param);
      dcnn_status s = dcnn_model_param(model, i, &p, NULL);
      if (s != DCNN_OK) return free(saved), s;
      const int64_t n = dcnn_tensor_count(p.value);
      if (pass == 0) memcpy(saved + at, dcnn_tensor_data(p.value), (size_t)n * sizeof *saved);
      else memcpy(dcnn_tensor_data(p.value), saved + at, (size_t)n * sizeof *saved);
      at += n;
    }
    if (pass == 1) break;
    dcnn_shape sample = {0}, batch_shape;
    dcnn_status s = dcnn_pipeline_sample_shape(pipe, train, &sample);
    batch_shape = dcnn_shape_make(4, BATCH, sample.dims[0], sample.dims[1], sample.dims[2]);
    dcnn_tensor *x = NULL;
    int32_t indices[BATCH], labels[BATCH];
    for (int i = 0; i < BATCH; ++i) indices[i] = i;
    if (s == DCNN_OK) s = dcnn_tensor_create(ctx, &batch_shape, &x);
    if (s == DCNN_OK) s = dcnn_pipeline_batch(pipe, train, indices, BATCH, DCNN_AUGMENT_OFF, 0, 0, x, labels);
    if (s == DCNN_OK) s = dcnn_model_train_step(model, opt, x, labels, NULL, NULL);
    dcnn_tensor_destroy(x);
    if (s != DCNN_OK) return free(saved), s;
  }
  free(saved);
  return DCNN_OK;
}

static int run(const char *mode, const char *dir, int epochs) {
  dcnn_communicator comm = DCNN_STRUCT_INIT(dcnn_communicator);
  if (dcnn_mpi_init(NULL, NULL) != DCNN_OK) return fail("MPI");
  /* MPI_TRAIN_OVERLAP: gradient buckets started during the backward pass */
  if ((getenv("MPI_TRAIN_OVERLAP") ? dcnn_mpi_world_overlapped(&comm) : dcnn_mpi_world(&comm)) != DCNN_OK)
    return fail("MPI world");
  if (!world_honours_struct_size()) return fail("dcnn_mpi_world and the caller's struct_size");
  if (!world_checks_sum_arguments(&comm)) return fail("the world's checks of sum arguments");
  const int rank = comm.rank(comm.user);
  char path[4096];
  if (strcmp(mode, "forever") == 0) {
    snprintf(path, sizeof path, "%s/pid.%d", dir, rank);
    FILE *f = fopen(path, "w");
    if (f) {
      fprintf(f, "%ld\n", (long)getpid());
      fclose(f);
    }
  }
  dcnn_context *ctx = NULL;
  dcnn_dataset *train = NULL, *val = NULL;
  dcnn_pipeline *pipe = NULL;
  dcnn_model *model = NULL;
  dcnn_optimizer *adam = NULL;
  dcnn_trainer *trainer = NULL;
  dcnn_schedule *plateau = NULL;
  steps_file steps = {NULL, rank, getenv("MPI_TRAIN_CANCEL_AT") ? atoi(getenv("MPI_TRAIN_CANCEL_AT")) : 0};
  snprintf(path, sizeof path, "%s/size.%d", dir, rank);
  FILE *size_file = fopen(path, "w");
  if (size_file) {
    fprintf(size_file, "%d\n", (int)comm.size(comm.user));
    fclose(size_file);
  }
  dcnn_zoo_options options = DCNN_ZOO_OPTIONS_INIT;
  options.channels = 3;
  if (getenv("MPI_TRAIN_NO_DROPOUT")) options.conv_dropout = options.dense_dropout = 0;
  dcnn_status s = dcnn_context_create(&ctx);
  const char *threads = getenv("MPI_TRAIN_THREADS"); /* default 1; other counts for comparisons by hand */
  if (rank == 1 && getenv("MPI_TRAIN_THREADS_RANK1")) threads = getenv("MPI_TRAIN_THREADS_RANK1");
  if (s == DCNN_OK) s = dcnn_context_set_threads(ctx, threads ? atoi(threads) : 1);
  if (s == DCNN_OK) s = make_data(ctx, getenv("MPI_TRAIN_COUNT") ? atoi(getenv("MPI_TRAIN_COUNT")) : COUNT, 7, &train);
  if (s == DCNN_OK) s = make_data(ctx, 40, 8, &val);
  if (s == DCNN_OK) s = dcnn_pipeline_create(ctx, &pipe);
  if (s == DCNN_OK && !getenv("MPI_TRAIN_NO_AUGMENT")) s = dcnn_pipeline_set(pipe, DCNN_PIPE_ROTATION, 10);
  if (s == DCNN_OK && !getenv("MPI_TRAIN_NO_AUGMENT")) s = dcnn_pipeline_set(pipe, DCNN_PIPE_TRANSLATION, 0.1);
  if (s == DCNN_OK) s = dcnn_zoo_paper_cnn(ctx, &options, &model);
  /* MPI_TRAIN_RANK1_SEED: rank 1's replica starts from other weights (refused by every rank) */
  if (s == DCNN_OK && rank == 1 && getenv("MPI_TRAIN_RANK1_SEED"))
    s = dcnn_model_init(model, (uint64_t)atoll(getenv("MPI_TRAIN_RANK1_SEED")));
  /* MPI_TRAIN_OPTIMIZER=adam: Adam (the paper's); default SGD with momentum,
   * whose update is linear in the gradient: Adam's first steps move each
   * weight by about lr sign(g), so float noise in a gradient near 0 (the
   * processes sum in another order) becomes a difference of lr. */
  const char *kind = getenv("MPI_TRAIN_OPTIMIZER");
  if (s == DCNN_OK && kind && strcmp(kind, "adam") == 0)
    s = dcnn_optimizer_create_adam(ctx, 1e-3f, 0.9f, 0.999f, 1e-7f, 0.0f, &adam);
  else if (s == DCNN_OK)
    s = dcnn_optimizer_create_sgd(ctx, getenv("MPI_TRAIN_LR") ? (float)atof(getenv("MPI_TRAIN_LR")) : 0.001f, 0.9f,
                                  DCNN_MOMENTUM_CLASSIC, 0.0f, &adam);
  /* MPI_TRAIN_RANK1_STEP: rank 1's optimizer has taken a step, its weights put back (refused by every rank) */
  if (s == DCNN_OK && rank == 1 && getenv("MPI_TRAIN_RANK1_STEP")) s = step_and_put_back(ctx, model, adam, pipe, train);
  if (s == DCNN_OK) s = dcnn_trainer_create(ctx, model, adam, &trainer);
  if (s == DCNN_OK) s = dcnn_trainer_set_communicator(trainer, &comm);
  /* MPI_TRAIN_PLATEAU: a reduce-on-plateau schedule, whose state (best value, rate reached) every replica shares */
  if (s == DCNN_OK && getenv("MPI_TRAIN_PLATEAU"))
    s = dcnn_schedule_create_plateau(dcnn_optimizer_learning_rate(adam), 0.5f, 0, 0.0f, DCNN_GOAL_MAXIMIZE, &plateau);
  if (s == DCNN_OK && plateau) s = dcnn_trainer_set_schedule(trainer, plateau);
  if (s == DCNN_OK) s = dcnn_trainer_set(trainer, DCNN_TRAIN_EPOCHS, epochs);
  if (s == DCNN_OK) s = dcnn_trainer_set(trainer, DCNN_TRAIN_BATCH_SIZE, BATCH);
  if (s == DCNN_OK) s = dcnn_trainer_set_seed(trainer, 5);
  /* the final weights are the last step's, not the best epoch's */
  if (s == DCNN_OK) s = dcnn_trainer_set(trainer, DCNN_TRAIN_KEEP_BEST, 0);
  if (s == DCNN_OK && getenv("MPI_TRAIN_MIXUP")) s = dcnn_trainer_set(trainer, DCNN_TRAIN_MIXUP, atof(getenv("MPI_TRAIN_MIXUP")));
  if (s == DCNN_OK && getenv("MPI_TRAIN_CUTMIX"))
    s = dcnn_trainer_set(trainer, DCNN_TRAIN_CUTMIX, atof(getenv("MPI_TRAIN_CUTMIX")));
  if (s == DCNN_OK && getenv("MPI_TRAIN_ADVERSARIAL")) {
    dcnn_attack pgd = DCNN_STRUCT_INIT(dcnn_attack);
    s = dcnn_attack_pgd(0.05f, &pgd);
    pgd.iterations = 2;
    if (s == DCNN_OK) s = dcnn_trainer_set_adversarial(trainer, &pgd, 0.75);
  }
  if (s == DCNN_OK && getenv("MPI_TRAIN_MAX_STEPS"))
    s = dcnn_trainer_set(trainer, DCNN_TRAIN_MAX_STEPS, atoi(getenv("MPI_TRAIN_MAX_STEPS")));
  if (s == DCNN_OK && strcmp(mode, "resume") == 0) {
    snprintf(path, sizeof path, "%s/ckpt/last.dcnn", dir);
    s = dcnn_trainer_resume(trainer, path);
    /* A resume this rank alone failed would leave the others waiting in the fit's first all-reduce:
     * the program ends the job (docs/distributed.md, "Failure"). */
    if (s != DCNN_OK && comm.abort) comm.abort(comm.user, dcnn_last_error());
    snprintf(path, sizeof path, "%s/progress.txt", dir); /* written by a cancelled run */
    FILE *f = fopen(path, "r");
    if (f) {
      long long samples = 0;
      continuing = fscanf(f, "%la %lld", &last_sum, &samples) == 2;
      last_samples = samples;
      fclose(f);
    }
  }
  if (s == DCNN_OK) {
    snprintf(path, sizeof path, "%s/ckpt", dir);
    s = dcnn_trainer_set_checkpoint_dir(trainer, path); /* rank 0 writes, whatever every rank sets */
  }
  if (s == DCNN_OK)
    s = dcnn_trainer_set_checkpoint_every(trainer, strcmp(mode, "forever") == 0 ? 1 : STEPS_PER_CHECKPOINT, 0);
  if (s == DCNN_OK && rank == 0) {
    snprintf(path, sizeof path, "%s/steps.txt", dir);
    steps.out = fopen(path, strcmp(mode, "resume") == 0 ? "a" : "w");
    if (!steps.out) s = dcnn_error_set(DCNN_ERR_IO, "cannot write %s", path);
  }
  if (s == DCNN_OK) s = dcnn_trainer_set_progress(trainer, on_progress, &steps);
  if (s == DCNN_OK) s = dcnn_trainer_set_callback(trainer, on_epoch, NULL);
  /* A set-up this rank alone failed (rank 0's steps.txt unwritable) would leave the others waiting in the
   * fit's first all-reduce, as a failed resume would. */
  if (s != DCNN_OK && comm.abort) comm.abort(comm.user, dcnn_last_error());
  if (s == DCNN_OK) s = dcnn_trainer_fit(trainer, train, val, pipe);
  /* MPI_TRAIN_SECOND_FIT: EPOCHS more in the same job; the optimizer's steps and moments, the schedule's state
   * and the position now differ from a new trainer's but alike on every rank: the job must be accepted */
  if (s == DCNN_OK && getenv("MPI_TRAIN_SECOND_FIT")) s = dcnn_trainer_fit(trainer, train, val, pipe);
  int cancelled = 0;
  if (s == DCNN_ERR_CANCELLED && steps.cancel_at > 0) { /* save and exit, on every rank (rank 0 writes) */
    snprintf(path, sizeof path, "%s/ckpt/last.dcnn", dir);
    s = dcnn_trainer_save_checkpoint(trainer, path);
    cancelled = 1;
    snprintf(path, sizeof path, "%s/progress.txt", dir); /* the step-loss file's running sums, for the resume */
    FILE *f = rank == 0 ? fopen(path, "w") : NULL;
    if (f) {
      fprintf(f, "%a %lld\n", last_sum, (long long)last_samples);
      fclose(f);
    }
  }
  if (s == DCNN_OK && rank == 0) {
    snprintf(path, sizeof path, "%s/model.dcnn", dir);
    s = dcnn_model_save(model, path);
  }
  if (s == DCNN_OK) { /* every replica, to check they are identical */
    snprintf(path, sizeof path, "%s/model.%d.dcnn", dir, rank);
    s = dcnn_model_save(model, path);
  }
  /* replicas refused as unlike (MPI_TRAIN_RANK1_SEED): status 4 on every rank, the job not aborted */
  const int unlike = s == DCNN_ERR_INVALID_ARGUMENT && strstr(dcnn_last_error(), "differ in") != NULL;
  if (unlike) fprintf(stderr, "mpi_train: rank %d: %s\n", rank, dcnn_last_error());
  int rc = s == DCNN_OK ? (cancelled ? 3 : 0) : unlike ? 4 : fail(mode);
  if (steps.out) fclose(steps.out);
  dcnn_trainer_destroy(trainer);
  dcnn_schedule_destroy(plateau);
  dcnn_optimizer_destroy(adam);
  dcnn_model_destroy(model);
  dcnn_pipeline_destroy(pipe);
  dcnn_dataset_destroy(train);
  dcnn_dataset_destroy(val);
  dcnn_context_destroy(ctx);
  if (dcnn_mpi_finalize() != DCNN_OK) rc = fail("MPI finalize");
  dcnn_communicator after = DCNN_STRUCT_INIT(dcnn_communicator); /* MPI stays "initialised" after finalising: the world is refused, not handed out */
  if (dcnn_mpi_world(&after) != DCNN_ERR_INVALID_STATE || dcnn_mpi_world_overlapped(&after) != DCNN_ERR_INVALID_STATE)
    rc = fail("dcnn_mpi_world after dcnn_mpi_finalize");
  /* nor can MPI start again (its calls are undefined once finalised) */
  if (dcnn_mpi_init(NULL, NULL) != DCNN_ERR_INVALID_STATE || !strstr(dcnn_last_error(), "already finalised"))
    rc = fail("dcnn_mpi_init after dcnn_mpi_finalize");
  return rc;
}

/* Largest |a - b| of the step losses in A/steps.txt and B/steps.txt (same count required). */
static int compare_steps(const char *a, const char *b, double *worst) {
  char pa[4096], pb[4096];
  snprintf(pa, sizeof pa, "%s/steps.txt", a);
  snprintf(pb, sizeof pb, "%s/steps.txt", b);
  FILE *fa = fopen(pa, "r"), *fb = fopen(pb, "r");
  int n = 0, ok = fa && fb;
  while (ok) {
    int ea, sa, eb, sb;
    double la, lb;
    const int ra = fscanf(fa, "%d %d %lf", &ea, &sa, &la), rb = fscanf(fb, "%d %d %lf", &eb, &sb, &lb);
    if (ra != 3 || rb != 3) {
      ok = ra != 3 && rb != 3 && n > 0;
      break;
    }
    if (ea != eb || sa != sb) ok = 0;
    const double d = fabs(la - lb);
    if (d > *worst || isnan(d)) *worst = isnan(d) ? INFINITY : d;
    ++n;
  }
  if (fa) fclose(fa);
  if (fb) fclose(fb);
  printf("compare: %d steps\n", n);
  return ok;
}

static int compare(const char *a, const char *b, double tolerance) {
  char pa[4096], pb[4096];
  double loss_worst = 0, weight_worst = 0;
  if (!compare_steps(a, b, &loss_worst)) {
    fprintf(stderr, "compare: the step files of %s and %s differ in length or steps\n", a, b);
    return 1;
  }
  snprintf(pa, sizeof pa, "%s/model.dcnn", a);
  snprintf(pb, sizeof pb, "%s/model.dcnn", b);
  dcnn_model *ma = NULL, *mb = NULL;
  if (dcnn_model_load(NULL, pa, &ma) != DCNN_OK || dcnn_model_load(NULL, pb, &mb) != DCNN_OK) return fail("load");
  int rc = dcnn_model_param_tensor_count(ma) == dcnn_model_param_tensor_count(mb) ? 0 : 1;
  int64_t values = 0;
  for (int32_t i = 0; rc == 0 && i < dcnn_model_param_tensor_count(ma); ++i) {
    dcnn_param p = DCNN_STRUCT_INIT(dcnn_param), q = DCNN_STRUCT_INIT(dcnn_param);
    if (dcnn_model_param(ma, i, &p, NULL) != DCNN_OK || dcnn_model_param(mb, i, &q, NULL) != DCNN_OK ||
        dcnn_tensor_count(p.value) != dcnn_tensor_count(q.value)) {
      rc = 1;
      break;
    }
    const float *x = dcnn_tensor_data_const(p.value), *y = dcnn_tensor_data_const(q.value);
    for (int64_t j = 0; j < dcnn_tensor_count(p.value); ++j, ++values) {
      const double d = fabs((double)x[j] - (double)y[j]);
      if (d > weight_worst || isnan(d)) {
        weight_worst = isnan(d) ? INFINITY : d;
        if (getenv("MPI_TRAIN_VERBOSE")) /* where the runs differ most, for a look by hand */
          printf("  tensor %d (%s) element %lld: %.9g vs %.9g\n", (int)i, p.name, (long long)j, x[j], y[j]);
      }
      if (tolerance == 0 && memcmp(&x[j], &y[j], sizeof(float)) != 0) rc = 1;
    }
  }
  dcnn_model_destroy(ma);
  dcnn_model_destroy(mb);
  printf("compare: %lld weights and buffers; largest difference: step loss %.3g, weight %.3g (tolerance %g)\n",
         (long long)values, loss_worst, weight_worst, tolerance);
  if (rc || loss_worst > tolerance || weight_worst > tolerance) {
    fprintf(stderr, "compare: %s and %s differ beyond %g\n", a, b, tolerance);
    return 1;
  }
  return 0;
}

/* The user layer of `layer-error`: the identity, whose backward pass fails on rank 1 at its third call. */
static int layer_error_rank, layer_error_calls;
static dcnn_status identity_build(void *self, dcnn_context *ctx, const dcnn_shape *in, dcnn_shape *out) {
  (void)self;
  (void)ctx;
  *out = *in;
  return DCNN_OK;
}
static dcnn_status identity_forward(void *self, dcnn_exec *e, const dcnn_tensor *x, dcnn_tensor *y) {
  (void)self;
  (void)e;
  return dcnn_tensor_copy(y, x);
}
static dcnn_status identity_backward(void *self, dcnn_exec *e, const dcnn_tensor *x, const dcnn_tensor *y,
                                     const dcnn_tensor *dy, dcnn_tensor *dx) {
  (void)self;
  (void)e;
  (void)x;
  (void)y;
  if (layer_error_rank == 1 && ++layer_error_calls == 3)
    return dcnn_error_set(DCNN_ERR_NUMERIC, "mpi_train: a non-finite gradient on rank 1 alone");
  return dx ? dcnn_tensor_copy(dx, dy) : DCNN_OK;
}
static void identity_destroy(void *self) { (void)self; }

static int run_layer_error(void) {
  static const dcnn_layer_vtable identity = {.destroy = identity_destroy, .abi_version = DCNN_LAYER_ABI_VERSION,
                                             .type_name = "mpi_train.identity", .build = identity_build,
                                             .forward = identity_forward, .backward = identity_backward};
  dcnn_communicator comm = DCNN_STRUCT_INIT(dcnn_communicator);
  if (dcnn_mpi_init(NULL, NULL) != DCNN_OK || dcnn_mpi_world(&comm) != DCNN_OK) return fail("MPI");
  layer_error_rank = comm.rank(comm.user);
  dcnn_context *ctx = NULL;
  dcnn_dataset *train = NULL;
  dcnn_pipeline *pipe = NULL;
  dcnn_model *model = NULL;
  dcnn_optimizer *sgd = NULL;
  dcnn_trainer *trainer = NULL;
  dcnn_layer *layer = NULL;
  const dcnn_shape in = dcnn_shape_make(3, 3, SIZE, SIZE, 0);
  dcnn_status s = dcnn_context_create(&ctx);
  if (s == DCNN_OK) s = dcnn_context_set_threads(ctx, 1);
  if (s == DCNN_OK) s = make_data(ctx, 64, 7, &train);
  if (s == DCNN_OK) s = dcnn_pipeline_create(ctx, &pipe);
  if (s == DCNN_OK) s = dcnn_model_create(ctx, &in, &model);
  if (s == DCNN_OK) s = dcnn_flatten_create(&layer);
  if (s == DCNN_OK) s = dcnn_model_add(model, layer);
  if (s == DCNN_OK) s = dcnn_dense_create(8, DCNN_WITH_BIAS, &layer);
  if (s == DCNN_OK) s = dcnn_model_add(model, layer);
  if (s == DCNN_OK) s = dcnn_layer_create(&identity, NULL, &layer);
  if (s == DCNN_OK) s = dcnn_model_add(model, layer);
  if (s == DCNN_OK) s = dcnn_dense_create(10, DCNN_WITH_BIAS, &layer);
  if (s == DCNN_OK) s = dcnn_model_add(model, layer);
  if (s == DCNN_OK) s = dcnn_model_init(model, 3);
  if (s == DCNN_OK) s = dcnn_optimizer_create_sgd(ctx, 0.01f, 0.0f, DCNN_MOMENTUM_CLASSIC, 0.0f, &sgd);
  if (s == DCNN_OK) s = dcnn_trainer_create(ctx, model, sgd, &trainer);
  if (s == DCNN_OK) s = dcnn_trainer_set_communicator(trainer, &comm);
  if (s == DCNN_OK) s = dcnn_trainer_set(trainer, DCNN_TRAIN_EPOCHS, 2);
  if (s == DCNN_OK) s = dcnn_trainer_set(trainer, DCNN_TRAIN_BATCH_SIZE, 8);
  if (s != DCNN_OK && comm.abort) comm.abort(comm.user, dcnn_last_error());
  if (s == DCNN_OK) s = dcnn_trainer_fit(trainer, train, NULL, pipe);
  /* only reached if the job was not ended: rank 1's error came back as the job's */
  fprintf(stderr, "mpi_train: rank %d: the fit returned %s: %s\n", layer_error_rank, dcnn_status_str(s),
          s ? dcnn_last_error() : "");
  dcnn_trainer_destroy(trainer);
  dcnn_optimizer_destroy(sgd);
  dcnn_model_destroy(model);
  dcnn_pipeline_destroy(pipe);
  dcnn_dataset_destroy(train);
  dcnn_context_destroy(ctx);
  dcnn_mpi_finalize();
  return s == DCNN_OK ? 0 : 5;
}

int main(int argc, char **argv) {
  if (argc >= 4 && (strcmp(argv[1], "train") == 0 || strcmp(argv[1], "resume") == 0)) {
    stop_after = argc >= 5 ? atoi(argv[4]) : 0;
    return run(argv[1], argv[2], atoi(argv[3]));
  }
  if (argc == 3 && strcmp(argv[1], "forever") == 0) return run(argv[1], argv[2], 1000);
  if (argc == 2 && strcmp(argv[1], "layer-error") == 0) return run_layer_error();
  if (argc == 5 && strcmp(argv[1], "compare") == 0) return compare(argv[2], argv[3], atof(argv[4]));
  if (argc == 3 && strcmp(argv[1], "check") == 0) {
    dcnn_model *m = NULL;
    if (dcnn_model_load(NULL, argv[2], &m) != DCNN_OK) return fail("check");
    printf("check: %s loads\n", argv[2]);
    dcnn_model_destroy(m);
    return 0;
  }
  fprintf(stderr, "usage: mpi_train train|resume DIR EPOCHS [STOP_AFTER] | forever DIR | compare A B TOL | "
                  "check FILE | layer-error\n");
  return 2;
}
