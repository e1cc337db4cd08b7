"""Threads and asyncio tasks at volume; every event counted, every parent right.

The 4 threads x 50k spans scenario runs here only (it was once in tests/writer/test_concurrency.py
too): pool threads carry the parent, a plain thread gives roots, an exporter is attached."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from pathlib import Path

import spanline
from spanline.exporters import InMemoryExporter
from tests._helpers import by_kind, configure, finish, iter_lines, spans, validator

THREADS = 4
PER_THREAD = 50_000
PAIRS = (PER_THREAD - 2) // 2  # thread span + PAIRS * (a, b) + one "z" = PER_THREAD
PLAIN = 1_000  # spans of a plain threading.Thread running alongside: root + PLAIN - 1 "t"
TASKS = 200


def test_four_threads_of_50k_spans_and_200_nested_tasks(tmp_path: Path) -> None:
    run = configure(tmp_path, exporters=[InMemoryExporter()])
    tracer = spanline.get_tracer()
    start_line = threading.Barrier(THREADS + 2)
    handed: dict[str, str] = {}

    @spanline.traced_tool
    async def probe(index: int) -> int:
        await asyncio.sleep(0)
        return index

    def worker(index: int) -> None:
        start_line.wait()
        with tracer.span(f"thread-{index}", component=str(index)) as mine:
            handed[str(index)] = mine.span_id
            for _ in range(PAIRS):
                with tracer.span("a", component=str(index)):
                    with tracer.span("b", component=str(index)):
                        pass
            with tracer.span("z", component=str(index)):
                tracer.event("thread-done", index=index)

    def plain_worker() -> None:
        start_line.wait()
        with tracer.span("plain-thread", component="plain") as mine:
            handed["plain"] = mine.span_id
            for _ in range(PLAIN - 1):
                with tracer.span("t", component="plain"):
                    pass

    async def task(index: int) -> None:
        async with tracer.span(f"task-{index}", kind="agent", component=str(index)):
            for step in range(2):
                async with tracer.span("step", component=f"{index}.{step}"):
                    await asyncio.sleep(0)
                    with tracer.span("leaf", component=f"{index}.{step}"):
                        tracer.event("tick", index=index, step=step)
                        await asyncio.sleep(0)
                    await probe(index)

    async def tasks() -> None:
        async with tracer.span("async-root"):
            start_line.wait()  # threads and tasks run at the same time
            await asyncio.gather(*(task(i) for i in range(TASKS)))

    plain = threading.Thread(target=plain_worker)  # no context handed over
    with tracer.span("root") as root:
        plain.start()
        with spanline.ThreadPoolExecutor(max_workers=THREADS) as pool:
            futures = [pool.submit(worker, i) for i in range(THREADS)]
            asyncio.run(tasks())
            for future in futures:
                future.result()
        plain.join()
    summary = spanline.shutdown()

    # Stream the file: 800k lines; keep only what the checks need.
    v = validator()
    starts: dict[str, tuple[str, str | None, str | None]] = {}
    end_count: Counter[str] = Counter()
    start_count: Counter[str] = Counter()
    events: list[tuple[str, str | None, dict]] = []
    other: Counter[str] = Counter()
    for number, event in enumerate(iter_lines(run.telemetry_path), start=1):
        assert v.is_valid(event), f"line {number} fails the schema"
        kind = event["event"]
        if kind == "span_start":
            start_count[event["span_id"]] += 1
            starts[event["span_id"]] = (event["name"], event["component"], event["parent"])
        elif kind == "span_end":
            end_count[event["span_id"]] += 1
            assert event["status"] == "ok"
        elif kind == "event":
            events.append((event["name"], event["span_id"], event["attributes"]))
        else:
            other[kind] += 1

    per_task = 1 + 2 * 3  # task span, then per step: step, leaf, tool.probe
    expected = 1 + THREADS * PER_THREAD + PLAIN + 1 + TASKS * per_task
    assert len(starts) == expected
    assert set(start_count.values()) == {1}
    assert end_count.keys() == start_count.keys()
    assert set(end_count.values()) == {1}
    assert other == {"run_start": 1, "process_end": 1}

    names = Counter(name for name, _, _ in starts.values())
    assert names["a"] == names["b"] == THREADS * PAIRS
    assert names["z"] == THREADS and names["step"] == names["leaf"] == 2 * TASKS
    assert names["tool.probe"] == 2 * TASKS
    assert names["plain-thread"] == 1 and names["t"] == PLAIN - 1

    def parent_of(span_id: str) -> tuple[str, str | None, str | None]:
        parent = starts[span_id][2]
        assert parent is not None, f"{starts[span_id]} has no parent"
        return starts[parent]

    for span_id, (name, component, parent) in starts.items():
        if name == "root":
            assert parent is None
        elif name.startswith("thread-"):
            assert parent == root.span_id  # carried by spanline.ThreadPoolExecutor
            assert handed[component] == span_id
        elif name in ("a", "z"):
            assert parent == handed[component]
        elif name == "plain-thread":
            assert parent is None  # a plain thread's spans are roots of the same run
        elif name == "t":
            assert parent == handed["plain"]
        elif name == "b":
            p_name, p_component, _ = parent_of(span_id)
            assert (p_name, p_component) == ("a", component)
        elif name == "async-root":
            assert parent == root.span_id
        elif name.startswith("task-"):
            assert parent_of(span_id)[0] == "async-root"
        elif name == "step":
            assert parent_of(span_id)[:2] == (
                f"task-{component.split('.')[0]}",
                component.split(".")[0],
            )
        elif name in ("leaf", "tool.probe"):
            p_name, p_component, _ = parent_of(span_id)
            assert p_name == "step"
            if name == "leaf":
                assert p_component == component

    assert len(events) == THREADS + 2 * TASKS
    for name, span_id, attributes in events:
        owner, component, _ = starts[span_id]
        if name == "thread-done":
            assert (owner, component) == ("z", str(attributes["index"]))
        else:
            assert owner == "leaf"
            assert component == f"{attributes['index']}.{attributes['step']}"

    assert summary is not None
    assert summary.dropped_events == 0
    assert summary.span_count == expected and summary.open_spans == 0
    assert summary.totals.agents_spawned == TASKS
    assert summary.totals.total_tool_uses == 2 * TASKS


def test_plain_threads_are_roots_of_the_same_run_and_helpers_carry_the_parent(
    tmp_path: Path,
) -> None:
    """An unhelped thread gives a parentless span of the same run."""
    run = configure(tmp_path)
    tracer = spanline.get_tracer()

    def work(label: str) -> None:
        with tracer.span(label):
            with tracer.span(f"{label}-child"):
                pass

    with tracer.span("outer") as outer:
        plain = threading.Thread(target=work, args=("plain",))
        bound = spanline.bind_context(work)
        helped = [threading.Thread(target=bound, args=(f"bound-{i}",)) for i in range(4)]
        for thread in [plain, *helped]:
            thread.start()
        for thread in [plain, *helped]:
            thread.join()
        with spanline.ThreadPoolExecutor(2) as pool:
            # A pool task that itself submits to a pool: the parent chain carries through.
            def nested() -> None:
                with tracer.span("pool-outer"), spanline.ThreadPoolExecutor(1) as inner:
                    inner.submit(work, "pool-inner").result()

            pool.submit(nested).result()
            list(pool.map(work, ["mapped-0", "mapped-1"]))
    _, events = finish(run)
    merged = spans(events)
    by_name = {s["name"]: s for s in merged.values()}
    run_trace = events[0]["trace_id"]
    assert by_name["plain"]["parent"] is None
    assert by_name["plain"]["trace_id"] == run_trace
    for i in range(4):
        assert by_name[f"bound-{i}"]["parent"] == outer.span_id
        assert by_name[f"bound-{i}-child"]["parent"] == by_name[f"bound-{i}"]["span_id"]
    assert by_name["pool-outer"]["parent"] == outer.span_id
    assert by_name["pool-inner"]["parent"] == by_name["pool-outer"]["span_id"]
    assert by_name["mapped-0"]["parent"] == by_name["mapped-1"]["parent"] == outer.span_id
    assert all(s["end"] is not None for s in merged.values())


def test_a_span_ended_in_another_task_or_thread(tmp_path: Path) -> None:
    run = configure(tmp_path)
    tracer = spanline.get_tracer()
    seen: dict[str, str] = {}

    async def main() -> None:
        async with tracer.span("parent") as parent:
            handoff = tracer.start_span("handoff")
            assert spanline.current_span() is parent  # start_span does not make it current

            async def closer() -> None:
                handoff.add(tokens=3)
                handoff.end()

            await asyncio.create_task(closer())
            across = tracer.start_span("across-thread")
            thread = threading.Thread(target=across.end)
            thread.start()
            thread.join()
            with tracer.span("after") as after:
                seen["after-parent"] = parent.span_id
                seen["after"] = after.span_id

    asyncio.run(main())
    summary, events = finish(run)
    merged = spans(events)
    by_name = {s["name"]: s for s in merged.values()}
    assert by_name["handoff"]["end"]["tokens"] == 3
    assert by_name["handoff"]["parent"] == by_name["parent"]["span_id"]
    assert by_name["across-thread"]["end"] is not None
    assert by_name["after"]["parent"] == seen["after-parent"]
    assert summary.open_spans == 0 and len(by_kind(events, "span_end")) == 4
