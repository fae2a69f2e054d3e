/* Shared by the perturbation suite, the attacks, robust evaluation and
 * adversarial training. */
#ifndef DCNN_ROBUSTNESS_INTERNAL_H
#define DCNN_ROBUSTNESS_INTERNAL_H

#include "../core/internal.h"
#include "digitcnn/robustness.h"

/* DCNN_ERR_INVALID_ARGUMENT unless every value of `t` lies in [0, 1]. */
dcnn_status dcnn__check_unit_range(const char *fn, const dcnn_tensor *t);

/* DCNN_ERR_INVALID_ARGUMENT unless `attack`'s settings are usable. */
dcnn_status dcnn__attack_validate(const char *fn, const dcnn_attack *attack);
/* Copies a caller's attack (checking its struct_size) into `full` and validates it. */
dcnn_status dcnn__attack_read(const char *fn, const dcnn_attack *in, dcnn_attack *full);

/* DCNN_ERR_INVALID_STATE for a model without layers or only a softmax, DCNN_ERR_SHAPE_MISMATCH for one whose output
 * is not (classes): checked before any attack, as epsilon 0 never reaches the gradient that refuses them. */
dcnn_status dcnn__attack_check_model(const char *fn, dcnn_model *model);

/* Buffers an attack needs, kept between calls (adversarial training reuses
 * them every step: no allocation in the steady state). */
typedef struct dcnn_attack_workspace {
  dcnn_context *ctx;
  dcnn_tensor *origin; /* the clean batch, for the projection */
  dcnn_tensor *grad;   /* the input gradient */
} dcnn_attack_workspace;

/* Sizes the workspace for batches of `input`'s sample shape and up to `capacity` samples. */
dcnn_status dcnn__attack_workspace_reserve(dcnn_attack_workspace *w, const dcnn_tensor *input, int32_t capacity);
void dcnn__attack_workspace_release(dcnn_attack_workspace *w);

/* dcnn_attack_run with a caller's workspace; sample n's random start draws
 * from (attack->seed, first_index + n). Expects validated settings and input. */
dcnn_status dcnn__attack(dcnn_model *model, const dcnn_attack *attack, const dcnn_tensor *input,
                         const int32_t *labels, dcnn_tensor *adversarial, int64_t first_index,
                         dcnn_attack_workspace *w);

#endif
