"""The main job: examples/eigenda_profile.py through its real entry point."""

from __future__ import annotations

import itertools
import json
import subprocess
from pathlib import Path

import pytest

from tests._helpers import EXAMPLE, read_lines, run_interpreter


def run_example(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    env = {"SPANLINE_DIR": str(tmp_path / "base")}
    result = run_interpreter(str(EXAMPLE), "--speed", "8", *args, env=env, cwd=tmp_path, bare=True)
    assert result.returncode == 0, result.stderr
    runs = tmp_path / "base" / "runs"
    latest = (runs / "latest").resolve()
    return result, latest


def intervals(lines: list[dict], prefix_names: set[str]) -> list[tuple[float, float]]:
    starts = {e["span_id"]: e for e in lines if e["event"] == "span_start"}
    out = []
    for end in (e for e in lines if e["event"] == "span_end"):
        start = starts[end["span_id"]]
        if start["name"] in prefix_names:
            out.append((start["ts"], end["ts"]))
    return sorted(out)


@pytest.mark.parametrize("fail", [False, True])
def test_eigenda_profile_summary(tmp_path: Path, fail: bool) -> None:
    from examples.eigenda_profile import APPS, DEPTH_0, DEPTH_N

    result, run_dir = run_example(tmp_path, *(["--fail"] if fail else []))
    assert str(run_dir / "telemetry.jsonl") in result.stdout
    summary = json.loads((run_dir / "run_summary.json").read_text())
    phases = summary["phases"]
    assert [phases[p].get("agents") for p in phases] == [None, 9, 15, 10, 1]
    assert list(phases) == [
        "discovery",
        "library_depth_0",
        "library_depth_n",
        "application_analysis",
        "synthesis",
    ]
    assert summary["totals"]["agents_spawned"] == 35
    assert summary["source_repo"] == "https://github.com/Layr-Labs/eigenda"
    assert summary["source_commit"] == "61019b4"
    assert summary["totals"]["total_tokens"] > 0
    assert summary["totals"]["total_tool_uses"] > 0
    assert summary["dropped_events"] == 0 and summary["open_spans"] == 0
    assert len(summary["errors"]) == (1 if fail else 0)
    if fail:
        assert summary["errors"][0]["name"] in {f"lib-{n}" for n in DEPTH_N}
        assert "failed agents:" in result.stdout

    lines = read_lines(run_dir / "telemetry.jsonl")
    depth0 = intervals(lines, {f"lib-{n}" for n in DEPTH_0})
    depthn = intervals(lines, {f"lib-{n}" for n in DEPTH_N})
    apps = intervals(lines, {f"app-{n}" for n in APPS})
    assert (len(depth0), len(depthn), len(apps)) == (9, 15, 10)
    # depth-0 agents run in parallel: they all overlap the first one to end.
    first_end = min(end for _, end in depth0)
    assert all(start < first_end for start, _ in depth0)
    # depth-N agents run one after another.
    for (_, end), (start, _) in itertools.pairwise(depthn):
        assert start >= end
    assert (run_dir / "execution_metadata.yaml").is_file()

    # The 35 agents are declared up front under the lead span, and all ran.
    assert summary["plan"] == {"planned": 35, "started": 35, "done": 35}
    planned = [e for e in lines if e["event"] == "span_planned"]
    kinds = [(e["event"], e.get("kind")) for e in lines]
    first_agent = kinds.index(("span_start", "library-analysis"))
    assert kinds.index(("span_planned", "synthesis")) < first_agent
    lead = next(e for e in lines if e["event"] == "span_start" and e["parent"] is None)
    assert {e["parent"] for e in planned} == {lead["span_id"]}
    agent_names = {a["name"] for a in summary["agents"]}
    assert sorted(e["name"] for e in planned) == sorted(agent_names)
    assert summary["stalls"] == []


def test_a_hanging_agent_is_listed_as_a_stall_it_recovered_from(tmp_path: Path) -> None:
    env_stall = {"SPANLINE_STALL_S": "0.8"}
    env = {"SPANLINE_DIR": str(tmp_path / "base"), **env_stall}
    result = run_interpreter(str(EXAMPLE), "--speed", "8", "--hang", "lib-core=2",
                             env=env, cwd=tmp_path, bare=True)  # fmt: skip
    assert result.returncode == 0, result.stderr
    run_dir = (tmp_path / "base" / "runs" / "latest").resolve()
    summary = json.loads((run_dir / "run_summary.json").read_text())
    lines = read_lines(run_dir / "telemetry.jsonl")
    assert lines[0]["event"] == "run_start" and lines[0]["stall_s"] == 0.8
    hung = [stall for stall in summary["stalls"] if stall["name"] == "lib-core"]
    assert len(hung) == 1, summary["stalls"]
    assert hung[0]["recovered"] is True and hung[0]["stalled_ms"] >= 2000.0
    assert summary["plan"] == {"planned": 35, "started": 35, "done": 35}


def test_the_example_ends_with_the_summary_panel_the_directory_and_the_dashboard(
    tmp_path: Path,
) -> None:
    result, run_dir = run_example(tmp_path, "--fail")
    out = result.stdout
    summary = run_interpreter(
        "-m", "spanline", "summary", str(run_dir), env={"COLUMNS": "80"}, cwd=tmp_path
    )  # fmt: skip
    assert summary.returncode == 0, summary.stderr
    assert summary.stdout in out  # the panel `spanline summary` draws, not raw JSON
    assert '"totals"' not in out
    assert out.index(summary.stdout) + len(summary.stdout) < out.rindex("run directory:")
    lines = out.splitlines()
    assert lines[-2].startswith("failed agents:  lib-")
    assert lines[-1] == f"run directory:  {run_dir}"
    # Then, as the program exits, spanline's own line: how to reopen the dashboard.
    last = result.stderr.splitlines()[-1]
    assert last.startswith("spanline: run ended, dashboard stopped; reopen with: ")
    assert last.endswith(f"serve {run_dir.relative_to(tmp_path)}")
    assert "reopen with" not in out  # said once


def test_speed_is_explained_in_a_users_words() -> None:
    result = run_interpreter(str(EXAMPLE), "--help", env={"COLUMNS": "200"})
    assert result.returncode == 0, result.stderr
    (speed,) = [line for line in result.stdout.splitlines() if line.strip().startswith("--speed")]
    assert "run F times faster" in speed and "divide" not in speed
