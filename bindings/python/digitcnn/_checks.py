"""Input checks before arrays cross into C: a value the C types cannot hold as
given is refused, never cast (NumPy's casts wrap 300 to 44, -1 to 255, NaN to
0, 1.7 to 1). Errors name the argument and the first bad element."""
from __future__ import annotations

import operator
import os

from .tensor import _numpy, np as _np


#: ``instance``'s ``array_hint`` where a Dataset is due.
DATASET_FROM_ARRAYS = "make one from arrays with digitcnn.Dataset.from_numpy(images, labels)"


def instance(value, kind: type, name: str, optional: bool = False, array_hint: str = ""):
    """``value`` if it is a ``kind`` (or None, when ``optional``); else a TypeError naming
    ``name``, with ``array_hint`` in parentheses when ``value`` is an array, list or tuple."""
    if (value is None and optional) or isinstance(value, kind):
        return value
    hint = ""
    if array_hint and (hasattr(value, "__array__") or isinstance(value, (list, tuple))):
        hint = f" ({array_hint})"
    raise TypeError(f"{name} is a {type(value).__name__}, not a {kind.__name__}"
                    f"{' or None' if optional else ''}{hint}")


def _first(mask) -> tuple:
    """Index of the first True element of ``mask`` (C order)."""
    numpy = _numpy()
    return tuple(int(i) for i in numpy.unravel_index(int(numpy.argmax(mask)), mask.shape))


def _where(name: str, array, mask) -> str:
    index = _first(mask)
    return f"{name}[{', '.join(map(str, index))}] = {array[index].item()!r}"


def _kind(name: str, array, allowed: str) -> None:
    if array.dtype.kind not in allowed:
        raise TypeError(f"{name} must hold numbers, got an array of dtype {array.dtype}")


def pixels(images, name: str = "images"):
    """uint8 pixels, C-contiguous: uint8 as given; integers in 0..255 as they are;
    floats in [0, 1] scaled by 255 and rounded to the nearest integer (ties to
    even). NaN, infinities and values outside those ranges raise ValueError."""
    numpy = _numpy()
    array = numpy.asarray(images)
    if array.dtype == numpy.uint8:
        return numpy.ascontiguousarray(array)
    _kind(name, array, "iuf")
    if array.dtype.kind == "f":
        bad = ~numpy.isfinite(array)
        if bad.any():
            raise ValueError(f"{_where(name, array, bad)}: pixels must be finite")
        bad = (array < 0) | (array > 1)
        if bad.any():
            raise ValueError(f"{_where(name, array, bad)} is outside [0, 1]: float images are intensities in "
                             f"[0, 1] (scaled by 255); pass uint8 or integer arrays for pixel values 0..255")
        return numpy.ascontiguousarray(numpy.rint(array.astype(numpy.float64) * 255.0).astype(numpy.uint8))
    bad = (array < 0) | (array > 255)
    if bad.any():
        raise ValueError(f"{_where(name, array, bad)} is outside 0..255 (8-bit pixels)")
    return numpy.ascontiguousarray(array.astype(numpy.uint8))


def whole_numbers(values, name: str, low: int = -2**31, high: int = 2**31 - 1):
    """int32, C-contiguous: integers (or floats that are exactly whole) in
    [low, high]; anything else raises ValueError (TypeError for non-numbers)."""
    numpy = _numpy()
    array = numpy.asarray(values)
    _kind(name, array, "biuf")
    if array.dtype.kind == "f":
        bad = ~numpy.isfinite(array) | (array != numpy.floor(array))
        if bad.any():
            raise ValueError(f"{_where(name, array, bad)} is not a whole number")
    if array.size:
        # in float64: NumPy 2 compares a float32 array with a Python int in float32, where 2**31 - 1 is 2**31
        checked = array.astype(numpy.float64) if array.dtype.kind == "f" else array
        bad = (checked < low) | (checked > high)
        if bad.any():
            raise ValueError(f"{_where(name, array, bad)} is outside {low}..{high}")
    return numpy.ascontiguousarray(array.astype(numpy.int32))


def indices(values, name: str = "indices"):
    """Sample indices as :func:`whole_numbers`, in a 1-D array: any other shape raises ValueError
    (the C calls take a pointer and a count, so a 2-D array would be cut short silently). A
    boolean mask raises TypeError: it would be read as the indices 0 and 1."""
    array = _numpy().asarray(values)
    if array.dtype.kind == "b":
        raise TypeError(f"{name} must hold whole numbers, got a boolean mask: pass numpy.flatnonzero(mask)")
    if array.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array, got shape {array.shape}")
    return whole_numbers(array, name)


def text(value, name: str) -> bytes:
    """A C string from ``value``: str (encoded as UTF-8) or bytes holding UTF-8; TypeError for
    anything else, ValueError for bytes that are not UTF-8 or a NUL (C would end the string there)."""
    if isinstance(value, str):
        data = value.encode()
    elif isinstance(value, (bytes, bytearray)):
        data = bytes(value)
        try:
            data.decode()
        except UnicodeDecodeError:
            raise ValueError(f"{name} is not UTF-8: {value!r}") from None
    else:
        raise TypeError(f"{name} must be str or bytes, got {type(value).__name__}")
    if b"\0" in data:
        raise ValueError(f"{name} contains a NUL character, where the C string would end: {value!r}")
    return data


def path(value, name: str = "path") -> bytes:
    """A file system path for C: str, bytes or path-like (TypeError for anything else, as
    ``open()``); ValueError for an embedded NUL, where the C string would end."""
    data = os.fsencode(value)
    if b"\0" in data:
        raise ValueError(f"{name} contains an embedded null byte: {value!r}")
    return data


def whole_number(value, name: str, low: int, high: int) -> int:
    """A Python int from an integer or an exactly whole float in [low, high]."""
    try:
        if _np is not None and isinstance(value, _np.bool_):  # operator.index on it is deprecated
            value = bool(value)
        number = operator.index(value)  # int, bool, numpy integers
    except TypeError:
        if isinstance(value, (str, bytes)):
            raise TypeError(f"{name} must be a whole number, got {value!r}") from None
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be a whole number, got {value!r}") from None
        if not number.is_integer():
            raise ValueError(f"{name} must be a whole number, got {value!r}")
        number = int(number)
    if not low <= number <= high:
        raise ValueError(f"{name} must be in {low}..{high}, got {value!r}")
    return number


INT32_MAX = 2**31 - 1
UINT64_MAX = 2**64 - 1


def count(value, name: str, low: int = 1) -> int:
    """A C int32 count or size in [low, 2**31 - 1]; ctypes would wrap a larger one silently."""
    return whole_number(value, name, low, INT32_MAX)


def seed(value, name: str = "seed") -> int:
    """A C uint64 seed in [0, 2**64 - 1]; ctypes would wrap -1 to 2**64 - 1 silently."""
    return whole_number(value, name, 0, UINT64_MAX)


def finite(array, name: str) -> None:
    """Raises ValueError naming the first NaN or infinity of a float array."""
    numpy = _numpy()
    bad = ~numpy.isfinite(array)
    if bad.any():
        raise ValueError(f"{_where(name, array, bad)}: inputs must be finite (a NaN or an infinity has no class)")


# Names users reach for from other libraries, and the keyword meant here.
ALIASES = {"lr": "learning_rate", "batch": "batch_size", "validation_data": "validation", "verbose": "progress",
           "n_epochs": "epochs", "num_epochs": "epochs", "random_state": "seed", "shuffle_seed": "seed"}


def keywords(function: str, given, valid) -> None:
    """Raises TypeError, as Python does for a function's unknown keyword, for the first name in
    ``given`` that is not in ``valid``; the message suggests the likely one and lists them all."""
    import difflib
    valid = list(valid)
    for name in given:
        if name in valid:
            continue
        guess = ALIASES.get(name) if ALIASES.get(name) in valid else None
        guess = guess or next(iter(difflib.get_close_matches(name, valid, n=1)), None)
        hint = f" (did you mean {guess!r}?)" if guess else ""
        raise TypeError(f"{function}() got an unexpected keyword argument {name!r}{hint}; "
                        f"valid keywords: {', '.join(valid)}")


FLT_MAX = 3.4028234663852886e38  # the largest C float
FLT_TRUE_MIN = 1.401298464324817e-45  # the smallest positive one


def positive(value, name: str) -> float:
    """A finite float > 0 that a C float holds (the library takes it as one: 1e39 would arrive as
    inf, 1e-50 as 0, and be refused in those words); TypeError for non-numbers, ValueError
    otherwise."""
    if isinstance(value, (str, bytes)) or isinstance(value, bool):
        raise TypeError(f"{name} must be a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, got {value!r}") from None
    if not (number > 0 and number != float("inf")):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    if not FLT_TRUE_MIN <= number <= FLT_MAX:
        raise ValueError(f"{name} must be from {FLT_TRUE_MIN:.7g} to {FLT_MAX:.7g} (a C float), got {value!r}")
    return number


def number(value, name: str) -> float:
    """A finite float; TypeError for non-numbers (text included), ValueError for NaN or infinity.
    The library checks the range."""
    if isinstance(value, (str, bytes, bool)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, got {value!r}") from None
    if result != result or result in (float("inf"), float("-inf")):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return result


def flag(value, name: str) -> int:
    """0 or 1 from a bool or 0/1; anything else raises (ValueError/TypeError)."""
    return whole_number(value, name, 0, 1)
