"""Several processes (fork and spawn) append to one telemetry.jsonl without torn lines."""

from __future__ import annotations

import multiprocessing
import os
from collections import Counter
from pathlib import Path

import orjson

import spanline
from tests._workers import SPANS_PER_PROCESS, emit_spans


def test_fork_and_spawn_children_share_the_file(traced: spanline.Run) -> None:
    tracer = spanline.get_tracer()
    with tracer.span("parent", kind="run") as parent:
        procs = []
        for method, labels in (("fork", ("f1", "f2")), ("spawn", ("s1", "s2"))):
            context = multiprocessing.get_context(method)
            procs += [context.Process(target=emit_spans, args=(label,)) for label in labels]
        for proc in procs:
            proc.start()
        # The parent keeps writing while the children do.
        for _ in range(SPANS_PER_PROCESS):
            with tracer.span("work", component="parent"):
                pass
        for proc in procs:
            proc.join(60)
            assert proc.exitcode == 0
    summary = spanline.shutdown()

    raw = traced.telemetry_path.read_bytes()
    assert raw.endswith(b"\n")
    lines = [orjson.loads(line) for line in raw.splitlines()]  # every line parses
    starts = [e for e in lines if e["event"] == "span_start"]
    ends = [e for e in lines if e["event"] == "span_end"]
    per_component = Counter(e["component"] for e in starts if e["name"] == "work")
    expected = SPANS_PER_PROCESS - 1
    assert per_component == {
        "parent": SPANS_PER_PROCESS,
        "f1": expected,
        "f2": expected,
        "s1": expected,
        "s2": expected,
    }
    assert len(starts) == len(ends) == 1 + SPANS_PER_PROCESS + 4 * SPANS_PER_PROCESS
    assert len({e["span_id"] for e in starts}) == len(starts)
    # Forked children inherit the current span; spawned ones start as roots of the same run.
    roots = {e["name"]: e for e in starts if e["name"].startswith("proc-")}
    assert roots["proc-f1"]["parent"] == parent.span_id
    assert roots["proc-f2"]["parent"] == parent.span_id
    assert roots["proc-s1"]["parent"] is None
    assert {e["trace_id"] for e in starts} == {parent_trace(lines)}
    pids = {e["pid"] for e in lines if e["event"] == "process_end"}
    assert len(pids) == 5 and os.getpid() in pids
    assert sum(1 for e in lines if e["event"] == "run_start") == 1
    assert summary is not None and summary.processes == 5 and summary.dropped_events == 0
    assert summary.status == "ok"
    assert summary.totals.agents_spawned == 4  # proc-f1, proc-f2, proc-s1, proc-s2
    assert_summary_is_a_refold(traced)


def assert_summary_is_a_refold(run: spanline.Run) -> None:
    """run_summary.json, folded while the run was live, equals a re-fold of its file."""
    written = run.summary_path.read_bytes()
    refold = spanline.summarize_file(run.telemetry_path).to_dict()
    assert written == orjson.dumps(refold, option=orjson.OPT_INDENT_2) + b"\n"


def test_live_summary_of_four_processes_equals_a_refold(tmp_path) -> None:
    """Rewritten every 50 ms while 2 forked and 2 spawned children write into the run."""
    run = spanline.configure_observability(
        enabled=True, run_dir=tmp_path, service_name="live", summary_interval_ms=50
    )
    assert run is not None
    tracer = spanline.get_tracer()
    with tracer.span("parent", kind="agent"):
        procs = []
        for method, labels in (("fork", ("f1", "f2")), ("spawn", ("s1", "s2"))):
            context = multiprocessing.get_context(method)
            procs += [context.Process(target=emit_spans, args=(label,)) for label in labels]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join(60)
            assert proc.exitcode == 0
        assert spanline.flush(timeout=30)
        live = wait_for_summary(run, processes=5)
        assert live["status"] == "incomplete"  # the parent has not ended yet
    summary = spanline.shutdown()
    assert summary is not None and summary.status == "ok" and summary.processes == 5
    assert summary.span_count == 1 + 4 * SPANS_PER_PROCESS
    assert_summary_is_a_refold(run)


def wait_for_summary(run: spanline.Run, processes: int) -> dict:
    """The live run_summary.json once it counts ``processes`` (polled, bounded)."""
    import time

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if run.summary_path.exists():
            live = orjson.loads(run.summary_path.read_bytes())
            if live["processes"] == processes:
                return live
        time.sleep(0.05)
    raise AssertionError("the live summary never caught up")


def parent_trace(lines: list[dict]) -> str:
    return next(e["trace_id"] for e in lines if e["event"] == "run_start")


def test_child_env_hands_the_current_span_to_a_subprocess(traced: spanline.Run) -> None:
    import subprocess
    import sys

    code = "import spanline\nwith spanline.span('child-root'):\n    pass\n"
    with spanline.span("launcher") as launcher:
        subprocess.run([sys.executable, "-c", code], env=spanline.child_env(), check=True)
    spanline.shutdown()
    lines = [orjson.loads(line) for line in traced.telemetry_path.read_bytes().splitlines()]
    (child,) = [e for e in lines if e.get("name") == "child-root" and e["event"] == "span_start"]
    assert child["parent"] == launcher.span_id
    assert child["trace_id"] == parent_trace(lines)
    assert any(e["event"] == "process_start" for e in lines)


def test_span_open_across_os_fork_ends_once(traced: spanline.Run) -> None:
    pid = -1
    with spanline.span("outer") as outer:
        pid = os.fork()
        if pid == 0:
            with spanline.span("child-work"):
                pass
    if pid == 0:  # the child leaves the block too, but must not end the parent's span
        spanline.shutdown()
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert status == 0
    spanline.shutdown()
    lines = [orjson.loads(line) for line in traced.telemetry_path.read_bytes().splitlines()]
    ends = [e for e in lines if e["event"] == "span_end"]
    assert [e["span_id"] for e in ends].count(outer.span_id) == 1
    (child,) = [e for e in lines if e.get("name") == "child-work"]
    assert child["parent"] == outer.span_id
    assert len([e for e in lines if e["event"] == "process_end"]) == 2


def test_a_child_forked_at_once_writes_after_the_runs_first_line(tmp_path) -> None:
    """The run's creator writes its run_start from its writer thread; a child forked
    before that line is written waits for it rather than leading the log."""
    from tests._helpers import read_lines, run_python

    result = run_python(
        f"""
import os, time, spanline
from spanline._session import _header
parent, original = os.getpid(), _header.header

def slow_header(session):  # the creator's writer is slow to its first line
    if os.getpid() == parent:
        time.sleep(1.0)
    return original(session)

_header.header = slow_header
run = spanline.configure_observability(enabled=True, run_dir={str(tmp_path)!r},
                                       flush_ms=60_000, summary_interval_ms=0)
read, write = os.pipe()
pid = os.fork()
if pid == 0:
    with spanline.span("child work"):
        pass
    spanline.flush()  # the child's lines: written now, the parent's writer still asleep
    os.write(write, b"x")
    os._exit(0)
assert os.read(read, 1) == b"x"
assert os.waitpid(pid, 0)[1] == 0
spanline.shutdown()
print(run.telemetry_path)
"""
    )
    assert result.returncode == 0, result.stderr
    lines = read_lines(Path(result.stdout.split()[-1]))
    assert [line["event"] for line in lines[:2]] == ["run_start", "process_start"]
    assert sum(line["event"] == "span_start" for line in lines) == 1
