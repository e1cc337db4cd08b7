"""Tests for price lookup and cost (spanline._capture._prices)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from spanline._capture import _prices
from spanline._capture._prices import ModelPrice, PriceTable, compute_cost, cost_usd
from spanline._capture._usage import Usage, extract_usage
from spanline.exceptions import ConfigurationError
from tests._helpers import heavy_imports
from tests.capture.test_usage import ANTHROPIC_MESSAGE, GEMINI_RESPONSE, OPENAI_CHAT

# --- Prices and cost ---------------------------------------------------------------

TABLE = PriceTable.from_mapping(
    {
        "gpt-4o": {"input": 2.5, "output": 10.0, "cached_input": 1.25},
        "claude-sonnet-4-5": {
            "input": 3.0,
            "output": 15.0,
            "cached_input": 0.3,
            "cache_write": 3.75,
        },
        "gemini-2.5-flash": {"input": 0.3, "output": 2.5, "cached_input": 0.03},
        "plain": {"input": 1.0, "output": 2.0},
    }
)


def test_cost_openai_cached_tokens_at_cached_rate() -> None:
    # (2006 - 1920) * 2.5 + 1920 * 1.25 + 300 * 10 = 215 + 2400 + 3000 per million.
    assert compute_cost(extract_usage(OPENAI_CHAT), "gpt-4o", TABLE) == pytest.approx(0.005615)


def test_cost_anthropic_cache_write_at_write_rate() -> None:
    # 100 * 3 + 2000 * 0.3 + 500 * 3.75 + 300 * 15 = 300 + 600 + 1875 + 4500 per million.
    usage = extract_usage(ANTHROPIC_MESSAGE)
    assert compute_cost(usage, "claude-sonnet-4-5", TABLE) == pytest.approx(0.007275)


def test_cost_gemini_thoughts_billed_as_output() -> None:
    # 200 * 0.3 + 1000 * 0.03 + (80 + 420) * 2.5 = 60 + 30 + 1250 per million.
    usage = extract_usage(GEMINI_RESPONSE)
    assert compute_cost(usage, "gemini-2.5-flash", TABLE) == pytest.approx(0.00134)


def test_cost_without_cache_prices_bills_cache_at_input_rate() -> None:
    usage = Usage(1_000_000, 1_000_000, 400_000, 100_000)
    assert cost_usd(usage, TABLE.lookup("plain")) == pytest.approx(3.0)  # type: ignore[arg-type]


def test_cost_of_a_million_tokens_is_the_table_price() -> None:
    table = PriceTable.default()
    for model in ("gpt-4o", "claude-sonnet-4-5", "gemini-2.5-pro"):
        price = table.lookup(model)
        assert price is not None
        assert compute_cost(Usage(1_000_000, 0), model, table) == pytest.approx(price.input)
        assert compute_cost(Usage(0, 1_000_000), model) == pytest.approx(price.output)
        cached = Usage(1_000_000, 0, cache_read_input_tokens=1_000_000)
        assert compute_cost(cached, model) == pytest.approx(price.cached_input)


def test_cost_unknown_model_or_no_counts_is_none() -> None:
    usage = Usage(10, 10)
    assert compute_cost(usage, "my-finetune", TABLE) is None
    assert compute_cost(usage, None, TABLE) is None
    assert compute_cost(None, "gpt-4o", TABLE) is None
    assert compute_cost(Usage(None, None, provider="openai"), "gpt-4o", TABLE) is None
    assert compute_cost(Usage(0, 0), "gpt-4o", TABLE) == 0.0


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("gpt-4o", "gpt-4o"),
        ("GPT-4o", "gpt-4o"),
        ("openai/gpt-4o", "gpt-4o"),
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("openai/gpt-4o-2024-11-20", "gpt-4o"),
        ("gpt-4o-2024-05-13", "gpt-4o-2024-05-13"),  # an exact entry beats normalisation
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("o3-2025-04-16", "o3"),
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("anthropic/claude-sonnet-4-5", "claude-sonnet-4-5"),
        ("claude-sonnet-4-5@20250929", "claude-sonnet-4-5"),
        ("claude-opus-4-1-20250805", "claude-opus-4-1"),
        ("claude-opus-4-20250514", "claude-opus-4"),
        ("claude-3-5-haiku-20241022", "claude-3-5-haiku"),
        ("claude-3-5-haiku-latest", "claude-3-5-haiku"),
        ("claude-haiku-4-5", "claude-haiku-4-5"),
        ("models/gemini-2.5-pro", "gemini-2.5-pro"),
        ("gemini-2.0-flash-001", "gemini-2.0-flash"),
        ("gemini-2.5-flash", "gemini-2.5-flash"),
        ("gpt-5-mini-2025-08-07", "gpt-5-mini"),
        ("gpt-4.1-nano", "gpt-4.1-nano"),
    ],
)
def test_lookup_normalises_prefixes_and_snapshots(model: str, expected: str) -> None:
    table = PriceTable.default()
    assert table.lookup(model) is table.models[expected]


@pytest.mark.parametrize(
    "model",
    [
        "gpt-4o-audio-preview",
        "gpt-4o-mini-tts",
        "claude-opus-4-7",
        "claude-sonnet-4-5-preview",
        "gemini-2.5-flash-preview-09-2025",
        "ft:gpt-4o-mini-2024-07-18:acme::abc123",
        "gpt",
        "",
    ],
)
def test_lookup_never_prices_a_different_model(model: str) -> None:
    assert PriceTable.default().lookup(model) is None


def test_lookup_does_not_fall_back_to_a_shorter_family_name() -> None:
    only_4o = PriceTable.from_mapping({"gpt-4o": {"input": 2.5, "output": 10.0}})
    assert only_4o.lookup("gpt-4o-mini") is None
    assert only_4o.lookup("gpt-4o-mini-2024-07-18") is None
    assert only_4o.lookup(None) is None  # type: ignore[arg-type]


def test_default_table_is_cached_and_covers_current_models() -> None:
    table = PriceTable.default()
    assert table is PriceTable.default()
    assert table.taken is not None and len(table.taken.split("-")) == 3
    expected = {"gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "o3", "o4-mini", "gpt-5"}
    expected |= {"claude-opus-4-1", "claude-sonnet-4-5", "claude-haiku-4-5", "claude-3-5-haiku"}
    expected |= {"claude-3-7-sonnet", "gemini-2.5-pro", "gemini-2.5-flash", "gemini-2.0-flash"}
    assert expected <= set(table.models)
    for price in table.models.values():
        assert price.cached_input is not None and price.cached_input <= price.input


def test_shipped_file_format() -> None:
    raw = json.loads(Path(_prices.__file__).parent.parent.joinpath("prices.json").read_text())
    assert (raw["currency"], raw["unit"]) == ("USD", "per_million_tokens")


def test_user_override_via_dict() -> None:
    table = PriceTable.default().merged(
        {
            "gpt-4o": {"input": 1.0, "output": 4.0, "cached_input": 0.5},
            "my-model": {"input": 9, "output": 9},
        }
    )
    assert table.lookup("gpt-4o-2024-08-06") == ModelPrice(1.0, 4.0, 0.5)
    assert compute_cost(Usage(1_000_000, 0), "my-model", table) == pytest.approx(9.0)
    assert table.lookup("claude-sonnet-4-5") == PriceTable.default().lookup("claude-sonnet-4-5")
    assert PriceTable.default().lookup("my-model") is None  # the cached default is untouched


def test_user_override_via_json_file(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    document = {"taken": "2030-01-01", "currency": "USD", "unit": "per_million_tokens"}
    document["models"] = {"acme-large": {"input": 4, "output": 8, "cached_input": 1}}
    path.write_text(json.dumps(document))
    table = PriceTable.default().merged(PriceTable.from_file(path))
    assert table.taken == "2030-01-01"
    usage = Usage(1_000_000, 500_000, cache_read_input_tokens=500_000)
    assert compute_cost(usage, "acme/acme-large-20300101", table) == pytest.approx(2 + 0.5 + 4)


def test_user_override_via_yaml_file(tmp_path: Path) -> None:
    pytest.importorskip("yaml")
    path = tmp_path / "prices.yaml"
    path.write_text("models:\n  acme-small:\n    input: 0.5\n    output: 1.5\n")
    table = PriceTable.from_file(path)
    assert table.lookup("acme-small") == ModelPrice(0.5, 1.5)
    assert table.taken is None


def test_yaml_file_without_pyyaml_names_the_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "prices.yml"
    path.write_text("models: {}\n")
    monkeypatch.setitem(sys.modules, "yaml", None)  # makes `import yaml` fail
    with pytest.raises(ImportError, match="pip install pyyaml"):
        PriceTable.from_file(path)


def test_table_repr_names_size_and_date() -> None:
    assert repr(TABLE) == "PriceTable(4 models, taken=None)"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"m": {"input": 1}}, "lacks 'output'"),
        ({"m": {"input": 1, "output": 2, "cached": 0.5}}, "unknown keys"),
        ({"m": {"input": -1, "output": 2}}, "must be a number >= 0"),
        ({"m": {"input": "1", "output": 2}}, "must be a number >= 0"),
        ({"m": [1, 2]}, "must be a mapping"),
        ({"currency": "EUR", "models": {}}, "currency must be 'USD'"),
        ({"unit": "per_token", "models": {}}, "unit must be"),
        ({"models": [1]}, "'models' must be a mapping"),
    ],
)
def test_malformed_prices_are_rejected(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        PriceTable.from_mapping(data)
    assert isinstance(caught.value, ConfigurationError)


def test_malformed_price_file_raises_configuration_error(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"models": {"m": {"input": 1}}}))
    with pytest.raises(ConfigurationError, match="lacks 'output'"):
        PriceTable.from_file(path)


def test_module_imports_no_pydantic_yaml_or_provider_sdk() -> None:
    # PyYAML is imported only when a YAML price file is read.
    setup = "import spanline._capture._prices\nspanline._capture._prices.PriceTable.default()"
    heavy = {"pydantic", "openai", "anthropic", "google.genai", "yaml"}
    assert heavy_imports(setup, heavy) == []
