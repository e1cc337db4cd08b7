"""The summary fold: the run summary's fields, counters (totals are sums of every span's own
counts), agents and phases, bad lines skipped."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema

import spanline
from spanline.folds import read_events, summarize, summarize_file
from spanline.schema import schema
from tests._helpers import read_lines


def _span(tracer, name, kind=None, **counters):
    span = tracer.span(name, kind=kind)
    span.__enter__()
    if counters:
        span.add(**counters)
    return span


def test_reference_fields_and_schema(traced: spanline.Run) -> None:
    tracer = spanline.get_tracer()
    with tracer.span("run", kind="run"):
        with tracer.span("library_depth_0", kind="phase"):
            for i in range(3):
                with tracer.span(f"lib-{i}", kind="library-analysis", component=f"c{i}") as lib:
                    lib.add(tokens=100, analyses_written=1)
                    with tracer.span("tool.read", kind="tool") as tool:
                        tool.add(tool_uses=1, tokens=5)
        tracer.phase("library-depth-0-complete", libraries=3)
        tracer.event("vote", agent_id="a")
    summary = spanline.shutdown()
    validator = jsonschema.Draft202012Validator(schema())
    lines = read_lines(traced.telemetry_path)
    for line in lines:
        validator.validate(line)
    for event, fields in {
        "span_start": {"span_id": str, "parent": (str, type(None)), "component": (str, type(None))},
        "span_end": {"span_id": str, "status": str, "duration_ms": float, "tokens": int},
        "phase": {"name": str, "libraries": int, "wall_ms": float, "ts": float},
    }.items():
        sample = next(e for e in lines if e["event"] == event)
        for name, kind in fields.items():
            assert isinstance(sample[name], kind), (event, name)
    assert next(e for e in lines if e["event"] == "span_start")["kind"] == "run"
    assert next(e for e in lines if e["event"] == "span_end")["tool_uses"] in (0, 1)

    data = json.loads(traced.summary_path.read_text())
    assert data == summary.to_dict()
    assert set(data) >= {
        "run_id",
        "source_repo",
        "source_commit",
        "total_wall_ms",
        "phases",
        "totals",
        "errors",
        "dropped_events",
        "span_count",
    }
    assert data["run_id"] == traced.run_id
    assert list(data["phases"]) == ["library_depth_0"]
    assert data["phases"]["library_depth_0"]["agents"] == 3
    assert data["phases"]["library_depth_0"]["wall_ms"] > 0
    assert data["totals"]["agents_spawned"] == 3
    assert data["totals"]["total_tokens"] == 315  # own counts summed, children not double counted
    assert data["totals"]["total_tool_uses"] == 3
    assert data["totals"]["analyses_written"] == 3
    assert data["span_count"] == 8
    assert data["milestones"][0]["libraries"] == 3


def _events(*specs: dict) -> list[dict]:
    return [dict(spec) for spec in specs]


def start(sid, name, kind=None, parent=None, ts=0.0, **attrs):
    return {"event": "span_start", "span_id": sid, "parent": parent, "name": name,
            "kind": kind, "component": None, "trace_id": "0" * 32, "ts": ts,
            "attributes": attrs}  # fmt: skip


def end(sid, ms, ts=0.0, status="ok", **counters):
    return {"event": "span_end", "span_id": sid, "status": status, "duration_ms": ms,
            "tokens": 0, "tool_uses": 0, "ts": ts, "attributes": {}, **counters}  # fmt: skip


INVOKE_AGENT = {"gen_ai.operation.name": "invoke_agent"}


def test_agents_count_in_their_nearest_phase_only() -> None:
    events = [
        start("p1", "outer", "phase", ts=0),
        start("p2", "inner", "phase", parent="p1", ts=1),
        start("a1", "agent-1", "agent", parent="p2", ts=2),
        start("a2", "agent-2", "synthesis", parent="p1", ts=2),
        start("a3", "custom", "worker", parent="a2", ts=3, **INVOKE_AGENT),
        start("x", "not-agent", "tool", parent="p2", ts=3),
        end("x", 1, ts=3), end("a3", 1, ts=4), end("a2", 2, ts=4), end("a1", 2, ts=4),
        end("p2", 3000, ts=4), end("p1", 4000, ts=4),
    ]  # fmt: skip
    summary = summarize(events)
    assert summary.totals.agents_spawned == 3
    assert summary.to_dict()["phases"] == {
        "outer": {"wall_ms": 4000.0, "agents": 2},
        "inner": {"wall_ms": 3000.0, "agents": 1},
    }
    custom = summarize(events, agent_kinds={"worker"})
    assert custom.totals.agents_spawned == 1  # only a3: kind worker (and invoke_agent)


def test_phase_events_fill_phases_only_without_phase_spans() -> None:
    events = [
        {"event": "phase", "name": "discovery", "wall_ms": 1200.0, "ts": 1.0},
        {"event": "phase", "name": "library_depth_0", "wall_ms": 68400.0, "ts": 2.0, "agents": 9},
    ]
    summary = summarize(events).to_dict()
    assert summary["phases"] == {
        "discovery": {"wall_ms": 1200.0},
        "library_depth_0": {"wall_ms": 68400.0, "agents": 9},
    }
    assert [m["name"] for m in summary["milestones"]] == ["discovery", "library_depth_0"]
    with_span = summarize([*events, start("p", "real", "phase"), end("p", 5.0)]).to_dict()
    assert list(with_span["phases"]) == ["real"]


def test_errors_dropped_and_open_spans() -> None:
    events = [
        start("a", "ok-span"), end("a", 1),
        start("b", "bad-span", "agent"),
        {**end("b", 2, status="error"), "error": {"type": "KeyError", "message": "'k'"}},
        start("c", "never-ended", ts=5.0),
        {"event": "process_end", "pid": 1, "ts": 9.0, "dropped_events": 4},
        {"event": "process_end", "pid": 2, "ts": 9.0, "dropped_events": 3},
    ]  # fmt: skip
    summary = summarize(events)
    assert [(e.name, e.type, e.message) for e in summary.errors] == [
        ("bad-span", "KeyError", "'k'")
    ]
    assert summary.dropped_events == 7
    assert summary.open_spans == 1
    assert summary.span_count == 3


def test_torn_and_garbage_lines_are_reported_and_skipped(traced: spanline.Run, tmp_path) -> None:
    tracer = spanline.get_tracer()
    with tracer.span("run", kind="run"):
        for i in range(5):
            with tracer.span(f"agent-{i}", kind="agent") as agent:
                agent.add(tokens=10)
    spanline.shutdown()
    clean = summarize_file(traced.telemetry_path)
    path = tmp_path / "copy" / "telemetry.jsonl"
    path.parent.mkdir()
    original = traced.telemetry_path.read_bytes()
    lines = original.splitlines(keepends=True)
    damaged = b"".join([*lines[:3], b"this is not json\n", *lines[3:]]) + b'{"event": "span_st'
    path.write_bytes(damaged)

    events, problems = read_events(path)
    assert [(p.line, p.error.split(":")[0]) for p in problems] == [
        (4, "invalid JSON"),
        (len(lines) + 2, "invalid JSON (torn last line)"),
    ]
    assert all(p.file == str(path) for p in problems)
    assert len(events) == len(lines)
    summary = summarize_file(path)
    assert summary.totals == clean.totals
    assert summary.span_count == clean.span_count == 6
    assert [d["line"] for d in summary.skipped_lines] == [4, len(lines) + 2]

    cli = subprocess.run(
        [sys.executable, "-m", "spanline", "summary", str(path.parent), "--json"],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout)["totals"]["total_tokens"] == 50
    assert f"{path}:4:" in cli.stderr


def test_refold_from_disk_equals_shutdown_summary(traced: spanline.Run) -> None:
    with spanline.span("x", kind="agent") as span:
        span.add(tokens=7)
    written = spanline.shutdown()
    assert summarize_file(traced.telemetry_path) == written


def test_cli_summary_of_latest_run_and_errors(traced: spanline.Run, tmp_path: Path) -> None:
    with spanline.span("only"):
        pass
    spanline.shutdown()
    base = traced.base
    ok = subprocess.run(
        [sys.executable, "-m", "spanline", "--dir", str(base), "summary", "--json"],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["run_id"] == traced.run_id
    missing = subprocess.run(
        [sys.executable, "-m", "spanline", "--dir", str(tmp_path / "none"), "summary"],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert missing.returncode != 0
    assert missing.stderr.startswith("spanline: error:") and "Traceback" not in missing.stderr


def test_lines_with_odd_types_never_crash_the_fold(tmp_path: Path) -> None:
    import orjson

    odd = [
        {"event": "run_start", "run_id": 5, "source_repo": ["x"], "agent_kinds": "agent"},
        {"event": "span_start", "span_id": "a", "kind": ["agent"], "parent": {"x": 1},
         "name": 7, "ts": "soon", "attributes": [1]},
        {"event": "span_end", "span_id": "a", "status": 3, "duration_ms": "long",
         "tokens": "many", "tool_uses": None, "ts": 1.0, "error": "boom",
         "attributes": {"gen_ai.usage.input_tokens": "x", "gen_ai.request.model": 5}},
        {"event": "phase", "name": ["p"], "wall_ms": "x", "ts": 2},
        start("b", "ph", "phase", ts=1.0),
        start("c", "ag", "agent", parent="b", ts=1.0, **{"gen_ai.agent.id": 3}),
        {**end("c", 2, ts=1.0, status="error"), "error": {"type": 1, "message": None}},
        {"event": "process_end", "dropped_events": "x", "pid": 1, "ts": 3},
    ]  # fmt: skip
    path = tmp_path / "odd" / "telemetry.jsonl"
    path.parent.mkdir()
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in odd))
    summary = summarize_file(path)
    assert summary.run_id == "odd"  # the directory's name: the recorded one is not a string
    # A span line with a field of the wrong type is skipped and reported with its line.
    assert [(p["file"], p["line"]) for p in summary.skipped_lines] == [
        (str(path), 2), (str(path), 3), (str(path), 4), (str(path), 8),
    ]  # fmt: skip
    assert "ts is str, not a number" in summary.skipped_lines[0]["error"]
    assert summary.span_count == 2 and summary.totals.agents_spawned == 1
    assert summary.phases["ph"].agents == 1
    assert [e.name for e in summary.errors] == ["ag"]
    cli = subprocess.run(
        [sys.executable, "-m", "spanline", "summary", str(path.parent), "--json"],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert cli.returncode == 0 and "Traceback" not in cli.stderr
