"""A summary read back from run_summary.json is the summary that was written."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from spanline.folds import RunSummary

RUNS = Path(__file__).parent.parent / "golden" / "runs"


@pytest.mark.parametrize("name", sorted(p.parent.name for p in RUNS.glob("*/summary.json")))
def test_from_dict_gives_back_the_same_summary(name: str) -> None:
    stored = orjson.loads((RUNS / name / "summary.json").read_bytes())
    assert RunSummary.from_dict(stored).to_dict() == stored
