/* Epochs of batches over a dataset through a pipeline. */
#include <string.h>

#include "data_internal.h"
#include "digitcnn/random.h"

struct dcnn_batcher {
  dcnn_context *ctx;
  const dcnn_dataset *ds;
  dcnn_pipeline *pipeline;
  int32_t batch_size;
  uint32_t flags;
  uint64_t seed;
  int64_t epoch;
  int32_t position;
  int32_t *order;  /* (count) */
  int32_t *labels; /* (capacity): min(batch_size, count), the most a batch holds */
  dcnn_tensor *images;
  dcnn_shape sample; /* (C, H, W) of every batch: a caller may reshape the borrowed images in between */
};

/* The borrowed images as (n, C, H, W), whatever shape the caller gave them since the last batch. */
static dcnn_status set_rows(dcnn_batcher *b, int32_t n) {
  const dcnn_shape shape = dcnn_shape_make(4, n, b->sample.dims[0], b->sample.dims[1], b->sample.dims[2]);
  return dcnn__tensor_set_shape(b->images, &shape);
}

dcnn_status dcnn_batcher_create(dcnn_context *ctx, const dcnn_dataset *ds, dcnn_pipeline *p, int32_t batch_size,
                                uint32_t flags, uint64_t seed, dcnn_batcher **out) {
  DCNN_CHECK_ARG(out);
  *out = NULL;
  DCNN_CHECK_ARG(ds);
  DCNN_CHECK_ARG(p);
  DCNN_CHECK(batch_size >= 1, DCNN_ERR_INVALID_ARGUMENT, "dcnn_batcher_create: batch size %d must be at least 1",
             (int)batch_size);
  DCNN_CHECK((flags & ~7u) == 0, DCNN_ERR_INVALID_ARGUMENT, "dcnn_batcher_create: unknown flags 0x%x",
             (unsigned)flags);
  dcnn_shape sample;
  DCNN_TRY(dcnn_pipeline_sample_shape(p, ds, &sample));
  dcnn_batcher *b = dcnn__calloc(ctx, 1, sizeof *b);
  DCNN_CHECK(b != NULL, DCNN_ERR_OUT_OF_MEMORY, "dcnn_batcher_create: out of memory");
  b->ctx = ctx;
  b->ds = ds;
  b->pipeline = p;
  b->batch_size = batch_size;
  b->flags = flags;
  b->seed = seed;
  b->sample = sample;
  /* A batch size beyond the dataset (any up to INT32_MAX is valid) must not
   * cost memory for samples there are not. */
  const int32_t capacity = batch_size < ds->count ? batch_size : ds->count;
  b->order = dcnn__alloc(ctx, (size_t)ds->count * sizeof(int32_t));
  b->labels = dcnn__alloc(ctx, (size_t)capacity * sizeof(int32_t));
  dcnn_shape batch = dcnn_shape_make(4, capacity, sample.dims[0], sample.dims[1], sample.dims[2]);
  dcnn_status status = (b->order && b->labels) ? DCNN_OK : dcnn__fail(DCNN_ERR_OUT_OF_MEMORY, "dcnn_batcher_create: out of memory");
  if (status == DCNN_OK) status = dcnn__tensor_create_capacity(ctx, &batch, 0, &b->images);
  if (status == DCNN_OK) status = dcnn_batcher_start_epoch(b, 0);
  if (status != DCNN_OK) {
    dcnn_batcher_destroy(b);
    return status;
  }
  *out = b;
  return DCNN_OK;
}

void dcnn_batcher_destroy(dcnn_batcher *b) {
  if (!b) return;
  dcnn_tensor_destroy(b->images);
  dcnn__release(b->ctx, b->order);
  dcnn__release(b->ctx, b->labels);
  dcnn__release(b->ctx, b);
}

dcnn_status dcnn_batcher_start_epoch(dcnn_batcher *b, int64_t epoch) {
  DCNN_CHECK_ARG(b);
  DCNN_CHECK(epoch >= 0, DCNN_ERR_INVALID_ARGUMENT, "dcnn_batcher_start_epoch: epoch %lld is negative",
             (long long)epoch);
  const int32_t n = b->ds->count;
  for (int32_t i = 0; i < n; ++i) b->order[i] = i;
  if (b->flags & DCNN_BATCH_SHUFFLE) {
    const uint64_t seed = dcnn_random_derive(b->seed, 0x5F00u + (uint64_t)epoch);
    for (int32_t i = n - 1; i > 0; --i) {
      int32_t j = (int32_t)dcnn__random_below(seed, 0, (uint64_t)i, (uint32_t)(i + 1));
      int32_t t = b->order[i];
      b->order[i] = b->order[j];
      b->order[j] = t;
    }
  }
  b->epoch = epoch;
  b->position = 0;
  return DCNN_OK;
}

dcnn_status dcnn__batcher_skip(dcnn_batcher *b, int32_t batches) {
  DCNN_CHECK(batches >= 0 && batches <= dcnn_batcher_batches_per_epoch(b), DCNN_ERR_INVALID_STATE,
             "batcher: cannot skip %d batches of an epoch of %d", (int)batches, (int)dcnn_batcher_batches_per_epoch(b));
  const int64_t position = (int64_t)batches * b->batch_size;
  b->position = position < b->ds->count ? (int32_t)position : b->ds->count;
  return DCNN_OK;
}

int32_t dcnn_batcher_batches_per_epoch(const dcnn_batcher *b) {
  if (!b) return 0;
  const int32_t n = b->ds->count;
  const int32_t whole = n / b->batch_size; /* no n + batch_size - 1: it overflows for batches near INT32_MAX */
  return (b->flags & DCNN_BATCH_DROP_LAST) || n % b->batch_size == 0 ? whole : whole + 1;
}

dcnn_status dcnn_batcher_next(dcnn_batcher *b, dcnn_tensor **images, const int32_t **labels, int32_t *count) {
  DCNN_CHECK_ARG(b);
  DCNN_CHECK_ARG(images);
  DCNN_CHECK_ARG(labels);
  DCNN_CHECK_ARG(count);
  *count = 0;
  const int32_t remaining = b->ds->count - b->position;
  int32_t n = remaining < b->batch_size ? remaining : b->batch_size;
  if (n <= 0 || (n < b->batch_size && (b->flags & DCNN_BATCH_DROP_LAST))) return DCNN_OK;
  DCNN_TRY(set_rows(b, n));
  const dcnn_augmentation augment = (b->flags & DCNN_BATCH_AUGMENT) ? DCNN_AUGMENT_ON : DCNN_AUGMENT_OFF;
  DCNN_TRY(dcnn_pipeline_batch(b->pipeline, b->ds, b->order + b->position, n, augment,
                               b->seed, b->epoch, b->images, b->labels));
  b->position += n;
  *images = b->images;
  *labels = b->labels;
  *count = n;
  return DCNN_OK;
}

dcnn_status dcnn__batcher_next_shard(dcnn_batcher *b, int32_t rank, int32_t size, dcnn_tensor **images,
                                     const int32_t **labels, int32_t *count, int32_t *global, int64_t *offset) {
  DCNN_CHECK(size >= 1 && rank >= 0 && rank < size, DCNN_ERR_INVALID_ARGUMENT, "batcher: rank %d of %d", (int)rank,
             (int)size);
  *count = *global = 0;
  *offset = 0;
  const int32_t remaining = b->ds->count - b->position;
  const int32_t n = remaining < b->batch_size ? remaining : b->batch_size;
  if (n <= 0 || (n < b->batch_size && (b->flags & DCNN_BATCH_DROP_LAST))) return DCNN_OK;
  if (n < size) rank = 0, size = 1; /* too few to slice: every process takes the whole batch */
  const int32_t lo = (int32_t)((int64_t)n * rank / size), hi = (int32_t)((int64_t)n * (rank + 1) / size);
  if (hi > lo) {
    DCNN_TRY(set_rows(b, hi - lo));
    const dcnn_augmentation augment = (b->flags & DCNN_BATCH_AUGMENT) ? DCNN_AUGMENT_ON : DCNN_AUGMENT_OFF;
    /* augmentation draws from each sample's dataset index: the slice's samples are as in the whole batch */
    DCNN_TRY(dcnn_pipeline_batch(b->pipeline, b->ds, b->order + b->position + lo, hi - lo, augment, b->seed, b->epoch,
                                 b->images, b->labels));
  }
  b->position += n;
  *images = b->images;
  *labels = b->labels;
  *count = hi - lo;
  *global = n;
  *offset = lo;
  return DCNN_OK;
}
