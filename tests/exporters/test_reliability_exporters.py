"""Exporter accounting adds up, every loss is reported once, shutdown has one deadline,
and flush() is honest about exporters that did not confirm."""

from __future__ import annotations

import inspect
import json
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

import spanline
from spanline._hotpath._runtime import RUNTIME
from spanline._writer._pipeline import Pipeline
from tests._helpers import by_kind, configure, read_lines, run_python


class Blocking:
    """Takes its first batch and never returns from export until released."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.calls = 0

    def export(self, batch: Sequence[Mapping[str, Any]]) -> None:
        self.calls += 1
        self.release.wait()


@pytest.fixture
def blocking() -> Iterator[Blocking]:
    exporter = Blocking()
    yield exporter
    exporter.release.set()  # let its worker thread end


def _stats(events: list[dict[str, Any]], name: str) -> dict[str, int]:
    (trailer,) = by_kind(events, "process_end")
    return dict(trailer["exporters"][name])


def test_the_batch_in_flight_at_shutdown_is_counted(tmp_path: Path, blocking: Blocking) -> None:
    run = configure(tmp_path, exporters=[blocking])
    for number in range(300):
        with spanline.span("work", number=number):
            pass
        if number == 0:
            assert spanline.flush(timeout=0.2) is False  # the exporter holds that batch
    # A blocked exporter cannot hold shutdown past its deadline (else: test timeout).
    spanline.shutdown(timeout=0.5)
    events = read_lines(run.telemetry_path)
    stats = _stats(events, "Blocking")
    handed = len(events) - 1  # every line but this process's own process_end
    assert stats["received"] == handed
    assert stats["received"] == stats["exported"] + stats["dropped"] + stats["failed"]
    assert stats["exported"] == 0 and stats["dropped"] == handed
    summary = json.loads(run.summary_path.read_text())
    assert summary["exporters"]["Blocking"] == {
        "received": handed,
        "exported": 0,
        "dropped": handed,
        "failed": 0,
    }


def test_late_results_of_an_exporter_given_up_on_are_not_counted_twice(tmp_path: Path) -> None:
    exporter = Blocking()
    pipeline = Pipeline(
        telemetry_path=tmp_path / "t.jsonl",
        trace_id="0" * 32,
        flush_interval=0.05,
        max_queue=100,
        exporters=[("blocking", exporter)],
    )
    pipeline.start()
    pipeline.emit(("raw", {"event": "event", "name": "x", "ts": 1.0}))
    pipeline.flush(timeout=0.2)
    trailer = pipeline.shutdown(timeout=0.2)
    worker = pipeline._workers[0]
    exporter.release.set()  # now it finishes the batch it held
    worker._thread.join(5)
    assert not worker._thread.is_alive()
    assert trailer["exporters"]["blocking"]["dropped"] == 1
    assert worker.stats()["exported"] == 0  # already counted as dropped, not again


def test_default_shutdown_timeout_is_five_seconds() -> None:
    assert inspect.signature(spanline.shutdown).parameters["timeout"].default == 5.0
    assert inspect.signature(Pipeline.shutdown).parameters["timeout"].default == 5.0


class Raising:
    def export(self, batch: Sequence[Mapping[str, Any]]) -> None:
        raise ConnectionError("receiver down")


class FlushRaises:
    def export(self, batch: Sequence[Mapping[str, Any]]) -> None:
        pass

    def flush(self, timeout: float | None = None) -> bool:
        raise TimeoutError("flush timed out")


class FlushSaysNo:
    def export(self, batch: Sequence[Mapping[str, Any]]) -> None:
        pass

    def flush(self, timeout: float | None = None) -> bool:
        return False


class FlushBlocks:
    def __init__(self) -> None:
        self.release = threading.Event()

    def export(self, batch: Sequence[Mapping[str, Any]]) -> None:
        pass

    def flush(self, timeout: float | None = None) -> None:
        self.release.wait()


class Fine:
    def export(self, batch: Sequence[Mapping[str, Any]]) -> None:
        pass

    def flush(self, timeout: float | None = None) -> bool:
        return True


@pytest.mark.parametrize("make", [Raising, FlushRaises, FlushSaysNo, FlushBlocks])
def test_flush_is_false_when_an_exporter_did_not_confirm(tmp_path: Path, make: Any) -> None:
    unconfirmed = make()
    configure(tmp_path, exporters=[Fine(), unconfirmed])
    try:
        with spanline.span("s"):
            pass
        assert spanline.flush(timeout=2) is False
    finally:
        if isinstance(unconfirmed, FlushBlocks):
            unconfirmed.release.set()
        spanline.shutdown(timeout=2)


def test_flush_is_true_again_once_a_recovered_exporter_confirms(tmp_path: Path) -> None:
    class Recovers:
        broken = True

        def export(self, batch: Sequence[Mapping[str, Any]]) -> None:
            if self.broken:
                raise ConnectionError("down")

    exporter = Recovers()
    configure(tmp_path, exporters=[Fine(), exporter])
    with spanline.span("lost"):
        pass
    assert spanline.flush(timeout=5) is False
    exporter.broken = False
    with spanline.span("delivered"):
        pass
    assert spanline.flush(timeout=60) is True  # a bound for a loaded machine: it returns once done
    spanline.shutdown()


def test_flush_is_true_when_every_exporter_confirmed(tmp_path: Path) -> None:
    configure(tmp_path, exporters=[Fine(), Fine()])
    with spanline.span("s"):
        pass
    assert spanline.flush(timeout=60) is True  # a bound for a loaded machine: it returns once done
    spanline.shutdown()


SLEEPING = """
import sys, time, spanline

class Sleepy:
    def export(self, batch):
        time.sleep(0.3)

run = spanline.configure_observability(
    enabled=True, run_dir=sys.argv[1], exporters=[Sleepy()], flush_ms=20
)
for number in range(40):
    with spanline.span("work", n=number):
        pass
    time.sleep(0.01)
spanline.shutdown(timeout=0.5)
print(run.log_path)
print(run.telemetry_path)
"""


def test_a_sleeping_exporter_loss_is_one_line_on_stderr_and_in_the_log(tmp_path: Path) -> None:
    result = run_python(SLEEPING.replace("sys.argv[1]", repr(str(tmp_path))))
    assert result.returncode == 0, result.stderr
    log_path, telemetry = result.stdout.split()
    stats = _stats(read_lines(Path(telemetry)), "Sleepy")
    lost = stats["dropped"] + stats["failed"]
    assert lost > 0
    assert stats["received"] == stats["exported"] + lost
    expected = f"exporter Sleepy lost {lost} of {stats['received']} events"
    for text in (result.stderr, Path(log_path).read_text()):
        lines = [line for line in text.splitlines() if "exporter Sleepy lost" in line]
        assert len(lines) == 1, text
        assert expected in lines[0]


EXITING = """
import sys, spanline

class Exits:
    def export(self, batch):
        raise SystemExit(4)

run = spanline.configure_observability(enabled=True, run_dir=sys.argv[1], exporters=[Exits()])
with spanline.span("work"):
    pass
print(spanline.flush(timeout=5))
spanline.shutdown()
print("still here")
"""


def test_an_exporter_raising_system_exit_is_counted_and_framed_once(tmp_path: Path) -> None:
    result = run_python(EXITING.replace("sys.argv[1]", repr(str(tmp_path))))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "still", "here"]
    assert result.stderr.count("exporter Exits raised") == 1
    assert result.stderr.count("── end of spanline report") == 1
    assert result.stderr.count("exporter Exits lost 3 of 3 events") == 1


def test_a_backlog_longer_than_the_deadline_is_written_not_dropped(tmp_path: Path) -> None:
    """The deadline bounds exporters; the writer's own drain goes on while it progresses."""
    run = configure(tmp_path, flush_ms=60_000)  # everything waits for shutdown
    for number in range(50_000):
        with spanline.span("queued", n=number):
            pass
    spanline.shutdown(timeout=0.2)  # less than writing 100,000 lines takes here
    events = read_lines(run.telemetry_path)
    (trailer,) = by_kind(events, "process_end")
    assert trailer["dropped_events"] == 0
    assert len(by_kind(events, "span_end")) == 50_000


class SlowText:
    """An attribute value whose text form takes a millisecond (a slow user ``__repr__``)."""

    def __repr__(self) -> str:
        time.sleep(0.001)
        return "slow"

    __str__ = __repr__


def test_a_batch_slower_than_the_deadline_is_written_while_each_record_moves_on(
    tmp_path: Path,
) -> None:
    """Progress is counted record by record: one batch of a thousand slow values takes a
    second at least (sleeps never end early), five times the deadline, and is written."""
    run = configure(tmp_path, flush_ms=60_000)  # everything waits for shutdown
    for number in range(1_000):
        with spanline.span("slow", n=number, value=SlowText()):
            pass
    spanline.shutdown(timeout=0.2)
    events = read_lines(run.telemetry_path)
    (trailer,) = by_kind(events, "process_end")
    assert trailer["dropped_events"] == 0
    starts = by_kind(events, "span_start")
    assert len(starts) == 1_000 and len(by_kind(events, "span_end")) == 1_000
    assert {start["attributes"]["value"] for start in starts} == {"slow"}


class HeldText:
    """An attribute value whose text form waits until the test lets it go."""

    release = threading.Event()
    entered = threading.Event()  # a thread is held in its text form

    def __repr__(self) -> str:
        HeldText.entered.set()
        HeldText.release.wait(60)
        return "held"

    __str__ = __repr__


def test_a_writer_given_up_on_writes_nothing_it_was_counted_as_dropped_for(
    tmp_path: Path,
) -> None:
    """When shutdown stops waiting for a stuck writer, each event is either in the file
    or counted as dropped: never both (written after the trailer), never neither (lost
    from the writer's hands)."""
    HeldText.release.clear()
    HeldText.entered.clear()
    run = configure(tmp_path, flush_ms=60_000)  # everything waits for shutdown
    pipeline = RUNTIME.pipeline
    assert pipeline is not None and pipeline._thread is not None
    writer = pipeline._thread
    pipeline._converter.bound = 60.0  # no salvage of the held value: stuck until released
    with spanline.span("held", value=HeldText()):  # the writer sticks on its first record
        pass
    for number in range(3_000):  # more than one batch queued behind it
        with spanline.span("queued", n=number):
            pass
    trailer = pipeline.shutdown(timeout=0.2)  # no progress for 0.2 s: given up
    try:
        assert HeldText.entered.wait(30)  # the writer's helper holds the value...
        helper = pipeline._converter._thread
    finally:
        HeldText.release.set()  # ...and the writer moves again...
    writer.join(30)
    assert not writer.is_alive()  # ...and ends
    assert helper is not None
    helper.join(30)
    assert not helper.is_alive()  # and so does its helper: no thread is left behind
    events = read_lines(run.telemetry_path)
    assert events[-1] == trailer  # nothing written after this process's last line
    spans_written = len(by_kind(events, "span_start")) + len(by_kind(events, "span_end"))
    assert spans_written + trailer["dropped_events"] == 2 * 3_001
    assert trailer["dropped_events"] > 0
