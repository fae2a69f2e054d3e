/* The model zoo: standard configurations have their published parameter
 * counts, and the MNIST-M configurations build and run a training step. */
#include <stdio.h>
#include <string.h>

#include "layers/layer_internal.h"
#include "test_support.h"

static void standard_parameter_counts(void **state) {
  (void)state;
  dcnn_model *m = NULL;
  assert_ok(dcnn_zoo_lenet5(NULL, test_zoo(32, 32, 1, 10, 1), &m));
  assert_int_equal(dcnn_model_param_count(m, DCNN_PARAM_TRAINABLE), 61706);
  dcnn_model_destroy(m);
  assert_ok(dcnn_zoo_resnet50(NULL, test_zoo(224, 224, 3, 1000, 1), &m));
  assert_int_equal(dcnn_model_param_count(m, DCNN_PARAM_TRAINABLE), 25557032); /* torchvision resnet50 */
  char *text = NULL;
  assert_ok(dcnn_model_summary(m, &text));
  assert_non_null(strstr(text, "Forward multiply-adds per sample: 4105.")); /* the published 4.1 GMACs */
  dcnn_free(text);
  dcnn_model_destroy(m);
  assert_ok(dcnn_zoo_mobilenetv2(NULL, test_zoo(224, 224, 3, 1000, 1), &m));
  assert_int_equal(dcnn_model_param_count(m, DCNN_PARAM_TRAINABLE), 3504872); /* torchvision mobilenet_v2 */
  dcnn_model_destroy(m);
  dcnn_zoo_options vgg = *test_zoo(224, 224, 3, 1000, 1);
  vgg.dense_units = 4096;
  assert_ok(dcnn_zoo_vgg16(NULL, &vgg, &m));
  assert_int_equal(dcnn_model_param_count(m, DCNN_PARAM_TRAINABLE), 138357544); /* torchvision vgg16 */
  dcnn_model_destroy(m);
}

/* Trainable parameters of the paper CNN family on h x w x c, 10 classes: convs without bias,
 * BN gamma and beta, dense without bias + BN, classifier with bias. */
static int64_t paper_family_params(int64_t h, int64_t w, int64_t c, int64_t f1, int64_t f2, int64_t dense, int blocks) {
  int64_t n = 9 * c * f1 + 2 * f1 + (blocks - 1) * (9 * f1 * f1 + 2 * f1);
  n += 9 * f1 * f2 + 2 * f2 + (blocks - 1) * (9 * f2 * f2 + 2 * f2);
  return n + (h / 4) * (w / 4) * f2 * dense + 2 * dense + dense * 10 + 10;
}

static void paper_family_width_and_depth(void **state) {
  (void)state;
  dcnn_model *m = NULL;
  dcnn_zoo_options o = *test_zoo(28, 28, 1, 10, 1);
  assert_ok(dcnn_zoo_paper_cnn(NULL, &o, &m));
  assert_int_equal(dcnn_model_param_count(m, DCNN_PARAM_TRAINABLE), paper_family_params(28, 28, 1, 32, 64, 256, 2));
  assert_int_equal(dcnn_model_layer_count(m), 18);
  dcnn_model_destroy(m);
  o.channels = 3;
  o.height = o.width = 32;
  o.width_multiplier = 1.5f;
  o.extra_blocks = 1;
  assert_ok(dcnn_zoo_paper_cnn(NULL, &o, &m));
  assert_int_equal(dcnn_model_param_count(m, DCNN_PARAM_TRAINABLE), paper_family_params(32, 32, 3, 48, 96, 384, 3));
  assert_int_equal(dcnn_model_layer_count(m), 22);
  dcnn_model_destroy(m);
  o.width_multiplier = 0.1f;
  assert_status(dcnn_zoo_paper_cnn(NULL, &o, &m), DCNN_ERR_INVALID_ARGUMENT);
  o.width_multiplier = 1.0f;
  o.extra_blocks = 7;
  assert_status(dcnn_zoo_paper_cnn(NULL, &o, &m), DCNN_ERR_INVALID_ARGUMENT);
  assert_null(m);
}

/* A third pooled stage (128 filters) after the paper's two: 3 more layers per
 * block (conv, BN-ReLU) plus pooling and dropout, a 4 x 4 map of 128 before
 * the dense layer at 32 x 32, and sizes that do not halve 3 times refused. */
static void paper_family_extra_stages(void **state) {
  (void)state;
  dcnn_model *m = NULL;
  dcnn_zoo_options o = *test_zoo(32, 32, 3, 10, 1);
  o.extra_stages = 1;
  assert_ok(dcnn_zoo_paper_cnn(NULL, &o, &m));
  /* the two-stage count with a dense layer fed by 128 x 4 x 4, plus the third stage's convs and BN */
  const int64_t two_stages = paper_family_params(32, 32, 3, 32, 64, 256, 2) - 8 * 8 * 64 * 256;
  const int64_t third = 9 * 64 * 128 + 2 * 128 + 9 * 128 * 128 + 2 * 128;
  assert_int_equal(dcnn_model_param_count(m, DCNN_PARAM_TRAINABLE), two_stages + third + 4 * 4 * 128 * 256);
  assert_int_equal(dcnn_model_layer_count(m), 18 + 6);
  const dcnn_layer *flatten = dcnn_model_layer(m, 3 * 6); /* after 3 stages of 2 blocks, pooling, dropout */
  assert_string_equal(dcnn_layer_type(flatten), "flatten");
  const dcnn_shape flat = dcnn_layer_output_shape(flatten);
  assert_int_equal(flat.ndim, 2); /* (batch, features) */
  assert_int_equal(flat.dims[1], 128 * 4 * 4);
  dcnn_model_destroy(m);
  m = NULL;
  o.extra_stages = 2; /* 256 filters, 2 x 2 */
  assert_ok(dcnn_zoo_paper_cnn(NULL, &o, &m));
  assert_int_equal(dcnn_model_layer_count(m), 18 + 12);
  const int64_t fourth = 9 * 128 * 256 + 2 * 256 + 9 * 256 * 256 + 2 * 256;
  assert_int_equal(dcnn_model_param_count(m, DCNN_PARAM_TRAINABLE), two_stages + third + fourth + 2 * 2 * 256 * 256);
  dcnn_model_destroy(m);
  m = NULL;
  o.width_multiplier = 0.5f; /* every stage's filters and the dense units halved: 16, 32, 64, 128; 128 */
  assert_ok(dcnn_zoo_paper_cnn(NULL, &o, &m));
  const int64_t half = (9 * 3 * 16 + 2 * 16 + 9 * 16 * 16 + 2 * 16) + (9 * 16 * 32 + 2 * 32 + 9 * 32 * 32 + 2 * 32) +
                       (9 * 32 * 64 + 2 * 64 + 9 * 64 * 64 + 2 * 64) + (9 * 64 * 128 + 2 * 128 + 9 * 128 * 128 + 2 * 128) +
                       2 * 2 * 128 * 128 + 2 * 128 + 128 * 10 + 10;
  assert_int_equal(dcnn_model_param_count(m, DCNN_PARAM_TRAINABLE), half);
  dcnn_model_destroy(m);
  m = NULL;
  o.width_multiplier = 1.0f;
  o.extra_stages = 3; /* 32 halves 5 times: only the range refuses it */
  assert_status(dcnn_zoo_paper_cnn(NULL, &o, &m), DCNN_ERR_INVALID_ARGUMENT);
  o.extra_stages = 2;
  o.height = o.width = 24; /* divisible by 4 and 8, not by 16 */
  assert_status(dcnn_zoo_paper_cnn(NULL, &o, &m), DCNN_ERR_INVALID_ARGUMENT);
  assert_null(m);
  o.extra_stages = 1;
  assert_ok(dcnn_zoo_paper_cnn(NULL, &o, &m));
  dcnn_model_destroy(m);
  m = NULL;
  o.extra_stages = 3;
  assert_status(dcnn_zoo_paper_cnn(NULL, &o, &m), DCNN_ERR_INVALID_ARGUMENT);
  o.extra_stages = -1;
  assert_status(dcnn_zoo_paper_cnn(NULL, &o, &m), DCNN_ERR_INVALID_ARGUMENT);
  assert_null(m);
}

/* dcnn_zoo_options as a program built before extra_stages lays it out. */
typedef struct {
  size_t struct_size;
  int32_t height, width, channels, classes;
  uint64_t seed;
  float conv_dropout, dense_dropout, bn_momentum;
  int32_t dense_units, batch_norm;
  float width_multiplier;
  int32_t extra_blocks;
} zoo_options_before_stages;

/* Such a program passes struct_size = sizeof its struct, tail padding
 * included: neither the padding (now `reserved`) nor what follows it in the
 * caller's memory is read, so the model has the paper's two stages. */
static void zoo_options_before_extra_stages(void **state) {
  (void)state;
  union {
    dcnn_zoo_options now;
    unsigned char bytes[sizeof(dcnn_zoo_options) + 16];
  } buffer;
  memset(&buffer, 0x7f, sizeof buffer); /* read as extra_stages, 0x7f7f7f7f would be refused */
  zoo_options_before_stages old = {sizeof(zoo_options_before_stages), 32, 32, 3, 10, 1, 0.25f, 0.5f, 0.99f, 512, 0,
                                   1.0f, 1};
  memcpy(buffer.bytes, &old, offsetof(zoo_options_before_stages, extra_blocks) + sizeof old.extra_blocks);
  dcnn_model *m = NULL;
  assert_ok(dcnn_zoo_paper_cnn(NULL, &buffer.now, &m));
  assert_int_equal(dcnn_model_layer_count(m), 22); /* 2 stages of 3 blocks */
  dcnn_model_destroy(m);
  buffer.now.struct_size = sizeof(dcnn_zoo_options); /* the same bytes from today's layout: read and refused */
  m = NULL;
  assert_status(dcnn_zoo_paper_cnn(NULL, &buffer.now, &m), DCNN_ERR_INVALID_ARGUMENT);
  assert_null(m);
}

/* 0.2's dcnn_zoo_options, as a program built against 0.2's header lays it out. */
typedef struct {
  size_t struct_size;
  int32_t height, width, channels, classes;
  uint64_t seed;
  float conv_dropout, dense_dropout, bn_momentum;
  int32_t dense_units, batch_norm;
} zoo_options_0_2;

/* A 0.2 program passes struct_size = sizeof its struct, which (with tail
 * padding) reaches into width_multiplier: the padding's bytes, whatever they
 * hold, must not be read as the new fields. */
static void zoo_options_0_2_padding_is_not_read(void **state) {
  (void)state;
  const float garbage[] = {0.0f, 3.0f};
  for (size_t g = 0; g < sizeof garbage / sizeof garbage[0]; ++g) {
    /* The 0.2 struct followed by bytes the caller does not own, in one buffer. */
    union {
      dcnn_zoo_options now;
      unsigned char bytes[sizeof(dcnn_zoo_options) + 16];
    } buffer;
    memset(&buffer, 0x7f, sizeof buffer);
    zoo_options_0_2 old = {sizeof(zoo_options_0_2), 28, 28, 1, 10, 1, 0.25f, 0.5f, 0.99f, 512, 0};
    memcpy(buffer.bytes, &old, offsetof(zoo_options_0_2, batch_norm) + sizeof old.batch_norm);
    /* The padding after batch_norm (if the layout has any) holds the garbage. */
    const size_t fields_end = offsetof(zoo_options_0_2, batch_norm) + sizeof old.batch_norm;
    if (sizeof(zoo_options_0_2) >= fields_end + sizeof(float))
      memcpy(buffer.bytes + fields_end, &garbage[g], sizeof(float));
    dcnn_model *m = NULL;
    assert_ok(dcnn_zoo_paper_cnn(NULL, &buffer.now, &m));
    assert_int_equal(dcnn_model_param_count(m, DCNN_PARAM_TRAINABLE), paper_family_params(28, 28, 1, 32, 64, 256, 2));
    assert_int_equal(dcnn_model_layer_count(m), 18);
    dcnn_model_destroy(m);
  }
}

/* The ReLU LeNet-5 is LeNet-5's layers with ReLU for tanh and max for
 * average pooling: the same shapes and parameter count. */
static void lenet5_relu_has_lenet5s_shapes(void **state) {
  (void)state;
  dcnn_model *classic = NULL, *relu = NULL;
  assert_ok(dcnn_zoo_lenet5(NULL, test_zoo(32, 32, 1, 10, 1), &classic));
  assert_ok(dcnn_zoo_lenet5_relu(NULL, test_zoo(32, 32, 1, 10, 1), &relu));
  assert_int_equal(dcnn_model_param_count(relu, DCNN_PARAM_TRAINABLE), 61706);
  assert_int_equal(dcnn_model_layer_count(relu), dcnn_model_layer_count(classic));
  int relus = 0, maxpools = 0;
  for (int32_t i = 0; i < dcnn_model_layer_count(relu); ++i) {
    const char *a = dcnn_layer_type(dcnn_model_layer(classic, i)), *b = dcnn_layer_type(dcnn_model_layer(relu, i));
    if (!strcmp(a, "tanh")) relus += !strcmp(b, "relu");
    else if (!strcmp(a, "avgpool2d")) maxpools += !strcmp(b, "maxpool2d");
    else assert_string_equal(a, b);
  }
  assert_int_equal(relus, 4);
  assert_int_equal(maxpools, 2);
  dcnn_model_destroy(classic);
  dcnn_model_destroy(relu);
  dcnn_model *m = (dcnn_model *)&m;
  assert_status(dcnn_zoo_lenet5_relu(NULL, test_zoo(8, 8, 1, 10, 1), &m), DCNN_ERR_INVALID_ARGUMENT);
  assert_null(m);
  assert_error_mentions("dcnn_zoo_lenet5_relu");
}

/* Each Table 1 model at MNIST-M's size trains a step on a small batch. */
static void mnist_m_configurations_train(void **state) {
  (void)state;
  dcnn_context *ctx = test_context(2);
  for (int which = 0; which < 5; ++which) {
    dcnn_model *m = NULL;
    switch (which) {
      case 0: assert_ok(dcnn_zoo_lenet5(ctx, test_zoo(32, 32, 1, 10, 1), &m)); break;
      case 4: assert_ok(dcnn_zoo_lenet5_relu(ctx, test_zoo(32, 32, 1, 10, 1), &m)); break;
      case 1: assert_ok(dcnn_zoo_resnet50(ctx, test_zoo(32, 32, 1, 10, 1), &m)); break;
      case 2: assert_ok(dcnn_zoo_mobilenetv2(ctx, test_zoo(32, 32, 1, 10, 1), &m)); break;
      default: {
        dcnn_zoo_options vgg = *test_zoo(32, 32, 1, 10, 1);
        vgg.batch_norm = 1;
        assert_ok(dcnn_zoo_vgg16(ctx, &vgg, &m));
        break;
      }
    }
    dcnn_optimizer *adam = NULL;
    /* VGG-16's 15 million weights jump around at 1e-3 with 8 samples (the loss
     * after 8 steps is above or below the first by chance, and differs between
     * compilers in the last bits); at 1e-4 it falls steadily. */
    const float rate = which == 3 ? 1e-4f : 1e-3f;
    assert_ok(dcnn_optimizer_create_adam(ctx, rate, 0.9f, 0.999f, 1e-7f, 0.0f, &adam));
    dcnn_shape s = dcnn_shape_make(4, 8, 1, 32, 32);
    dcnn_tensor *x = NULL;
    assert_ok(dcnn_tensor_create(ctx, &s, &x));
    assert_ok(dcnn_tensor_fill_random(x, DCNN_DIST_UNIFORM, 0.0f, 1.0f, 1, 0));
    const int32_t labels[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    float first = 0, loss = 0;
    for (int step = 0; step < 8; ++step) {
      assert_ok(dcnn_model_train_step(m, adam, x, labels, &loss, NULL));
      if (step == 0) first = loss;
    }
    print_message("model %d: loss %.4f -> %.4f\n", which, first, loss);
    assert_true(loss < first); /* steps on the same batch lower its loss */
    dcnn_tensor_destroy(x);
    dcnn_optimizer_destroy(adam);
    dcnn_model_destroy(m);
  }
  assert_int_equal(dcnn_context_live_allocations(ctx), 0);
  dcnn_context_destroy(ctx);
  dcnn_model *m = NULL;
  assert_status(dcnn_zoo_resnet50(NULL, test_zoo(16, 16, 1, 10, 1), &m), DCNN_ERR_INVALID_ARGUMENT);
  assert_null(m);
}

/* Where output pixel i of a chain of layers looks in the chain's input: centre = scale * i + offset. */
typedef struct sampling {
  int64_t scale, offset;
} sampling;

/* Follows one window layer (kernel/pool k, stride s, padding): centre of window i = s i - before + (k - 1) / 2,
 * before from the padding's definition (total / 2, or rounded up for same_lower), on an input `in` wide. */
static sampling follow(sampling at, const dcnn_layer *l, int32_t in) {
  char text[256];
  assert_ok(dcnn_layer_describe(l, text, sizeof text));
  int k = 0, s = 1;
  char padding[16] = "";
  const char *type = dcnn_layer_type(l);
  if (!strcmp(type, "conv2d"))
    assert_int_equal(sscanf(text, "filters=%*d kernel=%d stride=%d padding=%15s", &k, &s, padding), 3);
  else if (!strcmp(type, "maxpool2d") || !strcmp(type, "avgpool2d"))
    assert_int_equal(sscanf(text, "pool=%d stride=%d padding=%15s", &k, &s, padding), 3);
  else
    return at; /* batch norm, activations: pixel for pixel */
  const int64_t out = strcmp(padding, "valid") ? (in + s - 1) / s : (in - k) / s + 1;
  int64_t total = strcmp(padding, "valid") ? (out - 1) * s + k - in : 0, before = 0;
  if (total < 0) total = 0;
  before = strcmp(padding, "same_lower") ? total / 2 : (total + 1) / 2;
  assert_true(k % 2 == 1); /* an even window has no centre pixel */
  return (sampling){at.scale * s, at.offset + at.scale * ((k - 1) / 2 - before)};
}

/* A residual block adds its body and its shortcut pixel for pixel, so both must read one place of the block's
 * input: in ResNet-50 the strided 3x3 of the body and the 1x1 projection of the shortcut. Checked with each
 * block's input size (32x32, and the 224x224 of the standard model), from the layers' own descriptions. */
static void resnet50_branches_sample_one_grid(void **state) {
  (void)state;
  const int32_t sizes[2] = {32, 224};
  for (int z = 0; z < 2; ++z) {
    dcnn_model *m = NULL;
    assert_ok(dcnn_zoo_resnet50(NULL, test_zoo(sizes[z], sizes[z], 3, 10, 1), &m));
    int blocks = 0, projecting = 0;
    int32_t in = sizes[z]; /* the width entering layer i */
    sampling stem = {1, 0};
    for (int32_t i = 0; i < dcnn_model_layer_count(m); ++i) {
      const dcnn_layer *l = dcnn_model_layer(m, i);
      dcnn_layer *const *parts[2] = {NULL, NULL};
      int32_t counts[2] = {0, 0};
      int relu = 0;
      if (dcnn__residual_parts(l, parts, counts, &relu)) {
        sampling branch[2] = {{1, 0}, {1, 0}};
        for (int p = 0; p < 2; ++p) {
          int32_t width = in;
          for (int32_t j = 0; j < counts[p]; ++j) {
            branch[p] = follow(branch[p], parts[p][j], width);
            const dcnn_shape out = dcnn_layer_output_shape(parts[p][j]);
            if (out.ndim == 4) width = out.dims[3];
          }
        }
        assert_int_equal(branch[0].scale, branch[1].scale);
        if (branch[0].offset != branch[1].offset)
          fail_msg("%dx%d: block %d (layer %d, input %d wide): the body reads pixel %lld i + %lld, the shortcut "
                   "%lld i + %lld", (int)sizes[z], (int)sizes[z], blocks, (int)i, (int)in, (long long)branch[0].scale,
                   (long long)branch[0].offset, (long long)branch[1].scale, (long long)branch[1].offset);
        projecting += counts[1] > 0 && branch[1].scale > 1;
        ++blocks;
      } else if (blocks == 0) {
        stem = follow(stem, l, in);
      }
      const dcnn_shape out = dcnn_layer_output_shape(l);
      if (out.ndim == 4) in = out.dims[3];
    }
    assert_int_equal(blocks, 16);
    assert_int_equal(projecting, 3);
    /* the stem (7x7/2, 3x3/2 pool) reads as torchvision's: output pixel i centred on input pixel 4 i */
    assert_int_equal(stem.scale, 4);
    assert_int_equal(stem.offset, 0);
    dcnn_model_destroy(m);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(standard_parameter_counts),
      cmocka_unit_test(lenet5_relu_has_lenet5s_shapes),
      cmocka_unit_test(paper_family_width_and_depth),
      cmocka_unit_test(paper_family_extra_stages),
      cmocka_unit_test(zoo_options_before_extra_stages),
      cmocka_unit_test(zoo_options_0_2_padding_is_not_read),
      cmocka_unit_test(mnist_m_configurations_train),
      cmocka_unit_test(resnet50_branches_sample_one_grid),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
