"""Token usage from real provider SDK types and dicts, streaming, and cost."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from anthropic.types import Message, RawMessageDeltaEvent, RawMessageStartEvent
from google.genai import types as genai_types
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.responses import Response

import spanline
from tests._helpers import configure, finish, one, shipped_prices

PRICES = shipped_prices()


def _cost(model: str, *, plain_in: int, cached: int = 0, written: int = 0, out: int) -> float:
    price = PRICES[model]
    cached_rate = price.get("cached_input", price["input"])
    write_rate = price.get("cache_write", price["input"])
    total = plain_in * price["input"] + cached * cached_rate + written * write_rate
    return (total + out * price["output"]) / 1e6


def openai_chat() -> ChatCompletion:
    return ChatCompletion.model_validate(
        {
            "id": "c1", "object": "chat.completion", "created": 1,
            "model": "gpt-4o-2024-08-06",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": "hi"}}],
            "usage": {"prompt_tokens": 1000, "completion_tokens": 200, "total_tokens": 1200,
                      "prompt_tokens_details": {"cached_tokens": 400},
                      "completion_tokens_details": {"reasoning_tokens": 50}},
        }
    )  # fmt: skip


def openai_responses() -> Response:
    return Response.model_validate(
        {
            "id": "r", "object": "response", "created_at": 1, "model": "gpt-5-mini",
            "output": [], "parallel_tool_calls": False, "tool_choice": "auto", "tools": [],
            "usage": {"input_tokens": 300, "output_tokens": 70, "total_tokens": 370,
                      "input_tokens_details": {"cached_tokens": 100, "cache_write_tokens": 0},
                      "output_tokens_details": {"reasoning_tokens": 30}},
        }
    )  # fmt: skip


def anthropic_message() -> Message:
    return Message.model_validate(
        {
            "id": "m", "type": "message", "role": "assistant",
            "model": "claude-sonnet-4-5-20250929",
            "content": [{"type": "text", "text": "hi"}],
            "stop_reason": "end_turn", "stop_sequence": None,
            "usage": {"input_tokens": 100, "output_tokens": 50,
                      "cache_read_input_tokens": 1000, "cache_creation_input_tokens": 200},
        }
    )  # fmt: skip


def gemini_response() -> genai_types.GenerateContentResponse:
    return genai_types.GenerateContentResponse.model_validate(
        {
            "candidates": [{"content": {"role": "model", "parts": [{"text": "hi"}]}}],
            "model_version": "gemini-2.5-flash",
            "usage_metadata": {"prompt_token_count": 500, "candidates_token_count": 80,
                               "thoughts_token_count": 20, "cached_content_token_count": 100,
                               "total_token_count": 600},
        }
    )  # fmt: skip


# (response factory, model in the table, input, output, cache_read, cache_write, expected cost)
CASES: dict[str, tuple[Any, str, int, int, int | None, int | None, float]] = {
    "openai-chat": (openai_chat, "gpt-4o", 1000, 200, 400, None,
                    _cost("gpt-4o", plain_in=600, cached=400, out=200)),
    "openai-responses": (openai_responses, "gpt-5-mini", 300, 70, 100, 0,
                         _cost("gpt-5-mini", plain_in=200, cached=100, out=70)),
    "anthropic": (anthropic_message, "claude-sonnet-4-5", 1300, 50, 1000, 200,
                  _cost("claude-sonnet-4-5", plain_in=100, cached=1000, written=200, out=50)),
    "gemini": (gemini_response, "gemini-2.5-flash", 500, 100, 100, None,
               _cost("gemini-2.5-flash", plain_in=400, cached=100, out=100)),
}  # fmt: skip


@pytest.mark.parametrize("form", ["sdk", "dict"])
@pytest.mark.parametrize("case", list(CASES))
def test_usage_and_cost_from_sdk_objects_and_dicts(case: str, form: str, tmp_path: Path) -> None:
    factory, _, inp, out, read, write, cost = CASES[case]
    response = factory()
    if form == "dict":
        response = json.loads(response.model_dump_json())
    run = configure(tmp_path)

    @spanline.traced_llm
    def call() -> Any:
        return response

    assert call() is response
    summary, events = finish(run)
    span = one(events, "llm.call")
    attrs = span["attrs"]
    assert (
        attrs["gen_ai.usage.input_tokens"] == inp
    )  # input includes the cache parts (GenAI conventions)
    assert attrs["gen_ai.usage.output_tokens"] == out
    assert attrs.get("gen_ai.usage.cache_read.input_tokens") == read
    assert attrs.get("gen_ai.usage.cache_creation.input_tokens") == write
    assert span["end"]["tokens"] == inp + out
    assert attrs["gen_ai.usage.cost_usd"] == pytest.approx(cost, rel=1e-9)
    assert summary.totals.cost_usd == pytest.approx(cost, rel=1e-9)
    assert summary.unpriced_models == []
    if case == "openai-chat":
        assert attrs["gen_ai.usage.reasoning.output_tokens"] == 50
    if case == "gemini":
        assert attrs["gen_ai.usage.reasoning.output_tokens"] == 20


def test_unknown_model_is_listed_unpriced_and_has_no_cost(tmp_path: Path) -> None:
    run = configure(tmp_path)

    @spanline.traced_llm(provider="openai")
    def call(model: str) -> dict:
        return {"model": model, "usage": {"prompt_tokens": 10, "completion_tokens": 5}}

    call("gpt-4o")
    call("my-private-model-7")
    call("gpt-4o-ultra")  # extends a priced name by more than a date: not priced
    summary, events = finish(run)
    costs = {s["attrs"]["gen_ai.request.model"]: s["attrs"].get("gen_ai.usage.cost_usd")
             for s in map(lambda e: e, _llm_spans(events))}  # fmt: skip
    assert costs["my-private-model-7"] is None and costs["gpt-4o-ultra"] is None
    assert costs["gpt-4o"] == pytest.approx(_cost("gpt-4o", plain_in=10, out=5))
    assert summary.unpriced_models == ["gpt-4o-ultra", "my-private-model-7"]
    data = json.loads(run.summary_path.read_text())
    assert data["unpriced_models"] == ["gpt-4o-ultra", "my-private-model-7"]
    assert data["totals"]["cost_usd"] == pytest.approx(costs["gpt-4o"])


def _llm_spans(events: list[dict]) -> list[dict]:
    from tests._helpers import spans

    return [s for s in spans(events).values() if s["name"].startswith("llm.")]


def test_no_usage_means_no_counts_and_no_cost(tmp_path: Path) -> None:
    run = configure(tmp_path)

    @spanline.traced_llm(model="gpt-4o")
    def call() -> str:
        return "plain text"

    call()
    summary, events = finish(run)
    span = one(events, "llm.call")
    assert "gen_ai.usage.input_tokens" not in span["attrs"]
    assert "gen_ai.usage.cost_usd" not in span["attrs"]
    assert span["end"]["tokens"] == 0
    assert summary.unpriced_models == []


def test_openai_stream_with_final_usage_chunk(tmp_path: Path) -> None:
    chunks = [
        ChatCompletionChunk.model_validate(
            {"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini",
             "choices": [{"index": 0, "delta": {"content": c}, "finish_reason": None}]}
        )
        for c in "abc"
    ] + [
        ChatCompletionChunk.model_validate(
            {"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini",
             "choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": 5,
                                      "total_tokens": 15}}
        )
    ]  # fmt: skip
    run = configure(tmp_path)

    @spanline.traced_llm(provider="openai")
    def create_stream():  # returns an iterator, like client.chat.completions.create(stream=True)
        return iter(chunks)

    with spanline.span("outer") as outer:
        stream = create_stream()
        with spanline.span("between"):
            pass
        assert list(stream) == chunks
    _, events = finish(run)
    span = one(events, "llm.create_stream")
    assert span["parent"] == outer.span_id
    assert span["attrs"]["gen_ai.usage.input_tokens"] == 10
    assert span["attrs"]["gen_ai.response.chunks"] == 4
    assert span["end"]["tokens"] == 15
    assert span["attrs"]["gen_ai.usage.cost_usd"] == pytest.approx(
        _cost("gpt-4o-mini", plain_in=10, out=5)
    )
    assert span["end"]["ts"] >= one(events, "between")["end"]["ts"]  # open until consumed


def test_anthropic_stream_events_merge_start_and_delta(tmp_path: Path) -> None:
    start = RawMessageStartEvent.model_validate(
        {"type": "message_start",
         "message": {"id": "m", "type": "message", "role": "assistant",
                     "model": "claude-haiku-4-5", "content": [], "stop_reason": None,
                     "stop_sequence": None,
                     "usage": {"input_tokens": 20, "output_tokens": 1,
                               "cache_read_input_tokens": 5,
                               "cache_creation_input_tokens": 0}}}
    )  # fmt: skip
    delta = RawMessageDeltaEvent.model_validate(
        {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
         "usage": {"output_tokens": 33}}
    )  # fmt: skip
    run = configure(tmp_path)

    @spanline.traced_llm(provider="anthropic")
    async def stream():
        for event in (start, {"type": "content_block_delta"}, delta):
            await asyncio.sleep(0)
            yield event

    async def consume() -> int:
        return len([e async for e in stream()])

    assert asyncio.run(consume()) == 3
    _, events = finish(run)
    attrs = one(events, "llm.stream")["attrs"]
    assert attrs["gen_ai.usage.input_tokens"] == 25
    assert attrs["gen_ai.usage.output_tokens"] == 33
    assert attrs["gen_ai.usage.cost_usd"] == pytest.approx(
        _cost("claude-haiku-4-5", plain_in=20, cached=5, out=33)
    )


def test_gemini_stream_last_usage_wins_in_a_generator(tmp_path: Path) -> None:
    def chunk(prompt: int, candidates: int) -> genai_types.GenerateContentResponse:
        return genai_types.GenerateContentResponse.model_validate(
            {"model_version": "gemini-2.5-pro",
             "candidates": [{"content": {"role": "model", "parts": [{"text": "x"}]}}],
             "usage_metadata": {"prompt_token_count": prompt,
                                "candidates_token_count": candidates}}
        )  # fmt: skip

    run = configure(tmp_path)

    @spanline.traced_llm
    def stream():
        yield chunk(40, 1)
        yield chunk(40, 7)
        yield chunk(40, 12)

    assert len(list(stream())) == 3
    _, events = finish(run)
    span = one(events, "llm.stream")
    assert span["attrs"]["gen_ai.usage.output_tokens"] == 12
    assert span["end"]["tokens"] == 52
    assert span["attrs"]["gen_ai.usage.cost_usd"] == pytest.approx(
        _cost("gemini-2.5-pro", plain_in=40, out=12)
    )


def test_stream_abandoned_midway_still_ends_the_span(tmp_path: Path) -> None:
    run = configure(tmp_path)

    @spanline.traced_llm(model="gpt-4o")
    def create():
        return iter([{"choices": []}, {"choices": []}])

    stream = create()
    next(stream)
    stream.close()
    _, events = finish(run)
    span = one(events, "llm.create")
    assert span["end"] is not None and span["end"]["status"] == "ok"


@pytest.mark.parametrize(
    "model_at",
    [
        "start",
        "end",
    ],
)
def test_unpriced_model_is_named_wherever_its_attribute_was_set(
    model_at: str, tmp_path: Path
) -> None:
    """Readers merge start then end attributes."""
    run = configure(tmp_path)
    usage = {"gen_ai.usage.input_tokens": 5, "gen_ai.usage.output_tokens": 1}
    model = {"gen_ai.request.model": "mystery-model-9"}
    start = model if model_at == "start" else {}
    with spanline.span("llm.manual", kind="llm", **start) as span:
        span.set_attributes({**usage, **(model if model_at == "end" else {})})
    summary, _ = finish(run)
    assert summary.unpriced_models == ["mystery-model-9"]
