/* Public structs that may grow start with `size_t struct_size` (see
 * docs/api-conventions.md, "Structs that grow"). These helpers apply the
 * rules in one place: a caller's size below the first published layout is
 * refused, the library writes only the bytes the caller has, and it reads
 * only the bytes it knows (refusing set fields it does not know). */
#ifndef DCNN_CORE_STRUCT_SIZE_H
#define DCNN_CORE_STRUCT_SIZE_H

#include <stddef.h>

#include "digitcnn/communicator.h"
#include "digitcnn/context.h"
#include "digitcnn/layer_interface.h"
#include "digitcnn/onnx.h"
#include "digitcnn/profile.h"
#include "digitcnn/robustness.h"
#include "digitcnn/trainer.h"
#include "digitcnn/zoo.h"
#include "internal.h"

/* Bytes of `type` up to and including `field`: the size of the layout in
 * which `field` was the last one (stays fixed when fields are appended). */
#define DCNN__SIZE_THROUGH(type, field) (offsetof(type, field) + sizeof(((type *)0)->field))

/* The first published layout of each struct that grows (0.2): a smaller
 * struct_size is refused. Fields appended later are read or written only when
 * the caller's struct_size covers them. */
#define DCNN__ALLOCATOR_SIZE_0_2 DCNN__SIZE_THROUGH(dcnn_allocator, user)
#define DCNN__PARAM_SIZE_0_2 DCNN__SIZE_THROUGH(dcnn_param, flags)
#define DCNN__ATTACK_SIZE_0_2 DCNN__SIZE_THROUGH(dcnn_attack, seed)
#define DCNN__PROFILE_ENTRY_SIZE_0_2 DCNN__SIZE_THROUGH(dcnn_profile_entry, algorithm)
#define DCNN__EPOCH_STATS_SIZE_0_2 DCNN__SIZE_THROUGH(dcnn_epoch_stats, val_accuracy)
#define DCNN__ZOO_OPTIONS_SIZE_0_2 DCNN__SIZE_THROUGH(dcnn_zoo_options, batch_norm)
#define DCNN__BATCH_HOOK_SIZE_0_2 DCNN__SIZE_THROUGH(dcnn_batch_hook, load_state)
#define DCNN__ONNX_EXPORT_OPTIONS_SIZE_0_2 DCNN__SIZE_THROUGH(dcnn_onnx_export_options, output_name)
#define DCNN__COMMUNICATOR_SIZE_0_2 DCNN__SIZE_THROUGH(dcnn_communicator, release)

/* The padding trap: a caller's struct_size is sizeof its struct, tail padding
 * included, so a field appended into an old layout's tail padding is covered
 * by an old caller's struct_size while its bytes are that caller's garbage.
 * After dcnn__struct_read, reset such fields to their defaults unless the
 * caller's size reaches the end of the newest field read (dcnn_zoo_options:
 * width_multiplier sits in 0.2's padding, see lib/zoo/zoo.c). Audit
 * 2026-12-02: dcnn_param, dcnn_attack, dcnn_profile_entry, dcnn_epoch_stats,
 * dcnn_allocator have not grown since 0.2; dcnn_batch_hook grew by
 * transform_slice after load_state, a pointer (no tail padding before it);
 * dcnn_communicator and dcnn_onnx_export_options are new and end with a
 * pointer (no tail padding); dcnn_communicator then grew by three function
 * pointers after release (allreduce_start, _test, _wait). dcnn_zoo_options
 * then ended at extra_blocks with 4 bytes of tail padding: the next field,
 * extra_stages, follows an int32 `reserved` that fills them, so a caller of
 * that layout (struct_size 64 on LP64) does not reach it; extra_stages
 * leaves 4 bytes of tail padding again, which the next field must skip the
 * same way. */

/* No struct that grows will reach this size: a larger struct_size is an
 * unset one (stack garbage), refused rather than read or written up to. */
#define DCNN__STRUCT_SIZE_MAX 4096

/* DCNN_OK if `given` (a caller's struct_size) is at least `min` and at most
 * DCNN__STRUCT_SIZE_MAX; else DCNN_ERR_INVALID_ARGUMENT naming `fn` and `type`. */
dcnn_status dcnn__struct_size_check(const char *fn, const char *type, size_t given, size_t min);

/* Copies the library's filled struct `full` (`full_size` bytes) into the
 * caller's `out`, of out->struct_size bytes (checked against `min` first);
 * out->struct_size is kept. */
dcnn_status dcnn__struct_fill(const char *fn, const char *type, void *out, const void *full, size_t full_size,
                              size_t min);

/* Fills an initialiser's caller struct `out` from the library's `full`:
 * as dcnn__struct_fill, and bytes past `full_size` up to out->struct_size
 * (fields of a newer header) are zeroed, the value this library accepts
 * for fields it does not know. */
dcnn_status dcnn__struct_init(const char *fn, const char *type, void *out, const void *full, size_t full_size,
                              size_t min);

/* Reads the caller's struct `in` into the library's `full` (`full_size`
 * bytes): fields the caller's layout lacks stay as `full` had them (the
 * defaults), full's struct_size becomes `full_size`. Refuses a size below
 * `min`, and a larger layout whose unknown bytes are not all zero
 * (DCNN_ERR_UNSUPPORTED: a field this library cannot honour). */
dcnn_status dcnn__struct_read(const char *fn, const char *type, void *full, size_t full_size, const void *in,
                              size_t min);

#endif
