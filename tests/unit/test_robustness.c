/* The robustness suite: perturbations (determinism, pixel ranges, what each
 * does), FGSM and PGD (epsilon 0 changes nothing, the epsilon ball is kept,
 * PGD at least as strong as FGSM on a trained model), robust evaluation and
 * adversarial training's settings. The input gradient they rest on is
 * checked against finite differences in test_model. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "test_support.h"

static dcnn_tensor *random_batch(int32_t n, int32_t c, int32_t h, int32_t w, uint64_t seed) {
  dcnn_shape s = dcnn_shape_make(4, n, c, h, w);
  dcnn_tensor *t = NULL;
  assert_ok(dcnn_tensor_create(NULL, &s, &t));
  for (int64_t i = 0; i < dcnn_tensor_count(t); ++i) dcnn_tensor_data(t)[i] = dcnn_random_uniform(seed, 3, (uint64_t)i);
  return t;
}

static dcnn_tensor *copy_of(const dcnn_tensor *t) {
  dcnn_shape s = dcnn_tensor_shape(t);
  dcnn_tensor *c = NULL;
  assert_ok(dcnn_tensor_create(NULL, &s, &c));
  memcpy(dcnn_tensor_data(c), dcnn_tensor_data_const(t), (size_t)dcnn_tensor_count(t) * sizeof(float));
  return c;
}

static int same(const dcnn_tensor *a, const dcnn_tensor *b) {
  return !memcmp(dcnn_tensor_data_const(a), dcnn_tensor_data_const(b), (size_t)dcnn_tensor_count(a) * sizeof(float));
}

static void every_perturbation_is_seeded_and_keeps_pixels_in_range(void **state) {
  (void)state;
  dcnn_tensor *clean = random_batch(8, 3, 24, 20, 11);
  for (int k = 0; k < DCNN_PERTURB_COUNT; ++k) {
    const float *levels = NULL;
    assert_int_equal(dcnn_perturbation_levels((dcnn_perturbation)k, &levels), 5);
    assert_string_not_equal(dcnn_perturbation_name((dcnn_perturbation)k), "unknown");
    for (int l = 0; l < 5; ++l) {
      if (l) assert_true(levels[l] > levels[l - 1]); /* mildest first */
      dcnn_tensor *a = copy_of(clean), *b = copy_of(clean), *other_seed = copy_of(clean);
      assert_ok(dcnn_perturb(a, (dcnn_perturbation)k, levels[l], 42, 0));
      assert_ok(dcnn_perturb(b, (dcnn_perturbation)k, levels[l], 42, 0));
      assert_ok(dcnn_perturb(other_seed, (dcnn_perturbation)k, levels[l], 43, 0));
      assert_true(same(a, b));
      assert_false(same(a, clean));
      const int random = k != DCNN_PERTURB_GAUSSIAN_BLUR && k != DCNN_PERTURB_CONTRAST;
      assert_int_equal(!same(a, other_seed), random);
      for (int64_t i = 0; i < dcnn_tensor_count(a); ++i) {
        const float v = dcnn_tensor_data(a)[i];
        if (!(v >= 0.0f && v <= 1.0f)) fail_msg("%s %g: value %g", dcnn_perturbation_name((dcnn_perturbation)k), (double)levels[l], (double)v);
      }
      /* Batches of any size give the same images: samples 0-4 and 5-7 apart, with their dataset indices. */
      dcnn_tensor *head = random_batch(5, 3, 24, 20, 0), *tail = random_batch(3, 3, 24, 20, 0);
      const int64_t per = 3 * 24 * 20;
      memcpy(dcnn_tensor_data(head), dcnn_tensor_data(clean), (size_t)(5 * per) * sizeof(float));
      memcpy(dcnn_tensor_data(tail), dcnn_tensor_data(clean) + 5 * per, (size_t)(3 * per) * sizeof(float));
      assert_ok(dcnn_perturb(head, (dcnn_perturbation)k, levels[l], 42, 0));
      assert_ok(dcnn_perturb(tail, (dcnn_perturbation)k, levels[l], 42, 5));
      assert_memory_equal(dcnn_tensor_data(head), dcnn_tensor_data(a), (size_t)(5 * per) * sizeof(float));
      assert_memory_equal(dcnn_tensor_data(tail), dcnn_tensor_data(a) + 5 * per, (size_t)(3 * per) * sizeof(float));
      dcnn_tensor_destroy(head);
      dcnn_tensor_destroy(tail);
      dcnn_tensor_destroy(a);
      dcnn_tensor_destroy(b);
      dcnn_tensor_destroy(other_seed);
    }
    dcnn_tensor *zero = copy_of(clean);
    assert_ok(dcnn_perturb(zero, (dcnn_perturbation)k, 0.0f, 42, 0));
    assert_true(same(zero, clean));
    dcnn_tensor_destroy(zero);
  }
  dcnn_tensor_destroy(clean);
}

/* A batch may start at any first_index >= 0, INT64_MAX included: the samples'
 * indices wrap around (defined, in uint64), and the first sample is the one a
 * batch of one at that index gives. */
static void perturbation_indices_go_up_to_int64_max(void **state) {
  (void)state;
  dcnn_tensor *pair = random_batch(2, 1, 24, 20, 5), *lone = random_batch(1, 1, 24, 20, 5);
  for (int k = 0; k < DCNN_PERTURB_COUNT; ++k) {
    const float *levels = NULL;
    assert_int_equal(dcnn_perturbation_levels((dcnn_perturbation)k, &levels), 5);
    dcnn_tensor *a = copy_of(pair), *b = copy_of(lone);
    assert_ok(dcnn_perturb(a, (dcnn_perturbation)k, levels[2], 42, INT64_MAX));
    assert_ok(dcnn_perturb(b, (dcnn_perturbation)k, levels[2], 42, INT64_MAX));
    assert_memory_equal(dcnn_tensor_data(a), dcnn_tensor_data(b), 24 * 20 * sizeof(float));
    dcnn_tensor_destroy(a);
    dcnn_tensor_destroy(b);
  }
  dcnn_tensor_destroy(pair);
  dcnn_tensor_destroy(lone);
}

/* The scratch of the blur, rotation and translation comes from the batch's context, as its pixels do: a
 * caller's allocator and budget saw none of it. */
static void perturbation_scratch_uses_the_batch_context(void **state) {
  (void)state;
  dcnn_context *ctx = NULL;
  assert_ok(dcnn_context_create(&ctx));
  const dcnn_shape shape = dcnn_shape_make(4, 2, 3, 12, 10);
  dcnn_tensor *batch = NULL;
  assert_ok(dcnn_tensor_create(ctx, &shape, &batch));
  const dcnn_perturbation scratched[3] = {DCNN_PERTURB_GAUSSIAN_BLUR, DCNN_PERTURB_ROTATION,
                                          DCNN_PERTURB_TRANSLATION};
  for (int k = 0; k < 3; ++k) {
    for (int64_t i = 0; i < dcnn_tensor_count(batch); ++i) dcnn_tensor_data(batch)[i] = 0.5f;
    const float *levels = NULL;
    assert_int_equal(dcnn_perturbation_levels(scratched[k], &levels), 5);
    const int64_t before = dcnn_context_allocation_count(ctx), live = dcnn_context_live_allocations(ctx);
    assert_ok(dcnn_perturb(batch, scratched[k], levels[4], 7, 0));
    assert_true(dcnn_context_allocation_count(ctx) > before);
    assert_int_equal(dcnn_context_live_allocations(ctx), live);
  }
  dcnn_tensor_destroy(batch);
  dcnn_context_destroy(ctx);
}

static dcnn_tensor *constant_batch(int32_t n, int32_t c, int32_t h, int32_t w, float value) {
  dcnn_tensor *t = random_batch(n, c, h, w, 0);
  for (int64_t i = 0; i < dcnn_tensor_count(t); ++i) dcnn_tensor_data(t)[i] = value;
  return t;
}

static void perturbations_do_what_they_say(void **state) {
  (void)state;
  const int64_t per = 28 * 28;
  /* Blur, rotation and translation (edges replicated) keep a constant image constant. */
  const dcnn_perturbation keeps_flat[3] = {DCNN_PERTURB_GAUSSIAN_BLUR, DCNN_PERTURB_ROTATION, DCNN_PERTURB_TRANSLATION};
  for (int k = 0; k < 3; ++k) {
    dcnn_tensor *flat = constant_batch(2, 1, 28, 28, 0.375f);
    assert_ok(dcnn_perturb(flat, keeps_flat[k], 3.0f, 1, 0));
    for (int64_t i = 0; i < dcnn_tensor_count(flat); ++i) assert_float_equal(dcnn_tensor_data(flat)[i], 0.375f, 1e-5);
    dcnn_tensor_destroy(flat);
  }
  /* A blur so slight that its sigma squared is 0 in float is the identity, not NaN (exp(0 / 0)). */
  for (int k = 0; k < 2; ++k) {
    const float tiny = k ? 1e-30f : 1e-45f;
    dcnn_tensor *sharp = random_batch(2, 3, 8, 8, 3), *copy = random_batch(2, 3, 8, 8, 3);
    assert_ok(dcnn_perturb(sharp, DCNN_PERTURB_GAUSSIAN_BLUR, tiny, 1, 0));
    assert_memory_equal(dcnn_tensor_data(sharp), dcnn_tensor_data(copy), (size_t)dcnn_tensor_count(copy) * sizeof(float));
    dcnn_tensor_destroy(sharp);
    dcnn_tensor_destroy(copy);
  }
  /* Contrast 1: every image becomes its mean. */
  dcnn_tensor *x = random_batch(2, 1, 28, 28, 5);
  double mean = 0;
  for (int64_t i = 0; i < per; ++i) mean += dcnn_tensor_data(x)[i];
  mean /= (double)per;
  assert_ok(dcnn_perturb(x, DCNN_PERTURB_CONTRAST, 1.0f, 1, 0));
  for (int64_t i = 0; i < per; ++i) assert_float_equal(dcnn_tensor_data(x)[i], mean, 1e-5);
  dcnn_tensor_destroy(x);
  /* Brightness 0.25 on mid-gray: each image moves by exactly +-0.25, both signs occur. */
  x = constant_batch(16, 1, 4, 4, 0.5f);
  int up = 0;
  assert_ok(dcnn_perturb(x, DCNN_PERTURB_BRIGHTNESS, 0.25f, 9, 0));
  for (int32_t n = 0; n < 16; ++n) {
    const float v = dcnn_tensor_data(x)[n * 16];
    assert_true(v == 0.75f || v == 0.25f);
    up += v == 0.75f;
    for (int p = 1; p < 16; ++p) assert_true(dcnn_tensor_data(x)[n * 16 + p] == v);
  }
  assert_true(up > 0 && up < 16);
  dcnn_tensor_destroy(x);
  /* Salt and pepper 0.2: about a fifth of the pixels become 0 or 1, in every channel alike. */
  x = constant_batch(8, 3, 28, 28, 0.5f);
  int64_t hit = 0;
  assert_ok(dcnn_perturb(x, DCNN_PERTURB_SALT_PEPPER, 0.2f, 3, 0));
  for (int32_t n = 0; n < 8; ++n)
    for (int64_t p = 0; p < per; ++p) {
      const float *px = dcnn_tensor_data(x) + n * 3 * per + p;
      if (px[0] == 0.5f) continue;
      assert_true(px[0] == 0.0f || px[0] == 1.0f);
      assert_true(px[per] == px[0] && px[2 * per] == px[0]);
      hit++;
    }
  const double fraction = (double)hit / (double)(8 * per);
  print_message("salt and pepper 0.2: %.4f of the pixels changed\n", fraction);
  assert_true(fabs(fraction - 0.2) < 0.02);
  dcnn_tensor_destroy(x);
  /* Occlusion 8: one 8x8 square of one gray per image, inside the image. */
  x = random_batch(6, 1, 28, 28, 8);
  dcnn_tensor *before = copy_of(x);
  assert_ok(dcnn_perturb(x, DCNN_PERTURB_OCCLUSION, 8.0f, 4, 0));
  for (int32_t n = 0; n < 6; ++n) {
    int changed = 0, top = 28, left = 28, bottom = -1, right = -1;
    for (int32_t y = 0; y < 28; ++y)
      for (int32_t xx = 0; xx < 28; ++xx) {
        const int64_t i = n * per + y * 28 + xx;
        if (dcnn_tensor_data(x)[i] == dcnn_tensor_data(before)[i]) continue;
        changed++;
        top = y < top ? y : top;
        left = xx < left ? xx : left;
        bottom = y > bottom ? y : bottom;
        right = xx > right ? xx : right;
      }
    assert_int_equal(bottom - top, 7);
    assert_int_equal(right - left, 7);
    assert_true(changed >= 60); /* 64 less the odd pixel that already had the fill's value */
  }
  dcnn_tensor_destroy(before);
  dcnn_tensor_destroy(x);
}

static void bad_perturbation_input_is_refused_unchanged(void **state) {
  (void)state;
  dcnn_tensor *x = random_batch(2, 1, 8, 8, 1);
  dcnn_tensor *saved = copy_of(x);
  assert_status(dcnn_perturb(x, (dcnn_perturbation)99, 0.1f, 1, 0), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("unknown perturbation 99");
  assert_status(dcnn_perturb(x, DCNN_PERTURB_GAUSSIAN_NOISE, -0.1f, 1, 0), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_perturb(x, DCNN_PERTURB_GAUSSIAN_NOISE, NAN, 1, 0), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_perturb(x, DCNN_PERTURB_GAUSSIAN_NOISE, INFINITY, 1, 0), DCNN_ERR_INVALID_ARGUMENT);
  assert_non_null(strstr(dcnn_last_error(), "severity inf: a finite number >= 0 is needed")); /* was "outside 0..inf" */
  assert_status(dcnn_perturb(x, DCNN_PERTURB_SALT_PEPPER, 1.5f, 1, 0), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_perturb(x, DCNN_PERTURB_OCCLUSION, 9.0f, 1, 0), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("does not fit a 8x8 image");
  assert_status(dcnn_perturb(x, DCNN_PERTURB_OCCLUSION, 8.5f, 1, 0), DCNN_ERR_INVALID_ARGUMENT); /* a 9-pixel side */
  assert_status(dcnn_perturb(x, DCNN_PERTURB_GAUSSIAN_NOISE, 0.1f, 1, -1), DCNN_ERR_INVALID_ARGUMENT);
  dcnn_tensor_data(x)[70] = 1.5f;
  assert_status(dcnn_perturb(x, DCNN_PERTURB_GAUSSIAN_NOISE, 0.1f, 1, 0), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("element 70 is 1.5");
  dcnn_tensor_data(x)[70] = NAN;
  assert_status(dcnn_perturb(x, DCNN_PERTURB_BRIGHTNESS, 0.1f, 1, 0), DCNN_ERR_INVALID_ARGUMENT);
  dcnn_tensor_data(x)[70] = dcnn_tensor_data(saved)[70];
  assert_true(same(x, saved)); /* nothing was touched by the refused calls */
  /* Within the 1e-4 slack: accepted, and clipped by every kind, also where
   * the kind leaves a pixel alone (outside an occlusion square, a clean pixel
   * of salt and pepper); severity 0 returns the batch as it is. */
  for (int kind = 0; kind < DCNN_PERTURB_COUNT; ++kind) {
    dcnn_tensor *y = copy_of(x);
    dcnn_tensor_data(y)[3] = 1.00005f;
    dcnn_tensor_data(y)[100] = -0.00005f;
    assert_ok(dcnn_perturb(y, (dcnn_perturbation)kind, 0.0f, 1, 0));
    assert_true(dcnn_tensor_data(y)[3] == 1.00005f && dcnn_tensor_data(y)[100] == -0.00005f);
    assert_ok(dcnn_perturb(y, (dcnn_perturbation)kind, kind == DCNN_PERTURB_OCCLUSION ? 2.0f : 0.01f, 1, 0));
    for (int64_t i = 0; i < dcnn_tensor_count(y); ++i)
      assert_true(dcnn_tensor_data(y)[i] >= 0.0f && dcnn_tensor_data(y)[i] <= 1.0f);
    dcnn_tensor_destroy(y);
  }
  { /* 8.4 is an 8-pixel side, as the kind rounds it: the whole 8x8 image, one gray (it was refused) */
    dcnn_tensor *y = copy_of(x);
    assert_ok(dcnn_perturb(y, DCNN_PERTURB_OCCLUSION, 8.4f, 1, 0));
    for (int64_t i = 1; i < 64; ++i) assert_true(dcnn_tensor_data(y)[i] == dcnn_tensor_data(y)[0]);
    dcnn_tensor_destroy(y);
  }
  dcnn_shape flat = dcnn_shape_make(2, 2, 64, 0, 0);
  dcnn_tensor *two_d = NULL;
  assert_ok(dcnn_tensor_create(NULL, &flat, &two_d));
  assert_status(dcnn_perturb(two_d, DCNN_PERTURB_GAUSSIAN_NOISE, 0.1f, 1, 0), DCNN_ERR_SHAPE_MISMATCH);
  assert_status(dcnn_perturb(NULL, DCNN_PERTURB_GAUSSIAN_NOISE, 0.1f, 1, 0), DCNN_ERR_INVALID_ARGUMENT);
  assert_int_equal(dcnn_perturbation_levels((dcnn_perturbation)-1, NULL), 0);
  assert_string_equal(dcnn_perturbation_name(DCNN_PERTURB_COUNT), "unknown");
  assert_int_equal(dcnn_perturbation_count(), DCNN_PERTURB_COUNT); /* this header and library agree */
  assert_string_equal(dcnn_perturbation_name((dcnn_perturbation)(dcnn_perturbation_count() - 1)), "salt_pepper");
  dcnn_tensor_destroy(two_d);
  dcnn_tensor_destroy(saved);
  dcnn_tensor_destroy(x);
}

/* ---- attacks on a small trained model ---- */

/* 10x10 gray images: the class is which half is bright; noise over the rest. */
static dcnn_dataset *halves(int32_t n, uint64_t seed) {
  uint8_t *px = malloc((size_t)n * 100);
  int32_t *labels = malloc((size_t)n * sizeof *labels);
  assert_non_null(px);
  assert_non_null(labels);
  for (int32_t i = 0; i < n; ++i) {
    labels[i] = i % 2;
    for (int p = 0; p < 100; ++p)
      px[i * 100 + p] = (uint8_t)(120 * dcnn_random_uniform(seed, 0, (uint64_t)(i * 100 + p)) +
                                  ((p % 10 < 5) == labels[i] ? 100 : 0));
  }
  dcnn_dataset *ds = NULL;
  assert_ok(dcnn_dataset_create(NULL, n, 10, 10, 1, px, labels, 2, &ds));
  free(px);
  free(labels);
  return ds;
}

typedef struct trained {
  dcnn_dataset *train, *test;
  dcnn_pipeline *pipeline;
  dcnn_model *model;
} trained;

static dcnn_model *small_cnn(uint64_t seed) {
  dcnn_shape in = dcnn_shape_make(3, 1, 10, 10, 0);
  dcnn_model *m = NULL;
  assert_ok(dcnn_model_create(NULL, &in, &m));
  dcnn_layer *l = NULL;
  assert_ok(dcnn_conv2d_create(6, 3, 1, DCNN_PADDING_SAME, DCNN_NO_BIAS, &l));
  assert_ok(dcnn_model_add(m, l));
  assert_ok(dcnn_batchnorm_relu_create(0.9f, 1e-3f, &l));
  assert_ok(dcnn_model_add(m, l));
  assert_ok(dcnn_maxpool2d_create(2, 2, DCNN_PADDING_VALID, &l));
  assert_ok(dcnn_model_add(m, l));
  test_add_classifier(m, 2);
  assert_ok(dcnn_model_init(m, seed));
  return m;
}

static void train_model(trained *t, const dcnn_attack *adversarial) {
  dcnn_optimizer *adam = NULL;
  dcnn_trainer *trainer = NULL;
  assert_ok(dcnn_optimizer_create_adam(NULL, 0.01f, 0.9f, 0.999f, 1e-7f, 0.0f, &adam));
  assert_ok(dcnn_trainer_create(NULL, t->model, adam, &trainer));
  assert_ok(dcnn_trainer_set(trainer, DCNN_TRAIN_EPOCHS, 4));
  assert_ok(dcnn_trainer_set(trainer, DCNN_TRAIN_BATCH_SIZE, 16));
  if (adversarial) assert_ok(dcnn_trainer_set_adversarial(trainer, adversarial, 0.5));
  assert_ok(dcnn_trainer_fit(trainer, t->train, NULL, t->pipeline));
  dcnn_trainer_destroy(trainer);
  dcnn_optimizer_destroy(adam);
}

static int setup_trained(void **state) {
  trained *t = calloc(1, sizeof *t);
  t->train = halves(400, 1);
  t->test = halves(200, 2);
  assert_ok(dcnn_pipeline_create(NULL, &t->pipeline));
  t->model = small_cnn(3);
  train_model(t, NULL);
  *state = t;
  return 0;
}

static int teardown_trained(void **state) {
  trained *t = *state;
  dcnn_model_destroy(t->model);
  dcnn_pipeline_destroy(t->pipeline);
  dcnn_dataset_destroy(t->train);
  dcnn_dataset_destroy(t->test);
  free(t);
  return 0;
}

static double accuracy(trained *t, dcnn_model *model, const dcnn_attack *attack, int32_t batch) {
  dcnn_metrics *m = NULL;
  double value = 0;
  assert_ok(dcnn_metrics_create(NULL, 2, &m));
  if (attack) assert_ok(dcnn_evaluate_attacked(model, t->test, t->pipeline, batch, attack, m, NULL));
  else assert_ok(dcnn_evaluate(model, t->test, t->pipeline, batch, m, NULL));
  assert_ok(dcnn_metrics_get(m, DCNN_METRIC_ACCURACY, DCNN_AVERAGE_MACRO, &value));
  dcnn_metrics_destroy(m);
  return value;
}

/* A batch of test images as the pipeline makes them, and their labels. */
static dcnn_tensor *test_batch(trained *t, int32_t n, int32_t *labels) {
  dcnn_shape s = dcnn_shape_make(4, n, 1, 10, 10);
  dcnn_tensor *x = NULL;
  assert_ok(dcnn_tensor_create(NULL, &s, &x));
  int32_t indices[64];
  for (int32_t i = 0; i < n; ++i) indices[i] = i;
  assert_ok(dcnn_pipeline_batch(t->pipeline, t->test, indices, n, DCNN_AUGMENT_OFF, 0, 0, x, labels));
  return x;
}

static void fgsm_at_epsilon_zero_changes_nothing(void **state) {
  trained *t = *state;
  int32_t labels[32];
  dcnn_tensor *x = test_batch(t, 32, labels), *adv = copy_of(x);
  const dcnn_attack zero = test_fgsm(0.0f);
  assert_ok(dcnn_attack_run(t->model, &zero, x, labels, adv));
  assert_true(same(x, adv));
  /* labels are checked although epsilon 0 never runs the model's loss */
  const int32_t saved_label = labels[5];
  labels[5] = 2; /* 2 classes */
  assert_status(dcnn_attack_run(t->model, &zero, x, labels, adv), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("label 2 of sample 5");
  labels[5] = saved_label;
  /* and so is the batch's shape: 8x8 images for a 10x10 model were an attack of epsilon 0 returning OK */
  dcnn_shape smaller = dcnn_shape_make(4, 32, 1, 8, 8);
  dcnn_tensor *wrong = NULL, *wrong_out = NULL;
  assert_ok(dcnn_tensor_create(NULL, &smaller, &wrong));
  assert_ok(dcnn_tensor_create(NULL, &smaller, &wrong_out));
  assert_status(dcnn_attack_run(t->model, &zero, wrong, labels, wrong_out), DCNN_ERR_SHAPE_MISMATCH);
  assert_error_mentions("input is (32, 1, 8, 8), the model takes (N, 1, 10, 10)");
  dcnn_tensor_destroy(wrong);
  dcnn_tensor_destroy(wrong_out);
  /* and a model that has no layers, no (N, classes) scores for the loss, or only a softmax */
  for (int kind = 0; kind < 3; ++kind) {
    dcnn_shape sample = kind == 2 ? dcnn_shape_make(1, 100, 0, 0, 0) : dcnn_shape_make(3, 1, 10, 10, 0);
    dcnn_model *odd = NULL;
    dcnn_layer *layer = NULL;
    assert_ok(dcnn_model_create(NULL, &sample, &odd));
    if (kind == 1) assert_ok(dcnn_conv2d_create(2, 3, 1, DCNN_PADDING_SAME, DCNN_WITH_BIAS, &layer));
    if (kind == 2) assert_ok(dcnn_softmax_create(&layer));
    if (kind) {
      assert_ok(dcnn_model_add(odd, layer));
      assert_ok(dcnn_model_init(odd, 1));
    }
    dcnn_tensor *flat = NULL;
    if (kind == 2) assert_ok(dcnn_tensor_view(x, &(dcnn_shape){2, {32, 100, 0, 0}}, &flat));
    assert_status(dcnn_attack_run(odd, &zero, flat ? flat : x, labels, flat ? flat : adv),
                  kind == 1 ? DCNN_ERR_SHAPE_MISMATCH : DCNN_ERR_INVALID_STATE);
    assert_error_mentions(kind == 1 ? "the loss needs (N, classes) scores"
                                    : kind ? "the model is only a softmax" : "the model has no layers");
    dcnn_tensor_destroy(flat);
    dcnn_model_destroy(odd);
  }
  /* The same models through the evaluation, whose attack at epsilon 0 never asks the model for a gradient
   * (a softmax alone takes no images). */
  for (int kind = 0; kind < 2; ++kind) {
    dcnn_shape sample = dcnn_shape_make(3, 1, 10, 10, 0);
    dcnn_model *odd = NULL;
    dcnn_layer *layer = NULL;
    assert_ok(dcnn_model_create(NULL, &sample, &odd));
    if (kind == 1) assert_ok(dcnn_conv2d_create(2, 3, 1, DCNN_PADDING_SAME, DCNN_WITH_BIAS, &layer));
    if (kind) {
      assert_ok(dcnn_model_add(odd, layer));
      assert_ok(dcnn_model_init(odd, 1));
    }
    dcnn_metrics *counted = NULL;
    assert_ok(dcnn_metrics_create(NULL, 2, &counted));
    assert_status(dcnn_evaluate_attacked(odd, t->test, t->pipeline, 16, &zero, counted, NULL),
                  kind ? DCNN_ERR_SHAPE_MISMATCH : DCNN_ERR_INVALID_STATE);
    assert_error_mentions(kind ? "the loss needs (N, classes) scores" : "the model has no layers");
    assert_int_equal(dcnn_metrics_count(counted), 0);
    dcnn_metrics_destroy(counted);
    dcnn_model_destroy(odd);
  }
  const double clean = accuracy(t, t->model, NULL, 64), attacked = accuracy(t, t->model, &zero, 64);
  print_message("clean accuracy %.4f, FGSM at epsilon 0 %.4f\n", clean, attacked);
  assert_true(clean > 0.9);
  assert_true(attacked == clean);
  /* PGD too: its default step (epsilon / 4) is 0 there, which a sweep from 0 produces */
  dcnn_attack pgd_zero = DCNN_STRUCT_INIT(dcnn_attack);
  assert_ok(dcnn_attack_pgd(0.0f, &pgd_zero));
  assert_ok(dcnn_attack_run(t->model, &pgd_zero, x, labels, adv));
  assert_true(same(x, adv));
  assert_true(accuracy(t, t->model, &pgd_zero, 64) == clean);
  /* A standardising pipeline is refused: epsilon and clipping would be in its units, not pixels'. */
  dcnn_pipeline *standardising = NULL;
  assert_ok(dcnn_pipeline_create(NULL, &standardising));
  const float mean = 0.0f, std = 4.0f; /* keeps values in [0, 1]: the range check alone would pass */
  assert_ok(dcnn_pipeline_set_standardization(standardising, 1, &mean, &std));
  dcnn_metrics *m = NULL;
  assert_ok(dcnn_metrics_create(NULL, 2, &m));
  const dcnn_attack small = test_fgsm(0.1f);
  assert_status(dcnn_evaluate_attacked(t->model, t->test, standardising, 16, &small, m, NULL),
                DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("the pipeline standardises");
  assert_status(dcnn_evaluate_perturbed(t->model, t->test, standardising, 16, DCNN_PERTURB_GAUSSIAN_NOISE, 0.1f, 5,
                                        m, NULL),
                DCNN_ERR_INVALID_ARGUMENT);
  assert_int_equal(dcnn_metrics_count(m), 0);
  dcnn_metrics_destroy(m);
  dcnn_pipeline_destroy(standardising);
  dcnn_tensor_destroy(adv);
  dcnn_tensor_destroy(x);
}

static void attacks_stay_in_the_ball_and_raise_the_loss(void **state) {
  trained *t = *state;
  int32_t labels[32];
  dcnn_tensor *x = test_batch(t, 32, labels), *adv = copy_of(x), *grad = copy_of(x);
  float clean_loss = 0, fgsm_loss = 0, pgd_loss = 0;
  assert_ok(dcnn_model_input_gradient(t->model, x, labels, grad, &clean_loss));
  const float eps = 0.1f;
  const dcnn_attack fgsm = test_fgsm(eps), pgd = test_pgd(eps);
  assert_ok(dcnn_attack_run(t->model, &fgsm, x, labels, adv));
  for (int64_t i = 0; i < dcnn_tensor_count(x); ++i) {
    const float a = dcnn_tensor_data(adv)[i], c = dcnn_tensor_data(x)[i];
    assert_true(a >= 0.0f && a <= 1.0f);
    assert_true(fabsf(a - c) <= eps * (1 + 1e-6f));
    /* FGSM moves every pixel by epsilon along the gradient's sign, unless [0, 1] stops it. */
    const float g = dcnn_tensor_data(grad)[i], want = c + (g > 0 ? eps : g < 0 ? -eps : 0.0f);
    assert_float_equal(a, want < 0 ? 0 : want > 1 ? 1 : want, 1e-6);
  }
  assert_ok(dcnn_model_input_gradient(t->model, adv, labels, grad, &fgsm_loss));
  assert_ok(dcnn_attack_run(t->model, &pgd, x, labels, adv));
  for (int64_t i = 0; i < dcnn_tensor_count(x); ++i) {
    const float a = dcnn_tensor_data(adv)[i], c = dcnn_tensor_data(x)[i];
    assert_true(a >= 0.0f && a <= 1.0f && fabsf(a - c) <= eps * (1 + 1e-6f));
  }
  assert_ok(dcnn_model_input_gradient(t->model, adv, labels, grad, &pgd_loss));
  print_message("loss at epsilon %.2f: clean %.4f, FGSM %.4f, PGD %.4f\n", (double)eps, (double)clean_loss,
                (double)fgsm_loss, (double)pgd_loss);
  assert_true(fgsm_loss > clean_loss);
  assert_true(pgd_loss >= fgsm_loss);
  /* In place (adversarial == input) gives the same as into another tensor. */
  dcnn_tensor *in_place = copy_of(x);
  assert_ok(dcnn_attack_run(t->model, &pgd, in_place, labels, in_place));
  assert_true(same(in_place, adv));
  /* Bad settings and inputs. */
  dcnn_attack bad = pgd;
  bad.iterations = 0;
  assert_status(dcnn_attack_run(t->model, &bad, x, labels, adv), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("iterations 0");
  bad = fgsm;
  bad.epsilon = -0.1f;
  assert_status(dcnn_attack_run(t->model, &bad, x, labels, adv), DCNN_ERR_INVALID_ARGUMENT);
  dcnn_tensor_data(in_place)[3] = 2.0f;
  assert_status(dcnn_attack_run(t->model, &fgsm, in_place, labels, adv), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("in [0, 1]");
  labels[5] = 7;
  assert_status(dcnn_attack_run(t->model, &fgsm, x, labels, adv), DCNN_ERR_INVALID_ARGUMENT);
  dcnn_tensor_destroy(in_place);
  dcnn_tensor_destroy(grad);
  dcnn_tensor_destroy(adv);
  dcnn_tensor_destroy(x);
}

static void pgd_is_at_least_as_strong_as_fgsm(void **state) {
  trained *t = *state;
  const double clean = accuracy(t, t->model, NULL, 64);
  int fgsm_bites = 0, pgd_stronger = 0;
  const float epsilons[4] = {0.1f, 0.15f, 0.2f, 0.3f};
  for (int e = 0; e < 4; ++e) {
    const dcnn_attack fgsm = test_fgsm(epsilons[e]), pgd = test_pgd(epsilons[e]);
    const double a_fgsm = accuracy(t, t->model, &fgsm, 64), a_pgd = accuracy(t, t->model, &pgd, 64);
    print_message("epsilon %.2f: clean %.4f, FGSM %.4f, PGD %.4f\n", (double)epsilons[e], clean, a_fgsm, a_pgd);
    assert_true(a_fgsm <= clean);
    assert_true(a_pgd <= a_fgsm);
    fgsm_bites += a_fgsm < clean;
    pgd_stronger += a_pgd < a_fgsm;
  }
  assert_true(fgsm_bites >= 2);
  assert_true(pgd_stronger >= 1);
}

static void robust_evaluation_does_not_depend_on_the_batch_size(void **state) {
  trained *t = *state;
  double a[2], loss[2];
  const int32_t batches[2] = {7, 64};
  for (int b = 0; b < 2; ++b) {
    dcnn_metrics *m = NULL;
    assert_ok(dcnn_metrics_create(NULL, 2, &m));
    assert_ok(dcnn_evaluate_perturbed(t->model, t->test, t->pipeline, batches[b], DCNN_PERTURB_GAUSSIAN_NOISE, 0.3f,
                                      5, m, &loss[b]));
    assert_ok(dcnn_metrics_get(m, DCNN_METRIC_ACCURACY, DCNN_AVERAGE_MACRO, &a[b]));
    assert_int_equal(dcnn_metrics_count(m), 200);
    dcnn_metrics_destroy(m);
  }
  print_message("gaussian noise 0.3: accuracy %.4f (clean %.4f)\n", a[0], accuracy(t, t->model, NULL, 64));
  assert_true(a[0] == a[1]);
  assert_float_equal(loss[0], loss[1], 1e-5);
  dcnn_metrics *m = NULL;
  assert_ok(dcnn_metrics_create(NULL, 2, &m));
  assert_status(dcnn_evaluate_perturbed(t->model, t->test, t->pipeline, 16, DCNN_PERTURB_OCCLUSION, 11.0f, 5, m, NULL),
                DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("occlusion");
  dcnn_metrics_destroy(m);
}

static void adversarial_training_is_checked_and_raises_fgsm_accuracy(void **state) {
  trained *t = *state;
  dcnn_optimizer *adam = NULL;
  dcnn_trainer *trainer = NULL;
  assert_ok(dcnn_optimizer_create_adam(NULL, 0.01f, 0.9f, 0.999f, 1e-7f, 0.0f, &adam));
  assert_ok(dcnn_trainer_create(NULL, t->model, adam, &trainer));
  const dcnn_attack fgsm = test_fgsm(0.2f);
  assert_status(dcnn_trainer_set_adversarial(trainer, &fgsm, 0.0), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_trainer_set_adversarial(trainer, &fgsm, 1.5), DCNN_ERR_INVALID_ARGUMENT);
  dcnn_attack bad = test_pgd(0.2f);
  bad.step = 0;
  assert_status(dcnn_trainer_set_adversarial(trainer, &bad, 0.5), DCNN_ERR_INVALID_ARGUMENT);
  assert_ok(dcnn_trainer_set_adversarial(trainer, NULL, 0));
  dcnn_trainer_destroy(trainer);
  dcnn_optimizer_destroy(adam);

  /* Same data, same initial weights: with FGSM examples in half of every batch, FGSM hurts less. */
  trained robust = *t;
  robust.model = small_cnn(3);
  train_model(&robust, &fgsm);
  const double plain = accuracy(t, t->model, &fgsm, 64), hardened = accuracy(t, robust.model, &fgsm, 64);
  print_message("FGSM 0.2: standard training %.4f, adversarial training %.4f (clean %.4f / %.4f)\n", plain, hardened,
                accuracy(t, t->model, NULL, 64), accuracy(t, robust.model, NULL, 64));
  assert_true(hardened > plain);
  dcnn_model_destroy(robust.model);
}

int main(void) {
  const struct CMUnitTest plain[] = {
      cmocka_unit_test(every_perturbation_is_seeded_and_keeps_pixels_in_range),
      cmocka_unit_test(perturbations_do_what_they_say),
      cmocka_unit_test(bad_perturbation_input_is_refused_unchanged),
      cmocka_unit_test(perturbation_indices_go_up_to_int64_max),
      cmocka_unit_test(perturbation_scratch_uses_the_batch_context),
  };
  const struct CMUnitTest on_a_trained_model[] = {
      cmocka_unit_test(fgsm_at_epsilon_zero_changes_nothing),
      cmocka_unit_test(attacks_stay_in_the_ball_and_raise_the_loss),
      cmocka_unit_test(pgd_is_at_least_as_strong_as_fgsm),
      cmocka_unit_test(robust_evaluation_does_not_depend_on_the_batch_size),
      cmocka_unit_test(adversarial_training_is_checked_and_raises_fgsm_accuracy),
  };
  int failed = cmocka_run_group_tests_name("perturbations", plain, NULL, NULL);
  failed += cmocka_run_group_tests_name("attacks", on_a_trained_model, setup_trained, teardown_trained);
  return failed;
}
