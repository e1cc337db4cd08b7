"""``spanline compare``: the profile fold, the regression rules, the table, the exit codes,
and the must-hold on the EigenDA example (one phase slowed: that phase flagged, exit 1)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from spanline.folds.compare import GroupStats, RunProfile, compare_profiles, profile
from tests._helpers import BARE_PATH, EXAMPLE, run_cli

GOLDEN = Path(__file__).parent / "golden"
T = "0" * 32


def span(sid: str, parent: str | None, name: str, kind: str, ts: float, **attrs: Any) -> dict:
    return {
        "event": "span_start", "span_id": sid, "parent": parent, "trace_id": T, "name": name,
        "component": None, "kind": kind, "ts": ts, "attributes": attrs,
    }  # fmt: skip


def end(sid: str, ms: float, ts: float, tokens: int = 0, status: str = "ok", **attrs: Any) -> dict:
    return {
        "event": "span_end", "span_id": sid, "status": status, "duration_ms": ms,
        "tokens": tokens, "tool_uses": 0, "ts": ts, "attributes": attrs,
    }  # fmt: skip


def run_events(phase_ms: float = 100.0, llm_tokens: int = 1000, fail: bool = False) -> list[dict]:
    usage = {"gen_ai.usage.input_tokens": llm_tokens - 100, "gen_ai.usage.output_tokens": 100}
    return [
        span("a" * 16, None, "root", "run", 1.0),
        span("b" * 16, "a" * 16, "plan", "phase", 1.0),
        span("c" * 16, "b" * 16, "worker", "agent", 1.0),
        span("d" * 16, "c" * 16, "tool.read", "tool", 1.0, **{"tool.name": "read"}),
        end("d" * 16, 10.0, 1.01, status="error" if fail else "ok"),
        span("e" * 16, "c" * 16, "llm.ask", "llm", 1.01, **{"gen_ai.request.model": "m-1"}),
        end("e" * 16, 50.0, 1.06, tokens=llm_tokens, **usage, **{"gen_ai.usage.cost_usd": 0.5}),
        end("c" * 16, 70.0, 1.07),
        end("b" * 16, phase_ms, 1.1),
        end("a" * 16, phase_ms + 5, 1.2),
    ]


def test_profile_groups_by_phase_agent_kind_tool_and_model() -> None:
    found = profile(run_events(fail=True)).to_dict()["sections"]
    assert found["run"]["total"] == {
        "count": 5, "wall_ms": 105.0, "tokens": 1000, "cost_usd": 0.5, "errors": 1,
    }  # fmt: skip
    assert found["phase"]["plan"] == {
        "count": 1, "wall_ms": 100.0, "tokens": 1000, "cost_usd": 0.5, "errors": 1,
    }  # fmt: skip
    assert found["agent_kind"]["agent"] == {
        "count": 1, "wall_ms": 70.0, "tokens": 1000, "cost_usd": 0.5, "errors": 1,
    }  # fmt: skip
    assert found["tool"]["read"] == {
        "count": 1, "wall_ms": 10.0, "tokens": 0, "cost_usd": 0.0, "errors": 1,
    }  # fmt: skip
    assert found["model"]["m-1"] == {
        "count": 1, "wall_ms": 50.0, "tokens": 1000, "cost_usd": 0.5, "errors": 0,
    }  # fmt: skip


def test_profile_is_the_same_in_any_chunking_and_with_an_end_before_its_start() -> None:
    from spanline.folds.compare import ProfileFold

    events = run_events()
    fold = ProfileFold()
    for event in events:
        fold.add(event)
    assert fold.result().to_dict() == profile(events).to_dict()
    swapped = list(events)
    swapped[5], swapped[6] = swapped[6], swapped[5]  # the LLM call's end before its start
    for section in ("phase", "agent_kind", "model"):
        assert profile(swapped).sections[section] == profile(events).sections[section]


def flagged(a: list[dict], b: list[dict], **options: Any) -> set[tuple[str, str, str]]:
    comparison = compare_profiles(profile(a), profile(b), **options)
    return {(r.section, r.name, r.metric) for r in comparison.regressions}


def test_regressions_need_the_threshold_and_the_noise_floor() -> None:
    base = run_events(phase_ms=100.0)
    assert flagged(base, base) == set()
    # +40 ms is +40%, but under the 50 ms floor.
    assert flagged(base, run_events(phase_ms=140.0)) == set()
    # +60 ms is over the floor, and +60% over the threshold.
    assert ("phase", "plan", "wall_ms") in flagged(base, run_events(phase_ms=160.0))
    # Over the floor but under a 100% threshold.
    assert flagged(base, run_events(phase_ms=160.0), threshold=1.0) == set()
    # Faster is never a regression.
    assert flagged(run_events(phase_ms=400.0), base) == set()


def test_tokens_cost_and_errors_regress_too() -> None:
    base = run_events()
    more_tokens = flagged(base, run_events(llm_tokens=1300))
    assert ("phase", "plan", "tokens") in more_tokens
    assert ("model", "m-1", "tokens") in more_tokens
    assert flagged(base, run_events(llm_tokens=1100)) == set()  # +10% < 20%
    failing = flagged(base, run_events(fail=True))
    assert {("tool", "read", "errors"), ("phase", "plan", "errors")} <= failing


def test_a_group_only_in_b_is_new_and_one_only_in_a_is_not_a_regression() -> None:
    a = RunProfile("a", {"tool": {"old": GroupStats(1, 500.0)}}, events=1)
    b = RunProfile("b", {"tool": {"new": GroupStats(1, 500.0)}}, events=1)
    found = compare_profiles(a, b)
    assert [(r.name, r.metric, r.ratio) for r in found.regressions] == [("new", "wall_ms", None)]
    rows = {row.name: row.to_dict() for row in found.rows}
    assert rows["old"]["b"] is None and rows["old"]["regressed"] == []


def test_bad_thresholds_are_refused() -> None:
    from spanline.cli._compare import parse_threshold

    assert parse_threshold("20%") == pytest.approx(0.2)
    assert parse_threshold("12.5") == pytest.approx(0.125)
    for bad in ("-5%", "abc", "nan", "inf%", ""):
        with pytest.raises(ValueError):
            parse_threshold(bad)
    with pytest.raises(ValueError):
        compare_profiles(RunProfile("a"), RunProfile("b"), min_ms=-1)


def test_table_golden() -> None:
    from rich.console import Console

    from spanline.cli._compare import render_comparison

    comparison = compare_profiles(
        profile(run_events(), run_id="run-a"),
        profile(run_events(phase_ms=200.0, fail=True), run_id="run-b"),
    )
    out = io.StringIO()
    render_comparison(comparison, Console(file=out, width=100, no_color=True, color_system=None))
    text = "\n".join(line.rstrip() for line in out.getvalue().splitlines()) + "\n"
    assert text == (GOLDEN / "compare.txt").read_text(encoding="utf-8")


# -- through the real entry point ------------------------------------------------------------


def write_run(base: Path, run_id: str, events: list[dict]) -> None:
    directory = base / "runs" / run_id
    directory.mkdir(parents=True)
    lines = [{"event": "run_start", "run_id": run_id, "pid": 1, "ts": 1.0, "trace_id": T}]
    (directory / "telemetry.jsonl").write_text(
        "".join(json.dumps(line) + "\n" for line in [*lines, *events])
    )


def test_exit_codes_and_json(tmp_path: Path) -> None:
    write_run(tmp_path, "svc-20260101T000000-aaaaaa", run_events())
    write_run(tmp_path, "svc-20260101T000001-bbbbbb", run_events(phase_ms=300.0))
    a, b = "svc-20260101T000000-aaaaaa", "svc-20260101T000001-bbbbbb"
    same = run_cli("compare", a, a, "--dir", str(tmp_path))
    assert same.returncode == 0, same.stderr
    assert "No regressions" in same.stdout
    worse = run_cli("--dir", str(tmp_path), "compare", a, b, "--json")
    assert worse.returncode == 1, worse.stderr
    report = json.loads(worse.stdout)
    assert {(r["section"], r["name"]) for r in report["regressions"]} >= {("phase", "plan")}
    assert report["threshold_pct"] == 20.0 and report["min_ms"] == 50.0
    loose = run_cli("compare", a, b, "--dir", str(tmp_path), "--threshold", "500%")
    assert loose.returncode == 0, loose.stdout
    assert "\x1b[" not in worse.stdout + same.stdout  # no colour when not a terminal


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["svc-20260101T000000-cccccc", "latest"], "no run"),
        (["bad id!", "latest"], "invalid run id"),
        (["latest", "latest", "--threshold", "lots"], "bad threshold"),
        (["latest", "latest", "--threshold", "-1%"], "bad threshold"),
        (["latest", "latest", "--min-ms", "-5"], "--min-ms"),
        (["./empty", "latest"], "no events"),
        (["./garbage", "latest"], "no events"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path: Path, args: list[str], needle: str) -> None:
    write_run(tmp_path, "svc-20260101T000000-aaaaaa", run_events())
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "telemetry.jsonl").write_bytes(b"")
    (tmp_path / "garbage").mkdir()
    (tmp_path / "garbage" / "telemetry.jsonl").write_bytes(bytes(range(256)) * 4)
    result = run_cli("compare", *args, "--dir", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert needle in result.stderr and "Traceback" not in result.stderr


# -- the must-hold on the EigenDA example ----------------------------------------------------


#: What load can add: a busy 2-core machine stretched library_depth_n of a normal
#: run from 518 ms to 628 ms (the old 50 ms floor flagged it), and two CPU burners
#: stretched whole normal runs of about 1 s to 3 s, their tools' summed time by up to
#: 3 s. The runs are therefore made side by side, so that load stretches them alike,
#: and both comparisons use this one noise floor for what still differs between them.
NOISE_FLOOR_MS = "2000"
#: library_depth_n is about 0.5 s of sleeps at --speed 10; slowed 20x it is at least
#: 10 s (sleeps never end early), about 5 times the floor however loaded the machine.
SLOW_FACTOR = "20"


@pytest.fixture(scope="module")
def eigenda_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """Two normal runs and one with library_depth_n slowed 20x, at --speed 10 (~1 s a
    normal run), run at the same time: whatever else loads the machine then stretches
    all three alike, instead of one run and not the next."""
    root = tmp_path_factory.mktemp("compare")
    env = {"PATH": BARE_PATH, "SPANLINE_DIR": str(root / "base")}
    runs = [
        subprocess.Popen(
            [sys.executable, str(EXAMPLE), "--speed", "10", "--no-dashboard", *extra],
            env=env,
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for extra in ([], [], ["--slow", f"library_depth_n={SLOW_FACTOR}"])
    ]
    ids = []
    for run in runs:
        out, err = run.communicate(timeout=300)
        assert run.returncode == 0, err
        directory = next(line for line in out.splitlines() if line.startswith("run directory:"))
        ids.append(Path(directory.split(":", 1)[1].strip()).name)
    return root / "base", ids


def test_two_normal_runs_do_not_regress(eigenda_runs: tuple[Path, list[str]]) -> None:
    base, (first, second, _) = eigenda_runs
    result = run_cli(
        "compare", first, second, "--dir", str(base), "--min-ms", NOISE_FLOOR_MS, "--json"
    )
    assert result.returncode == 0, result.stdout
    assert json.loads(result.stdout)["regressions"] == []


def test_a_slowed_phase_is_flagged_and_only_that_phase(
    eigenda_runs: tuple[Path, list[str]],
) -> None:
    base, (first, _, slowed) = eigenda_runs
    floor = ("--min-ms", NOISE_FLOOR_MS)
    result = run_cli("compare", first, slowed, "--dir", str(base), *floor, "--json")
    assert result.returncode == 1, result.stdout
    regressions = json.loads(result.stdout)["regressions"]
    phases = {r["name"] for r in regressions if r["section"] == "phase"}
    assert phases == {"library_depth_n"}
    # Whatever else is flagged is the same slowdown seen from elsewhere: the run's total,
    # the depth-N agents' kind, their tool and model; always wall time, never tokens.
    assert {r["metric"] for r in regressions} == {"wall_ms"}
    others = {(r["section"], r["name"]) for r in regressions if r["section"] != "phase"}
    assert others <= {
        ("run", "total"), ("agent_kind", "library-analysis"),
        ("tool", "read_file"), ("model", "claude-sonnet-4"),
    }  # fmt: skip
    table = run_cli("compare", first, slowed, "--dir", str(base), *floor)
    assert table.returncode == 1
    assert "phase library_depth_n: time" in table.stdout
    assert "phase library_depth_0" not in table.stdout
