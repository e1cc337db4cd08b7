"""The live summary: rewritten while the run is live, never in the writer's way."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import orjson

import spanline
from spanline._runs._store import create_run
from spanline._session._live_summary import LiveSummary


def _write(run: spanline.Run, *events: dict) -> None:
    with run.telemetry_path.open("ab") as handle:
        for event in events:
            handle.write(orjson.dumps(event) + b"\n")


def _span(number: int) -> list[dict]:
    sid = f"{number:016x}"
    return [
        {"event": "span_start", "span_id": sid, "parent": None, "name": f"s{number}",
         "kind": "agent", "ts": float(number), "attributes": {}},
        {"event": "span_end", "span_id": sid, "status": "ok", "duration_ms": 1.0,
         "tokens": 10, "tool_uses": 0, "ts": number + 0.001, "attributes": {}},
    ]  # fmt: skip


def _wait_for(path: Path, spans: int) -> dict:
    deadline = time.monotonic() + 30  # a bound for a loaded machine, not a measurement
    while time.monotonic() < deadline:
        if path.exists():
            summary = orjson.loads(path.read_bytes())
            if summary["span_count"] == spans:
                return summary
        time.sleep(0.02)
    raise AssertionError(f"the live summary never showed {spans} spans")


def test_the_summary_follows_the_file_and_the_last_pass_finishes_it(tmp_path: Path) -> None:
    run = create_run(tmp_path, "live")
    live = LiveSummary(run, interval=0.02, prices=None)
    live.start()
    _write(run, *_span(1))
    assert _wait_for(run.summary_path, 1)["totals"]["total_tokens"] == 10
    _write(run, *_span(2), *_span(3))
    assert _wait_for(run.summary_path, 3)["totals"]["total_tokens"] == 30
    _write(run, *_span(4))
    summary = live.finish()
    assert summary is not None and summary.span_count == 4
    assert orjson.loads(run.summary_path.read_bytes()) == summary.to_dict()


def test_passes_are_skipped_while_the_writer_is_behind(tmp_path: Path) -> None:
    run = create_run(tmp_path, "busy")
    busy = [True]
    looks: list[int] = []

    def backlog() -> int:
        looks.append(1)
        return 1_000_000 if busy[0] else 0

    live = LiveSummary(run, interval=0.01, prices=None, backlog=backlog)
    live.start()
    _write(run, *_span(1))
    deadline = time.monotonic() + 30  # a bound for a loaded machine, not a measurement
    while len(looks) < 20 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(looks) >= 20  # twenty passes, each of which saw a busy writer
    assert not run.summary_path.exists()
    busy[0] = False
    assert _wait_for(run.summary_path, 1)["span_count"] == 1
    assert live.finish() is not None


def test_interval_zero_writes_only_at_the_end(tmp_path: Path) -> None:
    run = create_run(tmp_path, "quiet")
    live = LiveSummary(run, interval=0, prices=None)
    live.start()
    _write(run, *_span(1))
    time.sleep(0.05)
    assert not run.summary_path.exists()
    summary = live.finish()
    assert summary is not None and summary.span_count == 1 and run.summary_path.exists()


def test_the_first_pass_waits_for_a_busy_writer_then_comes_early(tmp_path: Path) -> None:
    """A pass skipped because the writer is behind does not push the first summary to
    the next interval: with an hour between rewrites, one still arrives soon."""
    run = create_run(tmp_path, "busy-start")
    run.telemetry_path.write_bytes(b'{"event":"phase","name":"p","wall_ms":1.0,"ts":1.0}\n')
    started = time.monotonic()
    checked = []

    def backlog() -> int:
        checked.append(time.monotonic() - started)
        return 10**6 if len(checked) < 2 else 0  # busy at the first look only

    live = LiveSummary(run, interval=3600.0, prices=None, backlog=backlog)
    live.start()
    try:
        deadline = time.monotonic() + 60  # a bound for a loaded machine, not a measurement
        while not run.summary_path.is_file() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert run.summary_path.is_file() and len(checked) == 2
    finally:
        live.finish()


def test_a_bounded_step_folds_part_of_a_backlog_and_the_next_goes_on_from_it(
    tmp_path: Path,
) -> None:
    """The helper folds a large backlog in steps, looking at its pipe between them."""
    run = create_run(tmp_path, "steps")
    _write(run, *(event for number in range(1, 3001) for event in _span(number)))
    size = run.telemetry_path.stat().st_size
    live = LiveSummary(run, interval=0, prices=None)
    offsets = [live.folded()]
    while offsets[-1] < size:
        offsets.append(live.fold_new(limit=size // 10))
        assert len(offsets) < 100, "a step folded nothing"
    steps = [after - before for before, after in itertools.pairwise(offsets)]
    assert len(steps) >= 5 and all(step > 0 for step in steps)  # in parts, never all at once
    assert offsets[0] == 0 and offsets[-1] == live.folded() == size
    summary = live.finish()
    assert summary is not None and summary.span_count == 3000
    assert summary.to_dict() == spanline.summarize_file(run.telemetry_path).to_dict()
