"""One thread per exporter, behind a bounded queue, with retries and counters."""

from __future__ import annotations

import inspect
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from spanline._report import report
from spanline._tracer import mark_internal_thread

Batch = Sequence[Mapping[str, Any]]

__all__ = ["ExporterWorker"]


class _Flush:
    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = threading.Event()


def _takes_timeout(method: Any) -> bool:
    """Whether ``flush``/``shutdown`` accept a ``timeout`` (older exporters do not)."""
    try:
        parameters = inspect.signature(method).parameters
    except (TypeError, ValueError):
        return False
    return "timeout" in parameters or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()
    )


class ExporterWorker:
    """Feeds one exporter from its own queue so it can never stall the writer.

    Args:
        exporter: the exporter object.
        name: the name its counters are reported under (the registered name).
        max_pending: events allowed to wait for it; past that, batches are dropped
            and counted (``dropped``).
        retries: further attempts after a failed ``export``.
        backoff: first delay between attempts in seconds, doubled each time.
    """

    def __init__(
        self,
        exporter: Any,
        name: str | None = None,
        max_pending: int = 200_000,
        retries: int = 3,
        backoff: float = 0.05,
    ) -> None:
        self.exporter = exporter
        self.name = name or type(exporter).__name__
        self.max_pending = max_pending
        self.retries = retries
        self.backoff = backoff
        self._zero()
        self._reset()

    def _zero(self) -> None:
        self.received = 0
        self.exported = 0
        self.failed = 0
        self.dropped = 0
        self.errors = 0
        self._reported = False

    def _reset(self) -> None:
        self._queue: deque[Any] = deque()
        self._pending = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._shutdown_timeout: float | None = None
        self._closed = False
        self._thread = threading.Thread(
            target=self._run, name=f"spanline-exporter-{self.name}", daemon=True
        )
        self._thread.start()

    def after_fork(self) -> None:
        """In a forked child: fresh queue, locks and thread; counters restart.

        An exporter with an ``after_fork()`` method gets to reopen what it must
        not share with the parent (files under flock, sockets).
        """
        self._zero()
        hook = getattr(self.exporter, "after_fork", None)
        if callable(hook):
            self._guard("after_fork", hook)
        self._reset()

    def stats(self) -> dict[str, int]:
        """Counters: received = exported + dropped + failed; errors counts raised calls."""
        return {
            "received": self.received,
            "exported": self.exported,
            "dropped": self.dropped,
            "failed": self.failed,
            "errors": self.errors,
        }

    def submit(self, batch: Batch) -> None:
        """Queue a batch (called by the writer thread)."""
        with self._lock:
            self.received += len(batch)
            if self._pending + len(batch) > self.max_pending:
                self.dropped += len(batch)
                return
            self._pending += len(batch)
        self._queue.append(batch)
        self._wake.set()

    def request_flush(self) -> threading.Event | None:
        """Ask for a flush without waiting: the event is set once every batch queued
        so far was handled and the exporter flushed (None if the worker is gone)."""
        if not self._thread.is_alive():
            return None
        marker = _Flush()
        self._queue.append(marker)
        self._wake.set()
        return marker.done

    def shutdown(self, timeout: float) -> None:
        """Drain the queue, stop the thread, shut the exporter down.

        An exporter still busy after ``timeout`` is not shut down under its own
        feet: what it had not taken yet is counted as dropped. Losses are
        reported once, as one line.
        """
        self._shutdown_timeout = timeout
        self._stopping.set()
        self._wake.set()
        if self._thread is threading.current_thread():  # shutdown() from an exporter
            self._close()
        else:
            self._thread.join(timeout)
        if self._thread.is_alive():
            with self._lock:
                self.dropped += self._pending
                self._pending = 0
        lost = self.dropped + self.failed
        if lost:
            report(
                f"exporter {self.name} lost {lost} of {self.received} events "
                f"({self.dropped} dropped, {self.failed} failed after retries); "
                "they are in telemetry.jsonl"
            )

    def _run(self) -> None:
        mark_internal_thread()
        while True:
            self._wake.wait(0.5)
            self._wake.clear()
            self._drain()
            if self._stopping.is_set():
                self._drain()
                self._close()
                return

    def _drain(self) -> None:
        queue = self._queue
        while queue:
            item = queue.popleft()
            if isinstance(item, _Flush):
                self._call("flush", None)
                item.done.set()
                continue
            with self._lock:
                self._pending -= len(item)
            self._export(item)

    def _export(self, batch: Batch) -> None:
        delay = self.backoff
        for attempt in range(self.retries + 1):
            try:
                self.exporter.export(batch)
            except Exception as exc:
                self.errors += 1
                if not self._reported:
                    self._reported = True
                    report(
                        f"exporter {self.name} raised; retrying with backoff. Further "
                        "failures are counted (see process_end in telemetry.jsonl), not shown.",
                        exc=exc,
                    )
                # While stopping, one attempt per batch: shutdown must not hang.
                if attempt == self.retries or self._stopping.is_set():
                    break
                self._stopping.wait(delay)
                delay *= 2
            else:
                self.exported += len(batch)
                return
        self.failed += len(batch)

    def _close(self) -> None:
        """Shut the exporter down once, on this worker's thread, so spans the exporter
        opens in its ``shutdown()`` are spanline's own (suppressed), not traced."""
        if not self._closed:
            self._closed = True
            self._call("shutdown", self._shutdown_timeout)

    def _call(self, what: str, timeout: float | None) -> None:
        """Call the exporter's optional ``flush``/``shutdown``, with a timeout if it takes one."""
        method = getattr(self.exporter, what, None)
        if not callable(method):
            return
        if _takes_timeout(method):
            self._guard(what, lambda: method(timeout=timeout))
        else:
            self._guard(what, method)

    def _guard(self, what: str, call: Callable[[], Any]) -> None:
        try:
            call()
        except Exception as exc:
            self.errors += 1
            report(f"exporter {self.name}.{what}() raised", exc=exc)
