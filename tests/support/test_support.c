#include "test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char test_dir[256];

int test_dir_create(const char *prefix) {
  snprintf(test_dir, sizeof test_dir, "%s/%s-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", prefix);
  return mkdtemp(test_dir) ? 0 : -1;
}

int test_dir_remove(void) {
  char command[512];
  snprintf(command, sizeof command, "rm -rf '%s'", test_dir);
  return system(command) == 0 ? 0 : -1;
}

const char *test_dir_path(const char *name) {
  static char path[8][512];
  static int slot;
  slot = (slot + 1) % 8;
  snprintf(path[slot], sizeof path[slot], "%s/%s", test_dir, name);
  return path[slot];
}

void test_dir_write(const char *name, const void *data, size_t size) {
  FILE *f = fopen(test_dir_path(name), "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, size, f), size);
  assert_int_equal(fclose(f), 0);
}

static void *failing_alloc(size_t size, size_t alignment, void *user) {
  failing_allocator *state = user;
  if (state->allow >= 0 && state->calls >= state->allow) return NULL;
  state->calls++;
  void *ptr = NULL;
  if (posix_memalign(&ptr, alignment, size ? size : alignment) != 0) return NULL;
  return ptr;
}

static void failing_release(void *ptr, void *user) {
  (void)user;
  free(ptr);
}

static void *capped_alloc(size_t size, size_t alignment, void *user) {
  capped_allocator *state = user;
  if (size > state->largest) state->largest = size;
  if (size > state->limit) return NULL;
  void *ptr = NULL;
  return posix_memalign(&ptr, alignment, size ? size : alignment) == 0 ? ptr : NULL;
}

dcnn_allocator capped_allocator_hooks(capped_allocator *state) {
  dcnn_allocator hooks = {sizeof hooks, capped_alloc, failing_release, state};
  return hooks;
}

/* Each counted block is preceded by its size and its offset from the allocation's start. */
static void *counting_alloc(size_t size, size_t alignment, void *user) {
  counting_allocator *c = user;
  if (c->live + (int64_t)size > c->cap) {
    c->refused = 1;
    return NULL;
  }
  if (alignment < 2 * sizeof(size_t)) alignment = 2 * sizeof(size_t);
  void *base = NULL;
  if (size > SIZE_MAX - alignment || posix_memalign(&base, alignment, size + alignment) != 0) return NULL;
  size_t *p = (size_t *)((uint8_t *)base + alignment);
  p[-2] = size;
  p[-1] = alignment;
  c->live += (int64_t)size;
  if (c->live > c->peak) c->peak = c->live;
  return p;
}

static void counting_release(void *ptr, void *user) {
  if (!ptr) return;
  counting_allocator *c = user;
  const size_t *p = ptr;
  c->live -= (int64_t)p[-2];
  free((uint8_t *)ptr - p[-1]);
}

dcnn_allocator counting_allocator_hooks(counting_allocator *state) {
  dcnn_allocator hooks = {sizeof hooks, counting_alloc, counting_release, state};
  return hooks;
}

dcnn_context *counted_context(counting_allocator *count) {
  dcnn_context *ctx = NULL;
  assert_ok(dcnn_context_create(&ctx));
  const dcnn_allocator hooks = counting_allocator_hooks(count);
  assert_ok(dcnn_context_set_allocator(ctx, &hooks));
  return ctx;
}

dcnn_model *counted_dense_model(dcnn_context *ctx) {
  const dcnn_shape in = dcnn_shape_make(1, 1024, 0, 0, 0);
  dcnn_model *m = NULL;
  dcnn_layer *dense = NULL;
  assert_ok(dcnn_model_create(ctx, &in, &m));
  assert_ok(dcnn_dense_create(1024, DCNN_WITH_BIAS, &dense));
  assert_ok(dcnn_model_add(m, dense));
  assert_ok(dcnn_model_init(m, 1));
  return m;
}

/* Each block of the recycling allocator starts with its usable size and the
 * padding before it, so that a held block can be matched to a request and
 * freed without a table. */
typedef struct recycled_header {
  size_t size, pad;
} recycled_header;

static void *recycling_alloc(size_t size, size_t alignment, void *user) {
  recycling_allocator *state = user;
  if (state->held) {
    const recycled_header *h = (const recycled_header *)state->held - 1;
    if (size <= h->size && (uintptr_t)state->held % alignment == 0) {
      void *ptr = state->held;
      state->held = NULL;
      state->reused++;
      return ptr;
    }
  }
  const size_t pad = alignment > sizeof(recycled_header) ? alignment : sizeof(recycled_header);
  void *base = NULL;
  if (posix_memalign(&base, alignment, pad + (size ? size : 1)) != 0) return NULL;
  recycled_header *h = (recycled_header *)((unsigned char *)base + pad) - 1;
  h->size = size;
  h->pad = pad;
  return h + 1;
}

static void recycled_free(void *ptr) {
  if (ptr) free((unsigned char *)ptr - ((const recycled_header *)ptr - 1)->pad);
}

static void recycling_release(void *ptr, void *user) {
  recycling_allocator *state = user;
  if (!ptr) return;
  recycled_free(state->held);
  state->held = ptr;
}

dcnn_allocator recycling_allocator_hooks(recycling_allocator *state) {
  dcnn_allocator hooks = {sizeof hooks, recycling_alloc, recycling_release, state};
  return hooks;
}

void recycling_allocator_drain(recycling_allocator *state) {
  recycled_free(state->held);
  state->held = NULL;
}

dcnn_attack test_fgsm(float epsilon) {
  dcnn_attack a = DCNN_STRUCT_INIT(dcnn_attack);
  assert_ok(dcnn_attack_fgsm(epsilon, &a));
  return a;
}

dcnn_attack test_pgd(float epsilon) {
  dcnn_attack a = DCNN_STRUCT_INIT(dcnn_attack);
  assert_ok(dcnn_attack_pgd(epsilon, &a));
  return a;
}

dcnn_allocator failing_allocator_hooks(failing_allocator *state) {
  dcnn_allocator hooks = {sizeof hooks, failing_alloc, failing_release, state};
  return hooks;
}

void assert_error_mentions(const char *needle) {
  const char *message = dcnn_last_error();
  if (!strstr(message, needle)) fail_msg("error message \"%s\" does not mention \"%s\"", message, needle);
}

dcnn_context *test_context(int32_t threads) {
#ifdef DCNN_TSAN
  threads = 1; /* libomp is not instrumented: the ThreadSanitizer build never starts an OpenMP team */
#endif
  dcnn_context *ctx = NULL;
  assert_ok(dcnn_context_create(&ctx));
  assert_ok(dcnn_context_set_threads(ctx, threads));
  return ctx;
}

const dcnn_zoo_options *test_zoo(int32_t height, int32_t width, int32_t channels, int32_t classes, uint64_t seed) {
  static _Thread_local dcnn_zoo_options o = DCNN_STRUCT_INIT(dcnn_zoo_options);
  assert_ok(dcnn_zoo_options_init(&o));
  o.height = height;
  o.width = width;
  o.channels = channels;
  o.classes = classes;
  o.seed = seed;
  return &o;
}

const char *test_mnist_m_dir(void) {
  const char *root = getenv("DCNN_MNIST_M_DIR");
  char list[4096];
  snprintf(list, sizeof list, "%s/mnist_m_test_labels.txt", root ? root : "");
  struct stat st;
  if (root && stat(list, &st) == 0) return root;
  print_message("MNIST-M not found in %s (run scripts/get-data.sh): skipped\n", root ? root : "(unset)");
  return NULL;
}

void paper_setup_create(dcnn_context *ctx, int32_t batch, paper_setup *out) {
  assert_true(batch >= 1 && batch <= 64);
  assert_ok(dcnn_zoo_paper_cnn(ctx, test_zoo(28, 28, 1, 10, 1), &out->model));
  assert_ok(dcnn_optimizer_create_adam(ctx, 1e-3f, 0.9f, 0.999f, 1e-7f, 0.0f, &out->adam));
  dcnn_shape s = dcnn_shape_make(4, batch, 1, 28, 28);
  assert_ok(dcnn_tensor_create(ctx, &s, &out->x));
  assert_ok(dcnn_tensor_fill_random(out->x, DCNN_DIST_UNIFORM, 0.0f, 1.0f, 1, 0));
  for (int32_t i = 0; i < batch; ++i) out->labels[i] = i % 10;
  assert_ok(dcnn_model_train_step(out->model, out->adam, out->x, out->labels, NULL, NULL));
}

void paper_setup_destroy(paper_setup *p) {
  dcnn_tensor_destroy(p->x);
  dcnn_optimizer_destroy(p->adam);
  dcnn_model_destroy(p->model);
}

void test_add_classifier(dcnn_model *m, int32_t classes) {
  dcnn_layer *l = NULL;
  assert_ok(dcnn_flatten_create(&l));
  assert_ok(dcnn_model_add(m, l));
  assert_ok(dcnn_dense_create(classes, DCNN_WITH_BIAS, &l));
  assert_ok(dcnn_model_add(m, l));
  assert_ok(dcnn_softmax_create(&l));
  assert_ok(dcnn_model_add(m, l));
}

dcnn_dataset *test_halves(int32_t n) {
  uint8_t px[200 * 36];
  int32_t labels[200];
  assert_true(n > 0 && n <= 200);
  for (int32_t i = 0; i < n; ++i) {
    labels[i] = i % 2;
    for (int p = 0; p < 36; ++p)
      px[i * 36 + p] = (uint8_t)(40 * dcnn_random_uniform(1, 0, (uint64_t)(i * 36 + p)) + ((p % 6 < 3) == labels[i] ? 200 : 0));
  }
  dcnn_dataset *ds = NULL;
  assert_ok(dcnn_dataset_create(NULL, n, 6, 6, 1, px, labels, 2, &ds));
  return ds;
}
