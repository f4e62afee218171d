"""Opening files a user or a shared file names: regular files only, their size known before reading.

A FIFO would block a read forever and /dev/zero never ends: the file is opened without blocking
(O_NONBLOCK, so a FIFO with no writer does not hang the open), checked with fstat, and read only
if it is a regular file no bigger than the caller's limit.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO


class NotRegularFile(OSError):
    """The path is a FIFO, a device, a socket or a folder."""


def open_regular(path: str | Path, limit: int | None = None) -> tuple[BinaryIO, int]:
    """(binary file object, size). Raises NotRegularFile, or OSError (FileNotFoundError...).
    limit: a larger file raises OSError(EFBIG) before anything is read."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = "a folder" if stat.S_ISDIR(st.st_mode) else "a FIFO" if stat.S_ISFIFO(st.st_mode) else (
                "a device or socket")  # fmt: skip
            raise NotRegularFile(f"{path} is {kind}, not a regular file")
        if limit is not None and st.st_size > limit:
            raise NotRegularFile(
                f"{path} is {st.st_size / 2**20:,.0f} MB, more than the {limit / 2**20:,.0f} MB allowed"
            )
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb"), st.st_size
    except BaseException:
        os.close(fd)
        raise
