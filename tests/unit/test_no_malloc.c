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
  assert_ok(dcnn_zoo_lenet5(ctx, test_zoo(32, 32, 1, 10, 1), &other));
  atomic_store(&counting, 0);
  assert_true(atomic_load(&allocations) > 0);
  dcnn_model_destroy(other);
  paper_setup_destroy(&p);
  dcnn_context_destroy(ctx);
}

/* MobileNetV2 (depthwise convolutions on both paths, ReLU6, identity residual
 * blocks, global average pooling) and a ResNet-style block (projection
 * shortcut, ReLU after the sum, unrolled_gemm) allocate nothing either, with 2 threads. */
static void blocks_call_no_allocator(void **state) {
  (void)state;
  dcnn_context *ctx = test_context(2);
  dcnn_model *models[2] = {NULL, NULL};
  assert_ok(dcnn_zoo_mobilenetv2(ctx, test_zoo(32, 32, 1, 10, 1), &models[0]));
  const dcnn_shape sample = dcnn_shape_make(3, 3, 8, 8, 0);
  assert_ok(dcnn_model_create(ctx, &sample, &models[1]));
  dcnn_layer *l = NULL, *body[3] = {0}, *shortcut[2] = {0};
  assert_ok(dcnn_conv2d_create(8, 3, 2, DCNN_PADDING_SAME, DCNN_NO_BIAS, &body[0]));
  assert_ok(dcnn_conv2d_set_algorithm(body[0], DCNN_CONV_UNROLLED_GEMM)); /* its blocks come from the workspace */
  assert_ok(dcnn_batchnorm_create(0.9f, 1e-3f, &body[1]));
  assert_ok(dcnn_depthwise_conv2d_create(3, 1, DCNN_PADDING_SAME, DCNN_WITH_BIAS, &body[2]));
  assert_ok(dcnn_conv2d_create(8, 1, 2, DCNN_PADDING_SAME, DCNN_NO_BIAS, &shortcut[0]));
  assert_ok(dcnn_batchnorm_create(0.9f, 1e-3f, &shortcut[1]));
  assert_ok(dcnn_residual_create(body, 3, shortcut, 2, DCNN_RESIDUAL_RELU, &l));
  assert_ok(dcnn_model_add(models[1], l));
  assert_ok(dcnn_global_avgpool_create(&l));
  assert_ok(dcnn_model_add(models[1], l));
  assert_ok(dcnn_dense_create(10, DCNN_WITH_BIAS, &l));
  assert_ok(dcnn_model_add(models[1], l));
  assert_ok(dcnn_softmax_create(&l));
  assert_ok(dcnn_model_add(models[1], l));
  for (int k = 0; k < 2; ++k) {
    dcnn_optimizer *opt = NULL;
    assert_ok(dcnn_optimizer_create_adam(ctx, 1e-3f, 0.9f, 0.999f, 1e-7f, 0.0f, &opt));
    dcnn_shape s = k ? dcnn_shape_make(4, 5, 3, 8, 8) : dcnn_shape_make(4, 4, 1, 32, 32);
    dcnn_tensor *x = NULL;
    assert_ok(dcnn_tensor_create(ctx, &s, &x));
    assert_ok(dcnn_tensor_fill_random(x, DCNN_DIST_UNIFORM, 0.0f, 1.0f, 1, 0));
    const int32_t labels[5] = {0, 1, 2, 3, 4};
    assert_ok(dcnn_model_train_step(models[k], opt, x, labels, NULL, NULL));
    atomic_store(&allocations, 0);
    memset(callers, 0, sizeof callers);
    atomic_store(&counting, 1);
    for (int i = 0; i < 3; ++i) assert_ok(dcnn_model_train_step(models[k], opt, x, labels, NULL, NULL));
    atomic_store(&counting, 0);
    print_message("%s: heap allocations during 3 steady-state training steps: %ld\n", k ? "ResNet-style block" : "MobileNetV2",
                  atomic_load(&allocations));
    print_callers();
    assert_int_equal(atomic_load(&allocations), 0);
    dcnn_tensor_destroy(x);
    dcnn_optimizer_destroy(opt);
    dcnn_model_destroy(models[k]);
  }
  dcnn_context_destroy(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(training_step_calls_no_allocator),
                                     cmocka_unit_test(blocks_call_no_allocator)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
