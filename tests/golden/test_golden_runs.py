"""Runs recorded by an earlier spanline keep folding to the summary they had then.

The runs (the EigenDA example, with ``--fail``, killed with SIGKILL midway, a
run of four processes, a run with bridged OpenTelemetry spans) and how they
were made are in ``runs/make_runs.py``.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

import spanline

RUNS = Path(__file__).parent / "runs"
NAMES = sorted(path.parent.name for path in RUNS.glob("*/telemetry.jsonl"))


def test_every_kind_of_run_is_kept() -> None:
    assert NAMES == ["eigenda", "eigenda_fail", "four_processes", "killed", "otel_bridge"]


@pytest.mark.parametrize("name", NAMES)
def test_a_recorded_run_folds_to_its_recorded_summary(name: str) -> None:
    expected = orjson.loads((RUNS / name / "summary.json").read_bytes())
    summary = spanline.summarize_file(RUNS / name / "telemetry.jsonl").to_dict()
    assert summary == expected
    assert summary["skipped_line_count"] == 0


def test_the_recorded_runs_show_what_they_were_recorded_for() -> None:
    def fold(name: str) -> dict[str, object]:
        return spanline.summarize_file(RUNS / name / "telemetry.jsonl").to_dict()

    assert fold("eigenda")["errors"] == [] and fold("eigenda_fail")["errors"] != []
    killed = fold("killed")
    assert killed["status"] == "incomplete" and killed["open_spans"] > 0
    assert fold("four_processes")["processes"] == 4
    bridged = fold("otel_bridge")
    assert bridged["span_count"] == 4 and bridged["errors"] != []
