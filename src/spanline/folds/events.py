"""Reading telemetry.jsonl back: every good line, and a report of every bad one."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

__all__ = ["LineProblem", "iter_events", "read_events"]


@dataclass(frozen=True)
class LineProblem:
    """A line that was skipped: where it is and why."""

    file: str
    line: int
    error: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.error}"

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form (for JSON output)."""
        return {"file": self.file, "line": self.line, "error": self.error}


def iter_events(
    path: str | os.PathLike[str], problems: list[LineProblem]
) -> Iterator[dict[str, Any]]:
    """Yield each event of a JSONL file; append a :class:`LineProblem` per bad line.

    A line that is not a JSON object with a string ``event`` field is skipped
    and reported; so is a torn last line (no newline, still being written).
    """
    name = str(path)
    loads, decode_error = orjson.loads, orjson.JSONDecodeError
    with Path(path).open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                event = loads(raw)
            except decode_error as exc:
                if not raw.strip():
                    continue  # blank lines are not events, nor problems
                torn = "" if raw.endswith(b"\n") else " (torn last line)"
                problems.append(LineProblem(name, number, f"invalid JSON{torn}: {exc}"))
                continue
            if event.__class__ is not dict or event.get("event").__class__ is not str:
                problems.append(LineProblem(name, number, "not an event object"))
                continue
            yield event


def read_events(path: str | os.PathLike[str]) -> tuple[list[dict[str, Any]], list[LineProblem]]:
    """All events of a JSONL file, and the problems of the lines that were skipped."""
    problems: list[LineProblem] = []
    events = list(iter_events(path, problems))
    return events, problems
