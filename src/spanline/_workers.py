"""One thread per exporter, behind a bounded queue, with retries and counters."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

from spanline._report import report

Batch = Sequence[Mapping[str, Any]]

#: Marks spanline's own threads (writer, exporter workers): a flush() requested
#: from one of them would wait on itself, so it returns at once instead.
INTERNAL = threading.local()


class _Flush:
    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = threading.Event()


class ExporterWorker:
    """Feeds one exporter from its own queue so it can never stall the writer.

    Args:
        exporter: the exporter object.
        max_pending: events allowed to wait for it; past that, batches are dropped
            and counted (``dropped``).
        retries: further attempts after a failed ``export``.
        backoff: first delay between attempts in seconds, doubled each time.
    """

    def __init__(
        self, exporter: Any, max_pending: int = 200_000, retries: int = 3, backoff: float = 0.05
    ) -> None:
        self.exporter = exporter
        self.name = type(exporter).__name__
        self.max_pending = max_pending
        self.retries = retries
        self.backoff = backoff
        self.exported = 0
        self.failed = 0
        self.dropped = 0
        self.errors = 0
        self._reported = False
        self._reset()

    def _reset(self) -> None:
        self._queue: deque[Any] = deque()
        self._pending = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"spanline-exporter-{self.name}", daemon=True
        )
        self._thread.start()

    def after_fork(self) -> None:
        """In a forked child: fresh queue, locks and thread; counters restart.

        An exporter with an ``after_fork()`` method gets to reopen what it must
        not share with the parent (files under flock, sockets).
        """
        self.exported = self.failed = self.dropped = self.errors = 0
        self._reported = False
        hook = getattr(self.exporter, "after_fork", None)
        if callable(hook):
            self._guard("after_fork", hook)
        self._reset()

    def stats(self) -> dict[str, int]:
        """Counters: events exported, failed after retries, dropped, export errors."""
        return {
            "exported": self.exported,
            "failed": self.failed,
            "dropped": self.dropped,
            "errors": self.errors,
        }

    def submit(self, batch: Batch) -> None:
        """Queue a batch (called by the writer thread)."""
        with self._lock:
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
        feet: what it had not taken yet is counted as dropped.
        """
        self._stopping.set()
        self._wake.set()
        if self._thread is not threading.current_thread():  # shutdown() from an exporter
            self._thread.join(timeout)
        if self._thread.is_alive():
            with self._lock:
                self.dropped += self._pending
                self._pending = 0
            return
        self._guard("shutdown", self.exporter.shutdown)

    def _run(self) -> None:
        INTERNAL.active = True
        while True:
            self._wake.wait(0.5)
            self._wake.clear()
            self._drain()
            if self._stopping.is_set():
                self._drain()
                return

    def _drain(self) -> None:
        queue = self._queue
        while queue:
            item = queue.popleft()
            if isinstance(item, _Flush):
                self._guard("flush", self.exporter.flush)
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

    def _guard(self, what: str, call: Any) -> None:
        try:
            call()
        except Exception as exc:
            self.errors += 1
            report(f"exporter {self.name}.{what}() raised", exc=exc)
