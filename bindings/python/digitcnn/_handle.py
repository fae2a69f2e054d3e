"""Ownership of C handles: freed exactly once, by ``close()``, a ``with``
block or, as a last resort, the garbage collector."""
from __future__ import annotations

import contextlib
import functools
import threading
import weakref
from ctypes import c_void_p
from typing import Callable, Iterator, Optional


# The open handle that owns each C object, by address: a second owner (Dataset(ds.ptr)) would free it twice.
_owners: "weakref.WeakValueDictionary[int, Handle]" = weakref.WeakValueDictionary()


class Handle:
    """Base of every class that owns a libdigitcnn object."""

    _ptr: Optional[c_void_p] = None
    _one_thread_at_a_time = False  # see _own
    _copy_hint = "make another one as this one was made"  # what to do instead of a copy (_no_copies)

    def _own(self, ptr: c_void_p, destroy: Callable[[c_void_p], None]) -> None:
        self._ptr = ptr
        _owners[ptr.value] = self
        # Calls in C that use the object (borrowed()): thread id -> how many. close() waits
        # for them, since ctypes lets other threads run (and close) while a call is in C.
        self._users: dict = {}
        self._idle = threading.Condition()
        self._finalizer = weakref.finalize(self, destroy, ptr)
        # Not at interpreter exit: a daemon thread may still be inside a C call using the object
        # (close() would wait for it; the exit hook would not). The process's end frees it.
        self._finalizer.atexit = False
        # One thread at a time for objects whose C API says so (pipelines' scratch and cache,
        # metric accumulators): borrowed() holds this lock around their C calls.
        self._exclusive = threading.RLock() if self._one_thread_at_a_time else None

    def _adopt(self, ptr: c_void_p, destroy: Callable[[c_void_p], None], factories: str) -> None:
        """``_own`` for a public constructor that takes the C handle (``Dataset(ptr)``,
        ``Model(ptr)``): a ctypes ``c_void_p`` that is not NULL, as the factories make; anything
        else (an array given where ``factories`` were meant) raises TypeError naming them instead
        of making an object that fails on first use."""
        if not isinstance(ptr, c_void_p):
            raise TypeError(f"{type(self).__name__}(ptr) takes a C handle (a ctypes.c_void_p), got "
                            f"{type(ptr).__name__}: make one with {factories}")
        if not ptr:
            raise ValueError(f"{type(self).__name__}(ptr): the C handle is NULL")
        owner = _owners.get(ptr.value)
        if owner is not None and owner._ptr is not None and owner._ptr.value == ptr.value:
            raise ValueError(f"{type(self).__name__}(ptr): the C handle is already owned by {owner!r}, which will "
                             f"free it; use that object (a second owner would free it twice)")
        self._own(ptr, destroy)

    @property
    def ptr(self) -> c_void_p:
        """The C handle (borrowed). Raises ``ValueError`` once closed."""
        if self._ptr is None:
            raise ValueError(f"{type(self).__name__} is closed")
        return self._ptr

    def close(self) -> None:
        """Frees the C object now, after the calls using it on other threads end. Safe to
        call twice. Raises ``RuntimeError`` from inside such a call on this thread (a
        progress callback closing the dataset being trained on)."""
        idle = getattr(self, "_idle", None)
        if idle is None:  # never owned a C object
            return
        with idle:
            self._refuse_close_in_own_call()
            while self._users:
                idle.wait()
            if self._ptr is not None:
                # Out of the registry before the C object is freed: the allocator may hand its address to an object
                # another thread makes meanwhile, which would otherwise be refused as owned (and leak).
                address, self._ptr = self._ptr.value, None
                if _owners.get(address) is self:
                    del _owners[address]
                self._finalizer()

    def _refuse_close_in_own_call(self, what: str = "") -> None:
        """RuntimeError if a call on this thread uses the object (borrowed()); the caller holds _idle."""
        if self._users.get(threading.get_ident()):
            raise RuntimeError(f"{type(self).__name__} is used by a call running on this thread{what}: "
                               "close it after that call returns")

    def __repr__(self) -> str:
        """``<Class: what it holds>`` from :meth:`_describe`, or ``<Class: closed>``."""
        if self._ptr is None:
            return f"<{type(self).__name__}: closed>"
        return f"<{type(self).__name__}: {self._describe()}>"

    def _describe(self) -> str:
        return f"handle 0x{self._ptr.value or 0:x}" if isinstance(self._ptr, c_void_p) else "open"

    def _no_copies(self) -> TypeError:
        return TypeError(f"digitcnn.{type(self).__name__} cannot be copied or pickled: it owns a C object, which "
                         f"a copy would share and free a second time; {self._copy_hint}")

    # copy.copy, copy.deepcopy and pickle would otherwise give an object sharing _ptr and _finalizer:
    # closing either frees the other's C object (a use-after-free).
    def __copy__(self):
        raise self._no_copies()

    def __deepcopy__(self, memo):
        raise self._no_copies()

    def __reduce__(self):
        raise self._no_copies()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@contextlib.contextmanager
def borrowed(*handles: Optional[Handle]) -> Iterator[None]:
    """Marks ``handles`` (None entries are skipped) in use for the C calls made inside the
    block: their ``close()`` on another thread waits for the block's end instead of freeing
    memory the call reads. Handles whose C objects are used by one thread at a time (a
    pipeline, metrics) are also locked for the block, so two threads sharing one take turns.
    Raises ``ValueError`` for a closed one."""
    taken, locked = [], []
    try:
        for handle in handles:
            if handle is None:
                continue
            with handle._idle:
                handle.ptr  # noqa: B018  ("X is closed")
                me = threading.get_ident()
                handle._users[me] = handle._users.get(me, 0) + 1
            taken.append(handle)
        # In one global order (by id), so that two blocks locking the same two handles cannot
        # each hold one and wait for the other.
        for handle in sorted({id(h): h for h in taken if h._exclusive is not None}.values(), key=id):
            handle._exclusive.acquire()
            locked.append(handle)
        yield
    finally:
        for handle in reversed(locked):
            handle._exclusive.release()
        me = threading.get_ident()
        for handle in taken:
            with handle._idle:
                handle._users[me] -= 1
                if not handle._users[me]:
                    del handle._users[me]
                if not handle._users:
                    handle._idle.notify_all()


def in_use(method):
    """Runs a method of a handle inside :func:`borrowed` (self): closing it on another
    thread waits for the method's C calls."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with borrowed(self):
            return method(self, *args, **kwargs)
    return wrapper
