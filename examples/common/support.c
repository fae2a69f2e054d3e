#define _POSIX_C_SOURCE 200809L
#define _XOPEN_SOURCE 700 /* realpath */
#include "support.h"

#include "args.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

dcnn_progress_bar *example_progress_bar(dcnn_context *ctx, dcnn_trainer *trainer, int mode) {
  if (mode == 0) return NULL;
  dcnn_progress_bar *bar = NULL;
  EXAMPLE_CHECK(dcnn_progress_bar_create(ctx, stdout, mode == 2 ? DCNN_PROGRESS_BAR_LINES : DCNN_PROGRESS_BAR_AUTO, &bar));
  EXAMPLE_CHECK(dcnn_trainer_set_progress(trainer, dcnn_progress_bar_callback, bar));
  return bar;
}

static void log_to_stderr(dcnn_log_level level, const char *message, void *user) {
  (void)user;
  fflush(stdout); /* after any progress already written */
  fprintf(stderr, "%s: %s\n", level == DCNN_LOG_ERROR ? "error" : "warning", message);
}

void example_log_warnings(dcnn_context *ctx) { EXAMPLE_CHECK(dcnn_context_set_log(ctx, log_to_stderr, DCNN_LOG_WARN, NULL)); }

double example_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int example_write_text(const char *path, const char *text) {
  char temp[4096];
  snprintf(temp, sizeof temp, "%s.XXXXXX", path);
  int fd = mkstemp(temp);
  if (fd < 0) {
    fprintf(stderr, "error: %s: %s\n", path, strerror(errno));
    return 1;
  }
  /* mkstemp makes 0600: the replaced file's mode, else 0666 less the umask (a
   * program, single-threaded here: reading the umask by setting it is fine) */
  struct stat replaced;
  const mode_t mask = umask(077);
  umask(mask);
  (void)fchmod(fd, stat(path, &replaced) == 0 && S_ISREG(replaced.st_mode) ? replaced.st_mode & 0777 : 0666 & ~mask);
  FILE *f = fdopen(fd, "w");
  if (!f) close(fd);
  int ok = f && fputs(text, f) >= 0 && fflush(f) == 0 && fsync(fd) == 0;
  ok = (f ? fclose(f) == 0 : 0) && ok;
  if (!ok || rename(temp, path) != 0) {
    fprintf(stderr, "error: cannot write %s: %s\n", path, strerror(errno));
    unlink(temp);
    return 1;
  }
  return 0;
}

/* mkdir -p without the message. */
static int make_dirs_quietly(const char *path) {
  char buf[4096];
  if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
    errno = ENAMETOOLONG; /* a cut path would create some other directory */
    return 1;
  }
  for (char *p = buf + 1; *p; ++p) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(buf, 0755) != 0 && errno != EEXIST) return 1;
    *p = '/';
  }
  if (mkdir(buf, 0755) == 0) return 0;
  if (errno != EEXIST) return 1;
  /* EEXIST says only that the name is taken: a file there is no directory to write into. */
  struct stat st;
  if (stat(buf, &st) != 0) return 1;
  if (!S_ISDIR(st.st_mode)) {
    errno = ENOTDIR;
    return 1;
  }
  return 0;
}

int example_make_dirs(const char *path) {
  if (make_dirs_quietly(path) == 0) return 0;
  fprintf(stderr, "error: cannot create the directory %s: %s\n", path, strerror(errno));
  return 1;
}

int example_lock_dir(const char *dir) {
  if (example_make_dirs(dir)) return 1;
  const char *path = example_path(dir, ".lock");
  const int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666); /* kept open: the lock lives with it */
  if (fd < 0) {
    fprintf(stderr, "%s: cannot open the lock file %s: %s\n", example_program_name(), path, strerror(errno));
    return 1;
  }
  if (flock(fd, LOCK_EX | LOCK_NB) == 0) return 0;
  const int busy = errno == EWOULDBLOCK;
  fprintf(stderr, "%s: %s\n", example_program_name(),
          busy ? "another run is writing into this output directory" : strerror(errno));
  fprintf(stderr, "  (%s is locked; wait for that run to end, or give another --out)\n", path);
  close(fd);
  return busy ? 2 : 1;
}

const char *example_default_data(void) {
  const char *chosen = getenv("DIGITCNN_DATA");
  if (chosen && *chosen) return chosen;
#if defined(DCNN_SOURCE_DATA) && defined(DCNN_BUILD_TREE)
  /* the program's own file inside the build tree: this is the checkout's build, not an installed copy */
  char self[4096], tree[4096];
  struct stat st;
  if (realpath("/proc/self/exe", self) && realpath(DCNN_BUILD_TREE, tree) && strncmp(self, tree, strlen(tree)) == 0 &&
      self[strlen(tree)] == '/' && stat(DCNN_SOURCE_DATA, &st) == 0 && S_ISDIR(st.st_mode))
    return DCNN_SOURCE_DATA;
#endif
  return "data/mnist_m";
}

int example_same_file(const char *a, const char *b) {
  struct stat sa, sb;
  return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

const char *example_path(const char *dir, const char *name) {
  static char paths[8][4096];
  static int slot;
  slot = (slot + 1) % 8;
  const int n = snprintf(paths[slot], sizeof paths[slot], "%s/%s", dir, name);
  if (n < 0 || (size_t)n >= sizeof paths[slot]) { /* a cut path names another file: refuse it */
    fprintf(stderr, "%s: the path %s/%s is longer than %zu bytes\n", example_program_name(), dir, name,
            sizeof paths[slot] - 1);
    exit(EXAMPLE_EXIT_FAILURE);
  }
  return paths[slot];
}

const char *chart_color(int32_t i) {
  static const char *const colors[10] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                         "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
  return colors[((i % 10) + 10) % 10];
}

/* A "nice" tick step for a range. */
static double tick_step(double span) {
  double raw = span / 5.0, mag = pow(10.0, floor(log10(raw))), f = raw / mag;
  return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
}

void example_html_escape(FILE *f, const char *text) {
  for (const char *c = text ? text : ""; *c; ++c) switch (*c) {
      case '&': fputs("&amp;", f); break;
      case '<': fputs("&lt;", f); break;
      case '>': fputs("&gt;", f); break;
      case '"': fputs("&quot;", f); break;
      case '\'': fputs("&#39;", f); break;
      default: fputc(*c, f);
    }
}

/* Points closer than this (in tenths of a pixel, on both axes) to the last
 * one kept are not drawn: under a 2-pixel stroke nobody sees them. */
#define CHART_NEAR 5

/* Appends one polyline point unless the eye could not tell it apart: a point
 * within half a pixel of the last one kept is dropped (never the series'
 * `last`), and one in line with the previous two replaces the middle one.
 * What stays are the corners (every point of a ROC curve's convex hull that
 * is half a pixel from its neighbours), at most one per half pixel. `pts`
 * holds (x, y) pairs in tenths of a pixel; returns the new count. */
static int32_t thin_point(long *pts, int32_t n, double x, double y, int last) {
  const long px = lround(x * 10), py = lround(y * 10);
  if (n > 0 && labs(pts[2 * n - 2] - px) < (last ? 1 : CHART_NEAR) && labs(pts[2 * n - 1] - py) < (last ? 1 : CHART_NEAR))
    return n;
  if (n > 1) {
    const long ax = pts[2 * n - 4], ay = pts[2 * n - 3], bx = pts[2 * n - 2], by = pts[2 * n - 1];
    /* Same direction (cross product 0, dot product > 0): b lies between a and the new point. */
    if ((bx - ax) * (py - by) == (by - ay) * (px - bx) && (bx - ax) * (px - bx) + (by - ay) * (py - by) > 0) {
      pts[2 * n - 2] = px;
      pts[2 * n - 1] = py;
      return n;
    }
  }
  pts[2 * n] = px;
  pts[2 * n + 1] = py;
  return n + 1;
}

char *svg_line_chart(const char *title, const char *x_label, const char *y_label, const chart_series *series,
                     int32_t count, double x_min, double x_max, double y_min, double y_max) {
  const chart_options options = {x_min, x_max, y_min, y_max, 0, 0, NAN, NULL, NAN};
  return svg_chart(title, x_label, y_label, series, count, &options);
}

char *svg_chart(const char *title, const char *x_label, const char *y_label, const chart_series *series, int32_t count,
                const chart_options *o) {
  const double W = 640, H = 420, L = 70, R = 170, T = 40, B = 55;
  double xl = INFINITY, xh = -INFINITY, yl = INFINITY, yh = -INFINITY;
  for (int32_t s = 0; s < count; ++s)
    for (int32_t i = 0; i < series[s].count; ++i) {
      if (isnan(series[s].y[i])) continue;
      if (!(o->log_x && series[s].x[i] <= 0)) xl = fmin(xl, series[s].x[i]);
      xh = fmax(xh, series[s].x[i]);
      yl = fmin(yl, series[s].y[i]);
      yh = fmax(yh, series[s].y[i]);
    }
  if (!isnan(o->x_min)) xl = o->x_min;
  if (!isnan(o->x_max)) xh = o->x_max;
  if (!isnan(o->y_min)) yl = o->y_min;
  if (!isnan(o->y_max)) yh = o->y_max;
  const int log_x = o->log_x && xl > 0 && isfinite(xl);
  if (!(xh > xl)) xh = log_x ? xl * 10 : xl + 1;
  if (!(yh > yl)) yh = yl + 1;
  char *text = NULL;
  size_t size = 0;
  FILE *f = open_memstream(&text, &size);
  if (!f) return NULL;
  /* On a logarithmic axis x <= x_min (a false positive rate of 0) is drawn at the left edge. */
  const double lxl = log_x ? log10(xl) : xl, lxh = log_x ? log10(xh) : xh;
#define AX(v) (log_x ? log10(fmax((v), xl)) : (v))
#define PX(v) (L + (AX(v) - lxl) / (lxh - lxl) * (W - L - R))
#define PY(v) (H - B - ((v) - yl) / (yh - yl) * (H - T - B))
  fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
             "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
          W, H, W, H);
  fprintf(f, "<text x=\"%.0f\" y=\"24\" font-size=\"15\" text-anchor=\"middle\">", (W - R + L) / 2);
  example_html_escape(f, title);
  fprintf(f, "</text>\n");
  int integer_x = 1; /* epochs: no ticks between whole numbers */
  for (int32_t s = 0; s < count; ++s)
    for (int32_t i = 0; i < series[s].count; ++i) integer_x &= series[s].x[i] == floor(series[s].x[i]);
  double xs = tick_step(xh - xl);
  const double ys = tick_step(yh - yl);
  if (integer_x && xs < 1) xs = 1;
  for (double v = ceil(yl / ys) * ys; v <= yh + 1e-9 * ys; v += ys)
    fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/><text x=\"%.1f\" y=\"%.1f\" "
               "text-anchor=\"end\">%g</text>\n", L, W - R, PY(v), PY(v), L - 6, PY(v) + 4, fabs(v) < 1e-12 ? 0 : v);
  if (log_x) /* a labelled line per decade, faint ones at 2..9 times it */
    for (double decade = pow(10, floor(lxl)); decade <= xh * (1 + 1e-9); decade *= 10)
      for (int m = 1; m < 10; ++m) {
        const double v = decade * m;
        if (v < xl * (1 - 1e-9) || v > xh * (1 + 1e-9)) continue;
        fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>", PX(v), PX(v), T, H - B,
                m == 1 ? "#ddd" : "#f0f0f0");
        if (m == 1) fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g</text>", PX(v), H - B + 18, v);
        fprintf(f, "\n");
      }
  else
    for (double v = ceil(xl / xs) * xs; v <= xh + 1e-9 * xs; v += xs)
      fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/><text x=\"%.1f\" y=\"%.1f\" "
                 "text-anchor=\"middle\">%g</text>\n", PX(v), PX(v), T, H - B, PX(v), H - B + 18, fabs(v) < 1e-12 ? 0 : v);
  fprintf(f, "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" stroke=\"#333\"/>\n", L, T,
          W - L - R, H - T - B);
  fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">", (W - R + L) / 2, H - 12);
  example_html_escape(f, x_label);
  fprintf(f, "</text>\n<text transform=\"translate(18 %.0f) rotate(-90)\" text-anchor=\"middle\">", (H - B + T) / 2);
  example_html_escape(f, y_label);
  fprintf(f, "</text>\n");
  int32_t legend = 0; /* legend entries so far */
  if (o->diagonal) { /* y = x, sampled so that it bends correctly on a logarithmic axis */
    fprintf(f, "<polyline fill=\"none\" stroke=\"#999\" stroke-width=\"1.5\" stroke-dasharray=\"3 3\" points=\"");
    for (int i = 0; i <= 64; ++i) {
      const double v = log_x ? pow(10, lxl + (lxh - lxl) * i / 64) : xl + (xh - xl) * i / 64;
      if (v >= yl && v <= yh) fprintf(f, "%.1f,%.1f ", PX(v), PY(v));
    }
    fprintf(f, "\"/>\n<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%.0f\" y2=\"%.0f\" stroke=\"#999\" stroke-width=\"1.5\" "
               "stroke-dasharray=\"3 3\"/><text x=\"%.0f\" y=\"%.0f\">chance (y = x)</text>\n",
            W - R + 12, W - R + 36, T + 10, T + 10, W - R + 42, T + 14);
    legend++;
  }
  if (!isnan(o->mark_x)) {
    fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.0f\" y2=\"%.0f\" stroke=\"#2a2\" stroke-width=\"1.5\" "
               "stroke-dasharray=\"2 3\"/>\n", PX(o->mark_x), PX(o->mark_x), T, H - B);
    const int right = PX(o->mark_x) > (W - R + L) / 2; /* the label on the side with room */
    fprintf(f, "<text x=\"%.1f\" y=\"%.0f\" fill=\"#161\" text-anchor=\"%s\">", PX(o->mark_x) + (right ? -4 : 4), T + 14,
            right ? "end" : "start");
    example_html_escape(f, o->mark_label);
    fprintf(f, "</text>\n");
    if (!isnan(o->mark_y))
      fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"6\" fill=\"none\" stroke=\"#2a2\" stroke-width=\"2\"/>\n",
              PX(o->mark_x), PY(o->mark_y));
  }
  int32_t most = 0;
  for (int32_t s = 0; s < count; ++s) most = series[s].count > most ? series[s].count : most;
  long *pts = malloc(sizeof(long) * 2 * (size_t)(most ? most : 1));
  if (!pts) {
    fclose(f);
    free(text);
    return NULL;
  }
  for (int32_t s = 0; s < count; ++s) {
    fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"", series[s].color,
            series[s].dashed ? " stroke-dasharray=\"6 4\"" : "");
    int32_t n = 0;
    for (int32_t i = 0; i < series[s].count; ++i)
      if (!isnan(series[s].y[i])) n = thin_point(pts, n, PX(series[s].x[i]), PY(series[s].y[i]), i == series[s].count - 1);
    for (int32_t i = 0; i < n; ++i) fprintf(f, "%s%.1f,%.1f", i ? " " : "", pts[2 * i] / 10.0, pts[2 * i + 1] / 10.0);
    fprintf(f, "\"/>\n");
    if (series[s].count <= 30)
      for (int32_t i = 0; i < series[s].count; ++i)
        if (!isnan(series[s].y[i]))
          fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"/>\n", PX(series[s].x[i]),
                  PY(series[s].y[i]), series[s].color);
    const double ly = T + 10 + 20.0 * legend++;
    fprintf(f, "<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%.0f\" y2=\"%.0f\" stroke=\"%s\" stroke-width=\"2\"%s/>"
               "<text x=\"%.0f\" y=\"%.0f\">", W - R + 12, W - R + 36, ly, ly, series[s].color,
            series[s].dashed ? " stroke-dasharray=\"6 4\"" : "", W - R + 42, ly + 4);
    example_html_escape(f, series[s].name);
    fprintf(f, "</text>\n");
  }
  free(pts);
#undef AX
#undef PX
#undef PY
  fprintf(f, "</svg>\n");
  fclose(f);
  return text;
}

char *svg_confusion_matrix(const char *title, const int64_t *matrix, int32_t k) {
  const double cell = 44, L = 80, T = 60;
  const double W = L + cell * k + 160, H = T + cell * k + 50;
  int64_t max = 1;
  for (int32_t i = 0; i < k * k; ++i)
    if (matrix[i] > max) max = matrix[i];
  char *text = NULL;
  size_t size = 0;
  FILE *f = open_memstream(&text, &size);
  if (!f) return NULL;
  fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
             "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
          W, H, W, H);
  fprintf(f, "<text x=\"%.0f\" y=\"22\" font-size=\"15\" text-anchor=\"middle\">", W / 2);
  example_html_escape(f, title);
  fprintf(f, "</text>\n");
  fprintf(f, "<text x=\"%.0f\" y=\"44\" text-anchor=\"middle\">predicted class</text>\n", L + cell * k / 2);
  fprintf(f, "<text transform=\"translate(22 %.0f) rotate(-90)\" text-anchor=\"middle\">true class</text>\n",
          T + cell * k / 2);
  for (int32_t t = 0; t < k; ++t) {
    fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">%d</text>\n", L - 8, T + cell * t + cell / 2 + 4, (int)t);
    fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">%d</text>\n", L + cell * t + cell / 2, T - 6, (int)t);
    int64_t row = 0;
    for (int32_t p = 0; p < k; ++p) row += matrix[t * k + p];
    for (int32_t p = 0; p < k; ++p) {
      const int64_t v = matrix[t * k + p];
      /* Diagonal cells in blue, errors in red, shaded by their share of the row. */
      const double share = row ? (double)v / (double)row : 0, a = t == p ? share : fmin(1.0, 4.0 * share);
      fprintf(f, "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"%s\" fill-opacity=\"%.3f\" "
                 "stroke=\"#eee\"/>\n", L + cell * p, T + cell * t, cell, cell, t == p ? "#1f77b4" : "#d62728",
              0.08 + 0.92 * a);
      fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\" fill=\"%s\">%lld</text>\n", L + cell * p + cell / 2,
              T + cell * t + cell / 2 + 4, a > 0.55 ? "white" : "black", (long long)v);
    }
  }
  /* The colour bars: shade against the share of the true class's row, the
   * error scale saturating at a quarter of the row. */
  const double bar = cell * k, bx = L + cell * k + 28;
  static const char *const names[2] = {"correct", "errors"}, *const colors[2] = {"#1f77b4", "#d62728"};
  static const char *const ticks[2][3] = {{"0%", "50%", "100%"}, {"0%", "12.5%", "&#8805;25%"}};
  for (int b = 0; b < 2; ++b) {
    const double x = bx + 62 * b;
    fprintf(f, "<defs><linearGradient id=\"cm-bar-%d\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\"><stop offset=\"0\" "
               "stop-color=\"%s\" stop-opacity=\"0.08\"/><stop offset=\"1\" stop-color=\"%s\" stop-opacity=\"1\"/>"
               "</linearGradient></defs>\n<rect x=\"%.0f\" y=\"%.0f\" width=\"14\" height=\"%.0f\" fill=\"url(#cm-bar-%d)\" "
               "stroke=\"#999\"/>\n<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">%s</text>\n",
            b, colors[b], colors[b], x, T, bar, b, x + 7, T - 6, names[b]);
    for (int i = 0; i < 3; ++i)
      fprintf(f, "<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/><text x=\"%.0f\" y=\"%.1f\">%s</text>\n",
              x + 14, x + 18, T + bar * (1 - i / 2.0), T + bar * (1 - i / 2.0), x + 20, T + bar * (1 - i / 2.0) + 4,
              ticks[b][i]);
  }
  fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">shade: a cell's share of its row (the true "
             "class's images)</text>\n", L + bar / 2, T + bar + 24);
  fprintf(f, "</svg>\n");
  fclose(f);
  return text;
}

int example_check_samples(const dcnn_pipeline *pipeline, const dcnn_dataset *ds, const dcnn_model *model,
                          const char *what) {
  if (!ds) return 0;
  const dcnn_shape takes = dcnn_model_input_shape(model);
  int32_t height = 0, width = 0, channels = 0;
  EXAMPLE_CHECK(dcnn_dataset_image_size(ds, &height, &width, &channels));
  dcnn_shape sample;
  char a[64], b[64];
  if (dcnn_pipeline_sample_shape(pipeline, ds, &sample) == DCNN_OK) {
    if (dcnn_shape_equal(&sample, &takes)) return 0;
    fprintf(stderr, "error: the %s images make samples %s, the model takes %s", what,
            dcnn_shape_format(&sample, a, sizeof a), dcnn_shape_format(&takes, b, sizeof b));
  } else {
    fprintf(stderr, "error: the %s images: %s", what, dcnn_last_error());
  }
  if (channels == 1 && takes.ndim == 3 && takes.dims[0] == 3)
    fprintf(stderr, "; every %s image is gray, and a colour model needs colour images (leave out --rgb or the "
            "recipe's rgb=1, or convert the images to RGB)", what);
  fprintf(stderr, "\n");
  return 1;
}

dcnn_pipeline *example_model_pipeline(dcnn_context *ctx, const dcnn_model *model) {
  dcnn_pipeline *p = NULL;
  EXAMPLE_CHECK(dcnn_pipeline_create(ctx, &p));
  /* a model without recorded preprocessing (an imported one) gets the paper's */
  if (!dcnn_model_metadata(model, "preprocessing")) EXAMPLE_CHECK(dcnn_pipeline_set_paper_defaults(p));
  EXAMPLE_CHECK(dcnn_pipeline_configure_for_model(p, model));
  return p;
}

dcnn_dataset *example_stratified_subset(dcnn_dataset *ds, int32_t want, uint64_t seed) {
  if (want >= dcnn_dataset_count(ds)) return ds;
  dcnn_dataset *rest = NULL, *part = NULL;
  EXAMPLE_CHECK(dcnn_dataset_split(ds, (double)want / dcnn_dataset_count(ds), seed, DCNN_SPLIT_STRATIFIED, &rest,
                                   &part));
  dcnn_dataset_destroy(rest);
  dcnn_dataset_destroy(ds);
  return part;
}
