/* Status codes, error messages, versions and contexts. */
#define _GNU_SOURCE /* sched_setaffinity, CPU_COUNT */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/internal.h"
#include "test_support.h"

static void status_strings_are_distinct_and_known(void **state) {
  (void)state;
  const dcnn_status all[] = {DCNN_OK, DCNN_ERR_INVALID_ARGUMENT, DCNN_ERR_OUT_OF_MEMORY, DCNN_ERR_IO,
                             DCNN_ERR_BAD_FORMAT, DCNN_ERR_SHAPE_MISMATCH, DCNN_ERR_UNSUPPORTED,
                             DCNN_ERR_NOT_FOUND, DCNN_ERR_INVALID_STATE, DCNN_ERR_NUMERIC, DCNN_ERR_CANCELLED};
  const size_t n = sizeof all / sizeof all[0];
  for (size_t i = 0; i < n; ++i) {
    assert_string_not_equal(dcnn_status_str(all[i]), "unknown status");
    for (size_t j = 0; j < i; ++j) assert_string_not_equal(dcnn_status_str(all[i]), dcnn_status_str(all[j]));
  }
  assert_string_equal(dcnn_status_str((dcnn_status)-999), "unknown status");
  assert_string_equal(dcnn_status_str(DCNN_ERR_SHAPE_MISMATCH), "shape mismatch");
  /* Values are part of the ABI. */
  assert_int_equal(DCNN_ERR_SHAPE_MISMATCH, -5);
  assert_int_equal(DCNN_ERR_CANCELLED, -10);
}

static void last_error_names_the_culprit(void **state) {
  (void)state;
  dcnn_clear_error();
  assert_string_equal(dcnn_last_error(), "");
  assert_status(dcnn_context_create(NULL), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("dcnn_context_create");
  assert_error_mentions("'out'");
  dcnn_clear_error();
  assert_string_equal(dcnn_last_error(), "");
}

static void version_matches_header(void **state) {
  (void)state;
  char expected[32];
  snprintf(expected, sizeof expected, "%d.%d.%d", DCNN_VERSION_MAJOR, DCNN_VERSION_MINOR, DCNN_VERSION_PATCH);
  assert_string_equal(dcnn_version_string(), expected);
  assert_int_equal(dcnn_version_number(), DCNN_VERSION_NUMBER);
}

static void context_threads(void **state) {
  (void)state;
  dcnn_context *ctx = test_context(3);
  assert_int_equal(dcnn_context_threads(ctx), 3);
  assert_ok(dcnn_context_set_threads(ctx, 0));
  assert_true(dcnn_context_threads(ctx) >= 1);
  assert_status(dcnn_context_set_threads(ctx, -1), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("-1 threads");
  assert_status(dcnn_context_set_threads(ctx, 5000), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_context_set_threads(NULL, 2), DCNN_ERR_INVALID_ARGUMENT);
  assert_true(dcnn_context_threads(NULL) >= 1);
  dcnn_context_destroy(ctx);
  dcnn_context_destroy(NULL);
}

#ifndef DCNN_TSAN /* the ThreadSanitizer build skips the test that uses it */
/* A context created on a thread pinned to one core: its count, or -1. */
static void *count_on_a_pinned_thread(void *first_core) {
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(*(const int *)first_core, &one);
  static int threads;
  threads = -1;
  dcnn_context *ctx = NULL;
  if (pthread_setaffinity_np(pthread_self(), sizeof one, &one) == 0 && dcnn_context_create(&ctx) == DCNN_OK)
    threads = dcnn_context_threads(ctx);
  dcnn_context_destroy(ctx);
  return &threads;
}
#endif

/* A context's default thread count is the cores the process may run on (taskset, a container's
 * cpuset), not every online core: on a big host those threads would take turns on a few cores. */
static void default_threads_follow_the_affinity_mask(void **state) {
  (void)state;
#ifdef DCNN_TSAN
  skip(); /* the ThreadSanitizer build's contexts default to 1 thread */
#else
  cpu_set_t allowed;
  assert_int_equal(sched_getaffinity(0, sizeof allowed, &allowed), 0);
  dcnn_context *ctx = NULL;
  assert_ok(dcnn_context_create(&ctx));
  assert_int_equal(dcnn_context_threads(ctx), CPU_COUNT(&allowed));
  dcnn_context_destroy(ctx);
  int first = 0;
  while (!CPU_ISSET(first, &allowed)) first++;
  /* one thread pinned (as OMP_PROC_BIND pins the initial one) does not shrink the process's count */
  pthread_t pinned_thread;
  void *counted = NULL;
  assert_int_equal(pthread_create(&pinned_thread, NULL, count_on_a_pinned_thread, &first), 0);
  assert_int_equal(pthread_join(pinned_thread, &counted), 0);
  assert_int_equal(*(int *)counted, CPU_COUNT(&allowed));
  fflush(NULL);
  const pid_t child = fork();
  assert_true(child >= 0);
  if (child == 0) { /* one core for the child only: the parent keeps its mask */
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    if (sched_setaffinity(0, sizeof one, &one) != 0) _exit(3);
    dcnn_context *pinned = NULL;
    if (dcnn_context_create(&pinned) != DCNN_OK) _exit(4);
    const int created = dcnn_context_threads(pinned);
    if (dcnn_context_set_threads(pinned, 4) != DCNN_OK || dcnn_context_set_threads(pinned, 0) != DCNN_OK) _exit(5);
    const int reset = dcnn_context_threads(pinned);
    dcnn_context_destroy(pinned);
    _exit(created == 1 && reset == 1 ? 0 : 10 + created);
  }
  int status = 0;
  assert_int_equal(waitpid(child, &status, 0), child);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0); /* 10 + n: a pinned process got n threads */
#endif
}

/* A model made with NULL hands out the shared default context: changing it
 * would change every such object, and freeing it would free a static. */
static void default_context_cannot_be_changed_or_freed(void **state) {
  (void)state;
  dcnn_model *model = NULL;
  const dcnn_shape sample = dcnn_shape_make(1, 4, 0, 0, 0);
  assert_ok(dcnn_model_create(NULL, &sample, &model));
  dcnn_context *shared = dcnn_model_context(model);
  assert_non_null(shared);
  const int32_t threads = dcnn_context_threads(NULL);
  assert_status(dcnn_context_set_threads(shared, threads == 1 ? 2 : 1), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("default context");
  assert_int_equal(dcnn_context_threads(NULL), threads);
  assert_status(dcnn_context_set_log(shared, NULL, DCNN_LOG_DEBUG, NULL), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_context_set_allocator(shared, NULL), DCNN_ERR_INVALID_ARGUMENT);
  dcnn_context_destroy(shared); /* ignored: the default context is never freed */
  assert_int_equal(dcnn_context_threads(dcnn_model_context(model)), threads);
  dcnn_model_destroy(model);
}

static void context_allocator_counts_and_guards(void **state) {
  (void)state;
  dcnn_context *ctx = test_context(1);
  failing_allocator fa = {-1, 0};
  dcnn_allocator hooks = failing_allocator_hooks(&fa);
  assert_ok(dcnn_context_set_allocator(ctx, &hooks));
  dcnn_shape shape = dcnn_shape_make(1, 8, 0, 0, 0);
  dcnn_tensor *t = NULL;
  assert_ok(dcnn_tensor_create(ctx, &shape, &t));
  assert_int_equal(dcnn_context_live_allocations(ctx), 2); /* handle + data */
  assert_int_equal(dcnn_context_allocation_count(ctx), 2);
  assert_int_equal(fa.calls, 2);
  /* Swapping allocators under live memory would free it with the wrong hook. */
  assert_status(dcnn_context_set_allocator(ctx, NULL), DCNN_ERR_INVALID_STATE);
  assert_error_mentions("still alive");
  dcnn_tensor_destroy(t);
  assert_int_equal(dcnn_context_live_allocations(ctx), 0);
  dcnn_allocator broken = {sizeof broken, NULL, NULL, NULL};
  assert_status(dcnn_context_set_allocator(ctx, &broken), DCNN_ERR_INVALID_ARGUMENT);
  assert_ok(dcnn_context_set_allocator(ctx, NULL));
  dcnn_context_destroy(ctx);
}

static int log_calls;
static char log_last[256];
static void capture_log(dcnn_log_level level, const char *message, void *user) {
  (void)level;
  (void)user;
  log_calls++;
  snprintf(log_last, sizeof log_last, "%s", message);
}

static void context_log_setter_validates(void **state) {
  (void)state;
  dcnn_context *ctx = test_context(1);
  assert_ok(dcnn_context_set_log(ctx, capture_log, DCNN_LOG_INFO, NULL));
  assert_status(dcnn_context_set_log(ctx, capture_log, (dcnn_log_level)9, NULL), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_context_set_log(NULL, capture_log, DCNN_LOG_INFO, NULL), DCNN_ERR_INVALID_ARGUMENT);
  dcnn_free(NULL);
  dcnn_context_destroy(ctx);
}

/* Whether `s` ends with a complete UTF-8 character. */
static int ends_whole(const char *s) {
  size_t n = strlen(s), lead = n;
  while (lead > 0 && ((unsigned char)s[lead - 1] & 0xC0) == 0x80) --lead;
  if (lead == 0) return n == 0;
  const unsigned char b = (unsigned char)s[lead - 1];
  const size_t needs = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
  return lead - 1 + needs == n;
}

/* Messages cut to their capacity end before the character the cut would
 * split ("é" is 2 bytes; an odd offset puts the cut inside one), for a
 * message set and for one a prefix is added to. */
static void cut_messages_end_at_a_character(void **state) {
  (void)state;
  char text[3001] = "x";
  for (int i = 1; i < 3000; i += 2) memcpy(text + i, "\xc3\xa9", 2);
  text[2999] = '\0';
  for (int shift = 0; shift < 2; ++shift) {
    dcnn_error_set(DCNN_ERR_IO, "%s", text + shift);
    assert_true(strlen(dcnn_last_error()) >= 1000);
    if (!ends_whole(dcnn_last_error())) fail_msg("set, shift %d: ends inside a character", shift);
    for (int prefix = 1; prefix < 3; ++prefix) {
      dcnn_error_set(DCNN_ERR_IO, "%s", text + shift);
      dcnn__wrap_error(DCNN_ERR_IO, "%.*s", prefix, "pp");
      if (!ends_whole(dcnn_last_error())) fail_msg("wrapped with %d, shift %d: ends inside a character", prefix, shift);
    }
  }
  dcnn__wrap_error(DCNN_ERR_IO, "%s", text + 1); /* a prefix cut short ends at a character too */
  const char *colon = strstr(dcnn_last_error(), ": ");
  assert_non_null(colon);
  char head[512];
  snprintf(head, sizeof head, "%.*s", (int)(colon - dcnn_last_error()), dcnn_last_error());
  assert_true(ends_whole(head));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(status_strings_are_distinct_and_known),
      cmocka_unit_test(last_error_names_the_culprit),
      cmocka_unit_test(cut_messages_end_at_a_character),
      cmocka_unit_test(version_matches_header),
      cmocka_unit_test(context_threads),
      cmocka_unit_test(default_threads_follow_the_affinity_mask),
      cmocka_unit_test(default_context_cannot_be_changed_or_freed),
      cmocka_unit_test(context_allocator_counts_and_guards),
      cmocka_unit_test(context_log_setter_validates),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
