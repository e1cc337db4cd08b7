"""Rotation: a long-lived process closes its run once it is too big or too old and goes
on in the next run of the same session, never cutting a span in two."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

import spanline
from spanline.exceptions import ConfigurationError
from tests._helpers import clean_env, read_lines, run_python
from tests.cli._entry import spanline as spanline_cli

#: A server that answers requests from a few threads at once, each request a span tree,
#: with a flush now and then (the writer cuts between its batches, at a quiet moment).
SERVER = """
import threading, spanline
spanline.configure_observability(
    enabled=True, run_dir={base!r}, service_name="server", {limits}, flush_ms=10,
    summary_interval_ms=0,
)

def request(worker, i):
    with spanline.span("request", kind="agent", worker=worker, i=i):
        with spanline.span("tool.lookup", kind="tool"):
            pass

def serve(worker):
    for i in range(40):
        request(worker, i)

for batch in range(6):
    threads = [threading.Thread(target=serve, args=(w,)) for w in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    spanline.flush()
spanline.shutdown()
"""


def _runs(base: Path) -> list[Path]:
    """Every run directory under ``base``, in the order the rotations made them."""
    found = [p for p in (base / "runs").iterdir() if p.is_dir() and not p.is_symlink()]
    by_id = {p.name: p for p in found}
    follows = {}
    for run in found:
        header = read_lines(run / "telemetry.jsonl")[0]
        follows[header.get("rotated_from")] = run.name
    ordered, current = [], follows.get(None)
    while current is not None:
        ordered.append(by_id[current])
        current = follows.get(current)
    assert len(ordered) == len(found), "every run follows the one before it"
    return ordered


def _check_runs(runs: list[Path]) -> dict[str, str]:
    """Each span in exactly one run, with its start and its end; each run's stored summary
    equal to a fold of its log; one session throughout. Returns span id -> run."""
    where: dict[str, str] = {}
    sessions = set()
    for number, run in enumerate(runs, start=1):
        lines = read_lines(run / "telemetry.jsonl")
        header = lines[0]
        assert header["event"] == "run_start" and header["run_id"] == run.name
        sessions.add(header["session_id"])
        assert header["turn"] == number
        starts = [line["span_id"] for line in lines if line["event"] == "span_start"]
        ends = [line["span_id"] for line in lines if line["event"] == "span_end"]
        assert sorted(starts) == sorted(ends), run.name  # no span is cut in two
        assert len(set(starts)) == len(starts)
        for span_id in starts:
            assert span_id not in where, "a span is in one run only"
            where[span_id] = run.name
        assert lines[-1]["event"] == "process_end"
        assert {line["session.id"] for line in _span_attributes(lines)} == sessions
        stored = json.loads((run / "run_summary.json").read_text())
        folded = spanline.summarize_file(run / "telemetry.jsonl", report_problems=False)
        assert stored == folded.to_dict(), run.name
    assert len(sessions) == 1
    return where


def _span_attributes(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line["attributes"] for line in lines if line["event"] == "span_start"]


def test_a_size_limit_splits_a_server_into_runs_of_one_session(tmp_path: Path) -> None:
    base = tmp_path / "base"
    result = run_python(SERVER.format(base=str(base), limits='max_run_bytes="20KB"'))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    runs = _runs(base)
    assert len(runs) >= 3
    where = _check_runs(runs)
    assert len(where) == 6 * 3 * 40 * 2  # every span, once
    # The first run names the session; the rest say which run they follow.
    first = read_lines(runs[0] / "telemetry.jsonl")[0]
    assert first["session_id"] == runs[0].name and "rotated_from" not in first
    for before, after in itertools.pairwise(runs):
        assert read_lines(after / "telemetry.jsonl")[0]["rotated_from"] == before.name
        metadata = (after / "execution_metadata.yaml").read_text()
        assert f'rotated_from: "{before.name}"' in metadata
    assert (base / "runs" / "latest").resolve() == runs[-1].resolve()
    # Closed runs are runs like any other: listed in their session, folded, shown.
    listed = spanline_cli(
        "list", "--dir", str(base), "--session", runs[0].name, "--limit", "1000", "--json"
    )
    assert listed.returncode == 0, listed.stderr
    assert {row["run_id"] for row in json.loads(listed.stdout)} == {run.name for run in runs}
    sessions = spanline_cli("sessions", "--dir", str(base), "--json")
    assert sessions.returncode == 0, sessions.stderr
    (row,) = json.loads(sessions.stdout)
    assert row["session_id"] == runs[0].name and row["turns"] == len(runs)
    shown = spanline_cli("show", str(runs[1]))
    assert shown.returncode == 0, shown.stderr


def test_an_age_limit_rotates_at_the_next_request(tmp_path: Path) -> None:
    """With an age limit shorter than any pause, every writer pass that brings a span after
    the first of a run opens a new run: five requests flushed one by one make five runs."""
    base = tmp_path / "base"
    code = f"""
import spanline
spanline.configure_observability(
    enabled=True, run_dir={str(base)!r}, service_name="server", rotate_every=1e-6,
    summary_interval_ms=0, session_id="nightly",
)
for i in range(5):
    with spanline.span("request", kind="agent", i=i):
        with spanline.span("tool.lookup", kind="tool"):
            pass
    spanline.flush()
spanline.shutdown()
"""
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    runs = _runs(base)
    assert len(runs) == 5
    where = _check_runs(runs)
    assert len(where) == 10
    assert all(read_lines(run / "telemetry.jsonl")[0]["session_id"] == "nightly" for run in runs)
    # The store lists them in the order the rotations made them, newest first, whatever
    # changed their directories later (as the summaries of closed runs do).
    for later, run in enumerate(runs):
        os.utime(run, (2e9 - later, 2e9 - later))  # the oldest run looks the newest changed
    listed = spanline_cli("list", "--dir", str(base), "--session", "nightly", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [row["run_id"] for row in json.loads(listed.stdout)] == [r.name for r in runs[::-1]]


def test_a_tree_open_at_the_rotation_finishes_in_its_own_run(tmp_path: Path) -> None:
    """A span open through several rotations (no quiet moment at all) keeps its tree in
    the run it started in, children started later included; new requests go to the
    new runs meanwhile, and the old run is closed once the tree ends."""
    base = tmp_path / "base"
    code = f"""
import threading, spanline
spanline.configure_observability(
    enabled=True, run_dir={str(base)!r}, service_name="server", rotate_every=1e-6,
    summary_interval_ms=0,
)
opened, release = threading.Event(), threading.Event()

def long_job():
    with spanline.span("long", kind="agent"):
        opened.set()
        release.wait()
        with spanline.span("tool.late", kind="tool"):
            pass

job = threading.Thread(target=long_job)
job.start()
opened.wait()
for i in range(4):
    with spanline.span("request", kind="agent", i=i):
        pass
    spanline.flush()
release.set()
job.join()
spanline.shutdown()
"""
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    runs = _runs(base)
    assert len(runs) >= 3
    where = _check_runs(runs)
    names = {span: _name(runs, span) for span in where}
    long_run = {where[span] for span, name in names.items() if name in ("long", "tool.late")}
    assert long_run == {runs[0].name}  # the whole tree, in the run it started in
    assert sum(name == "request" for name in names.values()) == 4
    assert any(where[s] != runs[0].name for s, name in names.items() if name == "request")


def test_a_large_value_of_a_tree_left_behind_is_stored_with_its_run(tmp_path: Path) -> None:
    """In full capture, a value moved out of line from a span of a tree that finishes in
    the run rotated from is stored in that run's blobs/, where its reference is read."""
    from spanline.schema import BLOB_REF

    base = tmp_path / "base"
    code = f"""
import threading, spanline
spanline.configure_observability(
    enabled=True, run_dir={str(base)!r}, service_name="server", rotate_every=1e-6,
    summary_interval_ms=0, capture="full", blob_threshold=1024,
)
opened, release = threading.Event(), threading.Event()

def long_job():
    with spanline.span("long", kind="agent"):
        opened.set()
        release.wait()
        with spanline.span("tool.late", kind="tool") as late:
            late.set_attribute("output.value", "late output " * 1000)

job = threading.Thread(target=long_job)
job.start()
opened.wait()
for i in range(3):
    with spanline.span("request", kind="agent", i=i) as request:
        request.set_attribute("output.value", f"request {{i}} " * 1000)
    spanline.flush()
release.set()
job.join()
spanline.shutdown()
"""
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    runs = _runs(base)
    assert len(runs) >= 3
    _check_runs(runs)
    for run in runs:
        for line in read_lines(run / "telemetry.jsonl"):
            value = line.get("attributes", {}).get("output.value")
            if isinstance(value, dict) and BLOB_REF in value:
                digest = value[BLOB_REF]["sha256"]
                stored = [p.name for p in (run / "blobs").iterdir()]
                assert any(name.startswith(digest) for name in stored), (run.name, digest)


def test_spans_open_at_exit_are_abandoned_in_the_run_they_started_in(tmp_path: Path) -> None:
    """A thread's span still open when the program exits, through several rotations: its
    end (abandoned) is written to the run it started in, which is then closed whole."""
    base = tmp_path / "base"
    code = f"""
import threading, spanline
spanline.configure_observability(
    enabled=True, run_dir={str(base)!r}, service_name="server", rotate_every=1e-6,
    summary_interval_ms=0,
)
opened = threading.Event()

def stuck():
    with spanline.span("stuck", kind="agent"):
        opened.set()
        threading.Event().wait()

threading.Thread(target=stuck, daemon=True).start()
opened.wait()
for i in range(3):
    with spanline.span("request", kind="agent", i=i):
        pass
    spanline.flush()
"""
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    runs = _runs(base)
    assert len(runs) >= 3
    _check_runs(runs)
    first = read_lines(runs[0] / "telemetry.jsonl")
    stuck = next(line for line in first if line.get("name") == "stuck")
    (end,) = [e for e in first if e["event"] == "span_end" and e["span_id"] == stuck["span_id"]]
    assert end["status"] == "error" and end["error"]["type"] == "abandoned"
    assert end["error"]["message"] == "thread not finished"


def test_the_live_summary_follows_to_the_new_run(tmp_path: Path) -> None:
    """Each run has its live summary: the run opened by a rotation gets its
    run_summary.json while the program still runs, as the first run did."""
    base = tmp_path / "base"
    code = f"""
import time, spanline
spanline.configure_observability(
    enabled=True, run_dir={str(base)!r}, service_name="server", rotate_every=1e-6,
    summary_interval_ms=100,
)

def summary_of_the_current_run():
    spanline.flush()
    summary = spanline.current_run().summary_path
    deadline = time.monotonic() + 60  # a loaded machine: the helper takes its time
    while not summary.exists():
        assert time.monotonic() < deadline, "no live summary"
        time.sleep(0.05)
    return summary

for i in range(2):
    with spanline.span("request", kind="agent", i=i):
        pass
    print(summary_of_the_current_run().parent.name, flush=True)
spanline.shutdown()
"""
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    first, second = result.stdout.split()
    runs = _runs(base)
    assert [run.name for run in runs] == [first, second]
    _check_runs(runs)


def test_a_fork_child_follows_to_the_next_run(tmp_path: Path) -> None:
    """A child forked before the rotations moves to the newest run at its first quiet
    moment; the runs it left are summarised once it has left them."""
    base = tmp_path / "base"
    code = f"""
import os, spanline
spanline.configure_observability(
    enabled=True, run_dir={str(base)!r}, service_name="server", max_run_bytes="4KB",
    flush_ms=10, summary_interval_ms=0,
)
with spanline.span("before", kind="agent"):
    pass
spanline.flush()
read, write = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(write)
    os.read(read, 1)  # the parent has rotated
    for i in range(10):
        with spanline.span("child", kind="agent", i=i):
            pass
        spanline.flush()
    spanline.shutdown()
    os._exit(0)
os.close(read)
for i in range(60):
    with spanline.span("parent", kind="agent", i=i):
        pass
    if i % 10 == 0:
        spanline.flush()
spanline.flush()
os.write(write, b"x")
os.waitpid(pid, 0)
spanline.shutdown()
"""
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    runs = _runs(base)
    assert len(runs) >= 3
    where = _check_runs(runs)
    child_runs = {where[span] for span in where if _name(runs, span) == "child"}
    assert child_runs == {runs[-1].name}  # all in the newest run, none in the runs it left
    assert sum(_name(runs, span) == "child" for span in where) == 10


CHILD = """
import sys, spanline
with spanline.span("child.first", kind="agent"):
    pass
spanline.flush()
print("ready", flush=True)
sys.stdin.readline()
for i in range(5):
    with spanline.span("child.later", kind="agent", i=i):
        pass
    spanline.flush()
"""


def test_a_child_process_handed_the_run_follows_the_rotations(tmp_path: Path) -> None:
    """A child process that joined the run through the variables spanline hands over
    (the rotation limits among them) writes to the newest run after the rotations, and
    the run it left is summarised with its lines."""
    base = tmp_path / "base"
    code = f"""
import subprocess, sys, spanline
spanline.configure_observability(
    enabled=True, run_dir={str(base)!r}, service_name="server", rotate_every=1e-6,
    summary_interval_ms=0,
)
with spanline.span("request", kind="agent"):
    pass
spanline.flush()
child = subprocess.Popen([sys.executable, "-c", {CHILD!r}], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
assert child.stdout.readline() == "ready\\n"
for i in range(3):
    with spanline.span("request", kind="agent", i=i):
        pass
    spanline.flush()
child.communicate("\\n")
assert child.returncode == 0
spanline.shutdown()
"""
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    runs = _runs(base)
    assert len(runs) == 4
    where = _check_runs(runs)
    by_name: dict[str, set[str]] = {}
    for span, run in where.items():
        by_name.setdefault(_name(runs, span), set()).add(run)
    assert by_name["child.first"] == {runs[0].name}
    assert by_name["child.later"] == {runs[-1].name}


def _name(runs: list[Path], span_id: str) -> str:
    for run in runs:
        for line in read_lines(run / "telemetry.jsonl"):
            if line["event"] == "span_start" and line["span_id"] == span_id:
                return str(line["name"])
    raise AssertionError(span_id)


def test_prune_keep_on_rotated_runs_keeps_the_live_one(tmp_path: Path) -> None:
    base = tmp_path / "base"
    code = f"""
import sys, spanline
run = spanline.configure_observability(
    enabled=True, run_dir={str(base)!r}, service_name="server", rotate_every=1e-6,
    summary_interval_ms=0,
)
for i in range(4):
    with spanline.span("request", kind="agent", i=i):
        pass
    spanline.flush()
print(run.directory, flush=True)
sys.stdin.readline()
"""
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        env=clean_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert Path(process.stdout.readline().strip()).is_dir()
        runs = _runs(base)
        assert len(runs) == 4
        live = runs[-1].name
        result = spanline_cli("prune", "--dir", str(base), "--keep", "0", "--json")
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
        assert sorted(e["run_id"] for e in report["deleted"]) == sorted(r.name for r in runs[:-1])
        assert report["spared"] == [{"run_id": live, "why": "latest"}]
        assert [p.name for p in (base / "runs").iterdir() if p.name != "latest"] == [live]
        assert process.poll() is None  # it was live all along
    finally:
        process.communicate("\n", timeout=60)


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("max_run_bytes", "500MB", 500_000_000),
        ("max_run_bytes", "2GiB", 2 * 2**30),
        ("max_run_bytes", 4096, 4096),
        ("rotate_every", "1h", 3600.0),
        ("rotate_every", "30m", 1800.0),
        ("rotate_every", 90, 90.0),
    ],
)
def test_the_limits_take_sizes_and_durations(name: str, value: Any, expected: Any) -> None:
    from spanline._session._settings import resolve_settings

    assert getattr(resolve_settings({name: value}, {}), name) == expected


@pytest.mark.parametrize(
    ("name", "variable", "bad"),
    [
        ("max_run_bytes", "SPANLINE_MAX_RUN_BYTES", "lots"),
        ("max_run_bytes", "SPANLINE_MAX_RUN_BYTES", "10"),  # below 1 KiB
        ("rotate_every", "SPANLINE_ROTATE_EVERY", "soon"),
        ("rotate_every", "SPANLINE_ROTATE_EVERY", "-5"),
    ],
)
def test_a_bad_limit_warns_from_the_environment_and_raises_as_an_argument(
    name: str, variable: str, bad: str
) -> None:
    from spanline._session._settings import resolve_settings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        settings = resolve_settings({}, {variable: bad})
    assert getattr(settings, name) is None  # skipped: no rotation
    assert len(caught) == 1 and variable in str(caught[0].message)
    assert "\n" not in str(caught[0].message)
    with pytest.raises(ConfigurationError, match=name):
        resolve_settings({name: bad}, {})
