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

Each figure is taken twice: on the wall clock, and on the CPU time of the loop's thread,
which leaves out the time other processes hold the cores (on a shared, loaded machine
the wall clock moves by several times between identical runs; the CPU time far less).
It prints every round with the load average at its start, then the minimum, median and
maximum of the ratios against the target (at most 0.08 of the OTel SDK's hot path, at
the median).
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

from hot_path import HOT_TARGET as TARGET
from hot_path import RESULT_PREFIX, WORKER_TIMEOUT_S, worker_env  # the script's directory

REPO = Path(__file__).resolve().parent.parent
SCRIPT = Path(__file__).resolve().parent / "hot_path.py"
DEFAULTS = {"rounds": 7, "spans": 100_000, "repeats": 3}
SMOKE = {"rounds": 2, "spans": 2_000, "repeats": 1}


def run_worker(
    name: str, spans: int, repeats: int, scratch: Path, src: Path | None
) -> tuple[float, float]:
    """One worker of hot_path.py: its median hot path, µs a span, on the wall clock and
    on the loop thread's CPU time."""
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
    wall = statistics.median(s["hot_s"] / s["spans"] * 1e6 for s in samples)
    cpu = statistics.median(s["hot_cpu_s"] / s["spans"] * 1e6 for s in samples)
    return wall, cpu


def export_base(rev: str, into: Path) -> Path:
    """The ``src`` folder of commit ``rev``, exported under ``into``."""
    into.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", rev, "src"], capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "src"


def measure(args: argparse.Namespace, scratch: Path, base: Path | None) -> list[dict[str, Any]]:
    """Every round: each worker's figures, the load before it, and the ratios."""
    sides: list[tuple[str, str, Path | None]] = [
        ("spanline", "spanline", None),
        ("otel-sdk", "otel-sdk", None),
    ]
    if base is not None:
        sides.append(("base", "spanline", base))
    rounds = []
    for number in range(args.rounds):
        row: dict[str, Any] = {"round": number + 1, "load": os.getloadavg()[0]}
        for label, worker, src in sides if number % 2 == 0 else sides[::-1]:
            row[label], row[f"{label} cpu"] = run_worker(
                worker, args.spans, args.repeats, scratch, src
            )
        for side, key in (("spanline", "ratio"), ("base", "base_ratio")):
            if side in row:
                row[key] = row[side] / row["otel-sdk"]
                row[f"{key} cpu"] = row[f"{side} cpu"] / row["otel-sdk cpu"]
        rounds.append(row)
        print(format_round(row), flush=True)
    return rounds


def format_round(row: dict[str, Any]) -> str:
    """One round: load, figures (wall / CPU), ratios (wall / CPU)."""
    text = f"round {row['round']:>2}  load {row['load']:5.2f}"
    for side, key in (("spanline", "ratio"), ("otel-sdk", None), ("base", "base_ratio")):
        if side in row:
            text += f"  {side} {row[side]:.3f}/{row[f'{side} cpu']:.3f} us"
            if key is not None:
                text += f" ({row[key]:.4f}/{row[f'{key} cpu']:.4f})"
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
    keys = ["ratio", "ratio cpu"] + (["base_ratio", "base_ratio cpu"] if args.base else [])
    result: dict[str, Any] = {"rounds": rounds, "target": TARGET}
    for key in keys:
        figures = result[key] = summary(rounds, key)
        verdict = "met" if figures["median"] <= TARGET else "NOT met"
        side = "spanline" if key.startswith("ratio") else "base"
        clock = "CPU time" if key.endswith("cpu") else "wall clock"
        print(
            f"{side:<8} / OTel SDK hot path, {clock:<10}: min {figures['min']:.4f}  median "
            f"{figures['median']:.4f}  max {figures['max']:.4f}  (target <= {TARGET}: {verdict})"
        )
    if args.json is not None:
        args.json.write_text(
            json.dumps({"config": vars(args) | {"json": str(args.json)}, **result}, indent=2) + "\n"
        )


if __name__ == "__main__":
    main()
