"""Several processes (fork and spawn) append to one telemetry.jsonl."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import spanline
from tests._helpers import by_kind, configure, finish, read_lines, spans
from tests._workers import PER_CHILD, emit


def test_fork_and_spawn_children_append_whole_lines_and_counts_are_exact(
    tmp_path: Path,
) -> None:
    run = configure(tmp_path)
    tracer = spanline.get_tracer()
    labels = {"fork": ["f0", "f1"], "spawn": ["s0", "s1"]}
    with tracer.span("launcher", kind="run") as launcher:
        procs = []
        for method, names in labels.items():
            context = multiprocessing.get_context(method)
            for name in names:
                procs.append(context.Process(target=emit, args=(name,)))
        for proc in procs:
            proc.start()
        emit("parent")  # the parent writes at the same time
        for proc in procs:
            proc.join(90)
        assert [proc.exitcode for proc in procs] == [0, 0, 0, 0]
    summary, events = finish(run)  # every line parses and validates

    merged = spans(events)  # asserts one start and at most one end per span id
    assert all(span["end"] is not None for span in merged.values())
    work = Counter(s["component"] for s in merged.values() if s["name"] == "work")
    assert work == {label: PER_CHILD - 1 for label in ["parent", "f0", "f1", "s0", "s1"]}
    beats = Counter(e["attributes"]["label"] for e in by_kind(events, "event"))
    assert beats == {label: (PER_CHILD - 1 + 99) // 100 for label in work}
    assert len(merged) == 1 + 5 * PER_CHILD

    roots = {s["name"]: s for s in merged.values() if s["name"].startswith("child-")}
    # Forked children keep the span current at the fork; spawned ones start as roots.
    assert roots["child-f0"]["parent"] == launcher.span_id
    assert roots["child-f1"]["parent"] == launcher.span_id
    assert roots["child-s0"]["parent"] is None
    assert roots["child-parent"]["parent"] == launcher.span_id
    trace_ids = {e["trace_id"] for e in events if "trace_id" in e}
    assert len(trace_ids) == 1

    assert len(by_kind(events, "run_start")) == 1
    assert len(by_kind(events, "process_start")) == 4
    ends = by_kind(events, "process_end")
    assert len(ends) == 5 and len({e["pid"] for e in ends}) == 5
    assert os.getpid() in {e["pid"] for e in ends}
    assert all(e["dropped_events"] == 0 for e in ends)
    assert summary.processes == 5 and summary.dropped_events == 0
    assert summary.span_count == len(merged) and summary.open_spans == 0


def test_child_env_hands_the_current_span_to_a_subprocess(tmp_path: Path) -> None:
    run = configure(tmp_path)
    code = (
        "import spanline\n"
        "with spanline.span('sub-root'):\n"
        "    with spanline.span('sub-child'):\n"
        "        pass\n"
    )
    with spanline.span("launcher") as launcher:
        env = spanline.child_env()
        assert env["SPANLINE_RUN_ID"] == run.run_id
        subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)
        # Without TRACEPARENT the subprocess joins the run with a parentless root.
        plain = {k: v for k, v in env.items() if k != "TRACEPARENT"}
        code2 = code.replace("sub-", "plain-")
        subprocess.run([sys.executable, "-c", code2], env=plain, check=True, timeout=60)
    summary, events = finish(run)
    merged = spans(events)
    by_name = {s["name"]: s for s in merged.values()}
    assert by_name["sub-root"]["parent"] == launcher.span_id
    assert by_name["sub-child"]["parent"] == by_name["sub-root"]["span_id"]
    assert by_name["plain-root"]["parent"] is None
    assert {s["trace_id"] for s in merged.values()} == {events[0]["trace_id"]}
    assert summary.processes == 3 and summary.open_spans == 0
    # The children did not write a summary or move `latest`.
    assert (tmp_path / "runs" / "latest").resolve() == run.directory
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == sorted(["latest", run.run_id])
    assert read_lines(run.telemetry_path)[-1]["event"] == "process_end"
