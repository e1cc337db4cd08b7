"""spanline.assess through OTLP to a real Arize Phoenix: the score arrives on the span as
the GenAI semantic conventions' ``gen_ai.evaluation.result`` event."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

import spanline
from tests._helpers import configure
from tests.otel.conftest import Phoenix
from tests.otel.test_phoenix import read_spans


def test_an_assessment_reaches_phoenix_as_an_evaluation_event_on_its_span(
    phoenix: Phoenix, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = f"spanline-eval-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", phoenix.http)
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", f"openinference.project.name={project}")
    configure(tmp_path, exporters=["otlp"])
    with spanline.span("llm.answer", kind="llm") as answer:
        spanline.assess("relevance", 0.8, rationale="answers the question", source="LLM_JUDGE")
        spanline.assess("verdict", "correct")
    with spanline.span("other"):
        pass
    spanline.shutdown()
    spans = {span["name"]: span for span in read_spans(phoenix, project, 2)}
    assert spans.keys() == {"llm.answer", "other"}
    assert spans["llm.answer"]["context"]["span_id"] == answer.span_id
    events = [e for e in spans["llm.answer"]["events"] if e["name"] == "gen_ai.evaluation.result"]
    assert len(events) == 2
    by_name = {e["attributes"]["gen_ai.evaluation.name"]: e["attributes"] for e in events}
    assert by_name["relevance"]["gen_ai.evaluation.score.value"] == 0.8
    assert by_name["relevance"]["gen_ai.evaluation.explanation"] == "answers the question"
    assert by_name["verdict"]["gen_ai.evaluation.score.label"] == "correct"
    assert spans["other"]["events"] == []
