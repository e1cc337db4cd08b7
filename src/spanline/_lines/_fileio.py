"""File primitives shared by the writer, the run store and the CLI: locked appends
and atomic replacement. The bottom of the package: no spanline imports."""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Callable
from pathlib import Path

__all__ = [
    "PartialAppend",
    "append_locked",
    "append_locked_after",
    "open_append",
    "wait_until_begun",
    "write_atomic",
]


class PartialAppend(OSError):
    """An append that failed part-way; ``kept`` bytes of it (whole lines) remain."""

    def __init__(self, cause: OSError, kept: int) -> None:
        super().__init__(cause.errno, cause.strerror)
        self.kept = kept


def append_locked(fd: int, data: bytes | bytearray) -> None:
    """Append ``data`` to an ``O_APPEND`` file in one write, under an exclusive flock.

    ``O_APPEND`` alone makes each ``write`` land at the end; the lock also
    covers the rare short write, so lines of several processes never interleave.
    A short write is completed; if the rest fails (disk full, file size limit),
    the file is cut back to the last whole line written, so a partial line is
    never glued to the next one.

    Raises:
        PartialAppend: the write failed; ``kept`` says how many bytes (whole
            lines) of ``data`` are in the file.
    """
    if not data:
        return
    view = memoryview(data)
    done = 0
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        start = os.fstat(fd).st_size
        try:
            while done < len(view):
                done += os.write(fd, view[done:])
        except OSError as exc:
            raise PartialAppend(exc, _roll_back(fd, data, start, done)) from exc
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


def append_locked_after(fd: int, compose: Callable[[bytes], bytes]) -> bytes:
    """Read an ``O_RDWR | O_APPEND`` file and append what ``compose`` makes of it, under one lock.

    For counters kept as lines (a session's turn numbers): the number taken and the
    line that records it are one step, so two processes never take the same one.

    Returns:
        The bytes appended.
    """
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        size = os.fstat(fd).st_size
        data = compose(os.pread(fd, size, 0) if size else b"")
        view, done = memoryview(data), 0
        while done < len(view):
            done += os.write(fd, view[done:])
        return data
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


def _roll_back(fd: int, data: bytes | bytearray, start: int, done: int) -> int:
    """Cut a failed append back to its last whole line; returns the bytes kept."""
    if done == 0:
        return 0
    kept = data.rfind(b"\n", 0, done) + 1  # 0 when not even one line got through
    if kept == done:
        return kept
    try:
        os.ftruncate(fd, start + kept)
    except OSError:
        # Cannot cut (not a regular file?): end the partial line instead, so it
        # stays one bad line of its own rather than corrupting the next.
        try:
            os.write(fd, b"\n")
        except OSError:
            pass
    return kept


def open_append(path: str | os.PathLike[str]) -> int:
    """Open (creating) ``path`` for appending; a new open file description each call."""
    return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)


def wait_until_begun(fd: int, timeout: float) -> bool:
    """Wait (polling, at most ``timeout`` seconds) until the log behind ``fd`` holds a line.

    A process joining a run (a fork child, above all) writes its first line after the
    run's ``run_start``: the process that created the run writes that from its writer
    thread, which a child forked at once can otherwise overtake.

    Returns:
        True once the log is not empty; False on timeout or when it cannot be read.
    """
    import time

    deadline = time.monotonic() + timeout
    while True:
        try:
            if os.fstat(fd).st_size > 0:
                return True
        except OSError:
            return False
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.002)


def write_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace ``path`` with ``data`` at once: readers see the old file or the new one.

    The data goes to an unnamed file in the same directory (``O_TMPFILE``), which
    gets a name only once it is complete, then is renamed over the target: a
    process killed mid-write (``SIGXFSZ`` at a file size limit, say) leaves no
    stray temporary file. Where the file system lacks ``O_TMPFILE``, a named
    temporary file is used and removed on failure.
    """
    target = Path(path)
    temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        if not _write_unnamed(target, temp, data):
            temp.write_bytes(data)
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _write_unnamed(target: Path, temp: Path, data: bytes) -> bool:
    """Write ``data`` to an unnamed file, then link it as ``temp``; False if unsupported."""
    flag = getattr(os, "O_TMPFILE", 0)
    if not flag:
        return False
    try:
        fd = os.open(target.parent, flag | os.O_WRONLY | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        if exc.errno in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOENT):
            return False  # the file system (or /proc) cannot: use a named temp file
        raise
    directory = os.open(target.parent, os.O_RDONLY | os.O_CLOEXEC)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        temp.unlink(missing_ok=True)
        # A directory fd makes os.link use linkat(AT_SYMLINK_FOLLOW), which names
        # the open file itself rather than the /proc symlink to it.
        os.link(f"/proc/self/fd/{fd}", temp.name, dst_dir_fd=directory, follow_symlinks=True)
    except FileNotFoundError:
        return False  # no /proc: nothing was named, retry the plain way
    finally:
        os.close(fd)
        os.close(directory)
    return True
