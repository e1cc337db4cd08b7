"""Every example besides the main job runs and leaves what it promises."""

from __future__ import annotations

from pathlib import Path

from tests._helpers import ROOT, read_lines, run_interpreter


def test_voting_agents_example(tmp_path: Path) -> None:
    result = run_interpreter(
        str(ROOT / "examples" / "voting_agents.py"),
        cwd=tmp_path,
        env={"SPANLINE_DIR": str(tmp_path)},
        bare=True,
    )
    assert result.returncode == 0, result.stderr
    assert "agents: 2" in result.stdout and "tool uses: 2" in result.stdout
    run_dir = (tmp_path / "runs" / "latest").resolve()
    lines = read_lines(run_dir / "telemetry.jsonl")
    events = [e for e in lines if e["event"] == "event"]
    names = [e["name"] for e in events]
    for kind in ("started_streaming", "new_answer", "vote", "winner_selected", "final_answer"):
        assert kind in names
    votes = [e for e in events if e["name"] == "vote"]
    assert {v["attributes"]["agent_id"] for v in votes} == {"agent_a", "agent_b"}
    assert all(v["attributes"]["voted_for"] == "agent1.1" for v in votes)
    answers = {e["attributes"]["agent_id"]: e["attributes"]["label"] for e in events
               if e["name"] == "new_answer"}  # fmt: skip
    assert answers == {"agent_a": "agent1.1", "agent_b": "agent2.1"}
    tools = [e for e in lines if e["event"] == "span_start" and e["kind"] == "tool"]
    assert {t["attributes"]["round_type"] for t in tools} == {"initial_answer"}
    assert {t["attributes"]["mcp.server"] for t in tools} == {"filesystem"}


def test_snapshot_example_writes_identical_bytes_twice(tmp_path: Path) -> None:
    """Two runs of the deterministic example: `cmp` finds no difference."""
    import subprocess

    outputs = []
    for name in ("first", "second"):
        result = run_interpreter(
            str(ROOT / "examples" / "snapshot_run.py"), str(tmp_path / name), cwd=ROOT
        )
        assert result.returncode == 0, result.stderr
        outputs.append(tmp_path / name / "runs" / "snapshot-run")
    first, second = outputs
    for file in ("telemetry.jsonl", "run_summary.json"):
        compared = subprocess.run(["cmp", first / file, second / file], check=False)
        assert compared.returncode == 0, file
    lines = read_lines(first / "telemetry.jsonl")
    assert lines[0]["event"] == "run_start" and lines[0]["pid"] == 1
    assert [e["span_id"] for e in lines if e["event"] == "span_start"][:3] == [
        f"{n:016x}" for n in (1, 2, 3)
    ]
    assert any(e.get("status") == "error" for e in lines)  # the broken file's review


def test_rotating_server_example_leaves_runs_of_one_session(tmp_path: Path) -> None:
    """The server example with a small size limit: several runs, one session, each span
    in one run with its start and its end, and the last run the one ``latest`` names."""
    result = run_interpreter(
        str(ROOT / "examples" / "rotating_server.py"),
        "--requests",
        "200",
        "--max-run-bytes",
        "32KB",
        cwd=tmp_path,
        env={"SPANLINE_DIR": str(tmp_path)},
        bare=True,
    )
    assert result.returncode == 0, result.stderr
    said = dict(line.split(": ", 1) for line in result.stdout.splitlines())
    runs = [p for p in (tmp_path / "runs").iterdir() if p.is_dir() and not p.is_symlink()]
    assert len(runs) >= 3
    seen: dict[str, str] = {}
    for run in runs:
        lines = read_lines(run / "telemetry.jsonl")
        assert lines[0]["session_id"] == said["session"]
        starts = sorted(e["span_id"] for e in lines if e["event"] == "span_start")
        assert starts == sorted(e["span_id"] for e in lines if e["event"] == "span_end")
        seen.update(dict.fromkeys(starts, run.name))
    assert len(seen) == 200 * 3  # an agent, a tool and a model call per request
    assert (tmp_path / "runs" / "latest").resolve().name == said["last run"]
    assert said["first run"] != said["last run"]
