"""What the framework integrations share: a book of open spans keyed by the framework's
own run ids, for hooks that see a start and its end apart, perhaps on other threads.

Spans are opened with the public :meth:`Tracer.start_span` (an explicit parent, an
explicit start time) and ended with ``span.end(ts=, error=)``. A span opened where the
framework runs the work itself (not on a callback thread) can be made current there,
so spanline spans opened inside it (an instrumented SDK call, a ``@traced_tool``) nest
under it; it stops being current when it ends in the same context.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Mapping
from typing import Any

from spanline._hotpath._runtime import (
    CURRENT_SPAN,
    RUNTIME,
    context_attributes,
    set_context_attributes,
)
from spanline._hotpath._tracer import _CURRENT, Span, Tracer, new_span_id
from spanline.schema import USAGE_ON_CHILD

__all__ = ["SpanBook", "add_usage"]

_TRACER = Tracer()


class _Entry:
    __slots__ = ("attributes_before", "attributes_set", "current_before", "made_current", "span")

    def __init__(self, span: Span) -> None:
        self.span = span
        self.made_current = False
        self.current_before: Any = None
        self.attributes_set = False
        self.attributes_before: Any = None


class SpanBook:
    """Open spans by framework key; thread-safe (callbacks may run on a pool)."""

    def __init__(self) -> None:
        self._open: dict[Hashable, _Entry] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable | None) -> Span | None:
        """The open span of ``key``, or None."""
        if key is None:
            return None
        with self._lock:
            entry = self._open.get(key)
        return entry.span if entry is not None else None

    def start(
        self,
        key: Hashable,
        name: str,
        *,
        kind: str | None,
        parent: Hashable | None = None,
        attributes: Mapping[str, Any] | None = None,
        start_ts: float | None = None,
        agent: bool = False,
        current: bool = False,
        span_id: int | None = None,
        parent_span_id: str | None = None,
    ) -> Span | None:
        """Open the span of ``key`` under the span of ``parent`` (when that one is open).

        Args:
            key: the framework's id of the work (a run id, a span id...).
            name: the span's name; kind: its kind.
            parent: the framework's id of the parent work; without an open span for it,
                the current span is the parent.
            attributes: known at the start.
            start_ts: when it started, in epoch seconds (default: now).
            agent: an agent: its id is its own span id (``gen_ai.agent.id``), and spans
                opened under it while it is current carry its id and name.
            current: make it the current span here until it ends here.
            span_id: the span's id, when the framework's id decides it.
            parent_span_id: the parent's span id (16 hex), when known without ``parent``.

        Returns:
            The span, or None while tracing is off.
        """
        parent_span = self.get(parent)
        attrs = dict(attributes or {})
        parent_given: Any = parent_span
        if parent_given is None:
            parent_given = parent_span_id or _CURRENT
        span = _TRACER.span(name, kind=kind, parent=parent_given, **attrs)
        if not isinstance(span, Span):
            return None
        if span_id is not None:
            span._id = span_id
        elif agent:
            span._id = new_span_id()  # the agent's id is its span id, known before it starts
        if agent:
            span.attributes["gen_ai.agent.id"] = span.span_id
        span._start(start_ts)
        entry = _Entry(span)
        if current:
            entry.made_current = True
            entry.current_before = CURRENT_SPAN.get()
            CURRENT_SPAN.set(span)
            if agent:
                entry.attributes_set = True
                entry.attributes_before = context_attributes.get()
                set_context_attributes(
                    {
                        **(entry.attributes_before or {}),
                        "gen_ai.agent.id": span.attributes["gen_ai.agent.id"],
                        "gen_ai.agent.name": name,
                    }
                )
        with self._lock:
            self._open[key] = entry
        return span

    def end(
        self,
        key: Hashable,
        *,
        ts: float | None = None,
        error: BaseException | None = None,
        attributes: Mapping[str, Any] | None = None,
    ) -> Span | None:
        """End the span of ``key`` (nothing when none is open); returns it."""
        with self._lock:
            entry = self._open.pop(key, None)
        if entry is None:
            return None
        span = entry.span
        if attributes:
            try:
                span.set_attributes(dict(attributes))
            except ValueError:  # ended at shutdown meanwhile
                pass
        if entry.made_current and CURRENT_SPAN.get() is span:
            CURRENT_SPAN.set(entry.current_before)
            if entry.attributes_set:
                set_context_attributes(entry.attributes_before)
        span.end(ts=ts, error=error)
        return span

    def clear(self) -> None:
        """Forget every open span (they end at shutdown as abandoned if never ended)."""
        with self._lock:
            self._open.clear()


def add_usage(
    span: Span,
    input_tokens: Any,
    output_tokens: Any,
    *,
    model: Any = None,
    response_id: Any = None,
) -> None:
    """Record an LLM call's usage on the framework's LLM span, unless an instrumented SDK
    call inside it already did (the innermost span keeps the usage: counted once)."""
    try:
        if isinstance(response_id, str) and response_id:
            span.set_attribute("gen_ai.response.id", response_id)
        if isinstance(model, str) and model:
            span.set_attribute("gen_ai.response.model", model)
        attributes = span._end_attributes
        if attributes is not None and attributes.get(USAGE_ON_CHILD) is True:
            return
        counted = 0
        for key, value in (
            ("gen_ai.usage.input_tokens", input_tokens),
            ("gen_ai.usage.output_tokens", output_tokens),
        ):
            if isinstance(value, int) and not isinstance(value, bool):
                span.set_attribute(key, value)
                counted += value
        if counted:
            span.add(tokens=counted)
            if RUNTIME.budgets:  # the framework gives no price: tokens only
                from spanline._capture._budget import charge

                charge(counted, None)
    except ValueError:  # the span was ended at shutdown meanwhile: nothing to add
        pass
