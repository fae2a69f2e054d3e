/* digitcnn-paper --validation-only: a design run's figures from the validation
 * split alone (the test set is never loaded), for recipe ablations
 * (docs/recipes.md, scripts/recipe-ablation.sh). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/cluster.h"
#include "../common/support.h"
#include "report.h"

/* Accuracy of `model` on `ds` with `copies` shifted copies per image (1: plain). */
static int accuracy(dcnn_model *model, const dcnn_dataset *ds, dcnn_pipeline *pipeline, int32_t copies,
                    int32_t pixels, double *out) {
  dcnn_metrics *m = NULL;
  EXAMPLE_CHECK(dcnn_metrics_create(dcnn_model_context(model), 10, &m));
  dcnn_status s = copies > 1 ? dcnn_evaluate_tta(model, ds, pipeline, 250, copies, pixels, m, NULL)
                             : dcnn_evaluate(model, ds, pipeline, 250, m, NULL);
  if (s == DCNN_OK) s = dcnn_metrics_get(m, DCNN_METRIC_ACCURACY, DCNN_AVERAGE_MACRO, out);
  dcnn_metrics_destroy(m);
  EXAMPLE_CHECK(s);
  return 0;
}

int report_validation(const paper_run *run, dcnn_model *model, const dcnn_trainer *trainer,
                      const dcnn_dataset *validation, dcnn_pipeline *pipeline) {
  const int32_t epochs = run->epochs_trained; /* the whole run's (report_history_totals) */
  const double seconds = run->train_seconds;
  double plain = 0, shifted = 0;
  if (accuracy(model, validation, pipeline, 1, 1, &plain)) return 1;
  shifted = plain;
  if (run->tta > 1 && accuracy(model, validation, pipeline, run->tta, run->tta_pixels, &shifted)) return 1;
  printf("\nValidation (%d images, weights of epoch %d): accuracy %.2f%%", (int)dcnn_dataset_count(validation),
         (int)(run->best_epoch ? run->best_epoch : epochs), 100 * plain);
  if (run->tta > 1) printf(", %.2f%% with %d shifted copies", 100 * shifted, (int)run->tta);
  printf("; %d epochs trained in %.1f s. The test set was not loaded.\n", (int)epochs, seconds);
  if (example_cluster_rank() != 0) return 0;
  if (example_make_dirs(run->out)) {
    return 1;
  }
  EXAMPLE_CHECK(dcnn_trainer_write_history(trainer, example_path(run->out, "history.csv")));
  EXAMPLE_CHECK(dcnn_model_save(model, example_path(run->out, "model.dcnn")));
  static char text[20480]; /* the settings (up to the 16 KiB identity.txt holds) and the figures */
  const int n = snprintf(text, sizeof text,
           "recipe=%s\nsettings=%s\nseed=%llu\nepochs=%d\nbest_epoch=%d\ntrain_seconds=%.1f\nvalidation_images=%d\n"
           "accuracy=%.6f\naccuracy_plain=%.6f\ntta=%d\ntta_pixels=%d\n",
           run->recipe ? run->recipe : "", run->settings ? run->settings : "", (unsigned long long)run->seed,
           (int)epochs, (int)run->best_epoch, seconds, (int)dcnn_dataset_count(validation), shifted,
           plain, (int)run->tta, (int)run->tta_pixels);
  if (n < 0 || (size_t)n >= sizeof text) { /* a cut text would lose the figures after the settings */
    fprintf(stderr, "error: the settings are too long to record in %s/validation.txt\n", run->out);
    return 1;
  }
  if (example_write_text(example_path(run->out, "validation.txt"), text)) return 1;
  printf("Written: %s/validation.txt, model.dcnn, history.csv\n", run->out);
  return 0;
}
