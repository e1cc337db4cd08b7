"""``spanline.assess``: a judgement about a run (or one of its spans), kept in its log.

An assessment is one ``event`` line named ``assessment``; the MLflow export turns
each into an entry of ``info.assessments`` (MLflow's feedback), and every
OpenTelemetry destination receives it as the GenAI ``gen_ai.evaluation.result``
event on the span current when it was recorded, so scores from an LLM judge, a
human or a check in code travel with the trace.
"""

from __future__ import annotations

from typing import Any

from spanline._hotpath._tracer import Tracer

__all__ = ["ASSESSMENT_SOURCES", "assess"]

#: The kinds of source MLflow knows: a person, an LLM judge, or code.
ASSESSMENT_SOURCES = ("CODE", "HUMAN", "LLM_JUDGE")

_TRACER = Tracer()  # tracers hold no state: this records into the same pipeline


def assess(
    name: str,
    value: Any,
    *,
    rationale: str | None = None,
    source: str = "CODE",
    source_id: str | None = None,
    span: Any = None,
    error: str | None = None,
) -> None:
    """Record an assessment of the run, or of one span (MLflow's feedback).

    Example::

        spanline.assess("answer_correct", True, rationale="matches the reference",
                        source="LLM_JUDGE", source_id="claude-sonnet-4")

    Args:
        name: what is assessed, e.g. ``"relevance"``.
        value: a number, string, boolean, or a list or dict of them.
        rationale: why the value was given.
        source: ``"CODE"`` (default), ``"HUMAN"`` or ``"LLM_JUDGE"``.
        source_id: who or what gave it (a user, a judge model, a check's name).
        span: the span assessed (a span or its id); default: the whole run.
        error: set when the assessment itself failed (a judge that crashed).

    Raises:
        TypeError: ``name`` is not a string.
        ValueError: ``source`` is not one of ``ASSESSMENT_SOURCES``.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"assessment name must be a non-empty string, got {name!r}")
    if source not in ASSESSMENT_SOURCES:
        raise ValueError(f"assessment source must be one of {ASSESSMENT_SOURCES}, got {source!r}")
    span_id = getattr(span, "span_id", span)
    if span_id is not None and not isinstance(span_id, str):
        raise TypeError(f"span must be a span or a span id, got {span!r}")
    fields = {
        "assessment.name": name,
        "assessment.value": value,
        "assessment.rationale": rationale,
        "assessment.source": source,
        "assessment.source_id": source_id,
        "assessment.span_id": span_id or None,
        "assessment.error": error,
    }
    _TRACER.event("assessment", **{k: v for k, v in fields.items() if v is not None})
