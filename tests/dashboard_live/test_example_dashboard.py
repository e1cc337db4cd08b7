"""The README's first command: the example serves its dashboard while it runs, and with
``--serve`` after it, until Ctrl-C. Real child processes, real sockets."""

from __future__ import annotations

import json
import signal
import urllib.request
from pathlib import Path
from typing import Any

from tests.dashboard_live._example import URL, LiveExample


def get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read()


def get_json(url: str) -> Any:
    status, body = get(url)
    assert status == 200
    return json.loads(body)


def origin(url: str) -> str:
    return url.split("/?", 1)[0].rstrip("/")


def test_the_address_is_printed_and_served_while_the_run_is_live(tmp_path: Path) -> None:
    example = LiveExample(tmp_path, "--speed", "4")
    try:
        url = example.url()
        assert "?run=eigenda-" in url
        status, page = get(url)
        assert status == 200 and b'<svg id="gantt"' in page
        (run,) = get_json(origin(url) + "/api/runs")
        assert run["status"] == "running" and url.endswith(f"?run={run['run_id']}")
        assert example.finish() == 0
    finally:
        example.kill()
    out = "".join(example.stdout)
    run_dir = example.run_dir
    # At the end: the command that reopens it (run from the directory the example ran in).
    err = "".join(example.stderr).splitlines()
    prefix = "spanline: run ended, dashboard stopped; reopen with: "
    assert err[-1].startswith(prefix)
    command = err[-1].removeprefix(prefix).split()
    assert command[1:] == ["serve", str(run_dir.relative_to(tmp_path))]
    assert Path(command[0]).name == "spanline"
    assert "serving:" not in out
    # That command, run as printed, serves the finished run.
    reopened = LiveExample(tmp_path, command=[*command, "--port", "0"])
    try:
        url = reopened.wait_for(r"dashboard at (http://\S+)", stream="stdout").group(1)
        assert url.endswith(f"?run={run_dir.name}")
        assert get_json(origin(url) + "/api/runs")[0]["status"] == "ok"
        reopened.process.send_signal(signal.SIGINT)
        reopened.finish(timeout=15)  # Ctrl-C ends it (its status is the CLI's business)
    finally:
        reopened.kill()


def test_no_dashboard_serves_nothing(tmp_path: Path) -> None:
    example = LiveExample(tmp_path, "--speed", "20", "--no-dashboard")
    try:
        assert example.finish() == 0
    finally:
        example.kill()
    assert not URL.search("".join(example.stderr))
    assert "reopen with" not in "".join(example.stdout) + "".join(example.stderr)
    assert (example.run_dir / "run_summary.json").is_file()  # SPANLINE_DIR applied


def test_serve_keeps_serving_until_ctrl_c(tmp_path: Path) -> None:
    example = LiveExample(tmp_path, "--speed", "20", "--serve")
    try:
        live_url = example.url()
        url = example.wait_for(r"^serving:\s+(http://\S+)", stream="stdout").group(1)
        assert url.split("?")[1] == live_url.split("?")[1]  # the same run
        status, _ = get(url)
        assert status == 200
        (run,) = get_json(origin(url) + "/api/runs")
        assert run["status"] == "ok" and run["has_summary"]
        summary = get_json(origin(url) + f"/api/runs/{run['run_id']}/summary")
        assert summary["totals"]["agents_spawned"] == 35
        assert example.process.poll() is None  # still serving after the run
        example.process.send_signal(signal.SIGINT)
        assert example.finish(timeout=15) == 0
    finally:
        example.kill()
    assert "Traceback" not in "".join(example.stderr)
