"""The writer: a deque, one writer thread, exporter workers, fork handling.

Callers only append tuples to ``Pipeline.queue``. The ``spanline-writer``
daemon thread wakes every flush interval (or when asked), turns the tuples into
JSON lines, appends them to ``telemetry.jsonl`` in one write per batch and hands
the batch to the exporter workers. The session above hands its callbacks down
(the first line of each process, redaction, what to do when a multiprocessing
child exits) instead of being imported here.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from spanline._encode import Event, encode_many, to_event
from spanline._fileio import append_locked, open_append
from spanline._fork import at_fork
from spanline._report import report
from spanline._tracer import is_internal_thread, mark_internal_thread, monotonic, wall_time
from spanline._workers import ExporterWorker
from spanline.schema import RAW

__all__ = ["Pipeline"]

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


class _SyncQueue(deque[Any]):
    """The queue of a synchronous pipeline: every record is written as it arrives."""

    def __init__(self, pipeline: Pipeline) -> None:
        super().__init__()
        self.pipeline = pipeline

    def append(self, item: Any) -> None:
        super().append(item)
        if item.__class__ is tuple:
            self.pipeline.write_now()


class Pipeline:
    """Owns the queue, the writer thread and the exporters of one process.

    Args:
        telemetry_path: the run's telemetry.jsonl.
        trace_id: 32 hex characters shared by every span of the run.
        flush_interval: seconds between writes (at most).
        max_queue: events allowed to wait; past that they are dropped and counted.
        exporters: ``(name, exporter)`` pairs besides the JSONL file.
        header: returns the first line of this process (run_start / process_start);
            called on the writer thread, so slow work (git) stays off the caller.
        transform: applied to every event dict before it is written (redaction).
        on_child_exit: called when a multiprocessing fork child finishes (those
            end with ``os._exit`` and skip ``atexit``).
        synchronous: write on every span start and end, on the caller's thread
            (for tests: no flush needed, deterministic order).
        record_pid: the pid written in this process's lines (default: the real one).
    """

    def __init__(
        self,
        *,
        telemetry_path: str | os.PathLike[str],
        trace_id: str,
        flush_interval: float,
        max_queue: int,
        exporters: Sequence[tuple[str, Any]] = (),
        header: Callable[[], Event | None] | None = None,
        transform: Callable[[Event], Event] | None = None,
        on_child_exit: Callable[[], Any] | None = None,
        synchronous: bool = False,
        record_pid: int | None = None,
    ) -> None:
        self.synchronous = synchronous
        self.queue: deque[Any] = _SyncQueue(self) if synchronous else deque()
        #: The bound the hot path checks; 0 once the pipeline is closed.
        self.max_queue = max_queue
        self.queue_bound = max_queue
        self.trace_id = trace_id
        self.telemetry_path = Path(telemetry_path)
        self.flush_interval = flush_interval
        self._header = header
        self._transform = transform
        self._on_child_exit = on_child_exit
        self._record_pid = record_pid
        self._exporters = list(exporters)
        self._workers: list[ExporterWorker] = []
        self._fd = open_append(self.telemetry_path)
        self.closed = False
        self._mp_hooked = False
        self._reset_process_state()

    def _reset_process_state(self) -> None:
        """What each process owns alone: counters, locks, clocks, its pid."""
        self._count_lock = threading.Lock()
        self._drain_lock = threading.RLock()
        self._phase_lock = threading.Lock()
        self._wake = threading.Event()
        self.dropped = 0
        self.suppressed = 0
        self.write_errors = 0
        self._header_written = False
        self._stopped = False
        self._last_phase = monotonic()
        self.pid = os.getpid()
        self._thread: threading.Thread | None = None
        #: Spans open in this process (filled by the hot path; see ``Tracer``).
        self.open_spans: dict[Any, Any] = {}

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
        with self._count_lock:  # never held across I/O
            self.dropped += 1

    def count_suppressed(self) -> None:
        """Count one span or event opened on spanline's own threads (not traced)."""
        with self._count_lock:
            self.suppressed += 1

    def phase_wall_ms(self) -> float:
        """Milliseconds since the previous phase event of this process (or its start)."""
        with self._phase_lock:
            now = monotonic()
            wall, self._last_phase = (now - self._last_phase) * 1000.0, now
        return wall

    def start(self) -> None:
        """Start the exporter workers and the writer thread."""
        self._workers = [ExporterWorker(exporter, name) for name, exporter in self._exporters]
        self._start_writer()
        at_fork(self._after_fork_in_child, before=self._before_fork)

    def _start_writer(self) -> None:
        if self.synchronous:
            # Every record is written by the thread that made it: no writer thread,
            # so a signal handler or flush() on that thread never waits on another.
            self._write_header()
            return
        self._thread = threading.Thread(target=self._run, name="spanline-writer", daemon=True)
        self._thread.start()

    def write_now(self) -> None:
        """Write everything queued, on the caller's thread (synchronous pipelines)."""
        if not self.closed:
            self._drain()

    def flush(self, timeout: float = 10.0) -> bool:
        """Block until every event queued before this call is written and exported.

        Returns:
            False if that did not happen within ``timeout`` seconds.
        """
        thread = self._thread
        if self.closed or (not self.synchronous and (thread is None or not thread.is_alive())):
            return False
        if is_internal_thread():
            return False  # called from an exporter: waiting on ourselves would deadlock
        deadline = time.monotonic() + timeout
        marker = _Marker()
        self.queue.append(marker)  # markers ignore the bound: they are tiny and few
        if self.synchronous:
            self._drain()  # on this thread: it may already hold the drain lock (a signal)
        else:
            self._wake.set()
        if not marker.done.wait(timeout):
            return False
        # The writer only asked the exporters to flush; we wait, so a stuck exporter
        # delays this caller, never telemetry.jsonl.
        return all(event.wait(max(0.0, deadline - time.monotonic())) for event in marker.exported)

    def shutdown(self, timeout: float = 30.0) -> Event:
        """Drain everything, stop the threads, append this process's process_end line.

        Returns:
            The process_end event (dropped events and exporter statistics).
        """
        if self.closed:
            return {}
        # Deadlines use the real clock, even when a deterministic clock is injected.
        deadline = time.monotonic() + timeout  # one budget for the writer and all exporters
        thread = self._thread
        self.queue.append(_Marker(stop=True))
        self._wake.set()
        if thread is not None and thread.is_alive() and thread is not threading.current_thread():
            thread.join(timeout)
        self.closed = True
        writer_done = thread is None or not thread.is_alive()
        # From here on, spans still open elsewhere end into a closed pipeline:
        # count them as dropped instead of letting the queue grow forever.
        self.max_queue = 0
        if writer_done:
            self._drain()  # what arrived after the writer's last pass (or it never ran)
        else:
            unwritten = sum(1 for item in list(self.queue) if item.__class__ is tuple)
            with self._count_lock:
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
            "pid": self._pid(),
            "ts": wall_time(),
            "dropped_events": self.dropped,
            "suppressed_spans": self.suppressed,
            "write_errors": self.write_errors,
            "exporters": {w.name: w.stats() for w in self._workers},
        }

    def _pid(self) -> int:
        return self._record_pid if self._record_pid is not None else os.getpid()

    # -- writer thread -------------------------------------------------------
    def _run(self) -> None:
        mark_internal_thread()
        self._write_header()
        while True:
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            try:
                if self._drain() or self._stopped:
                    return
            except Exception as exc:  # a bug of ours must not silently stop the writer
                report("the writer hit an unexpected error and carries on", exc=exc)

    def _write_header(self) -> None:
        """This process's first line, before any span of it (under the drain lock)."""
        with self._drain_lock:
            if self._header_written:
                return
            self._header_written = True
            if self._header is None:
                return
            try:
                header = self._header()
            except Exception as exc:
                report("could not build the run header", exc=exc)
                header = None
            if header is not None:
                self._process([(RAW, header)])  # exporters see run_start too

    def _drain(self) -> bool:
        """Write out everything queued; True once the stop marker was seen."""
        if not self._header_written:
            self._write_header()
        with self._drain_lock:
            return self._drain_locked()

    def _drain_locked(self) -> bool:
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
        if stop:
            self._stopped = True
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
    def _before_fork(self) -> None:
        # multiprocessing's fork children end with os._exit(), skipping atexit; its
        # own after-fork registry lets us install a finalizer that flushes instead.
        util = sys.modules.get("multiprocessing.util")
        if util is not None and not self.closed and not self._mp_hooked:
            self._mp_hooked = True  # the registry keeps it for every later fork
            util.register_after_fork(self, Pipeline._mp_child)

    def _mp_child(self) -> None:
        import multiprocessing.util as util

        if self._on_child_exit is not None:
            util.Finalize(None, self._on_child_exit, exitpriority=100)

    def _after_fork_in_child(self) -> None:
        """The forked child keeps appending to the same file with its own writer.

        Events queued in the parent belong to the parent (which writes them), so
        the child starts from an empty queue and fresh locks; it reopens the file
        because flock locks belong to the open file description it would share.
        """
        if self.closed:
            return
        self.queue = _SyncQueue(self) if self.synchronous else deque()
        self._reset_process_state()
        try:
            os.close(self._fd)
        except OSError:
            pass
        self._fd = open_append(self.telemetry_path)
        for worker in self._workers:
            worker.after_fork()
        self._start_writer()
