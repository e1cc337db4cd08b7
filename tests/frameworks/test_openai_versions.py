"""The SDK instrumentation is the same with openai 2.x (the CrewAI venv) and 3.x (the
venv of the other frameworks): one program, both venvs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.frameworks._agent_server import AgentServer
from tests.frameworks._run import only_run, run_program


@pytest.mark.parametrize(("venv", "major"), [("crewai", "2"), ("agents", "3")])
def test_plain_instrument_openai_records_every_call_with_its_usage(
    venv: str, major: str, server: AgentServer, tmp_path: Path
) -> None:
    done = run_program(
        venv, "openai_plain", server, tmp_path, env={"SPANLINE_INSTRUMENT": "openai"}
    )
    assert done.stdout.split(".")[0] == major  # the openai version the program ran
    run = only_run(tmp_path)
    lines = [json.loads(line) for line in (run / "telemetry.jsonl").read_text().splitlines()]
    assert lines[0]["integrations"]["openai"].split(".")[0] == major
    starts = [e for e in lines if e["event"] == "span_start"]
    assert [(e["kind"], e["name"]) for e in starts] == [
        ("llm", "llm.openai.chat.completions.create"),
        ("llm", "llm.openai.chat.completions.create"),
        ("llm", "llm.openai.responses.create"),
    ]
    ends = [e for e in lines if e["event"] == "span_end"]
    assert [e["attributes"]["gen_ai.response.id"] for e in ends] == [
        a.response_id for a in server.answers
    ]
    summary = json.loads((run / "run_summary.json").read_text())
    assert summary["totals"]["total_tokens"] == server.tokens() == 3 * 275
    assert summary["totals"]["llm_calls_without_usage"] == 0
