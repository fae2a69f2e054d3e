"""The example programs' command lines (issue #15, section 5; issue #20, item 2).

    python3 bad_arguments.py BUILD/examples [BUILD/tests/cli_tiny_model]

Every bad value or unknown option must end the program with status 2 before it
does any work, with a message on standard error that names the option and the
value. digitcnn-bench must start its PyTorch peer without a shell: a model name
or peer path holding shell syntax is refused or passed on verbatim, never run.
Every program answers --help (stdout, status 0) and --version (status 0, the
library's version); options may follow positional arguments and "--" ends them;
digitcnn-classify --json prints one valid JSON object per image, whatever the
file's name (cli_tiny_model writes the untrained model and the image it reads).

The peer is faked: a `torch` package first on PYTHONPATH that records the
arguments of the script importing it (and lets `python3 -c "import torch"`, the
bench's probe, succeed), so the test needs no PyTorch.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

EXAMPLES = Path(sys.argv.pop(1) if len(sys.argv) > 1 else "build/examples").resolve()
TINY_MODEL = Path(sys.argv.pop(1) if len(sys.argv) > 1 else EXAMPLES.parent / "tests" / "cli_tiny_model").resolve()
PROGRAMS = ("bench", "classify", "custom-layer", "data", "export", "hello", "hparam-search", "paper", "proxy",
            "robustness", "table1")
VERSION_H = (Path(__file__).resolve().parents[2] / "include" / "digitcnn" / "version.h").read_text()
VERSION = ".".join(re.search(rf"#define DCNN_VERSION_{part} (\d+)", VERSION_H).group(1)
                   for part in ("MAJOR", "MINOR", "PATCH"))
TIMEOUT = 60  # seconds: a hang, not slowness (a loaded machine, the sanitizer build); bad values fail fast

FAKE_TORCH = '''
import json, os, sys
if sys.argv[0] != "-c":  # imported by a peer script, not by the probe
    with open(os.environ["FAKE_TORCH_ARGV"], "a") as f:
        f.write(json.dumps(sys.argv) + "\\n")
    print("torch train batch 2: 5.00 ms/step")
    sys.exit(0)
'''

# (program, arguments, the option the message must name, the value it must quote or None)
BAD = [
    ("paper", ["--epochs", "5x"], "--epochs", "5x"),
    ("paper", ["--epochs", "-1"], "--epochs", "-1"),
    ("paper", ["--lr", "inf"], "--lr", "inf"),
    ("paper", ["--lr", "nan"], "--lr", "nan"),
    ("paper", ["--lr", "0"], "--lr", "0"),
    ("paper", ["--lr", "1e-3x"], "--lr", "1e-3x"),
    ("paper", ["--threads", "0x"], "--threads", "0x"),
    ("paper", ["--batch", "32.5"], "--batch", "32.5"),
    ("paper", ["--seed", "-1"], "--seed", "-1"),
    ("paper", ["--val-fraction", "1"], "--val-fraction", "1"),
    ("paper", ["--val-fraction", "-0.1"], "--val-fraction", "-0.1"),
    ("paper", ["--val-fraction", "0", "--validation-only"], "--val-fraction 0", "--validation-only"),
    ("paper", ["--val-fraction", "0", "--patience", "2"], "--val-fraction 0", "--patience"),
    ("paper", ["--val-fraction", "0", "--schedule", "plateau"], "--val-fraction 0", "--schedule plateau"),
    ("paper", ["--bn-momentum", "1"], "--bn-momentum", "1"),
    # the recipe keys' ranges, so that with --recipe the option, not "--set", is named
    ("paper", ["--recipe", "best", "--lr", "1e-10"], "--lr", "1e-10"),
    ("paper", ["--recipe", "best", "--bn-momentum", "0.9999995"], "--bn-momentum", "0.9999995"),
    ("paper", ["--patience", "two"], "--patience", "two"),
    ("paper", ["--schedule", "bogus"], "--schedule", "bogus"),
    ("paper", ["--progress", "bogus"], "--progress", "bogus"),
    ("paper", ["--out", ""], "--out", None),
    ("table1", ["--epochs", "5x"], "--epochs", "5x"),
    ("table1", ["--batch", "1e3"], "--batch", "1e3"),
    ("table1", ["--threads", "0x"], "--threads", "0x"),
    ("table1", ["--models", "paper,alexnet"], "--models", "alexnet"),
    ("table1", ["--models", "paper,,lenet5"], "--models", "paper,,lenet5"),
    ("hparam-search", ["--mode", "bogus"], "--mode", "bogus"),
    ("hparam-search", ["--trials", "0x"], "--trials", "0x"),
    ("hparam-search", ["--subset", "5x"], "--subset", "5x"),
    ("hparam-search", ["--threads", "0x"], "--threads", "0x"),
    ("robustness", ["--epochs", "-1"], "--epochs", "-1"),
    ("robustness", ["--adv-epsilon", "nan"], "--adv-epsilon", "nan"),
    ("robustness", ["--adv-ratio", "inf"], "--adv-ratio", "inf"),
    ("robustness", ["--pgd-images", "0x"], "--pgd-images", "0x"),
    ("robustness", ["--seed", "1.5"], "--seed", "1.5"),
    ("data", ["--threads", "0x"], "--threads", "0x"),
    ("paper", ["--recipe", "bogus"], "--recipe", "bogus"),
    ("paper", ["--set", "mixup=x"], "--set", "mixup=x"),
    # 120 repeated overrides once overflowed the override buffer (SIGSEGV): only the last value counts
    ("paper", ["--lr", "0.001"] * 120 + ["--batch", "64"] * 120 + ["--set", "mixup=x"], "--set", "mixup=x"),
    ("paper", ["--recipe", "best", "--schedule", "plateau"], "--schedule", "plateau"),
    ("paper", ["--recipe", "best-and-rgb-cosine", "--epochs", "3"], "--epochs", "best-and-rgb-cosine is an ensemble"),
    ("paper", ["--recipe", "best-and-rgb-cosine", "--set", "ema=0"], "--set", "best-and-rgb-cosine is an ensemble"),
    ("proxy", ["--limit", "0"], "--limit", "0"),
    ("proxy", ["--seed", "x"], "--seed", "x"),
    ("proxy", ["--tta", "3"], "--tta", "3"),
    ("proxy", ["--split", "train"], "--split", "train"),
    ("proxy", ["--ensemble", "--evaluate", "a.dcnn"], "--ensemble", "2 or more"),
    ("data", ["--seed", "-1"], "--seed", "-1"),
    ("data", ["--bogus"], "--bogus", None),
    ("classify", ["--top", "0x", "model.dcnn"], "--top", "0x"),
    ("classify", ["--top", "-3", "model.dcnn"], "--top", "-3"),
    ("bench", ["--no-peer", "--steps", "5x"], "--steps", "5x"),
    ("bench", ["--no-peer", "--threads", "0x"], "--threads", "0x"),
    ("bench", ["--no-peer", "--batches", "32,x"], "--batches", "x"),
    ("bench", ["--model", "alexnet", "--steps", "1", "--batches", "2"], "--model", "alexnet"),
    ("bench", ["--peer", "-cimport os; os.system('touch PWNED')", "--steps", "1", "--batches", "2", "--no-infer"],
     "--peer", "-cimport os"),
    ("bench", ["--recipe", "fastest", "--steps", "1", "--batches", "2"], "--recipe", "fastest"),
    ("bench", ["--recipe", "best", "--model", "lenet5", "--steps", "1", "--batches", "2"], "--recipe", "lenet5"),
    ("hello", ["--bogus"], "--bogus", None),
    ("custom-layer", ["--bogus"], "--bogus", None),
    # issue #20: getopt_long's forms, options after positional arguments
    ("paper", ["--epochs=5x"], "--epochs", "5x"),
    ("paper", ["--quick=1"], "--quick", "--quick=1"),
    ("paper", ["--no"], "--no", "--no-augment, --no-keep-best, --no-checkpoints"),  # ambiguous prefix
    ("paper", ["--epochs"], "--epochs", None),
    ("paper", ["-x"], "-x", None),
    ("data", ["extra"], "extra", None),
    ("classify", ["model.dcnn", "x.png", "--top", "0x"], "--top", "0x"),
    ("classify", ["model.dcnn", "--top=1e9"], "--top", "1e9"),
    ("export", ["--opset", "18", "a.dcnn", "a.onnx"], "--opset", "18"),
    ("export", ["a.dcnn", "a.onnx", "third"], "third", None),
    ("export", ["--import=1", "a.onnx", "a.dcnn"], "--import", "--import=1"),
    # every program's own flags, given a value (once "-\\377" and "-h")
    ("paper", ["--version=1"], "--version", "--version=1"),
    ("hello", ["--help=x"], "--help", "--help=x"),
    # the grid has 8 points: a 9th trial was once silently dropped
    ("hparam-search", ["--trials", "9"], "--trials 9", "8 points"),
    ("paper", ["--set", "batch=1"], "--set", "batch"),
    # a forgotten value: the next option is not taken as it (a directory named --quick)
    ("table1", ["--out", "--quick"], "--out", "--quick"),
    ("data", ["--grid", "--rgb"], "--grid", "--rgb"),
    ("paper", ["--data", "--quick"], "--data", "--quick"),
    # --grid-from without --grid, or past --limit: refused before any work
    ("proxy", ["--grid-from", "3"], "--grid-from", "--grid"),
    ("proxy", ["--grid", "g.png", "--grid-from", "30", "--limit", "10"], "--grid-from 30", "--limit 10"),
    # a file the user names must be there; options that would be ignored are refused (a review)
    ("bench", ["--peer", "/nonexistent/peer.py", "--steps", "1"], "--peer", "/nonexistent/peer.py"),
    ("bench", ["--peer", "/nonexistent/peer.py", "--no-peer"], "--peer", "--no-peer"),
    ("robustness", ["--model", "m.dcnn", "--epochs", "3"], "--epochs", "--model"),
    ("robustness", ["--model", "m.dcnn", "--adv-pgd"], "--adv-pgd", "--model"),
    ("export", ["--import", "--opset", "10", "a.onnx", "a.dcnn"], "--opset", "--import"),
    ("paper", ["--resume", "/nonexistent/last.dcnn"], "--resume", "/nonexistent/last.dcnn"),
    ("paper", ["--lr", "0x1p-10"], "--lr", "0x1p-10"),
    ("paper", ["--resume", "."], "--resume", "not a regular file"),
]

# One bad number per program; the two without options get a stray number.
BAD_NUMBER = [
    ("bench", ["--no-peer", "--steps", "5x"], "--steps", "5x"),
    ("classify", ["--top", "5x", "model.dcnn"], "--top", "5x"),
    ("custom-layer", ["5x"], "5x", "unexpected argument"),
    ("data", ["--seed", "nan"], "--seed", "nan"),
    ("export", ["--opset", "5x", "a.dcnn", "a.onnx"], "--opset", "5x"),
    ("hello", ["5x"], "5x", "unexpected argument"),
    ("hparam-search", ["--trials", "5x"], "--trials", "5x"),
    ("paper", ["--lr", "nan"], "--lr", "nan"),
    ("proxy", ["--limit", "5x"], "--limit", "5x"),
    ("robustness", ["--adv-ratio", "2"], "--adv-ratio", "out of range"),
    ("table1", ["--epochs", "1e99"], "--epochs", "1e99"),
]

# Valid values of the same options: parsing accepts them and the program stops
# later, at the missing data directory (status 1, not 2).
GOOD = [
    ("paper", ["--epochs", "3", "--lr", "1e-3", "--threads", "1", "--batch", "64", "--seed", "7", "--val-fraction",
               "0.2", "--bn-momentum", "0.9", "--patience", "2", "--schedule", "cosine", "--progress", "none"]),
    ("table1", ["--models", "paper,lenet5", "--epochs", "1", "--batch", "16", "--threads", "1"]),
    ("hparam-search", ["--mode", "random", "--trials", "2", "--subset", "500", "--threads", "1"]),
    ("robustness", ["--epochs", "1", "--adv-epsilon", "0.1", "--adv-ratio", "1", "--pgd-images", "10"]),
    ("data", ["--threads", "1", "--seed", "3"]),
    ("proxy", ["--threads", "1", "--seed", "3", "--limit", "10", "--no-recolour", "--tta", "9"]),
    ("proxy", ["--split", "test", "--limit", "10"]),
    ("proxy", ["--split", "validation"]),
    ("proxy", ["--ensemble", "--evaluate", "a.dcnn", "--evaluate", "b.dcnn"]),
    ("paper", ["--recipe", "best", "--set", "ema=0 mixup=0.2", "--epochs", "2", "--schedule", "cosine"]),
    ("paper", ["--recipe", "best-and-rgb-cosine", "--quick", "--validation-only"]),
    ("paper", ["--recipe", "best", "--val-fraction", "0", "--no-keep-best"]),
]


class CommandLineTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self.tmp.name)
        (self.dir / "fake" / "torch").mkdir(parents=True)
        (self.dir / "fake" / "torch" / "__init__.py").write_text(FAKE_TORCH)
        self.record = self.dir / "peer-argv.txt"
        self.env = dict(os.environ, PYTHONPATH=str(self.dir / "fake"), FAKE_TORCH_ARGV=str(self.record),
                        OMP_NUM_THREADS="1")

    def tearDown(self):
        self.tmp.cleanup()

    def run_example(self, program, args):
        """(status, stdout, stderr); status None when the program was still running after TIMEOUT."""
        # Programs that load data get a missing directory: a wrongly accepted command line fails
        # fast instead of training.
        if program in ("paper", "table1", "hparam-search", "robustness", "data", "proxy"):
            args = args + ["--data", str(self.dir / "no-such-data")]
        if program in ("paper", "table1", "robustness", "proxy") and "--out" not in args:
            args = args + ["--out", str(self.dir / "out")]
        try:
            run = subprocess.run([str(EXAMPLES / f"digitcnn-{program}")] + args, cwd=self.dir, env=self.env,
                                 capture_output=True, text=True, timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            return None, "", ""
        return run.returncode, run.stdout, run.stderr

    def peer_calls(self):
        return [json.loads(line) for line in self.record.read_text().splitlines()] if self.record.exists() else []

    def test_bad_values_exit_2_naming_option_and_value(self):
        for program, args, option, value in BAD:
            with self.subTest(program=program, args=args):
                status, _, err = self.run_example(program, args)
                self.assertIsNotNone(status, f"still running after {TIMEOUT} s: the value was accepted")
                self.assertEqual(status, 2, err)
                self.assertIn(option, err)
                if value is not None:
                    self.assertIn(value, err)
                self.assertEqual(self.peer_calls(), [], "a bad command line must not start the peer")
                self.assertFalse((self.dir / "PWNED").exists(), "a command in an argument ran")

    def test_good_values_are_accepted(self):
        for program, args in GOOD:
            with self.subTest(program=program):
                status, _, err = self.run_example(program, args)
                self.assertEqual(status, 1, err)  # the missing data, after parsing
                # digitcnn-proxy reads its --evaluate models (missing here) before taking its lock and the data
                self.assertIn("a.dcnn: cannot open" if "--evaluate" in args else "no-such-data", err)

    def test_help_exits_0(self):
        for program in PROGRAMS:
            for flag in ("--help", "-h"):
                with self.subTest(program=program, flag=flag):
                    status, out, err = self.run_example(program, [flag])
                    self.assertEqual(status, 0, err)
                    self.assertIn("usage", out)
                    self.assertIn("--version", out)
                    self.assertIn("Exit status: 0 success, 1 failure", out)  # the same in every program
                    self.assertEqual(err, "")

    def test_version_exits_0(self):
        for program in PROGRAMS:
            with self.subTest(program=program):
                status, out, err = self.run_example(program, ["--version"])
                self.assertEqual(status, 0, err)
                self.assertEqual(out, f"digitcnn-{program} (libdigitcnn) {VERSION}\n")

    def test_a_bad_number_exits_2_naming_the_option(self):
        self.assertEqual({program for program, *_ in BAD_NUMBER}, set(PROGRAMS))
        for program, args, option, quoted in BAD_NUMBER:
            with self.subTest(program=program, args=args):
                status, out, err = self.run_example(program, args)
                self.assertEqual(status, 2, err)
                self.assertIn(option, err)
                self.assertIn(quoted, err)
                self.assertEqual(out, "")

    def test_the_default_data_directory_is_digitcnn_data(self):
        """Without --data: $DIGITCNN_DATA (installed programs once named the build machine's checkout)."""
        elsewhere = str(self.dir / "elsewhere")
        env = dict(self.env, DIGITCNN_DATA=elsewhere)
        for program in ("paper", "table1", "hparam-search", "robustness", "data", "proxy"):
            with self.subTest(program=program):
                run = subprocess.run([str(EXAMPLES / f"digitcnn-{program}"), "--help"], cwd=self.dir, env=env,
                                     capture_output=True, text=True, timeout=TIMEOUT)
                self.assertEqual(run.returncode, 0, run.stderr)
                self.assertIn(f"default {elsewhere}", run.stdout)
        run = subprocess.run([str(EXAMPLES / "digitcnn-data")], cwd=self.dir, env=env, capture_output=True, text=True,
                             timeout=TIMEOUT)
        self.assertEqual(run.returncode, 1, run.stderr)
        self.assertIn(elsewhere, run.stderr)

    def test_a_lost_standard_output_exits_1(self):
        """Output to a full disk is a failure (status 1 and a message), not a success."""
        if not Path("/dev/full").exists():
            self.skipTest("no /dev/full")
        for program, args in (("hello", []), ("paper", ["--version"]), ("data", ["--help"])):
            with self.subTest(program=program, args=args):
                with open("/dev/full", "w") as full:
                    run = subprocess.run([str(EXAMPLES / f"digitcnn-{program}")] + args, cwd=self.dir,
                                         env=self.env, stdout=full, stderr=subprocess.PIPE, text=True,
                                         timeout=TIMEOUT)
                self.assertEqual(run.returncode, 1, run.stderr)
                self.assertIn("cannot write the standard output", run.stderr)

    def test_classify_stops_at_a_lost_standard_output(self):
        """digitcnn-classify stops at the first answer a full disk refuses, not after the last image."""
        if not Path("/dev/full").exists():
            self.skipTest("no /dev/full")
        self.make_model()
        for stdin in (False, True):
            with self.subTest(stdin=stdin):
                images = ["digit.png"] * 5
                with open("/dev/full", "w") as full:
                    run = subprocess.run([str(EXAMPLES / "digitcnn-classify"), "--verbose", "model.dcnn"] +
                                         ([] if stdin else images), cwd=self.dir, env=self.env,
                                         input="".join(f"{i}\n" for i in images) if stdin else None, stdout=full,
                                         stderr=subprocess.PIPE, text=True, timeout=TIMEOUT)
                self.assertEqual(run.returncode, 1, run.stderr)
                self.assertIn("cannot write the standard output: No space left on device", run.stderr)
                # --verbose's model summary goes to the standard output too: 0 or 1 images, never 5
                self.assertRegex(run.stderr, r"(^|\n)[01] images, 0 failed\n")

    def test_data_draws_a_grid_from_a_data_set_of_a_few_images(self):
        """digitcnn-data --grid on 3 training images (once "index 6 outside 0..2"): the digits repeat."""
        self.make_model()
        png = (self.dir / "digit.png").read_bytes()
        root = self.dir / "tiny"
        for split, count in (("train", 3), ("test", 2)):
            (root / f"mnist_m_{split}").mkdir(parents=True)
            lines = []
            for i in range(count):
                (root / f"mnist_m_{split}" / f"{i:08d}.png").write_bytes(png)
                lines.append(f"{i:08d}.png {i}\n")
            (root / f"mnist_m_{split}_labels.txt").write_text("".join(lines))
        for extra in ([], ["--no-augment"]):
            with self.subTest(extra=extra):
                run = subprocess.run([str(EXAMPLES / "digitcnn-data"), "--data", str(root), "--grid", "g.png"] + extra,
                                     cwd=self.dir, env=self.env, capture_output=True, text=True, timeout=TIMEOUT)
                self.assertEqual(run.returncode, 0, run.stderr)
                self.assertIn("wrote g.png", run.stdout)
                self.assertGreater((self.dir / "g.png").stat().st_size, 0)
                (self.dir / "g.png").unlink()

    def classify(self, args, stdin=None):
        """digitcnn-classify on the tiny model: (status, stdout as bytes, stderr)."""
        run = subprocess.run([str(EXAMPLES / "digitcnn-classify")] + args, cwd=self.dir, env=self.env, input=stdin,
                             capture_output=True, timeout=TIMEOUT)
        return run.returncode, run.stdout, run.stderr.decode(errors="replace")

    def make_model(self):
        run = subprocess.run([str(TINY_MODEL), "model.dcnn", "digit.png"], cwd=self.dir, capture_output=True,
                             text=True, timeout=TIMEOUT)
        self.assertEqual(run.returncode, 0, run.stderr)

    def test_export_round_trip_and_failures(self):
        """digitcnn-export: model file -> ONNX -> model file (0); a missing file or one file (1, 2)."""
        self.make_model()
        def export(*args):
            run = subprocess.run([str(EXAMPLES / "digitcnn-export")] + list(args), cwd=self.dir, env=self.env,
                                 capture_output=True, text=True, timeout=TIMEOUT)
            return run.returncode, run.stderr
        status, err = export("model.dcnn", "model.onnx")
        if status == 1 and "without ONNX" in err:
            self.skipTest("libdigitcnn built without ONNX")
        self.assertEqual(status, 0, err)
        self.assertEqual(export("--import", "model.onnx", "back.dcnn"), (0, ""))
        self.assertTrue((self.dir / "back.dcnn").stat().st_size > 0)
        status, err = export("--import", "missing.onnx", "x.dcnn")
        self.assertEqual(status, 1)
        self.assertIn("missing.onnx", err)
        status, err = export("--import", "model.dcnn", "x.dcnn")  # not ONNX
        self.assertEqual(status, 1)
        self.assertIn("not a valid ONNX model", err)
        self.assertEqual(export("model.dcnn")[0], 2)

    def test_classify_keeps_class_names_in_place(self):
        """An empty name in "classes" ("zero,,two,...") shifted the later names onto the wrong classes (strtok
        merged the commas): class 1 is called by its index, the others by their names; a stdin that cannot be
        read is an error, an ambiguous prefix of --version is said as such."""
        run = subprocess.run([str(TINY_MODEL), "--empty-name", "model.dcnn", "digit.png"], cwd=self.dir,
                             capture_output=True, text=True, timeout=TIMEOUT)
        self.assertEqual(run.returncode, 0, run.stderr)
        status, out, err = self.classify(["model.dcnn", "digit.png", "--top", "10"])
        self.assertEqual(status, 0, err)
        names = [part.split(" (")[0] for part in out.decode().split(": ", 1)[1].strip().split(", ")]
        self.assertEqual(sorted(names), sorted(["zero", "1", "two", "three", "four", "five", "six", "seven", "eight",
                                                "nine"]))
        listing = os.open(self.dir, os.O_RDONLY)  # a directory as the image list: reads fail (EISDIR)
        try:
            directory = subprocess.run([str(EXAMPLES / "digitcnn-classify"), "model.dcnn"], cwd=self.dir,
                                       env=self.env, stdin=listing, capture_output=True, text=True, timeout=TIMEOUT)
        finally:
            os.close(listing)
        self.assertEqual(directory.returncode, 1, directory.stderr)
        self.assertIn("cannot read the image list from the standard input", directory.stderr)
        closed = subprocess.run([str(EXAMPLES / "digitcnn-classify"), "model.dcnn"], cwd=self.dir, env=self.env,
                                stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=TIMEOUT,
                                preexec_fn=lambda: os.close(0))
        self.assertEqual(closed.returncode, 1, closed.stderr)
        self.assertIn("the standard input: it is closed", closed.stderr)
        status, out, err = self.classify(["--v", "model.dcnn", "digit.png"])
        self.assertEqual(status, 2)
        self.assertIn('ambiguous option "--v" (--verbose, --version)', err)

    def test_classify_takes_options_after_positional_arguments(self):
        self.make_model()
        status, out, err = self.classify(["model.dcnn", "digit.png", "--top", "2"])
        self.assertEqual(status, 0, err)
        line = out.decode()
        self.assertTrue(line.startswith("digit.png: "), line)
        self.assertEqual(line.count("("), 2, line)  # two classes, not --top and 2 as file names
        # "--" ends the options: what follows is a file, even "--top"
        status, out, err = self.classify(["model.dcnn", "--", "--top"])
        self.assertEqual(status, 1, err)
        self.assertIn("--top: error:", err)

    def test_classify_json_is_valid_for_any_file_name(self):
        self.make_model()
        png = (self.dir / "digit.png").read_bytes()
        names = [b"plain.png", b'quote" back\\slash.png', b"new\nline\ttab.png", "caf\u00e9 \u6570.png".encode(),
                 b"bad\xff\xc3utf8.png", b"\x01control.png"]
        for name in names:
            (self.dir / os.fsdecode(name)).write_bytes(png)
        status, out, err = self.classify(["--json", "model.dcnn"] + [os.fsdecode(n) for n in names] +
                                         ["missing.png", "--top", "10"])
        self.assertEqual(status, 1, err)  # the missing file
        lines = out.decode("utf-8").splitlines()  # strict: invalid UTF-8 would raise
        self.assertEqual(len(lines), len(names) + 1, out)
        results = [json.loads(line) for line in lines]
        for name, result in zip(names, results):
            with self.subTest(name=name):
                expected = name.decode("utf-8", errors="replace")
                self.assertEqual(result["file"], expected)
                self.assertEqual(len(result["top"]), 10)
                self.assertEqual({entry["index"] for entry in result["top"]}, set(range(10)))
                probabilities = [entry["probability"] for entry in result["top"]]
                self.assertEqual(probabilities, sorted(probabilities, reverse=True))
                self.assertAlmostEqual(sum(probabilities), 1.0, places=4)
                # the model's class names need escaping too (tiny_model.c)
                names_by_index = {entry["index"]: entry["class"] for entry in result["top"]}
                self.assertEqual(names_by_index[7], '"seven"')
                self.assertEqual(names_by_index[8], "ei\\ght")
                self.assertEqual(names_by_index[9], "n\tin\u00e9")
        self.assertEqual(results[-1]["file"], "missing.png")
        self.assertIn("cannot open", results[-1]["error"])
        self.assertNotIn("top", results[-1])

        # file names on standard input, --verbose keeping stdout JSON
        status, out, err = self.classify(["model.dcnn", "--json", "--verbose", "--top=1"], stdin=b"plain.png\n")
        self.assertEqual(status, 0, err)
        [result] = [json.loads(line) for line in out.decode().splitlines()]
        self.assertEqual(result["file"], "plain.png")
        self.assertEqual(len(result["top"]), 1)
        self.assertEqual((result["width"], result["height"]), (40, 30))
        self.assertIn("model: model.dcnn", err)

    def test_shell_syntax_in_the_model_name_is_refused_not_run(self):
        status, _, err = self.run_example("bench", ["--model", "x;touch PWNED;#", "--steps", "1", "--batches", "2",
                                                    "--threads", "1"])
        self.assertEqual(status, 2, err)
        self.assertIn("--model", err)
        self.assertIn("paper, lenet5, resnet50, vgg16, mobilenetv2", err)
        self.assertFalse((self.dir / "PWNED").exists(), "a shell ran the model name")
        self.assertEqual(self.peer_calls(), [])

    def test_the_peer_gets_its_arguments_verbatim_without_a_shell(self):
        peer = self.dir / "peer';touch PWNED;'.py"
        peer.write_text("import torch\n")
        status, out, err = self.run_example("bench", ["--peer", str(peer), "--steps", "1", "--batches", "2",
                                                      "--threads", "1", "--no-infer"])
        self.assertEqual(status, 0, err)
        self.assertFalse((self.dir / "PWNED").exists(), "a shell ran part of the peer's path")
        self.assertEqual(self.peer_calls(), [[str(peer), "--synthetic", "--batch", "2", "--threads", "1",
                                              "--steps", "1"]])
        self.assertIn("torch     5.00 ms/step", out)

        self.record.unlink()
        status, out, err = self.run_example("bench", ["--model", "lenet5", "--steps", "1", "--batches", "2,4",
                                                      "--threads", "1"])
        self.assertEqual(status, 0, err)
        calls = self.peer_calls()
        self.assertEqual([call[1:] for call in calls],
                         [["--model", "lenet5", "--batch", b, "--threads", "1", "--steps", "1"] for b in ("2", "4")])
        self.assertTrue(calls[0][0].endswith("tests/bench/torch_models.py"), calls[0][0])

    def test_an_interrupted_bench_takes_its_peer_with_it(self):
        import signal
        import time
        pid_file = self.dir / "peer.pid"
        peer = self.dir / "slow_peer.py"
        peer.write_text(f"import os, time\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))\ntime.sleep(60)\n")
        bench = subprocess.Popen([str(EXAMPLES / "digitcnn-bench"), "--peer", str(peer), "--steps", "1",
                                  "--batches", "2", "--threads", "1", "--no-infer"], cwd=self.dir, env=self.env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
                time.sleep(0.1)
            self.assertTrue(pid_file.exists(), "the peer never started")
            peer_pid = int(pid_file.read_text())
            bench.send_signal(signal.SIGINT)
            bench.wait(timeout=30)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    os.kill(peer_pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.1)
            else:
                os.kill(peer_pid, signal.SIGKILL)
                self.fail("the peer ran on after the bench was interrupted")
        finally:
            if bench.poll() is None:
                bench.kill()
                bench.wait()

    def test_a_recipe_network_is_timed_without_the_peer(self):
        status, out, err = self.run_example("bench", ["--recipe", "best", "--steps", "1", "--batches", "2",
                                                      "--threads", "1"])
        self.assertEqual(status, 0, err)
        self.assertIn("paper CNN of recipe best (3 x 32 x 32 -> 10 classes)", out)
        self.assertIn("train batch    2:", out)
        self.assertNotIn("infer batch", out)
        self.assertEqual(self.peer_calls(), [])


if __name__ == "__main__":
    unittest.main()
