/* Private state of optimizers, schedules and trainers, and the functions
 * with which each writes and reads its own part of a checkpoint (the
 * checkpoint code only frames them). */
#ifndef DCNN_TRAIN_INTERNAL_H
#define DCNN_TRAIN_INTERNAL_H

#include <stdio.h>

#include "../io/bytes.h"
#include "../model/model_internal.h"
#include "digitcnn/communicator.h"
#include "digitcnn/optimizer.h"
#include "digitcnn/trainer.h"

typedef enum optimizer_kind { OPTIMIZER_SGD, OPTIMIZER_ADAM } optimizer_kind;

struct dcnn_optimizer {
  dcnn_context *ctx;
  optimizer_kind kind;
  float learning_rate, momentum, beta1, beta2, epsilon, weight_decay;
  int nesterov;
  uint64_t model_id; /* the bound model's dcnn_model::id, set at the first step; 0: unbound */
  int32_t param_count;
  /* The model's parameters as of its layer-list `generation` (param_count
   * entries, NULL until the first step after binding): a step reads them
   * here instead of through the layers' vtables, and recounts only when the
   * model's layers changed. */
  dcnn_param *params;
  int32_t *param_layers;
  uint64_t generation;
  dcnn_tensor **first, **second; /* per parameter: velocity / Adam moments (NULL for non-trainable) */
  int64_t steps;
  /* The model's buffers (batch-norm running statistics, which the forward
   * pass changes) as saved by dcnn_model_train_step before its forward pass:
   * (buffer_floats), every buffer parameter in order. A refused training
   * step puts them back; dcnn_optimizer_step alone never touches them. */
  float *buffers;
  int64_t buffer_floats;
  /* The update's lanes (built with `params`, freed with them): every
   * trainable parameter cut into chunks, and what each pass found per chunk. */
  struct dcnn__update_chunk *chunks;
  int32_t chunk_count;
  /* Per parameter, after the last update: {max |velocity or first moment|,
   * max second moment}; `bounded` says they describe the current state (0
   * after binding or a change of the model's layers). With them, a step needs
   * only the gradients' and weights' largest magnitudes to prove that no new
   * value can be infinite or NaN (optimizer.c). */
  float (*bounds)[2];
  int bounded;
};

/* Binds to `m` if not yet bound and copies its buffers; dcnn_model_train_step
 * calls it before its forward pass. */
dcnn_status dcnn__optimizer_save_buffers(dcnn_optimizer *o, dcnn_model *m);
/* Puts back the buffers copied by dcnn__optimizer_save_buffers (after a refused step). */
void dcnn__optimizer_restore_buffers(dcnn_optimizer *o, dcnn_model *m);
/* Checks every new value, then writes them, or refuses (DCNN_ERR_NUMERIC);
 * `buffers_saved`: after dcnn__optimizer_save_buffers, whose copy a refused
 * step then restores (dcnn_optimizer_step: 0, the buffers stay as they are). */
dcnn_status dcnn__optimizer_update(dcnn_optimizer *o, dcnn_model *m, int buffers_saved);

/* Sets the rate a trainer's schedule gives, which may be 0 (then a step
 * leaves the weights as they are); dcnn_optimizer_set_learning_rate, the
 * caller's, takes only positive rates. */
dcnn_status dcnn__optimizer_set_scheduled_rate(dcnn_optimizer *o, float learning_rate);

/* Allocates the optimizer's per-parameter state for `m` and binds to it
 * (`o` must be unbound: its fields are overwritten). */
dcnn_status dcnn__optimizer_bind(dcnn_optimizer *o, dcnn_model *m);
/* Frees the per-parameter state and unbinds. */
void dcnn__optimizer_release(dcnn_optimizer *o);
/* Whether `o` is bound to a model (its first step, or a resume, bound it). */
int dcnn__optimizer_is_bound(const dcnn_optimizer *o);

/* Numbers are stored in checkpoints (as 1 + kind): append only. */
typedef enum schedule_kind { SCHEDULE_STEP, SCHEDULE_COSINE, SCHEDULE_PLATEAU, SCHEDULE_WARMUP_COSINE } schedule_kind;

struct dcnn_schedule {
  schedule_kind kind;
  float base, minimum, factor;
  int32_t period; /* step: epochs per decay; cosine, warm-up cosine: total epochs; plateau: patience */
  int32_t warmup; /* warm-up cosine: epochs of linear warm-up */
  int maximize;
  /* plateau state */
  float current, best;
  int32_t since_best;
  int seen;
};

#define TRAIN_OPTIONS 14
/* Checkpoints before mixup, cutmix and the weight average (options 11 to 13)
 * hold 11 options; before per-step schedules (option 10) 10; before label
 * smoothing (option 9) 9. */
#define TRAIN_OPTIONS_BEFORE_MIXING 11
#define TRAIN_OPTIONS_BEFORE_PER_STEP 10
#define TRAIN_OPTIONS_BEFORE_SMOOTHING 9

/* The gradient sum of a data-parallel step (gradient_sync.c): every
 * trainable gradient's place in one flat buffer, top layer first, cut into
 * buckets of `bucket_floats`; a bucket is started as soon as the backward
 * pass has completed it. Planned once per model (its layer list and
 * parameters); the rest is one step's state. */
typedef struct dcnn__grad_sync {
  dcnn_context *ctx;
  int overlap; /* every process's communicator has allreduce_start: buckets are started */
  int32_t trainable, buckets;
  int32_t *order;       /* (trainable) parameter indices, top layer first */
  int64_t *offset;      /* (trainable + 1) where order[k]'s gradient starts in flat; the last is floats */
  int32_t *layer_first; /* (layers) layer L's first position in order (its last is layer_first[L - 1] - 1) */
  float *flat;          /* (floats) */
  void **requests;      /* (buckets) handles of started all-reduces */
  int64_t floats, bucket_floats;
  /* the step */
  dcnn_model *model;
  const dcnn_communicator *comm;
  int mute;
  int64_t packed;          /* floats of flat filled so far */
  int32_t started, tested, next; /* buckets started; the first not known done; the first not waited for */
  double seconds;          /* spent packing, starting, waiting and unpacking */
} dcnn__grad_sync;

/* Plans `s` for model `m` at the start of a fit; a collective (the processes
 * agree whether to start buckets: only if every communicator can). */
dcnn_status dcnn__grad_sync_plan(dcnn__grad_sync *s, dcnn_context *ctx, dcnn_model *m, const dcnn_communicator *comm);
/* A step's sum begins: a muted process contributes zeros. */
void dcnn__grad_sync_begin(dcnn__grad_sync *s, dcnn_model *m, const dcnn_communicator *comm, int mute);
/* The model's backward listener (user: the dcnn__grad_sync): packs layer
 * `layer`'s gradients and starts the buckets they complete. */
dcnn_status dcnn__grad_sync_layer_done(void *user, int32_t layer);
/* After the backward pass (`status`: how it ended): waits for every started
 * bucket and, when all went well, writes the sums back into the gradients. */
dcnn_status dcnn__grad_sync_finish(dcnn__grad_sync *s, dcnn_status status);
void dcnn__grad_sync_free(dcnn__grad_sync *s);

/* A data-parallel step (docs/distributed.md): this process holds `local`
 * samples of a global batch of `global`, starting at global position
 * `offset`. The loss, accuracy and gradients are those of the global batch:
 * the scores' gradient is scaled by local / global, batch norm synchronises
 * its statistics, and the gradients are summed over the processes through
 * `sync` (the caller's, planned for the model).
 * `cancel` rides on the step's loss all-reduce: when any process sets it,
 * every process refuses the step alike with #DCNN_ERR_CANCELLED (the weights
 * and buffers stay those of the last step), so that a cancel asked on one
 * process ends every process at the same step without aborting the job.
 * `mute`: this process computes the step (on the same samples as process 0)
 * but contributes zeros to every sum (batch-norm statistics, loss, hits,
 * gradients), so that the step is process 0's alone, bit for bit on every
 * process (a global batch smaller than the job, which every process takes
 * whole). `decided` is set once the processes' loss all-reduce is done: a
 * #DCNN_ERR_NUMERIC or #DCNN_ERR_CANCELLED of the loss check, the cancel or
 * the optimizer (on the summed gradients) is every process's; a failed
 * backward pass or gradient sum clears it (that process's alone). */
typedef struct dcnn__shard {
  const dcnn_communicator *comm;
  int32_t local, global;
  int64_t offset;
  dcnn__grad_sync *sync;
  int32_t cancel; /* this process asks to cancel (its progress callback did) */
  int32_t mute;
  int32_t decided;
} dcnn__shard;

/* Floats per gradient bucket summed blocking: 16 MiB, few messages (one
 * for the paper CNN's 3.5 MB, 6 for ResNet-50's 94 MB), since each costs a
 * latency per ring step on a cluster; DDP's buckets are 25 MB. Started
 * buckets (overlap) are 1 MiB, so that the first can start while most of
 * the backward pass is still to come (the paper CNN's make 4).
 * docs/distributed.md, "Gradient buckets". */
#define DCNN__BUCKET_FLOATS (1 << 22)
#define DCNN__STARTED_BUCKET_FLOATS (1 << 18)

/* dcnn_model_train_step() with label smoothing in [0, 1) (the trainer's
 * #DCNN_TRAIN_LABEL_SMOOTHING), or soft `targets` (N, K) (mixup, cutmix:
 * then the smoothing is already in them and `labels` only count `correct`)
 * and, with `shard` not NULL, one process's part of a data-parallel step
 * (then *loss and *correct are the global batch's); errors are reported as
 * that function's. */
dcnn_status dcnn__model_train_step(dcnn_model *m, dcnn_optimizer *optimizer, const dcnn_tensor *input,
                                   const int32_t *labels, float label_smoothing, const float *targets,
                                   dcnn__shard *shard, float *loss, int32_t *correct);

/* Steps done in an unfinished epoch and the epoch's running sums so far. */
typedef struct dcnn__trainer_position {
  int32_t epoch, steps; /* 1-based epoch; 0: no epoch under way */
  double loss_sum;      /* sum of loss * batch size */
  int64_t seen, hits;   /* samples, correct predictions */
  double seconds;       /* wall time the epoch's steps took before */
  int32_t batch;        /* the batch size the steps were taken with (in files from state version 6) */
} dcnn__trainer_position;
/* Option 7 was the progress mode (0.1); its slot stays in the options array
 * and in checkpoints, and dcnn_trainer_set refuses it. */
#define DCNN__TRAIN_RETIRED_OPTION 7

struct dcnn_trainer {
  dcnn_context *ctx;
  dcnn_model *model;
  dcnn_optimizer *optimizer;
  dcnn_schedule *schedule;
  dcnn_progress_fn progress;
  void *progress_user;
  dcnn_epoch_fn callback;
  void *user;
  double options[TRAIN_OPTIONS]; /* slot 2 (the seed's old number) unused: see `seed` */
  uint64_t seed;                 /* shuffling, augmentation and dropout (trainer_seed.c) */
  dcnn_epoch_stats *history;
  int32_t epochs_done, history_capacity;
  float *best;           /* snapshot of every parameter and buffer */
  int64_t best_floats;
  double best_value;
  int32_t best_epoch, restored_epoch, since_best;
  /* The model's parameter and buffer count when best_epoch was set: best
   * tracking (and its copy) belongs to that network; layers added since
   * start it again (drop_stale_copies in trainer.c). */
  int64_t best_params;
  int best_by_loss; /* and whether best_value is a loss (else an accuracy) */
  int best_file_due; /* best.dcnn not yet written for best_epoch (a failed write is retried from `best`) */
  char checkpoint_dir[4000]; /* "" when off */
  dcnn_batch_hook hook; /* transform NULL: none (adversarial training is one) */
  /* Where an interrupted epoch stands (epoch 0: none): fit, checkpoints and
   * resume continue it at its next step with the same running sums. */
  dcnn__trainer_position position;
  /* The epoch the fit in progress (or the last one) ends at: the epochs done
   * before it plus its DCNN_TRAIN_EPOCHS (0: no fit yet). A checkpoint inside a
   * fit's first epoch cannot take it from the history, whose last entry is the
   * previous fit's. */
  int32_t fit_planned;
  int32_t checkpoint_steps;  /* mid-epoch checkpoint every this many steps (0: off) */
  double checkpoint_seconds; /* ... or once this much time passed since the last one (0: off) */
  double saved_at;           /* monotonic time of the last checkpoint (or the fit's start) */
  int resumed_finished;      /* resumed from the end of its last planned epoch: the next fit trains none */
  /* Data-parallel training (communicator.c): the job's communicator
   * (comm.struct_size 0: none) and the gradient buckets' scratch. */
  dcnn_communicator comm;
  dcnn__grad_sync sync; /* planned by a data-parallel fit */
  struct { /* mixup / cutmix scratch (mix.c), grown on demand */
    float *pixels;   /* (N, C, H, W) copy of the global batch, then its (N) labels when sliced */
    float *targets;  /* (N, K) soft targets */
    int32_t *labels; /* (N) each sample's dominant label */
    int64_t pixel_bytes, target_bytes, label_bytes;
  } mix;
  struct { /* the weight average (ema.c) */
    float *values;   /* (floats) every parameter and buffer, in dcnn_model_param order; NULL before the first step */
    int64_t floats, updates;
    float *pending;  /* (pending_floats) the buffer the first update will take, allocated before its step */
    int64_t pending_floats;
    /* The model's step count after the last update (0: not known, as after a resume): the model stepped
     * without the average when the next update finds another count, and the average starts again. */
    int64_t after_step;
  } ema;
  /* The fit in progress: a cancel this process's progress callback asked
   * for, not yet agreed with the others; and whether the fit's error was
   * decided alike by every process (then no abort: all return it). */
  int cancel_pending, agreed;
};

/* This process's rank and the job's size (0 and 1 without a communicator). */
int32_t dcnn__trainer_rank(const dcnn_trainer *t);
int32_t dcnn__trainer_size(const dcnn_trainer *t);
/* Calls release of the communicator's user data and forgets it. */
void dcnn__trainer_drop_communicator(dcnn_trainer *t);
/* After an error of a fit in a job of several processes that this process
 * may have alone (t->agreed 0): logs it and calls the communicator's abort
 * (the others would wait in a collective). */
void dcnn__trainer_abort(dcnn_trainer *t, dcnn_status status);
/* In a job of several processes, a #DCNN_ERR_CANCELLED of this process's
 * progress callback becomes a pending cancel (returns DCNN_OK): the next
 * step's loss all-reduce or the epoch's end tells every process. Other
 * statuses, and every status of a single process, pass through. */
dcnn_status dcnn__trainer_defer_cancel(dcnn_trainer *t, dcnn_status status);
/* Refuses what a job of several processes cannot train as one process would
 * (a global batch smaller than the job, a batch hook: it sees only this
 * process's slice) and warns about a last batch the job skips. */
dcnn_status dcnn__trainer_check_job(dcnn_trainer *t, const dcnn_dataset *train);
/* A job whose processes do not share the model (architecture, weights), the
 * training and validation sets, the options, seed and position:
 * DCNN_ERR_INVALID_ARGUMENT on every process (one small all-reduce). Their
 * gradient sums would pair unlike buffers (MPI: truncation, garbage or a
 * hang). The same all-reduce carries `refused` (this process's own refusal
 * of the fit, its message set: it returns that, the others
 * DCNN_ERR_INVALID_STATE) and `checkpoint_dir_unusable` (rank 0's finding,
 * with the calling thread's message set): then DCNN_ERR_IO on every process,
 * the message kept on the one that found it, before anything trains. Every
 * process of a job calls it, refused or not; one process alone gets
 * `refused` back. */
dcnn_status dcnn__trainer_check_replicas(dcnn_trainer *t, const dcnn_dataset *train, const dcnn_dataset *validation,
                                         dcnn_status refused, int checkpoint_dir_unusable);
/* At an epoch's end of a job of several processes: sums the stop decisions
 * (epoch callback, early stopping) and pending cancels over the processes;
 * `*stop` becomes the job's decision; #DCNN_ERR_CANCELLED on every process
 * when any asked to cancel. Nothing for a single process. */
dcnn_status dcnn__trainer_agree_epoch_end(dcnn_trainer *t, int32_t epoch, int *stop);

/* Mixup / cutmix (mix.c): whether either is on; mixes batch `x` in place and
 * gives its soft targets (N, classes) and dominant labels (N), owned by the
 * trainer. With `shard` (a slice of a job's global batch) partners are drawn
 * from the whole global batch, gathered by one all-reduce; NULL: x is the batch. */
int dcnn__trainer_mixing(const dcnn_trainer *t);
dcnn_status dcnn__trainer_mix_batch(dcnn_trainer *t, dcnn_tensor *x, const int32_t *labels, int32_t classes,
                                    int32_t epoch, int32_t step, const dcnn__shard *shard, const float **targets,
                                    const int32_t **dominant);
void dcnn__trainer_mix_free(dcnn_trainer *t);

/* The weight average (ema.c): on when #DCNN_TRAIN_EMA_DECAY > 0; update after
 * every step; swap exchanges the model's weights with the average (twice
 * restores them); apply copies the average into the model. */
int dcnn__trainer_ema_on(const dcnn_trainer *t);
/* Whether the best epoch's tracking is this model's and this monitor's
 * (trainer.c): layers added or the monitor switched since make it stale. */
int dcnn__trainer_tracking_current(const dcnn_trainer *t);
/* Before a step: allocates what the update after it will need, so that running
 * out of memory fails the step before it is applied, not after. */
dcnn_status dcnn__trainer_ema_reserve(dcnn_trainer *t);
dcnn_status dcnn__trainer_ema_update(dcnn_trainer *t);
void dcnn__trainer_ema_swap(dcnn_trainer *t);
void dcnn__trainer_ema_apply(dcnn_trainer *t);
void dcnn__trainer_ema_free(dcnn_trainer *t);

/* A communicator's allreduce_sum, start, test and wait (user code, like a
 * layer): a failure without a message of its own gets one naming the call,
 * never the text of an earlier error (communicator.c). */
dcnn_status dcnn__comm_allreduce(const dcnn_communicator *c, void *data, int64_t count, dcnn_comm_type type);
dcnn_status dcnn__comm_start(const dcnn_communicator *c, void *data, int64_t count, dcnn_comm_type type,
                             void **request);
dcnn_status dcnn__comm_test(const dcnn_communicator *c, void *request, int *done);
dcnn_status dcnn__comm_wait(const dcnn_communicator *c, void *request);

/* Whether every process of a job holds the same thing, in one all-reduce of
 * doubles (communicator.c): each hashes it (32-bit FNV-1a, from
 * DCNN__FNV_START), spreads the hash over DCNN__HASH_PARTS doubles (its four
 * bytes v as v, v^2 pairs) and sums them over the job; all hashes were equal
 * exactly when size * sum(v^2) == sum(v)^2 for every byte (Cauchy-Schwarz),
 * which every process finds alike. Exact in doubles up to 370,000 processes. */
#define DCNN__FNV_START 2166136261u
enum { DCNN__HASH_PARTS = 8 };
uint32_t dcnn__fnv1a(uint32_t h, const void *data, size_t n);
uint32_t dcnn__fnv1a_i64(uint32_t h, int64_t v);
/* A data set's count, classes, image size and labels into `*h`. */
dcnn_status dcnn__hash_set(uint32_t *h, const dcnn_dataset *set);
void dcnn__hash_parts(uint32_t hash, double parts[DCNN__HASH_PARTS]);
int dcnn__hash_parts_agree(const double sums[DCNN__HASH_PARTS], int32_t size);

/* Whether a batch hook is set; runs its transform on a training batch, the
 * samples offset .. offset + N - 1 of a global batch of `global` (batch_hook.c). */
int dcnn__trainer_has_hook(const dcnn_trainer *t);
dcnn_status dcnn__trainer_run_hook(dcnn_trainer *t, dcnn_tensor *batch, const int32_t *labels, int64_t offset,
                                   int32_t global);
/* Calls the hook's release and forgets it. */
void dcnn__trainer_drop_hook(dcnn_trainer *t);

/* Checkpoint state, per object. Each `load` reads and checks its part and
 * prepares (allocates) everything into a staged copy without touching the
 * object; `commit` cannot fail and takes the staged allocations; `free`
 * releases whatever a failed resume left staged. */
typedef struct dcnn__optimizer_staged {
  uint32_t kind, nesterov;
  float hyper[6];
  int64_t steps;
  int32_t param_count;
  float **moments;      /* (param_count, 2), NULL where absent */
  dcnn_optimizer fresh; /* the new per-parameter state (bound when the checkpoint's was) */
} dcnn__optimizer_staged;
void dcnn__optimizer_save_state(const dcnn_optimizer *o, dcnn_bytes *b);
dcnn_status dcnn__optimizer_load_state(dcnn_reader *r, const dcnn_optimizer *o, dcnn_model *m,
                                       dcnn__optimizer_staged *s);
void dcnn__optimizer_commit_state(dcnn_optimizer *o, dcnn__optimizer_staged *s);
void dcnn__optimizer_staged_free(const dcnn_optimizer *o, dcnn__optimizer_staged *s);

/* `s` may be NULL (no schedule: u32 0); `staged` receives the fields. */
void dcnn__schedule_save_state(const dcnn_schedule *s, dcnn_bytes *b);
dcnn_status dcnn__schedule_load_state(dcnn_reader *r, const dcnn_schedule *s, dcnn_schedule *staged);
void dcnn__schedule_commit_state(dcnn_schedule *s, const dcnn_schedule *staged);

typedef struct dcnn__trainer_staged {
  double options[TRAIN_OPTIONS];
  int32_t epochs_done;
  dcnn_epoch_stats *history;
  double best_value;
  int32_t best_epoch, restored_epoch, since_best;
  int64_t best_floats;
  float *best;
  uint64_t seed;
  dcnn__trainer_position position;
  float *ema; /* version 5: the weight average (NULL: none) */
  int64_t ema_floats, ema_updates;
  int32_t fit_planned; /* version 6 (0: not recorded) */
} dcnn__trainer_staged;
/* The trainer's own part: options, history, best epoch and weights, and
 * (state version 3 on) the seed, (version 4 on) the position inside an
 * unfinished epoch; `version` is the section's. */
void dcnn__trainer_save_own_state(const dcnn_trainer *t, dcnn_bytes *b);
/* The rules of dcnn_trainer_set for one option (not the seed or the retired
 * option 7): `code` and a message prefixed with `who` when `value` breaks them.
 * Checkpoints are read with the same rules. */
dcnn_status dcnn__trainer_option_check(int option, double value, dcnn_status code, const char *who);

dcnn_status dcnn__trainer_load_own_state(dcnn_reader *r, uint32_t version, const dcnn_trainer *t,
                                         dcnn__trainer_staged *s);
void dcnn__trainer_commit_own_state(dcnn_trainer *t, dcnn__trainer_staged *s);
void dcnn__trainer_staged_free(const dcnn_trainer *t, dcnn__trainer_staged *s);

/* The batch hook's state (the section's tail); a NULL reader: a state
 * without it (version 1), checked against the trainer's hook all the same.
 * apply hands it to the hook, last before the commits (it may fail, then
 * nothing changed). */
typedef struct dcnn__hook_staged {
  int present;
  const uint8_t *data; /* in the reader's bytes */
  size_t size;
} dcnn__hook_staged;
dcnn_status dcnn__trainer_save_hook_state(const dcnn_trainer *t, dcnn_bytes *b);
dcnn_status dcnn__trainer_load_hook_state(dcnn_reader *r, const dcnn_trainer *t, dcnn__hook_staged *s);
dcnn_status dcnn__trainer_apply_hook_state(dcnn_trainer *t, const dcnn__hook_staged *s);

/* The whole training state as the STAT section of a checkpoint, and back. */
dcnn_status dcnn__trainer_write_state(const dcnn_trainer *t, dcnn_bytes *out);
dcnn_status dcnn__trainer_read_state(dcnn_trainer *t, const char *name, const dcnn_bytes *state);

/* One evaluation pass (evaluate.c): every batch of `ds` in order, its
 * scores (n, K) from `score`, added to `metrics`, and the mean cross-entropy
 * of the scores into *loss (if not NULL). `fn` names the caller in messages. */
typedef dcnn_status (*dcnn__score_fn)(dcnn_model *model, dcnn_tensor *x, const int32_t *labels, int64_t seen,
                                      dcnn_tensor *scores, void *user);
dcnn_status dcnn__evaluate_batches(const char *fn, dcnn_model *model, const dcnn_dataset *ds,
                                   dcnn_pipeline *pipeline, int32_t batch_size, dcnn__score_fn score, void *user,
                                   dcnn_metrics *metrics, double *loss);

#endif
