#include "test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

dcnn_allocator failing_allocator_hooks(failing_allocator *state) {
  dcnn_allocator hooks = {failing_alloc, failing_release, state};
  return hooks;
}

void assert_error_mentions(const char *needle) {
  const char *message = dcnn_last_error();
  if (!strstr(message, needle)) fail_msg("error message \"%s\" does not mention \"%s\"", message, needle);
}

dcnn_context *test_context(int32_t threads) {
  dcnn_context *ctx = NULL;
  assert_ok(dcnn_context_create(&ctx));
  assert_ok(dcnn_context_set_threads(ctx, threads));
  return ctx;
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
