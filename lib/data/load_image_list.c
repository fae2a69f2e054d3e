/* Image-list loader ("<relative path> <label>" lines, PNG images via libpng's
 * simplified API) and the MNIST-M layout on top of it. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../io/png_read.h"
#include "data_internal.h"

#define MAX_FILE_BYTES (INT64_C(1) << 30)

/* Reads a whole file; the buffer is NUL-terminated for text parsing. */
static dcnn_status read_file(dcnn_context *ctx, const char *path, char **data, int64_t *size) {
  *data = NULL;
  FILE *f = fopen(path, "rb");
  DCNN_CHECK(f != NULL, DCNN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  dcnn_status status = DCNN_OK;
  long length = -1;
  if (fseek(f, 0, SEEK_END) == 0) length = ftell(f);
  if (length < 0 || fseek(f, 0, SEEK_SET) != 0)
    status = dcnn__fail(DCNN_ERR_IO, "%s: cannot determine its size", path);
  else if (length > MAX_FILE_BYTES)
    status = dcnn__fail(DCNN_ERR_BAD_FORMAT, "%s: %ld bytes is too large", path, length);
  char *buffer = status == DCNN_OK ? dcnn__alloc(ctx, (size_t)length + 1) : NULL;
  if (status == DCNN_OK && !buffer) status = dcnn__fail(DCNN_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
  if (status == DCNN_OK && fread(buffer, 1, (size_t)length, f) != (size_t)length)
    status = dcnn__fail(DCNN_ERR_IO, "%s: read failed", path);
  fclose(f);
  if (status != DCNN_OK) {
    dcnn__release(ctx, buffer);
    return status;
  }
  buffer[length] = '\0';
  *data = buffer;
  *size = length;
  return DCNN_OK;
}

typedef struct list_entry {
  int64_t name;   /* offset of the NUL-terminated name in the list text */
  int32_t label;
  int32_t line;
} list_entry;

/* Splits the list text in place into entries; names become NUL-terminated. */
static dcnn_status parse_list(dcnn_context *ctx, const char *path, char *text, int64_t size, int32_t classes,
                              list_entry **entries, int32_t *count) {
  int64_t lines = 1;
  for (int64_t i = 0; i < size; ++i) lines += text[i] == '\n';
  DCNN_CHECK(lines < INT32_MAX, DCNN_ERR_BAD_FORMAT, "%s: too many lines", path);
  list_entry *e = dcnn__alloc(ctx, (size_t)lines * sizeof *e);
  DCNN_CHECK(e != NULL, DCNN_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
  int32_t n = 0, line = 0;
  char *p = text, *end = text + size;
  dcnn_status status = DCNN_OK;
  while (p < end && status == DCNN_OK) {
    ++line;
    char *eol = memchr(p, '\n', (size_t)(end - p));
    if (!eol) eol = end;
    *eol = '\0';
    if (eol > p && eol[-1] == '\r') eol[-1] = '\0';
    char *name = p + strspn(p, " \t");
    p = eol + 1;
    if (!*name) continue; /* blank line */
    char *name_end = name + strcspn(name, " \t");
    if (!*name_end) {
      status = dcnn__fail(DCNN_ERR_BAD_FORMAT, "%s:%d: expected \"<file> <label>\", got \"%.60s\"", path, (int)line,
                          name);
      break;
    }
    *name_end = '\0';
    char *label_text = name_end + 1 + strspn(name_end + 1, " \t"), *label_end = NULL;
    errno = 0;
    long label = strtol(label_text, &label_end, 10);
    if (label_end == label_text || errno || *(label_end + strspn(label_end, " \t")) != '\0') {
      status = dcnn__fail(DCNN_ERR_BAD_FORMAT, "%s:%d: label \"%.20s\" of %s is not an integer", path, (int)line,
                          label_text, name);
    } else if (label < 0 || label >= classes) {
      status = dcnn__fail(DCNN_ERR_BAD_FORMAT, "%s:%d: label %ld of %s is outside 0..%d", path, (int)line, label,
                          name, (int)classes - 1);
    } else if (strstr(name, "..") || name[0] == '/') {
      status = dcnn__fail(DCNN_ERR_BAD_FORMAT, "%s:%d: path %s leaves the image directory", path, (int)line, name);
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

static const char *sort_text;
static int by_name(const void *a, const void *b) {
  const list_entry *x = a, *y = b;
  int c = strcmp(sort_text + x->name, sort_text + y->name);
  return c ? c : (x->line > y->line) - (x->line < y->line);
}

/* A duplicate file name is an error naming both lines. */
static dcnn_status check_duplicates(dcnn_context *ctx, const char *path, const char *text, const list_entry *e,
                                    int32_t n) {
  list_entry *sorted = dcnn__alloc(ctx, (size_t)n * sizeof *sorted);
  DCNN_CHECK(sorted != NULL, DCNN_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
  memcpy(sorted, e, (size_t)n * sizeof *sorted);
  sort_text = text; /* qsort has no context argument in C11; the loader is the only user */
  qsort(sorted, (size_t)n, sizeof *sorted, by_name);
  dcnn_status status = DCNN_OK;
  for (int32_t i = 1; i < n && status == DCNN_OK; ++i)
    if (!strcmp(text + sorted[i].name, text + sorted[i - 1].name))
      status = dcnn__fail(DCNN_ERR_BAD_FORMAT, "%s:%d: duplicate entry %s (first on line %d)", path,
                          (int)sorted[i].line, text + sorted[i].name, (int)sorted[i - 1].line);
  dcnn__release(ctx, sorted);
  return status;
}

typedef struct decode_error {
  int32_t index; /* lowest failing entry, or -1 */
  dcnn_status status;
  char message[512];
} decode_error;

/* Decodes one PNG file into `pixels` (height x width x channels). */
static dcnn_status decode_png(dcnn_context *ctx, const char *file, int32_t height, int32_t width, int32_t channels,
                              uint8_t *pixels, int32_t *found_h, int32_t *found_w, int *has_color) {
  char *data = NULL;
  int64_t size = 0;
  DCNN_TRY(read_file(ctx, file, &data, &size));
  dcnn_status status = dcnn__png_decode(file, data, (size_t)size, channels, pixels, height, width, found_h, found_w,
                                        has_color);
  dcnn__release(ctx, data);
  return status;
}

dcnn_status dcnn_dataset_load_image_list(dcnn_context *ctx, const char *list_path, const char *image_root,
                                         int32_t classes, dcnn_dataset **out) {
  DCNN_CHECK_ARG(out);
  *out = NULL;
  DCNN_CHECK_ARG(list_path);
  DCNN_CHECK_ARG(image_root);
  DCNN_CHECK(classes >= 1, DCNN_ERR_INVALID_ARGUMENT, "%s: classes %d must be at least 1", list_path, (int)classes);
  char *text = NULL;
  int64_t size = 0;
  list_entry *entries = NULL;
  int32_t n = 0;
  DCNN_TRY(read_file(ctx, list_path, &text, &size));
  dcnn_status status = parse_list(ctx, list_path, text, size, classes, &entries, &n);
  if (status == DCNN_OK) status = check_duplicates(ctx, list_path, text, entries, n);

  /* The first image fixes the size and whether the dataset is colour. */
  char file[PATH_MAX];
  int32_t height = 0, width = 0;
  int color = 1;
  if (status == DCNN_OK) {
    snprintf(file, sizeof file, "%s/%s", image_root, text + entries[0].name);
    status = decode_png(ctx, file, 0, 0, 0, NULL, &height, &width, &color);
  }
  dcnn_image_store *store = NULL;
  if (status == DCNN_OK) status = dcnn__store_create(ctx, n, height, width, color ? 3 : 1, classes, &store);
  if (status == DCNN_OK) {
    store->source_offsets = dcnn__alloc(ctx, (size_t)n * sizeof(int64_t));
    store->source_text = dcnn__alloc(ctx, (size_t)size + 1);
    if (!store->source_offsets || !store->source_text)
      status = dcnn__fail(DCNN_ERR_OUT_OF_MEMORY, "%s: out of memory", list_path);
  }
  if (status == DCNN_OK) {
    memcpy(store->source_text, text, (size_t)size + 1);
    const int64_t image_bytes = (int64_t)height * width * store->channels;
    decode_error first = {-1, DCNN_OK, ""};
    const int32_t threads = dcnn_context_threads(ctx);
#pragma omp parallel for num_threads(threads) if (threads > 1) schedule(dynamic, 64)
    for (int32_t i = 0; i < n; ++i) {
      int32_t failed_before;
#pragma omp atomic read
      failed_before = first.index;
      if (failed_before >= 0 && failed_before < i) continue;
      char path[PATH_MAX];
      snprintf(path, sizeof path, "%s/%s", image_root, text + entries[i].name);
      dcnn_status st = decode_png(ctx, path, height, width, store->channels, store->pixels + i * image_bytes, NULL,
                                  NULL, NULL);
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
        }
      }
    }
    if (first.index >= 0) status = dcnn__fail(first.status, "%s", first.message);
  }
  dcnn__release(ctx, entries);
  dcnn__release(ctx, text);
  if (status != DCNN_OK) {
    dcnn__store_release(store);
    return status;
  }
  return dcnn__dataset_from_store(store, out);
}

dcnn_status dcnn_dataset_load_mnist_m(dcnn_context *ctx, const char *root, int train, dcnn_dataset **out) {
  DCNN_CHECK_ARG(out);
  *out = NULL;
  DCNN_CHECK_ARG(root);
  const char *split = train ? "train" : "test";
  char list[PATH_MAX], images[PATH_MAX];
  snprintf(list, sizeof list, "%s/mnist_m_%s_labels.txt", root, split);
  snprintf(images, sizeof images, "%s/mnist_m_%s", root, split);
  return dcnn_dataset_load_image_list(ctx, list, images, 10, out);
}
