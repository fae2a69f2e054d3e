/* What the public headers' @code{.c} examples assume is in scope (see
 * compile_snippets.py): the library, stdio, and the variables an example
 * may use without declaring them. */
#include <stdint.h>
#include <stdio.h>

#include <digitcnn.h>

#define SNIPPET_PARAMS                                                                                 \
  dcnn_context *ctx, dcnn_model *model, const dcnn_dataset *train, const dcnn_dataset *validation,      \
      const dcnn_dataset *test, dcnn_pipeline *pipeline, dcnn_trainer *trainer
#define SNIPPET_UNUSED \
  (void)ctx;           \
  (void)model;         \
  (void)train;         \
  (void)validation;    \
  (void)test;          \
  (void)pipeline;      \
  (void)trainer

/* Further names the profile.h and session.h examples use: an optimizer, a
 * batch with its labels, a session's input and output, and a work loop. */
dcnn_optimizer *opt;
dcnn_tensor *x, *input, *output;
const int32_t *labels;
int more_work(void);
int more_work(void) { return 0; }

/* The layer constructor registry.h's factory example calls. */
static dcnn_status my_scale_create(float factor, dcnn_layer **out) {
  (void)factor;
  *out = NULL;
  return DCNN_ERR_NOT_FOUND;
}
