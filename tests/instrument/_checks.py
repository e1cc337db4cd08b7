"""What every traced LLM call must show: the server's usage, exactly, or a counted miss."""

from __future__ import annotations

from typing import Any

from spanline.testing import CapturedSpans

_KEYS = {
    "input": "gen_ai.usage.input_tokens",
    "output": "gen_ai.usage.output_tokens",
    "cache_read": "gen_ai.usage.cache_read.input_tokens",
    "cache_creation": "gen_ai.usage.cache_creation.input_tokens",
    "reasoning": "gen_ai.usage.reasoning.output_tokens",
}


def llm_spans(captured: CapturedSpans) -> list[dict[str, Any]]:
    return [span for span in captured.spans() if span.get("kind") == "llm"]


def assert_usage(span: dict[str, Any], expected: dict[str, int]) -> None:
    """The span holds the server's token counts, its ``tokens`` = input + output, and a cost."""
    attributes = span["attributes"]
    for name, key in _KEYS.items():
        assert attributes.get(key) == expected.get(name), (span["name"], key)
    assert span["tokens"] == expected["input"] + expected["output"]
    assert attributes["gen_ai.usage.cost_usd"] > 0
    assert span["status"] == "ok"


def assert_no_usage(span: dict[str, Any]) -> None:
    """No counts at all (never zeros) and no tokens on the span."""
    attributes = span["attributes"]
    assert not any(key in attributes for key in _KEYS.values()), span["name"]
    assert span["tokens"] == 0
    assert span["status"] == "ok"
