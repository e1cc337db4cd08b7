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
