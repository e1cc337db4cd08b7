"""spanline into OpenTelemetry: OTel's current context follows spanline's current span.

OpenTelemetry reads its current context through one runtime-context object
(``opentelemetry.context._RUNTIME_CONTEXT``). In bridge mode spanline wraps it:

* ``get_current()`` answers with a ``NonRecordingSpan`` carrying spanline's
  trace and span ids whenever a spanline span was opened after the context
  was attached, so OTel spans (httpx, the GenAI instrumentations, the host's
  own) become children of the open spanline span;
* ``attach()`` of a context whose span spanline records makes that span the
  parent of spanline spans opened inside it, so both kinds nest either way;
* on spanline's own threads the context asks instrumentations to stay quiet
  (OpenTelemetry's "suppress instrumentation" flag): spanline never traces
  itself.

When ``install()`` joins another tracer's global provider (Logfire's, an
application's own) the bridge is a guest (:func:`share`): ``get_current()`` is left
as it is, so the other tracer's spans keep their own parents and trace ids, and
spanline's processor places them under the open spanline span in the run itself
(:func:`spanline_parent`).

Nothing here runs on spanline's hot path: a plain span costs what it did. The
price is paid where OTel reads or sets its context, and only after
:func:`enable`. Once installed the wrapper stays (tokens it handed out must
stay valid); :func:`disable` makes it pass everything through.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from contextvars import Token
from typing import Any, Final

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context.context import Context, _RuntimeContext
from opentelemetry.trace.propagation import _SPAN_KEY

from spanline._decorators._propagate import RemoteParent
from spanline._hotpath._runtime import CURRENT_SPAN, SUPPRESSED
from spanline._hotpath._span_data import _STARTED
from spanline._hotpath._tracer import Span

__all__ = [
    "OtelView",
    "disable",
    "enable",
    "is_enabled",
    "is_shared",
    "recording",
    "share",
    "skipped",
    "spanline_parent",
    "trace_id_of",
]

#: The spanline span that was current when a context was attached: a spanline
#: span current now that is not this one was opened later, so it is innermost.
_SPANLINE_KEY: Final = otel_context.create_key("spanline-current-span")
_SUPPRESS_KEY: Final = otel_context._SUPPRESS_INSTRUMENTATION_KEY
_SAMPLED: Final = trace.TraceFlags(trace.TraceFlags.SAMPLED)

#: OTel spans spanline's processors are recording (open now), by span id: only
#: those become parents of spanline spans. Single dict operations are atomic,
#: so the processors share it without a lock.
recording: dict[int, Any] = {}
#: Open spans of skipped instrumentation scopes -> their parent, which their children
#: take instead.
skipped: dict[int, int | None] = {}
_lock = threading.Lock()


_trace_ids: dict[str, int] = {}


def trace_id_of(span: Any) -> int:
    """The trace id (an int) of a spanline span or remote parent; 0 if unknown."""
    if isinstance(span, RemoteParent):
        text = span.trace_id
    else:
        text = getattr(getattr(span, "_pipeline", None), "trace_id", None)
    if not isinstance(text, str):
        return 0
    value = _trace_ids.get(text)
    if value is None:
        value = _trace_ids[text] = int(text, 16)
    return value


class OtelView(trace.NonRecordingSpan):
    """spanline's open span as OpenTelemetry code sees it (``trace.get_current_span()``).

    It follows OpenTelemetry's span API: ``is_recording()`` is a method, True while
    the spanline span is open, and attributes set through it land on that span.
    spanline's own :class:`~spanline.Span` keeps its ``is_recording`` property.
    """

    def __init__(self, context: trace.SpanContext, span: Any) -> None:
        super().__init__(context)
        self._spanline = span

    def is_recording(self) -> bool:
        """True while the spanline span is open (a remote parent records nothing here)."""
        span = self._spanline
        return isinstance(span, Span) and span._state == _STARTED

    def set_attribute(self, key: str, value: Any) -> None:
        """Set an attribute on the spanline span (ignored once it has ended)."""
        if self.is_recording():
            try:
                self._spanline.set_attribute(key, value)
            except (TypeError, ValueError):  # a bad key, or it ended meanwhile
                pass

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        """Set several attributes (see :meth:`set_attribute`)."""
        for key, value in attributes.items():
            self.set_attribute(key, value)


class _Token:
    """What attach() returned: OTel's own token, and spanline's when it moved too."""

    __slots__ = ("inner", "spanline")

    def __init__(self, inner: Token[Context], spanline: Token[Any] | None) -> None:
        self.inner = inner
        self.spanline = spanline


class BridgeContext(_RuntimeContext):
    """OpenTelemetry's runtime context, aware of spanline's current span."""

    def __init__(self, inner: _RuntimeContext) -> None:
        self.inner = inner
        self.active = False
        #: A guest on another tracer's provider: OTel's context is not rewritten.
        self.shared = False
        #: (context, spanline span, answer): get_current() is called often per span.
        self._last: tuple[Any, Any, Context] | None = None

    def attach(self, context: Context) -> Token[Context]:
        if not self.active:
            return self.inner.attach(context)
        moved = None
        span = context.get(_SPAN_KEY)  # where trace.set_span_in_context() puts it
        if isinstance(span, trace.Span):
            span_context = span.get_span_context()
            if span_context.span_id in recording:
                moved = CURRENT_SPAN.set(RemoteParent(span_context.span_id, None))
        context = Context({**context, _SPANLINE_KEY: CURRENT_SPAN.get()})
        token = _Token(self.inner.attach(context), moved)
        return token  # type: ignore[return-value]  # OTel only hands it back to detach()

    def detach(self, token: Token[Context]) -> None:
        if not isinstance(token, _Token):
            self.inner.detach(token)  # attached before the bridge was installed
            return
        try:
            self.inner.detach(token.inner)
        finally:
            if token.spanline is not None:
                try:
                    CURRENT_SPAN.reset(token.spanline)
                except (ValueError, RuntimeError):  # detached in another context
                    pass

    def get_current(self) -> Context:
        context = self.inner.get_current()
        if not self.active:
            return context
        current = CURRENT_SPAN.get()
        if current is None or current is context.get(_SPANLINE_KEY):
            return context
        last = self._last
        if last is not None and last[0] is context and last[1] is current:
            return last[2]
        if current is SUPPRESSED:
            answer = Context({**context, _SUPPRESS_KEY: True, _SPANLINE_KEY: current})
        elif self.shared:
            return context  # the other tracer's spans keep their parents
        elif isinstance(current, (Span, RemoteParent)) and current._id:
            trace_id = trace_id_of(current)
            if not trace_id:
                return context
            parent = OtelView(
                trace.SpanContext(trace_id, current._id, is_remote=False, trace_flags=_SAMPLED),
                current,
            )
            answer = Context({**context, _SPAN_KEY: parent, _SPANLINE_KEY: current})
        else:
            return context
        self._last = (context, current, answer)
        return answer


def _bridge() -> BridgeContext:
    runtime = otel_context._RUNTIME_CONTEXT
    if isinstance(runtime, BridgeContext):
        return runtime
    with _lock:
        runtime = otel_context._RUNTIME_CONTEXT
        if not isinstance(runtime, BridgeContext):
            runtime = BridgeContext(runtime)
            otel_context._RUNTIME_CONTEXT = runtime
    return runtime


def enable() -> None:
    """Bridge mode on: OTel's current context follows spanline's current span."""
    _bridge().active = True


def share() -> None:
    """The bridge is a guest on a provider that exports elsewhere too: OTel's current
    context is no longer pointed at spanline's spans (their ids would reach the other
    tracer as parents it never sees); the processor nests spans in the run instead."""
    runtime = _bridge()
    runtime.shared = True
    runtime._last = None


def is_shared() -> bool:
    """True when the bridge is a guest (see :func:`share`)."""
    runtime = otel_context._RUNTIME_CONTEXT
    return isinstance(runtime, BridgeContext) and runtime.active and runtime.shared


def spanline_parent(otel_parent: int | None) -> int | None:
    """The parent a span starting now has in the run when the bridge is a guest: the
    open spanline span when it was opened after OTel's current context was attached
    (it is innermost) and the span took that context's span as its parent; else the
    span's own OTel parent."""
    current = CURRENT_SPAN.get()
    if not isinstance(current, (Span, RemoteParent)) or not current._id:
        return otel_parent
    runtime = otel_context._RUNTIME_CONTEXT
    context = runtime.inner.get_current() if isinstance(runtime, BridgeContext) else None
    if context is None or current is context.get(_SPANLINE_KEY):
        return otel_parent
    implicit = trace.get_current_span(context).get_span_context()
    if otel_parent is not None and otel_parent != implicit.span_id:
        return otel_parent  # an explicit parent: kept
    parent: int = current._id
    return parent


def disable() -> None:
    """Bridge mode off: OTel's context is OTel's own again."""
    runtime = otel_context._RUNTIME_CONTEXT
    if isinstance(runtime, BridgeContext):
        runtime.active = False
        runtime.shared = False
        runtime._last = None


def is_enabled() -> bool:
    """True in bridge mode."""
    runtime = otel_context._RUNTIME_CONTEXT
    return isinstance(runtime, BridgeContext) and runtime.active
