"""A program that rotates its runs (``rotate_every``) with its own dashboard: the page
opened at the printed address follows it into the next run, the run list shows the new
runs, no page says the server stopped while it serves, and the command said at exit
reopens the last run. Driven in Debian's chromium."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests._helpers import clean_env

#: Every request flushed makes a run of its own (an age limit shorter than any pause).
PROGRAM = """
import sys, spanline
spanline.configure_observability(
    enabled=True, service_name="server", rotate_every=1e-6, dashboard=True,
    summary_interval_ms=0,
)
for line in sys.stdin:
    if line.strip() == "quit":
        break
    with spanline.span("request", kind="agent"):
        with spanline.span("tool.lookup", kind="tool"):
            pass
    spanline.flush()
    print("answered", flush=True)
spanline.shutdown()
"""

STATE = """() => {
  const S = window.spanlineDashboard.state();
  return {run: S && S.runId, lanes: S ? S.lanes.size : 0, finished: S && S.finished,
          stopped: S && S.serverStopped,
          banner: !document.getElementById('ended-banner').hidden,
          options: Array.from(document.querySelectorAll('#run-picker option')).map(o => o.value),
          address: window.location.href};
}"""


class Server:
    """The rotating program, answering one request per line on its stdin."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.process = subprocess.Popen(
            [sys.executable, "-c", PROGRAM],
            env=clean_env({"SPANLINE_DIR": str(base)}),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stderr is not None
        said = self.process.stderr.readline()
        found = re.search(r"dashboard at (http://\S+)", said)
        assert found, said
        self.url = found.group(1)

    def request(self) -> str:
        """Answer one request; return the run the program writes now."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write("go\n")
        self.process.stdin.flush()
        assert self.process.stdout.readline().strip() == "answered"
        return os.readlink(self.base / "runs" / "latest")

    def quit(self) -> str:
        """End the program; return what it said on stderr after the address."""
        _, err = self.process.communicate("quit\n", timeout=120)
        assert self.process.returncode == 0, err
        return err

    def snapshot_server(self, run_id: str) -> dict[str, Any]:
        origin = self.url.split("/?")[0]
        with urllib.request.urlopen(f"{origin}/api/runs/{run_id}/snapshot") as answer:
            return dict(json.loads(answer.read())["server"])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    started = Server(tmp_path / "base")
    try:
        yield started
    finally:
        if started.process.poll() is None:
            started.process.kill()
            started.process.communicate(timeout=60)


def test_the_printed_page_follows_a_rotating_program_into_its_next_runs(
    server: Server, browser: Any
) -> None:
    first = server.request()
    assert "follow=1" in server.url and f"run={first}" in server.url
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    try:
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(server.url)
        page.wait_for_function(
            "run => { const S = window.spanlineDashboard.state();"
            " return S && S.runId === run && S.lanes.size === 1 && !S.finished; }",
            arg=first,
        )

        second = server.request()  # a new run: the first one closes
        assert second != first
        page.wait_for_function(
            "run => { const S = window.spanlineDashboard.state();"
            " return S && S.runId === run && S.lanes.size === 1; }",
            arg=second,
        )
        page.wait_for_function(
            "ids => ids.every(id => Array.from(document.querySelectorAll("
            "'#run-picker option')).some(o => o.value === id))",
            arg=[first, second],
        )
        state = page.evaluate(STATE)
        assert state["run"] == second and not state["finished"]
        assert not state["stopped"] and not state["banner"]  # the server still serves
        assert f"run={second}" in state["address"]
        assert page.eval_on_selector("#run-picker", "el => el.value") == second

        # The server answers for the run the program writes now.
        assert server.snapshot_server(first) == {
            "stops_with_run": False,
            "reopen": None,
            "live_run": second,
        }
        now = server.snapshot_server(second)
        assert now["stops_with_run"] is True and now["live_run"] == second

        # Opened late, the printed address opens the run the program writes now.
        third = server.request()
        late = context.new_page()
        late.set_default_timeout(60_000)
        late.goto(server.url)
        late.wait_for_function(
            "run => { const S = window.spanlineDashboard.state();"
            " return S && S.runId === run && S.lanes.size === 1; }",
            arg=third,
        )

        # Choosing a run in the list stops following: the page stays on it.
        late.select_option("#run-picker", first)
        late.wait_for_function(
            "run => { const S = window.spanlineDashboard.state();"
            " return S && S.runId === run && S.finished; }",
            arg=first,
        )
        assert "follow=" not in late.evaluate("() => window.location.href")
    finally:
        context.close()

    said = server.quit().splitlines()
    assert said[-1].startswith("spanline: run ended, dashboard stopped; reopen with: ")
    assert said[-1].endswith(str(server.base / "runs" / third))
