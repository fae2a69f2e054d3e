"""Models: built from the zoo or loaded from a file; fit, evaluate, predict, save."""
from __future__ import annotations

import contextlib
import ctypes
import os
from typing import Dict, List, Optional

from . import _checks, _lib
from ._handle import Handle
from ._lib import lib
from .data import Dataset, Pipeline
from .metrics import Metrics
from ._progress import progress_stream
from .robustness import attack_settings
from .tensor import Tensor, _numpy

TRAIN_OPTIONS = {"epochs": 0, "batch_size": 1, "seed": 2, "augment": 3, "patience": 4, "monitor_loss": 5,
                 "keep_best": 6, "progress": 7, "max_steps": 8}


def _zoo_arguments(channels, height, width, classes, seed):
    """The zoo builders' int32 sizes and uint64 seed, refused rather than wrapped by ctypes."""
    return (_checks.count(channels, "channels"), _checks.count(height, "height"), _checks.count(width, "width"),
            _checks.count(classes, "classes"), _checks.seed(seed))


class Model(Handle):
    """A libdigitcnn model (the C object; this class owns it)."""

    def __init__(self, ptr):
        self._own(ptr, lib.dcnn_model_destroy)
        self.history: List[Dict[str, float]] = []

    # ---- construction ----
    @classmethod
    def paper_cnn(cls, channels: int = 1, height: int = 28, width: int = 28, classes: int = 10,
                  seed: int = 1) -> "Model":
        """The paper's CNN (conv + batch-norm + ReLU blocks, pooling, dropout, dense, softmax)."""
        out = _lib.out_handle()
        lib.dcnn_zoo_paper_cnn(None, *_zoo_arguments(channels, height, width, classes, seed), ctypes.byref(out))
        return cls(out)

    @classmethod
    def lenet5(cls, channels: int = 1, height: int = 28, width: int = 28, classes: int = 10, seed: int = 1) -> "Model":
        """LeNet-5, one of the paper's Table 1 baselines."""
        out = _lib.out_handle()
        lib.dcnn_zoo_lenet5(None, *_zoo_arguments(channels, height, width, classes, seed), ctypes.byref(out))
        return cls(out)

    @classmethod
    def load(cls, path: "os.PathLike[str] | str") -> "Model":
        """Loads a model file (any format version, checkpoints included)."""
        out = _lib.out_handle()
        lib.dcnn_model_load(None, os.fsencode(path), ctypes.byref(out))
        return cls(out)

    def save(self, path: "os.PathLike[str] | str", compression: int = 0) -> None:
        """Saves atomically; ``compression`` 1-9 compresses with zlib."""
        compression = _checks.whole_number(compression, "compression", 0, 9)
        lib.dcnn_model_save_compressed(self.ptr, os.fsencode(path), compression)

    @contextlib.contextmanager
    def profile(self):
        """Records per-layer timings of the calls made inside the block (C ``profile.h``)::

            with model.profile() as prof:
                model.fit(train, epochs=1)
            print(prof.format(dc.gemm_gflops()))
            rows = prof.entries()

        The profile is detached when the block ends; it stays readable until closed."""
        prof = Profile(self)
        lib.dcnn_model_set_profile(self.ptr, prof.ptr)
        try:
            yield prof
        finally:
            lib.dcnn_model_set_profile(self.ptr, None)

    # ---- description ----
    def summary(self) -> str:
        """The layer table with output shapes and parameter counts."""
        text = ctypes.c_void_p()
        lib.dcnn_model_summary(self.ptr, ctypes.byref(text))
        return _lib.take_string(text)

    @property
    def input_shape(self):
        """One sample's shape, e.g. (1, 28, 28)."""
        return lib.dcnn_model_input_shape(self.ptr).to_tuple()

    @property
    def output_shape(self):
        """One sample's output shape, e.g. (10,)."""
        return lib.dcnn_model_output_shape(self.ptr).to_tuple()

    @property
    def metadata(self) -> Dict[str, str]:
        """The metadata a model file carries (preprocessing, classes, training summary)."""
        entries = {}
        for i in range(lib.dcnn_model_metadata_count(self.ptr)):
            key, value = ctypes.c_char_p(), ctypes.c_char_p()
            lib.dcnn_model_metadata_entry(self.ptr, i, ctypes.byref(key), ctypes.byref(value))
            entries[key.value.decode()] = value.value.decode()
        return entries

    def set_metadata(self, key: str, value: Optional[str]) -> None:
        """Sets (or with ``None`` removes) a metadata entry."""
        lib.dcnn_model_set_metadata(self.ptr, key.encode(), None if value is None else value.encode())

    # ---- use ----
    def predict(self, x: "numpy.typing.ArrayLike") -> "numpy.ndarray":  # noqa: F821
        """Outputs for an (N, C, H, W) float32 batch (shared with C, not copied, when contiguous float32).
        NaN or infinite inputs raise ValueError naming the first one."""
        numpy = _numpy()
        inputs = x if isinstance(x, Tensor) else Tensor(x)
        _checks.finite(inputs.array, "x")  # as Session.predict: ValueError here (the C library says DCNN_ERR_NUMERIC)
        out = Tensor.zeros((inputs.shape[0],) + tuple(self.output_shape))
        lib.dcnn_model_predict(self.ptr, inputs.ptr, out.ptr)
        result = out.array
        inputs_keepalive = inputs  # noqa: F841  (the C call is done; keeps the order obvious)
        return numpy.asarray(result)

    def fit(self, train: Dataset, validation: Optional[Dataset] = None, pipeline: Optional[Pipeline] = None,
            epochs: int = 10, batch_size: int = 32, learning_rate: float = 1e-3, seed: int = 1, augment: bool = True,
            progress: int = 1, checkpoint_dir: Optional[str] = None, adversarial: Optional[Dict[str, float]] = None,
            **options: float) -> List[Dict[str, float]]:
        """Trains with Adam through the library's training loop (its progress
        output included) and returns the history, one dict per epoch.

        ``adversarial`` turns on adversarial training, e.g.
        ``{"kind": "fgsm", "epsilon": 0.03, "ratio": 0.5}`` (other keys as for
        :func:`digitcnn.robustness.attack_settings`). Other keyword options are
        the trainer's (``patience``, ``monitor_loss``, ``keep_best``, ``max_steps``)."""
        pipeline = pipeline or Pipeline(paper=True)
        adam, trainer = _lib.out_handle(), _lib.out_handle()
        lib.dcnn_optimizer_create_adam(None, learning_rate, 0.9, 0.999, 1e-7, 0.0, ctypes.byref(adam))
        try:
            lib.dcnn_trainer_create(None, self.ptr, adam, ctypes.byref(trainer))
            settings = dict(epochs=epochs, batch_size=batch_size, seed=seed, augment=int(augment), progress=progress)
            settings.update(options)
            for name, value in settings.items():
                lib.dcnn_trainer_set(trainer, TRAIN_OPTIONS[name], float(value))
            if checkpoint_dir:
                lib.dcnn_trainer_set_checkpoint_dir(trainer, os.fsencode(checkpoint_dir))
            if adversarial:
                settings = dict(adversarial)
                ratio = float(settings.pop("ratio", 0.5))
                chosen = attack_settings(**settings)
                lib.dcnn_trainer_set_adversarial(trainer, ctypes.byref(chosen), ratio)
            with progress_stream() as stream:
                if stream is not None:
                    lib.dcnn_trainer_set_progress_stream(trainer, stream)
                try:
                    lib.dcnn_trainer_fit(trainer, train.ptr, validation.ptr if validation else None, pipeline.ptr)
                finally:
                    if stream is not None:
                        lib.dcnn_trainer_set_progress_stream(trainer, None)
            self.history = []
            for i in range(lib.dcnn_trainer_epochs_done(trainer)):
                stats = _lib.EpochStats()
                lib.dcnn_trainer_history(trainer, i, ctypes.byref(stats))
                self.history.append({name: getattr(stats, name) for name in _lib.EpochStats.field_names()})
            self.best_epoch = lib.dcnn_trainer_best_epoch(trainer)
        finally:
            if trainer:
                lib.dcnn_trainer_destroy(trainer)
            lib.dcnn_optimizer_destroy(adam)
        return self.history

    def evaluate(self, data: Dataset, pipeline: Optional[Pipeline] = None, batch_size: int = 256,
                 return_metrics: bool = False):
        """Metrics on ``data`` (no augmentation) as a dict: accuracy, precision,
        recall, specificity, f1, g_measure, roc_auc, log_loss (macro averages)
        and loss. With ``return_metrics`` also the :class:`Metrics` object."""
        pipeline = pipeline or Pipeline(paper=True)
        batch_size = _checks.count(batch_size, "batch_size")
        metrics = Metrics(data.classes)
        loss = ctypes.c_double()
        lib.dcnn_evaluate(self.ptr, data.ptr, pipeline.ptr, batch_size, metrics.ptr, ctypes.byref(loss))
        result = metrics.to_dict()
        result["loss"] = loss.value
        return (result, metrics) if return_metrics else result

    def batch(self, data: Dataset, indices: "numpy.typing.ArrayLike", pipeline: Optional[Pipeline] = None):
        """Preprocessed (N, C, H, W) inputs for samples ``indices`` of ``data`` (no augmentation)."""
        pipeline = pipeline or Pipeline(paper=True)
        indices = _checks.whole_numbers(indices, "indices")
        out = Tensor.zeros((len(indices),) + tuple(self.input_shape))
        lib.dcnn_pipeline_batch(pipeline.ptr, data.ptr, indices.ctypes.data, len(indices), 0, 0, 0, out.ptr, None)
        return out.array


PROFILE_PASSES = ("forward", "backward", "inference", "loss", "optimizer", "data")


class Profile(Handle):
    """Per-layer timings of one model (C ``dcnn_profile``); made by :meth:`Model.profile`.
    It keeps its model alive."""

    def __init__(self, model: Model):
        self.model = model
        out = _lib.out_handle()
        lib.dcnn_profile_create(model.ptr, ctypes.byref(out))
        self._own(out, lib.dcnn_profile_destroy)

    def entries(self, recorded_only: bool = True) -> List[Dict[str, object]]:
        """One dict per layer and pass (then the loss, optimizer and data phases): ``layer``
        (-1 for phases), ``type``, ``pass``, ``calls``, ``seconds``, ``flops`` (estimated);
        by default only those with calls."""
        rows = []
        entry = _lib.ProfileEntry()
        for i in range(lib.dcnn_profile_count(self.ptr)):
            lib.dcnn_profile_entry_get(self.ptr, i, ctypes.byref(entry))
            if recorded_only and entry.calls == 0:
                continue
            rows.append({"layer": entry.layer, "type": entry.type_name.decode(), "pass": PROFILE_PASSES[entry.pass_],
                         "calls": entry.calls, "seconds": entry.seconds, "flops": entry.flops})
        return rows

    def reset(self) -> None:
        """Zeroes every entry."""
        lib.dcnn_profile_reset(self.ptr)

    def format(self, gemm_gflops: float = 0.0) -> str:
        """The table: ms per call, GFLOPS and, given the GEMM ceiling, its percentage."""
        text = ctypes.c_void_p()
        lib.dcnn_profile_format(self.ptr, float(gemm_gflops), ctypes.byref(text))
        return _lib.take_string(text)


def gemm_gflops(n: int = 2048, threads: int = 0) -> float:
    """The library GEMM's rate on n x n matrices (the ceiling profiles compare with);
    ``threads`` 0: the default context's. Takes seconds for n = 2048."""
    out = ctypes.c_double()
    lib.dcnn_gemm_gflops(None, _checks.count(n, "n"), _checks.count(threads, "threads", 0), ctypes.byref(out))
    return out.value


class Session(Handle):
    """An inference session on a model (C ``session.h``): give each thread its own session
    and share one model read-only. While sessions exist the model cannot be trained; close
    them first. The session keeps its model alive. ``threads``: 1 (each caller thread is a
    worker), or 0 for the model context's count, with which results equal ``Model.predict``
    bit for bit."""

    def __init__(self, model: Model, max_batch: int, threads: int = 1):
        max_batch = _checks.count(max_batch, "max_batch")
        threads = _checks.count(threads, "threads", low=0)
        out = _lib.out_handle()
        lib.dcnn_session_create(model.ptr, max_batch, threads, ctypes.byref(out))
        self._own(out, lambda ptr, model=model: lib.dcnn_session_destroy(ptr))
        self.model = model
        self.max_batch = max_batch

    def predict(self, x: "numpy.typing.ArrayLike") -> "numpy.ndarray":  # noqa: F821
        """Outputs for an (N, C, H, W) float32 batch with N <= ``max_batch``; other sessions of
        the same model may predict at the same time from other threads. NaN or infinite
        inputs raise ValueError naming the first one (as :meth:`Model.predict`)."""
        numpy = _numpy()
        inputs = x if isinstance(x, Tensor) else Tensor(x)
        _checks.finite(inputs.array, "x")
        out = Tensor.zeros((inputs.shape[0],) + tuple(self.model.output_shape))
        lib.dcnn_session_predict(self.ptr, inputs.ptr, out.ptr)
        return numpy.asarray(out.array)
