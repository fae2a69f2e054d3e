/* End to end on the real MNIST-M: the paper CNN, trained with the paper's
 * preprocessing on a subset, must lower its loss and beat chance clearly. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "test_support.h"

static void paper_cnn_loss_falls_on_mnist_m(void **state) {
  (void)state;
  const char *root = test_mnist_m_dir();
  if (!root) skip();
  dcnn_context *ctx = test_context(0);
  dcnn_dataset *all = NULL, *train = NULL, *rest = NULL;
  assert_ok(dcnn_dataset_load_mnist_m(ctx, root, DCNN_MNIST_M_TRAIN, &all));
  assert_ok(dcnn_dataset_split(all, 0.1, 1, DCNN_SPLIT_STRATIFIED, &rest, &train)); /* a stratified 10% subset */
  dcnn_pipeline *pipe = NULL;
  assert_ok(dcnn_pipeline_create(ctx, &pipe));
  assert_ok(dcnn_pipeline_set_paper_defaults(pipe));
  dcnn_batcher *batches = NULL;
  assert_ok(dcnn_batcher_create(ctx, train, pipe, 32, DCNN_BATCH_SHUFFLE | DCNN_BATCH_DROP_LAST, 1, &batches));
  dcnn_model *model = NULL;
  assert_ok(dcnn_zoo_paper_cnn(ctx, test_zoo(28, 28, 1, 10, 1), &model));
  dcnn_optimizer *adam = NULL;
  assert_ok(dcnn_optimizer_create_adam(ctx, 1e-3f, 0.9f, 0.999f, 1e-7f, 0.0f, &adam));
  double first = 0, last = 0;
  int32_t correct_last = 0, seen_last = 0, step = 0;
  const int32_t steps = dcnn_batcher_batches_per_epoch(batches); /* one epoch of ~5,900 images */
  for (;;) {
    dcnn_tensor *x = NULL;
    const int32_t *labels = NULL;
    int32_t n = 0, correct = 0;
    assert_ok(dcnn_batcher_next(batches, &x, &labels, &n));
    if (n == 0) break;
    float loss = 0;
    assert_ok(dcnn_model_train_step(model, adam, x, labels, &loss, &correct));
    if (step < 20) first += loss / 20.0;
    if (step >= steps - 20) {
      last += loss / 20.0;
      correct_last += correct;
      seen_last += n;
    }
    step++;
  }
  print_message("paper CNN on MNIST-M: %d steps, mean loss of the first 20 %.3f, of the last 20 %.3f, "
                "training accuracy over the last 20 %.1f%%\n",
                (int)step, first, last, 100.0 * correct_last / seen_last);
  assert_true(last < 0.75 * first);
  assert_true(correct_last > 0.3 * seen_last); /* chance is 10% */
  dcnn_optimizer_destroy(adam);
  dcnn_model_destroy(model);
  dcnn_batcher_destroy(batches);
  dcnn_pipeline_destroy(pipe);
  dcnn_dataset_destroy(train);
  dcnn_dataset_destroy(rest);
  dcnn_dataset_destroy(all);
  assert_int_equal(dcnn_context_live_allocations(ctx), 0);
  dcnn_context_destroy(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(paper_cnn_loss_falls_on_mnist_m)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
