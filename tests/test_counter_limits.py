"""Counters at the limits of 64 bits: refused when added, summed past them when read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

import spanline
from tests._helpers import configure, read_lines, run_cli

#: The largest counter a span holds (int64).
COUNT_MAX = 2**63 - 1


@pytest.mark.parametrize("value", [2**63, -(2**64), 1e19, -1e19, 10**30])
def test_a_counter_past_64_bits_is_refused_and_the_span_keeps_its_end(
    tmp_path: Path, value: int | float
) -> None:
    run = configure(tmp_path)
    with spanline.span("big") as span:
        span.add(tokens=5)
        with pytest.raises(ValueError, match="past 64 bits"):
            span.add(tokens=value)
    spanline.shutdown()
    ends = [e for e in read_lines(run.telemetry_path) if e["event"] == "span_end"]
    assert [end["tokens"] for end in ends] == [5]
    shown = orjson.loads(run_cli("summary", str(run.directory), "--json", "--refold").stdout)
    assert shown["open_spans"] == 0 and shown["span_count"] == 1
    assert shown["totals"]["total_tokens"] == 5 and shown["skipped_line_count"] == 0


def test_a_sum_past_64_bits_within_one_span_is_refused(tmp_path: Path) -> None:
    configure(tmp_path)
    with spanline.span("halves") as span:
        span.add(tokens=2**62, cost_units=COUNT_MAX)
        span.add(tokens=2**62 - 1)  # exactly the largest counter
        with pytest.raises(ValueError, match="'tokens' would be"):
            span.add(tokens=1)
        with pytest.raises(ValueError, match="'cost_units'"):
            span.add(cost_units=0.5e19)
    summary = spanline.shutdown()
    assert summary is not None
    assert summary.totals.total_tokens == COUNT_MAX
    assert summary.totals.counters["cost_units"] == COUNT_MAX


def test_a_provider_usage_past_64_bits_never_raises_into_the_program(tmp_path: Path) -> None:
    configure(tmp_path)

    @spanline.traced_llm(provider="openai", model="m")
    def call() -> dict[str, Any]:
        return {"usage": {"prompt_tokens": 2**64, "completion_tokens": 1}}

    call()  # the counts stay in the span's attributes, the counter is left out
    summary = spanline.shutdown()
    assert summary is not None and summary.span_count == 1 and summary.open_spans == 0


def _process_end(pid: int, dropped: int) -> dict[str, Any]:
    return {"event": "process_end", "pid": pid, "ts": 2.0, "dropped_events": dropped,
            "suppressed_spans": dropped, "write_errors": 0,
            "exporters": {"x": {"received": dropped, "exported": 0, "dropped": dropped,
                                "failed": 0, "errors": 0}}}  # fmt: skip


def test_dropped_events_summed_past_64_bits_become_a_float(tmp_path: Path) -> None:
    run = tmp_path / "runs" / "limits-20260101T000000-abcdef"
    run.mkdir(parents=True)
    lines = [_process_end(1, COUNT_MAX), _process_end(2, COUNT_MAX)]
    (run / "telemetry.jsonl").write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in lines))
    result = run_cli("summary", str(run), "--json")
    assert result.returncode == 0, result.stderr
    shown = orjson.loads(result.stdout)
    assert shown["skipped_line_count"] == 0
    # Close to the true sum, as every sum past 64 bits: never stopped at the largest int.
    assert shown["dropped_events"] == pytest.approx(2 * COUNT_MAX)
    assert shown["totals"]["suppressed_spans"] == pytest.approx(2 * COUNT_MAX)
    assert shown["exporters"]["x"]["dropped"] == pytest.approx(2 * COUNT_MAX)
