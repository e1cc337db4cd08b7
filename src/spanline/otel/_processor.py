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

from spanline._capture import _ledger as ledger
from spanline._capture._scopes import SKIPPED_SCOPES
from spanline._hotpath._runtime import (
    CURRENT_SPAN,
    RUNTIME,
    SUPPRESSED,
    context_attributes,
    live_pipeline,
)
from spanline._hotpath._tracer import Span
from spanline.otel import _context
from spanline.otel._classify import (
    USAGE_PREFIXES,
    Classified,
    classify,
    tokens_of,
    usage_attributes,
)
from spanline.schema import DUPLICATE_OF, END, EVENT, START, USAGE_ON_CHILD

__all__ = ["SpanProcessor"]

#: The spanline span kinds whose usage is an LLM call's (the others' is a sum of calls).
_SOURCE_PREFIX: Final = "OpenTelemetry scope "


class _Open:
    """What on_start kept for on_end: where the span went and what its start line held."""

    __slots__ = ("kind", "name", "native", "parent", "pipeline", "scope", "start_attributes")

    def __init__(
        self,
        pipeline: Any,
        classified: Classified,
        start_attributes: dict[str, Any],
        parent: int | None,
        native: Span | None,
        scope: str,
    ) -> None:
        self.pipeline = pipeline
        self.kind = classified.kind
        self.name = classified.name
        self.start_attributes = start_attributes
        self.parent = parent
        self.native = native  # a spanline LLM span this one is inside
        self.scope = scope


class SpanProcessor(SdkSpanProcessor):
    """Records the spans of an OpenTelemetry ``TracerProvider`` into spanline's run.

    Add it to a provider (``provider.add_span_processor(SpanProcessor())``), or
    let :func:`spanline.otel.install` do it. Creating one turns bridge mode on:
    OpenTelemetry's current context follows spanline's current span, so OTel
    spans opened inside a spanline span nest under it (same trace id), and
    spanline spans opened inside a recorded OTel span nest under that.

    Spans are classified when they end, from the GenAI conventions
    (``gen_ai.operation.name``, ``gen_ai.agent.name``, ``gen_ai.tool.name``) and
    OpenInference's (``openinference.span.kind``, ``llm.token_count.*``,
    ``tool.name``): agents, tools and LLM calls count like native ones. A kind
    known at start is written then too, so live views show agents while they run.
    A call's usage counts once when another span saw it too. Spans opened on
    spanline's own threads, and spans of skipped instrumentation scopes, are never
    recorded.
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
        current = CURRENT_SPAN.get()
        if current is SUPPRESSED:
            pipeline.count_suppressed()  # one of spanline's own threads
            return
        span_id = span.get_span_context().span_id
        parent = span.parent.span_id if span.parent is not None else None
        if _context.is_shared():  # a guest: the open spanline span is placed here
            parent = _context.spanline_parent(parent)
        parent = parent if parent is not None else RUNTIME.remote_parent
        parent = _context.skipped.get(parent, parent) if parent is not None else None
        scope = span.instrumentation_scope
        scope_name = scope.name if scope is not None and scope.name else ""
        if scope_name in SKIPPED_SCOPES:
            _context.skipped[span_id] = parent  # its children hang from its parent
            return
        attributes = dict(span.attributes or {})
        classified = classify(attributes, span.name)
        extra = context_attributes.get()  # agent id, round...: as native spans carry them
        start = {**(extra or {}), **attributes, "otel.span_kind": span.kind.name.lower()}
        if scope_name:
            start["otel.scope.name"] = scope_name
        if classified.kind == "agent":
            start.update(_agent_attributes(classified, span_id))
        native = current if isinstance(current, Span) and current.kind == "llm" else None
        _context.recording[span_id] = _Open(pipeline, classified, start, parent, native, scope_name)
        ts = (span.start_time or 0) / 1e9
        pipeline.emit(
            (START, span_id, parent, classified.name, None, classified.kind, ts,
             tuple(start.items()))
        )  # fmt: skip

    def on_end(self, span: ReadableSpan) -> None:
        """Write the span's events and its ``span_end`` line, with its final kind."""
        context = span.get_span_context()
        if context is None:
            return
        span_id = context.span_id
        opened = _context.recording.pop(span_id, None)
        if opened is None:
            _context.skipped.pop(span_id, None)
            return  # started before tracing was on, skipped, or on spanline's threads
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
        status, error = "ok", None
        if span.status.status_code is trace.StatusCode.ERROR:
            status = "error"
            error = _error(span, attributes)
        changed, counters = _final(span_id, span.name, attributes, opened)
        pipeline.emit(
            (
                END,
                span_id,
                status,
                (end_ns - start_ns) / 1e9,
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


def _agent_attributes(classified: Classified, span_id: int) -> dict[str, Any]:
    """An agent's identity, as native agents carry it: its id (else its span id)."""
    found: dict[str, Any] = {"gen_ai.agent.id": classified.agent_id or f"{span_id:016x}"}
    if classified.agent_name is not None:
        found["gen_ai.agent.name"] = classified.agent_name
    return found


def _final(
    span_id: int, span_name: str, attributes: dict[str, Any], opened: _Open
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The span_end's attributes (those changed since the start) and its top-level
    fields: counters, and the final ``kind`` and ``name`` when they differ from the
    start's."""
    classified = classify(attributes, span_name)
    kind = classified.kind or opened.kind
    merged = {**opened.start_attributes, **attributes}
    extra = usage_attributes(merged)
    if kind == "agent" and opened.kind != "agent":
        extra.update(_agent_attributes(classified, span_id))  # an agent known only now
    merged.update(extra)
    fields: dict[str, Any] = {}
    usage = _settle_usage(span_id, kind, merged, opened)
    extra.update(usage[0])
    if usage[1] is not None:
        fields["tokens"] = usage[1]
    if kind == "tool":
        fields["tool_uses"] = 1
    if kind != opened.kind:
        fields["kind"] = kind
    name = classified.name if classified.kind is not None or kind is None else opened.name
    if name != opened.name:
        fields["name"] = name
    changed = {
        key: value
        for key, value in {**attributes, **extra}.items()
        if opened.start_attributes.get(key, _MISSING) != value
    }
    return changed, fields


def _settle_usage(
    span_id: int, kind: str | None, merged: dict[str, Any], opened: _Open
) -> tuple[dict[str, Any], int | float | None]:
    """Whether this span keeps its usage: attributes to add (a duplicate's usage nulled
    and marked) and its ``tokens`` counter (None: none)."""
    below = ledger.child_usage(span_id)
    inner = below is not None and _recorded_usage(below)
    tokens = tokens_of(merged)
    parent = opened.parent
    if parent is not None and parent in _context.recording and (tokens is not None or inner):
        ledger.note_child(parent, True)  # usage was recorded at or below that span's child
    if tokens is None:
        return {}, None
    if inner:
        return {**_nulled(merged), USAGE_ON_CHILD: True}, None  # the inner span keeps it
    if kind == "llm" and opened.native is not None:
        try:  # inside a spanline LLM span: this inner span keeps the usage
            opened.native.set_attribute(USAGE_ON_CHILD, True)
        except ValueError:  # it has ended already: its usage is settled by response id
            pass
    kept = ledger.claim(
        merged.get("gen_ai.response.id"), span_id, f"{_SOURCE_PREFIX}{opened.scope!r}"
    )
    if kept is not None:
        return {**_nulled(merged), DUPLICATE_OF: f"{kept:016x}"}, None
    return {}, tokens


def _recorded_usage(below: Any) -> bool:
    """Whether the span noted below recorded usage (True: a bridged one did)."""
    if below is True:
        return True
    counters = getattr(below, "_counters", None)
    return bool(counters and counters.get("tokens") is not None) and (
        (getattr(below, "_end_attributes", None) or {}).get(DUPLICATE_OF) is None
    )


def _nulled(merged: dict[str, Any]) -> dict[str, Any]:
    """Every usage attribute of a duplicate set to null (the end wins over the start)."""
    return {
        key: None
        for key in merged
        if key.startswith(USAGE_PREFIXES) or key == "gen_ai.usage.cost_usd"
    }


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
