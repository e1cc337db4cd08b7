"""benchmarks/instrument.py at smoke size: every row measured, a ratio table printed."""

from __future__ import annotations

import json
import math
from pathlib import Path

from tests._helpers import ROOT, run_interpreter

SCRIPT = ROOT / "benchmarks" / "instrument.py"


def test_instrument_benchmark_smoke(tmp_path: Path) -> None:
    out = tmp_path / "instrument.json"
    result = run_interpreter(str(SCRIPT), "--smoke", "--json", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = json.loads(out.read_text())["rows"]
    assert [(row["group"], row["name"]) for row in rows] == [
        ("SDK call", "not instrumented"),
        ("SDK call", "instrumented, tracing off"),
        ("SDK call", "instrumented, tracing on"),
        ("plain span", "not instrumented"),
        ("plain span", "instrumented"),
    ]
    assert all(math.isfinite(row["us"]) and row["us"] > 0 for row in rows)
    assert "ratio" in result.stdout and "1.00x" in result.stdout
