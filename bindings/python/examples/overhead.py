"""What the Python binding costs: the same training run through the C example and through Python.

Both sides train the paper CNN for the same epochs on the same MNIST-M split with the same seeds,
so they do the same arithmetic (the script checks the final training loss agrees to print
precision). The time compared is the wall time of the training call alone, ``dcnn_trainer_fit``
inside ``digitcnn-paper`` and ``Model.fit`` in Python (ctypes set-up, option calls, history
conversion included); data loading and the test pass are outside both. Runs alternate
C, Python, C, Python, ... so that machine load drifts affect both.

    python3 overhead.py [--epochs 1] [--repeats 2]
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Tuple

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "bindings" / "python"))
import digitcnn as dc  # noqa: E402

TRAINED = re.compile(r"Training: \d+ epochs in ([0-9.]+) s")
EPOCH = re.compile(r" - loss: ([0-9.]+)")


def c_run(binary: Path, data: Path, epochs: int) -> Tuple[float, float]:
    """(seconds in dcnn_trainer_fit, last epoch's training loss) of digitcnn-paper."""
    with tempfile.TemporaryDirectory() as out:
        args = [str(binary), "--data", str(data), "--out", out, "--epochs", str(epochs), "--no-checkpoints",
                "--progress", "lines"]
        text = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return float(TRAINED.search(text).group(1)), float(EPOCH.findall(text)[-1])


def python_run(data: Path, epochs: int) -> Tuple[float, float]:
    """The same through the binding: (seconds in Model.fit, last epoch's training loss)."""
    train_all = dc.Dataset.load_mnist_m(str(data), train=True)
    train, validation = train_all.split(0.1, seed=1, stratified=False)
    model = dc.Model.paper_cnn(seed=1)
    started = time.perf_counter()
    history = model.fit(train, validation, dc.Pipeline(paper=True), epochs=epochs, batch_size=32,
                        learning_rate=1e-3, seed=1, augment=True, progress=0)
    return time.perf_counter() - started, history[-1]["loss"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("DIGITCNN_DATA", ROOT / "data" / "mnist_m")))
    parser.add_argument("--binary", type=Path, default=ROOT / "build" / "examples" / "digitcnn-paper")
    args = parser.parse_args()
    c_times, py_times = [], []
    for repeat in range(args.repeats):
        c_seconds, c_loss = c_run(args.binary, args.data, args.epochs)
        py_seconds, py_loss = python_run(args.data, args.epochs)
        print(f"run {repeat + 1}: C {c_seconds:.2f} s (loss {c_loss:.4f}), Python {py_seconds:.2f} s "
              f"(loss {py_loss:.4f})", flush=True)
        if f"{c_loss:.4f}" != f"{py_loss:.4f}":
            print("the two runs did not do the same training; the comparison is void", file=sys.stderr)
            return 1
        c_times.append(c_seconds)
        py_times.append(py_seconds)
    c_best, py_best = min(c_times), min(py_times)
    c_mean, py_mean = sum(c_times) / len(c_times), sum(py_times) / len(py_times)
    print(f"training time, best of {args.repeats}: C {c_best:.2f} s, Python {py_best:.2f} s, "
          f"overhead {100 * (py_best / c_best - 1):+.2f}%")
    print(f"training time, mean of {args.repeats}: C {c_mean:.2f} s, Python {py_mean:.2f} s, "
          f"overhead {100 * (py_mean / c_mean - 1):+.2f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
