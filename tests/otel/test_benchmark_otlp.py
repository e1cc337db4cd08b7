"""benchmarks/otlp.py runs end to end at smoke size. Behaviour only: the machine is
shared and noisy, so no timing is asserted (the full-size table is in docs)."""

from __future__ import annotations

import json
import math
from pathlib import Path

from tests._helpers import ROOT, run_interpreter


def test_the_otlp_benchmark_measures_every_scenario_and_the_log_stays_complete(
    tmp_path: Path,
) -> None:
    out = tmp_path / "otlp.json"
    result = run_interpreter(
        str(ROOT / "benchmarks" / "otlp.py"), "--smoke", "--json", str(out), cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    rows = json.loads(out.read_text())["results"]
    assert [r["scenario"] for r in rows] == [
        "none", "healthy", "healthy-process", "refused", "http-503", "slow",
    ]  # fmt: skip
    for row in rows:
        assert math.isfinite(row["hot_ratio"]) and row["hot_ratio"] > 0
        assert row["spans_in_log"] == row["expected_spans"], row  # JSONL is complete
        assert row["scenario"] in result.stdout
        counts = row["exporter"]
        if row["scenario"] == "none":
            assert counts == {}
            continue
        assert counts["received"] == (counts["exported"] + counts["dropped"] + counts["failed"]), (
            row
        )
        if row["scenario"] in ("refused", "http-503"):
            assert counts["failed"] + counts["dropped"] >= 2 * row["expected_spans"]
    healthy = rows[1]["exporter"]
    assert healthy["exported"] == healthy["received"]  # a smoke run fits in the queue
