"""Robustness: the library's perturbation suite and L-infinity attacks on NumPy batches.

Batches are (N, C, H, W) float32 arrays of pixels in [0, 1], as
:meth:`Model.batch` makes them with a pipeline that does not standardise (the
paper's). Results are new arrays; the inputs are not changed.

    noisy = dc.perturb(x, "gaussian_noise", 0.2, seed=1)
    adversarial = dc.attack(model, x, labels, "pgd", epsilon=0.03)
"""
from __future__ import annotations

import ctypes
from typing import TYPE_CHECKING, Dict, List, Optional

from . import _checks, _lib
from ._handle import borrowed
from ._lib import lib
from .tensor import Tensor, _numpy, float32

from .data import Dataset, Pipeline  # noqa: F401 (annotations; data does not import this module)
from .tensor import np as numpy  # noqa: F401 (typing.get_type_hints resolves "numpy.typing.ArrayLike" here)

if TYPE_CHECKING:
    from .model import Model  # at run time model.py sets it here (it imports this module)

#: Perturbation names (``dcnn_perturbation`` values in order).
PERTURBATIONS: List[str] = [lib.dcnn_perturbation_name(k).decode() for k in range(lib.dcnn_perturbation_count())]


def _kind(name: str) -> int:
    try:
        return PERTURBATIONS.index(name)
    except ValueError:
        raise KeyError(f"unknown perturbation {name!r} (known: {', '.join(PERTURBATIONS)})") from None


def perturbation_levels(name: str) -> List[float]:
    """The standard severities of perturbation ``name``, mildest first."""
    levels = ctypes.POINTER(ctypes.c_float)()
    count = lib.dcnn_perturbation_levels(_kind(name), ctypes.byref(levels))
    return [float(levels[i]) for i in range(count)]


def perturbation_unit(name: str) -> str:
    """What the severity of perturbation ``name`` measures."""
    return lib.dcnn_perturbation_unit(_kind(name)).decode()


def perturb(x: "numpy.typing.ArrayLike", name: str, severity: float, seed: int = 1,
            first_index: int = 0) -> "numpy.ndarray":
    """A perturbed copy of batch ``x``; sample n draws from (seed, first_index + n). Numbers only,
    as :class:`Tensor` takes them: complex or text arrays raise TypeError (NumPy's cast would drop
    the imaginary part or parse the text), NaN, infinite or beyond-float32 values ValueError."""
    kind, severity = _kind(name), _checks.number(severity, "severity")  # checked for an empty batch too
    seed, first_index = _checks.seed(seed), _checks.whole_number(first_index, "first_index", 0, 2**63 - 1)
    numpy = _numpy()
    source = numpy.asarray(x)
    result = float32(source, "x")  # x itself when it is C-contiguous float32: copied below
    if numpy.may_share_memory(result, source):
        result = result.copy()
    if not result.size:  # the C library would refuse it naming dcnn_tensor_wrap, a call the caller never made
        if result.ndim == 4 and result.shape[0] == 0 and min(result.shape[1:]) > 0:
            # the settings' ranges are the library's: checked on one blank sample, as they would be on a batch
            blank = Tensor(numpy.zeros((1,) + result.shape[1:], numpy.float32))  # held until the call returns
            lib.dcnn_perturb(blank.ptr, kind, severity, seed, first_index)
            return result
        raise ValueError(f"x is empty (shape {tuple(result.shape)}): give an (N, C, H, W) batch")
    _checks.finite(result, "x")
    tensor = Tensor(result)  # shares result's memory; held until the call returns
    lib.dcnn_perturb(tensor.ptr, kind, severity, seed, first_index)
    return result


def attack_settings(kind: str = "fgsm", epsilon: float = 0.03, step: Optional[float] = None,
                    iterations: Optional[int] = None, random_start: Optional[bool] = None,
                    seed: int = 1) -> _lib.Attack:
    """``dcnn_attack`` settings: ``kind`` "fgsm" or "pgd"; unset PGD fields keep the
    library's defaults (10 iterations of epsilon / 4 from a random start)."""
    if kind not in ("fgsm", "pgd"):
        raise ValueError(f"attack kind is 'fgsm' or 'pgd', got {kind!r}")
    settings = _lib.Attack()
    (lib.dcnn_attack_fgsm if kind == "fgsm" else lib.dcnn_attack_pgd)(_checks.number(epsilon, "epsilon"),
                                                                      ctypes.byref(settings))
    if step is not None:
        settings.step = _checks.number(step, "step")
    if iterations is not None:
        settings.iterations = _checks.count(iterations, "iterations")
    if random_start is not None:
        settings.random_start = _checks.flag(random_start, "random_start")
    settings.seed = _checks.seed(seed)
    return settings


def attack(model: "Model", x: "numpy.typing.ArrayLike", labels: "numpy.typing.ArrayLike", kind: str = "fgsm",
           epsilon: float = 0.03, **settings) -> "numpy.ndarray":
    """Adversarial versions of batch ``x`` against ``model`` (white-box, its own
    input gradients); ``settings`` as for :func:`attack_settings`."""
    from .model import Model, _empty_batch  # here: model.py imports this module
    _checks.instance(model, Model, "attack: model")
    chosen = attack_settings(kind, epsilon, **settings)  # checked for an empty batch too
    if not isinstance(x, Tensor) and _empty_batch(x, model.input_shape, "x"):  # (0, C, H, W): nothing to attack
        if _checks.whole_numbers(labels, "labels").shape != (0,):
            raise ValueError(f"labels must have shape (0,) for an empty batch, got {_numpy().shape(labels)}")
        # The settings' ranges are the library's: checked by attacking one blank sample of class 0, with one
        # PGD iteration (one gradient, not as many as asked); the iteration count with epsilon 0, which the
        # library checks and then returns from before the model runs.
        blank, label = Tensor.zeros((1,) + tuple(model.input_shape)), _numpy().zeros(1, _numpy().int32)
        attacked = Tensor.zeros(blank.shape)  # held until the calls return
        once = _lib.Attack.from_buffer_copy(chosen)
        trials = [once]
        if kind == "pgd" and chosen.iterations != 1:
            once.iterations = 1
            counted = _lib.Attack.from_buffer_copy(chosen)
            counted.epsilon = counted.step = 0.0
            trials.append(counted)
        with _model_call(model), borrowed(blank):
            for settings_copy in trials:
                lib.dcnn_attack_run(model.ptr, ctypes.byref(settings_copy), blank.ptr, label.ctypes.data,
                                    attacked.ptr)
        return _numpy().zeros(_numpy().shape(x), dtype=_numpy().float32)
    inputs = x if isinstance(x, Tensor) else Tensor(x)  # as Model.predict takes them
    _checks.finite(inputs.array, "x")
    labels = _checks.whole_numbers(labels, "labels")
    if labels.shape != (inputs.shape[0],):
        raise ValueError(f"labels must have shape ({inputs.shape[0]},), got {labels.shape}")
    out = Tensor.zeros(inputs.shape)
    with _model_call(model), borrowed(inputs):  # one call at a time on the model (Model's docstring)
        lib.dcnn_attack_run(model.ptr, ctypes.byref(chosen), inputs.ptr, labels.ctypes.data, out.ptr)
    return out.array


def _model_call(model):
    """The model's lock for one call, freeing the profiles closed meanwhile (model._model_call)."""
    from .model import _model_call as call  # here: model.py imports this module
    return call(model)


def _model_and_data(fn: str, model, data, pipeline) -> None:
    from .model import Model, _data_arguments  # here: model.py imports this module
    _checks.instance(model, Model, f"{fn}: model")
    _data_arguments(fn, data, None, pipeline)


def evaluate_perturbed(model: "Model", data: "Dataset", name: str, severity: float,
                       pipeline: Optional["Pipeline"] = None, seed: int = 1, batch_size: int = 256) -> Dict[str, float]:
    """Metrics of ``model`` on ``data`` with every batch perturbed (as :meth:`Model.evaluate`)."""
    from .metrics import Metrics
    _model_and_data("evaluate_perturbed", model, data, pipeline)
    pipeline = pipeline or model.pipeline()
    metrics, loss = Metrics(model.output_classes), ctypes.c_double()
    with _model_call(model), borrowed(data, pipeline):  # one call at a time on the model (Model's docstring)
        lib.dcnn_evaluate_perturbed(model.ptr, data.ptr, pipeline.ptr, _checks.count(batch_size, "batch_size"),
                                    _kind(name), _checks.number(severity, "severity"), _checks.seed(seed), metrics.ptr,
                                    ctypes.byref(loss))
    result = metrics.to_dict()
    result["loss"] = loss.value
    return result


def evaluate_attacked(model: "Model", data: "Dataset", kind: str = "fgsm", epsilon: float = 0.03,
                      pipeline: Optional["Pipeline"] = None, batch_size: int = 256, **settings) -> Dict[str, float]:
    """Metrics of ``model`` on adversarial versions of ``data`` (as :meth:`Model.evaluate`)."""
    from .metrics import Metrics
    _model_and_data("evaluate_attacked", model, data, pipeline)
    pipeline = pipeline or model.pipeline()
    metrics, loss = Metrics(model.output_classes), ctypes.c_double()
    chosen = attack_settings(kind, epsilon, **settings)
    with _model_call(model), borrowed(data, pipeline):  # one call at a time on the model (Model's docstring)
        lib.dcnn_evaluate_attacked(model.ptr, data.ptr, pipeline.ptr, _checks.count(batch_size, "batch_size"),
                                   ctypes.byref(chosen), metrics.ptr, ctypes.byref(loss))
    result = metrics.to_dict()
    result["loss"] = loss.value
    return result
