"""A page that the server finds behind gets a resync, and stays right.

The example's run is written live in bursts larger than the stream's buffer, so
the server resyncs the page (a fresh snapshot and the offset to go on from)
instead of sending those lines. The page replaces its state with the snapshot,
goes on streaming, and ends showing exactly the finished run, in the same
document. Long names arrive cut to the display length on every path.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from spanline.dashboard import start_in_thread
from tests.dashboard_page.conftest import Watched, eigenda_run
from tests.dashboard_page.test_page import assert_final_state
from tests.dashboard_page.test_page_live import live_lines

BURST = 40  # lines written at once: about 12 KB, three times the buffer


def test_a_forced_resync_keeps_the_page_right(
    runs_base: Path, watched: Watched, browser: Any, tmp_path: Path
) -> None:
    source = eigenda_run(runs_base)
    base = tmp_path / "live"
    run_dir = base / "runs" / source.name
    run_dir.mkdir(parents=True)
    lines, cut = live_lines(source)
    telemetry = run_dir / "telemetry.jsonl"
    telemetry.write_text("".join(lines[:cut]))
    server = start_in_thread(base, host="127.0.0.1", port=0)
    server.config.buffer_bytes = 4096
    page = watched.page
    try:
        page.goto(f"http://127.0.0.1:{server.port}/")
        expect(page.locator("#mode")).to_have_text("live")
        expect(page.locator('#cards .card[data-status="running"]')).to_have_count(5)
        page.evaluate("window.__same_document = true")
        snapshots = server.config.snapshots

        def write_rest() -> None:
            with open(telemetry, "a") as out:
                for start in range(cut, len(lines), BURST):
                    out.write("".join(lines[start : start + BURST]))
                    out.flush()  # each burst alone is past the buffer: a resync

        writer = threading.Thread(target=write_rest)
        writer.start()
        writer.join()
        shutil.copy(source / "run_summary.json", run_dir / "run_summary.json")
        assert_final_state(page, run_dir)
        assert page.evaluate("window.__same_document") is True
        assert "planned agents done 35/35" in page.text_content("#complete-label")
        assert server.config.resyncs >= 1  # the page was resynced, and is right
        assert server.config.snapshots >= snapshots
    finally:
        server.stop()
    assert watched.dialogs == []
    assert watched.errors == []
