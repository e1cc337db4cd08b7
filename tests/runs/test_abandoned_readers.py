"""Readers (``summary``, ``show``) call a span with a start and no end "in flight"
while the run's process lives, and "abandoned" once it is gone."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from spanline._runs._liveness import run_is_live, writers_alive
from spanline._runs._store import Run, this_host
from tests._helpers import run_cli, traced_program

LIVE_PROGRAM = """
import sys, time
import spanline

spanline.configure_observability(enabled=True, run_dir={base!r}, service_name="live")
with spanline.span("finished"):
    pass
spanline.get_tracer().start_span("crawl-docs")
spanline.flush()
print(spanline.current_run().directory, flush=True)
time.sleep(60)
"""


def _summary_text(run_dir: Path) -> str:
    result = run_cli("summary", str(run_dir))
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_summary_says_in_flight_while_the_process_lives_and_abandoned_after_kill_9(
    tmp_path: Path,
) -> None:
    with traced_program(LIVE_PROGRAM.format(base=str(tmp_path))) as (process, run_dir):
        run = Run(run_dir.name, run_dir)
        assert run_is_live(run)
        live = _summary_text(run_dir)
        assert "in flight: crawl-docs" in live
        assert "abandoned" not in live
        tree = run_cli("show", str(run_dir))
        assert tree.returncode == 0, tree.stderr
        assert "crawl-docs - in flight" in tree.stdout
        as_json = json.loads(run_cli("summary", str(run_dir), "--json").stdout)
        assert [s["name"] for s in as_json["open_span_list"]] == ["crawl-docs"]
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    assert not run_is_live(run)
    dead = _summary_text(run_dir)
    assert "abandoned: crawl-docs" in dead
    assert "in flight" not in dead
    tree = run_cli("show", str(run_dir))
    assert tree.returncode == 0, tree.stderr
    assert "crawl-docs - abandoned" in tree.stdout


def _write_run(tmp_path: Path, lines: list[dict[str, object]]) -> Run:
    run_dir = tmp_path / "runs" / "r-1"
    run_dir.mkdir(parents=True)
    data = b"".join(orjson.dumps(line) + b"\n" for line in lines)
    (run_dir / "telemetry.jsonl").write_bytes(data)
    return Run("r-1", run_dir)


def test_liveness_is_checked_by_pid_on_this_host_only(tmp_path: Path) -> None:
    import os

    me = os.getpid()  # surely alive
    start = {"event": "run_start", "pid": me, "ts": time.time(), "run_id": "r-1"}
    assert run_is_live(_write_run(tmp_path / "a", [{**start, "host": this_host()}]))
    # The same pid on another machine says nothing about this one.
    assert not run_is_live(_write_run(tmp_path / "b", [{**start, "host": "elsewhere"}]))
    # Without a host (deterministic runs record pid 1) nothing can be checked.
    assert not run_is_live(_write_run(tmp_path / "c", [{**start, "pid": 1}]))
    # A process that wrote its process_end is finished, whatever its pid does now.
    ended = [{**start, "host": this_host()}, {"event": "process_end", "pid": me, "ts": 2.0}]
    assert not run_is_live(_write_run(tmp_path / "d", ended))
    # A torn or odd line is skipped, never an error.
    odd = tmp_path / "e"
    run = _write_run(odd, [{"event": "process_start", "pid": [1], "host": this_host()}])
    with run.telemetry_path.open("ab") as handle:
        handle.write(b'{"event":"process_end","pid":')
    assert not run_is_live(run)


def test_a_pid_taken_by_a_newer_process_is_not_the_run_still_running(tmp_path: Path) -> None:
    """A run's process died and its pid now belongs to a process that started after
    the run's header (a restarted container reuses small pids): the run is not live,
    so its open spans are abandoned, not in flight."""
    if not Path("/proc/self/stat").is_file():
        pytest.skip("process start times are read from /proc (Linux)")
    newer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        header = {"event": "process_start", "pid": newer.pid, "host": this_host()}
        open_span = {
            "event": "span_start", "span_id": "a" * 16, "parent": None, "trace_id": "0" * 32,
            "name": "crawl-docs", "component": None, "kind": "agent", "ts": 5.0,
            "attributes": {},
        }  # fmt: skip
        # Written an hour before that process started: its pid was reused since.
        hour_ago = time.time() - 3600
        before = _write_run(tmp_path / "old", [{**header, "ts": hour_ago}, open_span])
        os.utime(before.telemetry_path, (hour_ago, hour_ago))  # its last write, too
        assert not run_is_live(before)
        assert "abandoned" in _summary_text(before.directory)
        # Written by that very process (after it started): it runs.
        after = _write_run(tmp_path / "new", [{**header, "ts": time.time()}, open_span])
        assert run_is_live(after)
        assert "in flight" in _summary_text(after.directory)
    finally:
        newer.kill()
        newer.wait()
    assert not run_is_live(after)  # and once it is gone, it is gone


CLOCK_BEHIND_PROGRAM = """
import time
real = time.time
time.time = lambda: real() - 30  # the writer's clock, behind the kernel's
import spanline

spanline.configure_observability(enabled=True, run_dir={base!r}, summary_interval_ms=0)
with spanline.span("work", kind="agent"):
    spanline.flush()  # the header is in the file (the writer thread writes it) before
    print(spanline.current_run().directory, flush=True)  # the test looks for it
    time.sleep(60)
"""


def test_a_writer_whose_clock_is_behind_still_runs(tmp_path: Path) -> None:
    """The header's time is the writer's clock (stepped, or patched in tests); the file's
    last write is the kernel's. A live writer is never taken for a reused pid."""
    with traced_program(CLOCK_BEHIND_PROGRAM.format(base=str(tmp_path))) as (process, run_dir):
        run = Run(run_dir.name, run_dir)
        assert process.poll() is None and run_is_live(run)
    assert not run_is_live(run)


def test_impossible_pids_and_times_in_a_header_are_not_errors(tmp_path: Path) -> None:
    me = os.getpid()
    for pid in (2**40, 2**63 - 1, 2**63, 2**64 - 1):
        header = {"event": "process_start", "pid": pid, "host": this_host(), "ts": time.time()}
        run = _write_run(tmp_path / str(pid), [header])
        assert not run_is_live(run)  # os.kill refuses such a pid (OverflowError)
        assert "run" in _summary_text(run.directory).lower()
    here = this_host()
    for ts in (10**400, -(10**400), float("nan"), float("inf"), True, "soon", None):
        assert writers_alive({me: (here, ts)}) in (True, False)
    assert writers_alive({me: (here, time.time())}, tmp_path / "missing.jsonl")
