/* What the model harnesses do with whatever loads: one forward pass. */
#ifndef DCNN_FUZZ_FORWARD_H
#define DCNN_FUZZ_FORWARD_H

#include <digitcnn.h>

/* Predicts a batch of 2 uniform random inputs, unless the model is too big to
 * run quickly (more than 4096 input values or 2^20 trainable parameters). */
void fuzz_forward(dcnn_model *m);

#endif
