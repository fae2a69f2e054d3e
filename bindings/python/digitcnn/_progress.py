"""Routing the C library's progress output to ``sys.stderr`` when that is not file descriptor 2.

In a terminal or a script the trainer writes straight to the process's standard error. In a
notebook, ``sys.stderr`` is the kernel's stream object and file descriptor 2 goes to the server's
log, so the output would vanish; there a pipe carries it, and a thread copies it to ``sys.stderr``
while the C call runs (ctypes releases the GIL during the call).
"""
from __future__ import annotations

import codecs
import contextlib
import ctypes
import os
import sys
import threading
from typing import Iterator, Optional

_IONBF = 2  # setvbuf: unbuffered, so each line shows when the library writes it


def _writes_to_fd2(stream) -> bool:
    try:
        return stream.fileno() == 2
    except (AttributeError, OSError, ValueError):
        return False


@contextlib.contextmanager
def progress_stream() -> Iterator[Optional[int]]:
    """Yields a ``FILE *`` (as an int) for the library's progress output, or ``None`` to keep its
    default (standard error) when ``sys.stderr`` is file descriptor 2 already."""
    target = sys.stderr
    if target is None or _writes_to_fd2(target):
        yield None
        return
    libc = ctypes.CDLL(None)
    libc.fdopen.restype, libc.fdopen.argtypes = ctypes.c_void_p, [ctypes.c_int, ctypes.c_char_p]
    libc.setvbuf.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_size_t]
    libc.fclose.argtypes = [ctypes.c_void_p]
    read_end, write_end = os.pipe()
    stream = libc.fdopen(write_end, b"w")
    if not stream:
        os.close(read_end)
        os.close(write_end)
        yield None
        return
    libc.setvbuf(stream, None, _IONBF, 0)

    def copy() -> None:
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        while True:
            chunk = os.read(read_end, 4096)
            text = decoder.decode(chunk, final=not chunk)
            if text:
                target.write(text)
                target.flush()
            if not chunk:
                return

    copier = threading.Thread(target=copy, name="digitcnn-progress", daemon=True)
    copier.start()
    try:
        yield stream
    finally:
        libc.fclose(stream)  # closes write_end: the copier sees end of file
        copier.join()
        os.close(read_end)
