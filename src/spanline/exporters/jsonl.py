"""JSONL exporter: append events as whole lines to a file, safely across processes."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from spanline._encode import encode_many

__all__ = ["JsonlExporter", "append_locked"]


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


def open_append(path: Path) -> int:
    """Open (creating) ``path`` for appending; a new open file description each call."""
    return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)


class JsonlExporter:
    """Writes each event as one JSON line to ``path``.

    The run's own ``telemetry.jsonl`` is written this way by the writer thread;
    add another instance to mirror events to a second file.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd: int | None = open_append(self.path)

    def after_fork(self) -> None:
        """In a forked child: a fresh file description, since flock locks belong to it."""
        if self._fd is not None:
            os.close(self._fd)
        self._fd = open_append(self.path)

    def export(self, batch: Sequence[Mapping[str, Any]]) -> None:
        """Append the batch in a single write."""
        if self._fd is None:
            raise ValueError(f"JsonlExporter({self.path}) is shut down")
        buffer = bytearray()
        encode_many(batch, buffer.extend)
        append_locked(self._fd, buffer)

    def flush(self) -> None:
        """Nothing is buffered: every batch is written when exported."""

    def shutdown(self) -> None:
        """Close the file."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
