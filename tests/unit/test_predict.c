/* The one-call prediction from raw pixels (dcnn_model_predict_image) against
 * the long path a caller writes by hand (dataset, pipeline configured from
 * the model's recorded preprocessing, dcnn_model_predict), on real MNIST-M
 * test images, for grayscale and RGB models; and dcnn_top_k. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_support.h"

#define IMAGES 4
#define CLASSES 10

typedef struct image {
  uint8_t *pixels; /* (height, width, 3) RGB as decoded */
  int32_t height, width;
} image;

static image images[IMAGES];

static int load_images(void **state) {
  (void)state;
  const char *root = getenv("DCNN_MNIST_M_DIR");
  for (int i = 0; i < IMAGES; ++i) {
    char path[4096];
    snprintf(path, sizeof path, "%s/mnist_m_test/%08d.png", root ? root : "", i);
    if (!root || dcnn_image_read_png(path, 3, &images[i].pixels, &images[i].height, &images[i].width, NULL) != DCNN_OK)
      images[i].pixels = NULL;
  }
  return 0;
}

static int free_images(void **state) {
  (void)state;
  for (int i = 0; i < IMAGES; ++i) dcnn_free(images[i].pixels);
  return 0;
}

/* Skips (with the shared message) when MNIST-M is absent. */
static int have_images(void) {
  if (!test_mnist_m_dir()) return 0;
  for (int i = 0; i < IMAGES; ++i) assert_non_null(images[i].pixels);
  return 1;
}

/* A paper CNN for `channels` inputs whose metadata records `pipeline`'s
 * preprocessing, as dcnn_trainer_fit() does. */
static dcnn_model *model_with(int32_t channels, const dcnn_pipeline *pipeline) {
  dcnn_model *m = NULL;
  assert_ok(dcnn_zoo_paper_cnn(NULL, test_zoo(28, 28, channels, CLASSES, 5), &m));
  char text[512];
  assert_ok(dcnn_pipeline_describe(pipeline, text, sizeof text));
  assert_ok(dcnn_model_set_metadata(m, "preprocessing", text));
  return m;
}

/* The long path: a one-image dataset, the recorded preprocessing at the
 * model's input size, dcnn_model_predict. `pixels` are (h, w, c) packed. */
static void long_path(dcnn_model *m, const uint8_t *pixels, int32_t h, int32_t w, int32_t c, float *probs) {
  const dcnn_shape in = dcnn_model_input_shape(m);
  dcnn_dataset *ds = NULL;
  const int32_t label = 0, index = 0;
  assert_ok(dcnn_dataset_create(NULL, 1, h, w, c, pixels, &label, CLASSES, &ds));
  dcnn_pipeline *p = NULL;
  assert_ok(dcnn_pipeline_create(NULL, &p));
  assert_ok(dcnn_pipeline_configure(p, dcnn_model_metadata(m, "preprocessing")));
  assert_ok(dcnn_pipeline_set(p, DCNN_PIPE_HEIGHT, in.dims[1]));
  assert_ok(dcnn_pipeline_set(p, DCNN_PIPE_WIDTH, in.dims[2]));
  dcnn_shape xs = dcnn_shape_make(4, 1, in.dims[0], in.dims[1], in.dims[2]), ys = dcnn_shape_make(2, 1, CLASSES, 0, 0);
  dcnn_tensor *x = NULL, *y = NULL;
  assert_ok(dcnn_tensor_create(NULL, &xs, &x));
  assert_ok(dcnn_tensor_create(NULL, &ys, &y));
  assert_ok(dcnn_pipeline_batch(p, ds, &index, 1, DCNN_AUGMENT_OFF, 0, 0, x, NULL));
  assert_ok(dcnn_model_predict(m, x, y));
  memcpy(probs, dcnn_tensor_data(y), CLASSES * sizeof(float));
  dcnn_tensor_destroy(x);
  dcnn_tensor_destroy(y);
  dcnn_pipeline_destroy(p);
  dcnn_dataset_destroy(ds);
}

static void assert_same_bits(const float *a, const float *b) {
  assert_memory_equal(a, b, CLASSES * sizeof(float));
  double sum = 0;
  for (int k = 0; k < CLASSES; ++k) sum += a[k];
  assert_true(fabs(sum - 1.0) < 1e-5);
}

/* Predictions that differ between images: the comparison is not of constants. */
static void assert_images_differ(float probs[IMAGES][CLASSES]) {
  int differ = 0;
  for (int i = 1; i < IMAGES; ++i) differ |= memcmp(probs[0], probs[i], sizeof probs[0]) != 0;
  assert_true(differ);
}

static void gray_model_matches_long_path(void **state) {
  (void)state;
  if (!have_images()) skip();
  dcnn_pipeline *paper = NULL;
  assert_ok(dcnn_pipeline_create(NULL, &paper));
  assert_ok(dcnn_pipeline_set_paper_defaults(paper)); /* 28 x 28 gray, as the paper trains */
  dcnn_model *m = model_with(1, paper);
  float one[IMAGES][CLASSES], two[CLASSES];
  for (int i = 0; i < IMAGES; ++i) {
    const image *im = &images[i];
    assert_ok(dcnn_model_predict_image(m, im->pixels, im->height, im->width, 3, 0, one[i], CLASSES));
    long_path(m, im->pixels, im->height, im->width, 3, two);
    assert_same_bits(one[i], two);
    /* RGBA: the alpha channel is ignored. */
    uint8_t *rgba = malloc((size_t)im->height * im->width * 4);
    assert_non_null(rgba);
    for (int32_t p = 0; p < im->height * im->width; ++p) {
      memcpy(rgba + 4 * p, im->pixels + 3 * p, 3);
      rgba[4 * p + 3] = (uint8_t)(p * 7);
    }
    float with_alpha[CLASSES];
    assert_ok(dcnn_model_predict_image(m, rgba, im->height, im->width, 4, 0, with_alpha, CLASSES));
    assert_memory_equal(with_alpha, one[i], sizeof with_alpha);
    free(rgba);
  }
  assert_images_differ(one);
  /* A gray image (the PNG decoded to 1 channel) against the long path on the same gray bytes. */
  uint8_t *gray = NULL;
  int32_t h = 0, w = 0;
  char path[4096];
  snprintf(path, sizeof path, "%s/mnist_m_test/%08d.png", test_mnist_m_dir(), 0);
  assert_ok(dcnn_image_read_png(path, 1, &gray, &h, &w, NULL));
  assert_ok(dcnn_model_predict_image(m, gray, h, w, 1, 0, one[0], CLASSES));
  long_path(m, gray, h, w, 1, two);
  assert_same_bits(one[0], two);
  dcnn_free(gray);
  dcnn_model_destroy(m);
  dcnn_pipeline_destroy(paper);
}

static void rgb_model_matches_long_path(void **state) {
  (void)state;
  if (!have_images()) skip();
  /* RGB at 28 x 28 with per-channel standardisation: every recorded step is used. */
  dcnn_pipeline *rgb = NULL;
  assert_ok(dcnn_pipeline_create(NULL, &rgb));
  assert_ok(dcnn_pipeline_set_paper_defaults(rgb));
  assert_ok(dcnn_pipeline_set(rgb, DCNN_PIPE_GRAYSCALE, 0));
  const float mean[3] = {0.46f, 0.47f, 0.42f}, std[3] = {0.25f, 0.23f, 0.26f};
  assert_ok(dcnn_pipeline_set_standardization(rgb, 3, mean, std));
  dcnn_model *m = model_with(3, rgb);
  float one[IMAGES][CLASSES], two[CLASSES];
  for (int i = 0; i < IMAGES; ++i) {
    const image *im = &images[i];
    assert_ok(dcnn_model_predict_image(m, im->pixels, im->height, im->width, 3, 0, one[i], CLASSES));
    long_path(m, im->pixels, im->height, im->width, 3, two);
    assert_same_bits(one[i], two);
  }
  assert_images_differ(one);
  /* Without the standardisation the answer changes: the recorded text is really applied. */
  dcnn_pipeline *plain = NULL;
  assert_ok(dcnn_pipeline_create(NULL, &plain));
  char text[512];
  assert_ok(dcnn_pipeline_describe(plain, text, sizeof text));
  assert_ok(dcnn_model_set_metadata(m, "preprocessing", text));
  assert_ok(dcnn_model_predict_image(m, images[0].pixels, images[0].height, images[0].width, 3, 0, two, CLASSES));
  assert_memory_not_equal(one[0], two, sizeof two);
  dcnn_pipeline_destroy(plain);
  dcnn_model_destroy(m);
  dcnn_pipeline_destroy(rgb);
}

/* An odd-sized crop read through a row stride (rows not packed) equals the same crop packed. */
static void row_stride_and_odd_size(void **state) {
  (void)state;
  if (!have_images()) skip();
  dcnn_pipeline *paper = NULL;
  assert_ok(dcnn_pipeline_create(NULL, &paper));
  assert_ok(dcnn_pipeline_set_paper_defaults(paper));
  dcnn_model *m = model_with(1, paper);
  const image *im = &images[1];
  const int32_t h = 25, w = 30, x0 = 1, y0 = 3;
  uint8_t packed[25 * 30 * 3];
  for (int32_t y = 0; y < h; ++y) memcpy(packed + y * w * 3, im->pixels + ((y + y0) * im->width + x0) * 3,
                                         (size_t)w * 3);
  float strided[CLASSES], direct[CLASSES], reference[CLASSES];
  const uint8_t *corner = im->pixels + (y0 * im->width + x0) * 3;
  assert_ok(dcnn_model_predict_image(m, corner, h, w, 3, (size_t)im->width * 3, strided, CLASSES));
  assert_ok(dcnn_model_predict_image(m, packed, h, w, 3, 0, direct, CLASSES));
  long_path(m, packed, h, w, 3, reference);
  assert_same_bits(strided, reference);
  assert_same_bits(direct, reference);
  dcnn_model_destroy(m);
  dcnn_pipeline_destroy(paper);
}

/* A gray image given to an RGB model is the same image with its value in all three channels. */
static void gray_image_to_rgb_model(void **state) {
  (void)state;
  dcnn_model *m = NULL;
  assert_ok(dcnn_zoo_paper_cnn(NULL, test_zoo(28, 28, 3, CLASSES, 9), &m)); /* no metadata: resize and scale */
  uint8_t gray[17 * 23], rgb[17 * 23 * 3];
  for (int i = 0; i < 17 * 23; ++i) gray[i] = rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = (uint8_t)(i * 37 + 11);
  float a[CLASSES], b[CLASSES];
  assert_ok(dcnn_model_predict_image(m, gray, 17, 23, 1, 0, a, CLASSES));
  assert_ok(dcnn_model_predict_image(m, rgb, 17, 23, 3, 0, b, CLASSES));
  assert_same_bits(a, b);
  dcnn_model_destroy(m);
}

/* A gray dataset through a pipeline configured for an RGB model (DCNN_PIPE_GRAY_TO_RGB): three equal channels,
 * each standardised with its own statistics, predicting what dcnn_model_predict_image predicts for the same
 * pixels, cached or not; without the option the pipeline's gray samples do not fit the model (the review's
 * "evaluate(gray dataset, RGB model): -5"). */
static void gray_dataset_to_rgb_model(void **state) {
  (void)state;
  dcnn_model *m = NULL;
  assert_ok(dcnn_zoo_paper_cnn(NULL, test_zoo(20, 24, 3, CLASSES, 9), &m));
  assert_ok(dcnn_model_set_metadata(m, "preprocessing",
                                    "height=20 width=24 grayscale=0 standardize=3 mean0=0.2 std0=0.5 mean1=0.4 "
                                    "std1=0.25 mean2=0.6 std2=2"));
  enum { N = 2, H = 17, W = 23 };
  uint8_t gray[N * H * W];
  int32_t labels[N] = {3, 7};
  for (int i = 0; i < N * H * W; ++i) gray[i] = (uint8_t)(i * 37 + 11);
  dcnn_dataset *ds = NULL;
  assert_ok(dcnn_dataset_create(NULL, N, H, W, 1, gray, labels, CLASSES, &ds));
  dcnn_pipeline *p = NULL;
  assert_ok(dcnn_pipeline_create(NULL, &p));
  dcnn_shape sample;
  assert_ok(dcnn_pipeline_configure(p, dcnn_model_metadata(m, "preprocessing")));
  assert_status(dcnn_pipeline_sample_shape(p, ds, &sample), DCNN_ERR_SHAPE_MISMATCH); /* 1 channel, 3 standardised */
  assert_ok(dcnn_pipeline_configure_for_model(p, m));
  assert_true(dcnn_pipeline_get(p, DCNN_PIPE_GRAY_TO_RGB) == 1.0);
  assert_ok(dcnn_pipeline_sample_shape(p, ds, &sample));
  assert_int_equal(sample.dims[0], 3);
  const dcnn_shape xs = dcnn_shape_make(4, N, 3, 20, 24), ys = dcnn_shape_make(2, N, CLASSES, 0, 0);
  dcnn_tensor *x = NULL, *y = NULL;
  assert_ok(dcnn_tensor_create(NULL, &xs, &x));
  assert_ok(dcnn_tensor_create(NULL, &ys, &y));
  const int32_t indices[N] = {0, 1};
  static const float mean[3] = {0.2f, 0.4f, 0.6f}, std[3] = {0.5f, 0.25f, 2.0f};
  for (int cached = 1; cached >= 0; --cached) {
    assert_ok(dcnn_pipeline_set(p, DCNN_PIPE_CACHE, cached));
    assert_ok(dcnn_pipeline_batch(p, ds, indices, N, DCNN_AUGMENT_OFF, 0, 0, x, NULL));
    const float *v = dcnn_tensor_data_const(x);
    const int64_t plane = 20 * 24;
    for (int i = 0; i < N; ++i)
      for (int64_t k = 0; k < plane; ++k) { /* one [0, 1] value behind all three channels */
        const float *at = v + i * 3 * plane + k;
        const float unit = at[0] * std[0] + mean[0];
        for (int c = 1; c < 3; ++c) assert_float_equal(at[c * plane] * std[c] + mean[c], unit, 1e-6);
      }
    assert_ok(dcnn_model_predict(m, x, y));
    float one[CLASSES];
    for (int i = 0; i < N; ++i) {
      assert_ok(dcnn_model_predict_image(m, gray + i * H * W, H, W, 1, 0, one, CLASSES));
      const float *row = dcnn_tensor_data_const(y) + i * CLASSES;
      for (int k = 0; k < CLASSES; ++k) assert_float_equal(row[k], one[k], 1e-6);
    }
  }
  /* an RGB dataset is unchanged by the option, and grayscale output wins over it */
  uint8_t rgb[H * W * 3] = {0};
  dcnn_dataset *colour = NULL;
  assert_ok(dcnn_dataset_create(NULL, 1, H, W, 3, rgb, labels, CLASSES, &colour));
  assert_ok(dcnn_pipeline_sample_shape(p, colour, &sample));
  assert_int_equal(sample.dims[0], 3);
  assert_ok(dcnn_pipeline_configure(p, "height=20 width=24 grayscale=1 standardize=0"));
  assert_ok(dcnn_pipeline_sample_shape(p, ds, &sample));
  assert_int_equal(sample.dims[0], 1);
  assert_status(dcnn_pipeline_set(p, DCNN_PIPE_GRAY_TO_RGB, 2), DCNN_ERR_INVALID_ARGUMENT);
  dcnn_dataset_destroy(colour);
  dcnn_tensor_destroy(y);
  dcnn_tensor_destroy(x);
  dcnn_pipeline_destroy(p);
  dcnn_dataset_destroy(ds);
  dcnn_model_destroy(m);
}

/* (1, 8, 8) -> flatten -> dense(CLASSES): scores without a final softmax. */
static dcnn_model *dense_scores_model(void) {
  dcnn_shape in = dcnn_shape_make(3, 1, 8, 8, 0);
  dcnn_model *m = NULL;
  dcnn_layer *l = NULL;
  assert_ok(dcnn_model_create(NULL, &in, &m));
  assert_ok(dcnn_flatten_create(&l));
  assert_ok(dcnn_model_add(m, l));
  assert_ok(dcnn_dense_create(CLASSES, DCNN_WITH_BIAS, &l));
  assert_ok(dcnn_model_add(m, l));
  assert_ok(dcnn_model_init(m, 3));
  return m;
}

/* A model without a final softmax: its scores go through one. */
static void scores_become_probabilities(void **state) {
  (void)state;
  dcnn_model *m = dense_scores_model();
  uint8_t pixels[8 * 8];
  for (int i = 0; i < 64; ++i) pixels[i] = (uint8_t)(i * 4);
  float probs[CLASSES];
  assert_ok(dcnn_model_predict_image(m, pixels, 8, 8, 1, 0, probs, CLASSES));
  /* The scores by hand, then softmax. */
  dcnn_shape xs = dcnn_shape_make(4, 1, 1, 8, 8), ys = dcnn_shape_make(2, 1, CLASSES, 0, 0);
  dcnn_tensor *x = NULL, *y = NULL;
  assert_ok(dcnn_tensor_create(NULL, &xs, &x));
  assert_ok(dcnn_tensor_create(NULL, &ys, &y));
  for (int i = 0; i < 64; ++i) dcnn_tensor_data(x)[i] = (float)pixels[i] / 255.0f;
  assert_ok(dcnn_model_predict(m, x, y));
  const float *s = dcnn_tensor_data(y);
  double top = s[0], sum = 0;
  for (int k = 1; k < CLASSES; ++k) top = s[k] > top ? s[k] : top;
  for (int k = 0; k < CLASSES; ++k) sum += exp(s[k] - top);
  for (int k = 0; k < CLASSES; ++k) assert_true(fabs(probs[k] - exp(s[k] - top) / sum) < 1e-6);
  dcnn_tensor_destroy(x);
  dcnn_tensor_destroy(y);
  dcnn_model_destroy(m);
}

/* Finite inputs whose activations overflow: the output is refused as NUMERIC
 * (predict_image promised probabilities summing to 1 and returned NaN). */
static void overflowing_outputs_are_refused(void **state) {
  (void)state;
  dcnn_model *m = dense_scores_model();
  dcnn_param p = DCNN_STRUCT_INIT(dcnn_param);
  assert_ok(dcnn_model_param(m, 0, &p, NULL));
  assert_ok(dcnn_tensor_fill(p.value, 1e37f));
  uint8_t pixels[8 * 8];
  for (int i = 0; i < 64; ++i) pixels[i] = 200;
  float probs[CLASSES];
  assert_status(dcnn_model_predict_image(m, pixels, 8, 8, 1, 0, probs, CLASSES), DCNN_ERR_NUMERIC);
  assert_error_mentions("an activation overflowed");
  dcnn_shape xs = dcnn_shape_make(4, 2, 1, 8, 8), ys = dcnn_shape_make(2, 2, CLASSES, 0, 0);
  dcnn_tensor *x = NULL, *y = NULL;
  assert_ok(dcnn_tensor_create(NULL, &xs, &x));
  assert_ok(dcnn_tensor_create(NULL, &ys, &y));
  assert_ok(dcnn_tensor_fill(x, 1.0f)); /* 64 x 1e37 overflows */
  assert_status(dcnn_model_predict(m, x, y), DCNN_ERR_NUMERIC);
  assert_error_mentions("dcnn_model_predict: output element 0 is inf");
  dcnn_session *s = NULL;
  assert_ok(dcnn_session_create(m, 2, 1, &s));
  assert_status(dcnn_session_predict(s, x, y), DCNN_ERR_NUMERIC);
  dcnn_session_destroy(s);
  assert_ok(dcnn_tensor_fill(p.value, 0.01f)); /* finite again: predictions work */
  assert_ok(dcnn_model_predict(m, x, y));
  assert_ok(dcnn_model_predict_image(m, pixels, 8, 8, 1, 0, probs, CLASSES));
  dcnn_tensor_destroy(x);
  dcnn_tensor_destroy(y);
  dcnn_model_destroy(m);
}

static dcnn_layer *layer(const char *type, const char *settings) {
  dcnn_layer *l = NULL;
  assert_ok(dcnn_layer_from_config(type, settings, &l));
  return l;
}

/* A NaN made inside the network (finite inputs: 3e38 x 10 + 3e38 x -10 is
 * inf - inf) reaches the output check through ReLU and batch norm, whose
 * max(floor, v) once gave 0 (ReLU) or -inf (batch norm, which tanh and
 * sigmoid then made finite): predict returned OK with meaningless scores. The
 * convolution models go through the session's folded conv + batch norm. */
static void nan_inside_the_network_is_refused(void **state) {
  (void)state;
  static const char *const between[][2] = {{"relu", NULL},         {"batchnorm_relu", NULL}, {"batchnorm", "tanh"},
                                           {"batchnorm", "sigmoid"}, {"batchnorm", "relu"},    {"leaky_relu", NULL}};
  for (int conv = 0; conv < 2; ++conv)
    for (size_t k = 0; k < sizeof between / sizeof between[0]; ++k) {
      dcnn_shape in = conv ? dcnn_shape_make(3, 2, 3, 3, 0) : dcnn_shape_make(1, 2, 0, 0, 0);
      dcnn_model *m = NULL;
      assert_ok(dcnn_model_create(NULL, &in, &m));
      if (conv) {
        assert_ok(dcnn_model_add(m, layer("conv2d", "filters=1 kernel=1 stride=1 padding=valid bias=0")));
      } else {
        assert_ok(dcnn_model_add(m, layer("dense", "units=2 bias=0")));
        assert_ok(dcnn_model_add(m, layer("dense", "units=1 bias=0")));
      }
      for (int j = 0; j < 2; ++j) {
        const char *type = between[k][j];
        const char *settings = !strncmp(type ? type : "", "batchnorm", 9) ? "momentum=0.9 epsilon=0.001"
                               : !strcmp(type ? type : "", "leaky_relu") ? "alpha=0.1"
                                                                         : "";
        if (type) assert_ok(dcnn_model_add(m, layer(type, settings)));
      }
      if (conv) assert_ok(dcnn_model_add(m, layer("flatten", "")));
      assert_ok(dcnn_model_add(m, layer("dense", "units=2 bias=1")));
      assert_ok(dcnn_model_init(m, 1));
      dcnn_param p = DCNN_STRUCT_INIT(dcnn_param);
      assert_ok(dcnn_model_param(m, 0, &p, NULL));
      float *w = dcnn_tensor_data(p.value); /* conv (1, 2, 1, 1) or dense (2, 2): each unit sums 10 x - 10 x */
      for (int i = 0; i < (conv ? 2 : 4); ++i) w[i] = i % 2 ? -10.0f : 10.0f;
      if (!conv) {
        assert_ok(dcnn_model_param(m, 1, &p, NULL));
        assert_ok(dcnn_tensor_fill(p.value, 1.0f));
      }
      dcnn_shape xs = conv ? dcnn_shape_make(4, 2, 2, 3, 3) : dcnn_shape_make(2, 2, 2, 0, 0);
      dcnn_shape ys = dcnn_shape_make(2, 2, 2, 0, 0);
      dcnn_tensor *x = NULL, *y = NULL;
      assert_ok(dcnn_tensor_create(NULL, &xs, &x));
      assert_ok(dcnn_tensor_create(NULL, &ys, &y));
      assert_ok(dcnn_tensor_fill(x, 3e38f));
      if (dcnn_model_predict(m, x, y) != DCNN_ERR_NUMERIC)
        fail_msg("%s %s -> %s: predict gave [%g %g] without DCNN_ERR_NUMERIC", conv ? "conv2d" : "dense",
                 between[k][0], between[k][1] ? between[k][1] : "dense", (double)dcnn_tensor_data(y)[0],
                 (double)dcnn_tensor_data(y)[1]);
      dcnn_session *s = NULL;
      assert_ok(dcnn_session_create(m, 2, 1, &s));
      assert_status(dcnn_session_predict(s, x, y), DCNN_ERR_NUMERIC);
      dcnn_session_destroy(s);
      dcnn_tensor_destroy(x);
      dcnn_tensor_destroy(y);
      dcnn_model_destroy(m);
    }
}

static void refuses_bad_arguments(void **state) {
  (void)state;
  dcnn_model *m = NULL;
  assert_ok(dcnn_zoo_paper_cnn(NULL, NULL, &m));
  uint8_t pixels[4 * 4 * 3] = {0};
  float probs[CLASSES];
  assert_status(dcnn_model_predict_image(m, pixels, 4, 4, 2, 0, probs, CLASSES), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("channels");
  assert_status(dcnn_model_predict_image(m, pixels, 4, 4, 3, 11, probs, CLASSES), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("stride");
  assert_status(dcnn_model_predict_image(m, pixels, 4, 4, 3, 0, probs, CLASSES - 1), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("10 classes");
  assert_status(dcnn_model_predict_image(m, pixels, 0, 4, 3, 0, probs, CLASSES), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_model_predict_image(m, NULL, 4, 4, 3, 0, probs, CLASSES), DCNN_ERR_INVALID_ARGUMENT);
  assert_ok(dcnn_model_set_metadata(m, "preprocessing", "height=28 width=28"));
  assert_status(dcnn_model_predict_image(m, pixels, 4, 4, 3, 0, probs, CLASSES), DCNN_ERR_BAD_FORMAT);
  assert_error_mentions("preprocessing");
  dcnn_model_destroy(m);
}

/* dcnn_pipeline_configure_for_model: the recorded text, then the model's
 * size and colour over it; augmentation untouched; what cannot fit refused. */
static void pipeline_configured_for_the_model(void **state) {
  (void)state;
  dcnn_pipeline *p = NULL;
  assert_ok(dcnn_pipeline_create(NULL, &p));
  assert_ok(dcnn_pipeline_set(p, DCNN_PIPE_ROTATION, 10));
  dcnn_model *gray = NULL, *rgb = NULL, *flat = NULL;
  assert_ok(dcnn_zoo_paper_cnn(NULL, test_zoo(28, 28, 1, CLASSES, 5), &gray));
  assert_ok(dcnn_zoo_paper_cnn(NULL, test_zoo(20, 24, 3, CLASSES, 5), &rgb));
  const dcnn_shape flat_in = dcnn_shape_make(1, 16, 0, 0, 0);
  dcnn_layer *dense = NULL;
  assert_ok(dcnn_model_create(NULL, &flat_in, &flat));
  assert_ok(dcnn_dense_create(CLASSES, DCNN_WITH_BIAS, &dense));
  assert_ok(dcnn_model_add(flat, dense));

  /* trained at the data's own size (0 x 0) on RGB data: the model's 28 x 28 gray wins */
  assert_ok(dcnn_model_set_metadata(gray, "preprocessing", "height=0 width=0 grayscale=0 standardize=1 mean0=0.25 std0=0.5"));
  assert_ok(dcnn_pipeline_configure_for_model(p, gray));
  char text[512];
  assert_ok(dcnn_pipeline_describe(p, text, sizeof text));
  assert_non_null(strstr(text, "height=28 width=28 grayscale=1 standardize=1"));
  assert_true(dcnn_pipeline_get(p, DCNN_PIPE_ROTATION) == 10.0);

  /* no metadata: the pipeline's own standardisation stays, and must fit the model's channels */
  assert_status(dcnn_pipeline_configure_for_model(p, rgb), DCNN_ERR_SHAPE_MISMATCH); /* standardize=1 from above */
  assert_error_mentions("standardises 1 channels, the model takes 3");
  assert_ok(dcnn_pipeline_configure(p, "height=0 width=0 grayscale=0 standardize=0"));
  assert_ok(dcnn_pipeline_configure_for_model(p, rgb));
  assert_ok(dcnn_pipeline_describe(p, text, sizeof text));
  assert_non_null(strstr(text, "height=20 width=24 grayscale=0 standardize=0"));

  assert_status(dcnn_pipeline_configure_for_model(p, flat), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("dcnn_pipeline_configure_for_model: the model takes (16)");
  assert_ok(dcnn_model_set_metadata(gray, "preprocessing", "height=28 width=28"));
  assert_status(dcnn_pipeline_configure_for_model(p, gray), DCNN_ERR_BAD_FORMAT);
  assert_error_mentions("dcnn_pipeline_configure_for_model: the model's preprocessing");
  assert_status(dcnn_pipeline_configure_for_model(NULL, gray), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_pipeline_configure_for_model(p, NULL), DCNN_ERR_INVALID_ARGUMENT);
  dcnn_model_destroy(flat);
  dcnn_model_destroy(rgb);
  dcnn_model_destroy(gray);
  dcnn_pipeline_destroy(p);
}

/* Counts the bytes a context has outstanding and their peak. */
typedef struct tally {
  int64_t now, peak;
} tally;

#define TALLY_HEADER 64 /* the library asks for 64-byte alignment at most */

static void *tally_alloc(size_t size, size_t alignment, void *user) {
  assert_true(alignment <= TALLY_HEADER);
  tally *t = user;
  const size_t rounded = (TALLY_HEADER + size + TALLY_HEADER - 1) / TALLY_HEADER * TALLY_HEADER;
  unsigned char *base = aligned_alloc(TALLY_HEADER, rounded);
  if (!base) return NULL;
  memcpy(base, &size, sizeof size);
  t->now += (int64_t)size;
  if (t->now > t->peak) t->peak = t->now;
  return base + TALLY_HEADER;
}

static void tally_release(void *ptr, void *user) {
  if (!ptr) return;
  unsigned char *base = (unsigned char *)ptr - TALLY_HEADER;
  size_t size;
  memcpy(&size, base, sizeof size);
  ((tally *)user)->now -= (int64_t)size;
  free(base);
}

/* predict.h allows 2^26 pixels; an RGB copy of an image over 2^26 / 3 pixels
 * is more bytes than a dataset holds, which must not matter here. A constant
 * colour resizes to itself, so the large image predicts as a small one; the
 * call holds about one copy of the image, not one per thread. */
static void images_up_to_the_pixel_limit(void **state) {
  (void)state;
  tally bytes = {0, 0};
  dcnn_context *ctx = test_context(2);
  dcnn_allocator hooks = {sizeof hooks, tally_alloc, tally_release, &bytes};
  assert_ok(dcnn_context_set_allocator(ctx, &hooks));
  dcnn_model *m = NULL;
  assert_ok(dcnn_zoo_paper_cnn(ctx, test_zoo(28, 28, 3, CLASSES, 5), &m));
  const int32_t side = 5000; /* 2.5e7 pixels: 7.5e7 bytes as RGB, over 2^26 */
  const uint8_t colour[3] = {40, 200, 90};
  uint8_t *large = malloc((size_t)side * side * 3), small[28 * 28 * 3];
  assert_non_null(large);
  for (int64_t i = 0; i < (int64_t)side * side; ++i) memcpy(large + 3 * i, colour, 3);
  for (int i = 0; i < 28 * 28; ++i) memcpy(small + 3 * i, colour, 3);
  float want[CLASSES], got[CLASSES];
  assert_ok(dcnn_model_predict_image(m, small, 28, 28, 3, 0, want, CLASSES));
  bytes.peak = bytes.now;
  const int64_t before = bytes.now;
  assert_ok(dcnn_model_predict_image(m, large, side, side, 3, 0, got, CLASSES));
  const int64_t pixels = (int64_t)side * side;
  if (bytes.peak - before > 3 * pixels + (INT64_C(16) << 20))
    fail_msg("predicting a %dx%d RGB image held %lld bytes at once", (int)side, (int)side,
             (long long)(bytes.peak - before));
  for (int k = 0; k < CLASSES; ++k) assert_true(fabsf(got[k] - want[k]) < 1e-4f);
  /* A gray image of that size for the RGB model is copied to three channels. */
  memset(large, colour[1], (size_t)pixels);
  memset(small, colour[1], sizeof small);
  assert_ok(dcnn_model_predict_image(m, small, 28, 28, 1, 0, want, CLASSES));
  assert_ok(dcnn_model_predict_image(m, large, side, side, 1, 0, got, CLASSES));
  for (int k = 0; k < CLASSES; ++k) assert_true(fabsf(got[k] - want[k]) < 1e-4f);
  /* Past 2^26 pixels the call refuses in its own words, before allocating. */
  assert_status(dcnn_model_predict_image(m, large, 8193, 8192, 1, 0, got, CLASSES), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("dcnn_model_predict_image: a 8192x8193 image");
  free(large);
  dcnn_model_destroy(m);
  dcnn_context_destroy(ctx);
}

static void top_k_orders_ties_and_nan(void **state) {
  (void)state;
  const float v[7] = {0.1f, 0.4f, NAN, 0.4f, 0.05f, 0.3f, 0.4f};
  int32_t idx[7];
  float top[7];
  assert_ok(dcnn_top_k(v, 7, 3, idx, top));
  assert_int_equal(idx[0], 1);
  assert_int_equal(idx[1], 3);
  assert_int_equal(idx[2], 6);
  assert_true(top[0] == 0.4f && top[2] == 0.4f);
  assert_ok(dcnn_top_k(v, 7, 7, idx, NULL));
  const int32_t all[7] = {1, 3, 6, 5, 0, 4, 2};
  assert_memory_equal(idx, all, sizeof all);
  assert_ok(dcnn_top_k(v, 7, 1, idx, top));
  assert_int_equal(idx[0], 1);
  assert_status(dcnn_top_k(v, 7, 8, idx, top), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_top_k(v, 7, 0, idx, top), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_top_k(NULL, 7, 1, idx, top), DCNN_ERR_INVALID_ARGUMENT);
}

/* The conv workspace covers every batch up to the planned one: LeNet-5's
 * 32x32 layers group images so that 226 needed more scratch than 256 (4
 * groups of 57 against 5 of 52), and sizing at powers of two only missed it
 * (digitcnn-table1's test pass after its validation batches). */
static void every_smaller_batch_fits(void **state) {
  (void)state;
  dcnn_context *ctx = test_context(1);
  dcnn_model *m = NULL;
  dcnn_optimizer *adam = NULL;
  assert_ok(dcnn_zoo_lenet5(ctx, test_zoo(32, 32, 1, 10, 1), &m));
  assert_ok(dcnn_optimizer_create_adam(ctx, 1e-3f, 0.9f, 0.999f, 1e-7f, 0.0f, &adam));
  const int32_t batches[] = {32, 256, 226, 255, 1};
  int32_t labels[32] = {0};
  for (size_t i = 0; i < sizeof batches / sizeof batches[0]; ++i) {
    dcnn_shape xs = dcnn_shape_make(4, batches[i], 1, 32, 32), ys = dcnn_shape_make(2, batches[i], 10, 0, 0);
    dcnn_tensor *x = NULL, *y = NULL;
    assert_ok(dcnn_tensor_create(ctx, &xs, &x));
    assert_ok(dcnn_tensor_create(ctx, &ys, &y));
    float loss = 0;
    if (i == 0) assert_ok(dcnn_model_train_step(m, adam, x, labels, &loss, NULL));
    else assert_ok(dcnn_model_predict(m, x, y));
    dcnn_tensor_destroy(x);
    dcnn_tensor_destroy(y);
  }
  dcnn_optimizer_destroy(adam);
  dcnn_model_destroy(m);
  dcnn_context_destroy(ctx);
}

/* Past the batches sized one by one (4096), the conv workspace is sized at
 * the batches where its grouping peaks: a 3x3 conv on 4x4 planes groups 3640
 * images, so with 2 threads the need grows up to 7280 images (2 lanes of
 * 3640) and no further. A session for 70,000 images must hold every batch
 * up to it: an undersized workspace is an error of the predict (the planning
 * once visited all 70,000 batches instead). */
static void large_batches_fit_the_planned_workspace(void **state) {
  (void)state;
  dcnn_context *ctx = test_context(2);
  const dcnn_shape in = dcnn_shape_make(3, 1, 4, 4, 0);
  dcnn_model *m = NULL;
  dcnn_layer *conv = NULL;
  assert_ok(dcnn_model_create(ctx, &in, &m));
  assert_ok(dcnn_conv2d_create(2, 3, 1, DCNN_PADDING_SAME, DCNN_WITH_BIAS, &conv));
  assert_ok(dcnn_conv2d_set_algorithm(conv, DCNN_CONV_IM2COL_GEMM));
  assert_ok(dcnn_model_add(m, conv));
  test_add_classifier(m, 2);
  assert_ok(dcnn_model_init(m, 3));
  dcnn_session *s = NULL;
  assert_ok(dcnn_session_create(m, 70000, 0, &s));
  const int32_t batches[] = {7280, 7279, 5000, 3641, 3640, 14560, 70000, 4097};
  for (size_t i = 0; i < sizeof batches / sizeof batches[0]; ++i) {
    dcnn_shape xs = dcnn_shape_make(4, batches[i], 1, 4, 4), ys = dcnn_shape_make(2, batches[i], 2, 0, 0);
    dcnn_tensor *x = NULL, *y = NULL;
    assert_ok(dcnn_tensor_create(ctx, &xs, &x));
    assert_ok(dcnn_tensor_create(ctx, &ys, &y));
    assert_ok(dcnn_session_predict(s, x, y));
    dcnn_tensor_destroy(x);
    dcnn_tensor_destroy(y);
  }
  dcnn_session_destroy(s);
  dcnn_model_destroy(m);
  dcnn_context_destroy(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(gray_model_matches_long_path),
      cmocka_unit_test(rgb_model_matches_long_path),
      cmocka_unit_test(row_stride_and_odd_size),
      cmocka_unit_test(gray_image_to_rgb_model),
      cmocka_unit_test(gray_dataset_to_rgb_model),
      cmocka_unit_test(scores_become_probabilities),
      cmocka_unit_test(refuses_bad_arguments),
      cmocka_unit_test(pipeline_configured_for_the_model),
      cmocka_unit_test(overflowing_outputs_are_refused),
      cmocka_unit_test(nan_inside_the_network_is_refused),
      cmocka_unit_test(images_up_to_the_pixel_limit),
      cmocka_unit_test(top_k_orders_ties_and_nan),
      cmocka_unit_test(every_smaller_batch_fits),
      cmocka_unit_test(large_batches_fit_the_planned_workspace),
  };
  return cmocka_run_group_tests(tests, load_images, free_images);
}
