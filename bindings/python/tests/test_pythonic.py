"""Issue #20 item 1: what a Python user expects (History, built-in exception types, per-class
metrics and a report, an indexable Dataset, reprs, packaging)."""
import ctypes.util
import errno
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
import warnings
import zipfile
from pathlib import Path
from unittest import mock

import numpy as np

import digitcnn as dc
from fixtures import halves

PACKAGE = Path(dc.__file__).resolve().parent


def pip_environment():
    """The environment for a pip run that must stay offline and ignore the user's pip settings."""
    return dict(os.environ, PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1",
                PIP_ROOT_USER_ACTION="ignore", PIP_NO_CACHE_DIR="1")


def copy_package_source(source, bundled):
    """Copies the binding's source tree to `source`, with the loaded libdigitcnn.so inside the
    package when `bundled` (as a wheel for one platform carries it), without any copy otherwise."""
    shutil.copytree(PACKAGE.parent, source,
                    ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info", "libdigitcnn.so*"))
    if bundled:
        shutil.copy(Path(dc._lib.lib._name).resolve(), source / "digitcnn" / "libdigitcnn.so.0.2")
    return source


class HistoryTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.train, cls.val = dc.Dataset.from_numpy(*halves(48)).split(0.25, seed=3)
        cls.model = dc.Model.lenet5(classes=2)
        cls.pipe = cls.model.pipeline()
        cls.result = cls.model.fit(cls.train, cls.val, cls.pipe, epochs=2, batch_size=16, augment=False, progress=0)

    def test_fit_returns_a_keras_like_history(self):
        h = self.result
        self.assertIsInstance(h, dc.History)
        self.assertIs(self.model.history, h)
        for name in ("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "seconds", "steps"):
            self.assertEqual(len(h.history[name]), 2, name)
        self.assertNotIn("epochs", h.history)
        self.assertEqual(h.epoch, [1, 2])
        self.assertEqual([r["loss"] for r in h.epochs], h.history["loss"])
        self.assertEqual(h.history["learning_rate"][0], h.epochs[0]["learning_rate"])
        self.assertIn(h.best_epoch, (1, 2))  # keep_best with validation data
        self.assertEqual(h.best_epoch, self.model.best_epoch)
        self.assertIs(h.best, h.epochs[h.best_epoch - 1])
        self.assertEqual(h.params["epochs"], 2)
        self.assertEqual(h.params["batch_size"], 16)

    def test_the_history_is_still_the_list_of_epochs(self):
        h = self.model.history
        self.assertEqual(len(h), 2)
        self.assertEqual(h[-1]["loss"], h.history["loss"][-1])
        self.assertEqual(list(h), h.epochs)
        self.assertEqual(h, h.epochs)
        self.assertEqual(dc.History(), [])

    def test_an_rgb_model_takes_gray_data(self):
        # the model's own pipeline widens gray images to three equal channels (it made 1: "the pipeline makes samples")
        model = dc.Model.lenet5(channels=3, classes=2)
        pipe = model.pipeline()
        self.assertEqual(pipe["gray_to_rgb"], 1)
        x = model.batch(self.val, [0, 1])
        self.assertEqual(x.shape, (2, 3, 28, 28))
        np.testing.assert_array_equal(x[:, 0], x[:, 2])
        model.fit(self.train, epochs=1, batch_size=16, augment=False, progress=0)
        scores = model.evaluate(self.val)
        self.assertGreaterEqual(scores["accuracy"], 0.0)
        images, _ = halves(2)
        np.testing.assert_allclose(model.predict(images[..., None]), model.predict(np.repeat(images[..., None], 3, axis=3)),
                                   rtol=0, atol=1e-6)
        self.assertEqual(model.pipeline()["gray_to_rgb"], 1)
        self.assertEqual(dc.Model.lenet5(classes=2).pipeline()["gray_to_rgb"], 0)

    def test_a_fit_that_fails_before_an_epoch_keeps_the_previous_history(self):
        model = dc.Model.lenet5(classes=2)
        before = model.fit(self.train, pipeline=self.pipe, epochs=1, batch_size=16, augment=False, progress=0)
        with self.assertRaisesRegex(dc.DigitcnnError, "the pipeline makes samples"):
            model.fit(self.train, pipeline=dc.Pipeline(height=16, width=16, grayscale=1), epochs=1, progress=0)
        self.assertIs(model.history, before)
        self.assertEqual(len(model.history), 1)

    def test_without_validation_there_are_no_val_series(self):
        model = dc.Model.lenet5(classes=2)
        h = model.fit(self.train, pipeline=self.pipe, epochs=1, batch_size=16, augment=False, progress=0)
        self.assertEqual(sorted(h.history), ["accuracy", "learning_rate", "loss", "seconds", "steps"])
        self.assertEqual(h.best_epoch, 0)
        self.assertIsNone(h.best)
        self.assertIn("1 epoch", repr(h))


class ErrorTest(unittest.TestCase):
    def test_a_missing_file_is_file_not_found(self):
        with self.assertRaises(FileNotFoundError) as caught:
            dc.Model.load("/nonexistent/model.dcnn")
        error = caught.exception
        self.assertIsInstance(error, dc.DigitcnnError)
        self.assertEqual(error.status, -3)
        self.assertEqual(error.errno, errno.ENOENT)
        self.assertEqual(error.filename, "/nonexistent/model.dcnn")
        self.assertIn("/nonexistent/model.dcnn: cannot open", str(error))
        with self.assertRaises(FileNotFoundError):
            dc.Dataset.load_mnist_m("/nonexistent/mnist_m")
        with self.assertRaises(FileNotFoundError):
            dc.read_png("/nonexistent/x.png")

    def test_paths_are_str_bytes_or_path_like_and_none_is_a_type_error(self):
        """As open(): os.fsencode, never str(path).encode() ("b'...'" for bytes, "None" for None)."""
        missing = os.path.join(tempfile.gettempdir(), "digitcnn-no-such-directory")
        model = dc.Model.lenet5(classes=2)
        calls = {"load_mnist_m": (lambda path: dc.Dataset.load_mnist_m(path, train=False), missing),
                 "Model.load": (dc.Model.load, os.path.join(missing, "m.dcnn")),
                 "read_png": (dc.read_png, os.path.join(missing, "x.png")),
                 "Model.save": (model.save, os.path.join(missing, "m.dcnn"))}
        for name, (call, target) in calls.items():
            for path in (target, os.fsencode(target), Path(target)):
                with self.subTest(call=name, path=path):
                    with self.assertRaises(FileNotFoundError) as caught:
                        call(path)
                    self.assertTrue(os.fsdecode(caught.exception.filename).startswith(missing + os.sep),
                                    caught.exception.filename)
        for name, call in (("load_mnist_m", dc.Dataset.load_mnist_m), ("Model.load", dc.Model.load),
                           ("read_png", dc.read_png), ("Model.save", model.save)):
            with self.subTest(call=name, path=None), self.assertRaises(TypeError):
                call(None)

    def test_a_directory_is_not_a_file(self):
        with tempfile.TemporaryDirectory() as tmp:
            with self.assertRaises(IsADirectoryError) as caught:
                dc.Model.load(tmp)
            self.assertIsInstance(caught.exception, dc.DigitcnnError)

    def test_arguments_the_library_refuses_are_value_errors(self):
        with self.assertRaises(ValueError) as caught:
            dc.Dataset.from_numpy(np.zeros((2, 4, 4), np.uint8), [0, 5], classes=2)
        self.assertIsInstance(caught.exception, dc.DigitcnnError)
        self.assertEqual(caught.exception.status, -1)

    def test_an_unknown_keyword_is_a_type_error_naming_it(self):
        model = dc.Model.lenet5(classes=2)
        data = dc.Dataset.from_numpy(*halves(8))
        with self.assertRaises(TypeError) as caught:
            model.fit(data, lr=0.1)
        message = str(caught.exception)
        self.assertIn("'lr'", message)
        self.assertIn("did you mean 'learning_rate'", message)
        for name in ("epochs", "batch_size", "patience", "max_steps", "keep_best"):
            self.assertIn(name, message)
        with self.assertRaises(TypeError) as caught:
            dc.Pipeline(heigth=28)
        self.assertIn("'heigth'", str(caught.exception))
        self.assertIn("did you mean 'height'", str(caught.exception))
        self.assertEqual(len(model.history), 0)  # refused before training

    def test_bad_values_name_the_argument(self):
        model = dc.Model.lenet5(classes=2)
        data = dc.Dataset.from_numpy(*halves(8))
        for kwargs, name, kind in (({"epochs": 0}, "epochs", ValueError), ({"batch_size": 2.5}, "batch_size", ValueError),
                                   ({"learning_rate": float("nan")}, "learning_rate", ValueError),
                                   ({"learning_rate": -1}, "learning_rate", ValueError),
                                   ({"learning_rate": "fast"}, "learning_rate", TypeError),
                                   ({"learning_rate": 1e39}, "learning_rate", ValueError),  # not "inf"
                                   ({"learning_rate": 1e-50}, "learning_rate", ValueError),  # not "0"
                                   ({"patience": -1}, "patience", ValueError), ({"keep_best": 2}, "keep_best", ValueError),
                                   ({"max_steps": "x"}, "max_steps", TypeError), ({"augment": "no"}, "augment", TypeError),
                                   ({"augment": 2}, "augment", ValueError),
                                   ({"label_smoothing": "0.1"}, "label_smoothing", TypeError),
                                   ({"ema_decay": float("nan")}, "ema_decay", ValueError)):
            with self.subTest(**{k: repr(v) for k, v in kwargs.items()}):
                with self.assertRaises(kind) as caught:
                    model.fit(data, progress=0, **kwargs)
                self.assertIn(name, str(caught.exception))
                self.assertNotIn("option", str(caught.exception))  # not "option 4" as the C trainer names it
                if kwargs.get("learning_rate") in (1e39, 1e-50):
                    self.assertIn("(a C float), got", str(caught.exception))
        # fit_recipe's overrides are checked as fit's parameters are.
        for kwargs, name, kind in (({"batch_size": "32"}, "batch_size", TypeError), ({"augment": "no"}, "augment", TypeError)):
            with self.subTest(recipe=True, **{k: repr(v) for k, v in kwargs.items()}):
                with self.assertRaises(kind) as caught:
                    dc.Model.from_recipe("rgb-cosine").fit_recipe("rgb-cosine", data, progress=0, **kwargs)
                self.assertIn(name, str(caught.exception))
        metrics = dc.Metrics.from_scores(np.eye(2, dtype=np.float32), [0, 1])
        with self.assertRaises(ValueError) as caught:
            metrics.get("acuracy")
        self.assertIn("accuracy", str(caught.exception))


class MetricsTest(unittest.TestCase):
    # Predictions (argmax) vs labels for 3 classes:
    # label 0: predicted 0, 0, 1; label 1: predicted 1, 1; label 2: predicted 2, 0, 2, 2.
    labels = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2])
    predicted = np.array([0, 0, 1, 1, 1, 2, 0, 2, 2])

    def setUp(self):
        scores = np.full((9, 3), 0.1, dtype=np.float32)
        scores[np.arange(9), self.predicted] = 0.8
        self.metrics = dc.Metrics.from_scores(scores, self.labels)

    def test_per_class_metrics_are_numpy_arrays(self):
        m = self.metrics
        expected_confusion = np.array([[2, 1, 0], [0, 2, 0], [1, 0, 3]])
        np.testing.assert_array_equal(m.confusion_matrix, expected_confusion)
        self.assertEqual(m.confusion_matrix.dtype, np.int64)
        tp = np.diag(expected_confusion).astype(float)
        precision = tp / expected_confusion.sum(axis=0)
        recall = tp / expected_confusion.sum(axis=1)
        fp = expected_confusion.sum(axis=0) - tp
        tn = 9 - expected_confusion.sum(axis=0) - expected_confusion.sum(axis=1) + tp
        for got, want in ((m.precision, precision), (m.recall, recall), (m.f1, 2 * tp / (2 * tp + fp + expected_confusion.sum(axis=1) - tp)),
                          (m.specificity, tn / (tn + fp))):
            self.assertIsInstance(got, np.ndarray)
            self.assertEqual(got.shape, (3,))
            np.testing.assert_allclose(got, want, rtol=1e-12)
        np.testing.assert_array_equal(m.support(), [3, 2, 4])
        np.testing.assert_array_equal(m.per_class("support"), [3, 2, 4])
        self.assertEqual(m.classes, 3)
        with self.assertRaises(ValueError):
            m.per_class("accuracy")

    def test_averages_by_name(self):
        m = self.metrics
        self.assertEqual(m.get("precision", average="macro"), m.get("precision"))
        self.assertEqual(m.get("precision", average="weighted"), m.get("precision", weighted=True))
        # micro: the counts pooled, so precision, recall and F1 are the accuracy (7 of 9);
        # specificity sum TN / sum (TN + FP) = (5 + 6 + 5) / (5 + 6 + 5 + 1 + 1 + 0)
        for name in ("precision", "recall", "f1", "g_measure"):
            self.assertAlmostEqual(m.get(name, average="micro"), 7 / 9, places=12)
        self.assertAlmostEqual(m.get("specificity", average="micro"), 16 / 18, places=12)
        with self.assertRaises(ValueError):
            m.get("precision", average="samples")
        with self.assertRaises(ValueError):
            m.get("precision", weighted=True, average="micro")

    def test_average_named_second(self):
        m = self.metrics  # get("precision", "micro") read "micro" as weighted=True
        for average in ("macro", "weighted", "micro"):
            self.assertEqual(m.get("precision", average), m.get("precision", average=average))
        self.assertNotEqual(m.get("precision", "micro"), m.get("precision", weighted=True))
        with self.assertRaises(TypeError):
            m.get("precision", "micro", average="macro")
        with self.assertRaises(TypeError):
            m.get("precision", [1])
        with self.assertRaises(ValueError):
            m.get("precision", "samples")

    def test_non_finite_scores_are_value_errors(self):
        for bad in (float("nan"), float("inf")):  # as scikit-learn; the library's refusal was a DigitcnnError
            with self.assertRaisesRegex(ValueError, r"scores\[1, 0\]"):
                dc.Metrics.from_scores([[0.2, 0.8], [bad, 0.5]], [1, 0])
            with self.assertRaises(ValueError):
                self.metrics.add(np.array([[bad, 0.5, 0.5]]), [0])
        self.assertEqual(len(self.metrics), 9)

    def test_classification_report_leaves_out_classes_never_seen(self):
        # class 3 is neither a label nor a prediction: no row, as scikit-learn's report, and not in the macro average
        predictions = np.array([0, 1, 1, 1, 2, 0])
        m = dc.Metrics.from_scores(np.eye(4)[predictions] * 0.7 + 0.075, [0, 0, 1, 1, 2, 2])
        lines = m.classification_report(target_names=["a", "b", "c", "d"]).splitlines()
        self.assertEqual([line.split()[0] for line in lines[2:5]], ["a", "b", "c"])
        self.assertEqual(lines[5], "")
        # macro precision over a, b, c: (1/2 + 2/3 + 1) / 3
        self.assertEqual(lines[7].split()[2], f"{(1 / 2 + 2 / 3 + 1) / 3:.2f}")

    def test_classification_report_has_scikit_learns_layout(self):
        report = self.metrics.classification_report(target_names=["zero", "one", "two"], digits=3)
        lines = report.splitlines()
        self.assertEqual(lines[0].split(), ["precision", "recall", "f1-score", "specificity", "support"])
        self.assertEqual(lines[1], "")
        self.assertEqual(lines[2].split(), ["zero", "0.667", "0.667", "0.667", "0.833", "3"])
        self.assertEqual(lines[3].split(), ["one", "0.667", "1.000", "0.800", "0.857", "2"])
        self.assertEqual(lines[4].split(), ["two", "1.000", "0.750", "0.857", "1.000", "4"])
        self.assertEqual(lines[6].split(), ["accuracy", "0.778", "9"])
        self.assertEqual(lines[7].split()[:2], ["macro", "avg"])
        self.assertEqual(lines[8].split()[:2], ["weighted", "avg"])
        self.assertEqual(lines[8].split()[-1], "9")
        self.assertEqual(len({len(line) for line in lines if line}), 1)  # columns line up
        with self.assertRaises(ValueError):
            self.metrics.classification_report(target_names=["a"])


class DatasetTest(unittest.TestCase):
    def setUp(self):
        self.images, self.labels = halves(6)
        self.data = dc.Dataset.from_numpy(self.images, self.labels)

    def test_indexing_gives_image_and_label(self):
        image, label = self.data[1]
        np.testing.assert_array_equal(image, self.images[1][..., None])
        self.assertEqual(label, 1)
        image, label = self.data[-1]
        np.testing.assert_array_equal(image, self.images[5][..., None])
        self.assertEqual(label, self.labels[-1])
        np.testing.assert_array_equal(self.data.image(-6), self.images[0][..., None])
        self.assertEqual(self.data.label(-2), self.labels[4])
        for bad in (6, -7):
            with self.assertRaises(IndexError):
                self.data[bad]
        with self.assertRaises(TypeError):
            self.data[1.5]
        part = self.data[1:5:2]
        self.assertIsInstance(part, dc.Dataset)
        np.testing.assert_array_equal(part.labels, self.labels[1:5:2])

    def test_iteration_and_len(self):
        self.assertEqual(len(self.data), 6)
        pairs = list(self.data)
        self.assertEqual(len(pairs), 6)
        self.assertEqual([label for _, label in pairs], list(self.labels))
        np.testing.assert_array_equal(np.stack([image for image, _ in self.data])[..., 0], self.images)

    def test_labels_and_classes_are_both_properties(self):
        np.testing.assert_array_equal(self.data.labels, self.labels)
        self.assertEqual(self.data.labels.dtype, np.int32)
        self.assertEqual(self.data.classes, 2)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            np.testing.assert_array_equal(self.data.labels(), self.labels)  # the 0.1 spelling still works
        self.assertTrue(any(issubclass(w.category, DeprecationWarning) for w in caught))

    def test_labels_and_the_arrays_made_from_them_pickle(self):
        """labels was of a class made inside a function: it, and every array NumPy derived from it
        (ds.labels == 1, np.unique(ds.labels)), could not be pickled nor sent to a worker process."""
        import copy
        import pickle
        labels = self.data.labels
        for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
            for what, array in (("labels", labels), ("labels == 1", labels == 1), ("unique", np.unique(labels)),
                                ("a slice", labels[::2]), ("a sum", labels + 1)):
                with self.subTest(protocol=protocol, array=what):
                    back = pickle.loads(pickle.dumps(array, protocol=protocol))
                    self.assertIs(type(back), np.ndarray)  # a plain array: no digitcnn needed to read it
                    np.testing.assert_array_equal(back, array)
                    self.assertEqual(back.dtype, array.dtype)
        np.testing.assert_array_equal(copy.deepcopy(labels), self.labels)


class ReprTest(unittest.TestCase):
    def test_every_handle_says_what_it_holds(self):
        data = dc.Dataset.from_numpy(*halves(4))
        model = dc.Model.lenet5(classes=2)
        metrics = dc.Metrics.from_scores(np.eye(2, dtype=np.float32), [0, 1])
        expected = {
            data: "<Dataset: 4 images 28x28x1, 2 classes>",
            model: "<Model: 13 layers, input (1, 28, 28), output (2,),",
            dc.Pipeline(height=28, width=28): "<Pipeline: height=28 width=28",
            metrics: "<Metrics: 2 classes, 2 samples, accuracy 1.0000>",
            dc.Session(model, 4): "<Session: max_batch 4, threads 1",
            dc.Tensor(np.zeros((2, 3), np.float32)): "<Tensor: float32 (2, 3)",
        }
        with model.profile() as profile:
            expected[profile] = "<Profile: "
        for handle, start in reversed(expected.items()):  # sessions and profiles before their model
            self.assertTrue(repr(handle).startswith(start), repr(handle))
            handle.close()
            self.assertEqual(repr(handle), f"<{type(handle).__name__}: closed>")


class PackagingTest(unittest.TestCase):
    def test_the_package_is_typed_and_depends_on_numpy(self):
        self.assertTrue((PACKAGE / "py.typed").is_file())
        import tomllib
        with open(PACKAGE.parent / "pyproject.toml", "rb") as f:
            project = tomllib.load(f)
        self.assertTrue(any(d.startswith("numpy") for d in project["project"]["dependencies"]))
        self.assertIn("py.typed", project["tool"]["setuptools"]["package-data"]["digitcnn"])

    def test_the_versions_agree(self):
        """pyproject.toml, __version__ and (in a checkout) version.h name one version; the ABI the
        binding mirrors is that version's."""
        import tomllib
        with open(PACKAGE.parent / "pyproject.toml", "rb") as f:
            project = tomllib.load(f)
        self.assertEqual(project["project"]["version"], dc.__version__)
        major, minor, _ = (int(part) for part in dc.__version__.split("."))
        if major == 0:  # before 1.0 every minor version is an ABI of its own
            self.assertEqual((major, minor), dc._lib.ABI_VERSION)
        header = PACKAGE.parents[2] / "include" / "digitcnn" / "version.h"
        if not header.is_file():
            self.skipTest("not in a checkout: no version.h beside the binding")
        text = header.read_text()
        found = [int(re.search(rf"#define DCNN_VERSION_{part} (\d+)", text).group(1))
                 for part in ("MAJOR", "MINOR", "PATCH")]
        self.assertEqual(".".join(map(str, found)), dc.__version__)

    def test_a_library_next_to_the_package_comes_before_the_system(self):
        """With no DIGITCNN_LIBRARY, a libdigitcnn.so.0.2 inside the package directory is the one loaded."""
        library = Path(dc._lib.lib._name).resolve()
        with tempfile.TemporaryDirectory() as tmp:
            shutil.copytree(PACKAGE, Path(tmp) / "digitcnn", ignore=shutil.ignore_patterns("__pycache__"))
            shutil.copy(library, Path(tmp) / "digitcnn" / "libdigitcnn.so.0.2")
            env = dict(os.environ, PYTHONPATH=tmp)
            env.pop("DIGITCNN_LIBRARY", None)
            run = subprocess.run([sys.executable, "-c", "import digitcnn as dc; print(dc._lib.lib._name)"],
                                 env=env, capture_output=True, text=True, cwd=tmp)
            self.assertEqual(run.returncode, 0, run.stderr)
            self.assertEqual(run.stdout.strip(), str(Path(tmp) / "digitcnn" / "libdigitcnn.so.0.2"))

    def import_with(self, tmp, library=None, bundled=None):
        """``import digitcnn`` from a copy of the package in ``tmp`` (``bundled``: the file copied in as
        its libdigitcnn.so.0.2) with DIGITCNN_LIBRARY set to ``library`` (unset when None)."""
        shutil.copytree(PACKAGE, Path(tmp) / "digitcnn", ignore=shutil.ignore_patterns("__pycache__"))
        if bundled is not None:
            shutil.copy(bundled, Path(tmp) / "digitcnn" / "libdigitcnn.so.0.2")
        env = dict(os.environ, PYTHONPATH=tmp)
        env.pop("DIGITCNN_LIBRARY", None)
        if library is not None:
            env["DIGITCNN_LIBRARY"] = library
        return subprocess.run([sys.executable, "-c", "import digitcnn as dc; print(dc._lib.lib._name)"],
                              env=env, capture_output=True, text=True, cwd=tmp)

    def test_digitcnn_library_is_honoured_or_the_import_fails(self):
        """An explicit DIGITCNN_LIBRARY is the library loaded, or an ImportError naming it: never
        another library found elsewhere (here the copy bundled in the package)."""
        library = str(Path(dc._lib.lib._name).resolve())
        missing = os.path.join(tempfile.gettempdir(), "digitcnn-no-such-directory", "libdigitcnn.so.0.2")
        libm = ctypes.util.find_library("m")
        for value, reason in ((missing, "absent"), (libm, "not libdigitcnn")):
            with self.subTest(DIGITCNN_LIBRARY=value), tempfile.TemporaryDirectory() as tmp:
                run = self.import_with(tmp, value, bundled=library)
                self.assertNotEqual(run.returncode, 0, run.stdout)
                last = run.stderr.strip().splitlines()[-1]
                self.assertTrue(last.startswith("ImportError"), run.stderr)
                self.assertIn(f"DIGITCNN_LIBRARY={value}", last)
                self.assertIn(reason, last)
        with tempfile.TemporaryDirectory() as tmp:  # set and right: loaded, before the package's own copy
            run = self.import_with(tmp, library, bundled=sys.executable)
            self.assertEqual(run.returncode, 0, run.stderr)
            self.assertEqual(run.stdout.strip(), library)

    def test_a_library_that_is_not_libdigitcnn_is_skipped_and_listed(self):
        """Without DIGITCNN_LIBRARY, a file in a searched place that is not libdigitcnn (here a copy
        of libm bundled in the package) is reported in the ImportError's list, not an AttributeError."""
        libm = ctypes.util.find_library("m")
        libm = next((str(p) for d in ("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib")
                     if (p := Path(d) / libm).exists()), None) if libm else None
        if libm is None:
            self.skipTest("no libm file to stand for a wrong library")
        with tempfile.TemporaryDirectory() as tmp:
            run = self.import_with(tmp, bundled=libm)
            self.assertNotIn("AttributeError", run.stderr)
            if run.returncode != 0:  # no installed libdigitcnn to fall back on: the list names the copy
                self.assertIn("ImportError", run.stderr)
                self.assertIn(f"{Path(tmp) / 'digitcnn' / 'libdigitcnn.so.0.2'} (not libdigitcnn", run.stderr)

    def test_an_older_build_of_the_same_version_is_passed_over_naming_what_it_lacks(self):
        """A library of this version built before a function was added passed the version check, then
        the import failed with a bare AttributeError (the README promises an ImportError saying why)."""
        number = dc._lib.ABI_VERSION[0] * 10000 + dc._lib.ABI_VERSION[1] * 100
        real = dc._lib.raw

        class OlderBuild:  # the loaded library but for one function (the last added)
            def __getattr__(self, name):
                if name == "dcnn_pipeline_set_standardization":
                    raise AttributeError(name)
                return getattr(real, name)

        class OnlyTheVersion:
            def dcnn_version_number(self):
                return number

        for fake, reason in ((OlderBuild(), "lacks dcnn_pipeline_set_standardization: an older build?"),
                             (OnlyTheVersion(), rf"lacks dcnn_last_error \(\+{len(dc._lib._PROTOTYPES) + 2} more\)")):
            with self.subTest(fake=type(fake).__name__):
                with mock.patch.object(dc._lib.ctypes, "CDLL", lambda place: fake):
                    loaded, why = dc._lib._open("libdigitcnn.so.0.2")
                self.assertIsNone(loaded)
                self.assertRegex(why, reason)
        # A real shared library with dcnn_version_number and nothing else, as DIGITCNN_LIBRARY and in the search.
        compiler = shutil.which("cc") or shutil.which("gcc")
        if compiler is None:
            self.skipTest("no C compiler to build a stand-in for an older libdigitcnn")
        with tempfile.TemporaryDirectory() as tmp:
            stub = Path(tmp) / "older" / "libdigitcnn.so.0.2"
            stub.parent.mkdir()
            (Path(tmp) / "older.c").write_text(f"int dcnn_version_number(void) {{ return {number}; }}\n")
            subprocess.run([compiler, "-shared", "-fPIC", "-o", str(stub), str(Path(tmp) / "older.c")], check=True)
            run = self.import_with(str(Path(tmp) / "explicit"), str(stub))
            self.assertNotEqual(run.returncode, 0, run.stdout)
            last = run.stderr.strip().splitlines()[-1]
            self.assertTrue(last.startswith("ImportError"), run.stderr)
            self.assertIn(f"DIGITCNN_LIBRARY={stub} cannot be used (version {dc._lib.ABI_VERSION[0]}."
                          f"{dc._lib.ABI_VERSION[1]}.0 but it lacks dcnn_last_error (+", last)
            run = self.import_with(str(Path(tmp) / "bundled"), bundled=stub)  # passed over: the search goes on
            self.assertNotIn("AttributeError", run.stderr)
            if run.returncode != 0:  # no installed libdigitcnn to fall back on: the list names the stand-in
                self.assertIn(f"{Path(tmp) / 'bundled' / 'digitcnn' / 'libdigitcnn.so.0.2'} (version", run.stderr)
                self.assertIn("an older build?", run.stderr)

    def test_a_package_installed_near_the_root_is_searched(self):
        """The source checkout's build tree is three levels up; a package at /digitcnn has fewer."""
        for location in ("/digitcnn/_lib.py", "/opt/digitcnn/_lib.py"):
            with self.subTest(location=location):
                with mock.patch.object(dc._lib, "__file__", location):
                    places = dc._lib._candidates()
                self.assertEqual(places[0], str(Path(location).parent / "libdigitcnn.so.0.2"))
                self.assertIn("/usr/lib/libdigitcnn.so.0.2", places)

    def test_pip_installs_into_a_debian_venv_with_the_library_bundled(self):
        """The README's route: ``python3 -m venv --system-site-packages`` (NumPy from Debian), then
        ``pip install --no-build-isolation --no-index bindings/python`` with the library copied in."""
        try:
            import ensurepip  # noqa: F401  (python3-venv)
        except ImportError:
            self.skipTest("python3-venv is not installed")
        with tempfile.TemporaryDirectory() as tmp:
            source = copy_package_source(Path(tmp) / "src", bundled=True)
            venv = Path(tmp) / "venv"
            subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)],
                           check=True)
            env = pip_environment()
            env.pop("PYTHONPATH", None)
            env.pop("DIGITCNN_LIBRARY", None)
            python = str(venv / "bin" / "python")
            # the venv has no pip of its own (--without-pip keeps this offline and fast): Debian's
            # pip, run by the venv's interpreter, installs into the venv
            run = subprocess.run([python, "-m", "pip", "install", "--no-build-isolation", "--no-index", str(source)],
                                 env=env, capture_output=True, text=True, cwd=tmp)
            self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
            probe = ("import digitcnn as dc, numpy; print(dc.__file__); print(dc._lib.lib._name); "
                     "print(dc.Model.lenet5().input_shape)")
            run = subprocess.run([python, "-c", probe], env=env, capture_output=True, text=True, cwd=tmp)
            self.assertEqual(run.returncode, 0, run.stderr)
            installed, library, shape = run.stdout.splitlines()
            self.assertTrue(installed.startswith(str(venv)), installed)
            self.assertTrue(library.startswith(str(venv)), library)  # the bundled copy
            self.assertEqual(shape, "(1, 28, 28)")

    def test_a_wheel_with_the_library_bundled_names_its_platform(self):
        """A wheel holding libdigitcnn.so is for one platform (py3-none-linux_...); without it the
        wheel is pure Python (py3-none-any)."""
        try:
            from setuptools.command import bdist_wheel  # noqa: F401  (setuptools >= 70.1)
        except ImportError:
            try:
                import wheel  # noqa: F401  (python3-wheel, for older setuptools)
            except ImportError:
                self.skipTest("neither setuptools >= 70.1 nor python3-wheel: no wheels can be built")
        env = pip_environment()
        for bundled in (True, False):
            with tempfile.TemporaryDirectory() as tmp:
                source = copy_package_source(Path(tmp) / "src", bundled=bundled)
                run = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-build-isolation", "--no-index",
                                      "--no-deps", "-w", str(Path(tmp) / "out"), str(source)],
                                     env=env, capture_output=True, text=True, cwd=tmp)
                self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
                (built,) = (Path(tmp) / "out").glob("*.whl")
                tag = built.name[:-len(".whl")].split("-", 2)[2]
                if bundled:
                    self.assertRegex(tag, r"^py3-none-linux_", built.name)
                    with zipfile.ZipFile(built) as archive:
                        self.assertIn("digitcnn/libdigitcnn.so.0.2", archive.namelist())
                else:
                    self.assertEqual(tag, "py3-none-any", built.name)


if __name__ == "__main__":
    unittest.main()
