"""Reading telemetry.jsonl: whole lines from a byte offset, a block at a time.

The one reader of the log's lines: the folds' tail, the dashboard, the run
store's liveness check and ``spanline emit`` read through it, so a line still
being written is never read half, whoever reads.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

__all__ = ["CHUNK", "blocks", "lines"]

#: Bytes read at a time (measured: larger blocks keep more lines alive at once, and are
#: slower).
CHUNK = 1 << 16


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
