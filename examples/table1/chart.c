/* digitcnn-table1's SVG chart of validation accuracy per epoch (chart.h). */
#define _POSIX_C_SOURCE 200809L
#include "chart.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/support.h"

int table1_history_read(const char *path, table1_series *s) {
  table1_series_free(s);
  FILE *f = fopen(path, "r");
  if (!f) return 1;
  char line[512];
  int failed = !fgets(line, sizeof line, f) || strncmp(line, "epoch,", 6) != 0, capacity = 0;
  while (!failed && fgets(line, sizeof line, f)) {
    if (s->count == capacity) { /* every epoch of the history, however many (--epochs goes to 1,000,000) */
      const int grown = capacity ? 2 * capacity : 64;
      double *more = realloc(s->value, (size_t)grown * sizeof *more);
      if (!more) {
        failed = 1;
        break;
      }
      s->value = more;
      capacity = grown;
    }
    const char *last = strrchr(line, ','); /* val_accuracy is the last column */
    char *end = NULL;
    const double v = last ? strtod(last + 1, &end) : NAN;
    s->value[s->count++] = last && end != last + 1 ? v : NAN; /* "nan" without validation */
  }
  fclose(f);
  if (failed) table1_series_free(s);
  return failed;
}

void table1_series_free(table1_series *s) {
  free(s->value);
  s->value = NULL;
  s->count = 0;
}

/* Plot area in SVG pixels: x from epoch 1 to the longest series, y from the
 * lowest value shown (rounded down to 10%) to 100%. */
enum { WIDTH = 720, HEIGHT = 420, LEFT = 60, RIGHT = 170, TOP = 20, BOTTOM = 50 };

int table1_chart_write(const char *path, const table1_series *series, int n) {
  static const char *const colours[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"};
  int epochs = 1;
  double low = 1.0;
  for (int i = 0; i < n; ++i) {
    if (series[i].count > epochs) epochs = series[i].count;
    for (int e = 0; e < series[i].count; ++e)
      if (isfinite(series[i].value[e]) && series[i].value[e] < low) low = series[i].value[e];
  }
  low = floor(low * 10) / 10;
  if (low > 0.9) low = 0.9;
  const double plot_w = WIDTH - LEFT - RIGHT, plot_h = HEIGHT - TOP - BOTTOM;
#define X(e) (LEFT + (epochs > 1 ? plot_w * ((e)-1) / (epochs - 1) : plot_w / 2))
#define Y(v) (TOP + plot_h * (1.0 - ((v)-low) / (1.0 - low)))
  char *svg = NULL;
  size_t size = 0;
  FILE *f = open_memstream(&svg, &size);
  if (!f) return 1;
  fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
             "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
          WIDTH, HEIGHT, WIDTH, HEIGHT);
  for (int k = 0; k <= 10; ++k) { /* horizontal grid every tenth of the range */
    const double v = low + (1.0 - low) * k / 10;
    fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
               "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.0f%%</text>\n",
            LEFT, Y(v), LEFT + plot_w, Y(v), LEFT - 6, Y(v) + 4, 100 * v);
  }
  const int every = epochs > 20 ? (epochs + 9) / 10 : 1;
  for (int e = 1; e <= epochs; e += every)
    fprintf(f, "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%d</text>\n", X(e), TOP + plot_h + 16, e);
  fprintf(f, "<text x=\"%.0f\" y=\"%d\" text-anchor=\"middle\">epoch</text>\n", LEFT + plot_w / 2, HEIGHT - 12);
  fprintf(f, "<text transform=\"translate(16 %.0f) rotate(-90)\" text-anchor=\"middle\">validation accuracy</text>\n",
          TOP + plot_h / 2);
  fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" stroke=\"#444\"/>\n", LEFT, TOP,
          plot_w, plot_h);
  for (int i = 0; i < n; ++i) {
    const char *colour = colours[i % 6];
    fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", colour);
    for (int e = 0; e < series[i].count; ++e)
      if (isfinite(series[i].value[e])) fprintf(f, "%.1f,%.1f ", X(e + 1), Y(series[i].value[e]));
    fprintf(f, "\"/>\n");
    for (int e = 0; e < series[i].count; ++e)
      if (isfinite(series[i].value[e]))
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n", X(e + 1), Y(series[i].value[e]), colour);
    const double ly = TOP + 10 + 20 * i;
    fprintf(f, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"%s\" stroke-width=\"2\"/>"
               "<text x=\"%.0f\" y=\"%.0f\">%s</text>\n",
            LEFT + plot_w + 12, ly, LEFT + plot_w + 36, ly, colour, LEFT + plot_w + 42, ly + 4, series[i].name);
  }
  fprintf(f, "</svg>\n");
#undef X
#undef Y
  if (fclose(f) != 0) {
    free(svg);
    return 1;
  }
  const int failed = example_write_text(path, svg);
  free(svg);
  return failed;
}
