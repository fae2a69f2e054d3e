"""Training progress in Python: the C trainer's progress callback (``dcnn_trainer_set_progress``)
drives a display, and Ctrl-C cancels the fit between two steps.

The library prints nothing itself. Every report goes through :class:`ProgressDisplay`, which
takes the text from the library's own formatter (``dcnn_progress_format``, the Keras-style line
the C examples show) and shows it:

- in a notebook (an IPython kernel is running): an ``IPython.display`` handle per epoch, updated
  in place within the epoch (no ipywidgets);
- elsewhere, on ``sys.stderr``: a single line rewritten with ``'\\r'`` when it is a terminal,
  else one line per epoch.

The callback runs on the thread that called ``fit``, between steps, with the GIL held. It never
lets an exception escape into C (ctypes would print and drop it): it keeps the exception, asks
the library to cancel, and :func:`run_fit` raises it once the library has returned.
"""
from __future__ import annotations

import contextlib
import ctypes
import logging
import signal
import sys
import threading
from typing import Callable, Iterator, Optional

from . import _exit, _lib

EPOCH_BEGIN, STEP, EPOCH_END, FIT_END = range(4)
CONTINUE, CANCEL = 0, 1
REDRAW_SECONDS = 0.1  # as the C bar: redraw at most this often within an epoch (and at its last step)
_ERASE_LINE = "\033[K"


def format_report(report: "_lib.Progress") -> str:
    """The library's text for one report ("Epoch 2/10", the bar, the epoch's line, the end notes)."""
    text = ctypes.create_string_buffer(512)
    _lib.lib.dcnn_progress_format(ctypes.byref(report), text, len(text))
    return text.value.decode("utf-8", "replace")


def _notebook_display():
    """``IPython.display.display`` when an IPython kernel (Jupyter) is running, else ``None``."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return None
    try:
        shell = ipython.get_ipython()
        if shell is None or not hasattr(shell, "kernel"):
            return None  # a terminal IPython: its stderr is a terminal
        from IPython.display import display
    except Exception:  # an unusual IPython: fall back to the stream
        return None
    return display


class ProgressDisplay:
    """Shows progress reports; ``mode`` 0 shows nothing, 1 a live bar (lines when the stream is
    not a terminal), 2 one line per epoch."""

    def __init__(self, mode: int, stream=None):
        if mode not in (0, 1, 2):
            raise ValueError(f"progress must be 0 (none), 1 (bar) or 2 (lines), got {mode!r}")
        self.stream = stream if stream is not None else sys.stderr
        if self.stream is None:
            mode = 0  # no stderr (pythonw, some service runners): nothing to show progress on
        self.mode = int(mode)
        self.display = _notebook_display() if mode else None
        try:
            terminal = bool(self.stream.isatty())
        except (AttributeError, ValueError, OSError):
            terminal = False
        self.live = mode == 1 and (self.display is not None or terminal)
        self.handle = None  # the notebook's output of the current epoch
        self.header = ""
        self.line_open = False
        self.last_draw = 0.0

    def _show(self, text: str, final: bool) -> None:
        """Puts ``text`` in place of the epoch's line; ``final`` ends the line."""
        if self.display is not None:
            content = {"text/plain": f"{self.header}\n{text}" if self.header else text}
            if self.handle is None:
                self.handle = self.display(content, raw=True, display_id=True)
            else:
                self.handle.update(content, raw=True)
            return
        if self.live:
            self.stream.write(f"\r{text}{_ERASE_LINE}" + ("\n" if final else ""))
        elif final:
            self.stream.write(text + "\n")
        self.line_open = self.live and not final
        self.stream.flush()

    def _note(self, text: str) -> None:
        """A line of its own (the end notes)."""
        if self.display is not None:
            self.display({"text/plain": text}, raw=True)
        else:
            self.stream.write(text + "\n")
            self.stream.flush()

    def __call__(self, report: "_lib.Progress") -> None:
        if not self.mode:
            return
        event = report.event
        if event == STEP and (not self.live or (report.train_seconds - self.last_draw <= REDRAW_SECONDS
                                                and report.step != report.steps)):
            return
        text = format_report(report)
        if event == EPOCH_BEGIN:
            self.last_draw = 0.0
            self.handle = None
            if self.display is not None:
                self.header = text
                self._show("", final=False)
            else:
                self.stream.write(text + "\n")
                self.stream.flush()
        elif event == STEP:
            self.last_draw = report.train_seconds
            self._show(text, final=False)
        elif event == EPOCH_END:
            self._show(text, final=True)
        elif event == FIT_END:
            if self.line_open:  # cancelled or failed within an epoch
                self.stream.write("\n")
                self.line_open = False
            for line in text.splitlines():
                self._note(line)


class _Interrupts:
    """Ctrl-C while the C library trains: SIGINT only sets a flag (the default handler would raise
    KeyboardInterrupt inside the callback, where ctypes drops it), and the callback cancels.

    Only in place of Python's default handler: a program that ignores SIGINT (``signal.SIG_IGN``)
    or handles it itself (a graceful shutdown) keeps its handler through the fit. Such a handler
    runs between steps, from the progress callback; an exception it raises cancels the fit and is
    raised once the library has returned, as the callback's own errors are."""

    def __init__(self):
        self.count = 0
        self.previous = None

    def handler(self, signum, frame) -> None:
        self.count += 1

    @contextlib.contextmanager
    def installed(self) -> Iterator["_Interrupts"]:
        # Only the main thread may set signal handlers (and Python runs them there only): a fit
        # on another thread is not interrupted by Ctrl-C; the main thread gets it as usual.
        # Nor in place of a handler the program chose (getsignal is None for one set outside Python).
        if (threading.current_thread() is not threading.main_thread()
                or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
            yield self
            return
        try:
            self.previous = signal.signal(signal.SIGINT, self.handler)
        except (ValueError, OSError):
            yield self
            return
        try:
            yield self
        finally:
            signal.signal(signal.SIGINT, self.previous)


class ProgressCallback:
    """The ``dcnn_progress_fn`` given to the trainer (keep this object alive during the fit)."""

    def __init__(self, display: Callable[["_lib.Progress"], None], interrupts: _Interrupts):
        self.display = display
        self.interrupts = interrupts
        self.error: Optional[BaseException] = None
        self.function = _lib.PROGRESS_FN(self._call)

    def _call(self, pointer, user) -> int:
        try:
            report = pointer.contents
            if report.struct_size < ctypes.sizeof(_lib.Progress):
                raise RuntimeError(f"libdigitcnn reports {report.struct_size} bytes of progress, this binding reads "
                                   f"{ctypes.sizeof(_lib.Progress)}: library and binding do not match")
            if _exit.cut_short() and report.event != FIT_END:  # another thread's fit at exit
                raise RuntimeError("digitcnn: fit cancelled after the current step: the interpreter is exiting")
            self.display(report)
            if self.interrupts.count and report.event != FIT_END:
                return CANCEL
            return CONTINUE
        except BaseException as error:  # noqa: B902 (KeyboardInterrupt included): never into C
            if self.error is None:
                self.error = error
            return CANCEL


# dcnn_log_level -> logging level
_LOG_LEVELS = {0: logging.ERROR, 1: logging.WARNING, 2: logging.INFO, 3: logging.DEBUG}
_log_lock = threading.Lock()
_log_context = None  # (context handle, the ctypes sink it calls), made once, never destroyed


def _forward_log(level, message, user) -> None:
    try:
        logging.getLogger("digitcnn").log(_LOG_LEVELS.get(level, logging.WARNING),
                                          message.decode("utf-8", "replace"))
    except BaseException:  # noqa: B902: never into C
        pass


def log_context():
    """A context whose log sink is the ``digitcnn`` logger (so the trainer's warnings show, as
    logging's default does for warnings, and its notes are there for an INFO handler). The
    default context cannot take a sink; this one has its thread count (all cores the process
    may run on) and lives as long as the process, so every object created with it may outlive
    any call."""
    global _log_context
    with _log_lock:
        if _log_context is None:
            context = ctypes.c_void_p()
            _lib.lib.dcnn_context_create(ctypes.byref(context))
            sink = _lib.LOG_FN(_forward_log)
            _lib.lib.dcnn_context_set_log(context, sink, 2, None)  # DCNN_LOG_INFO
            _log_context = (context, sink)
        return _log_context[0]


def run_fit(trainer, call: Callable[[], None], progress: int, stream=None) -> None:
    """Runs ``call`` (the ``dcnn_trainer_fit`` call) with the progress callback installed on
    ``trainer``; raises KeyboardInterrupt after a Ctrl-C, or the callback's own exception, once the
    library has returned (it then holds the weights of the last completed step)."""
    interrupts = _Interrupts()
    callback = ProgressCallback(ProgressDisplay(progress, stream), interrupts)
    _lib.lib.dcnn_trainer_set_progress(trainer, callback.function, None)
    try:
        with interrupts.installed():
            try:
                call()
            except _lib.DigitcnnError as error:
                if error.status != _lib.STATUS_CANCELLED or (not interrupts.count and callback.error is None):
                    raise
        if callback.error is not None:
            raise callback.error
        if interrupts.count:
            raise KeyboardInterrupt("digitcnn: fit cancelled by Ctrl-C after the current step")
    finally:
        _lib.lib.dcnn_trainer_set_progress(trainer, _lib.PROGRESS_FN(), None)  # a NULL callback

