#include "file_kind.h"

#include <stddef.h>

const char *dcnn__not_regular_reason(mode_t mode) {
  if (S_ISREG(mode)) return NULL;
  if (S_ISDIR(mode)) return "is a directory, not a file"; /* the binding's IsADirectoryError looks for these words */
  if (S_ISFIFO(mode)) return "is not a regular file (a FIFO)";
  if (S_ISSOCK(mode)) return "is not a regular file (a socket)";
  return "is not a regular file (a device)";
}
