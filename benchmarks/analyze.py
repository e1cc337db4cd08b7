"""Cost of ``spanline analyze`` on a large run: the analysis and its Markdown report.

Usage::

    python benchmarks/analyze.py [--events N] [--repeats R] [--smoke] [--json PATH]

It writes the EigenDA-like run of ``benchmarks/fold.py`` with N lines (default
200,000: about 100,000 spans, 35 agents in 5 phases, LLM and tool calls under
them, planned work, about 1% of tool calls failing) and times, median of R
repeats (default 3):

* **summarize_file**: the run summary alone, for scale;
* **analyze**: :func:`spanline.folds.analysis.analyze`, reading included (it
  folds the summary and the run profile as it goes);
* **render_markdown**: the report from the analysis;
* **spanline analyze**: the whole command in a fresh interpreter (start-up,
  reading, analysis, report written).

The analysis is meant to take a few seconds at most on a 100k-span run; the
last line says whether the command stayed within that here. ``--smoke`` runs a
tiny size once (the test suite uses it); no timing is asserted anywhere.
"""

from __future__ import annotations

import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import parse_run_args  # shared by the run-folding benchmarks (script's directory)
from fold import generate  # the same synthetic run (script's directory)

from spanline.cli._analyze_render import render_markdown
from spanline.folds import summarize_file
from spanline.folds.analysis import analyze

DEFAULTS = {"events": 200_000, "repeats": 3}
SMOKE = {"events": 5_000, "repeats": 1}
#: What "a few seconds" is taken to mean for a 100k-span run, for the verdict line.
BOUND_SECONDS = 3.0


def _median(repeats: int, work: Callable[[], Any]) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeats):
        began = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - began)
    return statistics.median(times), result


def _command(directory: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "spanline", "analyze", str(directory)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"spanline analyze failed: {done.stderr.strip()}")


def main(argv: list[str] | None = None) -> int:
    """Generate the run, time each step, print the table (and write JSON when asked)."""
    args = parse_run_args(
        __doc__.splitlines()[0],
        argv,
        defaults=DEFAULTS,
        smoke=SMOKE,
        repeats_help="repeats per measurement; the median is shown (default 3)",
    )
    with tempfile.TemporaryDirectory(prefix="spanline-bench-") as temp:
        directory = Path(temp) / "runs" / "bench-20250101T000000-abcdef"
        directory.mkdir(parents=True)
        path = directory / "telemetry.jsonl"
        events = generate(path, args.events)
        rows = []
        seconds, _ = _median(args.repeats, lambda: summarize_file(path))
        rows.append({"name": "summarize_file", "seconds": seconds})
        seconds, analysis = _median(args.repeats, lambda: analyze(path))
        rows.append({"name": "analyze", "seconds": seconds})
        seconds, report = _median(args.repeats, lambda: render_markdown(analysis))
        rows.append({"name": "render_markdown", "seconds": seconds})
        seconds, _ = _median(args.repeats, lambda: _command(directory))
        rows.append({"name": "spanline analyze (command)", "seconds": seconds})
    document = {
        "events": events,
        "spans": analysis.spans,
        "repeats": args.repeats,
        "python": platform.python_version(),
        "report_bytes": len(report.encode()),
        "rows": rows,
    }
    print(f"{events:,} lines, {analysis.spans:,} spans; median of {args.repeats}")
    for row in rows:
        print(f"  {row['name']:<28} {row['seconds']:8.3f} s")
    command = rows[-1]["seconds"]
    verdict = "within" if command <= BOUND_SECONDS else "over"
    print(f"the command is {verdict} the bound of a few seconds ({BOUND_SECONDS:g} s) here")
    if args.json is not None:
        args.json.write_text(json.dumps(document, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
