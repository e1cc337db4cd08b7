"""``@traced_agent``, ``@traced_tool``, ``@traced_llm`` and ``spanline.context()``.

Attribute names follow MassGen's Logfire tables and SQL examples and the
OpenTelemetry GenAI conventions; spans are named ``tool.<tool name>``,
``llm.<function name>``, and agents by their name.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar, overload

from spanline._capture._report import report
from spanline._decorators._wrapping import Recipe, captured, decorate, parsed_raw_response
from spanline._hotpath._errors import safe_str
from spanline._hotpath._runtime import RUNTIME, context_attributes, set_context_attributes
from spanline._hotpath._tracer import Span, new_span_id
from spanline.schema import USAGE_ON_CHILD

if TYPE_CHECKING:
    from spanline._capture._usage import Usage

# Usage, prices and stream helpers load with the first LLM call that needs them, not at
# import (the price table's module alone cost about 13 ms of every program's start).
__all__ = ["context", "traced_agent", "traced_llm", "traced_tool"]

F = TypeVar("F", bound=Callable[..., Any])
#: Compiled on first use (re caches it): nothing is compiled at import.
_MCP_NAME = r"^mcp__(?P<server>[^_].*?)__(?P<tool>.+)$"


class _Agent(Recipe):
    kind = "agent"

    def __init__(
        self, func: Callable[..., Any], name: str | None, kind: str | None, agent_id: str | None
    ) -> None:
        self.agent_name = name or func.__qualname__
        super().__init__(func, self.agent_name, kind)
        self.fixed_id = agent_id
        params = self.signature.parameters if self.signature is not None else {}
        self.takes_agent_id = "agent_id" in params

    def start_attributes(self, span: Span, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        arguments = self.arguments(args, kwargs)
        agent_id = self.fixed_id  # id=, else the agent_id argument, else the span id
        if agent_id is None and self.takes_agent_id and arguments.get("agent_id") is not None:
            agent_id = safe_str(arguments["agent_id"])
        if agent_id is None:
            span._id = new_span_id()
            agent_id = span.span_id
        span.attributes.update(
            {
                "gen_ai.operation.name": "invoke_agent",
                "gen_ai.agent.id": agent_id,
                "gen_ai.agent.name": self.agent_name,
                **captured("input.value", arguments),
            }
        )

    def context(self, span: Span) -> dict[str, Any] | None:
        return {
            "gen_ai.agent.id": span.attributes["gen_ai.agent.id"],
            "gen_ai.agent.name": self.agent_name,
        }

    def finish(self, span: Span, result: Any, elapsed_ms: float) -> None:
        span.set_attributes(captured("output.value", result))


class _Tool(Recipe):
    kind = "tool"

    def __init__(self, func: Callable[..., Any], name: str | None, kind: str | None) -> None:
        self.tool_name = name or func.__name__
        super().__init__(func, f"tool.{self.tool_name}", kind)
        match = re.match(_MCP_NAME, self.tool_name)
        self.static = {"tool.name": self.tool_name, "tool.type": "mcp" if match else "custom"}
        if match:
            self.static["mcp.server"] = match.group("server")

    def start_attributes(self, span: Span, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        arguments = self.arguments(args, kwargs)
        span.attributes.update(
            {
                **self.static,
                "tool.input_chars": _char_count(arguments),
                **captured("tool.arguments_preview", arguments, key_full="input.value"),
            }
        )

    @staticmethod
    def _outcome(span: Span, success: bool, elapsed_ms: float, **details: Any) -> None:
        """Every tool call, whatever its shape or end, counts one tool use."""
        span.add(tool_uses=1)
        span.set_attributes(
            {"tool.success": success, "tool.execution_time_ms": elapsed_ms, **details}
        )

    def finish(self, span: Span, result: Any, elapsed_ms: float) -> None:
        details = {
            "tool.output_chars": _char_count(result),
            **captured("tool.output_preview", result, key_full="output.value"),
        }
        self._outcome(span, True, elapsed_ms, **details)

    def fail(self, span: Span, exc: BaseException, elapsed_ms: float) -> None:
        message = f"{type(exc).__name__}: {safe_str(exc)}"
        self._outcome(span, False, elapsed_ms, **{"tool.error_message": message})

    def new_stream(self) -> Any:
        return {"chars": 0, "items": 0}

    def chunk(self, span: Span, state: Any, item: Any, elapsed_ms: float) -> None:
        state["chars"] += _char_count(item)
        state["items"] += 1

    def finish_stream(self, span: Span, state: Any, elapsed_ms: float) -> None:
        counts = {"tool.output_chars": state["chars"], "tool.output_items": state["items"]}
        self._outcome(span, True, elapsed_ms, **counts)


class LlmRecipe(Recipe):
    kind = "llm"
    wraps_streams = True

    def __init__(
        self,
        func: Callable[..., Any],
        name: str | None,
        kind: str | None,
        provider: str | None,
        model: str | None,
        operation: str,
    ) -> None:
        super().__init__(func, f"llm.{name or func.__name__}", kind)
        self.provider = provider
        self.model = model
        self.operation = operation

    def start_attributes(self, span: Span, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        if RUNTIME.budgets:
            from spanline._decorators._budget_act import check_budgets

            check_budgets()  # a spent budget stops the call here, before its request
        arguments = self.arguments(args, kwargs)
        model = self.model or arguments.get("model")
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": self.operation,
            "llm.operation": self.operation,
        }
        if self.provider:
            attributes.update(
                {
                    "gen_ai.provider.name": self.provider,
                    "gen_ai.system": self.provider,
                    "llm.provider": self.provider,
                }
            )
        if isinstance(model, str):
            attributes.update({"gen_ai.request.model": model, "llm.model": model})
        span.attributes.update({**attributes, **captured("input.value", arguments)})

    def finish(self, span: Span, result: Any, elapsed_ms: float) -> None:
        from spanline._capture._usage import extract_usage

        result = parsed_raw_response(result)  # with_raw_response: usage is in the body
        usage = extract_usage(result)
        if usage is None and isinstance(result, str):
            self._usage(
                span, None, "it returned text only, so the response's usage never reached it"
            )
        else:
            self._usage(span, usage, "the response carried no usage")
        span.set_attributes(captured("output.value", result))

    def new_stream(self) -> Any:
        from spanline._capture._usage import UsageAccumulator

        return {"usage": UsageAccumulator(), "chunks": 0, "texts": 0, "source": None}

    def chunk(self, span: Span, state: Any, item: Any, elapsed_ms: float) -> None:
        if state["chunks"] == 0:
            span.set_attribute("gen_ai.response.time_to_first_chunk_ms", elapsed_ms)
        state["chunks"] += 1
        if isinstance(item, str):
            state["texts"] += 1
        else:
            state["usage"].add(item)

    def stream_source(self, state: Any, stream: Any) -> None:
        state["source"] = stream

    def finish_stream(self, span: Span, state: Any, elapsed_ms: float) -> None:
        span.set_attribute("gen_ai.response.chunks", state["chunks"])
        usage = state["usage"].usage or _snapshot_usage(state["source"])
        self._usage(span, usage, _stream_cause(span, state))

    def _usage(self, span: Span, usage: Usage | None, cause: str = "") -> None:
        """Tokens into attributes and the ``tokens`` counter; cost when the model is priced."""
        if _usage_recorded_inside(span):
            return  # an instrumented SDK call inside recorded it on its own span: count once
        if usage is None:
            # No usage reported: counts stay absent, never zero, and the fold counts
            # the call in llm_calls_without_usage. Say so once per function.
            _warn_without_usage(self.func, span.name, cause)
            return
        span.set_attributes(usage.to_attributes())
        if usage.total_tokens is not None:
            try:
                span.add(tokens=usage.total_tokens)
            except ValueError:
                pass  # a provider's count past 64 bits: kept in the attributes, not summed
        if not self.provider and usage.provider:
            span.set_attributes(
                {"gen_ai.provider.name": usage.provider, "llm.provider": usage.provider}
            )
        model = usage.response_model or span.attributes.get("gen_ai.request.model")
        cost = None
        if isinstance(model, str):
            from spanline._capture._prices import compute_cost

            cost = compute_cost(usage, model, RUNTIME.prices)
            if cost is not None:
                span.set_attribute("gen_ai.usage.cost_usd", cost)
        if RUNTIME.budgets:
            from spanline._capture._budget import charge

            charge(usage.total_tokens, cost)


def _snapshot_usage(stream: Any) -> Usage | None:
    """Usage from a stream helper's final state: the consumer took text only, or
    let the helper read the stream (``until_done()``, ``get_final_message()``)."""
    from spanline._capture._usage import extract_usage
    from spanline._decorators._streams import helper_snapshot

    snapshot = helper_snapshot(stream)
    return None if snapshot is None else extract_usage(snapshot)


def _stream_cause(span: Span, state: Any) -> str:
    if not state["chunks"]:
        return "no part of the answer was read through the returned object"
    if state["chunks"] == state["texts"]:
        return "it yielded text only, so the stream's usage never reached it"
    if span.attributes.get("gen_ai.provider.name") == "openai":
        return 'an OpenAI stream without stream_options={"include_usage": True}'
    return "no stream chunk carried usage"


def _usage_recorded_inside(span: Span) -> bool:
    attributes = span._end_attributes
    return attributes is not None and attributes.get(USAGE_ON_CHILD) is True


_WARNED: set[str] = set()


def _warn_without_usage(func: Callable[..., Any], span_name: str, cause: str) -> None:
    """One warning per function: its LLM span ended with no token usage."""
    name = getattr(func, "__qualname__", span_name)
    key = f"{getattr(func, '__module__', '')}.{name}"
    if key in _WARNED:
        return
    _WARNED.add(key)
    hint = (
        "; spanline.instrument('openai' | 'anthropic' | 'google-genai') records usage"
        " from the SDK call itself"
        if "text only" in cause
        else ""
    )
    report(
        f"{span_name} ({name}) ended without token usage: {cause}{hint}."
        " Such calls are counted in totals.llm_calls_without_usage."
    )


def _char_count(value: Any) -> int:
    """Characters of a value's text form, exactly, so queries on large outputs find them.

    Text and bytes count their length, a flat dict of strings (named arguments)
    its keys and values, anything else ``str(value)``; a ``__str__`` that raises
    counts the placeholder :func:`safe_str` gives instead.
    """
    try:
        if isinstance(value, (str, bytes, bytearray)):
            return len(value)
        if type(value) is dict and all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            return sum(len(k) + len(v) for k, v in value.items())
    except Exception:  # a hostile __len__ or str subclass: count its text form
        pass
    return len(safe_str(value))


def _decorator(make: Callable[[Callable[..., Any]], Recipe], func: F | None) -> Any:
    if func is not None:
        return decorate(func, make(func))
    return lambda f: decorate(f, make(f))


@overload
def traced_agent(func: F, /) -> F: ...
@overload
def traced_agent(
    *, name: str | None = None, kind: str | None = None, id: str | None = None, budget: Any = None
) -> Callable[[F], F]: ...
def traced_agent(
    func: F | None = None,
    /,
    *,
    name: str | None = None,
    kind: str | None = None,
    id: str | None = None,
    budget: Any = None,
) -> Any:
    """Trace each call as an agent span; nested spans carry the agent's id.

    Usable bare (``@traced_agent``) or with arguments, on functions, methods,
    coroutines, generators and async generators.

    Args:
        func: the function (when used bare).
        name: the agent's name (default: the function's ``__qualname__``); also the span name.
        kind: the span kind (default ``"agent"``); the span counts as an agent whatever it is.
        id: a fixed agent id; else the call's ``agent_id`` argument, else the span id.
        budget: ``spanline.budget(...)`` or a mapping of its keywords: each call of the
            agent gets a budget of its own with these limits, counting the LLM calls
            of the agent and its sub-agents (functions and coroutines only).

    Raises:
        ConfigurationError: an invalid budget.
    """
    if budget is None:
        return _decorator(lambda f: _Agent(f, name, kind, id), func)
    from spanline._capture._budget import agent_budget
    from spanline._decorators._budgeted import budgeted

    budget = agent_budget(budget)  # bad input raises here, where it was written

    def make(f: Callable[..., Any]) -> Any:
        agent = _Agent(f, name, kind, id)
        return decorate(budgeted(f, budget, agent.agent_name), agent)

    return make(func) if func is not None else make


@overload
def traced_tool(func: F, /) -> F: ...
@overload
def traced_tool(*, name: str | None = None, kind: str | None = None) -> Callable[[F], F]: ...
def traced_tool(
    func: F | None = None, /, *, name: str | None = None, kind: str | None = None
) -> Any:
    """Trace each call as a ``tool.<name>`` span with MassGen's tool attributes.

    Args:
        func: the function (when used bare).
        name: the tool's name (default: the function's name); ``mcp__<server>__<tool>``
            names are typed ``mcp`` with ``mcp.server`` set.
        kind: the span kind (default ``"tool"``).
    """
    return _decorator(lambda f: _Tool(f, name, kind), func)


@overload
def traced_llm(func: F, /) -> F: ...
@overload
def traced_llm(
    *,
    name: str | None = None,
    kind: str | None = None,
    provider: str | None = None,
    model: str | None = None,
    operation: str = "chat",
) -> Callable[[F], F]: ...
def traced_llm(
    func: F | None = None,
    /,
    *,
    name: str | None = None,
    kind: str | None = None,
    provider: str | None = None,
    model: str | None = None,
    operation: str = "chat",
) -> Any:
    """Trace each call as an ``llm.<name>`` span with token usage and cost.

    Usage is read from the returned response (OpenAI, Anthropic, Gemini; objects
    or dicts). A returned stream, or a decorated generator, keeps the span open
    until consumed; usage comes from the final chunk that carries it and the
    time to the first chunk is recorded.

    Args:
        func: the function (when used bare).
        name: the span is named ``llm.<name>`` (default: the function's name).
        kind: the span kind (default ``"llm"``).
        provider: e.g. ``"anthropic"`` (else detected from the response shape).
        model: the requested model (else the call's ``model`` argument).
        operation: ``gen_ai.operation.name`` (default ``"chat"``).
    """
    return _decorator(lambda f: LlmRecipe(f, name, kind, provider, model, operation), func)


@contextmanager
def context(**attributes: Any) -> Iterator[None]:
    """Attach attributes to every span opened inside the block (threads via bind_context).

    Example: ``with spanline.context(round_number=1, round_type="voting"): ...``
    """
    outer = context_attributes.get()
    token = set_context_attributes({**(outer or {}), **attributes})
    try:
        yield
    finally:
        try:
            context_attributes.reset(token)
        except (ValueError, RuntimeError):
            pass
