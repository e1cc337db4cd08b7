"""What the Logfire exporter costs: its worker's time per span against the OTLP exporter's,
and the traced program's per-span cost with it on (receiver up or down) against none.

Usage::

    python benchmarks/logfire_export.py [--spans N] [--repeats R] [--smoke] [--json PATH]

* **worker**: the events of a traced run (agents with tools under them, structured
  attributes, an event per agent) are fed to each exporter in batches of 512 lines, as
  the writer hands them over, against a loopback OTLP/HTTP receiver that answers 200.
  CPU time per span of the sender doing the work (on this thread), the receiver's
  threads not counted.
  Rows: the OTLP exporter; the Logfire exporter (logfire.* attributes, logs, and no
  pending span, since each span ends in the batch it starts in); the Logfire exporter
  fed every start before any end (every span pending: the worst case). Median of R
  repeats; ratio to the OTLP exporter.
* **caller**: N spans opened and closed in a loop with tracing on and no exporter, then
  with the OTLP exporter and with the Logfire exporter, each with a live receiver (in a
  process of its own) and pointed at a closed port. Loop time per span, median of R
  repeats; ratio to no exporter. Both exporters send from their thread (the default);
  one span and a flush before the loop let each start (and a helper process, with
  ``process=True``, boot) before the loop is timed. With the
  receiver down, ``shutdown`` gives up after 2 s and counts what is lost: the benchmark
  prints that.

``--smoke`` runs a tiny size once (the test suite uses it); no timing is asserted there.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import spanline
from spanline.exporters.logfire import LogfireExporter
from spanline.exporters.otlp import OtlpExporter

TOKEN = "pylf_v1_us_benchmark"


class _Sink(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def _receiver() -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _receiver_process() -> tuple[subprocess.Popen[str], str]:
    """A receiver in a process of its own (so its work is not the traced program's)."""
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    return child, child.stdout.readline().strip()


def _serve() -> int:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    server.daemon_threads = True
    print(f"http://127.0.0.1:{server.server_port}", flush=True)
    server.serve_forever()
    return 0


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _traced_run(spans: int, base: Path) -> list[dict[str, Any]]:
    """The lines of a run of about ``spans`` spans: agents with five tools each."""
    run = spanline.configure_observability(enabled=True, run_dir=base, service_name="bench")
    assert run is not None
    for agent in range(max(1, spans // 6)):
        with spanline.span(f"agent-{agent}", kind="agent", plan={"steps": 5}, tags=["bench"]):
            spanline.event("new_answer", label=f"agent{agent}.1")
            for tool in range(5):
                with spanline.span("tool.read", kind="tool", path=f"f{tool}") as span:
                    span.set_attribute("tool.success", True)
                    span.set_attribute("result", {"lines": tool})
    spanline.shutdown()
    with open(run.telemetry_path, "rb") as file:
        return [json.loads(line) for line in file]


def _time_worker(
    make: Callable[[], Any], lines: list[dict[str, Any]], batch: int, repeats: int
) -> float:
    """Median CPU seconds of this thread per span of feeding ``lines`` in batches of
    ``batch`` (the receiver's threads are not counted: only what the exporter takes)."""
    span_lines = sum(1 for line in lines if line["event"] == "span_end")
    times = []
    for _ in range(repeats):
        exporter = make()
        batches = [lines[i : i + batch] for i in range(0, len(lines), batch)]
        start = time.thread_time()
        for chunk in batches:
            exporter.export(chunk)
        times.append((time.thread_time() - start) / span_lines)
        exporter.shutdown()
    return statistics.median(times)


def _time_caller(spans: int, repeats: int, base: Path, wait: float = 60.0, **options: Any) -> float:
    times = []
    for _ in range(repeats):
        spanline.configure_observability(enabled=True, run_dir=base, **options)
        # Warm up: the exporter connects (a helper process would boot) on its first
        # batch; the loop measures the steady state, not that one-off start.
        with spanline.span("warm-up"):
            pass
        spanline.flush(timeout=3)
        start = time.perf_counter()
        for _ in range(spans):
            with spanline.span("work", kind="tool"):
                pass
        times.append((time.perf_counter() - start) / spans)
        spanline.shutdown(timeout=wait)
    return statistics.median(times)


def _table(title: str, rows: Sequence[tuple[str, float]]) -> str:
    first = rows[0][1]
    lines = [title, f"{'':44} {'µs/span':>9} {'ratio':>7}"]
    lines += [f"{name:44} {value * 1e6:9.2f} {value / first:7.2f}x" for name, value in rows]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spans", type=int, default=30_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--smoke", action="store_true", help="tiny size, one repeat")
    parser.add_argument("--json", type=Path, help="write the results here too")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        return _serve()
    spans, repeats = (600, 1) if args.smoke else (args.spans, args.repeats)
    server = _receiver()
    base_url = f"http://127.0.0.1:{server.server_port}"
    endpoint = f"{base_url}/v1/traces"
    with tempfile.TemporaryDirectory() as scratch:
        lines = _traced_run(spans, Path(scratch) / "source")
        worker = [
            (
                "OTLP exporter",
                lambda: OtlpExporter(endpoint=endpoint, protocol="http/protobuf"),
            ),
            (
                "Logfire exporter",
                lambda: LogfireExporter(token=TOKEN, base_url=base_url),
            ),
        ]
        worker_rows = [(name, _time_worker(make, lines, 512, repeats)) for name, make in worker]
        # Every start exported before any end: each span is in flight, so each gets a
        # pending span (the same number of lines per request).
        starts_first = [line for line in lines if line["event"] == "span_start"]
        starts_first += [line for line in lines if line["event"] != "span_start"]
        worker_rows.append(
            (
                "Logfire exporter, every span pending",
                _time_worker(worker[1][1], starts_first, 512, repeats),
            )
        )
        caller_rows = [("no exporter", _time_caller(spans, repeats, Path(scratch) / "none"))]
        down = f"http://127.0.0.1:{_closed_port()}"
        # The OTLP exporter beside it, as the reference for "an exporter at work".
        sink, live = _receiver_process()
        for name, url in (("receiver up", live), ("receiver down", down)):
            for exporter, variable, value in (
                ("otlp", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", f"{url}/v1/traces"),
                ("logfire", "LOGFIRE_BASE_URL", url),
            ):
                os.environ.update({variable: value, "LOGFIRE_TOKEN": TOKEN})
                directory = Path(scratch) / f"{exporter}-{name}"
                wait = 60.0 if url == live else 2.0
                cost = _time_caller(spans, repeats, directory, wait, exporters=[exporter])
                caller_rows.append((f"{exporter}, {name}", cost))
        sink.terminate()
        sink.wait()
    server.shutdown()
    server.server_close()
    print(f"{len(lines)} lines, {spans} spans requested, median of {repeats}")
    print(_table("Exporter worker, CPU per exported span", worker_rows))
    print(_table("Traced program, per span (the hot path)", caller_rows))
    if args.json:
        args.json.write_text(
            json.dumps({"worker": dict(worker_rows), "caller": dict(caller_rows)}, indent=2)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
