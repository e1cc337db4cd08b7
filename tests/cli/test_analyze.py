"""``spanline analyze`` on the EigenDA example: each finding checked against figures
computed here, independently, from the run's telemetry.jsonl."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests._helpers import BARE_PATH, EXAMPLE, read_lines, run_cli

#: The example's speed: at 5 a normal run takes about 2 s, and its shortest phase
#: (discovery, one 80 ms wait) is long enough that scheduling on a loaded machine rarely
#: stretches it past the 50 ms and 20% a phase must slow by to be flagged.
SPEED = "5"
#: The phase slowed in the baseline comparison, and by how much: library_depth_n is about
#: 0.8 s of sleeps at --speed 5, so 4 s or more slowed (sleeps never end early), far
#: clear of what scheduling on a loaded machine adds to a phase of a run made beside it.
SLOWED, FACTOR = "library_depth_n", "5"
#: The agent made to hang, for how long (real seconds), and the stall time the run uses.
HUNG, HANG_S, STALL_S = "lib-core", 3.0, "1"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A normal run, a --fail run, a --hang run and a --slow run of the example, made at
    the same time: load on the machine stretches them alike."""
    root = tmp_path_factory.mktemp("analyze")
    kinds = {
        "normal": [],
        "fail": ["--fail"],
        "hang": ["--hang", f"{HUNG}={HANG_S:g}"],
        "slow": ["--slow", f"{SLOWED}={FACTOR}"],
    }
    started = {}
    for kind, extra in kinds.items():
        env = {"PATH": BARE_PATH, "SPANLINE_DIR": str(root / kind), "SPANLINE_STALL_S": STALL_S}
        started[kind] = subprocess.Popen(
            [sys.executable, str(EXAMPLE), "--speed", SPEED, "--no-dashboard", *extra],
            env=env,
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    found = {}
    for kind, process in started.items():
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
        line = next(line for line in out.splitlines() if line.startswith("run directory:"))
        found[kind] = Path(line.split(":", 1)[1].strip())
    return found


def _analyze(run: Path, *args: str) -> dict[str, Any]:
    result = run_cli("analyze", str(run), "--json", *args)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert Path(data["report"]) == run / "ANALYSIS_REPORT.md"
    return data


def _spans(run: Path) -> dict[str, dict[str, Any]]:
    """Every span of the log: its start line merged with its end line (as ``end``)."""
    spans: dict[str, dict[str, Any]] = {}
    for event in read_lines(run / "telemetry.jsonl"):
        if event.get("event") == "span_start":
            spans[event["span_id"]] = dict(event)
        elif event.get("event") == "span_end":
            spans[event["span_id"]]["end"] = event
    return spans


def _children(spans: dict[str, dict[str, Any]], parent: str) -> list[dict[str, Any]]:
    return sorted((s for s in spans.values() if s["parent"] == parent), key=lambda s: s["ts"])


def test_the_sequential_depth_n_stretch_is_the_largest_share(runs: dict[str, Path]) -> None:
    run = runs["normal"]
    spans = _spans(run)
    root = next(s for s in spans.values() if s["parent"] is None)
    wall = root["end"]["ts"] - root["ts"]
    phases = {s["name"]: s for s in spans.values() if s["kind"] == "phase"}
    share = {name: (p["end"]["ts"] - p["ts"]) / wall for name, p in phases.items()}
    assert max(share, key=share.__getitem__) == "library_depth_n"
    depth_n = phases["library_depth_n"]
    agents = _children(spans, depth_n["span_id"])
    assert len(agents) == 15
    for before, after in itertools.pairwise(agents):
        assert after["ts"] >= before["end"]["ts"]  # one after another

    path = _analyze(run)["sections"]["critical_path"]
    largest = path["largest"]
    assert largest["name"] == "library_depth_n"
    assert largest["span_id"] == depth_n["span_id"]
    assert largest["share"] == pytest.approx(share["library_depth_n"], abs=1e-4)
    sequence = largest["agents_in_sequence"]
    assert sequence["span_ids"] == [agent["span_id"] for agent in agents]
    assert sequence["kinds"] == ["library-analysis"]
    report = (run / "ANALYSIS_REPORT.md").read_text()
    assert "Largest share: **library\\_depth\\_n** (phase)" in report
    assert "15 library-analysis agents ran one after another in library\\_depth\\_n" in report


def test_the_failing_agent_is_found_with_its_message(runs: dict[str, Path]) -> None:
    run = runs["fail"]
    spans = _spans(run)
    failed = [s for s in spans.values() if s["end"]["status"] == "error"]
    assert len(failed) == 1
    agent = failed[0]
    below, stack = 0, [agent["span_id"]]
    while stack:  # the agent's whole subtree, for what it spent
        sid = stack.pop()
        below += spans[sid]["end"]["tokens"]
        stack += [s["span_id"] for s in spans.values() if s["parent"] == sid]

    sections = _analyze(run)["sections"]
    (group,) = sections["errors"]["groups"]
    assert group["type"] == agent["end"]["error"]["type"] == "RuntimeError"
    assert group["message"] == agent["end"]["error"]["message"]
    assert group["agents"] == [agent["name"]]
    assert group["first"]["span_id"] == agent["span_id"]
    (wasted,) = sections["waste"]["failed_agents"]
    assert wasted["span_id"] == agent["span_id"] and wasted["tokens"] == below
    report = (run / "ANALYSIS_REPORT.md").read_text()
    assert agent["name"] in report and "model returned an unusable analysis" in report


def test_the_stalled_agent_of_a_hang_run_is_found(runs: dict[str, Path]) -> None:
    run = runs["hang"]
    spans = _spans(run)
    hung = next(s for s in spans.values() if s["name"] == HUNG)
    kids = _children(spans, hung["span_id"])
    gaps = [(after["ts"] - before["end"]["ts"], before, after)
            for before, after in itertools.pairwise(kids)]  # fmt: skip
    gap, before, after = max(gaps, key=lambda g: g[0])
    assert gap >= HANG_S

    waits = _analyze(run)["sections"]["waits"]
    stalls = [s for s in waits["stalls"] if s["span_id"] == hung["span_id"]]
    assert stalls and stalls[0]["name"] == HUNG
    assert stalls[0]["stalled_ms"] >= HANG_S * 1000 - 1
    top = waits["gaps"][0]
    assert top["parent"]["span_id"] == hung["span_id"]
    assert top["ms"] == pytest.approx(gap * 1000, abs=0.01)
    assert (top["after_span_id"], top["before_span_id"]) == (before["span_id"], after["span_id"])
    report = (run / "ANALYSIS_REPORT.md").read_text()
    assert f"{HUNG} showed no activity for" in report


def test_a_slowed_phase_is_the_only_phase_reported_against_its_baseline(
    runs: dict[str, Path],
) -> None:
    baseline = _analyze(runs["slow"], "--baseline", str(runs["normal"]))["sections"]["baseline"]
    slower = {(r["section"], r["name"]) for r in baseline["slower"]}
    assert {name for section, name in slower if section == "phase"} == {SLOWED}
    assert ("run", "total") in slower
    # Tokens, cost and errors are the same (the simulation draws the same numbers). The
    # agent kind, tool and model rows add up many spans' times, which load on the machine
    # stretches unevenly between two runs: they are not asserted here.
    assert baseline["costlier"] == [] and baseline["newly_failing"] == []
    report = (runs["slow"] / "ANALYSIS_REPORT.md").read_text()
    assert "## Against a baseline" in report and "library\\_depth\\_n" in report


def test_list_finds_the_analysed_runs(runs: dict[str, Path]) -> None:
    base = runs["fail"].parent.parent
    (runs["fail"] / "ANALYSIS_REPORT.md").unlink(missing_ok=True)
    before = run_cli("list", "--dir", str(base), "--analyzed", "--json")
    assert before.returncode == 0 and json.loads(before.stdout) == []
    _analyze(runs["fail"])
    result = run_cli("list", "--dir", str(base), "--analyzed", "--json")
    assert result.returncode == 0, result.stderr
    assert [row["run_id"] for row in json.loads(result.stdout)] == [runs["fail"].name]
    unanalysed = run_cli("list", "--dir", str(base), "--unanalyzed", "--json")
    assert json.loads(unanalysed.stdout) == []


def _deterministic(base: Path) -> tuple[bytes, dict[str, Any]]:
    env = {"PATH": BARE_PATH, "SPANLINE_DIR": str(base)}
    made = subprocess.run(
        [sys.executable, str(EXAMPLE), "--deterministic", "--fail"],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    run = base / "runs" / "eigenda-deterministic"
    data = _analyze(run)
    data.pop("report")
    return (run / "ANALYSIS_REPORT.md").read_bytes(), data


def test_two_deterministic_runs_give_the_same_report_byte_for_byte(tmp_path: Path) -> None:
    first, first_json = _deterministic(tmp_path / "a")
    second, second_json = _deterministic(tmp_path / "b")
    assert first == second
    assert first_json == second_json
    assert b"lib-" in first and b"RuntimeError" in first
