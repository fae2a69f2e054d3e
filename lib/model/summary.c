/* The Keras-like summary table of a model. */
#include <stdio.h>
#include <stdlib.h>

#include "../core/c_locale.h"
#include "model_internal.h"

static void format_count(int64_t v, char *buf, size_t size) {
  char digits[32];
  int n = snprintf(digits, sizeof digits, "%lld", (long long)v), o = 0;
  for (int i = 0; i < n && (size_t)o + 2 < size; ++i) {
    if (i > 0 && (n - i) % 3 == 0 && digits[0] != '-') buf[o++] = ',';
    buf[o++] = digits[i];
  }
  buf[o] = '\0';
}

dcnn_status dcnn_model_summary(const dcnn_model *m, char **text) {
  DCNN_CHECK_ARG(text);
  *text = NULL;
  DCNN_CHECK_ARG_AS(m, "model");
  size_t size = 0;
  FILE *f = open_memstream(text, &size);
  DCNN_CHECK(f != NULL, DCNN_ERR_OUT_OF_MEMORY, "dcnn_model_summary: out of memory");
  char shape[64], count[32], config[160];
  fprintf(f, "Input: (None, %s\n", dcnn_shape_format(&m->sample_shape, shape, sizeof shape) + 1);
  fprintf(f, "%-4s %-15s %-22s %12s %14s  %-13s %s\n", "#", "Layer", "Output shape", "Params", "MACs/sample",
          "Algorithm", "Config");
  int64_t total = 0, trainable = 0, macs = 0;
  for (int32_t i = 0; i < m->layer_count; ++i) {
    dcnn_layer *l = m->layers[i];
    int64_t params = 0;
    for (int32_t j = 0; j < dcnn_layer_param_tensor_count(l); ++j) {
      dcnn_param p = DCNN_STRUCT_INIT(dcnn_param);
      /* A parameter the layer cannot describe fails the summary with the
       * layer's message, rather than leave the counts short. */
      const dcnn_status status = dcnn_layer_param(l, j, &p);
      if (status != DCNN_OK) {
        fclose(f);
        free(*text);
        *text = NULL;
        return dcnn__wrap_error(status, "dcnn_model_summary: layer %d", (int)i);
      }
      params += p.value->count;
      if (p.flags & DCNN_PARAM_TRAINABLE) trainable += p.value->count;
    }
    int64_t flops = l->vt->flops ? l->vt->flops(l->self) : 0;
    total += params;
    macs += flops;
    config[0] = '\0';
    if (l->vt->describe) { /* a failing describe() leaves the column empty and the caller's message alone */
      dcnn__error_saved saved;
      dcnn__error_save(&saved);
      if (l->vt->describe(l->self, config, sizeof config) != DCNN_OK) config[0] = '\0';
      config[sizeof config - 1] = '\0';
      dcnn__error_restore(&saved);
    }
    char out_shape[64];
    /* "(1, a, b)" becomes "(None, a, b)"; an output of one value a sample, "(1)", "(None)" */
    const char *formatted = dcnn_shape_format(&l->output, shape, sizeof shape);
    if (l->output.ndim > 1) snprintf(out_shape, sizeof out_shape, "(None, %s", formatted + 4);
    else snprintf(out_shape, sizeof out_shape, "(None)");
    char flops_text[32];
    format_count(flops, flops_text, sizeof flops_text);
    format_count(params, count, sizeof count);
    /* Residual blocks name their convolutions' algorithms, which are longer than the column. */
    char algorithm[DCNN__ALGORITHMS_TEXT];
    dcnn__layer_algorithms(l, algorithm, sizeof algorithm);
    fprintf(f, "%-4d %-15s %-22s %12s %14s  %-13s %s\n", (int)i, l->vt->type_name, out_shape, count, flops_text,
            algorithm[0] ? algorithm : "-", config);
  }
  format_count(total, count, sizeof count);
  char n[3][DCNN__NUMBER_BYTES]; /* '.' whatever the program's locale, as in the layers' settings above */
  dcnn__format_number(n[0], sizeof n[0], 'f', 2, (double)total * 4.0 / (1024.0 * 1024.0));
  dcnn__format_number(n[1], sizeof n[1], 'f', 2, (double)macs / 1e6);
  dcnn__format_number(n[2], sizeof n[2], 'f', 0, 6.0 * (double)macs / 1e6);
  fprintf(f, "Total params: %s (%s MB as float32)\n", count, n[0]);
  format_count(trainable, count, sizeof count);
  fprintf(f, "Trainable params: %s\n", count);
  format_count(total - trainable, count, sizeof count);
  fprintf(f, "Non-trainable params: %s\n", count);
  fprintf(f, "Forward multiply-adds per sample: %s M (about %s MFLOP per sample for a training step)\n", n[1], n[2]);
  if (fclose(f) != 0 || !*text) {
    free(*text);
    *text = NULL;
    return dcnn__fail(DCNN_ERR_OUT_OF_MEMORY, "dcnn_model_summary: out of memory");
  }
  return DCNN_OK;
}
