"""SIGTERM and SIGINT: spanline flushes, then the handler that was there before runs."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from tests._helpers import run_python, spans, started_program

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


FORK_PROGRAM = """
import os, signal
import spanline

run = spanline.configure_observability(enabled=True, run_dir={base!r})
print(run.directory, flush=True)
outcomes = []
for _ in range({children}):
    told_r, told_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # waits, as a pool worker waits for its next task
        os.read(told_r, 1)  # returns once the SIGTERM was sent: the child kept on living
        os._exit(3)
    os.kill(pid, signal.SIGTERM)  # as Pool.terminate() does, maybe before the child ran
    os.write(told_w, b"x")
    _, status = os.waitpid(pid, 0)
    os.close(told_r)
    os.close(told_w)
    outcomes.append(os.WTERMSIG(status) if os.WIFSIGNALED(status) else -os.WEXITSTATUS(status))
print(*outcomes, flush=True)
spanline.shutdown()
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork")
def test_a_sigterm_sent_as_a_fork_child_starts_ends_it(tmp_path: Path) -> None:
    """Python forgets a signal that lands in a child before its interpreter has
    re-initialised after the fork; with spanline's handler standing in for the
    default action, a pool worker terminated that early slept in the pool's lock for
    ever. Most of these children are signalled before they run at all."""
    code = FORK_PROGRAM.format(base=str(tmp_path), children=12)
    result = run_python(code, timeout=120)
    assert result.returncode == 0, result.stderr
    directory, *outcomes = result.stdout.split()
    assert outcomes == [str(int(signal.SIGTERM))] * 12
    ends = [e for e in _events(Path(directory)) if e["event"] == "process_end"]
    assert len(ends) == 13  # every child finished its part of the run, then the parent


SETUP_PROGRAM = """
import os, signal
import spanline

def first_step_in_the_child():  # registered first: runs before spanline's own steps
    os.kill(os.getpid(), signal.SIGTERM)
    os.write(1, b"the-child-went-on-with-its-set-up\\n")

os.register_at_fork(after_in_child=first_step_in_the_child)
run = spanline.configure_observability(enabled=True, run_dir={base!r})
print(run.directory, flush=True)
pid = os.fork()
if pid == 0:
    with spanline.span("in-the-child"):
        pass
    os._exit(3)
_, status = os.waitpid(pid, 0)
print(os.WTERMSIG(status) if os.WIFSIGNALED(status) else -os.WEXITSTATUS(status), flush=True)
print(pid)
spanline.shutdown()
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork")
def test_a_sigterm_during_a_fork_childs_set_up_waits_for_the_set_up(tmp_path: Path) -> None:
    """Until spanline has set the child up (its own writer, its own file), the child
    holds the parent's: the signal is taken once the set-up is done, and the child
    then finishes its own part of the run."""
    result = run_python(SETUP_PROGRAM.format(base=str(tmp_path)), timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split()
    assert "the-child-went-on-with-its-set-up" in lines
    directory, _, outcome, child = lines
    assert outcome == str(int(signal.SIGTERM))
    events = _events(Path(directory))
    assert [e["event"] for e in events if e.get("pid") == int(child)] == [
        "process_start",
        "process_end",
    ]
    assert not [e for e in events if e["event"] == "span_start"]  # it ended there


LOST_PROGRAM = """
import sys, threading, time
import spanline
{configure}
sleeping = threading.Event()

def work():
    with spanline.span("in-thread"):  # with SPANLINE_ENABLED: tracing starts here
        sleeping.set()
        time.sleep(600)

thread = threading.Thread(target=work, daemon=True)
thread.start()
sleeping.wait()
with spanline.span("in-main"):
    print(thread.native_id, flush=True)
    time.sleep(600)  # only a signal handled by spanline ends it before the test gives up
"""


@pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="pthread_kill")
@pytest.mark.parametrize("how", ["environment", "argument"])
def test_a_sigterm_taken_by_another_thread_still_ends_the_process(tmp_path: Path, how: str) -> None:
    """The kernel hands a process's SIGTERM to any thread that does not block it: on
    Linux, ``kill()`` given a thread's id hands it to that thread. Python notes it
    there but runs the handler on the main thread, which sleeps on unaware (as it
    does when the signal lands just before it goes to sleep): spanline wakes it."""
    if how == "environment":
        env, configure = {"SPANLINE_ENABLED": "1", "SPANLINE_DIR": str(tmp_path)}, ""
    else:
        env = {}
        configure = f"spanline.configure_observability(enabled=True, run_dir={str(tmp_path)!r})"
    with started_program(LOST_PROGRAM.format(configure=configure), env) as (process, first):
        os.kill(int(first), signal.SIGTERM)  # process-directed, taken by that thread
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == -signal.SIGTERM, stderr
    (run_dir,) = [p for p in (tmp_path / "runs").iterdir() if not p.is_symlink()]
    events = _events(run_dir)
    ends = {s["name"]: s["end"] for s in spans(events).values()}
    assert sorted(ends) == ["in-main", "in-thread"]
    for end in ends.values():
        assert end["error"] == {"type": "abandoned", "message": "signal SIGTERM"}
    assert events[-1]["event"] == "process_end"
