"""Token usage read from LLM provider responses, and its cost from a price table.

Shapes are recognised by duck typing (dict keys or attributes), so no provider SDK
is imported: a plain ``dict`` from ``json.loads`` and a pydantic SDK object read
the same. Token counts follow the OpenTelemetry GenAI conventions: input tokens
include cache reads and cache writes, output tokens include reasoning tokens.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import importlib.resources
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import orjson

__all__ = [
    "ModelPrice",
    "PriceTable",
    "Usage",
    "UsageAccumulator",
    "compute_cost",
    "cost_usd",
    "extract_usage",
]

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
        with contextlib.suppress(Exception):  # a malformed chunk must not break the stream
            self._add(chunk)

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


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """USD per million tokens for one model.

    ``cached_input`` prices cache reads and ``cache_write`` cache creation; when
    either is ``None`` those tokens are billed at ``input``.
    """

    input: float
    output: float
    cached_input: float | None = None
    cache_write: float | None = None


_PRICE_KEYS = frozenset(field.name for field in dataclasses.fields(ModelPrice))
# Suffixes that name a snapshot of the same model: 2024-08-06, 20250929, 0613, 001, latest.
_SNAPSHOT = re.compile(r"(?:[-@](?:\d{4}-\d{2}-\d{2}|\d{8}|\d{3,4}|latest))+")


def _parse_price(model: str, raw: object) -> ModelPrice:
    if not isinstance(raw, Mapping):
        raise ValueError(f"price of {model!r} must be a mapping, got {type(raw).__name__}")
    if set(raw) - _PRICE_KEYS:  # a typo such as "cached" would silently bill at input rate
        raise ValueError(f"price of {model!r} has unknown keys {sorted(set(raw) - _PRICE_KEYS)}")
    if "input" not in raw or "output" not in raw:
        raise ValueError(f"price of {model!r} lacks {'output' if 'input' in raw else 'input'!r}")
    for key, value in raw.items():
        ok = value is None and key in ("cached_input", "cache_write")
        if not ok and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
            raise ValueError(f"price {model!r}.{key} must be a number >= 0, got {value!r}")
    return ModelPrice(**{key: None if v is None else float(v) for key, v in raw.items()})


class PriceTable:
    """Model prices in USD per million tokens, looked up by model name."""

    __slots__ = ("_models", "_taken")

    def __init__(self, models: Mapping[str, ModelPrice], *, taken: str | None = None) -> None:
        """Build a table.

        Args:
            models: Prices by model name (matched case-insensitively).
            taken: The date the prices were taken, ``YYYY-MM-DD``, if known.
        """
        self._models = MappingProxyType({name.strip().lower(): p for name, p in models.items()})
        self._taken = taken

    def __repr__(self) -> str:
        return f"PriceTable({len(self._models)} models, taken={self.taken!r})"

    @property
    def taken(self) -> str | None:
        """The date the prices were taken (``YYYY-MM-DD``), if known."""
        return self._taken

    @property
    def models(self) -> Mapping[str, ModelPrice]:
        """Read-only view of the prices by (lower-cased) model name."""
        return self._models

    @classmethod
    def default(cls) -> PriceTable:
        """Return the table shipped with spanline (loaded once, then cached).

        Returns:
            The shipped table; its ``taken`` says how old the prices are.
        """
        return _default_table()

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> PriceTable:
        """Build a table from a ``prices.json``-style document or its ``models`` part.

        Args:
            data: ``{"currency": "USD", "unit": "per_million_tokens", "models": {...}}``
                or just ``{model: {"input": ..., "output": ..., "cached_input": ...,
                "cache_write": ...}}`` (the last two optional).

        Returns:
            The table. Raises ``ValueError`` on a malformed price, currency or unit.
        """
        if not isinstance(data, Mapping):
            raise ValueError(f"price table must be a mapping, got {type(data).__name__}")
        if "models" not in data:
            data = {"models": data}
        for key, expected in (("currency", "USD"), ("unit", "per_million_tokens")):
            if data.get(key, expected) != expected:
                raise ValueError(f"price table {key} must be {expected!r}, got {data[key]!r}")
        models = data["models"]
        if not isinstance(models, Mapping):
            raise ValueError(f"price table 'models' must be a mapping, not {type(models).__name__}")
        prices = {str(name): _parse_price(str(name), raw) for name, raw in models.items()}
        taken = data.get("taken")
        return cls(prices, taken=str(taken) if taken is not None else None)

    @classmethod
    def from_file(cls, path: str | Path) -> PriceTable:
        """Load a table from JSON, or from YAML (``.yaml``/``.yml``) when PyYAML is installed.

        Args:
            path: The file, in the format of :meth:`from_mapping`.

        Returns:
            The table. Raises ``ImportError`` for YAML without PyYAML.
        """
        path = Path(path)
        text = path.read_bytes()
        if path.suffix.lower() not in (".yaml", ".yml"):
            return cls.from_mapping(orjson.loads(text))
        try:
            import yaml
        except ImportError as error:
            raise ImportError(f"reading {path} needs PyYAML: pip install pyyaml") from error
        return cls.from_mapping(yaml.safe_load(text))

    def merged(self, other: PriceTable | Mapping[str, Any]) -> PriceTable:
        """Return a table whose entries from ``other`` override this one's.

        Args:
            other: A table, or a mapping accepted by :meth:`from_mapping`.

        Returns:
            A new table; ``taken`` is ``other``'s when it has one.
        """
        if not isinstance(other, PriceTable):
            other = PriceTable.from_mapping(other)
        return PriceTable({**self._models, **other._models}, taken=other.taken or self.taken)

    def lookup(self, model: str) -> ModelPrice | None:
        """Find the price of ``model``, tolerating provider prefixes and snapshot dates.

        Tries the exact name, then the name after its last ``/`` (``openai/gpt-4o``,
        ``models/gemini-2.5-pro``), then the longest known name that the model extends
        only by date or version suffixes (``gpt-4o-2024-08-06``, ``claude-sonnet-4-5@20250929``).
        A name that extends a known one by anything else (``gpt-4o-mini`` given only
        ``gpt-4o``) is not priced.

        Args:
            model: The model name as requested or as reported by the response.

        Returns:
            The price, or ``None`` if the model is unknown.
        """
        if not isinstance(model, str):
            return None
        for name in _candidates(model.strip().lower()):
            price = self._models.get(name)
            if price is not None:
                return price
        return None


def _candidates(name: str) -> Iterator[str]:
    yield name
    name = name.rsplit("/", 1)[-1]
    yield name
    # Cut at each "-" or "@" from the right, so the longest matching prefix comes first.
    for index in range(len(name) - 1, 0, -1):
        if name[index] in "-@" and _SNAPSHOT.fullmatch(name, index):
            yield name[:index]


@functools.lru_cache(maxsize=1)
def _default_table() -> PriceTable:
    data = importlib.resources.files("spanline").joinpath("prices.json").read_bytes()
    return PriceTable.from_mapping(orjson.loads(data))


def cost_usd(usage: Usage, price: ModelPrice) -> float:
    """Cost of ``usage`` in USD.

    Cache reads are billed at ``cached_input``, cache creation at ``cache_write``
    (each at ``input`` when not given), the rest of the input at ``input`` and all
    output, reasoning included, at ``output``. Unknown counts count as zero.

    Args:
        usage: The token counts.
        price: The model's price.

    Returns:
        The cost in USD.
    """
    read = usage.cache_read_input_tokens or 0
    write = usage.cache_creation_input_tokens or 0
    plain = max((usage.input_tokens or 0) - read - write, 0)
    cached_rate = price.input if price.cached_input is None else price.cached_input
    write_rate = price.input if price.cache_write is None else price.cache_write
    per_million = plain * price.input + read * cached_rate + write * write_rate
    per_million += (usage.output_tokens or 0) * price.output
    return per_million / 1_000_000


def compute_cost(
    usage: Usage | None, model: str | None, table: PriceTable | None = None
) -> float | None:
    """Cost of ``usage`` for ``model`` in USD, or ``None`` if it cannot be known.

    Args:
        usage: The token counts, possibly ``None``.
        model: The model name (requested or reported).
        table: The prices; ``PriceTable.default()`` when omitted.

    Returns:
        The cost, or ``None`` when the model is not in ``table`` (report it as
        unpriced rather than as free) or when ``usage`` has no counts.
    """
    if usage is None or model is None or _usage_or_none(usage) is None:
        return None
    price = (PriceTable.default() if table is None else table).lookup(model)
    return None if price is None else cost_usd(usage, price)
