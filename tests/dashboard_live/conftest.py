"""Browser fixtures for the live-run tests: Debian's chromium driven by Playwright.

Never ``playwright install``: the browser is the system's ``chromium`` package,
which scripts/test.sh installs when it is missing (see /work/shared/TESTING.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests._browser import launch_browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Debian chromium per module (see tests/_browser.py)."""
    yield from launch_browser()
