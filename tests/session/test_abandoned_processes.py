"""Processes that end abruptly: a Pool's SIGTERM to finishing workers, kill -9."""

from __future__ import annotations

import json
import os
import signal
import time
from collections import Counter
from pathlib import Path

import pytest

from tests._helpers import read_lines, run_python, spans, traced_program

POOL_PROGRAM = """
import multiprocessing as mp, sys
import spanline

def task(i):
    with spanline.span(f"task-{{i}}"):
        for _ in range(50):
            with spanline.span("inner"):
                pass
    return i

if __name__ == "__main__":
    mp.set_start_method("fork")
    run = spanline.configure_observability(enabled=True, run_dir={base!r})
    with spanline.span("root"):
        with mp.Pool(4) as pool:  # __exit__ terminates the workers: SIGTERM
            print(sum(pool.map(task, range(40))), flush=True)
    spanline.shutdown()
    print(run.directory)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork start method")
@pytest.mark.parametrize("attempt", range(5))  # both races show up in some runs only
def test_pool_context_manager_loses_no_event_of_its_fork_workers(
    tmp_path: Path, attempt: int
) -> None:
    """Workers already shutting down when the SIGTERM comes finish first; a worker
    asleep in the pool's lock is woken by it (it used to hang in 1 run of 15)."""
    result = run_python(POOL_PROGRAM.format(base=str(tmp_path)), timeout=60)
    assert result.returncode == 0, result.stderr
    total, directory = result.stdout.split()
    assert int(total) == sum(range(40))
    events = read_lines(Path(directory) / "telemetry.jsonl")
    merged = spans(events)
    assert len(merged) == 1 + 40 * 51
    assert all(s["end"] is not None and s["end"]["status"] == "ok" for s in merged.values())
    kinds = Counter(e["event"] for e in events)
    assert kinds["process_start"] == 4  # the workers; the parent wrote run_start
    assert kinds["process_end"] == 5  # every worker, and the parent
    started = {e["pid"] for e in events if e["event"] in ("run_start", "process_start")}
    assert {e["pid"] for e in events if e["event"] == "process_end"} == started


KILLED_PROGRAM = """
import sys, time
import spanline

spanline.configure_observability(
    enabled=True, run_dir={base!r}, summary_interval_ms=100, flush_ms=50
)
for i in range(200):
    with spanline.span(f"done-{{i}}", kind="agent"):
        pass
spanline.get_tracer().start_span("still-running")
print(spanline.current_run().directory, flush=True)
time.sleep(60)
"""


EARLY_KILLED_PROGRAM = """
import time
import spanline

spanline.configure_observability(enabled=True, run_dir={base!r}, summary_interval_ms=3_600_000)
with spanline.span("setup", kind="agent"):
    pass
spanline.flush()  # the span is in the file before the first summary pass can look
print(spanline.current_run().directory, flush=True)
time.sleep(120)
"""


def test_a_run_killed_before_its_first_interval_still_has_a_summary(tmp_path: Path) -> None:
    """With an hour between rewrites, the first pass still comes early (after a second):
    a run killed in its first minutes is not left without run_summary.json."""
    with traced_program(EARLY_KILLED_PROGRAM.format(base=str(tmp_path))) as (process, run_dir):
        summary_path = run_dir / "run_summary.json"
        deadline = time.monotonic() + 60  # a bound for a loaded machine, not a measurement
        while not summary_path.is_file() and time.monotonic() < deadline:
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    summary = json.loads(summary_path.read_text())
    assert summary["span_count"] == 1 and summary["status"] == "incomplete"
    assert [agent["name"] for agent in summary["agents"]] == ["setup"]


def test_a_killed_run_keeps_its_last_periodic_summary(tmp_path: Path) -> None:
    """kill -9 runs no handler and no atexit: the summary on disk is the last one the
    live summary thread wrote."""
    with traced_program(KILLED_PROGRAM.format(base=str(tmp_path))) as (process, run_dir):
        summary_path = run_dir / "run_summary.json"
        deadline = time.monotonic() + 30
        summary = None
        while time.monotonic() < deadline:  # until a periodic pass has seen every span
            if summary_path.is_file():
                try:
                    summary = json.loads(summary_path.read_text())
                except ValueError:
                    summary = None  # never torn (written atomically), but be sure
                if summary and summary["span_count"] == 201:
                    break
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    assert summary is not None and summary["span_count"] == 201
    after = json.loads(summary_path.read_text())
    assert after == summary  # nothing rewrote it after the kill
    assert after["status"] == "incomplete"  # no process_end
    assert after["open_spans"] == 1
    assert [s["name"] for s in after["open_span_list"]] == ["still-running"]
    assert not list(run_dir.glob("*.tmp*"))
