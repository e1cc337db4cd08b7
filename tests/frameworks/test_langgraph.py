"""LangGraph's create_agent through instrument("langchain"), beside instrument("openai")."""

from __future__ import annotations

import json
from pathlib import Path

from tests.frameworks._agent_server import AgentServer
from tests.frameworks._checks import check_agent_run
from tests.frameworks._run import only_run, run_program


def test_a_sub_agent_tool_shows_both_agents_their_calls_and_tokens(
    server: AgentServer, tmp_path: Path
) -> None:
    env = {"SPANLINE_INSTRUMENT": "openai,langchain"}
    run_program("agents", "langgraph_agents", server, tmp_path, env=env)
    run = only_run(tmp_path)
    check_agent_run(run, server)
    lines = [json.loads(line) for line in (run / "telemetry.jsonl").read_text().splitlines()]
    assert set(lines[0]["integrations"]) == {"openai", "langchain"}
    agents = [e for e in lines if e["event"] == "span_start" and e["kind"] == "agent"]
    # LangGraph's thread id is the conversation id.
    assert {e["attributes"].get("gen_ai.conversation.id") for e in agents} == {"conversation-1"}


def test_uninstrument_stops_the_handler_and_the_run_says_so(
    server: AgentServer, tmp_path: Path
) -> None:
    env = {"SPANLINE_INSTRUMENT": "openai,langchain"}
    run_program("agents", "langgraph_agents", server, tmp_path, "off", env=env)
    lines = [
        json.loads(line)
        for line in (only_run(tmp_path) / "telemetry.jsonl").read_text().splitlines()
    ]
    assert [(e["name"], e["loaded"]) for e in lines if e["event"] == "integration"] == [
        ("langchain", False)
    ]
    kinds = [e["kind"] for e in lines if e["event"] == "span_start"]
    # Only the SDK's calls are left: no chain, agent or tool span of LangChain's.
    assert kinds == ["llm"] * len(server.answers)
