"""What the writer's period costs: CPU of a traced program per flush_ms, loaded and idle.

Usage::

    python benchmarks/writer.py [--periods 250,100,50] [--seconds S] [--repeats R] [--json PATH]

For each period, fresh interpreters of this script (``--child ...``) run with
``configure_observability(flush_ms=P)`` for S seconds (5), in two ways:

* **loaded**: 20,000 spans/s paced in 5 ms steps (the load of the kill -9
  benchmark in ``reliability.py``);
* **idle**: no span at all (what the writer's wake-ups alone cost).

Each child reports its own CPU time (every thread of the process, user and
system, from the moment its load starts to the end of a final ``flush()``)
as a share of one core, and how many writes the writer made. The live
summary's helper process is not counted (it does not depend on the period).
The table gives the median of R repeats (3), the periods interleaved so the
machine's noise hits them alike; the difference between two periods is what
the shorter one costs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

RATE = 20_000
STEP_S = 0.005
RESULT = "RESULT "


def child(base: str, flush_ms: int, seconds: float, loaded: bool) -> None:
    import spanline

    run = spanline.configure_observability(
        enabled=True, run_dir=base, service_name="writer", flush_ms=flush_ms
    )
    assert run is not None
    spanline.flush(timeout=60.0)  # the run_start line (git lookups) before the clock starts
    writes = _count_writes()
    cpu, start = time.process_time(), time.monotonic()
    per_step, step, spans = int(RATE * STEP_S), 0, 0
    while time.monotonic() - start < seconds:
        if loaded:
            for number in range(per_step):
                with spanline.span("load", n=number):
                    pass
            spans += per_step
        step += 1
        pause = start + step * STEP_S - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    spanline.flush(timeout=60.0)
    used = time.process_time() - cpu
    wall = time.monotonic() - start
    result = {"cpu_share": used / wall, "spans": spans, "writes": _count_writes() - writes}
    print(RESULT + json.dumps(result), flush=True)
    spanline.shutdown()


def _count_writes() -> int:
    """Writes this process made so far (Linux; 0 elsewhere)."""
    try:
        for line in Path("/proc/self/io").read_text().splitlines():
            if line.startswith("syscw:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def measure(flush_ms: int, seconds: float, loaded: bool) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPANLINE_")}
    with tempfile.TemporaryDirectory(prefix="spanline-writer-") as base:
        command = [sys.executable, __file__, "--child", base, str(flush_ms), str(seconds),
                   "loaded" if loaded else "idle"]  # fmt: skip
        out = subprocess.run(
            command, capture_output=True, text=True, env=env, timeout=600, check=True
        )
    line = next(x for x in out.stdout.splitlines() if x.startswith(RESULT))
    result: dict[str, Any] = json.loads(line[len(RESULT) :])
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--periods", default="250,100,50", help="flush_ms values, comma-separated")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        base, flush_ms, seconds, mode = args.child
        child(base, int(flush_ms), float(seconds), mode == "loaded")
        return 0
    periods = [int(p) for p in args.periods.split(",")]
    results: dict[str, list[dict[str, Any]]] = {}
    load = os.getloadavg()[0]
    for _ in range(args.repeats):
        for period in periods:  # interleaved
            for loaded in (True, False):
                key = f"{period} {'loaded' if loaded else 'idle'}"
                results.setdefault(key, []).append(measure(period, args.seconds, loaded))
    print(f"python {sys.version.split()[0]}; {args.seconds:g} s per run, median of {args.repeats}")
    print(f"load average (1 min) before and after: {load:.2f}, {os.getloadavg()[0]:.2f}")
    print(f"{'flush_ms':>8} {'load':>7} {'CPU % of a core':>16} {'writes/s':>9} {'spans/s':>8}")
    for key, rows in results.items():
        period, mode = key.split()
        share = statistics.median(r["cpu_share"] for r in rows) * 100
        writes = statistics.median(r["writes"] for r in rows) / args.seconds
        spans = statistics.median(r["spans"] for r in rows) / args.seconds
        print(f"{period:>8} {mode:>7} {share:16.2f} {writes:9.1f} {spans:8.0f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
