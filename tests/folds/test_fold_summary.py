"""SummaryFold: the summary's new keys, determinism, chunking, repeatability, order."""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from spanline.folds import RunSummary, SummaryFold, summarize, summarize_file
from spanline.folds.summary import write_summary
from tests._helpers import ROOT
from tests.folds.test_summary import end, start

LLM = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o"}


def usage(inp: int, out: int, **more: Any) -> dict[str, Any]:
    return {"gen_ai.usage.input_tokens": inp, "gen_ai.usage.output_tokens": out, **more}


def with_attrs(event: dict[str, Any], **attrs: Any) -> dict[str, Any]:
    return {**event, "attributes": attrs}


def sample_run() -> list[dict[str, Any]]:
    """A small run touching every key: agents, phases, tools, LLM calls, plans, exporters."""
    return [
        {"event": "run_start", "run_id": "r-1", "pid": 7, "ts": 0.0, "agent_kinds": ["agent"]},
        start("root", "run", "run", ts=0.0),
        start("ph", "depth-0", "phase", parent="root", ts=0.1),
        {"event": "span_planned", "plan_id": "p1", "name": "lib-a", "kind": "agent",
         "parent": "ph", "ts": 0.15, "attributes": {}},
        {"event": "span_planned", "plan_id": "p2", "name": "lib-b", "kind": "agent",
         "parent": None, "ts": 0.15, "attributes": {}},
        {"event": "span_planned", "plan_id": "p3", "name": "never", "kind": "agent",
         "parent": None, "ts": 0.15, "attributes": {}},
        start("a", "lib-a", "agent", parent="ph", ts=0.2, **{"gen_ai.agent.id": "A"}),
        start("l1", "llm.call", "llm", parent="a", ts=0.3, **LLM),
        with_attrs(end("l1", 10.0, ts=0.31, tokens=150),
                   **usage(100, 50, **{"gen_ai.usage.cache_read.input_tokens": 40,
                                       "gen_ai.usage.reasoning.output_tokens": 5,
                                       "gen_ai.usage.cost_usd": 0.0012345678912})),
        start("l2", "llm.call", "llm", parent="a", ts=0.32, **LLM),
        end("l2", 3.0, ts=0.33),  # no usage
        start("t1", "tool.read", "tool", parent="a", ts=0.4, **{"tool.name": "read"}),
        end("t1", 1.0004, ts=0.41, tool_uses=1),
        start("t2", "tool.read", "tool", parent="a", ts=0.42, **{"tool.name": "read"}),
        {**end("t2", 3.0, ts=0.43, status="error", tool_uses=1),
         "error": {"type": "OSError", "message": "gone"}},
        start("t3", "grep", "tool", parent="a", ts=0.44),
        end("t3", 2.0, ts=0.45, tool_uses=1),
        end("a", 300.0, ts=0.5, analyses_written=1),
        start("b", "lib-b", "agent", parent="root", ts=0.6, plan_id="p2"),
        start("o", "still-open", None, parent="b", ts=0.7),
        end("ph", 400.0, ts=0.8),
        {"event": "process_end", "pid": 7, "ts": 0.9, "dropped_events": 0,
         "suppressed_spans": 2,
         "exporters": {"otlp": {"exported": 10, "failed": 1, "dropped": 2, "errors": 1},
                       "console": {"exported": 3, "received": 5}}},
        {"event": "process_end", "pid": 8, "ts": 0.9, "suppressed_spans": 1,
         "exporters": {"otlp": {"exported": 5, "failed": 0, "dropped": 0}}},
    ]  # fmt: skip


def test_new_keys_are_pinned() -> None:
    data = summarize(sample_run()).to_dict()
    assert list(data) == [
        "run_id", "status", "source_repo", "source_commit", "total_wall_ms", "phases",
        "totals", "errors", "dropped_events", "span_count", "open_spans", "processes",
        "milestones", "unpriced_models", "agents", "skipped_lines", "skipped_line_count",
        "tools", "exporters", "open_span_list", "stalls", "plan", "failed_agents", "log_offset",
    ]  # fmt: skip
    totals = data["totals"]
    assert totals["tokens_by_type"] == {
        "input": 100, "output": 50, "reasoning": 5, "cache_read": 40, "cache_creation": 0,
    }  # fmt: skip
    assert totals["llm_calls_without_usage"] == 1
    assert totals["suppressed_spans"] == 3
    assert totals["cost_usd"] == 0.00123457  # rounded to 1e-8
    assert list(totals["counters"]) == ["analyses_written", "tokens", "tool_uses"]
    assert data["tools"] == {
        "grep": {"calls": 1, "total_ms": 2.0, "avg_ms": 2.0, "p95_ms": 2.0, "failures": 0},
        "read": {"calls": 2, "total_ms": 4.0, "avg_ms": 2.0, "p95_ms": 3.0, "failures": 1},
    }
    assert data["exporters"] == {
        "console": {"received": 5, "exported": 3, "dropped": 0, "failed": 0},
        "otlp": {"received": 18, "exported": 15, "dropped": 2, "failed": 1},
    }
    assert data["open_span_list"] == [
        {"span_id": "root", "name": "run", "start_ts": 0.0},
        {"span_id": "b", "name": "lib-b", "start_ts": 0.6},
        {"span_id": "o", "name": "still-open", "start_ts": 0.7},
    ]
    assert data["open_spans"] == 3
    assert data["stalls"] == []
    assert data["plan"] == {"planned": 3, "started": 2, "done": 1}
    assert data["status"] == "ok"
    assert data["phases"] == {"depth-0": {"wall_ms": 400.0, "agents": 1}}
    agents = {agent["span_id"]: agent for agent in data["agents"]}
    assert agents["a"]["tokens"] == 150 and agents["a"]["tool_uses"] == 3
    assert agents["a"]["cost_usd"] == 0.00123457 and agents["a"]["agent_id"] == "A"
    assert data["processes"] == 1  # only run_start/process_start lines open a process


def test_tool_p95_is_the_nearest_rank_on_known_durations() -> None:
    events = []
    durations = list(range(1, 101))
    random.Random(3).shuffle(durations)
    for number, ms in enumerate(durations):
        events += [start(f"t{number}", "tool.fetch", "tool"), end(f"t{number}", float(ms))]
    fold = SummaryFold()
    fold.extend(events[:50])
    assert fold.result().tools["fetch"].calls == 25
    fold.extend(events[50:])
    stats = fold.result().tools["fetch"]
    assert (stats.calls, stats.total_ms, stats.avg_ms, stats.p95_ms) == (100, 5050.0, 50.5, 95.0)
    fold.add(start("x", "tool.fetch", "tool"))
    fold.add(end("x", 1000.0, status="error"))
    stats = fold.result().tools["fetch"]
    assert (stats.calls, stats.p95_ms, stats.failures) == (101, 96.0, 1)


def test_tool_p95_matches_a_sort_at_every_size_and_after_each_batch() -> None:
    rng = random.Random(5)
    fold, seen = SummaryFold(), []
    for batch in range(40):
        events = []
        for number in range(rng.randint(0, 7)):
            ms = round(rng.lognormvariate(3, 1), 3)
            seen.append(ms)
            span_id = f"t{batch}-{number}"
            events += [start(span_id, "tool.fetch", "tool"), end(span_id, ms)]
        fold.extend(events)
        if seen:
            nearest_rank = sorted(seen)[math.ceil(0.95 * len(seen)) - 1]
            assert fold.result().tools["fetch"].p95_ms == round(nearest_rank, 3)
        for _ in range(2):  # asked again without new calls: the same answer
            assert fold.result() == fold.result()


def test_tool_names_from_attribute_span_name_or_kind() -> None:
    events = [
        start("a", "tool.x", "tool", **{"tool.name": "from-attr"}), end("a", 1.0),
        start("b", "tool.by-name", None), end("b", 1.0),
        start("c", "plain", "tool"), end("c", 1.0),
        start("d", "not-a-tool", "step"), end("d", 1.0),
        start("e", "late", "step"), with_attrs(end("e", 1.0), **{"tool.name": "set-at-end"}),
    ]  # fmt: skip
    assert list(summarize(events).tools) == ["by-name", "from-attr", "plain", "set-at-end"]


@pytest.mark.parametrize(
    ("extra", "status"),
    [
        ([], "ok"),
        ([{"event": "process_start", "pid": 9, "ts": 1.0}], "incomplete"),
        ([start("r2", "other-root", ts=1.0), end("r2", 1.0, status="error")], "error"),
        ([start("x", "child", parent="root", ts=1.0), end("x", 1.0, status="error")], "ok"),
        ([start("y", "foreign", parent="elsewhere"), end("y", 1.0, status="error")], "error"),
    ],
)
def test_status(extra: list[dict[str, Any]], status: str) -> None:
    events = [
        {"event": "run_start", "pid": 1, "ts": 0.0},
        start("root", "run", ts=0.0),
        *extra,
        end("root", 5.0, ts=2.0),
        {"event": "process_end", "pid": 1, "ts": 3.0},
    ]
    assert summarize(events).status == status


def test_a_run_still_running_is_incomplete() -> None:
    events = [{"event": "run_start", "pid": 1, "ts": 0.0}, start("root", "run")]
    assert summarize(events).status == "incomplete"


def test_open_span_list_is_oldest_first_and_bounded() -> None:
    fold = SummaryFold()
    fold.extend(start(f"s{n}", f"n{n}", ts=float(2000 - n)) for n in range(2000))
    summary = fold.result()
    assert summary.open_spans == 2000
    assert len(summary.open_span_list) == 1000
    assert summary.open_span_list[0] == {"span_id": "s1999", "name": "n1999", "start_ts": 1.0}
    assert summary.open_span_list[-1]["start_ts"] == 1000.0


def test_plan_explicit_id_parent_scope_and_first_match_only() -> None:
    def plan(plan_id: str, name: str, parent: str | None) -> dict[str, Any]:
        return {"event": "span_planned", "plan_id": plan_id, "name": name, "kind": "agent",
                "parent": parent, "ts": 0.0, "attributes": {}}  # fmt: skip

    events = [
        start("early", "w"),  # before the plan: does not fulfil it
        start("p", "scope"),
        start("q", "other-scope"),
        plan("1", "w", "p"),
        plan("2", "w", None),
        plan("3", "z", None),
        start("w1", "w", parent="q"),  # not under p: fulfils plan 2 (any parent)
        start("w2", "w", parent="w1"),  # nothing left for w outside p
        start("w3", "w", parent="p"),  # under p: plan 1
        end("w3", 1.0),
        start("z1", "unrelated", plan_id="3"),  # explicit id, whatever the name
    ]
    assert summarize(events).plan.to_dict() == {"planned": 3, "started": 3, "done": 1}


def _orjson_bytes(summary: RunSummary, path: Path) -> bytes:
    write_summary(summary, path)
    return path.read_bytes()


def test_summary_bytes_do_not_depend_on_the_hash_seed(tmp_path: Path) -> None:
    run = tmp_path / "telemetry.jsonl"
    events = sample_run()
    # Counters first seen in different orders, unpriced models, many tools: anything a
    # set or dict order could leak into.
    for number in range(30):
        counters = {f"c{(number * 7) % 11}": number, f"k{number % 5}": 1.5}
        events.append(start(f"x{number}", f"tool.t{number % 9}", "tool", ts=number * 0.37))
        events.append({**end(f"x{number}", number / 3, ts=number * 0.37 + 0.1), **counters})
        events.append(start(f"m{number}", "llm.c", "llm", **{"gen_ai.request.model": f"m{number}"}))
        events.append(with_attrs(end(f"m{number}", 1.0), **usage(3, 4)))
    run.write_bytes(b"".join(orjson.dumps(event) + b"\n" for event in events))
    script = (
        "import sys; from spanline.folds import summarize_file; "
        "from spanline.folds.summary import write_summary; "
        "write_summary(summarize_file(sys.argv[1]), sys.argv[2])"
    )
    outputs = []
    for seed in ("1", "4242"):
        target = tmp_path / f"summary-{seed}.json"
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run([sys.executable, "-c", script, str(run), str(target)], env=env,
                       check=True, timeout=60)  # fmt: skip
        outputs.append(target.read_bytes())
    assert outputs[0] == outputs[1]
    data = json.loads(outputs[0])
    assert list(data["totals"]["counters"]) == sorted(data["totals"]["counters"])
    assert list(data["tools"]) == sorted(data["tools"])
    for stats in data["tools"].values():
        for key in ("total_ms", "avg_ms", "p95_ms"):
            assert stats[key] == round(stats[key], 3)
    assert outputs[0] == _orjson_bytes(summarize_file(run), tmp_path / "here.json")


def random_run(seed: int, spans: int = 300, *, stalls: bool = False) -> list[dict[str, Any]]:
    """Nested spans with usage, tools, errors, counters, phases and agents, in file order.

    With ``stalls``: a threshold of 0.05 s, silences of 0.1 s and event lines.
    """
    rng = random.Random(seed)
    header = {"event": "run_start", "pid": 1, "ts": 0.0}
    events: list[dict[str, Any]] = [{**header, "stall_s": 0.05} if stalls else header]
    stack: list[str] = []
    clock = 0.0
    for number in range(spans):
        clock += 0.1 if stalls and rng.random() < 0.1 else 0.01
        if stalls and stack and rng.random() < 0.2:
            events.append({"event": "event", "name": "vote", "span_id": rng.choice(stack),
                           "ts": clock, "attributes": {}})  # fmt: skip
        while stack and rng.random() < 0.3:
            sid = stack.pop()
            events.append({**end(sid, rng.random() * 100, ts=clock, tokens=rng.randrange(9),
                                 status=rng.choice(["ok", "ok", "error"])),
                           "extra_counter": 1})  # fmt: skip
        kind = rng.choice(["agent", "phase", "tool", "llm", None])
        attrs = usage(rng.randrange(50), 5) if kind == "llm" else {}
        parent = stack[-1] if stack else None
        events.append(start(f"s{number}", f"tool.n{number % 4}" if kind == "tool" else "n",
                            kind, parent=parent, ts=clock, **attrs))  # fmt: skip
        stack.append(f"s{number}")
    while stack:
        events.append(end(stack.pop(), 1.0, ts=clock, tool_uses=1))
    events.append({"event": "process_end", "pid": 1, "ts": clock})
    return events


@pytest.mark.parametrize(("seed", "stalls"), [(1, False), (2, False), (3, True), (4, True)])
def test_any_chunking_gives_the_same_summary(seed: int, stalls: bool) -> None:
    events = random_run(seed, stalls=stalls)
    whole = summarize(events).to_dict()
    assert bool(whole["stalls"]) == stalls
    rng = random.Random(seed)
    fold = SummaryFold()
    position = 0
    while position < len(events):
        size = rng.randrange(1, 40)
        if size % 2:
            fold.extend(events[position : position + size])
        else:
            for event in events[position : position + size]:
                fold.add(event)
        position += size
        fold.result()  # asking in between changes nothing
    assert fold.result().to_dict() == whole
    assert fold.result() == fold.result()


@pytest.mark.parametrize("stalls", [False, True])
def test_result_can_be_asked_while_adding_and_never_changes_later_results(stalls: bool) -> None:
    events = random_run(7, stalls=stalls)
    fold = SummaryFold()
    partials = []
    for event in events:
        fold.add(event)
        partials.append(fold.result().to_dict())
    for count in (1, len(events) // 3, len(events) // 2):
        assert partials[count - 1] == summarize(events[:count]).to_dict()
    assert partials[-1] == summarize(events).to_dict()


def test_subtree_sums_do_not_depend_on_the_order_of_processes_lines() -> None:
    ordered = [
        start("a", "agent-a", "agent"),
        start("c", "child", "tool", parent="a"),
        start("g", "grandchild-agent", "agent", parent="c"),
        end("g", 1.0, tokens=5, tool_uses=1),
        end("c", 1.0, tokens=3),
        end("a", 5.0, tokens=1),
    ]
    shuffled = [ordered[3], ordered[2], ordered[4], ordered[1], ordered[0], ordered[5]]
    first, second = summarize(ordered), summarize(shuffled)
    cards = {agent.span_id: (agent.tokens, agent.tool_uses, agent.status) for agent in first.agents}
    assert cards == {"a": (9, 1, "ok"), "g": (5, 1, "ok")}
    assert {a.span_id: (a.tokens, a.tool_uses, a.status) for a in second.agents} == cards
    assert second.span_count == first.span_count == 3
    assert second.open_spans == first.open_spans == 0
    assert second.totals == first.totals


def test_folds_import_no_pydantic() -> None:
    code = "import sys, spanline.folds; assert 'pydantic' not in sys.modules, 'pydantic'"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=False, timeout=60, cwd=ROOT)  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_folds_import_nothing_from_the_tracer_or_writer() -> None:
    """Folds stay pure (``import spanline`` itself loads the tracer, so read the sources)."""
    import ast

    forbidden = {"_hotpath", "_writer", "_workers", "_decorators"}
    for path in (ROOT / "src" / "spanline" / "folds").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                assert not forbidden & set(name.split(".")), (path.name, name)


def test_milestones_recompute_wall_ms_across_processes() -> None:
    """Each process measures its own phase wall time; the summary measures the run's."""
    events = [
        {"event": "run_start", "ts": 100.0, "pid": 1, "run_id": "r"},
        {"event": "process_start", "ts": 100.5, "pid": 2},
        {"event": "phase", "name": "a", "wall_ms": 1000.0, "ts": 101.0, "libraries": 3},
        {"event": "phase", "name": "c", "wall_ms": 4500.0, "ts": 105.0},  # pid 2's view
        {"event": "phase", "name": "b", "wall_ms": 1500.0, "ts": 102.5},
    ]
    milestones = summarize(events).to_dict()["milestones"]
    assert [(m["name"], m["wall_ms"], m["process_wall_ms"]) for m in milestones] == [
        ("a", 1000.0, 1000.0),
        ("b", 1500.0, 1500.0),
        ("c", 2500.0, 4500.0),
    ]
    assert milestones[0]["libraries"] == 3 and "event" not in milestones[0]


def stall_run() -> list[dict[str, Any]]:
    """Threshold 5 s. Agent a: silent 0.5-7.5 (its child tool's start to its end), then
    10-20 until its own end. Nested agent c inside b: silent 30-100, so b is too;
    b's event at 100 wakes both. d still open at the end, silent since 106."""
    return [
        {"event": "run_start", "pid": 1, "ts": 0.0, "stall_s": 5},
        start("root", "run", "run", ts=0.0),
        start("a", "lib-a", "agent", parent="root", ts=0.0, **{"gen_ai.agent.id": "A"}),
        start("t", "tool.slow", "tool", parent="a", ts=0.5),
        end("t", 7000.0, ts=7.5),
        {"event": "event", "name": "note", "span_id": "a", "ts": 10.0, "attributes": {}},
        end("a", 20000.0, ts=20.0),
        start("b", "lib-b", "agent", parent="root", ts=28.0),
        start("c", "lib-c", "agent", parent="b", ts=30.0),
        {"event": "event", "name": "vote", "span_id": "c", "ts": 100.0, "attributes": {}},
        {"event": "event", "name": "ignored", "span_id": "zz", "ts": 101.0, "attributes": {}},
        end("c", 71000.0, ts=101.0),
        end("b", 80000.0, ts=101.0),
        start("d", "lib-d", "agent", parent="root", ts=104.0),
        start("d1", "llm.x", "llm", parent="d", ts=106.0),
        {"event": "phase", "name": "later", "wall_ms": 1.0, "ts": 200.0},  # not in d's subtree
    ]


def test_stalls_recovered_and_still_going() -> None:
    stalls = summarize(stall_run()).to_dict()["stalls"]
    assert [(s["span_id"], s["since_ts"], s["stalled_ms"], s["recovered"]) for s in stalls] == [
        ("a", 0.5, 7000.0, True),
        ("a", 10.0, 10000.0, True),
        ("b", 30.0, 70000.0, True),  # a nested agent's silence is its parent's too
        ("c", 30.0, 70000.0, True),
        ("d", 106.0, 94000.0, False),  # still silent at the run's last line
    ]
    assert stalls[0] == {"span_id": "a", "name": "lib-a", "agent_id": "A", "since_ts": 0.5,
                         "stalled_ms": 7000.0, "recovered": True}  # fmt: skip


def test_stall_threshold_from_run_start_or_argument_default_60() -> None:
    events = stall_run()
    fold = SummaryFold(stall_s=8)
    fold.extend(events)
    assert [s["span_id"] for s in fold.result().to_dict()["stalls"]] == ["a", "b", "c", "d"]
    without = [{**events[0], "stall_s": None}, *events[1:]]
    assert [s["span_id"] for s in summarize(without).to_dict()["stalls"]] == ["b", "c", "d"]
    with pytest.raises(ValueError, match="stall_s"):
        SummaryFold(stall_s=0)


def test_stalls_do_not_depend_on_chunking_or_asking_in_between() -> None:
    events = stall_run()
    whole = summarize(events).to_dict()["stalls"]
    for size in (1, 2, 3, 5):
        fold = SummaryFold()
        for position in range(0, len(events), size):
            fold.extend(events[position : position + size])
            fold.result()
        assert fold.result().to_dict()["stalls"] == whole
    # Asked before d's silence is long enough, then after: only the later answer has it.
    assert summarize(events[:-1]).to_dict()["stalls"][-1]["span_id"] == "c"


@pytest.mark.parametrize("batch", [1, 3, 100])
def test_time_range_checks_hold_for_the_first_time_read_and_every_later_one(batch: int) -> None:
    """The loop checks a new latest time against the upper bound and a new earliest
    against the whole range; the first time read is both, and a NaN or an infinity is
    refused wherever it comes, first or not."""

    def line(ts: float) -> dict[str, Any]:
        return {"event": "event", "ts": ts, "name": "mark"}

    times = [
        math.inf,  # first line: no time read yet
        math.nan,
        -math.inf,
        1_700_000_010.0,  # the first good time: earliest and latest
        1_700_000_010.0,  # the same again
        1e12,  # too late
        1_700_000_012.5,  # a new latest
        1_700_000_011.0,  # in between
        -5.0,  # too early
        1_700_000_004.0,  # a new earliest
        math.nan,
        math.inf,
    ]
    fold = SummaryFold()
    events = [line(ts) for ts in times]
    for begin in range(0, len(events), batch):
        fold.extend(events[begin : begin + batch])
    summary = fold.result()
    assert summary.total_wall_ms == 8500.0  # 1_700_000_004.0 .. 1_700_000_012.5
    reasons = [problem["error"] for problem in summary.skipped_lines]
    assert [problem["line"] for problem in summary.skipped_lines] == [1, 2, 3, 6, 9, 11, 12]
    assert reasons == [
        "implausible timestamp inf",
        "timestamp is not a number",
        "implausible timestamp -inf",
        "implausible timestamp 1000000000000.0",
        "implausible timestamp -5.0",
        "timestamp is not a number",
        "implausible timestamp inf",
    ]
    assert SummaryFold().result().total_wall_ms == 0.0  # nothing read: no range


def test_a_failed_agent_under_a_run_that_went_on_is_counted_beside_status_ok() -> None:
    events = [
        {"event": "run_start", "run_id": "r-1", "pid": 7, "ts": 0.0, "agent_kinds": ["agent"]},
        start("root", "run", "run", ts=0.0),
        start("a", "lib-a", "agent", parent="root", ts=0.1),
        {**end("a", 100.0, ts=0.2, status="error"), "error": {"type": "E", "message": "m"}},
        start("b", "lib-b", "agent", parent="root", ts=0.3),
        end("b", 100.0, ts=0.4),
        end("root", 500.0, ts=0.5),
        {"event": "process_end", "pid": 7, "ts": 0.6},
    ]
    data = summarize(events).to_dict()
    assert data["status"] == "ok"
    assert data["failed_agents"] == 1
    assert list(data)[-2:] == ["failed_agents", "log_offset"]  # appended after every older key
    assert summarize(events[:4]).to_dict()["failed_agents"] == 1
    assert summarize(events[:3]).to_dict()["failed_agents"] == 0


def test_log_offset_is_the_bytes_of_the_log_folded(tmp_path: Path) -> None:
    """Appended last; a fold of events with no file says 0; a file's fold says its size."""
    events = [
        {"event": "run_start", "run_id": "r-1", "pid": 7, "ts": 0.0},
        start("root", "run", "run", ts=0.0),
        end("root", 500.0, ts=0.5),
    ]
    assert list(summarize(events).to_dict())[-1] == "log_offset"
    assert summarize(events).log_offset == 0
    path = tmp_path / "telemetry.jsonl"
    path.write_bytes(b"".join(orjson.dumps(event) + b"\n" for event in events))
    assert summarize_file(path).log_offset == path.stat().st_size > 0
