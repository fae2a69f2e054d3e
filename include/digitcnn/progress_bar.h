/**
 * @file progress_bar.h
 * @brief An opt-in Keras-style progress display for dcnn_trainer_fit(): a
 *        ready-made progress callback that writes to a stream the caller
 *        gives, and the formatting it uses, for callers that draw elsewhere.
 *
 * @code{.c}
 * dcnn_progress_bar *bar = NULL;
 * dcnn_progress_bar_create(ctx, stdout, DCNN_PROGRESS_BAR_AUTO, &bar);
 * dcnn_trainer_set_progress(trainer, dcnn_progress_bar_callback, bar);
 * dcnn_trainer_fit(trainer, train, validation, pipeline);
 * dcnn_progress_bar_destroy(bar);
 * @endcode
 *
 * Output, as the trainer printed it up to 0.1: "Epoch 2/10", then a live bar
 * (`  37/1250 [>.....] - ETA: 41s - accuracy: 0.6012 - loss: 1.1534`,
 * redrawn in place at most every 0.1 s) that the epoch's line replaces
 * (`1250/1250 - 44s 33ms/step - accuracy: ... - val_loss: ... - lr: 1.00e-03`),
 * and at the end the early-stopping and restored-weights notes.
 *
 * Ownership: the bar borrows the stream, which must outlive it.
 * Thread-safety: one fit at a time per bar.
 */
/** @addtogroup training
 * @{ */
#ifndef DIGITCNN_PROGRESS_BAR_H
#define DIGITCNN_PROGRESS_BAR_H

#include <stddef.h>
#include <stdio.h>

#include "context.h"
#include "export.h"
#include "progress.h"
#include "status.h"

DCNN_BEGIN_DECLS

/** @brief Opaque progress bar. */
typedef struct dcnn_progress_bar dcnn_progress_bar;

/** @brief How a bar draws (dcnn_progress_bar_create()). */
typedef enum dcnn_progress_bar_style {
  DCNN_PROGRESS_BAR_AUTO = 0,  /**< LIVE when the stream is a terminal, else LINES. */
  DCNN_PROGRESS_BAR_LINES = 1, /**< "Epoch e/E" and one line per epoch; no escapes, for logs and pipes. */
  DCNN_PROGRESS_BAR_LIVE = 2   /**< Also a bar redrawn in place within the epoch (a carriage return and the ANSI erase-line escape). */
} dcnn_progress_bar_style;

/**
 * @brief Creates a bar writing to @p stream.
 * @param ctx Context (its allocator), or NULL.
 * @param stream Where to write (borrowed; e.g. stdout). Not NULL.
 * @param style See ::dcnn_progress_bar_style.
 * @param[out] out The bar; free it with dcnn_progress_bar_destroy().
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT (NULL @p stream or @p out,
 *         unknown style), #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_progress_bar_create(dcnn_context *ctx, FILE *stream, dcnn_progress_bar_style style,
                                              dcnn_progress_bar **out);

/**
 * @brief Destroys a bar (not its stream). NULL is allowed.
 * @param bar The bar.
 */
DCNN_API void dcnn_progress_bar_destroy(dcnn_progress_bar *bar);

/**
 * @brief The bar's progress callback: pass it to dcnn_trainer_set_progress()
 *        with the bar as the user pointer. It writes and flushes the stream
 *        and never cancels; write errors are left in the stream's error flag.
 * @param progress The report.
 * @param bar A ::dcnn_progress_bar (NULL: writes nothing).
 * @return #DCNN_PROGRESS_CONTINUE.
 */
DCNN_API dcnn_progress_action dcnn_progress_bar_callback(const dcnn_progress *progress, void *bar);

/**
 * @brief The text the bar shows for @p progress, without escapes, carriage
 *        returns or a final newline, for callers that display it themselves
 *        (the Python binding does): "Epoch e/E" at #DCNN_PROGRESS_EPOCH_BEGIN,
 *        the bar at #DCNN_PROGRESS_STEP, the epoch's line at
 *        #DCNN_PROGRESS_EPOCH_END, the early-stopping and restored-weights
 *        notes (joined by a newline, "" if neither) at #DCNN_PROGRESS_FIT_END.
 *        Durations of 100000 hours or more (an infinite ETA included) show
 *        as ">99999h".
 * @param progress The report.
 * @param[out] text Receives the text, NUL-terminated; cut short when
 *        @p size is too small (256 bytes always suffice).
 * @param size Bytes at @p text, >= 1.
 * @return #DCNN_OK or #DCNN_ERR_INVALID_ARGUMENT (NULL pointer, @p size 0, a
 *         report without the fields of this version, unknown event).
 * @par Thread-safety: safe from any thread (no state).
 */
DCNN_API dcnn_status dcnn_progress_format(const dcnn_progress *progress, char *text, size_t size);

DCNN_END_DECLS

#endif /* DIGITCNN_PROGRESS_BAR_H */
/** @} */
