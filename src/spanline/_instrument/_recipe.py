"""The LLM recipe of an instrumented SDK method, and how a provider names one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from spanline._capture import _ledger as ledger
from spanline._capture._usage import Usage, _get
from spanline._decorators._propagate import RemoteParent
from spanline._decorators._traced import LlmRecipe, _usage_recorded_inside
from spanline._decorators._wrapping import parsed_raw_response
from spanline._hotpath._runtime import CURRENT_SPAN
from spanline._hotpath._tracer import Span
from spanline.schema import DUPLICATE_OF, USAGE_ON_CHILD

__all__ = ["SdkCall", "Target"]

#: Request keywords recorded as gen_ai.request.* attributes (first spelling found wins).
_REQUEST = (
    ("gen_ai.request.max_tokens", ("max_tokens", "max_completion_tokens", "max_output_tokens")),
    ("gen_ai.request.temperature", ("temperature",)),
    ("gen_ai.request.top_p", ("top_p",)),
)


@dataclass(frozen=True)
class Target:
    """One SDK method to wrap: ``owner.attribute``, and how its span is named."""

    owner: type
    attribute: str
    #: The span is named ``llm.<span_name>``, e.g. ``openai.chat.completions.create``.
    span_name: str
    provider: str
    operation: str = "chat"


class SdkCall(LlmRecipe):
    """``@traced_llm``'s recipe for a patched SDK method."""

    def __init__(self, func: Callable[..., Any], target: Target) -> None:
        super().__init__(func, target.span_name, None, target.provider, None, target.operation)

    def arguments(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        # The SDK methods take keywords only; binding their 40-parameter signatures
        # with defaults would capture a page of sentinels.
        return dict(kwargs)

    def start_attributes(self, span: Span, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        super().start_attributes(span, args, kwargs)
        config = kwargs.get("config")  # google-genai puts sampling settings there
        for key, names in _REQUEST:
            value = _get(kwargs, *names)
            if value is None and config is not None:
                value = _get(config, *names)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                span.attributes[key] = value
        outer = CURRENT_SPAN.get()
        if isinstance(outer, RemoteParent) and outer._id:
            # Inside an OpenTelemetry span the bridge records (a framework's LLM span):
            # if this span records the usage, that one records none.
            ledger.note_child(outer._id, span)
        elif isinstance(outer, Span) and outer.kind == "llm":
            # Inside a @traced_llm function: this span records the usage, the outer
            # one records none, so totals count the call once.
            try:
                outer.set_attribute(USAGE_ON_CHILD, True)
            except ValueError:  # the outer span has ended: nothing to count twice
                pass

    def finish(self, span: Span, result: Any, elapsed_ms: float) -> None:
        parsed = parsed_raw_response(result)
        response_id = _get(parsed, "id", "response_id")
        if isinstance(response_id, str):
            # Before the usage: a call another span already recorded is settled by it.
            span.set_attribute("gen_ai.response.id", response_id)
        super().finish(span, result, elapsed_ms)
        result = parsed
        reasons = _finish_reasons(result)
        if reasons:
            span.set_attribute("gen_ai.response.finish_reasons", reasons)

    def chunk(self, span: Span, state: Any, item: Any, elapsed_ms: float) -> None:
        if "response_id" not in state:
            found = _response_id(item)
            if found is not None:
                state["response_id"] = found
        super().chunk(span, state, item, elapsed_ms)

    def finish_stream(self, span: Span, state: Any, elapsed_ms: float) -> None:
        response_id = state.get("response_id")
        if response_id is not None:
            # Before the usage, as for whole answers (see finish()).
            span.set_attribute("gen_ai.response.id", response_id)
        super().finish_stream(span, state, elapsed_ms)

    def _usage(self, span: Span, usage: Usage | None, cause: str = "") -> None:
        if usage is not None and not _usage_recorded_inside(span):
            ended = span._end_attributes or {}
            kept = ledger.claim(
                ended.get("gen_ai.response.id"),
                span._id,
                f"spanline.instrument({self.provider!r})",
            )
            if kept is not None:
                # Another span not around this one recorded the same response: this
                # one is its duplicate, and records no usage.
                span.set_attribute(DUPLICATE_OF, f"{kept:016x}")
                return
        super()._usage(span, usage, cause)


def _response_id(chunk: Any) -> str | None:
    """The response id a stream chunk carries: its own (OpenAI chat chunks, Gemini), or
    the response's or message's it opens (OpenAI Responses events, Anthropic's
    message_start)."""
    for holder in (chunk, _get(chunk, "response"), _get(chunk, "message")):
        found = _get(holder, "id", "response_id") if holder is not None else None
        if isinstance(found, str) and found:
            return found
    return None


def _finish_reasons(result: Any) -> list[str]:
    """Why the model stopped: OpenAI choices, Gemini candidates, Anthropic's stop_reason."""
    stop = _get(result, "stop_reason")
    if isinstance(stop, str):
        return [stop]
    reasons = []
    for choice in _get(result, "choices", "candidates") or ():
        reason = _get(choice, "finish_reason")
        # Gemini's is an enum whose value is the wire spelling ("STOP").
        reason = getattr(reason, "value", reason)
        if isinstance(reason, str):
            reasons.append(reason)
    return reasons
