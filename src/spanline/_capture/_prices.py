"""Model prices and the cost in USD of a call's token usage.

Prices are USD per million tokens, read from the ``prices.json`` shipped with
spanline or from a user's JSON/YAML file. A model name is looked up tolerating
provider prefixes and snapshot suffixes, but never priced as a different model:
an unknown model has no cost rather than a wrong one.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, cast

import orjson

from spanline._capture._usage import Usage, _usage_or_none
from spanline.exceptions import ConfigurationError

__all__ = ["ModelPrice", "PriceTable", "compute_cost", "cost_usd"]

if TYPE_CHECKING:
    from typing import TypedDict

    class _RequiredPrices(TypedDict):
        input: float
        output: float

    class _PriceFields(_RequiredPrices, total=False):
        """The keyword arguments of ModelPrice, as _parse_price checks them."""

        cached_input: float | None
        cache_write: float | None


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
        raise ConfigurationError(f"price of {model!r} must be a mapping, got {type(raw).__name__}")
    if set(raw) - _PRICE_KEYS:  # a typo such as "cached" would silently bill at input rate
        raise ConfigurationError(
            f"price of {model!r} has unknown keys {sorted(set(raw) - _PRICE_KEYS)}"
        )
    if "input" not in raw or "output" not in raw:
        raise ConfigurationError(
            f"price of {model!r} lacks {'output' if 'input' in raw else 'input'!r}"
        )
    for key, value in raw.items():
        ok = value is None and key in ("cached_input", "cache_write")
        if not ok and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
            raise ConfigurationError(f"price {model!r}.{key} must be a number >= 0, got {value!r}")
    # cast: the checks above allow only ModelPrice's keys, require input and output,
    # and let None through only for cached_input and cache_write.
    fields = {key: None if v is None else float(v) for key, v in raw.items()}
    return ModelPrice(**cast("_PriceFields", fields))


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
            The table.

        Raises:
            ConfigurationError: A malformed price, currency or unit (also a ``ValueError``).
        """
        if not isinstance(data, Mapping):
            raise ConfigurationError(f"price table must be a mapping, got {type(data).__name__}")
        if "models" not in data:
            data = {"models": data}
        for key, expected in (("currency", "USD"), ("unit", "per_million_tokens")):
            if data.get(key, expected) != expected:
                raise ConfigurationError(
                    f"price table {key} must be {expected!r}, got {data[key]!r}"
                )
        models = data["models"]
        if not isinstance(models, Mapping):
            raise ConfigurationError(
                f"price table 'models' must be a mapping, not {type(models).__name__}"
            )
        prices = {str(name): _parse_price(str(name), raw) for name, raw in models.items()}
        taken = data.get("taken")
        return cls(prices, taken=str(taken) if taken is not None else None)

    @classmethod
    def from_file(cls, path: str | Path) -> PriceTable:
        """Load a table from JSON, or from YAML (``.yaml``/``.yml``) when PyYAML is installed.

        Args:
            path: The file, in the format of :meth:`from_mapping`.

        Returns:
            The table.

        Raises:
            ConfigurationError: The file's prices, currency or unit are malformed.
            ImportError: The file is YAML and PyYAML is not installed.
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
    import importlib.resources  # ~8 ms: only when prices are first needed

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
