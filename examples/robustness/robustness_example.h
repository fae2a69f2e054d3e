/* digitcnn-robustness: shared between the run (main.c) and its outputs (report.c). */
#ifndef DCNN_ROBUSTNESS_EXAMPLE_H
#define DCNN_ROBUSTNESS_EXAMPLE_H

#include "../common/support.h"

#define MAX_MODELS 8
#define ATTACK_LEVELS 6
#define SEVERITIES 6 /* 0 (clean) and the five standard levels */

/* One evaluated model and everything measured on it (accuracies as fractions). */
typedef struct evaluated_model {
  char name[64];    /* "plain", "augmented", "adversarial" or a file's name */
  char label[160];  /* how it was trained, for tables */
  dcnn_model *model;
  dcnn_pipeline *pipeline;
  double train_seconds, eval_seconds;
  int trained;       /* trained by this run (train_seconds is its time); 0: loaded from a file */
  double clean;      /* on the whole test set */
  double pgd_clean;  /* on PGD's subset, the PGD curve's epsilon 0 */
  double perturbed[DCNN_PERTURB_COUNT][SEVERITIES];
  double fgsm[ATTACK_LEVELS], pgd[ATTACK_LEVELS];
} evaluated_model;

typedef struct robustness_run {
  const char *data, *out;
  int32_t epochs, threads, quick, progress, pgd_images, pgd_iterations;
  uint64_t seed;
  double adv_epsilon, adv_ratio;
  int adv_pgd;
  int32_t test_images;
  float epsilons[ATTACK_LEVELS];
  evaluated_model models[MAX_MODELS];
  int32_t model_count;
  const char *argv_line;
} robustness_run;

/* Prints the table and writes OUT/robustness.{md,csv}, OUT/curves-*.svg, OUT/index.html. */
int write_report(const robustness_run *run);

/* PGD at `epsilon` as the evaluation runs it: the run's iterations, each a step of 2.5 epsilon / iterations,
 * and its seed. */
void robustness_pgd(const robustness_run *run, float epsilon, dcnn_attack *attack);

/* Draws OUT/samples.png: one test digit under every perturbation and level, FGSM and PGD. */
int write_samples(const robustness_run *run, dcnn_model *model, dcnn_pipeline *pipeline, const dcnn_dataset *test);

#endif
