/* digitcnn-paper --recipe ENSEMBLE (issue #19): the members of a named
 * ensemble (dcnn_recipe_ensemble_member()) trained one after the other on the
 * same split with the same seed, then their probabilities averaged on the
 * validation split or, once, on the test set. */
#define _DEFAULT_SOURCE /* realpath */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/cluster.h"
#include "../common/support.h"
#include "report.h"

typedef struct member {
  const char *name;
  char settings[2048];                   /* the member recipe's text, with --quick's epochs */
  char dir[4096];                        /* OUT/members/NAME */
  dcnn_pipeline *pipeline;
  dcnn_model *model;
  double train_seconds;
  int32_t epochs, best_epoch;
} member;

/* What a member's model depends on: its recipe text, the data and split, the
 * seed, the thread count, the choice of weights and, under mpirun with more
 * than one process, their number (as in a single run's identity). identity.txt holds it from
 * the start of training; member.txt, written last, holds it and the figures.
 * The data directory is resolved, as for a single run's identity (the same
 * data by another relative path is the same member); as typed when it does
 * not resolve, and for members recorded before it was resolved. */
static int identify(const member *m, const paper_run *run, int data_as_typed, char *text, size_t size) {
  char data[4096];
  if (data_as_typed || !realpath(run->data, data)) snprintf(data, sizeof data, "%s", run->data);
  const int n = snprintf(text, size,
                         "recipe=%s\nsettings=%s\ndata=%s\nquick=%d\nval_fraction=%.17g\nseed=%llu\nthreads=%d\n"
                         "keep_best=%d\npatience=%d\n",
                         m->name, m->settings, data, (int)run->quick, run->val_fraction,
                         (unsigned long long)run->seed, (int)run->threads, (int)run->keep_best, (int)run->patience);
  if (n < 0 || (size_t)n >= size) return 1; /* too long to record: refuse rather than compare a cut text */
  const int more = example_cluster_size() > 1 ? snprintf(text + n, size - (size_t)n, "processes=%d\n", example_cluster_size()) : 0;
  return more < 0 || (size_t)more >= size - (size_t)n;
}

/* `path`'s text (up to size - 1 bytes) into `text`; 0 when it was read whole. */
static int read_text(const char *path, char *text, size_t size) {
  FILE *f = fopen(path, "r");
  if (!f) return 1;
  const size_t got = fread(text, 1, size - 1, f);
  const int whole = got < size - 1 && !ferror(f);
  fclose(f);
  text[got] = '\0';
  return !whole;
}

static int file_exists(const char *path) {
  FILE *f = fopen(path, "rb");
  const int exists = f != NULL; /* before fclose: the pointer is indeterminate after it */
  if (f) fclose(f);
  return exists;
}

typedef enum member_state {
  MEMBER_OTHER = -1,
  MEMBER_NEW = 0,
  MEMBER_RESUME = 1,
  MEMBER_FINISHED = 2,
  MEMBER_UNRECORDABLE = 3 /* its settings and data path are too long to record */
} member_state;

/* This process's view of m->dir: finished (member.txt with this identity),
 * interrupted (a checkpoint and identity.txt with this identity), new
 * (neither), or trained otherwise (anything else: refused, so that a model
 * made with other settings is never averaged in or continued). */
static member_state state_of(const member *m, const char *identity) {
  char text[16384];
  const size_t length = strlen(identity);
  if (file_exists(example_path(m->dir, "member.txt")))
    /* the identity whole, then the figures: a prefix alone took a 2-process member (its processes= line
     * after this identity's last) for this 1-process run's */
    return !read_text(example_path(m->dir, "member.txt"), text, sizeof text) && strncmp(text, identity, length) == 0 &&
                   strncmp(text + length, "epochs=", 7) == 0
               ? MEMBER_FINISHED
               : MEMBER_OTHER;
  if (file_exists(example_path(m->dir, "checkpoints/last.dcnn")))
    return !read_text(example_path(m->dir, "identity.txt"), text, sizeof text) && strcmp(text, identity) == 0
               ? MEMBER_RESUME
               : MEMBER_OTHER;
  return MEMBER_NEW;
}

/* A finished member's model and figures (member.txt after the identity, from its "epochs=" line on: found by
 * that line, not by this process's identity's length, which differs on a rank whose data path resolves
 * otherwise; the identity's lines hold no line break). */
static void load_finished(member *m, dcnn_context *ctx) {
  char text[16384];
  const char *figures = NULL;
  if (!read_text(example_path(m->dir, "member.txt"), text, sizeof text)) figures = strstr(text, "\nepochs=");
  if (!figures || sscanf(figures + 1, "epochs=%d\nbest_epoch=%d\ntrain_seconds=%lf", &m->epochs, &m->best_epoch,
                         &m->train_seconds) != 3) {
    fflush(stdout);
    fprintf(stderr, "error: %s/member.txt is damaged; remove %s to train the member again\n", m->dir, m->dir);
    exit(1);
  }
  EXAMPLE_CHECK(dcnn_model_load(ctx, example_path(m->dir, "model.dcnn"), &m->model));
}

/* Trains member `m` as digitcnn-paper --recipe NAME would, into m->dir,
 * continuing from its checkpoint when `resume`. */
static void train_member(member *m, const paper_run *run, dcnn_context *ctx, const dcnn_dataset *train,
                         const dcnn_dataset *validation, int checkpoints, const char *identity, int resume) {
  dcnn_zoo_options arch = DCNN_ZOO_OPTIONS_INIT;
  EXAMPLE_CHECK(dcnn_recipe_configure_zoo(m->settings, &arch));
  arch.seed = run->seed;
  EXAMPLE_CHECK(dcnn_zoo_paper_cnn(ctx, &arch, &m->model));
  dcnn_optimizer *optimizer = NULL;
  dcnn_schedule *schedule = NULL;
  dcnn_trainer *trainer = NULL;
  EXAMPLE_CHECK(dcnn_recipe_create_optimizer(ctx, m->settings, &optimizer));
  EXAMPLE_CHECK(dcnn_recipe_create_schedule(m->settings, &schedule));
  EXAMPLE_CHECK(dcnn_trainer_create(ctx, m->model, optimizer, &trainer));
  example_cluster_attach(trainer);
  double v = 0;
  EXAMPLE_CHECK(dcnn_recipe_value(m->settings, "epochs", &v));
  EXAMPLE_CHECK(dcnn_trainer_set(trainer, DCNN_TRAIN_EPOCHS, v));
  EXAMPLE_CHECK(dcnn_recipe_value(m->settings, "batch", &v));
  EXAMPLE_CHECK(dcnn_trainer_set(trainer, DCNN_TRAIN_BATCH_SIZE, v));
  EXAMPLE_CHECK(dcnn_recipe_value(m->settings, "augment", &v));
  EXAMPLE_CHECK(dcnn_trainer_set(trainer, DCNN_TRAIN_AUGMENT, v));
  EXAMPLE_CHECK(dcnn_trainer_set_seed(trainer, run->seed));
  EXAMPLE_CHECK(dcnn_recipe_configure_trainer(m->settings, trainer));
  EXAMPLE_CHECK(dcnn_trainer_set(trainer, DCNN_TRAIN_KEEP_BEST, run->keep_best));
  EXAMPLE_CHECK(dcnn_trainer_set(trainer, DCNN_TRAIN_PATIENCE, run->patience));
  EXAMPLE_CHECK(dcnn_trainer_set_schedule(trainer, schedule));
  dcnn_progress_bar *bar = example_progress_bar(ctx, trainer, run->progress);
  if (checkpoints) {
    char dir[4096]; /* OUT/members/NAME/checkpoints (example_path's buffers rotate) */
    snprintf(dir, sizeof dir, "%s", example_path(m->dir, "checkpoints"));
    if (example_make_dirs(dir)) {
      exit(1);
    }
    EXAMPLE_CHECK(dcnn_trainer_set_checkpoint_dir(trainer, dir));
    if (resume) {
      EXAMPLE_CHECK(dcnn_trainer_resume(trainer, example_path(dir, "last.dcnn")));
      printf("resumed from %s/last.dcnn after epoch %d\n", dir, (int)dcnn_trainer_epochs_done(trainer));
    }
  }
  /* before the first checkpoint: what a later run must match to continue this one */
  if (!resume && example_cluster_rank() == 0 && example_write_text(example_path(m->dir, "identity.txt"), identity))
    exit(1);
  EXAMPLE_CHECK(dcnn_trainer_fit(trainer, train, validation, m->pipeline));
  report_history_totals(trainer, &m->epochs, &m->train_seconds); /* the member's, earlier sittings included */
  m->best_epoch = dcnn_trainer_best_epoch(trainer);
  if (example_cluster_rank() == 0) {
    /* the time to the last bit, so a later run that loads the member sums the same figures */
    char text[16384 + 128];
    snprintf(text, sizeof text, "%sepochs=%d\nbest_epoch=%d\ntrain_seconds=%.17g\n", identity, (int)m->epochs,
             (int)m->best_epoch, m->train_seconds);
    EXAMPLE_CHECK(dcnn_trainer_write_history(trainer, example_path(m->dir, "history.csv")));
    EXAMPLE_CHECK(dcnn_model_save(m->model, example_path(m->dir, "model.dcnn")));
    /* last: its presence says the member is finished */
    if (example_write_text(example_path(m->dir, "member.txt"), text)) exit(1);
  }
  dcnn_trainer_destroy(trainer);
  dcnn_progress_bar_destroy(bar);
  dcnn_schedule_destroy(schedule);
  dcnn_optimizer_destroy(optimizer);
}

/* The members' averaged accuracy on the validation split, printed and written to OUT/validation.txt. */
static int report_ensemble_validation(const paper_run *run, const member *members, int32_t count,
                                      const dcnn_dataset *validation, const char *names) {
  dcnn_model *models[DCNN_ENSEMBLE_MAX_MEMBERS];
  dcnn_pipeline *pipelines[DCNN_ENSEMBLE_MAX_MEMBERS];
  for (int32_t i = 0; i < count; ++i) {
    models[i] = members[i].model;
    pipelines[i] = members[i].pipeline;
  }
  const int32_t epochs = run->epochs; /* the members' sum, from run_ensemble */
  dcnn_metrics *metrics = NULL;
  double accuracy = 0;
  EXAMPLE_CHECK(dcnn_metrics_create(NULL, 10, &metrics));
  EXAMPLE_CHECK(dcnn_evaluate_ensemble(models, pipelines, NULL, count, validation, 250, metrics, NULL));
  EXAMPLE_CHECK(dcnn_metrics_get(metrics, DCNN_METRIC_ACCURACY, DCNN_AVERAGE_MACRO, &accuracy));
  dcnn_metrics_destroy(metrics);
  printf("\nValidation (%d images): the ensemble of %s, accuracy %.2f%%; %d epochs trained in %.1f s. The test set "
         "was not loaded.\n", (int)dcnn_dataset_count(validation), names, 100 * accuracy, (int)epochs,
         run->train_seconds);
  if (example_cluster_rank() != 0) return 0;
  char text[4096];
  snprintf(text, sizeof text,
           "recipe=%s\nmembers=%s\nseed=%llu\nepochs=%d\nbest_epoch=0\ntrain_seconds=%.1f\nvalidation_images=%d\n"
           "accuracy=%.6f\naccuracy_plain=%.6f\ntta=1\ntta_pixels=1\n",
           run->recipe, names, (unsigned long long)run->seed, (int)epochs, run->train_seconds,
           (int)dcnn_dataset_count(validation), accuracy, accuracy);
  if (example_write_text(example_path(run->out, "validation.txt"), text)) return 1;
  printf("Written: %s/validation.txt; the members' models in %s/members/\n", run->out, run->out);
  return 0;
}

/* Member `i` of the run's ensemble: its name, settings and directory. 1, having said why, if unusable. */
static int describe_member(const paper_run *run, int32_t i, member *m) {
  m->name = dcnn_recipe_ensemble_member(run->recipe, i);
  const int n = snprintf(m->settings, sizeof m->settings, "%s%s", dcnn_recipe_settings(m->name),
                         run->quick ? " epochs=2" : "");
  const int d = snprintf(m->dir, sizeof m->dir, "%s/members/%s", run->out, m->name);
  double tta = 1;
  EXAMPLE_CHECK(dcnn_recipe_value(m->settings, "tta", &tta));
  if (n < 0 || (size_t)n >= sizeof m->settings || d < 0 || (size_t)d >= sizeof m->dir || tta > 1) {
    fprintf(stderr, "error: member %s: %s\n", m->name,
            tta > 1 ? "its recipe asks for test-time augmentation, which an ensemble does not apply"
                    : "its settings or directory are too long");
    return 1;
  }
  return 0;
}

/* The state of member `m`'s directory for this run, and in `identity` the identity it was recorded with
 * (the data directory resolved, or as typed by a run before paths were resolved). Rank 0 decides alone and
 * shares one number: every rank makes the same one collective call, however its paths resolve (and none
 * returns before it). */
static member_state member_state_for(const member *m, const paper_run *run, char *identity, size_t size) {
  char as_typed[16384];
  const int unrecordable = identify(m, run, 0, identity, size) || identify(m, run, 1, as_typed, sizeof as_typed);
  int decision = 0; /* (state + 1) * 2 + (1 when recorded as typed) */
  if (example_cluster_rank() == 0) {
    member_state state = unrecordable ? MEMBER_UNRECORDABLE : state_of(m, identity);
    int typed = 0;
    if (!unrecordable && state == MEMBER_OTHER && strcmp(as_typed, identity) != 0 && state_of(m, as_typed) != MEMBER_OTHER) {
      state = state_of(m, as_typed);
      typed = 1;
    }
    decision = ((int)state + 1) * 2 + typed;
  }
  decision = example_cluster_share(decision);
  if (decision & 1) snprintf(identity, size, "%s", as_typed);
  return (member_state)(decision / 2 - 1);
}

/* 1, having said why (rank 0), for a state no run may go on with. */
static int refused_state(const member *m, member_state state) {
  if (state != MEMBER_OTHER && state != MEMBER_UNRECORDABLE) return 0;
  fflush(stdout);
  if (example_cluster_rank() == 0 && state == MEMBER_OTHER)
    fprintf(stderr, "error: %s holds a member trained otherwise (other settings, data, split, seed, thread "
                    "or process count: see its member.txt or identity.txt); use another --out or remove it\n", m->dir);
  if (example_cluster_rank() == 0 && state == MEMBER_UNRECORDABLE)
    fprintf(stderr, "error: member %s: its settings and data path are too long to record\n", m->name);
  return 1;
}

int ensemble_refuse_before_training(const paper_run *run) {
  member m;
  char identity[16384];
  for (int32_t i = 0; i < DCNN_ENSEMBLE_MAX_MEMBERS && dcnn_recipe_ensemble_member(run->recipe, i); ++i) {
    memset(&m, 0, sizeof m);
    if (describe_member(run, i, &m)) return 2;
    if (refused_state(&m, member_state_for(&m, run, identity, sizeof identity))) return 2;
  }
  return 0;
}

/* Member `i`: loaded when finished, else trained (continued when interrupted). 0 on success. */
static int obtain_member(member *m, paper_run *run, dcnn_context *ctx, const dcnn_dataset *train,
                         const dcnn_dataset *validation, const dcnn_dataset *test, int checkpoints) {
  /* A failure on one rank (its own file system) is every rank's: no rank may return before the shared
   * decisions below and leave the others waiting in them. */
  if (example_cluster_any(example_make_dirs(m->dir))) return 1;
  EXAMPLE_CHECK(dcnn_pipeline_create(ctx, &m->pipeline));
  /* standardisation (if the member asks for it) from the training split, as in training */
  EXAMPLE_CHECK(dcnn_recipe_configure_pipeline(m->settings, m->pipeline, train));
  { /* before training: a test split of gray PNGs under a colour member would fail only after it */
    dcnn_zoo_options arch = DCNN_ZOO_OPTIONS_INIT;
    EXAMPLE_CHECK(dcnn_recipe_configure_zoo(m->settings, &arch));
    dcnn_model *shape = NULL;
    EXAMPLE_CHECK(dcnn_zoo_paper_cnn(ctx, &arch, &shape));
    const int refused = example_cluster_any(example_check_samples(m->pipeline, train, shape, "training") ||
                                            example_check_samples(m->pipeline, test, shape, "test"));
    dcnn_model_destroy(shape);
    if (refused) return 1;
  }
  char identity[16384];
  /* checked before the data was loaded too (ensemble_refuse_before_training); again here, as the directory
   * may have changed since */
  const member_state state = member_state_for(m, run, identity, sizeof identity);
  if (refused_state(m, state)) return 1;
  if (state == MEMBER_FINISHED) {
    load_finished(m, ctx);
    printf("finished earlier: %d epochs in %.1f s, loaded from %s/model.dcnn\n", (int)m->epochs, m->train_seconds,
           m->dir);
  } else {
    train_member(m, run, ctx, train, validation, checkpoints, identity, state == MEMBER_RESUME && checkpoints);
  }
  return 0;
}

/* The ensemble on the test set, once: the metric block, Table 1 row and report. 0 on success. */
static int report_ensemble_test(paper_run *run, dcnn_context *ctx, const member *members, int32_t count,
                                const dcnn_dataset *test, const char *summary) {
  dcnn_model *models[DCNN_ENSEMBLE_MAX_MEMBERS];
  dcnn_pipeline *pipelines[DCNN_ENSEMBLE_MAX_MEMBERS];
  for (int32_t i = 0; i < count; ++i) {
    models[i] = members[i].model;
    pipelines[i] = members[i].pipeline;
  }
  const double t0 = example_now();
  dcnn_metrics *metrics = NULL;
  test_predictions predictions;
  EXAMPLE_CHECK(dcnn_metrics_create(ctx, 10, &metrics));
  EXAMPLE_CHECK(evaluate_test_ensemble(models, pipelines, count, test, 1, 1, metrics, &predictions));
  run->test_seconds = example_now() - t0;
  EXAMPLE_CHECK(dcnn_metrics_get(metrics, DCNN_METRIC_ACCURACY, DCNN_AVERAGE_MACRO, &run->test_accuracy));
  print_results(run, metrics, NULL);
  const int rc = example_cluster_rank() == 0 && write_report(run, NULL, NULL, metrics, test, &predictions, summary);
  free(predictions.predicted);
  dcnn_metrics_destroy(metrics);
  return rc;
}

int run_ensemble(paper_run *run, dcnn_context *ctx, const dcnn_dataset *train, const dcnn_dataset *validation,
                 const dcnn_dataset *test, int validation_only, int checkpoints) {
  member members[DCNN_ENSEMBLE_MAX_MEMBERS];
  memset(members, 0, sizeof members);
  char names[1024] = "";                 /* "best + rgb-cosine" */
  static char summary[65536];            /* every member's model summary, headed by its name */
  static char note[2048];                /* per member: "best: 15 epochs in 1212.3 s, weights of epoch 15" */
  summary[0] = note[0] = '\0';
  int32_t count = 0;
  int rc = 0;
  while (count < DCNN_ENSEMBLE_MAX_MEMBERS && dcnn_recipe_ensemble_member(run->recipe, count)) {
    member *m = &members[count++];
    if (describe_member(run, count - 1, m)) return 1;
    snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", count > 1 ? " + " : "", m->name);
  }
  run->members = count;
  run->train_seconds = 0;
  run->epochs = 0;
  for (int32_t i = 0; i < count && rc == 0; ++i) {
    member *m = &members[i];
    printf("\n== member %d of %d: recipe %s (%s)\n%s\n", (int)i + 1, (int)count, m->name, m->dir, m->settings);
    rc = obtain_member(m, run, ctx, train, validation, validation_only ? NULL : test, checkpoints);
    if (rc) break;
    run->train_seconds += m->train_seconds;
    run->epochs += m->epochs;
    char *text = NULL;
    EXAMPLE_CHECK(dcnn_model_summary(m->model, &text));
    snprintf(summary + strlen(summary), sizeof summary - strlen(summary), "%sMember %d, recipe %s:\n%s",
             i ? "\n" : "", (int)i + 1, m->name, text);
    dcnn_free(text);
    snprintf(note + strlen(note), sizeof note - strlen(note), "%s%s: %d epochs in %.1f s, weights of epoch %d",
             i ? "; " : "", m->name, (int)m->epochs, m->train_seconds, (int)(m->best_epoch ? m->best_epoch : m->epochs));
  }
  if (rc == 0) {
    run->members_note = note;
    run->best_epoch = 0;
    run->settings = names;
    rc = validation_only ? report_ensemble_validation(run, members, count, validation, names)
                         : report_ensemble_test(run, ctx, members, count, test, summary);
    run->settings = NULL;
    run->members_note = NULL;
  }
  for (int32_t i = 0; i < count; ++i) {
    dcnn_model_destroy(members[i].model);
    dcnn_pipeline_destroy(members[i].pipeline);
  }
  return rc;
}
