"""The lanes fold: agent lanes, queued plans, open spans and run_start, in any chunking."""

from __future__ import annotations

from typing import Any

from spanline.folds import SummaryFold
from spanline.folds.lanes import LanesFold, lanes


def start(span_id: str, name: str, kind: str, parent: str | None, ts: float, **attrs: Any) -> dict:
    return {"event": "span_start", "span_id": span_id, "name": name, "kind": kind,
            "parent": parent, "ts": ts, "attributes": attrs}  # fmt: skip


def end(span_id: str, ts: float, tokens: int = 0) -> dict:
    return {"event": "span_end", "span_id": span_id, "ts": ts, "status": "ok", "tokens": tokens}


def plan(plan_id: str, name: str, parent: str | None, **attrs: Any) -> dict:
    return {"event": "span_planned", "plan_id": plan_id, "name": name, "kind": "agent",
            "parent": parent, "ts": 1.0, "attributes": attrs}  # fmt: skip


RUN_START = {"event": "run_start", "run_id": "r", "ts": 0.5, "agent_kinds": ["agent"]}
EVENTS = [
    RUN_START,
    start("root", "lead", "run", None, 1.0),
    plan("p1", "worker", "root", phase="work"),
    plan("p2", "worker", "root"),
    plan("p3", "other", "elsewhere"),  # its parent is no ancestor of any span
    plan("p4", "named", None),
    start("ph", "work", "phase", "root", 2.0),
    start("a1", "worker", "agent", "ph", 3.0),  # fulfils p1: the first plan of its name
    start("t1", "tool.x", "tool", "a1", 3.5),
    end("t1", 3.6, tokens=4),
    start("a2", "renamed", "agent", "ph", 4.0, plan_id="p4"),  # names its plan
    start("a3", "other", "agent", "ph", 4.5),  # p3's parent is not its ancestor
    end("a1", 5.0, tokens=6),
]


def test_queued_plans_open_spans_and_run_start() -> None:
    result = lanes(EVENTS)
    by_id = {lane["span_id"]: lane for lane in result}
    assert [lane["span_id"] for lane in result] == ["a1", "a2", "a3", "p2", "p3"]
    assert by_id["a1"]["plan_id"] == "p1" and by_id["a1"]["tokens"] == 10
    assert by_id["a2"]["plan_id"] == "p4"
    assert by_id["a3"]["plan_id"] is None
    assert by_id["p2"] == {
        "span_id": "p2", "plan_id": "p2", "name": "worker", "kind": "agent", "parent": "root",
        "agent_id": None, "phase": None, "start_ts": None, "end_ts": None, "status": "queued",
        "tokens": 0, "tool_uses": 0, "cost_usd": 0, "error": None,
    }  # fmt: skip
    fold = LanesFold()
    for event in EVENTS:  # one at a time: the same as all at once
        fold.add(event)
    summary = SummaryFold()
    summary.extend(EVENTS)
    assert fold.result(summary.result()) == result
    assert [span["span_id"] for span in fold.open_spans()] == ["root", "ph", "a2", "a3"]
    assert fold.open_spans()[1] == {
        "span_id": "ph",
        "parent": "root",
        "name": "work",
        "kind": "phase",
        "start_ts": 2.0,
    }
    assert fold.run_start == RUN_START


def test_a_plan_takes_its_phase_from_its_attribute_or_its_parent() -> None:
    events = [start("ph", "work", "phase", None, 1.0), plan("p", "w", "ph"),
              plan("q", "w", "ph", phase="later")]  # fmt: skip
    assert [(lane["span_id"], lane["phase"]) for lane in lanes(events)] == [
        ("p", "work"),
        ("q", "later"),
    ]


def test_the_burn_rate_sums_the_tokens_ended_in_the_last_30_seconds() -> None:
    events = [
        RUN_START,
        {"event": "span_end", "span_id": "a", "ts": 100.5, "tokens": 10},
        {"event": "span_end", "span_id": "b", "ts": 129.9, "tokens": 5},
        {"event": "span_end", "span_id": "c", "ts": 131.0, "tokens": 7, "status": "error"},
        {"event": "span_end", "span_id": "d", "ts": "soon", "tokens": 1000},  # not a time
    ]
    fold = LanesFold()
    fold.extend(events)
    burn = fold.burn()
    # At the last line (131): the seconds 102..131 hold 5 + 7 tokens, per minute x2.
    assert burn["at"] == 131.0 and burn["window_s"] == 30
    assert burn["tokens_per_min"] == 24
    assert burn["series"][0] == [0, 0] and burn["series"][-1][1] == 24  # from run_start on
    assert len(burn["series"]) <= 150
    assert fold.burn(now=200.0)["tokens_per_min"] == 0  # nothing ended since 170
    one_by_one = LanesFold()
    for event in events:
        one_by_one.add(event)
    assert one_by_one.burn() == burn
    assert LanesFold().burn() == {"window_s": 30, "tokens_per_min": 0, "at": None, "series": []}


def test_a_span_belongs_to_the_lane_of_its_nearest_agent() -> None:
    fold = LanesFold()
    fold.extend(EVENTS)
    summary = SummaryFold()
    summary.extend(EVENTS)
    found = fold.agent_of(["t1", "a1", "root", "ph", "unknown"], summary.result())
    assert found == {"t1": "a1", "a1": "a1"}  # the root and the phase are in no agent
