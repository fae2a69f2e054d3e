/**
 * @file version.h
 * @brief Compile-time and run-time version of libdigitcnn.
 *
 * ABI policy (see docs/api-conventions.md): from 1.0, releases with the same
 * major version are ABI compatible and the shared library's SONAME carries the
 * major version; before 1.0 the same holds for the minor version
 * (libdigitcnn.so.0.MINOR).
 */
/** @addtogroup core
 * @{ */
#ifndef DIGITCNN_VERSION_H
#define DIGITCNN_VERSION_H

#include "export.h"

/** Major version: from 1.0, incremented on ABI or API breaks. */
#define DCNN_VERSION_MAJOR 0
/** Minor version: from 1.0, incremented when API is added compatibly; before 1.0 also on ABI breaks
 *  (the SONAME carries it, above). */
#define DCNN_VERSION_MINOR 2
/** Patch version: incremented for fixes only. */
#define DCNN_VERSION_PATCH 0

/** The version as one comparable number, e.g. 0.1.0 -> 100. */
#define DCNN_VERSION_NUMBER \
  (DCNN_VERSION_MAJOR * 10000 + DCNN_VERSION_MINOR * 100 + DCNN_VERSION_PATCH)

DCNN_BEGIN_DECLS

/**
 * @brief Version of the library actually loaded at run time, "MAJOR.MINOR.PATCH".
 * @return A static string owned by the library; never NULL.
 * @par Thread-safety: safe to call from any thread.
 */
DCNN_API const char *dcnn_version_string(void);

/**
 * @brief Version of the library loaded at run time as #DCNN_VERSION_NUMBER.
 * @return MAJOR * 10000 + MINOR * 100 + PATCH.
 * @par Thread-safety: safe to call from any thread.
 */
DCNN_API int dcnn_version_number(void);

DCNN_END_DECLS

#endif /* DIGITCNN_VERSION_H */
/** @} */
