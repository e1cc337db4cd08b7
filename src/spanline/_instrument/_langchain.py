"""``spanline.instrument("langchain")``: a callback handler on every LangChain callback manager.

LangChain (and LangGraph, which runs on it) adds the handler of a registered
configure hook to every callback manager it builds, so every run reports to it,
whatever thread runs it. Runs become spans keyed by their run ids, under the span of
their parent run:

* the root chain of an agent (``langchain.agents.create_agent(..., name=...)``, whose
  run carries ``lc_agent_name``) -> an agent span named by the agent;
* a tool run -> a tool span ``tool.<name>`` counting one tool use;
* a chat model or LLM run -> an LLM span with the call's usage (none when
  ``instrument("openai")``'s span inside it recorded the usage: counted once);
* any other chain (graph nodes, middleware) -> a span of kind ``chain``.

LangGraph's ``thread_id`` (``config["configurable"]``) is recorded as
``gen_ai.conversation.id``. The handler runs inline, so a span is current where
LangChain runs the work, and spanline spans opened inside (an SDK call) nest under it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.tracers import context as _context

from spanline._capture._report import report
from spanline._capture._scopes import skip_scopes, unskip_scopes
from spanline._instrument._spans import SpanBook, add_usage

__all__ = ["install", "uninstall"]


def _name(serialized: Any, kwargs: Mapping[str, Any], default: str) -> str:
    name = kwargs.get("name")
    if not name and isinstance(serialized, Mapping):
        name = serialized.get("name") or (serialized.get("id") or [None])[-1]
    return str(name or default)


def _common(metadata: Any) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    if isinstance(metadata, Mapping):
        thread = metadata.get("thread_id")
        if thread is not None:
            attributes["gen_ai.conversation.id"] = str(thread)
        node = metadata.get("langgraph_node")
        if isinstance(node, str):
            attributes["langgraph.node"] = node
    return attributes


class SpanlineCallbackHandler(BaseCallbackHandler):
    """LangChain runs -> spanline spans (see the module's description)."""

    run_inline = True  # called where the run runs: its span can be current there
    raise_error = False

    def __init__(self) -> None:
        super().__init__()
        self.active = True
        self.book = SpanBook()

    def _open(self, run_id: UUID, parent: UUID | None, name: str, kind: str,
              attributes: dict[str, Any], *, agent: bool = False) -> None:  # fmt: skip
        if not self.active:
            return
        try:
            self.book.start(run_id, name, kind=kind, parent=parent, attributes=attributes,
                            agent=agent, current=True)  # fmt: skip
        except Exception as exc:  # never break the host's run
            report("spanline's LangChain handler failed on a run start", exc=exc)

    def _close(self, run_id: UUID, error: BaseException | None = None) -> None:
        try:
            self.book.end(run_id, error=error)
        except Exception as exc:
            report("spanline's LangChain handler failed on a run end", exc=exc)

    # -- chains and agents -------------------------------------------------
    def on_chain_start(self, serialized: Any, inputs: Any, *, run_id: UUID,
                       parent_run_id: UUID | None = None, metadata: Any = None,
                       **kwargs: Any) -> None:  # fmt: skip
        name = _name(serialized, kwargs, "chain")
        attributes = _common(metadata)
        agent = isinstance(metadata, Mapping) and metadata.get("lc_agent_name") == name
        if agent:
            attributes |= {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": name}
        self._open(run_id, parent_run_id, name, "agent" if agent else "chain", attributes,
                   agent=agent)  # fmt: skip

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._close(run_id)

    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._close(run_id, error)

    # -- tools -------------------------------------------------------------
    def on_tool_start(self, serialized: Any, input_str: str, *, run_id: UUID,
                      parent_run_id: UUID | None = None, metadata: Any = None,
                      **kwargs: Any) -> None:  # fmt: skip
        name = _name(serialized, kwargs, "tool")
        attributes = _common(metadata) | {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": name,
            "tool.name": name,
        }
        self._open(run_id, parent_run_id, f"tool.{name}", "tool", attributes)

    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._count_tool(run_id)
        self._close(run_id)

    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._count_tool(run_id)
        self._close(run_id, error)

    def _count_tool(self, run_id: UUID) -> None:
        span = self.book.get(run_id)
        if span is not None:
            try:
                span.add(tool_uses=1)
            except ValueError:  # ended at shutdown meanwhile
                pass

    # -- models ------------------------------------------------------------
    def on_chat_model_start(self, serialized: Any, messages: Any, *, run_id: UUID,
                            parent_run_id: UUID | None = None, metadata: Any = None,
                            **kwargs: Any) -> None:  # fmt: skip
        self._llm_start(serialized, run_id, parent_run_id, metadata, kwargs)

    def on_llm_start(self, serialized: Any, prompts: Any, *, run_id: UUID,
                     parent_run_id: UUID | None = None, metadata: Any = None,
                     **kwargs: Any) -> None:  # fmt: skip
        self._llm_start(serialized, run_id, parent_run_id, metadata, kwargs)

    def _llm_start(self, serialized: Any, run_id: UUID, parent: UUID | None, metadata: Any,
                   kwargs: Mapping[str, Any]) -> None:  # fmt: skip
        attributes = _common(metadata) | {"gen_ai.operation.name": "chat"}
        if isinstance(metadata, Mapping):
            for source, key in (("ls_model_name", "gen_ai.request.model"),
                                ("ls_provider", "gen_ai.provider.name")):  # fmt: skip
                if isinstance(metadata.get(source), str):
                    attributes[key] = metadata[source]
        name = _name(serialized, kwargs, "model")
        self._open(run_id, parent, f"llm.langchain.{name}", "llm", attributes)

    def on_llm_end(self, response: Any, *, run_id: UUID, **kwargs: Any) -> None:
        span = self.book.get(run_id)
        if span is not None:
            try:
                _usage(span, response)
            except Exception as exc:
                report("spanline's LangChain handler could not read a model's usage", exc=exc)
        self._close(run_id)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._close(run_id, error)


def _usage(span: Any, response: Any) -> None:
    """The call's usage: the messages' ``usage_metadata``, else ``llm_output``'s."""
    tokens_in = tokens_out = 0
    found = False
    model = response_id = None
    for generations in getattr(response, "generations", None) or []:
        for generation in generations:
            message = getattr(generation, "message", None)
            usage = getattr(message, "usage_metadata", None)
            if usage:
                found = True
                tokens_in += int(usage.get("input_tokens") or 0)
                tokens_out += int(usage.get("output_tokens") or 0)
            metadata = getattr(message, "response_metadata", None) or {}
            model = model or metadata.get("model_name")
            response_id = response_id or metadata.get("id")
    if not found:
        usage = (getattr(response, "llm_output", None) or {}).get("token_usage") or {}
        if usage:
            found = True
            tokens_in = int(usage.get("prompt_tokens") or usage.get("input_tokens") or 0)
            tokens_out = int(usage.get("completion_tokens") or usage.get("output_tokens") or 0)
    if found:
        add_usage(span, tokens_in, tokens_out, model=model, response_id=response_id)


#: The hook's context variable: its default is the handler, so every context sees it.
_HANDLER = SpanlineCallbackHandler()
_VAR: Any = None


#: OpenTelemetry scopes that carry the same runs (LangSmith's OpenTelemetry, which
#: Logfire uses for LangChain, and OpenInference's): the bridge skips them while this
#: one is loaded, so no agent or tool appears twice.
SCOPES = ("langsmith", "openinference.instrumentation.langchain")


def install() -> None:
    """Register the configure hook once; later calls reactivate the handler."""
    skip_scopes(SCOPES)
    global _VAR
    if _VAR is None:
        from contextvars import ContextVar

        _VAR = ContextVar("spanline_langchain_handler", default=_HANDLER)
        _context.register_configure_hook(_VAR, True)
    _HANDLER.active = True


def uninstall() -> None:
    """Stop recording: LangChain offers no way to remove a hook, so the handler goes idle
    (runs already open still end their spans)."""
    unskip_scopes(SCOPES)
    _HANDLER.active = False
