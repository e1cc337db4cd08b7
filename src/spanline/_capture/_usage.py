"""Token usage read from LLM provider responses and stream chunks.

Shapes are recognised by duck typing (dict keys or attributes), so no provider SDK
is imported: a plain ``dict`` from ``json.loads`` and a pydantic SDK object read
the same. Token counts follow the OpenTelemetry GenAI conventions: input tokens
include cache reads and cache writes, output tokens include reasoning tokens.
Prices and the cost of a usage are in ``spanline._capture._prices``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

__all__ = ["Usage", "UsageAccumulator", "extract_usage"]

if TYPE_CHECKING:
    from typing import TypedDict

    class _Counts(TypedDict):
        """The token-count keyword arguments of Usage (_ATTRIBUTE_KEYS less the model)."""

        input_tokens: int | None
        output_tokens: int | None
        cache_read_input_tokens: int | None
        cache_creation_input_tokens: int | None
        reasoning_output_tokens: int | None


_ATTRIBUTE_KEYS = (
    ("input_tokens", "gen_ai.usage.input_tokens"),
    ("output_tokens", "gen_ai.usage.output_tokens"),
    ("cache_read_input_tokens", "gen_ai.usage.cache_read.input_tokens"),
    ("cache_creation_input_tokens", "gen_ai.usage.cache_creation.input_tokens"),
    ("reasoning_output_tokens", "gen_ai.usage.reasoning.output_tokens"),
    ("response_model", "gen_ai.response.model"),
)


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts of one model call; ``None`` means the provider did not say.

    ``input_tokens`` includes ``cache_read_input_tokens`` and
    ``cache_creation_input_tokens``; ``output_tokens`` includes
    ``reasoning_output_tokens``.
    """

    input_tokens: int | None
    output_tokens: int | None
    cache_read_input_tokens: int | None = None
    cache_creation_input_tokens: int | None = None
    reasoning_output_tokens: int | None = None
    provider: str | None = None
    response_model: str | None = None

    @property
    def total_tokens(self) -> int | None:
        """Input plus output tokens; ``None`` only when both are unknown."""
        return _sum(self.input_tokens, self.output_tokens)

    def to_attributes(self) -> dict[str, int | str]:
        """Return OpenTelemetry GenAI span attributes, omitting unknown values.

        Returns:
            A dict such as ``{"gen_ai.usage.input_tokens": 12, ...}``.
        """
        pairs = ((key, getattr(self, name)) for name, key in _ATTRIBUTE_KEYS)
        return {key: value for key, value in pairs if value is not None}

    def to_dict(self) -> dict[str, int | str | None]:
        """Return every field by name, ``None`` included.

        Returns:
            A JSON-ready dict.
        """
        return dataclasses.asdict(self)


def _sum(*values: int | None) -> int | None:
    known = [value for value in values if value is not None]
    return sum(known) if known else None


def _get(obj: object, *names: str) -> Any:
    """First non-None value among ``names``, read as a key or an attribute."""
    if obj is None:
        return None
    for name in names:
        try:
            value = obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)
        except Exception:  # a hostile __getattr__ must not break the caller's request
            value = None
        if value is not None:
            return value
    return None


def _has(obj: object, *names: str) -> bool:
    if isinstance(obj, Mapping):
        return any(name in obj for name in names)
    return any(_get(obj, name) is not None for name in names)


def _int(value: object) -> int | None:
    # bool is an int subclass, and JSON may spell counts as 12.0.
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return value if isinstance(value, int) and value >= 0 else None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _usage_or_none(usage: Usage) -> Usage | None:
    counts: tuple[int | None, ...]
    counts = (usage.input_tokens, usage.output_tokens, usage.cache_read_input_tokens)
    counts += (usage.cache_creation_input_tokens, usage.reasoning_output_tokens)
    return None if all(count is None for count in counts) else usage


# Field names of (input, output, input details, output details) in OpenAI's two APIs.
_CHAT = ("prompt_tokens", "completion_tokens", "prompt_tokens_details", "completion_tokens_details")
_RESPONSES = ("input_tokens", "output_tokens", "input_tokens_details", "output_tokens_details")


def _openai(usage: object, model: str | None, names: tuple[str, ...]) -> Usage:
    details_in, details_out = _get(usage, names[2]), _get(usage, names[3])
    return Usage(
        input_tokens=_int(_get(usage, names[0])),
        output_tokens=_int(_get(usage, names[1])),
        cache_read_input_tokens=_int(_get(details_in, "cached_tokens")),
        cache_creation_input_tokens=_int(_get(details_in, "cache_write_tokens")),
        reasoning_output_tokens=_int(_get(details_out, "reasoning_tokens")),
        provider="openai",
        response_model=model,
    )


_ANTHROPIC_COUNTS: tuple[str, ...]
_ANTHROPIC_COUNTS = ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
_ANTHROPIC_COUNTS += ("output_tokens",)


def _anthropic_fields(usage: object) -> dict[str, int | None]:
    """Anthropic's raw counts; its ``input_tokens`` excludes the cache parts."""
    fields = {name: _int(_get(usage, name)) for name in _ANTHROPIC_COUNTS}
    fields["thinking_tokens"] = _int(_get(_get(usage, "output_tokens_details"), "thinking_tokens"))
    return fields


def _anthropic(fields: Mapping[str, int | None], model: str | None) -> Usage:
    read, write = fields["cache_read_input_tokens"], fields["cache_creation_input_tokens"]
    return Usage(
        input_tokens=_sum(fields["input_tokens"], read, write),
        output_tokens=fields["output_tokens"],
        cache_read_input_tokens=read,
        cache_creation_input_tokens=write,
        reasoning_output_tokens=fields["thinking_tokens"],
        provider="anthropic",
        response_model=model,
    )


def _anthropic_event(event: object) -> tuple[str, dict[str, int | None], str | None] | None:
    """``(type, raw counts, model)`` of an Anthropic stream event that has usage."""
    kind = _get(event, "type")
    if kind in ("message_start", "message_stop"):  # message_stop has one only via the SDK
        message = _get(event, "message")
        return kind, _anthropic_fields(_get(message, "usage")), _str(_get(message, "model"))
    if kind == "message_delta":
        return kind, _anthropic_fields(_get(event, "usage")), None
    return None


def _gemini(meta: object, model: str | None) -> Usage:
    def count(snake: str, camel: str) -> int | None:  # REST JSON spells keys in camelCase
        return _int(_get(meta, snake, camel))

    thoughts = count("thoughts_token_count", "thoughtsTokenCount")
    # Tool-result tokens sit outside prompt_token_count but are billed as input.
    tool_prompt = count("tool_use_prompt_token_count", "toolUsePromptTokenCount")
    return Usage(
        input_tokens=_sum(count("prompt_token_count", "promptTokenCount"), tool_prompt),
        output_tokens=_sum(count("candidates_token_count", "candidatesTokenCount"), thoughts),
        cache_read_input_tokens=count("cached_content_token_count", "cachedContentTokenCount"),
        reasoning_output_tokens=thoughts,
        provider="gemini",
        response_model=model,
    )


def _from_usage(usage: object, model: str | None, kind: object) -> Usage | None:
    """Read a provider ``usage`` object; ``kind`` is the enclosing ``type`` field."""
    if _has(usage, "prompt_tokens", "completion_tokens"):
        return _openai(usage, model, _CHAT)
    if _has(usage, "input_tokens_details"):
        return _openai(usage, model, _RESPONSES)
    claude = kind == "message" or (model or "").startswith("claude")
    if claude or _has(usage, "cache_read_input_tokens", "cache_creation_input_tokens"):
        return _anthropic(_anthropic_fields(usage), model)
    if _has(usage, "input_tokens", "output_tokens"):  # could be either; don't guess
        return dataclasses.replace(_openai(usage, model, _RESPONSES), provider=None)
    if _has(usage, "prompt_token_count", "promptTokenCount"):
        return _gemini(usage, model)
    return None


def _extract(response: object, depth: int) -> Usage | None:
    event = _anthropic_event(response)
    if event is not None:
        return _anthropic(event[1], event[2])
    kind = _get(response, "type")
    # OpenAI Responses stream events ("response.completed") and chat-helper "chunk" events
    # wrap the object that carries usage; recurse once, never deeper.
    inner = _get(response, "response", "chunk") if depth == 0 else None
    if inner is not None and (kind == "chunk" or str(kind).startswith("response.")):
        return _extract(inner, depth + 1)
    meta = _get(response, "usage_metadata", "usageMetadata")
    if meta is not None:
        return _gemini(meta, _str(_get(response, "model_version", "modelVersion")))
    usage = _get(response, "usage")
    if usage is not None:
        return _from_usage(usage, _str(_get(response, "model")), kind)
    return _from_usage(response, None, None)  # maybe a bare usage object was passed


def extract_usage(response: object) -> Usage | None:
    """Read token usage from a provider response, stream chunk or stream event.

    Args:
        response: An OpenAI, Anthropic or Gemini response (SDK object or plain dict),
            one of their stream chunks/events, or a bare usage object.

    Returns:
        The usage, or ``None`` when ``response`` carries none. Never raises.
    """
    try:
        usage = _extract(response, 0)
    except Exception:  # tracing must never break the traced call
        return None
    return None if usage is None else _usage_or_none(usage)


class UsageAccumulator:
    """Folds a stream's chunks or events into its final usage.

    The last chunk that carries usage wins, except for Anthropic, whose
    ``message_start`` input and cache counts are merged with the latest
    ``message_delta`` counts (which are cumulative).
    """

    __slots__ = ("_anthropic", "_anthropic_model", "_latest", "_seen")

    def __init__(self) -> None:
        """Start with no chunk seen."""
        self._anthropic: dict[str, int | None] | None = None
        self._anthropic_model: str | None = None
        self._latest: Usage | None = None
        self._seen = False

    @property
    def first_chunk_seen(self) -> bool:
        """Whether :meth:`add` has been called at least once."""
        return self._seen

    @property
    def usage(self) -> Usage | None:
        """The stream's usage so far; ``None`` if no chunk carried any."""
        if self._anthropic is not None:
            return _usage_or_none(_anthropic(self._anthropic, self._anthropic_model))
        return self._latest

    def add(self, chunk: object) -> None:
        """Record one stream chunk or event. Never raises.

        Args:
            chunk: An item yielded by a provider's streaming iterator.
        """
        self._seen = True
        # try/except rather than contextlib.suppress: this runs for every chunk.
        try:
            self._add(chunk)
        except Exception:
            pass  # a malformed chunk must not break the stream

    def _add(self, chunk: object) -> None:
        event = _anthropic_event(chunk)
        if event is None:
            usage = extract_usage(chunk)
            self._latest = self._latest if usage is None else usage
            return
        kind, fields, model = event
        if kind == "message_delta":  # cumulative counts: overwrite those it carries
            known = {name: value for name, value in fields.items() if value is not None}
            fields = {**(self._anthropic or _anthropic_fields(None)), **known}
        elif all(value is None for value in fields.values()):
            return  # a raw message_stop
        # A message_stop from the SDK's MessageStream holds the merged snapshot: replace.
        self._anthropic = fields
        self._anthropic_model = model or self._anthropic_model


def usage_from_attributes(attributes: Mapping[str, Any]) -> Usage:
    """The inverse of :meth:`Usage.to_attributes`: read usage back from span attributes.

    Lets folds price usage that was recorded by hand (``span.set_attribute``).
    """
    values = {name: attributes.get(key) for name, key in _ATTRIBUTE_KEYS}
    model = values.pop("response_model")
    counts = {name: _int(value) for name, value in values.items()}
    # cast: once response_model is popped, the names are exactly _Counts' keys.
    return Usage(
        **cast("_Counts", counts), response_model=model if isinstance(model, str) else None
    )
