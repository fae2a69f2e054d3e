/* The argument conventions of docs/api-conventions.md ("Arguments"): enums
 * instead of int flags (unknown values refused, not read as "non-zero"), the
 * zoo's options struct with struct_size, and uint64_t trainer seeds kept
 * whole through training and checkpoints. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "digitcnn/onnx.h"
#include "test_support.h"

static void unknown_enum_values_are_refused(void **state) {
  (void)state;
  dcnn_layer *l = NULL;
  /* Before: any non-zero int meant "with bias". */
  assert_status(dcnn_dense_create(4, (dcnn_bias_mode)7, &l), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("bias");
  assert_status(dcnn_conv2d_create(4, 3, 1, DCNN_PADDING_SAME, (dcnn_bias_mode)2, &l), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_depthwise_conv2d_create(3, 1, DCNN_PADDING_SAME, (dcnn_bias_mode)-1, &l),
                DCNN_ERR_INVALID_ARGUMENT);
  dcnn_layer *body[1] = {NULL};
  assert_ok(dcnn_relu_create(&body[0]));
  assert_status(dcnn_residual_create(body, 1, NULL, 0, (dcnn_residual_activation)5, &l), DCNN_ERR_INVALID_ARGUMENT);
  assert_null(l);
  /* One layer given twice (body and shortcut, or twice in the body) would be
   * destroyed twice: refused, and destroyed once (ASan sees a double free). */
  dcnn_layer *twice[2] = {NULL, NULL};
  assert_ok(dcnn_relu_create(&twice[0]));
  twice[1] = twice[0];
  assert_status(dcnn_residual_create(twice, 2, NULL, 0, DCNN_RESIDUAL_RELU, &l), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("given twice");
  assert_null(l);
  dcnn_layer *one = NULL;
  assert_ok(dcnn_relu_create(&one));
  assert_status(dcnn_residual_create(&one, 1, &one, 1, DCNN_RESIDUAL_RELU, &l), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("shortcut layer 0 was given twice");
  /* A layer a nested block given beside it already holds: given twice too
   * (both blocks would destroy it), refused, and destroyed once with the block. */
  dcnn_layer *inner_body = NULL, *inner = NULL, *outer_body[2] = {NULL, NULL};
  assert_ok(dcnn_relu_create(&inner_body));
  assert_ok(dcnn_residual_create(&inner_body, 1, NULL, 0, DCNN_RESIDUAL_LINEAR, &inner));
  dcnn_layer *deeper = NULL;
  assert_ok(dcnn_residual_create(&inner, 1, NULL, 0, DCNN_RESIDUAL_LINEAR, &deeper)); /* two levels down */
  outer_body[0] = deeper;
  outer_body[1] = inner_body;
  assert_status(dcnn_residual_create(outer_body, 2, NULL, 0, DCNN_RESIDUAL_RELU, &l), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("body layer 1 was given twice: the residual block given as body layer 0 already holds it");
  assert_null(l);
  /* A layer built already (for a gradient check, say) is refused by name, not by a failing build later. */
  dcnn_layer *built = NULL;
  assert_ok(dcnn_relu_create(&built));
  const dcnn_shape in = dcnn_shape_make(2, 1, 4, 0, 0);
  assert_ok(dcnn_layer_build(built, NULL, &in));
  assert_status(dcnn_residual_create(&built, 1, NULL, 0, DCNN_RESIDUAL_RELU, &l), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("already built");
  dcnn_optimizer *o = NULL;
  assert_status(dcnn_optimizer_create_sgd(NULL, 0.1f, 0.9f, (dcnn_momentum_kind)3, 0.0f, &o),
                DCNN_ERR_INVALID_ARGUMENT);
  dcnn_schedule *s = NULL;
  assert_status(dcnn_schedule_create_plateau(0.1f, 0.5f, 1, 0.0f, (dcnn_metric_goal)2, &s), DCNN_ERR_INVALID_ARGUMENT);
  dcnn_dataset *ds = NULL;
  assert_status(dcnn_dataset_load_mnist_m(NULL, "/nonexistent", (dcnn_mnist_m_split)2, &ds), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("split");
  uint8_t pixels[4 * 2 * 2] = {0};
  const int32_t labels[4] = {0, 1, 0, 1};
  assert_ok(dcnn_dataset_create(NULL, 4, 2, 2, 1, pixels, labels, 2, &ds));
  dcnn_dataset *a = NULL, *b = NULL;
  assert_status(dcnn_dataset_split(ds, 0.5, 1, (dcnn_split_strategy)9, &a, &b), DCNN_ERR_INVALID_ARGUMENT);
  dcnn_pipeline *p = NULL;
  assert_ok(dcnn_pipeline_create(NULL, &p));
  dcnn_shape xs = dcnn_shape_make(4, 1, 1, 2, 2);
  dcnn_tensor *x = NULL;
  assert_ok(dcnn_tensor_create(NULL, &xs, &x));
  const int32_t index = 0;
  assert_status(dcnn_pipeline_batch(p, ds, &index, 1, (dcnn_augmentation)3, 0, 0, x, NULL), DCNN_ERR_INVALID_ARGUMENT);
  assert_ok(dcnn_pipeline_batch(p, ds, &index, 1, DCNN_AUGMENT_OFF, 0, 0, x, NULL));
  dcnn_tensor_destroy(x);
  dcnn_pipeline_destroy(p);
  dcnn_dataset_destroy(ds);
}

static void zoo_options_by_name(void **state) {
  (void)state;
  dcnn_model *m = NULL;
  assert_ok(dcnn_zoo_paper_cnn(NULL, NULL, &m)); /* NULL: the paper's 28 x 28 x 1, 10 classes */
  dcnn_shape in = dcnn_model_input_shape(m), out = dcnn_model_output_shape(m);
  assert_int_equal(in.dims[0], 1);
  assert_int_equal(in.dims[1], 28);
  assert_int_equal(out.dims[0], 10);
  dcnn_model_destroy(m);

  dcnn_zoo_options o = DCNN_ZOO_OPTIONS_INIT, f = DCNN_STRUCT_INIT(dcnn_zoo_options);
  assert_ok(dcnn_zoo_options_init(&f));
  assert_true(o.struct_size == sizeof o && f.struct_size == sizeof f && o.height == f.height && o.width == f.width &&
              o.channels == f.channels && o.classes == f.classes && o.seed == f.seed &&
              o.conv_dropout == f.conv_dropout && o.dense_dropout == f.dense_dropout &&
              o.bn_momentum == f.bn_momentum && o.dense_units == f.dense_units && o.batch_norm == f.batch_norm);
  o.height = 32; /* height and width differ: the order cannot be confused */
  o.width = 36;
  o.channels = 3;
  o.classes = 7;
  assert_ok(dcnn_zoo_lenet5(NULL, &o, &m));
  in = dcnn_model_input_shape(m);
  assert_int_equal(in.dims[0], 3);
  assert_int_equal(in.dims[1], 32);
  assert_int_equal(in.dims[2], 36);
  assert_int_equal(dcnn_model_output_shape(m).dims[0], 7);
  dcnn_model_destroy(m);

  /* A caller that zeroed the struct instead of initialising it. */
  dcnn_zoo_options zeroed;
  memset(&zeroed, 0, sizeof zeroed);
  assert_status(dcnn_zoo_paper_cnn(NULL, &zeroed, &m), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("DCNN_ZOO_OPTIONS_INIT");
  assert_null(m);
  /* No layout is older than 0.2's: a shorter struct_size is refused, not guessed at. */
  dcnn_zoo_options shorter = DCNN_ZOO_OPTIONS_INIT;
  shorter.struct_size = offsetof(dcnn_zoo_options, conv_dropout);
  assert_status(dcnn_zoo_paper_cnn(NULL, &shorter, &m), DCNN_ERR_INVALID_ARGUMENT);
  assert_null(m);
  /* A newer header's struct with a field this library does not know: refused while
   * the field is set (never ignored), accepted once it is zero. */
  struct {
    dcnn_zoo_options known;
    int32_t added;
  } newer;
  memset(&newer, 0xAB, sizeof newer);
  newer.known.struct_size = sizeof newer;
  assert_ok(dcnn_zoo_options_init(&newer.known)); /* the bytes it does not know are zeroed */
  assert_int_equal(newer.added, 0);
  assert_int_equal(newer.known.struct_size, sizeof newer);
  newer.added = 7;
  assert_status(dcnn_zoo_paper_cnn(NULL, &newer.known, &m), DCNN_ERR_UNSUPPORTED);
  assert_null(m);
  newer.added = 0;
  assert_ok(dcnn_zoo_paper_cnn(NULL, &newer.known, &m));
  dcnn_model_destroy(m);
}

/* The initialisers write only the bytes of the caller's struct_size (a
 * program built against an older header has a shorter struct), zero the bytes
 * past the library's own layout (a newer header's fields, which the library
 * takes only as zero), and refuse a size that was not set. */
static void initialisers_write_the_callers_struct_size(void **state) {
  (void)state;
  union {
    dcnn_zoo_options o;
    unsigned char bytes[sizeof(dcnn_zoo_options) + 16];
  } zoo;
  const dcnn_zoo_options defaults = DCNN_ZOO_OPTIONS_INIT;
  const size_t first = offsetof(dcnn_zoo_options, batch_norm) + sizeof defaults.batch_norm; /* 0.2's fields */
  memset(&zoo, 0xAB, sizeof zoo);
  zoo.o.struct_size = first;
  assert_ok(dcnn_zoo_options_init(&zoo.o));
  assert_int_equal(zoo.o.struct_size, first);
  assert_true(zoo.o.height == 28 && zoo.o.channels == 1 && zoo.o.classes == 10 && zoo.o.seed == 1 &&
              zoo.o.dense_units == 512 && zoo.o.batch_norm == 0 && zoo.o.bn_momentum == defaults.bn_momentum);
  for (size_t i = first; i < sizeof zoo; ++i) assert_int_equal(zoo.bytes[i], 0xAB);
  memset(&zoo, 0xAB, sizeof zoo);
  zoo.o.struct_size = sizeof zoo;
  assert_ok(dcnn_zoo_options_init(&zoo.o));
  assert_true(zoo.o.width_multiplier == 1.0f && zoo.o.extra_blocks == 0 && zoo.o.extra_stages == 0);
  for (size_t i = sizeof zoo.o; i < sizeof zoo; ++i) assert_int_equal(zoo.bytes[i], 0);
  dcnn_model *m = NULL;
  assert_ok(dcnn_zoo_lenet5(NULL, &zoo.o, &m)); /* the zeroed tail is accepted */
  dcnn_model_destroy(m);
  memset(&zoo, 0xAB, sizeof zoo);
  zoo.o.struct_size = 0; /* not set */
  assert_status(dcnn_zoo_options_init(&zoo.o), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("struct_size");
  for (size_t i = sizeof zoo.o.struct_size; i < sizeof zoo; ++i) assert_int_equal(zoo.bytes[i], 0xAB);
  assert_status(dcnn_zoo_options_init(NULL), DCNN_ERR_INVALID_ARGUMENT);
  zoo.o.struct_size = (size_t)1 << 40; /* an unset size (stack garbage) is refused, never written up to */
  assert_status(dcnn_zoo_options_init(&zoo.o), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("looks unset");
  for (size_t i = sizeof zoo.o.struct_size; i < sizeof zoo; ++i) assert_int_equal(zoo.bytes[i], 0xAB);

  union {
    dcnn_onnx_export_options o;
    unsigned char bytes[sizeof(dcnn_onnx_export_options) + 16];
  } onnx;
  const size_t through_opset = offsetof(dcnn_onnx_export_options, opset) + sizeof onnx.o.opset;
  memset(&onnx, 0xAB, sizeof onnx);
  onnx.o.struct_size = sizeof onnx.o;
  assert_ok(dcnn_onnx_export_options_init(&onnx.o));
  const dcnn_onnx_export_options macro = DCNN_ONNX_EXPORT_OPTIONS_INIT;
  assert_int_equal(onnx.o.opset, macro.opset);
  assert_int_equal(macro.opset, DCNN_ONNX_DEFAULT_OPSET);
  assert_string_equal(onnx.o.input_name, macro.input_name);
  assert_string_equal(onnx.o.output_name, "output");
  for (size_t i = sizeof onnx.o; i < sizeof onnx; ++i) assert_int_equal(onnx.bytes[i], 0xAB);
  onnx.o.struct_size = through_opset; /* below the first layout (which has both names) */
  assert_status(dcnn_onnx_export_options_init(&onnx.o), DCNN_ERR_INVALID_ARGUMENT);
  memset(&onnx, 0xAB, sizeof onnx);
  onnx.o.struct_size = sizeof onnx;
  assert_ok(dcnn_onnx_export_options_init(&onnx.o));
  for (size_t i = sizeof onnx.o; i < sizeof onnx; ++i) assert_int_equal(onnx.bytes[i], 0);
  assert_status(dcnn_onnx_export_options_init(NULL), DCNN_ERR_INVALID_ARGUMENT);
}

/* Outputs (8 x 2) after one epoch of shuffled training with `seed` (8 images, batch 2, no augmentation). */
static void train_with_seed(uint64_t seed, float *outputs, int64_t count, const char *checkpoint) {
  uint8_t pixels[8 * 8 * 8];
  int32_t labels[8];
  for (int i = 0; i < 8 * 8 * 8; ++i) pixels[i] = (uint8_t)(i * 29 + 3);
  for (int i = 0; i < 8; ++i) labels[i] = i % 2;
  dcnn_dataset *ds = NULL;
  assert_ok(dcnn_dataset_create(NULL, 8, 8, 8, 1, pixels, labels, 2, &ds));
  dcnn_pipeline *p = NULL;
  assert_ok(dcnn_pipeline_create(NULL, &p));
  dcnn_shape in = dcnn_shape_make(3, 1, 8, 8, 0);
  dcnn_model *m = NULL;
  assert_ok(dcnn_model_create(NULL, &in, &m));
  test_add_classifier(m, 2);
  assert_ok(dcnn_model_init(m, 1));
  dcnn_optimizer *o = NULL;
  assert_ok(dcnn_optimizer_create_sgd(NULL, 0.5f, 0.0f, DCNN_MOMENTUM_CLASSIC, 0.0f, &o));
  dcnn_trainer *t = NULL;
  assert_ok(dcnn_trainer_create(NULL, m, o, &t));
  /* made with NULL, both getters give the library's default context */
  assert_non_null(dcnn_trainer_context(t));
  assert_ptr_equal(dcnn_trainer_context(t), dcnn_model_context(m));
  assert_status(dcnn_trainer_set(t, (dcnn_trainer_option)2, 5), DCNN_ERR_INVALID_ARGUMENT); /* the old seed option */
  assert_error_mentions("dcnn_trainer_set_seed");
  double value = 0;
  assert_ok(dcnn_trainer_get(t, DCNN_TRAIN_BATCH_SIZE, &value));
  assert_true(value == 32); /* the default */
  assert_ok(dcnn_trainer_get(t, DCNN_TRAIN_KEEP_BEST, &value));
  assert_true(value == 1);
  assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_EPOCHS, 1));
  assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_BATCH_SIZE, 2));
  assert_ok(dcnn_trainer_get(t, DCNN_TRAIN_BATCH_SIZE, &value));
  assert_true(value == 2);
  assert_ok(dcnn_trainer_get(t, DCNN_TRAIN_EMA_DECAY, &value));
  assert_true(value == 0);
  assert_status(dcnn_trainer_get(t, (dcnn_trainer_option)2, &value), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("dcnn_trainer_seed");
  assert_true(isnan(value));
  assert_status(dcnn_trainer_get(t, (dcnn_trainer_option)7, &value), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_trainer_get(t, (dcnn_trainer_option)14, &value), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_trainer_get(t, (dcnn_trainer_option)-1, &value), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_trainer_get(t, DCNN_TRAIN_EPOCHS, NULL), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_trainer_get(NULL, DCNN_TRAIN_EPOCHS, &value), DCNN_ERR_INVALID_ARGUMENT);
  assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_AUGMENT, 0));
  assert_ok(dcnn_trainer_set_seed(t, seed));
  assert_true(dcnn_trainer_seed(t) == seed);
  assert_ok(dcnn_trainer_fit(t, ds, NULL, p));
  /* The weights, seen through the outputs on the training images. */
  dcnn_shape xs = dcnn_shape_make(4, 8, 1, 8, 8), ys = dcnn_shape_make(2, 8, 2, 0, 0);
  dcnn_tensor *x = NULL, *y = NULL;
  assert_ok(dcnn_tensor_create(NULL, &xs, &x));
  assert_ok(dcnn_tensor_create(NULL, &ys, &y));
  for (int i = 0; i < 8 * 8 * 8; ++i) dcnn_tensor_data(x)[i] = pixels[i] / 255.0f;
  assert_ok(dcnn_model_predict(m, x, y));
  assert_true(count == 16);
  memcpy(outputs, dcnn_tensor_data(y), 16 * sizeof(float));
  dcnn_tensor_destroy(x);
  dcnn_tensor_destroy(y);
  if (checkpoint) {
    assert_ok(dcnn_trainer_save_checkpoint(t, checkpoint));
    dcnn_trainer *resumed = NULL;
    assert_ok(dcnn_trainer_create(NULL, m, o, &resumed));
    assert_true(dcnn_trainer_seed(resumed) == 1);
    assert_ok(dcnn_trainer_resume(resumed, checkpoint));
    assert_true(dcnn_trainer_seed(resumed) == seed); /* all 64 bits */
    dcnn_trainer_destroy(resumed);
  }
  dcnn_trainer_destroy(t);
  dcnn_optimizer_destroy(o);
  dcnn_model_destroy(m);
  dcnn_pipeline_destroy(p);
  dcnn_dataset_destroy(ds);
}

static void seeds_keep_all_64_bits(void **state) {
  (void)state;
  /* 2^60 + 1 and 2^60 + 2 are one double (2^60): through the old double
   * option they could not even be set (capped at 1e15), and rounded they
   * would shuffle alike. */
  const uint64_t a = (UINT64_C(1) << 60) + 1, b = (UINT64_C(1) << 60) + 2;
  float wa[16], wb[16], wa2[16];
  char path[512];
  snprintf(path, sizeof path, "%s/dcnn-seed-%d.dcnn", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
  train_with_seed(a, wa, 16, path);
  unlink(path);
  train_with_seed(b, wb, 16, NULL);
  train_with_seed(a, wa2, 16, NULL);
  assert_memory_equal(wa, wa2, sizeof wa);      /* reproducible */
  assert_memory_not_equal(wa, wb, sizeof wa);   /* the low bits count */
}

/* A layer has one owner (a model or a residual block), which destroys it: a
 * second owner would destroy it again (ASan sees the double free), so it is
 * refused and left where it is, and dcnn_layer_destroy leaves it alone. */
static void a_layer_has_one_owner(void **state) {
  (void)state;
  const dcnn_shape in = dcnn_shape_make(1, 4, 0, 0, 0);
  dcnn_model *m = NULL, *other = NULL;
  assert_ok(dcnn_model_create(NULL, &in, &m));
  assert_ok(dcnn_model_create(NULL, &in, &other));
  dcnn_layer *relu = NULL;
  assert_ok(dcnn_relu_create(&relu));
  assert_ok(dcnn_model_add(m, relu));
  assert_status(dcnn_model_add(m, relu), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("dcnn_model_add: the layer (relu) already belongs to a model or a residual block");
  assert_status(dcnn_model_add(other, relu), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_model_add(NULL, relu), DCNN_ERR_INVALID_ARGUMENT); /* not destroyed either */
  assert_int_equal(dcnn_model_layer_count(m), 1);
  assert_int_equal(dcnn_model_layer_count(other), 0);
  dcnn_layer_destroy(relu); /* the model's: left alone */
  dcnn_layer *block = NULL;
  assert_status(dcnn_residual_create(&relu, 1, NULL, 0, DCNN_RESIDUAL_RELU, &block), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("body layer 0 (relu) already belongs to a model or another residual block");
  assert_null(block);
  /* A block's layer: refused by a model and by a second block, and the block still works. */
  dcnn_layer *inner = NULL, *dense = NULL, *second = NULL;
  assert_ok(dcnn_relu_create(&inner));
  assert_ok(dcnn_residual_create(&inner, 1, NULL, 0, DCNN_RESIDUAL_LINEAR, &block));
  assert_status(dcnn_model_add(other, inner), DCNN_ERR_INVALID_ARGUMENT);
  assert_ok(dcnn_dense_create(4, DCNN_WITH_BIAS, &dense));
  dcnn_layer *pair[2] = {dense, inner};
  assert_status(dcnn_residual_create(pair, 2, NULL, 0, DCNN_RESIDUAL_RELU, &second), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("body layer 1 (relu) already belongs");
  assert_null(second); /* the dense layer was destroyed with the refusal (ASan: no leak), the relu was not */
  assert_ok(dcnn_model_add(other, block));
  assert_status(dcnn_model_add(m, block), DCNN_ERR_INVALID_ARGUMENT);
  dcnn_shape xs = dcnn_shape_make(2, 2, 4, 0, 0);
  dcnn_tensor *x = NULL, *y = NULL;
  assert_ok(dcnn_tensor_create(NULL, &xs, &x));
  assert_ok(dcnn_tensor_create(NULL, &xs, &y));
  float *px = dcnn_tensor_data(x);
  for (int i = 0; i < 8; ++i) px[i] = (float)i - 4.0f;
  assert_ok(dcnn_model_predict(other, x, y));
  const float *py = dcnn_tensor_data(y);
  for (int i = 0; i < 8; ++i) assert_float_equal(py[i], fmaxf(px[i], 0.0f) + px[i], 0.0f); /* relu(x) + x, linear */
  dcnn_tensor_destroy(x);
  dcnn_tensor_destroy(y);
  dcnn_model_destroy(m);
  dcnn_model_destroy(other);
}

/* A NULL argument's message names the function the caller called, and the
 * argument as its header does, not a private helper behind it. */
static void null_arguments_name_the_public_function(void **state) {
  (void)state;
  const dcnn_shape s = dcnn_shape_make(2, 1, 2, 0, 0);
  assert_status(dcnn_tensor_create(NULL, &s, NULL), DCNN_ERR_INVALID_ARGUMENT);
  assert_string_equal(dcnn_last_error(), "dcnn_tensor_create: argument 'out' is NULL");
  dcnn_session *session = NULL;
  assert_status(dcnn_session_create(NULL, 1, 1, &session), DCNN_ERR_INVALID_ARGUMENT);
  assert_string_equal(dcnn_last_error(), "dcnn_session_create: argument 'model' is NULL");
  float loss = 0;
  assert_status(dcnn_model_train_step(NULL, NULL, NULL, NULL, &loss, NULL), DCNN_ERR_INVALID_ARGUMENT);
  assert_string_equal(dcnn_last_error(), "dcnn_model_train_step: argument 'model' is NULL");
  assert_status(dcnn_model_save(NULL, "x.dcnn"), DCNN_ERR_INVALID_ARGUMENT);
  assert_string_equal(dcnn_last_error(), "dcnn_model_save: argument 'model' is NULL");
  assert_status(dcnn_metrics_write(NULL, DCNN_FORMAT_JSON, NULL, "x.txt"), DCNN_ERR_INVALID_ARGUMENT);
  assert_string_equal(dcnn_last_error(), "dcnn_metrics_write: argument 'm' is NULL");
  const int32_t label = 0;
  assert_status(dcnn_softmax_cross_entropy(NULL, &label, NULL, NULL, &loss), DCNN_ERR_INVALID_ARGUMENT);
  assert_string_equal(dcnn_last_error(), "dcnn_softmax_cross_entropy: argument 'logits' is NULL");
  assert_status(dcnn_optimizer_step(NULL, NULL), DCNN_ERR_INVALID_ARGUMENT);
  assert_string_equal(dcnn_last_error(), "dcnn_optimizer_step: argument 'optimizer' is NULL");
  dcnn_profile_entry entry = DCNN_STRUCT_INIT(dcnn_profile_entry);
  assert_status(dcnn_profile_entry_get(NULL, 0, &entry), DCNN_ERR_INVALID_ARGUMENT);
  assert_string_equal(dcnn_last_error(), "dcnn_profile_entry_get: argument 'profile' is NULL");
  assert_status(dcnn_schedule_observe(NULL, 0.5f), DCNN_ERR_INVALID_ARGUMENT);
  assert_string_equal(dcnn_last_error(), "dcnn_schedule_observe: argument 'schedule' is NULL");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(unknown_enum_values_are_refused),
      cmocka_unit_test(a_layer_has_one_owner),
      cmocka_unit_test(null_arguments_name_the_public_function),
      cmocka_unit_test(zoo_options_by_name),
      cmocka_unit_test(initialisers_write_the_callers_struct_size),
      cmocka_unit_test(seeds_keep_all_64_bits),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
