/* Writes the fuzzers' seed corpora: small valid inputs of every kind each
 * harness takes (model files plain, compressed, with residual blocks, a
 * checkpoint, the version-1 golden file; IDX raw and gzip'd; image lists with
 * gray, RGB and RGBA PNGs).
 *   make_corpus OUT_DIR SOURCE_DIR   -> OUT_DIR/{model_load,idx,image_list,onnx_import}/
 * (onnx_import/ stays empty in a build without the ONNX component) */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <zlib.h>

#include <digitcnn.h>

#define CHECK(call)                                                                     \
  do {                                                                                  \
    if ((call) != DCNN_OK) {                                                            \
      fprintf(stderr, "make_corpus: %s: %s\n", #call, dcnn_last_error());               \
      exit(1);                                                                          \
    }                                                                                   \
  } while (0)

static const char *out_dir;

static const char *path_of(const char *kind, const char *name) {
  static char path[2][1024];
  static int next;
  char *p = path[next++ % 2];
  snprintf(p, sizeof path[0], "%s/%s/%s", out_dir, kind, name);
  return p;
}

static uint8_t *slurp(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f) return perror(path), exit(1), NULL;
  fseek(f, 0, SEEK_END);
  *size = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *data = malloc(*size + 1);
  if (!data || fread(data, 1, *size, f) != *size) exit(1);
  fclose(f);
  return data;
}

static void spill(const char *path, const void *a, size_t na, const void *b, size_t nb) {
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(a, 1, na, f) != na || (nb && fwrite(b, 1, nb, f) != nb) || fclose(f)) {
    perror(path);
    exit(1);
  }
}

static void add(dcnn_model *m, dcnn_status status, dcnn_layer *const *l) {
  CHECK(status);
  CHECK(dcnn_model_add(m, *l));
}

static dcnn_model *small_model(void) {
  dcnn_shape in = dcnn_shape_make(3, 1, 6, 6, 0);
  dcnn_model *m = NULL;
  dcnn_layer *l = NULL;
  CHECK(dcnn_model_create(NULL, &in, &m));
  add(m, dcnn_conv2d_create(2, 3, 1, DCNN_PADDING_SAME, DCNN_WITH_BIAS, &l), &l);
  add(m, dcnn_batchnorm_relu_create(0.9f, 1e-3f, &l), &l);
  add(m, dcnn_maxpool2d_create(2, 2, DCNN_PADDING_VALID, &l), &l);
  add(m, dcnn_dropout_create(0.25f, &l), &l);
  add(m, dcnn_flatten_create(&l), &l);
  add(m, dcnn_dense_create(2, DCNN_WITH_BIAS, &l), &l);
  add(m, dcnn_softmax_create(&l), &l);
  CHECK(dcnn_model_init(m, 3));
  return m;
}

/* The model exported to ONNX at `opset`, in onnx_import/ (builds with the ONNX component only). */
static void onnx_seed(const dcnn_model *m, const char *name, int32_t opset) {
  if (!dcnn_onnx_available()) return;
  dcnn_onnx_export_options o = DCNN_ONNX_EXPORT_OPTIONS_INIT;
  o.opset = opset;
  CHECK(dcnn_model_export_onnx(m, path_of("onnx_import", name), &o));
}

static void model_seeds(const char *source_dir) {
  dcnn_model *m = small_model();
  CHECK(dcnn_model_set_metadata(m, "classes", "zero,one"));
  onnx_seed(m, "small.onnx", 13);
  onnx_seed(m, "small-opset10.onnx", 10);
  CHECK(dcnn_model_save(m, path_of("model_load", "small.dcnn")));
  CHECK(dcnn_model_save_compressed(m, path_of("model_load", "small-zlib.dcnn"), 9));
  /* A checkpoint: one epoch on a tiny dataset. */
  uint8_t pixels[8 * 36];
  int32_t labels[8];
  for (int i = 0; i < 8 * 36; ++i) pixels[i] = (uint8_t)(i * 37);
  for (int i = 0; i < 8; ++i) labels[i] = i % 2;
  dcnn_dataset *ds = NULL;
  dcnn_pipeline *p = NULL;
  dcnn_optimizer *adam = NULL;
  dcnn_trainer *t = NULL;
  CHECK(dcnn_dataset_create(NULL, 8, 6, 6, 1, pixels, labels, 2, &ds));
  CHECK(dcnn_pipeline_create(NULL, &p));
  CHECK(dcnn_optimizer_create_adam(NULL, 1e-2f, 0.9f, 0.999f, 1e-7f, 0.0f, &adam));
  CHECK(dcnn_trainer_create(NULL, m, adam, &t));
  CHECK(dcnn_trainer_set(t, DCNN_TRAIN_EPOCHS, 1));
  CHECK(dcnn_trainer_set(t, DCNN_TRAIN_BATCH_SIZE, 4));
  CHECK(dcnn_trainer_fit(t, ds, ds, p));
  CHECK(dcnn_trainer_save_checkpoint(t, path_of("model_load", "checkpoint.dcnn")));
  dcnn_trainer_destroy(t);
  dcnn_optimizer_destroy(adam);
  dcnn_pipeline_destroy(p);
  dcnn_dataset_destroy(ds);
  dcnn_model_destroy(m);
  /* Residual blocks, one nested. */
  dcnn_shape in = dcnn_shape_make(3, 2, 4, 4, 0);
  dcnn_layer *inner[1], *body[2], *shortcut[1], *l = NULL;
  CHECK(dcnn_model_create(NULL, &in, &m));
  CHECK(dcnn_relu6_create(&inner[0]));
  CHECK(dcnn_residual_create(inner, 1, NULL, 0, DCNN_RESIDUAL_LINEAR, &body[0]));
  CHECK(dcnn_depthwise_conv2d_create(3, 1, DCNN_PADDING_SAME, DCNN_WITH_BIAS, &body[1]));
  CHECK(dcnn_avgpool2d_create(1, 1, DCNN_PADDING_VALID, &shortcut[0]));
  add(m, dcnn_residual_create(body, 2, shortcut, 1, DCNN_RESIDUAL_RELU, &l), &l);
  add(m, dcnn_global_avgpool_create(&l), &l);
  add(m, dcnn_dense_create(3, DCNN_NO_BIAS, &l), &l);
  add(m, dcnn_tanh_create(&l), &l);
  add(m, dcnn_sigmoid_create(&l), &l);
  CHECK(dcnn_model_init(m, 4));
  CHECK(dcnn_model_save(m, path_of("model_load", "residual.dcnn")));
  onnx_seed(m, "residual.onnx", 17);
  dcnn_model_destroy(m);
  char golden[1024];
  snprintf(golden, sizeof golden, "%s/tests/golden/model-v1.dcnn", source_dir);
  size_t size = 0;
  uint8_t *v1 = slurp(golden, &size);
  spill(path_of("model_load", "golden-v1.dcnn"), v1, size, NULL, 0);
  free(v1);
}

/* u16 length of the image file, the image file, the label file. */
static void idx_seed(const char *name, const uint8_t *images, size_t ni, const uint8_t *labels, size_t nl) {
  const uint8_t split[2] = {(uint8_t)ni, (uint8_t)(ni >> 8)};
  char path[1024];
  snprintf(path, sizeof path, "%s/idx/%s", out_dir, name);
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(split, 1, 2, f) != 2 || fwrite(images, 1, ni, f) != ni || fwrite(labels, 1, nl, f) != nl || fclose(f))
    exit(1);
}

static size_t gzip_bytes(const uint8_t *in, size_t n, uint8_t *out, size_t capacity) {
  z_stream z;
  memset(&z, 0, sizeof z);
  if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) exit(1);
  z.next_in = (Bytef *)in;
  z.avail_in = (uInt)n;
  z.next_out = out;
  z.avail_out = (uInt)capacity;
  if (deflate(&z, Z_FINISH) != Z_STREAM_END) exit(1);
  deflateEnd(&z);
  return capacity - z.avail_out;
}

static void idx_seeds(void) {
  uint8_t images[16 + 3 * 16], labels[8 + 3];
  const uint8_t image_header[16] = {0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 4};
  const uint8_t label_header[8] = {0, 0, 8, 1, 0, 0, 0, 3};
  memcpy(images, image_header, 16);
  for (int i = 0; i < 48; ++i) images[16 + i] = (uint8_t)(i * 5);
  memcpy(labels, label_header, 8);
  labels[8] = 1, labels[9] = 7, labels[10] = 9;
  idx_seed("raw", images, sizeof images, labels, sizeof labels);
  /* The seed must be an input the loader accepts. */
  spill(path_of("idx", "check-images"), images, sizeof images, NULL, 0);
  spill(path_of("idx", "check-labels"), labels, sizeof labels, NULL, 0);
  dcnn_dataset *ds = NULL;
  CHECK(dcnn_dataset_load_idx(NULL, path_of("idx", "check-images"), path_of("idx", "check-labels"), 10, &ds));
  dcnn_dataset_destroy(ds);
  remove(path_of("idx", "check-images"));
  remove(path_of("idx", "check-labels"));
  uint8_t gi[256], gl[256];
  size_t ngi = gzip_bytes(images, sizeof images, gi, sizeof gi), ngl = gzip_bytes(labels, sizeof labels, gl, sizeof gl);
  idx_seed("gzip", gi, ngi, gl, ngl);
}

static void image_list_seeds(void) {
  uint8_t pixels[6 * 6 * 4];
  for (int i = 0; i < 6 * 6 * 4; ++i) pixels[i] = (uint8_t)(i * 11);
  const int channels[3] = {1, 3, 4};
  const char *names[3] = {"gray", "rgb", "rgba"};
  const char list[] = "a.png 3\nb.png 8\n";
  for (int k = 0; k < 3; ++k) {
    const char *png = path_of("image_list", "tmp.png");
    CHECK(dcnn_image_write_png(png, 6, 6, channels[k], pixels));
    size_t size = 0;
    uint8_t *bytes = slurp(png, &size);
    remove(png);
    spill(path_of("image_list", names[k]), list, sizeof list, bytes, size); /* sizeof includes the NUL */
    /* The seed must be an input the loader accepts. */
    spill(path_of("image_list", "a.png"), bytes, size, NULL, 0);
    spill(path_of("image_list", "b.png"), bytes, size, NULL, 0);
    spill(path_of("image_list", "list"), list, sizeof list - 1, NULL, 0);
    dcnn_dataset *ds = NULL;
    char root[1024];
    snprintf(root, sizeof root, "%s/image_list", out_dir);
    CHECK(dcnn_dataset_load_image_list(NULL, path_of("image_list", "list"), root, 10, &ds));
    dcnn_dataset_destroy(ds);
    remove(path_of("image_list", "a.png"));
    remove(path_of("image_list", "b.png"));
    remove(path_of("image_list", "list"));
    free(bytes);
  }
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: make_corpus OUT_DIR SOURCE_DIR\n");
    return 2;
  }
  out_dir = argv[1];
  const char *kinds[4] = {"model_load", "idx", "image_list", "onnx_import"};
  mkdir(out_dir, 0755);
  for (int k = 0; k < 4; ++k) mkdir(path_of(kinds[k], ""), 0755);
  model_seeds(argv[2]);
  idx_seeds();
  image_list_seeds();
  const char *models[5] = {"small.dcnn", "small-zlib.dcnn", "checkpoint.dcnn", "residual.dcnn", "golden-v1.dcnn"};
  for (int k = 0; k < 5; ++k) {
    dcnn_model *m = NULL;
    CHECK(dcnn_model_load(NULL, path_of("model_load", models[k]), &m));
    dcnn_model_destroy(m);
  }
  printf("seed corpora written to %s/{model_load,idx,image_list,onnx_import}\n", out_dir);
  return 0;
}
