/* digitcnn-robustness outputs: the table (stdout, Markdown, CSV), the
 * accuracy-versus-severity charts and the sample grid. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "robustness_example.h"

/* Mean accuracy over every perturbation and level (the clean column excluded). */
static double corruption_mean(const evaluated_model *e) {
  double sum = 0;
  for (int k = 0; k < DCNN_PERTURB_COUNT; ++k)
    for (int l = 1; l < SEVERITIES; ++l) sum += e->perturbed[k][l];
  return sum / (DCNN_PERTURB_COUNT * (SEVERITIES - 1));
}

static void table_row(FILE *f, const robustness_run *run, const char *condition, const char *severity,
                      double (*value)(const evaluated_model *, int, int), int a, int b) {
  fprintf(f, "| %s | %s |", condition, severity);
  for (int32_t m = 0; m < run->model_count; ++m) fprintf(f, " %6.2f%% |", 100 * value(&run->models[m], a, b));
  fprintf(f, "\n");
}

static double clean_of(const evaluated_model *e, int a, int b) { (void)a, (void)b; return e->clean; }
static double perturbed_of(const evaluated_model *e, int k, int l) { return e->perturbed[k][l]; }
static double fgsm_of(const evaluated_model *e, int l, int b) { (void)b; return e->fgsm[l]; }
static double pgd_of(const evaluated_model *e, int l, int b) { (void)b; return e->pgd[l]; }
static double mean_of(const evaluated_model *e, int a, int b) { (void)a, (void)b; return corruption_mean(e); }

/* The whole table in Markdown. */
static void write_table(FILE *f, const robustness_run *run) {
  fprintf(f, "| Condition | Severity |");
  for (int32_t m = 0; m < run->model_count; ++m) fprintf(f, " %s |", run->models[m].name);
  fprintf(f, "\n|---|---|");
  for (int32_t m = 0; m < run->model_count; ++m) fprintf(f, "---|");
  fprintf(f, "\n");
  table_row(f, run, "clean", "-", clean_of, 0, 0);
  char text[64];
  for (int k = 0; k < DCNN_PERTURB_COUNT; ++k) {
    const float *levels = NULL;
    dcnn_perturbation_levels((dcnn_perturbation)k, &levels);
    for (int l = 0; l < 5; ++l) {
      snprintf(text, sizeof text, "%g %s", (double)levels[l], dcnn_perturbation_unit((dcnn_perturbation)k));
      table_row(f, run, dcnn_perturbation_name((dcnn_perturbation)k), text, perturbed_of, k, l + 1);
    }
  }
  table_row(f, run, "mean over the 40 perturbations", "-", mean_of, 0, 0);
  for (int l = 0; l < ATTACK_LEVELS; ++l) {
    snprintf(text, sizeof text, "epsilon %g", (double)run->epsilons[l]);
    table_row(f, run, "FGSM", text, fgsm_of, l, 0);
  }
  for (int l = 0; l < ATTACK_LEVELS; ++l) {
    snprintf(text, sizeof text, "epsilon %g", (double)run->epsilons[l]);
    table_row(f, run, "PGD-10", text, pgd_of, l, 0);
  }
}

static int write_csv(const robustness_run *run) {
  char *text = NULL;
  size_t size = 0;
  FILE *f = open_memstream(&text, &size);
  if (!f) return 1;
  fprintf(f, "model,condition,severity,accuracy,images\n");
  for (int32_t m = 0; m < run->model_count; ++m) {
    const evaluated_model *e = &run->models[m];
    fprintf(f, "%s,clean,0,%.6f,%d\n", e->name, e->clean, (int)run->test_images);
    for (int k = 0; k < DCNN_PERTURB_COUNT; ++k) {
      const float *levels = NULL;
      dcnn_perturbation_levels((dcnn_perturbation)k, &levels);
      for (int l = 0; l < 5; ++l)
        fprintf(f, "%s,%s,%g,%.6f,%d\n", e->name, dcnn_perturbation_name((dcnn_perturbation)k), (double)levels[l],
                e->perturbed[k][l + 1], (int)run->test_images);
    }
    for (int l = 0; l < ATTACK_LEVELS; ++l)
      fprintf(f, "%s,fgsm,%g,%.6f,%d\n", e->name, (double)run->epsilons[l], e->fgsm[l], (int)run->test_images);
    for (int l = 0; l < ATTACK_LEVELS; ++l)
      fprintf(f, "%s,pgd10,%g,%.6f,%d\n", e->name, (double)run->epsilons[l], e->pgd[l], (int)run->pgd_images);
  }
  fclose(f);
  int failed = example_write_text(example_path(run->out, "robustness.csv"), text);
  free(text);
  return failed;
}

/* One chart: accuracy (%) against severity, a line per model. */
static int write_chart(const robustness_run *run, const char *file, const char *title, const char *x_label,
                       const double *x, int32_t points, double (*value)(const evaluated_model *, int, int), int key) {
  double y[MAX_MODELS][ATTACK_LEVELS + 1];
  chart_series series[MAX_MODELS];
  for (int32_t m = 0; m < run->model_count; ++m) {
    for (int32_t i = 0; i < points; ++i) y[m][i] = 100 * value(&run->models[m], key, i);
    series[m] = (chart_series){run->models[m].name, x, y[m], points, chart_color(m), 0};
  }
  char *svg = svg_line_chart(title, x_label, "test accuracy (%)", series, run->model_count, NAN, NAN, 0, 100);
  if (!svg) return 1;
  int failed = example_write_text(example_path(run->out, file), svg);
  free(svg);
  return failed;
}

static double perturbed_at(const evaluated_model *e, int k, int i) { return e->perturbed[k][i]; }
static double fgsm_at(const evaluated_model *e, int k, int i) { (void)k; return i ? e->fgsm[i - 1] : e->clean; }
/* epsilon 0 of PGD: the clean accuracy on PGD's own subset (the whole test set's would misstate the drop) */
static double pgd_at(const evaluated_model *e, int k, int i) { (void)k; return i ? e->pgd[i - 1] : e->pgd_clean; }

/* "trained in 12 s" or "loaded" */
static const char *how_obtained(const evaluated_model *e, char *text, size_t size) {
  if (e->trained) snprintf(text, size, "trained in %.0f s", e->train_seconds);
  else snprintf(text, size, "loaded");
  return text;
}

int write_report(const robustness_run *run) {
  if (run->pgd_images < run->test_images)
    printf("\nAccuracy on the MNIST-M test set (%d images; PGD on a stratified subset of %d):\n\n",
           (int)run->test_images, (int)run->pgd_images);
  else
    printf("\nAccuracy on the MNIST-M test set (%d images; PGD on all of them):\n\n", (int)run->test_images);
  write_table(stdout, run);
  printf("\n");
  char how[64];
  for (int32_t m = 0; m < run->model_count; ++m)
    printf("%-12s %s; %s, evaluated in %.0f s\n", run->models[m].name, run->models[m].label,
           how_obtained(&run->models[m], how, sizeof how), run->models[m].eval_seconds);

  char *md = NULL;
  size_t size = 0;
  FILE *f = open_memstream(&md, &size);
  if (!f) return 1;
  fprintf(f, "# Robustness of the paper CNN (digitcnn-robustness)\n\nCommand: `%s`; libdigitcnn %s.\n\n",
          run->argv_line, dcnn_version_string());
  for (int32_t m = 0; m < run->model_count; ++m)
    fprintf(f, "- **%s**: %s (%s)\n", run->models[m].name, run->models[m].label,
            how_obtained(&run->models[m], how, sizeof how));
  if (run->pgd_images < run->test_images)
    fprintf(f, "\nTest accuracy, %d MNIST-M test images (PGD: a stratified subset of %d).\n\n",
            (int)run->test_images, (int)run->pgd_images);
  else
    fprintf(f, "\nTest accuracy, %d MNIST-M test images (PGD: all of them).\n\n", (int)run->test_images);
  write_table(f, run);
  fclose(f);
  int failed = example_write_text(example_path(run->out, "robustness.md"), md);
  free(md);
  failed |= write_csv(run);

  /* Charts and the page that shows them. */
  char *html = NULL;
  size = 0;
  f = open_memstream(&html, &size);
  if (!f) return 1;
  fprintf(f, "<!doctype html><meta charset=\"utf-8\"><title>digitcnn robustness</title>\n"
             "<h1>Robustness of the paper CNN</h1><p>Table: <a href=\"robustness.md\">robustness.md</a>, "
             "<a href=\"robustness.csv\">robustness.csv</a>.</p>\n<div>\n");
  char file[96], title[96], x_label[96];
  for (int k = 0; k < DCNN_PERTURB_COUNT; ++k) {
    const float *levels = NULL;
    dcnn_perturbation_levels((dcnn_perturbation)k, &levels);
    double x[SEVERITIES] = {0};
    for (int l = 0; l < 5; ++l) x[l + 1] = levels[l];
    snprintf(file, sizeof file, "curves-%s.svg", dcnn_perturbation_name((dcnn_perturbation)k));
    snprintf(x_label, sizeof x_label, "severity (%s)", dcnn_perturbation_unit((dcnn_perturbation)k));
    failed |= write_chart(run, file, dcnn_perturbation_name((dcnn_perturbation)k), x_label, x, SEVERITIES,
                          perturbed_at, k);
    fprintf(f, "<img src=\"%s\" width=\"480\">\n", file);
  }
  double eps[ATTACK_LEVELS + 1] = {0};
  for (int l = 0; l < ATTACK_LEVELS; ++l) eps[l + 1] = run->epsilons[l];
  failed |= write_chart(run, "curves-fgsm.svg", "FGSM", "epsilon (L-infinity, pixel units)", eps, ATTACK_LEVELS + 1,
                        fgsm_at, 0);
  snprintf(title, sizeof title, "PGD-%d (%d images)", (int)run->pgd_iterations,
           (int)run->pgd_images < run->test_images ? (int)run->pgd_images : (int)run->test_images);
  failed |= write_chart(run, "curves-pgd.svg", title, "epsilon (L-infinity, pixel units)", eps, ATTACK_LEVELS + 1,
                        pgd_at, 0);
  fprintf(f, "<img src=\"curves-fgsm.svg\" width=\"480\">\n<img src=\"curves-pgd.svg\" width=\"480\">\n</div>\n"
             "<h2>A test digit under each perturbation</h2><p>Rows: the eight perturbations in the table's order, "
             "then FGSM and PGD against the first model; columns: clean, then the standard severities (attacks: "
             "the six epsilons).</p><img src=\"samples.png\" style=\"image-rendering: pixelated\">\n");
  fclose(f);
  failed |= example_write_text(example_path(run->out, "index.html"), html);
  free(html);
  return failed;
}

#define SCALE 3
#define GAP 4

/* samples.png: one test image under every perturbation and attack level, as
 * the model sees it (its input shape: 1x28x28 for the paper's protocol, 3x32x32
 * for an RGB recipe). Each cell maps the clean image's range of values to
 * 0..255 (a standardising pipeline's inputs are not in [0, 1]). */
int write_samples(const robustness_run *run, dcnn_model *model, dcnn_pipeline *pipeline, const dcnn_dataset *test) {
  remove(example_path(run->out, "samples.png")); /* never an earlier run's picture beside this report */
  const dcnn_shape in = dcnn_model_input_shape(model);
  if (in.ndim != 3) {
    fprintf(stderr, "error: samples.png: the model takes (%d-D) inputs, not images\n", (int)in.ndim);
    return 1;
  }
  const int32_t channels = in.dims[0], cell_h = in.dims[1], cell_w = in.dims[2];
  const int64_t plane = (int64_t)cell_h * cell_w;
  const int32_t rows = DCNN_PERTURB_COUNT + 2, cols = ATTACK_LEVELS + 1;
  const int32_t side_h = cell_h * SCALE + GAP, side_w = cell_w * SCALE + GAP;
  const int32_t height = rows * side_h + GAP, width = cols * side_w + GAP;
  uint8_t *canvas = malloc((size_t)height * width * 3); /* (height, width, 3) */
  if (!canvas) return 1;
  memset(canvas, 255, (size_t)height * width * 3);
  dcnn_shape shape = dcnn_shape_make(4, 1, channels, cell_h, cell_w);
  dcnn_tensor *clean = NULL, *x = NULL;
  EXAMPLE_CHECK(dcnn_tensor_create(NULL, &shape, &clean));
  EXAMPLE_CHECK(dcnn_tensor_create(NULL, &shape, &x));
  const int32_t index = 0;
  int32_t label = 0;
  EXAMPLE_CHECK(dcnn_pipeline_batch(pipeline, test, &index, 1, DCNN_AUGMENT_OFF, 0, 0, clean, &label));
  const float *c0 = dcnn_tensor_data(clean);
  float lo = c0[0], hi = c0[0];
  for (int64_t i = 1; i < plane * channels; ++i) lo = c0[i] < lo ? c0[i] : lo, hi = c0[i] > hi ? c0[i] : hi;
  if (lo > 0.0f) lo = 0.0f; /* [0, 1] images keep their look */
  if (hi < 1.0f && lo >= 0.0f) hi = 1.0f;
  const float span = hi > lo ? hi - lo : 1.0f;
  for (int32_t r = 0; r < rows; ++r)
    for (int32_t c = 0; c < cols; ++c) {
      memcpy(dcnn_tensor_data(x), c0, (size_t)(plane * channels) * sizeof(float));
      if (c > 0 && r < DCNN_PERTURB_COUNT) {
        const float *levels = NULL;
        dcnn_perturbation_levels((dcnn_perturbation)r, &levels);
        if (c > 5) continue;
        EXAMPLE_CHECK(dcnn_perturb(x, (dcnn_perturbation)r, levels[c - 1], run->seed, 0));
      } else if (c > 0) {
        dcnn_attack a = DCNN_STRUCT_INIT(dcnn_attack);
        if (r == DCNN_PERTURB_COUNT) EXAMPLE_CHECK(dcnn_attack_fgsm(run->epsilons[c - 1], &a));
        else robustness_pgd(run, run->epsilons[c - 1], &a); /* the attack the table measured */
        EXAMPLE_CHECK(dcnn_attack_run(model, &a, x, &label, x));
      }
      const float *px = dcnn_tensor_data(x); /* (C, H, W) */
      for (int32_t y = 0; y < cell_h * SCALE; ++y)
        for (int32_t xx = 0; xx < cell_w * SCALE; ++xx)
          for (int32_t ch = 0; ch < 3; ++ch) {
            float v = (px[(channels == 3 ? ch : 0) * plane + (y / SCALE) * cell_w + xx / SCALE] - lo) / span;
            v = v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
            canvas[((size_t)(GAP + r * side_h + y) * width + GAP + c * side_w + xx) * 3 + ch] = (uint8_t)lrintf(255 * v);
          }
    }
  dcnn_tensor_destroy(clean);
  dcnn_tensor_destroy(x);
  dcnn_status status = dcnn_image_write_png(example_path(run->out, "samples.png"), height, width, 3, canvas);
  free(canvas);
  if (status != DCNN_OK) {
    fprintf(stderr, "error: %s\n", dcnn_last_error());
    return 1;
  }
  return 0;
}
