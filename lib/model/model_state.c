/* The model's checkpoint state (model_state.h). */
#include <string.h>

#include "model_state.h"

void dcnn__model_save_state(const dcnn_model *m, dcnn_bytes *b) {
  dcnn__bytes_u64(b, m->seed);
  dcnn__bytes_u64(b, (uint64_t)m->steps);
}

dcnn_status dcnn__model_load_state(dcnn_reader *r, dcnn__model_counters *out) {
  DCNN_TRY(dcnn__reader_need(r, 16, "the model's seed and step count"));
  out->seed = dcnn__reader_u64(r);
  out->steps = (int64_t)dcnn__reader_u64(r);
  DCNN_CHECK(out->steps >= 0 && out->steps <= DCNN__COUNTER_LIMIT, DCNN_ERR_BAD_FORMAT,
             "%s: training state: step count %lld is outside 0..2^53", r->name, (long long)out->steps);
  return DCNN_OK;
}

void dcnn__model_commit_state(dcnn_model *m, const dcnn__model_counters *c) {
  m->seed = c->seed;
  m->steps = c->steps;
}

dcnn_status dcnn__model_prepare_adopt(dcnn_model *saved, const dcnn_model *m) {
  for (int32_t i = 0; i < m->metadata_count; ++i)
    if (!dcnn_model_metadata(saved, m->metadata[i].key))
      DCNN_TRY(dcnn_model_set_metadata(saved, m->metadata[i].key, m->metadata[i].value));
  return DCNN_OK;
}

void dcnn__model_adopt(dcnn_model *m, dcnn_model *saved) {
  dcnn_meta_entry *entries = m->metadata;
  const int32_t count = m->metadata_count;
  m->metadata = saved->metadata;
  m->metadata_count = saved->metadata_count;
  saved->metadata = entries;
  saved->metadata_count = count;
  /* Adopting cannot fail: a parameter a custom layer cannot describe keeps its
   * value, and the caller's message stays. */
  dcnn__error_saved message;
  dcnn__error_save(&message);
  for (int32_t i = 0; i < saved->param_total; ++i) {
    dcnn_param from = DCNN_STRUCT_INIT(dcnn_param), to = DCNN_STRUCT_INIT(dcnn_param);
    if (dcnn_model_param(saved, i, &from, NULL) == DCNN_OK && dcnn_model_param(m, i, &to, NULL) == DCNN_OK)
      memcpy(to.value->data, from.value->data, (size_t)from.value->count * sizeof(float)); /* (count) each */
    else
      dcnn__error_restore(&message);
  }
}
