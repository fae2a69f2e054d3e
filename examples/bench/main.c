/* digitcnn-bench: training and inference throughput of the paper CNN (or,
 * with --model, a Table 1 model) on synthetic input, side by side with the
 * PyTorch peer when it is installed.
 *
 *   digitcnn-bench [--model paper|lenet5|resnet50|vgg16|mobilenetv2] [--threads N] [--steps N]
 *                  [--batches 32,128] [--no-infer] [--peer PATH | --no-peer] [--profile]
 *                  [--conv-algorithm NAME] [--recipe NAME]
 *
 * With --profile it first measures the GEMM ceiling (dcnn_gemm_gflops, n =
 * 2048, one thread and the configured threads), measures it again just
 * before and just after each batch size's timed training steps (stating the
 * steps' share of both), and prints, after the timed
 * steps of each batch size, the per-layer profile of those steps with the
 * percentage of the ceiling and each layer's convolution algorithm, and after
 * the timed batch-1 predictions, a profile of as many more. With
 * --conv-algorithm it forces one algorithm on every conv2d where it applies
 * (dcnn_model_set_conv_algorithm), in the timed models including inference.
 * With --recipe it trains the paper CNN family as that recipe builds it
 * (dcnn_recipe_configure_zoo: input channels and size, blocks, stages, width,
 * dropout), e.g. `--recipe best` for the network of issue #19; the PyTorch peer
 * and the inference timings, which run the paper's own network, are then left out.
 *
 * The peer runs as /usr/bin/python3 with an argument vector, never through a
 * shell: no model name or path is ever read as a command.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../common/args.h"
#include "../common/support.h"

/* Forward multiply-adds per sample, read from the summary's last line. */
static double forward_macs(const dcnn_model *m) {
  char *text = NULL;
  EXAMPLE_CHECK(dcnn_model_summary(m, &text));
  const char *line = strstr(text, "multiply-adds per sample: ");
  double macs = line ? atof(line + strlen("multiply-adds per sample: ")) * 1e6 : 0;
  dcnn_free(text);
  return macs;
}

/* The models --model accepts (the zoo's), in the order of the usage line. */
static const char *const model_names[] = {"paper", "lenet5", "resnet50", "vgg16", "mobilenetv2", NULL};
static int model_kind = 0;

/* --conv-algorithm: the names in dcnn_conv_algorithm order ("auto" = the rule). */
static const char *const algorithm_names[] = {"auto", "im2col_gemm", "gemm_1x1", "winograd_2x2", "winograd_4x4",
                                              "direct", "unrolled_gemm", NULL};
static int conv_algorithm = 0;

/* --recipe: the recipe whose paper CNN is trained (NULL: the paper's own network). */
static const char *recipe_name = NULL;

/* Forces --conv-algorithm on every conv2d of `m` where it applies. */
static void force_algorithm(dcnn_model *m) {
  int32_t applied = 0;
  EXAMPLE_CHECK(dcnn_model_set_conv_algorithm(m, (dcnn_conv_algorithm)conv_algorithm, &applied));
  static int told = 0;
  if (conv_algorithm && !told++)
    printf("conv algorithm forced: %s on %d conv2d layers of %s (the others by the rule)\n",
           algorithm_names[conv_algorithm], (int)applied, model_names[model_kind]);
}

/* The model under test, its input side (28 for the paper CNN, 32 for the
 * Table 1 models, the recipe's with --recipe) and channels. */
static int32_t build_model(dcnn_context *ctx, dcnn_model **m, int32_t *channels) {
  dcnn_zoo_options o = DCNN_ZOO_OPTIONS_INIT; /* 1 channel, 10 classes, seed 1 */
  o.height = o.width = model_kind == 0 ? 28 : 32;
  o.batch_norm = 1; /* VGG-16 only */
  if (recipe_name) EXAMPLE_CHECK(dcnn_recipe_configure_zoo(dcnn_recipe_settings(recipe_name), &o));
  const int32_t side = o.height;
  *channels = o.channels;
  switch (model_kind) {
    case 0: EXAMPLE_CHECK(dcnn_zoo_paper_cnn(ctx, &o, m)); break;
    case 1: EXAMPLE_CHECK(dcnn_zoo_lenet5(ctx, &o, m)); break;
    case 2: EXAMPLE_CHECK(dcnn_zoo_resnet50(ctx, &o, m)); break;
    case 3: EXAMPLE_CHECK(dcnn_zoo_vgg16(ctx, &o, m)); break;
    default: EXAMPLE_CHECK(dcnn_zoo_mobilenetv2(ctx, &o, m)); break;
  }
  force_algorithm(*m);
  return side;
}

/* --profile: the multi-threaded GEMM rate measured last (GFLOPS; 0 = no profile). */
static double profile_ceiling = 0;

static double train_ms(dcnn_context *ctx, int32_t batch, int steps, double *gflops) {
  dcnn_model *m = NULL;
  int32_t channels = 1;
  const int32_t side = build_model(ctx, &m, &channels), pixels = channels * side * side;
  dcnn_optimizer *adam = NULL;
  EXAMPLE_CHECK(dcnn_optimizer_create_adam(ctx, 1e-3f, 0.9f, 0.999f, 1e-7f, 0.0f, &adam));
  const int pool = 8; /* distinct batches cycled through, as the peer does */
  dcnn_shape s = dcnn_shape_make(4, batch * pool, channels, side, side);
  dcnn_shape sb = dcnn_shape_make(4, batch, channels, side, side);
  dcnn_tensor *x = NULL;
  EXAMPLE_CHECK(dcnn_tensor_create(ctx, &s, &x));
  EXAMPLE_CHECK(dcnn_tensor_fill_random(x, DCNN_DIST_UNIFORM, 0.0f, 1.0f, 1, 0));
  int32_t *labels = malloc(sizeof(int32_t) * (size_t)batch * pool);
  for (int i = 0; i < batch * pool; ++i) labels[i] = (int32_t)(dcnn_random_bits(1, 1, (uint64_t)i) % 10);
  dcnn_tensor *views[8];
  for (int i = 0; i < pool; ++i)
    EXAMPLE_CHECK(dcnn_tensor_wrap(ctx, &sb, dcnn_tensor_data(x) + (int64_t)i * batch * pixels, &views[i]));
  double t0 = 0;
  dcnn_profile *profile = NULL;
  if (profile_ceiling > 0) EXAMPLE_CHECK(dcnn_profile_create(m, &profile));
  for (int step = 0; step < steps + 5; ++step) {
    if (step == 5) {
      EXAMPLE_CHECK(dcnn_model_set_profile(m, profile)); /* the timed steps only */
      t0 = example_now();
    }
    EXAMPLE_CHECK(dcnn_model_train_step(m, adam, views[step % pool], labels + (step % pool) * batch, NULL, NULL));
  }
  double dt = example_now() - t0;
  *gflops = 6.0 * forward_macs(m) * batch * steps / dt / 1e9;
  if (profile) {
    char *table = NULL;
    EXAMPLE_CHECK(dcnn_model_set_profile(m, NULL));
    EXAMPLE_CHECK(dcnn_profile_format(profile, profile_ceiling, &table));
    printf("profile of %d training steps, batch %d (clock reads included in the step times above):\n%s", steps,
           (int)batch, table);
    dcnn_free(table);
    dcnn_profile_destroy(profile);
  }
  for (int i = 0; i < pool; ++i) dcnn_tensor_destroy(views[i]);
  dcnn_tensor_destroy(x);
  free(labels);
  dcnn_optimizer_destroy(adam);
  dcnn_model_destroy(m);
  return 1000.0 * dt / steps;
}

static double infer_ms(dcnn_context *ctx, int32_t batch) {
  dcnn_model *m = NULL;
  EXAMPLE_CHECK(dcnn_zoo_paper_cnn(ctx, NULL, &m)); /* the paper's: 28 x 28 x 1, 10 classes, seed 1 */
  const int kind = model_kind;
  model_kind = 0;
  force_algorithm(m);
  model_kind = kind;
  dcnn_shape s = dcnn_shape_make(4, batch, 1, 28, 28), ys = dcnn_shape_make(2, batch, 10, 0, 0);
  dcnn_tensor *x = NULL, *y = NULL;
  EXAMPLE_CHECK(dcnn_tensor_create(ctx, &s, &x));
  EXAMPLE_CHECK(dcnn_tensor_create(ctx, &ys, &y));
  EXAMPLE_CHECK(dcnn_tensor_fill_random(x, DCNN_DIST_UNIFORM, 0.0f, 1.0f, 2, 0));
  int n = 2048 / batch < 20 ? 20 : 2048 / batch;
  EXAMPLE_CHECK(dcnn_model_predict(m, x, y));
  double t0 = example_now();
  for (int i = 0; i < n; ++i) EXAMPLE_CHECK(dcnn_model_predict(m, x, y));
  double dt = example_now() - t0;
  if (profile_ceiling > 0 && batch == 1) {
    /* Profiled apart from the timed calls: the profile reads the clock around every layer. */
    dcnn_profile *profile = NULL;
    char *table = NULL;
    EXAMPLE_CHECK(dcnn_profile_create(m, &profile));
    EXAMPLE_CHECK(dcnn_model_set_profile(m, profile));
    for (int i = 0; i < n; ++i) EXAMPLE_CHECK(dcnn_model_predict(m, x, y));
    EXAMPLE_CHECK(dcnn_model_set_profile(m, NULL));
    EXAMPLE_CHECK(dcnn_profile_format(profile, profile_ceiling, &table));
    printf("profile of %d predictions at batch 1 (after the timed ones):\n%s", n, table);
    dcnn_free(table);
    dcnn_profile_destroy(profile);
  }
  dcnn_tensor_destroy(x);
  dcnn_tensor_destroy(y);
  dcnn_model_destroy(m);
  return 1000.0 * dt / n;
}

/* Runs `argv` (argv[0] a path; no PATH search, no shell) with standard input
 * from /dev/null and standard output and error into a pipe, handing each line
 * to `on_line` (when not NULL). Returns the exit status, or -1 when the
 * program could not be started or did not exit normally. */
static int run_program(char *const argv[], void (*on_line)(const char *line, void *user), void *user) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  fcntl(fds[0], F_SETFD, FD_CLOEXEC);
  fflush(stdout);
  fflush(stderr);
  const pid_t parent = getpid(); /* before fork: the child compares its parent with it */
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return -1;
  }
  if (pid == 0) { /* only async-signal-safe calls between fork and exec */
#ifdef __linux__
    /* The peer ends with the benchmark (interrupted, killed) instead of running on as an orphan;
     * a parent that died before this call is seen by getppid(). */
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent) _exit(127);
#endif
    const int null = open("/dev/null", O_RDONLY);
    if (null >= 0) dup2(null, STDIN_FILENO);
    dup2(fds[1], STDOUT_FILENO);
    dup2(fds[1], STDERR_FILENO);
    if (null > STDERR_FILENO) close(null);
    if (fds[1] > STDERR_FILENO) close(fds[1]);
    execv(argv[0], argv);
    _exit(127);
  }
  close(fds[1]);
  FILE *out = fdopen(fds[0], "r");
  if (out) {
    char line[512];
    while (fgets(line, sizeof line, out))
      if (on_line) on_line(line, user);
    fclose(out);
  } else {
    close(fds[0]);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

typedef struct peer_times {
  double train, infer[3]; /* ms per step; ms per batch of 1, 32, 256 */
} peer_times;

static void read_peer_line(const char *line, void *user) {
  peer_times *t = user;
  const char *at = strstr(line, "ms/step");
  int bs = 0;
  double ms = 0;
  if (strstr(line, "train batch") && at) {
    const char *colon = strrchr(line, ':');
    if (colon) t->train = atof(colon + 1);
  } else if (sscanf(line, "torch infer batch %d: %lf", &bs, &ms) == 2) {
    t->infer[bs == 1 ? 0 : bs == 32 ? 1 : 2] = ms;
  } else if (strstr(line, "Error") || strstr(line, "No module")) {
    fprintf(stderr, "peer: %s", line);
  }
}

#define PYTHON "/usr/bin/python3"

/* Runs the PyTorch peer and returns its ms/step for training (0 if unavailable). */
static double peer_train_ms(const char *peer, int32_t batch, int32_t threads, int steps, double infer[3]) {
  char batch_text[16], threads_text[16], steps_text[16];
  snprintf(batch_text, sizeof batch_text, "%d", (int)batch);
  snprintf(threads_text, sizeof threads_text, "%d", (int)threads);
  snprintf(steps_text, sizeof steps_text, "%d", steps);
  /* execv takes char *const[] for historical reasons; it does not write to the strings. */
  const char *argv[12] = {PYTHON};
  int n = 1;
  if (model_kind != 0) {
    argv[n++] = DCNN_TORCH_MODELS;
    argv[n++] = "--model";
    argv[n++] = model_names[model_kind];
  } else {
    argv[n++] = peer;
    argv[n++] = "--synthetic";
  }
  const char *rest[] = {"--batch", batch_text, "--threads", threads_text, "--steps", steps_text, NULL};
  for (int i = 0; rest[i]; ++i) argv[n++] = rest[i];
  argv[n] = NULL;
  peer_times t = {0, {0, 0, 0}};
  if (run_program((char *const *)argv, read_peer_line, &t) != 0) return 0;
  for (int i = 0; i < 3; ++i)
    if (t.infer[i] > 0) infer[i] = t.infer[i];
  return t.train;
}

/* 1 when the interpreter runs and imports torch. */
static int torch_available(void) {
  const char *argv[] = {PYTHON, "-c", "import torch", NULL};
  return run_program((char *const *)argv, NULL, NULL) == 0;
}

static void usage(FILE *out) {
  fprintf(out, "usage: digitcnn-bench [--model paper|lenet5|resnet50|vgg16|mobilenetv2] [--threads N] [--steps N]\n"
               "                      [--batches 32,128] [--no-infer] [--peer PATH | --no-peer] [--profile]\n"
               "                      [--conv-algorithm NAME] [--recipe NAME]\n"
               "  --model NAME    the network timed (paper)\n"
               "  --threads N     threads, 0 = all cores (0)\n"
               "  --steps N       timed training steps per batch size (50)\n"
               "  --batches LIST  training batch sizes, comma-separated, at most 8 (32,128)\n"
               "  --no-infer      time training only (the paper CNN's inference is timed otherwise)\n"
               "  --peer PATH     the PyTorch peer script (default $DCNN_TORCH_PEER, else %s)\n"
               "  --no-peer       no PyTorch comparison (the peer needs Debian's python3-torch)\n"
               "  --profile       measure the GEMM ceiling, then print each training run's per-layer profile\n"
               "                  (with each layer's convolution algorithm) and batch-1 inference's\n"
               "  --conv-algorithm NAME  force one convolution algorithm on every conv2d where it applies,\n"
               "                  for measurements: auto (the rule, default), im2col_gemm, gemm_1x1,\n"
               "                  winograd_2x2, winograd_4x4, direct, unrolled_gemm\n"
               "  --recipe NAME   train the paper CNN as recipe NAME builds it (docs/recipes.md), e.g. best;\n"
               "                  no PyTorch peer or inference timings then (they run the paper's network)\n",
          DCNN_DEFAULT_PEER);
}

int main(int argc, char **argv) {
  int32_t threads = 0, batches[8] = {32, 128};
  int steps = 50, use_peer = 1, infer = 1, nbatches = 2, profile = 0;
  const char *peer = NULL;
  char batch_text[256], *batch_items[8];
  static const example_option options[] = {
      {"--threads", 1}, {"--model", 1},   {"--steps", 1},   {"--peer", 1}, {"--no-peer", 0}, {"--no-infer", 0},
      {"--profile", 0}, {"--conv-algorithm", 1}, {"--batches", 1}, {"--recipe", 1}, {NULL, 0}};
  example_args args = example_args_start(argc, argv, options, usage);
  while (example_args_next(&args)) {
    if (example_args_option(&args, "--threads")) threads = (int32_t)example_args_int(&args, 0, 1024);
    else if (example_args_option(&args, "--model")) model_kind = example_args_choice(&args, model_names);
    else if (example_args_option(&args, "--steps")) steps = (int)example_args_int(&args, 1, 100000);
    else if (example_args_option(&args, "--peer")) peer = args.value;
    else if (example_args_flag(&args, "--no-peer")) use_peer = 0;
    else if (example_args_flag(&args, "--no-infer")) infer = 0;
    else if (example_args_flag(&args, "--profile")) profile = 1;
    else if (example_args_option(&args, "--conv-algorithm")) conv_algorithm = example_args_choice(&args, algorithm_names);
    else if (example_args_option(&args, "--recipe")) recipe_name = args.value;
    else if (example_args_option(&args, "--batches")) {
      nbatches = example_parse_list("--batches", args.value, batch_text, sizeof batch_text, batch_items, 8);
      for (int b = 0; b < nbatches; ++b) /* batch norm needs two samples or more */
        batches[b] = (int32_t)example_parse_int("--batches", batch_items[b], 2, 4096);
    } else {
      example_args_unknown(&args);
    }
  }
  const int peer_named = peer != NULL; /* a file the user named must be there; the defaults may be missing */
  if (!peer) peer = getenv("DCNN_TORCH_PEER");
  if (!peer) peer = DCNN_DEFAULT_PEER;
  /* The interpreter would read a leading '-' as one of its own options ("-c CODE"). */
  if (use_peer && peer[0] == '-')
    example_args_fail(peer_named ? "--peer" : "DCNN_TORCH_PEER", "takes a file path; \"%s\" starts with '-' (write "
                      "./%s)", peer, peer);
  if (peer_named && !use_peer) example_args_fail("--peer", "and --no-peer contradict each other");
  if (peer_named && model_kind != 0)
    example_args_fail("--peer", "is the paper CNN's peer; --model %s is compared with %s", model_names[model_kind],
                      DCNN_TORCH_MODELS);
  if (peer_named && access(peer, R_OK) != 0)
    example_args_fail("--peer", "cannot read \"%s\": %s", peer, strerror(errno));
  if (recipe_name) {
    if (model_kind != 0) example_args_fail("--recipe", "builds the paper CNN family; it cannot be used with --model %s",
                                           model_names[model_kind]);
    if (!dcnn_recipe_settings(recipe_name))
      example_args_fail("--recipe", "\"%s\" is not a recipe (digitcnn-paper --help lists them)", recipe_name);
    use_peer = 0, infer = 0; /* both run the paper's own network */
  }
  const char *script = model_kind == 0 ? peer : DCNN_TORCH_MODELS;
  if (use_peer && (access(script, R_OK) != 0 || access(PYTHON, X_OK) != 0 || !torch_available())) {
    printf("PyTorch peer not available (needs Debian python3-torch and %s): no ratios\n", script);
    use_peer = 0;
  }
  dcnn_context *ctx = NULL;
  EXAMPLE_CHECK(dcnn_context_create(&ctx));
  EXAMPLE_CHECK(dcnn_context_set_threads(ctx, threads));
  threads = dcnn_context_threads(ctx);
  if (recipe_name) {
    dcnn_zoo_options o = DCNN_ZOO_OPTIONS_INIT;
    EXAMPLE_CHECK(dcnn_recipe_configure_zoo(dcnn_recipe_settings(recipe_name), &o));
    printf("libdigitcnn %s, paper CNN of recipe %s (%d x %d x %d -> 10 classes), %d threads, %d timed steps\n",
           dcnn_version_string(), recipe_name, (int)o.channels, (int)o.height, (int)o.width, (int)threads, steps);
  } else {
    printf("libdigitcnn %s, %s (1 channel -> 10 classes), %d threads, %d timed steps\n", dcnn_version_string(),
           model_names[model_kind], (int)threads, steps);
  }
  if (profile) {
    /* The ceiling is measured before the models, in the same run (the machine changes from day to day). */
    double one = 0;
    EXAMPLE_CHECK(dcnn_gemm_gflops(ctx, 2048, 1, &one));
    if (threads > 1) EXAMPLE_CHECK(dcnn_gemm_gflops(ctx, 2048, threads, &profile_ceiling));
    else profile_ceiling = one;
    printf("GEMM ceiling (library SGEMM, n = 2048): %.1f GFLOPS with 1 thread, %.1f with %d\n", one, profile_ceiling,
           (int)threads);
  }
  double peer_infer[3] = {0, 0, 0};
  for (int b = 0; b < nbatches; ++b) {
    /* This machine's speed can change by 2x within minutes (a virtual machine
     * whose host is shared): the ceiling is measured again just before and
     * just after each timed run, and the run's share of it is stated against
     * both, so a change of phase in between shows instead of skewing the %. */
    double before = 0, after = 0;
    if (profile) {
      EXAMPLE_CHECK(dcnn_gemm_gflops(ctx, 2048, threads, &before));
      profile_ceiling = before; /* the per-layer table's reference */
    }
    double gflops = 0, ms = train_ms(ctx, batches[b], steps, &gflops);
    if (profile) EXAMPLE_CHECK(dcnn_gemm_gflops(ctx, 2048, threads, &after));
    printf("train batch %4d: %8.2f ms/step %8.0f samples/s %6.1f GFLOPS", (int)batches[b], ms,
           1000.0 * batches[b] / ms, gflops);
    if (profile)
      printf(" = %.0f%% of the ceiling just before (%.1f GFLOPS), %.0f%% of the one just after (%.1f)",
             100.0 * gflops / before, before, 100.0 * gflops / after, after);
    if (use_peer) {
      double torch = peer_train_ms(peer, batches[b], threads, steps, peer_infer);
      if (torch > 0) printf("   torch %8.2f ms/step   speed-up x%.2f", torch, torch / ms);
    }
    printf("\n");
    fflush(stdout);
  }
  const int32_t infer_batches[3] = {1, 32, 256};
  for (int i = 0; i < 3 && infer && model_kind == 0; ++i) {
    double ms = infer_ms(ctx, infer_batches[i]);
    printf("infer batch %4d: %8.3f ms/batch %8.0f samples/s", (int)infer_batches[i], ms, 1000.0 * infer_batches[i] / ms);
    if (use_peer && peer_infer[i] > 0)
      printf("   torch %8.3f ms/batch   speed-up x%.2f", peer_infer[i], peer_infer[i] / ms);
    printf("\n");
  }
  dcnn_context_destroy(ctx);
  return 0;
}
