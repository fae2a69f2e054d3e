/* Scratch files for harnesses whose loaders take paths: one private
 * directory per process, on tmpfs when there is one. */
#ifndef DCNN_FUZZ_FILES_H
#define DCNN_FUZZ_FILES_H

#include <stddef.h>

/* The directory (created on first use). */
const char *fuzz_dir(void);
/* Writes `size` bytes to fuzz_dir()/name and returns the full path (static rotating buffer). */
const char *fuzz_write(const char *name, const void *data, size_t size);

/* Removes the directory now (it is made again on next use); also done at exit. */
void fuzz_cleanup(void);

#endif
