/* Datasets: loaders on generated files (good and malformed), preprocessing
 * against PyTorch reference values, augmentation determinism, splits,
 * batching, and the real MNIST-M when it is present. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <png.h>
#include <zlib.h>

#include "data/data_internal.h"
#include "digitcnn/random.h"
#include "test_support.h"

/* Expected values from tests/reference/make_preprocess_reference.py (PyTorch). */
static const float rgb_4x3[] = {0.1000000f, 0.2671569f, 0.4343137f, 0.3294740f, 0.5669330f, 0.7424214f, 0.5657641f, 0.5417090f, 0.3937130f, 0.5263306f, 0.3302288f, 0.7018207f, 0.4568628f, 0.6240196f, 0.5760505f, 0.6385310f, 0.7130961f, 0.3503268f, 0.5401805f, 0.3656257f, 0.6390289f, 0.3633054f, 0.6034314f, 0.7001401f, 0.8137255f, 0.6880719f, 0.4130253f, 0.3739185f, 0.3758896f, 0.5000311f, 0.2755680f, 0.5613653f, 0.3425459f, 0.5050421f, 0.3886166f, 0.4116246f};
static const float gray_4x3[] = {0.3908432f, 0.5246196f, 0.5150863f, 0.5159572f, 0.6309519f, 0.4846294f, 0.5176641f, 0.4405890f, 0.5318804f, 0.4282079f, 0.4972549f, 0.6677518f};
static const float rgb_9x7[] = {0.0000000f, 0.0515406f, 0.1159664f, 0.1803922f, 0.2448180f, 0.3092437f, 0.3607843f, 0.0725490f, 0.1364146f, 0.2162465f, 0.2960784f, 0.3759104f, 0.4557423f, 0.5196078f, 0.1692811f, 0.2495798f, 0.3499534f, 0.4503268f, 0.5507003f, 0.6510738f, 0.7313725f, 0.2660131f, 0.3627451f, 0.4836602f, 0.6045752f, 0.7254903f, 0.8464053f, 0.9431373f, 0.3627451f, 0.4759104f, 0.6173670f, 0.7588235f, 0.5417367f, 0.5397759f, 0.6529412f, 0.4594772f, 0.5890757f, 0.7032679f, 0.7457516f, 0.3101773f, 0.2331466f, 0.3627451f, 0.5562092f, 0.7022409f, 0.6457515f, 0.2307188f, 0.2937442f, 0.4284781f, 0.5745099f, 0.6529412f, 0.5285715f, 0.3731092f, 0.2176471f, 0.4207284f, 0.6238096f, 0.7862746f, 0.7254902f, 0.3266107f, 0.1148460f, 0.3333333f, 0.5518208f, 0.7703081f, 0.9450980f, 0.3568628f, 0.4084034f, 0.4728291f, 0.5372549f, 0.6016807f, 0.6661065f, 0.7176471f, 0.4294118f, 0.4932773f, 0.5731093f, 0.6529412f, 0.7327731f, 0.5974790f, 0.3745098f, 0.5261438f, 0.6064426f, 0.7068161f, 0.8071896f, 0.7880485f, 0.4820728f, 0.0843138f, 0.6228759f, 0.7196079f, 0.8405229f, 0.9614379f, 0.4847804f, 0.2949579f, 0.2960785f, 0.7196078f, 0.5459384f, 0.4722689f, 0.6137255f, 0.3966386f, 0.3946779f, 0.5078431f, 0.8163399f, 0.3722690f, 0.1040150f, 0.2660131f, 0.4280113f, 0.5900094f, 0.7196079f, 0.9130719f, 0.4854342f, 0.2377218f, 0.4202615f, 0.6028012f, 0.7853408f, 0.9313726f, 0.5078431f, 0.3834734f, 0.3714286f, 0.5745098f, 0.7775911f, 0.7655462f, 0.6411765f, 0.0784314f, 0.2532213f, 0.4717087f, 0.6901961f, 0.9086835f, 0.6969187f, 0.2980392f, 0.7137255f, 0.7652661f, 0.8296919f, 0.8941177f, 0.9585434f, 0.5927171f, 0.0705882f, 0.7862746f, 0.8501401f, 0.7865546f, 0.5078431f, 0.5876751f, 0.4523810f, 0.2294118f, 0.7156862f, 0.7959850f, 0.6573295f, 0.1601307f, 0.2605042f, 0.3608777f, 0.4411765f, 0.1431371f, 0.2398691f, 0.3129784f, 0.3143791f, 0.4352942f, 0.5562092f, 0.6529412f, 0.0725490f, 0.1857143f, 0.3271709f, 0.4686275f, 0.6100841f, 0.5364146f, 0.3627451f, 0.1692811f, 0.2988796f, 0.4608777f, 0.6228759f, 0.6653595f, 0.4210084f, 0.0725490f, 0.2660131f, 0.4120449f, 0.5945846f, 0.7771242f, 0.3620914f, 0.2338935f, 0.2843138f, 0.3627451f, 0.5252101f, 0.5848739f, 0.4294118f, 0.2739496f, 0.3336135f, 0.4960784f, 0.4352941f, 0.6100841f, 0.5417366f, 0.0431373f, 0.2616247f, 0.4801121f, 0.6549020f};
static const float gray_9x7[] = {0.2908431f, 0.3423838f, 0.4068095f, 0.4712353f, 0.5356611f, 0.5510381f, 0.5371804f, 0.3633922f, 0.4272577f, 0.4907401f, 0.5296981f, 0.6095300f, 0.5385585f, 0.4013529f, 0.4410497f, 0.5213485f, 0.5944726f, 0.6267229f, 0.6569414f, 0.5187879f, 0.3184667f, 0.4614837f, 0.5582157f, 0.6736809f, 0.7809713f, 0.5511112f, 0.4896234f, 0.5302314f, 0.5391411f, 0.4839344f, 0.4991121f, 0.6405686f, 0.4643557f, 0.4542202f, 0.5346863f, 0.6358733f, 0.4287278f, 0.3238740f, 0.4501373f, 0.4198366f, 0.4640414f, 0.5391412f, 0.7326053f, 0.5418931f, 0.4004050f, 0.4042706f, 0.4829522f, 0.6157739f, 0.7509059f, 0.5346863f, 0.4430157f, 0.3962639f, 0.4512667f, 0.6134741f, 0.6739266f, 0.6680196f, 0.3125843f, 0.3158471f, 0.3729900f, 0.5097294f, 0.7282169f, 0.6941462f, 0.5321922f};

static int make_dir(void **state) {
  (void)state;
  return test_dir_create("dcnn-data");
}

static int remove_dir(void **state) {
  (void)state;
  return test_dir_remove();
}

static void write_text(const char *name, const char *text) {
  FILE *f = fopen(test_dir_path(name), "wb");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

/* An h x w RGB PNG whose pixels encode its index. */
static void write_rgb(const char *name, int h, int w, int seed) {
  uint8_t pixels[64 * 64 * 3];
  for (int i = 0; i < h * w * 3; ++i) pixels[i] = (uint8_t)(seed * 31 + i * 7);
  assert_ok(dcnn_image_write_png(test_dir_path(name), h, w, 3, pixels));
}

static dcnn_status load_list(const char *list, dcnn_dataset **ds) {
  return dcnn_dataset_load_image_list(NULL, test_dir_path(list), test_dir, 10, ds);
}

static void image_list_loads_pixels_and_labels(void **state) {
  (void)state;
  write_rgb("a.png", 5, 4, 1);
  write_rgb("b.png", 5, 4, 2);
  write_rgb("c.png", 5, 4, 3);
  write_text("list.txt", "a.png 3\n\nb.png 0\r\nc.png   9  \n");
  dcnn_dataset *ds = NULL;
  assert_ok(load_list("list.txt", &ds));
  assert_int_equal(dcnn_dataset_count(ds), 3);
  int32_t h, w, c;
  assert_ok(dcnn_dataset_image_size(ds, &h, &w, &c));
  assert_int_equal(h, 5);
  assert_int_equal(w, 4);
  assert_int_equal(c, 3);
  assert_int_equal(dcnn_dataset_label(ds, 0), 3);
  assert_int_equal(dcnn_dataset_label(ds, 2), 9);
  assert_int_equal(dcnn_dataset_label(ds, 3), -1);
  assert_string_equal(dcnn_dataset_source(ds, 1), "b.png");
  const uint8_t *px = dcnn_dataset_image(ds, 1);
  for (int i = 0; i < 5 * 4 * 3; ++i) assert_int_equal(px[i], (uint8_t)(2 * 31 + i * 7));
  int64_t counts[10];
  assert_ok(dcnn_dataset_class_counts(ds, counts, 10));
  assert_int_equal(counts[0] + counts[3] + counts[9], 3);
  assert_status(dcnn_dataset_class_counts(ds, counts, 5), DCNN_ERR_INVALID_ARGUMENT);
  dcnn_dataset_destroy(ds);
}

/* Palette, 16-bit, gray+alpha and RGBA PNGs are converted to 8-bit RGB. */
static void other_png_kinds_are_converted(void **state) {
  (void)state;
  write_rgb("first.png", 4, 4, 5);
  uint16_t gray16[16];
  for (int i = 0; i < 16; ++i) gray16[i] = (uint16_t)(i * 4000);
  png_image img;
  memset(&img, 0, sizeof img);
  img.version = PNG_IMAGE_VERSION;
  img.width = img.height = 4;
  img.format = PNG_FORMAT_LINEAR_Y; /* 16-bit gray */
  assert_true(png_image_write_to_file(&img, test_dir_path("g16.png"), 0, gray16, 0, NULL));
  uint8_t rgba[64];
  for (int i = 0; i < 64; ++i) rgba[i] = (uint8_t)(i * 3);
  memset(&img, 0, sizeof img);
  img.version = PNG_IMAGE_VERSION;
  img.width = img.height = 4;
  img.format = PNG_FORMAT_RGBA;
  assert_true(png_image_write_to_file(&img, test_dir_path("rgba.png"), 0, rgba, 0, NULL));
  uint8_t index[16], palette[4 * 3] = {255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 9, 9};
  for (int i = 0; i < 16; ++i) index[i] = (uint8_t)(i % 4);
  memset(&img, 0, sizeof img);
  img.version = PNG_IMAGE_VERSION;
  img.width = img.height = 4;
  img.format = PNG_FORMAT_RGB_COLORMAP;
  img.colormap_entries = 4;
  assert_true(png_image_write_to_file(&img, test_dir_path("pal.png"), 0, index, 0, palette));
  write_text("kinds.txt", "first.png 0\ng16.png 1\nrgba.png 2\npal.png 3\n");
  dcnn_dataset *ds = NULL;
  assert_ok(load_list("kinds.txt", &ds));
  const uint8_t *pal = dcnn_dataset_image(ds, 3);
  assert_int_equal(pal[0], 255); /* pixel 0: palette entry 0, red */
  assert_int_equal(pal[1], 0);
  assert_int_equal(pal[3 + 1], 255); /* pixel 1: green */
  const uint8_t *g = dcnn_dataset_image(ds, 1);
  assert_int_equal(g[0], g[1]); /* gray -> equal channels */
  assert_int_equal(g[0], 0);
  assert_true(g[15 * 3] > 200); /* the brightest 16-bit value stays bright */
  dcnn_dataset_destroy(ds);
}

static void malformed_lists_are_named(void **state) {
  (void)state;
  write_rgb("ok.png", 5, 4, 1);
  write_rgb("big.png", 6, 4, 1);
  write_text("notpng.png", "this is not a PNG file at all");
  const struct {
    const char *text, *mentions;
    dcnn_status status;
  } cases[] = {
      {"ok.png 1\nok.png 2\n", ":2: duplicate entry ok.png (first on line 1)", DCNN_ERR_BAD_FORMAT},
      {"ok.png 1\nok.png\n", ":2: expected", DCNN_ERR_BAD_FORMAT},
      {"ok.png 12\n", ":1: label 12 of ok.png is outside 0..9", DCNN_ERR_BAD_FORMAT},
      {"ok.png 99999999999999999999\n", ":1: label 99999999999999999999 of ok.png is outside 0..9", DCNN_ERR_BAD_FORMAT},
      {"ok.png -99999999999999999999\n", ":1: label -99999999999999999999 of ok.png is outside 0..9",
       DCNN_ERR_BAD_FORMAT},
      {"ok.png -1\n", "label -1", DCNN_ERR_BAD_FORMAT},
      {"ok.png seven\n", "not an integer", DCNN_ERR_BAD_FORMAT},
      {"ok.png 1 x\n", "label \"x\" of ok.png 1 is not an integer", DCNN_ERR_BAD_FORMAT},
      {"ok.png 1\nmissing.png 2\n", "missing.png: cannot open", DCNN_ERR_IO},
      {"ok.png 1\nnotpng.png 2\n", ":2: ", DCNN_ERR_BAD_FORMAT},
      {"ok.png 1\nbig.png 2\n", "big.png: image is 4x6, the dataset's images are 4x5", DCNN_ERR_BAD_FORMAT},
      {"../ok.png 1\n", "leaves the image directory", DCNN_ERR_BAD_FORMAT},
      /* quoted as written: the half-normalised "subub/../ok.png" was shown */
      {"ok.png 1\n./sub/../ok.png 2\n", ":2: path ./sub/../ok.png leaves the image directory", DCNN_ERR_BAD_FORMAT},
      {"./a/b/../../x.png 1\n", "path ./a/b/../../x.png leaves", DCNN_ERR_BAD_FORMAT},
      {"./ 1\n", "path ./ leaves the image directory or names no file", DCNN_ERR_BAD_FORMAT},
      {"\n\n", "lists no images", DCNN_ERR_BAD_FORMAT},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
    write_text("bad.txt", cases[i].text);
    dcnn_dataset *ds = (dcnn_dataset *)&i;
    assert_status(load_list("bad.txt", &ds), cases[i].status);
    assert_null(ds);
    assert_error_mentions(cases[i].mentions);
  }
  dcnn_dataset *ds = NULL;
  assert_status(dcnn_dataset_load_image_list(NULL, test_dir_path("absent.txt"), test_dir, 10, &ds), DCNN_ERR_IO);
  assert_error_mentions("absent.txt");
  assert_status(dcnn_dataset_load_mnist_m(NULL, test_dir, DCNN_MNIST_M_TRAIN, &ds), DCNN_ERR_IO);
  assert_error_mentions("mnist_m_train_labels.txt");
  /* "" searched the file system's root (/mnist_m_train_labels.txt) */
  assert_status(dcnn_dataset_load_mnist_m(NULL, "", DCNN_MNIST_M_TRAIN, &ds), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("the root path is empty");
  /* A root that leaves no room for the file names was cut, and the error named the cut path */
  char *root = malloc(4096);
  assert_non_null(root);
  memset(root, 'a', 4075);
  root[4075] = '\0';
  assert_status(dcnn_dataset_load_mnist_m(NULL, root, DCNN_MNIST_M_TRAIN, &ds), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("the root path (4075 bytes) is too long");
  assert_null(ds);
  free(root);
}

/* Long paths are shortened in messages (start ... end), so the line number and
 * the reason stay: a 600-byte image name cut "cannot open: No such file or
 * directory" off, a list path over 253 bytes cut off its ":1". */
static void long_paths_keep_the_line_and_the_reason(void **state) {
  (void)state;
  write_rgb("ok.png", 5, 4, 1);
  char long_name[700], list[800];
  memset(long_name, 'n', 600);
  for (int i = 50; i < 600; i += 50) long_name[i] = '/'; /* components a file system takes (NAME_MAX) */
  snprintf(long_name + 600, sizeof long_name - 600, ".png");
  snprintf(list, sizeof list, "ok.png 1\n%s 2\n", long_name);
  write_text("long.txt", list);
  dcnn_dataset *ds = NULL;
  assert_status(load_list("long.txt", &ds), DCNN_ERR_IO);
  assert_error_mentions("long.txt:2: ");
  assert_error_mentions("nnn...nnn");
  assert_error_mentions("nnnn.png: cannot open: No such file or directory");
  /* a list 300 bytes down (three directories of 100) whose first entry is missing */
  char path[800], list_path[900], part[101];
  memset(part, 'd', 100);
  part[100] = '\0';
  snprintf(path, sizeof path, "%s", test_dir);
  for (int depth = 0; depth < 3; ++depth) {
    const size_t at = strlen(path);
    snprintf(path + at, sizeof path - at, "/%s", part);
    assert_true(mkdir(path, 0755) == 0 || errno == EEXIST);
  }
  snprintf(list_path, sizeof list_path, "%s/list.txt", path);
  FILE *f = fopen(list_path, "w");
  assert_non_null(f);
  fputs("missing.png 1\n", f);
  fclose(f);
  assert_status(dcnn_dataset_load_image_list(NULL, list_path, test_dir, 10, &ds), DCNN_ERR_IO);
  assert_error_mentions("ddd/list.txt:1: ");
  assert_error_mentions("missing.png: cannot open: No such file or directory");
  assert_true(strlen(dcnn_last_error()) < 700);
  assert_int_equal(unlink(list_path), 0);
  for (int depth = 0; depth < 3; ++depth) {
    assert_int_equal(rmdir(path), 0);
    *strrchr(path, '/') = '\0';
  }
}

/* IDX files: 3 images of 2x3 and their labels, raw or gzip'd. */
static void write_idx(const char *name, int gz, const uint8_t *bytes, size_t n) {
  if (gz) {
    gzFile f = gzopen(test_dir_path(name), "wb");
    assert_non_null(f);
    assert_int_equal(gzwrite(f, bytes, (unsigned)n), (int)n);
    gzclose(f);
  } else {
    FILE *f = fopen(test_dir_path(name), "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, n, f), n);
    fclose(f);
  }
}

static const uint8_t idx_images[] = {0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 3,
                                     1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18};
static const uint8_t idx_labels[] = {0, 0, 8, 1, 0, 0, 0, 3, 7, 0, 9};

static void idx_loads_raw_and_gzip(void **state) {
  (void)state;
  for (int gz = 0; gz < 2; ++gz) {
    write_idx("img.idx", gz, idx_images, sizeof idx_images);
    write_idx("lab.idx", gz, idx_labels, sizeof idx_labels);
    dcnn_dataset *ds = NULL;
    assert_ok(dcnn_dataset_load_idx(NULL, test_dir_path("img.idx"), test_dir_path("lab.idx"), 10, &ds));
    assert_int_equal(dcnn_dataset_count(ds), 3);
    int32_t h, w, c;
    assert_ok(dcnn_dataset_image_size(ds, &h, &w, &c));
    assert_int_equal(h * 10 + w, 23);
    assert_int_equal(c, 1);
    assert_int_equal(dcnn_dataset_image(ds, 2)[5], 18);
    assert_int_equal(dcnn_dataset_label(ds, 0), 7);
    assert_int_equal(dcnn_dataset_label(ds, 2), 9);
    dcnn_dataset_destroy(ds);
  }
}

static void idx_rejects_malformed_files(void **state) {
  (void)state;
  uint8_t bad[sizeof idx_images];
  dcnn_dataset *ds = NULL;
  write_idx("lab.idx", 0, idx_labels, sizeof idx_labels);
  const struct {
    size_t at;
    uint8_t value;
    const char *mentions;
  } flips[] = {{0, 1, "not an IDX file"}, {2, 0x0D, "element type 0x0d"}, {3, 2, "2 dimensions at byte 3"},
               {7, 4, "has 4 images but"}, {7, 0, "dimension 0 is 0"}, {9, 0x10, "dimension 1 is"}};
  for (size_t i = 0; i < sizeof flips / sizeof flips[0]; ++i) {
    memcpy(bad, idx_images, sizeof bad);
    bad[flips[i].at] = flips[i].value;
    write_idx("img.idx", 0, bad, sizeof bad);
    assert_true(dcnn_dataset_load_idx(NULL, test_dir_path("img.idx"), test_dir_path("lab.idx"), 10, &ds) != DCNN_OK);
    assert_null(ds);
    assert_error_mentions(flips[i].mentions);
  }
  /* Truncation at every length, raw and compressed. */
  for (int gz = 0; gz < 2; ++gz)
    for (size_t n = 0; n < sizeof idx_images; ++n) {
      write_idx("img.idx", gz, idx_images, n);
      assert_int_equal(dcnn_dataset_load_idx(NULL, test_dir_path("img.idx"), test_dir_path("lab.idx"), 10, &ds),
                       DCNN_ERR_BAD_FORMAT);
      assert_null(ds);
    }
  /* Trailing bytes. */
  uint8_t longer[sizeof idx_images + 1];
  memcpy(longer, idx_images, sizeof idx_images);
  longer[sizeof idx_images] = 0;
  write_idx("img.idx", 0, longer, sizeof longer);
  assert_status(dcnn_dataset_load_idx(NULL, test_dir_path("img.idx"), test_dir_path("lab.idx"), 10, &ds), DCNN_ERR_BAD_FORMAT);
  assert_error_mentions("unexpected data after byte 34");
  /* A corrupt gzip stream: flip bytes inside the compressed data. */
  write_idx("img.idx", 1, idx_images, sizeof idx_images);
  FILE *f = fopen(test_dir_path("img.idx"), "r+b");
  assert_non_null(f);
  fseek(f, 14, SEEK_SET);
  fputc(0xFF, f);
  fputc(0x00, f);
  fputc(0xFF, f);
  fclose(f);
  assert_status(dcnn_dataset_load_idx(NULL, test_dir_path("img.idx"), test_dir_path("lab.idx"), 10, &ds), DCNN_ERR_BAD_FORMAT);
  /* Labels out of range. */
  write_idx("img.idx", 0, idx_images, sizeof idx_images);
  assert_status(dcnn_dataset_load_idx(NULL, test_dir_path("img.idx"), test_dir_path("lab.idx"), 8, &ds), DCNN_ERR_BAD_FORMAT);
  assert_error_mentions("label 9 of sample 2 (byte 10) is outside 0..7");
  assert_status(dcnn_dataset_load_idx(NULL, test_dir_path("nope.idx"), test_dir_path("lab.idx"), 10, &ds), DCNN_ERR_IO);
  assert_error_mentions("nope.idx");
  /* A gzip'd header announcing more than the dataset limit (4,097 images of 4096 x 4096, past 2^36 bytes), its
   * trailer agreeing and the file (sparse) long enough for the bytes announced, over a body that is not deflate
   * data: refused for the sizes, before anything is inflated. The loader once inflated all it announced first, so
   * 67 MB held it for the time 68 GB take, and here it reported the broken body. */
  static const uint8_t header[16] = {0, 0, 8, 3, 0, 0, 0x10, 0x01, 0, 0, 0x10, 0, 0, 0, 0x10, 0};
  const uint64_t announced = 16 + 4097ull * 4096 * 4096;
  static uint8_t body[16 + 65536]; /* the header and the first pixels, all a reader of the header decodes */
  memcpy(body, header, sizeof header);
  uint8_t start[4096];
  z_stream z;
  memset(&z, 0, sizeof z);
  assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  z.next_in = body;
  z.avail_in = sizeof body;
  z.next_out = start;
  z.avail_out = sizeof start;
  assert_int_equal(deflate(&z, Z_SYNC_FLUSH), Z_OK);
  assert_int_equal(z.avail_in, 0);
  const size_t started = sizeof start - z.avail_out;
  deflateEnd(&z);
  f = fopen(test_dir_path("img.idx"), "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(start, 1, started, f), started);
  /* zeros from here: a stored block whose length check fails (67 MB of them where files cannot be sparse) */
  const long trailer_at = (long)(announced / 1032) + 4096;
  assert_int_equal(fseek(f, trailer_at, SEEK_SET), 0);
  const uint32_t isize = (uint32_t)announced;
  const uint8_t trailer[8] = {0, 0, 0, 0, (uint8_t)isize, (uint8_t)(isize >> 8), (uint8_t)(isize >> 16),
                              (uint8_t)(isize >> 24)};
  assert_int_equal(fwrite(trailer, 1, sizeof trailer, f), sizeof trailer);
  assert_int_equal(fclose(f), 0);
  f = fopen(test_dir_path("lab.idx"), "wb");
  assert_non_null(f);
  static const uint8_t label_header[8] = {0, 0, 8, 1, 0, 0, 0x10, 0x01};
  assert_int_equal(fwrite(label_header, 1, sizeof label_header, f), sizeof label_header);
  for (int i = 0; i < 4097; ++i) fputc(i % 10, f);
  assert_int_equal(fclose(f), 0);
  const dcnn_status loaded = dcnn_dataset_load_idx(NULL, test_dir_path("img.idx"), test_dir_path("lab.idx"), 10, &ds);
  assert_int_equal(unlink(test_dir_path("img.idx")), 0); /* before the checks: 67 MB where files cannot be sparse */
  assert_int_equal(loaded, DCNN_ERR_BAD_FORMAT);
  assert_error_mentions("too large: at most 2^26 bytes per image and 2^36 in all");
}

/* The fixed 6x5 RGB image of make_preprocess_reference.py. */
static dcnn_dataset *reference_image(void) {
  uint8_t px[6 * 5 * 3];
  for (int y = 0; y < 6; ++y)
    for (int x = 0; x < 5; ++x)
      for (int c = 0; c < 3; ++c) px[(y * 5 + x) * 3 + c] = (uint8_t)((37 * y + 23 * x + 91 * c + 11 * x * y) % 256);
  int32_t label = 4;
  dcnn_dataset *ds = NULL;
  assert_ok(dcnn_dataset_create(NULL, 1, 6, 5, 3, px, &label, 10, &ds));
  return ds;
}

static void preprocess_matches(dcnn_dataset *ds, int oh, int ow, int gray, const float *expected) {
  dcnn_pipeline *p = NULL;
  assert_ok(dcnn_pipeline_create(NULL, &p));
  assert_ok(dcnn_pipeline_set(p, DCNN_PIPE_HEIGHT, oh));
  assert_ok(dcnn_pipeline_set(p, DCNN_PIPE_WIDTH, ow));
  assert_ok(dcnn_pipeline_set(p, DCNN_PIPE_GRAYSCALE, gray));
  const int c = gray ? 1 : 3;
  dcnn_shape s = dcnn_shape_make(4, 1, c, oh, ow);
  dcnn_tensor *x = NULL;
  assert_ok(dcnn_tensor_create(NULL, &s, &x));
  int32_t index = 0, label = -1;
  assert_ok(dcnn_pipeline_batch(p, ds, &index, 1, DCNN_AUGMENT_OFF, 0, 0, x, &label));
  assert_int_equal(label, 4);
  double worst = 0;
  for (int i = 0; i < c * oh * ow; ++i) worst = fmax(worst, fabs(dcnn_tensor_data(x)[i] - expected[i]));
  if (worst > 2e-6) fail_msg("%dx%d gray=%d: largest difference from PyTorch %g", oh, ow, gray, worst);
  dcnn_tensor_destroy(x);
  dcnn_pipeline_destroy(p);
}

static void preprocessing_matches_pytorch(void **state) {
  (void)state;
  dcnn_dataset *ds = reference_image();
  preprocess_matches(ds, 4, 3, 0, rgb_4x3);
  preprocess_matches(ds, 4, 3, 1, gray_4x3);
  preprocess_matches(ds, 9, 7, 0, rgb_9x7);
  preprocess_matches(ds, 9, 7, 1, gray_9x7);
  /* Standardisation applies (x - mean) / std after scaling. */
  dcnn_pipeline *p = NULL;
  assert_ok(dcnn_pipeline_create(NULL, &p));
  const float mean[3] = {0.5f, 0.25f, 0.0f}, std[3] = {0.5f, 2.0f, 1.0f};
  assert_ok(dcnn_pipeline_set_standardization(p, 3, mean, std));
  dcnn_shape s = dcnn_shape_make(4, 1, 3, 6, 5);
  dcnn_tensor *x = NULL;
  assert_ok(dcnn_tensor_create(NULL, &s, &x));
  int32_t index = 0;
  assert_ok(dcnn_pipeline_batch(p, ds, &index, 1, DCNN_AUGMENT_OFF, 0, 0, x, NULL));
  const uint8_t *px = dcnn_dataset_image(ds, 0);
  assert_float_equal(dcnn_tensor_data(x)[0], (px[0] / 255.0f - 0.5f) / 0.5f, 1e-6);
  assert_float_equal(dcnn_tensor_data(x)[30 + 1], (px[3 + 1] / 255.0f - 0.25f) / 2.0f, 1e-6);
  assert_ok(dcnn_pipeline_set(p, DCNN_PIPE_GRAYSCALE, 1));
  assert_status(dcnn_pipeline_batch(p, ds, &index, 1, DCNN_AUGMENT_OFF, 0, 0, x, NULL), DCNN_ERR_SHAPE_MISMATCH);
  assert_status(dcnn_pipeline_set(p, DCNN_PIPE_ROTATION, 400), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_pipeline_set(p, (dcnn_pipeline_option)99, 1), DCNN_ERR_INVALID_ARGUMENT);
  /* A description that cannot be met (one gray channel, three channels' statistics) is refused at once. */
  assert_status(dcnn_pipeline_configure(p, "height=0 width=0 grayscale=1 standardize=3 mean0=0 std0=1 mean1=0 "
                                           "std1=1 mean2=0 std2=1"),
                DCNN_ERR_BAD_FORMAT);
  assert_error_mentions("'grayscale=1' gives 1 channel");
  {
    /* A description of more than 32 pairs is checked for repeated keys through the pipeline's context,
     * not the default one: a counting or failing allocator saw none of it. */
    dcnn_context *counted = NULL;
    assert_ok(dcnn_context_create(&counted));
    dcnn_pipeline *q = NULL;
    assert_ok(dcnn_pipeline_create(counted, &q));
    char text[1024] = "height=0 width=0 grayscale=0 standardize=0";
    for (int k = 0; k < 40; ++k) snprintf(text + strlen(text), sizeof text - strlen(text), " extra%d=1", k);
    const int64_t mine = dcnn_context_allocation_count(counted), shared = dcnn_context_allocation_count(NULL);
    assert_status(dcnn_pipeline_configure(q, text), DCNN_ERR_BAD_FORMAT);
    assert_error_mentions("extra0");
    assert_true(dcnn_context_allocation_count(counted) > mine);
    assert_int_equal(dcnn_context_allocation_count(NULL), shared);
    dcnn_pipeline_destroy(q);
    dcnn_context_destroy(counted);
  }
  /* Zoom bounds are set one at a time; an augmenting batch refuses a minimum above the maximum. */
  assert_ok(dcnn_pipeline_set(p, DCNN_PIPE_GRAYSCALE, 0));
  assert_ok(dcnn_pipeline_set(p, DCNN_PIPE_ZOOM_MIN, 5));
  assert_ok(dcnn_pipeline_set(p, DCNN_PIPE_ZOOM_MAX, 0.5));
  assert_status(dcnn_pipeline_batch(p, ds, &index, 1, DCNN_AUGMENT_ON, 0, 0, x, NULL), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("DCNN_PIPE_ZOOM_MIN is above DCNN_PIPE_ZOOM_MAX");
  assert_ok(dcnn_pipeline_batch(p, ds, &index, 1, DCNN_AUGMENT_OFF, 0, 0, x, NULL)); /* no warp drawn */
  assert_true(isnan(dcnn_pipeline_get(p, (dcnn_pipeline_option)99)));
  dcnn_tensor_destroy(x);
  dcnn_pipeline_destroy(p);
  dcnn_dataset_destroy(ds);
}

/* A synthetic dataset of n 12x10 RGB images with labels i % 10. */
static dcnn_dataset *synthetic(int32_t n) {
  uint8_t *px = malloc((size_t)n * 12 * 10 * 3);
  int32_t *labels = malloc((size_t)n * sizeof(int32_t));
  for (int32_t i = 0; i < n * 360; ++i) px[i] = (uint8_t)(dcnn_random_bits(3, 0, (uint64_t)i) & 0xFF);
  for (int32_t i = 0; i < n; ++i) labels[i] = i % 10;
  dcnn_dataset *ds = NULL;
  assert_ok(dcnn_dataset_create(NULL, n, 12, 10, 3, px, labels, 10, &ds));
  free(px);
  free(labels);
  return ds;
}

static float *augmented_batch(int32_t threads, int cache, dcnn_dataset *ds) {
  dcnn_context *ctx = test_context(threads);
  dcnn_pipeline *p = NULL;
  assert_ok(dcnn_pipeline_create(ctx, &p));
  assert_ok(dcnn_pipeline_set_paper_defaults(p));
  assert_ok(dcnn_pipeline_set(p, DCNN_PIPE_CACHE, cache));
  dcnn_shape s = dcnn_shape_make(4, 20, 1, 28, 28);
  dcnn_tensor *x = NULL;
  assert_ok(dcnn_tensor_create(ctx, &s, &x));
  int32_t idx[20];
  for (int i = 0; i < 20; ++i) idx[i] = (i * 7) % 50;
  assert_ok(dcnn_pipeline_batch(p, ds, idx, 20, DCNN_AUGMENT_ON, 42, 3, x, NULL));
  float *copy = malloc(20 * 784 * sizeof(float));
  memcpy(copy, dcnn_tensor_data(x), 20 * 784 * sizeof(float));
  dcnn_tensor_destroy(x);
  dcnn_pipeline_destroy(p);
  assert_int_equal(dcnn_context_live_allocations(ctx), 0);
  dcnn_context_destroy(ctx);
  return copy;
}

static void augmentation_is_seeded_and_thread_independent(void **state) {
  (void)state;
  dcnn_dataset *ds = synthetic(50);
  float *one = augmented_batch(1, 1, ds), *two = augmented_batch(2, 1, ds), *uncached = augmented_batch(2, 0, ds);
  assert_memory_equal(one, two, 20 * 784 * sizeof(float));
  assert_memory_equal(one, uncached, 20 * 784 * sizeof(float));
  for (int i = 0; i < 20 * 784; ++i) assert_true(one[i] >= 0.0f && one[i] <= 1.0f);
  free(one);
  free(two);
  free(uncached);

  /* A neutral warp (no rotation, shift or zoom) is the identity, and a different epoch changes the warp. */
  dcnn_pipeline *p = NULL;
  assert_ok(dcnn_pipeline_create(NULL, &p));
  dcnn_shape s = dcnn_shape_make(4, 2, 3, 12, 10);
  dcnn_tensor *plain = NULL, *warped = NULL;
  assert_ok(dcnn_tensor_create(NULL, &s, &plain));
  assert_ok(dcnn_tensor_create(NULL, &s, &warped));
  int32_t idx[2] = {4, 9};
  assert_ok(dcnn_pipeline_batch(p, ds, idx, 2, DCNN_AUGMENT_OFF, 1, 0, plain, NULL));
  assert_ok(dcnn_pipeline_batch(p, ds, idx, 2, DCNN_AUGMENT_ON, 1, 0, warped, NULL));
  for (int i = 0; i < 2 * 360; ++i) assert_float_equal(dcnn_tensor_data(plain)[i], dcnn_tensor_data(warped)[i], 1e-5);
  assert_ok(dcnn_pipeline_set(p, DCNN_PIPE_ROTATION, 10));
  float *a = malloc(720 * sizeof(float));
  assert_ok(dcnn_pipeline_batch(p, ds, idx, 2, DCNN_AUGMENT_ON, 1, 0, warped, NULL));
  memcpy(a, dcnn_tensor_data(warped), 720 * sizeof(float));
  assert_ok(dcnn_pipeline_batch(p, ds, idx, 2, DCNN_AUGMENT_ON, 1, 1, warped, NULL));
  assert_memory_not_equal(a, dcnn_tensor_data(warped), 720 * sizeof(float));
  free(a);
  /* A subset that repeats an image (oversampling) augments each copy apart; a subset without repeats
   * augments an image as its parent does (the draw follows the stored image). */
  const int32_t repeated[4] = {5, 5, 5, 6}, distinct[2] = {5, 6};
  dcnn_dataset *oversampled = NULL, *plain_view = NULL;
  assert_ok(dcnn_dataset_subset(ds, repeated, 4, &oversampled));
  assert_ok(dcnn_dataset_subset(ds, distinct, 2, &plain_view));
  dcnn_shape four = dcnn_shape_make(4, 4, 3, 12, 10);
  dcnn_tensor *copies = NULL;
  assert_ok(dcnn_tensor_create(NULL, &four, &copies));
  const int32_t positions[4] = {0, 1, 2, 3}, two_positions[2] = {0, 1};
  assert_ok(dcnn_pipeline_batch(p, oversampled, positions, 4, DCNN_AUGMENT_ON, 1, 0, copies, NULL));
  const float *c = dcnn_tensor_data(copies);
  assert_memory_not_equal(c, c + 360, 360 * sizeof(float));
  assert_memory_not_equal(c, c + 720, 360 * sizeof(float));
  assert_memory_not_equal(c + 360, c + 720, 360 * sizeof(float));
  int32_t parent_idx[2] = {5, 6};
  assert_ok(dcnn_pipeline_batch(p, ds, parent_idx, 2, DCNN_AUGMENT_ON, 1, 0, warped, NULL));
  assert_ok(dcnn_pipeline_batch(p, plain_view, two_positions, 2, DCNN_AUGMENT_ON, 1, 0, plain, NULL));
  assert_memory_equal(dcnn_tensor_data(warped), dcnn_tensor_data(plain), 720 * sizeof(float));
  dcnn_tensor_destroy(copies);
  dcnn_dataset_destroy(oversampled);
  dcnn_dataset_destroy(plain_view);
  dcnn_tensor_destroy(plain);
  dcnn_tensor_destroy(warped);
  dcnn_pipeline_destroy(p);
  dcnn_dataset_destroy(ds);
}

/* A batch of samples 0..count-1 of `ds` (12x10 RGB) with pipeline `p` at `threads` threads, copied out. */
/* The first `count` samples of the 12 x 10 synthetic set with `channels`
 * output channels, seed 7: a malloc'd (count, channels, 12, 10) copy. */
static float *batch_copy(dcnn_pipeline *p, dcnn_dataset *ds, int32_t count, int32_t channels, dcnn_augmentation aug,
                         int64_t epoch) {
  dcnn_shape s = dcnn_shape_make(4, count, channels, 12, 10);
  dcnn_tensor *x = NULL;
  assert_ok(dcnn_tensor_create(NULL, &s, &x));
  int32_t idx[64];
  for (int32_t i = 0; i < count; ++i) idx[i] = i;
  assert_ok(dcnn_pipeline_batch(p, ds, idx, count, aug, 7, epoch, x, NULL));
  const size_t bytes = (size_t)count * (size_t)channels * 120 * sizeof(float);
  float *copy = malloc(bytes);
  memcpy(copy, dcnn_tensor_data(x), bytes);
  dcnn_tensor_destroy(x);
  return copy;
}

static float *colour_batch(dcnn_pipeline *p, dcnn_dataset *ds, int32_t count, dcnn_augmentation aug, int64_t epoch) {
  return batch_copy(p, ds, count, 3, aug, epoch);
}

static dcnn_pipeline *colour_pipeline(dcnn_context *ctx, int cache) {
  dcnn_pipeline *p = NULL;
  assert_ok(dcnn_pipeline_create(ctx, &p));
  const dcnn_pipeline_option o[] = {DCNN_PIPE_CHANNEL_SHUFFLE, DCNN_PIPE_RANDOM_GRAY, DCNN_PIPE_INVERT,
                                    DCNN_PIPE_BRIGHTNESS, DCNN_PIPE_CONTRAST, DCNN_PIPE_SATURATION,
                                    DCNN_PIPE_SHIFT, DCNN_PIPE_ROTATION, DCNN_PIPE_CUTOUT, DCNN_PIPE_CACHE};
  const double v[] = {0.5, 0.2, 0.5, 0.4, 0.4, 0.4, 2, 10, 0.5, cache};
  for (int i = 0; i < 10; ++i) assert_ok(dcnn_pipeline_set(p, o[i], v[i]));
  const float mean[3] = {0.4f, 0.5f, 0.6f}, std[3] = {0.25f, 0.5f, 0.2f};
  assert_ok(dcnn_pipeline_set_standardization(p, 3, mean, std));
  return p;
}

static void colour_augmentation_is_seeded_thread_independent_and_in_range(void **state) {
  (void)state;
  dcnn_dataset *ds = synthetic(40);
  float *runs[3];
  for (int r = 0; r < 3; ++r) {
    dcnn_context *ctx = test_context(r == 0 ? 1 : 2);
    dcnn_pipeline *p = colour_pipeline(ctx, r != 2);
    runs[r] = colour_batch(p, ds, 40, DCNN_AUGMENT_ON, 3);
    if (r == 0) {
      float *other = colour_batch(p, ds, 40, DCNN_AUGMENT_ON, 4);
      assert_memory_not_equal(runs[0], other, 40 * 360 * sizeof(float));
      free(other);
    }
    dcnn_pipeline_destroy(p);
    assert_int_equal(dcnn_context_live_allocations(ctx), 0);
    dcnn_context_destroy(ctx);
  }
  assert_memory_equal(runs[0], runs[1], 40 * 360 * sizeof(float));
  assert_memory_equal(runs[0], runs[2], 40 * 360 * sizeof(float));
  /* Values stay the standardised images of [0, 1]. */
  const float mean[3] = {0.4f, 0.5f, 0.6f}, std[3] = {0.25f, 0.5f, 0.2f};
  for (int i = 0; i < 40; ++i)
    for (int c = 0; c < 3; ++c)
      for (int k = 0; k < 120; ++k) {
        const float v = runs[0][i * 360 + c * 120 + k] * std[c] + mean[c];
        if (v < -1e-5f || v > 1.0f + 1e-5f) fail_msg("sample %d channel %d: %g outside [0, 1]", i, c, (double)v);
      }
  for (int r = 0; r < 3; ++r) free(runs[r]);

  /* Each option alone, with certainty, does what it says. */
  dcnn_pipeline *p = NULL;
  assert_ok(dcnn_pipeline_create(NULL, &p));
  float *plain = colour_batch(p, ds, 8, DCNN_AUGMENT_OFF, 0);
  assert_ok(dcnn_pipeline_set(p, DCNN_PIPE_INVERT, 1));
  float *inverted = colour_batch(p, ds, 8, DCNN_AUGMENT_ON, 0);
  for (int i = 0; i < 8 * 360; ++i) assert_float_equal(inverted[i], 1.0f - plain[i], 1e-5);
  assert_ok(dcnn_pipeline_set(p, DCNN_PIPE_INVERT, 0));
  assert_ok(dcnn_pipeline_set(p, DCNN_PIPE_RANDOM_GRAY, 1));
  float *gray = colour_batch(p, ds, 8, DCNN_AUGMENT_ON, 0);
  for (int i = 0; i < 8; ++i)
    for (int k = 0; k < 120; ++k) {
      assert_float_equal(gray[i * 360 + k], gray[i * 360 + 120 + k], 0);
      assert_float_equal(gray[i * 360 + k], gray[i * 360 + 240 + k], 0);
    }
  assert_ok(dcnn_pipeline_set(p, DCNN_PIPE_RANDOM_GRAY, 0));
  assert_ok(dcnn_pipeline_set(p, DCNN_PIPE_CHANNEL_SHUFFLE, 1));
  float *shuffled = colour_batch(p, ds, 8, DCNN_AUGMENT_ON, 0);
  int reordered = 0;
  for (int i = 0; i < 8; ++i) {
    int seen = 0;
    for (int c = 0; c < 3; ++c) {
      int from = -1;
      for (int d = 0; d < 3 && from < 0; ++d) {
        double worst = 0;
        for (int k = 0; k < 120; ++k)
          worst = fmax(worst, fabs(shuffled[i * 360 + c * 120 + k] - plain[i * 360 + d * 120 + k]));
        if (worst < 1e-5) from = d;
      }
      if (from < 0) fail_msg("sample %d: channel %d is no input channel", i, c);
      seen |= 1 << from;
      reordered += from != c;
    }
    assert_int_equal(seen, 7);
  }
  assert_true(reordered > 0);
  assert_ok(dcnn_pipeline_set(p, DCNN_PIPE_CHANNEL_SHUFFLE, 0));
  assert_ok(dcnn_pipeline_set(p, DCNN_PIPE_FILL_EDGE, 0));
  assert_ok(dcnn_pipeline_set(p, DCNN_PIPE_SHIFT, 2));
  float *shifted = colour_batch(p, ds, 8, DCNN_AUGMENT_ON, 0);
  int moved = 0;
  for (int i = 0; i < 8; ++i) {
    int found = 0;
    for (int dy = -2; dy <= 2 && !found; ++dy)
      for (int dx = -2; dx <= 2 && !found; ++dx) {
        int same = 1;
        for (int c = 0; c < 3 && same; ++c)
          for (int y = 0; y < 12 && same; ++y)
            for (int x = 0; x < 10 && same; ++x) {
              const int sy = y + dy, sx = x + dx;
              const float want = sy >= 0 && sy < 12 && sx >= 0 && sx < 10 ? plain[i * 360 + c * 120 + sy * 10 + sx] : 0;
              same = fabsf(shifted[i * 360 + c * 120 + y * 10 + x] - want) < 1e-5f;
            }
        if (same) found = 1, moved += dx != 0 || dy != 0;
      }
    if (!found) fail_msg("sample %d is no shift of the image by at most 2 pixels", i);
  }
  assert_true(moved > 0);
  /* The jitter applies with its probability: 0 leaves the image as it is. */
  assert_ok(dcnn_pipeline_set(p, DCNN_PIPE_SHIFT, 0));
  assert_ok(dcnn_pipeline_set(p, DCNN_PIPE_BRIGHTNESS, 0.5));
  assert_ok(dcnn_pipeline_set(p, DCNN_PIPE_JITTER_PROB, 0));
  float *unjittered = colour_batch(p, ds, 8, DCNN_AUGMENT_ON, 0);
  for (int i = 0; i < 8 * 360; ++i) assert_float_equal(unjittered[i], plain[i], 1e-5);
  assert_ok(dcnn_pipeline_set(p, DCNN_PIPE_JITTER_PROB, 1));
  float *jittered = colour_batch(p, ds, 8, DCNN_AUGMENT_ON, 0);
  int changed = 0;
  for (int i = 0; i < 8 * 360; ++i) changed += fabsf(jittered[i] - plain[i]) > 1e-4f;
  assert_true(changed > 8 * 360 / 2);
  free(unjittered);
  free(jittered);
  assert_status(dcnn_pipeline_set(p, DCNN_PIPE_JITTER_PROB, 2), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_pipeline_set(p, DCNN_PIPE_INVERT, 1.5), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_pipeline_set(p, DCNN_PIPE_SHIFT, 1.5), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_pipeline_set(p, DCNN_PIPE_BRIGHTNESS, -0.1), DCNN_ERR_INVALID_ARGUMENT);
  free(plain);
  free(inverted);
  free(gray);
  free(shuffled);
  free(shifted);
  dcnn_pipeline_destroy(p);
  dcnn_dataset_destroy(ds);
}

/* Where a cutout of `size` changed sample i (`channels` planes of 12 x 10): the
 * changed pixels' bounding box, which must be the square cut off at the
 * borders (exactly `size` wide and high unless it touches a border, never
 * more), each channel holding the plain image's channel mean there.
 * Returns 1 if the square was cut off at the left or top border, 2 at the
 * right or bottom, 3 both, 0 neither. */
static int check_cutout(const float *cut, const float *plain, int i, int size, int channels) {
  enum { H = 12, W = 10 };
  const int n = channels * H * W;
  int x0 = W, y0 = H, x1 = -1, y1 = -1;
  for (int c = 0; c < channels; ++c)
    for (int y = 0; y < H; ++y)
      for (int x = 0; x < W; ++x)
        if (cut[i * n + c * H * W + y * W + x] != plain[i * n + c * H * W + y * W + x]) {
          x0 = x < x0 ? x : x0, y0 = y < y0 ? y : y0;
          x1 = x > x1 ? x : x1, y1 = y > y1 ? y : y1;
        }
  if (x1 < 0) fail_msg("sample %d: nothing was cut out", i);
  const int w = x1 - x0 + 1, h = y1 - y0 + 1;
  const int left = x0 == 0, right = x1 == W - 1, top = y0 == 0, bottom = y1 == H - 1;
  if (w > size || h > size) fail_msg("sample %d: changes span %dx%d pixels, more than %d", i, w, h, size);
  if (w < size && !left && !right) fail_msg("sample %d: the square is %d wide, not %d, away from the borders", i, w, size);
  if (h < size && !top && !bottom) fail_msg("sample %d: the square is %d high, not %d, away from the borders", i, h, size);
  for (int c = 0; c < channels; ++c) {
    double sum = 0;
    for (int k = 0; k < H * W; ++k) sum += plain[i * n + c * H * W + k];
    for (int y = y0; y <= y1; ++y)
      for (int x = x0; x <= x1; ++x)
        if (fabs(cut[i * n + c * H * W + y * W + x] - sum / (H * W)) > 1e-4)
          fail_msg("sample %d channel %d pixel (%d, %d): %g, not the channel mean %g", i, c, y, x,
                   (double)cut[i * n + c * H * W + y * W + x], sum / (H * W));
  }
  return ((w < size && left) || (h < size && top) ? 1 : 0) | ((w < size && right) || (h < size && bottom) ? 2 : 0);
}

/* Cutout: with certainty, every sample differs from its plain image in
 * exactly one square of the size, cut off at the borders, holding the plain
 * image's channel means (even and odd sizes, gray and colour, with and without
 * standardisation); the square moves between samples; a size beyond the image
 * fills it all; probability 0 and evaluation change nothing; out-of-range
 * settings are refused. */
static void cutout_fills_one_square_with_the_channel_means(void **state) {
  (void)state;
  enum { N = 40 };
  dcnn_dataset *ds = synthetic(N);
  dcnn_pipeline *p = NULL;
  assert_ok(dcnn_pipeline_create(NULL, &p));
  assert_float_equal(dcnn_pipeline_get(p, DCNN_PIPE_CUTOUT), 0.0, 0);
  assert_float_equal(dcnn_pipeline_get(p, DCNN_PIPE_CUTOUT_SIZE), 16.0, 0);
  float *plain = colour_batch(p, ds, N, DCNN_AUGMENT_OFF, 0);
  assert_ok(dcnn_pipeline_set(p, DCNN_PIPE_CUTOUT_SIZE, 4));
  float *kept = colour_batch(p, ds, N, DCNN_AUGMENT_ON, 0); /* cutout still 0 */
  assert_memory_equal(kept, plain, (size_t)N * 360 * sizeof(float));
  assert_ok(dcnn_pipeline_set(p, DCNN_PIPE_CUTOUT, 1));
  const int sizes[] = {4, 3};
  for (int k = 0; k < 2; ++k) {
    assert_ok(dcnn_pipeline_set(p, DCNN_PIPE_CUTOUT_SIZE, sizes[k]));
    float *cut = colour_batch(p, ds, N, DCNN_AUGMENT_ON, 0);
    int inside = 0, borders = 0, moved = 0, first = -1;
    for (int i = 0; i < N; ++i) {
      const int edge = check_cutout(cut, plain, i, sizes[k], 3);
      inside += edge == 0;
      borders |= edge;
      /* where the first changed pixel is: the square's place */
      int at = 0;
      while (cut[i * 360 + at] == plain[i * 360 + at] && at < 360) ++at;
      if (first < 0) first = at;
      moved += at != first;
    }
    assert_true(inside > 0);
    assert_int_equal(borders, 3); /* cut off at the left or top, and at the right or bottom */
    assert_true(moved > N / 2);
    float *again = colour_batch(p, ds, N, DCNN_AUGMENT_ON, 0);
    assert_memory_equal(again, cut, (size_t)N * 360 * sizeof(float));
    free(cut);
    free(again);
  }
  /* larger than the image: every pixel is its channel's mean */
  assert_ok(dcnn_pipeline_set(p, DCNN_PIPE_CUTOUT_SIZE, 64));
  float *all = colour_batch(p, ds, N, DCNN_AUGMENT_ON, 0);
  for (int i = 0; i < N; ++i) check_cutout(all, plain, i, 64, 3);
  for (int i = 0; i < N; ++i)
    for (int c = 0; c < 3; ++c)
      for (int k = 1; k < 120; ++k) assert_float_equal(all[i * 360 + c * 120 + k], all[i * 360 + c * 120], 0);
  free(all);
  float *evaluated = colour_batch(p, ds, N, DCNN_AUGMENT_OFF, 0); /* never at evaluation */
  assert_memory_equal(evaluated, plain, (size_t)N * 360 * sizeof(float));
  free(evaluated);
  assert_status(dcnn_pipeline_set(p, DCNN_PIPE_CUTOUT, 1.5), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_pipeline_set(p, DCNN_PIPE_CUTOUT, -0.1), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_pipeline_set(p, DCNN_PIPE_CUTOUT_SIZE, 0), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_pipeline_set(p, DCNN_PIPE_CUTOUT_SIZE, 2.5), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_pipeline_set(p, DCNN_PIPE_CUTOUT_SIZE, 4097), DCNN_ERR_INVALID_ARGUMENT);
  assert_float_equal(dcnn_pipeline_get(p, DCNN_PIPE_CUTOUT_SIZE), 64, 0);
  dcnn_pipeline_destroy(p);

  /* gray output with standardisation: the fill is the standardised channel mean */
  assert_ok(dcnn_pipeline_create(NULL, &p));
  assert_ok(dcnn_pipeline_set(p, DCNN_PIPE_GRAYSCALE, 1));
  const float mean[1] = {0.45f}, std[1] = {0.2f};
  assert_ok(dcnn_pipeline_set_standardization(p, 1, mean, std));
  float *gray = batch_copy(p, ds, N, 1, DCNN_AUGMENT_OFF, 0);
  assert_ok(dcnn_pipeline_set(p, DCNN_PIPE_CUTOUT, 1));
  assert_ok(dcnn_pipeline_set(p, DCNN_PIPE_CUTOUT_SIZE, 5));
  float *gray_cut = batch_copy(p, ds, N, 1, DCNN_AUGMENT_ON, 0);
  /* outside the square the round trip through [0, 1] may move a value by rounding */
  for (int i = 0; i < N * 120; ++i)
    if (fabsf(gray_cut[i] - gray[i]) < 1e-5f) gray_cut[i] = gray[i];
  for (int i = 0; i < N; ++i) check_cutout(gray_cut, gray, i, 5, 1);
  free(gray);
  free(gray_cut);
  free(plain);
  free(kept);
  dcnn_pipeline_destroy(p);
  dcnn_dataset_destroy(ds);
}

static void fitted_standardization_centres_and_is_recorded(void **state) {
  (void)state;
  dcnn_dataset *ds = synthetic(30);
  float means[2][3], stds[2][3];
  for (int r = 0; r < 2; ++r) {
    dcnn_context *ctx = test_context(r + 1);
    dcnn_pipeline *p = NULL;
    assert_ok(dcnn_pipeline_create(ctx, &p));
    assert_ok(dcnn_pipeline_fit_standardization(p, ds, means[r], stds[r]));
    float *x = colour_batch(p, ds, 30, DCNN_AUGMENT_OFF, 0);
    for (int c = 0; c < 3; ++c) {
      double sum = 0, sq = 0;
      for (int i = 0; i < 30; ++i)
        for (int k = 0; k < 120; ++k) {
          const double v = x[i * 360 + c * 120 + k];
          sum += v;
          sq += v * v;
        }
      assert_float_equal(sum / 3600, 0.0, 1e-4);
      assert_float_equal(sq / 3600, 1.0, 1e-3);
      assert_true(means[r][c] > 0.3f && means[r][c] < 0.7f);
    }
    free(x);
    /* The model metadata text carries the values; configuring from it repeats them. */
    char text[512];
    assert_ok(dcnn_pipeline_describe(p, text, sizeof text));
    assert_non_null(strstr(text, "standardize=3"));
    /* Grayscale over 3 channels' statistics cannot be described: configure would refuse the text. */
    assert_ok(dcnn_pipeline_set(p, DCNN_PIPE_GRAYSCALE, 1));
    assert_int_equal(dcnn_pipeline_describe(p, text, sizeof text), DCNN_ERR_SHAPE_MISMATCH);
    assert_ok(dcnn_pipeline_set(p, DCNN_PIPE_GRAYSCALE, 0));
    assert_ok(dcnn_pipeline_describe(p, text, sizeof text));
    dcnn_pipeline *q = NULL;
    assert_ok(dcnn_pipeline_create(NULL, &q));
    assert_ok(dcnn_pipeline_configure(q, text));
    float *a = colour_batch(p, ds, 5, DCNN_AUGMENT_OFF, 0), *b = colour_batch(q, ds, 5, DCNN_AUGMENT_OFF, 0);
    for (int i = 0; i < 5 * 360; ++i) assert_float_equal(a[i], b[i], 1e-5);
    free(a);
    free(b);
    dcnn_pipeline_destroy(q);
    dcnn_pipeline_destroy(p);
    assert_int_equal(dcnn_context_live_allocations(ctx), 0);
    dcnn_context_destroy(ctx);
  }
  assert_memory_equal(means[0], means[1], sizeof means[0]);
  assert_memory_equal(stds[0], stds[1], sizeof stds[0]);
  dcnn_dataset_destroy(ds);
  /* Several 256-image chunks, the last one partial, and a cached pipeline: the same for 1 and
   * 2 threads, the cache setting restored. */
  ds = synthetic(600);
  for (int r = 0; r < 2; ++r) {
    dcnn_context *ctx = test_context(r + 1);
    dcnn_pipeline *p = NULL;
    assert_ok(dcnn_pipeline_create(ctx, &p));
    assert_ok(dcnn_pipeline_set(p, DCNN_PIPE_CACHE, 1));
    assert_ok(dcnn_pipeline_fit_standardization(p, ds, means[r], stds[r]));
    assert_true(dcnn_pipeline_get(p, DCNN_PIPE_CACHE) == 1);
    for (int c = 0; c < 3; ++c) assert_true(means[r][c] > 0.4f && means[r][c] < 0.6f && stds[r][c] > 0.2f);
    dcnn_pipeline_destroy(p);
    assert_int_equal(dcnn_context_live_allocations(ctx), 0);
    dcnn_context_destroy(ctx);
  }
  assert_memory_equal(means[0], means[1], sizeof means[0]);
  assert_memory_equal(stds[0], stds[1], sizeof stds[0]);
  dcnn_dataset_destroy(ds);
}

/* A constant channel gets std 1, as data.h says, over a set large enough that mean-of-squares minus
 * squared mean left rounding of ~1e-10 (a std of 1e-5: an inference input moved by one level became ~160);
 * and a set of large images is measured in passes of at most 64 MB, not 256 images. */
static void fitted_standardization_of_a_constant_channel_is_one(void **state) {
  (void)state;
  const int32_t n = 20000, side = 28;
  uint8_t *px = malloc((size_t)n * side * side);
  int32_t *labels = calloc((size_t)n, sizeof(int32_t));
  assert_non_null(px);
  assert_non_null(labels);
  memset(px, 200, (size_t)n * side * side);
  dcnn_dataset *ds = NULL;
  assert_ok(dcnn_dataset_create(NULL, n, side, side, 1, px, labels, 10, &ds));
  dcnn_pipeline *p = NULL;
  assert_ok(dcnn_pipeline_create(NULL, &p));
  assert_ok(dcnn_pipeline_set(p, DCNN_PIPE_GRAYSCALE, 1));
  float mean = 0, std = 0;
  assert_ok(dcnn_pipeline_fit_standardization(p, ds, &mean, &std));
  assert_float_equal(mean, 200.0 / 255.0, 1e-6);
  assert_true(std == 1.0f);
  dcnn_pipeline_destroy(p);
  dcnn_dataset_destroy(ds);
  free(px);
  free(labels);
  /* 60 images of 512 x 512 x 3 (3 MB a sample as floats): 21 a pass, not 180 MB at once */
  const int32_t big = 60, wide = 512;
  px = malloc((size_t)big * wide * wide * 3);
  labels = calloc((size_t)big, sizeof(int32_t));
  assert_non_null(px);
  assert_non_null(labels);
  for (size_t i = 0; i < (size_t)big * wide * wide * 3; ++i) px[i] = (uint8_t)(i % 3 == 0 ? 51 : (i * 7919) % 256);
  assert_ok(dcnn_dataset_create(NULL, big, wide, wide, 3, px, labels, 10, &ds));
  capped_allocator cap = {128 << 20, 0};
  dcnn_context *ctx = NULL;
  assert_ok(dcnn_context_create(&ctx));
  const dcnn_allocator hooks = capped_allocator_hooks(&cap);
  assert_ok(dcnn_context_set_allocator(ctx, &hooks));
  assert_ok(dcnn_context_set_threads(ctx, 1));
  assert_ok(dcnn_pipeline_create(ctx, &p));
  float means[3], stds[3];
  assert_ok(dcnn_pipeline_fit_standardization(p, ds, means, stds));
  assert_float_equal(means[0], 0.2, 1e-6);
  assert_true(stds[0] == 1.0f);
  assert_true(stds[1] > 0.2f && stds[2] > 0.2f);
  dcnn_pipeline_destroy(p);
  dcnn_context_destroy(ctx);
  dcnn_dataset_destroy(ds);
  free(px);
  free(labels);
}

/* n 32x32 MNIST-M-like images: a ring ("0") or a bar ("1") of digit value up
 * to 255 with soft edges, composited as |background - digit| over a smooth
 * colour gradient; `masks` receives the true digit values. */
static dcnn_dataset *mnist_m_like(int32_t n, uint8_t *masks) {
  uint8_t *px = malloc((size_t)n * 32 * 32 * 3);
  int32_t *labels = malloc((size_t)n * sizeof(int32_t));
  for (int32_t i = 0; i < n; ++i) {
    labels[i] = i % 2;
    float c0[3], c1[3];
    for (int c = 0; c < 3; ++c) {
      c0[c] = 255.0f * dcnn_random_uniform(11, (uint64_t)i, (uint64_t)c);
      c1[c] = 255.0f * dcnn_random_uniform(11, (uint64_t)i, (uint64_t)c + 3);
    }
    for (int y = 0; y < 32; ++y)
      for (int x = 0; x < 32; ++x) {
        const float dx = (float)x - 15.5f, dy = (float)y - 15.5f;
        const float dist = labels[i] ? fabsf(dx) * 3.0f : fabsf(sqrtf(dx * dx * 2.0f + dy * dy) - 8.0f) * 1.4f;
        float m = (float)(labels[i] ? (fabsf(dy) < 9.5f) : 1) * (3.5f - dist) * 127.0f;
        m = m < 0 ? 0 : m > 255 ? 255 : m;
        masks[(int64_t)i * 1024 + y * 32 + x] = (uint8_t)m;
        const float s = (float)(x + y) / 62.0f;
        for (int c = 0; c < 3; ++c) {
          /* a gradient with grain of +-20 */
          float b = c0[c] * (1 - s) + c1[c] * s + 40.0f * (dcnn_random_uniform(12, (uint64_t)i, (uint64_t)(y * 96 + x * 3 + c)) - 0.5f);
          b = b < 0 ? 0 : b > 255 ? 255 : b;
          px[((int64_t)i * 1024 + y * 32 + x) * 3 + c] = (uint8_t)lrintf(fabsf(b - (float)(uint8_t)m));
        }
      }
  }
  dcnn_dataset *ds = NULL;
  assert_ok(dcnn_dataset_create(NULL, n, 32, 32, 3, px, labels, 10, &ds));
  free(px);
  free(labels);
  return ds;
}

/* Share of pixels where both masks are at least 128 among those where either is. */
static double mask_iou(const uint8_t *a, const uint8_t *b, int64_t n) {
  int64_t both = 0, either = 0;
  for (int64_t i = 0; i < n; ++i) {
    both += a[i] >= 128 && b[i] >= 128;
    either += a[i] >= 128 || b[i] >= 128;
  }
  return either ? (double)both / (double)either : 1.0;
}

static void digit_masks_are_recovered(void **state) {
  (void)state;
  enum { N = 24 };
  uint8_t *truth = malloc(N * 1024), mask[1024];
  dcnn_dataset *ds = mnist_m_like(N, truth);
  /* A background near mid-gray hides the digit (|b - 255| is close to b) in
   * MNIST-M itself: the quality bar is on the mean and most images. */
  double iou = 0, error = 0;
  int poor = 0;
  for (int32_t i = 0; i < N; ++i) {
    assert_ok(dcnn_mnist_m_digit_mask(dcnn_dataset_image(ds, i), 32, 32, 3, mask));
    const double v = mask_iou(mask, truth + i * 1024, 1024);
    iou += v / N;
    poor += v < 0.8;
    for (int k = 0; k < 1024; ++k) error += fabs((double)mask[k] - truth[i * 1024 + k]);
  }
  error /= N * 1024.0;
  if (getenv("DCNN_PRINT_MASK_QUALITY")) print_message("mean IoU %g, %d below 0.8, mean error %g\n", iou, poor, error);
  if (iou < 0.9 || poor > 2 || error > 8)
    fail_msg("recovered masks: mean IoU %g, %d of %d below 0.8, mean error %g of 255", iou, poor, N, error);
  assert_status(dcnn_mnist_m_digit_mask(dcnn_dataset_image(ds, 0), 2, 32, 3, mask), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_mnist_m_digit_mask(dcnn_dataset_image(ds, 0), 32, 32, 2, mask), DCNN_ERR_INVALID_ARGUMENT);
  /* Hostile sizes: past 4096 a side refused before anything is read; the smallest (3 x 3) and
   * one channel accepted, a uniform image giving no digit; a larger noisy one accepted
   * (the background windows cost O(1) per pixel through summed-area tables). */
  assert_status(dcnn_mnist_m_digit_mask(dcnn_dataset_image(ds, 0), 4097, 3, 3, mask), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_mnist_m_digit_mask(dcnn_dataset_image(ds, 0), 3, 1 << 30, 1, mask), DCNN_ERR_INVALID_ARGUMENT);
  const uint8_t tiny[9] = {200, 200, 200, 200, 200, 200, 200, 200, 200};
  uint8_t tiny_mask[9];
  assert_ok(dcnn_mnist_m_digit_mask(tiny, 3, 3, 1, tiny_mask));
  for (int i = 0; i < 9; ++i) assert_int_equal(tiny_mask[i], 0);
  {
    enum { BIG = 200 };
    uint8_t *big = malloc((size_t)BIG * BIG), *big_mask = malloc((size_t)BIG * BIG);
    assert_non_null(big);
    assert_non_null(big_mask);
    for (int64_t i = 0; i < (int64_t)BIG * BIG; ++i) big[i] = (uint8_t)(dcnn_random_bits(5, 0, (uint64_t)i) & 0xFF);
    assert_ok(dcnn_mnist_m_digit_mask(big, BIG, BIG, 1, big_mask));
    free(big);
    free(big_mask);
  }
  free(truth);
  dcnn_dataset_destroy(ds);
}

static void background_proxy_is_seeded_and_keeps_the_digits(void **state) {
  (void)state;
  enum { N = 24 };
  uint8_t *truth = malloc(N * 1024), mask[1024];
  dcnn_dataset *ds = mnist_m_like(N, truth);
  dcnn_dataset *runs[3] = {NULL, NULL, NULL};
  dcnn_context *ctx[3];
  for (int r = 0; r < 3; ++r) {
    ctx[r] = test_context(r == 0 ? 1 : 2);
    assert_ok(dcnn_dataset_make_background_proxy(ctx[r], ds, r == 2 ? 6 : 5,
                                                 DCNN_PROXY_ALL_TEXTURES | DCNN_PROXY_RECOLOUR, &runs[r]));
  }
  assert_int_equal(dcnn_dataset_count(runs[0]), N);
  for (int32_t i = 0; i < N; ++i) {
    assert_memory_equal(dcnn_dataset_image(runs[0], i), dcnn_dataset_image(runs[1], i), 3072);
    assert_int_equal(dcnn_dataset_label(runs[0], i), dcnn_dataset_label(ds, i));
  }
  int differ = 0;
  for (int32_t i = 0; i < N; ++i) differ += memcmp(dcnn_dataset_image(runs[0], i), dcnn_dataset_image(runs[2], i), 3072) != 0;
  assert_int_equal(differ, N);
  /* MNIST-M's rule over smooth gradients: the proxy's own recovered mask is the digit again. */
  dcnn_dataset *smooth = NULL;
  assert_ok(dcnn_dataset_make_background_proxy(NULL, ds, 5, DCNN_PROXY_GRADIENT, &smooth));
  double iou = 0;
  for (int32_t i = 0; i < N; ++i) {
    assert_ok(dcnn_mnist_m_digit_mask(dcnn_dataset_image(smooth, i), 32, 32, 3, mask));
    iou += mask_iou(mask, truth + i * 1024, 1024) / N;
  }
  if (iou < 0.85) fail_msg("the digits are lost in the gradient proxy: mean IoU %g", iou);
  dcnn_dataset *bad = NULL;
  assert_status(dcnn_dataset_make_background_proxy(NULL, ds, 5, 0, &bad), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_dataset_make_background_proxy(NULL, ds, 5, DCNN_PROXY_RECOLOUR, &bad), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_dataset_make_background_proxy(NULL, ds, 5, 1u << 10, &bad), DCNN_ERR_INVALID_ARGUMENT);
  assert_null(bad);
  /* Sides beyond the masks' 4096 (their window sums' limit), as dcnn_mnist_m_digit_mask refuses them */
  for (int wide = 0; wide < 2; ++wide) {
    const int32_t h = wide ? 3 : 4097, w = wide ? 4097 : 3;
    uint8_t *px = calloc((size_t)h * w, 1);
    int32_t label = 0;
    dcnn_dataset *large = NULL;
    assert_non_null(px);
    assert_ok(dcnn_dataset_create(NULL, 1, h, w, 1, px, &label, 10, &large));
    assert_status(dcnn_dataset_make_background_proxy(NULL, large, 5, DCNN_PROXY_GRADIENT, &bad),
                  DCNN_ERR_INVALID_ARGUMENT);
    assert_error_mentions("(3..4096 pixels a side)");
    assert_null(bad);
    dcnn_dataset_destroy(large);
    free(px);
  }
  bad = (dcnn_dataset *)ds; /* *out is cleared before the other arguments are checked */
  assert_status(dcnn_dataset_make_background_proxy(NULL, NULL, 5, DCNN_PROXY_GRADIENT, &bad), DCNN_ERR_INVALID_ARGUMENT);
  assert_null(bad);
  for (int r = 0; r < 3; ++r) {
    dcnn_dataset_destroy(runs[r]);
    assert_int_equal(dcnn_context_live_allocations(ctx[r]), 0);
    dcnn_context_destroy(ctx[r]);
  }
  dcnn_dataset_destroy(smooth);
  dcnn_dataset_destroy(ds);
  free(truth);
}

/* Flat-coloured images (k, 32, 32, channels) = |colour_k - digit_k|, digit_k a solid bar whose column depends on k. */
static const uint8_t flat_colours[6][3] = {{30, 200, 90}, {220, 40, 160}, {10, 60, 230}, {240, 210, 20},
                                           {70, 20, 20}, {180, 250, 120}};
static uint8_t flat_digit(int k, int y, int x) { return y >= 8 && y < 24 && x >= 9 + k && x < 13 + k ? 255 : 0; }
/* One channel cannot tell |b - 255| from |b - m| with m = 2b - 255 when b > 127 (two channels
 * disagreeing settle it): gray images get dark backgrounds, 30, 35, 10, 15, 70 and 75. */
static int flat_colour(int k, int c, int32_t channels) {
  const int v = flat_colours[k][c];
  return channels == 3 || v < 128 ? v : 255 - v;
}

static dcnn_dataset *flat_mnist_m(int32_t channels) {
  uint8_t px[6 * 1024 * 3];
  int32_t labels[6];
  for (int k = 0; k < 6; ++k) {
    labels[k] = k;
    for (int y = 0; y < 32; ++y)
      for (int x = 0; x < 32; ++x)
        for (int c = 0; c < channels; ++c)
          px[((k * 32 + y) * 32 + x) * channels + c] = (uint8_t)abs(flat_colour(k, c, channels) - flat_digit(k, y, x));
  }
  dcnn_dataset *ds = NULL;
  assert_ok(dcnn_dataset_create(NULL, 6, 32, 32, channels, px, labels, 10, &ds));
  return ds;
}

/* The background-swapped batch of samples 0..count-1 of `ds` for (seed 3, epoch), as bytes (count, C, 32, 32). */
static void turned_batch(dcnn_context *ctx, const dcnn_dataset *ds, int32_t count, int32_t channels, double swap,
                         double transform, int64_t epoch, uint8_t *bytes, int32_t *labels) {
  dcnn_pipeline *p = NULL;
  assert_ok(dcnn_pipeline_create(ctx, &p));
  assert_ok(dcnn_pipeline_set(p, DCNN_PIPE_BACKGROUND_SWAP, swap));
  assert_ok(dcnn_pipeline_set(p, DCNN_PIPE_BACKGROUND_TRANSFORM, transform));
  dcnn_shape s = dcnn_shape_make(4, count, channels, 32, 32);
  dcnn_tensor *x = NULL;
  assert_ok(dcnn_tensor_create(NULL, &s, &x));
  int32_t idx[24];
  for (int32_t i = 0; i < count; ++i) idx[i] = i;
  assert_ok(dcnn_pipeline_batch(p, ds, idx, count, DCNN_AUGMENT_ON, 3, epoch, x, labels));
  for (int64_t i = 0; i < (int64_t)count * channels * 1024; ++i) bytes[i] = (uint8_t)lrintf(dcnn_tensor_data(x)[i] * 255.0f);
  dcnn_tensor_destroy(x);
  dcnn_pipeline_destroy(p);
}

static void swapped_batch(dcnn_context *ctx, const dcnn_dataset *ds, int32_t count, int32_t channels, double swap,
                          int64_t epoch, uint8_t *bytes, int32_t *labels) {
  turned_batch(ctx, ds, count, channels, swap, 0.0, epoch, bytes, labels);
}

/* dcnn__swap_compose's transforms on a hand-made bank: each symmetry reads the
 * background at its own image of the pixel, inverted channels read 255 - b,
 * the 8 symmetries of a square give 8 different images, and a non-square
 * image ignores the transpose bit. */
static void swap_compose_turns_and_inverts_the_background(void **state) {
  (void)state;
  enum { H = 4, W = 4, C = 3 };
  uint8_t masks[2 * H * W], backgrounds[2 * H * W * C], out[8][H * W * C];
  for (int i = 0; i < 2 * H * W; ++i) masks[i] = (uint8_t)(i % 3 == 0 ? 200 : 0);
  for (int i = 0; i < 2 * H * W * C; ++i) backgrounds[i] = (uint8_t)(7 * i + 1);
  dcnn_swap_bank bank = {1, 2, H, W, C, masks, backgrounds};
  const uint8_t *m = masks, *b = backgrounds + H * W * C; /* digit 0 over background 1 */
  for (int32_t symmetry = 0; symmetry < 8; ++symmetry)
    for (uint32_t inverted = 0; inverted < 8; inverted += 7) { /* none, then all three */
      dcnn_swap_transform turn = {symmetry, inverted};
      dcnn__swap_compose(&bank, bank.masks, 1, turn, out[symmetry]);
      for (int y = 0; y < H; ++y)
        for (int x = 0; x < W; ++x) {
          /* transpose first, then mirror rows, then columns */
          int sy = symmetry & 4 ? x : y, sx = symmetry & 4 ? y : x;
          sy = symmetry & 1 ? H - 1 - sy : sy;
          sx = symmetry & 2 ? W - 1 - sx : sx;
          for (int c = 0; c < C; ++c) {
            const int bg = inverted ? 255 - b[(sy * W + sx) * C + c] : b[(sy * W + sx) * C + c];
            assert_int_equal(out[symmetry][(y * W + x) * C + c], abs(bg - m[y * W + x]));
          }
        }
    }
  for (int i = 0; i < 8; ++i)
    for (int j = 0; j < i; ++j) assert_memory_not_equal(out[i], out[j], sizeof out[i]);
  /* 2 x 8 images: the transpose bit is ignored, the flips apply */
  dcnn_swap_bank wide = {1, 1, 2, 8, 1, masks, backgrounds};
  uint8_t plain[16], flipped[16], transposed[16];
  dcnn__swap_compose(&wide, wide.masks, 0, (dcnn_swap_transform){2, 0}, plain);
  dcnn__swap_compose(&wide, wide.masks, 0, (dcnn_swap_transform){6, 0}, transposed);
  assert_memory_equal(plain, transposed, sizeof plain);
  dcnn__swap_compose(&wide, wide.masks, 0, (dcnn_swap_transform){0, 1}, flipped);
  for (int i = 0; i < 16; ++i) assert_int_equal(flipped[i], abs(255 - backgrounds[i] - masks[i]));
}

static void background_swap_redraws_digits_over_the_datasets_backgrounds(void **state) {
  (void)state;
  for (int32_t channels = 1; channels <= 3; channels += 2) {
    dcnn_dataset *ds = flat_mnist_m(channels), *view = NULL;
    const int32_t last_three[3] = {3, 4, 5};
    assert_ok(dcnn_dataset_subset(ds, last_three, 3, &view));
    uint8_t out[6 * 3 * 1024], again[6 * 3 * 1024];
    int32_t labels[6];
    int moved = 0;
    for (int64_t epoch = 0; epoch < 8; ++epoch) {
      /* every output is |colour_j - digit_i| exactly, j a sample of the dataset; the label stays i's */
      swapped_batch(NULL, ds, 6, channels, 1.0, epoch, out, labels);
      for (int i = 0; i < 6; ++i) {
        assert_int_equal(labels[i], i);
        int j = -1;
        for (int k = 0; k < 6; ++k)
          if (out[i * channels * 1024] == flat_colour(k, 0, channels) && (channels == 1 || out[i * 3072 + 1024] == flat_colours[k][1])) j = k;
        if (j < 0) fail_msg("epoch %d sample %d: background %d matches no image's", (int)epoch, i, out[i * channels * 1024]);
        moved += j != i;
        for (int c = 0; c < channels; ++c)
          for (int y = 0; y < 32; ++y)
            for (int x = 0; x < 32; ++x)
              if (out[(i * channels + c) * 1024 + y * 32 + x] != abs(flat_colour(j, c, channels) - flat_digit(i, y, x)))
                fail_msg("channels %d epoch %d sample %d over %d: (%d, %d, %d) is %d", (int)channels, (int)epoch, i, j, c, y, x, out[(i * channels + c) * 1024 + y * 32 + x]);
      }
      /* a view draws backgrounds from its own samples only */
      swapped_batch(NULL, view, 3, channels, 1.0, epoch, out, labels);
      for (int i = 0; i < 3; ++i) {
        int j = -1;
        for (int k = 0; k < 6; ++k)
          if (out[i * channels * 1024] == flat_colour(k, 0, channels) && (channels == 1 || out[i * 3072 + 1024] == flat_colours[k][1])) j = k;
        assert_true(j >= 3);
      }
    }
    assert_true(moved >= 24); /* 48 draws, each another image's background with probability 5/6 */
    /* seeded: the same bits at 1 and 2 threads; epochs differ; probability 0 is the plain pipeline */
    dcnn_context *one = test_context(1), *two = test_context(2);
    swapped_batch(one, ds, 6, channels, 0.5, 2, out, labels);
    swapped_batch(two, ds, 6, channels, 0.5, 2, again, labels);
    assert_memory_equal(out, again, (size_t)6 * channels * 1024);
    swapped_batch(two, ds, 6, channels, 1.0, 3, again, labels);
    assert_memory_not_equal(out, again, (size_t)6 * channels * 1024);
    swapped_batch(NULL, ds, 6, channels, 0.0, 2, out, labels);
    for (int i = 0; i < 6; ++i)
      for (int c = 0; c < channels; ++c)
        for (int k = 0; k < 1024; ++k)
          assert_int_equal(out[(i * channels + c) * 1024 + k], dcnn_dataset_image(ds, i)[k * channels + c]);
    assert_int_equal(dcnn_context_live_allocations(one), 0);
    assert_int_equal(dcnn_context_live_allocations(two), 0);
    dcnn_context_destroy(one);
    dcnn_context_destroy(two);
    dcnn_dataset_destroy(view);
    dcnn_dataset_destroy(ds);
  }
  /* Over textured backgrounds the redrawn digit is the sample's own: its recovered mask matches the
   * sample's true digit, so the partner's digit was taken out of its background. */
  enum { N = 24 };
  uint8_t *truth = malloc(N * 1024), *bytes = malloc(N * 3072), hwc[3072], mask[1024];
  int32_t labels[N];
  dcnn_dataset *ds = mnist_m_like(N, truth);
  swapped_batch(NULL, ds, N, 3, 1.0, 0, bytes, labels);
  double iou = 0;
  for (int i = 0; i < N; ++i) {
    for (int k = 0; k < 1024; ++k)
      for (int c = 0; c < 3; ++c) hwc[k * 3 + c] = bytes[(i * 3 + c) * 1024 + k];
    assert_ok(dcnn_mnist_m_digit_mask(hwc, 32, 32, 3, mask));
    iou += mask_iou(mask, truth + i * 1024, 1024) / N;
  }
  if (iou < 0.85) fail_msg("swapped digits are not the samples' own: mean IoU %g", iou);
  dcnn_dataset_destroy(ds);
  free(truth);
  free(bytes);
  /* a probability outside 0..1 is refused */
  dcnn_pipeline *p = NULL;
  assert_ok(dcnn_pipeline_create(NULL, &p));
  assert_status(dcnn_pipeline_set(p, DCNN_PIPE_BACKGROUND_SWAP, 1.5), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_pipeline_set(p, DCNN_PIPE_BACKGROUND_SWAP, -0.1), DCNN_ERR_INVALID_ARGUMENT);
  assert_float_equal(dcnn_pipeline_get(p, DCNN_PIPE_BACKGROUND_SWAP), 0.0, 0);
  assert_status(dcnn_pipeline_set(p, DCNN_PIPE_BACKGROUND_TRANSFORM, 1.01), DCNN_ERR_INVALID_ARGUMENT);
  assert_float_equal(dcnn_pipeline_get(p, DCNN_PIPE_BACKGROUND_TRANSFORM), 0.0, 0);
  dcnn_pipeline_destroy(p);
}

/* The pipeline's background transform: over flat colours only the inversions
 * show, so every output is |c' - digit| with each c'_k the partner's colour or
 * 255 minus it; some are inverted, seeded; without the swap it changes nothing. */
static void background_transform_inverts_swapped_backgrounds(void **state) {
  (void)state;
  dcnn_dataset *ds = flat_mnist_m(3);
  uint8_t out[6 * 3 * 1024], again[6 * 3 * 1024], plain[6 * 3 * 1024];
  int32_t labels[6];
  int inverted = 0;
  for (int64_t epoch = 0; epoch < 6; ++epoch) {
    turned_batch(NULL, ds, 6, 3, 1.0, 1.0, epoch, out, labels);
    for (int i = 0; i < 6; ++i) {
      int found = 0;
      for (int j = 0; j < 6 && !found; ++j)
        for (uint32_t inv = 0; inv < 8 && !found; ++inv) {
          int all = 1;
          for (int c = 0; c < 3 && all; ++c) {
            const int colour = flat_colours[j][c], bg = (inv >> c) & 1u ? 255 - colour : colour;
            for (int k = 0; k < 1024 && all; ++k) all = out[(i * 3 + c) * 1024 + k] == abs(bg - flat_digit(i, k / 32, k % 32));
          }
          if (all) {
            found = 1;
            inverted += inv != 0;
          }
        }
      if (!found) fail_msg("epoch %d sample %d: no partner colour, inverted or not, explains it", (int)epoch, i);
    }
  }
  assert_true(inverted >= 12); /* 36 draws, inverted with probability 7/8 */
  dcnn_context *one = test_context(1), *two = test_context(2);
  turned_batch(one, ds, 6, 3, 0.7, 0.5, 1, out, labels);
  turned_batch(two, ds, 6, 3, 0.7, 0.5, 1, again, labels);
  assert_memory_equal(out, again, sizeof out);
  /* probability 0 is the swap as before; without the swap the transform changes nothing */
  turned_batch(NULL, ds, 6, 3, 0.7, 0.0, 1, out, labels);
  swapped_batch(NULL, ds, 6, 3, 0.7, 1, plain, labels);
  assert_memory_equal(out, plain, sizeof out);
  turned_batch(NULL, ds, 6, 3, 0.0, 1.0, 1, out, labels);
  swapped_batch(NULL, ds, 6, 3, 0.0, 1, plain, labels);
  assert_memory_equal(out, plain, sizeof out);
  dcnn_context_destroy(one);
  dcnn_context_destroy(two);
  dcnn_dataset_destroy(ds);
}

/* The elastic digit warp against its formula computed here in double: U from
 * the same draws, a direct 2-D Gaussian sum (zeros outside), bilinear sampling
 * with zeros outside; rounding may differ by one grey level. Alpha 0 is the
 * identity; the field depends on the seed and moves a real digit. */
static void elastic_warp_matches_its_formula(void **state) {
  (void)state;
  enum { H = 20, W = 24 };
  uint8_t mask[H * W], out[H * W], again[H * W], other[H * W];
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) mask[y * W + x] = (uint8_t)((x >= 8 && x < 13 && y >= 3 && y < 17) ? 255 : (x * 7 + y * 3) % 40);
  float *scratch = malloc((size_t)dcnn__elastic_scratch(H, W) * sizeof(float));
  const double alpha = 6.0, sigma = 2.0;
  const uint64_t seed = 77, stream = 5;
  dcnn__elastic_warp_mask(mask, H, W, (float)alpha, (float)sigma, seed, stream, scratch, out);
  const int radius = (int)ceil(3 * sigma);
  double total = 0;
  for (int k = -radius; k <= radius; ++k) total += exp(-0.5 * k * k / (sigma * sigma));
  int moved = 0;
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) {
      double d[2] = {0, 0}; /* x, y */
      for (int j = -radius; j <= radius; ++j)
        for (int i = -radius; i <= radius; ++i) {
          if (y + j < 0 || y + j >= H || x + i < 0 || x + i >= W) continue;
          const double g = exp(-0.5 * (i * i + j * j) / (sigma * sigma)) / (total * total);
          const uint64_t at = (uint64_t)((y + j) * W + x + i);
          for (int a = 0; a < 2; ++a) d[a] += g * (2.0 * dcnn_random_uniform(seed, stream, 2 * at + (uint64_t)a) - 1.0);
        }
      const double sx = x + alpha * d[0], sy = y + alpha * d[1], fx = floor(sx), fy = floor(sy);
      double v = 0;
      for (int j = 0; j < 2; ++j)
        for (int i = 0; i < 2; ++i) {
          const int px = (int)fx + i, py = (int)fy + j;
          if (px < 0 || px >= W || py < 0 || py >= H) continue;
          v += (i ? sx - fx : 1 - (sx - fx)) * (j ? sy - fy : 1 - (sy - fy)) * mask[py * W + px];
        }
      const int expected = (int)lrint(v);
      if (abs(expected - (int)out[y * W + x]) > 1)
        fail_msg("pixel (%d, %d): %d, the formula gives %d", y, x, (int)out[y * W + x], expected);
      moved += out[y * W + x] != mask[y * W + x];
    }
  assert_true(moved > H * W / 10);
  dcnn__elastic_warp_mask(mask, H, W, (float)alpha, (float)sigma, seed, stream, scratch, again);
  assert_memory_equal(out, again, sizeof out);
  dcnn__elastic_warp_mask(mask, H, W, (float)alpha, (float)sigma, seed + 1, stream, scratch, other);
  assert_memory_not_equal(out, other, sizeof out);
  dcnn__elastic_warp_mask(mask, H, W, 0.0f, (float)sigma, seed, stream, scratch, other);
  assert_memory_equal(mask, other, sizeof mask);
  free(scratch);
}

/* The pipeline's digit warp over flat colours: without the swap every sample
 * keeps its own colour, |c_k - m| with one bent digit m for all channels, whose
 * ink stays near the bar's; some digits move; seeded and thread-independent;
 * probability 0, and alpha 0 with every digit swapped or redrawn over these
 * flat colours (which separate exactly), give the swap's bits; bad values are refused. */
static void digit_elastic_bends_the_digit_over_its_own_background(void **state) {
  (void)state;
  dcnn_dataset *ds = flat_mnist_m(3);
  enum { N = 6, C = 3 };
  dcnn_context *one = test_context(1), *two = test_context(2);
  uint8_t out[N * C * 1024], again[N * C * 1024], plain[N * C * 1024];
  int32_t labels[N], idx[N];
  for (int i = 0; i < N; ++i) idx[i] = i;
  const struct {
    double swap, elastic, alpha;
  } runs[] = {{0, 1, 34}, {0, 1, 34}, {0.7, 0, 34}, {0.7, 1, 0}, {0.7, 0.5, 34}};
  uint8_t *results[] = {out, again, plain, NULL, NULL};
  uint8_t spare[2][N * C * 1024];
  results[3] = spare[0];
  results[4] = spare[1];
  for (int r = 0; r < 5; ++r) {
    dcnn_pipeline *p = NULL;
    assert_ok(dcnn_pipeline_create(r == 1 ? two : one, &p));
    assert_ok(dcnn_pipeline_set(p, DCNN_PIPE_BACKGROUND_SWAP, runs[r].swap));
    assert_ok(dcnn_pipeline_set(p, DCNN_PIPE_DIGIT_ELASTIC, runs[r].elastic));
    assert_ok(dcnn_pipeline_set(p, DCNN_PIPE_ELASTIC_ALPHA, runs[r].alpha));
    dcnn_shape s = dcnn_shape_make(4, N, C, 32, 32);
    dcnn_tensor *x = NULL;
    assert_ok(dcnn_tensor_create(NULL, &s, &x));
    assert_ok(dcnn_pipeline_batch(p, ds, idx, N, DCNN_AUGMENT_ON, 3, 2, x, labels));
    for (int64_t i = 0; i < (int64_t)N * C * 1024; ++i) results[r][i] = (uint8_t)lrintf(dcnn_tensor_data(x)[i] * 255.0f);
    dcnn_tensor_destroy(x);
    dcnn_pipeline_destroy(p);
  }
  assert_memory_equal(out, again, sizeof out); /* 1 and 2 threads */
  int bent = 0;
  for (int k = 0; k < N; ++k) {
    long ink = 0, bar = 0;
    int changed = 0;
    for (int at = 0; at < 1024; ++at) {
      /* one digit value m explains all channels: out_c = |colour_c - m| (within the split's rounding) */
      int explained = 0;
      for (int m = 0; m < 256 && !explained; ++m) {
        explained = 1;
        for (int c = 0; c < C && explained; ++c)
          explained = abs(out[(k * C + c) * 1024 + at] - abs(flat_colours[k][c] - m)) <= 2;
      }
      if (!explained) fail_msg("sample %d pixel %d: no digit value over its own colour explains it", k, at);
      const int corner = (at / 32 < 4 || at / 32 >= 28) && (at % 32 < 4 || at % 32 >= 28);
      if (corner)
        for (int c = 0; c < C; ++c)
          if (abs(out[(k * C + c) * 1024 + at] - flat_colours[k][c]) > 2)
            fail_msg("sample %d corner pixel %d channel %d: %d, not its own colour %d", k, at, c,
                     out[(k * C + c) * 1024 + at], flat_colours[k][c]);
      const int original = abs(flat_colours[k][0] - flat_digit(k, at / 32, at % 32));
      changed += abs(out[k * C * 1024 + at] - original) > 8;
      ink += labs((long)out[k * C * 1024 + at] - flat_colours[k][0]);
      bar += labs((long)original - flat_colours[k][0]);
    }
    bent += changed > 8;
    if (ink < bar / 2 || ink > bar * 2)
      fail_msg("sample %d: the bent digit's contrast %ld is far from the bar's %ld", k, ink, bar);
  }
  assert_true(bent >= N / 2);
  /* with probability 0, or alpha 0, the swap's own bits */
  uint8_t swapped[N * C * 1024];
  swapped_batch(one, ds, N, C, 0.7, 2, swapped, labels);
  assert_memory_equal(plain, swapped, sizeof plain);
  assert_memory_equal(spare[0], swapped, sizeof plain);
  assert_memory_not_equal(spare[1], swapped, sizeof plain);
  dcnn_pipeline *p = NULL;
  assert_ok(dcnn_pipeline_create(NULL, &p));
  assert_float_equal(dcnn_pipeline_get(p, DCNN_PIPE_DIGIT_ELASTIC), 0.0, 0);
  assert_float_equal(dcnn_pipeline_get(p, DCNN_PIPE_ELASTIC_ALPHA), 34.0, 0);
  assert_float_equal(dcnn_pipeline_get(p, DCNN_PIPE_ELASTIC_SIGMA), 4.0, 0);
  assert_status(dcnn_pipeline_set(p, DCNN_PIPE_DIGIT_ELASTIC, 1.5), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_pipeline_set(p, DCNN_PIPE_ELASTIC_ALPHA, -1), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_pipeline_set(p, DCNN_PIPE_ELASTIC_ALPHA, 101), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_pipeline_set(p, DCNN_PIPE_ELASTIC_SIGMA, 0.4), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_pipeline_set(p, DCNN_PIPE_ELASTIC_SIGMA, 17), DCNN_ERR_INVALID_ARGUMENT);
  assert_float_equal(dcnn_pipeline_get(p, DCNN_PIPE_ELASTIC_SIGMA), 4.0, 0);
  dcnn_pipeline_destroy(p);
  dcnn_context_destroy(one);
  dcnn_context_destroy(two);
  dcnn_dataset_destroy(ds);
}

/* Samples 0..5 of `ds` through a pipeline with the digit warp at `elastic`
 * (no swap), output size x size (0: stored), gray or not, into `out` (6, C, size, size). */
static void bent_batch(dcnn_context *ctx, const dcnn_dataset *ds, double elastic, int32_t size, int gray,
                       dcnn_augmentation augmentation, int64_t epoch, float *out, int64_t floats) {
  dcnn_pipeline *p = NULL;
  assert_ok(dcnn_pipeline_create(ctx, &p));
  assert_ok(dcnn_pipeline_set(p, DCNN_PIPE_DIGIT_ELASTIC, elastic));
  assert_ok(dcnn_pipeline_set(p, DCNN_PIPE_HEIGHT, size));
  assert_ok(dcnn_pipeline_set(p, DCNN_PIPE_WIDTH, size));
  assert_ok(dcnn_pipeline_set(p, DCNN_PIPE_GRAYSCALE, gray));
  dcnn_shape sample;
  assert_ok(dcnn_pipeline_sample_shape(p, ds, &sample));
  dcnn_shape s = dcnn_shape_make(4, 6, sample.dims[0], sample.dims[1], sample.dims[2]);
  assert_int_equal(dcnn_shape_count(&s), floats);
  dcnn_tensor *x = NULL;
  assert_ok(dcnn_tensor_create(NULL, &s, &x));
  const int32_t idx[6] = {0, 1, 2, 3, 4, 5};
  assert_ok(dcnn_pipeline_batch(p, ds, idx, 6, augmentation, 3, epoch, x, NULL));
  memcpy(out, dcnn_tensor_data(x), (size_t)floats * sizeof(float));
  dcnn_tensor_destroy(x);
  dcnn_pipeline_destroy(p);
}

/* The warp is drawn per sample: at probability 1/4 about a quarter of the
 * samples are bent and the others are exactly the plain ones; evaluation batches ignore it; a
 * resized gray output (other scratch offsets) works, the same at 1 and 2 threads. */
static void digit_elastic_draws_per_sample_and_fits_any_output(void **state) {
  (void)state;
  dcnn_dataset *ds = flat_mnist_m(3);
  enum { FLOATS = 6 * 3 * 1024, SMALL = 6 * 28 * 28 };
  float *a = malloc(FLOATS * sizeof(float)), *b = malloc(FLOATS * sizeof(float));
  int bent = 0, kept = 0;
  for (int64_t epoch = 0; epoch < 6; ++epoch) {
    bent_batch(NULL, ds, 0.25, 0, 0, DCNN_AUGMENT_ON, epoch, a, FLOATS);
    bent_batch(NULL, ds, 0.0, 0, 0, DCNN_AUGMENT_ON, epoch, b, FLOATS);
    for (int i = 0; i < 6; ++i) {
      const int same = memcmp(a + i * 3 * 1024, b + i * 3 * 1024, 3 * 1024 * sizeof(float)) == 0;
      bent += !same;
      kept += same;
    }
  }
  if (bent < 3 || bent >= kept) fail_msg("probability 1/4 bent %d and kept %d of 36 samples", bent, kept);
  bent_batch(NULL, ds, 1.0, 0, 0, DCNN_AUGMENT_OFF, 0, a, FLOATS);
  bent_batch(NULL, ds, 0.0, 0, 0, DCNN_AUGMENT_OFF, 0, b, FLOATS);
  assert_memory_equal(a, b, FLOATS * sizeof(float));
  dcnn_context *one = test_context(1), *two = test_context(2);
  bent_batch(one, ds, 1.0, 28, 1, DCNN_AUGMENT_ON, 4, a, SMALL);
  bent_batch(two, ds, 1.0, 28, 1, DCNN_AUGMENT_ON, 4, b, SMALL);
  assert_memory_equal(a, b, SMALL * sizeof(float));
  for (int i = 0; i < SMALL; ++i) assert_true(a[i] >= 0.0f && a[i] <= 1.0f);
  bent_batch(one, ds, 0.0, 28, 1, DCNN_AUGMENT_ON, 4, b, SMALL);
  assert_memory_not_equal(a, b, SMALL * sizeof(float));
  dcnn_context_destroy(one);
  dcnn_context_destroy(two);
  free(a);
  free(b);
  dcnn_dataset_destroy(ds);
}

static void splits_are_disjoint_reproducible_and_stratified(void **state) {
  (void)state;
  dcnn_dataset *ds = synthetic(200), *a = NULL, *b = NULL, *a2 = NULL, *b2 = NULL;
  assert_ok(dcnn_dataset_split(ds, 0.1, 7, DCNN_SPLIT_STRATIFIED, &a, &b));
  assert_int_equal(dcnn_dataset_count(a), 180);
  assert_int_equal(dcnn_dataset_count(b), 20);
  int64_t counts[10];
  assert_ok(dcnn_dataset_class_counts(b, counts, 10));
  for (int k = 0; k < 10; ++k) assert_int_equal(counts[k], 2);
  assert_ok(dcnn_dataset_split(ds, 0.1, 7, DCNN_SPLIT_STRATIFIED, &a2, &b2));
  for (int i = 0; i < 20; ++i) assert_ptr_equal(dcnn_dataset_image(b, i), dcnn_dataset_image(b2, i));
  /* Disjoint and complete: every image appears exactly once. */
  int seen[200] = {0};
  const uint8_t *base = dcnn_dataset_image(ds, 0);
  for (int i = 0; i < 180; ++i) seen[(dcnn_dataset_image(a, i) - base) / 360]++;
  for (int i = 0; i < 20; ++i) seen[(dcnn_dataset_image(b, i) - base) / 360]++;
  for (int i = 0; i < 200; ++i) assert_int_equal(seen[i], 1);
  /* Views outlive their parent. */
  dcnn_dataset_destroy(ds);
  assert_int_equal(dcnn_dataset_label(b, 0), dcnn_dataset_label(b2, 0));
  dcnn_dataset *c = NULL, *d = NULL;
  assert_ok(dcnn_dataset_split(a, 0.5, 1, DCNN_SPLIT_RANDOM, &c, &d));
  assert_int_equal(dcnn_dataset_count(c) + dcnn_dataset_count(d), 180);
  dcnn_dataset_destroy(c);
  dcnn_dataset_destroy(d);
  assert_status(dcnn_dataset_split(a, 1.0, 1, DCNN_SPLIT_RANDOM, &c, &d), DCNN_ERR_INVALID_ARGUMENT);
  assert_null(c);
  int32_t bad = 500;
  assert_status(dcnn_dataset_subset(a, &bad, 1, &c), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("index 500");
  dcnn_dataset_destroy(a);
  dcnn_dataset_destroy(b);
  dcnn_dataset_destroy(a2);
  dcnn_dataset_destroy(b2);
}

/* A dataset of 1x1 gray images whose pixel is the sample's index; labels[i]
 * in 0..classes-1. */
static dcnn_dataset *indexed(int32_t n, const int32_t *labels, int32_t classes) {
  uint8_t px[256];
  assert_true(n <= 256);
  for (int32_t i = 0; i < n; ++i) px[i] = (uint8_t)i;
  dcnn_dataset *ds = NULL;
  assert_ok(dcnn_dataset_create(NULL, n, 1, 1, 1, px, labels, classes, &ds));
  return ds;
}

/* A random split needs no per-class counts: with 2^20 classes (8 MB a
 * count array) it stays within a 1 MB allocator, where it asked for three
 * such arrays before; a stratified split, which needs them, says so. */
static void a_random_split_allocates_nothing_per_class(void **state) {
  (void)state;
  capped_allocator cap = {1 << 20, 0};
  dcnn_context *ctx = NULL;
  assert_ok(dcnn_context_create(&ctx));
  const dcnn_allocator hooks = capped_allocator_hooks(&cap);
  assert_ok(dcnn_context_set_allocator(ctx, &hooks));
  const uint8_t px[4] = {1, 2, 3, 4};
  const int32_t labels[4] = {0, 5, 1 << 19, (1 << 20) - 1};
  dcnn_dataset *ds = NULL, *a = NULL, *b = NULL;
  assert_ok(dcnn_dataset_create(ctx, 4, 1, 1, 1, px, labels, 1 << 20, &ds));
  assert_ok(dcnn_dataset_split(ds, 0.5, 1, DCNN_SPLIT_RANDOM, &a, &b));
  assert_int_equal(dcnn_dataset_count(a) + dcnn_dataset_count(b), 4);
  assert_true(cap.largest < 4096);
  dcnn_dataset_destroy(a);
  dcnn_dataset_destroy(b);
  assert_status(dcnn_dataset_split(ds, 0.5, 1, DCNN_SPLIT_STRATIFIED, &a, &b), DCNN_ERR_OUT_OF_MEMORY);
  assert_null(a);
  assert_null(b);
  dcnn_dataset_destroy(ds);
  dcnn_context_destroy(ctx);
}

/* data.h: the split-off side has `fraction` of the samples rounded down, at
 * least 1 on each side, whatever the strategy; a stratified split gives each
 * class its share rounded down or up, the largest remainders (ties: lower
 * class) rounding up. */
static void stratified_splits_have_the_random_splits_size(void **state) {
  (void)state;
  int32_t labels[256];
  for (int32_t i = 0; i < 100; ++i) labels[i] = i % 10; /* 10 classes of 10 */
  dcnn_dataset *ds = indexed(100, labels, 10), *a = NULL, *b = NULL;
  /* 0.29, 0.57, 0.58 times 100 are a rounding error short of 29, 57, 58 in double */
  const double fractions[6] = {0.05, 0.15, 0.004, 0.29, 0.57, 0.58};
  const int32_t sizes[6] = {5, 15, 1, 29, 57, 58};
  for (int f = 0; f < 6; ++f) {
    for (int strategy = DCNN_SPLIT_RANDOM; strategy <= DCNN_SPLIT_STRATIFIED; ++strategy) {
      assert_ok(dcnn_dataset_split(ds, fractions[f], 1, (dcnn_split_strategy)strategy, &a, &b));
      assert_int_equal(dcnn_dataset_count(b), sizes[f]);
      assert_int_equal(dcnn_dataset_count(a), 100 - sizes[f]);
      if (strategy == DCNN_SPLIT_STRATIFIED) {
        int64_t counts[10];
        assert_ok(dcnn_dataset_class_counts(b, counts, 10));
        for (int32_t k = 0; k < 10; ++k) assert_int_equal(counts[k], sizes[f] / 10 + (k < sizes[f] % 10));
      }
      dcnn_dataset_destroy(a);
      dcnn_dataset_destroy(b);
    }
  }
  dcnn_dataset_destroy(ds);

  /* Uneven classes (1 to 19 samples): every fraction gives the random size,
   * every class within one of its share. */
  int32_t n = 0; /* 1 + 2 + ... + 19 = 190 */
  for (int32_t k = 0; k < 19; ++k)
    for (int32_t j = 0; j <= k; ++j) labels[n++] = k;
  ds = indexed(n, labels, 19);
  for (int32_t step = 1; step < 100; ++step) {
    const double fraction = step / 100.0;
    int64_t want = step * n / 100; /* exactly: the decimal fraction meant */
    want = want < 1 ? 1 : want > n - 1 ? n - 1 : want;
    assert_ok(dcnn_dataset_split(ds, fraction, (uint64_t)step, DCNN_SPLIT_STRATIFIED, &a, &b));
    assert_int_equal(dcnn_dataset_count(b), want);
    int64_t counts[19];
    assert_ok(dcnn_dataset_class_counts(b, counts, 19));
    for (int32_t k = 0; k < 19; ++k) {
      const double share = fraction * (k + 1);
      assert_true((double)counts[k] >= floor(share) && (double)counts[k] <= ceil(share));
    }
    dcnn_dataset_destroy(a);
    dcnn_dataset_destroy(b);
  }
  dcnn_dataset_destroy(ds);

  /* Tenths of two classes of 1 to 40: the extra sample goes to the larger
   * remainder, and on a tie to class 0, whichever class is larger. Computed
   * in doubles, 0.1 * 7 and 0.1 * 27 leave 0.70000000000000007 and
   * 0.70000000000000018, and the larger class took the tie. */
  for (int32_t first = 1; first <= 40; ++first)
    for (int32_t second = 1; second <= 40; ++second) {
      n = 0;
      for (int32_t i = 0; i < first + second; ++i) labels[n++] = i < first ? 0 : 1;
      ds = indexed(n, labels, 2);
      int64_t want = n / 10, expected[2] = {first / 10, second / 10};
      want = want < 1 ? 1 : want;
      const int64_t extra = want - expected[0] - expected[1];
      assert_true(extra == 0 || extra == 1);
      expected[first % 10 >= second % 10 ? 0 : 1] += extra;
      assert_ok(dcnn_dataset_split(ds, 0.1, 3, DCNN_SPLIT_STRATIFIED, &a, &b));
      int64_t counts[2];
      assert_ok(dcnn_dataset_class_counts(b, counts, 2));
      if (counts[0] != expected[0] || counts[1] != expected[1])
        fail_msg("classes of %d and %d, fraction 0.1: got %lld and %lld, expected %lld and %lld", (int)first,
                 (int)second, (long long)counts[0], (long long)counts[1], (long long)expected[0],
                 (long long)expected[1]);
      dcnn_dataset_destroy(a);
      dcnn_dataset_destroy(b);
      dcnn_dataset_destroy(ds);
    }

  /* Ties among three classes at a fraction a few ulps off a decimal (1.1 - 1 = 0.10000000000000009): classes of
   * 3, 13 and 113 (remainders 0.3) and 1 (0.1), in every order. The extra sample goes to the lowest class of the
   * three. A comparator that took remainders within a tolerance of each other as tied was not an order (a tie
   * of 3 with 13 and of 13 with 113, but 113 above 3), so the winner depended on the order of the classes. */
  const int64_t sizes4[4] = {3, 13, 113, 1};
  for (int p = 0; p < 24; ++p) {
    int32_t order[4] = {0, 1, 2, 3}; /* class k holds sizes4[order[k]] samples: permutation p */
    for (int k = 0, rest = p; k < 4; ++k) {
      const int pick = k + rest % (4 - k);
      rest /= 4 - k;
      const int32_t t = order[k];
      order[k] = order[pick];
      order[pick] = t;
    }
    n = 0;
    for (int32_t k = 0; k < 4; ++k)
      for (int64_t j = 0; j < sizes4[order[k]]; ++j) labels[n++] = k;
    ds = indexed(n, labels, 4);
    assert_ok(dcnn_dataset_split(ds, 1.1 - 1.0, 3, DCNN_SPLIT_STRATIFIED, &a, &b));
    int64_t counts[4];
    assert_ok(dcnn_dataset_class_counts(b, counts, 4));
    int32_t winner = -1;
    for (int32_t k = 3; k >= 0; --k)
      if (order[k] != 3) winner = k; /* the lowest class holding 3, 13 or 113 */
    for (int32_t k = 0; k < 4; ++k) {
      const int64_t expected = sizes4[order[k]] / 10 + (k == winner);
      if (counts[k] != expected)
        fail_msg("classes of %lld %lld %lld %lld: class %d got %lld, expected %lld", (long long)sizes4[order[0]],
                 (long long)sizes4[order[1]], (long long)sizes4[order[2]], (long long)sizes4[order[3]], (int)k,
                 (long long)counts[k], (long long)expected);
    }
    dcnn_dataset_destroy(a);
    dcnn_dataset_destroy(b);
    dcnn_dataset_destroy(ds);
  }

  /* Classes of 1, 26, 8 and 15 at 0.28: remainders 0.28, 0.28, 0.24, 0.2 and one sample to give. Rounding each
   * remainder to a grid put 0.28 of 1 and of 26 on two sides of a step, and class 1 took it. */
  {
    const int64_t sizes_28[4] = {1, 26, 8, 15}, expected_28[4] = {1, 7, 2, 4};
    n = 0;
    for (int32_t k = 0; k < 4; ++k)
      for (int64_t j = 0; j < sizes_28[k]; ++j) labels[n++] = k;
    ds = indexed(n, labels, 4);
    assert_ok(dcnn_dataset_split(ds, 0.28, 3, DCNN_SPLIT_STRATIFIED, &a, &b));
    int64_t counts[4];
    assert_ok(dcnn_dataset_class_counts(b, counts, 4));
    for (int32_t k = 0; k < 4; ++k) assert_int_equal(counts[k], expected_28[k]);
    dcnn_dataset_destroy(a);
    dcnn_dataset_destroy(b);
    dcnn_dataset_destroy(ds);
  }

  /* 40 classes of 1, 3, ..., 79 at 0.5 + 2e-13: remainders 0.5 + (2e-13 count), each 4e-13 above the last, just
   * inside rounding of its neighbour but 35 times it from end to end. 20 extra samples go to the 20 largest
   * remainders, classes 20 to 39; runs joined neighbour to neighbour made one run of all 40, and classes 0 to 19
   * took them. */
  {
    int32_t *many = malloc(1600 * sizeof *many);
    assert_non_null(many);
    n = 0;
    for (int32_t k = 0; k < 40; ++k)
      for (int32_t j = 0; j < 2 * k + 1; ++j) many[n++] = k;
    uint8_t *px = calloc((size_t)n, 1);
    assert_non_null(px);
    assert_ok(dcnn_dataset_create(NULL, n, 1, 1, 1, px, many, 40, &ds));
    free(px);
    assert_ok(dcnn_dataset_split(ds, 0.5 + 2e-13, 3, DCNN_SPLIT_STRATIFIED, &a, &b));
    int64_t counts[40];
    assert_ok(dcnn_dataset_class_counts(b, counts, 40));
    for (int32_t k = 0; k < 40; ++k)
      if (counts[k] != k + (k >= 20)) fail_msg("class %d of %d: %lld, expected %d", (int)k, (int)(2 * k + 1),
                                               (long long)counts[k], (int)(k + (k >= 20)));
    dcnn_dataset_destroy(a);
    dcnn_dataset_destroy(b);
    dcnn_dataset_destroy(ds);
    free(many);
  }

  /* Where every class's share rounded down already adds up to the total
   * (2 + 3 + 5 of classes of 20, 30, 50), the split is the one earlier
   * versions made: the same samples, recorded from them. */
  for (int32_t i = 0; i < 100; ++i) labels[i] = i % 10 < 2 ? 0 : i % 10 < 5 ? 1 : 2;
  ds = indexed(100, labels, 3);
  assert_ok(dcnn_dataset_split(ds, 0.1, 7, DCNN_SPLIT_STRATIFIED, &a, &b));
  const uint8_t recorded[10] = {3, 6, 10, 20, 28, 44, 53, 58, 96, 98};
  assert_int_equal(dcnn_dataset_count(b), 10);
  for (int32_t i = 0; i < 10; ++i) assert_int_equal(dcnn_dataset_image(b, i)[0], recorded[i]);
  dcnn_dataset_destroy(a);
  dcnn_dataset_destroy(b);
  dcnn_dataset_destroy(ds);
}

/* The snap to a whole number is a few rounding errors wide, no wider: every
 * W / n of 59,001 samples (the train set's size, as --train-images asks) gives
 * W, and 10^7 samples at a fraction whose product is 4,999,999.997 give
 * 4,999,999 (a relative 1e-9 took it for 5,000,000). */
static void split_sizes_are_the_decimal_floor(void **state) {
  (void)state;
  const int32_t big = 10000000;
  uint8_t *px = calloc((size_t)big, 1);
  int32_t *labels = calloc((size_t)big, sizeof *labels);
  assert_non_null(px);
  assert_non_null(labels);
  dcnn_dataset *ds = NULL, *a = NULL, *b = NULL;
  assert_ok(dcnn_dataset_create(NULL, big, 1, 1, 1, px, labels, 1, &ds));
  free(px);
  free(labels);
  assert_ok(dcnn_dataset_split(ds, 4999999.997 / big, 1, DCNN_SPLIT_RANDOM, &a, &b));
  assert_int_equal(dcnn_dataset_count(b), 4999999);
  dcnn_dataset_destroy(a);
  dcnn_dataset_destroy(b);
  dcnn_dataset_destroy(ds);

  const int32_t n = 59001;
  px = calloc((size_t)n, 1);
  labels = calloc((size_t)n, sizeof *labels);
  assert_non_null(px);
  assert_non_null(labels);
  assert_ok(dcnn_dataset_create(NULL, n, 1, 1, 1, px, labels, 1, &ds));
  free(px);
  free(labels);
  int32_t short_by_one = 0;
  for (int32_t w = 1; w < n; w += 97) { /* 609 of them, among them products just short of w */
    const double fraction = (double)w / n;
    short_by_one += (int64_t)(fraction * n) < w;
    assert_ok(dcnn_dataset_split(ds, fraction, 1, DCNN_SPLIT_RANDOM, &a, &b));
    assert_int_equal(dcnn_dataset_count(b), w);
    dcnn_dataset_destroy(a);
    dcnn_dataset_destroy(b);
  }
  assert_true(short_by_one > 0); /* the case the snap is for was among them */
  dcnn_dataset_destroy(ds);
}

static void batcher_covers_each_sample_once(void **state) {
  (void)state;
  dcnn_dataset *ds = synthetic(23);
  dcnn_pipeline *p = NULL;
  assert_ok(dcnn_pipeline_create(NULL, &p));
  dcnn_batcher *b = NULL;
  assert_ok(dcnn_batcher_create(NULL, ds, p, 5, DCNN_BATCH_SHUFFLE, 9, &b));
  assert_int_equal(dcnn_batcher_batches_per_epoch(b), 5);
  int32_t first_order[23];
  for (int epoch = 0; epoch < 2; ++epoch) {
    assert_ok(dcnn_batcher_start_epoch(b, epoch));
    int label_count[10] = {0}, total = 0, batches = 0, pos = 0, moved = 0;
    dcnn_tensor *x = NULL;
    const int32_t *labels = NULL;
    int32_t n = 0;
    for (;;) {
      assert_ok(dcnn_batcher_next(b, &x, &labels, &n));
      if (n == 0) break;
      assert_int_equal(dcnn_tensor_shape(x).dims[0], n);
      for (int i = 0; i < n; ++i, ++pos) {
        label_count[labels[i]]++;
        if (epoch == 0) first_order[pos] = labels[i];
        else moved += first_order[pos] != labels[i];
      }
      total += n;
      batches++;
    }
    assert_int_equal(total, 23);
    assert_int_equal(batches, 5);
    for (int k = 0; k < 10; ++k) assert_int_equal(label_count[k], k < 3 ? 3 : 2);
    if (epoch == 1) assert_true(moved > 0);
  }
  dcnn_batcher_destroy(b);
  /* The borrowed images may be reshaped (flattened for a dense model, say): the next batch is (N, C, H, W)
   * again, where every later call failed, a new epoch too. */
  assert_ok(dcnn_batcher_create(NULL, ds, p, 5, 0, 9, &b));
  dcnn_tensor *x = NULL;
  const int32_t *labels = NULL;
  int32_t n = 0;
  assert_ok(dcnn_batcher_next(b, &x, &labels, &n));
  const dcnn_shape batch = dcnn_tensor_shape(x);
  assert_ok(dcnn_tensor_reshape(x, &(dcnn_shape){2, {5, (int32_t)(dcnn_tensor_count(x) / 5), 0, 0}}));
  assert_ok(dcnn_batcher_next(b, &x, &labels, &n));
  assert_true(dcnn_shape_equal(&batch, &(dcnn_shape){4, {n, batch.dims[1], batch.dims[2], batch.dims[3]}}));
  assert_int_equal(dcnn_tensor_shape(x).ndim, 4);
  dcnn_batcher_destroy(b);
  assert_ok(dcnn_batcher_create(NULL, ds, p, 5, DCNN_BATCH_DROP_LAST, 9, &b));
  assert_int_equal(dcnn_batcher_batches_per_epoch(b), 4);
  dcnn_batcher_destroy(b);
  assert_status(dcnn_batcher_create(NULL, ds, p, 0, 0, 9, &b), DCNN_ERR_INVALID_ARGUMENT);
  dcnn_pipeline_destroy(p);
  dcnn_dataset_destroy(ds);
}

static void png_writer_is_atomic_and_validates(void **state) {
  (void)state;
  uint8_t px[12] = {0};
  assert_ok(dcnn_image_write_png(test_dir_path("w.png"), 2, 2, 3, px));
  assert_status(dcnn_image_write_png(test_dir_path("w.png"), 2, 2, 2, px), DCNN_ERR_INVALID_ARGUMENT);
  /* Each side within 1..65535 but 21846 x 65535 x 3 bytes above libpng's 2^32 - 1: refused as an argument
   * (it was an I/O error, "PNG encoding failed"), before any pixel is read or any file made */
  assert_status(dcnn_image_write_png(test_dir_path("too-large.png"), 21846, 65535, 3, px), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("at most 4294967295");
  struct stat none;
  assert_int_not_equal(stat(test_dir_path("too-large.png"), &none), 0);
  assert_status(dcnn_image_write_png("/nonexistent-dir/x.png", 2, 2, 3, px), DCNN_ERR_IO);
  assert_error_mentions("temporary file");
  struct stat st;
  assert_int_equal(stat(test_dir_path("w.png"), &st), 0);
}

/* The real MNIST-M, when scripts/get-data.sh has put it in data/. */
static void real_mnist_m_counts(void **state) {
  (void)state;
  const char *root = test_mnist_m_dir();
  if (!root) skip();
  const int64_t train_counts[10] = {5825, 6640, 5853, 6028, 5746, 5331, 5812, 6158, 5757, 5851};
  const int64_t test_counts[10] = {878, 1016, 933, 908, 890, 807, 856, 914, 880, 919};
  for (int train = 1; train >= 0; --train) {
    dcnn_dataset *ds = NULL;
    assert_ok(dcnn_dataset_load_mnist_m(NULL, root, train ? DCNN_MNIST_M_TRAIN : DCNN_MNIST_M_TEST, &ds));
    assert_int_equal(dcnn_dataset_count(ds), train ? 59001 : 9001);
    int64_t counts[10];
    assert_ok(dcnn_dataset_class_counts(ds, counts, 10));
    for (int k = 0; k < 10; ++k) assert_int_equal(counts[k], train ? train_counts[k] : test_counts[k]);
    int32_t h, w, c;
    assert_ok(dcnn_dataset_image_size(ds, &h, &w, &c));
    assert_int_equal(h * 100 + w * 10 + c, 32 * 100 + 32 * 10 + 3);
    dcnn_dataset_destroy(ds);
  }
}

/* Counts requests of 100,000 bytes or more: the pipeline's scratch, not its small plans. */
static int64_t large_requests;
static void *count_large(size_t size, size_t alignment, void *user) {
  (void)user;
  if (size >= 100000) ++large_requests;
  void *p = NULL;
  return posix_memalign(&p, alignment < sizeof(void *) ? sizeof(void *) : alignment, size ? size : 1) ? NULL : p;
}
static void release_counted(void *p, void *user) {
  (void)user;
  free(p);
}

/* One pipeline serving a single large image (one lane) and batches of small
 * ones (a lane per thread) in turn once freed and allocated its scratch on
 * every call; it grows to fit both and then stays. */
static void scratch_settles_when_one_large_and_many_small_alternate(void **state) {
  (void)state;
  dcnn_context *ctx = test_context(2);
  dcnn_allocator hooks = {sizeof hooks, count_large, release_counted, NULL};
  assert_ok(dcnn_context_set_allocator(ctx, &hooks));
  enum { SIDE = 1024 };
  uint8_t *px = calloc((size_t)SIDE * SIDE * 3, 1); /* 1 x SIDE x SIDE x 3, and 8 x 28 x 28 x 3 from its start */
  assert_non_null(px);
  int32_t labels[8] = {0}, rows[8] = {0, 1, 2, 3, 4, 5, 6, 7};
  dcnn_dataset *large = NULL, *small = NULL;
  assert_ok(dcnn_dataset_create(ctx, 1, SIDE, SIDE, 3, px, labels, 10, &large));
  assert_ok(dcnn_dataset_create(ctx, 8, 28, 28, 3, px, labels, 10, &small));
  dcnn_pipeline *p = NULL;
  assert_ok(dcnn_pipeline_create(ctx, &p));
  assert_ok(dcnn_pipeline_set(p, DCNN_PIPE_HEIGHT, 28));
  assert_ok(dcnn_pipeline_set(p, DCNN_PIPE_WIDTH, 28));
  assert_ok(dcnn_pipeline_set(p, DCNN_PIPE_CACHE, 0));
  dcnn_shape one = dcnn_shape_make(4, 1, 3, 28, 28), eight = dcnn_shape_make(4, 8, 3, 28, 28);
  dcnn_tensor *x1 = NULL, *x8 = NULL;
  assert_ok(dcnn_tensor_create(ctx, &one, &x1));
  assert_ok(dcnn_tensor_create(ctx, &eight, &x8));
  for (int round = 0; round < 4; ++round) {
    const int64_t before = large_requests;
    assert_ok(dcnn_pipeline_batch(p, large, rows, 1, DCNN_AUGMENT_OFF, 1, 0, x1, NULL));
    assert_ok(dcnn_pipeline_batch(p, small, rows, 8, DCNN_AUGMENT_OFF, 1, 0, x8, NULL));
    if (round > 0 && large_requests != before)
      fail_msg("round %d: %lld large allocations, none expected once the scratch fits both", round,
               (long long)(large_requests - before));
  }
  dcnn_tensor_destroy(x1);
  dcnn_tensor_destroy(x8);
  dcnn_pipeline_destroy(p);
  dcnn_dataset_destroy(large);
  dcnn_dataset_destroy(small);
  dcnn_context_destroy(ctx);
  free(px);
}

/* A batch of 2 large images on a context of 16 threads held 16 lanes of scratch (218 MB for 512 x 512 x 3,
 * refused by a 64 MB allocator); lanes are now no more than the samples, with the same pixels. So are the
 * cache's and the background swap bank's lanes for a store of 2. */
static void scratch_lanes_are_no_more_than_the_samples(void **state) {
  (void)state;
  enum { SIDE = 512 };
  uint8_t *px = malloc((size_t)2 * SIDE * SIDE * 3);
  assert_non_null(px);
  for (size_t i = 0; i < (size_t)2 * SIDE * SIDE * 3; ++i) px[i] = (uint8_t)((i * 2654435761u) >> 24);
  int32_t labels[2] = {0, 1}, rows[2] = {0, 1};
  float *pixels[2] = {NULL, NULL};
  for (int r = 0; r < 2; ++r) {
    capped_allocator cap = {64 << 20, 0};
    dcnn_context *ctx = test_context(r ? 16 : 1);
    const dcnn_allocator hooks = capped_allocator_hooks(&cap);
    assert_ok(dcnn_context_set_allocator(ctx, &hooks));
    dcnn_dataset *ds = NULL;
    assert_ok(dcnn_dataset_create(ctx, 2, SIDE, SIDE, 3, px, labels, 10, &ds));
    for (int cached = 0; cached < 2; ++cached) {
      dcnn_pipeline *p = NULL;
      assert_ok(dcnn_pipeline_create(ctx, &p));
      assert_ok(dcnn_pipeline_set(p, DCNN_PIPE_CACHE, cached));
      assert_ok(dcnn_pipeline_set(p, DCNN_PIPE_BACKGROUND_SWAP, cached ? 0 : 1));
      const dcnn_shape shape = dcnn_shape_make(4, 2, 3, SIDE, SIDE);
      dcnn_tensor *x = NULL;
      assert_ok(dcnn_tensor_create(ctx, &shape, &x));
      assert_ok(dcnn_pipeline_batch(p, ds, rows, 2, cached ? DCNN_AUGMENT_OFF : DCNN_AUGMENT_ON, 3, 0, x, NULL));
      if (!cached) {
        pixels[r] = malloc((size_t)dcnn_tensor_count(x) * sizeof(float));
        assert_non_null(pixels[r]);
        memcpy(pixels[r], dcnn_tensor_data(x), (size_t)dcnn_tensor_count(x) * sizeof(float));
      }
      dcnn_tensor_destroy(x);
      dcnn_pipeline_destroy(p);
    }
    dcnn_dataset_destroy(ds);
    dcnn_context_destroy(ctx);
  }
  assert_memory_equal(pixels[0], pixels[1], (size_t)2 * 3 * SIDE * SIDE * sizeof(float));
  free(pixels[0]);
  free(pixels[1]);
  free(px);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(image_list_loads_pixels_and_labels),
      cmocka_unit_test(other_png_kinds_are_converted),
      cmocka_unit_test(malformed_lists_are_named),
      cmocka_unit_test(long_paths_keep_the_line_and_the_reason),
      cmocka_unit_test(idx_loads_raw_and_gzip),
      cmocka_unit_test(idx_rejects_malformed_files),
      cmocka_unit_test(preprocessing_matches_pytorch),
      cmocka_unit_test(augmentation_is_seeded_and_thread_independent),
      cmocka_unit_test(colour_augmentation_is_seeded_thread_independent_and_in_range),
      cmocka_unit_test(cutout_fills_one_square_with_the_channel_means),
      cmocka_unit_test(fitted_standardization_centres_and_is_recorded),
      cmocka_unit_test(fitted_standardization_of_a_constant_channel_is_one),
      cmocka_unit_test(scratch_lanes_are_no_more_than_the_samples),
      cmocka_unit_test(digit_masks_are_recovered),
      cmocka_unit_test(background_proxy_is_seeded_and_keeps_the_digits),
      cmocka_unit_test(background_swap_redraws_digits_over_the_datasets_backgrounds),
      cmocka_unit_test(swap_compose_turns_and_inverts_the_background),
      cmocka_unit_test(background_transform_inverts_swapped_backgrounds),
      cmocka_unit_test(elastic_warp_matches_its_formula),
      cmocka_unit_test(digit_elastic_bends_the_digit_over_its_own_background),
      cmocka_unit_test(digit_elastic_draws_per_sample_and_fits_any_output),
      cmocka_unit_test(splits_are_disjoint_reproducible_and_stratified),
      cmocka_unit_test(stratified_splits_have_the_random_splits_size),
    cmocka_unit_test(split_sizes_are_the_decimal_floor),
      cmocka_unit_test(a_random_split_allocates_nothing_per_class),
      cmocka_unit_test(batcher_covers_each_sample_once),
      cmocka_unit_test(png_writer_is_atomic_and_validates),
      cmocka_unit_test(real_mnist_m_counts),
      cmocka_unit_test(scratch_settles_when_one_large_and_many_small_alternate),
  };
  return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
