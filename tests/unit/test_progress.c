/* Progress reporting (issue #17, item 1): the library prints nothing by
 * itself, progress arrives through the callback with exact step counts, a
 * cancel stops the fit with the model intact, the opt-in bar writes what the
 * trainer used to print, and diagnostics go to the log sink. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <digitcnn/progress_bar.h>

#include "test_support.h"

/* flatten, dense(2), softmax, trained by SGD in batches of 16 without augmentation. */
typedef struct fixture {
  dcnn_dataset *train, *val;
  dcnn_pipeline *pipeline;
  dcnn_model *model;
  dcnn_optimizer *sgd;
  dcnn_trainer *trainer;
} fixture;

static void fixture_create(fixture *f, dcnn_context *ctx, int32_t train_count) {
  f->train = test_halves(train_count);
  f->val = test_halves(40);
  assert_ok(dcnn_pipeline_create(NULL, &f->pipeline));
  dcnn_shape in = dcnn_shape_make(3, 1, 6, 6, 0);
  assert_ok(dcnn_model_create(ctx, &in, &f->model));
  dcnn_layer *l = NULL;
  assert_ok(dcnn_flatten_create(&l));
  assert_ok(dcnn_model_add(f->model, l));
  assert_ok(dcnn_dense_create(2, 1, &l));
  assert_ok(dcnn_model_add(f->model, l));
  assert_ok(dcnn_softmax_create(&l));
  assert_ok(dcnn_model_add(f->model, l));
  assert_ok(dcnn_model_init(f->model, 3));
  assert_ok(dcnn_optimizer_create_sgd(ctx, 0.05f, 0.9f, DCNN_MOMENTUM_CLASSIC, 0, &f->sgd));
  assert_ok(dcnn_trainer_create(ctx, f->model, f->sgd, &f->trainer));
  assert_ok(dcnn_trainer_set(f->trainer, DCNN_TRAIN_BATCH_SIZE, 16));
  assert_ok(dcnn_trainer_set(f->trainer, DCNN_TRAIN_AUGMENT, 0));
}

static void fixture_destroy(fixture *f) {
  dcnn_trainer_destroy(f->trainer);
  dcnn_optimizer_destroy(f->sgd);
  dcnn_model_destroy(f->model);
  dcnn_pipeline_destroy(f->pipeline);
  dcnn_dataset_destroy(f->train);
  dcnn_dataset_destroy(f->val);
}

/* ---- nothing on stdout or stderr ---- */

static long file_size(int fd) {
  const off_t end = lseek(fd, 0, SEEK_END);
  return (long)end;
}

/* Default options (no callback, no log sink), with validation, early
 * stopping, restored best weights, checkpoints, a save and an evaluation:
 * every path that printed in 0.1. File descriptors 1 and 2 go to files
 * meanwhile; both must stay empty. */
static void training_writes_nothing_to_stdout_or_stderr(void **state) {
  (void)state;
  char out_name[] = "/tmp/dcnn_progress_outXXXXXX", err_name[] = "/tmp/dcnn_progress_errXXXXXX";
  char dir[] = "/tmp/dcnn_progress_dirXXXXXX";
  assert_non_null(mkdtemp(dir));
  const int out = mkstemp(out_name), err = mkstemp(err_name);
  assert_true(out >= 0 && err >= 0);
  fixture f;
  fixture_create(&f, NULL, 120);
  assert_ok(dcnn_trainer_set(f.trainer, DCNN_TRAIN_EPOCHS, 6));
  assert_ok(dcnn_trainer_set(f.trainer, DCNN_TRAIN_PATIENCE, 1));
  assert_ok(dcnn_trainer_set_checkpoint_dir(f.trainer, dir));
  dcnn_metrics *metrics = NULL;
  assert_ok(dcnn_metrics_create(NULL, 2, &metrics));
  char model_path[sizeof dir + 16];
  snprintf(model_path, sizeof model_path, "%s/m.dcnn", dir);

  fflush(stdout);
  fflush(stderr);
  const int saved_out = dup(1), saved_err = dup(2);
  assert_true(saved_out >= 0 && saved_err >= 0);
  dup2(out, 1);
  dup2(err, 2);
  /* No cmocka assertion until the descriptors are back: its messages would land in the files. */
  const dcnn_status fit = dcnn_trainer_fit(f.trainer, f.train, f.val, f.pipeline);
  const dcnn_status fit_without_validation = dcnn_trainer_fit(f.trainer, f.train, NULL, f.pipeline);
  const dcnn_status evaluate = dcnn_evaluate(f.model, f.val, f.pipeline, 7, metrics, NULL);
  const dcnn_status save = dcnn_model_save(f.model, model_path);
  fflush(stdout);
  fflush(stderr);
  dup2(saved_out, 1);
  dup2(saved_err, 2);
  close(saved_out);
  close(saved_err);

  assert_ok(fit);
  assert_ok(fit_without_validation);
  assert_ok(evaluate);
  assert_ok(save);
  const int32_t done = dcnn_trainer_epochs_done(f.trainer);
  assert_true(done >= 2); /* the runs did train */
  const long out_bytes = file_size(out), err_bytes = file_size(err);
  if (out_bytes || err_bytes) {
    char text[256] = "";
    const int fd = err_bytes ? err : out;
    lseek(fd, 0, SEEK_SET);
    const ssize_t n = read(fd, text, sizeof text - 1);
    text[n > 0 ? n : 0] = '\0';
    print_error("the library wrote %ld bytes to stdout and %ld to stderr, starting with: %s\n", out_bytes, err_bytes,
                text);
  }
  assert_int_equal(out_bytes, 0);
  assert_int_equal(err_bytes, 0);
  close(out);
  close(err);
  unlink(out_name);
  unlink(err_name);
  unlink(model_path);
  char path[sizeof dir + 16];
  snprintf(path, sizeof path, "%s/last.dcnn", dir);
  unlink(path);
  snprintf(path, sizeof path, "%s/best.dcnn", dir);
  unlink(path);
  rmdir(dir);
  dcnn_metrics_destroy(metrics);
  fixture_destroy(&f);
}

/* ---- what the callback receives ---- */

typedef struct record {
  int calls[4];            /* per event */
  int steps_in_epoch[16];  /* STEP calls per epoch number */
  int32_t last_step, last_steps, last_epoch;
  int64_t last_samples, last_total;
  int order_ok, fields_ok;
  dcnn_progress end;       /* the FIT_END report */
  /* cancelling */
  dcnn_progress_event cancel_event;
  int32_t cancel_epoch, cancel_step; /* 0: never cancel */
  dcnn_model *model;
  float weights[128];      /* the model's weights when the callback cancelled */
  int weight_count;
} record;

static void copy_weights(dcnn_model *m, float *to, int *count) {
  *count = 0;
  for (int32_t i = 0; i < dcnn_model_param_tensor_count(m); ++i) {
    dcnn_param p = DCNN_STRUCT_INIT(dcnn_param);
    assert_ok(dcnn_model_param(m, i, &p, NULL));
    const int64_t n = dcnn_tensor_count(p.value);
    assert_true(*count + n <= 128);
    memcpy(to + *count, dcnn_tensor_data(p.value), (size_t)n * sizeof(float));
    *count += (int)n;
  }
}

static dcnn_progress_action recorder(const dcnn_progress *p, void *user) {
  record *r = user;
  r->calls[p->event]++;
  if (p->struct_size != sizeof *p) r->fields_ok = 0;
  switch (p->event) {
    case DCNN_PROGRESS_EPOCH_BEGIN:
      if (p->step != 0 || p->samples != 0 || !isnan(p->loss) || p->epoch != r->last_epoch + 1) r->order_ok = 0;
      r->last_epoch = p->epoch;
      r->last_step = 0;
      break;
    case DCNN_PROGRESS_STEP:
      if (p->step != r->last_step + 1 || p->epoch != r->last_epoch || p->samples <= r->last_samples * (p->step > 1))
        r->order_ok = 0;
      if (!(p->loss > 0) || !(p->accuracy >= 0 && p->accuracy <= 1) || !isnan(p->val_loss) ||
          !(p->samples_per_second > 0) || !(p->eta_seconds >= 0) || !(p->fit_eta_seconds >= p->eta_seconds))
        r->fields_ok = 0;
      if (p->step == p->steps && p->eta_seconds != 0) r->fields_ok = 0;
      r->steps_in_epoch[p->epoch < 16 ? p->epoch : 15]++;
      r->last_step = p->step;
      r->last_steps = p->steps;
      r->last_samples = p->samples;
      r->last_total = p->total_samples;
      break;
    case DCNN_PROGRESS_EPOCH_END:
      if (p->step != r->last_step || p->steps != r->last_step || p->epoch != r->last_epoch) r->order_ok = 0;
      if (!(p->seconds >= p->train_seconds) || !(p->loss > 0) || p->eta_seconds != 0) r->fields_ok = 0;
      break;
    case DCNN_PROGRESS_FIT_END: r->end = *p; break;
  }
  if (r->cancel_epoch && p->event == r->cancel_event && p->epoch == r->cancel_epoch && p->step == r->cancel_step) {
    copy_weights(r->model, r->weights, &r->weight_count);
    return DCNN_PROGRESS_CANCEL;
  }
  return DCNN_PROGRESS_CONTINUE;
}

static void record_init(record *r, dcnn_model *m) {
  memset(r, 0, sizeof *r);
  r->order_ok = r->fields_ok = 1;
  r->model = m;
}

/* 100 samples in batches of 16: 7 steps (the last one of 4 samples), or
 * MAX_STEPS of them; every epoch reports each step once, in order. */
static void callback_counts_every_step_exactly(void **state) {
  (void)state;
  fixture f;
  fixture_create(&f, NULL, 100);
  record r;
  record_init(&r, f.model);
  assert_ok(dcnn_trainer_set(f.trainer, DCNN_TRAIN_EPOCHS, 3));
  assert_ok(dcnn_trainer_set_progress(f.trainer, recorder, &r));
  assert_ok(dcnn_trainer_fit(f.trainer, f.train, f.val, f.pipeline));
  assert_int_equal(r.calls[DCNN_PROGRESS_EPOCH_BEGIN], 3);
  assert_int_equal(r.calls[DCNN_PROGRESS_STEP], 3 * 7);
  assert_int_equal(r.calls[DCNN_PROGRESS_EPOCH_END], 3);
  assert_int_equal(r.calls[DCNN_PROGRESS_FIT_END], 1);
  for (int e = 1; e <= 3; ++e) assert_int_equal(r.steps_in_epoch[e], 7);
  assert_int_equal(r.last_steps, 7);
  assert_int_equal(r.last_samples, 100);
  assert_int_equal(r.last_total, 300);
  assert_true(r.order_ok);
  assert_true(r.fields_ok);
  assert_int_equal(r.end.status, DCNN_OK);
  assert_int_equal(r.end.epochs, 3);
  assert_int_equal(r.end.early_stopped, 0);
  /* A second call continues the numbering; MAX_STEPS bounds the steps. */
  record_init(&r, f.model);
  r.last_epoch = 3;
  assert_ok(dcnn_trainer_set(f.trainer, DCNN_TRAIN_EPOCHS, 2));
  assert_ok(dcnn_trainer_set(f.trainer, DCNN_TRAIN_MAX_STEPS, 4));
  assert_ok(dcnn_trainer_fit(f.trainer, f.train, NULL, f.pipeline));
  assert_int_equal(r.calls[DCNN_PROGRESS_STEP], 2 * 4);
  assert_int_equal(r.steps_in_epoch[4], 4);
  assert_int_equal(r.steps_in_epoch[5], 4);
  assert_int_equal(r.last_samples, 64);
  assert_int_equal(r.end.epoch, 5);
  assert_int_equal(r.end.epochs, 5);
  assert_true(r.order_ok);
  assert_true(r.fields_ok);
  /* Without a callback nothing is reported (and nothing breaks). */
  assert_ok(dcnn_trainer_set_progress(f.trainer, NULL, NULL));
  assert_ok(dcnn_trainer_fit(f.trainer, f.train, NULL, f.pipeline));
  assert_int_equal(r.calls[DCNN_PROGRESS_STEP], 2 * 4);
  assert_int_equal(dcnn_trainer_epochs_done(f.trainer), 7);
  fixture_destroy(&f);
}

static void assert_model_holds(const record *r, dcnn_model *m) {
  float now[128];
  int count = 0;
  copy_weights(m, now, &count);
  assert_int_equal(count, r->weight_count);
  assert_memory_equal(now, r->weights, (size_t)count * sizeof(float));
}

static void assert_model_evaluates(fixture *f) {
  dcnn_metrics *metrics = NULL;
  assert_ok(dcnn_metrics_create(NULL, 2, &metrics));
  double loss = NAN;
  assert_ok(dcnn_evaluate(f->model, f->val, f->pipeline, 8, metrics, &loss));
  assert_true(isfinite(loss));
  assert_int_equal(dcnn_metrics_count(metrics), 40);
  dcnn_metrics_destroy(metrics);
}

/* Cancelling mid-epoch: DCNN_ERR_CANCELLED, the history has the completed
 * epochs, the model holds the weights of the step just reported (the best
 * epoch's weights are not restored) and evaluates; a new fit goes on. */
static void cancel_returns_cancelled_with_the_model_intact(void **state) {
  (void)state;
  fixture f;
  fixture_create(&f, NULL, 120);
  record r;
  record_init(&r, f.model);
  r.cancel_event = DCNN_PROGRESS_STEP;
  r.cancel_epoch = 3;
  r.cancel_step = 2;
  assert_ok(dcnn_trainer_set(f.trainer, DCNN_TRAIN_EPOCHS, 5));
  assert_ok(dcnn_trainer_set_progress(f.trainer, recorder, &r));
  assert_status(dcnn_trainer_fit(f.trainer, f.train, f.val, f.pipeline), DCNN_ERR_CANCELLED);
  assert_error_mentions("cancelled by the progress callback in epoch 3 after step 2");
  assert_int_equal(dcnn_trainer_epochs_done(f.trainer), 2);
  dcnn_epoch_stats s = DCNN_STRUCT_INIT(dcnn_epoch_stats);
  assert_ok(dcnn_trainer_history(f.trainer, 1, &s));
  assert_int_equal(s.epoch, 2);
  assert_true(isfinite(s.val_accuracy));
  assert_int_equal(r.calls[DCNN_PROGRESS_STEP], 2 * 8 + 2);
  assert_int_equal(r.calls[DCNN_PROGRESS_FIT_END], 1);
  assert_int_equal(r.end.status, DCNN_ERR_CANCELLED);
  assert_int_equal(r.end.restored_epoch, 0);
  assert_model_holds(&r, f.model);
  assert_model_evaluates(&f);

  /* At the end of an epoch: that epoch is in the history. */
  record_init(&r, f.model);
  r.last_epoch = 2;
  r.cancel_event = DCNN_PROGRESS_EPOCH_END;
  r.cancel_epoch = 4;
  r.cancel_step = 8;
  assert_status(dcnn_trainer_fit(f.trainer, f.train, f.val, f.pipeline), DCNN_ERR_CANCELLED);
  assert_int_equal(dcnn_trainer_epochs_done(f.trainer), 4);
  assert_model_holds(&r, f.model);

  /* Before the first step: nothing changes. */
  record_init(&r, f.model);
  r.last_epoch = 4;
  r.cancel_event = DCNN_PROGRESS_EPOCH_BEGIN;
  r.cancel_epoch = 5;
  r.cancel_step = 0;
  assert_status(dcnn_trainer_fit(f.trainer, f.train, f.val, f.pipeline), DCNN_ERR_CANCELLED);
  assert_int_equal(dcnn_trainer_epochs_done(f.trainer), 4);
  assert_int_equal(r.calls[DCNN_PROGRESS_STEP], 0);
  assert_model_holds(&r, f.model);

  /* Without cancelling, training goes on from there. */
  r.cancel_epoch = 0;
  assert_ok(dcnn_trainer_set(f.trainer, DCNN_TRAIN_EPOCHS, 1));
  assert_ok(dcnn_trainer_fit(f.trainer, f.train, f.val, f.pipeline));
  assert_int_equal(dcnn_trainer_epochs_done(f.trainer), 5);
  assert_model_evaluates(&f);
  fixture_destroy(&f);
}

/* What the callback saw of an epoch continued after a cancel. */
typedef struct continued {
  int64_t begin_samples, last_total, last_samples;
  int32_t begin_step;
  double begin_seconds, begin_loss, last_loss, begin_eta;
  double last_step_seconds, end_train_seconds, end_rate;
  int32_t cancel_after; /* a step to cancel after, 0 for none */
} continued;

static dcnn_progress_action watch_continued(const dcnn_progress *p, void *user) {
  continued *c = user;
  if (p->event == DCNN_PROGRESS_EPOCH_BEGIN) {
    c->begin_samples = p->samples;
    c->begin_step = p->step;
    c->begin_seconds = p->train_seconds;
    c->begin_loss = p->loss;
    c->begin_eta = p->eta_seconds;
  }
  if (p->event == DCNN_PROGRESS_STEP) {
    c->last_total = p->total_samples;
    c->last_samples = p->samples;
    c->last_step_seconds = p->train_seconds;
    c->last_loss = p->loss;
    if (p->step == c->cancel_after) return DCNN_PROGRESS_CANCEL;
  }
  if (p->event == DCNN_PROGRESS_EPOCH_END) {
    c->end_train_seconds = p->train_seconds;
    c->end_rate = p->samples_per_second;
  }
  return DCNN_PROGRESS_CONTINUE;
}

/* An epoch cancelled after 3 of its 8 steps and finished by the next fit: that fit begins where the epoch
 * stopped (step 3, 48 samples, its time), reports the epoch's samples and time whole, and counts only its
 * own 72 samples in total_samples (it counted 120, and its epoch-end rate divided the epoch's samples by
 * this call's time alone). */
static void a_continued_epoch_reports_its_whole_time_and_this_call_samples(void **state) {
  (void)state;
  fixture f;
  fixture_create(&f, NULL, 120);
  continued c = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3};
  assert_ok(dcnn_trainer_set(f.trainer, DCNN_TRAIN_EPOCHS, 1));
  assert_ok(dcnn_trainer_set_progress(f.trainer, watch_continued, &c));
  assert_status(dcnn_trainer_fit(f.trainer, f.train, NULL, f.pipeline), DCNN_ERR_CANCELLED);
  assert_int_equal(c.last_samples, 48);
  const double first_part = c.last_step_seconds, first_loss = c.last_loss;
  assert_true(first_part > 0);
  c.cancel_after = 0;
  assert_ok(dcnn_trainer_fit(f.trainer, f.train, NULL, f.pipeline));
  assert_int_equal(c.begin_samples, 48);
  assert_int_equal(c.begin_step, 3);
  assert_true(c.begin_seconds == first_part);
  assert_true(c.begin_loss == first_loss); /* the epoch's mean loss so far, as its last step reported */
  assert_true(c.begin_eta >= 0);             /* its 3 steps are timed: 5 steps left at their pace */
  assert_int_equal(c.last_samples, 120);
  assert_int_equal(c.last_total, 72);
  assert_true(c.end_train_seconds >= c.last_step_seconds);
  assert_true(c.end_train_seconds >= first_part);
  assert_true(c.end_rate <= 120 / first_part);
  fixture_destroy(&f);
}

/* ---- the opt-in bar ---- */

static char *read_all(FILE *f) {
  static char text[8192];
  fflush(f);
  rewind(f);
  const size_t n = fread(text, 1, sizeof text - 1, f);
  text[n] = '\0';
  return text;
}

static void progress_format_gives_the_keras_text(void **state) {
  (void)state;
  dcnn_progress p;
  memset(&p, 0, sizeof p);
  p.struct_size = sizeof p;
  char text[256];
  p.event = DCNN_PROGRESS_EPOCH_BEGIN;
  p.epoch = 2;
  p.epochs = 10;
  assert_ok(dcnn_progress_format(&p, text, sizeof text));
  assert_string_equal(text, "Epoch 2/10");
  p.event = DCNN_PROGRESS_STEP;
  p.step = 3;
  p.steps = 10;
  p.eta_seconds = 7.2;
  p.accuracy = 0.5;
  p.loss = 1.25;
  assert_ok(dcnn_progress_format(&p, text, sizeof text));
  assert_string_equal(text, " 3/10 [=========>....................] - ETA: 7s - accuracy: 0.5000 - loss: 1.2500");
  p.event = DCNN_PROGRESS_EPOCH_END;
  p.step = 10;
  p.seconds = 125;
  p.train_seconds = 0.5;
  p.val_accuracy = NAN;
  p.learning_rate = 1e-3;
  assert_ok(dcnn_progress_format(&p, text, sizeof text));
  assert_string_equal(text, "10/10 - 2m05s 50ms/step - accuracy: 0.5000 - loss: 1.2500 - lr: 1.00e-03");
  p.val_accuracy = 0.75;
  p.val_loss = 0.5;
  assert_ok(dcnn_progress_format(&p, text, sizeof text));
  assert_string_equal(text, "10/10 - 2m05s 50ms/step - accuracy: 0.5000 - loss: 1.2500 - val_accuracy: 0.7500 - "
                            "val_loss: 0.5000 - lr: 1.00e-03");
  p.event = DCNN_PROGRESS_FIT_END;
  assert_ok(dcnn_progress_format(&p, text, sizeof text));
  assert_string_equal(text, "");
  p.early_stopped = 3;
  p.restored_epoch = 4;
  p.best_value = 0.875;
  assert_ok(dcnn_progress_format(&p, text, sizeof text));
  assert_string_equal(text, "Early stopping: no improvement for 3 epochs\n"
                            "Restored the weights of epoch 4 (best validation accuracy 0.8750)");
  /* Durations beyond any int: a capped display, never a negative one. */
  p.event = DCNN_PROGRESS_STEP;
  p.step = 3;
  p.eta_seconds = 359999999.0; /* 99999h59m59s */
  assert_ok(dcnn_progress_format(&p, text, sizeof text));
  assert_non_null(strstr(text, " - ETA: 99999h59m - "));
  const double long_ones[] = {360000000.0, 3e9, 1e12, 1e300, INFINITY};
  for (size_t k = 0; k < sizeof long_ones / sizeof long_ones[0]; ++k) {
    p.eta_seconds = long_ones[k];
    assert_ok(dcnn_progress_format(&p, text, sizeof text));
    if (!strstr(text, " - ETA: >99999h - ")) fail_msg("ETA %g: \"%s\"", long_ones[k], text);
  }
  p.event = DCNN_PROGRESS_EPOCH_END;
  p.seconds = 1e15;
  p.val_accuracy = NAN;
  assert_ok(dcnn_progress_format(&p, text, sizeof text));
  assert_string_equal(text, "10/10 - >99999h 50ms/step - accuracy: 0.5000 - loss: 1.2500 - lr: 1.00e-03");
  p.event = DCNN_PROGRESS_FIT_END;
  /* Cut short, never overrun. */
  char small[8];
  assert_ok(dcnn_progress_format(&p, small, sizeof small));
  assert_string_equal(small, "Early s");
  p.struct_size = 8;
  assert_status(dcnn_progress_format(&p, text, sizeof text), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_progress_format(&p, text, 0), DCNN_ERR_INVALID_ARGUMENT);

  /* The bar skips an event it cannot draw without a word: the caller's message stays. */
  FILE *file = tmpfile();
  assert_non_null(file);
  dcnn_progress_bar *bar = NULL;
  assert_ok(dcnn_progress_bar_create(NULL, file, DCNN_PROGRESS_BAR_LINES, &bar));
  assert_status(dcnn_progress_bar_create(NULL, NULL, DCNN_PROGRESS_BAR_AUTO, NULL), DCNN_ERR_INVALID_ARGUMENT);
  char before[512];
  snprintf(before, sizeof before, "%s", dcnn_last_error());
  p.struct_size = sizeof p;
  p.event = (dcnn_progress_event)99;
  assert_int_equal(dcnn_progress_bar_callback(&p, bar), DCNN_PROGRESS_CONTINUE);
  assert_string_equal(dcnn_last_error(), before);
  dcnn_progress_bar_destroy(bar);
  fclose(file);
}

/* The bar through a real fit: lines on a file, the live bar when asked, and
 * the notes after early stopping. */
static void progress_bar_writes_what_the_trainer_printed(void **state) {
  (void)state;
  fixture f;
  fixture_create(&f, NULL, 120);
  FILE *file = tmpfile();
  assert_non_null(file);
  dcnn_progress_bar *bar = NULL;
  assert_status(dcnn_progress_bar_create(NULL, NULL, DCNN_PROGRESS_BAR_AUTO, &bar), DCNN_ERR_INVALID_ARGUMENT);
  assert_status(dcnn_progress_bar_create(NULL, file, (dcnn_progress_bar_style)3, &bar), DCNN_ERR_INVALID_ARGUMENT);
  assert_ok(dcnn_progress_bar_create(NULL, file, DCNN_PROGRESS_BAR_AUTO, &bar)); /* a file: lines */
  assert_ok(dcnn_trainer_set_progress(f.trainer, dcnn_progress_bar_callback, bar));
  assert_ok(dcnn_trainer_set(f.trainer, DCNN_TRAIN_EPOCHS, 2));
  assert_ok(dcnn_trainer_fit(f.trainer, f.train, f.val, f.pipeline));
  const char *text = read_all(file);
  assert_non_null(strstr(text, "Epoch 1/2\n8/8 - "));
  assert_non_null(strstr(text, "ms/step - accuracy: "));
  assert_non_null(strstr(text, " - val_accuracy: "));
  assert_non_null(strstr(text, "Epoch 2/2\n8/8 - "));
  assert_null(strchr(text, '\r'));
  assert_null(strchr(text, '\033'));
  dcnn_progress_bar_destroy(bar);

  /* Live: the bar is redrawn in place and each epoch's line replaces it. */
  rewind(file);
  assert_int_equal(ftruncate(fileno(file), 0), 0);
  assert_ok(dcnn_progress_bar_create(NULL, file, DCNN_PROGRESS_BAR_LIVE, &bar));
  assert_ok(dcnn_trainer_set_progress(f.trainer, dcnn_progress_bar_callback, bar));
  assert_ok(dcnn_trainer_set(f.trainer, DCNN_TRAIN_EPOCHS, 1));
  assert_ok(dcnn_trainer_fit(f.trainer, f.train, f.val, f.pipeline));
  text = read_all(file);
  /* Redraws within the epoch depend on time (at most every 0.1 s, more of them on a
   * loaded machine); the last step's bar is drawn whatever the timing. */
  assert_non_null(strstr(text, "Epoch 3/3\n\r"));
  assert_non_null(strstr(text, "\r8/8 [==============================] - ETA: 0s - accuracy: "));
  assert_non_null(strstr(text, "\033[K\r8/8 - "));
  assert_non_null(strstr(text, " - lr: 5.00e-02\033[K\n"));
  dcnn_progress_bar_destroy(bar);
  fclose(file);
  fixture_destroy(&f);
}

/* ---- diagnostics through the log sink ---- */

typedef struct log_record {
  int count[4];
  char last[4][256];
} log_record;

static void remember(dcnn_log_level level, const char *message, void *user) {
  log_record *r = user;
  r->count[level]++;
  snprintf(r->last[level], sizeof r->last[level], "%s", message);
}

static void diagnostics_go_to_the_log_sink(void **state) {
  (void)state;
  dcnn_context *ctx = NULL;
  assert_ok(dcnn_context_create(&ctx));
  log_record log;
  memset(&log, 0, sizeof log);
  assert_ok(dcnn_context_set_log(ctx, remember, DCNN_LOG_DEBUG, &log));
  fixture f;
  fixture_create(&f, ctx, 120);
  assert_ok(dcnn_trainer_set(f.trainer, DCNN_TRAIN_EPOCHS, 2));
  assert_ok(dcnn_trainer_set(f.trainer, DCNN_TRAIN_PATIENCE, 2));
  assert_ok(dcnn_trainer_fit(f.trainer, f.train, NULL, f.pipeline));
  assert_int_equal(log.count[DCNN_LOG_WARN], 1);
  assert_non_null(strstr(log.last[DCNN_LOG_WARN], "patience 2 is set but there is no validation data"));
  /* The progress mode of 0.1 is refused with a pointer to the callback. */
  assert_status(dcnn_trainer_set(f.trainer, (dcnn_trainer_option)7, 1), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("dcnn_trainer_set_progress");
  /* Early stopping is logged as information. */
  assert_ok(dcnn_trainer_set(f.trainer, DCNN_TRAIN_EPOCHS, 30));
  assert_ok(dcnn_trainer_set(f.trainer, DCNN_TRAIN_PATIENCE, 1));
  assert_ok(dcnn_trainer_fit(f.trainer, f.train, f.val, f.pipeline)); /* validation accuracy saturates at 1 */
  assert_true(dcnn_trainer_epochs_done(f.trainer) < 32);
  assert_true(log.count[DCNN_LOG_INFO] >= 1);
  assert_non_null(strstr(log.last[DCNN_LOG_INFO], "dcnn_trainer_fit: "));
  assert_int_equal(log.count[DCNN_LOG_WARN], 1);
  fixture_destroy(&f);
  dcnn_context_destroy(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(training_writes_nothing_to_stdout_or_stderr),
      cmocka_unit_test(callback_counts_every_step_exactly),
      cmocka_unit_test(cancel_returns_cancelled_with_the_model_intact),
      cmocka_unit_test(a_continued_epoch_reports_its_whole_time_and_this_call_samples),
      cmocka_unit_test(progress_format_gives_the_keras_text),
      cmocka_unit_test(progress_bar_writes_what_the_trainer_printed),
      cmocka_unit_test(diagnostics_go_to_the_log_sink),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
