/* Private state of optimizers, schedules and trainers, shared with the
 * checkpoint code that saves and restores it. */
#ifndef DCNN_TRAIN_INTERNAL_H
#define DCNN_TRAIN_INTERNAL_H

#include <stdio.h>

#include "../io/bytes.h"
#include "../model/model_internal.h"
#include "../robustness/robustness_internal.h"
#include "digitcnn/train.h"
#include "digitcnn/trainer.h"

typedef enum optimizer_kind { OPTIMIZER_SGD, OPTIMIZER_ADAM } optimizer_kind;

struct dcnn_optimizer {
  dcnn_context *ctx;
  optimizer_kind kind;
  float learning_rate, momentum, beta1, beta2, epsilon, weight_decay;
  int nesterov;
  const dcnn_model *model; /* bound at the first step */
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

/* Allocates the optimizer's per-parameter state for `m` and binds to it
 * (`o` must be unbound: its fields are overwritten). */
dcnn_status dcnn__optimizer_bind(dcnn_optimizer *o, dcnn_model *m);
/* Frees the per-parameter state and unbinds. */
void dcnn__optimizer_release(dcnn_optimizer *o);

typedef enum schedule_kind { SCHEDULE_STEP, SCHEDULE_COSINE, SCHEDULE_PLATEAU } schedule_kind;

struct dcnn_schedule {
  schedule_kind kind;
  float base, minimum, factor;
  int32_t period; /* step: epochs per decay; cosine: total epochs; plateau: patience */
  int maximize;
  /* plateau state */
  float current, best;
  int32_t since_best;
  int seen;
};

#define TRAIN_OPTIONS 9
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
  char checkpoint_dir[4000]; /* "" when off */
  /* adversarial training (off when ratio is 0) */
  dcnn_attack attack;
  double adversarial_ratio;
  dcnn_attack_workspace attack_workspace;
};

/* Changes a preprocessed batch before it is evaluated (perturbations,
 * attacks); `first_index` is the dataset index of its first sample. */
typedef dcnn_status (*dcnn_batch_transform)(dcnn_tensor *batch, const int32_t *labels, int64_t first_index,
                                             void *user);

/* dcnn_evaluate with every batch passed through `transform` (NULL: none) first. */
dcnn_status dcnn__evaluate_transformed(dcnn_model *model, const dcnn_dataset *ds, dcnn_pipeline *pipeline,
                                       int32_t batch_size, dcnn_batch_transform transform, void *user,
                                       dcnn_metrics *metrics, double *loss);

/* Training state (model counters, trainer, optimizer, schedule) as the STAT
 * section of a checkpoint, and back. */
void dcnn__trainer_write_state(const dcnn_trainer *t, dcnn_bytes *out);
dcnn_status dcnn__trainer_read_state(dcnn_trainer *t, const char *name, const dcnn_bytes *state);

#endif
