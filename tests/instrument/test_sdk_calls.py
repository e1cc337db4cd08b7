"""spanline.instrument(): real SDK clients over HTTP to a loopback provider server.

Every natural way to call the OpenAI, Anthropic and google-genai SDKs (sync,
async, streams, the ``.stream(...)`` helpers, ``with_raw_response``, text-only
consumption) gives exactly one LLM span, holding the usage the server sent, or,
where the server sent none, a span the summary counts in llm_calls_without_usage.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest

from spanline.testing import capture_spans
from tests.instrument._checks import assert_no_usage, assert_usage, llm_spans
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
USAGE_ON = {"stream_options": {"include_usage": True}}
CLAUDE = {"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": MESSAGES}
TEXT_ALL = "".join(TEXT)


# -- OpenAI --------------------------------------------------------------------------


def openai_create(server: ProviderServer) -> Any:
    answer = openai_client(server).chat.completions.create(model="gpt-4o", messages=MESSAGES)
    return answer.choices[0].message.content


def openai_stream(server: ProviderServer) -> Any:
    client = openai_client(server)
    stream = client.chat.completions.create(
        model="gpt-4o", messages=MESSAGES, stream=True, **USAGE_ON
    )
    return "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)


def openai_stream_without_usage_option(server: ProviderServer) -> Any:
    client = openai_client(server)
    stream = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
    return "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)


def openai_stream_helper_events(server: ProviderServer) -> Any:
    client = openai_client(server)
    with client.chat.completions.stream(model="gpt-4o", messages=MESSAGES, **USAGE_ON) as stream:
        return "".join(event.delta for event in stream if event.type == "content.delta")


def openai_stream_helper_final(server: ProviderServer) -> Any:
    client = openai_client(server)
    with client.chat.completions.stream(model="gpt-4o", messages=MESSAGES, **USAGE_ON) as stream:
        return stream.get_final_completion().choices[0].message.content


def openai_raw(server: ProviderServer) -> Any:
    raw = openai_client(server).chat.completions.with_raw_response.create(
        model="gpt-4o", messages=MESSAGES
    )
    assert raw.headers["request-id"] == "req-1"
    return raw.parse().choices[0].message.content


def openai_raw_stream(server: ProviderServer) -> Any:
    raw = openai_client(server).chat.completions.with_raw_response.create(
        model="gpt-4o", messages=MESSAGES, stream=True, **USAGE_ON
    )
    return "".join(chunk.choices[0].delta.content or "" for chunk in raw.parse() if chunk.choices)


def openai_streaming_response_json(server: ProviderServer) -> Any:
    create = openai_client(server).chat.completions.with_streaming_response.create
    with create(model="gpt-4o", messages=MESSAGES) as response:
        return response.json()["choices"][0]["message"]["content"]


def openai_streaming_response_parse(server: ProviderServer) -> Any:
    create = openai_client(server).chat.completions.with_streaming_response.create
    with create(model="gpt-4o", messages=MESSAGES) as response:
        return response.parse().choices[0].message.content


def openai_streaming_response_lines(server: ProviderServer) -> Any:
    # Read line by line, the body is never held whole: there is no usage to read.
    create = openai_client(server).chat.completions.with_streaming_response.create
    with create(model="gpt-4o", messages=MESSAGES) as response:
        answer = json.loads("".join(response.iter_lines()))
    return answer["choices"][0]["message"]["content"]


def openai_parse(server: ProviderServer) -> Any:
    answer = openai_client(server).chat.completions.parse(model="gpt-4o", messages=MESSAGES)
    return answer.choices[0].message.content


def openai_responses(server: ProviderServer) -> Any:
    return openai_client(server).responses.create(model="gpt-4o", input="hi").output_text


def openai_responses_stream(server: ProviderServer) -> Any:
    stream = openai_client(server).responses.create(model="gpt-4o", input="hi", stream=True)
    return "".join(e.delta for e in stream if e.type == "response.output_text.delta")


def openai_responses_stream_helper(server: ProviderServer) -> Any:
    with openai_client(server).responses.stream(model="gpt-4o", input="hi") as stream:
        return stream.get_final_response().output_text


def openai_responses_parse(server: ProviderServer) -> Any:
    return openai_client(server).responses.parse(model="gpt-4o", input="hi").output_text


async def _openai_async_create(server: ProviderServer) -> Any:
    async with openai_client(server, sync=False) as client:
        answer = await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        return answer.choices[0].message.content


async def _openai_async_stream(server: ProviderServer) -> Any:
    async with openai_client(server, sync=False) as client:
        stream = await client.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, stream=True, **USAGE_ON
        )
        return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])


async def _openai_async_stream_helper(server: ProviderServer) -> Any:
    async with (
        openai_client(server, sync=False) as client,
        client.chat.completions.stream(model="gpt-4o", messages=MESSAGES, **USAGE_ON) as stream,
    ):
        return "".join([event.delta async for event in stream if event.type == "content.delta"])


async def _openai_async_raw(server: ProviderServer) -> Any:
    async with openai_client(server, sync=False) as client:
        create = client.chat.completions.with_raw_response.create
        raw = await create(model="gpt-4o", messages=MESSAGES)
        return raw.parse().choices[0].message.content


# -- Anthropic -----------------------------------------------------------------------


def anthropic_create(server: ProviderServer) -> Any:
    return anthropic_client(server).messages.create(**CLAUDE).content[0].text


def anthropic_create_stream(server: ProviderServer) -> Any:
    stream = anthropic_client(server).messages.create(**CLAUDE, stream=True)
    return "".join(e.delta.text for e in stream if e.type == "content_block_delta")


def anthropic_stream_helper_events(server: ProviderServer) -> Any:
    with anthropic_client(server).messages.stream(**CLAUDE) as stream:
        return "".join(e.delta.text for e in stream if e.type == "content_block_delta")


def anthropic_stream_helper_text(server: ProviderServer) -> Any:
    with anthropic_client(server).messages.stream(**CLAUDE) as stream:
        return "".join(stream.text_stream)


def anthropic_stream_helper_final(server: ProviderServer) -> Any:
    with anthropic_client(server).messages.stream(**CLAUDE) as stream:
        return stream.get_final_message().content[0].text


def anthropic_raw(server: ProviderServer) -> Any:
    raw = anthropic_client(server).messages.with_raw_response.create(**CLAUDE)
    assert raw.headers["request-id"] == "req-1"
    return raw.parse().content[0].text


def anthropic_raw_stream(server: ProviderServer) -> Any:
    raw = anthropic_client(server).messages.with_raw_response.create(**CLAUDE, stream=True)
    return "".join(e.delta.text for e in raw.parse() if e.type == "content_block_delta")


async def _anthropic_async_streaming_response_json(server: ProviderServer) -> Any:
    async with (
        anthropic_client(server, sync=False) as client,
        client.messages.with_streaming_response.create(**CLAUDE) as response,
    ):
        return (await response.json())["content"][0]["text"]


async def _anthropic_async_create(server: ProviderServer) -> Any:
    async with anthropic_client(server, sync=False) as client:
        return (await client.messages.create(**CLAUDE)).content[0].text


async def _anthropic_async_stream_helper_text(server: ProviderServer) -> Any:
    async with (
        anthropic_client(server, sync=False) as client,
        client.messages.stream(**CLAUDE) as stream,
    ):
        return "".join([text async for text in stream.text_stream])


async def _anthropic_async_create_stream(server: ProviderServer) -> Any:
    async with anthropic_client(server, sync=False) as client:
        stream = await client.messages.create(**CLAUDE, stream=True)
        return "".join([e.delta.text async for e in stream if e.type == "content_block_delta"])


async def _anthropic_async_raw(server: ProviderServer) -> Any:
    async with anthropic_client(server, sync=False) as client:
        raw = await client.messages.with_raw_response.create(**CLAUDE)
        return (await raw.parse()).content[0].text


# -- google-genai --------------------------------------------------------------------


def genai_generate(server: ProviderServer) -> Any:
    with genai_client(server) as client:
        return client.models.generate_content(model="gemini-2.5-flash", contents="hi").text


def genai_stream(server: ProviderServer) -> Any:
    with genai_client(server) as client:
        chunks = client.models.generate_content_stream(model="gemini-2.5-flash", contents="hi")
        return "".join(chunk.text for chunk in chunks)


def genai_no_usage(server: ProviderServer) -> Any:
    with genai_client(server) as client:
        model = "gemini-2.5-flash-no-usage"
        return client.models.generate_content(model=model, contents="hi").text


async def _genai_async_generate(server: ProviderServer) -> Any:
    async with genai_client(server).aio as client:
        return (await client.models.generate_content(model="gemini-2.5-flash", contents="hi")).text


async def _genai_async_stream(server: ProviderServer) -> Any:
    async with genai_client(server).aio as client:
        stream = client.models.generate_content_stream
        chunks = await stream(model="gemini-2.5-flash", contents="hi")
        return "".join([chunk.text async for chunk in chunks])


def _sync(make: Callable[[ProviderServer], Any]) -> Callable[[ProviderServer], Any]:
    def run(server: ProviderServer) -> Any:
        return asyncio.run(make(server))

    run.__name__ = make.__name__.lstrip("_")
    return run


OPENAI = "llm.openai.chat.completions.create"
MESSAGES_CREATE, MESSAGES_STREAM = "llm.anthropic.messages.create", "llm.anthropic.messages.stream"
GENERATE = "llm.google_genai.models.generate_content"

#: (call, its span's name, the usage the server sent; None: it sent none, is it a stream).
CASES: list[tuple[Callable[[ProviderServer], Any], str, dict[str, int] | None, bool]] = [
    (openai_create, OPENAI, OPENAI_TOKENS, False),
    (openai_stream, OPENAI, OPENAI_TOKENS, True),
    (openai_stream_without_usage_option, OPENAI, None, True),
    (openai_stream_helper_events, OPENAI, OPENAI_TOKENS, True),
    (openai_stream_helper_final, OPENAI, OPENAI_TOKENS, True),
    (openai_raw, OPENAI, OPENAI_TOKENS, False),
    (openai_raw_stream, OPENAI, OPENAI_TOKENS, True),
    (openai_streaming_response_json, OPENAI, OPENAI_TOKENS, False),
    (openai_streaming_response_parse, OPENAI, OPENAI_TOKENS, False),
    (openai_streaming_response_lines, OPENAI, None, False),
    (openai_parse, "llm.openai.chat.completions.parse", OPENAI_TOKENS, False),
    (openai_responses, "llm.openai.responses.create", OPENAI_TOKENS, False),
    (openai_responses_stream, "llm.openai.responses.create", OPENAI_TOKENS, True),
    (openai_responses_stream_helper, "llm.openai.responses.create", OPENAI_TOKENS, True),
    (openai_responses_parse, "llm.openai.responses.parse", OPENAI_TOKENS, False),
    (_sync(_openai_async_create), OPENAI, OPENAI_TOKENS, False),
    (_sync(_openai_async_stream), OPENAI, OPENAI_TOKENS, True),
    (_sync(_openai_async_stream_helper), OPENAI, OPENAI_TOKENS, True),
    (_sync(_openai_async_raw), OPENAI, OPENAI_TOKENS, False),
    (anthropic_create, MESSAGES_CREATE, ANTHROPIC_TOKENS, False),
    (anthropic_create_stream, MESSAGES_CREATE, ANTHROPIC_TOKENS, True),
    (anthropic_stream_helper_events, MESSAGES_STREAM, ANTHROPIC_TOKENS, True),
    (anthropic_stream_helper_text, MESSAGES_STREAM, ANTHROPIC_TOKENS, True),
    (anthropic_stream_helper_final, MESSAGES_STREAM, ANTHROPIC_TOKENS, False),
    (anthropic_raw, MESSAGES_CREATE, ANTHROPIC_TOKENS, False),
    (anthropic_raw_stream, MESSAGES_CREATE, ANTHROPIC_TOKENS, True),
    (_sync(_anthropic_async_streaming_response_json), MESSAGES_CREATE, ANTHROPIC_TOKENS, False),
    (_sync(_anthropic_async_create), MESSAGES_CREATE, ANTHROPIC_TOKENS, False),
    (_sync(_anthropic_async_create_stream), MESSAGES_CREATE, ANTHROPIC_TOKENS, True),
    (_sync(_anthropic_async_stream_helper_text), MESSAGES_STREAM, ANTHROPIC_TOKENS, True),
    (_sync(_anthropic_async_raw), MESSAGES_CREATE, ANTHROPIC_TOKENS, False),
    (genai_generate, GENERATE, GEMINI_TOKENS, False),
    (genai_stream, f"{GENERATE}_stream", GEMINI_TOKENS, True),
    (genai_no_usage, GENERATE, None, False),
    (_sync(_genai_async_generate), GENERATE, GEMINI_TOKENS, False),
    (_sync(_genai_async_stream), f"{GENERATE}_stream", GEMINI_TOKENS, True),
]


@pytest.mark.parametrize(
    ("call", "name", "expected", "streamed"), CASES, ids=[case[0].__name__ for case in CASES]
)
def test_each_call_records_the_servers_usage(
    server: ProviderServer,
    call: Callable[[ProviderServer], Any],
    name: str,
    expected: dict[str, int] | None,
    streamed: bool,
) -> None:
    with capture_spans() as captured:
        assert call(server) == TEXT_ALL  # the caller's answer is untouched
    spans = llm_spans(captured)
    assert [span["name"] for span in spans] == [name]  # one call, one span
    span = spans[0]
    assert span["ended"] and span["parent"] is None
    attributes = span["attributes"]
    assert attributes["gen_ai.request.model"].startswith(("gpt-4o", "claude", "gemini"))
    assert attributes["gen_ai.provider.name"] in ("openai", "anthropic", "gcp.gen_ai")
    assert attributes["gen_ai.operation.name"] in ("chat", "generate_content")
    # Answers the caller read whole give their id and why the model stopped.
    whole = not streamed and name != MESSAGES_STREAM and call is not openai_streaming_response_lines
    if whole:
        assert attributes["gen_ai.response.id"] in ("chatcmpl-1", "resp_1", "msg_1", "gem-1")
    if whole and name in (OPENAI, MESSAGES_CREATE, GENERATE):
        assert attributes["gen_ai.response.finish_reasons"] in (["stop"], ["end_turn"], ["STOP"])
    if streamed:
        assert attributes["gen_ai.response.time_to_first_chunk_ms"] >= 0
        assert attributes["gen_ai.response.chunks"] > 0
    assert captured.summary is not None
    totals = captured.summary.totals
    if expected is None:
        assert_no_usage(span)
        assert totals.llm_calls_without_usage == 1
        assert totals.total_tokens == 0
    else:
        assert_usage(span, expected)
        assert totals.llm_calls_without_usage == 0
        assert totals.total_tokens == expected["input"] + expected["output"]
        assert totals.tokens_by_type.input == expected["input"]
        assert totals.tokens_by_type.output == expected["output"]


def test_a_stream_without_usage_is_warned_once_with_the_option(
    server: ProviderServer, reports: list[str]
) -> None:
    with capture_spans() as captured:
        openai_stream_without_usage_option(server)
        openai_stream_without_usage_option(server)
    assert captured.summary is not None
    assert captured.summary.totals.llm_calls_without_usage == 2
    (warning,) = [line for line in reports if "without token usage" in line]
    assert "llm.openai.chat.completions.create" in warning
    assert 'stream_options={"include_usage": True}' in warning
