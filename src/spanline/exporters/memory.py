"""In-memory exporter: keeps every event, for tests and notebooks."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["InMemoryExporter"]


class InMemoryExporter:
    """Collects events in a list; :meth:`spans` merges start and end lines."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: list[dict[str, Any]] = []

    def export(self, batch: Sequence[Mapping[str, Any]]) -> None:
        """Store copies of the events."""
        copies = [dict(event) for event in batch]
        with self._lock:
            self._events.extend(copies)

    def after_fork(self) -> None:
        """A forked child gets a fresh lock (the parent's may have been held)."""
        self._lock = threading.Lock()

    def flush(self, timeout: float | None = None) -> None:
        """Nothing to flush."""

    def shutdown(self, timeout: float | None = None) -> None:
        """Keep the events: tests read them after shutdown."""

    @property
    def events(self) -> list[dict[str, Any]]:
        """A snapshot of all events received so far."""
        with self._lock:
            return list(self._events)

    def spans(self) -> list[dict[str, Any]]:
        """One dict per span: start and end fields merged, attributes merged (end wins).

        ``start_ts`` and ``end_ts`` replace the two lines' ``ts``; ``ended`` tells
        whether the span_end line has arrived.
        """
        merged: dict[str, dict[str, Any]] = {}
        for event in self.events:
            kind = event.get("event")
            if kind not in ("span_start", "span_end"):
                continue
            span = merged.setdefault(event["span_id"], {"attributes": {}, "ended": False})
            attributes = {**span["attributes"], **(event.get("attributes") or {})}
            span.update({k: v for k, v in event.items() if k not in ("event", "ts")})
            span["attributes"] = attributes
            if kind == "span_start":
                span["start_ts"] = event["ts"]
            else:
                span["end_ts"] = event["ts"]
                span["ended"] = True
        return list(merged.values())

    def clear(self) -> None:
        """Forget all events."""
        with self._lock:
            self._events.clear()
