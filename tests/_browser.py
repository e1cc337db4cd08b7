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
