"""MassGen-style artifacts: folded from coordination events, written at shutdown and on export."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import orjson
import pytest

import spanline
from spanline import coordination, traced_agent, traced_llm, traced_tool
from spanline._runs._store import Run
from spanline.cli._export_massgen import export_massgen
from spanline.folds import read_events
from spanline.folds.massgen import COORDINATION_EVENT_TYPES, MassgenFold, write_massgen_artifacts
from spanline.testing import deterministic_sources
from tests._helpers import ROOT, run_interpreter

GOLDEN = Path(__file__).parent / "golden" / "coordination_table.txt"


@traced_tool(name="mcp__filesystem__read_file")
def read_file(path: str) -> str:
    return f"# {path}\nfn main() {{}}\n"


@traced_llm(provider="anthropic", model="claude-sonnet-4-5")
def think(prompt: str) -> dict[str, Any]:
    return {"type": "message", "usage": {"input_tokens": 100, "output_tokens": 20}}


@traced_agent
def answer(agent_id: str, number: int) -> None:
    coordination.started_streaming()
    with spanline.context(round_number=1, round_type="initial_answer"):
        think(read_file(f"/workspace/{agent_id}.rs"))
    coordination.new_answer(f"agent{number}.1", content=f"{agent_id}'s analysis")


@traced_agent
def vote(agent_id: str, voted_for: str) -> None:
    with spanline.context(round_number=2, round_type="voting"):
        think("vote")
    coordination.vote(voted_for=voted_for, reason="clearer structure")


def _voting_run(base: Path, *, b_votes_for: str = "agent1.1") -> Run:
    """Two agents answer in turn, both vote, agent_a wins; ids and clock deterministic."""
    run = spanline.configure_observability(
        enabled=True,
        run_dir=base,
        run_id="voting-golden",
        query="Which commitment scheme should EigenDA use?",
        capture="full",
        synchronous=True,
        **deterministic_sources(),
    )
    assert run is not None
    answer("agent_a", 1)
    answer("agent_b", 2)
    vote("agent_a", "agent1.1")
    vote("agent_b", b_votes_for)
    coordination.winner_selected("agent_a", vote_counts={"agent1.1": 2})
    coordination.final_answer("agent1.1", content="final: agent_a's analysis", agent_id="agent_a")
    spanline.shutdown()
    return run


def _json(path: Path) -> Any:
    return orjson.loads(path.read_bytes())


def test_event_types_are_those_of_coordination() -> None:
    assert COORDINATION_EVENT_TYPES == coordination.EVENT_TYPES


def test_artifacts_are_written_at_shutdown(tmp_path: Path) -> None:
    run = _voting_run(tmp_path)
    vote_json = _json(run.directory / "vote.json")
    assert vote_json["winner"] == "agent_a"
    assert vote_json["consensus_reached"] is True
    assert [v["agent_id"] for v in vote_json["votes"]] == ["agent_a", "agent_b"]
    assert vote_json["final_votes"]["agent_b"]["voted_for"] == "agent1.1"

    events = _json(run.directory / "coordination_events.json")
    assert [e["event_id"] for e in events] == [f"E{n}" for n in range(1, len(events) + 1)]
    assert {e["event_type"] for e in events} <= set(COORDINATION_EVENT_TYPES)
    iso = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
    assert all(iso.match(e["timestamp"]) for e in events)
    votes = [e for e in events if e["event_type"] == "vote"]
    assert votes[0]["data"] == {"voted_for": "agent1.1", "reason": "clearer structure"}
    new = next(e for e in events if e["event_type"] == "new_answer")
    assert new["agent_id"] == "agent_a"
    assert new["data"] == {"label": "agent1.1", "content": "agent_a's analysis"}

    outputs = run.directory / "agent_outputs"
    assert (outputs / "agent_b.txt").read_text() == "agent_b's analysis\n"
    assert (outputs / "final_presentation_agent_a.txt").read_text().startswith("final:")


def test_coordination_table_golden(tmp_path: Path) -> None:
    run = _voting_run(tmp_path)
    table = (run.directory / "coordination_table.txt").read_text(encoding="utf-8")
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(table, encoding="utf-8")
    assert table == GOLDEN.read_text(encoding="utf-8")


def _steps(agent_dir: Path) -> list[Path]:
    return sorted(path for path in agent_dir.iterdir() if path.is_dir())


def test_context_lists_the_other_agents_earlier_answers(tmp_path: Path) -> None:
    run = _voting_run(tmp_path)
    a_steps = _steps(run.directory / "agent_a")
    b_steps = _steps(run.directory / "agent_b")
    assert len(a_steps) == 3 and len(b_steps) == 2  # answer, vote (, final answer)
    # agent_a answered first: nothing to see; agent_b saw agent1.1.
    assert (a_steps[0] / "answer.txt").read_text() == "agent_a's analysis\n"
    assert "no answers from other agents" in (a_steps[0] / "context.txt").read_text()
    b_context = (b_steps[0] / "context.txt").read_text()
    assert "[agent1.1] agent_a" in b_context and "agent_a's analysis" in b_context
    assert "agent2.1" not in b_context  # its own answer is not context
    # When agent_a votes, agent_b's answer is there.
    assert "[agent2.1] agent_b" in (a_steps[1] / "context.txt").read_text()
    assert (a_steps[1] / "vote.txt").read_text().startswith("Voted for: agent1.1")


def test_execution_trace_has_full_tool_calls(tmp_path: Path) -> None:
    run = _voting_run(tmp_path)
    first = _steps(run.directory / "agent_b")[0] / "execution_trace.md"
    trace = first.read_text()
    assert trace.startswith(
        "# Execution Trace: agent_b\n**Model**: claude-sonnet-4-5 | **Started**: "
    )
    assert "## Round 1 (initial_answer)" in trace
    assert "### Tool Call: mcp__filesystem__read_file" in trace
    assert '"path": "/workspace/agent_b.rs"' in trace
    result = "### Tool Result: mcp__filesystem__read_file\n```\n# /workspace/agent_b.rs\n"
    assert result + "fn main() {}\n```" in trace
    assert trace.rstrip().endswith("agent_b's analysis")
    assert "agent_a" not in trace  # the other agent's spans are not in it
    vote_trace = (_steps(run.directory / "agent_b")[1] / "execution_trace.md").read_text()
    assert "## Round 2 (voting)" in vote_trace and "### Vote Cast (agent1.1)" in vote_trace
    assert "Round 1" not in vote_trace  # only what happened since the previous step


def test_no_consensus_when_a_last_vote_goes_elsewhere(tmp_path: Path) -> None:
    run = _voting_run(tmp_path, b_votes_for="agent2.1")
    vote_json = _json(run.directory / "vote.json")
    assert vote_json["winner"] == "agent_a"
    assert vote_json["consensus_reached"] is False
    assert vote_json["vote_counts"] == {"agent1.1": 1, "agent2.1": 1}


def _event(name: str, ts: float, **attributes: Any) -> dict[str, Any]:
    return {"event": "event", "name": name, "span_id": None, "ts": ts, "attributes": attributes}


def test_winner_is_the_most_voted_answer_without_a_selection() -> None:
    events = [
        _event("new_answer", 1.0, agent_id="a", label="agent1.1"),
        _event("new_answer", 2.0, agent_id="b", label="agent2.1"),
        _event("vote", 3.0, agent_id="a", voted_for="agent1.1"),
        _event("vote", 4.0, agent_id="b", voted_for="agent1.1"),
        _event("vote", 5.0, agent_id="c", voted_for="agent2.1"),
        _event("vote", 6.0, agent_id="c", voted_for="agent1.1"),  # c changed its mind
    ]
    fold = MassgenFold()
    fold.extend(events)
    vote_json = fold.result().vote
    assert vote_json["winner"] == "agent1.1"
    assert vote_json["consensus_reached"] is True  # every LAST vote went to the winner
    assert len(vote_json["votes"]) == 4
    fold = MassgenFold()
    fold.extend(events[:5])
    assert fold.result().vote["consensus_reached"] is False


def test_no_artifacts_without_coordination_events(tmp_path: Path) -> None:
    run = spanline.configure_observability(enabled=True, run_dir=tmp_path, synchronous=True)
    assert run is not None
    with spanline.span("work", kind="agent"):
        read_file("/x")
    spanline.shutdown()
    assert (run.directory / "run_summary.json").exists()
    assert not (run.directory / "vote.json").exists()
    assert not (run.directory / "coordination_table.txt").exists()


def test_export_equals_what_shutdown_wrote(tmp_path: Path) -> None:
    run = _voting_run(tmp_path / "base")
    written = export_massgen(run, tmp_path / "out")
    names = {path.relative_to(tmp_path / "out") for path in written}
    assert Path("vote.json") in names and Path("coordination_table.txt") in names
    for name in names:
        assert (tmp_path / "out" / name).read_bytes() == (run.directory / name).read_bytes()
    # The same from events in memory, fed in any order of chunks.
    events, _ = read_events(run.telemetry_path)
    again = write_massgen_artifacts(iter(events), tmp_path / "again")
    assert len(again) == len(written)


@pytest.mark.parametrize("script", ["voting_agents.py"])
def test_voting_example_leaves_the_artifacts(tmp_path: Path, script: str) -> None:
    result = run_interpreter(
        str(ROOT / "examples" / script),
        cwd=tmp_path,
        env={"SPANLINE_DIR": str(tmp_path), "SPANLINE_CAPTURE": "full"},
        bare=True,
    )
    assert result.returncode == 0, result.stderr
    run_dir = (tmp_path / "runs" / "latest").resolve()
    vote_json = _json(run_dir / "vote.json")
    assert vote_json["winner"] == "agent_a" and vote_json["consensus_reached"] is True
    table = (run_dir / "coordination_table.txt").read_text()
    assert "🗳️ VOTE: agent1.1" in table and "Winner: agent_a · consensus: yes" in table
    assert (run_dir / "agent_outputs" / "agent_a.txt").exists()


def test_a_run_without_votes_gets_no_vote_json(tmp_path: Path) -> None:
    from tests.cli._entry import spanline as spanline_cli

    run = spanline.configure_observability(enabled=True, run_dir=tmp_path / "base")
    assert run is not None
    answer("agent_a", 1)  # coordination events, but nobody votes
    spanline.shutdown()
    assert (run.directory / "coordination_events.json").is_file()
    assert not (run.directory / "vote.json").exists()
    out = tmp_path / "export"
    result = spanline_cli(
        "export", "--dir", str(tmp_path / "base"), "--format", "massgen", "--out", str(out)
    )
    assert result.returncode == 0, result.stderr
    assert "vote.json" not in result.stdout
    assert (out / "coordination_events.json").is_file() and not (out / "vote.json").exists()
