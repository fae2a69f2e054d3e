#include "atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

dcnn_status dcnn__atomic_open(dcnn_atomic_file *file, const char *path) {
  file->stream = NULL;
  DCNN_CHECK(path && path[0], DCNN_ERR_INVALID_ARGUMENT, "atomic write: empty path");
  DCNN_CHECK(strlen(path) + 8 < sizeof file->temp, DCNN_ERR_INVALID_ARGUMENT, "%s: path too long", path);
  snprintf(file->path, sizeof file->path, "%s", path);
  snprintf(file->temp, sizeof file->temp, "%s.XXXXXX", path);
  int fd = mkstemp(file->temp);
  DCNN_CHECK(fd >= 0, DCNN_ERR_IO, "%s: cannot create a temporary file beside it: %s", path, strerror(errno));
  fchmod(fd, 0644); /* mkstemp creates 0600; outputs are ordinary files */
  file->stream = fdopen(fd, "wb");
  if (!file->stream) {
    int err = errno;
    close(fd);
    unlink(file->temp);
    return dcnn__fail(DCNN_ERR_IO, "%s: %s", path, strerror(err));
  }
  return DCNN_OK;
}

/* Makes the rename itself durable; best effort (some file systems refuse). */
static void sync_directory(const char *path) {
  char copy[4096];
  snprintf(copy, sizeof copy, "%s", path);
  int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;
  (void)fsync(fd);
  close(fd);
}

dcnn_status dcnn__atomic_commit(dcnn_atomic_file *file) {
  int ok = !ferror(file->stream) && fflush(file->stream) == 0 && fsync(fileno(file->stream)) == 0;
  int err = errno;
  ok = (fclose(file->stream) == 0) && ok;
  file->stream = NULL;
  if (ok && rename(file->temp, file->path) == 0) {
    sync_directory(file->path);
    return DCNN_OK;
  }
  if (ok) err = errno;
  unlink(file->temp);
  return dcnn__fail(DCNN_ERR_IO, "%s: write failed: %s", file->path, strerror(err));
}

void dcnn__atomic_abort(dcnn_atomic_file *file) {
  if (file->stream) fclose(file->stream);
  file->stream = NULL;
  unlink(file->temp);
}

void (*dcnn__atomic_write_hook)(const char *temp_path, size_t written, size_t total);

#define CHUNK_BYTES ((size_t)1 << 16)

dcnn_status dcnn__write_file_atomic(const char *path, const void *data, size_t size) {
  dcnn_atomic_file file;
  DCNN_TRY(dcnn__atomic_open(&file, path));
  for (size_t done = 0; done < size;) {
    const size_t n = size - done < CHUNK_BYTES ? size - done : CHUNK_BYTES;
    if (fwrite((const char *)data + done, 1, n, file.stream) != n) {
      int err = errno;
      dcnn__atomic_abort(&file);
      return dcnn__fail(DCNN_ERR_IO, "%s: write failed: %s", path, strerror(err));
    }
    done += n;
    if (dcnn__atomic_write_hook) {
      fflush(file.stream);
      dcnn__atomic_write_hook(file.temp, done, size);
    }
  }
  return dcnn__atomic_commit(&file);
}
