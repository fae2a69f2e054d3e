/* The preprocessing a model takes, as one rule: its recorded "preprocessing"
 * at its own input size and colour. dcnn_model_predict_image, the examples
 * and the Python binding all configure pipelines through it, so they cannot
 * drift apart. */
#include "../data/data_internal.h"
#include "digitcnn/predict.h"
#include "model_internal.h"

dcnn_status dcnn__pipeline_configure_for_model(dcnn_pipeline *p, const dcnn_model *model, const char *caller) {
  const dcnn_shape in = dcnn_model_input_shape(model);
  char shown[64];
  DCNN_CHECK(in.ndim == 3 && (in.dims[0] == 1 || in.dims[0] == 3), DCNN_ERR_INVALID_ARGUMENT,
             "%s: the model takes %s; a pipeline makes (1 or 3, H, W) images", caller,
             dcnn_shape_format(&in, shown, sizeof shown));
  const char *recorded = dcnn_model_metadata(model, "preprocessing");
  if (recorded) {
    const dcnn_status status = dcnn_pipeline_configure(p, recorded);
    if (status != DCNN_OK) return dcnn__wrap_error(status, "%s: the model's preprocessing", caller);
  }
  /* A model trained at its data's own size records height=0 width=0: other data must still fit the model. */
  DCNN_TRY(dcnn_pipeline_set(p, DCNN_PIPE_HEIGHT, in.dims[1]));
  DCNN_TRY(dcnn_pipeline_set(p, DCNN_PIPE_WIDTH, in.dims[2]));
  /* Colour follows the model: a 1-channel model converts RGB to luma, a 3-channel one widens gray images. */
  DCNN_TRY(dcnn_pipeline_set(p, DCNN_PIPE_GRAYSCALE, in.dims[0] == 1));
  DCNN_TRY(dcnn_pipeline_set(p, DCNN_PIPE_GRAY_TO_RGB, in.dims[0] == 3));
  const int32_t standardized = dcnn__pipeline_standardized_channels(p);
  DCNN_CHECK(standardized == 0 || standardized == in.dims[0], DCNN_ERR_SHAPE_MISMATCH,
             "%s: the pipeline standardises %d channels, the model takes %d", caller,
             (int)standardized, (int)in.dims[0]);
  return DCNN_OK;
}

dcnn_status dcnn_pipeline_configure_for_model(dcnn_pipeline *p, const dcnn_model *model) {
  DCNN_CHECK_ARG(p);
  DCNN_CHECK_ARG(model);
  return dcnn__pipeline_configure_for_model(p, model, __func__);
}
