/**
 * @file recipe.h
 * @brief Named training configurations ("recipes", issue #19): the data
 *        pipeline, the paper-family model, the optimizer, schedule and
 *        trainer options and the evaluation, as one "key=value ..." text.
 *
 * `digitcnn-paper --recipe best` and the Python binding read the same table.
 * A recipe's text lists only what differs from the defaults (the paper's
 * protocol); every key, its default and range: dcnn_recipe_key() and
 * docs/recipes.md. In a text a later "key=value" overrides an earlier one, so
 * a caller may append its own settings to a recipe's.
 *
 * Ownership: the returned strings are static. Thread-safety: the table is
 * constant; the configure functions touch only the objects passed to them.
 */
/** @addtogroup training
 * @{ */
#ifndef DIGITCNN_RECIPE_H
#define DIGITCNN_RECIPE_H

#include <stdint.h>

#include "context.h"
#include "data.h"
#include "export.h"
#include "optimizer.h"
#include "status.h"
#include "trainer.h"
#include "zoo.h"

DCNN_BEGIN_DECLS

/**
 * @brief Number of named recipes.
 * @return The count (at least 3: "paper", "rgb-cosine", "best").
 */
DCNN_API int32_t dcnn_recipe_count(void);

/**
 * @brief Name of recipe @p index.
 * @param index 0 .. dcnn_recipe_count() - 1.
 * @return The name, or NULL out of range.
 */
DCNN_API const char *dcnn_recipe_name(int32_t index);

/**
 * @brief The settings text of a named recipe.
 * @param name A recipe name.
 * @return Its "key=value ..." text (possibly empty: all defaults), or NULL for an unknown name.
 */
DCNN_API const char *dcnn_recipe_settings(const char *name);

/**
 * @brief Number of named ensembles: recipes of several models, each trained
 *        by its own member recipe, whose softmax outputs are averaged
 *        (dcnn_evaluate_ensemble()).
 *
 * Ensembles have names of their own, distinct from every recipe name; they
 * have no settings text (dcnn_recipe_settings() gives NULL for them).
 * @return The count (at least 1: "best-and-rgb-cosine").
 */
DCNN_API int32_t dcnn_recipe_ensemble_count(void);

/**
 * @brief Name of ensemble @p index.
 * @param index 0 .. dcnn_recipe_ensemble_count() - 1.
 * @return The name, or NULL out of range.
 */
DCNN_API const char *dcnn_recipe_ensemble_name(int32_t index);

/**
 * @brief Member @p index of a named ensemble.
 * @param name An ensemble name.
 * @param index 0, 1, ...: the members in training order (at most #DCNN_ENSEMBLE_MAX_MEMBERS).
 * @return The member's recipe name (dcnn_recipe_settings() gives its text),
 *         or NULL past the last member or for a name that is not an ensemble.
 */
DCNN_API const char *dcnn_recipe_ensemble_member(const char *name, int32_t index);

/**
 * @brief Describes setting @p index (for listings and bindings).
 * @param index 0 .. (number of keys - 1).
 * @param[out] key Receives the key's name; may be NULL.
 * @param[out] fallback Receives its default; may be NULL.
 * @return 1 if @p index names a key, 0 past the last.
 */
DCNN_API int dcnn_recipe_key(int32_t index, const char **key, double *fallback);

/**
 * @brief Checks a settings text: every word "key=value" with a known key and
 *        a value in its range (docs/recipes.md).
 * @param settings The text.
 * @return #DCNN_OK, #DCNN_ERR_BAD_FORMAT (naming the word),
 *         #DCNN_ERR_INVALID_ARGUMENT (zoom_min above zoom_max with
 *         augmentation, a size the network's stages cannot halve, or min_lr
 *         above lr with a schedule).
 */
DCNN_API dcnn_status dcnn_recipe_check(const char *settings);

/**
 * @brief The value of one setting: its last occurrence in @p settings, else its default.
 *        "schedule" reads as 0 constant, 1 cosine, 2 warmup-cosine.
 * @param settings The text (checked as by dcnn_recipe_check()).
 * @param key The key.
 * @param[out] value The value; unchanged on failure.
 * @return #DCNN_OK, #DCNN_ERR_BAD_FORMAT, #DCNN_ERR_INVALID_ARGUMENT (unknown key).
 */
DCNN_API dcnn_status dcnn_recipe_value(const char *settings, const char *key, double *value);

/**
 * @brief Configures a pipeline: size, grayscale (rgb=0), the affine and colour
 *        augmentation and, with standardize=1, the per-channel standardisation
 *        measured on @p train (dcnn_pipeline_fit_standardization()).
 * @param settings The text.
 * @param p The pipeline.
 * @param train The training split (needed with standardize=1; else may be NULL).
 * @return #DCNN_OK, #DCNN_ERR_BAD_FORMAT, #DCNN_ERR_INVALID_ARGUMENT (also
 *         standardize=1 without @p train), or an error of measuring the
 *         standardisation (#DCNN_ERR_OUT_OF_MEMORY); on any error @p p is
 *         left as it was (the standardisation is measured first, on a
 *         pipeline of its own).
 */
DCNN_API dcnn_status dcnn_recipe_configure_pipeline(const char *settings, dcnn_pipeline *p, const dcnn_dataset *train);

/**
 * @brief Configures the paper CNN's options: input size and channels, width
 *        multiplier, extra blocks and stages, dropout, batch-norm momentum
 *        (seed and classes are left as they are).
 *
 * A struct whose @c struct_size predates @c extra_stages (a program built
 * against an earlier header) takes every recipe with extra_stages=0 and
 * gets #DCNN_ERR_INVALID_ARGUMENT for any other, with nothing written.
 * @param settings The text.
 * @param options Options initialised with #DCNN_ZOO_OPTIONS_INIT.
 * @return #DCNN_OK, #DCNN_ERR_BAD_FORMAT (a bad setting), #DCNN_ERR_INVALID_ARGUMENT
 *         (NULL options, a struct_size below the layout with extra_blocks, or
 *         extra_stages for a struct without it).
 */
DCNN_API dcnn_status dcnn_recipe_configure_zoo(const char *settings, dcnn_zoo_options *options);

/**
 * @brief Creates the recipe's optimizer with its learning rate "lr": by
 *        default ("optimizer=adam") Adam (beta 0.9, 0.999, epsilon 1e-7) with
 *        decoupled weight decay "weight_decay"; with "optimizer=sgd", SGD with
 *        Nesterov momentum "momentum" (plain SGD at momentum=0) and L2 weight
 *        decay "weight_decay".
 * @param ctx Context, or NULL.
 * @param settings The text.
 * @param[out] out The optimizer (owned by the caller).
 * @return #DCNN_OK, #DCNN_ERR_BAD_FORMAT, #DCNN_ERR_INVALID_ARGUMENT, #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_recipe_create_optimizer(dcnn_context *ctx, const char *settings, dcnn_optimizer **out);

/**
 * @brief Creates the recipe's learning-rate schedule over "epochs": NULL for
 *        schedule=constant, cosine to "min_lr", or "warmup" epochs of linear
 *        warm-up then cosine (cosine alone when "warmup" is not below
 *        "epochs", e.g. a one-epoch try of a recipe).
 * @param settings The text.
 * @param[out] out The schedule (owned by the caller), or NULL.
 * @return #DCNN_OK, #DCNN_ERR_BAD_FORMAT, #DCNN_ERR_INVALID_ARGUMENT, #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_recipe_create_schedule(const char *settings, dcnn_schedule **out);

/**
 * @brief Sets the trainer's options: epochs, batch size, augmentation, label
 *        smoothing, mixup, cutmix, the weight average's decay and whether the
 *        schedule acts per step.
 * @param settings The text.
 * @param t The trainer.
 * @return #DCNN_OK, #DCNN_ERR_BAD_FORMAT, #DCNN_ERR_INVALID_ARGUMENT.
 */
DCNN_API dcnn_status dcnn_recipe_configure_trainer(const char *settings, dcnn_trainer *t);

DCNN_END_DECLS

#endif /* DIGITCNN_RECIPE_H */
/** @} */
