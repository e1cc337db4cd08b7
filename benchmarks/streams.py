"""Many live streams on a busy run: how current they stay, and what /api/runs costs meanwhile.

Usage::

    python benchmarks/streams.py [--clients C] [--slow S] [--rate R] [--seconds T]
                                 [--pad BYTES] [--buffer BYTES] [--smoke] [--json PATH]

spanline's dashboard server runs in its own interpreter over a fresh run; a
writer process appends R spans a second (2,000 by default: a start and an end
line each) for T seconds; C clients (200) follow ``/events`` from offset 0 over
loopback. S of them (10) are slow: they read nothing until every other client
has caught up with the end of the log, so the server must resync them rather
than wait for them. Meanwhile ``/api/runs`` is asked every 100 ms.

Reported: for each client, its lag in events (lines of the log past the last one
it had) when the writer stops, the resyncs it got and whether it reached the end
of the log; the lag's median and maximum; how many clients were current when the
writer stopped and how long after it the last one caught up; the latency of
``/api/runs`` under load (median, p95). ``--smoke`` runs 20 clients for half a
second (the test suite's size is its own).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

RUN = "load-20261207T000000-aaaaaa"
_ID = re.compile(rb"\nid: (\d+)\r?\n")
_RESYNC = b"event: resync"

SERVER = """
import sys
from pathlib import Path
from spanline.dashboard._server import DashboardServer
server = DashboardServer(Path(sys.argv[1]), host="127.0.0.1", port=0)
server.config.buffer_bytes = int(sys.argv[2])
print(server.port, flush=True)
server.serve_forever()
"""

WRITER = """
import sys, time, orjson
path, rate, seconds, pad = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
total, batch, trace = int(rate * seconds), max(1, rate // 100), "0" * 32
started = time.monotonic()
with open(path, "ab") as out:
    for first in range(0, total, batch):
        lines = []
        for n in range(first, min(first + batch, total)):
            sid = "%016x" % (n + 1)
            lines.append(orjson.dumps({"event": "span_start", "span_id": sid, "parent": None,
                "trace_id": trace, "name": "tool.read", "component": None, "kind": "tool",
                "ts": 1800000000.0 + n / rate,
                "attributes": {"path": "src/x%d.rs" % n, "preview": "x" * pad}}))
            lines.append(orjson.dumps({"event": "span_end", "span_id": sid, "status": "ok",
                "duration_ms": 1.0, "tokens": 0, "tool_uses": 1,
                "ts": 1800000000.0 + n / rate, "attributes": {}}))
        out.write(b"\\n".join(lines) + b"\\n")
        out.flush()
        delay = started + (first + batch) / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
"""


class Client:
    """One ``/events`` reader: counts messages and resyncs, keeps the last id."""

    def __init__(self, slow: bool) -> None:
        self.slow = slow
        self.last = 0
        self.events = 0
        self.resyncs = 0
        self.ordered = True
        self.lag_at_stop: int | None = None
        self.caught_up_after_s: float | None = None


async def _follow(client: Client, port: int, shared: dict[str, Any]) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if client.slow:  # a small window: the server's writes to it block soon
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    # A slow client's reader buffers little: the asyncio stream would otherwise read
    # megabytes ahead for it, and the server would never see it fall behind.
    reader, writer = await asyncio.open_connection(
        sock=sock, limit=1 << 16 if client.slow else 1 << 22
    )
    request = f"GET /events?run={RUN}&from=0 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"
    writer.write(request.encode())
    head = await reader.readuntil(b"\r\n\r\n")
    assert b" 200 " in head.split(b"\r\n", 1)[0], head
    shared["connected"] += 1
    shared["changed"].set()
    if client.slow:
        writer.transport.pause_reading()  # type: ignore[attr-defined]
        await shared["release"].wait()
        writer.transport.resume_reading()  # type: ignore[attr-defined]
    rest = b""
    try:
        while True:
            data = await reader.read(1 << 18)
            if not data:
                return
            data = rest + data
            cut = data.rfind(b"\r\n\r\n")
            if cut < 0:
                rest = data
                continue
            done, rest = data[: cut + 4], data[cut + 4 :]
            ids = [int(found) for found in _ID.findall(b"\n" + done)]
            if ids:
                client.ordered = client.ordered and ids[0] >= client.last and ids == sorted(ids)
                client.events += len(ids)
                client.last = ids[-1]
            client.resyncs += done.count(_RESYNC)
            final = shared.get("final")
            if final is not None and client.last >= final and client.caught_up_after_s is None:
                client.caught_up_after_s = time.monotonic() - shared["stopped_at"]
            shared["changed"].set()
    finally:
        writer.close()


async def _poll_runs(port: int, shared: dict[str, Any], latencies: list[float]) -> None:
    while not shared["writing_done"]:
        asked = time.perf_counter()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            f"GET /api/runs HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        await reader.read()
        latencies.append((time.perf_counter() - asked) * 1000)
        writer.close()
        await asyncio.sleep(0.1)


async def _wait(shared: dict[str, Any], done: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not done():
        shared["changed"].clear()
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        try:
            await asyncio.wait_for(shared["changed"].wait(), left)
        except asyncio.TimeoutError:
            return done()
    return True


async def _load(args: argparse.Namespace, base: Path, path: Path, port: int) -> dict[str, Any]:
    shared: dict[str, Any] = {"connected": 0, "changed": asyncio.Event(),
                              "release": asyncio.Event(), "writing_done": False}  # fmt: skip
    clients = [Client(slow=index < args.slow) for index in range(args.clients)]
    tasks = [asyncio.create_task(_follow(client, port, shared)) for client in clients]
    connected = await _wait(shared, lambda: shared["connected"] == len(clients), args.timeout)
    assert connected, f"only {shared['connected']} of {len(clients)} clients connected"
    latencies: list[float] = []
    poller = asyncio.create_task(_poll_runs(port, shared, latencies))
    writer = await asyncio.create_subprocess_exec(
        sys.executable, "-c", WRITER, str(path), str(args.rate), str(args.seconds), str(args.pad)
    )
    await writer.wait()
    shared["stopped_at"] = time.monotonic()
    shared["writing_done"] = True
    data = path.read_bytes()
    final = shared["final"] = len(data)
    ends = [index + 1 for index, byte in enumerate(data) if byte == 10]
    for client in clients:
        client.lag_at_stop = len(ends) - bisect.bisect_right(ends, client.last)
        if client.last >= final:
            client.caught_up_after_s = 0.0
    await poller
    fast = [client for client in clients if not client.slow]
    fast_done = await _wait(shared, lambda: all(c.last >= final for c in fast), args.timeout)
    slow_behind_then = sum(client.last < final for client in clients if client.slow)
    shared["release"].set()
    all_done = await _wait(shared, lambda: all(c.last >= final for c in clients), args.timeout)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    lags = [client.lag_at_stop or 0 for client in clients]
    caught = [c.caught_up_after_s for c in clients if c.caught_up_after_s is not None]
    return {
        "clients": len(clients),
        "slow": args.slow,
        "rate": args.rate,
        "seconds": args.seconds,
        "lines": len(ends),
        "final_offset": final,
        "fast_caught_up_before_slow_read": fast_done,
        "slow_behind_when_fast_caught_up": slow_behind_then,
        "all_caught_up": all_done,
        "current_at_stop": sum(lag == 0 for lag in lags),
        "lag_events_median": statistics.median(lags),
        "lag_events_max": max(lags),
        "last_caught_up_after_s": max(caught) if caught else None,
        "api_runs_ms_median": statistics.median(latencies) if latencies else None,
        "api_runs_ms_p95": _p95(latencies),
        "per_client": [
            {
                "slow": c.slow,
                "lag_at_stop": c.lag_at_stop,
                "resyncs": c.resyncs,
                "events": c.events,
                "last": c.last,
                "ordered": c.ordered,
            }
            for c in clients
        ],
    }


def _p95(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """One load run (see the module); returns the figures."""
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        directory = base / "runs" / RUN
        directory.mkdir(parents=True)
        path = directory / "telemetry.jsonl"
        header = {"event": "run_start", "ts": 1800000000.0, "run_id": RUN, "pid": 1,
                  "host": "elsewhere", "schema_version": 1}  # fmt: skip
        path.write_text(json.dumps(header) + "\n")
        server = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(base), str(args.buffer)],
            stdout=subprocess.PIPE,
            text=True,
            env={k: v for k, v in os.environ.items() if not k.startswith("SPANLINE_")},
        )
        try:
            assert server.stdout is not None
            port = int(server.stdout.readline())
            return asyncio.run(_load(args, base, path, port))
        finally:
            server.terminate()
            server.wait(30)
            if server.stdout is not None:
                server.stdout.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--slow", type=int, default=10)
    parser.add_argument("--rate", type=int, default=2000, help="spans a second")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--pad", type=int, default=0, help="bytes of preview per span start")
    parser.add_argument("--buffer", type=int, default=4 * 1024 * 1024, help="bytes per client")
    parser.add_argument("--timeout", type=float, default=120.0, help="longest wait for a count")
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.smoke:
        args.clients, args.slow, args.seconds = 20, 2, 0.5
    result = measure(args)
    print(f"{result['clients']} clients ({result['slow']} slow), {result['rate']:,} spans/s "
          f"for {result['seconds']} s: {result['lines']:,} lines")  # fmt: skip
    print(f"  current when the writer stopped: {result['current_at_stop']} of {result['clients']}")
    print(f"  lag then, in events: median {result['lag_events_median']}, "
          f"max {result['lag_events_max']}")  # fmt: skip
    print(f"  every client at the end of the log: {result['all_caught_up']}, the last "
          f"{result['last_caught_up_after_s']} s after the writer stopped")  # fmt: skip
    resyncs = sum(c["resyncs"] for c in result["per_client"])
    slow_resynced = sum(c["resyncs"] > 0 for c in result["per_client"] if c["slow"])
    print(f"  resyncs: {resyncs} (slow clients resynced: {slow_resynced} of {result['slow']})")
    print(f"  /api/runs under load: median {result['api_runs_ms_median']:.1f} ms, "
          f"p95 {result['api_runs_ms_p95']:.1f} ms")  # fmt: skip
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
