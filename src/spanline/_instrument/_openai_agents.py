"""``spanline.instrument("openai-agents")``: a trace processor beside the SDK's own.

The OpenAI Agents SDK reports its traces to trace processors; this one is added with
``add_trace_processor``, so the SDK's own exporter keeps working. Each SDK span
becomes a spanline span as it starts and ends, made current where the SDK runs it:

* an agent span -> an agent span named by the agent (``gen_ai.agent.name``);
* a function span -> a tool span ``tool.<name>`` counting one tool use;
* a response or generation span -> an LLM span with the call's usage (none when
  ``instrument("openai")``'s span inside it recorded the usage: counted once);
* a handoff span -> a ``handoff`` span naming both agents;
* the trace -> a root span named by the workflow; its ``group_id`` is every span's
  ``gen_ai.conversation.id``.
"""

from __future__ import annotations

import threading
from typing import Any

from agents import add_trace_processor
from agents.tracing import TracingProcessor

from spanline._capture._report import report
from spanline._capture._scopes import skip_scopes, unskip_scopes
from spanline._instrument._spans import SpanBook, add_usage

__all__ = ["install", "uninstall"]


def _get(value: Any, name: str) -> Any:
    if isinstance(value, dict):
        return value.get(name)
    return getattr(value, name, None)


class _Processor(TracingProcessor):
    """Turns the Agents SDK's traces and spans into spanline spans (while active)."""

    def __init__(self) -> None:
        self.active = True
        self.book = SpanBook()
        self._groups: dict[str, str] = {}
        self._lock = threading.Lock()

    def _conversation(self, trace_id: str) -> dict[str, Any]:
        with self._lock:
            group = self._groups.get(trace_id)
        return {"gen_ai.conversation.id": group} if group else {}

    def on_trace_start(self, trace: Any) -> None:
        if not self.active:
            return
        try:
            trace_id = trace.trace_id
            group = getattr(trace, "group_id", None)
            if isinstance(group, str) and group:
                with self._lock:
                    self._groups[trace_id] = group
            attributes = {"openai_agents.trace_id": trace_id, **self._conversation(trace_id)}
            self.book.start(trace_id, trace.name or "workflow", kind=None,
                            attributes=attributes, current=True)  # fmt: skip
        except Exception as exc:  # never break the host's run
            report("spanline's openai-agents processor failed on a trace start", exc=exc)

    def on_trace_end(self, trace: Any) -> None:
        try:
            self.book.end(trace.trace_id)
            with self._lock:
                self._groups.pop(trace.trace_id, None)
        except Exception as exc:
            report("spanline's openai-agents processor failed on a trace end", exc=exc)

    def on_span_start(self, span: Any) -> None:
        if not self.active:
            return
        try:
            self._start(span)
        except Exception as exc:
            report("spanline's openai-agents processor failed on a span start", exc=exc)

    def _start(self, span: Any) -> None:
        data = span.span_data
        kind_of = data.type
        attributes = {"openai_agents.span_type": kind_of, **self._conversation(span.trace_id)}
        parent = span.parent_id or span.trace_id
        if kind_of == "agent":
            attributes |= {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": data.name}
            self.book.start(span.span_id, data.name, kind="agent", parent=parent,
                            attributes=attributes, agent=True, current=True)  # fmt: skip
        elif kind_of == "function":
            attributes |= {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": data.name,
                           "tool.name": data.name}  # fmt: skip
            self.book.start(span.span_id, f"tool.{data.name}", kind="tool", parent=parent,
                            attributes=attributes, current=True)  # fmt: skip
        elif kind_of in ("response", "generation"):
            attributes |= {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai"}
            self.book.start(span.span_id, f"llm.openai_agents.{kind_of}", kind="llm",
                            parent=parent, attributes=attributes, current=True)  # fmt: skip
        elif kind_of == "handoff":
            attributes |= {"openai_agents.handoff.from": data.from_agent}
            self.book.start(span.span_id, "handoff", kind="handoff", parent=parent,
                            attributes=attributes)  # fmt: skip
        else:
            # A custom span is named by its user; the SDK's own (task, turn...) by type.
            name = (getattr(data, "name", None) if kind_of == "custom" else None) or kind_of
            self.book.start(span.span_id, str(name), kind=None, parent=parent,
                            attributes=attributes, current=True)  # fmt: skip

    def on_span_end(self, span: Any) -> None:
        try:
            self._end(span)
        except Exception as exc:
            report("spanline's openai-agents processor failed on a span end", exc=exc)

    def _end(self, span: Any) -> None:
        mine = self.book.get(span.span_id)
        if mine is None:
            return
        data = span.span_data
        kind_of = data.type
        if kind_of == "function":
            mine.add(tool_uses=1)
        elif kind_of == "response":
            response = data.response
            usage = _get(response, "usage") or data.usage
            add_usage(mine, _get(usage, "input_tokens"), _get(usage, "output_tokens"),
                      model=_get(response, "model"), response_id=_get(response, "id"))  # fmt: skip
        elif kind_of == "generation":
            usage = data.usage or {}
            add_usage(mine, _get(usage, "input_tokens"), _get(usage, "output_tokens"),
                      model=data.model)  # fmt: skip
        elif kind_of == "handoff":
            mine.set_attributes({"openai_agents.handoff.from": data.from_agent,
                                 "openai_agents.handoff.to": data.to_agent})  # fmt: skip
        error = span.error
        if error:
            mine.set_status("error", str(_get(error, "message") or error))
        self.book.end(span.span_id)

    def shutdown(self) -> None:
        """Nothing to release: spanline's writer owns the queue."""

    def force_flush(self) -> None:
        """Nothing is buffered here."""


_PROCESSOR: _Processor | None = None


#: OpenTelemetry scopes that carry the same agents (Logfire's and OpenInference's
#: integrations): the bridge skips them while this one is loaded, so none appears twice.
SCOPES = ("logfire.openai_agents", "openinference.instrumentation.openai_agents")


def install() -> None:
    """Add the processor beside the SDK's own (once per process; later: reactivate it)."""
    global _PROCESSOR
    skip_scopes(SCOPES)
    if _PROCESSOR is None:
        _PROCESSOR = _Processor()
        add_trace_processor(_PROCESSOR)
    _PROCESSOR.active = True


def uninstall() -> None:
    """Stop recording: the SDK offers no way to remove one processor, so it goes idle."""
    unskip_scopes(SCOPES)
    if _PROCESSOR is not None:
        _PROCESSOR.active = False
