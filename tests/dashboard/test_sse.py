"""/events: replay, live push, partial lines, keep-alive, resume with Last-Event-ID."""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

import spanline
from spanline._runs._store import create_run
from spanline.dashboard._server import DashboardServer
from tests._helpers import configure
from tests.dashboard._sse import Message, messages
from tests.dashboard._writers import SPANS, write_spans


def _file_lines(path: Path) -> list[str]:
    return [line.decode() for line in path.read_bytes().split(b"\n") if line]


def _ids(path: Path) -> list[int]:
    raw, out, at = path.read_bytes(), [], 0
    while (newline := raw.find(b"\n", at)) != -1:
        at = newline + 1
        out.append(at)
    return out


def test_replay_then_live_push_with_a_partial_line(base: Path, client: httpx.Client) -> None:
    run = create_run(base, "raw")
    path = run.telemetry_path
    path.write_bytes(b'{"event":"a","n":1}\n{"event":"a","n":2}\n')
    received: list[tuple[Message, float]] = []
    with client.stream("GET", "/events", params={"run": run.run_id}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] in ("no-cache", "no-store")
        stream = messages(response)
        received += [(next(stream), time.monotonic()) for _ in range(2)]
        with path.open("ab") as handle:
            handle.write(b'{"event":"a",')  # half a line: must wait for its newline
            handle.flush()
            time.sleep(0.5)
            written = time.monotonic()
            handle.write(b'"n":3}\n')
        received.append((next(stream), time.monotonic()))
    assert [m.data for m, _ in received] == _file_lines(path)
    assert [int(m.id or 0) for m, _ in received] == _ids(path)
    # Pushed while the stream stays open (polled every 50 ms here); the bound is for a
    # loaded machine, far above the poll interval and far below the test's timeout.
    assert received[2][1] - written < 10


def test_from_and_last_event_id(base: Path, client: httpx.Client) -> None:
    run = create_run(base, "raw")
    path = run.telemetry_path
    path.write_bytes(b"".join(b'{"event":"a","n":%d}\n' % n for n in range(5)))
    ids = _ids(path)
    lines = _file_lines(path)

    def first(**kwargs: object) -> Message:
        with client.stream("GET", "/events", **kwargs) as response:  # type: ignore[arg-type]
            return next(messages(response))

    assert first(params={"run": run.run_id, "from": ids[1]}).data == lines[2]
    got = first(params={"run": run.run_id, "from": ids[1]}, headers={"Last-Event-ID": str(ids[3])})
    assert got.data == lines[4]  # the header wins over from=
    assert first(params={"run": run.run_id}).id == str(ids[0])


def test_without_run_the_latest_is_tailed_per_request(base: Path, client: httpx.Client) -> None:
    for label in ("one", "two"):
        run = create_run(base, label)
        run.telemetry_path.write_bytes(b'{"event":"%s"}\n' % label.encode())
        with client.stream("GET", "/events") as response:
            assert next(messages(response)).data == f'{{"event":"{label}"}}'


def test_keep_alive_comments_are_sent(base: Path, client: httpx.Client) -> None:
    run = create_run(base, "raw")
    run.telemetry_path.write_bytes(b"")
    comments: list[str] = []
    with client.stream("GET", "/events", params={"run": run.run_id}) as response:
        for line in response.iter_lines():
            if line.startswith(":"):
                comments.append(line)
                break
    assert comments  # the fixture pings every 0.3 s


def test_many_clients_and_a_stalled_one(base: Path, server: DashboardServer) -> None:
    """A client that stops reading holds up nobody: the others get every line."""
    run = create_run(base, "raw")
    pad = "x" * 2000
    path = run.telemetry_path
    path.write_bytes(
        b"".join(b'{"event":"a","n":%d,"p":"%s"}\n' % (n, pad.encode()) for n in range(3000))
    )
    url = f"http://127.0.0.1:{server.port}/events"
    stalled = httpx.Client(timeout=10)
    stalled_response = stalled.send(
        stalled.build_request("GET", url, params={"run": run.run_id}), stream=True
    )  # never read: its socket buffers fill
    counts: list[int] = []

    def read_all() -> None:
        with httpx.Client(timeout=10) as http:
            with http.stream("GET", url, params={"run": run.run_id}) as response:
                count = 0
                for _ in messages(response):
                    count += 1
                    if count == 3000:
                        break
                counts.append(count)

    threads = [threading.Thread(target=read_all) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert counts == [3000] * 5  # every reader got everything despite the stalled one
    stalled_response.close()
    stalled.close()


def test_resume_with_last_event_id_and_4_writer_processes(tmp_path: Path) -> None:
    """Disconnect mid-run, reconnect with Last-Event-ID: exactly the file's lines, in order."""
    run = configure(tmp_path, service_name="resume")
    server = DashboardServer(run.base, host="127.0.0.1", port=0, poll_s=0.05)
    server.start_in_thread()
    received: list[Message] = []
    try:
        context = multiprocessing.get_context("spawn")
        writers = [context.Process(target=write_spans, args=(str(n),)) for n in range(4)]
        for writer in writers:
            writer.start()
        url = f"http://127.0.0.1:{server.port}/events"
        done = threading.Event()
        reconnects = 0

        def read_and_resume() -> None:
            nonlocal reconnects
            last_id = None
            size = run.telemetry_path.stat
            # A short read timeout: a quiet stream is also a reason to hang up and resume.
            with httpx.Client(timeout=httpx.Timeout(10, read=1.0)) as http:
                while not (
                    done.is_set() and last_id is not None and int(last_id) == size().st_size
                ):
                    headers = {"Last-Event-ID": last_id} if last_id else {}
                    try:
                        with http.stream(
                            "GET", url, params={"run": run.run_id}, headers=headers
                        ) as r:
                            assert r.status_code == 200
                            for count, message in enumerate(messages(r), start=1):
                                received.append(message)
                                last_id = message.id
                                if count == 150:  # hang up mid-run, come back
                                    reconnects += 1
                                    break
                    except httpx.ReadTimeout:
                        pass

        # The reader on a thread, the shutdown here: a shutdown off the main thread would
        # leave the process's signal handling in place for the tests after this one.
        reader = threading.Thread(target=read_and_resume)
        reader.start()
        for writer in writers:
            writer.join(60)
            assert writer.exitcode == 0
        spanline.shutdown()  # the owner's process_end: the log is complete
        done.set()
        reader.join(120)
        assert not reader.is_alive()
    finally:
        spanline.shutdown()
        server.stop()
    lines = _file_lines(run.telemetry_path)
    assert reconnects >= 3
    assert [m.data for m in received] == lines
    assert [int(m.id or 0) for m in received] == _ids(run.telemetry_path)
    spans = sum('"event":"span_start"' in line for line in lines)
    assert spans == 4 * SPANS
    assert sum('"event":"process_start"' in line for line in lines) == 4


@pytest.mark.parametrize(
    "lines",
    [
        [b'{"event":"span_start","name":"a"}', b'{"event":"span_end"}'],
        [b"", b'{"x":1}', b""],  # empty lines advance the offset and send nothing
        [b'{"name":"caf\xc3\xa9 \xe2\x9c\x93"}'],  # UTF-8 passes through
        [b'{"x":"bad \xff byte"}', b'{"y":2}'],  # invalid UTF-8: replaced, as before
        [b'{"x":"carriage\rreturn"}'],  # a CR would end the SSE line: split as before
    ],
)
def test_batched_messages_are_the_bytes_one_message_per_line_would_be(lines: list[bytes]) -> None:
    """The stream writes many messages at once; each is exactly what sse-starlette sends."""
    from sse_starlette import ServerSentEvent

    from spanline.dashboard._app import encode_lines

    block = b"".join(line + b"\n" for line in lines)
    start = 1000
    expected, position = [], start
    for line in lines:
        position += len(line) + 1
        if line:
            text = line.decode("utf-8", "replace")
            expected.append(ServerSentEvent(data=text, id=str(position)).encode())
    assert encode_lines(block, start) == (b"".join(expected), start + len(block))


@pytest.mark.skipif(sys.platform != "linux", reason="per-thread nice values are Linux's")
def test_the_server_runs_nicer_than_the_program_it_observes(server: DashboardServer) -> None:
    """On a busy machine the dashboard's threads give way to the traced program's."""
    (thread,) = [t for t in threading.enumerate() if t.name == "spanline-dashboard"]
    assert thread.native_id is not None
    ours = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    assert os.getpriority(os.PRIO_PROCESS, thread.native_id) == min(19, ours + 10)
    assert os.getpriority(os.PRIO_PROCESS, os.getpid()) == ours  # the program is untouched
