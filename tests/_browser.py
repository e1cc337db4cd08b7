"""Debian's chromium driven by Playwright, shared by the browser test suites.

Never ``playwright install``: the browser is the system's ``chromium`` package,
which scripts/test.sh installs when it is missing.
"""

from __future__ import annotations

import base64
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run",
]  # fmt: skip


def launch_browser() -> Iterator[Any]:
    """Yield one headless chromium; use it as a module-scoped fixture's body.

    Not per session: Playwright's sync API keeps an asyncio loop running in the main
    thread while it is open, and later modules call ``asyncio.run()``.
    """
    sync_api = pytest.importorskip("playwright.sync_api")
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail(
            "Debian's chromium is missing: scripts/test.sh installs it (apt-get install chromium)"
        )
    with sync_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def distinct_colours(browser: Any, png: bytes) -> int:
    """How many distinct RGBA colours a PNG has, decoded by the browser itself."""
    page = browser.new_page()
    try:
        return int(
            page.evaluate(
                """async (src) => {
                  const img = new Image(); img.src = src; await img.decode();
                  const c = document.createElement('canvas');
                  c.width = img.naturalWidth; c.height = img.naturalHeight;
                  const g = c.getContext('2d'); g.drawImage(img, 0, 0);
                  const d = g.getImageData(0, 0, c.width, c.height).data;
                  const seen = new Set();
                  for (let i = 0; i < d.length; i += 4) {
                    seen.add(((d[i] << 24) | (d[i+1] << 16) | (d[i+2] << 8) | d[i+3]) >>> 0);
                  }
                  return seen.size;
                }""",
                "data:image/png;base64," + base64.b64encode(png).decode(),
            )
        )
    finally:
        page.close()


#: Agent lanes per phase in a finished run of examples/eigenda_profile.py.
PHASE_LANES = {
    "library_depth_0": 9,
    "library_depth_n": 15,
    "application_analysis": 10,
    "synthesis": 1,
}


def bars(page: Any, phase: str) -> list[tuple[float, float]]:
    """(x, x + width) of each lane bar of a phase, in pixels, top to bottom."""
    return [
        (float(x), float(x) + float(w))
        for x, w in page.eval_on_selector_all(
            f'#gantt g.lane[data-phase="{phase}"] rect.bar',
            "els => els.map(e => [e.getAttribute('x'), e.getAttribute('width')])",
        )
    ]


def assert_final_eigenda_page(page: Any, summary: dict[str, Any]) -> None:
    """The page shows the finished example run: its lanes by phase (the parallel ones
    overlapping, the sequential ones one by one), cards equal to run_summary.json's
    agents, and the failed agent with its message in the error panel."""
    import itertools

    for phase, count in PHASE_LANES.items():
        assert len(bars(page, phase)) == count, phase
    depth_0 = bars(page, "library_depth_0")
    assert max(s for s, _ in depth_0) < min(e for _, e in depth_0)  # all 9 overlap in time
    depth_n = sorted(bars(page, "library_depth_n"))
    assert all(b[0] >= a[1] - 2.5 for a, b in itertools.pairwise(depth_n))  # one by one
    apps = bars(page, "application_analysis")
    assert max(s for s, _ in apps) < min(e for _, e in apps)

    cards = page.eval_on_selector_all(
        "#cards .card",
        """els => els.map(e => ({span_id: e.dataset.spanId, status: e.dataset.status,
             tokens: e.querySelector('.tokens').textContent,
             tools: e.querySelector('.tools').textContent}))""",
    )
    by_id = {card["span_id"]: card for card in cards}
    assert len(summary["agents"]) == 35
    for agent in summary["agents"]:
        card = by_id[agent["span_id"]]
        assert card["tokens"].replace(",", "") == str(agent["tokens"]), agent["name"]
        assert card["tools"].replace(",", "") == str(agent["tool_uses"]), agent["name"]
        assert card["status"] == ("error" if agent["status"] == "error" else "done")

    (failed,) = summary["errors"]
    item = page.locator(f'#errors li[data-span-id="{failed["span_id"]}"]')
    assert failed["name"] in item.text_content()
    assert failed["message"] in item.text_content()
