"""Exceptions: every failed library call raises a :class:`DigitcnnError` carrying the library's
status and message; where a built-in exception says the same thing, the error is also one of
those (a missing file is a ``FileNotFoundError``, a refused argument a ``ValueError``), so that
``except FileNotFoundError`` works as for ``open()``."""
from __future__ import annotations

import errno
import os

STATUS_NAMES = {
    0: "ok", -1: "invalid argument", -2: "out of memory", -3: "I/O error", -4: "bad format",
    -5: "shape mismatch", -6: "unsupported", -7: "not found", -8: "invalid state", -9: "numeric error",
    -10: "cancelled",
}
STATUS_INVALID_ARGUMENT, STATUS_OUT_OF_MEMORY, STATUS_IO = -1, -2, -3
STATUS_BAD_FORMAT, STATUS_SHAPE_MISMATCH, STATUS_NOT_FOUND = -4, -5, -7


class DigitcnnError(RuntimeError):
    """A libdigitcnn call failed. ``status`` is the ``dcnn_status`` code, the
    message is the library's own (``dcnn_last_error()``)."""

    def __init__(self, status: int, message: str):
        super().__init__(f"{STATUS_NAMES.get(status, status)}: {message}")
        self.status = status
        self.message = message

    def __str__(self) -> str:  # OSError's own __str__ would show "[Errno 2] ..." without the message
        return f"{STATUS_NAMES.get(self.status, self.status)}: {self.message}"

    def __reduce__(self):
        # pickle and copy rebuild an exception from its args, which hold the formatted text only: a
        # worker's error (multiprocessing, concurrent.futures) could not reach its parent.
        return type(self), (self.status, self.message), self.__dict__


class _OSFlavour(DigitcnnError):
    """Shared by the OSError kinds: ``errno`` and ``filename`` as ``open()`` sets them."""

    def __init__(self, status: int, message: str, code: int = 0, filename: str = None):
        DigitcnnError.__init__(self, status, message)
        self.errno, self.strerror, self.filename = code or None, os.strerror(code) if code else message, filename

    def __reduce__(self):
        return type(self), (self.status, self.message, self.errno or 0, self.filename), self.__dict__


class DigitcnnOSError(_OSFlavour, OSError):
    """An I/O error the library reported (``DCNN_ERR_IO``)."""


class DigitcnnFileNotFoundError(_OSFlavour, FileNotFoundError):
    """A file or directory the call needs does not exist."""


class DigitcnnPermissionError(_OSFlavour, PermissionError):
    """The operating system refused access to a file."""


class DigitcnnIsADirectoryError(_OSFlavour, IsADirectoryError):
    """A directory where the call needs a file."""


class DigitcnnNotADirectoryError(DigitcnnFileNotFoundError, NotADirectoryError):
    """A file where a path needs a directory (``ENOTDIR``): a ``NotADirectoryError`` as ``open()``
    raises, and a :class:`DigitcnnFileNotFoundError` as before 0.2.0 (the path does not lead anywhere)."""


class DigitcnnValueError(DigitcnnError, ValueError):
    """The library refused an argument (``DCNN_ERR_INVALID_ARGUMENT``, ``DCNN_ERR_SHAPE_MISMATCH``,
    ``DCNN_ERR_BAD_FORMAT``: a file whose content is wrong)."""


class DigitcnnMemoryError(DigitcnnError, MemoryError):
    """The library ran out of memory."""


_OS_KINDS = ((errno.ENOENT, DigitcnnFileNotFoundError), (errno.ENOTDIR, DigitcnnNotADirectoryError),
             (errno.EACCES, DigitcnnPermissionError), (errno.EPERM, DigitcnnPermissionError),
             (errno.EISDIR, DigitcnnIsADirectoryError))


def error_for(status: int, message: str, filename: str = None) -> DigitcnnError:
    """The exception for a failed call. The library's I/O messages end in ``strerror(errno)``
    (C locale: libdigitcnn never calls setlocale), which tells a missing file from other errors.
    ``filename`` is the file the error is about (C ``dcnn_last_error_path()``; messages shorten
    long paths), None for none."""
    filename = filename or None
    if status in (STATUS_IO, STATUS_NOT_FOUND):
        for code, kind in _OS_KINDS:
            if os.strerror(code) in message:
                return kind(status, message, code, filename)
        if "is a directory" in message:
            return DigitcnnIsADirectoryError(status, message, errno.EISDIR, filename)
        if status == STATUS_IO:
            return DigitcnnOSError(status, message, 0, filename)
    if status in (STATUS_INVALID_ARGUMENT, STATUS_SHAPE_MISMATCH, STATUS_BAD_FORMAT):
        return DigitcnnValueError(status, message)
    if status == STATUS_OUT_OF_MEMORY:
        return DigitcnnMemoryError(status, message)
    return DigitcnnError(status, message)
