"""openai-agents through spanline.instrument("openai-agents"), beside instrument("openai")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.frameworks._agent_server import AgentServer
from tests.frameworks._checks import check_agent_run
from tests.frameworks._run import only_run, run_program

INSTRUMENT = {"SPANLINE_INSTRUMENT": "openai,openai-agents"}


@pytest.mark.parametrize("mode", ["as_tool", "handoff"])
def test_agents_tools_and_tokens_with_the_sdk_instrumented_too(
    mode: str, server: AgentServer, tmp_path: Path
) -> None:
    run_program("agents", "openai_agents", server, tmp_path, mode, env=INSTRUMENT)
    run = only_run(tmp_path)
    check_agent_run(run, server)
    # The SDK's own trace exporter was kept: the processor is added beside it.
    assert server.trace_batches >= 1
    lines = [json.loads(line) for line in (run / "telemetry.jsonl").read_text().splitlines()]
    header = lines[0]
    assert header["integrations"]["openai-agents"] == "0.25.0"
    assert "openai" in header["integrations"]
    agents = [e for e in lines if e["event"] == "span_start" and e["kind"] == "agent"]
    # The run's group id is the conversation id of every agent.
    assert {e["attributes"].get("gen_ai.conversation.id") for e in agents} == {"conversation-1"}
    if mode == "handoff":
        handoffs = [e for e in lines if e["event"] == "span_start" and e["kind"] == "handoff"]
        assert [e["attributes"]["openai_agents.handoff.from"] for e in handoffs] == ["lead"]
