"""Interpreter exit while other threads are inside libdigitcnn.

Python lets a daemon thread run on while the interpreter exits. If that thread is inside a C call
(``ctypes`` releases the GIL), the call goes on while Python tears itself down and ``exit()``
shuts OpenBLAS and OpenMP down under it; the next progress or log callback then enters a
finalised interpreter and the process dies with SIGSEGV (seen about once in 30 runs of a daemon
thread training at exit on a loaded machine).

So every call into the library passes through :data:`gate`, which counts the calls in C. An
``atexit`` hook (run after non-daemon threads are joined, before the interpreter is torn down)
closes the gate: fits in progress are cancelled at their next step (the progress callback asks
:func:`closing`), the hook waits for the calls in C to return (at most :data:`EXIT_WAIT_SECONDS`)
and from then on refuses calls that start work (training, evaluation, prediction, file I/O:
``_lib.WORK``) on any thread but the exiting one, whose later ``atexit`` handlers may still use
the library. Bookkeeping calls (getters, setters, destroy) are still served, so that a
daemon thread's cancelled fit can read its history and free its trainer.
"""
from __future__ import annotations

import atexit
import threading
from typing import Callable, Optional

EXIT_WAIT_SECONDS = 60.0  # a cancelled fit returns after one step; an evaluation may take longer


class _Gate:
    def __init__(self) -> None:
        self._changed = threading.Condition(threading.Lock())
        self._calls_in_c = 0
        self._exiting_thread: Optional[int] = None  # set by the exit hook

    def closing(self) -> bool:
        """True once the interpreter has begun to exit."""
        return self._exiting_thread is not None

    def call(self, function: Callable, work: bool, *args):
        """``function(*args)`` counted as a call in C. ``work`` (it computes or does I/O, and may
        call back): refused on other threads once exit has begun; the rest (getters, setters,
        destroy) is served, so that an operation cut short can still tidy up."""
        with self._changed:
            if work and self._exiting_thread is not None and self._exiting_thread != threading.get_ident():
                raise RuntimeError(f"digitcnn: the interpreter is exiting; {function.__name__} is refused on "
                                   "threads other than the exiting one")
            self._calls_in_c += 1
        try:
            return function(*args)
        finally:
            with self._changed:
                self._calls_in_c -= 1
                if not self._calls_in_c:
                    self._changed.notify_all()

    def close_at_exit(self, timeout: float = EXIT_WAIT_SECONDS) -> bool:
        """Refuses new work from other threads and waits for the calls in C; False on timeout."""
        with self._changed:
            self._exiting_thread = threading.get_ident()
            return self._changed.wait_for(lambda: not self._calls_in_c, timeout)


gate = _Gate()
atexit.register(gate.close_at_exit)


def closing() -> bool:
    """True once the interpreter has begun to exit (progress callbacks then cancel their fit)."""
    return gate.closing()
