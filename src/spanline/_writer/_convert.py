"""Turning queued records into events, with the user code that may run guarded.

Converting an attribute value may run user code (``__repr__``, ``__str__``,
serializers): :class:`EventMaker` makes sure nothing it raises escapes (the
value becomes a marker), and :class:`Converter` runs it on a helper thread the
writer watches, so a call that hangs costs the writer a bounded wait.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from spanline._hotpath._runtime import mark_internal_thread
from spanline._lines._encode import Event, guard_marker, to_event

__all__ = ["CONVERT_BOUND", "PLAIN", "Converter", "EventMaker", "masked"]

#: Value types whose conversion runs no user code.
PLAIN: frozenset[type] = frozenset({str, int, float, bool, type(None)})
_CONTAINERS: frozenset[type] = frozenset({dict, list, tuple, set, frozenset})


def masked(event: Event, types: frozenset[type] | None, why: str) -> Event:
    """``event`` with attribute values of ``types`` (None: every non-plain type) as markers."""
    attributes = event.get("attributes")
    if not attributes:
        return event
    values = {
        key: f"<{why} {type(value).__name__}>"
        if (type(value) in types if types is not None else type(value) not in PLAIN)
        else value
        for key, value in attributes.items()
    }
    return {**event, "attributes": values}


class EventMaker:
    """Record -> event for one pipeline: ``to_event`` then the transform (redaction).

    Args:
        trace_id: the run's trace id.
        transform: applied to every event (None: none).
    """

    def __init__(self, trace_id: str, transform: Callable[[Event], Event] | None) -> None:
        self.trace_id = trace_id
        self.transform = transform

    def event(self, record: tuple[Any, ...], slow: frozenset[type] = frozenset()) -> Event:
        """One record as its (redacted) event; user code it runs cannot kill the writer.

        Values of a type whose conversion once hung (``slow``) are not tried again.
        """
        try:
            event = to_event(record, self.trace_id)
            if slow:
                event = masked(event, slow, "repr skipped: slow")
            return event if self.transform is None else self.transform(event)
        except BaseException as exc:  # SystemExit from a __repr__, say
            return self._salvage(record, exc)

    def _salvage(self, record: tuple[Any, ...], exc: BaseException) -> Event:
        """The event with each attribute whose conversion fails replaced by a marker."""
        event = to_event(record, self.trace_id)
        transform = self.transform or (lambda e: e)
        attributes = event.get("attributes") or {}
        safe: dict[str, Any] = {}
        for key, value in attributes.items():
            try:
                transform({"event": "event", "attributes": {key: value}})
                safe[key] = value
            except BaseException as failure:
                safe[key] = guard_marker(failure)
        try:
            return transform({**event, "attributes": safe})
        except BaseException:
            return transform({**event, "attributes": {"spanline.encode_error": guard_marker(exc)}})

    def salvage_slow(self, record: tuple[Any, ...], slow: frozenset[type]) -> Event:
        """A record whose conversion hung: its plain values kept, the others marked."""
        event = masked(to_event(record, self.trace_id), None, "repr timed out:")
        return event if self.transform is None else self.transform(event)


#: Longest time one record's conversion (user ``__repr__``/``__str__``) may go
#: without progress before the writer stops waiting for it.
CONVERT_BOUND = 0.5


class _Job:
    __slots__ = ("abandoned", "done", "out", "records")

    def __init__(self, records: Sequence[Any]) -> None:
        self.records = records
        self.out: list[Any] = []
        self.done = threading.Event()
        self.abandoned = False


class Converter:
    """Turns queued records into events on a helper thread the writer watches.

    Converting runs user code (``__repr__``, ``__str__``, serializers of
    attribute values), which may be slow or never return. The writer hands a
    batch over and waits; when a record makes no progress for ``bound``
    seconds, the writer keeps what was converted, has ``salvage`` stand in for
    that record, leaves the stuck helper behind (it ends once the call
    returns) and goes on with a fresh one. Types seen stuck are remembered, so
    a slow type costs the bound once, not once per value.

    Args:
        convert: record -> event; may run user code (it gets the slow types
            to skip).
        salvage: record -> event without running user code.
        bound: seconds without progress before a record is given up on.
    """

    def __init__(
        self,
        convert: Callable[[Any, frozenset[type]], Any],
        salvage: Callable[[Any, frozenset[type]], Any],
        bound: float = CONVERT_BOUND,
    ) -> None:
        self._convert = convert
        self._salvage = salvage
        self.bound = bound
        self.slow_types: frozenset[type] = frozenset()
        #: Records converted so far, counted one by one: how the writer's watchdog
        #: sees progress inside a batch that takes longer than its deadline.
        self.converted = 0
        self._jobs: deque[_Job | None] | None = None
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def run(self, records: Sequence[Any]) -> list[Any]:
        """Convert ``records`` in order; returns within ``bound`` per stuck record."""
        out: list[Any] = []
        while records:
            job = _Job(records)
            self._hand_over(job)
            seen = -1
            while not job.done.wait(self.bound):
                progress = len(job.out)
                if progress != seen:
                    seen = progress  # still moving: a long batch, not a stuck call
                    continue
                job.abandoned = True
                self._thread = None  # the next batch gets a fresh helper
                stuck = records[progress]
                self.slow_types = self.slow_types | _value_types(stuck)
                out.extend(job.out[:progress])
                out.append(self._salvage(stuck, self.slow_types))
                records = records[progress + 1 :]
                break
            else:
                out.extend(job.out)
                return out
        return out

    def stop(self, timeout: float) -> None:
        """End the helper thread (a stuck one ends once its call returns)."""
        thread, jobs = self._thread, self._jobs
        self._thread = None
        if thread is not None and jobs is not None:
            jobs.append(None)
            self._wake.set()
            thread.join(timeout)

    def _hand_over(self, job: _Job) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._jobs = deque()
            self._wake = threading.Event()
            self._thread = threading.Thread(
                target=self._loop,
                args=(self._jobs, self._wake),
                name="spanline-convert",
                daemon=True,
            )
            self._thread.start()
        assert self._jobs is not None
        self._jobs.append(job)
        self._wake.set()

    def _loop(self, jobs: deque[_Job | None], wake: threading.Event) -> None:
        mark_internal_thread()
        while True:
            wake.wait()
            wake.clear()
            while jobs:
                job = jobs.popleft()
                if job is None:
                    return
                for record in job.records:
                    event = self._convert(record, self.slow_types)
                    if job.abandoned:
                        return  # given up on: the writer has a fresh helper
                    job.out.append(event)
                    self.converted += 1  # this helper alone writes it
                job.done.set()


def _value_types(record: Any) -> frozenset[type]:
    """The types of the attribute values of a queued record that run user code."""
    found: set[type] = set()
    for item in record:
        if isinstance(item, tuple):
            for pair in item:
                if isinstance(pair, tuple) and len(pair) == 2:
                    kind = type(pair[1])
                    # A container is not to blame for what it holds: only its own type.
                    if kind not in PLAIN and kind not in _CONTAINERS:
                        found.add(kind)
    return frozenset(found)
