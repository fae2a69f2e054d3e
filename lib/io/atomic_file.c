#define _GNU_SOURCE /* fopencookie, getrandom */
#include "atomic_file.h"
#include "file_kind.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Temporary files are "<destination>.dcnn-partial-XXXXXX" (six random
 * characters). A writer holds an exclusive flock on its temporary file until
 * it is renamed or removed; the kernel drops the lock when the writer dies,
 * even by SIGKILL. So a file of this pattern that nobody locks, and that has
 * not changed for STALE_SECONDS (which covers the instant between creating and
 * flock), belongs to a writer that died: the next save of the same
 * destination removes it. Files of any other name are never touched; the
 * mark names the library, as "<destination>.partial-backup" (a user's own
 * name of the same form) was once taken for a dead writer's and removed. */
#define TEMP_MARK ".dcnn-partial-"
#define STALE_SECONDS 10

static int temp_suffix(const char *s) {
  if (strlen(s) != 6) return 0;
  for (; *s; ++s)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9'))) return 0;
  return 1;
}

static void remove_if_stale(int dir_fd, const char *name) {
  struct stat st;
  if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) return;
  if (time(NULL) - st.st_mtime < STALE_SECONDS) return;
  int fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return;
  /* Locked: its writer is alive. Unlocked: removed while we hold the lock, so
   * that two cleaners cannot race a new writer of the same name. */
  if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
    struct stat again;
    if (fstatat(dir_fd, name, &again, AT_SYMLINK_NOFOLLOW) == 0 && again.st_ino == st.st_ino &&
        again.st_dev == st.st_dev)
      (void)unlinkat(dir_fd, name, 0);
  }
  close(fd);
}

/* The temporary file's path for `target` without its six random characters:
 * "<target>.dcnn-partial-", its name cut when that passes the directory's name
 * limit (a valid 250-byte name had no valid temporary name, and every save to
 * it failed). The cut ends at a character boundary; the random characters
 * keep such names apart. Returns the length of the name part (basename), or 0
 * when the destination's own name passes the limit (no rename could make it). */
static size_t temp_prefix(const char *target, char *out, size_t size) {
  const char *slash = strrchr(target, '/'), *base = slash ? slash + 1 : target;
  char dir[4096];
  snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - target) + 1 : 1, slash ? target : ".");
  const long name_max = pathconf(dir, _PC_NAME_MAX);
  const size_t added = sizeof TEMP_MARK - 1 + 6, limit = name_max > (long)added ? (size_t)name_max : 255;
  size_t keep = strlen(base);
  if (keep > limit) return 0;
  if (keep + added > limit) {
    keep = limit - added;
    while (keep > 1 && ((unsigned char)base[keep] & 0xC0) == 0x80) --keep; /* not inside a UTF-8 character */
  }
  snprintf(out, size, "%.*s%.*s" TEMP_MARK, (int)(base - target), target, (int)keep, base);
  return keep + sizeof TEMP_MARK - 1;
}

/* Best effort: a failure to clean never fails the save. It runs on every
 * save (per-epoch checkpoints included) because a writer may die at any
 * time and nothing else would ever look: the cost is one readdir of the
 * destination's directory, and only names with the exact
 * "<basename>.dcnn-partial-" prefix (cut as temp_prefix cuts it) and a
 * six-character suffix are stat'ed, so unrelated files cost a string
 * comparison each. */
static void remove_stale_temps(const char *path) {
  char copy[4096], prefix[4096];
  const size_t name_length = temp_prefix(path, prefix, sizeof prefix);
  if (!name_length) return;
  const char *base = prefix + strlen(prefix) - name_length;
  snprintf(copy, sizeof copy, "%s", path);
  DIR *dir = opendir(dirname(copy));
  if (!dir) return;
  const size_t prefix_length = strlen(base);
  for (struct dirent *e; (e = readdir(dir)) != NULL;)
    if (strncmp(e->d_name, base, prefix_length) == 0 && temp_suffix(e->d_name + prefix_length))
      remove_if_stale(dirfd(dir), e->d_name);
  closedir(dir);
}

/* SIGXFSZ's default action kills the process when a write passes the file
 * size limit (ulimit -f). While the temporary file is open the signal is
 * blocked in the calling thread only (the library does not change the
 * process's dispositions), so the write fails with EFBIG instead and the
 * save becomes an error; a SIGXFSZ that the write raised meanwhile is
 * consumed before the thread's mask is restored. A caller that already
 * blocks SIGXFSZ keeps it untouched. */
static void block_xfsz(dcnn_atomic_file *file) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGXFSZ);
  file->xfsz_blocked = 0;
  if (pthread_sigmask(SIG_BLOCK, &set, &file->saved_mask) == 0)
    file->xfsz_blocked = !sigismember(&file->saved_mask, SIGXFSZ);
}

/* Only when this file's own write failed with EFBIG: the kernel then sent
 * SIGXFSZ to this thread, and sigtimedwait takes a signal pending on the
 * thread before one pending on the process, so it consumes exactly that one
 * (standard signals do not queue: several failed writes leave one). A
 * SIGXFSZ sent to the process (kill) is never consumed here: it stays
 * pending and is delivered as usual once the mask is restored. */
static void unblock_xfsz(dcnn_atomic_file *file) {
  if (!file->xfsz_blocked) return;
  if (file->efbig) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGXFSZ);
    const struct timespec zero = {0, 0};
    while (sigtimedwait(&set, NULL, &zero) < 0 && errno == EINTR) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &file->saved_mask, NULL);
  file->xfsz_blocked = 0;
}

/* The stream's sink: write(2) in a loop, the first errno kept in the file so
 * that the error reported at commit is the real one (EFBIG, ENOSPC), not the
 * EIO of a stream that only remembers that something failed. */
static ssize_t stream_write(void *cookie, const char *buf, size_t size) {
  dcnn_atomic_file *file = cookie;
  size_t done = 0;
  while (done < size) {
    const ssize_t n = write(file->fd, buf + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (!file->first_errno) file->first_errno = n < 0 ? errno : EIO;
      if (n < 0 && errno == EFBIG) file->efbig = 1; /* a later write than the first failed one may raise SIGXFSZ */
      break;
    }
    done += (size_t)n;
  }
  return (ssize_t)done; /* fewer than size: stdio marks the stream failed */
}

static int stream_close(void *cookie) {
  dcnn_atomic_file *file = cookie;
  const int result = close(file->fd);
  file->fd = -1;
  return result;
}

/* Creates `temp` (ending in six X) exclusively, as mkostemp does, but with
 * `mode` (0666 for a new file): the kernel then applies the umask and the
 * directory's default ACL, as for any file the caller opens (mkostemp makes
 * 0600, and a fixed mode ignores both). Returns the descriptor, or -1 with errno. */
static int create_temp(char *temp, mode_t mode) {
  static const char letters[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"; /* 62 */
  static _Atomic uint64_t counter;
  char *x = temp + strlen(temp) - 6;
  for (int attempt = 0; attempt < 256; ++attempt) {
    uint64_t r = 0;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) /* no entropy yet: distinct all the same */
      r = ((uint64_t)getpid() << 32) ^ (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)&r;
    r ^= atomic_fetch_add(&counter, 0x9E3779B97F4A7C15u);
    for (int i = 0; i < 6; ++i, r /= 62) x[i] = letters[r % 62];
    const int fd = open(temp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd >= 0 || errno != EEXIST) return fd;
  }
  errno = EEXIST;
  return -1;
}

/* The file a plain open of `path` would write: symbolic links are followed
 * (at most 40, as the kernel does), so that the rename replaces the link's
 * target, not the link. A dangling link names the file to create. Returns 0,
 * or -1 with errno set. */
static int follow_links(const char *path, char out[4096]) {
  if (snprintf(out, 4096, "%s", path) >= 4096) return errno = ENAMETOOLONG, -1;
  for (int depth = 0; depth < 40; ++depth) {
    struct stat st;
    if (lstat(out, &st) != 0 || !S_ISLNK(st.st_mode)) return 0;
    char target[4096], dir[4096];
    const ssize_t n = readlink(out, target, sizeof target - 1);
    if (n < 0) return -1;
    target[n] = '\0';
    snprintf(dir, sizeof dir, "%s", out);
    const int written = target[0] == '/' ? snprintf(out, 4096, "%s", target)
                                         : snprintf(out, 4096, "%s/%s", dirname(dir), target);
    if (written >= 4096) return errno = ENAMETOOLONG, -1;
  }
  return errno = ELOOP, -1;
}

void (*dcnn__atomic_create_hook)(const char *temp_path);

static const char *describe(int err) {
  return err == EFBIG ? "the file size limit (ulimit -f, RLIMIT_FSIZE) was reached" : strerror(err);
}

static dcnn_status open_temp(dcnn_atomic_file *file, const char *path) {
  file->stream = NULL;
  file->fd = -1;
  file->first_errno = 0;
  file->efbig = 0;
  file->xfsz_blocked = 0;
  DCNN_CHECK(path && path[0], DCNN_ERR_INVALID_ARGUMENT, "atomic write: empty path");
  char shown_buf[DCNN__SHOWN_PATH_MAX];
  const char *shown = dcnn__shown_path(path, shown_buf);
  DCNN_CHECK(strlen(path) + sizeof TEMP_MARK + 8 < sizeof file->temp, DCNN_ERR_INVALID_ARGUMENT, "%s: path too long",
             shown);
  char target[4096]; /* what `path` names after its symbolic links */
  DCNN_CHECK(follow_links(path, target) == 0, DCNN_ERR_IO, "%s: cannot follow its symbolic link: %s", shown,
             strerror(errno));
  struct stat existing;
  /* The rename would replace a FIFO, a device or a socket by a regular file: refused, in the loader's words. */
  const char *not_regular = stat(target, &existing) == 0 ? dcnn__not_regular_reason(existing.st_mode) : NULL;
  DCNN_CHECK(!not_regular, DCNN_ERR_IO, "%s: %s%s", shown, not_regular,
             S_ISDIR(existing.st_mode) ? ""
                                       : "; files are written whole to a temporary file renamed over the destination, "
                                         "which would replace it");
  DCNN_CHECK(strlen(target) + sizeof TEMP_MARK + 8 < sizeof file->temp, DCNN_ERR_INVALID_ARGUMENT,
             "%s: path too long", shown);
  snprintf(file->path, sizeof file->path, "%s", target);
  char prefix[sizeof file->temp - 8]; /* fits: the length was checked above */
  DCNN_CHECK(temp_prefix(target, prefix, sizeof prefix) > 0, DCNN_ERR_IO, "%s: %s", shown, strerror(ENAMETOOLONG));
  snprintf(file->temp, sizeof file->temp, "%sXXXXXX", prefix);
  remove_stale_temps(target);
  char shown_target[DCNN__SHOWN_PATH_MAX];
  const char *shown_at = dcnn__shown_path(target, shown_target); /* before create_temp: the message's errno is its */
  /* A file replaced keeps its permissions, a new one has the umask's. The temporary file is created with
   * the replaced file's (the umask may take more away; fchmod then sets them exactly): made 0666 and
   * narrowed afterwards, a private file's new contents could be opened by others in between. */
  struct stat replaced;
  const int replacing = stat(target, &replaced) == 0 && S_ISREG(replaced.st_mode);
  int fd = create_temp(file->temp, replacing ? replaced.st_mode & 0777 : 0666);
  DCNN_CHECK(fd >= 0, DCNN_ERR_IO, "%s: cannot create a temporary file beside it: %s", shown_at, strerror(errno));
  (void)flock(fd, LOCK_EX | LOCK_NB); /* "alive" for remove_stale_temps; released by close or death */
  if (dcnn__atomic_create_hook) dcnn__atomic_create_hook(file->temp);
  if (replacing) (void)fchmod(fd, replaced.st_mode & 0777);
  file->fd = fd;
  file->first_errno = 0;
  file->efbig = 0;
  const cookie_io_functions_t io = {NULL, stream_write, NULL, stream_close};
  file->stream = fopencookie(file, "wb", io);
  if (!file->stream) {
    int err = errno;
    unlink(file->temp);
    close(fd);
    file->fd = -1;
    return dcnn__fail(DCNN_ERR_IO, "%s: %s", shown, strerror(err));
  }
  block_xfsz(file);
  return DCNN_OK;
}

dcnn_status dcnn__atomic_open(dcnn_atomic_file *file, const char *path) {
  const char *enclosing = dcnn__file_scope_enter(path);
  const dcnn_status status = open_temp(file, path);
  dcnn__file_scope_leave(enclosing);
  file->given = path;
  return status;
}

/* Makes the rename itself durable; best effort (some file systems refuse). */
static void sync_directory(const char *path) {
  char copy[4096];
  snprintf(copy, sizeof copy, "%s", path);
  int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  (void)fsync(fd);
  close(fd);
}

dcnn_status dcnn__atomic_commit(dcnn_atomic_file *file) {
  /* The first failed write's errno wins; then fflush's (through
   * stream_write, so recorded too), then fsync's. */
  int ok = fflush(file->stream) == 0 && !ferror(file->stream) && !file->first_errno;
  int err = file->first_errno ? file->first_errno : EIO;
  if (ok && fsync(file->fd) != 0) {
    ok = 0;
    err = errno;
  }
  /* The temporary file is renamed or removed before close releases its lock. */
  int renamed = ok && rename(file->temp, file->path) == 0;
  if (ok && !renamed) err = errno;
  if (!renamed) unlink(file->temp);
  ok = (fclose(file->stream) == 0) && ok;
  file->stream = NULL;
  unblock_xfsz(file);
  if (renamed) {
    sync_directory(file->path);
    return DCNN_OK;
  }
  char shown[DCNN__SHOWN_PATH_MAX];
  const char *enclosing = dcnn__file_scope_enter(file->given);
  dcnn__fail(DCNN_ERR_IO, "%s: write failed: %s; the previous file (if any) is unchanged",
             dcnn__shown_path(file->path, shown), describe(err));
  dcnn__file_scope_leave(enclosing);
  return DCNN_ERR_IO;
}

void dcnn__atomic_abort(dcnn_atomic_file *file) {
  unlink(file->temp);
  if (file->stream) fclose(file->stream);
  file->stream = NULL;
  unblock_xfsz(file);
}

void (*dcnn__atomic_write_hook)(const char *temp_path, size_t written, size_t total);

#define CHUNK_BYTES ((size_t)1 << 16)

dcnn_status dcnn__write_file_atomic(const char *path, const void *data, size_t size) {
  dcnn_atomic_file file;
  DCNN_TRY(dcnn__atomic_open(&file, path));
  for (size_t done = 0; done < size;) {
    const size_t n = size - done < CHUNK_BYTES ? size - done : CHUNK_BYTES;
    if (fwrite((const char *)data + done, 1, n, file.stream) != n) {
      const int err = file.first_errno ? file.first_errno : EIO;
      dcnn__atomic_abort(&file);
      char shown[DCNN__SHOWN_PATH_MAX];
      const char *enclosing = dcnn__file_scope_enter(path);
      dcnn__fail(DCNN_ERR_IO, "%s: write failed: %s; the previous file (if any) is unchanged",
                 dcnn__shown_path(path, shown), describe(err));
      dcnn__file_scope_leave(enclosing);
      return DCNN_ERR_IO;
    }
    done += n;
    if (dcnn__atomic_write_hook) {
      fflush(file.stream);
      dcnn__atomic_write_hook(file.temp, done, size);
    }
  }
  return dcnn__atomic_commit(&file);
}
