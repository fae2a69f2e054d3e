"""Named training configurations (C ``dcnn_recipe_*``, docs/recipes.md): the
same table ``digitcnn-paper --recipe`` reads."""
from __future__ import annotations

import ctypes
from typing import Dict, List, Optional

from . import _checks
from ._handle import borrowed
from ._lib import lib
from .data import Dataset, Pipeline

SCHEDULES = ("constant", "cosine", "warmup-cosine")
OPTIMIZERS = ("adam", "sgd")
NAMED = {"schedule": SCHEDULES, "optimizer": OPTIMIZERS}


def recipe_names() -> List[str]:
    """The recipes' names, e.g. ``["paper", "rgb-cosine", "best"]``."""
    return [lib.dcnn_recipe_name(i).decode() for i in range(lib.dcnn_recipe_count())]


def recipe_ensembles() -> Dict[str, List[str]]:
    """The named ensembles and their member recipes in training order, e.g.
    ``{"best-and-rgb-cosine": ["best", "rgb-cosine"]}``: train one model per member
    recipe, then :func:`evaluate_ensemble` averages their probabilities."""
    out: Dict[str, List[str]] = {}
    for i in range(lib.dcnn_recipe_ensemble_count()):
        name = lib.dcnn_recipe_ensemble_name(i)
        members, m = [], 0
        while True:
            member = lib.dcnn_recipe_ensemble_member(name, m)
            if member is None:
                break
            members.append(member.decode())
            m += 1
        out[name.decode()] = members
    return out


def recipe_settings(name: str) -> str:
    """The recipe's ``key=value ...`` text (only what differs from the defaults)."""
    text = lib.dcnn_recipe_settings(_checks.text(name, "recipe name"))
    if text is None:
        raise KeyError(f"unknown recipe {name!r} (known: {', '.join(recipe_names())})")
    return text.decode()


def _extra(extra: Optional[str]) -> str:
    """The ``extra`` words of the recipe functions: a str, or None for none (as ""); TypeError for
    anything else (str() would send "None" or "5" to the recipe parser)."""
    if extra is None:
        return ""
    if not isinstance(extra, str):
        raise TypeError(f"extra must be a str of key=value words, or None, got {type(extra).__name__}")
    return extra


def _recipe_text(name: str, extra: Optional[str]) -> str:
    """Recipe ``name``'s settings with the ``extra`` words (None: none) on top, as the C calls read them."""
    return (recipe_settings(name) + " " + _extra(extra)).strip()


def recipe(name: str, extra: Optional[str] = "") -> Dict[str, object]:
    """Every setting of recipe ``name`` (defaults filled in), with ``extra``
    words (``"ema=0 mixup=0.2"``; None for none) on top; ``schedule`` and ``optimizer`` as
    their names, whole numbers as int."""
    text = _recipe_text(name, extra)
    lib.dcnn_recipe_check(_checks.text(text, "recipe"))
    out: Dict[str, object] = {}
    key, fallback, index = ctypes.c_char_p(), ctypes.c_double(), 0
    while lib.dcnn_recipe_key(index, ctypes.byref(key), ctypes.byref(fallback)):
        value = ctypes.c_double()
        lib.dcnn_recipe_value(_checks.text(text, "recipe"), key.value, ctypes.byref(value))
        name_ = key.value.decode()
        v = value.value
        out[name_] = NAMED[name_][int(v)] if name_ in NAMED else (int(v) if v == int(v) and name_ not in (
            "lr", "weight_decay", "min_lr", "translation", "zoom_min", "zoom_max", "width_multiplier",
            "momentum") else v)
        index += 1
    return out


def recipe_pipeline(name: str, train: Optional[Dataset] = None, extra: Optional[str] = "") -> Pipeline:
    """A :class:`Pipeline` configured by the recipe with ``extra`` words (None for none) on top (size,
    colour, augmentation; standardisation measured on ``train`` when the recipe asks for it)."""
    _checks.instance(train, Dataset, "recipe_pipeline: train", optional=True,
                     array_hint=_checks.DATASET_FROM_ARRAYS)
    text = _recipe_text(name, extra)
    pipeline = Pipeline()
    with borrowed(train):
        lib.dcnn_recipe_configure_pipeline(_checks.text(text, "recipe"), pipeline.ptr, train.ptr if train is not None else None)
    return pipeline
