"""Rotation: a long-lived process closes its run and goes on in the next one.

The writer sees every span start and end of its process, in the order they are
written, so it decides. Once the run's log has passed its size limit, or the run
its age limit, the session opens the next run (in the same session) and the
writer routes each record by its span tree:

- a span whose parent is still open in the old run starts there too, and its
  events and its end follow it: a span tree open at the rotation finishes in
  the run it started in, whole;
- every other span (a new request's root, say) starts in the new run.

Once the last span open in the old run has ended, the old run gets this
process's ``process_end`` and is closed. No span is ever cut in two, and a busy
server with requests always in flight still rotates: only the trees already
open stay behind. A span that never ends (a root span around the whole server)
keeps its tree in the old run: ``docs/retention.md`` says to open one per request.

A process that only joined the run (a fork child, a child process handed the
run) does not open runs: it follows. The process that rotates names the next
run in the old run's directory (:data:`NEXT_RUN`); a follower looks for it on
each pass of its writer and moves over the same way. A fork child also knows the
spans open in its parent at the fork: its work can be their child, so it routes a
start under one of them to the run they are open in, until the owner says (in
:data:`NEXT_RUN`) that it has left that run, their trees ended.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from spanline._capture._report import report
from spanline._hotpath._tracer import wall_time
from spanline._lines._encode import process_end_line
from spanline._lines._fileio import open_append
from spanline._lines._fileio import write_atomic as _write_atomic
from spanline.schema import END, EVENT, RAW, START

if TYPE_CHECKING:
    from spanline._writer._pipeline import Pipeline

__all__ = ["NEXT_RUN", "NextRun", "Rotation", "read_next_run", "write_next_run"]

#: The file a rotated run keeps: the run that follows it (for the processes that follow).
NEXT_RUN = "next_run.json"

#: What the session returns when it opened (or joined) the next run:
#: ``(telemetry path, trace id)``.
NextRun = tuple[Path, str]


def write_next_run(run_dir: Path, run_id: str, trace_id: str, telemetry: Path) -> None:
    """Leave the next run's id, trace id and log in the rotated run's directory."""
    record = {"run_id": run_id, "trace_id": trace_id, "telemetry": os.fspath(telemetry)}
    _write_atomic(run_dir / NEXT_RUN, orjson.dumps(record))


def mark_owner_left(run_dir: Path) -> None:
    """Note in the rotated run's :data:`NEXT_RUN` that the process that rotated it has
    left it (its last tree there ended)."""
    record = read_next_run(run_dir)
    if record is not None:
        _write_atomic(run_dir / NEXT_RUN, orjson.dumps({**record, "owner_left": True}))


def owner_left(run_dir: Path) -> bool:
    """Whether the process that rotated ``run_dir``'s run has left it (see
    :func:`mark_owner_left`)."""
    record = _next_run_record(run_dir)
    return isinstance(record, dict) and record.get("owner_left") is True


def _next_run_record(run_dir: Path) -> Any:
    """:data:`NEXT_RUN` decoded, or None (not rotated, or unreadable)."""
    try:
        return orjson.loads((run_dir / NEXT_RUN).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None


def read_next_run(run_dir: Path) -> dict[str, str] | None:
    """The run that followed ``run_dir``'s run, or None (not rotated, or unreadable)."""
    record = _next_run_record(run_dir)
    if not isinstance(record, dict):
        return None
    fields = ("run_id", "trace_id", "telemetry")
    if not all(isinstance(record.get(name), str) for name in fields):
        return None
    return {name: record[name] for name in fields}


def _last_of_chain(run_dir: Path, hops: int = 10_000) -> dict[str, str] | None:
    """The newest run of the rotations since ``run_dir``'s run (a follower that was idle
    through several rotations goes straight to the last), or None."""
    found = None
    for _ in range(hops):
        following = read_next_run(run_dir)
        if following is None:
            break
        found, run_dir = following, Path(following["telemetry"]).parent
    return found


class Rotation:
    """When the pipeline rotates its run, and which run each record goes to (held by the
    pipeline as ``rotation``; None there: no rotation).

    Args:
        max_bytes: rotate once the log holds this many bytes (None: no size limit).
        every: rotate once the run is this many seconds old (None: no age limit).
        open_next: the session's callback, on the writer thread at the rotation: opens
            the next run (or, in a follower, joins it) and returns its log and trace id.
        owner: whether this process opens the next run (it created the run); else it
            follows the process that does.
        clock: the monotonic clock (ages are measured with it, never the wall clock).
    """

    def __init__(
        self,
        *,
        max_bytes: int | None,
        every: float | None,
        open_next: Callable[[dict[str, str] | None], NextRun],
        owner: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_bytes = max_bytes
        self.every = every
        self._open_next = open_next
        self._clock = clock
        self.owner_pid = os.getpid() if owner else None
        self.opened = clock()
        #: Span ids of this process started and not yet ended, in written order (in a
        #: fork child, also those of :attr:`foreign`).
        self.open: set[int] = set()
        #: In a fork child: the spans open in the parent at the fork, in the current run.
        self.foreign: set[int] = set()
        self.rotations = 0
        #: Whether a span started in the current run (a run without one is not rotated).
        self.spans_in_run = False
        #: The log's size at the last look, records written since, and bytes a record
        #: takes (a first guess until measured: a span's start or end line is a few
        #: hundred bytes).
        self._size, self._written, self._record_bytes = 0, 0, 256.0
        #: Runs being closed while their open span trees finish, oldest first.
        self.draining: list[_Draining] = []
        self._stats_base: dict[str, dict[str, Any]] = {}

    def after_fork(self, parent_open: Any = ()) -> None:
        """A forked child follows the run. The spans open in the parent at the fork
        (``parent_open``, the hot path's registry) stay the parent's, but the child's
        work can be their child: a start under one of them stays in their run."""
        self.foreign = {span._id for span in list(parent_open)}
        self.open = set(self.foreign)
        self._stats_base = {}
        for draining in self.draining:  # the runs being closed stay the parent's
            os.close(draining.fd)
        self.draining = []

    @property
    def owner(self) -> bool:
        """True in the process that opens the next run; others follow."""
        return os.getpid() == self.owner_pid

    def _due(self, pipeline: Pipeline) -> dict[str, str] | bool:
        """False: not yet. True: the owner's limit is reached. A dict: the run to follow."""
        if not self.owner:
            return _last_of_chain(pipeline.telemetry_path.parent) or False
        if self.every is not None and self._clock() - self.opened >= self.every:
            return True
        if self.max_bytes is None:
            return False
        try:
            size = os.fstat(pipeline._fd).st_size
        except OSError:
            return False
        if self._written and size > self._size:  # what a record takes, as written so far
            self._record_bytes = (size - self._size) / self._written
        self._size, self._written = size, 0
        return size >= self.max_bytes

    def _room(self, count: int) -> int:
        """How many of ``count`` records still fit under the size limit, by the bytes a
        record has taken so far (``count``: no size limit)."""
        if not self.owner or self.max_bytes is None:
            return count
        return max(0, int((self.max_bytes - self._size) / self._record_bytes))

    def split(self, pipeline: Pipeline, records: list[tuple[Any, ...]]) -> tuple[int, Any]:
        """Where to start the rotation in ``records``: ``(index, due)``; index -1: not in
        this batch.

        At the first span that would start a new tree (its parent is not open here)
        from the moment the limit is reached, or, within a long batch, from the
        record at which the size limit would be passed (by the bytes a record has
        taken so far). Never before the run's first span: a run is closed with
        something in it, and the next opens with a span to write in it.
        """
        due = self._due(pipeline)
        earliest = 0
        if self.owner and not self.spans_in_run:
            first = next((i for i, record in enumerate(records) if record[0] == START), None)
            if first is None:
                self._written += len(records)
                return -1, due
            self.spans_in_run, earliest = True, first + 1
        at = _next_root(
            records, max(earliest, 0 if due is not False else self._room(len(records))), self.open
        )
        self._written += min(at, len(records)) if at >= 0 else len(records)
        return at, (True if due is False else due)

    def process(
        self,
        pipeline: Pipeline,
        records: list[tuple[Any, ...]],
        write: Callable[[list[tuple[Any, ...]]], None],
    ) -> None:
        """Write ``records``: those of trees open in runs being closed to those runs, the
        rest to the current run, starting a rotation where :meth:`split` says."""
        if not self.owner and _is_joining_header(records):
            self._join_newest(pipeline, records, write)
            return
        pending = records
        self._forget_foreign(pipeline)
        while True:
            if self.draining:
                pending = self._route_old(pipeline, pending, write)
            at, due = self.split(pipeline, pending)
            head = pending if at < 0 else pending[:at]
            self._track(head)
            write(head)
            if at < 0:
                return
            pending = pending[at:]
            self._start(pipeline, due if isinstance(due, dict) else None)

    def _forget_foreign(self, pipeline: Pipeline) -> None:
        """Once the owner has left a run, the parent's trees there have ended: a fork
        child no longer keeps that run for them (nor stays in it, if it is the current)."""
        if self.foreign and owner_left(pipeline.telemetry_path.parent):
            self.open -= self.foreign
            self.foreign = set()
        for draining in self.draining:
            if draining.foreign and owner_left(draining.path.parent):
                draining.open -= draining.foreign
                draining.foreign = set()

    def _track(self, records: list[tuple[Any, ...]]) -> None:
        opened = self.open
        for record in records:
            tag = record[0]
            if tag == START:
                opened.add(record[1])
            elif tag == END:
                opened.discard(record[1])

    def _holder(self, span_id: Any) -> _Draining | None:
        for draining in self.draining:
            if span_id in draining.open:
                return draining
        return None

    def _route_old(
        self,
        pipeline: Pipeline,
        records: list[tuple[Any, ...]],
        write: Callable[[list[tuple[Any, ...]]], None],
    ) -> list[tuple[Any, ...]]:
        """Write the records of the trees still open in runs being closed to those runs
        (closing each run whose last tree ended); return the rest, in order."""
        current: list[tuple[Any, ...]] = []
        for record in records:
            tag, holder = record[0], None
            if tag == START:
                holder = self._holder(record[2])  # its parent is open in that run
                if holder is not None:
                    holder.open.add(record[1])
            elif tag in (END, EVENT):
                span_id = record[1] if tag == END else record[2]
                holder = self._holder(span_id)
                if holder is not None and tag == END:
                    holder.open.discard(span_id)
            if holder is None:
                current.append(record)
            else:
                holder.records.append(record)
        for draining in list(self.draining):
            if draining.records:
                with draining.pointed(pipeline):
                    write(draining.records)
                draining.records = []
            if not draining.open:
                self._close_old(pipeline, draining)
        return current

    def _start(self, pipeline: Pipeline, follow: dict[str, str] | None) -> None:
        """Open (or join) the next run; the old one stays open for its open trees."""
        old_dir = pipeline.telemetry_path.parent
        draining = _Draining(pipeline, self.open)
        draining.foreign = self.foreign & self.open
        try:
            path, trace_id = self._switch(pipeline, follow)
        except Exception as exc:  # a full disk, say: the run goes on, unrotated
            self.max_bytes = self.every = None
            self.owner_pid = os.getpid()  # a follower stops looking for the next run too
            report("could not open the next run; this run goes on without rotation", exc=exc)
            return
        self.open, self.foreign = set(), set()
        self.opened = self._clock()
        self.rotations += 1
        self.spans_in_run = False
        self._size, self._written = 0, 0
        pipeline._header_written = False
        pipeline._write_header()  # the next run's header, before any span of it
        if follow is None:  # only now: a follower's first line must come after the header
            with _locked(draining.fd):  # see _join_newest
                write_next_run(old_dir, path.parent.name, trace_id, path)
        self.draining.append(draining)

    def _close_old(self, pipeline: Pipeline, draining: _Draining) -> None:
        """A closed run's last line of this process, and its log let go."""
        self.draining.remove(draining)
        if self.owner:  # before its last line: a fork child joining later goes on
            with _locked(draining.fd):  # (see _join_newest)
                mark_owner_left(draining.path.parent)
        with pipeline._count_lock:  # each run's process_end counts its own losses
            counts = (pipeline.dropped, pipeline.suppressed, pipeline.write_errors)
            pipeline.dropped = pipeline.suppressed = pipeline.write_errors = 0
        trailer = process_end_line(
            pipeline._pid(), wall_time(), *counts, pipeline._exporter_stats()
        )
        with draining.pointed(pipeline):
            pipeline._append([trailer])
        os.close(draining.fd)

    def close_at_shutdown(self, pipeline: Pipeline) -> None:
        """At shutdown: runs whose trees are still open (their spans were ended as
        abandoned on the way in, unless an end was lost) are closed all the same."""
        for draining in list(self.draining):
            self._close_old(pipeline, draining)

    def _switch(self, pipeline: Pipeline, follow: dict[str, str] | None) -> NextRun:
        """Open (or join) the next run and point the pipeline at its log."""
        path, trace_id = self._open_next(follow)
        pipeline._fd = open_append(path)
        pipeline.telemetry_path = path
        pipeline.trace_id = pipeline._make.trace_id = trace_id
        return path, trace_id

    def _join_newest(
        self,
        pipeline: Pipeline,
        records: list[tuple[Any, ...]],
        write: Callable[[list[tuple[Any, ...]]], None],
    ) -> None:
        """A follower's first line in a run: in the newest run of the chain.

        Looking for the next run and appending the header are one step under the
        log's lock, which the rotating process holds while it names the next run: so
        a header lands in a run either before that run was closed (and its closing
        waits for this process to leave it) or in the newest run, never unseen.
        """
        old_fd = pipeline._fd
        with _locked(old_fd):
            found = (
                None if self._stays(pipeline) else _last_of_chain(pipeline.telemetry_path.parent)
            )
            if found is not None:
                self._switch(pipeline, found)
                header = pipeline._header() if pipeline._header is not None else None
                records[:] = [] if header is None else [(records[0][0], header)]
            write(records)
        if found is not None:
            os.close(old_fd)

    def _stays(self, pipeline: Pipeline) -> bool:
        """Whether a fork child's first line goes to the run it was forked in, though
        rotated: the spans open in its parent at the fork may still be open there."""
        if not self.foreign:
            return False
        if not owner_left(pipeline.telemetry_path.parent):
            return True
        self.open -= self.foreign  # their trees ended
        self.foreign = set()
        return False

    def stats_since_last(self, stats: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """The exporters' counts since the previous cut (each run's ``process_end`` has its
        own), remembering these for the next."""
        since: dict[str, dict[str, Any]] = {}
        for name, counts in stats.items():
            base = self._stats_base.get(name, {})
            since[name] = {
                key: value - base.get(key, 0)
                if isinstance(value, int) and isinstance(base.get(key, 0), int)
                else value
                for key, value in counts.items()
            }
        self._stats_base = {name: dict(counts) for name, counts in stats.items()}
        return since


def _next_root(records: list[tuple[Any, ...]], start: int, opened: set[int]) -> int:
    """The index of the first span start at or after ``start`` whose parent is not open
    (given the spans open before ``records``), or -1."""
    if start >= len(records):
        return -1
    opened = set(opened)
    for index, record in enumerate(records):
        tag = record[0]
        if tag == START:
            if index >= start and record[2] not in opened:
                return index
            opened.add(record[1])
        elif tag == END:
            opened.discard(record[1])
    return -1


class _Draining:
    """A run being closed while its open span trees finish: its log, its trace id, its
    store of out-of-line values and its open spans."""

    def __init__(self, pipeline: Pipeline, opened: set[int]) -> None:
        self.fd = pipeline._fd
        self.path = pipeline.telemetry_path
        self.trace_id = pipeline.trace_id
        self.blobs = pipeline.blobs  # its store of out-of-line values (full capture)
        self.open = opened
        #: Those of ``open`` that are a fork child's parent's (see ``Rotation.foreign``).
        self.foreign: set[int] = set()
        self.records: list[tuple[Any, ...]] = []

    @contextlib.contextmanager
    def pointed(self, pipeline: Pipeline) -> Iterator[None]:
        """The pipeline writing to the old run for a moment (on the writer's thread)."""
        saved = (pipeline._fd, pipeline.telemetry_path, pipeline.trace_id, pipeline.blobs)
        pipeline._fd, pipeline.telemetry_path = self.fd, self.path
        pipeline.trace_id = pipeline._make.trace_id = self.trace_id
        pipeline.blobs = self.blobs
        try:
            yield
        finally:
            pipeline._fd, pipeline.telemetry_path, pipeline.trace_id, pipeline.blobs = saved
            pipeline._make.trace_id = saved[2]


def _is_joining_header(records: list[tuple[Any, ...]]) -> bool:
    """Whether ``records`` is a follower's first line in a run (its ``process_start``)."""
    if len(records) != 1 or records[0][0] != RAW:
        return False
    line = records[0][1]
    return isinstance(line, dict) and line.get("event") == "process_start"


@contextlib.contextmanager
def _locked(fd: int) -> Iterator[None]:
    """The log's exclusive lock, the one every append takes."""
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
