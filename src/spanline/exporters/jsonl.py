"""JSONL exporter: append events as whole lines to a file, safely across processes."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from spanline._lines._encode import encode_many
from spanline._lines._fileio import append_locked, open_append

__all__ = ["JsonlExporter"]


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

    def flush(self, timeout: float | None = None) -> None:
        """Nothing is buffered: every batch is written when exported."""

    def shutdown(self, timeout: float | None = None) -> None:
        """Close the file."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
