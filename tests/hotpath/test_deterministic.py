"""Reproducible runs: injected ids and clock, a chosen run id, synchronous writes."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

import spanline
from spanline.testing import deterministic_sources
from tests._helpers import read_lines


def test_ids_times_run_id_and_pid_come_from_the_arguments(tmp_path: Path) -> None:
    ids = itertools.count(0x10)
    ticks = itertools.count(0)
    run = spanline.configure_observability(
        enabled=True,
        run_dir=tmp_path,
        run_id="fixed-run",
        id_generator=ids.__next__,
        clock=lambda: 1_000.0 + next(ticks),
        synchronous=True,
    )
    assert run is not None and run.run_id == "fixed-run"
    assert run.directory == (tmp_path / "runs" / "fixed-run").resolve()
    with spanline.span("outer"):
        with spanline.span("inner"):
            pass
        spanline.phase("half-way")
    spanline.shutdown()
    lines = read_lines(run.telemetry_path)
    assert [e["event"] for e in lines] == [
        "run_start", "span_start", "span_start", "span_end", "phase", "span_end", "process_end",
    ]  # fmt: skip
    assert {e["pid"] for e in lines if "pid" in e} == {1}
    assert [e["span_id"] for e in lines if e["event"] == "span_start"] == [
        "0000000000000010",
        "0000000000000011",
    ]
    assert all(float(e["ts"]).is_integer() and e["ts"] >= 1_000 for e in lines)
    inner_end = next(e for e in lines if e["event"] == "span_end")
    assert inner_end["duration_ms"] == 1000.0  # one clock reading apart
    phase = next(e for e in lines if e["event"] == "phase")
    assert phase["wall_ms"] > 0 and float(phase["wall_ms"]).is_integer()


def test_synchronous_writes_each_span_as_it_ends(tmp_path: Path) -> None:
    run = spanline.configure_observability(enabled=True, run_dir=tmp_path, synchronous=True)
    assert run is not None
    with spanline.span("first"):
        pass
    # No flush(): the lines are on disk already.
    events = [e["event"] for e in read_lines(run.telemetry_path)]
    assert events == ["run_start", "span_start", "span_end"]
    spanline.shutdown()


def test_without_injection_ids_and_times_are_real_again(tmp_path: Path) -> None:
    spanline.configure_observability(
        enabled=True, run_dir=tmp_path, run_id="a", **deterministic_sources()
    )
    spanline.shutdown()
    run = spanline.configure_observability(enabled=True, run_dir=tmp_path)
    assert run is not None
    with spanline.span("real") as span:
        pass
    spanline.shutdown()
    assert int(span.span_id, 16) > 1_000_000  # random, not the counter
    start = next(e for e in read_lines(run.telemetry_path) if e["event"] == "span_start")
    assert start["ts"] > 1_700_000_100


@pytest.mark.parametrize("bad", ["../x", "/abs", "a/b", "", ".."])
def test_a_malformed_run_id_is_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(spanline.ConfigurationError, match="run_id"):
        spanline.configure_observability(enabled=True, run_dir=tmp_path, run_id=bad)
    assert not (tmp_path / "runs").exists() or list((tmp_path / "runs").iterdir()) == []


def test_an_existing_run_id_is_refused(tmp_path: Path) -> None:
    spanline.configure_observability(enabled=True, run_dir=tmp_path, run_id="taken")
    spanline.shutdown()
    with pytest.raises(spanline.ConfigurationError, match="already exists"):
        spanline.configure_observability(enabled=True, run_dir=tmp_path, run_id="taken")
