"""Run in child processes (importable under spawn). Children never call shutdown():
spanline must flush them at exit by itself."""

from __future__ import annotations

import spanline

PER_CHILD = 3_000
PAD = "p" * 6_000  # lines longer than PIPE_BUF: a torn or interleaved write would show


def emit(label: str) -> None:
    tracer = spanline.get_tracer()
    with tracer.span(f"child-{label}", kind="agent", component=label):
        for index in range(PER_CHILD - 1):
            with tracer.span("work", component=label, index=index) as span:
                if index % 100 == 0:
                    span.set_attribute("padding", PAD)
                    tracer.event("beat", label=label, index=index)
