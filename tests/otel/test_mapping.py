"""The pure mapping every OTel destination shares: events in, OtelSpan records out."""

from __future__ import annotations

from spanline.exporters._otel_mapping import (
    SpanAssembler,
    attribute_value,
    resource_attributes,
)

TRACE = "0af7651916cd43dd8448eb211c80319c"
START = {
    "event": "span_start", "span_id": "00f067aa0ba902b7", "parent": "1111111111111111",
    "trace_id": TRACE, "name": "tool.search", "component": "c", "kind": "tool",
    "ts": 1700000000.25, "attributes": {"q": "x", "n": 1},
}  # fmt: skip
NOTE = {"event": "event", "name": "vote", "span_id": "00f067aa0ba902b7", "ts": 1700000000.5,
        "attributes": {"voted_for": "a", "meta": {"k": 1}}}  # fmt: skip
END = {
    "event": "span_end", "span_id": "00f067aa0ba902b7", "status": "error", "duration_ms": 750.0,
    "tokens": 3, "tool_uses": 0, "retries": 2, "ts": 1700000001.0, "attributes": {"n": 2},
    "error": {"type": "ValueError", "message": "boom", "stacktrace": "Traceback..."},
}  # fmt: skip


def test_a_span_is_assembled_from_its_start_events_and_end_in_any_chunking() -> None:
    assembler = SpanAssembler()
    assert assembler.add(START) is None
    assert assembler.add(NOTE) is None
    span = assembler.add(END)
    assert span is not None and assembler.open_count == 0
    assert (span.trace_id, span.span_id, span.parent_span_id) == (
        TRACE, "00f067aa0ba902b7", "1111111111111111",
    )  # fmt: skip
    assert (span.start_ns, span.end_ns) == (1_700_000_000_250_000_000, 1_700_000_001_000_000_000)
    assert (span.status, span.status_message) == ("error", "ValueError: boom")
    # Start merged with end (end wins), kind/component and every counter.
    assert span.attributes == {
        "q": "x", "n": 2, "spanline.kind": "tool", "spanline.component": "c",
        "spanline.duration_ms": 750.0, "spanline.tokens": 3, "spanline.tool_uses": 0,
        "spanline.retries": 2,
    }  # fmt: skip
    vote, exception = span.events
    assert (vote.name, vote.time_ns) == ("vote", 1_700_000_000_500_000_000)
    assert vote.attributes == {"voted_for": "a", "meta": '{"k":1}'}
    assert exception.name == "exception"
    assert exception.attributes == {
        "exception.type": "ValueError",
        "exception.message": "boom",
        "exception.stacktrace": "Traceback...",
    }


def test_values_otel_cannot_hold_become_json_text_and_nothing_is_lost() -> None:
    assert attribute_value(["a", "b"]) == ("a", "b")
    assert attribute_value([1, 2]) == (1, 2)
    assert attribute_value([1, "a"]) == '[1,"a"]'
    assert attribute_value([]) == "[]"
    assert attribute_value(None) == "null"
    assert attribute_value({"a": [1]}) == '{"a":[1]}'
    assert attribute_value(1 << 70) == str(1 << 70)  # beyond int64
    assert attribute_value(float("nan")) == "nan"
    assert attribute_value(True) is True


def test_open_spans_are_bounded_and_lost_ends_are_counted() -> None:
    assembler = SpanAssembler(max_open=2)
    for i in range(5):
        assembler.add({**START, "span_id": f"{i + 1:016x}"})
    assert assembler.open_count == 2 and assembler.forgotten == 3
    assert assembler.add({**END, "span_id": f"{1:016x}"}) is None  # forgotten
    assert assembler.add({**END, "span_id": f"{5:016x}"}) is not None


def test_bad_ids_and_unknown_lines_are_ignored() -> None:
    assembler = SpanAssembler()
    assert assembler.add({**START, "span_id": "not-hex"}) is None
    assert assembler.add({**START, "trace_id": None}) is None
    assert assembler.add({"event": "something_new"}) is None
    assert assembler.open_count == 0


def test_the_resource_names_service_version_and_environment() -> None:
    header = {"event": "run_start", "service_name": "svc", "source_commit": "abc123",
              "environment": "prod", "run_id": "svc-1"}  # fmt: skip
    assert resource_attributes(header) == {
        "service.name": "svc",
        "service.version": "abc123",
        "deployment.environment.name": "prod",
        "spanline.run_id": "svc-1",
    }
    # OTEL_RESOURCE_ATTRIBUTES wins, except over the service name spanline resolved.
    extra = {"service.name": "other", "service.version": "2.0", "team": "x"}
    merged = resource_attributes(header, extra)
    assert merged["service.name"] == "svc" and merged["service.version"] == "2.0"
    assert merged["team"] == "x"
    # A process that never saw run_start (a child) takes the name from the environment.
    assert resource_attributes(None, extra)["service.name"] == "other"
    assert resource_attributes(None)["service.name"] == "spanline"


def test_an_assessment_becomes_the_genai_evaluation_result_event() -> None:
    """Scores reach OTel backends' evaluation views under the GenAI semantic conventions."""
    assembler = SpanAssembler()
    assembler.add(START)
    for value in (0.75, True, "relevant", ["a", 1]):
        assembler.add(
            {**NOTE, "name": "assessment", "attributes": {
                "assessment.name": "relevance", "assessment.value": value,
                "assessment.rationale": "on topic", "assessment.source": "LLM_JUDGE"}}
        )  # fmt: skip
    span = assembler.add(END)
    assert span is not None
    events = [e for e in span.events if e.name != "exception"]
    assert [e.name for e in events] == ["gen_ai.evaluation.result"] * 4
    number, flag, label, other = (e.attributes for e in events)
    common = {
        "gen_ai.evaluation.name": "relevance",
        "gen_ai.evaluation.explanation": "on topic",
        "assessment.source": "LLM_JUDGE",
    }
    assert number == {**common, "gen_ai.evaluation.score.value": 0.75}
    assert flag == {
        **common,
        "gen_ai.evaluation.score.value": 1.0,
        "gen_ai.evaluation.score.label": "true",
    }
    assert label == {**common, "gen_ai.evaluation.score.label": "relevant"}
    assert other == {**common, "assessment.value": '["a",1]'}
