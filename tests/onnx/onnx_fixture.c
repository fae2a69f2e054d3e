/* The C side of the ONNX tests that need Python (tests/onnx/check_onnx.py):
 *
 *   onnx_fixture zoo DIR MNIST_M_DIR   every zoo model, trained 2 steps, exported to
 *                                      DIR/<model>.onnx (opset 13) and DIR/<model>.opset10.onnx;
 *                                      DIR/input.bin holds 8 MNIST-M
 *                                      test images (8, 3, 32, 32) and DIR/<model>.out.bin
 *                                      this library's outputs for them (float32, native order)
 *   onnx_fixture predict MODEL.onnx INPUT.bin N OUTPUT.bin
 *                                      imports MODEL.onnx, writes its outputs for the
 *                                      N samples in INPUT.bin, then checks that three
 *                                      training steps on them lower their loss
 * Exits 0 on success, 1 with a message on any failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digitcnn.h"

#define IMAGES 8
#define SIDE 32

static int fail(const char *what) {
  fprintf(stderr, "onnx_fixture: %s: %s\n", what, dcnn_last_error());
  return 1;
}

static int write_floats(const char *path, const float *v, int64_t n) {
  FILE *f = fopen(path, "wb");
  int ok = f && fwrite(v, sizeof *v, (size_t)n, f) == (size_t)n;
  if (f && fclose(f)) ok = 0;
  if (!ok) fprintf(stderr, "onnx_fixture: cannot write %s\n", path);
  return ok;
}

/* The first IMAGES test images, RGB in [0, 1], centred in a 32 x 32 black canvas (the zoo's smallest size). */
static int read_images(const char *root, dcnn_tensor *x) {
  float *d = dcnn_tensor_data(x);
  memset(d, 0, (size_t)dcnn_tensor_count(x) * sizeof *d);
  for (int i = 0; i < IMAGES; ++i) {
    char path[4096];
    snprintf(path, sizeof path, "%s/mnist_m_test/%08d.png", root, i);
    uint8_t *pixels = NULL;
    int32_t h = 0, w = 0;
    if (dcnn_image_read_png(path, 3, &pixels, &h, &w, NULL) != DCNN_OK) return fail(path) == 0;
    const int32_t top = (SIDE - h) / 2, left = (SIDE - w) / 2;
    for (int32_t r = 0; r < h && r + top < SIDE; ++r)
      for (int32_t c = 0; c < w && c + left < SIDE; ++c)
        for (int ch = 0; ch < 3; ++ch)
          d[((int64_t)(i * 3 + ch) * SIDE + r + top) * SIDE + c + left] = pixels[(r * w + c) * 3 + ch] / 255.0f;
    dcnn_free(pixels);
  }
  return 1;
}

static dcnn_status make(int which, dcnn_model **m) {
  dcnn_zoo_options o = DCNN_ZOO_OPTIONS_INIT;
  o.height = o.width = SIDE;
  o.channels = 3;
  o.dense_units = 64;
  switch (which) {
    case 0: return dcnn_zoo_paper_cnn(NULL, &o, m);
    case 1: return dcnn_zoo_lenet5(NULL, &o, m);
    case 2: return dcnn_zoo_resnet50(NULL, &o, m);
    case 3: return dcnn_zoo_mobilenetv2(NULL, &o, m);
    default: o.batch_norm = which == 5; return dcnn_zoo_vgg16(NULL, &o, m);
  }
}

static int zoo(const char *dir, const char *root) {
  static const char *const names[] = {"paper", "lenet5", "resnet50", "mobilenetv2", "vgg16", "vgg16_bn"};
  dcnn_shape s = dcnn_shape_make(4, IMAGES, 3, SIDE, SIDE);
  dcnn_tensor *x = NULL, *y = NULL;
  if (dcnn_tensor_create(NULL, &s, &x) != DCNN_OK || !read_images(root, x)) return 1;
  char path[4096];
  snprintf(path, sizeof path, "%s/input.bin", dir);
  int ok = write_floats(path, dcnn_tensor_data(x), dcnn_tensor_count(x));
  for (int which = 0; ok && which < 6; ++which) {
    dcnn_model *m = NULL;
    dcnn_optimizer *adam = NULL;
    const int32_t labels[IMAGES] = {7, 2, 1, 0, 4, 1, 4, 9};
    float loss = 0;
    ok = make(which, &m) == DCNN_OK && dcnn_optimizer_create_adam(NULL, 1e-3f, 0.9f, 0.999f, 1e-7f, 0.0f, &adam) == DCNN_OK;
    for (int step = 0; ok && step < 2; ++step) ok = dcnn_model_train_step(m, adam, x, labels, &loss, NULL) == DCNN_OK;
    ok = ok && dcnn_model_set_metadata(m, "classes", "0,1,2,3,4,5,6,7,8,9") == DCNN_OK;
    dcnn_shape os = dcnn_shape_make(2, IMAGES, 10, 0, 0);
    ok = ok && dcnn_tensor_create(NULL, &os, &y) == DCNN_OK && dcnn_model_predict(m, x, y) == DCNN_OK;
    snprintf(path, sizeof path, "%s/%s.onnx", dir, names[which]);
    ok = ok && dcnn_model_export_onnx(m, path, NULL) == DCNN_OK;
    dcnn_onnx_export_options o = DCNN_ONNX_EXPORT_OPTIONS_INIT;
    o.opset = 10; /* the form OpenCV 4.6 reads (Clip with attributes) */
    snprintf(path, sizeof path, "%s/%s.opset10.onnx", dir, names[which]);
    ok = ok && dcnn_model_export_onnx(m, path, &o) == DCNN_OK;
    if (!ok) fail(names[which]);
    snprintf(path, sizeof path, "%s/%s.out.bin", dir, names[which]);
    ok = ok && write_floats(path, dcnn_tensor_data(y), dcnn_tensor_count(y));
    dcnn_tensor_destroy(y);
    y = NULL;
    dcnn_optimizer_destroy(adam);
    dcnn_model_destroy(m);
  }
  dcnn_tensor_destroy(x);
  return ok ? 0 : 1;
}

static int predict(const char *model_path, const char *input_path, int32_t n, const char *output_path) {
  dcnn_model *m = NULL;
  if (dcnn_model_import_onnx(NULL, model_path, &m) != DCNN_OK) return fail(model_path);
  const dcnn_shape in = dcnn_model_input_shape(m), out = dcnn_model_output_shape(m);
  dcnn_shape xs = dcnn_shape_make(in.ndim + 1, n, in.dims[0], in.dims[1], in.dims[2]);
  dcnn_shape ys = dcnn_shape_make(out.ndim + 1, n, out.dims[0], out.dims[1], out.dims[2]);
  dcnn_tensor *x = NULL, *y = NULL;
  int ok = dcnn_tensor_create(NULL, &xs, &x) == DCNN_OK && dcnn_tensor_create(NULL, &ys, &y) == DCNN_OK;
  FILE *f = ok ? fopen(input_path, "rb") : NULL;
  ok = f && fread(dcnn_tensor_data(x), sizeof(float), (size_t)dcnn_tensor_count(x), f) == (size_t)dcnn_tensor_count(x);
  if (f) fclose(f);
  if (ok && dcnn_model_predict(m, x, y) != DCNN_OK) ok = fail("predict") == 0;
  ok = ok && write_floats(output_path, dcnn_tensor_data(y), dcnn_tensor_count(y));
  /* The imported model fine-tunes: training steps on these samples lower their loss. */
  dcnn_optimizer *adam = NULL;
  int32_t labels[64];
  for (int32_t i = 0; i < n && i < 64; ++i) labels[i] = i % dcnn_shape_count(&out);
  float first = 0, loss = 0;
  ok = ok && n <= 64 && dcnn_optimizer_create_adam(NULL, 1e-3f, 0.9f, 0.999f, 1e-7f, 0.0f, &adam) == DCNN_OK;
  for (int step = 0; ok && step < 3; ++step) {
    ok = dcnn_model_train_step(m, adam, x, labels, &loss, NULL) == DCNN_OK;
    if (!ok) fail("train step");
    if (step == 0) first = loss;
  }
  if (ok) fprintf(stderr, "onnx_fixture: fine-tuning the import: loss %.4f -> %.4f\n", first, loss);
  ok = ok && loss < first;
  dcnn_optimizer_destroy(adam);
  dcnn_tensor_destroy(x);
  dcnn_tensor_destroy(y);
  dcnn_model_destroy(m);
  return ok ? 0 : 1;
}

int main(int argc, char **argv) {
  if (argc == 4 && !strcmp(argv[1], "zoo")) return zoo(argv[2], argv[3]);
  if (argc == 6 && !strcmp(argv[1], "predict")) return predict(argv[2], argv[3], atoi(argv[4]), argv[5]);
  fprintf(stderr, "usage: onnx_fixture zoo DIR MNIST_M_DIR | predict MODEL.onnx INPUT.bin N OUTPUT.bin\n");
  return 2;
}
