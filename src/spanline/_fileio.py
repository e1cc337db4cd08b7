"""File primitives shared by the writer, the run store and the CLI: locked appends
and atomic replacement. The bottom of the package: no spanline imports."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

__all__ = ["append_locked", "open_append", "write_atomic"]


def append_locked(fd: int, data: bytes | bytearray) -> None:
    """Append ``data`` to an ``O_APPEND`` file in one write, under an exclusive flock.

    ``O_APPEND`` alone makes each ``write`` land at the end; the lock also
    covers the rare short write, so lines of several processes never interleave.
    """
    if not data:
        return
    view = memoryview(data)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        while view:
            written = os.write(fd, view)
            view = view[written:]
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


def open_append(path: str | os.PathLike[str]) -> int:
    """Open (creating) ``path`` for appending; a new open file description each call."""
    return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)


def write_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace ``path`` with ``data`` at once: readers see the old file or the new one.

    Writes a temporary file beside it, then renames it over the target.
    """
    target = Path(path)
    temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        temp.write_bytes(data)
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
