"""Every span of many threads and tasks is written exactly once, with the right parent."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter

import spanline
from tests._helpers import read_lines

THREADS = 4
PER_THREAD = 50_000
TASKS = 200


def test_threads_and_tasks_lose_nothing(traced: spanline.Run) -> None:
    tracer = spanline.get_tracer()
    barrier = threading.Barrier(THREADS)
    # Each thread: one root span, PER_THREAD - 1 children under it.
    roots: dict[str, str] = {}

    def worker(index: int) -> None:
        barrier.wait()
        with tracer.span(f"thread-{index}") as root:
            roots[root.span_id] = f"thread-{index}"
            for _ in range(PER_THREAD - 1):
                with tracer.span("t", component=str(index)):
                    pass

    async def task(index: int) -> None:
        async with tracer.span(f"task-{index}", kind="agent"):
            for step in range(3):
                with tracer.span("tool", component=f"{index}.{step}"):
                    await asyncio.sleep(0)

    async def tasks() -> None:
        async with tracer.span("async-root"):
            await asyncio.gather(*(task(i) for i in range(TASKS)))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    asyncio.run(tasks())
    for thread in threads:
        thread.join()
    summary = spanline.shutdown()

    lines = read_lines(traced.telemetry_path)
    starts = [e for e in lines if e["event"] == "span_start"]
    ends = [e for e in lines if e["event"] == "span_end"]
    expected = THREADS * PER_THREAD + 1 + TASKS * 4
    assert len(starts) == expected
    assert len(ends) == expected
    start_counts = Counter(e["span_id"] for e in starts)
    end_counts = Counter(e["span_id"] for e in ends)
    assert set(start_counts.values()) == {1}
    assert start_counts.keys() == end_counts.keys()
    assert set(end_counts.values()) == {1}

    by_id = {e["span_id"]: e for e in starts}
    for event in starts:
        name, parent = event["name"], event["parent"]
        if name == "t":
            assert by_id[parent]["name"] == f"thread-{event['component']}"
        elif name.startswith("task-"):
            assert by_id[parent]["name"] == "async-root"
        elif name == "tool":
            index = event["component"].split(".")[0]
            assert by_id[parent]["name"] == f"task-{index}"
        else:
            assert parent is None
    assert summary is not None
    assert summary.dropped_events == 0
    assert summary.span_count == expected
    assert summary.totals.agents_spawned == TASKS


def test_queue_bound_drops_and_counts(tmp_path) -> None:
    """Past SPANLINE_MAX_QUEUE events are dropped, never blocking, and every drop is counted."""
    run = spanline.configure_observability(
        enabled=True, run_dir=tmp_path, max_queue=100, flush_ms=60_000
    )
    tracer = spanline.get_tracer()
    for _ in range(1_000):
        with tracer.span("s"):
            pass
    summary = spanline.shutdown()
    lines = read_lines(run.telemetry_path)
    written = sum(1 for e in lines if e["event"] in ("span_start", "span_end"))
    assert summary is not None
    assert written + summary.dropped_events == 2_000
    assert summary.dropped_events >= 1_000
    (process_end,) = [e for e in lines if e["event"] == "process_end"]
    assert process_end["dropped_events"] == summary.dropped_events
