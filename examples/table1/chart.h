/* digitcnn-table1's chart: every model's validation accuracy per epoch, as
 * an SVG line chart (docs/results.md embeds it), from each model's
 * OUT/<model>/history.csv. */
#ifndef TABLE1_CHART_H
#define TABLE1_CHART_H

#include <stddef.h>

typedef struct table1_series {
  const char *name;
  double *value; /* [count]: validation accuracy of epoch e + 1, in [0, 1]; owned, table1_series_free() */
  int count;
} table1_series;

/* Reads the val_accuracy column of a history CSV written by
 * dcnn_trainer_write_history() into `s` (name untouched, value replaced);
 * 0 on success (count may be 0), 1 when unreadable or out of memory. */
int table1_history_read(const char *path, table1_series *s);
/* Frees the values read; the series is empty afterwards. */
void table1_series_free(table1_series *s);

/* Writes the chart of `n` series atomically; 0 on success. */
int table1_chart_write(const char *path, const table1_series *series, int n);

#endif
