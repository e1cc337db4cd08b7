"""Exporters: protocol, isolation of failures, retries, console and JSONL output."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import spanline
from spanline.exporters import ConsoleExporter, Exporter, InMemoryExporter, JsonlExporter
from tests._helpers import read_lines


class Flaky:
    """Fails the first ``failures`` export calls, then works."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0
        self.received: list[dict[str, Any]] = []

    def export(self, batch: Sequence[Mapping[str, Any]]) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectionError(f"receiver down (call {self.calls})")
        self.received.extend(batch)

    def flush(self) -> None:
        pass

    def shutdown(self) -> None:
        pass


class AlwaysFails(Flaky):
    def __init__(self) -> None:
        super().__init__(failures=10**9)


def test_builtin_exporters_fit_the_protocol(tmp_path) -> None:
    for exporter in (InMemoryExporter(), ConsoleExporter(), JsonlExporter(tmp_path / "x.jsonl")):
        assert isinstance(exporter, Exporter)


def test_failing_exporter_is_retried_then_counted_and_never_stops_the_file(tmp_path) -> None:
    from loguru import logger

    reports: list[str] = []
    handler = logger.add(reports.append, level="WARNING", format="{message}")
    flaky, broken, memory = Flaky(failures=2), AlwaysFails(), InMemoryExporter()
    run = spanline.configure_observability(
        enabled=True, run_dir=tmp_path, exporters=[broken, flaky, memory]
    )
    assert run is not None
    with spanline.span("one"):
        pass
    # Everything was handled, but one exporter lost it all: the flush is not confirmed.
    assert spanline.flush(timeout=30) is False
    with spanline.span("two"):
        pass
    spanline.shutdown()
    lines = read_lines(run.telemetry_path)
    names = [e["name"] for e in lines if e["event"] == "span_start"]
    assert names == ["one", "two"]  # the file is complete despite the broken exporter
    assert [e["event"] for e in flaky.received].count("span_start") == 2  # retried, delivered
    assert flaky.received[0]["event"] == "run_start"  # exporters see the run header too
    assert flaky.calls >= 3
    assert len(memory.spans()) == 2
    (trailer,) = [e for e in lines if e["event"] == "process_end"]
    stats = trailer["exporters"]
    assert stats["AlwaysFails"]["failed"] == 5  # run_start + 2 spans x (start, end), all lost
    assert stats["AlwaysFails"]["exported"] == 0
    assert stats["AlwaysFails"]["errors"] >= 4
    assert stats["Flaky"] == {"received": 5, "exported": 5, "failed": 0, "dropped": 0, "errors": 2}
    logger.remove(handler)
    text = "".join(reports)
    assert text.count("exporter AlwaysFails raised") == 1  # reported once, then counted
    assert "ConnectionError: receiver down" in text


def test_exporter_may_trace_without_deadlock(tmp_path) -> None:
    class Tracing(InMemoryExporter):
        def export(self, batch: Sequence[Mapping[str, Any]]) -> None:
            super().export(batch)
            assert spanline.flush(timeout=1) in (True, False)  # must not hang

    exporter = Tracing()
    spanline.configure_observability(enabled=True, run_dir=tmp_path, exporters=[exporter])
    with spanline.span("s"):
        pass
    assert spanline.flush(timeout=30)
    spanline.shutdown()
    assert len(exporter.spans()) == 1


def test_console_exporter_prints_one_line_per_span() -> None:
    stream = io.StringIO()
    console = ConsoleExporter(stream)
    console.export(
        [
            {"event": "span_start", "span_id": "a" * 16, "parent": None, "name": "run"},
            {"event": "span_start", "span_id": "b" * 16, "parent": "a" * 16, "name": "tool"},
            {"event": "span_end", "span_id": "b" * 16, "status": "ok", "duration_ms": 1.25,
             "tokens": 0, "tool_uses": 1},
            {"event": "span_end", "span_id": "a" * 16, "status": "error", "duration_ms": 10.0,
             "tokens": 12, "tool_uses": 0, "error": {"type": "KeyError", "message": "'x'"}},
            {"event": "phase", "name": "done", "wall_ms": 11.0},
        ]
    )  # fmt: skip
    assert stream.getvalue().splitlines() == [
        "  ✓ tool  1.2 ms  tool_uses=1",
        "✗ run  10.0 ms  tokens=12  KeyError: 'x'",
        "── phase done  11.0 ms",
    ]


def test_console_by_name_from_environment(tmp_path, monkeypatch, capfd) -> None:
    monkeypatch.setenv("SPANLINE_EXPORTERS", "console")
    spanline.configure_observability(enabled=True, run_dir=tmp_path)
    with spanline.span("visible"):
        pass
    spanline.shutdown()
    assert "✓ visible" in capfd.readouterr().err


def test_jsonl_exporter_mirrors_events_to_another_file(tmp_path) -> None:
    mirror = JsonlExporter(tmp_path / "mirror" / "events.jsonl")
    run = spanline.configure_observability(
        enabled=True, run_dir=tmp_path / "base", exporters=[mirror]
    )
    with spanline.span("mirrored"):
        pass
    spanline.shutdown()
    main = [e for e in read_lines(run.telemetry_path) if e["event"] != "process_end"]
    copy = read_lines(tmp_path / "mirror" / "events.jsonl")
    assert copy == main


def _wait_for_span_ends(path: Path, count: int) -> None:
    """Until the file holds ``count`` span_end lines; the bound is for a loaded machine."""
    deadline = time.monotonic() + 30
    while path.read_bytes().count(b'"span_end"') != count and time.monotonic() < deadline:
        time.sleep(0.02)
    assert path.read_bytes().count(b'"span_end"') == count


def test_slow_exporter_does_not_delay_the_file(tmp_path) -> None:
    release = threading.Event()

    class Slow(InMemoryExporter):
        def export(self, batch: Sequence[Mapping[str, Any]]) -> None:
            release.wait(30)
            super().export(batch)

    slow = Slow()
    run = spanline.configure_observability(enabled=True, run_dir=tmp_path, exporters=[slow])
    with spanline.span("first"):
        pass
    # The file must fill while the exporter blocks (the writer's own cadence).
    _wait_for_span_ends(run.telemetry_path, 1)
    assert slow.events == []
    # flush() waits for the exporter, up to its timeout; the writer never does.
    assert spanline.flush(timeout=0.2) is False
    with spanline.span("second"):
        pass
    _wait_for_span_ends(run.telemetry_path, 2)
    release.set()
    spanline.shutdown()
    assert len(slow.spans()) == 2
