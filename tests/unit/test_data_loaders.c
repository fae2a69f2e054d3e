/* Image-list and IDX loaders on crafted files: datasets beyond the store's
 * limits are the file's format error, naming it (the files are made here, PNG
 * headers by hand and an IDX file sparse, so the limits cost little to
 * reach); list lines whose paths hold spaces; escaped control characters in
 * messages; gzip'd IDX files of exactly one member. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "core/internal.h"
#include "test_support.h"

static int make_dir(void **state) {
  (void)state;
  return test_dir_create("dcnn-loaders");
}

static int remove_dir(void **state) {
  (void)state;
  return test_dir_remove();
}

static void write_text(const char *name, const char *text) { test_dir_write(name, text, strlen(text)); }

static void put_u32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

/* A PNG chunk at `p`: length, type, data, CRC; returns its size. */
static size_t put_chunk(uint8_t *p, const char *type, const uint8_t *data, uint32_t size) {
  put_u32(p, size);
  memcpy(p + 4, type, 4);
  if (size) memcpy(p + 8, data, size);
  put_u32(p + 8 + size, (uint32_t)crc32(0, p + 4, 4 + size));
  return 12 + size;
}

/* A PNG of `width` x `height` 8-bit pixels (colour type 0 gray, 2 RGB) whose
 * IDAT holds nothing: its header reads, its pixels do not. The loaders read
 * the first image's header before sizing the dataset. */
static void write_png_header_only(const char *name, uint32_t width, uint32_t height, uint8_t color_type) {
  uint8_t png[128] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}, ihdr[13] = {0};
  put_u32(ihdr, width);
  put_u32(ihdr + 4, height);
  ihdr[8] = 8;
  ihdr[9] = color_type;
  size_t size = 8;
  size += put_chunk(png + size, "IHDR", ihdr, 13);
  size += put_chunk(png + size, "IDAT", NULL, 0);
  size += put_chunk(png + size, "IEND", NULL, 0);
  test_dir_write(name, png, size);
}

/* A whole PNG of `width` x `height` 8-bit zero pixels (colour type 0 gray, 2
 * RGB), its IDAT deflated a row at a time: a few tens of KB on disk. */
static void write_png_black(const char *name, uint32_t width, uint32_t height, uint8_t color_type) {
  const size_t row = 1 + (size_t)width * (color_type == 2 ? 3 : 1); /* filter byte 0, then samples */
  uint8_t *zeros = calloc(row, 1), *idat = malloc(8 + (1 << 20) + 4);
  assert_non_null(zeros);
  assert_non_null(idat);
  z_stream z;
  memset(&z, 0, sizeof z);
  assert_int_equal(deflateInit(&z, 1), Z_OK);
  z.next_out = idat + 8;
  z.avail_out = 1 << 20;
  for (uint32_t y = 0; y < height; ++y) {
    z.next_in = zeros;
    z.avail_in = (uInt)row;
    assert_int_equal(deflate(&z, y + 1 == height ? Z_FINISH : Z_NO_FLUSH), y + 1 == height ? Z_STREAM_END : Z_OK);
    assert_true(z.avail_out > 0);
  }
  const uint32_t packed = (uint32_t)z.total_out;
  deflateEnd(&z);
  uint8_t head[8 + 25] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}, ihdr[13] = {0}, tail[12];
  put_u32(ihdr, width);
  put_u32(ihdr + 4, height);
  ihdr[8] = 8;
  ihdr[9] = color_type;
  put_chunk(head + 8, "IHDR", ihdr, 13);
  put_u32(idat, packed);
  memcpy(idat + 4, "IDAT", 4);
  put_u32(idat + 8 + packed, (uint32_t)crc32(0, idat + 4, 4 + packed));
  put_chunk(tail, "IEND", NULL, 0);
  FILE *f = fopen(test_dir_path(name), "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(head, 1, sizeof head, f), sizeof head);
  assert_int_equal(fwrite(idat, 1, 12 + packed, f), 12 + packed);
  assert_int_equal(fwrite(tail, 1, sizeof tail, f), sizeof tail);
  assert_int_equal(fclose(f), 0);
  free(zeros);
  free(idat);
}

/* Sizes whose byte counts overflow int64: refused with the true figures (the
 * message's total once overflowed, and sides near 2^31 overflowed the test). */
static void datasets_beyond_int64_are_refused_with_true_sizes(void **state) {
  (void)state;
  uint8_t px[3] = {0};
  int32_t labels[3] = {0, 0, 0};
  dcnn_dataset *ds = NULL;
  /* 3 x (2^31 - 1)^2 bytes: each fits int64, the total does not */
  assert_status(dcnn_dataset_create(NULL, 3, INT32_MAX, INT32_MAX, 1, px, labels, 10, &ds), DCNN_ERR_INVALID_ARGUMENT);
  assert_null(ds);
  assert_error_mentions("(4611686014132420608 bytes each, 13835058042397261824 in all)");
  /* three channels: one image's bytes overflow int64 */
  assert_status(dcnn_dataset_create(NULL, 1, INT32_MAX, INT32_MAX, 3, px, labels, 10, &ds), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("2147483647x2147483647x3 (13835058042397261824 bytes each");
  /* a count past the limit, with 3 labels given: refused before a label is read (ASan: a read past `labels`,
   * and the message was about a label found there), and no classes at all is said as such */
  assert_status(dcnn_dataset_create(NULL, INT32_MAX, 28, 28, 1, px, labels, 10, &ds), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("too large: at most 2^26 bytes per image and 2^36 in all");
  assert_status(dcnn_dataset_create(NULL, 3, 1, 1, 1, px, labels, 0, &ds), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("0 classes");
}

/* One image of 4800 x 4800 RGB is 69,120,000 bytes, over the 2^26 a dataset
 * holds per image (and 23 Mpixels, under the PNG limit of 2^26). */
static void image_list_beyond_the_image_limit_names_the_line(void **state) {
  (void)state;
  write_png_header_only("big.png", 4800, 4800, 2);
  write_text("big.txt", "\nbig.png 1\n");
  dcnn_dataset *ds = NULL;
  assert_status(dcnn_dataset_load_image_list(NULL, test_dir_path("big.txt"), test_dir, 10, &ds), DCNN_ERR_BAD_FORMAT);
  assert_null(ds);
  assert_error_mentions("big.txt:2: big.png: ");
  assert_error_mentions("1 image of 4800x4800x3 (69120000 bytes each");
}

/* A gray first image of 4800 x 4800 fits as gray (23 MB); a colour image
 * later makes the list RGB, over the limit: the second store is refused, with
 * the same naming (both images are decoded: about 0.5 s, 50 MB). */
static void image_list_beyond_the_limit_as_rgb_names_the_line(void **state) {
  (void)state;
  write_png_black("gray.png", 4800, 4800, 0);
  write_png_black("rgb.png", 4800, 4800, 2);
  write_text("mixed.txt", "gray.png 1\nrgb.png 2\n");
  dcnn_dataset *ds = NULL;
  assert_status(dcnn_dataset_load_image_list(NULL, test_dir_path("mixed.txt"), test_dir, 10, &ds), DCNN_ERR_BAD_FORMAT);
  assert_null(ds);
  assert_error_mentions("mixed.txt:1: gray.png: ");
  assert_error_mentions("2 images of 4800x4800x3");
  remove(test_dir_path("gray.png"));
  remove(test_dir_path("rgb.png"));
}

/* 1025 entries of 8192 x 8192 gray are 2^36 + 2^26 bytes, over the 2^36 a
 * dataset holds: refused from the first image's header, before the others
 * are opened (they do not exist). */
static void image_list_beyond_the_total_limit_names_the_list(void **state) {
  (void)state;
  write_png_header_only("huge.png", 8192, 8192, 0);
  static char text[1025 * 16];
  size_t used = (size_t)sprintf(text, "huge.png 0\n");
  for (int i = 1; i < 1025; ++i) used += (size_t)sprintf(text + used, "n%04d.png 0\n", i);
  write_text("many.txt", text);
  dcnn_dataset *ds = NULL;
  assert_status(dcnn_dataset_load_image_list(NULL, test_dir_path("many.txt"), test_dir, 10, &ds), DCNN_ERR_BAD_FORMAT);
  assert_null(ds);
  assert_error_mentions("many.txt:1: huge.png: ");
  assert_error_mentions("1025 images of 8192x8192x1");
}

/* An IDX file announcing 4097 images of 4096 x 4096 (2^36 + 2^24 bytes) that
 * really is that long: a sparse file, so it costs no disk. Refused after the
 * size checks, when the dataset would be made. */
static void idx_beyond_the_total_limit_names_the_file(void **state) {
  (void)state;
  uint8_t header[16] = {0, 0, 8, 3};
  put_u32(header + 4, 4097);
  put_u32(header + 8, 4096);
  put_u32(header + 12, 4096);
  test_dir_write("sparse-images.idx", header, sizeof header);
  const int fd = open(test_dir_path("sparse-images.idx"), O_WRONLY);
  assert_true(fd >= 0);
  if (ftruncate(fd, (off_t)(16 + INT64_C(4097) * 4096 * 4096)) != 0) {
    close(fd);
    print_message("this file system refuses a sparse 64 GiB file: skipped\n");
    skip();
  }
  close(fd);
  uint8_t labels[8 + 4097] = {0, 0, 8, 1};
  put_u32(labels + 4, 4097);
  test_dir_write("labels.idx", labels, sizeof labels);
  dcnn_dataset *ds = NULL;
  assert_status(dcnn_dataset_load_idx(NULL, test_dir_path("sparse-images.idx"), test_dir_path("labels.idx"), 10, &ds),
                DCNN_ERR_BAD_FORMAT);
  assert_null(ds);
  assert_error_mentions("sparse-images.idx: ");
  assert_error_mentions("4097 images of 4096x4096x1");
  remove(test_dir_path("sparse-images.idx"));
}

/* ---- list syntax ---- */

static void write_image(const char *name) {
  const uint8_t pixels[2 * 2 * 3] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  assert_ok(dcnn_image_write_png(test_dir_path(name), 2, 2, 3, pixels));
}

typedef struct list_case {
  const char *text;
  const char *source; /* dcnn_dataset_source of the only entry */
  int32_t label;
} list_case;

static void assert_lists_load(const list_case *cases, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    write_text("one.txt", cases[i].text);
    dcnn_dataset *ds = NULL;
    const dcnn_status status = dcnn_dataset_load_image_list(NULL, test_dir_path("one.txt"), test_dir, 10, &ds);
    if (status != DCNN_OK) fail_msg("case %zu: %s", i, dcnn_last_error());
    assert_int_equal(dcnn_dataset_count(ds), 1);
    assert_string_equal(dcnn_dataset_source(ds, 0), cases[i].source);
    assert_int_equal(dcnn_dataset_label(ds, 0), cases[i].label);
    dcnn_dataset_destroy(ds);
  }
}

/* The label is the last field, the path everything before it. */
static void paths_with_spaces_can_be_listed(void **state) {
  (void)state;
  mkdir(test_dir_path("sub dir"), 0700);
  write_image("my digit.png");
  write_image("sub dir/a  b.png");
  write_image("tab\tname.png");
  const list_case cases[] = {
      {"my digit.png 3\n", "my digit.png", 3},
      {"  sub dir/a  b.png\t 7  \r\n", "sub dir/a  b.png", 7},
      {"tab\tname.png\t1", "tab\tname.png", 1},
      {"./sub dir//a  b.png 2\n", "sub dir/a  b.png", 2},
  };
  assert_lists_load(cases, sizeof cases / sizeof cases[0]);
  /* Several entries with spaces in one list. */
  write_text("spaces.txt", "my digit.png 3\nsub dir/a  b.png 7\n");
  dcnn_dataset *ds = NULL;
  assert_ok(dcnn_dataset_load_image_list(NULL, test_dir_path("spaces.txt"), test_dir, 10, &ds));
  assert_int_equal(dcnn_dataset_count(ds), 2);
  assert_int_equal(dcnn_dataset_label(ds, 1), 7);
  dcnn_dataset_destroy(ds);
  /* "ok.png 1 2" names the file "ok.png 1" now. */
  write_text("three.txt", "ok.png 1 2\n");
  assert_status(dcnn_dataset_load_image_list(NULL, test_dir_path("three.txt"), test_dir, 10, &ds), DCNN_ERR_IO);
  assert_error_mentions("three.txt:1: ");
  assert_error_mentions("/ok.png 1: cannot open");
}

/* A NUL byte inside a line ended its parse there: "a.png 0\0b.png 1" loaded
 * one image and dropped the rest of the line unseen. It is refused, naming
 * the line. Blank lines cost no memory: 1 MB of them was a 16 MB request. */
static void nul_bytes_and_blank_lines_in_lists(void **state) {
  (void)state;
  write_image("a.png");
  write_image("b.png");
  static const char nul_line[] = "a.png 0\nb.png 1\0c.png 2\n";
  test_dir_write("nul.txt", nul_line, sizeof nul_line - 1);
  dcnn_dataset *ds = NULL;
  assert_status(dcnn_dataset_load_image_list(NULL, test_dir_path("nul.txt"), test_dir, 10, &ds), DCNN_ERR_BAD_FORMAT);
  assert_error_mentions("nul.txt:2: the line holds a NUL byte");
  assert_null(ds);

  const size_t blank = 1 << 20;
  char *text = malloc(blank + 16);
  assert_non_null(text);
  memset(text, '\n', blank);
  memcpy(text + blank, "a.png 4\n", 8);
  test_dir_write("blank.txt", text, blank + 8);
  free(text);
  capped_allocator cap = {4 << 20, 0};
  dcnn_context *ctx = NULL;
  assert_ok(dcnn_context_create(&ctx));
  const dcnn_allocator hooks = capped_allocator_hooks(&cap);
  assert_ok(dcnn_context_set_allocator(ctx, &hooks));
  assert_ok(dcnn_dataset_load_image_list(ctx, test_dir_path("blank.txt"), test_dir, 10, &ds));
  assert_int_equal(dcnn_dataset_count(ds), 1);
  assert_int_equal(dcnn_dataset_label(ds, 0), 4);
  assert_true(cap.largest <= 2 * blank); /* the list text itself, not 16 bytes a line */
  dcnn_dataset_destroy(ds);
  dcnn_context_destroy(ctx);
}

/* Lines the first-space rule accepted read the same: whitespace other than
 * spaces and tabs (which strtol skipped) before the label, and names ending
 * in such characters. */
static void lists_that_parsed_before_parse_the_same(void **state) {
  (void)state;
  write_image("a.png");
  write_image("c\v.png");
  write_image("d.png\v");
  const list_case cases[] = {
      {"a.png 3\n", "a.png", 3},
      {"\t a.png\t\t+4 \t\n", "a.png", 4},
      {"a.png 007\r\n", "a.png", 7},
      {"\xEF\xBB\xBF" "a.png 8", "a.png", 8},
      {"a.png \v5\n", "a.png", 5},
      {"a.png \v \f6\n", "a.png", 6},
      {"a.png \r9\n", "a.png", 9},
      {"c\v.png 2\n", "c\v.png", 2},
      {"d.png\v 1\n", "d.png\v", 1},
      {"./a.png -0\n\n \t\n", "a.png", 0},
  };
  assert_lists_load(cases, sizeof cases / sizeof cases[0]);
}

/* A stray \r (a list saved with \r\r\n or \r endings), a tab or another
 * control character shows in messages as an escape. */
static void invisible_characters_show_in_messages(void **state) {
  (void)state;
  write_image("a.png");
  const struct {
    const char *text, *mentions;
    dcnn_status status;
  } cases[] = {
      {"a.png 5\r\r\n", ":1: label \"5\\r\" of a.png is not an integer", DCNN_ERR_BAD_FORMAT},
      {"a.png 1\rb.png 2\r", ":1: ", DCNN_ERR_IO}, /* \r endings: one line, the last \r dropped */
      {"a.png 1\rb.png 2\r", "/a.png 1\\rb.png: cannot open", DCNN_ERR_IO},
      {"a.png 1\na\x01.png\n", ":2: expected \"<file> <label>\", got \"a\\x01.png\"", DCNN_ERR_BAD_FORMAT},
      {"a.png 1\nx\ty\x01.png 2\n", "/x\\ty\\x01.png: cannot open", DCNN_ERR_IO},
      {"a.png 1\n./a.png\v 2\na.png\v 3\n", ":3: duplicate entry a.png\\v (first on line 2)", DCNN_ERR_BAD_FORMAT},
      {"a.png 12\r\n", ":1: label 12 of a.png is outside 0..9", DCNN_ERR_BAD_FORMAT},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
    write_text("bad.txt", cases[i].text);
    dcnn_dataset *ds = NULL;
    assert_status(dcnn_dataset_load_image_list(NULL, test_dir_path("bad.txt"), test_dir, 10, &ds), cases[i].status);
    assert_null(ds);
    assert_error_mentions(cases[i].mentions);
  }
}

/* ---- gzip'd IDX files: one member, nothing after it ---- */

static const uint8_t idx_images[] = {0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 3,
                                     1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18};
static const uint8_t idx_labels[] = {0, 0, 8, 1, 0, 0, 0, 3, 7, 0, 9};

/* Appends one gzip member holding `n` bytes (zlib's gzip wrapper). */
static void put_gzip_member(FILE *f, const uint8_t *data, size_t n) {
  z_stream z;
  memset(&z, 0, sizeof z);
  assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  uint8_t out[256];
  z.next_in = (Bytef *)(uintptr_t)data;
  z.avail_in = (uInt)n;
  z.next_out = out;
  z.avail_out = sizeof out;
  assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
  assert_int_equal(fwrite(out, 1, sizeof out - z.avail_out, f), sizeof out - z.avail_out);
  deflateEnd(&z);
}

/* A gzip file of `data` split into members at `cuts` (offsets, ascending,
 * those past the end taken as the end; a repeated offset makes an empty
 * member), then `extra` raw bytes. */
static void write_members(const char *name, const uint8_t *data, size_t size, const size_t *cuts, int ncuts,
                          const uint8_t *extra, size_t extra_size) {
  FILE *f = fopen(test_dir_path(name), "wb");
  assert_non_null(f);
  size_t from = 0;
  for (int i = 0; i <= ncuts; ++i) {
    const size_t to = i < ncuts && cuts[i] < size ? cuts[i] : size;
    put_gzip_member(f, data + from, to - from);
    from = to;
  }
  if (extra_size) assert_int_equal(fwrite(extra, 1, extra_size, f), extra_size);
  assert_int_equal(fclose(f), 0);
}

/* zlib's gzread reads on across members (and skips non-gzip bytes after the
 * last), so a file whose last member's trailer matched the header loaded.
 * The loader now inflates exactly one member and requires the file to end
 * with it. */
static void gzip_idx_must_be_one_member(void **state) {
  (void)state;
  const uint8_t isize[4] = {sizeof idx_images, 0, 0, 0}; /* the trailer's ISIZE, little-endian */
  const size_t at0[] = {0}, at16[] = {16}, at0_0[] = {0, 0};
  write_members("labels.gz", idx_labels, sizeof idx_labels, NULL, 0, NULL, 0);
  write_members("images.gz", idx_images, sizeof idx_images, NULL, 0, NULL, 0);
  dcnn_dataset *ds = NULL;
  assert_ok(dcnn_dataset_load_idx(NULL, test_dir_path("images.gz"), test_dir_path("labels.gz"), 10, &ds));
  assert_int_equal(dcnn_dataset_image(ds, 2)[5], 18);
  dcnn_dataset_destroy(ds);
  const struct {
    const size_t *cuts;
    int ncuts;
    const uint8_t *extra;
    size_t extra_size;
    const char *mentions;
  } cases[] = {
      {at0, 1, NULL, 0, "after the gzip member that ends at byte 20"}, /* an empty member first */
      {at0_0, 2, NULL, 0, "after the gzip member that ends at byte 20"},
      {NULL, 0, isize, 4, "after the gzip member that ends at byte"}, /* 4 bytes that repeat the trailer */
      {at16, 1, NULL, 0, "the gzip trailer records 18 bytes"},       /* caught by the trailer check */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
    write_members("multi.gz", idx_images, sizeof idx_images, cases[i].cuts, cases[i].ncuts, cases[i].extra,
                  cases[i].extra_size);
    assert_status(dcnn_dataset_load_idx(NULL, test_dir_path("multi.gz"), test_dir_path("labels.gz"), 10, &ds),
                  DCNN_ERR_BAD_FORMAT);
    assert_null(ds);
    assert_error_mentions("multi.gz: ");
    assert_error_mentions(cases[i].mentions);
    /* the same as labels */
    write_members("multi.gz", idx_labels, sizeof idx_labels, cases[i].cuts, cases[i].ncuts, NULL, 0);
    if (cases[i].extra) {
      const uint8_t label_isize[4] = {sizeof idx_labels, 0, 0, 0};
      write_members("multi.gz", idx_labels, sizeof idx_labels, NULL, 0, label_isize, 4);
    }
    assert_status(dcnn_dataset_load_idx(NULL, test_dir_path("images.gz"), test_dir_path("multi.gz"), 10, &ds),
                  DCNN_ERR_BAD_FORMAT);
    assert_null(ds);
    assert_error_mentions("multi.gz: ");
  }
}

typedef dcnn_status (*context_load)(dcnn_context *ctx, dcnn_dataset **out);

/* Lets the first k allocations succeed and fails the next, for k = 0, 1, ...
 * until `load` succeeds (at most `limit` tries): every failure must be
 * DCNN_ERR_OUT_OF_MEMORY with no dataset and nothing left allocated. Returns
 * the k that loaded (the load's allocation count). */
static int first_surviving_allocation(dcnn_context *ctx, context_load load, int limit) {
  for (int k = 0; k < limit; ++k) {
    dcnn_dataset *ds = NULL;
    dcnn__fail_allocations_after(k);
    const dcnn_status status = load(ctx, &ds);
    dcnn__fail_allocations_after(-1);
    if (status == DCNN_OK) {
      dcnn_dataset_destroy(ds);
      assert_int_equal(dcnn_context_live_allocations(ctx), 0);
      return k;
    }
    assert_int_equal(status, DCNN_ERR_OUT_OF_MEMORY);
    assert_null(ds);
    assert_int_equal(dcnn_context_live_allocations(ctx), 0);
  }
  fail_msg("the load still failed after %d allocations", limit);
  return -1;
}

static dcnn_status load_gzip_idx(dcnn_context *ctx, dcnn_dataset **out) {
  return dcnn_dataset_load_idx(ctx, test_dir_path("images.gz"), test_dir_path("labels.gz"), 10, out);
}

static dcnn_status load_two_pngs(dcnn_context *ctx, dcnn_dataset **out) {
  return dcnn_dataset_load_image_list(ctx, test_dir_path("two.txt"), test_dir, 10, out);
}

/* The inflating reader's buffer comes from the context's allocator: with
 * allocations failing, a gzip'd load fails cleanly, leaking nothing. */
static void gzip_idx_load_survives_allocation_failures(void **state) {
  (void)state;
  write_members("labels.gz", idx_labels, sizeof idx_labels, NULL, 0, NULL, 0);
  write_members("images.gz", idx_images, sizeof idx_images, NULL, 0, NULL, 0);
  dcnn_context *ctx = test_context(1);
  assert_true(first_surviving_allocation(ctx, load_gzip_idx, 32) >= 2); /* both input buffers at least */
  dcnn_context_destroy(ctx);
}

/* IDX labels are bytes, but a caller may count more classes than 256 (the
 * rest stay empty), as dcnn_dataset_create allows; 1000 was refused. */
static void idx_loads_with_more_classes_than_a_byte_holds(void **state) {
  (void)state;
  test_dir_write("images.idx", idx_images, sizeof idx_images);
  test_dir_write("labels.idx", idx_labels, sizeof idx_labels);
  const int32_t counts[3] = {10, 256, 1000};
  for (int i = 0; i < 3; ++i) {
    dcnn_dataset *ds = NULL;
    assert_ok(dcnn_dataset_load_idx(NULL, test_dir_path("images.idx"), test_dir_path("labels.idx"), counts[i], &ds));
    assert_int_equal(dcnn_dataset_classes(ds), counts[i]);
    assert_int_equal(dcnn_dataset_label(ds, 2), 9);
    dcnn_dataset_destroy(ds);
  }
  dcnn_dataset *ds = NULL;
  assert_status(dcnn_dataset_load_idx(NULL, test_dir_path("images.idx"), test_dir_path("labels.idx"), 9, &ds),
                DCNN_ERR_BAD_FORMAT); /* the label 9 needs 10 classes */
  assert_status(dcnn_dataset_load_idx(NULL, test_dir_path("images.idx"), test_dir_path("labels.idx"), 0, &ds),
                DCNN_ERR_INVALID_ARGUMENT);
}

/* A PNG list's decoding allocates through the context too: libpng's structs
 * and zlib's window as well as the row buffer, so a caller's hooks see them
 * and a sweep of failures reaches them, each failure reported as out of
 * memory (not as a corrupt file) and leaking nothing. */
static void image_list_decoding_allocates_through_the_context(void **state) {
  (void)state;
  write_image("one.png");
  write_image("two.png");
  write_text("one.txt", "one.png 1\n");
  write_text("two.txt", "one.png 1\ntwo.png 2\n");
  dcnn_context *ctx = test_context(1);
  int64_t made[2];
  const char *lists[2] = {"one.txt", "two.txt"};
  for (int i = 0; i < 2; ++i) {
    dcnn_dataset *ds = NULL;
    const int64_t before = dcnn_context_allocation_count(ctx);
    assert_ok(dcnn_dataset_load_image_list(ctx, test_dir_path(lists[i]), test_dir, 10, &ds));
    made[i] = dcnn_context_allocation_count(ctx) - before;
    dcnn_dataset_destroy(ds);
  }
  /* each more image: its file, the row, libpng's read and info structs, zlib's state and window */
  assert_true(made[1] - made[0] >= 5);
  assert_int_equal(first_surviving_allocation(ctx, load_two_pngs, 256), made[1]);
  dcnn_context_destroy(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(datasets_beyond_int64_are_refused_with_true_sizes),
      cmocka_unit_test(image_list_beyond_the_image_limit_names_the_line),
      cmocka_unit_test(image_list_beyond_the_limit_as_rgb_names_the_line),
      cmocka_unit_test(image_list_beyond_the_total_limit_names_the_list),
      cmocka_unit_test(idx_beyond_the_total_limit_names_the_file),
      cmocka_unit_test(paths_with_spaces_can_be_listed),
      cmocka_unit_test(lists_that_parsed_before_parse_the_same),
      cmocka_unit_test(invisible_characters_show_in_messages),
      cmocka_unit_test(gzip_idx_must_be_one_member),
      cmocka_unit_test(gzip_idx_load_survives_allocation_failures),
      cmocka_unit_test(image_list_decoding_allocates_through_the_context),
      cmocka_unit_test(idx_loads_with_more_classes_than_a_byte_holds),
      cmocka_unit_test(nul_bytes_and_blank_lines_in_lists),
  };
  return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
