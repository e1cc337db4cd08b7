"""The OTLP exporter on the wire, against a small real OTLP/HTTP receiver in this process
(every request parsed as ExportTraceServiceRequest): what a span carries, the standard
variables, a receiver answering 503 then recovering, one down for the whole run, one
killed mid-run. Phoenix, the real backend, is in test_phoenix.py."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

import spanline
from tests._extras import install_hint
from tests._helpers import configure, run_interpreter, run_python, validate_file
from tests.otel._receiver import free_port, receiver
from tests.otel._run import expected_spans, nested_run, received_spans


def _otlp_env(monkeypatch: pytest.MonkeyPatch, endpoint: str, timeout: str = "3") -> None:
    base = endpoint.removesuffix("/v1/traces")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", base)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", timeout)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_PROTOCOL", raising=False)


def test_each_span_arrives_with_ids_parents_times_status_attributes_and_events(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with receiver() as rx:
        _otlp_env(monkeypatch, rx.endpoint)
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-team=red,authorization=Bearer%20t")
        monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "team=blue,service.version=9.9")
        run = configure(tmp_path, exporters=["otlp"], environment="staging")
        nested_run()
        summary = spanline.shutdown()
        expected = expected_spans(run.telemetry_path)
        got = received_spans(rx.wait_for(len(expected)))
    assert got == expected
    assert len(rx.spans) == len(expected) == 8  # none twice
    resource = rx.resources[0]
    assert resource["service.name"] == "acc"
    assert resource["deployment.environment.name"] == "staging"
    assert resource["service.version"] == "9.9"  # OTEL_RESOURCE_ATTRIBUTES wins
    assert resource["team"] == "blue" and resource["spanline.run_id"] == run.run_id
    assert rx.headers[0]["x-team"] == "red"
    assert rx.headers[0]["authorization"] == "Bearer t"
    assert rx.headers[0]["content-type"] == "application/x-protobuf"
    counts = summary.to_dict()["exporters"]["otlp"]
    assert counts["received"] == counts["exported"] > 0
    assert counts["dropped"] == counts["failed"] == 0


def test_a_receiver_answering_503_is_retried_with_backoff_and_nothing_is_lost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with receiver(failures=2) as rx:
        _otlp_env(monkeypatch, rx.endpoint, timeout="10")
        run = configure(tmp_path, exporters=["otlp"])
        nested_run()
        spanline.flush()
        summary = spanline.shutdown()
        expected = expected_spans(run.telemetry_path)
        got = received_spans(rx.wait_for(len(expected)))
    assert rx.refused == 2 and rx.requests >= 3
    assert got == expected and len(rx.spans) == len(expected)
    counts = summary.to_dict()["exporters"]["otlp"]
    assert counts["received"] == counts["exported"] and counts["failed"] == 0


def _counts(summary: Any) -> dict[str, int]:
    counts: dict[str, int] = summary.to_dict()["exporters"]["otlp"]
    assert counts["received"] == counts["exported"] + counts["dropped"] + counts["failed"]
    return counts


def test_a_receiver_down_for_the_whole_run_loses_nothing_from_the_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _otlp_env(monkeypatch, f"http://127.0.0.1:{free_port()}", timeout="1")
    run = configure(tmp_path, exporters=["otlp"])
    for _ in range(3):
        nested_run()
    summary = spanline.shutdown()
    assert len(expected_spans(run.telemetry_path)) == 24  # the JSONL log is complete
    counts = _counts(summary)
    # Every span line was lost to the receiver and counted; only lines that carry no
    # span (run_start alone in its first batch) count as handled.
    assert counts["failed"] + counts["dropped"] >= 2 * 24


def test_a_receiver_killed_mid_run_gets_the_spans_sent_after_it_is_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    _otlp_env(monkeypatch, f"http://127.0.0.1:{port}", timeout="2")
    run = configure(tmp_path, exporters=["otlp"])
    with receiver(port=port) as first:
        nested_run()
        spanline.flush()
        assert len(first.wait_for(8)) == 8
    with spanline.span("while-down"):
        nested_run()
    spanline.flush()
    with receiver(port=port) as second:
        with spanline.span("after-recovery"):
            nested_run()
        spanline.flush()
        expected = expected_spans(run.telemetry_path)
        after = {
            span_id
            for span_id, span in expected.items()
            if span["name"] == "after-recovery" or _under(expected, span_id, "after-recovery")
        }
        assert len(after) == 9
        got = received_spans(second.wait_for(after))
        summary = spanline.shutdown()
    assert len(expected) == 8 + 9 + 9  # the log is complete
    assert after <= got.keys()
    for span_id in after:
        assert got[span_id] == expected[span_id]
    seen = [s.span_id.hex() for s in first.spans + second.spans]
    assert len(seen) == len(set(seen))  # nothing sent twice
    _counts(summary)


def _under(spans: dict[str, dict[str, Any]], span_id: str, name: str) -> bool:
    parent = spans[span_id]["parent"]
    while parent is not None and parent in spans:
        if spans[parent]["name"] == name:
            return True
        parent = spans[parent]["parent"]
    return False


def _child_rss_kb(exporter: Any) -> int:
    pid = exporter._sender._child.pid
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1])


# Measured in a fresh interpreter: in the test process, records kept by pytest's log
# capture and the leftovers of earlier tests (threads, caches) showed up as growth
# that is not the exporter's. The program is the whole measure.
_DEAD_RECEIVER_PROGRAM = """
import json, sys, tracemalloc
from pathlib import Path
from spanline.exporters.otlp import OtlpExporter

process = sys.argv[1] == "1"
exporter = OtlpExporter(endpoint=sys.argv[2], timeout=0.2, process=process)
trace = "0af7651916cd43dd8448eb211c80319c"


def batch(n):
    events = []
    for i in range(200):
        span_id = f"{n * 1000 + i + 1:016x}"
        events.append({"event": "span_start", "span_id": span_id, "parent": None,
                       "trace_id": trace, "name": "s", "kind": "tool", "ts": 1.0,
                       "attributes": {"payload": "x" * 200}})
        events.append({"event": "span_end", "span_id": span_id, "status": "ok",
                       "duration_ms": 1.0, "tokens": 0, "tool_uses": 0, "ts": 1.001,
                       "attributes": {}})
    return events


def failing_batches(start, count):
    for n in range(start, start + count):
        try:
            exporter.export(batch(n))
        except ConnectionError:
            continue
        raise SystemExit("an export to a dead receiver did not fail")


def child_rss_kb():
    status = Path(f"/proc/{exporter._sender._child.pid}/status").read_text()
    return int(next(l for l in status.splitlines() if l.startswith("VmRSS")).split()[1])


tracemalloc.start()
failing_batches(0, 5)
baseline = tracemalloc.get_traced_memory()[0]
child_baseline = child_rss_kb() if process else 0
failing_batches(5, 40)
grown = tracemalloc.get_traced_memory()[0] - baseline
child_grown = child_rss_kb() - child_baseline if process else 0
tracemalloc.stop()
open_count = 0 if process else exporter._sender._assembler.open_count
exporter.shutdown()
print(json.dumps({"grown": grown, "child_grown": child_grown, "open_count": open_count}))
"""


@pytest.mark.parametrize("process", [True, False], ids=["helper-process", "thread"])
def test_a_dead_receiver_keeps_no_memory_per_failed_batch(process: bool) -> None:
    import json

    endpoint = f"http://127.0.0.1:{free_port()}/v1/traces"
    result = run_interpreter(
        "-c", _DEAD_RECEIVER_PROGRAM, "1" if process else "0", endpoint, timeout=300
    )
    assert result.returncode == 0, result.stderr
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    # One batch of 200 spans is ~100 KB; 40 more failed batches (~4 MB) must not add up,
    # in this process or in the helper.
    assert measured["grown"] < 150_000, measured
    assert measured["child_grown"] < 2_000, measured
    assert measured["open_count"] == 0, measured


@pytest.mark.parametrize("process", [True, False], ids=["helper-process", "thread"])
def test_spanlines_own_requests_are_not_traced_by_the_hosts_requests_instrumentation(
    process: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import requests
    from opentelemetry.instrumentation.requests import RequestsInstrumentor
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from spanline.exporters.otlp import OtlpExporter

    host = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(host))
    RequestsInstrumentor().instrument(tracer_provider=provider)
    try:
        with receiver() as rx:
            requests.post(rx.endpoint, data=b"", timeout=5)  # the host's own call: traced
            assert len(host.get_finished_spans()) == 1
            # Without the suppression the exporter's client would be traced too.
            bare = OtlpExporter(endpoint=rx.endpoint, process=False)
            bare._sender._client.export([])
            bare.shutdown()
            assert len(host.get_finished_spans()) == 2
            host.clear()
            _otlp_env(monkeypatch, rx.endpoint)
            configure(tmp_path, exporters=[OtlpExporter(process=process)])
            nested_run()
            spanline.shutdown()
            assert len(rx.wait_for(8)) == 8
    finally:
        RequestsInstrumentor().uninstrument()
    assert host.get_finished_spans() == ()


def test_without_the_extra_the_exporter_is_skipped_with_one_warning(tmp_path: Path) -> None:
    code = f"""
import sys, importlib.abc
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.startswith("opentelemetry.exporter.otlp"):
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, Block())
import spanline
run = spanline.configure_observability(enabled=True, run_dir={str(tmp_path)!r},
                                       exporters=["otlp", "otlp"])
with spanline.span("work"):
    pass
spanline.shutdown()
print(run.telemetry_path)
"""
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "pip install" in line]
    assert len(warnings) == 1, result.stderr
    assert f"({install_hint('otlp')})" in warnings[0]
    events = validate_file(Path(result.stdout.strip()))
    assert [e["name"] for e in events if e["event"] == "span_start"] == ["work"]


def _one_span_batch(n: int) -> list[dict[str, Any]]:
    span_id = f"{n:016x}"
    return [
        {"event": "span_start", "span_id": span_id, "parent": None, "name": f"s{n}",
         "trace_id": "0af7651916cd43dd8448eb211c80319c", "kind": "tool", "ts": 1.0,
         "attributes": {}},
        {"event": "span_end", "span_id": span_id, "status": "ok", "duration_ms": 1.0,
         "tokens": 0, "tool_uses": 0, "ts": 1.001, "attributes": {}},
    ]  # fmt: skip


def test_a_helper_process_that_dies_is_started_again_and_spanline_never_traces_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from spanline.exporters.otlp import OtlpExporter

    monkeypatch.setenv("SPANLINE_ENABLED", "1")  # what a traced parent hands its children
    with receiver() as rx:
        exporter = OtlpExporter(endpoint=rx.endpoint, process=True)
        try:
            exporter.export(_one_span_batch(1))
            child = exporter._sender._child
            environ = Path(f"/proc/{child.pid}/environ").read_bytes().split(b"\0")
            assert not [v for v in environ if v.startswith((b"SPANLINE_", b"TRACEPARENT="))]
            child.kill()
            child.wait()
            exporter.export(_one_span_batch(2))
            assert exporter._sender._child.pid != child.pid
        finally:
            exporter.shutdown()
        assert [s.name for s in rx.wait_for(2)] == ["s1", "s2"]
    assert exporter._sender._child is None  # shut down: no process left behind
    assert child.returncode is not None


@pytest.mark.parametrize("process", [False, True], ids=["thread", "helper-process"])
def test_a_receiver_taking_10_s_per_request_blocks_neither_the_caller_nor_the_log_nor_other_exporters(  # noqa: E501
    process: bool, tmp_path: Path
) -> None:
    from spanline.exporters import InMemoryExporter
    from spanline.exporters.otlp import OtlpExporter

    with receiver(delay=10.0) as rx:
        otlp = OtlpExporter(endpoint=rx.endpoint, timeout=30, process=process)
        memory = InMemoryExporter()
        run = configure(tmp_path, exporters=[otlp, memory])
        nested_run()
        with spanline.span("next"):  # recorded at once while the receiver holds a request
            pass
        # The receiver holds a request (a helper process may take long to start on a
        # loaded machine: waited for by counting, within a bound far from a measurement).
        deadline = time.monotonic() + 60
        while rx.arrived == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert rx.arrived >= 1
        # An explicit flush waits for the exporters within its timeout: the stuck one
        # says False, and everything else is done by then. The timeout leaves a loaded
        # machine seconds for the file and the other exporter, and ends well before the
        # receiver answers the held request (10 s after it arrived).
        assert spanline.flush(timeout=5.0) is False
        expected = expected_spans(run.telemetry_path)
        assert len(expected) == 9  # the log is complete while the request hangs
        assert len([e for e in memory.events if e["event"] == "span_end"]) == 9
        summary = spanline.shutdown(timeout=1.0)
        counts = summary.to_dict()["exporters"]["OtlpExporter"]  # an object: its class name
        assert counts["exported"] < counts["received"]  # not sent in time: not counted sent
        assert rx.arrived >= 1
        # The worker finishes its one request once the receiver answers, then shuts the
        # exporter down: no helper process is left behind.
        child = getattr(otlp._sender, "_child", None)
        if child is not None:
            child.wait(60)


def test_the_helper_never_outlives_a_program_killed_mid_request(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests._helpers import clean_env

    code = """
import sys, time, spanline
from spanline.exporters.otlp import OtlpExporter
otlp = OtlpExporter(endpoint=sys.argv[1], timeout=60, process=True)
spanline.configure_observability(enabled=True, run_dir=sys.argv[2], exporters=[otlp])
with spanline.span("work"):
    pass
while otlp._sender._child is None:
    time.sleep(0.05)
print(otlp._sender._child.pid, flush=True)
time.sleep(120)
"""
    with receiver(delay=60.0) as rx:
        program = subprocess.Popen(
            [sys.executable, "-c", code, rx.endpoint, str(tmp_path)],
            stdout=subprocess.PIPE,
            env=clean_env(),
            text=True,
        )
        try:
            assert program.stdout is not None
            helper = int(program.stdout.readline())
            deadline = time.monotonic() + 30
            while rx.arrived == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert rx.arrived == 1  # the helper is inside a 60 s request
        finally:
            program.send_signal(signal.SIGKILL)
            program.wait(30)
            program.stdout.close()  # type: ignore[union-attr]
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                os.kill(helper, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            os.kill(helper, signal.SIGKILL)
            raise AssertionError("the helper outlived its program")


def test_an_exporter_bounds_its_own_queue_with_max_pending(tmp_path: Path) -> None:
    import threading

    from spanline.exporters.otlp import OtlpExporter

    class Stuck:
        max_pending = 10

        def __init__(self) -> None:
            self.release = threading.Event()

        def export(self, batch: Any) -> None:
            self.release.wait(30)

    stuck = Stuck()
    run = configure(tmp_path, exporters=[stuck])
    for _ in range(200):
        with spanline.span("s"):
            pass
    spanline.flush(timeout=0.5)
    stuck.release.set()
    summary = spanline.shutdown()
    counts = summary.to_dict()["exporters"]["Stuck"]
    assert counts["dropped"] > 0 and counts["received"] >= 400
    assert counts["received"] == counts["exported"] + counts["dropped"] + counts["failed"]
    assert len(expected_spans(run.telemetry_path)) == 200
    assert OtlpExporter(process=False).max_pending == 20_000  # small: ~10 MB of events


def test_an_unknown_protocol_is_a_warning_from_the_environment_and_an_error_in_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from spanline import ConfigurationError, SpanlineWarning
    from spanline.exporters.otlp import OtlpExporter

    with pytest.raises(ConfigurationError, match="http/protobuf, grpc"):
        OtlpExporter(protocol="http/json")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
    monkeypatch.setenv("SPANLINE_EXPORTERS", "otlp")
    with pytest.warns(SpanlineWarning, match="OTLP protocol 'http/json' is not supported"):
        run = configure(tmp_path)
    with spanline.span("still-traced"):
        pass
    spanline.shutdown()
    assert [s["name"] for s in expected_spans(run.telemetry_path).values()] == ["still-traced"]
