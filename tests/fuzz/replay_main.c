/* Runs a fuzz harness over files (seed corpora, regression inputs) without
 * libFuzzer, so every build (including the sanitizer build) replays them:
 *   replay [--bounded SECONDS MB] DIR_OR_FILE...
 * exit 0 when every input ran to completion. With --bounded each input runs
 * in a forked child that must finish within SECONDS and MB megabytes beyond
 * the replayer's own (RLIMIT_AS, and the child's peak RSS): the crafted
 * inputs of issue #15 (a few bytes announcing gigabytes) must stay cheap. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bounded_run.h"
#include "fuzz_files.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct replay_input {
  const uint8_t *data;
  size_t size;
} replay_input;

static int run_harness(void *arg, char *message, size_t capacity) {
  const replay_input *in = arg;
  (void)message;
  (void)capacity;
  LLVMFuzzerTestOneInput(in->data, in->size);
  fuzz_cleanup(); /* the child leaves through _exit: no atexit handlers */
  return 0;
}

static double max_seconds;
static int64_t max_bytes;
static double slowest;
static int64_t largest_rss;

static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return perror(path), 1;
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *data = malloc((size_t)size + 1);
  if (!data || fread(data, 1, (size_t)size, f) != (size_t)size) return fclose(f), free(data), 1;
  fclose(f);
  replay_input in = {data, (size_t)size};
  int failed = 0;
  if (max_seconds > 0) {
    dcnn_test_bounded run;
    if (!dcnn_test_run_bounded(run_harness, &in, max_seconds, max_bytes, &run)) {
      fprintf(stderr, "%s: %s\n", path, run.message);
      failed = 1;
    }
    if (run.seconds > slowest) slowest = run.seconds;
    if (run.peak_rss > largest_rss) largest_rss = run.peak_rss;
  } else {
    LLVMFuzzerTestOneInput(data, (size_t)size);
  }
  free(data);
  return failed;
}

int main(int argc, char **argv) {
  int first = 1;
  if (argc > 3 && !strcmp(argv[1], "--bounded")) {
    max_seconds = atof(argv[2]);
    max_bytes = (int64_t)atoll(argv[3]) << 20;
    first = 4;
  }
  int inputs = 0, failures = 0;
  for (int i = first; i < argc; ++i) {
    struct stat st;
    if (stat(argv[i], &st) != 0) continue; /* an absent corpus directory is empty */
    if (!S_ISDIR(st.st_mode)) {
      failures += run_file(argv[i]);
      inputs++;
      continue;
    }
    DIR *d = opendir(argv[i]);
    for (struct dirent *e; d && (e = readdir(d));) {
      if (e->d_name[0] == '.') continue;
      char path[4096];
      snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
      failures += run_file(path);
      inputs++;
    }
    if (d) closedir(d);
  }
  if (max_seconds > 0)
    printf("%d inputs replayed, %d failed (bounds %.0f s, %lld MB; slowest %.3f s, largest peak RSS %lld MB)\n",
           inputs, failures, max_seconds, (long long)(max_bytes >> 20), slowest, (long long)(largest_rss >> 20));
  else
    printf("%d inputs replayed, %d unreadable\n", inputs, failures);
  return failures ? 1 : 0;
}
