"""Drawing a run with huge names: the CLI's commands and the dashboard's snapshot.

Usage::

    python benchmarks/render.py [--mb M] [--smoke] [--json PATH]

The run of the report: one open span named M megabytes (50 by default). Timed
once each:

* **drawing only**, in this process: the summary and the span tree of the run,
  folded beforehand, drawn by the CLI's console into a string;
* **whole commands**, in a fresh interpreter through the real entry point
  (``python -m spanline ...``): ``summary``, ``summary --refold``, ``show``,
  ``tools``, ``list`` and ``summary --json`` (which draws nothing: the cost of
  reading and folding the 50 MB line, for scale);
* the dashboard's snapshot of the run (``spanline.dashboard._data.snapshot``:
  the fold, then every string cut).

Before the values were cut for display, ``summary`` took 84 s here and ``show``
over 60 s on a 50 MB name. ``--smoke`` uses 1 MB (the test suite runs it); no
timing is asserted anywhere.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RUN = "huge-20261207T000000-aaaaaa"
COMMANDS = {
    "summary": ["summary", RUN],
    "summary --refold": ["summary", RUN, "--refold"],
    "show": ["show", RUN],
    "tools": ["tools", RUN],
    "list": ["list"],
    "summary --json": ["summary", RUN, "--json"],
}


def write_run(base: Path, size: int) -> None:
    """The run (see the module): a header and one open agent span named ``size`` characters."""
    directory = base / "runs" / RUN
    directory.mkdir(parents=True)
    header = {"event": "run_start", "ts": 1800000000.0, "run_id": RUN, "pid": 1,
              "host": "elsewhere", "schema_version": 1}  # fmt: skip
    start = {"event": "span_start", "span_id": "a000000000000001", "parent": None,
             "trace_id": "0" * 32, "name": "n" * size, "component": None, "kind": "agent",
             "ts": 1800000001.0, "attributes": {}}  # fmt: skip
    lines = (json.dumps(header) + "\n" + json.dumps(start) + "\n").encode()
    (directory / "telemetry.jsonl").write_bytes(lines)


def time_drawing(base: Path) -> dict[str, float]:
    """Seconds to draw the summary and the tree of the folded run, through the CLI's console."""
    import io

    from spanline._runs._store import resolve_run
    from spanline.cli._app import console
    from spanline.cli._format import fold_summary
    from spanline.cli._read import fold_run
    from spanline.cli._show import render_tree
    from spanline.cli._summary import render_summary
    from spanline.folds.tree import TreeFold

    run = resolve_run(RUN, base)
    folded, run_start = fold_summary(run)
    tree = TreeFold(depth=3)
    fold_run(run, tree)
    view = tree.result().select(roots=None, depth=3, limit=500, errors_only=False)
    out = console(file=io.StringIO(), width=100)
    started = time.perf_counter()
    out.print(*render_summary(folded, run_start))
    summary_s = time.perf_counter() - started
    started = time.perf_counter()
    out.print(render_tree(view, title=RUN))
    return {"summary": summary_s, "show": time.perf_counter() - started}


def time_command(base: Path, args: list[str]) -> dict[str, Any]:
    """One run of ``python -m spanline ARGS --dir BASE``: seconds, status, output size."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "spanline", *args, "--dir", str(base)],
        capture_output=True,
        check=False,
        env={"COLUMNS": "100", "PATH": "/usr/bin:/bin"},
    )
    seconds = time.perf_counter() - started
    lines = result.stdout.splitlines() or [b""]
    return {
        "seconds": seconds,
        "status": result.returncode,
        "stdout_bytes": len(result.stdout),
        "longest_line": max(map(len, lines)),
    }


def time_snapshot(base: Path) -> dict[str, Any]:
    from spanline.dashboard._data import get_run, snapshot

    started = time.perf_counter()
    data = snapshot(get_run(base, RUN), None)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "json_bytes": len(json.dumps(data))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--mb", type=float, default=50.0, help="megabytes per huge value")
    parser.add_argument("--smoke", action="store_true", help="1 MB values")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    size = int((1.0 if args.smoke else args.mb) * 1024 * 1024)
    results: dict[str, Any] = {"value_chars": size, "commands": {}}
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        write_run(base, size)
        print(f"one open span named {size:,} characters ({size / 1048576:.0f} MB)")
        drawing = results["drawing"] = time_drawing(base)
        print(f"  drawing only: summary {drawing['summary']:.3f} s, show {drawing['show']:.3f} s")
        for name, command in COMMANDS.items():
            figures = time_command(base, command)
            results["commands"][name] = figures
            print(
                f"  spanline {name:<17} {figures['seconds']:6.2f} s  status {figures['status']}"
                f"  output {figures['stdout_bytes']:,} bytes,"
                f" longest line {figures['longest_line']:,}"
            )
        results["snapshot"] = time_snapshot(base)
        print(
            f"  dashboard snapshot       {results['snapshot']['seconds']:6.2f} s  "
            f"JSON {results['snapshot']['json_bytes']:,} bytes"
        )
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
