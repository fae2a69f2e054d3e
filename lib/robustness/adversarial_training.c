/* Adversarial training as the trainer's batch hook: the trainer knows only
 * the hook (trainer.h); the attack, its workspace and the settings a
 * checkpoint keeps live here. */
#include <math.h>
#include <string.h>

#include "../io/bytes.h"
#include "digitcnn/random.h"
#include "robustness_internal.h"

typedef struct adversarial {
  dcnn_context *ctx;
  dcnn_attack attack;
  double ratio;
  dcnn_attack_workspace workspace;
} adversarial;

/* Bytes of the settings in a checkpoint: kind, epsilon, step, iterations,
 * random_start (4 each), seed, ratio (8 each); docs/model-format.md, STAT. */
#define SETTINGS_BYTES 36

/* Replaces the first round(ratio N) samples of the global batch of N by
 * adversarial versions, in place: of this slice (global positions offset ..
 * offset + n - 1) its first k. `head` views them, so nothing is allocated
 * after the workspace's first sizing (for the batcher's full batch: its
 * capacity). PGD's random start draws per global position, so a job of
 * several processes perturbs as one process does. */
static dcnn_status transform(dcnn_model *model, dcnn_tensor *x, const int32_t *labels, const dcnn_batch_slice *slice,
                             void *user) {
  adversarial *a = user;
  const int32_t n = x->shape.dims[0];
  const int64_t attacked = lround(a->ratio * slice->global) - slice->offset; /* of this slice */
  const int32_t k = attacked <= 0 ? 0 : attacked >= n ? n : (int32_t)attacked;
  if (k <= 0) return DCNN_OK;
  const int64_t per_sample = x->count / n;
  DCNN_TRY(dcnn__attack_workspace_reserve(&a->workspace, x, (int32_t)(x->capacity / per_sample)));
  dcnn_tensor head = *x;
  head.shape.dims[0] = k;
  head.count = per_sample * k;
  head.capacity = head.count;
  head.owns_data = 0;
  DCNN_TRY(dcnn__attack_check_model("adversarial training", model));
  DCNN_TRY(dcnn__check_unit_range("adversarial training", &head));
  dcnn_attack attack = a->attack;
  attack.seed = dcnn_random_derive(a->attack.seed, (uint64_t)slice->step);
  return dcnn__attack(model, &attack, &head, labels, &head, slice->offset, &a->workspace);
}

static void release(void *user) {
  adversarial *a = user;
  dcnn__attack_workspace_release(&a->workspace);
  dcnn__release(a->ctx, a);
}

static dcnn_status save_state(void *user, uint8_t *out, size_t capacity, size_t *size) {
  const adversarial *a = user;
  dcnn_bytes b = {.ctx = a->ctx};
  dcnn__bytes_u32(&b, (uint32_t)a->attack.kind);
  dcnn__bytes_f32(&b, a->attack.epsilon);
  dcnn__bytes_f32(&b, a->attack.step);
  dcnn__bytes_u32(&b, (uint32_t)a->attack.iterations);
  dcnn__bytes_u32(&b, (uint32_t)a->attack.random_start);
  dcnn__bytes_u64(&b, a->attack.seed);
  dcnn__bytes_f64(&b, a->ratio);
  dcnn_status status = b.failed ? dcnn__fail(DCNN_ERR_OUT_OF_MEMORY, "adversarial training: out of memory")
                                : DCNN_OK;
  if (status == DCNN_OK && b.size > capacity)
    status = dcnn__fail(DCNN_ERR_INVALID_STATE, "adversarial training: %zu bytes of state, room for %zu", b.size,
                        capacity);
  if (status == DCNN_OK) {
    memcpy(out, b.data, b.size);
    *size = b.size;
  }
  dcnn__bytes_free(&b);
  return status;
}

static dcnn_status load_state(void *user, const uint8_t *data, size_t size) {
  adversarial *a = user;
  dcnn_reader r = {"adversarial training state", data, size, 0};
  DCNN_TRY(dcnn__reader_need(&r, SETTINGS_BYTES, "the adversarial-training settings"));
  DCNN_CHECK(size == SETTINGS_BYTES, DCNN_ERR_BAD_FORMAT, "adversarial training state: %zu bytes, expected %d", size,
             SETTINGS_BYTES);
  dcnn_attack attack;
  memset(&attack, 0, sizeof attack);
  attack.struct_size = sizeof attack;
  attack.kind = (dcnn_attack_kind)dcnn__reader_u32(&r);
  attack.epsilon = dcnn__reader_f32(&r);
  attack.step = dcnn__reader_f32(&r);
  attack.iterations = (int32_t)dcnn__reader_u32(&r);
  attack.random_start = (int32_t)dcnn__reader_u32(&r);
  attack.seed = dcnn__reader_u64(&r);
  const double ratio = dcnn__reader_f64(&r);
  DCNN_CHECK(ratio > 0 && ratio <= 1, DCNN_ERR_BAD_FORMAT, "adversarial training state: ratio %g outside (0, 1]",
             ratio);
  if (dcnn__attack_validate("adversarial training state", &attack) != DCNN_OK)
    return dcnn__wrap_error(DCNN_ERR_BAD_FORMAT, "training state");
  a->attack = attack;
  a->ratio = ratio;
  return DCNN_OK;
}

dcnn_status dcnn_trainer_set_adversarial(dcnn_trainer *t, const dcnn_attack *attack, double ratio) {
  static const char fn[] = "dcnn_trainer_set_adversarial";
  DCNN_CHECK_ARG(t);
  if (!attack) return dcnn_trainer_set_batch_hook(t, NULL);
  dcnn_attack settings; /* the caller's, read at its struct_size */
  DCNN_TRY(dcnn__attack_read(fn, attack, &settings));
  DCNN_CHECK(ratio > 0 && ratio <= 1, DCNN_ERR_INVALID_ARGUMENT, "%s: ratio %g is outside (0, 1]", fn, ratio);
  dcnn_context *ctx = dcnn_trainer_context(t);
  adversarial *a = dcnn__calloc(ctx, 1, sizeof *a);
  DCNN_CHECK(a != NULL, DCNN_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
  a->ctx = ctx;
  a->attack = settings;
  a->ratio = ratio;
  a->workspace.ctx = ctx;
  const dcnn_batch_hook hook = {sizeof hook, NULL, a, release, save_state, load_state, transform};
  dcnn_status status = dcnn_trainer_set_batch_hook(t, &hook);
  if (status != DCNN_OK) release(a);
  return status;
}
