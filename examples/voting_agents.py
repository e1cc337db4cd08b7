"""Two voting agents with tools, model calls and coordination events (MassGen style).

Run:  python examples/voting_agents.py
"""

from __future__ import annotations

import asyncio
import sys

import spanline
from spanline import coordination, traced_agent, traced_llm, traced_tool


@traced_tool(name="mcp__filesystem__read_file")
async def read_file(path: str) -> str:
    await asyncio.sleep(0.01)
    return f"# {path}\nfn main() {{}}\n"


@traced_llm(provider="anthropic", model="claude-sonnet-4-5")
async def think(prompt: str) -> dict:
    await asyncio.sleep(0.02)
    return {
        "type": "message",
        "model": "claude-sonnet-4-5-20250929",
        "usage": {"input_tokens": 800 + len(prompt), "output_tokens": 120},
    }


@traced_agent
async def agent(agent_id: str, number: int) -> str:
    """Read, think, answer, then vote for the first answer."""
    coordination.started_streaming()
    with spanline.context(round_number=1, round_type="initial_answer"):
        source = await read_file(f"/workspace/{agent_id}.rs")
        await think(source)
    label = f"agent{number}.1"
    coordination.new_answer(label, content=f"{agent_id}'s analysis")
    with spanline.context(round_number=2, round_type="voting"):
        await think("vote")
    coordination.vote(voted_for="agent1.1", reason="clearer structure")
    return label


async def main() -> None:
    with spanline.span("coordination.session", kind="run"):
        labels = await asyncio.gather(agent("agent_a", 1), agent("agent_b", 2))
        coordination.winner_selected("agent_a", vote_counts={"agent1.1": 2})
        coordination.final_answer(
            labels[0], content="final: agent_a's analysis", agent_id="agent_a"
        )


if __name__ == "__main__":
    run = spanline.configure_observability(enabled=True, service_name="voting")
    assert run is not None
    asyncio.run(main())
    summary = spanline.shutdown()
    print(f"telemetry: {run.telemetry_path}")
    print(f"summary:   {run.summary_path}")
    if summary is not None:
        print(
            f"agents: {summary.totals.agents_spawned}  tokens: {summary.totals.total_tokens}"
            f"  tool uses: {summary.totals.total_tool_uses}  cost: ${summary.totals.cost_usd:.4f}"
        )
    sys.exit(0)
