/* The steady-state training step allocates nothing at all: this test replaces
 * the C allocator for the whole process (OpenMP and OpenBLAS included) and
 * counts calls during ten training steps after a first one. Not built with
 * the sanitizers, which own the allocator. */
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>

#include "test_support.h"

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *ptr, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);
extern void __libc_free(void *ptr);

static atomic_int counting;
static atomic_long allocations;

static void note(void) {
  if (atomic_load(&counting)) atomic_fetch_add(&allocations, 1);
}

void *malloc(size_t size) {
  note();
  return __libc_malloc(size);
}
void *calloc(size_t count, size_t size) {
  note();
  return __libc_calloc(count, size);
}
void *realloc(void *ptr, size_t size) {
  note();
  return __libc_realloc(ptr, size);
}
void *aligned_alloc(size_t alignment, size_t size) {
  note();
  return __libc_memalign(alignment, size);
}
int posix_memalign(void **out, size_t alignment, size_t size) {
  note();
  *out = __libc_memalign(alignment, size);
  return *out ? 0 : ENOMEM;
}
void free(void *ptr) { __libc_free(ptr); }

static void training_step_calls_no_allocator(void **state) {
  (void)state;
  dcnn_context *ctx = test_context(2);
  dcnn_model *m = NULL;
  assert_ok(dcnn_zoo_paper_cnn(ctx, 1, 28, 28, 10, 1, &m));
  dcnn_optimizer *adam = NULL;
  assert_ok(dcnn_optimizer_create_adam(ctx, 1e-3f, 0.9f, 0.999f, 1e-7f, 0.0f, &adam));
  dcnn_shape s = dcnn_shape_make(4, 32, 1, 28, 28);
  dcnn_tensor *x = NULL;
  assert_ok(dcnn_tensor_create(ctx, &s, &x));
  assert_ok(dcnn_tensor_fill_random(x, DCNN_DIST_UNIFORM, 0.0f, 1.0f, 1, 0));
  int32_t labels[32];
  for (int i = 0; i < 32; ++i) labels[i] = i % 10;
  assert_ok(dcnn_model_train_step(m, adam, x, labels, NULL, NULL)); /* plans memory, binds the optimizer */
  atomic_store(&counting, 1);
  for (int i = 0; i < 10; ++i) assert_ok(dcnn_model_train_step(m, adam, x, labels, NULL, NULL));
  atomic_store(&counting, 0);
  print_message("heap allocations during 10 steady-state training steps: %ld\n", atomic_load(&allocations));
  assert_int_equal(atomic_load(&allocations), 0);
  /* The counter works: a model build allocates. */
  atomic_store(&counting, 1);
  dcnn_model *other = NULL;
  assert_ok(dcnn_zoo_lenet5(ctx, 1, 32, 32, 10, 1, &other));
  atomic_store(&counting, 0);
  assert_true(atomic_load(&allocations) > 0);
  dcnn_model_destroy(other);
  dcnn_tensor_destroy(x);
  dcnn_optimizer_destroy(adam);
  dcnn_model_destroy(m);
  dcnn_context_destroy(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(training_step_calls_no_allocator)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
