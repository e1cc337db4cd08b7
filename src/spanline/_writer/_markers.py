"""What the writer's queue holds besides records: the flush and stop markers, and the
queue of a synchronous pipeline, which writes each record as it arrives."""

from __future__ import annotations

import threading
from collections import deque
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from spanline.exporters._worker import FlushRequest

__all__ = ["Marker", "SyncQueue", "queue_bound", "tell_drops"]


class _Writes(Protocol):
    def write_now(self) -> None: ...


def queue_bound(exporter: Any) -> dict[str, int]:
    """``max_pending`` for the exporter's worker when the exporter sets a valid one."""
    bound = getattr(exporter, "max_pending", None)
    if isinstance(bound, int) and not isinstance(bound, bool) and bound > 0:
        return {"max_pending": bound}
    return {}


def tell_drops(dropped: int, bound: int, *, final: bool = False) -> bool:
    """Say that events are being dropped at the queue bound (once, on the writer's
    thread, as it first sees it), or how many were (at shutdown). Returns True."""
    from spanline._lines._encode import THREAD_IMPORTS

    advice = "raise SPANLINE_MAX_QUEUE if the writer could not keep up"
    # The report's first use imports its logger: a fork meanwhile waits (a child born
    # holding those import locks would hang at its own first report).
    with THREAD_IMPORTS:
        from spanline._capture._report import report

        if final:
            report(f"{dropped} events were dropped (queue bound {bound}; {advice}).")
        else:
            report(
                f"events are being dropped: {bound} already wait for the writer (the "
                f"queue bound); each is counted, and the run's end says how many ({advice})."
            )
    return True


class Marker:
    """Queued by flush()/shutdown(): "everything before me is written" once ``done`` is
    set; ``exported`` then holds the exporters' own flush confirmations to wait on."""

    __slots__ = ("done", "exported", "stop")

    def __init__(self, stop: bool = False) -> None:
        self.done = threading.Event()
        self.exported: list[FlushRequest] = []
        self.stop = stop


class SyncQueue(deque[Any]):
    """The queue of a synchronous pipeline: every record is written as it arrives."""

    def __init__(self, pipeline: _Writes) -> None:
        super().__init__()
        self.pipeline = pipeline

    def append(self, item: Any) -> None:
        super().append(item)
        if item.__class__ is tuple:
            self.pipeline.write_now()
