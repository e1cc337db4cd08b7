"""The run list and a run's snapshot agree on whether a run still runs: both ask the run store."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import orjson


def _write_run(base: Path, run_id: str, header: dict[str, object]) -> None:
    """A run whose process started, opened a span and wrote no process_end."""
    directory = base / "runs" / run_id
    directory.mkdir(parents=True)
    lines = [
        {"event": "run_start", "run_id": run_id, "ts": time.time(), **header},
        {"event": "span_start", "span_id": "a1", "parent": None, "trace_id": "t" * 32,
         "name": "lead", "component": None, "kind": "agent", "ts": time.time(), "attributes": {}},
    ]  # fmt: skip
    directory.joinpath("telemetry.jsonl").write_bytes(
        b"".join(orjson.dumps(x) + b"\n" for x in lines)
    )


def test_a_live_pid_on_another_host_is_not_running_in_the_list_or_the_snapshot(
    base: Path, client: httpx.Client
) -> None:
    # The pid is this test's own, alive here; the header names another machine, so
    # from here nobody can tell whether the run's process still runs.
    _write_run(base, "elsewhere-1", {"pid": os.getpid(), "host": "another-machine"})
    (row,) = client.get("/api/runs").json()
    snapshot = client.get("/api/runs/elsewhere-1/snapshot").json()
    assert snapshot["live"] is False
    assert row["status"] == "incomplete"


def test_a_live_pid_on_this_host_is_running_in_the_list_and_the_snapshot(
    base: Path, client: httpx.Client
) -> None:
    import socket

    _write_run(base, "here-1", {"pid": os.getpid(), "host": socket.gethostname()})
    (row,) = client.get("/api/runs").json()
    snapshot = client.get("/api/runs/here-1/snapshot").json()
    assert snapshot["live"] is True
    assert row["status"] == "running"
