"""What a spent budget looks like from inside a framework: the first model call spends it
(``SPANLINE_MAX_TOKENS=1``), and the next one is stopped before its request."""

from __future__ import annotations

import json
from pathlib import Path

from tests.frameworks._agent_server import AgentServer
from tests.frameworks._run import only_run, run_program

BUDGET = {"SPANLINE_MAX_TOKENS": "1"}


def _crossings(run: Path) -> list[dict[str, object]]:
    lines = [json.loads(line) for line in (run / "telemetry.jsonl").read_text().splitlines()]
    return [e for e in lines if e["event"] == "event" and e["name"] == "budget.exceeded"]


def test_openai_agents_raise_budget_exceeded_from_the_run(
    server: AgentServer, tmp_path: Path
) -> None:
    """The researcher's call (inside the lead's tool) is stopped; the framework turns that
    into a tool error for the lead, whose own next call is stopped too and ends the run."""
    env = {"SPANLINE_INSTRUMENT": "openai,openai-agents", **BUDGET}
    done = run_program("agents", "openai_agents", server, tmp_path, "budget", env=env)
    assert done.stdout.splitlines()[-1] == "raised BudgetExceeded run"
    assert len(server.answers) == 1  # no request after the one that spent the budget
    run = only_run(tmp_path)
    assert len(_crossings(run)) == 1
    lines = [json.loads(line) for line in (run / "telemetry.jsonl").read_text().splitlines()]
    turns = [e for e in lines if e["event"] == "span_start" and e["name"] == "turn"]
    assert len(turns) == 3  # the lead, the researcher stopped, the lead again, stopped


def test_langgraph_raises_budget_exceeded_from_invoke(server: AgentServer, tmp_path: Path) -> None:
    """The researcher's call (inside the lead's tool) is stopped, and the exception goes
    straight out of ``invoke``: LangGraph retries nothing by default."""
    env = {"SPANLINE_INSTRUMENT": "openai,langchain", **BUDGET}
    done = run_program("agents", "langgraph_agents", server, tmp_path, "budget", env=env)
    assert done.stdout.splitlines()[-1] == "raised BudgetExceeded run"
    assert len(server.answers) == 1
    assert len(_crossings(only_run(tmp_path))) == 1
