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


def test_huge_names_reach_the_page_cut_from_the_snapshot_and_the_stream(
    watched: Watched, tmp_path: Path
) -> None:
    """An agent named 1 MB in the snapshot, another streamed after it: each card shows
    the first 500 characters and the whole length, never the megabyte."""
    import json
    import os
    import time

    base = tmp_path / "huge"
    run_dir = base / "runs" / "huge-20261207T000000-aaaaaa"
    run_dir.mkdir(parents=True)
    huge = "n" * (1024 * 1024)
    now = time.time()

    def agent(sid: str, name: str) -> str:
        line = {"event": "span_start", "span_id": sid, "parent": None, "trace_id": "0" * 32,
                "name": name, "component": None, "kind": "agent", "ts": now,
                "attributes": {}}  # fmt: skip
        return json.dumps(line) + "\n"

    header = {"event": "run_start", "ts": now, "run_id": run_dir.name, "pid": os.getpid(),
              "host": os.uname().nodename, "schema_version": 1}  # fmt: skip
    telemetry = run_dir / "telemetry.jsonl"
    telemetry.write_text(json.dumps(header) + "\n" + agent("a000000000000001", "a" + huge))
    server = start_in_thread(base, host="127.0.0.1", port=0)
    page = watched.page
    try:
        page.goto(f"http://127.0.0.1:{server.port}/")
        expect(page.locator("#mode")).to_have_text("live")
        expect(page.locator("#cards .card")).to_have_count(1)
        with open(telemetry, "a") as out:
            out.write(agent("a000000000000002", "b" + huge))
        expect(page.locator("#cards .card")).to_have_count(2)
        names = page.locator("#cards .card .name").all_text_contents()
        assert sorted(name[:1] for name in names) == ["a", "b"]
        for name in names:
            assert len(name) <= 540, len(name)
            assert name.endswith(f"… [{len(huge) + 1:,} characters]"), name[-40:]
    finally:
        server.stop()
    assert watched.errors == []
