"""benchmarks/query.py runs end to end on a tiny run (behaviour only: no timing asserted)."""

from __future__ import annotations

import json
import math
from pathlib import Path

from tests._helpers import ROOT, run_interpreter


def test_query_benchmark_smoke(tmp_path: Path) -> None:
    out = tmp_path / "query.json"
    script = ROOT / "benchmarks" / "query.py"
    result = run_interpreter(str(script), "--smoke", "--json", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    document = json.loads(out.read_text())
    assert [row["name"] for row in document["rows"]] == ["query", "query attributes"]
    for row in document["rows"]:
        assert all(math.isfinite(s) and s > 0 for s in row["samples"]), row["name"]
    assert document["counted"] == document["spans"] > 2_000
    assert document["target_s"] == 1.5 and isinstance(document["target_met"], bool)
    assert "target (query <= 1.5 s end to end)" in result.stdout
