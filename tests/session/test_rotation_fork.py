"""Rotation with fork children: a child forked while a span of its parent is open works
for that span, and its spans under it stay in that span's run, however the runs rotate."""

from __future__ import annotations

from pathlib import Path

from tests._helpers import read_lines, run_python
from tests.session.test_rotation import _check_runs, _runs

#: A server forks a worker while a request is open, then serves other requests until its
#: run rotates; the worker then works for the open request (before and after it has
#: itself followed to the newest run, through a request of its own).
PROGRAM = """
import os, threading, spanline
first = spanline.configure_observability(
    enabled=True, run_dir={base!r}, service_name="server", max_run_bytes="4KB",
    flush_ms=10, summary_interval_ms=0,
)
with spanline.span("request", kind="agent"):
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(write)
        os.read(read, 1)  # the parent has rotated
        with spanline.span("work", kind="tool"):
            pass
        spanline.flush()

        def own():  # a root of its own (a thread starts with no current span): a newer run
            with spanline.span("own", kind="agent"):
                pass

        thread = threading.Thread(target=own)
        thread.start()
        thread.join()
        spanline.flush()
        with spanline.span("more work", kind="tool"):
            pass
        spanline.shutdown()
        os._exit(0)
    os.close(read)

    def others():  # other requests (new roots, on a thread of their own) past the limit
        for i in range(60):
            with spanline.span("other", kind="agent", i=i):
                pass
            spanline.flush()

    thread = threading.Thread(target=others)
    thread.start()
    thread.join()
    rotated = (first.directory / "next_run.json").exists()
    os.write(write, b"x")
    os.waitpid(pid, 0)
    assert rotated
spanline.shutdown()
"""


def test_a_fork_childs_work_for_an_open_span_stays_in_that_spans_run(tmp_path: Path) -> None:
    """The spans a fork child starts under a span open in its parent at the fork go to
    the run that span started in, with its trace id, before and after the child has
    followed to the newest run; the child's own request goes to a newer run."""
    base = tmp_path / "base"
    result = run_python(PROGRAM.format(base=str(base)))
    assert result.returncode == 0, result.stderr
    runs = _runs(base)
    assert len(runs) >= 3
    where = _check_runs(runs)  # each span whole in one run, each summary a fold of it
    starts = {
        line["name"]: (run.name, line)
        for run in runs
        for line in read_lines(run / "telemetry.jsonl")
        if line["event"] == "span_start" and line["name"] in ("request", "work", "more work", "own")
    }
    run_of_request, request = starts["request"]
    assert run_of_request == runs[0].name
    for name in ("work", "more work"):
        run, span = starts[name]
        assert (run, span["parent"], span["trace_id"]) == (
            runs[0].name,
            request["span_id"],
            request["trace_id"],
        )
    assert starts["own"][0] != runs[0].name  # a new tree: it follows the rotations
    assert len(where) == 64  # the request, 60 others and the child's three


#: A worker forked inside a request (all its work is under that request), which keeps
#: working after the request ended and the server left the request's run.
LATER = """
import os, threading, spanline
first = spanline.configure_observability(
    enabled=True, run_dir={base!r}, service_name="server", max_run_bytes="4KB",
    flush_ms=10, summary_interval_ms=0,
)

def others():  # other requests (new roots, on a thread of their own) past the limit
    for i in range(60):
        with spanline.span("other", kind="agent", i=i):
            pass
        spanline.flush()

read, write = os.pipe()
with spanline.span("request", kind="agent"):
    pid = os.fork()
    if pid == 0:
        os.close(write)
        with spanline.span("work", kind="tool"):
            pass
        spanline.flush()
        os.read(read, 1)  # the request has ended, and the server has left its run
        with spanline.span("late work", kind="tool"):
            pass
        spanline.shutdown()
        os._exit(0)
    os.close(read)
    thread = threading.Thread(target=others)
    thread.start()
    thread.join()
spanline.flush()  # the request's end: the server leaves its run
left = b"owner_left" in (first.directory / "next_run.json").read_bytes()
os.write(write, b"x")
os.waitpid(pid, 0)
assert left
spanline.shutdown()
"""


def test_a_fork_child_leaves_the_old_run_once_its_parent_has(tmp_path: Path) -> None:
    """Once the span open at the fork has ended and the parent has left its run, the
    child's later spans (still under it by their context) go on in a newer run: the old
    run is not kept open by the child."""
    base = tmp_path / "base"
    result = run_python(LATER.format(base=str(base)))
    assert result.returncode == 0, result.stderr
    runs = _runs(base)
    assert len(runs) >= 2
    where = _check_runs(runs)
    names = {
        line["span_id"]: line["name"]
        for run in runs
        for line in read_lines(run / "telemetry.jsonl")
        if line["event"] == "span_start"
    }
    by_name = {names[span]: run for span, run in where.items() if names[span] != "other"}
    assert by_name["request"] == by_name["work"] == runs[0].name
    assert by_name["late work"] != runs[0].name
