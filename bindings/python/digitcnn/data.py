"""Datasets (from NumPy arrays or MNIST-M) and the preprocessing pipeline."""
from __future__ import annotations

import ctypes
import operator
import os
import warnings
from typing import Optional, Tuple

from . import _checks, _lib
from ._errors import DigitcnnError
from ._handle import Handle, borrowed, in_use
from ._lib import lib
from .tensor import _numpy, np as _np
from .tensor import np as numpy  # noqa: F401 (typing.get_type_hints resolves "numpy.typing.ArrayLike" here)

PIPELINE_OPTIONS = {
    "height": 0, "width": 1, "grayscale": 2, "rotation": 3, "translation": 4, "zoom_min": 5, "zoom_max": 6,
    "fill_edge": 7, "cache": 8, "channel_shuffle": 9, "random_gray": 10, "invert": 11, "brightness": 12,
    "contrast": 13, "saturation": 14, "shift": 15, "jitter_prob": 16,
    "background_swap": 17,
    "background_transform": 18,
    "digit_elastic": 19, "elastic_alpha": 20, "elastic_sigma": 21,
    "cutout": 22, "cutout_size": 23, "gray_to_rgb": 24,
}


def read_png(path, channels: int = 3):
    """A PNG file's pixels as an (H, W, C) uint8 array: ``channels`` 3 (RGB), 1 (gray) or 0
    (as the file stores them: 1 for gray, 3 for colour). Any colour type and bit depth; alpha is
    composed onto black (C ``dcnn_image_read_png``). ``path``: str, bytes or path-like, as for
    ``open()``."""
    numpy = _numpy()
    channels = _checks.whole_number(channels, "channels", 0, 3)
    if channels == 2:
        raise ValueError("channels must be 0, 1 or 3")
    pixels, h, w, got = ctypes.c_void_p(), ctypes.c_int32(), ctypes.c_int32(), ctypes.c_int32()
    lib.dcnn_image_read_png(_checks.path(path), channels, ctypes.byref(pixels), ctypes.byref(h), ctypes.byref(w),
                            ctypes.byref(got))
    try:
        data = ctypes.string_at(pixels.value, h.value * w.value * got.value)
        return numpy.frombuffer(data, dtype=numpy.uint8).reshape(h.value, w.value, got.value).copy()
    finally:
        lib.dcnn_free(pixels)


class Dataset(Handle):
    """Images (uint8, channels last) with integer labels. Build one with
    :meth:`from_numpy` or :meth:`load_mnist_m`; :meth:`split` and
    :meth:`subset` give views that share the images."""

    _copy_hint = ("ds[:] is another view of the same images; Dataset.from_numpy(images, labels) makes an "
                  "independent dataset (in another process too)")

    def __init__(self, ptr):
        """Takes ownership of a C ``dcnn_dataset *`` (a ctypes ``c_void_p``, freed by this object);
        TypeError for anything else: make datasets with the factories."""
        self._adopt(ptr, lib.dcnn_dataset_destroy,
                    "Dataset.from_numpy(images, labels) or Dataset.load_mnist_m(root)")

    @classmethod
    def from_numpy(cls, images: "numpy.typing.ArrayLike", labels: "numpy.typing.ArrayLike",
                   classes: Optional[int] = None) -> "Dataset":
        """``images``: (N, H, W) or (N, H, W, C) with C 1 or 3, copied. Pixels are
        uint8, or integers in 0..255 (taken as they are), or floats in [0, 1]
        (intensities: scaled by 255 and rounded to the nearest integer).
        ``labels``: N whole numbers in [0, classes) (integers, or floats that are
        exactly whole); ``classes`` defaults to the largest label + 1: give it when
        the labels may miss the top classes (a subset), since training needs the
        dataset's class count to equal the model's outputs.

        Nothing is cast silently: NaN or infinite pixels, pixels outside those
        ranges and labels that are not whole raise ValueError naming the first
        bad element; labels outside [0, classes) raise :class:`DigitcnnError`."""
        images = _checks.pixels(images, "images")
        if images.ndim == 3:
            images = images[..., None]
        if images.ndim != 4 or images.shape[3] not in (1, 3):
            raise ValueError(f"images must be (N, H, W) or (N, H, W, 1|3), got {images.shape}")
        labels = _checks.whole_numbers(labels, "labels")
        if labels.shape != (images.shape[0],):
            raise ValueError(f"{images.shape[0]} images but labels of shape {labels.shape}")
        if classes is None:
            classes = int(labels.max()) + 1 if labels.size else 1
            if classes > 2**31 - 1:
                raise ValueError(f"labels reach {classes - 1}, which leaves no room for the class count "
                                 f"(labels must be below {2**31 - 1})")
        classes = _checks.whole_number(classes, "classes", 1, 2**31 - 1)
        out = _lib.out_handle()
        n, h, w, c = (_checks.count(extent, f"images.shape[{i}]", low=0) for i, extent in enumerate(images.shape))
        lib.dcnn_dataset_create(None, n, h, w, c, images.ctypes.data, labels.ctypes.data, classes, ctypes.byref(out))
        return cls(out)

    @classmethod
    def load_mnist_m(cls, root: "os.PathLike[str] | str | bytes", train: bool = True) -> "Dataset":
        """MNIST-M in the official layout under ``root`` (str, bytes or path-like, as for
        ``open()``; anything else raises TypeError)."""
        out = _lib.out_handle()
        lib.dcnn_dataset_load_mnist_m(None, _checks.path(root, "root"), _checks.flag(train, "train"), ctypes.byref(out))
        return cls(out)

    @in_use
    def __len__(self) -> int:
        return lib.dcnn_dataset_count(self.ptr)

    @property
    @in_use
    def classes(self) -> int:
        """Number of classes."""
        return lib.dcnn_dataset_classes(self.ptr)

    @property
    @in_use
    def image_shape(self) -> Tuple[int, int, int]:
        """(height, width, channels)."""
        h, w, c = ctypes.c_int32(), ctypes.c_int32(), ctypes.c_int32()
        lib.dcnn_dataset_image_size(self.ptr, ctypes.byref(h), ctypes.byref(w), ctypes.byref(c))
        return h.value, w.value, c.value

    @property
    @in_use
    def labels(self):
        """All labels as an int32 array (a property since 0.2; calling it, ``ds.labels()``,
        still works but warns)."""
        numpy = _numpy()
        labels = numpy.array([lib.dcnn_dataset_label(self.ptr, i) for i in range(len(self))], dtype=numpy.int32)
        return labels.view(Labels)

    @in_use
    def label(self, index: int) -> int:
        """Label of sample ``index`` (negative indices count from the end)."""
        return lib.dcnn_dataset_label(self.ptr, self._index(index))

    def _index(self, index) -> int:
        if isinstance(index, bool) or (_np is not None and isinstance(index, _np.bool_)):
            raise TypeError(f"Dataset indices must be integers or slices, not {type(index).__name__}")
        try:
            index = operator.index(index)  # 1.5 or "3" are not indices
        except TypeError:
            raise TypeError(f"Dataset indices must be integers or slices, not {type(index).__name__}") from None
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"Dataset index {index} out of range for {n} samples")
        return index + n if index < 0 else index

    @in_use
    def __getitem__(self, index):
        """``ds[i]``: the pair (image, label), the image an (H, W, C) uint8 copy; negative
        indices count from the end. ``ds[a:b:c]``: a :meth:`subset` view."""
        if isinstance(index, slice):
            chosen = list(range(*index.indices(len(self))))
            if not chosen:  # the C library has no empty dataset
                raise ValueError(f"Dataset slice {index} selects no sample; a dataset view holds at least one")
            return self.subset(chosen)
        index = self._index(index)
        return self.image(index), lib.dcnn_dataset_label(self.ptr, index)

    def __iter__(self):
        """The (image, label) pairs in order."""
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        if self._ptr is None:
            return "<Dataset: closed>"
        h, w, c = self.image_shape
        return f"<Dataset: {len(self)} images {h}x{w}x{c}, {self.classes} classes>"

    @in_use
    def image(self, index: int):
        """Image ``index`` as an (H, W, C) uint8 array (a copy); negative indices count from the end."""
        numpy = _numpy()
        index = self._index(index)
        h, w, c = self.image_shape
        pointer = lib.dcnn_dataset_image(self.ptr, index)
        return numpy.ctypeslib.as_array(ctypes.cast(pointer, ctypes.POINTER(ctypes.c_uint8)), (h, w, c)).copy()

    @in_use
    def split(self, fraction: float, seed: int = 1, stratified: bool = True) -> Tuple["Dataset", "Dataset"]:
        """(rest, part) where ``part`` holds about ``fraction`` of the samples."""
        a, b = _lib.out_handle(), _lib.out_handle()
        lib.dcnn_dataset_split(self.ptr, _checks.number(fraction, "fraction"), _checks.seed(seed),
                               _checks.flag(stratified, "stratified"),
                               ctypes.byref(a), ctypes.byref(b))
        return Dataset(a), Dataset(b)

    @in_use
    def subset(self, indices: "numpy.typing.ArrayLike") -> "Dataset":
        """A view of the samples at ``indices`` (a 1-D array or sequence of whole numbers)."""
        indices = _checks.indices(indices, "indices")
        out = _lib.out_handle()
        lib.dcnn_dataset_subset(self.ptr, indices.ctypes.data, len(indices), ctypes.byref(out))
        return Dataset(out)


if _np is not None:  # without NumPy there are no label arrays
    class Labels(_np.ndarray):
        """``Dataset.labels``: an int32 array that can also be called, for code written when
        ``labels`` was a method. It pickles (and so reaches worker processes) as a plain ndarray,
        as do the arrays derived from it, which NumPy makes of this type too."""

        def __call__(self):
            warnings.warn("Dataset.labels is a property since digitcnn 0.2: write ds.labels, not ds.labels()",
                          DeprecationWarning, stacklevel=2)
            return self.view(_np.ndarray)

        def __reduce__(self):
            return self.view(_np.ndarray).__reduce__()

        def __reduce_ex__(self, protocol):
            return self.view(_np.ndarray).__reduce_ex__(protocol)


class Pipeline(Handle):
    """Preprocessing (resize, grayscale, standardisation) and augmentation.
    ``Pipeline(paper=True)`` is the paper's: 28x28 grayscale with rotation,
    translation and zoom augmentation."""

    _one_thread_at_a_time = True  # C: one thread at a time (borrowed() locks it)
    _copy_hint = ("make a new Pipeline with the same options (configure(p.describe()) copies the preprocessing, "
                  "not the augmentation nor gray_to_rgb)")

    def __init__(self, paper: bool = False, **options: float):
        out = _lib.out_handle()
        lib.dcnn_pipeline_create(None, ctypes.byref(out))
        self._own(out, lib.dcnn_pipeline_destroy)
        if paper:
            lib.dcnn_pipeline_set_paper_defaults(self.ptr)
        _checks.keywords("Pipeline", options, ["paper"] + list(PIPELINE_OPTIONS))
        for name, value in options.items():
            self[name] = value

    def __repr__(self) -> str:
        if self._ptr is None:
            return "<Pipeline: closed>"
        if not self._exclusive.acquire(blocking=False):  # a repr (a debugger's) does not wait for a fit
            return "<Pipeline: in use by another thread>"
        try:
            return f"<Pipeline: {self.describe()}>"
        except DigitcnnError as error:  # settings that describe() refuses (3 channels' statistics, gray output)
            return f"<Pipeline: inconsistent settings ({error.message})>"
        finally:
            self._exclusive.release()

    @in_use
    def __setitem__(self, name: str, value: float) -> None:
        if name not in PIPELINE_OPTIONS:
            raise KeyError(f"unknown pipeline option {name!r} (known: {', '.join(PIPELINE_OPTIONS)})")
        lib.dcnn_pipeline_set(self.ptr, PIPELINE_OPTIONS[name], _checks.number(value, name))

    @in_use
    def __getitem__(self, name: str) -> float:
        if name not in PIPELINE_OPTIONS:
            raise KeyError(f"unknown pipeline option {name!r} (known: {', '.join(PIPELINE_OPTIONS)})")
        return lib.dcnn_pipeline_get(self.ptr, PIPELINE_OPTIONS[name])

    def fit_standardization(self, dataset: "Dataset") -> Tuple[list, list]:
        """Measures each output channel's mean and standard deviation over
        ``dataset`` (fit on the training split only) and standardises with them;
        returns ``(means, stds)``. Models trained with it record the values."""
        _checks.instance(dataset, Dataset, "fit_standardization: dataset", array_hint=_checks.DATASET_FROM_ARRAYS)
        mean, std = (ctypes.c_float * 3)(), (ctypes.c_float * 3)()
        with borrowed(self, dataset):
            lib.dcnn_pipeline_fit_standardization(self.ptr, dataset.ptr, mean, std)
        channels = int(self.describe().split("standardize=")[1].split()[0])
        return list(mean)[:channels], list(std)[:channels]

    @in_use
    def describe(self) -> str:
        """The preprocessing as the model files record it."""
        buf = ctypes.create_string_buffer(512)
        lib.dcnn_pipeline_describe(self.ptr, buf, len(buf))
        return buf.value.decode()

    @in_use
    def configure(self, description: str) -> None:
        """Sets the preprocessing from :meth:`describe`'s text (e.g. a model's metadata)."""
        lib.dcnn_pipeline_configure(self.ptr, _checks.text(description, "description"))
