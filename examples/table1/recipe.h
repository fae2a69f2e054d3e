/* digitcnn-table1's training recipes: one protocol for every model, with the
 * optimizer and learning-rate schedule per model where a model needs its own
 * (docs/results.md says which and why). */
#ifndef TABLE1_RECIPE_H
#define TABLE1_RECIPE_H

#include <stddef.h>

#include <digitcnn.h>

typedef struct table1_recipe {
  int sgd;                /* 0: Adam (decoupled weight decay); 1: SGD, Nesterov momentum 0.9 */
  double learning_rate;   /* peak rate */
  double weight_decay;    /* decoupled (Adam) or L2 (SGD) */
  double label_smoothing; /* in [0, 1) */
  int warmup_epochs;      /* -1: constant rate; 0: cosine decay to 0; W > 0: W epochs of warm-up, then cosine */
} table1_recipe;

/* The recipe of model `which` (0 paper, 1 LeNet-5, 2 ResNet-50, 3 VGG-16,
 * 4 MobileNetV2) under recipe set `set` ("tuned" or "constant"). */
table1_recipe table1_recipe_for(int which, int set);

/* "optimizer=adam\nlearning_rate=...\n..." lines for the recorded options. */
void table1_recipe_text(const table1_recipe *r, char *text, size_t size);

/* A short human description of what table1_recipe_apply() sets up for
 * `epochs` epochs: "Adam 0.001, warm-up 1 epoch(s) + cosine decay, per step". */
void table1_recipe_describe(const table1_recipe *r, int32_t epochs, char *text, size_t size);

/* The optimizer and schedule of `r` on `trainer` for `epochs` epochs (the
 * schedule is evaluated per step). The caller destroys *optimizer and *schedule
 * after the trainer. */
dcnn_status table1_recipe_apply(const table1_recipe *r, dcnn_context *ctx, int32_t epochs, dcnn_optimizer **optimizer,
                                dcnn_schedule **schedule);

#endif
