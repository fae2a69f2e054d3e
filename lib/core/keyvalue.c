/* The "key=value key=value" reader (keyvalue.h). Pairs are separated by
 * spaces; values hold no spaces. */
#include "keyvalue.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "c_locale.h"

#define VALUE_BYTES 64 /* longer values are refused: no number or name needs more */
/* Halfway between FLT_MAX and 2^128: a double below it in magnitude rounds to a finite float (FLT_MAX
 * printed to 9 digits, 3.40282347e+38, is above FLT_MAX and must be read back). NaN compares false. */
#define FLOAT_ROUNDS_FINITE 0x1.ffffffp127

dcnn__kv dcnn__kv_reader(const char *text) {
  dcnn__kv kv;
  memset(&kv, 0, sizeof kv);
  kv.text = text ? text : "";
  return kv;
}

/* The next pair at or after `p`: its start and length (0 at the end). */
static const char *next_pair(const char *p, size_t *len) {
  while (*p == ' ') ++p;
  const char *end = strchr(p, ' ');
  *len = end ? (size_t)(end - p) : strlen(p);
  return p;
}

/* Copies the value of `key` into `value`: 1, or 0 when the key is absent, -1
 * when its value is too long. */
static int find_value(const char *text, const char *key, char value[VALUE_BYTES]) {
  const size_t n = strlen(key);
  size_t len = 0;
  for (const char *p = next_pair(text, &len); len; p = next_pair(p + len, &len))
    if (len > n && !strncmp(p, key, n) && p[n] == '=') {
      const size_t v = len - n - 1;
      if (v + 1 > VALUE_BYTES) return -1;
      memcpy(value, p + n + 1, v);
      value[v] = '\0';
      return 1;
    }
  return 0;
}

/* Records that `key` was asked for and finds its value. */
static dcnn_status ask(dcnn__kv *kv, const char *key, char value[VALUE_BYTES]) {
  DCNN_CHECK(key != NULL && kv->asked_count < DCNN__KV_MAX_KEYS, DCNN_ERR_INVALID_ARGUMENT,
             "key=value reader: more than %d keys", DCNN__KV_MAX_KEYS);
  kv->asked[kv->asked_count++] = key;
  const int found = find_value(kv->text, key, value);
  DCNN_CHECK(found != 0, DCNN_ERR_BAD_FORMAT, "missing '%s' in \"%.80s\"", key, kv->text);
  DCNN_CHECK(found > 0, DCNN_ERR_BAD_FORMAT, "'%s' has a value of %d bytes or more in \"%.80s\"", key, VALUE_BYTES,
             kv->text);
  /* strtol and strtod would skip it; a value is what follows '=' up to the next space, whole */
  DCNN_CHECK(!isspace((unsigned char)value[0]), DCNN_ERR_BAD_FORMAT, "'%s' has a value starting with white space",
             key);
  return DCNN_OK;
}

dcnn_status dcnn__kv_int(dcnn__kv *kv, const char *key, int32_t min, int32_t max, int32_t *out) {
  char value[VALUE_BYTES], *end = NULL;
  DCNN_TRY(ask(kv, key, value));
  errno = 0;
  const long v = strtol(value, &end, 10);
  DCNN_CHECK(!errno && end != value && !*end && v >= min && v <= max, DCNN_ERR_BAD_FORMAT,
             "'%s=%s' is not a whole number in %d..%d", key, value, (int)min, (int)max);
  *out = (int32_t)v;
  return DCNN_OK;
}

dcnn_status dcnn__kv_float(dcnn__kv *kv, const char *key, float *out) {
  char value[VALUE_BYTES], *end = NULL;
  DCNN_TRY(ask(kv, key, value));
  errno = 0;
  const double v = dcnn__parse_double(value, &end);
  /* ERANGE below double's normal range is a number that rounds toward 0 (1e-320), which a float holds */
  const int tiny = errno == ERANGE && fabs(v) < 1.0;
  DCNN_CHECK((!errno || tiny) && end != value && !*end && fabs(v) < FLOAT_ROUNDS_FINITE, DCNN_ERR_BAD_FORMAT,
             "'%s=%s' is not a finite number a float holds (magnitude at most 3.40282347e+38)", key, value);
  *out = (float)v;
  return DCNN_OK;
}

dcnn_status dcnn__kv_choice(dcnn__kv *kv, const char *key, const char *const *names, int32_t count, int32_t *out) {
  char value[VALUE_BYTES];
  DCNN_TRY(ask(kv, key, value));
  for (int32_t i = 0; i < count; ++i)
    if (!strcmp(value, names[i])) {
      *out = i;
      return DCNN_OK;
    }
  char known[256] = "";
  for (int32_t i = 0, used = 0; i < count && used < (int32_t)sizeof known; ++i)
    used += snprintf(known + used, sizeof known - (size_t)used, "%s%s", i ? " or " : "", names[i]);
  return dcnn__fail(DCNN_ERR_BAD_FORMAT, "'%s=%s' is not %s", key, value, known);
}

/* A key of the text: where it starts and its length. */
typedef struct key_span {
  const char *at;
  size_t length;
} key_span;

/* By key, then by position: equal keys end up adjacent, earliest first. */
static int by_key_then_position(const void *a, const void *b) {
  const key_span *x = a, *y = b;
  const int c = memcmp(x->at, y->at, x->length < y->length ? x->length : y->length);
  if (c) return c;
  if (x->length != y->length) return x->length < y->length ? -1 : 1;
  return (x->at > y->at) - (x->at < y->at);
}

/* Pairs up to this many are compared with every earlier one, without memory;
 * more are sorted, so a crafted configuration of a million keys (a model
 * file's 16 MiB line) costs n log n, not hours. */
#define PAIRS_COMPARED_DIRECTLY 32

dcnn_status dcnn__kv_check_pairs(const dcnn__kv *kv) {
  size_t len = 0, pairs = 0;
  /* the first word that is not key=value, in text order; NULL if none */
  const char *malformed = NULL;
  size_t malformed_len = 0;
  for (const char *p = next_pair(kv->text, &len); len; p = next_pair(p + len, &len)) {
    const char *eq = memchr(p, '=', len);
    if (!malformed && (eq == NULL || eq == p)) {
      malformed = p;
      malformed_len = len;
    }
    if (!malformed) ++pairs;
  }
  /* Only the pairs before the first malformed word can hold an earlier error:
   * a key repeated there is reported, else the malformed word. */
  const char *repeated = NULL; /* the second occurrence of a key, earliest in the text */
  size_t repeated_len = 0;
  if (pairs <= PAIRS_COMPARED_DIRECTLY) {
    size_t i = 0;
    for (const char *p = next_pair(kv->text, &len); len && i < pairs && !repeated; p = next_pair(p + len, &len), ++i) {
      const size_t n = (size_t)((const char *)memchr(p, '=', len) - p);
      size_t earlier_len = 0;
      for (const char *q = next_pair(kv->text, &earlier_len); q < p; q = next_pair(q + earlier_len, &earlier_len))
        if (earlier_len > n && q[n] == '=' && !strncmp(q, p, n)) {
          repeated = p;
          repeated_len = n;
          break;
        }
    }
  } else {
    key_span *keys = dcnn__alloc(kv->ctx, pairs * sizeof *keys);
    DCNN_CHECK(keys != NULL, DCNN_ERR_OUT_OF_MEMORY, "key=value reader: out of memory for %zu pairs", pairs);
    size_t i = 0;
    for (const char *p = next_pair(kv->text, &len); len && i < pairs; p = next_pair(p + len, &len), ++i)
      keys[i] = (key_span){p, (size_t)((const char *)memchr(p, '=', len) - p)};
    qsort(keys, pairs, sizeof *keys, by_key_then_position);
    for (i = 1; i < pairs; ++i)
      if (keys[i].length == keys[i - 1].length && !memcmp(keys[i].at, keys[i - 1].at, keys[i].length) &&
          (!repeated || keys[i].at < repeated)) {
        repeated = keys[i].at;
        repeated_len = keys[i].length;
      }
    dcnn__release(kv->ctx, keys);
  }
  /* A key given twice would be read from its first pair only: refused rather than half-honoured. */
  DCNN_CHECK(!repeated, DCNN_ERR_BAD_FORMAT, "key '%.*s' given twice", (int)(repeated_len > 64 ? 64 : repeated_len),
             repeated);
  DCNN_CHECK(!malformed, DCNN_ERR_BAD_FORMAT, "'%.*s' is not key=value", (int)(malformed_len > 64 ? 64 : malformed_len),
             malformed);
  return DCNN_OK;
}

dcnn_status dcnn__kv_finish(const dcnn__kv *kv) {
  DCNN_TRY(dcnn__kv_check_pairs(kv));
  size_t len = 0;
  for (const char *p = next_pair(kv->text, &len); len; p = next_pair(p + len, &len)) {
    const size_t n = (size_t)((const char *)memchr(p, '=', len) - p);
    int known = 0;
    for (int32_t i = 0; i < kv->asked_count && !known; ++i)
      known = strlen(kv->asked[i]) == n && !strncmp(kv->asked[i], p, n);
    if (known) continue;
    char keys[256] = "";
    for (int32_t i = 0, used = 0; i < kv->asked_count && used < (int32_t)sizeof keys; ++i)
      used += snprintf(keys + used, sizeof keys - (size_t)used, "%s%s", i ? ", " : "", kv->asked[i]);
    return dcnn__fail(DCNN_ERR_BAD_FORMAT, "unknown key '%.*s' (known: %s)", (int)(n > 64 ? 64 : n), p,
                      kv->asked_count ? keys : "none");
  }
  return DCNN_OK;
}
