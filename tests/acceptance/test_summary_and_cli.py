"""Re-folding runs: damaged files, phases, the CLI (base directories, JSON output, errors)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import spanline
from tests._helpers import configure, finish, run_cli


def _small_run(tmp_path: Path) -> spanline.Run:
    run = configure(tmp_path)
    tracer = spanline.get_tracer()
    with tracer.span("run", kind="run"):
        with tracer.span("phase-a", kind="phase"):
            for index in range(3):
                with tracer.span(f"agent-{index}", kind="agent") as agent:
                    agent.add(tokens=10, tool_uses=1)
        tracer.phase("a-done", agents=3)
    finish(run)
    return run


def _damage(run: spanline.Run, where: Path) -> tuple[Path, int, int]:
    """Copy the run's log into ``where`` (a run-like directory), insert a garbage line in
    the middle and a torn line at the end; return the copy and the two line numbers.
    The run's own file stays intact."""
    where.mkdir()
    path = where / "telemetry.jsonl"
    lines = run.telemetry_path.read_bytes().splitlines(keepends=True)
    garbage_at = len(lines) // 2 + 1
    lines.insert(garbage_at - 1, b"this is not json\n")
    torn = b'{"event":"span_start","span_id":"00000000000000aa","par'
    path.write_bytes(b"".join(lines) + torn)
    return path, garbage_at, len(lines) + 1


def test_torn_last_line_and_garbage_are_reported_and_nothing_else_is_lost(
    tmp_path: Path,
) -> None:
    run = _small_run(tmp_path)
    before = json.loads(run.summary_path.read_text())
    path, garbage_line, torn_line = _damage(run, tmp_path / "damaged")

    summary = spanline.summarize_file(path).to_dict()
    problems = {(p["file"], p["line"]) for p in summary["skipped_lines"]}
    assert problems == {(str(path), garbage_line), (str(path), torn_line)}
    for key in ("totals", "phases", "span_count", "open_spans", "errors", "agents", "run_id"):
        assert summary[key] == before[key], key

    events, skipped = spanline.read_events(path)
    assert len(skipped) == 2 and len(events) == torn_line - 2

    result = run_cli("summary", str(path.parent), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["totals"] == before["totals"]
    assert f"{path}:{garbage_line}" in result.stderr
    assert f"{path}:{torn_line}" in result.stderr
    assert "Traceback" not in result.stderr


def test_lines_that_are_json_but_not_events_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "telemetry.jsonl"
    good = {"event": "phase", "name": "p", "wall_ms": 1.0, "ts": 1.0, "libraries": 2}
    lines = [json.dumps(good), "[1, 2]", '{"event": 5}', "null", '"text"', json.dumps(good)]
    path.write_bytes(("\n".join(lines) + "\n").encode() + b"\xff\xfe\n")
    summary = spanline.summarize_file(path)
    assert [p["line"] for p in summary.skipped_lines] == [2, 3, 4, 5, 7]
    assert len(summary.milestones) == 2


def test_contract_5_phase_spans_nearest_ancestor_and_milestones(tmp_path: Path) -> None:
    run = configure(tmp_path)
    tracer = spanline.get_tracer()

    @spanline.traced_agent(kind="worker")  # an agent whatever its kind
    def decorated() -> None:
        pass

    with tracer.span("root", kind="run"):
        with tracer.span("outer", kind="phase"):
            with tracer.span("grouping", kind="batch"):
                with tracer.span("lib", kind="library-analysis"):
                    pass  # nearest phase: outer (through a non-phase span)
            with tracer.span("inner", kind="phase"):
                with tracer.span("app", kind="application-analysis"):
                    decorated()  # nested agent: nearest phase is inner, too
            decorated()
        tracer.phase("milestone-1", libraries=1)
        with tracer.span("empty", kind="phase"):
            with tracer.span("not-an-agent", kind="tool"):
                pass
        with tracer.span("custom", kind="phase"):
            with tracer.span("x", kind="my-kind"):
                pass
        tracer.phase("milestone-2")
    with tracer.span("orphan-agent", kind="synthesis"):
        pass
    summary, events = finish(run)
    data = json.loads(run.summary_path.read_text())
    phases = data["phases"]
    assert set(phases) == {"outer", "inner", "empty", "custom"}  # phase events excluded
    assert phases["outer"]["agents"] == 2
    assert phases["inner"]["agents"] == 2
    assert "agents" not in phases["empty"] and "agents" not in phases["custom"]
    ends = {e["span_id"]: e for e in events if e["event"] == "span_end"}
    starts = {e["name"]: e for e in events if e["event"] == "span_start"}
    assert phases["outer"]["wall_ms"] == ends[starts["outer"]["span_id"]]["duration_ms"]
    assert [m["name"] for m in data["milestones"]] == ["milestone-1", "milestone-2"]
    # phase spans emit no phase event by themselves
    assert [e["name"] for e in events if e["event"] == "phase"] == ["milestone-1", "milestone-2"]
    assert data["totals"]["agents_spawned"] == 5  # lib, app, 2 x decorated, orphan
    assert summary.totals.agents_spawned == 5


def test_contract_5_milestones_fill_phases_only_without_phase_spans(tmp_path: Path) -> None:
    run = configure(tmp_path, agent_kinds=["my-kind"])
    tracer = spanline.get_tracer()
    tracer.phase("discovery", libraries=24)
    with tracer.span("a", kind="my-kind"):
        pass
    with tracer.span("b", kind="agent"):  # not an agent in this run
        pass
    tracer.phase("depth-0", libraries=9)
    _, events = finish(run)
    data = json.loads(run.summary_path.read_text())
    assert list(data["phases"]) == ["discovery", "depth-0"]
    assert data["phases"]["depth-0"]["libraries"] == 9
    assert data["phases"]["depth-0"]["wall_ms"] == events[-2]["wall_ms"]
    assert all(p["wall_ms"] >= 0 for p in data["phases"].values())
    assert data["totals"]["agents_spawned"] == 1
    # re-folding with the default kinds gives a different answer: the run's kinds are kept
    assert spanline.summarize_file(run.telemetry_path).totals.agents_spawned == 1


def test_summary_json_file_equals_cli_summary_and_refold(tmp_path: Path) -> None:
    run = _small_run(tmp_path)
    written = json.loads(run.summary_path.read_text())
    by_id = run_cli("--dir", str(tmp_path), "summary", run.run_id, "--json")
    latest = run_cli("--dir", str(tmp_path), "summary", "--json")
    assert by_id.returncode == 0 and latest.returncode == 0, by_id.stderr + latest.stderr
    assert json.loads(by_id.stdout) == written == json.loads(latest.stdout)
    assert spanline.summarize_file(run.telemetry_path).to_dict() == written


def test_cli_summary_json_flag(tmp_path: Path) -> None:
    run = _small_run(tmp_path)
    result = run_cli("--dir", str(tmp_path), "summary", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout).keys() == json.loads(run.summary_path.read_text()).keys()


def test_cli_dir_accepts_a_run_directory(tmp_path: Path) -> None:
    run = _small_run(tmp_path)
    result = run_cli("--dir", str(run.directory), "summary", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["run_id"] == run.run_id


@pytest.mark.parametrize(
    "args",
    [
        ("--dir", "{tmp}/nowhere", "summary"),
        ("--dir", "{tmp}", "summary", "no-such-run"),
        ("summary", "{tmp}/missing/telemetry.jsonl"),
        ("--dir", "{tmp}/afile", "summary"),
    ],
)
def test_cli_errors_are_one_line_and_non_zero(args: tuple[str, ...], tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    result = run_cli(*(a.format(tmp=tmp_path) for a in args), cwd=tmp_path)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("args", [("bogus",), ("summary", "--nope"), ()])
def test_cli_usage_errors_are_one_line(args: tuple[str, ...], tmp_path: Path) -> None:
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_cli_on_a_directory_named_telemetry_jsonl_errors_cleanly(tmp_path: Path) -> None:
    run_like = tmp_path / "weird"
    (run_like / "telemetry.jsonl").mkdir(parents=True)
    result = run_cli("summary", str(run_like), cwd=tmp_path)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_phase_counts_named_like_summary_fields_do_not_break_the_summary(
    tmp_path: Path,
) -> None:
    run = configure(tmp_path)
    spanline.phase("round-1", agents="many", incomplete="maybe")
    summary = spanline.shutdown()
    assert summary is not None and run.summary_path.is_file()
    result = run_cli("summary", str(run.directory))
    assert result.returncode == 0 and "Traceback" not in result.stderr
