"""What budgets cost: a span and an LLM call with no budget set, against an earlier commit,
and an LLM call with a budget set (one that never stops it).

Usage::

    python benchmarks/budget.py [--base REV] [--rounds N] [--calls N]

The base commit (default ``HEAD~1``) is exported with ``git archive`` into a temporary
directory; "head" is this checkout's working tree. Each measure runs in a fresh
interpreter with ``PYTHONPATH=<tree>/src``, tracing on, into a new directory:

* **span**: µs per span opened and closed as a context manager;
* **llm call**: µs per ``@traced_llm`` call whose answer carries usage (read, priced);
* **llm call, budget** (head only): the same under ``with spanline.budget(...)``, and
  with the run's budget set, neither ever reached.

Rounds alternate (base, head, ...) so a change in the machine's load falls on both
sides; it prints medians and ratios head / base. With no budget set, a span pays
nothing and an LLM call one flag check, so the ratios should stay near 1.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from configure import child_env  # the script's directory

REPO = Path(__file__).resolve().parent.parent

CHILD = """
import shutil, sys, tempfile, time
import spanline
mode, count = sys.argv[1], int(sys.argv[2])
scratch = tempfile.mkdtemp()
extra = {"budget": {"max_usd": 1e9}} if mode == "run budget" else {}  # base: no budget=
spanline.configure_observability(enabled=True, run_dir=scratch, **extra)
@spanline.traced_llm(model="gpt-4o-mini")
def ask():
    return {"model": "gpt-4o-mini", "usage": {"prompt_tokens": 10, "completion_tokens": 5}}
span = spanline.span
def spans():
    for _ in range(count):
        with span("s"):
            pass
def calls():
    for _ in range(count):
        ask()
work = spans if mode == "span" else calls
if mode == "scope budget":
    with spanline.budget(max_usd=1e9):
        start = time.perf_counter(); work(); took = time.perf_counter() - start
else:
    start = time.perf_counter(); work(); took = time.perf_counter() - start
print(took / count * 1e6)
spanline.shutdown()
shutil.rmtree(scratch)
"""


def measure(tree: Path, mode: str, count: int) -> float:
    """µs per operation of ``mode`` with ``tree``'s sources."""
    env = {**child_env(), "PYTHONPATH": str(tree / "src")}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(count)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="HEAD~1")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="spanline-base-") as scratch:
        base = Path(scratch)
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", args.base, "src"], capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(base)], input=archive, check=True)
        samples: dict[str, list[float]] = {}
        for _ in range(args.rounds):
            for side, tree in (("base", base), ("head", REPO)):
                for mode in ("span", "llm call"):
                    samples.setdefault(f"{mode} ({side})", []).append(
                        measure(tree, mode, args.calls)
                    )
            for mode in ("scope budget", "run budget"):
                samples.setdefault(f"llm call, {mode} (head)", []).append(
                    measure(REPO, mode, args.calls)
                )
    medians = {name: statistics.median(values) for name, values in samples.items()}
    for name, value in medians.items():
        print(f"{name:32} {value:8.2f} µs")
    for mode in ("span", "llm call"):
        ratio = medians[f"{mode} (head)"] / medians[f"{mode} (base)"]
        print(f"{mode}: head / base {ratio:.3f}")
    for mode in ("scope budget", "run budget"):
        ratio = medians[f"llm call, {mode} (head)"] / medians["llm call (head)"]
        print(f"llm call with a {mode} / without: {ratio:.3f}")


if __name__ == "__main__":
    main()
