"""Instrumented SDK calls inside @traced_llm: usage on the innermost LLM span, counted once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from spanline import traced_llm
from spanline.schema import USAGE_ON_CHILD
from spanline.testing import CapturedSpans, capture_spans
from tests.instrument._checks import assert_usage, llm_spans
from tests.instrument._providers import (
    ANTHROPIC_TOKENS,
    GEMINI_TOKENS,
    OPENAI_TOKENS,
    TEXT,
    ProviderServer,
)
from tests.instrument.conftest import anthropic_client, genai_client, openai_client

pytestmark = pytest.mark.usefixtures("instrumented")

MESSAGES = [{"role": "user", "content": "hi"}]
CLAUDE = {"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": MESSAGES}
TEXT_ALL = "".join(TEXT)


def _outer_and_inner(captured: CapturedSpans, outer_name: str) -> list[dict[str, Any]]:
    """Each outer span with no usage and the marker; each inner one a child holding usage."""
    spans = llm_spans(captured)
    outers = [span for span in spans if span["name"] == outer_name]
    inners = [span for span in spans if span["name"] != outer_name]
    assert len(outers) == len(inners) >= 1
    outer_ids = {span["span_id"] for span in outers}
    for outer in outers:
        assert outer["tokens"] == 0
        assert outer["attributes"][USAGE_ON_CHILD] is True
        assert "gen_ai.usage.input_tokens" not in outer["attributes"]
    for inner in inners:
        assert inner["parent"] in outer_ids
    return inners


def _totals_once(captured: CapturedSpans, expected: dict[str, int], calls: int = 1) -> None:
    assert captured.summary is not None
    totals = captured.summary.totals
    assert totals.total_tokens == calls * (expected["input"] + expected["output"])
    assert totals.tokens_by_type.input == calls * expected["input"]
    assert totals.llm_calls_without_usage == 0
    # Every span_end summed: the file agrees with the summary.
    ends = [e for e in captured.events if e["event"] == "span_end"]
    assert sum(e["tokens"] for e in ends) == totals.total_tokens


def test_returned_response(server: ProviderServer) -> None:
    client = openai_client(server)

    @traced_llm(provider="openai")
    def ask() -> Any:
        return client.chat.completions.create(model="gpt-4o", messages=MESSAGES)

    with capture_spans() as captured:
        assert ask().choices[0].message.content == TEXT_ALL
    (inner,) = _outer_and_inner(captured, "llm.ask")
    assert_usage(inner, OPENAI_TOKENS)
    _totals_once(captured, OPENAI_TOKENS)


def test_returned_stream(server: ProviderServer) -> None:
    client = anthropic_client(server)

    @traced_llm(provider="anthropic")
    def ask() -> Any:
        return client.messages.create(**CLAUDE, stream=True)

    with capture_spans() as captured:
        events = list(ask())
    assert "".join(e.delta.text for e in events if e.type == "content_block_delta") == TEXT_ALL
    (inner,) = _outer_and_inner(captured, "llm.ask")
    assert_usage(inner, ANTHROPIC_TOKENS)
    _totals_once(captured, ANTHROPIC_TOKENS)


def test_returned_stream_helper_nests_its_request(server: ProviderServer) -> None:
    client = anthropic_client(server)

    @traced_llm(provider="anthropic")
    def ask() -> Any:
        return client.messages.stream(**CLAUDE)

    with capture_spans() as captured, ask() as stream:
        assert "".join(stream.text_stream) == TEXT_ALL
    (inner,) = _outer_and_inner(captured, "llm.ask")
    assert_usage(inner, ANTHROPIC_TOKENS)
    _totals_once(captured, ANTHROPIC_TOKENS)


def test_returned_openai_stream_helper_nests_its_request(server: ProviderServer) -> None:
    client = openai_client(server)

    @traced_llm(provider="openai")
    def ask() -> Any:
        options = {"include_usage": True}
        return client.chat.completions.stream(
            model="gpt-4o", messages=MESSAGES, stream_options=options
        )

    with capture_spans() as captured, ask() as stream:
        stream.until_done()
    (inner,) = _outer_and_inner(captured, "llm.ask")
    assert_usage(inner, OPENAI_TOKENS)
    _totals_once(captured, OPENAI_TOKENS)


def test_text_only_generator_gets_usage_from_the_instrumented_call(
    server: ProviderServer, reports: list[str]
) -> None:
    client = anthropic_client(server)

    @traced_llm(provider="anthropic")
    def deltas() -> Iterator[str]:
        with client.messages.stream(**CLAUDE) as stream:
            yield from stream.text_stream

    with capture_spans() as captured:
        assert "".join(deltas()) == TEXT_ALL
    (inner,) = _outer_and_inner(captured, "llm.deltas")
    assert_usage(inner, ANTHROPIC_TOKENS)
    _totals_once(captured, ANTHROPIC_TOKENS)
    assert not [line for line in reports if "without token usage" in line]


def test_several_calls_in_one_function_each_count_once(server: ProviderServer) -> None:
    @traced_llm
    async def agent_turn() -> str:
        async with genai_client(server).aio as client:
            first = await client.models.generate_content(model="gemini-2.5-flash", contents="a")
            stream = await client.models.generate_content_stream(
                model="gemini-2.5-flash", contents="b"
            )
            second = "".join([chunk.text async for chunk in stream])
        return first.text + second

    with capture_spans() as captured:
        assert asyncio.run(agent_turn()) == TEXT_ALL * 2
    spans = llm_spans(captured)
    outer = next(span for span in spans if span["name"] == "llm.agent_turn")
    inners = [span for span in spans if span is not outer]
    assert len(inners) == 2 and {span["parent"] for span in inners} == {outer["span_id"]}
    for inner in inners:
        assert_usage(inner, GEMINI_TOKENS)
    assert outer["tokens"] == 0 and outer["attributes"][USAGE_ON_CHILD] is True
    _totals_once(captured, GEMINI_TOKENS, calls=2)
