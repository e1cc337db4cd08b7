"""Browser fixtures: Debian's chromium driven by Playwright (see /work/shared/TESTING.md).

Never `playwright install`: the browser is the system's `chromium` package, which
scripts/test.sh installs when it is missing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests._browser import launch_browser

ROOT = Path(__file__).resolve().parents[2]
XSS_NAME = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Debian chromium per module (see tests/_browser.py)."""
    yield from launch_browser()


class Watched:
    """A page with every console error, page error, dialog and request recorded."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.requests: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        page.on("dialog", self._dialog)
        page.on("request", lambda r: self.requests.append(r.url))

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()


@pytest.fixture
def watched(browser: Any) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1400, "height": 1800})
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield Watched(page)
    context.close()


@contextmanager
def serve(base: Path) -> Iterator[str]:
    """spanline's dashboard server over ``base`` on a free loopback port; yields its URL."""
    from spanline.dashboard import start_in_thread

    server = start_in_thread(base, host="127.0.0.1", port=0)
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.stop()


def _run(base: Path, *args: str) -> None:
    env = {**os.environ, "SPANLINE_DIR": str(base)}
    subprocess.run([sys.executable, *args], cwd=ROOT, env=env, check=True, capture_output=True)


@pytest.fixture(scope="session")
def runs_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A base directory with the EigenDA run (``--fail``) and, newer, a hostile-names run."""
    base = tmp_path_factory.mktemp("dashboard-runs")
    _run(base, "examples/eigenda_profile.py", "--speed", "50", "--fail")
    script = (
        "import spanline\n"
        "spanline.configure_observability(enabled=True, service_name='hostile')\n"
        "tracer = spanline.get_tracer()\n"
        "with tracer.span('run', kind='run'):\n"
        "    with tracer.span('work', kind='phase'):\n"
        "        try:\n"
        f"            with tracer.span({XSS_NAME!r}, kind='agent') as s:\n"
        "                s.add(tokens=5)\n"
        "                raise RuntimeError('<script>alert(2)</script>')\n"
        "        except RuntimeError:\n"
        "            pass\n"
        "spanline.shutdown()\n"
    )
    _run(base, "-c", script)
    return base


def eigenda_run(base: Path) -> Path:
    (directory,) = (base / "runs").glob("eigenda-*")
    return directory
