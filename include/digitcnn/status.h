/**
 * @file status.h
 * @brief Status codes and per-thread error messages.
 *
 * Every fallible call returns a ::dcnn_status. On failure the library also
 * records a human-readable message for the calling thread, retrievable with
 * dcnn_last_error(), that names the culprit (layer, file, line, offset or
 * shape). The library never prints, exits or aborts on errors a caller or a
 * file can trigger.
 */
/** @addtogroup core
 * @{ */
#ifndef DIGITCNN_STATUS_H
#define DIGITCNN_STATUS_H

#include "export.h"

DCNN_BEGIN_DECLS

/**
 * @brief Result of a fallible call: 0 on success, negative on error.
 *
 * Values are never renumbered; new codes are only appended.
 */
typedef enum dcnn_status {
  DCNN_OK = 0,                     /**< Success. */
  DCNN_ERR_INVALID_ARGUMENT = -1,  /**< A NULL pointer, out-of-range value or bad option. */
  DCNN_ERR_OUT_OF_MEMORY = -2,     /**< An allocation failed. */
  DCNN_ERR_IO = -3,                /**< A file could not be opened, read or written. */
  DCNN_ERR_BAD_FORMAT = -4,        /**< A file or buffer is malformed, truncated or corrupt. */
  DCNN_ERR_SHAPE_MISMATCH = -5,    /**< Tensor shapes do not fit together. */
  DCNN_ERR_UNSUPPORTED = -6,       /**< A valid request this build or version cannot serve. */
  DCNN_ERR_NOT_FOUND = -7,         /**< A named item (layer type, file, key) does not exist. */
  DCNN_ERR_INVALID_STATE = -8,     /**< The object is not in a state that allows the call. */
  DCNN_ERR_NUMERIC = -9,           /**< NaN or infinity in inputs or results. */
  DCNN_ERR_CANCELLED = -10         /**< A callback asked to stop. */
} dcnn_status;

/**
 * @brief Short fixed description of a status code ("shape mismatch").
 * @param status Any value; unknown values give "unknown status".
 * @return A static string owned by the library; never NULL.
 * @par Thread-safety: safe to call from any thread.
 */
DCNN_API const char *dcnn_status_str(dcnn_status status);

/**
 * @brief Message describing the most recent error on the calling thread.
 *
 * Set by every failing call; successful calls leave it unchanged.
 * @return A string owned by the library, valid until the next library call on
 *         the same thread; "" when no error has occurred yet. Never NULL.
 * @par Thread-safety: each thread has its own message.
 */
DCNN_API const char *dcnn_last_error(void);

/**
 * @brief The file or directory the calling thread's most recent error is
 *        about, as the caller named it, in full.
 *
 * Messages shorten paths of 240 bytes or more to their start and end around
 * "..." (so that the reason still fits); this gives the whole path, for a
 * caller that reports it, retries, or maps the error onto its own (the Python
 * binding's OSError.filename). An error met while reading or writing a file
 * is about that file: for dcnn_dataset_load_image_list() and
 * dcnn_dataset_load_mnist_m() the list, the image directory or the one image
 * that failed (the directory the caller gave, "/", then the list's name); for
 * dcnn_dataset_load_idx() the images or the labels file; for a save, the
 * destination as given (not the file its symbolic links lead to); for
 * dcnn_trainer_fit() the checkpoint directory or the checkpoint file.
 * @return A string owned by the library, valid until the next library call on
 *         the same thread; "" when the last error named no file (or no error
 *         has occurred, or the path was 4,096 bytes or more). Never NULL.
 *         Set together with dcnn_last_error(): a later error that names no
 *         file resets it to "".
 * @par Thread-safety: each thread has its own.
 */
DCNN_API const char *dcnn_last_error_path(void);

/**
 * @brief Clears the calling thread's error message and its path.
 * @par Thread-safety: affects the calling thread only.
 */
DCNN_API void dcnn_clear_error(void);

/**
 * @brief Sets the calling thread's error message, for code the library calls
 *        back: custom layers (every ::dcnn_layer_vtable slot that returns a
 *        status), layer factories and other callbacks.
 *
 * Typical use: `return dcnn_error_set(DCNN_ERR_SHAPE_MISMATCH, "mylayer:
 * input has %d channels, expected 3", c);`. The library then returns
 * @p status to its caller with this message, prefixed with where it happened
 * ("layer 2 (mylayer) forward: ..."). A callback that returns an error without
 * calling this gets a generic message naming it instead ("layer 2 (mylayer)
 * forward: failed with 'shape mismatch' without setting a message"), never
 * the text of an earlier error.
 * @param status The status to return; any value (normally an error code).
 * @param fmt printf-style format of the message (truncated to 1023 bytes);
 *        NULL sets the message to dcnn_status_str(@p status). The arguments
 *        may include dcnn_last_error() itself.
 * @return @p status.
 * @par Thread-safety: writes the calling thread's message only; call it on
 *      the thread the library called you on (not from your own worker threads).
 */
DCNN_API dcnn_status dcnn_error_set(dcnn_status status, const char *fmt, ...) DCNN_PRINTF_FORMAT(2, 3);

DCNN_END_DECLS

#endif /* DIGITCNN_STATUS_H */
/** @} */
