/* Image-list loader ("<relative path> <label>" lines, PNG images via
 * png_read.c) and the MNIST-M layout on top of it.
 *
 * Hostile lists cost at most what they hold: the list and every image must be
 * a regular file of at most DCNN_LIST_MAX_FILE_BYTES (a FIFO or a device is
 * refused before anything is read from it, so nothing blocks), and each image
 * is resolved (symlinks followed) and must stay inside the image directory. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../io/bytes.h"
#include "../io/png_read.h"
#include "data_internal.h"

#define MAX_FILE_BYTES (UINT64_C(1) << 30)

/* Reads a whole regular file (bytes.c's hardened reader, so a FIFO or a
 * device never blocks); the buffer is NUL-terminated for text parsing.
 * `shown` names the file in messages (the path as the caller wrote it). */
static dcnn_status read_file(dcnn_context *ctx, const char *path, const char *shown, char **data, int64_t *size) {
  uint8_t *bytes = NULL;
  uint64_t length = 0;
  *data = NULL;
  DCNN_TRY(dcnn__read_file_in(ctx, path, shown, MAX_FILE_BYTES, &bytes, &length));
  *data = (char *)bytes;
  *size = (int64_t)length;
  return DCNN_OK;
}

typedef struct list_entry {
  int64_t name;   /* offset of the NUL-terminated name in the list text */
  int32_t label;
  int32_t line;
} list_entry;

/* Rewrites a relative path in place to its normal form: no "." components, no
 * empty ones ("a//b", trailing "/"), so "./a.png" and "a.png" are one entry.
 * Returns 0, leaving it as written (the error quotes it), for a path that
 * names nothing or leaves the directory (absolute, or a ".." component). */
static int normalise_path(char *name) {
  if (name[0] == '/') return 0;
  int names_something = 0;
  for (const char *p = name; *p;) {
    const char *end = strchr(p, '/');
    if (!end) end = p + strlen(p);
    const size_t length = (size_t)(end - p);
    if (length == 2 && p[0] == '.' && p[1] == '.') return 0;
    names_something |= length > 0 && !(length == 1 && p[0] == '.');
    p = *end ? end + 1 : end;
  }
  if (!names_something) return 0;
  char *out = name;
  const char *p = name;
  while (*p) {
    const char *end = strchr(p, '/');
    if (!end) end = p + strlen(p);
    const size_t length = (size_t)(end - p);
    if (length > 0 && !(length == 1 && p[0] == '.')) {
      if (out != name) *out++ = '/';
      memmove(out, p, length);
      out += length;
    }
    p = *end ? end + 1 : end;
  }
  *out = '\0';
  return 1;
}

/* `s` for a message, in at most `capacity` bytes: control characters (a
 * stray \r of a list saved with \r\r\n endings, a tab) are escaped so the
 * message shows them; bytes from 0x80 (UTF-8 names) pass unchanged. A longer
 * text ends in "...". */
static const char *visible(const char *s, char *buf, size_t capacity) {
  static const char plain[] = "\t\n\v\f\r", escaped[] = "tnvfr";
  size_t n = 0;
  for (; *s && n + 8 < capacity; ++s) {
    const unsigned char c = (unsigned char)*s;
    const char *named = c ? strchr(plain, c) : NULL;
    if (named) n += (size_t)snprintf(buf + n, capacity - n, "\\%c", escaped[named - plain]);
    else if (c < 0x20 || c == 0x7f) n += (size_t)snprintf(buf + n, capacity - n, "\\x%02x", c);
    else buf[n++] = (char)c;
  }
  if (*s) n += (size_t)snprintf(buf + n, capacity - n, "...");
  buf[n] = '\0';
  return buf;
}

/* Whitespace between a path and its label: spaces and tabs, and what strtol
 * skipped before a label when that was the second field. */
static int is_blank(char c) { return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r'; }

/* Splits a line (leading spaces and tabs skipped) into path and label in
 * place: the label is the last field (after the last space or tab) and the
 * path everything before it, so paths may hold spaces. The path ends at the
 * first space or tab of the whitespace before the label, so a \v, \f or \r
 * just before that stays in the name, as when the name ended at the first
 * space or tab: every line that rule read reads the same. Returns 0 (the
 * line untouched) when no space or tab precedes a label. */
static int split_line(char *line, char **label_text) {
  char *end = line + strlen(line);
  while (end > line && (end[-1] == ' ' || end[-1] == '\t')) --end;
  char *label = end;
  while (label > line && label[-1] != ' ' && label[-1] != '\t') --label;
  if (label == line) return 0;
  char *path_end = label;
  while (path_end > line && is_blank(path_end[-1])) --path_end;
  while (*path_end != ' ' && *path_end != '\t') ++path_end; /* stops by label[-1] at the latest */
  *end = '\0';
  *path_end = '\0';
  *label_text = label;
  return 1;
}

/* Doubles *entries' capacity (at least 64); 0 when out of memory (*entries kept). */
static int grow_entries(dcnn_context *ctx, list_entry **entries, int32_t *capacity) {
  const int64_t wanted = *capacity ? 2 * (int64_t)*capacity : 64;
  const int32_t grown = wanted < INT32_MAX ? (int32_t)wanted : INT32_MAX;
  list_entry *e = dcnn__alloc(ctx, (size_t)grown * sizeof *e);
  if (!e) return 0;
  if (*capacity) memcpy(e, *entries, (size_t)*capacity * sizeof *e);
  dcnn__release(ctx, *entries);
  *entries = e;
  *capacity = grown;
  return 1;
}

/* Splits the list text in place into entries; names become NUL-terminated
 * and normalised. */
static dcnn_status parse_list(dcnn_context *ctx, const char *path, char *text, int64_t size, int32_t classes,
                              list_entry **entries, int32_t *count) {
  int64_t lines = 1;
  for (int64_t i = 0; i < size; ++i) lines += text[i] == '\n';
  DCNN_CHECK(lines < INT32_MAX, DCNN_ERR_BAD_FORMAT, "%s: too many lines", path);
  /* (capacity) entries, grown as lines with one are found: blank lines cost nothing */
  list_entry *e = NULL;
  int32_t n = 0, line = 0, capacity = 0;
  char *p = text, *end = text + size;
  /* A UTF-8 byte-order mark (editors on Windows write one) is not part of the first path. */
  if (size >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3)) p += 3;
  dcnn_status status = DCNN_OK;
  while (p < end && status == DCNN_OK) {
    ++line;
    char *eol = memchr(p, '\n', (size_t)(end - p));
    if (!eol) eol = end;
    if (memchr(p, '\0', (size_t)(eol - p))) { /* the line is parsed as a C string: it would end there */
      status = dcnn__fail(DCNN_ERR_BAD_FORMAT, "%s:%d: the line holds a NUL byte", path, (int)line);
      break;
    }
    *eol = '\0';
    if (eol > p && eol[-1] == '\r') eol[-1] = '\0';
    char *name = p + strspn(p, " \t"), *label_text = NULL, *label_end = NULL;
    p = eol + 1;
    if (!*name) continue; /* blank line */
    char shown[256], shown_label[40];
    if (!split_line(name, &label_text)) {
      status = dcnn__fail(DCNN_ERR_BAD_FORMAT, "%s:%d: expected \"<file> <label>\", got \"%s\"", path, (int)line,
                          visible(name, shown, 80));
      break;
    }
    errno = 0;
    long label = strtol(label_text, &label_end, 10);
    if (label_end == label_text || (errno && errno != ERANGE) || *label_end != '\0') {
      status = dcnn__fail(DCNN_ERR_BAD_FORMAT, "%s:%d: label \"%s\" of %s is not an integer", path, (int)line,
                          visible(label_text, shown_label, sizeof shown_label), visible(name, shown, sizeof shown));
    } else if (errno == ERANGE) { /* a whole number, too long for a long */
      status = dcnn__fail(DCNN_ERR_BAD_FORMAT, "%s:%d: label %s of %s is outside 0..%d", path, (int)line,
                          visible(label_text, shown_label, sizeof shown_label), visible(name, shown, sizeof shown),
                          (int)classes - 1);
    } else if (label < 0 || label >= classes) {
      status = dcnn__fail(DCNN_ERR_BAD_FORMAT, "%s:%d: label %ld of %s is outside 0..%d", path, (int)line, label,
                          visible(name, shown, sizeof shown), (int)classes - 1);
    } else if (!normalise_path(name)) {
      status = dcnn__fail(DCNN_ERR_BAD_FORMAT, "%s:%d: path %s leaves the image directory or names no file", path,
                          (int)line, visible(name, shown, sizeof shown));
    } else if (n == capacity && !grow_entries(ctx, &e, &capacity)) {
      status = dcnn__fail(DCNN_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    } else {
      e[n++] = (list_entry){name - text, (int32_t)label, line};
    }
  }
  if (status == DCNN_OK && n == 0) status = dcnn__fail(DCNN_ERR_BAD_FORMAT, "%s: lists no images", path);
  if (status != DCNN_OK) {
    dcnn__release(ctx, e);
    return status;
  }
  *entries = e;
  *count = n;
  return DCNN_OK;
}

/* For the duplicate check: the name itself, so the comparator needs no state
 * outside its arguments (loads run concurrently). */
typedef struct named_line {
  const char *name;
  int32_t line;
} named_line;

static int by_name(const void *a, const void *b) {
  const named_line *x = a, *y = b;
  int c = strcmp(x->name, y->name);
  return c ? c : (x->line > y->line) - (x->line < y->line);
}

/* A duplicate file name (after normalisation) is an error naming both lines. */
static dcnn_status check_duplicates(dcnn_context *ctx, const char *path, const char *text, const list_entry *e,
                                    int32_t n) {
  named_line *sorted = dcnn__alloc(ctx, (size_t)n * sizeof *sorted);
  DCNN_CHECK(sorted != NULL, DCNN_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
  for (int32_t i = 0; i < n; ++i) sorted[i] = (named_line){text + e[i].name, e[i].line};
  qsort(sorted, (size_t)n, sizeof *sorted, by_name);
  dcnn_status status = DCNN_OK;
  char shown[256];
  for (int32_t i = 1; i < n && status == DCNN_OK; ++i)
    if (!strcmp(sorted[i].name, sorted[i - 1].name))
      status = dcnn__fail(DCNN_ERR_BAD_FORMAT, "%s:%d: duplicate entry %s (first on line %d)", path,
                          (int)sorted[i].line, visible(sorted[i].name, shown, sizeof shown), (int)sorted[i - 1].line);
  dcnn__release(ctx, sorted);
  return status;
}

/* The image directory, resolved once: images must resolve to a path below it. */
typedef struct list_root {
  const char *given;      /* as the caller wrote it, for messages */
  char resolved[PATH_MAX];
  size_t length;          /* of resolved; 0 when it is "/" */
} list_root;

static dcnn_status root_resolve(const char *given, list_root *root) {
  root->given = given;
  char short_path[DCNN__SHOWN_PATH_MAX];
  const char *shown = dcnn__shown_path(given, short_path); /* before realpath: the message's errno is its */
  DCNN_CHECK(realpath(given, root->resolved) != NULL, DCNN_ERR_IO, "%s: cannot open the image directory: %s", shown,
             strerror(errno));
  root->length = strlen(root->resolved);
  if (root->length == 1) root->length = 0; /* "/": every path is below it */
  return DCNN_OK;
}

typedef struct decode_error {
  int32_t index; /* lowest failing entry, or -1 */
  dcnn_status status;
  char message[DCNN__ERROR_CAPACITY];
  char path[DCNN__ERROR_PATH_CAPACITY]; /* the failing thread's dcnn_last_error_path() */
} decode_error;

/* Decodes the PNG `name` (relative to the root) into `pixels` (height x width
 * x channels), or only reads its size and colour when `pixels` is NULL. The
 * resolved file must lie inside the image directory: a symlink may point
 * elsewhere in it, never out of it. */
static dcnn_status decode_png_at(dcnn_context *ctx, const list_root *root, const char *name, const char *full_shown,
                                 int32_t height, int32_t width, int32_t channels, uint8_t *pixels, int32_t *found_h,
                                 int32_t *found_w, int *has_color) {
  char joined[PATH_MAX], resolved[PATH_MAX], short_path[DCNN__SHOWN_PATH_MAX];
  const char *shown = dcnn__shown_path(full_shown, short_path);
  DCNN_CHECK((size_t)snprintf(joined, sizeof joined, "%s/%s", root->resolved, name) < sizeof joined,
             DCNN_ERR_BAD_FORMAT, "%s: path too long", shown);
  DCNN_CHECK(realpath(joined, resolved) != NULL, DCNN_ERR_IO, "%s: cannot open: %s", shown, strerror(errno));
  DCNN_CHECK(!strncmp(resolved, root->resolved, root->length) && resolved[root->length] == '/', DCNN_ERR_BAD_FORMAT,
             "%s: resolves to %s, outside the image directory %s", shown, resolved, root->resolved);
  char *data = NULL;
  int64_t size = 0;
  DCNN_TRY(read_file(ctx, resolved, shown, &data, &size));
  dcnn_status status =
      dcnn__png_decode(ctx, shown, data, (size_t)size, channels, pixels, height, width, found_h, found_w, has_color);
  dcnn__release(ctx, data);
  return status;
}

static dcnn_status decode_png(dcnn_context *ctx, const list_root *root, const char *name, int32_t height,
                              int32_t width, int32_t channels, uint8_t *pixels, int32_t *found_h, int32_t *found_w,
                              int *has_color) {
  /* The image as the caller would name it: the root they gave, then the name; in messages, its bytes made visible. */
  char given[PATH_MAX], shown[PATH_MAX], shown_name[PATH_MAX];
  const int given_length = snprintf(given, sizeof given, "%s/%s", root->given, name);
  snprintf(shown, sizeof shown, "%s/%s", root->given, visible(name, shown_name, sizeof shown_name));
  /* every error here is about the image (none when its path is too long to name it whole) */
  const char *enclosing = dcnn__file_scope_enter((size_t)given_length < sizeof given ? given : NULL);
  const dcnn_status status =
      decode_png_at(ctx, root, name, shown, height, width, channels, pixels, found_h, found_w, has_color);
  dcnn__file_scope_leave(enclosing);
  return status;
}

/* Decodes every entry into the store (in parallel); sets *any_color when an
 * image has colour. The error of the lowest failing entry wins, so the message
 * does not depend on the thread count. */
static dcnn_status decode_all(dcnn_context *ctx, const char *list_path, const list_root *root, const char *text,
                              const list_entry *entries, int32_t n, dcnn_image_store *store, int *any_color) {
  const int32_t height = store->height, width = store->width, channels = store->channels;
  const int64_t image_bytes = (int64_t)height * width * channels;
  decode_error first = {-1, DCNN_OK, "", ""};
  int color_seen = 0;
  const int32_t threads = dcnn_context_threads(ctx);
#pragma omp parallel for num_threads(threads) if (threads > 1) schedule(dynamic, 64) reduction(| : color_seen)
  for (int32_t i = 0; i < n; ++i) {
    int32_t failed_before;
#pragma omp atomic read
    failed_before = first.index;
    if (failed_before >= 0 && failed_before < i) continue;
    int color = 0;
    dcnn_status st = decode_png(ctx, root, text + entries[i].name, height, width, channels,
                                store->pixels + i * image_bytes, NULL, NULL, &color);
    color_seen |= st == DCNN_OK && color;
    store->labels[i] = entries[i].label;
    store->source_offsets[i] = entries[i].name;
    if (st != DCNN_OK) {
#pragma omp critical(dcnn_image_list_error)
      if (first.index < 0 || i < first.index) {
#pragma omp atomic write
        first.index = i;
        first.status = st;
        snprintf(first.message, sizeof first.message, "%s:%d: %s", list_path, (int)entries[i].line,
                 dcnn_last_error());
        snprintf(first.path, sizeof first.path, "%s", dcnn_last_error_path());
      }
    }
  }
  *any_color = color_seen;
  if (first.index < 0) return DCNN_OK;
  const char *enclosing = dcnn__file_scope_enter(first.path); /* the message came from another thread */
  dcnn__fail(first.status, "%s", first.message);
  dcnn__file_scope_leave(enclosing);
  return first.status;
}

/* A store for the list with `channels` channels, its names copied in. The
 * sizes come from the files, so a store beyond the dataset limits is the
 * list's format error (not the caller's invalid argument), named by the line
 * of the first entry, whose image fixed the size. */
static dcnn_status list_store(dcnn_context *ctx, const char *list_path, const char *text, int64_t size,
                              const list_entry *entries, int32_t n, int32_t height, int32_t width, int32_t channels,
                              int32_t classes, dcnn_image_store **out) {
  dcnn_image_store *store = NULL;
  dcnn_status status = dcnn__store_create(ctx, n, height, width, channels, classes, &store);
  if (status == DCNN_ERR_OUT_OF_MEMORY) return status;
  if (status != DCNN_OK) {
    char shown[256];
    return dcnn__wrap_error(DCNN_ERR_BAD_FORMAT, "%s:%d: %s", list_path, (int)entries[0].line,
                            visible(text + entries[0].name, shown, sizeof shown));
  }
  store->source_offsets = dcnn__alloc(ctx, (size_t)n * sizeof(int64_t));
  store->source_text = dcnn__alloc(ctx, (size_t)size + 1);
  if (!store->source_offsets || !store->source_text) {
    dcnn__store_release(store);
    return dcnn__fail(DCNN_ERR_OUT_OF_MEMORY, "%s: out of memory", list_path);
  }
  memcpy(store->source_text, text, (size_t)size + 1);
  *out = store;
  return DCNN_OK;
}

dcnn_status dcnn_dataset_load_image_list(dcnn_context *ctx, const char *list_path, const char *image_root,
                                         int32_t classes, dcnn_dataset **out) {
  DCNN_CHECK_ARG(out);
  *out = NULL;
  DCNN_CHECK_ARG(list_path);
  DCNN_CHECK_ARG(image_root);
  char short_list[DCNN__SHOWN_PATH_MAX];
  const char *shown_list = dcnn__shown_path(list_path, short_list); /* the list's name in every message */
  DCNN_CHECK(classes >= 1, DCNN_ERR_INVALID_ARGUMENT, "%s: classes %d must be at least 1", shown_list, (int)classes);
  char *text = NULL;
  int64_t size = 0;
  list_entry *entries = NULL;
  int32_t n = 0;
  /* Errors are about the list, unless about the image directory or an image (scopes inside). */
  const char *enclosing = dcnn__file_scope_enter(list_path);
  dcnn_status status = read_file(ctx, list_path, shown_list, &text, &size);
  if (status == DCNN_OK) status = parse_list(ctx, shown_list, text, size, classes, &entries, &n);
  if (status == DCNN_OK) status = check_duplicates(ctx, shown_list, text, entries, n);
  list_root root;
  if (status == DCNN_OK) {
    (void)dcnn__file_scope_enter(image_root);
    status = root_resolve(image_root, &root);
    (void)dcnn__file_scope_enter(list_path);
  }

  /* The first image fixes the size. The colour is a guess from it: the
   * dataset is gray only when every image is gray, so a gray guess that meets
   * a colour image decodes once more as RGB. */
  int32_t height = 0, width = 0;
  int color = 0;
  if (status == DCNN_OK) {
    status = decode_png(ctx, &root, text + entries[0].name, 0, 0, 0, NULL, &height, &width, &color);
    if (status != DCNN_OK) status = dcnn__wrap_error(status, "%s:%d", shown_list, (int)entries[0].line);
  }
  dcnn_image_store *store = NULL;
  if (status == DCNN_OK)
    status = list_store(ctx, shown_list, text, size, entries, n, height, width, color ? 3 : 1, classes, &store);
  int any_color = 0;
  if (status == DCNN_OK) status = decode_all(ctx, shown_list, &root, text, entries, n, store, &any_color);
  if (status == DCNN_OK && !color && any_color) {
    dcnn__store_release(store);
    store = NULL;
    status = list_store(ctx, shown_list, text, size, entries, n, height, width, 3, classes, &store);
    if (status == DCNN_OK) status = decode_all(ctx, shown_list, &root, text, entries, n, store, &any_color);
  }
  dcnn__release(ctx, entries);
  dcnn__release(ctx, text);
  dcnn__file_scope_leave(enclosing);
  if (status != DCNN_OK) {
    dcnn__store_release(store);
    return status;
  }
  return dcnn__dataset_from_store(store, out);
}

dcnn_status dcnn_dataset_load_mnist_m(dcnn_context *ctx, const char *root, dcnn_mnist_m_split which,
                                      dcnn_dataset **out) {
  DCNN_CHECK_ARG(out);
  *out = NULL;
  DCNN_CHECK_ARG(root);
  /* "" would make "/mnist_m_train_labels.txt", a search of the file system's root */
  DCNN_CHECK(root[0], DCNN_ERR_INVALID_ARGUMENT, "dcnn_dataset_load_mnist_m: the root path is empty (\".\" is the "
             "current directory)");
  DCNN_CHECK(which == DCNN_MNIST_M_TRAIN || which == DCNN_MNIST_M_TEST, DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_dataset_load_mnist_m: unknown split %d (DCNN_MNIST_M_TRAIN or DCNN_MNIST_M_TEST)", (int)which);
  const char *split = which == DCNN_MNIST_M_TRAIN ? "train" : "test";
  char list[PATH_MAX], images[PATH_MAX];
  const int list_length = snprintf(list, sizeof list, "%s/mnist_m_%s_labels.txt", root, split);
  const int images_length = snprintf(images, sizeof images, "%s/mnist_m_%s", root, split);
  /* a cut name would open another file, and the error would name that one */
  DCNN_CHECK(list_length >= 0 && (size_t)list_length < sizeof list && images_length >= 0 &&
                 (size_t)images_length < sizeof images,
             DCNN_ERR_INVALID_ARGUMENT, "dcnn_dataset_load_mnist_m: the root path (%zu bytes) is too long",
             strlen(root));
  return dcnn_dataset_load_image_list(ctx, list, images, 10, out);
}
