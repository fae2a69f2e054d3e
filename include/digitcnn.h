/**
 * @file digitcnn.h
 * @brief libdigitcnn umbrella header: include this one file.
 *
 * libdigitcnn trains and evaluates convolutional networks on digit images.
 *
 * @par Conventions (see docs/api-conventions.md)
 * - Every public name starts with `dcnn_` (macros `DCNN_`).
 * - Objects are opaque handles created by `dcnn_X_create...` (which return a
 *   ::dcnn_status and hand the object back through an out-parameter, set to
 *   NULL on failure) and destroyed by `dcnn_X_destroy`, which accepts NULL.
 * - Every fallible call returns a ::dcnn_status; dcnn_last_error() then says
 *   what went wrong and where.
 *
 * @par Ownership
 * The caller owns what it creates and frees it with the matching destroy call.
 * Pointers returned by accessors are borrowed: they stay valid until the object
 * they came from is destroyed or changed. Calls that take ownership say so
 * (for example dcnn_model_add()); they take it whether they succeed or not.
 *
 * @par Thread-safety
 * The library's mutable global state that a caller can see is OpenBLAS's
 * process-wide thread count (see context.h) and the layer type registry
 * (registry.h, guarded by a lock). Its other global state is internal and
 * safe to share: the default context (created once), the CPU's kernel choice
 * (detected on first use, the same in every thread), counters kept in atomics,
 * and the last error message, which is per thread. One handle is used by one
 * thread at a time;
 * different handles may be used from different threads concurrently. A
 * context bounds the threads the library computes with.
 */
#ifndef DIGITCNN_H
#define DIGITCNN_H

#include "digitcnn/export.h"
#include "digitcnn/version.h"
#include "digitcnn/status.h"
#include "digitcnn/context.h"
#include "digitcnn/random.h"
#include "digitcnn/tensor.h"
#include "digitcnn/layer_interface.h"
#include "digitcnn/builtin_layers.h"
#include "digitcnn/model.h"
#include "digitcnn/session.h"
#include "digitcnn/predict.h"
#include "digitcnn/profile.h"
#include "digitcnn/optimizer.h"
#include "digitcnn/zoo.h"
#include "digitcnn/data.h"
#include "digitcnn/metrics.h"
#include "digitcnn/progress.h"
#include "digitcnn/communicator.h"
#include "digitcnn/trainer.h"
#include "digitcnn/progress_bar.h"
#include "digitcnn/registry.h"
#include "digitcnn/model_file.h"
#include "digitcnn/onnx.h"
#include "digitcnn/robustness.h"
#include "digitcnn/recipe.h"

#endif /* DIGITCNN_H */
