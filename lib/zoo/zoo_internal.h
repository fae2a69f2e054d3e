/* Helpers shared by the model builders. */
#ifndef DCNN_ZOO_INTERNAL_H
#define DCNN_ZOO_INTERNAL_H

#include "../core/internal.h"
#include "digitcnn/builtin_layers.h"
#include "digitcnn/zoo.h"

/* Adds the layer a constructor just made to `m`, or passes the constructor's
 * failure on. The layer is read through a pointer because the order in which
 * function arguments are evaluated is unspecified. */
static inline dcnn_status dcnn__zoo_add(dcnn_model *m, dcnn_status made, dcnn_layer **layer) {
  if (made != DCNN_OK) return made;
  return dcnn_model_add(m, *layer);
}

/* The caller's options over the defaults (NULL: the defaults); refuses an unset struct_size. */
dcnn_status dcnn__zoo_options(const char *who, const dcnn_zoo_options *given, dcnn_zoo_options *out);

/* Creates the model for o's (height, width, channels) inputs, runs `build`, initialises from o's seed. */
dcnn_status dcnn__zoo_make(dcnn_context *ctx, const dcnn_zoo_options *o,
                           dcnn_status (*build)(dcnn_model *m, const void *config), const void *config,
                           dcnn_model **out);

/* The paper CNN's pooling stages for extra_stages (0..2): each halves the
 * image, so height and width must be multiples of 2^stages. */
static inline int32_t dcnn__paper_cnn_stages(int32_t extra_stages) { return 2 + extra_stages; }

#endif
