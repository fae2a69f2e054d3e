/**
 * @file trainer.h
 * @brief The training loop: epochs over a dataset with augmentation,
 *        validation, history, progress, early stopping, best weights and
 *        learning-rate schedules; and evaluation of a model on a dataset.
 *
 * Ownership: the trainer borrows the model, optimizer, schedule, datasets and
 * pipeline it is given; they must outlive it.
 * Thread-safety: one thread at a time per trainer.
 */
/** @addtogroup training
 * @{ */
#ifndef DIGITCNN_TRAINER_H
#define DIGITCNN_TRAINER_H

#include <stddef.h>
#include <stdint.h>

#include "communicator.h"
#include "context.h"
#include "data.h"
#include "export.h"
#include "metrics.h"
#include "model.h"
#include "progress.h"
#include "status.h"
#include "optimizer.h"

DCNN_BEGIN_DECLS

/** @brief Opaque trainer handle. */
typedef struct dcnn_trainer dcnn_trainer;

/**
 * @brief What one epoch measured. A struct that grows
 *        (docs/api-conventions.md): fields are only ever appended.
 *
 * Set `struct_size` (DCNN_STRUCT_INIT) before dcnn_trainer_history() fills
 * it. The struct a ::dcnn_epoch_fn receives is the library's own, with
 * `struct_size` set to its full size: a field appended later exists when
 * `offsetof(dcnn_epoch_stats, field) < stats->struct_size`.
 */
typedef struct dcnn_epoch_stats {
  size_t struct_size;     /**< sizeof(dcnn_epoch_stats); set by the caller (by the library in callbacks). */
  int32_t epoch;          /**< 1-based epoch number. */
  int32_t epochs;         /**< Planned number of epochs. */
  int32_t steps;          /**< Training steps in the epoch. */
  double seconds;         /**< Wall time of the epoch (training and validation). */
  double learning_rate;   /**< Learning rate used in the epoch. */
  double loss;            /**< Mean training loss over the epoch's steps. */
  double accuracy;        /**< Training accuracy over the epoch (with dropout and augmentation). */
  double val_loss;        /**< Validation loss (NaN without validation data). */
  double val_accuracy;    /**< Validation accuracy (NaN without validation data). */
} dcnn_epoch_stats;

/** @brief Options of dcnn_trainer_set(). */
typedef enum dcnn_trainer_option {
  DCNN_TRAIN_EPOCHS = 0,         /**< Epochs, 1 to 1e7 (default 10). */
  DCNN_TRAIN_BATCH_SIZE = 1,     /**< Batch size, 1 to 1e7 (default 32). In a model with batch norm
                                      (a layer declaring #DCNN_LAYER_BATCH_STATISTICS) a last batch
                                      of a single sample (a training set of k batches and 1) is
                                      skipped each epoch: the sample that the epoch's shuffle puts
                                      last, which may give one value per channel, not normalisable. */
  /* 2 was the seed, a double capped at 1e15: dcnn_trainer_set_seed() takes a uint64_t. */
  DCNN_TRAIN_AUGMENT = 3,        /**< 1: apply the pipeline's augmentation to training batches (default 1). */
  DCNN_TRAIN_PATIENCE = 4,       /**< Early stopping after this many epochs without improvement; 0 = off (default 0). */
  DCNN_TRAIN_MONITOR_LOSS = 5,   /**< 1: early stopping and best weights follow val_loss; 0: val_accuracy (default 0). */
  DCNN_TRAIN_KEEP_BEST = 6,      /**< 1: restore the weights of the best validation epoch at the end of a fit with validation data, or of the fit that finishes a resumed run (default 1). */
  /* 7 was DCNN_TRAIN_PROGRESS (0.1): refused; progress goes to dcnn_trainer_set_progress(). */
  DCNN_TRAIN_MAX_STEPS = 8,      /**< Stop an epoch after this many steps; 0 = no limit (default 0). */
  /** Label smoothing e in [0, 1) of the training loss
   *  (dcnn_softmax_cross_entropy_smoothed()); 0 = off (default 0). The
   *  epoch's training loss is the smoothed one; validation loss is not
   *  smoothed. Recorded in checkpoints (older ones resume with 0). */
  DCNN_TRAIN_LABEL_SMOOTHING = 9,
  /** 1: a cosine or warm-up + cosine schedule sets the rate before every
   *  step, at the position dcnn_schedule_rate_at() takes (epoch e, step i of
   *  S: e + (i + 0.5) / S), so warm-up ramps over steps instead of jumping per
   *  epoch; step and plateau schedules keep one rate per epoch. 0: one rate
   *  per epoch, dcnn_schedule_rate() (default 0). Recorded in checkpoints
   *  (older ones resume with 0). */
  DCNN_TRAIN_SCHEDULE_PER_STEP = 10,
  /** Mixup: each training batch blended with itself shifted by a random
   *  k, x_i <- lam x_i + (1 - lam) x_(i+k mod N), targets likewise
   *  (dcnn_softmax_cross_entropy_soft()), lam ~ Beta(a, a); the value is a,
   *  0 = off (default 0). Numbers from (seed, epoch, step). With
   *  #DCNN_TRAIN_CUTMIX also on, each batch uses one of the two, equally often. */
  DCNN_TRAIN_MIXUP = 11,
  /** Cutmix: a box of share 1 - lam from the partner sample pasted into each
   *  sample, targets by the box's true share; lam ~ Beta(a, a), the value is
   *  a, 0 = off (default 0). Label smoothing applies to both targets. */
  DCNN_TRAIN_CUTMIX = 12,
  /** Exponential moving average of the weights, decay d in [0, 1); 0 = off
   *  (default 0). After each step v <- d' v + (1 - d') w for parameters and
   *  batch-norm statistics, d' = min(d, (1 + u) / (10 + u)) after u updates.
   *  Validation, the best weights, best.dcnn and the model after the fit use
   *  the average; checkpoints written during the fit keep both (resume is
   *  bit-identical). The fit ends by copying the average into the model: the
   *  raw weights are gone, so a second dcnn_trainer_fit() or a
   *  dcnn_trainer_save_checkpoint() after the fit continues from the averaged
   *  weights while the optimizer's moments belong to the raw ones (resume
   *  from last.dcnn instead to continue the raw trajectory). */
  DCNN_TRAIN_EMA_DECAY = 13
} dcnn_trainer_option;

/** @brief What a ::dcnn_epoch_fn returns. Numbers are stable (ABI). */
typedef enum dcnn_epoch_action {
  DCNN_EPOCH_CONTINUE = 0, /**< Go on with the next epoch. */
  DCNN_EPOCH_STOP = 1      /**< Stop: dcnn_trainer_fit() returns #DCNN_OK with the epochs done so far. */
} dcnn_epoch_action;

/**
 * @brief Called after every epoch.
 * @return #DCNN_EPOCH_CONTINUE (0), or #DCNN_EPOCH_STOP to stop training
 *         (any other non-zero value stops too). The return type stays `int`
 *         so that callbacks written for 0.1 still match this type.
 */
typedef int (*dcnn_epoch_fn)(const dcnn_epoch_stats *stats, void *user);

/**
 * @brief Creates a trainer for @p model updated by @p optimizer.
 * @param ctx Context, or NULL.
 * @param model The model (borrowed).
 * @param optimizer The optimizer (borrowed).
 * @param[out] out The trainer.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT, #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_trainer_create(dcnn_context *ctx, dcnn_model *model, dcnn_optimizer *optimizer,
                                         dcnn_trainer **out);

/**
 * @brief Destroys a trainer (not what it borrows). NULL is allowed.
 * @param t The trainer.
 */
DCNN_API void dcnn_trainer_destroy(dcnn_trainer *t);

/**
 * @brief Sets an option (see ::dcnn_trainer_option).
 * @param t The trainer.
 * @param option The option.
 * @param value Its value (a whole number, except #DCNN_TRAIN_LABEL_SMOOTHING,
 *        #DCNN_TRAIN_MIXUP, #DCNN_TRAIN_CUTMIX (0..10) and #DCNN_TRAIN_EMA_DECAY ([0, 1))).
 * @return #DCNN_OK or #DCNN_ERR_INVALID_ARGUMENT (also for 2, the seed's old
 *         number: use dcnn_trainer_set_seed()).
 */
DCNN_API dcnn_status dcnn_trainer_set(dcnn_trainer *t, dcnn_trainer_option option, double value);

/**
 * @brief Reads an option: the value dcnn_trainer_set() gave it, its default,
 *        or a resumed checkpoint's.
 * @param t The trainer.
 * @param option The option.
 * @param[out] value Receives its value; NaN on failure.
 * @return #DCNN_OK or #DCNN_ERR_INVALID_ARGUMENT (NULL, an unknown option, or
 *         one of the retired numbers 2 and 7; the seed is read with
 *         dcnn_trainer_seed()).
 * Thread-safety: not while another thread changes or trains @p t.
 */
DCNN_API dcnn_status dcnn_trainer_get(const dcnn_trainer *t, dcnn_trainer_option option, double *value);

/**
 * @brief Sets the seed of shuffling and augmentation (default 1); dropout
 *        draws from the model's own seed (dcnn_model_init()):
 *        every uint64_t value, used as it is (no rounding through a double).
 *        Checkpoints keep it; dcnn_trainer_resume() restores it.
 * @param t The trainer.
 * @param seed The seed.
 * @return #DCNN_OK or #DCNN_ERR_INVALID_ARGUMENT (NULL trainer).
 */
DCNN_API dcnn_status dcnn_trainer_set_seed(dcnn_trainer *t, uint64_t seed);

/**
 * @brief The seed dcnn_trainer_set_seed() set (or a resumed checkpoint's).
 * @param t The trainer (not NULL).
 * @return The seed.
 */
DCNN_API uint64_t dcnn_trainer_seed(const dcnn_trainer *t);

/**
 * @brief Uses a learning-rate schedule: the rate of epoch e is
 *        dcnn_schedule_rate(schedule, e); plateau schedules observe the
 *        monitored validation metric after each epoch (a fit with
 *        validation refuses one whose goal is the other direction:
 *        #DCNN_GOAL_MAXIMIZE for accuracy, #DCNN_GOAL_MINIMIZE with
 *        DCNN_TRAIN_MONITOR_LOSS). A rate of 0 (a
 *        schedule at the end of its decay) is allowed: those steps leave
 *        the weights unchanged. The optimizer keeps the last rate used, so
 *        a later dcnn_trainer_fit() without a schedule, after one that
 *        ended at 0, fails with #DCNN_ERR_INVALID_STATE until a rate is set.
 * @param t The trainer.
 * @param schedule The schedule (borrowed), or NULL for the optimizer's constant rate.
 * @return #DCNN_OK or #DCNN_ERR_INVALID_ARGUMENT.
 */
DCNN_API dcnn_status dcnn_trainer_set_schedule(dcnn_trainer *t, dcnn_schedule *schedule);

/**
 * @brief Installs a progress callback (none by default: the library never
 *        prints). dcnn_trainer_fit() calls it at the start of every epoch,
 *        after every training step, after every epoch and once as it returns
 *        (see ::dcnn_progress_event); progress_bar.h has a ready-made
 *        Keras-style bar.
 *
 * When the callback returns #DCNN_PROGRESS_CANCEL, dcnn_trainer_fit() stops
 * at once and returns #DCNN_ERR_CANCELLED; see dcnn_trainer_fit() for the
 * state it leaves. The callback runs on the thread that called
 * dcnn_trainer_fit(), between steps; see ::dcnn_progress_fn for what it may do.
 * @param t The trainer.
 * @param fn The callback, or NULL for none.
 * @param user Passed to @p fn; not owned (it must outlive the fits that use it).
 * @return #DCNN_OK or #DCNN_ERR_INVALID_ARGUMENT.
 */
DCNN_API dcnn_status dcnn_trainer_set_progress(dcnn_trainer *t, dcnn_progress_fn fn, void *user);

/**
 * @brief Changes a preprocessed batch in place before it is used: during
 *        training (dcnn_trainer_set_batch_hook()) before each step, during
 *        evaluation (dcnn_evaluate_transformed()) before the forward pass.
 *        Adversarial training (robustness.h) is one.
 * @param model The model being trained or evaluated (borrowed for the call;
 *        a transform may run it, e.g. dcnn_model_input_gradient(), but must
 *        not change its weights or layers).
 * @param batch (N, sample shape...) tensor, modified in place; its shape
 *        must not change.
 * @param labels N class indices (read only).
 * @param index In training, the model's step count before the step
 *        (dcnn_model_step_count(): differs per step, and a resumed run sees
 *        the same values); in evaluation, the dataset index of the batch's
 *        first sample.
 * @param user The user pointer given with the transform.
 * @return #DCNN_OK, or an error that stops training or evaluation (returned
 *         by dcnn_trainer_fit() or dcnn_evaluate_transformed(), wrapped).
 */
typedef dcnn_status (*dcnn_batch_transform)(dcnn_model *model, dcnn_tensor *batch, const int32_t *labels,
                                            int64_t index, void *user);

/**
 * @brief Where a training batch sits in its step's global batch: what a
 *        batch hook needs to act alike whatever the number of processes
 *        (dcnn_trainer_set_communicator() cuts each global batch into
 *        slices; a single process has one slice, the whole batch).
 */
typedef struct dcnn_batch_slice {
  size_t struct_size; /**< sizeof(dcnn_batch_slice) as the library filled it (fields are only ever appended). */
  int64_t step;       /**< dcnn_model_step_count() before the step (a resumed run sees the same values). */
  int32_t offset;     /**< Position of the slice's first sample in the global batch (0 in one process). */
  int32_t global;     /**< Samples in the global batch (the slice's own count in one process). */
} dcnn_batch_slice;

/**
 * @brief A batch transform that knows the slice it is given: samples
 *        `offset .. offset + N - 1` of a global batch of `global`. Acting on
 *        global positions (e.g. "the first 30% of the global batch", random
 *        numbers drawn per global position) makes a job of several
 *        processes train on the same batches as one process.
 * @param model As for ::dcnn_batch_transform.
 * @param batch As for ::dcnn_batch_transform.
 * @param labels As for ::dcnn_batch_transform.
 * @param slice Where @p batch sits (borrowed for the call).
 * @param user As for ::dcnn_batch_transform.
 * @return #DCNN_OK, or an error that stops training (returned by dcnn_trainer_fit(), wrapped).
 */
typedef dcnn_status (*dcnn_batch_slice_transform)(dcnn_model *model, dcnn_tensor *batch, const int32_t *labels,
                                                  const dcnn_batch_slice *slice, void *user);

/** @brief Most bytes of checkpoint state a batch hook may save (dcnn_batch_hook::save_state). */
#define DCNN_BATCH_HOOK_STATE_MAX 4096

/**
 * @brief A batch transform a trainer applies to every training batch, with
 *        optional ownership of its user data and checkpoint state.
 *        Zero-initialise it and set @c struct_size to `sizeof(dcnn_batch_hook)`:
 *        fields are only ever appended.
 */
typedef struct dcnn_batch_hook {
  size_t struct_size;             /**< sizeof(dcnn_batch_hook) of the caller's header. */
  dcnn_batch_transform transform; /**< Called before every training step (NULL only with @c transform_slice). */
  void *user;                     /**< Passed to every function here. */
  /** Optional: frees @c user when the trainer drops the hook (destroyed, or another hook set). */
  void (*release)(void *user);
  /** Optional: writes the hook's state for a checkpoint into @p out (at most
   *  @p capacity = #DCNN_BATCH_HOOK_STATE_MAX bytes) and its length into @p size. */
  dcnn_status (*save_state)(void *user, uint8_t *out, size_t capacity, size_t *size);
  /** Optional: restores what save_state wrote (dcnn_trainer_resume()); on an
   *  error (#DCNN_ERR_BAD_FORMAT for bytes it does not accept) it must change nothing. */
  dcnn_status (*load_state)(void *user, const uint8_t *data, size_t size);
  /** Optional (appended after 0.2's first layout): called instead of @c transform with the batch's place
   *  in the global batch; then @c transform may be NULL. Only a hook with it
   *  can run in a job of several processes (dcnn_trainer_set_communicator()). */
  dcnn_batch_slice_transform transform_slice;
} dcnn_batch_hook;

/**
 * @brief Installs the trainer's batch hook (one at a time: it replaces the
 *        previous one, whose @c release is then called unless the new hook
 *        has the same @c user, which is kept), or removes it.
 *
 * The hook's transform runs on every training batch after shuffling and
 * augmentation, before dcnn_model_train_step(); the epoch's loss and accuracy
 * are those of the transformed batches. A hook with @c save_state has its
 * state in checkpoints (dcnn_trainer_save_checkpoint()); dcnn_trainer_resume()
 * then requires a hook with @c load_state, and refuses a checkpoint without
 * hook state when this trainer's hook has a @c save_state.
 * @param t The trainer.
 * @param hook Copied; NULL removes the hook.
 * @return #DCNN_OK or #DCNN_ERR_INVALID_ARGUMENT (@c struct_size too small,
 *         both transforms NULL, or only one of save_state and load_state),
 *         #DCNN_ERR_UNSUPPORTED (a larger @c struct_size that sets fields this
 *         library does not know); on error nothing changes (and @c release is
 *         not called).
 * Thread-safety: the hook runs on the thread calling dcnn_trainer_fit().
 */
DCNN_API dcnn_status dcnn_trainer_set_batch_hook(dcnn_trainer *t, const dcnn_batch_hook *hook);

/**
 * @brief The trainer's context (for hooks that allocate with its allocator).
 * @param t The trainer (not NULL).
 * @return Borrowed; the context given to dcnn_trainer_create(), or for a
 *         trainer made with NULL the library's default context, as
 *         dcnn_model_context() returns it (never NULL for a trainer).
 */
DCNN_API dcnn_context *dcnn_trainer_context(const dcnn_trainer *t);

/**
 * @brief Makes the trainer one process of a data-parallel job (design:
 *        docs/distributed.md), or a single process again (NULL).
 *
 * Every process of the job runs the same program: the same model (same
 * seed), optimizer, schedule, options, seed, datasets and pipeline. Each
 * global batch of #DCNN_TRAIN_BATCH_SIZE samples (the batch of a
 * single-process run: shuffling, augmentation and dropout are drawn from the
 * global sample positions, so the data do not depend on the number of
 * processes) is cut into near-equal slices, rank r taking the r-th. Batch
 * norm layers normalise with the global batch's statistics (synchronised,
 * two small all-reduces forward and one backward per layer); the gradients
 * of the global batch's mean loss are summed over the processes in fused
 * buckets (16 MiB; summed as soon as the backward pass has completed each,
 * and started in 1 MiB buckets to overlap the rest of the pass when every
 * process's communicator has @c allreduce_start); every process then makes the same update, so the
 * replicas stay identical, and the loss and accuracy of each step are the
 * global batch's. A job of P processes therefore matches a single process
 * with the same batch size up to float rounding (the order of sums differs).
 * #DCNN_TRAIN_BATCH_SIZE must be at least the number of processes
 * (dcnn_trainer_fit() refuses it otherwise). A batch hook
 * (dcnn_trainer_set_batch_hook()) needs @c transform_slice, which learns the
 * slice's place in the global batch (adversarial training has it); a hook
 * with @c transform alone is refused in a job of several processes. Mixup
 * and cutmix pair samples across the whole global batch (one all-reduce of
 * the batch's pixels and labels per step gathers it). A last global batch
 * with fewer samples than processes is not sliced: every process takes the
 * whole of it and makes the same step, as one process would; the step's
 * collectives still run, the processes other than rank 0 adding zeros.
 * Validation is sharded (dcnn_evaluate_distributed()): same metrics as one
 * process. Only rank 0 writes checkpoints (dcnn_trainer_set_checkpoint_dir())
 * and the history (dcnn_trainer_write_history() is a no-op on other ranks);
 * every rank resumes from the same checkpoint file (dcnn_trainer_resume()).
 *
 * Decisions the processes share end every process alike, without @c abort:
 * a diverged step (#DCNN_ERR_NUMERIC, from the all-reduced loss); a cancel
 * by the progress callback of any process (#DCNN_ERR_CANCELLED on every
 * process: the flag rides on the next step's loss all-reduce, whose step is
 * then not taken, or on the epoch's end); a stop asked by the epoch callback
 * of any process (all stop after that epoch); replicas that differ
 * (#DCNN_ERR_INVALID_ARGUMENT) and a checkpoint directory rank 0 cannot use
 * (#DCNN_ERR_IO), both found before training. Any other error of
 * dcnn_trainer_fit() may be one process's alone: it logs the error and calls
 * the communicator's @c abort, which should end the whole job (the others
 * would wait for it in their next collective). dcnn_trainer_save_checkpoint()
 * writes on rank 0 only.
 * @param t The trainer (configure before dcnn_trainer_fit(); not thread-safe).
 * @param comm Copied (see ::dcnn_communicator; @c release of a replaced or
 *        dropped one is called, except when the new one has the same @c user:
 *        that user is kept and its new @c release takes over); NULL: single process.
 * @return #DCNN_OK or #DCNN_ERR_INVALID_ARGUMENT (@c struct_size too small, a
 *         required function NULL, rank not in 0..size-1), #DCNN_ERR_UNSUPPORTED
 *         (a larger @c struct_size that sets fields this library does not
 *         know); on error nothing changes.
 */
DCNN_API dcnn_status dcnn_trainer_set_communicator(dcnn_trainer *t, const dcnn_communicator *comm);

/**
 * @brief Installs an end-of-epoch callback.
 * @param t The trainer.
 * @param fn The callback, or NULL.
 * @param user Passed to @p fn.
 * @return #DCNN_OK or #DCNN_ERR_INVALID_ARGUMENT.
 */
DCNN_API dcnn_status dcnn_trainer_set_callback(dcnn_trainer *t, dcnn_epoch_fn fn, void *user);

/**
 * @brief Trains: for each epoch, shuffled (and augmented) batches of @p train
 *        through @p pipeline, then a validation pass over @p validation.
 *
 * Calling it again continues from where the last call stopped (the epoch
 * count, history and optimizer state carry on). Records the preprocessing,
 * the class names (digits 0..K-1 unless "classes" is already set; not
 * written when the list would exceed a metadata value's 64 KiB, about 12,000
 * classes) and a training summary in the model's metadata, so that a saved
 * model says how to prepare its inputs. A fit without validation data keeps
 * the weights of its last epoch and ends the best-epoch tracking of earlier
 * fits (their best weights are no longer this model's): #DCNN_TRAIN_KEEP_BEST
 * restores at the end of a fit that validates, or of a fit with no epoch
 * left that finishes a resumed run.
 * @code{.c}
 * dcnn_optimizer *adam = NULL;
 * dcnn_trainer *fitter = NULL;
 * dcnn_status s = dcnn_optimizer_create_adam(NULL, 1e-3f, 0.9f, 0.999f, 1e-7f, 0.0f, &adam);
 * if (s == DCNN_OK) s = dcnn_trainer_create(NULL, model, adam, &fitter);
 * if (s == DCNN_OK) s = dcnn_trainer_set(fitter, DCNN_TRAIN_EPOCHS, 10);
 * if (s == DCNN_OK) s = dcnn_trainer_fit(fitter, train, validation, pipeline);
 * if (s == DCNN_OK) printf("%d epochs\n", (int)dcnn_trainer_epochs_done(fitter));
 * else fprintf(stderr, "%s\n", dcnn_last_error());
 * dcnn_trainer_destroy(fitter); // the trainer first: it borrows the optimizer
 * dcnn_optimizer_destroy(adam);
 * @endcode
 * @param t The trainer.
 * @param train Training data.
 * @param validation Validation data, or NULL.
 * @param pipeline Preprocessing (and augmentation) for both.
 * Diagnostics (early stopping, restored weights, settings that cannot act
 * without validation data) go to the context's log sink; progress goes to the
 * callback of dcnn_trainer_set_progress(). Nothing is printed.
 *
 * Cancelled by the progress callback, it returns #DCNN_ERR_CANCELLED at once
 * and leaves: the model with the weights (and batch-norm statistics) after
 * the last training step that completed (the step just reported, or for a
 * cancel at #DCNN_PROGRESS_EPOCH_BEGIN / #DCNN_PROGRESS_EPOCH_END the last
 * step of the previous / that epoch); best weights are not restored and the
 * "training" metadata is not updated; the history with every epoch that
 * completed (an epoch completes with its validation, before
 * #DCNN_PROGRESS_EPOCH_END); checkpoints as of the last completed epoch (or
 * the last step written inside an epoch, dcnn_trainer_set_checkpoint_every()); the
 * optimizer's state after the last step. The model evaluates and saves as
 * usual. The trainer keeps the position inside the interrupted epoch: a
 * later fit call continues it at its next step (with the current weights),
 * and dcnn_trainer_save_checkpoint() records it (as a checkpoint written
 * then would, see dcnn_trainer_set_checkpoint_every()).
 * @return #DCNN_OK; #DCNN_ERR_CANCELLED; the first error of a step (the
 *         history keeps the completed epochs); or, before the first step,
 *         #DCNN_ERR_SHAPE_MISMATCH (the pipeline's samples or the dataset's
 *         classes do not fit the model), #DCNN_ERR_INVALID_ARGUMENT (NULL
 *         arguments; in a job, a batch size below its process count, or
 *         processes whose models, weights, training sets, options or run
 *         positions differ: docs/distributed.md),
 *         #DCNN_ERR_INVALID_STATE (a learning rate of 0 without a schedule, or
 *         sessions of the model alive: even a fit with no epoch left writes
 *         its weights), #DCNN_ERR_OUT_OF_MEMORY, or an I/O error writing a
 *         checkpoint.
 */
DCNN_API dcnn_status dcnn_trainer_fit(dcnn_trainer *t, const dcnn_dataset *train, const dcnn_dataset *validation,
                                      dcnn_pipeline *pipeline);

/**
 * @brief Writes checkpoints while training: after every epoch
 *        `<directory>/last.dcnn` (a model file with the full training state,
 *        for dcnn_trainer_resume()) and, when the epoch is the best so far on
 *        validation (or there is no validation data), `<directory>/best.dcnn`
 *        (a plain model file). Both are written atomically.
 * @param t The trainer.
 * @param directory An existing directory (copied), or NULL to stop writing
 *        checkpoints. dcnn_trainer_fit() checks that it exists and that
 *        this process may create files in it (access(2): not read-only)
 *        before training (#DCNN_ERR_IO otherwise). In a job rank 0, which writes,
 *        checks it and tells the others with the check that the replicas
 *        agree: every process then returns #DCNN_ERR_IO before training,
 *        rank 0 with the reason, and the job is not aborted.
 * @return #DCNN_OK or #DCNN_ERR_INVALID_ARGUMENT (path too long).
 */
DCNN_API dcnn_status dcnn_trainer_set_checkpoint_dir(dcnn_trainer *t, const char *directory);

/**
 * @brief Also writes `<directory>/last.dcnn` inside an epoch (with
 *        dcnn_trainer_set_checkpoint_dir()): after the step that completes
 *        every @p steps steps of the epoch, and after the first step at which
 *        @p seconds have passed since the last checkpoint (or the fit's
 *        start). The checkpoint records the position inside the epoch (steps
 *        done, the epoch's running loss and accuracy sums, its time so far):
 *        dcnn_trainer_resume() then continues at the next step, with results
 *        bit-identical to an uninterrupted run (wall-clock seconds aside).
 *        Default 0, 0: checkpoints at the end of epochs only.
 * @param t The trainer (not thread-safe: configure before dcnn_trainer_fit()).
 * @param steps Every this many steps of an epoch; 0: off.
 * @param seconds At least this much wall time apart; 0: off.
 * @return #DCNN_OK or #DCNN_ERR_INVALID_ARGUMENT (negative or non-finite).
 */
DCNN_API dcnn_status dcnn_trainer_set_checkpoint_every(dcnn_trainer *t, int32_t steps, double seconds);

/**
 * @brief Saves the model and everything needed to continue training exactly
 *        (optimizer moments and step count, schedule state, history, early
 *        stopping and best-weights state, options, the model's step counter),
 *        atomically. The file is also an ordinary model file.
 *
 * In a data-parallel job (dcnn_trainer_set_communicator()) only rank 0
 * writes; the other ranks return #DCNN_OK without touching @p path (the
 * replicas are identical, and several writers of one file would race).
 * @param t The trainer.
 * @param path Destination.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT (NULL arguments), #DCNN_ERR_IO,
 *         #DCNN_ERR_OUT_OF_MEMORY, an error of the batch hook's save_state
 *         (#DCNN_ERR_INVALID_STATE for more state than it has room for), or
 *         an error of dcnn_model_save().
 */
DCNN_API dcnn_status dcnn_trainer_save_checkpoint(const dcnn_trainer *t, const char *path);

/**
 * @brief Restores a checkpoint into this trainer, its model, optimizer and
 *        schedule, so that dcnn_trainer_fit() continues the interrupted run:
 *        with the same data, pipeline, seed and thread count it gives the same
 *        weights, history and metrics as a run that never stopped.
 *
 * The trainer's model must have the checkpoint's architecture, its optimizer
 * the same kind (SGD or Adam) and its schedule the same kind (or none, as the
 * checkpoint). The optimizer's settings (learning rate, momentum, betas,
 * epsilon, weight decay) and the schedule's (its rates, epochs, warm-up,
 * plateau state) are replaced by the checkpoint's, whatever the objects
 * given were created with: to continue with other settings, set them after
 * the resume (a cosine schedule that reached its minimum stays there for the
 * epochs past its end). Options are restored;
 * #DCNN_TRAIN_EPOCHS is set to the epochs the interrupted run had left (1
 * when it had none left). A run that ended (its last planned epoch done, or
 * stopped early: #DCNN_TRAIN_PATIENCE epochs without improvement) is
 * finished: the next successful fit trains no epoch and only restores the
 * best weights; setting #DCNN_TRAIN_EPOCHS undoes that.
 * Nothing changes unless the whole checkpoint is valid.
 * @param t The trainer.
 * @param path A file written by dcnn_trainer_save_checkpoint() or a checkpoint directory's last.dcnn.
 * @return #DCNN_OK; #DCNN_ERR_IO; #DCNN_ERR_BAD_FORMAT (corrupt, or a model
 *         file without training state); #DCNN_ERR_UNSUPPORTED (training state
 *         of a newer version); #DCNN_ERR_SHAPE_MISMATCH (another
 *         architecture); #DCNN_ERR_INVALID_ARGUMENT (another optimizer,
 *         schedule or batch-hook kind); #DCNN_ERR_INVALID_STATE (sessions of
 *         the model are alive: the weights would change under them);
 *         #DCNN_ERR_NOT_FOUND (the checkpoint's architecture names a layer
 *         type not registered in this program: the checkpoint is read as a
 *         whole model, so a custom layer must be registered with
 *         dcnn_layer_register() to resume, as to load);
 *         #DCNN_ERR_OUT_OF_MEMORY; or an error of the batch hook's
 *         `load_state`.
 */
DCNN_API dcnn_status dcnn_trainer_resume(dcnn_trainer *t, const char *path);

/**
 * @brief Number of epochs in the history.
 * @param t The trainer (not NULL).
 * @return The count.
 */
DCNN_API int32_t dcnn_trainer_epochs_done(const dcnn_trainer *t);

/**
 * @brief Statistics of epoch @p index (0-based) of the history.
 * @param t The trainer.
 * @param index 0 .. epochs done - 1.
 * @param[in,out] stats Its `struct_size` set by the caller (DCNN_STRUCT_INIT);
 *        receives the statistics that size holds.
 * @return #DCNN_OK or #DCNN_ERR_INVALID_ARGUMENT (index out of range, or a
 *         `struct_size` below the 0.2 layout).
 */
DCNN_API dcnn_status dcnn_trainer_history(const dcnn_trainer *t, int32_t index, dcnn_epoch_stats *stats);

/**
 * @brief The epoch (1-based) whose weights the model holds after fit with
 *        #DCNN_TRAIN_KEEP_BEST: the best validation epoch (restored, or the
 *        last one); 0 without validation data or without KEEP_BEST.
 * @param t The trainer (not NULL).
 * @return The epoch.
 */
DCNN_API int32_t dcnn_trainer_best_epoch(const dcnn_trainer *t);

/**
 * @brief Writes the history as CSV (epoch, seconds, learning_rate, loss,
 *        accuracy, val_loss, val_accuracy), atomically.
 * @param t The trainer.
 * @param path Destination.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT, #DCNN_ERR_IO.
 */
DCNN_API dcnn_status dcnn_trainer_write_history(const dcnn_trainer *t, const char *path);

/**
 * @brief Runs @p model in inference mode over all of @p ds and adds the
 *        softmax outputs and labels to @p metrics.
 * @code{.c}
 * dcnn_metrics *m = NULL;
 * double loss = 0, f1 = 0;
 * char *table = NULL;
 * dcnn_status s = dcnn_metrics_create(NULL, 10, &m);
 * if (s == DCNN_OK) s = dcnn_evaluate(model, test, pipeline, 256, m, &loss);
 * if (s == DCNN_OK) s = dcnn_metrics_get(m, DCNN_METRIC_F1, DCNN_AVERAGE_MACRO, &f1);
 * if (s == DCNN_OK) s = dcnn_metrics_format(m, DCNN_FORMAT_CLASS_TABLE, NULL, &table);
 * if (s == DCNN_OK) printf("loss %.4f, macro F1 %.4f\n%s", loss, f1, table);
 * dcnn_free(table);
 * dcnn_metrics_destroy(m);
 * @endcode
 * @param model The model (its output must be class probabilities or scores).
 *        A model whose last layer is not a softmax gives raw scores: their
 *        row-wise softmax is what the metrics, the loss and the variants
 *        below (test-time shifts, ensembles, transforms, shards) take.
 * @param ds The dataset.
 * @param pipeline Preprocessing (no augmentation is applied).
 * @param batch_size >= 1.
 * @param metrics The accumulator, with the model's number of classes.
 * @param[out] loss Mean of -log(max(p_label, 1e-15)) over @p ds, the outputs
 *        taken as probabilities (softmax'd as above); may be NULL.
 * On an error part-way, @p metrics holds the batches before it: reset it
 * (dcnn_metrics_reset()) before using it again.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT (NULL arguments, a batch size
 *         below 1), #DCNN_ERR_SHAPE_MISMATCH (the dataset's samples do not
 *         fit the model, it has more classes than the model has outputs, or
 *         the metrics' classes differ from them), or an error from the model,
 *         pipeline or metrics. Checked before any batch is evaluated.
 */
DCNN_API dcnn_status dcnn_evaluate(dcnn_model *model, const dcnn_dataset *ds, dcnn_pipeline *pipeline,
                                   int32_t batch_size, dcnn_metrics *metrics, double *loss);

/**
 * @brief Test-time augmentation of one batch: @p output (N, K) is the mean of
 *        the model's outputs (inference mode) over @p copies shifted copies
 *        of @p input (N, C, H, W), as dcnn_evaluate_tta() does.
 * @param model The model; without a final softmax layer its scores are
 *        softmax'd before the mean, as in dcnn_evaluate().
 * @param input (N, C, H, W) preprocessed images.
 * @param copies 1, 5 or 9 (see dcnn_evaluate_tta()).
 * @param pixels Shift in pixels, 1..8.
 * @param output (N, K) tensor; on an error of the model its contents are unspecified.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT, #DCNN_ERR_SHAPE_MISMATCH,
 *         #DCNN_ERR_OUT_OF_MEMORY, or an error of the model.
 * Thread-safety: runs the model (one thread at a time per model).
 */
DCNN_API dcnn_status dcnn_model_predict_tta(dcnn_model *model, const dcnn_tensor *input, int32_t copies, int32_t pixels,
                                            dcnn_tensor *output);

/**
 * @brief dcnn_evaluate() with test-time augmentation: each sample's outputs
 *        are the mean of the model's softmax outputs over @p copies shifted
 *        copies of it.
 *
 * Copies: 1 the image itself (dcnn_evaluate(), up to rounding); 5 adds shifts
 * by @p pixels left, right, up and down; 9 adds the four diagonal shifts too.
 * Pixels shifted in repeat the edge. A model that ends in raw scores has
 * them softmax'd before the mean (dcnn_evaluate()). Deterministic: no random
 * numbers.
 *
 * Thread-safety: runs the model (one thread at a time per model). Nothing is retained.
 * @param model The model.
 * @param ds The dataset.
 * @param pipeline Preprocessing (no augmentation is applied).
 * @param batch_size >= 1.
 * @param copies 1, 5 or 9.
 * @param pixels Shift in pixels, 1..8.
 * @param metrics The accumulator, with the model's number of classes.
 * @param[out] loss As for dcnn_evaluate(), of the averaged outputs; may be NULL.
 * On an error part-way, @p metrics holds the batches before it (as for dcnn_evaluate()).
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT (NULL arguments, @p copies,
 *         @p pixels, the batch size), #DCNN_ERR_SHAPE_MISMATCH (as for
 *         dcnn_evaluate()), or an error from the model, pipeline or metrics.
 */
DCNN_API dcnn_status dcnn_evaluate_tta(dcnn_model *model, const dcnn_dataset *ds, dcnn_pipeline *pipeline,
                                       int32_t batch_size, int32_t copies, int32_t pixels, dcnn_metrics *metrics,
                                       double *loss);

/** @brief The most members dcnn_evaluate_ensemble() takes. */
#define DCNN_ENSEMBLE_MAX_MEMBERS 16

/**
 * @brief dcnn_evaluate() of an ensemble: each sample's outputs are the
 *        weighted mean of the members' softmax outputs, member m seeing the
 *        sample through its own pipeline.
 *
 * The members may differ in architecture, input size and colour (a 32 x 32
 * RGB model beside a 28 x 28 gray one), as long as each pipeline produces the
 * input its model expects and every model gives the same number of class
 * probabilities (a final softmax). Each pipeline preprocesses every sample
 * without augmentation, as in dcnn_evaluate(). With one member of any
 * weight this is dcnn_evaluate(), up to rounding. Deterministic: no random
 * numbers.
 *
 * @code{.c}
 * // members[1] would be another trained model and inputs[1] its own pipeline
 * dcnn_model *members[2] = {model, model};
 * dcnn_pipeline *inputs[2] = {pipeline, pipeline};
 * const float weights[2] = {2.0f, 1.0f};
 * dcnn_metrics *m = NULL;
 * double accuracy = 0;
 * dcnn_status s = dcnn_metrics_create(NULL, 10, &m);
 * if (s == DCNN_OK) s = dcnn_evaluate_ensemble(members, inputs, weights, 2, test, 256, m, NULL);
 * if (s == DCNN_OK) s = dcnn_metrics_get(m, DCNN_METRIC_ACCURACY, DCNN_AVERAGE_MACRO, &accuracy);
 * dcnn_metrics_destroy(m);
 * @endcode
 *
 * Thread-safety: runs each model in turn on the calling thread (one thread at
 * a time per model; the same model may appear twice). Nothing is retained.
 * @param models @p count models, borrowed.
 * @param pipelines @p count pipelines, borrowed; pipelines[m] feeds models[m].
 * @param weights @p count finite weights >= 0 with a positive sum (they are
 *        divided by it), or NULL for equal weights.
 * @param count 1..#DCNN_ENSEMBLE_MAX_MEMBERS.
 * @param ds The dataset.
 * @param batch_size >= 1.
 * @param metrics The accumulator, with the models' number of classes.
 * @param[out] loss As for dcnn_evaluate(), of the averaged outputs; may be NULL.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT (a NULL argument or member,
 *         @p count, a weight, @p batch_size), #DCNN_ERR_SHAPE_MISMATCH
 *         (members with different numbers of outputs, or not the metrics'
 *         classes), #DCNN_ERR_INVALID_STATE (a pipeline that gave member m
 *         other samples than member 0's: a safeguard, the library's
 *         pipelines keep the dataset's order), #DCNN_ERR_OUT_OF_MEMORY, or an
 *         error of a model or pipeline. On an error nothing further is added
 *         to @p metrics, but batches already evaluated stay added.
 */
DCNN_API dcnn_status dcnn_evaluate_ensemble(dcnn_model *const *models, dcnn_pipeline *const *pipelines,
                                            const float *weights, int32_t count, const dcnn_dataset *ds,
                                            int32_t batch_size, dcnn_metrics *metrics, double *loss);

/**
 * @brief dcnn_evaluate() with every preprocessed batch passed through
 *        @p transform (NULL: none) before the forward pass; the robustness
 *        evaluations (robustness.h) are built on it.
 * @param model The model.
 * @param ds The dataset.
 * @param pipeline Preprocessing (no augmentation is applied).
 * @param batch_size >= 1.
 * @param transform The transform; @c index is the dataset index of the batch's first sample.
 * @param user Passed to @p transform.
 * @param metrics The accumulator, with the model's number of classes.
 * @param[out] loss As for dcnn_evaluate(); may be NULL.
 * On an error part-way, @p metrics holds the batches before it (as for dcnn_evaluate()).
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT, #DCNN_ERR_SHAPE_MISMATCH (as
 *         for dcnn_evaluate()), or an error from the model, pipeline,
 *         transform or metrics.
 * Thread-safety: runs the model (one thread at a time per model); the
 * transform runs on the calling thread. Nothing is retained.
 */
DCNN_API dcnn_status dcnn_evaluate_transformed(dcnn_model *model, const dcnn_dataset *ds, dcnn_pipeline *pipeline,
                                               int32_t batch_size, dcnn_batch_transform transform, void *user,
                                               dcnn_metrics *metrics, double *loss);

/**
 * @brief dcnn_evaluate() sharded over the processes of a data-parallel job:
 *        every process calls it with the same arguments; batch b of the
 *        dataset is evaluated by rank b mod P, the outputs are gathered in
 *        windows of P batches and every process adds all of them to
 *        @p metrics in dataset order. The metrics and loss are therefore
 *        those dcnn_evaluate() gives on one process (same batch size), on
 *        every rank.
 * @param model The model (identical on every process).
 * @param ds The dataset (identical on every process).
 * @param pipeline Preprocessing (no augmentation is applied).
 * @param batch_size >= 1.
 * @param comm The job's communicator (borrowed for the call); NULL or a job
 *        of one process: dcnn_evaluate().
 * @param metrics The accumulator, with the model's number of classes.
 * @param[out] loss As for dcnn_evaluate(); may be NULL.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT (@p comm's @c struct_size too
 *         small or rank, size or allreduce_sum NULL), or an error from the
 *         model, pipeline, metrics or communicator. An error on one process
 *         ends the call on every process at the same point (each window's
 *         all-reduce carries a failure count): the others return
 *         #DCNN_ERR_INVALID_STATE saying how many processes failed.
 * Thread-safety: as dcnn_evaluate(); the communicator is used from the calling thread.
 */
DCNN_API dcnn_status dcnn_evaluate_distributed(dcnn_model *model, const dcnn_dataset *ds, dcnn_pipeline *pipeline,
                                               int32_t batch_size, const dcnn_communicator *comm,
                                               dcnn_metrics *metrics, double *loss);

DCNN_END_DECLS

#endif /* DIGITCNN_TRAINER_H */
/** @} */
