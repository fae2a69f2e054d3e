/* Helpers shared by the example programs: files, timing, SVG charts, HTML. */
#ifndef DCNN_EXAMPLE_SUPPORT_H
#define DCNN_EXAMPLE_SUPPORT_H

#include <stdint.h>
#include <stdio.h>

#include <digitcnn.h>

/* Prints the library's error and exits on failure: examples have nowhere to recover to. */
#define EXAMPLE_CHECK(call)                                                                          \
  do {                                                                                               \
    dcnn_status example_status_ = (call);                                                            \
    if (example_status_ != DCNN_OK) {                                                                \
      fprintf(stderr, "error: %s: %s\n", dcnn_status_str(example_status_), dcnn_last_error());        \
      exit(1);                                                                                       \
    }                                                                                                \
  } while (0)

double example_now(void);

/* The library's Keras-style bar on stdout for `trainer`: mode 0 none, 1 a
 * live bar on a terminal (lines otherwise), 2 lines. Returns the bar to
 * destroy after the fits (NULL for mode 0). */
dcnn_progress_bar *example_progress_bar(dcnn_context *ctx, dcnn_trainer *trainer, int mode);

/* Sends the context's warnings and errors to stderr ("warning: ..."). */
void example_log_warnings(dcnn_context *ctx);

/* Writes `text` to `path` through a temporary file and a rename (no partial files). */
int example_write_text(const char *path, const char *text);

/* mkdir -p; returns 0 on success, else prints why to stderr and returns 1 (a file in the
 * way is a failure). */
int example_make_dirs(const char *path);

/* Creates `dir` (mkdir -p) and takes an exclusive lock on dir/.lock for the
 * rest of the process (flock: released when the process ends, however it
 * ends), so that two runs writing into one output directory cannot mix
 * their files. 0 on success; 2 (another process holds it: the message names
 * it) or 1 (the directory or lock file cannot be made), after printing why. */
int example_lock_dir(const char *dir);

/* The MNIST-M directory used when --data is not given: $DIGITCNN_DATA when
 * set and not empty; else the source checkout's data/mnist_m when it exists
 * (the programs of a build tree, scripts/get-data.sh's place); else
 * data/mnist_m under the working directory (an installed program). */
const char *example_default_data(void);

/* 1 if `a` and `b` name the same existing file or directory (device and
 * inode), 0 otherwise (also when either does not exist). */
int example_same_file(const char *a, const char *b);

/* A stratified subset of about `want` samples of `ds` (taking ownership of
 * `ds`: it is released, or returned when it is no larger than `want`). */
dcnn_dataset *example_stratified_subset(dcnn_dataset *ds, int32_t want, uint64_t seed);

/* Before any training: 0 when `pipeline` makes samples of `ds` (`what`: "training",
 * "test", ...) of the shape `model` takes, else prints why to stderr (naming gray
 * images when the channels differ) and returns 1. NULL `ds` passes. */
int example_check_samples(const dcnn_pipeline *pipeline, const dcnn_dataset *ds, const dcnn_model *model,
                          const char *what);

/* The pipeline a saved model takes (dcnn_pipeline_configure_for_model), on
 * the paper's defaults when the model recorded no preprocessing. Ends the
 * program on an error. */
dcnn_pipeline *example_model_pipeline(dcnn_context *ctx, const dcnn_model *model);

/* Joins a directory and a file name into a static rotating buffer (8 slots);
 * a path longer than 4,095 bytes ends the program (status 1) rather than
 * naming another file. */
const char *example_path(const char *dir, const char *name);

/* One line of a line chart. */
typedef struct chart_series {
  const char *name;
  const double *x, *y;
  int32_t count;
  const char *color;
  int dashed;
} chart_series;

/* A line chart as SVG text (caller frees). NaN bounds are taken from the data. */
char *svg_line_chart(const char *title, const char *x_label, const char *y_label, const chart_series *series,
                     int32_t count, double x_min, double x_max, double y_min, double y_max);

/* Axes and extras of svg_chart(). */
typedef struct chart_options {
  double x_min, x_max, y_min, y_max; /* NaN: taken from the data */
  int log_x;                         /* logarithmic x axis (x <= x_min, e.g. 0, is drawn at the left edge) */
  int diagonal;                      /* the chance line y = x, dashed grey, in the legend */
  double mark_x;                     /* a vertical marker at this x, NaN for none ... */
  const char *mark_label;            /* ... its label ... */
  double mark_y;                     /* ... and a ring at (mark_x, mark_y), NaN for none */
} chart_options;

/* A line chart as SVG text (caller frees). Every polyline keeps only the
 * points that change the drawing (corners; not collinear ones, nor ones
 * within half a pixel of the last kept); every text is escaped. */
char *svg_chart(const char *title, const char *x_label, const char *y_label, const chart_series *series,
                int32_t count, const chart_options *options);

/* Writes `text` (NULL: nothing) with & < > " ' escaped for HTML, SVG and their attributes. */
void example_html_escape(FILE *f, const char *text);

/* A confusion-matrix heat map as SVG text (caller frees); rows are true classes,
 * with a colour bar saying what the shades mean. */
char *svg_confusion_matrix(const char *title, const int64_t *matrix, int32_t classes);

/* Ten distinguishable colours. */
const char *chart_color(int32_t i);

#endif
