/* digitcnn-table1's per-model recipes (recipe.h). */
#include "recipe.h"

#include <stdio.h>

/* Adam 1e-3 (the paper's optimizer and rate), one epoch of warm-up, then
 * cosine decay to 0: chosen on the validation split (docs/results.md).
 * LeNet-5 underfits with it (78.3% validation accuracy after 10 epochs);
 * of nine optimizer settings tried on the validation split, SGD with
 * Nesterov momentum 0.9 at 0.02, same schedule, was best (82.9%). The
 * table's LeNet-5 has ReLU and max pooling (dcnn_zoo_lenet5_relu): 84.9% on
 * validation with the same recipe (Adam 1e-3 84.4%, SGD 0.01 84.9%, 0.05 81.6%). */
static const table1_recipe tuned[5] = {
    {0, 1e-3, 0.0, 0.0, 1}, /* paper CNN */
    {1, 0.02, 0.0, 0.0, 1}, /* LeNet-5 */
    {0, 1e-3, 0.0, 0.0, 1}, /* ResNet-50 */
    {0, 1e-3, 0.0, 0.0, 1}, /* VGG-16 */
    {0, 1e-3, 0.0, 0.0, 1}, /* MobileNetV2 */
};

/* The one-epoch table of 2026-11-24: Adam 1e-3 at a constant rate for all. */
static const table1_recipe constant = {0, 1e-3, 0.0, 0.0, -1};

table1_recipe table1_recipe_for(int which, int set) { return set == 0 ? tuned[which] : constant; }

void table1_recipe_text(const table1_recipe *r, char *text, size_t size) {
  snprintf(text, size, "optimizer=%s\nlearning_rate=%.9g\nweight_decay=%.9g\nlabel_smoothing=%.9g\nwarmup_epochs=%d\n",
           r->sgd ? "sgd" : "adam", r->learning_rate, r->weight_decay, r->label_smoothing, r->warmup_epochs);
}

void table1_recipe_describe(const table1_recipe *r, int32_t epochs, char *text, size_t size) {
  /* as table1_recipe_apply: fewer epochs than warm-up leave the cosine decay alone */
  const int warmed = r->warmup_epochs > 0 && r->warmup_epochs < epochs;
  const char *schedule = r->warmup_epochs < 0 ? "constant rate" : !warmed ? "cosine decay per step" : "";
  char warmup[80] = "";
  if (warmed) snprintf(warmup, sizeof warmup, "warm-up %d epoch(s) + cosine decay, per step", r->warmup_epochs);
  int n = snprintf(text, size, "%s %.3g, %s%s", r->sgd ? "SGD (Nesterov 0.9)" : "Adam", r->learning_rate, schedule,
                   warmup);
  if (r->weight_decay > 0 && n > 0 && (size_t)n < size)
    n += snprintf(text + n, size - (size_t)n, ", weight decay %.3g", r->weight_decay);
  if (r->label_smoothing > 0 && n > 0 && (size_t)n < size)
    snprintf(text + n, size - (size_t)n, ", label smoothing %.3g", r->label_smoothing);
}

dcnn_status table1_recipe_apply(const table1_recipe *r, dcnn_context *ctx, int32_t epochs, dcnn_optimizer **optimizer,
                                dcnn_schedule **schedule) {
  *optimizer = NULL;
  *schedule = NULL;
  const float lr = (float)r->learning_rate, decay = (float)r->weight_decay;
  dcnn_status s = r->sgd ? dcnn_optimizer_create_sgd(ctx, lr, 0.9f, DCNN_MOMENTUM_NESTEROV, decay, optimizer)
                         : dcnn_optimizer_create_adam(ctx, lr, 0.9f, 0.999f, 1e-7f, decay, optimizer);
  if (s != DCNN_OK || r->warmup_epochs < 0) return s;
  /* fewer epochs than warm-up (quick runs): the cosine decay alone */
  if (r->warmup_epochs > 0 && r->warmup_epochs < epochs)
    s = dcnn_schedule_create_warmup_cosine(lr, r->warmup_epochs, epochs, 0.0f, schedule);
  else
    s = dcnn_schedule_create_cosine(lr, epochs, 0.0f, schedule);
  if (s != DCNN_OK) {
    dcnn_optimizer_destroy(*optimizer);
    *optimizer = NULL;
  }
  return s;
}
