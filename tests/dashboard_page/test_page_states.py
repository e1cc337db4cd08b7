"""The page's states a user must not misread, in Chromium: a failed agent in a run that
went on, queued agents, a timeline longer than its box, and the error card as a way to
the failed agent."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.dashboard_page.conftest import Watched, eigenda_run, serve
from tests.dashboard_page.test_page_live import live_lines

ORDER = ["library_depth_0", "library_depth_n", "application_analysis", "synthesis"]
RED = "rgb(214, 39, 40)"


def fills(page: Any) -> dict[str, str]:
    """Each lane bar's computed fill, by span id."""
    return dict(
        page.eval_on_selector_all(
            "#gantt g.lane",
            "els => els.map(g => [g.dataset.spanId,"
            " getComputedStyle(g.querySelector('rect.bar')).fill])",
        )
    )


def test_a_failed_agent_reads_as_failed_and_its_error_card_leads_to_it(
    runs_base: Path, watched: Watched
) -> None:
    run_dir = eigenda_run(runs_base)
    summary = json.loads((run_dir / "run_summary.json").read_text())
    assert summary["status"] == "ok" and summary["failed_agents"] == 1
    (failed,) = summary["errors"]
    page = watched.page
    with serve(runs_base) as url:
        page.goto(f"{url}/?run={run_dir.name}")
        expect(page.locator("#mode")).to_have_text("report")
        expect(page.locator("#cards .card")).to_have_count(35)
        expect(page.locator("#run-status")).to_have_text("ok, 1 agent failed")
        expect(page.locator("#complete-label")).to_have_text(
            "complete (planned agents done 35/35, 1 failed)"
        )
        # The failed bar is filled red and labelled; no other bar is red.
        by_id = fills(page)
        assert by_id.pop(failed["span_id"]) == RED
        assert by_id and RED not in by_id.values()
        lane = page.locator(f'#gantt g.lane[data-span-id="{failed["span_id"]}"]')
        expect(lane.locator("text.bar-label")).to_have_text("\u2716 failed")
        card = page.locator(f'#cards .card[data-span-id="{failed["span_id"]}"]')
        expect(card.locator(".status-line")).to_contain_text("\u2716 failed")

        # The error card is a way to the failed agent: click, and it is selected.
        page.click(f'#errors li[data-span-id="{failed["span_id"]}"]')
        expect(lane.locator("rect.bar")).to_have_class(re.compile(r"\bselected\b"))
        expect(page.locator("#detail-body")).to_contain_text(failed["message"])
        expect(page.locator("#detail-body")).to_contain_text(failed["name"])
    assert watched.errors == []


def test_queued_lanes_show_in_planned_order_and_no_lane_hides_below_the_box(
    runs_base: Path, watched: Watched, tmp_path: Path
) -> None:
    source = eigenda_run(runs_base)
    base = tmp_path / "live"
    run_dir = base / "runs" / source.name
    run_dir.mkdir(parents=True)
    lines, cut = live_lines(source)  # 5 agents running, 30 queued; this process writes
    (run_dir / "telemetry.jsonl").write_text("".join(lines[:cut]))
    planned = [json.loads(line) for line in lines if '"span_planned"' in line]
    assert os.getpid() == json.loads(lines[0])["pid"]
    page = watched.page
    page.set_viewport_size({"width": 1400, "height": 900})
    with serve(base) as url:
        page.goto(url + "/")
        expect(page.locator("#mode")).to_have_text("live")
        queued = page.locator('#gantt g.lane[data-status="queued"]')
        expect(queued).to_have_count(30)
        # Groups in the order they run, then lanes in the order they were planned.
        groups = page.locator("#gantt text.group-label").all_text_contents()
        assert groups == ORDER
        shown = page.eval_on_selector_all(
            '#gantt g.lane[data-phase="library_depth_n"] text.lane-label',
            "els => els.map(e => e.textContent)",
        )
        depth_n = [p["name"] for p in planned if p["attributes"]["phase"] == "library_depth_n"]
        assert shown == depth_n

        # Each queued lane is a hatched bar inside the timeline, not a tick at its edge.
        width = float(page.get_attribute("#gantt", "width") or 0)
        for x, w, fill, label in page.eval_on_selector_all(
            '#gantt g.lane[data-status="queued"]',
            "els => els.map(g => { const r = g.querySelector('rect.bar');"
            " return [+r.getAttribute('x'), +r.getAttribute('width'), r.getAttribute('fill'),"
            " g.querySelector('text.bar-label').textContent]; })",
        ):
            assert fill == "url(#queued-hatch)" and label == "queued"
            assert w >= 24 and x >= 170 and x + w <= width - 10 + 0.5

        # The 35 lanes fit their box at this size: nothing is hidden below it.
        box = "document.getElementById('gantt-scroll')"
        assert page.evaluate(f"{box}.scrollHeight <= {box}.clientHeight + 1")
        expect(page.locator("#gantt-more")).to_be_hidden()
        # A box too small for its lanes says how many are below, until scrolled there.
        page.evaluate(f"{box}.style.maxHeight = '300px'; {box}.dispatchEvent(new Event('scroll'))")
        expect(page.locator("#gantt-more")).to_be_visible()
        expect(page.locator("#gantt-more")).to_have_text(re.compile(r"\d+ more lanes below"))
        page.evaluate(f"{box}.scrollTop = {box}.scrollHeight")
        expect(page.locator("#gantt-more")).to_be_hidden()
    assert watched.errors == []
