"""@traced_llm without instrumentation: the silent cases of the SDKs, and no silent zeros.

A function that returns a ``.stream(...)`` helper, a stream or a raw response
keeps its span open until the response is read, and records the server's
usage. A function that hides the response (it returns or yields text only)
cannot see usage: its span is counted in llm_calls_without_usage, and one
warning names the function and the way out.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

from spanline import traced_llm
from spanline.testing import capture_spans
from tests.instrument._checks import assert_no_usage, assert_usage, llm_spans
from tests.instrument._providers import ANTHROPIC_TOKENS, OPENAI_TOKENS, TEXT, ProviderServer
from tests.instrument.conftest import anthropic_client, openai_client

MESSAGES = [{"role": "user", "content": "hi"}]
CLAUDE = {"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": MESSAGES}
TEXT_ALL = "".join(TEXT)


def test_returned_anthropic_stream_helper_ends_when_consumed(server: ProviderServer) -> None:
    client = anthropic_client(server)

    @traced_llm(provider="anthropic", model="claude-sonnet-4-5")
    def ask() -> Any:
        return client.messages.stream(**CLAUDE)

    with capture_spans() as captured:
        before = len(server.requests)
        manager = ask()
        # The helper sends its request when entered: nothing sent, nothing ended yet.
        assert len(server.requests) == before
        assert [span["ended"] for span in llm_spans(captured)] == [False]
        with manager as stream:
            assert "".join(stream.text_stream) == TEXT_ALL
    (span,) = llm_spans(captured)
    assert span["name"] == "llm.ask" and span["ended"]
    assert span["attributes"]["gen_ai.response.time_to_first_chunk_ms"] >= 0
    assert_usage(span, ANTHROPIC_TOKENS)
    assert captured.summary is not None
    assert captured.summary.totals.llm_calls_without_usage == 0


def test_returned_openai_stream_helper_ends_when_consumed(server: ProviderServer) -> None:
    client = openai_client(server)

    @traced_llm(provider="openai")
    def ask() -> Any:
        options = {"include_usage": True}
        return client.chat.completions.stream(
            model="gpt-4o", messages=MESSAGES, stream_options=options
        )

    with capture_spans() as captured:
        before = len(server.requests)
        manager = ask()
        assert len(server.requests) == before
        with manager as stream:
            texts = [event.delta for event in stream if event.type == "content.delta"]
    assert "".join(texts) == TEXT_ALL
    (span,) = llm_spans(captured)
    assert_usage(span, OPENAI_TOKENS)


def test_returned_async_anthropic_stream_helper(server: ProviderServer) -> None:
    @traced_llm(provider="anthropic", model="claude-sonnet-4-5")
    def ask(client: Any) -> Any:
        return client.messages.stream(**CLAUDE)

    async def main() -> str:
        async with anthropic_client(server, sync=False) as client, ask(client) as stream:
            return "".join([text async for text in stream.text_stream])

    with capture_spans() as captured:
        assert asyncio.run(main()) == TEXT_ALL
    (span,) = llm_spans(captured)
    assert_usage(span, ANTHROPIC_TOKENS)


def test_returned_stream_helper_left_early_ends_its_span(server: ProviderServer) -> None:
    client = anthropic_client(server)

    @traced_llm(provider="anthropic", model="claude-sonnet-4-5")
    def ask() -> Any:
        return client.messages.stream(**CLAUDE)

    with capture_spans() as captured, ask() as stream:
        next(iter(stream))
    (span,) = llm_spans(captured)
    assert span["ended"] and span["attributes"]["spanline.closed_early"] is True


def test_returned_stream_helper_read_to_the_end_is_not_closed_early(
    server: ProviderServer,
) -> None:
    anthropic_sdk, openai_sdk = anthropic_client(server), openai_client(server)

    @traced_llm(provider="anthropic", model="claude-sonnet-4-5")
    def claude() -> Any:
        return anthropic_sdk.messages.stream(**CLAUDE)

    @traced_llm(provider="openai")
    def gpt() -> Any:
        options = {"include_usage": True}
        return openai_sdk.chat.completions.stream(
            model="gpt-4o", messages=MESSAGES, stream_options=options
        )

    with capture_spans() as captured:
        with claude() as stream:
            assert stream.get_final_message().content[0].text == TEXT_ALL
        with gpt() as stream:
            stream.until_done()
    spans = llm_spans(captured)
    assert [span["name"] for span in spans] == ["llm.claude", "llm.gpt"]
    for span in spans:
        assert span["ended"] and "spanline.closed_early" not in span["attributes"]
    assert_usage(spans[0], ANTHROPIC_TOKENS)
    assert_usage(spans[1], OPENAI_TOKENS)


def test_returned_raw_response(server: ProviderServer) -> None:
    client = openai_client(server)

    @traced_llm(provider="openai")
    def ask() -> Any:
        return client.chat.completions.with_raw_response.create(model="gpt-4o", messages=MESSAGES)

    with capture_spans() as captured:
        raw = ask()
        assert raw.headers["request-id"] == "req-1"
        assert raw.parse().choices[0].message.content == TEXT_ALL
    (span,) = llm_spans(captured)
    assert_usage(span, OPENAI_TOKENS)


def test_returned_async_raw_response_records_usage_once_parsed(server: ProviderServer) -> None:
    @traced_llm(provider="anthropic", model="claude-sonnet-4-5")
    async def ask(client: Any) -> Any:
        return await client.messages.with_raw_response.create(**CLAUDE)

    async def main() -> str:
        async with anthropic_client(server, sync=False) as client:
            raw = await ask(client)
            return (await raw.parse()).content[0].text

    with capture_spans() as captured:
        assert asyncio.run(main()) == TEXT_ALL
    (span,) = llm_spans(captured)
    assert_usage(span, ANTHROPIC_TOKENS)


def test_text_only_generator_is_counted_and_warned_once(
    server: ProviderServer, reports: list[str]
) -> None:
    client = anthropic_client(server)

    @traced_llm(provider="anthropic", model="claude-sonnet-4-5")
    def deltas() -> Iterator[str]:
        with client.messages.stream(**CLAUDE) as stream:
            yield from stream.text_stream

    with capture_spans() as captured:
        assert "".join(deltas()) == TEXT_ALL
        assert "".join(deltas()) == TEXT_ALL
    spans = llm_spans(captured)
    assert len(spans) == 2
    for span in spans:
        assert_no_usage(span)
    assert captured.summary is not None
    assert captured.summary.totals.llm_calls_without_usage == 2
    (warning,) = [line for line in reports if "without token usage" in line]
    assert "deltas" in warning and "text only" in warning
    assert "spanline.instrument(" in warning


def test_returned_string_is_counted_and_warned(server: ProviderServer, reports: list[str]) -> None:
    client = openai_client(server)

    @traced_llm(provider="openai", model="gpt-4o")
    def answer() -> str:
        stream = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
        return "".join(c.choices[0].delta.content or "" for c in stream if c.choices)

    with capture_spans() as captured:
        assert answer() == TEXT_ALL
    (span,) = llm_spans(captured)
    assert_no_usage(span)
    assert captured.summary is not None
    assert captured.summary.totals.llm_calls_without_usage == 1
    (warning,) = [line for line in reports if "without token usage" in line]
    assert "answer" in warning and "returned text only" in warning


def test_stream_without_include_usage_names_the_option(
    server: ProviderServer, reports: list[str]
) -> None:
    client = openai_client(server)

    @traced_llm(provider="openai", model="gpt-4o")
    def chunks() -> Any:
        return client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)

    with capture_spans() as captured:
        assert len(list(chunks())) == len(TEXT) + 2
    (span,) = llm_spans(captured)
    assert_no_usage(span)
    (warning,) = [line for line in reports if "without token usage" in line]
    assert "chunks" in warning and '"include_usage": True' in warning
