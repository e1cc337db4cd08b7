"""benchmarks/logfire_export.py runs end to end at smoke size (no timing asserted: the
machine is shared and noisy)."""

from __future__ import annotations

import json
import math
from pathlib import Path

from tests._helpers import ROOT, run_interpreter


def test_the_logfire_benchmark_prints_its_ratio_tables(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    result = run_interpreter(
        str(ROOT / "benchmarks" / "logfire_export.py"), "--smoke", "--json", str(out), cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "Exporter worker, CPU per exported span" in result.stdout
    assert "Traced program, per span (the hot path)" in result.stdout
    results = json.loads(out.read_text())
    assert list(results["worker"]) == [
        "OTLP exporter",
        "Logfire exporter",
        "Logfire exporter, every span pending",
    ]
    assert list(results["caller"]) == [
        "no exporter",
        "otlp, receiver up",
        "logfire, receiver up",
        "otlp, receiver down",
        "logfire, receiver down",
    ]
    for table in results.values():
        assert all(math.isfinite(v) and v > 0 for v in table.values())
