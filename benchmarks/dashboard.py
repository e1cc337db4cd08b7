"""The live dashboard at scale: time to interactive, line latency, hot-path cost under clients.

Usage::

    python benchmarks/dashboard.py [--spans N] [--hot-spans N] [--lines N] [--repeat R]
                                   [--clients C] [--smoke] [--json PATH]

Three measurements, each against spanline's own server
(``spanline.dashboard.start_in_thread``, in this process) and Debian's chromium
driven by Playwright (never ``playwright install``):

* **interactive**: a finished run of N spans (100,000 by default: a root, 5
  phases, 35 agents, and under them LLM and tool spans, written by a fresh
  interpreter through spanline's API) is opened in a fresh browser context;
  the time is the page's ``performance.now()`` (milliseconds since navigation
  start) once its swimlanes are drawn (``#gantt g.lane rect.bar``) and its
  cards are there. Target: at most 2 s.
* **latency**: a writer appends a line to a run's ``telemetry.jsonl`` every
  ~100 ms (at a random phase against the server's 100 ms poll), and an SSE
  client on ``/events`` (httpx, in a thread) notes when each arrives. Target:
  about 250 ms.
* **hot path**: a fresh interpreter opens and closes H spans (200,000 by
  default) in a tight loop through spanline's API, into a run the server tails;
  the caller-thread time per span is measured with no SSE client and with C
  (10) clients streaming the run, alternately, R times each. Target: the
  median with clients at most 1.1x the median without.

``--smoke`` runs tiny sizes once (the test suite uses it); no timing is
asserted there.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

DEFAULTS = {"spans": 100_000, "hot_spans": 200_000, "lines": 40, "repeat": 3}
SMOKE = {"spans": 2_000, "hot_spans": 5_000, "lines": 5, "repeat": 1}
CLIENTS = 10
PHASES = ("discovery", "library_depth_0", "library_depth_n", "application", "synthesis")
AGENTS_PER_PHASE = 7
FIXED_SPANS = 1 + len(PHASES) * (1 + AGENTS_PER_PHASE)
LANES = len(PHASES) * AGENTS_PER_PHASE  # one an agent
TARGET_INTERACTIVE_MS = 2000.0
TARGET_LATENCY_MS = 250.0
TARGET_HOT_RATIO = 1.1
CHILD_TIMEOUT_S = 900.0
RESULT_PREFIX = "RESULT "
READY_PREFIX = "READY "
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run",
]  # fmt: skip


# -- children ---------------------------------------------------------------------------------
def produce_child(spans: int, base: Path) -> dict[str, Any]:
    """A finished run of about ``spans`` spans: root, phases, agents, LLM and tool units."""
    import spanline

    run = spanline.configure_observability(enabled=True, run_dir=base, service_name="bench")
    assert run is not None
    span = spanline.get_tracer().span
    agents = len(PHASES) * AGENTS_PER_PHASE
    units, extra = divmod(max(0, spans - FIXED_SPANS) // 3, agents)
    count = 0
    with span("dashboard-bench", kind="run"):
        for number, phase in enumerate(PHASES):
            with span(phase, kind="phase"):
                for index in range(AGENTS_PER_PHASE):
                    agent_id = f"agent-{number}-{index}"
                    with span(
                        f"lib-{number}-{index}", kind="agent", **{"gen_ai.agent.id": agent_id}
                    ):
                        for _ in range(units + (number * AGENTS_PER_PHASE + index < extra)):
                            with span("llm.analyze", kind="llm") as llm:
                                llm.set_attributes({"gen_ai.request.model": "claude-sonnet-4",
                                                    "gen_ai.usage.input_tokens": 900,
                                                    "gen_ai.usage.output_tokens": 120})  # fmt: skip
                                llm.add(tokens=1020)
                            for tool in ("read_file", "grep"):
                                with span(f"tool.{tool}", kind="tool", **{"tool.name": tool}) as t:
                                    t.add(tool_uses=1)
                            count += 3
                            if count % 20_000 < 3:
                                spanline.flush(timeout=600.0)
    spanline.shutdown()
    size = run.telemetry_path.stat().st_size
    return {"run_id": run.run_id, "base": str(run.base), "file_mb": size / 1e6}


def hot_child(spans: int, base: Path) -> dict[str, Any]:
    """Wait for a go on stdin, then time ``spans`` spans in a tight loop on this thread."""
    import spanline

    run = spanline.configure_observability(enabled=True, run_dir=base, service_name="hot")
    assert run is not None
    span = spanline.get_tracer().span
    spanline.flush()  # run_start is on disk: clients can connect and see it
    print(READY_PREFIX + run.run_id, flush=True)
    sys.stdin.readline()
    began = time.perf_counter()
    with span("hot-loop", kind="run"):
        for _ in range(spans):
            with span("tool.read_file", kind="tool") as tool:
                tool.add(tool_uses=1)
    hot_s = time.perf_counter() - began
    summary = spanline.shutdown()
    dropped = summary.to_dict()["dropped_events"] if summary is not None else None
    return {"run_id": run.run_id, "spans": spans, "hot_us": hot_s / spans * 1e6,
            "dropped_events": dropped}  # fmt: skip


# -- orchestration ----------------------------------------------------------------------------
def child_env() -> dict[str, str]:
    """This environment without spanline's or OpenTelemetry's settings (they change the work)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPANLINE_", "OTEL_"))}
    env.pop("TRACEPARENT", None)
    return env


def child_command(*args: str) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), *args]


def result_of(stdout: str) -> dict[str, Any]:
    lines = [x for x in stdout.splitlines() if x.startswith(RESULT_PREFIX)]
    if not lines:
        raise SystemExit(f"a child printed no result: {stdout[-2000:]!r}")
    return dict(json.loads(lines[-1][len(RESULT_PREFIX) :]))


def produce(spans: int, base: Path) -> dict[str, Any]:
    proc = subprocess.run(
        child_command("--child", "produce", "--spans", str(spans), "--base", str(base)),
        env=child_env(), capture_output=True, text=True, timeout=CHILD_TIMEOUT_S, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        raise SystemExit(f"producing the run failed: {proc.stderr[-2000:]}")
    return result_of(proc.stdout)


def launch_browser(playwright: Any) -> Any:
    executable = shutil.which("chromium")
    if executable is None:
        raise SystemExit("Debian's chromium is missing (apt-get install chromium)")
    return playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)


def measure_interactive(browser: Any, url: str, repeat: int) -> dict[str, Any]:
    """Navigation start to every lane drawn, in a fresh context each time (no cache)."""
    from playwright.sync_api import expect

    samples, lanes = [], 0
    for _ in range(repeat):
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        try:
            page = context.new_page()
            page.set_default_timeout(120_000)
            page.goto(url)
            page.wait_for_selector("#gantt g.lane rect.bar")
            page.wait_for_selector("#cards .card")
            # The page draws a finished run as it replays it, a few times a second: the
            # first bar is not the last. (Its CSP forbids eval: expect() polls instead.)
            with contextlib.suppress(AssertionError):  # what is drawn by then is reported
                expect(page.locator("#gantt g.lane")).to_have_count(LANES, timeout=120_000)
            samples.append(float(page.evaluate("performance.now()")))
            lanes = int(page.evaluate("document.querySelectorAll('#gantt g.lane').length"))
        finally:
            context.close()
    return {"samples_ms": samples, "median_ms": statistics.median(samples), "lanes_drawn": lanes}


class SseClient:
    """An ``/events`` client on a thread; notes each message's arrival (perf_counter).

    With ``count_only`` it counts messages in the raw bytes instead, as cheaply as a
    browser's native parser would: the hot-path measurement is about what the server
    takes from the traced program's cores, not about a Python client parsing 4M lines
    on the same two cores.
    """

    def __init__(self, url: str, *, count_only: bool = False) -> None:
        self.url = url
        self.count_only = count_only
        self.arrivals: list[tuple[float, str]] = []
        self.connected = threading.Event()
        self.stop = threading.Event()
        self.count = 0
        self.response: Any = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        import httpx

        try:
            with httpx.Client(timeout=httpx.Timeout(5.0, read=None)) as client:
                with client.stream("GET", self.url) as response:
                    self.response = response
                    if self.count_only:
                        self._count(response)
                        return
                    for line in response.iter_lines():
                        if line.startswith("data:"):
                            self.arrivals.append((time.perf_counter(), line[5:].strip()))
                            self.count += 1
                            self.connected.set()
                        if self.stop.is_set():
                            return
        except (httpx.HTTPError, OSError, RuntimeError):
            if not self.stop.is_set():
                raise

    def _count(self, response: Any) -> None:
        # Every message carries an id first, so each "data: " follows a newline. The
        # six bytes kept cannot hold the whole seven-byte marker: none is counted twice.
        tail = b""
        for chunk in response.iter_raw():
            data = tail + chunk
            self.count += data.count(b"\ndata: ")
            self.connected.set()
            tail = data[-6:]
            if self.stop.is_set():
                return

    def close(self) -> None:
        """Disconnect (at once: closing the response ends the blocked read)."""
        self.stop.set()
        if self.response is not None:
            try:
                self.response.close()
            except (OSError, RuntimeError):
                pass
        self.thread.join(0.2)  # a daemon: the server ends its stream when it stops


def measure_latency(server_url: str, base: Path, run_id: str, lines: int) -> dict[str, Any]:
    """Append ``lines`` lines ~100 ms apart; how long until the SSE client has each one."""
    telemetry = base / "runs" / run_id / "telemetry.jsonl"
    start = telemetry.stat().st_size
    client = SseClient(f"{server_url}/events?run={run_id}&from={start}")
    written: dict[int, float] = {}
    rng = random.Random(0)
    with telemetry.open("ab") as out:
        for seq in range(lines):
            time.sleep(0.05 + rng.random() * 0.1)
            out.write(json.dumps({"event": "event", "name": "bench.line", "ts": time.time(),
                                  "attributes": {"seq": seq}}).encode() + b"\n")  # fmt: skip
            out.flush()
            written[seq] = time.perf_counter()
    deadline = time.monotonic() + 10.0
    while len(client.arrivals) < lines and time.monotonic() < deadline:
        time.sleep(0.02)
    client.close()
    latencies = sorted(
        (arrived - written[json.loads(data)["attributes"]["seq"]]) * 1000
        for arrived, data in client.arrivals
    )
    if not latencies:
        raise SystemExit("the SSE client received none of the lines")
    p95 = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]
    return {"lines": lines, "received": len(latencies), "median_ms": statistics.median(latencies),
            "p95_ms": p95, "max_ms": latencies[-1]}  # fmt: skip


def hot_once(server_url: str, base: Path, spans: int, clients: int) -> dict[str, Any]:
    """One traced child, with ``clients`` SSE clients tailing its run."""
    proc = subprocess.Popen(
        child_command("--child", "hot", "--hot-spans", str(spans), "--base", str(base)),
        env=child_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None
    ready = proc.stdout.readline()
    if not ready.startswith(READY_PREFIX):
        proc.kill()
        raise SystemExit(f"the traced child did not start: {ready!r} {proc.stderr.read()[-2000:]}")
    run_id = ready[len(READY_PREFIX) :].strip()
    streams = [
        SseClient(f"{server_url}/events?run={run_id}", count_only=True) for _ in range(clients)
    ]
    for stream in streams:
        if not stream.connected.wait(10.0):
            raise SystemExit("an SSE client did not connect")
    proc.stdin.write("go\n")
    proc.stdin.flush()
    stdout, stderr = proc.communicate(timeout=CHILD_TIMEOUT_S)
    if proc.returncode != 0:
        raise SystemExit(f"the traced child failed: {stderr[-2000:]}")
    result = result_of(stdout)
    lines = (base / "runs" / run_id / "telemetry.jsonl").read_bytes().count(b"\n")
    deadline = time.monotonic() + 30.0
    while streams and min(s.count for s in streams) < lines and time.monotonic() < deadline:
        time.sleep(0.05)
    result["clients"] = clients
    result["lines"] = lines
    result["clients_caught_up"] = all(s.count >= lines for s in streams)
    for stream in streams:
        stream.close()
    return result


def measure_hot(
    server_url: str, base: Path, spans: int, clients: int, repeat: int
) -> dict[str, Any]:
    """Alternate runs with no client and with ``clients``; medians and their ratio."""
    samples: list[dict[str, Any]] = []
    for number in range(repeat):
        for count in (0, clients) if number % 2 == 0 else (clients, 0):
            print(f"hot path {number + 1}/{repeat}: {count} clients", file=sys.stderr)
            samples.append(hot_once(server_url, base, spans, count))
    none = statistics.median(s["hot_us"] for s in samples if s["clients"] == 0)
    some = statistics.median(s["hot_us"] for s in samples if s["clients"] == clients)
    caught_up = all(s["clients_caught_up"] for s in samples if s["clients"])
    return {"spans": spans, "clients": clients, "samples": samples, "none_us": none,
            "clients_us": some, "ratio": some / none, "clients_caught_up": caught_up}  # fmt: skip


# -- entry points -----------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line arguments, with defaults filled in."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--spans", type=int, help="spans in the run opened (default 100,000)")
    parser.add_argument("--hot-spans", type=int, help="spans of the hot loop (default 200,000)")
    parser.add_argument("--lines", type=int, help="lines timed for latency (default 40)")
    parser.add_argument("--repeat", type=int, help="repeats to take the median of (default 3)")
    parser.add_argument("--clients", type=int, default=CLIENTS, help="SSE clients (default 10)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, once (for tests)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    parser.add_argument("--child", choices=("produce", "hot"), help=argparse.SUPPRESS)
    parser.add_argument("--base", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for key, value in (SMOKE if args.smoke else DEFAULTS).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if min(args.spans, args.hot_spans, args.lines, args.repeat, args.clients) < 1:
        parser.error("--spans, --hot-spans, --lines, --repeat and --clients must be at least 1")
    return args


def report(document: dict[str, Any]) -> None:
    """Print the table and the verdicts."""
    inter, lat, hot = document["interactive"], document["latency"], document["hot_path"]
    print(f"python {platform.python_version()} on {os.cpu_count()} CPUs; "
          f"median of {document['repeat']}")  # fmt: skip
    print(f"{'measurement':<44}{'result':>22}{'target':>12}")
    rows = [
        (f"interactive, {document['spans']:,}-span run ({inter['file_mb']:.0f} MB)",
         f"{inter['median_ms']:.0f} ms", f"<= {TARGET_INTERACTIVE_MS:.0f} ms"),
        ("line latency, median / p95 / max",
         f"{lat['median_ms']:.0f} / {lat['p95_ms']:.0f} / {lat['max_ms']:.0f} ms",
         f"~{TARGET_LATENCY_MS:.0f} ms"),
        (f"hot path, no client / {hot['clients']} SSE clients",
         f"{hot['none_us']:.2f} / {hot['clients_us']:.2f} us", ""),
        ("hot path ratio", f"{hot['ratio']:.3f}x", f"<= {TARGET_HOT_RATIO}x"),
    ]  # fmt: skip
    for name, result, target in rows:
        print(f"{name:<44}{result:>22}{target:>12}")
    print(f"lanes drawn: {inter['lanes_drawn']}; lines received: {lat['received']}/{lat['lines']};"
          f" clients caught up: {hot['clients_caught_up']}")  # fmt: skip
    verdicts = (("interactive", "interactive_target_met"), ("latency", "latency_target_met"),
                ("hot path", "hot_target_met"))  # fmt: skip
    for label, key in verdicts:
        print(f"target ({label}): {'met' if document[key] else 'NOT met'}")


def main(argv: Sequence[str] | None = None) -> None:
    """Measure (or, with ``--child``, be one part of a measurement)."""
    args = parse_args(argv)
    if args.child == "produce":
        print(RESULT_PREFIX + json.dumps(produce_child(args.spans, args.base)), flush=True)
        return
    if args.child == "hot":
        print(RESULT_PREFIX + json.dumps(hot_child(args.hot_spans, args.base)), flush=True)
        return
    from playwright.sync_api import sync_playwright

    from spanline.dashboard import start_in_thread

    scratch = Path(tempfile.mkdtemp(prefix="spanline-dashboard-bench-"))
    server = None
    try:
        base = scratch / "base"
        print(f"producing a {args.spans:,}-span run", file=sys.stderr)
        run = produce(args.spans, base)
        server = start_in_thread(base, port=0, default_run=run["run_id"])
        origin = server.url.split("/?", 1)[0].rstrip("/")
        with sync_playwright() as playwright:
            browser = launch_browser(playwright)
            try:
                interactive = measure_interactive(browser, server.url, args.repeat)
            finally:
                browser.close()
        interactive["file_mb"] = run["file_mb"]
        latency = measure_latency(origin, base, run["run_id"], args.lines)
        hot = measure_hot(origin, base, args.hot_spans, args.clients, args.repeat)
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    document = {
        "spans": args.spans, "repeat": args.repeat, "interactive": interactive,
        "latency": latency, "hot_path": hot,
        "interactive_target_met": interactive["median_ms"] <= TARGET_INTERACTIVE_MS,
        "latency_target_met": latency["median_ms"] <= TARGET_LATENCY_MS,
        "hot_target_met": hot["ratio"] <= TARGET_HOT_RATIO,
        "environment": {"python": platform.python_version(), "cpus": os.cpu_count(),
                        "platform": platform.platform()},
    }  # fmt: skip
    report(document)
    if args.json is not None:
        args.json.write_text(json.dumps(document, indent=2) + "\n")


if __name__ == "__main__":
    main()
