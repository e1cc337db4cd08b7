"""Functions run in child processes by test_processes (importable under spawn)."""

from __future__ import annotations

import spanline

SPANS_PER_PROCESS = 2_000


def emit_spans(label: str) -> None:
    tracer = spanline.get_tracer()
    with tracer.span(f"proc-{label}", kind="agent"):
        for index in range(SPANS_PER_PROCESS - 1):
            with tracer.span("work", component=label, index=index, padding="x" * 300):
                pass
    spanline.shutdown()
