/* Named recipes (issue #19): the table's texts are valid, values read with
 * their defaults and "last one wins" overrides, malformed texts are refused
 * naming the word, "paper" configures exactly the paper's protocol, and
 * "best" builds a pipeline, model, optimizer, schedule and trainer that train. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h" /* dcnn__fail_allocations_after */
#include "test_support.h"

static void table_is_valid_and_named(void **state) {
  (void)state;
  assert_true(dcnn_recipe_count() >= 3);
  for (int32_t i = 0; i < dcnn_recipe_count(); ++i) {
    const char *name = dcnn_recipe_name(i);
    assert_non_null(name);
    assert_ok(dcnn_recipe_check(dcnn_recipe_settings(name)));
    for (int32_t j = 0; j < i; ++j) assert_string_not_equal(name, dcnn_recipe_name(j));
  }
  assert_null(dcnn_recipe_name(dcnn_recipe_count()));
  assert_null(dcnn_recipe_name(-1));
  assert_non_null(dcnn_recipe_settings("best"));
  assert_string_equal(dcnn_recipe_settings("paper"), "");
  assert_null(dcnn_recipe_settings("bogus"));
  assert_null(dcnn_recipe_settings(NULL));
  const char *key = NULL;
  double fallback = 0;
  int32_t keys = 0;
  while (dcnn_recipe_key(keys, &key, &fallback)) {
    double v = -1;
    assert_ok(dcnn_recipe_value("", key, &v));
    assert_float_equal(v, fallback, 0);
    ++keys;
  }
  assert_true(keys >= 30);
}

/* Ensembles: named apart from every recipe, each member a recipe of the
 * table, at least two and at most DCNN_ENSEMBLE_MAX_MEMBERS of them; lookups
 * past the members or of other names give NULL. */
static void ensembles_are_made_of_recipes(void **state) {
  (void)state;
  assert_true(dcnn_recipe_ensemble_count() >= 1);
  for (int32_t e = 0; e < dcnn_recipe_ensemble_count(); ++e) {
    const char *name = dcnn_recipe_ensemble_name(e);
    assert_non_null(name);
    assert_null(dcnn_recipe_settings(name)); /* not a recipe name */
    for (int32_t j = 0; j < e; ++j) assert_string_not_equal(name, dcnn_recipe_ensemble_name(j));
    int32_t members = 0;
    while (dcnn_recipe_ensemble_member(name, members)) {
      assert_non_null(dcnn_recipe_settings(dcnn_recipe_ensemble_member(name, members)));
      ++members;
    }
    assert_true(members >= 2 && members <= DCNN_ENSEMBLE_MAX_MEMBERS);
    assert_null(dcnn_recipe_ensemble_member(name, -1));
    assert_null(dcnn_recipe_ensemble_member(name, members + 1));
  }
  assert_null(dcnn_recipe_ensemble_name(dcnn_recipe_ensemble_count()));
  assert_null(dcnn_recipe_ensemble_name(-1));
  assert_string_equal(dcnn_recipe_ensemble_member("best-and-rgb-cosine", 0), "best");
  assert_string_equal(dcnn_recipe_ensemble_member("best-and-rgb-cosine", 1), "rgb-cosine");
  assert_null(dcnn_recipe_ensemble_member("best-and-rgb-cosine", 2));
  assert_null(dcnn_recipe_ensemble_member("best", 0)); /* a recipe, not an ensemble */
  assert_null(dcnn_recipe_ensemble_member(NULL, 0));
}

/* Parameters of a tiny classifier after two steps of `o` on fixed samples. */
static float *two_steps(dcnn_optimizer *o, int64_t *count) {
  dcnn_shape input = dcnn_shape_make(3, 1, 4, 4, 0);
  dcnn_model *m = NULL;
  assert_ok(dcnn_model_create(NULL, &input, &m));
  test_add_classifier(m, 3);
  assert_ok(dcnn_model_init(m, 5));
  dcnn_shape shape = dcnn_shape_make(4, 8, 1, 4, 4); /* 8 images of 1 x 4 x 4 */
  dcnn_tensor *x = NULL;
  assert_ok(dcnn_tensor_create(NULL, &shape, &x));
  assert_ok(dcnn_tensor_fill_random(x, DCNN_DIST_UNIFORM, 0.0f, 1.0f, 9, 0));
  const int32_t labels[8] = {0, 1, 2, 0, 1, 2, 0, 1};
  for (int i = 0; i < 2; ++i) assert_ok(dcnn_model_train_step(m, o, x, labels, NULL, NULL));
  *count = dcnn_model_param_count(m, DCNN_PARAM_TRAINABLE);
  float *dump = malloc((size_t)*count * sizeof(float)), *at = dump;
  for (int32_t i = 0; i < dcnn_model_param_tensor_count(m); ++i) {
    dcnn_param p = DCNN_STRUCT_INIT(dcnn_param);
    assert_ok(dcnn_model_param(m, i, &p, NULL));
    memcpy(at, dcnn_tensor_data(p.value), (size_t)dcnn_tensor_count(p.value) * sizeof(float));
    at += dcnn_tensor_count(p.value);
  }
  dcnn_tensor_destroy(x);
  dcnn_model_destroy(m);
  return dump;
}

/* optimizer=sgd gives SGD with Nesterov momentum and L2 decay, step for step
 * the optimizer made by hand; the default stays Adam (AdamW with decay). */
static void optimizer_key_picks_sgd_or_adam(void **state) {
  (void)state;
  const char *sgd_settings = "optimizer=sgd lr=0.1 momentum=0.5 weight_decay=0.01";
  dcnn_optimizer *from_recipe = NULL, *by_hand = NULL, *adam_recipe = NULL, *adam_hand = NULL;
  assert_ok(dcnn_recipe_create_optimizer(NULL, sgd_settings, &from_recipe));
  assert_ok(dcnn_optimizer_create_sgd(NULL, 0.1f, 0.5f, DCNN_MOMENTUM_NESTEROV, 0.01f, &by_hand));
  assert_ok(dcnn_recipe_create_optimizer(NULL, "lr=0.1 weight_decay=0.01", &adam_recipe));
  assert_ok(dcnn_optimizer_create_adam(NULL, 0.1f, 0.9f, 0.999f, 1e-7f, 0.01f, &adam_hand));
  assert_float_equal(dcnn_optimizer_learning_rate(from_recipe), 0.1, 1e-7);
  int64_t n = 0, n2 = 0, n3 = 0, n4 = 0;
  float *a = two_steps(from_recipe, &n), *b = two_steps(by_hand, &n2), *c = two_steps(adam_recipe, &n3),
        *d = two_steps(adam_hand, &n4);
  assert_true(n > 0 && n == n2 && n == n3 && n == n4);
  assert_memory_equal(a, b, (size_t)n * sizeof(float));
  assert_memory_equal(c, d, (size_t)n * sizeof(float));
  assert_memory_not_equal(a, c, (size_t)n * sizeof(float));
  dcnn_optimizer *bad = NULL;
  assert_status(dcnn_recipe_create_optimizer(NULL, "optimizer=sgd momentum=2", &bad), DCNN_ERR_BAD_FORMAT);
  assert_null(bad);
  /* momentum=0, which the check accepts, is plain SGD (Nesterov refused it when the optimizer was made) */
  dcnn_optimizer *plain = NULL, *plain_hand = NULL;
  assert_ok(dcnn_recipe_check("optimizer=sgd lr=0.1 momentum=0"));
  assert_ok(dcnn_recipe_create_optimizer(NULL, "optimizer=sgd lr=0.1 momentum=0 weight_decay=0.01", &plain));
  assert_ok(dcnn_optimizer_create_sgd(NULL, 0.1f, 0.0f, DCNN_MOMENTUM_CLASSIC, 0.01f, &plain_hand));
  int64_t n5 = 0, n6 = 0;
  float *e = two_steps(plain, &n5), *g = two_steps(plain_hand, &n6);
  assert_true(n5 == n && n6 == n);
  assert_memory_equal(e, g, (size_t)n * sizeof(float));
  free(e);
  free(g);
  dcnn_optimizer_destroy(plain);
  dcnn_optimizer_destroy(plain_hand);
  free(a);
  free(b);
  free(c);
  free(d);
  dcnn_optimizer_destroy(from_recipe);
  dcnn_optimizer_destroy(by_hand);
  dcnn_optimizer_destroy(adam_recipe);
  dcnn_optimizer_destroy(adam_hand);
}

static void values_override_and_errors_name_the_word(void **state) {
  (void)state;
  double v = 0;
  assert_ok(dcnn_recipe_value("epochs=5 lr=0.01 epochs=7", "epochs", &v));
  assert_float_equal(v, 7, 0);
  assert_ok(dcnn_recipe_value("  lr=0.01\tmixup=0.2\n", "lr", &v));
  assert_float_equal(v, 0.01, 1e-12);
  assert_ok(dcnn_recipe_value("schedule=warmup-cosine", "schedule", &v));
  assert_float_equal(v, 2, 0);
  assert_ok(dcnn_recipe_value("", "rotation", &v));
  assert_float_equal(v, 10, 0);
  assert_status(dcnn_recipe_value("", "bogus", &v), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_recipe_check("epochs=0"), DCNN_ERR_BAD_FORMAT);
  assert_error_mentions("epochs=0");
  /* a zoom range upside down, with augmentation on (the default zoom_max is 1.1) */
  assert_status(dcnn_recipe_check("augment=1 zoom_min=1.2"), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("zoom_min=1.2 is above zoom_max=1.1");
  assert_ok(dcnn_recipe_check("augment=0 zoom_min=1.2"));
  /* Pairs refused with the text, not after the data is loaded: a size the stages cannot halve, and a
   * schedule that would rise to its floor. */
  assert_status(dcnn_recipe_check("extra_stages=1"), DCNN_ERR_INVALID_ARGUMENT); /* 28 is not a multiple of 8 */
  assert_error_mentions("size=28 is not divisible by 8");
  assert_ok(dcnn_recipe_check("size=32 extra_stages=2"));
  assert_status(dcnn_recipe_check("size=36 extra_stages=2"), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_recipe_check("schedule=cosine min_lr=0.01"), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("min_lr=0.01 is above lr=0.001");
  assert_ok(dcnn_recipe_check("schedule=warmup-cosine lr=0.01 min_lr=0.01"));
  assert_ok(dcnn_recipe_check("min_lr=0.01")); /* a constant rate has no floor */
  assert_status(dcnn_recipe_check("epochs=2.5"), DCNN_ERR_BAD_FORMAT);
  assert_status(dcnn_recipe_check("lr=fast"), DCNN_ERR_BAD_FORMAT);
  assert_status(dcnn_recipe_check("lr=nan"), DCNN_ERR_BAD_FORMAT);
  assert_status(dcnn_recipe_check("colour=1"), DCNN_ERR_BAD_FORMAT);
  assert_error_mentions("colour=1");
  assert_status(dcnn_recipe_check("rgb"), DCNN_ERR_BAD_FORMAT);
  assert_status(dcnn_recipe_check("rgb="), DCNN_ERR_BAD_FORMAT);
  assert_status(dcnn_recipe_check("=1"), DCNN_ERR_BAD_FORMAT);
  assert_status(dcnn_recipe_check("schedule=linear"), DCNN_ERR_BAD_FORMAT);
  assert_ok(dcnn_recipe_value("optimizer=sgd", "optimizer", &v));
  assert_float_equal(v, 1, 0);
  assert_ok(dcnn_recipe_value("optimizer=sgd optimizer=adam", "optimizer", &v));
  assert_float_equal(v, 0, 0);
  assert_status(dcnn_recipe_check("optimizer=rmsprop"), DCNN_ERR_BAD_FORMAT);
  assert_error_mentions("rmsprop");
  assert_status(dcnn_recipe_check("optimizer=1"), DCNN_ERR_BAD_FORMAT); /* a name, not its index */
  assert_status(dcnn_recipe_check("momentum=1"), DCNN_ERR_BAD_FORMAT);
  assert_status(dcnn_recipe_check("invert=1.5"), DCNN_ERR_BAD_FORMAT);
  assert_status(dcnn_recipe_check("batch=1"), DCNN_ERR_BAD_FORMAT); /* batch norm cannot normalise one sample */
  assert_error_mentions("batch");
  assert_ok(dcnn_recipe_check("batch=2"));
  /* test-time augmentation makes 1, 5 or 9 copies; the zoom range is open at 0.1 */
  for (int copies = 1; copies <= 9; ++copies) {
    char word[16];
    snprintf(word, sizeof word, "tta=%d", copies);
    assert_status(dcnn_recipe_check(word), copies == 1 || copies == 5 || copies == 9 ? DCNN_OK : DCNN_ERR_BAD_FORMAT);
  }
  assert_status(dcnn_recipe_check("tta=3"), DCNN_ERR_BAD_FORMAT);
  assert_error_mentions("1, 5 or 9");
  /* a refused text leaves the value as it was, not the default or an earlier occurrence */
  v = 123;
  assert_status(dcnn_recipe_value("epochs=5 epochs=x", "epochs", &v), DCNN_ERR_BAD_FORMAT);
  assert_float_equal(v, 123, 0);
  /* standardize=1 without the training split: refused before the pipeline changes */
  dcnn_pipeline *unchanged = NULL;
  assert_ok(dcnn_pipeline_create(NULL, &unchanged));
  const double rotation = dcnn_pipeline_get(unchanged, DCNN_PIPE_ROTATION);
  assert_status(dcnn_recipe_configure_pipeline("rotation=33 standardize=1", unchanged, NULL), DCNN_ERR_INVALID_ARGUMENT);
  assert_float_equal(dcnn_pipeline_get(unchanged, DCNN_PIPE_ROTATION), rotation, 0);
  dcnn_pipeline_destroy(unchanged);
  assert_status(dcnn_recipe_check("zoom_min=0.1"), DCNN_ERR_BAD_FORMAT);
  assert_status(dcnn_recipe_check("zoom_max=0.1"), DCNN_ERR_BAD_FORMAT);
  assert_ok(dcnn_recipe_check("zoom_min=0.11 zoom_max=10"));
  assert_status(dcnn_recipe_check(NULL), DCNN_ERR_INVALID_ARGUMENT);
}

static void paper_recipe_is_the_papers_protocol(void **state) {
  (void)state;
  const char *paper = dcnn_recipe_settings("paper");
  dcnn_pipeline *mine = NULL, *reference = NULL;
  assert_ok(dcnn_pipeline_create(NULL, &mine));
  assert_ok(dcnn_pipeline_create(NULL, &reference));
  assert_ok(dcnn_pipeline_set_paper_defaults(reference));
  assert_ok(dcnn_recipe_configure_pipeline(paper, mine, NULL));
  for (int o = 0; o <= DCNN_PIPE_CUTOUT_SIZE; ++o)
    assert_float_equal(dcnn_pipeline_get(mine, (dcnn_pipeline_option)o),
                       dcnn_pipeline_get(reference, (dcnn_pipeline_option)o), 0);
  /* the digit warp's keys reach the pipeline */
  dcnn_pipeline *bent = NULL;
  assert_ok(dcnn_pipeline_create(NULL, &bent));
  assert_ok(dcnn_recipe_configure_pipeline("digit_elastic=0.5 elastic_alpha=20 elastic_sigma=3", bent, NULL));
  assert_float_equal(dcnn_pipeline_get(bent, DCNN_PIPE_DIGIT_ELASTIC), 0.5, 0);
  assert_float_equal(dcnn_pipeline_get(bent, DCNN_PIPE_ELASTIC_ALPHA), 20, 0);
  assert_float_equal(dcnn_pipeline_get(bent, DCNN_PIPE_ELASTIC_SIGMA), 3, 0);
  dcnn_pipeline_destroy(bent);
  assert_status(dcnn_recipe_check("elastic_sigma=0.1"), DCNN_ERR_BAD_FORMAT);
  /* and the cutout's */
  dcnn_pipeline *cut = NULL;
  assert_ok(dcnn_pipeline_create(NULL, &cut));
  assert_ok(dcnn_recipe_configure_pipeline("cutout=0.5 cutout_size=12", cut, NULL));
  assert_float_equal(dcnn_pipeline_get(cut, DCNN_PIPE_CUTOUT), 0.5, 0);
  assert_float_equal(dcnn_pipeline_get(cut, DCNN_PIPE_CUTOUT_SIZE), 12, 0);
  dcnn_pipeline_destroy(cut);
  assert_status(dcnn_recipe_check("cutout_size=2.5"), DCNN_ERR_BAD_FORMAT);
  assert_status(dcnn_recipe_check("cutout=2"), DCNN_ERR_BAD_FORMAT);
  char a[512], b[512];
  assert_ok(dcnn_pipeline_describe(mine, a, sizeof a));
  assert_ok(dcnn_pipeline_describe(reference, b, sizeof b));
  assert_string_equal(a, b);
  dcnn_zoo_options zoo = DCNN_ZOO_OPTIONS_INIT, defaults = DCNN_ZOO_OPTIONS_INIT;
  assert_ok(dcnn_recipe_configure_zoo(paper, &zoo));
  assert_true(zoo.height == defaults.height && zoo.width == defaults.width && zoo.channels == defaults.channels &&
              zoo.conv_dropout == defaults.conv_dropout && zoo.dense_dropout == defaults.dense_dropout &&
              zoo.bn_momentum == defaults.bn_momentum && zoo.width_multiplier == defaults.width_multiplier &&
              zoo.extra_blocks == defaults.extra_blocks && zoo.extra_stages == defaults.extra_stages);
  dcnn_schedule *schedule = NULL;
  assert_ok(dcnn_recipe_create_schedule(paper, &schedule));
  assert_null(schedule);
  /* a warm-up as long as the run: the cosine decay alone, from lr at epoch 0 (a warm-up would start near 0) */
  assert_ok(dcnn_recipe_create_schedule("schedule=warmup-cosine warmup=1 epochs=1 lr=0.01", &schedule));
  assert_non_null(schedule);
  assert_float_equal(dcnn_schedule_rate(schedule, 0), 0.01f, 1e-7f);
  dcnn_schedule_destroy(schedule);
  assert_ok(dcnn_recipe_create_schedule("schedule=warmup-cosine warmup=2 epochs=4 lr=0.01", &schedule));
  assert_true(dcnn_schedule_rate(schedule, 0) < 0.01f);
  dcnn_schedule_destroy(schedule);
  schedule = NULL;
  assert_status(dcnn_recipe_configure_pipeline("standardize=1", mine, NULL), DCNN_ERR_INVALID_ARGUMENT);
  dcnn_pipeline_destroy(mine);
  dcnn_pipeline_destroy(reference);
}

/* The standardisation is measured before the pipeline changes: out of memory
 * there leaves the pipeline whole (it was left half-reconfigured, its own
 * standardisation gone); and it equals a measurement on the configured pipeline. */
static void a_failed_standardisation_leaves_the_pipeline_as_it_was(void **state) {
  (void)state;
  enum { N = 24 };
  uint8_t px[N * 20 * 24 * 3];
  int32_t labels[N];
  for (int i = 0; i < N * 20 * 24 * 3; ++i) px[i] = (uint8_t)((i * 37) % 251);
  for (int i = 0; i < N; ++i) labels[i] = i % 10;
  dcnn_dataset *train = NULL;
  assert_ok(dcnn_dataset_create(NULL, N, 20, 24, 3, px, labels, 10, &train));
  dcnn_pipeline *p = NULL;
  assert_ok(dcnn_pipeline_create(NULL, &p));
  assert_ok(dcnn_pipeline_set(p, DCNN_PIPE_GRAYSCALE, 1));
  const float mean = 0.4f, std = 0.3f;
  assert_ok(dcnn_pipeline_set_standardization(p, 1, &mean, &std));
  char before[512], after[512];
  assert_ok(dcnn_pipeline_describe(p, before, sizeof before));
  const char *settings = "rgb=1 size=32 standardize=1 rotation=10";
  dcnn_status s = DCNN_ERR_OUT_OF_MEMORY;
  int failures = 0;
  for (int64_t k = 0; k < 200 && s != DCNN_OK; ++k) {
    dcnn__fail_allocations_after(k);
    s = dcnn_recipe_configure_pipeline(settings, p, train);
    dcnn__fail_allocations_after(-1);
    if (s == DCNN_OK) break;
    assert_int_equal(s, DCNN_ERR_OUT_OF_MEMORY);
    failures++;
    assert_ok(dcnn_pipeline_describe(p, after, sizeof after));
    assert_string_equal(after, before);
  }
  assert_int_equal(s, DCNN_OK);
  assert_true(failures > 0);
  assert_ok(dcnn_pipeline_describe(p, after, sizeof after));
  assert_non_null(strstr(after, "height=32 width=32 grayscale=0 standardize=3"));
  /* the same values as measuring the configured pipeline itself */
  assert_ok(dcnn_pipeline_fit_standardization(p, train, NULL, NULL));
  assert_ok(dcnn_pipeline_describe(p, before, sizeof before));
  assert_string_equal(after, before);
  dcnn_pipeline_destroy(p);
  dcnn_dataset_destroy(train);
}

static void best_recipe_builds_and_trains(void **state) {
  (void)state;
  /* 40 random 32x32 RGB images; the recipe with a short run appended */
  enum { N = 40 };
  uint8_t *px = malloc(N * 32 * 32 * 3);
  int32_t labels[N];
  for (int i = 0; i < N * 3072; ++i) px[i] = (uint8_t)(dcnn_random_bits(9, 0, (uint64_t)i) & 0xFF);
  for (int i = 0; i < N; ++i) labels[i] = i % 10;
  dcnn_dataset *ds = NULL;
  assert_ok(dcnn_dataset_create(NULL, N, 32, 32, 3, px, labels, 10, &ds));
  free(px);
  char settings[1024];
  /* standardisation on top of best, to see it measured and recorded */
  snprintf(settings, sizeof settings, "%s epochs=2 batch=8 standardize=1 tta=5", dcnn_recipe_settings("best"));
  dcnn_pipeline *p = NULL;
  assert_ok(dcnn_pipeline_create(NULL, &p));
  assert_ok(dcnn_recipe_configure_pipeline(settings, p, ds));
  dcnn_zoo_options zoo = DCNN_ZOO_OPTIONS_INIT;
  /* a 0.2 caller's struct has no width_multiplier / extra_blocks to write: refused */
  zoo.struct_size = offsetof(dcnn_zoo_options, width_multiplier);
  assert_status(dcnn_recipe_configure_zoo(settings, &zoo), DCNN_ERR_INVALID_ARGUMENT);
  /* the layout before extra_stages (its struct_size covers `reserved`, once its tail padding) takes
   * every recipe that leaves extra_stages at 0, and no other */
  zoo.struct_size = offsetof(dcnn_zoo_options, extra_stages);
  zoo.extra_stages = 5; /* bytes that caller does not own: neither read nor written */
  assert_ok(dcnn_recipe_configure_zoo(settings, &zoo));
  assert_int_equal(zoo.extra_stages, 5);
  zoo.height = 77;
  assert_status(dcnn_recipe_configure_zoo("size=32 extra_stages=1", &zoo), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("predates");
  assert_int_equal(zoo.height, 77); /* refused before anything is written */
  zoo.struct_size = sizeof zoo;
  assert_ok(dcnn_recipe_configure_zoo("size=32 extra_stages=2", &zoo));
  assert_int_equal(zoo.extra_stages, 2);
  assert_status(dcnn_recipe_configure_zoo("extra_stages=3", &zoo), DCNN_ERR_BAD_FORMAT);
  assert_ok(dcnn_recipe_configure_zoo(settings, &zoo));
  assert_int_equal(zoo.extra_stages, 0);
  dcnn_model *m = NULL;
  assert_ok(dcnn_zoo_paper_cnn(NULL, &zoo, &m));
  dcnn_shape sample, input = dcnn_model_input_shape(m);
  assert_ok(dcnn_pipeline_sample_shape(p, ds, &sample));
  assert_true(dcnn_shape_equal(&sample, &input));
  dcnn_optimizer *o = NULL;
  dcnn_schedule *s = NULL;
  dcnn_trainer *t = NULL;
  assert_ok(dcnn_recipe_create_optimizer(NULL, settings, &o));
  assert_ok(dcnn_recipe_create_schedule(settings, &s));
  assert_non_null(s);
  assert_ok(dcnn_trainer_create(NULL, m, o, &t));
  assert_ok(dcnn_trainer_set_schedule(t, s));
  assert_ok(dcnn_recipe_configure_trainer(settings, t));
  assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_MAX_STEPS, 2));
  assert_ok(dcnn_trainer_fit(t, ds, ds, p));
  assert_int_equal(dcnn_trainer_epochs_done(t), 2);
  dcnn_epoch_stats e = DCNN_STRUCT_INIT(dcnn_epoch_stats);
  assert_ok(dcnn_trainer_history(t, 1, &e));
  assert_true(isfinite(e.loss) && isfinite(e.val_loss));
  assert_non_null(strstr(dcnn_model_metadata(m, "preprocessing"), "standardize=3"));
  double tta = 0;
  assert_ok(dcnn_recipe_value(settings, "tta", &tta));
  dcnn_metrics *metrics = NULL;
  assert_ok(dcnn_metrics_create(NULL, 10, &metrics));
  assert_ok(dcnn_evaluate_tta(m, ds, p, 16, (int32_t)tta, 1, metrics, NULL));
  dcnn_metrics_destroy(metrics);
  dcnn_trainer_destroy(t);
  dcnn_schedule_destroy(s);
  dcnn_optimizer_destroy(o);
  dcnn_model_destroy(m);
  dcnn_pipeline_destroy(p);
  dcnn_dataset_destroy(ds);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(table_is_valid_and_named),
      cmocka_unit_test(ensembles_are_made_of_recipes),
      cmocka_unit_test(values_override_and_errors_name_the_word),
      cmocka_unit_test(optimizer_key_picks_sgd_or_adam),
      cmocka_unit_test(paper_recipe_is_the_papers_protocol),
      cmocka_unit_test(a_failed_standardisation_leaves_the_pipeline_as_it_was),
      cmocka_unit_test(best_recipe_builds_and_trains),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
