"""The paper's metrics from scores and labels, computed by the C library."""
from __future__ import annotations

import ctypes
from typing import Dict, Optional, Sequence

from . import _checks, _lib
from ._handle import Handle, in_use
from ._lib import lib
from .tensor import _numpy, float32, np as _np
from .tensor import np as numpy  # noqa: F401 (typing.get_type_hints resolves "numpy.typing.ArrayLike" here)

METRICS = {"accuracy": 0, "precision": 1, "recall": 2, "specificity": 3, "f1": 4, "g_measure": 5, "roc_auc": 6,
           "log_loss": 7}
SUPPORT = 8  # DCNN_METRIC_SUPPORT
AVERAGES = {"macro": 0, "weighted": 1, "micro": 2}  # dcnn_average
PER_CLASS = ("precision", "recall", "specificity", "f1", "support")


def _scores(scores):
    """(N, K) float32 scores, C-contiguous; ValueError for any other shape, or for a NaN or an
    infinity (as scikit-learn raises; the library's own refusal would be a DigitcnnError).
    float64 scores are rounded to float32: scores equal after rounding tie, in the argmax
    (the lower class wins) and in the AUC, and those below about 1.4e-45 become 0."""
    scores = float32(scores, "scores")
    if scores.ndim != 2:
        raise ValueError(f"scores must be an (N, K) array, got shape {scores.shape}")
    _checks.finite(scores, "scores")
    return scores


class Metrics(Handle):
    """An accumulator of (scores, label) pairs for ``classes`` classes."""

    _one_thread_at_a_time = True  # C: one thread at a time (borrowed() locks it)
    _copy_hint = "make a new Metrics and add() the same scores and labels, or keep to_dict()'s plain values"

    def __init__(self, classes: int):
        out = _lib.out_handle()
        lib.dcnn_metrics_create(None, _checks.count(classes, "classes"), ctypes.byref(out))
        self._own(out, lib.dcnn_metrics_destroy)

    @classmethod
    def from_scores(cls, scores: "numpy.typing.ArrayLike", labels: "numpy.typing.ArrayLike") -> "Metrics":
        """Metrics of (N, K) scores (probabilities) against N labels (as :meth:`add`)."""
        scores = _scores(scores)
        m = cls(scores.shape[1])
        m.add(scores, labels)
        return m

    @in_use
    def add(self, scores: "numpy.typing.ArrayLike", labels: "numpy.typing.ArrayLike") -> None:
        """Adds (N, K) scores, K the number of classes, and N labels: whole numbers (integers, or
        floats that are exactly whole; anything else raises ValueError naming the first bad one,
        never cast) in [0, K), else the library's :class:`DigitcnnError`. N may be 0 (an empty
        batch's predictions): nothing is added. Scores are kept as float32: float64 scores equal
        after that rounding tie (see ``docs/metrics.md``); a NaN or an infinity raises ValueError."""
        scores = _scores(scores)
        labels = _checks.whole_numbers(labels, "labels")
        if scores.shape[1] != self.classes:  # the library reads K scores per row
            raise ValueError(f"scores have {scores.shape[1]} columns for {self.classes} classes")
        if labels.shape != (scores.shape[0],):
            raise ValueError(f"scores {scores.shape} and labels {labels.shape} do not match")
        if scores.shape[0] == 0:  # the predictions of an empty batch: nothing to add (C takes 1 or more)
            return
        rows = _checks.count(scores.shape[0], "rows of scores")  # C takes an int32 count: ctypes would wrap
        lib.dcnn_metrics_add(self.ptr, scores.ctypes.data, labels.ctypes.data, rows)

    @in_use
    def __len__(self) -> int:
        return lib.dcnn_metrics_count(self.ptr)

    @in_use
    def get(self, name: str, weighted: bool = False, average: Optional[str] = None) -> float:
        """One metric, macro-averaged over classes (or weighted by support); ``average``
        names the averaging instead: ``"macro"``, ``"weighted"`` or ``"micro"`` (the classes'
        counts pooled first, as scikit-learn's ``average='micro'``; not with ``weighted``).
        The averaging's name may also come second, as in ``get("precision", "micro")``."""
        if name not in METRICS:
            raise ValueError(f"unknown metric {name!r}; known: {', '.join(METRICS)}")
        if isinstance(weighted, str):  # get("f1", "micro"): a name, which as a flag would mean "weighted"
            if average is not None:
                raise TypeError(f"the averaging is named twice: {weighted!r} and average={average!r}")
            weighted, average = False, weighted
        elif weighted is not None and not isinstance(weighted, bool) and weighted not in (0, 1) and not (
                _np is not None and isinstance(weighted, _np.bool_)):
            raise TypeError(f"weighted must be True or False, got {weighted!r}")
        if average is None:
            code = AVERAGES["weighted" if weighted else "macro"]
        elif average not in AVERAGES:
            raise ValueError(f"unknown average {average!r}; known: {', '.join(AVERAGES)}")
        elif weighted and average != "weighted":
            raise ValueError(f"weighted=True and average={average!r} disagree")
        else:
            code = AVERAGES[average]
        value = ctypes.c_double()
        lib.dcnn_metrics_get(self.ptr, METRICS[name], code, ctypes.byref(value))
        return value.value

    @property
    @in_use
    def classes(self) -> int:
        """Number of classes."""
        return lib.dcnn_metrics_classes(self.ptr)

    @in_use
    def per_class(self, name: str):
        """One metric per class as a (K,) float64 array: ``precision``, ``recall``,
        ``specificity``, ``f1``, ``g_measure``, ``roc_auc`` or ``support`` (the samples of
        each class, as whole numbers in a float array; :meth:`support` gives int64)."""
        numpy = _numpy()
        codes = dict(METRICS, support=SUPPORT)
        if name not in codes or name in ("accuracy", "log_loss"):
            raise ValueError(f"{name!r} is not a per-class metric; per class: "
                             f"{', '.join(n for n in codes if n not in ('accuracy', 'log_loss'))}")
        values = numpy.empty(self.classes)
        value = ctypes.c_double()
        for k in range(values.size):
            lib.dcnn_metrics_class(self.ptr, codes[name], k, ctypes.byref(value))
            values[k] = value.value
        return values

    def support(self):
        """Samples per class (true labels) as a (K,) int64 array."""
        return self.confusion().sum(axis=1)

    @property
    def precision(self):
        """Per-class precision, TP / (TP + FP), a (K,) array."""
        return self.per_class("precision")

    @property
    def recall(self):
        """Per-class recall (sensitivity), TP / (TP + FN), a (K,) array."""
        return self.per_class("recall")

    @property
    def specificity(self):
        """Per-class specificity, TN / (TN + FP), a (K,) array."""
        return self.per_class("specificity")

    @property
    def f1(self):
        """Per-class F1, 2 TP / (2 TP + FP + FN), a (K,) array."""
        return self.per_class("f1")

    @property
    def confusion_matrix(self):
        """The (K, K) int64 confusion matrix, rows true classes, columns predictions."""
        return self.confusion()

    def classification_report(self, target_names: Optional[Sequence[str]] = None, digits: int = 2) -> str:
        """A text table in scikit-learn's ``classification_report`` layout: precision, recall,
        F1 and support per class, then accuracy and the macro and support-weighted averages
        (plus a specificity column, which scikit-learn does not have). As there, a class
        neither among the labels nor among the predictions has no row (the macro average
        leaves it out too); ``target_names`` still names all ``classes``."""
        digits = _checks.whole_number(digits, "digits", 0, 15)
        k = self.classes
        names = [str(n) for n in target_names] if target_names is not None else [str(i) for i in range(k)]
        if len(names) != k:
            raise ValueError(f"target_names has {len(names)} names for {k} classes")
        columns = ("precision", "recall", "f1-score", "specificity", "support")
        table = {name: self.per_class(name) for name in ("precision", "recall", "f1", "specificity")}
        support = self.support()
        width = max(len("weighted avg"), *(len(n) for n in names), digits)
        head = " " * width + "".join(f" {c:>11}" for c in columns)
        lines = [head, ""]
        predicted = self.confusion().sum(axis=0)
        for i, name in enumerate(names):
            if support[i] == 0 and predicted[i] == 0:
                continue
            row = "".join(f" {table[m][i]:>11.{digits}f}" for m in ("precision", "recall", "f1", "specificity"))
            lines.append(f"{name:>{width}}{row} {int(support[i]):>11}")
        lines.append("")
        total = int(support.sum())
        lines.append(f"{'accuracy':>{width}}{'':>24} {self.get('accuracy'):>11.{digits}f}{'':>12} {total:>11}")
        for label, weighted in (("macro avg", False), ("weighted avg", True)):
            row = "".join(f" {self.get(m, weighted):>11.{digits}f}" for m in ("precision", "recall", "f1", "specificity"))
            lines.append(f"{label:>{width}}{row} {total:>11}")
        return "\n".join(lines) + "\n"

    def __repr__(self) -> str:
        if self._ptr is None:
            return "<Metrics: closed>"
        if not self._exclusive.acquire(blocking=False):  # a repr (a debugger's) does not wait for a call
            return "<Metrics: in use by another thread>"
        try:
            shown = f", accuracy {self.get('accuracy'):.4f}" if len(self) else ""
            return f"<Metrics: {self.classes} classes, {len(self)} samples{shown}>"
        finally:
            self._exclusive.release()

    def to_dict(self) -> Dict[str, float]:
        """Every metric, macro-averaged."""
        return {name: self.get(name) for name in METRICS}

    @in_use
    def confusion(self):
        """The (K, K) confusion matrix, rows are true classes."""
        numpy = _numpy()
        k = lib.dcnn_metrics_classes(self.ptr)
        matrix = numpy.zeros((k, k), dtype=numpy.int64)
        lib.dcnn_metrics_confusion(self.ptr, matrix.ctypes.data, k * k)
        return matrix

    @in_use
    def roc_curve(self, cls: int):
        """(fpr, tpr) of class ``cls`` against the rest: one point per distinct score, from
        (0, 0) to (1, 1), as scikit-learn's ``roc_curve(..., drop_intermediate=False)`` (its
        default drops the points on straight stretches, which change no area)."""
        numpy = _numpy()
        capacity = len(self) + 2
        fpr, tpr = numpy.zeros(capacity), numpy.zeros(capacity)
        points = ctypes.c_int64()
        cls = _checks.whole_number(cls, "cls", 0, _checks.INT32_MAX)
        lib.dcnn_metrics_roc_curve(self.ptr, cls, fpr.ctypes.data, tpr.ctypes.data, capacity, ctypes.byref(points))
        return fpr[:points.value], tpr[:points.value]
