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
    """Ctrl-C while the C library trains. SIGINT's Python handler runs at the next point the main
    thread runs Python code: in the progress callback, often before its ``try`` has begun, where an
    exception it raises is printed by ctypes and lost. So during the fit SIGINT only counts, and the
    callback, inside its ``try``, passes each Ctrl-C on to the handler it replaced:

    - Python's default handler (or ``SIG_DFL``): the fit is cancelled after the current step and
      :func:`run_fit` raises KeyboardInterrupt once the library has returned;
    - a program's own handler (a graceful shutdown, asyncio's): it is called, with SIGINT and the
      frame the signal interrupted; if it raises, the fit is cancelled and the exception raised
      after it, and if it returns, the fit goes on.

    An ignored SIGINT (``SIG_IGN``), or a handler set outside Python, is left alone; so is SIGINT
    when the fit runs on another thread than the main one. The replaced handler is put back after
    the fit (or the one it set meanwhile, if it set another)."""

    def __init__(self):
        self.count = 0  # Ctrl-Cs not yet passed on
        self.frame = None  # where the last one landed
        self.previous = None  # the handler replaced for the fit; None: SIGINT left alone

    def handler(self, signum, frame) -> None:
        self.count += 1
        self.frame = frame

    def stops(self) -> bool:
        """True when Ctrl-C means KeyboardInterrupt (Python's default handler was replaced)."""
        return self.previous in (signal.default_int_handler, signal.SIG_DFL)

    def pass_on(self) -> bool:
        """Gives the pending Ctrl-Cs to the replaced handler; True when the fit is to stop (the default
        handler's: the count stays, for :func:`run_fit`'s KeyboardInterrupt). An exception the
        program's handler raises propagates (the callback cancels the fit with it)."""
        if not self.count:
            return False
        if self.stops():
            return True
        while self.count and self.previous is not None:
            self.count -= 1
            frame, self.frame = self.frame, None
            try:
                self.previous(signal.SIGINT, frame)
            finally:
                self._follow()
        self.count = 0
        return False

    def pass_on_late(self) -> None:
        """After the fit, its handler put back: KeyboardInterrupt for a Ctrl-C the fit was stopped by
        (or that came after its last report), or the program's handler called for those that came
        after the last report (an exception it raises propagates, as it would have without the fit)."""
        if self.count and self.stops():
            raise KeyboardInterrupt("digitcnn: fit cancelled by Ctrl-C after the current step")
        handler, frame, count = self.previous, self.frame, self.count
        self.count, self.frame = 0, None
        for _ in range(count if callable(handler) else 0):
            handler(signal.SIGINT, frame)

    def _follow(self) -> None:
        """After the program's handler ran: if it set another SIGINT handler (a second Ctrl-C to force
        the exit), that one is the program's choice from now on, put back after the fit; ours stays
        in front of it, unless it is SIG_IGN or set outside Python (then SIGINT is left to it)."""
        current = signal.getsignal(signal.SIGINT)
        if current == self.handler:
            return
        if current in (signal.SIG_IGN, None):
            self.previous, self.count = None, 0  # nothing to put back: it is in place
            return
        self.previous = current
        signal.signal(signal.SIGINT, self.handler)

    @contextlib.contextmanager
    def installed(self) -> Iterator["_Interrupts"]:
        # Only the main thread may set signal handlers (and Python runs them there only): a fit
        # on another thread is not interrupted by Ctrl-C; the main thread gets it as usual.
        # An ignored SIGINT stays ignored; a handler set outside Python (getsignal gives None) cannot
        # be put back, so it is left in place.
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = signal.getsignal(signal.SIGINT)
        if previous in (signal.SIG_IGN, None):
            yield self
            return
        try:
            signal.signal(signal.SIGINT, self.handler)
        except (ValueError, OSError):
            yield self
            return
        self.previous = previous
        try:
            yield self
        finally:
            if self.previous is not None:
                signal.signal(signal.SIGINT, self.previous)


class ProgressCallback:
    """The ``dcnn_progress_fn`` given to the trainer (keep this object alive during the fit)."""

    def __init__(self, display: Callable[["_lib.Progress"], None], interrupts: _Interrupts):
        self.display = display
        self.interrupts = interrupts
        self.error: Optional[BaseException] = None  # the first, from a report before the fit's end
        self.end_error: Optional[BaseException] = None  # from the fit's end report: raised only if nothing else is
        self.function = _lib.PROGRESS_FN(self._call)

    def _call(self, pointer, user) -> int:
        end = False
        try:  # the whole body: nothing may escape into ctypes, which would print and drop it
            report = pointer.contents
            if report.struct_size < ctypes.sizeof(_lib.Progress):
                raise RuntimeError(f"libdigitcnn reports {report.struct_size} bytes of progress, this binding reads "
                                   f"{ctypes.sizeof(_lib.Progress)}: library and binding do not match")
            end = report.event == FIT_END
            if _exit.cut_short() and report.event != FIT_END:  # another thread's fit at exit
                raise RuntimeError("digitcnn: fit cancelled after the current step: the interpreter is exiting")
            self.display(report)
            if self.interrupts.pass_on() and report.event != FIT_END:  # the program's handler may raise
                return CANCEL
            return CONTINUE
        except BaseException as error:  # noqa: B902 (KeyboardInterrupt included): never into C
            # the end report comes after what ended the fit (its error, a Ctrl-C): that stays the one raised
            if end:
                self.end_error = error
            elif self.error is None:
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


def _also(error: BaseException, end_error: Optional[BaseException]) -> BaseException:
    """``error``, noting ``end_error`` (the fit's end report's, which comes after what ended the fit): as a
    note (Python 3.11 on), or on the ``digitcnn`` logger before. Never raises: ``error`` is the one to raise."""
    if end_error is None or end_error is error:
        return error
    try:
        text = f"digitcnn: the progress report at the fit's end then failed too: {end_error!r}"
        if hasattr(error, "add_note"):
            error.add_note(text)
        else:
            logging.getLogger("digitcnn").warning("%s", text)
    except Exception:  # noqa: B902: a broken __repr__ or __notes__ must not replace `error`
        pass
    return error


def run_fit(trainer, call: Callable[[], None], progress: int, stream=None) -> None:
    """Runs ``call`` (the ``dcnn_trainer_fit`` call) with the progress callback installed on
    ``trainer``; once the library has returned (it then holds the weights of the last completed
    step) raises, first found first: the library's error; the callback's own exception from a report
    before the fit's end (a program's SIGINT handler's among them); KeyboardInterrupt after a Ctrl-C
    (SIGINT with Python's default handler); the exception of the fit's end report, noted on any of
    the others when one is raised. A Ctrl-C that came after the last report goes to the program's
    handler once the fit has returned."""
    interrupts = _Interrupts()
    callback = ProgressCallback(ProgressDisplay(progress, stream), interrupts)
    _lib.lib.dcnn_trainer_set_progress(trainer, callback.function, None)
    try:
        with interrupts.installed():
            try:
                call()
            except _lib.DigitcnnError as error:
                if error.status != _lib.STATUS_CANCELLED or (not interrupts.count and callback.error is None):
                    raise _also(error, callback.end_error)
        if callback.error is not None:
            raise _also(callback.error, callback.end_error)
        try:
            interrupts.pass_on_late()
        except BaseException as error:  # noqa: B902: KeyboardInterrupt, or the program's handler's
            raise _also(error, callback.end_error)
        if callback.end_error is not None:
            raise callback.end_error
    finally:
        _lib.lib.dcnn_trainer_set_progress(trainer, _lib.PROGRESS_FN(), None)  # a NULL callback
