"""The loopback agent server follows its script through each API the frameworks use."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from tests.frameworks._agent_server import AgentServer, arguments

WORD_COUNT = {"name": "word_count", "parameters": {"properties": {"text": {"type": "string"}}}}
DELEGATE = {"name": "researcher", "parameters": {"properties": {"input": {"type": "string"}}}}


def _chat_tools(*tools: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"type": "function", "function": tool} for tool in tools]


def test_chat_script_delegates_counts_and_answers(server: AgentServer) -> None:
    client = openai.OpenAI(api_key="sk-test", base_url=f"{server.url}/v1", max_retries=0)
    with client:
        ask = [{"role": "user", "content": "count"}]
        lead = client.chat.completions.create(model="m", messages=ask, tools=_chat_tools(DELEGATE))
        call = lead.choices[0].message.tool_calls[0]
        assert call.function.name == "researcher"
        assert json.loads(call.function.arguments) == {"input": "the quick brown fox"}

        research = client.chat.completions.create(
            model="m", messages=ask, tools=_chat_tools(WORD_COUNT), stream=True,
            stream_options={"include_usage": True},
        )  # fmt: skip
        chunks = list(research)
        assert chunks[-1].usage.total_tokens == 275
        called = [c.choices[0].delta.tool_calls for c in chunks if c.choices]
        assert [t[0].function.name for t in called if t] == ["word_count"]

        result = [
            *ask,
            {"role": "assistant", "tool_calls": [
                {"id": "c1", "type": "function",
                 "function": {"name": "word_count", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "4"},
        ]  # fmt: skip
        done = client.chat.completions.create(
            model="m", messages=result, tools=_chat_tools(WORD_COUNT)
        )
        assert done.choices[0].message.content == "There are 4 words."
    assert [(a.role, a.action) for a in server.answers] == [
        ("lead", "researcher"),
        ("researcher", "word_count"),
        ("researcher", "text"),
    ]
    assert server.tokens() == 825 and server.tokens("researcher") == 550
    assert len({a.response_id for a in server.answers}) == 3


def test_responses_script_after_a_handoff_calls_the_tool(server: AgentServer) -> None:
    client = openai.OpenAI(api_key="sk-test", base_url=f"{server.url}/v1", max_retries=0)
    handed = [
        {"role": "user", "content": "count"},
        {"type": "function_call", "call_id": "h1", "name": "transfer_to_researcher",
         "arguments": "{}"},
        {"type": "function_call_output", "call_id": "h1", "output": "ok"},
    ]  # fmt: skip
    tools = [{"type": "function", "strict": False, **WORD_COUNT}]
    with client:
        answer = client.responses.create(model="m", input=handed, tools=tools)  # type: ignore[arg-type]
    assert answer.output[0].type == "function_call"
    assert answer.output[0].name == "word_count"
    assert answer.usage is not None and answer.usage.total_tokens == 275


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"properties": {"agent_name": {"type": "string", "enum": ["lead", "Researcher"]}}},
         {"agent_name": "Researcher"}),
        ({"properties": {"coworker": {"type": "string"}, "task": {"type": "string"}}},
         {"coworker": "researcher", "task": "the quick brown fox"}),
        ({"properties": {"n": {"type": "integer"}, "flag": {"type": "boolean"}}},
         {"n": 1, "flag": True}),
    ],
)  # fmt: skip
def test_arguments_follow_the_schema(schema: dict[str, Any], expected: dict[str, Any]) -> None:
    assert arguments(schema) == expected
