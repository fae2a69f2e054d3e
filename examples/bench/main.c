/* digitcnn-bench: training and inference throughput of the paper CNN (or,
 * with --model, a Table 1 model) on synthetic input, side by side with the
 * PyTorch peer when it is installed.
 *
 *   digitcnn-bench [--model paper|lenet5|resnet50|vgg16|mobilenetv2] [--threads N] [--steps N]
 *                  [--batches 32,128] [--peer PATH | --no-peer]
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

static const char *model_name = "paper";

/* The model under test and its input side (28 for the paper CNN, 32 for the Table 1 models). */
static int32_t build_model(dcnn_context *ctx, dcnn_model **m) {
  if (!strcmp(model_name, "lenet5")) EXAMPLE_CHECK(dcnn_zoo_lenet5(ctx, 1, 32, 32, 10, 1, m));
  else if (!strcmp(model_name, "resnet50")) EXAMPLE_CHECK(dcnn_zoo_resnet50(ctx, 1, 32, 32, 10, 1, m));
  else if (!strcmp(model_name, "vgg16")) EXAMPLE_CHECK(dcnn_zoo_vgg16(ctx, 1, 32, 32, 10, 512, 1, 1, m));
  else if (!strcmp(model_name, "mobilenetv2")) EXAMPLE_CHECK(dcnn_zoo_mobilenetv2(ctx, 1, 32, 32, 10, 1, m));
  else {
    EXAMPLE_CHECK(dcnn_zoo_paper_cnn(ctx, 1, 28, 28, 10, 1, m));
    return 28;
  }
  return 32;
}

static double train_ms(dcnn_context *ctx, int32_t batch, int steps, double *gflops) {
  dcnn_model *m = NULL;
  const int32_t side = build_model(ctx, &m), pixels = side * side;
  dcnn_optimizer *adam = NULL;
  EXAMPLE_CHECK(dcnn_optimizer_create_adam(ctx, 1e-3f, 0.9f, 0.999f, 1e-7f, 0.0f, &adam));
  const int pool = 8; /* distinct batches cycled through, as the peer does */
  dcnn_shape s = dcnn_shape_make(4, batch * pool, 1, side, side), sb = dcnn_shape_make(4, batch, 1, side, side);
  dcnn_tensor *x = NULL;
  EXAMPLE_CHECK(dcnn_tensor_create(ctx, &s, &x));
  EXAMPLE_CHECK(dcnn_tensor_fill_random(x, DCNN_DIST_UNIFORM, 0.0f, 1.0f, 1, 0));
  int32_t *labels = malloc(sizeof(int32_t) * (size_t)batch * pool);
  for (int i = 0; i < batch * pool; ++i) labels[i] = (int32_t)(dcnn_random_bits(1, 1, (uint64_t)i) % 10);
  dcnn_tensor *views[8];
  for (int i = 0; i < pool; ++i)
    EXAMPLE_CHECK(dcnn_tensor_wrap(ctx, &sb, dcnn_tensor_data(x) + (int64_t)i * batch * pixels, &views[i]));
  double t0 = 0;
  for (int step = 0; step < steps + 5; ++step) {
    if (step == 5) t0 = example_now();
    EXAMPLE_CHECK(dcnn_model_train_step(m, adam, views[step % pool], labels + (step % pool) * batch, NULL, NULL));
  }
  double dt = example_now() - t0;
  *gflops = 6.0 * forward_macs(m) * batch * steps / dt / 1e9;
  for (int i = 0; i < pool; ++i) dcnn_tensor_destroy(views[i]);
  dcnn_tensor_destroy(x);
  free(labels);
  dcnn_optimizer_destroy(adam);
  dcnn_model_destroy(m);
  return 1000.0 * dt / steps;
}

static double infer_ms(dcnn_context *ctx, int32_t batch) {
  dcnn_model *m = NULL;
  EXAMPLE_CHECK(dcnn_zoo_paper_cnn(ctx, 1, 28, 28, 10, 1, &m));
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
  dcnn_tensor_destroy(x);
  dcnn_tensor_destroy(y);
  dcnn_model_destroy(m);
  return 1000.0 * dt / n;
}

/* Runs the PyTorch peer and returns its ms/step for training (0 if unavailable). */
static double peer_train_ms(const char *peer, int32_t batch, int32_t threads, int steps, double infer[3]) {
  char command[4096];
  if (strcmp(model_name, "paper"))
    snprintf(command, sizeof command, "/usr/bin/python3 '%s' --model %s --batch %d --threads %d --steps %d 2>&1",
             DCNN_TORCH_MODELS, model_name, (int)batch, (int)threads, steps);
  else
    snprintf(command, sizeof command, "/usr/bin/python3 '%s' --synthetic --batch %d --threads %d --steps %d 2>&1",
             peer, (int)batch, (int)threads, steps);
  FILE *p = popen(command, "r");
  if (!p) return 0;
  char line[512];
  double train = 0;
  while (fgets(line, sizeof line, p)) {
    const char *at = strstr(line, "ms/step");
    int bs = 0;
    double ms = 0;
    if (strstr(line, "train batch") && at) {
      const char *colon = strrchr(line, ':');
      if (colon) train = atof(colon + 1);
    } else if (sscanf(line, "torch infer batch %d: %lf", &bs, &ms) == 2) {
      infer[bs == 1 ? 0 : bs == 32 ? 1 : 2] = ms;
    } else if (strstr(line, "Error") || strstr(line, "No module")) {
      fprintf(stderr, "peer: %s", line);
    }
  }
  if (pclose(p) != 0) return 0;
  return train;
}

int main(int argc, char **argv) {
  int32_t threads = 0;
  int steps = 50;
  const char *peer = NULL;
  int use_peer = 1;
  int32_t batches[8] = {32, 128};
  int nbatches = 2;
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--model") && i + 1 < argc) model_name = argv[++i];
    else if (!strcmp(argv[i], "--steps") && i + 1 < argc) steps = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--peer") && i + 1 < argc) peer = argv[++i];
    else if (!strcmp(argv[i], "--no-peer")) use_peer = 0;
    else if (!strcmp(argv[i], "--batches") && i + 1 < argc) {
      nbatches = 0;
      for (char *tok = strtok(argv[++i], ","); tok && nbatches < 8; tok = strtok(NULL, ","))
        batches[nbatches++] = atoi(tok);
    } else {
      fprintf(stderr, "usage: %s [--model paper|lenet5|resnet50|vgg16|mobilenetv2] [--threads N] [--steps N] "
                      "[--batches 32,128] [--peer PATH | --no-peer]\n", argv[0]);
      return 2;
    }
  }
  dcnn_context *ctx = NULL;
  EXAMPLE_CHECK(dcnn_context_create(&ctx));
  EXAMPLE_CHECK(dcnn_context_set_threads(ctx, threads));
  threads = dcnn_context_threads(ctx);
  if (!peer) peer = getenv("DCNN_TORCH_PEER");
  if (!peer) peer = DCNN_DEFAULT_PEER;
  if (use_peer && (access(peer, R_OK) != 0 || access("/usr/bin/python3", X_OK) != 0 ||
                   system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") != 0)) {
    printf("PyTorch peer not available (needs Debian python3-torch and %s): no ratios\n", peer);
    use_peer = 0;
  }
  printf("libdigitcnn %s, %s (1 channel -> 10 classes), %d threads, %d timed steps\n", dcnn_version_string(),
         model_name, (int)threads, steps);
  double peer_infer[3] = {0, 0, 0};
  for (int b = 0; b < nbatches; ++b) {
    double gflops = 0, ms = train_ms(ctx, batches[b], steps, &gflops);
    printf("train batch %4d: %8.2f ms/step %8.0f samples/s %6.1f GFLOPS", (int)batches[b], ms,
           1000.0 * batches[b] / ms, gflops);
    if (use_peer) {
      double torch = peer_train_ms(peer, batches[b], threads, steps, peer_infer);
      if (torch > 0) printf("   torch %8.2f ms/step   speed-up x%.2f", torch, torch / ms);
    }
    printf("\n");
    fflush(stdout);
  }
  const int32_t infer_batches[3] = {1, 32, 256};
  for (int i = 0; i < 3 && !strcmp(model_name, "paper"); ++i) {
    double ms = infer_ms(ctx, infer_batches[i]);
    printf("infer batch %4d: %8.3f ms/batch %8.0f samples/s", (int)infer_batches[i], ms, 1000.0 * infer_batches[i] / ms);
    if (use_peer && peer_infer[i] > 0)
      printf("   torch %8.3f ms/batch   speed-up x%.2f", peer_infer[i], peer_infer[i] / ms);
    printf("\n");
  }
  dcnn_context_destroy(ctx);
  return 0;
}
