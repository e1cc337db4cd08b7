"""The ``spanline`` read commands end to end on a large finished run: a fresh process per call.

Usage::

    python benchmarks/cli.py [--events N] [--repeats R] [--smoke] [--json PATH]

It writes the EigenDA-like run of ``benchmarks/fold.py`` (default 1,000,000
events) into a scratch base directory with the ``run_summary.json`` spanline
writes at shutdown, then times, median of R repeats after one warm-up, each
command as a user runs it (``python -m spanline ...``: interpreter start,
imports, reading, printing):

* **python (bare start-up)**: ``python -c pass``, for reference;
* **spanline --version**: the CLI's own start-up;
* **summary**, **summary --json**, **tools**: a finished run's stored summary;
* **summary --refold**: the same summary folded from the log, for scale;
* **show**: the span tree at the default depth (3);
* **query count(*)**: ``spanline query "select count(*) from records"``
  (skipped without DuckDB: ``pip install 'spanline[query]'``).

Targets: summary, tools and show <= 2 s, query <= 1.5 s. ``--smoke`` runs a
tiny size once (the test suite uses it); no timing is asserted there.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from _common import parse_run_args  # shared by the run-folding benchmarks (script's directory)
from fold import generate  # the same synthetic run as the fold benchmark (script's directory)

from spanline.folds import summarize_file, write_summary

DEFAULTS = {"events": 1_000_000, "repeats": 5}
SMOKE = {"events": 5_000, "repeats": 1}
RUN_ID = "bench-20250101T000000-abcdef"
SPANLINE = ("-m", "spanline")
#: name -> (interpreter arguments, target seconds or None).
COMMANDS: dict[str, tuple[tuple[str, ...], float | None]] = {
    "python (bare start-up)": (("-c", "pass"), None),
    "spanline --version": ((*SPANLINE, "--version"), None),
    "summary": ((*SPANLINE, "summary"), 2.0),
    "summary --json": ((*SPANLINE, "summary", "--json"), 2.0),
    "summary --refold": ((*SPANLINE, "summary", "--refold"), None),
    "tools": ((*SPANLINE, "tools"), 2.0),
    "show": ((*SPANLINE, "show"), 2.0),
    "query count(*)": ((*SPANLINE, "query", "select count(*) from records"), 1.5),
}


def call(base: Path, arguments: Sequence[str]) -> tuple[float, str]:
    """One fresh interpreter in ``base`` (the default ``.spanline`` is the run's base)."""
    began = time.perf_counter()
    result = subprocess.run(
        [sys.executable, *arguments],
        capture_output=True,
        text=True,
        check=False,
        cwd=base.parent,
        env={"COLUMNS": "100", "NO_COLOR": "1", "PATH": "/usr/bin:/bin"},
    )
    seconds = time.perf_counter() - began
    if result.returncode != 0:
        sys.exit(f"{' '.join(arguments)} failed: {result.stderr.strip()}")
    return seconds, result.stdout


def measure(base: Path, repeats: int) -> list[dict[str, Any]]:
    """Every command, median of ``repeats`` calls (after one warm-up for the page cache)."""
    rows = []
    has_duckdb = importlib.util.find_spec("duckdb") is not None
    for name, (arguments, target) in COMMANDS.items():
        if name.startswith("query") and not has_duckdb:
            continue
        call(base, arguments)
        samples = [call(base, arguments)[0] for _ in range(repeats)]
        seconds = statistics.median(samples)
        met = None if target is None else seconds <= target
        rows.append({"name": name, "seconds": seconds, "samples": samples, "target_s": target,
                     "target_met": met})  # fmt: skip
    return rows


def make_run(base: Path, events: int) -> tuple[int, Path]:
    """The synthetic run under ``base``, finished: its run_summary.json written after the log."""
    directory = base / "runs" / RUN_ID
    directory.mkdir(parents=True)
    path = directory / "telemetry.jsonl"
    written = generate(path, events)
    write_summary(summarize_file(path), directory / "run_summary.json")
    (base / "runs" / "latest").symlink_to(RUN_ID)
    return written, path


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """One line per command: median seconds, range, target and verdict."""
    lines = [f"{'command':<24}{'median s':>10}{'(min-max)':>16}{'target':>9}"]
    lines.append("-" * len(lines[0]))
    for row in rows:
        spread = f"{min(row['samples']):.3f}-{max(row['samples']):.3f}"
        target = "" if row["target_s"] is None else f"<= {row['target_s']}"
        verdict = {None: "", True: "  met", False: "  NOT met"}[row["target_met"]]
        lines.append(f"{row['name']:<24}{row['seconds']:>10.3f}{spread:>16}{target:>9}{verdict}")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line arguments, with defaults filled in."""
    return parse_run_args(
        __doc__.split("\n", 1)[0],
        argv,
        defaults=DEFAULTS,
        smoke=SMOKE,
        repeats_help="calls per command (default 5)",
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Generate the run, time the commands, print the table (and write JSON)."""
    args = parse_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix="spanline-cli-bench-"))
    try:
        base = scratch / ".spanline"
        written, path = make_run(base, args.events)
        size_mb = path.stat().st_size / 1e6
        stored = call(base, COMMANDS["summary --json"][0])[1]
        refolded = call(base, (*SPANLINE, "summary", "--json", "--refold"))[1]
        rows = measure(base, args.repeats)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"python {platform.python_version()}; {written:,} events, {size_mb:.0f} MB; "
          f"median of {args.repeats} fresh processes, end to end")  # fmt: skip
    print(format_table(rows))
    same = stored == refolded
    met = all(row["target_met"] is not False for row in rows)
    print(f"stored summary equals the re-fold: {same}")
    print(f"targets (summary, tools, show <= 2 s; query <= 1.5 s): {'met' if met else 'NOT met'}")
    if args.json is not None:
        document = {"events": written, "repeats": args.repeats, "rows": rows,
                    "stored_equals_refold": same, "targets_met": met}  # fmt: skip
        args.json.write_text(json.dumps(document, indent=2) + "\n")
    if not same:
        sys.exit("the stored summary differs from the re-fold")


if __name__ == "__main__":
    main()
