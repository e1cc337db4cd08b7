"""``examples/eigenda_profile.py --slow PHASE=F`` scales one phase's durations."""

from __future__ import annotations

import json
from pathlib import Path

from tests._helpers import EXAMPLE, run_interpreter


def _phases(tmp_path: Path, *args: str) -> dict[str, float]:
    env = {"SPANLINE_DIR": str(tmp_path / "base")}
    result = run_interpreter(str(EXAMPLE), "--speed", "50", *args, env=env, cwd=tmp_path, bare=True)
    assert result.returncode == 0, result.stderr
    summary = json.loads(((tmp_path / "base" / "runs" / "latest") / "run_summary.json").read_text())
    return {name: phase["wall_ms"] for name, phase in summary["phases"].items()}


def test_slow_multiplies_one_phase(tmp_path: Path) -> None:
    phases = _phases(tmp_path, "--slow", "discovery=100")
    # discovery sleeps 0.4 s / speed: x100 at speed 50 is 800 ms at least (sleeps never
    # end early); unscaled it is 8 ms.
    assert phases["discovery"] >= 800.0
    # synthesis sleeps 1.0 s / 50 = 20 ms; scaled x100 its sleeps alone would take 2 s,
    # a bound that leaves a loaded machine's scheduling delays plenty of room.
    assert phases["synthesis"] < 2000.0


def test_slow_rejects_unknown_phase_and_bad_factor(tmp_path: Path) -> None:
    for bad in ("nophase=2", "discovery", "discovery=x", "discovery=0"):
        result = run_interpreter(str(EXAMPLE), "--slow", bad, cwd=tmp_path, bare=True)
        assert result.returncode == 2, bad
        assert "--slow" in result.stderr
        assert "Traceback" not in result.stderr
