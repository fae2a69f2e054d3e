/**
 * @file metrics.h
 * @brief The paper's evaluation suite as an accumulator: confusion matrix,
 *        accuracy, precision, recall (sensitivity), specificity, F1,
 *        G-measure, one-vs-rest ROC AUC, log loss, top-k accuracy.
 *
 * Definitions follow scikit-learn (see docs/metrics.md):
 * - the predicted class is the first highest score of a sample;
 * - per class c: precision TP/(TP+FP), recall TP/(TP+FN), specificity
 *   TN/(TN+FP), F1 2TP/(2TP+FP+FN), G-measure sqrt(precision * recall); a
 *   zero denominator gives 0 (scikit-learn's `zero_division=0`);
 * - macro averages are plain means over the classes that occur in the labels
 *   or the predictions (scikit-learn's default label set); weighted averages
 *   weight each class by its support; micro averages pool the counts of
 *   those classes first (sum TP / sum (TP + FP), ...: precision, recall and
 *   F1 all equal the accuracy, one label and one prediction a sample;
 *   specificity is sum TN / sum (TN + FP)); averaged G-measure is
 *   sqrt(average precision * average recall), as the paper computes it;
 * - ROC AUC per class is the exact rank statistic (ties count half) of the
 *   class's scores, one class against the rest; undefined (NaN) for a class
 *   without positive or without negative samples, and left out of averages;
 *   with two classes the averaged AUC is class 1's, scikit-learn's binary
 *   `roc_auc_score(y, scores[:, 1])`; the micro-averaged AUC is one rank
 *   statistic over all N x K (score, is the sample's class) pairs, every
 *   class included (scikit-learn's `average='micro'` of the one-hot labels);
 * - log loss clips probabilities to [e, 1 - e], e = DBL_EPSILON (2.2e-16), and
 *   renormalises each row, as scikit-learn 1.2's `log_loss` does for float64
 *   scores (its default eps="auto"; scikit-learn 1.1 and older clipped at
 *   1e-15, and float32 arrays are clipped at float32's epsilon there).
 *   scikit-learn 1.3 and later no longer renormalise (they warn): for rows
 *   that do not sum to 1, such as a softmax's in float32 to within rounding,
 *   or any other scores, their figure differs from this one.
 *
 * Scores are kept and ranked as float32: probabilities closer to 1 than
 * float32 resolves (about 6e-8) tie, so an AUC can differ from one computed
 * on float64 probabilities.
 *
 * Memory: the scores are kept (one float per sample and class) because AUC
 * needs them; all K AUCs take O(K N log N), the micro AUC O(K N log(K N))
 * and K N scratch pairs of 8 bytes; the confusion counts take 8 K^2 bytes
 * (800 MB at K = 10,000), and every averaged getter reads them in O(K^2).
 *
 * Thread-safety: one accumulator per thread; merge them with
 * dcnn_metrics_merge() for parallel evaluation. This holds for the getters
 * too, although they take a const accumulator: the first AUC read computes
 * and caches all K AUCs inside it.
 */
/** @addtogroup metrics
 * @{ */
#ifndef DIGITCNN_METRICS_H
#define DIGITCNN_METRICS_H

#include <stdint.h>

#include "context.h"
#include "export.h"
#include "status.h"
#include "tensor.h"

DCNN_BEGIN_DECLS

/** @brief Opaque metric accumulator. */
typedef struct dcnn_metrics dcnn_metrics;

/** @brief The metrics of dcnn_metrics_get(). */
typedef enum dcnn_metric {
  DCNN_METRIC_ACCURACY = 0,    /**< Share of samples whose predicted class is the label. */
  DCNN_METRIC_PRECISION = 1,   /**< TP / (TP + FP). */
  DCNN_METRIC_RECALL = 2,      /**< TP / (TP + FN), also called sensitivity. */
  DCNN_METRIC_SPECIFICITY = 3, /**< TN / (TN + FP). */
  DCNN_METRIC_F1 = 4,          /**< 2 TP / (2 TP + FP + FN). */
  DCNN_METRIC_G_MEASURE = 5,   /**< sqrt(precision * recall). */
  DCNN_METRIC_ROC_AUC = 6,     /**< One-vs-rest area under the ROC curve (averaged: class 1's with two classes). */
  DCNN_METRIC_LOG_LOSS = 7,    /**< Mean negative log-probability of the label. */
  DCNN_METRIC_SUPPORT = 8      /**< Samples whose label is the class. */
} dcnn_metric;

/** @brief How per-class values are combined. */
typedef enum dcnn_average {
  DCNN_AVERAGE_MACRO = 0,    /**< Unweighted mean over classes. */
  DCNN_AVERAGE_WEIGHTED = 1, /**< Mean weighted by class support. */
  DCNN_AVERAGE_MICRO = 2     /**< The classes' counts (or, for AUC, scores) pooled first (since 0.2). */
} dcnn_average;

/**
 * @brief Creates an empty accumulator for @p classes classes.
 * @param ctx Context, or NULL.
 * @param classes 2 to 100000.
 * @param[out] out The accumulator.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT, #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_metrics_create(dcnn_context *ctx, int32_t classes, dcnn_metrics **out);

/**
 * @brief Destroys an accumulator. NULL is allowed.
 * @param m The accumulator.
 */
DCNN_API void dcnn_metrics_destroy(dcnn_metrics *m);

/**
 * @brief Adds a batch of scores (probabilities for log loss) and labels.
 *
 * The batch is validated first; on error nothing is added.
 * @param m The accumulator.
 * @param scores count x classes scores, row-major.
 * @param labels count labels in [0, classes).
 * @param count Samples, >= 1.
 * @return #DCNN_OK; #DCNN_ERR_INVALID_ARGUMENT (label out of range, named);
 *         #DCNN_ERR_NUMERIC (NaN or infinite score, named); #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_metrics_add(dcnn_metrics *m, const float *scores, const int32_t *labels, int32_t count);

/**
 * @brief Adds a batch from an (N, classes) tensor, e.g. dcnn_model_predict()'s output.
 * @param m The accumulator.
 * @param scores (N, classes) tensor.
 * @param labels N labels.
 * @return As dcnn_metrics_add(), or #DCNN_ERR_SHAPE_MISMATCH.
 */
DCNN_API dcnn_status dcnn_metrics_add_tensor(dcnn_metrics *m, const dcnn_tensor *scores, const int32_t *labels);

/**
 * @brief Adds everything @p from holds to @p into (same class count); the
 *        results equal those of one accumulator fed all the data.
 * @param into The accumulator that grows.
 * @param from Read only.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT, #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_metrics_merge(dcnn_metrics *into, const dcnn_metrics *from);

/**
 * @brief Forgets all samples (keeps the memory).
 * @param m The accumulator.
 * @return #DCNN_OK or #DCNN_ERR_INVALID_ARGUMENT.
 */
DCNN_API dcnn_status dcnn_metrics_reset(dcnn_metrics *m);

/**
 * @brief Samples added so far.
 * @param m The accumulator; NULL gives 0.
 * @return The count.
 */
DCNN_API int64_t dcnn_metrics_count(const dcnn_metrics *m);

/**
 * @brief Number of classes.
 * @param m The accumulator; NULL gives 0.
 * @return The count.
 */
DCNN_API int32_t dcnn_metrics_classes(const dcnn_metrics *m);

/**
 * @brief The confusion matrix: entry [t * classes + p] counts samples of
 *        label t predicted as p.
 * @param m The accumulator.
 * @param[out] matrix Receives classes * classes counts (dcnn_metrics_classes()).
 * @param capacity Elements @p matrix holds.
 * @return #DCNN_OK or #DCNN_ERR_INVALID_ARGUMENT (NULL, or @p capacity below
 *         classes * classes: nothing is written).
 */
DCNN_API dcnn_status dcnn_metrics_confusion(const dcnn_metrics *m, int64_t *matrix, int64_t capacity);

/**
 * @brief An averaged metric (accuracy and log loss do not depend on @p
 *        average, which must still be a known one).
 * @param m The accumulator.
 * @param metric The metric.
 * @param average Macro, weighted or micro.
 * @param[out] value The value (NaN for an AUC no class defines).
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT, #DCNN_ERR_INVALID_STATE (no
 *         samples yet), #DCNN_ERR_OUT_OF_MEMORY (AUC scratch).
 */
DCNN_API dcnn_status dcnn_metrics_get(const dcnn_metrics *m, dcnn_metric metric, dcnn_average average,
                                      double *value);

/**
 * @brief A per-class metric (accuracy and log loss are not per class).
 * @param m The accumulator.
 * @param metric Precision, recall, specificity, F1, G-measure, ROC AUC or support.
 * @param cls The class, 0 .. classes - 1.
 * @param[out] value The value (NaN for the AUC of a class without positive or
 *        without negative samples).
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT, #DCNN_ERR_INVALID_STATE, #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_metrics_class(const dcnn_metrics *m, dcnn_metric metric, int32_t cls, double *value);

/**
 * @brief Share of samples whose label is among the @p k highest scores
 *        (among equal scores the higher class index ranks first, as in
 *        scikit-learn's top_k_accuracy_score for 3 or more classes; so with
 *        exact ties top-1 can differ from accuracy, whose argmax takes the
 *        lower index). With 2 classes it ranks both columns the same way,
 *        where scikit-learn takes class 1's column alone and thresholds it.
 * @param m The accumulator.
 * @param k 1 .. classes.
 * @param[out] value The value.
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT, #DCNN_ERR_INVALID_STATE.
 */
DCNN_API dcnn_status dcnn_metrics_top_k_accuracy(const dcnn_metrics *m, int32_t k, double *value);

/**
 * @brief ROC curve of one class against the rest: one point per distinct
 *        score, from (0, 0) to (1, 1).
 * @param m The accumulator.
 * @param cls The class.
 * @param[out] fpr False positive rates, or NULL (both NULL: only count the points).
 * @param[out] tpr True positive rates, or NULL; each array given is written.
 * @param capacity Entries available in @p fpr and @p tpr.
 * @param[out] points Number of points (also when the arrays are too small).
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT (capacity too small: the
 *         arrays are left as they were),
 *         #DCNN_ERR_INVALID_STATE (class without positives or negatives),
 *         #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_metrics_roc_curve(const dcnn_metrics *m, int32_t cls, double *fpr, double *tpr,
                                            int64_t capacity, int64_t *points);

/** @brief Text renderings of the results (dcnn_metrics_format()). Numbers are stable (ABI). */
typedef enum dcnn_metrics_format_kind {
  /** Headline results as labelled lines: accuracy (fraction and %), macro
   *  one-vs-rest AUC, weighted precision and recall, macro specificity,
   *  weighted F1 and G-measure (the selection of the paper's Figure 4). */
  DCNN_FORMAT_SUMMARY = 0,
  /** One Markdown table row "| label | accuracy | F1 | AUC | precision |
   *  recall | specificity | G |" in %, weighted averages except macro AUC and
   *  specificity (the columns of the paper's Table 1). */
  DCNN_FORMAT_MARKDOWN_ROW = 1,
  DCNN_FORMAT_CLASS_TABLE = 2,   /**< Per-class precision, recall, specificity, F1, G, AUC, support. */
  /** Every result as one JSON object: accuracy, top-3 accuracy (1 with
   *  fewer than 3 classes), log loss, the six metrics macro-, weighted- and
   *  micro-averaged and per class, the confusion matrix; undefined values
   *  null (the text renderings write "n/a"). */
  DCNN_FORMAT_JSON = 3,
  DCNN_FORMAT_CONFUSION_CSV = 4, /**< The confusion matrix as CSV. */
  DCNN_FORMAT_ROC_CSV = 5        /**< class,fpr,tpr rows of the ROC curve of every class that has one
                                      (positive and negative samples). */
} dcnn_metrics_format_kind;

/** @deprecated The 0.1 name of #DCNN_FORMAT_SUMMARY (same value); removed in 1.0. */
#define DCNN_FORMAT_PAPER_BLOCK DCNN_FORMAT_SUMMARY
/** @deprecated The 0.1 name of #DCNN_FORMAT_MARKDOWN_ROW (same value); removed in 1.0. */
#define DCNN_FORMAT_TABLE1_ROW DCNN_FORMAT_MARKDOWN_ROW

/**
 * @brief Renders the results as text.
 * @param m The accumulator.
 * @param kind What to render.
 * @param label Row label for #DCNN_FORMAT_MARKDOWN_ROW (e.g. the model's name); NULL for "model".
 *        Written as one cell: '|' and '\\' escaped with a backslash, line breaks as spaces.
 * @param[out] text NUL-terminated, freed by the caller with dcnn_free().
 * @return #DCNN_OK, #DCNN_ERR_INVALID_ARGUMENT, #DCNN_ERR_INVALID_STATE, #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_metrics_format(const dcnn_metrics *m, dcnn_metrics_format_kind kind, const char *label,
                                         char **text);

/**
 * @brief Writes dcnn_metrics_format()'s text to a file atomically (a
 *        temporary file in the same directory, then renamed).
 * @param m The accumulator.
 * @param kind What to write.
 * @param label As for dcnn_metrics_format().
 * @param path Destination.
 * @return As dcnn_metrics_format(), or #DCNN_ERR_IO.
 */
DCNN_API dcnn_status dcnn_metrics_write(const dcnn_metrics *m, dcnn_metrics_format_kind kind, const char *label,
                                        const char *path);

DCNN_END_DECLS

#endif /* DIGITCNN_METRICS_H */
/** @} */
