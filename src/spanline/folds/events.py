"""Reading telemetry.jsonl back: every good line, and a report of every bad one."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from spanline._lines._read import blocks, parse_line

__all__ = ["SHOWN_AS", "JsonlTail", "LineProblem", "iter_events", "read_events"]

#: Directory -> the directory problems name instead: the exports read a redacted copy of a
#: run, and report its lines as the run's own.
SHOWN_AS: dict[str, str] = {}


@dataclass(frozen=True)
class LineProblem:
    """A line that was skipped: where it is and why.

    Attributes:
        file: the file's path, as given.
        line: the line's number (the first line is 1).
        error: why it was skipped.
    """

    file: str
    line: int
    error: str

    def __post_init__(self) -> None:
        for copy, original in SHOWN_AS.items():  # a redacted copy names the run's own file
            if self.file.startswith(copy):
                object.__setattr__(self, "file", original + self.file[len(copy) :])
                break

    def __str__(self) -> str:
        """``file:line: error``, the form compilers use."""
        return f"{self.file}:{self.line}: {self.error}"

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form (for JSON output).

        Returns:
            ``{file, line, error}``.
        """
        return {"file": self.file, "line": self.line, "error": self.error}


def iter_events(
    path: str | os.PathLike[str], problems: list[LineProblem]
) -> Iterator[dict[str, Any]]:
    """Yield each event of a JSONL file; append a :class:`LineProblem` per bad line.

    A line that is not a JSON object with a string ``event`` field is skipped
    and reported; so is a torn last line (no newline, still being written).

    Args:
        path: the file.
        problems: where to append the skipped lines.

    Returns:
        An iterator over the events, read lazily.
    """
    tail = JsonlTail(path)
    tail.problems = problems  # reported as they are found
    return tail.iter_new(final=True)


def read_events(path: str | os.PathLike[str]) -> tuple[list[dict[str, Any]], list[LineProblem]]:
    """All events of a JSONL file, and the problems of the lines that were skipped.

    Args:
        path: the file.

    Returns:
        The events and the skipped lines.
    """
    problems: list[LineProblem] = []
    events = list(iter_events(path, problems))
    return events, problems


class JsonlTail:
    """Reads a JSONL file that is still being written, a batch of new lines at a time.

    Each :meth:`read` returns the events of every *complete* line added since
    the previous call; a last line without its newline stays unread until it
    is completed, so a line is never read half-written. Bad lines are skipped
    and collected in :attr:`problems` exactly as :func:`iter_events` reports
    them. One thread should own a tail (a background thread, say).

    Attributes:
        path: the file, as given.
        offset: bytes consumed so far (just past the last line read).
        lines: lines consumed so far.
        problems: every line skipped so far.
        nonfinite: the number of each line kept with a ``NaN`` or an infinity read
            as null (see :func:`spanline._lines._read.parse_line`).
        batch_lines: the line number of each event of the last batch read (for a
            fold to name the line of an event it cannot use).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        """Tail ``path`` from its beginning.

        Args:
            path: the file (it need not exist yet: reads return nothing until it does).
        """
        self.path = path
        self.offset = 0
        self.lines = 0
        self.problems: list[LineProblem] = []
        self.nonfinite: list[int] = []
        self.batch_lines: Sequence[int] = ()

    def read(self, *, final: bool = False) -> list[dict[str, Any]]:
        """Events of the complete lines added since the last call.

        Args:
            final: the writer is done: also consume a last line without a newline
                (reported as a torn last line unless it is a whole event).

        Returns:
            The new events, in file order.
        """
        return list(self.iter_new(final=final))

    def iter_new(self, *, final: bool = False) -> Iterator[dict[str, Any]]:
        """Like :meth:`read`, but streamed: memory stays small on a large backlog.

        Args:
            final: see :meth:`read`.

        Returns:
            An iterator over the new events; :attr:`offset` advances as it is consumed.
        """
        for batch in self.batches(final=final):
            yield from batch

    def batches(self, *, final: bool = False) -> Iterator[list[dict[str, Any]]]:
        """The new events in lists of a few hundred lines each (the fastest way to fold).

        Args:
            final: see :meth:`read`.

        Returns:
            An iterator over lists of events; :attr:`offset` advances after each list.
        """
        for data, cut, _ in blocks(self.path, self.offset, final=final):
            if cut == 0:  # the last line, without its newline, once the writer is done
                self.lines += 1
                self.offset += len(data)
                event = self._decode(data, str(self.path), " (torn last line)")
                if event is not None:
                    self.batch_lines = (self.lines,)
                    yield [event]
                continue
            batch = self._block(data, cut)
            if batch:
                yield batch

    def _block(self, data: bytes, cut: int) -> list[dict[str, Any]]:
        """The events of ``data[:cut]`` (whole lines); advances the position past them.

        The lines are decoded as one JSON array, which saves most of the cost of a
        call per line. A block with any bad line, or a line holding more than one
        value (``{...}, {...}``: the array would have more items than lines), is
        decoded again line by line, so every problem is reported with its line.
        """
        # Each newline becomes ",\n": the lines are then the items of an array, and the
        # growth is the number of lines (bytes.count of one byte is four times slower).
        body = data.replace(b"\n", b",\n")
        count = len(body) - len(data)  # every newline is before ``cut``
        first = self.lines
        self.lines = first + count
        self.offset += cut
        events: list[dict[str, Any]] | None
        try:
            # Without the last ",\n"; one join, no slice copies.
            events = orjson.loads(b"".join((b"[", memoryview(body)[: cut + count - 2], b"]")))
        except orjson.JSONDecodeError:
            events = None
        if events is not None and len(events) == count:
            # Only JSON objects take a string subscript (a list, a number or a string
            # raises TypeError), so one subscript checks both what it is and its tag.
            try:
                for event in events:
                    if event["event"].__class__ is not str:
                        break
                else:
                    self.batch_lines = range(first + 1, first + 1 + count)  # one a line
                    return events
            except (KeyError, TypeError):
                pass
        return self._lines(data[:cut], first)

    def _lines(self, data: bytes, first: int) -> list[dict[str, Any]]:
        """Decode line by line, reporting each bad one with its number."""
        name, error = str(self.path), orjson.JSONDecodeError
        events = []
        numbers: list[int] = []
        self.batch_lines = numbers
        for index, raw in enumerate(data.split(b"\n")[:-1], start=first + 1):
            try:
                event, nonfinite = parse_line(raw)
            except error as exc:
                if raw.strip():  # blank lines are not events, nor problems
                    self.problems.append(LineProblem(name, index, f"invalid JSON: {exc}"))
                continue
            if nonfinite:
                self.nonfinite.append(index)
            if event.__class__ is dict and event.get("event").__class__ is str:
                events.append(event)
                numbers.append(index)
            else:
                self.problems.append(LineProblem(name, index, "not an event object"))
        return events

    def _decode(self, raw: bytes, name: str, torn: str) -> dict[str, Any] | None:
        try:
            event, nonfinite = parse_line(raw)
        except orjson.JSONDecodeError as exc:
            if raw.strip():  # blank lines are not events, nor problems
                self.problems.append(LineProblem(name, self.lines, f"invalid JSON{torn}: {exc}"))
            return None
        if nonfinite:
            self.nonfinite.append(self.lines)
        if event.__class__ is not dict or event.get("event").__class__ is not str:
            self.problems.append(LineProblem(name, self.lines, "not an event object"))
            return None
        return event
