/**
 * @file export.h
 * @brief Symbol export, C/C++ linkage and struct-size macros used by every
 *        public header.
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
/** Marks a public function (exported from the DLL). */
#define DCNN_API __declspec(dllexport)
#else
/** Marks a public function (imported from the DLL). */
#define DCNN_API __declspec(dllimport)
#endif
#elif defined(__GNUC__) || defined(__clang__)
/** Marks a public function (default visibility). */
#define DCNN_API __attribute__((visibility("default")))
#else
/** Marks a public function. */
#define DCNN_API
#endif

#ifdef __cplusplus
/** Opens a block of declarations with C linkage when compiled as C++. */
#define DCNN_BEGIN_DECLS extern "C" {
/** Closes a block opened by #DCNN_BEGIN_DECLS. */
#define DCNN_END_DECLS }
#else
/** Opens a block of public declarations (nothing to do in C). */
#define DCNN_BEGIN_DECLS
/** Closes a block opened by #DCNN_BEGIN_DECLS. */
#define DCNN_END_DECLS
#endif

#if defined(__GNUC__) || defined(__clang__)
/** Makes the compiler warn when a call's result is ignored (initialisers
 *  whose failure leaves the struct unset). */
#define DCNN_WARN_UNUSED_RESULT __attribute__((warn_unused_result))
#else
/** The warning described above, where the compiler offers it (not here). */
#define DCNN_WARN_UNUSED_RESULT
#endif

#if defined(__GNUC__) || defined(__clang__)
/** Lets the compiler check a printf-style format: argument @p fmt_index is
 *  the format, the values start at @p args_index. */
#define DCNN_PRINTF_FORMAT(fmt_index, args_index) __attribute__((format(printf, fmt_index, args_index)))
#else
/** Format checking, where the compiler offers it (not here). */
#define DCNN_PRINTF_FORMAT(fmt_index, args_index)
#endif

/**
 * Initialiser of a public struct that starts with `size_t struct_size`: sets
 * that field to the size of the struct as this program was compiled and zeroes
 * the rest (see docs/api-conventions.md, "Structs that grow"):
 * `dcnn_attack a = DCNN_STRUCT_INIT(dcnn_attack);`.
 */
#ifdef __cplusplus
/* C++ (C++ linkage even inside an extern "C" block): the struct value-initialised (zeroed), then its
 * struct_size set. The brace form `{ sizeof(type) }` warns under -Wextra (missing initialisers).
 * static: each translation unit keeps its own copy, so that modules compiled against different
 * versions of a struct never share one instantiation; constexpr from C++14, as the brace form was. */
#if __cplusplus >= 201402L
#define DCNN_CXX14_CONSTEXPR constexpr
#else
#define DCNN_CXX14_CONSTEXPR
#endif
extern "C++" {
/** The C++ form of #DCNN_STRUCT_INIT (a static inline template: nothing the library exports). */
template <typename T>
static DCNN_CXX14_CONSTEXPR inline T dcnn_struct_init_cxx() {
  T value = T();
  value.struct_size = sizeof(T);
  return value;
}
}
#define DCNN_STRUCT_INIT(type) (dcnn_struct_init_cxx<type>())
#else
/** The initialiser described above (C: a designated initialiser). */
#define DCNN_STRUCT_INIT(type) \
  { .struct_size = sizeof(type) }
#endif

#endif /* DIGITCNN_EXPORT_H */
