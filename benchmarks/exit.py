"""Exit after a burst: from the end of ``flush()`` to the end of ``shutdown()``.

Usage::

    python benchmarks/exit.py [--agents A] [--spans-per-agent S] [--processes P]
                              [--runaway] [--smoke] [--json PATH]

Each case runs in fresh interpreters writing into a scratch directory:

* **burst**: one process, A agents x S spans (1,000 x 500 = 500,000 spans, 1M
  events by default) written as fast as the loop runs, then ``flush()``, then
  ``shutdown()``;
* **processes**: P processes (4) joining one run, each writing its share of
  the same 1M events; the parent waits for them, flushes and shuts down;
* **runaway** (``--runaway``): 10,000,000 spans in one loop with the default
  queue bound, so most are dropped and counted; then ``flush()`` and
  ``shutdown()``.

For each it prints the exit time beside its target (0.5 s), whether
``run_summary.json`` equals a re-fold of the log, and the events dropped. A
program far ahead of the summary's helper at shutdown ends without waiting for
it; the helper writes the final summary afterwards, and "summary +s" is how long
after the program's end it covered the whole log (0 when the program waited).
``--smoke`` runs tiny sizes (the test suite uses it); no timing is asserted there.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

TARGET_S = 0.5
RESULT = "RESULT "
CHILD_TIMEOUT_S = 7200.0


def produce(agents: int, spans_per_agent: int, label: str) -> None:
    """``agents`` agent spans, each with ``spans_per_agent - 1`` tool spans under it."""
    import spanline

    span = spanline.get_tracer().span
    for agent in range(agents):
        with span(f"{label}-agent-{agent}", kind="agent"):
            for _ in range(spans_per_agent - 1):
                with span("tool.read", kind="tool") as tool:
                    tool.add(tool_uses=1)


def child(case: str, base: str, agents: int, per_agent: int, processes: int) -> None:
    """One measured run; prints a RESULT line."""
    import spanline

    run = spanline.configure_observability(enabled=True, run_dir=base, service_name="exit")
    assert run is not None
    began = time.perf_counter()
    if case == "processes":
        share = max(1, agents // processes)
        workers = [
            subprocess.Popen(
                [sys.executable, __file__, "--worker", str(share), str(per_agent), str(n)],
                env=spanline.child_env(),
            )
            for n in range(processes - 1)
        ]
        produce(share, per_agent, "parent")
        for worker in workers:
            worker.wait()
    else:
        produce(agents, per_agent, case)
    spanline.flush(timeout=3600.0)
    flushed = time.perf_counter()
    summary = spanline.shutdown(timeout=60.0)
    ended = time.perf_counter()
    print(RESULT + json.dumps({
        "case": case, "produce_and_flush_s": flushed - began, "exit_s": ended - flushed,
        "directory": str(run.directory), "returned": summary is not None,
    }), flush=True)  # fmt: skip


def worker(share: int, per_agent: int, number: int) -> None:
    """A child process of the run (joined through the environment)."""
    import spanline

    produce(share, per_agent, f"worker{number}")
    spanline.shutdown()


def final_summary(directory: Path) -> dict[str, Any]:
    """run_summary.json once it covers the whole log (the helper may still be writing it)."""
    import orjson

    log, path = directory / "telemetry.jsonl", directory / "run_summary.json"
    deadline = time.monotonic() + CHILD_TIMEOUT_S
    while True:
        stored = orjson.loads(path.read_bytes()) if path.is_file() else {}
        if stored.get("log_offset") == log.stat().st_size or time.monotonic() > deadline:
            return dict(stored)
        time.sleep(0.01)


def measure(case: str, args: argparse.Namespace, agents: int) -> dict[str, Any]:

    import spanline

    with tempfile.TemporaryDirectory(prefix="spanline-exit-") as base:
        command = [sys.executable, __file__, "--child", case, base, str(agents),
                   str(args.spans_per_agent), str(args.processes)]  # fmt: skip
        out = subprocess.run(
            command, capture_output=True, text=True, timeout=CHILD_TIMEOUT_S, check=True
        )
        ended = time.monotonic()
        line = next(x for x in out.stdout.splitlines() if x.startswith(RESULT))
        result = json.loads(line[len(RESULT) :])
        directory = Path(result["directory"])
        stored = final_summary(directory)
        result["summary_after_exit_s"] = 0.0 if result["returned"] else time.monotonic() - ended
        refold = spanline.summarize_file(directory / "telemetry.jsonl", report_problems=False)
        result["equals_refold"] = stored == refold.to_dict()
        result["spans"] = stored["span_count"]
        result["dropped_events"] = stored["dropped_events"]
        return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--spans-per-agent", type=int, default=500)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--runaway", action="store_true", help="also the 10M-span runaway")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes (for tests)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    parser.add_argument("--worker", nargs=3, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        case, base, agents, per_agent, processes = args.child
        child(case, base, int(agents), int(per_agent), int(processes))
        return 0
    if args.worker:
        worker(*args.worker)
        return 0
    if args.smoke:
        args.agents, args.spans_per_agent = 20, 50
    cases = [("burst", args.agents), ("processes", args.agents)]
    if args.runaway:
        cases.append(("runaway", 200 if args.smoke else 20_000))
        if not args.smoke:
            args.spans_per_agent = max(args.spans_per_agent, 500)
    results = [measure(case, args, agents) for case, agents in cases]
    print(f"python {sys.version.split()[0]}; exit = end of flush() to end of shutdown()")
    print(f"{'case':<10} {'spans':>10} {'dropped':>10} {'exit s':>8} {'target':>7} "
          f"{'summary +s':>10} refold")  # fmt: skip
    for r in results:
        met = "met" if r["exit_s"] <= TARGET_S else "missed"
        print(f"{r['case']:<10} {r['spans']:>10,} {r['dropped_events']:>10,} "
              f"{r['exit_s']:>8.3f} {met:>7} {r['summary_after_exit_s']:>10.2f} "
              f"{r['equals_refold']}")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({"target_s": TARGET_S, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
