/* Per-layer timings: the accumulator a model records into while a profile is
 * attached (profile.h), and its table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../layers/conv_bn.h"
#include "../layers/residual_profile.h"
#include "digitcnn/profile.h"
#include "../core/struct_size.h"
#include "../core/c_locale.h"
#include "model_internal.h"

/* Entries: (layer_count × DCNN__PROFILE_LAYER_PASSES) layer rows, layer-major,
 * then one row per phase (loss, optimizer, data, allreduce). */
#define PHASES 4

struct dcnn_profile {
  const dcnn_model *model; /* for its layers' names and algorithms (it outlives the profile's use) */
  uint64_t model_id;       /* which model it is: a new one may be built at a destroyed one's address */
  dcnn_context *ctx;
  int32_t layer_count;
  uint64_t generation; /* the model's layer list this profile covers */
  int32_t count;
  dcnn_profile_entry *entries;
  double *weight_flops; /* (count): the weight gradients' operations in backward entries */
};

dcnn_status dcnn_profile_create(const dcnn_model *m, dcnn_profile **out) {
  DCNN_CHECK_ARG(out);
  *out = NULL;
  DCNN_CHECK_ARG_AS(m, "model");
  DCNN_CHECK(m->layer_count > 0, DCNN_ERR_INVALID_STATE, "dcnn_profile_create: the model has no layers");
  dcnn_profile *p = dcnn__calloc(m->ctx, 1, sizeof *p);
  DCNN_CHECK(p != NULL, DCNN_ERR_OUT_OF_MEMORY, "dcnn_profile_create: out of memory");
  p->model = m;
  p->model_id = m->id;
  p->ctx = m->ctx;
  p->layer_count = m->layer_count;
  p->generation = m->generation;
  p->count = m->layer_count * DCNN__PROFILE_LAYER_PASSES + PHASES;
  p->entries = dcnn__calloc(m->ctx, (size_t)p->count, sizeof *p->entries);
  p->weight_flops = dcnn__calloc(m->ctx, (size_t)p->count, sizeof *p->weight_flops);
  if (!p->entries || !p->weight_flops) {
    dcnn__release(m->ctx, p->entries);
    dcnn__release(m->ctx, p->weight_flops);
    dcnn__release(m->ctx, p);
    return dcnn__fail(DCNN_ERR_OUT_OF_MEMORY, "dcnn_profile_create: out of memory");
  }
  for (int32_t i = 0; i < m->layer_count; ++i)
    for (int32_t k = 0; k < DCNN__PROFILE_LAYER_PASSES; ++k)
      p->entries[i * DCNN__PROFILE_LAYER_PASSES + k] = (dcnn_profile_entry){
          .layer = i, .type_name = m->layers[i]->vt->type_name, .pass = (dcnn_profile_pass)k, .weight_seconds = -1};
  for (int32_t i = 0; i < m->layer_count; ++i) dcnn__residual_timing_reset(m->layers[i]);
  static const char *const phase_names[PHASES] = {"loss", "optimizer", "data", "allreduce"};
  for (int32_t k = 0; k < PHASES; ++k)
    p->entries[p->count - PHASES + k] = (dcnn_profile_entry){
        .layer = -1, .type_name = phase_names[k], .pass = (dcnn_profile_pass)(DCNN_PROFILE_LOSS + k), .weight_seconds = -1};
  *out = p;
  return DCNN_OK;
}

void dcnn_profile_destroy(dcnn_profile *p) {
  if (!p) return;
  dcnn__release(p->ctx, p->entries);
  dcnn__release(p->ctx, p->weight_flops);
  dcnn__release(p->ctx, p);
}

dcnn_status dcnn_model_set_profile(dcnn_model *m, dcnn_profile *p) {
  DCNN_CHECK_ARG_AS(m, "model");
  if (p) {
    DCNN_CHECK(p->model_id == m->id, DCNN_ERR_INVALID_ARGUMENT,
               "dcnn_model_set_profile: the profile was created for another model");
    DCNN_CHECK(p->generation == m->generation && p->layer_count == m->layer_count, DCNN_ERR_INVALID_STATE,
               "dcnn_model_set_profile: layers were added to the model after the profile was created (it covers %d "
               "of %d); create a new profile", (int)p->layer_count, (int)m->layer_count);
  }
  /* Residual blocks time their parts while a profile is attached (rows under the block's). */
  for (int32_t i = 0; i < m->layer_count; ++i) dcnn__residual_timing(m->layers[i], p != NULL);
  m->profile = p;
  return DCNN_OK;
}

int32_t dcnn_profile_count(const dcnn_profile *p) { return p ? p->count : 0; }

dcnn_status dcnn_profile_entry_get(const dcnn_profile *p, int32_t index, dcnn_profile_entry *out) {
  DCNN_CHECK_ARG_AS(p, "profile");
  DCNN_CHECK_ARG(out);
  DCNN_CHECK(index >= 0 && index < p->count, DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_profile_entry_get: index %d outside 0..%d", (int)index, (int)p->count - 1);
  dcnn_profile_entry entry = p->entries[index];
  entry.struct_size = sizeof entry;
  entry.algorithm = "";
  if (entry.layer >= 0) dcnn_layer_algorithm(p->model->layers[entry.layer], &entry.algorithm);
  return dcnn__struct_fill("dcnn_profile_entry_get", "dcnn_profile_entry", out, &entry, sizeof entry,
                           DCNN__PROFILE_ENTRY_SIZE_0_2);
}

void dcnn_profile_reset(dcnn_profile *p) {
  if (!p) return;
  for (int32_t i = 0; i < p->count; ++i) {
    p->entries[i].calls = 0;
    p->entries[i].seconds = 0;
    p->entries[i].flops = 0;
    p->entries[i].weight_seconds = -1;
    p->weight_flops[i] = 0;
  }
  for (int32_t i = 0; i < p->layer_count && i < p->model->layer_count; ++i)
    dcnn__residual_timing_reset(p->model->layers[i]);
}

/* A layer the profile does not cover (added after it was made) is not recorded. */
static dcnn_profile_entry *layer_entry(dcnn_profile *p, int32_t layer, int32_t pass) {
  return layer < p->layer_count ? &p->entries[layer * DCNN__PROFILE_LAYER_PASSES + pass] : NULL;
}

/* `forwards`: the call's operations in forward passes (a backward with the
 * data gradient counts 2, the first layer's backward, without it, 1). */
static void add_layer(dcnn_profile *p, int32_t pass, int32_t layer, const dcnn_layer *l, int32_t batch,
                      double seconds, double forwards) {
  dcnn_profile_entry *e = layer_entry(p, layer, pass);
  if (!e) return;
  const double macs = l->vt->flops ? (double)l->vt->flops(l->self) : 0;
  e->calls++;
  e->seconds += seconds;
  e->flops += 2.0 * macs * batch * forwards;
}

dcnn_status dcnn__profile_forward(dcnn_profile *p, int32_t pass, int32_t i, dcnn_layer *l, dcnn_exec *exec,
                                  const dcnn_tensor *x, dcnn_tensor *y) {
  const double t0 = dcnn__now();
  const dcnn_status status = l->vt->forward(l->self, exec, x, y);
  if (status == DCNN_OK) add_layer(p, pass, i, l, x->shape.dims[0], dcnn__now() - t0, 1.0);
  /* A batch norm folded into this conv (conv_bn.h) ran inside it: one call, its time in the conv's row. */
  if (status == DCNN_OK && exec->fold && i + 1 < p->model->layer_count)
    add_layer(p, pass, i + 1, p->model->layers[i + 1], x->shape.dims[0], 0.0, 1.0);
  return status;
}

dcnn_status dcnn__profile_backward(dcnn_profile *p, int32_t i, dcnn_layer *l, dcnn_exec *exec, const dcnn_tensor *x,
                                   const dcnn_tensor *y, const dcnn_tensor *dy, dcnn_tensor *dx) {
  dcnn__split_timer split = {0, 0}, *outer = exec->split;
  exec->split = &split;
  const double t0 = dcnn__now();
  const dcnn_status status = l->vt->backward(l->self, exec, x, y, dy, dx);
  const double seconds = dcnn__now() - t0;
  exec->split = outer;
  if (status != DCNN_OK) return status;
  add_layer(p, DCNN_PROFILE_BACKWARD, i, l, x->shape.dims[0], seconds, dx ? 2.0 : 1.0);
  dcnn_profile_entry *e = layer_entry(p, i, DCNN_PROFILE_BACKWARD);
  if (e && split.reported) { /* clock reads can disagree by a few ns: the part stays within the whole */
    e->weight_seconds = (e->weight_seconds > 0 ? e->weight_seconds : 0) +
                        (split.weight_seconds < seconds ? split.weight_seconds : seconds);
    p->weight_flops[e - p->entries] += 2.0 * (l->vt->flops ? (double)l->vt->flops(l->self) : 0) * x->shape.dims[0];
  }
  return DCNN_OK;
}

void dcnn__profile_phase(dcnn_profile *p, dcnn_profile_pass phase, double seconds, int call) {
  if (!p) return;
  dcnn_profile_entry *e = &p->entries[p->count - PHASES + (phase - DCNN_PROFILE_LOSS)];
  e->calls += call;
  e->seconds += seconds;
}

dcnn_profile *dcnn__model_profile(const dcnn_model *m) { return m->profile; }

static const char *pass_name(dcnn_profile_pass pass) {
  switch (pass) {
    case DCNN_PROFILE_FORWARD: return "forward";
    case DCNN_PROFILE_BACKWARD: return "backward";
    case DCNN_PROFILE_INFERENCE: return "inference";
    default: return "-";
  }
}

static void format_row(FILE *f, const char *layer, const char *type, const char *pass, int64_t calls, double seconds,
                       double flops, double ceiling, double total, const char *algorithm) {
  const double ms = calls ? 1e3 * seconds / (double)calls : 0, gflops = seconds > 0 ? flops / seconds / 1e9 : 0;
  char n[4][DCNN__NUMBER_BYTES]; /* '.' whatever the program's locale, as in every text the library writes */
  dcnn__format_number(n[0], sizeof n[0], 'f', 3, ms);
  dcnn__format_number(n[1], sizeof n[1], 'f', 1, gflops);
  dcnn__format_number(n[2], sizeof n[2], 'f', 1, ceiling > 0 ? 100.0 * gflops / ceiling : 0);
  dcnn__format_number(n[3], sizeof n[3], 'f', 1, total > 0 ? 100.0 * seconds / total : 0);
  fprintf(f, "%-6s %-16s %-10s %7lld %10s", layer, type, pass, (long long)calls, n[0]);
  if (flops > 0) fprintf(f, " %9s", n[1]);
  else fprintf(f, " %9s", "-");
  if (ceiling > 0) {
    if (flops > 0) fprintf(f, " %8s%%", n[2]);
    else fprintf(f, " %9s", "-");
  }
  fprintf(f, " %7s%%", n[3]);
  if (algorithm[0]) fprintf(f, "  %s", algorithm);
  fprintf(f, "\n");
}

/* Sums of the entries of one kind: training (forward, backward, loss,
 * optimizer, data) or inference. */
static void sums(const dcnn_profile *p, int inference, double *seconds, double *flops) {
  *seconds = *flops = 0;
  for (int32_t i = 0; i < p->count; ++i) {
    const dcnn_profile_entry *e = &p->entries[i];
    if ((e->pass == DCNN_PROFILE_INFERENCE) != inference) continue;
    *seconds += e->seconds;
    *flops += e->flops;
  }
}

dcnn_status dcnn_profile_format(const dcnn_profile *p, double ceiling, char **text) {
  DCNN_CHECK_ARG(text);
  *text = NULL;
  DCNN_CHECK_ARG_AS(p, "profile");
  size_t size = 0;
  FILE *f = open_memstream(text, &size);
  DCNN_CHECK(f != NULL, DCNN_ERR_OUT_OF_MEMORY, "dcnn_profile_format: out of memory");
  double train_s, train_f, infer_s, infer_f;
  sums(p, 0, &train_s, &train_f);
  sums(p, 1, &infer_s, &infer_f);
  fprintf(f, "%-6s %-16s %-10s %7s %10s %9s", "layer", "type", "pass", "calls", "ms/call", "GFLOPS");
  if (ceiling > 0) fprintf(f, " %9s", "%ceiling");
  fprintf(f, " %8s  %s\n", "%time", "algorithm");
  for (int32_t i = 0; i < p->count; ++i) {
    const dcnn_profile_entry *e = &p->entries[i];
    if (!e->calls) continue;
    char layer[16];
    if (e->layer >= 0) snprintf(layer, sizeof layer, "%d", (int)e->layer);
    else snprintf(layer, sizeof layer, "-");
    char algorithm[DCNN__ALGORITHMS_TEXT];
    algorithm[0] = '\0';
    if (e->layer >= 0) dcnn__layer_algorithms(p->model->layers[e->layer], algorithm, sizeof algorithm);
    /* Inference folds a linked conv2d + batch norm pair into the conv's output pass (conv_bn.h). */
    if (e->pass == DCNN_PROFILE_INFERENCE && e->layer >= 0 && e->layer + 1 < p->model->layer_count &&
        dcnn__conv_bn_folds(p->model->layers[e->layer], p->model->layers[e->layer + 1]))
      snprintf(algorithm + strlen(algorithm), sizeof algorithm - strlen(algorithm), "+%d folded",
               (int)e->layer + 1);
    else if (e->pass == DCNN_PROFILE_INFERENCE && e->layer >= 1 &&
             dcnn__conv_bn_folds(p->model->layers[e->layer - 1], p->model->layers[e->layer]))
      snprintf(algorithm, sizeof algorithm, "folded into %d", (int)e->layer - 1);
    format_row(f, layer, e->type_name, pass_name(e->pass), e->calls, e->seconds, e->flops, ceiling,
               e->pass == DCNN_PROFILE_INFERENCE ? infer_s : train_s, algorithm);
    /* The backward's two parts: the weight gradient is one forward's operations, the data gradient the rest
     * (none in a first layer, which has no input gradient to compute). */
    if (e->pass == DCNN_PROFILE_BACKWARD && e->weight_seconds >= 0) {
      const double weight_flops = p->weight_flops[i];
      format_row(f, "", "", "bwd-data", e->calls, e->seconds - e->weight_seconds, e->flops - weight_flops, ceiling,
                 train_s, "");
      format_row(f, "", "", "bwd-weight", e->calls, e->weight_seconds, weight_flops, ceiling, train_s, "");
    }
    /* A residual block's parts, indented: "<block>.b<i>" body, ".s<i>" shortcut, ".sum" its own work. */
    dcnn__residual_part parts[64]; /* more than any block built by the zoo or likely by hand */
    int64_t part_calls = 0;
    const int32_t n = e->layer >= 0 && e->layer < p->model->layer_count && e->pass != DCNN_PROFILE_INFERENCE
                          ? dcnn__residual_timed_parts(p->model->layers[e->layer], (int)e->pass, parts, 64, &part_calls)
                          : 0;
    for (int32_t k = 0; k < n && k < 64 && part_calls > 0; ++k) {
      char name[24];
      if (parts[k].chain == 2) snprintf(name, sizeof name, " %d.sum", (int)e->layer);
      else snprintf(name, sizeof name, " %d.%c%d", (int)e->layer, parts[k].chain ? 's' : 'b', (int)parts[k].index);
      char part_algorithm[DCNN__ALGORITHMS_TEXT];
      part_algorithm[0] = '\0';
      if (parts[k].layer) dcnn__layer_algorithms(parts[k].layer, part_algorithm, sizeof part_algorithm);
      format_row(f, name, parts[k].type_name, pass_name(e->pass), part_calls, parts[k].seconds, parts[k].flops, ceiling,
                 train_s, part_algorithm);
    }
  }
  /* Totals per step: the calls of the busiest entry are the steps recorded. */
  int64_t train_steps = 0, infer_calls = 0;
  for (int32_t i = 0; i < p->count; ++i) {
    const dcnn_profile_entry *e = &p->entries[i];
    int64_t *n = e->pass == DCNN_PROFILE_INFERENCE ? &infer_calls : &train_steps;
    if (e->calls > *n) *n = e->calls;
  }
  if (train_steps) format_row(f, "total", "training", "all", train_steps, train_s, train_f, ceiling, train_s, "");
  if (infer_calls) format_row(f, "total", "inference", "all", infer_calls, infer_s, infer_f, ceiling, infer_s, "");
  char ceiling_text[DCNN__NUMBER_BYTES];
  dcnn__format_number(ceiling_text, sizeof ceiling_text, 'f', 1, ceiling);
  if (ceiling > 0) fprintf(f, "GEMM ceiling: %s GFLOPS\n", ceiling_text);
  if (fclose(f) != 0 || !*text) {
    free(*text);
    *text = NULL;
    return dcnn__fail(DCNN_ERR_OUT_OF_MEMORY, "dcnn_profile_format: out of memory");
  }
  return DCNN_OK;
}
