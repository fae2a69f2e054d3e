/* The example on the API reference's main page (docs/mainpage.md shows this
 * file): train the paper's CNN for one epoch, evaluate it, save it, load it
 * back and classify an image. Given the MNIST-M directory it trains on
 * MNIST-M; without one, on synthetic images (what the test runs). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <digitcnn.h>

/* Every fallible call returns a status; the library says what went wrong. */
#define CHECK(call)                                                    \
  do {                                                                 \
    if ((call) != DCNN_OK) {                                           \
      fprintf(stderr, "%s: %s\n", #call, dcnn_last_error());           \
      exit(1);                                                         \
    }                                                                  \
  } while (0)

/* count random 32x32 RGB images (N, H, W, C) labelled 0..9, as MNIST-M's, for a run without data. */
static dcnn_dataset *synthetic(int32_t count) {
  static uint8_t pixels[64 * 32 * 32 * 3];
  int32_t labels[64];
  for (size_t i = 0; i < sizeof pixels; ++i) pixels[i] = (uint8_t)(i * 2654435761u >> 24);
  for (int32_t i = 0; i < count; ++i) labels[i] = i % 10;
  dcnn_dataset *ds = NULL;
  CHECK(dcnn_dataset_create(NULL, count, 32, 32, 3, pixels, labels, 10, &ds)); /* copies */
  return ds;
}

int main(int argc, char **argv) {
  dcnn_dataset *train = NULL, *test = NULL;
  if (argc > 1) {
    CHECK(dcnn_dataset_load_mnist_m(NULL, argv[1], DCNN_MNIST_M_TRAIN, &train));
    CHECK(dcnn_dataset_load_mnist_m(NULL, argv[1], DCNN_MNIST_M_TEST, &test));
  } else {
    train = synthetic(64);
    test = synthetic(32);
  }
  dcnn_pipeline *pipe = NULL; /* 28x28 grayscale in [0, 1], the paper's augmentation */
  CHECK(dcnn_pipeline_create(NULL, &pipe));
  CHECK(dcnn_pipeline_set_paper_defaults(pipe));

  dcnn_zoo_options arch = DCNN_ZOO_OPTIONS_INIT; /* 28x28x1 in, 10 classes, seed 1 */
  dcnn_model *model = NULL;
  CHECK(dcnn_zoo_paper_cnn(NULL, &arch, &model));

  dcnn_optimizer *adam = NULL;
  CHECK(dcnn_optimizer_create_adam(NULL, 1e-3f, 0.9f, 0.999f, 1e-7f, 0.0f, &adam));
  dcnn_trainer *trainer = NULL;
  CHECK(dcnn_trainer_create(NULL, model, adam, &trainer));
  CHECK(dcnn_trainer_set(trainer, DCNN_TRAIN_EPOCHS, 1));
  dcnn_progress_bar *bar = NULL; /* opt-in: the library itself never prints */
  CHECK(dcnn_progress_bar_create(NULL, stderr, DCNN_PROGRESS_BAR_AUTO, &bar));
  CHECK(dcnn_trainer_set_progress(trainer, dcnn_progress_bar_callback, bar));
  CHECK(dcnn_trainer_fit(trainer, train, NULL, pipe));

  dcnn_metrics *metrics = NULL;
  CHECK(dcnn_metrics_create(NULL, 10, &metrics));
  CHECK(dcnn_evaluate(model, test, pipe, 256, metrics, NULL));
  char *summary = NULL;
  CHECK(dcnn_metrics_format(metrics, DCNN_FORMAT_SUMMARY, NULL, &summary));
  printf("%s\n", summary);
  dcnn_free(summary);
  CHECK(dcnn_model_save(model, "paper-cnn.dcnn")); /* atomic */

  /* Later, or elsewhere: raw pixels of any size in, probabilities out,
   * preprocessed as the model's training recorded. */
  dcnn_model *loaded = NULL;
  CHECK(dcnn_model_load(NULL, "paper-cnn.dcnn", &loaded));
  int32_t height = 0, width = 0, channels = 0, top[3];
  float probs[10], top_probs[3];
  CHECK(dcnn_dataset_image_size(test, &height, &width, &channels));
  CHECK(dcnn_model_predict_image(loaded, dcnn_dataset_image(test, 0), height, width, channels, 0, probs, 10));
  CHECK(dcnn_top_k(probs, 10, 3, top, top_probs));
  printf("label %d, predicted %d (p=%.3f), then %d, %d\n", (int)dcnn_dataset_label(test, 0), (int)top[0],
         (double)top_probs[0], (int)top[1], (int)top[2]);

  dcnn_model_destroy(loaded);
  dcnn_metrics_destroy(metrics);
  dcnn_trainer_destroy(trainer);
  dcnn_progress_bar_destroy(bar);
  dcnn_optimizer_destroy(adam);
  dcnn_model_destroy(model);
  dcnn_pipeline_destroy(pipe);
  dcnn_dataset_destroy(test);
  dcnn_dataset_destroy(train);
  return 0;
}
