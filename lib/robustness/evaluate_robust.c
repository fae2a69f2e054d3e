/* Evaluation of a model on a dataset under a perturbation or an attack:
 * dcnn_evaluate with each preprocessed batch transformed before the forward pass. */
#include <math.h>

#include "../data/data_internal.h"
#include "robustness_internal.h"

/* Perturbations and attacks act on pixels in [0, 1]: after standardisation their sizes and clipping would
 * be in the wrong units, even where the standardised values happen to fall in [0, 1]. */
static dcnn_status check_unstandardised(const char *fn, const dcnn_pipeline *pipeline) {
  DCNN_CHECK(!pipeline || dcnn__pipeline_standardized_channels(pipeline) == 0, DCNN_ERR_INVALID_ARGUMENT,
             "%s: the pipeline standardises its output; perturbations and attacks work on pixels in [0, 1]: "
             "evaluate with the same pipeline without standardisation", fn);
  return DCNN_OK;
}

typedef struct perturbation_job {
  dcnn_perturbation kind;
  float severity;
  uint64_t seed;
} perturbation_job;

static dcnn_status perturb_batch(dcnn_model *model, dcnn_tensor *batch, const int32_t *labels, int64_t first_index,
                                 void *user) {
  (void)model;
  (void)labels;
  const perturbation_job *job = user;
  return dcnn_perturb(batch, job->kind, job->severity, job->seed, first_index);
}

dcnn_status dcnn_evaluate_perturbed(dcnn_model *model, const dcnn_dataset *data, dcnn_pipeline *pipeline,
                                    int32_t batch_size, dcnn_perturbation kind, float severity, uint64_t seed,
                                    dcnn_metrics *metrics, double *loss) {
  DCNN_CHECK_ARG(model);
  DCNN_CHECK((int)kind >= 0 && kind < DCNN_PERTURB_COUNT, DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_evaluate_perturbed: unknown perturbation %d", (int)kind);
  DCNN_TRY(check_unstandardised("dcnn_evaluate_perturbed", pipeline));
  perturbation_job job = {kind, severity, seed};
  dcnn_status status = dcnn_evaluate_transformed(model, data, pipeline, batch_size, perturb_batch, &job, metrics, loss);
  if (status != DCNN_OK)
    return dcnn__wrap_error(status, "dcnn_evaluate_perturbed (%s %g)", dcnn_perturbation_name(kind), (double)severity);
  return DCNN_OK;
}

typedef struct attack_job {
  dcnn_attack attack; /* the caller's settings, read at its struct_size */
  dcnn_attack_workspace workspace;
} attack_job;

static dcnn_status attack_batch(dcnn_model *model, dcnn_tensor *batch, const int32_t *labels, int64_t first_index,
                                void *user) {
  attack_job *job = user;
  DCNN_TRY(dcnn__check_unit_range("dcnn_evaluate_attacked", batch));
  return dcnn__attack(model, &job->attack, batch, labels, batch, first_index, &job->workspace);
}

dcnn_status dcnn_evaluate_attacked(dcnn_model *model, const dcnn_dataset *data, dcnn_pipeline *pipeline,
                                   int32_t batch_size, const dcnn_attack *attack, dcnn_metrics *metrics, double *loss) {
  DCNN_CHECK_ARG(model);
  DCNN_CHECK_ARG(attack);
  DCNN_TRY(check_unstandardised("dcnn_evaluate_attacked", pipeline));
  attack_job job = {{0}, {.ctx = dcnn_model_context(model)}};
  DCNN_TRY(dcnn__attack_read("dcnn_evaluate_attacked", attack, &job.attack));
  DCNN_TRY(dcnn__attack_check_model("dcnn_evaluate_attacked", model));
  dcnn_status status = dcnn_evaluate_transformed(model, data, pipeline, batch_size, attack_batch, &job, metrics, loss);
  dcnn__attack_workspace_release(&job.workspace);
  if (status != DCNN_OK)
    return dcnn__wrap_error(status, "dcnn_evaluate_attacked (%s, epsilon %g)",
                            job.attack.kind == DCNN_ATTACK_FGSM ? "FGSM" : "PGD", (double)job.attack.epsilon);
  return DCNN_OK;
}
