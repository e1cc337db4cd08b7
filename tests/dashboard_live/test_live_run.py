"""Must hold, "Live run": a page opened as the example starts follows it to the end.

``examples/eigenda_profile.py --speed 20 --fail`` runs with its dashboard on (the
README's way), its runs under a temporary ``SPANLINE_DIR``; the address is read
from its stderr. ``--hang lib-encoding=3`` holds one depth-0 agent for 3 real
seconds, so that the page, opened at the start, surely catches agents running
and queued (at speed 20 the whole run takes well under a second).
Then, without a reload: 35 swimlanes, cards equal to run_summary.json, the
failed agent in the error panel, and the end of the program's own server said on
the page (with the command that serves the run again) while the run's final state
stays: its status with the failed agent, its duration, its progress. Screenshots
go to the test's tmp directory.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests._browser import assert_final_eigenda_page, distinct_colours
from tests.dashboard_live._example import LiveExample


def fmt_ms(ms: float) -> str:
    """A duration as the page writes it."""
    if ms < 1000:
        return f"{math.floor(ms + 0.5)} ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    return f"{int(ms // 60_000)}m {math.floor(ms % 60_000 / 1000 + 0.5)}s"


def screenshot(page: Any, browser: Any, path: Path) -> None:
    png = page.screenshot(path=str(path), full_page=True)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert distinct_colours(browser, png) > 64, f"{path.name} looks blank"


@pytest.fixture
def page(browser: Any) -> Any:
    context = browser.new_context(viewport={"width": 1400, "height": 1800})
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.errors = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    yield page
    context.close()


def test_a_page_opened_at_the_start_follows_the_run_to_its_end(
    browser: Any, page: Any, tmp_path: Path
) -> None:
    example = LiveExample(tmp_path, "--speed", "20", "--fail", "--hang", "lib-encoding=3")
    try:
        url = example.url()
        page.goto(url)
        # The start: agents running, the rest queued (declared by tracer.plan).
        expect(page.locator("#mode")).to_have_text("live")
        expect(page.locator('#cards .card[data-status="running"]')).not_to_have_count(0)
        expect(page.locator('#cards .card[data-status="queued"]')).not_to_have_count(0)
        expect(page.locator('#gantt g.lane[data-status="queued"]')).not_to_have_count(0)
        assert example.process.poll() is None, "the run ended before the page saw it live"
        screenshot(page, browser, tmp_path / "live-start.png")
        page.evaluate("window.__same_document = true")  # a reload would drop it

        assert example.finish() == 0
        summary = json.loads((example.run_dir / "run_summary.json").read_text())

        # The end, without a reload.
        expect(page.locator("#cards .card")).to_have_count(35)
        expect(page.locator("#lane-count")).to_have_text("35 agent lanes, 0 queued")
        expect(page.locator('#cards .card[data-status="running"]')).to_have_count(0)
        expect(page.locator('#cards .card[data-status="error"]')).to_have_count(1)
        # The program's own server stopped with it: the page keeps the run's last
        # state, truthfully, and says how to serve it again.
        expect(page.locator("#mode")).to_have_text("run ended, server stopped")
        serve = f" serve {example.run_dir.relative_to(tmp_path)}"
        expect(page.locator("#ended-banner")).to_be_visible()
        expect(page.locator("#ended-reopen")).to_have_text(
            re.compile(r"spanline" + re.escape(serve))
        )
        reopen = page.text_content("#ended-reopen")
        assert f"reopen with: {reopen}\n" in "".join(example.stderr)
        expect(page.locator("#run-status")).to_have_text("ok, 1 agent failed")
        picked = page.locator("#run-picker option:checked")
        expect(picked).to_contain_text(f"{example.run_dir.name} - ok, 1 agent failed - ")
        assert page.text_content("#elapsed") == fmt_ms(summary["total_wall_ms"])
        expect(page.locator("#complete-label")).to_have_text(
            "complete (planned agents done 35/35, 1 failed)"
        )
        assert page.evaluate("window.__same_document") is True
        screenshot(page, browser, tmp_path / "live-end.png")
    finally:
        example.kill()

    assert_final_eigenda_page(page, summary)
    assert page.errors == []  # type: ignore[attr-defined]
