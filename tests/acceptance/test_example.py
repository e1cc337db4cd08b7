"""The EigenDA example (the EigenDA analysis run profile), run as a user would."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests._helpers import EXAMPLE, run_interpreter, spans, validate_file

PHASE_AGENTS = {"library_depth_0": 9, "library_depth_n": 15, "application_analysis": 10}


def _run_example(tmp_path: Path, *extra: str) -> tuple[subprocess.CompletedProcess, Path]:
    base = tmp_path / "base"
    result = run_interpreter(
        str(EXAMPLE),
        "--speed",
        "8",
        *extra,
        env={"SPANLINE_DIR": str(base)},  # the example passes no run_dir: SPANLINE_DIR applies
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    (run_dir,) = [p for p in (base / "runs").iterdir() if p.name != "latest"]
    assert (base / "runs" / "latest").resolve() == run_dir.resolve()
    assert not (tmp_path / ".spanline").exists()
    return result, run_dir


def _agents_in(merged: dict, phase: str) -> list[dict]:
    (phase_span,) = [s for s in merged.values() if s["name"] == phase and s["kind"] == "phase"]
    return [s for s in merged.values() if s["parent"] == phase_span["span_id"]]


def _overlap(agents: list[dict]) -> bool:
    """True when every agent was running at one common moment."""
    return max(a["ts"] for a in agents) < min(a["end"]["ts"] for a in agents)


def _sequential(agents: list[dict]) -> bool:
    ordered = sorted(agents, key=lambda a: a["ts"])
    return all(a["end"]["ts"] <= b["ts"] for a, b in itertools.pairwise(ordered))


@pytest.fixture(scope="module")
def normal_run(tmp_path_factory: pytest.TempPathFactory):
    return _run_example(tmp_path_factory.mktemp("eigenda"))


@pytest.fixture(scope="module")
def failing_run(tmp_path_factory: pytest.TempPathFactory):
    return _run_example(tmp_path_factory.mktemp("eigenda-fail"), "--fail")


def test_summary_phases_and_agents(normal_run) -> None:
    result, run_dir = normal_run
    summary = json.loads((run_dir / "run_summary.json").read_text())
    phases = summary["phases"]
    for name, agents in PHASE_AGENTS.items():
        assert phases[name]["agents"] == agents
    assert phases["synthesis"]["agents"] == 1
    assert "agents" not in phases["discovery"]  # omitted when 0
    assert summary["totals"]["agents_spawned"] == 35
    assert summary["errors"] == [] and summary["open_spans"] == 0
    assert summary["run_id"] == run_dir.name and summary["run_id"].startswith("eigenda-")
    assert summary["source_repo"] == "https://github.com/Layr-Labs/eigenda"
    assert summary["source_commit"] == "61019b4"
    # the run profile's milestones are phase events, listed apart from the phase spans
    assert [m["name"] for m in summary["milestones"]][:2] == [
        "discovery-complete",
        "library-depth-0-complete",
    ]
    assert str(run_dir / "telemetry.jsonl") in result.stdout


def test_depth_0_overlaps_depth_n_is_sequential(normal_run) -> None:
    _, run_dir = normal_run
    merged = spans(validate_file(run_dir / "telemetry.jsonl"))
    depth_0 = _agents_in(merged, "library_depth_0")
    depth_n = _agents_in(merged, "library_depth_n")
    apps = _agents_in(merged, "application_analysis")
    assert (len(depth_0), len(depth_n), len(apps)) == (9, 15, 10)
    assert _overlap(depth_0) and _overlap(apps)
    assert _sequential(depth_n) and not _overlap(depth_n)
    totals = json.loads((run_dir / "run_summary.json").read_text())["totals"]
    assert totals["total_tokens"] == sum(s["end"]["tokens"] for s in merged.values())


def test_fail_makes_exactly_one_depth_n_agent_fail(failing_run) -> None:
    _, run_dir = failing_run
    summary = json.loads((run_dir / "run_summary.json").read_text())
    merged = spans(validate_file(run_dir / "telemetry.jsonl"))
    failed = [s for s in merged.values() if s["end"]["status"] == "error"]
    assert len(failed) == 1
    (phase,) = [s for s in merged.values() if s["name"] == "library_depth_n"]
    assert failed[0]["parent"] == phase["span_id"]
    assert failed[0]["kind"] == "library-analysis"
    assert summary["totals"]["agents_spawned"] == 35
    assert summary["phases"]["library_depth_n"]["agents"] == 15
    assert [e["span_id"] for e in summary["errors"]] == [failed[0]["span_id"]]
    assert summary["errors"][0]["type"] == "RuntimeError"
    # the run carried on: the later phases are all there and complete
    assert summary["phases"]["application_analysis"]["agents"] == 10
    assert summary["phases"]["synthesis"]["agents"] == 1


def test_execution_metadata_has_reference_000_fields(normal_run) -> None:
    yaml = pytest.importorskip("yaml")
    _, run_dir = normal_run
    meta = yaml.safe_load((run_dir / "execution_metadata.yaml").read_text())
    for key in (
        "query",
        "timestamp",
        "config_path",
        "config",
        "cli_args",
        "git",
        "python_version",
        "spanline_version",
        "working_directory",
    ):
        assert key in meta, key
    assert meta["query"].startswith("Analyze the EigenDA repository")
    assert meta["config"]["applications"][0] == "disperser"
    assert meta["cli_args"]["speed"] == 8.0
    assert {"commit", "branch"} <= meta["git"].keys()
    assert meta["python_version"] == ".".join(map(str, sys.version_info[:3]))
    assert meta["run_id"] == run_dir.name


def test_priced_model_is_not_reported_unpriced(normal_run) -> None:
    _, run_dir = normal_run
    summary = json.loads((run_dir / "run_summary.json").read_text())
    assert summary["unpriced_models"] == []
