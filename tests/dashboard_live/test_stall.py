"""Must hold: a stalled agent is flagged in the page as it happens.

``--hang lib-encoding=15`` holds one agent silent for 15 real seconds while the rest of
its phase finishes; ``SPANLINE_STALL_S=4`` makes four quiet seconds a stall. The page,
opened at the start, must mark that agent stalled while the run is still going (by
the wall clock: no line arrives to tell it), and keep every finished agent out of
that state; after the run, the summary's stall record reaches the agent's details.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.dashboard_live._example import LiveExample

HUNG = "lib-encoding"


def card(page: Any, name: str) -> Any:
    return page.locator("#cards .card").filter(has=page.locator(".name", has_text=name)).first


def test_a_hung_agent_turns_stalled_in_the_page_while_the_run_goes_on(
    browser: Any, tmp_path: Path
) -> None:
    example = LiveExample(
        tmp_path, "--speed", "20", "--hang", f"{HUNG}=15", env={"SPANLINE_STALL_S": "4"}
    )
    context = browser.new_context(viewport={"width": 1400, "height": 1800})
    page = context.new_page()
    page.set_default_timeout(20_000)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(example.url())
        expect(page.locator("#mode")).to_have_text("live")
        hung = card(page, HUNG)
        expect(hung).to_have_attribute("data-status", "running")
        # No line arrives while it hangs: the page's own clock must flag it.
        expect(hung).to_have_attribute("data-status", "stalled", timeout=12_000)
        assert example.process.poll() is None, "the run ended before the stall was seen"
        lane = page.locator(f'#gantt g.lane[data-span-id="{hung.get_attribute("data-span-id")}"]')
        expect(lane).to_have_attribute("data-status", "stalled")
        # Agents that finished are never called stalled, however long they are quiet.
        done = page.locator('#cards .card[data-status="done"]')
        expect(done).not_to_have_count(0)
        # Only the hung agent is quiet while running (the lead is a run, not an agent).
        stalled = page.locator('#cards .card[data-status="stalled"] .name')
        assert stalled.all_text_contents() == [HUNG]

        assert example.finish() == 0
        summary = json.loads((example.run_dir / "run_summary.json").read_text())
        stalls = {s["name"]: s for s in summary["stalls"]}
        assert stalls[HUNG]["recovered"] is True
        assert stalls[HUNG]["stalled_ms"] >= 4000

        # The run is over: nothing is left stalled, and the details say it was.
        expect(page.locator("#mode")).to_have_text("run ended, server stopped")
        expect(hung).to_have_attribute("data-status", "done")
        expect(page.locator('#cards .card[data-status="stalled"]')).to_have_count(0)
        hung.click()
        expect(page.locator("#detail-body")).to_contain_text("recovered")
    finally:
        example.kill()
        context.close()
    assert errors == []
