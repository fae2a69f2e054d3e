"""Arrays are checked before they cross into C: nothing is cast silently (issue #15).

NumPy's casts used to turn float images in [0, 1] into 0, NaN into 0, 300 into
44, -1 into 255 and label 1.7 into 1; predict on NaN returned a uniform row."""
import os
import unittest

import numpy as np

import digitcnn as dc


def images_of(values, dtype):
    """Two 2x2 gray images holding ``values`` (row-major)."""
    return np.array([np.reshape(values, (2, 2))] * 2, dtype=dtype)


class DatasetFromNumpyTest(unittest.TestCase):
    def test_float_images_in_0_1_are_scaled_and_rounded(self):
        ds = dc.Dataset.from_numpy(images_of([0.0, 0.2, 0.5, 1.0], np.float32), [0, 1], classes=2)
        # x * 255 to the nearest integer (127.5 ties to even: 128)
        np.testing.assert_array_equal(ds.image(0).ravel(), [0, 51, 128, 255])
        ds = dc.Dataset.from_numpy(images_of([0.999, 0.001, 0.3, 0.7], np.float64), [0, 1], classes=2)
        np.testing.assert_array_equal(ds.image(1).ravel(), [255, 0, 76, 178])

    def test_uint8_and_integer_pixels_pass_through(self):
        pixels = images_of([0, 44, 200, 255], np.uint8)
        np.testing.assert_array_equal(dc.Dataset.from_numpy(pixels, [0, 1]).image(0).ravel(), [0, 44, 200, 255])
        for dtype in (np.int64, np.int16, np.uint16):
            ds = dc.Dataset.from_numpy(images_of([0, 44, 200, 255], dtype), [0, 1])
            np.testing.assert_array_equal(ds.image(1).ravel(), [0, 44, 200, 255], str(dtype))

    def test_non_finite_pixels_are_refused(self):
        for bad in (np.nan, np.inf, -np.inf):
            with self.subTest(value=bad), self.assertRaises(ValueError) as caught:
                dc.Dataset.from_numpy(images_of([0.5, 0.5, bad, 0.5], np.float32), [0, 1], classes=2)
            self.assertIn("images[0, 1, 0]", str(caught.exception))
            self.assertIn(repr(float(bad)), str(caught.exception))

    def test_pixels_outside_their_range_are_refused(self):
        cases = [([0, 300, 0, 0], np.int32, "images[0, 0, 1] = 300"),
                 ([0, 0, -1, 0], np.int64, "images[0, 1, 0] = -1"),
                 ([0.0, 0.5, 1.5, 0.0], np.float32, "images[0, 1, 0] = 1.5"),
                 ([0.0, 200.0, 0.0, 0.0], np.float64, "images[0, 0, 1] = 200.0"),  # 0..255 in a float array
                 ([0.0, -0.1, 0.0, 0.0], np.float64, "images[0, 0, 1] = -0.1")]
        for values, dtype, where in cases:
            with self.subTest(values=values, dtype=dtype), self.assertRaises(ValueError) as caught:
                dc.Dataset.from_numpy(images_of(values, dtype), [0, 1], classes=2)
            self.assertIn(where, str(caught.exception))

    def test_non_numeric_images_are_refused(self):
        with self.assertRaises(TypeError):
            dc.Dataset.from_numpy(np.zeros((2, 2, 2), dtype=object), [0, 1], classes=2)

    def test_labels_must_be_whole_numbers(self):
        pixels = images_of([0, 1, 2, 3], np.uint8)
        for labels, where in (([0, 1.7], "labels[1] = 1.7"), ([np.nan, 1], "labels[0] = nan"),
                              ([0, 2**32 + 1], "labels[1] = 4294967297")):
            with self.subTest(labels=labels), self.assertRaises(ValueError) as caught:
                dc.Dataset.from_numpy(pixels, labels, classes=2)
            self.assertIn(where, str(caught.exception))
        # 2**31 as float32: NumPy 2 compares it with the bound 2**31 - 1 in float32, where the two are equal
        with self.assertRaisesRegex(ValueError, r"labels\[1\] = .* is outside"):
            dc.Dataset.from_numpy(pixels, np.array([0, 2**31], np.float32), classes=2)
        with self.assertRaises(TypeError):
            dc.Dataset.from_numpy(pixels, ["0", "1"], classes=2)
        with self.assertRaises(ValueError):
            dc.Dataset.from_numpy(pixels, [0, 1], classes=2.5)
        # floats that are exactly whole are labels as they are
        np.testing.assert_array_equal(dc.Dataset.from_numpy(pixels, np.array([1.0, 0.0]), classes=2).labels, [1, 0])
        with self.assertRaises(dc.DigitcnnError) as caught:  # range: the library's own check and message
            dc.Dataset.from_numpy(pixels, [0, -1], classes=2)
        self.assertIn("label -1 of sample 1", caught.exception.message)


class IndicesTest(unittest.TestCase):
    def test_indices_must_be_whole_numbers(self):
        ds = dc.Dataset.from_numpy(np.zeros((4, 28, 28), np.uint8), [0, 1, 0, 1], classes=2)
        with self.assertRaises(ValueError) as caught:
            ds.subset([0, 1.5])
        self.assertIn("indices[1] = 1.5", str(caught.exception))
        self.assertEqual(len(ds.subset(np.array([0.0, 3.0]))), 2)
        model = dc.Model.paper_cnn(classes=2)
        with self.assertRaises(ValueError):
            model.batch(ds, [2**32], dc.Pipeline(height=28, width=28, grayscale=1))


    def test_indices_must_be_one_dimensional(self):
        ds = dc.Dataset.from_numpy(np.zeros((6, 28, 28), np.uint8), [0, 1, 2, 3, 4, 5])
        model = dc.Model.lenet5(classes=6)
        pipeline = dc.Pipeline(height=28, width=28, grayscale=1)
        for indices in ([[5, 4], [3, 2]], np.zeros((2, 1), np.int64), 3):
            shape = np.shape(indices)
            for name, call in (("subset", lambda: ds.subset(indices)),
                               ("batch", lambda: model.batch(ds, indices, pipeline))):
                with self.subTest(call=name, shape=shape):
                    with self.assertRaises(ValueError) as caught:
                        call()  # a 2-D array was silently cut to its first row's worth of indices
                    self.assertIn(f"indices must be a 1-D array, got shape {shape}", str(caught.exception))
        np.testing.assert_array_equal(ds.subset([5, 4, 3]).labels, [5, 4, 3])
        self.assertEqual(model.batch(ds, np.array([1, 2]), pipeline).shape, (2, 1, 28, 28))


class MetricsLabelsTest(unittest.TestCase):
    scores = np.eye(3, dtype=np.float32)

    def test_labels_must_be_whole_numbers(self):
        for labels, where in (([0.0, 1.7, 2.2], "labels[1] = 1.7"), ([0, np.nan, 2], "labels[1] = nan"),
                              (np.array([0, 1, 2**32 + 2]), "labels[2] = 4294967298")):
            for name, call in (("from_scores", lambda: dc.Metrics.from_scores(self.scores, labels)),
                               ("add", lambda: dc.Metrics(3).add(self.scores, labels))):
                with self.subTest(labels=labels, call=name), self.assertRaises(ValueError) as caught:
                    call()
                self.assertIn(where, str(caught.exception))
        with self.assertRaises(TypeError):
            dc.Metrics(3).add(self.scores, ["0", "1", "2"])
        # floats that are exactly whole are labels as they are
        whole = dc.Metrics.from_scores(self.scores, np.array([0.0, 1.0, 2.0]))
        np.testing.assert_array_equal(whole.confusion(), np.eye(3, dtype=np.int64))

    def test_scores_must_be_n_by_classes(self):
        with self.assertRaisesRegex(ValueError, r"scores must be an \(N, K\) array, got shape \(3,\)"):
            dc.Metrics.from_scores(np.zeros(3, np.float32), [0, 1, 2])
        with self.assertRaisesRegex(ValueError, r"scores have 2 columns for 3 classes"):
            dc.Metrics(3).add(np.zeros((3, 2), np.float32), [0, 1, 1])  # the library would read 3 per row


class NonFiniteInputTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.model = dc.Model.paper_cnn(classes=2, seed=2)
        cls.x = np.random.default_rng(1).random((3, 1, 28, 28), dtype=np.float32)

    def test_predict_refuses_nan_and_infinity(self):
        finite = self.model.predict(self.x)
        self.assertTrue(np.isfinite(finite).all())
        for bad in (np.nan, np.inf):
            x = self.x.copy()
            x[2, 0, 5, 7] = bad
            with self.subTest(value=bad), self.assertRaises(ValueError) as caught:
                self.model.predict(x)
            self.assertIn("x[2, 0, 5, 7]", str(caught.exception))
            with self.assertRaises(ValueError):  # the same through a shared Tensor
                self.model.predict(dc.Tensor(x))

    def test_attacks_and_perturbations_refuse_nan(self):
        x = self.x.copy()
        x[0, 0, 0, 0] = np.nan
        with self.assertRaises(ValueError):
            dc.perturb(x, "gaussian_noise", 0.1)
        with self.assertRaises(ValueError):
            dc.attack(self.model, x, [0, 1, 0])
        with self.assertRaises(ValueError) as caught:
            dc.attack(self.model, self.x, [0, 1.5, 0])
        self.assertIn("labels[1] = 1.5", str(caught.exception))

    def test_session_predict_refuses_nan_like_model_predict(self):
        x = self.x.copy()
        x[1, 0, 3, 4] = np.nan
        session = dc.Session(self.model, 4, 0)  # threads 0: bit-identical to Model.predict
        try:
            with self.assertRaises(ValueError) as caught:  # not DigitcnnError: the same as Model.predict
                session.predict(x)
            self.assertIn("x[1, 0, 3, 4]", str(caught.exception))
            np.testing.assert_array_equal(session.predict(self.x), self.model.predict(self.x))
        finally:
            session.close()


class IntegerArguments(unittest.TestCase):
    """Integers crossing into C as int32/uint64 are range-checked, never wrapped by ctypes."""

    @classmethod
    def setUpClass(cls):
        cls.model = dc.Model.paper_cnn(classes=2, seed=2)

    def test_session_sizes_are_checked(self):
        for kwargs in ({"max_batch": 2**32 + 5}, {"max_batch": 0}, {"max_batch": 2.5}, {"threads": 2**32 + 1},
                       {"threads": -1}):
            arguments = {"max_batch": 4, "threads": 1}
            arguments.update(kwargs)
            with self.subTest(**kwargs), self.assertRaises(ValueError):
                dc.Session(self.model, arguments["max_batch"], arguments["threads"])
        with self.assertRaises(TypeError):
            dc.Session(self.model, "4")

    def test_zoo_sizes_and_seeds_are_checked(self):
        with self.assertRaises(ValueError):
            dc.Model.paper_cnn(classes=2**32 + 2)
        with self.assertRaises(ValueError):
            dc.Model.lenet5(seed=-1)
        with self.assertRaises(ValueError):
            dc.Model.paper_cnn(height=28.5)

    def test_other_counts_are_checked(self):
        with self.assertRaises(ValueError):
            dc.Metrics(2**32 + 3)
        with self.assertRaises(ValueError):
            dc.attack_settings("pgd", iterations=2**32 + 10)
        with self.assertRaises(ValueError):
            dc.perturb(np.zeros((1, 1, 4, 4), np.float32), "gaussian_noise", 0.1, seed=-1)
        with self.assertRaises(ValueError):
            self.model.save("/nonexistent/never-written.dcnn", compression=2**32 + 1)


class OtherArgumentsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.model = dc.Model.lenet5(classes=2, seed=2)
        cls.data = dc.Dataset.from_numpy(np.zeros((8, 28, 28), np.uint8), [0, 1] * 4)

    def test_an_empty_checkpoint_dir_is_refused_not_ignored(self):
        for fit in (lambda: self.model.fit(self.data, epochs=1, progress=0, checkpoint_dir=""),
                    lambda: self.model.fit_recipe("paper", self.data, extra="epochs=1", progress=0, max_steps=1,
                                                  checkpoint_dir=b"")):
            with self.assertRaisesRegex(ValueError, "checkpoint_dir"):
                fit()
        self.assertEqual(len(self.model.history), 0)  # refused before training
        with self.assertRaises(TypeError):
            self.model.fit(self.data, epochs=1, progress=0, checkpoint_dir=3)

    def test_metadata_keys_and_values_are_str_or_utf8_bytes(self):
        model = dc.Model.lenet5(classes=2)
        model.set_metadata(b"from-bytes", b"v\xc3\xa9")
        model.set_metadata("from-str", "w")
        self.assertEqual((model.metadata["from-bytes"], model.metadata["from-str"]), ("v\u00e9", "w"))
        model.set_metadata(b"from-bytes", None)
        self.assertNotIn("from-bytes", model.metadata)
        for key, value, kind, named in ((1, "v", TypeError, "key"), ("k", 2.5, TypeError, "value"),
                                        ("k\0x", "v", ValueError, "key"), ("k", "v\0w", ValueError, "value"),
                                        (b"\xff", "v", ValueError, "key")):
            with self.subTest(key=key, value=value):
                with self.assertRaises(kind) as caught:
                    model.set_metadata(key, value)
                self.assertIn(named, str(caught.exception))

    def test_predict_on_what_is_not_numbers_is_a_type_error(self):
        for x in (None, "image.png", [None], np.array(["a"])):
            with self.subTest(x=x):
                with self.assertRaisesRegex(TypeError, "x must"):
                    self.model.predict(x)
                with dc.Session(self.model, 2) as session, self.assertRaisesRegex(TypeError, "x must"):
                    session.predict(x)


class ReviewFindingsTest(unittest.TestCase):
    """A review of the binding (2026-12-06): exceptions that could not cross processes, arrays
    where a Dataset is due, and metadata that is not UTF-8."""

    def test_tensors_keep_their_array_aligned_and_numeric(self):
        t = dc.Tensor(np.ones((2, 3), np.float32))
        with self.assertRaises(AttributeError):  # rebinding it freed the buffer the C tensor points into
            t.array = t.array * 2.0
        raw = np.zeros(4 * 6 + 1, np.uint8)
        misaligned = np.frombuffer(raw.data, np.float32, count=6, offset=1).reshape(2, 3)
        self.assertNotEqual(misaligned.ctypes.data % 4, 0)
        shifted = dc.Tensor(misaligned)
        self.assertTrue(shifted.copied)
        self.assertEqual(shifted.data_pointer % 4, 0)
        with self.assertRaisesRegex(TypeError, "complex64"):
            dc.Tensor(np.ones((2, 3), np.complex64))
        with self.assertRaisesRegex(ValueError, "beyond float32's range"):
            dc.Tensor(np.array([1.0, 1e39]))
        with self.assertRaisesRegex(ValueError, "1-D"):
            dc.top_k(np.float32(0.3))

    def test_the_predictions_of_an_empty_batch_add_nothing(self):
        model = dc.Model.paper_cnn()
        empty = model.predict(np.zeros((0, 1, 28, 28), np.float32))
        metrics = dc.Metrics.from_scores(empty, np.zeros(0, np.int64))
        self.assertEqual((len(metrics), metrics.classes), (0, 10))

    def test_sessions_refuse_raw_pixels(self):
        model = dc.Model.paper_cnn()
        with dc.Session(model, max_batch=2) as session:
            with self.assertRaisesRegex(ValueError, "raw images go to Model.predict"):
                session.predict(np.zeros((2, 1, 28, 28), np.uint8))

    def test_filename_is_the_given_path_where_the_message_shortens_it(self):
        import tempfile
        from digitcnn import _errors
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "d" * 120, "e" * 120, "missing", "model.dcnn")
            for call in (lambda: dc.Model.load(path), lambda: dc.Model.paper_cnn().save(path)):
                with self.assertRaises(FileNotFoundError) as caught:
                    call()
                self.assertIn("...", str(caught.exception))  # the message shortens it: the reason stays
                self.assertEqual(caught.exception.filename, path)
        # a message that starts with the function's name names no file
        error = _errors.error_for(_errors.STATUS_IO, "dcnn_trainer_fit: process 0 of the job's 2 cannot use its "
                                                     "checkpoint directory")
        self.assertIsInstance(error, OSError)
        self.assertIsNone(error.filename)

    def test_gray_stack_for_predict_names_the_channel_axis(self):
        model = dc.Model.paper_cnn()
        gray = np.zeros((5, 28, 28), np.uint8)  # as Dataset.from_numpy takes them
        with self.assertRaisesRegex(ValueError, r"for 5 gray images of 28x28 pass x\[\.\.\., None\]"):
            model.predict(gray)
        self.assertEqual(model.predict(gray[..., None]).shape, (5, 10))

    def test_errors_pickle_and_copy_whole(self):
        import copy
        import pickle
        import tempfile
        with tempfile.TemporaryDirectory() as tmp:
            garbage = os.path.join(tmp, "garbage.dcnn")
            with open(garbage, "wb") as f:
                f.write(b"not a model")
            for path, kind in ((os.path.join(tmp, "missing.dcnn"), FileNotFoundError), (garbage, ValueError)):
                with self.assertRaises(kind) as caught:
                    dc.Model.load(path)
                error = caught.exception
                # multiprocessing and concurrent.futures send a worker's error to its parent by pickle
                for back in (pickle.loads(pickle.dumps(error)), copy.copy(error), copy.deepcopy(error)):
                    self.assertIs(type(back), type(error))
                    self.assertEqual((back.status, back.message, str(back)), (error.status, error.message, str(error)))
                    self.assertEqual((getattr(back, "errno", None), getattr(back, "filename", None)),
                                     (getattr(error, "errno", None), getattr(error, "filename", None)))

    def test_arrays_where_a_dataset_is_due_are_a_type_error_naming_the_argument(self):
        model = dc.Model.lenet5(classes=2, seed=2)
        images, labels = np.zeros((4, 28, 28), np.uint8), [0, 1, 0, 1]
        data = dc.Dataset.from_numpy(images, labels)
        from digitcnn import robustness
        for call, named in ((lambda: model.fit(images, labels, progress=0), "fit: train is a ndarray"),
                            (lambda: model.fit(data, [1, 2], progress=0), "fit: validation is a list"),
                            (lambda: model.fit(None, progress=0), "fit: train is a NoneType"),
                            (lambda: model.evaluate(images), "evaluate: data is a ndarray"),
                            (lambda: model.evaluate(data, pipeline="paper"), "evaluate: pipeline is a str"),
                            (lambda: dc.evaluate_ensemble([model], images), "evaluate_ensemble: data"),
                            (lambda: dc.Session("model", 4), "Session: model is a str"),
                            (lambda: robustness.evaluate_perturbed(model, images, "noise", 0.1), "data is a ndarray"),
                            (lambda: robustness.attack(None, images, labels), "attack: model is a NoneType")):
            with self.subTest(named=named):
                with self.assertRaisesRegex(TypeError, named):
                    call()
        with self.assertRaisesRegex(TypeError, "Dataset.from_numpy"):
            model.fit(images, labels, progress=0)
        self.assertEqual(len(model.history), 0)

    def test_a_missing_checkpoint_dir_fails_before_training(self):
        model = dc.Model.lenet5(classes=2, seed=2)
        data = dc.Dataset.from_numpy(np.zeros((8, 28, 28), np.uint8), [0, 1] * 4)
        with self.assertRaisesRegex(FileNotFoundError, "checkpoint directory") as caught:
            model.fit(data, epochs=1, progress=0, checkpoint_dir="/nonexistent/checkpoints")
        self.assertEqual(caught.exception.filename, "/nonexistent/checkpoints")
        self.assertEqual(len(model.history), 0)

    def test_saving_onto_a_directory_is_an_is_a_directory_error(self):
        import tempfile
        with tempfile.TemporaryDirectory() as tmp, self.assertRaises(IsADirectoryError) as caught:
            dc.Model.lenet5(classes=2).save(tmp)
        self.assertEqual(caught.exception.filename, tmp)

    def test_metadata_that_is_not_utf8_reads_with_replacement_characters(self):
        from digitcnn._lib import lib
        model = dc.Model.lenet5(classes=2)
        lib.dcnn_model_set_metadata(model.ptr, b"note", b"caf\xe9")  # the C API takes any bytes
        self.assertEqual(model.metadata["note"], "caf\ufffd")
        lib.dcnn_model_set_metadata(model.ptr, b"preprocessing", b"\xff")
        with self.assertRaises(ValueError):  # the library refuses the description by name, not a UnicodeDecodeError
            model.pipeline()


class AuditInputsTest(unittest.TestCase):
    """Inputs an audit of the binding (2026-12-05) found taken silently: each raises now."""

    @classmethod
    def setUpClass(cls):
        cls.data = dc.Dataset.from_numpy(np.zeros((20, 16, 16), np.uint8), np.arange(20) % 10)

    def test_a_boolean_mask_is_not_read_as_indices_0_and_1(self):
        mask = self.data.labels == 3
        for call in (lambda: self.data.subset(mask),
                     lambda: dc.Model.lenet5(height=16, width=16).batch(self.data, mask, dc.Pipeline(height=16, width=16))):
            with self.assertRaises(TypeError) as caught:
                call()
            self.assertIn("flatnonzero", str(caught.exception))
        self.assertEqual(len(self.data.subset(np.flatnonzero(mask))), 2)

    def test_a_nul_in_a_path_or_recipe_is_refused_not_cut_short(self):
        import tempfile
        model = dc.Model.lenet5(height=16, width=16)
        with tempfile.TemporaryDirectory() as tmp:
            for call in (lambda: model.save(tmp + "/model.dcnn\0.bak"),
                         lambda: dc.Model.load(tmp + "/model.dcnn\0x"),
                         lambda: dc.read_png(tmp + "/a.png\0x"),
                         lambda: dc.Dataset.load_mnist_m(tmp + "\0x"),
                         lambda: dc.Model.from_recipe("paper\0typo")):
                with self.assertRaises(ValueError) as caught:
                    call()
                self.assertIn("null", str(caught.exception).replace("NUL", "null"))
            self.assertEqual(os.listdir(tmp), [])

    def test_empty_batches_give_empty_results_or_name_the_argument(self):
        model = dc.Model.lenet5(height=16, width=16)
        self.assertEqual(model.predict(np.zeros((0, 16, 16, 1), np.uint8)).shape, (0, 10))
        self.assertEqual(model.predict(np.zeros((0, 1, 16, 16), np.float32)).shape, (0, 10))
        with dc.Session(model, 4) as session:
            self.assertEqual(session.predict(np.zeros((0, 1, 16, 16), np.float32)).shape, (0, 10))
        self.assertEqual(model.batch(self.data, []).shape, (0, 1, 16, 16))
        for empty in ([], np.zeros((0, 1, 8, 8), np.float32), np.zeros((1, 0), np.float32)):
            with self.assertRaises(ValueError) as caught:
                model.predict(empty)
            self.assertIn("x is empty", str(caught.exception))

    def test_flags_take_bools_or_0_and_1_only(self):
        with self.assertRaises(TypeError):
            dc.Model.lenet5(relu="False")
        with self.assertRaises(ValueError):
            self.data.split(0.5, stratified=0.9)
        with self.assertRaises(TypeError):
            dc.Dataset.load_mnist_m("/nonexistent", train="test")
        rest, part = self.data.split(0.5, stratified=True)
        self.assertEqual(sorted(np.bincount(part.labels, minlength=10)), [1] * 10)


class ContainersTest(unittest.TestCase):
    """A later review: raw pixels were recognised only as an ndarray (a memoryview of them, or a list
    of such, passed as a preprocessed batch of values 0..255), and perturb cast what Tensor refuses."""

    def test_raw_pixels_in_any_container_are_taken_as_the_array(self):
        model = dc.Model.lenet5(classes=2)
        raw = np.random.default_rng(0).integers(0, 256, (3, 28, 28, 1), dtype=np.uint8)  # (N, H, W, C)
        expected = model.predict(raw)
        self.assertEqual(expected.shape, (3, 2))
        for what, x in (("memoryview", memoryview(raw)), ("list", list(raw)), ("tuple", tuple(raw)),
                        ("list of memoryviews", [memoryview(image) for image in raw])):
            with self.subTest(x=what):
                np.testing.assert_array_equal(model.predict(x), expected)
        for what, one in (("(H, W, C)", raw[0]), ("(H, W)", raw[0, ..., 0])):
            with self.subTest(image=what):
                np.testing.assert_array_equal(model.predict(memoryview(one)), expected[0])  # one image: (K,)
        with self.assertRaisesRegex(ValueError, r"image 0 has shape \(1, 28, 28\)"):  # as the array's
            model.predict(memoryview(np.ascontiguousarray(raw.transpose(0, 3, 1, 2))))
        batch = np.zeros((2, 1, 28, 28), np.uint8)
        with dc.Session(model, 4) as session:
            for what, x in (("memoryview", memoryview(batch)), ("list", list(batch)),
                            ("list of memoryviews", [memoryview(sample) for sample in batch])):
                with self.subTest(session=what):
                    with self.assertRaisesRegex(ValueError, "raw images go to Model.predict"):
                        session.predict(x)
            self.assertEqual(session.predict(list(batch.astype(np.float32))).shape, (2, 2))  # floats: samples

    def test_a_list_mixing_raw_images_and_samples_is_refused(self):
        """A list holding uint8 images and float samples was taken as a float batch (the uint8 items'
        0..255 as preprocessed values), by Model.predict and Session.predict alike."""
        model = dc.Model.lenet5(classes=2)
        sample, image = np.zeros((1, 28, 28), np.float32), np.zeros((1, 28, 28), np.uint8)
        with dc.Session(model, 4) as session:
            for predict in (model.predict, session.predict):
                for x, first, other in (([sample, image], 1, 0), ((image, memoryview(sample), image), 0, 1),
                                        ([image, sample.astype(np.float64)], 0, 1)):
                    with self.subTest(predict=predict.__qualname__, x=[type(i).__name__ for i in x]):
                        with self.assertRaisesRegex(ValueError, rf"x\[{first}\] holds uint8 pixels but x\[{other}\] does "
                                                                r"not: raw images and preprocessed samples cannot be "
                                                                "mixed"):
                            predict(x)

    def test_perturb_takes_numbers_as_tensors_do(self):
        """perturb cast with numpy.array(x, float32): the imaginary part dropped, text parsed, 1e39 inf."""
        with self.assertRaisesRegex(TypeError, "x must hold numbers, got an array of dtype complex128"):
            dc.perturb(np.full((1, 1, 2, 2), 0.5 + 3j), "gaussian_noise", 0.1)
        with self.assertRaisesRegex(TypeError, "x must hold numbers"):
            dc.perturb(np.array([[[["0.5"]]]]), "gaussian_noise", 0.1)
        with self.assertRaisesRegex(ValueError, "beyond float32's range"):
            dc.perturb(np.full((1, 1, 2, 2), 1e39), "gaussian_noise", 0.1)
        x = np.full((2, 1, 4, 4), 0.5, np.float32)
        noisy = dc.perturb(x, "gaussian_noise", 0.2)  # a copy: the input, shared-ready float32, is unchanged
        self.assertTrue((x == 0.5).all())
        self.assertFalse((noisy == 0.5).all())
        np.testing.assert_array_equal(dc.perturb(x.astype(np.float64).tolist(), "gaussian_noise", 0.2), noisy)



class NumbersAndNamesTest(unittest.TestCase):
    """A review of the binding: float(x) parsed text where numbers are due, random_start alone took
    only bools, and empty batches or Tensors reached attack and perturb as they reach nothing else."""

    def test_text_is_not_a_number_anywhere(self):
        data = dc.Dataset.from_numpy(np.zeros((10, 4, 4), np.uint8), np.arange(10) % 2)
        model = dc.Model.lenet5(classes=2)
        calls = {
            "split": lambda: data.split("0.5"),
            "split None": lambda: data.split(None),
            "attack_settings epsilon": lambda: dc.attack_settings("fgsm", "0.03"),
            "attack_settings step": lambda: dc.attack_settings("pgd", 0.03, step="0.01"),
            "perturb": lambda: dc.perturb(np.zeros((1, 1, 2, 2), np.float32), "gaussian_noise", "0.1"),
            "ensemble weights": lambda: dc.evaluate_ensemble([model, model], data, weights=["1", "1"]),
            "paper_cnn": lambda: dc.Model.paper_cnn(width_multiplier="1.5"),
            "pipeline option": lambda: dc.Pipeline().__setitem__("height", "32"),
        }
        for name, call in calls.items():
            with self.subTest(call=name), self.assertRaisesRegex(TypeError, "must be a number"):
                call()

    def test_random_start_takes_0_and_1_as_the_other_flags_do(self):
        self.assertEqual(dc.attack_settings("pgd", random_start=0).random_start, 0)
        self.assertEqual(dc.attack_settings("pgd", random_start=1).random_start, 1)
        self.assertEqual(dc.attack_settings("pgd", random_start=np.True_).random_start, 1)
        with self.assertRaises(ValueError):
            dc.attack_settings("pgd", random_start=2)
        with self.assertRaises(TypeError):
            dc.attack_settings("pgd", random_start="yes")

    def test_attack_and_perturb_take_empty_batches_and_tensors(self):
        model = dc.Model.lenet5(classes=2)
        empty = np.zeros((0, 1, 28, 28), np.float32)
        self.assertEqual(dc.perturb(empty, "gaussian_noise", 0.1).shape, (0, 1, 28, 28))
        self.assertEqual(dc.attack(model, empty, []).shape, (0, 1, 28, 28))
        for bad in ([], np.zeros((1, 0), np.float32)):
            with self.subTest(x=np.shape(bad)), self.assertRaisesRegex(ValueError, "x is empty"):
                dc.perturb(bad, "gaussian_noise", 0.1)
            with self.subTest(x=np.shape(bad)), self.assertRaisesRegex(ValueError, "x is empty"):
                dc.attack(model, bad, [])
        x = np.full((2, 1, 28, 28), 0.5, np.float32)
        np.testing.assert_array_equal(dc.attack(model, dc.Tensor(x), [0, 1]), dc.attack(model, x, [0, 1]))
        # the other arguments are checked for an empty batch too
        with self.assertRaises(KeyError):
            dc.perturb(empty, "no-such-perturbation", 0.1)
        with self.assertRaises(TypeError):
            dc.perturb(empty, "gaussian_noise", "abc")
        with self.assertRaises(ValueError):
            dc.attack(model, empty, [], kind="bogus")
        with self.assertRaises(TypeError):
            dc.attack(model, empty, [], nonsense_keyword=3)
        # and their ranges, which the library checks
        with self.assertRaisesRegex(ValueError, "severity -1"):
            dc.perturb(empty, "gaussian_noise", -1)
        with self.assertRaisesRegex(ValueError, "epsilon 5"):
            dc.attack(model, empty, [], epsilon=5)
        with self.assertRaisesRegex(ValueError, "iterations 1000000 outside"):
            dc.attack(model, empty, [], kind="pgd", iterations=10**6)
        with self.assertRaisesRegex(ValueError, "PGD step 0 is outside"):
            dc.attack(model, empty, [], kind="pgd", epsilon=0.1, step=0)
        self.assertEqual(dc.attack(model, empty, [], kind="pgd", epsilon=0.1, iterations=100000).shape, empty.shape)

    def test_recipe_names_must_be_text(self):
        for name in (None, 5):
            with self.subTest(name=name), self.assertRaisesRegex(TypeError, "recipe name must be str or bytes"):
                dc.recipe_settings(name)
        with self.assertRaises(KeyError):
            dc.recipe_settings("no-such-recipe")

    def test_a_label_too_large_for_a_class_count_is_named(self):
        with self.assertRaisesRegex(ValueError, "labels reach 2147483647"):
            dc.Dataset.from_numpy(np.zeros((1, 2, 2), np.uint8), [2**31 - 1])

    def test_history_params_record_adversarial_training(self):
        data = dc.Dataset.from_numpy(np.zeros((8, 28, 28), np.uint8), np.arange(8) % 2)
        model = dc.Model.lenet5(classes=2)
        history = model.fit(data, epochs=1, batch_size=8, progress=0,
                            adversarial={"kind": "fgsm", "epsilon": 0.03, "ratio": 0.5})
        self.assertEqual(history.params["adversarial"], {"kind": "fgsm", "epsilon": 0.03, "ratio": 0.5})

if __name__ == "__main__":
    unittest.main()
