"""Interpreter exit while other threads are inside libdigitcnn.

Python lets a daemon thread run on while the interpreter exits. If that thread is inside a C call
(``ctypes`` releases the GIL), the call goes on while Python tears itself down and ``exit()``
shuts OpenBLAS and OpenMP down under it; the next progress or log callback then enters a
finalised interpreter and the process dies with SIGSEGV (seen about once in 30 runs of a daemon
thread training at exit on a loaded machine).

So every call into the library passes through :data:`gate`, which counts the calls in C. An
``atexit`` hook (run after non-daemon threads are joined, before the interpreter is torn down)
closes the gate: fits in progress on other threads are cancelled at their next step (the
progress callback asks :func:`cut_short`), the hook waits for the calls in C to return (at most
:data:`EXIT_WAIT_SECONDS`), and from then on calls that do work (all but the bookkeeping listed
in ``_lib.BOOKKEEPING``: training, evaluation, prediction, building models, file I/O) are
refused on any thread but the exiting one, whose later ``atexit`` handlers may still use the
library. Bookkeeping calls (getters, setters, destroy) are still served, so that a daemon
thread's cancelled fit can read its history and free its trainer.
"""
from __future__ import annotations

import atexit
import os
import threading
from typing import Callable, Optional

EXIT_WAIT_SECONDS = 60.0  # a cancelled fit returns after one step; an evaluation may take longer


class _Gate:
    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        # An RLock, whose enter and exit run in C: a KeyboardInterrupt cannot leave it held,
        # and a signal handler (or a finalizer) calling the library on the same thread while
        # it is held does not wait for itself.
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._calls_in_c = 0
        self._exiting_thread: Optional[int] = None  # set by the exit hook

    def closing(self) -> bool:
        """True once the interpreter has begun to exit."""
        return self._exiting_thread is not None

    def cut_short(self) -> bool:
        """True on a thread whose fit the exit cancels: any but the exiting one."""
        exiting = self._exiting_thread
        return exiting is not None and exiting != threading.get_ident()

    def call(self, function: Callable, work: bool, *args):
        """``function(*args)`` counted as a call in C. ``work`` (all but quick bookkeeping):
        refused on other threads once exit has begun; bookkeeping (getters, setters, destroy)
        is served, so that an operation cut short can still tidy up."""
        counted = False
        try:
            with self._lock:
                if work and self.cut_short():
                    raise RuntimeError(f"digitcnn: the interpreter is exiting; {function.__name__} is refused "
                                       "on threads other than the exiting one")
                self._calls_in_c += 1
                counted = True
            return function(*args)
        finally:
            if counted:
                with self._lock:
                    self._calls_in_c -= 1
                    if not self._calls_in_c and self._exiting_thread is not None:
                        self._changed.notify_all()

    def close_at_exit(self, timeout: float = EXIT_WAIT_SECONDS) -> bool:
        """Refuses new work from other threads and waits for the calls in C; False on timeout."""
        with self._lock:
            self._exiting_thread = threading.get_ident()
            return self._changed.wait_for(lambda: not self._calls_in_c, timeout)


gate = _Gate()
atexit.register(gate.close_at_exit)
# A forked child starts with no calls in C (its parent's other threads are not there) and a
# fresh lock (another thread may have held the parent's at the fork).
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=gate._reset)


def cut_short() -> bool:
    """True once the interpreter has begun to exit, on any thread but the exiting one (progress
    callbacks there cancel their fit)."""
    return gate.cut_short()
