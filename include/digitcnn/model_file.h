/**
 * @file model_file.h
 * @brief Saving and loading models (format: docs/model-format.md).
 *
 * A model file holds the architecture (layer type names and configurations,
 * residual blocks with their sub-layers), metadata (preprocessing, class
 * names, training summary, library version) and every parameter and buffer
 * (batch-norm statistics), in sections each protected by a CRC-32 and
 * optionally compressed with zlib; training checkpoints add the optimizer and
 * trainer state (see dcnn_trainer_save_checkpoint()). Saving is atomic: a temporary file in the same
 * directory is written, flushed, fsync'd and renamed over the destination, so
 * an interrupted save leaves the previous file intact. The new file keeps the
 * permissions of the file it replaces; a new one gets 0666 less the umask,
 * as open() would give it (every file the library writes does the same).
 * A destination that is a symbolic link is followed: its target is replaced
 * and the link kept; a FIFO, a device, a socket or a directory is refused
 * (#DCNN_ERR_IO), not replaced by a regular file.
 * Loading validates the
 * whole file before building anything and never crashes on hostile input.
 *
 * Thread-safety: saving reads the model (no concurrent training); loading
 * creates a new model and may run in any thread.
 */
/** @addtogroup models
 * @{ */
#ifndef DIGITCNN_MODEL_FILE_H
#define DIGITCNN_MODEL_FILE_H

#include <stddef.h>

#include "context.h"
#include "export.h"
#include "model.h"
#include "status.h"

DCNN_BEGIN_DECLS

/** Model file format version written by this library. */
#define DCNN_MODEL_FORMAT_VERSION 2

/**
 * @brief Saves a model's architecture, parameters and buffers, atomically.
 * @param model The model (read only).
 * @param path Destination; replaced only once the new file is complete.
 *        Metadata (dcnn_model_set_metadata()) is saved with it, plus the
 *        library's version under "library_version". Sections are stored
 *        uncompressed.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT, #DCNN_ERR_UNSUPPORTED (a
 *         layer whose type name or configuration cannot be written or would
 *         not load again (a built-in's size beyond its reader's range, a
 *         custom layer's describe() failing), or a model beyond a limit of
 *         docs/model-format.md, named in the message: nothing is written
 *         that dcnn_model_load() would refuse: each configuration is read
 *         back as a load would, so a registered type's factory is called
 *         once per layer of it; one of a type not registered in this
 *         program is left to the loading one),
 *         #DCNN_ERR_NUMERIC (a parameter that is not finite, or a built-in
 *         batch norm's negative running variance), #DCNN_ERR_IO,
 *         #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_model_save(const dcnn_model *model, const char *path);

/**
 * @brief dcnn_model_save() with every section compressed by zlib, except
 *        those that compression does not shrink or shrinks beyond the
 *        loader's 64:1 limit (docs/model-format.md), which are stored.
 * @param model The model (read only).
 * @param path Destination; replaced only once the new file is complete.
 * @param level 0 (stored, as dcnn_model_save()) or a zlib level 1 (fastest) .. 9 (smallest).
 * @return As dcnn_model_save(); #DCNN_ERR_INVALID_ARGUMENT for a bad level.
 */
DCNN_API dcnn_status dcnn_model_save_compressed(const dcnn_model *model, const char *path, int level);

/**
 * @brief Loads a model saved by dcnn_model_save().
 * @param ctx Context for the new model, or NULL.
 * @param path The file.
 * @param[out] out The model; NULL on failure. The caller owns it.
 * @return #DCNN_OK; #DCNN_ERR_IO (cannot read); #DCNN_ERR_BAD_FORMAT (wrong
 *         magic, checksum mismatch, truncation, malformed architecture or
 *         parameters that do not fit it, a value that is not finite or a
 *         built-in batch norm's negative running variance, each named with
 *         its byte offset or line; a file over one of the limits of docs/model-format.md, which
 *         bound the time and memory a load takes by the file's size);
 *         #DCNN_ERR_UNSUPPORTED (a newer format version);
 *         #DCNN_ERR_NOT_FOUND (an unknown layer type, with the known ones
 *         listed; register user-defined types first, see registry.h);
 *         #DCNN_ERR_OUT_OF_MEMORY. Files of every earlier format version load
 *         if they are within those limits, which are new in 0.2.0: an older
 *         file beyond one (more than 16,384 layers, say, or a section that a
 *         development build compressed beyond 64:1) is refused.
 */
DCNN_API dcnn_status dcnn_model_load(dcnn_context *ctx, const char *path, dcnn_model **out);

/**
 * @brief dcnn_model_load() from a file's bytes in memory.
 * @param ctx Context for the new model, or NULL.
 * @param data The bytes (borrowed; not modified).
 * @param size Their number.
 * @param[out] out The model; NULL on failure. The caller owns it.
 * @return As dcnn_model_load(), errors naming "<memory>" as the file.
 */
DCNN_API dcnn_status dcnn_model_load_memory(dcnn_context *ctx, const void *data, size_t size, dcnn_model **out);

DCNN_END_DECLS

#endif /* DIGITCNN_MODEL_FILE_H */
/** @} */
