"""The writer: a deque, one writer thread, exporter workers, fork handling.

Callers only append tuples to ``Pipeline.queue``. The ``spanline-writer``
daemon thread wakes on a fixed period (or when asked), has the tuples turned
into events (on a watched helper thread: user ``__repr__`` runs there), appends
them to ``telemetry.jsonl`` in one write per batch and hands the batch to the
exporter workers. Nothing that user code raises stops it; if it dies anyway,
the next span notices and starts a fresh one. The session above hands its
callbacks down (the first line of each process, redaction, what to do when a
multiprocessing child exits) instead of being imported here.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spanline._capture._report import report
from spanline._hotpath._runtime import is_internal_thread, mark_internal_thread
from spanline._hotpath._tracer import monotonic, wall_time
from spanline._lines._encode import Event, process_end_line
from spanline._lines._fileio import PartialAppend, append_locked, open_append, wait_until_begun
from spanline._writer._convert import Converter, EventMaker
from spanline._writer._fast import Batch, LineTemplates, encoded
from spanline._writer._fork import at_fork
from spanline._writer._markers import Marker, SyncQueue, queue_bound, tell_drops
from spanline.schema import RAW

if TYPE_CHECKING:
    from spanline.exporters._worker import ExporterWorker

__all__ = ["Pipeline"]

#: At most this many events per write: bounds the writer's memory per batch, and
#: gets events onto disk while a long pass is still converting the rest (at 20k
#: spans/s, 20,000-event chunks let a kill -9 lose up to ~350 ms; 2,000: ~170 ms).
_CHUNK = 2_000


class Pipeline:
    """Owns the queue, the writer thread and the exporters of one process.

    Args:
        telemetry_path: the run's telemetry.jsonl.
        trace_id: 32 hex characters shared by every span of the run.
        flush_interval: the writer's period in seconds (a fixed cadence).
        max_queue: events allowed to wait; past that they are dropped and counted.
        exporters: ``(name, exporter)`` pairs besides the JSONL file.
        header: returns the first line of this process (run_start / process_start);
            called on the writer thread, so slow work (git) stays off the caller.
        transform: applied to every event dict before it is written (redaction).
        transform_key: returns what changes when ``transform`` does (templates made anew).
        on_child_exit: called when a multiprocessing fork child finishes (those
            end with ``os._exit`` and skip ``atexit``).
        synchronous: write on every span start and end, on the caller's thread
            (for tests: no flush needed, deterministic order).
        record_pid: the pid written in this process's lines (default: the real one).
        blobs: the store of values moved out of line by ``transform`` (its ``wait``
            is part of a flush and of shutdown), or None.
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
        transform_key: Callable[[], object] | None = None,
        on_child_exit: Callable[[], Any] | None = None,
        synchronous: bool = False,
        record_pid: int | None = None,
        blobs: Any = None,
    ) -> None:
        self.synchronous = synchronous
        self.queue: deque[Any] = SyncQueue(self) if synchronous else deque()
        #: The bound the hot path checks; 0 once the pipeline is closed.
        self.max_queue = max_queue
        self.queue_bound = max_queue
        self.trace_id = trace_id
        self.telemetry_path = Path(telemetry_path)
        self.flush_interval = flush_interval
        self._header = header
        self._transform = transform
        self.blobs = blobs
        self._make = EventMaker(trace_id, transform)
        self._templates = LineTemplates(trace_id, self._make.event, transform_key)
        self._on_child_exit = on_child_exit
        self._record_pid = record_pid
        self._exporters = list(exporters)
        self._workers: list[ExporterWorker] = []
        self._fd = open_append(self.telemetry_path)
        self.closed = False
        #: Cuts the run when it is too big or too old (``_rotate.Rotation``; None: never).
        self.rotation: Any = None
        self._reset_process_state()

    def _reset_process_state(self) -> None:
        """What each process owns alone: counters, locks, clocks, its pid."""
        self._count_lock = threading.Lock()
        self._drain_lock = threading.RLock()
        self._phase_lock = threading.Lock()
        self._wake = threading.Event()
        self._writer_lost = False
        #: Set when shutdown stopped waiting for a stuck writer (see ``_stuck.give_up``).
        self._given_up = False
        #: The records the writer has taken off the queue and not yet written, and how
        #: many of them a shutdown that gave up has already counted as dropped.
        self._holding: list[tuple[Any, ...]] = []
        self._holding_counted = 0
        self._death: BaseException | None = None
        self._converter = Converter(self._make.event, self._make.salvage_slow)
        self.dropped = self.suppressed = self.write_errors = 0
        self._drops_told = False
        #: Records turned into events so far: shutdown's measure of the writer's progress.
        self.handled = 0
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
        """Count one event lost to the queue bound (or to a writer that died)."""
        with self._count_lock:  # never held across I/O
            self.dropped += 1
        if self._writer_lost:
            self._revive_writer()

    def _revive_writer(self) -> None:
        """The writer thread died: report it once and start a fresh one.

        A dying writer closes the queue (``max_queue = 0``), so the next span
        lands here, on the slow path, and the hot path pays nothing for the check.
        """
        with self._count_lock:
            if not self._writer_lost or self.closed:
                return
            self._writer_lost = False
        report(
            f"the writer thread stopped unexpectedly; a fresh one takes over "
            f"({self.dropped} events counted as dropped so far)",
            exc=self._death,
        )
        # The dead thread may have left its wake-up event's lock held: a fresh one.
        self._wake = threading.Event()
        self.max_queue = self.queue_bound
        self._start_writer()

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
        # An exporter may bound its own queue (``max_pending`` events); events held for
        # it stay alive, and a large backlog costs the program garbage-collector time.
        self._workers = []
        if self._exporters:  # the exporter platform loads only when there are exporters
            from spanline.exporters._worker import ExporterWorker

            self._workers = [
                ExporterWorker(
                    exporter, name, **queue_bound(exporter), on_thread_start=mark_internal_thread
                )
                for name, exporter in self._exporters
            ]
        self._start_writer()
        at_fork(self._after_fork_in_child, in_multiprocessing_child=self._mp_child)

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
            False if that did not happen within ``timeout`` seconds, or if an
            exporter did not confirm (it lost events since the previous flush,
            or its ``flush()`` raised or returned False).
        """
        if self._writer_lost:
            self._revive_writer()
        thread = self._thread
        if self.closed or (not self.synchronous and (thread is None or not thread.is_alive())):
            return False
        if is_internal_thread():
            return False  # called from an exporter: waiting on ourselves would deadlock
        deadline = time.monotonic() + timeout
        marker = Marker()
        self.queue.append(marker)  # markers ignore the bound: they are tiny and few
        if self.synchronous:
            self._drain()  # on this thread: it may already hold the drain lock (a signal)
        else:
            self._wake.set()
        if not marker.done.wait(timeout):
            return False
        if self.blobs is not None and not self.blobs.wait(max(0.0, deadline - time.monotonic())):
            return False
        # The writer only asked the exporters to flush; we wait, so a stuck exporter
        # delays this caller, never telemetry.jsonl. Every exporter is waited on (no
        # short-circuit): one that raised or timed out makes the answer False.
        confirmed = [
            flush.done.wait(max(0.0, deadline - time.monotonic())) and flush.ok
            for flush in marker.exported
        ]
        return all(confirmed)

    def shutdown(self, timeout: float = 5.0) -> Event:
        """Drain everything, stop the threads, append this process's process_end line.

        ``timeout`` bounds what exporters can cost: once everything queued is in
        telemetry.jsonl, the exporters together get ``timeout`` seconds, whatever
        they do (sleep, block, raise); what one did not take by then is counted
        as dropped. Writing the queue to the file is spanline's own work: it is
        not cut short while it makes progress (a deadline must not drop a
        backlog a tight loop left), and is given up after ``timeout`` seconds
        without any.

        Returns:
            The process_end event (dropped events and exporter statistics).
        """
        if self.closed:
            return {}
        from spanline._writer._stuck import give_up, join_writer  # loaded at shutdown only

        thread = self._thread
        self.queue.append(Marker(stop=True))
        self._wake.set()
        if thread is not None and thread.is_alive() and thread is not threading.current_thread():
            join_writer(thread, timeout, self._progress)
        self.closed = True
        writer_done = thread is None or not thread.is_alive()
        # From here on, spans still open elsewhere end into a closed pipeline:
        # count them as dropped instead of letting the queue grow forever.
        self.max_queue = 0
        if writer_done:
            self._drain()  # what arrived after the writer's last pass (or it never ran)
        else:
            unwritten = give_up(self)
            report(
                f"the writer made no progress for {timeout:g} s; up to {unwritten} queued "
                "events are counted as dropped"
            )
        # Deadlines use the real clock, even when a deterministic clock is injected.
        deadline = time.monotonic() + timeout  # one budget for every exporter together
        if writer_done:
            self._converter.stop(max(0.0, deadline - time.monotonic()))
        if self.blobs is not None:  # the blob files the lines written refer to
            self.blobs.close(max(timeout, deadline - time.monotonic()))
        for worker in self._workers:
            worker.shutdown(max(0.0, deadline - time.monotonic()))
        if self.rotation is not None:  # the run it rotated from, if still open
            self.rotation.close_at_shutdown(self)
        trailer = self._trailer()
        self._append([trailer])
        if writer_done:
            os.close(self._fd)  # never under a writer still running: the fd number is reused
        if self.dropped:
            tell_drops(self.dropped, self.queue_bound, final=True)
        return trailer

    def _progress(self) -> tuple[int, int]:
        """What changes whenever the writer moves on: records converted, batches written."""
        return self._converter.converted, self.handled

    def _trailer(self) -> Event:
        counts = (self.dropped, self.suppressed, self.write_errors)
        return process_end_line(self._pid(), wall_time(), *counts, self._exporter_stats())

    def _exporter_stats(self) -> dict[str, Any]:
        stats = {w.name: w.stats() for w in self._workers}
        return stats if self.rotation is None else self.rotation.stats_since_last(stats)

    def _pid(self) -> int:
        return self._record_pid if self._record_pid is not None else os.getpid()

    # -- writer thread -------------------------------------------------------
    def _run(self) -> None:
        mark_internal_thread()
        try:
            self._write_header()
            self._loop()
        except BaseException as exc:  # reported once, by whoever notices (the next span)
            self._death = exc
        finally:
            if self._given_up:
                # Shutdown gave up on this writer and could not stop its helper: this
                # thread ends now, and the helper with it (no wait: it may be stuck).
                self._converter.stop(0.0)
            if not self._stopped and not self.closed:
                # Only a fault outside every guard gets here (an asynchronous
                # exception, say). Close the queue so the next span notices.
                self._writer_lost = True
                self.max_queue = 0

    def _loop(self) -> None:
        # A fixed cadence: the next pass is due one interval after the previous
        # deadline, not after the previous write, so a busy writer never drifts
        # past flush_ms (the real clock, even under an injected one).
        interval = self.flush_interval
        due = time.monotonic() + interval
        while True:
            self._wake.wait(max(0.0, due - time.monotonic()))
            self._wake.clear()
            now = time.monotonic()
            if now >= due:
                due += interval
                if due <= now:  # far behind (a stalled machine): restart the grid
                    due = now + interval
            try:
                if self._drain() or self._stopped:
                    return
            except BaseException as exc:  # user code or a bug of ours: carry on
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
                if header.get("event") == "process_start":  # a joiner: after the run_start
                    wait_until_begun(self._fd, 10.0)
                self._process([(RAW, header)])  # exporters see run_start too

    def _drain(self) -> bool:
        """Write out everything queued; True once the stop marker was seen."""
        if not self._header_written:
            self._write_header()
        if self.dropped and not self._drops_told and len(self.queue) >= self.max_queue > 0:
            self._drops_told = tell_drops(self.dropped, self.queue_bound)  # once, as they begin
        with self._drain_lock:
            return self._drain_locked()

    def _drain_locked(self) -> bool:
        popleft = self.queue.popleft
        records: list[tuple[Any, ...]] = []
        self._holding = records
        stop = False
        try:
            stop = self._take(popleft, records)
        except BaseException:
            # Taken off the queue and not written: lost, so counted.
            with self._count_lock:
                self.dropped += len(records)
            raise
        if stop:
            self._stopped = True
        return stop

    def _take(self, popleft: Callable[[], Any], records: list[tuple[Any, ...]]) -> bool:
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
                    records.clear()
                continue
            self._process(records)
            records.clear()
            if not item.stop:
                item.exported = [worker.request_flush() for worker in self._workers]
            item.done.set()
            stop = stop or item.stop
        self._process(records)
        records.clear()
        return stop

    def _process(self, records: list[tuple[Any, ...]]) -> None:
        if records and self.rotation is not None:  # it may cut the run among them
            self.rotation.process(self, records, self._write_records)
        else:
            self._write_records(records)

    def _write_records(self, records: list[tuple[Any, ...]]) -> None:
        if not records:
            return
        lines, rest = (None, records) if self._workers else self._templates.split(records)
        if self.synchronous:  # on the caller's thread: its own slow repr is its own
            events = [self._make.event(record) for record in rest]
            self.handled += len(records)
        else:
            events = self._converter.run(rest)
            if not self._settle(records):
                return
        self._append(events, lines)
        for worker in self._workers:
            worker.submit(events)

    def _settle(self, records: list[tuple[Any, ...]]) -> bool:
        """Book converted records as written, or as dropped once shutdown gave up on the
        writer (those it has not counted yet); empties ``records``. True: write them."""
        with self._count_lock:
            write = not self._given_up
            if write:
                self.handled += len(records)
            else:
                counted = self._holding_counted if records is self._holding else 0
                self.dropped += len(records) - counted
                if records is self._holding:
                    self._holding_counted = 0
            records.clear()
        return write

    def _append(self, events: list[Event], lines: Batch | None = None) -> None:
        buffer = encoded(events, lines)
        try:
            append_locked(self._fd, buffer)
        except OSError as exc:
            # Count the events that did not reach the file, not the batch: whole
            # lines written before the failure stay (one JSON line per event).
            kept = exc.kept if isinstance(exc, PartialAppend) else 0
            lost = len(events if lines is None else lines) - buffer.count(b"\n", 0, kept)
            first = self.write_errors == 0
            self.write_errors += lost
            if first:
                report(f"cannot write {self.telemetry_path}; events are counted as lost", exc=exc)

    # -- fork ----------------------------------------------------------------
    def _mp_child(self) -> None:
        # A multiprocessing fork child ends with os._exit(), skipping atexit: a
        # finalizer of multiprocessing's flushes instead.
        import multiprocessing.util as util

        if not self.closed and self._on_child_exit is not None:
            util.Finalize(None, self._on_child_exit, exitpriority=100)

    def _after_fork_in_child(self) -> None:
        """The forked child keeps appending to the same file with its own writer.

        Events queued in the parent belong to the parent (which writes them), so
        the child starts from an empty queue and fresh locks; it reopens the file
        because flock locks belong to the open file description it would share.
        """
        if self.closed:
            return
        self.queue = SyncQueue(self) if self.synchronous else deque()
        if self.rotation is not None:  # before the registry of open spans starts empty
            self.rotation.after_fork(self.open_spans)
        self._reset_process_state()
        try:
            os.close(self._fd)
        except OSError:
            pass
        self._fd = open_append(self.telemetry_path)
        for worker in self._workers:
            worker.after_fork()
        self._start_writer()
