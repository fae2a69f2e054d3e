/* What a path names when it is not a regular file, in the words every reader
 * and writer of the library uses, so that a directory or a FIFO reads alike
 * whether it was given to load or to save. */
#ifndef DCNN_FILE_KIND_H
#define DCNN_FILE_KIND_H

#include <sys/stat.h>

/* NULL for a regular file; else the message's reason after "<path>: ":
 * "is a directory, not a file", or "is not a regular file (a FIFO)" (a
 * socket, a device). */
const char *dcnn__not_regular_reason(mode_t mode);

#endif
