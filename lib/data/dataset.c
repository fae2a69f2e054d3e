/* Datasets: reference-counted image stores and index views over them. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data_internal.h"
#include "digitcnn/random.h"

static atomic_uint_fast64_t next_store_id = 1;

dcnn_status dcnn__store_check(int32_t count, int32_t height, int32_t width, int32_t channels, int32_t classes) {
  DCNN_CHECK(count >= 1 && height >= 1 && width >= 1 && (channels == 1 || channels == 3) && classes >= 1,
             DCNN_ERR_INVALID_ARGUMENT,
             "dataset: invalid size (%d images of %dx%dx%d, %d classes; channels must be 1 or 3)", (int)count,
             (int)height, (int)width, (int)channels, (int)classes);
  /* In double: sides near 2^31 overflow int64 products (the message too, not only the test). */
  const double image = (double)height * width * channels, total = (double)count * image;
  DCNN_CHECK(image <= (double)DCNN__STORE_IMAGE_BYTES && total <= (double)(INT64_C(1) << 36),
             DCNN_ERR_INVALID_ARGUMENT,
             "dataset: %d image%s of %dx%dx%d (%.0f bytes each, %.0f in all) %s too large: at most 2^26 bytes per "
             "image and 2^36 in all",
             (int)count, count == 1 ? "" : "s", (int)height, (int)width, (int)channels, image, total,
             count == 1 ? "is" : "are");
  return DCNN_OK;
}

dcnn_status dcnn__store_create(dcnn_context *ctx, int32_t count, int32_t height, int32_t width, int32_t channels,
                               int32_t classes, dcnn_image_store **out) {
  *out = NULL;
  DCNN_TRY(dcnn__store_check(count, height, width, channels, classes));
  return dcnn__store_create_unchecked(ctx, count, height, width, channels, classes, out);
}

dcnn_status dcnn__store_create_unchecked(dcnn_context *ctx, int32_t count, int32_t height, int32_t width,
                                         int32_t channels, int32_t classes, dcnn_image_store **out) {
  *out = NULL;
  const int64_t image = (int64_t)height * width * channels;
  dcnn_image_store *s = dcnn__calloc(ctx, 1, sizeof *s);
  DCNN_CHECK(s != NULL, DCNN_ERR_OUT_OF_MEMORY, "dataset: out of memory");
  s->pixels = dcnn__alloc(ctx, (size_t)(count * image));
  s->labels = dcnn__alloc(ctx, (size_t)count * sizeof(int32_t));
  if (!s->pixels || !s->labels) {
    dcnn__release(ctx, s->pixels);
    dcnn__release(ctx, s->labels);
    dcnn__release(ctx, s);
    return dcnn__fail(DCNN_ERR_OUT_OF_MEMORY, "dataset: out of memory for %d images of %dx%dx%d", (int)count,
                      (int)height, (int)width, (int)channels);
  }
  atomic_init(&s->refs, 1);
  s->ctx = ctx;
  s->id = atomic_fetch_add(&next_store_id, 1);
  s->count = count;
  s->height = height;
  s->width = width;
  s->channels = channels;
  s->classes = classes;
  *out = s;
  return DCNN_OK;
}

void dcnn__store_release(dcnn_image_store *s) {
  if (!s || atomic_fetch_sub(&s->refs, 1) != 1) return;
  dcnn_context *ctx = s->ctx;
  dcnn__release(ctx, s->pixels);
  dcnn__release(ctx, s->labels);
  dcnn__release(ctx, s->source_text);
  dcnn__release(ctx, s->source_offsets);
  dcnn__release(ctx, s);
}

static int by_index(const void *a, const void *b) {
  const int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
  return (x > y) - (x < y);
}

static dcnn_status new_view(dcnn_image_store *store, int32_t count, int32_t *indices, dcnn_dataset **out) {
  dcnn_dataset *ds = dcnn__calloc(store->ctx, 1, sizeof *ds);
  /* Repeated images (a subset that oversamples) must not share one augmentation: noted for the pipeline.
   * Found in a sorted copy, whose cost follows the view's size, not the store's. */
  int32_t *sorted = ds && indices && count > 1 ? dcnn__alloc(store->ctx, (size_t)count * sizeof(int32_t)) : NULL;
  if (!ds || (indices && count > 1 && !sorted)) {
    dcnn__release(store->ctx, ds);
    dcnn__release(store->ctx, indices);
    return dcnn__fail(DCNN_ERR_OUT_OF_MEMORY, "dataset: out of memory");
  }
  if (sorted) {
    memcpy(sorted, indices, (size_t)count * sizeof(int32_t));
    qsort(sorted, (size_t)count, sizeof(int32_t), by_index);
    for (int32_t i = 1; i < count && !ds->repeats; ++i) ds->repeats = sorted[i] == sorted[i - 1];
    dcnn__release(store->ctx, sorted);
  }
  atomic_fetch_add(&store->refs, 1);
  ds->ctx = store->ctx;
  ds->store = store;
  ds->count = count;
  ds->indices = indices;
  *out = ds;
  return DCNN_OK;
}

dcnn_status dcnn__dataset_from_store(dcnn_image_store *store, dcnn_dataset **out) {
  dcnn_status status = new_view(store, store->count, NULL, out);
  dcnn__store_release(store); /* the view holds its own reference now */
  return status;
}

dcnn_status dcnn_dataset_create(dcnn_context *ctx, int32_t count, int32_t height, int32_t width, int32_t channels,
                                const uint8_t *pixels, const int32_t *labels, int32_t classes, dcnn_dataset **out) {
  DCNN_CHECK_ARG(out);
  *out = NULL;
  DCNN_CHECK_ARG(pixels);
  DCNN_CHECK_ARG(labels);
  /* the sizes first: a count past the limits (or below 1) must not be read from `labels` */
  DCNN_TRY(dcnn__store_check(count, height, width, channels, classes));
  for (int32_t i = 0; i < count; ++i)
    DCNN_CHECK(labels[i] >= 0 && labels[i] < classes, DCNN_ERR_INVALID_ARGUMENT,
               "dcnn_dataset_create: label %d of sample %d is outside 0..%d", (int)labels[i], (int)i,
               (int)classes - 1);
  dcnn_image_store *s = NULL;
  DCNN_TRY(dcnn__store_create(ctx, count, height, width, channels, classes, &s));
  memcpy(s->pixels, pixels, (size_t)count * height * width * channels);
  memcpy(s->labels, labels, (size_t)count * sizeof(int32_t));
  return dcnn__dataset_from_store(s, out);
}

void dcnn_dataset_destroy(dcnn_dataset *ds) {
  if (!ds) return;
  dcnn_image_store *store = ds->store;
  dcnn__release(ds->ctx, ds->indices);
  dcnn__release(ds->ctx, ds);
  dcnn__store_release(store);
}

int32_t dcnn_dataset_count(const dcnn_dataset *ds) { return ds ? ds->count : 0; }

int32_t dcnn_dataset_classes(const dcnn_dataset *ds) { return ds ? ds->store->classes : 0; }

dcnn_status dcnn_dataset_image_size(const dcnn_dataset *ds, int32_t *height, int32_t *width, int32_t *channels) {
  DCNN_CHECK_ARG(ds);
  if (height) *height = ds->store->height;
  if (width) *width = ds->store->width;
  if (channels) *channels = ds->store->channels;
  return DCNN_OK;
}

dcnn_status dcnn_dataset_class_counts(const dcnn_dataset *ds, int64_t *counts, int32_t capacity) {
  DCNN_CHECK_ARG(ds);
  DCNN_CHECK_ARG(counts);
  DCNN_CHECK(capacity >= ds->store->classes, DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_dataset_class_counts: room for %d counts, the dataset has %d classes", (int)capacity,
             (int)ds->store->classes);
  memset(counts, 0, (size_t)ds->store->classes * sizeof *counts);
  for (int32_t i = 0; i < ds->count; ++i) counts[ds->store->labels[dcnn__store_index(ds, i)]]++;
  return DCNN_OK;
}

int32_t dcnn_dataset_label(const dcnn_dataset *ds, int32_t index) {
  if (!ds || index < 0 || index >= ds->count) return -1;
  return ds->store->labels[dcnn__store_index(ds, index)];
}

const uint8_t *dcnn_dataset_image(const dcnn_dataset *ds, int32_t index) {
  if (!ds || index < 0 || index >= ds->count) return NULL;
  const dcnn_image_store *s = ds->store;
  return s->pixels + (int64_t)dcnn__store_index(ds, index) * s->height * s->width * s->channels;
}

const char *dcnn_dataset_source(const dcnn_dataset *ds, int32_t index) {
  if (!ds || index < 0 || index >= ds->count || !ds->store->source_offsets) return NULL;
  return ds->store->source_text + ds->store->source_offsets[dcnn__store_index(ds, index)];
}

dcnn_status dcnn_dataset_subset(const dcnn_dataset *ds, const int32_t *indices, int32_t count, dcnn_dataset **out) {
  DCNN_CHECK_ARG(out);
  *out = NULL;
  DCNN_CHECK_ARG(ds);
  DCNN_CHECK_ARG(indices);
  DCNN_CHECK(count >= 1, DCNN_ERR_INVALID_ARGUMENT, "dcnn_dataset_subset: count %d must be at least 1", (int)count);
  for (int32_t i = 0; i < count; ++i)
    DCNN_CHECK(indices[i] >= 0 && indices[i] < ds->count, DCNN_ERR_INVALID_ARGUMENT,
               "dcnn_dataset_subset: index %d (entry %d) is outside 0..%d", (int)indices[i], (int)i,
               (int)ds->count - 1);
  int32_t *mapped = dcnn__alloc(ds->ctx, (size_t)count * sizeof(int32_t));
  DCNN_CHECK(mapped != NULL, DCNN_ERR_OUT_OF_MEMORY, "dcnn_dataset_subset: out of memory");
  for (int32_t i = 0; i < count; ++i) mapped[i] = dcnn__store_index(ds, indices[i]);
  return new_view(ds->store, count, mapped, out);
}

/* floor(fraction * count), where a product a few rounding errors short of a
 * whole number counts as that number: 0.29 * 100 is 28.999999999999996 in
 * double, and the caller meant 29. A few ulps, no more: a real fraction of a
 * sample (0.1 * 1000000009) still rounds down. round(), not nearbyint(): the
 * caller's rounding mode must not matter. */
static double share_of(double fraction, int64_t count) {
  const double share = fraction * (double)count, whole = round(share);
  return whole > share && whole - share <= 4 * DBL_EPSILON * whole ? whole : floor(share);
}

/* A class's remainder, fraction * count - floor (one rounding: the product;
 * taking the floor off is exact), and the class. */
typedef struct share_remainder {
  double remainder;
  int32_t cls;
} share_remainder;

/* Largest remainder first, then by class: an order, whatever qsort does. */
static int by_remainder(const void *a, const void *b) {
  const share_remainder *x = a, *y = b;
  if (x->remainder != y->remainder) return x->remainder < y->remainder ? 1 : -1;
  return (x->cls > y->cls) - (x->cls < y->cls);
}

static int by_class(const void *a, const void *b) {
  const share_remainder *x = a, *y = b;
  return (x->cls > y->cls) - (x->cls < y->cls);
}

/* Ranks the classes by remainder, largest first; a tie is a run: the
 * largest remainder not yet ranked and every remainder within rounding (64
 * ulps of the largest share, or of 1) below it, ranked by class. 0.1 of 7
 * and of 27 leave 0.70000000000000007 and 0.70000000000000018 in doubles, and
 * the larger class came first although data.h gives the tie to the lower
 * one. (A tolerance inside the comparison would not be an order, rounding
 * each remainder to a grid would split ties, and runs of neighbours would
 * chain distinct remainders together.) */
static void rank_remainders(share_remainder *rank, int32_t classes, double largest_share) {
  qsort(rank, (size_t)classes, sizeof *rank, by_remainder);
  const double base = fmax(largest_share, 1.0), rounding = 64 * (nextafter(base, INFINITY) - base);
  for (int32_t start = 0, end = 1; start < classes; start = end++) {
    while (end < classes && rank[start].remainder - rank[end].remainder <= rounding) ++end; /* from its first */
    qsort(rank + start, (size_t)(end - start), sizeof *rank, by_class);
  }
}

/* Samples of each class in the split-off side: its share rounded down, then
 * one more for the classes with the largest remainders (ties to the lower
 * class) until the total is `want`, the random split's size. Where the shares
 * rounded down already add up to `want` nothing changes, so such splits keep
 * the samples earlier versions chose. Rounding each share in double can put
 * the floors' sum on either side of `want`: the loop gives or takes back. */
static dcnn_status class_quotas(dcnn_context *ctx, double fraction, const int64_t *per_class, int32_t classes,
                                int64_t want, int64_t *quota) {
  share_remainder *rank = dcnn__alloc(ctx, (size_t)classes * sizeof *rank);
  DCNN_CHECK(rank != NULL, DCNN_ERR_OUT_OF_MEMORY, "dcnn_dataset_split: out of memory");
  int64_t total = 0;
  double largest_share = 0;
  for (int32_t c = 0; c < classes; ++c) {
    quota[c] = (int64_t)share_of(fraction, per_class[c]);
    total += quota[c];
    /* in [-ulp, 1): a share a few ulps short of whole (share_of) leaves about 0 */
    const double share = fraction * (double)per_class[c];
    rank[c] = (share_remainder){share - (double)quota[c], c};
    largest_share = fmax(largest_share, share);
  }
  rank_remainders(rank, classes, largest_share);
  /* Each pass moves every class at most one sample; `want` is within 1..n-1,
   * so some class can always give or take while the total is off. */
  while (total < want)
    for (int32_t r = 0; r < classes && total < want; ++r) {
      const int32_t c = rank[r].cls;
      if (quota[c] < per_class[c]) {
        quota[c]++;
        total++;
      }
    }
  while (total > want)
    for (int32_t r = classes - 1; r >= 0 && total > want; --r) {
      const int32_t c = rank[r].cls;
      if (quota[c] > 0) {
        quota[c]--;
        total--;
      }
    }
  dcnn__release(ctx, rank);
  return DCNN_OK;
}

dcnn_status dcnn_dataset_split(const dcnn_dataset *ds, double fraction, uint64_t seed, dcnn_split_strategy strategy,
                               dcnn_dataset **first, dcnn_dataset **second) {
  DCNN_CHECK_ARG(first);
  DCNN_CHECK_ARG(second);
  *first = *second = NULL;
  DCNN_CHECK_ARG(ds);
  DCNN_CHECK(fraction > 0.0 && fraction < 1.0, DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_dataset_split: fraction %g is outside (0, 1)", fraction);
  DCNN_CHECK(ds->count >= 2, DCNN_ERR_INVALID_ARGUMENT, "dcnn_dataset_split: %d samples cannot be split",
             (int)ds->count);
  DCNN_CHECK(strategy == DCNN_SPLIT_RANDOM || strategy == DCNN_SPLIT_STRATIFIED, DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_dataset_split: unknown strategy %d", (int)strategy);
  const int stratified = strategy == DCNN_SPLIT_STRATIFIED;
  const int32_t n = ds->count, classes = ds->store->classes;
  int32_t *order = dcnn__alloc(ds->ctx, (size_t)n * sizeof(int32_t));
  uint8_t *held = dcnn__calloc(ds->ctx, (size_t)n, 1);
  /* (classes) counts, a stratified split's only: a random one does not pay for a large class count */
  int64_t *per_class = stratified ? dcnn__calloc(ds->ctx, (size_t)classes, sizeof(int64_t)) : NULL;
  int64_t *taken = stratified ? dcnn__calloc(ds->ctx, (size_t)classes, sizeof(int64_t)) : NULL;
  int64_t *quota = stratified ? dcnn__calloc(ds->ctx, (size_t)classes, sizeof(int64_t)) : NULL;
  dcnn_status status = (order && held && (!stratified || (per_class && taken && quota)))
                           ? DCNN_OK
                           : dcnn__fail(DCNN_ERR_OUT_OF_MEMORY, "dcnn_dataset_split: out of memory");
  if (status == DCNN_OK) {
    /* Fisher-Yates with counter-based numbers: the same seed gives the same split. */
    for (int32_t i = 0; i < n; ++i) order[i] = i;
    for (int32_t i = n - 1; i > 0; --i) {
      int32_t j = (int32_t)dcnn__random_below(seed, 0x5117u, (uint64_t)i, (uint32_t)(i + 1));
      int32_t t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
    int64_t want = (int64_t)share_of(fraction, n);
    if (want < 1) want = 1;
    if (want > n - 1) want = n - 1;
    if (stratified) {
      dcnn_dataset_class_counts(ds, per_class, classes);
      status = class_quotas(ds->ctx, fraction, per_class, classes, want, quota);
      for (int32_t i = 0; status == DCNN_OK && i < n; ++i) {
        int32_t label = dcnn_dataset_label(ds, order[i]);
        if (taken[label] < quota[label]) {
          taken[label]++;
          held[order[i]] = 1;
        }
      }
    } else {
      for (int64_t i = 0; i < want; ++i) held[order[i]] = 1;
    }
    int32_t a = 0, b = 0;
    for (int32_t i = 0; status == DCNN_OK && i < n; ++i) {
      if (held[i]) order[n - 1 - b++] = i; /* filled from the end, reversed below */
      else order[a++] = i;
    }
    for (int32_t i = 0; i < b / 2; ++i) {
      int32_t t = order[a + i];
      order[a + i] = order[n - 1 - i];
      order[n - 1 - i] = t;
    }
    if (status == DCNN_OK) status = dcnn_dataset_subset(ds, order, a, first);
    if (status == DCNN_OK) status = dcnn_dataset_subset(ds, order + a, b, second);
  }
  dcnn__release(ds->ctx, order);
  dcnn__release(ds->ctx, held);
  dcnn__release(ds->ctx, per_class);
  dcnn__release(ds->ctx, taken);
  dcnn__release(ds->ctx, quota);
  if (status != DCNN_OK) {
    dcnn_dataset_destroy(*first);
    dcnn_dataset_destroy(*second);
    *first = *second = NULL;
  }
  return status;
}
