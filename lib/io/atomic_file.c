#include "atomic_file.h"

#include <errno.h>
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

dcnn_status dcnn__atomic_commit(dcnn_atomic_file *file) {
  int ok = !ferror(file->stream) && fflush(file->stream) == 0 && fsync(fileno(file->stream)) == 0;
  int err = errno;
  ok = (fclose(file->stream) == 0) && ok;
  file->stream = NULL;
  if (ok && rename(file->temp, file->path) == 0) return DCNN_OK;
  if (ok) err = errno;
  unlink(file->temp);
  return dcnn__fail(DCNN_ERR_IO, "%s: write failed: %s", file->path, strerror(err));
}

void dcnn__atomic_abort(dcnn_atomic_file *file) {
  if (file->stream) fclose(file->stream);
  file->stream = NULL;
  unlink(file->temp);
}

dcnn_status dcnn__write_file_atomic(const char *path, const void *data, size_t size) {
  dcnn_atomic_file file;
  DCNN_TRY(dcnn__atomic_open(&file, path));
  if (size && fwrite(data, 1, size, file.stream) != size) {
    int err = errno;
    dcnn__atomic_abort(&file);
    return dcnn__fail(DCNN_ERR_IO, "%s: write failed: %s", path, strerror(err));
  }
  return dcnn__atomic_commit(&file);
}
