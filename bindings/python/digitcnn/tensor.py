"""Tensors as NumPy arrays without copies: a :class:`Tensor` wraps a float32,
C-contiguous array's memory (``dcnn_tensor_wrap``) and keeps the array alive."""
from __future__ import annotations

import ctypes
import weakref
from typing import Tuple

from . import _lib
from ._handle import Handle, in_use
from ._lib import lib

try:
    import numpy as np
except ImportError:  # the parts that do not need NumPy still import
    np = None
try:
    import numpy.typing  # noqa: F401 (np.typing, for the annotations other modules resolve through np; NumPy 1.20 on)
except ImportError:
    pass


def _numpy():
    if np is None:
        raise ImportError("this part of digitcnn needs NumPy (Debian: python3-numpy)")
    return np


def float32(values, name: str = "array"):
    """``values`` as a float32, C-contiguous and aligned array (the C library reads ``float *``):
    itself when it already is one, else a converted copy. Numbers only: complex, text and object
    arrays raise TypeError (NumPy would drop the imaginary part or parse the text); float
    values beyond float32's range raise ValueError (the cast would make them infinite)."""
    numpy = _numpy()
    array = numpy.asarray(values)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold numbers, got an array of dtype {array.dtype}")
    if array.dtype.kind == "f" and array.dtype.itemsize > 4:
        with numpy.errstate(invalid="ignore"):
            beyond = numpy.isfinite(array) & (numpy.abs(array) > numpy.finfo(numpy.float32).max)
        if beyond.any():
            index = tuple(int(i) for i in numpy.unravel_index(int(numpy.argmax(beyond)), beyond.shape))
            raise ValueError(f"{name}[{', '.join(map(str, index))}] = {array[index].item()!r} is beyond "
                             f"float32's range")
    return numpy.require(array, numpy.float32, ["C_CONTIGUOUS", "ALIGNED"])


class Tensor(Handle):
    """A libdigitcnn tensor over a NumPy array's memory.

    ``Tensor(array)`` shares ``array``'s buffer when it is float32, C-contiguous
    and aligned (the C library reads and writes it in place); any other array
    of numbers is converted once (``Tensor.copied`` says which happened).
    ``.array`` is the array the tensor lives in, fixed for the tensor's life:
    it keeps the buffer alive.
    """

    _copy_hint = "make a new Tensor(t.array.copy())"

    def __init__(self, array):
        numpy = _numpy()
        source = numpy.asarray(array)
        self._array = float32(source)
        # The C tensor points into this buffer: it must never be reallocated under it (T.array.resize(...) would
        # leave C reading freed memory). NumPy refuses to resize an array that has a weak reference, whatever
        # refcheck says: one on the array, and on the array that owns a converted copy's buffer. A converted copy
        # is also kept as a view, which NumPy never resizes ("does not own its data").
        if self._array is not source and self._array.base is None:
            self._array = self._array.view()
        owner = self._array
        self._pins = []
        while owner is not None and isinstance(owner, np.ndarray):
            self._pins.append(weakref.ref(owner))
            owner = owner.base
        self.copied = self._array is not source and not numpy.shares_memory(self._array, source)
        if not 1 <= self._array.ndim <= _lib.MAX_DIMS:
            raise ValueError(f"tensors have 1 to {_lib.MAX_DIMS} dimensions, got shape {self._array.shape}")
        shape = _lib.Shape.of(self._array.shape)
        out = _lib.out_handle()
        lib.dcnn_tensor_wrap(None, ctypes.byref(shape), self._array.ctypes.data, ctypes.byref(out))
        self._own(out, lib.dcnn_tensor_destroy)

    @property
    def array(self):
        """The array the tensor lives in (not assignable: the C tensor points into it)."""
        return self._array

    @classmethod
    def zeros(cls, shape: Tuple[int, ...]) -> "Tensor":
        """A new zero tensor of ``shape`` (its array is ``.array``)."""
        return cls(_numpy().zeros(tuple(shape), dtype=_numpy().float32))

    @property
    @in_use
    def shape(self) -> Tuple[int, ...]:
        """The shape the C library sees."""
        return lib.dcnn_tensor_shape(self.ptr).to_tuple()

    def _describe(self) -> str:  # Handle.__repr__
        return f"float32 {self.shape}{', copied' if self.copied else ', shares the array'}"

    @property
    @in_use
    def data_pointer(self) -> int:
        """Address of the C tensor's data (equals ``array.ctypes.data`` when shared)."""
        return lib.dcnn_tensor_data(self.ptr)

    def numpy(self):
        """The array the tensor lives in (no copy)."""
        return self.array

    def __array__(self, dtype=None, copy=None):
        """``numpy.asarray(tensor)``: the array the tensor lives in (shared), or a converted copy
        for another ``dtype``; so functions that take arrays take tensors."""
        if copy:
            return self._array.astype(dtype or self._array.dtype, copy=True)
        if copy is False and dtype is not None and _numpy().dtype(dtype) != self._array.dtype:
            raise ValueError(f"a {dtype} array of a float32 tensor needs a copy")
        return self._array if dtype is None else self._array.astype(dtype, copy=False)
