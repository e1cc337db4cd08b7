"""This checkout against an earlier commit, measured in the same run: no slower than before.

Usage::

    python benchmarks/against_commit.py [--base REV] [--rounds N] [--spans N] [--events N]
                                        [--smoke] [--json PATH]

The base commit (default ``08b1a2a``, the last one before the package was split into
one folder per layer) is checked out into a temporary ``git worktree``; "head" is this
checkout's working tree. Four measures, each in a fresh interpreter with
``PYTHONPATH=<tree>/src`` (so each side imports its own sources):

* **import spanline**: the package import alone, ms;
* **configure cold**: the first ``configure_observability()`` of a process, into a new
  temporary directory, ms (``shutdown()`` follows, untimed);
* **hot path**: µs per span over ``--spans`` spans opened and closed as a context
  manager, tracing on (``shutdown()`` follows, untimed);
* **fold**: ``summarize_file`` of a generated run of ``--events`` lines, s.

Rounds alternate (base, head, base, head, ...), so a change in the machine's load
falls on both sides. For each measure it prints the medians, the interquartile
ranges, the ratio head / base and a verdict: **ok** when the head's median is within
5% of the base's (or below it), or the two interquartile ranges overlap; otherwise
**slower**. The import and configure children are those of ``benchmarks/configure.py``
and the run folded is ``benchmarks/fold.py``'s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from configure import CHILD_TIMEOUT_S, MEASUREMENTS, child_env  # the script's directory
from fold import generate

REPO = Path(__file__).resolve().parent.parent
DEFAULT_BASE = "08b1a2a"
DEFAULTS = {"rounds": 15, "spans": 100_000, "events": 1_000_000}
SMOKE = {"rounds": 2, "spans": 2_000, "events": 2_000}
WITHIN = 0.05

_HOT_PATH = (
    "import sys, time, spanline\n"
    "spanline.configure_observability(enabled=True, run_dir=sys.argv[1], service_name='bench',"
    " flush_ms=250, max_queue=2_000_000)\n"
    "spanline.flush(timeout=120)  # the header is written before the clock starts\n"
    "span = spanline.get_tracer().span\n"
    "n = int(sys.argv[2])\n"
    "t = time.perf_counter()\n"
    "for _ in range(n):\n"
    "    with span('bench'):\n"
    "        pass\n"
    "elapsed = time.perf_counter() - t\n"
    "spanline.shutdown(timeout=120)\n"
    "print(elapsed / n * 1e6)\n"
)
_FOLD = (
    "import sys, time\n"
    "from spanline.folds import summarize_file\n"
    "t = time.perf_counter()\n"
    "summarize_file(sys.argv[1], report_problems=False)\n"
    "print(time.perf_counter() - t)\n"
)

#: measure -> (child source, unit, factor from the child's number to the unit)
MEASURES: dict[str, tuple[str, str, float]] = {
    "import spanline": (MEASUREMENTS["import spanline"], "ms", 1000.0),
    "configure cold": (MEASUREMENTS["configure cold"], "ms", 1000.0),
    "hot path": (_HOT_PATH, "us/span", 1.0),
    "fold": (_FOLD, "s", 1.0),
}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default=DEFAULT_BASE, help=f"the commit (default {DEFAULT_BASE})")
    parser.add_argument("--rounds", type=int, help="alternating rounds (default 15)")
    parser.add_argument("--spans", type=int, help="spans of the hot path (default 100,000)")
    parser.add_argument("--events", type=int, help="lines of the folded run (default 1,000,000)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, 2 rounds (for tests)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    for key, value in (SMOKE if args.smoke else DEFAULTS).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if min(args.rounds, args.spans, args.events) < 2:
        parser.error("--rounds, --spans and --events must be at least 2")
    return args


def git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(REPO), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def measure(tree: Path, name: str, scratch: Path, run_file: Path, spans: int) -> float:
    """One measurement of ``name`` with ``tree``'s sources, in a fresh interpreter."""
    source, _, factor = MEASURES[name]
    directory = Path(tempfile.mkdtemp(dir=scratch))
    argv = {
        "import spanline": [],
        "configure cold": [str(directory)],
        "hot path": [str(directory), str(spans)],
        "fold": [str(run_file)],
    }[name]
    env = child_env()
    env["PYTHONPATH"] = str(tree / "src")
    result = subprocess.run(
        [sys.executable, "-c", source, *argv],
        env=env,
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_S * 5,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"{name} failed with {tree}/src:\n{result.stderr}")
    return float(result.stdout.split()[-1]) * factor


def quartiles(samples: list[float]) -> tuple[float, float]:
    q1, _, q3 = statistics.quantiles(samples, n=4, method="inclusive")
    return q1, q3


def verdict(base: list[float], head: list[float]) -> dict[str, Any]:
    """Medians, interquartile ranges, head / base, and whether head is no slower."""
    base_median, head_median = statistics.median(base), statistics.median(head)
    base_iqr, head_iqr = quartiles(base), quartiles(head)
    ratio = head_median / base_median
    within = ratio <= 1 + WITHIN
    overlap = head_iqr[0] <= base_iqr[1] and base_iqr[0] <= head_iqr[1]
    if within:
        said = f"ok: head within {WITHIN:.0%} of base, or faster"
    elif overlap:
        said = "ok: the interquartile ranges overlap"
    else:
        said = "slower"
    return {
        "base_median": base_median,
        "base_iqr": base_iqr,
        "head_median": head_median,
        "head_iqr": head_iqr,
        "ratio": ratio,
        "within": within,
        "overlap": overlap,
        "ok": within or overlap,
        "verdict": said,
    }


def format_table(results: dict[str, dict[str, Any]]) -> str:
    head = f"{'measure':<16} {'unit':<8} {'base median':>12} {'base IQR':>21} "
    head += f"{'head median':>12} {'head IQR':>21} {'head/base':>9}"
    rows = [head, "-" * len(head)]
    for name, row in results.items():
        unit = MEASURES[name][1]
        base_iqr = "{:.4g} .. {:.4g}".format(*row["base_iqr"])
        head_iqr = "{:.4g} .. {:.4g}".format(*row["head_iqr"])
        rows.append(
            f"{name:<16} {unit:<8} {row['base_median']:>12.4g} {base_iqr:>21} "
            f"{row['head_median']:>12.4g} {head_iqr:>21} {row['ratio']:>9.3f}"
        )
    rows.append("")
    rows.extend(f"verdict {name}: {row['verdict']}" for name, row in results.items())
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    base_commit = git("rev-parse", "--verify", f"{args.base}^{{commit}}")
    head_commit = git("rev-parse", "HEAD")
    dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    with tempfile.TemporaryDirectory(prefix="spanline-against-") as temp:
        scratch = Path(temp)
        base_tree = scratch / "base"
        git("worktree", "add", "--detach", str(base_tree), base_commit)
        try:
            run_file = scratch / "telemetry.jsonl"
            lines = generate(run_file, args.events)
            trees = {"base": base_tree, "head": REPO}
            for tree in trees.values():  # untimed: writes the bytecode, as installed
                measure(tree, "import spanline", scratch, run_file, args.spans)
            samples: dict[str, dict[str, list[float]]] = {
                name: {"base": [], "head": []} for name in MEASURES
            }
            for _ in range(args.rounds):
                for side, tree in trees.items():
                    for name in MEASURES:
                        samples[name][side].append(
                            measure(tree, name, scratch, run_file, args.spans)
                        )
        finally:
            git("worktree", "remove", "--force", str(base_tree))
    results = {name: verdict(s["base"], s["head"]) for name, s in samples.items()}
    load = os.getloadavg()
    print(
        f"base {args.base} ({base_commit[:10]}) against head {head_commit[:10]}"
        f"{' with uncommitted changes' if dirty else ''}; {args.rounds} alternating rounds, "
        f"hot path {args.spans:,} spans, fold {lines:,} lines; Python "
        f"{platform.python_version()}, {os.cpu_count()} CPUs, load average "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    print(format_table(results))
    if args.json is not None:
        document = {
            "base": base_commit,
            "head": head_commit,
            "dirty": dirty,
            "rounds": args.rounds,
            "spans": args.spans,
            "events": lines,
            "load_average": load,
            "results": results,
            "samples": samples,
        }
        args.json.write_text(json.dumps(document, indent=2) + "\n")


if __name__ == "__main__":
    main()
