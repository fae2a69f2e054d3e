/* The GEMM ceiling (profile.h): the rate the library's own GEMM reaches on
 * large square matrices, measured in the same run as a profile. */
#include "../kernels/kernels.h"
#include "digitcnn/profile.h"
#include "digitcnn/random.h"
#include "model_internal.h"

dcnn_status dcnn_gemm_gflops(dcnn_context *ctx, int32_t n, int32_t threads, double *gflops) {
  DCNN_CHECK_ARG(gflops);
  *gflops = 0;
  const int32_t available = dcnn_context_threads(ctx);
  DCNN_CHECK(n >= 16 && n <= 8192, DCNN_ERR_INVALID_ARGUMENT, "dcnn_gemm_gflops: n %d outside 16..8192", (int)n);
  DCNN_CHECK(threads >= 0 && threads <= available, DCNN_ERR_INVALID_ARGUMENT,
             "dcnn_gemm_gflops: threads %d must be 0 (the context's) or 1 to the context's %d", (int)threads,
             (int)available);
  if (threads == 0) threads = available;
  const size_t count = (size_t)n * (size_t)n;
  float *a = dcnn__alloc(ctx, 3 * count * sizeof *a); /* A, B, C: (n, n) each, row-major */
  DCNN_CHECK(a != NULL, DCNN_ERR_OUT_OF_MEMORY, "dcnn_gemm_gflops: out of memory for three %dx%d matrices", (int)n,
             (int)n);
  float *b = a + count, *c = b + count;
  for (size_t i = 0; i < 2 * count; ++i) a[i] = (float)(dcnn_random_bits(16, 0, i) >> 8) * 0x1p-24f - 0.5f;
  dcnn_status status = DCNN_OK;
  double best = 0;
  for (int run = 0; status == DCNN_OK && run < 4; ++run) {
    const double t0 = dcnn__now();
    status = dcnn__sgemm(threads, 0, 0, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
    const double dt = dcnn__now() - t0;
    if (run > 0 && (best == 0 || dt < best)) best = dt; /* run 0 warms up */
  }
  dcnn__release(ctx, a);
  if (status != DCNN_OK) return dcnn__wrap_error(status, "dcnn_gemm_gflops");
  *gflops = best > 0 ? 2.0 * (double)n * n * n / best / 1e9 : 0;
  return DCNN_OK;
}
