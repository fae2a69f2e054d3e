"""Data shared by the binding's tests (unittest discover puts this folder on sys.path)."""
import numpy as np


def halves(n, seed=0):
    """28x28 gray images: class 1 has a bright left half, class 0 a bright right half."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    images = rng.integers(0, 60, size=(n, 28, 28), dtype=np.uint8)
    images[labels == 1, :, :14] += 180
    images[labels == 0, :, 14:] += 180
    return images, labels
