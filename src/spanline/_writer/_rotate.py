"""Rotation: a long-lived process closes its run and goes on in the next one.

The writer sees every span start and end of its process, in the order they
are written, so it decides: once the run's log has passed its size limit, or
the run its age limit, the writer cuts the stream at the first moment no span
of the process is open. Everything before the cut goes to the old run's log,
followed by this process's ``process_end``; the session then opens the next
run (in the same session) and everything after the cut goes there, after the
new run's header. No span is cut in two: its start and its end are in the same
run, and a cut never waits for more than the spans already open.

A process that only joined the run (a fork child, a child process handed the
run) does not open runs: it follows. The process that rotates leaves the next
run's id, trace id and log in the old run's directory (:data:`NEXT_RUN`); a
follower looks for it on each pass of its writer and moves over at its own
first moment with no open span.

A span that stays open the whole time (a server's root span, say) holds the cut
off: the run grows until that span ends. ``docs/retention.md`` says so.
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

from spanline._hotpath._tracer import wall_time
from spanline._lines._encode import process_end_line
from spanline._lines._fileio import open_append
from spanline._lines._fileio import write_atomic as _write_atomic
from spanline.schema import END, RAW, START

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


def read_next_run(run_dir: Path) -> dict[str, str] | None:
    """The run that followed ``run_dir``'s run, or None (not rotated, or unreadable)."""
    try:
        record = orjson.loads((run_dir / NEXT_RUN).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
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
    """When the pipeline cuts its run, and how (held by the pipeline; None: no rotation).

    Args:
        max_bytes: cut once the log holds this many bytes (None: no size limit).
        every: cut once the run is this many seconds old (None: no age limit).
        open_next: the session's callback, on the writer thread at the cut: opens
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
        #: Span ids of this process started and not yet ended, in written order.
        self.open: set[int] = set()
        self.rotations = 0
        #: Whether a span started in the current run (a run without one is not cut).
        self.spans_in_run = False
        self._stats_base: dict[str, dict[str, Any]] = {}

    def after_fork(self) -> None:
        """A forked child follows the run; the parent's open spans are the parent's."""
        self.open = set()
        self._stats_base = {}

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
            return os.fstat(pipeline._fd).st_size >= self.max_bytes
        except OSError:
            return False

    def split(self, pipeline: Pipeline, records: list[tuple[Any, ...]]) -> tuple[int, Any]:
        """Where to cut ``records``: ``(index, due)``, index -1 for no cut in this batch.

        The open spans are followed across every record, cut or not.
        """
        # A run with no span yet is never cut: it would stay empty.
        due = self._due(pipeline) if self.spans_in_run or not self.owner else False
        cut = 0 if due is not False and not self.open else -1
        opened = self.open
        for index, record in enumerate(records):
            tag = record[0]
            if tag == START:
                opened.add(record[1])
                if cut < 0:  # past a cut, it is the next run's (see ``process``)
                    self.spans_in_run = True
            elif tag == END:
                opened.discard(record[1])
                if cut < 0 and due is not False and not opened:
                    cut = index + 1
        if cut == len(records):
            # Nothing after the cut: the next batch cuts at its start (still quiet then),
            # so a run is only opened for a span to write in it.
            cut = -1
        return cut, due

    def process(
        self,
        pipeline: Pipeline,
        records: list[tuple[Any, ...]],
        write: Callable[[list[tuple[Any, ...]]], None],
    ) -> None:
        """Write ``records``, cutting the run where :meth:`split` says."""
        if not self.owner and _is_joining_header(records):
            self._join_newest(pipeline, records, write)
            return
        cut, due = self.split(pipeline, records)
        if cut < 0:
            write(records)
            return
        tail = records[cut:]
        del records[cut:]
        write(records)
        records.clear()
        self._rotate(pipeline, due if isinstance(due, dict) else None)
        self.spans_in_run = any(record[0] == START for record in tail)
        records.extend(tail)
        write(records)

    def _rotate(self, pipeline: Pipeline, follow: dict[str, str] | None) -> None:
        """Close this process's part of the run and go on in the next one."""
        with pipeline._count_lock:  # each run's process_end counts its own losses
            counts = (pipeline.dropped, pipeline.suppressed, pipeline.write_errors)
            pipeline.dropped = pipeline.suppressed = pipeline.write_errors = 0
        trailer = process_end_line(
            pipeline._pid(), wall_time(), *counts, pipeline._exporter_stats()
        )
        pipeline._append([trailer])
        old_fd, old_dir = pipeline._fd, pipeline.telemetry_path.parent
        path, trace_id = self._switch(pipeline, follow)
        self.opened = self._clock()
        self.rotations += 1
        self.spans_in_run = False
        pipeline._header_written = False
        pipeline._write_header()  # the next run's header, before any span of it
        try:
            if follow is None:  # only now: a follower's first line must come after the header
                with _locked(old_fd):  # see _join_newest
                    write_next_run(old_dir, path.parent.name, trace_id, path)
        finally:
            os.close(old_fd)

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
            found = _last_of_chain(pipeline.telemetry_path.parent)
            if found is not None:
                self._switch(pipeline, found)
                header = pipeline._header() if pipeline._header is not None else None
                records[:] = [] if header is None else [(records[0][0], header)]
            write(records)
        if found is not None:
            os.close(old_fd)

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
