/* Key/value metadata carried by a model and its file (preprocessing, class
 * names, training summary). Kept sorted so that files are byte-identical for
 * the same content. */
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

#define VALUE_MAX 65536

int dcnn__valid_key(const char *key) {
  const size_t n = strlen(key);
  if (n == 0 || n > 63) return 0;
  for (size_t i = 0; i < n; ++i) {
    const char c = key[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
      return 0;
  }
  return 1;
}

/* The entries live after this header, in one allocation: it keeps the sum of their line_bytes, so that a set need
 * not add them all up again (importing 65,535 entries took 7 s), and it moves with them when models swap their
 * entry arrays (dcnn__model_adopt). The union keeps the entries after it aligned. */
typedef union entries_header {
  int64_t text; /* line_bytes of every entry, library_version's included */
  dcnn_meta_entry align;
} entries_header;

static entries_header *header(const dcnn_model *m) {
  return m->metadata ? (entries_header *)(void *)m->metadata - 1 : NULL;
}

/* Adds `bytes` (negative: removes) to the entries' text. */
static void count_text(dcnn_model *m, int64_t bytes) { header(m)->text += bytes; }

void dcnn__model_free_metadata(dcnn_model *m) {
  for (int32_t i = 0; i < m->metadata_count; ++i) dcnn__release(m->ctx, m->metadata[i].value);
  dcnn__release(m->ctx, header(m));
  m->metadata = NULL;
  m->metadata_count = 0;
}

/* The array's capacity follows its size (powers of two), so n appends cost O(n) copies in all. */
static int32_t capacity_for(int32_t n) {
  int32_t c = 8;
  while (c < n) c *= 2;
  return c;
}

/* Makes room for one more entry. */
static dcnn_status reserve_one(dcnn_model *m) {
  DCNN_CHECK(m->metadata_count < DCNN__METADATA_MAX_ENTRIES, DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_model_set_metadata: a model holds at most %d metadata entries", DCNN__METADATA_MAX_ENTRIES);
  if (m->metadata && capacity_for(m->metadata_count + 1) == capacity_for(m->metadata_count)) return DCNN_OK;
  entries_header *grown =
      dcnn__alloc(m->ctx, sizeof *grown + (size_t)capacity_for(m->metadata_count + 1) * sizeof(dcnn_meta_entry));
  DCNN_CHECK(grown != NULL, DCNN_ERR_OUT_OF_MEMORY, "dcnn_model_set_metadata: out of memory");
  grown->text = m->metadata ? header(m)->text : 0;
  dcnn_meta_entry *entries = (dcnn_meta_entry *)(void *)(grown + 1);
  if (m->metadata_count) memcpy(entries, m->metadata, (size_t)m->metadata_count * sizeof *entries);
  dcnn__release(m->ctx, header(m));
  m->metadata = entries;
  return DCNN_OK;
}

static char *copy_value(dcnn_model *m, const char *value) {
  const size_t n = strlen(value) + 1;
  char *copy = dcnn__alloc(m->ctx, n);
  if (copy) memcpy(copy, value, n);
  return copy;
}

/* Bytes of the entry's line in a model file: "key=value\n", with '\\' and line breaks escaped (model_file.c). */
static int64_t line_bytes(const char *key, const char *value) {
  int64_t n = (int64_t)strlen(key) + 2;
  for (const char *v = value; *v; ++v) n += *v == '\\' || *v == '\n' ? 2 : 1;
  return n;
}

static int32_t lower_bound(const dcnn_model *m, const char *key) {
  int32_t lo = 0, hi = m->metadata_count;
  while (lo < hi) {
    const int32_t mid = lo + (hi - lo) / 2;
    if (strcmp(m->metadata[mid].key, key) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/* Index of the library_version entry (the keys are sorted), or -1. */
static int32_t version_entry(const dcnn_model *m) {
  const int32_t at = lower_bound(m, "library_version");
  return at < m->metadata_count && !strcmp(m->metadata[at].key, "library_version") ? at : -1;
}

/* The metadata text a save writes, without the library_version line it always rewrites. */
static int64_t saved_text(const dcnn_model *m) {
  const int64_t n = m->metadata ? header(m)->text : 0;
  const int32_t version = version_entry(m);
  return version < 0 ? n : n - m->metadata[version].line_bytes;
}

static dcnn_status check_entry(const char *key, const char *value) {
  DCNN_CHECK(dcnn__valid_key(key), DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_model_set_metadata: '%.64s' is not a valid key (1-63 of a-z A-Z 0-9 _ . -)", key);
  DCNN_CHECK(!value || strlen(value) <= VALUE_MAX, DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_model_set_metadata: the value of '%s' is longer than %d bytes", key, VALUE_MAX);
  return DCNN_OK;
}

dcnn_status dcnn_model_set_metadata(dcnn_model *m, const char *key, const char *value) {
  DCNN_CHECK_ARG_AS(m, "model");
  DCNN_CHECK_ARG(key);
  DCNN_TRY(check_entry(key, value));
  const int32_t at = lower_bound(m, key);
  const int exists = at < m->metadata_count && !strcmp(m->metadata[at].key, key);
  if (!value) {
    if (exists) {
      count_text(m, -m->metadata[at].line_bytes);
      dcnn__release(m->ctx, m->metadata[at].value);
      memmove(&m->metadata[at], &m->metadata[at + 1], (size_t)(m->metadata_count - at - 1) * sizeof *m->metadata);
      m->metadata_count--;
    }
    return DCNN_OK;
  }
  /* A model file holds 16 MiB of metadata text: refuse here what the save could not write. */
  const int64_t bytes = line_bytes(key, value);
  if (strcmp(key, "library_version") != 0) {
    const int64_t total = saved_text(m) - (exists ? m->metadata[at].line_bytes : 0) + bytes;
    DCNN_CHECK(total <= DCNN__METADATA_MAX_TEXT, DCNN_ERR_INVALID_ARGUMENT,
               "dcnn_model_set_metadata: '%s' would make the metadata %lld bytes of text, more than the %lld a model "
               "file holds (16 MiB less 256 bytes for the library version)",
               key, (long long)total, (long long)DCNN__METADATA_MAX_TEXT);
  }
  if (!exists && strcmp(key, "library_version") != 0) {
    /* Every save adds a library_version entry: leave room for it in the file. */
    const int32_t others = m->metadata_count - (version_entry(m) >= 0);
    DCNN_CHECK(others < DCNN__METADATA_MAX_ENTRIES - 1, DCNN_ERR_INVALID_ARGUMENT,
               "dcnn_model_set_metadata: a model holds at most %d metadata entries besides library_version",
               DCNN__METADATA_MAX_ENTRIES - 1);
  }
  if (!exists) DCNN_TRY(reserve_one(m));
  char *copy = copy_value(m, value);
  DCNN_CHECK(copy != NULL, DCNN_ERR_OUT_OF_MEMORY, "dcnn_model_set_metadata: out of memory");
  if (exists) {
    count_text(m, bytes - m->metadata[at].line_bytes);
    dcnn__release(m->ctx, m->metadata[at].value);
    m->metadata[at].value = copy;
    m->metadata[at].line_bytes = bytes;
    return DCNN_OK;
  }
  memmove(&m->metadata[at + 1], &m->metadata[at], (size_t)(m->metadata_count - at) * sizeof *m->metadata);
  memset(m->metadata[at].key, 0, sizeof m->metadata[at].key);
  memcpy(m->metadata[at].key, key, strlen(key));
  m->metadata[at].value = copy;
  m->metadata[at].line_bytes = bytes;
  m->metadata_count++;
  count_text(m, bytes);
  return DCNN_OK;
}

dcnn_status dcnn__model_append_metadata(dcnn_model *m, const char *key, const char *value) {
  DCNN_TRY(check_entry(key, value));
  DCNN_TRY(reserve_one(m));
  char *copy = copy_value(m, value);
  DCNN_CHECK(copy != NULL, DCNN_ERR_OUT_OF_MEMORY, "dcnn_model_set_metadata: out of memory");
  dcnn_meta_entry *e = &m->metadata[m->metadata_count++];
  memset(e->key, 0, sizeof e->key);
  memcpy(e->key, key, strlen(key));
  e->value = copy;
  e->line_bytes = line_bytes(key, value);
  count_text(m, e->line_bytes);
  return DCNN_OK;
}

static int compare_entries(const void *a, const void *b) {
  return strcmp(((const dcnn_meta_entry *)a)->key, ((const dcnn_meta_entry *)b)->key);
}

const char *dcnn__model_sort_metadata(dcnn_model *m) {
  if (m->metadata_count > 1) qsort(m->metadata, (size_t)m->metadata_count, sizeof *m->metadata, compare_entries);
  for (int32_t i = 1; i < m->metadata_count; ++i)
    if (!strcmp(m->metadata[i - 1].key, m->metadata[i].key)) return m->metadata[i].key;
  return NULL;
}

const char *dcnn_model_metadata(const dcnn_model *m, const char *key) {
  if (!m || !key) return NULL;
  const int32_t at = lower_bound(m, key);
  return at < m->metadata_count && !strcmp(m->metadata[at].key, key) ? m->metadata[at].value : NULL;
}

int32_t dcnn_model_metadata_count(const dcnn_model *m) { return m ? m->metadata_count : 0; }

dcnn_status dcnn_model_metadata_entry(const dcnn_model *m, int32_t index, const char **key, const char **value) {
  DCNN_CHECK_ARG_AS(m, "model");
  DCNN_CHECK(index >= 0 && index < m->metadata_count, DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_model_metadata_entry: index %d outside 0..%d", (int)index, (int)m->metadata_count - 1);
  if (key) *key = m->metadata[index].key;
  if (value) *value = m->metadata[index].value;
  return DCNN_OK;
}
