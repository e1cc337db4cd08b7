"""The writer cannot die: user code it runs is guarded, a dead writer is replaced,
and it writes on a fixed cadence."""

from __future__ import annotations

import ctypes
import json
import threading
from pathlib import Path

import pytest

import spanline
from spanline._hotpath._runtime import RUNTIME
from spanline._writer import _pipeline as _writer
from spanline._writer._pipeline import Pipeline
from tests._helpers import by_kind, configure, finish, named, one, writer_threads


class _Raising:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    def __repr__(self) -> str:
        raise self.exc

    __str__ = __repr__


@pytest.mark.parametrize("exc", [SystemExit(3), KeyboardInterrupt(), GeneratorExit()])
def test_a_repr_raising_a_base_exception_becomes_a_marker_and_the_batch_is_written(
    tmp_path: Path, exc: BaseException
) -> None:
    run = configure(tmp_path)
    for number in range(1000):
        with spanline.span("fine", number=number):
            pass
    with spanline.span("hostile", value=_Raising(exc), kept="yes"):
        pass
    assert spanline.flush(timeout=10) is True  # the writer is alive and wrote it all
    with spanline.span("after"):
        pass
    summary, events = finish(run)
    fine = named(events, "fine")
    assert len(fine) == 1000 and all(span["end"] for span in fine)
    hostile = one(events, "hostile")
    marker = f"<repr failed: {type(exc).__name__}>"
    assert hostile["attributes"] == {"value": marker, "kept": "yes"}
    assert hostile["end"]["status"] == "ok"
    assert one(events, "after")["end"]
    assert summary.dropped_events == 0


def _kill_writer(pipeline: Pipeline) -> None:
    """Raise SystemExit inside the writer thread, from outside (as a fault would)."""
    thread = pipeline._thread
    assert thread is not None and thread.ident is not None
    set_async = ctypes.pythonapi.PyThreadState_SetAsyncExc
    for _ in range(200):  # it lands while the writer waits for its next pass
        if not thread.is_alive():
            return
        if not pipeline._writer_lost:
            set_async(ctypes.c_ulong(thread.ident), ctypes.py_object(SystemExit))
        thread.join(0.05)
    raise AssertionError("the writer thread did not die")


def test_a_dead_writer_is_noticed_by_the_next_span_and_replaced(tmp_path: Path) -> None:
    from loguru import logger

    reports: list[str] = []
    handler = logger.add(reports.append, level="WARNING", format="{message}")
    run = configure(tmp_path)
    with spanline.span("before"):
        pass
    assert spanline.flush(timeout=10)
    pipeline = spanline._hotpath._runtime.RUNTIME.pipeline
    assert pipeline is not None
    _kill_writer(pipeline)
    assert not any(t.name == "spanline-writer" and t.is_alive() for t in writer_threads())
    for number in range(10):
        with spanline.span("after", number=number):
            pass
    assert any(t.name == "spanline-writer" and t.is_alive() for t in writer_threads())
    assert spanline.flush(timeout=10) is True
    summary, events = finish(run)
    # Besides the two lines of "before", every span line is one of the ten spans'.
    written = len(by_kind(events, "span_start")) + len(by_kind(events, "span_end")) - 2
    # Every event of the ten spans is either written or counted as dropped.
    assert written + summary.dropped_events == 20
    assert summary.dropped_events >= 1
    logger.remove(handler)
    assert "".join(reports).count("the writer thread stopped unexpectedly") == 1
    assert json.loads(run.summary_path.read_text())["dropped_events"] == summary.dropped_events


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now


class _RecordingWake:
    """Stands in for the writer's wake-up event: waiting advances the fake clock."""

    def __init__(self, clock: _Clock) -> None:
        self.clock = clock

    def wait(self, timeout: float | None = None) -> bool:
        self.clock.now += timeout or 0.0
        return False

    def clear(self) -> None:
        pass

    def set(self) -> None:
        pass


def _writer_on_fake_clock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, interval: float = 0.25
) -> tuple[_Clock, Pipeline]:
    """A pipeline flushing every ``interval`` s whose writer loop reads, and sleeps on,
    ``clock``."""
    clock = _Clock()
    monkeypatch.setattr(_writer, "time", clock)
    pipeline = Pipeline(
        telemetry_path=tmp_path / "t.jsonl",
        trace_id="0" * 32,
        flush_interval=interval,
        max_queue=10,
    )
    pipeline._wake = _RecordingWake(clock)  # type: ignore[assignment]
    return clock, pipeline


def test_the_writer_wakes_on_a_fixed_period_not_after_each_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock, pipeline = _writer_on_fake_clock(tmp_path, monkeypatch)
    passes: list[float] = []

    def slow_drain() -> bool:
        passes.append(clock.now)
        clock.now += 0.1  # each pass takes 100 ms of writing
        return len(passes) == 8

    monkeypatch.setattr(pipeline, "_drain", slow_drain)
    pipeline._loop()
    # On a fixed grid: 0.25, 0.50, ... not 0.25, 0.60, 0.95 (interval + write time).
    assert passes == pytest.approx([0.25 * k for k in range(1, 9)])


def test_by_default_the_writer_writes_every_100_ms(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a kill -9 loses is what the writer had not written yet: with the default
    period, the events of about the last 100 ms (a pass that keeps up included)."""
    configure(tmp_path / "configured")
    try:
        pipeline = RUNTIME.pipeline
        assert pipeline is not None
        interval = pipeline.flush_interval
    finally:
        spanline.shutdown()
    clock, writer = _writer_on_fake_clock(tmp_path, monkeypatch, interval)
    passes: list[float] = []

    def drain() -> bool:
        passes.append(clock.now)
        clock.now += 0.03  # a pass that keeps up
        return len(passes) == 5

    monkeypatch.setattr(writer, "_drain", drain)
    writer._loop()
    assert passes == pytest.approx([0.1 * k for k in range(1, 6)])


def test_a_writer_far_behind_restarts_its_grid_instead_of_bursting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock, pipeline = _writer_on_fake_clock(tmp_path, monkeypatch)
    passes: list[float] = []

    def stalled_drain() -> bool:
        passes.append(clock.now)
        clock.now += 1.0 if len(passes) == 1 else 0.0  # one pass stalls for a second
        return len(passes) == 3

    monkeypatch.setattr(pipeline, "_drain", stalled_drain)
    pipeline._loop()
    assert passes == pytest.approx([0.25, 1.25, 1.5])


class _Hanging:
    """A value whose repr does not return until released (a 5 s repr, or worse)."""

    release = threading.Event()

    def __repr__(self) -> str:
        self.release.wait()
        return "finally"


def test_a_hanging_repr_does_not_stall_writing(tmp_path: Path) -> None:
    run = configure(tmp_path)
    try:
        with spanline.span("hangs", value=_Hanging(), kept=1):
            pass
        for number in range(100):
            with spanline.span("fine", number=number):
                pass
        # The repr never returns while we wait: only a writer that stops waiting
        # for it gets the rest written.
        assert spanline.flush(timeout=20) is True
        with spanline.span("again", value=_Hanging()):
            pass
        assert spanline.flush(timeout=20) is True
        summary, events = finish(run)
    finally:
        _Hanging.release.set()
    assert one(events, "hangs")["attributes"] == {"value": "<repr timed out: _Hanging>", "kept": 1}
    assert len(named(events, "fine")) == 100
    # A type seen hanging is not tried again: no second wait.
    assert one(events, "again")["attributes"] == {"value": "<repr skipped: slow _Hanging>"}
    assert summary.dropped_events == 0


class _Tracing:
    """A value whose repr opens a span: it runs on spanline's converter thread."""

    def __repr__(self) -> str:
        with spanline.span("inside-repr"):
            return "traced"


def test_spans_opened_by_a_repr_on_the_converter_thread_are_suppressed(tmp_path: Path) -> None:
    run = configure(tmp_path)
    with spanline.span("outer", value=_Tracing()):
        pass
    summary, events = finish(run)
    assert one(events, "outer")["attributes"] == {"value": "traced"}
    assert named(events, "inside-repr") == []  # spanline never traces itself
    assert summary.totals.suppressed_spans == 1
