/* Helpers shared by the unit tests: cmocka includes, an allocator that fails on
 * demand, and finite-difference gradient checks. */
#ifndef DCNN_TEST_SUPPORT_H
#define DCNN_TEST_SUPPORT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <digitcnn.h>

/* A scratch directory for one test program: test_dir_create(prefix) makes
 * $TMPDIR/prefix-XXXXXX (0, or -1 on failure, as a cmocka group setup returns)
 * and test_dir_remove deletes it with what it holds. */
extern char test_dir[256];
int test_dir_create(const char *prefix);
int test_dir_remove(void);
/* test_dir/name, in one of 8 rotating buffers (valid for the next 7 calls). */
const char *test_dir_path(const char *name);
/* Writes `size` bytes to test_dir_path(name), asserting success. */
void test_dir_write(const char *name, const void *data, size_t size);

/* An allocator that succeeds `allow` times and then fails (allow < 0: never fails). */
typedef struct failing_allocator {
  int64_t allow;
  int64_t calls;
} failing_allocator;

dcnn_allocator failing_allocator_hooks(failing_allocator *state);

/* An allocator that refuses requests above `limit` bytes and records the
 * largest it was asked for (refused ones included). */
typedef struct capped_allocator {
  size_t limit, largest;
} capped_allocator;

dcnn_allocator capped_allocator_hooks(capped_allocator *state);

/* An allocator that hands the block released last to the next request it
 * fits, as pool and arena allocators may: a new object can then land at the
 * address of one just destroyed. */
typedef struct recycling_allocator {
  void *held;     /* the block released last, kept for the next request */
  int64_t reused; /* requests served with a held block */
} recycling_allocator;

dcnn_allocator recycling_allocator_hooks(recycling_allocator *state);
/* Frees the held block (after the context that used the hooks is destroyed). */
void recycling_allocator_drain(recycling_allocator *state);

/* An allocator that counts the bytes it holds, records the peak, and refuses
 * beyond `cap` (so that a regression fails a test instead of exhausting the
 * machine), noting the refusal. */
typedef struct counting_allocator {
  int64_t live, peak, cap;
  int refused;
} counting_allocator;

dcnn_allocator counting_allocator_hooks(counting_allocator *state);

/* A context whose allocator is `count`'s (destroy it after the objects made in it), and in it a model of one
 * dense layer, 1024 inputs to 1024 units with bias (4 MB of weights), initialised with seed 1. */
dcnn_context *counted_context(counting_allocator *count);
dcnn_model *counted_dense_model(dcnn_context *ctx);

/* dcnn_attack_fgsm / dcnn_attack_pgd settings as values (asserting success). */
dcnn_attack test_fgsm(float epsilon);
dcnn_attack test_pgd(float epsilon);

/* Asserts a call returns `expected`, printing the library's message otherwise. */
#define assert_status(call, expected)                                                       \
  do {                                                                                      \
    dcnn_status status_ = (call);                                                           \
    if (status_ != (expected))                                                              \
      fail_msg("%s returned %s (%d), expected %s: %s", #call, dcnn_status_str(status_),    \
               (int)status_, dcnn_status_str(expected), dcnn_last_error());                \
  } while (0)

#define assert_ok(call) assert_status(call, DCNN_OK)

/* Asserts the last error message contains `needle`. */
void assert_error_mentions(const char *needle);

/* Fresh context with `threads` threads; fails the test on error. */
dcnn_context *test_context(int32_t threads);

/* A paper CNN, its Adam optimizer and a random (batch, 1, 28, 28) batch with
 * labels i % 10, after one training step: memory is planned and the
 * optimizer bound, so further steps are steady-state. `labels` holds `batch`. */
typedef struct paper_setup {
  dcnn_model *model;
  dcnn_optimizer *adam;
  dcnn_tensor *x;
  int32_t labels[64];
} paper_setup;
void paper_setup_create(dcnn_context *ctx, int32_t batch, paper_setup *out);
void paper_setup_destroy(paper_setup *p);

/* Zoo options for (height, width, channels) inputs, `classes` and `seed`, the
 * rest default. Points to per-thread storage overwritten by the next call. */
const dcnn_zoo_options *test_zoo(int32_t height, int32_t width, int32_t channels, int32_t classes, uint64_t seed);

/* Appends flatten, dense (`classes` units, with bias) and softmax to `m`: the
 * classifier head of the small models the tests build. */
void test_add_classifier(dcnn_model *m, int32_t classes);

/* A tiny dataset of n <= 200 6x6 gray images in 2 classes: the class is which
 * half is bright (learnable in a few steps). */
dcnn_dataset *test_halves(int32_t n);

/* The MNIST-M directory (DCNN_MNIST_M_DIR, set by CTest), or NULL after
 * printing why the caller should skip() when it is absent. */
const char *test_mnist_m_dir(void);

#endif
