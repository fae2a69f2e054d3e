/* The trainer's seed as a uint64_t end to end: the double option setter
 * could not carry seeds above 2^53 (and capped them at 1e15). */
#include "train_internal.h"

dcnn_status dcnn_trainer_set_seed(dcnn_trainer *t, uint64_t seed) {
  DCNN_CHECK_ARG(t);
  t->seed = seed;
  return DCNN_OK;
}

uint64_t dcnn_trainer_seed(const dcnn_trainer *t) { return t ? t->seed : 0; }
