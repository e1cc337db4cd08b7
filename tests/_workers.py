"""Functions run in child processes by both suites' test_processes (importable under spawn)."""

from __future__ import annotations

import spanline

SPANS_PER_PROCESS = 2_000
PER_CHILD = 3_000
PAD = "p" * 6_000  # lines longer than PIPE_BUF: a torn or interleaved write would show


def emit_spans(label: str) -> None:
    tracer = spanline.get_tracer()
    with tracer.span(f"proc-{label}", kind="agent"):
        for index in range(SPANS_PER_PROCESS - 1):
            with tracer.span("work", component=label, index=index, padding="x" * 300):
                pass
    spanline.shutdown()


def emit(label: str) -> None:
    """Children never call shutdown() here: spanline must flush them at exit by itself."""
    tracer = spanline.get_tracer()
    with tracer.span(f"child-{label}", kind="agent", component=label):
        for index in range(PER_CHILD - 1):
            with tracer.span("work", component=label, index=index) as span:
                if index % 100 == 0:
                    span.set_attribute("padding", PAD)
                    tracer.event("beat", label=label, index=index)


THREADS, TASKS, INNER = 4, 50, 5


def emit_mixed(label: str) -> None:
    """4 threads, each an asyncio loop of 50 tasks, each task a span with 5 children.

    Never calls shutdown(): spanline must flush the child at exit by itself.
    """
    import asyncio
    import threading

    tracer = spanline.get_tracer()

    async def task(thread: int, number: int) -> None:
        with tracer.span("task", component=label, thread=thread, number=number):
            for inner in range(INNER):
                with tracer.span(
                    "step", component=label, thread=thread, number=number, inner=inner
                ):
                    await asyncio.sleep(0)

    async def loop(thread: int) -> None:
        await asyncio.gather(*(task(thread, n) for n in range(TASKS)))

    def run_loop(thread: int) -> None:
        asyncio.run(loop(thread))

    with tracer.span(f"mixed-{label}", kind="agent", component=label):
        threads = [
            threading.Thread(target=spanline.bind_context(run_loop), args=(t,))
            for t in range(THREADS)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
