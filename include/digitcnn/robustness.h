/**
 * @file robustness.h
 * @brief Robustness: input perturbations (noise, blur, contrast, brightness,
 *        rotation, translation, occlusion, salt-and-pepper) at documented
 *        severities, L-infinity adversarial attacks (FGSM, PGD) driven by the
 *        model's own input gradients, and evaluation of a model under either.
 *
 * Every function here works on preprocessed input batches, (N, C, H, W)
 * tensors whose values lie in [0, 1] — what a pipeline without
 * standardisation (the paper's) produces. Outputs are clipped to [0, 1], so
 * a perturbed or adversarial batch is still a valid image batch. Inputs
 * more than 1e-4 outside [0, 1] (or NaN) are refused with
 * #DCNN_ERR_INVALID_ARGUMENT; values within that slack (the rounding of an
 * earlier resampling) are accepted and clipped with the rest, except by a
 * perturbation of severity 0 or an attack of epsilon 0, which return the
 * input as it is.
 *
 * Randomness (noise, directions, square positions, PGD's random start) comes
 * from counter-based streams of (seed, sample index), so results do not
 * depend on the batch size or on threads.
 *
 * Ownership: nothing is retained; tensors and models are borrowed for the
 * call. Thread-safety: perturbations are pure functions of their arguments
 * (any thread); attacks and evaluations run the model, so one thread at a
 * time per model.
 */
/** @addtogroup robustness
 * @{ */
#ifndef DIGITCNN_ROBUSTNESS_H
#define DIGITCNN_ROBUSTNESS_H

#include <stddef.h>
#include <stdint.h>

#include "data.h"
#include "export.h"
#include "metrics.h"
#include "model.h"
#include "status.h"
#include "tensor.h"
#include "trainer.h"

DCNN_BEGIN_DECLS

/**
 * @brief The perturbation suite. The severity's meaning is per kind; the
 *        standard levels (dcnn_perturbation_levels()) are listed with each.
 */
typedef enum dcnn_perturbation {
  /** Additive Gaussian noise; severity = standard deviation in pixel units
   *  (0.05, 0.1, 0.2, 0.3, 0.5). */
  DCNN_PERTURB_GAUSSIAN_NOISE = 0,
  /** Gaussian blur (separable, kernel radius ceil(3 sigma), edges replicated);
   *  severity = sigma in pixels (0.5, 1, 1.5, 2, 3). */
  DCNN_PERTURB_GAUSSIAN_BLUR = 1,
  /** Contrast scaled towards each image's mean: x' = m + c (x - m);
   *  severity = 1 - c (0.3, 0.5, 0.7, 0.8, 0.9). */
  DCNN_PERTURB_CONTRAST = 2,
  /** Brightness shift by +-severity (sign drawn per image) in pixel units
   *  (0.1, 0.2, 0.3, 0.4, 0.5). */
  DCNN_PERTURB_BRIGHTNESS = 3,
  /** Rotation about the centre by +-severity degrees (sign drawn per image),
   *  bilinear, edges replicated (10, 20, 30, 45, 60). */
  DCNN_PERTURB_ROTATION = 4,
  /** Translation by severity pixels in a direction drawn per image, bilinear,
   *  edges replicated (1, 2, 3, 4, 6). */
  DCNN_PERTURB_TRANSLATION = 5,
  /** Occlusion by a square of side severity pixels at a position drawn per
   *  image (inside the image), filled with a gray drawn per image
   *  (4, 8, 12, 16, 20). */
  DCNN_PERTURB_OCCLUSION = 6,
  /** Salt-and-pepper noise: a severity fraction of pixels (all channels of a
   *  pixel) set to 0 or 1 with equal odds (0.02, 0.05, 0.1, 0.2, 0.3). */
  DCNN_PERTURB_SALT_PEPPER = 7,
  DCNN_PERTURB_COUNT = 8 /**< Number of kinds this header knows (not a kind). A
                              later library may know more: ask it with
                              dcnn_perturbation_count(). */
} dcnn_perturbation;

/**
 * @brief The number of perturbation kinds this library knows (kinds are
 *        numbered 0 to the count - 1 and only ever appended). A program
 *        built against an older header may see more kinds than its
 *        #DCNN_PERTURB_COUNT; the name, unit and levels functions answer for
 *        each of them.
 * @return The count (8 in 0.2). Thread-safe.
 */
DCNN_API int32_t dcnn_perturbation_count(void);

/**
 * @brief The kind's name.
 * @param kind The perturbation.
 * @return "gaussian_noise", "gaussian_blur", ... (static storage), or "unknown".
 */
DCNN_API const char *dcnn_perturbation_name(dcnn_perturbation kind);

/**
 * @brief What the kind's severity measures.
 * @param kind The perturbation.
 * @return "sigma", "+- degrees", "pixels", ... (static storage), or "" for an unknown kind.
 */
DCNN_API const char *dcnn_perturbation_unit(dcnn_perturbation kind);

/**
 * @brief The kind's standard severities, mildest first.
 * @param kind The perturbation.
 * @param[out] levels Set to a static array (not to be freed).
 * @return The number of levels (5), or 0 for an unknown kind (@p levels then NULL).
 */
DCNN_API int32_t dcnn_perturbation_levels(dcnn_perturbation kind, const float **levels);

/**
 * @brief Perturbs a batch in place.
 *
 * Sample n draws its randomness from (@p seed, @p first_index + n), the sum
 * taken modulo 2^64 (any @p first_index >= 0 is valid), so a dataset
 * perturbed batch by batch gives the same images for any batch size.
 * Severity 0 leaves the batch unchanged.
 * @param batch (N, C, H, W) tensor, values in [0, 1]; modified.
 * @param kind The perturbation.
 * @param severity Its strength, >= 0 (the units of @p kind; occlusion a
 *        square whose side, rounded to whole pixels with halves away from
 *        zero, is at most the image's smaller side;
 *        salt-and-pepper, contrast and brightness at most 1, blur sigma at
 *        most 64 pixels, rotation at most 360 degrees).
 * @param seed Seed of the random draws.
 * @param first_index Index of the batch's first sample in its dataset (0 for a lone batch).
 * @return #DCNN_OK, or #DCNN_ERR_INVALID_ARGUMENT (unknown kind, severity
 *         out of range, values outside [0, 1]), #DCNN_ERR_SHAPE_MISMATCH
 *         (not a 4-D tensor) or #DCNN_ERR_OUT_OF_MEMORY (the scratch plane
 *         of blur, rotation and translation); the batch is unchanged on error.
 */
DCNN_API dcnn_status dcnn_perturb(dcnn_tensor *batch, dcnn_perturbation kind, float severity, uint64_t seed,
                                  int64_t first_index);

/** @brief Adversarial attack kinds (L-infinity). */
typedef enum dcnn_attack_kind {
  DCNN_ATTACK_FGSM = 0, /**< Fast gradient sign method: one step of size epsilon. */
  DCNN_ATTACK_PGD = 1   /**< Projected gradient descent: iterated signed steps, projected on the epsilon ball. */
} dcnn_attack_kind;

/**
 * @brief An attack's settings; make one with dcnn_attack_fgsm() or
 *        dcnn_attack_pgd() and change fields as needed.
 *
 * A struct that grows (docs/api-conventions.md): `dcnn_attack a =
 * DCNN_STRUCT_INIT(dcnn_attack); dcnn_attack_pgd(0.1f, &a);`. Functions that
 * take one read the fields its `struct_size` holds; fields added after it
 * take their defaults.
 */
typedef struct dcnn_attack {
  size_t struct_size;    /**< sizeof(dcnn_attack) as the caller was compiled; set by the caller. */
  dcnn_attack_kind kind; /**< FGSM or PGD. */
  float epsilon;         /**< L-infinity radius in pixel units (0 = no change). */
  float step;            /**< PGD step size (FGSM: unused, the step is epsilon). */
  int32_t iterations;    /**< PGD iterations, >= 1 (FGSM: unused, 1). */
  int32_t random_start;  /**< PGD: 1 starts from a uniform point of the ball, 0 from the input. */
  uint64_t seed;         /**< Seed of the random start. */
} dcnn_attack;

/**
 * @brief Fills @p out with FGSM settings (validated when used).
 * @param epsilon L-infinity radius in pixel units.
 * @param[in,out] out Its `struct_size` set by the caller (DCNN_STRUCT_INIT);
 *        receives the fields that size holds.
 * @return #DCNN_OK, or #DCNN_ERR_INVALID_ARGUMENT (@p out NULL, or its
 *         `struct_size` below the 0.2 layout).
 */
DCNN_API dcnn_status dcnn_attack_fgsm(float epsilon, dcnn_attack *out);

/**
 * @brief Fills @p out with PGD settings with the usual choices: 10 iterations
 *        of step epsilon / 4 from a random start (seed 1).
 * @param epsilon L-infinity radius in pixel units.
 * @param[in,out] out As for dcnn_attack_fgsm().
 * @return As dcnn_attack_fgsm().
 */
DCNN_API dcnn_status dcnn_attack_pgd(float epsilon, dcnn_attack *out);

/**
 * @brief Writes adversarial versions of @p input: the input moved within
 *        the L-infinity ball of radius epsilon (and [0, 1]) to raise the
 *        model's loss on @p labels, following the model's input gradients
 *        in inference mode. The model's weights and state are not changed.
 * @param model The attacked model.
 * @param attack The attack's settings (`struct_size` set, see ::dcnn_attack).
 * @param input (N, sample shape) batch, values in [0, 1].
 * @param labels N true class indices.
 * @param adversarial Tensor of @p input's shape, written (may be @p input itself).
 * @return #DCNN_OK; #DCNN_ERR_INVALID_ARGUMENT (bad settings or
 *         `struct_size`, values outside [0, 1], label out of range),
 *         #DCNN_ERR_UNSUPPORTED (a newer layout setting fields this library
 *         does not know), #DCNN_ERR_SHAPE_MISMATCH (also a model without
 *         (N, classes) scores), #DCNN_ERR_INVALID_STATE (a model without
 *         layers, or only a softmax), whatever the epsilon; with epsilon
 *         above 0 also an error of dcnn_model_input_gradient(). On error
 *         @p adversarial is unspecified (@p input, if distinct, is
 *         unchanged).
 */
DCNN_API dcnn_status dcnn_attack_run(dcnn_model *model, const dcnn_attack *attack, const dcnn_tensor *input,
                                     const int32_t *labels, dcnn_tensor *adversarial);

/**
 * @brief Evaluates @p model on @p data with every batch perturbed (after the
 *        pipeline's preprocessing, without augmentation), like dcnn_evaluate().
 * @param model The model.
 * @param data The dataset.
 * @param pipeline Its preprocessing, without standardisation (refused with
 *        #DCNN_ERR_INVALID_ARGUMENT: pixel sizes and clipping would be in
 *        standardised units).
 * @param batch_size Samples per batch (any: the perturbed images do not
 *        depend on it; the outputs may differ in their last bits between
 *        batch sizes, as dcnn_evaluate()'s do, since matrix products pick
 *        their kernel by shape).
 * @param kind The perturbation.
 * @param severity Its strength.
 * @param seed Seed of the random draws.
 * @param metrics Accumulator the outputs are added to (not reset).
 * @param[out] loss Mean cross-entropy; may be NULL.
 * @return #DCNN_OK or the first error.
 */
DCNN_API dcnn_status dcnn_evaluate_perturbed(dcnn_model *model, const dcnn_dataset *data, dcnn_pipeline *pipeline,
                                             int32_t batch_size, dcnn_perturbation kind, float severity, uint64_t seed,
                                             dcnn_metrics *metrics, double *loss);

/**
 * @brief Evaluates @p model on adversarial versions of @p data's samples
 *        (white-box: the attack uses the evaluated model's own gradients).
 * @param model The model.
 * @param data The dataset.
 * @param pipeline Its preprocessing, without standardisation (refused with
 *        #DCNN_ERR_INVALID_ARGUMENT: pixel sizes and clipping would be in
 *        standardised units).
 * @param batch_size Samples per batch.
 * @param attack The attack's settings (its seed is combined with each sample's index).
 * @param metrics Accumulator the outputs are added to (not reset).
 * @param[out] loss Mean cross-entropy; may be NULL.
 * @return #DCNN_OK or the first error.
 */
DCNN_API dcnn_status dcnn_evaluate_attacked(dcnn_model *model, const dcnn_dataset *data, dcnn_pipeline *pipeline,
                                            int32_t batch_size, const dcnn_attack *attack, dcnn_metrics *metrics,
                                            double *loss);

/**
 * @brief Adversarial training (off by default), plugged into the trainer as
 *        its batch hook (dcnn_trainer_set_batch_hook()): in every training
 *        batch a share @p ratio of the samples (the first ones of the
 *        shuffled, augmented batch; of the global batch in a job of several
 *        processes, dcnn_trainer_set_communicator()) is replaced by
 *        adversarial versions made with @p attack against the current
 *        weights, before the step.
 *
 * The attack runs in inference mode (batch-norm running statistics, no
 * dropout) and does not change the model; PGD's random start draws from the
 * attack's seed and the step count, so runs are reproducible and
 * checkpoints resume them exactly (the settings are the hook's checkpoint
 * state: resume a checkpoint trained this way into a trainer with
 * adversarial training set, any settings; they are replaced by the
 * checkpoint's). The training loss and accuracy an epoch reports are those
 * of the mixed batches. The pipeline must not standardise (attacks work on
 * [0, 1] pixels). Cost: FGSM adds about one forward and backward pass over
 * the attacked share per step, PGD @p iterations of them.
 * @param t The trainer.
 * @param attack The attack (copied), or NULL to turn adversarial training
 *        off (removes the trainer's batch hook, whichever it is).
 * @param ratio Share of each batch to replace, in (0, 1] (ignored when @p attack is NULL).
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT (settings as for
 *         dcnn_attack_run()), #DCNN_ERR_UNSUPPORTED (a newer layout setting
 *         fields this library does not know), #DCNN_ERR_OUT_OF_MEMORY.
 * Thread-safety: as the trainer.
 */
DCNN_API dcnn_status dcnn_trainer_set_adversarial(dcnn_trainer *t, const dcnn_attack *attack, double ratio);

DCNN_END_DECLS

#endif
/** @} */
