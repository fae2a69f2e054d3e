/* The steady-state training step allocates nothing: this test replaces the C
 * allocator for the whole process and counts calls during ten training steps
 * after a first one. With GCC (libgomp) the whole process makes none; LLVM's
 * OpenMP runtime allocates inside its own parallel-region entry, which is
 * counted apart and reported. Not built with the sanitizers, which own the
 * allocator. */
#define _GNU_SOURCE /* dladdr */
#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>

#include "test_support.h"

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *ptr, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);
extern void __libc_free(void *ptr);

static atomic_int counting;
static atomic_long allocations;

static atomic_long runtime_allocations; /* made inside the OpenMP runtime itself */
static void *callers[8];

/* Counts an allocation by who made it: the OpenMP runtime (LLVM's libomp
 * allocates on entering parallel regions; GCC's libgomp does not), or anything
 * else (libdigitcnn, OpenBLAS, libc), whose first callers are remembered. */
#define note()                                                                          \
  do {                                                                                  \
    if (atomic_load(&counting)) {                                                       \
      void *caller = __builtin_return_address(0);                                       \
      Dl_info info;                                                                     \
      if (dladdr(caller, &info) && info.dli_fname && strstr(info.dli_fname, "libomp")) \
        atomic_fetch_add(&runtime_allocations, 1);                                      \
      else {                                                                            \
        long k = atomic_fetch_add(&allocations, 1);                                     \
        if (k < 8) callers[k] = caller;                                                 \
      }                                                                                 \
    }                                                                                   \
  } while (0)

static void print_callers(void) {
  for (int i = 0; i < 8 && callers[i]; ++i) {
    Dl_info info;
    if (dladdr(callers[i], &info))
      print_message("  allocation %d from %s (%s)\n", i, info.dli_sname ? info.dli_sname : "?",
                    info.dli_fname ? info.dli_fname : "?");
  }
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
  paper_setup p;
  paper_setup_create(ctx, 32, &p); /* plans memory, binds the optimizer */
  atomic_store(&counting, 1);
  for (int i = 0; i < 10; ++i) assert_ok(dcnn_model_train_step(p.model, p.adam, p.x, p.labels, NULL, NULL));
  atomic_store(&counting, 0);
  print_message("heap allocations during 10 steady-state training steps: %ld (plus %ld inside LLVM's OpenMP runtime)\n",
                atomic_load(&allocations), atomic_load(&runtime_allocations));
  print_callers();
  assert_int_equal(atomic_load(&allocations), 0);
  /* The counter works: a model build allocates. */
  atomic_store(&counting, 1);
  dcnn_model *other = NULL;
  assert_ok(dcnn_zoo_lenet5(ctx, 1, 32, 32, 10, 1, &other));
  atomic_store(&counting, 0);
  assert_true(atomic_load(&allocations) > 0);
  dcnn_model_destroy(other);
  paper_setup_destroy(&p);
  dcnn_context_destroy(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(training_step_calls_no_allocator)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
