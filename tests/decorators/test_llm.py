"""@traced_llm: usage, cost, streaming and time to first chunk, through the decorator."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from spanline import traced_llm
from spanline.testing import CapturedSpans, capture_spans
from tests.capture.test_usage import (
    ANTHROPIC_MESSAGE,
    ANTHROPIC_STREAM,
    FORMS,
    OPENAI_CHAT_STREAM,
    build,
)

# claude-sonnet-4-5 at the shipped prices: 100 input x $3, 500 cache writes x $3.75,
# 2000 cache reads x $0.30 and 300 output x $15, per million tokens.
ANTHROPIC_COST = (100 * 3.0 + 500 * 3.75 + 2000 * 0.30 + 300 * 15.0) / 1e6


@pytest.mark.parametrize("form", FORMS)
def test_anthropic_message_usage_and_cost(form: str, spanline_capture: CapturedSpans) -> None:
    response = build(form, "anthropic.types", "Message", ANTHROPIC_MESSAGE)

    @traced_llm(provider="anthropic", model="claude-sonnet-4-5")
    def call_model(prompt: str) -> Any:
        return response

    assert call_model("hi") is response
    span = spanline_capture.span("llm.call_model")
    attrs = span["attributes"]
    assert span["kind"] == "llm"
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.provider.name"] == attrs["gen_ai.system"] == "anthropic"
    assert attrs["llm.provider"] == "anthropic" and attrs["llm.operation"] == "chat"
    assert attrs["gen_ai.request.model"] == attrs["llm.model"] == "claude-sonnet-4-5"
    assert attrs["gen_ai.response.model"] == "claude-sonnet-4-5-20250929"
    assert attrs["gen_ai.usage.input_tokens"] == 2600  # includes cache reads and writes
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == 2000
    assert attrs["gen_ai.usage.cache_creation.input_tokens"] == 500
    assert attrs["gen_ai.usage.output_tokens"] == 300
    assert span["tokens"] == 2900
    assert attrs["gen_ai.usage.cost_usd"] == pytest.approx(ANTHROPIC_COST)


def test_model_from_call_argument_and_provider_from_response() -> None:
    @traced_llm
    async def complete(*, model: str, prompt: str) -> dict:
        await asyncio.sleep(0)
        return ANTHROPIC_MESSAGE

    with capture_spans() as captured:
        asyncio.run(complete(model="claude-sonnet-4-5", prompt="x"))
        attrs = captured.span("llm.complete")["attributes"]
    assert attrs["gen_ai.request.model"] == "claude-sonnet-4-5"
    assert attrs["gen_ai.provider.name"] == "anthropic"
    assert captured.summary is not None
    assert captured.summary.totals.cost_usd == pytest.approx(ANTHROPIC_COST)
    assert captured.summary.unpriced_models == []


def test_unknown_model_is_unpriced_never_zero() -> None:
    @traced_llm(provider="acme", model="acme-large-9")
    def call() -> dict:
        return {"model": "acme-large-9", "usage": {"prompt_tokens": 10, "completion_tokens": 2}}

    with capture_spans() as captured:
        call()
        span = captured.span("llm.call")
    assert span["tokens"] == 12
    assert "gen_ai.usage.cost_usd" not in span["attributes"]
    assert captured.summary is not None
    assert captured.summary.unpriced_models == ["acme-large-9"]
    assert captured.summary.totals.cost_usd == 0.0


def test_no_usage_leaves_counts_absent(spanline_capture: CapturedSpans) -> None:
    @traced_llm(provider="openai", model="gpt-4o")
    def call() -> dict:
        return {"choices": []}

    call()
    span = spanline_capture.span("llm.call")
    assert span["tokens"] == 0
    assert not any(k.startswith("gen_ai.usage.") for k in span["attributes"])


def test_price_override_by_mapping() -> None:
    @traced_llm(model="claude-sonnet-4-5")
    def call() -> dict:
        return ANTHROPIC_MESSAGE

    prices = {"claude-sonnet-4-5": {"input": 1.0, "output": 1.0, "cached_input": 1.0}}
    with capture_spans(prices=prices) as captured:
        call()
        cost = captured.span("llm.call")["attributes"]["gen_ai.usage.cost_usd"]
    # 2100 input-side tokens at $1 (cache writes fall back to the input price) + 300 output.
    assert cost == pytest.approx((100 + 500 + 2000 + 300) / 1e6)


@pytest.mark.parametrize("form", FORMS)
def test_returned_stream_keeps_span_open_until_consumed(
    form: str, spanline_capture: CapturedSpans
) -> None:
    chunks = [
        build(form, "openai.types.chat", "ChatCompletionChunk", c) for c in OPENAI_CHAT_STREAM
    ]

    @traced_llm(provider="openai", model="gpt-4o-mini")
    def stream_chat(prompt: str) -> Any:
        return iter(chunks)

    stream = stream_chat("hi")
    assert [s["name"] for s in spanline_capture.spans() if s["ended"]] == []
    assert list(stream) == chunks
    span = spanline_capture.span("llm.stream_chat")
    attrs = span["attributes"]
    assert span["ended"] and span["status"] == "ok"
    assert attrs["gen_ai.response.chunks"] == 3
    assert attrs["gen_ai.response.time_to_first_chunk_ms"] >= 0
    assert attrs["gen_ai.usage.input_tokens"] == 19
    assert attrs["gen_ai.usage.output_tokens"] == 10
    assert span["tokens"] == 29
    assert attrs["gen_ai.usage.cost_usd"] > 0


def test_decorated_async_generator_stream(spanline_capture: CapturedSpans) -> None:
    @traced_llm(provider="anthropic", model="claude-sonnet-4-5")
    async def stream_messages():
        for event in ANTHROPIC_STREAM:
            await asyncio.sleep(0)
            yield event

    async def consume() -> int:
        return len([event async for event in stream_messages()])

    assert asyncio.run(consume()) == len(ANTHROPIC_STREAM)
    attrs = spanline_capture.span("llm.stream_messages")["attributes"]
    assert attrs["gen_ai.usage.input_tokens"] == 2600
    assert attrs["gen_ai.usage.output_tokens"] > 1  # the latest message_delta, not message_start
    assert attrs["gen_ai.response.time_to_first_chunk_ms"] >= 0


def test_stream_closed_early_still_ends_the_span(spanline_capture: CapturedSpans) -> None:
    @traced_llm(provider="openai", model="gpt-4o-mini")
    def stream_chat() -> Any:
        return iter(OPENAI_CHAT_STREAM)

    stream = stream_chat()
    next(stream)
    stream.close()
    span = spanline_capture.span("llm.stream_chat")
    assert span["ended"] and span["attributes"]["spanline.closed_early"] is True
    assert "gen_ai.usage.input_tokens" not in span["attributes"]  # never reached the usage chunk


def test_stream_error_is_recorded(spanline_capture: CapturedSpans) -> None:
    def failing():
        yield OPENAI_CHAT_STREAM[0]
        raise ConnectionError("stream cut")

    @traced_llm(provider="openai", model="gpt-4o-mini")
    def stream_chat() -> Any:
        return failing()

    with pytest.raises(ConnectionError):
        list(stream_chat())
    span = spanline_capture.span("llm.stream_chat")
    assert span["status"] == "error" and span["error"]["message"] == "stream cut"
