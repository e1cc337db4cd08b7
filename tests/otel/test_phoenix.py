"""Against a real OTLP backend: a nested traced run sent to Arize Phoenix over HTTP and
over gRPC, read back through Phoenix's own REST API, equals the JSONL log; and a Phoenix
killed mid-run gets the spans sent after it is back."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

import spanline
from tests._helpers import configure
from tests.otel._receiver import free_port
from tests.otel._run import expected_spans, nested_run
from tests.otel.conftest import Phoenix, start_phoenix, stop_phoenix

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_STATUS = {"OK": "ok", "ERROR": "error", "UNSET": "unset"}


def _ns(stamp: str) -> int:
    delta = datetime.fromisoformat(stamp) - _EPOCH  # exact: integers, no float
    return ((delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds) * 1000


def _json_or(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "{[":
        return json.loads(value)
    return value


def read_spans(
    phoenix: Phoenix,
    project: str,
    count: int,
    ids: set[str] = frozenset(),  # type: ignore[assignment]
) -> list[dict[str, Any]]:
    """Phoenix's spans of ``project``, polled until ``count`` arrived and every span id of
    ``ids`` among them (ingestion is slow)."""
    spans: list[dict[str, Any]] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        spans, cursor = [], ""
        try:
            while True:
                url = f"{phoenix.http}/v1/projects/{project}/spans?limit=1000{cursor}"
                with urllib.request.urlopen(url, timeout=10) as response:
                    page = json.load(response)
                spans += page["data"]
                if not page.get("next_cursor"):
                    break
                cursor = f"&cursor={page['next_cursor']}"
        except urllib.error.HTTPError as exc:
            if exc.code != 404:  # 404 until the project's first span arrives
                raise
        if len(spans) >= count and ids <= {span["context"]["span_id"] for span in spans}:
            return spans
        time.sleep(0.5)
    return spans


def as_logged(spans: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """span_id -> the Phoenix span in the shape of :func:`expected_spans`."""
    out = {}
    for span in spans:
        events = span["events"]
        out[span["context"]["span_id"]] = {
            "name": span["name"],
            "trace_id": span["context"]["trace_id"],
            "parent": span["parent_id"],
            "start_ns": _ns(span["start_time"]),
            "end_ns": _ns(span["end_time"]),
            "status": _STATUS[span["status_code"]],
            "message": span["status_message"],
            "attributes": {k: _json_or(v) for k, v in span["attributes"].items()},
            "event_names": [e["name"] for e in events],
            "notes": [e["attributes"] for e in events if e["name"] != "exception"],
        }
    return out


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_a_nested_run_reads_back_from_phoenix_equal_to_the_log(
    phoenix: Phoenix, protocol: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = f"spanline-{protocol.split('/')[0]}-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
    monkeypatch.setenv(
        "OTEL_EXPORTER_OTLP_ENDPOINT", phoenix.grpc if protocol == "grpc" else phoenix.http
    )
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", f"openinference.project.name={project}")
    if protocol == "grpc":
        run = configure(tmp_path, exporters=["otlp"])
    else:  # selected by the environment variable instead
        monkeypatch.setenv("SPANLINE_EXPORTERS", "otlp")
        run = configure(tmp_path)
    for _ in range(5):  # tens of spans, in several traces' worth of nesting
        nested_run(workers=4)
    summary = spanline.shutdown()
    expected = expected_spans(run.telemetry_path)
    assert len(expected) == 5 * (2 + 2 * 4)
    got = as_logged(read_spans(phoenix, project, len(expected)))
    assert got.keys() == expected.keys()  # counts: every span, none twice
    for span_id, span in expected.items():
        assert got[span_id] == span, span["name"]
    counts = summary.to_dict()["exporters"]["otlp"]
    assert counts["received"] == counts["exported"] and counts["failed"] == 0


def test_phoenix_killed_mid_run_gets_the_spans_sent_after_it_is_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Phoenix of its own, SIGKILLed mid-run and started again on the same ports."""
    workdir = tmp_path / "phoenix"
    workdir.mkdir()
    http_port, grpc_port = free_port(), free_port()
    url = f"http://127.0.0.1:{http_port}"
    project = f"spanline-killed-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", url)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "3")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", f"openinference.project.name={project}")
    process = start_phoenix(workdir, http_port, grpc_port)
    try:
        run = configure(tmp_path / "runs", exporters=["otlp"])
        with spanline.span("before"):
            nested_run()
        spanline.flush()
        assert len(read_spans(Phoenix(url, ""), project, 9)) == 9
        process.kill()  # mid-run, without warning
        process.wait(30)
        with spanline.span("while-down"):
            nested_run()
        spanline.flush(timeout=30)
        process = start_phoenix(workdir, http_port, grpc_port)
        with spanline.span("after-recovery"):
            nested_run()
        summary = spanline.shutdown()
        expected = expected_spans(run.telemetry_path)
        assert len(expected) == 27  # the log is complete
        roots = {span["name"]: span_id for span_id, span in expected.items()}
        trees = {
            name: {roots[name]} | {s for s in expected if _under(expected, s, roots[name])}
            for name in ("before", "after-recovery")
        }
        wanted = trees["before"] | trees["after-recovery"]
        got = as_logged(read_spans(Phoenix(url, ""), project, len(wanted), wanted))
    finally:
        stop_phoenix(process)
    assert len(wanted) == 18
    for span_id in wanted:
        assert got[span_id] == expected[span_id]
    counts = summary.to_dict()["exporters"]["otlp"]
    assert counts["received"] == counts["exported"] + counts["dropped"] + counts["failed"]


def _under(spans: dict[str, dict[str, Any]], span_id: str, root: str) -> bool:
    parent = spans[span_id]["parent"]
    while parent is not None:
        if parent == root:
            return True
        parent = spans[parent]["parent"] if parent in spans else None
    return False
