"""The high-entropy rule's false-positive benchmark runs end to end on a few files.

Behaviour only: the corpus is seeded, so the shape of the report and the rule's recall
on random secrets are checked, not the figures the docs quote from a full run.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests._helpers import ROOT, run_interpreter


def test_the_benchmark_reports_every_corpus_and_the_recall(tmp_path: Path) -> None:
    out = tmp_path / "entropy.json"
    script = ROOT / "benchmarks" / "entropy_false_positives.py"
    result = run_interpreter(str(script), "--smoke", "--json", str(out))
    assert result.returncode == 0, result.stderr
    document = json.loads(out.read_text())
    corpus = document["corpus"]
    assert {"uuid", "md5 / sha1 / sha256", "base64 data URL (small image)"} <= set(corpus)
    for name in ("uuid", "md5 / sha1 / sha256", "git commit id", "base64 data URL (small image)"):
        assert corpus[name]["flagged"] == 0, name  # hex ids and data URLs are never secrets
        assert corpus[name]["words"] > 0
    assert document["recall"]["bare AWS secret (40, base64)"] > 0.9
    assert "| corpus | words |" in result.stdout
