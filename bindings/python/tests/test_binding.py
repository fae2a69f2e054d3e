"""The Python binding against the C library it wraps (run by CTest)."""
import ctypes
import functools
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import numpy as np

import digitcnn as dc
from fixtures import halves



class TensorTest(unittest.TestCase):
    def test_float32_arrays_are_shared_not_copied(self):
        x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
        t = dc.Tensor(x)
        self.assertFalse(t.copied)
        self.assertEqual(t.data_pointer, x.ctypes.data)  # the C tensor reads the array's own memory
        self.assertEqual(t.shape, (2, 3, 4))
        self.assertIs(t.numpy(), x)

    def test_other_arrays_are_converted_once(self):
        x = np.ones((2, 3), dtype=np.float64)
        t = dc.Tensor(x)
        self.assertTrue(t.copied)
        self.assertEqual(t.data_pointer, t.array.ctypes.data)
        with self.assertRaises(ValueError):
            dc.Tensor(np.zeros((1, 1, 1, 1, 1), dtype=np.float32))


class ErrorTest(unittest.TestCase):
    def test_errors_carry_the_library_message(self):
        with self.assertRaises(dc.DigitcnnError) as caught:
            dc.Model.load("/nonexistent/model.dcnn")
        self.assertEqual(caught.exception.status, -3)
        self.assertIn("/nonexistent/model.dcnn: cannot open", str(caught.exception))
        with self.assertRaises(dc.DigitcnnError) as caught:
            dc.Dataset.from_numpy(np.zeros((2, 4, 4), np.uint8), [0, 5], classes=2)
        self.assertIn("label", caught.exception.message)

    def test_closed_objects_refuse_use(self):
        m = dc.Model.paper_cnn()
        m.close()
        m.close()
        with self.assertRaises(ValueError):
            m.summary()


class TrainingTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        images, labels = halves(192)
        cls.train = dc.Dataset.from_numpy(images[:160], labels[:160], classes=2)
        cls.val = dc.Dataset.from_numpy(images[160:], labels[160:], classes=2)
        cls.pipe = dc.Pipeline(height=28, width=28, grayscale=1)
        cls.model = dc.Model.paper_cnn(classes=2, seed=3)
        cls.history = cls.model.fit(cls.train, cls.val, cls.pipe, epochs=3, batch_size=16, augment=False, progress=0)

    def test_a_short_training_run_lowers_the_loss(self):
        self.assertEqual(len(self.history), 3)
        self.assertLess(self.history[-1]["loss"], self.history[0]["loss"])
        self.assertGreater(self.model.evaluate(self.val, self.pipe)["accuracy"], 0.9)

    def test_metrics_equal_the_c_librarys(self):
        from_c, metrics = self.model.evaluate(self.val, self.pipe, return_metrics=True)
        x = self.model.batch(self.val, np.arange(len(self.val)), self.pipe)
        scores = self.model.predict(x)
        from_python = dc.Metrics.from_scores(scores, self.val.labels).to_dict()
        for name, value in from_python.items():
            self.assertAlmostEqual(value, from_c[name], places=12, msg=name)
        self.assertEqual(int(metrics.confusion().sum()), len(self.val))

    def test_save_and_load_round_trip(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "m.dcnn")
            self.model.save(path, compression=6)
            loaded = dc.Model.load(path)
            x = self.model.batch(self.val, np.arange(8), self.pipe)
            np.testing.assert_array_equal(self.model.predict(x), loaded.predict(x))
            self.assertEqual(loaded.metadata["classes"], "0,1")
            self.assertEqual(loaded.metadata["preprocessing"], self.pipe.describe())
            self.assertEqual(loaded.metadata["library_version"], dc.version())

    def test_progress_reaches_a_python_stderr_that_is_not_fd_2(self):
        """As in a notebook, where sys.stderr is the kernel's stream object."""
        captured, saved = io.StringIO(), sys.stderr
        sys.stderr = captured
        try:
            model = dc.Model.paper_cnn(classes=2, seed=4)
            model.fit(self.train, None, self.pipe, epochs=1, batch_size=32, augment=False, progress=2)
        finally:
            sys.stderr = saved
        self.assertIn("Epoch 1/1", captured.getvalue())
        self.assertIn("5/5", captured.getvalue())  # 160 images in batches of 32

    def test_a_diverging_fit_raises_and_keeps_the_checkpoints(self):
        """A huge learning rate: fit raises, best.dcnn and last.dcnn keep the good epoch's bytes."""
        with tempfile.TemporaryDirectory() as tmp:
            model = dc.Model.paper_cnn(classes=2, seed=5)
            model.fit(self.train, None, self.pipe, epochs=1, batch_size=32, augment=False, progress=0,
                      checkpoint_dir=tmp)
            names = sorted(os.listdir(tmp))
            before = {name: Path(tmp, name).read_bytes() for name in names}
            with self.assertRaises(dc.DigitcnnError) as caught:
                model.fit(self.train, None, self.pipe, epochs=3, batch_size=32, augment=False, progress=0,
                          checkpoint_dir=tmp, learning_rate=1e30)
            self.assertEqual(caught.exception.status, -9)  # DCNN_ERR_NUMERIC
            self.assertIn("smaller learning rate", caught.exception.message)
            self.assertEqual(sorted(os.listdir(tmp)), names)
            for name in names:
                self.assertEqual(Path(tmp, name).read_bytes(), before[name], name)
            # The kept checkpoint predicts. (Not the live model: the step that
            # diverged was refused, but the steps before it at this learning
            # rate may have left huge finite weights whose products overflow,
            # depending on the order of the sums; the clang build's did.)
            best = dc.Model.load(os.path.join(tmp, "best.dcnn"))
            x = best.batch(self.val, np.arange(8), self.pipe)
            self.assertTrue(np.isfinite(best.predict(x)).all())


INCLUDE = Path(__file__).resolve().parents[3] / "include" / "digitcnn"
DECLARATION = re.compile(r"DCNN_API\s+([^;(]*?)\b(dcnn_\w+)\s*\(([^)]*)\)\s*(?:DCNN_[A-Z_]+(?:\([^)]*\))?\s*)?;", re.S)


def ctypes_for(c_type: str):
    """The ctypes the binding must declare for a C parameter or return type."""
    c_type = " ".join(c_type.replace("const ", "").split())
    if "*" in c_type or c_type.endswith("_fn"):  # pointers, callbacks
        return "pointer"
    return {"dcnn_status": "status", "void": None, "float": ctypes.c_float, "double": ctypes.c_double,
            "int32_t": ctypes.c_int32, "int64_t": ctypes.c_int64, "uint32_t": ctypes.c_uint32,
            "uint64_t": ctypes.c_uint64, "size_t": ctypes.c_size_t, "int": ctypes.c_int,
            "dcnn_shape": dc._lib.Shape, "dcnn_attack": dc._lib.Attack}.get(c_type, "enum" if c_type.startswith("dcnn_") else c_type)


def declared_as(t):
    if t is None or t == "status":
        return t
    if t in (ctypes.c_void_p, ctypes.c_char_p) or (isinstance(t, type) and issubclass(t, (ctypes._Pointer,
                                                                                          ctypes._CFuncPtr))):
        return "pointer"
    return t


def lib_count(prof):
    """The C profile's entry count."""
    return dc._lib.lib.dcnn_profile_count(prof.ptr)


class ProfileTest(unittest.TestCase):
    def test_fit_inside_profile_records_layers_and_phases(self):
        images, labels = halves(32, seed=7)
        data = dc.Dataset.from_numpy(images, labels, classes=2)
        pipe = dc.Pipeline(height=28, width=28, grayscale=1)
        model = dc.Model.paper_cnn(classes=2, seed=8)
        with model.profile() as prof:
            model.fit(data, None, pipe, epochs=1, batch_size=16, augment=False, progress=0)
        rows = prof.entries()
        forward = [r for r in rows if r["pass"] == "forward"]
        self.assertEqual([r["layer"] for r in forward], list(range(len(forward))))
        self.assertGreater(len(forward), 10)
        self.assertTrue(all(r["calls"] == 2 and r["seconds"] > 0 for r in forward))
        phases = {r["type"]: r for r in rows if r["layer"] == -1}
        self.assertEqual(phases["data"]["calls"], 2)
        self.assertEqual(phases["optimizer"]["calls"], 2)
        # Backward of conv2d and dense layers tells its weight-gradient part; other rows say None.
        backward = [r for r in rows if r["pass"] == "backward"]
        for r in backward:
            if r["type"] in ("conv2d", "dense"):
                self.assertTrue(0 < r["weight_seconds"] <= r["seconds"], r)
            else:
                self.assertIsNone(r["weight_seconds"], r)
        self.assertIn("conv2d", prof.format(100.0))
        self.assertIn("bwd-weight", prof.format(100.0))
        # Every entry, those without calls too: each pass has its name (the allreduce phase included).
        every = prof.entries(recorded_only=False)
        self.assertEqual(len(every), lib_count(prof))
        self.assertIn("allreduce", {r["pass"] for r in every})
        self.assertEqual({r["calls"] for r in every if r["pass"] == "allreduce"}, {0})
        # Detached after the block: a prediction records nothing.
        model.predict(np.zeros((1, 1, 28, 28), dtype=np.float32))
        self.assertFalse([r for r in prof.entries() if r["pass"] == "inference"])
        prof.reset()
        self.assertEqual(prof.entries(), [])
        other = dc.Model.paper_cnn(classes=2, seed=9)
        with self.assertRaises(dc.DigitcnnError):
            lib = dc._lib.lib
            lib.dcnn_model_set_profile(other.ptr, prof.ptr)
        self.assertGreater(dc.gemm_gflops(64, 1), 0)


class SessionTest(unittest.TestCase):
    def test_threads_share_one_model_through_sessions(self):
        import threading
        model = dc.Model.paper_cnn(seed=3)
        x = np.random.default_rng(4).random((8, 1, 28, 28), dtype=np.float32)
        expected = model.predict(x)
        results = []

        def work():
            with dc.Session(model, max_batch=8, threads=0) as session:  # the model's thread count
                results.extend(np.array_equal(session.predict(x), expected) for _ in range(10))

        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(results, [True] * 40)
        with dc.Session(model, max_batch=4) as session:
            with self.assertRaisesRegex(dc.DigitcnnError, "exceeds the session's max_batch 4"):
                session.predict(x)


class PrototypeTest(unittest.TestCase):
    def test_every_prototype_matches_the_public_headers(self):
        """The binding's hand-written table against include/digitcnn/*.h: names, argument
        counts and types, and the status return, so that a header change cannot drift silently."""
        headers = {}
        for header in INCLUDE.glob("*.h"):
            for returns, name, params in DECLARATION.findall(header.read_text()):
                params = [p.strip() for p in params.split(",")]
                params = [] if params == ["void"] else [re.sub(r"\s*\b\w+$", "", p) for p in params]
                headers[name] = (returns, params)
        self.assertGreater(len(headers), 100)
        self.assertLessEqual(dc._lib.BOOKKEEPING, set(dc._lib._PROTOTYPES) | {"dcnn_last_error", "dcnn_last_error_path",
                                                                          "dcnn_version_string"},
                             "the exit gate's bookkeeping list names prototypes")
        for setter in ("dcnn_pipeline_configure", "dcnn_pipeline_configure_for_model"):  # text in, no data read
            self.assertIn(setter, dc._lib.BOOKKEEPING)
        for name, (restype, argtypes) in dc._lib._PROTOTYPES.items():
            with self.subTest(name=name):
                self.assertIn(name, headers, "not declared in the public headers")
                returns, params = headers[name]
                self.assertEqual(declared_as(restype), ctypes_for(returns), "return type")
                self.assertEqual(len(argtypes), len(params), "argument count")
                for position, (declared, c_type) in enumerate(zip(argtypes, params)):
                    expected = ctypes_for(c_type)
                    if expected == "enum":
                        expected = ctypes.c_int
                    self.assertEqual(declared_as(declared), expected, f"argument {position} ({c_type})")


    def test_every_function_called_has_a_prototype(self):
        """A function called without a prototype takes ctypes' defaults: int arguments and result, no
        status check (tests/test_predict.py called dcnn_pipeline_set_standardization so, its status unread)."""
        declared = set(dc._lib._PROTOTYPES) | {"dcnn_last_error", "dcnn_last_error_path", "dcnn_version_string"}
        package = Path(dc.__file__).resolve().parent
        for source in sorted(package.glob("*.py")) + sorted(Path(__file__).resolve().parent.glob("*.py")):
            called = set(re.findall(r"\b(?:lib|raw)\.(dcnn_\w+)", source.read_text()))
            with self.subTest(source=source.name):
                self.assertEqual(called - declared, set(), "called without a prototype in _lib._PROTOTYPES")
        pipeline = dc.Pipeline(grayscale=0)
        three = ctypes.c_float * 3
        self.assertEqual(dc._lib.lib.dcnn_pipeline_set_standardization(pipeline.ptr, 3, three(0.5, 0.5, 0.5),
                                                                       three(0.2, 0.2, 0.2)), 0)
        self.assertIn("standardize=3", pipeline.describe())
        with self.assertRaises(ValueError):  # its status is checked: std 0 is refused
            dc._lib.lib.dcnn_pipeline_set_standardization(pipeline.ptr, 3, three(0.5, 0.5, 0.5), three(0, 0, 0))


class ZooTest(unittest.TestCase):
    def test_table1_baselines_are_built_from_python(self):
        # parameter counts of digitcnn-table1's models (docs/results.md, Table 1, whose VGG-16 has batch norm)
        for build, params in ((functools.partial(dc.Model.vgg16, batch_norm=True), 15_248_202),
                              (dc.Model.vgg16, 15_243_978), (dc.Model.resnet50, 23_522_250),
                              (dc.Model.mobilenetv2, 2_236_106)):
            with self.subTest(params=params):
                model = build(32, 32, 1, 10)
                self.assertEqual(model.output_shape, (10,))
                self.assertEqual(dc._lib.lib.dcnn_model_param_count(model.ptr, 1), params)  # trainable
                model.close()
        with self.assertRaises(dc.DigitcnnError):  # the library's minimum size
            dc.Model.resnet50(16, 16)
        with self.assertRaises(ValueError):
            dc.Model.vgg16(batch_norm=2)

    def test_evaluation_counts_the_models_classes_not_the_datasets_labels(self):
        images, labels = halves(16, seed=3)
        model = dc.Model.lenet5(classes=3, seed=2)
        only_two = dc.Dataset.from_numpy(images, labels)  # labels 0 and 1: classes 2 by default
        self.assertEqual(only_two.classes, 2)
        result = model.evaluate(only_two)
        self.assertTrue(0 <= result["accuracy"] <= 1)
        self.assertEqual(len(model.evaluate(only_two, return_metrics=True)[1].per_class("recall")), 3)
        self.assertIn("accuracy", dc.evaluate_ensemble([model, model], only_two))
        self.assertIn("accuracy", dc.robustness.evaluate_perturbed(model, only_two, "gaussian_noise", 0.1))


class AbiTest(unittest.TestCase):
    def test_struct_mirrors_carry_their_size_and_the_loaded_abi_matches(self):
        for mirror in (dc._lib.Param, dc._lib.EpochStats, dc._lib.Attack, dc._lib.ProfileEntry, dc._lib.ZooOptions):
            with self.subTest(mirror=mirror.__name__):
                self.assertEqual(mirror._fields_[0][0], "struct_size")
                self.assertEqual(mirror().struct_size, ctypes.sizeof(mirror))
        self.assertEqual(tuple(int(v) for v in dc.version().split(".")[:2]), dc._lib.ABI_VERSION)
        # The zoo options' Python defaults are DCNN_ZOO_OPTIONS_INIT's, which the library's initialiser writes.
        ours, theirs = dc._lib.ZooOptions(), dc._lib.ZooOptions()
        ctypes.memset(ctypes.addressof(theirs) + ctypes.sizeof(ctypes.c_size_t), 0x5A,
                      ctypes.sizeof(theirs) - ctypes.sizeof(ctypes.c_size_t))  # every field but struct_size
        dc._lib.lib.dcnn_zoo_options_init(ctypes.byref(theirs))
        for name, _ in dc._lib.ZooOptions._fields_:  # fields, not bytes: C leaves the padding unspecified
            self.assertEqual(getattr(ours, name), getattr(theirs, name), name)
        settings = dc.attack_settings("pgd", 0.1)
        self.assertEqual((settings.struct_size, settings.iterations, settings.seed), (ctypes.sizeof(settings), 10, 1))
        # The library refuses a size below its first layout rather than misread the struct.
        settings.struct_size = 4
        with self.assertRaises(dc.DigitcnnError) as caught:
            dc._lib.lib.dcnn_attack_fgsm(0.1, ctypes.byref(settings))
        self.assertIn("struct_size", str(caught.exception))


class RobustnessTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        images, labels = halves(96, seed=5)
        cls.data = dc.Dataset.from_numpy(images, labels, classes=2)
        cls.pipe = dc.Pipeline(height=28, width=28, grayscale=1)
        cls.model = dc.Model.paper_cnn(classes=2, seed=6)
        cls.model.fit(cls.data, None, cls.pipe, epochs=2, batch_size=16, augment=False, progress=0,
                      adversarial={"kind": "fgsm", "epsilon": 0.05, "ratio": 0.5})
        cls.x = cls.model.batch(cls.data, np.arange(16), cls.pipe)
        cls.labels = cls.data.labels[:16]

    def test_perturbations_are_seeded_copies_in_range(self):
        self.assertEqual(len(dc.PERTURBATIONS), 8)
        for name in dc.PERTURBATIONS:
            level = dc.perturbation_levels(name)[2]
            a, b = dc.perturb(self.x, name, level, seed=3), dc.perturb(self.x, name, level, seed=3)
            np.testing.assert_array_equal(a, b)
            self.assertFalse(np.array_equal(a, self.x), name)
            self.assertTrue(0 <= a.min() and a.max() <= 1, name)
        with self.assertRaises(KeyError):
            dc.perturb(self.x, "fog", 0.1)
        with self.assertRaises(dc.DigitcnnError) as caught:
            dc.perturb(self.x * 3, "gaussian_noise", 0.1)
        self.assertIn("[0, 1]", caught.exception.message)

    def test_attacks_match_the_c_evaluation(self):
        unchanged = dc.attack(self.model, self.x, self.labels, "fgsm", epsilon=0.0)
        np.testing.assert_array_equal(unchanged, self.x)
        adversarial = dc.attack(self.model, self.x, self.labels, "pgd", epsilon=0.1, iterations=5)
        self.assertLessEqual(np.abs(adversarial - self.x).max(), 0.1 + 1e-6)
        clean = self.model.evaluate(self.data, self.pipe)["accuracy"]
        zero = dc.evaluate_attacked(self.model, self.data, "fgsm", 0.0, self.pipe)["accuracy"]
        self.assertEqual(clean, zero)
        noisy = dc.evaluate_perturbed(self.model, self.data, "gaussian_noise", 0.1, self.pipe)
        self.assertIn("roc_auc", noisy)


class EnsembleTest(unittest.TestCase):
    def test_ensemble_is_the_weighted_mean_of_the_members(self):
        images, labels = halves(40, seed=11)
        data = dc.Dataset.from_numpy(images, labels, classes=2)
        big = dc.Model.paper_cnn(classes=2, seed=12)
        small = dc.Model.paper_cnn(height=16, width=16, classes=2, seed=13)
        big.fit(data, None, dc.Pipeline(height=28, width=28, grayscale=1), epochs=1, batch_size=8, augment=False,
                progress=0)
        p28, p16 = dc.Pipeline(height=28, width=28, grayscale=1), dc.Pipeline(height=16, width=16, grayscale=1)
        everything = np.arange(40)
        a = big.predict(big.batch(data, everything, p28))
        b = small.predict(small.batch(data, everything, p16))
        mean = 0.75 * a + 0.25 * b
        result = dc.evaluate_ensemble([big, small], data, [p28, p16], weights=[3, 1], batch_size=7)
        self.assertAlmostEqual(result["accuracy"], float(np.mean(mean.argmax(1) == labels)), places=12)
        self.assertAlmostEqual(result["loss"], float(-np.mean(np.log(mean[everything, labels]))), places=5)
        alone = big.evaluate(data, p28, batch_size=7)
        self.assertNotAlmostEqual(alone["loss"], result["loss"], places=4)
        self.assertEqual(dc.evaluate_ensemble([big], data, [p28], weights=[5.0], batch_size=7), alone)
        with self.assertRaises(dc.DigitcnnError):
            dc.evaluate_ensemble([big, small], data, [p28, p16], weights=[1, -1])
        with self.assertRaises(ValueError):
            dc.evaluate_ensemble([big, small], data, [p28])
        with self.assertRaises(ValueError):
            dc.evaluate_ensemble([], data)
        with self.assertRaises(TypeError):
            dc.evaluate_ensemble([big, "small"], data)


class PackagingTest(unittest.TestCase):
    def test_pip_installs_the_package_offline(self):
        """``pip install --no-build-isolation bindings/python`` (into a scratch target, from a copy so
        the source tree stays clean), then the installed copy imports and reaches the library."""
        source = Path(dc.__file__).resolve().parents[1]
        with tempfile.TemporaryDirectory() as tmp:
            shutil.copytree(source, Path(tmp) / "src", ignore=shutil.ignore_patterns("__pycache__", "build"))
            env = dict(os.environ, PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1",
                       PIP_ROOT_USER_ACTION="ignore")
            env.pop("PYTHONPATH", None)
            run = subprocess.run([sys.executable, "-m", "pip", "install", "--no-build-isolation", "--no-index",
                                  "--no-deps", "--target", str(Path(tmp) / "site"), str(Path(tmp) / "src")],
                                 env=env, capture_output=True, text=True)
            self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
            env["PYTHONPATH"] = str(Path(tmp) / "site")
            probe = "import digitcnn as dc; print(dc.__file__); print(dc.version()); print(dc.Model.lenet5().input_shape)"
            run = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, cwd=tmp)
            self.assertEqual(run.returncode, 0, run.stderr)
            installed, version, shape = run.stdout.splitlines()
            self.assertTrue(installed.startswith(str(Path(tmp) / "site")), installed)
            self.assertEqual(version, dc.version())
            self.assertEqual(shape, "(1, 28, 28)")
            env.pop("DIGITCNN_LIBRARY", None)
            env["LD_LIBRARY_PATH"] = ""
            run = subprocess.run([sys.executable, "-c", "import digitcnn"], env=env, capture_output=True, text=True,
                                 cwd=tmp)
            if run.returncode != 0:  # no installed libdigitcnn on this machine: the error names where it looked
                self.assertIn("DIGITCNN_LIBRARY", run.stderr)


if __name__ == "__main__":
    unittest.main()
