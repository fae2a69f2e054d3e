/* Learning-rate schedules: step, cosine, warm-up then cosine, reduce-on-plateau. */
#include <math.h>
#include <stdlib.h>

#include "train_internal.h"


/* Checked first by every creator, so that a NaN rate is named as such and not as a minimum outside [0, nan]. */
static dcnn_status rate_valid(float lr) {
  DCNN_CHECK(lr > 0.0f && isfinite(lr), DCNN_ERR_INVALID_ARGUMENT, "schedule: learning rate %g must be positive",
             (double)lr);
  return DCNN_OK;
}

static dcnn_status new_schedule(schedule_kind kind, float lr, dcnn_schedule **out) {
  DCNN_CHECK_ARG(out);
  *out = NULL;
  DCNN_CHECK(lr > 0.0f && isfinite(lr), DCNN_ERR_INVALID_ARGUMENT, "schedule: learning rate %g must be positive",
             (double)lr);
  dcnn_schedule *s = dcnn__calloc(NULL, 1, sizeof *s); /* schedules take no context: the default one */
  DCNN_CHECK(s != NULL, DCNN_ERR_OUT_OF_MEMORY, "schedule: out of memory");
  s->kind = kind;
  s->base = s->current = lr;
  *out = s;
  return DCNN_OK;
}

dcnn_status dcnn_schedule_create_step(float learning_rate, int32_t step_epochs, float gamma, dcnn_schedule **out) {
  DCNN_CHECK_ARG(out);
  *out = NULL;
  DCNN_CHECK(step_epochs >= 1, DCNN_ERR_INVALID_ARGUMENT, "step schedule: step_epochs %d must be >= 1",
             (int)step_epochs);
  DCNN_CHECK(gamma > 0.0f && gamma <= 1.0f, DCNN_ERR_INVALID_ARGUMENT, "step schedule: gamma %g is outside (0, 1]",
             (double)gamma);
  DCNN_TRY(new_schedule(SCHEDULE_STEP, learning_rate, out));
  (*out)->period = step_epochs;
  (*out)->factor = gamma;
  return DCNN_OK;
}

dcnn_status dcnn_schedule_create_cosine(float learning_rate, int32_t total_epochs, float min_learning_rate,
                                        dcnn_schedule **out) {
  DCNN_CHECK_ARG(out);
  *out = NULL;
  DCNN_TRY(rate_valid(learning_rate));
  DCNN_CHECK(total_epochs >= 1, DCNN_ERR_INVALID_ARGUMENT, "cosine schedule: total_epochs %d must be >= 1",
             (int)total_epochs);
  DCNN_CHECK(min_learning_rate >= 0.0f && min_learning_rate <= learning_rate, DCNN_ERR_INVALID_ARGUMENT,
             "cosine schedule: minimum %g is outside [0, %g]", (double)min_learning_rate, (double)learning_rate);
  DCNN_TRY(new_schedule(SCHEDULE_COSINE, learning_rate, out));
  (*out)->period = total_epochs;
  (*out)->minimum = min_learning_rate;
  return DCNN_OK;
}

dcnn_status dcnn_schedule_create_warmup_cosine(float learning_rate, int32_t warmup_epochs, int32_t total_epochs,
                                               float min_learning_rate, dcnn_schedule **out) {
  DCNN_CHECK_ARG(out);
  *out = NULL;
  DCNN_TRY(rate_valid(learning_rate));
  DCNN_CHECK(warmup_epochs >= 1, DCNN_ERR_INVALID_ARGUMENT, "warm-up cosine schedule: warmup_epochs %d must be >= 1",
             (int)warmup_epochs);
  DCNN_CHECK(total_epochs > warmup_epochs, DCNN_ERR_INVALID_ARGUMENT,
             "warm-up cosine schedule: total_epochs %d must exceed warmup_epochs %d", (int)total_epochs,
             (int)warmup_epochs);
  DCNN_CHECK(min_learning_rate >= 0.0f && min_learning_rate <= learning_rate, DCNN_ERR_INVALID_ARGUMENT,
             "warm-up cosine schedule: minimum %g is outside [0, %g]", (double)min_learning_rate,
             (double)learning_rate);
  DCNN_TRY(new_schedule(SCHEDULE_WARMUP_COSINE, learning_rate, out));
  (*out)->period = total_epochs;
  (*out)->warmup = warmup_epochs;
  (*out)->minimum = min_learning_rate;
  return DCNN_OK;
}

dcnn_status dcnn_schedule_create_plateau(float learning_rate, float factor, int32_t patience, float min_learning_rate,
                                         dcnn_metric_goal goal, dcnn_schedule **out) {
  DCNN_CHECK_ARG(out);
  *out = NULL;
  DCNN_CHECK(goal == DCNN_GOAL_MINIMIZE || goal == DCNN_GOAL_MAXIMIZE, DCNN_ERR_INVALID_ARGUMENT,
             "plateau schedule: unknown goal %d", (int)goal);
  DCNN_CHECK(factor > 0.0f && factor < 1.0f, DCNN_ERR_INVALID_ARGUMENT, "plateau schedule: factor %g is outside (0, 1)",
             (double)factor);
  DCNN_CHECK(patience >= 0, DCNN_ERR_INVALID_ARGUMENT, "plateau schedule: patience %d must be >= 0", (int)patience);
  DCNN_TRY(new_schedule(SCHEDULE_PLATEAU, learning_rate, out));
  /* Checked after the rate: a floor above it would raise the rate at the first "reduction". */
  if (!(min_learning_rate >= 0.0f && min_learning_rate <= learning_rate)) {
    dcnn_schedule_destroy(*out);
    *out = NULL;
    return dcnn__fail(DCNN_ERR_INVALID_ARGUMENT, "plateau schedule: minimum %g is outside [0, %g] (the initial rate)",
                      (double)min_learning_rate, (double)learning_rate);
  }
  (*out)->factor = factor;
  (*out)->period = patience;
  (*out)->minimum = min_learning_rate;
  (*out)->maximize = goal == DCNN_GOAL_MAXIMIZE;
  return DCNN_OK;
}

void dcnn_schedule_destroy(dcnn_schedule *s) { dcnn__release(NULL, s); }

float dcnn_schedule_rate(const dcnn_schedule *s, int32_t epoch) {
  if (!s) return 0.0f;
  if (epoch < 0) epoch = 0;
  switch (s->kind) {
    case SCHEDULE_STEP: return s->base * powf(s->factor, (float)(epoch / s->period));
    case SCHEDULE_COSINE: {
      double progress = epoch >= s->period ? 1.0 : (double)epoch / s->period;
      return (float)(s->minimum + (s->base - s->minimum) * 0.5 * (1.0 + cos(3.141592653589793 * progress)));
    }
    case SCHEDULE_PLATEAU: return s->current;
    case SCHEDULE_WARMUP_COSINE: {
      /* the first epoch already trains at base / warmup: a rate of zero would waste it */
      if (epoch < s->warmup) return (float)((double)s->base * (epoch + 1) / s->warmup);
      const int32_t span = s->period - s->warmup;
      double progress = epoch - s->warmup >= span ? 1.0 : (double)(epoch - s->warmup) / span;
      return (float)(s->minimum + (s->base - s->minimum) * 0.5 * (1.0 + cos(3.141592653589793 * progress)));
    }
  }
  return s->base;
}

/* cosine decay over `span` epochs at position p: min + (lr - min) (1 + cos(pi p / span)) / 2 */
static float cosine_at(const dcnn_schedule *s, double p, double span) {
  const double progress = p <= 0 ? 0.0 : p >= span ? 1.0 : p / span;
  return (float)(s->minimum + (s->base - s->minimum) * 0.5 * (1.0 + cos(3.141592653589793 * progress)));
}

float dcnn_schedule_rate_at(const dcnn_schedule *s, double position) {
  if (!s) return 0.0f;
  if (!(position > 0)) position = 1e-9; /* NaN and <= 0: the first step */
  switch (s->kind) {
    case SCHEDULE_STEP: return dcnn_schedule_rate(s, (int32_t)fmin(ceil(position) - 1, 1e9));
    case SCHEDULE_COSINE: return cosine_at(s, position, s->period);
    case SCHEDULE_PLATEAU: return s->current;
    case SCHEDULE_WARMUP_COSINE:
      if (position < s->warmup) return (float)((double)s->base * position / s->warmup);
      return cosine_at(s, position - s->warmup, s->period - s->warmup);
  }
  return s->base;
}

dcnn_status dcnn_schedule_observe(dcnn_schedule *s, float metric) {
  DCNN_CHECK_ARG_AS(s, "schedule");
  DCNN_CHECK(!isnan(metric), DCNN_ERR_INVALID_ARGUMENT, "schedule: observed metric is NaN");
  if (s->kind != SCHEDULE_PLATEAU) return DCNN_OK;
  int improved = !s->seen || (s->maximize ? metric > s->best : metric < s->best);
  if (improved) {
    s->best = metric;
    s->since_best = 0;
    s->seen = 1;
    return DCNN_OK;
  }
  if (++s->since_best > s->period) {
    /* Never up: a floor above the rate is refused by the creator and by a checkpoint's check, but stay safe. */
    s->current = fminf(s->current, fmaxf(s->current * s->factor, s->minimum));
    s->since_best = 0;
  }
  return DCNN_OK;
}

/* ---- checkpoint state: u32 0 (none) or 1 + kind, then the fields; a warm-up
 * cosine schedule (kind 4, newer than every older checkpoint) adds u32 warmup ---- */

void dcnn__schedule_save_state(const dcnn_schedule *s, dcnn_bytes *b) {
  dcnn__bytes_u32(b, s ? 1u + (uint32_t)s->kind : 0u);
  if (!s) return;
  const float values[5] = {s->base, s->minimum, s->factor, s->current, s->best};
  for (int k = 0; k < 5; ++k) dcnn__bytes_f32(b, values[k]);
  dcnn__bytes_u32(b, (uint32_t)s->period);
  dcnn__bytes_u32(b, (uint32_t)s->maximize);
  dcnn__bytes_u32(b, (uint32_t)s->since_best);
  dcnn__bytes_u32(b, (uint32_t)s->seen);
  if (s->kind == SCHEDULE_WARMUP_COSINE) dcnn__bytes_u32(b, (uint32_t)s->warmup);
}

/* A checkpoint's schedule replaces the trainer's, so it must satisfy what the
 * creator of its kind checks (a step period of 0 would divide by zero, a NaN
 * rate would train on NaN), and a plateau's state must be one that observing
 * could have reached: the rate between the floor and the initial rate, the
 * epochs since the best within the patience. */
static dcnn_status check_state(const char *name, const dcnn_schedule *s) {
  DCNN_CHECK(s->base > 0.0f && isfinite(s->base), DCNN_ERR_BAD_FORMAT,
             "%s: training state: schedule rate %g is not a positive number", name, (double)s->base);
  switch (s->kind) {
    case SCHEDULE_STEP:
      DCNN_CHECK(s->period >= 1 && s->factor > 0.0f && s->factor <= 1.0f, DCNN_ERR_BAD_FORMAT,
                 "%s: training state: step schedule of %d epochs and gamma %g", name, (int)s->period,
                 (double)s->factor);
      return DCNN_OK;
    case SCHEDULE_COSINE:
    case SCHEDULE_WARMUP_COSINE:
      DCNN_CHECK(s->period >= 1 && s->minimum >= 0.0f && s->minimum <= s->base, DCNN_ERR_BAD_FORMAT,
                 "%s: training state: cosine schedule of %d epochs from %g to %g", name, (int)s->period,
                 (double)s->base, (double)s->minimum);
      return DCNN_OK;
    case SCHEDULE_PLATEAU:
      DCNN_CHECK(s->factor > 0.0f && s->factor < 1.0f && s->period >= 0 && s->minimum >= 0.0f &&
                     s->minimum <= s->base && (s->maximize == 0 || s->maximize == 1),
                 DCNN_ERR_BAD_FORMAT, "%s: training state: plateau schedule with factor %g, patience %d, minimum %g",
                 name, (double)s->factor, (int)s->period, (double)s->minimum);
      DCNN_CHECK(s->current >= s->minimum && s->current <= s->base, DCNN_ERR_BAD_FORMAT,
                 "%s: training state: plateau schedule at rate %g, outside [%g, %g]", name, (double)s->current,
                 (double)s->minimum, (double)s->base);
      DCNN_CHECK((s->seen == 0 || s->seen == 1) && s->since_best >= 0 && s->since_best <= s->period &&
                     !(s->seen && isnan(s->best)),
                 DCNN_ERR_BAD_FORMAT, "%s: training state: plateau schedule %d epochs after its best %g (patience %d)",
                 name, (int)s->since_best, (double)s->best, (int)s->period);
      return DCNN_OK;
  }
  return DCNN_OK;
}

dcnn_status dcnn__schedule_load_state(dcnn_reader *r, const dcnn_schedule *s, dcnn_schedule *staged) {
  DCNN_TRY(dcnn__reader_need(r, 4, "the schedule state"));
  const uint32_t kind = dcnn__reader_u32(r);
  DCNN_CHECK(kind <= 1u + SCHEDULE_WARMUP_COSINE, DCNN_ERR_BAD_FORMAT, "%s: training state: unknown schedule", r->name);
  DCNN_CHECK((kind == 0) == (s == NULL) && (!s || kind == 1u + (uint32_t)s->kind), DCNN_ERR_INVALID_ARGUMENT,
             "%s: the checkpoint's learning-rate schedule differs from this trainer's", r->name);
  if (!kind) return DCNN_OK;
  DCNN_TRY(dcnn__reader_need(r, 20 + 16, "the schedule state"));
  staged->kind = s->kind;
  staged->base = dcnn__reader_f32(r);
  staged->minimum = dcnn__reader_f32(r);
  staged->factor = dcnn__reader_f32(r);
  staged->current = dcnn__reader_f32(r);
  staged->best = dcnn__reader_f32(r);
  staged->period = (int32_t)dcnn__reader_u32(r);
  staged->maximize = (int)dcnn__reader_u32(r);
  staged->since_best = (int32_t)dcnn__reader_u32(r);
  staged->seen = (int)dcnn__reader_u32(r);
  staged->warmup = 0;
  if (s->kind == SCHEDULE_WARMUP_COSINE) {
    DCNN_TRY(dcnn__reader_need(r, 4, "the schedule state"));
    staged->warmup = (int32_t)dcnn__reader_u32(r);
    DCNN_CHECK(staged->warmup >= 1 && staged->warmup < staged->period, DCNN_ERR_BAD_FORMAT,
               "%s: training state: warm-up of %d epochs out of %d", r->name, (int)staged->warmup,
               (int)staged->period);
  }
  if (staged->kind == SCHEDULE_PLATEAU) {
    /* Before 2026-12-04 a plateau's floor could exceed its initial rate, and a reduction raised the rate to
     * it; such checkpoints continue with both clamped to the initial rate, as a schedule made now would. */
    if (staged->minimum > staged->base) staged->minimum = staged->base; /* a NaN stays, to be refused */
    if (staged->current > staged->base) staged->current = staged->base;
  }
  return check_state(r->name, staged);
}

void dcnn__schedule_commit_state(dcnn_schedule *s, const dcnn_schedule *staged) {
  if (s) *s = *staged;
}
