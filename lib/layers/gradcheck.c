#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "digitcnn/random.h"
#include "layer_internal.h"

/* Entries checked per tensor: enough to catch indexing errors, few enough to be fast. */
#define DCNN_GRADCHECK_SAMPLES 40
#define DCNN_GRADCHECK_STEP 1e-3f

typedef struct gradcheck {
  dcnn_layer *layer;
  dcnn_exec exec;
  dcnn_tensor *x, *y, *r;
} gradcheck;

/* The layer's slots are user code: a failure without a message gets one
 * naming the slot, never an earlier error's text (status.h). */
static dcnn_status forward(gradcheck *g) {
  const uint64_t mark = dcnn__error_mark();
  const dcnn_status status = g->layer->vt->forward(g->layer->self, &g->exec, g->x, g->y);
  return dcnn__callee_error(status, mark, "%s forward", g->layer->vt->type_name);
}

static dcnn_status backward(gradcheck *g, dcnn_tensor *dx) {
  const uint64_t mark = dcnn__error_mark();
  const dcnn_status status = g->layer->vt->backward(g->layer->self, &g->exec, g->x, g->y, g->r, dx);
  return dcnn__callee_error(status, mark, "%s backward", g->layer->vt->type_name);
}

static dcnn_status init_params(dcnn_layer *layer, uint64_t seed) {
  if (!layer->vt->init_params) return DCNN_OK;
  const uint64_t mark = dcnn__error_mark();
  const dcnn_status status = layer->vt->init_params(layer->self, seed);
  return dcnn__callee_error(status, mark, "%s init_params", layer->vt->type_name);
}

/* L = sum(r * forward(x)), accumulated in double. */
static dcnn_status projected_loss(gradcheck *g, double *loss) {
  DCNN_TRY(forward(g));
  double sum = 0;
  for (int64_t i = 0; i < g->y->count; ++i) sum += (double)g->r->data[i] * g->y->data[i];
  *loss = sum;
  return DCNN_OK;
}

/* Compares analytic[] with central differences of L over entries of `values`. */
static dcnn_status compare(gradcheck *g, float *values, int64_t count, const float *analytic, uint64_t seed,
                           uint64_t stream, double *max_error) {
  int64_t samples = count < DCNN_GRADCHECK_SAMPLES ? count : DCNN_GRADCHECK_SAMPLES;
  double base;
  int64_t skipped = 0;
  DCNN_TRY(projected_loss(g, &base));
  /* Slopes are compared on the scale of the tensor's largest gradient, so that
   * curvature on tiny gradients is not mistaken for a kink. A NaN or infinite
   * loss or gradient fails the check outright: every comparison with NaN is
   * false, so it would otherwise pass as an error of 0. */
  double scale = 1e-3;
  int finite = isfinite(base);
  for (int64_t i = 0; i < count; ++i) {
    finite = finite && isfinite(analytic[i]);
    scale = fmax(scale, 0.1 * fabs(analytic[i]));
  }
  if (!finite) {
    *max_error = HUGE_VAL;
    return DCNN_OK;
  }
  for (int64_t j = 0; j < samples; ++j) {
    int64_t i = samples == count ? j : (int64_t)(dcnn_random_bits(seed, stream, (uint64_t)j) % (uint64_t)count);
    float saved = values[i];
    float h = DCNN_GRADCHECK_STEP * (fabsf(saved) > 1.0f ? fabsf(saved) : 1.0f);
    double plus, minus;
    values[i] = saved + h;
    DCNN_TRY(projected_loss(g, &plus));
    values[i] = saved - h;
    DCNN_TRY(projected_loss(g, &minus));
    values[i] = saved;
    if (!isfinite(plus) || !isfinite(minus)) {
      *max_error = HUGE_VAL;
      return DCNN_OK;
    }
    /* Where the one-sided slopes disagree the probe straddles a kink (ReLU at
     * 0, a max-pool tie): the derivative is not defined there, skip it. */
    double right = (plus - base) / h, left = (base - minus) / h;
    if (fabs(right - left) > 0.1 * fmax(fmax(fabs(right), fabs(left)), scale)) {
      skipped++;
      continue;
    }
    double numeric = (plus - minus) / (2.0 * (double)h), a = analytic[i];
    double error = fabs(a - numeric) / fmax(1.0, fabs(a) + fabs(numeric));
    if (error > *max_error) *max_error = error;
  }
  /* Kinks are rare at random points; a layer that looks kinked almost
   * everywhere is broken, not piecewise smooth. */
  if (2 * skipped > samples) *max_error = HUGE_VAL;
  return DCNN_OK;
}

dcnn_status dcnn_layer_check_gradients(dcnn_layer *layer, dcnn_context *ctx, const dcnn_shape *input,
                                       uint64_t seed, double *max_error) {
  DCNN_CHECK_ARG(layer);
  DCNN_CHECK_ARG(input);
  DCNN_CHECK_ARG(max_error);
  DCNN_CHECK(layer->vt->backward != NULL, DCNN_ERR_UNSUPPORTED, "%s: the layer has no backward pass",
             layer->vt->type_name);
  /* The check draws new parameters and runs training passes (batch-norm statistics, a pending backward's
   * masks): a model's layer would lose its weights under its model and sessions. */
  DCNN_CHECK(!layer->owned, DCNN_ERR_INVALID_STATE,
             "%s: the layer belongs to a model or a residual block, and the check would draw new weights for it; "
             "check a layer of its own (made with the same constructor)", layer->vt->type_name);
  *max_error = 0;
  char a[64], b[64];
  DCNN_CHECK(dcnn__shape_valid(input), DCNN_ERR_INVALID_ARGUMENT, "%s: gradient check of invalid input shape %s",
             layer->vt->type_name, dcnn_shape_format(input, a, sizeof a));
  if (!layer->built) DCNN_TRY(dcnn_layer_build(layer, ctx, input));
  dcnn_shape in1 = dcnn__with_batch(input, 1);
  DCNN_CHECK(dcnn_shape_equal(&in1, &layer->input), DCNN_ERR_SHAPE_MISMATCH,
             "%s: built for inputs %s, asked to check %s", layer->vt->type_name,
             dcnn_shape_format(&layer->input, a, sizeof a), dcnn_shape_format(input, b, sizeof b));
  ctx = layer->ctx;
  const int32_t batch = input->dims[0];
  DCNN_TRY(dcnn__layer_plan(layer, batch));
  DCNN_TRY(init_params(layer, seed));

  const int32_t threads = dcnn_context_threads(ctx);
  gradcheck g = {.layer = layer,
                 .exec = {.ctx = dcnn__context(ctx), .training = 1, .threads = threads, .seed = seed, .backward = 1}};
  dcnn_tensor *dx = NULL, *saved = NULL;
  dcnn_shape out = dcnn__with_batch(&layer->output, batch);
  dcnn_status status = DCNN_OK;
  g.exec.workspace_size = dcnn__layer_workspace(layer, batch, threads, 0);
  if (g.exec.workspace_size > 0) {
    g.exec.workspace = dcnn__alloc(ctx, (size_t)g.exec.workspace_size);
    if (!g.exec.workspace) status = dcnn__fail(DCNN_ERR_OUT_OF_MEMORY, "gradient check: out of memory");
  }
  if (status == DCNN_OK) status = dcnn_tensor_create(ctx, input, &g.x);
  if (status == DCNN_OK) status = dcnn_tensor_create(ctx, input, &dx);
  if (status == DCNN_OK) status = dcnn_tensor_create(ctx, &out, &g.y);
  if (status == DCNN_OK) status = dcnn_tensor_create(ctx, &out, &g.r);
  if (status == DCNN_OK) dx->shape_locked = g.y->shape_locked = 1;
  if (status == DCNN_OK) status = dcnn_tensor_fill_random(g.x, DCNN_DIST_NORMAL, 0.0f, 1.0f, seed, 1);
  if (status == DCNN_OK) status = dcnn_tensor_fill_random(g.r, DCNN_DIST_NORMAL, 0.0f, 1.0f, seed, 2);
  if (status == DCNN_OK) status = forward(&g);
  if (status == DCNN_OK) status = backward(&g, dx);
  /* Parameter gradients are copied first: the probing forward passes do not touch them, but be safe. */
  int32_t nparams = dcnn_layer_param_tensor_count(layer);
  for (int32_t p = 0; status == DCNN_OK && p < nparams; ++p) {
    dcnn_param param = DCNN_STRUCT_INIT(dcnn_param);
    status = dcnn_layer_param(layer, p, &param);
    if (status != DCNN_OK || !(param.flags & DCNN_PARAM_TRAINABLE) || !param.grad) continue;
    dcnn_shape ps = dcnn_tensor_shape(param.grad);
    status = dcnn_tensor_create(ctx, &ps, &saved);
    if (status == DCNN_OK) status = dcnn_tensor_copy(saved, param.grad);
    if (status == DCNN_OK)
      status = compare(&g, param.value->data, param.value->count, saved->data, seed, 10 + (uint64_t)p, max_error);
    dcnn_tensor_destroy(saved);
    saved = NULL;
  }
  if (status == DCNN_OK) status = compare(&g, g.x->data, g.x->count, dx->data, seed, 3, max_error);
  dcnn_tensor_destroy(g.x);
  dcnn_tensor_destroy(g.y);
  dcnn_tensor_destroy(g.r);
  dcnn_tensor_destroy(dx);
  dcnn__release(ctx, g.exec.workspace);
  return status;
}
