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
    text = lib.dcnn_recipe_settings(_checks.text(str(name), "recipe name"))
    if text is None:
        raise KeyError(f"unknown recipe {name!r} (known: {', '.join(recipe_names())})")
    return text.decode()


def recipe(name: str, extra: str = "") -> Dict[str, object]:
    """Every setting of recipe ``name`` (defaults filled in), with ``extra``
    words (``"ema=0 mixup=0.2"``) on top; ``schedule`` and ``optimizer`` as
    their names, whole numbers as int."""
    text = (recipe_settings(name) + " " + extra).strip()
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


def recipe_pipeline(name: str, train: Optional[Dataset] = None, extra: str = "") -> Pipeline:
    """A :class:`Pipeline` configured by the recipe (size, colour, augmentation;
    standardisation measured on ``train`` when the recipe asks for it)."""
    _checks.instance(train, Dataset, "recipe_pipeline: train", optional=True,
                     array_hint=_checks.DATASET_FROM_ARRAYS)
    text = (recipe_settings(name) + " " + extra).strip()
    pipeline = Pipeline()
    with borrowed(train):
        lib.dcnn_recipe_configure_pipeline(_checks.text(text, "recipe"), pipeline.ptr, train.ptr if train is not None else None)
    return pipeline
