"""The exporter contract: any object with these three methods is an exporter."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

__all__ = ["Exporter"]


@runtime_checkable
class Exporter(Protocol):
    """Receives batches of events from the writer thread.

    Each exporter runs on a thread of its own behind a bounded queue, so a slow
    or failing exporter never delays ``telemetry.jsonl`` or the caller. An
    exception from ``export`` is retried with backoff, then counted; it never
    reaches user code. Events are shared between exporters: do not mutate them.
    """

    def export(self, batch: Sequence[Mapping[str, Any]]) -> None:
        """Handle a batch of events (span_start, span_end, phase, event, ...)."""

    def flush(self) -> None:
        """Push out anything buffered."""

    def shutdown(self) -> None:
        """Release resources; no export follows."""
