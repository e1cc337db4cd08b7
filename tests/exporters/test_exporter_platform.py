"""The exporter platform: registration by entry point, missing extras, the protocol's
optional methods, counters by registered name, and no self-tracing."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest

import spanline
from spanline.exporters import InMemoryExporter
from tests._helpers import by_kind, configure, finish, run_python

THIRD_PARTY = '''
import json


class FileExporter:
    """Writes the names of span_start events it receives, one per line."""

    def __init__(self, path=None):
        import os

        self.path = path or os.environ["THIRD_PARTY_OUT"]

    def export(self, batch):
        with open(self.path, "a") as handle:
            for event in batch:
                if event["event"] == "span_start":
                    handle.write(event["name"] + "\\n")
'''

NEEDS_EXTRA = """
import fancy_receiver_sdk  # not installed: the extra is missing


class FancyExporter:
    def export(self, batch):
        pass
"""


def _install_third_party(site: Path) -> None:
    """A distribution on ``site`` registering two exporters, one needing an extra."""
    (site / "thirdparty_exp.py").write_text(THIRD_PARTY)
    (site / "fancy_exp.py").write_text(NEEDS_EXTRA)
    info = site / "thirdparty_exp-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: thirdparty-exp\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[spanline.exporters]\n"
        "thirdparty = thirdparty_exp:FileExporter\n"
        "fancy = fancy_exp:FancyExporter [fancy]\n"
    )


SCRIPT = """
import json, spanline, sys
run = spanline.configure_observability(enabled=True, run_dir=sys.argv[1])
with spanline.span("user-work"):
    pass
spanline.shutdown()
print(run.telemetry_path)
"""


def test_a_third_party_exporter_is_found_by_its_entry_point_name(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    _install_third_party(site)
    out = tmp_path / "received.txt"
    result = run_python(
        SCRIPT.replace("sys.argv[1]", repr(str(tmp_path / "runs"))),
        env={
            "PYTHONPATH": str(site),
            "SPANLINE_EXPORTERS": "jsonl,thirdparty",
            "THIRD_PARTY_OUT": str(out),
        },
    )
    assert result.returncode == 0, result.stderr
    assert out.read_text().splitlines() == ["user-work"]
    lines = [json.loads(line) for line in Path(result.stdout.strip()).read_text().splitlines()]
    (trailer,) = [e for e in lines if e["event"] == "process_end"]
    # Counters are keyed by the registered name, and received = exported + dropped + failed.
    assert trailer["exporters"]["thirdparty"]["exported"] == 3  # run_start + start + end
    assert trailer["exporters"]["thirdparty"]["received"] == 3


def test_an_exporter_whose_extra_is_missing_warns_once_and_tracing_goes_on(
    tmp_path: Path,
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    _install_third_party(site)
    result = run_python(
        SCRIPT.replace("sys.argv[1]", repr(str(tmp_path / "runs"))),
        env={"PYTHONPATH": str(site), "SPANLINE_EXPORTERS": "fancy,fancy"},
    )
    assert result.returncode == 0, result.stderr
    warning_lines = [line for line in result.stderr.splitlines() if "pip install" in line]
    assert len(warning_lines) == 1, result.stderr
    assert "pip install 'thirdparty-exp[fancy]'" in warning_lines[0]
    assert "fancy_receiver_sdk" in warning_lines[0]
    events = [json.loads(line) for line in Path(result.stdout.strip()).read_text().splitlines()]
    assert [e["name"] for e in events if e["event"] == "span_start"] == ["user-work"]


def test_a_builtin_name_is_registered_as_an_entry_point() -> None:
    from importlib.metadata import entry_points

    names = {ep.name for ep in entry_points(group="spanline.exporters")}
    assert {"console", "memory"} <= names
    from spanline.exporters import registered_names

    assert {"jsonl", "console", "memory"} <= set(registered_names())


def test_an_unknown_name_is_an_error_when_explicit_and_a_warning_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(spanline.ConfigurationError, match="unknown exporter 'nope'"):
        spanline.configure_observability(enabled=True, run_dir=tmp_path, exporters=["nope"])
    monkeypatch.setenv("SPANLINE_EXPORTERS", "nope")
    with pytest.warns(spanline.SpanlineWarning, match="SPANLINE_EXPORTERS: unknown exporter"):
        run = spanline.configure_observability(enabled=True, run_dir=tmp_path)
    assert run is not None
    spanline.shutdown()


class _Recorder:
    """Every optional method, with timeouts: records how it was called."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.events = 0

    def export(self, batch: Any) -> None:
        self.events += len(batch)

    def flush(self, timeout: float | None = None) -> bool:
        self.calls.append(("flush", timeout))
        return True

    def shutdown(self, timeout: float | None = None) -> None:
        self.calls.append(("shutdown", timeout))


class _ExportOnly:
    """Only export(): the other methods are optional."""

    def __init__(self) -> None:
        self.events = 0

    def export(self, batch: Any) -> None:
        self.events += len(batch)


class _OldStyle(_ExportOnly):
    """flush() and shutdown() without a timeout keep working."""

    def __init__(self) -> None:
        super().__init__()
        self.flushed = self.closed = 0

    def flush(self) -> None:
        self.flushed += 1

    def shutdown(self) -> None:
        self.closed += 1


def test_optional_methods_are_called_with_a_timeout_when_they_take_one(tmp_path: Path) -> None:
    recorder, minimal, old = _Recorder(), _ExportOnly(), _OldStyle()
    run = configure(tmp_path, exporters=[recorder, minimal, old])
    with spanline.span("work"):
        pass
    assert spanline.flush(timeout=10)
    _, events = finish(run)
    assert recorder.events == minimal.events == old.events == 3  # run_start, span_start, span_end
    assert ("flush", None) in recorder.calls
    (shutdown_call,) = [call for call in recorder.calls if call[0] == "shutdown"]
    assert isinstance(shutdown_call[1], float) and shutdown_call[1] > 0
    assert old.flushed >= 1 and old.closed == 1
    (trailer,) = by_kind(events, "process_end")
    assert set(trailer["exporters"]) == {"_Recorder", "_ExportOnly", "_OldStyle"}


def test_exporters_with_the_same_name_get_distinct_counters(tmp_path: Path) -> None:
    run = configure(tmp_path, exporters=[InMemoryExporter(), InMemoryExporter(), "memory"])
    _, events = finish(run)
    (trailer,) = by_kind(events, "process_end")
    assert sorted(trailer["exporters"]) == ["InMemoryExporter", "InMemoryExporter#2", "memory"]


class _Tracing:
    """An exporter that traces inside export(): spans, decorators and events."""

    def __init__(self) -> None:
        self.calls = 0

    def export(self, batch: Any) -> None:
        self.calls += 1

        @spanline.traced_tool
        def inner_tool() -> int:
            return 1

        with spanline.span("exporter-span"):
            inner_tool()
            spanline.event("exporter-event")
            spanline.phase("exporter-phase")

    def flush(self, timeout: float | None = None) -> None:
        with spanline.span("exporter-flush-span"):
            pass


def test_an_exporter_that_traces_causes_no_feedback(tmp_path: Path) -> None:
    tracing = _Tracing()
    run = configure(tmp_path, exporters=[tracing])
    for number in range(5):
        with spanline.span(f"user-{number}"):
            pass
        assert spanline.flush(timeout=10)
    summary, events = finish(run)
    starts = by_kind(events, "span_start")
    assert [e["name"] for e in starts] == [f"user-{n}" for n in range(5)]
    assert by_kind(events, "event") == by_kind(events, "phase") == []
    (trailer,) = by_kind(events, "process_end")
    assert tracing.calls >= 5
    # Each export() call opened one span and one decorated call; each flush one span;
    # events and phases are suppressed too, all counted.
    assert trailer["suppressed_spans"] >= 5 * 4
    assert summary.totals.suppressed_spans == trailer["suppressed_spans"]


LOSING = """
import spanline, sys


class Failing:
    def export(self, batch):
        raise ConnectionError("receiver http://user:sk-ant-api03-abcdefghijklmnopqrstuvwx@h down")


run = spanline.configure_observability(enabled=True, run_dir=sys.argv[1], exporters=[Failing()])
for number in range(3):
    with spanline.span(f"s{number}"):
        pass
spanline.shutdown()
print(run.log_path)
"""


def test_losses_are_reported_once_per_exporter_as_one_redacted_line(tmp_path: Path) -> None:
    result = run_python(LOSING.replace("sys.argv[1]", repr(str(tmp_path))))
    assert result.returncode == 0, result.stderr
    err = result.stderr
    loss_lines = [line for line in err.splitlines() if "exporter Failing lost" in line]
    assert len(loss_lines) == 1, err
    assert "lost 7 of 7 events (0 dropped, 7 failed after retries)" in loss_lines[0]
    # The exception is shown once, framed, with the secret in its message redacted.
    assert err.count("── end of spanline report") == 1
    assert "sk-ant-api03-abcdefghijklmnopqrstuvwx" not in err
    log = Path(result.stdout.strip()).read_text()
    assert "exporter Failing lost 7 of 7 events" in log
    assert "sk-ant-api03-abcdefghijklmnopqrstuvwx" not in log


def test_spans_on_spanline_threads_are_suppressed_even_with_an_explicit_parent(
    tmp_path: Path,
) -> None:
    import threading

    from spanline._hotpath._runtime import mark_internal_thread

    run = configure(tmp_path)
    with spanline.span("user") as user:
        pass

    def internal() -> None:
        mark_internal_thread()
        with spanline.span("ours", parent=user):
            pass

    thread = threading.Thread(target=internal)
    thread.start()
    thread.join()
    _, events = finish(run)
    assert [e["name"] for e in by_kind(events, "span_start")] == ["user"]
    assert by_kind(events, "process_end")[0]["suppressed_spans"] == 1


def test_no_warning_for_a_plain_configuration(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run = configure(tmp_path, exporters=["memory", "console"])
    finish(run)
