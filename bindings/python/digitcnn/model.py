"""Models: built from the zoo or loaded from a file; fit, evaluate, predict, save."""
from __future__ import annotations

import collections.abc
import contextlib
import ctypes
import functools
import math
import os
import threading
import weakref
from typing import Dict, List, Optional

from . import _checks, _lib
from ._handle import Handle, borrowed
from ._lib import lib
from .data import Dataset, Pipeline
from .history import History
from .metrics import Metrics
from . import _progress
from . import robustness as _robustness
from .robustness import attack_settings
from .tensor import Tensor, _numpy, float32
from .tensor import np as numpy  # noqa: F401 (typing.get_type_hints resolves "numpy.typing.ArrayLike" here)

TRAIN_OPTIONS = {"epochs": 0, "batch_size": 1, "augment": 3, "patience": 4, "monitor_loss": 5,
                 "keep_best": 6, "max_steps": 8, "label_smoothing": 9, "schedule_per_step": 10,
                 "mixup": 11, "cutmix": 12, "ema_decay": 13}  # the seed has its own uint64 setter


def _fit_keywords() -> List[str]:
    """Every keyword :meth:`Model.fit` takes, in its signature's order."""
    import inspect
    names = [n for n in inspect.signature(Model.fit).parameters if n not in ("self", "options")]
    return names + [n for n in TRAIN_OPTIONS if n not in names]


def _fit_options(options: Dict[str, object]) -> Dict[str, int]:
    """The trainer's extra options as the whole numbers it takes, each checked by name."""
    checked = {}
    for name, value in options.items():
        if name in ("patience", "max_steps"):
            checked[name] = _checks.count(value, name, low=0)
        elif name in ("monitor_loss", "keep_best", "schedule_per_step"):
            checked[name] = _checks.flag(value, name)
        elif name in ("label_smoothing", "mixup", "cutmix", "ema_decay"):  # fractions: the library checks the range
            checked[name] = _checks.number(value, name)
        elif name in ("epochs", "batch_size"):  # fit's own parameters, and fit_recipe's overrides
            checked[name] = _checks.count(value, name)
        elif name == "augment":
            checked[name] = _checks.flag(value, name)
        else:
            checked[name] = value
    return checked


_c_text = _checks.text


def _data_arguments(fn: str, data, validation, pipeline, data_name: str = "data") -> None:
    """TypeError, naming the argument, for what is not a Dataset (or None) or a Pipeline (or None)."""
    _checks.instance(data, Dataset, f"{fn}: {data_name}", array_hint=_checks.DATASET_FROM_ARRAYS)
    _checks.instance(validation, Dataset, f"{fn}: validation", optional=True,
                     array_hint=_checks.DATASET_FROM_ARRAYS)
    _checks.instance(pipeline, Pipeline, f"{fn}: pipeline", optional=True)


def _checkpoint_dir(value) -> Optional[bytes]:
    """``fit``'s checkpoint directory as the C call takes it: None (no checkpoints), or a str,
    bytes or path-like that is not empty (an empty one used to be ignored without a word)."""
    if value is None:
        return None
    path = _checks.path(value, "checkpoint_dir")  # TypeError for anything else, as open()
    if not path:
        raise ValueError("checkpoint_dir is empty: give a directory, or None for no checkpoints")
    return path


def _zoo_options(height, width, channels, classes, seed) -> "_lib.ZooOptions":
    """``dcnn_zoo_options`` with the library's defaults, then these int32 sizes and uint64 seed
    (refused rather than wrapped by ctypes)."""
    options = _lib.ZooOptions()  # DCNN_ZOO_OPTIONS_INIT's defaults, this mirror's struct_size
    options.height, options.width = _checks.count(height, "height"), _checks.count(width, "width")
    options.channels, options.classes = _checks.count(channels, "channels"), _checks.count(classes, "classes")
    options.seed = _checks.seed(seed)
    return options


def _holds_uint8(x) -> bool:
    """True when ``x`` holds uint8 pixels as ``numpy.asarray`` sees it: an array, a buffer (a
    memoryview) or a non-empty list or tuple whose items all do (bytes do not: NumPy reads them as a
    string). The dtype decides, not the container, so that every container of raw pixels is taken as
    the array would be. A list or tuple in which some items hold uint8 and others do not raises
    ValueError naming the first uint8 one: raw images and preprocessed samples cannot be mixed."""
    numpy = _numpy()
    if isinstance(x, Tensor):
        return False
    try:
        if isinstance(x, (list, tuple)):  # items of any sizes: each on its own
            raw = [not isinstance(i, Tensor) and numpy.asarray(i).dtype == numpy.uint8 for i in x]
        else:
            return numpy.asarray(x).dtype == numpy.uint8
    except (TypeError, ValueError):  # not an array (ragged lists): the batch path says what is wrong
        return False
    if any(raw) and not all(raw):
        raise ValueError(f"x[{raw.index(True)}] holds uint8 pixels but x[{raw.index(False)}] does not: raw images "
                         f"and preprocessed samples cannot be mixed in one {type(x).__name__} (pass uint8 images "
                         f"to Model.predict, or float (C, H, W) samples)")
    return bool(raw) and all(raw)


def _raw_images(x):
    """(images, single) when ``x`` holds raw pixels (:func:`_holds_uint8`: uint8 of 2, 3 or 4
    dimensions, or a list or tuple of such): the (H, W, C) uint8 images, and whether ``x`` was one
    image; else None (a preprocessed float batch)."""
    numpy = _numpy()
    if not _holds_uint8(x):
        return None
    if isinstance(x, (list, tuple)):
        array, images = None, [numpy.asarray(i) for i in x]
    else:
        array = numpy.asarray(x)
        images = list(array) if array.ndim == 4 else [array]
    shaped = []
    for i, image in enumerate(images):
        if image.ndim == 2:
            image = image[..., None]
        if image.ndim != 3 or image.shape[2] not in (1, 3, 4) or 0 in image.shape:
            hint = ""
            if array is not None and array.ndim == 3 and image is array:  # (N, H, W) gray, as Dataset.from_numpy takes
                hint = (f"; for {array.shape[0]} gray images of {array.shape[1]}x{array.shape[2]} pass x[..., None] "
                        f"(N, H, W, 1)")
            raise ValueError(f"image {i} has shape {image.shape}: raw images are (H, W) or (H, W, C) uint8 with C "
                             f"1, 3 or 4 (alpha ignored), or (N, H, W, C) arrays of them{hint}")
        shaped.append(numpy.ascontiguousarray(image))
    return shaped, array is not None and array.ndim in (2, 3)


def _batch(x) -> Tensor:
    """A :class:`Tensor` over a preprocessed batch ``x`` (shared when contiguous float32);
    TypeError when ``x`` does not hold numbers (None, text), which NumPy would turn into NaN or
    a ValueError about converting strings."""
    if isinstance(x, Tensor):
        return x
    array = _numpy().asarray(x)
    if array.dtype.kind not in "biuf":
        what = f"an array of dtype {array.dtype}" if isinstance(x, _numpy().ndarray) else type(x).__name__
        raise TypeError(f"x must be uint8 images or a float (N, C, H, W) batch, got {what}")
    return Tensor(array)


def _empty_batch(x, sample_shape, name: str) -> bool:
    """True for an empty (0, C, H, W) batch of the model's sample shape (its result is empty too);
    ValueError naming ``name`` for any other empty input (an empty list, a wrong shape), which the
    C library would refuse with a message about a call the caller never made."""
    array = _numpy().asarray(x)  # no copy for an array; buffers (memoryview) have no .size
    if array.size:
        return False
    if array.ndim == 4 and array.shape[0] == 0 and tuple(array.shape[1:]) == tuple(sample_shape):
        return True
    raise ValueError(f"{name} is empty (shape {tuple(array.shape)}): give uint8 images, or a float "
                     f"(N, C, H, W) batch of samples {tuple(sample_shape)}")


def top_k(probs: "numpy.typing.ArrayLike", k: int = 3):
    """(indices, values) of the ``k`` largest entries of a 1-D array, largest first (ties in index
    order, NaN last), as the C ``dcnn_top_k``: the values are ranked as float32, so float64 or
    integer entries that float32 cannot tell apart tie."""
    numpy = _numpy()
    values = float32(probs, "probs")
    if values.ndim != 1:
        raise ValueError(f"top_k takes a 1-D array, got shape {values.shape}")
    k = _checks.count(k, "k")
    indices, top = numpy.zeros(k, dtype=numpy.int32), numpy.zeros(k, dtype=numpy.float32)
    lib.dcnn_top_k(values.ctypes.data, _checks.count(values.size, "len(probs)"), k, indices.ctypes.data,
                   top.ctypes.data)
    return indices, top


def _serialised(method):
    """Runs ``method`` holding its model's lock: a C model takes one call at a time (model.h),
    and ctypes lets other Python threads run while a call is in C. Then frees the profiles whose
    finalizers found the lock taken (:func:`_free_profile`)."""
    @functools.wraps(method)
    def locked(self, *args, **kwargs):
        try:
            with self._lock:  # a threading.RLock: taken and released in C, so no exception lands between
                return method(self, *args, **kwargs)
        finally:
            if self._orphans:
                _free_orphans_if_idle(self)
    return locked


@contextlib.contextmanager
def _model_call(model: "Model"):
    """Holds the model's lock for a call made outside its methods (the robustness functions, the
    ensemble, a profile's), then frees the profiles queued meanwhile, as :func:`_serialised` does:
    one closed during such a call stayed attached, and the next ``profile()`` block was refused."""
    try:
        with model._lock:
            yield
    finally:
        if model._orphans:
            _free_orphans_if_idle(model)


def _destroy_model(orphans: "List[ctypes.c_void_p]", ptr) -> None:
    """A model's finalizer (close(), or its collection): frees the C model, then the profiles still
    queued (:func:`_free_profile`; queued during a ``with model._lock`` block that is not a
    :func:`_serialised` call, they wait for the next such call, close(), or this)."""
    lib.dcnn_model_destroy(ptr)
    while orphans:
        lib.dcnn_profile_destroy(orphans.pop())


def _free_orphans(model: "Model") -> None:
    """Detaches and frees the queued profiles (:func:`_free_profile`); the caller holds the
    model's lock, outside any C call of the model."""
    while model._orphans:
        ptr = model._orphans.pop()  # atomic: popped once, whoever else is freeing
        model._detach_profile(ptr.value)
        lib.dcnn_profile_destroy(ptr)


def _free_orphans_if_idle(model: "Model") -> None:
    """:func:`_free_orphans` if the model's lock can be taken without waiting and this thread is
    not inside a call of the model (a fit's progress callback); else nothing: the call holding
    the lock frees them when it ends (:func:`_serialised`), or the model's close()."""
    while model._orphans and not model._lock._is_owned() and model._lock.acquire(blocking=False):
        try:
            _free_orphans(model)
        finally:
            model._lock.release()


class Model(Handle):
    """A libdigitcnn model (the C object; this class owns it).

    Closing it (:meth:`close`, the end of a ``with`` block) first closes the :class:`Session`
    and :class:`Profile` objects made on it, which the C library requires to be freed before
    their model.

    Threads: the C model takes one call at a time, so calls on one ``Model`` from several
    threads (``predict``, ``fit``, ``evaluate``, ``batch``, ``save``, ``close``, ...) are
    serialised by a lock the model holds: a thread waits while another's call runs, and the
    results are those of the calls made one after the other. To predict in parallel, give each
    thread its own :class:`Session` on the model."""

    _copy_hint = "save() it and Model.load() the file (in another process too)"

    def __init__(self, ptr):
        """Takes ownership of a C ``dcnn_model *`` (a ctypes ``c_void_p``, freed by this object);
        TypeError for anything else: make models with the class methods."""
        self._lock = threading.RLock()  # one call at a time on the C model (see the class docstring)
        # Profiles whose finalizers found the lock taken, to detach and free (_free_profile). A list:
        # append and pop are atomic, so a finalizer queues without taking any lock.
        self._orphans: List[ctypes.c_void_p] = []
        self._sessions: "weakref.WeakSet[Session]" = weakref.WeakSet()  # open sessions, closed before the model
        # The C sessions not yet freed, by address: a session's finalizer frees its own only while it is
        # listed here, and close() frees those still listed (a session collected on another thread whose
        # finalizer has not run yet is no longer in _sessions). _session_lock guards it, around the frees.
        self._session_ptrs: Dict[int, ctypes.c_void_p] = {}
        self._session_lock = threading.RLock()  # reentrant: a collection inside a free may free another
        self._profiles: "weakref.WeakSet[Profile]" = weakref.WeakSet()  # open profiles, closed before the model
        self._attached: Optional[int] = None  # address of the profile the C model writes into
        self._adopt(ptr, functools.partial(_destroy_model, self._orphans),
                    "Model.paper_cnn(), Model.lenet5(), another zoo builder, Model.from_recipe(name) or Model.load(path)")
        self.history = History()  # the last fit's (a sequence of per-epoch dicts, as before 0.2)
        self.best_epoch = 0

    @_serialised
    def close(self) -> None:
        """Frees the model now, after closing its open sessions and profiles (using one
        afterwards raises ``ValueError`` as any closed handle does). Safe to call twice. Raises
        ``RuntimeError`` inside a fit of the model on this thread (from a progress callback or a
        SIGINT handler run between steps), before closing anything: the fit is using it."""
        if self._ptr is not None:
            with self._idle:
                self._refuse_close_in_own_call(" (a fit)")
        for session in list(self._sessions):
            session.close()
        with self._session_lock:  # sessions collected on other threads, their finalizers yet to run
            while self._session_ptrs:  # popped before the free: a collection inside it may run a finalizer
                _, ptr = self._session_ptrs.popitem()  # of another (on this thread: the lock is reentrant)
                lib.dcnn_session_destroy(ptr)
        for profile in list(self._profiles):
            profile.close()  # queued (this thread holds the call lock), freed here:
        _free_orphans(self)  # detached while the model still exists
        super().close()

    def _describe(self) -> str:  # Handle.__repr__
        if not self._lock.acquire(blocking=False):  # a repr (a debugger's) does not wait for a fit
            return "in use by another thread"
        try:
            params = lib.dcnn_model_param_count(self.ptr, 1)  # DCNN_PARAM_TRAINABLE
            fitted = f", {len(self.history)} epochs fitted" if len(self.history) else ""
            return (f"{lib.dcnn_model_layer_count(self.ptr)} layers, input {self.input_shape}, output "
                    f"{self.output_shape}, {params:,} trainable parameters{fitted}")
        finally:
            self._lock.release()

    # ---- construction ----
    @classmethod
    def paper_cnn(cls, height: int = 28, width: int = 28, channels: int = 1, classes: int = 10,
                  seed: int = 1, width_multiplier: float = 1.0, extra_blocks: int = 0,
                  extra_stages: int = 0) -> "Model":
        """The paper's CNN (conv + batch-norm + ReLU blocks, pooling, dropout, dense, softmax)
        for (height, width, channels) images; ``width_multiplier`` scales its filters and dense
        units, ``extra_blocks`` adds conv blocks per stage, ``extra_stages`` pooled stages of 128
        and 256 filters (a wider or deeper member of the family)."""
        out = _lib.out_handle()
        options = _zoo_options(height, width, channels, classes, seed)
        options.width_multiplier = _checks.number(width_multiplier, "width_multiplier")
        options.extra_blocks = _checks.whole_number(extra_blocks, "extra_blocks", 0, 6)
        options.extra_stages = _checks.whole_number(extra_stages, "extra_stages", 0, 2)
        lib.dcnn_zoo_paper_cnn(None, ctypes.byref(options), ctypes.byref(out))
        return cls(out)

    @classmethod
    def from_recipe(cls, name: str = "best", classes: int = 10, seed: int = 1, extra: Optional[str] = "") -> "Model":
        """The member of the paper CNN's family that recipe ``name`` trains (docs/recipes.md):
        its input size and channels, width multiplier, extra blocks and stages, dropout and batch-norm
        momentum, with ``extra`` words (``"width_multiplier=1.5"``; None for none) on top. Train it with
        :meth:`fit_recipe`."""
        from .recipes import _recipe_text
        text = _recipe_text(name, extra)
        out = _lib.out_handle()
        options = _zoo_options(28, 28, 1, classes, seed)  # size and channels: the recipe's
        lib.dcnn_recipe_configure_zoo(_checks.text(text, "recipe"), ctypes.byref(options))
        lib.dcnn_zoo_paper_cnn(None, ctypes.byref(options), ctypes.byref(out))
        return cls(out)

    @classmethod
    def lenet5(cls, height: int = 28, width: int = 28, channels: int = 1, classes: int = 10, seed: int = 1,
               relu: bool = False) -> "Model":
        """LeNet-5, one of the paper's Table 1 baselines, for (height, width, channels) images:
        tanh and average pooling as in 1998, or with ``relu=True`` ReLU and max pooling (the
        variant digitcnn-table1 trains)."""
        out = _lib.out_handle()
        options = _zoo_options(height, width, channels, classes, seed)
        build = lib.dcnn_zoo_lenet5_relu if _checks.flag(relu, "relu") else lib.dcnn_zoo_lenet5
        build(None, ctypes.byref(options), ctypes.byref(out))
        return cls(out)

    @classmethod
    def vgg16(cls, height: int = 32, width: int = 32, channels: int = 1, classes: int = 10, seed: int = 1,
              dense_units: int = 512, batch_norm: bool = False) -> "Model":
        """VGG-16, a Table 1 baseline, for (height, width, channels) images of at least 32 x 32:
        13 convolutions in 5 pooled stages, two hidden dense layers of ``dense_units`` (4096 in
        the original), with ``batch_norm`` after every convolution (C ``dcnn_zoo_vgg16``)."""
        out = _lib.out_handle()
        options = _zoo_options(height, width, channels, classes, seed)
        options.dense_units = _checks.count(dense_units, "dense_units")
        options.batch_norm = _checks.flag(batch_norm, "batch_norm")
        lib.dcnn_zoo_vgg16(None, ctypes.byref(options), ctypes.byref(out))
        return cls(out)

    @classmethod
    def resnet50(cls, height: int = 32, width: int = 32, channels: int = 1, classes: int = 10,
                 seed: int = 1) -> "Model":
        """ResNet-50 (v1.5), a Table 1 baseline, for images of at least 32 x 32 (C ``dcnn_zoo_resnet50``)."""
        out = _lib.out_handle()
        lib.dcnn_zoo_resnet50(None, ctypes.byref(_zoo_options(height, width, channels, classes, seed)),
                              ctypes.byref(out))
        return cls(out)

    @classmethod
    def mobilenetv2(cls, height: int = 32, width: int = 32, channels: int = 1, classes: int = 10,
                    seed: int = 1) -> "Model":
        """MobileNetV2 (width 1.0), a Table 1 baseline, for images of at least 32 x 32
        (C ``dcnn_zoo_mobilenetv2``)."""
        out = _lib.out_handle()
        lib.dcnn_zoo_mobilenetv2(None, ctypes.byref(_zoo_options(height, width, channels, classes, seed)),
                                 ctypes.byref(out))
        return cls(out)

    @classmethod
    def load(cls, path: "os.PathLike[str] | str") -> "Model":
        """Loads a model file (any format version, checkpoints included)."""
        out = _lib.out_handle()
        lib.dcnn_model_load(None, _checks.path(path), ctypes.byref(out))
        return cls(out)

    @_serialised
    def save(self, path: "os.PathLike[str] | str", compression: int = 0) -> None:
        """Saves atomically; ``compression`` 1-9 compresses with zlib."""
        compression = _checks.whole_number(compression, "compression", 0, 9)
        lib.dcnn_model_save_compressed(self.ptr, _checks.path(path), compression)

    @contextlib.contextmanager
    def profile(self):
        """Records per-layer timings of the calls made inside the block (C ``profile.h``)::

            with model.profile() as prof:
                model.fit(train, epochs=1)
            print(prof.format(dc.gemm_gflops()))
            rows = prof.entries()

        The profile is detached when the block ends; it stays readable until it is closed, or
        its model is (which closes it). Closing the profile, or the model, inside the block
        detaches it then; the block's end does nothing more. Blocks do not nest: a model writes
        into one profile at a time, so a second block while one is open raises RuntimeError."""
        _free_orphans_if_idle(self)  # a profile closed during a call that did not free it
        with self._lock:
            if self._attached is not None:
                raise RuntimeError("a profile is already recording this model: end its block (or close it) "
                                   "before opening another")
            prof = Profile(self)
            lib.dcnn_model_set_profile(self.ptr, prof.ptr)
            self._attached = prof.ptr.value
        try:
            yield prof
        finally:  # never raises: an error from the block is the one to see
            if prof._ptr is not None:
                self._detach_profile(prof._ptr.value)

    @_serialised
    def _detach_profile(self, address: int) -> None:
        """Stops the model writing into the profile at ``address`` if that is the one attached;
        nothing once the model is closed."""
        if self._ptr is not None and self._attached == address:
            lib.dcnn_model_set_profile(self._ptr, None)
            self._attached = None

    # ---- description ----
    @_serialised
    def summary(self) -> str:
        """The layer table with output shapes and parameter counts."""
        text = ctypes.c_void_p()
        lib.dcnn_model_summary(self.ptr, ctypes.byref(text))
        return _lib.take_string(text)

    @property
    @_serialised
    def input_shape(self):
        """One sample's shape, e.g. (1, 28, 28)."""
        return lib.dcnn_model_input_shape(self.ptr).to_tuple()

    @property
    @_serialised
    def output_classes(self) -> int:
        """The number of values the model gives per sample (the product of :attr:`output_shape`):
        the classes its metrics count, whatever labels an evaluated dataset happens to hold."""
        return math.prod(self.output_shape)

    @property
    @_serialised
    def output_shape(self):
        """One sample's output shape, e.g. (10,)."""
        return lib.dcnn_model_output_shape(self.ptr).to_tuple()

    @property
    @_serialised
    def metadata(self) -> Dict[str, str]:
        """The metadata a model file carries (preprocessing, classes, training summary). Bytes
        that are not UTF-8 (the C API takes any) read as U+FFFD."""
        entries = {}
        for i in range(lib.dcnn_model_metadata_count(self.ptr)):
            key, value = ctypes.c_char_p(), ctypes.c_char_p()
            lib.dcnn_model_metadata_entry(self.ptr, i, ctypes.byref(key), ctypes.byref(value))
            entries[key.value.decode(errors="replace")] = value.value.decode(errors="replace")
        return entries

    @_serialised
    def set_metadata(self, key: "str | bytes", value: "Optional[str | bytes]") -> None:
        """Sets (or with ``None`` removes) a metadata entry. Key and value are str, or bytes
        holding UTF-8 (:attr:`metadata` gives them back as str); TypeError for other types,
        ValueError for a NUL character or bytes that are not UTF-8."""
        key = _c_text(key, "metadata key")
        value = None if value is None else _c_text(value, "metadata value")
        self._refuse_inside_own_fit("set_metadata")
        lib.dcnn_model_set_metadata(self.ptr, key, value)

    def _refuse_inside_own_fit(self, method: str) -> None:
        """RuntimeError inside a fit of this model on this thread (a progress callback, or a SIGINT
        handler run between steps): the C trainer's model must not be changed or trained by
        another call meanwhile (progress.h); reading it (predict, evaluate) is allowed."""
        if self._users.get(threading.get_ident()):
            raise RuntimeError(f"{'' if method == 'Session' else 'Model.'}{method} inside a fit of this model on this thread (a progress callback or "
                               "a SIGINT handler): call it after the fit returns")

    @_serialised
    def pipeline(self, augment: bool = False) -> Pipeline:
        """The preprocessing this model takes: the "preprocessing" its training recorded (if
        any), at the model's input size, grayscale exactly when it takes 1 channel (and gray
        datasets widened to three equal channels when it takes 3); with
        ``augment`` also the paper's augmentation (rotation, translation, zoom). This is what
        :meth:`fit`, :meth:`evaluate` and :meth:`batch` use when given no pipeline. A model that
        does not take (1 or 3, H, W) images has none: ValueError (C
        ``dcnn_pipeline_configure_for_model``)."""
        pipeline = Pipeline(paper=True) if augment else Pipeline()
        lib.dcnn_pipeline_configure_for_model(pipeline.ptr, self.ptr)  # C's one rule for it
        return pipeline

    # ---- use ----
    @_serialised
    def predict(self, x) -> "numpy.ndarray":  # noqa: F821
        """Class probabilities for raw images, or outputs for a preprocessed batch.

        Raw images are uint8 pixels of any size: one (H, W) or (H, W, C) array (C 1, 3, or 4 with
        alpha ignored), an (N, H, W, C) array, or a list of such arrays (sizes may differ). Each
        goes through the model's recorded preprocessing (as C ``dcnn_model_predict_image``); the
        result is (K,) for one image, (N, K) otherwise.

        Anything else is an (N, C, H, W) float batch, already preprocessed (shared with C, not
        copied, when contiguous float32); the result is the (N, K) outputs. NaN or infinite
        inputs raise ValueError naming the first one; what does not hold numbers (None, text)
        raises TypeError."""
        numpy = _numpy()
        raw = _raw_images(x)
        if raw is not None:
            images, single = raw
            classes = int(numpy.prod(self.output_shape))
            probs = numpy.zeros((len(images), classes), dtype=numpy.float32)
            for i, image in enumerate(images):
                h, w, c = image.shape
                lib.dcnn_model_predict_image(self.ptr, image.ctypes.data, _checks.count(h, "height"),
                                             _checks.count(w, "width"), c, 0, probs[i].ctypes.data, classes)
            return probs[0] if single else probs
        if not isinstance(x, Tensor):
            empty = _empty_batch(x, self.input_shape, "x")
            if empty:
                return numpy.zeros((0,) + tuple(self.output_shape), dtype=numpy.float32)
        inputs = _batch(x)
        _checks.finite(inputs.array, "x")  # as Session.predict: ValueError here (the C library says DCNN_ERR_NUMERIC)
        out = Tensor.zeros((inputs.shape[0],) + tuple(self.output_shape))
        with borrowed(inputs):  # a caller's Tensor: its close() on another thread waits
            lib.dcnn_model_predict(self.ptr, inputs.ptr, out.ptr)
        result = out.array
        inputs_keepalive = inputs  # noqa: F841  (the C call is done; keeps the order obvious)
        return numpy.asarray(result)

    @_serialised
    def fit(self, train: Dataset, validation: Optional[Dataset] = None, pipeline: Optional[Pipeline] = None,
            epochs: int = 10, batch_size: int = 32, learning_rate: float = 1e-3, seed: int = 1, augment: bool = True,
            progress: int = 1, checkpoint_dir: "Optional[os.PathLike[str] | str | bytes]" = None,
            adversarial: Optional[Dict[str, float]] = None, **options: float) -> History:
        """Trains with Adam through the library's training loop and returns its :class:`History`
        (also in ``self.history``): ``.history`` a dict of lists (``loss``, ``accuracy``,
        ``val_loss``, ...) as Keras's, ``.epochs`` the per-epoch records, ``.best_epoch``.
        An unknown keyword raises TypeError naming it and listing the valid ones; a bad value
        ValueError (or TypeError) naming the argument.

        ``progress``: 0 silent, 1 a live bar (a line rewritten in place on a terminal, an output
        updated in place in a notebook; one line per epoch when ``sys.stderr`` is a file), 2 one
        line per epoch. Ctrl-C stops training after the current step and raises
        ``KeyboardInterrupt``; the model then holds the weights of that step and
        ``self.history`` the completed epochs. (On the main thread. A program's own SIGINT
        handler, asyncio's among them, is called between steps instead: an exception it raises
        cancels the fit after the current step and is raised after it; if it returns, the fit
        goes on. An ignored SIGINT stays ignored.) A fit that raises before completing an epoch leaves
        ``self.history`` (and ``best_epoch``) as they were.

        ``adversarial`` turns on adversarial training, e.g.
        ``{"kind": "fgsm", "epsilon": 0.03, "ratio": 0.5}`` (other keys as for
        :func:`digitcnn.robustness.attack_settings`). Other keyword options are
        the trainer's (``patience``, ``monitor_loss``, ``keep_best``, ``max_steps``).
        Without ``pipeline``: :meth:`pipeline` with the paper's augmentation.

        ``checkpoint_dir`` (str, bytes or path-like; not empty): where the trainer keeps
        ``best.dcnn`` and ``last.dcnn``; None keeps no checkpoints."""
        _checks.keywords("fit", options, _fit_keywords())
        _data_arguments("fit", train, validation, pipeline, "train")
        checkpoint_dir = _checkpoint_dir(checkpoint_dir)
        epochs, batch_size = _checks.count(epochs, "epochs"), _checks.count(batch_size, "batch_size")
        learning_rate = _checks.positive(learning_rate, "learning_rate")
        options = _fit_options(options)
        pipeline = pipeline or self.pipeline(augment=True)
        seed = _checks.seed(seed)
        settings = dict(epochs=epochs, batch_size=batch_size, augment=_checks.flag(augment, "augment"))
        settings.update(options)
        # before the optimizer exists (it leaked when dict() failed here), named
        if adversarial is not None and not isinstance(adversarial, collections.abc.Mapping):
            raise TypeError(f"adversarial must be a dict of attack settings such as {{'kind': 'fgsm', 'epsilon': 0.03, "
                            f"'ratio': 0.5}}, or None; got {type(adversarial).__name__}")
        self._refuse_inside_own_fit("fit")
        described = dict(epochs=epochs, batch_size=batch_size, learning_rate=learning_rate, seed=seed,
                         augment=bool(augment), **options)
        if adversarial:
            described["adversarial"] = dict(adversarial)
        adam = _lib.out_handle()
        lib.dcnn_optimizer_create_adam(None, learning_rate, 0.9, 0.999, 1e-7, 0.0, ctypes.byref(adam))
        return self._train(train, validation, pipeline, adam, None, None, settings, seed, progress, checkpoint_dir,
                           adversarial, described)

    @_serialised
    def fit_recipe(self, name: str, train: Dataset, validation: Optional[Dataset] = None,
                   pipeline: Optional[Pipeline] = None, extra: Optional[str] = "", seed: int = 1, progress: int = 1,
                   checkpoint_dir: "Optional[os.PathLike[str] | str | bytes]" = None, **options: float) -> History:
        """Trains as ``digitcnn-paper --recipe NAME --set EXTRA`` does (docs/recipes.md): the
        recipe's optimizer and learning-rate schedule, epochs, batch size, augmentation, label
        smoothing, mixup, cutmix and weight average, with ``extra`` words
        (``"ema=0 epochs=3"``) on top. Build the model with :meth:`from_recipe` (same name and
        extra). Without ``pipeline``: :func:`digitcnn.recipe_pipeline` (standardisation measured on
        ``train``). The fit records its preprocessing in the model, so :meth:`evaluate` and
        :meth:`predict` use it; evaluate with ``tta=recipe(name)["tta"]`` and
        ``tta_pixels=recipe(name)["tta_pixels"]`` as the example does.
        Keyword options are the trainer's as for :meth:`fit` (``patience``, ``keep_best``,
        ``max_steps``, ...) and override the recipe; returns the :class:`History`."""
        from .recipes import _extra, _recipe_text, recipe, recipe_pipeline
        self._refuse_inside_own_fit("fit_recipe")  # before recipe_pipeline measures the training set
        # epochs only through extra ("epochs=N"): the recipe's schedule spans them
        _checks.keywords("fit_recipe", options, [n for n in TRAIN_OPTIONS if n != "epochs"])
        _data_arguments("fit_recipe", train, validation, pipeline, "train")
        checkpoint_dir = _checkpoint_dir(checkpoint_dir)
        extra = _extra(extra)
        text = _recipe_text(name, extra)
        lib.dcnn_recipe_check(_checks.text(text, "recipe"))
        options = _fit_options(options)
        seed = _checks.seed(seed)
        pipeline = pipeline or recipe_pipeline(name, train, extra)
        described = dict(recipe=name, extra=extra, seed=seed, **recipe(name, extra))
        described.update(options)
        optimizer, schedule = _lib.out_handle(), _lib.out_handle()
        lib.dcnn_recipe_create_optimizer(None, _checks.text(text, "recipe"), ctypes.byref(optimizer))
        try:
            lib.dcnn_recipe_create_schedule(_checks.text(text, "recipe"), ctypes.byref(schedule))
        except BaseException:
            lib.dcnn_optimizer_destroy(optimizer)
            raise
        return self._train(train, validation, pipeline, optimizer, schedule, text, options, seed, progress,
                           checkpoint_dir, None, described)

    @_serialised
    def _train(self, train, validation, pipeline, optimizer, schedule, recipe_text, settings, seed, progress,
               checkpoint_dir, adversarial, described) -> History:
        """Runs the library's fit with ``optimizer`` and ``schedule`` (both taken: destroyed
        here), the recipe's trainer options (if any), then ``settings`` by name."""
        trainer = _lib.out_handle()
        try:
            lib.dcnn_trainer_create(_progress.log_context(), self.ptr, optimizer, ctypes.byref(trainer))
            lib.dcnn_trainer_set_seed(trainer, seed)
            if recipe_text is not None:
                lib.dcnn_recipe_configure_trainer(_checks.text(recipe_text, "recipe"), trainer)
            if schedule:
                lib.dcnn_trainer_set_schedule(trainer, schedule)
            for name, value in settings.items():
                lib.dcnn_trainer_set(trainer, TRAIN_OPTIONS[name], float(value))
            if checkpoint_dir is not None:  # bytes from _checkpoint_dir
                lib.dcnn_trainer_set_checkpoint_dir(trainer, checkpoint_dir)
            if adversarial:
                settings = dict(adversarial)
                ratio = _checks.number(settings.pop("ratio", 0.5), "adversarial ratio")
                chosen = attack_settings(**settings)
                lib.dcnn_trainer_set_adversarial(trainer, ctypes.byref(chosen), ratio)
            finished = False
            try:
                # their close() on another thread waits; on this thread (a SIGINT handler or a callback
                # run between steps) it raises RuntimeError, which cancels the fit: the model's too
                with borrowed(self, train, validation, pipeline):
                    _progress.run_fit(trainer, lambda: lib.dcnn_trainer_fit(
                        trainer, train.ptr, validation.ptr if validation else None, pipeline.ptr), progress)
                finished = True
            finally:  # also after Ctrl-C or an error: the epochs that completed, if any
                records = []
                for i in range(lib.dcnn_trainer_epochs_done(trainer)):
                    stats = _lib.EpochStats()
                    lib.dcnn_trainer_history(trainer, i, ctypes.byref(stats))
                    records.append({name: getattr(stats, name) for name in _lib.EpochStats.field_names()})
                if finished or records:  # a fit that failed before its first epoch keeps the last history
                    self.best_epoch = lib.dcnn_trainer_best_epoch(trainer)
                    self.history = History(records, self.best_epoch, described)
        finally:
            if trainer:
                lib.dcnn_trainer_destroy(trainer)
            if schedule:
                lib.dcnn_schedule_destroy(schedule)
            lib.dcnn_optimizer_destroy(optimizer)
        return self.history

    @_serialised
    def evaluate(self, data: Dataset, pipeline: Optional[Pipeline] = None, batch_size: int = 256,
                 return_metrics: bool = False, tta: int = 1, tta_pixels: int = 1):
        """Metrics on ``data`` (no augmentation) as a dict: accuracy, precision,
        recall, specificity, f1, g_measure, roc_auc, log_loss (macro averages)
        and loss. With ``return_metrics`` also the :class:`Metrics` object. Without
        ``pipeline``: the model's own preprocessing (:meth:`pipeline`). ``tta`` 5 or 9:
        test-time augmentation, each sample's outputs averaged over that many copies
        shifted by ``tta_pixels`` (C ``dcnn_evaluate_tta``). A model that ends in raw scores is
        evaluated on their softmax."""
        _data_arguments("evaluate", data, None, pipeline)
        pipeline = pipeline or self.pipeline()
        batch_size = _checks.count(batch_size, "batch_size")
        tta, tta_pixels = _checks.count(tta, "tta"), _checks.count(tta_pixels, "tta_pixels")
        metrics = Metrics(self.output_classes)
        loss = ctypes.c_double()
        with borrowed(data, pipeline):
            if tta > 1:
                lib.dcnn_evaluate_tta(self.ptr, data.ptr, pipeline.ptr, batch_size, tta, tta_pixels, metrics.ptr,
                                      ctypes.byref(loss))
            else:
                lib.dcnn_evaluate(self.ptr, data.ptr, pipeline.ptr, batch_size, metrics.ptr, ctypes.byref(loss))
        result = metrics.to_dict()
        result["loss"] = loss.value
        return (result, metrics) if return_metrics else result

    @_serialised
    def batch(self, data: Dataset, indices: "numpy.typing.ArrayLike", pipeline: Optional[Pipeline] = None):
        """Preprocessed (N, C, H, W) inputs for samples ``indices`` (a 1-D array or sequence of
        whole numbers) of ``data`` (no augmentation); without ``pipeline``, the model's own
        preprocessing (:meth:`pipeline`)."""
        indices = _checks.indices(indices, "indices")
        if not isinstance(data, Dataset) or not (pipeline is None or isinstance(pipeline, Pipeline)):
            raise TypeError("batch takes a Dataset and a Pipeline (or None)")
        if not len(indices):  # no samples: an empty batch (the C call takes at least one)
            with borrowed(data, pipeline):  # "... is closed", as with samples
                return _numpy().zeros((0,) + tuple(self.input_shape), dtype=_numpy().float32)
        pipeline = pipeline or self.pipeline()
        out = Tensor.zeros((len(indices),) + tuple(self.input_shape))
        with borrowed(data, pipeline):
            lib.dcnn_pipeline_batch(pipeline.ptr, data.ptr, indices.ctypes.data, len(indices), 0, 0, 0, out.ptr, None)
        return out.array


ENSEMBLE_MAX_MEMBERS = 16  # C DCNN_ENSEMBLE_MAX_MEMBERS


def evaluate_ensemble(models: "List[Model]", data: Dataset, pipelines: "Optional[List[Optional[Pipeline]]]" = None,
                      weights: "Optional[List[float]]" = None, batch_size: int = 256, return_metrics: bool = False):
    """Metrics (as :meth:`Model.evaluate`) of an ensemble: each sample's class
    probabilities are the weighted mean of the ``models``' (each must end in a
    softmax), member ``m`` seeing the sample through ``pipelines[m]``, or through its
    own preprocessing (:meth:`Model.pipeline`) when that is None or ``pipelines`` is
    omitted. ``weights``: one finite value >= 0 per model with a positive sum (equal
    when omitted). C ``dcnn_evaluate_ensemble``."""
    _data_arguments("evaluate_ensemble", data, None, None)
    models = list(models)
    if not 1 <= len(models) <= ENSEMBLE_MAX_MEMBERS:
        raise ValueError(f"evaluate_ensemble: {len(models)} models (1..{ENSEMBLE_MAX_MEMBERS})")
    for m, model in enumerate(models):
        if not isinstance(model, Model):
            raise TypeError(f"evaluate_ensemble: models[{m}] is a {type(model).__name__}, not a Model")
    chosen = list(pipelines) if pipelines is not None else [None] * len(models)
    if len(chosen) != len(models):
        raise ValueError(f"evaluate_ensemble: {len(chosen)} pipelines for {len(models)} models")
    chosen = [p if p is not None else model.pipeline() for p, model in zip(chosen, models)]
    for m, pipeline in enumerate(chosen):
        if not isinstance(pipeline, Pipeline):
            raise TypeError(f"evaluate_ensemble: pipelines[{m}] is a {type(pipeline).__name__}, not a Pipeline")
    weight_array = None
    if weights is not None:
        weights = [_checks.number(w, f"evaluate_ensemble: weights[{i}]") for i, w in enumerate(weights)]
        if len(weights) != len(models):
            raise ValueError(f"evaluate_ensemble: {len(weights)} weights for {len(models)} models")
        weight_array = (ctypes.c_float * len(weights))(*weights)
    metrics = Metrics(models[0].output_classes)  # the library checks that every member agrees
    loss = ctypes.c_double()
    with contextlib.ExitStack() as locks:  # every member's lock, in one order (no deadlock between two calls)
        for model in sorted({id(model): model for model in models}.values(), key=id):
            locks.enter_context(_model_call(model))
        locks.enter_context(borrowed(data, *chosen))
        model_ptrs = (ctypes.c_void_p * len(models))(*[model.ptr for model in models])
        pipeline_ptrs = (ctypes.c_void_p * len(models))(*[pipeline.ptr for pipeline in chosen])
        lib.dcnn_evaluate_ensemble(model_ptrs, pipeline_ptrs, weight_array, len(models), data.ptr,
                                   _checks.count(batch_size, "batch_size"), metrics.ptr, ctypes.byref(loss))
    result = metrics.to_dict()
    result["loss"] = loss.value
    return (result, metrics) if return_metrics else result


PROFILE_PASSES = ("forward", "backward", "inference", "loss", "optimizer", "data", "allreduce")  # C dcnn_profile_pass


def _free_session(model: Model, ptr) -> None:
    """A session's finalizer (its close(), or its collection on any thread): frees the C session
    unless its model's close() already has; never after the model (session.h). Only the model's
    session lock, never its call lock: a session dropped while the model predicts or evaluates on
    another thread does not wait for that call, and Session.close (which holds the session's lock)
    cannot deadlock with Model.close (which holds the model's, then waits for the session's)."""
    with model._session_lock:
        if model._session_ptrs.pop(ptr.value, None) is not None:
            lib.dcnn_session_destroy(ptr)


def _free_profile(model: Model, ptr) -> None:
    """A profile's finalizer (its close(), or its collection on any thread): detaches it from its
    model (if attached there) before freeing it, at once when the model's call lock is free, else
    when the call holding it ends (:func:`_serialised`). Never waits for that lock: a
    collection may run this inside a session's finalizer, which holds the model's session lock
    while Model.close or Session() hold the call lock and wait for the session lock."""
    model._orphans.append(ptr)
    _free_orphans_if_idle(model)


class Profile(Handle):
    """Per-layer timings of one model (C ``dcnn_profile``); made by :meth:`Model.profile`.
    It keeps its model alive and reads the model's layers, so closing the model closes it;
    closing it (or its collection) detaches it from the model first."""

    _copy_hint = "entries() and format() give its rows as plain data"

    def __init__(self, model: Model):
        self.model = model
        out = _lib.out_handle()
        with model._lock:
            lib.dcnn_profile_create(model.ptr, ctypes.byref(out))
            self._own(out, functools.partial(_free_profile, model))
            model._profiles.add(self)

    def _handle(self):
        """``ptr``, once the model is known open too (ValueError otherwise). Call it holding the
        model's lock: the model writes the profile during its calls."""
        ptr = self.ptr
        self.model.ptr  # noqa: B018  (closing the model closes its profiles: a second guard)
        return ptr

    def entries(self, recorded_only: bool = True) -> List[Dict[str, object]]:
        """One dict per layer and pass (then the loss, optimizer, data and allreduce phases): ``layer``
        (-1 for phases), ``type``, ``pass``, ``calls``, ``seconds``, ``flops`` (estimated),
        ``weight_seconds`` (backward of conv2d, dense and residual blocks: the weight-gradient
        part of ``seconds``; None elsewhere); by default only those with calls."""
        rows = []
        entry = _lib.ProfileEntry()
        with _model_call(self.model):
            ptr = self._handle()
            for i in range(lib.dcnn_profile_count(ptr)):
                lib.dcnn_profile_entry_get(ptr, i, ctypes.byref(entry))
                if recorded_only and entry.calls == 0:
                    continue
                rows.append({"layer": entry.layer, "type": entry.type_name.decode(),
                             "pass": PROFILE_PASSES[entry.pass_], "calls": entry.calls, "seconds": entry.seconds,
                             "flops": entry.flops,
                             "weight_seconds": entry.weight_seconds if entry.weight_seconds >= 0 else None})
        return rows

    def _describe(self) -> str:  # Handle.__repr__
        if not self.model._lock.acquire(blocking=False):  # as Model's: a repr does not wait for a fit
            return "its model is in use by another thread"
        try:
            return f"{lib.dcnn_profile_count(self._handle())} entries, {len(self.entries())} recorded"
        finally:
            self.model._lock.release()

    def reset(self) -> None:
        """Zeroes every entry."""
        with _model_call(self.model):
            lib.dcnn_profile_reset(self._handle())

    def format(self, gemm_gflops: float = 0.0) -> str:
        """The table: ms per call, GFLOPS and, given the GEMM ceiling, its percentage."""
        text = ctypes.c_void_p()
        with _model_call(self.model):
            lib.dcnn_profile_format(self._handle(), _checks.number(gemm_gflops, "gemm_gflops"), ctypes.byref(text))
        return _lib.take_string(text)


def gemm_gflops(n: int = 2048, threads: int = 0) -> float:
    """The library GEMM's rate on n x n matrices (the ceiling profiles compare with);
    ``threads`` 0: the default context's. Takes seconds for n = 2048."""
    out = ctypes.c_double()
    lib.dcnn_gemm_gflops(None, _checks.count(n, "n"), _checks.count(threads, "threads", 0), ctypes.byref(out))
    return out.value


class Session(Handle):
    """An inference session on a model (C ``session.h``): give each thread its own session
    and share one model read-only. While sessions exist the model cannot be trained; close
    them first. The session keeps its model alive; closing the model closes its sessions
    first (the C library frees sessions before their model). ``threads``: 1 (each caller
    thread is a worker), or 0 for the model context's count, with which results equal
    ``Model.predict`` bit for bit.

    Threads: sessions of one model predict in parallel (they do not take the model's lock);
    one session takes one call at a time (calls on it from several threads wait for each
    other), and its close waits for a running prediction."""

    _copy_hint = "make another Session(model, max_batch) (one per thread)"

    def __init__(self, model: Model, max_batch: int, threads: int = 1):
        _checks.instance(model, Model, "Session: model")
        max_batch = _checks.count(max_batch, "max_batch")
        threads = _checks.count(threads, "threads", low=0)
        model._refuse_inside_own_fit("Session")  # the fit would fail at its next step, a session using its model
        self._lock = threading.Lock()  # one call at a time on the C session; close waits for it
        out = _lib.out_handle()
        with model._lock:  # not while the model is in a call (a fit), nor while it is being closed
            lib.dcnn_session_create(model.ptr, max_batch, threads, ctypes.byref(out))
            with model._session_lock:
                model._session_ptrs[out.value] = out
            self._own(out, functools.partial(_free_session, model))
            self.model = model
            self.max_batch = max_batch
            self.threads = threads
            self._output_shape = tuple(lib.dcnn_model_output_shape(model.ptr).to_tuple())  # fixed while it exists
            self._input_shape = tuple(lib.dcnn_model_input_shape(model.ptr).to_tuple())
            model._sessions.add(self)

    def close(self) -> None:
        """Frees the session now (after a prediction running in another thread). Safe to call twice."""
        with self._lock:
            super().close()

    def _describe(self) -> str:  # Handle.__repr__
        return f"max_batch {self.max_batch}, threads {self.threads}"

    def predict(self, x: "numpy.typing.ArrayLike") -> "numpy.ndarray":  # noqa: F821
        """Outputs for an (N, C, H, W) float32 batch with N <= ``max_batch``; other sessions of
        the same model may predict at the same time from other threads. NaN or infinite
        inputs raise ValueError naming the first one, what does not hold numbers TypeError (as
        :meth:`Model.predict`)."""
        numpy = _numpy()
        if _holds_uint8(x):  # values 0..255 would pass as samples
            shape = f" of shape {numpy.asarray(x).shape}" if not isinstance(x, (list, tuple)) else ""
            raise ValueError(f"x holds uint8 pixels ({type(x).__name__}{shape}): a session takes preprocessed float "
                             f"(N, C, H, W) batches; raw images go to Model.predict (or Model.batch)")
        if not isinstance(x, Tensor) and _empty_batch(x, self._input_shape, "x"):
            self.ptr  # noqa: B018  ("Session is closed")
            return numpy.zeros((0,) + self._output_shape, dtype=numpy.float32)
        inputs = _batch(x)
        _checks.finite(inputs.array, "x")
        with self._lock:
            ptr = self.ptr  # "Session is closed" (also once its model was closed)
            out = Tensor.zeros((inputs.shape[0],) + self._output_shape)
            with borrowed(inputs):  # a caller's Tensor: its close() on another thread waits
                lib.dcnn_session_predict(ptr, inputs.ptr, out.ptr)
        return numpy.asarray(out.array)


# robustness.py's annotations name Model; it cannot import this module (this module imports it), so
# typing.get_type_hints finds Model there through this.
_robustness.Model = Model
