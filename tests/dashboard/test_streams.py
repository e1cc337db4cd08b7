"""Live streams share one tail per run; a client that falls behind is resynced.

Every message but ``resync`` is one line of the log verbatim with the byte offset
past it as its ``id``; a ``resync`` carries ``{offset, snapshot}`` and its ``id`` is
that offset, from which the stream goes on.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import orjson

from spanline.dashboard._server import DashboardServer
from spanline.folds.display import longest_shown
from tests._helpers import ROOT, run_interpreter
from tests.dashboard._sse import Message, messages

RUN = "load-20261207T000000-aaaaaa"
TRACE = "0" * 32


def span_lines(first: int, count: int, name: str = "s", pad: int = 0) -> bytes:
    """``count`` tool spans (a start and an end each), numbered from ``first``."""
    out = []
    for number in range(first, first + count):
        sid = f"{number + 1:016x}"
        start = {"event": "span_start", "span_id": sid, "parent": None, "trace_id": TRACE,
                 "name": f"{name}{number}", "component": None, "kind": "agent",
                 "ts": 1800000000.0 + number, "attributes": {"pad": "x" * pad}}  # fmt: skip
        end = {"event": "span_end", "span_id": sid, "status": "ok", "duration_ms": 1.0,
               "tokens": 1, "tool_uses": 0, "ts": 1800000000.5 + number,
               "attributes": {}}  # fmt: skip
        out += [orjson.dumps(start), orjson.dumps(end)]
    return b"\n".join(out) + b"\n"


def new_run(base: Path, run_id: str = RUN) -> Path:
    directory = base / "runs" / run_id
    directory.mkdir(parents=True)
    header = {"event": "run_start", "ts": 1800000000.0, "run_id": run_id, "pid": 1,
              "host": "elsewhere", "trace_id": TRACE, "schema_version": 1}  # fmt: skip
    path = directory / "telemetry.jsonl"
    path.write_bytes(orjson.dumps(header) + b"\n")
    return path


def _append(path: Path, data: bytes) -> None:
    with open(path, "ab") as out:
        out.write(data)


def test_a_client_behind_gets_a_resync_and_goes_on_from_its_offset(tmp_path: Path) -> None:
    """A burst larger than the client's buffer: one resync with a snapshot folded up to
    its offset, then the lines after it, verbatim; the client ends at the file's end."""
    base = tmp_path / "store"
    path = new_run(base)
    server = DashboardServer(base, host="127.0.0.1", port=0, ping_s=0.3, poll_s=0.05)
    server.config.buffer_bytes = 4096
    server.start_in_thread()
    try:
        url = f"http://127.0.0.1:{server.port}/events?run={RUN}&from=0"
        with httpx.Client(timeout=30) as http, http.stream("GET", url) as response:
            assert response.status_code == 200
            stream = messages(response)
            first = next(stream)
            assert first.id == str(path.stat().st_size)  # the run_start line
            _append(path, span_lines(0, 100))  # ~25 KB at once: past the buffer
            resync = next(stream)
            assert resync.event == "resync", resync
            body = json.loads(resync.data)
            assert resync.id == str(body["offset"])
            snapshot = body["snapshot"]
            assert snapshot["offset"] == body["offset"]
            folded = snapshot["summary"]["span_count"]
            assert folded >= 1  # the burst is in the snapshot, not in messages
            # Small lines from now on: each one message, verbatim, id past it.
            tail = span_lines(100, 5)
            offset = path.stat().st_size
            _append(path, tail)
            seen: list[Message] = []
            end = path.stat().st_size
            for message in stream:
                seen.append(message)
                if message.id == str(end):
                    break
            assert all(message.event is None for message in seen)
            lines = path.read_bytes()[body["offset"] :].splitlines()
            assert [m.data.encode() for m in seen] == lines
            offsets, at = [], body["offset"]
            for line in lines:
                at += len(line) + 1
                offsets.append(str(at))
            assert [m.id for m in seen] == offsets
            assert offset >= body["offset"]
        assert server.config.resyncs == 1
    finally:
        server.stop()


def test_the_snapshot_and_summary_carry_bounded_names(
    tmp_path: Path, server: DashboardServer, client: httpx.Client, base: Path
) -> None:
    """A name of 2 MB reaches the page cut to the display length; the events route
    has it whole."""
    path = new_run(base)
    huge = "n" * (2 * 1024 * 1024)
    _append(path, span_lines(0, 1, name=huge))
    snapshot = client.get(f"/api/runs/{RUN}/snapshot").json()
    (lane,) = snapshot["lanes"]
    assert lane["name"].startswith("n" * 500)
    assert len(lane["name"]) <= longest_shown()
    assert f"[{len(huge) + 1:,} characters]" in lane["name"]
    assert max(map(len, json.dumps(snapshot).split('"'))) <= longest_shown()
    summary = client.get(f"/api/runs/{RUN}/summary").json()
    assert max(map(len, json.dumps(summary).split('"'))) <= longest_shown()
    events = client.get(f"/api/runs/{RUN}/events").json()["events"]
    assert events[1]["name"] == huge + "0"


def test_two_hundred_clients_at_two_thousand_spans_a_second_all_catch_up(tmp_path: Path) -> None:
    """200 clients follow a run written at 2,000 spans/s for 3 s (loopback only); 10 of
    them read nothing until the other 190 are at the end of the log.

    Counted, not timed: each client's lag in events when the writer stops; every
    client reaches the final offset once writing stops (each wait bounded at 120 s);
    the 190 get there while the 10 still read nothing (a slow client does not hold
    the others up); each of the 10 got a resync; ids only grow in every stream.
    """
    out = tmp_path / "streams.json"
    args = ["--clients", "200", "--slow", "10", "--rate", "2000", "--seconds", "3"]
    # Slow clients must fall further behind than the kernel buffers for them (~3 MB).
    args += ["--pad", "600", "--buffer", str(256 * 1024), "--json", str(out)]
    result = run_interpreter(str(ROOT / "benchmarks" / "streams.py"), *args, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(out.read_text())
    clients = figures["per_client"]
    assert len(clients) == 200
    assert figures["lines"] == 2 * 6000 + 1
    assert all(client["lag_at_stop"] is not None for client in clients)  # counted for each
    assert figures["fast_caught_up_before_slow_read"] is True
    assert figures["slow_behind_when_fast_caught_up"] == 10
    assert figures["all_caught_up"] is True
    assert all(client["last"] == figures["final_offset"] for client in clients)
    assert all(client["resyncs"] >= 1 for client in clients if client["slow"])
    assert all(client["ordered"] for client in clients)
