/* Data-parallel training without MPI (digitcnn/communicator.h): the
 * communicator's argument checks, the dropout kernel at any start, and a job
 * of two threads joined by an in-process communicator (a shared buffer and a
 * barrier; every thread sums the slots in rank order, so both get the same
 * bits) that must match one process: sharded evaluation exactly, training up
 * to float rounding. The MPI tests (tests/mpi) do the same across processes. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/pointwise.h"
#include "test_support.h"

#define RANKS 2
#define SLOT_DOUBLES 4096 /* largest all-reduce in doubles' bytes: (count * element) <= this * 8 */

/* ---- an in-process communicator of RANKS threads ---- */

typedef struct shared_job {
  pthread_barrier_t barrier;
  double slots[RANKS][SLOT_DOUBLES];
} shared_job;

/* A started all-reduce of the deferred variant (below). */
typedef struct pending_sum {
  void *data;
  int64_t count;
  dcnn_comm_type type;
  uint64_t hash; /* of the data when started */
  int waited;
} pending_sum;

static uint64_t fnv1a(const void *data, size_t bytes) {
  uint64_t h = 1469598103934665603u;
  for (size_t i = 0; i < bytes; ++i) h = (h ^ ((const unsigned char *)data)[i]) * 1099511628211u;
  return h;
}

static size_t sum_bytes(const pending_sum *p) {
  return (size_t)p->count * (p->type == DCNN_COMM_FLOAT64 ? sizeof(double) : sizeof(float));
}

typedef struct thread_comm {
  shared_job *job;
  int32_t rank, size;
  pending_sum pending[256]; /* the deferred variant's started all-reduces */
  int32_t started, tests;
  int32_t fail_start; /* the deferred variant's allreduce_start number this many fails (0: none) */
} thread_comm;

static int32_t comm_rank(void *user) { return ((thread_comm *)user)->rank; }
static int32_t comm_size(void *user) { return ((thread_comm *)user)->size; }

static dcnn_status comm_allreduce(void *user, void *data, int64_t count, dcnn_comm_type type) {
  thread_comm *c = user;
  const size_t element = type == DCNN_COMM_FLOAT64 ? sizeof(double) : sizeof(float);
  const int64_t per_round = (int64_t)(sizeof c->job->slots[0] / element);
  for (int64_t done = 0; done < count; done += per_round) { /* large buffers in pieces */
    const int64_t n = count - done < per_round ? count - done : per_round;
    char *at = (char *)data + (size_t)done * element;
    memcpy(c->job->slots[c->rank], at, (size_t)n * element);
    pthread_barrier_wait(&c->job->barrier);
    for (int64_t i = 0; i < n; ++i) {
      if (type == DCNN_COMM_FLOAT64) {
        double sum = 0;
        for (int32_t r = 0; r < c->size; ++r) sum += c->job->slots[r][i];
        ((double *)(void *)at)[i] = sum;
      } else {
        float sum = 0;
        for (int32_t r = 0; r < c->size; ++r) sum += ((const float *)(const void *)c->job->slots[r])[i];
        ((float *)(void *)at)[i] = sum;
      }
    }
    pthread_barrier_wait(&c->job->barrier); /* nobody overwrites a slot still being read */
  }
  return DCNN_OK;
}

/* The deferred variant of allreduce_start: nothing moves until the wait
 * (the slowest transport allowed), which then sums what the buffer holds.
 * A bucket started before it was complete, or written while in flight,
 * fails the wait (its bytes changed); a trainer that waited out of order
 * would get other sums than the blocking communicator gives. */
static dcnn_status comm_start(void *user, void *data, int64_t count, dcnn_comm_type type, void **request) {
  thread_comm *c = user;
  if (c->started == (int32_t)(sizeof c->pending / sizeof c->pending[0]))
    return dcnn_error_set(DCNN_ERR_INVALID_STATE, "too many all-reduces started");
  if (c->fail_start && c->started + 1 == c->fail_start)
    return dcnn_error_set(DCNN_ERR_IO, "the transport lost a peer");
  pending_sum *p = &c->pending[c->started++];
  *p = (pending_sum){data, count, type, 0, 0};
  p->hash = fnv1a(data, sum_bytes(p));
  *request = p;
  return DCNN_OK;
}

static dcnn_status comm_test(void *user, void *request, int *done) {
  thread_comm *c = user;
  c->tests++;
  *done = ((pending_sum *)request)->waited;
  return DCNN_OK;
}

static dcnn_status comm_wait(void *user, void *request) {
  pending_sum *p = request;
  if (p->waited) return dcnn_error_set(DCNN_ERR_INVALID_STATE, "an all-reduce waited for twice");
  p->waited = 1;
  if (fnv1a(p->data, sum_bytes(p)) != p->hash) /* started before it was complete, or written while in flight */
    return dcnn_error_set(DCNN_ERR_INVALID_STATE, "an all-reduce's data changed between its start and its wait");
  return comm_allreduce(user, p->data, p->count, p->type);
}

static dcnn_status comm_broadcast(void *user, void *data, int64_t bytes, int32_t root) {
  (void)user, (void)data, (void)bytes, (void)root;
  return dcnn_error_set(DCNN_ERR_UNSUPPORTED, "not used by the trainer");
}

static dcnn_status comm_barrier(void *user) {
  pthread_barrier_wait(&((thread_comm *)user)->job->barrier);
  return DCNN_OK;
}

/* Sums of one process that come back garbled: failure flags (float64) as NaN,
 * or every gathered float32 value as 1e10. */
static dcnn_status garble_flags(void *user, void *data, int64_t count, dcnn_comm_type type) {
  (void)user;
  if (type == DCNN_COMM_FLOAT64)
    for (int64_t i = 0; i < count; ++i) ((double *)data)[i] = NAN;
  return DCNN_OK;
}

/* Garbles the windows (float), and sums the set check (double) as a second, identical process would. */
static dcnn_status garble_window(void *user, void *data, int64_t count, dcnn_comm_type type) {
  (void)user;
  if (type == DCNN_COMM_FLOAT32)
    for (int64_t i = 0; i < count; ++i) ((float *)data)[i] = 1e10f;
  else
    for (int64_t i = 0; i < count; ++i) ((double *)data)[i] *= 2;
  return DCNN_OK;
}

/* The same, but the window's last element (its failure count) left at 0: the rows' labels are 1e10. */
static dcnn_status garble_labels(void *user, void *data, int64_t count, dcnn_comm_type type) {
  const dcnn_status status = garble_window(user, data, count, type);
  if (type == DCNN_COMM_FLOAT32) ((float *)data)[count - 1] = 0.0f;
  return status;
}

/* A transport that fails without a message (user code, as a layer can be). */
static dcnn_status fail_silently(void *user, void *data, int64_t count, dcnn_comm_type type) {
  (void)user, (void)data, (void)count, (void)type;
  return DCNN_ERR_IO;
}

static dcnn_communicator make_comm(thread_comm *c) {
  dcnn_communicator comm;
  memset(&comm, 0, sizeof comm);
  comm.struct_size = sizeof comm;
  comm.user = c;
  comm.rank = comm_rank;
  comm.size = comm_size;
  comm.allreduce_sum = comm_allreduce;
  comm.broadcast = comm_broadcast;
  comm.barrier = comm_barrier;
  return comm;
}

/* make_comm with the deferred allreduce_start, _test and _wait. */
static dcnn_communicator make_deferred_comm(thread_comm *c) {
  dcnn_communicator comm = make_comm(c);
  comm.allreduce_start = comm_start;
  comm.allreduce_test = comm_test;
  comm.allreduce_wait = comm_wait;
  return comm;
}

/* ---- the communicator's checks ---- */

static int released;
static void count_release(void *user) {
  (void)user;
  released++;
}

static int other_released;
static void count_other_release(void *user) {
  (void)user;
  other_released++;
}

static void test_set_communicator_checks(void **state) {
  (void)state;
  dcnn_model *m = NULL;
  dcnn_optimizer *sgd = NULL;
  dcnn_trainer *t = NULL;
  assert_ok(dcnn_zoo_lenet5(NULL, test_zoo(28, 28, 1, 10, 1), &m));
  assert_ok(dcnn_optimizer_create_sgd(NULL, 0.1f, 0.0f, DCNN_MOMENTUM_CLASSIC, 0.0f, &sgd));
  assert_ok(dcnn_trainer_create(NULL, m, sgd, &t));
  thread_comm tc = {.job = NULL, .rank = 0, .size = RANKS};
  dcnn_communicator comm = make_comm(&tc), bad = comm;
  bad.struct_size = sizeof(size_t);
  assert_status(dcnn_trainer_set_communicator(t, &bad), DCNN_ERR_INVALID_ARGUMENT);
  bad = comm;
  bad.allreduce_sum = NULL;
  assert_status(dcnn_trainer_set_communicator(t, &bad), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("allreduce_sum");
  thread_comm outside = {.job = NULL, .rank = 2, .size = 2};
  bad = make_comm(&outside);
  assert_status(dcnn_trainer_set_communicator(t, &bad), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_trainer_set_communicator(NULL, &comm), DCNN_ERR_INVALID_ARGUMENT);
  released = 0;
  comm.release = count_release;
  assert_ok(dcnn_trainer_set_communicator(t, &comm));
  assert_ok(dcnn_trainer_set_communicator(t, &comm)); /* the same user: kept, not released */
  assert_int_equal(released, 0);
  assert_ok(dcnn_trainer_set_communicator(t, NULL));
  assert_int_equal(released, 1);
  assert_ok(dcnn_trainer_set_communicator(t, &comm));
  dcnn_communicator same_user = comm; /* another release for the same user: the user is kept, not released */
  same_user.release = count_other_release;
  assert_ok(dcnn_trainer_set_communicator(t, &same_user));
  assert_int_equal(released, 1);
  dcnn_trainer_destroy(t); /* releases it, with the release given last */
  assert_int_equal(released, 1);
  assert_int_equal(other_released, 1);
  dcnn_optimizer_destroy(sgd);
  dcnn_model_destroy(m);
}

/* Element e's mask is word e mod 4 of block e / 4 wherever a stretch starts. */
static void test_dropout_any_start(void **state) {
  (void)state;
  enum { N = 1000 };
  float x[N], y[N], part[N];
  uint8_t mask[N], part_mask[N];
  for (int i = 0; i < N; ++i) x[i] = 1.0f + (float)i;
  const uint32_t threshold = 1u << 23; /* rate 0.5 */
  dcnn__dropout_forward(77, 0, N, threshold, 2.0f, x, y, mask);
  int kept = 0;
  for (int i = 0; i < N; ++i) kept += mask[i];
  assert_true(kept > N / 3 && kept < 2 * N / 3);
  const int starts[] = {1, 2, 3, 37, 255, 256, 511};
  for (size_t k = 0; k < sizeof starts / sizeof starts[0]; ++k) {
    const int s = starts[k];
    dcnn__dropout_forward(77, s, N - s, threshold, 2.0f, x + s, part, part_mask);
    assert_memory_equal(part_mask, mask + s, (size_t)(N - s));
    assert_memory_equal(part, y + s, (size_t)(N - s) * sizeof(float));
  }
}

/* ---- a job of two threads against one process ---- */

#define COUNT 40
#define BATCH 8

static dcnn_dataset *digits(uint32_t seed, int32_t count) {
  uint8_t *pixels = malloc((size_t)count * 28 * 28); /* (count, 28, 28, 1) */
  int32_t labels[COUNT + 1]; /* (count) */
  assert_non_null(pixels);
  assert_true(count <= COUNT + 1);
  uint32_t s = seed;
  for (int32_t i = 0; i < count; ++i) {
    labels[i] = i % 10;
    for (int32_t p = 0; p < 28 * 28; ++p) {
      s = s * 1664525u + 1013904223u;
      const int bar = p / 28 >= 2 * labels[i] + 3 && p / 28 < 2 * labels[i] + 6;
      pixels[(size_t)i * 28 * 28 + (size_t)p] = (uint8_t)((s >> 26) + (bar ? 180 : 20));
    }
  }
  dcnn_dataset *ds = NULL;
  assert_ok(dcnn_dataset_create(NULL, count, 28, 28, 1, pixels, labels, 10, &ds));
  free(pixels);
  return ds;
}

/* What a run trains and what its processes do unlike each other. */
typedef struct setup {
  int32_t steps, batch, epochs; /* steps 0: whole epochs */
  float smoothing;
  int per_step;                       /* a cosine schedule moved every step */
  int32_t cancel_rank, cancel_step;   /* this rank's progress callback cancels after this step (-1: none) */
  int32_t stop_rank;                  /* this rank's epoch callback asks to stop after epoch 1 (-1: none) */
  int hook;                           /* 1: a batch hook without transform_slice; 2: one recording its slices */
  float mixup, cutmix;                /* DCNN_TRAIN_MIXUP, DCNN_TRAIN_CUTMIX */
  int adversarial;                    /* PGD with a random start on 3/4 of each batch */
  int lenet;                          /* LeNet-5 (no batch norm: trains on a batch of 1) instead of the paper CNN */
  int32_t rank1_threads;              /* threads of rank 1's context (0: 1, as everywhere else) */
  int deferred;                       /* the communicator has allreduce_start (deferred to the wait); 2: rank 0's only */
  int32_t fail_start;                 /* every rank's allreduce_start number this many fails (0: none) */
  int32_t rank1_differs;              /* rank 1's job differs: 1 weights, 2 training set, 3 architecture, 4 option,
                                         5 learning rate, 6 a -0 option (not a difference), 7 validation set,
                                         8 no validation set, 9 a batch hook rank 1 alone has (refused there),
                                         10 a learning rate 1 ulp above rank 0's */
  int rank0_missing_checkpoint_dir;   /* rank 0 (alone) sets a checkpoint directory that does not exist */
} setup;

static const setup basic = {2, BATCH, 1, 0.0f, 0, -1, 0, -1, 0, 0.0f, 0.0f, 0, 0, 0, 0, 0, 0, 0};

typedef struct replica {
  thread_comm *comm; /* NULL: one process */
  setup cfg;
  dcnn_dataset *train, *val;
  float losses[8];       /* per step of the first epoch (rank 0 / the process) */
  float first_weight[8]; /* a few weights of the first conv after training */
  double val_loss, val_accuracy, eval_loss, plain_loss;
  int64_t confusion[100], plain_confusion[100];
  int64_t steps_done;
  int32_t epochs_done;
  int32_t slices, slice_samples;      /* hook 2: calls, and the samples of all the slices it saw */
  int64_t slice_offsets, slice_global; /* hook 2: sums of the slices' offsets and global batch sizes */
  int32_t started, tests, unwaited;    /* deferred: all-reduces started, tested, never waited for */
  dcnn_status status;
  char error[512]; /* dcnn_last_error() of a failed status */
} replica;

static int32_t rank_of(const replica *r) { return r->comm ? r->comm->rank : 0; }

static dcnn_progress_action record_loss(const dcnn_progress *p, void *user) {
  replica *r = user;
  static _Thread_local double last; /* per thread: the running sums of the epoch */
  static _Thread_local int64_t last_samples;
  if (p->event == DCNN_PROGRESS_EPOCH_BEGIN) last = 0, last_samples = 0;
  if (p->event == DCNN_PROGRESS_STEP && p->epoch == 1 && p->step <= 8) {
    const double sum = p->loss * (double)p->samples;
    r->losses[p->step - 1] = (float)((sum - last) / (double)(p->samples - last_samples));
    last = sum;
    last_samples = p->samples;
  }
  if (p->event == DCNN_PROGRESS_STEP && rank_of(r) == r->cfg.cancel_rank && p->step == r->cfg.cancel_step)
    return DCNN_PROGRESS_CANCEL;
  return DCNN_PROGRESS_CONTINUE;
}

static int stop_after_first(const dcnn_epoch_stats *stats, void *user) {
  const replica *r = user;
  return rank_of(r) == r->cfg.stop_rank && stats->epoch == 1;
}

static dcnn_status identity(dcnn_model *model, dcnn_tensor *batch, const int32_t *labels, int64_t index, void *user) {
  (void)model, (void)batch, (void)labels, (void)index, (void)user;
  return DCNN_OK;
}

static dcnn_status record_slice(dcnn_model *model, dcnn_tensor *batch, const int32_t *labels,
                                const dcnn_batch_slice *slice, void *user) {
  (void)model, (void)labels;
  replica *r = user;
  r->slices++;
  r->slice_samples += dcnn_tensor_shape(batch).dims[0];
  r->slice_offsets += slice->offset;
  r->slice_global += slice->global;
  return slice->struct_size >= sizeof *slice && slice->step >= 0 ? DCNN_OK
                                                                   : dcnn_error_set(DCNN_ERR_INVALID_STATE, "bad slice");
}

static void *train_replica(void *arg) {
  replica *r = arg;
  dcnn_context *ctx = NULL;
  dcnn_model *m = NULL;
  dcnn_pipeline *pipe = NULL;
  dcnn_optimizer *sgd = NULL;
  dcnn_schedule *cosine = NULL;
  dcnn_trainer *t = NULL;
  dcnn_metrics *metrics = NULL, *plain = NULL;
  dcnn_communicator comm;
  const int deferred = r->cfg.deferred == 1 || (r->cfg.deferred == 2 && rank_of(r) == 0);
  if (r->comm) comm = deferred ? make_deferred_comm(r->comm) : make_comm(r->comm);
  dcnn_status s = dcnn_context_create(&ctx);
  if (s == DCNN_OK) s = dcnn_context_set_threads(ctx, rank_of(r) == 1 && r->cfg.rank1_threads ? r->cfg.rank1_threads : 1);
  const int differs = rank_of(r) == 1 ? r->cfg.rank1_differs : 0;
  if (s == DCNN_OK && (r->cfg.lenet || differs == 3)) s = dcnn_zoo_lenet5(ctx, test_zoo(28, 28, 1, 10, 3), &m);
  else if (s == DCNN_OK) s = dcnn_zoo_paper_cnn(ctx, test_zoo(28, 28, 1, 10, 3), &m);
  if (s == DCNN_OK && differs == 1) s = dcnn_model_init(m, 99);
  if (s == DCNN_OK) s = dcnn_pipeline_create(ctx, &pipe);
  if (s == DCNN_OK) s = dcnn_pipeline_set(pipe, DCNN_PIPE_ROTATION, 10);
  if (s == DCNN_OK) s = dcnn_optimizer_create_sgd(ctx, differs == 5 ? 0.002f : differs == 10 ? nextafterf(0.001f, 1.0f) : 0.001f, 0.9f, DCNN_MOMENTUM_CLASSIC, 0.0f, &sgd);
  if (s == DCNN_OK) s = dcnn_trainer_create(ctx, m, sgd, &t);
  if (s == DCNN_OK && r->comm) s = dcnn_trainer_set_communicator(t, &comm);
  if (s == DCNN_OK && r->cfg.rank0_missing_checkpoint_dir && rank_of(r) == 0)
    s = dcnn_trainer_set_checkpoint_dir(t, "/nonexistent/dcnn-checkpoints");
  if (s == DCNN_OK) s = dcnn_trainer_set(t, DCNN_TRAIN_EPOCHS, r->cfg.epochs);
  if (s == DCNN_OK) s = dcnn_trainer_set(t, DCNN_TRAIN_BATCH_SIZE, r->cfg.batch);
  if (s == DCNN_OK) s = dcnn_trainer_set(t, DCNN_TRAIN_MAX_STEPS, r->cfg.steps);
  if (s == DCNN_OK) s = dcnn_trainer_set(t, DCNN_TRAIN_KEEP_BEST, 0);
  if (s == DCNN_OK)
    s = dcnn_trainer_set(t, DCNN_TRAIN_LABEL_SMOOTHING, differs == 4 ? 0.1 : differs == 6 ? -0.0 : r->cfg.smoothing);
  if (s == DCNN_OK && r->cfg.per_step) s = dcnn_schedule_create_cosine(0.002f, r->cfg.epochs, 0.0f, &cosine);
  if (s == DCNN_OK && r->cfg.per_step) s = dcnn_trainer_set_schedule(t, cosine);
  if (s == DCNN_OK && r->cfg.per_step) s = dcnn_trainer_set(t, DCNN_TRAIN_SCHEDULE_PER_STEP, 1);
  if (s == DCNN_OK && (r->cfg.hook || differs == 9)) {
    dcnn_batch_hook hook = DCNN_STRUCT_INIT(dcnn_batch_hook);
    if (r->cfg.hook == 1 || differs == 9) hook.transform = identity;
    else hook.transform_slice = record_slice;
    hook.user = r;
    s = dcnn_trainer_set_batch_hook(t, &hook);
  }
  if (s == DCNN_OK) s = dcnn_trainer_set(t, DCNN_TRAIN_MIXUP, r->cfg.mixup);
  if (s == DCNN_OK) s = dcnn_trainer_set(t, DCNN_TRAIN_CUTMIX, r->cfg.cutmix);
  if (s == DCNN_OK && r->cfg.adversarial) {
    dcnn_attack pgd = DCNN_STRUCT_INIT(dcnn_attack);
    s = dcnn_attack_pgd(0.05f, &pgd);
    pgd.iterations = 2;
    if (s == DCNN_OK) s = dcnn_trainer_set_adversarial(t, &pgd, 0.75);
  }
  if (s == DCNN_OK) s = dcnn_trainer_set_progress(t, record_loss, r);
  if (s == DCNN_OK) s = dcnn_trainer_set_callback(t, stop_after_first, r);
  const int ready = s == DCNN_OK;
  const dcnn_dataset *validation = differs == 7 ? r->train : differs == 8 ? NULL : r->val;
  if (s == DCNN_OK) s = dcnn_trainer_fit(t, differs == 2 ? r->val : r->train, validation, pipe);
  if (ready) { /* what the fit left, also after an error */
    r->steps_done = dcnn_model_step_count(m);
    r->epochs_done = dcnn_trainer_epochs_done(t);
    dcnn_param p = DCNN_STRUCT_INIT(dcnn_param);
    if (dcnn_model_param(m, 0, &p, NULL) == DCNN_OK)
      memcpy(r->first_weight, dcnn_tensor_data_const(p.value), sizeof r->first_weight);
  }
  if (s == DCNN_OK) {
    dcnn_epoch_stats e = DCNN_STRUCT_INIT(dcnn_epoch_stats);
    s = dcnn_trainer_history(t, 0, &e);
    r->val_loss = e.val_loss;
    r->val_accuracy = e.val_accuracy;
  }
  /* Sharded evaluation with a batch that leaves the last window part-empty,
   * and the same on this process alone. */
  if (s == DCNN_OK) s = dcnn_metrics_create(ctx, 10, &metrics);
  if (s == DCNN_OK)
    s = dcnn_evaluate_distributed(m, r->val, pipe, 3, r->comm ? &comm : NULL, metrics, &r->eval_loss);
  if (s == DCNN_OK) s = dcnn_metrics_confusion(metrics, r->confusion, 100);
  if (s == DCNN_OK) s = dcnn_metrics_create(ctx, 10, &plain);
  if (s == DCNN_OK) s = dcnn_evaluate(m, r->val, pipe, 3, plain, &r->plain_loss);
  if (s == DCNN_OK) s = dcnn_metrics_confusion(plain, r->plain_confusion, 100);
  r->status = s;
  if (s != DCNN_OK) snprintf(r->error, sizeof r->error, "%s", dcnn_last_error());
  dcnn_metrics_destroy(plain);
  dcnn_metrics_destroy(metrics);
  dcnn_trainer_destroy(t);
  dcnn_schedule_destroy(cosine);
  dcnn_optimizer_destroy(sgd);
  dcnn_pipeline_destroy(pipe);
  dcnn_model_destroy(m);
  dcnn_context_destroy(ctx);
  return NULL;
}

/* Runs `cfg` on one process (into *one, unless NULL) and on a job of RANKS threads. */
static void run_job(setup cfg, dcnn_dataset *train, dcnn_dataset *val, replica *one, replica ranks[RANKS]) {
  if (one) {
    *one = (replica){.comm = NULL, .cfg = cfg, .train = train, .val = val};
    train_replica(one);
  }
  shared_job *job = calloc(1, sizeof *job);
  assert_non_null(job);
  assert_int_equal(pthread_barrier_init(&job->barrier, NULL, RANKS), 0);
  static thread_comm comms[RANKS];
  pthread_t threads[RANKS];
  for (int32_t r = 0; r < RANKS; ++r) {
    memset(&comms[r], 0, sizeof comms[r]);
    comms[r].job = job, comms[r].rank = r, comms[r].size = RANKS, comms[r].fail_start = cfg.fail_start;
    ranks[r] = (replica){.comm = &comms[r], .cfg = cfg, .train = train, .val = val};
    assert_int_equal(pthread_create(&threads[r], NULL, train_replica, &ranks[r]), 0);
  }
  for (int32_t r = 0; r < RANKS; ++r) pthread_join(threads[r], NULL);
  for (int32_t r = 0; r < RANKS; ++r) {
    ranks[r].started = comms[r].started, ranks[r].tests = comms[r].tests;
    for (int32_t i = 0; i < comms[r].started; ++i) ranks[r].unwaited += !comms[r].pending[i].waited;
    ranks[r].comm = NULL; /* the job is gone */
  }
  pthread_barrier_destroy(&job->barrier);
  free(job);
}

/* The job against one process: identical replicas, the same losses and
 * weights up to float rounding, sharded evaluation bit for bit dcnn_evaluate. */
static void check_match(const replica *one, const replica ranks[RANKS], int32_t steps, float loss_tolerance,
                        float weight_tolerance) {
  assert_ok(one->status);
  for (int32_t r = 0; r < RANKS; ++r) {
    assert_ok(ranks[r].status);
    assert_int_equal(ranks[r].steps_done, one->steps_done);
    /* the replicas are identical */
    assert_memory_equal(ranks[r].first_weight, ranks[0].first_weight, sizeof ranks[0].first_weight);
    assert_memory_equal(ranks[r].losses, ranks[0].losses, sizeof ranks[0].losses);
    /* the same computation as one process up to the order of float sums */
    for (int i = 0; i < steps && i < 8; ++i) assert_true(fabsf(ranks[r].losses[i] - one->losses[i]) < loss_tolerance);
    assert_true(ranks[r].losses[0] > 0.5f);
    for (int i = 0; i < 8; ++i) assert_true(fabsf(ranks[r].first_weight[i] - one->first_weight[i]) < weight_tolerance);
    assert_true(fabs(ranks[r].val_loss - one->val_loss) < 1e-4);
    /* sharded evaluation is dcnn_evaluate of the same weights, bit for bit
     * (when every process runs the same thread count) */
    if (!ranks[r].cfg.rank1_threads) {
      assert_memory_equal(&ranks[r].eval_loss, &ranks[r].plain_loss, sizeof(double));
      assert_memory_equal(ranks[r].confusion, ranks[r].plain_confusion, sizeof ranks[r].confusion);
    }
    assert_true(fabs(ranks[r].val_loss - ranks[r].plain_loss) < 1e-5); /* batches of 256, not 3 */
    int64_t total = 0;
    for (int i = 0; i < 100; ++i) total += ranks[r].confusion[i];
    assert_int_equal(total, 23);
  }
}

static void test_two_threads_match_one_process(void **state) {
  (void)state;
  dcnn_dataset *train = digits(5, COUNT), *val = digits(6, 23);
  replica one, ranks[RANKS];
  run_job(basic, train, val, &one, ranks);
  check_match(&one, ranks, 2, 1e-5f, 1e-6f);
  assert_int_equal(one.steps_done, 2);
  dcnn_dataset_destroy(train);
  dcnn_dataset_destroy(val);
}

/* Gradient buckets started during the backward pass (allreduce_start) and
 * waited for after it give the blocking communicator's job bit for bit:
 * the paper CNN (more than one bucket, all started every step) and LeNet-5
 * with a last batch of 1 (smaller than the job: the muted rank's zeros).
 * Every started bucket is waited for once, and between the layers the
 * trainer lets the transport progress. A job where only some communicators
 * can start sums blocking on every process. */
static void test_started_buckets_match_blocking_sums(void **state) {
  (void)state;
  dcnn_dataset *val = digits(6, 23);
  for (int lenet = 0; lenet < 2; ++lenet) {
    dcnn_dataset *train = digits(5, lenet ? COUNT + 1 : COUNT);
    const int32_t steps = lenet ? 6 : 5; /* batches of 8, and for LeNet-5 a last one of 1 */
    setup cfg = basic;
    cfg.steps = 0;
    cfg.smoothing = 0.1f;
    cfg.lenet = lenet;
    replica blocking[RANKS], started[RANKS];
    run_job(cfg, train, val, NULL, blocking);
    cfg.deferred = 1;
    run_job(cfg, train, val, NULL, started);
    for (int32_t r = 0; r < RANKS; ++r) {
      assert_ok(blocking[r].status);
      assert_ok(started[r].status);
      assert_int_equal(started[r].steps_done, steps);
      assert_memory_equal(started[r].losses, blocking[r].losses, sizeof started[r].losses);
      assert_memory_equal(started[r].first_weight, blocking[r].first_weight, sizeof started[r].first_weight);
      assert_memory_equal(&started[r].val_loss, &blocking[r].val_loss, sizeof(double));
      assert_int_equal(blocking[r].started, 0);
      assert_int_equal(started[r].started % steps, 0);
      assert_true(started[r].started >= (lenet ? 1 : 2) * steps); /* the paper CNN: several buckets a step */
      assert_int_equal(started[r].unwaited, 0);
      if (!lenet) assert_true(started[r].tests > 0);
    }
    /* Only rank 0's communicator can start: the job agrees on blocking sums
     * (started and blocking collectives do not match each other). */
    cfg.deferred = 2;
    replica mixed[RANKS];
    run_job(cfg, train, val, NULL, mixed);
    for (int32_t r = 0; r < RANKS; ++r) {
      assert_ok(mixed[r].status);
      assert_int_equal(mixed[r].started, 0);
      assert_memory_equal(mixed[r].first_weight, blocking[r].first_weight, sizeof mixed[r].first_weight);
    }
    dcnn_dataset_destroy(train);
  }
  dcnn_dataset_destroy(val);
}

/* A transport error in the middle of a step's buckets (the third
 * allreduce_start of the job fails on every process): the fit returns it,
 * the step is not taken, and the buckets started before it are still waited
 * for (their buffers belong to the transport until then). */
static void test_failed_bucket_start(void **state) {
  (void)state;
  dcnn_dataset *train = digits(5, COUNT), *val = digits(6, 23);
  setup cfg = basic;
  cfg.deferred = 1;
  cfg.fail_start = 3;
  replica ranks[RANKS];
  run_job(cfg, train, val, NULL, ranks);
  for (int32_t r = 0; r < RANKS; ++r) {
    assert_int_equal(ranks[r].status, DCNN_ERR_IO);
    assert_int_equal(ranks[r].started, 2);
    assert_int_equal(ranks[r].unwaited, 0);
    assert_int_equal(ranks[r].steps_done, 0); /* the first step's third bucket failed */
    assert_int_equal(ranks[r].epochs_done, 0);
  }
  dcnn_dataset_destroy(train);
  dcnn_dataset_destroy(val);
}

/* Label smoothing, a per-step cosine schedule, batches of 7 cut 4 + 3, a
 * whole epoch of 40 samples ending in a short batch of 5: still one process. */
static void test_uneven_split_smoothing_per_step(void **state) {
  (void)state;
  dcnn_dataset *train = digits(5, COUNT), *val = digits(6, 23);
  setup cfg = basic;
  cfg.steps = 0;
  cfg.batch = 7;
  cfg.smoothing = 0.1f;
  cfg.per_step = 1;
  replica one, ranks[RANKS];
  run_job(cfg, train, val, &one, ranks);
  /* The losses here are high (2.7 to 4.1) and the steps large, so the shards'
   * other order of float sums grows from step to step; with AVX-512 kernels
   * (2026-12-03) 1.4e-6 at step 0, 1.2e-5 at step 4, 1.5e-4 at step 5, weights
   * 1.3e-5 apart. The first step is held to float rounding; a wrong weighting
   * of the 4 + 3 and 3 + 2 shards would be off by far more than these bounds. */
  check_match(&one, ranks, 6, 1e-3f, 1e-4f);
  for (int32_t r = 0; r < RANKS; ++r) assert_true(fabsf(ranks[r].losses[0] - one.losses[0]) < 1e-5f);
  assert_int_equal(one.steps_done, 6);
  dcnn_dataset_destroy(train);
  dcnn_dataset_destroy(val);
}

/* Mixup, then cutmix, pair samples across the whole global batch (a
 * partner may sit on the other process): still one process. */
static void test_mixup_cutmix_match_one_process(void **state) {
  (void)state;
  dcnn_dataset *train = digits(5, COUNT), *val = digits(6, 23);
  for (int kind = 0; kind < 2; ++kind) {
    setup cfg = basic;
    cfg.steps = 3;
    cfg.batch = 7; /* cut 4 + 3 */
    if (kind == 0) cfg.mixup = 0.4f;
    else cfg.cutmix = 1.0f;
    replica one, ranks[RANKS];
    run_job(cfg, train, val, &one, ranks);
    /* Mixed samples amplify rounding. Winograd's position products run
     * unpacked for a process's few tiles and through OpenBLAS for one
     * process's more (winograd.c), so their sums differ in order: the third
     * step's loss measured 1.3e-4 apart and the weights 1.8e-5 (1e-6 and 2e-8
     * with OpenBLAS on both sides); a wrong mixing partner or box moves the
     * loss by far more than 1e-2. */
    check_match(&one, ranks, 3, 5e-4f, 1e-4f);
    assert_int_equal(one.steps_done, 3);
  }
  dcnn_dataset_destroy(train);
  dcnn_dataset_destroy(val);
}

/* Adversarial training (a hook with transform_slice) attacks the first 3/4
 * of the global batch, with PGD's random start drawn per global position:
 * still one process, and a recording hook sees each process's slice. One
 * step: after it the weights differ by float rounding, and PGD moves a pixel
 * by the sign of its gradient, so where a gradient is within rounding of 0
 * the runs take different full steps (measured with clang: the second
 * step's loss 6.5e-3 apart; a wrong attacked sample or random start shows
 * in the first step already). */
static void test_slice_hooks_match_one_process(void **state) {
  (void)state;
  dcnn_dataset *train = digits(5, COUNT), *val = digits(6, 23);
  setup cfg = basic;
  cfg.steps = 1;
  cfg.adversarial = 1; /* 6 of 8: rank 0's 4, then rank 1's first 2 */
  replica one, ranks[RANKS];
  run_job(cfg, train, val, &one, ranks);
  check_match(&one, ranks, 1, 1e-4f, 1e-5f);
  cfg = basic;
  cfg.hook = 2;
  cfg.batch = 7;
  run_job(cfg, train, val, &one, ranks);
  check_match(&one, ranks, 2, 1e-5f, 1e-6f);
  assert_int_equal(one.slices, 2);
  assert_int_equal(one.slice_samples, 14);
  assert_int_equal(one.slice_offsets, 0);
  assert_int_equal(one.slice_global, 14);
  for (int32_t r = 0; r < RANKS; ++r) {
    assert_int_equal(ranks[r].slices, 2);
    assert_int_equal(ranks[r].slice_samples, r == 0 ? 6 : 8); /* 7 = 3 + 4 */
    assert_int_equal(ranks[r].slice_offsets, r == 0 ? 0 : 6);
    assert_int_equal(ranks[r].slice_global, 14);
  }
  dcnn_dataset_destroy(train);
  dcnn_dataset_destroy(val);
}

/* 41 samples in batches of 8: the last global batch has 1 sample, fewer
 * than the job; every process takes it whole and makes process 0's step
 * (the others add zeros), so the epoch is one process's (6 steps, the same
 * losses) and the replicas stay identical although rank 1 runs 2 threads,
 * with a batch hook and mixup on. LeNet-5: batch norm refuses to train on
 * one sample, in one process too. */
static void test_last_batch_smaller_than_job(void **state) {
  (void)state;
  dcnn_dataset *train = digits(5, COUNT + 1), *val = digits(6, 23);
  setup cfg = basic;
  cfg.steps = 0;
  cfg.hook = 2;
  cfg.mixup = 0.4f;
  cfg.lenet = 1;
  cfg.rank1_threads = 2;
  replica one, ranks[RANKS];
  run_job(cfg, train, val, &one, ranks);
  check_match(&one, ranks, 6, 1e-4f, 1e-5f);
  assert_int_equal(one.steps_done, 6);
  for (int32_t r = 0; r < RANKS; ++r) {
    assert_int_equal(ranks[r].slices, 6);
    assert_int_equal(ranks[r].slice_samples, 5 * 4 + 1); /* 4 of each batch of 8, and the last sample whole */
    assert_int_equal(ranks[r].slice_global, 5 * 8 + 1);
  }
  dcnn_dataset_destroy(train);
  dcnn_dataset_destroy(val);
}

/* A cancel on one process ends every process at the same step, with
 * DCNN_ERR_CANCELLED and no abort; the replicas stay identical. */
static void test_cancel_on_one_rank(void **state) {
  (void)state;
  dcnn_dataset *train = digits(5, COUNT), *val = digits(6, 23);
  setup cfg = basic;
  cfg.steps = 0;
  cfg.epochs = 2;
  cfg.cancel_rank = 1;
  cfg.cancel_step = 2;
  replica ranks[RANKS];
  run_job(cfg, train, val, NULL, ranks);
  for (int32_t r = 0; r < RANKS; ++r) {
    assert_int_equal(ranks[r].status, DCNN_ERR_CANCELLED);
    assert_int_equal(ranks[r].steps_done, 2); /* step 3 carried the cancel and was not taken */
    assert_int_equal(ranks[r].epochs_done, 0);
    assert_memory_equal(ranks[r].first_weight, ranks[0].first_weight, sizeof ranks[0].first_weight);
  }
  /* a cancel at an epoch's last step: the epoch's end agrees on it */
  cfg.cancel_step = 5; /* 40 samples in batches of 8 */
  run_job(cfg, train, val, NULL, ranks);
  for (int32_t r = 0; r < RANKS; ++r) {
    assert_int_equal(ranks[r].status, DCNN_ERR_CANCELLED);
    assert_int_equal(ranks[r].steps_done, 5);
    assert_int_equal(ranks[r].epochs_done, 1);
  }
  dcnn_dataset_destroy(train);
  dcnn_dataset_destroy(val);
}

/* The epoch callback of one process asks to stop: the job stops as one. */
static void test_stop_on_one_rank(void **state) {
  (void)state;
  dcnn_dataset *train = digits(5, COUNT), *val = digits(6, 23);
  setup cfg = basic;
  cfg.epochs = 3;
  cfg.stop_rank = 1;
  replica ranks[RANKS];
  run_job(cfg, train, val, NULL, ranks);
  for (int32_t r = 0; r < RANKS; ++r) {
    assert_ok(ranks[r].status);
    assert_int_equal(ranks[r].epochs_done, 1);
    assert_int_equal(ranks[r].steps_done, 2);
  }
  dcnn_dataset_destroy(train);
  dcnn_dataset_destroy(val);
}

/* What a job cannot train as one process would is refused on every process
 * (no abort set in the test's communicator: the fit returns). */
static void test_job_refusals(void **state) {
  (void)state;
  dcnn_dataset *train = digits(5, COUNT), *val = digits(6, 23);
  setup cfg = basic;
  cfg.batch = 1; /* smaller than the job */
  replica ranks[RANKS];
  run_job(cfg, train, val, NULL, ranks);
  for (int32_t r = 0; r < RANKS; ++r) {
    assert_int_equal(ranks[r].status, DCNN_ERR_INVALID_ARGUMENT);
    assert_int_equal(ranks[r].steps_done, 0);
  }
  cfg = basic;
  cfg.hook = 1; /* no transform_slice: would see one slice without knowing where it sits */
  run_job(cfg, train, val, NULL, ranks);
  for (int32_t r = 0; r < RANKS; ++r) {
    assert_int_equal(ranks[r].status, DCNN_ERR_INVALID_ARGUMENT);
    assert_int_equal(ranks[r].steps_done, 0);
  }
  dcnn_dataset_destroy(train);
  dcnn_dataset_destroy(val);
}

/* Replicas that differ (weights, training set, architecture, an option) are
 * refused on every rank before the first step, naming what differs: their
 * gradient sums would pair unlike buffers (with MPI: a truncation error,
 * garbage sums or a hang), and unlike weights would train apart. */
static void test_replicas_that_differ_are_refused(void **state) {
  (void)state;
  dcnn_dataset *train = digits(5, COUNT), *val = digits(6, 23);
  static const char *const named[] = {"",         "weights", "training sets", "architectures", "training options",
                                      "optimizer", "",        "validation sets", "validation sets", "",
                                      "optimizer"};
  for (int32_t differs = 1; differs <= 10; ++differs) {
    if (differs == 6 || differs == 9) continue; /* below */
    setup cfg = basic;
    cfg.rank1_differs = differs;
    replica ranks[RANKS];
    run_job(cfg, train, val, NULL, ranks);
    for (int32_t r = 0; r < RANKS; ++r) {
      if (ranks[r].status != DCNN_ERR_INVALID_ARGUMENT || !strstr(ranks[r].error, named[differs]))
        fail_msg("rank %d, difference %d: status %d, \"%s\" (expected invalid argument naming %s)", (int)r,
                 (int)differs, (int)ranks[r].status, ranks[r].error, named[differs]);
      assert_int_equal(ranks[r].steps_done, 0);
    }
  }
  /* -0 and 0 are one setting: not a difference */
  setup cfg = basic;
  cfg.rank1_differs = 6;
  replica ranks[RANKS];
  run_job(cfg, train, val, NULL, ranks);
  for (int32_t r = 0; r < RANKS; ++r)
    if (ranks[r].status != DCNN_OK) fail_msg("rank %d with a -0 option: %s", (int)r, ranks[r].error);
  /* A fit refused by one rank alone (a batch hook without transform_slice) returns on every rank,
   * rather than aborting the job: the refusal rides on the replicas' all-reduce. */
  cfg.rank1_differs = 9;
  run_job(cfg, train, val, NULL, ranks);
  assert_int_equal(ranks[1].status, DCNN_ERR_INVALID_ARGUMENT);
  assert_non_null(strstr(ranks[1].error, "transform_slice"));
  assert_int_equal(ranks[0].status, DCNN_ERR_INVALID_STATE);
  assert_non_null(strstr(ranks[0].error, "1 of the job's 2 processes refused the fit before training"));
  for (int32_t r = 0; r < RANKS; ++r) assert_int_equal(ranks[r].steps_done, 0);
  dcnn_dataset_destroy(train);
  dcnn_dataset_destroy(val);
}

/* A checkpoint directory rank 0 cannot use ends every process before the
 * first step with DCNN_ERR_IO, rank 0 with the reason; the others learn it in
 * the replicas' check, so none waits for a process that has stopped (the
 * test's communicator has no abort: a process left waiting would hang). */
static void test_a_missing_checkpoint_directory_stops_every_rank(void **state) {
  (void)state;
  dcnn_dataset *train = digits(5, COUNT), *val = digits(6, 23);
  setup cfg = basic;
  cfg.rank0_missing_checkpoint_dir = 1;
  replica ranks[RANKS];
  run_job(cfg, train, val, NULL, ranks);
  for (int32_t r = 0; r < RANKS; ++r) {
    if (ranks[r].status != DCNN_ERR_IO)
      fail_msg("rank %d: status %d, \"%s\" (expected an I/O error)", (int)r, (int)ranks[r].status, ranks[r].error);
    assert_int_equal(ranks[r].steps_done, 0);
  }
  assert_non_null(strstr(ranks[0].error, "/nonexistent/dcnn-checkpoints: the checkpoint directory of "
                                         "dcnn_trainer_fit: No such file or directory"));
  assert_non_null(strstr(ranks[1].error, "process 0 of the job's 2 cannot use its checkpoint directory"));
  dcnn_dataset_destroy(train);
  dcnn_dataset_destroy(val);
}

static int aborts;
static void count_abort(void *user, const char *message) {
  (void)user;
  (void)message;
  aborts++;
}

/* A fit refused for a NULL argument in a job goes through the abort too: the
 * other processes would wait for this one at the first collective
 * (docs/distributed.md: every exit of the fit, its early checks included). */
static void test_null_arguments_abort_the_job(void **state) {
  (void)state;
  dcnn_model *m = NULL;
  dcnn_optimizer *sgd = NULL;
  dcnn_trainer *t = NULL;
  dcnn_pipeline *p = NULL;
  dcnn_dataset *train = digits(5, 8);
  assert_ok(dcnn_zoo_lenet5(NULL, test_zoo(28, 28, 1, 10, 1), &m));
  assert_ok(dcnn_optimizer_create_sgd(NULL, 0.1f, 0.0f, DCNN_MOMENTUM_CLASSIC, 0.0f, &sgd));
  assert_ok(dcnn_trainer_create(NULL, m, sgd, &t));
  assert_ok(dcnn_pipeline_create(NULL, &p));
  thread_comm tc = {.job = NULL, .rank = 1, .size = RANKS};
  dcnn_communicator comm = make_comm(&tc);
  comm.abort = count_abort;
  assert_ok(dcnn_trainer_set_communicator(t, &comm));
  aborts = 0;
  assert_status(dcnn_trainer_fit(t, train, NULL, NULL), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("'pipeline' is NULL");
  assert_int_equal(aborts, 1);
  assert_status(dcnn_trainer_fit(t, NULL, NULL, p), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("'train' is NULL");
  assert_int_equal(aborts, 2);
  dcnn_trainer_destroy(t);
  dcnn_pipeline_destroy(p);
  dcnn_dataset_destroy(train);
  dcnn_optimizer_destroy(sgd);
  dcnn_model_destroy(m);
}

/* ---- sharded evaluation's failures ---- */

typedef struct eval_rank {
  thread_comm *comm;
  const dcnn_dataset *ds;
  int32_t classes; /* of this rank's metrics */
  dcnn_status status;
} eval_rank;

static void *evaluate_rank(void *arg) {
  eval_rank *e = arg;
  dcnn_model *m = NULL;
  dcnn_pipeline *pipe = NULL;
  dcnn_metrics *metrics = NULL;
  dcnn_communicator comm = make_comm(e->comm);
  dcnn_status s = dcnn_zoo_lenet5(NULL, test_zoo(28, 28, 1, 10, 1), &m);
  if (s == DCNN_OK) s = dcnn_pipeline_create(NULL, &pipe);
  if (s == DCNN_OK) s = dcnn_metrics_create(NULL, e->classes, &metrics);
  if (s == DCNN_OK) s = dcnn_evaluate_distributed(m, e->ds, pipe, 4, &comm, metrics, NULL);
  e->status = s;
  dcnn_metrics_destroy(metrics);
  dcnn_pipeline_destroy(pipe);
  dcnn_model_destroy(m);
  return NULL;
}

/* Every rank evaluates `ds` with metrics of 10 classes, except rank 1: `odd` (or `ds` when NULL) with
 * `odd_classes`; each rank's status lands in ranks[r].status. */
static void evaluate_on_ranks(thread_comm *comms, eval_rank *ranks, const dcnn_dataset *ds, const dcnn_dataset *odd,
                              int32_t odd_classes) {
  pthread_t threads[RANKS];
  for (int32_t r = 0; r < RANKS; ++r) {
    ranks[r] = (eval_rank){&comms[r], r == 1 && odd ? odd : ds, r == 1 ? odd_classes : 10, DCNN_OK};
    assert_int_equal(pthread_create(&threads[r], NULL, evaluate_rank, &ranks[r]), 0);
  }
  for (int32_t r = 0; r < RANKS; ++r) pthread_join(threads[r], NULL);
}

/* An error on one process ends the call on all of them (no hang), and the
 * communicator is checked as dcnn_trainer_set_communicator() checks it. */
static void test_evaluate_distributed_failures(void **state) {
  (void)state;
  dcnn_dataset *ds = digits(7, 23);
  shared_job *job = calloc(1, sizeof *job);
  assert_non_null(job);
  assert_int_equal(pthread_barrier_init(&job->barrier, NULL, RANKS), 0);
  thread_comm comms[RANKS];
  eval_rank ranks[RANKS];
  for (int32_t r = 0; r < RANKS; ++r) comms[r] = (thread_comm){.job = job, .rank = r, .size = RANKS};
  evaluate_on_ranks(comms, ranks, ds, NULL, 3); /* rank 1's metrics do not fit */
  assert_int_equal(ranks[1].status, DCNN_ERR_SHAPE_MISMATCH);
  assert_int_equal(ranks[0].status, DCNN_ERR_INVALID_STATE);
  /* Each rank cuts windows from its own copy of the set: a shorter one on rank 1 would have rank 0
   * count rows rank 1 never sent (as label 0). Refused on every rank. */
  dcnn_dataset *shorter = digits(7, 21);
  evaluate_on_ranks(comms, ranks, ds, shorter, 10);
  for (int32_t r = 0; r < RANKS; ++r) assert_int_equal(ranks[r].status, DCNN_ERR_INVALID_ARGUMENT);
  dcnn_dataset_destroy(shorter);
  /* As long, the same classes and images' size, two labels swapped: refused too (the labels are hashed). */
  int32_t order[23]; /* (23) */
  for (int32_t i = 0; i < 23; ++i) order[i] = i;
  order[0] = 1;
  order[1] = 0;
  dcnn_dataset *swapped = NULL;
  assert_ok(dcnn_dataset_subset(ds, order, 23, &swapped));
  evaluate_on_ranks(comms, ranks, ds, swapped, 10);
  for (int32_t r = 0; r < RANKS; ++r) assert_int_equal(ranks[r].status, DCNN_ERR_INVALID_ARGUMENT);
  dcnn_dataset_destroy(swapped);
  /* The same count and labels in images of another size (28 x 27): refused on every rank before any batch. */
  uint8_t *narrow_pixels = calloc((size_t)23 * 28 * 27, 1); /* (23, 28, 27, 1) */
  int32_t narrow_labels[23]; /* (23) */
  assert_non_null(narrow_pixels);
  for (int32_t i = 0; i < 23; ++i) narrow_labels[i] = dcnn_dataset_label(ds, i);
  dcnn_dataset *narrow = NULL;
  assert_ok(dcnn_dataset_create(NULL, 23, 28, 27, 1, narrow_pixels, narrow_labels, 10, &narrow));
  free(narrow_pixels);
  evaluate_on_ranks(comms, ranks, ds, narrow, 10);
  for (int32_t r = 0; r < RANKS; ++r) assert_int_equal(ranks[r].status, DCNN_ERR_INVALID_ARGUMENT);
  dcnn_dataset_destroy(narrow);
  pthread_barrier_destroy(&job->barrier);
  free(job);

  dcnn_model *m = NULL;
  dcnn_pipeline *pipe = NULL;
  dcnn_metrics *metrics = NULL;
  assert_ok(dcnn_zoo_lenet5(NULL, test_zoo(28, 28, 1, 10, 1), &m));
  assert_ok(dcnn_pipeline_create(NULL, &pipe));
  assert_ok(dcnn_metrics_create(NULL, 10, &metrics));
  thread_comm alone = {.job = NULL, .rank = 0, .size = RANKS};
  dcnn_communicator bad = make_comm(&alone);
  bad.struct_size = sizeof(size_t);
  assert_status(dcnn_evaluate_distributed(m, ds, pipe, 4, &bad, metrics, NULL), DCNN_ERR_INVALID_ARGUMENT);
  bad = make_comm(&alone);
  bad.allreduce_sum = NULL;
  assert_status(dcnn_evaluate_distributed(m, ds, pipe, 4, &bad, metrics, NULL), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("allreduce_sum");
  /* A communicator that garbles what it sums: NaN failure counts, labels of
   * 1e10. Both are reported, never cast to an integer (undefined). */
  const struct {
    dcnn_status (*allreduce_sum)(void *, void *, int64_t, dcnn_comm_type);
    const char *message;
  } garbles[3] = {{garble_flags, "nan of 2 processes failed"},
                  {garble_window, "1e+10 of 2 processes failed"},
                  {garble_labels, "the communicator gathered label 1e+10 for row 0"}};
  for (int g = 0; g < 3; ++g) {
    thread_comm one = {.job = NULL, .rank = 0, .size = 2}; /* one process is evaluated without the communicator */
    dcnn_communicator garbling = make_comm(&one);
    garbling.allreduce_sum = garbles[g].allreduce_sum;
    assert_ok(dcnn_metrics_reset(metrics));
    assert_status(dcnn_evaluate_distributed(m, ds, pipe, 4, &garbling, metrics, NULL), DCNN_ERR_INVALID_STATE);
    assert_error_mentions(garbles[g].message);
  }
  /* One that fails without a message gets one naming the call, not an earlier error's text. */
  thread_comm one = {.job = NULL, .rank = 0, .size = 2};
  dcnn_communicator silent = make_comm(&one);
  silent.allreduce_sum = fail_silently;
  dcnn_model *none = NULL;
  assert_int_not_equal(dcnn_model_load(NULL, "/nonexistent/earlier.dcnn", &none), DCNN_OK);
  assert_ok(dcnn_metrics_reset(metrics));
  assert_status(dcnn_evaluate_distributed(m, ds, pipe, 4, &silent, metrics, NULL), DCNN_ERR_IO);
  assert_error_mentions("communicator: allreduce_sum: failed with");
  assert_null(strstr(dcnn_last_error(), "earlier.dcnn"));
  dcnn_metrics_destroy(metrics);
  dcnn_pipeline_destroy(pipe);
  dcnn_model_destroy(m);
  dcnn_dataset_destroy(ds);
}

/* ---- sharded evaluation with a batch beyond the dataset ---- */

typedef struct huge_batch_rank {
  thread_comm *comm; /* NULL: one process */
  const dcnn_dataset *ds;
  int32_t batch;
  int64_t confusion[100];
  double loss;
  size_t largest; /* request of this rank's allocator */
  dcnn_status status;
} huge_batch_rank;

static void *evaluate_huge_batch(void *arg) {
  huge_batch_rank *e = arg;
  capped_allocator cap = {.limit = 16 << 20, .largest = 0}; /* a batch of 2^20 28x28 images would take 3 GiB */
  const dcnn_allocator hooks = capped_allocator_hooks(&cap);
  dcnn_context *ctx = NULL;
  dcnn_model *m = NULL;
  dcnn_pipeline *pipe = NULL;
  dcnn_metrics *metrics = NULL;
  dcnn_communicator comm;
  if (e->comm) comm = make_comm(e->comm);
  dcnn_status s = dcnn_context_create(&ctx);
  if (s == DCNN_OK) s = dcnn_context_set_threads(ctx, 1);
  if (s == DCNN_OK) s = dcnn_context_set_allocator(ctx, &hooks);
  if (s == DCNN_OK) s = dcnn_zoo_lenet5(ctx, test_zoo(28, 28, 1, 10, 1), &m);
  if (s == DCNN_OK) s = dcnn_pipeline_create(ctx, &pipe);
  if (s == DCNN_OK) s = dcnn_metrics_create(ctx, 10, &metrics);
  if (s == DCNN_OK)
    s = dcnn_evaluate_distributed(m, e->ds, pipe, e->batch, e->comm ? &comm : NULL, metrics, &e->loss);
  if (s == DCNN_OK) s = dcnn_metrics_confusion(metrics, e->confusion, 100);
  e->status = s;
  dcnn_metrics_destroy(metrics);
  dcnn_pipeline_destroy(pipe);
  dcnn_model_destroy(m);
  dcnn_context_destroy(ctx);
  e->largest = cap.largest;
  return NULL;
}

/* A batch far beyond the dataset takes memory for the dataset's samples on
 * every process, and the job's metrics and loss are one process's with a
 * batch of the whole dataset. */
static void test_evaluate_distributed_huge_batch(void **state) {
  (void)state;
  dcnn_dataset *ds = digits(8, 23);
  huge_batch_rank one = {.comm = NULL, .ds = ds, .batch = 23};
  evaluate_huge_batch(&one);
  assert_int_equal(one.status, DCNN_OK);
  shared_job *job = calloc(1, sizeof *job);
  assert_non_null(job);
  assert_int_equal(pthread_barrier_init(&job->barrier, NULL, RANKS), 0);
  thread_comm comms[RANKS];
  huge_batch_rank ranks[RANKS];
  pthread_t threads[RANKS];
  for (int32_t r = 0; r < RANKS; ++r) {
    comms[r] = (thread_comm){.job = job, .rank = r, .size = RANKS};
    ranks[r] = (huge_batch_rank){.comm = &comms[r], .ds = ds, .batch = 1 << 20};
    assert_int_equal(pthread_create(&threads[r], NULL, evaluate_huge_batch, &ranks[r]), 0);
  }
  for (int32_t r = 0; r < RANKS; ++r) pthread_join(threads[r], NULL);
  for (int32_t r = 0; r < RANKS; ++r) {
    if (ranks[r].status != DCNN_OK) fail_msg("rank %d: status %d", (int)r, (int)ranks[r].status);
    assert_true(ranks[r].largest <= (16 << 20));
    assert_memory_equal(ranks[r].confusion, one.confusion, sizeof one.confusion);
    assert_true(ranks[r].loss == one.loss);
  }
  pthread_barrier_destroy(&job->barrier);
  free(job);
  dcnn_dataset_destroy(ds);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_set_communicator_checks),
      cmocka_unit_test(test_replicas_that_differ_are_refused),
      cmocka_unit_test(test_a_missing_checkpoint_directory_stops_every_rank),
      cmocka_unit_test(test_null_arguments_abort_the_job),
      cmocka_unit_test(test_dropout_any_start),
      cmocka_unit_test(test_two_threads_match_one_process),
      cmocka_unit_test(test_uneven_split_smoothing_per_step),
      cmocka_unit_test(test_started_buckets_match_blocking_sums),
      cmocka_unit_test(test_failed_bucket_start),
      cmocka_unit_test(test_mixup_cutmix_match_one_process),
      cmocka_unit_test(test_slice_hooks_match_one_process),
      cmocka_unit_test(test_last_batch_smaller_than_job),
      cmocka_unit_test(test_cancel_on_one_rank),
      cmocka_unit_test(test_stop_on_one_rank),
      cmocka_unit_test(test_job_refusals),
      cmocka_unit_test(test_evaluate_distributed_failures),
      cmocka_unit_test(test_evaluate_distributed_huge_batch),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
