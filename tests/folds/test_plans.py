"""The rule that fulfils plans, shared by the dashboard's lanes and the analysis."""

from __future__ import annotations

from spanline.folds._plans import PlanMatcher

PARENTS = {"leaf": "mid", "mid": "top", "top": None, "other": None}


def test_a_plan_goes_to_the_first_span_of_its_name_under_its_parent() -> None:
    matcher = PlanMatcher()
    matcher.add("p1", "worker", "top")
    matcher.add("p2", "worker", "other")
    matcher.add("p3", "worker", None)
    assert matcher.wanted("worker", None) and not matcher.wanted("boss", None)
    # Under "other": p1 (under "top") is not an ancestor, p2 is.
    assert matcher.match("worker", None, "other", PARENTS.get) == "p2"
    # Deep under "top": p1; then the parentless p3 takes any span of its name.
    assert matcher.match("worker", None, "leaf", PARENTS.get) == "p1"
    assert matcher.match("worker", None, "other", PARENTS.get) == "p3"
    assert matcher.match("worker", None, "leaf", PARENTS.get) is None
    assert not matcher


def test_a_span_naming_its_plan_takes_it_whatever_its_name() -> None:
    matcher = PlanMatcher()
    matcher.add("p1", "worker", "top")
    assert matcher.wanted("renamed", "p1") and not matcher.wanted("renamed", ["p1"])
    assert matcher.match("renamed", "p1", None, PARENTS.get) == "p1"
    assert matcher.match("worker", "p1", "leaf", PARENTS.get) is None  # fulfilled once


def test_parent_links_that_loop_end_the_walk() -> None:
    matcher = PlanMatcher()
    matcher.add("p1", "worker", "nowhere")
    loop = {"a": "b", "b": "a"}
    assert matcher.match("worker", None, "a", loop.get) is None
    assert matcher  # still pending


def test_every_fold_fulfils_the_same_plans() -> None:
    """The run summary, the facts of ``check``, the analysis and the lanes agree: a span
    naming a plan already fulfilled takes the next plan of its name instead."""
    from spanline.folds._facts import run_facts
    from spanline.folds.analysis import analyze
    from spanline.folds.lanes import LanesFold
    from spanline.folds.summary import summarize

    def start(sid: str, parent: str | None, name: str, **attrs: str) -> dict:
        return {"event": "span_start", "span_id": sid, "parent": parent, "name": name,
                "kind": "agent", "ts": 1.0, "attributes": attrs}  # fmt: skip

    def end(sid: str) -> dict:
        return {"event": "span_end", "span_id": sid, "status": "ok", "duration_ms": 1.0,
                "ts": 1.001, "attributes": {}}  # fmt: skip

    events = [
        start("r", None, "root"),
        *(
            {
                "event": "span_planned",
                "plan_id": p,
                "name": "worker",
                "kind": "agent",
                "parent": "r",
                "ts": 1.0,
                "attributes": {},
            }
            for p in ("p1", "p2")
        ),
        start("a", "r", "worker", plan_id="p1"),
        start("b", "r", "worker", plan_id="p1"),  # p1 is taken: b fulfils p2
        end("a"),
        end("b"),
        end("r"),
    ]
    summary = summarize(events)
    plan = summary.plan
    assert (plan.planned, plan.started, plan.done) == (2, 2, 2)
    facts = run_facts(events)
    assert [(p.plan_id, p.span and p.span.span_id) for p in facts.plans] == [
        ("p1", "a"), ("p2", "b")]  # fmt: skip
    assert facts.unfinished_plans() == []
    assert analyze(events).to_dict()["sections"]["waits"]["never_started_count"] == 0
    lanes = LanesFold()
    lanes.extend(events)
    assert [lane["plan_id"] for lane in lanes.result(summary)] == [None, "p1", "p2"]
