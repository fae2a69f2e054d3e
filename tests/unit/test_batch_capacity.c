/* A batch size larger than the dataset (up to INT32_MAX) costs memory for
 * the samples there are, not for the batch asked for, and changes nothing
 * else: the batcher, evaluation and the trainer, under an allocator that
 * refuses anything large. */
#include <math.h>
#include <string.h>

#include "test_support.h"

#define LIMIT (1 << 20) /* bytes: far below what a batch of 2^20 6x6 images would take */

static dcnn_context *capped_context(capped_allocator *cap) {
  *cap = (capped_allocator){.limit = LIMIT, .largest = 0};
  dcnn_context *ctx = test_context(1);
  const dcnn_allocator hooks = capped_allocator_hooks(cap);
  assert_ok(dcnn_context_set_allocator(ctx, &hooks));
  return ctx;
}

static void batcher_holds_what_the_dataset_can_fill(void **state) {
  (void)state;
  capped_allocator cap;
  dcnn_context *ctx = capped_context(&cap);
  dcnn_dataset *two = test_halves(2), *many = test_halves(200);
  dcnn_pipeline *p = NULL;
  assert_ok(dcnn_pipeline_create(ctx, &p));
  const int32_t sizes[] = {1 << 20, INT32_MAX - 1, INT32_MAX};
  for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; ++k) {
    dcnn_batcher *b = NULL;
    assert_ok(dcnn_batcher_create(ctx, two, p, sizes[k], DCNN_BATCH_SHUFFLE, 3, &b));
    assert_int_equal(dcnn_batcher_batches_per_epoch(b), 1);
    dcnn_tensor *x = NULL;
    const int32_t *labels = NULL;
    int32_t n = -1;
    assert_ok(dcnn_batcher_next(b, &x, &labels, &n));
    assert_int_equal(n, 2);
    assert_int_equal(dcnn_tensor_shape(x).dims[0], 2);
    assert_int_equal(labels[0] + labels[1], 1); /* both samples, in either order */
    assert_ok(dcnn_batcher_next(b, &x, &labels, &n));
    assert_int_equal(n, 0);
    dcnn_batcher_destroy(b);
    /* Dropping the last (only, partial) batch leaves none. */
    assert_ok(dcnn_batcher_create(ctx, many, p, sizes[k], DCNN_BATCH_DROP_LAST, 3, &b));
    assert_int_equal(dcnn_batcher_batches_per_epoch(b), 0);
    assert_ok(dcnn_batcher_next(b, &x, &labels, &n));
    assert_int_equal(n, 0);
    dcnn_batcher_destroy(b);
  }
  assert_true(cap.largest <= LIMIT);
  dcnn_pipeline_destroy(p);
  dcnn_dataset_destroy(two);
  dcnn_dataset_destroy(many);
  assert_int_equal(dcnn_context_live_allocations(ctx), 0);
  dcnn_context_destroy(ctx);
}

/* flatten, dense, softmax over 6x6 gray images, through `ctx`. */
static dcnn_model *small_classifier(dcnn_context *ctx) {
  dcnn_shape in = dcnn_shape_make(3, 1, 6, 6, 0);
  dcnn_model *m = NULL;
  assert_ok(dcnn_model_create(ctx, &in, &m));
  test_add_classifier(m, 2);
  assert_ok(dcnn_model_init(m, 7));
  return m;
}

/* The evaluation `kind` (0: plain, 1: test-time augmentation, 2: an
 * ensemble of `m` twice) of `m` over `ds`: its confusion and loss. */
static void evaluate(int kind, dcnn_model *m, const dcnn_dataset *ds, dcnn_pipeline *p, int32_t batch,
                     int64_t confusion[4], double *loss) {
  dcnn_metrics *metrics = NULL;
  assert_ok(dcnn_metrics_create(dcnn_model_context(m), 2, &metrics));
  dcnn_model *const members[2] = {m, m};
  dcnn_pipeline *const pipelines[2] = {p, p};
  if (kind == 0) assert_ok(dcnn_evaluate(m, ds, p, batch, metrics, loss));
  else if (kind == 1) assert_ok(dcnn_evaluate_tta(m, ds, p, batch, 5, 1, metrics, loss));
  else assert_ok(dcnn_evaluate_ensemble(members, pipelines, NULL, 2, ds, batch, metrics, loss));
  assert_int_equal(dcnn_metrics_count(metrics), dcnn_dataset_count(ds));
  assert_ok(dcnn_metrics_confusion(metrics, confusion, 4));
  dcnn_metrics_destroy(metrics);
}

/* One batch of the whole dataset whatever the batch size beyond it: the
 * same metrics and loss, bit for bit (plain, test-time augmentation, ensembles). */
static void evaluation_holds_what_the_dataset_can_fill(void **state) {
  (void)state;
  capped_allocator cap;
  dcnn_context *ctx = capped_context(&cap);
  dcnn_dataset *ds = test_halves(23);
  dcnn_pipeline *p = NULL;
  assert_ok(dcnn_pipeline_create(ctx, &p));
  dcnn_model *m = small_classifier(ctx);
  const int32_t sizes[] = {23, 1 << 20, INT32_MAX};
  for (int kind = 0; kind < 3; ++kind) {
    int64_t confusion[3][4];
    double loss[3];
    for (int k = 0; k < 3; ++k) evaluate(kind, m, ds, p, sizes[k], confusion[k], &loss[k]);
    for (int k = 1; k < 3; ++k) {
      assert_memory_equal(confusion[k], confusion[0], sizeof confusion[0]);
      assert_true(loss[k] == loss[0]);
    }
  }
  assert_true(cap.largest <= LIMIT);
  dcnn_model_destroy(m);
  dcnn_pipeline_destroy(p);
  dcnn_dataset_destroy(ds);
  dcnn_context_destroy(ctx);
}

/* The largest batch the trainer takes, on a few dozen images, validation included. */
static void training_holds_what_the_dataset_can_fill(void **state) {
  (void)state;
  capped_allocator cap;
  dcnn_context *ctx = capped_context(&cap);
  dcnn_dataset *train = test_halves(32), *val = test_halves(16);
  dcnn_pipeline *p = NULL;
  assert_ok(dcnn_pipeline_create(ctx, &p));
  dcnn_model *m = small_classifier(ctx);
  dcnn_optimizer *o = NULL;
  assert_ok(dcnn_optimizer_create_sgd(ctx, 0.05f, 0.9f, DCNN_MOMENTUM_CLASSIC, 0, &o));
  dcnn_trainer *t = NULL;
  assert_ok(dcnn_trainer_create(ctx, m, o, &t));
  assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_BATCH_SIZE, 1e7));
  assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_EPOCHS, 2));
  assert_ok(dcnn_trainer_fit(t, train, val, p));
  dcnn_epoch_stats s = DCNN_STRUCT_INIT(dcnn_epoch_stats);
  assert_ok(dcnn_trainer_history(t, 1, &s));
  assert_int_equal(s.steps, 1);
  assert_true(isfinite(s.loss) && isfinite(s.val_loss));
  assert_true(cap.largest <= LIMIT);
  dcnn_trainer_destroy(t);
  dcnn_optimizer_destroy(o);
  dcnn_model_destroy(m);
  dcnn_pipeline_destroy(p);
  dcnn_dataset_destroy(train);
  dcnn_dataset_destroy(val);
  dcnn_context_destroy(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(batcher_holds_what_the_dataset_can_fill),
      cmocka_unit_test(evaluation_holds_what_the_dataset_can_fill),
      cmocka_unit_test(training_holds_what_the_dataset_can_fill),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
