/* A real full disk: saves into a 1 MiB tmpfs fail with "No space left on
 * device", leave no temporary file and keep the previous file byte for byte.
 * Mounting needs root (CI runs as root); elsewhere the test skips, saying so. */
#define _GNU_SOURCE /* mount */
#include "test_support.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

static char disk[256];

static int mount_small_disk(void **state) {
  (void)state;
  snprintf(disk, sizeof disk, "%s/dcnn-full-disk-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if (!mkdtemp(disk)) return -1;
  if (mount("tmpfs", disk, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m") != 0) {
    fprintf(stderr, "note: cannot mount a tmpfs at %s (%s; needs root): the full-disk test skips\n", disk,
            strerror(errno));
    rmdir(disk);
    disk[0] = '\0';
  }
  return 0;
}

static int unmount_small_disk(void **state) {
  (void)state;
  if (disk[0]) {
    umount(disk);
    rmdir(disk);
  }
  return 0;
}

static long file_bytes(const char *path, char *buf, long cap) {
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  long n = (long)fread(buf, 1, (size_t)cap, f);
  fclose(f);
  return n;
}

/* Names in the disk's root other than `keep`: what a failed save left behind. */
static int leftovers(const char *keep) {
  DIR *d = opendir(disk);
  assert_non_null(d);
  int count = 0;
  for (struct dirent *e; (e = readdir(d));) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || !strcmp(e->d_name, keep)) continue;
    fprintf(stderr, "left behind: %s\n", e->d_name);
    count++;
  }
  closedir(d);
  return count;
}

static void test_saves_on_a_full_disk_keep_the_old_file(void **state) {
  (void)state;
  if (!disk[0]) skip();
  dcnn_context *ctx = test_context(1);
  char path[512];
  snprintf(path, sizeof path, "%s/model.dcnn", disk);

  /* A small model that fits, then the paper CNN (about 3.4 MB) over it. */
  dcnn_model *small = NULL;
  dcnn_shape sample = dcnn_shape_make(1, 4, 0, 0, 0);
  dcnn_layer *dense = NULL;
  assert_ok(dcnn_model_create(ctx, &sample, &small));
  assert_ok(dcnn_dense_create(3, DCNN_WITH_BIAS, &dense));
  assert_ok(dcnn_model_add(small, dense));
  assert_ok(dcnn_model_save(small, path));
  static char before[1 << 16], after[1 << 16];
  const long size = file_bytes(path, before, sizeof before);
  assert_true(size > 0 && size < (long)sizeof before);

  paper_setup p;
  paper_setup_create(ctx, 2, &p);
  assert_status(dcnn_model_save(p.model, path), DCNN_ERR_IO);
  assert_error_mentions("No space left on device");
  assert_int_equal(leftovers("model.dcnn"), 0);
  assert_int_equal(file_bytes(path, after, sizeof after), size);
  assert_memory_equal(before, after, (size_t)size);
  dcnn_model *reloaded = NULL;
  assert_ok(dcnn_model_load(ctx, path, &reloaded));
  dcnn_model_destroy(reloaded);

  /* A checkpoint of the same model: refused whole, nothing written. */
  dcnn_trainer *trainer = NULL;
  char checkpoint[512];
  snprintf(checkpoint, sizeof checkpoint, "%s/last.dcnn", disk);
  assert_ok(dcnn_trainer_create(ctx, p.model, p.adam, &trainer));
  assert_status(dcnn_trainer_save_checkpoint(trainer, checkpoint), DCNN_ERR_IO);
  assert_error_mentions("No space left on device");
  assert_int_equal(leftovers("model.dcnn"), 0);

  dcnn_trainer_destroy(trainer);
  paper_setup_destroy(&p);
  dcnn_model_destroy(small);
  dcnn_context_destroy(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_saves_on_a_full_disk_keep_the_old_file)};
  return cmocka_run_group_tests(tests, mount_small_disk, unmount_small_disk);
}
