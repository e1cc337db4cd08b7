"""The queue bound under load. The 4 threads x 50k spans scenario (every span written exactly
once, with the right parent) runs once, in tests/acceptance/test_concurrency.py."""

from __future__ import annotations

import spanline
from tests._helpers import read_lines


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
