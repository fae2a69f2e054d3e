/* L-infinity attacks driven by the model's input gradients: FGSM (one signed
 * step of size epsilon) and PGD (signed steps projected back on the epsilon
 * ball around the clean input, optionally from a random start). */
#include <math.h>
#include <string.h>

#include "digitcnn/random.h"
#include "digitcnn/optimizer.h"
#include "../core/struct_size.h"
#include "../model/model_internal.h"
#include "robustness_internal.h"

#define MAX_ITERATIONS 100000

dcnn_status dcnn_attack_fgsm(float epsilon, dcnn_attack *out) {
  DCNN_CHECK_ARG(out);
  const dcnn_attack a = {sizeof a, DCNN_ATTACK_FGSM, epsilon, epsilon, 1, 0, 1};
  return dcnn__struct_fill("dcnn_attack_fgsm", "dcnn_attack", out, &a, sizeof a, DCNN__ATTACK_SIZE_0_2);
}

dcnn_status dcnn_attack_pgd(float epsilon, dcnn_attack *out) {
  DCNN_CHECK_ARG(out);
  const dcnn_attack a = {sizeof a, DCNN_ATTACK_PGD, epsilon, epsilon / 4.0f, 10, 1, 1};
  return dcnn__struct_fill("dcnn_attack_pgd", "dcnn_attack", out, &a, sizeof a, DCNN__ATTACK_SIZE_0_2);
}

dcnn_status dcnn__attack_read(const char *fn, const dcnn_attack *in, dcnn_attack *full) {
  /* Fields a caller's older layout lacks keep these defaults (FGSM's). */
  *full = (dcnn_attack){sizeof *full, DCNN_ATTACK_FGSM, 0, 0, 1, 0, 1};
  DCNN_TRY(dcnn__struct_read(fn, "dcnn_attack", full, sizeof *full, in, DCNN__ATTACK_SIZE_0_2));
  return dcnn__attack_validate(fn, full);
}

dcnn_status dcnn__attack_validate(const char *fn, const dcnn_attack *a) {
  DCNN_CHECK(a->kind == DCNN_ATTACK_FGSM || a->kind == DCNN_ATTACK_PGD, DCNN_ERR_INVALID_ARGUMENT,
             "%s: unknown attack kind %d", fn, (int)a->kind);
  DCNN_CHECK(isfinite(a->epsilon) && a->epsilon >= 0 && a->epsilon <= 1, DCNN_ERR_INVALID_ARGUMENT,
             "%s: epsilon %g is outside [0, 1]", fn, (double)a->epsilon);
  if (a->kind == DCNN_ATTACK_PGD) {
    /* Epsilon 0 leaves the input as it is (robustness.h), whatever the step: dcnn_attack_pgd(0) sets step
     * epsilon / 4 = 0, and a sweep of epsilons from 0 scales the step with them. */
    DCNN_CHECK(isfinite(a->step) && (a->step > 0 || (a->step == 0 && a->epsilon == 0)) && a->step <= 1,
               DCNN_ERR_INVALID_ARGUMENT, "%s: PGD step %g is outside (0, 1]", fn, (double)a->step);
    DCNN_CHECK(a->iterations >= 1 && a->iterations <= MAX_ITERATIONS, DCNN_ERR_INVALID_ARGUMENT,
               "%s: PGD iterations %d outside 1..%d", fn, (int)a->iterations, MAX_ITERATIONS);
    DCNN_CHECK(a->random_start == 0 || a->random_start == 1, DCNN_ERR_INVALID_ARGUMENT,
               "%s: random_start is %d, expected 0 or 1", fn, (int)a->random_start);
  }
  return DCNN_OK;
}

dcnn_status dcnn__attack_workspace_reserve(dcnn_attack_workspace *w, const dcnn_tensor *input, int32_t capacity) {
  const int64_t per_sample = input->shape.dims[0] ? input->count / input->shape.dims[0] : 0;
  const int64_t needed = per_sample * capacity;
  if (w->origin && w->origin->capacity >= needed) return DCNN_OK;
  dcnn__attack_workspace_release(w);
  dcnn_shape shape = input->shape;
  shape.dims[0] = capacity;
  dcnn_status status = dcnn__tensor_create_capacity(w->ctx, &shape, 0, &w->origin);
  if (status == DCNN_OK) status = dcnn__tensor_create_capacity(w->ctx, &shape, 0, &w->grad);
  if (status != DCNN_OK) dcnn__attack_workspace_release(w);
  return status;
}

void dcnn__attack_workspace_release(dcnn_attack_workspace *w) {
  dcnn_tensor_destroy(w->origin);
  dcnn_tensor_destroy(w->grad);
  w->origin = w->grad = NULL;
}

static float clampf(float v, float lo, float hi) { return v < lo ? lo : v > hi ? hi : v; }

static float sign_of(float g) { return g > 0 ? 1.0f : g < 0 ? -1.0f : 0.0f; }

dcnn_status dcnn__attack(dcnn_model *model, const dcnn_attack *a, const dcnn_tensor *input, const int32_t *labels,
                         dcnn_tensor *adversarial, int64_t first_index, dcnn_attack_workspace *w) {
  const int32_t n = input->shape.dims[0];
  DCNN_TRY(dcnn__attack_workspace_reserve(w, input, n));
  DCNN_TRY(dcnn__tensor_set_shape(w->origin, &input->shape));
  DCNN_TRY(dcnn__tensor_set_shape(w->grad, &input->shape));
  const int64_t count = input->count, per_sample = n ? count / n : 0;
  float *origin = w->origin->data, *x = adversarial->data;
  const float *g = w->grad->data;
  memcpy(origin, input->data, (size_t)count * sizeof(float));
  if (x != input->data) memcpy(x, origin, (size_t)count * sizeof(float));
  const float eps = a->epsilon;
  if (eps == 0) return DCNN_OK;
  const int fgsm = a->kind == DCNN_ATTACK_FGSM;
  const int32_t iterations = fgsm ? 1 : a->iterations;
  const float step = fgsm ? eps : a->step;
  if (!fgsm && a->random_start) {
    const uint64_t seed = dcnn_random_derive(a->seed, 0xA77Au);
    for (int32_t s = 0; s < n; ++s)
      for (int64_t i = 0; i < per_sample; ++i) {
        const int64_t k = s * per_sample + i;
        const float u = dcnn_random_uniform(seed, (uint64_t)(first_index + s), (uint64_t)i);
        x[k] = clampf(origin[k] + eps * (2.0f * u - 1.0f), 0.0f, 1.0f);
      }
  }
  for (int32_t it = 0; it < iterations; ++it) {
    DCNN_TRY(dcnn_model_input_gradient(model, adversarial, labels, w->grad, NULL));
    for (int64_t k = 0; k < count; ++k) {
      const float moved = x[k] + step * sign_of(g[k]);
      x[k] = clampf(clampf(moved, origin[k] - eps, origin[k] + eps), 0.0f, 1.0f);
    }
  }
  return DCNN_OK;
}

dcnn_status dcnn__attack_check_model(const char *fn, dcnn_model *model) {
  DCNN_CHECK(dcnn_model_layer_count(model) > 0, DCNN_ERR_INVALID_STATE, "%s: the model has no layers", fn);
  DCNN_CHECK(dcnn_model_layer_count(model) > 1 || !dcnn__layer_is_softmax(dcnn_model_layer(model, 0)),
             DCNN_ERR_INVALID_STATE, "%s: the model is only a softmax", fn);
  const dcnn_shape scores = dcnn_model_output_shape(model); /* (classes) for a classifier */
  char text[64];
  DCNN_CHECK(scores.ndim == 1, DCNN_ERR_SHAPE_MISMATCH, "%s: the loss needs (N, classes) scores; the model gives (N, %s",
             fn, dcnn_shape_format(&scores, text, sizeof text) + 1);
  return DCNN_OK;
}

dcnn_status dcnn_attack_run(dcnn_model *model, const dcnn_attack *attack, const dcnn_tensor *input,
                            const int32_t *labels, dcnn_tensor *adversarial) {
  static const char fn[] = "dcnn_attack_run";
  DCNN_CHECK_ARG(model);
  DCNN_CHECK_ARG(attack);
  DCNN_CHECK_ARG(input);
  DCNN_CHECK_ARG(labels);
  DCNN_CHECK_ARG(adversarial);
  dcnn_attack settings;
  DCNN_TRY(dcnn__attack_read(fn, attack, &settings));
  char a[64], b[64];
  DCNN_CHECK(dcnn_shape_equal(&input->shape, &adversarial->shape), DCNN_ERR_SHAPE_MISMATCH,
             "%s: adversarial is %s, input is %s", fn, dcnn_shape_format(&adversarial->shape, a, sizeof a),
             dcnn_shape_format(&input->shape, b, sizeof b));
  DCNN_CHECK(input->shape.ndim >= 2 && input->shape.dims[0] >= 1, DCNN_ERR_SHAPE_MISMATCH,
             "%s: input is %s, expected a batch (N, sample shape...)", fn, dcnn_shape_format(&input->shape, a, sizeof a));
  /* The model (layers, not only a softmax, (N, classes) scores), the batch against its sample shape, and the
   * labels: epsilon 0 returns before the model (which checks them all) runs, and the same call failed or not
   * with epsilon alone. */
  DCNN_TRY(dcnn__model_check_batch(model, fn, input));
  DCNN_TRY(dcnn__attack_check_model(fn, model));
  DCNN_TRY(dcnn__check_unit_range(fn, input));
  const dcnn_shape scores = dcnn_model_output_shape(model); /* (classes) for a classifier */
  for (int32_t i = 0; i < input->shape.dims[0]; ++i)
    DCNN_CHECK(labels[i] >= 0 && labels[i] < scores.dims[0], DCNN_ERR_INVALID_ARGUMENT,
               "%s: label %d of sample %d is outside 0..%d", fn, (int)labels[i], (int)i, (int)scores.dims[0] - 1);
  dcnn_attack_workspace w = {.ctx = dcnn_model_context(model)};
  dcnn_status status = dcnn__attack(model, &settings, input, labels, adversarial, 0, &w);
  dcnn__attack_workspace_release(&w);
  return status;
}
