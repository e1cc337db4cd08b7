"""A fork waits for what spanline's own threads are in the middle of loading, so the
child never inherits a lock held by a thread it does not have."""

from __future__ import annotations

from pathlib import Path

from tests._helpers import read_lines, run_python

# Another thread of the program compiles redaction's rules (as the metadata thread, the
# writer or its helper do on first use, at the start of a run), slowed down so that a
# multiprocessing child is forked meanwhile. The child traces a few spans and exits;
# its exit reports through redaction. The child's own watchdog tells a hang apart from
# a slow machine: it gives a stuck redaction a whole minute.
FORK_DURING_COMPILE = """
import multiprocessing, os, re, sys, threading, time

import spanline
from spanline._capture import _redact

compiling = threading.Event()

class SlowRe:
    def __getattr__(self, name):
        return getattr(re, name)

    def compile(self, *args, **kwargs):
        if not compiling.is_set():
            compiling.set()
            time.sleep(3.0)  # the rules' compiling, slowed down: its locks held meanwhile
        return re.compile(*args, **kwargs)

def child():
    watchdog = threading.Timer(60.0, lambda: os._exit(3))  # a hang, not a slow machine
    watchdog.daemon = True
    watchdog.start()
    for i in range(5):
        with spanline.span(f"child-{i}"):
            pass
    spanline.shutdown()
    watchdog.cancel()

run = spanline.configure_observability(enabled=True, service_name="fork", run_dir=".")
_redact._compile()  # whatever the run's own threads compiled is done
_redact._READY, _redact.re = False, SlowRe()  # compiled again, slowly, on this thread
threading.Thread(target=_redact._compile, daemon=True).start()
compiling.wait()
process = multiprocessing.get_context("fork").Process(target=child)
process.start()
process.join(120)
print(process.exitcode)
spanline.shutdown()
print(run.telemetry_path)
"""


def test_a_fork_waits_for_redaction_rules_being_compiled(tmp_path: Path) -> None:
    """Forked while another thread compiles redaction's rules, the child still redacts
    (its spans are written, its exit does not hang on the inherited lock)."""
    result = run_python(FORK_DURING_COMPILE, cwd=tmp_path, timeout=240)
    assert result.returncode == 0, result.stderr
    exit_code, telemetry = result.stdout.split()
    assert exit_code == "0", result.stderr
    lines = read_lines(Path(telemetry))
    names = [e["name"] for e in lines if e["event"] == "span_start"]
    assert names == [f"child-{i}" for i in range(5)]
    assert len([e for e in lines if e["event"] == "process_end"]) == 2
