"""Reading telemetry.jsonl: whole lines from a byte offset, a block at a time.

The one reader of the log: the folds' tail, the dashboard (its snapshot, its
events, its offset check and its live stream), the run store (the header, the
last line, the liveness check) and ``spanline emit`` read through it, so a line
still being written is never read half, whoever reads. Only the writer's append
(:mod:`spanline._lines._fileio`) opens the log besides this module.
"""

from __future__ import annotations

import json
import math
import os
import re
import threading
from collections.abc import Iterator
from typing import Any, BinaryIO

import orjson

__all__ = [
    "CHUNK",
    "NONFINITE_HINT",
    "Follow",
    "blocks",
    "byte_before",
    "finite_line",
    "first_lines",
    "last_bytes",
    "lines",
    "parse_line",
]

#: Bytes read at a time (measured: larger blocks keep more lines alive at once, and are
#: slower).
CHUNK = 1 << 16


#: What a line holding a value JSON has no number for may show: ``NaN``, ``Infinity``,
#: or a number past the double range (a three-digit exponent, or 309 digits). Lines
#: without it are never parsed twice.
NONFINITE_HINT = re.compile(rb"NaN|Infinity|[0-9][eE]\+?[0-9]{3}|[0-9]{309}")


def parse_line(raw: bytes) -> tuple[Any, bool]:
    """One line of the log, parsed: the one reading of ``NaN`` and infinities.

    JSON has no number for them, yet other producers write them (``NaN``,
    ``Infinity``, ``-Infinity``, ``1e400``). Every reader keeps such a line, with
    each of those values read as null, and counts it (the second item).

    Args:
        raw: the line, without its newline.

    Returns:
        The parsed value, and whether a value was read as null for that reason.

    Raises:
        orjson.JSONDecodeError: not JSON, even with those values allowed.
    """
    try:
        return orjson.loads(raw), False
    except orjson.JSONDecodeError as exc:
        if NONFINITE_HINT.search(raw) is None:
            raise
        error = exc
    found = False

    def constant(_: str) -> None:
        nonlocal found
        found = True

    def number(text: str) -> float | None:
        nonlocal found
        value = float(text)
        if math.isfinite(value):
            return value
        found = True
        return None

    try:
        value = json.loads(raw, parse_constant=constant, parse_float=number)
    except (ValueError, RecursionError):
        raise error from None
    if not found:
        raise error  # another fault (a lone surrogate, deep nesting): not this rule's
    return value, True


def finite_line(line: bytes) -> tuple[bytes, bool]:
    """A line as every reader reads it, for those that pass lines on (the dashboard's
    stream, ``spanline query``): one with NaN or an infinity is re-encoded with null
    there; any other is returned as it is.

    Returns:
        The line, and whether it was re-encoded.
    """
    if NONFINITE_HINT.search(line) is None:
        return line, False
    try:
        value, nonfinite = parse_line(line)
    except orjson.JSONDecodeError:
        return line, False
    if not nonfinite:
        return line, False
    # json, not orjson: a parsed integer may pass 64 bits.
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"), True


def blocks(
    path: str | os.PathLike[str], start: int = 0, end: int | None = None, *, final: bool = False
) -> Iterator[tuple[bytes, int, int]]:
    """Blocks of whole lines of ``path``, from byte offset ``start`` (a line's start).

    Args:
        path: the file (a missing one yields nothing).
        start: where to begin.
        end: where to stop (default: the end of the file as it is read).
        final: the writer is done: a last line without its newline comes too.

    Yields:
        ``(data, cut, offset)``: the whole lines are ``data[:cut]`` (the rest of
        ``data`` is the start of a line still being written) and ``offset`` is the
        byte offset just past them. With ``final``, a last line without its
        newline comes last, as ``(line, 0, offset past it)``.
    """
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below, also when abandoned
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return
    with handle:
        handle.seek(start)
        position = start
        pending: list[bytes] = []  # a line longer than a block, piece by piece
        held = 0
        while end is None or position + held < end:
            chunk = handle.read(CHUNK if end is None else min(CHUNK, end - position - held))
            if not chunk:
                break
            if chunk.rfind(b"\n") < 0:
                pending.append(chunk)  # joined once its end arrives: never quadratic
                held += len(chunk)
                continue
            data = b"".join((*pending, chunk)) if pending else chunk
            cut = data.rfind(b"\n") + 1
            position += cut
            pending = [data[cut:]] if cut < len(data) else []
            held = len(data) - cut
            yield data, cut, position
        if final and pending:
            rest = b"".join(pending)
            yield rest, 0, position + len(rest)


def lines(
    path: str | os.PathLike[str], start: int = 0, end: int | None = None, *, final: bool = False
) -> Iterator[tuple[bytes, int]]:
    """Each non-blank whole line from ``start`` up to ``end``, with the offset just past it.

    Args:
        path: the file.
        start: a line's start.
        end: where to stop (default: the end of the file as it is read).
        final: also a last line without its newline (see :func:`blocks`).

    Yields:
        ``(line without its newline, offset past it)``; blank lines are skipped (their
        bytes still count in the offsets).
    """
    for data, cut, offset in blocks(path, start, end, final=final):
        if cut == 0:
            if data.strip():
                yield data, offset
            continue
        position, at = offset - cut, 0
        while at < cut:
            newline = data.index(b"\n", at)
            position += newline + 1 - at
            if newline > at:
                yield data[at:newline], position
            at = newline + 1


def first_lines(path: str | os.PathLike[str], count: int) -> Iterator[bytes]:
    """The first ``count`` lines of ``path`` as they are (newline included; a last
    line may be one still being written).

    Args:
        path: the file (a missing one yields nothing).
        count: how many lines at most; blank lines count too.

    Yields:
        Each line's bytes.

    Raises:
        OSError: the file exists but cannot be read.
    """
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below, also when abandoned
    except FileNotFoundError:
        return
    with handle:
        for _, line in zip(range(count), handle, strict=False):
            yield line


def last_bytes(path: str | os.PathLike[str], count: int) -> tuple[bytes, int]:
    """The last ``count`` bytes of ``path`` (fewer when it is shorter), and its size.

    Raises:
        OSError: missing or unreadable.
    """
    with open(path, "rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        handle.seek(max(0, size - count))
        return handle.read(), size


def byte_before(path: str | os.PathLike[str], offset: int) -> tuple[bytes, int]:
    """The byte just before ``offset`` (``b""`` at 0 or past the end), and the file's size.

    ``b"\\n"`` there means a line starts at ``offset``.

    Raises:
        OSError: missing or unreadable.
    """
    with open(path, "rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        if offset <= 0 or offset > size:
            return b"", size
        handle.seek(offset - 1)
        return handle.read(1), size


class Follow:
    """Follows a growing log from a line's start: its whole lines as they are completed.

    The caller decides how to wait between reads (the dashboard's live stream sleeps
    on its event loop); :meth:`read` never blocks on the writer.

    Args:
        path: the file (it may not exist yet).
        start: a line's start.
        chunk: reads end on multiples of this many bytes, so followers that fell
            behind meet at the same offsets and read the same blocks.
    """

    __slots__ = ("_chunk", "_closed", "_handle", "_lock", "_path", "_rest", "offset")

    def __init__(self, path: str | os.PathLike[str], start: int = 0, chunk: int = CHUNK) -> None:
        self._path = path
        self._chunk = chunk
        self._handle: BinaryIO | None = None
        self._rest = b""
        # A read may run on a worker thread while its caller is cancelled and closes:
        # the lock and the flag keep that read from opening a file no one will close.
        self._lock = threading.Lock()
        self._closed = False
        #: The byte offset just past the whole lines read so far.
        self.offset = start

    def read(self) -> bytes | None:
        """The next block of whole lines, which starts at :attr:`offset` as it was.

        Returns:
            None when nothing new was there (no file yet, no new bytes, or closed);
            ``b""`` when new bytes came but no line was completed yet; else whole
            lines, each with its newline, and :attr:`offset` moves past them.
        """
        with self._lock:
            if self._closed:
                return None
            return self._read()

    def _read(self) -> bytes | None:
        handle = self._handle
        if handle is None:
            try:
                handle = self._handle = open(self._path, "rb")  # noqa: SIM115 - see close()
            except FileNotFoundError:
                return None
            handle.seek(self.offset)
        chunk = handle.read(self._chunk - handle.tell() % self._chunk)
        if not chunk:
            return None
        data = self._rest + chunk if self._rest else chunk
        cut = data.rfind(b"\n") + 1
        self._rest = data[cut:]  # a partial last line waits for its newline
        self.offset += cut
        return data[:cut]

    def close(self) -> None:
        """Close the file, once a read in progress is done; later reads return None."""
        with self._lock:
            self._closed = True
            self._rest = b""
            if self._handle is not None:
                self._handle.close()
                self._handle = None
