"""The caller's per-span cost with the OTLP exporter on, against healthy and broken receivers.

Usage::

    python benchmarks/otlp.py [--spans N] [--repeats R] [--rounds K] [--slow-s S]
                              [--smoke] [--json PATH]

Scenarios (each in a fresh interpreter, ``--worker NAME``): no exporter; the OTLP
exporter sending to a healthy receiver (from the exporter's thread, the default,
and from its helper process, ``process=True``); to a port nobody listens on (connection
refused); to a receiver answering HTTP 503 to everything; to one that holds every
request ``--slow-s`` seconds (10 by default) before answering. The receivers run in
this parent process, on 127.0.0.1.

The scenarios run K rounds, interleaved, each a fresh worker. For each scenario it
reports, per span: the hot loop (open and close N spans; the fastest of R repeats
in the fastest of K rounds: the run least disturbed by other work on a shared
machine) and its ratio to the no-exporter loop; the median over rounds too;
whether ``telemetry.jsonl`` holds every span; the worker's peak RSS; the exporter's
counters from the summary (received = exported + dropped + failed); and how long
``shutdown()`` took (its budget is 5 s here). Nothing is asserted: the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

SCENARIOS = ("none", "healthy", "healthy-process", "refused", "http-503", "slow")

DEFAULTS = {"spans": 50_000, "repeats": 5, "slow_s": 10.0, "rounds": 3}
SMOKE = {"spans": 1_000, "repeats": 1, "slow_s": 1.0, "rounds": 1}
RESULT_PREFIX = "RESULT "
SHUTDOWN_BUDGET_S = 5.0


class _Receiver:
    """Answers every POST with ``code`` after ``delay`` seconds; counts requests."""

    def __init__(self, code: int, delay: float) -> None:
        self.requests = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests += 1
                if delay:
                    time.sleep(delay)
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _refused_url() -> str:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def worker(scenario: str, spans: int, repeats: int, base: Path) -> dict[str, Any]:
    """One scenario in this interpreter: configure, time the loop, shut down."""
    import spanline

    exporters: list[Any] = [] if scenario == "none" else ["otlp"]
    if scenario == "healthy-process":
        from spanline.exporters.otlp import OtlpExporter

        exporters = [OtlpExporter(process=True)]
    run = spanline.configure_observability(
        enabled=True, run_dir=base, exporters=exporters, service_name="bench"
    )
    assert run is not None
    span = spanline.span
    for _ in range(1_000):  # warm up
        with span("warm"):
            pass
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(spans):
            with span("hot"):
                pass
        times.append((time.perf_counter() - start) / spans)
    began = time.monotonic()
    summary = spanline.shutdown(timeout=SHUTDOWN_BUDGET_S)
    shutdown_s = time.monotonic() - began
    ends = 0
    with run.telemetry_path.open("rb") as lines:
        for line in lines:
            ends += b'"span_end"' in line
    found = summary.to_dict()["exporters"] if summary else {}
    counts = found.get("otlp") or found.get("OtlpExporter") or {}
    return {
        "scenario": scenario,
        "hot_us": min(times) * 1e6,
        "hot_median_us": statistics.median(times) * 1e6,
        "spans_in_log": ends,
        "expected_spans": 1_000 + spans * repeats,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "shutdown_s": shutdown_s,
        "exporter": counts,
    }


def _run_worker(scenario: str, args: argparse.Namespace, env: dict[str, str]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as base:
        command = [sys.executable, __file__, "--worker", scenario, "--spans", str(args.spans)]
        command += ["--repeats", str(args.repeats), "--base", base]
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    for line in done.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX) :])  # type: ignore[no-any-return]
    raise RuntimeError(f"worker {scenario} failed ({done.returncode}): {done.stderr[-2000:]}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--spans", type=int)
    parser.add_argument("--repeats", type=int)
    parser.add_argument("--slow-s", dest="slow_s", type=float)
    parser.add_argument("--rounds", type=int, help="interleaved runs of every scenario")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes (for tests)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--worker", choices=SCENARIOS, help=argparse.SUPPRESS)
    parser.add_argument("--base", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for key, value in (SMOKE if args.smoke else DEFAULTS).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.worker:
        result = worker(args.worker, args.spans, args.repeats, args.base)
        print(RESULT_PREFIX + json.dumps(result))
        return 0
    receivers = {
        "healthy": _Receiver(200, 0.0),
        "http-503": _Receiver(503, 0.0),
        "slow": _Receiver(200, args.slow_s),
    }
    urls = {name: r.url for name, r in receivers.items()} | {"refused": _refused_url()}
    urls["healthy-process"] = urls["healthy"]
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SPANLINE_", "OTEL_"))}
    rounds: dict[str, list[dict[str, Any]]] = {scenario: [] for scenario in SCENARIOS}
    try:
        for _ in range(args.rounds):
            for scenario in SCENARIOS:
                env = dict(clean)
                if scenario != "none":
                    env["OTEL_EXPORTER_OTLP_ENDPOINT"] = urls[scenario]
                    env["OTEL_EXPORTER_OTLP_TIMEOUT"] = str(max(2.0, args.slow_s / 2))
                rounds[scenario].append(_run_worker(scenario, args, env))
    finally:
        for receiver in receivers.values():
            receiver.close()
    results = []
    for scenario in SCENARIOS:
        row = dict(min(rounds[scenario], key=lambda r: r["hot_us"]))
        row["hot_round_median_us"] = statistics.median(r["hot_us"] for r in rounds[scenario])
        results.append(row)
    baseline = results[0]["hot_us"]
    median_baseline = results[0]["hot_round_median_us"]
    for row in results:
        row["hot_ratio"] = row["hot_us"] / baseline
        row["hot_median_ratio"] = row["hot_round_median_us"] / median_baseline
    print(
        f"{args.spans} spans x {args.repeats} repeats x {args.rounds} rounds; "
        f"slow receiver: {args.slow_s} s a request"
    )
    header = f"{'scenario':<14} {'us/span':>8} {'ratio':>6} {'median':>6} {'in log':>13} "
    header += f"{'RSS MB':>7} "
    print(header + f"{'shutdown s':>10}  exporter (received/exported/dropped/failed)")
    for row in results:
        c = row["exporter"]
        counts = "/".join(str(c.get(k, "-")) for k in ("received", "exported", "dropped", "failed"))
        print(
            f"{row['scenario']:<14} {row['hot_us']:>8.2f} {row['hot_ratio']:>6.2f} "
            f"{row['hot_median_ratio']:>6.2f} "
            f"{row['spans_in_log']:>6}/{row['expected_spans']:<6} {row['peak_rss_mb']:>7.1f} "
            f"{row['shutdown_s']:>10.1f}  {counts}"
        )
    if args.json:
        args.json.write_text(json.dumps({"args": vars(args) | {"json": None}, "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
