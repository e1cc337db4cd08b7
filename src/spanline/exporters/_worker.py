"""One thread per exporter, behind a bounded queue, with retries and counters."""

from __future__ import annotations

import inspect
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from spanline._capture._report import report

Batch = Sequence[Mapping[str, Any]]

__all__ = ["ExporterWorker", "FlushRequest"]


class FlushRequest:
    """A flush asked of one exporter: ``done`` is set once it was handled, and
    ``ok`` says whether the exporter confirmed (nothing failed or was dropped
    since the previous flush, and its ``flush()`` neither raised nor said False)."""

    __slots__ = ("done", "ok")

    def __init__(self, ok: bool = False) -> None:
        self.done = threading.Event()
        self.ok = ok


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
        on_thread_start: called first on the worker's thread (the writer hands down
            the hot path's "spanline's own thread" marker: spans opened by the
            exporter are not traced).
    """

    def __init__(
        self,
        exporter: Any,
        name: str | None = None,
        max_pending: int = 200_000,
        retries: int = 3,
        backoff: float = 0.05,
        on_thread_start: Callable[[], Any] | None = None,
    ) -> None:
        self.exporter = exporter
        self._on_thread_start = on_thread_start
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
        #: Whether something was lost or raised since the previous flush request.
        self._troubled = False
        #: Once shutdown gave up on the exporter, its late results are not counted
        #: again (what it held was counted as dropped).
        self._frozen = False

    def _reset(self) -> None:
        self._queue: deque[Any] = deque()
        self._pending = 0
        self._inflight = 0
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
                self._troubled = True
                return
            self._pending += len(batch)
        self._queue.append(batch)
        self._wake.set()

    def request_flush(self) -> FlushRequest:
        """Ask for a flush without waiting: ``done`` is set once every batch queued
        so far was handled and the exporter flushed (at once, unconfirmed, if the
        worker is gone)."""
        marker = FlushRequest()
        if not self._thread.is_alive():
            marker.done.set()
            return marker
        self._queue.append(marker)
        self._wake.set()
        return marker

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
            # Still busy past the deadline: what it holds (the batch in its hands
            # included) and what waits for it is lost, and counted now, once.
            with self._lock:
                self.dropped += self._pending + self._inflight
                self._pending = 0
                self._inflight = 0
                self._frozen = True
        lost = self.dropped + self.failed
        if lost:
            report(
                f"exporter {self.name} lost {lost} of {self.received} events "
                f"({self.dropped} dropped, {self.failed} failed after retries); "
                "they are in telemetry.jsonl"
            )

    def _run(self) -> None:
        if self._on_thread_start is not None:
            self._on_thread_start()
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
            if isinstance(item, FlushRequest):
                confirmed = self._call("flush", None)
                with self._lock:
                    item.ok = confirmed is not False and not self._troubled
                    self._troubled = False
                item.done.set()
                continue
            with self._lock:
                self._pending -= len(item)
                self._inflight = len(item)
            self._export(item)

    def _export(self, batch: Batch) -> None:
        delay = self.backoff
        for attempt in range(self.retries + 1):
            try:
                self.exporter.export(batch)
            except BaseException as exc:  # even SystemExit: this thread must live on
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
                self._settle(exported=len(batch))
                return
        self._settle(failed=len(batch))

    def _settle(self, exported: int = 0, failed: int = 0) -> None:
        """Book the batch just handled, unless shutdown already counted it as dropped."""
        with self._lock:
            if not self._frozen:
                self.exported += exported
                self.failed += failed
            self._inflight = 0
            if failed:
                self._troubled = True

    def _close(self) -> None:
        """Shut the exporter down once, on this worker's thread, so spans the exporter
        opens in its ``shutdown()`` are spanline's own (suppressed), not traced."""
        if not self._closed:
            self._closed = True
            self._call("shutdown", self._shutdown_timeout)

    def _call(self, what: str, timeout: float | None) -> Any:
        """Call the exporter's optional ``flush``/``shutdown``, with a timeout if it takes one.

        Returns:
            What the method returned; False if it raised; None if there is none.
        """
        method = getattr(self.exporter, what, None)
        if not callable(method):
            return None
        if _takes_timeout(method):
            return self._guard(what, lambda: method(timeout=timeout))
        return self._guard(what, method)

    def _guard(self, what: str, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except BaseException as exc:  # an exporter never stops its worker
            self.errors += 1
            report(f"exporter {self.name}.{what}() raised", exc=exc)
            return False
