/**
 * @file data.h
 * @brief Datasets, loaders (MNIST-M, image lists, IDX), preprocessing,
 *        augmentation and batching.
 *
 * A ::dcnn_dataset holds N images of one size (uint8, height x width x
 * channels, row-major, channels last) with integer labels in [0, classes).
 * Subsets and splits are views that share the images; they stay valid after
 * the dataset they came from is destroyed (the pixels are reference-counted).
 *
 * A ::dcnn_pipeline turns images into float NCHW tensors: resize (bilinear,
 * antialiased when shrinking), optional grayscale (ITU-R BT.601 luma), scaling
 * to [0, 1], optional per-channel standardisation, and, for training, random
 * augmentation (rotation, translation, zoom as one affine warp per sample).
 * Augmentation numbers are drawn from (seed, epoch, sample index), so batches
 * do not depend on the thread count or on the batch a sample lands in.
 *
 * Thread-safety: datasets are immutable after loading and may be read from
 * several threads. A pipeline or batcher is used by one thread at a time.
 */
/** @addtogroup data
 * @{ */
#ifndef DIGITCNN_DATA_H
#define DIGITCNN_DATA_H

#include <stdint.h>

#include "context.h"
#include "export.h"
#include "status.h"
#include "tensor.h"

DCNN_BEGIN_DECLS

/** @brief Opaque dataset handle (images and labels). */
typedef struct dcnn_dataset dcnn_dataset;

/** @brief Which split of MNIST-M dcnn_dataset_load_mnist_m() loads. Numbers are stable (ABI). */
typedef enum dcnn_mnist_m_split {
  DCNN_MNIST_M_TEST = 0, /**< `mnist_m_test/` and `mnist_m_test_labels.txt` (9,001 images). */
  DCNN_MNIST_M_TRAIN = 1 /**< `mnist_m_train/` and `mnist_m_train_labels.txt` (59,001 images). */
} dcnn_mnist_m_split;

/** @brief How dcnn_dataset_split() picks the split-off samples. Numbers are stable (ABI). */
typedef enum dcnn_split_strategy {
  DCNN_SPLIT_RANDOM = 0,    /**< A random share of the whole dataset. */
  DCNN_SPLIT_STRATIFIED = 1 /**< The same share of every class. */
} dcnn_split_strategy;

/** @brief Whether dcnn_pipeline_batch() applies the augmentation. Numbers are stable (ABI). */
typedef enum dcnn_augmentation {
  DCNN_AUGMENT_OFF = 0, /**< Preprocessing only (evaluation, inference). */
  DCNN_AUGMENT_ON = 1   /**< Preprocessing, then the pipeline's random augmentation. */
} dcnn_augmentation;

/**
 * @brief Loads one split of MNIST-M in the layout of the official archive.
 *
 * @p root holds `mnist_m_train/`, `mnist_m_test/`, `mnist_m_train_labels.txt`
 * and `mnist_m_test_labels.txt`. Images are decoded in parallel with the
 * context's threads.
 * @code{.c}
 * dcnn_dataset *all = NULL, *fit_set = NULL, *val_set = NULL;
 * dcnn_status s = dcnn_dataset_load_mnist_m(NULL, "data/mnist_m", DCNN_MNIST_M_TRAIN, &all);
 * // 90% to train on, 10% (the second split) to validate with, each class in the same proportion
 * if (s == DCNN_OK) s = dcnn_dataset_split(all, 0.1, 42, DCNN_SPLIT_STRATIFIED, &fit_set, &val_set);
 * dcnn_dataset_destroy(all); // the splits share its images and stay valid
 * dcnn_dataset_destroy(fit_set);
 * dcnn_dataset_destroy(val_set);
 * @endcode
 * @param ctx Context, or NULL.
 * @param root The directory.
 * @param split #DCNN_MNIST_M_TRAIN or #DCNN_MNIST_M_TEST.
 * @param[out] out The dataset (10 classes, 32 x 32 x 3).
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT (an unknown @p split, a NULL
 *         @p root or @p out, an empty root, a root too long for a path), or an
 *         error as for dcnn_dataset_load_image_list().
 */
DCNN_API dcnn_status dcnn_dataset_load_mnist_m(dcnn_context *ctx, const char *root, dcnn_mnist_m_split split,
                                               dcnn_dataset **out);

/**
 * @brief Loads PNG images listed in a text file of "<relative path> <label>" lines.
 *
 * The label is the last field of a line and the path everything before it
 * (spaces and tabs around it trimmed), so paths may contain spaces. Blank
 * lines and a leading UTF-8 byte-order mark are skipped. All images
 * must have the first image's size; any PNG colour type and bit depth is
 * converted to 8-bit RGB, or to 8-bit gray when every image is gray (whatever
 * the line order). Paths are normalised ("./a.png" and "a.png" are one entry;
 * dcnn_dataset_source() returns the normal form), must not be absolute or
 * contain "..", and must resolve (symlinks followed) to a regular file inside
 * @p image_root. The list and each image are at most 2^30 bytes; PNG limits
 * as for dcnn_image_decode_png(). All rules and limits: docs/data-formats.md.
 *
 * Thread-safety: loads share no state; any number may run concurrently.
 * @param ctx Context, or NULL.
 * @param list_path The list file.
 * @param image_root Directory the paths are relative to.
 * @param classes Number of classes; labels must be in [0, classes).
 * @param[out] out The dataset (owned by the caller: dcnn_dataset_destroy()).
 * @return #DCNN_OK; #DCNN_ERR_INVALID_ARGUMENT (a NULL path or @p out,
 *         @p classes below 1); #DCNN_ERR_IO (missing file, a directory, a FIFO or other
 *         non-regular file, named); #DCNN_ERR_BAD_FORMAT ("labels.txt:17: ..."
 *         for a malformed line, a label out of range, a duplicate entry, a path
 *         leaving the image directory; the image file for a PNG that cannot be
 *         decoded or has another size; the first line for a dataset larger
 *         than 2^26 bytes per image or 2^36 in all); #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_dataset_load_image_list(dcnn_context *ctx, const char *list_path, const char *image_root,
                                                  int32_t classes, dcnn_dataset **out);

/**
 * @brief Loads an IDX image file and its IDX label file (MNIST, Fashion-MNIST,
 *        KMNIST, EMNIST layout), raw or gzip-compressed.
 *
 * The size each header announces is checked against the file before anything
 * is allocated or inflated (raw: exact length; gzip: one member whose trailer
 * records that size, and no more than deflate's 1032:1 can hold); a gzip'd
 * file is then inflated once into a small scratch buffer, proving its data,
 * before the dataset is allocated, and again into the dataset (memory follows
 * the data the file really holds, not its header); a gzip'd file must end with its
 * one member (several members, or bytes after it, are refused). Both must be regular files.
 * Details: docs/data-formats.md. Thread-safety: loads share no state.
 * @param ctx Context, or NULL.
 * @param images_path IDX3 unsigned-byte images (magic 0x00000803).
 * @param labels_path IDX1 unsigned-byte labels (magic 0x00000801).
 * @param classes Number of classes; labels must be in [0, classes).
 * @param[out] out The dataset (1 channel; owned by the caller).
 * @return #DCNN_OK; #DCNN_ERR_INVALID_ARGUMENT (a NULL path or @p out,
 *         @p classes below 1); #DCNN_ERR_IO (missing or non-regular file);
 *         #DCNN_ERR_BAD_FORMAT naming the file and byte offset (bad magic,
 *         dimensions, truncation or a size the file cannot hold, corrupt gzip,
 *         more than one gzip member,
 *         counts that disagree, label out of range; the image file for more
 *         than 2^36 bytes of images); #DCNN_ERR_UNSUPPORTED (an element type
 *         other than unsigned byte); #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_dataset_load_idx(dcnn_context *ctx, const char *images_path, const char *labels_path,
                                           int32_t classes, dcnn_dataset **out);

/**
 * @brief Creates a dataset from memory (copied).
 * @param ctx Context, or NULL.
 * @param count Number of images, >= 1.
 * @param height Image height, >= 1.
 * @param width Image width, >= 1.
 * @param channels 1 or 3.
 * @param pixels count * height * width * channels bytes, channels last.
 * @param labels count labels in [0, classes).
 * @param classes Number of classes, >= 1.
 * @param[out] out The dataset.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT (label out of range, named;
 *         a count or side below 1, channels other than 1 or 3, more than
 *         2^26 bytes an image or 2^36 in all), #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_dataset_create(dcnn_context *ctx, int32_t count, int32_t height, int32_t width,
                                         int32_t channels, const uint8_t *pixels, const int32_t *labels,
                                         int32_t classes, dcnn_dataset **out);

/**
 * @brief Destroys a dataset or view. NULL is allowed. Other views of the same
 *        images stay valid.
 * @param ds The dataset.
 */
DCNN_API void dcnn_dataset_destroy(dcnn_dataset *ds);

/**
 * @brief Number of samples.
 * @param ds The dataset; NULL gives 0.
 * @return The count.
 */
DCNN_API int32_t dcnn_dataset_count(const dcnn_dataset *ds);

/**
 * @brief Number of classes.
 * @param ds The dataset; NULL gives 0.
 * @return The count.
 */
DCNN_API int32_t dcnn_dataset_classes(const dcnn_dataset *ds);

/**
 * @brief Size of the images.
 * @param ds The dataset.
 * @param[out] height Image height; may be NULL.
 * @param[out] width Image width; may be NULL.
 * @param[out] channels 1 or 3; may be NULL.
 * @return #DCNN_OK or #DCNN_ERR_INVALID_ARGUMENT.
 */
DCNN_API dcnn_status dcnn_dataset_image_size(const dcnn_dataset *ds, int32_t *height, int32_t *width,
                                             int32_t *channels);

/**
 * @brief Samples per class.
 * @param ds The dataset.
 * @param[out] counts Receives dcnn_dataset_classes() counts.
 * @param capacity Entries available at @p counts; must be at least the class count.
 * @return #DCNN_OK or #DCNN_ERR_INVALID_ARGUMENT.
 */
DCNN_API dcnn_status dcnn_dataset_class_counts(const dcnn_dataset *ds, int64_t *counts, int32_t capacity);

/**
 * @brief Label of sample @p index.
 * @param ds The dataset.
 * @param index 0 .. count - 1.
 * @return The label, or -1 if @p index is out of range.
 */
DCNN_API int32_t dcnn_dataset_label(const dcnn_dataset *ds, int32_t index);

/**
 * @brief Pixels of sample @p index (height x width x channels bytes).
 * @param ds The dataset.
 * @param index 0 .. count - 1.
 * @return Borrowed pointer valid while any view of these images lives, or NULL.
 */
DCNN_API const uint8_t *dcnn_dataset_image(const dcnn_dataset *ds, int32_t index);

/**
 * @brief File the sample was loaded from, relative to the image root.
 * @param ds The dataset.
 * @param index 0 .. count - 1.
 * @return Borrowed string, or NULL (out of range, or not loaded from files).
 */
DCNN_API const char *dcnn_dataset_source(const dcnn_dataset *ds, int32_t index);

/**
 * @brief A view of some samples, in the given order.
 * @param ds The dataset.
 * @param indices @p count indices into @p ds (repeats allowed: with
 *        augmentation each copy is drawn apart, by its position in the
 *        subset).
 * @param count >= 1.
 * @param[out] out The view.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT (index out of range, named),
 *         #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_dataset_subset(const dcnn_dataset *ds, const int32_t *indices, int32_t count,
                                         dcnn_dataset **out);

/**
 * @brief Splits a dataset into two disjoint views, reproducibly.
 *
 * Disjoint by position: in a view that repeats samples (an oversampling
 * dcnn_dataset_subset()) each copy is a sample of its own, so copies of one
 * image can fall on both sides. Split first, then oversample the part that
 * trains.
 * @param ds The dataset.
 * @param fraction Share of samples in @p second, in (0, 1) (e.g. 0.1 for a
 *        validation split); rounded down, at least 1 sample on each side
 *        (a product a few rounding errors below a whole number, as
 *        0.29 * 100 in double, counts as that number).
 *        Both strategies give @p second this many samples; a stratified
 *        split gives each class its share rounded down, then one more to the
 *        classes with the largest remainders (ties: the lower class) until
 *        the total is reached. A tie is the largest remainder left and those
 *        within rounding below it (64 ulps of the largest share, or of 1 if
 *        that is larger), so that remainders equal in decimal (0.1 of 7 and
 *        of 27) tie in doubles.
 * @param seed Shuffling seed.
 * @param strategy #DCNN_SPLIT_STRATIFIED or #DCNN_SPLIT_RANDOM.
 * @param[out] first The remaining samples, in their original order.
 * @param[out] second The split-off samples, in their original order.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT (also an unknown @p strategy),
 *         #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_dataset_split(const dcnn_dataset *ds, double fraction, uint64_t seed,
                                        dcnn_split_strategy strategy, dcnn_dataset **first, dcnn_dataset **second);

/** @brief Opaque preprocessing and augmentation pipeline. */
typedef struct dcnn_pipeline dcnn_pipeline;

/** @brief Options of a pipeline, set with dcnn_pipeline_set(). */
typedef enum dcnn_pipeline_option {
  DCNN_PIPE_HEIGHT = 0,          /**< Output height, 0..4096; 0 keeps the image's (default 0). */
  DCNN_PIPE_WIDTH = 1,           /**< Output width, 0..4096; 0 keeps the image's (default 0). */
  DCNN_PIPE_GRAYSCALE = 2,       /**< 1: convert RGB to BT.601 luma (default 0). */
  DCNN_PIPE_ROTATION = 3,        /**< Augmentation: rotation uniform in +- degrees, 0..180 (default 0). */
  DCNN_PIPE_TRANSLATION = 4,     /**< Augmentation: shift uniform in +- this share of the size, 0..1 (default 0). */
  DCNN_PIPE_ZOOM_MIN = 5,        /**< Augmentation: smallest zoom factor, in (0.1, 10] (default 1); an augmenting
                                      batch refuses a minimum above #DCNN_PIPE_ZOOM_MAX. */
  DCNN_PIPE_ZOOM_MAX = 6,        /**< Augmentation: largest zoom factor, in (0.1, 10] (default 1). */
  DCNN_PIPE_FILL_EDGE = 7,       /**< Augmentation: 1 repeats edge pixels outside the image, 0 fills zeros (default 1).
                                      With standardisation, the affine warp's zeros are 0 in the standardised
                                      output (the channel mean) while #DCNN_PIPE_SHIFT's are 0 in [0, 1] (black). */
  DCNN_PIPE_CACHE = 8,           /**< 1: keep preprocessed images in memory per image store (default 1): every
                                      image behind a dataset, also those a subset or split view leaves out (the
                                      views of one store share it), filled on the first batch. */
  /* Colour and shift augmentation (issue #19; docs/recipes.md), applied after the
   * affine warp on values in [0, 1] (standardisation undone, then redone). Off by default. */
  DCNN_PIPE_CHANNEL_SHUFFLE = 9, /**< Augmentation: probability of a random order of R, G, B (default 0). */
  DCNN_PIPE_RANDOM_GRAY = 10,    /**< Augmentation: probability of grayscale, kept as 3 equal channels (default 0). */
  DCNN_PIPE_INVERT = 11,         /**< Augmentation: probability of inverting, x -> 1 - x (default 0). */
  DCNN_PIPE_BRIGHTNESS = 12,     /**< Augmentation: x * f, f uniform in [1 - s, 1 + s], s in 0..1 (default 0). */
  DCNN_PIPE_CONTRAST = 13,       /**< Augmentation: contrast around the mean luma by f in [1 - s, 1 + s], s in 0..1 (default 0). */
  DCNN_PIPE_SATURATION = 14,     /**< Augmentation: saturation around each pixel's luma by f in [1 - s, 1 + s], s in 0..1 (default 0). */
  DCNN_PIPE_SHIFT = 15,          /**< Augmentation: random crop with padding: shift by whole pixels in +- this, 0..64
                                      (default 0); padding as #DCNN_PIPE_FILL_EDGE, zeros being black ([0, 1]). */
  DCNN_PIPE_JITTER_PROB = 16,    /**< Augmentation: probability that brightness, contrast and saturation jitter a sample (default 1). */
  DCNN_PIPE_BACKGROUND_SWAP = 17, /**< Augmentation for MNIST-M-style images (|background - digit| per channel):
                                      probability that a sample's digit is redrawn over the background of another
                                      image of the same dataset, drawn per sample, epoch and seed, with that rule.
                                      Digits and backgrounds are separated as by dcnn_mnist_m_digit_mask() on the
                                      first augmented batch of an image store, and again whenever the pipeline
                                      turns to another store (one pipeline per dataset avoids that; about 4
                                      bytes per pixel; 1 or 3
                                      channels; sides of 3 to 4,096 pixels, else that batch fails with
                                      #DCNN_ERR_INVALID_ARGUMENT). Applied before the other augmentations
                                      (default 0). */
  DCNN_PIPE_BACKGROUND_TRANSFORM = 18, /**< Augmentation with #DCNN_PIPE_BACKGROUND_SWAP: probability that the
                                      swapped-in background is first turned or mirrored (one of the square's 8
                                      symmetries; flips alone on other shapes) and each of its channels inverted
                                      with probability 1/2, so digits meet backgrounds no training image had;
                                      drawn per sample, epoch and seed. No effect without the swap (default 0). */
  DCNN_PIPE_DIGIT_ELASTIC = 19,   /**< Augmentation for MNIST-M-style images: probability that a sample's digit is
                                      bent by an elastic deformation (Simard et al. 2003) and redrawn over its
                                      background (the swapped-in one if #DCNN_PIPE_BACKGROUND_SWAP chose one, else
                                      its own) with MNIST-M's rule, so the photograph is not warped with it; drawn
                                      per sample, epoch and seed. Separates digits as #DCNN_PIPE_BACKGROUND_SWAP
                                      does (default 0). */
  DCNN_PIPE_ELASTIC_ALPHA = 20,   /**< Strength of #DCNN_PIPE_DIGIT_ELASTIC, 0..100 (default 34): the factor on the
                                      displacement field, uniform noise in [-1, 1] smoothed by the Gaussian of
                                      #DCNN_PIPE_ELASTIC_SIGMA, whose typical size is 0.163 / sigma; the defaults
                                      move pixels by about 1.4 pixels. In the stored image's pixels (before
                                      #DCNN_PIPE_HEIGHT and #DCNN_PIPE_WIDTH resize it). */
  DCNN_PIPE_ELASTIC_SIGMA = 21,   /**< Smoothness of #DCNN_PIPE_DIGIT_ELASTIC: standard deviation, in the stored
                                      image's pixels, of the Gaussian the field is smoothed with, 0.5..16 (default 4). */
  DCNN_PIPE_CUTOUT = 22,          /**< Augmentation (cutout, DeVries and Taylor 2017): probability that a square
                                      of the output is filled with each channel's mean over the sample as
                                      augmented so far (in [0, 1], before any standardisation), so that the model
                                      learns to read digits with parts missing (default 0). The square's centre
                                      is a uniformly drawn output pixel; the square is cut off at the borders.
                                      Applied last, after the shift, per sample, epoch and seed. */
  DCNN_PIPE_CUTOUT_SIZE = 23,     /**< Side of the #DCNN_PIPE_CUTOUT square in output pixels, a whole number in
                                      1..4096 (default 16). */
  DCNN_PIPE_GRAY_TO_RGB = 24      /**< 1: a dataset of gray images (1 channel) gives 3 equal channels, for a model
                                      that takes RGB; RGB datasets are unchanged, and #DCNN_PIPE_GRAYSCALE takes
                                      precedence (default 0). dcnn_pipeline_configure_for_model() sets it exactly
                                      when the model takes 3 channels. Not recorded by dcnn_pipeline_describe(): it
                                      fits data to a model, it does not change what the model was trained on. */
} dcnn_pipeline_option;

/**
 * @brief Creates a pipeline that only scales pixels to [0, 1].
 * @param ctx Context (threads, allocations), or NULL.
 * @param[out] out The pipeline.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT, #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_pipeline_create(dcnn_context *ctx, dcnn_pipeline **out);

/**
 * @brief Configures the pipeline as the paper: 28 x 28, grayscale, [0, 1];
 *        augmentation rotation 10 degrees, translation 0.1, zoom 0.9 to 1.1, edge fill.
 * @param p The pipeline.
 * @return #DCNN_OK or #DCNN_ERR_INVALID_ARGUMENT.
 */
DCNN_API dcnn_status dcnn_pipeline_set_paper_defaults(dcnn_pipeline *p);

/**
 * @brief Sets one option (see ::dcnn_pipeline_option). The size, grayscale
 *        and cache options clear the preprocessed-image cache; the others
 *        (augmentation) do not change what it holds.
 * @param p The pipeline.
 * @param option The option.
 * @param value Its value.
 * @return #DCNN_OK or #DCNN_ERR_INVALID_ARGUMENT (unknown option, value out of range).
 */
DCNN_API dcnn_status dcnn_pipeline_set(dcnn_pipeline *p, dcnn_pipeline_option option, double value);

/**
 * @brief Reads one option.
 * @param p The pipeline (not NULL).
 * @param option The option.
 * @return Its value, or NaN for an unknown option.
 */
DCNN_API double dcnn_pipeline_get(const dcnn_pipeline *p, dcnn_pipeline_option option);

/**
 * @brief Standardises each output channel: (x - mean) / std after scaling to [0, 1].
 * @param p The pipeline.
 * @param channels Number of values in @p mean and @p std (1 or 3); 0 turns it off.
 * @param mean Per-channel means, in [-1e6, 1e6].
 * @param std Per-channel standard deviations, in [1e-7, 1e6] (so the values
 *        stay finite).
 * @return #DCNN_OK or #DCNN_ERR_INVALID_ARGUMENT.
 */
DCNN_API dcnn_status dcnn_pipeline_set_standardization(dcnn_pipeline *p, int32_t channels, const float *mean,
                                                       const float *std);

/**
 * @brief Measures the mean and standard deviation of each output channel over
 *        @p ds (its preprocessed pixels: size, grayscale, [0, 1]; no
 *        augmentation) and sets them as the standardisation.
 *
 * Fit on the training split only; dcnn_pipeline_describe() then records the
 * values in the model's "preprocessing" metadata, so that prediction repeats
 * them. The sums are taken in sample order in double precision: the result
 * does not depend on the thread count. A constant channel gets std 1.
 *
 * Thread-safety: uses @p p (one thread at a time); @p ds is only read.
 * @param p The pipeline.
 * @param ds The dataset to measure.
 * @param[out] mean Receives the per-channel means (1 or 3 values), or NULL.
 * @param[out] std Receives the per-channel standard deviations, or NULL.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT, #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_pipeline_fit_standardization(dcnn_pipeline *p, const dcnn_dataset *ds, float *mean,
                                                       float *std);

/**
 * @brief Writes the preprocessing (size, grayscale, standardisation; not the
 *        augmentation) as "key=value" pairs, e.g. "height=28 width=28
 *        grayscale=1 standardize=0". Trainers record it in the model's
 *        "preprocessing" metadata so that inference can repeat it.
 * @param p The pipeline.
 * @param buf Receives the NUL-terminated text.
 * @param size Bytes at @p buf, at least 256.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT, #DCNN_ERR_SHAPE_MISMATCH
 *         (grayscale with standardisation for 3 channels: a state no batch
 *         can be made in, and one dcnn_pipeline_configure() would refuse).
 */
DCNN_API dcnn_status dcnn_pipeline_describe(const dcnn_pipeline *p, char *buf, int32_t size);

/**
 * @brief Sets the preprocessing from a dcnn_pipeline_describe() text (for
 *        instance a loaded model's "preprocessing" metadata). Augmentation
 *        options are left as they are.
 * @param p The pipeline.
 * @param description The text.
 * @return #DCNN_OK, #DCNN_ERR_BAD_FORMAT (a key missing or out of range, named),
 *         #DCNN_ERR_INVALID_ARGUMENT, #DCNN_ERR_OUT_OF_MEMORY (a text of more than
 *         32 pairs is checked for duplicates in a sorted copy).
 */
DCNN_API dcnn_status dcnn_pipeline_configure(dcnn_pipeline *p, const char *description);

/**
 * @brief Destroys a pipeline and its cache. NULL is allowed.
 * @param p The pipeline.
 */
DCNN_API void dcnn_pipeline_destroy(dcnn_pipeline *p);

/**
 * @brief Shape of one output sample (C, H, W) for images of @p ds.
 * @param p The pipeline.
 * @param ds The dataset.
 * @param[out] sample The shape.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT, #DCNN_ERR_SHAPE_MISMATCH
 *         (standardisation set for another channel count).
 */
DCNN_API dcnn_status dcnn_pipeline_sample_shape(const dcnn_pipeline *p, const dcnn_dataset *ds, dcnn_shape *sample);

/**
 * @brief Produces a batch: samples @p indices of @p ds, preprocessed and, if
 *        with #DCNN_AUGMENT_ON augmented, into @p out (N, C, H, W), labels
 *        into @p labels.
 * @param p The pipeline.
 * @param ds The dataset.
 * @param indices @p count indices into @p ds.
 * @param count Samples; @p out's first dimension.
 * @param augment #DCNN_AUGMENT_ON or #DCNN_AUGMENT_OFF.
 * @param seed Augmentation seed.
 * @param epoch Epoch number (a sample gets new random numbers every epoch).
 * @param out Tensor of shape (count, C, H, W).
 * @param labels @p count labels, or NULL.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT (also an unknown @p augment),
 *         #DCNN_ERR_SHAPE_MISMATCH, #DCNN_ERR_OUT_OF_MEMORY (the cache's
 *         first use, or any call's resampling plans when the cache is off
 *         or the background swap or digit warp is on).
 */
DCNN_API dcnn_status dcnn_pipeline_batch(dcnn_pipeline *p, const dcnn_dataset *ds, const int32_t *indices,
                                         int32_t count, dcnn_augmentation augment, uint64_t seed, int64_t epoch,
                                         dcnn_tensor *out,
                                         int32_t *labels);

/** @brief Flags of dcnn_dataset_make_background_proxy(): the textures to draw from, and recolouring. */
typedef enum dcnn_proxy_flag {
  DCNN_PROXY_NOISE = 1,          /**< Value noise (two octaves) between two random colours. */
  DCNN_PROXY_STRIPES = 2,        /**< Sinusoidal stripes, random angle and period. */
  DCNN_PROXY_GRADIENT = 4,       /**< A linear gradient at a random angle. */
  DCNN_PROXY_PLASMA = 8,         /**< A sum of sines and a ring. */
  DCNN_PROXY_CHECKER = 16,       /**< A rotated checkerboard. */
  DCNN_PROXY_FLAT = 32,          /**< One random colour with a little grain. */
  DCNN_PROXY_ALL_TEXTURES = 63,  /**< Every texture above, equally often. */
  DCNN_PROXY_RECOLOUR = 64       /**< Half the digits drawn in a random contrasting colour instead of MNIST-M's |texture - digit|. */
} dcnn_proxy_flag;

/**
 * @brief Recovers the digit mask of an MNIST-M image.
 *
 * MNIST-M images are |background - digit| per channel, digit in 0..255. The
 * mask is the digit value that explains the three channels best given a
 * background estimate, which is refined from the pixels judged background
 * (three rounds from the median of the image's border). Method and quality:
 * docs/recipes.md. Thread-safety: no shared state.
 * @param image The image, @p height x @p width x @p channels bytes (a gray image counts as 3 equal channels).
 * @param height Height, 3..4096.
 * @param width Width, 3..4096.
 * @param channels 1 or 3.
 * @param[out] mask Receives @p height x @p width bytes, 0 (background) to 255 (solid digit).
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT, #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_mnist_m_digit_mask(const uint8_t *image, int32_t height, int32_t width, int32_t channels,
                                             uint8_t *mask);

/**
 * @brief Makes the unseen-background proxy: each digit of @p digits (MNIST-M
 *        images) recovered as a mask (dcnn_mnist_m_digit_mask()) and drawn over
 *        a procedural texture no MNIST-M image contains.
 *
 * Image i gets a texture kind chosen uniformly among the @p flags' textures
 * and the composite |texture - mask| (MNIST-M's rule) or, with
 * #DCNN_PROXY_RECOLOUR for half the images, texture (1 - a) + colour a with
 * a = mask / 255. Random numbers come from (@p seed, i): the result depends on
 * the seed only, not on the thread count. Labels are copied.
 *
 * Thread-safety: @p digits is only read; uses the context's threads.
 * @param ctx Context, or NULL.
 * @param digits The MNIST-M images (e.g. the test split), 1 or 3 channels.
 * @param seed Texture seed.
 * @param flags Bitwise or of ::dcnn_proxy_flag, at least one texture.
 * @param[out] out The new dataset (same size, 3 channels; owned by the
 *        caller); NULL on failure.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT (no texture, unknown flags,
 *         images not of 3..4096 pixels a side, as dcnn_mnist_m_digit_mask()
 *         takes, or a 3-channel copy beyond the dataset limit of 2^36 bytes),
 *         #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_dataset_make_background_proxy(dcnn_context *ctx, const dcnn_dataset *digits, uint64_t seed,
                                                        uint32_t flags, dcnn_dataset **out);

/** @brief Opaque batch iterator over a dataset. */
typedef struct dcnn_batcher dcnn_batcher;

/** @brief Flags of dcnn_batcher_create(). */
typedef enum dcnn_batcher_flag {
  DCNN_BATCH_SHUFFLE = 1,   /**< New random order every epoch. */
  DCNN_BATCH_DROP_LAST = 2, /**< Drop a last batch smaller than the batch size. */
  DCNN_BATCH_AUGMENT = 4    /**< Apply the pipeline's augmentation. */
} dcnn_batcher_flag;

/**
 * @brief Creates a batch iterator.
 * @param ctx Context, or NULL.
 * @param ds The dataset; borrowed, must outlive the batcher.
 * @param p The pipeline; borrowed, must outlive the batcher.
 * @param batch_size >= 1.
 * @param flags Bitwise or of ::dcnn_batcher_flag.
 * @param seed Shuffling and augmentation seed.
 * @param[out] out The batcher, positioned at the start of epoch 0. Its
 *        batches' shape is fixed here: changing the pipeline's size or
 *        grayscale afterwards (or standardisation for another channel count)
 *        makes dcnn_batcher_next() fail with #DCNN_ERR_SHAPE_MISMATCH (create
 *        a new batcher).
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT, #DCNN_ERR_SHAPE_MISMATCH (as
 *         dcnn_pipeline_sample_shape(): standardisation statistics for another
 *         channel count), #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_batcher_create(dcnn_context *ctx, const dcnn_dataset *ds, dcnn_pipeline *p,
                                         int32_t batch_size, uint32_t flags, uint64_t seed, dcnn_batcher **out);

/**
 * @brief Destroys a batcher. NULL is allowed.
 * @param b The batcher.
 */
DCNN_API void dcnn_batcher_destroy(dcnn_batcher *b);

/**
 * @brief Starts epoch @p epoch: reshuffles (if shuffling) from (seed, epoch).
 * @param b The batcher.
 * @param epoch >= 0.
 * @return #DCNN_OK or #DCNN_ERR_INVALID_ARGUMENT.
 */
DCNN_API dcnn_status dcnn_batcher_start_epoch(dcnn_batcher *b, int64_t epoch);

/**
 * @brief Produces the next batch of the epoch.
 * @param b The batcher.
 * @param[out] images Borrowed (N, C, H, W) tensor, valid until the next call (which sets its shape again:
 *        the caller may reshape it, to flatten it for a dense model say).
 * @param[out] labels Borrowed N labels, valid until the next call.
 * @param[out] count N; 0 when the epoch is over.
 * @return #DCNN_OK or an error from the pipeline.
 */
DCNN_API dcnn_status dcnn_batcher_next(dcnn_batcher *b, dcnn_tensor **images, const int32_t **labels,
                                       int32_t *count);

/**
 * @brief Batches per epoch.
 * @param b The batcher (not NULL).
 * @return The count.
 */
DCNN_API int32_t dcnn_batcher_batches_per_epoch(const dcnn_batcher *b);

/**
 * @brief Decodes a PNG of any colour type and bit depth to 8-bit pixels.
 *
 * Every chunk must lie inside @p size bytes; only the chunks that decide the
 * pixels reach libpng (text, EXIF and other ancillary chunks are dropped
 * unread), so the cost is bounded by the size of the input and of the image
 * (docs/data-formats.md). Thread-safe.
 *
 * Samples are taken as encoded (gAMA, sRGB, cHRM and iCCP are ignored),
 * 16-bit ones rounded to 8 bits (v / 257), and alpha (an alpha channel or
 * tRNS) is composed onto black on the encoded values: round(v * a / 255) for
 * 8-bit samples, the same at full precision for 16-bit ones, so a 16-bit copy
 * of an 8-bit image reads as that image (docs/data-formats.md).
 * @param data The file's bytes (borrowed).
 * @param size Their number.
 * @param channels 1 (gray: BT.601 luma of a colour image, rounded to 8 bits;
 *        to match training exactly, decode RGB and let a pipeline convert),
 *        3 (RGB), or 0 for what the file stores (1 for gray, 3 for colour,
 *        palette images included).
 * @param[out] pixels height x width x channels bytes, rows top to bottom,
 *        channels last; the caller frees them with dcnn_free(). NULL on failure.
 * @param[out] height Image height.
 * @param[out] width Image width.
 * @param[out] channels_out Receives the channels of @p pixels (1 or 3: what
 *        @p channels asked, or with 0 what the file stores); 0 on failure.
 *        May be NULL.
 * @return #DCNN_OK, #DCNN_ERR_BAD_FORMAT (not a PNG, corrupt, a chunk larger
 *         than the data, larger than 2^26 pixels), #DCNN_ERR_INVALID_ARGUMENT,
 *         #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_image_decode_png(const void *data, size_t size, int32_t channels, uint8_t **pixels,
                                          int32_t *height, int32_t *width, int32_t *channels_out);

/**
 * @brief dcnn_image_decode_png() of a file.
 * @param path The file.
 * @param channels 0, 1 or 3, as for dcnn_image_decode_png().
 * @param[out] pixels Freed by the caller with dcnn_free(); NULL on failure.
 * @param[out] height Image height.
 * @param[out] width Image width.
 * @param[out] channels_out Receives the channels of @p pixels, as for
 *        dcnn_image_decode_png(); may be NULL.
 * @return As dcnn_image_decode_png(), plus #DCNN_ERR_IO (cannot open it; a
 *         directory, FIFO, socket or device is refused without blocking) and
 *         #DCNN_ERR_BAD_FORMAT for a file over 2^30 bytes; messages name the file.
 */
DCNN_API dcnn_status dcnn_image_read_png(const char *path, int32_t channels, uint8_t **pixels, int32_t *height,
                                        int32_t *width, int32_t *channels_out);

/**
 * @brief Writes an 8-bit image as a PNG file, atomically (a temporary file in
 *        the same directory, then renamed).
 * @param path Destination.
 * @param height Image height, 1..65535.
 * @param width Image width, 1..65535.
 * @param channels 1 (gray), 3 (RGB) or 4 (RGBA).
 * @param pixels height * width * channels bytes, channels last; at most
 *        4294967295 bytes (libpng's limit).
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT, #DCNN_ERR_IO.
 */
DCNN_API dcnn_status dcnn_image_write_png(const char *path, int32_t height, int32_t width, int32_t channels,
                                          const uint8_t *pixels);

DCNN_END_DECLS

#endif /* DIGITCNN_DATA_H */
/** @} */
