/* digitcnn-table1's output directory as a resumable run: per model, the
 * options that produced it and, once finished, its results (a small
 * key=value text file), so that a rerun skips finished models, continues an
 * unfinished one from its checkpoint and refuses changed options. */
#ifndef TABLE1_STATE_H
#define TABLE1_STATE_H

#include <stddef.h>

/* The options that change results, as "key=value\n" lines (the recipe's
 * from table1_recipe_text(), then the data directory, last). */
typedef struct table1_options {
  char text[8192];
} table1_options;

/* 0, or 1 when the text does not fit (a data path near PATH_MAX): refused, not cut. */
int table1_options_make(table1_options *o, int epochs, int batch, unsigned long long seed, int channels,
                        int train_images, int test_images, int threads, int processes, const char *recipe,
                        const char *data);

/* Compares the options recorded in `path` (its first lines) with `o`:
 * 0 the same, -1 no such file, 1 different (`why` says which, as
 * "epochs: 2 there, 3 now (--epochs)"). A file written before the data
 * directory was recorded (no data= line) matches any; one written before the
 * process count was (no processes= line) counts as one process's. */
int table1_options_check(const char *path, const table1_options *o, char *why, size_t size);
/* 1 if the file at `path` records a data directory (a data= line: files since 0.2.0), else 0. */
int table1_options_name_data(const char *path);

/* What the table shows of a finished model. */
typedef struct table1_result {
  double metric[7], params, seconds, infer_per_second;
  int best_epoch;
} table1_result;

/* Writes the options and the result (exactly: %.17g) atomically; 0 on success. */
int table1_result_write(const char *path, const table1_options *o, const table1_result *r);
/* Reads a result written by table1_result_write; 0 on success. */
int table1_result_read(const char *path, table1_result *r);

#endif
