/* The built-in layer types, rebuilt from the configuration strings their
 * describe() slot writes. */
#include "registry.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "digitcnn/layers.h"

#define CONFIG_MAX 256

/* Finds `key` in "k=v k=v" and copies its value. */
static int config_value(const char *config, const char *key, char *value, size_t size) {
  const size_t n = strlen(key);
  for (const char *p = config; p && *p;) {
    while (*p == ' ') ++p;
    const char *end = strchr(p, ' ');
    const size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len > n && !strncmp(p, key, n) && p[n] == '=') {
      const size_t v = len - n - 1;
      if (v + 1 > size) return 0;
      memcpy(value, p + n + 1, v);
      value[v] = '\0';
      return 1;
    }
    p = end;
  }
  return 0;
}

static dcnn_status config_int(const char *type, const char *config, const char *key, int32_t lo, int32_t hi,
                              int32_t *out) {
  char value[64], *end = NULL;
  DCNN_CHECK(config_value(config, key, value, sizeof value), DCNN_ERR_BAD_FORMAT, "%s: missing '%s' in \"%.80s\"",
             type, key, config);
  errno = 0;
  long v = strtol(value, &end, 10);
  DCNN_CHECK(!errno && end != value && !*end && v >= lo && v <= hi, DCNN_ERR_BAD_FORMAT,
             "%s: '%s=%s' is not a whole number in %d..%d", type, key, value, (int)lo, (int)hi);
  *out = (int32_t)v;
  return DCNN_OK;
}

static dcnn_status config_float(const char *type, const char *config, const char *key, float *out) {
  char value[64], *end = NULL;
  DCNN_CHECK(config_value(config, key, value, sizeof value), DCNN_ERR_BAD_FORMAT, "%s: missing '%s' in \"%.80s\"",
             type, key, config);
  errno = 0;
  double v = strtod(value, &end);
  DCNN_CHECK(!errno && end != value && !*end && isfinite(v), DCNN_ERR_BAD_FORMAT, "%s: '%s=%s' is not a number",
             type, key, value);
  *out = (float)v;
  return DCNN_OK;
}

static dcnn_status config_padding(const char *type, const char *config, dcnn_padding *out) {
  char value[16];
  DCNN_CHECK(config_value(config, "padding", value, sizeof value) && (!strcmp(value, "same") || !strcmp(value, "valid")),
             DCNN_ERR_BAD_FORMAT, "%s: 'padding' must be same or valid in \"%.80s\"", type, config);
  *out = !strcmp(value, "same") ? DCNN_PADDING_SAME : DCNN_PADDING_VALID;
  return DCNN_OK;
}

#define SIZE_LIMIT (1 << 16) /* filters or units per layer: bounds what a crafted file can make us allocate */

dcnn_status dcnn__layer_from_config(const char *type, const char *config, dcnn_layer **out) {
  *out = NULL;
  int32_t a = 0, b = 0, c = 0, bias = 0;
  float x = 0, y = 0;
  dcnn_padding padding = DCNN_PADDING_VALID;
  if (!strcmp(type, "conv2d")) {
    DCNN_TRY(config_int(type, config, "filters", 1, SIZE_LIMIT, &a));
    DCNN_TRY(config_int(type, config, "kernel", 1, 1024, &b));
    DCNN_TRY(config_int(type, config, "stride", 1, 1024, &c));
    DCNN_TRY(config_padding(type, config, &padding));
    DCNN_TRY(config_int(type, config, "bias", 0, 1, &bias));
    return dcnn_conv2d_create(a, b, c, padding, bias, out);
  }
  if (!strcmp(type, "depthwise_conv2d")) {
    DCNN_TRY(config_int(type, config, "kernel", 1, 1024, &b));
    DCNN_TRY(config_int(type, config, "stride", 1, 1024, &c));
    DCNN_TRY(config_padding(type, config, &padding));
    DCNN_TRY(config_int(type, config, "bias", 0, 1, &bias));
    return dcnn_depthwise_conv2d_create(b, c, padding, bias, out);
  }
  if (!strcmp(type, "batchnorm") || !strcmp(type, "batchnorm_relu")) {
    DCNN_TRY(config_float(type, config, "momentum", &x));
    DCNN_TRY(config_float(type, config, "epsilon", &y));
    return type[9] ? dcnn_batchnorm_relu_create(x, y, out) : dcnn_batchnorm_create(x, y, out);
  }
  if (!strcmp(type, "maxpool2d") || !strcmp(type, "avgpool2d")) {
    DCNN_TRY(config_int(type, config, "pool", 1, 1024, &a));
    DCNN_TRY(config_int(type, config, "stride", 1, 1024, &b));
    DCNN_TRY(config_padding(type, config, &padding));
    return type[0] == 'm' ? dcnn_maxpool2d_create(a, b, padding, out) : dcnn_avgpool2d_create(a, b, padding, out);
  }
  if (!strcmp(type, "dropout")) {
    DCNN_TRY(config_float(type, config, "rate", &x));
    return dcnn_dropout_create(x, out);
  }
  if (!strcmp(type, "dense")) {
    DCNN_TRY(config_int(type, config, "units", 1, SIZE_LIMIT, &a));
    DCNN_TRY(config_int(type, config, "bias", 0, 1, &bias));
    return dcnn_dense_create(a, bias, out);
  }
  if (!strcmp(type, "relu")) return dcnn_relu_create(out);
  if (!strcmp(type, "relu6")) return dcnn_relu6_create(out);
  if (!strcmp(type, "tanh")) return dcnn_tanh_create(out);
  if (!strcmp(type, "sigmoid")) return dcnn_sigmoid_create(out);
  if (!strcmp(type, "flatten")) return dcnn_flatten_create(out);
  if (!strcmp(type, "softmax")) return dcnn_softmax_create(out);
  if (!strcmp(type, "global_avgpool")) return dcnn_global_avgpool_create(out);
  return dcnn__fail(DCNN_ERR_NOT_FOUND,
                    "unknown layer type '%.64s' (known: conv2d, depthwise_conv2d, batchnorm, batchnorm_relu, "
                    "maxpool2d, avgpool2d, dropout, dense, relu, relu6, tanh, sigmoid, flatten, softmax, "
                    "global_avgpool)", type);
}
