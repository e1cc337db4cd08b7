"""The run profile's fields, with their names and types; every line validates."""

from __future__ import annotations

import importlib.resources
import json
import math
from pathlib import Path

import jsonschema
import pytest

import spanline
from spanline.schema import schema
from tests._helpers import by_kind, configure, finish, one, spans, validate_event

REF_START = {"event", "span_id", "parent", "component", "kind", "ts"}
REF_END = {"event", "span_id", "status", "duration_ms", "tokens", "tool_uses", "ts"}
REF_PHASE = {"event", "name", "wall_ms", "ts"}


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def test_shipped_schema_file_is_the_published_schema_and_is_valid() -> None:
    text = importlib.resources.files("spanline").joinpath("telemetry.schema.json").read_text()
    assert json.loads(text) == schema()
    jsonschema.Draft202012Validator.check_schema(schema())


def test_reference_001_fields_have_their_names_and_types(tmp_path: Path) -> None:
    run = configure(tmp_path)
    tracer = spanline.get_tracer()
    with tracer.span("phase-depth2", kind="phase"):
        with tracer.span("lib-encoding", kind="library-analysis", component="encoding") as span:
            span.add(tokens=42100, tool_uses=31)
    tracer.phase("library-depth-0-complete", libraries=9)
    _, events = finish(run)

    (start,) = [e for e in by_kind(events, "span_start") if e["name"] == "lib-encoding"]
    (end,) = [e for e in by_kind(events, "span_end") if e["span_id"] == start["span_id"]]
    (phase_span,) = [e for e in by_kind(events, "span_start") if e["name"] == "phase-depth2"]
    (phase,) = by_kind(events, "phase")

    assert start.keys() >= REF_START
    assert start["event"] == "span_start"
    assert isinstance(start["span_id"], str) and len(start["span_id"]) == 16
    assert start["parent"] == phase_span["span_id"]
    assert start["component"] == "encoding" and start["kind"] == "library-analysis"
    assert isinstance(start["ts"], float) and start["ts"] > 1e9

    assert end.keys() >= REF_END
    assert end["status"] == "ok"
    assert _is_number(end["duration_ms"]) and end["duration_ms"] >= 0
    assert end["tokens"] == 42100 and isinstance(end["tokens"], int)
    assert end["tool_uses"] == 31 and isinstance(end["tool_uses"], int)
    assert isinstance(end["ts"], float) and end["ts"] >= start["ts"]

    assert phase.keys() >= REF_PHASE
    assert phase["name"] == "library-depth-0-complete"
    assert phase["libraries"] == 9 and isinstance(phase["libraries"], int)
    assert _is_number(phase["wall_ms"]) and phase["wall_ms"] >= 0
    assert isinstance(phase["ts"], float)
    assert phase_span["parent"] is None


def test_every_kind_of_line_validates(tmp_path: Path) -> None:
    """run_start, span_start/end (ok, error, counters), event, phase, process_end."""
    run = configure(tmp_path)
    tracer = spanline.get_tracer()
    with tracer.span("root", kind="run", component="lead") as root:
        root.add(analyses_written=2, cost_units=0.5)
        root.set_attribute("gen_ai.request.model", "x")
        tracer.event("vote", agent_id="a", voted_for="b.1")
        with pytest.raises(KeyError), tracer.span("fails"):
            raise KeyError("missing")
        with tracer.span("status") as span:
            span.set_status("error", "handled")
    tracer.event("outside")
    tracer.phase("done", libraries=3, note="text is allowed")
    _, events = finish(run)
    kinds = {e["event"] for e in events}
    assert kinds == {"run_start", "span_start", "span_end", "event", "phase", "process_end"}
    assert events[0]["event"] == "run_start" and events[-1]["event"] == "process_end"
    merged = spans(events)
    failed = next(s for s in merged.values() if s["name"] == "fails")["end"]
    assert failed["status"] == "error"
    assert failed["error"]["type"] == "KeyError"
    assert "missing" in failed["error"]["message"]
    assert "KeyError" in failed["error"]["stacktrace"]
    status = next(s for s in merged.values() if s["name"] == "status")["end"]
    assert status["status"] == "error" and status["error"]["message"] == "handled"
    root_end = next(s for s in merged.values() if s["name"] == "root")["end"]
    assert root_end["analyses_written"] == 2 and root_end["cost_units"] == 0.5
    (vote,) = [e for e in by_kind(events, "event") if e["name"] == "vote"]
    assert vote["span_id"] == root.span_id
    assert vote["attributes"] == {"agent_id": "a", "voted_for": "b.1"}
    (outside,) = [e for e in by_kind(events, "event") if e["name"] == "outside"]
    assert outside["span_id"] is None


def test_contract_3_attribute_keys_always_present_start_then_end(tmp_path: Path) -> None:
    run = configure(tmp_path)
    tracer = spanline.get_tracer()
    with spanline.context(round_number=1), tracer.span("s", color="red") as span:
        span.set_attribute("color", "blue")
        span.set_attribute("late", True)
    with tracer.span("bare"):
        pass
    _, events = finish(run)
    s = one(events, "s")
    assert s["attributes"] == {"round_number": 1, "color": "red"}
    assert s["end"]["attributes"] == {"color": "blue", "late": True}
    assert s["attrs"]["color"] == "blue"  # end wins
    bare = one(events, "bare")
    assert bare["attributes"] == {} and bare["end"]["attributes"] == {}


def test_contract_4_counters_are_own_counts_and_defaults_are_zero(tmp_path: Path) -> None:
    run = configure(tmp_path)
    tracer = spanline.get_tracer()
    with tracer.span("agent", kind="agent") as parent:
        parent.add(tokens=5)
        parent.add(tokens=5, files=1)
        with tracer.span("child") as child:
            child.add(tokens=7, tool_uses=2, files=2)
    with tracer.span("orphan") as orphan:
        orphan.add(tokens=100)
    summary, events = finish(run)
    agent_end = one(events, "agent")["end"]
    assert agent_end["tokens"] == 10 and agent_end["tool_uses"] == 0 and agent_end["files"] == 1
    assert one(events, "child")["end"]["tokens"] == 7
    assert summary.totals.total_tokens == 117  # parentless spans included
    assert summary.totals.total_tool_uses == 2
    assert summary.totals.counters["files"] == 3
    (agent,) = summary.agents
    assert agent.tokens == 17 and agent.tool_uses == 2  # subtree sums by the fold


def test_huge_integer_counter_keeps_the_line_valid(tmp_path: Path) -> None:
    run = configure(tmp_path)
    tracer = spanline.get_tracer()
    try:
        with tracer.span("huge") as span:
            span.add(tokens=2**70)
    except (TypeError, ValueError):
        pass  # rejecting it up front is fine too
    finish(run)  # validates every line


def test_non_finite_counters_keep_the_line_valid(tmp_path: Path) -> None:
    run = configure(tmp_path)
    tracer = spanline.get_tracer()
    for value in (math.nan, math.inf):
        try:
            with tracer.span("nan") as span:
                span.add(tokens=value)
        except (TypeError, ValueError):
            pass
    finish(run)


def test_non_string_component_or_kind_keeps_the_line_valid(tmp_path: Path) -> None:
    run = configure(tmp_path)
    tracer = spanline.get_tracer()
    for options in ({"component": 5}, {"kind": 7}):
        try:
            with tracer.span("odd", **options):
                pass
        except TypeError:
            pass
    finish(run)


def test_unserializable_attributes_become_their_repr(tmp_path: Path) -> None:
    class Opaque:
        def __repr__(self) -> str:
            return "<Opaque thing>"

    class Broken:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    cyclic: dict[str, object] = {"name": "loop"}
    cyclic["self"] = cyclic
    run = configure(tmp_path)
    tracer = spanline.get_tracer()
    with tracer.span("attrs", opaque=Opaque(), tuple_key={(1, 2): "x"}) as span:
        span.set_attribute("broken", Broken())
        span.set_attribute("cyclic", cyclic)
        span.set_attribute("bytes", b"\x00\xff")
        span.set_attribute("big", 2**100)
        span.set_attribute("nan", math.nan)
        span.set_attribute("set", {3})
    tracer.event("evt", opaque=Opaque(), cyclic=cyclic)
    _, events = finish(run)  # every line validates
    attrs = one(events, "attrs")["attrs"]
    assert attrs["opaque"] == "<Opaque thing>"
    assert isinstance(attrs["broken"], str) and "Broken" in attrs["broken"]
    assert attrs["cyclic"]["name"] == "loop"
    assert isinstance(attrs["big"], (int, str))
    assert str(attrs["big"]) == str(2**100)
    (evt,) = [e for e in by_kind(events, "event") if e["name"] == "evt"]
    validate_event(evt)
    assert evt["attributes"]["opaque"] == "<Opaque thing>"
