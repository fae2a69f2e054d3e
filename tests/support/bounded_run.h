/* Runs a piece of test code in a forked child under a time limit, a memory
 * limit and optionally a file size limit (ulimit -f), so that a hostile input that makes the library hang or allocate far
 * more than the input justifies fails the test instead of the machine.
 * No cmocka here: the fuzz replays use it too. */
#ifndef DCNN_TEST_BOUNDED_RUN_H
#define DCNN_TEST_BOUNDED_RUN_H

#include <stddef.h>
#include <stdint.h>

/* The code to run: returns 0 when it saw what it expected, anything else
 * otherwise; it may write a line into `message` (capacity bytes, shared with
 * the parent), e.g. the library's error, for the parent to check. */
typedef int (*dcnn_test_bounded_fn)(void *arg, char *message, size_t capacity);

typedef struct dcnn_test_bounded {
  int finished;       /* 1: fn returned (its value is in `code`); 0: the child was killed */
  int code;           /* fn's return value (as an exit status, 0..255) */
  int signal;         /* the signal that ended the child (SIGALRM: out of time), 0 if none */
  int timed_out;      /* 1: the time limit ended the child */
  double seconds;     /* wall time of the child */
  int64_t peak_rss;   /* the child's peak resident set, bytes */
  int address_limited; /* 1: RLIMIT_AS was applied (not under ASan/TSan, which reserve terabytes) */
  char message[512];  /* what fn wrote */
} dcnn_test_bounded;

/* Forks; the child applies RLIMIT_AS of `max_bytes` beyond the address space
 * it already has (so an allocation beyond it fails inside the library, which
 * must report DCNN_ERR_OUT_OF_MEMORY cleanly), arms alarm(ceil(max_seconds)),
 * runs fn(arg, ...) and exits with its value (under a sanitizer every time
 * limit is multiplied by 4). The parent waits and fills
 * `out`. Returns 1 when fn returned 0 within the bounds: in time and with a
 * peak RSS (measured in every build, sanitizers included) of at most
 * `max_bytes` more than the parent's at the fork; 0 otherwise (out->message
 * then says why). max_bytes <= 0: no memory bound; max_seconds <= 0: none. */
int dcnn_test_run_bounded(dcnn_test_bounded_fn fn, void *arg, double max_seconds, int64_t max_bytes,
                          dcnn_test_bounded *out);

/* All the bounds; a field <= 0 means none. */
typedef struct dcnn_test_limits {
  double max_seconds;     /* alarm(ceil(max_seconds)) and the wall time checked */
  int64_t max_bytes;      /* RLIMIT_AS beyond the address space at the fork, and peak RSS beyond the parent's */
  int64_t max_file_bytes; /* RLIMIT_FSIZE: a write beyond it fails with EFBIG and raises SIGXFSZ (which kills,
                             unless the code under test blocks or handles it) */
} dcnn_test_limits;

/* dcnn_test_run_bounded with every bound, a file size limit included. */
int dcnn_test_run_limited(dcnn_test_bounded_fn fn, void *arg, const dcnn_test_limits *limits,
                          dcnn_test_bounded *out);

#endif
