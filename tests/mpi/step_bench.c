/* The data-parallel training step behind docs/distributed.md's overlap
 * measurement: under `mpirun -np P`, trains MODEL (paper or resnet50, 32 x 32
 * RGB, synthetic digits) with dcnn_trainer_fit for STEPS global batches of
 * BATCH, one thread per rank, and prints rank 0's median step time and the
 * median of the profile's all-reduce share (the gradient sums' time the
 * backward pass did not hide).
 *   mpirun -np 2 --oversubscribe --allow-run-as-root mpi_step_bench [MODEL] [BATCH] [STEPS]
 * MPI_TRAIN_OVERLAP=1: dcnn_mpi_world_overlapped (the gradient buckets are
 * started during the backward pass), for the comparison. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_timing.h"
#include "digitcnn/mpi.h"
#include "digitcnn/profile.h"
#include "digitcnn/trainer.h"
#include "digitcnn/zoo.h"

#define MAX_STEPS 1000

static double step_end[MAX_STEPS + 1]; /* (steps + 1) time at the end of each step; [0]: the epoch's start */
static int32_t steps_seen;

static dcnn_progress_action on_progress(const dcnn_progress *p, void *user) {
  (void)user;
  if (p->event == DCNN_PROGRESS_EPOCH_BEGIN) step_end[0] = bench_now();
  if (p->event == DCNN_PROGRESS_STEP && p->step <= MAX_STEPS) step_end[steps_seen = p->step] = bench_now();
  return DCNN_PROGRESS_CONTINUE;
}

/* Synthetic 32 x 32 RGB digits: a class-dependent bright bar on noise. */
static dcnn_status make_data(dcnn_context *ctx, int32_t count, dcnn_dataset **out) {
  uint8_t *pixels = malloc((size_t)count * 32 * 32 * 3); /* (count, 32, 32, 3) */
  int32_t *labels = malloc((size_t)count * sizeof(int32_t)); /* (count) */
  dcnn_status s = pixels && labels ? DCNN_OK : DCNN_ERR_OUT_OF_MEMORY;
  uint32_t state = 7;
  for (int32_t i = 0; s == DCNN_OK && i < count; ++i) {
    labels[i] = i % 10;
    for (int32_t p = 0; p < 32 * 32 * 3; ++p) {
      state = state * 1664525u + 1013904223u;
      const int bar = p / 96 >= 2 * labels[i] + 3 && p / 96 < 2 * labels[i] + 6;
      pixels[(size_t)i * 32 * 32 * 3 + (size_t)p] = (uint8_t)((state >> 26) + (bar ? 180 : 20));
    }
  }
  if (s == DCNN_OK) s = dcnn_dataset_create(ctx, count, 32, 32, 3, pixels, labels, 10, out);
  free(pixels);
  free(labels);
  return s;
}

int main(int argc, char **argv) {
  if (dcnn_mpi_init(&argc, &argv) != DCNN_OK) return fprintf(stderr, "%s\n", dcnn_last_error()), 1;
  const char *name = argc > 1 ? argv[1] : "paper";
  const int32_t batch = argc > 2 ? atoi(argv[2]) : 32, steps = argc > 3 ? atoi(argv[3]) : 30;
  dcnn_communicator comm = DCNN_STRUCT_INIT(dcnn_communicator);
  dcnn_context *ctx = NULL;
  dcnn_model *m = NULL;
  dcnn_optimizer *sgd = NULL;
  dcnn_trainer *t = NULL;
  dcnn_dataset *train = NULL;
  dcnn_pipeline *pipe = NULL;
  dcnn_profile *profile = NULL;
  const int overlap = getenv("MPI_TRAIN_OVERLAP") != NULL;
  dcnn_status s = steps < 5 || steps > MAX_STEPS || batch < 2 ? DCNN_ERR_INVALID_ARGUMENT
                  : overlap                                     ? dcnn_mpi_world_overlapped(&comm)
                                                                : dcnn_mpi_world(&comm);
  if (s == DCNN_OK) s = dcnn_context_create(&ctx);
  if (s == DCNN_OK) s = dcnn_context_set_threads(ctx, 1);
  dcnn_zoo_options options = DCNN_ZOO_OPTIONS_INIT;
  options.height = options.width = 32;
  options.channels = 3;
  options.classes = 10;
  if (s == DCNN_OK) s = strcmp(name, "resnet50") == 0 ? dcnn_zoo_resnet50(ctx, &options, &m)
                                                       : dcnn_zoo_paper_cnn(ctx, &options, &m);
  if (s == DCNN_OK) s = make_data(ctx, batch * steps, &train);
  if (s == DCNN_OK) s = dcnn_pipeline_create(ctx, &pipe);
  if (s == DCNN_OK) s = dcnn_optimizer_create_sgd(ctx, 0.01f, 0.9f, DCNN_MOMENTUM_CLASSIC, 0.0f, &sgd);
  if (s == DCNN_OK) s = dcnn_trainer_create(ctx, m, sgd, &t);
  if (s == DCNN_OK) s = dcnn_trainer_set_communicator(t, &comm);
  if (s == DCNN_OK) s = dcnn_trainer_set(t, DCNN_TRAIN_EPOCHS, 1);
  if (s == DCNN_OK) s = dcnn_trainer_set(t, DCNN_TRAIN_BATCH_SIZE, batch);
  if (s == DCNN_OK) s = dcnn_trainer_set_progress(t, on_progress, NULL);
  if (s == DCNN_OK) s = dcnn_profile_create(m, &profile);
  if (s == DCNN_OK) s = dcnn_model_set_profile(m, profile);
  if (s == DCNN_OK) s = dcnn_trainer_fit(t, train, NULL, pipe);
  double times[MAX_STEPS]; /* (steps - 2) step times after two to warm up */
  int32_t n = 0;
  for (int32_t i = 3; s == DCNN_OK && i <= steps_seen; ++i) times[n++] = step_end[i] - step_end[i - 1];
  if (s == DCNN_OK && n < 3) s = DCNN_ERR_INVALID_STATE;
  double comm_seconds = 0;
  int64_t comm_calls = 0;
  for (int32_t i = 0; s == DCNN_OK && i < dcnn_profile_count(profile); ++i) {
    dcnn_profile_entry e = DCNN_STRUCT_INIT(dcnn_profile_entry);
    if (dcnn_profile_entry_get(profile, i, &e) == DCNN_OK && e.pass == DCNN_PROFILE_COMM)
      comm_seconds += e.seconds, comm_calls = e.calls > comm_calls ? e.calls : comm_calls;
  }
  if (s == DCNN_OK) {
    qsort(times, (size_t)n, sizeof *times, bench_compare_doubles);
    if (comm.rank(comm.user) == 0)
      printf("%s, global batch %d over %d ranks, %s gradient buckets: median step %.2f ms (min %.2f, %d steps); "
             "all-reduces %.2f ms per step (profile)\n", name, (int)batch, (int)comm.size(comm.user),
             overlap ? "started" : "blocking", 1e3 * times[n / 2], 1e3 * times[0], (int)n,
             comm_calls ? 1e3 * comm_seconds / (double)comm_calls : 0.0);
  } else {
    fprintf(stderr, "mpi_step_bench: %s (usage: mpi_step_bench [paper|resnet50] [BATCH] [STEPS 5..1000])\n",
            dcnn_last_error());
  }
  dcnn_trainer_destroy(t);
  dcnn_profile_destroy(profile);
  dcnn_optimizer_destroy(sgd);
  dcnn_pipeline_destroy(pipe);
  dcnn_dataset_destroy(train);
  dcnn_model_destroy(m);
  dcnn_context_destroy(ctx);
  dcnn_mpi_finalize();
  return s == DCNN_OK ? 0 : 1;
}
