"""Processes (fork and spawn) x threads x asyncio tasks into one run: every event counted.

Two forked and two spawned children and the parent each run 4 threads, each an asyncio
loop of 50 tasks, each task a span with 5 child spans awaiting between them. Every span
must arrive once, started and ended, under the right parent, with nothing dropped.
"""

from __future__ import annotations

import multiprocessing
from collections import Counter
from pathlib import Path

from tests._helpers import by_kind, configure, finish, spans
from tests._workers import INNER, TASKS, THREADS, emit_mixed

LABELS = {"fork": ["f0", "f1"], "spawn": ["s0", "s1"]}


def test_processes_threads_and_tasks_lose_no_event(tmp_path: Path) -> None:
    run = configure(tmp_path)
    procs = [
        multiprocessing.get_context(method).Process(target=emit_mixed, args=(label,))
        for method, labels in LABELS.items()
        for label in labels
    ]
    for proc in procs:
        proc.start()
    emit_mixed("parent")  # the parent writes at the same time
    for proc in procs:
        proc.join(120)
    assert [proc.exitcode for proc in procs] == [0, 0, 0, 0]
    summary, events = finish(run)

    merged = spans(events)  # one start and at most one end per span id
    assert all(span["end"] is not None for span in merged.values())
    labels = ["parent", *LABELS["fork"], *LABELS["spawn"]]
    per_label = 1 + THREADS * TASKS * (1 + INNER)
    assert Counter(s["component"] for s in merged.values()) == dict.fromkeys(labels, per_label)
    assert len(merged) == len(labels) * per_label

    agents = {s["component"]: sid for sid, s in merged.items() if s["name"].startswith("mixed-")}
    for span in merged.values():
        if span["name"] == "task":  # each task under its process's agent, across threads
            assert span["parent"] == agents[span["component"]]
        elif span["name"] == "step":  # each step under its own task, across awaits
            parent = merged[span["parent"]]
            assert parent["name"] == "task"
            assert parent["attributes"]["number"] == span["attributes"]["number"]
            assert parent["attributes"]["thread"] == span["attributes"]["thread"]
    ends = by_kind(events, "process_end")
    assert len(ends) == 5 and all(e["dropped_events"] == 0 for e in ends)
    assert summary.dropped_events == 0 and summary.open_spans == 0
    assert summary.span_count == len(merged)
    assert len({e["trace_id"] for e in events if "trace_id" in e}) == 1
