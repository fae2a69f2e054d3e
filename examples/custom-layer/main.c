/* digitcnn-custom-layer: a user-defined layer written against the public
 * vtable only (a learnable per-channel scale, y = s_c * x), checked by
 * finite differences, trained inside a model like any built-in layer,
 * saved to a model file that loads again once the type is registered, and
 * shared by inference sessions (it declares DCNN_LAYER_SHARED_INFERENCE). */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <digitcnn.h>

#include "../common/args.h"

#define CHECK(call)                                                                 \
  do {                                                                              \
    dcnn_status status_ = (call);                                                   \
    if (status_ != DCNN_OK) {                                                       \
      fprintf(stderr, "error: %s: %s\n", dcnn_status_str(status_), dcnn_last_error()); \
      return 1;                                                                     \
    }                                                                               \
  } while (0)

/* The layer's state: what build creates, forward/backward use, destroy frees. */
typedef struct channel_scale {
  int32_t channels, plane;
  dcnn_tensor *scale, *grad; /* (C) */
} channel_scale;

static dcnn_status scale_build(void *self, dcnn_context *ctx, const dcnn_shape *in, dcnn_shape *out) {
  channel_scale *l = self;
  if (in->ndim != 4) /* the message is ours; the model prefixes the layer's index and type */
    return dcnn_error_set(DCNN_ERR_SHAPE_MISMATCH, "input has %d dimensions, expected 4 (N, C, H, W)", (int)in->ndim);
  l->channels = in->dims[1];
  l->plane = in->dims[2] * in->dims[3];
  dcnn_shape s = dcnn_shape_make(1, l->channels, 0, 0, 0);
  dcnn_status status = dcnn_tensor_create(ctx, &s, &l->scale);
  if (status == DCNN_OK) status = dcnn_tensor_create(ctx, &s, &l->grad);
  *out = *in; /* same shape out */
  return status;
}

/* y[n, c, p] = s[c] * x[n, c, p] */
static dcnn_status scale_forward(void *self, dcnn_exec *exec, const dcnn_tensor *x, dcnn_tensor *y) {
  (void)exec;
  channel_scale *l = self;
  const int32_t n = dcnn_tensor_shape(x).dims[0];
  const float *in = dcnn_tensor_data_const(x), *s = dcnn_tensor_data(l->scale);
  float *out = dcnn_tensor_data(y);
  for (int32_t i = 0; i < n * l->channels; ++i)
    for (int32_t p = 0; p < l->plane; ++p) out[(int64_t)i * l->plane + p] = s[i % l->channels] * in[(int64_t)i * l->plane + p];
  return DCNN_OK;
}

/* ds[c] = sum dy * x (written, not accumulated); dx = s[c] * dy */
static dcnn_status scale_backward(void *self, dcnn_exec *exec, const dcnn_tensor *x, const dcnn_tensor *y,
                                  const dcnn_tensor *dy, dcnn_tensor *dx) {
  (void)exec;
  (void)y;
  channel_scale *l = self;
  const int32_t n = dcnn_tensor_shape(x).dims[0];
  const float *in = dcnn_tensor_data_const(x), *g = dcnn_tensor_data_const(dy), *s = dcnn_tensor_data(l->scale);
  float *ds = dcnn_tensor_data(l->grad);
  for (int32_t c = 0; c < l->channels; ++c) ds[c] = 0.0f;
  for (int32_t i = 0; i < n * l->channels; ++i)
    for (int32_t p = 0; p < l->plane; ++p) {
      const int64_t at = (int64_t)i * l->plane + p;
      ds[i % l->channels] += g[at] * in[at];
      if (dx) dcnn_tensor_data(dx)[at] = s[i % l->channels] * g[at];
    }
  return DCNN_OK;
}

static int32_t scale_param_count(const void *self) {
  (void)self;
  return 1;
}

static dcnn_status scale_param(void *self, int32_t index, dcnn_param *out) {
  (void)index;
  channel_scale *l = self;
  /* Fields one by one: the library set out->struct_size and zeroed the rest. */
  out->name = "scale";
  out->value = l->scale;
  out->grad = l->grad;
  out->flags = DCNN_PARAM_TRAINABLE | DCNN_PARAM_NO_DECAY;
  return DCNN_OK;
}

static dcnn_status scale_init(void *self, uint64_t seed) {
  (void)seed;
  return dcnn_tensor_fill(((channel_scale *)self)->scale, 1.0f);
}

static void scale_destroy(void *self) {
  channel_scale *l = self;
  dcnn_tensor_destroy(l->scale);
  dcnn_tensor_destroy(l->grad);
  free(l);
}

/* The layer has no configuration (its size comes from its input); a layer
 * with options writes them here as "key=value" pairs for the model file. */
static dcnn_status scale_describe(const void *self, char *buf, int32_t size) {
  (void)self;
  if (size > 0) buf[0] = '\0';
  return DCNN_OK;
}

/* forward only reads the scale and writes its output, so one layer may serve
 * many threads at once: the flag lets models with it have inference sessions
 * (without it, dcnn_session_create refuses the model). */
static const dcnn_layer_vtable channel_scale_vtable = {
    .abi_version = DCNN_LAYER_ABI_VERSION,
    .flags = DCNN_LAYER_SHARED_INFERENCE,
    .type_name = "example.channel_scale",
    .build = scale_build,
    .forward = scale_forward,
    .backward = scale_backward,
    .param_count = scale_param_count,
    .param = scale_param,
    .init_params = scale_init,
    .describe = scale_describe,
    .destroy = scale_destroy,
};

static dcnn_status channel_scale_create(dcnn_layer **out) {
  channel_scale *l = calloc(1, sizeof *l);
  if (!l) return dcnn_error_set(DCNN_ERR_OUT_OF_MEMORY, "example.channel_scale: out of memory");
  return dcnn_layer_create(&channel_scale_vtable, l, out); /* takes l, even on failure */
}

/* Rebuilds the layer from its model-file record; registered with dcnn_layer_register(). */
static dcnn_status channel_scale_factory(const char *config, void *user, dcnn_layer **out) {
  (void)config;
  (void)user;
  return channel_scale_create(out);
}

static void usage(FILE *out) {
  fprintf(out, "usage: %s\n  checks, trains, saves and reloads a model with a user-defined layer\n",
          example_program_name());
}

int main(int argc, char **argv) {
  static const example_option options[] = {{NULL, 0}}; /* --help and --version only */
  example_args args = example_args_start(argc, argv, options, usage);
  while (example_args_next(&args)) example_args_unknown(&args);
  /* 1. The gradient check every custom layer should pass. */
  dcnn_layer *layer = NULL;
  CHECK(channel_scale_create(&layer));
  dcnn_shape probe = dcnn_shape_make(4, 3, 4, 5, 5);
  double error = 0;
  CHECK(dcnn_layer_check_gradients(layer, NULL, &probe, 7, &error));
  printf("finite-difference check of %s: largest relative error %.2e (%s)\n", dcnn_layer_type(layer), error,
         error < 1e-2 ? "ok" : "FAILED");
  dcnn_layer_destroy(layer);
  if (!(error < 1e-2)) return 1;

  /* 2. The layer inside a model, trained on a toy task. */
  dcnn_shape input = dcnn_shape_make(3, 1, 8, 8, 0);
  dcnn_model *model = NULL;
  CHECK(dcnn_model_create(NULL, &input, &model));
  dcnn_layer *l = NULL;
  CHECK(dcnn_conv2d_create(4, 3, 1, DCNN_PADDING_SAME, DCNN_WITH_BIAS, &l));
  CHECK(dcnn_model_add(model, l));
  CHECK(channel_scale_create(&l));
  CHECK(dcnn_model_add(model, l));
  CHECK(dcnn_relu_create(&l));
  CHECK(dcnn_model_add(model, l));
  CHECK(dcnn_flatten_create(&l));
  CHECK(dcnn_model_add(model, l));
  CHECK(dcnn_dense_create(2, DCNN_WITH_BIAS, &l));
  CHECK(dcnn_model_add(model, l));
  CHECK(dcnn_softmax_create(&l));
  CHECK(dcnn_model_add(model, l));
  char *summary = NULL;
  CHECK(dcnn_model_summary(model, &summary));
  printf("%s", summary);
  dcnn_free(summary);

  /* Class 1: a bright left half; class 0: a bright right half. */
  dcnn_shape xs = dcnn_shape_make(4, 32, 1, 8, 8);
  dcnn_tensor *x = NULL;
  CHECK(dcnn_tensor_create(NULL, &xs, &x));
  int32_t labels[32];
  for (int i = 0; i < 32; ++i) {
    labels[i] = i % 2;
    for (int p = 0; p < 64; ++p)
      dcnn_tensor_data(x)[i * 64 + p] = 0.2f * dcnn_random_uniform(3, 0, (uint64_t)(i * 64 + p)) +
                                        (((p % 8) < 4) == (labels[i] == 1) ? 0.8f : 0.0f);
  }
  dcnn_optimizer *sgd = NULL;
  CHECK(dcnn_optimizer_create_sgd(NULL, 0.1f, 0.9f, DCNN_MOMENTUM_CLASSIC, 0.0f, &sgd));
  float loss = 0;
  int32_t correct = 0;
  for (int step = 0; step < 30; ++step) CHECK(dcnn_model_train_step(model, sgd, x, labels, &loss, &correct));
  printf("after 30 SGD steps: loss %.4f, %d/32 correct\n", loss, (int)correct);

  /* 3. Saved, then loaded in "another program": the type must be registered first.
   * In a directory of its own: never over a file of the user's current one. */
  char dir[4096], file[4200];
  const char *tmp = getenv("TMPDIR");
  snprintf(dir, sizeof dir, "%s/dcnn-custom-layer-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(dir)) { /* a TMPDIR that is missing or read-only: /tmp, as if it were unset */
    snprintf(dir, sizeof dir, "/tmp/dcnn-custom-layer-XXXXXX");
    if (!mkdtemp(dir)) {
      perror("digitcnn-custom-layer: mkdtemp");
      return 1;
    }
  }
  snprintf(file, sizeof file, "%s/custom-layer-model.dcnn", dir);
  const dcnn_status saved = dcnn_model_save(model, file);
  if (saved != DCNN_OK) rmdir(dir);
  CHECK(saved);
  dcnn_model *loaded = NULL;
  if (dcnn_model_load(NULL, file, &loaded) != DCNN_OK) printf("before registering: %s\n", dcnn_last_error());
  CHECK(dcnn_layer_register("example.channel_scale", channel_scale_factory, NULL));
  CHECK(dcnn_model_load(NULL, file, &loaded));
  dcnn_shape ys = dcnn_shape_make(2, 32, 2, 0, 0);
  dcnn_tensor *a = NULL, *b = NULL;
  CHECK(dcnn_tensor_create(NULL, &ys, &a));
  CHECK(dcnn_tensor_create(NULL, &ys, &b));
  CHECK(dcnn_model_predict(model, x, a));
  dcnn_session *session = NULL; /* what each thread of a server would create */
  CHECK(dcnn_session_create(loaded, 32, 1, &session));
  CHECK(dcnn_session_predict(session, x, b));
  dcnn_session_destroy(session);
  int same = 1;
  for (int i = 0; i < 64; ++i) same &= dcnn_tensor_data(a)[i] == dcnn_tensor_data(b)[i];
  printf("after registering: %s loaded, session predictions %s\n", file, same ? "bit-identical" : "DIFFER");
  remove(file);
  rmdir(dir);
  dcnn_tensor_destroy(a);
  dcnn_tensor_destroy(b);
  dcnn_model_destroy(loaded);
  dcnn_layer_unregister("example.channel_scale");
  dcnn_optimizer_destroy(sgd);
  dcnn_tensor_destroy(x);
  dcnn_model_destroy(model);
  return correct >= 30 && same ? 0 : 1;
}
