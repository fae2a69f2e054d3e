#include "digitcnn/version.h"

#define DCNN_STR_(x) #x
#define DCNN_STR(x) DCNN_STR_(x)

const char *dcnn_version_string(void) {
  return DCNN_STR(DCNN_VERSION_MAJOR) "." DCNN_STR(DCNN_VERSION_MINOR) "." DCNN_STR(DCNN_VERSION_PATCH);
}

int dcnn_version_number(void) { return DCNN_VERSION_NUMBER; }
