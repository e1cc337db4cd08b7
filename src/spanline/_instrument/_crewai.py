"""``spanline.instrument("crewai")``: a listener on CrewAI's event bus.

CrewAI emits a started and an ending event for each scope (crew, task, agent
execution, LLM call, tool use...), numbered where the work runs, and hands them to
listeners on a thread pool: they arrive late, on other threads, in any order. Each
scope becomes a span with the event's own times, its id taken from the started
event's id and its parent from the parent event's, so an end that arrives before its
start waits for it and no ordering is needed otherwise:

* an agent execution -> an agent span named by the agent's role;
* a tool use -> a tool span ``tool.<name>`` counting one tool use (delegation is the
  tool ``Delegate work to coworker``, the delegate's agent span sits under it);
* an LLM call -> an LLM span with the usage CrewAI reports;
* crews, tasks and other scopes -> spans of kind ``crew``, ``task`` or ``crewai``.

With ``instrument("openai")`` too, the SDK call's span is opened where CrewAI calls
the model, under the agent (a ``before_llm_call`` hook makes the agent's span id the
parent there); CrewAI's LLM span for the same response then records no usage (a
``spanline.duplicate_of`` attribute names the SDK's span), so the call counts once.
"""

from __future__ import annotations

import threading
from typing import Any

from crewai.events import crewai_event_bus
from crewai.events.base_events import BaseEvent
from crewai.events.event_context import (
    SCOPE_ENDING_EVENTS,
    SCOPE_STARTING_EVENTS,
    get_current_parent_id,
)
from crewai.hooks import llm_hooks

from spanline._capture import _ledger as ledger
from spanline._capture._report import report
from spanline._capture._scopes import skip_scopes, unskip_scopes
from spanline._hotpath._runtime import CURRENT_SPAN, RUNTIME
from spanline._hotpath._tracer import Span
from spanline._instrument._spans import SpanBook, add_usage
from spanline.schema import DUPLICATE_OF

__all__ = ["install", "uninstall"]

_FAILED = {"failed", "error"}


def span_id_of(event_id: str) -> int:
    """The span id of a CrewAI scope: 64 bits of its started event's id (a UUID)."""
    digits = "".join(ch for ch in event_id if ch in "0123456789abcdefABCDEF")
    return int(digits[:16] or "1", 16) or 1


def _hex(event_id: str | None) -> str | None:
    return f"{span_id_of(event_id):016x}" if event_id else None


def _ts(event: Any) -> float | None:
    stamp = getattr(event, "timestamp", None)
    return stamp.timestamp() if stamp is not None else None


def _role(agent: Any) -> str | None:
    role = getattr(agent, "role", None)
    return str(role).strip() if role else None


def _describe(event: Any) -> tuple[str, str | None, dict[str, Any], bool]:
    """``(name, kind, start attributes, is an agent)`` of a started event."""
    kind_of: str = event.type
    attributes: dict[str, Any] = {"crewai.event": kind_of}
    if kind_of in ("agent_execution_started", "lite_agent_execution_started"):
        info = getattr(event, "agent_info", None) or {}
        role = _role(getattr(event, "agent", None)) or str(info.get("role") or "agent")
        attributes |= {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": role}
        return role, "agent", attributes, True
    if kind_of == "tool_usage_started":
        name = str(event.tool_name)
        attributes |= {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": name,
                       "tool.name": name}  # fmt: skip
        return f"tool.{name}", "tool", attributes, False
    if kind_of == "llm_call_started":
        attributes |= {"gen_ai.operation.name": "chat"}
        if isinstance(event.model, str):
            attributes["gen_ai.request.model"] = event.model
        return "llm.crewai.call", "llm", attributes, False
    if kind_of == "crew_kickoff_started":
        return str(getattr(event, "crew_name", None) or "crew"), "crew", attributes, False
    if kind_of == "task_started":
        return str(getattr(event, "task_name", None) or "task"), "task", attributes, False
    return kind_of.removesuffix("_started"), "crewai", attributes, False


class _Listener:
    """Pairs CrewAI's started and ending events into spans (thread-safe)."""

    def __init__(self) -> None:
        self.active = True
        self.book = SpanBook()
        self._lock = threading.Lock()
        self._started: set[str] = set()
        self._early_ends: dict[str, Any] = {}

    def __call__(self, source: Any, event: Any) -> None:
        if not self.active:
            return
        try:
            with self._lock:
                self._handle(event)
        except Exception as exc:  # never break the host's crew
            report("spanline's CrewAI listener failed on an event", exc=exc)

    def _handle(self, event: Any) -> None:
        if event.type in SCOPE_STARTING_EVENTS:
            self._start(event)
        elif event.type in SCOPE_ENDING_EVENTS:
            started = event.started_event_id
            if started is None:
                return
            if started in self._started:
                self._end(started, event)
            else:
                self._early_ends[started] = event  # its start is still on its way

    def _start(self, event: Any) -> None:
        name, kind, attributes, agent = _describe(event)
        self._started.add(event.event_id)
        self.book.start(event.event_id, name, kind=kind, attributes=attributes,
                        start_ts=_ts(event), agent=agent, span_id=span_id_of(event.event_id),
                        parent_span_id=_hex(event.parent_event_id))  # fmt: skip
        early = self._early_ends.pop(event.event_id, None)
        if early is not None:
            self._end(event.event_id, early)

    def _end(self, started: str, event: Any) -> None:
        self._started.discard(started)
        span = self.book.get(started)
        if span is None:
            return
        kind_of: str = event.type
        if kind_of.startswith("tool_usage_"):
            span.add(tool_uses=1)
        elif kind_of == "llm_call_completed":
            _llm_usage(span, event)
        error = None
        if kind_of.rsplit("_", 1)[-1] in _FAILED:
            error = RuntimeError(str(getattr(event, "error", "") or kind_of))
        self.book.end(started, ts=_ts(event), error=error)


def _llm_usage(span: Span, event: Any) -> None:
    usage = event.usage or {}
    response_id = event.response_id
    tokens_in = usage.get("prompt_tokens", usage.get("input_tokens"))
    tokens_out = usage.get("completion_tokens", usage.get("output_tokens"))
    if any(isinstance(n, int) and not isinstance(n, bool) for n in (tokens_in, tokens_out)):
        # One ledger for "one call counted once by response id": the SDK's span that
        # recorded this response keeps the usage, this one is its duplicate.
        kept = ledger.claim(response_id, span._id, "spanline.instrument('crewai')")
        if kept is not None:
            span.set_attribute(DUPLICATE_OF, f"{kept:016x}")
            span.set_attribute("gen_ai.response.id", response_id)
            return
    add_usage(span, tokens_in, tokens_out, model=event.model, response_id=response_id)


# -- the SDK's span under the agent: hooks run where CrewAI calls the model ----------------
_SAVED: Any = threading.local()


def _before_llm_call(context: Any) -> None:
    pipeline = RUNTIME.pipeline
    scope = get_current_parent_id()
    if pipeline is None or scope is None or not _LISTENER.active:
        return None
    # An unstarted stand-in with the id of the innermost scope's span (the agent's, or
    # its executor's under it): what opens inside names it as parent.
    stand_in = Span(pipeline, "crewai.scope", "crewai", None, None, {})
    stand_in._id = span_id_of(scope)
    _SAVED.previous = CURRENT_SPAN.get()
    CURRENT_SPAN.set(stand_in)
    return None


def _after_llm_call(context: Any) -> None:
    previous = getattr(_SAVED, "previous", _SAVED)
    if previous is not _SAVED:
        del _SAVED.previous
        CURRENT_SPAN.set(previous)
    return None


def _event_classes() -> list[type]:
    """Every CrewAI event class whose type starts or ends a scope."""
    import crewai.events.types  # noqa: F401  (loads the event modules)

    found: list[type] = []
    todo = list(BaseEvent.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        field = getattr(cls, "model_fields", {}).get("type")
        default = getattr(field, "default", None)
        if default in SCOPE_STARTING_EVENTS or default in SCOPE_ENDING_EVENTS:
            found.append(cls)
    return found


_LISTENER = _Listener()


_CLASSES: list[type] = []


#: OpenTelemetry instrumentation of CrewAI (OpenInference's, the one Logfire documents),
#: which the bridge leaves out: the listener records the same crew, agents and tools.
#: (Its event-listener mode has a scope of its own.)
SCOPES = (
    "openinference.instrumentation.crewai",
    "openinference.instrumentation.crewai._event_listener",
)


def install() -> None:
    """Listen to the bus and add the LLM hooks."""
    skip_scopes(SCOPES)
    _CLASSES[:] = _event_classes()
    for cls in _CLASSES:
        crewai_event_bus.on(cls)(_LISTENER)
    llm_hooks.register_before_llm_call_hook(_before_llm_call)
    llm_hooks.register_after_llm_call_hook(_after_llm_call)
    _LISTENER.active = True


def uninstall() -> None:
    """Remove the listener and the hooks (events already queued are ignored)."""
    unskip_scopes(SCOPES)
    _LISTENER.active = False
    for cls in _CLASSES:
        crewai_event_bus.off(cls, _LISTENER)
    _CLASSES.clear()
    llm_hooks.unregister_before_llm_call_hook(_before_llm_call)
    llm_hooks.unregister_after_llm_call_hook(_after_llm_call)
