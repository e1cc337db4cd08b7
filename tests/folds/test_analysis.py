"""The analysis fold on small hand-made runs, where every figure can be worked out by hand."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import orjson

from spanline.cli._analyze_render import render_markdown
from spanline.folds.analysis import AnalysisFold, analyze, analyze_fold

GREP = {"tool.name": "grep", "input.value": {"q": "x"}}
SECRET = "sk-ant-api03-" + "A" * 95


def start(sid: str, parent: str | None, name: str, kind: str, ts: float, **attrs: Any) -> dict:
    return {"event": "span_start", "span_id": sid, "parent": parent, "name": name,
            "kind": kind, "ts": ts, "attributes": attrs}  # fmt: skip


def end(sid: str, ts: float, *, status: str = "ok", tokens: int = 0, error: Any = None,
        **attrs: Any) -> dict:  # fmt: skip
    line = {"event": "span_end", "span_id": sid, "status": status, "duration_ms": 0.0,
            "tokens": tokens, "tool_uses": 0, "ts": ts, "attributes": attrs}  # fmt: skip
    if error is not None:
        line["error"] = error
    return line


def plan(plan_id: str, name: str, parent: str, ts: float) -> dict:
    return {"event": "span_planned", "plan_id": plan_id, "name": name, "kind": "agent",
            "parent": parent, "ts": ts, "attributes": {}}  # fmt: skip


def timed(events: list[dict]) -> list[dict]:
    """The events with each end's duration_ms set from its start and end times."""
    starts = {e["span_id"]: e["ts"] for e in events if e["event"] == "span_start"}
    for event in events:
        if event["event"] == "span_end":
            event["duration_ms"] = (event["ts"] - starts[event["span_id"]]) * 1000.0
    return events


def run_events() -> list[dict]:
    """A root (0-10 s) with a parallel phase p1 (0-4 s: agents a and b at once) and a
    sequential phase p2 (4-10 s: agents c, d, e one after another, 1, 2 and 3 s); all five
    agents planned at 0 s. Agent d calls a tool twice with the same arguments (the second
    time after the first failed), and an LLM."""
    events = [
        start("r", None, "root", "run", 0.0),
        *(plan(f"plan-{n}", n, "r", 0.0) for n in "abcde"),
        start("p1", "r", "p1", "phase", 0.0),
        start("a", "p1", "a", "agent", 0.0),
        start("b", "p1", "b", "agent", 0.5),
        end("b", 3.0),
        end("a", 4.0),
        end("p1", 4.0),
        start("p2", "r", "p2", "phase", 4.0),
        start("c", "p2", "c", "agent", 4.0),
        end("c", 5.0),
        start("d", "p2", "d", "agent", 5.0),
        start("t1", "d", "tool.grep", "tool", 5.0, **GREP),
        end("t1", 5.2, status="error", error={"type": "OSError", "message": f"no {SECRET}"}),
        start("t2", "d", "tool.grep", "tool", 5.2, **GREP),
        end("t2", 5.4),
        start("l1", "d", "llm.call", "llm", 5.5, **{"gen_ai.request.model": "m1"}),
        end("l1", 6.5, tokens=150, **{"gen_ai.usage.input_tokens": 100,
            "gen_ai.usage.output_tokens": 50, "gen_ai.usage.cache_read.input_tokens": 100,
            "gen_ai.usage.cost_usd": 0.25, "gen_ai.response.time_to_first_chunk_ms": 120.0}),
        start("l2", "d", "llm.call", "llm", 6.5),
        end("l2", 6.9),
        end("d", 7.0),
        start("e", "p2", "e", "agent", 7.0),
        end("e", 10.0, status="error", error={"type": "ValueError", "message": "bad"}),
        end("p2", 10.0),
        end("r", 10.0),
    ]  # fmt: skip
    return timed(events)


def test_the_figures_of_a_small_run() -> None:
    sections = analyze(run_events()).to_dict()["sections"]
    path = sections["critical_path"]
    assert path["ms"] == 10_000.0
    assert [(s["name"], s["share"]) for s in path["steps"] if s["depth"] == 1] == [
        ("p1", 0.4), ("p2", 0.6)]  # fmt: skip
    # Inside p1, a ended last: b (shorter, at the same time) is not on the path.
    assert [s["name"] for s in path["steps"] if s["depth"] == 2] == ["a", "c", "d", "e"]
    assert path["largest"]["name"] == "p2"
    assert path["largest"]["agents_in_sequence"]["span_ids"] == ["c", "d", "e"]

    p1, p2 = sections["parallelism"]
    assert (p1["agents"], p1["at_once"], p1["could_have"], p1["sequential"]) == (2, 2, 2, [])
    assert (p2["agents"], p2["at_once"], p2["could_have"]) == (3, 1, 3)
    (stretch,) = p2["sequential"]
    assert stretch["span_ids"] == ["c", "d", "e"] and stretch["longest_span_id"] == "e"
    assert (stretch["sum_ms"], stretch["longest_ms"], stretch["lost_ms"]) == (6000, 3000, 3000)
    assert p2["lost_ms"] == 3000.0

    waits = sections["waits"]
    assert waits["queued"][0] == {"ms": 7000.0, "span_id": "e", "name": "e"}
    assert waits["gaps"][0]["parent"]["span_id"] == "d"  # 5.4 to 5.5 s: 100 ms
    assert waits["gaps"][0]["ms"] == 100.0

    tools = sections["tools"]
    (repeat,) = tools["repeated"]
    assert repeat["name"] == "grep" and repeat["calls"] == 2 and repeat["span_ids"] == ["t1", "t2"]
    assert repeat["arguments"].startswith("sha256:")
    (failing,) = tools["failures"]
    assert (failing["calls"], failing["failures"], failing["rate"]) == (2, 1, 0.5)
    assert failing["messages"][0]["message"] == "no [REDACTED]"

    llm = sections["llm"]
    assert llm["calls"] == 2 and llm["by_model"][0] == {
        "name": "m1", "calls": 1, "tokens": 150, "cost_usd": 0.25}  # fmt: skip
    assert llm["by_agent"][0]["name"] == "d" and llm["by_agent"][0]["calls"] == 2
    assert llm["cache"]["hit_rate"] == 0.5
    assert llm["without_usage"] == {"count": 1, "span_ids": ["l2"]}
    assert llm["first_chunk"]["slowest"] == [{"span_id": "l1", "ms": 120.0}]

    errors = sections["errors"]
    assert [(g["type"], g["agents"]) for g in errors["groups"]] == [
        ("OSError", ["d"]), ("ValueError", ["e"])]  # fmt: skip
    waste = sections["waste"]
    assert waste["failed_agents"][0]["span_id"] == "e"
    assert waste["retried"]["span_ids"] == ["t1"]
    rules = {s["rule"] for s in sections["suggestions"]}
    assert {"sequential-agents", "retried-calls", "llm-without-usage"} <= rules
    assert sections["baseline"] is None


def test_a_file_a_list_and_any_chunking_give_the_same_analysis(tmp_path: Path) -> None:
    events = run_events()
    path = tmp_path / "telemetry.jsonl"
    path.write_bytes(b"".join(orjson.dumps(event) + b"\n" for event in events))
    whole = analyze(events).to_dict()
    assert analyze(path).to_dict() == whole
    for cut in (1, 7, len(events) - 1):
        fold = AnalysisFold()
        fold.extend(events[:cut])
        fold.extend(events[cut:])
        assert analyze_fold(fold.result()).to_dict() == whole


def test_an_end_before_its_start_and_open_spans_are_kept() -> None:
    events = run_events()
    moved = [e for e in events if not (e["event"] == "span_end" and e["span_id"] == "c")]
    moved.insert(0, next(e for e in events if e["event"] == "span_end" and e["span_id"] == "c"))
    assert analyze(moved).to_dict() == analyze(events).to_dict()
    unfinished = [e for e in events if not (e["event"] == "span_end" and e["span_id"] == "r")]
    errors = analyze(unfinished).to_dict()["sections"]["errors"]
    assert errors["open"] == {"count": 1, "span_ids": ["r"]}


def test_a_baseline_flags_the_slowed_phase_only() -> None:
    events = run_events()
    slower = [dict(e) for e in events]
    for event in slower:  # p2 (from 4 s on) three times slower
        if event["event"] in ("span_start", "span_end", "span_planned") and event["ts"] > 4.0:
            event["ts"] = 4.0 + (event["ts"] - 4.0) * 3
    baseline = analyze(timed(slower), baseline=events).to_dict()["sections"]["baseline"]
    assert baseline["costlier"] == [] and baseline["newly_failing"] == []
    phases = {r["name"] for r in baseline["slower"] if r["section"] == "phase"}
    assert phases == {"p2"}


def test_the_report_quotes_nothing_secret_and_keeps_its_tables_whole() -> None:
    events = run_events()
    hostile = "evil|name\n# heading `code` " + SECRET + " " + "x" * 500
    for event in events:
        if event.get("span_id") == "e" and event["event"] == "span_start":
            event["name"] = hostile
        if event.get("span_id") == "t2" and event["event"] == "span_start":
            event["attributes"] = {"tool.name": "grep|x", "tool.arguments_preview": SECRET}
    analysis = analyze(events)
    report = render_markdown(analysis)
    assert "sk-ant-api03" not in report
    # Quoted text (messages, argument previews) is redacted in the data itself; names are
    # kept as logged there, and redacted by whatever shows them (the report, the CLI).
    sections = analysis.to_dict()["sections"]
    assert "sk-ant-api03" not in json.dumps([sections["tools"], sections["errors"]["groups"][0]])
    bars = re.compile(r"(?<!\\)\|")
    table: list[int] = []
    for line in [*report.splitlines(), ""]:
        assert len(line) < 1200
        if line.startswith("|"):
            table.append(len(bars.findall(line)))
        elif table:  # every row of a table has as many cells as its header
            assert len(set(table)) == 1, table
            table = []
    assert "evil\\|name \\# heading \\`code\\` \\[REDACTED\\] xxx" in report
    assert "x" * 100 not in report  # names are cut short
    assert "\n# heading" not in report
