"""Console exporter: one line per finished span, indented by depth."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

__all__ = ["ConsoleExporter"]

_MAX_OPEN = 100_000


class ConsoleExporter:
    """Prints ``✓ name  12.3 ms  tokens=… tool_uses=…`` when a span ends.

    Args:
        stream: where to print (default: standard error, resolved at print time).
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        # span_id -> (name, depth) of spans still open; removed when they end.
        # Bounded: spans whose end never comes (a crash, a dropped event) must
        # not make it grow forever.
        self._open: dict[str, tuple[str, int]] = {}

    def export(self, batch: Sequence[Mapping[str, Any]]) -> None:
        """Print one line per span_end and phase event in the batch."""
        lines = []
        for event in batch:
            kind = event.get("event")
            if kind == "span_start":
                parent = self._open.get(event.get("parent") or "")
                depth = parent[1] + 1 if parent else 0
                if len(self._open) >= _MAX_OPEN:
                    self._open.pop(next(iter(self._open)))  # the oldest
                self._open[event["span_id"]] = (event["name"], depth)
            elif kind == "span_end":
                name, depth = self._open.pop(event["span_id"], ("?", 0))
                lines.append(self._span_line(event, name, depth))
            elif kind == "phase":
                lines.append(f"── phase {event['name']}  {event['wall_ms']:.1f} ms")
        if lines:
            stream = self._stream or sys.stderr
            stream.write("\n".join(lines) + "\n")

    @staticmethod
    def _span_line(event: Mapping[str, Any], name: str, depth: int) -> str:
        mark = "✓" if event.get("status") == "ok" else "✗"
        parts = [f"{'  ' * depth}{mark} {name}", f"{event['duration_ms']:.1f} ms"]
        for key in ("tokens", "tool_uses"):
            if event.get(key):
                parts.append(f"{key}={event[key]}")
        error = event.get("error")
        if error:
            parts.append(f"{error.get('type')}: {error.get('message')}")
        return "  ".join(parts)

    def flush(self, timeout: float | None = None) -> None:
        """Flush the stream."""
        (self._stream or sys.stderr).flush()

    def shutdown(self, timeout: float | None = None) -> None:
        """Forget open spans."""
        self._open.clear()
