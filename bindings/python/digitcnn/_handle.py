"""Ownership of C handles: freed exactly once, by ``close()``, a ``with``
block or, as a last resort, the garbage collector."""
from __future__ import annotations

import weakref
from ctypes import c_void_p
from typing import Callable, Optional


class Handle:
    """Base of every class that owns a libdigitcnn object."""

    _ptr: Optional[c_void_p] = None

    def _own(self, ptr: c_void_p, destroy: Callable[[c_void_p], None]) -> None:
        self._ptr = ptr
        self._finalizer = weakref.finalize(self, destroy, ptr)

    @property
    def ptr(self) -> c_void_p:
        """The C handle (borrowed). Raises ``ValueError`` once closed."""
        if self._ptr is None:
            raise ValueError(f"{type(self).__name__} is closed")
        return self._ptr

    def close(self) -> None:
        """Frees the C object now. Safe to call twice."""
        if self._ptr is not None:
            self._finalizer()
            self._ptr = None

    def __repr__(self) -> str:
        """``<Class: what it holds>`` from :meth:`_describe`, or ``<Class: closed>``."""
        if self._ptr is None:
            return f"<{type(self).__name__}: closed>"
        return f"<{type(self).__name__}: {self._describe()}>"

    def _describe(self) -> str:
        return f"handle 0x{self._ptr.value or 0:x}" if isinstance(self._ptr, c_void_p) else "open"

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
