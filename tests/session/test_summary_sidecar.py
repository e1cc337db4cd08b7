"""The live summary folded by a helper process: the traced program never folds its log,
a run killed with SIGKILL still gets its summary, a run that dropped events says so."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import orjson

import spanline
from tests._helpers import run_interpreter, traced_program

#: The helper takes every log, however small (a log under 4 MiB is folded in the host).
_HELPER_ALWAYS = "import spanline._session._sidecar as sidecar; sidecar.SMALL_LOG_BYTES = 0\n"


def _refold(directory: Path) -> dict:
    return spanline.summarize_file(directory / "telemetry.jsonl", report_problems=False).to_dict()


def _wait_for_summary_of_whole_log(directory: Path) -> dict:
    """run_summary.json once it covers every byte of the log (polled, bounded)."""
    log, path = directory / "telemetry.jsonl", directory / "run_summary.json"
    deadline = time.monotonic() + 120  # a bound for a loaded machine, not a measurement
    while time.monotonic() < deadline:
        if path.is_file():
            summary = orjson.loads(path.read_bytes())
            if summary.get("log_offset") == log.stat().st_size:
                return summary
        time.sleep(0.05)
    raise AssertionError("no run_summary.json covering the whole log")


def test_a_burst_is_folded_by_the_helper_and_its_summary_equals_a_refold(
    tmp_path: Path,
) -> None:
    code = (
        _HELPER_ALWAYS
        + f"""
import spanline
from spanline._session import _configure
run = spanline.configure_observability(enabled=True, run_dir={str(tmp_path)!r},
                                       summary_interval_ms=50)
tracer = spanline.get_tracer()
for agent in range(20):
    with tracer.span(f"agent-{{agent}}", kind="agent"):
        for number in range(200):
            with tracer.span("tool.read", kind="tool") as span:
                span.add(tokens=3)
assert spanline.flush(timeout=120)
print("helper up:", _configure._session.live._ready.wait(120))
summary = spanline.shutdown()
print(run.directory)
print(summary.span_count, summary.status)
"""
    )
    result = run_interpreter("-c", code, timeout=300)
    assert result.returncode == 0, result.stderr
    loaded, directory, counts = result.stdout.splitlines()
    assert loaded == "helper up: True"
    assert counts == "4020 ok"
    stored = orjson.loads((Path(directory) / "run_summary.json").read_bytes())
    assert stored["log_offset"] == (Path(directory) / "telemetry.jsonl").stat().st_size
    assert stored == _refold(Path(directory))


def test_a_run_killed_with_sigkill_still_gets_a_summary_of_its_whole_log(tmp_path: Path) -> None:
    """Written by the helper once the program's end of the pipe closes (no summary is
    written while the run lives: the interval is 0)."""
    code = (
        _HELPER_ALWAYS
        + f"""
import time
import spanline
from spanline._session import _configure
run = spanline.configure_observability(enabled=True, run_dir={str(tmp_path)!r},
                                       summary_interval_ms=0)
print(run.directory, flush=True)
tracer = spanline.get_tracer()
with tracer.span("root", kind="agent"):
    for number in range(3000):
        with tracer.span("tool.read", kind="tool"):
            pass
    assert spanline.flush(timeout=120)
    assert _configure._session.live._ready.wait(120)  # the helper is up
    print("flushed", flush=True)
    time.sleep(600)
"""
    )
    with traced_program(code) as (process, directory):
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "flushed"
        assert not (directory / "run_summary.json").exists()
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    summary = _wait_for_summary_of_whole_log(directory)
    assert summary["status"] == "incomplete"  # no process_end: no summary can be final
    assert summary["span_count"] == 3001 and summary["open_spans"] == 1
    assert summary == _refold(directory)


def test_a_run_that_dropped_events_gets_a_summary_counting_them(tmp_path: Path) -> None:
    code = (
        _HELPER_ALWAYS
        + f"""
import spanline
from spanline._session import _configure
run = spanline.configure_observability(enabled=True, run_dir={str(tmp_path)!r},
                                       max_queue=500, summary_interval_ms=50)
tracer = spanline.get_tracer()
for number in range(20000):
    with tracer.span("tool.read", kind="tool"):
        pass
assert _configure._session.live._ready.wait(120)  # the helper folds this run
summary = spanline.shutdown()
print(run.directory)
print(summary.dropped_events)
"""
    )
    result = run_interpreter("-c", code, timeout=300)
    assert result.returncode == 0, result.stderr
    directory, dropped = result.stdout.splitlines()[:2]
    stored = orjson.loads((Path(directory) / "run_summary.json").read_bytes())
    assert int(dropped) > 0 and stored["dropped_events"] == int(dropped)
    assert stored == _refold(Path(directory))


def test_a_short_program_starts_no_helper(tmp_path: Path) -> None:
    """Ended before the helper was due: no second interpreter, the summary folded here."""
    code = f"""
import spanline
import spanline._session._sidecar as sidecar
from spanline._session import _configure
sidecar.SPAWN_AFTER_S = 3600.0  # however slow the machine, the program ends first
run = spanline.configure_observability(enabled=True, run_dir={str(tmp_path)!r})
with spanline.span("quick"):
    pass
live = _configure._session.live
summary = spanline.shutdown()
print(run.directory)
print(live._starter is not None, live._process is None, summary.span_count)
"""
    result = run_interpreter("-c", code, timeout=120)
    assert result.returncode == 0, result.stderr
    directory, facts = result.stdout.splitlines()
    assert facts == "True True 1"
    assert orjson.loads((Path(directory) / "run_summary.json").read_bytes()) == _refold(
        Path(directory)
    )


def test_a_run_of_four_processes_gets_a_summary_equal_to_a_refold(tmp_path: Path) -> None:
    """Three children join the run while the helper follows the one log they share."""
    child = (
        "import spanline\n"
        "tracer = spanline.get_tracer()\n"
        "for number in range(500):\n"
        "    with tracer.span('tool.read', kind='tool'):\n"
        "        pass\n"
    )
    code = (
        _HELPER_ALWAYS
        + f"""
import subprocess, sys
import spanline
from spanline._session import _configure
run = spanline.configure_observability(enabled=True, run_dir={str(tmp_path)!r},
                                       summary_interval_ms=50)
assert _configure._session.live._ready.wait(120)  # the helper follows this run
with spanline.span("parent", kind="agent"):
    children = [subprocess.Popen([sys.executable, "-c", {child!r}], env=spanline.child_env())
                for _ in range(3)]
    for number in range(500):
        with spanline.span("tool.read", kind="tool"):
            pass
    assert [c.wait() for c in children] == [0, 0, 0]
summary = spanline.shutdown()
print(run.directory)
print(summary.processes, summary.span_count, summary.status)
"""
    )
    result = run_interpreter("-c", code, timeout=300)
    assert result.returncode == 0, result.stderr
    directory, facts = result.stdout.splitlines()
    assert facts == "4 2001 ok"
    stored = orjson.loads((Path(directory) / "run_summary.json").read_bytes())
    assert stored["log_offset"] == (Path(directory) / "telemetry.jsonl").stat().st_size
    assert stored == _refold(Path(directory))


#: Loaded by every interpreter of the test through PYTHONPATH; in the summary's helper
#: only, its last pass waits until the program has created the file HELPER_GO: a helper
#: still busy when asked, and the program's shutdown over before it goes on.
_SLOW_HELPER = """
import os, sys
if "spanline._session._sidecar" in sys.orig_argv:
    import time
    from spanline._session._live_summary import LiveSummary
    finish = LiveSummary.finish
    def slow_finish(self, *args, **kwargs):
        deadline = time.monotonic() + 120
        while not os.path.exists(os.environ["HELPER_GO"]) and time.monotonic() < deadline:
            time.sleep(0.01)
        return finish(self, *args, **kwargs)
    LiveSummary.finish = slow_finish
"""


def _never_waited(run_dir: Path) -> str:
    """A program's start: the helper takes its log, is never waited for at shutdown, and
    is up once the program's spans are flushed (code before ``shutdown()``)."""
    return (
        _HELPER_ALWAYS
        + "sidecar.EXIT_FOLD_BYTES = -1; sidecar.LARGE_LOG_BYTES = 0\n"
        + f"""
import spanline
from spanline._session import _configure, _live_summary
run = spanline.configure_observability(enabled=True, run_dir={str(run_dir)!r},
                                       summary_interval_ms=0)
tracer = spanline.get_tracer()
for agent in range(20):
    with tracer.span(f"agent-{{agent}}", kind="agent"):
        for number in range(200):
            with tracer.span("tool.read", kind="tool"):
                pass
assert spanline.flush(timeout=120)
assert _configure._session.live._ready.wait(120)  # the helper is up
"""
    )


def test_a_program_far_ahead_of_its_helper_ends_at_once_and_the_helper_finishes(
    tmp_path: Path,
) -> None:
    """Too much of a large log left to fold at shutdown (here: any at all of any log):
    the program does not wait; the helper writes the final summary after it has gone."""
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(_SLOW_HELPER)
    code = _never_waited(tmp_path) + (
        f"""
print(run.directory)
print(spanline.shutdown())
print((run.directory / "run_summary.json").exists())  # not yet: the helper waits
open({str(tmp_path / "go")!r}, "w").close()
"""
    )
    env = {"PYTHONPATH": str(tmp_path / "site"), "HELPER_GO": str(tmp_path / "go")}
    result = run_interpreter("-c", code, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    directory, returned, written = result.stdout.splitlines()
    assert (returned, written) == ("None", "False")  # no summary to return: not waited for
    assert "being finished by its helper process" in (Path(directory) / "spanline.log").read_text()
    summary = _wait_for_summary_of_whole_log(Path(directory))
    assert summary["status"] == "ok" and summary["span_count"] == 4020
    assert summary == _refold(Path(directory))


def test_a_helper_that_finished_before_it_was_looked_at_is_not_folded_again(
    tmp_path: Path,
) -> None:
    """Not waited for, but done by the time the program looks: its summary is returned,
    the log is not folded a second time in the program."""
    code = _never_waited(tmp_path) + (
        """
behind, helper = sidecar._behind, _configure._session.live._process
def behind_then_wait(answer):  # the program is descheduled until the helper has ended
    helper.wait(120)
    return behind(answer)
sidecar._behind = behind_then_wait
def no_fold_here(*args, **kwargs):
    raise AssertionError("the log was folded again in the program")
_live_summary.LiveSummary.finish = no_fold_here
summary = spanline.shutdown()
print(summary.span_count, summary.status)
"""
    )
    result = run_interpreter("-c", code, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["4020", "ok"]
    assert "folded again" not in result.stderr
