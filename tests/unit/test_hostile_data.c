/* Hostile and unlucky inputs to the data loaders (issue #15): concurrent
 * loads, line order, FIFOs, directories, symlinks, path spellings, byte-order
 * marks, crafted PNG and IDX files. Each crafted file is loaded in a forked
 * child under a time limit and an address-space limit (bounded_run.h) and
 * must end in a clear error within them. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "bounded_run.h"
#include "test_support.h"

#include "core/internal.h"

/* One library thread everywhere: the ThreadSanitizer build runs this file
 * (label concurrency) and must see only the loaders' own sharing. */
static dcnn_context *ctx1;

static int make_dir(void **state) {
  (void)state;
  if (dcnn_context_create(&ctx1) != DCNN_OK || dcnn_context_set_threads(ctx1, 1) != DCNN_OK) return -1;
  return test_dir_create("dcnn-hostile");
}

static int remove_dir(void **state) {
  (void)state;
  dcnn_context_destroy(ctx1);
  return test_dir_remove();
}

static void write_text(const char *name, const char *text) { test_dir_write(name, text, strlen(text)); }

static void write_png(const char *name, int channels, int seed) {
  uint8_t pixels[4 * 4 * 3];
  for (int i = 0; i < 4 * 4 * channels; ++i) pixels[i] = (uint8_t)(seed * 31 + i * 7);
  assert_ok(dcnn_image_write_png(test_dir_path(name), 4, 4, channels, pixels));
}

/* ---- concurrent loads: no shared mutable state ---- */

enum { LIST_LINES = 2000, LOADERS = 8, LOADS = 40 };

typedef struct loader_job {
  int index;
  int refused; /* loads that reported the duplicate */
  char last_error[256];
} loader_job;

static void *loader_thread(void *arg) {
  loader_job *job = arg;
  char list[64];
  snprintf(list, sizeof list, "dups%d.txt", job->index);
  char path[512];
  snprintf(path, sizeof path, "%s/%s", test_dir, list);
  dcnn_context *ctx = NULL; /* a context is used by one thread at a time */
  if (dcnn_context_create(&ctx) != DCNN_OK || dcnn_context_set_threads(ctx, 1) != DCNN_OK) return NULL;
  for (int k = 0; k < LOADS; ++k) {
    dcnn_dataset *ds = NULL;
    const dcnn_status status = dcnn_dataset_load_image_list(ctx, path, test_dir, 10, &ds);
    if (status == DCNN_ERR_BAD_FORMAT && strstr(dcnn_last_error(), "duplicate entry")) job->refused++;
    else snprintf(job->last_error, sizeof job->last_error, "%s", dcnn_last_error());
    dcnn_dataset_destroy(ds);
  }
  dcnn_context_destroy(ctx);
  return NULL;
}

/* Every list names 200 different (absent) files and one twice; the duplicate
 * check runs before any image is opened, so each load must report it. With a
 * global comparator state, one thread sorted with another's text and some
 * loads went on to the images. */
static void concurrent_loads_each_refuse_their_duplicate(void **state) {
  (void)state;
  for (int t = 0; t < LOADERS; ++t) {
    char *text = malloc((LIST_LINES + 1) * 48);
    assert_non_null(text);
    size_t used = 0;
    for (int i = 0; i < LIST_LINES; ++i) /* a different order and names per list */
      used += (size_t)sprintf(text + used, "t%d_%04d.png %d\n", t, (i * 37 + t * 11) % LIST_LINES, i % 10);
    used += (size_t)sprintf(text + used, "t%d_%04d.png 1\n", t, (t * 53) % LIST_LINES);
    char name[64];
    snprintf(name, sizeof name, "dups%d.txt", t);
    test_dir_write(name, text, used);
    free(text);
  }
  pthread_t threads[LOADERS];
  loader_job jobs[LOADERS];
  for (int t = 0; t < LOADERS; ++t) {
    jobs[t] = (loader_job){t, 0, ""};
    assert_int_equal(pthread_create(&threads[t], NULL, loader_thread, &jobs[t]), 0);
  }
  for (int t = 0; t < LOADERS; ++t) assert_int_equal(pthread_join(threads[t], NULL), 0);
  for (int t = 0; t < LOADERS; ++t)
    if (jobs[t].refused != LOADS)
      fail_msg("loader %d refused the duplicate in %d of %d loads; otherwise: %s", t, jobs[t].refused, LOADS,
               jobs[t].last_error);
}

/* ---- colour: gray only when every image is gray, whatever the order ---- */

static void colour_does_not_depend_on_line_order(void **state) {
  (void)state;
  write_png("gray.png", 1, 1);
  write_png("rgb.png", 3, 2);
  write_png("gray2.png", 1, 3);
  const char *lists[] = {"gray.png 0\nrgb.png 1\n", "rgb.png 1\ngray.png 0\n"};
  for (int order = 0; order < 2; ++order) {
    write_text("order.txt", lists[order]);
    dcnn_dataset *ds = NULL;
    assert_ok(dcnn_dataset_load_image_list(ctx1, test_dir_path("order.txt"), test_dir, 10, &ds));
    int32_t h, w, c;
    assert_ok(dcnn_dataset_image_size(ds, &h, &w, &c));
    if (c != 3) fail_msg("list order %d gave %d channels, expected 3", order, (int)c);
    const uint8_t *gray = dcnn_dataset_image(ds, order == 0 ? 0 : 1);
    for (int i = 0; i < 16; ++i) { /* the gray image's value in each channel */
      assert_int_equal(gray[3 * i], (uint8_t)(31 + i * 7));
      assert_int_equal(gray[3 * i + 2], (uint8_t)(31 + i * 7));
    }
    const uint8_t *rgb = dcnn_dataset_image(ds, order == 0 ? 1 : 0);
    for (int i = 0; i < 48; ++i) assert_int_equal(rgb[i], (uint8_t)(62 + i * 7));
    dcnn_dataset_destroy(ds);
  }
  write_text("allgray.txt", "gray.png 0\ngray2.png 1\n");
  dcnn_dataset *ds = NULL;
  assert_ok(dcnn_dataset_load_image_list(ctx1, test_dir_path("allgray.txt"), test_dir, 10, &ds));
  int32_t c = 0;
  assert_ok(dcnn_dataset_image_size(ds, NULL, NULL, &c));
  assert_int_equal(c, 1);
  assert_int_equal(dcnn_dataset_image(ds, 1)[5], (uint8_t)(93 + 5 * 7));
  dcnn_dataset_destroy(ds);
}

/* ---- paths: spellings, BOM, directories, FIFOs, symlinks ---- */

static void path_spellings_are_one_entry(void **state) {
  (void)state;
  write_png("a.png", 3, 1);
  mkdir(test_dir_path("sub"), 0700);
  write_png("sub/b.png", 3, 2);
  const char *dups[] = {"a.png 1\n./a.png 2\n", "./a.png 1\n.//a.png 2\n", "sub/b.png 1\nsub/./b.png 2\n",
                        "sub//b.png 1\n./sub/b.png 3\n"};
  for (size_t i = 0; i < sizeof dups / sizeof dups[0]; ++i) {
    write_text("spell.txt", dups[i]);
    dcnn_dataset *ds = NULL;
    assert_status(dcnn_dataset_load_image_list(ctx1, test_dir_path("spell.txt"), test_dir, 10, &ds), DCNN_ERR_BAD_FORMAT);
    assert_error_mentions(":2: duplicate entry");
  }
  write_text("spell.txt", "./a.png 1\nsub/./b.png 2\n");
  dcnn_dataset *ds = NULL;
  assert_ok(dcnn_dataset_load_image_list(ctx1, test_dir_path("spell.txt"), test_dir, 10, &ds));
  assert_string_equal(dcnn_dataset_source(ds, 0), "a.png"); /* the normal form */
  assert_string_equal(dcnn_dataset_source(ds, 1), "sub/b.png");
  dcnn_dataset_destroy(ds);
  write_text("spell.txt", "sub/../a.png 1\n");
  assert_status(dcnn_dataset_load_image_list(ctx1, test_dir_path("spell.txt"), test_dir, 10, &ds), DCNN_ERR_BAD_FORMAT);
  assert_error_mentions("leaves the image directory");
}

static void byte_order_mark_is_not_part_of_a_path(void **state) {
  (void)state;
  write_png("a.png", 3, 1);
  write_text("bom.txt", "\xEF\xBB\xBF"
                        "a.png 4\r\n");
  dcnn_dataset *ds = NULL;
  assert_ok(dcnn_dataset_load_image_list(ctx1, test_dir_path("bom.txt"), test_dir, 10, &ds));
  assert_string_equal(dcnn_dataset_source(ds, 0), "a.png");
  assert_int_equal(dcnn_dataset_label(ds, 0), 4);
  dcnn_dataset_destroy(ds);
}

static void directory_in_a_list_says_so(void **state) {
  (void)state;
  write_png("a.png", 3, 1);
  mkdir(test_dir_path("adir"), 0700);
  write_text("dir.txt", "a.png 1\nadir 2\n");
  dcnn_dataset *ds = NULL;
  assert_status(dcnn_dataset_load_image_list(ctx1, test_dir_path("dir.txt"), test_dir, 10, &ds), DCNN_ERR_IO);
  assert_error_mentions("dir.txt:2: ");
  assert_error_mentions("adir: is a directory");
  assert_status(dcnn_dataset_load_image_list(ctx1, test_dir, test_dir, 10, &ds), DCNN_ERR_IO); /* the list itself */
  assert_error_mentions("is a directory");
}

typedef struct load_args {
  const char *list, *root;
  dcnn_status expect;
  const char *mentions;
} load_args;

/* In the child: loads the list and reports whether it failed as expected. */
static int load_expecting(void *arg, char *message, size_t capacity) {
  const load_args *a = arg;
  /* One thread: a forked child must not need the parent's OpenMP pool. */
  dcnn_context *ctx = NULL;
  if (dcnn_context_create(&ctx) != DCNN_OK || dcnn_context_set_threads(ctx, 1) != DCNN_OK) return 2;
  dcnn_dataset *ds = NULL;
  const dcnn_status status = dcnn_dataset_load_image_list(ctx, a->list, a->root, 10, &ds);
  snprintf(message, capacity, "status %d: %s", (int)status, dcnn_last_error());
  const int ok = status == a->expect && strstr(dcnn_last_error(), a->mentions);
  dcnn_dataset_destroy(ds);
  dcnn_context_destroy(ctx);
  return ok ? 0 : 1;
}

static void assert_bounded_load(const char *list, const char *root, dcnn_status expect, const char *mentions,
                                double seconds, int64_t bytes) {
  load_args args = {list, root, expect, mentions};
  dcnn_test_bounded run;
  if (!dcnn_test_run_bounded(load_expecting, &args, seconds, bytes, &run))
    fail_msg("%s: expected status %d mentioning \"%s\": %s", list, (int)expect, mentions, run.message);
}

/* A FIFO without a writer: open() would wait forever; it must be refused at once. */
static void fifo_is_refused_without_blocking(void **state) {
  (void)state;
  write_png("a.png", 3, 1);
  assert_int_equal(mkfifo(test_dir_path("pipe.png"), 0600), 0);
  write_text("fifo.txt", "a.png 1\npipe.png 2\n");
  assert_bounded_load(test_dir_path("fifo.txt"), test_dir, DCNN_ERR_IO, "pipe.png: is not a regular file", 5, 256 << 20);
  assert_int_equal(mkfifo(test_dir_path("pipe.txt"), 0600), 0);
  assert_bounded_load(test_dir_path("pipe.txt"), test_dir, DCNN_ERR_IO, "not a regular file", 5, 256 << 20);
  remove(test_dir_path("pipe.png"));
  remove(test_dir_path("pipe.txt"));
}

/* The other whole-file readers (model files, checkpoints, single PNGs) go
 * through the same hardened reader: a FIFO is refused at once, a directory
 * says so. */
typedef struct reader_case {
  const char *path;
  const char *mentions;
} reader_case;

static int readers_refuse(void *arg, char *message, size_t capacity) {
  const reader_case *c = arg;
  dcnn_model *m = NULL;
  dcnn_status status = dcnn_model_load(NULL, c->path, &m);
  snprintf(message, capacity, "dcnn_model_load: status %d: %s", (int)status, dcnn_last_error());
  if (status != DCNN_ERR_IO || !strstr(dcnn_last_error(), c->mentions)) return 1;
  uint8_t *pixels = NULL;
  int32_t h = 0, w = 0;
  status = dcnn_image_read_png(c->path, 0, &pixels, &h, &w, NULL);
  snprintf(message, capacity, "dcnn_image_read_png: status %d: %s", (int)status, dcnn_last_error());
  if (status != DCNN_ERR_IO || !strstr(dcnn_last_error(), c->mentions) || pixels) return 1;
  return 0;
}

static void whole_file_readers_refuse_fifos_and_directories(void **state) {
  (void)state;
  assert_int_equal(mkfifo(test_dir_path("model.fifo"), 0600), 0);
  mkdir(test_dir_path("model.dir"), 0700);
  const reader_case cases[] = {{test_dir_path("model.fifo"), "model.fifo: is not a regular file"},
                               {test_dir_path("model.dir"), "model.dir: is a directory"}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
    dcnn_test_bounded run;
    if (!dcnn_test_run_bounded(readers_refuse, (void *)&cases[i], 5, 256 << 20, &run))
      fail_msg("%s: %s", cases[i].path, run.message);
  }
  remove(test_dir_path("model.fifo"));
  rmdir(test_dir_path("model.dir"));
}

/* Every buffer of a PNG read comes from the context's allocator but the
 * returned pixels: with allocations failing, the read fails cleanly (no leak
 * under ASan), and succeeds once enough are allowed. */
static void png_read_allocations_reach_the_sweep(void **state) {
  (void)state;
  write_png("sweep.png", 3, 4);
  int succeeded_at = -1;
  for (int k = 0; k < 16 && succeeded_at < 0; ++k) {
    uint8_t *pixels = NULL;
    int32_t h = 0, w = 0;
    dcnn__fail_allocations_after(k);
    const dcnn_status status = dcnn_image_read_png(test_dir_path("sweep.png"), 0, &pixels, &h, &w, NULL);
    dcnn__fail_allocations_after(-1);
    if (status == DCNN_OK) {
      succeeded_at = k;
      assert_int_equal(h, 4);
      dcnn_free(pixels);
    } else {
      assert_int_equal(status, DCNN_ERR_OUT_OF_MEMORY);
      assert_null(pixels);
    }
  }
  assert_true(succeeded_at >= 1); /* the file buffer at least is the allocator's */
}

/* Symlinks may point within the image directory, never out of it. */
static void symlinks_stay_inside_the_image_directory(void **state) {
  (void)state;
  mkdir(test_dir_path("images"), 0700);
  write_png("images/a.png", 3, 1);
  write_png("secret.png", 3, 9); /* outside images/ */
  mkdir(test_dir_path("images/sub"), 0700);
  assert_int_equal(symlink("../a.png", test_dir_path("images/sub/inside.png")), 0);
  assert_int_equal(symlink(test_dir_path("secret.png"), test_dir_path("images/out.png")), 0);
  assert_int_equal(symlink("..", test_dir_path("images/up")), 0);
  write_text("in.txt", "a.png 1\nsub/inside.png 2\n");
  dcnn_dataset *ds = NULL;
  assert_ok(dcnn_dataset_load_image_list(ctx1, test_dir_path("in.txt"), test_dir_path("images"), 10, &ds));
  assert_int_equal(dcnn_dataset_count(ds), 2);
  dcnn_dataset_destroy(ds);
  const char *outside[] = {"a.png 1\nout.png 2\n", "a.png 1\nup/secret.png 2\n"};
  for (size_t i = 0; i < 2; ++i) {
    write_text("out.txt", outside[i]);
    assert_status(dcnn_dataset_load_image_list(ctx1, test_dir_path("out.txt"), test_dir_path("images"), 10, &ds),
                  DCNN_ERR_BAD_FORMAT);
    assert_null(ds);
    assert_error_mentions("outside the image directory");
  }
}

/* ---- crafted PNGs ---- */

static void put_u32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

/* Signature, a 1x1 gray IHDR, then a chunk header announcing `length` bytes of `type` that never come. */
static size_t craft_png(uint8_t *out, const char *type, uint32_t length) {
  static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  memcpy(out, sig, 8);
  uint8_t *ihdr = out + 8;
  put_u32(ihdr, 13);
  memcpy(ihdr + 4, "IHDR", 4);
  put_u32(ihdr + 8, 1);
  put_u32(ihdr + 12, 1);
  ihdr[16] = 8; /* depth */
  ihdr[17] = ihdr[18] = ihdr[19] = ihdr[20] = 0;
  put_u32(ihdr + 21, (uint32_t)crc32(0, ihdr + 4, 17));
  uint8_t *c = ihdr + 25;
  put_u32(c, length);
  memcpy(c + 4, type, 4);
  c[8] = 'a';
  c[9] = 'b';
  return 8 + 25 + 10;
}

static int decode_expecting_error(void *arg, char *message, size_t capacity) {
  const uint8_t *png = arg;
  uint8_t *pixels = NULL;
  int32_t h = 0, w = 0;
  const dcnn_status status = dcnn_image_decode_png(png, 43, 0, &pixels, &h, &w, NULL);
  snprintf(message, capacity, "status %d: %s", (int)status, dcnn_last_error());
  dcnn_free(pixels);
  return status == DCNN_ERR_BAD_FORMAT && strstr(dcnn_last_error(), "announces") ? 0 : 1;
}

/* A 43-byte PNG announcing a 2 GB text chunk took 2.1 GB and 5 s: the chunk
 * must be refused for lying about the file's size, within 64 MB and 5 s. */
static void png_chunk_larger_than_the_file_costs_nothing(void **state) {
  (void)state;
  const char *types[] = {"tEXt", "zTXt", "iTXt", "eXIf", "IDAT"};
  for (size_t t = 0; t < sizeof types / sizeof types[0]; ++t) {
    uint8_t png[64];
    assert_int_equal(craft_png(png, types[t], 0x7fffffffu), 43);
    dcnn_test_bounded run;
    if (!dcnn_test_run_bounded(decode_expecting_error, png, 5, 64 << 20, &run))
      fail_msg("%s chunk: %s", types[t], run.message);
    test_dir_write("huge-text.png", png, 43);
  }
  write_png("a.png", 3, 1);
  write_text("huge.txt", "huge-text.png 1\na.png 1\n");
  assert_bounded_load(test_dir_path("huge.txt"), test_dir, DCNN_ERR_BAD_FORMAT, "huge.txt:1: ", 5, 64 << 20);
}

/* Text chunks are not needed for the pixels: a PNG carrying them (valid) loads unchanged. */
static void png_text_chunks_are_ignored(void **state) {
  (void)state;
  write_png("plain.png", 3, 4);
  FILE *f = fopen(test_dir_path("plain.png"), "rb");
  assert_non_null(f);
  uint8_t data[4096];
  const size_t size = fread(data, 1, sizeof data, f);
  fclose(f);
  /* insert a valid tEXt chunk after IHDR (8 + 25 bytes) */
  uint8_t with[4096 + 64];
  memcpy(with, data, 33);
  uint8_t *c = with + 33;
  put_u32(c, 9);
  memcpy(c + 4, "tEXtTitle\0abc", 13);
  put_u32(c + 17, (uint32_t)crc32(0, c + 4, 13));
  memcpy(c + 21, data + 33, size - 33);
  uint8_t *a = NULL, *b = NULL;
  int32_t h1, w1, h2, w2;
  assert_ok(dcnn_image_decode_png(data, size, 3, &a, &h1, &w1, NULL));
  assert_ok(dcnn_image_decode_png(with, size + 21, 3, &b, &h2, &w2, NULL));
  assert_memory_equal(a, b, 4 * 4 * 3);
  dcnn_free(a);
  dcnn_free(b);
}

/* ---- crafted IDX files ---- */

static void write_gz(const char *name, const uint8_t *header, size_t header_size, size_t zeros) {
  gzFile f = gzopen(test_dir_path(name), "wb6");
  assert_non_null(f);
  assert_int_equal(gzwrite(f, header, (unsigned)header_size), (int)header_size);
  static const uint8_t block[1 << 16];
  for (size_t left = zeros; left > 0;) {
    const unsigned n = left > sizeof block ? (unsigned)sizeof block : (unsigned)left;
    assert_int_equal(gzwrite(f, block, n), (int)n);
    left -= n;
  }
  assert_int_equal(gzclose(f), Z_OK);
}

static void idx_header(uint8_t *h, int dims, uint32_t count) {
  h[0] = h[1] = 0;
  h[2] = 8;
  h[3] = (uint8_t)dims;
  put_u32(h + 4, count);
  if (dims == 3) {
    put_u32(h + 8, 28);
    put_u32(h + 12, 28);
  }
}

/* A forged gzip file: a stored block holding `header` and 1000 zeros, zeros
 * up to the size that could hold `announced` bytes (inflate fails on them),
 * and a trailer that records `announced`: every cheap check passes. */
static void write_forged_gz(const char *name, const uint8_t *header, size_t header_size, int64_t announced) {
  const size_t payload = header_size + 1000, size = (size_t)(announced / 1032 + 1) + 64;
  uint8_t *bytes = calloc(size, 1);
  assert_non_null(bytes);
  static const uint8_t gzip_header[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff};
  memcpy(bytes, gzip_header, 10);
  bytes[10] = 0; /* a stored block, not the last */
  bytes[11] = (uint8_t)payload;
  bytes[12] = (uint8_t)(payload >> 8);
  bytes[13] = (uint8_t)~payload;
  bytes[14] = (uint8_t)(~payload >> 8);
  memcpy(bytes + 15, header, header_size);
  const uint32_t isize = (uint32_t)announced; /* CRC 0, then ISIZE: the size mod 2^32 */
  for (int i = 0; i < 4; ++i) bytes[size - 4 + (size_t)i] = (uint8_t)(isize >> (8 * i));
  test_dir_write(name, bytes, size);
  free(bytes);
}

typedef struct idx_args {
  const char *images, *labels;
  dcnn_status expect;
  const char *mentions;
} idx_args;

static int idx_expecting(void *arg, char *message, size_t capacity) {
  const idx_args *a = arg;
  dcnn_dataset *ds = NULL;
  const dcnn_status status = dcnn_dataset_load_idx(ctx1, a->images, a->labels, 10, &ds);
  snprintf(message, capacity, "status %d: %s", (int)status, dcnn_last_error());
  const int ok = status == a->expect && (!a->mentions || strstr(dcnn_last_error(), a->mentions));
  if (status == DCNN_OK && dcnn_dataset_count(ds) != 60000) snprintf(message, capacity, "wrong count");
  dcnn_dataset_destroy(ds);
  return ok ? 0 : 1;
}

static void assert_bounded_idx(const char *images, const char *labels, dcnn_status expect, const char *mentions,
                               double seconds, int64_t bytes) {
  idx_args args = {images, labels, expect, mentions};
  dcnn_test_bounded run;
  if (!dcnn_test_run_bounded(idx_expecting, &args, seconds, bytes, &run))
    fail_msg("%s + %s: expected status %d mentioning \"%s\": %s", images, labels, (int)expect,
             mentions ? mentions : "", run.message);
}

/* 47 MB of genuine (zero) pixels gzip'd to ~50 KB, with labels that are
 * truncated or lie: refused before the pixels are inflated. The genuine pair
 * loads with one copy of the pixels (the old loader held two). */
static void idx_sizes_are_checked_before_inflating(void **state) {
  (void)state;
  const uint32_t n = 60000;
  const size_t pixels = (size_t)n * 28 * 28;
  uint8_t h[16];
  idx_header(h, 3, n);
  write_gz("bomb-images.gz", h, 16, pixels);
  idx_header(h, 1, n);
  write_gz("short-labels.gz", h, 8, n / 2);
  write_gz("labels.gz", h, 8, n);
  uint8_t raw[8 + 100];
  memcpy(raw, h, 8);
  memset(raw + 8, 0, 100);
  test_dir_write("short-labels.idx", raw, sizeof raw);
  const char *images = test_dir_path("bomb-images.gz");
  assert_bounded_idx(images, test_dir_path("short-labels.gz"), DCNN_ERR_BAD_FORMAT, "short-labels.gz: the gzip trailer",
                     5, 16 << 20);
  assert_bounded_idx(images, test_dir_path("short-labels.idx"), DCNN_ERR_BAD_FORMAT, "short-labels.idx: truncated", 5,
                     16 << 20);
  /* A header announcing 2^31-1 images of 28x28 over a few bytes. */
  idx_header(h, 3, 0x7fffffffu);
  write_gz("liar-images.gz", h, 16, 1000);
  idx_header(h, 1, 0x7fffffffu);
  write_gz("liar-labels.gz", h, 8, 10);
  assert_bounded_idx(test_dir_path("liar-images.gz"), test_dir_path("liar-labels.gz"), DCNN_ERR_BAD_FORMAT,
                     "liar-labels.gz: the header announces", 5, 16 << 20);
  /* The same lie padded to the size that could hold it, with a trailer to
   * match (1x1 images: 2^31 - 1 of them, in a 2 MB file): refused on the
   * data, before the 10 GB it announces is allocated. */
  uint8_t tiny[16];
  idx_header(tiny, 3, 0x7fffffffu);
  put_u32(tiny + 8, 1);
  put_u32(tiny + 12, 1);
  write_forged_gz("forged-images.gz", tiny, 16, 16 + (int64_t)0x7fffffff);
  idx_header(tiny, 1, 0x7fffffffu);
  write_forged_gz("forged-labels.gz", tiny, 8, 8 + (int64_t)0x7fffffff);
  assert_bounded_idx(test_dir_path("forged-images.gz"), test_dir_path("forged-labels.gz"), DCNN_ERR_BAD_FORMAT,
                     "forged-labels.gz: corrupt data at byte 1008 while reading the labels", 5, 16 << 20);
  /* The same through an allocator that records its largest request (the bounded child's
   * address-space limit is off under the sanitizers): nothing near what the header announces. */
  capped_allocator cap = {(size_t)1 << 40, 0};
  dcnn_context *ctx = NULL;
  assert_ok(dcnn_context_create(&ctx));
  const dcnn_allocator hooks = capped_allocator_hooks(&cap);
  assert_ok(dcnn_context_set_allocator(ctx, &hooks));
  dcnn_dataset *forged = NULL;
  assert_int_equal(dcnn_dataset_load_idx(ctx, test_dir_path("forged-images.gz"), test_dir_path("forged-labels.gz"), 10,
                                         &forged),
                   DCNN_ERR_BAD_FORMAT);
  assert_null(forged);
  assert_true(cap.largest < ((size_t)1 << 20));
  dcnn_context_destroy(ctx);
  /* Forged pixels (60,000 of 28x28 announced, 47 MB) beside genuine labels. */
  idx_header(h, 3, n);
  write_forged_gz("forged-pixels.gz", h, 16, 16 + (int64_t)pixels);
  assert_bounded_idx(test_dir_path("forged-pixels.gz"), test_dir_path("labels.gz"), DCNN_ERR_BAD_FORMAT,
                     "forged-pixels.gz: corrupt data at byte 1016 while reading the pixels", 5, 16 << 20);
  /* The genuine 47 MB: one copy plus a little. */
  assert_bounded_idx(test_dir_path("bomb-images.gz"), test_dir_path("labels.gz"), DCNN_OK, NULL, 10,
                     (int64_t)pixels + (24 << 20));
}

/* The bounded runner itself: a hang and an overrun are reported, not suffered. */
static int sleeps(void *arg, char *message, size_t capacity) {
  (void)arg;
  snprintf(message, capacity, "sleeping");
  for (;;) pause();
  return 0;
}

static int touches_memory(void *arg, char *message, size_t capacity) {
  const size_t bytes = *(const size_t *)arg;
  char *p = malloc(bytes);
  if (!p) {
    snprintf(message, capacity, "malloc refused");
    return 3;
  }
  memset(p, 1, bytes);
  snprintf(message, capacity, "touched %zu", bytes);
  const int sum = p[bytes / 2];
  free(p);
  return sum == 1 ? 0 : 2;
}

static int writes_a_file(void *arg, char *message, size_t capacity) {
  FILE *f = fopen(arg, "wb");
  if (!f) return 2;
  static char block[65536];
  const int ok = fwrite(block, 1, sizeof block, f) == sizeof block;
  const int closed = fclose(f) == 0;
  snprintf(message, capacity, "wrote %zu bytes", sizeof block);
  return ok && closed ? 0 : 1;
}

static void bounded_runner_reports_hangs_and_overruns(void **state) {
  (void)state;
  dcnn_test_bounded run;
  assert_int_equal(dcnn_test_run_bounded(sleeps, NULL, 1, 0, &run), 0);
  assert_true(run.timed_out);
  assert_non_null(strstr(run.message, "out of time"));
  size_t bytes = 96 << 20;
  assert_int_equal(dcnn_test_run_bounded(touches_memory, &bytes, 10, 32 << 20, &run), 0);
  assert_true(run.address_limited ? run.code == 3 : run.peak_rss > (int64_t)(64 << 20));
  bytes = 8 << 20;
  assert_int_equal(dcnn_test_run_bounded(touches_memory, &bytes, 10, 64 << 20, &run), 1);
  assert_true(run.finished && run.code == 0);
  /* A file size limit: a write past it raises SIGXFSZ, which kills. */
  const dcnn_test_limits limits = {10, 0, 4096};
  assert_int_equal(dcnn_test_run_limited(writes_a_file, (void *)test_dir_path("big.bin"), &limits, &run), 0);
  assert_int_equal(run.signal, SIGXFSZ);
  const dcnn_test_limits roomy = {10, 0, 1 << 20};
  assert_int_equal(dcnn_test_run_limited(writes_a_file, (void *)test_dir_path("big.bin"), &roomy, &run), 1);
  remove(test_dir_path("big.bin"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(bounded_runner_reports_hangs_and_overruns),
      cmocka_unit_test(png_chunk_larger_than_the_file_costs_nothing),
      cmocka_unit_test(png_text_chunks_are_ignored),
      cmocka_unit_test(idx_sizes_are_checked_before_inflating),
      cmocka_unit_test(fifo_is_refused_without_blocking),
      cmocka_unit_test(whole_file_readers_refuse_fifos_and_directories),
      cmocka_unit_test(png_read_allocations_reach_the_sweep),
      cmocka_unit_test(directory_in_a_list_says_so),
      cmocka_unit_test(symlinks_stay_inside_the_image_directory),
      cmocka_unit_test(path_spellings_are_one_entry),
      cmocka_unit_test(byte_order_mark_is_not_part_of_a_path),
      cmocka_unit_test(colour_does_not_depend_on_line_order),
      cmocka_unit_test(concurrent_loads_each_refuse_their_duplicate),
  };
  return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
