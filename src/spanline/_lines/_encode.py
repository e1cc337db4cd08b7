"""Queued tuples -> event dicts -> JSON lines. Runs on the writer thread only."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import orjson

from spanline.schema import END, EVENT, PHASE, PLAN, START

Event = dict[str, Any]

_OPTIONS = orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS
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
        return {
            "event": "span_start",
            "span_id": f"{span_id:016x}",
            "parent": hex_id(parent),
            "trace_id": trace_id,
            "name": name,
            "component": component,
            "kind": kind,
            "ts": ts,
            "attributes": dict(attributes) if attributes else {},
        }
    if tag == END:
        _, span_id, status, duration, ts, error, attributes, counters = record
        event: Event = {
            "event": "span_end",
            "span_id": f"{span_id:016x}",
            "status": status,
            # Microseconds are the precision of every millisecond figure spanline writes.
            "duration_ms": round(duration * 1000.0, 3),
            "tokens": 0,
            "tool_uses": 0,
            "ts": ts,
            "attributes": dict(attributes) if attributes else {},
        }
        if counters:
            event.update(counters)
        if error:
            event["error"] = dict(error)
        return event
    if tag == EVENT:
        _, name, span_id, ts, attributes = record
        return {
            "event": "event",
            "name": name,
            "span_id": hex_id(span_id),
            "ts": ts,
            "attributes": dict(attributes) if attributes else {},
        }
    if tag == PHASE:
        _, name, wall_ms, ts, counts = record
        return {
            "event": "phase",
            "name": name,
            "wall_ms": round(wall_ms, 3),
            "ts": ts,
            **dict(counts or ()),
        }
    if tag == PLAN:
        _, plan_id, name, kind, parent, ts, attributes = record
        return {
            "event": "span_planned",
            "plan_id": f"{plan_id:016x}",
            "name": name,
            "kind": kind,
            "parent": hex_id(parent),
            "ts": ts,
            "attributes": dict(attributes) if attributes else {},
        }
    # Process-level records (run_start, process_end...) are queued as dicts.
    return dict(record[1])


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
