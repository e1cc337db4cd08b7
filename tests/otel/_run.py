"""One nested traced run, and what any OTLP destination must hold for it: the JSONL log
read independently of spanline's mapping (so a mapping bug cannot hide itself)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import spanline
from tests._helpers import by_kind, spans, validate_file


def nested_run(workers: int = 3) -> None:
    """An agent with ``workers`` agents under it (attributes set at start and end, a
    counter, an event, a tool each) and a failing tool."""
    with spanline.span("orchestrator", kind="agent", component="lead", query="q", n=workers):
        for i in range(workers):
            with spanline.span(f"worker-{i}", kind="agent", index=i, tags=["a", "b"]) as w:
                w.add(tokens=10 * i + 1, tool_uses=1)
                w.set_attribute("result", {"n": i, "ok": True})
                w.set_attribute("index", i + 100)  # end wins over start
                spanline.event("note", detail=f"d{i}", score=0.5)
                with spanline.span("tool.search", kind="tool", q=i, ratio=1.5, flag=False):
                    pass
        try:
            with spanline.span("tool.fail", kind="tool"):
                raise ValueError("boom")
        except ValueError:
            pass


def expected_spans(telemetry: Path) -> dict[str, dict[str, Any]]:
    """span_id -> what the OTel span must carry, straight from the log."""
    events = validate_file(telemetry)
    notes: dict[str, list[dict[str, Any]]] = {}
    for line in by_kind(events, "event"):
        notes.setdefault(line["span_id"], []).append(line)
    out = {}
    for span_id, span in spans(events).items():
        end = span["end"]
        attributes = dict(span["attrs"])
        for key in ("kind", "component"):
            if span.get(key) is not None:
                attributes[f"spanline.{key}"] = span[key]
        for key, value in end.items():
            if isinstance(value, int | float) and key not in ("ts", "pid"):
                attributes[f"spanline.{key}"] = value
        event_names = [n["name"] for n in notes.get(span_id, [])]
        if end["status"] == "error":
            event_names.append("exception")
        out[span_id] = {
            "name": span["name"],
            "trace_id": span["trace_id"],
            "parent": span["parent"],
            "start_ns": round(span["ts"] * 1e6) * 1000,
            "end_ns": round(end["ts"] * 1e6) * 1000,
            "status": end["status"],
            "message": f"{end['error']['type']}: {end['error']['message']}"
            if end.get("error")
            else "",
            "attributes": attributes,
            "event_names": event_names,
            "notes": [n["attributes"] for n in notes.get(span_id, [])],
        }
    return out


_STATUS = {0: "unset", 1: "ok", 2: "error"}


def _value(any_value: Any) -> Any:
    which = any_value.WhichOneof("value")
    if which == "array_value":
        return [_value(v) for v in any_value.array_value.values]
    return getattr(any_value, which)


def _plain(attributes: Any) -> dict[str, Any]:
    return {a.key: _value(a.value) for a in attributes}


def _json_or(value: Any) -> Any:
    """A value as the log holds it: mappings were sent as JSON text."""
    if isinstance(value, str) and value[:1] in "{[":
        return json.loads(value)
    return value


def received_spans(spans: list[Any]) -> dict[str, dict[str, Any]]:
    """span_id -> the received span, in the shape of :func:`expected_spans`."""
    out = {}
    for span in spans:
        notes = [e for e in span.events if e.name != "exception"]
        out[span.span_id.hex()] = {
            "name": span.name,
            "trace_id": span.trace_id.hex(),
            "parent": span.parent_span_id.hex() or None,
            "start_ns": span.start_time_unix_nano,
            "end_ns": span.end_time_unix_nano,
            "status": _STATUS[span.status.code],
            "message": span.status.message,
            "attributes": {k: _json_or(v) for k, v in _plain(span.attributes).items()},
            "event_names": [e.name for e in span.events],
            "notes": [_plain(e.attributes) for e in notes],
        }
    return out
