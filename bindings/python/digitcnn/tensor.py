"""Tensors as NumPy arrays without copies: a :class:`Tensor` wraps a float32,
C-contiguous array's memory (``dcnn_tensor_wrap``) and keeps the array alive."""
from __future__ import annotations

import ctypes
from typing import Tuple

from . import _lib
from ._handle import Handle, in_use
from ._lib import lib

try:
    import numpy as np
except ImportError:  # the parts that do not need NumPy still import
    np = None


def _numpy():
    if np is None:
        raise ImportError("this part of digitcnn needs NumPy (Debian: python3-numpy)")
    return np


class Tensor(Handle):
    """A libdigitcnn tensor over a NumPy array's memory.

    ``Tensor(array)`` shares ``array``'s buffer when it is float32 and
    C-contiguous (the C library reads and writes it in place); any other array
    is converted once (``Tensor.copied`` says which happened).
    """

    def __init__(self, array):
        numpy = _numpy()
        source = numpy.asarray(array)
        self.array = numpy.ascontiguousarray(source, dtype=numpy.float32)
        self.copied = self.array is not source and not numpy.shares_memory(self.array, source)
        if not 1 <= self.array.ndim <= _lib.MAX_DIMS:
            raise ValueError(f"tensors have 1 to {_lib.MAX_DIMS} dimensions, got shape {self.array.shape}")
        shape = _lib.Shape.of(self.array.shape)
        out = _lib.out_handle()
        lib.dcnn_tensor_wrap(None, ctypes.byref(shape), self.array.ctypes.data, ctypes.byref(out))
        self._own(out, lib.dcnn_tensor_destroy)

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
