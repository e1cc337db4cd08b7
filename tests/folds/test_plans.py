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
