/* Results of the paper example: terminal output and the report directory. */
#ifndef DCNN_PAPER_REPORT_H
#define DCNN_PAPER_REPORT_H

#include <stdint.h>

#include <digitcnn.h>

typedef struct paper_run {
  const char *data, *out, *schedule;
  const char *optimizer; /* "Adam" or "SGD (Nesterov)", as the report names it */
  int32_t epochs, batch, threads, augment, rgb, keep_best, patience, quick, progress, best_epoch;
  int32_t train_count, validation_count; /* images trained on and held out (the test set's count is its own) */
  int32_t tta, tta_pixels;               /* test-time augmentation: copies (1 = none) and shift */
  const char *recipe, *settings;         /* --recipe/--set: the name and the full settings text; NULL without */
  int32_t members;                       /* an ensemble's member count (its recipe: the ensemble's name); 0: one model */
  const char *members_note;              /* an ensemble's members: epochs, time and kept weights of each */
  double lr, bn_momentum, val_fraction;
  uint64_t seed;
  double load_seconds, test_seconds, test_accuracy;
  /* the whole run's: epochs trained (fewer than `epochs` after early stopping) and their seconds, earlier
   * sittings of a resumed run included (the trainer's history) */
  int32_t epochs_trained;
  double train_seconds;
  int argc;
  char **argv;
} paper_run;

typedef struct test_predictions {
  int32_t count;
  int32_t *predicted; /* (count) */
} test_predictions;

/* Predicts every test image (inference mode), feeding `metrics` and keeping the predicted classes. */
dcnn_status evaluate_test(dcnn_model *model, const dcnn_dataset *test, dcnn_pipeline *pipeline, int32_t tta,
                          int32_t tta_pixels, dcnn_metrics *metrics, test_predictions *out);

/* evaluate_test() of an ensemble: each image's outputs are the mean of the
 * members' (dcnn_evaluate_ensemble's rule), member m preprocessing with
 * pipelines[m]; one member gives evaluate_test() exactly. */
dcnn_status evaluate_test_ensemble(dcnn_model *const *models, dcnn_pipeline *const *pipelines, int32_t members,
                                   const dcnn_dataset *test, int32_t tta, int32_t tta_pixels, dcnn_metrics *metrics,
                                   test_predictions *out);

/* 2, having said why, when a member's directory holds a member trained otherwise (other settings, data,
 * seed, ...) or a member cannot be described; 0 otherwise. Run before any data is read. */
int ensemble_refuse_before_training(const paper_run *run);

/* digitcnn-paper --recipe ENSEMBLE (a name of dcnn_recipe_ensemble_name()):
 * trains each member recipe in turn into OUT/members/NAME/ (its checkpoints,
 * model.dcnn, history.csv and member.txt; a member already finished with the
 * same settings and seed is loaded, one interrupted continues from its
 * checkpoint), then evaluates the members' averaged probabilities on the
 * validation split (validation_only: OUT/validation.txt) or once on the test
 * set (the report, without training curves: each member's are its own). 0 on success. */
int run_ensemble(paper_run *run, dcnn_context *ctx, const dcnn_dataset *train, const dcnn_dataset *validation,
                 const dcnn_dataset *test, int validation_only, int checkpoints);

/* The paper's Figure 4 block and Table 1 row, ours beside the paper's claims. */
void print_results(const paper_run *run, const dcnn_metrics *metrics, const dcnn_trainer *trainer);

/* index.html, charts (SVG), misclassified digits (PNG), metrics.json, history.csv, confusion.csv, roc.csv. */
int write_report(const paper_run *run, dcnn_model *model, const dcnn_trainer *trainer, const dcnn_metrics *metrics,
                 const dcnn_dataset *test, const test_predictions *predictions, const char *summary);

/* The whole run's epochs trained and their seconds, from the trainer's history: a resumed run's earlier
 * sittings included, and no epochs early stopping skipped. */
void report_history_totals(const dcnn_trainer *trainer, int32_t *epochs, double *seconds);

/* --validation-only: the kept weights' validation accuracy, plain and with the
 * run's test-time augmentation, printed and written to OUT/validation.txt
 * with OUT/model.dcnn and OUT/history.csv (rank 0). 0 on success. */
int report_validation(const paper_run *run, dcnn_model *model, const dcnn_trainer *trainer,
                      const dcnn_dataset *validation, dcnn_pipeline *pipeline);

/* One epoch of the training curves. */
typedef struct report_epoch {
  int32_t epoch; /* 1-based */
  double loss, accuracy, val_loss, val_accuracy;
} report_epoch;

/* The trainer's history (caller frees; NULL without memory), `*count` epochs. */
report_epoch *report_history(const dcnn_trainer *trainer, int32_t *count);

/* The epoch to mark: the one whose weights were evaluated (run->best_epoch),
 * or else the best validation accuracy's; 0 for none. */
int32_t report_best_epoch(const paper_run *run, const report_epoch *history, int32_t count);

/* The loss (accuracy 0) or accuracy chart per epoch as SVG (caller frees),
 * `best_epoch` marked and named (0: no mark). */
char *report_curve_svg(const report_epoch *history, int32_t count, int32_t best_epoch, int accuracy);

/* The ten one-against-the-rest ROC curves as SVG (caller frees): the false
 * positive rate on a logarithmic axis, the chance line, each polyline thinned
 * to the points that change the drawing (roc.csv keeps every point). */
char *report_roc_svg(const dcnn_metrics *m);

/* Everything of the report that needs no model and no trainer, written into
 * `dir`: index.html, the SVG charts, misclassified digits, metrics.json,
 * confusion.csv, roc.csv. Text taken from the command line or the data
 * (paths, options, names, the model summary) is HTML-escaped. Returns 0 on
 * success. */
int write_report_pages(const char *dir, const paper_run *run, const report_epoch *history, int32_t epochs,
                       const dcnn_metrics *m, const dcnn_dataset *test, const test_predictions *pred,
                       const char *summary);

/* Tests only: the next `renames` renames of publishing succeed and the one
 * after fails (-1, the default: none fails). */
void report_fail_publish_after(int renames);

#endif
