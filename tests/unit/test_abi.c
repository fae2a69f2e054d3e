/* The ABI conventions of docs/api-conventions.md: structs that grow carry a
 * struct_size the library checks and respects, and code the library calls
 * back reports errors with dcnn_error_set (or gets a generic message, never
 * the stale text of an earlier error). */
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_support.h"

/* A caller's struct followed by bytes it does not own: the library must not
 * write them when struct_size says the struct ends before them. */
#define TAIL 32
typedef union guarded {
  unsigned char bytes[512];
  size_t struct_size;
} guarded;

static void guard(guarded *g, size_t struct_size) {
  memset(g->bytes, 0xA5, sizeof g->bytes);
  g->struct_size = struct_size;
}

static int tail_untouched(const guarded *g, size_t from) {
  for (size_t i = from; i < from + TAIL; ++i)
    if (g->bytes[i] != 0xA5) return 0;
  return 1;
}

static void struct_init_sets_the_size_and_zeroes_the_rest(void **state) {
  (void)state;
  const dcnn_attack a = DCNN_STRUCT_INIT(dcnn_attack);
  assert_int_equal(a.struct_size, sizeof(dcnn_attack));
  assert_int_equal(a.iterations, 0);
  assert_int_equal(a.seed, 0);
  const dcnn_epoch_stats s = DCNN_STRUCT_INIT(dcnn_epoch_stats);
  assert_int_equal(s.struct_size, sizeof(dcnn_epoch_stats));
}

static void attack_settings_follow_struct_size(void **state) {
  (void)state;
  assert_status(dcnn_attack_fgsm(0.1f, NULL), DCNN_ERR_INVALID_ARGUMENT);
  guarded g;
  /* Too small (zero, or a layout without the seed): refused, nothing written. */
  guard(&g, 0);
  assert_status(dcnn_attack_pgd(0.1f, (dcnn_attack *)g.bytes), DCNN_ERR_INVALID_ARGUMENT);
  assert_non_null(strstr(dcnn_last_error(), "struct_size"));
  assert_true(tail_untouched(&g, sizeof(size_t)));
  guard(&g, offsetof(dcnn_attack, seed));
  assert_status(dcnn_attack_pgd(0.1f, (dcnn_attack *)g.bytes), DCNN_ERR_INVALID_ARGUMENT);
  assert_true(tail_untouched(&g, sizeof(size_t)));
  /* Exactly this layout: filled, and not one byte past it. */
  guard(&g, sizeof(dcnn_attack));
  assert_ok(dcnn_attack_pgd(0.1f, (dcnn_attack *)g.bytes));
  const dcnn_attack *a = (const dcnn_attack *)g.bytes;
  assert_int_equal(a->struct_size, sizeof(dcnn_attack));
  assert_int_equal(a->kind, DCNN_ATTACK_PGD);
  assert_int_equal(a->iterations, 10);
  assert_int_equal(a->seed, 1);
  assert_true(tail_untouched(&g, sizeof(dcnn_attack)));
  /* A newer caller's larger struct: the library fills what it knows, keeps struct_size. */
  guard(&g, sizeof(dcnn_attack) + 16);
  assert_ok(dcnn_attack_fgsm(0.2f, (dcnn_attack *)g.bytes));
  assert_int_equal(a->struct_size, sizeof(dcnn_attack) + 16);
  assert_int_equal(a->kind, DCNN_ATTACK_FGSM);
  assert_true(tail_untouched(&g, sizeof(dcnn_attack)));
}

static void attack_input_checks_struct_size(void **state) {
  (void)state;
  dcnn_shape in = dcnn_shape_make(1, 4, 0, 0, 0);
  dcnn_model *m = NULL;
  assert_ok(dcnn_model_create(NULL, &in, &m));
  dcnn_layer *l = NULL;
  assert_ok(dcnn_dense_create(2, 1, &l));
  assert_ok(dcnn_model_add(m, l));
  assert_ok(dcnn_softmax_create(&l));
  assert_ok(dcnn_model_add(m, l));
  dcnn_shape xs = dcnn_shape_make(2, 2, 4, 0, 0);
  dcnn_tensor *x = NULL;
  assert_ok(dcnn_tensor_create(NULL, &xs, &x));
  assert_ok(dcnn_tensor_fill(x, 0.5f));
  const int32_t label[2] = {1, 0};
  union {
    dcnn_attack attack;
    unsigned char bytes[sizeof(dcnn_attack) + 16];
  } big;
  memset(&big, 0, sizeof big);
  big.attack.struct_size = sizeof(dcnn_attack);
  assert_ok(dcnn_attack_fgsm(0.1f, &big.attack));
  assert_ok(dcnn_attack_run(m, &big.attack, x, label, x));
  /* Larger than this library knows: zero extra bytes are fine, set ones refused. */
  big.attack.struct_size = sizeof big;
  assert_ok(dcnn_attack_run(m, &big.attack, x, label, x));
  big.bytes[sizeof(dcnn_attack) + 3] = 1;
  assert_status(dcnn_attack_run(m, &big.attack, x, label, x), DCNN_ERR_UNSUPPORTED);
  big.attack.struct_size = 4;
  assert_status(dcnn_attack_run(m, &big.attack, x, label, x), DCNN_ERR_INVALID_ARGUMENT);
  dcnn_tensor_destroy(x);
  dcnn_model_destroy(m);
}

static void allocator_and_params_check_struct_size(void **state) {
  (void)state;
  dcnn_context *ctx = NULL;
  assert_ok(dcnn_context_create(&ctx));
  failing_allocator fa = {-1, 0};
  dcnn_allocator hooks = failing_allocator_hooks(&fa);
  hooks.struct_size = sizeof(size_t) + sizeof(void *); /* a layout without `user` */
  assert_status(dcnn_context_set_allocator(ctx, &hooks), DCNN_ERR_INVALID_ARGUMENT);
  hooks.struct_size = sizeof hooks;
  assert_ok(dcnn_context_set_allocator(ctx, &hooks));
  dcnn_context_destroy(ctx);

  dcnn_layer *l = NULL;
  assert_ok(dcnn_dense_create(3, 1, &l));
  dcnn_shape in = dcnn_shape_make(2, 1, 5, 0, 0); /* a batch of one 5-vector */
  assert_ok(dcnn_layer_build(l, NULL, &in));
  guarded g;
  guard(&g, 0);
  assert_status(dcnn_layer_param(l, 0, (dcnn_param *)g.bytes), DCNN_ERR_INVALID_ARGUMENT);
  assert_true(tail_untouched(&g, sizeof(size_t)));
  guard(&g, sizeof(dcnn_param));
  assert_ok(dcnn_layer_param(l, 1, (dcnn_param *)g.bytes));
  const dcnn_param *p = (const dcnn_param *)g.bytes;
  assert_string_equal(p->name, "bias");
  assert_int_equal(p->struct_size, sizeof(dcnn_param));
  assert_true(tail_untouched(&g, sizeof(dcnn_param)));
  dcnn_layer_destroy(l);
}

/* Six 2x2 images, class = brighter top row. */
static dcnn_dataset *tiny_dataset(void) {
  uint8_t px[6 * 4];
  int32_t labels[6];
  for (int32_t i = 0; i < 6; ++i) {
    labels[i] = i % 2;
    for (int p = 0; p < 4; ++p) px[i * 4 + p] = (uint8_t)((p < 2) == labels[i] ? 220 : 30);
  }
  dcnn_dataset *ds = NULL;
  assert_ok(dcnn_dataset_create(NULL, 6, 2, 2, 1, px, labels, 2, &ds));
  return ds;
}

static size_t seen_struct_size;
static int record_size(const dcnn_epoch_stats *s, void *user) {
  (void)user;
  seen_struct_size = s->struct_size;
  return 0;
}

static void epoch_stats_follow_struct_size(void **state) {
  (void)state;
  dcnn_dataset *ds = tiny_dataset();
  dcnn_pipeline *p = NULL;
  assert_ok(dcnn_pipeline_create(NULL, &p));
  dcnn_shape in = dcnn_shape_make(3, 1, 2, 2, 0);
  dcnn_model *m = NULL;
  assert_ok(dcnn_model_create(NULL, &in, &m));
  dcnn_layer *l = NULL;
  assert_ok(dcnn_flatten_create(&l));
  assert_ok(dcnn_model_add(m, l));
  assert_ok(dcnn_dense_create(2, 1, &l));
  assert_ok(dcnn_model_add(m, l));
  assert_ok(dcnn_softmax_create(&l));
  assert_ok(dcnn_model_add(m, l));
  dcnn_optimizer *sgd = NULL;
  assert_ok(dcnn_optimizer_create_sgd(NULL, 0.05f, 0.0f, DCNN_MOMENTUM_CLASSIC, 0, &sgd));
  dcnn_trainer *t = NULL;
  assert_ok(dcnn_trainer_create(NULL, m, sgd, &t));
  assert_ok(dcnn_trainer_set(t, DCNN_TRAIN_EPOCHS, 1));
  assert_ok(dcnn_trainer_set_callback(t, record_size, NULL));
  seen_struct_size = 0;
  assert_ok(dcnn_trainer_fit(t, ds, NULL, p));
  /* The callback's struct is the library's own, whole. */
  assert_int_equal(seen_struct_size, sizeof(dcnn_epoch_stats));
  guarded g;
  guard(&g, offsetof(dcnn_epoch_stats, val_accuracy));
  assert_status(dcnn_trainer_history(t, 0, (dcnn_epoch_stats *)g.bytes), DCNN_ERR_INVALID_ARGUMENT);
  assert_true(tail_untouched(&g, sizeof(size_t)));
  guard(&g, sizeof(dcnn_epoch_stats));
  assert_ok(dcnn_trainer_history(t, 0, (dcnn_epoch_stats *)g.bytes));
  const dcnn_epoch_stats *s = (const dcnn_epoch_stats *)g.bytes;
  assert_int_equal(s->epoch, 1);
  assert_int_equal(s->struct_size, sizeof(dcnn_epoch_stats));
  assert_true(tail_untouched(&g, sizeof(dcnn_epoch_stats)));
  dcnn_trainer_destroy(t);
  dcnn_optimizer_destroy(sgd);
  dcnn_model_destroy(m);
  dcnn_pipeline_destroy(p);
  dcnn_dataset_destroy(ds);
}

static void error_set_formats_and_returns_status(void **state) {
  (void)state;
  assert_int_equal(dcnn_error_set(DCNN_ERR_IO, "file %s, line %d", "a.txt", 7), DCNN_ERR_IO);
  assert_string_equal(dcnn_last_error(), "file a.txt, line 7");
  /* The message itself as an argument (the buffer is also the destination). */
  assert_int_equal(dcnn_error_set(DCNN_ERR_BAD_FORMAT, "while loading: %s", dcnn_last_error()), DCNN_ERR_BAD_FORMAT);
  assert_string_equal(dcnn_last_error(), "while loading: file a.txt, line 7");
  assert_int_equal(dcnn_error_set(DCNN_ERR_NOT_FOUND, NULL), DCNN_ERR_NOT_FOUND);
  assert_string_equal(dcnn_last_error(), dcnn_status_str(DCNN_ERR_NOT_FOUND));
  /* Long messages are truncated, not overflowed. */
  char big[3000];
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  dcnn_error_set(DCNN_ERR_IO, "%s", big);
  assert_int_equal(strlen(dcnn_last_error()), 1023);
}

/* A user layer y = x whose forward fails: with its own message when `self`
 * says so, else silently (only a status). */
typedef struct failing {
  int with_message;
  int fail_build;
} failing;

static dcnn_status failing_build(void *self, dcnn_context *ctx, const dcnn_shape *in, dcnn_shape *out) {
  (void)ctx;
  if (((failing *)self)->fail_build) return DCNN_ERR_UNSUPPORTED;
  *out = *in;
  return DCNN_OK;
}

static dcnn_status failing_forward(void *self, dcnn_exec *exec, const dcnn_tensor *x, dcnn_tensor *y) {
  (void)exec;
  (void)x;
  (void)y;
  if (((failing *)self)->with_message)
    return dcnn_error_set(DCNN_ERR_NUMERIC, "test.failing: value %d is out of range", 42);
  return DCNN_ERR_NUMERIC;
}

static void failing_destroy(void *self) { free(self); }

static const dcnn_layer_vtable failing_vtable = {.abi_version = DCNN_LAYER_ABI_VERSION,
                                                 .type_name = "test.failing",
                                                 .build = failing_build,
                                                 .forward = failing_forward,
                                                 .destroy = failing_destroy};

static dcnn_model *model_with_failing_layer(int with_message) {
  dcnn_shape in = dcnn_shape_make(1, 3, 0, 0, 0);
  dcnn_model *m = NULL;
  assert_ok(dcnn_model_create(NULL, &in, &m));
  failing *self = calloc(1, sizeof *self);
  assert_non_null(self);
  self->with_message = with_message;
  dcnn_layer *l = NULL;
  assert_ok(dcnn_layer_create(&failing_vtable, self, &l));
  assert_ok(dcnn_model_add(m, l));
  return m;
}

static void layer_errors_carry_their_own_message(void **state) {
  (void)state;
  dcnn_shape xs = dcnn_shape_make(2, 2, 3, 0, 0);
  dcnn_tensor *x = NULL, *y = NULL;
  assert_ok(dcnn_tensor_create(NULL, &xs, &x));
  assert_ok(dcnn_tensor_create(NULL, &xs, &y));
  for (int with_message = 0; with_message < 2; ++with_message) {
    dcnn_model *m = model_with_failing_layer(with_message);
    dcnn_error_set(DCNN_ERR_IO, "stale text of an earlier error");
    assert_status(dcnn_model_predict(m, x, y), DCNN_ERR_NUMERIC);
    const char *message = dcnn_last_error();
    assert_null(strstr(message, "stale"));
    assert_non_null(strstr(message, "layer 0 (test.failing) forward"));
    if (with_message)
      assert_non_null(strstr(message, "test.failing: value 42 is out of range"));
    else
      assert_non_null(strstr(message, "failed with 'numerical error' without setting a message"));
    dcnn_model_destroy(m);
  }
  /* The same for build, which a model runs when the layer is added. */
  failing *self = calloc(1, sizeof *self);
  assert_non_null(self);
  self->fail_build = 1;
  dcnn_layer *l = NULL;
  assert_ok(dcnn_layer_create(&failing_vtable, self, &l));
  dcnn_error_set(DCNN_ERR_IO, "stale text of an earlier error");
  assert_status(dcnn_layer_build(l, NULL, &xs), DCNN_ERR_UNSUPPORTED);
  assert_null(strstr(dcnn_last_error(), "stale"));
  assert_non_null(strstr(dcnn_last_error(), "test.failing build: failed with 'unsupported'"));
  dcnn_layer_destroy(l);
  dcnn_tensor_destroy(x);
  dcnn_tensor_destroy(y);
}

#define BUILD_TRY(call)            \
  do {                                   \
    const dcnn_status try_ = (call);     \
    if (try_ != DCNN_OK) return try_;    \
  } while (0)

/* A user layer y = w * x with one trainable scalar w, any of whose slots fails
 * on request, silently or with its own message. */
typedef struct flaky {
  int fail_forward, fail_backward, fail_init, fail_param, with_message;
  int nan_forward, nan_backward; /* succeed, writing NaN (the forward at output element nan_index) */
  int32_t nan_index;
  /* misbehave: reshape the output to (N * features, 1); no value tensor; a gradient of another shape;
   * a parameter count of -1 */
  int reshape_output, null_value, null_name, wrong_grad, negative_count;
  dcnn_tensor *w, *grad, *wide_grad; /* (1), (1), (2) */
} flaky;

static dcnn_status flaky_fail(const flaky *f, const char *slot) {
  if (f->with_message) return dcnn_error_set(DCNN_ERR_NUMERIC, "test.flaky: %s refuses", slot);
  return DCNN_ERR_NUMERIC;
}

static dcnn_status flaky_build(void *self, dcnn_context *ctx, const dcnn_shape *in, dcnn_shape *out) {
  flaky *f = self;
  dcnn_shape one = dcnn_shape_make(1, 1, 0, 0, 0);
  BUILD_TRY(dcnn_tensor_create(ctx, &one, &f->w));
  BUILD_TRY(dcnn_tensor_create(ctx, &one, &f->grad));
  const dcnn_shape two = dcnn_shape_make(1, 2, 0, 0, 0);
  BUILD_TRY(dcnn_tensor_create(ctx, &two, &f->wide_grad));
  dcnn_tensor_data(f->w)[0] = 1.5f;
  *out = *in;
  return DCNN_OK;
}

static dcnn_status flaky_forward(void *self, dcnn_exec *exec, const dcnn_tensor *x, dcnn_tensor *y) {
  (void)exec;
  const flaky *f = self;
  if (f->fail_forward) return flaky_fail(f, "forward");
  const float w = dcnn_tensor_data_const(f->w)[0];
  for (int64_t i = 0; i < dcnn_tensor_count(x); ++i) dcnn_tensor_data(y)[i] = w * dcnn_tensor_data_const(x)[i];
  if (f->nan_forward) dcnn_tensor_data(y)[f->nan_index] = NAN;
  if (f->reshape_output) {
    const dcnn_shape column = dcnn_shape_make(2, (int32_t)dcnn_tensor_count(y), 1, 0, 0);
    return dcnn_tensor_reshape(y, &column); /* a layer's output keeps the shape the model gave it */
  }
  return DCNN_OK;
}

static dcnn_status flaky_backward(void *self, dcnn_exec *exec, const dcnn_tensor *x, const dcnn_tensor *y,
                                  const dcnn_tensor *dy, dcnn_tensor *dx) {
  (void)exec;
  (void)y;
  flaky *f = self;
  if (f->fail_backward) return flaky_fail(f, "backward");
  const float w = dcnn_tensor_data_const(f->w)[0];
  double g = 0;
  for (int64_t i = 0; i < dcnn_tensor_count(x); ++i) {
    g += (double)dcnn_tensor_data_const(dy)[i] * dcnn_tensor_data_const(x)[i];
    if (dx) dcnn_tensor_data(dx)[i] = w * dcnn_tensor_data_const(dy)[i];
  }
  dcnn_tensor_data(f->grad)[0] = f->nan_backward ? NAN : (float)g;
  if (f->nan_backward && dx) dcnn_tensor_data(dx)[0] = NAN;
  return DCNN_OK;
}

static int32_t flaky_param_count(const void *self) { return ((const flaky *)self)->negative_count ? -1 : 1; }

static dcnn_status flaky_param(void *self, int32_t index, dcnn_param *out) {
  (void)index;
  flaky *f = self;
  if (f->fail_param) return flaky_fail(f, "param");
  out->name = f->null_name ? NULL : "w";
  out->value = f->null_value ? NULL : f->w;
  out->grad = f->wrong_grad ? f->wide_grad : f->grad;
  out->flags = DCNN_PARAM_TRAINABLE;
  return DCNN_OK;
}

static dcnn_status flaky_init(void *self, uint64_t seed) {
  (void)seed;
  flaky *f = self;
  if (f->fail_init) return flaky_fail(f, "init_params");
  dcnn_tensor_data(f->w)[0] = 1.5f;
  return DCNN_OK;
}

static void flaky_destroy(void *self) {
  flaky *f = self;
  dcnn_tensor_destroy(f->w);
  dcnn_tensor_destroy(f->grad);
  dcnn_tensor_destroy(f->wide_grad);
  free(f);
}

static const dcnn_layer_vtable flaky_vtable = {.abi_version = DCNN_LAYER_ABI_VERSION,
                                               .type_name = "test.flaky",
                                               .build = flaky_build,
                                               .forward = flaky_forward,
                                               .backward = flaky_backward,
                                               .param_count = flaky_param_count,
                                               .param = flaky_param,
                                               .init_params = flaky_init,
                                               .destroy = flaky_destroy};

static dcnn_layer *flaky_layer(flaky **self) {
  *self = calloc(1, sizeof **self);
  assert_non_null(*self);
  dcnn_layer *l = NULL;
  assert_ok(dcnn_layer_create(&flaky_vtable, *self, &l));
  return l;
}

/* dcnn_layer_check_gradients calls the forward, backward and init_params slots
 * itself: their failures are named like a model's, never an earlier error. */
static void gradient_checks_name_the_failing_slot(void **state) {
  (void)state;
  const dcnn_shape input = dcnn_shape_make(2, 3, 4, 0, 0);
  const char *slots[3] = {"forward", "backward", "init_params"};
  double error = 0;
  flaky *f = NULL;
  dcnn_layer *l = flaky_layer(&f);
  assert_ok(dcnn_layer_check_gradients(l, NULL, &input, 1, &error));
  assert_true(error < 1e-3);
  for (int with_message = 0; with_message < 2; ++with_message) {
    for (int slot = 0; slot < 3; ++slot) {
      f->with_message = with_message;
      f->fail_forward = slot == 0;
      f->fail_backward = slot == 1;
      f->fail_init = slot == 2;
      dcnn_error_set(DCNN_ERR_IO, "stale text of an earlier error");
      assert_status(dcnn_layer_check_gradients(l, NULL, &input, 1, &error), DCNN_ERR_NUMERIC);
      char expected[128];
      if (with_message)
        snprintf(expected, sizeof expected, "test.flaky %s: test.flaky: %s refuses", slots[slot], slots[slot]);
      else
        snprintf(expected, sizeof expected, "test.flaky %s: failed with 'numerical error' without setting a message",
                 slots[slot]);
      assert_string_equal(dcnn_last_error(), expected);
    }
  }
  /* A layer whose slots succeed with NaN values fails its check: NaN errors
   * are not smaller than every finite one. */
  f->with_message = f->fail_forward = f->fail_backward = f->fail_init = 0;
  for (int which = 0; which < 2; ++which) {
    f->nan_forward = which == 0;
    f->nan_backward = which == 1;
    error = 0;
    assert_ok(dcnn_layer_check_gradients(l, NULL, &input, 1, &error));
    if (!(error > 1e3)) fail_msg("NaN %s: max error %g", which ? "gradients" : "outputs", error);
  }
  f->nan_forward = f->nan_backward = 0;
  /* A built layer is still checked against a shape that cannot be a batch. */
  const dcnn_shape empty = dcnn_shape_make(2, 0, 4, 0, 0);
  assert_status(dcnn_layer_check_gradients(l, NULL, &empty, 1, &error), DCNN_ERR_INVALID_ARGUMENT);
  assert_error_mentions("test.flaky: gradient check of invalid input shape (0, 4)");
  { /* a model's layer keeps its weights: the check would draw new ones under the model */
    const dcnn_shape sample = dcnn_shape_make(1, 4, 0, 0, 0), probe = dcnn_shape_make(2, 3, 4, 0, 0);
    dcnn_model *m = NULL;
    dcnn_layer *dense = NULL;
    assert_ok(dcnn_model_create(NULL, &sample, &m));
    assert_ok(dcnn_dense_create(2, DCNN_WITH_BIAS, &dense));
    assert_ok(dcnn_model_add(m, dense));
    assert_status(dcnn_layer_check_gradients(dense, NULL, &probe, 1, &error), DCNN_ERR_INVALID_STATE);
    assert_error_mentions("dense: the layer belongs to a model or a residual block");
    dcnn_model_destroy(m);
  }
  dcnn_layer_destroy(l);
}

/* Success paths that meet a parameter the layer cannot describe: a count keeps
 * the caller's message, a summary fails naming the layer. */
static void parameter_failures_do_not_leak_into_successful_calls(void **state) {
  (void)state;
  dcnn_shape in = dcnn_shape_make(1, 4, 0, 0, 0);
  dcnn_model *m = NULL;
  assert_ok(dcnn_model_create(NULL, &in, &m));
  flaky *f = NULL;
  assert_ok(dcnn_model_add(m, flaky_layer(&f)));
  assert_int_equal(dcnn_model_param_count(m, DCNN_PARAM_TRAINABLE), 1);
  f->fail_param = 1;
  dcnn_error_set(DCNN_ERR_IO, "the caller's earlier error");
  assert_int_equal(dcnn_model_param_count(m, DCNN_PARAM_TRAINABLE), 0);
  assert_string_equal(dcnn_last_error(), "the caller's earlier error");
  char *text = NULL;
  assert_status(dcnn_model_summary(m, &text), DCNN_ERR_NUMERIC);
  assert_null(text);
  assert_string_equal(dcnn_last_error(),
                      "dcnn_model_summary: layer 0: test.flaky param 0: failed with 'numerical error' without "
                      "setting a message");
  f->fail_param = 0;
  assert_ok(dcnn_model_summary(m, &text));
  assert_non_null(strstr(text, "Trainable params: 1\n"));
  dcnn_free(text);
  dcnn_model_destroy(m);
}

/* Tanh by name, ten times its input by what it computes: saved, it would load back as tanh. */
static dcnn_status impostor_build(void *self, dcnn_context *ctx, const dcnn_shape *in, dcnn_shape *out) {
  (void)self;
  (void)ctx;
  *out = *in;
  return DCNN_OK;
}

static dcnn_status impostor_forward(void *self, dcnn_exec *exec, const dcnn_tensor *x, dcnn_tensor *y) {
  (void)self;
  (void)exec;
  for (int64_t i = 0; i < dcnn_tensor_count(x); ++i) dcnn_tensor_data(y)[i] = 10 * dcnn_tensor_data_const(x)[i];
  return DCNN_OK;
}

static void impostor_destroy(void *self) { free(self); }

/* What a user layer returns from its slots is checked before the library relies on it: a reshaped
 * output (the next layer would read past it), a missing value tensor or name, or a gradient of another shape
 * (the optimizer would), a negative parameter count (counts would wrap), a built-in type's name
 * (a saved model would load back computing something else). */
static void misbehaving_layers_are_refused(void **state) {
  (void)state;
  dcnn_shape in = dcnn_shape_make(1, 8, 0, 0, 0);
  dcnn_shape xs = dcnn_shape_make(2, 4, 8, 0, 0), ys = dcnn_shape_make(2, 4, 3, 0, 0);
  dcnn_tensor *x = NULL, *y = NULL;
  assert_ok(dcnn_tensor_create(NULL, &xs, &x));
  assert_ok(dcnn_tensor_create(NULL, &ys, &y));
  assert_ok(dcnn_tensor_fill(x, 0.5f));
  dcnn_model *m = NULL;
  assert_ok(dcnn_model_create(NULL, &in, &m));
  flaky *f = NULL;
  assert_ok(dcnn_model_add(m, flaky_layer(&f)));
  dcnn_layer *dense = NULL;
  assert_ok(dcnn_dense_create(3, DCNN_WITH_BIAS, &dense));
  assert_ok(dcnn_model_add(m, dense));
  assert_ok(dcnn_model_init(m, 1));
  assert_ok(dcnn_model_predict(m, x, y));
  f->reshape_output = 1;
  assert_status(dcnn_model_predict(m, x, y), DCNN_ERR_INVALID_STATE);
  assert_error_mentions("layer 0 (test.flaky) forward: dcnn_tensor_reshape: the (4, 8) tensor is a layer's output");
  f->reshape_output = 0;
  assert_ok(dcnn_model_predict(m, x, y)); /* the refusal left the shapes as they were */

  dcnn_param p = DCNN_STRUCT_INIT(dcnn_param);
  dcnn_layer *first = dcnn_model_layer(m, 0);
  f->null_value = 1;
  assert_status(dcnn_layer_param(first, 0, &p), DCNN_ERR_INVALID_STATE);
  assert_error_mentions("test.flaky param 0: the layer gave no value tensor");
  char *text = NULL;
  assert_status(dcnn_model_summary(m, &text), DCNN_ERR_INVALID_STATE);
  assert_null(text);
  f->null_value = 0;
  f->null_name = 1; /* model files and messages print it: "body.0.(null)", or a crash outside glibc */
  assert_status(dcnn_layer_param(first, 0, &p), DCNN_ERR_INVALID_STATE);
  assert_error_mentions("test.flaky param 0: the layer gave no name");
  f->null_name = 0;
  f->wrong_grad = 1;
  assert_status(dcnn_layer_param(first, 0, &p), DCNN_ERR_INVALID_STATE);
  assert_error_mentions("test.flaky param 0: gradient shape (2) differs from the value's (1)");
  f->wrong_grad = 0;
  assert_ok(dcnn_layer_param(first, 0, &p));
  dcnn_model_destroy(m);

  /* A negative count is refused when the layer is built, before any count sums it. */
  assert_ok(dcnn_model_create(NULL, &in, &m));
  dcnn_layer *l = flaky_layer(&f);
  f->negative_count = 1;
  assert_status(dcnn_model_add(m, l), DCNN_ERR_INVALID_STATE);
  assert_error_mentions("test.flaky: param_count returned -1 after build");
  assert_int_equal(dcnn_model_layer_count(m), 0);
  dcnn_model_destroy(m);

  static const dcnn_layer_vtable impostor = {.abi_version = DCNN_LAYER_ABI_VERSION, .type_name = "tanh",
                                             .build = impostor_build, .forward = impostor_forward,
                                             .destroy = impostor_destroy};
  void *self = malloc(1);
  assert_non_null(self);
  l = NULL;
  assert_status(dcnn_layer_create(&impostor, self, &l), DCNN_ERR_INVALID_ARGUMENT); /* frees self */
  assert_null(l);
  assert_error_mentions("'tanh' is the name of a built-in layer type");
  dcnn_tensor_destroy(x);
  dcnn_tensor_destroy(y);
}

/* A NaN made inside the network reaches the output check through max pooling wherever it sits in the
 * window (it vanished unless it was the window's first pixel): the 2 x 2 kernel, with its arg-max (a
 * model's planned pass) and without (the shared-inference path, when every layer allows it), and the
 * general one. */
static void max_pooling_passes_nan_on(void **state) {
  (void)state;
  const dcnn_shape in = dcnn_shape_make(3, 1, 4, 4, 0), xs = dcnn_shape_make(4, 1, 1, 4, 4);
  const int32_t pools[3] = {2, 2, 3}, strides[3] = {2, 2, 1}, nan_at[3] = {4 + 1, 4 + 1, 2 * 4 + 2};
  dcnn_layer_vtable shared = flaky_vtable;
  shared.flags = DCNN_LAYER_SHARED_INFERENCE;
  for (int kind = 0; kind < 3; ++kind) {
    dcnn_model *m = NULL;
    assert_ok(dcnn_model_create(NULL, &in, &m));
    flaky *f = calloc(1, sizeof *f);
    assert_non_null(f);
    dcnn_layer *l = NULL;
    assert_ok(dcnn_layer_create(kind == 1 ? &shared : &flaky_vtable, f, &l));
    assert_ok(dcnn_model_add(m, l));
    dcnn_layer *pool = NULL;
    assert_ok(dcnn_maxpool2d_create(pools[kind], strides[kind], DCNN_PADDING_VALID, &pool));
    assert_ok(dcnn_model_add(m, pool));
    const dcnn_shape ys = dcnn_shape_make(4, 1, 1, 2, 2);
    dcnn_tensor *x = NULL, *y = NULL;
    assert_ok(dcnn_tensor_create(NULL, &xs, &x));
    assert_ok(dcnn_tensor_create(NULL, &ys, &y));
    for (int32_t i = 0; i < 16; ++i) dcnn_tensor_data(x)[i] = (float)i / 16;
    assert_ok(dcnn_model_predict(m, x, y));
    f->nan_forward = 1;
    f->nan_index = nan_at[kind];
    assert_status(dcnn_model_predict(m, x, y), DCNN_ERR_NUMERIC);
    dcnn_tensor_destroy(x);
    dcnn_tensor_destroy(y);
    dcnn_model_destroy(m);
  }
}

static dcnn_status silent_factory(const char *config, void *user, dcnn_layer **out) {
  (void)config;
  (void)user;
  *out = NULL;
  return DCNN_ERR_INVALID_ARGUMENT;
}

static void factory_errors_name_the_factory(void **state) {
  (void)state;
  assert_ok(dcnn_layer_register("test.silent", silent_factory, NULL));
  dcnn_layer *l = NULL;
  dcnn_error_set(DCNN_ERR_IO, "stale text of an earlier error");
  assert_status(dcnn_layer_from_config("test.silent", "", &l), DCNN_ERR_INVALID_ARGUMENT);
  assert_null(l);
  assert_null(strstr(dcnn_last_error(), "stale"));
  assert_non_null(strstr(dcnn_last_error(), "test.silent factory: failed with 'invalid argument'"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(struct_init_sets_the_size_and_zeroes_the_rest),
      cmocka_unit_test(attack_settings_follow_struct_size),
      cmocka_unit_test(attack_input_checks_struct_size),
      cmocka_unit_test(allocator_and_params_check_struct_size),
      cmocka_unit_test(epoch_stats_follow_struct_size),
      cmocka_unit_test(error_set_formats_and_returns_status),
      cmocka_unit_test(layer_errors_carry_their_own_message),
      cmocka_unit_test(factory_errors_name_the_factory),
      cmocka_unit_test(gradient_checks_name_the_failing_slot),
      cmocka_unit_test(parameter_failures_do_not_leak_into_successful_calls),
      cmocka_unit_test(misbehaving_layers_are_refused),
      cmocka_unit_test(max_pooling_passes_nan_on),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
