/**
 * @file export.h
 * @brief Symbol export and C/C++ linkage macros used by every public header.
 *
 * The library is built with hidden visibility; only declarations marked with
 * `DCNN_API` are exported from the shared object, and all of them carry the
 * `dcnn_` prefix.
 */
#ifndef DIGITCNN_EXPORT_H
#define DIGITCNN_EXPORT_H

#if defined(DCNN_STATIC_DEFINE)
/** Marks a public function; empty for the static library. */
#define DCNN_API
#elif defined(_WIN32)
#if defined(DCNN_BUILDING_LIBRARY)
#define DCNN_API __declspec(dllexport)
#else
#define DCNN_API __declspec(dllimport)
#endif
#elif defined(__GNUC__) || defined(__clang__)
#define DCNN_API __attribute__((visibility("default")))
#else
#define DCNN_API
#endif

#ifdef __cplusplus
/** Opens a block of declarations with C linkage when compiled as C++. */
#define DCNN_BEGIN_DECLS extern "C" {
/** Closes a block opened by #DCNN_BEGIN_DECLS. */
#define DCNN_END_DECLS }
#else
#define DCNN_BEGIN_DECLS
#define DCNN_END_DECLS
#endif

#endif /* DIGITCNN_EXPORT_H */
