"""``spanline query`` end to end on a large run: a fresh ``spanline`` process per call.

Usage::

    python benchmarks/query.py [--events N] [--repeats R] [--smoke] [--json PATH]

It writes the EigenDA-like run of ``benchmarks/fold.py`` (default 1,000,000
events) into a scratch base directory, then times, median of R repeats, the
whole command as a user runs it (interpreter start, imports, DuckDB reading
the file, printing):

* **query**: ``spanline query "select count(*) from records"``, the number the
  target is about (<= 1.5 s);
* **query attributes**: a query that reads every span's attributes (the
  slowest MCP tool calls), for scale.

The count is checked against the file's span_start lines. ``--smoke`` runs a
tiny size once (the test suite uses it); no timing is asserted there.
"""

from __future__ import annotations

import argparse
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

DEFAULTS = {"events": 1_000_000, "repeats": 5}
SMOKE = {"events": 5_000, "repeats": 1}
TARGET_SECONDS = 1.5
RUN_ID = "bench-20250101T000000-abcdef"
QUERIES = {
    "query": "select count(*) from records",
    "query attributes": (
        "select attributes->>'tool.name' as tool_name,"
        " (attributes->>'tool.execution_time_ms')::float as ms"
        " from records where attributes->>'tool.type' = 'mcp' order by ms desc limit 10"
    ),
}


def spanline_query(base: Path, sql: str) -> tuple[float, str]:
    """One ``spanline query --json`` call: seconds taken and its output."""
    command = [sys.executable, "-m", "spanline", "--dir", str(base), "query", sql, "--json"]
    began = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - began
    if result.returncode != 0:
        sys.exit(f"spanline query failed: {result.stderr.strip()}")
    return seconds, result.stdout


def measure(base: Path, repeats: int) -> list[dict[str, Any]]:
    """Every query, median of ``repeats`` calls (after one warm-up for the page cache)."""
    rows = []
    for name, sql in QUERIES.items():
        spanline_query(base, sql)
        samples = [spanline_query(base, sql)[0] for _ in range(repeats)]
        rows.append({"name": name, "seconds": statistics.median(samples), "samples": samples})
    return rows


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line arguments, with defaults filled in."""
    return parse_run_args(
        __doc__.split("\n", 1)[0],
        argv,
        defaults=DEFAULTS,
        smoke=SMOKE,
        repeats_help="calls per query (default 5)",
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Generate the run, time the queries, print the table (and write JSON)."""
    args = parse_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix="spanline-query-bench-"))
    try:
        path = scratch / "runs" / RUN_ID / "telemetry.jsonl"
        path.parent.mkdir(parents=True)
        written = generate(path, args.events)
        spans = sum(1 for line in path.open("rb") if line.startswith(b'{"event":"span_start"'))
        _, output = spanline_query(scratch, QUERIES["query"])
        counted = next(iter(json.loads(output)[0].values()))
        size_mb = path.stat().st_size / 1e6
        rows = measure(scratch, args.repeats)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"python {platform.python_version()}; {written:,} events ({spans:,} spans), "
          f"{size_mb:.0f} MB; median of {args.repeats}, end to end")  # fmt: skip
    print(f"{'measurement':<20}{'median s':>10}{'(min-max)':>16}")
    for row in rows:
        spread = f"{min(row['samples']):.3f}-{max(row['samples']):.3f}"
        print(f"{row['name']:<20}{row['seconds']:>10.3f}{spread:>16}")
    met = rows[0]["seconds"] <= TARGET_SECONDS
    print(f"count(*) = {counted:,} (span_start lines: {spans:,})")
    print(f"target (query <= {TARGET_SECONDS} s end to end): {'met' if met else 'NOT met'}")
    if args.json is not None:
        document = {"events": written, "spans": spans, "counted": counted, "rows": rows,
                    "target_s": TARGET_SECONDS, "target_met": met}  # fmt: skip
        args.json.write_text(json.dumps(document, indent=2) + "\n")
    if counted != spans:
        sys.exit("spanline query counted a different number of spans")


if __name__ == "__main__":
    main()
