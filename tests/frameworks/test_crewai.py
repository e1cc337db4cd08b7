"""CrewAI through spanline.instrument("crewai") (its own venv), beside instrument("openai")."""

from __future__ import annotations

import json
from pathlib import Path

from tests.frameworks._agent_server import AgentServer
from tests.frameworks._checks import check_agent_run
from tests.frameworks._run import only_run, run_program


def test_a_delegating_crew_shows_the_researcher_its_tool_and_tokens(
    server: AgentServer, tmp_path: Path
) -> None:
    run_program(
        "crewai", "crewai_crew", server, tmp_path, env={"SPANLINE_INSTRUMENT": "openai,crewai"}
    )
    run = only_run(tmp_path)
    check_agent_run(run, server)
    summary = json.loads((run / "run_summary.json").read_text())
    assert summary["status"] == "ok"  # the crew's span ended with CrewAI's last event
    lines = [json.loads(line) for line in (run / "telemetry.jsonl").read_text().splitlines()]
    assert lines[0]["integrations"]["crewai"].startswith("1.15.")
    # CrewAI's own LLM spans name the SDK span that kept the usage of their response.
    ends = {e["span_id"]: e for e in lines if e["event"] == "span_end"}
    crew_llm = [e for e in lines if e["event"] == "span_start" and e["name"] == "llm.crewai.call"]
    assert len(crew_llm) == len(server.answers)
    # The SDK's spans are the ones that kept the usage (one ledger for both sources).
    sdk = {e["span_id"] for e in lines if e.get("name") == "llm.openai.chat.completions.create"}
    kept = [ends[e["span_id"]]["attributes"].get("spanline.duplicate_of") for e in crew_llm]
    assert len(sdk) == len(server.answers) and set(kept) == sdk
