"""spanline.testing: the capture helper and the pytest fixture users rely on.

The fixture comes from the ``pytest11`` entry point (spanline.pytest_plugin), not from
an import here."""

from __future__ import annotations

import pytest

import spanline
from spanline.testing import CapturedSpans, capture_spans


def test_fixture_captures_spans(spanline_capture: CapturedSpans) -> None:
    with spanline.span("outer", kind="agent"):
        with spanline.span("inner") as inner:
            inner.add(tool_uses=1)
    assert spanline_capture.names() == ["outer", "inner"]
    assert spanline_capture.span("inner")["tool_uses"] == 1
    assert spanline_capture.span("inner")["parent"] == spanline_capture.span("outer")["span_id"]


def test_capture_sets_summary_and_stops_tracing() -> None:
    with capture_spans(service_name="captured") as captured:
        with spanline.span("a", kind="agent"):
            pass
        with pytest.raises(LookupError, match="found 0"):
            captured.span("missing")
    assert captured.run.run_id.startswith("captured-")
    assert captured.summary is not None and captured.summary.totals.agents_spawned == 1
    assert spanline.span("after").is_recording is False
    assert not captured.run.directory.exists()  # the temporary directory is gone


def test_deterministic_ids_make_span_trees_repeatable() -> None:
    @spanline.traced_agent(name="planner")
    def planner() -> None:
        with spanline.span("step", kind="tool") as step:
            step.add(tool_uses=1)

    def tree() -> list[dict]:
        with capture_spans(deterministic_ids=True) as captured:
            planner()
            planner()
            spans = captured.spans()
        return [{k: v for k, v in s.items() if k != "trace_id"} for s in spans]

    first, second = tree(), tree()
    assert first == second
    assert [s["span_id"] for s in first] == [f"{i:016x}" for i in range(1, 5)]
    assert first[1]["parent"] == first[0]["span_id"]
    assert all(s["duration_ms"] > 0 and float(s["start_ts"]).is_integer() for s in first)
