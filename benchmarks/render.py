"""Drawing a run with huge names: the CLI's commands and the dashboard's snapshot.

Usage::

    python benchmarks/render.py [--mb M] [--smoke] [--json PATH]

A run is written whose values are M megabytes each (50 by default): the question,
an open agent span's name, a tool's name, a phase's, a milestone's, an error
message, an attribute. Then each is timed once, in a fresh interpreter through
the real entry point (``python -m spanline ...``): ``summary``, ``summary
--refold``, ``show``, ``tools``, ``list`` and ``summary --json`` (which draws
nothing, for scale); and, in this process, the dashboard's snapshot of the run
(``spanline.dashboard._data.snapshot``: the fold, then every string cut).

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
    """The run (see the module): one line per value, each ``size`` characters."""
    sys.path.insert(0, str(ROOT))
    from tests.cli._huge import write_huge_run

    write_huge_run(base, RUN, size)


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
        print(f"values of {size:,} characters ({size / 1048576:.0f} MB each)")
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
