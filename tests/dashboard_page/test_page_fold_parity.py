"""The page's JavaScript fold is pinned to the Python lanes fold (``LanesFold``).

The page folds the lines it streams itself (each SSE message is one file line), so
its lanes are a second implementation. Here both fold the same recorded runs of
``examples/eigenda_profile.py`` (a clean run, ``--fail``, a stall, a killed run): the
page as a static report with every line and no summary (so nothing of the Python
side reaches it but the burn rate, which the page only shows), and ``LanesFold``
with ``SummaryFold``. Lanes, their phases, the phases and stall flags must be equal,
and the burn rate on the page must be the fold's.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from spanline.dashboard.page import build_page, report_data
from spanline.folds import SummaryFold
from spanline.folds.lanes import LanesFold
from tests._helpers import BARE_PATH, EXAMPLE
from tests.dashboard_page.conftest import Watched

#: The page's lane statuses for the fold's (a lane with no end is running, or
#: abandoned once every process of the run is gone).
STATUS = {"ok": "done", "error": "error", "queued": "queued", None: "running"}

JS_LANES = """() => {
  const S = window.spanlineDashboard.state();
  return {
    lanes: Array.from(S.lanes.values()).map(l => ({
      span_id: l.planId && l.status === "queued" ? l.planId : l.span_id,
      name: l.name, kind: l.kind, agent_id: l.agent_id, phase: l.phase || null,
      start_ts: l.start_ts, end_ts: l.end_ts, status: l.status, tokens: l.tokens,
      tool_uses: l.tool_uses, plan_id: l.planId || null,
      stalled: !!(l.stall && l.stall.recovered)})),
    phases: S.phaseOrder.slice(),
    dead: S.dead,
  };
}"""


def _example(base: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(EXAMPLE), "--speed", "50", "--no-dashboard", *args],
        env={"PATH": BARE_PATH, "SPANLINE_DIR": str(base), **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def _latest(base: Path) -> Path:
    return (base / "runs" / "latest").resolve()


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The four runs: clean, one agent failed, one agent stalled (and recovered), killed."""
    root = tmp_path_factory.mktemp("parity")
    runs: dict[str, Path] = {}
    for name, args, env in (
        ("clean", (), None),
        ("fail", ("--fail",), None),
        ("stall", ("--hang", "lib-encoding=3"), {"SPANLINE_STALL_S": "1"}),
    ):
        child = _example(root / name, *args, env=env)
        assert child.wait(120) == 0, name
        runs[name] = _latest(root / name)
    # Killed while one depth-0 agent hangs: the others' ends are on disk first.
    child = _example(root / "killed", "--hang", "lib-encoding=120")
    try:
        deadline = time.monotonic() + 60
        telemetry = root / "killed" / "runs" / "latest" / "telemetry.jsonl"
        while time.monotonic() < deadline:
            text = telemetry.read_bytes() if telemetry.is_file() else b""
            # An agent's span_end carries its analyses_written: 8 of the 9 depth-0 ended.
            if text.count(b'"analyses_written"') >= 8:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the killed run never reached its hanging agent")
    finally:
        child.kill()
        child.wait(10)
    runs["killed"] = _latest(root / "killed")
    return runs


def python_fold(run_dir: Path) -> tuple[list[dict[str, Any]], dict[str, Any], int]:
    events = []
    for line in (run_dir / "telemetry.jsonl").read_text().splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue  # a line the kill cut short
        if isinstance(event, dict) and isinstance(event.get("event"), str):
            events.append(event)
    summary = SummaryFold()
    summary.extend(events)
    result = summary.result()
    lanes = LanesFold()
    lanes.extend(events)
    return lanes.result(result), result.to_dict(), lanes.burn()["tokens_per_min"]


@pytest.mark.parametrize("name", ["clean", "fail", "stall", "killed"])
def test_the_page_folds_a_run_into_the_lanes_of_the_python_fold(
    name: str, recorded: dict[str, Path], watched: Watched, tmp_path: Path
) -> None:
    run_dir = recorded[name]
    lanes, summary, burn = python_fold(run_dir)
    data = report_data(run_dir)
    data["snapshot"]["summary"] = None  # the page's own fold alone, no reconciling
    report = tmp_path / "report.html"
    report.write_text(build_page(data), encoding="utf-8")
    page = watched.page
    page.goto(report.as_uri())
    expect(page.locator("#mode")).to_have_text("report")
    folded = page.evaluate(JS_LANES)

    expected = {
        lane["span_id"]: {
            "name": lane["name"], "kind": lane["kind"], "agent_id": lane["agent_id"],
            "phase": lane["phase"], "start_ts": lane["start_ts"], "end_ts": lane["end_ts"],
            "status": STATUS[lane["status"]], "tokens": lane["tokens"],
            "tool_uses": lane["tool_uses"], "plan_id": lane["plan_id"],
        }
        for lane in lanes
    }  # fmt: skip
    stalled = {s["span_id"] for s in summary["stalls"] if s["recovered"]}
    got = {}
    for lane in folded["lanes"]:
        span_id = lane.pop("span_id")
        if lane.pop("stalled"):
            got.setdefault("_stalled", set()).add(span_id)
        got[span_id] = lane
    assert got.pop("_stalled", set()) == stalled
    assert got == expected
    if name == "stall":
        assert stalled  # the run has the stall it was made for
    if name == "killed":
        assert any(lane["status"] == "running" for lane in expected.values())
    assert folded["phases"] == list(summary["phases"])
    assert page.text_content("#burn-rate") == f"{burn:,}"
    assert watched.errors == []
