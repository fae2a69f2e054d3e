/* The one wall clock of the library's timings (profiles, progress, checkpoints). */
#include <time.h>

#include "internal.h"

double dcnn__now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
