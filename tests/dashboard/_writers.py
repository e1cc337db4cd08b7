"""Run in writer processes by the SSE resume test (importable under spawn)."""

from __future__ import annotations

import time

import spanline

SPANS = 300


def write_spans(label: str) -> None:
    """Open SPANS spans over about a second, flushed as they go, then end the process's part."""
    tracer = spanline.get_tracer()
    with tracer.span(f"writer-{label}", kind="agent"):
        for index in range(SPANS - 1):
            with tracer.span("work", component=label, index=index):
                pass
            if index % 30 == 0:
                spanline.flush()
                time.sleep(0.02)
    spanline.shutdown()
