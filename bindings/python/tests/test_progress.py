"""Progress in Python (issue #17): the library's callback drives a live bar in a terminal and in a
notebook (an IPython display handle updated within the epoch), and Ctrl-C stops fit cleanly."""
import ctypes
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import types
import unittest
from unittest import mock

import numpy as np

import digitcnn as dc
from fixtures import halves
from digitcnn import _lib, _progress



class Terminal:
    """A stream that says it is a terminal and keeps what was written."""

    def __init__(self):
        self.parts = []

    def isatty(self):
        return True

    def write(self, text):
        self.parts.append(text)

    def flush(self):
        pass

    def text(self):
        return "".join(self.parts)


class ProgressTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        images, labels = halves(80)
        cls.train = dc.Dataset.from_numpy(images[:64], labels[:64], classes=2)
        cls.val = dc.Dataset.from_numpy(images[64:], labels[64:], classes=2)
        cls.pipe = dc.Pipeline(height=28, width=28, grayscale=1)

    def test_a_terminal_gets_one_line_rewritten_within_the_epoch(self):
        terminal = Terminal()
        model = dc.Model.lenet5(classes=2, seed=4)
        with mock.patch.object(sys, "stderr", terminal), mock.patch.object(_progress, "REDRAW_SECONDS", -1.0):
            model.fit(self.train, self.val, self.pipe, epochs=2, batch_size=16, augment=False, progress=1)
        text = terminal.text()
        first_epoch = text.split("Epoch 2/2\n")[0]
        self.assertTrue(first_epoch.startswith("Epoch 1/2\n"), first_epoch[:80])
        # Every one of the 4 steps redrawn in place, then the epoch's line replaces the bar.
        for step in range(1, 5):
            self.assertIn(f"\r{step}/4 [", first_epoch)
        self.assertEqual(first_epoch.count("\n"), 2)  # the header and the epoch's line: the bar never adds one
        self.assertRegex(first_epoch, r"\r4/4 - \d+s \d+ms/step - accuracy: [0-9.]+ - loss: [0-9.]+ - "
                                      r"val_accuracy: [0-9.]+ - val_loss: [0-9.]+ - lr: 1.00e-03\033\[K\n$")

    def test_a_notebook_gets_a_display_updated_within_the_epoch(self):
        """No IPython in the tests: a stand-in kernel records what the binding displays."""
        shown = []

        class Handle:
            def __init__(self, content):
                self.contents = [content["text/plain"]]
                shown.append(self)

            def update(self, content, raw=False):
                self.contents.append(content["text/plain"])

        def display(content, raw=False, display_id=False):
            handle = Handle(content)
            return handle if display_id else None

        ipython = types.ModuleType("IPython")
        ipython.get_ipython = lambda: types.SimpleNamespace(kernel=object())
        ipython_display = types.ModuleType("IPython.display")
        ipython_display.display = display
        ipython.display = ipython_display
        model = dc.Model.lenet5(classes=2, seed=4)
        with mock.patch.dict(sys.modules, {"IPython": ipython, "IPython.display": ipython_display}), \
                mock.patch.object(_progress, "REDRAW_SECONDS", -1.0):
            model.fit(self.train, None, self.pipe, epochs=2, batch_size=16, augment=False, progress=1)
        self.assertEqual(len(shown), 2)  # one output per epoch, updated in place
        for epoch, handle in enumerate(shown, 1):
            self.assertTrue(all(c.startswith(f"Epoch {epoch}/2\n") for c in handle.contents), handle.contents)
            bars = [c for c in handle.contents if "] - ETA: " in c]
            self.assertEqual(len(bars), 4)  # each step, before the epoch ended
            self.assertIn("\n4/4 - ", handle.contents[-1])
            self.assertNotIn("\r", "".join(handle.contents))

    def test_reports_match_the_library_struct_and_count_every_step(self):
        reports = []
        original = _progress.ProgressDisplay.__call__

        def spy(display, report):
            reports.append((report.struct_size, report.event, report.epoch, report.step, report.samples))
            original(display, report)

        model = dc.Model.lenet5(classes=2, seed=4)
        with mock.patch.object(_progress.ProgressDisplay, "__call__", spy):
            model.fit(self.train, None, self.pipe, epochs=2, batch_size=16, augment=False, progress=0)
        self.assertTrue(all(size == ctypes.sizeof(_lib.Progress) for size, *_ in reports))
        events = [event for _, event, *_ in reports]
        self.assertEqual(events, ([0] + [1] * 4 + [2]) * 2 + [3])
        self.assertEqual([r[4] for r in reports if r[1] == 1][:4], [16, 32, 48, 64])

    def test_an_error_in_the_display_cancels_and_is_raised_after_the_library_returned(self):
        def broken(display, report):
            if report.event == _progress.STEP and report.step == 2:
                raise ZeroDivisionError("display bug")

        model = dc.Model.lenet5(classes=2, seed=4)
        with mock.patch.object(_progress.ProgressDisplay, "__call__", broken):
            with self.assertRaisesRegex(ZeroDivisionError, "display bug"):
                model.fit(self.train, None, self.pipe, epochs=2, batch_size=16, augment=False, progress=1)
        self.assertEqual(model.history, [])
        self.assertTrue(np.isfinite(model.evaluate(self.val, self.pipe)["loss"]))

    def test_an_error_at_the_fits_end_report_does_not_hide_what_ended_the_fit(self):
        """The end report comes after a Ctrl-C or a step's error ended the fit: a display failing there
        (a closed stream) was raised instead of the Ctrl-C's KeyboardInterrupt; after either it is now a
        note on the exception raised. Alone, it is raised."""
        if threading.current_thread() is not threading.main_thread():
            self.skipTest("signal handlers are set on the main thread only")

        def display(interrupt, step_error):
            def show(display, report):
                if report.event == _progress.STEP and report.step == 1:
                    if interrupt:
                        os.kill(os.getpid(), signal.SIGINT)
                    if step_error:
                        raise ZeroDivisionError("display bug")
                if report.event == _progress.FIT_END:
                    raise BrokenPipeError("stream closed")
            return show

        for interrupt, step_error, expected in ((True, False, KeyboardInterrupt), (False, True, ZeroDivisionError),
                                                (False, False, BrokenPipeError)):
            with self.subTest(interrupt=interrupt, step_error=step_error):
                model = dc.Model.lenet5(classes=2, seed=4)
                previous = signal.signal(signal.SIGINT, signal.default_int_handler)
                raised = None
                try:
                    with mock.patch.object(_progress.ProgressDisplay, "__call__", display(interrupt, step_error)):
                        model.fit(self.train, None, self.pipe, epochs=1, batch_size=16, augment=False, progress=1)
                except BaseException as error:  # noqa: B902: KeyboardInterrupt never out of the test
                    raised = error
                finally:
                    signal.signal(signal.SIGINT, previous)
                self.assertIsInstance(raised, expected)
                if expected is not BrokenPipeError and hasattr(raised, "add_note"):  # Python 3.11
                    self.assertIn("BrokenPipeError('stream closed')", "".join(getattr(raised, "__notes__", [])))

    def test_a_broken_end_error_never_replaces_the_one_raised(self):
        class Broken(Exception):
            def __repr__(self):
                raise ValueError("no repr")

        interrupt = KeyboardInterrupt("stop")
        self.assertIs(_progress._also(interrupt, Broken()), interrupt)
        odd = RuntimeError("fit failed")
        odd.__notes__ = "not a list"  # add_note raises TypeError on this
        self.assertIs(_progress._also(odd, BrokenPipeError("closed")), odd)

    def test_the_trainers_diagnostics_reach_the_digitcnn_logger(self):
        model = dc.Model.lenet5(classes=2, seed=4)
        with self.assertLogs("digitcnn", level="INFO") as logs:
            model.fit(self.train, None, self.pipe, epochs=1, batch_size=16, augment=False, progress=0, patience=2)
        self.assertEqual(logs.records[0].levelname, "WARNING")
        self.assertIn("patience 2 is set but there is no validation data", logs.records[0].getMessage())

    def test_progress_mode_is_checked(self):
        model = dc.Model.lenet5(classes=2, seed=4)
        with self.assertRaisesRegex(ValueError, "progress must be 0"):
            model.fit(self.train, None, self.pipe, epochs=1, progress=3)

    def fit_interrupted_by_sigint(self, handler):
        """A fit whose first step sends this process SIGINT while ``handler`` is installed: the model,
        or KeyboardInterrupt's message when fit raises that (the binding's own handler replaced it)."""
        if threading.current_thread() is not threading.main_thread():
            self.skipTest("signal handlers are set on the main thread only")
        sent = []

        def send_sigint(display, report):
            if not sent and report.event == _progress.STEP:
                sent.append(report.step)
                os.kill(os.getpid(), signal.SIGINT)  # runs its Python handler within this callback

        model = dc.Model.lenet5(classes=2, seed=4)
        previous = signal.signal(signal.SIGINT, handler)
        try:
            with mock.patch.object(_progress.ProgressDisplay, "__call__", send_sigint):
                try:
                    model.fit(self.train, None, self.pipe, epochs=2, batch_size=16, augment=False, progress=0)
                except KeyboardInterrupt as interrupt:  # never out of the test: unittest would stop the run
                    return f"KeyboardInterrupt: {interrupt}"
            self.assertIs(signal.getsignal(signal.SIGINT), handler)
        finally:
            signal.signal(signal.SIGINT, previous)
        self.assertEqual(sent, [1])
        return model

    def test_a_sigint_handler_the_program_set_is_called_and_put_back(self):
        """fit replaced any SIGINT handler with its counter: an ignored Ctrl-C (SIG_IGN, nohup-style
        services) or a program's own graceful-shutdown handler became KeyboardInterrupt. An ignored
        SIGINT stays ignored; a program's handler is called between steps, and put back after."""
        model = self.fit_interrupted_by_sigint(signal.SIG_IGN)
        self.assertNotIsInstance(model, str, "an ignored SIGINT stopped the fit")
        self.assertEqual(len(model.history), 2)
        calls = []
        model = self.fit_interrupted_by_sigint(lambda signum, frame: calls.append(signum))
        self.assertNotIsInstance(model, str, "SIGINT went to the binding, not to the program's handler")
        self.assertEqual(len(model.history), 2)
        self.assertEqual(calls, [signal.SIGINT])

        class Shutdown(Exception):
            pass

        def shut_down(signum, frame):
            raise Shutdown("the program's handler")

        with self.assertRaisesRegex(Shutdown, "the program's handler"):  # cancels the fit, raised after it
            result = self.fit_interrupted_by_sigint(shut_down)
            self.fail(f"fit went on: {result}")


CHILD = textwrap.dedent("""
    import signal
    import sys
    # Python's own handler, as an interactive Python has it (a process started in the background by a
    # shell without job control starts with SIGINT ignored, which fit leaves alone).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    import numpy as np
    import digitcnn as dc
    rng = np.random.default_rng(0)
    labels = np.arange(80) % 2
    images = rng.integers(0, 60, size=(80, 28, 28), dtype=np.uint8)
    images[labels == 1, :, :14] += 180
    images[labels == 0, :, 14:] += 180
    train = dc.Dataset.from_numpy(images[:64], labels[:64], classes=2)
    val = dc.Dataset.from_numpy(images[64:], labels[64:], classes=2)
    pipe = dc.Pipeline(height=28, width=28, grayscale=1)
    model = dc.Model.lenet5(classes=2, seed=3)
    try:
        model.fit(train, val, pipe, epochs=100000, batch_size=16, augment=False, progress=2)
    except KeyboardInterrupt as interrupt:
        print("interrupted:", interrupt, flush=True)
        print("epochs:", len(model.history), flush=True)
        print("accuracy:", model.evaluate(val, pipe)["accuracy"], flush=True)
        sys.exit(0)
    print("fit returned without an interrupt", flush=True)
    sys.exit(1)
""")


# A fit with SIGINT sent from another thread while the main thread is in C (as a real Ctrl-C lands):
# the Python handler then runs where the main thread next runs Python code, the progress callback.
PROGRAM_HANDLER_CHILD = textwrap.dedent("""
    import asyncio, os, signal, sys, threading, time
    import numpy as np
    import digitcnn as dc
    from digitcnn import _progress
    mode, epochs = sys.argv[1], int(sys.argv[2])
    rng = np.random.default_rng(0)
    train = dc.Dataset.from_numpy(rng.integers(0, 255, (64, 28, 28), dtype=np.uint8), np.arange(64) % 2, classes=2)
    pipe = dc.Pipeline(height=28, width=28, grayscale=1)
    started = threading.Event()
    def display(self, report):  # each report takes a while: the fit outlasts the Ctrl-Cs on any machine
        started.set()
        time.sleep(0.05)
    _progress.ProgressDisplay.__call__ = display
    def send(n):
        started.wait(60)
        for _ in range(n):
            time.sleep(0.3)
            os.kill(os.getpid(), signal.SIGINT)
    class Shutdown(Exception):
        pass
    calls, fitting = [], []
    def returns(signum, frame):
        calls.append(signum if fitting else "after the fit")
    def shut_down(signum, frame):
        raise Shutdown("the program's handler")
    models = []
    def closes(signum, frame):  # a graceful shutdown that frees the model the fit is using
        models[-1].close()
    def refits(signum, frame):  # a handler that trains the model the fit is training
        models[-1].fit(train, None, pipe, epochs=1, batch_size=16, augment=False, progress=0)
    def labels(signum, frame):  # ... or changes it
        models[-1].set_metadata("note", "from the handler")
    def sessions(signum, frame):  # ... or opens a session on it, which the fit's next step refuses
        dc.Session(models[-1], 4)
    def fit(sends):
        model = dc.Model.lenet5(classes=2, seed=4)
        models.append(model)
        threading.Thread(target=send, args=(sends,), daemon=True).start()
        try:
            fitting.append(True)
            model.fit(train, None, pipe, epochs=epochs, batch_size=16, augment=False, progress=0)
            fitting.clear()
            print("fit returned", len(model.history), flush=True)
        except BaseException as error:
            print("fit raised", type(error).__name__, error, len(model.history), flush=True)
            raise
    if mode == "asyncio":  # asyncio.run sets its own SIGINT handler: the 1st Ctrl-C cancels, the 2nd raises
        async def main():
            fit(2)
        try:
            asyncio.run(main())
        except KeyboardInterrupt:
            print("asyncio.run raised KeyboardInterrupt", flush=True)
    else:
        handler = {"returns": returns, "closes": closes, "refits": refits, "labels": labels,
                   "sessions": sessions}.get(mode, shut_down)
        signal.signal(signal.SIGINT, handler)
        try:
            fit(1)
        except (Shutdown, RuntimeError):
            pass
        print("model open", models[-1]._ptr is not None, flush=True)
        print("handler calls", calls, "put back", signal.getsignal(signal.SIGINT) is handler, flush=True)
""")


class ProgramHandlerTest(unittest.TestCase):
    def run_child(self, mode, epochs):
        try:
            done = subprocess.run([sys.executable, "-c", PROGRAM_HANDLER_CHILD, mode, str(epochs)],
                                  capture_output=True, text=True, timeout=300, env=dict(os.environ))
        except subprocess.TimeoutExpired:
            self.fail(f"{mode}: the fit was not stopped")
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr[-3000:])
        self.assertNotIn("Exception ignored", done.stderr)  # lost in the ctypes callback
        fit = [line for line in done.stdout.splitlines() if line.startswith("fit ")]
        self.assertEqual(len(fit), 1, done.stdout)
        return fit[0], int(fit[0].split()[-1]), done.stdout  # what fit did, the epochs it completed

    def test_ctrl_c_reaches_a_program_handler_and_an_asyncio_program(self):
        """fit left a program's SIGINT handler (asyncio.run installs one) in place: run in the progress
        callback before its try, the exception it raised was printed by ctypes and lost ("Exception
        ignored on calling ctypes callback function"): the fit went on (asyncio's second Ctrl-C) or
        failed with the library's "cancelled" error instead of the handler's exception."""
        epochs = 40  # the Ctrl-Cs come within the first epochs
        fit, done, out = self.run_child("asyncio", epochs)
        self.assertTrue(fit.startswith("fit raised KeyboardInterrupt"), out)
        self.assertLess(done, epochs)
        self.assertIn("asyncio.run raised KeyboardInterrupt", out)
        fit, done, out = self.run_child("raises", epochs)
        self.assertTrue(fit.startswith("fit raised Shutdown the program's handler"), out)
        self.assertLess(done, epochs)
        self.assertIn("handler calls [] put back True", out)
        fit, done, out = self.run_child("returns", 10)  # the handler returns: the fit goes on
        self.assertEqual(fit, "fit returned 10")
        self.assertIn("handler calls [<Signals.SIGINT: 2>] put back True", out)

    def test_a_handler_closing_the_model_mid_fit_is_refused(self):
        """A SIGINT handler runs between steps, inside the C fit: closing the model there freed it
        under the running fit (a heap use-after-free under ASan). It raises RuntimeError, which
        cancels the fit and is raised after it, and the model stays open."""
        fit, done, out = self.run_child("closes", 40)
        self.assertTrue(fit.startswith("fit raised RuntimeError Model is used by a call running on this thread"), out)
        self.assertLess(done, 40)
        self.assertIn("model open True", out)

    def test_a_handler_training_or_changing_the_model_mid_fit_is_refused(self):
        """Only close() was refused inside the fit: a handler's fit trained the model with a second
        optimizer in the middle of the first fit, and set_metadata changed it (progress.h forbids both).
        Each raises RuntimeError, which cancels the fit and is raised after it."""
        for mode, method in (("refits", "Model.fit"), ("labels", "Model.set_metadata"), ("sessions", "Session")):
            fit, done, out = self.run_child(mode, 40)
            self.assertTrue(fit.startswith(f"fit raised RuntimeError {method} inside a fit of this model"), out)
            self.assertLess(done, 40)


class CtrlCTest(unittest.TestCase):
    def test_sigint_stops_fit_with_keyboard_interrupt_and_a_usable_model(self):
        child = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True, env=dict(os.environ))
        try:
            seen = ""
            deadline = time.monotonic() + 60
            while "Epoch 3/" not in seen:  # two epochs done: the interrupt comes mid-training
                line = child.stderr.readline()
                self.assertTrue(line, f"the child ended before training: {seen}")
                seen += line
                self.assertLess(time.monotonic(), deadline, seen)
            sent = time.monotonic()
            child.send_signal(signal.SIGINT)
            out, err = child.communicate(timeout=30)
            took = time.monotonic() - sent
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
        self.assertEqual(child.returncode, 0, out + seen + err)
        self.assertLess(took, 10.0)  # after the current step, not at the end of the run
        self.assertIn("interrupted: digitcnn: fit cancelled by Ctrl-C", out)
        epochs = int(out.split("epochs:")[1].split()[0])
        self.assertGreaterEqual(epochs, 2)
        self.assertGreater(float(out.split("accuracy:")[1].split()[0]), 0.5)
        self.assertNotIn("Traceback", err)
        self.assertNotIn("Exception ignored", err)


class NoStderrTest(unittest.TestCase):
    def test_fit_without_stderr_shows_nothing_and_trains(self):
        import numpy as np
        import digitcnn as dc
        data = dc.Dataset.from_numpy(np.zeros((8, 16, 16), np.uint8), np.arange(8) % 2, classes=2)
        model = dc.Model.lenet5(height=16, width=16, classes=2)
        with mock.patch.object(sys, "stderr", None):
            history = model.fit(data, epochs=1, batch_size=4)  # the default progress=1
        self.assertEqual(len(history), 1)

if __name__ == "__main__":
    unittest.main()
