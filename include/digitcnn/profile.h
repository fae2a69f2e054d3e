/**
 * @file profile.h
 * @brief Per-layer timings of training steps and predictions.
 *
 * A profile is an accumulator made for one model. Attached to it with
 * dcnn_model_set_profile(), it records, for each layer and pass, the wall
 * time (CLOCK_MONOTONIC), the number of calls and an estimate of the
 * floating-point operations, and the phases of a training step that are not
 * layers (loss, optimizer update, and the data pipeline and data-parallel
 * all-reduces when the model is trained by a ::dcnn_trainer):
 *
 * @code{.c}
 * dcnn_profile *p = NULL;
 * dcnn_status st = dcnn_profile_create(model, &p);
 * if (st == DCNN_OK) st = dcnn_model_set_profile(model, p);
 * for (int i = 0; st == DCNN_OK && i < 10; ++i) st = dcnn_model_train_step(model, opt, x, labels, NULL, NULL);
 * char *table = NULL;
 * if (st == DCNN_OK) st = dcnn_profile_format(p, 100.0, &table);  // 100 GFLOPS: the machine's GEMM ceiling
 * dcnn_free(table);
 * dcnn_model_set_profile(model, NULL);
 * dcnn_profile_destroy(p);
 * @endcode
 *
 * What is recorded:
 * - dcnn_model_train_step() and dcnn_model_input_gradient(): each layer's
 *   forward (#DCNN_PROFILE_FORWARD) and backward (#DCNN_PROFILE_BACKWARD: one
 *   entry for the data and weight gradients together, which the layers compute
 *   in one call; for convolutions and dense layers its @c weight_seconds
 *   tells the weight-gradient part), the loss (#DCNN_PROFILE_LOSS, with the accuracy count) and,
 *   for a training step, the optimizer (#DCNN_PROFILE_UPDATE: copying the
 *   buffers a refused step restores, and the update).
 * - dcnn_model_predict(): each layer's forward as #DCNN_PROFILE_INFERENCE.
 *   Sessions made with dcnn_session_create() are not recorded (they run in
 *   other threads).
 * - dcnn_trainer_fit(): the time spent waiting for the next batch (decoding,
 *   augmentation, preprocessing) as #DCNN_PROFILE_DATA. Its validation runs
 *   through dcnn_model_predict() and lands in the inference entries.
 * - Data-parallel training (dcnn_trainer_set_communicator()): the loss and
 *   gradient all-reduces of each step as #DCNN_PROFILE_COMM ("allreduce"),
 *   one call per step; synchronised batch norm's small all-reduces stay in
 *   their layer's forward and backward entries. Gradient buckets started
 *   during the backward pass (dcnn_communicator::allreduce_start) count
 *   the time spent packing, starting and polling them between layers and
 *   waiting for them after the pass: the part the pass did not hide.
 *
 * FLOPs are estimates: 2 per multiply-add of the layer's forward pass (the
 * summary's count) times the batch; a backward pass counts twice its forward
 * (data gradient plus weight gradient, each about one forward for convolutions
 * and dense layers; a rough figure for the others), except a first layer's
 * in a training step, which has no data gradient to compute and counts once.
 * Non-layer phases count 0.
 *
 * Cost: with no profile attached, one branch per layer call and nothing else;
 * attached, two clock reads per layer call and no allocation.
 *
 * Thread-safety: a profile is written by the calls on its model, so it
 * follows the model's rule (one thread at a time); read it between calls.
 */
/** @addtogroup models
 * @{ */
#ifndef DIGITCNN_PROFILE_H
#define DIGITCNN_PROFILE_H

#include <stddef.h>
#include <stdint.h>

#include "context.h"
#include "export.h"
#include "model.h"
#include "status.h"

DCNN_BEGIN_DECLS

/** @brief Opaque per-layer timing accumulator of one model. */
typedef struct dcnn_profile dcnn_profile;

/** @brief What an entry of a profile measures. */
typedef enum dcnn_profile_pass {
  DCNN_PROFILE_FORWARD = 0,   /**< A layer's forward pass in training or input gradients. */
  DCNN_PROFILE_BACKWARD = 1,  /**< A layer's backward pass (data and weight gradients together). */
  DCNN_PROFILE_INFERENCE = 2, /**< A layer's forward pass in dcnn_model_predict(). */
  DCNN_PROFILE_LOSS = 3,      /**< Softmax cross-entropy, its gradient and the accuracy count. */
  DCNN_PROFILE_UPDATE = 4,    /**< The optimizer's part of a training step. */
  DCNN_PROFILE_DATA = 5,      /**< Waiting for the next batch in dcnn_trainer_fit() (pipeline, augmentation). */
  DCNN_PROFILE_COMM = 6       /**< Data-parallel training: the step's loss and gradient all-reduces (one call per step). */
} dcnn_profile_pass;

/** @brief One row of a profile. A struct that grows (docs/api-conventions.md):
 *         set `struct_size` before dcnn_profile_entry_get() fills it. */
typedef struct dcnn_profile_entry {
  size_t struct_size;     /**< sizeof(dcnn_profile_entry) as the caller was compiled; set by the caller. */
  int32_t layer;          /**< Layer index in the model; -1 for the non-layer phases. */
  const char *type_name;  /**< The layer's type ("conv2d"), or the phase ("loss", "optimizer", "data", "allreduce");
                               borrowed from the model or static. */
  dcnn_profile_pass pass; /**< What is measured. */
  int64_t calls;          /**< Calls recorded since creation or the last reset. */
  double seconds;         /**< Their total wall time. */
  double flops;           /**< Their estimated floating-point operations (see the file comment). */
  const char *algorithm;  /**< The layer's algorithm when the entry was read (dcnn_layer_algorithm():
                               "winograd_4x4", ...), "" for layers with one algorithm, residual
                               blocks and the phases; static. */
  double weight_seconds;  /**< Backward entries of layers that compute the weight gradient apart from
                               the data gradient (conv2d, dense, and residual blocks through theirs):
                               the part of @c seconds spent on weight gradients (where a conv2d
                               interleaves the two per image group, its wall time shared out as its
                               threads' time was); the rest is the data gradient and whatever else
                               the layer does. -1 for every other entry (appended after 0.2's first
                               layout: a caller whose struct_size ends before it does not get it). */
} dcnn_profile_entry;

/**
 * @brief Creates an empty profile for @p model's current layers.
 *
 * Entries for every layer and pass are allocated here (through the model's
 * context), so that recording never allocates. Layers added to the model later
 * are not covered: dcnn_model_set_profile() then refuses the profile.
 *
 * @param model The model to profile (only read; it must outlive the profile's use).
 * @param out   Receives the profile, which the caller frees with
 *              dcnn_profile_destroy(); set to NULL on failure.
 * @return #DCNN_ERR_INVALID_ARGUMENT for NULL arguments, #DCNN_ERR_INVALID_STATE
 *         for a model without layers, #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_profile_create(const dcnn_model *model, dcnn_profile **out);

/**
 * @brief Frees a profile. Detach it from its model first.
 * @param profile The profile, or NULL (nothing happens).
 */
DCNN_API void dcnn_profile_destroy(dcnn_profile *profile);

/**
 * @brief Attaches @p profile to @p model (NULL detaches), replacing any profile attached before.
 *
 * The model borrows the profile: keep it alive while attached.
 * @param model   The model the profile was created for.
 * @param profile The profile to record into, or NULL to stop recording.
 * @return #DCNN_ERR_INVALID_ARGUMENT for a NULL model or a profile made for
 *         another model; #DCNN_ERR_INVALID_STATE when layers were added to the
 *         model after the profile was created. The attached profile is unchanged on error.
 */
DCNN_API dcnn_status dcnn_model_set_profile(dcnn_model *model, dcnn_profile *profile);

/**
 * @brief Number of entries: the layers × 3 passes, plus 4 phases (loss, optimizer, data,
 *        allreduce); entries without calls included.
 * @param profile The profile, or NULL.
 * @return The count; 0 for NULL.
 */
DCNN_API int32_t dcnn_profile_count(const dcnn_profile *profile);

/**
 * @brief Copies entry @p index (0 to dcnn_profile_count() - 1) into @p out.
 *
 * Layer entries come first, by layer then pass (forward, backward, inference),
 * then the loss, optimizer, data and allreduce phases.
 * @param profile The profile.
 * @param index   The entry.
 * @param out     Its `struct_size` set by the caller (DCNN_STRUCT_INIT); receives a copy of
 *                the fields that size holds; its type_name is borrowed from the model (or
 *                static), its algorithm is static.
 * @return #DCNN_ERR_INVALID_ARGUMENT for NULL arguments, an index out of range or a
 *         `struct_size` below the 0.2 layout.
 */
DCNN_API dcnn_status dcnn_profile_entry_get(const dcnn_profile *profile, int32_t index, dcnn_profile_entry *out);

/**
 * @brief Sets every entry's calls, seconds and FLOPs to 0.
 * @param profile The profile, or NULL (nothing happens).
 */
DCNN_API void dcnn_profile_reset(dcnn_profile *profile);

/**
 * @brief Formats the entries that have calls as a text table.
 *
 * One line per layer and pass, then the phases, then totals for training and
 * inference: layer, type, pass, calls, milliseconds per call, GFLOPS and the
 * percentage of @p gemm_gflops (the machine's measured SGEMM rate, the
 * ceiling; 0 or less leaves the column out), the share of the total time and
 * the algorithm (for a residual block, its convolutions': body names joined by
 * '+', then '|' and the shortcut's).
 *
 * @param profile     The profile.
 * @param gemm_gflops The ceiling in GFLOPS (dcnn_gemm_gflops()), or 0 for none.
 * @param text Receives a NUL-terminated string the caller frees with
 *             dcnn_free(); set to NULL on failure.
 * @return #DCNN_ERR_INVALID_ARGUMENT for NULL arguments, #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_profile_format(const dcnn_profile *profile, double gemm_gflops, char **text);

/**
 * @brief Measures the machine's GEMM rate, the ceiling a profile's GFLOPS are compared with.
 *
 * Multiplies two random @p n × @p n matrices through the library's own GEMM
 * (OpenBLAS single-threaded in each thread, the product split by columns
 * between @p threads threads, as the layers do): once to warm up, then three
 * timed times, keeping the fastest. 2 n³ FLOPs per product. Takes about
 * 3 × 4 n² bytes through the context's allocator and, for n = 2048, a few
 * seconds.
 *
 * @param ctx     Context (NULL: the default one): allocator and thread count.
 * @param n       Matrix side, 16 to 8192.
 * @param threads 1 to the context's thread count, or 0 for the context's.
 * @param gflops  Receives the rate in 10^9 FLOP/s; 0 on failure.
 * @return #DCNN_ERR_INVALID_ARGUMENT for a NULL @p gflops or a value out of
 *         range, #DCNN_ERR_OUT_OF_MEMORY.
 * @par Thread-safety
 *   Safe to call from any thread; timings are disturbed by concurrent work.
 */
DCNN_API dcnn_status dcnn_gemm_gflops(dcnn_context *ctx, int32_t n, int32_t threads, double *gflops);

DCNN_END_DECLS

#endif /* DIGITCNN_PROFILE_H */
/** @} */
