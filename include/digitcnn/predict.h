/**
 * @file predict.h
 * @brief The short path to a prediction: raw pixels in, class probabilities
 *        out, preprocessed as the model records; and a top-k helper.
 *
 * Thread-safety: dcnn_model_predict_image() runs the model as
 * dcnn_model_predict() does, so one thread at a time per model (give each
 * thread its own model, or use sessions and a pipeline for many threads).
 * dcnn_top_k() is pure and safe from any thread.
 */
/** @addtogroup models
 * @{ */
#ifndef DIGITCNN_PREDICT_H
#define DIGITCNN_PREDICT_H

#include <stddef.h>
#include <stdint.h>

#include "export.h"
#include "data.h"
#include "model.h"
#include "status.h"

DCNN_BEGIN_DECLS

/**
 * @brief Classifies one image given as raw 8-bit pixels of any size.
 *
 * The image is prepared as in training: the "preprocessing" metadata the
 * trainer recorded (dcnn_pipeline_describe()) is applied, except that the
 * output size is always the model's input size; without that metadata the
 * pixels are only resized and scaled to [0, 1]. Colours follow the model's
 * input channels: a 1-channel model gets RGB images as ITU-R BT.601 luma, a
 * 3-channel model gets a gray image copied to the three channels. A fourth
 * channel is alpha and is ignored (the colour values are used as they are,
 * not composed onto a background). The result is bit-identical to the long
 * path: dcnn_dataset_create(), dcnn_pipeline_configure() with the recorded
 * text, output height and width set to the model's, dcnn_pipeline_batch()
 * without augmentation, dcnn_model_predict(), then a softmax when the model's
 * last layer is not one. (A dataset holds at most 2^26 bytes per image, so
 * the long path refuses RGB images over about 2.2e7 pixels; this call takes
 * them, up to its own limit below, with the same preprocessing.)
 *
 * Memory: allocates and frees its buffers in every call (a copy of the image,
 * 1 byte per pixel, or 3 when the image or the model has colour; the
 * preprocessed input); for many images per second use a pipeline and a
 * session. Ownership: everything is borrowed.
 * @code{.c}
 * uint8_t *pixels = NULL;
 * int32_t height = 0, width = 0, top[3];
 * float probs[10]; // K = 10 classes
 * dcnn_status s = dcnn_image_read_png("digit.png", 3, &pixels, &height, &width, NULL); // any size
 * if (s == DCNN_OK) s = dcnn_model_predict_image(model, pixels, height, width, 3, 0, probs, 10);
 * if (s == DCNN_OK) s = dcnn_top_k(probs, 10, 3, top, NULL);
 * if (s == DCNN_OK) printf("%d (p=%.3f), then %d, %d\n", (int)top[0], (double)probs[top[0]], (int)top[1], (int)top[2]);
 * dcnn_free(pixels);
 * @endcode
 * @param model The model (input (C, H, W) with C 1 or 3, output (K)).
 * @param pixels height rows of width x channels bytes, channels last (RGB or
 *        RGBA order), rows top to bottom, each starting @p row_stride bytes
 *        after the previous one.
 * @param height Image height, 1 to 32,768.
 * @param width Image width, 1 to 32,768; height x width at most 2^26.
 * @param channels 1 (gray), 3 (RGB) or 4 (RGBA, alpha ignored).
 * @param row_stride Bytes from one row to the next, >= width x channels, or 0
 *        for rows packed one after the other.
 * @param[out] probs Receives the K class probabilities (they sum to 1).
 * @param capacity Floats available at @p probs, >= K (dcnn_model_output_shape()).
 * @return #DCNN_OK; #DCNN_ERR_INVALID_ARGUMENT (NULL pointer, a size, channel
 *         count, stride or capacity out of range, a model that does not take
 *         images or give class scores; the message says which);
 *         #DCNN_ERR_BAD_FORMAT (unreadable "preprocessing" metadata);
 *         #DCNN_ERR_SHAPE_MISMATCH (standardisation recorded for another
 *         channel count); #DCNN_ERR_OUT_OF_MEMORY; or an error of
 *         dcnn_model_predict(). @p probs is unspecified on error.
 */
DCNN_API dcnn_status dcnn_model_predict_image(dcnn_model *model, const uint8_t *pixels, int32_t height,
                                              int32_t width, int32_t channels, size_t row_stride, float *probs,
                                              int32_t capacity);

/**
 * @brief Configures @p p to make the images @p model takes: the model's
 *        recorded "preprocessing" (as dcnn_pipeline_configure(), when the
 *        model has that metadata), then the output height and width set to
 *        the model's input size, grayscale set exactly when the model takes
 *        1 channel and #DCNN_PIPE_GRAY_TO_RGB exactly when it takes 3 (gray
 *        datasets are fed to an RGB model as three equal channels, as
 *        dcnn_model_predict_image() does with a gray image).
 *
 * This is the preprocessing dcnn_model_predict_image() applies, for callers
 * that feed a model batches through dcnn_pipeline_batch() (evaluating a loaded
 * model on other data, sessions, fine-tuning). The size is set even when the
 * recorded text says 0 (a model trained at its data's own size), so images of
 * any size fit the model. Augmentation options and the cache are left as they
 * are: the pipeline may still augment.
 * @code{.c}
 * dcnn_pipeline *p = NULL;
 * dcnn_metrics *m = NULL;
 * double loss = 0;
 * dcnn_status s = dcnn_pipeline_create(ctx, &p);
 * if (s == DCNN_OK) s = dcnn_pipeline_configure_for_model(p, model);
 * if (s == DCNN_OK) s = dcnn_metrics_create(ctx, 10, &m);
 * if (s == DCNN_OK) s = dcnn_evaluate(model, test, p, 256, m, &loss);
 * if (s == DCNN_OK) printf("loss %.4f\n", loss);
 * dcnn_metrics_destroy(m);
 * dcnn_pipeline_destroy(p);
 * @endcode
 * @param p The pipeline, changed in place.
 * @param model The model (input (C, H, W) with C 1 or 3); only read.
 * @return #DCNN_OK; #DCNN_ERR_INVALID_ARGUMENT (NULL, or a model that does not
 *         take (1 or 3, H, W) images); #DCNN_ERR_BAD_FORMAT (unreadable
 *         "preprocessing" metadata); #DCNN_ERR_SHAPE_MISMATCH (standardisation
 *         set for another channel count than the model takes);
 *         #DCNN_ERR_OUT_OF_MEMORY. On error @p p may be partly configured.
 * @par Thread-safety: changes @p p (one thread at a time per pipeline);
 *      reads @p model, which other threads may read at the same time.
 */
DCNN_API dcnn_status dcnn_pipeline_configure_for_model(dcnn_pipeline *p, const dcnn_model *model);

/**
 * @brief The @p k largest of @p n values, largest first; equal values in
 *        index order, NaN after every number.
 * @param values @p n values (for instance class probabilities).
 * @param n >= 1.
 * @param k 1 to @p n.
 * @param[out] indices Receives @p k indices into @p values.
 * @param[out] top_values Receives the @p k values, or NULL.
 * @return #DCNN_OK or #DCNN_ERR_INVALID_ARGUMENT (nothing is written then).
 */
DCNN_API dcnn_status dcnn_top_k(const float *values, int32_t n, int32_t k, int32_t *indices, float *top_values);

DCNN_END_DECLS

#endif /* DIGITCNN_PREDICT_H */
/** @} */
