"""The outlier rules and the suggestions of the analysis, each on a run made for it: the
finding is there with the spans behind it, and absent when the log does not show it."""

from __future__ import annotations

from typing import Any

from spanline.folds.analysis import analyze
from tests.folds.test_analysis import end, plan, run_events, start, timed


def _sections(events: list[dict]) -> dict[str, Any]:
    return analyze(timed(events)).to_dict()["sections"]


def _rules(sections: dict[str, Any], rule: str) -> list[dict[str, Any]]:
    return [s for s in sections["suggestions"] if s["rule"] == rule]


def _calls(durations: list[float], kind: str, **attrs: Any) -> list[dict]:
    """Calls one after another under an agent "a" (0 s on), each lasting its duration."""
    events, ts = [], 0.0
    for n, seconds in enumerate(durations):
        sid = f"{kind}{n}"
        events += [start(sid, "a", f"{kind}.call", kind, ts, **attrs), end(sid, ts + seconds)]
        ts += seconds
    return [start("a", None, "a", "agent", 0.0), *events, end("a", ts)]


def test_a_tool_call_over_three_times_its_median_is_an_outlier() -> None:
    events = _calls([0.1, 0.1, 0.1, 0.1, 1.0], "tool", **{"tool.name": "grep"})
    (outlier,) = _sections(events)["tools"]["outliers"]
    assert (outlier["name"], outlier["span_id"]) == ("grep", "tool4")
    assert (outlier["value"], outlier["median"], outlier["times_median"]) == (1000, 100, 10)
    # Three times the median is not over it; four calls are too few to tell.
    assert _sections(_calls([0.1] * 4 + [0.3], "tool", **{"tool.name": "grep"}))["tools"][
        "outliers"] == []  # fmt: skip
    assert _sections(_calls([0.1] * 3 + [1.0], "tool", **{"tool.name": "grep"}))["tools"][
        "outliers"] == []  # fmt: skip


def test_an_llm_call_writing_over_three_times_its_models_median_is_an_outlier() -> None:
    events = _calls([0.1] * 6, "llm", **{"gen_ai.request.model": "m1"})
    for n, event in enumerate(
        e for e in events if e["event"] == "span_end" and e["span_id"] != "a"
    ):
        event["attributes"] = {"gen_ai.usage.input_tokens": 10,
                               "gen_ai.usage.output_tokens": 2000 if n == 2 else 100}  # fmt: skip
    (outlier,) = _sections(events)["llm"]["output_outliers"]
    assert (outlier["name"], outlier["span_id"], outlier["value"]) == ("m1", "llm2", 2000)
    assert (outlier["median"], outlier["times_median"]) == (100, 20)


def test_the_small_runs_suggestions_and_their_evidence() -> None:
    sections = _sections(run_events())
    (sequential,) = _rules(sections, "sequential-agents")
    assert sequential["evidence"] == ["p2", "c", "d", "e"]
    assert "3 agent agents ran one after another in p2, for 6,000 ms" in sequential["text"]
    assert "about as long as the longest, 3,000 ms" in sequential["text"]
    assert "All 3 were planned before the phase began." in sequential["text"]
    # grep failed, then answered the same arguments once: a retry, not a repeat to reuse.
    assert _rules(sections, "repeated-tool-call") == []
    (retried,) = _rules(sections, "retried-calls")
    assert retried["evidence"] == ["t1"]
    (missing,) = _rules(sections, "llm-without-usage")
    assert missing["evidence"] == ["l2"]
    assert _rules(sections, "failing-tool") == []  # one failure is not a pattern


def test_repeated_answers_with_the_same_arguments_suggest_reuse() -> None:
    events = _calls([0.1, 0.1, 0.1], "tool", **{"tool.name": "grep", "input.value": {"q": 1}})
    (repeat,) = _rules(_sections(events), "repeated-tool-call")
    assert repeat["evidence"] == ["tool0", "tool1", "tool2"]
    assert "answered 3 calls with the same arguments" in repeat["text"]
    assert "would save 2 of them" in repeat["text"]


def test_a_tool_failing_often_is_named_with_its_failed_calls() -> None:
    events = _calls([0.1] * 4, "tool", **{"tool.name": "fetch"})
    for event in events:
        if event["event"] == "span_end" and event["span_id"] in ("tool1", "tool3"):
            event.update(status="error", error={"type": "TimeoutError", "message": "slow"})
    (failing,) = _rules(_sections(events), "failing-tool")
    assert failing["text"] == "fetch failed 2 of 4 calls (50%)."
    assert failing["evidence"] == ["tool1", "tool3"]


def test_fewer_at_once_than_planned_idle_gaps_and_plans_never_started() -> None:
    """A phase where two agents planned ahead ran one after the other with a 6 s gap
    between them, and a third plan that never started."""
    events = [
        start("r", None, "root", "run", 0.0),
        *(plan(f"plan-{n}", n, "r", 0.0) for n in ("a", "b", "z")),
        start("p", "r", "p", "phase", 0.0),
        start("a", "p", "a", "agent", 0.0),
        end("a", 2.0),
        start("b", "p", "b", "agent", 8.0),
        end("b", 10.0),
        end("p", 10.0),
        end("r", 10.0),
    ]
    sections = _sections(events)
    (fewer,) = _rules(sections, "fewer-at-once-than-planned")
    assert (
        fewer["text"] == "In p, at most 1 agents ran at once, while 2 were planned before it began."
    )
    assert fewer["evidence"] == ["p"]
    (gap,) = _rules(sections, "idle-gap")
    assert gap["text"] == "p had no child running for 6,000 ms (60% of the run)."
    assert gap["evidence"] == ["p", "a", "b"]
    (never,) = _rules(sections, "planned-not-started")
    assert never["text"] == "1 planned agents never started."
    assert never["evidence"] == ["plan-z"]
    # The same run with b started as soon as a ended: no gap to speak of.
    for event in events:
        if event.get("span_id") == "b":
            event["ts"] -= 6.0
    assert _rules(_sections(events), "idle-gap") == []


def test_calls_whose_usage_another_span_recorded_are_not_without_usage() -> None:
    """An LLM span wrapping an instrumented SDK call records no usage of its own and says
    so; a second span of the same call (read through two instrumentations) names its twin.
    The summary counts neither as a call without usage, nor does the analysis, and the
    twin is not a second call of its model."""
    from spanline.folds.summary import summarize

    events = timed([
        start("a", None, "a", "agent", 0.0),
        start("outer", "a", "llm.answer", "llm", 0.0, **{"spanline.usage_on_child": True}),
        start("sdk", "outer", "chat m1", "llm", 0.1, **{"gen_ai.request.model": "m1"}),
        end("sdk", 0.9, tokens=30, **{"gen_ai.usage.input_tokens": 20,
                                      "gen_ai.usage.output_tokens": 10}),
        start("twin", "sdk", "chat m1", "llm", 0.1, **{"gen_ai.request.model": "m1"}),
        end("twin", 0.9, **{"spanline.duplicate_of": "sdk"}),
        end("outer", 1.0, **{"spanline.usage_on_child": True}),
        end("a", 1.0),
    ])  # fmt: skip
    assert summarize(events).totals.llm_calls_without_usage == 0
    sections = analyze(events).to_dict()["sections"]
    assert sections["llm"]["without_usage"] == {"count": 0, "span_ids": []}
    m1 = next(row for row in sections["llm"]["by_model"] if row["name"] == "m1")
    assert (m1["calls"], m1["tokens"]) == (1, 30)  # the twin is not a second call
    assert _rules(sections, "llm-without-usage") == []


def test_a_tool_call_known_by_its_tool_name_is_retried_like_any_other() -> None:
    """A span of kind ``span`` carrying ``tool.name`` is a tool call everywhere in the
    analysis, the retry rule included."""
    events = _calls([0.1, 0.1], "span", **{"tool.name": "fetch"})
    events[2].update(status="error", error={"type": "TimeoutError", "message": "slow"})
    sections = _sections(events)
    assert sections["tools"]["failures"][0]["name"] == "fetch"
    assert sections["waste"]["retried"]["span_ids"] == ["span0"]
    (retried,) = _rules(sections, "retried-calls")
    assert retried["evidence"] == ["span0"]
