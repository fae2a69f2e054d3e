/* Per-layer profiles (profile.h): what a training step and a prediction
 * record, the table, and the errors. */
#include <stddef.h>
#include <string.h>

#include "layers/layer_internal.h"
#include "test_support.h"

enum { BATCH = 8, STEPS = 3 };

/* Multiply-adds per sample of layer `i` (the summary's count). */
static double layer_macs(dcnn_model *m, int32_t i) {
  dcnn_layer *l = dcnn_model_layer(m, i);
  return l->vt->flops ? (double)l->vt->flops(l->self) : 0;
}

static dcnn_profile_entry entry(const dcnn_profile *p, int32_t layer, dcnn_profile_pass pass) {
  for (int32_t i = 0; i < dcnn_profile_count(p); ++i) {
    dcnn_profile_entry e = DCNN_STRUCT_INIT(dcnn_profile_entry);
    assert_ok(dcnn_profile_entry_get(p, i, &e));
    if (e.layer == layer && e.pass == pass) return e;
  }
  fail_msg("no entry for layer %d pass %d", (int)layer, (int)pass);
  return (dcnn_profile_entry){0};
}

static int64_t total_calls(const dcnn_profile *p) {
  int64_t n = 0;
  for (int32_t i = 0; i < dcnn_profile_count(p); ++i) {
    dcnn_profile_entry e = DCNN_STRUCT_INIT(dcnn_profile_entry);
    assert_ok(dcnn_profile_entry_get(p, i, &e));
    n += e.calls;
  }
  return n;
}

static void training_steps_record_every_layer_and_phase(void **state) {
  (void)state;
  dcnn_context *ctx = test_context(1);
  paper_setup s;
  paper_setup_create(ctx, BATCH, &s);
  dcnn_profile *p = NULL;
  assert_ok(dcnn_profile_create(s.model, &p));
  const int32_t layers = dcnn_model_layer_count(s.model);
  assert_int_equal(dcnn_profile_count(p), 3 * layers + 4); /* 3 passes per layer, 4 phases (profile.h) */
  static const char *const phases[4] = {"loss", "optimizer", "data", "allreduce"};
  for (int32_t k = 0; k < 4; ++k) {
    dcnn_profile_entry e = DCNN_STRUCT_INIT(dcnn_profile_entry);
    assert_ok(dcnn_profile_entry_get(p, 3 * layers + k, &e));
    assert_int_equal(e.layer, -1);
    assert_string_equal(e.type_name, phases[k]);
    assert_int_equal(e.pass, DCNN_PROFILE_LOSS + k);
  }
  assert_int_equal(total_calls(p), 0);
  assert_ok(dcnn_model_set_profile(s.model, p));
  for (int i = 0; i < STEPS; ++i) assert_ok(dcnn_model_train_step(s.model, s.adam, s.x, s.labels, NULL, NULL));
  for (int32_t i = 0; i < layers; ++i) {
    const char *type = dcnn_layer_type(dcnn_model_layer(s.model, i));
    const dcnn_profile_entry f = entry(p, i, DCNN_PROFILE_FORWARD), b = entry(p, i, DCNN_PROFILE_BACKWARD);
    assert_string_equal(f.type_name, type);
    assert_int_equal(f.calls, STEPS);
    assert_true(f.seconds > 0);
    assert_true(f.flops == 2.0 * layer_macs(s.model, i) * BATCH * STEPS);
    /* The final softmax is fused into the loss: no backward through it. */
    const int fused = i == layers - 1 && strcmp(type, "softmax") == 0;
    assert_int_equal(b.calls, fused ? 0 : STEPS);
    if (!fused) assert_true(b.seconds > 0);
    /* The first layer's backward has no input gradient to compute: one forward's operations. */
    assert_true(b.flops == (fused ? 0 : (i == 0 ? 2.0 : 4.0) * layer_macs(s.model, i) * BATCH * STEPS));
    assert_int_equal(entry(p, i, DCNN_PROFILE_INFERENCE).calls, 0);
  }
  const dcnn_profile_entry loss = entry(p, -1, DCNN_PROFILE_LOSS), update = entry(p, -1, DCNN_PROFILE_UPDATE);
  assert_string_equal(loss.type_name, "loss");
  assert_int_equal(loss.calls, STEPS);
  assert_true(loss.seconds > 0);
  assert_int_equal(update.calls, STEPS);
  assert_true(update.seconds > 0);
  assert_true(loss.flops == 0 && update.flops == 0);
  assert_int_equal(entry(p, -1, DCNN_PROFILE_DATA).calls, 0);

  /* The table names every layer type, the passes and the ceiling. */
  char *text = NULL;
  assert_ok(dcnn_profile_format(p, 50.0, &text));
  for (int32_t i = 0; i < layers; ++i) assert_non_null(strstr(text, dcnn_layer_type(dcnn_model_layer(s.model, i))));
  assert_non_null(strstr(text, "forward"));
  assert_non_null(strstr(text, "backward"));
  assert_non_null(strstr(text, "optimizer"));
  assert_non_null(strstr(text, "%ceiling"));
  assert_non_null(strstr(text, "total"));
  dcnn_free(text);

  /* Predictions land in the inference entries, once per layer. */
  dcnn_shape ys = dcnn_shape_make(2, BATCH, 10, 0, 0);
  dcnn_tensor *y = NULL;
  assert_ok(dcnn_tensor_create(ctx, &ys, &y));
  assert_ok(dcnn_model_predict(s.model, s.x, y));
  for (int32_t i = 0; i < layers; ++i) {
    const dcnn_profile_entry e = entry(p, i, DCNN_PROFILE_INFERENCE);
    assert_int_equal(e.calls, 1);
    assert_true(e.flops == 2.0 * layer_macs(s.model, i) * BATCH);
  }
  assert_int_equal(entry(p, 0, DCNN_PROFILE_FORWARD).calls, STEPS);

  /* Reset zeroes; detached, nothing is recorded. */
  dcnn_profile_reset(p);
  assert_int_equal(total_calls(p), 0);
  assert_true(entry(p, 0, DCNN_PROFILE_FORWARD).seconds == 0 && entry(p, 0, DCNN_PROFILE_FORWARD).flops == 0);
  assert_ok(dcnn_model_set_profile(s.model, NULL));
  assert_ok(dcnn_model_train_step(s.model, s.adam, s.x, s.labels, NULL, NULL));
  assert_ok(dcnn_model_predict(s.model, s.x, y));
  assert_int_equal(total_calls(p), 0);

  /* Input gradients record forward, backward and the loss, but no update. */
  dcnn_tensor *g = NULL;
  dcnn_shape xs = dcnn_shape_make(4, BATCH, 1, 28, 28);
  assert_ok(dcnn_tensor_create(ctx, &xs, &g));
  assert_ok(dcnn_model_set_profile(s.model, p));
  assert_ok(dcnn_model_input_gradient(s.model, s.x, s.labels, g, NULL));
  assert_int_equal(entry(p, 0, DCNN_PROFILE_FORWARD).calls, 1);
  assert_int_equal(entry(p, 0, DCNN_PROFILE_BACKWARD).calls, 1);
  assert_int_equal(entry(p, -1, DCNN_PROFILE_LOSS).calls, 1);
  assert_int_equal(entry(p, -1, DCNN_PROFILE_UPDATE).calls, 0);

  assert_ok(dcnn_model_set_profile(s.model, NULL));
  dcnn_tensor_destroy(g);
  dcnn_tensor_destroy(y);
  dcnn_profile_destroy(p);
  paper_setup_destroy(&s);
  dcnn_context_destroy(ctx);
}

/* The paper CNN at batch BATCH with a profile made for it and attached. */
typedef struct profiled {
  dcnn_context *ctx;
  paper_setup s;
  dcnn_profile *p;
} profiled;

static void profiled_create(profiled *f, int32_t threads) {
  f->ctx = test_context(threads);
  paper_setup_create(f->ctx, BATCH, &f->s);
  f->p = NULL;
  assert_ok(dcnn_profile_create(f->s.model, &f->p));
  assert_ok(dcnn_model_set_profile(f->s.model, f->p));
}

static void profiled_destroy(profiled *f) {
  assert_ok(dcnn_model_set_profile(f->s.model, NULL));
  dcnn_profile_destroy(f->p);
  paper_setup_destroy(&f->s);
  dcnn_context_destroy(f->ctx);
}

/* conv2d and dense backward entries tell their weight-gradient part, at one
 * thread and at two (where im2col groups interleave the two parts per lane);
 * other layers and the phases say -1; the table shows the two parts. */
static void backward_entries_split_weight_and_data_gradients(void **state) {
  (void)state;
  for (int threads = 1; threads <= 2; ++threads) {
    profiled f;
    profiled_create(&f, threads);
    paper_setup s = f.s;
    dcnn_profile *p = f.p;
    for (int i = 0; i < STEPS; ++i) assert_ok(dcnn_model_train_step(s.model, s.adam, s.x, s.labels, NULL, NULL));
    int split = 0;
    for (int32_t i = 0; i < dcnn_model_layer_count(s.model); ++i) {
      const char *type = dcnn_layer_type(dcnn_model_layer(s.model, i));
      const dcnn_profile_entry b = entry(p, i, DCNN_PROFILE_BACKWARD), fwd = entry(p, i, DCNN_PROFILE_FORWARD);
      assert_true(fwd.weight_seconds == -1);
      if (strcmp(type, "conv2d") == 0 || strcmp(type, "dense") == 0) {
        assert_true(b.weight_seconds > 0);
        assert_true(b.weight_seconds <= b.seconds);
        ++split;
      } else {
        assert_true(b.weight_seconds == -1);
      }
    }
    assert_int_equal(split, 6); /* the paper CNN's four convolutions and two dense layers */
    assert_true(entry(p, -1, DCNN_PROFILE_UPDATE).weight_seconds == -1);
    char *text = NULL;
    assert_ok(dcnn_profile_format(p, 50.0, &text));
    assert_non_null(strstr(text, "bwd-data"));
    assert_non_null(strstr(text, "bwd-weight"));
    dcnn_free(text);
    dcnn_profile_reset(p);
    assert_true(entry(p, 0, DCNN_PROFILE_BACKWARD).weight_seconds == -1);
    /* A caller compiled before the field existed gets the entry without it. */
    dcnn_profile_entry old;
    memset(&old, 0x5a, sizeof old);
    old.struct_size = offsetof(dcnn_profile_entry, weight_seconds);
    assert_ok(dcnn_profile_entry_get(p, 0, &old));
    double untouched;
    memset(&untouched, 0x5a, sizeof untouched);
    assert_memory_equal(&old.weight_seconds, &untouched, sizeof untouched);
    profiled_destroy(&f);
  }
}

/* Recording allocates nothing: the entries are made with the profile. */
static void attached_profile_allocates_nothing_per_step(void **state) {
  (void)state;
  profiled f;
  profiled_create(&f, 1);
  const paper_setup *s = &f.s;
  assert_ok(dcnn_model_train_step(s->model, s->adam, s->x, s->labels, NULL, NULL));
  const int64_t before = dcnn_context_allocation_count(f.ctx);
  for (int i = 0; i < STEPS; ++i) assert_ok(dcnn_model_train_step(s->model, s->adam, s->x, s->labels, NULL, NULL));
  assert_int_equal(dcnn_context_allocation_count(f.ctx), before);
  assert_int_equal(entry(f.p, 0, DCNN_PROFILE_FORWARD).calls, STEPS + 1);
  profiled_destroy(&f);
}

static void errors_are_clean(void **state) {
  (void)state;
  dcnn_context *ctx = test_context(1);
  dcnn_model *a = NULL, *b = NULL;
  assert_ok(dcnn_zoo_lenet5(ctx, test_zoo(32, 32, 1, 10, 1), &a));
  assert_ok(dcnn_zoo_lenet5(ctx, test_zoo(32, 32, 1, 10, 1), &b));
  dcnn_profile *p = (dcnn_profile *)&p, *pa = NULL;
  assert_status(dcnn_profile_create(NULL, &p), DCNN_ERR_INVALID_ARGUMENT);
  assert_null(p);
  assert_status(dcnn_profile_create(a, NULL), DCNN_ERR_INVALID_ARGUMENT);
  dcnn_shape sample = dcnn_shape_make(3, 1, 8, 8, 0);
  dcnn_model *empty = NULL;
  assert_ok(dcnn_model_create(ctx, &sample, &empty));
  assert_status(dcnn_profile_create(empty, &p), DCNN_ERR_INVALID_STATE);
  assert_error_mentions("no layers");

  assert_ok(dcnn_profile_create(a, &pa));
  assert_status(dcnn_model_set_profile(NULL, pa), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_model_set_profile(b, pa), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("another model");
  dcnn_profile_entry e = DCNN_STRUCT_INIT(dcnn_profile_entry);
  assert_status(dcnn_profile_entry_get(pa, dcnn_profile_count(pa), &e), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_profile_entry_get(pa, -1, &e), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_profile_entry_get(NULL, 0, &e), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_profile_entry_get(pa, 0, NULL), DCNN_ERR_INVALID_ARGUMENT);
  char *text = (char *)&text;
  assert_status(dcnn_profile_format(NULL, 0, &text), DCNN_ERR_INVALID_ARGUMENT);
  assert_null(text);
  assert_status(dcnn_profile_format(pa, 0, NULL), DCNN_ERR_INVALID_ARGUMENT);
  assert_int_equal(dcnn_profile_count(NULL), 0);
  dcnn_profile_reset(NULL);
  dcnn_profile_destroy(NULL);

  /* A layer added after the profile was made: refused, not recorded out of bounds. */
  dcnn_layer *extra = NULL;
  assert_ok(dcnn_relu_create(&extra));
  assert_ok(dcnn_model_add(a, extra));
  assert_status(dcnn_model_set_profile(a, pa), DCNN_ERR_INVALID_STATE);
  assert_error_mentions("after the profile was created");

  dcnn_profile_destroy(pa);
  dcnn_model_destroy(empty);
  dcnn_model_destroy(a);
  dcnn_model_destroy(b);
  dcnn_context_destroy(ctx);
}

/* dense + softmax through `ctx`, the model struct its first allocation. */
static dcnn_model *tiny_model(dcnn_context *ctx) {
  dcnn_shape in = dcnn_shape_make(1, 4, 0, 0, 0);
  dcnn_model *m = NULL;
  dcnn_layer *l = NULL;
  assert_ok(dcnn_model_create(ctx, &in, &m));
  assert_ok(dcnn_dense_create(3, DCNN_WITH_BIAS, &l));
  assert_ok(dcnn_model_add(m, l));
  assert_ok(dcnn_softmax_create(&l));
  assert_ok(dcnn_model_add(m, l));
  return m;
}

/* A model built where a destroyed one was (a pool allocator recycles its
 * block), with the same layers, is another model to the first one's profile. */
static void a_profile_refuses_a_new_model_at_its_models_address(void **state) {
  (void)state;
  recycling_allocator pool = {0};
  dcnn_context *ctx = test_context(1);
  const dcnn_allocator hooks = recycling_allocator_hooks(&pool);
  assert_ok(dcnn_context_set_allocator(ctx, &hooks));
  dcnn_model *first = tiny_model(ctx);
  dcnn_profile *p = NULL;
  assert_ok(dcnn_profile_create(first, &p));
  const void *where = first;
  dcnn_model_destroy(first);
  dcnn_model *second = tiny_model(ctx);
  assert_ptr_equal(second, where); /* the case under test */
  assert_status(dcnn_model_set_profile(second, p), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("another model");
  dcnn_profile_destroy(p);
  dcnn_model_destroy(second);
  dcnn_context_destroy(ctx);
  recycling_allocator_drain(&pool);
}

/* The trainer records the wait for each batch as the data phase, beside the steps it runs. */
static void trainer_records_the_data_phase(void **state) {
  (void)state;
  enum { N = 40, SIDE = 6 };
  uint8_t px[N * SIDE * SIDE];
  int32_t labels[N];
  for (int32_t i = 0; i < N * SIDE * SIDE; ++i) px[i] = (uint8_t)(dcnn_random_bits(3, 0, (uint64_t)i) & 0xff);
  for (int32_t i = 0; i < N; ++i) labels[i] = i % 2;
  dcnn_dataset *ds = NULL;
  assert_ok(dcnn_dataset_create(NULL, N, SIDE, SIDE, 1, px, labels, 2, &ds));
  dcnn_pipeline *pipe = NULL;
  assert_ok(dcnn_pipeline_create(NULL, &pipe));
  dcnn_shape in = dcnn_shape_make(3, 1, SIDE, SIDE, 0);
  dcnn_model *m = NULL;
  dcnn_layer *l = NULL;
  assert_ok(dcnn_model_create(NULL, &in, &m));
  assert_ok(dcnn_flatten_create(&l));
  assert_ok(dcnn_model_add(m, l));
  assert_ok(dcnn_dense_create(2, DCNN_WITH_BIAS, &l));
  assert_ok(dcnn_model_add(m, l));
  dcnn_optimizer *sgd = NULL;
  assert_ok(dcnn_optimizer_create_sgd(NULL, 0.05f, 0.9f, DCNN_MOMENTUM_CLASSIC, 0, &sgd));
  dcnn_trainer *t = NULL;
  assert_ok(dcnn_trainer_create(NULL, m, sgd, &t));
  assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_EPOCHS, 1));
  assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_BATCH_SIZE, 10));
  dcnn_profile *p = NULL;
  assert_ok(dcnn_profile_create(m, &p));
  assert_ok(dcnn_model_set_profile(m, p));
  assert_ok(dcnn_trainer_fit(t, ds, NULL, pipe));
  const dcnn_profile_entry data = entry(p, -1, DCNN_PROFILE_DATA);
  assert_string_equal(data.type_name, "data");
  assert_int_equal(data.calls, N / 10);
  assert_true(data.seconds > 0);
  assert_int_equal(entry(p, 1, DCNN_PROFILE_FORWARD).calls, N / 10);
  assert_int_equal(entry(p, -1, DCNN_PROFILE_UPDATE).calls, N / 10);
  assert_ok(dcnn_model_set_profile(m, NULL));
  dcnn_profile_destroy(p);
  dcnn_trainer_destroy(t);
  dcnn_optimizer_destroy(sgd);
  dcnn_model_destroy(m);
  dcnn_pipeline_destroy(pipe);
  dcnn_dataset_destroy(ds);
}

static void gemm_ceiling_is_measured(void **state) {
  (void)state;
  dcnn_context *ctx = test_context(2);
  double g = -1;
  assert_ok(dcnn_gemm_gflops(ctx, 64, 0, &g));
  assert_true(g > 0);
  assert_ok(dcnn_gemm_gflops(ctx, 128, 1, &g));
  assert_true(g > 0);
  assert_int_equal(dcnn_context_live_allocations(ctx), 0);
  g = -1;
  assert_status(dcnn_gemm_gflops(ctx, 8, 1, &g), DCNN_ERR_INVALID_ARGUMENT);
  assert_true(g == 0);
  assert_status(dcnn_gemm_gflops(ctx, 64, 3, &g), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_gemm_gflops(ctx, 64, 1, NULL), DCNN_ERR_INVALID_ARGUMENT);
  dcnn_context_destroy(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(training_steps_record_every_layer_and_phase),
      cmocka_unit_test(backward_entries_split_weight_and_data_gradients),
      cmocka_unit_test(attached_profile_allocates_nothing_per_step),
      cmocka_unit_test(errors_are_clean),
      cmocka_unit_test(a_profile_refuses_a_new_model_at_its_models_address),
      cmocka_unit_test(trainer_records_the_data_phase),
      cmocka_unit_test(gemm_ceiling_is_measured),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
