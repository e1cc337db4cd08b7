"""The exporter protocol: an object with ``export(batch)``; the rest is optional."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

__all__ = ["Exporter"]


@runtime_checkable
class Exporter(Protocol):
    """Receives batches of events from the writer thread.

    Only ``export`` is required. ``flush(timeout=None)``, ``shutdown(timeout=None)``
    and ``after_fork()`` are called when present; exporters whose ``flush`` or
    ``shutdown`` take no timeout keep working.

    Each exporter runs on a thread of its own behind a bounded queue, so a slow
    or failing exporter never delays ``telemetry.jsonl`` or the caller. An
    exception from ``export`` is retried with backoff, then counted; it never
    reaches user code. Spans opened inside these methods are not traced (and are
    counted as suppressed). Events are shared between exporters: do not mutate them.
    An optional integer attribute ``max_pending`` bounds that queue (events; default
    200,000); past it, batches are dropped and counted.
    """

    def export(self, batch: Sequence[Mapping[str, Any]]) -> None:
        """Handle a batch of events (run_start, span_start, span_end, phase, event, ...)."""


class FullExporter(Exporter, Protocol):
    """An exporter with every optional method (for type checking implementations)."""

    def flush(self, timeout: float | None = None) -> bool | None:
        """Push out anything buffered; False if that did not finish in time."""

    def shutdown(self, timeout: float | None = None) -> None:
        """Release resources; no export follows."""

    def after_fork(self) -> None:
        """In a forked child: reopen what must not be shared with the parent."""
