"""The Python binding against the C library it wraps (run by CTest)."""
import os
import tempfile
import unittest

import numpy as np

import digitcnn as dc


def halves(n, seed=0):
    """28x28 gray images: class 1 has a bright left half, class 0 a bright right half."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    images = rng.integers(0, 60, size=(n, 28, 28), dtype=np.uint8)
    images[labels == 1, :, :14] += 180
    images[labels == 0, :, 14:] += 180
    return images, labels


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
        from_python = dc.Metrics.from_scores(scores, self.val.labels()).to_dict()
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


if __name__ == "__main__":
    unittest.main()
