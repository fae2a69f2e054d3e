#!/usr/bin/env python3
"""Regenerates tests/unit/metrics_reference.h: inputs and scikit-learn's results.

Run with Debian's python3-sklearn: /usr/bin/python3 tests/reference/make_metrics_reference.py
Each case is a fixed set of float32 scores and labels; the expected values come
from scikit-learn (precision_recall_fscore_support with zero_division=0,
multilabel_confusion_matrix for specificity, roc_auc_score, log_loss,
top_k_accuracy_score), computed on exactly the float32 values the C test uses.
"""
import sys
import numpy as np
import sklearn
from sklearn import metrics as M
from sklearn.preprocessing import label_binarize

rng = np.random.default_rng(20261124)


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def make(k, counts, sharpness=2.0, never_predicted=None, ties=False, perfect=False, worst=False):
    labels = np.concatenate([np.full(c, i) for i, c in enumerate(counts)]).astype(np.int32)
    rng.shuffle(labels)
    n = len(labels)
    logits = rng.normal(size=(n, k)) + sharpness * np.eye(k)[labels]
    if never_predicted is not None:
        logits[:, never_predicted] -= 10.0
    if perfect:
        logits += 20.0 * np.eye(k)[labels]
    if worst:
        logits -= 20.0 * np.eye(k)[labels]
    p = softmax(logits)
    if ties:
        p = np.round(p * 10) / 10 + 1e-3 * np.eye(k)[np.zeros(n, dtype=int)]  # coarse scores: many ties
    return p.astype(np.float32), labels


cases = [
    ("balanced", *make(4, [15, 15, 15, 15])),
    ("imbalanced", *make(5, [40, 12, 5, 25, 3], sharpness=1.5)),
    ("never_predicted", *make(4, [20, 20, 6, 14], never_predicted=2)),
    ("absent_class", *make(5, [18, 0, 22, 10, 10])),
    ("tied_scores", *make(3, [20, 25, 15], sharpness=1.0, ties=True)),
    ("perfect", *make(3, [10, 12, 8], perfect=True)),
    ("worst", *make(3, [10, 12, 8], worst=True)),
]


def reference(scores, labels, k):
    s = scores.astype(np.float64)
    pred = s.argmax(axis=1)  # first maximum, like the library
    present = sorted(set(labels.tolist()) | set(pred.tolist()))
    out = {"accuracy": M.accuracy_score(labels, pred)}
    for avg in ("macro", "weighted"):
        p, r, f, _ = M.precision_recall_fscore_support(labels, pred, average=avg, zero_division=0)
        mcm = M.multilabel_confusion_matrix(labels, pred, labels=present)
        tn, fp = mcm[:, 0, 0], mcm[:, 0, 1]
        spec = np.where(tn + fp > 0, tn / np.maximum(tn + fp, 1), 0.0)
        support = np.array([(labels == c).sum() for c in present], dtype=float)
        spec_avg = spec.mean() if avg == "macro" else (spec * support).sum() / support.sum()
        out[f"{avg}_precision"], out[f"{avg}_recall"], out[f"{avg}_f1"] = p, r, f
        out[f"{avg}_specificity"] = spec_avg
        out[f"{avg}_g"] = np.sqrt(p * r)
    # micro: the present classes' counts pooled (precision, recall and F1 are the accuracy)
    p, r, f, _ = M.precision_recall_fscore_support(labels, pred, average="micro", zero_division=0)
    mcm = M.multilabel_confusion_matrix(labels, pred, labels=present)
    tn, fp = mcm[:, 0, 0].sum(), mcm[:, 0, 1].sum()
    out["micro_precision"], out["micro_recall"], out["micro_f1"] = p, r, f
    out["micro_specificity"] = tn / (tn + fp) if tn + fp > 0 else 0.0
    out["micro_g"] = np.sqrt(p * r)
    if k == 2:  # binary: the positive class's AUC whatever the average, as for macro
        out["micro_auc"] = M.roc_auc_score(labels, s[:, 1])
    else:  # one AUC over all (sample, class) pairs, every class's column included
        out["micro_auc"] = M.roc_auc_score(label_binarize(labels, classes=list(range(k))), s, average="micro")
    aucs = []
    for c in range(k):
        y = (labels == c).astype(int)
        aucs.append(M.roc_auc_score(y, s[:, c]) if 0 < y.sum() < len(y) else float("nan"))
    aucs = np.array(aucs)
    defined = ~np.isnan(aucs)
    support = np.array([(labels == c).sum() for c in range(k)], dtype=float)
    out["macro_auc"] = aucs[defined].mean()
    out["weighted_auc"] = (aucs[defined] * support[defined]).sum() / support[defined].sum()
    if defined.all() and np.allclose(s.sum(axis=1), 1.0):  # scikit-learn's multiclass AUC agrees
        assert abs(M.roc_auc_score(labels, s, multi_class="ovr", average="macro") - out["macro_auc"]) < 1e-12
        assert abs(M.roc_auc_score(labels, s, multi_class="ovr", average="weighted") - out["weighted_auc"]) < 1e-12
    out["log_loss"] = M.log_loss(labels, s, labels=list(range(k)))
    out["top2"] = M.top_k_accuracy_score(labels, s, k=2, labels=list(range(k))) if k > 2 else 1.0
    out["class_auc"] = aucs
    p, r, f, sup = M.precision_recall_fscore_support(labels, pred, labels=list(range(k)), zero_division=0)
    out["class_precision"], out["class_recall"], out["class_f1"] = p, r, f
    out["confusion"] = M.confusion_matrix(labels, pred, labels=list(range(k)))
    return out


def c_array(name, ctype, values, fmt):
    items = ", ".join(fmt(v) for v in values)
    return f"static const {ctype} {name}[] = {{{items}}};"


def num(v):
    return "NAN" if np.isnan(v) else repr(float(v))


print("/* Generated by tests/reference/make_metrics_reference.py with scikit-learn "
      f"{sklearn.__version__}; do not edit. */")
print("#include <math.h>\n#include <stdint.h>\n")
print("typedef struct metrics_case {\n  const char *name;\n  int32_t classes, count;\n  const float *scores;\n"
      "  const int32_t *labels;\n  double accuracy, log_loss, top2;\n"
      "  double macro[6], weighted[6], micro[6]; /* precision, recall, specificity, f1, g, auc */\n"
      "  const double *class_precision, *class_recall, *class_f1, *class_auc;\n  const int64_t *confusion;\n} metrics_case;\n")
entries = []
for name, scores, labels in cases:
    k = scores.shape[1]
    ref = reference(scores, labels, k)
    print(c_array(f"{name}_scores", "float", scores.flatten(), lambda v: f"{float(v):.9e}f"))
    print(c_array(f"{name}_labels", "int32_t", labels, str))
    for key in ("precision", "recall", "f1", "auc"):
        print(c_array(f"{name}_class_{key}", "double", ref[f"class_{key}"], num))
    print(c_array(f"{name}_confusion", "int64_t", ref["confusion"].flatten(), str))
    macro = ", ".join(num(ref[f"macro_{m}"]) for m in ("precision", "recall", "specificity", "f1", "g", "auc"))
    weighted = ", ".join(num(ref[f"weighted_{m}"]) for m in ("precision", "recall", "specificity", "f1", "g", "auc"))
    micro = ", ".join(num(ref[f"micro_{m}"]) for m in ("precision", "recall", "specificity", "f1", "g", "auc"))
    entries.append(f'  {{"{name}", {k}, {len(labels)}, {name}_scores, {name}_labels, {num(ref["accuracy"])}, '
                   f'{num(ref["log_loss"])}, {num(ref["top2"])}, {{{macro}}}, {{{weighted}}}, {{{micro}}}, {name}_class_precision, '
                   f'{name}_class_recall, {name}_class_f1, {name}_class_auc, {name}_confusion}}')
print("\nstatic const metrics_case metrics_cases[] = {\n" + ",\n".join(entries) + "\n};")
