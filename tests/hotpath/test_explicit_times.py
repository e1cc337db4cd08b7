"""Spans seen as callbacks: started and ended with explicit times, ended on another thread."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

import spanline
from tests._helpers import configure, finish, one


def test_explicit_start_and_end_times_are_written(tmp_path: Path) -> None:
    run = configure(tmp_path)
    tracer = spanline.get_tracer()
    start = round(time.time()) - 60.25
    span = tracer.start_span("reported", kind="llm", parent=None, start_ts=start)
    assert span.is_recording
    span.end(ts=start + 2.5)
    _, events = finish(run)
    reported = one(events, "reported")
    assert reported["ts"] == start
    assert reported["end"]["ts"] == start + 2.5
    assert reported["end"]["duration_ms"] == 2500.0


def test_an_end_before_the_start_lasts_zero(tmp_path: Path) -> None:
    run = configure(tmp_path)
    start = time.time() - 10
    span = spanline.get_tracer().start_span("backwards", start_ts=start)
    span.end(ts=start - 1)
    _, events = finish(run)
    assert one(events, "backwards")["end"]["duration_ms"] == 0.0


def test_a_span_started_on_one_thread_ends_on_another_with_its_error(tmp_path: Path) -> None:
    run = configure(tmp_path)
    tracer = spanline.get_tracer()
    with tracer.span("parent") as parent:
        started = tracer.start_span("callback", parent=parent.span_id)

    def end_elsewhere() -> None:
        started.end(error=TimeoutError("no answer"))

    thread = threading.Thread(target=end_elsewhere)
    thread.start()
    thread.join()
    _, events = finish(run)
    callback = one(events, "callback")
    assert callback["parent"] == one(events, "parent")["span_id"]
    assert callback["end"]["status"] == "error"
    assert callback["end"]["error"]["type"] == "TimeoutError"
    with pytest.raises(ValueError, match="already ended"):
        started.end()


def test_a_span_with_an_explicit_start_never_ended_is_abandoned_at_shutdown(
    tmp_path: Path,
) -> None:
    run = configure(tmp_path)
    start = time.time() - 60
    spanline.get_tracer().start_span("left-open", start_ts=start)
    _, events = finish(run)
    left = one(events, "left-open")
    assert left["ts"] == start
    assert left["end"]["error"]["type"] == "abandoned"
    # The monotonic origin moved back with the start: the duration runs from it.
    assert left["end"]["ts"] == pytest.approx(left["ts"] + left["end"]["duration_ms"] / 1000)
    assert left["end"]["duration_ms"] >= 60_000.0


def test_a_start_in_the_future_never_gives_a_negative_duration(tmp_path: Path) -> None:
    run = configure(tmp_path)
    spanline.get_tracer().start_span("early", start_ts=time.time() + 3600)
    _, events = finish(run)  # abandoned at shutdown, measured from its start here
    assert one(events, "early")["end"]["duration_ms"] >= 0.0


def test_while_off_the_no_op_span_takes_the_same_arguments() -> None:
    span = spanline.get_tracer().start_span("off", start_ts=1.0)
    assert not span.is_recording
    span.end(ts=2.0, error=ValueError("x"))
