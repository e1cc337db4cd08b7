"""Instrumented calls from many threads and tasks at once: every call counted, none twice."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest

from spanline.testing import capture_spans
from tests.instrument._checks import assert_usage, llm_spans
from tests.instrument._providers import ANTHROPIC_TOKENS, OPENAI_TOKENS, TEXT, ProviderServer
from tests.instrument.conftest import anthropic_client, openai_client

pytestmark = pytest.mark.usefixtures("instrumented")

THREADS, CALLS, TASKS = 4, 8, 12
MESSAGES = [{"role": "user", "content": "hi"}]


def test_threads_and_tasks_each_call_one_span_with_its_usage(server: ProviderServer) -> None:
    client = openai_client(server)

    def worker(_: int) -> list[str]:
        answers = []
        for number in range(CALLS):
            stream = number % 2 == 1  # half streamed, half not
            if stream:
                chunks = client.chat.completions.create(
                    model="gpt-4o",
                    messages=MESSAGES,
                    stream=True,
                    stream_options={"include_usage": True},
                )
                answers.append(
                    "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
                )
            else:
                reply = client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
                answers.append(reply.choices[0].message.content)
        return answers

    async def tasks() -> list[str]:
        async with anthropic_client(server, sync=False) as claude:

            async def one() -> str:
                async with claude.messages.stream(
                    model="claude-sonnet-4-5", max_tokens=8, messages=MESSAGES
                ) as stream:
                    return "".join([text async for text in stream.text_stream])

            return list(await asyncio.gather(*(one() for _ in range(TASKS))))

    with capture_spans() as captured:
        with ThreadPoolExecutor(THREADS) as pool:
            threaded = [
                answer for answers in pool.map(worker, range(THREADS)) for answer in answers
            ]
        gathered = asyncio.run(tasks())
    assert threaded == ["".join(TEXT)] * (THREADS * CALLS)
    assert gathered == ["".join(TEXT)] * TASKS
    spans = llm_spans(captured)
    openai_spans = [span for span in spans if span["name"].startswith("llm.openai")]
    anthropic_spans = [span for span in spans if span["name"].startswith("llm.anthropic")]
    assert len(openai_spans) == THREADS * CALLS and len(anthropic_spans) == TASKS
    assert len({span["span_id"] for span in spans}) == len(spans)
    for span in openai_spans:
        assert_usage(span, OPENAI_TOKENS)
    for span in anthropic_spans:
        assert_usage(span, ANTHROPIC_TOKENS)
    assert captured.summary is not None
    totals = captured.summary.totals
    per_openai = OPENAI_TOKENS["input"] + OPENAI_TOKENS["output"]
    per_anthropic = ANTHROPIC_TOKENS["input"] + ANTHROPIC_TOKENS["output"]
    assert totals.total_tokens == THREADS * CALLS * per_openai + TASKS * per_anthropic
    assert totals.llm_calls_without_usage == 0
    assert captured.summary.dropped_events == 0
