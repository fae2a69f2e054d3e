/**
 * @file tensor.h
 * @brief Dense float32 tensors of up to four dimensions.
 *
 * Images are stored NCHW: (batch, channels, height, width), row-major, the
 * last dimension contiguous. A tensor either owns its memory (created with
 * dcnn_tensor_create()) or borrows it (dcnn_tensor_wrap(), dcnn_tensor_view()).
 *
 * Thread-safety: a tensor may be read from several threads at once; any call
 * that writes it needs exclusive use.
 */
/** @addtogroup tensors
 * @{ */
#ifndef DIGITCNN_TENSOR_H
#define DIGITCNN_TENSOR_H

#include <stdint.h>

#include "context.h"
#include "export.h"
#include "status.h"

DCNN_BEGIN_DECLS

/** Largest number of dimensions a tensor can have. */
#define DCNN_MAX_DIMS 4

/**
 * @brief A tensor shape: a plain value type.
 *
 * Only the first `ndim` entries of `dims` are meaningful; valid shapes have
 * 1 <= ndim <= #DCNN_MAX_DIMS and every used dimension >= 1.
 */
typedef struct dcnn_shape {
  int32_t ndim;                 /**< Number of dimensions, 1..4. */
  int32_t dims[DCNN_MAX_DIMS];  /**< Extents, outermost first. */
} dcnn_shape;

/** @brief Opaque tensor handle. */
typedef struct dcnn_tensor dcnn_tensor;

/**
 * @brief Builds a shape from @p ndim extents.
 * @param ndim 1..4; other values give a shape with ndim 0 (invalid).
 * @param d0 Extent 0; the extents beyond @p ndim are ignored.
 * @param d1 Extent 1.
 * @param d2 Extent 2.
 * @param d3 Extent 3.
 * @return The shape by value.
 */
DCNN_API dcnn_shape dcnn_shape_make(int32_t ndim, int32_t d0, int32_t d1, int32_t d2, int32_t d3);

/**
 * @brief Number of elements of a shape.
 * @param shape A shape (not NULL).
 * @return The product of the extents, or -1 if the shape is invalid or the
 *         product exceeds 2^40.
 */
DCNN_API int64_t dcnn_shape_count(const dcnn_shape *shape);

/**
 * @brief Whether two shapes are equal (same ndim and extents).
 * @param a A shape.
 * @param b Another.
 * @return 1 if equal, 0 otherwise (also when either is NULL).
 */
DCNN_API int dcnn_shape_equal(const dcnn_shape *a, const dcnn_shape *b);

/**
 * @brief Formats a shape as "(32, 1, 28, 28)".
 * @param shape The shape.
 * @param buf Destination, always NUL-terminated when @p size > 0.
 * @param size Size of @p buf in bytes; 64 always suffices (the longest text,
 *        four extents of -2147483648, takes 53 bytes with the NUL); a
 *        smaller buffer receives the text cut short.
 * @return @p buf.
 */
DCNN_API char *dcnn_shape_format(const dcnn_shape *shape, char *buf, int32_t size);

/**
 * @brief Creates a zero-filled tensor that owns its memory (64-byte aligned).
 * @param ctx Context whose allocator is used, or NULL for the default.
 * @param shape The shape (copied).
 * @param[out] out Receives the tensor; NULL on failure.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT (NULL or invalid shape),
 *         #DCNN_ERR_OUT_OF_MEMORY.
 * @par Ownership: the caller owns the tensor; free it with dcnn_tensor_destroy().
 */
DCNN_API dcnn_status dcnn_tensor_create(dcnn_context *ctx, const dcnn_shape *shape, dcnn_tensor **out);

/**
 * @brief Creates a tensor over caller-owned memory, without copying.
 * @param ctx Context, or NULL for the default.
 * @param shape The shape (copied).
 * @param data At least dcnn_shape_count(shape) floats; borrowed: it must
 *        outlive the tensor and is never freed by the library.
 * @param[out] out Receives the tensor; NULL on failure.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT, #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_tensor_wrap(dcnn_context *ctx, const dcnn_shape *shape, float *data,
                                      dcnn_tensor **out);

/**
 * @brief Creates a tensor that shares @p src's memory with another shape of
 *        the same element count (a reshape without copy).
 * @param src The tensor viewed; it must outlive the view.
 * @param shape The view's shape; its count must equal @p src's.
 * @param[out] out Receives the view; NULL on failure.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT, #DCNN_ERR_SHAPE_MISMATCH,
 *         #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_tensor_view(dcnn_tensor *src, const dcnn_shape *shape, dcnn_tensor **out);

/**
 * @brief Destroys a tensor and, if it owns it, its memory. NULL is allowed.
 * @param t The tensor.
 */
DCNN_API void dcnn_tensor_destroy(dcnn_tensor *t);

/**
 * @brief The shape of a tensor.
 * @param t The tensor (not NULL).
 * @return The shape by value.
 */
DCNN_API dcnn_shape dcnn_tensor_shape(const dcnn_tensor *t);

/**
 * @brief Number of elements of a tensor.
 * @param t The tensor; NULL gives 0.
 * @return The element count.
 */
DCNN_API int64_t dcnn_tensor_count(const dcnn_tensor *t);

/**
 * @brief Pointer to a tensor's elements, row-major.
 * @param t The tensor; NULL gives NULL.
 * @return Borrowed pointer, valid until the tensor is destroyed.
 */
DCNN_API float *dcnn_tensor_data(dcnn_tensor *t);

/**
 * @brief Read-only pointer to a tensor's elements.
 * @param t The tensor; NULL gives NULL.
 * @return Borrowed pointer, valid until the tensor is destroyed.
 */
DCNN_API const float *dcnn_tensor_data_const(const dcnn_tensor *t);

/**
 * @brief Sets every element to @p value.
 * @param t The tensor.
 * @param value The value.
 * @return #DCNN_OK or #DCNN_ERR_INVALID_ARGUMENT.
 */
DCNN_API dcnn_status dcnn_tensor_fill(dcnn_tensor *t, float value);

/**
 * @brief Copies @p src into @p dst; the shapes must be equal.
 * @param dst Destination tensor.
 * @param src Source tensor (may be @p dst).
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT, #DCNN_ERR_SHAPE_MISMATCH.
 */
DCNN_API dcnn_status dcnn_tensor_copy(dcnn_tensor *dst, const dcnn_tensor *src);

/**
 * @brief Changes a tensor's shape in place, without copying; the element
 *        count must stay the same.
 * @param t The tensor.
 * @param shape The new shape.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT, #DCNN_ERR_SHAPE_MISMATCH;
 *         #DCNN_ERR_INVALID_STATE for a buffer of the library's that a layer
 *         writes (a layer's output or input gradient, in a model, session,
 *         residual block or gradient check; dcnn_model_forward()'s
 *         `grad_scores`): its shape is the library's to set, the next layer
 *         relies on it. A caller's own tensor (such as the input gradient
 *         passed to dcnn_model_backward()) is never refused.
 */
DCNN_API dcnn_status dcnn_tensor_reshape(dcnn_tensor *t, const dcnn_shape *shape);

/** @brief Random distributions for dcnn_tensor_fill_random(). */
typedef enum dcnn_distribution {
  DCNN_DIST_UNIFORM = 0, /**< Uniform in [a, b). */
  DCNN_DIST_NORMAL = 1   /**< Normal with mean a and standard deviation b. */
} dcnn_distribution;

/**
 * @brief Fills a tensor with reproducible random numbers.
 *
 * Element i receives the number drawn from the counter-based generator at
 * (seed, stream, i) (see random.h), so the result does not depend on the
 * thread count.
 * @param t The tensor.
 * @param dist The distribution.
 * @param a Lower bound (uniform) or mean (normal).
 * @param b Upper bound (uniform, > a) or standard deviation (normal, >= 0).
 * @param seed The seed.
 * @param stream An independent stream number under the same seed.
 * @return #DCNN_OK or #DCNN_ERR_INVALID_ARGUMENT.
 */
DCNN_API dcnn_status dcnn_tensor_fill_random(dcnn_tensor *t, dcnn_distribution dist, float a, float b,
                                             uint64_t seed, uint64_t stream);

/** @brief Weight initialisers (Keras names). */
typedef enum dcnn_initializer {
  DCNN_INIT_ZEROS = 0,          /**< All zeros. */
  DCNN_INIT_ONES = 1,           /**< All ones. */
  DCNN_INIT_GLOROT_UNIFORM = 2, /**< U(-l, l), l = sqrt(6 / (fan_in + fan_out)). */
  DCNN_INIT_GLOROT_NORMAL = 3,  /**< Truncated-free N(0, 2 / (fan_in + fan_out)). */
  DCNN_INIT_HE_UNIFORM = 4,     /**< U(-l, l), l = sqrt(6 / fan_in). */
  DCNN_INIT_HE_NORMAL = 5       /**< N(0, 2 / fan_in). */
} dcnn_initializer;

/**
 * @brief Initialises a weight tensor.
 * @param t The tensor.
 * @param init The initialiser.
 * @param fan_in Inputs feeding one output (e.g. in_channels * kh * kw), >= 1.
 * @param fan_out Outputs fed by one input (e.g. out_channels * kh * kw), >= 1.
 * @param seed The seed.
 * @param stream The stream (use a different one per tensor).
 * @return #DCNN_OK or #DCNN_ERR_INVALID_ARGUMENT.
 */
DCNN_API dcnn_status dcnn_tensor_init(dcnn_tensor *t, dcnn_initializer init, int64_t fan_in, int64_t fan_out,
                                      uint64_t seed, uint64_t stream);

DCNN_END_DECLS

#endif /* DIGITCNN_TENSOR_H */
/** @} */
