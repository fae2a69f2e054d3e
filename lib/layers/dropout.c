/* Inverted dropout: training keeps x with probability 1 - rate and scales it by
 * 1 / (1 - rate); inference is the identity. The mask of element i is word
 * i mod 4 of the Philox block (dcnn_exec_seed, 0, i / 4), so it does not
 * depend on the thread count (lib/kernels/dropout.c); in data-parallel
 * training i counts from the global batch's start, so it does not depend on
 * the number of processes either. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/c_locale.h"
#include "../kernels/pointwise.h"
#include "layer_internal.h"

/* Elements per lane (a multiple of 4: lanes start on a Philox block). */
#define DROPOUT_LANE 16384

typedef struct dropout {
  float rate;
  int64_t sample_count;
  dcnn_context *ctx;
  uint8_t *mask; /* (max_batch * sample_count) */
  int32_t planned_batch;
} dropout;

static dcnn_status dropout_build(void *self, dcnn_context *ctx, const dcnn_shape *in, dcnn_shape *out) {
  dropout *l = self;
  l->ctx = ctx;
  l->sample_count = dcnn_shape_count(in);
  *out = *in;
  return DCNN_OK;
}

static dcnn_status dropout_plan(void *self, dcnn_context *ctx, int32_t max_batch) {
  dropout *l = self;
  if (max_batch <= l->planned_batch) return DCNN_OK;
  size_t count = (size_t)max_batch * (size_t)l->sample_count;
  uint8_t *mask = dcnn__alloc(ctx, count);
  DCNN_CHECK(mask != NULL, DCNN_ERR_OUT_OF_MEMORY, "dropout: out of memory for a mask of %zu bytes", count);
  dcnn__release(ctx, l->mask);
  l->mask = mask;
  l->planned_batch = max_batch;
  return DCNN_OK;
}

static dcnn_status dropout_forward(void *self, dcnn_exec *exec, const dcnn_tensor *x, dcnn_tensor *y) {
  dropout *l = self;
  const int64_t n = x->count;
  if (!dcnn_exec_training(exec) || l->rate == 0.0f) {
    if (y->data != x->data) memcpy(y->data, x->data, (size_t)n * sizeof(float));
    return DCNN_OK;
  }
  DCNN_CHECK(x->shape.dims[0] <= l->planned_batch, DCNN_ERR_INVALID_STATE,
             "dropout: batch %d exceeds the planned %d", (int)x->shape.dims[0], (int)l->planned_batch);
  const uint64_t seed = dcnn_exec_seed(exec);
  /* In data-parallel training the batch is a slice of the global batch: the
   * mask is drawn at the global positions, as one process would. */
  const int64_t first = dcnn__exec_sample_offset(exec) * l->sample_count;
  const float scale = 1.0f / (1.0f - l->rate);
  /* keep when the word's top 24 bits, as a uniform in [0, 1), are >= rate */
  const uint32_t threshold = (uint32_t)ceilf(l->rate * 16777216.0f);
  const int32_t threads = dcnn_exec_threads(exec);
  const int64_t lanes = (n + DROPOUT_LANE - 1) / DROPOUT_LANE;
#pragma omp parallel for num_threads(threads) if (threads > 1 && lanes > 1) schedule(static)
  for (int64_t k = 0; k < lanes; ++k) {
    const int64_t begin = k * DROPOUT_LANE, count = n - begin < DROPOUT_LANE ? n - begin : DROPOUT_LANE;
    dcnn__dropout_forward(seed, first + begin, count, threshold, scale, x->data + begin, y->data + begin,
                          l->mask + begin);
  }
  return DCNN_OK;
}

static dcnn_status dropout_backward(void *self, dcnn_exec *exec, const dcnn_tensor *x, const dcnn_tensor *y,
                                    const dcnn_tensor *dy, dcnn_tensor *dx) {
  (void)x;
  (void)y;
  dropout *l = self;
  if (!dx) return DCNN_OK;
  const int64_t n = dy->count;
  if (!dcnn_exec_training(exec) || l->rate == 0.0f) {
    memcpy(dx->data, dy->data, (size_t)n * sizeof(float));
    return DCNN_OK;
  }
  const float scale = 1.0f / (1.0f - l->rate);
  const int32_t threads = dcnn_exec_threads(exec);
  const int64_t lanes = (n + DROPOUT_LANE - 1) / DROPOUT_LANE;
#pragma omp parallel for num_threads(threads) if (threads > 1 && lanes > 1) schedule(static)
  for (int64_t k = 0; k < lanes; ++k) {
    const int64_t begin = k * DROPOUT_LANE, count = n - begin < DROPOUT_LANE ? n - begin : DROPOUT_LANE;
    dcnn__dropout_backward(l->mask + begin, scale, dy->data + begin, dx->data + begin, count);
  }
  return DCNN_OK;
}

static dcnn_status dropout_describe(const void *self, char *buf, int32_t size) {
  char rate[32];
  dcnn__format_double(rate, sizeof rate, 9, (double)((const dropout *)self)->rate);
  snprintf(buf, (size_t)size, "rate=%s", rate);
  return DCNN_OK;
}

static void dropout_destroy(void *self) {
  dropout *l = self;
  dcnn__release(l->ctx, l->mask);
  dcnn__release(NULL, l); /* dcnn__new_layer */
}

static const dcnn_layer_vtable dropout_vtable = {
    .abi_version = DCNN_LAYER_ABI_VERSION,
    .flags = DCNN_LAYER_SHARED_INFERENCE,
    .type_name = "dropout",
    .build = dropout_build,
    .plan = dropout_plan,
    .forward = dropout_forward,
    .backward = dropout_backward,
    .describe = dropout_describe,
    .destroy = dropout_destroy,
};

dcnn_status dcnn_dropout_create(float rate, dcnn_layer **out) {
  DCNN_CHECK_ARG(out);
  *out = NULL;
  DCNN_CHECK(rate >= 0.0f && rate < 1.0f, DCNN_ERR_INVALID_ARGUMENT, "dropout: rate %g is outside [0, 1)",
             (double)rate);
  dropout *l;
  DCNN_TRY(dcnn__new_layer(&dropout_vtable, sizeof *l, out, (void **)&l));
  l->rate = rate;
  return DCNN_OK;
}

/* The builtin table's factory (builtin_table.c): the keys dropout_describe writes. */
dcnn_status dcnn__dropout_from_config(const char *config, void *user, dcnn_layer **out) {
  (void)user;
  dcnn__kv kv = dcnn__kv_reader(config);
  float rate = 0;
  DCNN_TRY(dcnn__kv_float(&kv, "rate", &rate));
  /* A value the create call refuses is a malformed configuration (BAD_FORMAT naming the key), not a bad argument. */
  DCNN_CHECK(rate >= 0.0f && rate < 1.0f, DCNN_ERR_BAD_FORMAT, "'rate=%g' is outside [0, 1)", (double)rate);
  DCNN_TRY(dcnn__kv_finish(&kv));
  return dcnn_dropout_create(rate, out);
}
