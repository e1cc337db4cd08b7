"""OpenTelemetry into spanline: a span processor that writes OTel spans to the event log.

Spans made by any OpenTelemetry instrumentation on a provider carrying this
processor become ``span_start`` / ``span_end`` lines of the run, with their
own span ids and parents; span events become ``event`` lines. Inside a
spanline span (bridge mode) their parent is that span, so one tree holds both.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace import Span as SdkSpan
from opentelemetry.sdk.trace import SpanProcessor as SdkSpanProcessor

from spanline._hotpath._runtime import (
    CURRENT_SPAN,
    RUNTIME,
    SUPPRESSED,
    context_attributes,
    live_pipeline,
)
from spanline._hotpath._tracer import Span
from spanline.otel import _context
from spanline.schema import COUNT_MAX, END, EVENT, START, USAGE_ON_CHILD

__all__ = ["SpanProcessor"]

_IN: Final = "gen_ai.usage.input_tokens"
_OUT: Final = "gen_ai.usage.output_tokens"
#: Older GenAI conventions (and some instrumentations) still use these names.
_OLD_IN: Final = "gen_ai.usage.prompt_tokens"
_OLD_OUT: Final = "gen_ai.usage.completion_tokens"
#: gen_ai.operation.name -> spanline span kind, so folds count these spans as native ones.
_KINDS: Final = {
    "chat": "llm",
    "text_completion": "llm",
    "generate_content": "llm",
    "responses": "llm",
    "execute_tool": "tool",
}


def _number(value: Any) -> int | float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    return None


def _counters(attributes: Mapping[str, Any], kind: str | None) -> dict[str, int | float] | None:
    """``tokens`` (input + output, as for native LLM spans) and ``tool_uses``."""
    counters: dict[str, int | float] = {}
    tokens_in = _number(attributes.get(_IN, attributes.get(_OLD_IN)))
    tokens_out = _number(attributes.get(_OUT, attributes.get(_OLD_OUT)))
    if tokens_in is not None or tokens_out is not None:
        tokens = (tokens_in or 0) + (tokens_out or 0)
        # A sum past 64 bits (or not finite) would make the span_end line unreadable:
        # the counts stay in the attributes only.
        if -COUNT_MAX <= tokens <= COUNT_MAX:
            counters["tokens"] = tokens
    if kind == "tool":
        counters["tool_uses"] = 1
    return counters or None


class _Open:
    """What on_start kept for on_end: where the span went and what its start line held."""

    __slots__ = ("kind", "pipeline", "start_attributes")

    def __init__(self, pipeline: Any, kind: str | None, start_attributes: dict[str, Any]) -> None:
        self.pipeline = pipeline
        self.kind = kind
        self.start_attributes = start_attributes


class SpanProcessor(SdkSpanProcessor):
    """Records the spans of an OpenTelemetry ``TracerProvider`` into spanline's run.

    Add it to a provider (``provider.add_span_processor(SpanProcessor())``), or
    let :func:`spanline.otel.install` do it. Creating one turns bridge mode on:
    OpenTelemetry's current context follows spanline's current span, so OTel
    spans opened inside a spanline span nest under it (same trace id), and
    spanline spans opened inside a recorded OTel span nest under that.

    Spans are recorded while tracing is on; others pass by untouched. GenAI
    spans get the ``tokens`` counter (``gen_ai.usage.input_tokens`` +
    ``output_tokens``) like native LLM spans; ``execute_tool`` spans count one
    tool use. Spans opened on spanline's own threads are never recorded.
    """

    def __init__(self) -> None:
        self._shut = False
        _context.enable()

    def on_start(self, span: SdkSpan, parent_context: Context | None = None) -> None:
        """Write the span's ``span_start`` line (called by the SDK as the span starts)."""
        if self._shut:
            return
        pipeline = live_pipeline()
        if pipeline is None:
            return
        if CURRENT_SPAN.get() is SUPPRESSED:
            pipeline.count_suppressed()  # one of spanline's own threads
            return
        span_id = span.get_span_context().span_id
        parent = span.parent.span_id if span.parent is not None else RUNTIME.remote_parent
        attributes = dict(span.attributes or {})
        kind = _KINDS.get(str(attributes.get("gen_ai.operation.name")))
        extra = context_attributes.get()  # agent id, round...: as native spans carry them
        start = {
            **(extra or {}),
            **attributes,
            "otel.span_kind": span.kind.name.lower(),
        }
        scope = span.instrumentation_scope
        if scope is not None and scope.name:
            start["otel.scope.name"] = scope.name
        if kind == "llm":
            _usage_moves_here(CURRENT_SPAN.get())
        _context.recording[span_id] = _Open(pipeline, kind, start)
        ts = (span.start_time or 0) / 1e9
        pipeline.emit((START, span_id, parent, span.name, None, kind, ts, tuple(start.items())))

    def on_end(self, span: ReadableSpan) -> None:
        """Write the span's events and its ``span_end`` line."""
        context = span.get_span_context()
        if context is None:
            return
        span_id = context.span_id
        opened = _context.recording.pop(span_id, None)
        if opened is None:
            return  # started before tracing was on, or on one of spanline's threads
        pipeline = opened.pipeline
        attributes = dict(span.attributes or {})
        for event in span.events:
            pipeline.emit(
                (
                    EVENT,
                    event.name,
                    span_id,
                    event.timestamp / 1e9,
                    tuple((event.attributes or {}).items()) or None,
                )
            )
        start_ns = span.start_time or 0
        end_ns = span.end_time or start_ns
        duration = (end_ns - start_ns) / 1e9
        status, error = "ok", None
        if span.status.status_code is trace.StatusCode.ERROR:
            status = "error"
            error = _error(span, attributes)
        changed = {
            key: value
            for key, value in attributes.items()
            if opened.start_attributes.get(key, _MISSING) != value
        }
        counters = _counters(attributes, opened.kind)
        pipeline.emit(
            (
                END,
                span_id,
                status,
                duration,
                end_ns / 1e9,
                tuple(error.items()) if error else None,
                tuple(changed.items()) or None,
                tuple(counters.items()) if counters else None,
            )
        )

    def shutdown(self) -> None:
        """Stop recording (the provider is shutting down)."""
        self._shut = True

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Nothing is buffered here: spanline's writer owns the queue (``spanline.flush``)."""
        return True


_MISSING: Final = object()


def _usage_moves_here(outer: Any) -> None:
    """A GenAI span inside a ``@traced_llm`` span records the call's usage itself:
    the outer span is marked so it records none, and the call counts once."""
    if isinstance(outer, Span) and outer.kind == "llm":
        try:
            outer.set_attribute(USAGE_ON_CHILD, True)
        except ValueError:  # the outer span has ended: nothing to count twice
            pass


def _error(span: ReadableSpan, attributes: Mapping[str, Any]) -> dict[str, str]:
    """The span_end ``error``: from the exception event when there is one."""
    for event in span.events:
        if event.name == "exception" and event.attributes:
            return {
                "type": str(event.attributes.get("exception.type", "exception")),
                "message": str(event.attributes.get("exception.message", "")),
            }
    kind = attributes.get("error.type")
    return {
        "type": str(kind) if kind is not None else "status",
        "message": span.status.description or "",
    }
