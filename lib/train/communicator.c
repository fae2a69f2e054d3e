/* The trainer's communicator (data-parallel training, docs/distributed.md):
 * the trainer knows only the table of collectives; libdigitcnn_mpi fills one
 * over MPI. */
#include <string.h>

#include "../core/struct_size.h"
#include "train_internal.h"

int32_t dcnn__trainer_rank(const dcnn_trainer *t) { return t->comm.struct_size ? t->comm.rank(t->comm.user) : 0; }

int32_t dcnn__trainer_size(const dcnn_trainer *t) { return t->comm.struct_size ? t->comm.size(t->comm.user) : 1; }

dcnn_status dcnn__comm_allreduce(const dcnn_communicator *c, void *data, int64_t count, dcnn_comm_type type) {
  const uint64_t mark = dcnn__error_mark();
  return dcnn__callee_error(c->allreduce_sum(c->user, data, count, type), mark, "communicator: allreduce_sum");
}

dcnn_status dcnn__comm_start(const dcnn_communicator *c, void *data, int64_t count, dcnn_comm_type type,
                             void **request) {
  const uint64_t mark = dcnn__error_mark();
  return dcnn__callee_error(c->allreduce_start(c->user, data, count, type, request), mark,
                            "communicator: allreduce_start");
}

dcnn_status dcnn__comm_test(const dcnn_communicator *c, void *request, int *done) {
  const uint64_t mark = dcnn__error_mark();
  return dcnn__callee_error(c->allreduce_test(c->user, request, done), mark, "communicator: allreduce_test");
}

dcnn_status dcnn__comm_wait(const dcnn_communicator *c, void *request) {
  const uint64_t mark = dcnn__error_mark();
  return dcnn__callee_error(c->allreduce_wait(c->user, request), mark, "communicator: allreduce_wait");
}

void dcnn__trainer_drop_communicator(dcnn_trainer *t) {
  if (t->comm.struct_size && t->comm.release) t->comm.release(t->comm.user);
  memset(&t->comm, 0, sizeof t->comm);
  dcnn__grad_sync_free(&t->sync);
}

dcnn_status dcnn_trainer_set_communicator(dcnn_trainer *t, const dcnn_communicator *comm) {
  static const char fn[] = "dcnn_trainer_set_communicator";
  DCNN_CHECK_ARG(t);
  if (!comm) {
    dcnn__trainer_drop_communicator(t);
    return DCNN_OK;
  }
  dcnn_communicator copy;
  memset(&copy, 0, sizeof copy);
  DCNN_TRY(dcnn__struct_read(fn, "dcnn_communicator", &copy, sizeof copy, comm, DCNN__COMMUNICATOR_SIZE_0_2));
  DCNN_CHECK(copy.rank && copy.size && copy.allreduce_sum && copy.broadcast && copy.barrier, DCNN_ERR_INVALID_ARGUMENT,
             "%s: rank, size, allreduce_sum, broadcast and barrier must all be set", fn);
  DCNN_CHECK((copy.allreduce_start == NULL) == (copy.allreduce_wait == NULL), DCNN_ERR_INVALID_ARGUMENT,
             "%s: allreduce_start and allreduce_wait must be set together (or neither)", fn);
  const int32_t size = copy.size(copy.user), rank = copy.rank(copy.user);
  DCNN_CHECK(size >= 1 && rank >= 0 && rank < size, DCNN_ERR_INVALID_ARGUMENT, "%s: rank %d of %d processes", fn,
             (int)rank, (int)size);
  /* The same user again is kept, never released: its new release (if it
   * differs) takes over, the old one is not called (user is still in use). */
  if (t->comm.user != copy.user) dcnn__trainer_drop_communicator(t);
  t->comm = copy;
  return DCNN_OK;
}

void dcnn__trainer_abort(dcnn_trainer *t, dcnn_status status) {
  if (status == DCNN_OK || t->agreed || dcnn__trainer_size(t) <= 1) return;
  const char *message = dcnn_last_error();
  dcnn__log(t->ctx, DCNN_LOG_ERROR, "rank %d of %d: %s; ending the job", (int)dcnn__trainer_rank(t),
            (int)dcnn__trainer_size(t), message);
  if (t->comm.abort) t->comm.abort(t->comm.user, message);
}

dcnn_status dcnn__trainer_defer_cancel(dcnn_trainer *t, dcnn_status status) {
  if (status != DCNN_ERR_CANCELLED || dcnn__trainer_size(t) <= 1) return status;
  dcnn__log(t->ctx, DCNN_LOG_INFO, "rank %d: %s; the other processes stop with this one at the next step or the "
            "epoch's end", (int)dcnn__trainer_rank(t), dcnn_last_error());
  t->cancel_pending = 1;
  return DCNN_OK;
}

dcnn_status dcnn__trainer_agree_epoch_end(dcnn_trainer *t, int32_t epoch, int *stop) {
  const int32_t size = dcnn__trainer_size(t);
  if (size <= 1) return DCNN_OK;
  double flags[2] = {*stop ? 1.0 : 0.0, t->cancel_pending ? 1.0 : 0.0}; /* (stop, cancel) summed over the processes */
  DCNN_TRY(dcnn__comm_allreduce(&t->comm, flags, 2, DCNN_COMM_FLOAT64));
  *stop = flags[0] > 0;
  if (flags[1] > 0) {
    t->agreed = 1;
    return dcnn__fail(DCNN_ERR_CANCELLED, "dcnn_trainer_fit: cancelled by the progress callback of %d of %d "
                      "processes at the end of epoch %d; every process stops here, the model holds the weights and "
                      "the history the %d completed epoch(s)", (int)flags[1], (int)size, (int)epoch, (int)epoch);
  }
  return DCNN_OK;
}

dcnn_status dcnn__trainer_check_job(dcnn_trainer *t, const dcnn_dataset *train) {
  const int32_t size = dcnn__trainer_size(t);
  if (size <= 1) return DCNN_OK;
  const int64_t batch = (int64_t)t->options[DCNN_TRAIN_BATCH_SIZE];
  (void)train; /* any size: a last batch smaller than the job is not sliced (trainer.c) */
  DCNN_CHECK(batch >= size, DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_trainer_fit: the batch size %lld is smaller than the job's %d processes: each process needs at least "
             "one sample of every global batch", (long long)batch, (int)size);
  DCNN_CHECK(!dcnn__trainer_has_hook(t) || t->hook.transform_slice, DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_trainer_fit: the batch hook has no transform_slice, so it cannot run in a job of %d processes: it "
             "would see only this process's slice of each batch without knowing where the slice sits, and the result "
             "would depend on the process count; give the hook a transform_slice or train with one process",
             (int)size);
  return DCNN_OK;
}

/* ---- what the job's processes must share (dcnn__trainer_check_replicas) ---- */

/* h' = (h ^ byte) * 16777619 over the bytes */
uint32_t dcnn__fnv1a(uint32_t h, const void *data, size_t n) {
  const uint8_t *b = data;
  for (size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 16777619u;
  return h;
}

uint32_t dcnn__fnv1a_i64(uint32_t h, int64_t v) { return dcnn__fnv1a(h, &v, sizeof v); }

void dcnn__hash_parts(uint32_t hash, double parts[DCNN__HASH_PARTS]) {
  for (int part = 0; part < DCNN__HASH_PARTS / 2; ++part) {
    const double v = (double)((hash >> (8 * part)) & 0xffu);
    parts[2 * part] = v;
    parts[2 * part + 1] = v * v;
  }
}

int dcnn__hash_parts_agree(const double sums[DCNN__HASH_PARTS], int32_t size) {
  for (int part = 0; part < DCNN__HASH_PARTS / 2; ++part)
    if (!((double)size * sums[2 * part + 1] == sums[2 * part] * sums[2 * part])) return 0; /* NaN: no */
  return 1;
}

enum { ASPECT_ARCHITECTURE, ASPECT_WEIGHTS, ASPECT_DATA, ASPECT_RUN, ASPECTS };

static const char *const aspect_names[ASPECTS] = {
    "their models' architectures (layers, parameters)",
    "their models' weights (initialise every replica with the same seed, or resume each from the same checkpoint)",
    "their training sets or validation sets (count, classes, image size or labels; or a validation set on some only)",
    ("the training options, optimizer (settings, step count, moments), schedule (settings, plateau state), batch "
     "hook, seed or position of the run (epochs done)")};

dcnn_status dcnn__hash_set(uint32_t *h, const dcnn_dataset *set) {
  int32_t height = 0, width = 0, channels = 0;
  DCNN_TRY(dcnn_dataset_image_size(set, &height, &width, &channels));
  const int32_t count = dcnn_dataset_count(set);
  const int64_t shape[5] = {count, dcnn_dataset_classes(set), height, width, channels};
  *h = dcnn__fnv1a(*h, shape, sizeof shape);
  for (int32_t i = 0; i < count; ++i) *h = dcnn__fnv1a_i64(*h, dcnn_dataset_label(set, i));
  return DCNN_OK;
}

/* A setting's value, whole: 0 for -0 (a setter takes both). Scaling by 1e9
 * and truncating, as this once did, took a learning rate of 1e-10 and one of
 * 2e-10 for the same and overflowed above 9.2e9. */
static uint32_t hash_setting(uint32_t hash, double value) {
  const double v = value == 0 ? 0.0 : value;
  return dcnn__fnv1a(hash, &v, sizeof v);
}

/* One 32-bit hash per aspect of this process's job. */
static dcnn_status hash_job(dcnn_trainer *t, const dcnn_dataset *train, const dcnn_dataset *validation,
                            uint32_t hash[ASPECTS]) {
  for (int a = 0; a < ASPECTS; ++a) hash[a] = DCNN__FNV_START;
  dcnn_model *m = t->model;
  const int32_t params = dcnn_model_param_tensor_count(m);
  hash[ASPECT_ARCHITECTURE] = dcnn__fnv1a_i64(hash[ASPECT_ARCHITECTURE], dcnn_model_layer_count(m));
  for (int32_t i = 0; i < params; ++i) {
    dcnn_param p = DCNN_STRUCT_INIT(dcnn_param);
    int32_t layer = -1;
    DCNN_TRY(dcnn_model_param(m, i, &p, &layer));
    const int64_t count = dcnn_tensor_count(p.value);
    const uint32_t h = dcnn__fnv1a_i64(dcnn__fnv1a_i64(hash[ASPECT_ARCHITECTURE], layer), count);
    hash[ASPECT_ARCHITECTURE] = dcnn__fnv1a_i64(h, p.flags);
    if (p.flags & DCNN_PARAM_TRAINABLE)
      hash[ASPECT_WEIGHTS] =
          dcnn__fnv1a(hash[ASPECT_WEIGHTS], dcnn_tensor_data(p.value), (size_t)count * sizeof(float));
  }
  DCNN_TRY(dcnn__hash_set(&hash[ASPECT_DATA], train));
  /* Validation is evaluated in shares of the job (dcnn_evaluate_distributed): every process's history, best
   * epoch and plateau decisions come from it, so the sets must be the same as well. */
  hash[ASPECT_DATA] = dcnn__fnv1a_i64(hash[ASPECT_DATA], validation != NULL);
  if (validation) DCNN_TRY(dcnn__hash_set(&hash[ASPECT_DATA], validation));
  for (size_t k = 0; k < sizeof t->options / sizeof t->options[0]; ++k)
    hash[ASPECT_RUN] = hash_setting(hash[ASPECT_RUN], t->options[k]);
  const uint32_t run = dcnn__fnv1a_i64(dcnn__fnv1a_i64(hash[ASPECT_RUN], (int64_t)t->seed), t->epochs_done);
  hash[ASPECT_RUN] = dcnn__fnv1a_i64(run, t->position.epoch * 1000003LL + t->position.steps);
  /* the optimizer's kind and settings, the schedule's, and whether a batch hook acts */
  const dcnn_optimizer *o = t->optimizer;
  const float optimizer[6] = {o->learning_rate, o->momentum, o->beta1, o->beta2, o->epsilon, o->weight_decay};
  hash[ASPECT_RUN] = dcnn__fnv1a_i64(dcnn__fnv1a_i64(hash[ASPECT_RUN], o->kind), o->nesterov);
  for (int k = 0; k < 6; ++k) hash[ASPECT_RUN] = hash_setting(hash[ASPECT_RUN], optimizer[k]);
  /* its state, as a resume or an earlier fit left it: the step count (Adam's bias correction) and the
   * moments of this model's parameters; replicas differing there drift apart from the first step */
  hash[ASPECT_RUN] = dcnn__fnv1a_i64(hash[ASPECT_RUN], o->steps);
  for (int32_t i = 0; o->steps > 0 && o->first && o->model_id == m->id && i < o->param_count; ++i) /* else zeros */
    for (int k = 0; k < 2; ++k) {
      const dcnn_tensor *state = k ? o->second[i] : o->first[i];
      if (state) hash[ASPECT_RUN] = dcnn__fnv1a(hash[ASPECT_RUN], state->data, (size_t)state->count * sizeof(float));
    }
  if (t->schedule) {
    const dcnn_schedule *sc = t->schedule;
    /* settings, then the plateau schedule's state (the rate it reached, its best value, epochs since) */
    const double schedule[5] = {sc->base, sc->minimum, sc->factor, sc->current, sc->best};
    const uint32_t h = dcnn__fnv1a_i64(dcnn__fnv1a_i64(hash[ASPECT_RUN], 1 + sc->kind), sc->period);
    hash[ASPECT_RUN] = dcnn__fnv1a_i64(dcnn__fnv1a_i64(h, sc->warmup), sc->maximize);
    hash[ASPECT_RUN] = dcnn__fnv1a_i64(dcnn__fnv1a_i64(hash[ASPECT_RUN], sc->since_best), sc->seen);
    for (int k = 0; k < 5; ++k) hash[ASPECT_RUN] = hash_setting(hash[ASPECT_RUN], schedule[k]);
  }
  hash[ASPECT_RUN] = dcnn__fnv1a_i64(hash[ASPECT_RUN], dcnn__trainer_has_hook(t));
  return DCNN_OK;
}

dcnn_status dcnn__trainer_check_replicas(dcnn_trainer *t, const dcnn_dataset *train, const dcnn_dataset *validation,
                                         dcnn_status refused, int checkpoint_dir_unusable) {
  const int32_t size = dcnn__trainer_size(t);
  if (size <= 1) return refused;
  dcnn__error_saved finding; /* this process's refusal or the checkpoint directory's message, past hash_job's calls */
  if (refused != DCNN_OK || checkpoint_dir_unusable) dcnn__error_save(&finding);
  uint32_t hash[ASPECTS] = {0};
  /* A process that refused still takes part: the others would wait for it in this all-reduce. */
  dcnn_status hashed = refused == DCNN_OK ? hash_job(t, train, validation, hash) : DCNN_OK;
  if (hashed != DCNN_OK) {
    refused = hashed;
    dcnn__error_save(&finding);
  }
  /* Per aspect its hash's parts (dcnn__hash_parts), then the unusable directories, then the refusals */
  enum { HASHED = DCNN__HASH_PARTS * ASPECTS };
  double sums[HASHED + 2];
  sums[HASHED] = checkpoint_dir_unusable ? 1.0 : 0.0;
  sums[HASHED + 1] = refused != DCNN_OK ? 1.0 : 0.0;
  for (int a = 0; a < ASPECTS; ++a) dcnn__hash_parts(hash[a], sums + DCNN__HASH_PARTS * a);
  const dcnn_status sent = dcnn__comm_allreduce(&t->comm, sums, HASHED + 2, DCNN_COMM_FLOAT64);
  if (sent != DCNN_OK && refused == DCNN_OK) return sent; /* the job cannot agree: the caller aborts it */
  if (refused != DCNN_OK) {
    t->agreed = sent == DCNN_OK; /* every process knows: each returns, none aborts the job */
    dcnn__error_restore(&finding);
    return refused;
  }
  if (!(sums[HASHED + 1] == 0)) { /* a garbled sum (NaN) is a refusal too */
    t->agreed = 1;
    return dcnn__fail(DCNN_ERR_INVALID_STATE, "dcnn_trainer_fit: %g of the job's %d processes refused the fit before "
                      "training (their own errors say why); every process stops", sums[HASHED + 1],
                      (int)size);
  }
  if (sums[HASHED] > 0) {
    t->agreed = 1; /* every process knows: each returns, none aborts the job */
    if (checkpoint_dir_unusable) {
      dcnn__error_restore(&finding);
      return DCNN_ERR_IO;
    }
    return dcnn__fail(DCNN_ERR_IO, "dcnn_trainer_fit: process 0 of the job's %d cannot use its checkpoint directory "
                      "(its message says why); every process stops before training", (int)size);
  }
  for (int a = 0; a < ASPECTS; ++a)
    if (!dcnn__hash_parts_agree(sums + DCNN__HASH_PARTS * a, size)) {
      t->agreed = 1; /* every process found it: each returns, none aborts the job */
      return dcnn__fail(DCNN_ERR_INVALID_ARGUMENT, "dcnn_trainer_fit: the job's %d processes differ in %s; "
                        "data-parallel training needs identical replicas", (int)size, aspect_names[a]);
    }
  return DCNN_OK;
}
