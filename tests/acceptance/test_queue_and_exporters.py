"""The queue bound (events past it dropped and counted) and exporter isolation."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

import spanline
from spanline.exporters import InMemoryExporter
from tests._helpers import by_kind, configure, finish, read_lines, run_python

SPANS = 5_000


def test_queue_bound_drops_are_counted_exactly_and_reported(tmp_path: Path) -> None:
    code = f"""
import spanline, json
run = spanline.configure_observability(enabled=True, run_dir={str(tmp_path)!r},
                                       max_queue=50, flush_ms=60000)
tracer = spanline.get_tracer()
for i in range({SPANS}):
    with tracer.span("s"):
        if i % 10 == 0:
            tracer.event("e")
    if i % 100 == 0:
        tracer.phase("p", n=i)
summary = spanline.shutdown()
print(json.dumps({{"dir": str(run.directory), "dropped": summary.dropped_events}}))
"""
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    run_dir = Path(out["dir"])
    events = read_lines(run_dir / "telemetry.jsonl")
    produced = 2 * SPANS + SPANS // 10 + SPANS // 100
    written = sum(1 for e in events if e["event"] in ("span_start", "span_end", "event", "phase"))
    (trailer,) = by_kind(events, "process_end")
    assert written + trailer["dropped_events"] == produced  # nothing lost uncounted
    assert trailer["dropped_events"] == out["dropped"] > 0
    summary = json.loads((run_dir / "run_summary.json").read_text())
    assert summary["dropped_events"] == out["dropped"]
    assert str(out["dropped"]) in result.stderr  # printed at shutdown
    assert "Traceback" not in result.stderr


def test_drops_are_told_as_they_begin_once_and_counted_at_the_end(tmp_path: Path) -> None:
    """The writer says so the first time it finds events dropped, during the run; the
    run's end gives the count."""
    code = f"""
import sys, spanline
spanline.configure_observability(enabled=True, run_dir={str(tmp_path)!r},
                                 max_queue=50, flush_ms=60000)
for burst in range(3):
    for i in range(500):
        with spanline.span("s"):
            pass
    spanline.flush()
    print("burst", burst, "written", file=sys.stderr, flush=True)
print("dropped", spanline.shutdown().dropped_events, file=sys.stderr)
"""
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    told = result.stderr.index("events are being dropped: 50 already wait for the writer")
    assert told < result.stderr.index("burst 0 written")  # during the run, not at its end
    assert result.stderr.count("events are being dropped") == 1
    dropped = int(result.stderr.split("dropped ")[-1])
    assert dropped > 0 and result.stderr.count(f"{dropped} events were dropped") == 1


def test_default_queue_bound_is_two_million(tmp_path: Path) -> None:
    run = configure(tmp_path, flush_ms=60_000)
    tracer = spanline.get_tracer()
    for _ in range(100_000):  # 200k events queued while the writer sleeps: all kept
        with tracer.span("s"):
            pass
    summary, events = finish(run)
    assert summary.dropped_events == 0
    assert len(by_kind(events, "span_end")) == 100_000


class Boom:
    def __init__(self) -> None:
        self.calls = 0

    def export(self, batch):
        self.calls += 1
        raise RuntimeError("exporter down")

    def flush(self):
        raise RuntimeError("flush down")

    def shutdown(self):
        raise RuntimeError("shutdown down")


def test_a_raising_exporter_is_isolated_and_counted(tmp_path: Path) -> None:
    boom, memory = Boom(), InMemoryExporter()
    run = configure(tmp_path, exporters=[boom, memory])
    tracer = spanline.get_tracer()
    for index in range(200):
        with tracer.span("s", index=index):
            pass
    # Everything was handled (nothing hangs), but an exporter that raised on every
    # batch did not confirm: flush() says so (an honest flush).
    assert spanline.flush(timeout=30) is False
    summary, events = finish(run)
    assert len(by_kind(events, "span_end")) == 200  # the file is complete
    assert len([e for e in memory.events if e["event"] == "span_end"]) == 200
    (trailer,) = by_kind(events, "process_end")
    stats = trailer["exporters"]
    (boom_name,) = [name for name in stats if name != "InMemoryExporter"]
    # Exporters get every line but process_end (written after they shut down).
    handed = sum(1 for e in events if e["event"] != "process_end")
    assert stats[boom_name]["exported"] == 0
    assert stats[boom_name]["failed"] + stats[boom_name]["dropped"] == handed
    assert stats[boom_name]["errors"] >= 1 and boom.calls >= 1
    assert stats["InMemoryExporter"]["exported"] == handed
    assert stats["InMemoryExporter"]["failed"] == 0
    assert summary.span_count == 200
    assert "Boom" in run.log_path.read_text()  # reported in the run's spanline.log


def test_a_stuck_exporter_never_delays_the_caller_or_the_file(tmp_path: Path) -> None:
    release = threading.Event()

    class Stuck:
        def export(self, batch):
            release.wait(30)

        def flush(self):
            pass

        def shutdown(self):
            pass

    run = configure(tmp_path, exporters=[Stuck()], flush_ms=20)
    tracer = spanline.get_tracer()
    for _ in range(100):
        with tracer.span("while-stuck"):
            pass
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if run.telemetry_path.read_bytes().count(b'"span_end"') == 100:
            break
        time.sleep(0.02)
    else:
        pytest.fail("telemetry.jsonl waited for the exporter")
    release.set()
    finish(run)


def test_tracing_and_flushing_from_inside_an_exporter_does_not_deadlock(tmp_path: Path) -> None:
    results: list[bool] = []

    class Reentrant:
        def export(self, batch):
            if not results:
                with spanline.span("from-exporter"):
                    pass
                results.append(spanline.flush(timeout=5))

        def flush(self):
            pass

        def shutdown(self):
            pass

    run = configure(tmp_path, exporters=[Reentrant()])
    with spanline.span("trigger"):
        pass
    assert spanline.flush(timeout=30) is True
    assert spanline.flush(timeout=30) is True
    _, events = finish(run)
    assert results == [False]  # flush() from an exporter returns at once
    # spanline never traces itself: the exporter's span is a no-op, counted.
    assert {e["name"] for e in by_kind(events, "span_start")} == {"trigger"}
    assert sum(e["suppressed_spans"] for e in by_kind(events, "process_end")) == 1


def test_exporter_objects_are_checked_and_names_resolved(tmp_path: Path) -> None:
    with pytest.raises(spanline.ConfigurationError):
        spanline.configure_observability(enabled=True, run_dir=tmp_path, exporters=[object()])
    run = configure(tmp_path, exporters=["memory", "jsonl"])
    with spanline.span("named"):
        pass
    _, events = finish(run)
    assert len(by_kind(events, "span_end")) == 1


def test_unknown_exporter_name_in_the_environment_warns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPANLINE_EXPORTERS", "jsonl,nonesuch")
    with pytest.warns(spanline.SpanlineWarning, match="nonesuch"):
        run = configure(tmp_path)
    with spanline.span("still-traced"):
        pass
    _, events = finish(run)
    assert len(by_kind(events, "span_end")) == 1
