/* "key=value key=value" texts: the configurations layers' describe slots
 * write into model files, and the preprocessing a model file records. One
 * reader for all of them, so every reader reports a missing key, a bad value
 * and a key it does not know in the same words. Messages name the key; the
 * caller prefixes the reader's name (layer type, function) with
 * dcnn__wrap_error. Numbers are read in the C locale (c_locale.h). */
#ifndef DCNN_CORE_KEYVALUE_H
#define DCNN_CORE_KEYVALUE_H

#include <stdint.h>

#include "internal.h"

/* Keys one reader may ask for (a layer has at most 5, the pipeline 10). */
#define DCNN__KV_MAX_KEYS 16

typedef struct dcnn__kv {
  const char *text;                     /* "k=v k=v" (borrowed; NULL reads as "") */
  const char *asked[DCNN__KV_MAX_KEYS]; /* keys asked for so far (borrowed: string literals) */
  int32_t asked_count;
  dcnn_context *ctx; /* allocates the sorted keys of long texts: the caller's context, NULL for the default */
} dcnn__kv;

/* A reader over `text` (borrowed until the last call). */
dcnn__kv dcnn__kv_reader(const char *text);

/* A whole number in [min, max]. DCNN_ERR_BAD_FORMAT: the key is missing or its value is not one. */
dcnn_status dcnn__kv_int(dcnn__kv *kv, const char *key, int32_t min, int32_t max, int32_t *out);

/* A finite float. DCNN_ERR_BAD_FORMAT: missing, or not a finite number. */
dcnn_status dcnn__kv_float(dcnn__kv *kv, const char *key, float *out);

/* The index in names[0..count) of the value. DCNN_ERR_BAD_FORMAT: missing, or none of them. */
dcnn_status dcnn__kv_choice(dcnn__kv *kv, const char *key, const char *const *names, int32_t count, int32_t *out);

/* DCNN_ERR_BAD_FORMAT naming the first word that is not "key=value" (with a
 * key of at least one character) or whose key an earlier pair gave already.
 * For readers that cannot know every key (dcnn_config_int): dcnn__kv_finish
 * checks this too. */
dcnn_status dcnn__kv_check_pairs(const dcnn__kv *kv);

/* After the reads: DCNN_ERR_BAD_FORMAT naming the first pair whose key no
 * read asked for (a misspelt or foreign key, listing the known ones), or that
 * is not "key=value". */
dcnn_status dcnn__kv_finish(const dcnn__kv *kv);

#endif
