"""spanline's hot path against the OpenTelemetry SDK's, in alternating rounds.

Usage::

    python benchmarks/hot_ratio.py [--rounds N] [--spans N] [--repeats R] [--base REV]
                                   [--smoke] [--json PATH]

Each round runs the workers of ``benchmarks/hot_path.py`` one after the other, each in
a fresh interpreter: ``--worker spanline`` (this checkout), ``--worker otel-sdk`` and,
with ``--base REV``, ``--worker spanline`` again on that commit's sources (exported
with ``git archive``, imported through ``PYTHONPATH``). A worker's figure is its median
hot path over ``--repeats`` repeats of ``--spans`` spans, µs a span. The round's ratio
divides spanline's figure by the OTel SDK's of the same round, so a change in the
machine's load falls on both. The order of the workers alternates from round to round.

It prints every round with the load average at its start, then the minimum, median and
maximum of the ratios against the target (at most 0.08 of the OTel SDK's hot path).
No test asserts a timing: ``tests/test_benchmark_smoke.py`` runs ``--smoke``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hot_path import RESULT_PREFIX, WORKER_TIMEOUT_S, worker_env  # the script's directory

REPO = Path(__file__).resolve().parent.parent
SCRIPT = Path(__file__).resolve().parent / "hot_path.py"
TARGET = 0.08
DEFAULTS = {"rounds": 7, "spans": 100_000, "repeats": 3}
SMOKE = {"rounds": 2, "spans": 2_000, "repeats": 1}


def run_worker(name: str, spans: int, repeats: int, scratch: Path, src: Path | None) -> float:
    """One worker of hot_path.py; its median hot path, µs a span."""
    env = worker_env()
    if src is not None:
        env["PYTHONPATH"] = str(src)
    command = [sys.executable, str(SCRIPT), "--worker", name, "--spans", str(spans)]
    command += [
        "--repeats",
        str(repeats),
        "--out-dir",
        str(scratch / f"{name}-{os.urandom(4).hex()}"),
    ]
    proc = subprocess.run(
        command, env=env, cwd=scratch, capture_output=True, text=True,
        timeout=WORKER_TIMEOUT_S, check=False,
    )  # fmt: skip
    results = [x for x in proc.stdout.splitlines() if x.startswith(RESULT_PREFIX)]
    if proc.returncode != 0 or not results:
        raise SystemExit(f"{name}: worker failed with exit code {proc.returncode}\n{proc.stderr}")
    samples = json.loads(results[-1][len(RESULT_PREFIX) :])["samples"]
    return statistics.median(s["hot_s"] / s["spans"] * 1e6 for s in samples)


def export_base(rev: str, into: Path) -> Path:
    """The ``src`` folder of commit ``rev``, exported under ``into``."""
    into.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", rev, "src"], capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "src"


def measure(args: argparse.Namespace, scratch: Path, base: Path | None) -> list[dict[str, Any]]:
    """Every round: each worker's figure, the load before it, and the ratios."""
    sides: list[tuple[str, str, Path | None]] = [
        ("spanline", "spanline", None),
        ("otel-sdk", "otel-sdk", None),
    ]
    if base is not None:
        sides.append(("base", "spanline", base))
    rounds = []
    for number in range(args.rounds):
        load = os.getloadavg()[0]
        order = sides if number % 2 == 0 else sides[::-1]
        figures = {
            label: run_worker(w, args.spans, args.repeats, scratch, src) for label, w, src in order
        }
        row: dict[str, Any] = {"round": number + 1, "load": load, **figures}
        row["ratio"] = figures["spanline"] / figures["otel-sdk"]
        if base is not None:
            row["base_ratio"] = figures["base"] / figures["otel-sdk"]
        rounds.append(row)
        print(format_round(row), flush=True)
    return rounds


def format_round(row: dict[str, Any]) -> str:
    """One round: load, figures, ratios."""
    text = f"round {row['round']:>2}  load {row['load']:5.2f}  spanline {row['spanline']:6.3f} us"
    text += f"  otel-sdk {row['otel-sdk']:7.3f} us  ratio {row['ratio']:.4f}"
    if "base" in row:
        text += f"  base {row['base']:6.3f} us  base ratio {row['base_ratio']:.4f}"
    return text


def summary(rounds: list[dict[str, Any]], key: str) -> dict[str, float]:
    """Minimum, median and maximum of one column of ratios."""
    values = [row[key] for row in rounds]
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, help="alternating rounds (default 7)")
    parser.add_argument("--spans", type=int, help="spans a repeat (default 100,000)")
    parser.add_argument("--repeats", type=int, help="repeats a worker (default 3)")
    parser.add_argument("--base", help="also measure this commit's spanline in every round")
    parser.add_argument("--smoke", action="store_true", help="a tiny run (for tests)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    for key, value in (SMOKE if args.smoke else DEFAULTS).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if min(args.rounds, args.spans, args.repeats) < 1:
        parser.error("--rounds, --spans and --repeats must be at least 1")
    with tempfile.TemporaryDirectory(prefix="spanline-ratio-") as temp:
        scratch = Path(temp)
        base = export_base(args.base, scratch / "base") if args.base else None
        print(
            f"{args.rounds} rounds; each worker the median of {args.repeats} x {args.spans:,} spans"
        )
        rounds = measure(args, scratch, base)
    result = {"rounds": rounds, "ratio": summary(rounds, "ratio"), "target": TARGET}
    if args.base:
        result["base_ratio"] = summary(rounds, "base_ratio")
    for key in ("ratio", "base_ratio") if args.base else ("ratio",):
        figures = result[key]
        verdict = "met" if figures["median"] <= TARGET else "NOT met"
        print(
            f"{'spanline' if key == 'ratio' else 'base    '} / OTel SDK hot path: "
            f"min {figures['min']:.4f}  median {figures['median']:.4f}  max {figures['max']:.4f}"
            f"  (target <= {TARGET} at the median: {verdict})"
        )
    if args.json is not None:
        args.json.write_text(
            json.dumps({"config": vars(args) | {"json": str(args.json)}, **result}, indent=2) + "\n"
        )


if __name__ == "__main__":
    main()
