"""Finding libdigitcnn and declaring the C prototypes the binding calls.

The shared library is ``$DIGITCNN_LIBRARY`` (a path to ``libdigitcnn.so*``) when that is set
and not empty: an explicit choice is honoured or the import fails, with an ImportError naming
the variable and why (absent, not libdigitcnn, another ABI version, an older build lacking a
function), never another library found elsewhere. Otherwise it is looked up, in order:

1. next to this file (``digitcnn/libdigitcnn.so.0.2``: a copy bundled into the package, see
   the README's "Installing");
2. the build tree this package sits in (``<repo>/build/lib``), so that a source checkout
   uses the library built beside it rather than an older installed one;
3. the install prefix (``ctypes.util.find_library("digitcnn")``, then
   ``<sys.prefix>/lib`` and the standard library directories);

the first place holding a libdigitcnn of this binding's ABI, with every function the binding
calls (an older build of the same version may lack some), is used; the ImportError lists every
place with the reason it was passed over.

Every call that returns a ``dcnn_status`` is checked: a non-zero status raises
:class:`DigitcnnError` carrying ``dcnn_last_error()`` (a subclass that is also the matching
built-in exception, see ``_errors.py``). The binding calls the library through ``lib``, which
passes every call through the exit gate (``_exit.py``); ``raw`` is the ctypes library itself.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from ctypes import POINTER, c_char_p, c_double, c_float, c_int, c_int32, c_int64, c_size_t, c_uint32, c_uint64, c_void_p
from pathlib import Path
from typing import List, Optional

from ._errors import STATUS_NAMES, DigitcnnError, error_for  # noqa: F401  (re-exported)
from ._exit import gate

MAX_DIMS = 4
# The ABI these mirrors follow: before 1.0 each minor version has its own
# (SONAME libdigitcnn.so.0.MINOR, docs/api-conventions.md).
ABI_VERSION = (0, 2)
SONAME = "libdigitcnn.so.%d.%d" % ABI_VERSION


class Shape(ctypes.Structure):
    """``dcnn_shape``: rank and up to four extents, outermost first."""

    _fields_ = [("ndim", c_int32), ("dims", c_int32 * MAX_DIMS)]

    @classmethod
    def of(cls, dims) -> "Shape":
        dims = [int(d) for d in dims]
        if not 1 <= len(dims) <= MAX_DIMS:
            raise ValueError(f"a shape has 1 to {MAX_DIMS} dimensions, got {len(dims)}")
        for d in dims:  # a c_int32 would take 2**32 + 5 as 5
            if not 0 <= d <= 2**31 - 1:
                raise ValueError(f"shape {tuple(dims)}: extents are 0 to 2**31 - 1 (C int32)")
        shape = cls()
        shape.ndim = len(dims)
        for i, d in enumerate(dims):
            shape.dims[i] = d
        return shape

    def to_tuple(self) -> tuple:
        return tuple(self.dims[i] for i in range(self.ndim))


class Sized(ctypes.Structure):
    """A struct that grows (docs/api-conventions.md): it starts with ``struct_size``,
    set here to this mirror's size, so the library writes and reads only the
    fields the mirror has. Mirrors list the C fields in order, appending only."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.struct_size = ctypes.sizeof(self)

    @classmethod
    def field_names(cls) -> List[str]:
        """The data fields (without ``struct_size``)."""
        return [name for name, _ in cls._fields_ if name != "struct_size"]


class Param(Sized):
    """``dcnn_param``."""

    _fields_ = [("struct_size", c_size_t), ("name", c_char_p), ("value", c_void_p), ("grad", c_void_p), ("flags", c_uint32)]


class EpochStats(Sized):
    """``dcnn_epoch_stats``."""

    _fields_ = [
        ("struct_size", c_size_t), ("epoch", c_int32), ("epochs", c_int32), ("steps", c_int32), ("seconds", c_double),
        ("learning_rate", c_double), ("loss", c_double), ("accuracy", c_double),
        ("val_loss", c_double), ("val_accuracy", c_double),
    ]


class Progress(ctypes.Structure):
    """``dcnn_progress``: one progress report of ``dcnn_trainer_fit`` (read only if ``struct_size``
    covers this mirror)."""

    _fields_ = [
        ("struct_size", c_size_t), ("event", c_int), ("epoch", c_int32), ("epochs", c_int32), ("step", c_int32),
        ("steps", c_int32), ("samples", c_int64), ("total_samples", c_int64), ("loss", c_double),
        ("accuracy", c_double), ("learning_rate", c_double), ("val_loss", c_double), ("val_accuracy", c_double),
        ("seconds", c_double), ("train_seconds", c_double), ("samples_per_second", c_double),
        ("eta_seconds", c_double), ("fit_eta_seconds", c_double), ("early_stopped", c_int32),
        ("restored_epoch", c_int32), ("best_value", c_double), ("monitor_loss", c_int32), ("status", c_int),
    ]


# dcnn_progress_fn: dcnn_progress_action (*)(const dcnn_progress *, void *)
PROGRESS_FN = ctypes.CFUNCTYPE(c_int, POINTER(Progress), c_void_p)
STATUS_CANCELLED = -10
# dcnn_log_fn: void (*)(dcnn_log_level, const char *, void *)
LOG_FN = ctypes.CFUNCTYPE(None, c_int, c_char_p, c_void_p)


class Attack(Sized):
    """``dcnn_attack``: an L-infinity attack's settings."""

    _fields_ = [
        ("struct_size", c_size_t), ("kind", c_int), ("epsilon", c_float), ("step", c_float), ("iterations", c_int32),
        ("random_start", c_int32), ("seed", c_uint64),
    ]


class ZooOptions(Sized):
    """``dcnn_zoo_options``: the zoo builders' settings, made with ``DCNN_ZOO_OPTIONS_INIT``'s
    defaults here (``dcnn_zoo_options_init`` writes the same, only the bytes of this mirror's
    ``struct_size``)."""

    _fields_ = [
        ("struct_size", c_size_t), ("height", c_int32), ("width", c_int32), ("channels", c_int32),
        ("classes", c_int32), ("seed", c_uint64), ("conv_dropout", c_float), ("dense_dropout", c_float),
        ("bn_momentum", c_float), ("dense_units", c_int32), ("batch_norm", c_int32), ("width_multiplier", c_float),
        ("extra_blocks", c_int32), ("reserved", c_int32),
        ("extra_stages", c_int32),
    ]

    DEFAULTS = dict(height=28, width=28, channels=1, classes=10, seed=1, conv_dropout=0.25, dense_dropout=0.5,
                    bn_momentum=0.99, dense_units=512, batch_norm=0, width_multiplier=1.0, extra_blocks=0,
                    reserved=0, extra_stages=0)  # DCNN_ZOO_OPTIONS_INIT

    def __init__(self, **fields):
        super().__init__(**{**self.DEFAULTS, **fields})


class ProfileEntry(Sized):
    """``dcnn_profile_entry``: one row of a per-layer profile."""

    _fields_ = [
        ("struct_size", c_size_t), ("layer", c_int32), ("type_name", c_char_p), ("pass_", c_int), ("calls", c_int64), ("seconds", c_double),
        ("flops", c_double), ("algorithm", c_char_p), ("weight_seconds", c_double),
    ]


H = c_void_p  # every opaque handle
P_H = POINTER(c_void_p)

# name: (restype, argtypes); restype "status" means c_int checked by _errcheck.
_PROTOTYPES = {
    "dcnn_context_create": ("status", [P_H]),
    "dcnn_context_destroy": (None, [H]),
    "dcnn_context_set_threads": ("status", [H, c_int32]),
    "dcnn_context_threads": (c_int32, [H]),
    "dcnn_context_live_allocations": (c_int64, [H]),  # the tests' leak checks
    "dcnn_context_set_log": ("status", [H, LOG_FN, c_int, c_void_p]),
    "dcnn_free": (None, [c_void_p]),
    "dcnn_tensor_create": ("status", [H, POINTER(Shape), P_H]),
    "dcnn_tensor_wrap": ("status", [H, POINTER(Shape), c_void_p, P_H]),
    "dcnn_tensor_destroy": (None, [H]),
    "dcnn_tensor_shape": (Shape, [H]),
    "dcnn_tensor_count": (c_int64, [H]),
    "dcnn_tensor_data": (c_void_p, [H]),
    "dcnn_model_load": ("status", [H, c_char_p, P_H]),
    "dcnn_model_load_memory": ("status", [H, c_void_p, c_size_t, P_H]),
    "dcnn_model_save": ("status", [H, c_char_p]),
    "dcnn_model_save_compressed": ("status", [H, c_char_p, c_int]),
    "dcnn_model_destroy": (None, [H]),
    "dcnn_model_summary": ("status", [H, POINTER(c_void_p)]),
    "dcnn_model_predict": ("status", [H, H, H]),
    "dcnn_session_create": ("status", [H, c_int32, c_int32, P_H]),
    "dcnn_session_predict": ("status", [H, H, H]),
    "dcnn_session_destroy": (None, [H]),
    "dcnn_profile_create": ("status", [H, P_H]),
    "dcnn_profile_destroy": (None, [H]),
    "dcnn_model_set_profile": ("status", [H, H]),
    "dcnn_profile_count": (c_int32, [H]),
    "dcnn_profile_entry_get": ("status", [H, c_int32, POINTER(ProfileEntry)]),
    "dcnn_profile_reset": (None, [H]),
    "dcnn_profile_format": ("status", [H, c_double, POINTER(c_void_p)]),
    "dcnn_gemm_gflops": ("status", [H, c_int32, c_int32, POINTER(c_double)]),
    "dcnn_model_input_shape": (Shape, [H]),
    "dcnn_model_output_shape": (Shape, [H]),
    "dcnn_model_layer_count": (c_int32, [H]),
    "dcnn_model_param_count": (c_int64, [H, c_uint32]),
    "dcnn_model_param_tensor_count": (c_int32, [H]),
    "dcnn_model_param": ("status", [H, c_int32, POINTER(Param), POINTER(c_int32)]),
    "dcnn_model_init": ("status", [H, c_uint64]),
    "dcnn_model_train_step": ("status", [H, H, H, POINTER(c_int32), POINTER(c_float), POINTER(c_int32)]),
    "dcnn_model_set_metadata": ("status", [H, c_char_p, c_char_p]),
    "dcnn_model_metadata": (c_char_p, [H, c_char_p]),
    "dcnn_model_metadata_count": (c_int32, [H]),
    "dcnn_model_metadata_entry": ("status", [H, c_int32, POINTER(c_char_p), POINTER(c_char_p)]),
    "dcnn_zoo_options_init": ("status", [POINTER(ZooOptions)]),
    "dcnn_zoo_paper_cnn": ("status", [H, POINTER(ZooOptions), P_H]),
    "dcnn_zoo_lenet5": ("status", [H, POINTER(ZooOptions), P_H]),
    "dcnn_zoo_lenet5_relu": ("status", [H, POINTER(ZooOptions), P_H]),
    "dcnn_zoo_vgg16": ("status", [H, POINTER(ZooOptions), P_H]),
    "dcnn_zoo_resnet50": ("status", [H, POINTER(ZooOptions), P_H]),
    "dcnn_zoo_mobilenetv2": ("status", [H, POINTER(ZooOptions), P_H]),
    "dcnn_model_predict_image": ("status", [H, c_void_p, c_int32, c_int32, c_int32, c_size_t, c_void_p, c_int32]),
    "dcnn_top_k": ("status", [c_void_p, c_int32, c_int32, c_void_p, c_void_p]),
    "dcnn_image_read_png": ("status", [c_char_p, c_int32, POINTER(c_void_p), POINTER(c_int32), POINTER(c_int32),
                                       POINTER(c_int32)]),
    "dcnn_optimizer_create_adam": ("status", [H, c_float, c_float, c_float, c_float, c_float, P_H]),
    "dcnn_optimizer_create_sgd": ("status", [H, c_float, c_float, c_int, c_float, P_H]),
    "dcnn_schedule_create_warmup_cosine": ("status", [c_float, c_int32, c_int32, c_float, P_H]),
    "dcnn_softmax_cross_entropy_smoothed": ("status", [H, POINTER(c_int32), c_float, H, H, POINTER(c_float)]),
    "dcnn_optimizer_destroy": (None, [H]),
    "dcnn_dataset_create": ("status", [H, c_int32, c_int32, c_int32, c_int32, c_void_p, c_void_p, c_int32, P_H]),
    "dcnn_dataset_load_mnist_m": ("status", [H, c_char_p, c_int, P_H]),
    "dcnn_dataset_destroy": (None, [H]),
    "dcnn_dataset_count": (c_int32, [H]),
    "dcnn_dataset_classes": (c_int32, [H]),
    "dcnn_dataset_label": (c_int32, [H, c_int32]),
    "dcnn_dataset_image_size": ("status", [H, POINTER(c_int32), POINTER(c_int32), POINTER(c_int32)]),
    "dcnn_dataset_image": (c_void_p, [H, c_int32]),
    "dcnn_dataset_split": ("status", [H, c_double, c_uint64, c_int, P_H, P_H]),
    "dcnn_dataset_subset": ("status", [H, c_void_p, c_int32, P_H]),
    "dcnn_pipeline_create": ("status", [H, P_H]),
    "dcnn_pipeline_destroy": (None, [H]),
    "dcnn_pipeline_set_paper_defaults": ("status", [H]),
    "dcnn_pipeline_set": ("status", [H, c_int, c_double]),
    "dcnn_pipeline_get": (c_double, [H, c_int]),
    "dcnn_pipeline_describe": ("status", [H, c_char_p, c_int32]),
    "dcnn_pipeline_configure": ("status", [H, c_char_p]),
    "dcnn_pipeline_configure_for_model": ("status", [H, H]),
    "dcnn_pipeline_set_standardization": ("status", [H, c_int32, POINTER(c_float), POINTER(c_float)]),
    "dcnn_pipeline_fit_standardization": ("status", [H, H, c_void_p, c_void_p]),
    "dcnn_pipeline_sample_shape": ("status", [H, H, POINTER(Shape)]),
    "dcnn_pipeline_batch": ("status", [H, H, c_void_p, c_int32, c_int, c_uint64, c_int64, H, c_void_p]),
    "dcnn_trainer_create": ("status", [H, H, H, P_H]),
    "dcnn_trainer_destroy": (None, [H]),
    "dcnn_trainer_set": ("status", [H, c_int, c_double]),
    "dcnn_trainer_set_seed": ("status", [H, c_uint64]),
    "dcnn_trainer_seed": (c_uint64, [H]),
    "dcnn_trainer_fit": ("status", [H, H, H, H]),
    "dcnn_trainer_epochs_done": (c_int32, [H]),
    "dcnn_trainer_history": ("status", [H, c_int32, POINTER(EpochStats)]),
    "dcnn_trainer_best_epoch": (c_int32, [H]),
    "dcnn_trainer_set_checkpoint_dir": ("status", [H, c_char_p]),
    "dcnn_trainer_set_checkpoint_every": ("status", [H, c_int32, c_double]),
    "dcnn_trainer_set_progress": ("status", [H, PROGRESS_FN, c_void_p]),
    "dcnn_progress_format": ("status", [POINTER(Progress), c_char_p, c_size_t]),
    "dcnn_trainer_set_adversarial": ("status", [H, POINTER(Attack), c_double]),
    "dcnn_perturbation_count": (c_int32, []),
    "dcnn_perturbation_name": (c_char_p, [c_int]),
    "dcnn_perturbation_unit": (c_char_p, [c_int]),
    "dcnn_perturbation_levels": (c_int32, [c_int, POINTER(POINTER(c_float))]),
    "dcnn_perturb": ("status", [H, c_int, c_float, c_uint64, c_int64]),
    "dcnn_attack_fgsm": ("status", [c_float, POINTER(Attack)]),
    "dcnn_attack_pgd": ("status", [c_float, POINTER(Attack)]),
    "dcnn_attack_run": ("status", [H, POINTER(Attack), H, c_void_p, H]),
    "dcnn_evaluate_perturbed": ("status", [H, H, H, c_int32, c_int, c_float, c_uint64, H, POINTER(c_double)]),
    "dcnn_evaluate_attacked": ("status", [H, H, H, c_int32, POINTER(Attack), H, POINTER(c_double)]),
    "dcnn_trainer_resume": ("status", [H, c_char_p]),
    "dcnn_evaluate": ("status", [H, H, H, c_int32, H, POINTER(c_double)]),
    "dcnn_evaluate_tta": ("status", [H, H, H, c_int32, c_int32, c_int32, H, POINTER(c_double)]),
    "dcnn_evaluate_ensemble": ("status", [POINTER(c_void_p), POINTER(c_void_p), POINTER(c_float), c_int32, H, c_int32,
                                          H, POINTER(c_double)]),
    "dcnn_recipe_count": (c_int32, []),
    "dcnn_recipe_name": (c_char_p, [c_int32]),
    "dcnn_recipe_settings": (c_char_p, [c_char_p]),
    "dcnn_recipe_ensemble_count": (c_int32, []),
    "dcnn_recipe_ensemble_name": (c_char_p, [c_int32]),
    "dcnn_recipe_ensemble_member": (c_char_p, [c_char_p, c_int32]),
    "dcnn_recipe_key": (c_int, [c_int32, POINTER(c_char_p), POINTER(c_double)]),
    "dcnn_recipe_value": ("status", [c_char_p, c_char_p, POINTER(c_double)]),
    "dcnn_recipe_check": ("status", [c_char_p]),
    "dcnn_recipe_configure_pipeline": ("status", [c_char_p, H, H]),
    "dcnn_recipe_configure_zoo": ("status", [c_char_p, POINTER(ZooOptions)]),
    "dcnn_recipe_create_optimizer": ("status", [H, c_char_p, P_H]),
    "dcnn_recipe_create_schedule": ("status", [c_char_p, P_H]),
    "dcnn_recipe_configure_trainer": ("status", [c_char_p, H]),
    "dcnn_trainer_set_schedule": ("status", [H, H]),
    "dcnn_schedule_destroy": (None, [H]),
    "dcnn_metrics_create": ("status", [H, c_int32, P_H]),
    "dcnn_metrics_destroy": (None, [H]),
    "dcnn_metrics_add": ("status", [H, c_void_p, c_void_p, c_int32]),
    "dcnn_metrics_count": (c_int64, [H]),
    "dcnn_metrics_classes": (c_int32, [H]),
    "dcnn_metrics_get": ("status", [H, c_int, c_int, POINTER(c_double)]),
    "dcnn_metrics_class": ("status", [H, c_int, c_int32, POINTER(c_double)]),
    "dcnn_metrics_confusion": ("status", [H, c_void_p, c_int64]),
    "dcnn_metrics_roc_curve": ("status", [H, c_int32, c_void_p, c_void_p, c_int64, POINTER(c_int64)]),
}

# Every function the binding calls: a library lacking one is refused at import (_open).
_REQUIRED = ("dcnn_last_error", "dcnn_last_error_path", "dcnn_version_string", *_PROTOTYPES)


def _candidates() -> List[str]:
    """The places searched when ``$DIGITCNN_LIBRARY`` is not set, in order."""
    places: List[str] = []
    here = Path(__file__).resolve().parent
    places.append(str(here / SONAME))
    if len(here.parents) > 2:  # an installed package may sit fewer levels deep (/opt/digitcnn)
        root = here.parents[2]  # <repo>/bindings/python/digitcnn/_lib.py
        if (root / "include" / "digitcnn").is_dir():  # a source checkout, not site-packages
            places.append(str(root / "build" / "lib" / SONAME))
    found = ctypes.util.find_library("digitcnn")
    if found:
        places.append(found)
    for prefix in (sys.prefix, "/usr/local", "/usr"):
        for libdir in ("lib", "lib64", "lib/x86_64-linux-gnu"):
            places.append(os.path.join(prefix, libdir, SONAME))
    return places


def _open(place: str):
    """(the library at ``place``, "") if it is a libdigitcnn of this binding's ABI that has every
    function the binding calls, else (None, why not)."""
    if os.sep in place and not os.path.exists(place):
        return None, "absent"
    try:
        loaded = ctypes.CDLL(place)
    except OSError as error:
        return None, str(error)
    try:
        number = loaded.dcnn_version_number()
    except AttributeError:  # another shared library
        return None, "not libdigitcnn: it has no dcnn_version_number"
    # Structs and prototypes below mirror one ABI: another version's library would be misread.
    if (number // 10000, number // 100 % 100) != ABI_VERSION:
        return None, (f"version {number // 10000}.{number // 100 % 100}, this binding needs "
                      f"{ABI_VERSION[0]}.{ABI_VERSION[1]}")
    # A build of this version made before a function was added: refused here, rather than an
    # AttributeError at import (or at the first call) once it was chosen.
    missing = [name for name in _REQUIRED if not hasattr(loaded, name)]
    if missing:
        more = f" (+{len(missing) - 1} more)" if len(missing) > 1 else ""
        return None, (f"version {number // 10000}.{number // 100 % 100}.{number % 100} but it lacks "
                      f"{missing[0]}{more}: an older build?")
    return loaded, ""


def _load() -> ctypes.CDLL:
    env = os.environ.get("DIGITCNN_LIBRARY")
    if env:  # an explicit choice: that library or an error, never another one found elsewhere
        loaded, why = _open(env)
        if loaded is None:
            raise ImportError(f"DIGITCNN_LIBRARY={env} cannot be used ({why}); point it at this binding's "
                              f"libdigitcnn ({SONAME}), or unset it to search the package, the source "
                              f"checkout's build tree and the system")
        return loaded
    tried = []
    for place in _candidates():
        loaded, why = _open(place)
        if loaded is not None:
            return loaded
        tried.append(f"{place} ({why})")
    raise ImportError(
        "libdigitcnn not found; set DIGITCNN_LIBRARY to libdigitcnn.so, add the directory holding it to "
        "LD_LIBRARY_PATH, install the library, or build it (bash scripts/test.sh). Looked at:\n  "
        + "\n  ".join(tried))


raw = _load()  # the ctypes library itself; the binding calls it through ``lib``
raw.dcnn_last_error.restype = c_char_p
raw.dcnn_last_error.argtypes = []
raw.dcnn_last_error_path.restype = c_char_p
raw.dcnn_last_error_path.argtypes = []
raw.dcnn_version_string.restype = c_char_p
raw.dcnn_version_string.argtypes = []


def _errcheck(status, func, args):
    if status != 0:
        # both read before anything else can call the library on this thread
        message, path = raw.dcnn_last_error() or b"", raw.dcnn_last_error_path() or b""
        raise error_for(status, message.decode("utf-8", "replace"), os.fsdecode(path))
    return status


# Quick bookkeeping (getters, setters, destroy, text and settings queries): still served to
# other threads once the interpreter exits (_exit.py), so that a cancelled fit can read its
# history and free its trainer. Every other call does work (trains, evaluates, predicts, builds
# or copies models and data, reads or writes files) and is refused there then; a prototype added
# later is work until listed here.
BOOKKEEPING = frozenset({
    "dcnn_last_error", "dcnn_last_error_path", "dcnn_version_string", "dcnn_free",
    "dcnn_context_destroy", "dcnn_context_set_threads", "dcnn_context_threads", "dcnn_context_set_log",
    "dcnn_context_live_allocations",
    "dcnn_tensor_destroy", "dcnn_tensor_shape", "dcnn_tensor_count", "dcnn_tensor_data",
    "dcnn_model_destroy", "dcnn_model_summary", "dcnn_model_input_shape", "dcnn_model_output_shape",
    "dcnn_model_layer_count", "dcnn_model_param_count", "dcnn_model_param_tensor_count", "dcnn_model_param",
    "dcnn_model_set_metadata", "dcnn_model_metadata", "dcnn_model_metadata_count", "dcnn_model_metadata_entry",
    "dcnn_model_set_profile", "dcnn_session_destroy",
    "dcnn_profile_destroy", "dcnn_profile_count", "dcnn_profile_entry_get", "dcnn_profile_reset",
    "dcnn_profile_format", "dcnn_zoo_options_init", "dcnn_top_k", "dcnn_optimizer_destroy",
    "dcnn_dataset_destroy", "dcnn_dataset_count", "dcnn_dataset_classes", "dcnn_dataset_label",
    "dcnn_dataset_image_size", "dcnn_dataset_image",
    "dcnn_pipeline_destroy", "dcnn_pipeline_set_paper_defaults", "dcnn_pipeline_set", "dcnn_pipeline_get",
    "dcnn_pipeline_describe", "dcnn_pipeline_sample_shape", "dcnn_pipeline_set_standardization",
    "dcnn_pipeline_configure", "dcnn_pipeline_configure_for_model",
    "dcnn_trainer_destroy", "dcnn_trainer_set", "dcnn_trainer_set_seed", "dcnn_trainer_seed",
    "dcnn_trainer_epochs_done", "dcnn_trainer_history", "dcnn_trainer_best_epoch",
    "dcnn_trainer_set_checkpoint_dir", "dcnn_trainer_set_checkpoint_every", "dcnn_trainer_set_progress",
    "dcnn_progress_format", "dcnn_trainer_set_adversarial", "dcnn_trainer_set_schedule", "dcnn_schedule_destroy",
    "dcnn_perturbation_count", "dcnn_perturbation_name", "dcnn_perturbation_unit", "dcnn_perturbation_levels",
    "dcnn_attack_fgsm", "dcnn_attack_pgd",
    "dcnn_recipe_count", "dcnn_recipe_name", "dcnn_recipe_settings", "dcnn_recipe_ensemble_count",
    "dcnn_recipe_ensemble_name", "dcnn_recipe_ensemble_member", "dcnn_recipe_key", "dcnn_recipe_value",
    "dcnn_recipe_check", "dcnn_recipe_configure_zoo", "dcnn_recipe_configure_trainer",
    "dcnn_metrics_destroy", "dcnn_metrics_count", "dcnn_metrics_classes", "dcnn_metrics_get", "dcnn_metrics_class",
    "dcnn_metrics_confusion", "dcnn_metrics_roc_curve",
})


class _Library:
    """``raw`` with every function called through the exit gate (``_exit.py``): the interpreter's
    exit waits for the calls in C on other threads instead of tearing down under them."""

    def __init__(self, loaded: ctypes.CDLL):
        self._loaded = loaded
        self._name = loaded._name

    def __getattr__(self, name: str):
        function = getattr(self._loaded, name)
        if not isinstance(function, ctypes._CFuncPtr):
            return function

        work = name not in BOOKKEEPING

        def gated(*args):
            return gate.call(function, work, *args)

        gated.__name__ = gated.__qualname__ = name
        setattr(self, name, gated)  # looked up once
        return gated


lib = _Library(raw)


for _name, (_restype, _argtypes) in _PROTOTYPES.items():
    _func = getattr(raw, _name)
    _func.argtypes = _argtypes
    if _restype == "status":
        _func.restype = c_int
        _func.errcheck = _errcheck
    else:
        _func.restype = _restype


def version() -> str:
    """The version of the libdigitcnn actually loaded."""
    return lib.dcnn_version_string().decode()


def out_handle() -> c_void_p:
    """A fresh out-parameter for a handle."""
    return c_void_p()


def take_string(pointer: c_void_p) -> str:
    """Decodes and frees a string the library allocated for the caller."""
    try:
        return ctypes.string_at(pointer.value).decode("utf-8", "replace")
    finally:
        lib.dcnn_free(pointer)
