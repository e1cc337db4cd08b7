"""What every framework run must show: the must-hold list, checked from the run's files.

The summary, the tools table, the dashboard's lanes and the span tree are read with
spanline's own folds, so a fold that ignores a framework's span fails here. Numbers
are compared with what the loopback server answered (:class:`AgentServer`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from spanline.folds.events import read_events
from spanline.folds.lanes import lanes
from spanline.folds.tree import TreeFold
from tests.frameworks._agent_server import SUB_AGENT, TOOL, AgentServer

LLM_KINDS = {"llm"}


def _walk(nodes: list[Any], agent: str | None = None) -> Iterator[tuple[Any, str | None]]:
    """Every node with the name of its nearest agent ancestor (itself excluded)."""
    for node in nodes:
        yield node, agent
        yield from _walk(node.children, node.name if node.kind == "agent" else agent)


def check_agent_run(run_dir: Path, server: AgentServer, *, lead: str = "lead") -> None:
    """Assert the run shows lead and researcher, their LLM calls, the tool and the tokens."""
    summary = json.loads((run_dir / "run_summary.json").read_text())
    events, problems = read_events(run_dir / "telemetry.jsonl")
    assert not problems, problems
    totals = summary["totals"]

    # Tokens equal the server's, counted once.
    assert totals["total_tokens"] == server.tokens(), (totals, server.answers)

    # Agents appear by name in the summary, the tools table and the lanes.
    agents = {agent["name"]: agent for agent in summary["agents"]}
    assert {lead, SUB_AGENT} <= set(agents), sorted(agents)
    assert agents[SUB_AGENT]["tokens"] == server.tokens(SUB_AGENT), agents[SUB_AGENT]
    assert summary["tools"][TOOL]["calls"] == 1, summary["tools"]
    assert totals["total_tool_uses"] >= 1, totals
    lane_names = {lane["name"] for lane in lanes(events)}
    assert {lead, SUB_AGENT} <= lane_names, sorted(lane_names)

    # Every LLM call sits under the agent that made it; the tool under the researcher.
    tree = TreeFold()
    tree.extend(events)
    view = tree.result().select(depth=None, limit=None)
    placed = list(_walk(view.roots))
    llm_agents = [agent for node, agent in placed if node.kind in LLM_KINDS and node.tokens]
    roles = [answer.role for answer in server.answers]
    assert sorted(llm_agents, key=str) == sorted(roles, key=str), (llm_agents, roles)
    tools = [agent for node, agent in placed if node.kind == "tool" and TOOL in (node.name or "")]
    assert tools == [SUB_AGENT], tools
