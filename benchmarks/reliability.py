"""Reliability figures: kill -9 exposure, time to exit, cost of a failing exporter.

Usage::

    python benchmarks/reliability.py [--kills K] [--exits E] [--spans N] [--blob-mb M]
        [--flush-ms P] [--kill-only] [--smoke] [--json PATH]

Three measurements, each in fresh interpreters of this script (``--child ...``):

* **kill -9 exposure**: a child traces a fixed load of 20,000 spans/s (paced
  in 5 ms steps) with the default settings (the live summary's helper process
  included); the parent sends SIGKILL at moments spread over 1-15 s after the
  load started (one random moment in each of K equal slices of the span, so
  early kills and kills after several summary intervals are both measured),
  then reads the newest ``ts`` in telemetry.jsonl. Exposure = kill time -
  newest event written: the events of that window are lost. K kills (20;
  ``--smoke``: 2, over 0.4-1.4 s); the table gives min, p50, p90 and max.
  Target: max <= 300 ms (flush_ms is 100 by default; `--flush-ms` sets
  another). Each child also calls ``flush()`` once, 105 ms into the load, and
  says how many spans that covered: every one of them must be on disk after
  the kill.
  With ``--blob-mb M`` the child captures in full and a thread of its own
  returns a new M MB tool output (lines of text) from a traced tool, again and
  again, so a blob is always being redacted, hashed, compressed and written
  when the kill lands.
* **time to exit**: a child traces the same load for 1 s, notes the wall time
  when its producers end, then returns from its script (atexit shuts down,
  writes process_end and run_summary.json). Measured until the parent sees
  the process gone; E runs (5; ``--smoke``: 1). Target: <= 2 s.
* **exporter outage**: N spans (100,000; ``--smoke``: 2,000) in a tight loop
  with no exporter, one that raises, one that sleeps 50 ms per batch and one
  that blocks forever; per-span cost for the caller as a ratio to "none" in
  the same run (median of 3 runs each), and the exporter's counters from
  process_end (received = exported + dropped + failed) after
  ``shutdown(timeout=5)``, whose duration is shown too.

No timing is asserted by the test suite (``--smoke`` checks only that every
part runs and that the counters add up): the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

RATE = 20_000  # spans per second
STEP_S = 0.005
DEFAULTS = {"kills": 20, "exits": 5, "spans": 100_000, "outage_repeats": 3}
SMOKE = {"kills": 2, "exits": 1, "spans": 2_000, "outage_repeats": 1}
#: Seconds after the load started over which the kills are spread.
KILL_SPAN_S = (1.0, 15.0)
SMOKE_KILL_SPAN_S = (0.4, 1.4)
OUTAGES = ("none", "raising", "sleeping", "blocking")
RESULT = "RESULT "


# -- children ------------------------------------------------------------------------------


def _paced(seconds: float | None) -> float:
    """Trace RATE spans/s in STEP_S steps, for ``seconds`` (None: until killed).

    20 steps (100 ms) into the load it prints ``LOADED``; then it calls ``flush()`` once and
    prints ``FLUSHED n``: the first n ``load`` spans are on disk, whatever comes after.
    """
    import spanline

    per_step = int(RATE * STEP_S)
    start = time.monotonic()
    step = 0
    while seconds is None or time.monotonic() - start < seconds:
        for number in range(per_step):
            with spanline.span("load", n=number):
                pass
        if step == 20:  # 100 ms into the load: tell the parent it may aim
            print("LOADED", flush=True)
        elif step == 21 and seconds is None:
            spanline.flush()
            print(f"FLUSHED {(step + 1) * per_step}", flush=True)
        step += 1
        pause = start + step * STEP_S - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    return time.time()


def child_kill(base: str, blob_mb: int = 0, flush_ms: int = 0) -> None:
    import threading

    import spanline

    capture = "full" if blob_mb else "preview"
    chosen = {"flush_ms": flush_ms} if flush_ms else {}  # 0: the default period
    spanline.configure_observability(
        enabled=True, run_dir=base, service_name="kill", capture=capture, **chosen
    )
    if blob_mb:
        line = "{:016d} a line of a tool's output, as a build or a test run prints it\n"
        lines = blob_mb * 1024 * 1024 // len(line.format(0))

        @spanline.traced_tool(name="big_output")
        def big_output(number: int) -> str:
            return line.format(number) * lines

        def blobs() -> None:
            number = 0
            while True:  # a new value each time: never one stored already
                big_output(number)
                number += 1

        threading.Thread(target=blobs, daemon=True).start()
    _paced(None)


def child_exit(base: str) -> None:
    import spanline

    run = spanline.configure_observability(enabled=True, run_dir=base, service_name="exit")
    assert run is not None
    ended = _paced(1.0)
    print(RESULT + json.dumps({"producers_end": ended, "summary": str(run.summary_path)}))
    sys.stdout.flush()  # then the interpreter exits: atexit shuts spanline down


class _Raising:
    def export(self, batch: Any) -> None:
        raise ConnectionError("receiver down")


class _Sleeping:
    def export(self, batch: Any) -> None:
        time.sleep(0.05)


class _Blocking:
    def export(self, batch: Any) -> None:
        import threading

        threading.Event().wait()  # never returns


def child_outage(base: str, mode: str, spans: int) -> None:
    import spanline

    exporters = {"raising": _Raising, "sleeping": _Sleeping, "blocking": _Blocking}
    chosen = [exporters[mode]()] if mode in exporters else []
    run = spanline.configure_observability(
        enabled=True, run_dir=base, service_name="outage", exporters=chosen
    )
    assert run is not None
    for number in range(1_000):  # warm-up
        with spanline.span("warm", n=number):
            pass
    started = time.perf_counter()
    for number in range(spans):
        with spanline.span("work", n=number):
            pass
    per_span_us = (time.perf_counter() - started) / spans * 1e6
    before = time.perf_counter()
    spanline.shutdown(timeout=5.0)
    shutdown_s = time.perf_counter() - before
    stats: dict[str, int] = {}
    for line in run.telemetry_path.read_bytes().splitlines():
        event = json.loads(line)
        if event["event"] == "process_end":
            stats = next(iter(event["exporters"].values()), {})
    print(
        RESULT
        + json.dumps({"per_span_us": per_span_us, "shutdown_s": shutdown_s, "exporter": stats})
    )
    sys.stdout.flush()
    os._exit(0)  # a blocked exporter thread must not keep us (daemon anyway)


# -- parent --------------------------------------------------------------------------------


def _python(*args: str) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--child", *args]


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("SPANLINE_")}


def _scan(path: Path) -> tuple[float, int]:
    """The newest ``ts`` in the log, and how many ``load`` spans ended in it."""
    newest, ends, loads = 0.0, 0, set()
    for line in path.read_bytes().splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue  # a torn last line cannot happen, but must not stop the count
        ts = event.get("ts")
        if isinstance(ts, (int, float)):
            newest = max(newest, float(ts))
        if event.get("event") == "span_start" and event.get("name") == "load":
            loads.add(event.get("span_id"))
        elif event.get("event") == "span_end":
            ends += event.get("span_id") in loads
    return newest, ends


def kill_moments(kills: int, span: tuple[float, float], rng: random.Random) -> list[float]:
    """One random moment in each of ``kills`` equal slices of ``span`` (seconds)."""
    low, high = span
    width = (high - low) / kills
    return [low + width * (number + rng.random()) for number in range(kills)]


def measure_kill(
    base: Path, after_s: float, blob_mb: int = 0, flush_ms: int = 0
) -> tuple[float, int, int]:
    """One kill ``after_s`` into the load: ms between the kill and the newest event on disk,
    the ``load`` spans the child had flushed, and those found on disk after the kill."""
    directory = Path(tempfile.mkdtemp(dir=base))
    process = subprocess.Popen(
        _python("kill", str(directory), str(blob_mb), str(flush_ms)),
        stdout=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("LOADED"):
        process.kill()
        raise RuntimeError(f"the kill child did not start: {line!r}")
    loaded = time.monotonic()
    flushed = process.stdout.readline()
    if not flushed.startswith("FLUSHED "):
        process.kill()
        raise RuntimeError(f"the kill child did not flush: {flushed!r}")
    time.sleep(max(0.0, after_s - 0.1 - (time.monotonic() - loaded)))  # LOADED: 100 ms in
    killed_at = time.time()
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    telemetry = directory / "runs" / "latest" / "telemetry.jsonl"
    newest, ends = _scan(telemetry)
    return (killed_at - newest) * 1000.0, int(flushed.split()[1]), ends


def measure_exit(base: Path) -> dict[str, Any]:
    directory = Path(tempfile.mkdtemp(dir=base))
    process = subprocess.Popen(
        _python("exit", str(directory)), stdout=subprocess.PIPE, text=True, env=_env()
    )
    out, _ = process.communicate(timeout=120)
    exited = time.time()
    result = json.loads(next(x for x in out.splitlines() if x.startswith(RESULT))[len(RESULT) :])
    return {
        "exit_s": exited - result["producers_end"],
        "summary_written": Path(result["summary"]).exists(),
        "returncode": process.returncode,
    }


def measure_outage(base: Path, mode: str, spans: int) -> dict[str, Any]:
    directory = Path(tempfile.mkdtemp(dir=base))
    out = subprocess.run(
        _python("outage", str(directory), mode, str(spans)),
        capture_output=True,
        text=True,
        env=_env(),
        timeout=300,
        check=True,
    ).stdout
    result: dict[str, Any] = json.loads(
        next(x for x in out.splitlines() if x.startswith(RESULT))[len(RESULT) :]
    )
    return result


def _quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="spanline-reliability-") as scratch:
        base = Path(scratch)
        span = SMOKE_KILL_SPAN_S if args.smoke else KILL_SPAN_S
        load = [os.getloadavg()[0]]
        measured = [
            measure_kill(base, at, args.blob_mb, args.flush_ms)
            for at in kill_moments(args.kills, span, rng)
        ]
        load.append(os.getloadavg()[0])
        exits = [measure_exit(base) for _ in range(0 if args.kill_only else args.exits)]
        outage: dict[str, list[dict[str, Any]]] = {mode: [] for mode in OUTAGES}
        for _ in range(0 if args.kill_only else args.outage_repeats):
            for mode in OUTAGES:  # interleaved: the machine's noise hits all alike
                outage[mode].append(measure_outage(base, mode, args.spans))
    kills = [ms for ms, _, _ in measured]
    flushed = [{"flushed": flushed, "on_disk": ends} for _, flushed, ends in measured]
    return {
        "kills_ms": kills,
        "kills_flushed": flushed,
        "kill_load": load,
        "exits": exits,
        "outage": outage,
    }


def report(results: dict[str, Any], args: argparse.Namespace) -> None:
    kills = results["kills_ms"]
    print(f"python {platform.python_version()} on {os.cpu_count()} CPUs; load {RATE:,} spans/s")
    print()
    low, high = SMOKE_KILL_SPAN_S if args.smoke else KILL_SPAN_S
    blobs = f", a {args.blob_mb} MB blob always in flight" if args.blob_mb else ""
    blobs += f", flush_ms={args.flush_ms}" if args.flush_ms else ""
    print(f"kill -9 exposure over {len(kills)} kills {low:g}-{high:g} s into the load{blobs}")
    print("(ms between the kill and the newest event on disk)")
    print(f"{'min':>8} {'p50':>8} {'p90':>8} {'max':>8}   target: max <= 300")
    print(
        f"{min(kills):8.1f} {_quantile(kills, 0.5):8.1f} {_quantile(kills, 0.9):8.1f} "
        f"{max(kills):8.1f}"
    )
    print("every kill (ms): " + ", ".join(f"{k:.0f}" for k in sorted(kills)))
    before, after = results["kill_load"]
    print(f"load average (1 min) before and after the kills: {before:.2f}, {after:.2f}")
    kept = all(k["on_disk"] >= k["flushed"] for k in results["kills_flushed"])
    print(f"every span flushed before a kill found after it: {kept}")
    print()
    if args.kill_only:
        return
    exit_s = [e["exit_s"] for e in results["exits"]]
    written = all(e["summary_written"] and e["returncode"] == 0 for e in results["exits"])
    print(f"producers' end to process exit, run_summary.json included ({len(exit_s)} runs)")
    print(f"median {statistics.median(exit_s):.3f} s, max {max(exit_s):.3f} s   target: <= 2 s")
    print(f"summary written and exit 0 every time: {written}")
    print()
    print(f"exporter outage: {args.spans:,} spans, tight loop, median of {args.outage_repeats}")
    header = (
        f"{'exporter':<10} {'us/span':>8} {'vs none':>8} {'shutdown s':>11} "
        f"{'received':>9} {'exported':>9} {'dropped':>9} {'failed':>8} {'adds up':>8}"
    )
    print(header)
    outage = results["outage"]
    base_cost = statistics.median(r["per_span_us"] for r in outage["none"])
    for mode in OUTAGES:
        rows = outage[mode]
        cost = statistics.median(r["per_span_us"] for r in rows)
        shutdown_s = statistics.median(r["shutdown_s"] for r in rows)
        stats = rows[-1]["exporter"]
        if stats:
            received = stats["received"]
            parts = (stats["exported"], stats["dropped"], stats["failed"])
            adds_up = str(received == sum(parts))
            counters = f"{received:>9,} {parts[0]:>9,} {parts[1]:>9,} {parts[2]:>8,}"
        else:
            counters, adds_up = f"{'-':>9} {'-':>9} {'-':>9} {'-':>8}", "-"
        print(
            f"{mode:<10} {cost:8.2f} {cost / base_cost:7.2f}x {shutdown_s:11.3f} "
            f"{counters} {adds_up:>8}"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, help="kill -9 runs (default 20)")
    parser.add_argument("--exits", type=int, help="time-to-exit runs (default 5)")
    parser.add_argument("--spans", type=int, help="spans per exporter-outage run (100,000)")
    parser.add_argument("--outage-repeats", type=int, help="runs per exporter mode (3)")
    parser.add_argument("--seed", type=int, default=17, help="for the kill moments")
    parser.add_argument(
        "--blob-mb", type=int, default=0, help="kill runs: full capture, a new M MB value in flight"
    )
    parser.add_argument(
        "--flush-ms", type=int, default=0, help="kill runs: the writer's period (default: its own)"
    )
    parser.add_argument("--kill-only", action="store_true", help="only the kill -9 runs")
    parser.add_argument("--smoke", action="store_true", help="a tiny run (for tests)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, *rest = args.child
        if kind == "kill":
            child_kill(rest[0], *(int(x) for x in rest[1:3]))
        elif kind == "exit":
            child_exit(rest[0])
        else:
            child_outage(rest[0], rest[1], int(rest[2]))
        return 0
    for key, value in (SMOKE if args.smoke else DEFAULTS).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if min(args.kills, args.exits, args.spans, args.outage_repeats) < 1:
        parser.error("--kills, --exits, --spans and --outage-repeats must be at least 1")
    results = run(args)
    report(results, args)
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
