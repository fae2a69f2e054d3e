/* The opt-in Keras-style progress display (progress_bar.h): text from a
 * dcnn_progress report, and a callback that writes it to a caller's stream. */
#include "digitcnn/progress_bar.h"

#include <math.h>
#include <stdio.h>
#include <unistd.h>

#include "../core/internal.h"

#define BAR_WIDTH 30
#define REDRAW_SECONDS 0.1 /* a live bar redraws at most this often (and at an epoch's last step) */

struct dcnn_progress_bar {
  dcnn_context *ctx;
  FILE *stream;
  int live;         /* draw the in-epoch bar */
  int line_open;    /* a bar is on screen without its newline */
  double last_draw; /* train_seconds of the last drawing in this epoch */
};

dcnn_status dcnn_progress_bar_create(dcnn_context *ctx, FILE *stream, dcnn_progress_bar_style style,
                                     dcnn_progress_bar **out) {
  DCNN_CHECK_ARG(out);
  *out = NULL;
  DCNN_CHECK_ARG(stream);
  DCNN_CHECK(style >= DCNN_PROGRESS_BAR_AUTO && style <= DCNN_PROGRESS_BAR_LIVE, DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_progress_bar_create: unknown style %d", (int)style);
  dcnn_progress_bar *bar = dcnn__calloc(ctx, 1, sizeof *bar);
  DCNN_CHECK(bar != NULL, DCNN_ERR_OUT_OF_MEMORY, "dcnn_progress_bar_create: out of memory");
  bar->ctx = ctx;
  bar->stream = stream;
  bar->live = style == DCNN_PROGRESS_BAR_LIVE || (style == DCNN_PROGRESS_BAR_AUTO && isatty(fileno(stream)));
  *out = bar;
  return DCNN_OK;
}

void dcnn_progress_bar_destroy(dcnn_progress_bar *bar) {
  if (bar) dcnn__release(bar->ctx, bar);
}

/* Longer durations (an ETA early in a slow epoch may be anything, infinite
 * included) show as ">99999h": below it every value fits an int. */
#define DURATION_CAP (100000.0 * 3600.0)

static void format_duration(double seconds, char *buf, size_t size) {
  if (!(seconds >= 0)) seconds = 0; /* NaN before anything was timed */
  if (seconds >= DURATION_CAP) snprintf(buf, size, ">99999h");
  else if (seconds < 60) snprintf(buf, size, "%.0fs", seconds);
  else if (seconds < 3600) snprintf(buf, size, "%dm%02ds", (int)seconds / 60, (int)seconds % 60);
  else snprintf(buf, size, "%dh%02dm", (int)seconds / 3600, ((int)seconds % 3600) / 60);
}

/* "  37/1250 [=>....] - ETA: 41s - accuracy: 0.6012 - loss: 1.1534" */
static void step_text(const dcnn_progress *p, char *text, size_t size) {
  char bar[BAR_WIDTH + 1], eta[32];
  const int filled = p->steps > 0 ? (int)((double)BAR_WIDTH * p->step / p->steps) : BAR_WIDTH;
  for (int i = 0; i < BAR_WIDTH; ++i) bar[i] = i < filled ? '=' : (i == filled ? '>' : '.');
  bar[BAR_WIDTH] = '\0';
  format_duration(p->eta_seconds, eta, sizeof eta);
  snprintf(text, size, "%*d/%d [%s] - ETA: %s - accuracy: %.4f - loss: %.4f", snprintf(NULL, 0, "%d", (int)p->steps),
           (int)p->step, (int)p->steps, bar, eta, p->accuracy, p->loss);
}

/* Keras' epoch line: total epoch time, then training time per step. */
static void epoch_text(const dcnn_progress *p, char *text, size_t size) {
  char took[32];
  format_duration(p->seconds, took, sizeof took);
  int n = snprintf(text, size, "%d/%d - %s %.0fms/step - accuracy: %.4f - loss: %.4f", (int)p->steps, (int)p->steps,
                   took, 1000.0 * p->train_seconds / (p->steps ? p->steps : 1), p->accuracy, p->loss);
  if (n >= 0 && (size_t)n < size && !isnan(p->val_accuracy))
    n += snprintf(text + n, size - (size_t)n, " - val_accuracy: %.4f - val_loss: %.4f", p->val_accuracy, p->val_loss);
  if (n >= 0 && (size_t)n < size) snprintf(text + n, size - (size_t)n, " - lr: %.2e", p->learning_rate);
}

static void end_text(const dcnn_progress *p, char *text, size_t size) {
  int n = 0;
  text[0] = '\0';
  if (p->early_stopped > 0)
    n = snprintf(text, size, "Early stopping: no improvement for %d epochs", (int)p->early_stopped);
  if (n >= 0 && (size_t)n < size && p->restored_epoch > 0)
    snprintf(text + n, size - (size_t)n, "%sRestored the weights of epoch %d (best validation %s %.4f)", n ? "\n" : "",
             (int)p->restored_epoch, p->monitor_loss ? "loss" : "accuracy", p->best_value);
}

dcnn_status dcnn_progress_format(const dcnn_progress *progress, char *text, size_t size) {
  DCNN_CHECK_ARG(progress);
  DCNN_CHECK_ARG(text);
  DCNN_CHECK(size > 0, DCNN_ERR_INVALID_ARGUMENT, "dcnn_progress_format: size is 0");
  text[0] = '\0';
  DCNN_CHECK(progress->struct_size >= sizeof *progress, DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_progress_format: the report has %zu bytes, this version reads %zu", progress->struct_size,
             sizeof *progress);
  switch (progress->event) {
    case DCNN_PROGRESS_EPOCH_BEGIN:
      snprintf(text, size, "Epoch %d/%d", (int)progress->epoch, (int)progress->epochs);
      return DCNN_OK;
    case DCNN_PROGRESS_STEP: step_text(progress, text, size); return DCNN_OK;
    case DCNN_PROGRESS_EPOCH_END: epoch_text(progress, text, size); return DCNN_OK;
    case DCNN_PROGRESS_FIT_END: end_text(progress, text, size); return DCNN_OK;
  }
  return dcnn__fail(DCNN_ERR_INVALID_ARGUMENT, "dcnn_progress_format: unknown event %d", (int)progress->event);
}

dcnn_progress_action dcnn_progress_bar_callback(const dcnn_progress *progress, void *user) {
  dcnn_progress_bar *bar = user;
  char text[256];
  if (!bar || !progress) return DCNN_PROGRESS_CONTINUE;
  dcnn__error_saved saved; /* an event it cannot draw is skipped, not reported over the caller's message */
  dcnn__error_save(&saved);
  if (dcnn_progress_format(progress, text, sizeof text) != DCNN_OK) {
    dcnn__error_restore(&saved);
    return DCNN_PROGRESS_CONTINUE;
  }
  FILE *f = bar->stream;
  switch (progress->event) {
    case DCNN_PROGRESS_EPOCH_BEGIN:
      bar->last_draw = 0;
      fprintf(f, "%s\n", text);
      break;
    case DCNN_PROGRESS_STEP:
      if (!bar->live) return DCNN_PROGRESS_CONTINUE;
      if (progress->train_seconds - bar->last_draw <= REDRAW_SECONDS && progress->step != progress->steps)
        return DCNN_PROGRESS_CONTINUE;
      bar->last_draw = progress->train_seconds;
      bar->line_open = 1;
      fprintf(f, "\r%s\033[K", text);
      break;
    case DCNN_PROGRESS_EPOCH_END:
      if (bar->live) fprintf(f, "\r%s\033[K\n", text);
      else fprintf(f, "%s\n", text);
      bar->line_open = 0;
      break;
    case DCNN_PROGRESS_FIT_END:
      if (bar->line_open) fputc('\n', f); /* cancelled or failed within an epoch */
      bar->line_open = 0;
      if (text[0]) fprintf(f, "%s\n", text);
      break;
  }
  fflush(f);
  return DCNN_PROGRESS_CONTINUE;
}
