"""pydantic-ai through spanline.instrument("pydantic-ai") (its OpenTelemetry spans read
through the bridge), beside instrument("openai")."""

from __future__ import annotations

import json
from pathlib import Path

from tests.frameworks._agent_server import AgentServer
from tests.frameworks._checks import check_agent_run
from tests.frameworks._run import only_run, run_program

INSTRUMENT = {"SPANLINE_INSTRUMENT": "openai,pydantic-ai"}


def test_a_delegating_lead_shows_both_agents_their_calls_and_tokens(
    server: AgentServer, tmp_path: Path
) -> None:
    run_program("agents", "pydantic_ai_agents", server, tmp_path, env=INSTRUMENT)
    run = only_run(tmp_path)
    check_agent_run(run, server)
    lines = [json.loads(line) for line in (run / "telemetry.jsonl").read_text().splitlines()]
    assert lines[0]["integrations"]["pydantic-ai"] == "2.78.0"
    agents = {e["name"]: e for e in lines if e["event"] == "span_start" and e["kind"] == "agent"}
    # pydantic-ai's conversation id is the agents' gen_ai.conversation.id; the
    # researcher's run is a conversation of its own inside the lead's.
    lead, researcher = agents["lead"]["attributes"], agents["researcher"]["attributes"]
    assert lead["gen_ai.conversation.id"]
    assert researcher["pydantic_ai.root_conversation_id"] == lead["gen_ai.conversation.id"]


def test_a_class_wide_setting_made_before_is_kept(server: AgentServer, tmp_path: Path) -> None:
    done = run_program("agents", "pydantic_ai_agents", server, tmp_path, "preset", env=INSTRUMENT)
    assert done.stdout.splitlines()[-1] == "kept"  # Agent.instrument_all(settings) stays
    summary = json.loads((only_run(tmp_path) / "run_summary.json").read_text())
    assert summary["totals"]["total_tokens"] == server.tokens()
