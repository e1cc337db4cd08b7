"""Tests for token usage extraction and stream accumulation (spanline._capture._usage)."""

from __future__ import annotations

from typing import Any

import pytest

from spanline._capture import _usage
from spanline._capture._usage import Usage, UsageAccumulator, extract_usage
from tests._helpers import heavy_imports

FORMS = ["dict", "sdk"]


def build(form: str, module: str, cls: str, data: dict[str, Any]) -> object:
    """Return ``data`` itself, or the provider SDK's object validated from it."""
    if form == "dict":
        return data
    sdk = pytest.importorskip(module)
    return getattr(sdk, cls).model_validate(data)


# --- Recorded response shapes -------------------------------------------------------

OPENAI_CHAT = {
    "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
    "object": "chat.completion",
    "created": 1741570283,
    "model": "gpt-4o-2024-08-06",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hello!", "refusal": None},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 2006,
        "completion_tokens": 300,
        "total_tokens": 2306,
        "prompt_tokens_details": {"cached_tokens": 1920, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    },
    "service_tier": "default",
    "system_fingerprint": "fp_fc9f1d7035",
}

OPENAI_CHAT_REASONING = {
    **OPENAI_CHAT,
    "model": "o3-2025-04-16",
    "usage": {
        "prompt_tokens": 75,
        "completion_tokens": 1186,
        "total_tokens": 1261,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 1024, "audio_tokens": 0},
    },
}

OPENAI_RESPONSE = {
    "id": "resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b",
    "object": "response",
    "created_at": 1741476542,
    "status": "completed",
    "model": "o4-mini-2025-04-16",
    "output": [
        {
            "type": "message",
            "id": "msg_67ccd2bf17f0819081ff3bb2cf6508e6",
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "Hi.", "annotations": []}],
        }
    ],
    "parallel_tool_calls": True,
    "tool_choice": "auto",
    "tools": [],
    "usage": {
        "input_tokens": 1200,
        "input_tokens_details": {"cached_tokens": 1024, "cache_write_tokens": 0},
        "output_tokens": 800,
        "output_tokens_details": {"reasoning_tokens": 640},
        "total_tokens": 2000,
    },
}

ANTHROPIC_MESSAGE = {
    "id": "msg_013Zva2CMHLNnXjNJJKqJ2EF",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5-20250929",
    "content": [{"type": "text", "text": "Hi! My name is Claude."}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 100,
        "cache_creation_input_tokens": 500,
        "cache_read_input_tokens": 2000,
        "output_tokens": 300,
        "service_tier": "standard",
    },
}

GEMINI_RESPONSE = {
    "candidates": [
        {
            "content": {"role": "model", "parts": [{"text": "Hello there."}]},
            "finish_reason": "STOP",
            "index": 0,
        }
    ],
    "usage_metadata": {
        "prompt_token_count": 1200,
        "cached_content_token_count": 1000,
        "candidates_token_count": 80,
        "thoughts_token_count": 420,
        "total_token_count": 1700,
    },
    "model_version": "gemini-2.5-flash",
    "response_id": "vbQeaIyhLoKVz7IP8Yy4sAw",
}

# --- Extraction of whole responses -------------------------------------------------


@pytest.mark.parametrize("form", FORMS)
def test_openai_chat_completion(form: str) -> None:
    response = build(form, "openai.types.chat", "ChatCompletion", OPENAI_CHAT)
    assert extract_usage(response) == Usage(
        input_tokens=2006,
        output_tokens=300,
        cache_read_input_tokens=1920,
        reasoning_output_tokens=0,
        provider="openai",
        response_model="gpt-4o-2024-08-06",
    )


@pytest.mark.parametrize("form", FORMS)
def test_openai_chat_reasoning_tokens_are_part_of_output(form: str) -> None:
    response = build(form, "openai.types.chat", "ChatCompletion", OPENAI_CHAT_REASONING)
    usage = extract_usage(response)
    assert usage is not None
    assert (usage.output_tokens, usage.reasoning_output_tokens) == (1186, 1024)
    assert usage.total_tokens == 1261


@pytest.mark.parametrize("form", FORMS)
def test_openai_responses_api(form: str) -> None:
    response = build(form, "openai.types.responses", "Response", OPENAI_RESPONSE)
    assert extract_usage(response) == Usage(
        input_tokens=1200,
        output_tokens=800,
        cache_read_input_tokens=1024,
        cache_creation_input_tokens=0,
        reasoning_output_tokens=640,
        provider="openai",
        response_model="o4-mini-2025-04-16",
    )


@pytest.mark.parametrize("form", FORMS)
def test_anthropic_input_includes_cache_reads_and_writes(form: str) -> None:
    response = build(form, "anthropic.types", "Message", ANTHROPIC_MESSAGE)
    usage = extract_usage(response)
    assert usage == Usage(
        input_tokens=2600,
        output_tokens=300,
        cache_read_input_tokens=2000,
        cache_creation_input_tokens=500,
        provider="anthropic",
        response_model="claude-sonnet-4-5-20250929",
    )
    assert usage.total_tokens == 2900


def test_anthropic_thinking_tokens_are_reasoning() -> None:
    usage_data = {**ANTHROPIC_MESSAGE["usage"], "output_tokens_details": {"thinking_tokens": 250}}
    usage = extract_usage({**ANTHROPIC_MESSAGE, "usage": usage_data})
    assert usage is not None
    assert (usage.output_tokens, usage.reasoning_output_tokens) == (300, 250)


def test_anthropic_without_cache_fields() -> None:
    usage = {"input_tokens": 12, "output_tokens": 7}
    assert extract_usage({**ANTHROPIC_MESSAGE, "usage": usage}) == Usage(
        input_tokens=12,
        output_tokens=7,
        provider="anthropic",
        response_model="claude-sonnet-4-5-20250929",
    )


@pytest.mark.parametrize("form", FORMS)
def test_gemini_thoughts_count_as_output(form: str) -> None:
    response = build(form, "google.genai.types", "GenerateContentResponse", GEMINI_RESPONSE)
    assert extract_usage(response) == Usage(
        input_tokens=1200,
        output_tokens=500,
        cache_read_input_tokens=1000,
        reasoning_output_tokens=420,
        provider="gemini",
        response_model="gemini-2.5-flash",
    )


def test_gemini_rest_json_in_camel_case() -> None:
    response = {
        "candidates": [{"content": {"role": "model", "parts": [{"text": "Hi"}]}}],
        "usageMetadata": {
            "promptTokenCount": 10,
            "candidatesTokenCount": 5,
            "toolUsePromptTokenCount": 4,
            "totalTokenCount": 19,
        },
        "modelVersion": "gemini-2.0-flash",
    }
    usage = extract_usage(response)
    # Tool-use prompt tokens are billed as input, so the total matches totalTokenCount.
    assert usage == Usage(14, 5, provider="gemini", response_model="gemini-2.0-flash")
    assert usage.total_tokens == 19


def test_absent_parts_stay_none() -> None:
    usage = extract_usage(
        {"model": "gpt-4o", "usage": {"prompt_tokens": 9, "completion_tokens": 1}}
    )
    assert usage == Usage(9, 1, provider="openai", response_model="gpt-4o")
    assert usage.cache_read_input_tokens is None
    assert usage.reasoning_output_tokens is None


def test_bare_usage_object() -> None:
    usage = extract_usage(OPENAI_CHAT["usage"])
    assert usage is not None
    assert (usage.input_tokens, usage.output_tokens, usage.response_model) == (2006, 300, None)


def test_bare_gemini_usage_metadata_and_float_counts() -> None:
    usage = extract_usage(GEMINI_RESPONSE["usage_metadata"])
    assert usage == Usage(1200, 500, 1000, reasoning_output_tokens=420, provider="gemini")
    json_floats = {"usage": {"prompt_tokens": 12.0, "completion_tokens": 3.0}}
    assert extract_usage(json_floats) == Usage(12, 3, provider="openai")


def test_ambiguous_input_output_usage_has_no_provider() -> None:
    usage = extract_usage({"usage": {"input_tokens": 3, "output_tokens": 4}})
    assert usage == Usage(3, 4)


class _Hostile:
    """Raises on every attribute read, like a broken proxy object."""

    def __getattr__(self, name: str) -> object:
        if name.startswith("__"):  # keep pytest's own introspection working
            raise AttributeError(name)
        raise RuntimeError(name)


class _Everything:
    """Answers every attribute with itself, like an unconfigured mock."""

    def __getattr__(self, name: str) -> object:
        if name.startswith("__"):
            raise AttributeError(name)
        return self


@pytest.mark.parametrize(
    "response",
    [
        None,
        42,
        "text",
        b"bytes",
        [],
        {},
        object(),
        _Hostile(),
        _Everything(),
        {"usage": None},
        {"usage": "lots"},
        {"usage": {"prompt_tokens": "12", "completion_tokens": True}},
        {"usage": {"prompt_tokens": -1}},
        {**OPENAI_CHAT, "usage": None},
        {k: v for k, v in GEMINI_RESPONSE.items() if k != "usage_metadata"},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "x"}},
        {"type": "message_stop"},
        {"type": "response.created", "response": {**OPENAI_RESPONSE, "usage": None}},
    ],
)
def test_no_usage_gives_none(response: object) -> None:
    assert extract_usage(response) is None


def test_sdk_response_without_usage_gives_none() -> None:
    chat = pytest.importorskip("openai.types.chat")
    response = chat.ChatCompletion.model_validate({**OPENAI_CHAT, "usage": None})
    assert extract_usage(response) is None


# --- Usage object ------------------------------------------------------------------


def test_to_attributes_uses_genai_keys_and_omits_absent_values() -> None:
    usage = Usage(2600, 300, 2000, 500, 120, provider="anthropic", response_model="claude-x")
    assert usage.to_attributes() == {
        "gen_ai.usage.input_tokens": 2600,
        "gen_ai.usage.output_tokens": 300,
        "gen_ai.usage.cache_read.input_tokens": 2000,
        "gen_ai.usage.cache_creation.input_tokens": 500,
        "gen_ai.usage.reasoning.output_tokens": 120,
        "gen_ai.response.model": "claude-x",
    }
    assert Usage(5, None).to_attributes() == {"gen_ai.usage.input_tokens": 5}


def test_total_tokens_is_none_safe() -> None:
    assert Usage(5, 7).total_tokens == 12
    assert Usage(None, 7).total_tokens == 7
    assert Usage(None, None).total_tokens is None


def test_to_dict_keeps_every_field() -> None:
    assert Usage(1, 2, provider="gemini").to_dict() == {
        "input_tokens": 1,
        "output_tokens": 2,
        "cache_read_input_tokens": None,
        "cache_creation_input_tokens": None,
        "reasoning_output_tokens": None,
        "provider": "gemini",
        "response_model": None,
    }


# --- Streams -----------------------------------------------------------------------


def _chat_chunk(content: str | None, usage: dict[str, Any] | None) -> dict[str, Any]:
    choices = [] if content is None else [{"index": 0, "delta": {"content": content}}]
    return {
        "id": "chatcmpl-123",
        "object": "chat.completion.chunk",
        "created": 1741570283,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": choices,
        "usage": usage,
    }


OPENAI_CHAT_STREAM = [
    _chat_chunk("Hel", None),
    _chat_chunk("lo", None),
    # stream_options={"include_usage": True} adds a last chunk with no choices.
    _chat_chunk(None, {"prompt_tokens": 19, "completion_tokens": 10, "total_tokens": 29}),
]


def _response_event(kind: str, usage: dict[str, Any] | None) -> dict[str, Any]:
    status = "completed" if kind == "response.completed" else "in_progress"
    response = {**OPENAI_RESPONSE, "status": status, "usage": usage}
    return {"type": kind, "sequence_number": 0, "response": response}


OPENAI_RESPONSES_STREAM = [
    _response_event("response.created", None),
    _response_event("response.in_progress", None),
    {
        "type": "response.output_text.delta",
        "sequence_number": 2,
        "item_id": "msg_1",
        "output_index": 0,
        "content_index": 0,
        "delta": "Hi.",
        "logprobs": [],
    },
    _response_event("response.completed", OPENAI_RESPONSE["usage"]),
]

ANTHROPIC_STREAM = [
    {
        "type": "message_start",
        "message": {
            **ANTHROPIC_MESSAGE,
            "content": [],
            "stop_reason": None,
            "usage": {
                "input_tokens": 100,
                "cache_creation_input_tokens": 500,
                "cache_read_input_tokens": 2000,
                "output_tokens": 1,
            },
        },
    },
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}},
    {"type": "message_delta", "delta": {"stop_reason": None}, "usage": {"output_tokens": 150}},
    {"type": "content_block_stop", "index": 0},
    {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn"},
        "usage": {"output_tokens": 300},
    },
    {"type": "message_stop"},
]


def _gemini_chunk(text: str, candidates: int | None, thoughts: int | None) -> dict[str, Any]:
    meta = {"prompt_token_count": 1200, "cached_content_token_count": 1000}
    if candidates is not None:
        meta |= {"candidates_token_count": candidates, "thoughts_token_count": thoughts}
    return {
        "candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}],
        "usage_metadata": meta,
        "model_version": "gemini-2.5-flash",
    }


GEMINI_STREAM = [
    _gemini_chunk("Hel", None, None),
    _gemini_chunk("lo", 40, 420),
    {"candidates": [{"content": {"role": "model", "parts": [{"text": " "}]}, "index": 0}]},
    _gemini_chunk("there.", 80, 420),
]

ANTHROPIC_EVENTS = {
    "message_start": "RawMessageStartEvent",
    "content_block_start": "RawContentBlockStartEvent",
    "content_block_delta": "RawContentBlockDeltaEvent",
    "content_block_stop": "RawContentBlockStopEvent",
    "message_delta": "RawMessageDeltaEvent",
    "message_stop": "RawMessageStopEvent",
}
RESPONSES_EVENTS = {
    "response.created": "ResponseCreatedEvent",
    "response.in_progress": "ResponseInProgressEvent",
    "response.output_text.delta": "ResponseTextDeltaEvent",
    "response.completed": "ResponseCompletedEvent",
}


def accumulate(chunks: list[object]) -> UsageAccumulator:
    accumulator = UsageAccumulator()
    for chunk in chunks:
        accumulator.add(chunk)
    return accumulator


@pytest.mark.parametrize("form", FORMS)
def test_openai_chat_stream_final_chunk_carries_usage(form: str) -> None:
    chunks = [
        build(form, "openai.types.chat", "ChatCompletionChunk", c) for c in OPENAI_CHAT_STREAM
    ]
    assert [extract_usage(chunk) for chunk in chunks[:2]] == [None, None]
    accumulator = accumulate(chunks)
    assert accumulator.first_chunk_seen
    assert accumulator.usage == Usage(
        19, 10, provider="openai", response_model="gpt-4o-mini-2024-07-18"
    )


def test_openai_chat_stream_helper_chunk_event() -> None:
    # client.chat.completions.stream() yields {"type": "chunk", "chunk": ..., "snapshot": ...}.
    event = {"type": "chunk", "chunk": OPENAI_CHAT_STREAM[-1], "snapshot": {}}
    assert extract_usage(event) == extract_usage(OPENAI_CHAT_STREAM[-1])
    assert extract_usage({"type": "chunk", "chunk": OPENAI_CHAT_STREAM[0]}) is None


@pytest.mark.parametrize("form", FORMS)
def test_openai_responses_stream_completed_event(form: str) -> None:
    events = [
        build(form, "openai.types.responses", RESPONSES_EVENTS[e["type"]], e)
        for e in OPENAI_RESPONSES_STREAM
    ]
    assert extract_usage(events[0]) is None
    usage = accumulate(events).usage
    assert usage == extract_usage(OPENAI_RESPONSE)
    assert usage is not None and usage.reasoning_output_tokens == 640


@pytest.mark.parametrize("form", FORMS)
def test_anthropic_stream_merges_start_and_latest_delta(form: str) -> None:
    events = [
        build(form, "anthropic.types", ANTHROPIC_EVENTS[e["type"]], e) for e in ANTHROPIC_STREAM
    ]
    assert accumulate(events).usage == extract_usage(ANTHROPIC_MESSAGE)
    assert accumulate(events[:4]).usage.output_tokens == 150  # type: ignore[union-attr]
    # Alone, a message_delta knows only the output count.
    assert extract_usage(events[5]) == Usage(None, 300, provider="anthropic")


def test_anthropic_delta_cumulative_input_counts_override_start() -> None:
    delta = {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn"},
        "usage": {"input_tokens": 140, "cache_read_input_tokens": 2000, "output_tokens": 310},
    }
    usage = accumulate([*ANTHROPIC_STREAM[:-1], delta]).usage
    assert usage is not None
    assert (usage.input_tokens, usage.output_tokens) == (140 + 2000 + 500, 310)


def test_anthropic_sdk_message_stop_snapshot_replaces_merge() -> None:
    stop = {"type": "message_stop", "message": ANTHROPIC_MESSAGE}
    assert extract_usage(stop) == extract_usage(ANTHROPIC_MESSAGE)
    assert accumulate([ANTHROPIC_STREAM[0], stop]).usage == extract_usage(ANTHROPIC_MESSAGE)


@pytest.mark.parametrize("form", FORMS)
def test_gemini_stream_last_chunk_with_usage_wins(form: str) -> None:
    chunks = [
        build(form, "google.genai.types", "GenerateContentResponse", c) for c in GEMINI_STREAM
    ]
    assert extract_usage(chunks[0]) == Usage(
        1200, None, 1000, provider="gemini", response_model="gemini-2.5-flash"
    )
    assert accumulate(chunks).usage == extract_usage(GEMINI_RESPONSE)


def test_accumulator_before_and_without_usage() -> None:
    accumulator = UsageAccumulator()
    assert not accumulator.first_chunk_seen
    assert accumulator.usage is None
    accumulator.add(OPENAI_CHAT_STREAM[0])
    accumulator.add(_Hostile())
    assert accumulator.first_chunk_seen
    assert accumulator.usage is None


def test_module_imports_no_pydantic_or_provider_sdk() -> None:
    # Load the file alone, so the package __init__ (which may use pydantic) is not run.
    setup = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('usage_alone', {_usage.__file__!r})\n"
        "module = sys.modules[spec.name] = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)"
    )
    heavy = {"pydantic", "openai", "anthropic", "google.genai", "yaml"}
    assert heavy_imports(setup, heavy) == []
