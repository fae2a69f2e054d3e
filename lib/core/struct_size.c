#include "struct_size.h"

#include <string.h>

#include "digitcnn/version.h"

dcnn_status dcnn__struct_size_check(const char *fn, const char *type, size_t given, size_t min) {
  DCNN_CHECK(given >= min && given <= DCNN__STRUCT_SIZE_MAX, DCNN_ERR_INVALID_ARGUMENT,
             "%s: %s struct_size is %zu, %zu to %d expected: it looks unset (initialise it with "
             "DCNN_STRUCT_INIT(%s))", fn, type, given, min, DCNN__STRUCT_SIZE_MAX, type);
  return DCNN_OK;
}

dcnn_status dcnn__struct_fill(const char *fn, const char *type, void *out, const void *full, size_t full_size,
                              size_t min) {
  size_t given;
  memcpy(&given, out, sizeof given);
  DCNN_TRY(dcnn__struct_size_check(fn, type, given, min));
  const size_t n = given < full_size ? given : full_size;
  /* struct_size is the first member: copy what follows it. */
  memcpy((char *)out + sizeof given, (const char *)full + sizeof given, n - sizeof given);
  return DCNN_OK;
}

dcnn_status dcnn__struct_init(const char *fn, const char *type, void *out, const void *full, size_t full_size,
                              size_t min) {
  DCNN_CHECK(out, DCNN_ERR_INVALID_ARGUMENT, "%s: the %s is NULL", fn, type);
  DCNN_TRY(dcnn__struct_fill(fn, type, out, full, full_size, min));
  size_t given;
  memcpy(&given, out, sizeof given);
  if (given > full_size) memset((char *)out + full_size, 0, given - full_size);
  return DCNN_OK;
}

dcnn_status dcnn__struct_read(const char *fn, const char *type, void *full, size_t full_size, const void *in,
                              size_t min) {
  size_t given;
  memcpy(&given, in, sizeof given);
  DCNN_TRY(dcnn__struct_size_check(fn, type, given, min));
  for (size_t i = full_size; i < given; ++i)
    DCNN_CHECK(((const unsigned char *)in)[i] == 0, DCNN_ERR_UNSUPPORTED,
               "%s: %s of %zu bytes sets a field this library (%zu bytes, version %s) does not know", fn, type, given,
               full_size, dcnn_version_string());
  const size_t n = given < full_size ? given : full_size;
  memcpy((char *)full + sizeof given, (const char *)in + sizeof given, n - sizeof given);
  memcpy(full, &full_size, sizeof full_size);
  return DCNN_OK;
}
