"""The page follows a run while it is written, without a reload.

The run is replayed into a fresh run directory over ~2 s (timestamps moved to
now), served by spanline's dashboard server. The example declares its 35 agents
up front with ``tracer.plan`` (``span_planned`` lines), so the page
shows those not started yet as queued.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from spanline.folds.lanes import LanesFold
from tests._browser import distinct_colours
from tests.dashboard_page.conftest import Watched, eigenda_run, serve
from tests.dashboard_page.test_page import assert_final_state


def live_lines(run_dir: Path) -> tuple[list[str], int]:
    """The run's lines, moved to now and to this process (the one writing them, alive);
    and a cut.

    The cut is the line count after the fifth agent started: 5 running, 30 queued.
    """
    summary = json.loads((run_dir / "run_summary.json").read_text())
    events = [json.loads(line) for line in (run_dir / "telemetry.jsonl").read_text().splitlines()]
    shift = time.time() - events[0]["ts"]
    for event in events:
        event["ts"] += shift
        if "pid" in event:
            event["pid"] = os.getpid()
    assert sum(e["event"] == "span_planned" for e in events) == 35  # the example's plan
    agents = {a["span_id"] for a in summary["agents"]}
    started = [
        i for i, e in enumerate(events) if e["event"] == "span_start" and e["span_id"] in agents
    ]
    return [json.dumps(e, separators=(",", ":")) + "\n" for e in events], started[4] + 1


def test_the_page_updates_as_the_run_is_written(
    runs_base: Path, watched: Watched, browser: Any, tmp_path: Path
) -> None:
    source = eigenda_run(runs_base)
    base = tmp_path / "live"
    run_dir = base / "runs" / source.name
    run_dir.mkdir(parents=True)
    lines, cut = live_lines(source)
    telemetry = run_dir / "telemetry.jsonl"
    telemetry.write_text("".join(lines[:cut]))

    def write_rest() -> None:
        with open(telemetry, "a") as out:
            for line in lines[cut:]:
                out.write(line)
                out.flush()
                time.sleep(2.0 / len(lines))

    page = watched.page
    with serve(base) as url:
        page.goto(url + "/")
        expect(page.locator("#mode")).to_have_text("live")
        expect(page.locator('#cards .card[data-status="running"]')).to_have_count(5)
        expect(page.locator('#cards .card[data-status="queued"]')).to_have_count(30)
        expect(page.locator("#complete-label")).to_contain_text("planned agents done 0/35")
        expect(page.locator("#run-picker option:checked")).to_contain_text(" - running")
        page.screenshot(path=str(tmp_path / "live-start.png"), full_page=True)
        page.evaluate("window.__same_document = true")

        writer = threading.Thread(target=write_rest)
        writer.start()
        expect(page.locator('#cards .card[data-status="done"]')).not_to_have_count(0)
        writer.join()
        # The copy has no run_summary.json: compare with the original's.
        shutil.copy(source / "run_summary.json", run_dir / "run_summary.json")
        assert_final_state(page, run_dir)
        assert page.evaluate("window.__same_document") is True
        assert "planned agents done 35/35" in page.text_content("#complete-label")
        png = page.screenshot(path=str(tmp_path / "live-end.png"), full_page=True)
        assert distinct_colours(browser, png) > 64
        # The run picker caught up with the run (it said running at the start).
        expect(page.locator("#run-picker option:checked")).to_contain_text(
            f"{run_dir.name} - ok, 1 agent failed"
        )

        # The burn rate is the lanes fold's, live at the end and reopened alike.
        fold = LanesFold()
        fold.extend(json.loads(line) for line in lines)
        expected = f"{fold.burn()['tokens_per_min']:,}"
        assert expected != "0"
        expect(page.locator("#burn-rate")).to_have_text(expected)
        reopened = page.context.new_page()
        reopened.goto(f"{url}/?run={run_dir.name}")
        expect(reopened.locator("#mode")).to_have_text("report")
        expect(reopened.locator("#cards .card")).to_have_count(35)
        expect(reopened.locator("#burn-rate")).to_have_text(expected)
        reopened.close()
    assert watched.dialogs == []
    assert watched.errors == []
