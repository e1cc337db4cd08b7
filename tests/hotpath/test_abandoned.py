"""Every span ends: spans still open at shutdown get a span_end that says why.

Each case runs in a fresh interpreter, because what is tested is what happens
while that interpreter exits (atexit, a signal, sys.exit).
"""

from __future__ import annotations

import signal
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest

import spanline
from tests._helpers import run_python, spans, started_program, validate_file

HEADER = """
import asyncio, os, signal, sys, threading, time
import spanline
spanline.configure_observability(enabled=True, run_dir={base!r}, service_name="ab")
tracer = spanline.get_tracer()
"""


def _run(tmp_path: Path, body: str, **kwargs: Any) -> tuple[subprocess.CompletedProcess[str], Any]:
    code = HEADER.format(base=str(tmp_path)) + textwrap.dedent(body)
    result = run_python(code, timeout=60, **kwargs)
    return result, _events(tmp_path)


def _events(base: Path) -> list[dict[str, Any]]:
    (run_dir,) = [p for p in (base / "runs").iterdir() if not p.is_symlink()]
    return validate_file(run_dir / "telemetry.jsonl")


def _ends_by_name(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """name -> its span_end (every span must have exactly one)."""
    merged = spans(events)
    missing = [s["name"] for s in merged.values() if s["end"] is None]
    assert missing == [], f"spans without span_end: {missing}"
    return {s["name"]: s["end"] for s in merged.values()}


def _abandoned(end: dict[str, Any], reason: str) -> None:
    assert end["status"] == "error"
    assert end["error"] == {"type": "abandoned", "message": reason}


def test_a_span_never_ended_is_abandoned_at_process_exit(tmp_path: Path) -> None:
    result, events = _run(
        tmp_path,
        """
        span = tracer.start_span("forgotten")
        span.add(tokens=5)
        span.set_attribute("step", 2)
        with tracer.span("fine"):
            pass
        """,
    )
    assert result.returncode == 0, result.stderr
    ends = _ends_by_name(events)
    _abandoned(ends["forgotten"], "process exit")
    assert ends["forgotten"]["tokens"] == 5  # what was added so far is kept
    assert ends["forgotten"]["attributes"] == {"step": 2}
    assert ends["fine"]["status"] == "ok" and "error" not in ends["fine"]
    # The abandoned line comes before this process's trailer.
    kinds = [e["event"] for e in events]
    assert kinds[-1] == "process_end"


def test_a_span_open_in_a_daemon_thread_is_abandoned_as_thread_not_finished(
    tmp_path: Path,
) -> None:
    result, events = _run(
        tmp_path,
        """
        ready = threading.Event()
        def work():
            with tracer.span("in-daemon"):
                ready.set()
                time.sleep(60)
        threading.Thread(target=work, daemon=True).start()
        ready.wait()
        main_open = tracer.start_span("main-open")
        """,
    )
    assert result.returncode == 0, result.stderr
    ends = _ends_by_name(events)
    _abandoned(ends["in-daemon"], "thread not finished")
    _abandoned(ends["main-open"], "process exit")


def test_unexhausted_traced_generators_sync_and_async_are_abandoned(tmp_path: Path) -> None:
    result, events = _run(
        tmp_path,
        """
        @spanline.traced_tool
        def numbers():
            yield from range(10)

        @spanline.traced_tool
        async def letters():
            for letter in "abc":
                yield letter

        @spanline.traced_tool
        def consumed():
            yield 1

        KEEP = [numbers(), letters()]  # referenced until the interpreter exits
        assert next(KEEP[0]) == 0
        async def first():
            return await KEEP[1].__anext__()
        # A loop left open, as at a hard exit: asyncio.run() would close the generator.
        assert asyncio.new_event_loop().run_until_complete(first()) == "a"
        assert list(consumed()) == [1]
        """,
    )
    assert result.returncode == 0, result.stderr
    ends = _ends_by_name(events)
    _abandoned(ends["tool.numbers"], "generator not exhausted")
    _abandoned(ends["tool.letters"], "generator not exhausted")
    assert ends["tool.consumed"]["status"] == "ok"


@pytest.mark.parametrize(
    ("call", "code", "status"),
    [("sys.exit(0)", 0, "ok"), ("sys.exit()", 0, "ok"), ("sys.exit(1)", 1, "error")],
)
def test_sys_exit_inside_a_span(tmp_path: Path, call: str, code: int, status: str) -> None:
    result, events = _run(
        tmp_path,
        f"""
        @spanline.traced_tool
        def leave():
            {call}

        with tracer.span("outer"):
            leave()
        """,
    )
    assert result.returncode == code, result.stderr
    ends = _ends_by_name(events)
    for name in ("outer", "tool.leave"):
        assert ends[name]["status"] == status, ends[name]
    if status == "ok":
        assert "error" not in ends["outer"]
        assert ends["tool.leave"]["attributes"].get("tool.success") is not False
    else:
        assert ends["outer"]["error"]["type"] == "SystemExit"
        assert ends["outer"]["error"]["message"] == "1"


def test_system_exit_and_generator_exit_in_process(tmp_path: Path) -> None:
    spanline.configure_observability(enabled=True, run_dir=tmp_path, service_name="ab")
    tracer = spanline.get_tracer()
    try:
        for exc in (SystemExit(0), SystemExit(None), GeneratorExit(), SystemExit(2)):
            with pytest.raises(type(exc)), tracer.span(f"exit-{exc!r}"):
                raise exc
    finally:
        spanline.shutdown()
    ends = _ends_by_name(_events(tmp_path))
    assert ends["exit-SystemExit(0)"]["status"] == "ok"
    assert ends["exit-SystemExit(None)"]["status"] == "ok"
    assert ends["exit-GeneratorExit()"]["status"] == "ok"
    assert ends["exit-SystemExit(2)"]["status"] == "error"


def test_ending_a_span_after_shutdown_abandoned_it_is_quiet(tmp_path: Path) -> None:
    """The owner's own end, after shutdown() ended the span for it, neither raises
    nor writes a second span_end."""
    spanline.configure_observability(enabled=True, run_dir=tmp_path, service_name="ab")
    tracer = spanline.get_tracer()
    with tracer.span("around-shutdown") as span:
        spanline.shutdown()
        span.set_attribute("late", True)
    span.end()  # a second end stays quiet too: the span was abandoned, not ended twice
    ends = _ends_by_name(_events(tmp_path))
    _abandoned(ends["around-shutdown"], "process exit")
    assert "late" not in ends["around-shutdown"]["attributes"]
    ended = tracer.start_span("after")  # tracing is off: a no-op
    ended.end()


def test_a_span_ended_twice_is_still_misuse(tmp_path: Path) -> None:
    spanline.configure_observability(enabled=True, run_dir=tmp_path, service_name="ab")
    try:
        span = spanline.get_tracer().start_span("twice")
        span.end()
        with pytest.raises(ValueError, match="already ended"):
            span.end()
    finally:
        spanline.shutdown()


SIGTERM_PROGRAM = """
import os, sys, threading, time
import spanline

def work(n, opened):
    for i in range(n):
        with spanline.span(f"done-{i}"):
            pass
    spanline.get_tracer().start_span("open-in-thread")
    opened.set()
    time.sleep(60)

opened = [threading.Event() for _ in range(4)]
threads = [threading.Thread(target=work, args=(250, e), daemon=True) for e in opened]
for thread in threads:
    thread.start()
for each in opened:  # every thread has ended its spans and opened its last one
    each.wait()
with spanline.span("main-open"):
    print("ready", flush=True)
    time.sleep(60)
"""


@pytest.mark.parametrize("how", ["environment", "argument"])
def test_after_sigterm_all_1005_spans_reach_the_file_and_end(tmp_path: Path, how: str) -> None:
    """1,000 finished spans and 5 open ones (4 in threads, 1 in the main thread).

    With SPANLINE_ENABLED the first span may come from a worker thread, where
    signal handlers cannot be installed: they are installed at import instead.
    """
    code = SIGTERM_PROGRAM
    env = {"SPANLINE_ENABLED": "1", "SPANLINE_DIR": str(tmp_path)}
    if how == "argument":
        env = {}
        configure = f"spanline.configure_observability(enabled=True, run_dir={str(tmp_path)!r})"
        code = code.replace("import spanline\n", f"import spanline\n{configure}\n")
    with started_program(code, env) as (process, first):  # pipes closed whatever happens
        assert first == "ready"
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == -signal.SIGTERM, stderr
    events = _events(tmp_path)
    _ends_by_name(events)  # every span has its span_end
    opened = spans(events)
    assert len(opened) == 1005
    done = [s for s in opened.values() if s["name"].startswith("done-")]
    assert len(done) == 1000
    assert all(s["end"]["status"] == "ok" for s in done)
    abandoned = [s for s in opened.values() if s["end"]["status"] == "error"]
    assert sorted(s["name"] for s in abandoned) == ["main-open"] + ["open-in-thread"] * 4
    for span in abandoned:
        _abandoned(span["end"], "signal SIGTERM")
    assert events[-1]["event"] == "process_end"


def test_sigint_marks_the_spans_it_abandons(tmp_path: Path) -> None:
    result, events = _run(
        tmp_path,
        """
        ready = threading.Event()
        def work():
            with tracer.span("in-daemon"):
                ready.set()
                time.sleep(60)
        threading.Thread(target=work, daemon=True).start()
        ready.wait()
        with tracer.span("main"):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)
        """,
        interruptible=True,
    )
    assert result.returncode == -signal.SIGINT  # KeyboardInterrupt, uncaught
    ends = _ends_by_name(events)
    # The main thread's span is unwound by KeyboardInterrupt; the thread's is abandoned.
    assert ends["main"]["error"]["type"] == "KeyboardInterrupt"
    _abandoned(ends["in-daemon"], "signal SIGINT")


def test_a_handler_that_carries_on_leaves_no_signal_reason(tmp_path: Path) -> None:
    code = f"""
import os, signal, spanline
signal.signal(signal.SIGTERM, lambda signum, frame: None)  # the program carries on
spanline.configure_observability(enabled=True, run_dir={str(tmp_path)!r})
os.kill(os.getpid(), signal.SIGTERM)
spanline.get_tracer().start_span("left-open")
"""
    result = run_python(code, timeout=60)
    assert result.returncode == 0, result.stderr
    _abandoned(_ends_by_name(_events(tmp_path))["left-open"], "process exit")


def test_handlers_are_installed_from_the_main_thread_only(tmp_path: Path) -> None:
    code = f"""
import signal, threading, spanline
before = signal.getsignal(signal.SIGTERM)
def configure():
    spanline.configure_observability(enabled=True, run_dir={str(tmp_path)!r})
    with spanline.span("from-a-thread"):
        pass
thread = threading.Thread(target=configure)
thread.start()
thread.join()
print(signal.getsignal(signal.SIGTERM) is before)
"""
    result = run_python(code, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True"]
    _ends_by_name(_events(tmp_path))  # traced all the same


@pytest.mark.parametrize(
    ("setup", "env", "expected"),
    [
        ("", {"SPANLINE_ENABLED": "1"}, "ours"),
        ("signal.signal(signal.SIGTERM, signal.SIG_IGN)", {"SPANLINE_ENABLED": "1"}, "ignored"),
        ("", {"SPANLINE_ENABLED": "1", "SPANLINE_HANDLE_SIGNALS": "0"}, "default"),
        ("", {}, "default"),
    ],
)
def test_import_time_handlers_follow_the_same_rules(
    tmp_path: Path, setup: str, env: dict[str, str], expected: str
) -> None:
    code = f"""
import signal
{setup}
import spanline
handler = signal.getsignal(signal.SIGTERM)
print("ignored" if handler is signal.SIG_IGN else "default" if handler is signal.SIG_DFL
      else "ours")
"""
    result = run_python(code, env={**env, "SPANLINE_DIR": str(tmp_path)}, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [expected]


def test_opting_out_at_configure_removes_the_import_time_handlers(tmp_path: Path) -> None:
    code = f"""
import signal, spanline
installed = signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
spanline.configure_observability(enabled=True, run_dir={str(tmp_path)!r}, handle_signals=False)
print(installed, signal.getsignal(signal.SIGTERM) is signal.SIG_DFL)
"""
    result = run_python(code, env={"SPANLINE_ENABLED": "1"}, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True"]
