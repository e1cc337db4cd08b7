"""Real Chromium: a remote dashboard's printed address, with its key, shows the run; a run
whose lines held NaN renders."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests._helpers import clean_env
from tests.dashboard.conftest import make_finished_run
from tests.dashboard_page.conftest import Watched


def test_the_printed_address_with_its_key_shows_the_run(watched: Watched, tmp_path: Path) -> None:
    run = make_finished_run(tmp_path)
    command = [sys.executable, "-m", "spanline", "serve", run.run_id, "--dir", str(tmp_path),
               "--host", "0.0.0.0", "--port", "0", "--allow-remote"]  # fmt: skip
    with subprocess.Popen(
        command, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            assert "token=" in line, line
            address = line.split(" at ", 1)[1].split(" ", 1)[0]
            page = watched.page
            answers: list[tuple[str, int]] = []
            page.on("response", lambda r: answers.append((urlsplit(r.url).path, r.status)))

            # Without the key, the page itself is refused.
            root = address.split("?", 1)[0]
            refused: Any = page.goto(root)
            assert refused.status == 401

            answers.clear()
            seen = len(watched.errors)
            page.goto(address)
            page.wait_for_selector("#cards .card")
            names = sorted(page.locator("#cards .card .name").all_text_contents())
            assert names == ["agent-a", "agent-b"]
            page.wait_for_function("document.getElementById('mode').textContent !== 'error'")
            # Every request of the page (its snapshot, its stream) carried the key.
            paths = {path for path, _ in answers}
            assert "/api/runs" in paths and f"/api/runs/{run.run_id}/snapshot" in paths
            assert "/events" in paths
            assert all(status < 400 for _, status in answers), answers
            assert watched.errors[seen:] == []
        finally:
            process.terminate()
            process.wait(10)
    assert watched.dialogs == []


def test_a_run_whose_lines_held_nan_renders_without_errors(
    watched: Watched, tmp_path: Path
) -> None:
    """The values read as null (in the snapshot and the stream) break nothing in the page."""
    from tests.dashboard_page.conftest import serve
    from tests.test_nonfinite_lines import LINES, RUN

    run = tmp_path / "runs" / RUN
    run.mkdir(parents=True)
    (run / "telemetry.jsonl").write_bytes(b"\n".join(LINES) + b"\n")
    with serve(tmp_path) as url:
        watched.page.goto(f"{url}/?run={RUN}")
        watched.page.wait_for_selector("#cards .card")
        names = sorted(watched.page.locator("#cards .card .name").all_text_contents())
        assert names == ["s", "t"]
    assert watched.errors == [] and watched.dialogs == []
