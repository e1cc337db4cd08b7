"""Google ADK through spanline.instrument("google-adk") (its OpenTelemetry spans read
through the bridge), beside instrument("google-genai"); ADK talks Gemini's API to the
loopback server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.frameworks._agent_server import AgentServer
from tests.frameworks._checks import check_agent_run
from tests.frameworks._run import only_run, run_program


@pytest.mark.parametrize("mode", ["agent_tool", "sub_agents"])
def test_agents_tools_and_tokens_with_the_sdk_instrumented_too(
    mode: str, server: AgentServer, tmp_path: Path
) -> None:
    env = {"SPANLINE_INSTRUMENT": "google-genai,google-adk"}
    run_program("agents", "google_adk_agents", server, tmp_path, mode, env=env)
    run = only_run(tmp_path)
    check_agent_run(run, server)
    lines = [json.loads(line) for line in (run / "telemetry.jsonl").read_text().splitlines()]
    assert set(lines[0]["integrations"]) == {"google-genai", "google-adk"}
    ends = {e["span_id"]: e for e in lines if e["event"] == "span_end"}
    lead = [
        e for e in lines if e["event"] == "span_start" and ends[e["span_id"]].get("name") == "lead"
    ]
    # ADK's session id is the lead's conversation id.
    assert [ends[e["span_id"]]["attributes"]["gen_ai.conversation.id"] for e in lead] == [
        "conversation-1"
    ]


def test_the_bridge_alone_says_in_one_line_why_it_records_nothing(
    server: AgentServer, tmp_path: Path
) -> None:
    done = run_program("agents", "google_adk_agents", server, tmp_path, "plain")
    said = [line for line in done.stderr.splitlines() if "spanline" in line]
    assert len(said) == 1, done.stderr
    assert "no OpenTelemetry SDK provider is global yet" in said[0]
    summary = json.loads((only_run(tmp_path) / "run_summary.json").read_text())
    assert summary["totals"]["total_tokens"] == 0
