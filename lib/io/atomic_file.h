/* Files written all-or-nothing: a temporary file in the destination's
 * directory, flushed and fsync'd, then renamed over the destination. A crash
 * at any point leaves either the old file or the new one, never a partial one. */
#ifndef DCNN_ATOMIC_FILE_H
#define DCNN_ATOMIC_FILE_H

#include <signal.h>
#include <stdio.h>

#include "../core/internal.h"

typedef struct dcnn_atomic_file {
  FILE *stream; /* writes straight to `fd`, recording the first failure */
  int fd;
  int first_errno; /* errno of the first failed write (0: none); stdio keeps only a flag */
  int efbig;       /* some write failed with EFBIG (which raises SIGXFSZ), first or not */
  const char *given; /* the caller's path (errors are about it: dcnn_last_error_path); borrowed */
  char path[4096];   /* the file renamed over: `given` after its symbolic links */
  char temp[4096];
  sigset_t saved_mask; /* the thread's signal mask before SIGXFSZ was blocked */
  int xfsz_blocked;
} dcnn_atomic_file;

/* Opens the temporary file "<path>.dcnn-partial-XXXXXX" (after removing stale
 * ones a dead writer left for the same path; close-on-exec, so a child exec'd
 * meanwhile holds neither it nor its lock); write to `file->stream` (the
 * struct must stay where it is until commit or abort: the stream refers to
 * it), then call dcnn__atomic_commit or dcnn__atomic_abort on the same thread: until
 * then SIGXFSZ is blocked in that thread, so that passing the file size limit
 * is an error (EFBIG), not the death of the process. */
dcnn_status dcnn__atomic_open(dcnn_atomic_file *file, const char *path);
/* Flushes, syncs and renames; on failure removes the temporary file. The
 * path given to dcnn__atomic_open must still be valid. */
dcnn_status dcnn__atomic_commit(dcnn_atomic_file *file);
/* Removes the temporary file (after a failed write). */
void dcnn__atomic_abort(dcnn_atomic_file *file);
/* Test hook: when set, called after each 64 KiB chunk dcnn__write_file_atomic
 * has written (and flushed) to the temporary file, so that a test can kill the
 * process in the middle of a save. Never set by the library. */
extern void (*dcnn__atomic_write_hook)(const char *temp_path, size_t written, size_t total);
/* Test hook: when set, called as soon as the temporary file exists (before its mode is set exactly), so
 * that a test can see what another process could open then. Never set by the library. */
extern void (*dcnn__atomic_create_hook)(const char *temp_path);
/* The whole buffer, atomically. */
dcnn_status dcnn__write_file_atomic(const char *path, const void *data, size_t size);

#endif
