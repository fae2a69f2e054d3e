"""Model.predict on raw images against the long path (dataset, the recorded preprocessing, a
preprocessed batch), on real MNIST-M test images for grayscale and RGB models; the default
pipelines of evaluate/batch/fit follow the model; top_k."""
import os
import struct
import tempfile
import unittest
import zlib
from pathlib import Path

import numpy as np

import digitcnn as dc

ROOT = Path(__file__).resolve().parents[3]
MNIST_M = Path(os.environ.get("DCNN_MNIST_M_DIR", ROOT / "data" / "mnist_m"))
IMAGES = [MNIST_M / "mnist_m_test" / f"{i:08d}.png" for i in range(4)]


def with_recorded(model: dc.Model, pipeline: dc.Pipeline) -> dc.Model:
    """Records ``pipeline``'s preprocessing in ``model`` as the trainer does."""
    model.set_metadata("preprocessing", pipeline.describe())
    return model


def long_path(model: dc.Model, image: np.ndarray) -> np.ndarray:
    """A one-image dataset through the recorded preprocessing at the model's size, then predict."""
    pipeline = dc.Pipeline()
    pipeline.configure(model.metadata["preprocessing"])
    _, height, width = model.input_shape
    pipeline["height"], pipeline["width"] = height, width
    data = dc.Dataset.from_numpy(image[None], [0], classes=10)
    return model.predict(model.batch(data, [0], pipeline))[0]


def gray_png(height, width, pixels):
    """An 8-bit gray PNG of ``pixels`` (rows top to bottom), written by hand."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\0" + pixels[r * width:(r + 1) * width] for r in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


@unittest.skipUnless(all(p.exists() for p in IMAGES), f"MNIST-M not found in {MNIST_M} (run scripts/get-data.sh)")
class RawImagesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.images = [dc.read_png(p) for p in IMAGES]

    def check(self, model: dc.Model):
        one_call = model.predict(self.images)  # a list: (N, K)
        self.assertEqual(one_call.shape, (len(self.images), 10))
        for image, probs in zip(self.images, one_call):
            np.testing.assert_array_equal(probs, long_path(model, image))
            np.testing.assert_array_equal(model.predict(image), probs)  # one (H, W, C) image: (K,)
            self.assertAlmostEqual(float(probs.sum()), 1.0, places=5)
        self.assertFalse(all(np.array_equal(one_call[0], p) for p in one_call[1:]))
        np.testing.assert_array_equal(model.predict(np.stack(self.images)), one_call)  # (N, H, W, C)
        return one_call

    def test_gray_model(self):
        model = with_recorded(dc.Model.paper_cnn(channels=1, seed=5), dc.Pipeline(paper=True))
        probs = self.check(model)
        rgba = np.concatenate([self.images[0], np.full(self.images[0].shape[:2] + (1,), 7, np.uint8)], axis=2)
        np.testing.assert_array_equal(model.predict(rgba), probs[0])  # alpha is ignored
        gray = dc.read_png(IMAGES[0], channels=1)
        np.testing.assert_array_equal(model.predict(gray[..., 0]), long_path(model, gray))

    def test_read_png_as_stored(self):
        stored = dc.read_png(IMAGES[0], channels=0)  # MNIST-M's files are RGB
        self.assertEqual(stored.shape, self.images[0].shape)
        np.testing.assert_array_equal(stored, self.images[0])


    def test_rgb_model_with_standardisation(self):
        pipeline = dc.Pipeline(paper=True, grayscale=0)
        status = dc._lib.lib.dcnn_pipeline_set_standardization(
            pipeline.ptr, 3, (dc._lib.c_float * 3)(0.46, 0.47, 0.42), (dc._lib.c_float * 3)(0.25, 0.23, 0.26))
        self.assertEqual(status, 0)  # declared in _lib._PROTOTYPES: a failure raises
        self.assertIn("standardize=3", pipeline.describe())
        model = with_recorded(dc.Model.paper_cnn(channels=3, seed=5), pipeline)
        self.check(model)
        np.testing.assert_array_equal(model.batch(dc.Dataset.from_numpy(self.images[0][None], [0], classes=10), [0]),
                                      model.batch(dc.Dataset.from_numpy(self.images[0][None], [0], classes=10), [0],
                                                  model.pipeline()))


class DefaultPipelineTest(unittest.TestCase):
    def test_an_rgb_model_evaluates_and_fits_without_a_pipeline(self):
        """Before, evaluate/batch/fit fell back to the paper's 28x28 grayscale pipeline, which
        gives one channel: an RGB model failed with a shape mismatch."""
        rng = np.random.default_rng(3)
        data = dc.Dataset.from_numpy(rng.integers(0, 256, (8, 32, 32, 3), dtype=np.uint8), np.arange(8) % 2,
                                     classes=2)
        model = dc.Model.paper_cnn(channels=3, classes=2, seed=1)
        self.assertEqual(model.batch(data, [0, 1]).shape, (2, 3, 28, 28))
        self.assertIn("accuracy", model.evaluate(data))
        history = model.fit(data, epochs=1, batch_size=4, progress=0, max_steps=1)
        self.assertEqual(len(history), 1)
        self.assertIn("grayscale=0", model.metadata["preprocessing"])

    def test_a_gray_model_keeps_the_papers_preprocessing(self):
        model = dc.Model.paper_cnn(seed=1)
        pipeline = model.pipeline(augment=True)
        self.assertEqual(pipeline.describe(), dc.Pipeline(paper=True).describe())
        self.assertEqual(pipeline["rotation"], dc.Pipeline(paper=True)["rotation"])

    def test_seeds_use_all_64_bits(self):
        rng = np.random.default_rng(4)
        data = dc.Dataset.from_numpy(rng.integers(0, 256, (8, 28, 28), dtype=np.uint8), np.arange(8) % 2, classes=2)
        model = dc.Model.paper_cnn(classes=2, seed=2**64 - 1)
        model.fit(data, epochs=1, batch_size=4, progress=0, max_steps=1, seed=2**64 - 1)  # above the old 1e15 cap
        with self.assertRaises(ValueError):
            model.fit(data, epochs=1, seed=2**64)


class TopKTest(unittest.TestCase):
    def test_largest_first_ties_in_order_nan_last(self):
        indices, values = dc.top_k(np.array([0.1, 0.4, np.nan, 0.4, 0.3], dtype=np.float32), 5)
        self.assertEqual(indices.tolist(), [1, 3, 4, 0, 2])
        self.assertEqual(values[:2].tolist(), [np.float32(0.4)] * 2)
        with self.assertRaises(dc.DigitcnnError):
            dc.top_k(np.zeros(3), 4)


class ReadPngTest(unittest.TestCase):
    def test_a_gray_file_reads_as_stored_or_as_rgb(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "gray.png")
            with open(path, "wb") as f:
                f.write(gray_png(2, 3, bytes(range(6))))
            self.assertEqual(dc.read_png(path, channels=0).shape, (2, 3, 1))
            np.testing.assert_array_equal(dc.read_png(path, channels=0)[..., 0], [[0, 1, 2], [3, 4, 5]])
            self.assertEqual(dc.read_png(path).shape, (2, 3, 3))
            with self.assertRaises(ValueError):
                dc.read_png(path, channels=2)


if __name__ == "__main__":
    unittest.main()
