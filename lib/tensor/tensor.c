#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../core/internal.h"
#include "digitcnn/random.h"

#define DCNN_MAX_ELEMENTS (INT64_C(1) << 40)

dcnn_shape dcnn_shape_make(int32_t ndim, int32_t d0, int32_t d1, int32_t d2, int32_t d3) {
  dcnn_shape s = {0, {0, 0, 0, 0}};
  if (ndim < 1 || ndim > DCNN_MAX_DIMS) return s;
  const int32_t d[DCNN_MAX_DIMS] = {d0, d1, d2, d3};
  s.ndim = ndim;
  for (int32_t i = 0; i < ndim; ++i) s.dims[i] = d[i];
  return s;
}

int64_t dcnn_shape_count(const dcnn_shape *shape) {
  if (!shape || shape->ndim < 1 || shape->ndim > DCNN_MAX_DIMS) return -1;
  int64_t n = 1;
  for (int32_t i = 0; i < shape->ndim; ++i) {
    /* Checked before multiplying: n <= 2^40 times a dimension < 2^31 can pass int64's range. */
    if (shape->dims[i] < 1 || shape->dims[i] > DCNN_MAX_ELEMENTS / n) return -1;
    n *= shape->dims[i];
  }
  return n;
}

int dcnn__shape_valid(const dcnn_shape *shape) { return dcnn_shape_count(shape) > 0; }

int dcnn_shape_equal(const dcnn_shape *a, const dcnn_shape *b) {
  if (!a || !b || a->ndim != b->ndim) return 0;
  for (int32_t i = 0; i < a->ndim && i < DCNN_MAX_DIMS; ++i)
    if (a->dims[i] != b->dims[i]) return 0;
  return 1;
}

char *dcnn_shape_format(const dcnn_shape *shape, char *buf, int32_t size) {
  if (!buf || size <= 0) return buf;
  buf[0] = '\0';
  if (!shape) return buf;
  int used = snprintf(buf, (size_t)size, "(");
  int32_t ndim = shape->ndim < 0 ? 0 : shape->ndim > DCNN_MAX_DIMS ? DCNN_MAX_DIMS : shape->ndim;
  for (int32_t i = 0; i < ndim && used < size; ++i)
    used += snprintf(buf + used, (size_t)(size - used), i ? ", %d" : "%d", (int)shape->dims[i]);
  if (used < size) snprintf(buf + used, (size_t)(size - used), ")");
  return buf;
}

static dcnn_status check_shape(const char *fn, const dcnn_shape *shape) {
  DCNN_CHECK(shape != NULL, DCNN_ERR_INVALID_ARGUMENT, "%s: argument 'shape' is NULL", fn);
  char text[64];
  DCNN_CHECK(dcnn__shape_valid(shape), DCNN_ERR_INVALID_ARGUMENT,
             "%s: invalid shape %s (ndim %d; 1 to 4 dimensions of at least 1, at most 2^40 elements)", fn,
             dcnn_shape_format(shape, text, sizeof text), (int)shape->ndim);
  return DCNN_OK;
}

dcnn_status dcnn__tensor_create_capacity(dcnn_context *ctx, const dcnn_shape *shape, int64_t capacity,
                                         dcnn_tensor **out) {
  DCNN_CHECK_ARG_IN("dcnn_tensor_create", out);
  *out = NULL;
  DCNN_TRY(check_shape("dcnn_tensor_create", shape));
  int64_t count = dcnn_shape_count(shape);
  if (capacity < count) capacity = count;
  dcnn_tensor *t = dcnn__calloc(ctx, 1, sizeof *t);
  DCNN_CHECK(t != NULL, DCNN_ERR_OUT_OF_MEMORY, "dcnn_tensor_create: out of memory for the handle");
  t->data = dcnn__calloc(ctx, (size_t)capacity, sizeof(float));
  if (!t->data) {
    dcnn__release(ctx, t);
    char text[64];
    return dcnn__fail(DCNN_ERR_OUT_OF_MEMORY, "dcnn_tensor_create: out of memory for %lld floats of shape %s",
                      (long long)capacity, dcnn_shape_format(shape, text, sizeof text));
  }
  t->ctx = ctx;
  t->shape = *shape;
  t->count = count;
  t->capacity = capacity;
  t->owns_data = 1;
  *out = t;
  return DCNN_OK;
}

dcnn_status dcnn_tensor_create(dcnn_context *ctx, const dcnn_shape *shape, dcnn_tensor **out) {
  return dcnn__tensor_create_capacity(ctx, shape, 0, out);
}

dcnn_status dcnn_tensor_wrap(dcnn_context *ctx, const dcnn_shape *shape, float *data, dcnn_tensor **out) {
  DCNN_CHECK_ARG(out);
  *out = NULL;
  DCNN_CHECK_ARG(data);
  DCNN_TRY(check_shape("dcnn_tensor_wrap", shape));
  dcnn_tensor *t = dcnn__calloc(ctx, 1, sizeof *t);
  DCNN_CHECK(t != NULL, DCNN_ERR_OUT_OF_MEMORY, "dcnn_tensor_wrap: out of memory for the handle");
  t->ctx = ctx;
  t->shape = *shape;
  t->count = t->capacity = dcnn_shape_count(shape);
  t->data = data;
  t->owns_data = 0;
  *out = t;
  return DCNN_OK;
}

dcnn_status dcnn_tensor_view(dcnn_tensor *src, const dcnn_shape *shape, dcnn_tensor **out) {
  DCNN_CHECK_ARG(out);
  *out = NULL;
  DCNN_CHECK_ARG(src);
  DCNN_TRY(check_shape("dcnn_tensor_view", shape));
  char a[64], b[64];
  DCNN_CHECK(dcnn_shape_count(shape) == src->count, DCNN_ERR_SHAPE_MISMATCH,
             "dcnn_tensor_view: a view of shape %s cannot show a tensor of shape %s (element counts differ)",
             dcnn_shape_format(shape, a, sizeof a), dcnn_shape_format(&src->shape, b, sizeof b));
  return dcnn_tensor_wrap(src->ctx, shape, src->data, out);
}

void dcnn_tensor_destroy(dcnn_tensor *t) {
  if (!t) return;
  if (t->owns_data) dcnn__release(t->ctx, t->data);
  dcnn__release(t->ctx, t);
}

dcnn_shape dcnn_tensor_shape(const dcnn_tensor *t) {
  if (!t) return dcnn_shape_make(0, 0, 0, 0, 0);
  return t->shape;
}

int64_t dcnn_tensor_count(const dcnn_tensor *t) { return t ? t->count : 0; }

float *dcnn_tensor_data(dcnn_tensor *t) { return t ? t->data : NULL; }

const float *dcnn_tensor_data_const(const dcnn_tensor *t) { return t ? t->data : NULL; }

dcnn_status dcnn_tensor_fill(dcnn_tensor *t, float value) {
  DCNN_CHECK_ARG(t);
  for (int64_t i = 0; i < t->count; ++i) t->data[i] = value;
  return DCNN_OK;
}

dcnn_status dcnn_tensor_copy(dcnn_tensor *dst, const dcnn_tensor *src) {
  DCNN_CHECK_ARG(dst);
  DCNN_CHECK_ARG(src);
  char a[64], b[64];
  DCNN_CHECK(dcnn_shape_equal(&dst->shape, &src->shape), DCNN_ERR_SHAPE_MISMATCH,
             "dcnn_tensor_copy: destination shape %s differs from source shape %s",
             dcnn_shape_format(&dst->shape, a, sizeof a), dcnn_shape_format(&src->shape, b, sizeof b));
  if (dst->data != src->data) memmove(dst->data, src->data, (size_t)src->count * sizeof(float));
  return DCNN_OK;
}

dcnn_status dcnn_tensor_reshape(dcnn_tensor *t, const dcnn_shape *shape) {
  DCNN_CHECK_ARG(t);
  DCNN_TRY(check_shape("dcnn_tensor_reshape", shape));
  char given[64];
  DCNN_CHECK(!t->shape_locked, DCNN_ERR_INVALID_STATE,
             "dcnn_tensor_reshape: the %s tensor is a layer's output or gradient, whose shape the library sets "
             "(the next layer relies on it)", dcnn_shape_format(&t->shape, given, sizeof given));
  char a[64], b[64];
  DCNN_CHECK(dcnn_shape_count(shape) == t->count, DCNN_ERR_SHAPE_MISMATCH,
             "dcnn_tensor_reshape: cannot reshape %s to %s (element counts differ)",
             dcnn_shape_format(&t->shape, a, sizeof a), dcnn_shape_format(shape, b, sizeof b));
  t->shape = *shape;
  return DCNN_OK;
}

dcnn_status dcnn__tensor_set_shape(dcnn_tensor *t, const dcnn_shape *shape) {
  DCNN_TRY(check_shape("tensor resize", shape));
  int64_t count = dcnn_shape_count(shape);
  char a[64];
  DCNN_CHECK(count <= t->capacity, DCNN_ERR_SHAPE_MISMATCH,
             "tensor resize: shape %s needs %lld elements, capacity is %lld",
             dcnn_shape_format(shape, a, sizeof a), (long long)count, (long long)t->capacity);
  t->shape = *shape;
  t->count = count;
  return DCNN_OK;
}

dcnn_status dcnn__tensor_set_batch(dcnn_tensor *t, int32_t batch) {
  dcnn_shape s = t->shape;
  s.dims[0] = batch;
  return dcnn__tensor_set_shape(t, &s);
}

/* a + (b - a) u in [a, b) for u in [0, 1). In float, b - a overflows for
 * bounds near FLT_MAX and the sum can round up to b when [a, b) holds few
 * floats; only those draws are redone in double and kept below b, so every
 * draw the float formula got right (all of the usual initialisations) keeps
 * its bits. */
static float uniform_in(float a, float b, float u) {
  const float v = a + (b - a) * u;
  if (v < b) return v; /* also false for NaN (an infinite b - a times u = 0) */
  const float w = (float)((double)a + ((double)b - (double)a) * (double)u);
  return w < b ? w : nextafterf(b, a);
}

dcnn_status dcnn_tensor_fill_random(dcnn_tensor *t, dcnn_distribution dist, float a, float b, uint64_t seed,
                                    uint64_t stream) {
  DCNN_CHECK_ARG(t);
  if (dist == DCNN_DIST_UNIFORM) {
    DCNN_CHECK(a < b && isfinite(a) && isfinite(b), DCNN_ERR_INVALID_ARGUMENT,
               "dcnn_tensor_fill_random: uniform bounds [%g, %g) are empty or not finite", (double)a, (double)b);
    for (int64_t i = 0; i < t->count; ++i)
      t->data[i] = uniform_in(a, b, dcnn_random_uniform(seed, stream, (uint64_t)i));
    return DCNN_OK;
  }
  DCNN_CHECK(dist == DCNN_DIST_NORMAL, DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_tensor_fill_random: unknown distribution %d", (int)dist);
  DCNN_CHECK(b >= 0 && isfinite(a) && isfinite(b), DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_tensor_fill_random: normal needs a finite mean and a standard deviation >= 0 (got %g, %g)",
             (double)a, (double)b);
  /* the draws reach about 6.7 standard deviations (Box-Muller on 32-bit uniforms): every value must be a float */
  DCNN_CHECK(fabs((double)a) + 7.0 * (double)b <= FLT_MAX, DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_tensor_fill_random: normal(%g, %g) draws values beyond the float range", (double)a, (double)b);
  for (int64_t i = 0; i < t->count; ++i) t->data[i] = a + b * dcnn_random_normal(seed, stream, (uint64_t)i);
  return DCNN_OK;
}

dcnn_status dcnn_tensor_init(dcnn_tensor *t, dcnn_initializer init, int64_t fan_in, int64_t fan_out,
                             uint64_t seed, uint64_t stream) {
  DCNN_CHECK_ARG(t);
  DCNN_CHECK(fan_in >= 1 && fan_out >= 1, DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_tensor_init: fan_in (%lld) and fan_out (%lld) must be at least 1", (long long)fan_in,
             (long long)fan_out);
  /* Summed as doubles: fans up to INT64_MAX are valid, their int64 sum may overflow. */
  double glorot = 2.0 / ((double)fan_in + (double)fan_out), he = 2.0 / (double)fan_in;
  switch (init) {
    case DCNN_INIT_ZEROS: return dcnn_tensor_fill(t, 0.0f);
    case DCNN_INIT_ONES: return dcnn_tensor_fill(t, 1.0f);
    case DCNN_INIT_GLOROT_UNIFORM: {
      float limit = (float)sqrt(3.0 * glorot);
      return dcnn_tensor_fill_random(t, DCNN_DIST_UNIFORM, -limit, limit, seed, stream);
    }
    case DCNN_INIT_GLOROT_NORMAL:
      return dcnn_tensor_fill_random(t, DCNN_DIST_NORMAL, 0.0f, (float)sqrt(glorot), seed, stream);
    case DCNN_INIT_HE_UNIFORM: {
      float limit = (float)sqrt(3.0 * he);
      return dcnn_tensor_fill_random(t, DCNN_DIST_UNIFORM, -limit, limit, seed, stream);
    }
    case DCNN_INIT_HE_NORMAL:
      return dcnn_tensor_fill_random(t, DCNN_DIST_NORMAL, 0.0f, (float)sqrt(he), seed, stream);
  }
  return dcnn__fail(DCNN_ERR_INVALID_ARGUMENT, "dcnn_tensor_init: unknown initializer %d", (int)init);
}
