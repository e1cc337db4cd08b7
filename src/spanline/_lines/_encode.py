"""The line format of telemetry.jsonl: every line type, and its encoding.

Queued tuples -> event dicts -> JSON lines on the writer thread; the session's
header lines, the writer's trailer and ``spanline emit`` build theirs with the
same functions."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from spanline.schema import COUNT_MAX, END, EVENT, PHASE, PLAN, SCHEMA_VERSION, START

Event = dict[str, Any]


class _ImportedOnUse:
    """Stands for orjson until a line is first encoded: importing orjson loads ``uuid``,
    ``platform``, ``datetime``, ``dataclasses`` and ``inspect`` (about 10 ms), which
    ``configure_observability()`` would pay on the caller's thread. The writer thread
    encodes first and imports it there.

    A fork waits while that import runs (it holds :data:`THREAD_IMPORTS` through the
    fork): the child would inherit the import locks the writer thread holds, and hang
    on its own first line.
    """

    def __getattr__(self, name: str) -> Any:
        global orjson
        with THREAD_IMPORTS:
            import orjson as module

        orjson = module
        return getattr(module, name)


#: Held while one of spanline's threads imports or builds, as a run starts, what a
#: forked child needs too (orjson here; the host name's ``socket``, the redaction
#: rules, the metadata thread's modules): every fork takes it and holds it through
#: the fork (``spanline._writer._fork``), or the child would inherit the import locks
#: (or the rules' lock) held, and hang.
THREAD_IMPORTS = threading.RLock()


if TYPE_CHECKING:
    import orjson
else:
    orjson = _ImportedOnUse()

#: ``orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS``, by value (orjson's
#: documented option bits): reading them would import orjson.
_OPTIONS = 1 << 10 | 1 << 2
_MAX_DEPTH = 200  # orjson refuses deeper nesting (its limit is 254)


def hex_id(value: int | None) -> str | None:
    """A span id as 16 lowercase hex characters (None stays None)."""
    return None if value is None else f"{value:016x}"


def to_event(record: tuple[Any, ...], trace_id: str) -> Event:
    """Turn one queued tuple into the event dict written to telemetry.jsonl.

    Args:
        record: a tuple built by the tracer (first item is its tag).
        trace_id: the run's trace id (32 hex characters).

    Returns:
        The event, with the field names of the telemetry schema.
    """
    tag = record[0]
    if tag == START:
        _, span_id, parent, name, component, kind, ts, attributes = record
        return span_start_line(
            f"{span_id:016x}", hex_id(parent), trace_id, name, component, kind, ts,
            dict(attributes) if attributes else {},
        )  # fmt: skip
    if tag == END:
        _, span_id, status, duration, ts, error, attributes, counters = record
        return span_end_line(
            f"{span_id:016x}", status, duration * 1000.0, ts,
            dict(attributes) if attributes else {}, counters, error,
        )  # fmt: skip
    if tag == EVENT:
        _, name, span_id, ts, attributes = record
        return event_line(name, hex_id(span_id), ts, dict(attributes) if attributes else {})
    if tag == PHASE:
        _, name, wall_ms, ts, counts = record
        return phase_line(name, wall_ms, ts, dict(counts or ()))
    if tag == PLAN:
        _, plan_id, name, kind, parent, ts, attributes = record
        return planned_line(
            f"{plan_id:016x}", name, kind, hex_id(parent), ts,
            dict(attributes) if attributes else {},
        )  # fmt: skip
    # Process-level records (run_start, process_end...) are queued as dicts.
    return dict(record[1])


# -- every line type of telemetry.jsonl, built in one place ------------------------------
# The tracer's records (through to_event), the session's headers, the writer's trailer
# and `spanline emit`'s lines all come from these, so their fields and key order agree.


def span_start_line(
    span_id: str,
    parent: str | None,
    trace_id: str,
    name: str,
    component: str | None,
    kind: str | None,
    ts: float,
    attributes: dict[str, Any],
) -> Event:
    """A ``span_start`` line (ids as hex text)."""
    return {
        "event": "span_start",
        "span_id": span_id,
        "parent": parent,
        "trace_id": trace_id,
        "name": name,
        "component": component,
        "kind": kind,
        "ts": ts,
        "attributes": attributes,
    }


def span_end_line(
    span_id: str,
    status: str,
    duration_ms: float,
    ts: float,
    attributes: dict[str, Any],
    counters: Iterable[tuple[str, Any]] | Mapping[str, Any] | None = None,
    error: Mapping[str, Any] | None = None,
) -> Event:
    """A ``span_end`` line: ``tokens`` and ``tool_uses`` always (0 unless ``counters``
    set them), then the other counters; ``error`` when given."""
    event: Event = {
        "event": "span_end",
        "span_id": span_id,
        "status": status,
        # Microseconds are the precision of every millisecond figure spanline writes.
        "duration_ms": round(duration_ms, 3),
        "tokens": 0,
        "tool_uses": 0,
        "ts": ts,
        "attributes": attributes,
    }
    if counters:
        event.update(counters)
    if error:
        event["error"] = dict(error)
    return event


def event_line(name: str, span_id: str | None, ts: float, attributes: dict[str, Any]) -> Event:
    """An ``event`` line (a coordination event, an assessment...)."""
    return {"event": "event", "name": name, "span_id": span_id, "ts": ts, "attributes": attributes}


def phase_line(name: str, wall_ms: float, ts: float, counts: Mapping[str, Any]) -> Event:
    """A ``phase`` line: a milestone, with the caller's counts after its fields."""
    return {"event": "phase", "name": name, "wall_ms": round(wall_ms, 3), "ts": ts, **counts}


def planned_line(
    plan_id: str, name: str, kind: str | None, parent: str | None, ts: float,
    attributes: dict[str, Any],
) -> Event:  # fmt: skip
    """A ``span_planned`` line: work declared before it starts."""
    return {
        "event": "span_planned",
        "plan_id": plan_id,
        "name": name,
        "kind": kind,
        "parent": parent,
        "ts": ts,
        "attributes": attributes,
    }


def _process_line(
    event: str, ts: float, run_id: str, pid: int, trace_id: str, host: str | None
) -> Event:
    line: Event = {"event": event, "ts": ts, "run_id": run_id, "pid": pid, "trace_id": trace_id}
    if host is not None:  # readers check a pid only on the host that wrote it
        line["host"] = host
    return line


def run_start_line(
    ts: float, run_id: str, pid: int, trace_id: str, host: str | None, **fields: Any
) -> Event:
    """The run's first line, written by the process that created the run: the
    schema version, then ``fields`` (service, source, versions...) in their order."""
    return {
        **_process_line("run_start", ts, run_id, pid, trace_id, host),
        "schema_version": SCHEMA_VERSION,
        **fields,
    }


def process_start_line(
    ts: float, run_id: str, pid: int, trace_id: str, host: str | None, ppid: int
) -> Event:
    """The first line of another process joining the run."""
    return {**_process_line("process_start", ts, run_id, pid, trace_id, host), "ppid": ppid}


def integration_line(ts: float, name: str, version: str, loaded: bool) -> Event:
    """The line of an ``instrument()`` (``loaded``) or ``uninstrument()`` call made while
    tracing is on."""
    return {"event": "integration", "ts": ts, "name": name, "version": version, "loaded": loaded}


def process_end_line(
    pid: int,
    ts: float,
    dropped_events: int,
    suppressed_spans: int,
    write_errors: int,
    exporters: Mapping[str, Any],
) -> Event:
    """A process's last line, with its counters and its exporters' statistics.

    A count past 64 bits is written as the largest one a reader accepts (more would
    make the line unreadable, and a process cannot count that far in practice)."""
    return {
        "event": "process_end",
        "pid": pid,
        "ts": ts,
        "dropped_events": min(dropped_events, COUNT_MAX),
        "suppressed_spans": min(suppressed_spans, COUNT_MAX),
        "write_errors": min(write_errors, COUNT_MAX),
        "exporters": dict(exporters),
    }


def guard_marker(exc: BaseException, what: str = "repr") -> str:
    """The text that replaces a value whose conversion raised.

    For example ``<repr failed: SystemExit>``.
    """
    return f"<{what} failed: {type(exc).__name__}>"


def _default(value: Any) -> str:
    """orjson fallback: anything it cannot serialize is stored as its repr.

    User code runs here, on the writer thread: whatever it raises (even
    ``SystemExit`` or ``KeyboardInterrupt``) becomes a marker, never the
    writer's death.
    """
    try:
        return repr(value)
    except BaseException as exc:
        return guard_marker(exc)


def _sanitize(value: Any, depth: int = 0) -> Any:
    """Make a value orjson accepts: big ints as strings, deep nesting as repr."""
    if depth > _MAX_DEPTH:
        return _default(value)
    if isinstance(value, bool) or value is None or isinstance(value, (str, float)):
        return value
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**64 else str(value)
    if isinstance(value, Mapping):
        return {str(k): _sanitize(v, depth + 1) for k, v in list(value.items())}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_sanitize(v, depth + 1) for v in list(value)]
    return value  # orjson's default= handles the rest


def encode(event: Mapping[str, Any]) -> bytes:
    """Serialize one event as a JSON line; never raises.

    Returns:
        UTF-8 JSON followed by a newline.
    """
    try:
        return orjson.dumps(event, default=_default, option=_OPTIONS)
    except (orjson.JSONEncodeError, TypeError, RecursionError):
        pass
    try:
        return orjson.dumps(_sanitize(event), default=_default, option=_OPTIONS)
    except BaseException as exc:  # last resort: keep the line, lose only the attributes
        safe = {k: v for k, v in event.items() if k not in ("attributes",)}
        safe["attributes"] = {"spanline.encode_error": _default(exc)}
        return orjson.dumps(_sanitize(safe), default=_default, option=_OPTIONS)


def encode_many(events: Iterable[Mapping[str, Any]], sink: Callable[[bytes], Any]) -> None:
    """Serialize events one after another into ``sink`` (e.g. ``bytearray.extend``)."""
    for event in events:
        sink(encode(event))


def encode_value(value: Any) -> bytes:
    """One JSON value (a float, a list of floats) as the line encoder writes it, with no
    newline: the writer's templates fill their gaps with these."""
    return orjson.dumps(value)
