"""The paper's metrics from scores and labels, computed by the C library."""
from __future__ import annotations

import ctypes
from typing import Dict

from . import _checks, _lib
from ._handle import Handle
from ._lib import lib
from .tensor import _numpy

METRICS = {"accuracy": 0, "precision": 1, "recall": 2, "specificity": 3, "f1": 4, "g_measure": 5, "roc_auc": 6,
           "log_loss": 7}


class Metrics(Handle):
    """An accumulator of (scores, label) pairs for ``classes`` classes."""

    def __init__(self, classes: int):
        out = _lib.out_handle()
        lib.dcnn_metrics_create(None, _checks.count(classes, "classes"), ctypes.byref(out))
        self._own(out, lib.dcnn_metrics_destroy)

    @classmethod
    def from_scores(cls, scores: "numpy.typing.ArrayLike", labels: "numpy.typing.ArrayLike") -> "Metrics":
        """Metrics of (N, K) scores (probabilities) against N labels."""
        numpy = _numpy()
        scores = numpy.ascontiguousarray(scores, dtype=numpy.float32)
        m = cls(scores.shape[1])
        m.add(scores, labels)
        return m

    def add(self, scores: "numpy.typing.ArrayLike", labels: "numpy.typing.ArrayLike") -> None:
        """Adds (N, K) scores and N labels."""
        numpy = _numpy()
        scores = numpy.ascontiguousarray(scores, dtype=numpy.float32)
        labels = numpy.ascontiguousarray(labels, dtype=numpy.int32)
        if scores.ndim != 2 or labels.shape != (scores.shape[0],):
            raise ValueError(f"scores {scores.shape} and labels {labels.shape} do not match")
        lib.dcnn_metrics_add(self.ptr, scores.ctypes.data, labels.ctypes.data, scores.shape[0])

    def __len__(self) -> int:
        return lib.dcnn_metrics_count(self.ptr)

    def get(self, name: str, weighted: bool = False) -> float:
        """One metric, macro-averaged over classes (or weighted by support)."""
        value = ctypes.c_double()
        lib.dcnn_metrics_get(self.ptr, METRICS[name], int(weighted), ctypes.byref(value))
        return value.value

    def to_dict(self) -> Dict[str, float]:
        """Every metric, macro-averaged."""
        return {name: self.get(name) for name in METRICS}

    def confusion(self):
        """The (K, K) confusion matrix, rows are true classes."""
        numpy = _numpy()
        k = lib.dcnn_metrics_classes(self.ptr)
        matrix = numpy.zeros((k, k), dtype=numpy.int64)
        lib.dcnn_metrics_confusion(self.ptr, matrix.ctypes.data)
        return matrix

    def roc_curve(self, cls: int):
        """(fpr, tpr) of class ``cls`` against the rest."""
        numpy = _numpy()
        capacity = len(self) + 2
        fpr, tpr = numpy.zeros(capacity), numpy.zeros(capacity)
        points = ctypes.c_int64()
        cls = _checks.whole_number(cls, "cls", 0, _checks.INT32_MAX)
        lib.dcnn_metrics_roc_curve(self.ptr, cls, fpr.ctypes.data, tpr.ctypes.data, capacity, ctypes.byref(points))
        return fpr[:points.value], tpr[:points.value]
