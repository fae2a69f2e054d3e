/**
 * @file progress.h
 * @brief Training progress as data: what dcnn_trainer_fit() reports to a
 *        progress callback per step and per epoch, and how the callback
 *        cancels the fit.
 *
 * The library itself never prints. A caller who wants a Keras-style bar on a
 * terminal installs the ready-made callback of progress_bar.h; anyone else
 * reads the fields below (a GUI, a notebook, a log).
 *
 * Thread-safety: the callback runs on the thread that called
 * dcnn_trainer_fit(), between training steps (never inside the library's
 * parallel regions); see dcnn_progress_fn for what it may do.
 */
/** @addtogroup training
 * @{ */
#ifndef DIGITCNN_PROGRESS_H
#define DIGITCNN_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

#include "export.h"
#include "status.h"

DCNN_BEGIN_DECLS

/** @brief Why the progress callback is called (dcnn_progress::event). */
typedef enum dcnn_progress_event {
  DCNN_PROGRESS_EPOCH_BEGIN = 0, /**< Before the first step of an epoch (step 0), or of the rest of one a cancel or a resume interrupted (its steps so far). */
  DCNN_PROGRESS_STEP = 1,        /**< After every training step (its update applied). */
  DCNN_PROGRESS_EPOCH_END = 2,   /**< After an epoch's validation, with the epoch in the history. */
  DCNN_PROGRESS_FIT_END = 3      /**< Once as dcnn_trainer_fit() returns, whatever its status, once training set up (argument checks, the data pipeline and the batcher); a failure before that returns without it. */
} dcnn_progress_event;

/** @brief What a progress callback returns. */
typedef enum dcnn_progress_action {
  DCNN_PROGRESS_CONTINUE = 0, /**< Go on training. */
  DCNN_PROGRESS_CANCEL = 1    /**< Stop without another step: dcnn_trainer_fit() returns #DCNN_ERR_CANCELLED. */
} dcnn_progress_action;

/**
 * @brief One progress report. Passed by pointer only and valid during the
 *        call; fields are only ever appended, and `struct_size` says how many
 *        a given library fills (read a field only if its offset is below it).
 *
 * Times are wall-clock seconds; estimates are NaN until a step has been
 * timed. Loss and accuracy are those of the training batches (with dropout,
 * augmentation and, if set, adversarial samples).
 */
typedef struct dcnn_progress {
  size_t struct_size;         /**< sizeof(dcnn_progress) of the library that filled it. */
  dcnn_progress_event event;  /**< Why this call. */
  int32_t epoch;              /**< 1-based epoch number (counting earlier fit calls and resumed runs). */
  int32_t epochs;             /**< Epoch number the fit ends at if nothing stops it. */
  int32_t step;               /**< Steps done in this epoch (0 at #DCNN_PROGRESS_EPOCH_BEGIN, unless the epoch
                                   continues one a cancel or a resume interrupted: then the begin report
                                   carries its steps, samples, loss, accuracy, times and estimates so far). */
  int32_t steps;              /**< Steps this epoch will have (after #DCNN_TRAIN_MAX_STEPS). */
  int64_t samples;            /**< Training samples seen in this epoch. */
  int64_t total_samples;      /**< Training samples seen in this fit call. */
  double loss;                /**< Mean training loss of this epoch so far (NaN before the first step). */
  double accuracy;            /**< Training accuracy of this epoch so far (NaN before the first step). */
  double learning_rate;       /**< Learning rate of this epoch. */
  double val_loss;            /**< #DCNN_PROGRESS_EPOCH_END: validation loss; NaN otherwise or without validation data. */
  double val_accuracy;        /**< #DCNN_PROGRESS_EPOCH_END: validation accuracy; NaN likewise. */
  double seconds;             /**< Time since the epoch began (at #DCNN_PROGRESS_EPOCH_END: with validation). */
  double train_seconds;       /**< Time the epoch's training steps took so far (validation excluded). */
  double samples_per_second;  /**< Training throughput of this epoch so far (samples / train_seconds). */
  double eta_seconds;         /**< Estimated time to the end of this epoch's steps (0 at its end). */
  double fit_eta_seconds;     /**< Estimated time to the end of the fit (all planned epochs, validation included). */
  int32_t early_stopped;      /**< #DCNN_PROGRESS_FIT_END: the patience that stopped training, 0 if it did not. */
  int32_t restored_epoch;     /**< #DCNN_PROGRESS_FIT_END: epoch whose best weights were restored, 0 if none were. */
  double best_value;          /**< #DCNN_PROGRESS_FIT_END with restored_epoch: its validation value. */
  int32_t monitor_loss;       /**< 1 when best_value is a validation loss, 0 for an accuracy. */
  dcnn_status status;         /**< #DCNN_PROGRESS_FIT_END: what dcnn_trainer_fit() returns; #DCNN_OK before. */
} dcnn_progress;

/**
 * @brief Progress callback of dcnn_trainer_set_progress().
 *
 * Called on the thread that runs dcnn_trainer_fit(), between steps (never
 * inside the library's parallel regions), never concurrently with itself.
 * It may read the trainer's history, the model's weights and metadata, and
 * record the report; it must not change, train, resume or destroy the
 * trainer, its model, optimizer, schedule, datasets or pipeline (the model may
 * be read-only inspected, e.g. with dcnn_model_param()). Its time adds to the
 * epoch's, so it should be quick: a step can take under a millisecond (a
 * display redraws at most every ~0.1 s). To stop from another thread or a
 * signal handler, set a flag there and return #DCNN_PROGRESS_CANCEL when the
 * callback sees it: the fit stops after the current step. In a data-parallel
 * job (dcnn_trainer_set_communicator()) a cancel on any process stops every
 * process at the same point: the next step's loss all-reduce carries it (that
 * step is then not taken), or the epoch's end when no step follows.
 * @param progress The report (valid during the call only).
 * @param user The pointer given to dcnn_trainer_set_progress().
 * @return #DCNN_PROGRESS_CONTINUE, or #DCNN_PROGRESS_CANCEL to stop the fit
 *         (ignored at #DCNN_PROGRESS_FIT_END).
 */
typedef dcnn_progress_action (*dcnn_progress_fn)(const dcnn_progress *progress, void *user);

DCNN_END_DECLS

#endif /* DIGITCNN_PROGRESS_H */
/** @} */
