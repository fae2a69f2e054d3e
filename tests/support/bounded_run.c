#define _DEFAULT_SOURCE
#include "bounded_run.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

/* Bytes of address space and of resident memory the process has now (Linux /proc; 0 elsewhere). */
static void current_memory(int64_t *virtual_bytes, int64_t *resident_bytes) {
  *virtual_bytes = *resident_bytes = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (!f) return;
  long long pages = 0, resident = 0;
  if (fscanf(f, "%lld %lld", &pages, &resident) == 2) {
    const int64_t page = (int64_t)sysconf(_SC_PAGESIZE);
    *virtual_bytes = pages * page;
    *resident_bytes = resident * page;
  }
  fclose(f);
}

static double now_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int dcnn_test_run_bounded(dcnn_test_bounded_fn fn, void *arg, double max_seconds, int64_t max_bytes,
                          dcnn_test_bounded *out) {
  const dcnn_test_limits limits = {max_seconds, max_bytes, 0};
  return dcnn_test_run_limited(fn, arg, &limits, out);
}

int dcnn_test_run_limited(dcnn_test_bounded_fn fn, void *arg, const dcnn_test_limits *limits,
                          dcnn_test_bounded *out) {
  /* The sanitizers run the library 2 to 10 times slower: the limits are for hangs, not speed. */
  const double max_seconds = limits->max_seconds * (SANITIZED ? 4 : 1);
  const int64_t max_bytes = limits->max_bytes;
  memset(out, 0, sizeof *out);
  char *shared = mmap(NULL, sizeof out->message, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (shared == MAP_FAILED) {
    snprintf(out->message, sizeof out->message, "mmap: %s", strerror(errno));
    return 0;
  }
  shared[0] = '\0';
  int64_t base_virtual = 0, base_resident = 0;
  current_memory(&base_virtual, &base_resident);
  fflush(NULL); /* the child must not flush the parent's buffered output again */
  const double start = now_seconds();
  const pid_t pid = fork();
  if (pid < 0) {
    snprintf(out->message, sizeof out->message, "fork: %s", strerror(errno));
    munmap(shared, sizeof out->message);
    return 0;
  }
  if (pid == 0) {
    if (max_bytes > 0 && !SANITIZED) {
      const rlim_t limit = (rlim_t)(base_virtual + max_bytes);
      struct rlimit rl = {limit, limit};
      setrlimit(RLIMIT_AS, &rl);
    }
    if (limits->max_file_bytes > 0) {
      const struct rlimit rl = {(rlim_t)limits->max_file_bytes, (rlim_t)limits->max_file_bytes};
      if (setrlimit(RLIMIT_FSIZE, &rl) != 0) {
        snprintf(shared, sizeof out->message, "setrlimit(RLIMIT_FSIZE): %s", strerror(errno));
        _exit(125);
      }
    }
    if (max_seconds > 0) {
      signal(SIGALRM, SIG_DFL);
      alarm((unsigned)ceil(max_seconds));
    }
    const int code = fn(arg, shared, sizeof out->message);
    shared[sizeof out->message - 1] = '\0';
    _exit(code & 0xff);
  }
  int status = 0;
  struct rusage usage;
  memset(&usage, 0, sizeof usage);
  while (wait4(pid, &status, 0, &usage) < 0 && errno == EINTR) {
  }
  out->seconds = now_seconds() - start;
  out->peak_rss = (int64_t)usage.ru_maxrss * 1024; /* Linux reports KiB */
  out->address_limited = max_bytes > 0 && !SANITIZED;
  memcpy(out->message, shared, sizeof out->message);
  out->message[sizeof out->message - 1] = '\0';
  munmap(shared, sizeof out->message);
  if (WIFEXITED(status)) {
    out->finished = 1;
    out->code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    out->signal = WTERMSIG(status);
    out->timed_out = out->signal == SIGALRM;
  }
  char why[160] = "";
  if (out->timed_out) snprintf(why, sizeof why, "out of time (limit %.1f s)", max_seconds);
  else if (!out->finished) snprintf(why, sizeof why, "killed by signal %d (%s)", out->signal, strsignal(out->signal));
  else if (out->code != 0) snprintf(why, sizeof why, "returned %d", out->code);
  else if (max_seconds > 0 && out->seconds > max_seconds)
    snprintf(why, sizeof why, "took %.2f s (limit %.1f s)", out->seconds, max_seconds);
  else if (max_bytes > 0 && out->peak_rss > base_resident + max_bytes)
    snprintf(why, sizeof why, "peak RSS %lld MB (limit %lld MB beyond %lld MB)", (long long)(out->peak_rss >> 20),
             (long long)(max_bytes >> 20), (long long)(base_resident >> 20));
  if (!why[0]) return 1;
  char detail[sizeof out->message];
  snprintf(detail, sizeof detail, "%s", out->message);
  snprintf(out->message, sizeof out->message, "%s; child said: %.300s", why, detail);
  return 0;
}
