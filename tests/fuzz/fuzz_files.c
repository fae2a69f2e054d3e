#define _POSIX_C_SOURCE 200809L
#include "fuzz_files.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256];
static int cleanup_registered;
static const char *const names[] = {"images.idx", "labels.idx", "a.png", "b.png", "list.txt"};

static void remove_dir(void) {
  if (!dir[0]) return;
  char path[512];
  for (size_t i = 0; i < sizeof names / sizeof names[0]; ++i) {
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    unlink(path);
  }
  rmdir(dir);
  dir[0] = '\0';
}

void fuzz_cleanup(void) { remove_dir(); }

const char *fuzz_dir(void) {
  if (!dir[0]) {
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(dir, sizeof dir, "%s/dcnn-fuzz-%d", base, (int)getpid());
    mkdir(dir, 0700);
    if (!cleanup_registered) atexit(remove_dir);
    cleanup_registered = 1;
  }
  return dir;
}

const char *fuzz_write(const char *name, const void *data, size_t size) {
  static char paths[4][512];
  static int next;
  char *path = paths[next++ % 4];
  snprintf(path, sizeof paths[0], "%s/%s", fuzz_dir(), name);
  FILE *f = fopen(path, "wb");
  if (!f) abort(); /* the harness's own failure, not the library's */
  if (size && fwrite(data, 1, size, f) != size) abort();
  fclose(f);
  return path;
}
