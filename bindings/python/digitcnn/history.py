"""What :meth:`Model.fit` returns: the per-epoch statistics, as Keras's ``History``."""
from __future__ import annotations

import math
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Union

# Per-epoch bookkeeping that is not a series one plots (the epoch number is History.epoch).
_NOT_SERIES = ("epoch", "epochs")
_VALIDATION = ("val_loss", "val_accuracy")


class History(Sequence):
    """The epochs one :meth:`Model.fit` call completed.

    - ``history``: a dict of lists, one value per epoch, as Keras's ``History.history``:
      ``loss``, ``accuracy``, ``learning_rate``, ``seconds``, ``steps`` and, with validation
      data, ``val_loss`` and ``val_accuracy``;
    - ``epochs``: the per-epoch records (dicts with the same keys, plus ``epoch``, 1-based,
      and ``epochs``, the number asked for);
    - ``epoch``: the epoch numbers (1-based, as the library counts them);
    - ``best_epoch``: the (1-based) best validation epoch, whose weights the model holds
      with ``keep_best`` (copied back, or the last epoch's own); 0 without validation data
      or without ``keep_best`` (as C ``dcnn_trainer_best_epoch``);
    - ``params``: the settings ``fit`` ran with.

    It is also a sequence of the per-epoch records (``len(h)``, ``h[-1]["loss"]``, iteration),
    as ``Model.history`` was before 0.2, and compares equal to the list of those records."""

    def __init__(self, records: Sequence[Mapping[str, float]] = (), best_epoch: int = 0,
                 params: Optional[Mapping[str, Any]] = None):
        self.epochs: List[Dict[str, float]] = [dict(record) for record in records]
        self.best_epoch = int(best_epoch)
        self.params: Dict[str, Any] = dict(params or {})

    @property
    def epoch(self) -> List[int]:
        """The epoch numbers, 1-based."""
        return [int(record["epoch"]) for record in self.epochs]

    @property
    def history(self) -> Dict[str, List[float]]:
        """One list per statistic, one value per epoch (a new dict on each access). The
        validation series are left out when no epoch had validation data (they would be NaN)."""
        series: Dict[str, List[float]] = {}
        for record in self.epochs:
            for name, value in record.items():
                if name not in _NOT_SERIES:
                    series.setdefault(name, []).append(value)
        for name in _VALIDATION:
            if name in series and all(isinstance(v, float) and math.isnan(v) for v in series[name]):
                del series[name]
        return series

    @property
    def best(self) -> Optional[Dict[str, float]]:
        """The record of :attr:`best_epoch`, or None when there is none."""
        return next((r for r in self.epochs if r.get("epoch") == self.best_epoch), None) if self.best_epoch else None

    def __len__(self) -> int:
        return len(self.epochs)

    def __getitem__(self, index: Union[int, slice]):  # type: ignore[override]
        return self.epochs[index]

    def __iter__(self) -> Iterator[Dict[str, float]]:
        return iter(self.epochs)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, History):
            return self.epochs == other.epochs and self.best_epoch == other.best_epoch
        if isinstance(other, list):
            return self.epochs == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  (mutable, like the list it replaces)

    def __repr__(self) -> str:
        if not self.epochs:
            return "<History: no epochs>"
        last = self.epochs[-1]
        parts = [f"{len(self.epochs)} epoch{'s' if len(self.epochs) != 1 else ''}"]
        for name in ("loss", "accuracy", "val_loss", "val_accuracy"):
            value = last.get(name)
            if isinstance(value, float) and not math.isnan(value):
                parts.append(f"{name} {value:.4f}")
        if self.best_epoch:
            parts.append(f"best epoch {self.best_epoch}")
        return f"<History: {', '.join(parts)}>"
