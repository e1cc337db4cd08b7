"""SIGTERM and SIGINT: spanline flushes, then the handler that was there before runs."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from tests._helpers import run_python

PROGRAM = """
import os, signal, sys, time
import spanline

setup = sys.argv[1] if len(sys.argv) > 1 else ""
{setup}
run = spanline.configure_observability(enabled=True, run_dir={base!r}, {options})
print(run.directory, flush=True)
with spanline.span("before-signal"):
    pass
with spanline.span("open-at-signal"):
    os.kill(os.getpid(), signal.{signal})
    time.sleep(2)
print("survived", flush=True)
"""


def _run(tmp_path: Path, *, setup: str = "", options: str = "", sig: str = "SIGTERM"):
    code = PROGRAM.format(setup=setup, base=str(tmp_path), options=options, signal=sig)
    result = run_python(code, timeout=60, interruptible=sig == "SIGINT")
    lines = result.stdout.split()
    run_dir = Path(lines[0]) if lines else None
    return result, run_dir


def _events(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "telemetry.jsonl").read_text().splitlines()]


def test_sigterm_with_the_default_action_finishes_the_run_then_dies_by_the_signal(
    tmp_path: Path,
) -> None:
    result, run_dir = _run(tmp_path)
    assert result.returncode == -signal.SIGTERM, result.stderr
    assert "survived" not in result.stdout
    events = _events(run_dir)
    names = [e["name"] for e in events if e["event"] == "span_start"]
    assert names == ["before-signal", "open-at-signal"]
    assert events[-1]["event"] == "process_end"
    assert (run_dir / "run_summary.json").is_file()


def test_the_previous_handler_runs_after_the_flush(tmp_path: Path) -> None:
    marker = tmp_path / "handled.json"
    setup = (
        "def previous(signum, frame):\n"
        "    import json, pathlib\n"
        "    lines = list(pathlib.Path(spanline.current_run().telemetry_path).open())\n"
        f"    pathlib.Path({str(marker)!r}).write_text(json.dumps(len(lines)))\n"
        "signal.signal(signal.SIGTERM, previous)"
    )
    result, _ = _run(tmp_path, setup=setup)
    assert result.returncode == 0, result.stderr
    assert "survived" in result.stdout  # the program's own handler decided to go on
    # When the previous handler ran, the flush had written the header and both starts.
    assert json.loads(marker.read_text()) >= 4


def test_an_ignored_signal_stays_ignored(tmp_path: Path) -> None:
    result, _ = _run(tmp_path, setup="signal.signal(signal.SIGTERM, signal.SIG_IGN)")
    assert result.returncode == 0, result.stderr
    assert "survived" in result.stdout


def test_sigint_still_raises_keyboard_interrupt(tmp_path: Path) -> None:
    result, run_dir = _run(tmp_path, sig="SIGINT")
    assert result.returncode == -signal.SIGINT  # how Python dies of an uncaught Ctrl-C
    assert "KeyboardInterrupt" in result.stderr
    assert (run_dir / "run_summary.json").is_file()  # atexit ran the shutdown


@pytest.mark.parametrize("how", ["argument", "variable"])
def test_handle_signals_off_installs_nothing(tmp_path: Path, how: str) -> None:
    options = "handle_signals=False" if how == "argument" else ""
    setup = "os.environ['SPANLINE_HANDLE_SIGNALS'] = '0'" if how == "variable" else ""
    setup += "\nbefore = signal.getsignal(signal.SIGTERM)"
    code = PROGRAM.format(setup=setup, base=str(tmp_path), options=options, signal="SIGUSR1")
    code = code.replace(
        'print("survived", flush=True)',
        'print("same" if signal.getsignal(signal.SIGTERM) is before else "replaced", flush=True)',
    ).replace("os.kill(os.getpid(), signal.SIGUSR1)", "pass")
    result = run_python(code, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == "same"


def test_handlers_are_restored_at_shutdown(tmp_path: Path) -> None:
    code = f"""
import signal, spanline
before = signal.getsignal(signal.SIGTERM)
spanline.configure_observability(enabled=True, run_dir={str(tmp_path)!r})
during = signal.getsignal(signal.SIGTERM)
spanline.shutdown()
print(during is not before, signal.getsignal(signal.SIGTERM) is before)
"""
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True"]
