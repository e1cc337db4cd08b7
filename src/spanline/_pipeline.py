"""The event pipeline: a deque, one writer thread, exporter workers, fork handling.

Callers only append tuples to ``Pipeline.queue``. The ``spanline-writer``
daemon thread wakes every flush interval (or when asked), turns the tuples into
JSON lines, appends them to ``telemetry.jsonl`` in one write per batch and hands
the batch to the exporter workers.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any

from spanline._encode import Event, encode_many, to_event
from spanline._report import report
from spanline._workers import INTERNAL, ExporterWorker
from spanline.exporters.jsonl import append_locked, open_append
from spanline.schema import RAW

#: At most this many events per write: bounds the writer's memory per batch.
_CHUNK = 20_000


class _Marker:
    """Queued by flush()/shutdown(): "everything before me is written" once ``done`` is
    set; ``exported`` then holds the exporters' own flush confirmations to wait on."""

    __slots__ = ("done", "exported", "stop")

    def __init__(self, stop: bool = False) -> None:
        self.done = threading.Event()
        self.exported: list[threading.Event] = []
        self.stop = stop


class Pipeline:
    """Owns the queue, the writer thread and the exporters of one process.

    Args:
        telemetry_path: the run's telemetry.jsonl.
        trace_id: 32 hex characters shared by every span of the run.
        flush_interval: seconds between writes (at most).
        max_queue: events allowed to wait; past that they are dropped and counted.
        exporters: exporter objects besides the JSONL file.
        header: returns the first line of this process (run_start / process_start);
            called on the writer thread, so slow work (git) stays off the caller.
        transform: applied to every event dict before it is written (redaction).
    """

    def __init__(
        self,
        *,
        telemetry_path: Any,
        trace_id: str,
        flush_interval: float,
        max_queue: int,
        exporters: list[Any],
        header: Callable[[], Event | None] | None = None,
        transform: Callable[[Event], Event] | None = None,
    ) -> None:
        self.queue: deque[Any] = deque()
        #: The bound the hot path checks; 0 once the pipeline is closed.
        self.max_queue = max_queue
        self.queue_bound = max_queue
        self.trace_id = trace_id
        self.telemetry_path = telemetry_path
        self.flush_interval = flush_interval
        self._header = header
        self._transform = transform
        self._exporters = exporters
        self._workers: list[ExporterWorker] = []
        self._fd = open_append(telemetry_path)
        self._drop_lock = threading.Lock()
        self.dropped = 0
        self.write_errors = 0
        self._phase_lock = threading.Lock()
        self._last_phase = time.perf_counter()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.closed = False
        self.mp_hooked = False
        self.pid = os.getpid()

    # -- caller side (any thread) -------------------------------------------
    def emit(self, record: tuple[Any, ...]) -> None:
        """Queue one record, or count it as dropped when the queue is full."""
        queue = self.queue
        if len(queue) < self.max_queue:
            queue.append(record)
        else:
            self.count_drop()

    def count_drop(self) -> None:
        """Count one event lost to the queue bound."""
        with self._drop_lock:  # never held across I/O
            self.dropped += 1

    def phase_wall_ms(self) -> float:
        """Milliseconds since the previous phase event of this process (or its start)."""
        with self._phase_lock:
            now = time.perf_counter()
            wall, self._last_phase = (now - self._last_phase) * 1000.0, now
        return wall

    def start(self) -> None:
        """Start the exporter workers and the writer thread."""
        self._workers = [ExporterWorker(exporter) for exporter in self._exporters]
        self._thread = threading.Thread(target=self._run, name="spanline-writer", daemon=True)
        self._thread.start()
        _track(self)

    def flush(self, timeout: float = 10.0) -> bool:
        """Block until every event queued before this call is written and exported.

        Returns:
            False if that did not happen within ``timeout`` seconds.
        """
        thread = self._thread
        if thread is None or not thread.is_alive() or self.closed:
            return False
        if getattr(INTERNAL, "active", False):
            return False  # called from an exporter: waiting on ourselves would deadlock
        deadline = time.monotonic() + timeout
        marker = _Marker()
        self.queue.append(marker)  # markers ignore the bound: they are tiny and few
        self._wake.set()
        if not marker.done.wait(timeout):
            return False
        # The writer only asked the exporters to flush; we wait, so a stuck exporter
        # delays this caller, never telemetry.jsonl.
        return all(event.wait(max(0.0, deadline - time.monotonic())) for event in marker.exported)

    def shutdown(self, timeout: float = 30.0) -> dict[str, Any]:
        """Drain everything, stop the threads, append this process's process_end line.

        Returns:
            The process_end event (dropped events and exporter statistics).
        """
        if self.closed:
            return {}
        self.closed = True
        deadline = time.monotonic() + timeout  # one budget for the writer and all exporters
        thread = self._thread
        marker = _Marker(stop=True)
        self.queue.append(marker)
        self._wake.set()
        if thread is not None and thread.is_alive() and thread is not threading.current_thread():
            thread.join(timeout)
        writer_done = thread is None or not thread.is_alive()
        # From here on, spans still open elsewhere end into a closed pipeline:
        # count them as dropped instead of letting the queue grow forever.
        self.max_queue = 0
        if writer_done:
            self._drain()  # what arrived after the writer's last pass (or it never ran)
        else:
            unwritten = sum(1 for item in list(self.queue) if item.__class__ is tuple)
            with self._drop_lock:
                self.dropped += unwritten
            report(
                f"the writer did not finish within {timeout:g} s; up to {unwritten} queued "
                "events are counted as dropped"
            )
        for worker in self._workers:
            worker.shutdown(max(0.0, deadline - time.monotonic()))
        trailer = self._trailer()
        self._append([trailer])
        if writer_done:
            os.close(self._fd)  # never under a writer still running: the fd number is reused
        if self.dropped:
            report(
                f"{self.dropped} events were dropped (queue bound {self.queue_bound}; "
                "raise SPANLINE_MAX_QUEUE if the writer could not keep up)."
            )
        return trailer

    def _trailer(self) -> Event:
        return {
            "event": "process_end",
            "pid": os.getpid(),
            "ts": time.time(),
            "dropped_events": self.dropped,
            "write_errors": self.write_errors,
            "exporters": {w.name: w.stats() for w in self._workers},
        }

    # -- writer thread -------------------------------------------------------
    def _run(self) -> None:
        INTERNAL.active = True
        if self._header is not None:
            try:
                header = self._header()
            except Exception as exc:
                report("could not build the run header", exc=exc)
                header = None
            if header is not None:
                self._process([(RAW, header)])  # exporters see run_start too
        while True:
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            try:
                if self._drain():
                    return
            except Exception as exc:  # a bug of ours must not silently stop the writer
                report("the writer hit an unexpected error and carries on", exc=exc)

    def _drain(self) -> bool:
        """Write out everything queued; True once the stop marker was seen."""
        popleft = self.queue.popleft
        records: list[tuple[Any, ...]] = []
        stop = False
        while True:
            try:
                item = popleft()
            except IndexError:
                break
            if item.__class__ is tuple:
                records.append(item)
                if len(records) >= _CHUNK:
                    self._process(records)
                    records = []
                continue
            self._process(records)
            records = []
            if not item.stop:
                requested = (worker.request_flush() for worker in self._workers)
                item.exported = [event for event in requested if event is not None]
            item.done.set()
            stop = stop or item.stop
        self._process(records)
        return stop

    def _process(self, records: list[tuple[Any, ...]]) -> None:
        if not records:
            return
        trace_id = self.trace_id
        events = [to_event(record, trace_id) for record in records]
        if self._transform is not None:
            events = [self._transform(event) for event in events]
        self._append(events)
        for worker in self._workers:
            worker.submit(events)

    def _append(self, events: list[Event]) -> None:
        buffer = bytearray()
        encode_many(events, buffer.extend)
        try:
            append_locked(self._fd, buffer)
        except OSError as exc:
            self.write_errors += len(events)
            if self.write_errors == len(events):
                report(f"cannot write {self.telemetry_path}", exc=exc)

    # -- fork ----------------------------------------------------------------
    def after_fork_in_child(self, header: Callable[[], Event | None] | None) -> None:
        """The forked child keeps appending to the same file with its own writer.

        Events queued in the parent belong to the parent (which writes them), so
        the child starts from an empty queue and fresh locks; it reopens the file
        because flock locks belong to the open file description it would share.
        """
        self.queue = deque()
        self._drop_lock = threading.Lock()
        self._phase_lock = threading.Lock()
        self._wake = threading.Event()
        self.dropped = 0
        self.write_errors = 0
        self.pid = os.getpid()
        self._header = header
        try:
            os.close(self._fd)
        except OSError:
            pass
        self._fd = open_append(self.telemetry_path)
        for worker in self._workers:
            worker.after_fork()
        self._thread = threading.Thread(target=self._run, name="spanline-writer", daemon=True)
        self._thread.start()


# -- fork hooks: registered once, they act on the live pipeline through a weakref
_live: weakref.ref[Pipeline] | None = None
_hooks_installed = False
_fork_listeners: list[Callable[[Pipeline], None]] = []


def _track(pipeline: Pipeline) -> None:
    global _live, _hooks_installed
    _live = weakref.ref(pipeline)
    if not _hooks_installed and hasattr(os, "register_at_fork"):
        os.register_at_fork(before=_before_fork, after_in_child=_after_fork_child)
        _hooks_installed = True


def on_fork(listener: Callable[[Pipeline], None]) -> None:
    """Call ``listener(pipeline)`` in every forked child that has a live pipeline."""
    _fork_listeners.append(listener)


def _current() -> Pipeline | None:
    pipeline = _live() if _live is not None else None
    return None if pipeline is None or pipeline.closed else pipeline


def _before_fork() -> None:
    # multiprocessing's fork children end with os._exit(), skipping atexit; its
    # own after-fork registry lets us install a finalizer that flushes instead.
    util = sys.modules.get("multiprocessing.util")
    pipeline = _current()
    if util is not None and pipeline is not None and not pipeline.mp_hooked:
        pipeline.mp_hooked = True  # the registry keeps it for every later fork
        util.register_after_fork(pipeline, _mp_child)


def _mp_child(pipeline: Pipeline) -> None:
    import multiprocessing.util as util

    from spanline._runtime import shutdown

    util.Finalize(None, shutdown, exitpriority=100)


def _after_fork_child() -> None:
    pipeline = _current()
    if pipeline is None:
        return
    for listener in _fork_listeners:
        listener(pipeline)
