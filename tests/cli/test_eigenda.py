"""The read commands on the EigenDA example's runs, through the real ``spanline`` command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests._helpers import EXAMPLE, read_lines, run_cli, run_interpreter, spans
from tests.cli._runs import cli_env


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three runs of the example, the last one with --fail."""
    base = tmp_path_factory.mktemp("eigenda")
    for flags in ((), ("--seed", "7"), ("--fail",)):
        result = run_interpreter(
            str(EXAMPLE), "--speed", "50", *flags, env={"SPANLINE_DIR": str(base)}
        )
        assert result.returncode == 0, result.stderr
    return base


def _runs(base: Path) -> list[Path]:
    return sorted(p for p in (base / "runs").iterdir() if p.name != "latest")


def test_summary_json_equals_run_summary_json(base: Path) -> None:
    for directory in _runs(base):
        result = run_cli("summary", str(directory), "--json")
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == json.loads((directory / "run_summary.json").read_text())


def test_summary_panel_shows_the_headline_figures(base: Path) -> None:
    result = run_cli("--dir", str(base), "summary", env=cli_env())  # the latest: --fail
    assert result.returncode == 0, result.stderr
    written = json.loads((base / "runs" / "latest" / "run_summary.json").read_text())
    out = result.stdout
    assert "Analyze the EigenDA repository" in out
    assert f"Agents: {written['totals']['agents_spawned']}" in out
    assert f"Input: {written['totals']['tokens_by_type']['input']:,}" in out
    for phase in written["phases"]:
        assert phase in out
    assert "Errors: 1" in out and "--fail" in out  # the failing agent's message
    assert "read_file" in out


def test_tools_totals_match_the_spans(base: Path) -> None:
    latest = base / "runs" / "latest"
    merged = spans(read_lines(latest / "telemetry.jsonl"))
    tool_spans = [s for s in merged.values() if s["kind"] == "tool"]
    rows = json.loads(run_cli("--dir", str(base), "tools", "--json").stdout)
    assert sum(row["calls"] for row in rows) == len(tool_spans)
    total_ms = sum(s["end"]["duration_ms"] for s in tool_spans)
    assert sum(row["total_ms"] for row in rows) == pytest.approx(total_ms, abs=0.01)
    assert sum(row["failures"] for row in rows) == sum(
        s["end"]["status"] == "error" for s in tool_spans
    )
    text = run_cli("--dir", str(base), "tools", env=cli_env())
    assert text.returncode == 0, text.stderr
    total_line = next(line for line in text.stdout.splitlines() if "TOTAL" in line)
    assert f" {len(tool_spans)} " in total_line


@pytest.mark.parametrize("sort", ["time", "calls", "fail", "avg"])
def test_tools_sort(base: Path, sort: str) -> None:
    rows = json.loads(run_cli("--dir", str(base), "tools", "--sort", sort, "--json").stdout)
    key = {"time": "total_ms", "calls": "calls", "fail": "failures", "avg": "avg_ms"}[sort]
    assert [row[key] for row in rows] == sorted((row[key] for row in rows), reverse=True)


def test_list_shows_the_runs_newest_first(base: Path) -> None:
    result = run_cli("--dir", str(base), "list", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert len(rows) == 3
    assert [row["started"] for row in rows] == sorted((r["started"] for r in rows), reverse=True)
    latest = (base / "runs" / "latest").resolve().name
    assert rows[0]["run_id"] == latest
    assert all(row["agents"] == 35 and row["question"] for row in rows)
    text = run_cli("--dir", str(base), "list", "--limit", "2", env=cli_env())
    assert text.returncode == 0, text.stderr
    assert text.stdout.count("Analyze the") == 2


def test_list_analyzed_filter_and_runs_without_a_summary(base: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "base"
    shutil.copytree(base / "runs", copy / "runs", symlinks=True)
    first, second, third = _runs(copy)
    (first / "ANALYSIS_REPORT.md").write_text("# analysis\n")
    (second / "run_summary.json").unlink()  # folded from its telemetry instead
    analyzed = json.loads(run_cli("--dir", str(copy), "list", "--analyzed", "--json").stdout)
    assert [row["run_id"] for row in analyzed] == [first.name]
    rest = json.loads(run_cli("--dir", str(copy), "list", "--unanalyzed", "--json").stdout)
    assert {row["run_id"] for row in rest} == {second.name, third.name}
    refolded = next(row for row in rest if row["run_id"] == second.name)
    assert refolded["agents"] == 35 and refolded["status"] == "ok"


def test_show_errors_and_agent(base: Path) -> None:
    result = run_cli("--dir", str(base), "show", "--errors", "--json")
    assert result.returncode == 0, result.stderr
    view = json.loads(result.stdout)
    failed = []
    stack = list(view["roots"])
    while stack:
        node = stack.pop()
        stack.extend(node["children"])
        if node["status"] == "error":
            failed.append(node)
    assert len(failed) == 1 and "--fail" in failed[0]["error"]["message"]
    text = run_cli("--dir", str(base), "show", "--errors", env=cli_env())
    assert "✗ error" in text.stdout and "RuntimeError" in text.stdout
    agent = run_cli("--dir", str(base), "show", "--agent", failed[0]["span_id"], "--json")
    (root,) = json.loads(agent.stdout)["roots"]
    assert root["span_id"] == failed[0]["span_id"] and root["children"]
