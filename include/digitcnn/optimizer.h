/**
 * @file optimizer.h
 * @brief The training step, loss, optimizers and learning-rate schedules.
 *
 * The model (model.h) runs forward and backward; everything that turns
 * gradients into learning lives here: the loss, the optimizers, the step that
 * chains forward, loss, backward and update, and the schedules.
 *
 * Ownership: the caller owns optimizers and schedules. An optimizer binds to
 * the model of its first step and keeps its state (momenta) for that model.
 * Thread-safety: one thread at a time per object.
 */
/** @addtogroup training
 * @{ */
#ifndef DIGITCNN_OPTIMIZER_H
#define DIGITCNN_OPTIMIZER_H

#include <stdint.h>

#include "context.h"
#include "export.h"
#include "model.h"
#include "status.h"
#include "tensor.h"

DCNN_BEGIN_DECLS

/** @brief Opaque optimizer handle. */
typedef struct dcnn_optimizer dcnn_optimizer;

/**
 * @brief Softmax cross-entropy of (N, K) logits, computed stably.
 *
 * loss = mean_n(logsumexp(z_n) - z_n[y_n]); grad = (softmax(z) - onehot(y)) / N.
 * @param logits (N, K) scores.
 * @param labels N labels in [0, K).
 * @param probs (N, K) tensor for the softmax probabilities, or NULL.
 * @param grad (N, K) tensor for the gradient with respect to the logits, or NULL.
 * @param[out] loss The mean loss (not NULL).
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT (label out of range, named),
 *         #DCNN_ERR_SHAPE_MISMATCH, #DCNN_ERR_NUMERIC (non-finite logits, or finite ones
 *         so far apart that the loss is beyond float's range; nothing written).
 */
DCNN_API dcnn_status dcnn_softmax_cross_entropy(const dcnn_tensor *logits, const int32_t *labels, dcnn_tensor *probs,
                                                dcnn_tensor *grad, float *loss);

/**
 * @brief Softmax cross-entropy against label-smoothed targets
 *        t = (1 - e) onehot(y) + e / K (Szegedy et al.), which keeps a
 *        model from driving its logits apart without bound.
 *
 * loss = mean_n(logsumexp(z_n) - sum_j t_nj z_nj); grad = (softmax(z) - t) / N.
 * With e = 0 it is dcnn_softmax_cross_entropy(), bit for bit. Note that the
 * loss of a perfect model is no longer 0 but the entropy of t.
 * @param logits (N, K) scores.
 * @param labels N labels in [0, K).
 * @param label_smoothing e in [0, 1).
 * @param probs (N, K) tensor for the softmax probabilities, or NULL.
 * @param grad (N, K) tensor for the gradient with respect to the logits, or NULL.
 * @param[out] loss The mean loss (not NULL).
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT (label out of range, named;
 *         smoothing outside [0, 1)), #DCNN_ERR_SHAPE_MISMATCH,
 *         #DCNN_ERR_NUMERIC (non-finite logits, or finite ones
 *         so far apart that the loss is beyond float's range; nothing written).
 * @note Thread-safe for distinct output tensors; allocates nothing.
 */
DCNN_API dcnn_status dcnn_softmax_cross_entropy_smoothed(const dcnn_tensor *logits, const int32_t *labels,
                                                         float label_smoothing, dcnn_tensor *probs,
                                                         dcnn_tensor *grad, float *loss);

/**
 * @brief Softmax cross-entropy against soft targets (mixup, cutmix, or any
 *        distribution over the classes).
 *
 * loss = mean_n(logsumexp(z_n) - sum_j t_nj z_nj); grad = (softmax(z) - t) / N.
 * Each row of @p targets must be a distribution (entries >= 0 summing to 1
 * within 1e-4); with one-hot rows it equals dcnn_softmax_cross_entropy() up to
 * rounding.
 * @param logits (N, K) scores.
 * @param targets (N, K) target probabilities, row-major.
 * @param probs (N, K) tensor for the softmax probabilities, or NULL.
 * @param grad (N, K) tensor for the gradient with respect to the logits, or NULL.
 * @param[out] loss The mean loss (not NULL).
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT (a row that is not a
 *         distribution, named), #DCNN_ERR_SHAPE_MISMATCH, #DCNN_ERR_NUMERIC
 *         (non-finite logits, or a loss beyond float's range; nothing written).
 * @note Thread-safe for distinct output tensors; allocates nothing.
 */
DCNN_API dcnn_status dcnn_softmax_cross_entropy_soft(const dcnn_tensor *logits, const float *targets,
                                                     dcnn_tensor *probs, dcnn_tensor *grad, float *loss);

/** @brief The momentum of dcnn_optimizer_create_sgd(). Numbers are stable (ABI). */
typedef enum dcnn_momentum_kind {
  DCNN_MOMENTUM_CLASSIC = 0, /**< Heavy ball: w -= lr * v. */
  DCNN_MOMENTUM_NESTEROV = 1 /**< Nesterov: w -= lr * (g + momentum * v). */
} dcnn_momentum_kind;

/** @brief Which way a monitored metric improves. Numbers are stable (ABI). */
typedef enum dcnn_metric_goal {
  DCNN_GOAL_MINIMIZE = 0, /**< Smaller is better (loss). */
  DCNN_GOAL_MAXIMIZE = 1  /**< Larger is better (accuracy). */
} dcnn_metric_goal;

/**
 * @brief Mean loss above which dcnn_model_train_step() treats training as
 *        diverged. Softmax cross-entropy of an untrained K-class model is
 *        about ln K; a loss of a million means logits a million apart, which
 *        no learning model produces.
 */
#define DCNN_LOSS_DIVERGED 1e6

/**
 * @brief One training step: dcnn_model_forward() in training mode, softmax
 *        cross-entropy loss (fused with a final softmax layer),
 *        dcnn_model_backward(), optimizer update; then the model's step
 *        count advances.
 * @param model The model; its output must be (K) class scores.
 * @param optimizer The optimizer (bound to this model at its first step).
 * @param input (N, sample shape...) tensor.
 * @param labels N class indices in [0, K).
 * @param[out] loss Mean loss over the batch before the update; may be NULL.
 * @param[out] correct Samples whose highest score was the label; may be NULL.
 * @return #DCNN_OK; #DCNN_ERR_INVALID_ARGUMENT (label out of range, named);
 *         #DCNN_ERR_SHAPE_MISMATCH; #DCNN_ERR_NUMERIC when the loss is not
 *         finite or above #DCNN_LOSS_DIVERGED, or when the update would make
 *         a weight or an optimizer moment infinite or NaN (the message names
 *         the parameter). After #DCNN_ERR_NUMERIC the weights and the
 *         optimizer's state are bit-identical to before the step. Also
 *         #DCNN_ERR_INVALID_STATE (inference sessions of the model are alive;
 *         the optimizer is bound to another model, or the model's parameters
 *         changed since its first step: dcnn_optimizer_reset(); a model
 *         without layers), #DCNN_ERR_UNSUPPORTED (a layer without a backward
 *         pass), #DCNN_ERR_OUT_OF_MEMORY (planning, binding), or an error
 *         from a layer.
 *         Thread-safety: one model and optimizer per thread at a time.
 *         Allocates nothing once the model is planned for the batch and the
 *         optimizer bound.
 */
DCNN_API dcnn_status dcnn_model_train_step(dcnn_model *model, dcnn_optimizer *optimizer, const dcnn_tensor *input,
                                           const int32_t *labels, float *loss, int32_t *correct);

/**
 * @brief Gradient of the mean softmax cross-entropy loss with respect to the
 *        input batch, in inference mode; the weights are not changed (the
 *        parameter gradients are overwritten). Attacks (robustness.h) use it.
 * @param model The model.
 * @param input (N, sample shape...) tensor.
 * @param labels N class indices.
 * @param grad_input Tensor of @p input's shape, written.
 * @param[out] loss Mean loss; may be NULL.
 * @return #DCNN_OK or an error as for dcnn_model_train_step(), also
 *         #DCNN_ERR_NUMERIC when an element of the input gradient is not
 *         finite (weights too large for float).
 */
DCNN_API dcnn_status dcnn_model_input_gradient(dcnn_model *model, const dcnn_tensor *input, const int32_t *labels,
                                               dcnn_tensor *grad_input, float *loss);

/**
 * @brief Stochastic gradient descent with momentum.
 *
 * v = momentum * v + g (+ weight_decay * w for parameters without
 * #DCNN_PARAM_NO_DECAY); w -= lr * v, or with Nesterov w -= lr * (g + momentum * v).
 * @param ctx Context, or NULL.
 * @param learning_rate > 0.
 * @param momentum In [0, 1).
 * @param kind #DCNN_MOMENTUM_CLASSIC or #DCNN_MOMENTUM_NESTEROV.
 * @param weight_decay >= 0 (L2, added to the gradient).
 * @param[out] out The optimizer.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT, #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_optimizer_create_sgd(dcnn_context *ctx, float learning_rate, float momentum,
                                               dcnn_momentum_kind kind, float weight_decay, dcnn_optimizer **out);

/**
 * @brief Adam (Kingma & Ba) with Keras' defaults (1e-3, 0.9, 0.999, 1e-7);
 *        weight decay, if any, is decoupled (AdamW): w -= lr * wd * w.
 *
 * The step is Keras' and TensorFlow's form, w -= lr_t m / (sqrt(v) + eps)
 * with lr_t = lr sqrt(1 - beta2^t) / (1 - beta1^t): epsilon is added to
 * sqrt(v) before the bias correction. PyTorch's Adam adds it after, so its
 * eps equals this eps / sqrt(1 - beta2^t) (at the default 1e-7 the two
 * differ by about 1e-5 of a step).
 * @param ctx Context, or NULL.
 * @param learning_rate > 0.
 * @param beta1 In [0, 1).
 * @param beta2 In [0, 1).
 * @param epsilon > 0.
 * @param weight_decay >= 0.
 * @param[out] out The optimizer.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT, #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_optimizer_create_adam(dcnn_context *ctx, float learning_rate, float beta1, float beta2,
                                                float epsilon, float weight_decay, dcnn_optimizer **out);

/**
 * @brief Destroys an optimizer. NULL is allowed.
 * @param optimizer The optimizer.
 */
DCNN_API void dcnn_optimizer_destroy(dcnn_optimizer *optimizer);

/**
 * @brief Sets the learning rate.
 *
 * A trainer with a schedule (dcnn_trainer_set_schedule()) sets the schedule's
 * rate itself before each epoch (or step), 0 included: a cosine decaying to a
 * minimum of 0 or a step decay that underflows then trains on with steps that
 * leave the weights unchanged (the moments still follow the gradients).
 * @param optimizer The optimizer.
 * @param learning_rate > 0 and finite.
 * @return #DCNN_OK or #DCNN_ERR_INVALID_ARGUMENT.
 */
DCNN_API dcnn_status dcnn_optimizer_set_learning_rate(dcnn_optimizer *optimizer, float learning_rate);

/**
 * @brief The current learning rate.
 * @param optimizer The optimizer (not NULL).
 * @return The rate.
 */
DCNN_API float dcnn_optimizer_learning_rate(const dcnn_optimizer *optimizer);

/**
 * @brief Applies one update to @p model's trainable parameters from their
 *        gradients (dcnn_model_train_step() calls it).
 * @param optimizer The optimizer; binds to @p model on first use.
 * @param model The model whose gradients were just computed.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_STATE (bound to another model),
 *         #DCNN_ERR_OUT_OF_MEMORY (first use, and the first step after layers
 *         were added or a checkpoint was resumed), #DCNN_ERR_NUMERIC when
 *         any new weight or moment would be infinite or NaN (a non-finite
 *         gradient or a too large learning rate), or when a buffer (batch-norm
 *         running statistics) is: then the weights, the optimizer's moments
 *         and its step count are unchanged and the message names the
 *         parameter. Buffers updated by your own forward pass before this
 *         call are not restored (dcnn_model_train_step() does restore them).
 * @note Not thread-safe for one optimizer or one model. The optimizer keeps
 *       the model's parameter list between steps (no allocation after the
 *       first, until layers are added or a checkpoint resumed) and looks again when layers were added: a model whose
 *       parameters changed is refused with #DCNN_ERR_INVALID_STATE.
 */
DCNN_API dcnn_status dcnn_optimizer_step(dcnn_optimizer *optimizer, dcnn_model *model);

/**
 * @brief Forgets the optimizer's state (momenta, step count) and its model.
 * @param optimizer The optimizer.
 * @return #DCNN_OK or #DCNN_ERR_INVALID_ARGUMENT.
 */
DCNN_API dcnn_status dcnn_optimizer_reset(dcnn_optimizer *optimizer);

/** @brief Opaque learning-rate schedule. */
typedef struct dcnn_schedule dcnn_schedule;

/**
 * @brief Step decay: lr * gamma^floor(epoch / step_epochs).
 * @param learning_rate Initial rate, > 0.
 * @param step_epochs >= 1.
 * @param gamma In (0, 1].
 * @param[out] out The schedule.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT, #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_schedule_create_step(float learning_rate, int32_t step_epochs, float gamma,
                                               dcnn_schedule **out);

/**
 * @brief Cosine decay from lr to min_lr over total_epochs:
 *        min + (lr - min) (1 + cos(pi epoch / total)) / 2.
 * @param learning_rate Initial rate, > 0.
 * @param total_epochs >= 1.
 * @param min_learning_rate In [0, learning_rate].
 * @param[out] out The schedule.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT, #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_schedule_create_cosine(float learning_rate, int32_t total_epochs, float min_learning_rate,
                                                 dcnn_schedule **out);

/**
 * @brief Linear warm-up, then cosine decay: for epoch e < W the rate is
 *        lr * (e + 1) / W; from epoch W on it is the cosine decay from lr to
 *        min_lr over the remaining total - W epochs,
 *        min + (lr - min) (1 + cos(pi (e - W) / (total - W))) / 2, and min_lr
 *        after epoch total. Warm-up keeps large early updates (fresh
 *        batch-norm statistics, Adam's first moments) from throwing deep
 *        models off at the start. Per epoch, W = 1 is no warm-up (epoch 0
 *        runs at lr): ramp within the epoch with the trainer's
 *        DCNN_TRAIN_SCHEDULE_PER_STEP (dcnn_schedule_rate_at()).
 * @param learning_rate Peak rate, > 0.
 * @param warmup_epochs W >= 1.
 * @param total_epochs > W.
 * @param min_learning_rate In [0, learning_rate].
 * @param[out] out The schedule; the caller owns it (dcnn_schedule_destroy()).
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT (the message names the
 *         argument), #DCNN_ERR_OUT_OF_MEMORY.
 * @note Thread-safe (creates a new object). Trainer checkpoints record it
 *       (schedule kind 4) and resume only into a trainer with the same kind.
 */
DCNN_API dcnn_status dcnn_schedule_create_warmup_cosine(float learning_rate, int32_t warmup_epochs,
                                                        int32_t total_epochs, float min_learning_rate,
                                                        dcnn_schedule **out);

/**
 * @brief Reduce on plateau: multiplies the rate by @p factor when the
 *        observed metric has not improved for @p patience epochs.
 * @param learning_rate Initial rate, > 0.
 * @param factor In (0, 1).
 * @param patience >= 0 epochs without improvement before a reduction.
 * @param min_learning_rate Floor, in [0, learning_rate]: the rate never rises.
 * @param goal #DCNN_GOAL_MAXIMIZE if larger metric values are better
 *        (accuracy), #DCNN_GOAL_MINIMIZE if smaller are (loss). A trainer
 *        feeds it the metric it monitors (DCNN_TRAIN_MONITOR_LOSS: accuracy
 *        by default) and refuses a fit whose schedule has the other goal.
 * @param[out] out The schedule.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT (the message names the
 *         argument), #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_schedule_create_plateau(float learning_rate, float factor, int32_t patience,
                                                  float min_learning_rate, dcnn_metric_goal goal, dcnn_schedule **out);

/**
 * @brief Destroys a schedule. NULL is allowed.
 * @param schedule The schedule.
 */
DCNN_API void dcnn_schedule_destroy(dcnn_schedule *schedule);

/**
 * @brief Learning rate for epoch @p epoch (0-based).
 * @param schedule The schedule (not NULL).
 * @param epoch >= 0; plateau schedules ignore it and return their current rate.
 * @return The rate.
 */
DCNN_API float dcnn_schedule_rate(const dcnn_schedule *schedule, int32_t epoch);

/**
 * @brief Learning rate at a position inside training, in epochs: step i
 *        (0-based) of S steps in epoch e (0-based) is at e + (i + 0.5) / S.
 *        Cosine: min + (lr - min) (1 + cos(pi p / total)) / 2 with p clamped
 *        to [0, total]. Warm-up + cosine: lr * p / W while p < W, then the
 *        cosine decay over p - W. Step: the rate of epoch ceil(p) - 1.
 *        Plateau: its current rate. dcnn_schedule_rate(s, e) equals
 *        dcnn_schedule_rate_at(s, e) for cosine and dcnn_schedule_rate_at(s,
 *        e + 1) for step schedules.
 * @param schedule The schedule (not NULL).
 * @param position Epochs of training at the middle of the step, > 0 (0,
 *        below and NaN are taken as a tiny positive position). The middle
 *        keeps a warm-up's first step and a decay to 0's last one off 0.
 * @return The rate; 0 for a NULL schedule.
 * @note Thread-safe (reads the schedule).
 */
DCNN_API float dcnn_schedule_rate_at(const dcnn_schedule *schedule, double position);

/**
 * @brief Reports the validation metric at the end of an epoch (used by plateau
 *        schedules; the others ignore it).
 * @param schedule The schedule.
 * @param metric The metric; NaN is rejected.
 * @return #DCNN_OK or #DCNN_ERR_INVALID_ARGUMENT.
 */
DCNN_API dcnn_status dcnn_schedule_observe(dcnn_schedule *schedule, float metric);

DCNN_END_DECLS

#endif /* DIGITCNN_OPTIMIZER_H */
/** @} */
